/* engine/cpu/matmul_packed256.h — the 256-bit kernel over packed q4_0/q8_0 weights, instantiated
 * twice by matmul_packed.c (AVX-VNNI vpdpbusd, and plain AVX2 maddubs/madd).
 *
 * Why a template: as in matmul_qk.h, intrinsics of one target cannot be inlined into a function
 * of another, so only the attributes and the dot-product macro differ. Each 64-byte chunk of the
 * packed layout is two ymm halves: rows 0-7 (bytes 0-31) and rows 8-15 (bytes 32-63); a call
 * computes both halves of a group (16 weight rows) for up to 4 x rows, so each x broadcast
 * feeds two dot products and each weight line is read in one pass (one half per call read every
 * line twice and broadcast x twice: the 1B layer's q4_0 matmul, Zen 3, 2 threads, M = 2 1.7 →
 * 1.1-1.3 ms, M = 8 2.8-3.4 → 2.3-2.4, M = 32 10.4-10.7 → 8.4-9.1). The int32 sums are exactly
 * Σ q_w·q_x and the f32 epilogue is the scalar kernel's ((float)s · (d_w · d_x), added in block
 * order), so every instantiation gives the scalar path's bits. Plain AVX2 cannot take q8_0's q + 128 bytes
 * (maddubs would saturate): it restores the signed quants and uses |w| · sign(x, w) instead of
 * the correction term. matmul_packed.c defines before including:
 *   JN_PK_INLINE, JN_PK_FN      attributes (always_inline + target; target)
 *   JN_PK_MK, JN_PK_TILE        the micro-kernel (16 weight rows × ≤ 4 x rows) and the tile
 *   JN_PK_VNNI                  1: JN_PK_DOT is vpdpbusd (u8 q + 128 allowed), 0: maddubs
 *   JN_PK_DOT(acc, u, s)        acc + per-lane Σ of 4 products u (unsigned bytes) · s (signed)
 *   JN_PK_DOT_Q4(acc, u, s)     the same for q4_0's nibbles: JN_PK_DOT (VNNI) or s16 pair sums
 * Include only from matmul_packed.c, inside its JN_X86 section. */

#define MR256 4 /* x rows per micro-tile */
/* An empty asm that takes and returns v in a vector register: the s16/s32 sums are integers, so
 * the compiler may reassociate their chains and, fully unrolling the k loop, computed all 32
 * products of a block first and spilled them (half the instructions of the AVX2 q4_0 kernel
 * were stack loads/stores). Pinning each row's running sum keeps the chain as written (M = 32
 * q4_0 on a Zen 3, 2 threads: 77-88 → 101-117 GMAC/s). */
#ifndef JN_PK_KEEP
#define JN_PK_KEEP(v) __asm__("" : "+x"(v))
#endif

JN_PK_INLINE void JN_PK_MK(const int mr, const int q4, const uint8_t *xq, size_t xs, int nb, const uint8_t *grp,
                           int gb, float *y, size_t ldy, int nvalid, const float *bias) {
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    const size_t dofs = (size_t)nb * 32, cofs = dofs + (size_t)nb * 4;
    __m256 facc[MR256][2]; /* [x row][half]: 8 weight rows each */
    for (int i = 0; i < mr; i++) facc[i][0] = facc[i][1] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = grp + (size_t)b * gb;
        for (int o = 0; o < gb; o += 64) _mm_prefetch((const char *)blk + 2048 + o, _MM_HINT_T0);
        const uint8_t *qw = blk + 2 * JN_PACK_ROWS;
        const uint8_t *corr = xq + cofs + 4 * (size_t)b; /* row 0's corr of block b */
        __m256i acc[MR256][2];
        if (q4) {
            /* VNNI: sum[] is the s32 sum, started at corr. Plain AVX2: maddubs gives s16 pair sums
             * of at most 2·15·127 = 3810, so the 8 of one block add up exactly in s16 (≤ 30480):
             * one madd to s32 per block instead of one per product. */
            __m256i sum[MR256][2];
            for (int i = 0; i < mr; i++)
                for (int h = 0; h < 2; h++)
                    sum[i][h] = JN_PK_VNNI ? _mm256_set1_epi32(pk_load_i32(corr + (size_t)i * xs))
                                           : _mm256_setzero_si256();
            for (int k = 0; k < 4; k++) {
                __m256i lo[2], hi[2];
                for (int h = 0; h < 2; h++) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(qw + 64 * k + 32 * h));
                    lo[h] = _mm256_and_si256(v, lo4);
                    hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
                }
                for (int i = 0; i < mr; i++) {
                    const uint8_t *xb = xq + (size_t)i * xs + 32 * (size_t)b;
                    const __m256i xl = _mm256_set1_epi32(pk_load_i32(xb + 4 * k));
                    const __m256i xh = _mm256_set1_epi32(pk_load_i32(xb + 16 + 4 * k));
                    for (int h = 0; h < 2; h++) {
                        sum[i][h] = JN_PK_DOT_Q4(sum[i][h], lo[h], xl);
                        sum[i][h] = JN_PK_DOT_Q4(sum[i][h], hi[h], xh);
                        JN_PK_KEEP(sum[i][h]);
                    }
                }
            }
            for (int i = 0; i < mr; i++)
                for (int h = 0; h < 2; h++)
                    acc[i][h] = JN_PK_VNNI ? sum[i][h]
                                           : _mm256_add_epi32(_mm256_set1_epi32(pk_load_i32(corr + (size_t)i * xs)),
                                                              _mm256_madd_epi16(sum[i][h], _mm256_set1_epi16(1)));
        } else {
            for (int i = 0; i < mr; i++)
                for (int h = 0; h < 2; h++)
                    acc[i][h] = _mm256_set1_epi32(JN_PK_VNNI ? pk_load_i32(corr + (size_t)i * xs) : 0);
            for (int k = 0; k < 8; k++) {
                __m256i v[2];
#if !JN_PK_VNNI
                __m256i ws[2];
#endif
                for (int h = 0; h < 2; h++) {
                    v[h] = _mm256_loadu_si256((const __m256i *)(qw + 64 * k + 32 * h));
#if !JN_PK_VNNI
                    ws[h] = _mm256_xor_si256(v[h], _mm256_set1_epi8((char)0x80)); /* signed q */
                    v[h] = _mm256_sign_epi8(ws[h], ws[h]);                       /* |q| */
#endif
                }
                for (int i = 0; i < mr; i++) {
                    const __m256i xb = _mm256_set1_epi32(pk_load_i32(xq + (size_t)i * xs + 32 * (size_t)b + 4 * k));
                    for (int h = 0; h < 2; h++) {
#if JN_PK_VNNI
                        acc[i][h] = JN_PK_DOT(acc[i][h], v[h], xb);
#else
                        acc[i][h] = JN_PK_DOT(acc[i][h], v[h], _mm256_sign_epi8(xb, ws[h]));
#endif
                        JN_PK_KEEP(acc[i][h]);
                    }
                }
            }
        }
        for (int h = 0; h < 2; h++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * h)));
            for (int i = 0; i < mr; i++) {
                float dx;
                memcpy(&dx, xq + (size_t)i * xs + dofs + 4 * (size_t)b, 4);
                __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(dx));
                facc[i][h] = _mm256_add_ps(facc[i][h], _mm256_mul_ps(_mm256_cvtepi32_ps(acc[i][h]), scale));
            }
        }
    }
    float out[JN_PACK_ROWS];
    for (int i = 0; i < mr; i++) {
        _mm256_storeu_ps(out, facc[i][0]);
        _mm256_storeu_ps(out + 8, facc[i][1]);
        for (int j = 0; j < nvalid; j++) y[(size_t)i * ldy + j] = bias ? out[j] + bias[j] : out[j];
    }
}

/* rows [m0, m1) of x (quantized) × groups [g0, g1) */
JN_PK_FN static void JN_PK_TILE(const jn_cpu_packed *p, const uint8_t *xq, float *y, int N, const float *bias, int g0,
                                int g1, int m0, int m1) {
    const int q4 = p->type == JN_Q4_0, nb = p->nb, gb = p->group_bytes;
    const size_t xs = xq_stride(nb);
    const uint8_t *data = (const uint8_t *)(p + 1);
    for (int g = g0; g < g1; g++) {
        const uint8_t *grp = data + (size_t)g * nb * (size_t)gb;
        int n0 = g * JN_PACK_ROWS, nvalid = N - n0 < JN_PACK_ROWS ? N - n0 : JN_PACK_ROWS;
        const float *bp = bias ? bias + n0 : NULL;
        for (int m = m0; m < m1; m += MR256) {
            int mr = m1 - m < MR256 ? m1 - m : MR256;
            const uint8_t *xp = xq + (size_t)m * xs;
            float *yp = y + (size_t)m * N + n0;
#define JN_MK(a)                                                                  \
    case a:                                                                       \
        if (q4) JN_PK_MK(a, 1, xp, xs, nb, grp, gb, yp, (size_t)N, nvalid, bp);   \
        else JN_PK_MK(a, 0, xp, xs, nb, grp, gb, yp, (size_t)N, nvalid, bp);      \
        break
            switch (mr) {
                JN_MK(1); JN_MK(2); JN_MK(3); JN_MK(4);
                default: break;
            }
#undef JN_MK
        }
    }
}

#undef MR256
