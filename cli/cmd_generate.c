/* cli/cmd_generate.c — `janus generate` (text to image) and `janus decode` (ids to image). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tokens_file.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: janus generate -m MODEL.gguf [options] \"prompt\"\n\n"
            "Generates 384x384 images from a text prompt (classifier-free guidance, 576 image tokens).\n\n"
            "  -m, --model FILE        converted model (janus convert)\n"
            "  -o, --output FILE       output .png or .jpg; %%d is replaced by the image index [out-%%d.png]\n"
            "  -n, --n-images N        images generated together in one batch [1]\n"
            "      --cfg W             guidance weight [5]\n"
            "      --temp T            sampling temperature (> 0) [1]\n"
            "      --top-k K           keep the K most likely codes (0 = off, as official) [0]\n"
            "      --top-p P           nucleus sampling (1 = off, as official) [1]\n"
            "  -s, --seed S            seed; image i depends only on (seed, i) [42]\n"
            "      --quality Q         JPEG quality [95]\n"
            "      --force             overwrite existing output files\n"
            "      --teacher-tokens F  feed these 576 ids instead of sampling\n"
            "      --dump DIR          write intermediates (.npy, .json)\n"
            "  -t, --threads N         CPU threads [all cores]\n"
            "      --backend NAME      cpu or cuda [cpu]\n"
            "  -v, --verbose           log parameters and timings\n");
}

static void help_decode(FILE *f) {
    fprintf(f,
            "usage: janus decode -m MODEL.gguf --tokens FILE -o OUT.png [--force] [-t N] [--backend NAME]\n\n"
            "VQ-decodes image token ids (576 per image, whitespace separated) into 384x384 images.\n"
            "With several images in FILE, OUT should contain %%d.\n");
}

/* Output path for image i: printf-style %d substitution when present. */
static void output_path(char *buf, size_t n, const char *pattern, int i, int n_images) {
    const char *pct = strstr(pattern, "%d");
    if (pct) {
        snprintf(buf, n, "%.*s%d%s", (int)(pct - pattern), pattern, i, pct + 2);
    } else if (n_images > 1) {
        const char *dot = strrchr(pattern, '.');
        if (dot && !strchr(dot, '/'))
            snprintf(buf, n, "%.*s-%d%s", (int)(dot - pattern), pattern, i, dot);
        else
            snprintf(buf, n, "%s-%d", pattern, i);
    } else {
        snprintf(buf, n, "%s", pattern);
    }
}

static int check_outputs(const char *cmd, const char *pattern, int n, int force) {
    for (int i = 0; i < n; i++) {
        char path[4096];
        output_path(path, sizeof path, pattern, i, n);
        const char *dot = strrchr(path, '.');
        if (!dot || (strcmp(dot, ".png") && strcmp(dot, ".PNG") && strcmp(dot, ".jpg") && strcmp(dot, ".jpeg") &&
                     strcmp(dot, ".JPG") && strcmp(dot, ".JPEG")))
            return cli_usage_error(cmd, "output %s must end in .png, .jpg or .jpeg", path);
        if (!force && access(path, F_OK) == 0) {
            fprintf(stderr, "janus %s: %s already exists (use --force to overwrite)\n", cmd, path);
            return 2; /* a usage error, as janus convert and janus_image_write report it */
        }
    }
    return 0;
}

static int write_images(const char *cmd, const janus_image *imgs, int n, const char *pattern, const char *const *kv,
                        int n_kv, int force, int quality) {
    janus_error err = {0};
    for (int i = 0; i < n; i++) {
        char path[4096];
        output_path(path, sizeof path, pattern, i, n);
        if (janus_image_write(&imgs[i], path, kv, n_kv, force, quality, &err)) return cli_fail(cmd, &err);
        printf("%s\n", path);
    }
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *out = "out-%d.png", *backend = "cpu", *teacher = NULL;
    long threads = 0, lv, quality = 95;
    int force = 0, verbose = 0;
    janus_gen_params gp = janus_gen_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) return cli_usage_error("generate", "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED(); out = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-images")) { NEED(); if (cli_parse_int(v, &lv) || lv < 1 || lv > 256) return cli_usage_error("generate", "-n needs an integer 1..256, got '%s'", v); gp.n_images = (int)lv; }
        else if (!strcmp(a, "--cfg")) { NEED(); if (cli_parse_float(v, &gp.cfg)) return cli_usage_error("generate", "--cfg needs a number, got '%s'", v); }
        else if (!strcmp(a, "--temp")) { NEED(); if (cli_parse_float(v, &gp.temperature) || gp.temperature <= 0) return cli_usage_error("generate", "--temp needs a number > 0, got '%s'", v); }
        else if (!strcmp(a, "--top-k")) { NEED(); if (cli_parse_int(v, &lv) || lv < 0) return cli_usage_error("generate", "--top-k needs an integer >= 0, got '%s'", v); gp.top_k = (int)lv; }
        else if (!strcmp(a, "--top-p")) { NEED(); if (cli_parse_float(v, &gp.top_p) || gp.top_p <= 0 || gp.top_p > 1) return cli_usage_error("generate", "--top-p needs a number in (0, 1], got '%s'", v); }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) { NEED(); if (cli_parse_u64(v, &gp.seed)) return cli_usage_error("generate", "--seed needs a non-negative integer, got '%s'", v); }
        else if (!strcmp(a, "--quality")) { NEED(); if (cli_parse_int(v, &quality) || quality < 1 || quality > 100) return cli_usage_error("generate", "--quality needs 1..100, got '%s'", v); }
        else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--teacher-tokens")) { NEED(); teacher = v; }
        else if (!strcmp(a, "--dump")) { NEED(); gp.dump_dir = v; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { NEED(); if (cli_parse_int(v, &threads) || threads < 1 || threads > 1024) return cli_usage_error("generate", "--threads needs a positive integer, got '%s'", v); }
        else if (!strcmp(a, "--backend")) { NEED(); backend = v; }
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("generate", "unknown option '%s'", a);
        else if (!prompt) prompt = a;
        else return cli_usage_error("generate", "more than one prompt given ('%s'); quote the prompt", a);
#undef NEED
    }
    if (!model) return cli_usage_error("generate", "no model given (-m MODEL.gguf)");
    if (!prompt) return cli_usage_error("generate", "no prompt given");
    int rc = check_outputs("generate", out, gp.n_images, force);
    if (rc) return rc;
    int32_t *teacher_ids = NULL;
    if (teacher) {
        size_t n = 0;
        char msg[512];
        int r = cli_read_token_file(teacher, &teacher_ids, &n, msg, sizeof msg);
        if (r) { fprintf(stderr, "janus generate: %s\n", msg); return 3; }
        if (n != 576) { free(teacher_ids); fprintf(stderr, "janus generate: %s has %zu ids, expected 576\n", teacher, n); return 3; }
        gp.teacher_tokens = teacher_ids;
    }
    janus_error err = {0};
    janus_load_params lp = janus_load_default_params();
    lp.backend = backend;
    lp.n_threads = (int)threads;
    lp.verbose = verbose;
    janus_model *m = janus_model_load(model, &lp, &err);
    if (!m) { free(teacher_ids); return cli_fail("generate", &err); }
    gp.prompt = prompt;
    gp.progress = cli_progress;
    fprintf(stderr, "janus generate: seed %llu, cfg %g, temperature %g, %d image(s)\n", (unsigned long long)gp.seed,
            (double)gp.cfg, (double)gp.temperature, gp.n_images);
    janus_image *imgs = NULL;
    int st = janus_generate(m, &gp, &imgs, NULL, &err);
    free(teacher_ids);
    if (st) {
        janus_model_free(m);
        if (st == JANUS_ERR_USAGE && teacher && strstr(err.msg, "teacher token")) { /* bad input file */
            fprintf(stderr, "janus generate: %s: %s\n", teacher, err.msg);
            return 3;
        }
        return cli_fail("generate", &err);
    }
    char seed[32], cfg[32], temp[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)gp.seed);
    snprintf(cfg, sizeof cfg, "%g", (double)gp.cfg);
    snprintf(temp, sizeof temp, "%g", (double)gp.temperature);
    const char *kv[] = {"prompt", prompt, "seed", seed, "cfg", cfg, "temperature", temp, "model", janus_model_name(m),
                        "software", "janus.c " JANUS_VERSION_STRING};
    rc = write_images("generate", imgs, gp.n_images, out, kv, 6, force, (int)quality);
    janus_images_free(imgs, gp.n_images);
    janus_model_free(m);
    return rc;
}

int cmd_decode(int argc, char **argv) {
    const char *model = NULL, *tokens = NULL, *out = NULL, *backend = "cpu";
    long threads = 0;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) return cli_usage_error("decode", "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help_decode(stdout); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "--tokens")) { NEED(); tokens = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED(); out = v; }
        else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { NEED(); if (cli_parse_int(v, &threads) || threads < 1 || threads > 1024) return cli_usage_error("decode", "--threads needs a positive integer, got '%s'", v); }
        else if (!strcmp(a, "--backend")) { NEED(); backend = v; }
        else return cli_usage_error("decode", "unexpected argument '%s'", a);
#undef NEED
    }
    if (!model || !tokens || !out) return cli_usage_error("decode", "needs -m MODEL, --tokens FILE and -o OUT");
    int32_t *ids = NULL;
    size_t n = 0;
    char msg[512];
    int r = cli_read_token_file(tokens, &ids, &n, msg, sizeof msg);
    if (r) { fprintf(stderr, "janus decode: %s\n", msg); return 3; }
    if (n == 0 || n % 576) { free(ids); fprintf(stderr, "janus decode: %s has %zu ids, expected a multiple of 576\n", tokens, n); return 3; }
    int n_images = (int)(n / 576);
    int rc = check_outputs("decode", out, n_images, force);
    if (rc) { free(ids); return rc; }
    janus_error err = {0};
    janus_load_params lp = janus_load_default_params();
    lp.backend = backend;
    lp.n_threads = (int)threads;
    janus_model *m = janus_model_load(model, &lp, &err);
    if (!m) { free(ids); return cli_fail("decode", &err); }
    janus_image *imgs = NULL;
    int st = janus_decode_tokens(m, ids, n_images, &imgs, &err);
    free(ids);
    if (st) {
        janus_model_free(m);
        if (st == JANUS_ERR_USAGE) { /* an id outside the codebook: the token file is bad input */
            fprintf(stderr, "janus decode: %s: %s\n", tokens, err.msg);
            return 3;
        }
        return cli_fail("decode", &err);
    }
    const char *kv[] = {"model", janus_model_name(m), "software", "janus.c " JANUS_VERSION_STRING};
    rc = write_images("decode", imgs, n_images, out, kv, 2, force, 95);
    janus_images_free(imgs, n_images);
    janus_model_free(m);
    return rc;
}
