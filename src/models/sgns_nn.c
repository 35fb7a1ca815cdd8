/* sgns_nn.c — queries on word vectors: the cosine nearest-neighbour index on the device (through the L2_NORMALIZE, TRANSPOSE and MATMUL ops) and the soft lookup on the host. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "clgrad/ops.h"
#include "clgrad/sgns.h"
#include "clgrad/tensor.h"

/* ---- soft lookup ------------------------------------------------------------------ */

clg_status clg_vectors_soft_lookup(const clg_vectors *v, int query, const int *keys, const int *values, int n,
                                   float temperature, double *weights, float *merged)
{
    if (!v || !keys || !values || !weights || !merged || n < 1 || !(temperature > 0))
        return clg__fail(CLG_ERR_INVALID_ARG, "soft_lookup: need vectors, n >= 1 keys/values (got %d), temperature > 0 (got %g)",
                         n, (double)temperature);
    int ids[3] = { query };
    for (int i = -1; i < n; i++) {
        ids[0] = i < 0 ? query : keys[i];
        ids[1] = i < 0 ? query : values[i];
        for (int j = 0; j < 2; j++)
            if (ids[j] < 0 || ids[j] >= v->n)
                return clg__fail(CLG_ERR_INDEX, "soft_lookup: word id %d outside 0..%d", ids[j], v->n - 1);
    }
    const float *q = v->data + (size_t)query * v->dim;
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        const float *k = v->data + (size_t)keys[i] * v->dim;
        double s = 0;
        for (int d = 0; d < v->dim; d++)
            s += (double)q[d] * k[d];
        weights[i] = s / temperature;
        mx = fmax(mx, weights[i]);
    }
    double z = 0;
    for (int i = 0; i < n; i++)
        z += (weights[i] = exp(weights[i] - mx));
    for (int i = 0; i < n; i++)
        weights[i] /= z;
    for (int d = 0; d < v->dim; d++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += weights[i] * v->data[(size_t)values[i] * v->dim + d];
        merged[d] = (float)s;
    }
    return CLG_OK;
}

/* ---- nearest neighbours on the device ----------------------------------------- */

/* Built once: the vectors made unit length by the L2_NORMALIZE op, then stored transposed by the
 * TRANSPOSE op.  A query is normalised on the host (in double) and scored by one MATMUL,
 * q[1,dim]·rows[dim,n], whose n cosines come back to be ranked on the host.  In that layout the GEMM
 * kernels' vector lanes run along the words: of rows·qᵀ, rows·q (nn) and this, the fastest on PoCL and
 * rusticl, though still slower per query than a dedicated matrix-vector kernel (GEMM tiles assume M > 1). */
struct clg_vec_index {
    clg_ctx *ctx;
    int n, dim;
    clg_tensor rows;        /* f32[dim, n]: column i is word i's unit vector (zero rows stay zero) */
    clg_tensor q;           /* f32[1, dim], the unit query */
    clg_tensor scores;      /* f32[1, n] */
    float *qhost, *shost;
};

void clg_vec_index_destroy(clg_vec_index *ix)
{
    if (!ix)
        return;
    clg_tensor_free(&ix->rows);
    clg_tensor_free(&ix->q);
    clg_tensor_free(&ix->scores);
    free(ix->qhost);
    free(ix->shost);
    free(ix);
}

clg_status clg_vec_index_create(clg_ctx *ctx, const clg_vectors *v, clg_vec_index **out)
{
    if (!ctx || !v || !out || v->n < 1 || v->dim < 1)
        return clg__fail(CLG_ERR_INVALID_ARG, "vec_index: need a ctx and at least one vector");
    *out = NULL;
    clg_vec_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "vec_index: struct");
    ix->ctx = ctx;
    ix->n = v->n;
    ix->dim = v->dim;
    ix->qhost = malloc((size_t)v->dim * sizeof(float));
    ix->shost = malloc((size_t)v->n * sizeof(float));
    if (!ix->qhost || !ix->shost) {
        clg_vec_index_destroy(ix);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "vec_index: %d x %d staging", v->n, v->dim);
    }
    clg_shape rs = clg_shape_make(CLG_F32, 2, (int64_t[]){ v->n, v->dim });
    clg_shape ts = clg_shape_make(CLG_F32, 2, (int64_t[]){ v->dim, v->n });
    clg_shape qs = clg_shape_make(CLG_F32, 2, (int64_t[]){ 1, v->dim });
    clg_shape ss = clg_shape_make(CLG_F32, 2, (int64_t[]){ 1, v->n });
    clg_tensor raw = { 0 }, unit = { 0 };
    clg_status st;
    /* at most two n x dim copies at a time: each is waited for, then freed */
    if ((st = clg_tensor_new(ctx, &rs, &raw)) || (st = clg_tensor_write(&raw, v->data)) ||
        (st = clg_tensor_new(ctx, &rs, &unit)) ||
        (st = clg_op_forward(ctx, CLG_OP_L2_NORMALIZE, (const clg_tensor *[]){ &raw }, &unit, NULL)) ||
        (st = clg_ctx_finish(ctx)))
        goto fail;
    clg_tensor_free(&raw);
    if ((st = clg_tensor_new(ctx, &ts, &ix->rows)) ||
        (st = clg_op_forward(ctx, CLG_OP_TRANSPOSE, (const clg_tensor *[]){ &unit }, &ix->rows, NULL)) ||
        (st = clg_ctx_finish(ctx)))
        goto fail;
    clg_tensor_free(&unit);
    if ((st = clg_tensor_new(ctx, &qs, &ix->q)) || (st = clg_tensor_new(ctx, &ss, &ix->scores)))
        goto fail;
    *out = ix;
    return CLG_OK;
fail:
    clg_tensor_free(&raw);
    clg_tensor_free(&unit);
    clg_vec_index_destroy(ix);
    return st;
}

clg_status clg_vec_index_nearest(clg_vec_index *ix, const float *q, int k, const int *exclude, int n_exclude, int *ids,
                                 float *scores, int *n_found)
{
    if (!ix || !q || !ids || !scores || !n_found || k < 1 || n_exclude < 0 || (n_exclude && !exclude))
        return clg__fail(CLG_ERR_INVALID_ARG, "vec_index_nearest: NULL argument or k < 1 (%d)", k);
    double ss = 0;
    for (int d = 0; d < ix->dim; d++)
        ss += (double)q[d] * q[d];
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int d = 0; d < ix->dim; d++)
        ix->qhost[d] = q[d] * inv;
    clg_attrs at = clg_attrs_defaults();
    clg_status st;
    if ((st = clg_tensor_write(&ix->q, ix->qhost)) ||
        (st = clg_op_forward(ix->ctx, CLG_OP_MATMUL, (const clg_tensor *[]){ &ix->q, &ix->rows }, &ix->scores, &at)) ||
        (st = clg_tensor_read(&ix->scores, ix->shost)))
        return st;
    int found = 0;
    for (int i = 0; i < ix->n; i++) {
        float s = ix->shost[i];
        int skip = 0;
        for (int e = 0; e < n_exclude; e++)
            skip |= exclude[e] == i;
        if (skip || (found == k && !(s > scores[k - 1])))
            continue;
        int p = found < k ? found++ : k - 1;
        while (p > 0 && scores[p - 1] < s) {
            scores[p] = scores[p - 1];
            ids[p] = ids[p - 1];
            p--;
        }
        scores[p] = s;
        ids[p] = i;
    }
    *n_found = found;
    return CLG_OK;
}
