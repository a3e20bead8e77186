/* ABI v0 of lattice's Wasm state machines (DESIGN §10; docs/format.md "Wasm state
 * machines"). No imports, no WASI. Exports: memory, io_ptr, io_cap, init,
 * apply_batch(n), snapshot, restore(len), query(len).
 *
 * The host writes into the I/O buffer and reads back from it:
 *   apply_batch(n): n ops, each  u32 len ‖ context [44] ‖ payload  (len counts context
 *                   and payload; context = lamport u64 ‖ entry id [32] ‖ op index u32,
 *                   all little-endian); returns the index of the first op it refused,
 *                   or -1 when it took them all.
 *   snapshot():     writes the state, returns its length.
 *   restore(len):   reads a state of len bytes; returns 0, or -1 if it is not one.
 *   query(len):     reads a request of len bytes, writes the answer, returns its length
 *                   (or -1 for a request it does not answer).
 */
#ifndef LATTICE_ABI_H
#define LATTICE_ABI_H

#include <stdint.h>

#define IO_CAP (1u << 20)
#define CONTEXT_LEN 44u
#define EXPORT(name) __attribute__((export_name(#name)))

extern uint8_t io[IO_CAP];

/* Freestanding: the compiler may turn loops into calls to these. */
void *memcpy(void *dst, const void *src, unsigned long n);
void *memset(void *dst, int c, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

static inline uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static inline void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* The frame of op i of a batch: its context and payload, or 0 if the batch ends early or
 * a length runs past the buffer. `at` is the offset of the next frame. */
typedef struct {
    const uint8_t *context;
    const uint8_t *payload;
    uint32_t len;
} Op;

static inline int next_op(uint32_t *at, Op *op) {
    if (*at > IO_CAP - 4) return 0;
    uint32_t len = get_u32(io + *at);
    if (len < CONTEXT_LEN || len > IO_CAP - 4 - *at) return 0;
    op->context = io + *at + 4;
    op->payload = op->context + CONTEXT_LEN;
    op->len = len - CONTEXT_LEN;
    *at += 4 + len;
    return 1;
}

#endif
