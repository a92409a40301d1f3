// janus-test-libs: janus_static
/* tests/test_unit_ckpt.c — checkpoint readers + `janus convert`, end to end.
 *
 * 1. Converts the tiny fixture in all three layouts (single .bin, sharded .bin, safetensors) with
 *    every --type, reads the GGUF back with jn_gguf_open and compares every tensor with the source
 *    read directly by the ckpt reader: bit-exact for f32/bf16/f16 (f16 = reference RNE conversion of
 *    the bf16 values), q8_0/q4_0 byte-equal to jn_from_f32_ref of the source, and the dequantized
 *    error within ggml's bounds (measured and printed). Checks metadata values and token ids.
 * 2. Re-packs the fixture .bin with a hand-built zip writer as zip64 (forced) and checks the output
 *    is byte-identical to the normal conversion.
 * 3. Hostile / broken inputs generated here by patching fixture bytes (no Python needed): truncated
 *    and garbage .bin, zip offsets outside the file, a pickle calling posix.system, a data.pkl CRC
 *    mismatch, a deflated entry, safetensors with overlapping / out-of-range offsets, config.json
 *    missing a field, a tensor of the wrong shape, a truncated GGUF. Each must fail with a clear
 *    message (checked by substring), JANUS_ERR_FORMAT/IO, exit code 3 through the CLI, no output file,
 *    and an existing output file must survive even with --force. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/janus.h"
#include "engine/io/ckpt.h"
#include "engine/dtype.h"
#include "engine/io/gguf.h"
#include "engine/io/json.h"
#include "testutil.h"

/* ------------------------------------------------------------------ small file helpers */

static char *slurp(const char *path, size_t *len) {
    char *b = tu_read_file(path, len);
    if (!b) {
        fprintf(stderr, "FAIL cannot read %s\n", path);
        exit(1);
    }
    return b;
}

static void spit(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "FAIL cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void rm_rf(const char *p) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    (void)tu_system(cmd);
}

static const char *SMALL_FILES[] = {"config.json", "preprocessor_config.json", "processor_config.json",
                                    "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json"};

/* Fresh model dir `name` under the test tmp with the tiny fixture's small files. */
static const char *make_dir(const char *name) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_tmp("ckpt"));
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/%s", tu_tmp("ckpt"), name);
    rm_rf(dir);
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "FAIL mkdir %s\n", dir);
        exit(1);
    }
    for (size_t i = 0; i < sizeof SMALL_FILES / sizeof SMALL_FILES[0]; i++) {
        char src[4096], dst[4200];
        snprintf(src, sizeof src, "%s/%s", tu_fixture("janus-tiny-a/models/tiny-a"), SMALL_FILES[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, SMALL_FILES[i]);
        size_t n;
        char *b = slurp(src, &n);
        spit(dst, b, n);
        free(b);
    }
    return dir;
}

static void put(const char *dir, const char *name, const void *data, size_t len) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    spit(p, data, len);
}

/* ------------------------------------------------------------------ a stored-zip writer */

typedef struct zent {
    const char *name;
    const uint8_t *data;
    size_t len;
    uint16_t method;
    int bad_crc;
} zent;

static void le(uint8_t **p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) *(*p)++ = (uint8_t)(v >> (8 * i));
}

/* Writes a zip; force64 puts every size/offset in zip64 extra fields and adds zip64 EOCD records. */
static uint8_t *build_zip(const zent *e, size_t n, int force64, size_t *out_len) {
    size_t cap = 1024;
    for (size_t i = 0; i < n; i++) cap += 2 * strlen(e[i].name) + e[i].len + 200;
    uint8_t *buf = malloc(cap), *p = buf;
    uint64_t *loff = calloc(n, sizeof *loff);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        uint32_t crc = jn_crc32(0, e[i].data, e[i].len) ^ (e[i].bad_crc ? 1u : 0u);
        loff[i] = (uint64_t)(p - buf);
        le(&p, 0x04034b50u, 4);
        le(&p, force64 ? 45 : 20, 2);
        le(&p, 0, 2);
        le(&p, e[i].method, 2);
        le(&p, 0, 4); /* time, date */
        le(&p, crc, 4);
        le(&p, force64 ? 0xffffffffu : e[i].len, 4);
        le(&p, force64 ? 0xffffffffu : e[i].len, 4);
        le(&p, nl, 2);
        le(&p, force64 ? 20 : 0, 2);
        memcpy(p, e[i].name, nl);
        p += nl;
        if (force64) {
            le(&p, 1, 2);
            le(&p, 16, 2);
            le(&p, e[i].len, 8);
            le(&p, e[i].len, 8);
        }
        memcpy(p, e[i].data, e[i].len);
        p += e[i].len;
    }
    uint64_t cd = (uint64_t)(p - buf);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        uint32_t crc = jn_crc32(0, e[i].data, e[i].len) ^ (e[i].bad_crc ? 1u : 0u);
        le(&p, 0x02014b50u, 4);
        le(&p, 45, 2);
        le(&p, force64 ? 45 : 20, 2);
        le(&p, 0, 2);
        le(&p, e[i].method, 2);
        le(&p, 0, 4);
        le(&p, crc, 4);
        le(&p, force64 ? 0xffffffffu : e[i].len, 4);
        le(&p, force64 ? 0xffffffffu : e[i].len, 4);
        le(&p, nl, 2);
        le(&p, force64 ? 28 : 0, 2);
        le(&p, 0, 2); /* comment */
        le(&p, 0, 2); /* disk */
        le(&p, 0, 2);
        le(&p, 0, 4);
        le(&p, force64 ? 0xffffffffu : loff[i], 4);
        memcpy(p, e[i].name, nl);
        p += nl;
        if (force64) {
            le(&p, 1, 2);
            le(&p, 24, 2);
            le(&p, e[i].len, 8);
            le(&p, e[i].len, 8);
            le(&p, loff[i], 8);
        }
    }
    uint64_t cd_size = (uint64_t)(p - buf) - cd;
    if (force64) {
        uint64_t z64 = (uint64_t)(p - buf);
        le(&p, 0x06064b50u, 4);
        le(&p, 44, 8);
        le(&p, 45, 2);
        le(&p, 45, 2);
        le(&p, 0, 4);
        le(&p, 0, 4);
        le(&p, n, 8);
        le(&p, n, 8);
        le(&p, cd_size, 8);
        le(&p, cd, 8);
        le(&p, 0x07064b50u, 4);
        le(&p, 0, 4);
        le(&p, z64, 8);
        le(&p, 1, 4);
    }
    le(&p, 0x06054b50u, 4);
    le(&p, 0, 4);
    le(&p, force64 ? 0xffff : n, 2);
    le(&p, force64 ? 0xffff : n, 2);
    le(&p, force64 ? 0xffffffffu : cd_size, 4);
    le(&p, force64 ? 0xffffffffu : cd, 4);
    le(&p, 0, 2);
    free(loff);
    *out_len = (size_t)(p - buf);
    return buf;
}

/* The fixture .bin's entries (names + bytes), via the reader under test's zip directory code. */
typedef struct zipcopy {
    zent *e;
    size_t n;
    uint8_t **bufs;
} zipcopy;

static zipcopy read_fixture_zip(void) {
    zipcopy z = {0};
    const char *path = tu_fixture("janus-tiny-a/models/tiny-a/pytorch_model.bin");
    size_t len;
    uint8_t *all = (uint8_t *)slurp(path, &len);
    FILE *f = fopen(path, "rb");
    jn_error err = {0};
    jn_zip_entry *ents = NULL;
    size_t n = 0;
    if (jn_zip_read_dir(fileno(f), len, path, &ents, &n, &err) != JN_OK) {
        fprintf(stderr, "FAIL zip dir: %s\n", err.msg);
        exit(1);
    }
    fclose(f);
    z.e = calloc(n, sizeof *z.e);
    z.bufs = calloc(n, sizeof *z.bufs);
    z.n = n;
    for (size_t i = 0; i < n; i++) {
        z.bufs[i] = malloc(ents[i].size + 1);
        memcpy(z.bufs[i], all + ents[i].data_offset, ents[i].size);
        z.e[i].name = strdup(ents[i].name);
        z.e[i].data = z.bufs[i];
        z.e[i].len = ents[i].size;
    }
    jn_zip_free(ents, n);
    free(all);
    return z;
}

static zent *find_zent(zipcopy *z, const char *suffix) {
    for (size_t i = 0; i < z->n; i++) {
        size_t a = strlen(z->e[i].name), b = strlen(suffix);
        if (a >= b && !strcmp(z->e[i].name + a - b, suffix)) return &z->e[i];
    }
    fprintf(stderr, "FAIL no zip entry *%s\n", suffix);
    exit(1);
}

/* ------------------------------------------------------------------ conversion checks */

static const char *official_name(const char *g, char *buf, size_t n) {
    static const char *const MAP[][2] = {{"lm_head.", "language_model.lm_head."},
                                         {"lm.", "language_model.model."},
                                         {"v.", "vision_model.vision_tower."},
                                         {"vq.", "gen_vision_model."}};
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(MAP[i][0]);
        if (!strncmp(g, MAP[i][0], l)) {
            snprintf(buf, n, "%s%s", MAP[i][1], g + l);
            return buf;
        }
    }
    snprintf(buf, n, "%s", g);
    return buf;
}

static int is_quant_name(const char *g) {
    static const char *const LM[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                                     "self_attn.o_proj.weight", "mlp.gate_proj.weight",    "mlp.up_proj.weight",
                                     "mlp.down_proj.weight"};
    size_t gl = strlen(g);
    if (!strncmp(g, "lm.layers.", 10))
        for (size_t i = 0; i < 7; i++) {
            size_t l = strlen(LM[i]);
            if (gl > l && !strcmp(g + gl - l, LM[i])) return 1;
        }
    if (!strcmp(g, "lm_head.weight")) return 1;
    if (!strncmp(g, "gen_head.", 9) && gl > 7 && !strcmp(g + gl - 7, ".weight")) return 1;
    return 0;
}

static double worst_q8 = 0, worst_q4 = 0; /* max |x - deq(x)| / amax(block) measured */

static void check_u32(const jn_gguf *g, const char *key, uint32_t want) {
    uint32_t v = 0;
    jn_error err = {0};
    if (jn_gguf_get_u32(g, key, &v, &err) != JN_OK) {
        TU_CHECK(0, "%s: %s", key, err.msg);
        return;
    }
    TU_CHECK(v == want, "%s = %u, want %u", key, v, want);
}

static void check_str(const jn_gguf *g, const char *key, const char *want) {
    const char *s = NULL;
    size_t n = 0;
    jn_error err = {0};
    if (jn_gguf_get_str(g, key, &s, &n, &err) != JN_OK) {
        TU_CHECK(0, "%s: %s", key, err.msg);
        return;
    }
    TU_CHECK(n == strlen(want) && !memcmp(s, want, n), "%s = '%.*s', want '%s'", key, (int)n, s, want);
}

static void verify(const char *gguf_path, const char *src_dir, const char *type, int keep_unused) {
    jn_error err = {0};
    jn_gguf *g = jn_gguf_open(gguf_path, &err);
    if (!g) {
        TU_CHECK(0, "open %s: %s", gguf_path, err.msg);
        return;
    }
    jn_ckpt *c = jn_ckpt_open_dir(src_dir, &err);
    if (!c) {
        TU_CHECK(0, "ckpt %s: %s", src_dir, err.msg);
        jn_gguf_close(g);
        return;
    }
    int want_t = jn_dtype_from_name(type);
    TU_CHECK(jn_gguf_n_tensors(g) == (keep_unused ? 420 : 260), "%s: %lld tensors", gguf_path,
             (long long)jn_gguf_n_tensors(g));
    static const uint32_t FT[] = {[JN_F32] = 0, [JN_F16] = 1, [JN_Q4_0] = 2, [JN_Q8_0] = 7, [JN_BF16] = 32};
    check_u32(g, "general.file_type", FT[want_t]);
    check_str(g, "general.architecture", "janus-pro");
    check_u32(g, "general.alignment", 32);
    check_u32(g, "janus.lm.n_embd", 64);
    check_u32(g, "janus.lm.n_layer", 2);
    check_u32(g, "janus.lm.n_head", 4);
    check_u32(g, "janus.lm.n_kv_head", 4);
    check_u32(g, "janus.lm.n_ff", 172);
    check_u32(g, "janus.lm.n_vocab", 1024);
    check_u32(g, "janus.vision.width", 64);
    check_u32(g, "janus.vision.n_layer", 2);
    check_u32(g, "janus.vision.n_ff", 256);
    check_u32(g, "janus.vq.ch", 32);
    check_u32(g, "janus.vq.z_channels", 32);
    check_u32(g, "janus.vq.codebook_size", 512);
    check_u32(g, "janus.vq.codebook_dim", 8);
    check_u32(g, "janus.image.num_image_tokens", 576);
    check_u32(g, "tokenizer.ggml.bos_token_id", 996);
    check_u32(g, "tokenizer.ggml.eos_token_id", 997);
    check_u32(g, "tokenizer.ggml.padding_token_id", 998);
    check_u32(g, "janus.token.bos", 996);
    check_u32(g, "janus.token.eos", 997);
    check_u32(g, "janus.token.pad", 998);
    check_u32(g, "janus.token.image_start", 999);
    check_u32(g, "janus.token.image_placeholder", 1000);
    check_u32(g, "janus.token.image_end", 1009);
    check_str(g, "tokenizer.ggml.model", "gpt2");
    check_str(g, "janus.prompt.image_tag", "<image_placeholder>");
    check_str(g, "janus.prompt.sep2", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>");
    int64_t mult[5];
    TU_CHECK(jn_gguf_get_arr_i64(g, "janus.vq.ch_mult", mult, 5, &err) == JN_OK && mult[0] == 1 && mult[4] == 4,
             "ch_mult: %s", err.msg);
    float mean[3];
    TU_CHECK(jn_gguf_get_arr_f32(g, "janus.image.mean", mean, 3, &err) == JN_OK && mean[0] == 0.5f, "mean: %s", err.msg);
    /* tokenizer.json stored verbatim */
    const char *tj;
    size_t tjl, flen;
    char *orig = slurp(tu_fixture("janus-tiny-a/models/tiny-a/tokenizer.json"), &flen);
    TU_CHECK(jn_gguf_get_str(g, "tokenizer.huggingface.json", &tj, &tjl, &err) == JN_OK && tjl == flen &&
                 !memcmp(tj, orig, flen),
             "tokenizer.huggingface.json is not the verbatim file");
    free(orig);
    const char *tok;
    size_t tl;
    TU_CHECK(jn_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 1000, &tok, &tl, &err) == JN_OK && tl == 19 &&
                 !memcmp(tok, "<image_placeholder>", 19),
             "token 1000");
    int64_t tt[1010];
    TU_CHECK(jn_gguf_get_arr_i64(g, "tokenizer.ggml.token_type", tt, 1010, &err) == JN_OK && tt[0] == 1 && tt[996] == 3,
             "token types: %s", err.msg);

    for (int64_t i = 0; i < jn_gguf_n_tensors(g); i++) {
        const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
        char on[256];
        official_name(t->name, on, sizeof on);
        const jn_ckpt_tensor *s = jn_ckpt_find(c, on);
        if (!s) {
            TU_CHECK(0, "%s: %s has no source %s", gguf_path, t->name, on);
            continue;
        }
        int same_shape = s->n_dims == t->n_dims;
        for (int d = 0; same_shape && d < s->n_dims; d++) same_shape = s->shape[d] == t->shape[d];
        TU_CHECK(same_shape, "%s: shape differs from source", t->name);
        /* expected dtype */
        int row = (int)t->shape[t->n_dims - 1];
        jn_dtype exp = t->n_dims <= 1 ? JN_F32
                       : (want_t == JN_Q8_0 || want_t == JN_Q4_0) ? ((is_quant_name(t->name) && row % 32 == 0) ? (jn_dtype)want_t : JN_BF16)
                                                                    : (jn_dtype)want_t;
        TU_CHECK(t->type == exp, "%s: dtype %s, want %s", t->name, jn_dtype_name(t->type), jn_dtype_name(exp));
        if (t->type != exp) continue;
        int64_t n = s->numel;
        float *f = malloc((size_t)n * 4 + 4);
        uint8_t *raw = malloc((size_t)n * 4 + 4);
        uint8_t *want = malloc((size_t)n * 4 + 4);
        TU_CHECK(jn_ckpt_read_f32(c, s, 0, n, f, &err) == JN_OK, "read %s: %s", on, err.msg);
        TU_CHECK(jn_ckpt_read_raw(c, s, 0, n, raw, &err) == JN_OK, "read %s: %s", on, err.msg);
        size_t want_len;
        if (t->type == JN_BF16 && s->dtype == JN_BF16) {
            memcpy(want, raw, (size_t)n * 2);
            want_len = (size_t)n * 2;
        } else {
            jn_from_f32_ref(t->type, f, want, n);
            want_len = jn_row_bytes(t->type, n);
        }
        TU_CHECK(t->nbytes == want_len && !memcmp(t->data, want, want_len), "%s (%s): bytes differ from the reference conversion",
                 t->name, jn_dtype_name(t->type));
        if (t->type == JN_Q8_0 || t->type == JN_Q4_0) {
            float *dq = malloc((size_t)n * 4);
            jn_to_f32_ref(t->type, t->data, dq, n);
            for (int64_t b = 0; b < n / 32; b++) {
                float amax = 0, e = 0;
                for (int k = 0; k < 32; k++) {
                    amax = fmaxf(amax, fabsf(f[b * 32 + k]));
                    e = fmaxf(e, fabsf(f[b * 32 + k] - dq[b * 32 + k]));
                }
                if (amax > 0) {
                    double r = e / amax;
                    /* ggml bounds: q8_0 d = amax/127 -> |err| <= d/2, plus the fp16 rounding of d
                     * (rel 2^-11) over up to 127 steps; q4_0: d = max/-8, the far side clamps at
                     * level 7 -> |err| <= amax/8 (+ fp16 rounding of d over 8 steps). */
                    if (t->type == JN_Q8_0) {
                        if (r > worst_q8) worst_q8 = r;
                        TU_CHECK(r <= 0.5 / 127 + 127 * 0x1p-11 / 127 + 1e-6, "%s: q8_0 block %lld error %g x amax", t->name,
                                 (long long)b, r);
                    } else {
                        if (r > worst_q4) worst_q4 = r;
                        TU_CHECK(r <= 1.0 / 8 + 8 * 0x1p-11 / 8 + 1e-6, "%s: q4_0 block %lld error %g x amax", t->name,
                                 (long long)b, r);
                    }
                }
            }
            free(dq);
        }
        free(f);
        free(raw);
        free(want);
    }
    jn_ckpt_close(c);
    jn_gguf_close(g);
}

static int convert(const char *dir, const char *out, const char *type, int keep, int force, janus_error *err) {
    janus_convert_params p = janus_convert_default_params();
    p.model_dir = dir;
    p.out_path = out;
    p.type = type;
    p.keep_unused = keep;
    p.force = force;
    memset(err, 0, sizeof *err);
    return janus_convert(&p, err);
}

/* Same metadata (general.name aside: it comes from the directory name) and same tensors, bytes. */
static int gguf_same(const char *a, const char *b) {
    jn_error err = {0};
    jn_gguf *x = jn_gguf_open(a, &err), *y = jn_gguf_open(b, &err);
    int eq = x && y && jn_gguf_n_kv(x) == jn_gguf_n_kv(y) && jn_gguf_n_tensors(x) == jn_gguf_n_tensors(y);
    for (int64_t i = 0; eq && i < jn_gguf_n_kv(x); i++) {
        const char *k = jn_gguf_kv_key(x, i);
        eq = !strcmp(k, jn_gguf_kv_key(y, i)) && jn_gguf_kv_type(x, i) == jn_gguf_kv_type(y, i);
        if (eq && strcmp(k, "general.name")) {
            char u[4096], v[4096];
            jn_gguf_kv_format(x, i, u, sizeof u);
            jn_gguf_kv_format(y, i, v, sizeof v);
            eq = !strcmp(u, v);
        }
    }
    for (int64_t i = 0; eq && i < jn_gguf_n_tensors(x); i++) {
        const jn_gguf_tensor *s = jn_gguf_tensor_at(x, i), *t = jn_gguf_tensor_at(y, i);
        eq = !strcmp(s->name, t->name) && s->type == t->type && s->nbytes == t->nbytes && s->offset == t->offset &&
             !memcmp(s->shape, t->shape, sizeof s->shape) && !memcmp(s->data, t->data, s->nbytes);
    }
    jn_gguf_close(x);
    jn_gguf_close(y);
    return eq;
}

/* ------------------------------------------------------------------ bad inputs */

static int have_cli = 0;

/* Library + CLI expectations for a model dir that must be refused. */
static void expect_bad(const char *label, const char *dir, const char *substr) {
    char out[4200];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    unlink(out);
    janus_error err;
    int rc = convert(dir, out, "bf16", 0, 0, &err);
    int code_ok = rc == JANUS_ERR_FORMAT || rc == JANUS_ERR_IO;
    TU_CHECK(code_ok, "%s: status %d (%s)", label, rc, err.msg);
    TU_CHECK(strstr(err.msg, substr) != NULL, "%s: message '%s' lacks '%s'", label, err.msg, substr);
    TU_CHECK(!exists(out), "%s: output file left behind", label);
    fprintf(stderr, "ok   %s: %s\n", label, err.msg);
    if (!have_cli) return;
    /* CLI: exit 3, no output; an existing file survives even with --force */
    char cmd[9000], errf[4300];
    snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' 2>'%s' >/dev/null", tu_janus_bin(), dir, out, errf);
    int ec = tu_system(cmd);
    TU_CHECK(ec == 3, "%s: CLI exit %d, want 3", label, ec);
    TU_CHECK(!exists(out), "%s: CLI left an output file", label);
    size_t el;
    char *e = tu_read_file(errf, &el);
    TU_CHECK(e && strstr(e, substr), "%s: CLI stderr lacks '%s'", label, substr);
    free(e);
    spit(out, "precious", 8);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --force 2>/dev/null >/dev/null", tu_janus_bin(), dir, out);
    ec = tu_system(cmd);
    size_t pl;
    char *pv = tu_read_file(out, &pl);
    TU_CHECK(ec == 3 && pv && pl == 8 && !memcmp(pv, "precious", 8), "%s: existing output clobbered (exit %d)", label, ec);
    free(pv);
    /* no temporary files left either */
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.partial$'", dir);
    TU_CHECK(tu_system(cmd) != 0, "%s: temporary file left behind", label);
    unlink(out);
}

static char *replace_once(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    if (!p) {
        fprintf(stderr, "FAIL pattern '%s' not found\n", from);
        exit(1);
    }
    size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), sl = strlen(s);
    char *r = malloc(sl - fl + tl + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, p + fl, sl - a - fl + 1);
    return r;
}

/* safetensors copy with one tensor's data_offsets replaced */
static void write_safetensors_patched(const char *dir, const char *tname, const char *other, uint64_t b_override,
                                      int use_other) {
    size_t len;
    uint8_t *f = (uint8_t *)slurp(tu_fixture("janus-tiny-a/models/tiny-a-safetensors/model.safetensors"), &len);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)f[i] << (8 * i);
    jn_error err = {0};
    jn_json *h = jn_json_parse((const char *)f + 8, (size_t)hl, &err);
    if (!h) {
        fprintf(stderr, "FAIL header: %s\n", err.msg);
        exit(1);
    }
    const jn_json *o = jn_json_get(h, other);
    uint64_t ob = (uint64_t)jn_json_get(o, "data_offsets")->items[0]->integer;
    jn_buf b = {0};
    jn_buf_puts(&b, "{");
    for (size_t i = 0; i < h->n; i++) {
        if (i) jn_buf_puts(&b, ",");
        jn_json_write_string(&b, h->keys[i], h->key_lens[i]);
        jn_buf_puts(&b, ":");
        const jn_json *v = h->items[i];
        if (!strcmp(h->keys[i], "__metadata__")) {
            jn_buf_puts(&b, "{}");
            continue;
        }
        const jn_json *sh = jn_json_get(v, "shape"), *of = jn_json_get(v, "data_offsets");
        uint64_t s0 = (uint64_t)of->items[0]->integer, s1 = (uint64_t)of->items[1]->integer;
        if (!strcmp(h->keys[i], tname)) {
            uint64_t sz = s1 - s0;
            s0 = use_other ? ob + 2 : b_override; /* overlap the other tensor, or start where told */
            s1 = s0 + sz;
        }
        jn_buf_printf(&b, "{\"dtype\":\"%s\",\"shape\":[", jn_json_get_str(v, "dtype"));
        for (size_t d = 0; d < sh->n; d++) jn_buf_printf(&b, "%s%lld", d ? "," : "", (long long)sh->items[d]->integer);
        jn_buf_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)s0, (unsigned long long)s1);
    }
    jn_buf_puts(&b, "}");
    size_t nl = 8 + b.len + (len - 8 - hl);
    uint8_t *nf = malloc(nl);
    for (int i = 0; i < 8; i++) nf[i] = (uint8_t)((uint64_t)b.len >> (8 * i));
    memcpy(nf + 8, b.data, b.len);
    memcpy(nf + 8 + b.len, f + 8 + hl, len - 8 - hl);
    put(dir, "model.safetensors", nf, nl);
    free(nf);
    jn_buf_free(&b);
    jn_json_free(h);
    free(f);
}

static uint64_t safetensors_data_len(void) {
    size_t len;
    uint8_t *f = (uint8_t *)slurp(tu_fixture("janus-tiny-a/models/tiny-a-safetensors/model.safetensors"), &len);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)f[i] << (8 * i);
    free(f);
    return len - 8 - hl;
}

int main(void) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", tu_tmp("ckpt"));
    mkdir(tmp, 0755);
    have_cli = access(tu_janus_bin(), X_OK) == 0;
    if (!have_cli) fprintf(stderr, "note: JANUS_BIN not executable; CLI checks skipped\n");

    /* ---- 1. all layouts x all types ---- */
    static const char *const LAYOUTS[] = {"tiny-a", "tiny-a-sharded", "tiny-a-safetensors"};
    static const char *const TYPES[] = {"f32", "bf16", "f16", "q8_0", "q4_0"};
    char ref_bf16[4200];
    snprintf(ref_bf16, sizeof ref_bf16, "%s/tiny-a.bf16.gguf", tmp);
    for (size_t li = 0; li < 3; li++) {
        char src[4096];
        snprintf(src, sizeof src, "janus-tiny-a/models/%s", LAYOUTS[li]);
        snprintf(src, sizeof src, "%s", tu_fixture(src));
        for (size_t ti = 0; ti < 5; ti++) {
            char out[4200];
            snprintf(out, sizeof out, "%s/%s.%s.gguf", tmp, LAYOUTS[li], TYPES[ti]);
            janus_error err;
            double t0 = jn_time_s();
            int rc = convert(src, out, TYPES[ti], 0, 1, &err);
            TU_CHECK(rc == JANUS_OK, "convert %s %s: %s", LAYOUTS[li], TYPES[ti], err.msg);
            if (rc) continue;
            fprintf(stderr, "ok   convert %s --type %s (%.0f ms)\n", LAYOUTS[li], TYPES[ti], 1e3 * (jn_time_s() - t0));
            verify(out, src, TYPES[ti], 0);
            /* the three layouts hold the same tensors: identical output files */
            if (li > 0) {
                char first[4200];
                snprintf(first, sizeof first, "%s/%s.%s.gguf", tmp, LAYOUTS[0], TYPES[ti]);
                TU_CHECK(gguf_same(first, out), "%s and %s differ", first, out);
            }
        }
    }
    fprintf(stderr, "measured worst dequantization error / block amax: q8_0 %.5f (bound %.5f), q4_0 %.5f (bound %.5f)\n",
            worst_q8, 0.5 / 127 + 0x1p-11, worst_q4, 1.0 / 8 + 0x1p-11);
    {
        char out[4200];
        snprintf(out, sizeof out, "%s/tiny-a.keep.gguf", tmp);
        janus_error err;
        TU_CHECK(convert(tu_fixture("janus-tiny-a/models/tiny-a-safetensors"), out, "q8_0", 1, 1, &err) == JANUS_OK,
                 "keep-unused: %s", err.msg);
        verify(out, tu_fixture("janus-tiny-a/models/tiny-a-safetensors"), "q8_0", 1);
        /* refuse to overwrite without force: usage error, file untouched */
        struct stat st0, st1;
        stat(out, &st0);
        int rc = convert(tu_fixture("janus-tiny-a/models/tiny-a"), out, "bf16", 0, 0, &err);
        stat(out, &st1);
        TU_CHECK(rc == JANUS_ERR_USAGE && strstr(err.msg, "--force") && st0.st_size == st1.st_size,
                 "existing output without force: %d %s", rc, err.msg);
        rc = convert(tu_fixture("janus-tiny-a/models/tiny-a"), out, "q5_k", 0, 1, &err);
        TU_CHECK(rc == JANUS_ERR_USAGE, "bad type: %d %s", rc, err.msg);
        TU_CHECK(janus_exit_code(JANUS_ERR_FORMAT) == 3 && janus_exit_code(JANUS_ERR_IO) == 3 &&
                     janus_exit_code(JANUS_ERR_USAGE) == 2 && janus_exit_code(JANUS_ERR_NOMEM) == 1 &&
                     janus_exit_code(JANUS_ERR_RUNTIME) == 1 && janus_exit_code(JANUS_OK) == 0,
                 "janus_exit_code mapping");
        FILE *devnull = fopen("/dev/null", "w");
        TU_CHECK(janus_info(out, devnull, 1, &err) == JANUS_OK, "info --all: %s", err.msg);
        fclose(devnull);
    }

    /* ---- 2. zip64 re-pack gives the identical file ---- */
    zipcopy z = read_fixture_zip();
    {
        const char *d = make_dir("zip64");
        size_t zl;
        uint8_t *zb = build_zip(z.e, z.n, 1, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        char out[4200];
        snprintf(out, sizeof out, "%s/out.gguf", d);
        janus_error err;
        TU_CHECK(convert(d, out, "bf16", 0, 1, &err) == JANUS_OK, "zip64: %s", err.msg);
        TU_CHECK(gguf_same(out, ref_bf16), "zip64 re-pack converts to a different file");
        fprintf(stderr, "ok   zip64 archive converts identically\n");
    }
    {
        const char *d = make_dir("zip32");
        size_t zl;
        uint8_t *zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        char out[4200];
        snprintf(out, sizeof out, "%s/out.gguf", d);
        janus_error err;
        TU_CHECK(convert(d, out, "bf16", 0, 1, &err) == JANUS_OK, "zip32 repack: %s", err.msg);
        TU_CHECK(gguf_same(out, ref_bf16), "unaligned re-pack converts to a different file");
    }

    /* ---- 3. hostile and broken inputs ---- */
    size_t bin_len;
    char *bin = slurp(tu_fixture("janus-tiny-a/models/tiny-a/pytorch_model.bin"), &bin_len);
    {
        const size_t cuts[] = {0, 3, 100, bin_len / 2, bin_len - 23, bin_len - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "trunc-%zu", cuts[i]);
            const char *d = make_dir(name);
            put(d, "pytorch_model.bin", bin, cuts[i]);
            expect_bad(name, d, "pytorch_model.bin");
        }
    }
    {
        const char *d = make_dir("garbage");
        uint8_t g[4096];
        uint32_t s = 12345;
        for (size_t i = 0; i < sizeof g; i++) g[i] = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
        put(d, "pytorch_model.bin", g, sizeof g);
        expect_bad("garbage", d, "not a PyTorch zip");
        g[0] = 'P', g[1] = 'K', g[2] = 3, g[3] = 4;
        put(d, "pytorch_model.bin", g, sizeof g);
        expect_bad("garbage-pk", d, "end-of-central-directory");
    }
    {
        /* central directory entry pointing its local header past the end of the file */
        const char *d = make_dir("zip-offset");
        char *b = malloc(bin_len);
        memcpy(b, bin, bin_len);
        size_t eocd = bin_len - 22;
        while (eocd > 0 && memcmp(b + eocd, "PK\5\6", 4)) eocd--;
        uint32_t cd = (uint32_t)(uint8_t)b[eocd + 16] | ((uint32_t)(uint8_t)b[eocd + 17] << 8) |
                      ((uint32_t)(uint8_t)b[eocd + 18] << 16) | ((uint32_t)(uint8_t)b[eocd + 19] << 24);
        uint32_t bad = (uint32_t)bin_len + 1000;
        memcpy(b + cd + 42, &bad, 4);
        put(d, "pytorch_model.bin", b, bin_len);
        expect_bad("zip-offset", d, "outside the data area");
        /* central directory offset itself outside the file (torch always writes zip64 records: patch both) */
        memcpy(b, bin, bin_len);
        bad = 0x7ffffff0u;
        memcpy(b + eocd + 16, &bad, 4);
        size_t z64 = eocd;
        while (z64 > 0 && memcmp(b + z64, "PK\6\6", 4)) z64--;
        TU_CHECK(z64 > 0, "fixture has no zip64 end-of-central-directory record");
        uint64_t bad64 = 0x7ffffff0u;
        memcpy(b + z64 + 48, &bad64, 8);
        put(d, "pytorch_model.bin", b, bin_len);
        expect_bad("cd-offset", d, "central directory");
        /* a tensor's data entry longer than the file: size field enlarged */
        memcpy(b, bin, bin_len);
        size_t second = cd + 46 + (size_t)((uint8_t)b[cd + 28] | ((uint8_t)b[cd + 29] << 8)) +
                        (size_t)((uint8_t)b[cd + 30] | ((uint8_t)b[cd + 31] << 8));
        bad = 0x40000000u;
        memcpy(b + second + 20, &bad, 4);
        memcpy(b + second + 24, &bad, 4);
        put(d, "pytorch_model.bin", b, bin_len);
        expect_bad("entry-size", d, "runs past the data area");
        free(b);
    }
    {
        /* a pickle that would run posix.system("ls") under Python's unpickler */
        const char *d = make_dir("evil-pickle");
        static const uint8_t evil[] = "\x80\x02" "cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
        zent e[2] = {{"archive/data.pkl", evil, sizeof evil - 1, 0, 0}, {"archive/version", (const uint8_t *)"3\n", 2, 0, 0}};
        size_t zl;
        uint8_t *zb = build_zip(e, 2, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("evil-pickle", d, "data.pkl references global 'posix.system', which a weight file never needs; refusing");
        static const uint8_t evil2[] = "\x80\x02" "cbuiltins\neval\nX\x04\x00\x00\x00" "1+1\n\x85R.";
        e[0].data = evil2;
        e[0].len = sizeof evil2 - 1;
        zb = build_zip(e, 2, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("evil-eval", d, "global 'builtins.eval'");
        /* the real pickle with its first GLOBAL patched to os.system (same length, CRC fixed) */
        zent *pk = find_zent(&z, "/data.pkl");
        uint8_t *pb = malloc(pk->len);
        memcpy(pb, pk->data, pk->len);
        static const char ORIG[] = "ctorch._utils\n_rebuild_tensor_v2\n";
        static const char EVIL[] = "cos\nsystem______________________\n"; /* same length: 33 bytes */
        _Static_assert(sizeof ORIG == sizeof EVIL, "patch must keep the length");
        uint8_t *g = NULL;
        for (size_t i = 0; i + sizeof ORIG - 1 <= pk->len && !g; i++)
            if (!memcmp(pb + i, ORIG, sizeof ORIG - 1)) g = pb + i;
        TU_CHECK(g != NULL, "fixture pickle has no _rebuild_tensor_v2 GLOBAL");
        if (g) memcpy(g, EVIL, sizeof EVIL - 1);
        const uint8_t *saved = pk->data;
        pk->data = pb;
        zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("patched-global", d, "references global 'os.system_");
        /* data.pkl CRC mismatch */
        pk->data = saved;
        pk->bad_crc = 1;
        zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("pkl-crc", d, "CRC-32 mismatch");
        pk->bad_crc = 0;
        /* a deflated (method 8) storage entry */
        zent *st = find_zent(&z, "/data/0");
        st->method = 8;
        zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("deflated", d, "is compressed");
        st->method = 0;
        /* a storage entry missing */
        const char *nm = st->name;
        st->name = "pytorch_model/data/zzz";
        zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("missing-storage", d, "is missing from the zip");
        st->name = nm;
        /* a storage entry shorter than the tensor needs */
        size_t keep = st->len;
        st->len = keep / 2;
        zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("short-storage", d, "does not fit entry");
        st->len = keep;
        /* truncated pickle */
        keep = pk->len;
        pk->len = keep / 3;
        pk->bad_crc = 0;
        zb = build_zip(z.e, z.n, 0, &zl);
        put(d, "pytorch_model.bin", zb, zl);
        free(zb);
        expect_bad("short-pickle", d, "data.pkl");
        pk->len = keep;
        free(pb);
    }
    {
        uint64_t dl = safetensors_data_len();
        const char *d = make_dir("st-overlap");
        write_safetensors_patched(d, "aligner.layers.0.bias", "aligner.layers.2.bias", 0, 1);
        expect_bad("st-overlap", d, "overlap");
        d = make_dir("st-range");
        write_safetensors_patched(d, "aligner.layers.0.bias", "aligner.layers.2.bias", dl - 10, 0);
        expect_bad("st-range", d, "run past the end");
        d = make_dir("st-garbage");
        put(d, "model.safetensors", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
        expect_bad("st-header-len", d, "header length");
    }
    {
        size_t cl;
        char *cfg = slurp(tu_fixture("janus-tiny-a/models/tiny-a/config.json"), &cl);
        char *bad = replace_once(cfg, "\"num_hidden_layers\": 2,", "");
        const char *d = make_dir("cfg-missing");
        put(d, "config.json", bad, strlen(bad));
        put(d, "pytorch_model.bin", bin, bin_len);
        expect_bad("cfg-missing", d, "config.json: missing field language_config.num_hidden_layers");
        free(bad);
        bad = replace_once(cfg, "\"intermediate_size\": 172", "\"intermediate_size\": 160");
        d = make_dir("wrong-shape");
        put(d, "config.json", bad, strlen(bad));
        put(d, "pytorch_model.bin", bin, bin_len);
        expect_bad("wrong-shape", d,
                   "pytorch_model.bin: tensor language_model.model.layers.0.mlp.gate_proj.weight: got [172, 64], expected [160, 64]");
        free(bad);
        bad = replace_once(cfg, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
        d = make_dir("missing-tensor");
        put(d, "config.json", bad, strlen(bad));
        put(d, "pytorch_model.bin", bin, bin_len);
        expect_bad("missing-tensor", d, "tensor language_model.model.layers.2.self_attn.q_proj.weight is missing");
        free(bad);
        bad = replace_once(cfg, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
        d = make_dir("unknown-tensor");
        put(d, "config.json", bad, strlen(bad));
        put(d, "pytorch_model.bin", bin, bin_len);
        expect_bad("unknown-tensor", d, "unknown tensor language_model.model.layers.1.");
        free(bad);
        bad = replace_once(cfg, "\"projector_type\": \"mlp_gelu\"", "\"projector_type\": \"linear\"");
        d = make_dir("projector");
        put(d, "config.json", bad, strlen(bad));
        put(d, "pytorch_model.bin", bin, bin_len);
        expect_bad("projector", d, "only mlp_gelu is supported");
        free(bad);
        free(cfg);
        d = make_dir("no-weights");
        expect_bad("no-weights", d, "no weights found");
    }
    {
        /* GGUF whose tensor data runs past the end */
        size_t gl;
        char *gb = slurp(ref_bf16, &gl);
        char p[4200];
        snprintf(p, sizeof p, "%s/truncated.gguf", tmp);
        spit(p, gb, gl - 100);
        jn_error err = {0};
        jn_gguf *g = jn_gguf_open(p, &err);
        TU_CHECK(!g && err.code == JN_ERR_FORMAT, "truncated gguf opened (%s)", err.msg);
        fprintf(stderr, "ok   truncated gguf: %s\n", err.msg);
        jn_gguf_close(g);
        janus_error je;
        FILE *devnull = fopen("/dev/null", "w");
        TU_CHECK(janus_info(p, devnull, 0, &je) == JANUS_ERR_FORMAT, "janus_info on truncated gguf: %s", je.msg);
        fclose(devnull);
        if (have_cli) {
            char cmd[9000];
            snprintf(cmd, sizeof cmd, "'%s' info '%s' >/dev/null 2>&1", tu_janus_bin(), p);
            TU_CHECK(tu_system(cmd) == 3, "janus info on truncated gguf: exit != 3");
        }
        free(gb);
    }
    free(bin);
    for (size_t i = 0; i < z.n; i++) {
        free(z.bufs[i]);
        free((char *)z.e[i].name);
    }
    free(z.bufs);
    free(z.e);
    return TU_RESULT();
}
