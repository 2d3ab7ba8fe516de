/* CRC-32 as zlib.crc32 computes it (the reflected polynomial 0xEDB88320, the register
 * inverted before and after), for the spool's frames.
 *
 * A frame's CRC covers its whole message, 3.5 KB an event; zlib 1.2's portable loop spends a
 * cycle a byte on it. On x86-64 with PCLMULQDQ (chosen at run time) the message is folded 64
 * bytes at a time by carry-less multiplication, as in Intel's "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ" (2009), down to 16 bytes whose CRC the table loop
 * then finishes: folding keeps the message's remainder modulo the polynomial, which is all
 * the CRC depends on. Held to zlib.crc32 by the tests, at every length and start value. */
#include "native.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MAAT_CRC32_CLMUL 1
#endif

static uint32_t table[8][256];

/* The tables of the portable loop (slicing by 8 bytes). */
void maat_crc32_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int k = 1; k < 8; k++)
            table[k][n] = (table[k - 1][n] >> 8) ^ table[0][table[k - 1][n] & 0xff];
}

/* The raw register c (not inverted) after the bytes [p, p + n). */
static uint32_t crc_portable(uint32_t c, const uint8_t *p, size_t n) {
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);  // little-endian: Maat builds this for x86-64 and arm64
        w ^= c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#ifdef MAAT_CRC32_CLMUL
/* x^(4*128+32) and x^(4*128-32) mod P (folding 64 bytes), x^(128+32) and x^(128-32) mod P
 * (16 bytes), bit-reflected as the reflected CRC reads them (Intel's paper, table 3). */
#define FOLD(x, k, next)                                                                       \
    _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128((x), (k), 0x00),                         \
                                _mm_clmulepi64_si128((x), (k), 0x11)),                        \
                  (next))

__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_clmul(uint32_t c, const uint8_t *p,
                                                                   size_t n) {
    if (n < 64) return crc_portable(c, p, n);
    const __m128i k64 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
    const __m128i k16 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
    __m128i x0 = _mm_loadu_si128((const __m128i *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)c));
    p += 64;
    n -= 64;
    while (n >= 64) {
        x0 = FOLD(x0, k64, _mm_loadu_si128((const __m128i *)p));
        x1 = FOLD(x1, k64, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = FOLD(x2, k64, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = FOLD(x3, k64, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        n -= 64;
    }
    x0 = FOLD(x0, k16, x1);
    x0 = FOLD(x0, k16, x2);
    x0 = FOLD(x0, k16, x3);
    while (n >= 16) {
        x0 = FOLD(x0, k16, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)rest, x0);
    return crc_portable(crc_portable(0, rest, 16), p, n);
}
#endif

uint32_t maat_crc32(uint32_t value, const uint8_t *p, size_t n, int portable) {
#ifdef MAAT_CRC32_CLMUL
    if (!portable && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1"))
        return ~crc_clmul(~value, p, n);
#else
    (void)portable;
#endif
    return ~crc_portable(~value, p, n);
}

/* crc32(data, value=0, portable=False) -> int: zlib.crc32(data, value); portable: with the
 * portable loop whatever the processor has (for the tests). */
PyObject *maat_crc32_py(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    unsigned long value = 0;
    int portable = 0;
    if (!PyArg_ParseTuple(args, "y*|kp", &data, &value, &portable)) return NULL;
    uint32_t crc = maat_crc32((uint32_t)value, data.buf, (size_t)data.len, portable);
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLong(crc);
}
