/* tests/test_unit_image_api.c — janus_image_load_memory (the public in-memory decode the server
 * uses for uploads): the same pixels as janus_image_load for PNG and JPEG fixtures; other
 * formats, truncated data and bad arguments give errors that say so, and never crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "janus.h"
#include "testutil.h"

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b && len > 0 ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

static void same_as_file(const char *rel) {
    const char *path = tu_fixture(rel);
    size_t n = 0;
    unsigned char *bytes = read_all(path, &n);
    TU_CHECK(bytes && n > 0, "cannot read %s", path);
    if (!bytes || !n) return;
    janus_image a = {0}, b = {0};
    janus_error err = {0};
    TU_CHECK(janus_image_load(path, -1, &a, &err) == JANUS_OK, "%s: %s", rel, err.msg);
    TU_CHECK(janus_image_load_memory(bytes, n, rel, &b, &err) == JANUS_OK, "%s from memory: %s", rel, err.msg);
    int same = a.rgb && b.rgb && a.width == b.width && a.height == b.height &&
               !memcmp(a.rgb, b.rgb, (size_t)a.width * a.height * 3);
    TU_CHECK(same, "%s: memory decode differs from the file decode", rel);
    fprintf(stderr, "%s %s: %dx%d, memory == file\n", same ? "ok  " : "FAIL", rel, b.width, b.height);
    /* truncated: an error naming the data, nothing allocated */
    janus_image t = {0};
    int rc = janus_image_load_memory(bytes, n / 2, "half an image", &t, &err);
    TU_CHECK(rc != JANUS_OK && t.rgb == NULL && strstr(err.msg, "half an image"), "%s truncated: rc %d, '%s'", rel,
             rc, err.msg);
    janus_image_free(&a);
    janus_image_free(&b);
    free(bytes);
}

int main(void) {
    same_as_file("janus-tiny-a/golden/tiny-a/images/img2_384x384.png");
    same_as_file("janus-tiny-a/golden/tiny-a/images/img1_300x500.jpg");
    janus_error err = {0};
    janus_image img = {0};
    static const unsigned char bmp[64] = {'B', 'M'};
    TU_CHECK(janus_image_load_memory(bmp, sizeof bmp, NULL, &img, &err) == JANUS_ERR_FORMAT && img.rgb == NULL,
             "BMP bytes: want JANUS_ERR_FORMAT, got '%s'", err.msg);
    fprintf(stderr, "ok   other formats: %s\n", err.msg);
    TU_CHECK(janus_image_load_memory(NULL, 10, NULL, &img, &err) == JANUS_ERR_USAGE, "NULL data accepted");
    TU_CHECK(janus_image_load_memory(bmp, 0, NULL, &img, &err) != JANUS_OK, "empty data accepted");
    TU_CHECK(janus_image_load_memory(bmp, sizeof bmp, NULL, NULL, &err) == JANUS_ERR_USAGE, "NULL out accepted");
    return TU_RESULT();
}
