/* This file is private to the arrow layer.
 *
 * Parsed format strings (type descriptors), the shared owner that keeps an
 * IPC input alive while zero-copy arrays point into it, and bit helpers. */
#ifndef RR_ARROW_INTERNAL_H
#define RR_ARROW_INTERNAL_H

#include "arrow/rr_arrow.h"

typedef enum rr__atype_id {
  RR__AT_NA = 0,
  RR__AT_BOOL,
  RR__AT_INT,       /* byte_width 1/2/4/8, is_signed */
  RR__AT_FLOAT,     /* byte_width 2/4/8 */
  RR__AT_FSB,       /* fixed = byte width */
  RR__AT_UTF8,
  RR__AT_BINARY,
  RR__AT_LIST,
  RR__AT_FSL,       /* fixed = list size */
  RR__AT_STRUCT,
  RR__AT_DUNION,    /* type_ids */
  RR__AT_TIMESTAMP, /* unit, tz */
  RR__AT_DURATION,  /* unit */
  RR__AT_DATE,      /* unit: 0 day (i32), 1 ms (i64) */
  RR__AT_TIME       /* unit 0..3: s/ms i32, us/ns i64 */
} rr__atype_id;

typedef struct rr__atype {
  rr__atype_id id;
  int byte_width;      /* width of one value for fixed-width layouts, else 0 */
  bool is_signed;
  int64_t fixed;       /* FSB byte width / FSL list size */
  int unit;            /* TimeUnit (0 s .. 3 ns) or DateUnit */
  const char *tz;      /* timestamp timezone: points into the format string ("" = none) */
  int n_type_ids;      /* dense union */
  int8_t type_ids[128];
} rr__atype;

/* Parses a C data interface format string. RR_EUNSUPPORTED for formats this
 * layer does not handle (large types, dictionaries, views, ...). */
int rr__arrow_parse_format(const char *format, rr__atype *out, rr_error *err);
/* Number of buffers the C data interface gives an array of this type. */
int rr__arrow_n_buffers(const rr__atype *t);

/* Shared ownership of an input region: each array node holding a reference
 * drops it on release; the last drop calls free_fn(ptr). */
typedef struct rr__arrow_owner rr__arrow_owner;
rr__arrow_owner *rr__arrow_owner_new(void (*free_fn)(void *), void *ptr);
void rr__arrow_owner_ref(rr__arrow_owner *o);
void rr__arrow_owner_unref(rr__arrow_owner *o); /* accepts NULL */
/* Makes an owned array (made by rr_arrow_array_init) hold a reference. */
void rr__arrow_array_attach_owner(struct ArrowArray *a, rr__arrow_owner *o);
/* Sets buffer slot i to memory the array does not own. */
void rr__arrow_array_set_view(struct ArrowArray *a, int64_t i, const void *p);

static inline bool rr__bit_get(const uint8_t *bits, int64_t i) {
  return (bits[i >> 3] >> (i & 7)) & 1;
}
static inline void rr__bit_set(uint8_t *bits, int64_t i, bool v) {
  if (v) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
  else bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}
/* Number of zero bits in [start, start + n). */
int64_t rr__bits_count_zeros(const uint8_t *bits, int64_t start, int64_t n);

#endif
