/* engine/ckpt_zip.c — a read-only zip reader for torch.save (>= 1.6) files and the glue that
 * turns `<prefix>/data.pkl` + `<prefix>/data/<key>` entries into checkpoint tensors.
 *
 * Why our own: we need only the central directory (zip64 included: 7B shards are 10 GB) and the
 * position of each stored entry's bytes; every offset and length is checked against the file
 * size, and entry data must lie before the central directory. Compressed entries are listed but
 * refused when used (torch.save stores everything uncompressed). CRC-32 is verified for data.pkl
 * only (see ckpt.h). Multi-disk archives and encryption are refused. */
#define _POSIX_C_SOURCE 200809L
#include "ckpt.h"

#include <stdlib.h>
#include <string.h>

#define ZIP_MAX_CD ((uint64_t)512 << 20)     /* central directory bytes we are willing to read */
#define ZIP_MAX_ENTRIES 10000000u
#define ZIP_MAX_PKL ((uint64_t)1 << 30)      /* data.pkl size limit */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

static uint32_t crc_table[256];
static int crc_ready;
static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t jn_crc32(uint32_t crc, const void *data, size_t n) {
    if (!crc_ready) crc_init(); /* benign race: every thread writes identical values */
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void jn_zip_free(jn_zip_entry *e, size_t n) {
    if (!e) return;
    for (size_t i = 0; i < n; i++) free(e[i].name);
    free(e);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int cmp_header_offset(const void *a, const void *b) {
    uint64_t x = (*(const jn_zip_entry *const *)a)->header_offset, y = (*(const jn_zip_entry *const *)b)->header_offset;
    return x < y ? -1 : x > y;
}

/* Each entry's [local header, end of data) must end before the next one's local header starts
 * (the data already ends before the central directory: checked while reading). */
static jn_status check_no_overlap(const jn_zip_entry *ents, size_t n, const char *bn, jn_error *err) {
    if (n < 2) return JN_OK;
    const jn_zip_entry **by_off = malloc(n * sizeof *by_off);
    if (!by_off) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) by_off[i] = &ents[i];
    qsort(by_off, n, sizeof *by_off, cmp_header_offset);
    jn_status st = JN_OK;
    for (size_t i = 0; i + 1 < n && st == JN_OK; i++) {
        const jn_zip_entry *a = by_off[i], *b = by_off[i + 1];
        if (a->data_offset + a->stored_size > b->header_offset)
            st = jn_fail(err, JN_ERR_FORMAT,
                         "%s: zip entries %s [%llu, %llu) and %s [%llu, ...) overlap; refusing a crafted or corrupt archive",
                         bn, a->name, (unsigned long long)a->header_offset,
                         (unsigned long long)(a->data_offset + a->stored_size), b->name,
                         (unsigned long long)b->header_offset);
    }
    free(by_off);
    return st;
}

jn_status jn_zip_read_dir(int fd, uint64_t fsize, const char *path, jn_zip_entry **out, size_t *n_out,
                          jn_error *err) {
    const char *bn = base_name(path);
    *out = NULL;
    *n_out = 0;
    if (fsize < 22) return jn_fail(err, JN_ERR_FORMAT, "%s: too small to be a zip file (%llu bytes)", bn, (unsigned long long)fsize);
    /* find the end-of-central-directory record in the last 64 KiB + 22 bytes */
    uint64_t tail_len = fsize < 65557 ? fsize : 65557;
    uint8_t *tail = malloc((size_t)tail_len);
    if (!tail) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    jn_status st = jn_pread_full_(fd, tail, (size_t)tail_len, fsize - tail_len, bn, err);
    if (st) {
        free(tail);
        return st;
    }
    int64_t eocd = -1;
    for (int64_t i = (int64_t)tail_len - 22; i >= 0; i--) {
        if (rd32(tail + i) == 0x06054b50u && (uint64_t)i + 22 + rd16(tail + i + 20) == tail_len) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0) {
        free(tail);
        return jn_fail(err, JN_ERR_FORMAT,
                       "%s: no zip end-of-central-directory record (file truncated or not a torch.save zip)", bn);
    }
    uint64_t eocd_pos = fsize - tail_len + (uint64_t)eocd;
    const uint8_t *e = tail + eocd;
    uint64_t n_entries = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0 || rd16(e + 8) != rd16(e + 10)) {
        free(tail);
        return jn_fail(err, JN_ERR_FORMAT, "%s: multi-disk zip archives are not supported", bn);
    }
    uint64_t cd_end_limit = eocd_pos;
    int need64 = n_entries == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu;
    /* zip64 locator sits right before the EOCD */
    if (eocd_pos >= 20) {
        uint8_t loc[20];
        st = jn_pread_full_(fd, loc, 20, eocd_pos - 20, bn, err);
        if (st) {
            free(tail);
            return st;
        }
        if (rd32(loc) == 0x07064b50u) {
            uint64_t z64 = rd64(loc + 8);
            uint8_t r[56];
            if (z64 > eocd_pos - 20 || eocd_pos - 20 - z64 < 56) {
                free(tail);
                return jn_fail(err, JN_ERR_FORMAT, "%s: zip64 end-of-central-directory offset %llu out of range", bn,
                               (unsigned long long)z64);
            }
            st = jn_pread_full_(fd, r, 56, z64, bn, err);
            if (st) {
                free(tail);
                return st;
            }
            if (rd32(r) != 0x06064b50u) {
                free(tail);
                return jn_fail(err, JN_ERR_FORMAT, "%s: bad zip64 end-of-central-directory signature", bn);
            }
            if (rd32(r + 16) != 0 || rd32(r + 20) != 0 || rd64(r + 24) != rd64(r + 32)) {
                free(tail);
                return jn_fail(err, JN_ERR_FORMAT, "%s: multi-disk zip archives are not supported", bn);
            }
            n_entries = rd64(r + 32);
            cd_size = rd64(r + 40);
            cd_off = rd64(r + 48);
            cd_end_limit = z64;
            need64 = 0;
        }
    }
    free(tail);
    if (need64) return jn_fail(err, JN_ERR_FORMAT, "%s: zip needs zip64 records but has none", bn);
    if (cd_off > cd_end_limit || cd_size > cd_end_limit - cd_off)
        return jn_fail(err, JN_ERR_FORMAT, "%s: central directory [%llu, +%llu) lies outside the file (%llu bytes)", bn,
                       (unsigned long long)cd_off, (unsigned long long)cd_size, (unsigned long long)fsize);
    if (cd_size > ZIP_MAX_CD) return jn_fail(err, JN_ERR_FORMAT, "%s: central directory too large (%llu bytes)", bn, (unsigned long long)cd_size);
    if (n_entries > ZIP_MAX_ENTRIES || n_entries * 46 > cd_size)
        return jn_fail(err, JN_ERR_FORMAT, "%s: %llu zip entries do not fit a %llu-byte central directory", bn,
                       (unsigned long long)n_entries, (unsigned long long)cd_size);
    uint8_t *cd = malloc(cd_size ? (size_t)cd_size : 1);
    jn_zip_entry *ents = calloc(n_entries ? (size_t)n_entries : 1, sizeof *ents);
    if (!cd || !ents) {
        free(cd);
        free(ents);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    st = jn_pread_full_(fd, cd, (size_t)cd_size, cd_off, bn, err);
    size_t n = 0;
    uint64_t pos = 0;
    for (uint64_t k = 0; k < n_entries && st == JN_OK; k++) {
        if (cd_size - pos < 46 || rd32(cd + pos) != 0x02014b50u) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt zip central directory (entry %llu)", bn, (unsigned long long)k);
            break;
        }
        const uint8_t *h = cd + pos;
        uint16_t flags = rd16(h + 8), method = rd16(h + 10);
        uint32_t crc = rd32(h + 16);
        uint64_t csize = rd32(h + 20), usize = rd32(h + 24), loff = rd32(h + 42);
        uint32_t disk = rd16(h + 34);
        size_t nl = rd16(h + 28), xl = rd16(h + 30), cl = rd16(h + 32);
        if (cd_size - pos - 46 < (uint64_t)nl + xl + cl) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt zip central directory (entry %llu overruns it)", bn,
                         (unsigned long long)k);
            break;
        }
        const uint8_t *name = h + 46, *x = name + nl;
        /* zip64 extra field: present values are those whose 32-bit field is saturated, in order */
        for (size_t xp = 0; xp + 4 <= xl;) {
            uint16_t id = rd16(x + xp), len = rd16(x + xp + 2);
            if (xp + 4 + len > xl) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt zip extra field in entry %llu", bn, (unsigned long long)k);
                break;
            }
            if (id == 0x0001) {
                const uint8_t *z = x + xp + 4;
                size_t zp = 0;
                if (usize == 0xffffffffu) { if (zp + 8 > len) goto bad64; usize = rd64(z + zp); zp += 8; }
                if (csize == 0xffffffffu) { if (zp + 8 > len) goto bad64; csize = rd64(z + zp); zp += 8; }
                if (loff == 0xffffffffu) { if (zp + 8 > len) goto bad64; loff = rd64(z + zp); zp += 8; }
                if (disk == 0xffffu) { if (zp + 4 > len) goto bad64; disk = rd32(z + zp); zp += 4; }
            }
            xp += 4 + (size_t)len;
            continue;
        bad64:
            st = jn_fail(err, JN_ERR_FORMAT, "%s: zip64 extra field of entry %llu is too short", bn, (unsigned long long)k);
            break;
        }
        if (st) break;
        if (memchr(name, 0, nl) || nl == 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: zip entry %llu has an invalid name", bn, (unsigned long long)k);
            break;
        }
        ents[n].name = malloc(nl + 1);
        if (!ents[n].name) {
            st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(ents[n].name, name, nl);
        ents[n].name[nl] = 0;
        n++;
        jn_zip_entry *en = &ents[n - 1];
        if (disk != 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: entry %s is on another disk (multi-disk zip)", bn, en->name);
            break;
        }
        if (flags & 1) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: entry %s is encrypted", bn, en->name);
            break;
        }
        if (method == 0 && csize != usize) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: stored entry %s has compressed size %llu != size %llu", bn, en->name,
                         (unsigned long long)csize, (unsigned long long)usize);
            break;
        }
        /* local header: its own name/extra lengths decide where the data starts */
        uint8_t lh[30];
        if (loff > cd_off || cd_off - loff < 30) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: entry %s: local header offset %llu outside the data area (file %llu bytes)",
                         bn, en->name, (unsigned long long)loff, (unsigned long long)fsize);
            break;
        }
        st = jn_pread_full_(fd, lh, 30, loff, bn, err);
        if (st) break;
        if (rd32(lh) != 0x04034b50u || rd16(lh + 26) != nl) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: entry %s: bad local header at offset %llu", bn, en->name,
                         (unsigned long long)loff);
            break;
        }
        uint64_t doff = loff + 30 + rd16(lh + 26) + rd16(lh + 28);
        if (doff > cd_off || csize > cd_off - doff) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: entry %s: data [%llu, +%llu) runs past the data area (central directory at %llu, file %llu bytes)",
                         bn, en->name, (unsigned long long)doff, (unsigned long long)csize, (unsigned long long)cd_off,
                         (unsigned long long)fsize);
            break;
        }
        en->data_offset = doff;
        en->header_offset = loff;
        en->stored_size = csize;
        en->size = usize;
        en->crc32 = crc;
        en->method = method;
        pos += 46 + nl + xl + cl;
    }
    free(cd);
    if (st == JN_OK) st = check_no_overlap(ents, n, bn, err);
    if (st) {
        jn_zip_free(ents, n);
        return st;
    }
    *out = ents;
    *n_out = n;
    return JN_OK;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const jn_zip_entry *)a)->name, ((const jn_zip_entry *)b)->name);
}

static const jn_zip_entry *find_entry(const jn_zip_entry *e, size_t n, const char *name) {
    jn_zip_entry key = {0};
    key.name = (char *)name;
    return bsearch(&key, e, n, sizeof *e, cmp_entry);
}

static jn_status read_entry(int fd, const jn_zip_entry *en, const char *bn, uint8_t **out, jn_error *err) {
    if (en->method != 0)
        return jn_fail(err, JN_ERR_FORMAT, "%s: zip entry %s is compressed (method %u); torch.save stores entries uncompressed",
                       bn, en->name, en->method);
    uint8_t *b = malloc(en->size ? (size_t)en->size : 1);
    if (!b) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    jn_status st = jn_pread_full_(fd, b, (size_t)en->size, en->data_offset, bn, err);
    if (st) {
        free(b);
        return st;
    }
    *out = b;
    return JN_OK;
}

jn_status jn_ckpt_load_zip_(jn_ckpt *c, int fi, jn_error *err) {
    const char *path = jn_ckpt_file_path_(c, fi);
    const char *bn = base_name(path);
    int fd = jn_ckpt_file_fd_(c, fi);
    jn_zip_entry *ents = NULL;
    size_t n = 0;
    jn_status st = jn_zip_read_dir(fd, jn_ckpt_file_size_(c, fi), path, &ents, &n, err);
    if (st) return st;
    qsort(ents, n, sizeof *ents, cmp_entry);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(ents[i].name, ents[i - 1].name)) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: zip entry %s appears twice", bn, ents[i].name);
            jn_zip_free(ents, n);
            return st;
        }
    /* the archive's single top-level folder holds data.pkl */
    const jn_zip_entry *pkl = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = strchr(ents[i].name, '/');
        if (s && s != ents[i].name && !strcmp(s, "/data.pkl")) {
            if (pkl) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: several data.pkl entries (%s, %s)", bn, pkl->name, ents[i].name);
                jn_zip_free(ents, n);
                return st;
            }
            pkl = &ents[i];
        }
    }
    if (!pkl) {
        jn_zip_free(ents, n);
        return jn_fail(err, JN_ERR_FORMAT, "%s: zip has no <name>/data.pkl entry; not a torch.save checkpoint", bn);
    }
    size_t plen = strlen(pkl->name) - strlen("data.pkl"); /* prefix incl. '/' */
    char prefix[4096];
    if (plen >= sizeof prefix - 64) {
        jn_zip_free(ents, n);
        return jn_fail(err, JN_ERR_FORMAT, "%s: zip folder name too long", bn);
    }
    memcpy(prefix, pkl->name, plen);
    prefix[plen] = 0;
    char ename[4096 + 512];
    /* byteorder (torch >= 2.1): must be little */
    snprintf(ename, sizeof ename, "%sbyteorder", prefix);
    const jn_zip_entry *bo = find_entry(ents, n, ename);
    if (bo) {
        if (bo->size > 16 || bo->method != 0) {
            jn_zip_free(ents, n);
            return jn_fail(err, JN_ERR_FORMAT, "%s: bad byteorder entry", bn);
        }
        char b[17] = {0};
        st = jn_pread_full_(fd, b, (size_t)bo->size, bo->data_offset, bn, err);
        if (st == JN_OK && strcmp(b, "little"))
            st = jn_fail(err, JN_ERR_FORMAT, "%s: checkpoint byte order is '%s'; only little-endian is supported", bn, b);
        if (st) {
            jn_zip_free(ents, n);
            return st;
        }
    }
    if (pkl->size > ZIP_MAX_PKL) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: data.pkl is %llu bytes; refusing (limit %llu)", bn,
                     (unsigned long long)pkl->size, (unsigned long long)ZIP_MAX_PKL);
        jn_zip_free(ents, n); /* pkl points into ents: the message first */
        return st;
    }
    uint8_t *pk = NULL;
    st = read_entry(fd, pkl, bn, &pk, err);
    if (st) {
        jn_zip_free(ents, n);
        return st;
    }
    uint32_t crc = jn_crc32(0, pk, (size_t)pkl->size);
    if (crc != pkl->crc32) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: data.pkl CRC-32 mismatch (stored %08x, computed %08x): file corrupt", bn,
                     pkl->crc32, crc);
        free(pk);
        jn_zip_free(ents, n);
        return st;
    }
    jn_pickle_tensor *pt = NULL;
    size_t npt = 0;
    st = jn_pickle_load_state_dict(pk, (size_t)pkl->size, path, &pt, &npt, err);
    free(pk);
    for (size_t i = 0; i < npt && st == JN_OK; i++) {
        const jn_pickle_tensor *p = &pt[i];
        if (!p->dtype_ok) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s has storage type %s; only float32, float16 and bfloat16 are supported",
                         bn, p->name, p->dtype_name);
            break;
        }
        snprintf(ename, sizeof ename, "%sdata/%s", prefix, p->storage_key);
        const jn_zip_entry *en = find_entry(ents, n, ename);
        if (!en) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: storage entry %s is missing from the zip", bn, p->name, ename);
            break;
        }
        if (en->method != 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: zip entry %s is compressed (method %u); torch.save stores entries uncompressed",
                         bn, p->name, ename, en->method);
            break;
        }
        jn_ckpt_tensor t;
        memset(&t, 0, sizeof t);
        t.name = p->name;
        t.dtype = p->dtype;
        t.n_dims = p->n_dims;
        t.file = fi;
        size_t es = jn_ckpt_elem_size(p->dtype), sbytes;
        if (!jn_mul_ok((size_t)p->storage_numel, es, &sbytes) || sbytes > en->size) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: storage of %lld elements (%s) does not fit entry %s (%llu bytes)",
                         bn, p->name, (long long)p->storage_numel, p->dtype_name, ename, (unsigned long long)en->size);
            break;
        }
        int64_t numel = 1, maxi = 0, expect = 1;
        int contig = 1;
        for (int d = 0; d < JN_CKPT_MAX_DIMS; d++) t.shape[d] = 1, t.stride[d] = 1;
        for (int d = p->n_dims - 1; d >= 0; d--) {
            t.shape[d] = p->shape[d];
            t.stride[d] = p->stride[d];
            if (p->shape[d] != 1 && p->stride[d] != expect) contig = 0;
            expect *= p->shape[d]; /* bounded: the pickle reader checked the extent fits the storage */
        }
        for (int d = 0; d < p->n_dims; d++) numel *= p->shape[d];
        if (numel > 0)
            for (int d = 0; d < p->n_dims; d++) maxi += (p->shape[d] - 1) * p->stride[d];
        t.numel = numel;
        t.contiguous = contig;
        if (numel > 0 && (p->storage_offset > p->storage_numel || maxi >= p->storage_numel - p->storage_offset)) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: elements reach index %lld of a %lld-element storage", bn,
                         p->name, (long long)(p->storage_offset + maxi), (long long)p->storage_numel);
            break;
        }
        t.offset = en->data_offset + (uint64_t)p->storage_offset * es;
        t.span = numel > 0 ? (uint64_t)(maxi + 1) * es : 0;
        st = jn_ckpt_add_tensor_(c, &t, err);
    }
    jn_pickle_free(pt, npt);
    jn_zip_free(ents, n);
    return st;
}
