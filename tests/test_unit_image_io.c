// janus-test-libs: janus_engine
/* tests/test_unit_image_io.c — engine/image_io: decoding every PNG colour type / bit depth /
 * interlacing against Pillow's open().convert("RGB") rules (files written here with libpng, the
 * expected RGB computed from the samples, not from the packed bytes), PNG write + text chunks,
 * JPEG write/read incl. greyscale and Adobe CMYK, BMP/TIFF/GIF/WebP through FFmpeg, a video frame at
 * --at 0.5 s, and the error paths (missing, empty, truncated, garbage, 0x0 and 100000x100000
 * headers refused before allocating, no-overwrite). Needs no Python and no network. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "engine/io/image_io.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n;
}

static uint32_t crc_table[256];
static uint32_t crc32_of(const uint8_t *p, size_t n) {
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Compares decoded image with expected RGB; returns 1 if identical. */
static int same_rgb(const char *name, const jn_rgb_image *img, const uint8_t *want, int w, int h) {
    if (img->w != w || img->h != h) {
        fprintf(stderr, "%s: size %dx%d, want %dx%d\n", name, img->w, img->h, w, h);
        return 0;
    }
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        if (img->rgb[i] != want[i]) {
            fprintf(stderr, "%s: byte %zu (x=%zu y=%zu c=%zu): got %d want %d\n", name, i, (i / 3) % w, i / 3 / w, i % 3,
                    img->rgb[i], want[i]);
            return 0;
        }
    return 1;
}

/* ---------------------------------------------------------------- PNG variants */

typedef struct png_case {
    const char *name;
    int color_type, depth, interlace;
    int trns;     /* add a tRNS chunk */
    int n_plte;   /* palette entries (palette images); indices may exceed it */
    int gama;     /* add a gAMA chunk (must be ignored) */
} png_case;

/* Writes a PNG with random samples and fills want (RGB) by Pillow's rules from the samples. */
static int make_png(const char *path, const png_case *c, int w, int h, uint8_t *want) {
    const int ct = c->color_type, d = c->depth;
    const int ch = ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_PALETTE ? 1
                   : ct == PNG_COLOR_TYPE_GRAY_ALPHA                       ? 2
                   : ct == PNG_COLOR_TYPE_RGB                              ? 3
                                                                           : 4;
    const unsigned maxv = (1u << d) - 1;
    unsigned *s = malloc(sizeof(unsigned) * (size_t)w * h * ch); /* samples */
    size_t rowbytes = ((size_t)w * ch * d + 7) / 8;
    uint8_t *rows = calloc((size_t)h, rowbytes);
    png_bytep *rp = malloc(sizeof(png_bytep) * (size_t)h);
    png_color plte[256];
    for (int i = 0; i < 256; i++) {
        plte[i].red = (png_byte)rnd();
        plte[i].green = (png_byte)rnd();
        plte[i].blue = (png_byte)rnd();
    }
    for (size_t i = 0; i < (size_t)w * h * ch; i++) {
        unsigned v = rnd() & maxv;
        if (d == 16 && ct == PNG_COLOR_TYPE_GRAY && (rnd() & 1)) v &= 0x1FF; /* exercise both sides of the clip */
        if (ct == PNG_COLOR_TYPE_PALETTE && c->n_plte > 0 && (rnd() % 8) != 0) v %= (unsigned)c->n_plte;
        s[i] = v;
    }
    for (int y = 0; y < h; y++) {
        rp[y] = rows + (size_t)y * rowbytes;
        for (int x = 0; x < w; x++)
            for (int k = 0; k < ch; k++) {
                unsigned v = s[((size_t)y * w + x) * ch + k];
                size_t bit = ((size_t)x * ch + k) * d;
                if (d == 16) {
                    rp[y][bit / 8] = (uint8_t)(v >> 8);
                    rp[y][bit / 8 + 1] = (uint8_t)v;
                } else {
                    rp[y][bit / 8] |= (uint8_t)(v << (8 - d - bit % 8));
                }
            }
        for (int x = 0; x < w; x++) {
            const unsigned *p = s + ((size_t)y * w + x) * ch;
            uint8_t *o = want + ((size_t)y * w + x) * 3;
            switch (ct) {
            case PNG_COLOR_TYPE_GRAY:
                o[0] = o[1] = o[2] = (uint8_t)(d == 16 ? (p[0] > 255 ? 255 : p[0]) : p[0] * 255 / maxv);
                break;
            case PNG_COLOR_TYPE_GRAY_ALPHA:
                o[0] = o[1] = o[2] = (uint8_t)(d == 16 ? p[0] >> 8 : p[0]);
                break;
            case PNG_COLOR_TYPE_PALETTE:
                if ((int)p[0] < c->n_plte) {
                    o[0] = plte[p[0]].red;
                    o[1] = plte[p[0]].green;
                    o[2] = plte[p[0]].blue;
                } else {
                    o[0] = o[1] = o[2] = 0;
                }
                break;
            default:
                for (int k = 0; k < 3; k++) o[k] = (uint8_t)(d == 16 ? p[k] >> 8 : p[k]);
            }
        }
    }
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int ok = 0;
    if (f && png && info && !setjmp(png_jmpbuf(png))) {
        png_init_io(png, f);
        png_set_check_for_invalid_index(png, 0); /* indices past the palette are part of the test */
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, d, ct,
                     c->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        if (ct == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, plte, c->n_plte);
        if (c->trns) {
            if (ct == PNG_COLOR_TYPE_PALETTE) {
                png_byte a[256];
                for (int i = 0; i < 256; i++) a[i] = (png_byte)(i * 37);
                png_set_tRNS(png, info, a, c->n_plte, NULL);
            } else {
                png_color_16 t = {0, (png_uint_16)(s[0] & 0xFF), (png_uint_16)(s[0] & 0xFF), (png_uint_16)(s[0] & 0xFF),
                                  (png_uint_16)(s[0] & maxv)};
                png_set_tRNS(png, info, NULL, 0, &t);
            }
        }
        if (c->gama) png_set_gAMA(png, info, 1.0 / 1.0); /* gamma 1.0: a converting reader would brighten */
        png_write_info(png, info);
        png_write_image(png, rp);
        png_write_end(png, info);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    if (f) fclose(f);
    free(s);
    free(rows);
    free(rp);
    return ok;
}

static void test_png_variants(void) {
    static const png_case cases[] = {
        {"grey1", PNG_COLOR_TYPE_GRAY, 1, 0, 0, 0, 0},
        {"grey2", PNG_COLOR_TYPE_GRAY, 2, 0, 0, 0, 0},
        {"grey4", PNG_COLOR_TYPE_GRAY, 4, 0, 0, 0, 0},
        {"grey8", PNG_COLOR_TYPE_GRAY, 8, 0, 0, 0, 1},
        {"grey8_trns", PNG_COLOR_TYPE_GRAY, 8, 0, 1, 0, 0},
        {"grey16_clip", PNG_COLOR_TYPE_GRAY, 16, 0, 0, 0, 0},
        {"grey_alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0, 0, 0},
        {"grey_alpha16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0, 0, 0},
        {"rgb8", PNG_COLOR_TYPE_RGB, 8, 0, 0, 0, 1},
        {"rgb8_trns", PNG_COLOR_TYPE_RGB, 8, 0, 1, 0, 0},
        {"rgb16", PNG_COLOR_TYPE_RGB, 16, 0, 0, 0, 0},
        {"rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0, 0, 0},
        {"rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 0, 0, 0},
        {"pal1", PNG_COLOR_TYPE_PALETTE, 1, 0, 0, 2, 0},
        {"pal2_trns", PNG_COLOR_TYPE_PALETTE, 2, 0, 1, 4, 0},
        {"pal4_short", PNG_COLOR_TYPE_PALETTE, 4, 0, 0, 11, 0},
        {"pal8_trns", PNG_COLOR_TYPE_PALETTE, 8, 0, 1, 256, 0},
        {"pal8_short", PNG_COLOR_TYPE_PALETTE, 8, 0, 0, 100, 0},
        {"i_grey2", PNG_COLOR_TYPE_GRAY, 2, 1, 0, 0, 0},
        {"i_grey16", PNG_COLOR_TYPE_GRAY, 16, 1, 0, 0, 0},
        {"i_rgb8", PNG_COLOR_TYPE_RGB, 8, 1, 0, 0, 0},
        {"i_pal4", PNG_COLOR_TYPE_PALETTE, 4, 1, 1, 16, 0},
        {"i_rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 1, 0, 0, 0},
        {"i_grey_alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 1, 0, 0, 0},
    };
    const int sizes[][2] = {{13, 7}, {1, 1}, {33, 17}};
    int n_ok = 0, n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const int w = sizes[s][0], h = sizes[s][1];
            char name[64], path[512];
            snprintf(name, sizeof name, "imgio_png_%s_%dx%d.png", cases[i].name, w, h);
            snprintf(path, sizeof path, "%s", tu_tmp(name));
            uint8_t *want = malloc((size_t)w * h * 3);
            int made = make_png(path, &cases[i], w, h, want);
            TU_CHECK(made, "%s: could not write the test PNG", name);
            jn_rgb_image img = {0};
            jn_error err = {0};
            jn_status st = jn_image_decode_file(path, -1, &img, &err);
            TU_CHECK(st == JN_OK, "%s: %s", name, err.msg);
            int ok = st == JN_OK && same_rgb(name, &img, want, w, h);
            TU_CHECK(ok, "%s: decoded RGB differs from the Pillow rule", name);
            n_ok += ok;
            n++;
            jn_rgb_image_free(&img);
            free(want);
        }
    printf("png variants: %d/%d exact\n", n_ok, n);
}

/* A large interlaced 16-bit RGBA PNG: decoding must cost the RGB image, not also a whole raw image
 * at 8 bytes per pixel (the fuzzer's out-of-memory finding: a few-KB file declaring 178M pixels). */
static void test_png_interlaced_memory(void) {
    const int w = 4096, h = 4096;
    char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp("imgio_png_big_interlaced.png"));
    FILE *f = fopen(path, "wb");
    png_structp png = f ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *row = calloc((size_t)w, 8);
    TU_CHECK(f && png && info && row, "could not start writing %s", path);
    if (!f || !png || !info || !row) return;
    if (setjmp(png_jmpbuf(png))) {
        TU_CHECK(0, "libpng failed writing %s", path);
        return;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int p = png_set_interlace_handling(png); p > 0; p--)
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) row[8 * x] = (uint8_t)(x + 3 * y); /* red high byte */
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);

    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    jn_rgb_image img = {0};
    jn_error err = {0};
    jn_status st = jn_image_decode_file(path, -1, &img, &err);
    getrusage(RUSAGE_SELF, &after);
    TU_CHECK(st == JN_OK, "big interlaced PNG: %s", err.msg);
    if (st == JN_OK) {
        int pixels_ok = 1;
        for (int y = 0; y < h && pixels_ok; y += 97)
            for (int x = 0; x < w; x += 89)
                if (img.rgb[((size_t)y * w + x) * 3] != (uint8_t)(x + 3 * y) || img.rgb[((size_t)y * w + x) * 3 + 1])
                    pixels_ok = 0;
        TU_CHECK(pixels_ok, "big interlaced PNG: pixels differ from what was written");
    }
    /* peak growth (KiB): the 48 MiB RGB image plus rows and libpng's state; a whole raw image would
     * add 128 MiB */
    long grown_mib = (after.ru_maxrss - before.ru_maxrss) / 1024;
    long rgb_mib = (long)((size_t)w * h * 3 >> 20);
    TU_CHECK(grown_mib < rgb_mib + 40, "big interlaced PNG: peak RSS grew %ld MiB for a %ld MiB image", grown_mib,
             rgb_mib);
    printf("png interlaced 4096x4096x16-bit RGBA: peak RSS +%ld MiB (RGB image %ld MiB)\n", grown_mib, rgb_mib);
    jn_rgb_image_free(&img);
    remove(path);
}

/* ---------------------------------------------------------------- PNG write + text, no-overwrite */

static int dir_has_temp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, "roundtrip") && strstr(e->d_name, ".tmp.")) found = 1;
    closedir(d);
    return found;
}

static void test_png_write(void) {
    const int w = 37, h = 23;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) rgb[i] = (uint8_t)rnd();
    char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp("imgio_roundtrip.png"));
    remove(path);
    const char *kv[] = {"prompt", "a red fox in snow", "seed", "42", "caption", "\xe7\x8b\x90\xe7\x8b\xb8 (fox) \xc3\xa9"};
    jn_error err = {0};
    jn_status st = jn_image_write_png(path, rgb, w, h, kv, 3, 0, &err);
    TU_CHECK(st == JN_OK, "write png: %s", err.msg);
    jn_rgb_image img = {0};
    st = jn_image_decode_file(path, -1, &img, &err);
    TU_CHECK(st == JN_OK && same_rgb("roundtrip.png", &img, rgb, w, h), "png round trip: %s", err.msg);
    jn_rgb_image_free(&img);

    /* text chunks read back with libpng: tEXt for ASCII values, iTXt for UTF-8 */
    FILE *f = fopen(path, "rb");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int n_found = 0;
    if (f && png && info && !setjmp(png_jmpbuf(png))) {
        png_init_io(png, f);
        png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
        png_textp text = NULL;
        int nt = 0;
        png_get_text(png, info, &text, &nt);
        for (int i = 0; i < nt; i++)
            for (int k = 0; k < 3; k++)
                if (strcmp(text[i].key, kv[2 * k]) == 0) {
                    TU_CHECK(strcmp(text[i].text, kv[2 * k + 1]) == 0, "text %s = \"%s\"", text[i].key, text[i].text);
                    int want_itxt = k == 2;
                    TU_CHECK((text[i].compression == PNG_ITXT_COMPRESSION_NONE) == want_itxt,
                             "text %s: compression %d", text[i].key, text[i].compression);
                    n_found++;
                }
    }
    png_destroy_read_struct(&png, &info, NULL);
    if (f) fclose(f);
    TU_CHECK(n_found == 3, "found %d of 3 text chunks", n_found);

    /* no overwrite without force; the old file is untouched */
    uint8_t *rgb2 = malloc((size_t)w * h * 3);
    memset(rgb2, 200, (size_t)w * h * 3);
    st = jn_image_write_png(path, rgb2, w, h, NULL, 0, 0, &err);
    TU_CHECK(st == JN_ERR_USAGE && strstr(err.msg, "exists"), "overwrite without force: st=%d %s", st, err.msg);
    st = jn_image_decode_file(path, -1, &img, &err);
    TU_CHECK(st == JN_OK && same_rgb("kept", &img, rgb, w, h), "file changed by a refused write");
    jn_rgb_image_free(&img);
    st = jn_image_write_png(path, rgb2, w, h, NULL, 0, 1, &err);
    TU_CHECK(st == JN_OK, "overwrite with force: %s", err.msg);
    st = jn_image_decode_file(path, -1, &img, &err);
    TU_CHECK(st == JN_OK && same_rgb("forced", &img, rgb2, w, h), "forced write not visible");
    jn_rgb_image_free(&img);
    /* bad key, missing directory */
    const char *badkv[] = {"", "x"};
    st = jn_image_write_png(tu_tmp("imgio_badkey.png"), rgb, w, h, badkv, 1, 1, &err);
    TU_CHECK(st == JN_ERR_USAGE, "empty key accepted");
    st = jn_image_write_png(tu_tmp("imgio_no/such/dir/x.png"), rgb, w, h, NULL, 0, 1, &err);
    TU_CHECK(st == JN_ERR_IO && strstr(err.msg, "no/such/dir/x.png"), "missing dir: st=%d %s", st, err.msg);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_tmp(""));
    TU_CHECK(!dir_has_temp(dir), "a temporary file was left behind");
    free(rgb);
    free(rgb2);
}

/* ---------------------------------------------------------------- JPEG */

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Writes a JPEG with libjpeg directly (components 1 or 4=CMYK with Adobe marker). */
static int write_jpeg_raw(const char *path, const uint8_t *px, int w, int h, int comps, J_COLOR_SPACE cs,
                          int progressive) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = cs;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while ((int)ci.next_scanline < h) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)ci.next_scanline * w * comps);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f) == 0;
}

/* Decodes a JPEG with plain libjpeg to its native components (reference for the CMYK rule). */
static uint8_t *read_jpeg_raw(const char *path, int *comps) {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr je;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ci.err = jpeg_std_error(&je);
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    jpeg_start_decompress(&ci);
    *comps = ci.output_components;
    uint8_t *px = malloc((size_t)ci.output_width * ci.output_height * ci.output_components);
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW r = px + (size_t)ci.output_scanline * ci.output_width * ci.output_components;
        jpeg_read_scanlines(&ci, &r, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    fclose(f);
    return px;
}

static void test_jpeg(void) {
    const int w = 64, h = 48;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 4);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)((x + y) * 2);
        }
    char hi[512], lo[512];
    snprintf(hi, sizeof hi, "%s", tu_tmp("imgio_q95.jpg"));
    snprintf(lo, sizeof lo, "%s", tu_tmp("imgio_q10.jpg"));
    jn_error err = {0};
    TU_CHECK(jn_image_write_jpeg(hi, rgb, w, h, 95, 1, &err) == JN_OK, "write q95: %s", err.msg);
    TU_CHECK(jn_image_write_jpeg(lo, rgb, w, h, 10, 1, &err) == JN_OK, "write q10: %s", err.msg);
    TU_CHECK(jn_image_write_jpeg(lo, rgb, w, h, 10, 0, &err) == JN_ERR_USAGE, "jpeg overwrite not refused");
    TU_CHECK(jn_image_write_jpeg(tu_tmp("imgio_q101.jpg"), rgb, w, h, 101, 1, &err) == JN_ERR_USAGE, "quality 101 accepted");
    TU_CHECK(file_size(lo) > 0 && file_size(lo) < file_size(hi), "q10 %ld bytes vs q95 %ld bytes", file_size(lo),
             file_size(hi));
    jn_rgb_image a = {0}, b = {0};
    TU_CHECK(jn_image_decode_file(hi, -1, &a, &err) == JN_OK, "read q95: %s", err.msg);
    TU_CHECK(jn_image_decode_file(lo, -1, &b, &err) == JN_OK, "read q10: %s", err.msg);
    if (a.rgb && b.rgb) {
        double da = mean_abs_diff(a.rgb, rgb, (size_t)w * h * 3), db = mean_abs_diff(b.rgb, rgb, (size_t)w * h * 3);
        printf("jpeg: q95 %ld bytes mean|d| %.2f, q10 %ld bytes mean|d| %.2f\n", file_size(hi), da, file_size(lo), db);
        TU_CHECK(da < 2.0 && db > da, "q95 error %.2f, q10 error %.2f", da, db);
    }
    jn_rgb_image_free(&a);
    jn_rgb_image_free(&b);

    /* greyscale JPEG: the grey value replicated */
    uint8_t *grey = malloc((size_t)w * h);
    for (size_t i = 0; i < (size_t)w * h; i++) grey[i] = (uint8_t)(i * 7);
    char gp[512];
    snprintf(gp, sizeof gp, "%s", tu_tmp("imgio_grey.jpg"));
    TU_CHECK(write_jpeg_raw(gp, grey, w, h, 1, JCS_GRAYSCALE, 0), "write grey jpeg");
    int comps = 0;
    uint8_t *raw = read_jpeg_raw(gp, &comps);
    TU_CHECK(jn_image_decode_file(gp, -1, &a, &err) == JN_OK, "grey jpeg: %s", err.msg);
    if (raw && a.rgb) {
        uint8_t *want = malloc((size_t)w * h * 3);
        for (size_t i = 0; i < (size_t)w * h; i++) want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = raw[i];
        TU_CHECK(comps == 1 && same_rgb("grey.jpg", &a, want, w, h), "grey jpeg");
        free(want);
    }
    free(raw);
    jn_rgb_image_free(&a);

    /* CMYK JPEG (Adobe marker): "CMYK;I" inversion then Pillow's cmyk2rgb */
    uint8_t *cmyk = malloc((size_t)w * h * 4);
    for (size_t i = 0; i < (size_t)w * h * 4; i++) cmyk[i] = (uint8_t)rnd();
    char cp[512];
    snprintf(cp, sizeof cp, "%s", tu_tmp("imgio_cmyk.jpg"));
    TU_CHECK(write_jpeg_raw(cp, cmyk, w, h, 4, JCS_CMYK, 0), "write cmyk jpeg");
    raw = read_jpeg_raw(cp, &comps);
    TU_CHECK(jn_image_decode_file(cp, -1, &a, &err) == JN_OK, "cmyk jpeg: %s", err.msg);
    if (raw && a.rgb && comps == 4) {
        uint8_t *want = malloc((size_t)w * h * 3);
        for (size_t i = 0; i < (size_t)w * h; i++) {
            int nk = 255 - (255 - raw[4 * i + 3]);
            for (int c = 0; c < 3; c++) {
                int t = (255 - raw[4 * i + c]) * nk + 128;
                int v = nk - (((t >> 8) + t) >> 8);
                want[3 * i + c] = (uint8_t)(v < 0 ? 0 : v);
            }
        }
        TU_CHECK(same_rgb("cmyk.jpg", &a, want, w, h), "cmyk jpeg");
        free(want);
    }
    free(raw);
    jn_rgb_image_free(&a);

    /* A progressive CMYK JPEG whose header claims 12000x12000: libjpeg would keep 1.1 GB of DCT
     * coefficients; refused by the decoder-memory bound, before any pixel is decoded. */
    char pp[512];
    snprintf(pp, sizeof pp, "%s", tu_tmp("imgio_progressive_big.jpg"));
    TU_CHECK(write_jpeg_raw(pp, cmyk, w, h, 4, JCS_CMYK, 1), "write progressive cmyk jpeg");
    size_t plen = 0;
    uint8_t *pj = (uint8_t *)tu_read_file(pp, &plen);
    size_t sof = 0;
    for (size_t i = 0; pj && i + 9 < plen; i++)
        if (pj[i] == 0xFF && pj[i + 1] == 0xC2) {
            sof = i;
            break;
        }
    TU_CHECK(sof > 0, "no SOF2 marker in the progressive JPEG");
    if (sof > 0) {
        pj[sof + 5] = 12000 >> 8, pj[sof + 6] = 12000 & 0xFF; /* height */
        pj[sof + 7] = 12000 >> 8, pj[sof + 8] = 12000 & 0xFF; /* width */
        TU_CHECK(write_bytes(pp, pj, plen), "rewrite %s", pp);
        jn_status pst = jn_image_decode_file(pp, -1, &a, &err);
        TU_CHECK(pst == JN_ERR_FORMAT && strstr(err.msg, "MiB of decoder memory"),
                 "progressive 12000x12000 CMYK JPEG: status %d, %s", (int)pst, err.msg);
        jn_rgb_image_free(&a);
    }
    free(pj);
    free(cmyk);
    free(grey);
    free(rgb);
}

/* ---------------------------------------------------------------- FFmpeg formats */

static void test_bmp(void) {
    const int w = 5, h = 3; /* 24-bit bottom-up BGR, rows padded to 4 bytes */
    const int stride = (w * 3 + 3) & ~3;
    uint8_t file[54 + 3 * 16];
    memset(file, 0, sizeof file);
    uint8_t want[5 * 3 * 3];
    file[0] = 'B';
    file[1] = 'M';
    uint32_t size = 54 + (uint32_t)(stride * h);
    for (int i = 0; i < 4; i++) {
        file[2 + i] = (uint8_t)(size >> (8 * i));
        file[10 + i] = (uint8_t)(54 >> (8 * i));
        file[14 + i] = (uint8_t)(40 >> (8 * i));
        file[18 + i] = (uint8_t)((uint32_t)w >> (8 * i));
        file[22 + i] = (uint8_t)((uint32_t)h >> (8 * i));
    }
    file[26] = 1;
    file[28] = 24;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t r = (uint8_t)rnd(), g = (uint8_t)rnd(), b = (uint8_t)rnd();
            uint8_t *p = file + 54 + (size_t)(h - 1 - y) * stride + 3 * x;
            p[0] = b;
            p[1] = g;
            p[2] = r;
            want[(y * w + x) * 3] = r;
            want[(y * w + x) * 3 + 1] = g;
            want[(y * w + x) * 3 + 2] = b;
        }
    const char *path = tu_tmp("imgio_hand.bmp");
    TU_CHECK(write_bytes(path, file, size), "write bmp");
    jn_rgb_image img = {0};
    jn_error err = {0};
    jn_status st = jn_image_decode_file(path, -1, &img, &err);
    TU_CHECK(st == JN_OK && same_rgb("hand.bmp", &img, want, w, h), "bmp via FFmpeg: %s", err.msg);
    jn_rgb_image_free(&img);
}

/* Encodes n_frames frames (frame i filled by fill(i)) with codec into path (muxer by name). Returns
 * 1 on success, 0 if the encoder/muxer is missing or fails (the caller then skips). */
typedef void (*fill_fn)(AVFrame *f, int i);
static int encode_file(const char *path, const char *muxer, const char *codec, enum AVPixelFormat pix, int w, int h,
                       int n_frames, int fps, fill_fn fill) {
    const AVCodec *enc = avcodec_find_encoder_by_name(codec);
    if (!enc) return 0;
    AVFormatContext *oc = NULL;
    if (avformat_alloc_output_context2(&oc, NULL, muxer, path) < 0 || !oc) return 0;
    AVStream *st = avformat_new_stream(oc, NULL);
    AVCodecContext *cc = avcodec_alloc_context3(enc);
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ok = 0;
    if (!st || !cc || !fr || !pkt) goto out;
    cc->width = w;
    cc->height = h;
    cc->pix_fmt = pix;
    cc->time_base = (AVRational){1, fps};
    cc->framerate = (AVRational){fps, 1};
    cc->gop_size = 3; /* inter frames where the codec has them: seeking must land on a keyframe */
    if (strcmp(codec, "mjpeg") == 0) cc->color_range = AVCOL_RANGE_JPEG;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opt = NULL;
    if (strcmp(codec, "libwebp") == 0) av_dict_set(&opt, "lossless", "1", 0);
    int r = avcodec_open2(cc, enc, &opt);
    av_dict_free(&opt);
    if (r < 0) goto out;
    if (avcodec_parameters_from_context(st->codecpar, cc) < 0) goto out;
    st->time_base = cc->time_base;
    if (!(oc->oformat->flags & AVFMT_NOFILE) && avio_open(&oc->pb, path, AVIO_FLAG_WRITE) < 0) goto out;
    if (avformat_write_header(oc, NULL) < 0) goto out;
    fr->format = pix;
    fr->width = w;
    fr->height = h;
    if (av_frame_get_buffer(fr, 0) < 0) goto out;
    for (int i = 0; i <= n_frames; i++) {
        if (i < n_frames) {
            if (av_frame_make_writable(fr) < 0) goto out;
            fill(fr, i);
            fr->pts = i;
            r = avcodec_send_frame(cc, fr);
        } else {
            r = avcodec_send_frame(cc, NULL);
        }
        if (r < 0) goto out;
        while ((r = avcodec_receive_packet(cc, pkt)) >= 0) {
            av_packet_rescale_ts(pkt, cc->time_base, st->time_base);
            pkt->stream_index = st->index;
            if (av_interleaved_write_frame(oc, pkt) < 0) goto out;
        }
        if (r != AVERROR(EAGAIN) && r != AVERROR_EOF) goto out;
    }
    ok = av_write_trailer(oc) >= 0;
out:
    if (oc && !(oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&oc->pb);
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&cc);
    avformat_free_context(oc);
    return ok;
}

/* rgb24 / bgr0 pattern: pixel (x, y) of frame i */
static void pattern(int x, int y, int i, uint8_t *r, uint8_t *g, uint8_t *b) {
    *r = (uint8_t)(x * 9 + i * 20);
    *g = (uint8_t)(y * 11 + i * 7);
    *b = (uint8_t)(i * 25);
}
static void fill_rgb24(AVFrame *f, int i) {
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) {
            uint8_t *p = f->data[0] + (ptrdiff_t)y * f->linesize[0] + 3 * x;
            pattern(x, y, i, &p[0], &p[1], &p[2]);
        }
}
static void fill_bgr0(AVFrame *f, int i) {
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) {
            uint8_t *p = f->data[0] + (ptrdiff_t)y * f->linesize[0] + 4 * x;
            pattern(x, y, i, &p[2], &p[1], &p[0]);
            p[3] = 255;
        }
}
static void fill_pal8(AVFrame *f, int i) {
    uint32_t *pal = (uint32_t *)f->data[1];
    for (int k = 0; k < 256; k++) {
        uint8_t r = (uint8_t)(k * 3 + i), g = (uint8_t)(255 - k), b = (uint8_t)(k * 7);
        pal[k] = 0xFF000000u | ((uint32_t)r << 16) | ((uint32_t)g << 8) | b;
    }
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) f->data[0][(ptrdiff_t)y * f->linesize[0] + x] = (uint8_t)(x * 16 + y);
}
static uint8_t *want_pattern(int w, int h, int i) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) pattern(x, y, i, &p[(y * w + x) * 3], &p[(y * w + x) * 3 + 1], &p[(y * w + x) * 3 + 2]);
    return p;
}

static void test_ffmpeg_images(void) {
    const int w = 16, h = 12;
    jn_error err = {0};
    jn_rgb_image img = {0};
    /* TIFF (rgb24, lossless) */
    const char *tp = tu_tmp("imgio_ff.tiff");
    if (encode_file(tp, "image2", "tiff", AV_PIX_FMT_RGB24, w, h, 1, 1, fill_rgb24)) {
        uint8_t *want = want_pattern(w, h, 0);
        jn_status st = jn_image_decode_file(tp, 0.5 /* ignored for stills */, &img, &err);
        TU_CHECK(st == JN_OK && same_rgb("ff.tiff", &img, want, w, h), "tiff: %s", err.msg);
        jn_rgb_image_free(&img);
        free(want);
    } else {
        printf("tiff: no encoder, skipped\n");
    }
    /* GIF (palette): exact palette lookup */
    const char *gp = tu_tmp("imgio_ff.gif");
    if (encode_file(gp, "gif", "gif", AV_PIX_FMT_PAL8, w, h, 1, 10, fill_pal8)) {
        uint8_t *want = malloc((size_t)w * h * 3);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int k = (x * 16 + y) & 255;
                want[(y * w + x) * 3] = (uint8_t)(k * 3);
                want[(y * w + x) * 3 + 1] = (uint8_t)(255 - k);
                want[(y * w + x) * 3 + 2] = (uint8_t)(k * 7);
            }
        jn_status st = jn_image_decode_file(gp, 0.5 /* one frame at t=0: a still */, &img, &err);
        TU_CHECK(st == JN_OK && same_rgb("ff.gif", &img, want, w, h), "gif: %s", err.msg);
        jn_rgb_image_free(&img);
        free(want);
    } else {
        printf("gif: no encoder, skipped\n");
    }
    /* WebP lossless (libwebp encoder, FFmpeg's native decoder) */
    const char *wp = tu_tmp("imgio_ff.webp");
    if (encode_file(wp, "webp", "libwebp", AV_PIX_FMT_BGRA, w, h, 1, 1, fill_bgr0)) {
        uint8_t *want = want_pattern(w, h, 0);
        jn_status st = jn_image_decode_file(wp, -1, &img, &err);
        TU_CHECK(st == JN_OK && same_rgb("ff.webp", &img, want, w, h), "webp lossless: %s", err.msg);
        jn_rgb_image_free(&img);
        free(want);
    } else {
        printf("webp: no encoder, skipped\n");
    }
}

static void test_video(void) {
    const int w = 16, h = 8, fps = 10, n = 10;
    const char *vp = tu_tmp("imgio_clip.mkv");
    remove(vp);
    if (!encode_file(vp, "matroska", "ffv1", AV_PIX_FMT_BGR0, w, h, n, fps, fill_bgr0)) {
        printf("video: no ffv1 encoder, skipped\n");
        return;
    }
    const struct {
        double at;
        int frame;
    } q[] = {{-1, 0}, {0.0, 0}, {0.5, 5}, {0.45, 5}, {0.51, 6}, {0.9, 9}, {0.2, 2}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        jn_rgb_image img = {0};
        jn_error err = {0};
        jn_status st = jn_image_decode_file(vp, q[i].at, &img, &err);
        TU_CHECK(st == JN_OK, "video at %.2f: %s", q[i].at, err.msg);
        if (st) continue;
        uint8_t *want = want_pattern(w, h, q[i].frame);
        char name[64];
        snprintf(name, sizeof name, "clip.mkv@%.2f", q[i].at);
        TU_CHECK(same_rgb(name, &img, want, w, h), "video at %.2f: not frame %d", q[i].at, q[i].frame);
        jn_rgb_image_free(&img);
        free(want);
    }
    jn_rgb_image img = {0};
    jn_error err = {0};
    jn_status st = jn_image_decode_file(vp, 100.0, &img, &err);
    TU_CHECK(st != JN_OK && strstr(err.msg, "100.000"), "past the end: st=%d %s", st, err.msg);
    printf("video (ffv1, exact): frame selection checked\n");
}

/* MPEG-4 Part 2 with P-frames (GOP 3): seeking lands on a keyframe, decoding runs forward. Frame i
 * is a flat luma level 40 + 18 i; the decoded frame is identified by its mean red level. */
static void fill_yuv_level(AVFrame *f, int i) {
    for (int y = 0; y < f->height; y++) memset(f->data[0] + (ptrdiff_t)y * f->linesize[0], 40 + 18 * i, (size_t)f->width);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < f->height / 2; y++) memset(f->data[p] + (ptrdiff_t)y * f->linesize[p], 128, (size_t)f->width / 2);
}

static void test_video_inter(void) {
    const int w = 32, h = 32, fps = 10, n = 10;
    const char *vp = tu_tmp("imgio_clip_mpeg4.avi");
    remove(vp);
    if (!encode_file(vp, "avi", "mpeg4", AV_PIX_FMT_YUV420P, w, h, n, fps, fill_yuv_level)) {
        printf("video mpeg4: no encoder, skipped\n");
        return;
    }
    const struct {
        double at;
        int frame;
    } q[] = {{-1, 0}, {0.5, 5}, {0.45, 5}, {0.7, 7}, {0.31, 4}, {0.9, 9}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        jn_rgb_image img = {0};
        jn_error err = {0};
        jn_status st = jn_image_decode_file(vp, q[i].at, &img, &err);
        TU_CHECK(st == JN_OK, "mpeg4 at %.2f: %s", q[i].at, err.msg);
        if (st) continue;
        double mean = 0;
        for (int k = 0; k < w * h; k++) mean += img.rgb[3 * k];
        mean /= w * h;
        int best = -1;
        double bd = 1e9;
        for (int f = 0; f < n; f++) {
            double d = mean - (40 + 18 * f - 16) * 255.0 / 219.0;
            if (d < 0) d = -d;
            if (d < bd) bd = d, best = f;
        }
        TU_CHECK(best == q[i].frame && bd < 4, "mpeg4 at %.2f: got frame %d (mean red %.1f), want %d", q[i].at, best, mean,
                 q[i].frame);
        jn_rgb_image_free(&img);
    }
    printf("video (mpeg4, P-frames): frame selection checked\n");
}

/* ---------------------------------------------------------------- errors */

static void expect_fail(const char *what, const char *path, jn_status want, const char *needle) {
    jn_rgb_image img = {(int)0xdead, 7, (uint8_t *)NULL};
    jn_error err = {0};
    jn_status st = jn_image_decode_file(path, -1, &img, &err);
    TU_CHECK(st == want, "%s: status %d, want %d (%s)", what, st, want, err.msg);
    TU_CHECK(img.rgb == NULL && img.w == 0, "%s: output not cleared", what);
    TU_CHECK(!needle || strstr(err.msg, needle), "%s: message \"%s\" lacks \"%s\"", what, err.msg, needle);
    if (st == JN_OK) jn_rgb_image_free(&img);
}

/* A PNG made of signature + IHDR(w, h, RGB 8) + one small IDAT + IEND. */
static size_t png_header_only(uint8_t *buf, uint32_t w, uint32_t h) {
    size_t n = 0;
    memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    put_be32(buf + n, 13);
    memcpy(buf + n + 4, "IHDR", 4);
    put_be32(buf + n + 8, w);
    put_be32(buf + n + 12, h);
    buf[n + 16] = 8;
    buf[n + 17] = 2;
    buf[n + 18] = buf[n + 19] = buf[n + 20] = 0;
    put_be32(buf + n + 21, crc32_of(buf + n + 4, 17));
    n += 25;
    static const uint8_t idat[] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01};
    put_be32(buf + n, sizeof idat);
    memcpy(buf + n + 4, "IDAT", 4);
    memcpy(buf + n + 8, idat, sizeof idat);
    put_be32(buf + n + 8 + sizeof idat, crc32_of(buf + n + 4, 4 + sizeof idat));
    n += 12 + sizeof idat;
    put_be32(buf + n, 0);
    memcpy(buf + n + 4, "IEND", 4);
    put_be32(buf + n + 8, crc32_of(buf + n + 4, 4));
    return n + 12;
}

static void test_errors(void) {
    expect_fail("missing", tu_tmp("imgio_does_not_exist.png"), JN_ERR_IO, "does_not_exist.png");
    expect_fail("directory", tu_tmp(""), JN_ERR_IO, "directory");
    const char *empty = tu_tmp("imgio_empty.png");
    write_bytes(empty, "", 0);
    expect_fail("empty", empty, JN_ERR_FORMAT, "empty");

    uint8_t garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)rnd();
    const char *gp = tu_tmp("imgio_garbage.bin");
    write_bytes(gp, garbage, sizeof garbage);
    expect_fail("garbage", gp, JN_ERR_FORMAT, "garbage.bin");
    const char *txt = tu_tmp("imgio_notes.txt");
    write_bytes(txt, "hello, this is text\n", 20);
    expect_fail("text file", txt, JN_ERR_FORMAT, "notes.txt");

    /* truncated PNG / JPEG: cut valid files in the middle of the pixel data */
    size_t len = 0;
    {
        uint8_t rgb[64 * 64 * 3];
        for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)rnd();
        jn_error e = {0};
        TU_CHECK(jn_image_write_png(tu_tmp("imgio_trunc_src.png"), rgb, 64, 64, NULL, 0, 1, &e) == JN_OK, "%s", e.msg);
    }
    char *png = tu_read_file(tu_tmp("imgio_trunc_src.png"), &len);
    TU_CHECK(png && len > 200, "roundtrip.png missing");
    if (png) {
        const char *tp = tu_tmp("imgio_truncated.png");
        write_bytes(tp, png, len / 2);
        expect_fail("truncated png", tp, JN_ERR_FORMAT, "truncated");
        png[len / 2] ^= 0x55; /* corrupt IDAT data: CRC/zlib error */
        write_bytes(tp, png, len);
        expect_fail("corrupt png", tp, JN_ERR_FORMAT, "PNG");
        free(png);
    }
    char *jpg = tu_read_file(tu_tmp("imgio_q95.jpg"), &len);
    TU_CHECK(jpg && len > 400, "q95.jpg missing");
    if (jpg) {
        const char *tp = tu_tmp("imgio_truncated.jpg");
        write_bytes(tp, jpg, len / 2);
        expect_fail("truncated jpeg", tp, JN_ERR_FORMAT, "truncated");
        write_bytes(tp, jpg, 200); /* inside the header tables */
        expect_fail("truncated jpeg header", tp, JN_ERR_FORMAT, "truncated.jpg");
        /* only the EOI marker missing: libjpeg's read-ahead runs out of data; Pillow 9.4 says
         * "image file is truncated" too */
        write_bytes(tp, jpg, len - 2);
        expect_fail("jpeg without EOI", tp, JN_ERR_FORMAT, "truncated");
        /* huge SOF dimensions: refused before the decoder allocates */
        for (size_t i = 2; i + 9 < len; i++)
            if ((uint8_t)jpg[i] == 0xFF && (uint8_t)jpg[i + 1] == 0xC0) {
                jpg[i + 5] = (char)0xFD; /* height 65000 */
                jpg[i + 6] = (char)0xE8;
                jpg[i + 7] = (char)0xFD; /* width 65000 */
                jpg[i + 8] = (char)0xE8;
                break;
            }
        const char *hp = tu_tmp("imgio_huge.jpg");
        write_bytes(hp, jpg, len);
        expect_fail("huge jpeg", hp, JN_ERR_FORMAT, "65000x65000");
        free(jpg);
    }

    uint8_t hdr[128];
    size_t n = png_header_only(hdr, 0, 0);
    const char *zp = tu_tmp("imgio_zero.png");
    write_bytes(zp, hdr, n);
    expect_fail("0x0 png", zp, JN_ERR_FORMAT, "zero.png");

    n = png_header_only(hdr, 100000, 100000);
    const char *bp = tu_tmp("imgio_bomb.png");
    write_bytes(bp, hdr, n);
    size_t rss0 = jn_peak_rss_bytes();
    double t0 = jn_time_s();
    expect_fail("100000x100000 png", bp, JN_ERR_FORMAT, "100000x100000");
    double t1 = jn_time_s();
    size_t rss1 = jn_peak_rss_bytes();
    printf("bomb png refused in %.2f ms, peak RSS +%zu KiB\n", (t1 - t0) * 1e3, (rss1 - rss0) / 1024);
    TU_CHECK(rss1 - rss0 < (size_t)64 << 20, "peak RSS grew by %zu bytes: something was allocated", rss1 - rss0);

    /* a 2x2 PNG whose IDAT is too short for its rows */
    n = png_header_only(hdr, 2, 2);
    const char *sp = tu_tmp("imgio_short_idat.png");
    write_bytes(sp, hdr, n);
    expect_fail("short idat", sp, JN_ERR_FORMAT, "short_idat.png");

    /* size check itself */
    jn_error err = {0};
    TU_CHECK(jn_image_check_size("x", 1, 1, &err) == JN_OK, "1x1 refused");
    TU_CHECK(jn_image_check_size("x", 13377, 13377, &err) == JN_OK, "13377x13377 refused");
    TU_CHECK(jn_image_check_size("x", 13378, 13378, &err) == JN_ERR_FORMAT, "over the pixel cap accepted");
    TU_CHECK(jn_image_check_size("x", 0, 5, &err) == JN_ERR_FORMAT, "0x5 accepted");
}

int main(void) {
    av_log_set_level(AV_LOG_QUIET);
    test_png_variants();
    test_png_interlaced_memory();
    test_png_write();
    test_jpeg();
    test_bmp();
    test_ffmpeg_images();
    test_video();
    test_video_inter();
    test_errors();
    printf("%s\n", tu_failures ? "FAILED" : "OK");
    return TU_RESULT();
}
