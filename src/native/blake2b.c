/* BLAKE2b (RFC 7693) for event ids: model.event_id is hashlib.blake2b(raw, digest_size=16,
 * person=module).hexdigest().
 *
 * hashlib costs, beyond the compression, a Python call with keywords, a hash object, a
 * release and re-take of the GIL (records over 2 KiB) and a hex string object per event;
 * here it is one C call. The rounds are written out so that every message index is a
 * constant. Held to hashlib by the tests: every length across block boundaries, the
 * personalisations and digest sizes Maat uses.
 */
#include "native.h"

const uint64_t maat_blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
#define IV maat_blake2b_iv

#define R64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define G(a, b, c, d, x, y)                                                                    \
    a = a + b + (x);                                                                           \
    d = R64(d ^ a, 32);                                                                        \
    c = c + d;                                                                                 \
    b = R64(b ^ c, 24);                                                                        \
    a = a + b + (y);                                                                           \
    d = R64(d ^ a, 16);                                                                        \
    c = c + d;                                                                                 \
    b = R64(b ^ c, 63);
/* One round: the columns, then the diagonals, with the message words of its permutation. */
#define ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)           \
    G(v0, v4, v8, v12, m[s0], m[s1])                                                           \
    G(v1, v5, v9, v13, m[s2], m[s3])                                                           \
    G(v2, v6, v10, v14, m[s4], m[s5])                                                          \
    G(v3, v7, v11, v15, m[s6], m[s7])                                                          \
    G(v0, v5, v10, v15, m[s8], m[s9])                                                          \
    G(v1, v6, v11, v12, m[s10], m[s11])                                                        \
    G(v2, v7, v8, v13, m[s12], m[s13])                                                         \
    G(v3, v4, v9, v14, m[s14], m[s15])

/* Compress one 128-byte block into h; t: the bytes hashed so far, last: the final block.
 * The words are read little-endian (memcpy): Maat builds this for x86-64 and arm64. */
static void compress(uint64_t h[8], const uint8_t *block, uint64_t t, int last) {
    uint64_t m[16];
    memcpy(m, block, sizeof m);
    uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6];
    uint64_t v7 = h[7], v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3], v12 = IV[4] ^ t;
    uint64_t v13 = IV[5], v14 = last ? ~IV[6] : IV[6], v15 = IV[7];
    MAAT_BLAKE2B_ROUNDS(ROUND)
    h[0] ^= v0 ^ v8;
    h[1] ^= v1 ^ v9;
    h[2] ^= v2 ^ v10;
    h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12;
    h[5] ^= v5 ^ v13;
    h[6] ^= v6 ^ v14;
    h[7] ^= v7 ^ v15;
}

void maat_blake2b(const uint8_t *data, size_t n, const uint8_t *person, size_t person_len,
                  uint8_t *out, size_t out_len) {
    uint64_t h[8], word;
    uint8_t padded[16] = {0}, last[128] = {0};
    memcpy(padded, person, person_len > 16 ? 16 : person_len);
    for (int i = 0; i < 8; i++) h[i] = IV[i];
    h[0] ^= 0x01010000ULL ^ (uint64_t)out_len; /* fanout 1, depth 1, no key */
    memcpy(&word, padded, 8);
    h[6] ^= word;
    memcpy(&word, padded + 8, 8);
    h[7] ^= word;
    uint64_t t = 0;
    while (n > 128) {
        t += 128;
        compress(h, data, t, 0);
        data += 128;
        n -= 128;
    }
    memcpy(last, data, n);
    compress(h, last, t + n, 1);
    memcpy(out, h, out_len);
}

PyObject *maat_hex(const uint8_t *bytes, size_t n) {
    static const char digits[] = "0123456789abcdef";
    PyObject *text = PyUnicode_New((Py_ssize_t)(2 * n), 127);
    if (text == NULL) return NULL;
    char *w = (char *)PyUnicode_DATA(text);
    for (size_t i = 0; i < n; i++) {
        w[2 * i] = digits[bytes[i] >> 4];
        w[2 * i + 1] = digits[bytes[i] & 15];
    }
    return text;
}

/* blake2b_hex(data, person, digest_size) -> str: this BLAKE2b, for the tests. */
PyObject *maat_blake2b_hex(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data, person;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "y*y*n", &data, &person, &size)) return NULL;
    PyObject *result = NULL;
    if (size < 1 || size > 64 || person.len > 16) {
        PyErr_SetString(PyExc_ValueError, "blake2b_hex: digest_size 1..64, person <= 16 bytes");
    } else {
        uint8_t out[64];
        maat_blake2b(data.buf, (size_t)data.len, person.buf, (size_t)person.len, out,
                     (size_t)size);
        result = maat_hex(out, (size_t)size);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&person);
    return result;
}
