/* engine/cpu/matmul_qk.h — the q8_0/q4_0 × q8 matmul kernel, instantiated twice by matmul.c.
 *
 * Why a template: the int8 dot product of 4 byte pairs into an int32 lane is one instruction
 * with AVX-VNNI (vpdpbusd) and three with plain AVX2 (maddubs, madd, add). Both give the same
 * exact int32 lanes (maddubs cannot saturate on these operands), so both instantiations return
 * identical bits; only the target attribute and the dot-product macro differ, and intrinsics of
 * one target cannot be inlined into a function of the other. matmul.c defines before including:
 *   JN_QK_INLINE  attribute of the inline micro-kernel (always_inline + target)
 *   JN_QK_FN      attribute of the driver
 *   JN_QK_MK, JN_QK_MM  the two function names
 *   JN_QK_DOT(acc, u, s)  acc + per-lane Σ of 4 products u (unsigned bytes) · s (signed bytes)
 * Include only from matmul.c, inside its JN_X86 section. */

/* y[i, j] for i < mr x rows, j < nr W rows: per 32-block an exact int32 dot product in 8 lanes
 * (4 products each), converted to f32 and FMA-accumulated with scale d_w·d_x; one horizontal sum
 * at the end. q4_0: the unsigned nibbles (q+8) are the unsigned operand and the precomputed
 * −8·Σx lanes (x->ns) start the int32 sum, which gives Σq·x exactly; q8_0: |w| against
 * sign(x, w) (no saturation: |pair| ≤ 2·128·127). Either way the int32 lanes are Σ q_w·q_x over
 * the same 4 elements whatever the tile shape or instantiation. */
JN_QK_INLINE void JN_QK_MK(const int mr, const int nr, const int q4, const jn_q8x *x, int nb, const uint8_t *w,
                           size_t row_bytes, float *y, size_t ldy, const float *bias) {
    const size_t bb = q4 ? sizeof(jn_block_q4_0) : sizeof(jn_block_q8_0);
    /* W rows are contiguous, so the W of a task is one linear stream walked nr rows at a time:
     * prefetch the same position of the next tile (the hardware prefetcher alone leaves decode
     * latency-bound at ~5 GB/s per core) */
    const size_t pfd = (size_t)nr * row_bytes;
    const __m256i lo4 = _mm256_set1_epi8(0x0f), sh4 = _mm256_setr_epi64x(0, 0, 4, 4);
    __m256 acc[MRQ][NRQ];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256 dx[MRQ];
        for (int i = 0; i < mr; i++) dx[i] = _mm256_broadcast_ss(&x[(size_t)i * nb + b].d);
        for (int j = 0; j < nr; j++) {
            const uint8_t *blk = w + (size_t)j * row_bytes + (size_t)b * bb;
            _mm_prefetch((const char *)blk + pfd, _MM_HINT_T0);
            uint16_t h;
            memcpy(&h, blk, 2);
            const __m256 dw = _mm256_set1_ps(_cvtsh_ss(h));
            __m256i wu, ws = _mm256_setzero_si256();
            if (q4) {
                __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
                wu = _mm256_and_si256(_mm256_srlv_epi64(t, sh4), lo4);
            } else {
                ws = _mm256_loadu_si256((const __m256i *)(blk + 2));
                wu = _mm256_sign_epi8(ws, ws);
            }
            for (int i = 0; i < mr; i++) {
                const jn_q8x *xb = x + (size_t)i * nb + b;
                __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs), s;
                if (q4) s = JN_QK_DOT(_mm256_loadu_si256((const __m256i *)xb->ns), wu, xv);
                else s = JN_QK_DOT(_mm256_setzero_si256(), wu, _mm256_sign_epi8(xv, ws));
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx[i]), acc[i][j]);
            }
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = jn_hsum8(acc[i][j]);
            y[(size_t)i * ldy + j] = bias ? s + bias[j] : s;
        }
}

JN_QK_FN static void JN_QK_MM(float *y, size_t ldy, const jn_q8x *xq, int M, const uint8_t *w, size_t row_bytes,
                              jn_dtype wt, int N, int nb, const float *bias) {
    const int q4 = wt == JN_Q4_0;
    int nbk = (int)((64u * 1024u) / (row_bytes + 1u));
    nbk = nbk < NRQ ? NRQ : (nbk / NRQ) * NRQ;
    for (int n0 = 0; n0 < N; n0 += nbk) {
        int n1 = imin(N, n0 + nbk);
        for (int m = 0; m < M; m += MRQ) {
            int mr = imin(MRQ, M - m);
            for (int n = n0; n < n1; n += NRQ) {
                int nr = imin(NRQ, n1 - n);
                const jn_q8x *xp = xq + (size_t)m * nb;
                const uint8_t *wp = w + (size_t)n * row_bytes;
                float *yp = y + (size_t)m * ldy + n;
                const float *bp = bias ? bias + n : NULL;
#define JN_MK(a, b)                                                           \
    case (a) * 8 + (b):                                                       \
        if (q4) JN_QK_MK(a, b, 1, xp, nb, wp, row_bytes, yp, ldy, bp);        \
        else JN_QK_MK(a, b, 0, xp, nb, wp, row_bytes, yp, ldy, bp);           \
        break
#define JN_MK_ROW(a) JN_MK(a, 1); JN_MK(a, 2); JN_MK(a, 3); JN_MK(a, 4)
                switch (mr * 8 + nr) {
                    JN_MK_ROW(1); JN_MK_ROW(2); JN_MK_ROW(3); JN_MK_ROW(4);
                    default: break;
                }
#undef JN_MK_ROW
#undef JN_MK
            }
        }
    }
}
