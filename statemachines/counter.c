/* A counter of i64 increments (ABI v0, abi.h). An op is one i64 delta, little-endian; it
 * is refused if the total would leave the i64 range. The state is the total (8 bytes). */
#include "abi.h"

static int64_t total;

EXPORT(init) void init(void) { total = 0; }

EXPORT(apply_batch) int32_t apply_batch(int32_t n) {
    uint32_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        Op op;
        if (!next_op(&at, &op) || op.len != 8) return i;
        int64_t delta = (int64_t)get_u64(op.payload);
        int64_t next;
        if (__builtin_add_overflow(total, delta, &next)) return i;
        total = next;
    }
    return -1;
}

EXPORT(snapshot) uint32_t snapshot(void) {
    put_u64(io, (uint64_t)total);
    return 8;
}

EXPORT(restore) int32_t restore(uint32_t len) {
    if (len != 8) return -1;
    total = (int64_t)get_u64(io);
    return 0;
}

/* Any request: the total. */
EXPORT(query) int32_t query(uint32_t len) {
    (void)len;
    put_u64(io, (uint64_t)total);
    return 8;
}
