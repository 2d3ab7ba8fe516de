/* Shared declarations of maat._native (the C files in src/native). */
#ifndef MAAT_NATIVE_H
#define MAAT_NATIVE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The interface version: Python uses the extension only when it is the one it expects (a
 * stale build of an older checkout is ignored, not half used). */
#define MAAT_NATIVE_API 5

/* The C paths read words little-endian (BLAKE2b, CRC-32, wire lengths): on another machine
 * the (optional) build fails and Maat runs its Python paths. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "maat._native is written for little-endian machines"
#endif

/* ---- prefetch.c: reading a batch of events some ahead (see there) ---- */
/* Before handling events[i]: prefetch the memory events[i + a few] will need. Reads the
 * list and the dicts it holds, runs no Python code, changes nothing. */
void maat_prefetch_events(PyObject *events, Py_ssize_t i);
PyObject *maat_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ---- json_scan.c: scan the JSON orjson accepts; DECLINE for anything unsure ---- */
#define DECLINE ((const char *)1) /* not a Python error: the Python path takes the line */
const char *skip_ws(const char *p, const char *end);
/* A string whose opening quote is at p[-1]: the position after its closing quote, DECLINE, or
 * NULL with a Python error; with out, a new reference to it; no_escapes: a backslash declines */
const char *scan_string(const char *p, const char *end, PyObject **out, int no_escapes);
/* An integer (a fraction or an exponent declines); *digits: where its text starts */
const char *scan_int(const char *p, const char *end, const char **digits);
const char *scan_literal(const char *p, const char *end, const char *word);
/* Validate one value of any kind and drop it */
const char *skip_value(const char *p, const char *end, int depth);

/* ---- times.c ---- */
/* ASCII decimal digits [d, end), at most 18, as a number (*ok 0: not such digits) */
long long maat_digits_value(const char *d, const char *end, int *ok);
/* Whether s is YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z naming a real moment (model.iso_utc keeps it) */
int maat_canonical_time(PyObject *s);
/* A zoneless time in the form model.iso_utc gives it (a new reference), or NULL (no error)
 * for any other form */
PyObject *maat_naive_time(PyObject *s);

/* ---- flat_windows.c, lines.c ---- */
extern PyMethodDef maat_flat_methods[];
int maat_flat_init(void);
int maat_flat_configured(void); /* 0 with an error when configure() was not called */
/* One JSON line [line, line + size): a new reference to its event, or to None; digest: the
 * line's id BLAKE2b made already by maat_flat_ids, or NULL */
PyObject *maat_flat_record(const char *line, Py_ssize_t size, PyObject *received,
                           const uint8_t *digest);
void maat_flat_ids(const uint8_t *const *lines, const size_t *sizes, size_t count,
                   uint8_t *const *digests);
PyObject *maat_flat_windows_lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ---- blake2b.c ---- */
extern const uint64_t maat_blake2b_iv[8];
/* The twelve rounds, each R(the round's message schedule): RFC 7693's SIGMA, rounds 10 and
 * 11 repeating 0 and 1. blake2b.c and blake2b_x4.c each define their own R. */
#define MAAT_BLAKE2B_ROUNDS(R)                                                                 \
    R(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)                                    \
    R(14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3)                                    \
    R(11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4)                                    \
    R(7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8)                                    \
    R(9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13)                                    \
    R(2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9)                                    \
    R(12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11)                                    \
    R(13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10)                                    \
    R(6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5)                                    \
    R(10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0)                                    \
    R(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)                                    \
    R(14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3)
/* BLAKE2b of data[0:n], digest of out_len bytes (1..64), no key, person up to 16 bytes */
void maat_blake2b(const uint8_t *data, size_t n, const uint8_t *person, size_t person_len,
                  uint8_t *out, size_t out_len);
PyObject *maat_hex(const uint8_t *bytes, size_t n); /* hexdigest() text of bytes */
PyObject *maat_blake2b_hex(PyObject *self, PyObject *args);
/* ---- blake2b_x4.c ---- */
/* maat_blake2b of count messages into out[i] (out_len bytes each), four at a time with AVX2
 * unless portable */
int maat_blake2b_many(const uint8_t *const *data, const size_t *n, size_t count,
                      const uint8_t *person, size_t person_len, uint8_t *const *out,
                      size_t out_len, int portable);
PyObject *maat_blake2b_hex_many(PyObject *self, PyObject *args);

/* ---- mapping.c ---- */
/* Run a mapping plan (windows_mapping.plan_of) on an event: 0, -1 with an error, -2 decline */
int maat_apply_plan(PyObject *plan, PyObject *out);
/* 0 when ``plan`` has the shape maat_apply_plan reads (checked once, as it is made), else -1
 * with a TypeError */
int maat_plan_check(PyObject *plan);

/* ---- crc32.c ---- */
void maat_crc32_init(void);
/* zlib.crc32(data[0:n], value); portable: without the processor's carry-less multiply */
uint32_t maat_crc32(uint32_t value, const uint8_t *p, size_t n, int portable);
PyObject *maat_crc32_py(PyObject *self, PyObject *args);

/* ---- frames.c ---- */
PyObject *maat_spool_parts(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *maat_gather(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ---- wire.c ---- */
PyObject *maat_wire_events(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *maat_wire_fields(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ---- columns.c ---- */
PyObject *maat_lake_columns(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ---- prefilter.c, router.c ---- */
extern PyTypeObject maat_prefilter_type;
extern PyTypeObject maat_router_type;
/* Append to out the rules to run on event; *low: its lowered values, or NULL to have
 * make_low(event) make them when first needed (the caller releases what *low holds then) */
int maat_prefilter_run(PyObject *prefilter, PyObject *event, PyObject **low, PyObject *make_low,
                       PyObject *out);

#endif
