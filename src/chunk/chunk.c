/* Chunks and their Arrow record batch form (Sorbet 0.1.3).
 *
 * Column order is strict: RowId, then timelines sorted by name, then
 * components sorted by (archetype with "none" first, identifier, type). The
 * batch borrows the chunk's memory: its arrays have no-op releases for the
 * borrowed parts, so encoding copies nothing but the IPC output. */
#include <stdio.h>
#include <stdlib.h>

#include "rr_chunk.h"

void rr__chunk_clear(struct rr_chunk *c) {
  rr__free(c->entity_path);
  rr__free(c->row_ids);
  for (size_t i = 0; i < c->n_timelines; i++) {
    rr__free(c->timelines[i].name);
    rr__free(c->timelines[i].times);
  }
  rr__free(c->timelines);
  for (size_t i = 0; i < c->n_components; i++) {
    struct rr_chunk_component *k = &c->components[i];
    rr__free(k->component);
    rr__free(k->archetype);
    rr__free(k->component_type);
    if (k->list_type.release) k->list_type.release(&k->list_type);
    if (k->list.release) k->list.release(&k->list);
  }
  rr__free(c->components);
  memset(c, 0, sizeof *c);
}

bool rr__chunk_is_static(const struct rr_chunk *c) { return c->n_timelines == 0; }

size_t rr__chunk_nbytes(const struct rr_chunk *c) {
  size_t n = (size_t)c->num_rows * (16 + 8 * c->n_timelines);
  for (size_t i = 0; i < c->n_components; i++)
    n += rr_arrow_array_nbytes(&c->components[i].list, &c->components[i].list_type);
  return n;
}

static int row_cmp(const uint8_t *ids, int64_t a, int64_t b) {
  return memcmp(ids + 16 * a, ids + 16 * b, 16);
}

static _Thread_local const uint8_t *t_sort_ids;
static int perm_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  int c = row_cmp(t_sort_ids, x, y);
  return c ? c : (x < y ? -1 : x > y);
}

int rr__chunk_sort_by_row_id(struct rr_chunk *c) {
  int64_t n = c->num_rows;
  bool sorted = true;
  for (int64_t i = 1; i < n && sorted; i++) sorted = row_cmp(c->row_ids, i - 1, i) <= 0;
  if (sorted) return RR_OK;
  int64_t *perm = rr__malloc((size_t)n * sizeof *perm);
  uint8_t *ids = rr__malloc((size_t)n * 16);
  int64_t *times = rr__malloc((size_t)n * sizeof *times);
  int rc = (perm && ids && times) ? RR_OK : RR_ENOMEM;
  if (rc == RR_OK) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    t_sort_ids = c->row_ids;
    qsort(perm, (size_t)n, sizeof *perm, perm_cmp);
    for (int64_t i = 0; i < n; i++) memcpy(ids + 16 * i, c->row_ids + 16 * perm[i], 16);
    memcpy(c->row_ids, ids, (size_t)n * 16);
    for (size_t t = 0; t < c->n_timelines; t++) {
      for (int64_t i = 0; i < n; i++) times[i] = c->timelines[t].times[perm[i]];
      memcpy(c->timelines[t].times, times, (size_t)n * sizeof *times);
    }
    /* components: rebuild each list in the new row order */
    for (size_t k = 0; k < c->n_components && rc == RR_OK; k++) {
      struct rr_chunk_component *col = &c->components[k];
      rr_arrow_builder *b = NULL;
      rc = rr_arrow_builder_new(&b, &col->list_type);
      for (int64_t i = 0; i < n && rc == RR_OK; i++)
        rc = rr_arrow_builder_append_array(b, &col->list, &col->list_type, perm[i], 1);
      struct ArrowArray sorted_list;
      if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &sorted_list);
      if (rc == RR_OK) {
        col->list.release(&col->list);
        rr_arrow_array_move(&sorted_list, &col->list);
      }
      rr_arrow_builder_free(b);
    }
  }
  rr__free(perm);
  rr__free(ids);
  rr__free(times);
  return rc;
}

/* ---- record batch ------------------------------------------------------------ */

static void noop_release_array(struct ArrowArray *a) { a->release = NULL; }

/* A borrowed view of `src` that the parent can release without freeing. */
static void borrow_array(struct ArrowArray *dst, const struct ArrowArray *src) {
  *dst = *src;
  dst->release = noop_release_array;
}

static int cmp_str_nullfirst(const char *a, const char *b) {
  if (!a || !b) return (a != NULL) - (b != NULL);
  return strcmp(a, b);
}

static _Thread_local const struct rr_chunk *t_chunk;
static int comp_order(const void *pa, const void *pb) {
  const struct rr_chunk_component *a = &t_chunk->components[*(const size_t *)pa];
  const struct rr_chunk_component *b = &t_chunk->components[*(const size_t *)pb];
  int c = cmp_str_nullfirst(a->archetype, b->archetype);
  if (!c) c = strcmp(a->component, b->component);
  if (!c) c = cmp_str_nullfirst(a->component_type, b->component_type);
  return c;
}
static int tl_order(const void *pa, const void *pb) {
  const struct rr_chunk_timeline *a = &t_chunk->timelines[*(const size_t *)pa];
  const struct rr_chunk_timeline *b = &t_chunk->timelines[*(const size_t *)pb];
  int c = strcmp(a->name, b->name);
  return c ? c : a->type - b->type;
}

static rr_str S(const char *s) { rr_str r = {s, s ? strlen(s) : 0}; return r; }

/* Keeps the borrowed buffer pointer arrays alive as long as the batch. */
struct batch_private {
  const void **bufs; /* 2 per row-id/timeline column */
};

static void release_batch(struct ArrowArray *a) {
  for (int64_t i = 0; i < a->n_children; i++)
    if (a->children[i]->release) a->children[i]->release(a->children[i]);
  struct batch_private *p = a->private_data;
  rr__free(p->bufs);
  rr__free(p);
  rr__free(a->children[0]);
  rr__free(a->children);
  a->release = NULL;
}

int rr__chunk_to_batch(const struct rr_chunk *c, struct ArrowSchema *schema,
                       struct ArrowArray *batch, rr_error *err) {
  size_t ncols = 1 + c->n_timelines + c->n_components;
  size_t *tl_idx = rr__malloc((c->n_timelines + 1) * sizeof *tl_idx);
  size_t *co_idx = rr__malloc((c->n_components + 1) * sizeof *co_idx);
  struct batch_private *priv = rr__calloc(1, sizeof *priv);
  struct ArrowArray **kids = rr__calloc(ncols, sizeof *kids);
  struct ArrowArray *kidmem = rr__calloc(ncols, sizeof *kidmem);
  if (priv) priv->bufs = rr__calloc(2 * (1 + c->n_timelines), sizeof *priv->bufs);
  int rc = (tl_idx && co_idx && priv && priv->bufs && kids && kidmem) ? RR_OK : RR_ENOMEM;
  bool schema_ok = false;
  if (rc < 0) goto fail;
  for (size_t i = 0; i < c->n_timelines; i++) tl_idx[i] = i;
  for (size_t i = 0; i < c->n_components; i++) co_idx[i] = i;
  t_chunk = c;
  qsort(tl_idx, c->n_timelines, sizeof *tl_idx, tl_order);
  qsort(co_idx, c->n_components, sizeof *co_idx, comp_order);

  /* schema */
  if ((rc = rr_arrow_schema_init(schema, "+s", "", 0, (int64_t)ncols)) < 0) goto fail;
  schema_ok = true;
  char idbuf[40];
  rr__tuid_format(c->id, idbuf + 6);
  memcpy(idbuf, "chunk_", 6);
  rr_arrow_kv smeta[3] = {{S("rerun:entity_path"), S(c->entity_path)},
                          {S("rerun:id"), S(idbuf)},
                          {S("sorbet:version"), S("0.1.3")}};
  if ((rc = rr_arrow_schema_set_metadata(schema, smeta, 3)) < 0) goto fail;

  bool rows_sorted = true;
  for (int64_t i = 1; i < c->num_rows && rows_sorted; i++)
    rows_sorted = row_cmp(c->row_ids, i - 1, i) <= 0;
  struct ArrowSchema *f = schema->children[0];
  if ((rc = rr_arrow_schema_init(f, "w:16", "rerun.controls.RowId", 0, 0)) < 0) goto fail;
  rr_arrow_kv rmeta[4] = {{S("ARROW:extension:metadata"), S("{\"namespace\":\"row\"}")},
                          {S("ARROW:extension:name"), S("rerun.datatypes.TUID")},
                          {S("rerun:kind"), S("control")},
                          {S("rerun:is_sorted"), S("true")}};
  if ((rc = rr_arrow_schema_set_metadata(f, rmeta, rows_sorted ? 4 : 3)) < 0) goto fail;

  for (size_t t = 0; t < c->n_timelines; t++) {
    const struct rr_chunk_timeline *tl = &c->timelines[tl_idx[t]];
    const char *fmt = tl->type == RR_TL_DURATION ? "tDn" : tl->type == RR_TL_TIMESTAMP ? "tsn:" : "l";
    f = schema->children[1 + t];
    if ((rc = rr_arrow_schema_init(f, fmt, tl->name, ARROW_FLAG_NULLABLE, 0)) < 0) goto fail;
    bool sorted = true;
    for (int64_t i = 1; i < c->num_rows && sorted; i++) sorted = tl->times[i - 1] <= tl->times[i];
    rr_arrow_kv tmeta[3] = {{S("rerun:index_name"), S(tl->name)},
                            {S("rerun:kind"), S("index")},
                            {S("rerun:is_sorted"), S("true")}};
    if ((rc = rr_arrow_schema_set_metadata(f, tmeta, sorted ? 3 : 2)) < 0) goto fail;
  }
  for (size_t k = 0; k < c->n_components; k++) {
    const struct rr_chunk_component *col = &c->components[co_idx[k]];
    f = schema->children[1 + c->n_timelines + k];
    if ((rc = rr_arrow_schema_copy(f, &col->list_type)) < 0) goto fail;
    /* rename: the field is named by its component identifier */
    struct ArrowSchema renamed;
    if ((rc = rr_arrow_schema_init(&renamed, "+l", col->component, ARROW_FLAG_NULLABLE, 1)) < 0) goto fail;
    rr_arrow_schema_move(f->children[0], renamed.children[0]);
    f->release(f);
    rr_arrow_schema_move(&renamed, f);
    rr_arrow_kv cmeta[4];
    size_t nm = 0;
    if (col->archetype) cmeta[nm++] = (rr_arrow_kv){S("rerun:archetype"), S(col->archetype)};
    cmeta[nm++] = (rr_arrow_kv){S("rerun:component"), S(col->component)};
    if (col->component_type) cmeta[nm++] = (rr_arrow_kv){S("rerun:component_type"), S(col->component_type)};
    cmeta[nm++] = (rr_arrow_kv){S("rerun:kind"), S("data")};
    if ((rc = rr_arrow_schema_set_metadata(f, cmeta, nm)) < 0) goto fail;
  }

  /* arrays: row ids and timelines are borrowed buffers */
  for (size_t i = 0; i < ncols; i++) kids[i] = &kidmem[i];
  memset(batch, 0, sizeof *batch);
  batch->length = c->num_rows;
  batch->n_buffers = 1;
  static const void *no_buffers[1] = {NULL};
  batch->buffers = no_buffers;
  batch->n_children = (int64_t)ncols;
  batch->children = kids;
  batch->private_data = priv;
  batch->release = release_batch;
  struct ArrowArray *a = kids[0];
  a->length = c->num_rows;
  a->n_buffers = 2;
  priv->bufs[1] = c->row_ids;
  a->buffers = priv->bufs;
  a->release = noop_release_array;
  for (size_t t = 0; t < c->n_timelines; t++) {
    a = kids[1 + t];
    a->length = c->num_rows;
    a->n_buffers = 2;
    priv->bufs[2 * (1 + t) + 1] = c->timelines[tl_idx[t]].times;
    a->buffers = &priv->bufs[2 * (1 + t)];
    a->release = noop_release_array;
  }
  for (size_t k = 0; k < c->n_components; k++)
    borrow_array(kids[1 + c->n_timelines + k], &c->components[co_idx[k]].list);
  rr__free(tl_idx);
  rr__free(co_idx);
  return RR_OK;

fail:
  if (schema_ok) schema->release(schema);
  if (priv) rr__free(priv->bufs);
  rr__free(priv);
  rr__free(kids);
  rr__free(kidmem);
  rr__free(tl_idx);
  rr__free(co_idx);
  return rc == RR_ENOMEM ? rr__err(err, rc, "out of memory building the chunk's record batch") : rc;
}

int rr__chunk_to_ipc(const struct rr_chunk *c, rr_buf *out, rr_error *err) {
  struct ArrowSchema schema;
  struct ArrowArray batch;
  RR_TRY(rr__chunk_to_batch(c, &schema, &batch, err));
  int rc = rr_arrow_ipc_write(out, &schema, &batch, 64, err);
  batch.release(&batch);
  schema.release(&schema);
  return rc;
}
