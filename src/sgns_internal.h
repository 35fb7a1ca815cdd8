/* sgns_internal.h — what the word-embedding files share: the word hash and the vectors allocator (io_vec.c). */
#ifndef CLGRAD_SGNS_INTERNAL_H
#define CLGRAD_SGNS_INTERNAL_H

#include <stdint.h>

#include "clgrad/sgns.h"

/* ---- io_vec.c ---------------------------------------------------------------------------------- */

/* FNV-1a of a NUL-terminated word (the .vec reader's and the vocabulary's hash tables). */
uint64_t clg__hash_word(const char *s);

/* A clg_vectors of n rows of dim floats with its word array zeroed (words are the caller's to fill);
 * returns its data, or NULL (out of memory; nothing allocated). */
float *clg__vectors_alloc(clg_vectors **out, int n, int dim);

#endif
