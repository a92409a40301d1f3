/* vision/aligner.c — the understanding aligner (MlpProjector "mlp_gelu", depth 2): maps SigLIP
 * features [M, W] to the LM width [M, D]. Kept apart from siglip.c because the pipeline may run
 * it on features computed elsewhere (dumps, cached encodings). */
#include "siglip.h"

#include "engine/nn.h"

void jn_vision_align(jn_backend *be, const jn_vision_weights *w, float *aligned, const float *x, int M,
                     float *hidden) {
    /* hidden: [M, D]; aligned: [M, D] */
    jn_mlp2_gelu(be, aligned, x, M, w->al1_w, w->al1_b, w->al2_w, w->al2_b, hidden);
}
