/* test_io.c — IDX/MNIST, safetensors and PNG files: round trips, corrupt inputs, interop with Python. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <png.h>
#include <zlib.h>

#include "harness.h"
#include "util.h"
#include "clgrad/io.h"
#include "gcide.h"
#include "captions.h"
#include "dict_fixture.h"

/* src/tune.c (internal, exported for tests): the `clgrad tune` entry of a device and shape class. */
int clg__gemm_tune_lookup(const char *dir, const clg_device_info *d, int cls, int *path_out, int *tm, int *vw,
                          int *nv);

/* src/io_idx.c (internal): 1 when this thread's last clg_idx_read decoded its file in one libdeflate
 * call, 0 when zlib's stream read it. */
extern _Thread_local int clg__idx_last_whole;

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

/* Append one gzip member of data[0..n) to the file at path (zlib's gzip writer, through a temp file). */
static void append_member(const char *path, const unsigned char *data, size_t n)
{
    write_file(tpath("member.gz"), data, n, 1);
    size_t glen;
    unsigned char *g = read_whole(tpath("member.gz"), &glen);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(g, 1, glen, f), glen);
    assert_int_equal(fclose(f), 0);
    free(g);
}

/* The forms of file the one-call decoder (libdeflate, where built with it) takes or leaves to
 * zlib's stream, which must read them all as before: one gzip member (the one call, and its header
 * and payload checks), a plain file, two members, bytes after the member, and a damaged length or
 * checksum. */
static void test_idx_gzip_forms(void **s)
{
    (void)s;
#ifdef CLG_HAVE_LIBDEFLATE
    const int whole = 1;
#else
    const int whole = 0;
#endif
    uint32_t dims[2] = { 40, 25 };
    size_t len;
    unsigned char *b = make_idx(0x08, 2, dims, 0, &len);
    const unsigned char *payload = b + 12;
    char p[512]; /* a copy: tpath's buffers rotate */
    snprintf(p, sizeof p, "%s", tpath("forms.idx.gz"));
    clg_idx idx;

    /* one member: the one call */
    remove(p);
    append_member(p, b, len);
    assert_clg_ok(clg_idx_read(p, &idx));
    assert_int_equal(clg__idx_last_whole, whole);
    assert_int_equal(idx.ndim, 2);
    assert_int_equal(idx.dim[0], 40);
    assert_int_equal(idx.dim[1], 25);
    assert_int_equal(idx.size, 1000);
    assert_memory_equal(idx.data, payload, 1000);
    clg_idx_free(&idx);

    /* a plain file: zlib's stream (which passes it through) */
    write_file(p, b, len, 0);
    assert_clg_ok(clg_idx_read(p, &idx));
    assert_int_equal(clg__idx_last_whole, 0);
    assert_memory_equal(idx.data, payload, 1000);
    clg_idx_free(&idx);

    /* two members (split inside the header): zlib's stream joins them */
    remove(p);
    append_member(p, b, 7);
    append_member(p, b + 7, len - 7);
    assert_clg_ok(clg_idx_read(p, &idx));
    assert_int_equal(clg__idx_last_whole, 0);
    assert_int_equal(idx.size, 1000);
    assert_memory_equal(idx.data, payload, 1000);
    clg_idx_free(&idx);

    /* bytes after the member: zlib ignores them, as it always did */
    remove(p);
    append_member(p, b, len);
    FILE *f = fopen(p, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite("junk!", 1, 5, f), 5);
    assert_int_equal(fclose(f), 0);
    assert_clg_ok(clg_idx_read(p, &idx));
    assert_int_equal(clg__idx_last_whole, 0);
    assert_memory_equal(idx.data, payload, 1000);
    clg_idx_free(&idx);

    /* a wrong length (ISIZE) or checksum in the trailer: zlib's message */
    static const struct { long at; const char *msg; } damage[] = { { -1, "length" }, { -6, "data check" } };
    for (size_t i = 0; i < 2; i++) {
        remove(p);
        append_member(p, b, len);
        size_t glen;
        unsigned char *g = read_whole(p, &glen);
        g[(long)glen + damage[i].at] ^= 0x55;
        write_file(p, g, glen, 0);
        free(g);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_int_equal(clg__idx_last_whole, 0);
        assert_msg_has("corrupt gzip data");
        assert_msg_has(damage[i].msg);
        assert_null(idx.data);
    }
    free(b);

    /* the one call's own header and payload checks: a payload one byte short and one byte long */
    for (long extra = -1; extra <= 1; extra += 2) {
        b = make_idx(0x08, 2, dims, extra, &len);
        remove(p);
        append_member(p, b, len);
        assert_clg_status(clg_idx_read(p, &idx), CLG_ERR_FORMAT);
        assert_int_equal(clg__idx_last_whole, whole);
        assert_msg_has(extra < 0 ? "truncated, header promises 1000 data bytes but only 999 follow"
                                 : "trailing data after the 1000 data bytes");
        assert_null(idx.data);
        assert_int_equal(idx.ndim, 0);
        free(b);
    }
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

/* ---- safetensors ------------------------------------------------------------ */

static int no_temp_files_left(void)
{
    DIR *d = opendir(tdir);
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-"))
            ok = 0;
    closedir(d);
    return ok;
}

static void test_st_round_trip(void **s)
{
    (void)s;
    enum { NBIG = 1033 * 3 };
    float *big = malloc(NBIG * sizeof *big);
    int32_t *ints = malloc(7 * 33 * sizeof *ints);
    for (int i = 0; i < NBIG; i++)
        big[i] = (float)sin(i * 0.1) * 1e3f;
    big[0] = NAN;
    big[1] = INFINITY;
    big[2] = -0.0f;
    big[3] = 1e-45f; /* subnormal */
    for (int i = 0; i < 7 * 33; i++)
        ints[i] = (i % 2 ? -1 : 1) * i * 65599;
    ints[0] = INT32_MIN;
    ints[1] = INT32_MAX;
    float one = 3.5f;
    int32_t step = 42;
    const clg_st_tensor t[] = {
        { "big", CLG_F32, 2, { 1033, 3 }, big },
        { "ints", CLG_I32, 2, { 7, 33 }, ints },
        { "one", CLG_F32, 4, { 1, 1, 1, 1 }, &one },
        { "step", CLG_I32, 0, { 0 }, &step },
        { "empty", CLG_F32, 3, { 4, 0, 7 }, NULL },
        { "w\xc3\xa9ird \"name\"\\\n\x01", CLG_F32, 1, { 1 }, &one },
    };
    const char *meta[] = { "format", "pt", "note", "a \"quoted\"\nline\twith\\tabs", "", "empty key", NULL };
    const char *p = tpath("rt.safetensors");
    for (int rep = 0; rep < 2; rep++) /* the second write replaces the first */
        assert_clg_ok(clg_safetensors_write(p, t, 6, meta));
    assert_true(no_temp_files_left());

    size_t len;
    unsigned char *raw = read_whole(p, &len);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | raw[k];
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(raw[8], '{');
    free(raw);

    clg_st_file *f;
    assert_clg_ok(clg_safetensors_open(p, &f));
    assert_int_equal(clg_safetensors_count(f), 6);
    for (int i = 0; i < 6; i++) {
        clg_st_tensor v;
        assert_clg_ok(clg_safetensors_get(f, i, &v));
        assert_string_equal(v.name, t[i].name);
        assert_int_equal(v.dtype, t[i].dtype);
        assert_int_equal(v.ndim, t[i].ndim);
        size_t numel = 1;
        for (int k = 0; k < v.ndim; k++) {
            assert_int_equal(v.shape[k], t[i].shape[k]);
            numel *= (size_t)v.shape[k];
        }
        assert_int_equal((uintptr_t)v.data % 4, 0);
        if (numel)
            assert_memory_equal(v.data, t[i].data, numel * 4); /* bit-exact, NaN and -0 included */
    }
    clg_st_tensor v;
    assert_clg_ok(clg_safetensors_find(f, "ints", &v));
    assert_int_equal(((const int32_t *)v.data)[1], INT32_MAX);
    assert_clg_status(clg_safetensors_find(f, "nothere", &v), CLG_ERR_INVALID_ARG);
    assert_msg_has("nothere");
    assert_msg_has(p);
    assert_clg_status(clg_safetensors_get(f, 6, &v), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_safetensors_get(f, -1, &v), CLG_ERR_INVALID_ARG);
    assert_string_equal(clg_safetensors_meta(f, "format"), "pt");
    assert_string_equal(clg_safetensors_meta(f, "note"), meta[3]);
    assert_string_equal(clg_safetensors_meta(f, ""), "empty key");
    assert_null(clg_safetensors_meta(f, "missing"));
    clg_safetensors_close(f);
    clg_safetensors_close(NULL);
    assert_int_equal(clg_safetensors_count(NULL), 0);

    /* no tensors, no metadata */
    assert_clg_ok(clg_safetensors_write(p, NULL, 0, NULL));
    assert_clg_ok(clg_safetensors_open(p, &f));
    assert_int_equal(clg_safetensors_count(f), 0);
    assert_null(clg_safetensors_meta(f, "format"));
    clg_safetensors_close(f);
    free(big);
    free(ints);
}

static void test_st_write_errors(void **s)
{
    (void)s;
    float x[4] = { 1, 2, 3, 4 };
    const char *p = tpath("werr.safetensors");
    clg_st_tensor t[2] = { { "a", CLG_F32, 1, { 4 }, x }, { "a", CLG_F32, 1, { 4 }, x } };
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_INVALID_ARG);
    assert_msg_has("'a' used twice");
    t[1].name = "__metadata__";
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_INVALID_ARG);
    t[1].name = "";
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_INVALID_ARG);
    t[1].name = "b";
    t[1].dtype = (clg_dtype)7;
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_DTYPE);
    t[1].dtype = CLG_I32;
    t[1].ndim = 5;
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_SHAPE);
    t[1].ndim = 1;
    t[1].shape[0] = -4;
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_SHAPE);
    assert_msg_has("'b'");
    t[1].shape[0] = 4;
    t[1].data = NULL;
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_INVALID_ARG);
    assert_msg_has("no data");
    t[1].data = x;
    const char *meta[] = { "k", NULL, NULL };
    assert_clg_status(clg_safetensors_write(p, t, 2, meta), CLG_ERR_INVALID_ARG);
    assert_msg_has("'k'");
    const char *meta2[] = { "k", "1", "k", "2", NULL };
    assert_clg_status(clg_safetensors_write(p, t, 2, meta2), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_safetensors_write(p, NULL, 2, NULL), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_safetensors_write(NULL, t, 2, NULL), CLG_ERR_INVALID_ARG);
    assert_int_equal(access(p, F_OK), -1);
    /* unwritable destination */
    assert_clg_status(clg_safetensors_write("/nonexistent-clgrad-dir/x.safetensors", t, 2, NULL), CLG_ERR_IO);
    assert_msg_has("/nonexistent-clgrad-dir/x.safetensors");
    /* a failed write leaves the previous file alone */
    assert_clg_ok(clg_safetensors_write(p, t, 2, NULL));
    size_t l1, l2;
    unsigned char *before = read_whole(p, &l1);
    t[1].ndim = 9;
    assert_clg_status(clg_safetensors_write(p, t, 2, NULL), CLG_ERR_SHAPE);
    unsigned char *after = read_whole(p, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(before, after, l1);
    free(before);
    free(after);
    assert_true(no_temp_files_left());
}

/* A raw safetensors file: header text (hlen = strlen unless hlen_override >= 0), then data. */
static void write_raw_st(const char *path, const char *header, const void *data, size_t dlen,
                         long long hlen_override)
{
    size_t hl = strlen(header);
    uint64_t h = hlen_override >= 0 ? (uint64_t)hlen_override : hl;
    unsigned char *b = malloc(8 + hl + dlen + 1);
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(h >> (8 * k));
    memcpy(b + 8, header, hl);
    if (dlen)
        memcpy(b + 8 + hl, data, dlen);
    write_file(path, b, 8 + hl + dlen, 0);
    free(b);
}

/* Expect open(header + dlen zero bytes) to fail with want and a message containing needle. */
static void st_bad(const char *header, size_t dlen, clg_status want, const char *needle)
{
    static unsigned char zeros[256];
    const char *p = tpath("bad.safetensors");
    write_raw_st(p, header, zeros, dlen, -1);
    clg_st_file *f = (clg_st_file *)1;
    clg_status st = clg_safetensors_open(p, &f);
    if (st != want)
        fail_msg("header %s: got %s (%s), expected %s", header, clg_status_name(st), clg_last_error(),
                 clg_status_name(want));
    assert_null(f);
    assert_msg_has(p);
    assert_msg_has(needle);
}

static void test_st_corrupt(void **s)
{
    (void)s;
    clg_st_file *f;
    const char *p = tpath("bad.safetensors");
    /* the header itself */
    st_bad("", 0, CLG_ERR_FORMAT, "header length");
    st_bad("hello world", 0, CLG_ERR_FORMAT, "must be a JSON object");
    st_bad("[1,2]", 0, CLG_ERR_FORMAT, "JSON object");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, CLG_ERR_FORMAT, "'}' expected near end of file");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, CLG_ERR_FORMAT, "malformed");
    st_bad("{\"a\" {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "':' expected");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, CLG_ERR_FORMAT, "after the header");
    st_bad("{\"a\":{\"dtype\":\"F32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "'}' expected near 'shape'");
    st_bad("{\"a\":{\"dtype\":\"F32", 0, CLG_ERR_FORMAT, "premature end of input");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":tru}}", 4, CLG_ERR_FORMAT, "invalid token near 'tru'");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":-}}", 4, CLG_ERR_FORMAT, "invalid token near '-'");
    st_bad("{\"a\\q\":{}}", 0, CLG_ERR_FORMAT, "invalid escape");
    st_bad("{\"a\\ud800\":{}}", 0, CLG_ERR_FORMAT, "invalid Unicode");
    st_bad("{\"a\\u12\":{}}", 0, CLG_ERR_FORMAT, "invalid escape near '\"a\\u12\"'");
    st_bad("{\"a\x01\":{}}", 0, CLG_ERR_FORMAT, "control character");
    st_bad("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "unknown dtype 'Q7'");
    st_bad("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "must be a string");
    st_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "lacks \"dtype\"");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "lacks \"shape\"");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, CLG_ERR_FORMAT, "lacks \"data_offsets\"");
    st_bad("{\"a\":[1]}", 4, CLG_ERR_FORMAT, "expected an object");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "non-negative integer");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "non-negative integer");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "invalid token near '0'");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "too large");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, CLG_ERR_FORMAT, "[begin, end]");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, CLG_ERR_FORMAT, "more than 2");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "twice");
    st_bad("{\"__metadata__\":{\"k\":1}}", 0, CLG_ERR_FORMAT, "must be a string");
    st_bad("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, CLG_ERR_FORMAT, "given twice: duplicate object key near '\"k\"'");
    st_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, CLG_ERR_FORMAT, "twice");
    {
        char deep[400] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":";
        for (int i = 0; i < 64; i++)
            strcat(deep, "[");
        for (int i = 0; i < 64; i++)
            strcat(deep, "]");
        strcat(deep, "}}");
        st_bad(deep, 4, CLG_ERR_FORMAT, "nested deeper than 64");
        /* past jansson's own limit (2048 levels), unterminated */
        char *deeper = calloc(1, 5000);
        strcpy(deeper, "{\"a\":");
        memset(deeper + strlen(deeper), '[', 3000);
        st_bad(deeper, 4, CLG_ERR_FORMAT, "nested too deeply");
        free(deeper);
    }
    /* what jansson refuses beyond the hand-written parser it replaced (which let these through) */
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":{\"y\":1,\"y\":2}}}", 4,
           CLG_ERR_FORMAT, "given twice");
    st_bad("{\"a\":{\"dtype\":\"F32\\u0000junk\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT,
           "NUL character");
    st_bad("{\"__metadata__\":{\"k\":\"v\\u0000hidden\"}}", 0, CLG_ERR_FORMAT, "NUL character");
    st_bad("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "invalid UTF-8");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1e400}}", 4, CLG_ERR_FORMAT,
           "number too large");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775808]}}", 4, CLG_ERR_FORMAT,
           "number too large");
    st_bad("{\"__metadata__\":[]}", 0, CLG_ERR_FORMAT, "must be an object");
    {
        /* more JSON values than the reader builds (memory bound), in a header well under 100 MB */
        size_t n = 3u << 20;
        char *many = malloc(n + 16);
        strcpy(many, "{\"a\":[");
        size_t k = strlen(many);
        while (k < n)
            many[k++] = '0', many[k++] = ',';
        strcpy(many + k - 1, "]}");
        st_bad(many, 0, CLG_ERR_FORMAT, "more than 1048576 JSON values");
        free(many);
    }
    /* offsets and sizes */
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, CLG_ERR_FORMAT, "need 8");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, CLG_ERR_FORMAT, "end before");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, CLG_ERR_FORMAT, "past the end");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, CLG_ERR_FORMAT, "overlaps");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, CLG_ERR_FORMAT, "unused data bytes");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, CLG_ERR_FORMAT, "after the last tensor");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, CLG_ERR_FORMAT, "given twice: duplicate object key near '\"a\"'");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
           CLG_ERR_FORMAT, "too large");
    /* header length lies */
    write_raw_st(p, "{}", NULL, 0, 1000);
    assert_clg_status(clg_safetensors_open(p, &f), CLG_ERR_FORMAT);
    assert_msg_has("header length 1000 is larger");
    write_raw_st(p, "{}", NULL, 0, (long long)0x7fffffffffffffffLL);
    assert_clg_status(clg_safetensors_open(p, &f), CLG_ERR_FORMAT);
    write_file(p, "\x02\0\0", 3, 0);
    assert_clg_status(clg_safetensors_open(p, &f), CLG_ERR_FORMAT);
    assert_msg_has("too short");
    assert_clg_status(clg_safetensors_open(tpath("nope.safetensors"), &f), CLG_ERR_IO);
    assert_msg_has(tpath("nope.safetensors"));
    assert_clg_status(clg_safetensors_open(tdir, &f), CLG_ERR_IO);

    /* accepted oddities: spaces/newlines, unknown fields with nested values, no metadata */
    write_raw_st(p, " \n{ \"a\" : { \"extra\": {\"x\": [1, -2.5e3, true, null, {\"y\": \"\\u00e9\"}]},"
                    " \"data_offsets\" : [ 0 , 4 ], \"shape\" : [ ] , \"dtype\" : \"F32\" } }   ",
                 "\0\0\x80\x3f", 4, -1);
    assert_clg_ok(clg_safetensors_open(p, &f));
    clg_st_tensor v;
    assert_clg_ok(clg_safetensors_find(f, "a", &v));
    assert_int_equal(v.ndim, 0);
    assert_true(((const float *)v.data)[0] == 1.0f);
    clg_safetensors_close(f);

    /* valid types clgrad cannot use: the file opens, the tensor is refused */
    write_raw_st(p, "{\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"d5\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[2,6]}}", "\0\0\0\0\0\0", 6, -1);
    assert_clg_ok(clg_safetensors_open(p, &f));
    assert_clg_status(clg_safetensors_find(f, "f8", &v), CLG_ERR_UNSUPPORTED);
    assert_msg_has("F8_E4M3");
    assert_clg_status(clg_safetensors_find(f, "d5", &v), CLG_ERR_UNSUPPORTED);
    assert_msg_has("5 dimensions");
    clg_safetensors_close(f);
    /* an i64 that does not fit in i32 */
    write_raw_st(p, "{\"big\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                 "\0\0\0\0\1\0\0\0", 8, -1);
    assert_clg_status(clg_safetensors_open(p, &f), CLG_ERR_UNSUPPORTED);
    assert_msg_has("4294967296");
}

/* Every truncation and many byte flips of a valid file: never a crash, only clean statuses. */
static void test_st_fuzz(void **s)
{
    (void)s;
    float x[7] = { 1, 2, 3, 4, 5, 6, 7 };
    int32_t y[3] = { -1, 0, 1 };
    const clg_st_tensor t[] = { { "x", CLG_F32, 2, { 7, 1 }, x }, { "y", CLG_I32, 1, { 3 }, y } };
    const char *meta[] = { "k", "v", NULL };
    const char *p = tpath("fuzz.safetensors"), *q = tpath("fuzz2.safetensors");
    assert_clg_ok(clg_safetensors_write(p, t, 2, meta));
    size_t len;
    unsigned char *b = read_whole(p, &len);
    clg_st_file *f;
    for (size_t cut = 0; cut < len; cut++) {
        write_file(q, b, cut, 0);
        clg_status st = clg_safetensors_open(q, &f);
        if (st != CLG_ERR_FORMAT)
            fail_msg("truncated to %zu bytes: %s (%s)", cut, clg_status_name(st), clg_last_error());
        assert_msg_has(q);
    }
    unsigned seed = 12345;
    int ok = 0;
    for (int it = 0; it < 600; it++) {
        unsigned char *c = malloc(len);
        memcpy(c, b, len);
        for (int k = 0; k < 1 + it % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = 8 + (seed >> 8) % (len - 8);
            seed = seed * 1103515245u + 12345u;
            c[pos] = (unsigned char)(seed >> 16);
        }
        write_file(q, c, len, 0);
        free(c);
        clg_status st = clg_safetensors_open(q, &f);
        if (st == CLG_OK) {
            ok++;
            for (int i = 0; i < clg_safetensors_count(f); i++) {
                clg_st_tensor v;
                clg_safetensors_get(f, i, &v);
            }
            clg_safetensors_close(f);
        } else if (st != CLG_ERR_FORMAT && st != CLG_ERR_UNSUPPORTED) {
            fail_msg("flip %d: %s (%s)", it, clg_status_name(st), clg_last_error());
        }
    }
    assert_true(ok > 0); /* flips in the data section stay valid */
    free(b);
}

/* ---- interop with Python (json + struct only; torch when importable) -------- */

static const char *py_reader =
    "import json, struct, sys\n"
    "def load(path):\n"
    "    b = open(path, 'rb').read()\n"
    "    n = struct.unpack('<Q', b[:8])[0]\n"
    "    h = json.loads(b[8:8 + n].decode('utf-8'))\n"
    "    meta = h.pop('__metadata__', {})\n"
    "    data = b[8 + n:]\n"
    "    out = {}\n"
    "    for name, t in h.items():\n"
    "        s, e = t['data_offsets']\n"
    "        numel = 1\n"
    "        for d in t['shape']: numel *= d\n"
    "        code = {'F32': 'f', 'I32': 'i'}[t['dtype']]\n"
    "        assert e - s == 4 * numel, name\n"
    "        out[name] = (t['dtype'], t['shape'], list(struct.unpack('<%d%s' % (numel, code), data[s:e])))\n"
    "    return out, meta\n"
    "out, meta = load(sys.argv[1])\n"
    "assert meta == {'framework': 'clgrad', 'quote': 'say \"hi\"\\n'}, meta\n"
    "assert sorted(out) == ['b.bias', 'emb', 'w\\u00e9'], sorted(out)\n"
    "dt, shape, v = out['w\\u00e9']\n"
    "assert dt == 'F32' and shape == [7, 33], (dt, shape)\n"
    "assert v == [(i % 17) * 0.25 - 2.0 for i in range(7 * 33)]\n"
    "dt, shape, v = out['emb']\n"
    "assert dt == 'I32' and shape == [1033], (dt, shape)\n"
    "assert v == [(i * 7919) % 100003 - 50000 for i in range(1033)]\n"
    "dt, shape, v = out['b.bias']\n"
    "assert dt == 'F32' and shape == [] and v == [0.5]\n"
    "try:\n"
    "    import torch\n"
    "except Exception:\n"
    "    torch = None\n"
    "if torch is not None:\n"
    "    dt, shape, v = out['w\\u00e9']\n"
    "    x = torch.tensor(v, dtype=torch.float32).reshape(shape)\n"
    "    assert x.shape == (7, 33) and float(x[1, 0]) == (33 % 17) * 0.25 - 2.0\n"
    "    print('torch ok')\n"
    "print('OK')\n";

static const char *py_writer =
    "import json, struct, sys\n"
    "tensors = [\n"
    "  ('x', 'F32', [33], struct.pack('<33f', *[i * 0.5 - 3 for i in range(33)])),\n"
    "  ('lab\\u00e9ls \\U0001F600', 'I32', [2, 3], struct.pack('<6i', -7, 0, 7, 2**31 - 1, -2**31, 5)),\n"
    "  ('d', 'F64', [7], struct.pack('<7d', 1.0, -2.5, 1e-3, 3.25, 1e30, 0.0, -1.0)),\n"
    "  ('h', 'F16', [5], struct.pack('<5e', 1.0, -2.5, 65504.0, 2.0**-24, float('inf'))),\n"
    "  ('bf', 'BF16', [2], struct.pack('<2H', 0x3f80, 0xc020)),\n"
    "  ('l', 'I64', [3], struct.pack('<3q', -5, 0, 2**31 - 1)),\n"
    "  ('u', 'U8', [4], bytes([0, 1, 200, 255])),\n"
    "  ('flag', 'BOOL', [3], bytes([0, 1, 1])),\n"
    "  ('i8', 'I8', [2], struct.pack('<2b', -128, 127)),\n"
    "]\n"
    "header = {'__metadata__': {'made by': 'python \\u2603'}}\n"
    "blob = b''\n"
    "for name, dt, shape, raw in reversed(tensors):\n"
    "    header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [len(blob), len(blob) + len(raw)]}\n"
    "    blob += raw\n"
    "h = json.dumps(header).encode('utf-8')\n"
    "try:\n"
    "    import torch\n"
    "    assert torch.tensor([1.0]).numel() == 1\n"
    "except ImportError:\n"
    "    pass\n"
    "open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + blob)\n";

static const char *python(void)
{
    if (access("/usr/bin/python3", X_OK) == 0)
        return "/usr/bin/python3";
    if (system("python3 -c 'import json, struct' >/dev/null 2>&1") == 0)
        return "python3";
    return NULL;
}

static void test_st_python_reads_ours(void **s)
{
    (void)s;
    const char *py = python();
    if (!py)
        skip();
    float w[7 * 33], half = 0.5f;
    int32_t emb[1033];
    for (int i = 0; i < 7 * 33; i++)
        w[i] = (float)(i % 17) * 0.25f - 2.0f;
    for (int i = 0; i < 1033; i++)
        emb[i] = (i * 7919) % 100003 - 50000;
    const clg_st_tensor t[] = {
        { "w\xc3\xa9", CLG_F32, 2, { 7, 33 }, w },
        { "emb", CLG_I32, 1, { 1033 }, emb },
        { "b.bias", CLG_F32, 0, { 0 }, &half },
    };
    const char *meta[] = { "framework", "clgrad", "quote", "say \"hi\"\n", NULL };
    assert_clg_ok(clg_safetensors_write(tpath("ours.safetensors"), t, 3, meta));
    FILE *f = fopen(tpath("reader.py"), "w");
    fputs(py_reader, f);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s", py, tpath("reader.py"), tpath("ours.safetensors"));
    assert_int_equal(system(cmd), 0);
}

static void test_st_we_read_python(void **s)
{
    (void)s;
    const char *py = python();
    if (!py)
        skip();
    FILE *fp = fopen(tpath("writer.py"), "w");
    fputs(py_writer, fp);
    fclose(fp);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s", py, tpath("writer.py"), tpath("py.safetensors"));
    assert_int_equal(system(cmd), 0);
    clg_st_file *f;
    assert_clg_ok(clg_safetensors_open(tpath("py.safetensors"), &f));
    assert_int_equal(clg_safetensors_count(f), 9);
    assert_string_equal(clg_safetensors_meta(f, "made by"), "python \xe2\x98\x83");
    clg_st_tensor v;
    /* data order is the reverse of the list above */
    assert_clg_ok(clg_safetensors_get(f, 0, &v));
    assert_string_equal(v.name, "i8");
    assert_clg_ok(clg_safetensors_find(f, "x", &v));
    assert_int_equal(v.dtype, CLG_F32);
    assert_int_equal(v.ndim, 1);
    assert_int_equal(v.shape[0], 33);
    for (int i = 0; i < 33; i++)
        assert_true(((const float *)v.data)[i] == (float)i * 0.5f - 3.0f);
    assert_clg_ok(clg_safetensors_find(f, "lab\xc3\xa9ls \xf0\x9f\x98\x80", &v));
    assert_int_equal(v.dtype, CLG_I32);
    assert_int_equal(v.ndim, 2);
    assert_int_equal(v.shape[0], 2);
    assert_int_equal(v.shape[1], 3);
    const int32_t want_l[6] = { -7, 0, 7, INT32_MAX, INT32_MIN, 5 };
    assert_memory_equal(v.data, want_l, sizeof want_l);
    assert_clg_ok(clg_safetensors_find(f, "d", &v));
    assert_int_equal(v.dtype, CLG_F32);
    const float want_d[7] = { 1.0f, -2.5f, 1e-3f, 3.25f, 1e30f, 0.0f, -1.0f };
    assert_memory_equal(v.data, want_d, sizeof want_d);
    assert_clg_ok(clg_safetensors_find(f, "h", &v));
    const float *h = v.data;
    assert_true(h[0] == 1.0f && h[1] == -2.5f && h[2] == 65504.0f && h[3] == ldexpf(1.0f, -24) &&
                isinf(h[4]) && h[4] > 0);
    assert_clg_ok(clg_safetensors_find(f, "bf", &v));
    assert_true(((const float *)v.data)[0] == 1.0f && ((const float *)v.data)[1] == -2.5f);
    assert_clg_ok(clg_safetensors_find(f, "l", &v));
    assert_int_equal(v.dtype, CLG_I32);
    const int32_t want_i64[3] = { -5, 0, INT32_MAX };
    assert_memory_equal(v.data, want_i64, sizeof want_i64);
    assert_clg_ok(clg_safetensors_find(f, "u", &v));
    const int32_t want_u[4] = { 0, 1, 200, 255 };
    assert_memory_equal(v.data, want_u, sizeof want_u);
    assert_clg_ok(clg_safetensors_find(f, "flag", &v));
    const int32_t want_b[3] = { 0, 1, 1 };
    assert_memory_equal(v.data, want_b, sizeof want_b);
    assert_clg_ok(clg_safetensors_find(f, "i8", &v));
    const int32_t want_i8[2] = { -128, 127 };
    assert_memory_equal(v.data, want_i8, sizeof want_i8);
    for (int i = 0; i < 9; i++) {
        assert_clg_ok(clg_safetensors_get(f, i, &v));
        assert_int_equal((uintptr_t)v.data % 4, 0);
    }
    clg_safetensors_close(f);
}

/* ---- PNG ------------------------------------------------------------------------ */

/* Read a PNG back with libpng's classic API; returns malloc'ed rows or NULL. */
static unsigned char *png_read_back(const char *path, int *w, int *h, int *color, int *depth)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile out = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(out);
        return NULL;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    *color = png_get_color_type(png, info);
    *depth = png_get_bit_depth(png, info);
    size_t stride = png_get_rowbytes(png, info);
    out = malloc(stride * (size_t)*h);
    for (int y = 0; y < *h; y++)
        png_read_row(png, out + (size_t)y * stride, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return out;
}

static void test_png_round_trip(void **s)
{
    (void)s;
    static const struct { int w, h, ch, color; } cases[] = {
        { 1, 1, 1, PNG_COLOR_TYPE_GRAY }, { 7, 33, 1, PNG_COLOR_TYPE_GRAY },
        { 1033, 2, 3, PNG_COLOR_TYPE_RGB }, { 33, 7, 3, PNG_COLOR_TYPE_RGB },
        { 5, 3, 2, PNG_COLOR_TYPE_GRAY_ALPHA }, { 3, 5, 4, PNG_COLOR_TYPE_RGB_ALPHA },
    };
    const char *p = tpath("img.png");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = (size_t)cases[c].w * (size_t)cases[c].h * (size_t)cases[c].ch;
        uint8_t *px = malloc(n);
        for (size_t i = 0; i < n; i++)
            px[i] = (uint8_t)(i * 31 + c);
        assert_clg_ok(clg_png_write(p, px, cases[c].w, cases[c].h, cases[c].ch));
        int w, h, color, depth;
        unsigned char *back = png_read_back(p, &w, &h, &color, &depth);
        assert_non_null(back);
        assert_int_equal(w, cases[c].w);
        assert_int_equal(h, cases[c].h);
        assert_int_equal(color, cases[c].color);
        assert_int_equal(depth, 8);
        assert_memory_equal(back, px, n);
        free(back);
        free(px);
    }
    assert_true(no_temp_files_left());
}

static void test_png_errors(void **s)
{
    (void)s;
    uint8_t px[12] = { 0 };
    const char *p = tpath("bad.png");
    assert_clg_status(clg_png_write(p, px, 2, 2, 5), CLG_ERR_INVALID_ARG);
    assert_msg_has("5 channels");
    assert_msg_has(p);
    assert_clg_status(clg_png_write(p, px, 2, 2, 0), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_png_write(p, px, 0, 2, 1), CLG_ERR_INVALID_ARG);
    assert_msg_has("0x2");
    assert_clg_status(clg_png_write(p, px, 2, -1, 1), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_png_write(p, NULL, 2, 2, 1), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_png_write(NULL, px, 2, 2, 1), CLG_ERR_INVALID_ARG);
    assert_int_equal(access(p, F_OK), -1);
    assert_clg_status(clg_png_write("/nonexistent-clgrad-dir/a.png", px, 2, 2, 3), CLG_ERR_IO);
    assert_msg_has("/nonexistent-clgrad-dir/a.png");
    assert_true(no_temp_files_left());
}

/* ---- FIFOs and other non-regular files: an error, never a hang ----------------- */

static void test_fifo_readers(void **s)
{
    (void)s;
    const char *fifo = tpath("fifo");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    clg_test_hang_guard(1);
    clg_idx idx;
    assert_clg_status(clg_idx_read(fifo, &idx), CLG_ERR_IO);
    assert_msg_has("is not a regular file (a FIFO)");
    assert_msg_has(fifo);
    clg_st_file *f = NULL;
    assert_clg_status(clg_safetensors_open(fifo, &f), CLG_ERR_IO);
    assert_msg_has("is not a regular file (a FIFO)");
    assert_null(f);
    assert_clg_status(clg_idx_read(tdir, &idx), CLG_ERR_IO);
    assert_msg_has("is not a regular file (a directory)");
    assert_clg_status(clg_safetensors_open(tdir, &f), CLG_ERR_IO);
    assert_msg_has("is not a regular file (a directory)");

    /* MNIST split whose images file is a FIFO */
    const char *mdir = tpath("mnist-fifo");
    assert_int_equal(mkdir(mdir, 0700), 0);
    char ip[600], lp[600];
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte", mdir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte", mdir);
    assert_int_equal(mkfifo(ip, 0600), 0);
    assert_int_equal(mkfifo(lp, 0600), 0);
    float *x = NULL;
    int32_t *y = NULL;
    int n, r, c;
    assert_clg_status(clg_mnist_load(mdir, "t10k", &x, &y, &n, &r, &c), CLG_ERR_IO);
    assert_msg_has("is not a regular file");

    /* tuning file: a FIFO where gemm_tune.txt belongs is ignored (defaults), not waited on */
    char cdir[600], tp[700];
    snprintf(cdir, sizeof cdir, "%s/cache", tdir);
    assert_int_equal(mkdir(cdir, 0700), 0);
    snprintf(tp, sizeof tp, "%s/gemm_tune.txt", cdir);
    assert_int_equal(mkfifo(tp, 0600), 0);
    clg_device_info d;
    memset(&d, 0, sizeof d);
    strcpy(d.name, "dev");
    strcpy(d.driver_version, "1");
    int path = -1, tm = 0, vw = 0, nv = 0;
    assert_int_equal(clg__gemm_tune_lookup(cdir, &d, 0, &path, &tm, &vw, &nv), 0);
    /* a regular tuning file still works */
    unlink(tp);
    static const char tune[] = "dev\t1\tnn\t4,8,2\ndev\t1\ttn\tclblast\n";
    write_file(tp, tune, sizeof tune - 1, 0);
    assert_int_equal(clg__gemm_tune_lookup(cdir, &d, 0, &path, &tm, &vw, &nv), 1);
    assert_int_equal(tm * 100 + vw * 10 + nv, 482);
    clg_test_hang_guard(0);
}

/* Class captions from a tiny dictionary: noun entries only, lettered and numbered senses,
 * citations and phrases skipped, the topic filter, per-word limits; the mean-word-vector encoding
 * (unit vectors, stop words skipped, an unknown hyphenated word by its parts). */
static void test_captions(void **s)
{
    (void)s;
    const char *dict = tpath("fixture.dict"), *index = tpath("fixture.index");
    assert_int_equal(dict_fixture_write(dict, index), 0);
    captions c;
    char err[256] = "";
    if (captions_build(dict, index, captions_fashion, 10, 2, &c, err, sizeof err))
        fail_msg("captions_build: %s", err);
    assert_int_equal(c.n_classes, 10);
    assert_int_equal(c.count[5], 2);
    assert_string_equal(c.text[5][0], "sandal");
    assert_string_equal(c.text[5][1], "sandal: a kind of shoe consisting of a sole strapped to the foot a protection for the foot");
    assert_int_equal(c.count[6], 2);
    assert_string_equal(c.text[6][1], "shirt: a loose under-garment for the upper part of the body");
    assert_int_equal(c.count[9], 3);
    assert_string_equal(c.text[9][0], "ankle boot");
    assert_string_equal(c.text[9][1], "ankle boot: a covering for the foot and lower part of the leg");
    assert_string_equal(c.text[9][2], "ankle boot: an instrument of torture for the leg");
    for (int k = 0; k < 5; k++) {
        assert_int_equal(c.count[k], 1);
        assert_string_equal(c.text[k][0], captions_fashion[k].name);
    }
    captions_free(&c);
    assert_int_equal(captions_build(dict, index, captions_fashion, 10, 1, &c, err, sizeof err), 0);
    assert_int_equal(c.count[9], 2);
    captions_free(&c);
    assert_int_equal(captions_build(dict, tpath("no.index"), captions_fashion, 10, 1, &c, err, sizeof err), 1);
    assert_non_null(strstr(err, "no.index"));
    /* an index naming none of the headwords: each class is its name alone (found by fuzz_captions:
     * qsort(NULL, 0) before, undefined behaviour that the sanitizer build reports) */
    FILE *f = fopen(tpath("other.index"), "w");
    assert_non_null(f);
    fputs("Abacus\tA\tB\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(captions_build(dict, tpath("other.index"), captions_fashion, 10, 2, &c, err, sizeof err), 0);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(c.count[k], 1);
        assert_string_equal(c.text[k][0], captions_fashion[k].name);
    }
    captions_free(&c);

    char *words[] = { "shoe", "t", "shirt", "the" };
    float data[] = { 3, 0, 0, 4, 0, 2, 0, 0, 0, 0, 5, 0, 1, 1, 1, 1 };
    clg_vectors v = { .n = 4, .dim = 4, .words = words, .data = data };
    float out[4];
    assert_int_equal(captions_embed(&v, "The shoe!", out), 1); /* "the" is a stop word */
    assert_float_equal(out[0], 0.6f, 1e-6);
    assert_float_equal(out[3], 0.8f, 1e-6);
    assert_int_equal(captions_embed(&v, "t-shirt, shoe; unknown", out), 3);
    assert_float_equal(out[0], 0.2f, 1e-6);
    assert_float_equal(out[1], 1.0f / 3, 1e-6);
    assert_float_equal(out[2], 1.0f / 3, 1e-6);
    assert_float_equal(out[3], 0.8f / 3, 1e-6);
    assert_int_equal(captions_embed(&v, "nothing known", out), 0);
    assert_float_equal(out[0], 0, 0);
}

/* GCIDE dictionary input is streamed: a FIFO with a writer is read, one without is refused in bounded time. */
static void test_gcide_stream(void **s)
{
    (void)s;
    const char *fifo = tpath("gcide-fifo");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    clg_test_hang_guard(1);
    char err[512] = "";
    gzFile g = gcide_open(fifo, 200, err, sizeof err);
    assert_null(g);
    if (!strstr(err, "no process writes to the FIFO"))
        fail_msg("gcide_open error '%s'", err);
    assert_null(gcide_open(tdir, 200, err, sizeof err));
    if (!strstr(err, "not a regular file or a pipe"))
        fail_msg("gcide_open error '%s'", err);
    /* a writer that comes 100 ms later */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        usleep(100000);
        FILE *w = fopen(fifo, "w");
        if (!w)
            _exit(1);
        fputs("00-database-info\nheader\n\nApple \\Ap\"ple\\, n. [AS. [ae]ppel.]\n   The fleshy fruit of a tree.\n"
              "   [1913 Webster]\n", w);
        _exit(fclose(w) != 0);
    }
    g = gcide_open(fifo, 5000, err, sizeof err);
    if (!g)
        fail_msg("gcide_open: %s", err);
    char *text = NULL;
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    assert_non_null(out);
    gcide e;
    gcide_init(&e, out);
    char line[GCIDE_LINE];
    while (gzgets(g, line, sizeof line))
        gcide_line(&e, line);
    gcide_finish(&e);
    assert_int_equal(gzclose(g), Z_OK);
    assert_int_equal(fclose(out), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(text, "apple n the fleshy fruit of a tree\n");
    free(text);
    clg_test_hang_guard(0);
}

/* ---- runner ---------------------------------------------------------------- */

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
        cmocka_unit_test(test_idx_gzip_forms),
        cmocka_unit_test(test_mnist_small),
        cmocka_unit_test(test_mnist_errors),
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_st_round_trip),
        cmocka_unit_test(test_st_write_errors),
        cmocka_unit_test(test_st_corrupt),
        cmocka_unit_test(test_st_fuzz),
        cmocka_unit_test(test_st_python_reads_ours),
        cmocka_unit_test(test_st_we_read_python),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_png_errors),
        cmocka_unit_test(test_fifo_readers),
        cmocka_unit_test(test_gcide_stream),
        cmocka_unit_test(test_captions),
    };
    int rc = clg_test_run("io", tests, sizeof tests / sizeof tests[0]);
    util_rm_tree(tdir);
    return rc;
}
