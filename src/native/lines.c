/* flat_windows_lines: a body's lines to events, a bounded number of lines per call
 * (flat_windows.c reads each line). */
#include "native.h"

/* One line of the chunk: where it is, its number, its id's digest once made (or NULL). */
typedef struct {
    const char *start;
    Py_ssize_t size;
    Py_ssize_t number;
    const uint8_t *digest;
} Line;

/* bytes.strip()'s whitespace */
static inline int blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

/* Up to ``max_lines`` non-blank lines of ``data`` from ``offset`` (the start of line
 * ``number`` + 1; lines count as data.split(b"\n") does, a trailing CR removed) as
 * (numbers, payloads, slow, offset, number): a payload is the event flat_windows made, or the
 * line's bytes where it made none or the line is longer than ``limit`` (Python reads those);
 * ``slow`` holds the positions of the bytes payloads; offset and number say where to go on
 * (offset len(data) + 1: the end). Lists rather than a tuple per line, which would wake the
 * garbage collector; a bounded number of lines, so that a body of bad lines costs no memory
 * in proportion to its lines. */
PyObject *maat_flat_windows_lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    Py_ssize_t limit, offset, number, max_lines;
    if (nargs != 6 || !PyBytes_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "flat_windows_lines(data: bytes, received: str, limit: int, offset: int, "
                        "number: int, max_lines: int)");
        return NULL;
    }
    limit = PyLong_AsSsize_t(args[2]);
    offset = PyLong_AsSsize_t(args[3]);
    number = PyLong_AsSsize_t(args[4]);
    max_lines = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred()) return NULL;
    if (!maat_flat_configured()) return NULL;
    const char *data = PyBytes_AS_STRING(args[0]);
    const char *end = data + PyBytes_GET_SIZE(args[0]);
    if (offset < 0 || offset > PyBytes_GET_SIZE(args[0]) + 1 || number < 0 || max_lines < 1) {
        PyErr_SetString(PyExc_ValueError, "flat_windows_lines: offset, number or max_lines");
        return NULL;
    }
    PyObject *numbers = PyList_New(0), *payloads = PyList_New(0), *slow = PyList_New(0);
    // Steps: 1. find the chunk's lines; 2. hash those short enough for flat_windows, four at
    // a time (blake2b_x4.c); 3. make each line's event, or hand Python its bytes.
    const size_t hash_cap = (size_t)(max_lines < 1024 ? max_lines : 1024);
    size_t cap = hash_cap, count = 0, hashed = 0;
    Line *lines = PyMem_Malloc(cap * sizeof *lines);
    const uint8_t **hash_in = PyMem_Malloc(hash_cap * sizeof *hash_in);
    size_t *hash_n = PyMem_Malloc(hash_cap * sizeof *hash_n);
    uint8_t **hash_out = PyMem_Malloc(hash_cap * sizeof *hash_out);
    uint8_t *digests = PyMem_Malloc(hash_cap * 64);
    if (numbers == NULL || payloads == NULL || slow == NULL) goto fail;
    if (lines == NULL || hash_in == NULL || hash_n == NULL || hash_out == NULL ||
        digests == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    const char *p = data + offset;
    while (p <= end && (Py_ssize_t)count < max_lines) {
        if (count == cap) {  // more lines a call than the first allocation holds: grow
            size_t more = cap * 2;
            Line *grown = PyMem_Realloc(lines, more * sizeof *lines);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto fail;
            }
            lines = grown;
            cap = more;
        }
        const char *stop = memchr(p, '\n', (size_t)(end - p));
        if (stop == NULL) stop = end;
        number++;
        const char *last = stop;
        if (last > p && last[-1] == '\r') last--;
        const char *q = p;
        while (q < last && blank(*q)) q++;
        if (q < last) lines[count++] = (Line){p, last - p, number, NULL};
        p = stop + 1;
    }
    for (size_t i = 0; i < count; i++) {
        if (lines[i].size > limit) continue;
        if (hashed == hash_cap) break;  // lines beyond: flat_windows hashes them itself
        hash_in[hashed] = (const uint8_t *)lines[i].start;
        hash_n[hashed] = (size_t)lines[i].size;
        hash_out[hashed] = digests + 64 * hashed;
        lines[i].digest = hash_out[hashed++];
    }
    maat_flat_ids(hash_in, hash_n, hashed, hash_out);
    for (size_t i = 0; i < count; i++) {
        PyObject *payload = NULL, *n;
        if (lines[i].size <= limit) {
            payload = maat_flat_record(lines[i].start, lines[i].size, args[1], lines[i].digest);
            if (payload == NULL) goto fail;
        }
        if (payload == NULL || payload == Py_None) {
            Py_XDECREF(payload);
            payload = PyBytes_FromStringAndSize(lines[i].start, lines[i].size);
            if (payload == NULL) goto fail;
            PyObject *at = PyLong_FromSsize_t(PyList_GET_SIZE(payloads));
            int bad = at == NULL || PyList_Append(slow, at) < 0;
            Py_XDECREF(at);
            if (bad) {
                Py_DECREF(payload);
                goto fail;
            }
        }
        n = PyLong_FromSsize_t(lines[i].number);
        int bad = n == NULL || PyList_Append(numbers, n) < 0 ||
                  PyList_Append(payloads, payload) < 0;
        Py_XDECREF(n);
        Py_DECREF(payload);
        if (bad) goto fail;
    }
    PyMem_Free(lines);
    PyMem_Free(hash_in);
    PyMem_Free(hash_n);
    PyMem_Free(hash_out);
    PyMem_Free(digests);
    PyObject *result = Py_BuildValue("(OOOnn)", numbers, payloads, slow, (Py_ssize_t)(p - data),
                                     number);
    Py_DECREF(numbers);
    Py_DECREF(payloads);
    Py_DECREF(slow);
    return result;
fail:
    PyMem_Free(lines);
    PyMem_Free(hash_in);
    PyMem_Free(hash_n);
    PyMem_Free(hash_out);
    PyMem_Free(digests);
    Py_XDECREF(numbers);
    Py_XDECREF(payloads);
    Py_XDECREF(slow);
    return NULL;
}
