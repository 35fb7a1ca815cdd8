/* clip.h — what `train clip`, `zeroshot` and `search` share: the class texts, embeddings through a
 * CLIP graph, and zero-shot accuracy. */
#ifndef CLGRAD_TOOLS_CLIP_H
#define CLGRAD_TOOLS_CLIP_H

#include "captions.h"
#include "clgrad/clgrad.h"
#include "clgrad/models.h"

#define CLIP_DICT "/usr/share/dictd/gcide.dict.dz"
#define CLIP_INDEX "/usr/share/dictd/gcide.index"
#define CLIP_PER_WORD 2
#define CLIP_CLASSES 10

/* The text side: every class's caption vectors (the mean word vectors of its captions that have a
 * known word). */
typedef struct clip_texts {
    captions caps;
    int dim;
    int count[CLIP_CLASSES];                          /* usable captions per class */
    float *vec[CLIP_CLASSES];                         /* count[c] x dim, owned */
} clip_texts;

/* Captions from the dictionary, vectors from the .vec file.  Prints and returns 1 on failure. */
int clip_texts_load(const char *cmd, const char *dict, const char *index, const char *vectors, clg_vectors **v,
                    clip_texts *t);
void clip_texts_free(clip_texts *t);

/* "sandal,shirt" (names of captions_fashion, case-insensitive, or label numbers) into mask[10];
 * prints and returns 1 on failure. */
int clip_parse_classes(const char *cmd, const char *opt, const char *s, int *mask);

/* Unit-normalised embeddings of n rows of images (dim enc[0]) or text features (dim text_dim)
 * through m (forward only), into out[n, embed]. */
clg_status clip_embed_images(clg_clip *m, const float *images, int n, float *out);
clg_status clip_embed_texts(clg_clip *m, const float *feats, int n, float *out);

/* Class keys: per class, the normalised mean of its captions' normalised embeddings (a prompt
 * ensemble), keys[10, embed]. */
clg_status clip_class_keys(clg_clip *m, const clip_texts *t, float *keys);

/* Accuracy of the nearest key among the classes in `among` over the test images whose label is in
 * `of` (emb: n x E unit rows); *count gets the number of such images.  bias (NULL: none) is
 * subtracted from class c's cosine (calibrated stacking for seen classes). */
double clip_accuracy(const float *emb, const int32_t *labels, int n, int E, const float *keys, const int *of,
                     const int *among, const double *bias, int *count);

#endif
