/* ref_random.c — double-precision references of the random ops. */
#include <math.h>
#include "ref_ops.h"

int ref_random_uniform(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_random_normal(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_patch_mask(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_dropout(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
