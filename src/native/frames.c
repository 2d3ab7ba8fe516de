/* spool_parts: the spool's frames of a batch of messages, as the buffers writev takes.
 *
 * maat.adapters.bus.spool_frames.frame_head's twin, one call a batch rather than a Python
 * function an event: a frame is "MF", u32 length, u32 CRC-32, u16 id length, id, u16 subject
 * length, subject, then the message's data, which is never copied. Anything the Python path would
 * refuse or treat otherwise (an id or subject that is not UTF-8 or too long, data that is
 * not bytes) declines the batch: None, and the Python path frames it. */
#include "native.h"

/* spool_parts(subject, messages) -> [head, data, head, data, ...] | None, where messages is
 * a list of (id: str, data: bytes). */
PyObject *maat_spool_parts(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyUnicode_CheckExact(args[0]) || !PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "spool_parts(subject: str, messages: list)");
        return NULL;
    }
    Py_ssize_t subject_len, count = PyList_GET_SIZE(args[1]);
    const char *subject = PyUnicode_AsUTF8AndSize(args[0], &subject_len);
    if (subject == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (subject_len > 0xffff) Py_RETURN_NONE;
    PyObject *parts = PyList_New(2 * count);
    if (parts == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        // Each item is read through the list as it is now, and nothing below runs Python
        // code, so the list cannot change under the loop.
        PyObject *pair = PyList_GET_ITEM(args[1], i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(pair, 0)) ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 1)))
            goto decline;
        PyObject *data = PyTuple_GET_ITEM(pair, 1);
        Py_ssize_t id_len, data_len = PyBytes_GET_SIZE(data);
        const char *ident = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &id_len);
        if (ident == NULL) {
            PyErr_Clear();
            goto decline;
        }
        Py_ssize_t prefix_len = 4 + id_len + subject_len;
        if (id_len > 0xffff || (uint64_t)prefix_len + (uint64_t)data_len > 0xffffffffu)
            goto decline;
        PyObject *head = PyBytes_FromStringAndSize(NULL, 10 + prefix_len);
        if (head == NULL) goto fail;
        uint8_t *w = (uint8_t *)PyBytes_AS_STRING(head), *prefix = w + 10;
        uint32_t length = (uint32_t)(prefix_len + data_len);
        prefix[0] = (uint8_t)id_len;
        prefix[1] = (uint8_t)(id_len >> 8);
        memcpy(prefix + 2, ident, (size_t)id_len);
        prefix[2 + id_len] = (uint8_t)subject_len;
        prefix[3 + id_len] = (uint8_t)(subject_len >> 8);
        memcpy(prefix + 4 + id_len, subject, (size_t)subject_len);
        uint32_t crc = maat_crc32(maat_crc32(0, prefix, (size_t)prefix_len, 0),
                                  (const uint8_t *)PyBytes_AS_STRING(data), (size_t)data_len, 0);
        w[0] = 'M';
        w[1] = 'F';
        for (int b = 0; b < 4; b++) {  // little-endian whatever the host
            w[2 + b] = (uint8_t)(length >> (8 * b));
            w[6 + b] = (uint8_t)(crc >> (8 * b));
        }
        PyList_SET_ITEM(parts, 2 * i, head);
        Py_INCREF(data);
        PyList_SET_ITEM(parts, 2 * i + 1, data);
    }
    return parts;
decline:
    Py_DECREF(parts);
    Py_RETURN_NONE;
fail:
    Py_DECREF(parts);
    return NULL;
}

/* gather(buffer, filled, parts, index) -> (index, filled): copy parts[index], parts[index+1],
 * ... into the writable ``buffer`` from byte ``filled`` on, each whole, while the next is bytes
 * and fits; returns the index of the first part not copied (len(parts) when all were) and
 * the bytes the buffer then holds. The spool's direct writes gather a batch's frames this
 * way (maat.adapters.bus.spool_writer, whose Python loop is the twin); a part that does not
 * fit, or is another kind of buffer, is the caller's to copy. */
PyObject *maat_gather(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyLong_CheckExact(args[1]) || !PyList_CheckExact(args[2]) ||
        !PyLong_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "gather(buffer, filled: int, parts: list[bytes], index: int)");
        return NULL;
    }
    Py_ssize_t filled = PyLong_AsSsize_t(args[1]), index = PyLong_AsSsize_t(args[3]);
    if ((filled == -1 || index == -1) && PyErr_Occurred()) return NULL;
    PyObject *parts = args[2];
    Py_ssize_t count = PyList_GET_SIZE(parts);
    if (index < 0 || index > count) {
        PyErr_SetString(PyExc_IndexError, "gather: index out of range");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (filled < 0 || filled > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "gather: filled is outside the buffer");
        return NULL;
    }
    // Nothing below runs Python code: the list cannot change while it is copied.
    char *into = (char *)view.buf;
    for (; index < count; index++) {
        PyObject *part = PyList_GET_ITEM(parts, index);
        if (!PyBytes_CheckExact(part)) break;
        Py_ssize_t size = PyBytes_GET_SIZE(part);
        if (size > view.len - filled) break;
        memcpy(into + filled, PyBytes_AS_STRING(part), (size_t)size);
        filled += size;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nn)", index, filled);
}
