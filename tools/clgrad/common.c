/* common.c — what the training commands share: data loading, device opening, output paths, shuffling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

int cli_load_mnist(const char *dir, long train_limit, cli_data *d)
{
    memset(d, 0, sizeof *d);
    int r2, c2;
    clg_status st;
    if ((st = clg_mnist_load(dir, "train", &d->train_x, &d->train_y, &d->n_train, &d->rows, &d->cols)) ||
        (st = clg_mnist_load(dir, "t10k", &d->test_x, &d->test_y, &d->n_test, &r2, &c2))) {
        cli_fail("loading data", st);
        cli_data_free(d);
        return 1;
    }
    if (r2 != d->rows || c2 != d->cols) {
        fprintf(stderr, "clgrad: %s: train images are %dx%d but test images %dx%d\n", dir, d->rows, d->cols, r2, c2);
        cli_data_free(d);
        return 1;
    }
    if (train_limit > 0 && train_limit < d->n_train)
        d->n_train = (int)train_limit;
    return 0;
}

void cli_data_free(cli_data *d)
{
    free(d->train_x);
    free(d->train_y);
    free(d->test_x);
    free(d->test_y);
    memset(d, 0, sizeof *d);
}

int cli_open_device(const char *spec, clg_device_info *dev, clg_ctx **ctx)
{
    clg_status st;
    if ((st = clg_device_select(spec, dev)) || (st = clg_ctx_create(dev, NULL, ctx)))
        return cli_fail("device", st);
    return 0;
}

void cli_derive_paths(const char *out, cli_paths *p)
{
    char base[1024];
    snprintf(base, sizeof base, "%s", out);
    char *dot = strrchr(base, '.');
    if (dot && !strchr(dot, '/'))
        *dot = 0;
    snprintf(p->csv, sizeof p->csv, "%s.csv", base);
    snprintf(p->svg, sizeof p->svg, "%s.svg", base);
    snprintf(p->png, sizeof p->png, "%s.png", base);
}


void cli_shuffle(int *idx, int n, uint64_t *state)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(util_splitmix64(state) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

int cli_epoch_steps(int n, int B)
{
    return (n + B - 1) / B;
}

void cli_gather_batch(const int *order, int n, int step, int B, const float *x, int dim, const int32_t *y,
                      float *xb, int32_t *yb)
{
    for (int r = 0; r < B; r++) {
        int i = order[((size_t)step * (size_t)B + (size_t)r) % (size_t)n];
        memcpy(xb + (size_t)r * (size_t)dim, x + (size_t)i * (size_t)dim, (size_t)dim * sizeof(float));
        if (y && yb)
            yb[r] = y[i];
    }
}

int cli_graph_insight(clg_graph *g, const char *dot_path, int profile)
{
    clg_status st;
    if (dot_path) {
        FILE *f = fopen(dot_path, "w");
        if (!f) {
            fprintf(stderr, "clgrad: cannot write %s\n", dot_path);
            return 1;
        }
        st = clg_graph_dot(g, f);
        if (fclose(f) != 0 && !st) {
            fprintf(stderr, "clgrad: writing %s failed\n", dot_path);
            return 1;
        }
        if (st)
            return cli_fail("writing the graph", st);
    }
    if (profile && (st = clg_graph_set_profile(g, 1)))
        return cli_fail("profiling", st);
    return 0;
}
