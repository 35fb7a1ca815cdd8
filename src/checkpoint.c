/* checkpoint.c — graph parameters and optimizer state to and from safetensors files. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "clgrad/checkpoint.h"

static const struct {
    clg_param_state which;
    const char *suffix;
} state_names[] = {
    { CLG_STATE_VELOCITY, ".velocity" },
    { CLG_STATE_ADAM_M, ".adam_m" },
    { CLG_STATE_ADAM_V, ".adam_v" },
};
#define N_STATES ((int)(sizeof state_names / sizeof state_names[0]))

clg_status clg_checkpoint_save(clg_graph *g, const char *path, const char *const *meta_kv)
{
    if (!g || !path)
        return clg__fail(CLG_ERR_INVALID_ARG, "checkpoint save: NULL argument");
    int np = clg_graph_param_count(g);
    int cap = np * (1 + N_STATES);
    clg_st_tensor *t = calloc((size_t)(cap ? cap : 1), sizeof *t);
    char **names = calloc((size_t)(cap ? cap : 1), sizeof *names);
    void **bufs = calloc((size_t)(cap ? cap : 1), sizeof *bufs);
    const char **meta = NULL;
    clg_status st = CLG_OK;
    int n = 0;
    if (!t || !names || !bufs) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "checkpoint save: out of host memory");
        goto out;
    }
    for (int p = 0; p < np; p++) {
        clg_shape s;
        if ((st = clg_graph_param_shape(g, p, &s)))
            goto out;
        const char *pname = clg_graph_param_name(g, p);
        size_t bytes = (size_t)clg_shape_numel(&s) * 4;
        for (int k = -1; k < N_STATES; k++) {
            clg_tensor *dt = NULL;
            if (k >= 0) {
                if ((st = clg_graph_param_tensor(g, p, state_names[k].which, &dt)))
                    goto out;
                if (!dt)
                    continue;
            }
            size_t nl = strlen(pname) + 16;
            names[n] = malloc(nl);
            bufs[n] = malloc(bytes ? bytes : 4);
            if (!names[n] || !bufs[n]) {
                st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "checkpoint save: out of host memory");
                n++;
                goto out;
            }
            snprintf(names[n], nl, "%s%s", pname, k >= 0 ? state_names[k].suffix : "");
            st = k < 0 ? clg_graph_param_read(g, p, bufs[n]) : clg_tensor_read(dt, bufs[n]);
            if (st) {
                n++;
                goto out;
            }
            t[n].name = names[n];
            t[n].dtype = CLG_F32;
            t[n].ndim = s.ndim;
            memcpy(t[n].shape, s.dim, sizeof s.dim);
            t[n].data = bufs[n];
            n++;
        }
    }
    int nm = 0;
    while (meta_kv && meta_kv[2 * nm])
        nm++;
    meta = calloc((size_t)(2 * nm + 5), sizeof *meta);
    if (!meta) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "checkpoint save: out of host memory");
        goto out;
    }
    char stepbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "%" PRId64, clg_graph_step_count(g));
    int k = 0;
    meta[k++] = "format";
    meta[k++] = "clgrad-checkpoint-1";
    meta[k++] = "step";
    meta[k++] = stepbuf;
    for (int i = 0; i < nm; i++) {
        if (!strcmp(meta_kv[2 * i], "format") || !strcmp(meta_kv[2 * i], "step"))
            continue;
        meta[k++] = meta_kv[2 * i];
        meta[k++] = meta_kv[2 * i + 1] ? meta_kv[2 * i + 1] : "";
    }
    meta[k] = NULL;
    st = clg_safetensors_write(path, t, n, meta);
out:
    for (int i = 0; i < n; i++) {
        free(names[i]);
        free(bufs[i]);
    }
    free(t);
    free(names);
    free(bufs);
    free(meta);
    return st;
}

static clg_status check_tensor(const char *path, const char *name, const clg_st_tensor *ft, const clg_shape *s)
{
    clg_shape fs = clg_shape_make(ft->dtype, ft->ndim, ft->shape);
    if (!clg_shape_equal(&fs, s)) {
        char a[96], b[96];
        return clg__fail(CLG_ERR_SHAPE, "checkpoint %s: tensor '%s' is %s in the file but %s in the model", path,
                         name, clg_shape_str(&fs, a, sizeof a), clg_shape_str(s, b, sizeof b));
    }
    return CLG_OK;
}

clg_status clg_checkpoint_load(clg_graph *g, const char *path, int flags, int *n_loaded)
{
    if (!g || !path)
        return clg__fail(CLG_ERR_INVALID_ARG, "checkpoint load: NULL argument");
    if (n_loaded)
        *n_loaded = 0;
    clg_st_file *f = NULL;
    clg_status st = clg_safetensors_open(path, &f);
    if (st)
        return st;
    int np = clg_graph_param_count(g), loaded = 0;
    /* pass 0 checks everything, pass 1 writes */
    for (int pass = 0; pass < 2; pass++) {
        for (int p = 0; p < np; p++) {
            const char *pname = clg_graph_param_name(g, p);
            clg_shape s;
            if ((st = clg_graph_param_shape(g, p, &s)))
                goto out;
            clg_st_tensor ft;
            if (clg_safetensors_find(f, pname, &ft) != CLG_OK) {
                if (flags & CLG_LOAD_PARTIAL)
                    continue;
                st = clg__fail(CLG_ERR_FORMAT, "checkpoint %s has no tensor '%s' (the model's parameter %d)", path,
                               pname, p);
                goto out;
            }
            if ((st = check_tensor(path, pname, &ft, &s)))
                goto out;
            if (pass == 1) {
                if ((st = clg_graph_param_write(g, p, ft.data)))
                    goto out;
                loaded++;
            }
            if (!(flags & CLG_LOAD_OPTIM_STATE))
                continue;
            for (int k = 0; k < N_STATES; k++) {
                clg_tensor *dt = NULL;
                if ((st = clg_graph_param_tensor(g, p, state_names[k].which, &dt)))
                    goto out;
                if (!dt)
                    continue;
                char nm[256];
                snprintf(nm, sizeof nm, "%s%s", pname, state_names[k].suffix);
                if (clg_safetensors_find(f, nm, &ft) != CLG_OK) {
                    st = clg__fail(CLG_ERR_FORMAT, "checkpoint %s has no optimizer state '%s'", path, nm);
                    goto out;
                }
                if ((st = check_tensor(path, nm, &ft, &s)))
                    goto out;
                if (pass == 1 && (st = clg_tensor_write(dt, ft.data)))
                    goto out;
            }
        }
    }
    if (flags & CLG_LOAD_OPTIM_STATE) {
        const char *step = clg_safetensors_meta(f, "step");
        if (step)
            clg_graph_set_step_count(g, strtoll(step, NULL, 10));
    }
    if (n_loaded)
        *n_loaded = loaded;
    st = CLG_OK;
    clg__clear_error();
out:
    clg_safetensors_close(f);
    return st;
}
