/* tests/fuzz/fuzz_image.c — image decoding through our loader (jn_image_decode_file: the same
 * entry point `ask --image` uses). Built three times with different seeds (CMakeLists.txt):
 * fuzz_png and fuzz_jpeg (libpng / libjpeg paths, Pillow-exact conversion rules) and
 * fuzz_image_ffmpeg (inputs that are neither, routed through FFmpeg; seeded with BMP). */
#include "fuzz_util.h"

#include "engine/io/image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    fuzz_file(path, sizeof path, "image", data, size);
    jn_error err = {0};
    jn_rgb_image img = {0};
    jn_status st = jn_image_decode_file(path, -1.0, &img, &err);
    fuzz_report("decode", &err);
    if (st == JN_OK) {
        if (img.w < 1 || img.h < 1 || !img.rgb) abort();
        /* first and last row: enough to catch a short buffer, without summing up to 537 MB per
         * input (a few bytes may legitimately declare a huge image within the size limit) */
        size_t row = (size_t)img.w * 3;
        fuzz_touch(img.rgb, row);
        fuzz_touch(img.rgb + (size_t)(img.h - 1) * row, row);
        jn_rgb_image_free(&img);
    }
    return 0;
}
