/* maat._native.Router: the rules to run on a Windows event, from its channel and event id.
 *
 * The twin of Engine.match's first half in Python (event_route_keys, then each bucket's
 * prefilter), which stays the reference: a Windows event (text winlog.channel, whole-number
 * winlog.event_id) is indexed under (lowered channel, event id) and (lowered channel, None),
 * and the rules to run are those of the two buckets' prefilters, in that order. Any other
 * event, and the (channel, id) pairs Python routes further (Security 4663 on a file), get
 * None: Python routes them.
 */
#include "native.h"

#define MAX_CHANNELS 4096 /* channel spellings come from the input */

typedef struct {
    PyObject_HEAD
    PyObject *table;    /* lowered channel -> {event id | None -> Prefilter} */
    PyObject *special;  /* lowered channel -> frozenset of event ids: Python routes these */
    PyObject *lowered;  /* channel as sent -> lowered */
    PyObject *channel_key, *event_id_key;
    PyObject *make_low; /* callable(event) -> its lowered values, when a key needs them */
    int ready;          /* built whole: a Router whose __init__ failed half way is never run */
} Router;

static void router_dealloc(Router *self) {
    Py_XDECREF(self->table);
    Py_XDECREF(self->special);
    Py_XDECREF(self->lowered);
    Py_XDECREF(self->channel_key);
    Py_XDECREF(self->event_id_key);
    Py_XDECREF(self->make_low);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Router(buckets, special, make_low): ``buckets`` {(route key, event id | None): Prefilter},
 * ``special`` {lowered channel: frozenset of event ids} to leave to Python, ``make_low`` what
 * makes an event's lowered values (for a value the C path does not lower itself). */
static int router_init(Router *self, PyObject *args, PyObject *kwargs) {
    PyObject *buckets, *special, *make_low;
    static char *names[] = {"buckets", "special", "make_low", NULL};
    if (self->table != NULL || self->make_low != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Router is built once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O", names, &PyDict_Type, &buckets,
                                     &PyDict_Type, &special, &make_low))
        return -1;
    self->make_low = Py_NewRef(make_low);
    self->table = PyDict_New();
    self->lowered = PyDict_New();
    self->special = Py_NewRef(special);
    self->channel_key = PyUnicode_InternFromString("winlog.channel");
    self->event_id_key = PyUnicode_InternFromString("winlog.event_id");
    if (!self->table || !self->lowered || !self->channel_key || !self->event_id_key) return -1;
    PyObject *key, *prefilter;
    Py_ssize_t at = 0;
    while (PyDict_Next(buckets, &at, &key, &prefilter)) {
        if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2 ||
            !PyObject_TypeCheck(prefilter, &maat_prefilter_type)) {
            PyErr_SetString(PyExc_TypeError, "Router buckets are {(key, id | None): Prefilter}");
            return -1;
        }
        PyObject *inner = PyDict_GetItemWithError(self->table, PyTuple_GET_ITEM(key, 0));
        if (inner == NULL) {
            if (PyErr_Occurred()) return -1;
            inner = PyDict_New();
            if (inner == NULL) return -1;
            int bad = PyDict_SetItem(self->table, PyTuple_GET_ITEM(key, 0), inner);
            Py_DECREF(inner);
            if (bad < 0) return -1;
        }
        if (PyDict_SetItem(inner, PyTuple_GET_ITEM(key, 1), prefilter) < 0) return -1;
    }
    self->ready = 1;
    return 0;
}

/* router(event) -> [rule, ...] | None (None: route it in Python) */
static PyObject *route(Router *self, PyObject *event);

static PyObject *router_call(Router *self, PyObject *args, PyObject *kwargs) {
    PyObject *event;
    static char *names[] = {"event", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!", names, &PyDict_Type, &event))
        return NULL;
    if (!self->ready) { /* a half-built table would hold back the rules of its missing buckets */
        PyErr_SetString(PyExc_TypeError, "Router was not built");
        return NULL;
    }
    return route(self, event);
}

/* router.many(events) -> (indices, found): for each event with rules to run or for Python to
 * route, its index and those rules (None: route it in Python); events with nothing to run
 * are left out. One call per batch instead of one per event. */
static PyObject *router_many(Router *self, PyObject *events) {
    if (!self->ready) {
        PyErr_SetString(PyExc_TypeError, "Router was not built");
        return NULL;
    }
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "Router.many takes a list of events");
        return NULL;
    }
    PyObject *indices = PyList_New(0), *found = PyList_New(0);
    if (indices == NULL || found == NULL) goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(events); i++) {
        PyObject *event = PyList_GET_ITEM(events, i);
        Py_INCREF(event); /* the list may change under Python code a lookup runs */
        PyObject *rules = PyDict_CheckExact(event) ? route(self, event) : Py_NewRef(Py_None);
        Py_DECREF(event);
        if (rules == NULL) goto fail;
        if (rules != Py_None && PyList_GET_SIZE(rules) == 0) {
            Py_DECREF(rules);
            continue;
        }
        PyObject *at = PyLong_FromSsize_t(i);
        int bad = at == NULL || PyList_Append(indices, at) < 0 || PyList_Append(found, rules) < 0;
        Py_XDECREF(at);
        Py_DECREF(rules);
        if (bad) goto fail;
    }
    PyObject *result = PyTuple_Pack(2, indices, found);
    Py_DECREF(indices);
    Py_DECREF(found);
    return result;
fail:
    Py_XDECREF(indices);
    Py_XDECREF(found);
    return NULL;
}

static PyMethodDef router_methods[] = {
    {"many", (PyCFunction)router_many, METH_O,
     "many(events) -> (indices, found): the rules to run on each event that has some"},
    {NULL, NULL, 0, NULL}};

/* The rules to run on one event, or None (route it in Python). */
static PyObject *route(Router *self, PyObject *event) {
    PyObject *low = NULL;
    /* 1. a Windows event: text channel, whole-number event id (bool is not one) */
    PyObject *channel = PyDict_GetItemWithError(event, self->channel_key);
    if (channel == NULL || !PyUnicode_CheckExact(channel)) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *id = PyDict_GetItemWithError(event, self->event_id_key);
    if (id == NULL || !PyLong_CheckExact(id)) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    /* 2. the channel lowered, as str.lower() does (kept per spelling, up to a bound) */
    PyObject *lowered = PyDict_GetItemWithError(self->lowered, channel), *owned = NULL;
    if (lowered == NULL) {
        if (PyErr_Occurred()) return NULL;
        lowered = owned = PyObject_CallMethod(channel, "lower", NULL);
        if (owned == NULL) return NULL;
        if (PyDict_GET_SIZE(self->lowered) < MAX_CHANNELS &&
            PyDict_SetItem(self->lowered, channel, owned) < 0) {
            Py_DECREF(owned);
            return NULL;
        }
    }
    /* 3. the pairs Python routes further */
    PyObject *out = NULL, *skip = PyDict_GetItemWithError(self->special, lowered);
    if (skip == NULL && PyErr_Occurred()) goto fail;
    int special = skip != NULL ? PySequence_Contains(skip, id) : 0;
    if (special < 0) goto fail;
    if (special) {
        Py_XDECREF(owned);
        Py_RETURN_NONE;
    }
    /* 4. the two buckets' rules, (channel, id) first */
    out = PyList_New(0);
    if (out == NULL) goto fail;
    PyObject *inner = PyDict_GetItemWithError(self->table, lowered);
    if (inner == NULL) {
        if (PyErr_Occurred()) goto fail;
        Py_XDECREF(owned);
        return out;
    }
    PyObject *ids[2] = {id, Py_None};
    for (int i = 0; i < 2; i++) {
        PyObject *prefilter = PyDict_GetItemWithError(inner, ids[i]);
        if (prefilter == NULL) {
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        if (maat_prefilter_run(prefilter, event, &low, self->make_low, out) < 0) goto fail;
    }
    Py_XDECREF(owned);
    Py_XDECREF(low);
    return out;
fail:
    Py_XDECREF(owned);
    Py_XDECREF(low);
    Py_XDECREF(out);
    return NULL;
}

PyTypeObject maat_router_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "maat._native.Router",
    .tp_basicsize = sizeof(Router),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Router(buckets, special, make_low); call with (event): the rules to run, or None",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)router_init,
    .tp_dealloc = (destructor)router_dealloc,
    .tp_call = (ternaryfunc)router_call,
    .tp_methods = router_methods,
};
