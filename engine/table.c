/* engine/table.c — reading, checking and writing component key tables; tensor sinks (see table.h). */
#define _POSIX_C_SOURCE 200809L
#include "table.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(base, off, T) ((T *)(void *)((char *)(base) + (off)))
#define CFIELD(base, off, T) ((const T *)(const void *)((const char *)(base) + (off)))

static int is_int_type(jn_gguf_type t) { return t == JN_GGUF_UINT32 || t == JN_GGUF_INT32; }
static int is_float_type(jn_gguf_type t) { return t == JN_GGUF_FLOAT32 || t == JN_GGUF_FLOAT64; }

/* Number of values a numeric key holds in the struct. */
static int n_values(const jn_key_spec *k, const void *base) {
    if (k->type != JN_GGUF_ARRAY) return 1;
    if (k->n_min == k->n_max) return k->n_max;
    int n = *CFIELD(base, k->count_offset, int);
    return n < 0 ? 0 : n > k->n_max ? k->n_max : n;
}

static double value_at(const jn_key_spec *k, const void *base, int i) {
    switch (k->field) {
    case JN_FIELD_INT: return (double)CFIELD(base, k->offset, int)[i];
    case JN_FIELD_U8: return (double)CFIELD(base, k->offset, uint8_t)[i];
    case JN_FIELD_FLOAT: return (double)CFIELD(base, k->offset, float)[i];
    case JN_FIELD_DOUBLE: return CFIELD(base, k->offset, double)[i];
    default: return 0;
    }
}

static void range_text(const jn_key_spec *k, char *buf, size_t n) {
    if (k->type == JN_GGUF_BOOL) snprintf(buf, n, "must be %s", k->lo > 0 ? "true" : k->hi < 1 ? "false" : "a bool");
    else if (!isfinite(k->lo) && !isfinite(k->hi)) snprintf(buf, n, "must be a finite number");
    else if (k->lo_open && !isfinite(k->hi)) snprintf(buf, n, "must be > %g", k->lo);
    else if (!isfinite(k->hi)) snprintf(buf, n, "must be >= %g", k->lo);
    else if (k->lo_open) snprintf(buf, n, "must be > %g and <= %g", k->lo, k->hi);
    else if (k->lo == k->hi) snprintf(buf, n, "must be %g", k->lo);
    else snprintf(buf, n, "must be in [%g, %g]", k->lo, k->hi);
}

static jn_status check_key(const jn_key_spec *k, const void *base, const char *where, jn_error *err) {
    if (k->field != JN_FIELD_INT && k->field != JN_FIELD_U8 && k->field != JN_FIELD_FLOAT && k->field != JN_FIELD_DOUBLE)
        return JN_OK;
    int n = n_values(k, base);
    if (k->type == JN_GGUF_ARRAY && (n < k->n_min || n > k->n_max))
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' has %d elements, expected %d..%d", where, k->key, n,
                       k->n_min, k->n_max);
    for (int i = 0; i < n; i++) {
        double v = value_at(k, base, i);
        int ok = isfinite(v) && (k->lo_open ? v > k->lo : v >= k->lo) && v <= k->hi;
        if (ok) continue;
        char idx[24] = "", rng[96];
        if (k->type == JN_GGUF_ARRAY) snprintf(idx, sizeof idx, "[%d]", i);
        range_text(k, rng, sizeof rng);
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s'%s = %.9g %s", where, k->key, idx, v, rng);
    }
    return JN_OK;
}

jn_status jn_keys_check(const jn_key_spec *t, size_t n, const void *src, const char *where, jn_error *err) {
    for (size_t i = 0; i < n; i++) {
        jn_status st = check_key(&t[i], src, where, err);
        if (st) return st;
    }
    return JN_OK;
}

static jn_status read_array(const jn_gguf *g, const jn_key_spec *k, void *dst, jn_error *err) {
    jn_gguf_type et;
    uint64_t n = 0;
    const void *data;
    jn_status st = jn_gguf_get_arr(g, k->key, &et, &n, &data, err);
    if (st) return st;
    if (n < (uint64_t)k->n_min || n > (uint64_t)k->n_max)
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' has %llu elements, expected %d..%d", jn_gguf_path(g),
                       k->key, (unsigned long long)n, k->n_min, k->n_max);
    if (k->field == JN_FIELD_NONE) {
        if (et != k->elem)
            return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' is an array of type %d, expected type %d",
                           jn_gguf_path(g), k->key, (int)et, (int)k->elem);
        return JN_OK;
    }
    if (k->field == JN_FIELD_FLOAT) {
        if ((st = jn_gguf_get_arr_f32(g, k->key, FIELD(dst, k->offset, float), n, err))) return st;
    } else {
        int64_t v[64];
        if (n > 64) return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s': too many elements", jn_gguf_path(g), k->key);
        if ((st = jn_gguf_get_arr_i64(g, k->key, v, n, err))) return st;
        for (uint64_t i = 0; i < n; i++) {
            if (v[i] < k->lo || v[i] > k->hi)
                return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s'[%llu] = %lld must be in [%g, %g]", jn_gguf_path(g),
                               k->key, (unsigned long long)i, (long long)v[i], k->lo, k->hi);
            if (k->field == JN_FIELD_U8) FIELD(dst, k->offset, uint8_t)[i] = (uint8_t)v[i];
            else FIELD(dst, k->offset, int)[i] = (int)v[i];
        }
    }
    if (k->n_min != k->n_max) *FIELD(dst, k->count_offset, int) = (int)n;
    return JN_OK;
}

static jn_status read_key(const jn_gguf *g, const jn_key_spec *k, void *dst, jn_error *err) {
    const char *path = jn_gguf_path(g);
    if (jn_gguf_find_kv(g, k->key) < 0) {
        if (k->required || (k->type == JN_GGUF_ARRAY && k->field != JN_FIELD_NONE))
            return jn_fail(err, JN_ERR_FORMAT, "%s: metadata key '%s' is missing (%s)", path, k->key, k->doc);
        switch (k->field) {
        case JN_FIELD_INT: *FIELD(dst, k->offset, int) = (int)k->def; break;
        case JN_FIELD_FLOAT: *FIELD(dst, k->offset, float) = (float)k->def; break;
        case JN_FIELD_DOUBLE: *FIELD(dst, k->offset, double) = k->def; break;
        case JN_FIELD_CHARS: FIELD(dst, k->offset, char)[0] = 0; break;
        case JN_FIELD_STR: {
            char *s = calloc(1, 1);
            if (!s) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
            *FIELD(dst, k->offset, char *) = s;
            break;
        }
        default: break;
        }
        return JN_OK;
    }
    jn_status st;
    if (k->type == JN_GGUF_ARRAY) return read_array(g, k, dst, err);
    if (k->type == JN_GGUF_BOOL) {
        int b;
        if ((st = jn_gguf_get_bool(g, k->key, &b, err))) return st;
        if (k->field == JN_FIELD_INT) *FIELD(dst, k->offset, int) = b;
        return JN_OK;
    }
    if (is_int_type(k->type)) {
        int64_t v;
        if ((st = jn_gguf_get_i64(g, k->key, &v, err))) return st;
        if (k->field != JN_FIELD_NONE && (v < k->lo || v > k->hi)) {
            char rng[96];
            range_text(k, rng, sizeof rng);
            return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' = %lld %s", path, k->key, (long long)v, rng);
        }
        if (k->field == JN_FIELD_INT) *FIELD(dst, k->offset, int) = (int)v;
        return JN_OK;
    }
    if (is_float_type(k->type)) {
        double d;
        if ((st = jn_gguf_get_f64(g, k->key, &d, err))) return st;
        if (k->field == JN_FIELD_FLOAT) *FIELD(dst, k->offset, float) = (float)d;
        else if (k->field == JN_FIELD_DOUBLE) *FIELD(dst, k->offset, double) = d;
        return JN_OK; /* range: jn_keys_check on the stored (possibly narrowed) value */
    }
    const char *s;
    size_t len;
    if ((st = jn_gguf_get_str(g, k->key, &s, &len, err))) return st;
    if (memchr(s, 0, len))
        return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' contains a NUL byte", path, k->key);
    if (k->field == JN_FIELD_CHARS) {
        if (len >= k->field_size)
            return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' is longer than %zu bytes", path, k->key, k->field_size - 1);
        memcpy(FIELD(dst, k->offset, char), s, len);
        FIELD(dst, k->offset, char)[len] = 0;
    } else if (k->field == JN_FIELD_STR) {
        char *c = malloc(len + 1);
        if (!c) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        memcpy(c, s, len);
        c[len] = 0;
        *FIELD(dst, k->offset, char *) = c;
    }
    return JN_OK;
}

jn_status jn_keys_read(const jn_gguf *g, const jn_key_spec *t, size_t n, void *dst, jn_error *err) {
    for (size_t i = 0; i < n; i++) {
        jn_status st = read_key(g, &t[i], dst, err);
        if (st == JN_OK) st = check_key(&t[i], dst, jn_gguf_path(g), err);
        if (st) return st;
    }
    return JN_OK;
}

void jn_keys_free(const jn_key_spec *t, size_t n, void *dst) {
    for (size_t i = 0; i < n; i++)
        if (t[i].field == JN_FIELD_STR) {
            char **p = FIELD(dst, t[i].offset, char *);
            free(*p);
            *p = NULL;
        }
}

void jn_keys_write(jn_gguf_writer *w, const jn_key_spec *t, size_t n, const void *src) {
    for (size_t i = 0; i < n; i++) {
        const jn_key_spec *k = &t[i];
        switch (k->field) {
        case JN_FIELD_NONE: break;
        case JN_FIELD_STR: {
            const char *s = *CFIELD(src, k->offset, char *const);
            if (s && (*s || k->required)) jn_gguf_writer_set_str(w, k->key, s, strlen(s));
            break;
        }
        case JN_FIELD_CHARS: {
            const char *s = CFIELD(src, k->offset, char);
            if (*s || k->required) jn_gguf_writer_set_str(w, k->key, s, strlen(s));
            break;
        }
        default:
            if (k->type == JN_GGUF_ARRAY) {
                int m = n_values(k, src);
                if (k->elem == JN_GGUF_FLOAT32) {
                    jn_gguf_writer_set_arr(w, k->key, JN_GGUF_FLOAT32, CFIELD(src, k->offset, float), (uint64_t)m);
                } else {
                    uint32_t v[64];
                    for (int j = 0; j < m && j < 64; j++) v[j] = (uint32_t)value_at(k, src, j);
                    jn_gguf_writer_set_arr(w, k->key, JN_GGUF_UINT32, v, (uint64_t)(m < 64 ? m : 64));
                }
            } else if (k->type == JN_GGUF_BOOL) {
                jn_gguf_writer_set_bool(w, k->key, *CFIELD(src, k->offset, int) != 0);
            } else if (k->type == JN_GGUF_UINT32) {
                jn_gguf_writer_set_u32(w, k->key, (uint32_t)*CFIELD(src, k->offset, int));
            } else if (k->type == JN_GGUF_INT32) {
                jn_gguf_writer_set_i32(w, k->key, (int32_t)*CFIELD(src, k->offset, int));
            } else if (k->type == JN_GGUF_FLOAT32) {
                jn_gguf_writer_set_f32(w, k->key, (float)value_at(k, src, 0));
            } else if (k->type == JN_GGUF_FLOAT64) {
                jn_gguf_writer_set_f64(w, k->key, value_at(k, src, 0));
            }
        }
    }
}

static const char *scalar_name(jn_gguf_type t) {
    switch (t) {
    case JN_GGUF_UINT32: return "u32";
    case JN_GGUF_INT32: return "i32";
    case JN_GGUF_FLOAT32: return "f32";
    case JN_GGUF_FLOAT64: return "f64";
    case JN_GGUF_BOOL: return "bool";
    case JN_GGUF_STRING: return "str";
    default: return "?";
    }
}

void jn_key_type_name(const jn_key_spec *k, char *buf, size_t n) {
    if (k->type != JN_GGUF_ARRAY) snprintf(buf, n, "%s", scalar_name(k->type));
    else if (k->n_min == k->n_max) snprintf(buf, n, "%s[%d]", scalar_name(k->elem), k->n_min);
    else if (k->n_max >= 1 << 30) snprintf(buf, n, "%s[]", scalar_name(k->elem));
    else snprintf(buf, n, "%s[%d..%d]", scalar_name(k->elem), k->n_min, k->n_max);
}

/* ------------------------------------------------------------------ tensors */

unsigned jn_tensor_rule_mask(jn_tensor_rule rule) {
    switch (rule) {
    case JN_TENSOR_F32: return JN_DTYPE_MASK_F32;
    case JN_TENSOR_FLOAT: return JN_DTYPE_MASK_FLOAT;
    default: return JN_DTYPE_MASK_ANY;
    }
}

void jn_tensor(jn_tensor_sink *s, jn_weight **dst, jn_tensor_rule rule, int unused, int n_dims, int64_t d0,
               int64_t d1, int64_t d2, int64_t d3, const char *pattern, ...) {
    if (s->failed) return;
    jn_tensor_desc d;
    memset(&d, 0, sizeof d);
    va_list ap;
    va_start(ap, pattern);
    int r = vsnprintf(d.name, sizeof d.name, pattern, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= sizeof d.name) {
        s->failed = 1;
        jn_fail(s->err, JN_ERR_FORMAT, "tensor name from pattern '%s' is longer than 63 bytes", pattern);
        return;
    }
    d.n_dims = n_dims;
    const int64_t sh[4] = {d0, d1, d2, d3};
    for (int i = 0; i < JN_GGUF_MAX_DIMS; i++) d.shape[i] = i < n_dims ? sh[i] : 1;
    d.rule = rule;
    d.unused = unused;
    if (!s->add(s, &d, unused ? NULL : dst)) s->failed = 1;
}

static int bind_add(jn_tensor_sink *base, const jn_tensor_desc *d, jn_weight **dst) {
    jn_bind_sink *s = (jn_bind_sink *)base;
    if (d->unused && !jn_wstore_has(s->store, d->name)) return 1;
    jn_weight *w = jn_wstore_get(s->store, d->name, d->n_dims, d->shape, jn_tensor_rule_mask(d->rule), base->err);
    if (!w) return 0;
    if (s->many_rows) w->many_rows = 1;
    if (dst) *dst = w;
    return 1;
}

void jn_bind_sink_init(jn_bind_sink *s, jn_wstore *store, jn_error *err) {
    memset(s, 0, sizeof *s);
    s->base.add = bind_add;
    s->base.err = err;
    s->store = store;
}

static int list_add(jn_tensor_sink *base, const jn_tensor_desc *d, jn_weight **dst) {
    (void)dst;
    jn_tensor_list *l = (jn_tensor_list *)base;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        jn_tensor_desc *nt = realloc(l->t, nc * sizeof *nt);
        if (!nt) {
            jn_fail(base->err, JN_ERR_NOMEM, "out of memory listing tensors");
            return 0;
        }
        l->t = nt;
        l->cap = nc;
    }
    l->t[l->n++] = *d;
    return 1;
}

void jn_tensor_list_init(jn_tensor_list *l, jn_error *err) {
    memset(l, 0, sizeof *l);
    l->base.add = list_add;
    l->base.err = err;
}

void jn_tensor_list_free(jn_tensor_list *l) {
    free(l->t);
    memset(l, 0, sizeof *l);
}
