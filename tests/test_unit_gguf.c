// janus-test-libs: janus_engine
/* tests/test_unit_gguf.c — GGUF writer/reader round trip, exact on-disk layout, and a hostile-
 * file battery for the reader.
 *
 * 1. The writer's output for a one-kv one-tensor file is compared byte for byte with the GGUF v3
 *    layout assembled by hand here.
 * 2. A file with every metadata kind the writer offers and one tensor of every dtype (1..4 dims,
 *    data streamed in odd chunks that straddle tensors) reads back bit-exact, shapes flipped to
 *    PyTorch order, data aligned; general.alignment = 64 is honoured.
 * 3. A hand-built file (every scalar kv type, arrays, string arrays) checks the typed getters,
 *    their conversions and their error messages, and jn_gguf_kv_format.
 * 4. Corruptions: every prefix of the header region, samples of the data region, huge counts and
 *    lengths, data past EOF, misaligned offsets, bad magic/version, duplicate names/keys, bad
 *    dims/types, and random byte flips. Each must fail with a message naming the file (random
 *    flips may also succeed) and never crash (run this under ASan/UBSan).
 * 5. Writer failure paths: abort and failed finish leave no temp file and never touch an
 *    existing target; bad declarations are reported. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/io/file.h"
#include "engine/io/gguf.h"
#include "testutil.h"

/* ------------------------------------------------------------------ byte builder */
typedef struct {
    uint8_t *d;
    size_t n, cap;
} bb;
static void bb_put(bb *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void bb_le(bb *b, uint64_t v, int n) {
    uint8_t t[8];
    for (int i = 0; i < n; i++) t[i] = (uint8_t)(v >> (8 * i));
    bb_put(b, t, (size_t)n);
}
static void bb_str(bb *b, const char *s) {
    bb_le(b, strlen(s), 8);
    bb_put(b, s, strlen(s));
}
static void bb_pad(bb *b, size_t align) {
    while (b->n % align) bb_le(b, 0, 1);
}

static uint32_t rs = 777;
static uint32_t xr(void) {
    rs ^= rs << 13;
    rs ^= rs >> 17;
    rs ^= rs << 5;
    return rs;
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Opens a file that must be rejected; returns 1 if it was rejected with a message naming it. */
static int rejected(const char *path, const char *why, int verbose) {
    jn_error err = {0};
    jn_gguf *g = jn_gguf_open(path, &err);
    if (g) {
        jn_gguf_close(g);
        fprintf(stderr, "accepted a corrupt file: %s\n", why);
        return 0;
    }
    if (err.code >= 0 || !strstr(err.msg, path)) {
        fprintf(stderr, "%s: bad error (code %d): %s\n", why, err.code, err.msg);
        return 0;
    }
    if (verbose) printf("  %-34s -> %s\n", why, err.msg + strlen(path) + 2);
    return 1;
}

/* ------------------------------------------------------------------ 1. exact layout */
static void test_exact_layout(void) {
    const char *path = tu_tmp("gguf_exact.gguf");
    jn_error err = {0};
    jn_gguf_writer *w = jn_gguf_writer_open(path, &err);
    TU_CHECK(w != NULL, "%s", err.msg);
    if (!w) return;
    jn_gguf_writer_set_u32(w, "a", 1);
    int64_t shape[1] = {2};
    jn_gguf_writer_add_tensor(w, "t", JN_F32, 1, shape);
    float data[2] = {1.0f, -2.0f};
    TU_CHECK(jn_gguf_writer_write_header(w, &err) == JN_OK, "%s", err.msg);
    TU_CHECK(jn_gguf_writer_write_data(w, data, sizeof data, &err) == JN_OK, "%s", err.msg);
    TU_CHECK(jn_gguf_writer_finish(w, &err) == JN_OK, "%s", err.msg);
    bb e = {0};
    bb_put(&e, "GGUF", 4);
    bb_le(&e, 3, 4);
    bb_le(&e, 1, 8); /* tensors */
    bb_le(&e, 1, 8); /* kv */
    bb_str(&e, "a");
    bb_le(&e, JN_GGUF_UINT32, 4);
    bb_le(&e, 1, 4);
    bb_str(&e, "t");
    bb_le(&e, 1, 4);
    bb_le(&e, 2, 8);
    bb_le(&e, JN_F32, 4);
    bb_le(&e, 0, 8);
    bb_pad(&e, 32);
    bb_put(&e, data, 8);
    bb_pad(&e, 32);
    size_t n = 0;
    char *got = tu_read_file(path, &n);
    TU_CHECK(got && n == e.n && memcmp(got, e.d, n) == 0, "writer bytes differ from the GGUF v3 layout (%zu vs %zu)", n,
             e.n);
    free(got);
    free(e.d);
}

/* ------------------------------------------------------------------ 2. round trip */
typedef struct {
    const char *name;
    jn_dtype type;
    int n_dims;
    int64_t shape[4];
    uint8_t *bytes;
    size_t nbytes;
} spec_t;

static void fill_tensor(spec_t *s) {
    int64_t ne = 1;
    for (int d = 0; d < s->n_dims; d++) ne *= s->shape[d];
    s->nbytes = jn_row_bytes(s->type, s->shape[s->n_dims - 1]) * (size_t)(ne / s->shape[s->n_dims - 1]);
    float *f = malloc(sizeof(float) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) f[i] = (float)((int)(xr() % 2001) - 1000) / 37.0f;
    s->bytes = malloc(s->nbytes);
    jn_from_f32_ref(s->type, f, s->bytes, ne);
    free(f);
}

static void test_round_trip(uint32_t alignment) {
    char fname[64];
    snprintf(fname, sizeof fname, "gguf_rt_%u.gguf", alignment);
    const char *path = tu_tmp(fname);
    spec_t specs[] = {
        {"w.f32", JN_F32, 2, {3, 5}, 0, 0},
        {"w.f16", JN_F16, 3, {2, 3, 4}, 0, 0},
        {"w.bf16", JN_BF16, 1, {7}, 0, 0},
        {"w.q8_0", JN_Q8_0, 2, {2, 64}, 0, 0},
        {"w.q4_0", JN_Q4_0, 4, {1, 2, 3, 32}, 0, 0},
        {"language_model.model.layers.29.post_attention_layernorm.wt", JN_F32, 1, {1}, 0, 0},
    };
    const int nt = (int)(sizeof specs / sizeof specs[0]);
    for (int i = 0; i < nt; i++) fill_tensor(&specs[i]);
    jn_error err = {0};
    jn_gguf_writer *w = jn_gguf_writer_open(path, &err);
    TU_CHECK(w != NULL, "%s", err.msg);
    if (!w) return;
    if (alignment != 32) jn_gguf_writer_set_u32(w, "general.alignment", alignment);
    jn_gguf_writer_set_str(w, "general.architecture", "janus-pro", 9);
    jn_gguf_writer_set_str(w, "s.nul", "a\0b", 3);
    jn_gguf_writer_set_u32(w, "v.u32", 4000000000u);
    jn_gguf_writer_set_i32(w, "v.i32", -123456);
    jn_gguf_writer_set_u64(w, "v.u64", 0xfedcba9876543210ull);
    jn_gguf_writer_set_f32(w, "v.f32", 0.1f);
    jn_gguf_writer_set_f64(w, "v.f64", 1.0 / 3.0);
    jn_gguf_writer_set_bool(w, "v.bool", 1);
    jn_gguf_writer_set_bool(w, "v.false", 0);
    uint8_t a_u8[3] = {1, 2, 255};
    int8_t a_i8[2] = {-128, 127};
    uint16_t a_u16[2] = {0, 65535};
    int16_t a_i16[2] = {-32768, 5};
    uint32_t a_u32[5] = {1, 1, 2, 2, 4};
    int32_t a_i32[3] = {-1, 0, 1};
    float a_f32[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    uint8_t a_bool[2] = {0, 1};
    uint64_t a_u64[2] = {0, UINT64_MAX};
    int64_t a_i64[2] = {INT64_MIN, INT64_MAX};
    double a_f64[2] = {1e300, -0.0};
    jn_gguf_writer_set_arr(w, "a.u8", JN_GGUF_UINT8, a_u8, 3);
    jn_gguf_writer_set_arr(w, "a.i8", JN_GGUF_INT8, a_i8, 2);
    jn_gguf_writer_set_arr(w, "a.u16", JN_GGUF_UINT16, a_u16, 2);
    jn_gguf_writer_set_arr(w, "a.i16", JN_GGUF_INT16, a_i16, 2);
    jn_gguf_writer_set_arr(w, "a.u32", JN_GGUF_UINT32, a_u32, 5);
    jn_gguf_writer_set_arr(w, "a.i32", JN_GGUF_INT32, a_i32, 3);
    jn_gguf_writer_set_arr(w, "a.f32", JN_GGUF_FLOAT32, a_f32, 3);
    jn_gguf_writer_set_arr(w, "a.bool", JN_GGUF_BOOL, a_bool, 2);
    jn_gguf_writer_set_arr(w, "a.u64", JN_GGUF_UINT64, a_u64, 2);
    jn_gguf_writer_set_arr(w, "a.i64", JN_GGUF_INT64, a_i64, 2);
    jn_gguf_writer_set_arr(w, "a.f64", JN_GGUF_FLOAT64, a_f64, 2);
    jn_gguf_writer_set_arr(w, "a.empty", JN_GGUF_UINT32, NULL, 0);
    const char *strs[4] = {"hello", "", "w\0rld", "\xc4\xa0the"};
    size_t lens[4] = {5, 0, 5, 5};
    jn_gguf_writer_set_arr_str(w, "a.str", strs, lens, 4);
    for (int i = 0; i < nt; i++) jn_gguf_writer_add_tensor(w, specs[i].name, specs[i].type, specs[i].n_dims, specs[i].shape);
    TU_CHECK(jn_gguf_writer_write_header(w, &err) == JN_OK, "header: %s", err.msg);
    /* stream all tensor bytes concatenated, in chunks of 7 bytes (straddling tensor boundaries) */
    bb all = {0};
    for (int i = 0; i < nt; i++) bb_put(&all, specs[i].bytes, specs[i].nbytes);
    for (size_t off = 0; off < all.n; off += 7) {
        size_t take = all.n - off < 7 ? all.n - off : 7;
        if (jn_gguf_writer_write_data(w, all.d + off, take, &err) != JN_OK) {
            TU_CHECK(0, "write_data: %s", err.msg);
            break;
        }
    }
    free(all.d);
    TU_CHECK(jn_gguf_writer_write_data(w, "x", 1, &err) != JN_OK && strstr(err.msg, "more bytes"), "extra data: %s",
             err.msg);
    TU_CHECK(jn_gguf_writer_finish(w, &err) == JN_OK, "finish: %s", err.msg);

    jn_gguf *g = jn_gguf_open(path, &err);
    TU_CHECK(g != NULL, "open: %s", err.msg);
    if (!g) return;
    TU_CHECK(jn_gguf_version(g) == 3, "version");
    TU_CHECK(strcmp(jn_gguf_path(g), path) == 0, "path");
    TU_CHECK(jn_gguf_n_tensors(g) == nt, "n_tensors");
    TU_CHECK(jn_gguf_n_kv(g) == 22 + (alignment != 32), "n_kv %lld", (long long)jn_gguf_n_kv(g));
    for (int i = 0; i < nt; i++) {
        const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
        TU_CHECK(t && strcmp(t->name, specs[i].name) == 0, "tensor %d name", i);
        TU_CHECK(jn_gguf_find_tensor(g, specs[i].name) == t, "find %s", specs[i].name);
        if (!t) continue;
        TU_CHECK(t->type == specs[i].type && t->n_dims == specs[i].n_dims, "%s type/dims", t->name);
        for (int d = 0; d < 4; d++) {
            int64_t want = d < specs[i].n_dims ? specs[i].shape[d] : 1;
            TU_CHECK(t->shape[d] == want, "%s shape[%d] = %lld, want %lld", t->name, d, (long long)t->shape[d],
                     (long long)want);
        }
        TU_CHECK(t->nbytes == specs[i].nbytes && memcmp(t->data, specs[i].bytes, t->nbytes) == 0, "%s data", t->name);
        TU_CHECK(t->offset % alignment == 0 && ((const uint8_t *)t->data - (const uint8_t *)jn_gguf_tensor_at(g, 0)->data) % alignment == 0,
                 "%s alignment", t->name);
        free(specs[i].bytes);
    }
    TU_CHECK(jn_gguf_find_tensor(g, "nope") == NULL && jn_gguf_tensor_at(g, nt) == NULL && jn_gguf_tensor_at(g, -1) == NULL,
             "absent tensors");
    /* file size: aligned data section holding padded tensors */
    TU_CHECK(jn_gguf_file_size(g) % alignment == 0, "file size %zu multiple of alignment", jn_gguf_file_size(g));

    uint32_t u32 = 0;
    int64_t i64 = 0;
    float f32 = 0;
    double f64 = 0;
    int b = -1;
    const char *s = NULL;
    size_t sl = 0;
    TU_CHECK(jn_gguf_get_u32(g, "v.u32", &u32, &err) == JN_OK && u32 == 4000000000u, "u32");
    TU_CHECK(jn_gguf_get_i64(g, "v.i32", &i64, &err) == JN_OK && i64 == -123456, "i32 as i64");
    TU_CHECK(jn_gguf_get_u32(g, "v.i32", &u32, &err) != JN_OK && strstr(err.msg, "does not fit"), "neg to u32: %s",
             err.msg);
    TU_CHECK(jn_gguf_get_i64(g, "v.u64", &i64, &err) != JN_OK && strstr(err.msg, "v.u64"), "u64 > i64 max: %s", err.msg);
    TU_CHECK(jn_gguf_get_f32(g, "v.f32", &f32, &err) == JN_OK && f32 == 0.1f, "f32");
    TU_CHECK(jn_gguf_get_f64(g, "v.f64", &f64, &err) == JN_OK && f64 == 1.0 / 3.0, "f64");
    TU_CHECK(jn_gguf_get_f32(g, "v.f64", &f32, &err) == JN_OK && f32 == (float)(1.0 / 3.0), "f64 as f32");
    TU_CHECK(jn_gguf_get_bool(g, "v.bool", &b, &err) == JN_OK && b == 1, "bool");
    TU_CHECK(jn_gguf_get_bool(g, "v.false", &b, &err) == JN_OK && b == 0, "bool false");
    TU_CHECK(jn_gguf_get_str(g, "general.architecture", &s, &sl, &err) == JN_OK && sl == 9 && memcmp(s, "janus-pro", 9) == 0,
             "str");
    TU_CHECK(jn_gguf_get_str(g, "s.nul", &s, &sl, &err) == JN_OK && sl == 3 && memcmp(s, "a\0b", 3) == 0, "str nul");
    TU_CHECK(jn_gguf_get_u32(g, "missing.key", &u32, &err) == JN_ERR_FORMAT && strstr(err.msg, "missing.key") &&
                 strstr(err.msg, path),
             "missing key: %s", err.msg);
    TU_CHECK(jn_gguf_get_str(g, "v.u32", &s, &sl, &err) == JN_ERR_FORMAT && strstr(err.msg, "type u32, expected str"),
             "wrong type: %s", err.msg);
    TU_CHECK(jn_gguf_get_f32(g, "v.u32", &f32, &err) != JN_OK, "int is not float");
    jn_gguf_type et;
    uint64_t n;
    const void *data;
    TU_CHECK(jn_gguf_get_arr(g, "a.f32", &et, &n, &data, &err) == JN_OK && et == JN_GGUF_FLOAT32 && n == 3 &&
                 memcmp(data, a_f32, 12) == 0,
             "arr f32");
    TU_CHECK(jn_gguf_get_arr(g, "a.str", &et, &n, &data, &err) == JN_OK && et == JN_GGUF_STRING && n == 4 && data == NULL,
             "arr str");
    TU_CHECK(jn_gguf_get_arr(g, "a.empty", &et, &n, &data, &err) == JN_OK && n == 0, "arr empty");
    for (int i = 0; i < 4; i++)
        TU_CHECK(jn_gguf_get_arr_str(g, "a.str", (uint64_t)i, &s, &sl, &err) == JN_OK && sl == lens[i] &&
                     memcmp(s, strs[i], sl) == 0,
                 "arr str %d", i);
    TU_CHECK(jn_gguf_get_arr_str(g, "a.str", 4, &s, &sl, &err) != JN_OK, "arr str out of range");
    TU_CHECK(jn_gguf_get_arr_str(g, "a.u32", 0, &s, &sl, &err) != JN_OK, "arr str on u32");
    int64_t iv[5];
    float fv[5];
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.u32", iv, 5, &err) == JN_OK && iv[4] == 4, "arr i64 from u32");
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.i8", iv, 2, &err) == JN_OK && iv[0] == -128 && iv[1] == 127, "arr i64 from i8");
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.i16", iv, 2, &err) == JN_OK && iv[0] == -32768, "arr i64 from i16");
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.u16", iv, 2, &err) == JN_OK && iv[1] == 65535, "arr i64 from u16");
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.i64", iv, 2, &err) == JN_OK && iv[0] == INT64_MIN && iv[1] == INT64_MAX, "arr i64");
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.u64", iv, 2, &err) != JN_OK, "u64 max does not fit i64");
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.u32", iv, 4, &err) != JN_OK && strstr(err.msg, "expected 4"), "count mismatch: %s",
             err.msg);
    TU_CHECK(jn_gguf_get_arr_i64(g, "a.f32", iv, 3, &err) != JN_OK, "float array is not int");
    TU_CHECK(jn_gguf_get_arr_f32(g, "a.f32", fv, 3, &err) == JN_OK && memcmp(fv, a_f32, 12) == 0, "arr f32");
    TU_CHECK(jn_gguf_get_arr_f32(g, "a.f64", fv, 2, &err) == JN_OK && isinf(fv[0]) && fv[1] == 0, "arr f32 from f64");
    TU_CHECK(jn_gguf_get_arr_f32(g, "a.i32", fv, 3, &err) == JN_OK && fv[0] == -1.0f, "arr f32 from i32");
    TU_CHECK(jn_gguf_get_arr(g, "a.bool", &et, &n, &data, &err) == JN_OK && et == JN_GGUF_BOOL &&
                 memcmp(data, a_bool, 2) == 0,
             "arr bool");
    TU_CHECK(jn_gguf_get_arr(g, "v.u32", &et, &n, &data, &err) != JN_OK, "scalar is not array");
    /* kv_format */
    char buf[256];
    int64_t ki = jn_gguf_find_kv(g, "a.u32");
    TU_CHECK(ki >= 0 && jn_gguf_kv_type(g, ki) == JN_GGUF_ARRAY && strcmp(jn_gguf_kv_key(g, ki), "a.u32") == 0, "find_kv");
    jn_gguf_kv_format(g, ki, buf, sizeof buf);
    TU_CHECK(strcmp(buf, "[u32 x 5: 1, 1, 2, 2, 4]") == 0, "format arr: %s", buf);
    jn_gguf_kv_format(g, jn_gguf_find_kv(g, "v.i32"), buf, sizeof buf);
    TU_CHECK(strcmp(buf, "-123456") == 0, "format i32: %s", buf);
    jn_gguf_kv_format(g, jn_gguf_find_kv(g, "general.architecture"), buf, sizeof buf);
    TU_CHECK(strcmp(buf, "\"janus-pro\"") == 0, "format str: %s", buf);
    jn_gguf_kv_format(g, jn_gguf_find_kv(g, "v.bool"), buf, sizeof buf);
    TU_CHECK(strcmp(buf, "true") == 0, "format bool: %s", buf);
    jn_gguf_kv_format(g, jn_gguf_find_kv(g, "a.str"), buf, sizeof buf);
    TU_CHECK(strncmp(buf, "[str x 4: \"hello\", \"\", \"w\\x00rld\"", 33) == 0, "format str arr: %s", buf);
    char tiny[8];
    jn_gguf_kv_format(g, ki, tiny, sizeof tiny);
    TU_CHECK(strlen(tiny) == 7, "format truncates to the buffer");
    jn_gguf_kv_format(g, 9999, buf, sizeof buf);
    TU_CHECK(buf[0] == 0, "format out of range");
    TU_CHECK(jn_gguf_find_kv(g, "nope") == -1, "find_kv absent");
    jn_gguf_close(g);
}

/* ------------------------------------------------------------------ 3/4. hand-built files */
typedef struct mut {
    const char *magic;
    uint32_t version;
    int n_kv_set, n_t_set;
    uint64_t n_kv, n_t;
    int key_len_set;
    uint64_t key_len;
    int arr_n_set;
    uint64_t arr_n;
    int sarr_n_set;
    uint64_t sarr_n;
    int str_len_set;
    uint64_t str_len;
    int t1_off_set;
    uint64_t t1_off;
    const char *t1_name;
    int t1_ndims_set;
    uint32_t t1_ndims;
    int t1_type_set;
    uint32_t t1_type;
    int t1_ne0_set;
    uint64_t t1_ne0;
    int t1_name_len_set;
    uint64_t t1_name_len;
    uint32_t alignment;       /* 0: default */
    uint32_t alignment_type;  /* 0: u32 */
    uint8_t bool_val;
    int bool_val_set;
    uint32_t u8_type;         /* type tag written for k.u8 (0 = u8) */
    int u8_type_set;
    uint32_t arr_elem;        /* element type tag written for k.arr */
    int arr_elem_set;
    const char *dup_key;      /* name used for the k.i8 entry */
    int drop_data;
} mut;

#define N_RAW_KV 13

static void build(bb *b, const mut *m) {
    memset(b, 0, sizeof *b);
    bb_put(b, m->magic ? m->magic : "GGUF", 4);
    bb_le(b, m->version ? m->version : 3, 4);
    bb_le(b, m->n_t_set ? m->n_t : 2, 8);
    bb_le(b, m->n_kv_set ? m->n_kv : N_RAW_KV, 8);
    uint32_t align = m->alignment ? m->alignment : 32;
    /* kv 1: general.alignment */
    bb_le(b, m->key_len_set ? m->key_len : 17, 8);
    bb_put(b, "general.alignment", 17);
    if (m->alignment_type) {
        bb_le(b, m->alignment_type, 4);
        bb_le(b, align, 8);
    } else {
        bb_le(b, JN_GGUF_UINT32, 4);
        bb_le(b, align, 4);
    }
    bb_str(b, "k.u8");
    bb_le(b, m->u8_type_set ? m->u8_type : JN_GGUF_UINT8, 4);
    bb_le(b, 200, 1);
    bb_str(b, m->dup_key ? m->dup_key : "k.i8");
    bb_le(b, JN_GGUF_INT8, 4);
    bb_le(b, (uint8_t)-5, 1);
    bb_str(b, "k.u16");
    bb_le(b, JN_GGUF_UINT16, 4);
    bb_le(b, 60000, 2);
    bb_str(b, "k.i16");
    bb_le(b, JN_GGUF_INT16, 4);
    bb_le(b, (uint16_t)-300, 2);
    bb_str(b, "k.i64");
    bb_le(b, JN_GGUF_INT64, 4);
    bb_le(b, (uint64_t)(int64_t)-5000000000LL, 8);
    bb_str(b, "k.u64big");
    bb_le(b, JN_GGUF_UINT64, 4);
    bb_le(b, 5000000000ULL, 8);
    bb_str(b, "k.f64");
    bb_le(b, JN_GGUF_FLOAT64, 4);
    double dv = 2.5;
    uint64_t du;
    memcpy(&du, &dv, 8);
    bb_le(b, du, 8);
    bb_str(b, "k.bool");
    bb_le(b, JN_GGUF_BOOL, 4);
    bb_le(b, m->bool_val_set ? m->bool_val : 1, 1);
    bb_str(b, "k.str");
    bb_le(b, JN_GGUF_STRING, 4);
    bb_le(b, m->str_len_set ? m->str_len : 5, 8);
    bb_put(b, "hello", 5);
    bb_str(b, "k.arr");
    bb_le(b, JN_GGUF_ARRAY, 4);
    bb_le(b, m->arr_elem_set ? m->arr_elem : JN_GGUF_INT32, 4);
    bb_le(b, m->arr_n_set ? m->arr_n : 3, 8);
    bb_le(b, 10, 4);
    bb_le(b, (uint32_t)-20, 4);
    bb_le(b, 30, 4);
    bb_str(b, "k.sarr");
    bb_le(b, JN_GGUF_ARRAY, 4);
    bb_le(b, JN_GGUF_STRING, 4);
    bb_le(b, m->sarr_n_set ? m->sarr_n : 2, 8);
    bb_str(b, "a");
    bb_str(b, "bc");
    bb_str(b, "k.i32");
    bb_le(b, JN_GGUF_INT32, 4);
    bb_le(b, 7, 4);
    /* tensor infos: t0 f32 [2, 4] (ne 4,2) at 0; t1 q8_0 [32] */
    bb_str(b, "t0");
    bb_le(b, 2, 4);
    bb_le(b, 4, 8);
    bb_le(b, 2, 8);
    bb_le(b, JN_F32, 4);
    bb_le(b, 0, 8);
    const char *t1 = m->t1_name ? m->t1_name : "t1";
    bb_le(b, m->t1_name_len_set ? m->t1_name_len : strlen(t1), 8);
    bb_put(b, t1, strlen(t1));
    uint32_t nd = m->t1_ndims_set ? m->t1_ndims : 1;
    bb_le(b, nd, 4);
    for (uint32_t d = 0; d < nd && d < 8; d++) bb_le(b, d == 0 ? (m->t1_ne0_set ? m->t1_ne0 : 32) : 1, 8);
    bb_le(b, m->t1_type_set ? m->t1_type : JN_Q8_0, 4);
    uint64_t t1_off = 32 > align ? 32 : align; /* t0 is 32 bytes */
    bb_le(b, m->t1_off_set ? m->t1_off : t1_off, 8);
    if (m->drop_data) return;
    bb_pad(b, align);
    for (int i = 0; i < 8; i++) {
        float f = (float)i;
        bb_put(b, &f, 4);
    }
    bb_pad(b, align);
    uint8_t q[34];
    for (int i = 0; i < 34; i++) q[i] = (uint8_t)i;
    bb_put(b, q, 34);
    bb_pad(b, align);
}

static void test_raw_getters(void) {
    const char *path = tu_tmp("gguf_raw.gguf");
    mut m = {0};
    bb b;
    build(&b, &m);
    TU_CHECK(write_file(path, b.d, b.n), "write");
    jn_error err = {0};
    jn_gguf *g = jn_gguf_open(path, &err);
    TU_CHECK(g != NULL, "raw file rejected: %s", err.msg);
    free(b.d);
    if (!g) return;
    uint32_t u32 = 0;
    int64_t i64 = 0;
    float f = 0;
    int bo = 0;
    TU_CHECK(jn_gguf_get_u32(g, "k.u8", &u32, &err) == JN_OK && u32 == 200, "u8 -> u32");
    TU_CHECK(jn_gguf_get_i64(g, "k.i8", &i64, &err) == JN_OK && i64 == -5, "i8 -> i64");
    TU_CHECK(jn_gguf_get_u32(g, "k.i8", &u32, &err) != JN_OK, "i8 -5 -> u32 fails");
    TU_CHECK(jn_gguf_get_u32(g, "k.u16", &u32, &err) == JN_OK && u32 == 60000, "u16");
    TU_CHECK(jn_gguf_get_i64(g, "k.i16", &i64, &err) == JN_OK && i64 == -300, "i16");
    TU_CHECK(jn_gguf_get_i64(g, "k.i64", &i64, &err) == JN_OK && i64 == -5000000000LL, "i64");
    TU_CHECK(jn_gguf_get_u32(g, "k.u64big", &u32, &err) != JN_OK && strstr(err.msg, "5000000000"), "u64 -> u32: %s",
             err.msg);
    TU_CHECK(jn_gguf_get_i64(g, "k.u64big", &i64, &err) == JN_OK && i64 == 5000000000LL, "u64 -> i64");
    TU_CHECK(jn_gguf_get_f32(g, "k.f64", &f, &err) == JN_OK && f == 2.5f, "f64 -> f32");
    TU_CHECK(jn_gguf_get_bool(g, "k.bool", &bo, &err) == JN_OK && bo == 1, "bool");
    TU_CHECK(jn_gguf_get_bool(g, "k.u8", &bo, &err) != JN_OK, "u8 is not bool");
    int64_t arr[3];
    TU_CHECK(jn_gguf_get_arr_i64(g, "k.arr", arr, 3, &err) == JN_OK && arr[1] == -20, "i32 array");
    const jn_gguf_tensor *t1 = jn_gguf_find_tensor(g, "t1");
    TU_CHECK(t1 && t1->type == JN_Q8_0 && t1->nbytes == 34 && ((const uint8_t *)t1->data)[33] == 33, "t1");
    const jn_gguf_tensor *t0 = jn_gguf_find_tensor(g, "t0");
    TU_CHECK(t0 && t0->shape[0] == 2 && t0->shape[1] == 4 && t0->n_dims == 2, "t0 shape flipped");
    char buf[128];
    jn_gguf_kv_format(g, jn_gguf_find_kv(g, "k.sarr"), buf, sizeof buf);
    TU_CHECK(strcmp(buf, "[str x 2: \"a\", \"bc\"]") == 0, "%s", buf);
    jn_gguf_kv_format(g, jn_gguf_find_kv(g, "k.f64"), buf, sizeof buf);
    TU_CHECK(strcmp(buf, "2.5") == 0, "%s", buf);
    jn_gguf_close(g);
}

static void test_corruptions(void) {
    const char *path = tu_tmp("gguf_bad.gguf");
    int fails = 0;
    struct {
        const char *why;
        mut m;
    } cases[] = {
        {"bad magic", {.magic = "GGUX"}},
        {"version 1", {.version = 1}},
        {"version 4", {.version = 4}},
        {"big-endian version", {.version = 0x03000000u}},
        {"huge tensor count", {.n_t_set = 1, .n_t = UINT64_MAX}},
        {"huge kv count", {.n_kv_set = 1, .n_kv = (uint64_t)1 << 40}},
        {"kv count one too many", {.n_kv_set = 1, .n_kv = N_RAW_KV + 1}},
        {"tensor count one too many", {.n_t_set = 1, .n_t = 3}},
        {"huge key length", {.key_len_set = 1, .key_len = UINT64_MAX}},
        {"key length past EOF", {.key_len_set = 1, .key_len = 1u << 20}},
        {"key length 0", {.key_len_set = 1, .key_len = 0}},
        {"huge string length", {.str_len_set = 1, .str_len = UINT64_MAX - 3}},
        {"huge array count", {.arr_n_set = 1, .arr_n = (uint64_t)1 << 62}},
        {"array count past EOF", {.arr_n_set = 1, .arr_n = 100000}},
        {"huge string array count", {.sarr_n_set = 1, .sarr_n = UINT64_MAX}},
        {"string array count past EOF", {.sarr_n_set = 1, .sarr_n = 1000}},
        {"tensor data past EOF", {.t1_off_set = 1, .t1_off = 1u << 20}},
        {"tensor offset overflow", {.t1_off_set = 1, .t1_off = UINT64_MAX - 31}},
        {"misaligned tensor offset", {.t1_off_set = 1, .t1_off = 48}},
        {"duplicate tensor name", {.t1_name = "t0"}},
        {"duplicate key", {.dup_key = "k.u8"}},
        {"0 dims", {.t1_ndims_set = 1, .t1_ndims = 0}},
        {"5 dims", {.t1_ndims_set = 1, .t1_ndims = 5}},
        {"huge dims", {.t1_ndims_set = 1, .t1_ndims = 0xffffffffu}},
        {"dim of size 0", {.t1_ne0_set = 1, .t1_ne0 = 0}},
        {"huge dim", {.t1_ne0_set = 1, .t1_ne0 = (uint64_t)1 << 62}},
        {"dim > INT64_MAX", {.t1_ne0_set = 1, .t1_ne0 = UINT64_MAX}},
        {"ne0 not multiple of block", {.t1_ne0_set = 1, .t1_ne0 = 33}},
        {"unsupported ggml type 3", {.t1_type_set = 1, .t1_type = 3}},
        {"unsupported ggml type 12", {.t1_type_set = 1, .t1_type = 12}},
        {"tensor name too long", {.t1_name = "this.tensor.name.is.definitely.longer.than.sixty.four.bytes.ok.yes"}},
        {"tensor name past EOF", {.t1_name_len_set = 1, .t1_name_len = UINT64_MAX}},
        {"alignment 0", {.alignment = 0, .alignment_type = 0, .t1_off_set = 1, .t1_off = 1}},
        {"alignment 48", {.alignment = 48}},
        {"alignment as u64", {.alignment_type = JN_GGUF_UINT64}},
        {"bool value 2", {.bool_val_set = 1, .bool_val = 2}},
        {"unknown kv type", {.u8_type_set = 1, .u8_type = 13}},
        {"nested array", {.arr_elem_set = 1, .arr_elem = JN_GGUF_ARRAY}},
        {"unknown array elem type", {.arr_elem_set = 1, .arr_elem = 77}},
        {"no tensor data", {.drop_data = 1}},
    };
    printf("corrupt files:\n");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bb b;
        build(&b, &cases[k].m);
        if (strcmp(cases[k].why, "alignment 0") == 0) {
            /* write alignment value 0 explicitly (build() treats 0 as default) */
            free(b.d);
            mut m = cases[k].m;
            m.alignment = 0;
            build(&b, &m);
            /* patch the alignment value (right after the key and type) to 0 */
            size_t off = 4 + 4 + 8 + 8 + 8 + 17 + 4;
            memset(b.d + off, 0, 4);
        }
        write_file(path, b.d, b.n);
        free(b.d);
        if (!rejected(path, cases[k].why, 1)) fails++;
    }
    TU_CHECK(fails == 0, "%d corrupt files not rejected properly", fails);

    /* every prefix of the header region and samples of the data region */
    mut m0 = {0};
    bb b;
    build(&b, &m0);
    /* raw layout: data section = t0 (32 bytes) + t1 (34 bytes, padded to 64) at the end */
    size_t t0_start = b.n - 32 - 64;
    size_t last_end = t0_start + 32 + 34;
    int pfails = 0, n_prefix = 0;
    for (size_t n = 0; n < last_end; n++) {
        if (n >= t0_start && (n - t0_start) % 5 != 0) continue; /* sample the data region */
        write_file(path, b.d, n);
        n_prefix++;
        if (!rejected(path, "prefix", 0)) {
            fprintf(stderr, "  prefix length %zu of %zu\n", n, b.n);
            pfails++;
        }
    }
    printf("%d truncated files rejected (header region %zu bytes, file %zu bytes)\n", n_prefix - pfails, t0_start, b.n);
    TU_CHECK(pfails == 0, "%d truncations not rejected", pfails);
    /* truncating only the trailing padding keeps a valid file */
    write_file(path, b.d, last_end);
    {
        jn_error err = {0};
        jn_gguf *g = jn_gguf_open(path, &err);
        TU_CHECK(g != NULL, "file without trailing padding: %s", err.msg);
        jn_gguf_close(g);
    }

    /* random byte flips in the header region: must never crash; count outcomes */
    int accepted = 0, rej = 0;
    uint8_t *copy = malloc(b.n);
    for (int it = 0; it < 3000; it++) {
        memcpy(copy, b.d, b.n);
        int flips = 1 + (int)(xr() % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = xr() % t0_start;
            copy[pos] = (xr() & 1) ? (uint8_t)xr() : (uint8_t)(copy[pos] ^ (1u << (xr() % 8)));
        }
        write_file(path, copy, b.n);
        jn_error err = {0};
        jn_gguf *g = jn_gguf_open(path, &err);
        if (g) {
            accepted++;
            /* exercise the accessors on whatever was accepted */
            char buf[256];
            for (int64_t i = 0; i < jn_gguf_n_kv(g); i++) jn_gguf_kv_format(g, i, buf, sizeof buf);
            for (int64_t i = 0; i < jn_gguf_n_tensors(g); i++) {
                const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
                volatile uint8_t sink = 0;
                for (size_t q = 0; q < t->nbytes; q++) sink ^= ((const uint8_t *)t->data)[q];
                (void)sink;
            }
            jn_gguf_close(g);
        } else {
            rej++;
            if (err.code >= 0 || !err.msg[0]) TU_CHECK(0, "rejection without a message");
        }
    }
    printf("random header flips: %d rejected, %d accepted (harmless changes), no crash\n", rej, accepted);
    free(copy);
    free(b.d);

    /* not a file / missing / tiny */
    jn_error err = {0};
    TU_CHECK(jn_gguf_open(tu_tmp("no-such-file.gguf"), &err) == NULL && err.code == JN_ERR_IO, "missing: %s", err.msg);
    TU_CHECK(jn_gguf_open(tu_tmp(""), &err) == NULL && err.code < 0, "directory: %s", err.msg);
    write_file(path, "GGUF", 4);
    TU_CHECK(rejected(path, "4-byte file", 1), "4-byte file");
    write_file(path, "", 0);
    TU_CHECK(rejected(path, "empty file", 1), "empty file");
}

/* ------------------------------------------------------------------ 5. writer failure paths */
static int count_temps(const char *dir, const char *base) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    struct dirent *e;
    size_t bl = strlen(base);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, base, bl) == 0 && !strcmp(e->d_name + bl, JN_PARTIAL_SUFFIX)) n++;
    closedir(d);
    return n;
}

static void test_writer_failures(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_tmp("gguf_writer_dir"));
    mkdir(dir, 0755);
    char target[4200];
    snprintf(target, sizeof target, "%s/out.gguf", dir);
    write_file(target, "OLD", 3);
    jn_error err = {0};
    int64_t shape[2] = {2, 32};

    /* abort after partial data */
    jn_gguf_writer *w = jn_gguf_writer_open(target, &err);
    TU_CHECK(w != NULL, "%s", err.msg);
    jn_gguf_writer_add_tensor(w, "t", JN_F32, 2, shape);
    TU_CHECK(jn_gguf_writer_write_header(w, &err) == JN_OK, "%s", err.msg);
    float zeros[16] = {0};
    jn_gguf_writer_write_data(w, zeros, sizeof zeros, &err);
    TU_CHECK(count_temps(dir, "out.gguf") == 1, "temp file exists while writing");
    jn_gguf_writer_abort(w);
    TU_CHECK(count_temps(dir, "out.gguf") == 0, "abort left a temp file");
    size_t n;
    char *c = tu_read_file(target, &n);
    TU_CHECK(c && n == 3 && memcmp(c, "OLD", 3) == 0, "abort touched the target");
    free(c);

    /* no-clobber: a target that exists when finishing is refused and left as it is */
    w = jn_gguf_writer_open(target, &err);
    jn_gguf_writer_set_no_clobber(w, 1);
    jn_gguf_writer_add_tensor(w, "t", JN_F32, 2, shape);
    jn_gguf_writer_write_header(w, &err);
    float all[64] = {0};
    jn_gguf_writer_write_data(w, all, sizeof all, &err);
    TU_CHECK(jn_gguf_writer_finish(w, &err) == JN_ERR_USAGE && strstr(err.msg, "already exists"), "no-clobber: %s",
             err.msg);
    jn_gguf_writer_abort(w);
    TU_CHECK(count_temps(dir, "out.gguf") == 0, "no-clobber left a temp file");
    c = tu_read_file(target, &n);
    TU_CHECK(c && n == 3 && memcmp(c, "OLD", 3) == 0, "no-clobber touched the target");
    free(c);

    /* finish with an incomplete tensor: error, temp removed, target untouched; abort frees */
    w = jn_gguf_writer_open(target, &err);
    jn_gguf_writer_add_tensor(w, "t", JN_F32, 2, shape);
    jn_gguf_writer_write_header(w, &err);
    jn_gguf_writer_write_data(w, zeros, sizeof zeros, &err);
    TU_CHECK(jn_gguf_writer_finish(w, &err) != JN_OK && strstr(err.msg, "incomplete"), "incomplete: %s", err.msg);
    TU_CHECK(count_temps(dir, "out.gguf") == 0, "failed finish left a temp file");
    jn_gguf_writer_abort(w);
    c = tu_read_file(target, &n);
    TU_CHECK(c && n == 3 && memcmp(c, "OLD", 3) == 0, "failed finish touched the target");
    free(c);

    /* declaration errors surface at write_header */
    struct {
        const char *why, *expect;
        int kind;
    } bad[] = {
        {"name of 64 bytes", "1..63", 0},
        {"duplicate tensor", "twice", 1},
        {"duplicate key", "twice", 2},
        {"ne0 not multiple of 32 for q8_0", "block size", 3},
        {"zero dim", "dimension", 4},
        {"bad alignment", "power of two", 5},
        {"5 dims", "dimensions", 6},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        w = jn_gguf_writer_open(target, &err);
        int64_t s1[1] = {32}, s0[1] = {0}, s5[5] = {1, 1, 1, 1, 32};
        switch (bad[k].kind) {
        case 0: jn_gguf_writer_add_tensor(w, "0123456789012345678901234567890123456789012345678901234567890123", JN_F32, 1, s1); break;
        case 1:
            jn_gguf_writer_add_tensor(w, "a", JN_F32, 1, s1);
            jn_gguf_writer_add_tensor(w, "a", JN_F32, 1, s1);
            break;
        case 2:
            jn_gguf_writer_set_u32(w, "k", 1);
            jn_gguf_writer_set_str(w, "k", "x", 1);
            break;
        case 3: {
            int64_t s33[1] = {33};
            jn_gguf_writer_add_tensor(w, "q", JN_Q8_0, 1, s33);
            break;
        }
        case 4: jn_gguf_writer_add_tensor(w, "z", JN_F32, 1, s0); break;
        case 5: jn_gguf_writer_set_u32(w, "general.alignment", 48); break;
        case 6: jn_gguf_writer_add_tensor(w, "f", JN_F32, 5, s5); break;
        }
        jn_status st = jn_gguf_writer_write_header(w, &err);
        TU_CHECK(st != JN_OK && strstr(err.msg, bad[k].expect), "%s: %s", bad[k].why, err.msg);
        TU_CHECK(jn_gguf_writer_finish(w, &err) != JN_OK, "%s: finish must fail", bad[k].why);
        jn_gguf_writer_abort(w);
    }
    /* a 63-byte name is fine */
    w = jn_gguf_writer_open(target, &err);
    int64_t s1[1] = {1};
    jn_gguf_writer_add_tensor(w, "012345678901234567890123456789012345678901234567890123456789012", JN_F32, 1, s1);
    TU_CHECK(jn_gguf_writer_write_header(w, &err) == JN_OK, "63-byte name: %s", err.msg);
    TU_CHECK(jn_gguf_writer_write_data(w, zeros, 4, &err) == JN_OK, "data");
    TU_CHECK(jn_gguf_writer_finish(w, &err) == JN_OK, "finish: %s", err.msg);
    TU_CHECK(count_temps(dir, "out.gguf") == 0, "temp left after success");
    jn_gguf *g = jn_gguf_open(target, &err);
    TU_CHECK(g && jn_gguf_n_tensors(g) == 1, "replaced target readable: %s", err.msg);
    jn_gguf_close(g);
    struct stat sb;
    TU_CHECK(stat(target, &sb) == 0 && (sb.st_mode & 0644) == 0644, "target permissions %o", (unsigned)sb.st_mode);

    /* missing directory */
    TU_CHECK(jn_gguf_writer_open(tu_tmp("no/such/dir/x.gguf"), &err) == NULL && err.code == JN_ERR_IO &&
                 strstr(err.msg, "x.gguf"),
             "missing dir: %s", err.msg);
    jn_gguf_writer_abort(NULL);
}

int main(void) {
    test_exact_layout();
    test_round_trip(32);
    test_round_trip(64);
    test_raw_getters();
    test_corruptions();
    test_writer_failures();
    if (!tu_failures) printf("test_unit_gguf: ok\n");
    return TU_RESULT();
}
