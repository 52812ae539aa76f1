/* ArrowArray helpers: owned array nodes, shared input owners, validation. */
#include <stdatomic.h>
#include <stdio.h>

#include "arrow/arrow_internal.h"

/* ---- shared owner ---------------------------------------------------------- */

struct rr__arrow_owner {
  atomic_long refs;
  void (*free_fn)(void *);
  void *ptr;
};

rr__arrow_owner *rr__arrow_owner_new(void (*free_fn)(void *), void *ptr) {
  rr__arrow_owner *o = rr__malloc(sizeof *o);
  if (!o) return NULL;
  atomic_init(&o->refs, 1);
  o->free_fn = free_fn;
  o->ptr = ptr;
  return o;
}

void rr__arrow_owner_ref(rr__arrow_owner *o) { atomic_fetch_add(&o->refs, 1); }

void rr__arrow_owner_unref(rr__arrow_owner *o) {
  if (!o) return;
  if (atomic_fetch_sub(&o->refs, 1) == 1) {
    if (o->free_fn) o->free_fn(o->ptr);
    rr__free(o);
  }
}

/* ---- owned array nodes --------------------------------------------------- */

/* One allocation per node: this header, then the child arrays, the child
 * pointers, the buffer pointers and the owned buffers. */
typedef struct array_priv {
  const void **bufs;
  void **owned;
  struct ArrowArray **ptrs;
  struct ArrowArray *kids;
  rr__arrow_owner *owner;
} array_priv;

static void array_release(struct ArrowArray *a) {
  if (!a || !a->release) return;
  array_priv *p = a->private_data;
  for (int64_t i = 0; i < a->n_children; i++) {
    struct ArrowArray *c = a->children[i];
    if (c && c->release) c->release(c);
  }
  if (a->dictionary && a->dictionary->release) a->dictionary->release(a->dictionary);
  if (p) {
    for (int64_t i = 0; i < a->n_buffers; i++) rr__free(p->owned[i]);
    rr__arrow_owner_unref(p->owner);
    rr__free(p);
  }
  a->release = NULL;
}

int rr_arrow_array_init(struct ArrowArray *out, int64_t length, int64_t null_count,
                        int64_t n_buffers, int64_t n_children) {
  memset(out, 0, sizeof *out);
  if (length < 0 || n_buffers < 0 || n_buffers > 3 || n_children < 0 || n_children > (1 << 20))
    return RR_EINVAL;
  size_t nb = n_buffers ? (size_t)n_buffers : 1, nc = (size_t)n_children;
  array_priv *p = rr__calloc(1, sizeof *p + nc * (sizeof *p->kids + sizeof *p->ptrs) + nb * (sizeof *p->bufs + sizeof *p->owned));
  if (!p) return RR_ENOMEM;
  p->kids = (struct ArrowArray *)(p + 1); /* pointer-aligned all the way */
  p->ptrs = (struct ArrowArray **)(p->kids + nc);
  p->bufs = (const void **)(p->ptrs + nc);
  p->owned = (void **)(p->bufs + nb);
  for (size_t i = 0; i < nc; i++) p->ptrs[i] = &p->kids[i];
  out->length = length;
  out->null_count = null_count;
  out->n_buffers = n_buffers;
  out->n_children = n_children;
  out->buffers = p->bufs;
  out->children = n_children ? p->ptrs : NULL;
  out->private_data = p;
  out->release = array_release;
  return RR_OK;
}

void rr_arrow_array_set_buffer(struct ArrowArray *a, int64_t i, void *owned) {
  array_priv *p = a->private_data;
  rr__free(p->owned[i]);
  p->owned[i] = owned;
  p->bufs[i] = owned;
}

void *rr_arrow_array_take_buffer(struct ArrowArray *a, const void *mem) {
  if (!a || !a->release || a->release != array_release || !mem) return NULL;
  array_priv *p = a->private_data;
  for (int64_t i = 0; i < a->n_buffers; i++)
    if (p->owned[i] == mem) {
      p->owned[i] = NULL; /* a->buffers[i] still points at it until released */
      return (void *)mem;
    }
  for (int64_t i = 0; i < a->n_children; i++) {
    void *r = rr_arrow_array_take_buffer(a->children[i], mem);
    if (r) return r;
  }
  return NULL;
}

void rr__arrow_array_set_view(struct ArrowArray *a, int64_t i, const void *ptr) {
  array_priv *p = a->private_data;
  rr__free(p->owned[i]);
  p->owned[i] = NULL;
  p->bufs[i] = ptr;
}

void rr__arrow_array_attach_owner(struct ArrowArray *a, rr__arrow_owner *o) {
  array_priv *p = a->private_data;
  rr__arrow_owner_ref(o);
  rr__arrow_owner_unref(p->owner);
  p->owner = o;
}

static int view_leaf(struct ArrowArray *out, const rr__atype *t, const void *data, int64_t n) {
  if (t->byte_width <= 0 || t->id == RR__AT_BOOL) return RR_EUNSUPPORTED;
  RR_TRY(rr_arrow_array_init(out, n, 0, 2, 0));
  rr__arrow_array_set_view(out, 1, data);
  return RR_OK;
}

int rr_arrow_array_view_values(struct ArrowArray *out, const struct ArrowSchema *type, const void *data, int64_t n) {
  memset(out, 0, sizeof *out);
  if (!type || (!data && n) || n < 0) return RR_EINVAL;
  rr__atype t;
  RR_TRY(rr__arrow_parse_format(type->format, &t, NULL));
  if (t.id != RR__AT_FSL) return type->n_children ? RR_EUNSUPPORTED : view_leaf(out, &t, data, n);
  rr__atype c;
  if (type->n_children != 1 || rr__arrow_parse_format(type->children[0]->format, &c, NULL) != RR_OK ||
      type->children[0]->n_children || t.fixed <= 0 || n > INT64_MAX / t.fixed)
    return RR_EUNSUPPORTED;
  RR_TRY(rr_arrow_array_init(out, n, 0, 1, 1));
  int rc = view_leaf(out->children[0], &c, data, n * t.fixed);
  if (rc != RR_OK) out->release(out);
  return rc;
}

void rr_arrow_array_move(struct ArrowArray *src, struct ArrowArray *dst) {
  *dst = *src;
  src->release = NULL;
}

int64_t rr__bits_count_zeros(const uint8_t *bits, int64_t start, int64_t n) {
  int64_t ones = 0, i = start, end = start + n;
  while (i < end && (i & 7)) ones += rr__bit_get(bits, i++);
  while (end - i >= 64) {
    uint64_t w;
    memcpy(&w, bits + (i >> 3), 8);
    ones += __builtin_popcountll(w);
    i += 64;
  }
  while (end - i >= 8) { ones += __builtin_popcount(bits[i >> 3]); i += 8; }
  while (i < end) ones += rr__bit_get(bits, i++);
  return n - ones;
}

/* ---- validation ---------------------------------------------------------- */

typedef struct vctx {
  rr_error *err;
  char path[160];
} vctx;

static int vfail(vctx *v, int code, const char *what, long long a, long long b) {
  return rr__err(v->err, code, "arrow: array '%s': %s (%lld, %lld)", v->path, what, a, b);
}

static int validate_rec(vctx *v, const struct ArrowArray *a, const struct ArrowSchema *s, int depth);

static int validate_offsets(vctx *v, const struct ArrowArray *a, int64_t *first, int64_t *last) {
  const int32_t *o = a->buffers[1];
  if (!o) {
    if (a->length == 0) { *first = *last = 0; return RR_OK; }
    return vfail(v, RR_ECORRUPT, "missing offsets buffer", a->length, 0);
  }
  const int32_t *p = o + a->offset;
  if (p[0] < 0) return vfail(v, RR_ECORRUPT, "negative first offset", p[0], 0);
  for (int64_t i = 0; i < a->length; i++)
    if (p[i + 1] < p[i]) return vfail(v, RR_ECORRUPT, "offsets decrease at slot", (long long)i, p[i + 1]);
  *first = p[0];
  *last = p[a->length];
  return RR_OK;
}

static int validate_children(vctx *v, const struct ArrowArray *a, const struct ArrowSchema *s, int depth) {
  size_t plen = strlen(v->path);
  for (int64_t i = 0; i < a->n_children; i++) {
    const struct ArrowArray *c = a->children[i];
    if (!c || !c->release || !s->children[i])
      return vfail(v, RR_EINVAL, "child array missing or released", (long long)i, 0);
    snprintf(v->path + plen, sizeof v->path - plen, "%s%s", plen ? "." : "",
             s->children[i]->name ? s->children[i]->name : "");
    RR_TRY(validate_rec(v, c, s->children[i], depth + 1));
    v->path[plen] = 0;
  }
  return RR_OK;
}

static int validate_rec(vctx *v, const struct ArrowArray *a, const struct ArrowSchema *s, int depth) {
  if (depth > 64) return vfail(v, RR_EINVAL, "nesting too deep", depth, 64);
  rr__atype t;
  RR_TRY(rr__arrow_parse_format(s->format, &t, v->err));
  if (a->length < 0 || a->offset < 0 || a->length > INT64_MAX - a->offset)
    return vfail(v, RR_ECORRUPT, "bad length/offset", a->length, a->offset);
  if (a->null_count < -1 || a->null_count > a->length)
    return vfail(v, RR_ECORRUPT, "bad null count", a->null_count, a->length);
  if (a->n_buffers != rr__arrow_n_buffers(&t))
    return vfail(v, RR_ECORRUPT, "wrong number of buffers", a->n_buffers, rr__arrow_n_buffers(&t));
  if (a->n_children != s->n_children)
    return vfail(v, RR_ECORRUPT, "wrong number of children", a->n_children, s->n_children);
  int64_t want_children = t.id == RR__AT_LIST || t.id == RR__AT_FSL ? 1 : -1;
  if (t.id != RR__AT_LIST && t.id != RR__AT_FSL && t.id != RR__AT_STRUCT && t.id != RR__AT_DUNION)
    want_children = 0;
  if (want_children >= 0 && a->n_children != want_children)
    return vfail(v, RR_ECORRUPT, "wrong number of children for type", a->n_children, want_children);
  if (t.id == RR__AT_DUNION && t.n_type_ids != a->n_children)
    return vfail(v, RR_ECORRUPT, "union type ids do not match children", t.n_type_ids, a->n_children);
  int64_t end = a->offset + a->length;
  if (t.id == RR__AT_NA) {
    if (a->null_count >= 0 && a->null_count != a->length)
      return vfail(v, RR_ECORRUPT, "null array with null_count != length", a->null_count, a->length);
    return RR_OK;
  }
  if (t.id != RR__AT_DUNION && a->null_count > 0 && !a->buffers[0])
    return vfail(v, RR_ECORRUPT, "nulls but no validity bitmap", a->null_count, 0);
  if (t.id != RR__AT_DUNION && t.id != RR__AT_STRUCT && t.id != RR__AT_FSL && t.id != RR__AT_LIST &&
      t.id != RR__AT_UTF8 && t.id != RR__AT_BINARY && a->length > 0 && !a->buffers[1])
    return vfail(v, RR_ECORRUPT, "missing values buffer", a->length, 0);
  switch (t.id) {
    case RR__AT_UTF8:
    case RR__AT_BINARY: {
      int64_t first, last;
      RR_TRY(validate_offsets(v, a, &first, &last));
      if (last > first && !a->buffers[2]) return vfail(v, RR_ECORRUPT, "missing data buffer", last, 0);
      if (t.id == RR__AT_UTF8 && last > first) {
        const int32_t *o = (const int32_t *)a->buffers[1] + a->offset;
        const char *d = a->buffers[2];
        for (int64_t i = 0; i < a->length; i++)
          if (!rr__utf8_valid(d + o[i], (size_t)(o[i + 1] - o[i])))
            return rr__err(v->err, RR_EUTF8, "arrow: array '%s': invalid UTF-8 in slot %lld", v->path,
                           (long long)i);
      }
      return RR_OK;
    }
    case RR__AT_LIST: {
      int64_t first, last;
      RR_TRY(validate_offsets(v, a, &first, &last));
      if (last > a->children[0]->length)
        return vfail(v, RR_ECORRUPT, "list offsets past child length", last, a->children[0]->length);
      return validate_children(v, a, s, depth);
    }
    case RR__AT_FSL:
      if (t.fixed && end > a->children[0]->length / t.fixed)
        return vfail(v, RR_ECORRUPT, "fixed-size list child too short", a->children[0]->length, end);
      return validate_children(v, a, s, depth);
    case RR__AT_STRUCT:
      for (int64_t i = 0; i < a->n_children; i++)
        if (a->children[i] && a->children[i]->length < end)
          return vfail(v, RR_ECORRUPT, "struct child shorter than struct", a->children[i]->length, end);
      return validate_children(v, a, s, depth);
    case RR__AT_DUNION: {
      if (a->null_count > 0) return vfail(v, RR_ECORRUPT, "union with a null count", a->null_count, 0);
      RR_TRY(validate_children(v, a, s, depth));
      if (a->length == 0) return RR_OK;
      const int8_t *ids = a->buffers[0];
      const int32_t *offs = a->buffers[1];
      if (!ids || !offs) return vfail(v, RR_ECORRUPT, "missing union buffers", 0, 0);
      int8_t map[128];
      memset(map, -1, sizeof map);
      for (int k = 0; k < t.n_type_ids; k++) map[t.type_ids[k]] = (int8_t)k;
      for (int64_t i = a->offset; i < end; i++) {
        int8_t id = ids[i];
        if (id < 0 || map[id] < 0) return vfail(v, RR_ECORRUPT, "bad union type id at slot", i, id);
        int64_t clen = a->children[map[id]]->length;
        if (offs[i] < 0 || offs[i] >= clen)
          return vfail(v, RR_ECORRUPT, "union offset out of range at slot", i, offs[i]);
      }
      return RR_OK;
    }
    default:
      return RR_OK;
  }
}

int rr_arrow_array_validate(const struct ArrowArray *a, const struct ArrowSchema *s, rr_error *err) {
  if (!a || !s || !a->release || !s->release)
    return rr__err(err, RR_EINVAL, "arrow: validate: released or NULL array/schema");
  vctx v;
  v.err = err;
  v.path[0] = 0;
  snprintf(v.path, sizeof v.path, "%s", s->name ? s->name : "");
  return validate_rec(&v, a, s, 0);
}

/* ---- sizes --------------------------------------------------------------- */

static size_t nbytes_rec(const struct ArrowArray *a, const struct ArrowSchema *s, int depth) {
  rr__atype t;
  if (depth > 64 || rr__arrow_parse_format(s->format, &t, NULL) != RR_OK) return 0;
  size_t n = (size_t)(a->offset + a->length), total = 0;
  if (t.id != RR__AT_NA && t.id != RR__AT_DUNION && a->n_buffers > 0 && a->buffers[0])
    total += (n + 7) / 8;
  switch (t.id) {
    case RR__AT_BOOL: total += (n + 7) / 8; break;
    case RR__AT_UTF8:
    case RR__AT_BINARY:
      total += (n + 1) * 4;
      if (a->buffers[1]) total += (size_t)((const int32_t *)a->buffers[1])[n];
      break;
    case RR__AT_LIST: total += (n + 1) * 4; break;
    case RR__AT_DUNION: total += n * 5; break;
    case RR__AT_FSB: total += n * (size_t)t.fixed; break;
    default:
      if (t.byte_width) total += n * (size_t)t.byte_width;
      break;
  }
  for (int64_t i = 0; i < a->n_children && i < s->n_children; i++)
    total += nbytes_rec(a->children[i], s->children[i], depth + 1);
  return total;
}

size_t rr_arrow_array_nbytes(const struct ArrowArray *a, const struct ArrowSchema *s) {
  if (!a || !s || !a->release) return 0;
  return nbytes_rec(a, s, 0);
}
