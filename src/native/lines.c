/* flat_windows_lines: a body's lines to events, a bounded number of lines per call
 * (flat_windows.c reads each line). */
#include "native.h"

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
    if (numbers == NULL || payloads == NULL || slow == NULL) goto fail;
    Py_ssize_t taken = 0;
    const char *p = data + offset;
    while (p <= end && taken < max_lines) {
        const char *stop = memchr(p, '\n', (size_t)(end - p));
        if (stop == NULL) stop = end;
        number++;
        const char *last = stop;
        if (last > p && last[-1] == '\r') last--;
        const char *q = p;
        while (q < last && blank(*q)) q++;
        if (q < last) {
            taken++;
            PyObject *payload = NULL, *n;
            if (last - p <= limit) {
                payload = maat_flat_record(p, last - p, args[1]);
                if (payload == NULL) goto fail;
            }
            if (payload == NULL || payload == Py_None) {
                Py_XDECREF(payload);
                payload = PyBytes_FromStringAndSize(p, last - p);
                if (payload == NULL) goto fail;
                PyObject *at = PyLong_FromSsize_t(PyList_GET_SIZE(payloads));
                int bad = at == NULL || PyList_Append(slow, at) < 0;
                Py_XDECREF(at);
                if (bad) {
                    Py_DECREF(payload);
                    goto fail;
                }
            }
            n = PyLong_FromSsize_t(number);
            int bad = n == NULL || PyList_Append(numbers, n) < 0 ||
                      PyList_Append(payloads, payload) < 0;
            Py_XDECREF(n);
            Py_DECREF(payload);
            if (bad) goto fail;
        }
        p = stop + 1;
    }
    PyObject *result = Py_BuildValue("(OOOnn)", numbers, payloads, slow, (Py_ssize_t)(p - data),
                                     number);
    Py_DECREF(numbers);
    Py_DECREF(payloads);
    Py_DECREF(slow);
    return result;
fail:
    Py_XDECREF(numbers);
    Py_XDECREF(payloads);
    Py_XDECREF(slow);
    return NULL;
}
