/* maat._native.Prefilter: which of a bucket's Sigma rules an event can match, by literals.
 *
 * The twin of the Python prefilter in maat.detect.sigma (_Bucket / _match_bucket), which
 * stays the reference: an event's lowercased values are searched for every literal a rule
 * needs, and the rules returned are those that are always run, or own a literal found
 * (their anchor), one of whose clauses holds (each group of it has a literal found: the
 * finer form of Python's confirm groups, clauses_of). A rule whose veto is
 * found (a substring test under a NOT it requires: Python's vetoes_of) is not returned: it
 * cannot match. The rules' own tests then run in Python on these candidates only.
 *
 * One Aho-Corasick automaton per event key, completed into a DFA over byte classes, searches
 * the UTF-8 bytes of the lowercased value once for all its literals (a substring of UTF-8
 * text is found in its bytes exactly when it is a substring of the text). List values and
 * keyword pseudo-keys are searched item by item, as Python does.
 */
#include "automaton.h"

typedef struct {
    PyObject_HEAD
    int nkeys;
    Automaton *keys;
    int32_t nlits, nrules, nalways;
    int32_t *anchor_start, *anchor_rules; /* literal id -> the rules it anchors */
    int32_t *always;
    int32_t *clause_start;                /* rule -> its clauses */
    int32_t *cgroup_start;                /* clause -> its groups */
    int32_t *group_start, *group_lits;    /* group -> its literal ids */
    int32_t *veto_start, *veto_lits;      /* rule -> literal ids that prove it false */
    Marks marks;                          /* the literals found by this call */
    uint32_t *rule_seen;                  /* rules taken by this call are == marks.gen */
    int32_t *cands;
    PyObject *rules; /* what a rule index stands for: a tuple copy of the list the caller gave
                      * (the caller's list may change; an index into it would then read past
                      * its end) */
    int ready;       /* built whole: a Prefilter whose __init__ failed half way is never run */
} Prefilter;

/* A list of ints (indices below ``limit``) as a new int32 array. */
static int32_t *int_array(PyObject *list, Py_ssize_t *count, Py_ssize_t limit) {
    if (!PyList_Check(list) && !PyTuple_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "Prefilter expects lists of indices");
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(list);
    int32_t *out = maat_zalloc((size_t)n, sizeof(int32_t));
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* ints only: another object's __index__ is Python code, which could resize the
         * lists being read (the clauses are counted in one pass and copied in another) */
        PyObject *item = PySequence_Fast_GET_ITEM(list, i);
        if (!PyLong_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "Prefilter indices are ints");
            goto bad;
        }
        long v = PyLong_AsLong(item);
        if (v == -1 && PyErr_Occurred()) goto bad;
        if (v < 0 || v >= limit) {
            PyErr_SetString(PyExc_ValueError, "Prefilter index out of range");
            goto bad;
        }
        out[i] = (int32_t)v;
    }
    *count = n;
    return out;
bad:
    PyMem_Free(out);
    return NULL;
}

static void prefilter_dealloc(Prefilter *self) {
    for (int k = 0; k < self->nkeys && self->keys != NULL; k++)
        maat_automaton_clear(&self->keys[k]);
    PyMem_Free(self->keys);
    PyMem_Free(self->anchor_start);
    PyMem_Free(self->anchor_rules);
    PyMem_Free(self->always);
    PyMem_Free(self->clause_start);
    PyMem_Free(self->cgroup_start);
    PyMem_Free(self->group_start);
    PyMem_Free(self->group_lits);
    PyMem_Free(self->veto_start);
    PyMem_Free(self->veto_lits);
    PyMem_Free(self->marks.seen);
    PyMem_Free(self->rule_seen);
    PyMem_Free(self->marks.found);
    PyMem_Free(self->cands);
    Py_XDECREF(self->rules);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Prefilter(keys, anchors, always, clauses, vetoes, rules): ``keys`` [(key, [literal, ...]),
 * ...] numbers the literals in order from 0; ``anchors`` [(literal id, rule index), ...];
 * ``always`` [rule index, ...]; ``clauses``, one entry per rule: one or more alternatives,
 * each a list of groups, each a list of literal ids (a clause holds when each of its groups
 * has a literal found; an empty clause always holds); ``vetoes``, one entry per rule:
 * literal ids any one of which, found, proves the rule false; ``rules``: what each rule
 * index stands for, returned by a call. */
static int prefilter_init(Prefilter *self, PyObject *args, PyObject *kwargs) {
    PyObject *keys, *anchors, *always, *clauses, *vetoes, *rules;
    static char *names[] = {"keys", "anchors", "always", "clauses", "vetoes", "rules", NULL};
    if (self->keys != NULL || self->rules != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Prefilter is built once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!O!O!", names, &PyList_Type, &keys,
                                     &PyList_Type, &anchors, &PyList_Type, &always,
                                     &PyList_Type, &clauses, &PyList_Type, &vetoes,
                                     &PyList_Type, &rules))
        return -1;
    if (PyList_GET_SIZE(rules) != PyList_GET_SIZE(clauses) ||
        PyList_GET_SIZE(rules) != PyList_GET_SIZE(vetoes)) {
        PyErr_SetString(PyExc_ValueError, "Prefilter: one clauses and one vetoes entry per rule");
        return -1;
    }
    self->rules = PyList_AsTuple(rules);
    if (self->rules == NULL) return -1;
    self->nkeys = (int)PyList_GET_SIZE(keys);
    self->keys = maat_zalloc((size_t)self->nkeys, sizeof(Automaton));
    if (self->keys == NULL) return -1;
    int32_t next_id = 0;
    for (int k = 0; k < self->nkeys; k++) {
        PyObject *entry = PyList_GET_ITEM(keys, k), *key, *literals;
        if (!PyArg_ParseTuple(entry, "O!O!", &PyUnicode_Type, &key, &PyList_Type, &literals))
            return -1;
        if (maat_automaton_build(&self->keys[k], key, literals, next_id) < 0) return -1;
        next_id += (int32_t)PyList_GET_SIZE(literals);
    }
    self->nlits = next_id;
    self->nrules = (int32_t)PyList_GET_SIZE(clauses);
    Py_ssize_t count;
    self->always = int_array(always, &count, self->nrules);
    if (self->always == NULL) return -1;
    self->nalways = (int32_t)count;
    /* anchors, as literal id -> rules */
    Py_ssize_t na = PyList_GET_SIZE(anchors);
    self->anchor_start = maat_zalloc((size_t)self->nlits + 1, sizeof(int32_t));
    self->anchor_rules = maat_zalloc((size_t)na, sizeof(int32_t));
    int32_t *pairs = maat_zalloc((size_t)na * 2, sizeof(int32_t));
    if (!self->anchor_start || !self->anchor_rules || !pairs) {
        PyMem_Free(pairs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < na; i++) {
        int32_t *pair = int_array(PyList_GET_ITEM(anchors, i), &count,
                                  self->nlits > self->nrules ? self->nlits : self->nrules);
        if (pair == NULL || count != 2 || pair[0] >= self->nlits || pair[1] >= self->nrules) {
            if (pair != NULL && !PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "an anchor is (literal id, rule)");
            PyMem_Free(pair);
            PyMem_Free(pairs);
            return -1;
        }
        pairs[2 * i] = pair[0];
        pairs[2 * i + 1] = pair[1];
        self->anchor_start[pair[0] + 1]++;
        PyMem_Free(pair);
    }
    for (int32_t i = 0; i < self->nlits; i++) self->anchor_start[i + 1] += self->anchor_start[i];
    int32_t *fill = maat_zalloc((size_t)self->nlits + 1, sizeof(int32_t));
    if (fill == NULL) {
        PyMem_Free(pairs);
        return -1;
    }
    memcpy(fill, self->anchor_start, sizeof(int32_t) * ((size_t)self->nlits + 1));
    for (Py_ssize_t i = 0; i < na; i++) self->anchor_rules[fill[pairs[2 * i]]++] = pairs[2 * i + 1];
    PyMem_Free(fill);
    PyMem_Free(pairs);
    /* clauses, as rule -> clauses -> groups -> literal ids */
    Py_ssize_t nclauses = 0, ngroups = 0, nglits = 0;
    for (int32_t r = 0; r < self->nrules; r++) {
        PyObject *alternatives = PyList_GET_ITEM(clauses, r);
        if (!PyList_Check(alternatives) || PyList_GET_SIZE(alternatives) == 0) {
            PyErr_SetString(PyExc_TypeError, "a rule's clauses are a list of one or more");
            return -1;
        }
        nclauses += PyList_GET_SIZE(alternatives);
        for (Py_ssize_t c = 0; c < PyList_GET_SIZE(alternatives); c++) {
            PyObject *groups = PyList_GET_ITEM(alternatives, c);
            if (!PyList_Check(groups)) {
                PyErr_SetString(PyExc_TypeError, "a clause is a list of groups");
                return -1;
            }
            ngroups += PyList_GET_SIZE(groups);
            for (Py_ssize_t g = 0; g < PyList_GET_SIZE(groups); g++) {
                PyObject *group = PyList_GET_ITEM(groups, g);
                if (!PyList_Check(group)) {
                    PyErr_SetString(PyExc_TypeError, "a group is a list of literal ids");
                    return -1;
                }
                nglits += PyList_GET_SIZE(group);
            }
        }
    }
    self->clause_start = maat_zalloc((size_t)self->nrules + 1, sizeof(int32_t));
    self->cgroup_start = maat_zalloc((size_t)nclauses + 1, sizeof(int32_t));
    self->group_start = maat_zalloc((size_t)ngroups + 1, sizeof(int32_t));
    self->group_lits = maat_zalloc((size_t)nglits, sizeof(int32_t));
    if (!self->clause_start || !self->cgroup_start || !self->group_start || !self->group_lits)
        return -1;
    int32_t c_at = 0, g_at = 0, l_at = 0;
    for (int32_t r = 0; r < self->nrules; r++) {
        PyObject *alternatives = PyList_GET_ITEM(clauses, r);
        self->clause_start[r] = c_at;
        for (Py_ssize_t c = 0; c < PyList_GET_SIZE(alternatives); c++) {
            PyObject *groups = PyList_GET_ITEM(alternatives, c);
            if (c_at >= nclauses) { /* counted above: the lists cannot change in between (no
                                     * Python code runs), checked all the same */
                PyErr_SetString(PyExc_RuntimeError, "Prefilter clauses changed while read");
                return -1;
            }
            self->cgroup_start[c_at++] = g_at;
            for (Py_ssize_t g = 0; g < PyList_GET_SIZE(groups); g++) {
                int32_t *ids = int_array(PyList_GET_ITEM(groups, g), &count, self->nlits);
                if (ids == NULL) return -1;
                if (g_at >= ngroups || l_at + count > nglits) {
                    PyMem_Free(ids); /* the lists changed between the two passes */
                    PyErr_SetString(PyExc_RuntimeError, "Prefilter clauses changed while read");
                    return -1;
                }
                self->group_start[g_at++] = l_at;
                memcpy(self->group_lits + l_at, ids, sizeof(int32_t) * (size_t)count);
                l_at += (int32_t)count;
                PyMem_Free(ids);
            }
        }
    }
    self->clause_start[self->nrules] = c_at;
    self->cgroup_start[c_at] = g_at;
    self->group_start[g_at] = l_at;
    /* vetoes, as rule -> literal ids */
    Py_ssize_t nvetoes = 0;
    for (int32_t r = 0; r < self->nrules; r++) {
        PyObject *ids = PyList_GET_ITEM(vetoes, r);
        if (!PyList_Check(ids)) {
            PyErr_SetString(PyExc_TypeError, "a rule's vetoes are a list");
            return -1;
        }
        nvetoes += PyList_GET_SIZE(ids);
    }
    self->veto_start = maat_zalloc((size_t)self->nrules + 1, sizeof(int32_t));
    self->veto_lits = maat_zalloc((size_t)nvetoes, sizeof(int32_t));
    if (!self->veto_start || !self->veto_lits) return -1;
    int32_t v_at = 0;
    for (int32_t r = 0; r < self->nrules; r++) {
        int32_t *ids = int_array(PyList_GET_ITEM(vetoes, r), &count, self->nlits);
        if (ids == NULL) return -1;
        if (v_at + count > nvetoes) {
            PyMem_Free(ids);
            PyErr_SetString(PyExc_RuntimeError, "Prefilter vetoes changed while read");
            return -1;
        }
        self->veto_start[r] = v_at;
        memcpy(self->veto_lits + v_at, ids, sizeof(int32_t) * (size_t)count);
        v_at += (int32_t)count;
        PyMem_Free(ids);
    }
    self->veto_start[self->nrules] = v_at;
    self->marks.seen = maat_zalloc((size_t)self->nlits, sizeof(uint32_t));
    self->rule_seen = maat_zalloc((size_t)self->nrules, sizeof(uint32_t));
    self->marks.found = maat_zalloc((size_t)self->nlits, sizeof(int32_t));
    self->cands = maat_zalloc((size_t)self->nrules, sizeof(int32_t));
    if (!self->marks.seen || !self->rule_seen || !self->marks.found || !self->cands) return -1;
    self->ready = 1;
    return 0;
}

/* ---- searching -------------------------------------------------------------------------- */

/* What to search for automaton ``a`` in ``event``: a new reference in ``*value`` (the raw
 * text itself when it is ASCII and the automaton folds capitals, else ``low[key]``, made by
 * make_low(event) the first time one is read when ``*low`` is NULL), or NULL when the event
 * has no such field; -1 with an error. This may run Python code (make_low, ``low``'s
 * __missing__, a value's __str__), during which another match can run on this Prefilter:
 * from this thread, or from another one the interpreter switches to. */
static int value_of(const Automaton *a, PyObject *event, PyObject **low, PyObject *make_low,
                    PyObject **value) {
    PyObject *key = a->key;
    *value = NULL;
    if (PyUnicode_GET_LENGTH(key) == 0 || PyUnicode_READ_CHAR(key, 0) != 0) {
        /* a field: absent, nothing to search (keywords' pseudo-keys are always there) */
        PyObject *raw = PyDict_GetItemWithError(event, key);
        if (raw == NULL) return PyErr_Occurred() ? -1 : 0;
        if (a->fold && PyUnicode_CheckExact(raw) && PyUnicode_IS_ASCII(raw)) {
            /* the common case: ASCII text, its capitals read as small letters */
            *value = Py_NewRef(raw);
            return 0;
        }
    }
    /* anything else as the matchers see it: low[key] (computed once, in Python) */
    if (*low == NULL) {
        if (make_low == NULL) {
            PyErr_SetString(PyExc_TypeError, "Prefilter: no lowered values");
            return -1;
        }
        *low = PyObject_CallOneArg(make_low, event);
        if (*low == NULL) return -1;
    }
    *value = PyObject_GetItem(*low, key);
    return *value == NULL ? -1 : 0;
}

static int by_index(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* Search ``values`` (one per automaton, NULL: none) and append to ``out`` the rules to run:
 * those always run or anchored by a literal found, one of whose clauses holds, and no veto
 * of which is found, in order. Runs no Python code, so no other call can interleave. */
static int choose(Prefilter *self, PyObject *const *values, PyObject *out) {
    if (++self->marks.gen == 0) { /* wrapped: forget every old mark */
        memset(self->marks.seen, 0, sizeof(uint32_t) * (size_t)self->nlits);
        memset(self->rule_seen, 0, sizeof(uint32_t) * (size_t)self->nrules);
        self->marks.gen = 1;
    }
    self->marks.nfound = 0;
    for (int k = 0; k < self->nkeys; k++)
        if (values[k] != NULL && maat_automaton_search_value(&self->marks, &self->keys[k], values[k]) < 0) return -1;
    int32_t ncands = 0;
    uint32_t gen = self->marks.gen;
    for (int32_t i = 0; i < self->nalways; i++) {
        int32_t r = self->always[i];
        if (self->rule_seen[r] != gen) {
            self->rule_seen[r] = gen;
            self->cands[ncands++] = r;
        }
    }
    for (int32_t i = 0; i < self->marks.nfound; i++) {
        int32_t id = self->marks.found[i];
        for (int32_t j = self->anchor_start[id]; j < self->anchor_start[id + 1]; j++) {
            int32_t r = self->anchor_rules[j];
            if (self->rule_seen[r] != gen) {
                self->rule_seen[r] = gen;
                self->cands[ncands++] = r;
            }
        }
    }
    if (ncands > 1) qsort(self->cands, (size_t)ncands, sizeof(int32_t), by_index);
    for (int32_t i = 0; i < ncands; i++) {
        int32_t r = self->cands[i];
        int passed = 0; /* some clause holds: each of its groups has a literal found */
        for (int32_t c = self->clause_start[r]; c < self->clause_start[r + 1] && !passed; c++) {
            int holds = 1;
            for (int32_t g = self->cgroup_start[c]; g < self->cgroup_start[c + 1] && holds; g++) {
                int any = 0;
                for (int32_t j = self->group_start[g]; j < self->group_start[g + 1]; j++)
                    if (self->marks.seen[self->group_lits[j]] == gen) {
                        any = 1;
                        break;
                    }
                holds = any;
            }
            passed = holds;
        }
        for (int32_t j = self->veto_start[r]; j < self->veto_start[r + 1] && passed; j++)
            if (self->marks.seen[self->veto_lits[j]] == gen) passed = 0;
        if (passed && PyList_Append(out, PyTuple_GET_ITEM(self->rules, r)) < 0) return -1;
    }
    return 0;
}

/* Append to ``out`` the rules to run on ``event`` (those always run or anchored by a
 * literal found, one of whose clauses holds, and no veto of which is found), in order. */
int maat_prefilter_run(PyObject *prefilter, PyObject *event, PyObject **low, PyObject *make_low,
                       PyObject *out) {
    Prefilter *self = (Prefilter *)prefilter;
    if (!self->ready) {
        PyErr_SetString(PyExc_TypeError, "Prefilter was not built");
        return -1;
    }
    /* 1. the values to search, first: reading them may run Python code, and with it another
     * match on this Prefilter (the marks below are this object's, shared by its calls) */
    PyObject *stack[32], **values = stack;
    if (self->nkeys > 32) {
        values = PyMem_Calloc((size_t)self->nkeys, sizeof(PyObject *));
        if (values == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int status = 0, got = 0;
    for (; got < self->nkeys; got++) {
        if (value_of(&self->keys[got], event, low, make_low, &values[got]) < 0) {
            status = -1;
            break;
        }
    }
    /* 2. then the search, the marks and the choice, which run no Python code (the values
     * are let go only after): no other match can start on this Prefilter until they are
     * done */
    if (status == 0) status = choose(self, values, out);
    for (int k = 0; k < got; k++) Py_XDECREF(values[k]);
    if (values != stack) PyMem_Free(values);
    return status;
}

/* prefilter(event, low) -> [rule, ...]: the rules to run, in order */
static PyObject *prefilter_call(Prefilter *self, PyObject *args, PyObject *kwargs) {
    PyObject *event, *low;
    static char *names[] = {"event", "low", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O", names, &PyDict_Type, &event, &low))
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    if (maat_prefilter_run((PyObject *)self, event, &low, NULL, out) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

PyTypeObject maat_prefilter_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "maat._native.Prefilter",
    .tp_basicsize = sizeof(Prefilter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Prefilter(keys, anchors, always, clauses, vetoes, rules); call with (event, "
              "low): the rules to run, in order",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)prefilter_init,
    .tp_dealloc = (destructor)prefilter_dealloc,
    .tp_call = (ternaryfunc)prefilter_call,
};
