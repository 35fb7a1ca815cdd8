/* io_safetensors.c — safetensors files: atomic writer, and a reader with a strict hand-written JSON header parser. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clgrad/io.h"
#include "internal.h"
#include "io_internal.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* the reference implementation's limit */
#define ST_MAX_DIMS 16                       /* parsed; more than CLG_MAX_DIMS is unusable */
#define ST_MAX_DEPTH 64

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
    st_entry *e;
    int n, cap;
    char **mkey, **mval;
    int nmeta, mcap;
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

/* ---- JSON header parser ---------------------------------------------------- */

typedef struct jp {
    const unsigned char *start, *p, *end;
    const char *path;
} jp;

static clg_status jerr(jp *j, const char *fmt, ...) CLG_PRINTF(2, 3);
static clg_status jerr(jp *j, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clg__fail(CLG_ERR_FORMAT, "%s: malformed safetensors header at byte %ld: %s", j->path,
                     (long)(j->p - j->start), msg);
}

static void jws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* Skip whitespace and consume c if it comes next (1), else 0: the ',' after a member or
 * element, or the ']' / '}' of an empty container. */
static int jtake(jp *j, char c)
{
    jws(j);
    if (j->p < j->end && *j->p == (unsigned char)c) {
        j->p++;
        return 1;
    }
    return 0;
}

static clg_status jexpect(jp *j, char c)
{
    jws(j);
    if (j->p >= j->end)
        return jerr(j, "expected '%c', found the end of the header", c);
    if (*j->p != (unsigned char)c)
        return (*j->p >= 0x20 && *j->p < 0x7f) ? jerr(j, "expected '%c', found '%c'", c, *j->p)
                                                : jerr(j, "expected '%c', found byte 0x%02x", c, *j->p);
    j->p++;
    return CLG_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u16hex(jp *j, unsigned *out)
{
    if (j->end - j->p < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0)
            return 0;
        v = v << 4 | (unsigned)h;
    }
    j->p += 4;
    *out = v;
    return 1;
}

/* Parse a string into a malloc'ed, NUL-terminated UTF-8 copy (out may be NULL to skip). */
static clg_status jstring(jp *j, char **out, size_t *outlen)
{
    clg_status st = jexpect(j, '"');
    if (st)
        return st;
    /* decoded text is never longer than the escaped text */
    const unsigned char *q = j->p;
    while (q < j->end && *q != '"')
        q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
    if (q >= j->end)
        return jerr(j, "unterminated string");
    char *s = malloc((size_t)(q - j->p) + 1);
    if (!s)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory parsing the header", j->path);
    size_t n = 0;
    while (*j->p != '"') {
        unsigned char c = *j->p;
        if (c < 0x20) {
            st = jerr(j, "control character 0x%02x inside a string", c);
            goto fail;
        }
        if (c != '\\') {
            s[n++] = (char)c;
            j->p++;
            continue;
        }
        j->p++;
        c = *j->p++;
        switch (c) {
        case '"': s[n++] = '"'; break;
        case '\\': s[n++] = '\\'; break;
        case '/': s[n++] = '/'; break;
        case 'b': s[n++] = '\b'; break;
        case 'f': s[n++] = '\f'; break;
        case 'n': s[n++] = '\n'; break;
        case 'r': s[n++] = '\r'; break;
        case 't': s[n++] = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if (!read_u16hex(j, &u)) {
                st = jerr(j, "bad \\u escape");
                goto fail;
            }
            uint32_t cp = u;
            if (u >= 0xDC00 && u <= 0xDFFF) {
                st = jerr(j, "lone low surrogate \\u%04x", u);
                goto fail;
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
                    st = jerr(j, "high surrogate \\u%04x without its low half", u);
                    goto fail;
                }
                j->p += 2;
                if (!read_u16hex(j, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    st = jerr(j, "high surrogate \\u%04x without its low half", u);
                    goto fail;
                }
                cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            /* the 6 (or 12) escaped bytes always cover the 1..4 UTF-8 bytes */
            if (cp < 0x80) {
                s[n++] = (char)cp;
            } else if (cp < 0x800) {
                s[n++] = (char)(0xC0 | cp >> 6);
                s[n++] = (char)(0x80 | (cp & 63));
            } else if (cp < 0x10000) {
                s[n++] = (char)(0xE0 | cp >> 12);
                s[n++] = (char)(0x80 | (cp >> 6 & 63));
                s[n++] = (char)(0x80 | (cp & 63));
            } else {
                s[n++] = (char)(0xF0 | cp >> 18);
                s[n++] = (char)(0x80 | (cp >> 12 & 63));
                s[n++] = (char)(0x80 | (cp >> 6 & 63));
                s[n++] = (char)(0x80 | (cp & 63));
            }
            break;
        }
        default:
            j->p--;
            st = jerr(j, "bad escape '\\%c'", c);
            goto fail;
        }
    }
    j->p++;
    s[n] = 0;
    if (outlen)
        *outlen = n;
    if (out)
        *out = s;
    else
        free(s);
    return CLG_OK;
fail:
    free(s);
    return st;
}

/* A key that must be a plain C string (no embedded NUL). */
static clg_status jkey(jp *j, char **out)
{
    size_t len;
    clg_status st = jstring(j, out, &len);
    if (st)
        return st;
    if (strlen(*out) != len) {
        free(*out);
        *out = NULL;
        return jerr(j, "string contains a NUL character");
    }
    if ((st = jexpect(j, ':'))) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static clg_status jnumber(jp *j)
{
    const unsigned char *p = j->p;
    if (p < j->end && *p == '-')
        p++;
    if (p >= j->end || *p < '0' || *p > '9')
        return jerr(j, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    if (p < j->end && *p == '.') {
        p++;
        if (p >= j->end || *p < '0' || *p > '9')
            return jerr(j, "bad number");
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= j->end || *p < '0' || *p > '9')
            return jerr(j, "bad number");
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    j->p = p;
    return CLG_OK;
}

/* A non-negative integer without sign, fraction or exponent, up to 2^63 - 1. */
static clg_status juint(jp *j, uint64_t *out, const char *what)
{
    jws(j);
    const unsigned char *p = j->p;
    if (p >= j->end || *p < '0' || *p > '9')
        return jerr(j, "%s: expected a non-negative integer", what);
    uint64_t v = 0;
    if (*p == '0') {
        p++;
    } else {
        while (p < j->end && *p >= '0' && *p <= '9') {
            if (v > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10)
                return jerr(j, "%s: integer too large", what);
            v = v * 10 + (uint64_t)(*p - '0');
            p++;
        }
    }
    if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return jerr(j, "%s: expected a non-negative integer", what);
    j->p = p;
    *out = v;
    return CLG_OK;
}

static clg_status jliteral(jp *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return jerr(j, "unexpected character '%c'", *j->p);
    j->p += n;
    return CLG_OK;
}

/* Validate and skip any JSON value. */
static clg_status jskip(jp *j, int depth)
{
    clg_status st;
    if (depth > ST_MAX_DEPTH)
        return jerr(j, "nested deeper than %d levels", ST_MAX_DEPTH);
    jws(j);
    if (j->p >= j->end)
        return jerr(j, "expected a value, found the end of the header");
    switch (*j->p) {
    case '"':
        return jstring(j, NULL, NULL);
    case '{':
        j->p++;
        if (jtake(j, '}'))
            return CLG_OK;
        for (;;) {
            if ((st = jstring(j, NULL, NULL)) || (st = jexpect(j, ':')) || (st = jskip(j, depth + 1)))
                return st;
            if (jtake(j, ','))
                continue;
            return jexpect(j, '}');
        }
    case '[':
        j->p++;
        if (jtake(j, ']'))
            return CLG_OK;
        for (;;) {
            if ((st = jskip(j, depth + 1)))
                return st;
            if (jtake(j, ','))
                continue;
            return jexpect(j, ']');
        }
    case 't': return jliteral(j, "true");
    case 'f': return jliteral(j, "false");
    case 'n': return jliteral(j, "null");
    default: return jnumber(j);
    }
}

/* [u, u, ...] into v (at most maxn); *n gets the count. */
static clg_status juint_array(jp *j, uint64_t *v, int maxn, int *n, const char *what)
{
    clg_status st = jexpect(j, '[');
    if (st)
        return st;
    *n = 0;
    if (jtake(j, ']'))
        return CLG_OK;
    for (;;) {
        if (*n == maxn)
            return jerr(j, "%s: more than %d entries", what, maxn);
        if ((st = juint(j, &v[*n], what)))
            return st;
        (*n)++;
        if (jtake(j, ','))
            continue;
        return jexpect(j, ']');
    }
}

static clg_status parse_tensor(jp *j, st_entry *e)
{
    clg_status st;
    int have_dtype = 0, have_shape = 0, have_off = 0;
    jws(j);
    if (j->p >= j->end || *j->p != '{')
        return jerr(j, "tensor '%s': expected an object", e->name);
    j->p++;
    if (!jtake(j, '}')) {
        for (;;) {
            char *key = NULL;
            if ((st = jkey(j, &key)))
                return st;
            if (!strcmp(key, "dtype")) {
                char *dt = NULL;
                if (have_dtype) {
                    free(key);
                    return jerr(j, "tensor '%s': \"dtype\" given twice", e->name);
                }
                have_dtype = 1;
                jws(j);
                if (j->p >= j->end || *j->p != '"') {
                    free(key);
                    return jerr(j, "tensor '%s': \"dtype\" must be a string", e->name);
                }
                if ((st = jstring(j, &dt, NULL))) {
                    free(key);
                    return st;
                }
                e->dt = -1;
                for (int k = 0; k < ST_NDTYPES; k++)
                    if (!strcmp(dt, st_dtypes[k].name))
                        e->dt = k;
                if (e->dt < 0) {
                    st = clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.64s'", j->path,
                                   e->name, dt);
                    free(dt);
                    free(key);
                    return st;
                }
                free(dt);
            } else if (!strcmp(key, "shape")) {
                uint64_t v[ST_MAX_DIMS];
                if (have_shape) {
                    free(key);
                    return jerr(j, "tensor '%s': \"shape\" given twice", e->name);
                }
                have_shape = 1;
                if ((st = juint_array(j, v, ST_MAX_DIMS, &e->ndim, "shape"))) {
                    free(key);
                    return st;
                }
                for (int k = 0; k < e->ndim; k++)
                    e->shape[k] = (int64_t)v[k];
            } else if (!strcmp(key, "data_offsets")) {
                uint64_t v[2];
                int n;
                if (have_off) {
                    free(key);
                    return jerr(j, "tensor '%s': \"data_offsets\" given twice", e->name);
                }
                have_off = 1;
                if ((st = juint_array(j, v, 2, &n, "data_offsets"))) {
                    free(key);
                    return st;
                }
                if (n != 2) {
                    free(key);
                    return jerr(j, "tensor '%s': \"data_offsets\" needs [begin, end]", e->name);
                }
                e->begin = v[0];
                e->end = v[1];
            } else if ((st = jskip(j, 2))) { /* unknown fields are ignored */
                free(key);
                return st;
            }
            free(key);
            if (jtake(j, ','))
                continue;
            if ((st = jexpect(j, '}')))
                return st;
            break;
        }
    }
    if (!have_dtype || !have_shape || !have_off)
        return clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s' lacks \"%s\"", j->path, e->name,
                         !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return CLG_OK;
}

static clg_status parse_meta(jp *j, clg_st_file *f)
{
    clg_status st = jexpect(j, '{');
    if (st)
        return st;
    if (jtake(j, '}'))
        return CLG_OK;
    for (;;) {
        char *k = NULL, *v = NULL;
        size_t vlen;
        if ((st = jkey(j, &k)))
            return st;
        jws(j);
        if (j->p >= j->end || *j->p != '"') {
            st = jerr(j, "__metadata__ value of '%s' must be a string", k);
            free(k);
            return st;
        }
        if ((st = jstring(j, &v, &vlen))) {
            free(k);
            return st;
        }
        if (clg_safetensors_meta(f, k)) {
            st = clg__fail(CLG_ERR_FORMAT, "%s: __metadata__ key '%s' given twice", j->path, k);
            free(k);
            free(v);
            return st;
        }
        if (f->nmeta == f->mcap) {
            int nc = f->mcap ? f->mcap * 2 : 8;
            char **nk = realloc(f->mkey, (size_t)nc * sizeof *nk);
            if (nk)
                f->mkey = nk;
            char **nv = realloc(f->mval, (size_t)nc * sizeof *nv);
            if (nv)
                f->mval = nv;
            if (!nk || !nv) {
                free(k);
                free(v);
                return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", j->path);
            }
            f->mcap = nc;
        }
        f->mkey[f->nmeta] = k;
        f->mval[f->nmeta++] = v;
        if (jtake(j, ','))
            continue;
        return jexpect(j, '}');
    }
}

static clg_status parse_header(jp *j, clg_st_file *f)
{
    clg_status st;
    int have_meta = 0;
    jws(j);
    if (j->p >= j->end || *j->p != '{')
        return jerr(j, "the header must be a JSON object");
    j->p++;
    if (!jtake(j, '}')) {
        for (;;) {
            char *key = NULL;
            if ((st = jkey(j, &key)))
                return st;
            if (!strcmp(key, "__metadata__")) {
                free(key);
                if (have_meta)
                    return jerr(j, "__metadata__ given twice");
                have_meta = 1;
                if ((st = parse_meta(j, f)))
                    return st;
            } else {
                for (int i = 0; i < f->n; i++) {
                    if (!strcmp(f->e[i].name, key)) {
                        st = clg__fail(CLG_ERR_FORMAT, "%s: tensor '%s' appears twice", j->path, key);
                        free(key);
                        return st;
                    }
                }
                if (f->n == f->cap) {
                    int nc = f->cap ? f->cap * 2 : 16;
                    st_entry *ne = realloc(f->e, (size_t)nc * sizeof *ne);
                    if (!ne) {
                        free(key);
                        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of memory", j->path);
                    }
                    f->e = ne;
                    f->cap = nc;
                }
                st_entry *e = &f->e[f->n++];
                memset(e, 0, sizeof *e);
                e->name = key;
                e->order = f->n - 1;
                if ((st = parse_tensor(j, e)))
                    return st;
            }
            if (jtake(j, ','))
                continue;
            if ((st = jexpect(j, '}')))
                return st;
            break;
        }
    }
    jws(j);
    if (j->p != j->end)
        return jerr(j, "unexpected '%c' after the header object", *j->p);
    return CLG_OK;
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
    jp j = { hdr, hdr, hdr + hlen, path };
    if ((st = parse_header(&j, f)) || (st = validate(f)))
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
