/* captions.h — class captions for the CLIP-style model: each Fashion-MNIST class's name and its GCIDE
 * definitions ("sandal: a kind of shoe consisting of a sole strapped to the foot ..."), and the frozen
 * text encoder's host half: a caption's vector is the mean of its words' unit word vectors. */
#ifndef CLGRAD_TOOLS_CAPTIONS_H
#define CLGRAD_TOOLS_CAPTIONS_H

#include <stddef.h>

#include "clgrad/sgns.h"

#define CAPTIONS_MAX_CLASSES 16
#define CAPTIONS_MAX_PER_CLASS 16

/* A class: its display name (first caption, alone) and up to 4 dictionary headwords whose noun
 * senses give the other captions. */
typedef struct caption_class {
    const char *name;
    const char *headwords[4];
} caption_class;

/* The ten Fashion-MNIST classes in label order, with the headwords chosen for them. */
extern const caption_class captions_fashion[10];

typedef struct captions {
    int n_classes;
    int count[CAPTIONS_MAX_CLASSES];                      /* captions of class c */
    char *text[CAPTIONS_MAX_CLASSES][CAPTIONS_MAX_PER_CLASS]; /* owned, lowercase */
} captions;

/* Build the captions of n classes from a dictd dictionary (dict: gzip/dictzip or plain text) and its
 * index (word TAB base64-offset TAB base64-length).  Class c gets "name" and, per headword, up to
 * per_word definitions of its noun entries (senses "1.", "(a)" or an unnumbered first one; citations,
 * phrases and notes skipped) that mention a garment or carrying word (garment, worn, shoe, foot, sack,
 * ...), each as "name: definition".  Returns 0, or 1 with the reason in err. */
int captions_build(const char *dict, const char *index, const caption_class *cls, int n, int per_word,
                   captions *out, char *err, size_t errlen);
void captions_free(captions *c);

/* The text encoder's frozen half: out[dim] = mean over the text's known words (stop words skipped)
 * of their unit-normalised vectors; returns the number of words used (0: out is zeros). */
int captions_embed(const clg_vectors *v, const char *text, float *out);

#endif
