/* engine/ckpt.c — the checkpoint object shared by the PyTorch-zip and safetensors readers:
 * model-directory detection, shard indexes, name lookup, and element reads (pread, strided
 * gather, conversion to f32).
 *
 * Why pread and not mmap: a converter touches every byte once; with mmap the page cache pages
 * would count towards RSS until unmapped, while pread into one bounded buffer keeps the peak
 * resident memory at one slice of one tensor. */
#define _POSIX_C_SOURCE 200809L
#include "ckpt.h"
#include "file.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checkpoint readers assume a little-endian host"
#endif

typedef struct ck_file {
    char *path;
    const char *base; /* points into path */
    int fd;
    uint64_t size;
} ck_file;

struct jn_ckpt {
    const char *format;
    ck_file *files;
    int n_files, cap_files;
    jn_ckpt_tensor *t;
    int64_t n, cap;
    int64_t *hash; /* open addressing: index+1, 0 = empty */
    size_t hash_cap;
    /* strided-read cache: one tensor's storage span */
    const jn_ckpt_tensor *cache_t;
    uint8_t *cache;
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

jn_ckpt *jn_ckpt_new_(const char *format) {
    jn_ckpt *c = calloc(1, sizeof *c);
    if (c) c->format = format;
    return c;
}

int jn_ckpt_add_file_(jn_ckpt *c, const char *path, int fd, uint64_t size, jn_error *err) {
    if (c->n_files == c->cap_files) {
        int nc = c->cap_files ? c->cap_files * 2 : 4;
        ck_file *nf = realloc(c->files, (size_t)nc * sizeof *nf);
        if (!nf) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        c->files = nf;
        c->cap_files = nc;
    }
    char *p = strdup(path);
    if (!p) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    const char *slash = strrchr(p, '/');
    c->files[c->n_files] = (ck_file){p, slash ? slash + 1 : p, fd, size};
    return c->n_files++;
}

const char *jn_ckpt_file_path_(const jn_ckpt *c, int fi) { return c->files[fi].path; }
int jn_ckpt_file_fd_(const jn_ckpt *c, int fi) { return c->files[fi].fd; }
uint64_t jn_ckpt_file_size_(const jn_ckpt *c, int fi) { return c->files[fi].size; }

static int64_t find_index(const jn_ckpt *c, const char *name) {
    if (!c->hash_cap) return -1;
    size_t m = c->hash_cap - 1, i = (size_t)hash_str(name) & m;
    while (c->hash[i]) {
        int64_t k = c->hash[i] - 1;
        if (!strcmp(c->t[k].name, name)) return k;
        i = (i + 1) & m;
    }
    return -1;
}

static jn_status rehash(jn_ckpt *c, jn_error *err) {
    size_t nc = c->hash_cap ? c->hash_cap * 2 : 1024;
    int64_t *h = calloc(nc, sizeof *h);
    if (!h) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < c->n; k++) {
        size_t i = (size_t)hash_str(c->t[k].name) & (nc - 1);
        while (h[i]) i = (i + 1) & (nc - 1);
        h[i] = k + 1;
    }
    free(c->hash);
    c->hash = h;
    c->hash_cap = nc;
    return JN_OK;
}

jn_status jn_ckpt_add_tensor_(jn_ckpt *c, const jn_ckpt_tensor *t, jn_error *err) {
    if (find_index(c, t->name) >= 0)
        return jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s appears twice (also in %s)", c->files[t->file].base,
                       t->name, c->files[c->t[find_index(c, t->name)].file].base);
    if (c->n == c->cap) {
        int64_t nc = c->cap ? c->cap * 2 : 256;
        jn_ckpt_tensor *nt = realloc(c->t, (size_t)nc * sizeof *nt);
        if (!nt) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        c->t = nt;
        c->cap = nc;
    }
    jn_ckpt_tensor *d = &c->t[c->n];
    *d = *t;
    d->name = strdup(t->name);
    if (!d->name) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    c->n++;
    if ((size_t)c->n * 2 > c->hash_cap) return rehash(c, err);
    size_t m = c->hash_cap - 1, i = (size_t)hash_str(d->name) & m;
    while (c->hash[i]) i = (i + 1) & m;
    c->hash[i] = c->n;
    return JN_OK;
}

void jn_ckpt_close(jn_ckpt *c) {
    if (!c) return;
    for (int i = 0; i < c->n_files; i++) {
        if (c->files[i].fd >= 0) close(c->files[i].fd);
        free(c->files[i].path);
    }
    for (int64_t i = 0; i < c->n; i++) free(c->t[i].name);
    free(c->files);
    free(c->t);
    free(c->hash);
    free(c->cache);
    free(c);
}

const char *jn_ckpt_format(const jn_ckpt *c) { return c->format; }
int64_t jn_ckpt_count(const jn_ckpt *c) { return c->n; }
const jn_ckpt_tensor *jn_ckpt_at(const jn_ckpt *c, int64_t i) { return (i >= 0 && i < c->n) ? &c->t[i] : NULL; }
const jn_ckpt_tensor *jn_ckpt_find(const jn_ckpt *c, const char *name) {
    int64_t k = find_index(c, name);
    return k >= 0 ? &c->t[k] : NULL;
}
const char *jn_ckpt_file_name(const jn_ckpt *c, const jn_ckpt_tensor *t) { return c->files[t->file].base; }

size_t jn_ckpt_elem_size(jn_dtype t) { return t == JN_F32 ? 4 : 2; }

jn_status jn_pread_full_(int fd, void *buf, size_t n, uint64_t off, const char *path, jn_error *err) {
    uint8_t *p = buf;
    while (n) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r = pread(fd, p, chunk, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return jn_fail(err, JN_ERR_IO, "%s: read failed at offset %llu: %s", path, (unsigned long long)off,
                           strerror(errno));
        }
        if (r == 0)
            return jn_fail(err, JN_ERR_FORMAT, "%s: unexpected end of file at offset %llu (file truncated?)", path,
                           (unsigned long long)off);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return JN_OK;
}

/* ---------------- opening ---------------- */

static int open_file(const char *path, uint64_t *size, jn_error *err) {
    return jn_open_input(path, size, err);
}

/* Adds a file and loads its tensors by content. */
static jn_status load_one(jn_ckpt *c, const char *path, jn_error *err) {
    uint64_t size;
    int fd = open_file(path, &size, err);
    if (fd < 0) return err ? err->code : JN_ERR_IO;
    int fi = jn_ckpt_add_file_(c, path, fd, size, err);
    if (fi < 0) {
        close(fd);
        return (jn_status)fi;
    }
    uint8_t magic[4] = {0};
    if (size >= 4) {
        jn_status st = jn_pread_full_(fd, magic, 4, 0, path, err);
        if (st) return st;
    }
    if (size >= 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)
        return jn_ckpt_load_zip_(c, fi, err);
    if (size >= 8) {
        const char *ext = strrchr(path, '.');
        if (ext && !strcmp(ext, ".safetensors")) return jn_ckpt_load_safetensors_(c, fi, err);
    }
    const char *base = c->files[fi].base;
    if (size >= 2 && magic[0] == 0x80)
        return jn_fail(err, JN_ERR_FORMAT,
                       "%s: a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current PyTorch", base);
    return jn_fail(err, JN_ERR_FORMAT, "%s: not a PyTorch zip checkpoint or safetensors file (%llu bytes)", base,
                   (unsigned long long)size);
}

jn_ckpt *jn_ckpt_open_file(const char *path, jn_error *err) {
    jn_ckpt *c = jn_ckpt_new_("pytorch (zip)");
    if (!c) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *ext = strrchr(path, '.');
    if (ext && !strcmp(ext, ".safetensors")) c->format = "safetensors";
    if (load_one(c, path, err) != JN_OK) {
        jn_ckpt_close(c);
        return NULL;
    }
    return c;
}

/* Any kind of file: a FIFO or directory under a weight file's name is then refused by the
 * opener with a message saying what it is, rather than skipped as "no weights found". */
static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Loads a *.index.json: every shard named in weight_map once, then checks each mapped name was
 * found in the shard the index names. */
static jn_status load_index(jn_ckpt *c, const char *dir, const char *index_path, jn_error *err) {
    const char *ibase = strrchr(index_path, '/') ? strrchr(index_path, '/') + 1 : index_path;
    jn_json *root = jn_json_parse_file(index_path, err);
    if (!root) return err ? err->code : JN_ERR_FORMAT;
    jn_status st = JN_OK;
    const jn_json *wm = jn_json_get(root, "weight_map");
    if (!wm || wm->type != JN_JSON_OBJECT || wm->n == 0) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: missing or empty \"weight_map\" object", ibase);
        goto done;
    }
    for (size_t i = 0; i < wm->n && st == JN_OK; i++) {
        const jn_json *v = wm->items[i];
        if (v->type != JN_JSON_STRING || v->len == 0 || strlen(v->str) != v->len) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a file name", ibase, wm->keys[i]);
            break;
        }
        if (strchr(v->str, '/') || strchr(v->str, '\\') || !strcmp(v->str, ".") || !strcmp(v->str, "..")) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: weight_map[\"%s\"] = \"%s\" is not a plain file name in the model directory",
                         ibase, wm->keys[i], v->str);
            break;
        }
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(wm->items[j]->str, v->str);
        if (seen) continue;
        char *p = join(dir, v->str);
        if (!p) {
            st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
            break;
        }
        st = load_one(c, p, err);
        free(p);
    }
    for (size_t i = 0; i < wm->n && st == JN_OK; i++) {
        const jn_ckpt_tensor *t = jn_ckpt_find(c, wm->keys[i]);
        if (!t) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s is listed for %s but that file does not contain it", ibase,
                         wm->keys[i], wm->items[i]->str);
        } else if (strcmp(c->files[t->file].base, wm->items[i]->str)) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s is listed for %s but found in %s", ibase, wm->keys[i],
                         wm->items[i]->str, c->files[t->file].base);
        }
    }
done:
    jn_json_free(root);
    return st;
}

jn_ckpt *jn_ckpt_open_dir(const char *dir, jn_error *err) {
    static const struct {
        const char *name;
        const char *format;
        int index;
    } CANDIDATES[] = {
        {"model.safetensors.index.json", "safetensors (sharded)", 1},
        {"model.safetensors", "safetensors", 0},
        {"pytorch_model.bin.index.json", "pytorch (zip, sharded)", 1},
        {"pytorch_model.bin", "pytorch (zip)", 0},
    };
    for (size_t k = 0; k < sizeof CANDIDATES / sizeof CANDIDATES[0]; k++) {
        char *p = join(dir, CANDIDATES[k].name);
        if (!p) {
            jn_fail(err, JN_ERR_NOMEM, "out of memory");
            return NULL;
        }
        if (!file_exists(p)) {
            free(p);
            continue;
        }
        jn_ckpt *c = jn_ckpt_new_(CANDIDATES[k].format);
        jn_status st = c ? JN_OK : jn_fail(err, JN_ERR_NOMEM, "out of memory");
        if (st == JN_OK) st = CANDIDATES[k].index ? load_index(c, dir, p, err) : load_one(c, p, err);
        free(p);
        if (st != JN_OK) {
            jn_ckpt_close(c);
            return NULL;
        }
        return c;
    }
    jn_fail(err, JN_ERR_IO,
            "%s: no weights found (expected model.safetensors[.index.json] or pytorch_model.bin[.index.json])", dir);
    return NULL;
}

/* ---------------- reading ---------------- */

jn_status jn_ckpt_read_raw(jn_ckpt *c, const jn_ckpt_tensor *t, int64_t first, int64_t count, void *dst,
                           jn_error *err) {
    if (first < 0 || count < 0 || first > t->numel || count > t->numel - first)
        return jn_fail(err, JN_ERR_USAGE, "%s: read of elements [%lld, +%lld) outside [0, %lld)", t->name,
                       (long long)first, (long long)count, (long long)t->numel);
    if (count == 0) return JN_OK;
    size_t es = jn_ckpt_elem_size(t->dtype);
    const ck_file *f = &c->files[t->file];
    if (t->contiguous) {
        jn_status st = jn_pread_full_(f->fd, dst, (size_t)count * es, t->offset + (uint64_t)first * es, f->base, err);
        if (st) jn_error_prefix(err, "tensor %s", t->name);
        return st;
    }
    /* strided: cache the whole span once, gather in logical order */
    if (c->cache_t != t) {
        free(c->cache);
        c->cache = NULL;
        c->cache_t = NULL;
        c->cache = malloc(t->span ? (size_t)t->span : 1);
        if (!c->cache) return jn_fail(err, JN_ERR_NOMEM, "out of memory reading strided tensor %s", t->name);
        jn_status st = jn_pread_full_(f->fd, c->cache, (size_t)t->span, t->offset, f->base, err);
        if (st) return jn_error_prefix(err, "tensor %s", t->name);
        c->cache_t = t;
    }
    int64_t idx[JN_CKPT_MAX_DIMS] = {0}, rem = first;
    for (int d = t->n_dims - 1; d >= 0; d--) {
        idx[d] = rem % t->shape[d];
        rem /= t->shape[d];
    }
    uint8_t *out = dst;
    for (int64_t k = 0; k < count; k++) {
        int64_t off = 0;
        for (int d = 0; d < t->n_dims; d++) off += idx[d] * t->stride[d];
        memcpy(out + (size_t)k * es, c->cache + (size_t)off * es, es);
        for (int d = t->n_dims - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return JN_OK;
}

jn_status jn_ckpt_read_f32(jn_ckpt *c, const jn_ckpt_tensor *t, int64_t first, int64_t count, float *dst,
                           jn_error *err) {
    if (t->dtype == JN_F32) return jn_ckpt_read_raw(c, t, first, count, dst, err);
    /* 16-bit sources: read slices into a stack buffer and widen */
    uint16_t tmp[16384];
    for (int64_t done = 0; done < count;) {
        int64_t k = count - done < 16384 ? count - done : 16384;
        jn_status st = jn_ckpt_read_raw(c, t, first + done, k, tmp, err);
        if (st) return st;
        if (t->dtype == JN_BF16)
            for (int64_t i = 0; i < k; i++) dst[done + i] = jn_bf16_to_f32(tmp[i]);
        else
            for (int64_t i = 0; i < k; i++) dst[done + i] = jn_f16_to_f32(tmp[i]);
        done += k;
    }
    return JN_OK;
}
