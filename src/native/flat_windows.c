/* maat._native's flat_windows: the hot path of Windows event ingest, bytes to normalised event.
 *
 * One function does the work of orjson.loads + FlatSource.normalise + model.finish for one
 * NXLog/Mordor-style JSON line (the ECS spec of the event's kind stays Python's, called from
 * here through FlatSource.mapper):
 *
 *     flat_windows(line: bytes, received: str) -> event | None
 *     flat_windows_lines(data: bytes, received: str, limit: int) -> (numbers, payloads)
 *
 * It is an accelerator, never an authority. It handles only the plain case and answers None
 * for anything else (nesting where a value is kept, fractions, escapes in keys, a time not in
 * canonical form, a value the Python parser would refuse, ...), and the caller then runs the
 * Python path on the same line, which decides and reports. A differential test runs both
 * paths over every Mordor record and over generated and mutated lines (ADR 0020).
 *
 * What "the same" means: the event dict is equal (same keys, same values, same types) to what
 * the Python path makes; key order may differ. The tables (meta keys, prefix, NXLog names,
 * channel spellings, the id hash) come from Python through configure(), so there is one copy.
 */
#include "native.h"

/* ---- configuration (configure()) -------------------------------------------------------- */

static PyObject *cfg_meta;        /* frozenset[str]: keys beside the event data */
static PyObject *cfg_decline;     /* frozenset[str]: keys that send the record to Python */
static PyObject *cfg_prefix;      /* "winlog.event_data." */
static PyObject *cfg_nxlog_keys;  /* tuple[str]: prefixed keys NXLog's account resolution adds */
static PyObject *cfg_nxlog_types; /* frozenset[str]: NXLog's own EventType values */
static PyObject *cfg_event_type;  /* "winlog.event_data.EventType" */
static PyObject *cfg_channels;    /* dict[str, str]: usual spelling of well-known channels */
static uint8_t cfg_id_person[16]; /* event ids: BLAKE2b of the record, personalised so */
static size_t cfg_id_person_len;
static size_t cfg_id_size;        /* bytes of digest (its hex text is twice as long) */
static PyObject *cfg_module;      /* "windows" */
static PyObject *cfg_mapper;      /* callable(provider, channel, event_id) -> mapping plan */

static PyObject *s_timestamp, *s_ingested, *s_code, *s_winlog_event_id, *s_provider,
    *s_provider_name, *s_channel, *s_computer, *s_host, *s_record_id, *s_id, *s_module,
    *s_kind, *s_event, *s_original, *s_true, *s_false, *s_empty;

/* The meta keys this function reads; every other meta key is validated and dropped. */
enum { M_EVENT_ID = 1, M_CHANNEL, M_SOURCE_NAME, M_PROVIDER_NAME, M_HOSTNAME, M_TIME_CREATED,
       M_TIMESTAMP, M_EVENT_TIME, M_RECORD_NUMBER, M_EVENT_RECORD_ID, M_SOURCE_MODULE_TYPE,
       M_COUNT };
static const char *const META_NAMES[M_COUNT] = {
    NULL, "EventID", "Channel", "SourceName", "ProviderName", "Hostname", "TimeCreated",
    "@timestamp", "EventTime", "RecordNumber", "EventRecordID", "SourceModuleType"};

enum { K_DATA = 0, K_SKIP = -1, K_DECLINE = -2 };

/* ---- key cache: raw key bytes -> (kind, prefixed key) ------------------------------------ */

#define CACHE_SLOTS 16384 /* a power of two */
#define CACHE_MAX 8192    /* keys come from the input: past this they are built each time */
/* Slots a key is looked for in, from its own on. FNV-1a has no secret: keys made to share the
 * low bits of their hashes (a few tries each) would pile up into one run of slots, which
 * every later key landing there walks to its end (thousands of slots a key, for good). A
 * key that finds no free slot this close to its own is built each time, as past CACHE_MAX. */
#define CACHE_PROBES 32

typedef struct {
    uint64_t hash;
    Py_ssize_t len;
    char *bytes;   /* NULL: empty slot */
    PyObject *key; /* the prefixed key (K_DATA), else the name */
    int kind;
} Entry;

static Entry cache[CACHE_SLOTS];
static Py_ssize_t cache_used;

static uint64_t fnv1a(const char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void cache_clear(void) {
    for (Py_ssize_t i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].bytes != NULL) {
            PyMem_Free(cache[i].bytes);
            Py_CLEAR(cache[i].key);
            cache[i].bytes = NULL;
        }
    }
    cache_used = 0;
}

/* The kind of key ``p[0:n]`` (valid UTF-8, no escapes) and a new reference to its key. */
static int key_kind(const char *p, Py_ssize_t n, PyObject **key) {
    uint64_t h = fnv1a(p, n);
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    for (int probes = 1; cache[i].bytes != NULL; probes++) {
        if (cache[i].hash == h && cache[i].len == n && memcmp(cache[i].bytes, p, n) == 0) {
            Py_INCREF(cache[i].key);
            *key = cache[i].key;
            return cache[i].kind;
        }
        if (probes == CACHE_PROBES) break; /* not cached, nor will it be: slot i is taken */
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
    PyObject *name = PyUnicode_DecodeUTF8(p, n, NULL);
    if (name == NULL) return -100;
    int kind;
    PyObject *made;
    int found = PySet_Contains(cfg_decline, name);
    if (found < 0) goto fail;
    if (found) {
        kind = K_DECLINE;
        made = name;
    } else {
        found = PySet_Contains(cfg_meta, name);
        if (found < 0) goto fail;
        if (found) {
            kind = K_SKIP;
            for (int m = 1; m < M_COUNT; m++) {
                if ((Py_ssize_t)strlen(META_NAMES[m]) == n && memcmp(META_NAMES[m], p, n) == 0) {
                    kind = m;
                    break;
                }
            }
            made = name;
        } else {
            kind = K_DATA;
            made = PyUnicode_Concat(cfg_prefix, name);
            Py_DECREF(name);
            if (made == NULL) return -100;
            PyUnicode_InternInPlace(&made);
        }
    }
    if (cache[i].bytes == NULL && cache_used < CACHE_MAX) {
        char *copy = PyMem_Malloc(n > 0 ? n : 1);
        if (copy != NULL) {
            memcpy(copy, p, n);
            cache[i].hash = h;
            cache[i].len = n;
            cache[i].bytes = copy;
            cache[i].kind = kind;
            Py_INCREF(made);
            cache[i].key = made;
            cache_used++;
        }
    }
    *key = made;
    return kind;
fail:
    Py_DECREF(name);
    return -100;
}

/* ---- one record -------------------------------------------------------------------------- */

enum { T_ABSENT = 0, T_NULL, T_TRUE, T_FALSE, T_INT, T_STR, T_OTHER };

typedef struct {
    int type;
    PyObject *str;   /* T_STR: a new reference */
    long long num;   /* T_INT */
    int big;         /* T_INT beyond 18 digits: value not kept */
} Slot;

static void slot_set(Slot *s, int type, PyObject *str, long long num, int big) {
    Py_CLEAR(s->str);
    s->type = type;
    s->str = str;
    s->num = num;
    s->big = big;
}

/* Python truthiness of a slot (absent counts as None). */
static int truthy(const Slot *s) {
    switch (s->type) {
    case T_TRUE: return 1;
    case T_INT: return s->big || s->num != 0;
    case T_STR: return PyUnicode_GET_LENGTH(s->str) > 0;
    default: return 0;
    }
}

static int str_or_none(const Slot *s) {
    return s->type == T_ABSENT || s->type == T_NULL || s->type == T_STR;
}

#define MAX_MAPPERS 4096 /* providers and channels come from the input */
static PyObject *mappers;  /* (provider, channel, event id) -> the mapping plan */

/* Run the mapping plan Python's FlatSource.mapper gives for this kind of event (mapping.c):
 * 0, -1 with an error, -2 to decline. */
static int map_fields(PyObject *out, PyObject *provider, PyObject *channel, PyObject *eid) {
    PyObject *key = PyTuple_Pack(3, provider, channel, eid);
    if (key == NULL) return -1;
    PyObject *fn = PyDict_GetItemWithError(mappers, key);
    if (fn != NULL) {
        Py_INCREF(fn);
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    } else {
        fn = PyObject_CallFunctionObjArgs(cfg_mapper, provider, channel, eid, NULL);
        if (fn == NULL || maat_plan_check(fn) < 0 ||
            (PyDict_GET_SIZE(mappers) < MAX_MAPPERS && PyDict_SetItem(mappers, key, fn) < 0)) {
            Py_XDECREF(fn);
            Py_DECREF(key);
            return -1;
        }
    }
    Py_DECREF(key);
    int status = maat_apply_plan(fn, out);
    Py_DECREF(fn);
    return status;
}

/* The event id as text and as a number, made once per id (new references). */
static PyObject *codes[0x10000], *numbers[0x10000];
static PyObject *event_code(long long eid, PyObject **number) {
    if (codes[eid] == NULL) {
        PyObject *text = PyUnicode_FromFormat("%lld", eid);
        PyObject *value = PyLong_FromLongLong(eid);
        if (text == NULL || value == NULL) {
            Py_XDECREF(text);
            Py_XDECREF(value);
            *number = NULL;
            return NULL;
        }
        codes[eid] = text;
        numbers[eid] = value;
    }
    *number = Py_NewRef(numbers[eid]);
    return Py_NewRef(codes[eid]);
}

static int set(PyObject *d, PyObject *k, PyObject *v) { return PyDict_SetItem(d, k, v); }

/* Build the event from the parsed parts; NULL with an error, Py_None to decline. */
static PyObject *finish(PyObject *out, Slot *m, const char *line, Py_ssize_t size,
                        PyObject *received, const uint8_t *digest) {
    /* 1. the record is FlatSource's: EventID beside Channel or SourceName */
    if (m[M_EVENT_ID].type == T_ABSENT) return Py_None;
    if (m[M_CHANNEL].type == T_ABSENT && m[M_SOURCE_NAME].type == T_ABSENT) return Py_None;
    /* 2. the event id: an int or a string of digits, 0..65535 */
    long long eid;
    Slot *e = &m[M_EVENT_ID];
    if (e->type == T_INT && !e->big) {
        eid = e->num;
    } else if (e->type == T_STR && PyUnicode_IS_ASCII(e->str) &&
               PyUnicode_GET_LENGTH(e->str) <= 5) {
        int ok;
        const char *d = (const char *)PyUnicode_DATA(e->str);
        eid = maat_digits_value(d, d + PyUnicode_GET_LENGTH(e->str), &ok);
        if (!ok) return Py_None;
    } else {
        return Py_None;
    }
    if (eid < 0 || eid > 0xFFFF) return Py_None;
    /* 3. provider, channel, computer: text or nothing */
    for (int k = M_CHANNEL; k <= M_HOSTNAME; k++)
        if (!str_or_none(&m[k])) return Py_None;
    PyObject *provider = Py_None;
    if (truthy(&m[M_SOURCE_NAME])) provider = m[M_SOURCE_NAME].str;
    else if (m[M_PROVIDER_NAME].type == T_STR) provider = m[M_PROVIDER_NAME].str;
    PyObject *channel = m[M_CHANNEL].type == T_STR ? m[M_CHANNEL].str : Py_None;
    PyObject *computer = m[M_HOSTNAME].type == T_STR ? m[M_HOSTNAME].str : Py_None;
    /* 4. the record number: RecordNumber when present (even null), else EventRecordID */
    Slot *r = m[M_RECORD_NUMBER].type != T_ABSENT ? &m[M_RECORD_NUMBER] : &m[M_EVENT_RECORD_ID];
    long long record = -1;
    if (r->type == T_INT) {
        if (r->big || r->num < 0) return Py_None;
        record = r->num;
    } else if (r->type == T_STR) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(r->str);
        if (n > 0) {
            int ok;
            if (!PyUnicode_IS_ASCII(r->str)) return Py_None;
            const char *d = (const char *)PyUnicode_DATA(r->str);
            record = maat_digits_value(d, d + n, &ok);
            if (!ok) return Py_None;
        }
    } else if (r->type != T_ABSENT && r->type != T_NULL) {
        return Py_None;
    }
    /* 5. the time: TimeCreated or @timestamp or EventTime, canonical text or none */
    Slot *stamp = &m[M_EVENT_TIME];
    if (truthy(&m[M_TIME_CREATED])) stamp = &m[M_TIME_CREATED];
    else if (truthy(&m[M_TIMESTAMP])) stamp = &m[M_TIMESTAMP];
    PyObject *when = NULL, *code = NULL, *number = NULL; /* new references */
    if (stamp->type == T_STR && PyUnicode_GET_LENGTH(stamp->str) > 0) {
        if (maat_canonical_time(stamp->str)) {
            when = Py_NewRef(stamp->str);
        } else {
            when = maat_naive_time(stamp->str);
            if (when == NULL) return PyErr_Occurred() ? NULL : Py_None;
        }
    } else if (stamp->type != T_ABSENT && stamp->type != T_NULL && stamp->type != T_STR) {
        return Py_None;
    }
    /* 6. NXLog's additions are not event data */
    if (m[M_SOURCE_MODULE_TYPE].type != T_ABSENT) {
        Py_ssize_t n = PyTuple_GET_SIZE(cfg_nxlog_keys);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *k = PyTuple_GET_ITEM(cfg_nxlog_keys, i);
            if (PyDict_Contains(out, k) == 1 && PyDict_DelItem(out, k) < 0) goto fail2;
        }
        PyObject *kind = PyDict_GetItemWithError(out, cfg_event_type);
        if (kind == NULL && PyErr_Occurred()) goto fail2;
        if (kind != NULL) {
            int found = PySet_Contains(cfg_nxlog_types, kind);
            if (found < 0) goto fail2;
            if (found && PyDict_DelItem(out, cfg_event_type) < 0) goto fail2;
        }
    }
    /* 7. the winlog and ECS fields every Windows event has */
    code = event_code(eid, &number);
    if (code == NULL || number == NULL) goto fail2;
    if (when != NULL && set(out, s_timestamp, when) < 0) goto fail2;
    if (set(out, s_code, code) < 0 || set(out, s_winlog_event_id, number) < 0) goto fail2;
    if (provider != Py_None && PyUnicode_GET_LENGTH(provider) > 0) {
        if (set(out, s_provider, provider) < 0 || set(out, s_provider_name, provider) < 0)
            goto fail2;
    }
    if (channel != Py_None && PyUnicode_GET_LENGTH(channel) > 0) {
        PyObject *usual = PyDict_GetItemWithError(cfg_channels, channel);
        if (usual == NULL && PyErr_Occurred()) goto fail2;
        if (set(out, s_channel, usual != NULL ? usual : channel) < 0) goto fail2;
    }
    if (computer != Py_None && PyUnicode_GET_LENGTH(computer) > 0) {
        if (set(out, s_computer, computer) < 0 || set(out, s_host, computer) < 0) goto fail2;
    }
    if (record >= 0) {
        PyObject *rec = PyLong_FromLongLong(record);
        if (rec == NULL || set(out, s_record_id, rec) < 0) {
            Py_XDECREF(rec);
            goto fail2;
        }
        Py_DECREF(rec);
    }
    /* 8. what model.finish adds: receive time, id, module, kind, original */
    if (when == NULL) {
        if (set(out, s_timestamp, received) < 0 || set(out, s_ingested, received) < 0)
            goto fail2;
    }
    /* model.event_id: BLAKE2b of the record (blake2b.c, held to hashlib by the tests) */
    uint8_t own[64];
    if (digest == NULL) {
        maat_blake2b((const uint8_t *)line, (size_t)size, cfg_id_person, cfg_id_person_len, own,
                     cfg_id_size);
        digest = own;
    }
    PyObject *id = maat_hex(digest, cfg_id_size);
    if (id == NULL) goto fail2;
    int bad = set(out, s_id, id);
    Py_DECREF(id);
    if (bad < 0 || set(out, s_module, cfg_module) < 0 || set(out, s_kind, s_event) < 0)
        goto fail2;
    /* valid UTF-8 throughout (every string was checked, the rest is ASCII) */
    PyObject *original = PyUnicode_DecodeUTF8(line, size, NULL);
    if (original == NULL) goto fail2;
    bad = set(out, s_original, original);
    Py_DECREF(original);
    if (bad < 0) goto fail2;
    /* 9. the kind's ECS fields, by the spec Python compiled for (provider, channel, id); a
     * value the spec refuses sends the line to Python, which reports it */
    int mapped = map_fields(out, provider, channel, number);
    if (mapped < 0) {
        if (mapped == -1 && !PyErr_ExceptionMatches(PyExc_Exception)) goto fail2;
        PyErr_Clear();
        Py_XDECREF(when);
        Py_DECREF(code);
        Py_DECREF(number);
        return Py_None;
    }
    PyObject *result = Py_NewRef(out);
    Py_XDECREF(when);
    Py_DECREF(code);
    Py_DECREF(number);
    return result;
fail2:
    Py_XDECREF(when);
    Py_XDECREF(code);
    Py_XDECREF(number);
    return NULL;
}

/* An event has some 30 keys (up to 42 fit 64 slots): made at that size, its dict is not
 * resized three times on the way. */
#if PY_VERSION_HEX < 0x030E0000
#define NEW_EVENT() _PyDict_NewPresized(40)
#else
#define NEW_EVENT() PyDict_New()
#endif

/* model.event_id's digests of count lines (maat_blake2b_many: four at a time) into
 * digests[64 * i] */
void maat_flat_ids(const uint8_t *const *lines, const size_t *sizes, size_t count,
                   uint8_t *const *digests) {
    maat_blake2b_many(lines, sizes, count, cfg_id_person, cfg_id_person_len, digests,
                      cfg_id_size, 0);
}

/* One JSON line [line, line + size): a new reference to its event, or to None; digest: its
 * id's BLAKE2b made already (maat_flat_ids), or NULL. */
PyObject *maat_flat_record(const char *line, Py_ssize_t size, PyObject *received,
                           const uint8_t *digest) {
    const char *p = line;
    const char *end = line + size;
    Slot m[M_COUNT];
    memset(m, 0, sizeof m);
    PyObject *out = NEW_EVENT();
    PyObject *result = Py_None;
    if (out == NULL) return NULL;

    p = skip_ws(p, end);
    if (p >= end || *p != '{') goto done;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') goto done; /* {}: not a Windows event */
    for (;;) {
        if (p >= end || *p != '"') goto done;
        const char *kstart = p + 1;
        p = scan_string(kstart, end, NULL, 1);
        if (p == NULL) goto error;
        if (p == DECLINE) goto done;
        PyObject *key = NULL;
        int kind = key_kind(kstart, p - 1 - kstart, &key);
        if (kind == -100) goto error;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') { Py_DECREF(key); goto done; }
        p = skip_ws(p + 1, end);
        if (kind == K_DECLINE || p >= end) { Py_DECREF(key); goto done; }
        if (kind == K_SKIP) {
            Py_DECREF(key);
            p = skip_value(p, end, 0);
            if (p == NULL) goto error;
            if (p == DECLINE) goto done;
        } else {
            /* a value kept: as text (event data) or as a typed slot (meta) */
            PyObject *value = NULL;
            int type;
            long long num = 0;
            int big = 0;
            const char *digits;
            char c = *p;
            if (c == '"') {
                p = scan_string(p + 1, end, &value, 0);
                type = T_STR;
            } else if (c == 't') {
                p = scan_literal(p, end, "true");
                type = T_TRUE;
            } else if (c == 'f') {
                p = scan_literal(p, end, "false");
                type = T_FALSE;
            } else if (c == 'n') {
                p = scan_literal(p, end, "null");
                type = T_NULL;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                p = scan_int(p, end, &digits);
                type = T_INT;
                if (p != DECLINE) {
                    int neg = *digits == '-', ok;
                    num = maat_digits_value(digits + neg, p, &ok);
                    if (!ok) {
                        big = 1;
                        if (kind == K_DATA) p = DECLINE; /* its text is orjson's float's */
                    } else if (neg) {
                        num = -num;
                    }
                }
            } else {
                p = DECLINE; /* nesting, where the value is kept */
            }
            if (p == NULL || p == DECLINE) {
                Py_XDECREF(value);
                Py_DECREF(key);
                if (p == NULL) goto error;
                goto done;
            }
            if (kind == K_DATA) {
                /* model: the value as text, as _text() makes it */
                if (type == T_STR) {
                } else if (type == T_NULL) {
                    value = Py_NewRef(s_empty);
                } else if (type == T_TRUE) {
                    value = Py_NewRef(s_true);
                } else if (type == T_FALSE) {
                    value = Py_NewRef(s_false);
                } else {
                    value = PyUnicode_FromFormat("%lld", num);
                }
                if (value == NULL || PyDict_SetItem(out, key, value) < 0) {
                    Py_XDECREF(value);
                    Py_DECREF(key);
                    goto error;
                }
                Py_DECREF(value);
            } else {
                slot_set(&m[kind], type, value, num, big);
            }
            Py_DECREF(key);
        }
        p = skip_ws(p, end);
        if (p >= end) goto done;
        if (*p == '}') {
            p = skip_ws(p + 1, end);
            if (p != end) goto done; /* trailing text: orjson refuses */
            break;
        }
        if (*p != ',') goto done;
        p = skip_ws(p + 1, end);
    }
    result = finish(out, m, line, size, received, digest);
    if (result == NULL) goto error;
    goto done;
error:
    result = NULL;
done:
    for (int k = 0; k < M_COUNT; k++) Py_XDECREF(m[k].str);
    Py_DECREF(out);
    if (result == Py_None) Py_INCREF(Py_None);
    return result;
}

int maat_flat_configured(void) {
    if (cfg_meta == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "maat._native.configure() was not called");
        return 0;
    }
    return 1;
}

static PyObject *flat_windows(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "flat_windows(line: bytes, received: str)");
        return NULL;
    }
    if (!maat_flat_configured()) return NULL;
    return maat_flat_record(PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), args[1],
                            NULL);
}

/* ---- configure --------------------------------------------------------------------------- */

static PyObject *configure(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *names[] = {"meta",     "decline", "prefix",    "nxlog_keys", "nxlog_types",
                            "channels", "id_size", "id_person", "module",     "mapper",
                            NULL};
    PyObject *meta, *decline, *prefix, *nxlog_keys, *nxlog_types, *channels, *module, *mapper;
    Py_ssize_t id_size;
    Py_buffer id_person;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$O!O!UO!O!O!ny*UO", names,
                                     &PyFrozenSet_Type, &meta, &PyFrozenSet_Type, &decline,
                                     &prefix, &PyTuple_Type, &nxlog_keys, &PyFrozenSet_Type,
                                     &nxlog_types, &PyDict_Type, &channels, &id_size,
                                     &id_person, &module, &mapper))
        return NULL;
    if (id_size < 1 || id_size > 64 || id_person.len > 16) {
        PyBuffer_Release(&id_person);
        PyErr_SetString(PyExc_ValueError, "configure: id_size 1..64, id_person <= 16 bytes");
        return NULL;
    }
    cfg_id_size = (size_t)id_size;
    cfg_id_person_len = (size_t)id_person.len;
    memcpy(cfg_id_person, id_person.buf, cfg_id_person_len);
    PyBuffer_Release(&id_person);
    PyObject *fresh = PyDict_New();
    if (fresh == NULL) return NULL;
    PyObject *event_type = PyUnicode_FromFormat("%UEventType", prefix);
    if (event_type == NULL) {
        Py_DECREF(fresh);
        return NULL;
    }
    cache_clear(); /* the prefixed keys and kinds depend on the tables */
    Py_XSETREF(cfg_meta, Py_NewRef(meta));
    Py_XSETREF(cfg_decline, Py_NewRef(decline));
    Py_XSETREF(cfg_prefix, Py_NewRef(prefix));
    Py_XSETREF(cfg_nxlog_keys, Py_NewRef(nxlog_keys));
    Py_XSETREF(cfg_nxlog_types, Py_NewRef(nxlog_types));
    Py_XSETREF(cfg_event_type, event_type);
    Py_XSETREF(cfg_channels, Py_NewRef(channels));
    Py_XSETREF(cfg_module, Py_NewRef(module));
    Py_XSETREF(cfg_mapper, Py_NewRef(mapper));
    Py_XSETREF(mappers, fresh);
    Py_RETURN_NONE;
}

PyMethodDef maat_flat_methods[] = {
    {"flat_windows", (PyCFunction)(void (*)(void))flat_windows, METH_FASTCALL,
     "flat_windows(line, received) -> event | None"},
    {"flat_windows_lines", (PyCFunction)(void (*)(void))maat_flat_windows_lines, METH_FASTCALL,
     "flat_windows_lines(data, received, limit, offset, number, max_lines) -> (numbers, "
     "[event | line, ...], slow, offset, number)"},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "Set the tables flat_windows uses (maat.telemetry.native does, at import)."},
    {"lake_columns", (PyCFunction)(void (*)(void))maat_lake_columns, METH_FASTCALL,
     "lake_columns(events, plan) -> [(validity, nulls, offsets, data), ...] | None"},
    {"spool_parts", (PyCFunction)(void (*)(void))maat_spool_parts, METH_FASTCALL,
     "spool_parts(subject, [(id, data), ...]) -> [head, data, ...] | None"},
    {"release", (PyCFunction)(void (*)(void))maat_release, METH_FASTCALL,
     "release(items) -> None: items.clear(), prefetching the events it lets go of"},
    {"gather", (PyCFunction)(void (*)(void))maat_gather, METH_FASTCALL,
     "gather(buffer, filled, parts, index) -> (index, filled)"},
    {"wire_events", (PyCFunction)(void (*)(void))maat_wire_events, METH_FASTCALL,
     "wire_events(events, dumps) -> [message | None, ...]"},
    {"wire_fields", (PyCFunction)(void (*)(void))maat_wire_fields, METH_FASTCALL,
     "wire_fields(messages) -> [memoryview | None, ...]"},
    {"crc32", maat_crc32_py, METH_VARARGS,
     "crc32(data, value=0, portable=False) -> int: zlib.crc32(data, value)"},
    {"blake2b_hex_many", maat_blake2b_hex_many, METH_VARARGS,
     "blake2b_hex_many(messages, person, digest_size, portable=False) -> [str, ...]: for tests"},
    {"blake2b_hex", maat_blake2b_hex, METH_VARARGS,
     "blake2b_hex(data, person, digest_size) -> str: the event ids' BLAKE2b, for tests."},
    {NULL, NULL, 0, NULL}};

/* The interned keys and texts every event uses. */
int maat_flat_init(void) {
    struct { PyObject **slot; const char *text; } strings[] = {
        {&s_timestamp, "@timestamp"}, {&s_ingested, "event.ingested"},
        {&s_code, "event.code"}, {&s_winlog_event_id, "winlog.event_id"},
        {&s_provider, "event.provider"}, {&s_provider_name, "winlog.provider_name"},
        {&s_channel, "winlog.channel"}, {&s_computer, "winlog.computer_name"},
        {&s_host, "host.name"}, {&s_record_id, "winlog.record_id"}, {&s_id, "event.id"},
        {&s_module, "event.module"}, {&s_kind, "event.kind"}, {&s_event, "event"},
        {&s_original, "event.original"}, {&s_true, "true"}, {&s_false, "false"},
        {&s_empty, ""}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        *strings[i].slot = PyUnicode_InternFromString(strings[i].text);
        if (*strings[i].slot == NULL) return -1;
    }
    return 0;
}
