/* latest-at, range and dataframe queries over the store. See rerun/query.h
 * for the semantics and docs/internals/store.md for the indexes used. */
#include <stdlib.h>

#include "arrow/rr_arrow.h"
#include "rerun/query.h"
#include "store/store_internal.h"

int rr__array_hold(struct ArrowArray *a, rr__schunk *c);

static void noop_release(struct ArrowArray *a) { a->release = NULL; }

static int64_t count_nulls(const struct ArrowArray *a, int64_t off, int64_t n) {
  if (a->null_count == 0 || a->n_buffers < 1 || !a->buffers[0]) return 0;
  const uint8_t *bits = a->buffers[0];
  int64_t z = 0;
  for (int64_t i = off; i < off + n; i++) z += !((bits[i >> 3] >> (i & 7)) & 1);
  return z;
}

/* A view of elements [off, off + n) of `src` that keeps chunk `c` alive. */
static int view_of(const struct ArrowArray *src, int64_t off, int64_t n, rr__schunk *c, struct ArrowArray *out) {
  *out = *src;
  out->offset = src->offset + off;
  out->length = n;
  out->null_count = count_nulls(src, src->offset + off, n);
  out->release = noop_release;
  out->private_data = NULL;
  return rr__array_hold(out, c);
}

/* Allocation-free views for latest-at: the struct is a shallow copy whose
 * private_data is the chunk (its children stay the chunk's). */
static void chunk_view_release(struct ArrowArray *a) {
  rr__schunk_unref(a->private_data);
  a->release = NULL;
}
static void chunk_type_release(struct ArrowSchema *s) {
  rr__schunk_unref(s->private_data);
  s->release = NULL;
}

/* ---- positions in (time, RowId) order -------------------------------------- */

static inline int64_t row_at(const rr__schunk *c, int t, int64_t pos) {
  return c->tl[t].sorted ? pos : (int64_t)c->tl[t].perm[pos];
}
static inline int64_t time_at(const rr__schunk *c, int t, int64_t pos) {
  return c->c.timelines[t].times[row_at(c, t, pos)];
}
/* First position with time > x (strict: first with time >= x). The fences
 * give the stretch of RR__FENCES-th of the chunk holding the answer, which
 * is then bisected. */
static inline int64_t bound(const rr__schunk *c, int t, int64_t x, bool strict) {
  int64_t n = c->c.num_rows;
  if (n <= 0) return 0;
  const int64_t *f = c->tl[t].fence;
  int j = 0; /* fences before the answer: fence < x (strict) or <= x */
  for (int i = 0; i < RR__FENCES; i++) j += strict ? f[i] < x : f[i] <= x;
  if (j == 0) return 0;
  int64_t lo = (int64_t)(j - 1) * n / RR__FENCES + 1;
  int64_t hi = j < RR__FENCES ? (int64_t)j * n / RR__FENCES : n;
  const int64_t *tm = c->c.timelines[t].times;
  if (c->tl[t].sorted) {
    /* answer in [lo, hi]: bisect on length */
    int64_t base = lo, len = hi - lo;
    while (len > 0) {
      int64_t half = len / 2;
      bool go = strict ? tm[base + half] < x : tm[base + half] <= x;
      base = go ? base + half + 1 : base;
      len = go ? len - half - 1 : half;
    }
    return base;
  }
  const uint32_t *perm = c->tl[t].perm;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int64_t v = tm[perm[mid]];
    if (strict ? v < x : v <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
static int64_t upper_bound(const rr__schunk *c, int t, int64_t x) { return bound(c, t, x, false); }
static int64_t lower_bound(const rr__schunk *c, int t, int64_t x) { return bound(c, t, x, true); }

typedef struct hit {
  rr__schunk *c;
  int k;       /* component index in the chunk */
  int64_t row;
  int64_t time;
} hit;

static bool hit_newer(const hit *a, const hit *b) { /* a > b in (time, RowId) */
  if (!b->c) return true;
  if (a->time != b->time) return a->time > b->time;
  return memcmp(a->c->c.row_ids + 16 * a->row, b->c->c.row_ids + 16 * b->row, 16) > 0;
}

/* latest-at under the read lock; is_static set when the hit is static. */
static hit latest_at_locked(rr__entity *e, const char *component, const char *timeline, int64_t t,
                            bool *is_static) {
  hit best = {NULL, -1, -1, INT64_MIN};
  *is_static = false;
  for (size_t i = 0; i < e->n_chunks; i++) {
    rr__schunk *c = e->chunks[i];
    if (!c->is_static) continue;
    int k = rr__chunk_find_component(&c->c, component);
    if (k < 0) continue;
    for (int64_t r = c->c.num_rows - 1; r >= 0; r--) {
      if (!rr__chunk_row_valid(&c->c, k, r)) continue;
      hit h = {c, k, r, INT64_MIN};
      if (!best.c || memcmp(c->c.row_ids + 16 * r, best.c->c.row_ids + 16 * best.row, 16) > 0) best = h;
      break;
    }
  }
  if (best.c) {
    *is_static = true;
    return best;
  }
  if (!timeline) return best;
  for (size_t i = 0; i < e->n_chunks; i++) {
    rr__schunk *c = e->chunks[i];
    if (c->is_static || !c->c.num_rows) continue;
    int tl = rr__chunk_find_timeline(&c->c, timeline);
    if (tl < 0 || c->tl[tl].min > t) continue;
    if (best.c && c->tl[tl].max < best.time) continue;
    int k = rr__chunk_find_component(&c->c, component);
    if (k < 0) continue;
    int64_t pos = c->tl[tl].max <= t ? c->c.num_rows : upper_bound(c, tl, t);
    while (pos > 0) {
      int64_t r = row_at(c, tl, pos - 1);
      if (rr__chunk_row_valid(&c->c, k, r)) {
        hit h = {c, k, r, c->c.timelines[tl].times[r]};
        if (hit_newer(&h, &best)) best = h;
        break;
      }
      pos--;
    }
  }
  return best;
}

int rr_query_latest_at(rr_store *s, const char *entity, const char *component, const char *timeline,
                       int64_t time, rr_latest_at *out, rr_error *err) {
  if (!out) return rr__err(err, RR_EINVAL, "latest-at: NULL result");
  memset(out, 0, sizeof *out);
  if (!s || !entity || !component) return rr__err(err, RR_EINVAL, "latest-at: NULL argument");
  rr_buf path = RR_BUF_INIT;
  bool warn;
  pthread_rwlock_rdlock(&s->hub->lock);
  /* a canonical path is found as it is; anything else is canonicalised */
  rr__entity *e = entity[0] == '/' ? rr__store_entity(s, entity) : NULL;
  if (!e) {
    if (rr__path_canonical(entity, strlen(entity), false, &path, &warn, err) < 0) {
      pthread_rwlock_unlock(&s->hub->lock);
      return RR_EPATH;
    }
    e = rr__store_entity(s, (const char *)path.data);
    rr_buf_free(&path);
  }
  int rc = RR_OK;
  if (e) {
    bool st;
    hit h = latest_at_locked(e, component, timeline, time, &st);
    if (h.c) {
      const struct rr_chunk_component *col = &h.c->c.components[h.k];
      const int32_t *offs = col->list.buffers[1];
      int64_t a = offs[col->list.offset + h.row], b = offs[col->list.offset + h.row + 1];
      const struct ArrowArray *src = col->list.children[0];
      out->values = *src;
      out->values.offset = src->offset + a;
      out->values.length = b - a;
      out->values.null_count = count_nulls(src, src->offset + a, b - a);
      out->values.private_data = h.c;
      out->values.release = chunk_view_release;
      out->type = *col->list_type.children[0];
      out->type.private_data = h.c;
      out->type.release = chunk_type_release;
      atomic_fetch_add_explicit(&h.c->refs, 2, memory_order_relaxed); /* values and type */
      if (rc == RR_OK) {
        out->found = true;
        out->is_static = st;
        out->time = h.time;
        memcpy(out->row_id, h.c->c.row_ids + 16 * h.row, 16);
      } else {
        rc = rr__err(err, rc, "out of memory");
      }
    }
  }
  pthread_rwlock_unlock(&s->hub->lock);
  return rc;
}

void rr_latest_at_release(rr_latest_at *r) {
  if (!r) return;
  if (r->values.release) r->values.release(&r->values);
  if (r->type.release) r->type.release(&r->type);
  r->found = false;
}

/* ---- range ----------------------------------------------------------------------- */

struct range_part {
  rr__schunk *c;
  int tl, k;
  int64_t from, to;  /* positions in (time, RowId) order */
};

struct rr_range_query {
  char *component, *timeline;
  int tl_type;
  bool is_static;
  struct range_part *parts;
  size_t n, at;
};

static int part_cmp(const void *a, const void *b) {
  const struct range_part *x = a, *y = b;
  int64_t tx = x->c->is_static ? INT64_MIN : time_at(x->c, x->tl, x->from);
  int64_t ty = y->c->is_static ? INT64_MIN : time_at(y->c, y->tl, y->from);
  if (tx != ty) return tx < ty ? -1 : 1;
  return memcmp(x->c->c.row_ids, y->c->c.row_ids, 16);
}

void rr_query_range_free(rr_range_query *q) {
  if (!q) return;
  for (size_t i = 0; i < q->n; i++) rr__schunk_unref(q->parts[i].c);
  rr__free(q->parts);
  rr__free(q->component);
  rr__free(q->timeline);
  rr__free(q);
}

bool rr_query_range_is_static(const rr_range_query *q) { return q && q->is_static; }

int rr_query_range_new(rr_range_query **out, rr_store *s, const char *entity, const char *component,
                       const char *timeline, int64_t t0, int64_t t1, rr_error *err) {
  if (!out || !s || !entity || !component || !timeline) return rr__err(err, RR_EINVAL, "range: NULL argument");
  *out = NULL;
  rr_buf path = RR_BUF_INIT;
  bool warn;
  if (rr__path_canonical(entity, strlen(entity), false, &path, &warn, err) < 0) return RR_EPATH;
  rr_range_query *q = rr__calloc(1, sizeof *q);
  if (!q || !(q->component = rr__strdup(component)) || !(q->timeline = rr__strdup(timeline))) {
    rr_buf_free(&path);
    rr_query_range_free(q);
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  q->tl_type = RR_TL_SEQUENCE;
  int rc = RR_OK;
  pthread_rwlock_rdlock(&s->hub->lock);
  for (size_t i = 0; i < s->n_tls; i++)
    if (!strcmp(s->tls[i].name, timeline)) q->tl_type = s->tls[i].type;
  rr__entity *e = rr__store_entity(s, (const char *)path.data);
  rr_buf_free(&path);
  if (e) {
    bool st;
    hit h = latest_at_locked(e, component, NULL, 0, &st);
    q->parts = rr__calloc(e->n_chunks + 1, sizeof *q->parts);
    if (!q->parts) rc = RR_ENOMEM;
    if (rc == RR_OK && h.c) {
      q->is_static = true;
      rr__schunk_ref(h.c);
      q->parts[q->n++] = (struct range_part){h.c, -1, h.k, h.row, h.row + 1};
    }
    for (size_t i = 0; i < e->n_chunks && rc == RR_OK && !q->is_static; i++) {
      rr__schunk *c = e->chunks[i];
      if (c->is_static || !c->c.num_rows) continue;
      int tl = rr__chunk_find_timeline(&c->c, timeline);
      if (tl < 0 || c->tl[tl].min > t1 || c->tl[tl].max < t0) continue;
      int k = rr__chunk_find_component(&c->c, component);
      if (k < 0) continue;
      int64_t from = c->tl[tl].min >= t0 ? 0 : lower_bound(c, tl, t0);
      int64_t to = c->tl[tl].max <= t1 ? c->c.num_rows : upper_bound(c, tl, t1);
      if (from >= to) continue;
      rr__schunk_ref(c);
      q->parts[q->n++] = (struct range_part){c, tl, k, from, to};
    }
  }
  pthread_rwlock_unlock(&s->hub->lock);
  if (rc < 0) {
    rr_query_range_free(q);
    return rr__err(err, rc, "out of memory");
  }
  if (q->n) qsort(q->parts, q->n, sizeof *q->parts, part_cmp);
  *out = q;
  return RR_OK;
}

struct range_batch {
  struct ArrowArray kids[3];
  struct ArrowArray *ptrs[3];
  const void *bufs[4];
  int64_t *times;       /* owned when gathered */
  uint8_t *ids;         /* owned when gathered */
  rr__schunk *c;
};

static void range_batch_release(struct ArrowArray *a) {
  struct range_batch *p = a->private_data;
  if (p->kids[2].release) p->kids[2].release(&p->kids[2]);
  rr__free(p->times);
  rr__free(p->ids);
  rr__schunk_unref(p->c);
  rr__free(p);
  a->release = NULL;
}

static const void *g_no_buffers[1] = {NULL};

int rr_query_range_next(rr_range_query *q, struct ArrowSchema *schema, struct ArrowArray *batch,
                        rr_error *err) {
  if (!q || !schema || !batch) return rr__err(err, RR_EINVAL, "range: NULL argument");
  if (q->at >= q->n) return RR_EEOF;
  struct range_part *pt = &q->parts[q->at++];
  rr__schunk *c = pt->c;
  const struct rr_chunk_component *col = &c->c.components[pt->k];
  /* which rows: a contiguous run without nulls is a pure view */
  int64_t n = pt->to - pt->from;
  bool contiguous = pt->tl < 0 || c->tl[pt->tl].sorted;
  bool dense = contiguous && count_nulls(&col->list, col->list.offset + pt->from, n) == 0;
  struct range_batch *p = rr__calloc(1, sizeof *p);
  if (!p) return rr__err(err, RR_ENOMEM, "out of memory");
  p->c = c;
  rr__schunk_ref(c);
  int rc = RR_OK;
  int64_t first_row = contiguous ? pt->from : 0;
  const int64_t *times = pt->tl >= 0 ? c->c.timelines[pt->tl].times + first_row : NULL;
  const uint8_t *ids = c->c.row_ids + 16 * first_row;
  if (dense) {
    if (!times) {
      p->times = rr__malloc(8);
      if (!p->times) rc = RR_ENOMEM;
      else p->times[0] = INT64_MIN;
      times = p->times;
    }
    if (rc == RR_OK) rc = view_of(&col->list, first_row, n, c, &p->kids[2]);
  } else {
    /* gather the non-null rows in (time, RowId) order (copies) */
    int64_t *rows = rr__malloc((size_t)n * sizeof *rows + 1);
    p->times = rr__malloc((size_t)n * 8 + 1);
    p->ids = rr__malloc((size_t)n * 16 + 1);
    if (!rows || !p->times || !p->ids) rc = RR_ENOMEM;
    int64_t m = 0;
    for (int64_t i = 0; i < n && rc == RR_OK; i++) {
      int64_t r = row_at(c, pt->tl, pt->from + i);
      if (!rr__chunk_row_valid(&c->c, pt->k, r)) continue;
      rows[m] = r;
      p->times[m] = c->c.timelines[pt->tl].times[r];
      memcpy(p->ids + 16 * m, c->c.row_ids + 16 * r, 16);
      m++;
    }
    rr_arrow_builder *b = NULL;
    if (rc == RR_OK) rc = rr_arrow_builder_new(&b, &col->list_type);
    for (int64_t i = 0; i < m && rc == RR_OK; i++)
      rc = rr_arrow_builder_append_array(b, &col->list, &col->list_type, rows[i], 1);
    if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &p->kids[2]);
    rr_arrow_builder_free(b);
    rr__free(rows);
    n = m;
    times = p->times;
    ids = p->ids;
  }
  if (rc < 0) {
    rr__free(p->times);
    rr__free(p->ids);
    rr__schunk_unref(c);
    rr__free(p);
    return rr__err(err, rc, "out of memory");
  }
  /* row ids and times: views (or the gathered copies) */
  p->bufs[0] = NULL;
  p->bufs[1] = ids;
  p->bufs[2] = NULL;
  p->bufs[3] = times;
  for (int i = 0; i < 2; i++) {
    struct ArrowArray *a = &p->kids[i];
    memset(a, 0, sizeof *a);
    a->length = n;
    a->n_buffers = 2;
    a->buffers = &p->bufs[2 * i];
    a->release = noop_release;
  }
  for (int i = 0; i < 3; i++) p->ptrs[i] = &p->kids[i];
  memset(batch, 0, sizeof *batch);
  batch->length = n;
  batch->n_buffers = 1;
  batch->buffers = g_no_buffers;
  batch->n_children = 3;
  batch->children = p->ptrs;
  batch->private_data = p;
  batch->release = range_batch_release;

  const char *fmt = q->tl_type == RR_TL_DURATION ? "tDn" : q->tl_type == RR_TL_TIMESTAMP ? "tsn:" : "l";
  rc = rr_arrow_schema_init(schema, "+s", "", 0, 3);
  if (rc == RR_OK) rc = rr_arrow_schema_init(schema->children[0], "w:16", "rerun.controls.RowId", 0, 0);
  if (rc == RR_OK) rc = rr_arrow_schema_init(schema->children[1], fmt, q->timeline, 0, 0);
  if (rc == RR_OK) rc = rr_arrow_schema_init(schema->children[2], "+l", q->component, ARROW_FLAG_NULLABLE, 1);
  if (rc == RR_OK) rc = rr_arrow_schema_copy(schema->children[2]->children[0], col->list_type.children[0]);
  if (rc < 0) {
    if (schema->release) schema->release(schema);
    batch->release(batch);
    return rr__err(err, rc, "out of memory");
  }
  return RR_OK;
}
