/* Growable byte buffers. Growth doubles, so appends are amortised O(1). */
#include <sys/mman.h>

#include "rr_common.h"

/* Large buffers ask for transparent huge pages: a first touch then faults
 * once per 2 MiB instead of once per 4 KiB, which on virtual machines with
 * costly page faults is most of the cost of filling fresh memory. Only the
 * 2 MiB-aligned interior of the block is affected; harmless if THP is off. */
void rr__advise_huge(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
  if (n >= 2 * huge && e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

/* On VMs where a page fault is expensive, MADV_POPULATE_WRITE is several
 * times cheaper than touching fresh pages one by one. Errors are ignored
 * (older kernels say EINVAL). */
void rr__populate(void *p, size_t n) {
#if defined(__linux__)
  const uintptr_t pg = 4096;
  uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1), e = ((uintptr_t)p + n) & ~(pg - 1);
  if (n >= (64u << 10) && e > a) (void)madvise((void *)a, e - a, 23 /* MADV_POPULATE_WRITE */);
#else
  (void)p;
  (void)n;
#endif
}

int rr_buf_reserve(rr_buf *b, size_t extra) {
  if (extra <= b->cap - b->len) return RR_OK;
  if (extra > SIZE_MAX - b->len) return RR_ENOMEM;
  size_t need = b->len + extra, cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = rr__realloc(b->data, cap);
  if (!p) return RR_ENOMEM;
  rr__advise_huge(p, cap);
  b->data = p;
  b->cap = cap;
  return RR_OK;
}

int rr_buf_append_slow(rr_buf *b, const void *p, size_t n) {
  if (n == 0) return RR_OK;
  RR_TRY(rr_buf_reserve(b, n));
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return RR_OK;
}

int rr_buf_append_zeros(rr_buf *b, size_t n) {
  if (n == 0) return RR_OK;
  RR_TRY(rr_buf_reserve(b, n));
  memset(b->data + b->len, 0, n);
  b->len += n;
  return RR_OK;
}

int rr_buf_pad_to(rr_buf *b, size_t align) {
  size_t r = b->len % align;
  return r ? rr_buf_append_zeros(b, align - r) : RR_OK;
}

int rr_buf_append_u32le(rr_buf *b, uint32_t v) {
  uint8_t t[4];
  rr__put_u32le(t, v);
  return rr_buf_append(b, t, 4);
}

int rr_buf_append_u64le(rr_buf *b, uint64_t v) {
  uint8_t t[8];
  rr__put_u64le(t, v);
  return rr_buf_append(b, t, 8);
}

void rr_buf_reset(rr_buf *b) { b->len = 0; }

void rr_buf_free(rr_buf *b) {
  rr__free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

uint8_t *rr_buf_steal(rr_buf *b, size_t *len) {
  uint8_t *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

/* ---- segment lists ----------------------------------------------------------- */

void rr_segs_init(rr_segs *s, rr_buf *own, size_t min_ref) {
  *s = (rr_segs){own, own->len, RR_BUF_INIT, 0, min_ref ? min_ref : 1};
}

void rr_segs_free(rr_segs *s) { rr_buf_free(&s->parts); }

static int segs_add(rr_segs *s, const uint8_t *ext, size_t off, size_t len) {
  rr_seg *last = s->parts.len ? (rr_seg *)(void *)(s->parts.data + s->parts.len) - 1 : NULL;
  if (last && !ext && !last->ext && last->off + last->len == off) {
    last->len += len; /* owned bytes right after owned bytes */
  } else if (last && ext && last->ext && last->ext + last->len == ext) {
    last->len += len; /* a borrowed range continuing the previous one */
  } else {
    rr_seg g = {ext, off, len};
    RR_TRY(rr_buf_append(&s->parts, &g, sizeof g));
  }
  s->total += len;
  return RR_OK;
}

int rr_segs_sync(rr_segs *s) {
  if (s->own->len == s->mark) return RR_OK;
  RR_TRY(segs_add(s, NULL, s->mark, s->own->len - s->mark));
  s->mark = s->own->len;
  return RR_OK;
}

int rr_segs_ref(rr_segs *s, const void *p, size_t n) {
  if (n == 0) return RR_OK;
  if (n < s->min_ref) return rr_buf_append(s->own, p, n);
  RR_TRY(rr_segs_sync(s));
  return segs_add(s, p, 0, n);
}
