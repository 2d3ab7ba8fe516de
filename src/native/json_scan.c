/* JSON scanning for the C hot path: exactly the grammar orjson accepts, or DECLINE.
 *
 * Anything this scanner is unsure of (a fraction, an exponent, a lone surrogate, invalid
 * UTF-8, nesting deeper than 64) is DECLINE: the line then goes to orjson and the Python
 * parsers, which decide and report. Declining is always safe; accepting what orjson refuses
 * would not be, and the differential tests look for it.
 */
#include "native.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif
const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* Length of the UTF-8 sequence at p (strictly valid, as orjson requires), 0 if invalid. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (end - p >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && p[1] > 0x9F) return 0; /* a surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && p[1] > 0x8F) return 0; /* beyond U+10FFFF */
        return 4;
    }
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* The last text seen for each of VALUE_SLOTS hashes of its raw JSON bytes (VALUE_MAX bytes
 * at most): event data repeats (the image of a process in each of its events, an access
 * mask), and a shared string is no allocation, copy or later free. Direct-mapped: a new
 * value takes its slot from the old one. The raw bytes decide, so a value is only ever
 * shared with one that was written the same. */
#define VALUE_SLOTS 8192
#define VALUE_MAX 128
typedef struct {
    uint64_t hash;
    Py_ssize_t len;
    PyObject *text;
    char raw[VALUE_MAX];
} ValueSlot;
static ValueSlot values[VALUE_SLOTS];

static inline uint64_t value_hash(const char *p, Py_ssize_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL, head = 0, tail = 0;
    memcpy(&head, p, (size_t)(n < 8 ? n : 8));
    if (n > 8) memcpy(&tail, p + n - 8, 8);
    h ^= head * 0xC2B2AE3D27D4EB4FULL;
    h ^= (tail + (h >> 29)) * 0x165667B19E3779F9ULL;
    return h ^ (h >> 32);
}

/* Decode the escapes of a JSON string body [p, end) (already scanned: valid) into UTF-8. */
static PyObject *unescape(const char *p, const char *end) {
    char *buf = PyMem_Malloc((size_t)(end - p) + 4);
    if (buf == NULL) return PyErr_NoMemory();
    char *w = buf;
    while (p < end) {
        if (*p != '\\') {
            *w++ = *p++;
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        default: { /* 'u': checked by scan_string */
            unsigned cp, low;
            hex4(p, &cp);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                hex4(p + 2, &low);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xC0 | (cp >> 6));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *w++ = (char)(0xE0 | (cp >> 12));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xF0 | (cp >> 18));
                *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            }
        }
        }
    }
    PyObject *s = PyUnicode_DecodeUTF8(buf, w - buf, NULL);
    PyMem_Free(buf);
    return s;
}

/* Scan a JSON string whose opening quote is at p[-1]. Returns the position after the closing
 * quote, DECLINE, or NULL with a Python error. With ``out``, sets a new reference to the
 * string; with ``no_escapes``, a backslash declines. */
const char *scan_string(const char *p, const char *end, PyObject **out, int no_escapes) {
    const char *start = p;
    int ascii = 1, escaped = 0;
    while (p < end) {
#ifdef __SSE2__
        /* sixteen plain bytes at a time: none a quote, a backslash, a control or non-ASCII
         * byte (signed, those last two are the bytes below 0x20) */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
            int mask = _mm_movemask_epi8(special);
            if (mask != 0) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
        if (p >= end) break;
#endif
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20) return DECLINE; /* a control character: orjson refuses */
        if (c == '\\') {
            if (no_escapes || end - p < 2) return DECLINE;
            escaped = 1;
            char e = p[1];
            if (e == 'u') {
                unsigned cp, low;
                if (end - p < 6 || !hex4(p + 2, &cp)) return DECLINE;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return DECLINE; /* a lone low surrogate */
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &low) ||
                        low < 0xDC00 || low > 0xDFFF)
                        return DECLINE;
                    p += 12;
                } else {
                    p += 6;
                }
                if (cp >= 0x80) ascii = 0;
                continue;
            }
            switch (e) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                break;
            default:
                return DECLINE;
            }
            p += 2;
            continue;
        }
        if (c >= 0x80) {
            int n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (n == 0) return DECLINE;
            ascii = 0;
            p += n;
            continue;
        }
        p++;
    }
    if (p >= end) return DECLINE;
    if (out != NULL) {
        Py_ssize_t n = p - start;
        ValueSlot *slot = NULL;
        if (n <= VALUE_MAX) {
            /* a value seen lately (paths, access masks, GUIDs of a process) is shared */
            uint64_t h = value_hash(start, n);
            slot = &values[h & (VALUE_SLOTS - 1)];
            if (slot->text != NULL && slot->hash == h && slot->len == n &&
                memcmp(slot->raw, start, (size_t)n) == 0) {
                *out = Py_NewRef(slot->text);
                return p + 1;
            }
            slot->hash = h;
        }
        PyObject *s;
        if (escaped) {
            s = unescape(start, p);
        } else if (ascii) {
            s = PyUnicode_New(p - start, 127);
            if (s != NULL) memcpy(PyUnicode_DATA(s), start, (size_t)(p - start));
        } else {
            s = PyUnicode_DecodeUTF8(start, p - start, NULL);
        }
        if (s == NULL) return NULL;
        if (slot != NULL) {
            Py_XSETREF(slot->text, Py_NewRef(s));
            slot->len = n;
            memcpy(slot->raw, start, (size_t)n);
        }
        *out = s;
    }
    return p + 1;
}

/* An integer (no fraction, no exponent: those decline). Sets its digits (with sign). */
const char *scan_int(const char *p, const char *end, const char **digits) {
    *digits = p;
    if (p < end && *p == '-') p++;
    if (p >= end) return DECLINE;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return DECLINE;
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return DECLINE;
    if (p < end && *p >= '0' && *p <= '9') return DECLINE; /* "01": orjson refuses */
    return p;
}

const char *scan_literal(const char *p, const char *end, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return DECLINE;
    return p + n;
}

/* Validate one JSON value and drop it (meta keys Maat does not read, like Mordor's tags). */
const char *skip_value(const char *p, const char *end, int depth) {
    if (p >= end || depth > 64) return DECLINE;
    const char *digits;
    switch (*p) {
    case '"': return scan_string(p + 1, end, NULL, 0);
    case 't': return scan_literal(p, end, "true");
    case 'f': return scan_literal(p, end, "false");
    case 'n': return scan_literal(p, end, "null");
    case '[':
    case '{': {
        char close = *p == '[' ? ']' : '}';
        int object = *p == '{';
        p = skip_ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (object) {
                if (p >= end || *p != '"') return DECLINE;
                p = scan_string(p + 1, end, NULL, 0);
                if (p == NULL || p == DECLINE) return p;
                p = skip_ws(p, end);
                if (p >= end || *p != ':') return DECLINE;
                p = skip_ws(p + 1, end);
            }
            p = skip_value(p, end, depth + 1);
            if (p == NULL || p == DECLINE) return p;
            p = skip_ws(p, end);
            if (p >= end) return DECLINE;
            if (*p == close) return p + 1;
            if (*p != ',') return DECLINE;
            p = skip_ws(p + 1, end);
        }
    }
    default:
        p = scan_int(p, end, &digits);
        if (p != DECLINE && p - digits > 300) return DECLINE; /* would overflow a double */
        return p;
    }
}
