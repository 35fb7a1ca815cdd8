/* example.c — a program outside the tree using clgrad through its installed headers and
 * pkg-config only: train a small MLP on a made-up task for a few steps and check the loss falls.
 *
 *   cc example.c $(pkg-config --cflags --libs clgrad) -o example && ./example [DEVICE]
 */
#include <stdio.h>
#include <stdlib.h>

#include <clgrad/clgrad.h>

static int fail(const char *what, clg_status st)
{
    fprintf(stderr, "example: %s: %s (%s)\n", what, clg_last_error(), clg_status_name(st));
    return 1;
}

int main(int argc, char **argv)
{
    enum { B = 32, IN = 8, CLASSES = 4, STEPS = 60 };
    clg_device_info dev;
    clg_ctx *ctx = NULL;
    clg_mlp m = { 0 };
    clg_status st;
    int rc = 1;
    if ((st = clg_device_select(argc > 1 ? argv[1] : NULL, &dev)))
        return fail("device", st);
    if ((st = clg_ctx_create(&dev, NULL, &ctx)))
        return fail("context", st);
    int widths[] = { IN, 16, CLASSES };
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    oo.lr = 0.01f;
    if ((st = clg_mlp_build(ctx, widths, 3, B, 1, &m)) || (st = clg_graph_set_optimizer(m.g, &oo)) ||
        (st = clg_graph_plan(m.g, CLG_PLAN_TRAIN))) {
        fail("model", st);
        goto out;
    }
    /* the class is the index of the largest of the first CLASSES inputs */
    float x[B * IN];
    int32_t y[B];
    unsigned s = 1;
    float first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int r = 0; r < B; r++) {
            y[r] = 0;
            for (int i = 0; i < IN; i++) {
                s = s * 1664525u + 1013904223u;
                x[r * IN + i] = (float)(s >> 8) / 16777216.0f;
                if (i < CLASSES && x[r * IN + i] > x[r * IN + y[r]])
                    y[r] = i;
            }
        }
        float loss;
        if ((st = clg_graph_set_input(m.g, m.x, x)) || (st = clg_graph_set_input(m.g, m.labels, y)) ||
            (st = clg_graph_step(m.g, &loss))) {
            fail("step", st);
            goto out;
        }
        if (step == 0)
            first = loss;
        last = loss;
    }
    printf("clgrad %s on %s: loss %.4f -> %.4f after %d steps\n", CLGRAD_VERSION_STRING, dev.name, first, last, STEPS);
    rc = last < first ? 0 : 1;
out:
    clg_mlp_free(&m);
    clg_ctx_destroy(ctx);
    return rc;
}
