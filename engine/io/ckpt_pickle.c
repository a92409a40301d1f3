/* engine/ckpt_pickle.c — a restricted unpickler for torch.save state dicts.
 *
 * Why: a pickle is a program; Python's unpickler will import and call anything it names
 * (os.system, builtins.eval, ...). This is a small stack machine that implements only the opcodes
 * torch.save emits for a state dict (protocol 2, plus the protocol-4 framing/short forms) and only
 * the globals such a file needs:
 *   collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
 *   torch.{Float,Half,BFloat16}Storage (and the other torch.*Storage names, so a state dict with
 *   an int64 buffer gets a clear "unsupported dtype" message instead of a security error).
 * Everything else is refused by name. Nothing is ever "called": REDUCE recognises the allowed
 * callables and builds plain records. Hard limits bound the stack, memo, mark depth, string
 * lengths and container sizes, and every allocation is counted against a budget proportional to the
 * pickle's own size (PK_BYTES_PER_INPUT_BYTE per byte + PK_BASE_BYTES), so no input can cost more
 * than a small multiple of itself: containers start small (no per-container pre-reservation), and
 * a memo index far past anything the pickle could have stored is refused by the same budget.
 *
 * Result: the top-level dict's (name -> tensor) entries in file order, with storage key, dtype,
 * storage numel, storage offset, shape and strides. Storage bytes are located by the zip reader. */
#include "ckpt.h"

#include <stdlib.h>
#include <string.h>

#define PK_MAX_STACK (1u << 20)
#define PK_MAX_MARKS (1u << 16)
#define PK_MAX_MEMO (1u << 24)
#define PK_MAX_STR ((size_t)1 << 20)
#define PK_MAX_VALUES (1u << 26)
/* Memory budget: torch.save pickles need ~10 bytes of parser state per input byte (measured:
 * 10.2 on the tiny fixture's data.pkl and on a shard's; values are 56 bytes, capacities double);
 * 32 leaves 3x headroom for any honest file and bounds a hostile one (before: a 4 MB pickle of
 * nested one-element tuples cost ~1.5 GB, of small lists ~0.5 GB). */
#define PK_BYTES_PER_INPUT_BYTE 32u
#define PK_BASE_BYTES ((size_t)1 << 20)
#define PK_CONTAINER_FIRST_CAP 4u

enum {
    PV_NONE,
    PV_BOOL,
    PV_INT,
    PV_FLOAT,
    PV_STR,
    PV_TUPLE,
    PV_LIST,
    PV_DICT,
    PV_GLOBAL,
    PV_STORAGE,
    PV_TENSOR,
};

enum { G_ODICT = 1, G_REBUILD, G_REBUILD_PARAM, G_STORAGE };

typedef struct pv {
    uint8_t kind;
    uint8_t glob;        /* PV_GLOBAL: G_*; PV_STORAGE/PV_GLOBAL(storage): index into STORAGES */
    uint8_t storage;
    int64_t i;           /* INT / BOOL; STORAGE: numel; TENSOR: storage_offset */
    const char *s;       /* STR: bytes in the pickle (not NUL-terminated); STORAGE: key */
    uint32_t slen;
    uint32_t n, cap;     /* containers; TENSOR: n_dims */
    uint32_t *items;     /* containers: value indices (dict: key, value, key, value ...) */
    uint32_t ref;        /* TENSOR: storage value */
    uint32_t size_ref, stride_ref; /* TENSOR: the (immutable) size and stride tuples */
} pv;

static const struct {
    const char *name;
    int dtype; /* jn_dtype or -1 */
} STORAGES[] = {
    {"FloatStorage", JN_F32},  {"HalfStorage", JN_F16},   {"BFloat16Storage", JN_BF16}, {"DoubleStorage", -1},
    {"LongStorage", -1},       {"IntStorage", -1},        {"ShortStorage", -1},         {"CharStorage", -1},
    {"ByteStorage", -1},       {"BoolStorage", -1},       {"ComplexFloatStorage", -1},  {"ComplexDoubleStorage", -1},
};
static const char *const STORAGE_FULL[] = {
    "torch.FloatStorage", "torch.HalfStorage",  "torch.BFloat16Storage", "torch.DoubleStorage",
    "torch.LongStorage",  "torch.IntStorage",   "torch.ShortStorage",    "torch.CharStorage",
    "torch.ByteStorage",  "torch.BoolStorage",  "torch.ComplexFloatStorage", "torch.ComplexDoubleStorage",
};

typedef struct pk {
    const uint8_t *p, *end, *start;
    const char *bn;
    jn_error *err;
    pv *v;
    uint32_t nv, capv;
    uint32_t *stack;
    uint32_t sp, caps;
    uint32_t *marks;
    uint32_t nm, capm;
    uint32_t *memo; /* value index + 1; 0 = unset */
    uint32_t capmemo;
    uint32_t nmemo; /* number of slots set (Python's len(memo)) */
    size_t bytes, budget; /* parser memory in use (capacities) and its limit */
} pk;

static jn_status pk_fail(pk *k, const char *what) {
    return jn_fail(k->err, JN_ERR_FORMAT, "%s: data.pkl: %s at byte %ld", k->bn, what, (long)(k->p - k->start));
}

/* Reserves bytes of parser memory against the budget; 0 when it is spent. */
static int charge(pk *k, size_t bytes) {
    if (bytes > k->budget - k->bytes) return 0;
    k->bytes += bytes;
    return 1;
}

static int grow(pk *k, void **p, uint32_t *cap, uint32_t need, size_t elem, uint32_t limit, uint32_t first) {
    if (need <= *cap) return 1;
    if (need > limit) return 0;
    uint64_t nc = *cap ? (uint64_t)*cap * 2 : first;
    while (nc < need) nc *= 2;
    if (nc > limit) nc = limit;
    if (!charge(k, (size_t)(nc - *cap) * elem)) return 0;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return 0;
    *p = q;
    *cap = (uint32_t)nc;
    return 1;
}

static int64_t new_val(pk *k, int kind) {
    if (!grow(k, (void **)&k->v, &k->capv, k->nv + 1, sizeof(pv), PK_MAX_VALUES, 64)) {
        pk_fail(k, "too many objects for the size of the file (or out of memory)");
        return -1;
    }
    memset(&k->v[k->nv], 0, sizeof(pv));
    k->v[k->nv].kind = (uint8_t)kind;
    return k->nv++;
}

static jn_status push(pk *k, int64_t vi) {
    if (vi < 0) return JN_ERR_FORMAT;
    if (!grow(k, (void **)&k->stack, &k->caps, k->sp + 1, sizeof(uint32_t), PK_MAX_STACK, 64))
        return pk_fail(k, "stack too deep");
    k->stack[k->sp++] = (uint32_t)vi;
    return JN_OK;
}

static int64_t pop(pk *k) {
    uint32_t floor = k->nm ? k->marks[k->nm - 1] : 0;
    if (k->sp <= floor) {
        pk_fail(k, "stack underflow");
        return -1;
    }
    return k->stack[--k->sp];
}

static jn_status add_item(pk *k, uint32_t ci, uint32_t item) {
    pv *c = &k->v[ci];
    if (!grow(k, (void **)&c->items, &c->cap, c->n + 1, sizeof(uint32_t), PK_MAX_VALUES, PK_CONTAINER_FIRST_CAP))
        return pk_fail(k, "container too large for the size of the file");
    c->items[c->n++] = item;
    return JN_OK;
}

static int need(pk *k, size_t n) { return (size_t)(k->end - k->p) >= n; }

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* pops everything above the last mark into a new container of kind */
static int64_t pop_mark_into(pk *k, int kind) {
    if (!k->nm) {
        pk_fail(k, "no MARK on the stack");
        return -1;
    }
    uint32_t m = k->marks[--k->nm];
    int64_t ci = new_val(k, kind);
    if (ci < 0) return -1;
    uint32_t cnt = k->sp - m;
    if (cnt) {
        if (!charge(k, (size_t)cnt * sizeof(uint32_t))) {
            pk_fail(k, "containers too large for the size of the file");
            return -1;
        }
        k->v[ci].items = malloc((size_t)cnt * sizeof(uint32_t));
        if (!k->v[ci].items) {
            pk_fail(k, "out of memory");
            return -1;
        }
        memcpy(k->v[ci].items, k->stack + m, (size_t)cnt * sizeof(uint32_t));
        k->v[ci].n = k->v[ci].cap = cnt;
    }
    k->sp = m;
    return ci;
}

static jn_status check_global(pk *k, const char *mod, size_t ml, const char *name, size_t nl, int64_t *out) {
    char full[512];
    if (ml + nl + 2 > sizeof full) return pk_fail(k, "global name too long");
    memcpy(full, mod, ml);
    full[ml] = '.';
    memcpy(full + ml + 1, name, nl);
    full[ml + 1 + nl] = 0;
    for (size_t i = 0; i < ml + 1 + nl; i++)
        if ((unsigned char)full[i] < 0x20 || (unsigned char)full[i] > 0x7e) full[i] = '?';
    int g = 0, si = 0;
    if (!strcmp(full, "collections.OrderedDict")) g = G_ODICT;
    else if (!strcmp(full, "torch._utils._rebuild_tensor_v2")) g = G_REBUILD;
    else if (!strcmp(full, "torch._utils._rebuild_parameter")) g = G_REBUILD_PARAM;
    else
        for (size_t i = 0; i < sizeof STORAGE_FULL / sizeof STORAGE_FULL[0]; i++)
            if (!strcmp(full, STORAGE_FULL[i])) g = G_STORAGE, si = (int)i;
    if (!g)
        return jn_fail(k->err, JN_ERR_FORMAT,
                       "%s: data.pkl references global '%s', which a weight file never needs; refusing to load it",
                       k->bn, full);
    int64_t vi = new_val(k, PV_GLOBAL);
    if (vi < 0) return JN_ERR_FORMAT;
    k->v[vi].glob = (uint8_t)g;
    k->v[vi].storage = (uint8_t)si;
    *out = vi;
    return JN_OK;
}

static int is_int(const pv *v) { return v->kind == PV_INT || v->kind == PV_BOOL; }

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static int64_t rebuild_tensor(pk *k, uint32_t args) {
    const pv *a = &k->v[args];
    if (a->kind != PV_TUPLE || a->n < 6 || a->n > 7) {
        pk_fail(k, "_rebuild_tensor_v2 expects 6 or 7 arguments");
        return -1;
    }
    const pv *st = &k->v[a->items[0]], *off = &k->v[a->items[1]], *sz = &k->v[a->items[2]], *sd = &k->v[a->items[3]];
    if (st->kind != PV_STORAGE || !is_int(off) || sz->kind != PV_TUPLE || sd->kind != PV_TUPLE) {
        pk_fail(k, "_rebuild_tensor_v2 arguments are not (storage, int, tuple, tuple, ...)");
        return -1;
    }
    if (sz->n > JN_CKPT_MAX_DIMS || sd->n != sz->n) {
        if (sz->n > JN_CKPT_MAX_DIMS)
            jn_fail(k->err, JN_ERR_FORMAT, "%s: data.pkl: a tensor has %u dimensions; at most %d are supported", k->bn,
                    sz->n, JN_CKPT_MAX_DIMS);
        else
            pk_fail(k, "tensor size and stride have different lengths");
        return -1;
    }
    int64_t ti = new_val(k, PV_TENSOR);
    if (ti < 0) return -1;
    /* re-fetch pointers: new_val may have moved k->v */
    a = &k->v[args];
    sz = &k->v[a->items[2]];
    sd = &k->v[a->items[3]];
    pv *t = &k->v[ti];
    t->ref = a->items[0];
    t->i = k->v[a->items[1]].i;
    t->n = sz->n;
    if (t->i < 0) {
        pk_fail(k, "negative storage offset");
        return -1;
    }
    for (uint32_t d = 0; d < sz->n; d++) {
        const pv *x = &k->v[sz->items[d]], *y = &k->v[sd->items[d]];
        if (x->kind != PV_INT || y->kind != PV_INT || x->i < 0 || y->i < 0 || x->i > ((int64_t)1 << 40) ||
            y->i > ((int64_t)1 << 40)) {
            pk_fail(k, "tensor size/stride entries must be non-negative integers");
            return -1;
        }
    }
    t->size_ref = a->items[2];
    t->stride_ref = a->items[3];
    return ti;
}

static int64_t do_reduce(pk *k, int64_t fi, int64_t ai) {
    const pv *f = &k->v[fi], *a = &k->v[ai];
    if (f->kind != PV_GLOBAL) {
        pk_fail(k, "REDUCE on something that is not an allowed global");
        return -1;
    }
    if (a->kind != PV_TUPLE) {
        pk_fail(k, "REDUCE arguments are not a tuple");
        return -1;
    }
    switch (f->glob) {
    case G_ODICT:
        if (a->n != 0) {
            pk_fail(k, "OrderedDict() with arguments");
            return -1;
        }
        return new_val(k, PV_DICT);
    case G_REBUILD:
        return rebuild_tensor(k, (uint32_t)ai);
    case G_REBUILD_PARAM:
        if (a->n < 1 || k->v[a->items[0]].kind != PV_TENSOR) {
            pk_fail(k, "_rebuild_parameter expects a tensor");
            return -1;
        }
        return a->items[0];
    default:
        pk_fail(k, "a storage class cannot be called");
        return -1;
    }
}

static int64_t do_persid(pk *k, int64_t pi) {
    const pv *p = &k->v[pi];
    if (p->kind != PV_TUPLE || p->n != 5) {
        pk_fail(k, "persistent id is not a 5-tuple ('storage', type, key, location, numel)");
        return -1;
    }
    const pv *tag = &k->v[p->items[0]], *ty = &k->v[p->items[1]], *key = &k->v[p->items[2]], *n = &k->v[p->items[4]];
    if (tag->kind != PV_STR || tag->slen != 7 || memcmp(tag->s, "storage", 7) || ty->kind != PV_GLOBAL ||
        ty->glob != G_STORAGE || key->kind != PV_STR || n->kind != PV_INT || n->i < 0) {
        pk_fail(k, "persistent id is not ('storage', torch.<T>Storage, key, location, numel)");
        return -1;
    }
    if (key->slen == 0 || key->slen > 256 || memchr(key->s, 0, key->slen) || memchr(key->s, '/', key->slen)) {
        pk_fail(k, "bad storage key");
        return -1;
    }
    uint32_t keyi = p->items[2];
    uint8_t si = ty->storage;
    int64_t numel = n->i;
    int64_t vi = new_val(k, PV_STORAGE);
    if (vi < 0) return -1;
    k->v[vi].storage = si;
    k->v[vi].i = numel;
    k->v[vi].s = k->v[keyi].s;
    k->v[vi].slen = k->v[keyi].slen;
    return vi;
}

static jn_status run(pk *k, int64_t *result) {
    jn_status st = JN_OK;
    while (st == JN_OK) {
        if (!need(k, 1)) return pk_fail(k, "ends without STOP");
        uint8_t op = *k->p++;
        int64_t a, b, c;
        switch (op) {
        case 0x80: /* PROTO */
            if (!need(k, 1)) return pk_fail(k, "truncated PROTO");
            if (*k->p < 2 || *k->p > 5) return pk_fail(k, "unsupported pickle protocol");
            k->p++;
            break;
        case 0x95: /* FRAME */
            if (!need(k, 8)) return pk_fail(k, "truncated FRAME");
            k->p += 8;
            break;
        case '}': st = push(k, new_val(k, PV_DICT)); break;
        case ']': st = push(k, new_val(k, PV_LIST)); break;
        case ')': st = push(k, new_val(k, PV_TUPLE)); break;
        case 'N': st = push(k, new_val(k, PV_NONE)); break;
        case 0x88: case 0x89: /* NEWTRUE / NEWFALSE */
            a = new_val(k, PV_BOOL);
            if (a >= 0) k->v[a].i = op == 0x88;
            st = push(k, a);
            break;
        case '(': /* MARK */
            if (!grow(k, (void **)&k->marks, &k->capm, k->nm + 1, sizeof(uint32_t), PK_MAX_MARKS, 64))
                return pk_fail(k, "too many nested MARKs");
            k->marks[k->nm++] = k->sp;
            break;
        case 'X': case 0x8c: case 0x8d: case 'T': case 'U': { /* (SHORT_)BINUNICODE(8), (SHORT_)BINSTRING */
            size_t lb = (op == 0x8c || op == 'U') ? 1 : op == 0x8d ? 8 : 4;
            if (!need(k, lb)) return pk_fail(k, "truncated string length");
            uint64_t len = 0;
            for (size_t i = 0; i < lb; i++) len |= (uint64_t)k->p[i] << (8 * i);
            k->p += lb;
            if (len > PK_MAX_STR) return pk_fail(k, "string longer than 1 MiB");
            if (!need(k, (size_t)len)) return pk_fail(k, "truncated string");
            a = new_val(k, PV_STR);
            if (a >= 0) {
                k->v[a].s = (const char *)k->p;
                k->v[a].slen = (uint32_t)len;
            }
            k->p += len;
            st = push(k, a);
            break;
        }
        case 'J': case 'K': case 'M': { /* BININT, BININT1, BININT2 */
            size_t n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            if (!need(k, n)) return pk_fail(k, "truncated integer");
            int64_t v;
            if (op == 'J') v = (int32_t)rd_u32(k->p);
            else if (op == 'K') v = k->p[0];
            else v = k->p[0] | (k->p[1] << 8);
            k->p += n;
            a = new_val(k, PV_INT);
            if (a >= 0) k->v[a].i = v;
            st = push(k, a);
            break;
        }
        case 0x8a: { /* LONG1 */
            if (!need(k, 1)) return pk_fail(k, "truncated LONG1");
            size_t n = *k->p++;
            if (n > 8) return pk_fail(k, "integer wider than 64 bits");
            if (!need(k, n)) return pk_fail(k, "truncated LONG1");
            uint64_t u = 0;
            for (size_t i = 0; i < n; i++) u |= (uint64_t)k->p[i] << (8 * i);
            if (n > 0 && n < 8 && (k->p[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
            k->p += n;
            a = new_val(k, PV_INT);
            if (a >= 0) memcpy(&k->v[a].i, &u, 8);
            st = push(k, a);
            break;
        }
        case 'G': { /* BINFLOAT (big-endian double); value not needed */
            if (!need(k, 8)) return pk_fail(k, "truncated BINFLOAT");
            k->p += 8;
            st = push(k, new_val(k, PV_FLOAT));
            break;
        }
        case 'q': case 'r': case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
            uint32_t idx;
            if (op == 0x94) {
                idx = k->nmemo; /* MEMOIZE stores at index len(memo) */
            } else {
                size_t n = op == 'q' ? 1 : 4;
                if (!need(k, n)) return pk_fail(k, "truncated BINPUT");
                idx = op == 'q' ? k->p[0] : rd_u32(k->p);
                k->p += n;
            }
            if (idx >= PK_MAX_MEMO) return pk_fail(k, "memo index too large");
            if (!k->sp || k->sp <= (k->nm ? k->marks[k->nm - 1] : 0)) return pk_fail(k, "BINPUT on an empty stack");
            uint32_t old = k->capmemo;
            if (!grow(k, (void **)&k->memo, &k->capmemo, idx + 1, sizeof(uint32_t), PK_MAX_MEMO, 64))
                return pk_fail(k, "memo index too large for the size of the file");
            if (k->capmemo > old) memset(k->memo + old, 0, (size_t)(k->capmemo - old) * sizeof(uint32_t));
            if (!k->memo[idx]) k->nmemo++;
            k->memo[idx] = k->stack[k->sp - 1] + 1;
            break;
        }
        case 'h': case 'j': { /* BINGET, LONG_BINGET */
            size_t n = op == 'h' ? 1 : 4;
            if (!need(k, n)) return pk_fail(k, "truncated BINGET");
            uint32_t idx = op == 'h' ? k->p[0] : rd_u32(k->p);
            k->p += n;
            if (idx >= k->capmemo || !k->memo[idx]) return pk_fail(k, "BINGET of an unset memo slot");
            st = push(k, k->memo[idx] - 1);
            break;
        }
        case 't': st = push(k, pop_mark_into(k, PV_TUPLE)); break;
        case 'l': st = push(k, pop_mark_into(k, PV_LIST)); break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            int n = op - 0x84;
            uint32_t tmp[3];
            for (int i = n - 1; i >= 0; i--) {
                int64_t x = pop(k);
                if (x < 0) return JN_ERR_FORMAT;
                tmp[i] = (uint32_t)x;
            }
            a = new_val(k, PV_TUPLE);
            if (a < 0) return JN_ERR_FORMAT;
            for (int i = 0; i < n && st == JN_OK; i++) st = add_item(k, (uint32_t)a, tmp[i]);
            if (st == JN_OK) st = push(k, a);
            break;
        }
        case 'c': { /* GLOBAL "module\nname\n" */
            const uint8_t *m = k->p, *nl1 = memchr(m, '\n', (size_t)(k->end - m) > 256 ? 256 : (size_t)(k->end - m));
            if (!nl1) return pk_fail(k, "bad GLOBAL");
            const uint8_t *nm = nl1 + 1;
            size_t rest = (size_t)(k->end - nm);
            const uint8_t *nl2 = memchr(nm, '\n', rest > 256 ? 256 : rest);
            if (!nl2) return pk_fail(k, "bad GLOBAL");
            k->p = nl2 + 1;
            st = check_global(k, (const char *)m, (size_t)(nl1 - m), (const char *)nm, (size_t)(nl2 - nm), &a);
            if (st == JN_OK) st = push(k, a);
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            b = pop(k);
            a = b < 0 ? -1 : pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            if (k->v[a].kind != PV_STR || k->v[b].kind != PV_STR) return pk_fail(k, "STACK_GLOBAL of non-strings");
            st = check_global(k, k->v[a].s, k->v[a].slen, k->v[b].s, k->v[b].slen, &c);
            if (st == JN_OK) st = push(k, c);
            break;
        }
        case 'R': /* REDUCE */
            b = pop(k);
            a = b < 0 ? -1 : pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            st = push(k, do_reduce(k, a, b));
            break;
        case 'Q': /* BINPERSID */
            a = pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            st = push(k, do_persid(k, a));
            break;
        case 's': /* SETITEM */
            b = pop(k);
            a = b < 0 ? -1 : pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            if (!k->sp || k->v[k->stack[k->sp - 1]].kind != PV_DICT) return pk_fail(k, "SETITEM on a non-dict");
            st = add_item(k, k->stack[k->sp - 1], (uint32_t)a);
            if (st == JN_OK) st = add_item(k, k->stack[k->sp - 1], (uint32_t)b);
            break;
        case 'u': case 'e': { /* SETITEMS, APPENDS */
            if (!k->nm) return pk_fail(k, "SETITEMS/APPENDS without MARK");
            uint32_t m = k->marks[--k->nm];
            if (m == 0) return pk_fail(k, "SETITEMS/APPENDS without a target");
            uint32_t target = k->stack[m - 1];
            int want = op == 'u' ? PV_DICT : PV_LIST;
            if (k->v[target].kind != want) return pk_fail(k, op == 'u' ? "SETITEMS on a non-dict" : "APPENDS on a non-list");
            if (op == 'u' && (k->sp - m) % 2) return pk_fail(k, "SETITEMS with an odd number of items");
            for (uint32_t i = m; i < k->sp && st == JN_OK; i++) st = add_item(k, target, k->stack[i]);
            k->sp = m;
            break;
        }
        case 'a': /* APPEND */
            a = pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            if (!k->sp || k->v[k->stack[k->sp - 1]].kind != PV_LIST) return pk_fail(k, "APPEND on a non-list");
            st = add_item(k, k->stack[k->sp - 1], (uint32_t)a);
            break;
        case 'b': /* BUILD: OrderedDict._metadata / parameter state: ignored */
            a = pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            if (!k->sp) return pk_fail(k, "BUILD on an empty stack");
            b = k->stack[k->sp - 1];
            if (k->v[b].kind != PV_DICT && k->v[b].kind != PV_TENSOR) return pk_fail(k, "BUILD on an unsupported object");
            break;
        case '.': /* STOP */
            a = pop(k);
            if (a < 0) return JN_ERR_FORMAT;
            *result = a;
            return JN_OK;
        default: {
            char msg[96];
            snprintf(msg, sizeof msg, "opcode 0x%02x is not used by torch.save state dicts; refusing", op);
            return pk_fail(k, msg);
        }
        }
    }
    return st;
}

void jn_pickle_free(jn_pickle_tensor *t, size_t n) {
    if (!t) return;
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].storage_key);
    }
    free(t);
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

jn_status jn_pickle_load_state_dict(const uint8_t *pkl, size_t len, const char *path, jn_pickle_tensor **out,
                                    size_t *n_out, jn_error *err) {
    *out = NULL;
    *n_out = 0;
    pk k;
    memset(&k, 0, sizeof k);
    k.p = k.start = pkl;
    k.end = pkl + len;
    k.bn = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    k.err = err;
    k.budget = PK_BASE_BYTES + (len > (SIZE_MAX - PK_BASE_BYTES) / PK_BYTES_PER_INPUT_BYTE
                                    ? SIZE_MAX - PK_BASE_BYTES
                                    : len * PK_BYTES_PER_INPUT_BYTE);
    int64_t root = -1;
    jn_error local;
    if (!k.err) k.err = &local;
    jn_error_clear(k.err);
    jn_status st = run(&k, &root);
    jn_pickle_tensor *res = NULL;
    size_t nres = 0;
    if (st == JN_OK && k.p != k.end) st = pk_fail(&k, "trailing bytes after STOP");
    if (st == JN_OK && k.v[root].kind != PV_DICT)
        st = jn_fail(k.err, JN_ERR_FORMAT, "%s: data.pkl does not hold a state dict (name -> tensor)", k.bn);
    if (st == JN_OK) {
        const pv *d = &k.v[root];
        res = calloc(d->n / 2 + 1, sizeof *res);
        if (!res) st = jn_fail(k.err, JN_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; st == JN_OK && i + 1 < d->n; i += 2) {
            const pv *key = &k.v[d->items[i]], *val = &k.v[d->items[i + 1]];
            if (key->kind != PV_STR || key->slen == 0 || key->slen > 4096 || memchr(key->s, 0, key->slen)) {
                st = jn_fail(k.err, JN_ERR_FORMAT, "%s: data.pkl: state dict key %u is not a tensor name", k.bn, i / 2);
                break;
            }
            if (val->kind != PV_TENSOR) {
                st = jn_fail(k.err, JN_ERR_FORMAT, "%s: data.pkl: entry '%.*s' is not a tensor", k.bn, (int)key->slen,
                             key->s);
                break;
            }
            const pv *sto = &k.v[val->ref];
            jn_pickle_tensor *t = &res[nres++];
            t->name = dup_n(key->s, key->slen);
            t->storage_key = dup_n(sto->s, sto->slen);
            if (!t->name || !t->storage_key) {
                st = jn_fail(k.err, JN_ERR_NOMEM, "out of memory");
                break;
            }
            t->dtype_ok = STORAGES[sto->storage].dtype >= 0;
            t->dtype = t->dtype_ok ? (jn_dtype)STORAGES[sto->storage].dtype : JN_F32;
            t->dtype_name = STORAGE_FULL[sto->storage];
            t->storage_numel = sto->i;
            t->storage_offset = val->i;
            t->n_dims = (int)val->n;
            for (int dd = 0; dd < JN_CKPT_MAX_DIMS; dd++) {
                t->shape[dd] = dd < t->n_dims ? k.v[k.v[val->size_ref].items[dd]].i : 1;
                t->stride[dd] = dd < t->n_dims ? k.v[k.v[val->stride_ref].items[dd]].i : 1;
            }
            /* extent check (overflow-safe: sizes/strides are <= 2^40 and we stop on overflow) */
            int64_t numel = 1, maxi = 0;
            int overflow = 0;
            for (int dd = 0; dd < t->n_dims; dd++) {
                if (t->shape[dd] && numel > INT64_MAX / t->shape[dd]) overflow = 1;
                else numel *= t->shape[dd];
            }
            if (!overflow && numel > 0)
                for (int dd = 0; dd < t->n_dims; dd++) {
                    int64_t term = (t->shape[dd] - 1);
                    if (term && t->stride[dd] > (INT64_MAX / 4) / term) overflow = 1;
                    else maxi += term * t->stride[dd];
                    if (maxi > INT64_MAX / 4) overflow = 1;
                }
            if (overflow || (numel > 0 && (t->storage_offset > t->storage_numel ||
                                           maxi >= t->storage_numel - t->storage_offset))) {
                st = jn_fail(k.err, JN_ERR_FORMAT,
                             "%s: tensor %s: view (offset %lld) reaches past its %lld-element storage", k.bn, t->name,
                             (long long)t->storage_offset, (long long)t->storage_numel);
                break;
            }
        }
    }
    for (uint32_t i = 0; i < k.nv; i++) free(k.v[i].items);
    free(k.v);
    free(k.stack);
    free(k.marks);
    free(k.memo);
    if (st != JN_OK) {
        jn_pickle_free(res, nres);
        return st;
    }
    *out = res;
    *n_out = nres;
    return JN_OK;
}
