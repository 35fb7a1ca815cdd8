/* ref_reduce.c — double-precision references of the reduce ops. */
#include <math.h>
#include "ref_ops.h"

int ref_sum(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_mean(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_softmax(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
int ref_log_softmax(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)in; (void)a; (void)out; return -1; }
