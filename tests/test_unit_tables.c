// janus-test-libs: janus_static
/* tests/test_unit_tables.c — docs/gguf-format.md against the component tables: the key and tensor
 * sections between the "<!-- tables:... -->" markers must equal what the tables generate (every
 * key with type, default, range; every tensor pattern with its Janus-Pro-1B shape, dtype rule and
 * whether inference reads it). `test_unit_tables --write` regenerates those sections in place.
 * Also checks the tables themselves: no key or tensor is listed twice, every range is sane. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/convert.h"
#include "decoder/table.h"
#include "engine/io/json.h"
#include "testutil.h"
#include "vision/table.h"
#include "vq_tokenizer/table.h"

static const struct {
    const char *what;
    const jn_key_spec *keys;
    const size_t *n;
} TABLES[] = {
    {"api (general)", janus_general_keys, &janus_general_n_keys},
    {"decoder: LM", jn_lm_keys, &jn_lm_n_keys},
    {"vision: SigLIP + aligner", jn_vision_keys, &jn_vision_n_keys},
    {"vq_tokenizer: generation head", jn_gen_keys, &jn_gen_n_keys},
    {"vq_tokenizer: VQ decoder", jn_vq_keys, &jn_vq_n_keys},
    {"vision: image processor", jn_image_keys, &jn_image_n_keys},
    {"decoder: chat template and special tokens", jn_chat_keys, &jn_chat_n_keys},
    {"decoder: tokenizer", jn_tokenizer_keys, &jn_tokenizer_n_keys},
};
#define N_TABLES (sizeof TABLES / sizeof TABLES[0])

static void num(jn_buf *b, double v) {
    if (v == INFINITY) jn_buf_puts(b, "∞");
    else if (v == -INFINITY) jn_buf_puts(b, "−∞");
    else if (v == (double)(int64_t)v && fabs(v) >= 65536 && ((int64_t)v & ((int64_t)v - 1)) == 0)
        jn_buf_printf(b, "2^%d", (int)log2(v));
    else if (v + 1 == (double)(int64_t)(v + 1) && v + 1 >= 65536 && (((int64_t)v + 1) & (int64_t)v) == 0)
        jn_buf_printf(b, "2^%d − 1", (int)log2(v + 1));
    else jn_buf_printf(b, "%g", v);
}

static void key_rows(jn_buf *b) {
    jn_buf_puts(b, "| key | type | required / default | valid values | what |\n|---|---|---|---|---|\n");
    for (size_t t = 0; t < N_TABLES; t++) {
        jn_buf_printf(b, "| **%s** | | | | |\n", TABLES[t].what);
        for (size_t i = 0; i < *TABLES[t].n; i++) {
            const jn_key_spec *k = &TABLES[t].keys[i];
            char ty[32];
            jn_key_type_name(k, ty, sizeof ty);
            jn_buf_printf(b, "| `%s` | %s | ", k->key, ty);
            if (k->required) jn_buf_puts(b, "required");
            else if (k->field == JN_FIELD_NONE || k->type == JN_GGUF_STRING) jn_buf_puts(b, "optional");
            else if (k->type == JN_GGUF_BOOL) jn_buf_printf(b, "optional, %s", k->def ? "true" : "false");
            else {
                jn_buf_puts(b, "optional, ");
                num(b, k->def);
            }
            jn_buf_puts(b, " | ");
            int numeric = k->field != JN_FIELD_NONE && k->type != JN_GGUF_STRING;
            if (!numeric) jn_buf_puts(b, "");
            else if (k->type == JN_GGUF_BOOL) jn_buf_puts(b, k->lo > 0 ? "true" : "");
            else if (!isfinite(k->lo) && !isfinite(k->hi)) jn_buf_puts(b, "finite");
            else if (k->lo_open && !isfinite(k->hi)) {
                jn_buf_puts(b, "> ");
                num(b, k->lo);
            } else if (k->lo_open) {
                jn_buf_puts(b, "> ");
                num(b, k->lo);
                jn_buf_puts(b, ", ≤ ");
                num(b, k->hi);
            } else if (k->lo == k->hi) {
                num(b, k->lo);
            } else {
                num(b, k->lo);
                jn_buf_puts(b, " … ");
                num(b, k->hi);
            }
            jn_buf_printf(b, " | %s |\n", k->doc);
        }
    }
}

/* "vq.decoder.conv_blocks.0.res.1.conv1.weight" -> "vq.decoder.conv_blocks.{i}.res.{j}.conv1.weight" */
static void pattern_of(const char *name, char *out, size_t n) {
    static const char *const IDX[3] = {"{i}", "{j}", "{k}"};
    size_t o = 0;
    int which = 0;
    for (const char *p = name; *p && o + 4 < n;) {
        if ((p == name || p[-1] == '.') && *p >= '0' && *p <= '9') {
            while (*p >= '0' && *p <= '9') p++;
            const char *s = IDX[which < 3 ? which : 2];
            which++;
            memcpy(out + o, s, 3);
            o += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
}

typedef struct row {
    char pattern[80];
    jn_tensor_desc first;
    int count, same_shape;
} row;

static void shape_text(jn_buf *b, const jn_tensor_desc *d) {
    jn_buf_puts(b, "[");
    for (int i = 0; i < d->n_dims; i++) jn_buf_printf(b, "%s%lld", i ? ", " : "", (long long)d->shape[i]);
    jn_buf_puts(b, "]");
}

static const char *rule_name(jn_tensor_rule r) {
    switch (r) {
    case JN_TENSOR_F32: return "f32";
    case JN_TENSOR_QUANT: return "quant";
    case JN_TENSOR_MATRIX: return "matrix";
    default: return "float";
    }
}

/* The tensors of Janus-Pro-1B (its config.json), grouped by name pattern. */
static void tensor_rows(jn_buf *b, jn_tensor_list *l) {
    jn_lm_hparams lm = {.n_embd = 2048, .n_layer = 24, .n_head = 16, .n_kv_head = 16, .d_head = 128, .n_ff = 5632,
                        .n_vocab = 102400, .max_ctx = 16384, .rms_eps = 1e-6f, .rope_theta = 10000};
    jn_vision_hparams v = {.image_size = 384, .patch_size = 16, .width = 1024, .n_layer = 24, .n_head = 16,
                           .n_ff = 4096, .ln_eps = 1e-6f, .aligner_in = 1024, .aligner_out = 2048, .aligner_depth = 2};
    jn_gen_hparams g = {.n_embd = 2048, .codebook_size = 16384, .codebook_dim = 8, .head_embd = 2048,
                        .head_in = 2048, .aligner_depth = 2};
    jn_vq_hparams q = {.codebook_size = 16384, .codebook_dim = 8, .z_channels = 256, .ch = 128, .n_levels = 5,
                       .ch_mult = {1, 1, 2, 2, 4}, .num_res_blocks = 2, .n_groups = 32, .eps = 1e-6f, .l2_norm = 1};
    jn_error err = {0};
    jn_tensor_list_init(l, &err);
    jn_lm_tensors(&lm, NULL, &l->base);
    jn_vision_tensors(&v, NULL, &l->base);
    jn_gen_tensors(&g, NULL, &l->base);
    jn_vq_tensors(&q, NULL, &l->base);
    TU_CHECK(!l->base.failed, "enumerating tensors: %s", err.msg);
    row *rows = calloc(l->n, sizeof *rows);
    size_t nr = 0;
    for (size_t i = 0; i < l->n; i++) {
        char p[80];
        pattern_of(l->t[i].name, p, sizeof p);
        size_t r = 0;
        while (r < nr && strcmp(rows[r].pattern, p)) r++;
        if (r == nr) {
            snprintf(rows[nr].pattern, sizeof rows[nr].pattern, "%s", p);
            rows[nr].first = l->t[i];
            rows[nr].same_shape = 1;
            nr++;
        } else {
            const jn_tensor_desc *f = &rows[r].first;
            if (f->n_dims != l->t[i].n_dims || memcmp(f->shape, l->t[i].shape, sizeof f->shape)) rows[r].same_shape = 0;
            TU_CHECK(f->rule == l->t[i].rule && f->unused == l->t[i].unused, "%s: instances disagree on dtype/unused",
                     p);
        }
        rows[r].count++;
        for (size_t k = 0; k < i; k++) TU_CHECK(strcmp(l->t[k].name, l->t[i].name), "tensor %s listed twice", l->t[i].name);
    }
    size_t used = 0;
    for (size_t i = 0; i < l->n; i++) used += !l->t[i].unused;
    jn_buf_printf(b, "Janus-Pro-1B: %zu tensors, %zu of them read at inference.\n\n", l->n, used);
    jn_buf_puts(b, "| tensor | count | shape (1B) | dtype rule | read |\n|---|---|---|---|---|\n");
    for (size_t r = 0; r < nr; r++) {
        jn_buf_printf(b, "| `%s` | %d | ", rows[r].pattern, rows[r].count);
        if (rows[r].same_shape) shape_text(b, &rows[r].first);
        else jn_buf_puts(b, "by level");
        jn_buf_printf(b, " | %s | %s |\n", rule_name(rows[r].first.rule), rows[r].first.unused ? "no" : "yes");
    }
    free(rows);
}

/* Every tensor inference reads has a slot in the weights struct (one the loader fills). */
static int slot_add(jn_tensor_sink *s, const jn_tensor_desc *d, jn_weight **dst) {
    (void)s;
    TU_CHECK(d->unused || dst != NULL, "tensor %s is read at inference but has no weights slot", d->name);
    return 1;
}

static void check_slots(void) {
    jn_tensor_sink s = {slot_add, 0, NULL};
    jn_lm_hparams lm = {.n_embd = 64, .n_layer = 2, .n_head = 4, .n_kv_head = 4, .d_head = 16, .n_ff = 172,
                        .n_vocab = 1024, .max_ctx = 64};
    jn_lm_layer layers[2];
    jn_lm_weights lw = {.layers = layers};
    jn_lm_tensors(&lm, &lw, &s);
    jn_vision_hparams v = {.image_size = 384, .patch_size = 16, .width = 64, .n_layer = 2, .n_head = 4, .n_ff = 256,
                           .aligner_in = 64, .aligner_out = 64};
    jn_vision_block_weights blocks[2];
    jn_vision_weights vw = {.blocks = blocks, .n_blocks = 2};
    jn_vision_tensors(&v, &vw, &s);
    jn_gen_hparams g = {.n_embd = 64, .codebook_size = 512, .codebook_dim = 8, .head_embd = 64};
    jn_gen_weights gw;
    jn_gen_tensors(&g, &gw, &s);
    jn_vq_hparams q = {.codebook_size = 512, .codebook_dim = 8, .z_channels = 32, .ch = 32, .n_levels = 5,
                       .ch_mult = {1, 1, 2, 2, 4}, .num_res_blocks = 2, .n_groups = 32};
    jn_vq_weights qw;
    jn_vq_tensors(&q, &qw, &s);
}

/* Replaces (write) or compares the text between "<!-- tables:NAME -->" and "<!-- /tables:NAME -->". */
static char *section(char *doc, const char *name, const char *want, int write, int *ok) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<!-- tables:%s -->\n", name);
    snprintf(close, sizeof close, "<!-- /tables:%s -->", name);
    char *a = strstr(doc, open), *z = a ? strstr(a, close) : NULL;
    if (!a || !z) {
        fprintf(stderr, "FAIL docs/gguf-format.md has no %s ... %s section\n", open, close);
        *ok = 0;
        return doc;
    }
    a += strlen(open);
    size_t have = (size_t)(z - a), wl = strlen(want);
    if (have == wl && !memcmp(a, want, wl)) return doc;
    if (!write) {
        size_t d = 0;
        while (d < have && d < wl && a[d] == want[d]) d++;
        size_t ls = d;
        while (ls > 0 && want[ls - 1] != '\n') ls--;
        const char *e = strchr(want + ls, '\n');
        const char *g = memchr(a + ls, '\n', have - ls);
        fprintf(stderr, "FAIL docs/gguf-format.md section '%s' differs from the tables (run test_unit_tables --write)\n"
                        "  doc:    %.*s\n  tables: %.*s\n",
                name, g ? (int)(g - (a + ls)) : (int)(have - ls), a + ls, e ? (int)(e - (want + ls)) : (int)(wl - ls),
                want + ls);
        *ok = 0;
        return doc;
    }
    size_t pre = (size_t)(a - doc), post = strlen(z);
    char *n = malloc(pre + wl + post + 1);
    memcpy(n, doc, pre);
    memcpy(n + pre, want, wl);
    memcpy(n + pre + wl, z, post + 1);
    free(doc);
    return n;
}

int main(int argc, char **argv) {
    int write = argc > 1 && !strcmp(argv[1], "--write");
    /* the tables are consistent */
    for (size_t t = 0; t < N_TABLES; t++)
        for (size_t i = 0; i < *TABLES[t].n; i++) {
            const jn_key_spec *k = &TABLES[t].keys[i];
            TU_CHECK(k->doc && *k->doc, "%s has no description", k->key);
            TU_CHECK(!(k->lo > k->hi), "%s: empty range", k->key);
            TU_CHECK(k->required || k->field == JN_FIELD_NONE || k->type == JN_GGUF_STRING || k->type == JN_GGUF_BOOL ||
                         (k->def >= k->lo && k->def <= k->hi && (!k->lo_open || k->def > k->lo)),
                     "%s: default outside its range", k->key);
            for (size_t u = 0; u < N_TABLES; u++)
                for (size_t j = 0; j < *TABLES[u].n; j++)
                    if (u != t || j != i) TU_CHECK(strcmp(k->key, TABLES[u].keys[j].key), "key %s listed twice", k->key);
        }
    check_slots();
    jn_buf keys = {0}, tens = {0};
    key_rows(&keys);
    jn_tensor_list l;
    tensor_rows(&tens, &l);
    jn_buf_append(&keys, "", 1);
    jn_buf_append(&tens, "", 1);
    char path[4096];
    const char *src = getenv("JANUS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/docs/gguf-format.md", src ? src : ".");
    size_t len;
    char *doc = tu_read_file(path, &len);
    TU_CHECK(doc != NULL, "cannot read %s", path);
    if (doc) {
        int ok = 1;
        doc = section(doc, "keys", keys.data, write, &ok);
        doc = section(doc, "tensors", tens.data, write, &ok);
        if (!ok) tu_failures++;
        if (write && ok) {
            FILE *f = fopen(path, "wb");
            TU_CHECK(f && fwrite(doc, 1, strlen(doc), f) == strlen(doc) && fclose(f) == 0, "writing %s", path);
            fprintf(stderr, "wrote %s\n", path);
        } else if (ok) {
            fprintf(stderr, "ok   docs/gguf-format.md lists every key and tensor of the tables\n");
        }
        free(doc);
    }
    jn_buf_free(&keys);
    jn_buf_free(&tens);
    jn_tensor_list_free(&l);
    return TU_RESULT();
}
