/* api/image_api.c — the public image functions of janus.h (load, write, free) over the engine's
 * image I/O (engine/image_io.h): decode exactly like PIL's open().convert("RGB"), write PNG (with
 * text chunks) or JPEG chosen by the file extension, never overwriting unless asked. */
#include "janus.h"

#include <stdlib.h>
#include <string.h>

#include "engine/io/image_io.h"

/* janus_error mirrors jn_error (asserted in api/model.c). */
#define IMG_ERR(e) ((jn_error *)(void *)(e))

int janus_image_load(const char *path, double at_seconds, janus_image *out, janus_error *err) {
    if (!out) return jn_fail(IMG_ERR(err), JN_ERR_USAGE, "janus_image_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return jn_fail(IMG_ERR(err), JN_ERR_USAGE, "janus_image_load: path is NULL");
    jn_rgb_image img;
    jn_status st = jn_image_decode_file(path, at_seconds, &img, IMG_ERR(err));
    if (st) return st;
    out->width = img.w;
    out->height = img.h;
    out->rgb = img.rgb;
    return JANUS_OK;
}

int janus_image_load_memory(const void *data, size_t len, const char *what, janus_image *out, janus_error *err) {
    if (!out) return jn_fail(IMG_ERR(err), JN_ERR_USAGE, "janus_image_load_memory: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && len) return jn_fail(IMG_ERR(err), JN_ERR_USAGE, "janus_image_load_memory: data is NULL");
    jn_rgb_image img;
    jn_status st = jn_image_decode_memory((const uint8_t *)data, len, what ? what : "image data", &img, IMG_ERR(err));
    if (st) return st;
    out->width = img.w;
    out->height = img.h;
    out->rgb = img.rgb;
    return JANUS_OK;
}

/* Case-insensitive "does path end with ext". */
static int ends_with(const char *path, const char *ext) {
    size_t n = strlen(path), m = strlen(ext);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++) {
        char c = path[n - m + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != ext[i]) return 0;
    }
    return 1;
}

/* n_kv: number of (key, value) pairs in text_kv (2 * n_kv strings). */
int janus_image_write(const janus_image *img, const char *path, const char *const *text_kv, int n_kv, int force,
                      int jpeg_quality, janus_error *err) {
    if (!img || !img->rgb || !path)
        return jn_fail(IMG_ERR(err), JN_ERR_USAGE, "janus_image_write: image or path is NULL");
    if (ends_with(path, ".png"))
        return jn_image_write_png(path, img->rgb, img->width, img->height, text_kv, n_kv, force, IMG_ERR(err));
    if (ends_with(path, ".jpg") || ends_with(path, ".jpeg")) {
        const char *comment = NULL; /* JPEG has no key/value text: the A1111-style "parameters" text goes in a COM segment */
        for (int i = 0; i < n_kv && text_kv; i++)
            if (!strcmp(text_kv[2 * i], "parameters")) comment = text_kv[2 * i + 1];
        return jn_image_write_jpeg_comment(path, img->rgb, img->width, img->height, jpeg_quality, comment, force,
                                           IMG_ERR(err));
    }
    return jn_fail(IMG_ERR(err), JN_ERR_USAGE, "%s: unknown image extension (use .png, .jpg or .jpeg)", path);
}

void janus_image_free(janus_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

void janus_images_free(janus_image *imgs, int n) {
    if (!imgs) return;
    for (int i = 0; i < n; i++) janus_image_free(&imgs[i]);
    free(imgs);
}
