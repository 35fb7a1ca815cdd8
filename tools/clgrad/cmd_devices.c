/* cmd_devices.c — `clgrad devices [--json] [--check]`: list devices; --check builds every program
 * and runs a probe kernel on each. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"

/* Build all programs and run y = 2x + y on 4097 elements; returns 0 on pass. */
static int check_device(const clg_device_info *d, char *why, size_t whysz, double *build_s)
{
    clg_ctx *ctx = NULL;
    clg_status st = clg_ctx_create(d, NULL, &ctx);
    if (st) {
        snprintf(why, whysz, "context: %s", clg_last_error());
        return 1;
    }
    int rc = 1;
    *build_s = 0;
    for (int i = 0; i < clg_program_count(); i++) {
        clg_build_report r;
        if ((st = clg_ctx_build_program(ctx, i, &r))) {
            snprintf(why, whysz, "%s", clg_last_error());
            goto out;
        }
        *build_s += r.seconds;
    }
    enum { N = 4097 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 97) - 40.0f;
    clg_shape s = clg_shape_make(CLG_F32, 1, (int64_t[]){ N });
    clg_tensor tx, ty;
    if ((st = clg_tensor_new(ctx, &s, &tx))) {
        snprintf(why, whysz, "%s", clg_last_error());
        goto out;
    }
    if ((st = clg_tensor_new(ctx, &s, &ty))) {
        clg_tensor_free(&tx);
        snprintf(why, whysz, "%s", clg_last_error());
        goto out;
    }
    clg_attrs a = clg_attrs_defaults();
    a.alpha = 2.0f;
    const clg_tensor *in[1] = { &tx };
    if (!(st = clg_tensor_write(&tx, x)) && !(st = clg_op_forward(ctx, CLG_OP_SCALE, in, &ty, &a)) &&
        !(st = clg_op_forward(ctx, CLG_OP_RELU, (const clg_tensor *[]){ &ty }, &tx, NULL)) &&
        !(st = clg_tensor_read(&tx, y)) && !(st = clg_ctx_finish(ctx))) {
        rc = 0;
        for (int i = 0; i < N; i++) {
            float want = x[i] > 0 ? 2 * x[i] : 0;
            if (fabsf(y[i] - want) > 0) {
                snprintf(why, whysz, "wrong result at %d: %g, expected %g", i, y[i], want);
                rc = 1;
                break;
            }
        }
    } else {
        snprintf(why, whysz, "%s", clg_last_error());
    }
    clg_tensor_free(&tx);
    clg_tensor_free(&ty);
out:
    clg_ctx_destroy(ctx);
    return rc;
}

int cmd_devices(int argc, char **argv)
{
    int json = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: clgrad devices [--json] [--check]\n"
                   "  --json   machine-readable output\n"
                   "  --check  build every kernel program and run a probe kernel on each device\n");
            return 0;
        } else {
            fprintf(stderr, "clgrad devices: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    clg_device_info *l;
    int n;
    clg_status st = clg_devices_list(&l, &n);
    if (st)
        return cli_fail("devices", st);
    clg_device_info best;
    int have_best = clg_device_select("auto", &best) == CLG_OK;
    int failures = 0;
    if (json)
        printf("[\n");
    else
        printf("%-4s %-4s %-36s %-28s %-14s %4s %6s %9s %9s %s\n", "id", "type", "device", "platform",
               "driver", "CUs", "MHz", "mem MiB", "alloc MiB", "OpenCL C");
    for (int i = 0; i < n; i++) {
        const clg_device_info *d = &l[i];
        int is_best = have_best && best.platform_index == d->platform_index &&
                      best.device_index == d->device_index;
        int ok = 1;
        char why[2048] = "";
        double build_s = 0;
        if (check)
            ok = check_device(d, why, sizeof why, &build_s) == 0;
        failures += !ok;
        if (json) {
            printf("  {\"id\": \"%d:%d\", \"type\": \"%s\", \"name\": ", d->platform_index, d->device_index,
                   clg_device_type_name(d->type));
            util_json_str(stdout, d->name);
            printf(", \"vendor\": ");
            util_json_str(stdout, d->vendor);
            printf(", \"platform\": ");
            util_json_str(stdout, d->platform_name);
            printf(", \"platform_version\": ");
            util_json_str(stdout, d->platform_version);
            printf(", \"driver_version\": ");
            util_json_str(stdout, d->driver_version);
            printf(", \"opencl_c_version\": ");
            util_json_str(stdout, d->opencl_c_version);
            printf(", \"compute_units\": %u, \"clock_mhz\": %u, \"global_mem\": %llu, \"local_mem\": %llu, "
                   "\"max_alloc\": %llu, \"max_work_group\": %zu, \"fp16\": %s, \"fp64\": %s, \"fma\": %s, \"default\": %s",
                   d->compute_units, d->clock_mhz, (unsigned long long)d->global_mem,
                   (unsigned long long)d->local_mem, (unsigned long long)d->max_alloc, d->max_work_group,
                   d->fp16 ? "true" : "false", d->fp64 ? "true" : "false", d->fma ? "true" : "false",
                   is_best ? "true" : "false");
            if (check) {
                printf(", \"check\": %s, \"build_seconds\": %.3f", ok ? "true" : "false", build_s);
                if (!ok) {
                    printf(", \"error\": ");
                    util_json_str(stdout, why);
                }
            }
            printf(", \"extensions\": ");
            util_json_str(stdout, d->extensions);
            printf("}%s\n", i + 1 < n ? "," : "");
        } else {
            char id[16];
            snprintf(id, sizeof id, "%d:%d%s", d->platform_index, d->device_index, is_best ? "*" : "");
            printf("%-4s %-4s %-36.36s %-28.28s %-14.14s %4u %6u %9llu %9llu %s\n", id,
                   clg_device_type_name(d->type), d->name, d->platform_name, d->driver_version,
                   d->compute_units, d->clock_mhz, (unsigned long long)(d->global_mem >> 20),
                   (unsigned long long)(d->max_alloc >> 20), d->opencl_c_version);
            if (check) {
                if (ok)
                    printf("     check: PASS (%d programs built in %.2f s)\n", clg_program_count(), build_s);
                else
                    printf("     check: FAIL: %s\n", why);
            }
        }
    }
    if (json)
        printf("]\n");
    else
        printf("* = default (auto) device; select with --device or CLGRAD_DEVICE (auto, cpu, gpu, P:D, name)\n");
    clg_devices_free(l);
    return failures ? 1 : 0;
}
