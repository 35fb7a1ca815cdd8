/* test_io.c — IDX/MNIST, safetensors and PNG files: round trips, corrupt inputs, interop with Python. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "clgrad/io.h"

/* ---- temp folder and file helpers ---------------------------------------- */

static char tdir[256];

/* Path of a file in the temp folder (rotating static buffers). */
static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 512, "%s/%s", tdir, name);
    return b;
}

static void write_file(const char *path, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n)
            assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

static unsigned char *read_whole(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void assert_msg_has(const char *needle)
{
    const char *m = clg_last_error();
    if (!strstr(m, needle))
        fail_msg("error message '%s' lacks '%s'", m, needle);
}

/* ---- IDX ------------------------------------------------------------------ */

/* An IDX image of u8 data; returns its byte count.  pattern: byte i = (i * 7 + 3) & 255. */
static unsigned char *make_idx(int dtype, int ndim, const uint32_t *dims, long extra, size_t *len)
{
    size_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= dims[d];
    size_t n = 4 + 4 * (size_t)ndim + (size_t)((long)numel + extra);
    unsigned char *b = calloc(n + 1, 1);
    b[2] = (unsigned char)dtype;
    b[3] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++) {
        b[4 + 4 * d] = (unsigned char)(dims[d] >> 24);
        b[5 + 4 * d] = (unsigned char)(dims[d] >> 16);
        b[6 + 4 * d] = (unsigned char)(dims[d] >> 8);
        b[7 + 4 * d] = (unsigned char)dims[d];
    }
    for (size_t i = 4 + 4 * (size_t)ndim; i < n; i++)
        b[i] = (unsigned char)((i - 4 - 4 * (size_t)ndim) * 7 + 3);
    *len = n;
    return b;
}

static void test_idx_round_trip(void **s)
{
    (void)s;
    static const struct { int ndim; uint32_t dims[4]; } cases[] = {
        { 1, { 1 } }, { 1, { 1033 } }, { 3, { 7, 1, 33 } }, { 2, { 33, 7 } }, { 4, { 1, 2, 3, 7 } },
        { 3, { 0, 28, 28 } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int gz = 0; gz < 2; gz++) {
            size_t len;
            unsigned char *b = make_idx(0x08, cases[c].ndim, cases[c].dims, 0, &len);
            const char *p = tpath(gz ? "rt.idx.gz" : "rt.idx");
            write_file(p, b, len, gz);
            clg_idx idx;
            assert_clg_ok(clg_idx_read(p, &idx));
            assert_int_equal(idx.ndim, cases[c].ndim);
            size_t numel = 1;
            for (int d = 0; d < idx.ndim; d++) {
                assert_int_equal(idx.dim[d], cases[c].dims[d]);
                numel *= cases[c].dims[d];
            }
            assert_int_equal(idx.size, numel);
            if (numel)
                assert_memory_equal(idx.data, b + 4 + 4 * cases[c].ndim, numel);
            clg_idx_free(&idx);
            assert_null(idx.data);
            clg_idx_free(&idx);
            free(b);
        }
    }
}

static void test_idx_errors(void **s)
{
    (void)s;
    uint32_t dims[3] = { 7, 3, 5 };
    size_t len;
    clg_idx idx;
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tpath(gz ? "bad.idx.gz" : "bad.idx");
        /* truncated payload */
        unsigned char *b = make_idx(0x08, 3, dims, -1, &len);
        write_file(p, b, len, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has(p);
        assert_msg_has("truncated");
        assert_null(idx.data);
        assert_int_equal(idx.ndim, 0);
        free(b);
        /* trailing data */
        b = make_idx(0x08, 3, dims, 1, &len);
        write_file(p, b, len, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has(p);
        assert_msg_has("trailing");
        /* truncated inside the header */
        write_file(p, b, 9, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has("truncated IDX header");
        write_file(p, b, 2, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has("too short");
        write_file(p, b, 0, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        /* wrong magic */
        b[0] = 0x1f;
        write_file(p, b, len - 1, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has("bad magic 0x1f000803");
        assert_msg_has(p);
        b[0] = 0;
        b[2] = 0x42;
        write_file(p, b, len - 1, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has("0x42");
        /* a real IDX type that we do not read */
        b[2] = 0x0D;
        write_file(p, b, len - 1, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_UNSUPPORTED);
        assert_msg_has("float32");
        /* 0 or 5 dimensions */
        b[2] = 0x08;
        b[3] = 0;
        write_file(p, b, len - 1, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_msg_has("0 dimensions");
        b[3] = 5;
        write_file(p, b, len - 1, gz);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        free(b);
    }
    /* a header that promises 4 GiB x 4 GiB x ... must not be believed */
    unsigned char hdr[20] = { 0, 0, 8, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2 };
    write_file(tpath("huge.idx"), hdr, sizeof hdr, 0);
    assert_clg_status(clg_idx_read(tpath("huge.idx"), &idx), CLG_ERR_FORMAT);
    unsigned char hdr2[12] = { 0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0 }; /* 2^32 bytes promised, none there */
    write_file(tpath("big.idx"), hdr2, sizeof hdr2, 0);
    assert_clg_status(clg_idx_read(tpath("big.idx"), &idx), CLG_ERR_FORMAT);
    assert_msg_has("truncated");

    /* a gzip stream cut in the middle */
    uint32_t d1[1] = { 5000 };
    unsigned char *b = make_idx(0x08, 1, d1, 0, &len);
    write_file(tpath("cut.gz"), b, len, 1);
    free(b);
    size_t glen;
    unsigned char *g = read_whole(tpath("cut.gz"), &glen);
    write_file(tpath("cut.gz"), g, glen / 2, 0);
    assert_clg_status(clg_idx_read(tpath("cut.gz"), &idx), CLG_ERR_FORMAT);
    assert_msg_has(tpath("cut.gz"));
    /* corrupt deflate data */
    for (size_t i = 12; i < glen - 8; i++)
        g[i] ^= 0xa5;
    write_file(tpath("cut.gz"), g, glen, 0);
    assert_clg_status(clg_idx_read(tpath("cut.gz"), &idx), CLG_ERR_FORMAT);
    assert_msg_has(tpath("cut.gz"));
    free(g);

    /* missing file, directory, bad arguments */
    assert_clg_status(clg_idx_read(tpath("nope.idx"), &idx), CLG_ERR_IO);
    assert_msg_has(tpath("nope.idx"));
    assert_clg_status(clg_idx_read(tdir, &idx), CLG_ERR_IO);
    assert_msg_has("directory");
    assert_clg_status(clg_idx_read(NULL, &idx), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_idx_read(tpath("nope.idx"), NULL), CLG_ERR_INVALID_ARG);
}

/* Write "<split>-images-idx3-ubyte[.gz]" (n x r x c) and labels (nl, values lab[i]). */
static void write_mnist(const char *split, int n, int r, int c, int nl, const uint8_t *lab, int gz_img,
                        int gz_lab)
{
    char name[128];
    size_t len;
    uint32_t d3[3] = { (uint32_t)n, (uint32_t)r, (uint32_t)c };
    unsigned char *b = make_idx(0x08, 3, d3, 0, &len);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", split, gz_img ? ".gz" : "");
    write_file(tpath(name), b, len, gz_img);
    free(b);
    uint32_t d1[1] = { (uint32_t)nl };
    b = make_idx(0x08, 1, d1, 0, &len);
    memcpy(b + 8, lab, (size_t)nl);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", split, gz_lab ? ".gz" : "");
    write_file(tpath(name), b, len, gz_lab);
    free(b);
}

static void test_mnist_small(void **s)
{
    (void)s;
    uint8_t lab[33];
    for (int i = 0; i < 33; i++)
        lab[i] = (uint8_t)(i % 10);
    for (int gz = 0; gz < 2; gz++) {
        const char *split = gz ? "tinygz" : "tiny";
        write_mnist(split, 33, 7, 1, 33, lab, gz, !gz);
        float *x;
        int32_t *y;
        int n, r, c;
        assert_clg_ok(clg_mnist_load(tdir, split, &x, &y, &n, &r, &c));
        assert_int_equal(n, 33);
        assert_int_equal(r, 7);
        assert_int_equal(c, 1);
        for (int i = 0; i < n * r * c; i++) {
            double want = (double)(unsigned char)(i * 7 + 3) / 255.0;
            assert_true(x[i] >= 0.0f && x[i] <= 1.0f);
            if (fabs(x[i] - want) > 1e-7)
                fail_msg("pixel %d: %g vs %g", i, (double)x[i], want);
        }
        for (int i = 0; i < n; i++)
            assert_int_equal(y[i], i % 10);
        free(x);
        free(y);
    }
}

static void test_mnist_errors(void **s)
{
    (void)s;
    uint8_t lab[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    float *x = (float *)1;
    int32_t *y = (int32_t *)1;
    int n = 5, r = 5, c = 5;
    /* counts differ */
    write_mnist("mism", 7, 2, 2, 6, lab, 1, 0);
    assert_clg_status(clg_mnist_load(tdir, "mism", &x, &y, &n, &r, &c), CLG_ERR_FORMAT);
    assert_msg_has("image count 7");
    assert_msg_has("label count 6");
    assert_msg_has(tpath("mism-images-idx3-ubyte.gz"));
    assert_msg_has(tpath("mism-labels-idx1-ubyte"));
    assert_null(x);
    assert_null(y);
    assert_int_equal(n, 0);
    /* bad label */
    lab[5] = 12;
    write_mnist("badlab", 8, 2, 2, 8, lab, 0, 1);
    assert_clg_status(clg_mnist_load(tdir, "badlab", &x, &y, &n, &r, &c), CLG_ERR_FORMAT);
    assert_msg_has("label 12 at index 5");
    assert_msg_has("badlab-labels-idx1-ubyte.gz");
    lab[5] = 5;
    /* missing label file */
    write_mnist("nolab", 8, 2, 2, 8, lab, 0, 0);
    unlink(tpath("nolab-labels-idx1-ubyte"));
    assert_clg_status(clg_mnist_load(tdir, "nolab", &x, &y, &n, &r, &c), CLG_ERR_IO);
    assert_msg_has(tpath("nolab-labels-idx1-ubyte"));
    /* no such split at all, no such folder */
    assert_clg_status(clg_mnist_load(tdir, "nosplit", &x, &y, &n, &r, &c), CLG_ERR_IO);
    assert_msg_has(tpath("nosplit-images-idx3-ubyte"));
    assert_clg_status(clg_mnist_load("/nonexistent-clgrad-dir", "train", &x, &y, &n, &r, &c),
                      CLG_ERR_IO);
    assert_msg_has("/nonexistent-clgrad-dir/train-images-idx3-ubyte");
    /* images and labels swapped: wrong dimension counts */
    rename(tpath("nolab-images-idx3-ubyte"), tpath("swap-labels-idx1-ubyte"));
    write_mnist("tmp", 8, 1, 1, 8, lab, 0, 0);
    rename(tpath("tmp-labels-idx1-ubyte"), tpath("swap-images-idx3-ubyte"));
    assert_clg_status(clg_mnist_load(tdir, "swap", &x, &y, &n, &r, &c), CLG_ERR_FORMAT);
    assert_msg_has("1 dimensions, expected 3");
    /* a truncated image file inside a split */
    write_mnist("trunc", 8, 2, 2, 8, lab, 0, 0);
    size_t len;
    unsigned char *b = read_whole(tpath("trunc-images-idx3-ubyte"), &len);
    write_file(tpath("trunc-images-idx3-ubyte"), b, len - 3, 0);
    free(b);
    assert_clg_status(clg_mnist_load(tdir, "trunc", &x, &y, &n, &r, &c), CLG_ERR_FORMAT);
    assert_msg_has(tpath("trunc-images-idx3-ubyte"));
    assert_clg_status(clg_mnist_load(tdir, "a/b", &x, &y, &n, &r, &c), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_mnist_load(tdir, "tiny", NULL, &y, &n, &r, &c), CLG_ERR_INVALID_ARG);
}

static void test_fashion_mnist(void **s)
{
    (void)s;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    if (access(dir, R_OK) != 0)
        skip();
    float *x;
    int32_t *y;
    int n, r, c;
    assert_clg_ok(clg_mnist_load(dir, "t10k", &x, &y, &n, &r, &c));
    assert_int_equal(n, 10000);
    assert_int_equal(r, 28);
    assert_int_equal(c, 28);
    int count[10] = { 0 };
    for (int i = 0; i < n; i++) {
        assert_true(y[i] >= 0 && y[i] < 10);
        count[y[i]]++;
    }
    for (int k = 0; k < 10; k++)
        assert_int_equal(count[k], 1000); /* the test split is balanced */
    double sum = 0;
    float lo = 1, hi = 0;
    for (long i = 0; i < (long)n * r * c; i++) {
        sum += x[i];
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    double mean = sum / ((double)n * r * c);
    assert_true(mean > 0.2 && mean < 0.4); /* Fashion-MNIST's mean pixel is about 0.286 */
    free(x);
    free(y);
}

/* ---- runner ---------------------------------------------------------------- */

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tdir, sizeof tdir, "%s/clgrad-test-io-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_round_trip),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_mnist_small),
        cmocka_unit_test(test_mnist_errors),
        cmocka_unit_test(test_fashion_mnist),
    };
    int rc = clg_test_run("io", tests, sizeof tests / sizeof tests[0]);
    rm_tree(tdir);
    return rc;
}
