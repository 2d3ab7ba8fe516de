/* Aho-Corasick automata for the C prefilter (prefilter.c): one per event key, over every
 * literal the bucket's rules need there, completed into a DFA over byte classes.
 *
 * A substring of UTF-8 text is found in its bytes exactly when it is a substring of the
 * text, so the automaton searches the UTF-8 bytes of a lowercased value (or the raw ASCII
 * text, its capitals read as small letters, when no literal has a capital).
 */
#include "automaton.h"

void *maat_zalloc(size_t count, size_t size) {
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
    int32_t *newid = maat_zalloc((size_t)ns, sizeof(int32_t));
    int32_t *keep = maat_zalloc((size_t)ns * 3, sizeof(int32_t));
    int32_t *row = maat_zalloc((size_t)ncls, sizeof(int32_t));
    uint8_t *done = maat_zalloc((size_t)ns, 1);
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

int maat_automaton_build(Automaton *a, PyObject *key, PyObject *literals, int32_t first_id) {
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
    a->empty = maat_zalloc((size_t)n, sizeof(int32_t));
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
    fail = maat_zalloc((size_t)ns, sizeof(int32_t));
    queue = maat_zalloc((size_t)ns, sizeof(int32_t));
    a->emit = maat_zalloc((size_t)ns, sizeof(int32_t));
    a->chain = maat_zalloc((size_t)ns, sizeof(int32_t));
    a->out_start = maat_zalloc((size_t)ns + 1, sizeof(int32_t));
    a->out_ids = maat_zalloc((size_t)n, sizeof(int32_t));
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

void maat_automaton_clear(Automaton *a) {
    Py_CLEAR(a->key);
    PyMem_Free(a->delta);
    PyMem_Free(a->emit);
    PyMem_Free(a->chain);
    PyMem_Free(a->out_start);
    PyMem_Free(a->out_ids);
    PyMem_Free(a->empty);
    a->delta = a->emit = a->chain = a->out_start = a->out_ids = a->empty = NULL;
}

/* ---- searching -------------------------------------------------------------------------- */

static inline void mark(Marks *marks, int32_t id) {
    if (marks->seen[id] != marks->gen) {
        marks->seen[id] = marks->gen;
        marks->found[marks->nfound++] = id;
    }
}

static void search(Marks *self, const Automaton *a, const unsigned char *p, Py_ssize_t n) {
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
static int search_text(Marks *self, const Automaton *a, PyObject *text) {
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

/* Search one value of value_of: a text, or a list's or tuple's items one by one. */
int maat_automaton_search_value(Marks *self, const Automaton *a, PyObject *value) {
    if (PyUnicode_Check(value)) return search_text(self, a, value);
    if (PyTuple_Check(value) || PyList_Check(value)) {
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(value); i++)
            if (search_text(self, a, PySequence_Fast_GET_ITEM(value, i)) < 0) return -1;
    }
    return 0;
}
