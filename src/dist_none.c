/* dist_none.c — clgrad/dist.h without MPI: one process, rank 0 of a job of one. */
#include "dist_internal.h"
#include "internal.h"

int clg_dist_available(void) { return 0; }
clg_status clg_dist_init(int *argc, char ***argv) { (void)argc; (void)argv; return CLG_OK; }
clg_status clg_dist_finalize(void) { return CLG_OK; }
int clg_dist_rank(void) { return 0; }
int clg_dist_size(void) { return 1; }
int clg_dist_local_rank(void) { return 0; }
int clg_dist_local_size(void) { return 1; }
void clg_dist_abort(int code) { (void)code; }
clg_status clg_dist_max_int(int *v)
{
    return v ? CLG_OK : clg__fail(CLG_ERR_INVALID_ARG, "clg_dist_max_int: NULL argument");
}
clg_status clg_dist_barrier(void) { return CLG_OK; }

int clg__dist_active(void) { return 0; }

clg_status clg__dist_allreduce_scaled(float *x, size_t n, float scale, const char *who)
{
    (void)who;
    for (size_t i = 0; i < n; i++)
        x[i] *= scale;
    return CLG_OK;
}

clg_status clg__dist_bcast(void *buf, size_t bytes, const char *who)
{
    (void)buf;
    (void)bytes;
    (void)who;
    return CLG_OK;
}

clg_status clg_dist_allreduce_mean_f32(float *buf, size_t n)
{
    return !buf && n ? clg__fail(CLG_ERR_INVALID_ARG, "clg_dist_allreduce_mean_f32: NULL buffer") : CLG_OK;
}
