/* vision/preprocess.h — the understanding image preprocessing of Janus (janus-spec §2.3), bit-exact:
 * target size rule, Pillow's 8-bit fixed-point antialiased bicubic resize, centred paste on a
 * background square, and the float normalisation.
 *
 * Why bit-exact: the reference runs PIL's Image.resize((w', h'), BICUBIC) then pads and
 * normalises; a single differing uint8 shows as 2/255 in pixel_values, so we reproduce Pillow's
 * Resample.c arithmetic (double coefficients, PRECISION_BITS = 22 fixed point, horizontal pass
 * first on the rows the vertical pass needs, a pass skipped when its axis keeps its size). */
#ifndef JANUS_VISION_PREPROCESS_H
#define JANUS_VISION_PREPROCESS_H

#include "engine/base.h"
#include "engine/io/image_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Image-processor settings (preprocessor_config.json; GGUF keys janus.image.*, vision/table.c). */
typedef struct jn_image_cfg {
    int size, min_size, n_image_tokens; /* square side, smallest resized side, tokens per image */
    uint8_t background[3];              /* padding colour */
    float mean[3], std[3];              /* per-channel normalisation */
    double rescale;                     /* 1/255 */
    int do_normalize;                   /* always 1 (checked at load) */
} jn_image_cfg;

/* Target size of the resize for an image of w x h (Python double arithmetic, truncation):
 *   m = max(w, h); h' = max(int(h / m * image_size), min_size); w' likewise. */
void jn_preprocess_target_size(int w, int h, int image_size, int min_size, int *out_w, int *out_h);

/* Pillow Image.resize((out_w, out_h), Image.BICUBIC) on 8-bit RGB (no reducing_gap, box = whole
 * image). If the size is unchanged the result is a copy. out gets a new [out_h, out_w, 3] buffer. */
jn_status jn_resize_bicubic_pil(const jn_rgb_image *in, int out_w, int out_h, jn_rgb_image *out, jn_error *err);

/* in: any RGB image -> resized_padded: new [image_size, image_size, 3] uint8 image =
 * resize to (w', h') as above, then pasted on a background-filled square at
 * (0, (S - h')//2) for landscape, ((S - w')//2, 0) for portrait (Janus expand2square).
 * image_size: 384 for Janus; min_size: 14; background: (127, 127, 127) for Janus. */
jn_status jn_preprocess_image(const jn_rgb_image *in, int image_size, int min_size, const uint8_t background[3],
                              jn_rgb_image *resized_padded, jn_error *err);

/* img [h, w, 3] uint8 -> out_chw [3, h, w] float32:
 *   x = float32(float64(v) * rescale); x = (x - mean[c]) / std[c] in float32
 * (transformers' rescale + normalize as the Janus VLMImageProcessor runs them). */
void jn_pixels_normalize(const jn_rgb_image *img, const float mean[3], const float std[3], double rescale,
                         float *out_chw);

#ifdef __cplusplus
}
#endif
#endif
