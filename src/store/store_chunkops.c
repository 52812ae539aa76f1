/* Chunk operations the store needs: lookups, row selection, concatenation.
 * New arrays are built with the arrow layer's builders, so the results own
 * their memory (no reference to any IPC input). */
#include "store_internal.h"

int rr__chunk_find_component(const struct rr_chunk *c, const char *component) {
  for (size_t i = 0; i < c->n_components; i++)
    if (!strcmp(c->components[i].component, component)) return (int)i;
  return -1;
}

int rr__chunk_find_timeline(const struct rr_chunk *c, const char *timeline) {
  for (size_t i = 0; i < c->n_timelines; i++)
    if (!strcmp(c->timelines[i].name, timeline)) return (int)i;
  return -1;
}

bool rr__chunk_row_valid(const struct rr_chunk *c, int k, int64_t row) {
  const struct ArrowArray *a = &c->components[k].list;
  if (a->null_count == 0 || !a->buffers[0]) return true;
  int64_t j = row + a->offset;
  return (((const uint8_t *)a->buffers[0])[j >> 3] >> (j & 7)) & 1;
}

static int copy_meta(const struct rr_chunk *src, struct rr_chunk *out, int64_t n) {
  memset(out, 0, sizeof *out);
  out->id = rr__tuid_new();
  out->entity_path = rr__strdup(src->entity_path);
  out->num_rows = n;
  out->row_ids = rr__malloc((size_t)n * 16 + 1);
  out->timelines = rr__calloc(src->n_timelines + 1, sizeof *out->timelines);
  out->components = rr__calloc(src->n_components + 1, sizeof *out->components);
  if (!out->entity_path || !out->row_ids || !out->timelines || !out->components) return RR_ENOMEM;
  for (size_t t = 0; t < src->n_timelines; t++) {
    struct rr_chunk_timeline *tl = &out->timelines[t];
    tl->name = rr__strdup(src->timelines[t].name);
    tl->type = src->timelines[t].type;
    tl->times = rr__malloc((size_t)n * 8 + 1);
    out->n_timelines++;
    if (!tl->name || !tl->times) return RR_ENOMEM;
  }
  return RR_OK;
}

static int copy_comp_header(struct rr_chunk_component *dst, const struct rr_chunk_component *src) {
  dst->component = rr__strdup(src->component);
  dst->archetype = src->archetype ? rr__strdup(src->archetype) : NULL;
  dst->component_type = src->component_type ? rr__strdup(src->component_type) : NULL;
  if (!dst->component || (src->archetype && !dst->archetype) ||
      (src->component_type && !dst->component_type))
    return RR_ENOMEM;
  return rr_arrow_schema_copy(&dst->list_type, &src->list_type);
}

int rr__chunk_take(const struct rr_chunk *src, const int64_t *rows, int64_t n, struct rr_chunk *out,
                   rr_error *err) {
  int rc = copy_meta(src, out, n);
  for (int64_t i = 0; i < n && rc == RR_OK; i++) {
    memcpy(out->row_ids + 16 * i, src->row_ids + 16 * rows[i], 16);
    for (size_t t = 0; t < src->n_timelines; t++)
      out->timelines[t].times[i] = src->timelines[t].times[rows[i]];
  }
  for (size_t k = 0; k < src->n_components && rc == RR_OK; k++) {
    const struct rr_chunk_component *sc = &src->components[k];
    struct rr_chunk_component *dc = &out->components[k];
    out->n_components++;
    if ((rc = copy_comp_header(dc, sc)) < 0) break;
    rr_arrow_builder *b = NULL;
    if ((rc = rr_arrow_builder_new(&b, &sc->list_type)) < 0) break;
    for (int64_t i = 0; i < n && rc == RR_OK;) {
      int64_t j = i + 1;
      while (j < n && rows[j] == rows[j - 1] + 1) j++;
      rc = rr_arrow_builder_append_array(b, &sc->list, &sc->list_type, rows[i], j - i);
      i = j;
    }
    if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &dc->list);
    rr_arrow_builder_free(b);
  }
  if (rc < 0) {
    rr__chunk_clear(out);
    return rr__err(err, rc, "store: cannot select chunk rows: %s", rr_strerror(rc));
  }
  return RR_OK;
}

int rr__chunk_concat(struct rr_chunk *const *src, size_t n, struct rr_chunk *out, rr_error *err) {
  int64_t rows = 0;
  for (size_t i = 0; i < n; i++) rows += src[i]->num_rows;
  int rc = copy_meta(src[0], out, rows);
  /* timelines: same set, maybe another order */
  int64_t at = 0;
  for (size_t i = 0; i < n && rc == RR_OK; i++) {
    const struct rr_chunk *c = src[i];
    if (c->n_timelines != out->n_timelines) { rc = RR_EINVAL; break; }
    memcpy(out->row_ids + 16 * at, c->row_ids, (size_t)c->num_rows * 16);
    for (size_t t = 0; t < out->n_timelines; t++) {
      int j = rr__chunk_find_timeline(c, out->timelines[t].name);
      if (j < 0) { rc = RR_EINVAL; break; }
      memcpy(out->timelines[t].times + at, c->timelines[j].times, (size_t)c->num_rows * 8);
    }
    at += c->num_rows;
  }
  /* components: the union, nulls where a chunk lacks one */
  size_t cap = 0;
  for (size_t i = 0; i < n; i++) cap += src[i]->n_components;
  if (rc == RR_OK && cap > src[0]->n_components) {
    struct rr_chunk_component *more = rr__realloc(out->components, (cap + 1) * sizeof *more);
    if (!more) rc = RR_ENOMEM;
    else out->components = more;
  }
  for (size_t i = 0; i < n && rc == RR_OK; i++) {
    for (size_t k = 0; k < src[i]->n_components && rc == RR_OK; k++) {
      const struct rr_chunk_component *sc = &src[i]->components[k];
      if (rr__chunk_find_component(out, sc->component) >= 0) continue;
      struct rr_chunk_component *dc = &out->components[out->n_components++];
      memset(dc, 0, sizeof *dc);
      if ((rc = copy_comp_header(dc, sc)) < 0) break;
      rr_arrow_builder *b = NULL;
      if ((rc = rr_arrow_builder_new(&b, &sc->list_type)) < 0) break;
      for (size_t j = 0; j < n && rc == RR_OK; j++) {
        int kk = rr__chunk_find_component(src[j], sc->component);
        if (kk < 0) {
          rc = rr_arrow_builder_append_nulls(b, src[j]->num_rows);
        } else {
          const struct rr_chunk_component *x = &src[j]->components[kk];
          if (!rr_arrow_schema_equal(&x->list_type, &sc->list_type, false)) rc = RR_EINVAL;
          else rc = rr_arrow_builder_append_array(b, &x->list, &x->list_type, 0, src[j]->num_rows);
        }
      }
      if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &dc->list);
      rr_arrow_builder_free(b);
    }
  }
  if (rc == RR_OK) rc = rr__chunk_sort_by_row_id(out);
  if (rc < 0) {
    rr__chunk_clear(out);
    return rr__err(err, rc, "store: cannot concatenate chunks: %s", rr_strerror(rc));
  }
  return RR_OK;
}
