/* Arrow IPC stream writer: hand-written flatbuffers in the front-to-back
 * layout of spec/arrow-ipc.md §2.9 (vtable directly before its table, every
 * scalar written, children after their parent in field-id order), then one
 * body with each buffer copied once at an aligned offset. */
#include "arrow/arrow_internal.h"

/* ---- flatbuffer writer --------------------------------------------------- */

typedef struct fbw {
  rr_buf *b;
  size_t base; /* position of the flatbuffer's first byte in b */
  int rc;
} fbw;

typedef struct fbf {
  int id;
  int size;    /* 1, 2, 4 or 8 */
  uint64_t v;  /* scalar value; offsets are patched later */
  size_t pos;  /* out: field position in the flatbuffer */
} fbf;

static size_t fb_pos(const fbw *w) { return w->b->len - w->base; }

static void fb_put(fbw *w, const void *p, size_t n) {
  if (w->rc == RR_OK) w->rc = rr_buf_append(w->b, p, n);
}

static void fb_zeros(fbw *w, size_t n) {
  if (w->rc == RR_OK) w->rc = rr_buf_append_zeros(w->b, n);
}

/* Pads until pos % a == rem. */
static void fb_align(fbw *w, size_t a, size_t rem) {
  size_t p = fb_pos(w);
  size_t pad = (rem + a - p % a) % a;
  fb_zeros(w, pad);
}

static void fb_put_le(fbw *w, uint64_t v, int size) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  fb_put(w, &v, (size_t)size); /* the low bytes come first */
#else
  uint8_t t[8] = {0};
  for (int i = 0; i < size; i++) t[i] = (uint8_t)(v >> (8 * i));
  fb_put(w, t, (size_t)size);
#endif
}

/* Writes the uoffset at flatbuffer position `at` pointing to `target`. */
static void fb_patch(fbw *w, size_t at, size_t target) {
  if (w->rc != RR_OK) return;
  rr__put_u32le(w->b->data + w->base + at, (uint32_t)(target - at));
}

/* Emits a vtable and its table; fills f[i].pos. Returns the table position. */
static size_t fb_table(fbw *w, fbf *f, int nf) {
  int maxid = -1, order[16];
  bool has8 = false;
  size_t isize = 4;
  for (int i = 0; i < nf; i++) {
    if (f[i].id > maxid) maxid = f[i].id;
    isize += (size_t)f[i].size;
    has8 |= f[i].size == 8;
    order[i] = i;
  }
  /* stable sort by size, largest first */
  for (int i = 1; i < nf; i++)
    for (int j = i; j > 0 && f[order[j]].size > f[order[j - 1]].size; j--) {
      int x = order[j]; order[j] = order[j - 1]; order[j - 1] = x;
    }
  size_t vsize = 4 + 2 * (size_t)(maxid + 1);
  size_t t = fb_pos(w) + vsize;
  while (has8 ? t % 8 != 4 : t % 4 != 0) t++;
  fb_zeros(w, t - vsize - fb_pos(w));
  uint16_t vt[2 + 16];
  memset(vt, 0, sizeof vt);
  vt[0] = (uint16_t)vsize;
  vt[1] = (uint16_t)isize;
  size_t off = 4;
  for (int k = 0; k < nf; k++) {
    fbf *x = &f[order[k]];
    vt[2 + x->id] = (uint16_t)off;
    x->pos = t + off;
    off += (size_t)x->size;
  }
  for (size_t i = 0; i < vsize / 2; i++) fb_put_le(w, vt[i], 2);
  fb_put_le(w, vsize, 4);
  for (int k = 0; k < nf; k++) fb_put_le(w, f[order[k]].v, f[order[k]].size);
  return t;
}

static size_t fb_string(fbw *w, const char *s, size_t n) {
  fb_align(w, 4, 0);
  size_t p = fb_pos(w);
  fb_put_le(w, n, 4);
  fb_put(w, s, n);
  fb_zeros(w, 1);
  return p;
}

/* A vector of n uoffsets: returns the count position; elements at +4. */
static size_t fb_offset_vector(fbw *w, uint32_t n) {
  fb_align(w, 4, 0);
  size_t p = fb_pos(w);
  fb_put_le(w, n, 4);
  fb_zeros(w, 4 * (size_t)n);
  return p;
}

/* ---- schema -------------------------------------------------------------- */

static size_t emit_metadata(fbw *w, const char *m) {
  int64_t n = rr_arrow_metadata_count(m);
  size_t vec = fb_offset_vector(w, (uint32_t)n);
  for (int64_t i = 0; i < n; i++) {
    rr_arrow_kv kv;
    rr_arrow_metadata_at(m, i, &kv);
    fbf f[2] = {{0, 4, 0, 0}, {1, 4, 0, 0}};
    size_t t = fb_table(w, f, 2);
    fb_patch(w, f[0].pos, fb_string(w, kv.key.ptr, kv.key.len));
    fb_patch(w, f[1].pos, fb_string(w, kv.value.ptr, kv.value.len));
    fb_patch(w, vec + 4 + 4 * (size_t)i, t);
  }
  return vec;
}

/* Emits the type table; returns its position and sets *tag. */
static size_t emit_type(fbw *w, const rr__atype *t, uint8_t *tag) {
  fbf f[2];
  int nf = 0;
  switch (t->id) {
    case RR__AT_NA: *tag = 1; break;
    case RR__AT_BOOL: *tag = 6; break;
    case RR__AT_UTF8: *tag = 5; break;
    case RR__AT_BINARY: *tag = 4; break;
    case RR__AT_LIST: *tag = 12; break;
    case RR__AT_STRUCT: *tag = 13; break;
    case RR__AT_INT:
      *tag = 2;
      f[nf++] = (fbf){0, 4, (uint64_t)t->byte_width * 8, 0};
      f[nf++] = (fbf){1, 1, t->is_signed, 0};
      break;
    case RR__AT_FLOAT:
      *tag = 3;
      f[nf++] = (fbf){0, 2, t->byte_width == 2 ? 0u : t->byte_width == 4 ? 1u : 2u, 0};
      break;
    case RR__AT_FSB: *tag = 15; f[nf++] = (fbf){0, 4, (uint64_t)t->fixed, 0}; break;
    case RR__AT_FSL: *tag = 16; f[nf++] = (fbf){0, 4, (uint64_t)t->fixed, 0}; break;
    case RR__AT_DUNION:
      *tag = 14;
      f[nf++] = (fbf){0, 2, 1, 0};
      f[nf++] = (fbf){1, 4, 0, 0};
      break;
    case RR__AT_TIMESTAMP:
      *tag = 10;
      f[nf++] = (fbf){0, 2, (uint64_t)t->unit, 0};
      if (t->tz[0]) f[nf++] = (fbf){1, 4, 0, 0};
      break;
    case RR__AT_DURATION: *tag = 18; f[nf++] = (fbf){0, 2, (uint64_t)t->unit, 0}; break;
    case RR__AT_DATE: *tag = 8; f[nf++] = (fbf){0, 2, (uint64_t)t->unit, 0}; break;
    case RR__AT_TIME:
      *tag = 9;
      f[nf++] = (fbf){0, 2, (uint64_t)t->unit, 0};
      f[nf++] = (fbf){1, 4, (uint64_t)t->byte_width * 8, 0};
      break;
  }
  size_t tbl = fb_table(w, f, nf);
  if (t->id == RR__AT_DUNION) {
    fb_align(w, 4, 0);
    size_t v = fb_pos(w);
    fb_put_le(w, (uint64_t)t->n_type_ids, 4);
    for (int i = 0; i < t->n_type_ids; i++) fb_put_le(w, (uint64_t)(uint32_t)t->type_ids[i], 4);
    fb_patch(w, f[1].pos, v);
  } else if (t->id == RR__AT_TIMESTAMP && t->tz[0]) {
    fb_patch(w, f[1].pos, fb_string(w, t->tz, strlen(t->tz)));
  }
  return tbl;
}

static int emit_field(fbw *w, const struct ArrowSchema *s, int depth, size_t *out, rr_error *err) {
  if (depth > 64) return rr__err(err, RR_EINVAL, "arrow ipc write: schema nested too deeply");
  rr__atype t;
  RR_TRY(rr__arrow_parse_format(s->format, &t, err));
  if (s->dictionary) return rr__err(err, RR_EUNSUPPORTED, "arrow ipc write: dictionaries are not supported");
  if ((t.id == RR__AT_LIST || t.id == RR__AT_FSL) && s->n_children != 1)
    return rr__err(err, RR_EINVAL, "arrow ipc write: field '%s' needs exactly one child", s->name ? s->name : "");
  if (t.id == RR__AT_DUNION && s->n_children != t.n_type_ids)
    return rr__err(err, RR_EINVAL, "arrow ipc write: union '%s' type ids do not match children",
                   s->name ? s->name : "");
  bool has_md = rr_arrow_metadata_count(s->metadata) > 0;
  fbf f[6] = {{0, 4, 0, 0}, {1, 1, (s->flags & ARROW_FLAG_NULLABLE) ? 1u : 0u, 0}, {2, 1, 0, 0},
              {3, 4, 0, 0}, {5, 4, 0, 0}, {6, 4, 0, 0}};
  /* the type tag must be known before the table is written */
  uint8_t tag = 0;
  switch (t.id) {
    case RR__AT_NA: tag = 1; break;
    case RR__AT_INT: tag = 2; break;
    case RR__AT_FLOAT: tag = 3; break;
    case RR__AT_BINARY: tag = 4; break;
    case RR__AT_UTF8: tag = 5; break;
    case RR__AT_BOOL: tag = 6; break;
    case RR__AT_DATE: tag = 8; break;
    case RR__AT_TIME: tag = 9; break;
    case RR__AT_TIMESTAMP: tag = 10; break;
    case RR__AT_LIST: tag = 12; break;
    case RR__AT_STRUCT: tag = 13; break;
    case RR__AT_DUNION: tag = 14; break;
    case RR__AT_FSB: tag = 15; break;
    case RR__AT_FSL: tag = 16; break;
    case RR__AT_DURATION: tag = 18; break;
  }
  f[2].v = tag;
  size_t tbl = fb_table(w, f, has_md ? 6 : 5);
  const char *name = s->name ? s->name : "";
  fb_patch(w, f[0].pos, fb_string(w, name, strlen(name)));
  uint8_t tag2;
  fb_patch(w, f[3].pos, emit_type(w, &t, &tag2));
  size_t vec = fb_offset_vector(w, (uint32_t)s->n_children);
  fb_patch(w, f[4].pos, vec);
  for (int64_t i = 0; i < s->n_children; i++) {
    size_t c = 0;
    RR_TRY(emit_field(w, s->children[i], depth + 1, &c, err));
    fb_patch(w, vec + 4 + 4 * (size_t)i, c);
  }
  if (has_md) fb_patch(w, f[5].pos, emit_metadata(w, s->metadata));
  *out = tbl;
  return RR_OK;
}

/* Message prefix + root; returns the position of the header uoffset field. */
static size_t begin_message(fbw *w, rr_buf *out, uint8_t header_type, int64_t body_len) {
  w->b = out;
  w->rc = rr_buf_append_u32le(out, 0xFFFFFFFFu);
  if (w->rc == RR_OK) w->rc = rr_buf_append_u32le(out, 0);
  w->base = out->len;
  fb_zeros(w, 4);
  fbf f[4] = {{0, 2, 4, 0}, {1, 1, header_type, 0}, {2, 4, 0, 0}, {3, 8, (uint64_t)body_len, 0}};
  size_t t = fb_table(w, f, 4);
  fb_patch(w, 0, t);
  return f[2].pos;
}

static int end_message(fbw *w, int alignment) {
  if (w->rc != RR_OK) return w->rc;
  size_t f = fb_pos(w);
  size_t a = (size_t)alignment;
  size_t msize = (f + 8 + a - 1) / a * a - 8;
  if (msize > INT32_MAX) return RR_ERANGE;
  fb_zeros(w, msize - f);
  if (w->rc != RR_OK) return w->rc;
  rr__put_u32le(w->b->data + w->base - 4, (uint32_t)msize);
  return RR_OK;
}

static int write_schema_message(rr_buf *out, const struct ArrowSchema *schema, int alignment, rr_error *err) {
  if (!schema || !schema->format || strcmp(schema->format, "+s"))
    return rr__err(err, RR_EINVAL, "arrow ipc write: the schema must be a struct (\"+s\")");
  fbw w;
  size_t hdr = begin_message(&w, out, 1, 0);
  bool has_md = rr_arrow_metadata_count(schema->metadata) > 0;
  fbf f[3] = {{0, 2, 0, 0}, {1, 4, 0, 0}, {2, 4, 0, 0}};
  size_t tbl = fb_table(&w, f, has_md ? 3 : 2);
  fb_patch(&w, hdr, tbl);
  size_t vec = fb_offset_vector(&w, (uint32_t)schema->n_children);
  fb_patch(&w, f[1].pos, vec);
  for (int64_t i = 0; i < schema->n_children; i++) {
    size_t c = 0;
    RR_TRY(emit_field(&w, schema->children[i], 1, &c, err));
    fb_patch(&w, vec + 4 + 4 * (size_t)i, c);
  }
  if (has_md) fb_patch(&w, f[2].pos, emit_metadata(&w, schema->metadata));
  int rc = end_message(&w, alignment);
  if (rc != RR_OK) return rr__err(err, rc, "arrow ipc write: out of memory");
  return RR_OK;
}

/* ---- record batch -------------------------------------------------------- */

enum { W_EMPTY, W_COPY, W_BITS, W_OFFS, W_ZERO_OFF };

typedef struct wbuf {
  int kind;
  const uint8_t *src;
  int64_t len;     /* bytes written */
  int64_t bit_off; /* W_BITS */
  int64_t nbits;   /* W_BITS; W_OFFS: number of offsets */
  int32_t base;    /* W_OFFS: subtracted from every offset */
  int64_t offset;  /* body offset, set by layout */
} wbuf;

typedef struct wctx {
  rr_buf nodes; /* int64 pairs */
  rr_buf bufs;  /* wbuf */
  rr_error *err;
  int rc;
} wctx;

static void add_node(wctx *c, int64_t len, int64_t nulls) {
  int64_t v[2] = {len, nulls};
  if (c->rc == RR_OK) c->rc = rr_buf_append(&c->nodes, v, sizeof v);
}

static void add_buf(wctx *c, wbuf b) {
  if (c->rc == RR_OK) c->rc = rr_buf_append(&c->bufs, &b, sizeof b);
}

static int bad_array(wctx *c, const struct ArrowSchema *s, const char *what) {
  return rr__err(c->err, RR_EINVAL, "arrow ipc write: column '%s': %s", s->name ? s->name : "", what);
}

static void add_offsets(wctx *c, const int32_t *o, int64_t phys, int64_t n) {
  if (!o) { add_buf(c, (wbuf){W_ZERO_OFF, NULL, 4, 0, 0, 0, 0}); return; }
  if (o[phys] == 0) add_buf(c, (wbuf){W_COPY, (const uint8_t *)(o + phys), (n + 1) * 4, 0, 0, 0, 0});
  else add_buf(c, (wbuf){W_OFFS, (const uint8_t *)(o + phys), (n + 1) * 4, 0, n + 1, o[phys], 0});
}

static int collect(wctx *c, const struct ArrowArray *a, const struct ArrowSchema *s, int64_t phys, int64_t n,
                   int depth) {
  rr__atype t;
  if (depth > 64) return bad_array(c, s, "nested too deeply");
  RR_TRY(rr__arrow_parse_format(s->format, &t, c->err));
  if (!a || !a->release) return bad_array(c, s, "array is NULL or released");
  if (a->n_buffers != rr__arrow_n_buffers(&t) || a->n_children != s->n_children)
    return bad_array(c, s, "buffer or child count does not match the type");
  if (phys < a->offset || n < 0 || phys - a->offset > a->length || n > a->length - (phys - a->offset))
    return bad_array(c, s, "slice out of range of the array");
  const uint8_t *bits = t.id != RR__AT_NA && t.id != RR__AT_DUNION ? a->buffers[0] : NULL;
  int64_t nulls = 0;
  if (t.id == RR__AT_NA) nulls = n;
  else if (bits && a->null_count != 0)
    nulls = (phys == a->offset && n == a->length && a->null_count > 0) ? a->null_count
                                                                        : rr__bits_count_zeros(bits, phys, n);
  add_node(c, n, nulls);
  if (t.id != RR__AT_NA && t.id != RR__AT_DUNION) {
    if (nulls) add_buf(c, (wbuf){W_BITS, bits, (n + 7) / 8, phys, n, 0, 0});
    else add_buf(c, (wbuf){W_EMPTY, NULL, 0, 0, 0, 0, 0});
  }
  if (n > 0 && t.id != RR__AT_NA && t.id != RR__AT_STRUCT && t.id != RR__AT_FSL && !a->buffers[1])
    return bad_array(c, s, "missing buffer");
  switch (t.id) {
    case RR__AT_NA: break;
    case RR__AT_BOOL: add_buf(c, (wbuf){W_BITS, a->buffers[1], (n + 7) / 8, phys, n, 0, 0}); break;
    case RR__AT_UTF8:
    case RR__AT_BINARY:
    case RR__AT_LIST: {
      const int32_t *o = a->buffers[1];
      add_offsets(c, o, phys, n);
      int64_t first = o ? o[phys] : 0, last = o ? o[phys + n] : 0;
      if (first < 0 || last < first) return bad_array(c, s, "bad offsets");
      if (t.id == RR__AT_LIST) {
        const struct ArrowArray *ch = a->children[0];
        RR_TRY(collect(c, ch, s->children[0], ch->offset + first, last - first, depth + 1));
      } else {
        if (last > first && !a->buffers[2]) return bad_array(c, s, "missing data buffer");
        add_buf(c, (wbuf){last > first ? W_COPY : W_EMPTY, (const uint8_t *)a->buffers[2] + first, last - first,
                          0, 0, 0, 0});
      }
      break;
    }
    case RR__AT_FSL: {
      const struct ArrowArray *ch = a->children[0];
      if (!ch) return bad_array(c, s, "missing child");
      RR_TRY(collect(c, ch, s->children[0], ch->offset + phys * t.fixed, n * t.fixed, depth + 1));
      break;
    }
    case RR__AT_STRUCT:
      for (int64_t i = 0; i < a->n_children; i++) {
        const struct ArrowArray *ch = a->children[i];
        if (!ch) return bad_array(c, s, "missing child");
        RR_TRY(collect(c, ch, s->children[i], ch->offset + phys, n, depth + 1));
      }
      break;
    case RR__AT_DUNION:
      add_buf(c, (wbuf){n ? W_COPY : W_EMPTY, (const uint8_t *)a->buffers[0] + phys, n, 0, 0, 0, 0});
      add_buf(c, (wbuf){n ? W_COPY : W_EMPTY, (const uint8_t *)a->buffers[1] + phys * 4, n * 4, 0, 0, 0, 0});
      for (int64_t i = 0; i < a->n_children; i++) {
        const struct ArrowArray *ch = a->children[i];
        if (!ch) return bad_array(c, s, "missing child");
        RR_TRY(collect(c, ch, s->children[i], ch->offset, ch->length, depth + 1));
      }
      break;
    default: {
      int64_t w = t.id == RR__AT_FSB ? t.fixed : t.byte_width;
      add_buf(c, (wbuf){(n * w) != 0 ? W_COPY : W_EMPTY, (const uint8_t *)a->buffers[1] + phys * w, n * w, 0, 0, 0, 0});
      break;
    }
  }
  return c->rc;
}

static size_t count_fields(const struct ArrowSchema *s, int depth) {
  size_t n = 0;
  for (int64_t i = 0; depth < 64 && i < s->n_children; i++)
    if (s->children[i]) n += 1 + count_fields(s->children[i], depth + 1);
  return n;
}

static void write_bits(uint8_t *dst, const uint8_t *src, int64_t bit_off, int64_t nbits) {
  size_t nb = (size_t)((nbits + 7) / 8);
  const uint8_t *s = src + bit_off / 8;
  int sh = (int)(bit_off % 8);
  if (!sh) {
    memcpy(dst, s, nb);
  } else {
    size_t last = (size_t)((bit_off + nbits - 1) / 8 - bit_off / 8);
    for (size_t j = 0; j < nb; j++)
      dst[j] = (uint8_t)((s[j] >> sh) | (j + 1 <= last ? (uint8_t)(s[j + 1] << (8 - sh)) : 0));
  }
  if (nbits % 8) dst[nb - 1] &= (uint8_t)((1u << (nbits % 8)) - 1);
}

static int write_batch_message(rr_segs *out, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                               int alignment, rr_error *err) {
  if (!batch || !batch->release || strcmp(schema->format, "+s") || batch->n_children != schema->n_children)
    return rr__err(err, RR_EINVAL, "arrow ipc write: the batch must be a struct array matching the schema");
  if (batch->null_count > 0 || (batch->null_count < 0 && batch->n_buffers > 0 && batch->buffers[0] &&
                                rr__bits_count_zeros(batch->buffers[0], batch->offset, batch->length)))
    return rr__err(err, RR_EINVAL, "arrow ipc write: the batch struct has nulls");
  if (batch->length > INT32_MAX) return rr__err(err, RR_ERANGE, "arrow ipc write: batch too long");
  wctx c = {RR_BUF_INIT, RR_BUF_INIT, err, RR_OK};
  /* one reservation each: a node per field, at most three buffers a node */
  size_t nf = count_fields(schema, 0);
  int rc = rr_buf_reserve(&c.nodes, 16 * nf);
  if (rc == RR_OK) rc = rr_buf_reserve(&c.bufs, 3 * nf * sizeof(wbuf));
  if (rc != RR_OK) { rr_buf_free(&c.nodes); return rr__err(err, rc, "arrow ipc write: out of memory"); }
  for (int64_t i = 0; rc == RR_OK && i < batch->n_children; i++) {
    const struct ArrowArray *a = batch->children[i];
    if (!a) rc = rr__err(err, RR_EINVAL, "arrow ipc write: missing column %lld", (long long)i);
    else rc = collect(&c, a, schema->children[i], a->offset + batch->offset, batch->length, 1);
  }
  if (rc == RR_OK && c.rc != RR_OK) rc = rr__err(err, c.rc, "arrow ipc write: out of memory");
  if (rc != RR_OK) { rr_buf_free(&c.nodes); rr_buf_free(&c.bufs); return rc; }
  size_t nn = c.nodes.len / 16, nbufs = c.bufs.len / sizeof(wbuf);
  wbuf *bufs = (wbuf *)c.bufs.data;
  int64_t cursor = 0, a = alignment;
  for (size_t i = 0; i < nbufs; i++) {
    bufs[i].offset = cursor;
    if (bufs[i].len) cursor = (cursor + bufs[i].len + a - 1) / a * a;
  }
  int64_t body_len = cursor;

  fbw w;
  size_t hdr = begin_message(&w, out->own, 3, body_len);
  fbf f[3] = {{0, 8, (uint64_t)batch->length, 0}, {1, 4, 0, 0}, {2, 4, 0, 0}};
  size_t tbl = fb_table(&w, f, 3);
  fb_patch(&w, hdr, tbl);
  fb_align(&w, 8, 4);
  fb_patch(&w, f[1].pos, fb_pos(&w));
  fb_put_le(&w, nn, 4);
  for (size_t i = 0; i < nn; i++) {
    int64_t v[2];
    memcpy(v, c.nodes.data + 16 * i, 16);
    fb_put_le(&w, (uint64_t)v[0], 8);
    fb_put_le(&w, (uint64_t)v[1], 8);
  }
  fb_align(&w, 8, 4);
  fb_patch(&w, f[2].pos, fb_pos(&w));
  fb_put_le(&w, nbufs, 4);
  for (size_t i = 0; i < nbufs; i++) {
    fb_put_le(&w, (uint64_t)bufs[i].offset, 8);
    fb_put_le(&w, (uint64_t)bufs[i].len, 8);
  }
  rc = end_message(&w, alignment);
  /* One reservation for every body byte that is not borrowed. */
  int64_t borrowed = 0;
  for (size_t i = 0; i < nbufs; i++)
    if (bufs[i].kind == W_COPY && (uint64_t)bufs[i].len >= out->min_ref) borrowed += bufs[i].len;
  if (rc == RR_OK) rc = rr_buf_reserve(out->own, (size_t)(body_len - borrowed));
  int64_t done = 0; /* bytes of the body written so far; gaps are zeroed */
  for (size_t i = 0; rc == RR_OK && i < nbufs; i++) {
    wbuf *b = &bufs[i];
    if (!b->len) continue;
    rc = rr_buf_append_zeros(out->own, (size_t)(b->offset - done));
    done = b->offset + b->len;
    if (rc != RR_OK) break;
    if (b->kind == W_COPY) {
      rc = rr_segs_ref(out, b->src, (size_t)b->len);
      continue;
    }
    if ((rc = rr_buf_reserve(out->own, (size_t)b->len)) != RR_OK) break;
    uint8_t *d = out->own->data + out->own->len;
    switch (b->kind) {
      case W_BITS: write_bits(d, b->src, b->bit_off, b->nbits); break;
      case W_OFFS:
        for (int64_t k = 0; k < b->nbits; k++) {
          int32_t v;
          memcpy(&v, b->src + 4 * k, 4);
          v -= b->base;
          memcpy(d + 4 * k, &v, 4);
        }
        break;
      default: memset(d, 0, (size_t)b->len); break; /* W_ZERO_OFF */
    }
    out->own->len += (size_t)b->len;
  }
  if (rc == RR_OK) rc = rr_buf_append_zeros(out->own, (size_t)(body_len - done));
  if (rc != RR_OK) rc = rr__err(err, rc, "arrow ipc write: out of memory");
  rr_buf_free(&c.nodes);
  rr_buf_free(&c.bufs);
  return rc;
}

static int write_eos(rr_buf *out) {
  RR_TRY(rr_buf_append_u32le(out, 0xFFFFFFFFu));
  return rr_buf_append_u32le(out, 0);
}

static int check_args(const void *out, const struct ArrowSchema *schema, int alignment, rr_error *err) {
  if (!out || !schema) return rr__err(err, RR_EINVAL, "arrow ipc write: NULL argument");
  if (alignment != 8 && alignment != 64)
    return rr__err(err, RR_EINVAL, "arrow ipc write: alignment must be 8 or 64, not %d", alignment);
  return RR_OK;
}

int rr_arrow_ipc_write_schema_msg(rr_buf *out, const struct ArrowSchema *schema, int alignment, rr_error *err) {
  RR_TRY(check_args(out, schema, alignment, err));
  size_t start = out->len;
  int rc = write_schema_message(out, schema, alignment, err);
  if (rc != RR_OK) out->len = start;
  return rc;
}

int rr_arrow_ipc_write_batch_segs(rr_segs *out, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                                  int alignment, rr_error *err) {
  RR_TRY(check_args(out ? out->own : NULL, schema, alignment, err));
  int rc = write_batch_message(out, schema, batch, alignment, err);
  if (rc == RR_OK && (rc = write_eos(out->own)) != RR_OK) rr__err(err, rc, "arrow ipc write: out of memory");
  return rc;
}

int rr_arrow_ipc_write_segs(rr_segs *out, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                            int alignment, rr_error *err) {
  RR_TRY(check_args(out ? out->own : NULL, schema, alignment, err));
  int rc = write_schema_message(out->own, schema, alignment, err);
  if (rc == RR_OK) rc = rr_arrow_ipc_write_batch_segs(out, schema, batch, alignment, err);
  return rc;
}

int rr_arrow_ipc_write(rr_buf *out, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       int alignment, rr_error *err) {
  if (!out) return rr__err(err, RR_EINVAL, "arrow ipc write: NULL argument");
  size_t start = out->len;
  rr_segs s;
  rr_segs_init(&s, out, SIZE_MAX); /* everything copied: out alone holds the stream */
  int rc = rr_arrow_ipc_write_segs(&s, schema, batch, alignment, err);
  rr_segs_free(&s);
  if (rc != RR_OK) out->len = start;
  return rc;
}

int rr_arrow_ipc_write_schema(rr_buf *out, const struct ArrowSchema *schema, rr_error *err) {
  if (!out || !schema) return rr__err(err, RR_EINVAL, "arrow ipc write: NULL argument");
  size_t start = out->len;
  int rc = write_schema_message(out, schema, 8, err);
  if (rc == RR_OK && (rc = write_eos(out)) != RR_OK) rr__err(err, rc, "arrow ipc write: out of memory");
  if (rc != RR_OK) out->len = start;
  return rc;
}
