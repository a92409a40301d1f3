// janus-test-libs: janus_vision janus_engine
/* tests/test_model_preprocess.c — the understanding preprocessing against the Python goldens of
 * janus-tiny-a (cases preprocess_*): PIL's JPEG decode (exact), Pillow's bicubic resize + pad as
 * uint8 [3,384,384] (exact, all 4 images: downscale, portrait JPEG, unchanged size, upscale), and
 * pixel_values [3,384,384] within the cases.json tolerance (max_abs 1e-6). */
#include <stdlib.h>
#include <string.h>

#include "engine/io/image_io.h"
#include "engine/io/json.h"
#include "testutil.h"
#include "vision/preprocess.h"

static const struct {
    const char *name, *file;
    int w, h;
} k_cases[] = {
    {"img0_640x427", "images/img0_640x427.png", 640, 427},
    {"img1_300x500", "images/img1_300x500.jpg", 300, 500},
    {"img2_384x384", "images/img2_384x384.png", 384, 384},
    {"img3_37x23", "images/img3_37x23.png", 37, 23},
};

#define GOLD "janus-tiny-a/golden/tiny-a/"

/* pixel_values tolerance of case "preprocess_<name>" from cases.json (max_abs, rel_l2). */
static int case_tolerance(const jn_json *cases, const char *name, double *max_abs, double *rel_l2) {
    char id[128];
    snprintf(id, sizeof id, "preprocess_%s", name);
    for (size_t i = 0; cases && i < cases->n; i++) {
        const char *cid = jn_json_get_str(cases->items[i], "id");
        const jn_json *tol = jn_json_get(cases->items[i], "tolerance");
        if (cid && strcmp(cid, id) == 0 && tol)
            return jn_json_get_num(tol, "max_abs", max_abs) && jn_json_get_num(tol, "rel_l2", rel_l2);
    }
    return 0;
}

int main(void) {
    const uint8_t bg[3] = {127, 127, 127};
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};
    const double rescale = 0.00392156862745098;
    const int S = 384;
    float *pix = malloc((size_t)3 * S * S * sizeof(float));
    TU_CHECK(pix != NULL, "oom");
    if (!pix) return 1;
    jn_error jerr = {0};
    jn_json *root = jn_json_parse_file(tu_fixture(GOLD "cases.json"), &jerr);
    TU_CHECK(root != NULL, "cases.json: %s", jerr.msg);
    const jn_json *cases = root ? jn_json_get(root, "cases") : NULL;

    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        char rel[256];
        jn_error err = {0};
        jn_rgb_image img = {0}, sq = {0};
        snprintf(rel, sizeof rel, GOLD "%s", k_cases[c].file);
        jn_status st = jn_image_decode_file(tu_fixture(rel), -1, &img, &err);
        TU_CHECK(st == JN_OK, "%s: decode: %s", k_cases[c].name, err.msg);
        if (st) continue;
        TU_CHECK(img.w == k_cases[c].w && img.h == k_cases[c].h, "%s: decoded %dx%d", k_cases[c].name, img.w, img.h);

        if (strstr(k_cases[c].file, ".jpg")) { /* PIL's decoded pixels [h, w, 3] */
            size_t n = 0;
            snprintf(rel, sizeof rel, GOLD "pre_%s_decoded_u8.npy", k_cases[c].name);
            uint8_t *want = tu_load_npy_u8(tu_fixture(rel), &n);
            TU_CHECK(n == (size_t)img.w * img.h * 3, "decoded golden has %zu elements", n);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n && n == (size_t)img.w * img.h * 3; i++)
                if (img.rgb[i] != want[i] && bad++ == 0) first = i;
            TU_CHECK(bad == 0, "%s: %zu decoded bytes differ from PIL (first at %zu: got %d want %d)", k_cases[c].name,
                     bad, first, img.rgb[first], want[first]);
            printf("%s: JPEG decode vs PIL: %zu/%zu bytes differ\n", k_cases[c].name, bad, n);
            free(want);
        }

        double t0 = jn_time_s();
        st = jn_preprocess_image(&img, S, 14, bg, &sq, &err);
        double t1 = jn_time_s();
        TU_CHECK(st == JN_OK, "%s: preprocess: %s", k_cases[c].name, err.msg);
        if (st) {
            jn_rgb_image_free(&img);
            continue;
        }
        TU_CHECK(sq.w == S && sq.h == S, "%s: got %dx%d", k_cases[c].name, sq.w, sq.h);
        size_t n = 0;
        snprintf(rel, sizeof rel, GOLD "pre_%s_resized_u8.npy", k_cases[c].name);
        uint8_t *want = tu_load_npy_u8(tu_fixture(rel), &n); /* [3, S, S] */
        TU_CHECK(n == (size_t)3 * S * S, "resized golden has %zu elements", n);
        size_t bad = 0;
        int worst = 0;
        for (int ch = 0; ch < 3 && n == (size_t)3 * S * S; ch++)
            for (int i = 0; i < S * S; i++) {
                int d = abs((int)sq.rgb[3 * i + ch] - (int)want[(size_t)ch * S * S + i]);
                if (d) {
                    if (!bad) fprintf(stderr, "  first diff c=%d y=%d x=%d: got %d want %d\n", ch, i / S, i % S,
                                      sq.rgb[3 * i + ch], want[(size_t)ch * S * S + i]);
                    bad++;
                    if (d > worst) worst = d;
                }
            }
        printf("%s: resize+pad vs PIL: %zu/%zu bytes differ (max |d| %d), %.2f ms\n", k_cases[c].name, bad, n, worst,
               (t1 - t0) * 1e3);
        TU_CHECK(bad == 0, "%s: resized+padded uint8 differs from PIL in %zu bytes", k_cases[c].name, bad);
        free(want);

        jn_pixels_normalize(&sq, mean, std, rescale, pix);
        snprintf(rel, sizeof rel, GOLD "pre_%s_pixel_values.npy", k_cases[c].name);
        float *wantf = tu_load_npy_f32(tu_fixture(rel), &n);
        TU_CHECK(n == (size_t)3 * S * S, "pixel_values golden has %zu elements", n);
        double tol_abs = 0, tol_rel = 0;
        TU_CHECK(case_tolerance(cases, k_cases[c].name, &tol_abs, &tol_rel), "%s: no tolerance in cases.json",
                 k_cases[c].name);
        if (n == (size_t)3 * S * S)
            TU_CHECK(tu_close(k_cases[c].name, pix, wantf, n, tol_abs, tol_rel), "%s: pixel_values", k_cases[c].name);
        free(wantf);
        jn_rgb_image_free(&sq);
        jn_rgb_image_free(&img);
    }

    /* Size rule corner cases (Python: max(int(h / m * 384), 14)). */
    int w, h;
    jn_preprocess_target_size(640, 427, 384, 14, &w, &h);
    TU_CHECK(w == 384 && h == 256, "640x427 -> %dx%d", w, h);
    jn_preprocess_target_size(1000, 10, 384, 14, &w, &h);
    TU_CHECK(w == 384 && h == 14, "1000x10 -> %dx%d", w, h);
    jn_preprocess_target_size(1, 1, 384, 14, &w, &h);
    TU_CHECK(w == 384 && h == 384, "1x1 -> %dx%d", w, h);
    jn_preprocess_target_size(300, 500, 384, 14, &w, &h);
    TU_CHECK(w == 230 && h == 384, "300x500 -> %dx%d", w, h);

    free(pix);
    jn_json_free(root);
    printf("%s\n", tu_failures ? "FAILED" : "OK");
    return TU_RESULT();
}
