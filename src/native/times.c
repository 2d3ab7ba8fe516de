/* Numbers and times of Windows events as the Python parsers read them, for flat_windows.c:
 * each answers only for the plain case, and the caller declines anything else. */
#include "native.h"

long long maat_digits_value(const char *d, const char *end, int *ok) {
    /* ASCII decimal digits only, at most 18 (fits int64): anything else is not this path's */
    Py_ssize_t n = end - d;
    *ok = 0;
    if (n < 1 || n > 18) return 0;
    long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return 0;
        v = v * 10 + (d[i] - '0');
    }
    *ok = 1;
    return v;
}

static const int DAYS[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Whether ``s`` is YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z naming a real moment (model._CANONICAL
 * plus datetime.fromisoformat's checks), in ASCII digits. */
static int canonical_time_text(const char *t, Py_ssize_t n) {
    if (n != 20 && (n < 22 || n > 27)) return 0;
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; i < 19; i++) {
        if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != shape[i]) return 0;
    }
    if (n > 20) {
        if (t[19] != '.') return 0;
        for (Py_ssize_t i = 20; i < n - 1; i++)
            if (t[i] < '0' || t[i] > '9') return 0;
    }
    if (t[n - 1] != 'Z') return 0;
#define NUM2(i) ((t[i] - '0') * 10 + (t[(i) + 1] - '0'))
    int year = NUM2(0) * 100 + NUM2(2), month = NUM2(5), day = NUM2(8);
    if (year < 1 || month < 1 || month > 12 || day < 1) return 0;
    int dim = DAYS[month];
    if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) dim = 29;
    if (day > dim || NUM2(11) > 23 || NUM2(14) > 59 || NUM2(17) > 59) return 0;
#undef NUM2
    return 1;
}

int maat_canonical_time(PyObject *s) {
    if (!PyUnicode_IS_ASCII(s)) return 0;
    return canonical_time_text((const char *)PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
}

/* A time without a zone, read as UTC (as model.iso_utc does), in the form it gives:
 * YYYY-MM-DD[ T]HH:MM:SS[.fff|.ffffff] -> YYYY-MM-DDTHH:MM:SS.ffffffZ; a new reference, or
 * NULL without an error for any other form (Python reads those). */
PyObject *maat_naive_time(PyObject *s) {
    if (!PyUnicode_IS_ASCII(s)) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    const char *t = (const char *)PyUnicode_DATA(s);
    if (n != 19 && n != 23 && n != 26) return NULL;
    static const char shape[] = "dddd-dd-dd?dd:dd:dd";
    for (int i = 0; i < 19; i++) {
        if (shape[i] == 'd') {
            if (t[i] < '0' || t[i] > '9') return NULL;
        } else if (shape[i] == '?') {
            if (t[i] != ' ' && t[i] != 'T') return NULL;
        } else if (t[i] != shape[i]) {
            return NULL;
        }
    }
    if (n > 19) {
        if (t[19] != '.') return NULL;
        for (Py_ssize_t i = 20; i < n; i++)
            if (t[i] < '0' || t[i] > '9') return NULL;
    }
    char out[28];
    memcpy(out, t, 19);
    out[10] = 'T';
    out[19] = '.';
    for (int i = 0; i < 6; i++) out[20 + i] = 20 + i < n ? t[20 + i] : '0';
    out[26] = 'Z';
    out[27] = '\0';
    if (out[0] == '0' || !canonical_time_text(out, 27)) return NULL; /* strftime pads no year */
    return PyUnicode_FromStringAndSize(out, 27);
}
