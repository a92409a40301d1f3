/* cli/cmd_caption.c — `janus caption -m MODEL INPUT... [-o OUT.jsonl]`: captions folders, lists and
 * videos in one process, batched, into JSONL records and/or sidecar .txt files; resumable,
 * shardable, and going on past bad files (their error is a record). See docs/caption.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caption_engine.h"
#include "caption_input.h"
#include "caption_jsonl.h"
#include "cli.h"

enum { EXIT_SOME_FAILED = 4 };

static void help(FILE *f) {
    fprintf(f,
            "usage: janus caption -m MODEL.gguf INPUT... [-o OUT.jsonl] [options]\n\n"
            "Captions many images in one process. INPUT: an image or video file; a folder (searched\n"
            "recursively for png jpg jpeg webp bmp gif tif tiff and video files); @LIST (one path per\n"
            "line, relative to the list's folder; '#' lines skipped); '-' (the list on stdin).\n"
            "Each item gives one JSONL record, written as it completes:\n"
            "  {\"path\", \"frame_time\" (videos), \"caption\", \"n_tokens\", \"seconds\"} or {\"path\", \"error\"}\n\n"
            "  -m, --model FILE      converted model (janus convert)\n"
            "  -o, --output FILE     JSONL output [stdout, unless --sidecar]\n"
            "      --format F        jsonl, or hf: Hugging Face metadata.jsonl records {\"file_name\", \"text\"}\n"
            "                        with file_name relative to the input folder (errors only on stderr) [jsonl]\n"
            "      --resume          keep an existing output, skip the items it records, append the rest\n"
            "      --force           replace an existing output and existing sidecars\n"
            "      --sidecar         also write the caption to <stem>.txt beside each image (never\n"
            "                        replacing one without --force; without -o, items that have one are done)\n"
            "      --sidecar-ext EXT  sidecar extension [txt]\n"
            "  -p, --prompt TEXT     question; {name} {stem} {folder} are replaced per item\n"
            "                        [\"Describe this image in detail.\"]\n"
            "      --prefix TEXT     put before every caption (trigger words)\n"
            "      --suffix TEXT     put after every caption\n"
            "  -n, --max-tokens N    caption length limit [128]\n"
            "  -b, --batch B         sequences decoding together [8]\n"
            "      --every SECONDS   video frame interval [1]\n"
            "      --frames N        N frames per video, evenly spaced from the first to the last\n"
            "      --shard K/N       only the items whose path hash is K mod N (K = 0..N-1)\n"
            "      --temp T          0 = greedy [0]; --top-k K, --top-p P as in janus ask\n"
            "  -s, --seed S          sampling seed, mixed with each item's path [42]\n"
            "  -t, --threads N       CPU threads [all cores]\n"
            "      --backend NAME    cpu or cuda [cpu]\n"
            CLI_HELP_MEMORY
            "  -q, --quiet           no progress on stderr\n"
            "  -v, --verbose         at the end, a JSON line of timings on stderr (encode, prefill, decode)\n\n"
            "exit codes: 0 every item captioned, 4 some items failed (see their error records),\n"
            "1 runtime failure, 2 usage error, 3 model or input list error\n");
}

typedef struct caption_cfg {
    const char *model, *output, *prompt, *prefix, *suffix, *sidecar_ext, *backend;
    int hf, resume, force, sidecar, quiet, verbose, max_tokens, batch, frames, shard_k, shard_n;
    double every;
    float temperature, top_p;
    int top_k;
    uint64_t seed;
    long threads;
    const char *kv_type; /* --kv-type (NULL: f16) */
    size_t mem_limit;    /* --mem-limit (0: available memory) */
} caption_cfg;

/* ---- video frames ---- */

static int frame_exists(const char *path, double t) {
    janus_image img = {0};
    janus_error e = {0};
    int st = janus_image_load(path, t, &img, &e);
    janus_image_free(&img);
    return st == 0;
}

/* Time of the last frame (in ms), found by probing: a frame at or after t exists exactly when
 * t <= last. -1: not even a first frame; -2: a still image (every time has "a frame"). */
static double video_last_frame(const char *path) {
    if (!frame_exists(path, -1)) return -1;
    if (frame_exists(path, 1e8)) return -2;
    double lo = 0, hi = 1;
    while (hi < 1e8 && frame_exists(path, hi)) lo = hi, hi *= 2;
    while (hi - lo > 1e-4) {
        double mid = 0.5 * (lo + hi);
        if (frame_exists(path, mid)) lo = mid;
        else hi = mid;
    }
    double ms = round(lo * 1000) / 1000; /* 2.19996 -> 2.2, the time a 10 fps frame has */
    return ms <= lo || frame_exists(path, ms) ? ms : floor(lo * 1000) / 1000;
}

/* Replaces each video item by its frames (times in ms, so records and resume keys agree). */
static int expand_videos(const caption_cfg *c, caption_items *items, long *n_videos, long *n_frames) {
    caption_items out = {0};
    *n_videos = *n_frames = 0;
    for (size_t i = 0; i < items->n; i++) {
        const caption_item *it = &items->v[i];
        double last = caption_is_video_name(it->path) ? video_last_frame(it->path) : -2;
        if (last < 0) { /* an image, a still, or unreadable (its error comes when it is read) */
            if (caption_items_push(&out, it->path, it->rel, -1)) goto oom;
            continue;
        }
        (*n_videos)++;
        long n = c->frames > 0 ? c->frames : (long)floor(last / c->every + 1e-9) + 1;
        *n_frames += n;
        for (long k = 0; k < n; k++) {
            double t = c->frames > 0 ? (c->frames == 1 ? 0.5 * last : last * (double)k / (double)(c->frames - 1))
                                     : c->every * (double)k;
            t = floor(t * 1000 + 1e-6) / 1000;
            if (caption_items_push(&out, it->path, it->rel, t)) goto oom;
        }
    }
    caption_items_free(items);
    *items = out;
    return 0;
oom:
    caption_items_free(&out);
    return -1;
}

/* ---- per item: prompt, key, sidecar name ---- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "{name}" -> file name, "{stem}" -> without extension, "{folder}" -> the parent folder's name. */
static char *expand_prompt(const char *tmpl, const char *path) {
    const char *name = base_name(path);
    const char *dot = strrchr(name, '.');
    size_t stem_len = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    const char *folder = "";
    size_t folder_len = 0;
    if (name != path) {
        const char *end = name - 1; /* the '/' before the name */
        const char *start = end;
        while (start > path && start[-1] != '/') start--;
        folder = start;
        folder_len = (size_t)(end - start);
    }
    caption_buf b = {0};
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{name}", 6)) { caption_buf_add(&b, name, strlen(name)); p += 6; }
        else if (!strncmp(p, "{stem}", 6)) { caption_buf_add(&b, name, stem_len); p += 6; }
        else if (!strncmp(p, "{folder}", 8)) { caption_buf_add(&b, folder, folder_len); p += 8; }
        else { caption_buf_add(&b, p, 1); p++; }
    }
    caption_buf_add(&b, "", 0);
    if (b.oom) { caption_buf_free(&b); return NULL; }
    return b.s;
}

static const char *item_key_path(const caption_cfg *c, const caption_item *it) { return c->hf ? it->rel : it->path; }

/* <dir>/<stem>.<ext>, or <dir>/<stem>_<t>s.<ext> for a video frame. */
static char *sidecar_path(const caption_cfg *c, const caption_item *it) {
    const char *name = base_name(it->path);
    const char *dot = strrchr(name, '.');
    size_t stem_end = (size_t)((dot && dot != name ? dot : name + strlen(name)) - it->path);
    caption_buf b = {0};
    caption_buf_add(&b, it->path, stem_end);
    if (it->frame_time >= 0) caption_buf_addf(&b, "_%.3fs", it->frame_time);
    caption_buf_addf(&b, ".%s", c->sidecar_ext);
    if (b.oom) { caption_buf_free(&b); return NULL; }
    return b.s;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes text to path atomically: a temporary file beside it, then link() (never replaces a file,
 * even one created meanwhile) or rename() with --force. 0, 1 when it exists (kept), -1 with errno. */
static int write_sidecar(const char *path, const char *text, int force) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 64);
    if (!tmp) return -1;
    const char *name = base_name(path);
    snprintf(tmp, n + 64, "%.*s.%s.janus-tmp-%ld", (int)(name - path), path, name, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { free(tmp); return -1; }
    int ok = write_all(fd, text, strlen(text)) == 0;
    ok = close(fd) == 0 && ok;
    int rc = -1;
    struct stat st;
    if (ok) {
        if (force) rc = rename(tmp, path) == 0 ? 0 : -1;
        else if (link(tmp, path) == 0) rc = 0;
        else if (errno == EEXIST) rc = 1;
        else if (stat(path, &st) == 0) rc = 1; /* a file system without hard links (FAT, some shares) */
        else rc = rename(tmp, path) == 0 ? 0 : -1;
    }
    int saved = errno;
    unlink(tmp);
    free(tmp);
    errno = saved;
    return rc;
}

/* ---- progress on stderr ---- */

typedef struct progress {
    double t0, last;
    long done, total, failed;
    int tty, quiet;
} progress;

static void progress_show(progress *pg, int final) {
    if (pg->quiet) return;
    double now = caption_now_s();
    if (!final && now - pg->last < (pg->tty ? 0.2 : 10.0)) return;
    pg->last = now;
    double el = now - pg->t0, per_min = el > 0 ? 60.0 * (double)pg->done / el : 0;
    char eta[32] = "-";
    if (per_min > 0 && pg->done < pg->total) {
        long s = (long)(60.0 * (double)(pg->total - pg->done) / per_min);
        snprintf(eta, sizeof eta, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, "%scaption %ld/%ld  %.1f items/min  ETA %s  failed %ld%s", pg->tty ? "\r" : "", pg->done,
            pg->total, per_min, eta, pg->failed, pg->tty && !final ? "   " : "\n");
    fflush(stderr);
}

/* ---- the run ---- */

typedef struct run_ctx {
    const caption_cfg *cfg;
    const caption_items *items;
    int out_fd;           /* JSONL output, -1: none */
    progress pg;
    long sidecars_kept;   /* existing sidecars left alone */
    int write_failed;
} run_ctx;

static int prepare_job(void *user, size_t item, caption_job *job) {
    const run_ctx *r = user;
    const caption_item *it = &r->items->v[item];
    job->question = expand_prompt(r->cfg->prompt, it->path);
    if (!job->question) return 1;
    job->seed = r->cfg->seed ^ caption_hash(it->rel) ^ (uint64_t)llround(1000.0 * (it->frame_time + 1));
    job->load_status = janus_image_load(it->path, it->frame_time >= 0 ? it->frame_time : -1, &job->image, &job->load_err);
    return 0;
}

static int on_result(void *user, const caption_result *res) {
    run_ctx *r = user;
    const caption_cfg *c = r->cfg;
    const caption_item *it = &r->items->v[res->item];
    caption_buf caption = {0};
    if (res->status == 0) {
        caption_buf_add(&caption, c->prefix, strlen(c->prefix));
        caption_buf_add(&caption, res->caption ? res->caption : "", res->caption ? strlen(res->caption) : 0);
        caption_buf_add(&caption, c->suffix, strlen(c->suffix));
    }
    const char *error = res->status ? (res->err && res->err->msg[0] ? res->err->msg : "failed") : NULL;
    if (error) {
        r->pg.failed++;
        if (r->out_fd < 0 || c->hf) {
            if (it->frame_time >= 0) fprintf(stderr, "%sjanus caption: %s at %.3f s: %s\n", r->pg.tty ? "\n" : "", it->path, it->frame_time, error);
            else fprintf(stderr, "%sjanus caption: %s: %s\n", r->pg.tty ? "\n" : "", it->path, error);
        }
    } else if (c->sidecar) {
        char *sp = sidecar_path(c, it);
        int w = sp ? write_sidecar(sp, caption.s ? caption.s : "", c->force) : -1;
        if (w == 1) r->sidecars_kept++;
        if (w < 0) {
            fprintf(stderr, "janus caption: cannot write %s: %s\n", sp ? sp : "a sidecar", strerror(errno));
            r->write_failed = 1;
        }
        free(sp);
        if (w < 0) { caption_buf_free(&caption); return 1; }
    }
    if (r->out_fd >= 0 && !(error && c->hf)) {
        caption_buf line = {0};
        caption_buf_add(&line, c->hf ? "{\"file_name\": " : "{\"path\": ", c->hf ? 14 : 9);
        caption_buf_add_json_string(&line, item_key_path(c, it));
        if (it->frame_time >= 0) caption_buf_addf(&line, ", \"frame_time\": %.3f", it->frame_time);
        if (error) {
            caption_buf_add(&line, ", \"error\": ", 11);
            caption_buf_add_json_string(&line, error);
        } else {
            caption_buf_add(&line, c->hf ? ", \"text\": " : ", \"caption\": ", c->hf ? 10 : 13);
            caption_buf_add_json_string(&line, caption.s ? caption.s : "");
            if (!c->hf) caption_buf_addf(&line, ", \"n_tokens\": %d, \"seconds\": %.3f", res->n_tokens, res->seconds);
        }
        caption_buf_add(&line, "}\n", 2);
        /* one write() per record: a kill between records leaves whole lines only */
        int bad = line.oom || write_all(r->out_fd, line.s, line.n);
        caption_buf_free(&line);
        if (bad) {
            fprintf(stderr, "janus caption: cannot write the output %s: %s\n", c->output ? c->output : "(stdout)",
                    strerror(errno));
            r->write_failed = 1;
            caption_buf_free(&caption);
            return 1;
        }
    }
    caption_buf_free(&caption);
    r->pg.done++;
    progress_show(&r->pg, 0);
    return 0;
}

/* One JSON line: where the time went (bench/bench_caption.sh reads it). */
static void print_stats(const janus_session *s, const progress *pg, int batch) {
    janus_session_stats st;
    janus_session_get_stats(s, &st);
    double wall = caption_now_s() - pg->t0;
    fprintf(stderr,
            "{\"items\": %ld, \"failed\": %ld, \"batch\": %d, \"seconds\": %.3f, \"items_per_min\": %.2f, "
            "\"images_encoded\": %ld, \"encode_s\": %.3f, \"tokens_prefilled\": %ld, \"prefill_s\": %.3f, "
            "\"tokens_decoded\": %ld, \"decode_s\": %.3f}\n",
            pg->done, pg->failed, batch, wall, wall > 0 ? 60.0 * (double)pg->done / wall : 0, st.images_encoded,
            st.encode_s, st.tokens_prefilled, st.prefill_s, st.tokens_decoded, st.decode_s);
}

/* ---- options ---- */

static int parse_shard(const char *v, int *k, int *n) {
    long a, b;
    const char *slash = strchr(v, '/');
    if (!slash) return 1;
    char left[32];
    size_t l = (size_t)(slash - v);
    if (l == 0 || l >= sizeof left) return 1;
    memcpy(left, v, l);
    left[l] = 0;
    if (cli_parse_int(left, &a) || cli_parse_int(slash + 1, &b) || b < 1 || b > 1000000 || a < 0 || a >= b) return 1;
    *k = (int)a;
    *n = (int)b;
    return 0;
}

/* Opens the JSONL output, refusing an existing one unless --resume (its records go into done,
 * a torn last line is cut off) or --force. Returns the fd, or -1 with the exit code in *rc. */
static int open_output(const caption_cfg *c, caption_keyset *done, int *rc) {
    struct stat st;
    int exists = stat(c->output, &st) == 0;
    if (exists && !c->resume && !c->force) {
        *rc = cli_usage_error("caption", "%s exists: --resume to add the missing items, --force to replace it", c->output);
        return -1;
    }
    if (exists && c->resume) {
        char *buf = NULL;
        size_t len = 0;
        if (caption_read_file(c->output, &buf, &len)) {
            fprintf(stderr, "janus caption: cannot read %s: %s\n", c->output, strerror(errno));
            *rc = 3;
            return -1;
        }
        long n_records = 0, n_bad = 0;
        long intact = caption_scan_output(buf, len, c->hf ? "file_name" : "path", done, &n_records, &n_bad);
        free(buf);
        if (intact < 0) { fprintf(stderr, "janus caption: out of memory\n"); *rc = 1; return -1; }
        if ((size_t)intact < len) {
            if (truncate(c->output, (off_t)intact)) {
                fprintf(stderr, "janus caption: cannot repair %s: %s\n", c->output, strerror(errno));
                *rc = 1;
                return -1;
            }
            fprintf(stderr, "janus caption: %s: cut off a torn last line (%zu bytes) left by an interrupted run\n",
                    c->output, len - (size_t)intact);
        }
        if (n_bad) fprintf(stderr, "janus caption: %s: %ld lines are not records (kept as they are)\n", c->output, n_bad);
        if (!c->quiet) fprintf(stderr, "janus caption: resuming: %ld records in %s\n", n_records, c->output);
    }
    int fd = open(c->output, O_WRONLY | O_CREAT | O_APPEND | (c->force ? O_TRUNC : 0), 0644);
    if (fd < 0) {
        fprintf(stderr, "janus caption: cannot open %s: %s\n", c->output, strerror(errno));
        *rc = 1;
    }
    return fd;
}

int cmd_caption(int argc, char **argv) {
    caption_cfg c = {.prompt = "Describe this image in detail.", .prefix = "", .suffix = "", .sidecar_ext = "txt",
                     .backend = "cpu", .max_tokens = 128, .batch = 8, .every = 1, .top_p = 1, .seed = 42, .shard_n = 1};
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_inputs = 0, every_given = 0;
    if (!inputs) return 1;
    int rc = 0;
    for (int i = 1, k; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long lv;
        float fv;
/* both leave the loop (rc is then non-zero) */
#define NEED() { if (!v) { rc = cli_usage_error("caption", "%s needs a value", a); break; } i++; }
#define BAD(...) { rc = cli_usage_error("caption", __VA_ARGS__); break; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); free(inputs); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); c.model = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED(); c.output = v; }
        else if (!strcmp(a, "--format")) {
            NEED();
            if (!strcmp(v, "hf")) c.hf = 1;
            else if (strcmp(v, "jsonl")) BAD("--format is jsonl or hf, got '%s'", v);
        }
        else if (!strcmp(a, "--resume")) c.resume = 1;
        else if (!strcmp(a, "--force")) c.force = 1;
        else if (!strcmp(a, "--sidecar")) c.sidecar = 1;
        else if (!strcmp(a, "--sidecar-ext")) {
            NEED();
            if (!v[0] || strchr(v, '/')) BAD("--sidecar-ext needs an extension like txt, got '%s'", v);
            c.sidecar_ext = v[0] == '.' ? v + 1 : v;
        }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { NEED(); c.prompt = v; }
        else if (!strcmp(a, "--prefix")) { NEED(); c.prefix = v; }
        else if (!strcmp(a, "--suffix")) { NEED(); c.suffix = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) { NEED(); if (cli_parse_int(v, &lv) || lv < 1 || lv > 1000000) BAD("--max-tokens needs a positive integer, got '%s'", v); c.max_tokens = (int)lv; }
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch")) { NEED(); if (cli_parse_int(v, &lv) || lv < 1 || lv > 256) BAD("--batch needs an integer in 1..256, got '%s'", v); c.batch = (int)lv; }
        else if (!strcmp(a, "--every")) { NEED(); if (cli_parse_float(v, &fv) || fv < 0.001f || fv > 1e6f) BAD("--every needs seconds >= 0.001, got '%s'", v); c.every = fv; every_given = 1; }
        else if (!strcmp(a, "--frames")) { NEED(); if (cli_parse_int(v, &lv) || lv < 1 || lv > 100000) BAD("--frames needs an integer in 1..100000, got '%s'", v); c.frames = (int)lv; }
        else if (!strcmp(a, "--shard")) { NEED(); if (parse_shard(v, &c.shard_k, &c.shard_n)) BAD("--shard needs K/N with 0 <= K < N, got '%s'", v); }
        else if (!strcmp(a, "--temp")) { NEED(); if (cli_parse_float(v, &c.temperature) || c.temperature < 0) BAD("--temp needs a number >= 0, got '%s'", v); }
        else if (!strcmp(a, "--top-k")) { NEED(); if (cli_parse_int(v, &lv) || lv < 0 || lv > 1000000) BAD("--top-k needs an integer >= 0, got '%s'", v); c.top_k = (int)lv; }
        else if (!strcmp(a, "--top-p")) { NEED(); if (cli_parse_float(v, &c.top_p) || c.top_p <= 0 || c.top_p > 1) BAD("--top-p needs a number in (0, 1], got '%s'", v); }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) { NEED(); if (cli_parse_u64(v, &c.seed)) BAD("--seed needs a non-negative integer, got '%s'", v); }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { NEED(); if (cli_parse_int(v, &c.threads) || c.threads < 1 || c.threads > 1024) BAD("--threads needs a positive integer, got '%s'", v); }
        else if (!strcmp(a, "--backend")) { NEED(); c.backend = v; }
        else if ((k = cli_memory_opt("caption", argc, argv, &i, &c.kv_type, &c.mem_limit)) != 0) { if (k < 0) return -k; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) c.quiet = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) c.verbose = 1;
        else if (a[0] == '-' && a[1]) BAD("unknown option '%s'", a)
        else inputs[n_inputs++] = a;
#undef NEED
#undef BAD
    }
    int to_stdout = !c.output && !c.sidecar;
    if (c.output && !strcmp(c.output, "-")) c.output = NULL, to_stdout = 1; /* "-o -" */
    if (rc == 0 && !c.model) rc = cli_usage_error("caption", "no model given (-m MODEL.gguf)");
    if (rc == 0 && n_inputs == 0) rc = cli_usage_error("caption", "no input given (images, folders, @list or -)");
    if (rc == 0 && c.resume && c.force) rc = cli_usage_error("caption", "--resume and --force exclude each other");
    if (rc == 0 && c.frames && every_given) rc = cli_usage_error("caption", "--every and --frames exclude each other");
    if (rc == 0 && (c.resume || c.force) && !c.output && !c.sidecar)
        rc = cli_usage_error("caption", "--resume/--force need an output file (-o) or --sidecar");
    int n_stdin = 0;
    for (int i = 0; i < n_inputs; i++) n_stdin += !strcmp(inputs[i], "-");
    if (rc == 0 && n_stdin > 1) rc = cli_usage_error("caption", "'-' (the list on stdin) can be given once");
    if (rc) { free(inputs); return rc; }

    /* items: listed, deduplicated, this shard's, videos expanded into frames */
    caption_items all = {0}, items = {0};
    char msg[1024];
    for (int i = 0; i < n_inputs; i++) {
        if (caption_collect(inputs[i], &all, msg, sizeof msg)) {
            fprintf(stderr, "janus caption: %s\n", msg);
            caption_items_free(&all);
            free(inputs);
            return 3;
        }
    }
    free(inputs);
    caption_keyset seen = {0};
    for (size_t i = 0; i < all.n && rc == 0; i++) {
        const caption_item *it = &all.v[i];
        if (!caption_in_shard(it->rel, c.shard_k, c.shard_n)) continue;
        char *k = caption_record_key(it->path, -1);
        if (!k) { rc = 1; break; }
        if (caption_keyset_has(&seen, k)) { free(k); continue; } /* the same file named twice */
        if (caption_keyset_add(&seen, k) || caption_items_push(&items, it->path, it->rel, -1)) rc = 1;
    }
    caption_keyset_free(&seen);
    caption_items_free(&all);
    long n_videos = 0, n_frames = 0;
    if (rc == 0 && expand_videos(&c, &items, &n_videos, &n_frames)) rc = 1;
    if (rc) {
        fprintf(stderr, "janus caption: out of memory listing the inputs\n");
        caption_items_free(&items);
        return 1;
    }

    /* output: refuse to overwrite before the model loads; resume keys from what is there */
    caption_keyset done = {0};
    int out_fd = -1;
    if (c.output) {
        out_fd = open_output(&c, &done, &rc);
        if (out_fd < 0) { caption_keyset_free(&done); caption_items_free(&items); return rc; }
    } else if (to_stdout) {
        out_fd = STDOUT_FILENO;
    }
    size_t *order = malloc((items.n ? items.n : 1) * sizeof *order);
    size_t n_todo = 0;
    long n_skipped = 0;
    for (size_t i = 0; order && i < items.n; i++) {
        const caption_item *it = &items.v[i];
        int skip = 0;
        if (c.output && c.resume) {
            char *k = caption_record_key(item_key_path(&c, it), it->frame_time);
            skip = k && caption_keyset_has(&done, k);
            free(k);
        } else if (!c.output && c.sidecar && !c.force) {
            char *sp = sidecar_path(&c, it);
            struct stat st;
            skip = sp && stat(sp, &st) == 0;
            free(sp);
        }
        if (skip) n_skipped++;
        else order[n_todo++] = i;
    }
    caption_keyset_free(&done);
    if (!order) {
        fprintf(stderr, "janus caption: out of memory\n");
        if (out_fd > STDOUT_FILENO) close(out_fd);
        caption_items_free(&items);
        return 1;
    }
    if (!c.quiet) {
        fprintf(stderr, "janus caption: %zu items", items.n);
        if (n_videos) fprintf(stderr, " (%ld frames of %ld video%s)", n_frames, n_videos, n_videos > 1 ? "s" : "");
        if (c.shard_n > 1) fprintf(stderr, " in shard %d/%d", c.shard_k, c.shard_n);
        if (n_skipped) fprintf(stderr, ", %ld already done", n_skipped);
        fprintf(stderr, ", %zu to caption\n", n_todo);
    }

    run_ctx r = {.cfg = &c, .items = &items, .out_fd = out_fd};
    r.pg.total = (long)n_todo;
    r.pg.tty = isatty(STDERR_FILENO);
    r.pg.quiet = c.quiet;
    janus_model *m = NULL;
    janus_session *s = NULL;
    if (n_todo > 0) {
        janus_error err = {0};
        janus_load_params lp = janus_load_default_params();
        lp.backend = c.backend;
        lp.n_threads = (int)c.threads;
        lp.kv_type = c.kv_type;
        m = janus_model_load(c.model, &lp, &err);
        if (!m) rc = cli_fail("caption", &err);
        janus_session_params sp = janus_session_default_params();
        sp.max_rows = c.batch; /* one LM row per sequence */
        sp.mem_limit = c.mem_limit;
        if (m && !(s = janus_session_create(m, &sp, &err))) rc = cli_fail("caption", &err);
        if (rc == 0) {
            /* the reader decodes the next images while the model works on these */
            caption_reader *reader = caption_reader_start(order, n_todo, 2 * c.batch, prepare_job, &r);
            if (!reader) {
                fprintf(stderr, "janus caption: cannot start the reader thread\n");
                rc = 1;
            } else {
                caption_engine_params ep = {.batch = c.batch, .max_tokens = c.max_tokens, .temperature = c.temperature,
                                            .top_k = c.top_k, .top_p = c.top_p};
                r.pg.t0 = caption_now_s();
                int st = caption_engine_run(s, &ep, reader, on_result, &r, &err);
                caption_reader_stop(reader);
                if (st < 0) rc = cli_fail("caption", &err);
                else if (st > 0 || r.write_failed) rc = 1;
                else if (r.pg.done < r.pg.total) { /* the reader stopped early */
                    fprintf(stderr, "janus caption: out of memory preparing the items\n");
                    rc = 1;
                }
                progress_show(&r.pg, 1);
                if (c.verbose) print_stats(s, &r.pg, c.batch);
            }
        }
    }
    janus_session_free(s);
    janus_model_free(m);
    if (out_fd > STDOUT_FILENO && close(out_fd) != 0 && rc == 0) {
        fprintf(stderr, "janus caption: cannot write %s: %s\n", c.output, strerror(errno));
        rc = 1;
    }
    if (r.sidecars_kept && !c.quiet)
        fprintf(stderr, "janus caption: %ld existing sidecars kept (--force replaces them)\n", r.sidecars_kept);
    free(order);
    caption_items_free(&items);
    if (rc == 0 && r.pg.failed > 0) rc = EXIT_SOME_FAILED;
    return rc;
}
