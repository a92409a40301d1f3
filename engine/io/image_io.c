/* engine/image_io.c — decode image files to 8-bit RGB exactly like PIL's open().convert("RGB"), and
 * write PNG/JPEG. See image_io.h for the Pillow rules implemented and the limits.
 *
 * Layout: PNG (libpng, raw rows converted by our own code so every bit depth / colour type follows
 * Pillow, not libpng's transforms), JPEG (libjpeg-turbo), FFmpeg for everything else (images and
 * video frames), then the writers (temp file beside the target + link/rename).
 * libpng/libjpeg report errors by longjmp: every resource that must be freed after a longjmp lives
 * in a heap context whose pointer is set before setjmp and never changed afterwards. */
#define _POSIX_C_SOURCE 200809L
#include "image_io.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "image_io_ffmpeg.h"

void jn_rgb_image_free(jn_rgb_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

jn_status jn_image_check_size(const char *what, long long w, long long h, jn_error *err) {
    if (w <= 0 || h <= 0)
        return jn_fail(err, JN_ERR_FORMAT, "%s: image has size %lldx%lld (width and height must be at least 1)", what, w,
                       h);
    if (w > JN_IMAGE_MAX_SIDE || h > JN_IMAGE_MAX_SIDE || w * h > JN_IMAGE_MAX_PIXELS)
        return jn_fail(err, JN_ERR_FORMAT,
                       "%s: image is %lldx%lld = %lld pixels; refusing to decode more than %lld pixels or a side longer "
                       "than %d (decompression-bomb limit)",
                       what, w, h, w * h, (long long)JN_IMAGE_MAX_PIXELS, JN_IMAGE_MAX_SIDE);
    return JN_OK;
}

/* Allocates out->rgb for w x h (size already checked). */
jn_status jn_image_alloc_rgb(jn_rgb_image *out, int w, int h, const char *what, jn_error *err) {
    size_t n = (size_t)w * (size_t)h * 3;
    out->rgb = (uint8_t *)malloc(n);
    if (!out->rgb) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory for a %dx%d RGB image (%zu bytes)", what, w, h, n);
    out->w = w;
    out->h = h;
    return JN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* PNG                                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct png_dec {
    const uint8_t *data;
    size_t len, pos;
    char msg[256];      /* libpng's error text */
    int size_refused;   /* our own size check failed (err already filled) */
    uint8_t *rows;      /* one raw row (of the image, or of an interlace pass) */
    uint8_t *pass_rgb;  /* interlaced images: one pass row in RGB before it is scattered */
    jn_rgb_image img;
} png_dec;

static void png_mem_read(png_structp png, png_bytep out, size_t n) {
    png_dec *d = (png_dec *)png_get_io_ptr(png);
    if (n > d->len - d->pos) png_error(png, "unexpected end of file (the PNG is truncated)");
    memcpy(out, d->data + d->pos, n);
    d->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    png_dec *d = (png_dec *)png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* Pillow ignores ancillary-chunk problems too */
}

/* One raw PNG row (as stored, after de-interlacing) -> RGB, Pillow's rules. */
static void png_row_to_rgb(const uint8_t *src, uint8_t *dst, int w, int color_type, int depth, const uint8_t *pal) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
        if (depth == 16) {
            for (int x = 0; x < w; x++) {
                unsigned v = ((unsigned)src[2 * x] << 8) | src[2 * x + 1];
                uint8_t c = v > 255 ? 255 : (uint8_t)v; /* Pillow "I"/"I;16" -> RGB clips */
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = c;
            }
        } else if (depth == 8) {
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
        } else {
            const int per = 8 / depth, mask = (1 << depth) - 1, mul = 255 / mask; /* x255, x85, x17 */
            for (int x = 0; x < w; x++) {
                int shift = 8 - depth * (x % per + 1);
                uint8_t c = (uint8_t)(((src[x / per] >> shift) & mask) * mul);
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = c;
            }
        }
        break;
    case PNG_COLOR_TYPE_PALETTE: {
        const int per = 8 / depth, mask = (1 << depth) - 1;
        for (int x = 0; x < w; x++) {
            int idx = depth == 8 ? src[x] : (src[x / per] >> (8 - depth * (x % per + 1))) & mask;
            memcpy(dst + 3 * x, pal + 3 * idx, 3);
        }
        break;
    }
    case PNG_COLOR_TYPE_RGB:
        if (depth == 16) {
            for (int x = 0; x < 3 * w; x++) dst[x] = src[2 * x]; /* high byte */
        } else {
            memcpy(dst, src, (size_t)w * 3);
        }
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
        const int step = depth == 16 ? 4 : 2; /* grey (high byte), alpha dropped */
        for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[step * x];
        break;
    }
    case PNG_COLOR_TYPE_RGB_ALPHA: {
        const int bps = depth == 16 ? 2 : 1;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) dst[3 * x + c] = src[bps * (4 * x + c)];
        break;
    }
    default:
        break;
    }
}

static jn_status decode_png(const uint8_t *data, size_t len, const char *what, jn_rgb_image *out, jn_error *err) {
    png_dec *d = (png_dec *)calloc(1, sizeof *d);
    if (!d) return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", what);
    d->data = data;
    d->len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        free(d);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory (libpng)", what);
    }
    jn_status st = JN_OK;
    if (setjmp(png_jmpbuf(png))) {
        if (d->size_refused) {
            st = err ? err->code : JN_ERR_FORMAT;
        } else {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt or unsupported PNG: %s", what, d->msg);
        }
        goto done;
    }
    png_set_read_fn(png, d, png_mem_read);
    png_set_benign_errors(png, 1);
    /* CRC errors are fatal in any chunk read (Pillow checks the CRC of every chunk before IDAT too). */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* our own limit below, with a clear message */
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color_type, &interlace, NULL, NULL);
    if (jn_image_check_size(what, (long long)w, (long long)h, err) != JN_OK) {
        d->size_refused = 1;
        png_longjmp(png, 1);
    }
    uint8_t pal[256 * 3];
    memset(pal, 0, sizeof pal); /* indices past PLTE -> black */
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL;
        int n_plte = 0;
        if (png_get_PLTE(png, info, &plte, &n_plte) & PNG_INFO_PLTE) {
            for (int i = 0; i < n_plte && i < 256; i++) {
                pal[3 * i] = plte[i].red;
                pal[3 * i + 1] = plte[i].green;
                pal[3 * i + 2] = plte[i].blue;
            }
        }
    }
    /* No png_set_interlace_handling: an Adam7 image is read pass by pass and each pass's pixels are
     * scattered to their places in the RGB output, so memory is the RGB image plus one raw row at any
     * depth (a whole raw 16-bit RGBA image would be 8 bytes per pixel more: 1.4 GB at the size limit). */
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);

    if (jn_image_alloc_rgb(&d->img, (int)w, (int)h, what, err) != JN_OK) {
        d->size_refused = 1;
        png_longjmp(png, 1);
    }
    const int interlaced = interlace == PNG_INTERLACE_ADAM7;
    if (!(d->rows = (uint8_t *)malloc(rowbytes)) ||
        (interlaced && !(d->pass_rgb = (uint8_t *)malloc((size_t)w * 3)))) {
        jn_fail(err, JN_ERR_NOMEM, "%s: out of memory for a %ux%u PNG row", what, (unsigned)w, (unsigned)h);
        d->size_refused = 1;
        png_longjmp(png, 1);
    }
    if (!interlaced) {
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, d->rows, NULL);
            png_row_to_rgb(d->rows, d->img.rgb + (size_t)y * w * 3, (int)w, color_type, depth, pal);
        }
    } else {
        for (int pass = 0; pass < 7; pass++) {
            // a pass is the sub-image [PASS_ROWS, PASS_COLS] of pixels (x0 + i*dx, y0 + j*dy); libpng
            // skips empty passes, so must we
            png_uint_32 cols = PNG_PASS_COLS(w, pass), rows = PNG_PASS_ROWS(h, pass);
            if (cols == 0 || rows == 0) continue;
            const size_t x0 = PNG_PASS_START_COL(pass), dx = (size_t)1 << PNG_PASS_COL_SHIFT(pass);
            const size_t y0 = PNG_PASS_START_ROW(pass), dy = (size_t)1 << PNG_PASS_ROW_SHIFT(pass);
            for (png_uint_32 j = 0; j < rows; j++) {
                png_read_row(png, d->rows, NULL);
                png_row_to_rgb(d->rows, d->pass_rgb, (int)cols, color_type, depth, pal);
                uint8_t *dst = d->img.rgb + ((y0 + j * dy) * w + x0) * 3;
                for (png_uint_32 i = 0; i < cols; i++) memcpy(dst + i * dx * 3, d->pass_rgb + (size_t)i * 3, 3);
            }
        }
    }
    /* Trailing chunks (IEND, text after IDAT) are not needed for the pixels: not read, as Pillow's
     * open+convert does not require them either. */
    *out = d->img;
    d->img.rgb = NULL;
done:
    png_destroy_read_struct(&png, &info, NULL);
    jn_rgb_image_free(&d->img);
    free(d->rows);
    free(d->pass_rgb);
    free(d);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* JPEG                                                                                         */
/* ------------------------------------------------------------------------------------------ */

typedef struct jpg_dec {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int size_refused; /* err already filled */
    int created;      /* jpeg_create_decompress ran */
    char msg[JMSG_LENGTH_MAX + 64];
    uint8_t *row;     /* one decoded row (CMYK needs 4 bytes per pixel) */
    jn_rgb_image img;
} jpg_dec;

static void jpg_error_exit(j_common_ptr cinfo) {
    jpg_dec *d = (jpg_dec *)cinfo->err;
    if (cinfo->err->msg_code == JERR_NO_BACKING_STORE) /* max_memory_to_use exceeded */
        snprintf(d->msg, sizeof d->msg, "decoding it needs more than %lld MiB of decoder memory (the limit)",
                 JN_IMAGE_MAX_DECODER_BYTES >> 20);
    else
        (*cinfo->err->format_message)(cinfo, d->msg);
    longjmp(d->jb, 1);
}

static void jpg_emit_message(j_common_ptr cinfo, int level) {
    jpg_dec *d = (jpg_dec *)cinfo->err;
    if (level < 0) {
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) { /* Pillow: "image file is truncated" */
            snprintf(d->msg, sizeof d->msg, "the JPEG is truncated (image data ends early)");
            longjmp(d->jb, 1);
        }
    }
}

static void jpg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Pillow's MULDIV255: (a*b + 128) / 255 rounded as ((t >> 8) + t) >> 8. */
static inline int muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static jn_status decode_jpeg(const uint8_t *data, size_t len, const char *what, jn_rgb_image *out, jn_error *err) {
    struct jpeg_decompress_struct *cinfo = (struct jpeg_decompress_struct *)calloc(1, sizeof *cinfo);
    jpg_dec *d = (jpg_dec *)calloc(1, sizeof *d);
    if (!cinfo || !d) {
        free(cinfo);
        free(d);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", what);
    }
    cinfo->err = jpeg_std_error(&d->pub);
    d->pub.error_exit = jpg_error_exit;
    d->pub.emit_message = jpg_emit_message;
    d->pub.output_message = jpg_output_message;
    jn_status st = JN_OK;
    if (setjmp(d->jb)) {
        if (d->size_refused) {
            st = err ? err->code : JN_ERR_FORMAT;
        } else {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt or unsupported JPEG: %s", what, d->msg);
        }
        goto done;
    }
    jpeg_create_decompress(cinfo);
    d->created = 1;
    cinfo->mem->max_memory_to_use = (long)JN_IMAGE_MAX_DECODER_BYTES;
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    if (jn_image_check_size(what, cinfo->image_width, cinfo->image_height, err) != JN_OK) {
        d->size_refused = 1;
        longjmp(d->jb, 1);
    }
    const int nc = cinfo->num_components;
    if (nc == 1) {
        cinfo->out_color_space = JCS_GRAYSCALE;
    } else if (nc == 3) {
        cinfo->out_color_space = JCS_RGB;
    } else if (nc == 4) {
        cinfo->out_color_space = JCS_CMYK; /* libjpeg turns YCCK into CMYK */
    } else {
        snprintf(d->msg, sizeof d->msg, "%d colour components (Pillow reads 1, 3 or 4)", nc);
        longjmp(d->jb, 1);
    }
    /* Pillow's defaults (no draft mode): JDCT_ISLOW, fancy upsampling — libjpeg's defaults too. */
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    jpeg_start_decompress(cinfo);
    const int w = (int)cinfo->output_width, h = (int)cinfo->output_height;
    if (jn_image_alloc_rgb(&d->img, w, h, what, err) != JN_OK || !(d->row = (uint8_t *)malloc((size_t)w * 4))) {
        if (d->img.rgb) jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", what);
        d->size_refused = 1;
        longjmp(d->jb, 1);
    }
    while ((int)cinfo->output_scanline < h) {
        uint8_t *dst = d->img.rgb + (size_t)cinfo->output_scanline * w * 3;
        JSAMPROW rp = nc == 3 ? dst : d->row;
        if (jpeg_read_scanlines(cinfo, &rp, 1) != 1) {
            snprintf(d->msg, sizeof d->msg, "decoder returned no scanline");
            longjmp(d->jb, 1);
        }
        if (nc == 1) {
            for (int x = w - 1; x >= 0; x--) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = d->row[x];
        } else if (nc == 4) {
            for (int x = 0; x < w; x++) {
                /* "CMYK;I": Adobe-inverted samples, then Pillow's cmyk2rgb */
                int c = 255 - d->row[4 * x], m = 255 - d->row[4 * x + 1], y = 255 - d->row[4 * x + 2];
                int nk = d->row[4 * x + 3]; /* 255 - (255 - K) */
                int r = nk - muldiv255(c, nk), g = nk - muldiv255(m, nk), b = nk - muldiv255(y, nk);
                dst[3 * x] = (uint8_t)(r < 0 ? 0 : r);
                dst[3 * x + 1] = (uint8_t)(g < 0 ? 0 : g);
                dst[3 * x + 2] = (uint8_t)(b < 0 ? 0 : b);
            }
        }
    }
    /* All rows are in. (A file missing only its EOI marker already failed above: libjpeg's
     * read-ahead ran out of data, and Pillow reports "image file is truncated" for it too.) */
    *out = d->img;
    d->img.rgb = NULL;
done:
    if (d->created) jpeg_destroy_decompress(cinfo);
    jn_rgb_image_free(&d->img);
    free(d->row);
    free(d);
    free(cinfo);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Dispatch                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static int is_png(const uint8_t *p, size_t n) { return n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0; }
static int is_jpeg(const uint8_t *p, size_t n) { return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF; }

jn_status jn_image_decode_memory(const uint8_t *data, size_t len, const char *what, jn_rgb_image *out,
                                 jn_error *err) {
    memset(out, 0, sizeof *out);
    if (!what) what = "image";
    if (len == 0) return jn_fail(err, JN_ERR_FORMAT, "%s: empty file", what);
    if (is_png(data, len)) return decode_png(data, len, what, out, err);
    if (is_jpeg(data, len)) return decode_jpeg(data, len, what, out, err);
    return jn_fail(err, JN_ERR_FORMAT, "%s: not a PNG or JPEG image", what);
}

jn_status jn_image_decode_file(const char *path, double at_seconds, jn_rgb_image *out, jn_error *err) {
    memset(out, 0, sizeof *out);
    uint64_t fsize = 0;
    FILE *f = jn_fopen_input(path, &fsize, err);
    if (!f) return err ? err->code : JN_ERR_IO;
    uint8_t head[16];
    size_t n_head = fread(head, 1, sizeof head, f);
    if (n_head == 0) {
        int bad = ferror(f);
        fclose(f);
        return bad ? jn_fail(err, JN_ERR_IO, "%s: read error", path) : jn_fail(err, JN_ERR_FORMAT, "%s: empty file", path);
    }
    if (!is_png(head, n_head) && !is_jpeg(head, n_head)) {
        fclose(f);
        return jn_image_decode_ffmpeg(path, at_seconds, out, err);
    }
    /* PNG/JPEG: read the whole file and decode from memory. */
    size_t len = (size_t)fsize;
    uint8_t *buf = (uint8_t *)malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, len);
    }
    rewind(f);
    size_t got = fread(buf, 1, len, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return jn_fail(err, JN_ERR_IO, "%s: read error", path);
    }
    jn_status st = jn_image_decode_memory(buf, got, path, out, err);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Writers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Opens "<path>.partial" (see engine/io/file.h) as a stream; out keeps the locked descriptor. */
static FILE *open_temp_beside(const char *path, jn_partial *out, jn_error *err) {
    if (jn_partial_open(out, path, err) != JN_OK) return NULL;
    int fd = dup(out->fd); /* fclose() closes the copy; the lock stays with out->fd until commit */
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        jn_output_fail(err, out->tmp_path, "create", errno);
        if (fd >= 0) close(fd);
        jn_partial_discard(out);
    }
    return f;
}

static void drop_temp(FILE *f, jn_partial *out) {
    fclose(f);
    jn_partial_discard(out);
}

static jn_status check_overwrite(const char *path, int force, jn_error *err) {
    struct stat sb;
    if (!force && stat(path, &sb) == 0)
        return jn_fail(err, JN_ERR_USAGE, "%s: file exists; refusing to overwrite it (use --force)", path);
    return JN_OK;
}

/* Closes f and moves the temp file to path (no overwrite unless force). Removes it on failure. */
static jn_status finish_temp(FILE *f, jn_partial *out, int force, jn_error *err) {
    int werr = ferror(f);
    int e = errno;
    if (fclose(f) != 0 || werr) {
        jn_status st = jn_output_fail(err, out->tmp_path, "write", werr ? e : errno);
        jn_partial_discard(out);
        return st;
    }
    return jn_partial_commit(out, !force, err);
}

typedef struct png_enc {
    char msg[256];
    png_textp text;
} png_enc;

static void png_enc_error(png_structp png, png_const_charp msg) {
    png_enc *e = (png_enc *)png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static int key_ok(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > 79) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 32 || (unsigned char)k[i] > 126) return 0;
    return 1;
}

static int is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

jn_status jn_image_write_png(const char *path, const uint8_t *rgb, int w, int h, const char *const *text_kv,
                             int n_kv, int force, jn_error *err) {
    jn_status st;
    if ((st = jn_image_check_size(path, w, h, err))) return st;
    if (n_kv < 0 || (n_kv > 0 && !text_kv)) return jn_fail(err, JN_ERR_USAGE, "%s: bad text chunk list", path);
    for (int i = 0; i < n_kv; i++) {
        if (!text_kv[2 * i] || !key_ok(text_kv[2 * i]))
            return jn_fail(err, JN_ERR_USAGE, "%s: PNG text key \"%s\" must be 1-79 printable ASCII characters", path,
                           text_kv[2 * i] ? text_kv[2 * i] : "(null)");
        if (!text_kv[2 * i + 1]) return jn_fail(err, JN_ERR_USAGE, "%s: PNG text key \"%s\" has no value", path, text_kv[2 * i]);
    }
    if ((st = check_overwrite(path, force, err))) return st;
    jn_partial tmp;
    FILE *f = open_temp_beside(path, &tmp, err);
    if (!f) return err ? err->code : JN_ERR_IO;

    png_enc *e = (png_enc *)calloc(1, sizeof *e);
    png_structp png = e ? png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_enc_error, png_on_warning) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        free(e);
        drop_temp(f, &tmp);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory (libpng)", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        int e_no = errno; /* a failed fwrite (full disk) is reported by libpng as "Write Error" */
        st = ferror(f) && e_no ? jn_output_fail(err, tmp.tmp_path, "write", e_no)
                               : jn_fail(err, JN_ERR_IO, "%s: PNG write failed: %s", path, e->msg);
        png_destroy_write_struct(&png, &info);
        free(e->text);
        free(e);
        drop_temp(f, &tmp);
        return st;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (n_kv > 0) {
        e->text = (png_textp)calloc((size_t)n_kv, sizeof(png_text));
        if (!e->text) png_error(png, "out of memory");
        for (int i = 0; i < n_kv; i++) {
            png_textp t = &e->text[i];
            t->key = (png_charp)text_kv[2 * i];
            t->text = (png_charp)text_kv[2 * i + 1];
            if (is_ascii(text_kv[2 * i + 1])) {
                t->compression = PNG_TEXT_COMPRESSION_NONE;
                t->text_length = strlen(t->text);
            } else {
                t->compression = PNG_ITXT_COMPRESSION_NONE; /* UTF-8 */
                t->itxt_length = strlen(t->text);
                t->lang = NULL;
                t->lang_key = NULL;
            }
        }
        png_set_text(png, info, e->text, n_kv);
    }
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(e->text);
    free(e);
    return finish_temp(f, &tmp, force, err);
}

typedef struct jpg_enc {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpg_enc;

static void jpg_enc_error(j_common_ptr cinfo) {
    jpg_enc *e = (jpg_enc *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

jn_status jn_image_write_jpeg(const char *path, const uint8_t *rgb, int w, int h, int quality, int force,
                              jn_error *err) {
    return jn_image_write_jpeg_comment(path, rgb, w, h, quality, NULL, force, err);
}

jn_status jn_image_write_jpeg_comment(const char *path, const uint8_t *rgb, int w, int h, int quality,
                                      const char *comment, int force, jn_error *err) {
    jn_status st;
    if ((st = jn_image_check_size(path, w, h, err))) return st;
    if (w > JPEG_MAX_DIMENSION || h > JPEG_MAX_DIMENSION)
        return jn_fail(err, JN_ERR_USAGE, "%s: %dx%d is too large for JPEG (max %d per side)", path, w, h,
                       (int)JPEG_MAX_DIMENSION);
    if (quality > 100) return jn_fail(err, JN_ERR_USAGE, "%s: JPEG quality %d is out of range 1..100", path, quality);
    if ((st = check_overwrite(path, force, err))) return st;
    jn_partial tmp;
    FILE *f = open_temp_beside(path, &tmp, err);
    if (!f) return err ? err->code : JN_ERR_IO;
    struct jpeg_compress_struct *cinfo = (struct jpeg_compress_struct *)calloc(1, sizeof *cinfo);
    jpg_enc *e = (jpg_enc *)calloc(1, sizeof *e);
    if (!cinfo || !e) {
        free(cinfo);
        free(e);
        drop_temp(f, &tmp);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
    }
    cinfo->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = jpg_enc_error;
    e->pub.output_message = jpg_output_message;
    if (setjmp(e->jb)) {
        int e_no = errno; /* libjpeg: "Output file write error --- out of disk space?" */
        st = ferror(f) && e_no ? jn_output_fail(err, tmp.tmp_path, "write", e_no)
                               : jn_fail(err, JN_ERR_IO, "%s: JPEG write failed: %s", path, e->msg);
        jpeg_destroy_compress(cinfo);
        free(cinfo);
        free(e);
        drop_temp(f, &tmp);
        return st;
    }
    jpeg_create_compress(cinfo);
    jpeg_stdio_dest(cinfo, f);
    cinfo->image_width = (JDIMENSION)w;
    cinfo->image_height = (JDIMENSION)h;
    cinfo->input_components = 3;
    cinfo->in_color_space = JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality <= 0 ? 75 : quality, TRUE); /* Pillow's default quality: 75 */
    jpeg_start_compress(cinfo, TRUE);
    if (comment) { /* COM segment: 2 length bytes + at most 65533 of text */
        size_t n = strlen(comment);
        jpeg_write_marker(cinfo, JPEG_COM, (const JOCTET *)comment, (unsigned)(n > 65533 ? 65533 : n));
    }
    while ((int)cinfo->next_scanline < h) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo->next_scanline * w * 3);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    jpeg_destroy_compress(cinfo);
    free(cinfo);
    free(e);
    return finish_temp(f, &tmp, force, err);
}
