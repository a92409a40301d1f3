// janus-test-libs: janus_static
/* tests/test_unit_values.c — metadata values are checked at load against the component tables'
 * ranges (issue: every float finite and in range, naming the key and the file, JN_ERR_FORMAT),
 * and the converter refuses the same bad values in the JSON files before writing anything.
 *
 * Bad files are made by converting tiny-a once and patching one value in place: a GGUF key/value
 * is u64 key length, the key, u32 type, then the value (arrays: u32 element type, u64 count,
 * elements), so the bytes after the key are easy to find and overwrite. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/janus.h"
#include "testutil.h"

static char *base_file;
static size_t base_len;
static const char *tmpdir;

/* Offset of the value of key (element elem of an array) in buf; aborts the test if absent. */
static size_t value_at(const char *key, uint32_t want_type, size_t elem, size_t elem_size) {
    size_t kl = strlen(key);
    for (size_t i = 8; i + kl + 4 < base_len; i++) {
        uint64_t len;
        memcpy(&len, base_file + i - 8, 8);
        if (len != kl || memcmp(base_file + i, key, kl)) continue;
        uint32_t ty;
        memcpy(&ty, base_file + i + kl, 4);
        size_t off = i + kl + 4;
        if (ty == 9) { /* array: element type + count */
            memcpy(&ty, base_file + off, 4);
            off += 12 + elem * elem_size;
        }
        if (ty != want_type) {
            fprintf(stderr, "FAIL %s has type %u, expected %u\n", key, ty, want_type);
            exit(1);
        }
        return off;
    }
    fprintf(stderr, "FAIL key %s not found in the converted file\n", key);
    exit(1);
}

/* Writes a copy of the converted file with the value patched and checks the load error. */
static void expect_bad(const char *label, const char *key, uint32_t type, size_t elem, const void *val, size_t size,
                       const char *want) {
    char *copy = malloc(base_len);
    memcpy(copy, base_file, base_len);
    size_t off = value_at(key, type, elem, size);
    memcpy(copy + off, val, size);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.gguf", tmpdir, label);
    FILE *f = fopen(path, "wb");
    fwrite(copy, 1, base_len, f);
    fclose(f);
    free(copy);
    janus_error err;
    memset(&err, 0, sizeof err);
    janus_load_params lp = janus_load_default_params();
    janus_model *m = janus_model_load(path, &lp, &err);
    TU_CHECK(!m && err.code == JANUS_ERR_FORMAT, "%s: loaded (or code %d): %s", label, err.code, err.msg);
    TU_CHECK(strstr(err.msg, key) && strstr(err.msg, path), "%s: message does not name the key and the file: %s", label,
             err.msg);
    TU_CHECK(strstr(err.msg, want), "%s: message lacks '%s': %s", label, want, err.msg);
    if (m) janus_model_free(m);
    else fprintf(stderr, "ok   %s: %s\n", label, err.msg);
    unlink(path);
}

static void f32_bad(const char *label, const char *key, float v, const char *want) {
    expect_bad(label, key, 6, 0, &v, 4, want);
}

static int convert(const char *dir, const char *out, janus_error *err) {
    janus_convert_params p = janus_convert_default_params();
    p.model_dir = dir;
    p.out_path = out;
    p.force = 1;
    return janus_convert(&p, err);
}

/* A copy of tiny-a (weights linked) with one JSON file edited: from -> to. */
static void expect_convert_bad(const char *label, const char *file, const char *from, const char *to, const char *want) {
    char dir[4200], cmd[20000];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, label);
    const char *src = tu_fixture("janus-tiny-a/models/tiny-a");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s'/*.json '%s'/ && ln -s '%s/pytorch_model.bin' '%s/'",
             dir, dir, src, dir, src, dir);
    TU_CHECK(tu_system(cmd) == 0, "%s: setup", label);
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    size_t n;
    char *t = tu_read_file(p, &n);
    char *at = t ? strstr(t, from) : NULL;
    TU_CHECK(at != NULL, "%s: '%s' not in %s", label, from, file);
    if (!at) return;
    FILE *f = fopen(p, "wb");
    fwrite(t, 1, (size_t)(at - t), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(t);
    char out[4400];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    janus_error err;
    int rc = convert(dir, out, &err);
    TU_CHECK(rc == JANUS_ERR_FORMAT && strstr(err.msg, want), "%s: convert %d: %s (want '%s')", label, rc, err.msg, want);
    TU_CHECK(access(out, F_OK) != 0, "%s: output written", label);
    if (rc == JANUS_ERR_FORMAT) fprintf(stderr, "ok   convert %s: %s\n", label, err.msg);
}

int main(void) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_tmp("values"));
    mkdir(dir, 0755);
    tmpdir = dir;
    char good[4200];
    snprintf(good, sizeof good, "%s/tiny.gguf", dir);
    janus_error err;
    TU_CHECK(convert(tu_fixture("janus-tiny-a/models/tiny-a"), good, &err) == JANUS_OK, "convert: %s", err.msg);
    base_file = tu_read_file(good, &base_len);
    TU_CHECK(base_file != NULL, "read %s", good);
    if (!base_file) return TU_RESULT();
    {
        janus_load_params lp = janus_load_default_params();
        janus_model *m = janus_model_load(good, &lp, &err);
        TU_CHECK(m != NULL, "the unpatched file loads: %s", err.msg);
        janus_model_free(m);
    }
    f32_bad("rope-negative", "janus.lm.rope_theta", -1.0f, "must be > 0");
    f32_bad("rope-nan", "janus.lm.rope_theta", NAN, "nan");
    f32_bad("rope-inf", "janus.lm.rope_theta", INFINITY, "inf");
    f32_bad("rms-zero", "janus.lm.rms_eps", 0.0f, "must be > 0");
    f32_bad("ln-eps-inf", "janus.vision.ln_eps", INFINITY, "janus.vision.ln_eps");
    f32_bad("vq-eps-negative", "janus.vq.norm_eps", -1e-6f, "must be > 0");
    {
        float zero = 0, nan = NAN;
        expect_bad("std-zero", "janus.image.std", 6, 1, &zero, 4, "'janus.image.std'[1] = 0 must be > 0");
        expect_bad("mean-nan", "janus.image.mean", 6, 2, &nan, 4, "must be a finite number");
        double r0 = 0, rn = -1.0 / 255;
        expect_bad("rescale-zero", "janus.image.rescale_factor", 12, 0, &r0, 8, "must be > 0");
        expect_bad("rescale-negative", "janus.image.rescale_factor", 12, 0, &rn, 8, "must be > 0");
        uint32_t z = 0, big = 300, three = 3, eos = 5000;
        expect_bad("min-size-zero", "janus.image.min_size", 4, 0, &z, 4, "must be in [1, 8192]");
        expect_bad("background-300", "janus.image.background_color", 4, 0, &big, 4, "[0] = 300");
        expect_bad("ch-mult-zero", "janus.vq.ch_mult", 4, 3, &z, 4, "janus.vq.ch_mult'[3] = 0");
        expect_bad("aligner-depth-3", "janus.aligner.depth", 4, 0, &three, 4, "= 3 must be 2");
        expect_bad("gen-aligner-depth-3", "janus.gen_aligner.depth", 4, 0, &three, 4, "= 3");
        expect_bad("n-head-zero", "janus.lm.n_head", 4, 0, &z, 4, "janus.lm.n_head' = 0");
        expect_bad("eos-outside-vocab", "janus.token.eos", 4, 0, &eos, 4, "outside the vocabulary");
        uint8_t no = 0;
        expect_bad("do-normalize-false", "janus.image.do_normalize", 7, 0, &no, 1, "must be true");
    }
    /* the converter checks the same ranges on the JSON values */
    expect_convert_bad("cfg-std-zero", "preprocessor_config.json", "\"image_std\": [\n    0.5", "\"image_std\": [\n    0",
                       "'janus.image.std'[0] = 0 must be > 0");
    expect_convert_bad("cfg-rope-negative", "config.json", "\"max_position_embeddings\": 16384,",
                       "\"max_position_embeddings\": 16384, \"rope_theta\": -5,", "'janus.lm.rope_theta' = -5 must be > 0");
    expect_convert_bad("cfg-rescale-zero", "preprocessor_config.json", "\"rescale_factor\": 0.00392156862745098",
                       "\"rescale_factor\": 0", "'janus.image.rescale_factor' = 0 must be > 0");
    expect_convert_bad("cfg-min-size-zero", "preprocessor_config.json", "\"min_size\": 14", "\"min_size\": 0",
                       "min_size must be an integer in [1, 16384]");
    /* the CLI: exit 3, the message on stderr */
    if (access(tu_janus_bin(), X_OK) == 0) {
        char *copy = malloc(base_len);
        memcpy(copy, base_file, base_len);
        float v = -2;
        memcpy(copy + value_at("janus.lm.rope_theta", 6, 0, 4), &v, 4);
        char path[4200], cmd[20000], errf[4300];
        snprintf(path, sizeof path, "%s/cli-bad.gguf", dir);
        snprintf(errf, sizeof errf, "%s/cli-err.txt", dir);
        FILE *f = fopen(path, "wb");
        fwrite(copy, 1, base_len, f);
        fclose(f);
        free(copy);
        snprintf(cmd, sizeof cmd, "'%s' generate -m '%s' -o '%s/x.png' 'a cat' 2>'%s' >/dev/null", tu_janus_bin(), path,
                 dir, errf);
        int ec = tu_system(cmd);
        size_t n;
        char *e = tu_read_file(errf, &n);
        TU_CHECK(ec == 3 && e && strstr(e, "janus.lm.rope_theta"), "CLI exit %d, stderr: %s", ec, e ? e : "");
        snprintf(cmd, sizeof cmd, "%s/x.png", dir);
        TU_CHECK(access(cmd, F_OK) != 0, "CLI wrote an output for a bad model");
        if (ec == 3) fprintf(stderr, "ok   CLI: exit 3: %s", e);
        free(e);
    }
    free(base_file);
    return TU_RESULT();
}
