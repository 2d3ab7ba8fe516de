/* One Aho-Corasick automaton over a key's literals, and the marks a search leaves (automaton.c,
 * used by prefilter.c). */
#ifndef MAAT_AUTOMATON_H
#define MAAT_AUTOMATON_H
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


/* The literals found by the searches of one call: seen[id] == gen, listed in found. */
typedef struct {
    uint32_t gen;
    uint32_t *seen;
    int32_t *found;
    int32_t nfound;
} Marks;

void *maat_zalloc(size_t count, size_t size);
/* The automaton of ``literals`` (a list of str) for ``key``, numbering them from first_id. */
int maat_automaton_build(Automaton *a, PyObject *key, PyObject *literals, int32_t first_id);
void maat_automaton_clear(Automaton *a);
/* Mark every literal of ``a`` a value of the key contains: a text, or a list's or tuple's
 * items one by one. Runs no Python code. */
int maat_automaton_search_value(Marks *marks, const Automaton *a, PyObject *value);

#endif
