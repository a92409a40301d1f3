// janus-test-libs: janus_engine
/* tests/test_unit_caption.c — the parsers and small rules of `janus caption` (cli/caption_*.c):
 * list-file lines, record keys and resume scans (torn lines, foreign lines, escapes), JSON string
 * output (control characters, invalid UTF-8 replaced as Python's decode(errors="replace") does),
 * the shard hash (fixed values: shards must agree across machines and versions), folder listing. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/caption_input.c"
#include "cli/caption_jsonl.c"

static int fails = 0;
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            fails++;                                                        \
        }                                                                   \
    } while (0)

typedef struct lines {
    char got[16][64];
    long line_no[16];
    int n;
} lines;

static int collect_line(void *user, const char *line, size_t len, long line_no) {
    lines *l = user;
    if (l->n == 16 || len >= 64) return 7;
    memcpy(l->got[l->n], line, len);
    l->got[l->n][len] = 0;
    l->line_no[l->n++] = line_no;
    return 0;
}

static void test_list_lines(void) {
    const char text[] = "# header\r\na.png\r\n\n  b c.jpg\nlast.png"; /* no final newline */
    lines l = {0};
    char msg[128] = "";
    CHECK(caption_list_lines(text, strlen(text), collect_line, &l, msg, sizeof msg) == 0);
    CHECK(l.n == 3);
    CHECK(!strcmp(l.got[0], "a.png") && l.line_no[0] == 2);
    CHECK(!strcmp(l.got[1], "  b c.jpg") && l.line_no[1] == 4); /* spaces are part of a path */
    CHECK(!strcmp(l.got[2], "last.png") && l.line_no[2] == 5);
    const char nul[] = "ok.png\nbad\0.png\n";
    lines l2 = {0};
    CHECK(caption_list_lines(nul, sizeof nul - 1, collect_line, &l2, msg, sizeof msg) == -1);
    CHECK(strstr(msg, "line 2") != NULL);
    lines l3 = {0};
    CHECK(caption_list_lines("", 0, collect_line, &l3, msg, sizeof msg) == 0 && l3.n == 0);
}

static char *json_of(const char *s) {
    caption_buf b = {0};
    caption_buf_add_json_string(&b, s);
    return b.s;
}

static void test_json_strings(void) {
    char *j = json_of("a\"b\\c\nd\te\x01\x7f");
    CHECK(j && !strcmp(j, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\""));
    free(j);
    j = json_of("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"); /* valid UTF-8 passes through */
    CHECK(j && !strcmp(j, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\""));
    free(j);
    /* invalid: a lone continuation, a truncated 3-byte sequence (one U+FFFD for its maximal
     * subpart, as Python), an overlong 2-byte form, a surrogate, a byte > F4 */
    j = json_of("\x80|\xE4\xB8|\xC0\xAF|\xED\xA0\x80|\xFF");
    CHECK(j && !strcmp(j, "\"\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\""));
    free(j);
}

static void test_record_keys(void) {
    const char *r = "{\"path\": \"a/b.png\", \"caption\": \"x\", \"n_tokens\": 3}";
    char *k = caption_parse_record_key(r, strlen(r), "path");
    char *want = caption_record_key("a/b.png", -1);
    CHECK(k && want && !strcmp(k, want));
    free(k);
    free(want);
    const char *v = "{\"path\":\"v.mp4\",\"frame_time\":2.000,\"error\":\"bad\"}";
    k = caption_parse_record_key(v, strlen(v), "path");
    want = caption_record_key("v.mp4", 2.0);
    CHECK(k && want && !strcmp(k, want));
    free(k);
    free(want);
    /* escapes decode back to the path; nested values are skipped */
    const char *e = "{\"extra\": {\"a\": [1, {\"b\": null}]}, \"path\": \"q\\\"\\u00e9\\ud83d\\ude00\\/x\"}";
    k = caption_parse_record_key(e, strlen(e), "path");
    want = caption_record_key("q\"\xC3\xA9\xF0\x9F\x98\x80/x", -1);
    CHECK(k && want && !strcmp(k, want));
    free(k);
    free(want);
    /* a name written with invalid UTF-8 round-trips through its sanitized form */
    caption_buf line = {0};
    caption_buf_add(&line, "{\"file_name\": ", 14);
    caption_buf_add_json_string(&line, "bad\xFFname.png");
    caption_buf_add(&line, "}", 1);
    k = caption_parse_record_key(line.s, line.n, "file_name");
    want = caption_record_key("bad\xFFname.png", -1);
    CHECK(k && want && !strcmp(k, want));
    free(k);
    free(want);
    caption_buf_free(&line);
    /* not records */
    const char *bad[] = {"", "[]", "{\"path\": 3}", "{\"caption\": \"x\"}", "{\"path\": \"a\"", "{\"path\": \"a\"} x",
                         "{\"path\": \"a\\u0000\"}", "{\"path\": \"\\ud800\"}", "{\"path\" \"a\"}", "{\"path\": \"a\",}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        k = caption_parse_record_key(bad[i], strlen(bad[i]), "path");
        if (k) fprintf(stderr, "parsed a non-record: %s\n", bad[i]);
        CHECK(k == NULL);
        free(k);
    }
}

static void test_scan_output(void) {
    const char out[] = "{\"path\": \"a.png\", \"caption\": \"x\"}\n"
                       "garbage line\n"
                       "{\"path\": \"v.mp4\", \"frame_time\": 1.000, \"caption\": \"y\"}\n"
                       "{\"path\": \"b.png\", \"capt"; /* torn by a kill */
    caption_keyset keys = {0};
    long n_rec = 0, n_bad = 0;
    long intact = caption_scan_output(out, strlen(out), "path", &keys, &n_rec, &n_bad);
    CHECK(intact == (long)(strstr(out, "{\"path\": \"b.png\"") - out));
    CHECK(n_rec == 2 && n_bad == 1);
    char *ka = caption_record_key("a.png", -1), *kv = caption_record_key("v.mp4", 1.0),
         *kv0 = caption_record_key("v.mp4", 0.0), *kb = caption_record_key("b.png", -1);
    CHECK(caption_keyset_has(&keys, ka) && caption_keyset_has(&keys, kv));
    CHECK(!caption_keyset_has(&keys, kv0) && !caption_keyset_has(&keys, kb));
    free(ka); free(kv); free(kv0); free(kb);
    caption_keyset_free(&keys);
    /* many keys: the set grows */
    caption_keyset big = {0};
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "img%05d.png", i);
        CHECK(caption_keyset_add(&big, caption_record_key(name, -1)) == 0);
    }
    CHECK(big.n == 5000);
    snprintf(name, sizeof name, "img%05d.png", 4321);
    char *k = caption_record_key(name, -1);
    CHECK(caption_keyset_has(&big, k));
    free(k);
    k = caption_record_key("img05000.png", -1);
    CHECK(!caption_keyset_has(&big, k));
    free(k);
    caption_keyset_free(&big);
}

static void test_shards(void) {
    /* FNV-1a 64 reference values: a change here re-shards every user's dataset */
    CHECK(caption_hash("") == 0xcbf29ce484222325ull);
    CHECK(caption_hash("a") == 0xaf63dc4c8601ec8cull);
    CHECK(caption_hash("foobar") == 0x85944171f73967e8ull);
    int count[3] = {0, 0, 0};
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "dir/img%03d.jpg", i);
        int owners = 0;
        for (int k = 0; k < 3; k++)
            if (caption_in_shard(name, k, 3)) owners++, count[k]++;
        CHECK(owners == 1);
        CHECK(caption_in_shard(name, 0, 1));
    }
    CHECK(count[0] > 60 && count[1] > 60 && count[2] > 60);
}

static void test_names_and_folders(void) {
    CHECK(caption_is_image_name("a/B.JPG") && caption_is_image_name("x.tiff") && !caption_is_image_name("x.txt"));
    CHECK(!caption_is_image_name(".png") && !caption_is_image_name("dir.png/file"));
    CHECK(caption_is_video_name("clip.MP4") && !caption_is_video_name("clip.png"));
    const char *tmp = getenv("JANUS_TEST_TMP");
    char root[512];
    snprintf(root, sizeof root, "%s/unit-caption-%d", tmp ? tmp : "/tmp", (int)getpid());
    char p[600];
    mkdir(root, 0755);
    snprintf(p, sizeof p, "%s/z", root); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/z/loop", root);
    CHECK(symlink("..", p) == 0); /* a folder loop must end */
    const char *files[] = {"b.png", "a.jpg", "z/c.webp", ".h.png", "n.txt"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        FILE *f = fopen(p, "w");
        if (f) fclose(f);
    }
    caption_items items = {0};
    char msg[256];
    CHECK(caption_collect(root, &items, msg, sizeof msg) == 0);
    CHECK(items.n == 3);
    if (items.n == 3) {
        CHECK(!strcmp(items.v[0].rel, "a.jpg") && !strcmp(items.v[1].rel, "b.png") && !strcmp(items.v[2].rel, "z/c.webp"));
        snprintf(p, sizeof p, "%s/z/c.webp", root);
        CHECK(!strcmp(items.v[2].path, p));
    }
    caption_items_free(&items);
    snprintf(p, sizeof p, "%s/list.txt", root);
    FILE *f = fopen(p, "w");
    if (f) { fputs("./z/c.webp\n/abs/x.png\n", f); fclose(f); }
    char arg[620];
    snprintf(arg, sizeof arg, "@%s", p);
    CHECK(caption_collect(arg, &items, msg, sizeof msg) == 0 && items.n == 2);
    if (items.n == 2) {
        snprintf(p, sizeof p, "%s/z/c.webp", root);
        CHECK(!strcmp(items.v[0].path, p) && !strcmp(items.v[0].rel, "z/c.webp"));
        CHECK(!strcmp(items.v[1].path, "/abs/x.png"));
    }
    caption_items_free(&items);
    snprintf(arg, sizeof arg, "@%s/missing.txt", root);
    CHECK(caption_collect(arg, &items, msg, sizeof msg) == -1 && strstr(msg, "missing.txt"));
    caption_items_free(&items);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

int main(void) {
    test_list_lines();
    test_json_strings();
    test_record_keys();
    test_scan_output();
    test_shards();
    test_names_and_folders();
    if (fails) fprintf(stderr, "%d failures\n", fails);
    return fails ? 1 : 0;
}
