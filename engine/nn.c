/* engine/nn.c — generic layer helpers (see nn.h). */
#include "nn.h"

void jn_mlp2_gelu(jn_backend *be, float *y, const float *x, int M, const jn_weight *w1, const jn_weight *b1,
                  const jn_weight *w2, const jn_weight *b2, float *hidden) {
    size_t n1 = (size_t)jn_weight_rows(w1);
    be->matmul(be, hidden, x, w1, b1, M); /* hidden: [M, N1] */
    be->gelu(be, hidden, hidden, (size_t)M * n1);
    be->matmul(be, y, hidden, w2, b2, M); /* y: [M, N2] */
}
