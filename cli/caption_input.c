/* cli/caption_input.c — listing the items of `janus caption` (see caption_input.h). */
#define _POSIX_C_SOURCE 200809L
#include "caption_input.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void caption_items_free(caption_items *items) {
    for (size_t i = 0; i < items->n; i++) {
        free(items->v[i].path);
        free(items->v[i].rel);
    }
    free(items->v);
    items->v = NULL;
    items->n = items->cap = 0;
}

int caption_items_push(caption_items *items, const char *path, const char *rel, double frame_time) {
    if (items->n == items->cap) {
        size_t cap = items->cap ? 2 * items->cap : 64;
        caption_item *v = realloc(items->v, cap * sizeof *v);
        if (!v) return -1;
        items->v = v;
        items->cap = cap;
    }
    caption_item *it = &items->v[items->n];
    it->path = strdup(path);
    it->rel = strdup(rel);
    it->frame_time = frame_time;
    if (!it->path || !it->rel) {
        free(it->path);
        free(it->rel);
        return -1;
    }
    items->n++;
    return 0;
}

static int has_ext(const char *name, const char *const *exts) {
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (!dot || (slash && dot < slash) || dot == name || dot[-1] == '/') return 0;
    for (int i = 0; exts[i]; i++)
        if (!strcasecmp(dot + 1, exts[i])) return 1;
    return 0;
}

static const char *const IMAGE_EXTS[] = {"png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff", NULL};
static const char *const VIDEO_EXTS[] = {"mp4", "mkv", "webm", "mov", "avi", "m4v", "mpg", "mpeg",
                                         "flv", "wmv", "ts",  "3gp", "ogv", "y4m", NULL};

int caption_is_image_name(const char *name) { return has_ext(name, IMAGE_EXTS); }
int caption_is_video_name(const char *name) { return has_ext(name, VIDEO_EXTS); }

uint64_t caption_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

int caption_in_shard(const char *rel, int k, int n) { return n <= 1 || caption_hash(rel) % (uint64_t)n == (uint64_t)k; }

int caption_read_file(const char *path, char **buf, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; errno = ENOMEM; break; }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) { free(b); b = NULL; errno = EIO; }
            break;
        }
    }
    if (f != stdin) fclose(f);
    if (!b) return -1;
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

int caption_list_lines(const char *buf, size_t len, caption_line_fn on_line, void *user, char *msg, size_t msg_size) {
    long line_no = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && buf[end] != '\n') end++;
        line_no++;
        size_t n = end - i;
        if (n > 0 && buf[i + n - 1] == '\r') n--;
        if (memchr(buf + i, 0, n)) {
            snprintf(msg, msg_size, "line %ld holds a NUL byte (not a text list of paths)", line_no);
            return -1;
        }
        if (n > 0 && buf[i] != '#') {
            int r = on_line(user, buf + i, n, line_no);
            if (r) return r;
        }
        i = end + 1;
    }
    return 0;
}

/* "./a/b" -> "a/b"; "a//b" keeps its form (a path is what the user wrote). */
static const char *strip_dot_slash(const char *s) {
    while (s[0] == '.' && s[1] == '/') {
        s += 2;
        while (*s == '/') s++;
    }
    return s;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/') p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

/* ---- folders ---- */

typedef struct dir_walk {
    caption_items *out;
    const char *root;  /* the input argument */
    dev_t devs[64];    /* folders on the current path, to stop at symlink loops */
    ino_t inos[64];
    int depth;
    char *msg;
    size_t msg_size;
} dir_walk;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* rel: this folder's path relative to the root ("" for the root). */
static int walk_dir(dir_walk *w, const char *rel) {
    char *dir = rel[0] ? join_path(w->root, rel) : strdup(w->root);
    if (!dir) return -1;
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(w->msg, w->msg_size, "%s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    for (int i = 0; i < w->depth; i++)
        if (w->devs[i] == st.st_dev && w->inos[i] == st.st_ino) { free(dir); return 0; } /* a loop */
    if (w->depth == 64) { free(dir); return 0; }
    w->devs[w->depth] = st.st_dev;
    w->inos[w->depth] = st.st_ino;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(w->msg, w->msg_size, "%s: cannot list the folder (%s)", dir, strerror(errno));
        free(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ".", "..", hidden files and our own temporaries */
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? 2 * cap : 32) * sizeof *nn);
            if (!nn) { rc = -1; break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1) qsort(names, n, sizeof *names, cmp_str); /* names is NULL in an empty folder */
    w->depth++;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *child_rel = rel[0] ? join_path(rel, names[i]) : strdup(names[i]);
        char *child = child_rel ? join_path(w->root, child_rel) : NULL;
        if (!child) { free(child_rel); rc = -1; break; }
        struct stat cs;
        if (stat(child, &cs) == 0 && S_ISDIR(cs.st_mode)) {
            rc = walk_dir(w, child_rel);
        } else if (caption_is_image_name(names[i]) || caption_is_video_name(names[i])) {
            /* a dangling link or unreadable file still becomes an item: its error is recorded */
            if (caption_items_push(w->out, child, child_rel, -1)) rc = -1;
        }
        free(child);
        free(child_rel);
    }
    w->depth--;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(dir);
    if (rc && !w->msg[0]) snprintf(w->msg, w->msg_size, "out of memory listing %s", w->root);
    return rc;
}

/* ---- list files ---- */

typedef struct list_ctx {
    caption_items *out;
    const char *base;  /* folder that relative lines are relative to ("" = current) */
    int failed_alloc;
} list_ctx;

static int on_list_line(void *user, const char *line, size_t len, long line_no) {
    (void)line_no;
    list_ctx *c = user;
    char *rel = strndup(line, len);
    if (!rel) { c->failed_alloc = 1; return -1; }
    const char *r = strip_dot_slash(rel);
    char *path = (r[0] == '/' || !c->base[0]) ? strdup(r) : join_path(c->base, r);
    int rc = path ? caption_items_push(c->out, path, r, -1) : -1;
    if (rc) c->failed_alloc = 1;
    free(path);
    free(rel);
    return rc;
}

static int collect_list(const char *list_path, caption_items *out, char *msg, size_t msg_size) {
    char *buf = NULL;
    size_t len = 0;
    const char *shown = strcmp(list_path, "-") ? list_path : "standard input";
    if (caption_read_file(list_path, &buf, &len)) {
        snprintf(msg, msg_size, "list file %s: %s", shown, strerror(errno));
        return -1;
    }
    char *base = strdup("");
    const char *slash = strrchr(list_path, '/');
    if (strcmp(list_path, "-") && slash) {
        free(base);
        base = strndup(list_path, (size_t)(slash - list_path) + 1);
    }
    list_ctx c = {out, base ? base : "", 0};
    char lmsg[256] = "";
    int rc = base ? caption_list_lines(buf, len, on_list_line, &c, lmsg, sizeof lmsg) : -1;
    if (rc) {
        if (c.failed_alloc || !base) snprintf(msg, msg_size, "list file %s: out of memory", shown);
        else snprintf(msg, msg_size, "list file %s: %s", shown, lmsg);
    }
    free(base);
    free(buf);
    return rc ? -1 : 0;
}

int caption_collect(const char *arg, caption_items *out, char *msg, size_t msg_size) {
    msg[0] = 0;
    if (!strcmp(arg, "-")) return collect_list("-", out, msg, msg_size);
    if (arg[0] == '@') return collect_list(arg + 1, out, msg, msg_size);
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        dir_walk w = {.out = out, .root = arg, .msg = msg, .msg_size = msg_size};
        return walk_dir(&w, "");
    }
    /* one file (a missing one too: its error becomes a record, the run goes on) */
    const char *slash = strrchr(arg, '/');
    if (caption_items_push(out, arg, slash ? slash + 1 : arg, -1)) {
        snprintf(msg, msg_size, "out of memory");
        return -1;
    }
    return 0;
}
