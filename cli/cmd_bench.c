/* cli/cmd_bench.c — `janus bench -m MODEL`: speed and memory of both pipelines. Prints a table
 * on stderr and one JSON line on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: janus bench -m MODEL.gguf [options]\n\n"
            "Times image encoding (SigLIP + aligner), text prefill and decode, the image-generation\n"
            "step loop with CFG and the VQ decoder. Random inputs: use a full-size random-weight\n"
            "checkpoint (bench/make_random_checkpoint.py) to measure what a real model costs.\n\n"
            "  -m, --model FILE     converted model\n"
            "  -n, --n-images N     images in the generation batch (2N CFG rows) [1]\n"
            "      --steps K        image-token steps to time (extrapolated to 576) [576]\n"
            "      --prefill T      prompt tokens for the text prefill [600]\n"
            "      --decode D       text tokens to decode [32]\n"
            "      --only LIST      comma list of vision,text,gen,vq [all]\n"
            "  -t, --threads N      CPU threads [all cores]\n"
            "      --backend NAME   auto (CUDA when built and a GPU answers, else CPU), cpu or cuda [auto]\n"
            "      --kv-type T      K/V cache elements: f16, q8_0, bf16 or f32 [f16]\n"
            "  -q, --quiet          no progress\n");
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *only = NULL;
    long lv;
    cli_common c;
    cli_common_init(&c);
    janus_bench_params bp = janus_bench_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) return cli_usage_error("bench", "%s needs a value", a); i++; } while (0)
#define INTARG(dst, lo, hi) do { NEED(); if (cli_parse_int(v, &lv) || lv < (lo) || lv > (hi)) return cli_usage_error("bench", "%s needs an integer in [%d, %d], got '%s'", a, lo, hi, v); dst = (int)lv; } while (0)
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); return 0; }
        else if ((k = cli_common_opt(&c, "bench", argc, argv, &i)) < 0) return -k;
        else if (k) continue;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-images")) INTARG(bp.gen_images, 1, 256);
        else if (!strcmp(a, "--steps")) INTARG(bp.gen_steps, 2, 576);
        else if (!strcmp(a, "--prefill")) INTARG(bp.prefill_tokens, 1, 16000);
        else if (!strcmp(a, "--decode")) INTARG(bp.decode_tokens, 1, 4096);
        else if (!strcmp(a, "--only")) { NEED(); only = v; }
        else return cli_usage_error("bench", "unexpected argument '%s'", a);
#undef INTARG
#undef NEED
    }
    if (!model) return cli_usage_error("bench", "no model given (-m MODEL.gguf)");
    if (only) { /* exact comma-separated names */
        int want[4] = {0, 0, 0, 0};
        static const char *names[4] = {"vision", "text", "gen", "vq"};
        for (const char *p = only; *p;) {
            size_t n = strcspn(p, ",");
            int k = -1;
            for (int j = 0; j < 4; j++)
                if (n == strlen(names[j]) && !strncmp(p, names[j], n)) k = j;
            if (k < 0) return cli_usage_error("bench", "--only takes a comma list of vision, text, gen, vq; got '%s'", only);
            want[k] = 1;
            p += n + (p[n] == ',');
        }
        bp.vision = want[0];
        bp.text = want[1];
        if (!want[2]) bp.gen_images = 0;
        bp.vq = want[3];
    }
    janus_error err = {0};
    janus_model *m = cli_load_model("bench", model, &c, &err);
    if (!m) return cli_fail("bench", &err);
    if (!c.quiet) bp.progress = cli_progress;
    janus_bench_result r;
    int st = janus_bench(m, &bp, &r, &err);
    janus_model_free(m);
    if (st) return cli_fail("bench", &err);
    const char *backend = c.backend_used;
    long threads = c.threads;
    fprintf(stderr, "model %s, backend %s, threads %ld\n", model, backend, threads);
    if (bp.vision) fprintf(stderr, "  image encode (SigLIP + aligner): %.3f s\n", r.vision_s);
    if (bp.text) fprintf(stderr, "  text prefill: %.1f tok/s (%d tokens)\n  text decode:  %.2f tok/s\n", r.prefill_tok_per_s, bp.prefill_tokens, r.decode_tok_per_s);
    if (bp.vq) fprintf(stderr, "  VQ decode: %.3f s per image\n", r.vq_decode_s);
    if (bp.gen_images)
        fprintf(stderr, "  generation n=%d: prefill %.3f s, %.4f s/step (%.2f image tokens/s per image), %.1f s per image\n",
                bp.gen_images, r.gen_prefill_s, r.gen_step_s, r.gen_step_s > 0 ? 1.0 / r.gen_step_s : 0, r.gen_image_s);
    fprintf(stderr, "  peak RSS: %.1f MiB\n", (double)r.peak_rss_bytes / 1048576.0);
    /* the model path as a JSON string (escape quotes, backslashes and control characters) */
    char model_json[4096];
    size_t o = 0;
    for (const char *c = model; *c && o + 8 < sizeof model_json; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '"' || ch == '\\') { model_json[o++] = '\\'; model_json[o++] = (char)ch; }
        else if (ch < 0x20) o += (size_t)snprintf(model_json + o, sizeof model_json - o, "\\u%04x", ch);
        else model_json[o++] = (char)ch;
    }
    model_json[o] = 0;
    printf("{\"model\":\"%s\",\"backend\":\"%s\",\"threads\":%ld,\"vision_s\":%.4f,\"prefill_tok_per_s\":%.2f,"
           "\"decode_tok_per_s\":%.3f,\"vq_decode_s\":%.4f,\"gen_images\":%d,\"gen_prefill_s\":%.4f,\"gen_step_s\":%.5f,"
           "\"gen_image_s\":%.3f,\"peak_rss_mib\":%.1f}\n",
           model_json, backend, threads, r.vision_s, r.prefill_tok_per_s, r.decode_tok_per_s, r.vq_decode_s, bp.gen_images,
           r.gen_prefill_s, r.gen_step_s, r.gen_image_s, (double)r.peak_rss_bytes / 1048576.0);
    return 0;
}
