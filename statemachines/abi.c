/* The I/O buffer and the freestanding memory functions every state machine links. */
#include "abi.h"

uint8_t io[IO_CAP];

EXPORT(io_ptr) uint32_t io_ptr(void) { return (uint32_t)(uintptr_t)io; }
EXPORT(io_cap) uint32_t io_cap(void) { return IO_CAP; }

void *memcpy(void *dst, const void *src, unsigned long n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, unsigned long n) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, unsigned long n) {
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}
