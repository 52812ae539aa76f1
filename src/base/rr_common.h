/* This file is private to rerun-c.
 *
 * The base layer: allocation through hooks, error detail, growable byte
 * buffers, logging to stderr, time, random numbers and TUIDs. It depends on
 * libc only. */
#ifndef RR_COMMON_H
#define RR_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rerun/common.h"
#include "rerun/errors.h"

#if defined(__GNUC__)
#  define RR__PRINTF(a, b) __attribute__((format(printf, a, b)))
#  define RR__LIKELY(x) __builtin_expect(!!(x), 1)
#  define RR__UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define RR__ALWAYS_INLINE inline __attribute__((always_inline))
#else
#  define RR__PRINTF(a, b)
#  define RR__LIKELY(x) (x)
#  define RR__UNLIKELY(x) (x)
#  define RR__ALWAYS_INLINE inline
#endif

/* ---- allocation ---------------------------------------------------------- */
void *rr__malloc(size_t n);
void *rr__calloc(size_t count, size_t size);
void *rr__realloc(void *p, size_t n);
void rr__free(void *p);
char *rr__strdup(const char *s);
char *rr__strndup(const char *s, size_t n);

/* ---- errors -------------------------------------------------------------- */
/* Fills `err` (may be NULL) and returns `code`. */
int rr__err(rr_error *err, int code, const char *fmt, ...) RR__PRINTF(3, 4);
/* Prefixes an existing message: "ctx: previous message". Returns err->code or code. */
int rr__err_wrap(rr_error *err, int code, const char *fmt, ...) RR__PRINTF(3, 4);

#define RR_TRY(expr)                                                          \
  do {                                                                        \
    int rr__rc = (expr);                                                      \
    if (RR__UNLIKELY(rr__rc < 0)) return rr__rc;                              \
  } while (0)

#define RR_RETURN_IF(cond, err, code, ...)                                    \
  do {                                                                        \
    if (RR__UNLIKELY(cond)) return rr__err((err), (code), __VA_ARGS__);       \
  } while (0)

/* ---- byte buffers -------------------------------------------------------- */
/* A growable byte buffer. `data` is NULL while `cap` is 0. */
typedef struct rr_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} rr_buf;

#define RR_BUF_INIT {NULL, 0, 0}
int rr_buf_reserve(rr_buf *b, size_t extra);  /* room for `extra` more bytes */
int rr_buf_append_slow(rr_buf *b, const void *p, size_t n);
/* Inline when it fits, so that small fixed-size appends compile to a move. */
static inline int rr_buf_append(rr_buf *b, const void *p, size_t n) {
  if (RR__LIKELY(b->cap - b->len >= n && n)) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return RR_OK;
  }
  return rr_buf_append_slow(b, p, n);
}
int rr_buf_append_zeros(rr_buf *b, size_t n);
int rr_buf_pad_to(rr_buf *b, size_t align);   /* zero-pad len to a multiple of align */
int rr_buf_append_u32le(rr_buf *b, uint32_t v);
int rr_buf_append_u64le(rr_buf *b, uint64_t v);
void rr_buf_reset(rr_buf *b);                 /* len = 0, keeps memory */
void rr_buf_free(rr_buf *b);                  /* frees memory, back to RR_BUF_INIT */
/* Hints that a large block will be filled: use huge pages (Linux THP). */
void rr__advise_huge(void *p, size_t n);
/* Faults in a block of 64 KiB or more that is about to be written whole, in
 * one call instead of one trap per page (Linux >= 5.14; best effort). */
void rr__populate(void *p, size_t n);
/* Moves the bytes out: returns data (caller frees with rr__free), buffer reset. */
uint8_t *rr_buf_steal(rr_buf *b, size_t *len);

/* ---- segment lists: a byte sequence made of owned and borrowed parts ----- */
/* Writers append owned bytes straight to *own (its growth is fine: owned
 * parts are kept as offsets) and borrowed ranges with rr_segs_ref; readers
 * walk the parts in order with rr_segs_iov once writing is done. A borrowed
 * range must stay valid as long as the parts are read. Ranges shorter than
 * min_ref are copied into *own instead (min_ref = SIZE_MAX: everything is
 * copied and *own alone holds the bytes). */
typedef struct rr_seg {
  const uint8_t *ext; /* NULL: bytes [off, off + len) of *own */
  size_t off, len;
} rr_seg;
typedef struct rr_segs {
  rr_buf *own;
  size_t mark;     /* own bytes before this are in some part */
  rr_buf parts;    /* rr_seg */
  size_t total;    /* bytes in parts, not counting own bytes after mark */
  size_t min_ref;
} rr_segs;
void rr_segs_init(rr_segs *s, rr_buf *own, size_t min_ref);
void rr_segs_free(rr_segs *s); /* frees the part list, not *own */
/* Closes the owned bytes appended since the last part into a part. */
int rr_segs_sync(rr_segs *s);
/* Appends n bytes at p: borrowed when n >= min_ref, else copied. */
int rr_segs_ref(rr_segs *s, const void *p, size_t n);
/* Bytes so far (parts + trailing owned bytes). */
static inline size_t rr_segs_len(const rr_segs *s) { return s->total + (s->own->len - s->mark); }
/* Number of parts after rr_segs_sync, and part i as a pointer + length. */
static inline size_t rr_segs_count(const rr_segs *s) { return s->parts.len / sizeof(rr_seg); }
static inline const uint8_t *rr_segs_ptr(const rr_segs *s, size_t i, size_t *len) {
  const rr_seg *g = (const rr_seg *)(const void *)s->parts.data + i;
  *len = g->len;
  return g->ext ? g->ext : s->own->data + g->off;
}

static inline void rr__put_u32le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void rr__put_u64le(uint8_t *p, uint64_t v) {
  rr__put_u32le(p, (uint32_t)v); rr__put_u32le(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t rr__get_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rr__get_u64le(const uint8_t *p) {
  return (uint64_t)rr__get_u32le(p) | ((uint64_t)rr__get_u32le(p + 4) << 32);
}
static inline void rr__put_u64be(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}
static inline uint64_t rr__get_u64be(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

/* ---- logging (stderr only; never stdout) --------------------------------- */
enum { RR_LOG_ERROR = 0, RR_LOG_WARN = 1, RR_LOG_INFO = 2, RR_LOG_DEBUG = 3 };
/* Level from RERUN_LOG_LEVEL (error|warn|info|debug; default warn). */
void rr__log(int level, const char *fmt, ...) RR__PRINTF(2, 3);
#define rr__warn(...) rr__log(RR_LOG_WARN, __VA_ARGS__)

/* ---- time and randomness ------------------------------------------------- */
int64_t rr__now_ns(void);        /* wall clock, ns since the Unix epoch */
int64_t rr__mono_ns(void);       /* monotonic clock, ns */
uint64_t rr__random_u64(void);   /* good-quality random, thread-safe */
void rr__random_bytes(void *p, size_t n);

/* ---- TUID (rerun's time-ordered 128-bit ids) ----------------------------- */
typedef struct rr_tuid {
  uint64_t time_ns;
  uint64_t inc;
} rr_tuid;
/* A new id: time_ns from the wall clock, never decreasing within a thread;
 * inc starts random (top bit clear) and counts up. Thread-safe. */
rr_tuid rr__tuid_new(void);
/* The same, with the caller's reading of rr__now_ns(). */
rr_tuid rr__tuid_new_at(int64_t now_ns);
/* 32 chars + NUL: 16 upper-case hex (time) then 16 lower-case hex (inc). */
void rr__tuid_format(rr_tuid t, char out[33]);
int rr__tuid_parse(const char *s, size_t len, rr_tuid *out); /* hex, any case */
static inline void rr__tuid_to_be(rr_tuid t, uint8_t out[16]) {
  rr__put_u64be(out, t.time_ns); rr__put_u64be(out + 8, t.inc);
}
static inline rr_tuid rr__tuid_from_be(const uint8_t in[16]) {
  rr_tuid t = {rr__get_u64be(in), rr__get_u64be(in + 8)};
  return t;
}

/* ---- UTF-8 --------------------------------------------------------------- */
/* true when the n bytes are valid UTF-8 (no overlongs, no surrogates). */
bool rr__utf8_valid(const char *s, size_t n);

/* ---- base64 (RFC 4648, standard alphabet, padded), streaming ------------- */

/* State of one encoding or decoding stream; zero-initialise. The encoder
 * writes whole 4-character groups and carries up to 2 bytes to the next
 * call, so that the pieces of one stream concatenate to one base64 text;
 * rr_b64_encode_end pads. The decoder also accepts such texts concatenated
 * (a padded group, then more groups), as gRPC-Web text clients send. */
typedef struct rr_b64 {
  uint8_t carry[4];
  unsigned n;
} rr_b64;
int rr_b64_encode(rr_b64 *st, rr_buf *out, const void *p, size_t n);
int rr_b64_encode_end(rr_b64 *st, rr_buf *out);
/* RR_EINVAL on a character outside the alphabet, or padding out of place. */
int rr_b64_decode(rr_b64 *st, rr_buf *out, const void *p, size_t n);
/* RR_EINVAL if the text stopped inside a group. */
int rr_b64_decode_end(const rr_b64 *st);

/* ---- hash map: byte-string keys to pointers ------------------------------ */
/* Open addressing with linear probing; keys are copied. Not thread-safe. */
typedef struct rr_map_entry {
  char *key;
  size_t keylen;
  uint64_t hash;
  void *value;
} rr_map_entry;
typedef struct rr_map {
  rr_map_entry *slots;
  size_t cap, len;
} rr_map;
#define RR_MAP_INIT {NULL, 0, 0}
uint64_t rr__hash(const void *p, size_t n); /* 64-bit FNV-1a, finalised */
void *rr_map_get(const rr_map *m, const void *key, size_t keylen);
int rr_map_put(rr_map *m, const void *key, size_t keylen, void *value); /* replaces */
void *rr_map_remove(rr_map *m, const void *key, size_t keylen);        /* returns old value */
void rr_map_free(rr_map *m);                                            /* values not freed */
/* Iterate: for (size_t i = 0; i < m.cap; i++) if (m.slots[i].key) ... */

#endif
