/* engine/threadpool.c — persistent pthread pool (see threadpool.h).
 *
 * Why this shape: the LM decode step issues ~10 ops per layer, each a jn_pool_run, so one run
 * must cost a few microseconds, not a futex round trip per worker. A run publishes (fn, ctx) and
 * bumps an atomic generation counter; workers spin on that counter for a short while after each
 * run (so back-to-back ops never sleep) and only then block on a condition variable. The caller
 * is thread 0, runs its own share, then spins until the workers' done counter reaches nth - 1.
 *
 * Lost-wakeup freedom: a worker increments n_sleeping under the mutex and re-checks the
 * generation before waiting; the caller bumps the generation (seq_cst) before reading
 * n_sleeping (seq_cst), and broadcasts under the mutex when it is non-zero. */
#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JN_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define JN_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define JN_CPU_RELAX() ((void)0)
#endif

/* Spin iterations before a worker blocks (a pause is ~10-150 cycles: roughly 15-200 us), long
 * enough to bridge the gaps between the ops of a decode step. */
#define JN_POOL_SPIN_WORKER 4000
/* Spin iterations of the caller between sched_yield() calls while waiting for workers. */
#define JN_POOL_SPIN_CALLER 256

typedef struct jn_worker {
    jn_pool *pool;
    int ith;
} jn_worker;

struct jn_pool {
    int n;                  /* threads including the caller */
    pthread_t *threads;     /* [n - 1] */
    jn_worker *workers;     /* [n - 1] */
    int n_started;          /* threads successfully created */

    jn_task_fn fn;          /* published before gen is bumped */
    void *ctx;
    atomic_uint gen;        /* run generation */
    atomic_int n_done;      /* workers finished with the current run */
    atomic_int stop;
    atomic_int n_sleeping;
    atomic_int bar_count;   /* threads arrived at the current barrier */
    atomic_uint bar_gen;    /* barrier generation */

    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 1024) n = 1024;
    return (int)n;
}

static void *worker_main(void *arg) {
    jn_worker *w = (jn_worker *)arg;
    jn_pool *p = w->pool;
    unsigned seen = 0; /* gen at creation; never reload here (a run may already have started) */
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int i = 0; g == seen && i < JN_POOL_SPIN_WORKER; i++) {
            JN_CPU_RELAX();
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleeping, 1);
            while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        p->fn(p->ctx, w->ith, p->n);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
    return NULL;
}

static void pool_signal(jn_pool *p) {
    atomic_fetch_add(&p->gen, 1u); /* seq_cst: ordered before the n_sleeping load */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

jn_pool *jn_pool_create(int n_threads) {
    if (n_threads <= 0) n_threads = online_cpus();
    jn_pool *p = (jn_pool *)calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    atomic_init(&p->gen, 0u);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->bar_count, 0);
    atomic_init(&p->bar_gen, 0u);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    if (n_threads > 1) {
        p->threads = (pthread_t *)calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->workers = (jn_worker *)calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            jn_pool_free(p);
            return NULL;
        }
        for (int i = 0; i < n_threads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].ith = i + 1;
            if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) break;
            p->n_started++;
        }
        if (p->n_started != n_threads - 1) {
            /* could not start every thread: shrink is not possible (partitions use n), so fail */
            jn_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void jn_pool_free(jn_pool *p) {
    if (!p) return;
    if (p->n_started > 0) {
        atomic_store(&p->stop, 1);
        pool_signal(p);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p);
}

int jn_pool_size(const jn_pool *p) { return p ? p->n : 1; }

void jn_pool_run(jn_pool *p, jn_task_fn fn, void *ctx) {
    if (!p || p->n <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    pool_signal(p); /* seq_cst increment publishes fn/ctx/n_done */
    fn(ctx, 0, p->n);
    const int want = p->n - 1;
    for (;;) {
        for (int i = 0; i < JN_POOL_SPIN_CALLER; i++) {
            if (atomic_load_explicit(&p->n_done, memory_order_acquire) == want) return;
            JN_CPU_RELAX();
        }
        sched_yield();
    }
}

void jn_pool_barrier(jn_pool *p, int nth) {
    if (!p || nth <= 1) return;
    unsigned g = atomic_load_explicit(&p->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == nth - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->bar_gen, 1u, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&p->bar_gen, memory_order_acquire) == g; i++) {
        JN_CPU_RELAX();
        if ((i & 1023) == 1023) sched_yield(); /* a descheduled peer on a shared machine */
    }
}
