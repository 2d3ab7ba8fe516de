/* BLAKE2b of four messages at once (x86-64 with AVX2, chosen at run time), for event ids.
 *
 * A BLAKE2b round cannot go faster by spreading one message over a vector (its four G
 * functions feed each other within the round: tried, no gain), but four messages can run
 * side by side, each in its own 64-bit lane of every register, doing exactly the portable
 * rounds (blake2b.c) with no shuffling between lanes. The messages may differ in length: a
 * lane whose message has ended keeps its state while the others go on. Held to hashlib and
 * to the portable BLAKE2b by the tests, at every length across block boundaries. */
#include "native.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define IV maat_blake2b_iv

#define ADD(a, b) _mm256_add_epi64((a), (b))
#define XOR(a, b) _mm256_xor_si256((a), (b))
#define ROR32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define ROR24(x) _mm256_shuffle_epi8((x), rot24)
#define ROR16(x) _mm256_shuffle_epi8((x), rot16)
#define ROR63(x) _mm256_or_si256(_mm256_srli_epi64((x), 63), ADD((x), (x)))
#define G(a, b, c, d, x, y)                                                                    \
    a = ADD(ADD(a, b), m[x]);                                                                  \
    d = ROR32(XOR(d, a));                                                                      \
    c = ADD(c, d);                                                                             \
    b = ROR24(XOR(b, c));                                                                      \
    a = ADD(ADD(a, b), m[y]);                                                                  \
    d = ROR16(XOR(d, a));                                                                      \
    c = ADD(c, d);                                                                             \
    b = ROR63(XOR(b, c));
#define ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)           \
    G(v0, v4, v8, v12, s0, s1)                                                                 \
    G(v1, v5, v9, v13, s2, s3)                                                                 \
    G(v2, v6, v10, v14, s4, s5)                                                                \
    G(v3, v7, v11, v15, s6, s7)                                                                \
    G(v0, v5, v10, v15, s8, s9)                                                                \
    G(v1, v6, v11, v12, s10, s11)                                                              \
    G(v2, v7, v8, v13, s12, s13)                                                               \
    G(v3, v4, v9, v14, s14, s15)

/* Word i of the four blocks, one lane each: 4x4 transposes of what each block holds. */
__attribute__((target("avx2"))) static void load_words(__m256i m[16],
                                                       const uint8_t *const block[4]) {
    for (int i = 0; i < 16; i += 4) {
        __m256i r0 = _mm256_loadu_si256((const __m256i *)(block[0] + 8 * i));
        __m256i r1 = _mm256_loadu_si256((const __m256i *)(block[1] + 8 * i));
        __m256i r2 = _mm256_loadu_si256((const __m256i *)(block[2] + 8 * i));
        __m256i r3 = _mm256_loadu_si256((const __m256i *)(block[3] + 8 * i));
        __m256i t0 = _mm256_unpacklo_epi64(r0, r1), t1 = _mm256_unpackhi_epi64(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi64(r2, r3), t3 = _mm256_unpackhi_epi64(r2, r3);
        m[i] = _mm256_permute2x128_si256(t0, t2, 0x20);
        m[i + 1] = _mm256_permute2x128_si256(t1, t3, 0x20);
        m[i + 2] = _mm256_permute2x128_si256(t0, t2, 0x31);
        m[i + 3] = _mm256_permute2x128_si256(t1, t3, 0x31);
    }
}

/* One block of each lane: h updated where ``live`` is all ones, kept elsewhere. */
__attribute__((target("avx2"))) static void compress4(__m256i h[8], const __m256i m[16],
                                                      __m256i t, __m256i last, __m256i live) {
    const __m256i rot24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                           3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i rot16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                           2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    __m256i v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6];
    __m256i v7 = h[7];
    __m256i v8 = _mm256_set1_epi64x((long long)IV[0]), v9 = _mm256_set1_epi64x((long long)IV[1]);
    __m256i v10 = _mm256_set1_epi64x((long long)IV[2]);
    __m256i v11 = _mm256_set1_epi64x((long long)IV[3]);
    __m256i v12 = XOR(_mm256_set1_epi64x((long long)IV[4]), t);
    __m256i v13 = _mm256_set1_epi64x((long long)IV[5]);
    __m256i v14 = XOR(_mm256_set1_epi64x((long long)IV[6]), last);
    __m256i v15 = _mm256_set1_epi64x((long long)IV[7]);
    MAAT_BLAKE2B_ROUNDS(ROUND)
    __m256i s[8] = {XOR(v0, v8), XOR(v1, v9), XOR(v2, v10), XOR(v3, v11),
                    XOR(v4, v12), XOR(v5, v13), XOR(v6, v14), XOR(v7, v15)};
    for (int i = 0; i < 8; i++) h[i] = _mm256_blendv_epi8(h[i], XOR(h[i], s[i]), live);
}

/* Steps, for the four messages data[k][0:n[k]] (digest out_len bytes, the same person):
 * 1. every lane's state starts from the parameter block, as the portable BLAKE2b's;
 * 2. block b of each lane is its b-th 128 bytes, or its last bytes zero-padded, or (its
 *    message done) anything, its state kept by the live mask;
 * 3. each lane's digest is the first out_len bytes of its state. */
__attribute__((target("avx2"))) static void blake2b_x4(const uint8_t *const data[4],
                                                       const size_t n[4], const uint8_t *person,
                                                       size_t person_len,
                                                       uint8_t *const out[4], size_t out_len) {
    uint8_t padded[16] = {0};
    uint64_t word;
    memcpy(padded, person, person_len > 16 ? 16 : person_len);
    __m256i h[8];
    for (int i = 0; i < 8; i++) {
        word = IV[i];
        if (i == 0) word ^= 0x01010000ULL ^ (uint64_t)out_len;
        if (i >= 6) {
            uint64_t p;
            memcpy(&p, padded + 8 * (i - 6), 8);
            word ^= p;
        }
        h[i] = _mm256_set1_epi64x((long long)word);
    }
    size_t blocks[4], most = 0;  // blocks per message: an empty one has one, of zeros
    for (int k = 0; k < 4; k++) {
        blocks[k] = n[k] == 0 ? 1 : (n[k] + 127) / 128;
        if (blocks[k] > most) most = blocks[k];
    }
    static const uint8_t zeros[128];
    uint8_t tails[4][128];
    __m256i m[16];
    for (size_t b = 0; b < most; b++) {
        const uint8_t *block[4];
        long long t[4], last[4], live[4];
        for (int k = 0; k < 4; k++) {
            if (b + 1 < blocks[k]) {  // a whole block, read in place
                block[k] = data[k] + 128 * b;
                t[k] = (long long)(128 * (b + 1));
                last[k] = 0;
                live[k] = -1;
            } else if (b + 1 == blocks[k]) {  // the last: its bytes, zero-padded
                size_t rest = n[k] - 128 * b;
                memset(tails[k], 0, sizeof tails[k]);
                if (rest) memcpy(tails[k], data[k] + 128 * b, rest);
                block[k] = tails[k];
                t[k] = (long long)n[k];
                last[k] = -1;
                live[k] = -1;
            } else {  // done: its state stays as it is
                block[k] = zeros;
                t[k] = last[k] = live[k] = 0;
            }
        }
        load_words(m, block);
        compress4(h, m, _mm256_setr_epi64x(t[0], t[1], t[2], t[3]),
                  _mm256_setr_epi64x(last[0], last[1], last[2], last[3]),
                  _mm256_setr_epi64x(live[0], live[1], live[2], live[3]));
    }
    uint64_t state[8][4];
    for (int i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)state[i], h[i]);
    for (int k = 0; k < 4; k++) {
        uint8_t digest[64];
        for (int i = 0; i < 8; i++) memcpy(digest + 8 * i, &state[i][k], 8);
        memcpy(out[k], digest, out_len);
    }
}
#endif

int maat_blake2b_many(const uint8_t *const *data, const size_t *n, size_t count,
                      const uint8_t *person, size_t person_len, uint8_t *const *out,
                      size_t out_len, int portable) {
    size_t done = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (!portable && __builtin_cpu_supports("avx2")) {
        for (; done + 4 <= count; done += 4)
            blake2b_x4(data + done, n + done, person, person_len, out + done, out_len);
    }
#else
    (void)portable;
#endif
    for (; done < count; done++)
        maat_blake2b(data[done], n[done], person, person_len, out[done], out_len);
    return 0;
}

/* blake2b_hex_many(messages, person, digest_size, portable=False) -> [str, ...]: the event
 * ids' BLAKE2b of many messages, four at a time where the processor can (for the tests). */
PyObject *maat_blake2b_hex_many(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *messages;
    Py_buffer person;
    Py_ssize_t size;
    int portable = 0;
    if (!PyArg_ParseTuple(args, "O!y*n|p", &PyList_Type, &messages, &person, &size, &portable))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t count = PyList_GET_SIZE(messages);
    const uint8_t **data = PyMem_Calloc((size_t)count + 1, sizeof *data);
    size_t *n = PyMem_Calloc((size_t)count + 1, sizeof *n);
    uint8_t *digests = PyMem_Calloc((size_t)count + 1, 64);
    uint8_t **out = PyMem_Calloc((size_t)count + 1, sizeof *out);
    PyObject *held = PyList_GetSlice(messages, 0, count);  // the bytes stay while hashed
    if (data == NULL || n == NULL || digests == NULL || out == NULL || held == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    if (size < 1 || size > 64 || person.len > 16) {
        PyErr_SetString(PyExc_ValueError, "blake2b_hex_many: digest_size 1..64, person <= 16");
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(held, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "blake2b_hex_many: messages must be bytes");
            goto done;
        }
        data[i] = (const uint8_t *)PyBytes_AS_STRING(item);
        n[i] = (size_t)PyBytes_GET_SIZE(item);
        out[i] = digests + 64 * i;
    }
    maat_blake2b_many(data, n, (size_t)count, person.buf, (size_t)person.len, out, (size_t)size,
                      portable);
    result = PyList_New(count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *hex = maat_hex(out[i], (size_t)size);
        if (hex == NULL) Py_CLEAR(result);
        else PyList_SET_ITEM(result, i, hex);
    }
done:
    Py_XDECREF(held);
    PyMem_Free(data);
    PyMem_Free(n);
    PyMem_Free(digests);
    PyMem_Free(out);
    PyBuffer_Release(&person);
    return result;
}
