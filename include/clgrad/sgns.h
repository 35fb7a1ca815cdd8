/* clgrad/sgns.h — word embeddings: vocabulary, skip-gram negative-sampling training, word vectors.
 *
 * Corpus: any text file; a line is a sentence (windows never cross a line).  The tokenizer splits on
 * everything but letters, digits, bytes >= 0x80 (UTF-8) and apostrophes/hyphens inside a word, and
 * lowercases ASCII.  clg_vocab_build() streams the file once: memory grows with the vocabulary, not
 * with the corpus.  Words are sorted by decreasing count (ties by byte order), so ids are stable.
 *
 * Training (clg_sgns_train) streams the corpus once per epoch; the host subsamples frequent words
 * (word2vec: keep with probability (sqrt(f/(s*T)) + 1) * s*T/f), draws each centre's reduced window
 * b in [1, window] and K negatives from a unigram^0.75 table, and uploads a chunk of positions.  One
 * kernel launch trains a chunk: one work-item per centre position, whose K negatives are shared by
 * every context of its window (Ji et al., "Parallelizing Word2Vec in Shared and Distributed Memory"),
 * so the K+1 output rows stay in cache while the window's context rows are updated.  The input and
 * output matrices stay resident on the device for the whole run; only the chunk (ids, spans,
 * negatives) goes up and the per-position loss comes back.  The learning rate decays linearly from lr
 * to lr*1e-4 over all epochs' words.
 *
 * Determinism: the host side (vocabulary, subsampling, windows, negatives, initial weights) is a pure
 * function of the seed.  Work-items of one chunk update shared rows without locks (Hogwild), so on a
 * device that runs work-groups in parallel (PoCL with several threads) results are not bit-exact from
 * run to run; with a single compute unit they are.  The deterministic option launches one work-group
 * at a time (a CPU runtime runs a work-group on one thread in a fixed order), which makes a run
 * bit-exact given the seed on CPU devices at the cost of one core; on a GPU the lanes of a
 * work-group still race.
 *
 * Across ranks (clgrad/dist.h, under mpirun): every rank builds the same vocabulary from the whole
 * corpus (checked by digest), takes the r-th of N equal byte ranges of the file, cut at line starts,
 * and trains on it with its own random stream and the learning-rate schedule over its part's words.
 * Rank 0's initial matrices go to every rank; every sync_words words of its part (the count of syncs
 * per epoch agreed by all ranks) and at each epoch's end every rank's changes since the last sync
 * are summed onto the matrices as they were then (clg_sgns_sync), so every rank ends with the same
 * vectors and every word gets the updates of every rank, as in one process (a few syncs stale).
 * Averaging the matrices instead gave each word 1/N of its one-process step and measurably worse
 * analogies on GCIDE (tools/BENCHMARKS.md).  No resume across ranks.
 *
 * Vectors: clg_vectors holds words and a row-major n x dim float matrix; it reads and writes the
 * word2vec/fastText text (.vec) and binary formats.  clg_vec_index puts unit-normalised rows on the
 * device for cosine queries (the l2_normalize and transpose ops once;
 * one matmul op per query).
 */
#ifndef CLGRAD_SGNS_H
#define CLGRAD_SGNS_H

#include <stdint.h>
#include "clgrad/status.h"
#include "clgrad/device.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

#define CLG_SGNS_MAX_DIM 512
#define CLG_SGNS_MAX_NEGATIVE 64
/* Longest word, in bytes: a longer corpus token or .vec word is CLG_ERR_FORMAT (never cut short). */
#define CLG_SGNS_MAX_WORD 1000

/* ---- vocabulary ---------------------------------------------------------- */

typedef struct clg_vocab clg_vocab;

/* Count the words of a text file; keep those seen >= min_count times.  An empty result (no word
 * reaches min_count) or a word longer than CLG_SGNS_MAX_WORD bytes is CLG_ERR_FORMAT naming the line;
 * an unreadable file, or one that is not a regular file (a FIFO: training reads the corpus once per
 * epoch), CLG_ERR_IO. */
clg_status clg_vocab_build(const char *path, int min_count, clg_vocab **out);
void clg_vocab_free(clg_vocab *v);
int clg_vocab_size(const clg_vocab *v);
const char *clg_vocab_word(const clg_vocab *v, int id);
int64_t clg_vocab_count(const clg_vocab *v, int id);
/* Tokens of the file, all words (including those below min_count). */
int64_t clg_vocab_total(const clg_vocab *v);
/* Id of a word, or -1. */
int clg_vocab_find(const clg_vocab *v, const char *word);

/* ---- the model, low level (used by training and by the tests) ------------- */

typedef struct clg_sgns clg_sgns;

/* Input (n_words x dim) and output matrices on the device: input uniform in (-0.5/dim, 0.5/dim)
 * from the seed, output zero. */
clg_status clg_sgns_create(clg_ctx *ctx, int n_words, int dim, int negative, uint64_t seed, clg_sgns **out);
void clg_sgns_destroy(clg_sgns *m);
/* Launch one work-group at a time (see the deterministic option above). */
void clg_sgns_set_deterministic(clg_sgns *m, int on);
/* Upload / download the matrices (row-major n_words x dim); either pointer may be NULL. */
clg_status clg_sgns_set_weights(clg_sgns *m, const float *in, const float *out);
clg_status clg_sgns_get_weights(clg_sgns *m, float *in, float *out);
/* Across the ranks of an MPI job (clgrad/dist.h; every rank calls them).  broadcast: rank 0's
 * matrices are copied to every rank, the common starting point of the next sync.  sync: both matrices
 * become that starting point plus the sum over the ranks of each rank's change since it, the same bits
 * on every rank, and the new starting point (mapped on CPU devices, else one read and one write of
 * both through one host buffer, around one MPI_Allreduce); CLG_ERR_STATE before any broadcast.  In a
 * job of one (or without MPI) they do nothing. */
clg_status clg_sgns_broadcast(clg_sgns *m);
clg_status clg_sgns_sync(clg_sgns *m);
/* One training launch over n positions: tok[n] word ids; span[2i], span[2i+1] the number of context
 * positions left and right of i (inside the chunk); neg[n*negative] the negatives of each position.
 * Ids are checked on the host.  *loss (may be NULL) gets the summed loss of the pairs, measured
 * before each update. */
clg_status clg_sgns_step(clg_sgns *m, const int *tok, const int *span, const int *neg, int n, float lr,
                         double *loss);

/* ---- training --------------------------------------------------------------- */

typedef struct clg_sgns_options {
    int dim;            /* 100 */
    int window;         /* 5 */
    int negative;       /* 5 */
    int epochs;         /* 5 */
    int min_count;      /* 5 */
    float lr;           /* 0.025 */
    double sample;      /* 1e-4; 0 disables subsampling */
    uint64_t seed;      /* 1 */
    int chunk;          /* positions per launch, 32768 */
    int deterministic;  /* 0; 1: one work-group per launch (bit-exact on CPU devices, slower) */
    int sync_words;     /* 1000000; across ranks: average the matrices every this many words of a part */
    const char *state_out; /* NULL; where to save the training state when the progress callback stops it */
    const char *state_in;  /* NULL; a state saved by an interrupted run of the same corpus and options:
                              continue it (bit for bit with deterministic on a CPU device).  Across
                              ranks: CLG_ERR_INVALID_ARG, and state_out is not used (see below) */
} clg_sgns_options;

clg_sgns_options clg_sgns_options_defaults(void);

/* Progress: words read so far (before subsampling) of words_total = epochs * corpus tokens, the
 * mean pair loss of the last chunk, the current learning rate.  Return non-zero to stop early:
 * with state_out set, training then saves its state there (a safetensors file: both matrices, the
 * corpus position, the random stream, the options and a digest of the vocabulary; written
 * atomically) and returns CLG_OK with *out NULL; without it, the vectors trained so far.  Across
 * ranks the progress is the rank's own part, and a stop is agreed at the next sync: every rank then
 * returns the (averaged) vectors trained so far. */
typedef int (*clg_sgns_progress_fn)(void *user, int64_t words_done, int64_t words_total, double loss, float lr);

typedef struct clg_vectors clg_vectors;

/* Build the vocabulary, train, and return the input vectors (one per vocabulary word).  A corpus with
 * fewer than 2 vocabulary words, with no line holding two of them, or whose every pair subsampling
 * dropped is CLG_ERR_FORMAT: nothing would be trained. */
clg_status clg_sgns_train(clg_ctx *ctx, const char *corpus, const clg_sgns_options *opt,
                          clg_sgns_progress_fn progress, void *user, clg_vectors **out);

/* ---- word vectors ----------------------------------------------------------- */

struct clg_vectors {
    int n, dim;
    char **words;       /* n owned strings */
    float *data;        /* n x dim, row-major */
};

typedef enum clg_vec_format { CLG_VEC_AUTO = 0, CLG_VEC_TEXT = 1, CLG_VEC_BINARY = 2 } clg_vec_format;

/* Text: "n dim\n" then "word v1 ... vdim\n" (floats printed with 9 significant digits: exact).
 * Binary (word2vec): "n dim\n" then per word "word " + dim little-endian float32 + "\n". */
clg_status clg_vectors_save(const clg_vectors *v, const char *path, clg_vec_format fmt);
/* AUTO tells the formats apart by the first record (a word and numbers: text).  Strict: CLG_ERR_FORMAT
 * with the line / record number for a malformed or truncated file, a word count in the header that
 * differs from the rows, a row with more or fewer values than the header's dim, a NaN or infinite
 * value, a text value out of float range, a word longer than CLG_SGNS_MAX_WORD bytes, and a word that
 * appears twice (naming both rows).  Only regular files are read (a FIFO is CLG_ERR_IO). */
clg_status clg_vectors_load(const char *path, clg_vec_format fmt, clg_vectors **out);
void clg_vectors_free(clg_vectors *v);
/* Id of a word; unknown: CLG_ERR_INVALID_ARG "unknown word 'x'". */
clg_status clg_vectors_find(const clg_vectors *v, const char *word, int *id);

/* Soft dictionary lookup: w = softmax(q . k_i / temperature) over the n keys (raw dot products),
 * merged = sum_i w_i value_i.  weights[n], merged[dim]. */
clg_status clg_vectors_soft_lookup(const clg_vectors *v, int query, const int *keys, const int *values, int n,
                                   float temperature, double *weights, float *merged);

/* Unit-normalised rows on the device for cosine nearest-neighbour queries. */
typedef struct clg_vec_index clg_vec_index;
clg_status clg_vec_index_create(clg_ctx *ctx, const clg_vectors *v, clg_vec_index **out);
void clg_vec_index_destroy(clg_vec_index *ix);
/* The k rows most cosine-similar to q (dim floats, any length), best first, skipping the ids in
 * exclude[n_exclude].  Fewer than k when the vocabulary is small: *n_found says how many. */
clg_status clg_vec_index_nearest(clg_vec_index *ix, const float *q, int k, const int *exclude, int n_exclude,
                                 int *ids, float *scores, int *n_found);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
