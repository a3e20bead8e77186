/* An LWW key–value map (ABI v0, abi.h): the write with the highest stamp (lamport, entry
 * id, op index: the op's context) wins, whatever order replicas apply them in.
 *
 *   op      = 1 ‖ klen u8 ‖ key ‖ vlen u16 ‖ value      set (key 1..64 B, value ≤ 256 B)
 *           | 2 ‖ klen u8 ‖ key                          delete
 *   state   = count u32 ‖ (klen u8 ‖ key ‖ deleted u8 ‖ vlen u16 ‖ value ‖ context [44])*
 *             keys strictly ascending (shorter first on a common prefix)
 *   query   = klen u8 ‖ key  →  found u8 ‖ vlen u16 ‖ value
 */
#include "abi.h"

#define MAX_ENTRIES 1024u
#define MAX_KEY 64u
#define MAX_VALUE 256u

typedef struct {
    uint8_t klen;
    uint8_t key[MAX_KEY];
    uint8_t deleted;
    uint16_t vlen;
    uint8_t value[MAX_VALUE];
    uint8_t stamp[CONTEXT_LEN];
} Entry;

static Entry table[MAX_ENTRIES];
static uint32_t count;

EXPORT(init) void init(void) { count = 0; }

static int key_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen) {
    uint32_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

/* lamport (LE u64), then the entry id bytes, then the op index (LE u32). */
static int stamp_cmp(const uint8_t *a, const uint8_t *b) {
    uint64_t la = get_u64(a), lb = get_u64(b);
    if (la != lb) return la < lb ? -1 : 1;
    int c = memcmp(a + 8, b + 8, 32);
    if (c) return c;
    uint32_t ia = get_u32(a + 40), ib = get_u32(b + 40);
    return ia < ib ? -1 : ia > ib;
}

/* The slot of key, or where it would go (*found says which). */
static uint32_t find(const uint8_t *key, uint32_t klen, int *found) {
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(table[mid].key, table[mid].klen, key, klen);
        if (c == 0) { *found = 1; return mid; }
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    *found = 0;
    return lo;
}

static int write(const uint8_t *stamp, const uint8_t *key, uint32_t klen, int deleted,
                 const uint8_t *value, uint32_t vlen) {
    int found;
    uint32_t at = find(key, klen, &found);
    if (!found) {
        if (count == MAX_ENTRIES) return 0;
        for (uint32_t i = count; i > at; i--) table[i] = table[i - 1];
        count++;
        table[at].klen = (uint8_t)klen;
        memcpy(table[at].key, key, klen);
    } else if (stamp_cmp(stamp, table[at].stamp) <= 0) {
        return 1; /* an older write: it loses, and is still a valid op */
    }
    table[at].deleted = (uint8_t)deleted;
    table[at].vlen = (uint16_t)vlen;
    memcpy(table[at].value, value, vlen);
    memcpy(table[at].stamp, stamp, CONTEXT_LEN);
    return 1;
}

static int apply(const Op *op) {
    const uint8_t *p = op->payload;
    uint32_t len = op->len;
    if (len < 2) return 0;
    uint32_t klen = p[1];
    if (klen < 1 || klen > MAX_KEY || 2 + klen > len) return 0;
    if (p[0] == 2) return 2 + klen == len && write(op->context, p + 2, klen, 1, 0, 0);
    if (p[0] != 1 || 2 + klen + 2 > len) return 0;
    uint32_t vlen = (uint32_t)p[2 + klen] | (uint32_t)p[3 + klen] << 8;
    if (vlen > MAX_VALUE || 4 + klen + vlen != len) return 0;
    return write(op->context, p + 2, klen, 0, p + 4 + klen, vlen);
}

EXPORT(apply_batch) int32_t apply_batch(int32_t n) {
    uint32_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        Op op;
        if (!next_op(&at, &op) || !apply(&op)) return i;
    }
    return -1;
}

EXPORT(snapshot) uint32_t snapshot(void) {
    uint32_t at = 4;
    put_u32(io, count);
    for (uint32_t i = 0; i < count; i++) {
        Entry *e = &table[i];
        io[at++] = e->klen;
        memcpy(io + at, e->key, e->klen);
        at += e->klen;
        io[at++] = e->deleted;
        io[at++] = (uint8_t)e->vlen;
        io[at++] = (uint8_t)(e->vlen >> 8);
        memcpy(io + at, e->value, e->vlen);
        at += e->vlen;
        memcpy(io + at, e->stamp, CONTEXT_LEN);
        at += CONTEXT_LEN;
    }
    return at; /* at most 4 + 1024 · 367 bytes: within IO_CAP */
}

EXPORT(restore) int32_t restore(uint32_t len) {
    if (len < 4 || len > IO_CAP) return -1;
    uint32_t n = get_u32(io), at = 4;
    if (n > MAX_ENTRIES) return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (at + 1 > len) return -1;
        uint32_t klen = io[at++];
        if (klen < 1 || klen > MAX_KEY || at + klen + 3 > len) return -1;
        const uint8_t *key = io + at;
        at += klen;
        uint32_t deleted = io[at++];
        uint32_t vlen = (uint32_t)io[at] | (uint32_t)io[at + 1] << 8;
        at += 2;
        if (deleted > 1 || vlen > MAX_VALUE || (deleted && vlen) || at + vlen + CONTEXT_LEN > len)
            return -1;
        if (i && key_cmp(table[i - 1].key, table[i - 1].klen, key, klen) >= 0) return -1;
        Entry *e = &table[i];
        e->klen = (uint8_t)klen;
        memcpy(e->key, key, klen);
        e->deleted = (uint8_t)deleted;
        e->vlen = (uint16_t)vlen;
        memcpy(e->value, io + at, vlen);
        at += vlen;
        memcpy(e->stamp, io + at, CONTEXT_LEN);
        at += CONTEXT_LEN;
    }
    if (at != len) return -1;
    count = n;
    return 0;
}

EXPORT(query) int32_t query(uint32_t len) {
    if (len < 1 || len > IO_CAP) return -1;
    uint32_t klen = io[0];
    if (klen < 1 || klen > MAX_KEY || 1 + klen != len) return -1;
    int found;
    uint32_t at = find(io + 1, klen, &found);
    if (!found || table[at].deleted) {
        io[0] = 0;
        io[1] = io[2] = 0;
        return 3;
    }
    Entry *e = &table[at];
    io[0] = 1;
    io[1] = (uint8_t)e->vlen;
    io[2] = (uint8_t)(e->vlen >> 8);
    memcpy(io + 3, e->value, e->vlen);
    return 3 + e->vlen;
}
