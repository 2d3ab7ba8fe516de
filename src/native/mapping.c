/* The ECS mapping of one kind of Windows event, run from a plan Python made of its Spec.
 *
 * The twin of windows_mapping.compile_spec (the reference, in Python): the same steps in the
 * same order. A plan is the tuple windows_mapping.plan_of() builds:
 *
 *   (lists ((key, list), ...) for category and type, ((key, value), ...) for action, kind
 *    and outcome, strings ((source, target), ...), ints ((source, target, name), ...),
 *    names ((source, target), ...), maps ((source, target, dict), ...),
 *    constants ((target, value), ...), extras (callable(event) or a step C runs, ...), to_int)
 *
 * The steps C runs itself (windows_mapping.user and file_fields, the most frequent) come as
 * (STEP_USER, callable, key, name_key, domain_key) and (STEP_FILE, callable, key); a value
 * that is not exactly text runs the callable, the Python step.
 *
 * A value that is not text where text is read makes the caller decline the line (-2), and
 * Python reads it. An error an extra step or to_int raises is returned as -1.
 */
#include "native.h"

enum { P_LISTS, P_SCALARS, P_STRINGS, P_INTS, P_NAMES, P_MAPS, P_CONSTANTS,
       P_EXTRAS, P_TO_INT, P_SIZE };

/* out[source] when it is text with a value ("" and "-" are none in Windows events): a
 * borrowed reference; NULL for none; DECLINE_VALUE for a value that is not text. */
#define DECLINE_VALUE ((PyObject *)1)
static PyObject *text_at(PyObject *out, PyObject *source, int dash_is_none) {
    PyObject *v = PyDict_GetItemWithError(out, source);
    if (v == NULL) return NULL;
    if (!PyUnicode_CheckExact(v)) return v == Py_None ? NULL : DECLINE_VALUE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    if (n == 0) return NULL;
    if (dash_is_none && n == 1 && PyUnicode_READ_CHAR(v, 0) == '-') return NULL;
    return v;
}

/* v = the text at source in out; no text: the next step; not text: decline; an error: -1 */
#define TEXT_OR_SKIP(v, out, source, dash_is_none)                                            \
    v = text_at((out), (source), (dash_is_none));                                              \
    if (v == DECLINE_VALUE) return -2;                                                         \
    if (v == NULL) {                                                                           \
        if (PyErr_Occurred()) return -1;                                                       \
        continue;                                                                              \
    }

enum { STEP_USER = 1, STEP_FILE = 2 };
static PyObject *s_file_path, *s_file_name, *s_file_directory, *s_file_extension;

/* The tag of a step C runs (STEP_USER, STEP_FILE) when ``step`` is a well-formed one, else 0 */
static long native_step(PyObject *step) {
    if (!PyTuple_CheckExact(step) || PyTuple_GET_SIZE(step) < 3) return 0;
    PyObject *tag = PyTuple_GET_ITEM(step, 0);
    if (!PyLong_CheckExact(tag) || !PyCallable_Check(PyTuple_GET_ITEM(step, 1))) return 0;
    long kind = PyLong_AsLong(tag);
    Py_ssize_t size = kind == STEP_USER ? 5 : kind == STEP_FILE ? 3 : -1;
    if (PyTuple_GET_SIZE(step) != size) return 0;
    for (Py_ssize_t i = 2; i < size; i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(step, i))) return 0;
    return kind;
}

/* The position of a path's last separator ('\\' or '/'), -1 for none, -2 with an error:
 * max(path.rfind("\\"), path.rfind("/")), as the names step and file_fields read it. */
static Py_ssize_t last_separator(PyObject *path, Py_ssize_t n) {
    Py_ssize_t back = PyUnicode_FindChar(path, '\\', 0, n, -1);
    if (back == -2) return -2;
    Py_ssize_t slash = PyUnicode_FindChar(path, '/', back + 1, n, -1);
    if (slash == -2) return -2;
    return slash > back ? slash : back;
}

static int set_substring(PyObject *out, PyObject *key, PyObject *text, Py_ssize_t start,
                         Py_ssize_t end) {
    PyObject *part = PyUnicode_Substring(text, start, end);
    if (part == NULL) return -1;
    int bad = PyDict_SetItem(out, key, part);
    Py_DECREF(part);
    return bad;
}

/* windows_mapping.user's step: "DOMAIN\\name" (or a bare name) into name and domain. */
static int user_step(PyObject *step, PyObject *value, PyObject *out) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    if (n == 0 || (n == 1 && PyUnicode_READ_CHAR(value, 0) == '-')) return 0;
    PyObject *name_key = PyTuple_GET_ITEM(step, 3), *domain_key = PyTuple_GET_ITEM(step, 4);
    Py_ssize_t cut = PyUnicode_FindChar(value, '\\', 0, n, 1);
    if (cut == -2) return -1;
    if (cut == -1) return PyDict_SetItem(out, name_key, value);
    if (cut > 0 && set_substring(out, domain_key, value, 0, cut) < 0) return -1;
    return set_substring(out, name_key, value, cut + 1, n);
}

/* windows_mapping.file_fields' step: a path into file.path, .name, .directory, .extension */
static int file_step(PyObject *path, PyObject *out) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(path);
    if (n == 0 || (n == 1 && PyUnicode_READ_CHAR(path, 0) == '-')) return 0;
    Py_ssize_t cut = last_separator(path, n);
    if (cut == -2) return -1;
    if (PyDict_SetItem(out, s_file_path, path) < 0) return -1;
    PyObject *name = PyUnicode_Substring(path, cut + 1, n);
    if (name == NULL) return -1;
    int bad = PyDict_SetItem(out, s_file_name, name);
    if (!bad && cut > 0) bad = set_substring(out, s_file_directory, path, 0, cut);
    Py_ssize_t size = PyUnicode_GET_LENGTH(name);
    Py_ssize_t dot = bad ? -1 : PyUnicode_FindChar(name, '.', 0, size, -1);
    if (dot == -2) bad = -1;
    if (!bad && dot > 0 && dot < size - 1)  // a stem and an extension
        bad = set_substring(out, s_file_extension, name, dot + 1, size);
    Py_DECREF(name);
    return bad;
}

/* One extra step: C's own, or the Python callable. */
static int run_extra(PyObject *step, PyObject *out) {
    long kind = PyTuple_CheckExact(step) ? (long)PyLong_AsLong(PyTuple_GET_ITEM(step, 0)) : 0;
    PyObject *call = kind ? PyTuple_GET_ITEM(step, 1) : step;
    if (kind) {
        PyObject *value = PyDict_GetItemWithError(out, PyTuple_GET_ITEM(step, 2));
        if (value == NULL) return PyErr_Occurred() ? -1 : 0;  // no value: nothing to do
        if (PyUnicode_CheckExact(value)) {
            Py_INCREF(value);  // held while the event it is read from gains keys
            int done = kind == STEP_USER ? user_step(step, value, out) : file_step(value, out);
            Py_DECREF(value);
            return done;
        }
    }
    PyObject *done = PyObject_CallOneArg(call, out);
    if (done == NULL) return -1;
    Py_DECREF(done);
    return 0;
}

static int is_plan(PyObject *plan) {
    return PyTuple_CheckExact(plan) && PyTuple_GET_SIZE(plan) == P_SIZE;
}

/* Whether ``steps`` is a tuple of tuples of ``size`` items (the last a list for lists, a dict
 * for maps). */
static int steps_ok(PyObject *steps, Py_ssize_t size, PyTypeObject *last) {
    if (!PyTuple_Check(steps)) return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(steps); i++) {
        PyObject *step = PyTuple_GET_ITEM(steps, i);
        if (!PyTuple_Check(step) || PyTuple_GET_SIZE(step) != size) return 0;
        if (last != NULL && !PyObject_TypeCheck(PyTuple_GET_ITEM(step, size - 1), last))
            return 0;
    }
    return 1;
}

/* 0 when ``plan`` has the shape maat_apply_plan reads without checks, else -1 with a
 * TypeError (the plans come from Python: a slip there must not become a wild read here). */
int maat_plan_check(PyObject *plan) {
    if (!is_plan(plan) || !steps_ok(PyTuple_GET_ITEM(plan, P_LISTS), 2, &PyList_Type) ||
        !steps_ok(PyTuple_GET_ITEM(plan, P_SCALARS), 2, NULL) ||
        !steps_ok(PyTuple_GET_ITEM(plan, P_STRINGS), 2, NULL) ||
        !steps_ok(PyTuple_GET_ITEM(plan, P_INTS), 3, NULL) ||
        !steps_ok(PyTuple_GET_ITEM(plan, P_NAMES), 2, NULL) ||
        !steps_ok(PyTuple_GET_ITEM(plan, P_MAPS), 3, &PyDict_Type) ||
        !steps_ok(PyTuple_GET_ITEM(plan, P_CONSTANTS), 2, NULL) ||
        !PyTuple_Check(PyTuple_GET_ITEM(plan, P_EXTRAS)) ||
        !PyCallable_Check(PyTuple_GET_ITEM(plan, P_TO_INT)))
        goto bad;
    PyObject *extras = PyTuple_GET_ITEM(plan, P_EXTRAS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(extras); i++) {
        PyObject *step = PyTuple_GET_ITEM(extras, i);
        if (PyTuple_Check(step) ? !native_step(step) : !PyCallable_Check(step)) goto bad;
    }
    if (s_file_path == NULL) {
        s_file_path = PyUnicode_InternFromString("file.path");
        s_file_name = PyUnicode_InternFromString("file.name");
        s_file_directory = PyUnicode_InternFromString("file.directory");
        s_file_extension = PyUnicode_InternFromString("file.extension");
        if (!s_file_path || !s_file_name || !s_file_directory || !s_file_extension) return -1;
    }
    return 0;
bad:
    PyErr_Clear();
    PyErr_SetString(PyExc_TypeError, "not a mapping plan (windows_mapping.plan_of)");
    return -1;
}

/* 0, -1 with an error, or -2: decline. */
int maat_apply_plan(PyObject *plan, PyObject *out) {
    if (!is_plan(plan)) {
        PyErr_SetString(PyExc_TypeError, "not a mapping plan");
        return -1;
    }
    /* 1. category and type: a fresh list each event, as the Python literal gives */
    PyObject *pairs = PyTuple_GET_ITEM(plan, P_LISTS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i), *t = PyTuple_GET_ITEM(pair, 1);
        PyObject *copy = PyList_GetSlice(t, 0, PyList_GET_SIZE(t));
        if (copy == NULL) return -1;
        int bad = PyDict_SetItem(out, PyTuple_GET_ITEM(pair, 0), copy);
        Py_DECREF(copy);
        if (bad < 0) return -1;
    }
    /* 2. action, kind, outcome */
    pairs = PyTuple_GET_ITEM(plan, P_SCALARS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        if (PyDict_SetItem(out, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0)
            return -1;
    }
    /* 3. strings copied */
    pairs = PyTuple_GET_ITEM(plan, P_STRINGS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        PyObject *v;
        TEXT_OR_SKIP(v, out, PyTuple_GET_ITEM(pair, 0), 1);
        if (PyDict_SetItem(out, PyTuple_GET_ITEM(pair, 1), v) < 0) return -1;
    }
    /* 4. integers: decimal digits here, anything else by to_int (hex, errors) */
    pairs = PyTuple_GET_ITEM(plan, P_INTS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *triple = PyTuple_GET_ITEM(pairs, i);
        PyObject *v;
        TEXT_OR_SKIP(v, out, PyTuple_GET_ITEM(triple, 0), 1);
        PyObject *number = NULL;
        Py_ssize_t n = PyUnicode_GET_LENGTH(v);
        if (PyUnicode_IS_ASCII(v) && n < 19) {
            const char *d = (const char *)PyUnicode_DATA(v);
            long long value = 0;
            Py_ssize_t j = 0;
            for (; j < n && d[j] >= '0' && d[j] <= '9'; j++) value = value * 10 + (d[j] - '0');
            if (j == n) number = PyLong_FromLongLong(value);
        }
        if (number == NULL) {
            if (PyErr_Occurred()) return -1;
            number = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(plan, P_TO_INT), v,
                                                  PyTuple_GET_ITEM(triple, 2), NULL);
            if (number == NULL) return -1;
        }
        int bad = PyDict_SetItem(out, PyTuple_GET_ITEM(triple, 1), number);
        Py_DECREF(number);
        if (bad < 0) return -1;
    }
    /* 5. names: a path's last component */
    pairs = PyTuple_GET_ITEM(plan, P_NAMES);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        PyObject *v;
        TEXT_OR_SKIP(v, out, PyTuple_GET_ITEM(pair, 0), 1);
        Py_ssize_t n = PyUnicode_GET_LENGTH(v);
        Py_ssize_t cut = last_separator(v, n);
        if (cut == -2) return -1;
        PyObject *name = PyUnicode_Substring(v, cut + 1, n);
        if (name == NULL) return -1;
        int bad = PyDict_SetItem(out, PyTuple_GET_ITEM(pair, 1), name);
        Py_DECREF(name);
        if (bad < 0) return -1;
    }
    /* 6. maps: the value, lowercased, translated by a table (unknown: nothing) */
    pairs = PyTuple_GET_ITEM(plan, P_MAPS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *triple = PyTuple_GET_ITEM(pairs, i);
        PyObject *v;
        TEXT_OR_SKIP(v, out, PyTuple_GET_ITEM(triple, 0), 0);
        PyObject *lower = PyObject_CallMethod(v, "lower", NULL);
        if (lower == NULL) return -1;
        PyObject *m = PyDict_GetItemWithError(PyTuple_GET_ITEM(triple, 2), lower);
        Py_DECREF(lower);
        if (m == NULL) {
            if (PyErr_Occurred()) return -1;
            continue;
        }
        if (PyDict_SetItem(out, PyTuple_GET_ITEM(triple, 1), m) < 0) return -1;
    }
    /* 7. constants, then the steps that need more than a copy (Python's) */
    pairs = PyTuple_GET_ITEM(plan, P_CONSTANTS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        if (PyDict_SetItem(out, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0)
            return -1;
    }
    PyObject *extras = PyTuple_GET_ITEM(plan, P_EXTRAS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(extras); i++)
        if (run_extra(PyTuple_GET_ITEM(extras, i), out) < 0) return -1;
    return 0;
}
