/* ArrowSchema helpers: owned schema nodes, metadata encoding, format string
 * parsing, structural equality and human-readable type names. */
#include <stdio.h>
#include <stdlib.h>

#include "arrow/arrow_internal.h"

/* ---- format strings ------------------------------------------------------ */

static int parse_i64(const char *s, int64_t max, int64_t *out) {
  if (*s < '0' || *s > '9') return RR_EINVAL;
  int64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return RR_EINVAL;
    v = v * 10 + (*s - '0');
    if (v > max) return RR_EINVAL;
  }
  *out = v;
  return RR_OK;
}

static int unit_of(char c) {
  switch (c) {
    case 's': return 0;
    case 'm': return 1;
    case 'u': return 2;
    case 'n': return 3;
    default: return -1;
  }
}

int rr__arrow_parse_format(const char *f, rr__atype *t, rr_error *err) {
  memset(t, 0, sizeof *t);
  t->tz = "";
  if (!f) return rr__err(err, RR_EINVAL, "arrow: schema has no format string");
  if (f[0] && !f[1]) {
    switch (f[0]) {
      case 'n': t->id = RR__AT_NA; return RR_OK;
      case 'b': t->id = RR__AT_BOOL; return RR_OK;
      case 'c': t->id = RR__AT_INT; t->byte_width = 1; t->is_signed = true; return RR_OK;
      case 'C': t->id = RR__AT_INT; t->byte_width = 1; return RR_OK;
      case 's': t->id = RR__AT_INT; t->byte_width = 2; t->is_signed = true; return RR_OK;
      case 'S': t->id = RR__AT_INT; t->byte_width = 2; return RR_OK;
      case 'i': t->id = RR__AT_INT; t->byte_width = 4; t->is_signed = true; return RR_OK;
      case 'I': t->id = RR__AT_INT; t->byte_width = 4; return RR_OK;
      case 'l': t->id = RR__AT_INT; t->byte_width = 8; t->is_signed = true; return RR_OK;
      case 'L': t->id = RR__AT_INT; t->byte_width = 8; return RR_OK;
      case 'e': t->id = RR__AT_FLOAT; t->byte_width = 2; return RR_OK;
      case 'f': t->id = RR__AT_FLOAT; t->byte_width = 4; return RR_OK;
      case 'g': t->id = RR__AT_FLOAT; t->byte_width = 8; return RR_OK;
      case 'u': t->id = RR__AT_UTF8; return RR_OK;
      case 'z': t->id = RR__AT_BINARY; return RR_OK;
      default: break;
    }
  }
  if (f[0] == 'w' && f[1] == ':') {
    t->id = RR__AT_FSB;
    if (parse_i64(f + 2, INT32_MAX, &t->fixed) != RR_OK)
      return rr__err(err, RR_EINVAL, "arrow: bad fixed-size binary format '%s'", f);
    t->byte_width = (int)(t->fixed < INT32_MAX ? t->fixed : INT32_MAX);
    return RR_OK;
  }
  if (f[0] == '+') {
    if (!strcmp(f, "+l")) { t->id = RR__AT_LIST; return RR_OK; }
    if (!strcmp(f, "+s")) { t->id = RR__AT_STRUCT; return RR_OK; }
    if (f[1] == 'w' && f[2] == ':') {
      t->id = RR__AT_FSL;
      if (parse_i64(f + 3, INT32_MAX, &t->fixed) != RR_OK)
        return rr__err(err, RR_EINVAL, "arrow: bad fixed-size list format '%s'", f);
      return RR_OK;
    }
    if (f[1] == 'u' && f[2] == 'd' && f[3] == ':') {
      t->id = RR__AT_DUNION;
      const char *p = f + 4;
      if (!*p) return RR_OK;
      for (;;) {
        if (*p < '0' || *p > '9')
          return rr__err(err, RR_EINVAL, "arrow: bad union format '%s'", f);
        int v = 0;
        while (*p >= '0' && *p <= '9') {
          v = v * 10 + (*p++ - '0');
          if (v > 127) return rr__err(err, RR_EINVAL, "arrow: union type id > 127 in '%s'", f);
        }
        for (int k = 0; k < t->n_type_ids; k++)
          if (t->type_ids[k] == v) return rr__err(err, RR_EINVAL, "arrow: repeated union type id in '%s'", f);
        if (t->n_type_ids >= 128) return rr__err(err, RR_EINVAL, "arrow: too many union type ids");
        t->type_ids[t->n_type_ids++] = (int8_t)v;
        if (!*p) return RR_OK;
        if (*p++ != ',') return rr__err(err, RR_EINVAL, "arrow: bad union format '%s'", f);
      }
    }
    return rr__err(err, RR_EUNSUPPORTED, "arrow: unsupported nested format '%s'", f);
  }
  if (f[0] == 't' && f[1]) {
    int u = f[2] ? unit_of(f[2]) : -1;
    switch (f[1]) {
      case 's':
        if (u >= 0 && f[3] == ':') {
          t->id = RR__AT_TIMESTAMP; t->unit = u; t->byte_width = 8; t->is_signed = true;
          t->tz = f + 4;
          return RR_OK;
        }
        break;
      case 'D':
        if (u >= 0 && !f[3]) {
          t->id = RR__AT_DURATION; t->unit = u; t->byte_width = 8; t->is_signed = true;
          return RR_OK;
        }
        break;
      case 'd':
        if ((f[2] == 'D' || f[2] == 'm') && !f[3]) {
          t->id = RR__AT_DATE; t->unit = f[2] == 'D' ? 0 : 1;
          t->byte_width = f[2] == 'D' ? 4 : 8; t->is_signed = true;
          return RR_OK;
        }
        break;
      case 't':
        if (u >= 0 && !f[3]) {
          t->id = RR__AT_TIME; t->unit = u; t->byte_width = u <= 1 ? 4 : 8; t->is_signed = true;
          return RR_OK;
        }
        break;
      default: break;
    }
  }
  return rr__err(err, RR_EUNSUPPORTED, "arrow: unsupported format '%s'", f);
}

int rr__arrow_n_buffers(const rr__atype *t) {
  switch (t->id) {
    case RR__AT_NA: return 0;
    case RR__AT_UTF8: case RR__AT_BINARY: return 3;
    case RR__AT_FSL: case RR__AT_STRUCT: return 1;
    case RR__AT_DUNION: return 2;
    default: return 2; /* validity + values/offsets */
  }
}

/* ---- metadata ------------------------------------------------------------ */

static int32_t rd_i32(const char *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

size_t rr_arrow_metadata_size(const char *m) {
  if (!m) return 0;
  int32_t n = rd_i32(m);
  size_t pos = 4;
  for (int32_t i = 0; i < n; i++) {
    pos += 4 + (size_t)rd_i32(m + pos);
    pos += 4 + (size_t)rd_i32(m + pos);
  }
  return pos;
}

int64_t rr_arrow_metadata_count(const char *m) { return m ? rd_i32(m) : 0; }

int rr_arrow_metadata_at(const char *m, int64_t i, rr_arrow_kv *out) {
  if (!m || i < 0 || i >= rd_i32(m)) return RR_ERANGE;
  size_t pos = 4;
  for (int64_t k = 0;; k++) {
    int32_t kl = rd_i32(m + pos);
    const char *kp = m + pos + 4;
    pos += 4 + (size_t)kl;
    int32_t vl = rd_i32(m + pos);
    const char *vp = m + pos + 4;
    pos += 4 + (size_t)vl;
    if (k == i) {
      out->key.ptr = kp; out->key.len = (size_t)kl;
      out->value.ptr = vp; out->value.len = (size_t)vl;
      return RR_OK;
    }
  }
}

int rr_arrow_metadata_get(const char *m, const char *key, rr_str *value) {
  int64_t n = rr_arrow_metadata_count(m);
  size_t kl = strlen(key);
  int found = RR_ENOTFOUND;
  for (int64_t i = 0; i < n; i++) {
    rr_arrow_kv kv = {{NULL, 0}, {NULL, 0}};
    rr_arrow_metadata_at(m, i, &kv);
    if (kv.key.len == kl && !memcmp(kv.key.ptr, key, kl)) {
      if (value) *value = kv.value; /* the last of duplicates wins */
      found = RR_OK;
    }
  }
  return found;
}

static int metadata_encode(const rr_arrow_kv *kv, size_t n, char **out) {
  *out = NULL;
  if (n == 0) return RR_OK;
  if (n > INT32_MAX) return RR_EINVAL;
  size_t total = 4;
  for (size_t i = 0; i < n; i++) {
    if (kv[i].key.len > INT32_MAX || kv[i].value.len > INT32_MAX) return RR_EINVAL;
    total += 8 + kv[i].key.len + kv[i].value.len;
  }
  char *m = rr__malloc(total);
  if (!m) return RR_ENOMEM;
  int32_t v = (int32_t)n;
  memcpy(m, &v, 4);
  size_t pos = 4;
  for (size_t i = 0; i < n; i++) {
    v = (int32_t)kv[i].key.len;
    memcpy(m + pos, &v, 4);
    if (v) memcpy(m + pos + 4, kv[i].key.ptr, kv[i].key.len);
    pos += 4 + kv[i].key.len;
    v = (int32_t)kv[i].value.len;
    memcpy(m + pos, &v, 4);
    if (v) memcpy(m + pos + 4, kv[i].value.ptr, kv[i].value.len);
    pos += 4 + kv[i].value.len;
  }
  *out = m;
  return RR_OK;
}

/* ---- owned schema nodes -------------------------------------------------- */

/* One allocation per node: this header, the child schemas, the child
 * pointers, then format and name; the metadata is allocated apart (it can
 * be replaced). */
typedef struct schema_priv {
  char *metadata;
  struct ArrowSchema **ptrs;
  struct ArrowSchema *kids;
} schema_priv;

static void schema_release(struct ArrowSchema *s) {
  if (!s || !s->release) return;
  schema_priv *p = s->private_data;
  for (int64_t i = 0; i < s->n_children; i++) {
    struct ArrowSchema *c = s->children[i];
    if (c && c->release) c->release(c);
  }
  if (s->dictionary && s->dictionary->release) s->dictionary->release(s->dictionary);
  if (p) {
    rr__free(p->metadata);
    rr__free(p);
  }
  s->release = NULL;
}

int rr_arrow_schema_init(struct ArrowSchema *out, const char *format, const char *name,
                         int64_t flags, int64_t n_children) {
  memset(out, 0, sizeof *out);
  if (!format || n_children < 0 || n_children > (1 << 20)) return RR_EINVAL;
  if (!name) name = "";
  size_t nc = (size_t)n_children, fl = strlen(format) + 1, nl = strlen(name) + 1;
  schema_priv *p = rr__calloc(1, sizeof *p + nc * (sizeof *p->kids + sizeof *p->ptrs) + fl + nl);
  if (!p) return RR_ENOMEM;
  p->kids = (struct ArrowSchema *)(p + 1); /* pointer-aligned up to the strings */
  p->ptrs = (struct ArrowSchema **)(p->kids + nc);
  char *f = (char *)(p->ptrs + nc);
  memcpy(f, format, fl);
  memcpy(f + fl, name, nl);
  for (size_t i = 0; i < nc; i++) p->ptrs[i] = &p->kids[i];
  out->format = f;
  out->name = f + fl;
  out->flags = flags;
  out->n_children = n_children;
  out->children = n_children ? p->ptrs : NULL;
  out->private_data = p;
  out->release = schema_release;
  return RR_OK;
}

int rr_arrow_schema_set_metadata(struct ArrowSchema *s, const rr_arrow_kv *kv, size_t n) {
  if (!s || s->release != schema_release) return RR_EINVAL;
  char *m;
  RR_TRY(metadata_encode(kv, n, &m));
  schema_priv *p = s->private_data;
  rr__free(p->metadata);
  p->metadata = m;
  s->metadata = m;
  return RR_OK;
}

static int set_metadata_raw(struct ArrowSchema *s, const char *m) {
  if (!m) return RR_OK;
  size_t n = rr_arrow_metadata_size(m);
  schema_priv *p = s->private_data;
  p->metadata = rr__malloc(n);
  if (!p->metadata) return RR_ENOMEM;
  memcpy(p->metadata, m, n);
  s->metadata = p->metadata;
  return RR_OK;
}

int rr_arrow_schema_copy(struct ArrowSchema *out, const struct ArrowSchema *src) {
  if (!src || !src->release) { memset(out, 0, sizeof *out); return RR_EINVAL; }
  RR_TRY(rr_arrow_schema_init(out, src->format, src->name, src->flags, src->n_children));
  int rc = set_metadata_raw(out, src->metadata);
  for (int64_t i = 0; rc == RR_OK && i < src->n_children; i++)
    rc = rr_arrow_schema_copy(out->children[i], src->children[i]);
  if (rc == RR_OK && src->dictionary) rc = RR_EUNSUPPORTED;
  if (rc != RR_OK) out->release(out);
  return rc;
}

void rr_arrow_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst) {
  *dst = *src;
  src->release = NULL;
}

/* ---- equality ------------------------------------------------------------ */

static bool metadata_equal(const char *a, const char *b) {
  int64_t n = rr_arrow_metadata_count(a);
  if (n != rr_arrow_metadata_count(b)) return false;
  for (int64_t i = 0; i < n; i++) {
    rr_arrow_kv kv = {{NULL, 0}, {NULL, 0}};
    rr_arrow_metadata_at(a, i, &kv);
    bool found = false;
    for (int64_t j = 0; j < n && !found; j++) {
      rr_arrow_kv o;
      rr_arrow_metadata_at(b, j, &o);
      found = o.key.len == kv.key.len && o.value.len == kv.value.len &&
              !memcmp(o.key.ptr, kv.key.ptr, kv.key.len) &&
              !memcmp(o.value.ptr, kv.value.ptr, kv.value.len);
    }
    if (!found) return false;
  }
  return true;
}

bool rr_arrow_schema_equal(const struct ArrowSchema *a, const struct ArrowSchema *b, bool strict) {
  if (a == b) return true;
  if (!a || !b || !a->format || !b->format) return false;
  if (strcmp(a->format, b->format) || a->n_children != b->n_children) return false;
  if (strict) {
    if (strcmp(a->name ? a->name : "", b->name ? b->name : "")) return false;
    if ((a->flags & ARROW_FLAG_NULLABLE) != (b->flags & ARROW_FLAG_NULLABLE)) return false;
    if (!metadata_equal(a->metadata, b->metadata)) return false;
  }
  for (int64_t i = 0; i < a->n_children; i++)
    if (!rr_arrow_schema_equal(a->children[i], b->children[i], strict)) return false;
  return true;
}

static int schema_key(rr_buf *k, const struct ArrowSchema *s, int depth) {
  if (depth > 64 || !s || !s->format) return RR_EINVAL;
  size_t fl = strlen(s->format), nl = s->name ? strlen(s->name) : 0;
  size_t ml = rr_arrow_metadata_size(s->metadata);
  uint64_t hdr[5] = {fl, nl, ml, (uint64_t)s->flags, (uint64_t)s->n_children};
  RR_TRY(rr_buf_append(k, hdr, sizeof hdr));
  RR_TRY(rr_buf_append(k, s->format, fl));
  RR_TRY(rr_buf_append(k, s->name, nl));
  RR_TRY(rr_buf_append(k, s->metadata, ml));
  for (int64_t i = 0; i < s->n_children; i++) RR_TRY(schema_key(k, s->children[i], depth + 1));
  return RR_OK;
}

int rr_arrow_schema_key(rr_buf *key, const struct ArrowSchema *s) { return schema_key(key, s, 0); }

/* ---- human-readable ------------------------------------------------------ */

static int appendf(rr_buf *b, const char *fmt, ...) RR__PRINTF(2, 3);
static int appendf(rr_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return RR_EINVAL;
  return rr_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *unit_name(int u) {
  static const char *const names[] = {"s", "ms", "us", "ns"};
  return u >= 0 && u < 4 ? names[u] : "?";
}

static int format_rec(const struct ArrowSchema *s, rr_buf *out, int depth) {
  if (depth > 64) return RR_EINVAL;
  rr__atype t;
  int rc = rr__arrow_parse_format(s->format, &t, NULL);
  if (rc != RR_OK) return appendf(out, "Unsupported(%s)", s->format ? s->format : "");
  static const char *const ints[] = {"Int8", "Int16", "", "Int32", "", "", "", "Int64"};
  switch (t.id) {
    case RR__AT_NA: return appendf(out, "Null");
    case RR__AT_BOOL: return appendf(out, "Boolean");
    case RR__AT_INT: return appendf(out, "%s%s", t.is_signed ? "" : "U", ints[t.byte_width - 1]);
    case RR__AT_FLOAT: return appendf(out, "Float%d", t.byte_width * 8);
    case RR__AT_FSB: return appendf(out, "FixedSizeBinary(%lld)", (long long)t.fixed);
    case RR__AT_UTF8: return appendf(out, "Utf8");
    case RR__AT_BINARY: return appendf(out, "Binary");
    case RR__AT_TIMESTAMP:
      return t.tz[0] ? appendf(out, "Timestamp(%s, \"%s\")", unit_name(t.unit), t.tz)
                     : appendf(out, "Timestamp(%s)", unit_name(t.unit));
    case RR__AT_DURATION: return appendf(out, "Duration(%s)", unit_name(t.unit));
    case RR__AT_DATE: return appendf(out, t.unit ? "Date64" : "Date32");
    case RR__AT_TIME: return appendf(out, "Time%d(%s)", t.byte_width * 8, unit_name(t.unit));
    default: break;
  }
  const char *open = t.id == RR__AT_LIST ? "List<" : t.id == RR__AT_FSL ? "FixedSizeList<"
                     : t.id == RR__AT_STRUCT ? "Struct<" : "DenseUnion<";
  RR_TRY(appendf(out, "%s", open));
  if (t.id == RR__AT_FSL) RR_TRY(appendf(out, "%lld, ", (long long)t.fixed));
  for (int64_t i = 0; i < s->n_children; i++) {
    const struct ArrowSchema *c = s->children[i];
    if (i) RR_TRY(appendf(out, ", "));
    if (t.id == RR__AT_DUNION && i < t.n_type_ids) RR_TRY(appendf(out, "%d ", t.type_ids[i]));
    RR_TRY(rr_buf_append(out, c->name ? c->name : "", c->name ? strlen(c->name) : 0));
    RR_TRY(appendf(out, ": "));
    RR_TRY(format_rec(c, out, depth + 1));
  }
  return appendf(out, ">");
}

int rr_arrow_schema_format(const struct ArrowSchema *s, rr_buf *out) {
  if (!s || !s->format) return RR_EINVAL;
  return format_rec(s, out, 0);
}
