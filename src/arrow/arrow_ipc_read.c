/* Arrow IPC stream reader for untrusted input (spec/arrow-ipc.md §2.12, §6).
 * Every flatbuffer access is verified as it is decoded: offsets, alignment,
 * vtable and table bounds, string terminators and UTF-8, vector counts by
 * division, depth and table-count limits. The record batch body is then
 * checked against the schema (node and buffer counts, buffer ranges and
 * sizes, null counts against bitmaps) and the arrays are validated
 * (offsets, child lengths, union ids, UTF-8). No value is used before it
 * has been checked; all loads go through byte-wise helpers. */
#include <stdio.h>

#include "arrow/arrow_internal.h"

#define MAX_METADATA_SIZE (64u << 20)
#define MAX_TABLES 1000000
#define MAX_DEPTH 64

typedef struct rd {
  const uint8_t *data;
  size_t len;
  rr_error *err;
  const uint8_t *fb; /* current message flatbuffer */
  size_t size;       /* its metadata_size */
  size_t base;       /* its stream offset */
  int64_t tables;
  int16_t version;
} rd;

typedef struct tbl {
  size_t t, vt;
  uint32_t vsize, isize;
} tbl;

static int bad(rd *r, size_t pos, const char *what) {
  return rr__err(r->err, RR_ECORRUPT, "arrow ipc: byte %zu: %s", r->base + pos, what);
}

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static int64_t ld64(const uint8_t *p) { return (int64_t)rr__get_u64le(p); }
static int32_t ld32(const uint8_t *p) { return (int32_t)rr__get_u32le(p); }

/* ---- verified flatbuffer access ----------------------------------------- */

static int fb_table(rd *r, size_t t, tbl *out) {
  if (t % 4 || r->size < 4 || t > r->size - 4) return bad(r, t, "table out of bounds or misaligned");
  if (++r->tables > MAX_TABLES) return bad(r, t, "too many flatbuffer tables");
  int64_t vt = (int64_t)t - (int64_t)ld32(r->fb + t);
  if (vt < 0 || vt % 2 || (uint64_t)vt + 4 > r->size) return bad(r, t, "vtable out of bounds or misaligned");
  uint32_t vsize = ld16(r->fb + vt), isize = ld16(r->fb + vt + 2);
  if (vsize < 4 || vsize % 2 || (uint64_t)vt + vsize > r->size) return bad(r, (size_t)vt, "bad vtable size");
  if (isize < 4 || t + isize > r->size) return bad(r, (size_t)vt, "bad table inline size");
  out->t = t;
  out->vt = (size_t)vt;
  out->vsize = vsize;
  out->isize = isize;
  return RR_OK;
}

/* Position of field `id` (size sz, aligned to sz), or 0 when absent. */
static int fb_field(rd *r, const tbl *t, int id, size_t sz, size_t *pos) {
  size_t e = 4 + 2 * (size_t)id;
  *pos = 0;
  if (e >= t->vsize) return RR_OK;
  size_t fo = ld16(r->fb + t->vt + e);
  if (!fo) return RR_OK;
  if (fo < 4 || fo + sz > t->isize) return bad(r, t->vt + e, "table field outside its table");
  if ((t->t + fo) % sz) return bad(r, t->t + fo, "misaligned table field");
  *pos = t->t + fo;
  return RR_OK;
}

static int fb_u8(rd *r, const tbl *t, int id, uint8_t def, uint8_t *v) {
  size_t p;
  RR_TRY(fb_field(r, t, id, 1, &p));
  *v = p ? r->fb[p] : def;
  return RR_OK;
}

static int fb_i16(rd *r, const tbl *t, int id, int16_t def, int16_t *v) {
  size_t p;
  RR_TRY(fb_field(r, t, id, 2, &p));
  *v = p ? (int16_t)ld16(r->fb + p) : def;
  return RR_OK;
}

static int fb_i32(rd *r, const tbl *t, int id, int32_t def, int32_t *v) {
  size_t p;
  RR_TRY(fb_field(r, t, id, 4, &p));
  *v = p ? ld32(r->fb + p) : def;
  return RR_OK;
}

static int fb_i64(rd *r, const tbl *t, int id, int64_t def, int64_t *v) {
  size_t p;
  RR_TRY(fb_field(r, t, id, 8, &p));
  *v = p ? ld64(r->fb + p) : def;
  return RR_OK;
}

static int fb_follow(rd *r, size_t p, size_t *target) {
  if (p % 4 || p + 4 > r->size) return bad(r, p, "misaligned or out-of-bounds offset");
  uint32_t v = rr__get_u32le(r->fb + p);
  if (v == 0 || v >= 0x80000000u || v >= r->size - p) return bad(r, p, "offset out of bounds");
  *target = p + v;
  return RR_OK;
}

/* Target of offset field `id`, or 0 when absent. */
static int fb_ref(rd *r, const tbl *t, int id, size_t *target) {
  size_t p;
  *target = 0;
  RR_TRY(fb_field(r, t, id, 4, &p));
  return p ? fb_follow(r, p, target) : RR_OK;
}

static int fb_subtable(rd *r, const tbl *t, int id, tbl *out, bool *present) {
  size_t p;
  RR_TRY(fb_ref(r, t, id, &p));
  *present = p != 0;
  return p ? fb_table(r, p, out) : RR_OK;
}

static int fb_vector(rd *r, size_t v, size_t esz, size_t ealign, uint32_t *n, size_t *elems) {
  if (v % 4 || v + 4 > r->size) return bad(r, v, "vector out of bounds or misaligned");
  uint32_t count = rr__get_u32le(r->fb + v);
  if (count > (r->size - v - 4) / esz) return bad(r, v, "vector longer than the flatbuffer");
  if ((v + 4) % ealign) return bad(r, v, "misaligned vector elements");
  *n = count;
  *elems = v + 4;
  return RR_OK;
}

static int fb_string(rd *r, size_t s, rr_str *out) {
  if (s % 4 || r->size < 5 || s > r->size - 5) return bad(r, s, "string out of bounds or misaligned");
  uint32_t n = rr__get_u32le(r->fb + s);
  if (n > r->size - s - 5) return bad(r, s, "string longer than the flatbuffer");
  if (r->fb[s + 4 + n] != 0) return bad(r, s, "string without NUL terminator");
  if (!rr__utf8_valid((const char *)r->fb + s + 4, n)) {
    return rr__err(r->err, RR_EUTF8, "arrow ipc: byte %zu: string is not valid UTF-8", r->base + s);
  }
  out->ptr = (const char *)r->fb + s + 4;
  out->len = n;
  return RR_OK;
}

/* A string usable as a C string (no embedded NUL). */
static int fb_cstring(rd *r, size_t s, const char **out) {
  rr_str v = {NULL, 0};
  RR_TRY(fb_string(r, s, &v));
  if (memchr(v.ptr, 0, v.len)) return bad(r, s, "string has an embedded NUL");
  *out = v.ptr;
  return RR_OK;
}

/* Reads a [KeyValue] vector; *out is rr__malloc'd (NULL when empty). */
static int read_kvs(rd *r, size_t v, rr_arrow_kv **out, size_t *n_out) {
  uint32_t n;
  size_t e;
  *out = NULL;
  *n_out = 0;
  RR_TRY(fb_vector(r, v, 4, 4, &n, &e));
  if (!n) return RR_OK;
  rr_arrow_kv *kv = rr__calloc(n, sizeof *kv);
  if (!kv) return rr__err(r->err, RR_ENOMEM, "arrow ipc: out of memory");
  for (uint32_t i = 0; i < n; i++) {
    size_t p, k, val;
    tbl t;
    int rc = fb_follow(r, e + 4 * (size_t)i, &p);
    if (rc == RR_OK) rc = fb_table(r, p, &t);
    if (rc == RR_OK) rc = fb_ref(r, &t, 0, &k);
    if (rc == RR_OK) rc = fb_ref(r, &t, 1, &val);
    if (rc == RR_OK && (!k || !val)) rc = bad(r, p, "KeyValue without key or value");
    if (rc == RR_OK) rc = fb_string(r, k, &kv[i].key);
    if (rc == RR_OK) rc = fb_string(r, val, &kv[i].value);
    if (rc != RR_OK) { rr__free(kv); return rc; }
  }
  *out = kv;
  *n_out = n;
  return RR_OK;
}

static int set_metadata_from(rd *r, const tbl *t, int id, struct ArrowSchema *s) {
  size_t v;
  RR_TRY(fb_ref(r, t, id, &v));
  if (!v) return RR_OK;
  rr_arrow_kv *kv;
  size_t n;
  RR_TRY(read_kvs(r, v, &kv, &n));
  /* duplicates: keep the last */
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    bool later = false;
    for (size_t j = i + 1; j < n && !later; j++)
      later = kv[j].key.len == kv[i].key.len && !memcmp(kv[j].key.ptr, kv[i].key.ptr, kv[i].key.len);
    if (!later) kv[m++] = kv[i];
  }
  int rc = rr_arrow_schema_set_metadata(s, kv, m);
  rr__free(kv);
  if (rc != RR_OK) return rr__err(r->err, rc, "arrow ipc: out of memory");
  return RR_OK;
}

/* ---- schema -------------------------------------------------------------- */

static int unsupported(rd *r, size_t pos, const char *what) {
  return rr__err(r->err, RR_EUNSUPPORTED, "arrow ipc: byte %zu: %s is not supported", r->base + pos, what);
}

static int read_field(rd *r, size_t pos, struct ArrowSchema *out, int depth, bool *has_union) {
  if (depth > MAX_DEPTH) return bad(r, pos, "schema nested too deeply");
  tbl t, ty;
  RR_TRY(fb_table(r, pos, &t));
  size_t name_pos, children_pos, dict_pos;
  const char *name = "";
  uint8_t nullable, tag;
  bool has_type;
  RR_TRY(fb_ref(r, &t, 0, &name_pos));
  if (name_pos) RR_TRY(fb_cstring(r, name_pos, &name));
  RR_TRY(fb_u8(r, &t, 1, 0, &nullable));
  RR_TRY(fb_u8(r, &t, 2, 0, &tag));
  RR_TRY(fb_subtable(r, &t, 3, &ty, &has_type));
  RR_TRY(fb_ref(r, &t, 4, &dict_pos));
  if (dict_pos) return unsupported(r, dict_pos, "dictionary encoding");
  RR_TRY(fb_ref(r, &t, 5, &children_pos));
  uint32_t nc = 0;
  size_t ce = 0;
  if (children_pos) RR_TRY(fb_vector(r, children_pos, 4, 4, &nc, &ce));
  if (tag == 0) return bad(r, pos, "field without a type");
  if (!has_type) return bad(r, pos, "field type table absent");
  char fmt[600];
  int64_t want_children = 0; /* -1: any, -2: at least one */
  static const char units[] = "smun";
  switch (tag) {
    case 1: strcpy(fmt, "n"); break;
    case 2: {
      int32_t bw;
      uint8_t sg;
      RR_TRY(fb_i32(r, &ty, 0, 0, &bw));
      RR_TRY(fb_u8(r, &ty, 1, 0, &sg));
      const char *f = bw == 8 ? "cC" : bw == 16 ? "sS" : bw == 32 ? "iI" : bw == 64 ? "lL" : NULL;
      if (!f) return bad(r, ty.t, "Int bitWidth not 8, 16, 32 or 64");
      fmt[0] = f[sg ? 0 : 1];
      fmt[1] = 0;
      break;
    }
    case 3: {
      int16_t p;
      RR_TRY(fb_i16(r, &ty, 0, 0, &p));
      if (p < 0 || p > 2) return bad(r, ty.t, "bad floating point precision");
      fmt[0] = "efg"[p];
      fmt[1] = 0;
      break;
    }
    case 4: strcpy(fmt, "z"); break;
    case 5: strcpy(fmt, "u"); break;
    case 6: strcpy(fmt, "b"); break;
    case 8: {
      int16_t u;
      RR_TRY(fb_i16(r, &ty, 0, 1, &u));
      if (u < 0 || u > 1) return bad(r, ty.t, "bad date unit");
      strcpy(fmt, u ? "tdm" : "tdD");
      break;
    }
    case 9: {
      int16_t u;
      int32_t bw;
      RR_TRY(fb_i16(r, &ty, 0, 1, &u));
      RR_TRY(fb_i32(r, &ty, 1, 32, &bw));
      if (u < 0 || u > 3 || bw != (u <= 1 ? 32 : 64)) return bad(r, ty.t, "bad time unit or bit width");
      snprintf(fmt, sizeof fmt, "tt%c", units[u]);
      break;
    }
    case 10: {
      int16_t u;
      size_t tzp;
      const char *tz = "";
      RR_TRY(fb_i16(r, &ty, 0, 0, &u));
      RR_TRY(fb_ref(r, &ty, 1, &tzp));
      if (u < 0 || u > 3) return bad(r, ty.t, "bad timestamp unit");
      if (tzp) RR_TRY(fb_cstring(r, tzp, &tz));
      if (tzp && !tz[0]) return unsupported(r, tzp, "an empty (present) timezone");
      if (strlen(tz) > 256) return bad(r, tzp, "timezone too long");
      snprintf(fmt, sizeof fmt, "ts%c:%s", units[u], tz);
      break;
    }
    case 12: strcpy(fmt, "+l"); want_children = 1; break;
    case 13: strcpy(fmt, "+s"); want_children = -1; break;
    case 14: {
      int16_t mode;
      size_t idp;
      RR_TRY(fb_i16(r, &ty, 0, 0, &mode));
      RR_TRY(fb_ref(r, &ty, 1, &idp));
      if (mode == 0) return unsupported(r, ty.t, "sparse union");
      if (mode != 1) return bad(r, ty.t, "bad union mode");
      if (nc < 1 || nc > 128) return bad(r, pos, "union needs 1 to 128 children");
      int8_t ids[128];
      if (idp) {
        uint32_t n;
        size_t e;
        RR_TRY(fb_vector(r, idp, 4, 4, &n, &e));
        if (n != nc) return bad(r, idp, "union typeIds count differs from children");
        for (uint32_t i = 0; i < n; i++) {
          int32_t v = ld32(r->fb + e + 4 * i);
          if (v < 0 || v > 127) return bad(r, e + 4 * i, "union type id outside 0..127");
          for (uint32_t j = 0; j < i; j++)
            if (ids[j] == v) return bad(r, e + 4 * i, "repeated union type id");
          ids[i] = (int8_t)v;
        }
      } else {
        for (uint32_t i = 0; i < nc; i++) ids[i] = (int8_t)i;
      }
      int k = snprintf(fmt, sizeof fmt, "+ud:");
      for (uint32_t i = 0; i < nc; i++) k += snprintf(fmt + k, sizeof fmt - (size_t)k, i ? ",%d" : "%d", ids[i]);
      *has_union = true;
      want_children = -2;
      break;
    }
    case 15: {
      int32_t w;
      RR_TRY(fb_i32(r, &ty, 0, 0, &w));
      if (w < 0) return bad(r, ty.t, "negative byteWidth");
      snprintf(fmt, sizeof fmt, "w:%d", w);
      break;
    }
    case 16: {
      int32_t n;
      RR_TRY(fb_i32(r, &ty, 0, 0, &n));
      if (n < 0) return bad(r, ty.t, "negative listSize");
      snprintf(fmt, sizeof fmt, "+w:%d", n);
      want_children = 1;
      break;
    }
    case 18: {
      int16_t u;
      RR_TRY(fb_i16(r, &ty, 0, 1, &u));
      if (u < 0 || u > 3) return bad(r, ty.t, "bad duration unit");
      snprintf(fmt, sizeof fmt, "tD%c", units[u]);
      break;
    }
    case 7: return unsupported(r, pos, "Decimal");
    case 11: return unsupported(r, pos, "Interval");
    case 17: return unsupported(r, pos, "Map");
    case 19: return unsupported(r, pos, "LargeBinary");
    case 20: return unsupported(r, pos, "LargeUtf8");
    case 21: return unsupported(r, pos, "LargeList");
    case 22: return unsupported(r, pos, "RunEndEncoded");
    case 23: case 24: case 25: case 26: return unsupported(r, pos, "a view type");
    default: return bad(r, pos, "unknown type tag");
  }
  if ((want_children >= 0 && nc != want_children) || (want_children == -2 && nc < 1))
    return bad(r, pos, "wrong number of children for the field type");
  int rc = rr_arrow_schema_init(out, fmt, name, nullable ? ARROW_FLAG_NULLABLE : 0, nc);
  if (rc != RR_OK) return rr__err(r->err, rc, "arrow ipc: out of memory");
  for (uint32_t i = 0; i < nc; i++) {
    size_t cp;
    RR_TRY(fb_follow(r, ce + 4 * (size_t)i, &cp));
    RR_TRY(read_field(r, cp, out->children[i], depth + 1, has_union));
  }
  return set_metadata_from(r, &t, 6, out);
}

static int read_schema(rd *r, size_t pos, struct ArrowSchema *out, bool *has_union) {
  tbl t;
  RR_TRY(fb_table(r, pos, &t));
  int16_t endianness;
  RR_TRY(fb_i16(r, &t, 0, 0, &endianness));
  if (endianness != 0) return unsupported(r, pos, "big-endian data");
  size_t fp;
  RR_TRY(fb_ref(r, &t, 1, &fp));
  if (!fp) return bad(r, pos, "schema without fields");
  uint32_t n;
  size_t e;
  RR_TRY(fb_vector(r, fp, 4, 4, &n, &e));
  int rc = rr_arrow_schema_init(out, "+s", "", 0, n);
  if (rc != RR_OK) return rr__err(r->err, rc, "arrow ipc: out of memory");
  for (uint32_t i = 0; i < n; i++) {
    size_t cp;
    RR_TRY(fb_follow(r, e + 4 * (size_t)i, &cp));
    RR_TRY(read_field(r, cp, out->children[i], 1, has_union));
  }
  return set_metadata_from(r, &t, 2, out);
}

/* ---- messages ------------------------------------------------------------ */

typedef struct msg {
  uint8_t htype;
  size_t header;    /* flatbuffer position of the header table */
  int64_t body_len;
  size_t body_pos;  /* stream offset of the body */
  size_t next;      /* stream offset of the next message */
} msg;

/* Reads the message at stream offset pos. *eos is set at EOS or at the end
 * of the input on a message boundary. */
static int read_message(rd *r, size_t pos, msg *m, bool *eos) {
  *eos = false;
  r->base = pos;
  if (pos == r->len) { *eos = true; return RR_OK; }
  if (r->len - pos < 8) return bad(r, 0, "truncated message prefix");
  if (rr__get_u32le(r->data + pos) != 0xFFFFFFFFu)
    return bad(r, 0, "missing continuation marker (legacy or corrupt stream)");
  int32_t ms = ld32(r->data + pos + 4);
  if (ms == 0) { *eos = true; return RR_OK; }
  if (ms < 0 || ms % 8) return bad(r, 4, "metadata size negative or not a multiple of 8");
  if ((uint32_t)ms > MAX_METADATA_SIZE) return bad(r, 4, "metadata size above the limit");
  if ((size_t)ms > r->len - pos - 8) return bad(r, 4, "metadata truncated");
  r->fb = r->data + pos + 8;
  r->size = (size_t)ms;
  r->base = pos + 8;
  r->tables = 0;
  if (r->size < 12) return bad(r, 0, "flatbuffer too small");
  size_t root;
  tbl t;
  RR_TRY(fb_follow(r, 0, &root));
  RR_TRY(fb_table(r, root, &t));
  int16_t version;
  RR_TRY(fb_i16(r, &t, 0, 0, &version));
  if (version < 3 || version > 4)
    return rr__err(r->err, RR_EUNSUPPORTED, "arrow ipc: byte %zu: metadata version %d is not supported (V4/V5 only)",
                   r->base, version);
  r->version = version;
  RR_TRY(fb_u8(r, &t, 1, 0, &m->htype));
  RR_TRY(fb_ref(r, &t, 2, &m->header));
  RR_TRY(fb_i64(r, &t, 3, 0, &m->body_len));
  size_t md;
  RR_TRY(fb_ref(r, &t, 4, &md));
  if (md) {
    rr_arrow_kv *kv;
    size_t n;
    RR_TRY(read_kvs(r, md, &kv, &n));
    rr__free(kv);
  }
  if (m->htype == 0 || !m->header) return bad(r, root, "message without a header");
  size_t body = pos + 8 + (size_t)ms;
  if (m->body_len < 0 || m->body_len % 8) return bad(r, root, "body length negative or not a multiple of 8");
  if ((uint64_t)m->body_len > r->len - body) return bad(r, root, "body truncated");
  m->body_pos = body;
  m->next = body + (size_t)m->body_len;
  return RR_OK;
}

/* ---- record batch -------------------------------------------------------- */

static const int64_t zero_offsets[1] = {0};

typedef struct bctx {
  rd *r;
  const uint8_t *body;
  size_t body_pos;
  int64_t body_len;
  size_t nodes, bufs; /* flatbuffer positions of the first elements */
  uint32_t n_nodes, n_bufs, node_i, buf_i;
  rr__arrow_owner *owner;
} bctx;

static int col_err(bctx *c, const struct ArrowSchema *s, int code, const char *fmt, long long a, long long b) {
  char what[160];
  snprintf(what, sizeof what, fmt, a, b);
  return rr__err(c->r->err, code, "arrow ipc: record batch at byte %zu: array '%s': %s", c->r->base - 8,
                 s->name ? s->name : "", what);
}

static int take_buf(bctx *c, const struct ArrowSchema *s, int64_t *off, int64_t *len) {
  if (c->buf_i >= c->n_bufs) return col_err(c, s, RR_ECORRUPT, "more buffers needed than the %lld given%.0lld",
                                            c->n_bufs, 0);
  size_t p = c->bufs + 16 * (size_t)c->buf_i++;
  *off = ld64(c->r->fb + p);
  *len = ld64(c->r->fb + p + 8);
  if (*off < 0 || *len < 0 || *len > c->body_len || *off > c->body_len - *len)
    return bad(c->r, p, "buffer outside the message body");
  return RR_OK;
}

/* Takes the next buffer, checks it holds `need` bytes and installs it. */
static int use_buf(bctx *c, const struct ArrowSchema *s, struct ArrowArray *a, int slot, int64_t need,
                   const char *what) {
  int64_t off = 0, len = 0;
  RR_TRY(take_buf(c, s, &off, &len));
  if (len < need)
    return rr__err(c->r->err, RR_ECORRUPT,
                   "arrow ipc: byte %zu: array '%s': %s buffer has %lld bytes, needs %lld",
                   c->body_pos + (size_t)off, s->name ? s->name : "", what, (long long)len, (long long)need);
  if (need == 0) { rr__arrow_array_set_view(a, slot, zero_offsets); return RR_OK; }
  const uint8_t *p = c->body + off;
  if (((uintptr_t)p & 7) == 0) {
    rr__arrow_array_set_view(a, slot, p);
  } else {
    void *copy = rr__malloc((size_t)need);
    if (!copy) return rr__err(c->r->err, RR_ENOMEM, "arrow ipc: out of memory");
    memcpy(copy, p, (size_t)need);
    rr_arrow_array_set_buffer(a, slot, copy);
  }
  return RR_OK;
}

static int read_array(bctx *c, const struct ArrowSchema *s, struct ArrowArray *out, int depth) {
  rr__atype t;
  RR_TRY(rr__arrow_parse_format(s->format, &t, c->r->err));
  if (c->node_i >= c->n_nodes)
    return col_err(c, s, RR_ECORRUPT, "more nodes needed than the %lld given%.0lld", c->n_nodes, 0);
  size_t np = c->nodes + 16 * (size_t)c->node_i++;
  int64_t len = ld64(c->r->fb + np), nulls = ld64(c->r->fb + np + 8);
  if (len < 0 || len > INT32_MAX || nulls < 0 || nulls > len)
    return bad(c->r, np, "field node length or null count out of range");
  int rc = rr_arrow_array_init(out, len, nulls, rr__arrow_n_buffers(&t), s->n_children);
  if (rc != RR_OK) return rr__err(c->r->err, rc, "arrow ipc: out of memory");
  rr__arrow_array_attach_owner(out, c->owner);
  if (t.id == RR__AT_NA) {
    if (nulls != len) return bad(c->r, np, "null array with null_count != length");
    return RR_OK;
  }
  if (t.id == RR__AT_DUNION) {
    if (nulls != 0) return bad(c->r, np, "union with a non-zero null count");
    RR_TRY(use_buf(c, s, out, 0, len, "type ids"));
    RR_TRY(use_buf(c, s, out, 1, len * 4, "union offsets"));
  } else {
    if (nulls > 0) {
      RR_TRY(use_buf(c, s, out, 0, (len + 7) / 8, "validity"));
      int64_t z = rr__bits_count_zeros(out->buffers[0], 0, len);
      if (z != nulls) return col_err(c, s, RR_ECORRUPT, "null_count %lld but the bitmap has %lld nulls", nulls, z);
    } else {
      int64_t off, blen;
      RR_TRY(take_buf(c, s, &off, &blen)); /* ignored when there are no nulls */
      rr__arrow_array_set_view(out, 0, NULL);
    }
  }
  int64_t last = 0;
  switch (t.id) {
    case RR__AT_BOOL: RR_TRY(use_buf(c, s, out, 1, (len + 7) / 8, "values")); break;
    case RR__AT_UTF8:
    case RR__AT_BINARY:
    case RR__AT_LIST: {
      RR_TRY(use_buf(c, s, out, 1, len ? (len + 1) * 4 : 0, "offsets"));
      const int32_t *o = out->buffers[1];
      int32_t first;
      memcpy(&first, o, 4);
      int32_t l;
      memcpy(&l, (const uint8_t *)o + 4 * len, 4);
      last = l;
      if (first < 0 || last < first)
        return col_err(c, s, RR_ECORRUPT, "offsets %lld..%lld not a valid range", first, last);
      if (t.id != RR__AT_LIST) RR_TRY(use_buf(c, s, out, 2, last, "data"));
      break;
    }
    case RR__AT_FSL:
    case RR__AT_STRUCT:
    case RR__AT_DUNION:
      break;
    default: {
      int64_t w = t.id == RR__AT_FSB ? t.fixed : t.byte_width;
      RR_TRY(use_buf(c, s, out, 1, len * w, "values"));
      break;
    }
  }
  for (int64_t i = 0; i < s->n_children; i++) RR_TRY(read_array(c, s->children[i], out->children[i], depth + 1));
  return RR_OK;
}

static int read_batch(rd *r, const msg *m, const uint8_t *body, const struct ArrowSchema *schema,
                      rr__arrow_owner *owner, struct ArrowArray *out) {
  tbl t;
  RR_TRY(fb_table(r, m->header, &t));
  int64_t length;
  size_t np, bp, cp, vp;
  RR_TRY(fb_i64(r, &t, 0, 0, &length));
  RR_TRY(fb_ref(r, &t, 1, &np));
  RR_TRY(fb_ref(r, &t, 2, &bp));
  RR_TRY(fb_ref(r, &t, 3, &cp));
  RR_TRY(fb_ref(r, &t, 4, &vp));
  if (cp) return unsupported(r, cp, "body compression");
  if (vp) {
    uint32_t n;
    size_t e;
    RR_TRY(fb_vector(r, vp, 8, 4, &n, &e));
    if (n) return unsupported(r, vp, "variadic buffers (view types)");
  }
  if (!np || !bp) return bad(r, m->header, "record batch without nodes or buffers");
  if (length < 0 || length > INT32_MAX) return bad(r, m->header, "record batch length out of range");
  bctx c = {r, body, m->body_pos, m->body_len, 0, 0, 0, 0, 0, 0, owner};
  RR_TRY(fb_vector(r, np, 16, 4, &c.n_nodes, &c.nodes));
  RR_TRY(fb_vector(r, bp, 16, 4, &c.n_bufs, &c.bufs));
  int rc = rr_arrow_array_init(out, length, 0, 1, schema->n_children);
  if (rc != RR_OK) return rr__err(r->err, rc, "arrow ipc: out of memory");
  rr__arrow_array_attach_owner(out, owner);
  for (int64_t i = 0; i < schema->n_children; i++) {
    RR_TRY(read_array(&c, schema->children[i], out->children[i], 1));
    if (out->children[i]->length != length)
      return col_err(&c, schema->children[i], RR_ECORRUPT, "column length %lld differs from the batch's %lld",
                     out->children[i]->length, length);
  }
  if (c.node_i != c.n_nodes || c.buf_i != c.n_bufs)
    return bad(r, m->header, "record batch has more nodes or buffers than the schema uses");
  rc = rr_arrow_array_validate(out, schema, r->err);
  if (rc != RR_OK) return rr__err_wrap(r->err, rc, "arrow ipc: record batch at byte %zu", r->base - 8);
  return RR_OK;
}

static int read_stream(rd *r, rr__arrow_owner **owner, struct ArrowSchema *schema_out,
                       struct ArrowArray *batch_out) {
  msg m;
  bool eos, has_union = false;
  RR_TRY(read_message(r, 0, &m, &eos));
  if (eos) return rr__err(r->err, RR_ECORRUPT, "arrow ipc: byte 0: stream has no schema message");
  if (m.htype != 1) return bad(r, 0, "first message is not a schema");
  if (m.body_len != 0) return bad(r, 0, "schema message with a body");
  RR_TRY(read_schema(r, m.header, schema_out, &has_union));
  if (has_union && r->version < 4) return unsupported(r, 0, "a V4 stream with unions");
  if (!batch_out) return RR_OK;
  size_t pos = m.next;
  RR_TRY(read_message(r, pos, &m, &eos));
  if (eos) return rr__err(r->err, RR_EEOF, "arrow ipc: byte %zu: stream has no record batch", pos);
  if (m.htype == 2) return unsupported(r, 0, "dictionary batches");
  if (m.htype != 3) return bad(r, 0, "second message is not a record batch");
  if (has_union && r->version < 4) return unsupported(r, 0, "a V4 stream with unions");
  const uint8_t *body = r->data + m.body_pos;
  if (!*owner) {
    /* copy mode: one copy of the body, shared by every array */
    uint8_t *copy = rr__malloc(m.body_len ? (size_t)m.body_len : 1);
    if (!copy) return rr__err(r->err, RR_ENOMEM, "arrow ipc: out of memory");
    memcpy(copy, body, (size_t)m.body_len);
    *owner = rr__arrow_owner_new(rr__free, copy);
    if (!*owner) { rr__free(copy); return rr__err(r->err, RR_ENOMEM, "arrow ipc: out of memory"); }
    body = copy;
  }
  return read_batch(r, &m, body, schema_out, *owner, batch_out);
}

int rr_arrow_ipc_read(const uint8_t *data, size_t len, void (*owner_free)(void *), void *owner,
                      struct ArrowSchema *schema_out, struct ArrowArray *batch_out, rr_error *err) {
  rr__arrow_owner *own = NULL;
  if (owner_free) {
    own = rr__arrow_owner_new(owner_free, owner);
    if (!own) { owner_free(owner); return rr__err(err, RR_ENOMEM, "arrow ipc: out of memory"); }
  }
  struct ArrowSchema tmp;
  struct ArrowSchema *s = schema_out ? schema_out : &tmp;
  memset(s, 0, sizeof *s);
  if (batch_out) memset(batch_out, 0, sizeof *batch_out);
  int rc;
  if (!data && len) {
    rc = rr__err(err, RR_EINVAL, "arrow ipc: NULL input");
  } else {
    rd r = {data, len, err, NULL, 0, 0, 0, 0};
    rc = read_stream(&r, &own, s, batch_out);
  }
  if (rc != RR_OK) {
    if (batch_out && batch_out->release) batch_out->release(batch_out);
    if (s->release) s->release(s);
  } else if (!schema_out) {
    s->release(s);
  }
  rr__arrow_owner_unref(own);
  return rc;
}
