/* engine/npy.c — NumPy .npy reader (format v1/v2/v3) and v1 writer.
 *
 * Why: golden fixtures are .npy files written by numpy, and `--dump` writes .npy so results can
 * be compared with numpy directly. Only what we use is accepted: little-endian float32, float64,
 * int32, int64 and uint8 in C order; the header dict is parsed strictly enough that a malformed
 * or unsupported file gets a message naming the file and the problem, never a wrong array. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t npy_elem_size(jn_npy_dtype t) {
    switch (t) {
    case JN_NPY_F32: return 4;
    case JN_NPY_U8: return 1;
    case JN_NPY_I32: return 4;
    case JN_NPY_I64: return 8;
    case JN_NPY_F64: return 8;
    }
    return 0;
}

static const char *npy_descr(jn_npy_dtype t) {
    switch (t) {
    case JN_NPY_F32: return "<f4";
    case JN_NPY_U8: return "|u1";
    case JN_NPY_I32: return "<i4";
    case JN_NPY_I64: return "<i8";
    case JN_NPY_F64: return "<f8";
    }
    return NULL;
}

/* ---- tiny parser for the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } ---- */
typedef struct {
    const char *s;
    size_t n, i;
} hp;

static void hp_ws(hp *h) {
    while (h->i < h->n && (h->s[h->i] == ' ' || h->s[h->i] == '\t' || h->s[h->i] == '\n' || h->s[h->i] == '\r'))
        h->i++;
}
static int hp_ch(hp *h, char c) {
    hp_ws(h);
    if (h->i < h->n && h->s[h->i] == c) {
        h->i++;
        return 1;
    }
    return 0;
}
/* Python string literal in ' or " quotes, no escapes (none occur in npy headers). */
static int hp_str(hp *h, char *out, size_t cap) {
    hp_ws(h);
    if (h->i >= h->n || (h->s[h->i] != '\'' && h->s[h->i] != '"')) return 0;
    char q = h->s[h->i++];
    size_t k = 0;
    while (h->i < h->n && h->s[h->i] != q) {
        if (h->s[h->i] == '\\' || k + 1 >= cap) return 0;
        out[k++] = h->s[h->i++];
    }
    if (h->i >= h->n) return 0;
    h->i++;
    out[k] = 0;
    return 1;
}

static jn_status parse_header(const char *path, const char *s, size_t n, jn_npy *out, jn_error *err) {
    hp h = {s, n, 0};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    if (!hp_ch(&h, '{')) return jn_fail(err, JN_ERR_FORMAT, "%s: .npy header is not a dict", path);
    for (;;) {
        if (hp_ch(&h, '}')) break;
        char key[32];
        if (!hp_str(&h, key, sizeof key) || !hp_ch(&h, ':'))
            return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy header dict", path);
        if (strcmp(key, "descr") == 0) {
            char d[16];
            if (!hp_str(&h, d, sizeof d)) return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy 'descr'", path);
            if (strcmp(d, "<f4") == 0) out->dtype = JN_NPY_F32;
            else if (strcmp(d, "|u1") == 0 || strcmp(d, "<u1") == 0 || strcmp(d, "u1") == 0) out->dtype = JN_NPY_U8;
            else if (strcmp(d, "<i4") == 0) out->dtype = JN_NPY_I32;
            else if (strcmp(d, "<i8") == 0) out->dtype = JN_NPY_I64;
            else if (strcmp(d, "<f8") == 0) out->dtype = JN_NPY_F64;
            else
                return jn_fail(err, JN_ERR_FORMAT,
                               "%s: unsupported .npy dtype '%s' (supported: <f4, <f8, <i4, <i8, |u1)", path, d);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            hp_ws(&h);
            if (h.n - h.i >= 5 && memcmp(h.s + h.i, "False", 5) == 0) {
                h.i += 5;
            } else if (h.n - h.i >= 4 && memcmp(h.s + h.i, "True", 4) == 0) {
                return jn_fail(err, JN_ERR_FORMAT, "%s: Fortran-order .npy arrays are not supported", path);
            } else {
                return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy 'fortran_order'", path);
            }
            have_fo = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!hp_ch(&h, '(')) return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy 'shape'", path);
            out->n_dims = 0;
            for (;;) {
                if (hp_ch(&h, ')')) break;
                hp_ws(&h);
                if (h.i >= h.n || h.s[h.i] < '0' || h.s[h.i] > '9')
                    return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy 'shape'", path);
                int64_t v = 0;
                while (h.i < h.n && h.s[h.i] >= '0' && h.s[h.i] <= '9') {
                    if (v > (INT64_MAX - 9) / 10)
                        return jn_fail(err, JN_ERR_FORMAT, "%s: .npy dimension too large", path);
                    v = v * 10 + (h.s[h.i++] - '0');
                }
                if (h.i < h.n && h.s[h.i] == 'L') h.i++; /* Python 2 long suffix */
                if (out->n_dims >= 8)
                    return jn_fail(err, JN_ERR_FORMAT, "%s: .npy array has more than 8 dimensions", path);
                out->shape[out->n_dims++] = v;
                if (hp_ch(&h, ',')) continue;
                if (hp_ch(&h, ')')) break;
                return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy 'shape'", path);
            }
            have_shape = 1;
        } else {
            return jn_fail(err, JN_ERR_FORMAT, "%s: unexpected key '%s' in .npy header", path, key);
        }
        if (hp_ch(&h, ',')) continue;
        if (hp_ch(&h, '}')) break;
        return jn_fail(err, JN_ERR_FORMAT, "%s: malformed .npy header dict", path);
    }
    if (!have_descr || !have_fo || !have_shape)
        return jn_fail(err, JN_ERR_FORMAT, "%s: .npy header lacks %s", path,
                       !have_descr ? "'descr'" : !have_fo ? "'fortran_order'" : "'shape'");
    return JN_OK;
}

jn_status jn_npy_read(const char *path, jn_npy *out, jn_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = jn_fopen_input(path, NULL, err);
    if (!f) return err ? err->code : JN_ERR_IO;
    jn_status st = JN_OK;
    char *hdr = NULL;
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = pre[6];
    size_t hlen, pre_len;
    if (major == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
        pre_len = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
        pre_len = 12;
    } else {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: unsupported .npy format version %d.%d", path, major, pre[7]);
        goto done;
    }
    if (hlen > ((size_t)1 << 24)) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: .npy header length %zu is implausible", path, hlen);
        goto done;
    }
    hdr = (char *)malloc(hlen + 1);
    if (!hdr) {
        st = jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: truncated .npy header", path);
        goto done;
    }
    hdr[hlen] = 0;
    (void)pre_len;
    st = parse_header(path, hdr, hlen, out, err);
    if (st) goto done;
    int64_t ne = 1;
    for (int d = 0; d < out->n_dims; d++) {
        size_t t;
        if (!jn_mul_ok((size_t)ne, (size_t)out->shape[d], &t) || t > (size_t)INT64_MAX / 8) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: .npy shape is too large", path);
            goto done;
        }
        ne = (int64_t)t;
    }
    out->n_elems = ne;
    size_t nbytes = (size_t)ne * npy_elem_size(out->dtype);
    out->data = malloc(nbytes ? nbytes : 1);
    if (!out->data) {
        st = jn_fail(err, JN_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, nbytes);
        goto done;
    }
    size_t got = fread(out->data, 1, nbytes, f);
    if (got != nbytes) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: .npy data truncated: %zu of %zu bytes", path, got, nbytes);
        goto done;
    }
    if (fgetc(f) != EOF) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: trailing bytes after the .npy data (%zu bytes expected)", path,
                     nbytes);
        goto done;
    }
done:
    free(hdr);
    fclose(f);
    if (st) jn_npy_free(out);
    return st;
}

void jn_npy_free(jn_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

jn_status jn_npy_write_stream(FILE *f, const char *path, jn_npy_dtype dtype, int n_dims, const int64_t *shape,
                              const void *data, jn_error *err) {
    const char *descr = npy_descr(dtype);
    if (!descr) return jn_fail(err, JN_ERR_USAGE, "%s: unknown npy dtype %d", path, (int)dtype);
    if (n_dims < 0 || n_dims > 8) return jn_fail(err, JN_ERR_USAGE, "%s: npy n_dims %d out of range", path, n_dims);
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    size_t ne = 1;
    for (int d = 0; d < n_dims; d++) {
        if (shape[d] < 0 || !jn_mul_ok(ne, (size_t)shape[d], &ne))
            return jn_fail(err, JN_ERR_USAGE, "%s: bad npy shape", path);
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    }
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", n_dims == 1 ? "," : "");
    /* pad with spaces so magic(6)+version(2)+len(2)+dict+'\n' is a multiple of 64 */
    size_t total = 10 + (size_t)k + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)k + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    size_t nbytes;
    if (!jn_mul_ok(ne, npy_elem_size(dtype), &nbytes)) return jn_fail(err, JN_ERR_USAGE, "%s: array too large", path);
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)k, f) == (size_t)k;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
    if (fflush(f) != 0) ok = 0;
    if (!ok) return jn_output_fail(err, path, "write", errno);
    return JN_OK;
}

jn_status jn_npy_write(const char *path, jn_npy_dtype dtype, int n_dims, const int64_t *shape, const void *data,
                       jn_error *err) {
    jn_partial out;
    jn_status st = jn_partial_open(&out, path, err);
    if (st) return st;
    int fd = dup(out.fd); /* the stream closes its own descriptor; out.fd keeps the lock */
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        st = jn_output_fail(err, out.tmp_path, "write", errno);
        if (fd >= 0) close(fd);
    } else {
        st = jn_npy_write_stream(f, out.tmp_path, dtype, n_dims, shape, data, err);
        if (fclose(f) != 0 && st == JN_OK) st = jn_output_fail(err, out.tmp_path, "write", errno);
    }
    if (st) {
        jn_partial_discard(&out);
        return st;
    }
    return jn_partial_commit(&out, 0, err);
}
