/* The integer matrix product of the compute grid (ABI v0, abi.h; DESIGN §12):
 * C = A·B mod 2^64, row-major i64 (two's complement, so mod 2^64 is exact for either
 * signedness).
 *
 *   request = n u32 ‖ m u32 ‖ k u32 ‖ A (n·m i64) ‖ B (m·k i64)   (little-endian)
 *   answer  = C (n·k i64)
 *
 * query(len) answers a request. An op (apply_batch) is a request too: its product is kept
 * as the state (the last product: what a grid task's result is checked against).
 */
#include "abi.h"

#define MAX_OUT (IO_CAP / 2)

static uint8_t last[MAX_OUT];
static uint32_t last_len;
static uint8_t out[MAX_OUT];

EXPORT(init) void init(void) { last_len = 0; }

/* The product of the request at p (len bytes) into out; its length, or -1. */
static int32_t product(const uint8_t *p, uint32_t len) {
    if (len < 12) return -1;
    uint64_t n = get_u32(p), m = get_u32(p + 4), k = get_u32(p + 8);
    if (n == 0 || m == 0 || k == 0 || n > 4096 || m > 4096 || k > 4096) return -1;
    if (12 + 8 * (n * m + m * k) != len || 8 * n * k > MAX_OUT) return -1;
    const uint8_t *a = p + 12, *b = a + 8 * n * m;
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = 0; j < k; j++) {
            uint64_t sum = 0;
            for (uint64_t t = 0; t < m; t++)
                sum += get_u64(a + 8 * (i * m + t)) * get_u64(b + 8 * (t * k + j));
            put_u64(out + 8 * (i * k + j), sum);
        }
    return (int32_t)(8 * n * k);
}

EXPORT(apply_batch) int32_t apply_batch(int32_t n) {
    uint32_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        Op op;
        if (!next_op(&at, &op)) return i;
        int32_t got = product(op.payload, op.len);
        if (got < 0) return i;
        memcpy(last, out, (uint32_t)got);
        last_len = (uint32_t)got;
    }
    return -1;
}

EXPORT(snapshot) uint32_t snapshot(void) {
    memcpy(io, last, last_len);
    return last_len;
}

EXPORT(restore) int32_t restore(uint32_t len) {
    if (len > MAX_OUT || len % 8) return -1;
    memcpy(last, io, len);
    last_len = len;
    return 0;
}

EXPORT(query) int32_t query(uint32_t len) {
    if (len > IO_CAP) return -1;
    int32_t got = product(io, len);
    if (got < 0) return -1;
    memcpy(io, out, (uint32_t)got);
    return got;
}
