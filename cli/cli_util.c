/* cli/cli_util.c — what the model-running commands (ask, chat, generate, decode) share: the
 * common flags (-t, --backend, -v, -q), loading with --backend auto and the first stderr line
 * naming backend, device and threads, the one-line timing summary, a throttled progress line,
 * JSON string output and file checks done before a model is loaded. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_common_init(cli_common *c) {
    memset(c, 0, sizeof *c);
    c->backend = "auto";
    c->t_start = cli_now();
}

int cli_memory_opt(const char *cmd, int argc, char **argv, int *i, const char **kv_type, size_t *mem_limit) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(a, "--kv-type")) {
        if (!v) return -cli_usage_error(cmd, "%s needs a value", a);
        if (strcmp(v, "f16") && strcmp(v, "q8_0") && strcmp(v, "bf16") && strcmp(v, "f32"))
            return -cli_usage_error(cmd, "--kv-type must be f16, q8_0, bf16 or f32, got '%s'", v);
        *kv_type = v;
        (*i)++;
        return 1;
    }
    if (!strcmp(a, "--mem-limit")) {
        if (!v) return -cli_usage_error(cmd, "%s needs a value", a);
        if (cli_parse_size(v, mem_limit))
            return -cli_usage_error(cmd, "--mem-limit needs a size such as 6G or 512M, got '%s'", v);
        (*i)++;
        return 1;
    }
    return 0;
}

int cli_common_opt(cli_common *c, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        long n;
        if (!v) return -cli_usage_error(cmd, "%s needs a value", a);
        if (cli_parse_int(v, &n) || n < 1 || n > 1024)
            return -cli_usage_error(cmd, "--threads needs a positive integer, got '%s'", v);
        c->threads = (int)n;
        (*i)++;
        return 1;
    }
    if (!strcmp(a, "--backend")) {
        if (!v) return -cli_usage_error(cmd, "%s needs a value", a);
        if (strcmp(v, "auto") && strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "ref"))
            return -cli_usage_error(cmd, "--backend must be auto, cpu or cuda, got '%s'", v);
        c->backend = v;
        (*i)++;
        return 1;
    }
    int k = cli_memory_opt(cmd, argc, argv, i, &c->kv_type, &c->mem_limit);
    if (k) return k;
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { c->verbose = 1; c->quiet = 0; return 1; }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { c->quiet = 1; c->verbose = 0; return 1; }
    return 0;
}

int cli_answer_opt(janus_ask_params *ap, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long lv;
    int is_n = !strcmp(a, "-n") || !strcmp(a, "--max-tokens"), is_temp = !strcmp(a, "--temp");
    int is_k = !strcmp(a, "--top-k"), is_p = !strcmp(a, "--top-p"), is_s = !strcmp(a, "-s") || !strcmp(a, "--seed");
    if (!is_n && !is_temp && !is_k && !is_p && !is_s) return 0;
    if (!v) return -cli_usage_error(cmd, "%s needs a value", a);
    (*i)++;
    if (is_n && (cli_parse_int(v, &lv) || lv < 1 || lv > 1000000))
        return -cli_usage_error(cmd, "--max-tokens needs a positive integer, got '%s'", v);
    if (is_n) ap->max_tokens = (int)lv;
    if (is_temp && (cli_parse_float(v, &ap->temperature) || ap->temperature < 0))
        return -cli_usage_error(cmd, "--temp needs a number >= 0, got '%s'", v);
    if (is_k && (cli_parse_int(v, &lv) || lv < 0)) return -cli_usage_error(cmd, "--top-k needs an integer >= 0, got '%s'", v);
    if (is_k) ap->top_k = (int)lv;
    if (is_p && (cli_parse_float(v, &ap->top_p) || ap->top_p <= 0 || ap->top_p > 1))
        return -cli_usage_error(cmd, "--top-p needs a number in (0, 1], got '%s'", v);
    if (is_s && cli_parse_u64(v, &ap->seed)) return -cli_usage_error(cmd, "--seed needs a non-negative integer, got '%s'", v);
    return 1;
}

/* First "key : value" line of a /proc text file whose key starts with `key`. */
static int proc_value(const char *path, const char *key, char *out, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key))) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        snprintf(out, n, "%s", colon);
        out[strcspn(out, "\n")] = 0;
        found = out[0] != 0;
    }
    fclose(f);
    return found;
}

static void describe_device(const char *backend, char *out, size_t n) {
    if (!strcmp(backend, "cuda")) {
        /* the NVIDIA driver names its GPUs here; device 0 is the one the backend uses */
        DIR *d = opendir("/proc/driver/nvidia/gpus");
        char bus[256] = "", path[512];
        for (struct dirent *e; d && (e = readdir(d));)
            if (e->d_name[0] != '.' && (!bus[0] || strcmp(e->d_name, bus) < 0)) snprintf(bus, sizeof bus, "%.200s", e->d_name);
        if (d) closedir(d);
        snprintf(path, sizeof path, "/proc/driver/nvidia/gpus/%s/information", bus);
        if (!bus[0] || !proc_value(path, "Model", out, n)) snprintf(out, n, "GPU 0");
        return;
    }
    if (!proc_value("/proc/cpuinfo", "model name", out, n)) snprintf(out, n, "CPU");
}

janus_session_params cli_session_params(const cli_common *c) {
    janus_session_params sp = janus_session_default_params();
    sp.mem_limit = c->mem_limit;
    return sp;
}

janus_model *cli_load_model(const char *cmd, const char *path, cli_common *c, janus_error *err) {
    janus_load_params lp = janus_load_default_params();
    lp.n_threads = c->threads;
    lp.verbose = c->verbose;
    lp.kv_type = c->kv_type;
    double t0 = cli_now();
    janus_model *m = NULL;
    char why_cpu[600] = ""; /* why auto did not pick CUDA (shown with -v) */
    if (!strcmp(c->backend, "auto")) {
        /* CUDA when this build has it and a device answers; its failure (no CUDA in the build, no
         * device) is not the user's problem, so fall back to the CPU quietly. Without the NVIDIA
         * driver there is no device: skip the attempt (it opens the file and loads the tokenizer
         * before the backend can say no). */
        int driver = access("/proc/driver/nvidia/gpus", F_OK) == 0 || access("/dev/nvidiactl", F_OK) == 0;
        janus_error cuda_err = {0};
        lp.backend = "cuda";
        if (!driver) snprintf(why_cpu, sizeof why_cpu, "no NVIDIA driver");
        else if ((m = janus_model_load(path, &lp, &cuda_err))) c->backend_used = "cuda";
        else snprintf(why_cpu, sizeof why_cpu, "no CUDA: %.560s", cuda_err.msg);
    }
    if (!m) {
        lp.backend = strcmp(c->backend, "auto") ? c->backend : "cpu";
        m = janus_model_load(path, &lp, err);
        if (!m) return NULL;
        c->backend_used = lp.backend;
    }
    c->load_s = cli_now() - t0;
    if (!c->quiet) {
        char dev[256];
        describe_device(c->backend_used, dev, sizeof dev);
        long threads = c->threads > 0 ? c->threads : sysconf(_SC_NPROCESSORS_ONLN);
        fprintf(stderr, "janus %s: backend %s (%s), %ld CPU threads, model %s%s%s%s\n", cmd, c->backend_used, dev, threads,
                janus_model_name(m), c->verbose && why_cpu[0] ? " (" : "", c->verbose ? why_cpu : "",
                c->verbose && why_cpu[0] ? ")" : "");
    }
    return m;
}

void cli_session_summary(const char *cmd, const cli_common *c, const janus_session *s) {
    if (c->quiet) return;
    janus_session_stats st;
    if (s) janus_session_get_stats(s, &st);
    cli_summary(cmd, c, s ? &st : NULL);
}

void cli_summary(const char *cmd, const cli_common *c, const janus_session_stats *st) {
    char line[1024];
    size_t o = 0;
#define ADD(...) o += (size_t)snprintf(line + o, o < sizeof line ? sizeof line - o : 0, __VA_ARGS__)
    ADD("janus %s: load %.2f s", cmd, c->load_s);
    if (st && st->images_encoded) ADD(" | image encode %.2f s (%ld)", st->encode_s, st->images_encoded);
    if (st && st->tokens_prefilled)
        ADD(" | prefill %ld tok %.0f tok/s", st->tokens_prefilled,
            st->prefill_s > 0 ? (double)st->tokens_prefilled / st->prefill_s : 0.0);
    if (st && st->tokens_decoded)
        ADD(" | decode %ld tok %.1f tok/s", st->tokens_decoded, st->decode_s > 0 ? (double)st->tokens_decoded / st->decode_s : 0.0);
    if (st && st->gen_steps) ADD(" | %.3f s/step (%ld steps)", st->gen_s / (double)st->gen_steps, st->gen_steps);
    if (st && st->images_decoded) ADD(" | VQ decode %.2f s/image", st->vq_s / (double)st->images_decoded);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) ADD(" | peak RSS %.0f MiB", (double)ru.ru_maxrss / 1024.0); /* Linux: KiB */
    ADD(" | total %.2f s", cli_now() - c->t_start);
#undef ADD
    fprintf(stderr, "%s\n", line);
    if (c->verbose && st)
        fprintf(stderr,
                "janus %s: detail: load %.3f s, encode %.3f s, prefill %.3f s, decode %.3f s, generation steps %.3f s, "
                "VQ decode %.3f s\n",
                cmd, c->load_s, st->encode_s, st->prefill_s, st->decode_s, st->gen_s, st->vq_s);
}

void cli_timings_json(FILE *f, const cli_common *c, const janus_session_stats *st) {
    fprintf(f, "{\"load_s\":%.4f,\"encode_s\":%.4f,\"prefill_s\":%.4f,\"prefill_tokens\":%ld,\"decode_s\":%.4f,"
               "\"decode_tokens\":%ld,\"gen_s\":%.4f,\"gen_steps\":%ld,\"vq_decode_s\":%.4f,\"total_s\":%.4f}",
            c->load_s, st->encode_s, st->prefill_s, st->tokens_prefilled, st->decode_s, st->tokens_decoded, st->gen_s,
            st->gen_steps, st->vq_s, cli_now() - c->t_start);
}

void cli_status(cli_common *c, int final, const char *fmt, ...) {
    if (c->quiet) return;
    int tty = isatty(2);
    double now = cli_now();
    /* a live line on a terminal; a line every few seconds in a log */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t label_n = strcspn(msg, " ");
    int new_phase = label_n != strlen(c->last_label) || strncmp(msg, c->last_label, label_n);
    if (!final && !new_phase && now - c->last_status < (tty ? 0.1 : 5.0)) return;
    c->last_status = now;
    snprintf(c->last_label, sizeof c->last_label, "%.*s", (int)label_n, msg);
    if (tty) fprintf(stderr, "\r\033[K%s%s", msg, final ? "\n" : "");
    else fprintf(stderr, "%s\n", msg);
    c->status_open = tty && !final;
}

void cli_status_clear(cli_common *c) {
    if (c->status_open) fputs("\r\033[K", stderr);
    c->status_open = 0;
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

char *cli_read_text(const char *path, char *msg, size_t msg_n) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        snprintf(msg, msg_n, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = f != stdin ? ferror(f) : ferror(stdin);
    if (f != stdin) fclose(f);
    if (!buf) { snprintf(msg, msg_n, "out of memory reading '%s'", path); return NULL; }
    if (bad) { free(buf); snprintf(msg, msg_n, "cannot read '%s'", path); return NULL; }
    buf[n] = 0;
    if (strlen(buf) != n) { free(buf); snprintf(msg, msg_n, "'%s' contains a NUL byte: not a text file", path); return NULL; }
    return buf;
}

int cli_check_output_dir(const char *cmd, const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        fprintf(stderr, "janus %s: output folder '%s' does not exist (create it first)\n", cmd, dir);
        return 2;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "janus %s: '%s' is not a folder, so '%s' cannot be written\n", cmd, dir, path);
        return 2;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "janus %s: output folder '%s' is not writable\n", cmd, dir);
        return 2;
    }
    return 0;
}

int cli_check_images(const char *cmd, const char *const *paths, int n, double at_seconds) {
    for (int i = 0; i < n; i++) {
        janus_image img;
        janus_error err = {0};
        if (janus_image_load(paths[i], at_seconds, &img, &err)) return cli_fail(cmd, &err);
        janus_image_free(&img);
    }
    return 0;
}
