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
#include "native.h"

typedef struct {
    PyObject *key;      /* the event key */
    int ncls;           /* byte classes: 0 for bytes no literal has */
    uint8_t cls[256];
    int32_t nstates;
    int32_t *delta;     /* nstates * ncls: the completed automaton */
    int32_t *emit;      /* per state: the first state on its suffix chain ending a literal */
    int32_t *chain;     /* per state: the next such state after it, or -1 */
    int32_t *out_start; /* per state: its literal ids, out_ids[out_start[s] .. out_start[s+1]] */
    int32_t *out_ids;
    uint8_t starts[256]; /* bytes some literal starts with */
    uint64_t pairs[1024]; /* bit (b0 << 8 | b1): the two bytes begin a literal, or b0 is one */
    int fold;           /* ASCII capitals read as small letters */
    int32_t *empty;     /* ids of empty literals: found in any item */
    int32_t nempty;
} Automaton;

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
    uint32_t gen;                         /* marks of this call are == gen */
    uint32_t *lit_seen, *rule_seen;
    int32_t *found, *cands;
    int32_t nfound;
    PyObject *rules; /* what a rule index stands for: a tuple copy of the list the caller gave
                      * (the caller's list may change; an index into it would then read past
                      * its end) */
    int ready;       /* built whole: a Prefilter whose __init__ failed half way is never run */
} Prefilter;

static void *zalloc(size_t count, size_t size) {
    void *p = PyMem_Calloc(count ? count : 1, size);
    if (p == NULL) PyErr_NoMemory();
    return p;
}

/* ---- building --------------------------------------------------------------------------- */

/* The literal's UTF-8 bytes (lone surrogates as Python's surrogatepass writes them). */
static PyObject *utf8_of(PyObject *text) {
    return PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
}

/* Renumber the states of ``a`` in the breadth-first order ``queue`` (root first), in place
 * (a second table would double the peak memory of building), and give back the rows the
 * trie was allocated for and did not use. */
static int renumber(Automaton *a, int32_t ns, int ncls, const int32_t *queue, int32_t *term_head) {
    int32_t *newid = zalloc((size_t)ns, sizeof(int32_t));
    int32_t *keep = zalloc((size_t)ns * 3, sizeof(int32_t));
    int32_t *row = zalloc((size_t)ncls, sizeof(int32_t));
    uint8_t *done = zalloc((size_t)ns, 1);
    if (newid == NULL || keep == NULL || row == NULL || done == NULL) {
        PyMem_Free(newid);
        PyMem_Free(keep);
        PyMem_Free(row);
        PyMem_Free(done);
        return -1;
    }
    for (int32_t i = 0; i < ns - 1; i++) newid[queue[i]] = i + 1; /* every state but the root */
    /* 1. every move names its target's new number */
    for (size_t i = 0; i < (size_t)ns * (size_t)ncls; i++) a->delta[i] = newid[a->delta[i]];
    /* 2. each row to its new place, one cycle of the permutation at a time */
    for (int32_t start = 0; start < ns; start++) {
        if (done[start]) continue;
        memcpy(row, a->delta + (size_t)start * ncls, sizeof(int32_t) * (size_t)ncls);
        int32_t s = start;
        for (;;) {
            done[s] = 1;
            int32_t to = newid[s];
            /* the row at ``to`` is s's successor in the cycle: hold it, put s's there */
            int32_t *target = a->delta + (size_t)to * ncls;
            for (int c = 0; c < ncls; c++) {
                int32_t held = target[c];
                target[c] = row[c];
                row[c] = held;
            }
            if (done[to]) break;
            s = to;
        }
    }
    for (int32_t s = 0; s < ns; s++) {
        keep[newid[s]] = a->emit[s] < 0 ? -1 : newid[a->emit[s]];
        keep[ns + newid[s]] = a->chain[s] < 0 ? -1 : newid[a->chain[s]];
        keep[2 * ns + newid[s]] = term_head[s];
    }
    memcpy(a->emit, keep, sizeof(int32_t) * (size_t)ns);
    memcpy(a->chain, keep + ns, sizeof(int32_t) * (size_t)ns);
    memcpy(term_head, keep + 2 * ns, sizeof(int32_t) * (size_t)ns);
    int32_t *fitted = PyMem_Realloc(a->delta, sizeof(int32_t) * (size_t)ns * (size_t)ncls);
    if (fitted != NULL) a->delta = fitted;
    PyMem_Free(newid);
    PyMem_Free(keep);
    PyMem_Free(row);
    PyMem_Free(done);
    return 0;
}

static int build_automaton(Automaton *a, PyObject *key, PyObject *literals, int32_t first_id) {
    Py_ssize_t n = PyList_GET_SIZE(literals), total = 0;
    PyObject *bytes = PyList_New(n);
    int32_t *term_head = NULL, *term_next = NULL, *fail = NULL, *queue = NULL;
    int ok = -1;
    if (bytes == NULL) return -1;
    a->key = Py_NewRef(key);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PyList_GET_ITEM(literals, i);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "Prefilter literals are str");
            goto done;
        }
        PyObject *b = utf8_of(text);
        if (b == NULL) goto done;
        PyList_SET_ITEM(bytes, i, b);
        total += PyBytes_GET_SIZE(b);
    }
    /* 1. byte classes: one per byte some literal has, 0 for the rest; ASCII capitals in the
     * class of their small letter (the automaton then reads text as str.lower() would leave
     * its ASCII), unless a literal has a capital, which lowered text never matches */
    memset(a->cls, 0, sizeof a->cls);
    a->ncls = 1;
    a->fold = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(bytes, i);
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(b);
        for (Py_ssize_t j = 0; j < PyBytes_GET_SIZE(b); j++) {
            if (a->cls[p[j]] == 0) a->cls[p[j]] = (uint8_t)a->ncls++;
            if (p[j] >= 'A' && p[j] <= 'Z') a->fold = 0;
        }
    }
    if (a->ncls > 255) {
        PyErr_SetString(PyExc_ValueError, "too many distinct bytes in one key's literals");
        goto done;
    }
    if (a->fold)
        for (int c = 'A'; c <= 'Z'; c++) a->cls[c] = a->cls[c + 32];
    /* 2. the trie */
    Py_ssize_t cap = total + 1;
    int ncls = a->ncls;
    a->delta = PyMem_Malloc(sizeof(int32_t) * (size_t)cap * (size_t)ncls);
    term_head = PyMem_Malloc(sizeof(int32_t) * (size_t)cap);
    term_next = PyMem_Malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    a->empty = zalloc((size_t)n, sizeof(int32_t));
    if (a->delta == NULL || term_head == NULL || term_next == NULL || a->empty == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < cap * ncls; i++) a->delta[i] = -1;
    for (Py_ssize_t i = 0; i < cap; i++) term_head[i] = -1;
    a->nstates = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(bytes, i);
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(b);
        Py_ssize_t len = PyBytes_GET_SIZE(b);
        if (len == 0) {
            a->empty[a->nempty++] = first_id + (int32_t)i;
            continue;
        }
        int32_t s = 0;
        for (Py_ssize_t j = 0; j < len; j++) {
            int32_t *next = &a->delta[(size_t)s * ncls + a->cls[p[j]]];
            if (*next < 0) *next = a->nstates++;
            s = *next;
        }
        term_next[i] = term_head[s];
        term_head[s] = (int32_t)i;
    }
    /* 3. failure links, breadth first, completing every missing move */
    int32_t ns = a->nstates;
    if ((double)ns * ncls * 2 >= (double)INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many literals for one key's automaton");
        goto done;
    }
    fail = zalloc((size_t)ns, sizeof(int32_t));
    queue = zalloc((size_t)ns, sizeof(int32_t));
    a->emit = zalloc((size_t)ns, sizeof(int32_t));
    a->chain = zalloc((size_t)ns, sizeof(int32_t));
    a->out_start = zalloc((size_t)ns + 1, sizeof(int32_t));
    a->out_ids = zalloc((size_t)n, sizeof(int32_t));
    if (!fail || !queue || !a->emit || !a->chain || !a->out_start || !a->out_ids) goto done;
    int32_t head = 0, tail = 0;
    for (int c = 0; c < ncls; c++) {
        int32_t t = a->delta[c];
        if (t < 0) {
            a->delta[c] = 0;
        } else {
            fail[t] = 0;
            queue[tail++] = t;
        }
    }
    while (head < tail) {
        int32_t s = queue[head++];
        for (int c = 0; c < ncls; c++) {
            int32_t *t = &a->delta[(size_t)s * ncls + c];
            int32_t via = a->delta[(size_t)fail[s] * ncls + c];
            if (*t < 0) {
                *t = via;
            } else {
                fail[*t] = via;
                queue[tail++] = *t;
            }
        }
    }
    /* 4. outputs: each state's own literals, and the chain of shorter ones ending there */
    a->emit[0] = a->chain[0] = -1;
    for (int32_t i = 0; i < tail; i++) {
        int32_t s = queue[i], f = fail[s];
        int32_t suffix = term_head[f] >= 0 ? f : a->chain[f];
        if (f == 0) suffix = -1;
        a->chain[s] = suffix;
        a->emit[s] = term_head[s] >= 0 ? s : suffix;
    }
    /* 5. states renumbered breadth first: the shallow ones, where a search spends its time,
     * then share cache lines (in the order literals were added they are strewn over the
     * whole table) */
    if (renumber(a, ns, ncls, queue, term_head) < 0) goto done;
    /* 6. the moves, rewritten as (target row * 2) + 1 if the target ends a literal */
    for (Py_ssize_t i = 0; i < (Py_ssize_t)ns * ncls; i++) {
        int32_t t = a->delta[i];
        a->delta[i] = ((t * ncls) << 1) | (a->emit[t] >= 0);
    }
    for (int c = 0; c < 256; c++) a->starts[c] = a->cls[c] != 0 && a->delta[a->cls[c]] != 0;
    /* the pairs of bytes literals begin with, in every spelling their classes allow */
    memset(a->pairs, 0, sizeof a->pairs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(bytes, i);
        const unsigned char *lit = (const unsigned char *)PyBytes_AS_STRING(b);
        Py_ssize_t len = PyBytes_GET_SIZE(b);
        if (len == 0) continue;
        for (int x = 0; x < 256; x++) {
            if (a->cls[x] != a->cls[lit[0]]) continue;
            for (int y = 0; y < 256; y++)
                if (len == 1 || a->cls[y] == a->cls[lit[1]])
                    a->pairs[(x << 2) | (y >> 6)] |= (uint64_t)1 << (y & 63);
        }
    }
    int32_t at = 0;
    for (int32_t s = 0; s < ns; s++) {
        a->out_start[s] = at;
        for (int32_t i = term_head[s]; i >= 0; i = term_next[i]) a->out_ids[at++] = first_id + i;
    }
    a->out_start[ns] = at;
    ok = 0;
done:
    PyMem_Free(term_head);
    PyMem_Free(term_next);
    PyMem_Free(fail);
    PyMem_Free(queue);
    Py_DECREF(bytes);
    return ok;
}

/* A list of ints (indices below ``limit``) as a new int32 array. */
static int32_t *int_array(PyObject *list, Py_ssize_t *count, Py_ssize_t limit) {
    if (!PyList_Check(list) && !PyTuple_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "Prefilter expects lists of indices");
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(list);
    int32_t *out = zalloc((size_t)n, sizeof(int32_t));
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
    for (int k = 0; k < self->nkeys; k++) {
        Automaton *a = &self->keys[k];
        Py_XDECREF(a->key);
        PyMem_Free(a->delta);
        PyMem_Free(a->emit);
        PyMem_Free(a->chain);
        PyMem_Free(a->out_start);
        PyMem_Free(a->out_ids);
        PyMem_Free(a->empty);
    }
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
    PyMem_Free(self->lit_seen);
    PyMem_Free(self->rule_seen);
    PyMem_Free(self->found);
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
    self->keys = zalloc((size_t)self->nkeys, sizeof(Automaton));
    if (self->keys == NULL) return -1;
    int32_t next_id = 0;
    for (int k = 0; k < self->nkeys; k++) {
        PyObject *entry = PyList_GET_ITEM(keys, k), *key, *literals;
        if (!PyArg_ParseTuple(entry, "O!O!", &PyUnicode_Type, &key, &PyList_Type, &literals))
            return -1;
        if (build_automaton(&self->keys[k], key, literals, next_id) < 0) return -1;
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
    self->anchor_start = zalloc((size_t)self->nlits + 1, sizeof(int32_t));
    self->anchor_rules = zalloc((size_t)na, sizeof(int32_t));
    int32_t *pairs = zalloc((size_t)na * 2, sizeof(int32_t));
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
    int32_t *fill = zalloc((size_t)self->nlits + 1, sizeof(int32_t));
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
    self->clause_start = zalloc((size_t)self->nrules + 1, sizeof(int32_t));
    self->cgroup_start = zalloc((size_t)nclauses + 1, sizeof(int32_t));
    self->group_start = zalloc((size_t)ngroups + 1, sizeof(int32_t));
    self->group_lits = zalloc((size_t)nglits, sizeof(int32_t));
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
    self->veto_start = zalloc((size_t)self->nrules + 1, sizeof(int32_t));
    self->veto_lits = zalloc((size_t)nvetoes, sizeof(int32_t));
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
    self->lit_seen = zalloc((size_t)self->nlits, sizeof(uint32_t));
    self->rule_seen = zalloc((size_t)self->nrules, sizeof(uint32_t));
    self->found = zalloc((size_t)self->nlits, sizeof(int32_t));
    self->cands = zalloc((size_t)self->nrules, sizeof(int32_t));
    if (!self->lit_seen || !self->rule_seen || !self->found || !self->cands) return -1;
    self->ready = 1;
    return 0;
}

/* ---- searching -------------------------------------------------------------------------- */

static inline void mark(Prefilter *self, int32_t id) {
    if (self->lit_seen[id] != self->gen) {
        self->lit_seen[id] = self->gen;
        self->found[self->nfound++] = id;
    }
}

static void search(Prefilter *self, const Automaton *a, const unsigned char *p, Py_ssize_t n) {
    for (int32_t i = 0; i < a->nempty; i++) mark(self, a->empty[i]);
    const int32_t *delta = a->delta;
    const uint8_t *cls = a->cls;
    int32_t at = 0; /* the row of the current state, times two, plus one if it ends literals */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (at == 0) {
            /* at the start state, a byte that with the next does not begin a literal (nor
             * is one) leaves it there: skip such bytes without the dependent load */
            while (i + 1 < n && !(a->pairs[(p[i] << 2) | (p[i + 1] >> 6)] >> (p[i + 1] & 63) & 1))
                i++;
            if (i + 1 >= n && (i >= n || !a->starts[p[i]])) break;
        }
        at = delta[(at >> 1) + cls[p[i]]];
        if (at & 1) {
            int32_t s = (at >> 1) / a->ncls;
            for (int32_t e = a->emit[s]; e >= 0; e = a->chain[e])
                for (int32_t j = a->out_start[e]; j < a->out_start[e + 1]; j++)
                    mark(self, a->out_ids[j]);
        }
    }
}

/* Search one text (a str): the UTF-8 bytes of an event's lowered value, or its raw ASCII
 * text, whose capitals the automaton reads as small letters when it folds. Runs no Python
 * code. */
static int search_text(Prefilter *self, const Automaton *a, PyObject *text) {
    if (!PyUnicode_Check(text)) return 0; /* Python's lowered values are text */
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(text, &n);
    if (p != NULL) {
        search(self, a, (const unsigned char *)p, n);
        return 0;
    }
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
    PyErr_Clear(); /* a lone surrogate: searched as Python's surrogatepass bytes */
    PyObject *b = utf8_of(text);
    if (b == NULL) return -1;
    search(self, a, (const unsigned char *)PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return 0;
}

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

/* Search one value of value_of: a text, or a list's or tuple's items one by one. */
static int search_value(Prefilter *self, const Automaton *a, PyObject *value) {
    if (PyUnicode_Check(value)) return search_text(self, a, value);
    if (PyTuple_Check(value) || PyList_Check(value)) {
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(value); i++)
            if (search_text(self, a, PySequence_Fast_GET_ITEM(value, i)) < 0) return -1;
    }
    return 0;
}

static int by_index(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* Search ``values`` (one per automaton, NULL: none) and append to ``out`` the rules to run:
 * those always run or anchored by a literal found, one of whose clauses holds, and no veto
 * of which is found, in order. Runs no Python code, so no other call can interleave. */
static int choose(Prefilter *self, PyObject *const *values, PyObject *out) {
    if (++self->gen == 0) { /* wrapped: forget every old mark */
        memset(self->lit_seen, 0, sizeof(uint32_t) * (size_t)self->nlits);
        memset(self->rule_seen, 0, sizeof(uint32_t) * (size_t)self->nrules);
        self->gen = 1;
    }
    self->nfound = 0;
    for (int k = 0; k < self->nkeys; k++)
        if (values[k] != NULL && search_value(self, &self->keys[k], values[k]) < 0) return -1;
    int32_t ncands = 0;
    uint32_t gen = self->gen;
    for (int32_t i = 0; i < self->nalways; i++) {
        int32_t r = self->always[i];
        if (self->rule_seen[r] != gen) {
            self->rule_seen[r] = gen;
            self->cands[ncands++] = r;
        }
    }
    for (int32_t i = 0; i < self->nfound; i++) {
        int32_t id = self->found[i];
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
                    if (self->lit_seen[self->group_lits[j]] == gen) {
                        any = 1;
                        break;
                    }
                holds = any;
            }
            passed = holds;
        }
        for (int32_t j = self->veto_start[r]; j < self->veto_start[r + 1] && passed; j++)
            if (self->lit_seen[self->veto_lits[j]] == gen) passed = 0;
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
