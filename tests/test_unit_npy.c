// janus-test-libs: janus_engine
/* tests/test_unit_npy.c — .npy read/write: round trips for every dtype and rank 0..3, the exact
 * v1 header numpy writes (64-byte aligned), v2/v3 headers, the golden fixtures, and rejection of
 * malformed/unsupported files (bad magic, Fortran order, big-endian, truncated data, trailing
 * bytes, bad header dicts) with a message naming the file. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "engine/io/npy.h"
#include "testutil.h"

static int write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* builds a .npy with the given version and dict text, then data */
static size_t make_npy(uint8_t *out, int major, const char *dict, const void *data, size_t nbytes) {
    size_t dl = strlen(dict);
    size_t pre = major == 1 ? 10 : 12;
    size_t total = pre + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    size_t n = 0;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    n = 8;
    if (major == 1) {
        out[n++] = (uint8_t)hlen;
        out[n++] = (uint8_t)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++) out[n++] = (uint8_t)(hlen >> (8 * i));
    }
    memcpy(out + n, dict, dl);
    n += dl;
    memset(out + n, ' ', pad);
    n += pad;
    out[n++] = '\n';
    memcpy(out + n, data, nbytes);
    return n + nbytes;
}

static void expect_reject(const char *path, const char *why, const char *needle) {
    jn_npy a;
    jn_error err = {0};
    jn_status st = jn_npy_read(path, &a, &err);
    TU_CHECK(st != JN_OK, "%s: accepted", why);
    TU_CHECK(strstr(err.msg, path) != NULL && (!needle || strstr(err.msg, needle)), "%s: message '%s'", why, err.msg);
    TU_CHECK(a.data == NULL, "%s: data left allocated", why);
}

int main(void) {
    jn_error err = {0};
    const char *path = tu_tmp("npy_rt.npy");

    /* round trips */
    {
        float f[6] = {1, -2, 3.5f, 0, 1e-30f, -0.0f};
        int64_t sh[2] = {2, 3};
        TU_CHECK(jn_npy_write(path, JN_NPY_F32, 2, sh, f, &err) == JN_OK, "%s", err.msg);
        jn_npy a;
        TU_CHECK(jn_npy_read(path, &a, &err) == JN_OK, "%s", err.msg);
        TU_CHECK(a.dtype == JN_NPY_F32 && a.n_dims == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.n_elems == 6 &&
                     memcmp(a.data, f, sizeof f) == 0,
                 "f32 round trip");
        jn_npy_free(&a);
        /* exact header bytes as numpy writes them */
        size_t n;
        char *raw = tu_read_file(path, &n);
        const char *want = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        TU_CHECK(raw && n == 128 + 24 && memcmp(raw, want, strlen(want) + 0) == 0 && raw[127] == '\n' && raw[126] == ' ',
                 "numpy-identical v1 header");
        free(raw);
    }
    {
        uint8_t u[5] = {0, 1, 127, 128, 255};
        int64_t sh[1] = {5};
        TU_CHECK(jn_npy_write(path, JN_NPY_U8, 1, sh, u, &err) == JN_OK, "%s", err.msg);
        size_t n;
        char *raw = tu_read_file(path, &n);
        TU_CHECK(raw && strstr(raw + 10, "'descr': '|u1'") && strstr(raw + 10, "'shape': (5,), }"), "1-d tuple form");
        free(raw);
        jn_npy a;
        TU_CHECK(jn_npy_read(path, &a, &err) == JN_OK && a.dtype == JN_NPY_U8 && a.n_dims == 1 && a.n_elems == 5 &&
                     memcmp(a.data, u, 5) == 0,
                 "u8 round trip");
        jn_npy_free(&a);
    }
    {
        int32_t i32[4] = {INT32_MIN, -1, 0, INT32_MAX};
        int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
        double f64[4] = {1e300, -1e-300, 0.1, 3};
        int64_t sh[3] = {1, 2, 2};
        jn_npy a;
        TU_CHECK(jn_npy_write(path, JN_NPY_I32, 3, sh, i32, &err) == JN_OK && jn_npy_read(path, &a, &err) == JN_OK &&
                     a.dtype == JN_NPY_I32 && a.n_dims == 3 && memcmp(a.data, i32, 16) == 0,
                 "i32");
        jn_npy_free(&a);
        TU_CHECK(jn_npy_write(path, JN_NPY_I64, 3, sh, i64, &err) == JN_OK && jn_npy_read(path, &a, &err) == JN_OK &&
                     a.dtype == JN_NPY_I64 && memcmp(a.data, i64, 32) == 0,
                 "i64");
        jn_npy_free(&a);
        TU_CHECK(jn_npy_write(path, JN_NPY_F64, 3, sh, f64, &err) == JN_OK && jn_npy_read(path, &a, &err) == JN_OK &&
                     a.dtype == JN_NPY_F64 && memcmp(a.data, f64, 32) == 0,
                 "f64");
        jn_npy_free(&a);
        /* rank 0 and empty arrays */
        float s = 7;
        TU_CHECK(jn_npy_write(path, JN_NPY_F32, 0, NULL, &s, &err) == JN_OK && jn_npy_read(path, &a, &err) == JN_OK &&
                     a.n_dims == 0 && a.n_elems == 1 && ((float *)a.data)[0] == 7,
                 "scalar");
        jn_npy_free(&a);
        int64_t sh0[2] = {0, 3};
        TU_CHECK(jn_npy_write(path, JN_NPY_F32, 2, sh0, NULL, &err) == JN_OK && jn_npy_read(path, &a, &err) == JN_OK &&
                     a.n_elems == 0 && a.shape[1] == 3,
                 "empty");
        jn_npy_free(&a);
    }

    /* v2 / v3 headers and dict variants numpy may produce */
    {
        uint8_t buf[512];
        float f[3] = {1, 2, 3};
        jn_npy a;
        size_t n = make_npy(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f, 12);
        write_raw(path, buf, n);
        TU_CHECK(jn_npy_read(path, &a, &err) == JN_OK && a.n_elems == 3 && memcmp(a.data, f, 12) == 0, "v2: %s", err.msg);
        jn_npy_free(&a);
        n = make_npy(buf, 3, "{\"shape\": (1, 3), \"fortran_order\": False, \"descr\": \"<f4\"}", f, 12);
        write_raw(path, buf, n);
        TU_CHECK(jn_npy_read(path, &a, &err) == JN_OK && a.n_dims == 2 && a.shape[1] == 3, "v3 reordered: %s", err.msg);
        jn_npy_free(&a);

        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "fortran", "Fortran");
        n = make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "big-endian", ">f4");
        n = make_npy(buf, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "f16", "<f2");
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "truncated data", "truncated");
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "trailing bytes", "trailing");
        n = make_npy(buf, 1, "{'descr': '<f4', 'shape': (3,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "missing key", "fortran_order");
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "negative dim", NULL);
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "huge shape", NULL);
        n = make_npy(buf, 1, "[1, 2]", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "not a dict", NULL);
        n = make_npy(buf, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f, 12);
        write_raw(path, buf, n);
        expect_reject(path, "version 4", "version");
        write_raw(path, "\x93NUMPX\x01\x00", 8);
        expect_reject(path, "bad magic", "magic");
        write_raw(path, "\x93NUMPY\x01\x00\xff\x00{", 11);
        expect_reject(path, "truncated header", "truncated");
        /* every prefix of a valid file is rejected */
        n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f, 12);
        int acc = 0;
        for (size_t k = 0; k < n; k++) {
            write_raw(path, buf, k);
            if (jn_npy_read(path, &a, &err) == JN_OK) {
                acc++;
                jn_npy_free(&a);
            }
        }
        TU_CHECK(acc == 0, "%d prefixes accepted", acc);
        expect_reject(tu_tmp("missing.npy"), "missing file", "missing.npy");
    }

    /* golden fixtures written by numpy */
    {
        jn_npy a;
        const char *g = tu_fixture("janus-tiny-a/golden/tiny-a/text_logits.npy");
        TU_CHECK(jn_npy_read(g, &a, &err) == JN_OK && a.dtype == JN_NPY_F32 && a.n_dims >= 1 && a.n_elems > 0,
                 "golden f32: %s", err.msg);
        if (a.data) printf("text_logits.npy: %d dims, first dim %lld, %lld elements\n", a.n_dims, (long long)a.shape[0],
                           (long long)a.n_elems);
        jn_npy_free(&a);
        g = tu_fixture("janus-tiny-a/golden/tiny-a/pre_img3_37x23_resized_u8.npy");
        TU_CHECK(jn_npy_read(g, &a, &err) == JN_OK && a.dtype == JN_NPY_U8 && a.n_elems > 0, "golden u8: %s", err.msg);
        jn_npy_free(&a);
    }
    if (!tu_failures) printf("test_unit_npy: ok\n");
    return TU_RESULT();
}
