/* engine/nn.h — tiny generic layer helpers on top of the backend ops (no model knowledge).
 * Shared by components that must not include each other (vision aligner, generation aligner). */
#ifndef JANUS_ENGINE_NN_H
#define JANUS_ENGINE_NN_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Two-layer MLP with exact GELU: y[M, N2] = W2 · gelu(W1 · x + b1) + b2.
 * x: [M, K1] backend memory; hidden: backend scratch of M * N1 floats (N1 = rows of W1). */
void jn_mlp2_gelu(jn_backend *be, float *y, const float *x, int M, const jn_weight *w1, const jn_weight *b1,
                  const jn_weight *w2, const jn_weight *b2, float *hidden);

#ifdef __cplusplus
}
#endif
#endif
