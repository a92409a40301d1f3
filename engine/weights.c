/* engine/weights.c — weight store over a GGUF mapping (see weights.h). */
#include "weights.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct jn_wstore {
    const jn_gguf *g;
    int64_t n;
    jn_weight *w;   /* [n] */
    char *used;     /* [n] */
};

void jn_shape_format(char *buf, size_t n, int n_dims, const int64_t *shape) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n > off ? n - off : 0, "[");
    for (int i = 0; i < n_dims; i++)
        off += (size_t)snprintf(buf + off, n > off ? n - off : 0, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(buf + off, n > off ? n - off : 0, "]");
}

jn_wstore *jn_wstore_create(const jn_gguf *g, jn_error *err) {
    jn_wstore *s = calloc(1, sizeof *s);
    if (!s) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory creating the weight store");
        return NULL;
    }
    s->g = g;
    s->n = jn_gguf_n_tensors(g);
    s->w = calloc((size_t)(s->n ? s->n : 1), sizeof *s->w);
    s->used = calloc((size_t)(s->n ? s->n : 1), 1);
    if (!s->w || !s->used) {
        jn_wstore_free(s);
        jn_fail(err, JN_ERR_NOMEM, "out of memory creating the weight store");
        return NULL;
    }
    for (int64_t i = 0; i < s->n; i++) {
        const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
        jn_weight *w = &s->w[i];
        w->name = t->name;
        w->type = t->type;
        w->n_dims = t->n_dims;
        for (int d = 0; d < 4; d++) w->shape[d] = d < t->n_dims ? t->shape[d] : 1;
        w->data = t->data;
        w->nbytes = t->nbytes;
        w->dev = (void *)t->data;
    }
    return s;
}

void jn_wstore_free(jn_wstore *s) {
    if (!s) return;
    free(s->w);
    free(s->used);
    free(s);
}

int64_t jn_wstore_count(const jn_wstore *s) { return s->n; }
jn_weight *jn_wstore_at(jn_wstore *s, int64_t i) { return (i >= 0 && i < s->n) ? &s->w[i] : NULL; }

static int64_t find_index(const jn_wstore *s, const char *name) {
    const jn_gguf_tensor *t = jn_gguf_find_tensor(s->g, name);
    if (!t) return -1;
    for (int64_t i = 0; i < s->n; i++)
        if (jn_gguf_tensor_at(s->g, i) == t) return i;
    return -1;
}

int jn_wstore_has(const jn_wstore *s, const char *name) { return jn_gguf_find_tensor(s->g, name) != NULL; }

jn_weight *jn_wstore_get(jn_wstore *s, const char *name, int n_dims, const int64_t *shape, unsigned dtype_mask,
                         jn_error *err) {
    const char *path = jn_gguf_path(s->g);
    int64_t i = find_index(s, name);
    if (i < 0) {
        jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s is missing (re-convert the model with this version of janus)",
                path, name);
        return NULL;
    }
    jn_weight *w = &s->w[i];
    int same = (w->n_dims == n_dims);
    for (int d = 0; same && d < n_dims; d++) same = (w->shape[d] == shape[d]);
    if (!same) {
        char got[128], want[128];
        jn_shape_format(got, sizeof got, w->n_dims, w->shape);
        jn_shape_format(want, sizeof want, n_dims, shape);
        jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: got %s, expected %s", path, name, got, want);
        return NULL;
    }
    unsigned mask = dtype_mask ? dtype_mask : JN_DTYPE_MASK_ANY;
    if (!(mask & (1u << w->type))) {
        jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: dtype %s is not accepted here", path, name,
                jn_dtype_name(w->type) ? jn_dtype_name(w->type) : "unknown");
        return NULL;
    }
    if (w->type == JN_Q8_0 || w->type == JN_Q4_0) {
        if (jn_weight_cols(w) % 32 != 0) {
            jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: %s rows must be a multiple of 32 elements", path, name,
                    jn_dtype_name(w->type));
            return NULL;
        }
    }
    s->used[i] = 1;
    return w;
}

jn_weight *jn_wstore_getf(jn_wstore *s, jn_error *err, int n_dims, const int64_t *shape, unsigned dtype_mask,
                          const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return jn_wstore_get(s, name, n_dims, shape, dtype_mask, err);
}

static int has_prefix(const char *name, const char *const *prefixes, int n) {
    for (int k = 0; k < n; k++)
        if (!strncmp(name, prefixes[k], strlen(prefixes[k]))) return 1;
    return 0;
}

jn_status jn_wstore_check_unused(const jn_wstore *s, const char *const *allowed_prefixes, int n_allowed,
                                 jn_error *err) {
    char list[512] = "";
    size_t off = 0;
    int n_unused = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (s->used[i] || has_prefix(s->w[i].name, allowed_prefixes, n_allowed)) continue;
        if (n_unused < 4)
            off += (size_t)snprintf(list + off, sizeof list > off ? sizeof list - off : 0, "%s%s",
                                    n_unused ? ", " : "", s->w[i].name);
        n_unused++;
    }
    if (n_unused)
        return jn_fail(err, JN_ERR_FORMAT, "%s: %d tensor(s) not used by this model definition: %s%s",
                       jn_gguf_path(s->g), n_unused, list, n_unused > 4 ? ", ..." : "");
    return JN_OK;
}
