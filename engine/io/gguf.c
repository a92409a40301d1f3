/* engine/gguf.c — GGUF v3 reader (bounds-checked, over mmap) and streaming writer.
 *
 * Why: the weight file is the one input a user hands us that is large and binary, so the reader
 * trusts nothing in it: every count, length and offset is compared with the bytes that remain
 * before it is used, arithmetic on file-provided numbers is overflow-checked, allocations sized
 * from file counts are bounded by the file size first, and tensor data must lie inside the file
 * at the declared alignment. Layout (all little-endian):
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv   x { string key | u32 type | value }           string = u64 len + bytes
 *   n_tens x { string name | u32 n_dims | u64 ne[n_dims] (innermost first) | u32 type | u64 offset }
 *   zero padding to general.alignment (default 32) | tensor data (each tensor aligned)
 * The writer produces exactly this layout (version 3), streaming tensor data so a 15 GB model
 * converts in bounded memory, into a temp file renamed over the target only on success. */
#define _POSIX_C_SOURCE 200809L
#include "gguf.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h" /* jn_buf */

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_NAME 64 /* reader limit (bytes); the writer allows 63 like ggml */

/* ------------------------------------------------------------------ shared helpers */

static size_t type_size(uint32_t t) {
    switch (t) {
    case JN_GGUF_UINT8:
    case JN_GGUF_INT8:
    case JN_GGUF_BOOL: return 1;
    case JN_GGUF_UINT16:
    case JN_GGUF_INT16: return 2;
    case JN_GGUF_UINT32:
    case JN_GGUF_INT32:
    case JN_GGUF_FLOAT32: return 4;
    case JN_GGUF_UINT64:
    case JN_GGUF_INT64:
    case JN_GGUF_FLOAT64: return 8;
    default: return 0; /* string, array, unknown */
    }
}

static const char *type_name(uint32_t t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                  "bool", "str", "arr", "u64", "i64", "f64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static int type_is_int(uint32_t t) {
    return t == JN_GGUF_UINT8 || t == JN_GGUF_INT8 || t == JN_GGUF_UINT16 || t == JN_GGUF_INT16 ||
           t == JN_GGUF_UINT32 || t == JN_GGUF_INT32 || t == JN_GGUF_UINT64 || t == JN_GGUF_INT64;
}

static int type_is_signed(uint32_t t) {
    return t == JN_GGUF_INT8 || t == JN_GGUF_INT16 || t == JN_GGUF_INT32 || t == JN_GGUF_INT64;
}

static uint64_t rd_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Reads an integer element of GGUF type t at p. */
static void rd_int(const uint8_t *p, uint32_t t, int *is_neg, uint64_t *mag) {
    size_t n = type_size(t);
    uint64_t u = rd_le(p, n);
    *is_neg = 0;
    if (type_is_signed(t)) {
        int64_t s;
        if (n == 8) {
            memcpy(&s, &u, 8);
        } else {
            uint64_t sign = (uint64_t)1 << (8 * n - 1);
            s = (u & sign) ? (int64_t)(u | ~((sign << 1) - 1)) : (int64_t)u;
        }
        if (s < 0) {
            *is_neg = 1;
            *mag = (uint64_t)0 - (uint64_t)s;
            return;
        }
        *mag = (uint64_t)s;
        return;
    }
    *mag = u;
}

static double rd_float(const uint8_t *p, uint32_t t) {
    if (t == JN_GGUF_FLOAT32) {
        uint32_t u = (uint32_t)rd_le(p, 4);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    uint64_t u = rd_le(p, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ------------------------------------------------------------------ reader */

typedef struct kv_t {
    char *key;             /* NUL-terminated copy */
    uint32_t type;
    size_t off;            /* scalar value / string bytes / array data, as a file offset */
    uint64_t len;          /* string length in bytes */
    uint32_t elem_type;    /* arrays */
    uint64_t n;            /* arrays: element count */
    size_t *str_offs;      /* string arrays: file offset of each string's u64 length */
} kv_t;

struct jn_gguf {
    char *path;
    const uint8_t *map;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    size_t data_off;
    int64_t n_kv;
    kv_t *kv;
    int64_t *kv_sorted;    /* kv indices sorted by key */
    int64_t n_tensors;
    jn_gguf_tensor *tensors;
    int64_t *t_sorted;     /* tensor indices sorted by name */
};

typedef struct cursor {
    const jn_gguf *g;
    size_t pos;
    jn_error *err;
} cursor;

static size_t remaining(const cursor *c) { return c->g->size - c->pos; }

static jn_status truncated(cursor *c, const char *what, uint64_t need) {
    return jn_fail(c->err, JN_ERR_FORMAT,
                   "%s: truncated or corrupt: %s needs %" PRIu64 " bytes at offset %zu, but the file is %zu bytes",
                   c->g->path, what, need, c->pos, c->g->size);
}

static jn_status rd_u32(cursor *c, const char *what, uint32_t *v) {
    if (remaining(c) < 4) return truncated(c, what, 4);
    *v = (uint32_t)rd_le(c->g->map + c->pos, 4);
    c->pos += 4;
    return JN_OK;
}

static jn_status rd_u64(cursor *c, const char *what, uint64_t *v) {
    if (remaining(c) < 8) return truncated(c, what, 8);
    *v = rd_le(c->g->map + c->pos, 8);
    c->pos += 8;
    return JN_OK;
}

/* String: sets *off to the bytes and *len; advances past it. */
static jn_status rd_str(cursor *c, const char *what, size_t *off, uint64_t *len) {
    jn_status st = rd_u64(c, what, len);
    if (st) return st;
    if (*len > remaining(c)) {
        c->pos -= 8;
        return jn_fail(c->err, JN_ERR_FORMAT,
                       "%s: truncated or corrupt: %s has length %" PRIu64 " at offset %zu, but only %zu bytes remain",
                       c->g->path, what, *len, c->pos, remaining(c) - 8);
    }
    *off = c->pos;
    c->pos += (size_t)*len;
    return JN_OK;
}

static char *dup_name(const uint8_t *p, size_t n) {
    char *s = (char *)malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Name indices are built by sorting (name pointer, index) pairs: qsort has no context argument
 * and a static would not be thread-safe. Ties keep file order so duplicates report both. */
typedef struct name_idx {
    const char *name;
    int64_t idx;
} name_idx;
static int cmp_name_idx(const void *a, const void *b) {
    const name_idx *x = (const name_idx *)a, *y = (const name_idx *)b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static int64_t *sorted_index(const char *const *names, size_t stride, int64_t n, int64_t *dup_a, int64_t *dup_b) {
    *dup_a = *dup_b = -1;
    name_idx *tmp = (name_idx *)malloc((size_t)(n ? n : 1) * sizeof *tmp);
    int64_t *out = (int64_t *)malloc((size_t)(n ? n : 1) * sizeof *out);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        tmp[i].name = *(const char *const *)((const char *)names + (size_t)i * stride);
        tmp[i].idx = i;
    }
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_name_idx);
    for (int64_t i = 0; i < n; i++) {
        out[i] = tmp[i].idx;
        if (i > 0 && *dup_a < 0 && strcmp(tmp[i - 1].name, tmp[i].name) == 0) {
            *dup_a = tmp[i - 1].idx;
            *dup_b = tmp[i].idx;
        }
    }
    free(tmp);
    return out;
}

static jn_status parse_kv(cursor *c, jn_gguf *g, int64_t i) {
    kv_t *kv = &g->kv[i];
    char what[160];
    size_t koff = 0;
    uint64_t klen = 0;
    snprintf(what, sizeof what, "metadata key #%" PRId64, i);
    jn_status st = rd_str(c, what, &koff, &klen);
    if (st) return st;
    if (klen == 0) return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata key #%" PRId64 " is empty", g->path, i);
    if (memchr(g->map + koff, 0, (size_t)klen))
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata key #%" PRId64 " contains a NUL byte", g->path, i);
    kv->key = dup_name(g->map + koff, (size_t)klen);
    if (!kv->key) return jn_fail(c->err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    snprintf(what, sizeof what, "metadata '%.100s'", kv->key);
    if ((st = rd_u32(c, what, &kv->type))) return st;
    uint32_t t = kv->type;
    if (type_size(t)) {
        if (remaining(c) < type_size(t)) return truncated(c, what, type_size(t));
        kv->off = c->pos;
        if (t == JN_GGUF_BOOL && g->map[c->pos] > 1)
            return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata '%s': bool value %u is not 0 or 1", g->path, kv->key,
                           g->map[c->pos]);
        c->pos += type_size(t);
        return JN_OK;
    }
    if (t == JN_GGUF_STRING) return rd_str(c, what, &kv->off, &kv->len);
    if (t != JN_GGUF_ARRAY)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata '%s' has unknown value type %u", g->path, kv->key, t);
    if ((st = rd_u32(c, what, &kv->elem_type)) || (st = rd_u64(c, what, &kv->n))) return st;
    uint32_t et = kv->elem_type;
    if (et == JN_GGUF_ARRAY)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata '%s': nested arrays are not supported", g->path, kv->key);
    if (type_size(et)) {
        size_t total;
        if (!jn_mul_ok((size_t)kv->n, type_size(et), &total) || kv->n > SIZE_MAX || total > remaining(c))
            return jn_fail(c->err, JN_ERR_FORMAT,
                           "%s: truncated or corrupt: metadata '%s' declares %" PRIu64
                           " %s elements at offset %zu, but only %zu bytes remain",
                           g->path, kv->key, kv->n, type_name(et), c->pos, remaining(c));
        kv->off = c->pos;
        if (et == JN_GGUF_BOOL)
            for (size_t k = 0; k < total; k++)
                if (g->map[c->pos + k] > 1)
                    return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata '%s': bool element %zu is not 0 or 1",
                                   g->path, kv->key, k);
        c->pos += total;
        return JN_OK;
    }
    if (et != JN_GGUF_STRING)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: metadata '%s': unknown array element type %u", g->path, kv->key,
                       et);
    /* every string takes at least its 8-byte length: bound the count before allocating */
    if (kv->n > remaining(c) / 8)
        return jn_fail(c->err, JN_ERR_FORMAT,
                       "%s: truncated or corrupt: metadata '%s' declares %" PRIu64
                       " strings at offset %zu, but only %zu bytes remain",
                       g->path, kv->key, kv->n, c->pos, remaining(c));
    kv->off = c->pos;
    kv->str_offs = (size_t *)malloc((size_t)(kv->n ? kv->n : 1) * sizeof(size_t));
    if (!kv->str_offs) return jn_fail(c->err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    for (uint64_t k = 0; k < kv->n; k++) {
        size_t so = 0;
        uint64_t sl = 0;
        kv->str_offs[k] = c->pos;
        snprintf(what, sizeof what, "metadata '%.100s' string #%" PRIu64, kv->key, k);
        if ((st = rd_str(c, what, &so, &sl))) return st;
    }
    return JN_OK;
}

static jn_status parse_tensor(cursor *c, jn_gguf *g, int64_t i) {
    jn_gguf_tensor *t = &g->tensors[i];
    char what[160];
    size_t noff = 0;
    uint64_t nlen = 0;
    snprintf(what, sizeof what, "tensor info #%" PRId64 " name", i);
    jn_status st = rd_str(c, what, &noff, &nlen);
    if (st) return st;
    if (nlen == 0 || nlen > GGUF_MAX_NAME)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: tensor #%" PRId64 " name length %" PRIu64 " is not in 1..%d",
                       g->path, i, nlen, GGUF_MAX_NAME);
    if (memchr(g->map + noff, 0, (size_t)nlen))
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: tensor #%" PRId64 " name contains a NUL byte", g->path, i);
    t->name = dup_name(g->map + noff, (size_t)nlen);
    if (!t->name) return jn_fail(c->err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    snprintf(what, sizeof what, "tensor '%s' info", t->name);
    uint32_t n_dims = 0;
    if ((st = rd_u32(c, what, &n_dims))) return st;
    if (n_dims < 1 || n_dims > JN_GGUF_MAX_DIMS)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (supported: 1..%d)", g->path,
                       t->name, n_dims, JN_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    uint64_t ne[JN_GGUF_MAX_DIMS] = {1, 1, 1, 1};
    for (uint32_t d = 0; d < n_dims; d++) {
        if ((st = rd_u64(c, what, &ne[d]))) return st;
        if (ne[d] < 1 || ne[d] > (uint64_t)INT64_MAX)
            return jn_fail(c->err, JN_ERR_FORMAT, "%s: tensor '%s' dimension %u has invalid size %" PRIu64, g->path,
                           t->name, d, ne[d]);
    }
    uint32_t type = 0;
    if ((st = rd_u32(c, what, &type))) return st;
    if (!jn_dtype_valid((int)type))
        return jn_fail(c->err, JN_ERR_FORMAT,
                       "%s: tensor '%s' has ggml type %u, which janus does not support (f32, f16, bf16, q8_0, q4_0)",
                       g->path, t->name, type);
    t->type = (jn_dtype)type;
    if ((st = rd_u64(c, what, &t->offset))) return st;
    for (int d = 0; d < JN_GGUF_MAX_DIMS; d++) t->shape[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) t->shape[n_dims - 1 - d] = (int64_t)ne[d];
    int be = jn_dtype_block_elems(t->type);
    if (ne[0] % (uint64_t)be != 0)
        return jn_fail(c->err, JN_ERR_FORMAT,
                       "%s: tensor '%s' (%s): innermost dimension %" PRIu64 " is not a multiple of the block size %d",
                       g->path, t->name, jn_dtype_name(t->type), ne[0], be);
    size_t nb = jn_row_bytes(t->type, (int64_t)ne[0]);
    int ok = nb != 0;
    for (uint32_t d = 1; d < n_dims && ok; d++) ok = ne[d] <= SIZE_MAX && jn_mul_ok(nb, (size_t)ne[d], &nb);
    if (!ok || nb > g->size)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: tensor '%s' is larger than the file (%zu bytes)", g->path, t->name,
                       g->size);
    t->nbytes = nb;
    return JN_OK;
}

static jn_status gguf_parse(jn_gguf *g, jn_error *err) {
    cursor cur = {g, 0, err}, *c = &cur;
    jn_status st;
    if (g->size < 4 || memcmp(g->map, GGUF_MAGIC, 4) != 0)
        return jn_fail(err, JN_ERR_FORMAT, "%s: not a GGUF file (bad magic; expected \"GGUF\")", g->path);
    c->pos = 4;
    if ((st = rd_u32(c, "header version", &g->version))) return st;
    if (g->version == 1)
        return jn_fail(err, JN_ERR_FORMAT, "%s: GGUF version 1 is not supported (re-convert the model)", g->path);
    if (g->version == 0x03000000u || g->version == 0x02000000u)
        return jn_fail(err, JN_ERR_FORMAT, "%s: big-endian GGUF files are not supported", g->path);
    if (g->version != 2 && g->version != 3)
        return jn_fail(err, JN_ERR_FORMAT, "%s: unsupported GGUF version %u (supported: 2, 3)", g->path, g->version);
    uint64_t n_t = 0, n_kv = 0;
    if ((st = rd_u64(c, "header tensor count", &n_t)) || (st = rd_u64(c, "header metadata count", &n_kv))) return st;
    /* minimal encodings: a kv is >= 14 bytes, a tensor info >= 33 bytes */
    if (n_kv > remaining(c) / 14)
        return jn_fail(err, JN_ERR_FORMAT, "%s: corrupt header: %" PRIu64 " metadata entries cannot fit in %zu bytes",
                       g->path, n_kv, g->size);
    if (n_t > remaining(c) / 33)
        return jn_fail(err, JN_ERR_FORMAT, "%s: corrupt header: %" PRIu64 " tensors cannot fit in %zu bytes", g->path,
                       n_t, g->size);
    g->n_kv = (int64_t)n_kv;
    g->kv = (kv_t *)calloc((size_t)(n_kv ? n_kv : 1), sizeof(kv_t));
    if (!g->kv) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    for (int64_t i = 0; i < g->n_kv; i++)
        if ((st = parse_kv(c, g, i))) return st;
    int64_t da, db;
    g->kv_sorted = sorted_index((const char *const *)&g->kv[0].key, sizeof(kv_t), g->n_kv, &da, &db);
    if (!g->kv_sorted) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    if (da >= 0)
        return jn_fail(err, JN_ERR_FORMAT, "%s: duplicate metadata key '%s' (entries %" PRId64 " and %" PRId64 ")",
                       g->path, g->kv[da].key, da, db);
    g->alignment = JN_GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = jn_gguf_find_kv(g, "general.alignment");
    if (ai >= 0) {
        if (g->kv[ai].type != JN_GGUF_UINT32)
            return jn_fail(err, JN_ERR_FORMAT, "%s: general.alignment has type %s, expected u32", g->path,
                           type_name(g->kv[ai].type));
        uint32_t a = (uint32_t)rd_le(g->map + g->kv[ai].off, 4);
        if (a == 0 || (a & (a - 1)) != 0)
            return jn_fail(err, JN_ERR_FORMAT, "%s: general.alignment %u is not a power of two", g->path, a);
        g->alignment = a;
    }
    g->n_tensors = (int64_t)n_t;
    g->tensors = (jn_gguf_tensor *)calloc((size_t)(n_t ? n_t : 1), sizeof(jn_gguf_tensor));
    if (!g->tensors) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((st = parse_tensor(c, g, i))) return st;
    g->t_sorted = sorted_index((const char *const *)&g->tensors[0].name, sizeof(jn_gguf_tensor), g->n_tensors, &da, &db);
    if (!g->t_sorted) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", g->path);
    if (da >= 0)
        return jn_fail(err, JN_ERR_FORMAT, "%s: duplicate tensor name '%s' (tensors %" PRId64 " and %" PRId64 ")",
                       g->path, g->tensors[da].name, da, db);
    /* data section: aligned start after the tensor infos */
    size_t pad = (g->alignment - c->pos % g->alignment) % g->alignment;
    g->data_off = c->pos + pad; /* cannot overflow: pos <= size, pad < 2^32 */
    if (g->n_tensors > 0 && g->data_off > g->size)
        return jn_fail(err, JN_ERR_FORMAT, "%s: truncated: the tensor data section would start at %zu, past the end of the file (%zu bytes)",
                       g->path, g->data_off, g->size);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        jn_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return jn_fail(err, JN_ERR_FORMAT, "%s: tensor '%s' data offset %" PRIu64 " is not a multiple of the alignment %u",
                           g->path, t->name, t->offset, g->alignment);
        size_t start, end;
        if (t->offset > SIZE_MAX || !jn_add_ok(g->data_off, (size_t)t->offset, &start) ||
            !jn_add_ok(start, t->nbytes, &end) || end > g->size) {
            uint64_t abs_off = (uint64_t)g->data_off + t->offset;
            if (abs_off < t->offset) /* wrapped: report the offset as stored */
                return jn_fail(err, JN_ERR_FORMAT,
                               "%s: tensor '%s' data [data-section offset %" PRIu64 ", %zu bytes] runs past the end of the file (%zu bytes)",
                               g->path, t->name, t->offset, t->nbytes, g->size);
            return jn_fail(err, JN_ERR_FORMAT,
                           "%s: tensor '%s' data [offset %" PRIu64 ", %zu bytes] runs past the end of the file (%zu bytes)",
                           g->path, t->name, abs_off, t->nbytes, g->size);
        }
        t->data = g->map + start;
    }
    return JN_OK;
}

jn_gguf *jn_gguf_open(const char *path, jn_error *err) {
    jn_gguf *g = (jn_gguf *)calloc(1, sizeof *g);
    if (!g) {
        jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    g->path = dup_name((const uint8_t *)path, strlen(path));
    if (!g->path) {
        free(g);
        jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    uint64_t fsize = 0;
    int fd = jn_open_input(path, &fsize, err);
    if (fd < 0) {
        jn_gguf_close(g);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        jn_fail(err, JN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        jn_gguf_close(g);
        return NULL;
    }
    if (sb.st_size < 24) {
        jn_fail(err, JN_ERR_FORMAT, "%s: file is %lld bytes, too small to be a GGUF file", path, (long long)sb.st_size);
        close(fd);
        jn_gguf_close(g);
        return NULL;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        jn_fail(err, JN_ERR_FORMAT, "%s: file too large to map", path);
        close(fd);
        jn_gguf_close(g);
        return NULL;
    }
    g->size = (size_t)sb.st_size;
    void *m = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        g->size = 0;
        jn_fail(err, JN_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        jn_gguf_close(g);
        return NULL;
    }
    g->map = (const uint8_t *)m;
    if (gguf_parse(g, err) != JN_OK) {
        jn_gguf_close(g);
        return NULL;
    }
    return g;
}

void jn_gguf_close(jn_gguf *g) {
    if (!g) return;
    if (g->map) munmap((void *)g->map, g->size);
    if (g->kv) {
        for (int64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_offs);
        }
        free(g->kv);
    }
    if (g->tensors) {
        for (int64_t i = 0; i < g->n_tensors; i++) free((void *)g->tensors[i].name);
        free(g->tensors);
    }
    free(g->kv_sorted);
    free(g->t_sorted);
    free(g->path);
    free(g);
}

const char *jn_gguf_path(const jn_gguf *g) { return g->path; }
uint32_t jn_gguf_version(const jn_gguf *g) { return g->version; }
size_t jn_gguf_file_size(const jn_gguf *g) { return g->size; }
int64_t jn_gguf_n_tensors(const jn_gguf *g) { return g->n_tensors; }

const jn_gguf_tensor *jn_gguf_tensor_at(const jn_gguf *g, int64_t i) {
    if (i < 0 || i >= g->n_tensors) return NULL;
    return &g->tensors[i];
}

const jn_gguf_tensor *jn_gguf_find_tensor(const jn_gguf *g, const char *name) {
    int64_t lo = 0, hi = g->n_tensors - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const jn_gguf_tensor *t = &g->tensors[g->t_sorted[mid]];
        int r = strcmp(name, t->name);
        if (r == 0) return t;
        if (r < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

int64_t jn_gguf_n_kv(const jn_gguf *g) { return g->n_kv; }
const char *jn_gguf_kv_key(const jn_gguf *g, int64_t i) { return (i >= 0 && i < g->n_kv) ? g->kv[i].key : NULL; }
jn_gguf_type jn_gguf_kv_type(const jn_gguf *g, int64_t i) {
    return (i >= 0 && i < g->n_kv) ? (jn_gguf_type)g->kv[i].type : (jn_gguf_type)-1;
}

int64_t jn_gguf_find_kv(const jn_gguf *g, const char *key) {
    if (!g->kv_sorted) { /* during parsing, before the index exists */
        for (int64_t i = 0; i < g->n_kv; i++)
            if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0) return i;
        return -1;
    }
    int64_t lo = 0, hi = g->n_kv - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int64_t k = g->kv_sorted[mid];
        int r = strcmp(key, g->kv[k].key);
        if (r == 0) return k;
        if (r < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

/* ---- typed getters ---- */

static const kv_t *get_kv(const jn_gguf *g, const char *key, jn_error *err) {
    int64_t i = jn_gguf_find_kv(g, key);
    if (i < 0) {
        jn_fail(err, JN_ERR_FORMAT, "%s: required metadata key '%s' is missing", g->path, key);
        return NULL;
    }
    return &g->kv[i];
}

static jn_status wrong_type(const jn_gguf *g, const kv_t *kv, const char *expected, jn_error *err) {
    if (kv->type == JN_GGUF_ARRAY)
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' is an array of %s, expected %s", g->path, kv->key,
                       type_name(kv->elem_type), expected);
    return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' has type %s, expected %s", g->path, kv->key,
                   type_name(kv->type), expected);
}

jn_status jn_gguf_get_u32(const jn_gguf *g, const char *key, uint32_t *out, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (!type_is_int(kv->type)) return wrong_type(g, kv, "an integer", err);
    int neg;
    uint64_t mag;
    rd_int(g->map + kv->off, kv->type, &neg, &mag);
    if (neg || mag > UINT32_MAX)
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' = %s%" PRIu64 " does not fit in u32", g->path, key,
                       neg ? "-" : "", mag);
    *out = (uint32_t)mag;
    return JN_OK;
}

jn_status jn_gguf_get_i64(const jn_gguf *g, const char *key, int64_t *out, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (!type_is_int(kv->type)) return wrong_type(g, kv, "an integer", err);
    int neg;
    uint64_t mag;
    rd_int(g->map + kv->off, kv->type, &neg, &mag);
    if (!neg && mag > (uint64_t)INT64_MAX)
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' = %" PRIu64 " does not fit in i64", g->path, key, mag);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return JN_OK;
}

jn_status jn_gguf_get_f64(const jn_gguf *g, const char *key, double *out, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (kv->type != JN_GGUF_FLOAT32 && kv->type != JN_GGUF_FLOAT64) return wrong_type(g, kv, "f32 or f64", err);
    *out = rd_float(g->map + kv->off, kv->type);
    return JN_OK;
}

jn_status jn_gguf_get_f32(const jn_gguf *g, const char *key, float *out, jn_error *err) {
    double d = 0;
    jn_status st = jn_gguf_get_f64(g, key, &d, err);
    if (st) return st;
    *out = (float)d;
    return JN_OK;
}

jn_status jn_gguf_get_bool(const jn_gguf *g, const char *key, int *out, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (kv->type != JN_GGUF_BOOL) return wrong_type(g, kv, "bool", err);
    *out = g->map[kv->off] != 0;
    return JN_OK;
}

jn_status jn_gguf_get_str(const jn_gguf *g, const char *key, const char **s, size_t *len, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (kv->type != JN_GGUF_STRING) return wrong_type(g, kv, "str", err);
    *s = (const char *)g->map + kv->off;
    *len = (size_t)kv->len;
    return JN_OK;
}

jn_status jn_gguf_get_arr(const jn_gguf *g, const char *key, jn_gguf_type *elem_type, uint64_t *n, const void **data,
                          jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (kv->type != JN_GGUF_ARRAY) return wrong_type(g, kv, "an array", err);
    if (elem_type) *elem_type = (jn_gguf_type)kv->elem_type;
    if (n) *n = kv->n;
    if (data) *data = kv->elem_type == JN_GGUF_STRING ? NULL : (const void *)(g->map + kv->off);
    return JN_OK;
}

jn_status jn_gguf_get_arr_str(const jn_gguf *g, const char *key, uint64_t i, const char **s, size_t *len,
                              jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (kv->type != JN_GGUF_ARRAY || kv->elem_type != JN_GGUF_STRING) return wrong_type(g, kv, "an array of str", err);
    if (i >= kv->n)
        return jn_fail(err, JN_ERR_USAGE, "%s: metadata '%s': index %" PRIu64 " out of range (%" PRIu64 " strings)",
                       g->path, key, i, kv->n);
    size_t o = kv->str_offs[i];
    *len = (size_t)rd_le(g->map + o, 8);
    *s = (const char *)g->map + o + 8;
    return JN_OK;
}

jn_status jn_gguf_get_arr_i64(const jn_gguf *g, const char *key, int64_t *out, uint64_t n_expected, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    if (kv->type != JN_GGUF_ARRAY || !type_is_int(kv->elem_type)) return wrong_type(g, kv, "an integer array", err);
    if (kv->n != n_expected)
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' has %" PRIu64 " elements, expected %" PRIu64, g->path,
                       key, kv->n, n_expected);
    size_t es = type_size(kv->elem_type);
    for (uint64_t k = 0; k < kv->n; k++) {
        int neg;
        uint64_t mag;
        rd_int(g->map + kv->off + k * es, kv->elem_type, &neg, &mag);
        if (!neg && mag > (uint64_t)INT64_MAX)
            return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s'[%" PRIu64 "] does not fit in i64", g->path, key, k);
        out[k] = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    }
    return JN_OK;
}

jn_status jn_gguf_get_arr_f32(const jn_gguf *g, const char *key, float *out, uint64_t n_expected, jn_error *err) {
    const kv_t *kv = get_kv(g, key, err);
    if (!kv) return JN_ERR_FORMAT;
    uint32_t et = kv->elem_type;
    if (kv->type != JN_GGUF_ARRAY || !(et == JN_GGUF_FLOAT32 || et == JN_GGUF_FLOAT64 || type_is_int(et)))
        return wrong_type(g, kv, "a numeric array", err);
    if (kv->n != n_expected)
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' has %" PRIu64 " elements, expected %" PRIu64, g->path,
                       key, kv->n, n_expected);
    size_t es = type_size(et);
    for (uint64_t k = 0; k < kv->n; k++) {
        const uint8_t *p = g->map + kv->off + k * es;
        if (et == JN_GGUF_FLOAT32 || et == JN_GGUF_FLOAT64) {
            out[k] = (float)rd_float(p, et);
        } else {
            int neg;
            uint64_t mag;
            rd_int(p, et, &neg, &mag);
            out[k] = neg ? -(float)mag : (float)mag;
        }
    }
    return JN_OK;
}

/* ---- formatting for `janus info` ---- */

static void fmt_scalar(jn_buf *b, const uint8_t *p, uint32_t t) {
    if (type_is_int(t)) {
        int neg;
        uint64_t mag;
        rd_int(p, t, &neg, &mag);
        jn_buf_printf(b, "%s%" PRIu64, neg ? "-" : "", mag);
    } else if (t == JN_GGUF_FLOAT32 || t == JN_GGUF_FLOAT64) {
        jn_buf_printf(b, "%.9g", rd_float(p, t));
    } else if (t == JN_GGUF_BOOL) {
        jn_buf_puts(b, p[0] ? "true" : "false");
    }
}

static void fmt_string(jn_buf *b, const char *s, size_t len, size_t max_show) {
    size_t show = len;
    if (show > max_show) {
        show = max_show;
        while (show > 0 && ((unsigned char)s[show] & 0xc0) == 0x80) show--; /* keep whole UTF-8 chars */
    }
    jn_buf_append(b, "\"", 1);
    for (size_t i = 0; i < show; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') jn_buf_puts(b, "\\n");
        else if (c == '"' || c == '\\') jn_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) jn_buf_printf(b, "\\x%02x", c);
        else jn_buf_append(b, &s[i], 1);
    }
    jn_buf_append(b, "\"", 1);
    if (show < len) jn_buf_printf(b, "... (%zu bytes)", len);
}

void jn_gguf_kv_format(const jn_gguf *g, int64_t i, char *buf, size_t bufsize) {
    if (!buf || bufsize == 0) return;
    buf[0] = 0;
    if (i < 0 || i >= g->n_kv) return;
    const kv_t *kv = &g->kv[i];
    jn_buf b = {0};
    if (kv->type == JN_GGUF_STRING) {
        fmt_string(&b, (const char *)g->map + kv->off, (size_t)kv->len, 64);
    } else if (kv->type == JN_GGUF_ARRAY) {
        const uint64_t max_items = 8;
        jn_buf_printf(&b, "[%s x %" PRIu64 "%s", type_name(kv->elem_type), kv->n, kv->n ? ": " : "");
        for (uint64_t k = 0; k < kv->n && k < max_items; k++) {
            if (k) jn_buf_puts(&b, ", ");
            if (kv->elem_type == JN_GGUF_STRING) {
                size_t o = kv->str_offs[k];
                fmt_string(&b, (const char *)g->map + o + 8, (size_t)rd_le(g->map + o, 8), 24);
            } else {
                fmt_scalar(&b, g->map + kv->off + k * type_size(kv->elem_type), kv->elem_type);
            }
        }
        if (kv->n > max_items) jn_buf_puts(&b, ", ...");
        jn_buf_puts(&b, "]");
    } else {
        fmt_scalar(&b, g->map + kv->off, kv->type);
    }
    if (b.data) {
        size_t n = b.len < bufsize - 1 ? b.len : bufsize - 1;
        memcpy(buf, b.data, n);
        buf[n] = 0;
    }
    jn_buf_free(&b);
}

/* ------------------------------------------------------------------ writer */

typedef struct wtensor {
    char name[64];
    jn_dtype type;
    int n_dims;
    uint64_t ne[JN_GGUF_MAX_DIMS]; /* ggml order (innermost first) */
    size_t nbytes;
    uint64_t offset;
} wtensor;

struct jn_gguf_writer {
    char *path;
    jn_partial out; /* "<path>.partial", locked while written */
    int no_clobber; /* finish fails instead of replacing a file that appeared meanwhile */
    /* deferred error from the void setters */
    jn_status defer_code;
    char defer_msg[JN_ERROR_MAX];
    /* metadata: serialized kv bodies (key + type + value), keys for duplicate checks */
    jn_buf meta;
    char **keys;
    size_t n_kv, cap_kv;
    uint32_t alignment;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    /* streaming state */
    int header_done;
    size_t cur;             /* tensor being written */
    size_t cur_written;     /* bytes of it written so far */
    jn_status io_code;      /* sticky I/O failure */
    char io_msg[JN_ERROR_MAX];
    uint8_t *obuf;
    size_t olen, ocap;
    uint64_t file_pos;
};

static void defer(jn_gguf_writer *w, jn_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void defer(jn_gguf_writer *w, jn_status code, const char *fmt, ...) {
    if (w->defer_code) return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->defer_msg, sizeof w->defer_msg, fmt, ap);
    va_end(ap);
    w->defer_code = code;
}

jn_gguf_writer *jn_gguf_writer_open(const char *path, jn_error *err) {
    jn_gguf_writer *w = (jn_gguf_writer *)calloc(1, sizeof *w);
    size_t pl = strlen(path);
    if (w) {
        w->out.fd = -1;
        w->out.slot = -1;
        w->path = dup_name((const uint8_t *)path, pl);
        w->ocap = (size_t)4 << 20;
        w->obuf = (uint8_t *)malloc(w->ocap);
        w->alignment = JN_GGUF_DEFAULT_ALIGNMENT;
    }
    if (!w || !w->path || !w->obuf) {
        jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
        jn_gguf_writer_abort(w);
        return NULL;
    }
    if (jn_partial_open(&w->out, path, err) != JN_OK) {
        jn_gguf_writer_abort(w);
        return NULL;
    }
    return w;
}

static int add_key(jn_gguf_writer *w, const char *key, uint32_t type) {
    if (w->defer_code) return 0;
    if (w->header_done) {
        defer(w, JN_ERR_USAGE, "%s: metadata '%s' set after the header was written", w->path, key);
        return 0;
    }
    size_t kl = strlen(key);
    if (kl == 0) {
        defer(w, JN_ERR_USAGE, "%s: empty metadata key", w->path);
        return 0;
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            defer(w, JN_ERR_USAGE, "%s: metadata key '%s' set twice", w->path, key);
            return 0;
        }
    if (w->n_kv == w->cap_kv) {
        size_t nc = w->cap_kv ? w->cap_kv * 2 : 32;
        char **nk = (char **)realloc(w->keys, nc * sizeof *nk);
        if (!nk) {
            defer(w, JN_ERR_NOMEM, "%s: out of memory", w->path);
            return 0;
        }
        w->keys = nk;
        w->cap_kv = nc;
    }
    char *k = dup_name((const uint8_t *)key, kl);
    if (!k) {
        defer(w, JN_ERR_NOMEM, "%s: out of memory", w->path);
        return 0;
    }
    w->keys[w->n_kv++] = k;
    uint64_t l = kl;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(l >> (8 * i));
    jn_buf_append(&w->meta, le, 8);
    jn_buf_append(&w->meta, key, kl);
    for (int i = 0; i < 4; i++) le[i] = (uint8_t)(type >> (8 * i));
    jn_buf_append(&w->meta, le, 4);
    return 1;
}

static void put_le(jn_buf *b, uint64_t v, size_t n) {
    uint8_t le[8];
    for (size_t i = 0; i < n; i++) le[i] = (uint8_t)(v >> (8 * i));
    jn_buf_append(b, le, n);
}

void jn_gguf_writer_set_u32(jn_gguf_writer *w, const char *key, uint32_t v) {
    if (!add_key(w, key, JN_GGUF_UINT32)) return;
    put_le(&w->meta, v, 4);
    if (strcmp(key, "general.alignment") == 0) {
        if (v == 0 || (v & (v - 1)) != 0)
            defer(w, JN_ERR_USAGE, "%s: general.alignment %u is not a power of two", w->path, v);
        else
            w->alignment = v;
    }
}
void jn_gguf_writer_set_i32(jn_gguf_writer *w, const char *key, int32_t v) {
    if (add_key(w, key, JN_GGUF_INT32)) put_le(&w->meta, (uint32_t)v, 4);
}
void jn_gguf_writer_set_u64(jn_gguf_writer *w, const char *key, uint64_t v) {
    if (add_key(w, key, JN_GGUF_UINT64)) put_le(&w->meta, v, 8);
}
void jn_gguf_writer_set_f32(jn_gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if (add_key(w, key, JN_GGUF_FLOAT32)) put_le(&w->meta, u, 4);
}
void jn_gguf_writer_set_f64(jn_gguf_writer *w, const char *key, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    if (add_key(w, key, JN_GGUF_FLOAT64)) put_le(&w->meta, u, 8);
}
void jn_gguf_writer_set_bool(jn_gguf_writer *w, const char *key, int v) {
    if (add_key(w, key, JN_GGUF_BOOL)) put_le(&w->meta, v ? 1 : 0, 1);
}
void jn_gguf_writer_set_str(jn_gguf_writer *w, const char *key, const char *s, size_t len) {
    if (!add_key(w, key, JN_GGUF_STRING)) return;
    put_le(&w->meta, len, 8);
    jn_buf_append(&w->meta, s, len);
}
void jn_gguf_writer_set_arr(jn_gguf_writer *w, const char *key, jn_gguf_type elem_type, const void *data, uint64_t n) {
    size_t es = type_size((uint32_t)elem_type), total;
    if (!es) {
        defer(w, JN_ERR_USAGE, "%s: metadata '%s': array element type %d is not a scalar type", w->path, key,
              (int)elem_type);
        return;
    }
    if (n > SIZE_MAX || !jn_mul_ok((size_t)n, es, &total)) {
        defer(w, JN_ERR_USAGE, "%s: metadata '%s': array too large", w->path, key);
        return;
    }
    if (!add_key(w, key, JN_GGUF_ARRAY)) return;
    put_le(&w->meta, (uint32_t)elem_type, 4);
    put_le(&w->meta, n, 8);
    if (total) jn_buf_append(&w->meta, data, total); /* host is little-endian (x86-64/aarch64) */
}
void jn_gguf_writer_set_arr_str(jn_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                                uint64_t n) {
    if (!add_key(w, key, JN_GGUF_ARRAY)) return;
    put_le(&w->meta, JN_GGUF_STRING, 4);
    put_le(&w->meta, n, 8);
    for (uint64_t i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : strlen(strs[i]);
        put_le(&w->meta, l, 8);
        jn_buf_append(&w->meta, strs[i], l);
    }
}

void jn_gguf_writer_add_tensor(jn_gguf_writer *w, const char *name, jn_dtype type, int n_dims, const int64_t *shape) {
    if (w->defer_code) return;
    if (w->header_done) {
        defer(w, JN_ERR_USAGE, "%s: tensor '%s' added after the header was written", w->path, name);
        return;
    }
    size_t nl = strlen(name);
    if (nl == 0 || nl > 63) {
        defer(w, JN_ERR_USAGE, "%s: tensor name '%s' is %zu bytes; GGUF names must be 1..63 bytes", w->path, name, nl);
        return;
    }
    if (!jn_dtype_valid((int)type)) {
        defer(w, JN_ERR_USAGE, "%s: tensor '%s': unknown dtype %d", w->path, name, (int)type);
        return;
    }
    if (n_dims < 1 || n_dims > JN_GGUF_MAX_DIMS) {
        defer(w, JN_ERR_USAGE, "%s: tensor '%s': %d dimensions (supported 1..%d)", w->path, name, n_dims,
              JN_GGUF_MAX_DIMS);
        return;
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) {
            defer(w, JN_ERR_USAGE, "%s: tensor '%s' declared twice", w->path, name);
            return;
        }
    wtensor t;
    memset(&t, 0, sizeof t);
    memcpy(t.name, name, nl + 1);
    t.type = type;
    t.n_dims = n_dims;
    for (int d = 0; d < JN_GGUF_MAX_DIMS; d++) t.ne[d] = 1;
    for (int d = 0; d < n_dims; d++) {
        if (shape[d] < 1) {
            defer(w, JN_ERR_USAGE, "%s: tensor '%s': dimension %d is %lld", w->path, name, d, (long long)shape[d]);
            return;
        }
        t.ne[n_dims - 1 - d] = (uint64_t)shape[d];
    }
    size_t nb = jn_row_bytes(type, (int64_t)t.ne[0]);
    if (nb == 0) {
        defer(w, JN_ERR_USAGE, "%s: tensor '%s' (%s): last dimension %llu is not a multiple of the block size %d",
              w->path, name, jn_dtype_name(type), (unsigned long long)t.ne[0], jn_dtype_block_elems(type));
        return;
    }
    for (int d = 1; d < n_dims; d++)
        if (!jn_mul_ok(nb, (size_t)t.ne[d], &nb)) {
            defer(w, JN_ERR_USAGE, "%s: tensor '%s' is too large", w->path, name);
            return;
        }
    t.nbytes = nb;
    if (w->n_tensors == w->cap_tensors) {
        size_t nc = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *nt = (wtensor *)realloc(w->tensors, nc * sizeof *nt);
        if (!nt) {
            defer(w, JN_ERR_NOMEM, "%s: out of memory", w->path);
            return;
        }
        w->tensors = nt;
        w->cap_tensors = nc;
    }
    w->tensors[w->n_tensors++] = t;
}

static jn_status io_fail(jn_gguf_writer *w, jn_error *err) {
    return jn_fail(err, w->io_code, "%s", w->io_msg);
}

static int flush_out(jn_gguf_writer *w) {
    size_t off = 0;
    while (off < w->olen) {
        ssize_t r = write(w->out.fd, w->obuf + off, w->olen - off);
        if (r < 0) {
            if (errno == EINTR) continue;
            w->io_code = jn_output_status(errno);
            snprintf(w->io_msg, sizeof w->io_msg, "%s: cannot write: %s", w->out.tmp_path, strerror(errno));
            return 0;
        }
        off += (size_t)r;
    }
    w->olen = 0;
    return 1;
}

static int out(jn_gguf_writer *w, const void *p, size_t n) {
    const uint8_t *s = (const uint8_t *)p;
    if (w->io_code) return 0;
    w->file_pos += n;
    while (n) {
        size_t take = w->ocap - w->olen;
        if (take > n) take = n;
        memcpy(w->obuf + w->olen, s, take);
        w->olen += take;
        s += take;
        n -= take;
        if (w->olen == w->ocap && !flush_out(w)) return 0;
    }
    return 1;
}

static int out_pad(jn_gguf_writer *w) {
    static const uint8_t zeros[256];
    uint64_t pad = (w->alignment - w->file_pos % w->alignment) % w->alignment;
    while (pad) {
        size_t take = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        if (!out(w, zeros, take)) return 0;
        pad -= take;
    }
    return 1;
}

jn_status jn_gguf_writer_write_header(jn_gguf_writer *w, jn_error *err) {
    if (w->defer_code) return jn_fail(err, w->defer_code, "%s", w->defer_msg);
    if (w->meta.oom) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory building the metadata", w->path);
    if (w->header_done) return jn_fail(err, JN_ERR_USAGE, "%s: header written twice", w->path);
    /* tensor offsets: each tensor starts aligned relative to the data section */
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        w->tensors[i].offset = off;
        uint64_t padded = w->tensors[i].nbytes + (w->alignment - w->tensors[i].nbytes % w->alignment) % w->alignment;
        off += padded;
    }
    jn_buf h = {0};
    jn_buf_append(&h, GGUF_MAGIC, 4);
    put_le(&h, 3, 4);
    put_le(&h, w->n_tensors, 8);
    put_le(&h, w->n_kv, 8);
    if (w->meta.len) jn_buf_append(&h, w->meta.data, w->meta.len);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        size_t nl = strlen(t->name);
        put_le(&h, nl, 8);
        jn_buf_append(&h, t->name, nl);
        put_le(&h, (uint32_t)t->n_dims, 4);
        for (int d = 0; d < t->n_dims; d++) put_le(&h, t->ne[d], 8);
        put_le(&h, (uint32_t)t->type, 4);
        put_le(&h, t->offset, 8);
    }
    if (h.oom) {
        jn_buf_free(&h);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory building the header", w->path);
    }
    int ok = out(w, h.data, h.len) && out_pad(w);
    jn_buf_free(&h);
    if (!ok) return io_fail(w, err);
    w->header_done = 1;
    w->cur = 0;
    w->cur_written = 0;
    return JN_OK;
}

jn_status jn_gguf_writer_write_data(jn_gguf_writer *w, const void *data, size_t nbytes, jn_error *err) {
    if (w->io_code) return io_fail(w, err);
    if (!w->header_done) return jn_fail(err, JN_ERR_USAGE, "%s: tensor data written before the header", w->path);
    const uint8_t *p = (const uint8_t *)data;
    while (nbytes) {
        if (w->cur >= w->n_tensors)
            return jn_fail(err, JN_ERR_USAGE, "%s: %zu more bytes of tensor data than the declared tensors hold",
                           w->path, nbytes);
        wtensor *t = &w->tensors[w->cur];
        size_t take = t->nbytes - w->cur_written;
        if (take > nbytes) take = nbytes;
        if (!out(w, p, take)) return io_fail(w, err);
        p += take;
        nbytes -= take;
        w->cur_written += take;
        if (w->cur_written == t->nbytes) {
            if (!out_pad(w)) return io_fail(w, err);
            w->cur++;
            w->cur_written = 0;
        }
    }
    return JN_OK;
}

static void writer_free(jn_gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    jn_buf_free(&w->meta);
    free(w->tensors);
    free(w->obuf);
    free(w->path);
    free(w);
}

/* On success the file is in place and the writer is freed (do not use or abort it afterwards).
 * On failure the temporary file is removed and the writer stays allocated: call
 * jn_gguf_writer_abort() to free it. */
jn_status jn_gguf_writer_finish(jn_gguf_writer *w, jn_error *err) {
    jn_status st = JN_OK;
    if (w->defer_code) st = jn_fail(err, w->defer_code, "%s", w->defer_msg);
    else if (w->io_code) st = io_fail(w, err);
    else if (w->out.fd < 0) st = jn_fail(err, JN_ERR_USAGE, "%s: writer already finished", w->path);
    else if (!w->header_done) st = jn_fail(err, JN_ERR_USAGE, "%s: finish called before the header was written", w->path);
    else if (w->cur < w->n_tensors)
        st = jn_fail(err, JN_ERR_USAGE, "%s: tensor '%s' is incomplete: %zu of %zu bytes written (%zu tensors missing)",
                     w->path, w->tensors[w->cur].name, w->cur_written, w->tensors[w->cur].nbytes,
                     w->n_tensors - w->cur);
    else if (!flush_out(w)) st = io_fail(w, err);
    else {
        st = jn_partial_commit(&w->out, w->no_clobber, err); /* removes the temp file on failure */
        if (st == JN_OK) writer_free(w);
        return st;
    }
    jn_partial_discard(&w->out);
    return st;
}

void jn_gguf_writer_set_no_clobber(jn_gguf_writer *w, int no_clobber) { w->no_clobber = no_clobber; }

void jn_gguf_writer_abort(jn_gguf_writer *w) {
    if (!w) return;
    jn_partial_discard(&w->out);
    writer_free(w);
}
