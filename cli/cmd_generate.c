/* cli/cmd_generate.c — `janus generate` (text to image) and `janus decode` (ids to image).
 *
 * generate runs every prompt (one, or a --prompt-file) on one session: the images to make are
 * units (prompt p, image index k); consecutive units of one prompt form a request of up to
 * --batch images, and requests share one batched forward per step (janus_gen_batch), joining as
 * rows free up. A request's images depend only on (prompt, seed, image index), so a batch gives
 * exactly what separate runs give, and --index K is image K of a batch (janus_gen_params.first_index).
 * Each image is VQ-decoded and written as soon as its request finishes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "cli.h"
#include "tokens_file.h"

enum { GEN_STEPS = 576, GEN_SIZE = 384 };

static void help(FILE *f) {
    fprintf(f,
            "usage: janus generate -m MODEL.gguf [options] \"prompt\"\n"
            "       janus generate -m MODEL.gguf --prompt-file PROMPTS.txt [options]\n\n"
            "Generates 384x384 images from a text prompt (classifier-free guidance, 576 image tokens).\n\n"
            "  -m, --model FILE          converted model (janus convert)\n"
            "  -p, --prompt TEXT         the prompt (instead of the positional argument)\n"
            "      --prompt-file FILE    one prompt per line ('-': stdin; blank lines skipped); all run in\n"
            "                            one process, batched together\n"
            "  -o, --output NAME         .png or .jpg; %%d (or %%03d) = image index, %%p (or %%03p) = prompt\n"
            "                            number (0-based) [out-N.png with N the next free number]\n"
            "  -n, --n-images N          images per prompt [1]\n"
            "      --index K             only image K of the N (pixel-identical to that image of the batch)\n"
            "      --batch B             images generated together in one forward (2 LM rows each) [max(N, 4)]\n"
            "      --cfg, --cfg-scale W  guidance weight [5]\n"
            "      --negative-prompt T   the unconditional row is this text instead of pad tokens (an\n"
            "                            extension; no short flag: sd.cpp's -n is our image count)\n"
            "      --temp T              sampling temperature (> 0) [1]\n"
            "      --top-k K             keep the K most likely codes (0 = off, as official) [0]\n"
            "      --top-p P             nucleus sampling (1 = off, as official) [1]\n"
            "  -s, --seed S              seed; image i depends only on (seed, i); -1 = random, printed and\n"
            "                            stored in the file [42]\n"
            "      --quality Q           JPEG quality [95]\n"
            "      --force               overwrite existing output files\n"
            "      --json                one JSON object per image on stdout (path, seed, index, timings)\n"
            "      --teacher-tokens F    feed these 576 ids instead of sampling\n"
            "      --dump DIR            write intermediates (.npy, .json); one prompt only\n"
            "  -t, --threads N           CPU threads [all cores]\n"
            "      --backend NAME        auto (CUDA when built and a GPU answers, else CPU), cpu or cuda [auto]\n"
            "      --kv-type T           K/V cache elements: f16 (half the memory and attention bandwidth),\n"
            "                            q8_0 (0.53x f16: large batches; cpu only), bf16, or f32 (the\n"
            "                            official code's exact cache) [f16]\n"
            "      --mem-limit SIZE      refuse, with the numbers and the largest -n that fits, a batch whose\n"
            "                            K/V cache and buffers exceed SIZE (e.g. 6G) [available memory]\n"
            "  -v, --verbose             parameters and per-phase timings\n"
            "  -q, --quiet               no progress and no summary line\n"
            "  --                        end of options\n\n"
            "stdout: one line per image, as it is written: PATH<TAB>seed=S<TAB>index=K (and prompt=P).\n"
            "Janus-Pro makes 384x384 images in exactly 576 token steps, from text only: there is no\n"
            "--steps, --width/--height, img2img or sampler choice.\n");
}

static void help_decode(FILE *f) {
    fprintf(f,
            "usage: janus decode -m MODEL.gguf --tokens FILE -o OUT.png [--force] [-t N] [--backend NAME] [-q|-v]\n\n"
            "VQ-decodes image token ids (576 per image, whitespace separated) into 384x384 images.\n"
            "With several images in FILE, OUT should contain %%d.\n");
}

/* Flags other image generators have that Janus-Pro cannot honour, and why. */
static int refused_flag(const char *a) {
    static const struct {
        const char *flags[6]; /* NULL-terminated */
        const char *why;
    } refused[] = {
        {{"-W", "-H", "--width", "--height", "--size", NULL},
         "Janus-Pro generates 384x384 images only (a 24x24 grid of VQ codes); resize the result if you need another size"},
        {{"--steps", "--sampling-steps", NULL},
         "Janus-Pro is autoregressive, not diffusion: every image takes exactly 576 token steps (one per 16x16 patch), "
         "so there is no step count to set"},
        {{"--init-img", "--image", "-i", "--strength", "--mask", NULL},
         "Janus-Pro generates from text only (no img2img or inpainting); to ask about an image use 'janus ask --image'"},
        {{"--sampler", "--sampling-method", "--scheduler", NULL},
         "Janus-Pro samples codes token by token; the choices are --temp, --top-k and --top-p"},
    };
    for (size_t r = 0; r < sizeof refused / sizeof refused[0]; r++)
        for (int i = 0; refused[r].flags[i]; i++)
            if (!strcmp(a, refused[r].flags[i])) return cli_usage_error("generate", "%s: %s", a, refused[r].why);
    return 0;
}

/* ---- output names ---- */

/* Checks a -o pattern: only %d / %0Nd (image index), %p / %0Np (prompt number) and %%. */
static int pattern_ok(const char *pat, int *has_d, int *has_p) {
    *has_d = *has_p = 0;
    for (const char *c = pat; *c; c++) {
        if (*c != '%') continue;
        c++;
        if (*c == '%') continue;
        while (*c >= '0' && *c <= '9') c++;
        if (*c == 'd') *has_d = 1;
        else if (*c == 'p') *has_p = 1;
        else return 0;
    }
    return 1;
}

/* The name for image `index` of prompt `prompt` from a checked pattern. */
static void format_name(char *buf, size_t n, const char *pat, int index, int prompt) {
    size_t o = 0;
    for (const char *c = pat; *c && o + 1 < n; c++) {
        if (*c != '%') { buf[o++] = *c; continue; }
        c++;
        if (*c == '%') { buf[o++] = '%'; continue; }
        int width = 0, zero = *c == '0';
        while (*c >= '0' && *c <= '9') width = width * 10 + (*c++ - '0');
        if (width > 20) width = 20;
        int v = *c == 'p' ? prompt : index;
        int w = snprintf(buf + o, n - o, zero ? "%0*d" : "%*d", width, v);
        o += w > 0 ? (size_t)w : 0;
        if (o >= n) o = n - 1;
    }
    buf[o] = 0;
}

/* A pattern for names that must differ by image (and by prompt): adds "-%d" / "-%p" before the
 * extension where the user's -o lacks them. */
static void complete_pattern(char *buf, size_t n, const char *pat, int need_d, int need_p) {
    const char *dot = strrchr(pat, '.');
    if (dot && strchr(dot, '/')) dot = NULL;
    size_t stem = dot ? (size_t)(dot - pat) : strlen(pat);
    snprintf(buf, n, "%.*s%s%s%s", (int)stem, pat, need_p ? "-%p" : "", need_d ? "-%d" : "", dot ? dot : "");
}

/* Largest N among existing files "out-N.png" / "out-N.jpg" in the current folder, or -1. */
static long highest_default_number(void) {
    DIR *d = opendir(".");
    long best = -1;
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *s = e->d_name;
        if (strncmp(s, "out-", 4)) continue;
        char *end;
        long v = strtol(s + 4, &end, 10);
        if (end == s + 4 || (strcmp(end, ".png") && strcmp(end, ".jpg") && strcmp(end, ".jpeg"))) continue;
        if (v > best) best = v;
    }
    if (d) closedir(d);
    return best;
}

static int image_extension_ok(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (!strcmp(dot, ".png") || !strcmp(dot, ".PNG") || !strcmp(dot, ".jpg") || !strcmp(dot, ".jpeg") ||
                   !strcmp(dot, ".JPG") || !strcmp(dot, ".JPEG"));
}

/* Every name: a known extension, a writable folder, no clash with another name of the run, no
 * existing file unless force. Done before a model is loaded. */
static int check_names(const char *cmd, char **names, int n, int force) {
    for (int i = 0; i < n; i++) {
        if (!image_extension_ok(names[i])) return cli_usage_error(cmd, "output %s must end in .png, .jpg or .jpeg", names[i]);
        int rc = cli_check_output_dir(cmd, names[i]);
        if (rc) return rc;
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return cli_usage_error(cmd, "images %d and %d would both be written to %s; put %%d (and %%p) in -o", j, i,
                                       names[i]);
        if (!force && access(names[i], F_OK) == 0) {
            fprintf(stderr, "janus %s: %s already exists (use --force to overwrite)\n", cmd, names[i]);
            return 2; /* a usage error, as janus convert and janus_image_write report it */
        }
    }
    return 0;
}

/* ---- prompts ---- */

/* Splits text into non-blank lines (trailing \r and spaces removed); pointers into text. */
static int split_prompts(char *text, char ***out) {
    int n = 0, cap = 16;
    char **v = malloc((size_t)cap * sizeof *v);
    for (char *line = text; v && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = 0;
        char *start = line;
        while (*start == ' ' || *start == '\t') start++;
        if (*start) {
            if (n == cap) {
                char **nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
                if (!nv) { free(v); return -1; }
                v = nv;
            }
            v[n++] = start;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!v) return -1;
    *out = v;
    return n;
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s, sizeof s, 1, f) != 1) s = (uint64_t)(cli_now() * 1e9) ^ (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
    if (f) fclose(f);
    return s & 0xffffffffull; /* 32 bits: as A1111 seeds, exact in JSON and easy to type back */
}

/* ---- writing ---- */

typedef struct gen_job {
    const char *model_name, *negative;
    float cfg, temperature, top_p;
    int top_k, n_images, quality, force, json;
    uint64_t seed;
} gen_job;

/* Writes one image with its metadata (PNG text chunks, JPEG COM "parameters") and prints its line. */
static int write_image(const char *cmd, const gen_job *g, const janus_image *img, const char *path, const char *prompt,
                       int prompt_no, int n_prompts, int index, const cli_common *c, double vq_s) {
    char seed[32], cfg[32], temp[32], idx[16], n[16], topk[16], topp[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)g->seed);
    snprintf(cfg, sizeof cfg, "%g", (double)g->cfg);
    snprintf(temp, sizeof temp, "%g", (double)g->temperature);
    snprintf(idx, sizeof idx, "%d", index);
    snprintf(n, sizeof n, "%d", g->n_images);
    snprintf(topk, sizeof topk, "%d", g->top_k);
    snprintf(topp, sizeof topp, "%g", (double)g->top_p);
    /* A1111's "parameters" text, which image viewers and sd-webui's PNG Info read */
    size_t plen = strlen(prompt) + (g->negative ? strlen(g->negative) : 0) + 512;
    char *params = malloc(plen);
    if (!params) { fprintf(stderr, "janus %s: out of memory\n", cmd); return 1; }
    int o = snprintf(params, plen, "%s\n", prompt);
    if (g->negative) o += snprintf(params + o, plen - (size_t)o, "Negative prompt: %s\n", g->negative);
    snprintf(params + o, plen - (size_t)o,
             "Steps: %d, Sampler: Janus-Pro autoregressive, CFG scale: %s, Seed: %s, Size: %dx%d, Model: %s, "
             "Temperature: %s, Top-k: %s, Top-p: %s, Batch index: %d, Batch size: %d, Version: janus.c %s",
             GEN_STEPS, cfg, seed, GEN_SIZE, GEN_SIZE, g->model_name, temp, topk, topp, index, g->n_images,
             JANUS_VERSION_STRING);
    const char *kv[] = {"parameters", params, "prompt", prompt, "seed", seed, "cfg", cfg, "temperature", temp,
                        "index", idx, "n", n, "model", g->model_name, "software", "janus.c " JANUS_VERSION_STRING,
                        "negative_prompt", g->negative ? g->negative : ""};
    janus_error err = {0};
    int st = janus_image_write(img, path, kv, g->negative ? 10 : 9, g->force, g->quality, &err);
    free(params);
    if (st) return cli_fail(cmd, &err);
    if (g->json) {
        fputs("{\"path\":", stdout);
        cli_json_string(stdout, path);
        printf(",\"seed\":%llu,\"index\":%d,\"n\":%d,\"prompt_index\":%d,\"prompt\":", (unsigned long long)g->seed, index,
               g->n_images, prompt_no);
        cli_json_string(stdout, prompt);
        if (g->negative) {
            fputs(",\"negative_prompt\":", stdout);
            cli_json_string(stdout, g->negative);
        }
        printf(",\"cfg\":%g,\"temperature\":%g,\"tokens\":%d,\"vq_decode_s\":%.4f,\"elapsed_s\":%.3f}\n", (double)g->cfg,
               (double)g->temperature, GEN_STEPS, vq_s, cli_now() - c->t_start);
    } else if (n_prompts > 1) {
        printf("%s\tseed=%llu\tindex=%d\tprompt=%d\n", path, (unsigned long long)g->seed, index, prompt_no);
    } else {
        printf("%s\tseed=%llu\tindex=%d\n", path, (unsigned long long)g->seed, index);
    }
    fflush(stdout);
    return 0;
}

/* ---- the run ---- */

/* Ctrl-C / SIGTERM: stop between steps or images, keep what was written, leave no temporary file.
 * The handler resets itself, so a second Ctrl-C ends the process at once. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) { /* a signal the caller ignores (nohup, a background job) stays ignored */
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(sigs[i], &sa, NULL);
    }
}


typedef struct inflight {
    int id, unit0, count; /* request id, its first unit and how many images */
} inflight;

typedef struct gen_run {
    const char *cmd;
    cli_common *c;
    janus_session *s;
    janus_gen_batch *b;
    const gen_job *g;
    const char *teacher_path; /* --teacher-tokens: its bad ids are bad input (exit 3) */
    char **prompts, **names;
    int n_prompts, n_units, *unit_prompt, *unit_index;
    int units_written;
    double vq_s_per_image; /* measured on the first decode; 0 before */
    int steps_done_max;    /* of the running requests, for the progress line */
} gen_run;

static int stopped(const gen_run *r) {
    if (!stop_signal) return 0;
    cli_status_clear(r->c);
    fprintf(stderr, "janus %s: interrupted; %d of %d image(s) written\n", r->cmd, r->units_written, r->n_units);
    return 128 + stop_signal;
}

/* Seconds left: the running requests' steps, the queued images' steps, every VQ decode left. */
static double eta_s(const gen_run *r, int next_unit, int batch, double s_per_step) {
    int queued = r->n_units - next_unit;
    int rounds = (queued + batch - 1) / batch;
    double steps = (double)(GEN_STEPS - r->steps_done_max) + (double)rounds * GEN_STEPS;
    return steps * s_per_step + (double)(r->n_units - r->units_written) * r->vq_s_per_image;
}

/* VQ-decodes and writes every image of a finished request, one by one. */
static int finish_request(gen_run *r, const inflight *q) {
    int32_t *tokens = NULL;
    int n = 0;
    janus_error err = {0};
    if (janus_gen_batch_take_tokens(r->b, q->id, &tokens, &n, &err)) return cli_fail(r->cmd, &err);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        int u = q->unit0 + k;
        cli_status(r->c, 0, "decode %d/%d", r->units_written + 1, r->n_units);
        double t0 = cli_now();
        janus_image *img = NULL;
        if (janus_session_decode(r->s, tokens + (size_t)k * GEN_STEPS, 1, &img, &err)) { rc = cli_fail(r->cmd, &err); break; }
        double vq_s = cli_now() - t0;
        if (r->vq_s_per_image == 0) r->vq_s_per_image = vq_s;
        cli_status_clear(r->c);
        rc = write_image(r->cmd, r->g, img, r->names[u], r->prompts[r->unit_prompt[u]], r->unit_prompt[u], r->n_prompts,
                         r->unit_index[u], r->c, vq_s);
        janus_images_free(img, 1);
        r->units_written++;
        if (!rc) rc = stopped(r);
    }
    free(tokens);
    return rc;
}

/* Exit code for a request the batch refused; ids outside the codebook in --teacher-tokens are
 * bad input (3), named by the file. */
static int add_failed(const gen_run *r, const janus_error *err) {
    if (r->teacher_path && strstr(err->msg, "teacher token")) {
        fprintf(stderr, "janus %s: %s: %s\n", r->cmd, r->teacher_path, err->msg);
        return 3;
    }
    return cli_fail(r->cmd, err);
}

static int run_generation(gen_run *r, janus_gen_params gp, int batch) {
    janus_error err = {0};
    inflight *q = calloc((size_t)r->n_units, sizeof *q);
    int n_q = 0, next_unit = 0, rc = 0;
    if (!q) return 1;
    double t_steps = 0;
    long steps = 0;
    while (next_unit < r->n_units || n_q > 0) {
        /* join: consecutive images of one prompt, as many as the free rows hold */
        while (next_unit < r->n_units) {
            int free_images = janus_gen_batch_free_rows(r->b) / 2;
            if (free_images > batch) free_images = batch;
            if (free_images == 0) break;
            int count = 1;
            while (count < free_images && next_unit + count < r->n_units &&
                   r->unit_prompt[next_unit + count] == r->unit_prompt[next_unit] &&
                   r->unit_index[next_unit + count] == r->unit_index[next_unit] + count)
                count++;
            gp.prompt = r->prompts[r->unit_prompt[next_unit]];
            gp.n_images = count;
            gp.first_index = r->unit_index[next_unit];
            int id = janus_gen_batch_add(r->b, &gp, &err);
            if (id < 0) {
                /* a longer prompt than the batch was sized for waits until the batch drains */
                if (id == JANUS_ERR_USAGE && n_q > 0) break;
                rc = add_failed(r, &err);
                goto out;
            }
            q[n_q++] = (inflight){id, next_unit, count};
            next_unit += count;
        }
        if ((rc = stopped(r))) goto out;
        double t0 = cli_now();
        int live = janus_gen_batch_step(r->b, &err);
        if (live < 0) { rc = cli_fail(r->cmd, &err); goto out; }
        t_steps += cli_now() - t0;
        steps++;
        r->steps_done_max = 0;
        for (int i = 0; i < n_q; i++) {
            int done = 0;
            janus_gen_batch_state(r->b, q[i].id, &done);
            if (done > r->steps_done_max) r->steps_done_max = done;
        }
        double eta = eta_s(r, next_unit, batch, t_steps / (double)steps);
        cli_status(r->c, 0, "generate step %d/%d  images %d/%d  %.3f s/step  ETA %.0f s%s", r->steps_done_max, GEN_STEPS,
                   r->units_written, r->n_units, t_steps / (double)steps, eta,
                   r->vq_s_per_image == 0 ? " + decode" : "");
        for (int i = 0; i < n_q;) {
            int stt = janus_gen_batch_state(r->b, q[i].id, NULL);
            if (stt == JANUS_GEN_RUNNING) { i++; continue; }
            /* nothing left to generate: the K/V cache goes before the VQ decodes need their memory */
            if (next_unit >= r->n_units && janus_gen_batch_n_live(r->b) == 0 &&
                janus_gen_batch_release_memory(r->b, &err)) { rc = cli_fail(r->cmd, &err); goto out; }
            if ((rc = finish_request(r, &q[i]))) goto out;
            memmove(&q[i], &q[i + 1], (size_t)(--n_q - i) * sizeof *q); /* keep the order: images in order */
        }
    }
out:
    cli_status_clear(r->c);
    free(q);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *out = NULL, *teacher = NULL, *prompt_file = NULL;
    long lv, quality = 95, index = -1, batch = 0;
    int force = 0, json = 0, random = 0, options_done = 0, rc = 0, n_prompts = 0, n_units = 0;
    cli_common c;
    cli_common_init(&c);
    janus_gen_params gp = janus_gen_default_params();
    char *prompt_text = NULL, **prompts = NULL, **names = NULL;
    int *unit_prompt = NULL, *unit_index = NULL;
    int32_t *teacher_ids = NULL;
    janus_model *m = NULL;
    janus_session *s = NULL;
    janus_gen_batch *b = NULL;
#define USAGE(...) do { rc = cli_usage_error("generate", __VA_ARGS__); goto done; } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
#define NEED() do { if (!v) USAGE("%s needs a value", a); i++; } while (0)
        if (options_done || a[0] != '-' || !a[1]) {
            if (prompt) USAGE("more than one prompt given ('%s'); quote the prompt", a);
            prompt = a;
        }
        else if (!strcmp(a, "--")) options_done = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); goto done; }
        else if ((k = cli_common_opt(&c, "generate", argc, argv, &i)) < 0) { rc = -k; goto done; }
        else if (k) continue;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { NEED(); if (prompt) USAGE("more than one prompt given ('%s'); quote the prompt", v); prompt = v; }
        else if (!strcmp(a, "--prompt-file")) { NEED(); prompt_file = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED(); out = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-images")) { NEED(); if (cli_parse_int(v, &lv) || lv < 1 || lv > 256) USAGE("-n needs an integer 1..256, got '%s'", v); gp.n_images = (int)lv; }
        else if (!strcmp(a, "--index")) { NEED(); if (cli_parse_int(v, &index) || index < 0 || index > 255) USAGE("--index needs an integer 0..255, got '%s'", v); }
        else if (!strcmp(a, "--batch")) { NEED(); if (cli_parse_int(v, &batch) || batch < 1 || batch > 256) USAGE("--batch needs an integer 1..256, got '%s'", v); }
        else if (!strcmp(a, "--cfg") || !strcmp(a, "--cfg-scale")) { NEED(); if (cli_parse_float(v, &gp.cfg)) USAGE("%s needs a number, got '%s'", a, v); }
        else if (!strcmp(a, "--negative-prompt")) { NEED(); gp.negative_prompt = v; }
        else if (!strcmp(a, "--temp")) { NEED(); if (cli_parse_float(v, &gp.temperature) || gp.temperature <= 0) USAGE("--temp needs a number > 0, got '%s'", v); }
        else if (!strcmp(a, "--top-k")) { NEED(); if (cli_parse_int(v, &lv) || lv < 0) USAGE("--top-k needs an integer >= 0, got '%s'", v); gp.top_k = (int)lv; }
        else if (!strcmp(a, "--top-p")) { NEED(); if (cli_parse_float(v, &gp.top_p) || gp.top_p <= 0 || gp.top_p > 1) USAGE("--top-p needs a number in (0, 1], got '%s'", v); }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
            NEED();
            if (!strcmp(v, "-1")) random = 1;
            else if (cli_parse_u64(v, &gp.seed)) USAGE("--seed needs a non-negative integer or -1 (random), got '%s'", v);
            else random = 0;
        }
        else if (!strcmp(a, "--quality")) { NEED(); if (cli_parse_int(v, &quality) || quality < 1 || quality > 100) USAGE("--quality needs 1..100, got '%s'", v); }
        else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--teacher-tokens")) { NEED(); teacher = v; }
        else if (!strcmp(a, "--dump")) { NEED(); gp.dump_dir = v; }
        else if ((rc = refused_flag(a))) goto done;
        else USAGE("unknown option '%s'", a);
#undef NEED
    }
    if (!model) USAGE("no model given (-m MODEL.gguf)");
    if (prompt && prompt_file) USAGE("give a prompt or --prompt-file, not both");
    if (!prompt && !prompt_file) USAGE("no prompt given");
    if (index >= gp.n_images) USAGE("--index %ld is not an image of -n %d (0..%d)", index, gp.n_images, gp.n_images - 1);
    if (gp.negative_prompt && !gp.negative_prompt[0]) USAGE("--negative-prompt is empty (leave it out for the official unconditional row)");
    if (prompt_file) {
        char msg[512];
        if (!(prompt_text = cli_read_text(prompt_file, msg, sizeof msg))) {
            fprintf(stderr, "janus generate: %s\n", msg);
            rc = 3;
            goto done;
        }
        n_prompts = split_prompts(prompt_text, &prompts);
        if (n_prompts < 0) { rc = 1; goto done; }
        if (n_prompts == 0) { fprintf(stderr, "janus generate: %s has no prompts (one per line)\n", prompt_file); rc = 3; goto done; }
    } else {
        prompts = malloc(sizeof *prompts);
        if (!prompts) { rc = 1; goto done; }
        prompts[0] = (char *)prompt;
        n_prompts = 1;
    }
    if (gp.dump_dir && n_prompts > 1) USAGE("--dump takes one prompt (intermediates of several would overwrite each other)");
    if (random) gp.seed = random_seed();
    /* the images to make, in order: (prompt, index) */
    int per_prompt = index >= 0 ? 1 : gp.n_images;
    n_units = n_prompts * per_prompt;
    unit_prompt = malloc((size_t)n_units * sizeof *unit_prompt);
    unit_index = malloc((size_t)n_units * sizeof *unit_index);
    names = calloc((size_t)n_units, sizeof *names);
    if (!unit_prompt || !unit_index || !names) { rc = 1; goto done; }
    {
        char pattern[4096];
        long next_free = out ? 0 : highest_default_number() + 1;
        if (out) {
            int has_d, has_p;
            if (!pattern_ok(out, &has_d, &has_p)) USAGE("-o %s: only %%d, %%0Nd, %%p, %%0Np and %%%% may follow %%", out);
            complete_pattern(pattern, sizeof pattern, out, !has_d && per_prompt > 1, !has_p && n_prompts > 1);
        }
        for (int p = 0, u = 0; p < n_prompts; p++)
            for (int k = 0; k < per_prompt; k++, u++) {
                unit_prompt[u] = p;
                unit_index[u] = index >= 0 ? (int)index : k;
                char name[4096];
                if (out) format_name(name, sizeof name, pattern, unit_index[u], p);
                else snprintf(name, sizeof name, "out-%ld.png", next_free + u); /* the next free numbers */
                if (!(names[u] = strdup(name))) { rc = 1; goto done; }
            }
    }
    if ((rc = check_names("generate", names, n_units, force))) goto done;
    if (teacher) {
        size_t n = 0;
        char msg[512];
        if (cli_read_token_file(teacher, &teacher_ids, &n, msg, sizeof msg)) { fprintf(stderr, "janus generate: %s\n", msg); rc = 3; goto done; }
        if (n != GEN_STEPS) { fprintf(stderr, "janus generate: %s has %zu ids, expected %d\n", teacher, n, GEN_STEPS); rc = 3; goto done; }
        gp.teacher_tokens = teacher_ids;
    }
    if (batch == 0) batch = gp.n_images > 4 ? gp.n_images : 4;
    if (batch > n_units) batch = n_units;
#undef USAGE
    janus_error err = {0};
    if (!(m = cli_load_model("generate", model, &c, &err))) { rc = cli_fail("generate", &err); goto done; }
    if (!c.quiet)
        fprintf(stderr, "janus generate: seed %llu%s, cfg %g, temperature %g, %d image(s)%s%s\n", (unsigned long long)gp.seed,
                random ? " (random)" : "", (double)gp.cfg, (double)gp.temperature, n_units,
                n_prompts > 1 ? " from a prompt file" : "", gp.negative_prompt ? ", with a negative prompt" : "");
    janus_session_params sp = cli_session_params(&c);
    sp.max_rows = 2 * (int)batch;
    if (!(s = janus_session_create(m, &sp, &err)) || !(b = janus_gen_batch_create(s, &err))) { rc = cli_fail("generate", &err); goto done; }
    gen_job g = {janus_model_name(m), gp.negative_prompt, gp.cfg, gp.temperature, gp.top_p, gp.top_k, gp.n_images,
                 (int)quality, force, json, gp.seed};
    gen_run r = {"generate", &c, s, b, &g, teacher, prompts, names, n_prompts, n_units, unit_prompt, unit_index, 0, 0, 0};
    catch_stop_signals();
    rc = run_generation(&r, gp, (int)batch);
    if (!rc) cli_session_summary("generate", &c, s);
done:
    janus_gen_batch_free(b);
    janus_session_free(s);
    janus_model_free(m);
    free(teacher_ids);
    for (int i = 0; names && i < n_units; i++) free(names[i]);
    free(names);
    free(unit_prompt);
    free(unit_index);
    free(prompts);
    free(prompt_text);
    return rc;
}

int cmd_decode(int argc, char **argv) {
    const char *model = NULL, *tokens = NULL, *out = NULL;
    int force = 0, rc = 0;
    cli_common c;
    cli_common_init(&c);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
#define NEED() do { if (!v) return cli_usage_error("decode", "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help_decode(stdout); return 0; }
        else if ((k = cli_common_opt(&c, "decode", argc, argv, &i)) < 0) return -k;
        else if (k) continue;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "--tokens")) { NEED(); tokens = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED(); out = v; }
        else if (!strcmp(a, "--force")) force = 1;
        else return cli_usage_error("decode", "unexpected argument '%s'", a);
#undef NEED
    }
    if (!model || !tokens || !out) return cli_usage_error("decode", "needs -m MODEL, --tokens FILE and -o OUT");
    int has_d, has_p;
    if (!pattern_ok(out, &has_d, &has_p) || has_p) return cli_usage_error("decode", "-o %s: only %%d, %%0Nd and %%%% may follow %%", out);
    int32_t *ids = NULL;
    size_t n = 0;
    char msg[512];
    if (cli_read_token_file(tokens, &ids, &n, msg, sizeof msg)) { fprintf(stderr, "janus decode: %s\n", msg); return 3; }
    if (n == 0 || n % GEN_STEPS) { free(ids); fprintf(stderr, "janus decode: %s has %zu ids, expected a multiple of %d\n", tokens, n, GEN_STEPS); return 3; }
    int n_images = (int)(n / GEN_STEPS);
    char pattern[4096];
    complete_pattern(pattern, sizeof pattern, out, !has_d && n_images > 1, 0);
    char **names = calloc((size_t)n_images, sizeof *names);
    for (int i = 0; names && i < n_images; i++) {
        char name[4096];
        format_name(name, sizeof name, pattern, i, 0);
        if (!(names[i] = strdup(name))) break;
    }
    janus_model *m = NULL;
    janus_session *s = NULL;
    janus_error err = {0};
    if (!names || !names[n_images - 1]) { rc = 1; goto done; }
    if ((rc = check_names("decode", names, n_images, force))) goto done;
    janus_session_params sp = cli_session_params(&c);
    if (!(m = cli_load_model("decode", model, &c, &err)) || !(s = janus_session_create(m, &sp, &err))) { rc = cli_fail("decode", &err); goto done; }
    const char *kv[] = {"model", janus_model_name(m), "software", "janus.c " JANUS_VERSION_STRING};
    for (int i = 0; i < n_images && !rc; i++) {
        cli_status(&c, 0, "decode %d/%d", i + 1, n_images);
        janus_image *img = NULL;
        int st = janus_session_decode(s, ids + (size_t)i * GEN_STEPS, 1, &img, &err);
        if (st == JANUS_ERR_USAGE) { /* an id outside the codebook: the token file is bad input */
            cli_status_clear(&c);
            fprintf(stderr, "janus decode: %s: %s\n", tokens, err.msg);
            rc = 3;
            break;
        }
        if (!st) st = janus_image_write(img, names[i], kv, 2, force, 95, &err);
        janus_images_free(img, 1);
        cli_status_clear(&c);
        if (st) { rc = cli_fail("decode", &err); break; }
        printf("%s\n", names[i]);
        fflush(stdout);
    }
    if (!rc) cli_session_summary("decode", &c, s);
done:
    janus_session_free(s);
    janus_model_free(m);
    for (int i = 0; names && i < n_images; i++) free(names[i]);
    free(names);
    free(ids);
    return rc;
}
