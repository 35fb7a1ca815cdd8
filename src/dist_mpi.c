/* dist_mpi.c — clgrad/dist.h on MPI: the only file that includes mpi.h.  Communicator errors
 * return codes (MPI_ERRORS_RETURN) that become CLG_ERR_DIST with MPI's message. */
#include <limits.h>
#include <mpi.h>

#include "dist_internal.h"
#include "internal.h"

static int g_inited;    /* we called MPI_Init */
static int g_rank, g_size = 1, g_local_rank, g_local_size = 1;

static clg_status mpi_fail(int err, const char *who, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(err, msg, &len);
    clg_status st = clg__fail(CLG_ERR_DIST, "%s: %s on rank %d of %d: %s", who, call, g_rank, g_size, msg);
    clg__set_raw(err);
    return st;
}

static int mpi_up(void)
{
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    return up && !down;
}

int clg_dist_available(void) { return 1; }

clg_status clg_dist_init(int *argc, char ***argv)
{
    int err;
    if (!mpi_up()) {
        int provided;
        if ((err = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
            return mpi_fail(err, "clg_dist_init", "MPI_Init_thread");
        g_inited = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm local;
    if ((err = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local)) !=
        MPI_SUCCESS)
        return mpi_fail(err, "clg_dist_init", "MPI_Comm_split_type");
    MPI_Comm_rank(local, &g_local_rank);
    MPI_Comm_size(local, &g_local_size);
    MPI_Comm_free(&local);
    return CLG_OK;
}

clg_status clg_dist_finalize(void)
{
    if (!g_inited || !mpi_up())
        return CLG_OK;
    g_inited = 0;
    int err = MPI_Finalize();
    return err == MPI_SUCCESS ? CLG_OK : mpi_fail(err, "clg_dist_finalize", "MPI_Finalize");
}

int clg_dist_rank(void) { return g_rank; }
int clg_dist_size(void) { return g_size; }
int clg_dist_local_rank(void) { return g_local_rank; }
int clg_dist_local_size(void) { return g_local_size; }

void clg_dist_abort(int code)
{
    if (mpi_up())
        MPI_Abort(MPI_COMM_WORLD, code);
}

clg_status clg_dist_max_int(int *v)
{
    if (!v)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_dist_max_int: NULL argument");
    if (!mpi_up())
        return CLG_OK;
    int err = MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return err == MPI_SUCCESS ? CLG_OK : mpi_fail(err, "clg_dist_max_int", "MPI_Allreduce");
}

clg_status clg_dist_barrier(void)
{
    if (!mpi_up())
        return CLG_OK;
    int err = MPI_Barrier(MPI_COMM_WORLD);
    return err == MPI_SUCCESS ? CLG_OK : mpi_fail(err, "clg_dist_barrier", "MPI_Barrier");
}

int clg__dist_active(void) { return g_size > 1 && mpi_up(); }

/* MPI counts are int: larger buffers go in chunks. */
#define CHUNK ((size_t)1 << 30)

clg_status clg__dist_allreduce_scaled(float *x, size_t n, float scale, const char *who)
{
    if (clg__dist_active()) {
        for (size_t i = 0; i < n; i += CHUNK) {
            int c = (int)(n - i < CHUNK ? n - i : CHUNK);
            int err = MPI_Allreduce(MPI_IN_PLACE, x + i, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            if (err != MPI_SUCCESS)
                return mpi_fail(err, who, "MPI_Allreduce");
        }
    }
    if (scale != 1.0f)
        for (size_t i = 0; i < n; i++)
            x[i] *= scale;
    return CLG_OK;
}

clg_status clg__dist_bcast(void *buf, size_t bytes, const char *who)
{
    if (!clg__dist_active())
        return CLG_OK;
    for (size_t i = 0; i < bytes; i += CHUNK) {
        int c = (int)(bytes - i < CHUNK ? bytes - i : CHUNK);
        int err = MPI_Bcast((char *)buf + i, c, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS)
            return mpi_fail(err, who, "MPI_Bcast");
    }
    return CLG_OK;
}

clg_status clg_dist_allreduce_mean_f32(float *buf, size_t n)
{
    if (!buf && n)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_dist_allreduce_mean_f32: NULL buffer");
    if (!clg__dist_active())
        return CLG_OK;
    return clg__dist_allreduce_scaled(buf, n, 1.0f / (float)g_size, "clg_dist_allreduce_mean_f32");
}
