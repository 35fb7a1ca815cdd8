/* cmd_sgns.c — `clgrad train sgns`, `similar`, `analogy`, `lookup`: word embeddings trained and queried on the device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"
#include "clgrad/sgns.h"

static int open_ctx(const char *spec, clg_ctx **ctx)
{
    clg_device_info d;
    clg_status st = clg_device_select(spec, &d);
    if (st)
        return cli_fail("device", st);
    if ((st = clg_ctx_create(&d, NULL, ctx)))
        return cli_fail("context", st);
    fprintf(stderr, "device: %s (%s)\n", d.name, d.platform_name);
    return 0;
}

typedef struct { util_progress p; double last_line; } train_view;

static int on_progress(void *user, int64_t done, int64_t total, double loss, float lr)
{
    train_view *v = user;
    if (clg_dist_rank() != 0)
        return cli_interrupted() != 0; /* rank 0 reports its part */
    char extra[96];
    snprintf(extra, sizeof extra, "loss %.4f lr %.5f", loss, (double)lr);
    v->p.total = (long)total;
    util_progress_update(&v->p, (long)done, extra);
    double t = util_now();
    if (!v->p.tty && (t - v->last_line >= 5.0 || done >= total)) {
        v->last_line = t;
        double el = t - v->p.t0;
        fprintf(stderr, "sgns: %lld/%lld words (%.1f%%) %.0f words/s %s\n", (long long)done, (long long)total,
                100.0 * (double)done / (double)total, el > 0 ? (double)done / el : 0, extra);
    }
    return cli_interrupted() != 0;
}

int cmd_train_sgns(int argc, char **argv)
{
    const char *cmd = "train sgns";
    char *used = calloc((size_t)argc + 1, 1);
    if (!used)
        return 1;
    int rc = 2;
    if (util_flag(argc, argv, used, "--help") || util_flag(argc, argv, used, "-h")) {
        printf("usage: clgrad train sgns --corpus FILE --out vectors.vec [--dim 100] [--window 5] [--negative 5]\n"
               "         [--epochs 5] [--lr 0.025] [--min-count 5] [--sample 1e-4] [--chunk 32768] [--binary]\n"
               "         [--device SPEC] [--seed N] [--deterministic] [--resume FILE] [--sync-words 1000000]\n"
               "  Skip-gram with negative sampling; a corpus line is a sentence. --binary writes word2vec binary.\n"
               "  Under mpirun -n N: each rank trains on its N-th of the corpus; the ranks add up their changes\n"
               "  every --sync-words words of a part and at each epoch's end (no --resume across ranks).\n"
               "  --deterministic: one work-group per launch, bit-exact for a seed on CPU devices (slower).\n"
               "  Ctrl-C saves the training state beside --out (X.resume.safetensors); --resume FILE continues it\n"
               "  (same corpus and options; with --deterministic the result is the uninterrupted run's, bit for bit).\n");
        free(used);
        return 0;
    }
    clg_sgns_options o = clg_sgns_options_defaults();
    const char *corpus = util_opt(argc, argv, used, "--corpus"), *outp = util_opt(argc, argv, used, "--out");
    const char *dev = util_opt(argc, argv, used, "--device"), *s;
    o.state_in = util_opt(argc, argv, used, "--resume");
    int binary = util_flag(argc, argv, used, "--binary");
    o.deterministic = util_flag(argc, argv, used, "--deterministic");
    double d;
    if ((s = util_opt(argc, argv, used, "--dim")) && util_parse_int(cmd, "--dim", s, 1, CLG_SGNS_MAX_DIM, &o.dim))
        goto out;
    if ((s = util_opt(argc, argv, used, "--window")) && util_parse_int(cmd, "--window", s, 1, 100, &o.window))
        goto out;
    if ((s = util_opt(argc, argv, used, "--negative")) && util_parse_int(cmd, "--negative", s, 1, CLG_SGNS_MAX_NEGATIVE, &o.negative))
        goto out;
    if ((s = util_opt(argc, argv, used, "--epochs")) && util_parse_int(cmd, "--epochs", s, 1, 10000, &o.epochs))
        goto out;
    if ((s = util_opt(argc, argv, used, "--min-count")) && util_parse_int(cmd, "--min-count", s, 1, 1 << 30, &o.min_count))
        goto out;
    if ((s = util_opt(argc, argv, used, "--chunk")) && util_parse_int(cmd, "--chunk", s, 1, 1 << 24, &o.chunk))
        goto out;
    if ((s = util_opt(argc, argv, used, "--sync-words")) &&
        util_parse_int(cmd, "--sync-words", s, 1, 1 << 30, &o.sync_words))
        goto out;
    if (util_opt_u64(cmd, argc, argv, used, "--seed", &o.seed))
        goto out;
    if ((s = util_opt(argc, argv, used, "--lr"))) {
        if (util_parse_double(cmd, "--lr", s, 1e-9, 0, 1e300, &d))
            goto out;
        o.lr = (float)d;
    }
    if ((s = util_opt(argc, argv, used, "--sample")) && util_parse_double(cmd, "--sample", s, 0, 0, 1, &o.sample))
        goto out;
    if (util_unknown(cmd, argc, argv, used))
        goto out;
    if (!corpus || !outp) {
        fprintf(stderr, "clgrad %s: --corpus FILE and --out FILE are required\n", cmd);
        goto out;
    }
    cli_paths paths;
    cli_derive_paths(outp, &paths);
    const char *outs[] = { outp, paths.resume }, *whats[] = { "--out", "the resume file" };
    if (cli_check_outputs(cmd, outs, whats, 2))
        goto out;
    o.state_out = paths.resume;
    int N = clg_dist_size(), rank = clg_dist_rank();
    if (N > 1 && o.state_in) {
        fprintf(stderr, "clgrad %s: --resume does not run across ranks (an interrupted run's state is one "
                "process's); resume it as one process\n", cmd);
        goto out;
    }
    cli_signals_install();
    clg_ctx *ctx;
    clg_device_info di;
    if ((rc = cli_open_device(dev, &di, &ctx)))
        goto out;
    if (rank == 0)
        fprintf(stderr, "device: %s (%s)%s\n", di.name, di.platform_name, N > 1 ? " on rank 0" : "");
    train_view view = { 0 };
    util_progress_start(&view.p, N > 1 ? "sgns (rank 0's part)" : "sgns", 0, "words");
    view.last_line = view.p.t0;
    clg_vectors *v = NULL;
    double t0 = util_now();
    /* the progress total is known after the vocabulary pass: the callback gets it */
    clg_status st = clg_sgns_train(ctx, corpus, &o, on_progress, &view, &v);
    if (rank == 0)
        util_progress_end(&view.p);
    if (st) {
        rc = cli_fail("train sgns", st);
        clg_ctx_destroy(ctx);
        goto out;
    }
    if (!v) {
        /* stopped by a signal: the library saved the state */
        fprintf(stderr,
                "clgrad %s: interrupted after %ld corpus words; saved %s\n"
                "  resume with the same command and options plus --resume %s\n",
                cmd, view.p.done, paths.resume, paths.resume);
        rc = 128 + cli_interrupted();
        clg_ctx_destroy(ctx);
        goto out;
    }
    if (N > 1) {
        /* every rank stopped at the same sync: nothing to resume from across ranks */
        int sig = cli_interrupted_all();
        if (sig) {
            if (rank == 0)
                fprintf(stderr, "clgrad %s: interrupted; runs across ranks cannot be resumed: nothing written\n", cmd);
            rc = 128 + sig;
            clg_vectors_free(v);
            clg_ctx_destroy(ctx);
            goto out;
        }
    }
    double el = util_now() - t0;
    if (rank == 0 && N > 1)
        fprintf(stderr, "sgns: %d words x %d dims, %d ranks: rank 0 read %ld corpus words in %.1f s (~%.0f words/s "
                "over all ranks, vocabulary passes included)\n", v->n, v->dim, N, view.p.done, el,
                el > 0 ? (double)view.p.done * N / el : 0);
    else if (rank == 0)
        fprintf(stderr, "sgns: %d words x %d dims, %ld corpus words read in %.1f s (%.0f words/s, vocabulary pass included)\n",
                v->n, v->dim, view.p.done, el, el > 0 ? (double)view.p.done / el : 0);
    if (rank != 0) {
        clg_vectors_free(v);
        clg_ctx_destroy(ctx);
        rc = 0;
        goto out;
    }
    cli_signals_critical(1);
    st = clg_vectors_save(v, outp, binary ? CLG_VEC_BINARY : CLG_VEC_TEXT);
    cli_signals_critical(0);
    rc = st ? cli_fail("save vectors", st) : 0;
    if (!st)
        unlink(paths.resume);
    clg_vectors_free(v);
    clg_ctx_destroy(ctx);
out:
    free(used);
    return rc;
}

/* Shared by similar / analogy / lookup: load vectors, open the device, build the index. */
typedef struct { clg_vectors *v; clg_ctx *ctx; clg_vec_index *ix; } query_env;

static int env_open(query_env *q, const char *path, const char *dev)
{
    memset(q, 0, sizeof *q);
    clg_status st = clg_vectors_load(path, CLG_VEC_AUTO, &q->v);
    if (st)
        return cli_fail("load vectors", st);
    if (open_ctx(dev, &q->ctx))
        return 1;
    if ((st = clg_vec_index_create(q->ctx, q->v, &q->ix)))
        return cli_fail("index", st);
    return 0;
}

static void env_close(query_env *q)
{
    clg_vec_index_destroy(q->ix);
    if (q->ctx)
        clg_ctx_destroy(q->ctx);
    clg_vectors_free(q->v);
}

static int print_nearest(query_env *q, const float *vec, int k, const int *excl, int nexcl)
{
    int *ids = malloc((size_t)k * sizeof *ids), n;
    float *sc = malloc((size_t)k * sizeof *sc);
    if (!ids || !sc) {
        free(ids);
        free(sc);
        return 1;
    }
    clg_status st = clg_vec_index_nearest(q->ix, vec, k, excl, nexcl, ids, sc, &n);
    if (!st)
        for (int i = 0; i < n; i++)
            printf("%-20s %.4f\n", q->v->words[ids[i]], (double)sc[i]);
    free(ids);
    free(sc);
    return st ? cli_fail("nearest", st) : 0;
}

static int find_word(query_env *q, const char *w, int *id)
{
    clg_status st = clg_vectors_find(q->v, w, id);
    return st ? cli_fail("query", st) : 0;
}

int cmd_similar(int argc, char **argv)
{
    char *used = calloc((size_t)argc + 1, 1);
    if (!used)
        return 1;
    int rc = 2, k = 10;
    if (util_flag(argc, argv, used, "--help")) {
        printf("usage: clgrad similar --vectors FILE WORD [-k 10] [--device SPEC]\n  cosine nearest words, on the device\n");
        free(used);
        return 0;
    }
    const char *path = util_opt(argc, argv, used, "--vectors"), *dev = util_opt(argc, argv, used, "--device");
    const char *ks = util_opt(argc, argv, used, "-k");
    const char *word = util_positional(argc, argv, used);
    query_env q = { 0 };
    if ((ks && util_parse_int("similar", "-k", ks, 1, 100000, &k)) || util_unknown("similar", argc, argv, used))
        goto out;
    if (!path || !word) {
        fprintf(stderr, "clgrad similar: --vectors FILE and a WORD are required\n");
        goto out;
    }
    int id;
    if ((rc = env_open(&q, path, dev)) || (rc = find_word(&q, word, &id)))
        goto out;
    rc = print_nearest(&q, q.v->data + (size_t)id * q.v->dim, k, &id, 1);
out:
    env_close(&q);
    free(used);
    return rc;
}

int cmd_analogy(int argc, char **argv)
{
    char *used = calloc((size_t)argc + 1, 1);
    if (!used)
        return 1;
    int rc = 2, k = 10;
    if (util_flag(argc, argv, used, "--help")) {
        printf("usage: clgrad analogy --vectors FILE A B C [-k 10] [--device SPEC]\n"
               "  words nearest to B - A + C (\"A is to B as C is to ?\"), the three inputs excluded\n");
        free(used);
        return 0;
    }
    const char *path = util_opt(argc, argv, used, "--vectors"), *dev = util_opt(argc, argv, used, "--device");
    const char *ks = util_opt(argc, argv, used, "-k");
    const char *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = util_positional(argc, argv, used);
    query_env q = { 0 };
    float *vec = NULL;
    if ((ks && util_parse_int("analogy", "-k", ks, 1, 100000, &k)) || util_unknown("analogy", argc, argv, used))
        goto out;
    if (!path || !w[2]) {
        fprintf(stderr, "clgrad analogy: --vectors FILE and three words A B C are required\n");
        goto out;
    }
    int id[3];
    if ((rc = env_open(&q, path, dev)))
        goto out;
    for (int i = 0; i < 3; i++)
        if ((rc = find_word(&q, w[i], &id[i])))
            goto out;
    int D = q.v->dim;
    if (!(vec = calloc((size_t)D, sizeof *vec))) {
        rc = 1;
        goto out;
    }
    /* on unit-normalised inputs, as word2vec's compute-accuracy does */
    double sgn[3] = { -1, 1, 1 };
    for (int i = 0; i < 3; i++) {
        const float *r = q.v->data + (size_t)id[i] * D;
        double ss = 0;
        for (int d = 0; d < D; d++)
            ss += (double)r[d] * r[d];
        double sc = ss > 0 ? sgn[i] / sqrt(ss) : 0;
        for (int d = 0; d < D; d++)
            vec[d] += (float)(sc * r[d]);
    }
    rc = print_nearest(&q, vec, k, id, 3);
out:
    free(vec);
    env_close(&q);
    free(used);
    return rc;
}

/* Split a comma list into ids; returns the count or -1 on an unknown word. */
static int split_ids(query_env *q, char *list, int **ids, char ***words)
{
    int n = 1;
    for (char *p = list; *p; p++)
        n += *p == ',';
    *ids = malloc((size_t)n * sizeof **ids);
    *words = malloc((size_t)n * sizeof **words);
    if (!*ids || !*words)
        return -1;
    int i = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        (*words)[i] = tok;
        if (find_word(q, tok, &(*ids)[i]))
            return -1;
        i++;
    }
    return i;
}

int cmd_lookup(int argc, char **argv)
{
    char *used = calloc((size_t)argc + 1, 1);
    if (!used)
        return 1;
    int rc = 2, k = 10;
    if (util_flag(argc, argv, used, "--help")) {
        printf("usage: clgrad lookup --vectors FILE --query WORD --keys K1,K2,... --values V1,V2,...\n"
               "         [--temperature 1] [-k 10] [--device SPEC]\n"
               "  soft dictionary lookup: weights = softmax(query.key / T), output = sum weight * value;\n"
               "  prints the weights and the words nearest to the output\n");
        free(used);
        return 0;
    }
    const char *path = util_opt(argc, argv, used, "--vectors"), *dev = util_opt(argc, argv, used, "--device");
    const char *qs = util_opt(argc, argv, used, "--query"), *ts = util_opt(argc, argv, used, "--temperature");
    const char *kl = util_opt(argc, argv, used, "--keys"), *vl = util_opt(argc, argv, used, "--values");
    const char *ks = util_opt(argc, argv, used, "-k");
    query_env q = { 0 };
    char *kcopy = NULL, *vcopy = NULL, **kw = NULL, **vw = NULL;
    int *kid = NULL, *vid = NULL;
    double *wts = NULL, T = 1.0;
    float *merged = NULL;
    if ((ks && util_parse_int("lookup", "-k", ks, 1, 100000, &k)) || (ts && util_parse_double("lookup", "--temperature", ts, 1e-30, 0, 1e300, &T)) ||
        util_unknown("lookup", argc, argv, used))
        goto out;
    if (!path || !qs || !kl || !vl) {
        fprintf(stderr, "clgrad lookup: --vectors, --query, --keys and --values are required\n");
        goto out;
    }
    if ((rc = env_open(&q, path, dev)))
        goto out;
    int qid;
    if ((rc = find_word(&q, qs, &qid)))
        goto out;
    kcopy = strdup(kl);
    vcopy = strdup(vl);
    rc = 1;
    int nk = kcopy ? split_ids(&q, kcopy, &kid, &kw) : -1;
    if (nk < 0)
        goto out;
    int nv = vcopy ? split_ids(&q, vcopy, &vid, &vw) : -1;
    if (nv < 0)
        goto out;
    if (nk != nv) {
        fprintf(stderr, "clgrad lookup: %d keys but %d values\n", nk, nv);
        rc = 2;
        goto out;
    }
    wts = malloc((size_t)nk * sizeof *wts);
    merged = malloc((size_t)q.v->dim * sizeof *merged);
    if (!wts || !merged)
        goto out;
    clg_status st = clg_vectors_soft_lookup(q.v, qid, kid, vid, nk, (float)T, wts, merged);
    if (st) {
        rc = cli_fail("lookup", st);
        goto out;
    }
    printf("weights (softmax of %s . key / %g):\n", qs, T);
    for (int i = 0; i < nk; i++)
        printf("  %-16s -> %-16s %.4f\n", kw[i], vw[i], wts[i]);
    printf("nearest to the merged value:\n");
    rc = print_nearest(&q, merged, k, NULL, 0);
out:
    free(kcopy);
    free(vcopy);
    free(kid);
    free(vid);
    free(kw);
    free(vw);
    free(wts);
    free(merged);
    env_close(&q);
    free(used);
    return rc;
}
