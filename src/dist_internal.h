/* dist_internal.h — what the graph runtime needs from the MPI layer (dist_mpi.c, or dist_none.c
 * without MPI), so that no graph file includes mpi.h. */
#ifndef CLGRAD_DIST_INTERNAL_H
#define CLGRAD_DIST_INTERNAL_H

#include <stddef.h>

#include "clgrad/dist.h"

/* 1 when MPI is initialised and the job has more than one rank. */
int clg__dist_active(void);
/* In place on every rank: x[0..n) becomes the sum over the ranks times scale. */
clg_status clg__dist_allreduce_scaled(float *x, size_t n, float scale, const char *who);
/* Rank 0's bytes to every rank. */
clg_status clg__dist_bcast(void *buf, size_t bytes, const char *who);

#endif
