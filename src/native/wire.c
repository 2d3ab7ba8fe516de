/* wire_events and wire_fields: maat.telemetry.wire's messages of a batch, one call each.
 *
 * A message is MAGIC "\0MW1" | u32 fields length | u8 has original | fields | original. Per
 * event, wire.encode_event ran a Python function, three allocations and a join; here the
 * fields JSON still comes from orjson.dumps (passed in, so both paths write the same bytes)
 * and the message is one allocation. Anything unusual is left to the Python functions,
 * which report it: an event wire_events cannot encode is None in its result, a message
 * wire_fields cannot split is None in its. */
#include "native.h"

static PyObject *s_original; /* "event.original" */

static int wire_init(void) {
    if (s_original == NULL) s_original = PyUnicode_InternFromString("event.original");
    return s_original == NULL ? -1 : 0;
}

/* The message of one event: a new reference, None (the Python path decides), or NULL with
 * an error. As wire.encode_event, event.original is taken out for the JSON and put back as
 * the event's last key. */
static PyObject *wire_event(PyObject *event, PyObject *dumps) {
    if (!PyDict_CheckExact(event)) Py_RETURN_NONE;
    PyObject *original = PyDict_GetItemWithError(event, s_original);
    if (original == NULL && PyErr_Occurred()) return NULL;
    Py_XINCREF(original);
    if (original != NULL && PyDict_DelItem(event, s_original) < 0) {
        Py_DECREF(original);
        return NULL;
    }
    PyObject *fields = PyObject_CallOneArg(dumps, event);
    if (original != NULL && PyDict_SetItem(event, s_original, original) < 0) {
        Py_XDECREF(fields);
        Py_DECREF(original);
        return NULL;
    }
    PyObject *result = NULL;
    if (fields == NULL) {  // not JSON (an integer beyond 64 bits...): encode_event says why
        PyErr_Clear();
        result = Py_NewRef(Py_None);
        goto done;
    }
    const char *raw = "";
    Py_ssize_t raw_len = 0;
    if (original != NULL) {
        if (!PyUnicode_CheckExact(original)) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        // Kept with the str by CPython (if not ASCII): the lake's column reuses it
        raw = PyUnicode_AsUTF8AndSize(original, &raw_len);
        if (raw == NULL) {  // a lone surrogate: encode_event says so
            PyErr_Clear();
            result = Py_NewRef(Py_None);
            goto done;
        }
    }
    if (!PyBytes_CheckExact(fields) || PyBytes_GET_SIZE(fields) > 0xffffffffLL) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(fields);
    result = PyBytes_FromStringAndSize(NULL, 9 + size + raw_len);
    if (result == NULL) goto done;
    char *w = PyBytes_AS_STRING(result);
    memcpy(w, "\0MW1", 4);
    for (int b = 0; b < 4; b++) w[4 + b] = (char)((uint64_t)size >> (8 * b));
    w[8] = original != NULL ? 1 : 0;
    memcpy(w + 9, PyBytes_AS_STRING(fields), (size_t)size);
    memcpy(w + 9 + size, raw, (size_t)raw_len);
done:
    Py_XDECREF(fields);
    Py_XDECREF(original);
    return result;
}

/* wire_events(events, dumps) -> [message | None, ...]: see the top of this file. */
PyObject *maat_wire_events(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "wire_events(events: list, dumps)");
        return NULL;
    }
    if (wire_init() < 0) return NULL;
    // A copy of the list: dumps is Python's to call, and the caller's list could change.
    // The copy and the result being filled are untracked while dumps runs, so that no Python
    // code can reach them (gc.get_objects) and change or read them half made.
    PyObject *events = PyList_GetSlice(args[0], 0, PyList_GET_SIZE(args[0]));
    if (events == NULL) return NULL;
    PyObject_GC_UnTrack(events);
    Py_ssize_t count = PyList_GET_SIZE(events);
    PyObject *out = PyList_New(count);
    if (out == NULL) goto fail;
    PyObject_GC_UnTrack(out);
    for (Py_ssize_t i = 0; i < count; i++) {
        maat_prefetch_events(events, i);
        PyObject *message = wire_event(PyList_GET_ITEM(events, i), args[1]);
        if (message == NULL) goto fail;
        PyList_SET_ITEM(out, i, message);
    }
    Py_DECREF(events);
    PyObject_GC_Track(out);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(events);
    return NULL;
}

/* wire_fields(messages) -> [memoryview | None, ...]: each message's fields JSON, a view into
 * it; None where it is not a well-formed message of this form (wire.fields_of decides). */
PyObject *maat_wire_fields(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 1 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "wire_fields(messages: list)");
        return NULL;
    }
    PyObject *messages = PyList_GetSlice(args[0], 0, PyList_GET_SIZE(args[0]));
    if (messages == NULL) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(messages);
    PyObject *out = PyList_New(count);
    if (out == NULL) goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *data = PyList_GET_ITEM(messages, i), *view = NULL;
        if (PyBytes_CheckExact(data) && PyBytes_GET_SIZE(data) >= 9 &&
            memcmp(PyBytes_AS_STRING(data), "\0MW1", 4) == 0) {
            const uint8_t *d = (const uint8_t *)PyBytes_AS_STRING(data);
            uint64_t size = (uint64_t)d[4] | (uint64_t)d[5] << 8 | (uint64_t)d[6] << 16 |
                            (uint64_t)d[7] << 24;
            uint64_t end = 9 + size, total = (uint64_t)PyBytes_GET_SIZE(data);
            // As split_event: the fields inside the message; no original means nothing after
            if (end <= total && (d[8] == 1 || (d[8] == 0 && end == total))) {
                PyObject *whole = PyMemoryView_FromObject(data);
                if (whole == NULL) goto fail;
                view = PySequence_GetSlice(whole, 9, (Py_ssize_t)end);
                Py_DECREF(whole);
                if (view == NULL) goto fail;
            }
        }
        PyList_SET_ITEM(out, i, view != NULL ? view : Py_NewRef(Py_None));
    }
    Py_DECREF(messages);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(messages);
    return NULL;
}
