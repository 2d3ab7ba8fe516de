/* lake_columns: the lake's columns of a batch of events, as Arrow buffers.
 *
 * maat.adapters.lake.arrow hands it the events and the column plan (maat.lake.schema.COLUMNS
 * as (source key, kind) pairs) and makes Arrow arrays of the buffers without a copy
 * (pyarrow.Array.from_buffers). It reads each event's values once, in one pass, where Arrow's
 * conversion from dicts builds a struct of every column first. Any value it is unsure of
 * (another type than the plan's, a text UTF-8 cannot hold, an empty category list, offsets
 * past 2 GiB) declines the whole batch: it returns None and Arrow's own conversion takes it,
 * so that the two cannot differ on odd input (ADR 0020). */
#include "native.h"

/* The column kinds of the plan (maat.adapters.lake.arrow._NATIVE_KINDS). */
enum { K_TEXT = 0, K_FIRST = 1, K_INT = 2, K_LARGE_TEXT = 3, K_KINDS };

/* A bytearray grown by doubling, so that Arrow can take its memory as it is. */
typedef struct {
    PyObject *array;
    Py_ssize_t size, capacity;
} Growing;

static int grow_to(Growing *g, Py_ssize_t need) {
    if (g->size + need <= g->capacity) return 0;
    Py_ssize_t capacity = g->capacity * 2;
    if (capacity < g->size + need) capacity = g->size + need;
    if (PyByteArray_Resize(g->array, capacity) < 0) return -1;
    g->capacity = capacity;
    return 0;
}

static int grow_append(Growing *g, const void *bytes, Py_ssize_t n) {
    if (grow_to(g, n) < 0) return -1;
    memcpy(PyByteArray_AS_STRING(g->array) + g->size, bytes, (size_t)n);
    g->size += n;
    return 0;
}

/* One column being built: validity bits, offsets (text) or values (int), and text bytes. */
typedef struct {
    int kind;
    PyObject *key;
    Py_ssize_t nulls;
    Growing bits, offsets, data;
} Column;

static int grow_init(Growing *g, Py_ssize_t capacity) {
    g->size = 0;
    g->capacity = capacity;
    g->array = PyByteArray_FromStringAndSize(NULL, capacity);
    return g->array == NULL ? -1 : 0;
}

/* The UTF-8 of a str: 1, or 0 to decline (a lone surrogate: Arrow's conversion reports it).
 * CPython keeps it with a str that is not ASCII, so that the bus message (wire.c) and this
 * column encode an event's original once between them. */
static int utf8_of(PyObject *text, const char **utf8, Py_ssize_t *n) {
    *utf8 = PyUnicode_AsUTF8AndSize(text, n);
    if (*utf8 != NULL) return 1;
    PyErr_Clear();
    return 0;
}

/* Mark row ``row`` null. */
static void set_null(Column *c, Py_ssize_t row) {
    PyByteArray_AS_STRING(c->bits.array)[row >> 3] &= (char)~(1u << (row & 7));
    c->nulls++;
}

/* Append one value to column c: 0, -1 with an error, 1 to decline. */
static int add_value(Column *c, PyObject *value, Py_ssize_t row) {
    if (c->kind == K_FIRST && value != NULL && value != Py_None) {
        if (!PyList_CheckExact(value) || PyList_GET_SIZE(value) == 0) return 1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); i++) {
            PyObject *item = PyList_GET_ITEM(value, i);
            if (item != Py_None && !PyUnicode_CheckExact(item)) return 1;
        }
        value = PyList_GET_ITEM(value, 0);
    }
    if (c->kind == K_INT) {
        int64_t number = 0;
        if (value == NULL || value == Py_None) {
            set_null(c, row);
        } else {
            if (!PyLong_CheckExact(value)) return 1;
            int overflow = 0;
            long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
            if (overflow || (v == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                return 1;
            }
            number = (int64_t)v;
        }
        return grow_append(&c->offsets, &number, sizeof number) < 0 ? -1 : 0;
    }
    Py_ssize_t n = 0;
    if (value == NULL || value == Py_None) {
        set_null(c, row);
    } else {
        if (!PyUnicode_CheckExact(value)) return 1;
        const char *utf8;
        if (!utf8_of(value, &utf8, &n)) return 1;
        if (grow_append(&c->data, utf8, n) < 0) return -1;
    }
    if (c->kind == K_LARGE_TEXT) {
        int64_t end = (int64_t)c->data.size;
        return grow_append(&c->offsets, &end, sizeof end) < 0 ? -1 : 0;
    }
    if (c->data.size >= INT32_MAX) return 1;  // past what Arrow's string builder holds
    int32_t end = (int32_t)c->data.size;
    return grow_append(&c->offsets, &end, sizeof end) < 0 ? -1 : 0;
}

static void columns_free(Column *columns, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_XDECREF(columns[i].bits.array);
        Py_XDECREF(columns[i].offsets.array);
        Py_XDECREF(columns[i].data.array);
    }
    PyMem_Free(columns);
}

/* (validity bytearray or None, null count, offsets or values bytearray, text bytearray or
 * None) of a finished column. */
static PyObject *column_result(Column *c) {
    if (PyByteArray_Resize(c->bits.array, c->bits.size) < 0 ||
        PyByteArray_Resize(c->offsets.array, c->offsets.size) < 0 ||
        PyByteArray_Resize(c->data.array, c->data.size) < 0)
        return NULL;
    PyObject *bits = c->nulls ? c->bits.array : Py_None;
    PyObject *data = c->kind == K_INT ? Py_None : c->data.array;
    return Py_BuildValue("(OnOO)", bits, c->nulls, c->offsets.array, data);
}

/* lake_columns(events, plan) -> [(validity, nulls, offsets, data), ...] | None: see the top
 * of this file. ``plan``: a tuple of (key: str, kind: int) pairs. */
PyObject *maat_lake_columns(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "lake_columns(events: list, plan: tuple)");
        return NULL;
    }
    PyObject *events = args[0], *plan = args[1];
    Py_ssize_t rows = PyList_GET_SIZE(events), count = PyTuple_GET_SIZE(plan);
    Column *columns = PyMem_Calloc((size_t)(count ? count : 1), sizeof(Column));
    if (columns == NULL) return PyErr_NoMemory();
    // A copy of the list: a key's __eq__ (a dict holding a key that is not a str) could run
    // on a hash collision and change the caller's list under the loop.
    PyObject *batch = PyList_GetSlice(events, 0, rows);
    if (batch == NULL) goto fail;
    PyObject_GC_UnTrack(batch);  // nor reachable by that code through the collector
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(plan, i);
        Column *c = &columns[i];
        long kind = -1;
        if (PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2 &&
            PyUnicode_CheckExact(PyTuple_GET_ITEM(pair, 0)) &&
            PyLong_CheckExact(PyTuple_GET_ITEM(pair, 1)))
            kind = PyLong_AsLong(PyTuple_GET_ITEM(pair, 1));
        if (kind < 0 || kind >= K_KINDS) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "lake_columns: a plan entry is not (key, kind)");
            goto fail;
        }
        c->kind = (int)kind;
        c->key = PyTuple_GET_ITEM(pair, 0);
        Py_ssize_t width = c->kind == K_LARGE_TEXT || c->kind == K_INT ? 8 : 4;
        Py_ssize_t data = c->kind == K_INT ? 0 : rows * 32;
        if (c->kind == K_LARGE_TEXT) {
            // The originals are most of the bytes: sized once, from above, so that the
            // buffer never grows (a copy of tens of MB) and is touched only where written.
            data = 0;
            for (Py_ssize_t row = 0; row < rows; row++) {
                PyObject *event = PyList_GET_ITEM(batch, row);
                PyObject *value = PyDict_CheckExact(event) ? PyDict_GetItemWithError(event, c->key)
                                                           : NULL;
                if (value == NULL && PyErr_Occurred()) goto fail;
                if (value != NULL && PyUnicode_CheckExact(value))  // UTF-8's most a char
                    data += PyUnicode_GET_LENGTH(value) *
                            (PyUnicode_IS_COMPACT_ASCII(value) ? 1 : 1 + PyUnicode_KIND(value));
            }
        }
        if (grow_init(&c->bits, (rows + 7) / 8) < 0 ||
            grow_init(&c->offsets, (rows + 1) * width) < 0 || grow_init(&c->data, data) < 0)
            goto fail;
        c->bits.size = (rows + 7) / 8;
        memset(PyByteArray_AS_STRING(c->bits.array), 0xff, (size_t)c->bits.size);
        if (c->kind != K_INT) {  // text offsets start at 0
            memset(PyByteArray_AS_STRING(c->offsets.array), 0, (size_t)width);
            c->offsets.size = width;
        }
    }
    // Arrow's conversion may look every event's keys up as bytes, by what it finds in the
    // first; this path only as str: a first event with any other key is Arrow's to read.
    if (rows > 0 && PyDict_CheckExact(PyList_GET_ITEM(batch, 0))) {
        Py_ssize_t at = 0;
        PyObject *key, *value;
        while (PyDict_Next(PyList_GET_ITEM(batch, 0), &at, &key, &value))
            if (!PyUnicode_CheckExact(key)) goto decline;
    }
    // A value is copied as soon as it is found: nothing that could run Python code comes
    // between its lookup and its copy.
    for (Py_ssize_t row = 0; row < rows; row++) {
        maat_prefetch_events(batch, row);
        PyObject *event = PyList_GET_ITEM(batch, row);
        if (!PyDict_CheckExact(event)) goto decline;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *value = PyDict_GetItemWithError(event, columns[i].key);
            if (value == NULL && PyErr_Occurred()) goto fail;
            int status = add_value(&columns[i], value, row);
            if (status < 0) goto fail;
            if (status > 0) goto decline;
        }
    }
    PyObject *result = PyList_New(count);
    if (result == NULL) goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *column = column_result(&columns[i]);
        if (column == NULL) {
            Py_DECREF(result);
            goto fail;
        }
        PyList_SET_ITEM(result, i, column);
    }
    Py_DECREF(batch);
    columns_free(columns, count);
    return result;
decline:
    Py_DECREF(batch);
    columns_free(columns, count);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(batch);
    columns_free(columns, count);
    return NULL;
}
