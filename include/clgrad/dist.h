/* clgrad/dist.h — data-parallel training across processes (MPI, optional at build time).
 *
 * One process per device, started by `mpirun -n N` (several machines: `--hostfile`).  Each rank
 * builds the same graph with its share of the global batch (B / N rows), marks it distributed
 * (clg_graph_set_distributed), and broadcasts rank 0's parameters once after init, --from or
 * resume (clg_graph_broadcast_params).  Every clg_graph_step then averages the gradient arena
 * across the ranks between backward and the optimizer (one read to the host, or a map on CPU
 * devices, an MPI_Allreduce, one write back), so clipping sees the averaged gradient and every
 * rank applies the same update: the ranks' parameters stay bit-identical.
 *
 * Without MPI (built with -Dmpi=disabled or no MPI found) the functions behave as one process of
 * rank 0 in a job of size 1; clg_dist_available() says which.  Errors are clg_status values
 * (CLG_ERR_DIST carries the MPI error code in clg_last_raw_code()); nothing here prints, and only
 * clg_dist_abort, which a caller asks for, ends processes.
 */
#ifndef CLGRAD_DIST_H
#define CLGRAD_DIST_H

#include <stddef.h>

#include "clgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

/* 1 when the library was built with MPI. */
int clg_dist_available(void);
/* MPI_Init (threads: MPI_THREAD_FUNNELED) unless MPI is already initialised; call before any
 * OpenCL call (Open MPI's hwloc may load OpenCL drivers).  argc/argv may be NULL.  Without MPI:
 * CLG_OK, a job of one. */
clg_status clg_dist_init(int *argc, char ***argv);
/* MPI_Finalize if clg_dist_init initialised MPI; CLG_OK otherwise. */
clg_status clg_dist_finalize(void);
/* This process's rank in the job (0 before init and without MPI), the job's size (1), the rank
 * among the processes on this machine and their count (from MPI's shared-memory split). */
int clg_dist_rank(void);
int clg_dist_size(void);
int clg_dist_local_rank(void);
int clg_dist_local_size(void);
/* End every process of the job with exit status code (MPI_Abort); without MPI or before init,
 * returns and the caller exits.  For a program's fatal error: a rank that fails alone would leave
 * the others waiting in a collective. */
void clg_dist_abort(int code);
/* Collectives on a few host values, for programs that must agree (all ranks call them):
 * *v becomes the maximum of every rank's *v; the barrier waits for every rank. */
clg_status clg_dist_max_int(int *v);
clg_status clg_dist_barrier(void);
/* In place on every rank: buf[0..n) becomes the mean over the ranks (MPI_Allreduce sum, then times
 * 1/size), the same bits on every rank.  A job of one (or no MPI): buf unchanged.  For host copies of
 * device state that ranks average. */
clg_status clg_dist_allreduce_mean_f32(float *buf, size_t n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
