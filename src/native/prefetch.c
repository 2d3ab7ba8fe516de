/* Reading a batch of events some ahead of where a loop is.
 *
 * A batch of 10,000 events is tens of MB of dicts and strings, out of every cache by the time
 * the next stage reads it: the spool's messages (wire.c), the lake's columns (columns.c) and
 * the lake writer letting go of the events were each waiting on memory for most of their
 * time, one event's dict, its keys table and then its values in turn. Asking for them a few
 * events ahead lets those loads overlap. Three steps, each at a shorter distance, because
 * each needs the memory the previous one asked for:
 *
 * 1. at DICT_AHEAD, the dict object itself;
 * 2. at KEYS_AHEAD, its keys table (whose address is in the dict);
 * 3. at VALUES_AHEAD, the head of each value and its first bytes (their addresses are in the
 *    keys table), and where a freed value's allocator looks (its pymalloc pool).
 *
 * A prefetch never faults and changes nothing: this only reads pointers the caller's list
 * already holds references to, and runs no Python code. */
#include "native.h"

#define DICT_AHEAD 12
#define KEYS_AHEAD 8
#define VALUES_AHEAD 4
#define KEYS_BYTES 1024 /* an event's keys table (some 30 keys) is under this */

static inline void prefetch_range(const void *p, size_t n) {
    for (size_t at = 0; at < n; at += 64) __builtin_prefetch((const char *)p + at);
}

/* The prefetches for a loop at i going ``step`` (1 or -1) at a time. */
static void prefetch_stepping(PyObject *events, Py_ssize_t i, Py_ssize_t step) {
    Py_ssize_t n = PyList_GET_SIZE(events), at;
    at = i + step * DICT_AHEAD;
    if (at >= 0 && at < n) __builtin_prefetch(PyList_GET_ITEM(events, at));
    at = i + step * KEYS_AHEAD;
    if (at >= 0 && at < n) {
        PyObject *d = PyList_GET_ITEM(events, at);
        if (PyDict_CheckExact(d)) prefetch_range(((PyDictObject *)d)->ma_keys, KEYS_BYTES);
    }
    at = i + step * VALUES_AHEAD;
    if (at >= 0 && at < n) {
        PyObject *d = PyList_GET_ITEM(events, at), *key, *value;
        if (!PyDict_CheckExact(d)) return;
        Py_ssize_t pos = 0;
        while (PyDict_Next(d, &pos, &key, &value)) {
            __builtin_prefetch(value);
            __builtin_prefetch((const char *)value + 64);
            // pymalloc's pool header, which freeing a small object reads (pools are 4 KiB)
            __builtin_prefetch((const void *)((uintptr_t)value & ~(uintptr_t)4095));
        }
    }
}

void maat_prefetch_events(PyObject *events, Py_ssize_t i) { prefetch_stepping(events, i, 1); }

/* release(items: list) -> None: empty the list, dropping its references last first, each a
 * few ahead of the prefetches above. What ``items.clear()`` does, faster for a batch of
 * events the lake writer has written (their last reference, mostly). */
PyObject *maat_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 1 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "release(items: list)");
        return NULL;
    }
    // The references move to a list no Python code can see (untracked, so that not even
    // gc.get_referrers finds it), and the caller's is emptied first: a __del__ run by a
    // release may touch the caller's list, never this one.
    PyObject *held = PyList_GetSlice(args[0], 0, PyList_GET_SIZE(args[0]));
    if (held == NULL) return NULL;
    PyObject_GC_UnTrack(held);
    if (PyList_SetSlice(args[0], 0, PyList_GET_SIZE(args[0]), NULL) < 0) {
        Py_DECREF(held);
        return NULL;
    }
    // Last first, as list.clear: the allocator then hands the freed memory out again in the
    // order the next batch is made in.
    for (Py_ssize_t i = PyList_GET_SIZE(held) - 1; i >= 0; i--) {
        prefetch_stepping(held, i, -1);
        PyObject *item = PyList_GET_ITEM(held, i);
        PyList_SET_ITEM(held, i, Py_NewRef(Py_None));
        Py_DECREF(item);
    }
    Py_DECREF(held);
    Py_RETURN_NONE;
}
