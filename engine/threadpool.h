/* engine/threadpool.h — a persistent pthread pool with ggml-style static partitioning.
 *
 * jn_pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once for every ith in [0, nth) where
 * nth = jn_pool_size(pool); the calling thread runs ith = 0. Work is split by the callee from
 * (ith, nth) with fixed ranges, so results never depend on scheduling. Threads spin briefly then
 * sleep on a condition variable between runs. Not re-entrant: one run at a time per pool. */
#ifndef JANUS_ENGINE_THREADPOOL_H
#define JANUS_ENGINE_THREADPOOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_pool jn_pool;
typedef void (*jn_task_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means the number of online CPUs. Returns NULL only on allocation failure. */
jn_pool *jn_pool_create(int n_threads);
void jn_pool_free(jn_pool *pool);
int jn_pool_size(const jn_pool *pool);
void jn_pool_run(jn_pool *pool, jn_task_fn fn, void *ctx);

/* Inside a run: returns once all nth threads of the run have called it (a spinning barrier for
 * short phases, e.g. "quantize my rows, then multiply"). Every thread of the run must call it
 * the same number of times. Outside a pool (nth == 1, or pool NULL) it returns at once. */
void jn_pool_barrier(jn_pool *pool, int nth);

/* [begin, end) of n items for thread ith of nth (contiguous equal chunks). */
static inline void jn_split_range(long n, int ith, int nth, long *begin, long *end) {
    long chunk = (n + nth - 1) / nth;
    long b = (long)ith * chunk;
    long e = b + chunk;
    if (b > n) b = n;
    if (e > n) e = n;
    *begin = b;
    *end = e;
}

#ifdef __cplusplus
}
#endif
#endif
