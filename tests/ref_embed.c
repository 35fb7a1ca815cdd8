/* ref_embed.c — double-precision references of the embed ops. */
#include <math.h>
#include "ref_ops.h"

int ref_embedding(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_l2_normalize(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_similarity(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_similarity_matrix(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_contrastive_loss(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_attention_lookup(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
