/* engine/ckpt_safetensors.c — safetensors reader (one file; shards are combined by ckpt.c).
 *
 * Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
 * [begin, end]}, "__metadata__": {...}}, then the data; offsets are relative to byte 8 + N.
 * Checked: header length within the file and <= 100 MiB, dtypes BF16/F16/F32 only (others named
 * in the error), at most 4 dims, end - begin == numel * element size, every range inside the
 * file, and no two tensors' byte ranges overlap. */
#define _POSIX_C_SOURCE 200809L
#include "ckpt.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER ((uint64_t)100 << 20)

typedef struct {
    uint64_t b, e;
    int64_t idx; /* index of the tensor in the ckpt */
} st_range;

static int cmp_range(const void *a, const void *b) {
    const st_range *x = a, *y = b;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

static int get_u64(const jn_json *v, uint64_t *out) {
    if (!v || v->type != JN_JSON_NUMBER || !v->is_integer || v->integer < 0) return 0;
    *out = (uint64_t)v->integer;
    return 1;
}

jn_status jn_ckpt_load_safetensors_(jn_ckpt *c, int fi, jn_error *err) {
    const char *path = jn_ckpt_file_path_(c, fi);
    const char *bn = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int fd = jn_ckpt_file_fd_(c, fi);
    uint64_t fsize = jn_ckpt_file_size_(c, fi);
    if (fsize < 8) return jn_fail(err, JN_ERR_FORMAT, "%s: too small to be safetensors (%llu bytes)", bn, (unsigned long long)fsize);
    uint8_t lb[8];
    jn_status st = jn_pread_full_(fd, lb, 8, 0, bn, err);
    if (st) return st;
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)lb[i] << (8 * i);
    if (hl > ST_MAX_HEADER || hl > fsize - 8)
        return jn_fail(err, JN_ERR_FORMAT, "%s: safetensors header length %llu exceeds the file (%llu bytes) or 100 MiB", bn,
                       (unsigned long long)hl, (unsigned long long)fsize);
    char *hdr = malloc((size_t)hl + 1);
    if (!hdr) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    st = jn_pread_full_(fd, hdr, (size_t)hl, 8, bn, err);
    if (st) {
        free(hdr);
        return st;
    }
    hdr[hl] = 0;
    jn_json *root = jn_json_parse(hdr, (size_t)hl, err);
    free(hdr);
    if (!root) return jn_error_prefix(err, "%s: safetensors header", bn);
    if (root->type != JN_JSON_OBJECT) {
        jn_json_free(root);
        return jn_fail(err, JN_ERR_FORMAT, "%s: safetensors header is not a JSON object", bn);
    }
    uint64_t data_start = 8 + hl, data_len = fsize - data_start;
    st_range *rg = calloc(root->n + 1, sizeof *rg);
    size_t nrg = 0;
    if (!rg) st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < root->n && st == JN_OK; i++) {
        const char *name = root->keys[i];
        if (!strcmp(name, "__metadata__")) continue;
        const jn_json *v = root->items[i];
        if (strlen(name) != root->key_lens[i] || root->key_lens[i] == 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: a tensor name is empty or contains NUL", bn);
            break;
        }
        const char *dt = jn_json_get_str(v, "dtype");
        const jn_json *shape = jn_json_get(v, "shape"), *offs = jn_json_get(v, "data_offsets");
        if (!dt || !shape || shape->type != JN_JSON_ARRAY || !offs || offs->type != JN_JSON_ARRAY || offs->n != 2) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: header entry needs \"dtype\", \"shape\" and \"data_offsets\" [begin, end]",
                         bn, name);
            break;
        }
        jn_ckpt_tensor t;
        memset(&t, 0, sizeof t);
        t.name = (char *)name;
        if (!strcmp(dt, "F32")) t.dtype = JN_F32;
        else if (!strcmp(dt, "F16")) t.dtype = JN_F16;
        else if (!strcmp(dt, "BF16")) t.dtype = JN_BF16;
        else {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s has dtype %s; only F32, F16 and BF16 are supported", bn, name, dt);
            break;
        }
        if (shape->n > JN_CKPT_MAX_DIMS) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s has %zu dimensions; at most %d are supported", bn, name,
                         shape->n, JN_CKPT_MAX_DIMS);
            break;
        }
        t.n_dims = (int)shape->n;
        int64_t numel = 1;
        for (int d = 0; d < JN_CKPT_MAX_DIMS; d++) t.shape[d] = 1;
        for (int d = 0; d < t.n_dims; d++) {
            uint64_t x;
            if (!get_u64(shape->items[d], &x) || x > ((uint64_t)1 << 40) || (x && (uint64_t)numel > (UINT64_MAX >> 2) / x)) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: bad shape entry %d", bn, name, d);
                break;
            }
            t.shape[d] = (int64_t)x;
            numel *= (int64_t)x;
        }
        if (st) break;
        int64_t s = 1;
        for (int d = t.n_dims - 1; d >= 0; d--) {
            t.stride[d] = s;
            s *= t.shape[d];
        }
        for (int d = t.n_dims; d < JN_CKPT_MAX_DIMS; d++) t.stride[d] = 1;
        uint64_t b, e;
        if (!get_u64(offs->items[0], &b) || !get_u64(offs->items[1], &e) || b > e) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: data_offsets must be two integers begin <= end", bn, name);
            break;
        }
        if (e > data_len) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu] run past the end of the data (%llu bytes)",
                         bn, name, (unsigned long long)b, (unsigned long long)e, (unsigned long long)data_len);
            break;
        }
        uint64_t want = (uint64_t)numel * jn_ckpt_elem_size(t.dtype);
        if (e - b != want) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: data_offsets cover %llu bytes but shape x %s needs %llu", bn, name,
                         (unsigned long long)(e - b), dt, (unsigned long long)want);
            break;
        }
        t.numel = numel;
        t.contiguous = 1;
        t.file = fi;
        t.offset = data_start + b;
        t.span = e - b;
        rg[nrg].b = b;
        rg[nrg].e = e;
        rg[nrg].idx = jn_ckpt_count(c);
        nrg++;
        st = jn_ckpt_add_tensor_(c, &t, err);
    }
    if (st == JN_OK) {
        qsort(rg, nrg, sizeof *rg, cmp_range);
        size_t prev = (size_t)-1; /* the non-empty range reaching furthest so far */
        for (size_t i = 0; i < nrg; i++) {
            if (rg[i].b == rg[i].e) continue;
            if (prev != (size_t)-1 && rg[i].b < rg[prev].e) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: tensors %s [%llu, %llu) and %s [%llu, %llu) overlap", bn,
                             jn_ckpt_at(c, rg[prev].idx)->name, (unsigned long long)rg[prev].b,
                             (unsigned long long)rg[prev].e, jn_ckpt_at(c, rg[i].idx)->name,
                             (unsigned long long)rg[i].b, (unsigned long long)rg[i].e);
                break;
            }
            if (prev == (size_t)-1 || rg[i].e > rg[prev].e) prev = i;
        }
    }
    free(rg);
    jn_json_free(root);
    return st;
}
