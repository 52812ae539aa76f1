/* Array builders: one growable buffer per Arrow buffer, so appending
 * fixed-width values is a bounds check plus one memcpy. The validity bitmap
 * is only materialised once the first null is appended. */
#include "arrow/arrow_internal.h"

struct rr_arrow_builder {
  rr__atype t;
  char *format;
  int64_t length;
  int64_t null_count;
  bool has_validity;
  rr_buf validity; /* bitmap, only when has_validity */
  rr_buf values;   /* fixed-width values, bool bits, i32 offsets, union type ids */
  rr_buf data;     /* utf8/binary bytes, dense union i32 offsets */
  /* values' block when a visitor said it is faulted in whole (see
   * rr_arrow_builder_visit_buffers): populate_ahead has nothing to do */
  const uint8_t *warm_values;
  size_t warm_cap;
  int64_t n_children;
  rr_arrow_builder **children;
};

static bool has_offsets(const rr_arrow_builder *b) {
  return b->t.id == RR__AT_UTF8 || b->t.id == RR__AT_BINARY || b->t.id == RR__AT_LIST;
}

static bool is_fixed(const rr_arrow_builder *b) {
  return b->t.byte_width > 0 || b->t.id == RR__AT_FSB;
}

static size_t value_width(const rr_arrow_builder *b) {
  return b->t.id == RR__AT_FSB ? (size_t)b->t.fixed : (size_t)b->t.byte_width;
}

static int32_t last_offset(const rr_arrow_builder *b) {
  int32_t v;
  memcpy(&v, b->values.data + b->values.len - 4, 4);
  return v;
}

static int push_i32(rr_buf *buf, int64_t v) {
  if (v < 0 || v > INT32_MAX) return RR_ERANGE;
  int32_t x = (int32_t)v;
  return rr_buf_append(buf, &x, 4);
}

/* Grows the bitmap to hold bits [0, pos + n) and sets [pos, pos + n) to v.
 * Bits at or past the current length are kept zero. */
static int bits_append(rr_buf *buf, int64_t pos, int64_t n, bool v) {
  size_t need = (size_t)((pos + n + 7) / 8);
  if (need > buf->len) RR_TRY(rr_buf_append_zeros(buf, need - buf->len));
  if (!v || n == 0) return RR_OK;
  int64_t i = pos, end = pos + n;
  while (i < end && (i & 7)) rr__bit_set(buf->data, i++, true);
  if (end - i >= 8) {
    memset(buf->data + (i >> 3), 0xff, (size_t)((end - i) >> 3));
    i += (end - i) & ~(int64_t)7;
  }
  while (i < end) rr__bit_set(buf->data, i++, true);
  return RR_OK;
}

static int ensure_validity(rr_arrow_builder *b) {
  if (b->has_validity) return RR_OK;
  rr_buf_reset(&b->validity);
  RR_TRY(bits_append(&b->validity, 0, b->length, true));
  b->has_validity = true;
  return RR_OK;
}

static int valid_append(rr_arrow_builder *b, int64_t n) {
  return b->has_validity ? bits_append(&b->validity, b->length, n, true) : RR_OK;
}

void rr_arrow_builder_reset(rr_arrow_builder *b) {
  if (!b) return;
  b->length = 0;
  b->null_count = 0;
  b->has_validity = false;
  rr_buf_reset(&b->validity);
  rr_buf_reset(&b->values);
  rr_buf_reset(&b->data);
  for (int64_t i = 0; i < b->n_children; i++) rr_arrow_builder_reset(b->children[i]);
}

/* After reset or finish: offsets start with one 0. */
static int builder_prime(rr_arrow_builder *b) {
  if (has_offsets(b) && b->values.len == 0) return push_i32(&b->values, 0);
  return RR_OK;
}

void rr_arrow_builder_free(rr_arrow_builder *b) {
  if (!b) return;
  for (int64_t i = 0; i < b->n_children; i++) rr_arrow_builder_free(b->children[i]);
  rr__free(b->children);
  rr_buf_free(&b->validity);
  rr_buf_free(&b->values);
  rr_buf_free(&b->data);
  rr__free(b->format);
  rr__free(b);
}

static int builder_new_rec(rr_arrow_builder **out, const struct ArrowSchema *type, int depth) {
  *out = NULL;
  if (!type || !type->format || depth > 64) return RR_EINVAL;
  rr_arrow_builder *b = rr__calloc(1, sizeof *b);
  if (!b) return RR_ENOMEM;
  int rc = rr__arrow_parse_format(type->format, &b->t, NULL);
  if (rc == RR_OK) {
    b->format = rr__strdup(type->format);
    if (!b->format) rc = RR_ENOMEM;
    else b->t.tz = b->format + (b->t.tz - type->format);
  }
  if (rc == RR_OK) {
    int64_t want = -1;
    switch (b->t.id) {
      case RR__AT_LIST: case RR__AT_FSL: want = 1; break;
      case RR__AT_STRUCT: break;
      case RR__AT_DUNION: want = b->t.n_type_ids; break;
      default: want = 0; break;
    }
    if (want >= 0 && type->n_children != want) rc = RR_EINVAL;
  }
  if (rc == RR_OK && type->n_children) {
    b->children = rr__calloc((size_t)type->n_children, sizeof *b->children);
    if (!b->children) rc = RR_ENOMEM;
    else b->n_children = type->n_children;
    for (int64_t i = 0; rc == RR_OK && i < type->n_children; i++)
      rc = builder_new_rec(&b->children[i], type->children[i], depth + 1);
  }
  if (rc == RR_OK) rc = builder_prime(b);
  if (rc != RR_OK) { rr_arrow_builder_free(b); return rc; }
  *out = b;
  return RR_OK;
}

int rr_arrow_builder_new(rr_arrow_builder **out, const struct ArrowSchema *type) {
  return builder_new_rec(out, type, 0);
}

rr_arrow_builder *rr_arrow_builder_child(rr_arrow_builder *b, int64_t i) {
  return b && i >= 0 && i < b->n_children ? b->children[i] : NULL;
}

int64_t rr_arrow_builder_length(const rr_arrow_builder *b) { return b ? b->length : 0; }

size_t rr_arrow_builder_nbytes(const rr_arrow_builder *b) {
  if (!b) return 0;
  size_t n = sizeof *b + b->validity.cap + b->values.cap + b->data.cap;
  for (int64_t i = 0; i < b->n_children; i++) n += rr_arrow_builder_nbytes(b->children[i]);
  return n;
}

static bool flat_fixed(const rr_arrow_builder *b) {
  if (b->t.id == RR__AT_FSL) return flat_fixed(b->children[0]);
  return is_fixed(b) || b->t.id == RR__AT_BOOL;
}

int rr_arrow_builder_append_values(rr_arrow_builder *b, const void *values, int64_t n) {
  if (!b || n < 0 || (n > 0 && !values)) return RR_EINVAL;
  if (n == 0) return RR_OK;
  if (n > INT64_MAX - b->length) return RR_ERANGE;
  /* Fast path (one value of Position3D and the like): a fixed-size list of
   * a fixed-width child, neither with a bitmap yet, sizes far from any
   * overflow. Same result as the general path below. */
  if (b->t.id == RR__AT_FSL && !b->has_validity && n <= INT32_MAX && b->t.fixed > 0 &&
      b->t.fixed <= 65536) {
    rr_arrow_builder *c = b->children[0];
    if (c->t.byte_width > 0 && !c->has_validity && c->length <= INT64_MAX / 2) {
      int64_t cn = n * b->t.fixed;
      RR_TRY(rr_buf_append(&c->values, values, (size_t)cn * (size_t)c->t.byte_width));
      c->length += cn;
      b->length += n;
      return RR_OK;
    }
  }
  if (is_fixed(b)) {
    size_t w = value_width(b);
    if (w && (uint64_t)n > SIZE_MAX / w) return RR_ERANGE;
    RR_TRY(rr_buf_append(&b->values, values, (size_t)n * w));
  } else if (b->t.id == RR__AT_BOOL) {
    RR_TRY(bits_append(&b->values, b->length, n, false));
    const uint8_t *p = values;
    for (int64_t i = 0; i < n; i++)
      if (p[i]) rr__bit_set(b->values.data, b->length + i, true);
  } else if (b->t.id == RR__AT_FSL) {
    if (!flat_fixed(b)) return RR_EINVAL;
    if (b->t.fixed && n > INT64_MAX / b->t.fixed) return RR_ERANGE;
    RR_TRY(rr_arrow_builder_append_values(b->children[0], values, n * b->t.fixed));
  } else {
    return RR_EINVAL;
  }
  RR_TRY(valid_append(b, n));
  b->length += n;
  return RR_OK;
}

/* Row-by-row appends walk through fresh memory (finish hands the buffers
 * to the array and reserves new ones). On VMs a page fault costs far more
 * than faulting pages in with one madvise, so when an append of n bytes
 * enters a new 256 KiB step of the reserved capacity, that step is
 * populated first (rr__populate skips < 64 KiB). */
#define POPULATE_STEP ((size_t)256 << 10)
static inline void populate_ahead(rr_buf *b, const rr_arrow_builder *o, size_t n) {
  if (RR__UNLIKELY((b->len & (POPULATE_STEP - 1)) < n) && b->cap - b->len >= n &&
      !(b == &o->values && b->data == o->warm_values && b->cap == o->warm_cap)) {
    size_t room = b->cap - b->len;
    rr__populate(b->data + b->len, room < POPULATE_STEP ? room : POPULATE_STEP);
  }
}

int rr_arrow_builder_list_append_values(rr_arrow_builder *b, const void *values, int64_t n) {
  if (!b || b->t.id != RR__AT_LIST) return RR_EINVAL;
  rr_arrow_builder *v = b->children[0];
  /* Fast path: values of a fixed-width type, or a fixed-size list of one,
   * with no bitmap anywhere yet and sizes far from any limit. Same result
   * as the two calls below. */
  if (n > 0 && n <= INT32_MAX && values && !b->has_validity && !v->has_validity) {
    rr_arrow_builder *c = v;
    int64_t per = 1;
    if (v->t.id == RR__AT_FSL && v->t.fixed > 0 && v->t.fixed <= 65536) {
      c = v->children[0];
      per = v->t.fixed;
    }
    int64_t slot_end = v->length + n; /* the list offset */
    if (c->t.byte_width > 0 && !c->has_validity && c->length <= INT64_MAX / 2 && slot_end <= INT32_MAX) {
      int64_t cn = n * per;
      size_t nb = (size_t)cn * (size_t)c->t.byte_width;
      populate_ahead(&c->values, c, nb);
      /* constant sizes compile to moves (3D vectors, scalars) */
      if (nb == 12) RR_TRY(rr_buf_append(&c->values, values, 12));
      else if (nb == 4) RR_TRY(rr_buf_append(&c->values, values, 4));
      else RR_TRY(rr_buf_append(&c->values, values, nb));
      if (c != v) c->length += cn;
      v->length = slot_end;
      populate_ahead(&b->values, b, b->length == 0 ? 8 : 4); /* offsets start with a 0 */
      int32_t off = (int32_t)slot_end; /* 0 < slot_end <= INT32_MAX */
      RR_TRY(rr_buf_append(&b->values, &off, 4));
      b->length++;
      return RR_OK;
    }
  }
  RR_TRY(rr_arrow_builder_append_values(v, values, n));
  return rr_arrow_builder_list_finish(b);
}

int rr_arrow_builder_append_nulls(rr_arrow_builder *b, int64_t n) {
  if (!b || n < 0) return RR_EINVAL;
  if (n == 0) return RR_OK;
  if (b->t.id == RR__AT_DUNION) return RR_EINVAL;
  if (n > INT64_MAX - b->length) return RR_ERANGE;
  if (b->t.id != RR__AT_NA) {
    RR_TRY(ensure_validity(b));
    RR_TRY(bits_append(&b->validity, b->length, n, false));
  }
  if (is_fixed(b)) {
    size_t w = value_width(b);
    if (w && (uint64_t)n > SIZE_MAX / w) return RR_ERANGE;
    RR_TRY(rr_buf_append_zeros(&b->values, (size_t)n * w));
  } else if (b->t.id == RR__AT_BOOL) {
    RR_TRY(bits_append(&b->values, b->length, n, false));
  } else if (has_offsets(b)) {
    int32_t last = last_offset(b);
    RR_TRY(rr_buf_reserve(&b->values, (size_t)n * 4));
    for (int64_t i = 0; i < n; i++) {
      memcpy(b->values.data + b->values.len, &last, 4);
      b->values.len += 4;
    }
  } else if (b->t.id == RR__AT_FSL) {
    if (b->t.fixed && n > INT64_MAX / b->t.fixed) return RR_ERANGE;
    RR_TRY(rr_arrow_builder_append_nulls(b->children[0], n * b->t.fixed));
  } else if (b->t.id == RR__AT_STRUCT) {
    for (int64_t i = 0; i < b->n_children; i++) RR_TRY(rr_arrow_builder_append_nulls(b->children[i], n));
  }
  b->length += n;
  b->null_count += n;
  return RR_OK;
}

int rr_arrow_builder_append_bytes(rr_arrow_builder *b, const void *p, size_t n) {
  if (!b || (b->t.id != RR__AT_UTF8 && b->t.id != RR__AT_BINARY) || (n && !p)) return RR_EINVAL;
  if (b->t.id == RR__AT_UTF8 && !rr__utf8_valid(p, n)) return RR_EUTF8;
  if (n > (size_t)INT32_MAX || b->data.len + n > (size_t)INT32_MAX) return RR_ERANGE;
  RR_TRY(rr_buf_reserve(&b->values, 4));
  RR_TRY(rr_buf_append(&b->data, p, n));
  RR_TRY(push_i32(&b->values, (int64_t)b->data.len));
  RR_TRY(valid_append(b, 1));
  b->length++;
  return RR_OK;
}

int rr_arrow_builder_list_finish(rr_arrow_builder *b) {
  if (!b || b->t.id != RR__AT_LIST) return RR_EINVAL;
  int64_t cl = b->children[0]->length;
  if (cl > INT32_MAX) return RR_ERANGE;
  RR_TRY(push_i32(&b->values, cl));
  RR_TRY(valid_append(b, 1));
  b->length++;
  return RR_OK;
}

int rr_arrow_builder_struct_append_valid(rr_arrow_builder *b, int64_t n) {
  if (!b || b->t.id != RR__AT_STRUCT || n < 0) return RR_EINVAL;
  for (int64_t i = 0; i < b->n_children; i++)
    if (b->children[i]->length != b->length + n) return RR_ELENGTH;
  RR_TRY(valid_append(b, n));
  b->length += n;
  return RR_OK;
}

int rr_arrow_builder_union_append(rr_arrow_builder *b, int8_t type_id) {
  if (!b || b->t.id != RR__AT_DUNION) return RR_EINVAL;
  for (int k = 0; k < b->t.n_type_ids; k++) {
    if (b->t.type_ids[k] != type_id) continue;
    int64_t cl = b->children[k]->length;
    if (cl > INT32_MAX) return RR_ERANGE;
    RR_TRY(rr_buf_reserve(&b->values, 1));
    RR_TRY(push_i32(&b->data, cl));
    b->values.data[b->values.len++] = (uint8_t)type_id;
    b->length++;
    return RR_OK;
  }
  return RR_EINVAL;
}

/* ---- appending slices of existing arrays -------------------------------- */

static int append_validity_from(rr_arrow_builder *b, const struct ArrowArray *src, int64_t phys, int64_t n) {
  const uint8_t *bits = src->n_buffers > 0 && src->null_count != 0 ? src->buffers[0] : NULL;
  int64_t nulls = bits ? rr__bits_count_zeros(bits, phys, n) : 0;
  if (!nulls) return valid_append(b, n);
  RR_TRY(ensure_validity(b));
  RR_TRY(bits_append(&b->validity, b->length, n, false));
  for (int64_t i = 0; i < n; i++)
    if (rr__bit_get(bits, phys + i)) rr__bit_set(b->validity.data, b->length + i, true);
  b->null_count += nulls;
  return RR_OK;
}

static int append_rec(rr_arrow_builder *b, const struct ArrowArray *src, const struct ArrowSchema *type,
                      int64_t phys, int64_t n) {
  if (n == 0) return RR_OK;
  if (!src || !src->release || !type || strcmp(type->format, b->format) ||
      src->n_children != b->n_children || type->n_children != b->n_children ||
      src->n_buffers != rr__arrow_n_buffers(&b->t))
    return RR_EINVAL;
  switch (b->t.id) {
    case RR__AT_NA:
      b->length += n;
      b->null_count += n;
      return RR_OK;
    case RR__AT_BOOL: {
      const uint8_t *v = src->buffers[1];
      RR_TRY(bits_append(&b->values, b->length, n, false));
      for (int64_t i = 0; i < n; i++)
        if (rr__bit_get(v, phys + i)) rr__bit_set(b->values.data, b->length + i, true);
      break;
    }
    case RR__AT_UTF8:
    case RR__AT_BINARY: {
      const int32_t *o = src->buffers[1];
      const uint8_t *d = src->buffers[2];
      int64_t base = o[phys], bytes = o[phys + n] - base, start = (int64_t)b->data.len;
      if (bytes < 0 || start + bytes > INT32_MAX) return RR_ERANGE;
      RR_TRY(rr_buf_reserve(&b->values, (size_t)n * 4));
      RR_TRY(rr_buf_append(&b->data, d + base, (size_t)bytes));
      for (int64_t i = 1; i <= n; i++) RR_TRY(push_i32(&b->values, start + (o[phys + i] - base)));
      break;
    }
    case RR__AT_LIST: {
      const int32_t *o = src->buffers[1];
      const struct ArrowArray *c = src->children[0];
      int64_t base = o[phys], count = o[phys + n] - base, start = b->children[0]->length;
      if (count < 0 || start + count > INT32_MAX) return RR_ERANGE;
      RR_TRY(append_rec(b->children[0], c, type->children[0], c->offset + base, count));
      RR_TRY(rr_buf_reserve(&b->values, (size_t)n * 4));
      for (int64_t i = 1; i <= n; i++) RR_TRY(push_i32(&b->values, start + (o[phys + i] - base)));
      break;
    }
    case RR__AT_FSL: {
      const struct ArrowArray *c = src->children[0];
      RR_TRY(append_rec(b->children[0], c, type->children[0], c->offset + phys * b->t.fixed, n * b->t.fixed));
      break;
    }
    case RR__AT_STRUCT:
      for (int64_t i = 0; i < b->n_children; i++) {
        const struct ArrowArray *c = src->children[i];
        RR_TRY(append_rec(b->children[i], c, type->children[i], c->offset + phys, n));
      }
      break;
    case RR__AT_DUNION: {
      const int8_t *ids = src->buffers[0];
      const int32_t *offs = src->buffers[1];
      for (int64_t i = 0; i < n; i++) {
        int k = 0;
        while (k < b->t.n_type_ids && b->t.type_ids[k] != ids[phys + i]) k++;
        if (k == b->t.n_type_ids) return RR_ECORRUPT;
        const struct ArrowArray *c = src->children[k];
        RR_TRY(rr_arrow_builder_union_append(b, ids[phys + i]));
        RR_TRY(append_rec(b->children[k], c, type->children[k], c->offset + offs[phys + i], 1));
      }
      return RR_OK;
    }
    default: {
      size_t w = value_width(b);
      RR_TRY(rr_buf_append(&b->values, (const uint8_t *)src->buffers[1] + (size_t)phys * w, (size_t)n * w));
      break;
    }
  }
  RR_TRY(append_validity_from(b, src, phys, n));
  b->length += n;
  return RR_OK;
}

int rr_arrow_builder_append_array(rr_arrow_builder *b, const struct ArrowArray *src,
                                  const struct ArrowSchema *type, int64_t offset, int64_t n) {
  if (!b || !src || !type || offset < 0 || n < 0 || offset > src->length || n > src->length - offset)
    return RR_EINVAL;
  return append_rec(b, src, type, src->offset + offset, n);
}

/* ---- finishing ------------------------------------------------------------ */

static void *steal(rr_buf *b) { return rr_buf_steal(b, NULL); }

int rr_arrow_builder_finish(rr_arrow_builder *b, struct ArrowArray *out) {
  if (!b) return RR_EINVAL;
  int nb = rr__arrow_n_buffers(&b->t);
  size_t caps[3] = {0, b->values.len, b->data.len};
  RR_TRY(rr_arrow_array_init(out, b->length, b->null_count, nb, b->n_children));
  for (int64_t i = 0; i < b->n_children; i++) {
    int rc = rr_arrow_builder_finish(b->children[i], out->children[i]);
    if (rc != RR_OK) { out->release(out); return rc; }
  }
  switch (b->t.id) {
    case RR__AT_NA: break;
    case RR__AT_DUNION:
      rr_arrow_array_set_buffer(out, 0, steal(&b->values));
      rr_arrow_array_set_buffer(out, 1, steal(&b->data));
      break;
    default:
      if (b->has_validity) rr_arrow_array_set_buffer(out, 0, steal(&b->validity));
      if (nb >= 2) rr_arrow_array_set_buffer(out, 1, steal(&b->values));
      if (nb >= 3) rr_arrow_array_set_buffer(out, 2, steal(&b->data));
      break;
  }
  b->length = 0;
  b->null_count = 0;
  b->has_validity = false;
  rr_buf_reset(&b->validity);
  rr_buf_reset(&b->values);
  rr_buf_reset(&b->data);
  b->warm_values = NULL;
  /* The next array is likely as large as this one: start with the same
   * capacity instead of growing through every power of two again. */
  if (caps[1]) (void)rr_buf_reserve(&b->values, caps[1]);
  if (caps[2]) (void)rr_buf_reserve(&b->data, caps[2]);
  int rc = builder_prime(b);
  if (rc != RR_OK) { out->release(out); return rc; }
  return RR_OK;
}

void rr_arrow_builder_visit_buffers(rr_arrow_builder *b, bool (*fn)(void *ud, void **mem, size_t *cap, size_t len),
                                    void *ud) {
  if (!b) return;
  rr_buf *bufs[3] = {&b->validity, &b->values, &b->data};
  for (int i = 0; i < 3; i++) {
    if (!bufs[i]->cap) continue;
    void *mem = bufs[i]->data;
    size_t cap = bufs[i]->cap;
    bool warm = fn(ud, &mem, &cap, bufs[i]->len);
    if (bufs[i]->len == 0 && mem && cap) {
      bufs[i]->data = mem;
      bufs[i]->cap = cap;
    }
    if (i == 1) {
      b->warm_values = warm ? bufs[i]->data : NULL;
      b->warm_cap = warm ? bufs[i]->cap : 0;
    }
  }
  for (int64_t i = 0; i < b->n_children; i++) rr_arrow_builder_visit_buffers(b->children[i], fn, ud);
}
