/* Dataframe queries: one timeline as the index, (entity, component) columns,
 * a time range, optional latest-at fill; streamed as record batches.
 *
 * At creation, under the read lock, each column collects its events (rows
 * holding the component, in (time, RowId) order) within the range, plus its
 * latest-at value before the range (for fill) and its static value; the
 * chunks referenced are held. Batches are then built without the lock. */
#include <stdlib.h>

#include "arrow/rr_arrow.h"
#include "rerun/query.h"
#include "store/store_internal.h"

typedef struct ev {
  int64_t time;
  rr__schunk *c;
  int k;
  int64_t row;
} ev;

typedef struct dcol {
  char *name;
  struct ArrowSchema list_type;
  ev *evs;
  size_t n, cap, at;
  ev before;    /* latest-at before the range (c == NULL: none) */
  ev stat;      /* static value (c == NULL: none) */
  ev cur;       /* fill state */
} dcol;

struct rr_dataframe_query {
  char *index;
  int tl_type;
  dcol *cols;
  size_t n_cols;
  int64_t *times; /* distinct index times */
  size_t n_times, at;
  int64_t batch_rows;
  bool fill;
};

static int ev_cmp(const void *a, const void *b) {
  const ev *x = a, *y = b;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return memcmp(x->c->c.row_ids + 16 * x->row, y->c->c.row_ids + 16 * y->row, 16);
}

static int i64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static bool comp_selected(const rr_dataframe_options *o, const char *comp) {
  if (!o->n_components) return true;
  const char *colon = strrchr(comp, ':');
  for (size_t i = 0; i < o->n_components; i++) {
    if (!strcmp(o->components[i], comp)) return true;
    if (colon && !strcmp(o->components[i], colon + 1)) return true;
  }
  return false;
}

static bool entity_selected(const rr_dataframe_options *o, const char *path) {
  if (!o->n_entities) return true;
  for (size_t i = 0; i < o->n_entities; i++)
    if (rr_entity_path_match(o->entities[i], path)) return true;
  return false;
}

static void ev_hold(ev *e) { if (e->c) rr__schunk_ref(e->c); }

void rr_query_dataframe_free(rr_dataframe_query *q) {
  if (!q) return;
  for (size_t i = 0; i < q->n_cols; i++) {
    dcol *d = &q->cols[i];
    for (size_t j = 0; j < d->n; j++) rr__schunk_unref(d->evs[j].c);
    rr__schunk_unref(d->before.c);
    rr__schunk_unref(d->stat.c);
    rr__free(d->evs);
    rr__free(d->name);
    if (d->list_type.release) d->list_type.release(&d->list_type);
  }
  rr__free(q->cols);
  rr__free(q->times);
  rr__free(q->index);
  rr__free(q);
}

static int push_ev(dcol *d, ev e) {
  if (d->n == d->cap) {
    size_t nc = d->cap ? 2 * d->cap : 64;
    ev *nv = rr__realloc(d->evs, nc * sizeof *nv);
    if (!nv) return RR_ENOMEM;
    d->evs = nv;
    d->cap = nc;
  }
  ev_hold(&e);
  d->evs[d->n++] = e;
  return RR_OK;
}

static int entity_ptr_cmp(const void *a, const void *b) {
  return strcmp((*(rr__entity *const *)a)->path, (*(rr__entity *const *)b)->path);
}

/* Fills column d from entity e under the lock. */
static int collect(dcol *d, rr__entity *e, const char *comp, const rr_dataframe_options *o) {
  for (size_t i = 0; i < e->n_chunks; i++) {
    rr__schunk *c = e->chunks[i];
    int k = rr__chunk_find_component(&c->c, comp);
    if (k < 0) continue;
    if (c->is_static) {
      for (int64_t r = c->c.num_rows - 1; r >= 0; r--) {
        if (!rr__chunk_row_valid(&c->c, k, r)) continue;
        if (!d->stat.c || memcmp(c->c.row_ids + 16 * r, d->stat.c->c.row_ids + 16 * d->stat.row, 16) > 0)
          d->stat = (ev){INT64_MIN, c, k, r};
        break;
      }
      continue;
    }
    int t = rr__chunk_find_timeline(&c->c, o->index);
    if (t < 0) continue;
    const int64_t *tm = c->c.timelines[t].times;
    for (int64_t r = 0; r < c->c.num_rows; r++) {
      if (!rr__chunk_row_valid(&c->c, k, r)) continue;
      ev x = {tm[r], c, k, r};
      if (tm[r] < o->time_min) {
        if (!d->before.c || ev_cmp(&x, &d->before) > 0) d->before = x;
      } else if (tm[r] <= o->time_max) {
        RR_TRY(push_ev(d, x));
      }
    }
  }
  ev_hold(&d->stat);
  ev_hold(&d->before);
  if (d->n) qsort(d->evs, d->n, sizeof *d->evs, ev_cmp);
  return RR_OK;
}

int rr_query_dataframe_new(rr_dataframe_query **out, rr_store *s, const rr_dataframe_options *o, rr_error *err) {
  if (!out || !s || !o || !o->index) return rr__err(err, RR_EINVAL, "dataframe: NULL argument or no index timeline");
  *out = NULL;
  rr_dataframe_query *q = rr__calloc(1, sizeof *q);
  if (!q || !(q->index = rr__strdup(o->index))) {
    rr__free(q);
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  q->batch_rows = o->batch_rows > 0 ? o->batch_rows : 4096;
  q->fill = o->fill_latest_at;
  q->tl_type = 0;
  int rc = RR_OK;
  pthread_rwlock_rdlock(&s->hub->lock);
  for (size_t i = 0; i < s->n_tls; i++)
    if (!strcmp(s->tls[i].name, o->index)) q->tl_type = s->tls[i].type;
  if (!q->tl_type) {
    pthread_rwlock_unlock(&s->hub->lock);
    rr_query_dataframe_free(q);
    return rr__err(err, RR_ENOTFOUND, "dataframe: no timeline named '%s'", o->index);
  }
  rr__entity **ents = rr__malloc((s->entities.len + 1) * sizeof *ents);
  size_t ne = 0, ncols = 0;
  if (!ents) rc = RR_ENOMEM;
  for (size_t i = 0; rc == RR_OK && i < s->entities.cap; i++) {
    if (!s->entities.slots[i].key) continue;
    rr__entity *e = s->entities.slots[i].value;
    if (!entity_selected(o, e->path)) continue;
    ents[ne++] = e;
    ncols += e->n_comps;
  }
  if (rc == RR_OK) {
    qsort(ents, ne, sizeof *ents, entity_ptr_cmp);
    q->cols = rr__calloc(ncols + 1, sizeof *q->cols);
    if (!q->cols) rc = RR_ENOMEM;
  }
  for (size_t i = 0; rc == RR_OK && i < ne; i++) {
    rr__entity *e = ents[i];
    for (size_t j = 0; rc == RR_OK && j < e->n_comps; j++) {
      const rr__comp_info *ci = &e->comps[j];
      if (!comp_selected(o, ci->component) || !strcmp(ci->component, "Clear:is_recursive")) continue;
      dcol *d = &q->cols[q->n_cols++];
      size_t nl = strlen(e->path) + strlen(ci->component) + 2;
      d->name = rr__malloc(nl);
      if (!d->name) { rc = RR_ENOMEM; break; }
      snprintf(d->name, nl, "%s:%s", e->path, ci->component);
      if ((rc = rr_arrow_schema_copy(&d->list_type, &ci->list_type)) < 0) break;
      rc = collect(d, e, ci->component, o);
    }
  }
  pthread_rwlock_unlock(&s->hub->lock);
  rr__free(ents);
  /* the distinct index times */
  size_t total = 0;
  for (size_t i = 0; i < q->n_cols; i++) total += q->cols[i].n;
  if (rc == RR_OK && !(q->times = rr__malloc((total + 1) * sizeof *q->times))) rc = RR_ENOMEM;
  if (rc < 0) {
    rr_query_dataframe_free(q);
    return rr__err(err, rc, "dataframe: %s", rr_strerror(rc));
  }
  for (size_t i = 0; i < q->n_cols; i++)
    for (size_t j = 0; j < q->cols[i].n; j++) q->times[q->n_times++] = q->cols[i].evs[j].time;
  if (q->n_times) qsort(q->times, q->n_times, sizeof *q->times, i64_cmp);
  size_t w = 0;
  for (size_t i = 0; i < q->n_times; i++)
    if (!w || q->times[w - 1] != q->times[i]) q->times[w++] = q->times[i];
  q->n_times = w;
  for (size_t i = 0; i < q->n_cols; i++) q->cols[i].cur = q->cols[i].before;
  *out = q;
  return RR_OK;
}

static const char *index_format(int type) { return type == RR_TL_DURATION ? "tDn" : type == RR_TL_TIMESTAMP ? "tsn:" : "l"; }

int rr_query_dataframe_schema(rr_dataframe_query *q, struct ArrowSchema *out) {
  if (!q || !out) return RR_EINVAL;
  int rc = rr_arrow_schema_init(out, "+s", "", 0, (int64_t)(1 + q->n_cols));
  if (rc < 0) return rc;
  rc = rr_arrow_schema_init(out->children[0], index_format(q->tl_type), q->index, 0, 0);
  for (size_t i = 0; i < q->n_cols && rc == RR_OK; i++) {
    struct ArrowSchema *f = out->children[1 + i];
    rc = rr_arrow_schema_init(f, "+l", q->cols[i].name, ARROW_FLAG_NULLABLE, 1);
    if (rc == RR_OK) rc = rr_arrow_schema_copy(f->children[0], q->cols[i].list_type.children[0]);
  }
  if (rc < 0) out->release(out);
  return rc;
}

int rr_query_dataframe_next(rr_dataframe_query *q, struct ArrowSchema *schema, struct ArrowArray *batch,
                            rr_error *err) {
  if (!q || !schema || !batch) return rr__err(err, RR_EINVAL, "dataframe: NULL argument");
  if (q->at >= q->n_times) return RR_EEOF;
  size_t from = q->at, to = from + (size_t)q->batch_rows;
  if (to > q->n_times) to = q->n_times;
  int64_t n = (int64_t)(to - from);
  int rc = rr_query_dataframe_schema(q, schema);
  if (rc < 0) return rr__err(err, rc, "out of memory");
  if ((rc = rr_arrow_array_init(batch, n, 0, 1, (int64_t)(1 + q->n_cols))) < 0) {
    schema->release(schema);
    return rr__err(err, rc, "out of memory");
  }
  struct ArrowArray *ix = batch->children[0];
  int64_t *tv = rr__malloc((size_t)n * 8);
  if (!tv || (rc = rr_arrow_array_init(ix, n, 0, 2, 0)) < 0) {
    rr__free(tv);
    rc = RR_ENOMEM;
    goto fail;
  }
  memcpy(tv, q->times + from, (size_t)n * 8);
  rr_arrow_array_set_buffer(ix, 1, tv);
  for (size_t ci = 0; ci < q->n_cols && rc == RR_OK; ci++) {
    dcol *d = &q->cols[ci];
    rr_arrow_builder *b = NULL;
    if ((rc = rr_arrow_builder_new(&b, &d->list_type)) < 0) break;
    for (size_t r = from; r < to && rc == RR_OK; r++) {
      int64_t t = q->times[r];
      const ev *cell = NULL;
      while (d->at < d->n && d->evs[d->at].time <= t) {
        if (d->evs[d->at].time == t) cell = &d->evs[d->at];
        d->cur = d->evs[d->at];
        d->at++;
      }
      if (!cell && d->stat.c) cell = &d->stat;
      if (!cell && q->fill && d->cur.c) cell = &d->cur;
      if (d->stat.c) cell = &d->stat; /* static shadows temporal */
      if (cell) {
        const struct rr_chunk_component *col = &cell->c->c.components[cell->k];
        rc = rr_arrow_builder_append_array(b, &col->list, &col->list_type, cell->row, 1);
      } else {
        rc = rr_arrow_builder_append_nulls(b, 1);
      }
    }
    if (rc == RR_OK) rc = rr_arrow_builder_finish(b, batch->children[1 + ci]);
    rr_arrow_builder_free(b);
  }
  if (rc < 0) goto fail;
  q->at = to;
  return RR_OK;
fail:
  batch->release(batch);
  schema->release(schema);
  return rr__err(err, rc, "dataframe: %s", rr_strerror(rc));
}
