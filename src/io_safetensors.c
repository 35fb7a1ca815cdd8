/* io_safetensors.c — safetensors files: atomic writer, and a strict reader whose JSON header is parsed by jansson. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "clgrad/io.h"
#include "internal.h"
#include "io_internal.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* the reference implementation's limit */
#define ST_MAX_DIMS 16                       /* parsed; more than CLG_MAX_DIMS is unusable */
#define ST_MAX_DEPTH 64                      /* object/array levels below the header object */
#define ST_MAX_VALUES (1 << 20)              /* JSON values in a header: ~100k tensors */

/* ---- element types -------------------------------------------------------- */

enum st_kind { K_F32, K_I32, K_F64, K_F16, K_BF16, K_SINT, K_UINT, K_BOOL, K_OTHER };

static const struct st_dtype {
    const char *name;
    int size;
    enum st_kind kind;
} st_dtypes[] = {
    { "F32", 4, K_F32 },  { "I32", 4, K_I32 },   { "F64", 8, K_F64 },   { "F16", 2, K_F16 },
    { "BF16", 2, K_BF16 }, { "I64", 8, K_SINT },  { "I16", 2, K_SINT },  { "I8", 1, K_SINT },
    { "U8", 1, K_UINT },  { "U16", 2, K_UINT },  { "U32", 4, K_UINT },  { "U64", 8, K_UINT },
    { "BOOL", 1, K_BOOL }, { "F8_E4M3", 1, K_OTHER }, { "F8_E5M2", 1, K_OTHER },
    { "F8_E8M0", 1, K_OTHER }, { "C64", 8, K_OTHER },
};
#define ST_NDTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

static int host_is_le(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static uint64_t ld_le(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man) { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 1024));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 1023) << 13;
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---- the opened file ------------------------------------------------------ */

typedef struct st_entry {
    char *name;
    int dt;                 /* index into st_dtypes */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;
    int order;              /* position in the header, to keep sorting stable */
    const void *data;       /* 4-byte aligned f32/i32 */
    void *own;              /* converted or realigned copy */
} st_entry;

struct clg_st_file {
    char *path;
    unsigned char *buf;     /* the data section */
    size_t buflen;
    st_entry *e;            /* n tensors, in header order until validate() sorts them */
    int n;
    char **mkey, **mval;    /* nmeta "__metadata__" pairs */
    int nmeta;
};

void clg_safetensors_close(clg_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++) {
        free(f->e[i].name);
        free(f->e[i].own);
    }
    for (int i = 0; i < f->nmeta; i++) {
        free(f->mkey[i]);
        free(f->mval[i]);
    }
    free(f->e);
    free(f->mkey);
    free(f->mval);
    free(f->buf);
    free(f->path);
    free(f);
}

int clg_safetensors_count(const clg_st_file *f) { return f ? f->n : 0; }

const char *clg_safetensors_meta(const clg_st_file *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->mkey[i], key))
            return f->mval[i];
    return NULL;
}

clg_status clg_safetensors_get(const clg_st_file *f, int index, clg_st_tensor *out)
{
    if (!f || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_get: NULL argument");
    memset(out, 0, sizeof *out);
    if (index < 0 || index >= f->n)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: tensor index %d out of range 0..%d", f->path, index,
                         f->n - 1);
    const st_entry *e = &f->e[index];
    const struct st_dtype *d = &st_dtypes[e->dt];
    if (d->kind == K_OTHER)
        return clg__fail(CLG_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, which clgrad cannot convert",
                         f->path, e->name, d->name);
    if (e->ndim > CLG_MAX_DIMS)
        return clg__fail(CLG_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions, clgrad supports %d",
                         f->path, e->name, e->ndim, CLG_MAX_DIMS);
    out->name = e->name;
    out->dtype = (d->kind == K_F32 || d->kind == K_F64 || d->kind == K_F16 || d->kind == K_BF16)
                     ? CLG_F32
                     : CLG_I32;
    out->ndim = e->ndim;
    for (int i = 0; i < e->ndim; i++)
        out->shape[i] = e->shape[i];
    out->data = e->data;
    return CLG_OK;
}

clg_status clg_safetensors_find(const clg_st_file *f, const char *name, clg_st_tensor *out)
{
    if (!f || !name || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_find: NULL argument");
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].name, name))
            return clg_safetensors_get(f, i, out);
    memset(out, 0, sizeof *out);
    return clg__fail(CLG_ERR_INVALID_ARG, "%s: no tensor named '%s'", f->path, name);
}

/* ---- the JSON header (parsed by jansson) ----------------------------------------- */

/* Why jansson, not cJSON or a parser of our own, measured (duplicate keys, int64, UTF-8, NUL, depth,
 * size, speed): tools/BENCHMARKS.md, section "JSON".  What jansson allows that a safetensors header
 * may not is checked below on its tree. */

/* Anything jansson cannot parse, as a clgrad FORMAT error that says where and why.  Our words come
 * first for the failures a user can act on; jansson's text (with the token it stopped at) follows. */
static clg_status json_fail(const char *path, const json_error_t *e)
{
    const char *what = "";
    switch (json_error_code(e)) {
    case json_error_end_of_input_expected: what = "unexpected data after the header object: "; break;
    case json_error_numeric_overflow: what = "number too large: "; break;
    case json_error_duplicate_key: what = "a key is given twice: "; break;
    case json_error_invalid_utf8: what = "invalid UTF-8: "; break;
    case json_error_null_character:
    case json_error_null_byte_in_key: what = "string contains a NUL character: "; break;
    case json_error_stack_overflow: what = "nested too deeply: "; break;
    case json_error_out_of_memory:
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory parsing the header", path);
    default: break;
    }
    return clg__fail(CLG_ERR_FORMAT, "%s: malformed safetensors header at byte %d (line %d, column %d): %s%s",
                     path, e->position, e->line, e->column, what, e->text);
}

/* Count the header's JSON values (every '{', '[' and ',' outside strings, plus one) before jansson
 * builds them: its tree costs up to ~80 bytes of memory per header byte ("{}," repeated), so a
 * hostile 100 MB header could take 8 GB; under ST_MAX_VALUES the tree stays under ~120 MB (measured:
 * 524k "{}" take 116 MB) plus the strings' own bytes. */
static uint64_t count_values(const unsigned char *p, size_t n)
{
    uint64_t count = 1;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[' || c == ',') {
            count++;
        }
    }
    return count;
}

/* jansson allows 2048 levels; the header needs 3, and unknown fields get up to ST_MAX_DEPTH. */
static int too_deep(json_t *v, int level)
{
    if (level > ST_MAX_DEPTH)
        return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
            if ((json_is_object(m) || json_is_array(m)) && too_deep(m, level + 1))
                return 1;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
            if ((json_is_object(m) || json_is_array(m)) && too_deep(m, level + 1))
                return 1;
    }
    return 0;
}

/* [u, u, ...] of non-negative integers into out (at most maxn); *n gets the count.  jansson has
 * already refused integers beyond int64 and told integers from reals ("1.0", "1e3"). */
static clg_status uint_array(const char *path, const char *tensor, const char *what, json_t *a,
                             uint64_t *out, int maxn, int *n)
{
    if (!json_is_array(a))
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': \"%s\" must be an array of non-negative integers",
                         path, tensor, what);
    if (json_array_size(a) > (size_t)maxn)
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': \"%s\" has more than %d entries", path, tensor,
                         what, maxn);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': \"%s\": expected a non-negative integer",
                             path, tensor, what);
        out[i] = (uint64_t)json_integer_value(v);
    }
    *n = (int)json_array_size(a);
    return CLG_OK;
}

static clg_status parse_tensor(const char *path, json_t *o, st_entry *e)
{
    if (!json_is_object(o))
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': expected an object", path, e->name);
    json_t *dt = json_object_get(o, "dtype"), *shape = json_object_get(o, "shape"),
           *off = json_object_get(o, "data_offsets"); /* other fields are ignored */
    if (!dt || !shape || !off)
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s' lacks \"%s\"", path, e->name,
                         !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!json_is_string(dt))
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': \"dtype\" must be a string", path, e->name);
    e->dt = -1;
    for (int k = 0; k < ST_NDTYPES; k++)
        if (!strcmp(json_string_value(dt), st_dtypes[k].name))
            e->dt = k;
    if (e->dt < 0)
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.64s'", path, e->name,
                         json_string_value(dt));
    uint64_t v[ST_MAX_DIMS];
    int n;
    clg_status st = uint_array(path, e->name, "shape", shape, v, ST_MAX_DIMS, &e->ndim);
    if (st)
        return st;
    for (int k = 0; k < e->ndim; k++)
        e->shape[k] = (int64_t)v[k];
    if ((st = uint_array(path, e->name, "data_offsets", off, v, 2, &n)))
        return st;
    if (n != 2)
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" needs [begin, end]", path, e->name);
    e->begin = v[0];
    e->end = v[1];
    return CLG_OK;
}

static clg_status parse_meta(const char *path, json_t *o, clg_st_file *f)
{
    if (!json_is_object(o))
        return clg__fail(CLG_ERR_FORMAT, "%s: __metadata__ must be an object of strings", path);
    size_t n = json_object_size(o);
    if (!n)
        return CLG_OK;
    if (!(f->mkey = calloc(n, sizeof *f->mkey)) || !(f->mval = calloc(n, sizeof *f->mval)))
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!json_is_string(v))
            return clg__fail(CLG_ERR_FORMAT, "%s: __metadata__ value of '%s' must be a string", path, k);
        if (!(f->mkey[f->nmeta] = strdup(k)) || !(f->mval[f->nmeta] = strdup(json_string_value(v)))) {
            free(f->mkey[f->nmeta]);
            f->mkey[f->nmeta] = NULL;
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
        f->nmeta++;
    }
    return CLG_OK;
}

/* The header: one object of tensors (and an optional "__metadata__"), no repeated key at any
 * level, UTF-8 without NUL, integers within int64, nothing after it (jansson checks all of that). */
static clg_status parse_header(const char *path, const unsigned char *hdr, size_t hlen, clg_st_file *f)
{
    size_t i = 0;
    while (i < hlen && (hdr[i] == ' ' || hdr[i] == '\t' || hdr[i] == '\n' || hdr[i] == '\r'))
        i++;
    if (i == hlen || hdr[i] != '{')
        return clg__fail(CLG_ERR_FORMAT, "%s: malformed safetensors header: the header must be a JSON object",
                         path);
    if (count_values(hdr, hlen) > ST_MAX_VALUES)
        return clg__fail(CLG_ERR_FORMAT, "%s: malformed safetensors header: more than %d JSON values", path,
                         ST_MAX_VALUES);
    json_error_t je;
    json_t *root = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return json_fail(path, &je);
    clg_status st = CLG_OK;
    if (too_deep(root, 0)) {
        st = clg__fail(CLG_ERR_FORMAT, "%s: malformed safetensors header: nested deeper than %d levels", path,
                       ST_MAX_DEPTH);
        goto out;
    }
    size_t n = json_object_size(root);
    if (n && !(f->e = calloc(n, sizeof *f->e))) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) { /* in file order */
        if (!strcmp(key, "__metadata__")) {
            if ((st = parse_meta(path, v, f)))
                goto out;
            continue;
        }
        st_entry *e = &f->e[f->n];
        if (!(e->name = strdup(key))) {
            st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
            goto out;
        }
        e->order = f->n++;
        if ((st = parse_tensor(path, v, e)))
            goto out;
    }
out:
    json_decref(root);
    return st;
}

/* ---- validation and conversion --------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order - y->order;
}

/* Make e->data a 4-byte aligned f32/i32 array of the tensor. */
static clg_status convert(clg_st_file *f, st_entry *e, uint64_t numel)
{
    const struct st_dtype *d = &st_dtypes[e->dt];
    const unsigned char *src = f->buf + e->begin;
    if (d->kind == K_OTHER || e->ndim > CLG_MAX_DIMS)
        return CLG_OK; /* reported by clg_safetensors_get */
    if ((d->kind == K_F32 || d->kind == K_I32) && host_is_le() && (e->begin & 3) == 0) {
        e->data = src;
        return CLG_OK;
    }
    e->own = malloc(numel ? (size_t)numel * 4 : 4);
    if (!e->own)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: tensor '%s': cannot allocate %llu elements",
                         f->path, e->name, (unsigned long long)numel);
    float *fo = e->own;
    int32_t *io = e->own;
    for (uint64_t i = 0; i < numel; i++) {
        uint64_t v = ld_le(src + i * (uint64_t)d->size, d->size);
        switch (d->kind) {
        case K_F32:
        case K_I32: {
            uint32_t w = (uint32_t)v;
            memcpy(&io[i], &w, 4);
            break;
        }
        case K_F64: {
            double x;
            memcpy(&x, &v, 8);
            fo[i] = (float)x;
            break;
        }
        case K_F16: fo[i] = half_to_float((uint16_t)v); break;
        case K_BF16: {
            uint32_t w = (uint32_t)v << 16;
            memcpy(&fo[i], &w, 4);
            break;
        }
        case K_SINT: {
            int shift = 64 - 8 * d->size;
            int64_t x = (int64_t)(v << shift) >> shift; /* sign-extend */
            if (x < INT32_MIN || x > INT32_MAX)
                return clg__fail(CLG_ERR_UNSUPPORTED,
                                 "%s: tensor '%s' (%s): element %llu = %lld does not fit in i32", f->path,
                                 e->name, d->name, (unsigned long long)i, (long long)x);
            io[i] = (int32_t)x;
            break;
        }
        case K_UINT:
            if (v > INT32_MAX)
                return clg__fail(CLG_ERR_UNSUPPORTED,
                                 "%s: tensor '%s' (%s): element %llu = %llu does not fit in i32", f->path,
                                 e->name, d->name, (unsigned long long)i, (unsigned long long)v);
            io[i] = (int32_t)v;
            break;
        case K_BOOL: io[i] = v != 0; break;
        case K_OTHER: break;
        }
    }
    e->data = e->own;
    return CLG_OK;
}

static clg_status validate(clg_st_file *f)
{
    clg_status st;
    for (int i = 0; i < f->n; i++) {
        st_entry *e = &f->e[i];
        uint64_t numel = 1, size = (uint64_t)st_dtypes[e->dt].size;
        for (int k = 0; k < e->ndim; k++) {
            uint64_t dk = (uint64_t)e->shape[k];
            if (dk && numel > UINT64_MAX / size / dk)
                return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': shape is too large", f->path, e->name);
            numel *= dk;
        }
        if (e->begin > e->end)
            return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                             f->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end);
        if (e->end - e->begin != numel * size)
            return clg__fail(CLG_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s x %llu elements need %llu",
                             f->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                             (unsigned long long)(e->end - e->begin), st_dtypes[e->dt].name,
                             (unsigned long long)numel, (unsigned long long)(numel * size));
        if (e->end > f->buflen)
            return clg__fail(CLG_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the %zu data bytes (truncated file?)",
                             f->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                             f->buflen);
    }
    if (f->n > 1)
        qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_entry);
    uint64_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        st_entry *e = &f->e[i];
        if (e->begin < pos)
            return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s' (bytes %llu..%llu) overlaps tensor '%s'",
                             f->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                             f->e[i - 1].name);
        if (e->begin > pos)
            return clg__fail(CLG_ERR_FORMAT, "%s: %llu unused data bytes before tensor '%s'", f->path,
                             (unsigned long long)(e->begin - pos), e->name);
        pos = e->end;
    }
    if (pos != f->buflen)
        return clg__fail(CLG_ERR_FORMAT, "%s: %llu data bytes after the last tensor belong to none",
                         f->path, (unsigned long long)(f->buflen - pos));
    for (int i = 0; i < f->n; i++) {
        uint64_t numel = (f->e[i].end - f->e[i].begin) / (uint64_t)st_dtypes[f->e[i].dt].size;
        if ((st = convert(f, &f->e[i], numel)))
            return st;
    }
    return CLG_OK;
}

/* ---- open -------------------------------------------------------------------- */

static clg_status read_exact(FILE *fp, const char *path, void *buf, size_t n)
{
    if (n && fread(buf, 1, n, fp) != n) {
        if (ferror(fp))
            return clg__fail(CLG_ERR_IO, "reading %s: %s", path, strerror(errno));
        return clg__fail(CLG_ERR_FORMAT, "%s: truncated while reading", path);
    }
    return CLG_OK;
}

clg_status clg_safetensors_open(const char *path, clg_st_file **out)
{
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_open: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_open: empty path");
    FILE *fp;
    clg_status st = clg_file_open_read(path, "safetensors file", &fp);
    if (st)
        return st;
    unsigned char *hdr = NULL;
    clg_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto out;
    }
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) {
        st = clg__fail(CLG_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    if (fsize < 8) {
        st = clg__fail(CLG_ERR_FORMAT, "%s: %llu bytes, too short for the 8-byte header length (truncated?)",
                       path, (unsigned long long)fsize);
        goto out;
    }
    unsigned char lenb[8];
    if ((st = read_exact(fp, path, lenb, 8)))
        goto out;
    uint64_t hlen = ld_le(lenb, 8);
    if (hlen > fsize - 8) {
        st = clg__fail(CLG_ERR_FORMAT,
                       "%s: header length %llu is larger than the %llu bytes that follow it (truncated or not safetensors)",
                       path, (unsigned long long)hlen, (unsigned long long)(fsize - 8));
        goto out;
    }
    if (hlen > ST_MAX_HEADER || hlen < 2) {
        st = clg__fail(CLG_ERR_FORMAT, "%s: implausible header length %llu", path, (unsigned long long)hlen);
        goto out;
    }
    hdr = malloc((size_t)hlen);
    f->buflen = (size_t)(fsize - 8 - hlen);
    f->buf = malloc(f->buflen ? f->buflen : 1);
    if (!hdr || !f->buf) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: cannot allocate %llu bytes", path,
                       (unsigned long long)fsize);
        goto out;
    }
    if ((st = read_exact(fp, path, hdr, (size_t)hlen)) || (st = read_exact(fp, path, f->buf, f->buflen)))
        goto out;
    if ((st = parse_header(path, hdr, (size_t)hlen, f)) || (st = validate(f)))
        goto out;
    *out = f;
    f = NULL;
out:
    free(hdr);
    clg_safetensors_close(f);
    fclose(fp);
    return st;
}

/* ---- write ---------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (b->n + n + 1 > nc)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

clg_status clg_safetensors_write(const char *path, const clg_st_tensor *tensors, int n,
                                 const char *const *meta_kv)
{
    if (!path || !*path)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write: empty path");
    if (n < 0 || (n > 0 && !tensors))
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write %s: bad tensor list (n = %d)", path, n);
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const clg_st_tensor *t = &tensors[i];
        const char *nm = t->name ? t->name : "(null)";
        if (!t->name || !*t->name || !strcmp(t->name, "__metadata__"))
            return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write %s: tensor %d has bad name '%s'",
                             path, i, nm);
        for (int k = 0; k < i; k++)
            if (!strcmp(tensors[k].name, t->name))
                return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write %s: tensor name '%s' used twice",
                                 path, t->name);
        if (t->dtype != CLG_F32 && t->dtype != CLG_I32)
            return clg__fail(CLG_ERR_DTYPE, "clg_safetensors_write %s: tensor '%s' has dtype %d", path, nm,
                             (int)t->dtype);
        if (t->ndim < 0 || t->ndim > CLG_MAX_DIMS)
            return clg__fail(CLG_ERR_SHAPE, "clg_safetensors_write %s: tensor '%s' has %d dimensions",
                             path, nm, t->ndim);
        uint64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] < 0 || (t->shape[k] && numel > (UINT64_MAX >> 3) / (uint64_t)t->shape[k]))
                return clg__fail(CLG_ERR_SHAPE, "clg_safetensors_write %s: tensor '%s' has bad dimension %lld",
                                 path, nm, (long long)t->shape[k]);
            numel *= (uint64_t)t->shape[k];
        }
        if (numel && !t->data)
            return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write %s: tensor '%s' has no data",
                             path, nm);
        offset += numel * 4;
    }
    int nmeta = 0;
    if (meta_kv) {
        for (; meta_kv[2 * nmeta]; nmeta++) {
            if (!meta_kv[2 * nmeta + 1])
                return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write %s: metadata key '%s' has no value",
                                 path, meta_kv[2 * nmeta]);
            for (int k = 0; k < nmeta; k++)
                if (!strcmp(meta_kv[2 * k], meta_kv[2 * nmeta]))
                    return clg__fail(CLG_ERR_INVALID_ARG, "clg_safetensors_write %s: metadata key '%s' used twice",
                                     path, meta_kv[2 * nmeta]);
        }
    }

    sbuf h = { 0 };
    char num[64];
    sb_str(&h, "{");
    if (nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int k = 0; k < nmeta; k++) {
            if (k)
                sb_str(&h, ",");
            sb_json(&h, meta_kv[2 * k]);
            sb_str(&h, ":");
            sb_json(&h, meta_kv[2 * k + 1]);
        }
        sb_str(&h, "}");
    }
    offset = 0;
    for (int i = 0; i < n; i++) {
        const clg_st_tensor *t = &tensors[i];
        uint64_t numel = 1;
        if (i || nmeta)
            sb_str(&h, ",");
        sb_json(&h, t->name);
        sb_str(&h, t->dtype == CLG_F32 ? ":{\"dtype\":\"F32\",\"shape\":[" : ":{\"dtype\":\"I32\",\"shape\":[");
        for (int k = 0; k < t->ndim; k++) {
            snprintf(num, sizeof num, k ? ",%lld" : "%lld", (long long)t->shape[k]);
            sb_str(&h, num);
            numel *= (uint64_t)t->shape[k];
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + numel * 4));
        sb_str(&h, num);
        offset += numel * 4;
    }
    sb_str(&h, "}");
    while ((8 + h.n) % 8)
        sb_str(&h, " ");
    if (h.oom) {
        free(h.p);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_safetensors_write %s: out of memory", path);
    }

    clg__afile af;
    clg_status st = clg__afile_open(&af, path);
    if (st) {
        free(h.p);
        return st;
    }
    unsigned char lenb[8];
    for (int k = 0; k < 8; k++)
        lenb[k] = (unsigned char)((uint64_t)h.n >> (8 * k));
    if ((st = clg__afile_write(&af, lenb, 8)) || (st = clg__afile_write(&af, h.p, h.n)))
        goto fail;
    for (int i = 0; i < n; i++) {
        const clg_st_tensor *t = &tensors[i];
        size_t numel = 1;
        for (int k = 0; k < t->ndim; k++)
            numel *= (size_t)t->shape[k];
        if (host_is_le()) {
            if ((st = clg__afile_write(&af, t->data, numel * 4)))
                goto fail;
            continue;
        }
        const unsigned char *src = t->data;
        unsigned char tmp[4096];
        for (size_t e = 0; e < numel; e += sizeof tmp / 4) {
            size_t m = numel - e < sizeof tmp / 4 ? numel - e : sizeof tmp / 4;
            for (size_t q = 0; q < m; q++)
                for (int k = 0; k < 4; k++)
                    tmp[4 * q + (size_t)k] = src[4 * (e + q) + 3 - (size_t)k];
            if ((st = clg__afile_write(&af, tmp, m * 4)))
                goto fail;
        }
    }
    free(h.p);
    return clg__afile_commit(&af);
fail:
    free(h.p);
    clg__afile_abort(&af);
    return st;
}
