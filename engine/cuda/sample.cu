/* engine/cuda/sample.cu — the backend's sample() op on the device: CFG mix, temperature,
 * top-k / top-p and the inverse-CDF draw for n_out rows in one kernel (one 256-thread block per
 * output row), so a generation step downloads nothing (or only the ids).
 *
 * Why it matches the CPU bit for bit: every float operation is the shared inline arithmetic of
 * engine/sample_arith.h (explicitly rounded ops, a private exp, the Philox uniform), the tile sums
 * use the same pairwise tree (one warp per tile, see the comment there), the sums over tiles and
 * the CDF walk are sequential in one thread exactly as in engine/sample.c, and maxima, counts and
 * argmax are order-free. Top-k and top-p are found as rank thresholds by a bitwise search (the
 * largest rank key R with count(R_i ≥ R) ≥ k, resp. mass(R_i ≥ R) ≥ p·Z): 32 + log2(C) passes
 * over the row, each cheap at C = 16384 (~2 µs), so they cost ~0.1 ms per step where the plain
 * path (temperature only, Janus' default) is three passes. */
#include "common.cuh"

#include "../sample_arith.h"

#define JN_SAMPLE_THREADS JN_SA_TILE /* 256 = 8 warps; one warp reduces one tile */
#define JN_SAMPLE_WARPS (JN_SAMPLE_THREADS / 32)
#define JN_SAMPLE_MAX_TILES 8192 /* dynamic shared memory for tile sums: 32 KiB, rows up to 2M tokens */

struct sample_args {
    int32_t *ids;
    int repeat;
    const float *logits;
    int C, cfg_pairs;
    float cfg, temperature, top_p;
    int top_k;
    uint64_t seed, stream0, index;
    const int32_t *index_dev; /* NULL or the device delta added to index */
    float *xs, *es; /* scratch [n_out, C]: scaled logits, weights */
};

__device__ __forceinline__ float mixed_at(const sample_args &a, const float *row, int i) {
    return a.cfg_pairs ? jn_sa_cfg(row[i], row[i + a.C], a.cfg) : row[i];
}

/* every thread gets the block's max (order-free: NaN-free values, one zero sign) */
__device__ float block_max(float v, float *sh) {
    v = jn_warp_max(v);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
    __syncthreads();
    float m = sh[0];
    for (int w = 1; w < JN_SAMPLE_WARPS; w++) m = fmaxf(m, sh[w]);
    return m;
}

__device__ int block_sum_int(int v, int *sh) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
    __syncthreads();
    int s = 0;
    for (int w = 0; w < JN_SAMPLE_WARPS; w++) s += sh[w];
    return s;
}

/* first maximum of the mixed row, NaNs ignored, 0 if all are NaN (== jn_sample_argmax) */
__device__ int block_argmax(const sample_args &a, const float *row, float *shv, int *shi) {
    float bv = 0.0f;
    int bi = -1;
    for (int i = threadIdx.x; i < a.C; i += JN_SAMPLE_THREADS) { /* increasing i: keeps the first */
        float v = mixed_at(a, row, i);
        if (v != v) continue;
        if (bi < 0 || v > bv) {
            bv = v;
            bi = i;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (oi >= 0 && (bi < 0 || ov > bv || (ov == bv && oi < bi))) {
            bv = ov;
            bi = oi;
        }
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) {
        shv[threadIdx.x >> 5] = bv;
        shi[threadIdx.x >> 5] = bi;
    }
    __syncthreads();
    bv = shv[0];
    bi = shi[0];
    for (int w = 1; w < JN_SAMPLE_WARPS; w++)
        if (shi[w] >= 0 && (bi < 0 || shv[w] > bv || (shv[w] == bv && shi[w] < bi))) {
            bv = shv[w];
            bi = shi[w];
        }
    return bi < 0 ? 0 : bi;
}

/* M({R_i ≥ rthr}) (sample_arith.h step 6): tile sums into tsum[NT], then added in tile order by
 * thread 0; every thread gets the result. */
__device__ float block_mass(const float *x, const float *e, int C, uint64_t rthr, float *tsum, int NT, float *bc) {
    const int lane = threadIdx.x & 31;
    for (int t = threadIdx.x >> 5; t < NT; t += JN_SAMPLE_WARPS) {
        float v[8];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int i = t * JN_SA_TILE + lane + 32 * j;
            v[j] = (i < C && jn_sa_rank(x[i], i, C) >= rthr) ? e[i] : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < 4; j++) v[j] = jn_sa_add(v[j], v[j + 4]); /* stride 128 */
        v[0] = jn_sa_add(v[0], v[2]);                                   /* stride 64 */
        v[1] = jn_sa_add(v[1], v[3]);
        v[0] = jn_sa_add(v[0], v[1]); /* stride 32 */
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) v[0] = jn_sa_add(v[0], __shfl_xor_sync(0xffffffffu, v[0], o));
        if (lane == 0) tsum[t] = v[0];
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float m = 0.0f;
        for (int t = 0; t < NT; t++) m = jn_sa_add(m, tsum[t]);
        *bc = m;
    }
    __syncthreads();
    return *bc;
}

__global__ void __launch_bounds__(JN_SAMPLE_THREADS) sample_rows_kernel(sample_args a) {
    extern __shared__ float tsum[]; /* [NT] tile sums */
    __shared__ float shf[JN_SAMPLE_WARPS];
    __shared__ int shi[JN_SAMPLE_WARPS];
    __shared__ float bc;
    __shared__ int out_id;
    const int r = blockIdx.x, C = a.C, NT = (C + JN_SA_TILE - 1) / JN_SA_TILE;
    const float *row = a.logits + (size_t)r * C * (a.cfg_pairs ? 2 : 1);
    float *x = a.xs + (size_t)r * C, *e = a.es + (size_t)r * C;
    int id = -1;

    if (!(a.temperature > 0)) {
        id = block_argmax(a, row, shf, shi);
        goto write;
    }
    {
        /* steps 3-4: scaled logits, maximum, weights */
        float mx = jn_sa_from_bits(0xFF800000u);
        for (int i = threadIdx.x; i < C; i += JN_SAMPLE_THREADS) {
            float v = jn_sa_scaled(mixed_at(a, row, i), a.temperature);
            x[i] = v;
            mx = fmaxf(mx, v);
        }
        mx = block_max(mx, shf);
        if (mx == jn_sa_from_bits(0xFF800000u) || mx == jn_sa_from_bits(0x7F800000u)) {
            id = block_argmax(a, row, shf, shi);
            goto write;
        }
        for (int i = threadIdx.x; i < C; i += JN_SAMPLE_THREADS) e[i] = jn_sa_exp(jn_sa_sub(x[i], mx));
        __syncthreads();

        /* steps 7-8: the kept set as a rank threshold, by a bitwise search from the top bit */
        uint64_t rthr = 0;
        const int ib = jn_sa_index_bits(C);
        if (a.top_k > 0 && a.top_k < C) {
            for (int b = 63; b >= 0; b--) {
                if (b < 32 && b >= ib) continue; /* index bits that are 0 in every key */
                uint64_t cand = rthr | ((uint64_t)1 << b);
                int cnt = 0;
                for (int i = threadIdx.x; i < C; i += JN_SAMPLE_THREADS) cnt += jn_sa_rank(x[i], i, C) >= cand;
                if (block_sum_int(cnt, shi) >= a.top_k) rthr = cand;
            }
        }
        if (a.top_p < 1.0f) {
            const float target = jn_sa_mul(a.top_p, block_mass(x, e, C, rthr, tsum, NT, &bc));
            uint64_t pthr = 0;
            for (int b = 63; b >= 0; b--) {
                if (b < 32 && b >= ib) continue;
                uint64_t cand = pthr | ((uint64_t)1 << b);
                if (block_mass(x, e, C, cand > rthr ? cand : rthr, tsum, NT, &bc) >= target) pthr = cand;
            }
            if (pthr > rthr) rthr = pthr;
        }

        /* step 9: the tiled CDF walk (thread 0, sequential as on the CPU) */
        const float total = block_mass(x, e, C, rthr, tsum, NT, &bc);
        if (threadIdx.x == 0) {
            const uint64_t index = a.index + (a.index_dev ? (uint64_t)(int64_t)*a.index_dev : 0);
            float u = jn_sa_uniform(a.seed, a.stream0 + (uint64_t)r, index);
            if (!(u >= 0)) u = 0;
            const float target = jn_sa_mul(u, total);
            float S = 0.0f;
            int pick = -1;
            for (int t = 0; t < NT && pick < 0; t++) {
                float next = jn_sa_add(S, tsum[t]);
                if (target < next) {
                    float s = S;
                    int end = (t + 1) * JN_SA_TILE < C ? (t + 1) * JN_SA_TILE : C;
                    for (int i = t * JN_SA_TILE; i < end; i++) {
                        float w = jn_sa_rank(x[i], i, C) >= rthr ? e[i] : 0.0f;
                        if (w <= 0.0f) continue;
                        s = jn_sa_add(s, w);
                        pick = i;
                        if (target < s) break;
                    }
                    if (pick < 0) pick = -2; /* cannot happen: the tile's sum is positive */
                }
                S = next;
            }
            if (pick == -1) /* target rounded up to the total: the last kept token */
                for (int i = C - 1; i >= 0 && pick < 0; i--)
                    if (jn_sa_rank(x[i], i, C) >= rthr && e[i] > 0.0f) pick = i;
            out_id = pick;
        }
        __syncthreads();
        id = out_id;
        if (id < 0) id = block_argmax(a, row, shf, shi);
    }
write:
    if (threadIdx.x < a.repeat) a.ids[(size_t)r * a.repeat + threadIdx.x] = id;
}

jn_status jn_cuda_sample(jn_backend *be, int32_t *ids, int repeat, const float *logits, int n_out, int C, int cfg_pairs,
                         const jn_sample_params *sp, uint64_t stream0, uint64_t index, const int32_t *index_dev,
                         jn_error *err) {
    jn_cuda_impl *c = jn_cuda(be);
    if (n_out <= 0 || c->failed) return jn_backend_cuda_last_error(be, err);
    if (C <= 0 || repeat < 1 || repeat > JN_SAMPLE_THREADS || !sp || !ids || !logits)
        return jn_fail(err, JN_ERR_USAGE, "sample: bad arguments (C %d, repeat %d, params %s)", C, repeat,
                       sp ? "set" : "NULL");
    const int NT = (C + JN_SA_TILE - 1) / JN_SA_TILE;
    if (NT > JN_SAMPLE_MAX_TILES)
        return jn_fail(err, JN_ERR_USAGE, "cuda sample: rows of %d tokens exceed the %d supported", C,
                       JN_SAMPLE_MAX_TILES * JN_SA_TILE);
    float *scratch = (float *)jn_cuda_scratch(c, &c->s_samp, (size_t)2 * n_out * C * sizeof(float));
    if (!scratch) return jn_backend_cuda_last_error(be, err);
    sample_args a;
    a.ids = ids;
    a.repeat = repeat;
    a.logits = logits;
    a.C = C;
    a.cfg_pairs = cfg_pairs != 0;
    a.cfg = sp->cfg;
    a.temperature = sp->temperature;
    a.top_p = sp->top_p;
    a.top_k = sp->top_k;
    a.seed = sp->seed;
    a.stream0 = stream0;
    a.index = index;
    a.index_dev = index_dev;
    a.xs = scratch;
    a.es = scratch + (size_t)n_out * C;
    sample_rows_kernel<<<(unsigned)n_out, JN_SAMPLE_THREADS, (size_t)NT * sizeof(float), c->stream>>>(a);
    JN_CUDA_LAUNCHED(c);
    return jn_backend_cuda_last_error(be, err);
}
