/* sgns_internal.h — what the word-embedding files share: the corpus tokenizer, the vocabulary's digest and sampling tables (vocab.c), the word hash and the vectors allocator (io_vec.c). */
#ifndef CLGRAD_SGNS_INTERNAL_H
#define CLGRAD_SGNS_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "clgrad/sgns.h"

/* ---- vocab.c ---------------------------------------------------------------------------------- */

/* Next token of f into w (NUL-terminated, lowercased, w has CLG_SGNS_MAX_WORD + 1 bytes): returns its
 * length, 0 for an end of line, -1 at the end of the file, -2 for a word longer than CLG_SGNS_MAX_WORD
 * bytes (w holds its first CLG_SGNS_MAX_WORD bytes).  The tokenizer of clgrad/sgns.h. */
int clg__read_token(FILE *f, char *w);

/* A digest of the vocabulary: every kept word and its count, in id order (the training state's key). */
uint64_t clg__vocab_digest(const clg_vocab *v);

/* The host side of word2vec's sampling, a pure function of the vocabulary and the sample option. */
typedef struct clg__sampler {
    int *table;             /* unigram^0.75 table of word ids: a uniform slot is a negative */
    int tsize;              /* min(1000 * words, 2e6) slots */
    double *keep;           /* per word id: probability of keeping an occurrence (1 without subsampling) */
    int64_t train_words;    /* occurrences of the kept words in the corpus (one epoch) */
} clg__sampler;

/* Build the tables (sample 0: keep every occurrence).  CLG_ERR_OUT_OF_MEMORY leaves *s freed. */
clg_status clg__sampler_init(clg__sampler *s, const clg_vocab *v, double sample);
void clg__sampler_free(clg__sampler *s);

/* ---- io_vec.c ---------------------------------------------------------------------------------- */

/* FNV-1a of a NUL-terminated word (the .vec reader's and the vocabulary's hash tables). */
uint64_t clg__hash_word(const char *s);

/* A clg_vectors of n rows of dim floats with its word array zeroed (words are the caller's to fill);
 * returns its data, or NULL (out of memory; nothing allocated). */
float *clg__vectors_alloc(clg_vectors **out, int n, int dim);

#endif
