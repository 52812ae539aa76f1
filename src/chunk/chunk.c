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
  if (c->packed) {
    for (size_t i = 0; i < c->n_components; i++) {
      struct rr_chunk_component *k = &c->components[i];
      if (k->list_type.release) k->list_type.release(&k->list_type);
      if (k->list.release) k->list.release(&k->list);
    }
    memset(c, 0, sizeof *c);
    return;
  }
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

/* The heap bytes of an n-byte allocation, as glibc's malloc lays them out
 * (16-byte granules with an 8-byte header, at least 32). An estimate for
 * other allocators, of the right size. */
static size_t heap(size_t n) {
  size_t g = (n + 8 + 15) / 16 * 16;
  return g < 32 ? 32 : g;
}
static size_t str_heap(const char *s) { return s ? heap(strlen(s) + 1) : 0; }

static size_t schema_heap(const struct ArrowSchema *s, int depth) {
  if (!s || depth > 64) return 0;
  size_t nc = (size_t)(s->n_children > 0 ? s->n_children : 0);
  size_t n = heap(24 + nc * (sizeof *s + sizeof s) + (s->format ? strlen(s->format) + 1 : 0) +
                  (s->name ? strlen(s->name) + 1 : 0));
  if (s->metadata) n += heap(rr_arrow_metadata_size(s->metadata));
  for (size_t i = 0; i < nc; i++) n += schema_heap(s->children[i], depth + 1);
  return n;
}

static size_t array_nodes(const struct ArrowArray *a, int depth) {
  if (!a || depth > 64) return 0;
  size_t n = 1;
  for (int64_t i = 0; i < a->n_children; i++) n += array_nodes(a->children[i], depth + 1);
  return n;
}

size_t rr__chunk_heap_bytes(const struct rr_chunk *c) {
  size_t n = heap(sizeof *c) + str_heap(c->entity_path) + heap((size_t)c->num_rows * 16) +
             heap(c->n_timelines * sizeof *c->timelines) + heap(c->n_components * sizeof *c->components);
  for (size_t i = 0; i < c->n_timelines; i++)
    n += str_heap(c->timelines[i].name) + heap((size_t)c->num_rows * 8);
  for (size_t i = 0; i < c->n_components; i++) {
    const struct rr_chunk_component *k = &c->components[i];
    n += str_heap(k->component) + str_heap(k->archetype) + str_heap(k->component_type);
    n += schema_heap(&k->list_type, 0);
    /* per array node: its one allocation and the heap headers of its buffers */
    n += rr_arrow_array_nbytes(&k->list, &k->list_type) + array_nodes(&k->list, 0) * heap(40 + 3 * 16 + 88);
  }
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

/* The batch's columns in Rerun's order: tl[] and co[] index the chunk's
 * timelines and components. Small chunks keep the indices on the stack. */
struct col_order {
  size_t *tl, *co;
  size_t small[16];
};

static int col_order_init(struct col_order *o, const struct rr_chunk *c) {
  size_t n = c->n_timelines + c->n_components;
  o->tl = n <= 16 ? o->small : rr__malloc(n * sizeof *o->tl);
  if (!o->tl) return RR_ENOMEM;
  o->co = o->tl + c->n_timelines;
  for (size_t i = 0; i < c->n_timelines; i++) o->tl[i] = i;
  for (size_t i = 0; i < c->n_components; i++) o->co[i] = i;
  t_chunk = c;
  if (c->n_timelines > 1) qsort(o->tl, c->n_timelines, sizeof *o->tl, tl_order);
  if (c->n_components > 1) qsort(o->co, c->n_components, sizeof *o->co, comp_order);
  return RR_OK;
}

static void col_order_free(struct col_order *o) {
  if (o->tl != o->small) rr__free(o->tl);
}

static bool rows_sorted(const struct rr_chunk *c) {
  for (int64_t i = 1; i < c->num_rows; i++)
    if (row_cmp(c->row_ids, i - 1, i) > 0) return false;
  return true;
}

static bool times_sorted(const struct rr_chunk *c, const struct rr_chunk_timeline *tl) {
  for (int64_t i = 1; i < c->num_rows; i++)
    if (tl->times[i - 1] > tl->times[i]) return false;
  return true;
}

static int key_str(rr_buf *k, const char *s) {
  uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
  RR_TRY(rr_buf_append(k, &n, 4));
  return s ? rr_buf_append(k, s, n) : RR_OK;
}

/* Everything rr__chunk_schema reads, in the chunk's own order. */
int rr__chunk_schema_key(const struct rr_chunk *c, rr_buf *key) {
  uint64_t hdr[3] = {c->n_timelines, c->n_components, rows_sorted(c)};
  RR_TRY(rr_buf_append(key, hdr, sizeof hdr));
  RR_TRY(key_str(key, c->entity_path));
  for (size_t t = 0; t < c->n_timelines; t++) {
    const struct rr_chunk_timeline *tl = &c->timelines[t];
    int32_t v[2] = {tl->type, times_sorted(c, tl)};
    RR_TRY(rr_buf_append(key, v, sizeof v));
    RR_TRY(key_str(key, tl->name));
  }
  for (size_t k = 0; k < c->n_components; k++) {
    const struct rr_chunk_component *col = &c->components[k];
    RR_TRY(key_str(key, col->component));
    RR_TRY(key_str(key, col->archetype));
    RR_TRY(key_str(key, col->component_type));
    if (col->list_type.n_children != 1) return RR_EINVAL;
    RR_TRY(rr_arrow_schema_key(key, col->list_type.children[0]));
  }
  return RR_OK;
}

static int chunk_schema(const struct rr_chunk *c, const struct col_order *o, struct ArrowSchema *schema) {
  size_t ncols = 1 + c->n_timelines + c->n_components;
  RR_TRY(rr_arrow_schema_init(schema, "+s", "", 0, (int64_t)ncols));
  int rc;
  char idbuf[40];
  rr__tuid_format(c->id, idbuf + 6);
  memcpy(idbuf, "chunk_", 6);
  rr_arrow_kv smeta[3] = {{S("rerun:entity_path"), S(c->entity_path)},
                          {S("rerun:id"), S(idbuf)},
                          {S("sorbet:version"), S("0.1.3")}};
  if ((rc = rr_arrow_schema_set_metadata(schema, smeta, 3)) < 0) goto fail;

  struct ArrowSchema *f = schema->children[0];
  if ((rc = rr_arrow_schema_init(f, "w:16", "rerun.controls.RowId", 0, 0)) < 0) goto fail;
  rr_arrow_kv rmeta[4] = {{S("ARROW:extension:metadata"), S("{\"namespace\":\"row\"}")},
                          {S("ARROW:extension:name"), S("rerun.datatypes.TUID")},
                          {S("rerun:kind"), S("control")},
                          {S("rerun:is_sorted"), S("true")}};
  if ((rc = rr_arrow_schema_set_metadata(f, rmeta, rows_sorted(c) ? 4 : 3)) < 0) goto fail;

  for (size_t t = 0; t < c->n_timelines; t++) {
    const struct rr_chunk_timeline *tl = &c->timelines[o->tl[t]];
    const char *fmt = tl->type == RR_TL_DURATION ? "tDn" : tl->type == RR_TL_TIMESTAMP ? "tsn:" : "l";
    f = schema->children[1 + t];
    if ((rc = rr_arrow_schema_init(f, fmt, tl->name, ARROW_FLAG_NULLABLE, 0)) < 0) goto fail;
    rr_arrow_kv tmeta[3] = {{S("rerun:index_name"), S(tl->name)},
                            {S("rerun:kind"), S("index")},
                            {S("rerun:is_sorted"), S("true")}};
    if ((rc = rr_arrow_schema_set_metadata(f, tmeta, times_sorted(c, tl) ? 3 : 2)) < 0) goto fail;
  }
  for (size_t k = 0; k < c->n_components; k++) {
    const struct rr_chunk_component *col = &c->components[o->co[k]];
    f = schema->children[1 + c->n_timelines + k];
    /* the field is named by its component identifier */
    if ((rc = rr_arrow_schema_init(f, "+l", col->component, ARROW_FLAG_NULLABLE, 1)) < 0) goto fail;
    if ((rc = rr_arrow_schema_copy(f->children[0], col->list_type.children[0])) < 0) goto fail;
    rr_arrow_kv cmeta[4];
    size_t nm = 0;
    if (col->archetype) cmeta[nm++] = (rr_arrow_kv){S("rerun:archetype"), S(col->archetype)};
    cmeta[nm++] = (rr_arrow_kv){S("rerun:component"), S(col->component)};
    if (col->component_type) cmeta[nm++] = (rr_arrow_kv){S("rerun:component_type"), S(col->component_type)};
    cmeta[nm++] = (rr_arrow_kv){S("rerun:kind"), S("data")};
    if ((rc = rr_arrow_schema_set_metadata(f, cmeta, nm)) < 0) goto fail;
  }
  return RR_OK;
fail:
  schema->release(schema);
  return rc;
}

/* One allocation holds what the batch adds to the chunk's arrays: the
 * child pointers, the child arrays, and the buffer pointer pairs of the
 * row-id and timeline columns. */
struct batch_mem {
  struct ArrowArray **kids;
  struct ArrowArray *kidmem;
  const void **bufs;
};

static void release_batch(struct ArrowArray *a) {
  for (int64_t i = 0; i < a->n_children; i++)
    if (a->children[i]->release) a->children[i]->release(a->children[i]);
  rr__free(a->private_data);
  a->release = NULL;
}

static int chunk_batch(const struct rr_chunk *c, const struct col_order *o, struct ArrowArray *batch) {
  size_t ncols = 1 + c->n_timelines + c->n_components;
  size_t nbufs = 2 * (1 + c->n_timelines);
  struct batch_mem *m = rr__calloc(1, sizeof *m + ncols * (sizeof *m->kids + sizeof *m->kidmem) +
                                          nbufs * sizeof *m->bufs);
  if (!m) return RR_ENOMEM;
  m->kidmem = (struct ArrowArray *)(m + 1); /* ArrowArray first: its alignment suffices for the rest */
  m->kids = (struct ArrowArray **)(m->kidmem + ncols);
  m->bufs = (const void **)(m->kids + ncols);
  for (size_t i = 0; i < ncols; i++) m->kids[i] = &m->kidmem[i];
  memset(batch, 0, sizeof *batch);
  batch->length = c->num_rows;
  batch->n_buffers = 1;
  static const void *no_buffers[1] = {NULL};
  batch->buffers = no_buffers;
  batch->n_children = (int64_t)ncols;
  batch->children = m->kids;
  batch->private_data = m;
  batch->release = release_batch;
  /* row ids and timelines are borrowed buffers */
  for (size_t t = 0; t <= c->n_timelines; t++) {
    struct ArrowArray *a = m->kids[t];
    a->length = c->num_rows;
    a->n_buffers = 2;
    m->bufs[2 * t + 1] = t ? (const void *)c->timelines[o->tl[t - 1]].times : (const void *)c->row_ids;
    a->buffers = &m->bufs[2 * t];
    a->release = noop_release_array;
  }
  for (size_t k = 0; k < c->n_components; k++)
    borrow_array(m->kids[1 + c->n_timelines + k], &c->components[o->co[k]].list);
  return RR_OK;
}

int rr__chunk_schema(const struct rr_chunk *c, struct ArrowSchema *schema, rr_error *err) {
  struct col_order o;
  int rc = col_order_init(&o, c);
  if (rc == RR_OK) rc = chunk_schema(c, &o, schema);
  col_order_free(&o);
  return rc == RR_ENOMEM ? rr__err(err, rc, "out of memory building the chunk's schema") : rc;
}

int rr__chunk_batch(const struct rr_chunk *c, struct ArrowArray *batch, rr_error *err) {
  struct col_order o;
  int rc = col_order_init(&o, c);
  if (rc == RR_OK) rc = chunk_batch(c, &o, batch);
  col_order_free(&o);
  return rc == RR_ENOMEM ? rr__err(err, rc, "out of memory building the chunk's record batch") : rc;
}

int rr__chunk_to_batch(const struct rr_chunk *c, struct ArrowSchema *schema,
                       struct ArrowArray *batch, rr_error *err) {
  struct col_order o;
  int rc = col_order_init(&o, c);
  if (rc == RR_OK && (rc = chunk_schema(c, &o, schema)) == RR_OK && (rc = chunk_batch(c, &o, batch)) < 0)
    schema->release(schema);
  col_order_free(&o);
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
