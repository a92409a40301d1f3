/* engine/cuda/cublas_dl.cu — cuBLAS and cuBLASLt, loaded at run time.
 *
 * Why dlopen: linked, the two libraries are mapped into every janus process, CPU runs included
 * (measured: ~62 MB of libcublasLt pages resident in a CPU `janus generate`, 5% of its peak RSS),
 * and a binary built where the toolkit is installed would not even start on a machine without
 * them. Loaded once, on the first CUDA backend creation (thread-safe); the entry points used are
 * listed in common.cuh (JN_CUBLAS_FNS) and looked up by their exported names (cublasCreate is
 * cublasCreate_v2 in cublas_v2.h, hence the expanded stringification). The soname carries the
 * toolkit's major version; the toolkit's library directory is tried after the loader's path. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "common.cuh"

#ifndef JN_CUBLAS_MAJOR
#error "JN_CUBLAS_MAJOR (the CUDA toolkit's major version) must be defined by the build"
#endif
#ifndef JN_CUDA_LIBDIR
#define JN_CUDA_LIBDIR ""
#endif

#define JN_STR_(x) #x
#define JN_STR(x) JN_STR_(x) /* expands x first: cublasCreate -> "cublasCreate_v2" */

jn_cublas_api jn_blas;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static char blas_why[256]; /* empty: loaded */

static void *open_lib(const char *base) {
    char name[64];
    snprintf(name, sizeof name, "%s.so.%s", base, JN_STR(JN_CUBLAS_MAJOR));
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h && JN_CUDA_LIBDIR[0]) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", JN_CUDA_LIBDIR, name);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (!h) {
        const char *e = dlerror();
        snprintf(blas_why, sizeof blas_why, "%s not loadable (%s)", name, e ? e : "not found");
    }
    return h;
}

static void blas_load_once(void) {
    /* cuBLASLt first: libcublas needs it, and finds it loaded under its soname */
    void *lt = open_lib("libcublasLt");
    void *blas = lt ? open_lib("libcublas") : NULL;
    if (!blas) return;
#define JN_BLAS_SYM(lib, lib_name, f)                                                   \
    if (!(jn_blas.f = (decltype(jn_blas.f))dlsym(lib, JN_STR(f)))) {                    \
        snprintf(blas_why, sizeof blas_why, "%s lacks %s", lib_name, JN_STR(f));      \
        return;                                                                         \
    }
#define JN_BLAS_SYM_BLAS(f) JN_BLAS_SYM(blas, "libcublas", f)
#define JN_BLAS_SYM_LT(f) JN_BLAS_SYM(lt, "libcublasLt", f)
    JN_CUBLAS_FNS(JN_BLAS_SYM_BLAS)
    JN_CUBLASLT_FNS(JN_BLAS_SYM_LT)
#undef JN_BLAS_SYM_LT
#undef JN_BLAS_SYM_BLAS
#undef JN_BLAS_SYM
    /* the libraries stay loaded for the process: handles created from them may outlive any backend */
}

extern "C" const char *jn_cublas_load(void) {
    pthread_once(&blas_once, blas_load_once);
    return blas_why[0] ? blas_why : NULL;
}

extern "C" jn_status jn_backend_cuda_load_libraries(jn_error *err) {
    const char *why = jn_cublas_load();
    return why ? jn_fail(err, JN_ERR_RUNTIME, "cuda: %s", why) : JN_OK;
}
