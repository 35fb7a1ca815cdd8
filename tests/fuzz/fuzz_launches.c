/* fuzz_launches.c — libFuzzer harness of the launch-list reader (src/launch_list.c clg_launch_list_load, the
 * compile helper's input): no crash, leak or hang on any bytes; what loads is in range (programs, dims,
 * argument kinds and scalar sizes, NUL-terminated kernel names), and saves and reloads to the same list;
 * what fails leaves the list empty.  Most inputs get their checksum appended (the file format's last
 * 8 bytes), so that the parser behind the checksum sees them; an input whose first byte has its top bit
 * set is written as it is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fuzz_file.h"

static void check(const clg_launch_list *l)
{
    if (l->nprograms < 0 || l->n < 0 || (l->n && !l->launch))
        abort();
    for (int i = 0; i < l->nprograms; i++)
        if (!l->source[i] || !l->options[i])
            abort();
    for (int i = 0; i < l->n; i++) {
        const clg_launch *d = &l->launch[i];
        if (d->program < 0 || d->program >= l->nprograms || d->dims < 1 || d->dims > 3 || d->nargs < 0 ||
            d->nargs > CLG_LAUNCH_MAX_ARGS || !memchr(d->kernel, 0, sizeof d->kernel) || !d->kernel[0])
            abort();
        for (int a = 0; a < d->nargs; a++)
            if ((unsigned)d->args[a].kind > CLG_LARG_LOCAL ||
                (d->args[a].kind == CLG_LARG_SCALAR && (d->args[a].size < 1 || d->args[a].size > 8)))
                abort();
    }
}

static void same(const clg_launch_list *a, const clg_launch_list *b)
{
    if (a->nprograms != b->nprograms || a->n != b->n)
        abort();
    for (int i = 0; i < a->nprograms; i++)
        if (strcmp(a->source[i], b->source[i]) || strcmp(a->options[i], b->options[i]))
            abort();
    for (int i = 0; i < a->n; i++) {
        const clg_launch *p = &a->launch[i], *q = &b->launch[i];
        if (p->program != q->program || strcmp(p->kernel, q->kernel) || p->dims != q->dims ||
            memcmp(p->global, q->global, sizeof p->global) || memcmp(p->local, q->local, sizeof p->local) ||
            p->nargs != q->nargs)
            abort();
        for (int j = 0; j < p->nargs; j++)
            if (p->args[j].kind != q->args[j].kind || p->args[j].size != q->args[j].size ||
                memcmp(p->args[j].value, q->args[j].value, 8))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + 8);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t n = size;
    if (!size || !(data[0] & 0x80)) {
        uint64_t h = clg__fnv1a(CLG_FNV_OFFSET, buf, size);
        for (int k = 0; k < 8; k++)
            buf[n++] = (uint8_t)(h >> (8 * k));
    }
    const char *path = fuzz_write("launches.bin", buf, n);
    free(buf);
    clg_launch_list l, back;
    memset(&l, 0x5a, sizeof l);
    if (clg_launch_list_load(path, &l) != CLG_OK) {
        if (l.n || l.nprograms || l.launch || l.source || l.options)
            abort();
        return 0;
    }
    check(&l);
    char again[700];
    snprintf(again, sizeof again, "%s/again.bin", fuzz_dir());
    if (clg_launch_list_save(&l, again) != CLG_OK || clg_launch_list_load(again, &back) != CLG_OK)
        abort();
    same(&l, &back);
    clg_launch_list_free(&l);
    clg_launch_list_free(&back);
    return 0;
}
