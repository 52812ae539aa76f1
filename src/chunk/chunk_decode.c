/* Record batch -> chunk: the reverse of rr__chunk_to_batch.
 *
 * Validates the Sorbet schema (spec/rrd-format.md §5): one RowId column
 * (FixedSizeBinary(16), no nulls), index columns Int64 / Duration(ns) /
 * Timestamp(ns, any tz) without nulls and without i64::MIN, List component
 * columns, `rerun:id` and `rerun:entity_path` in the schema metadata.
 * Column order is enforced for sorbet:version 0.1.3 (and newer); older or
 * missing versions take the legacy path of §5.9: legacy kinds (row_id, time,
 * component), legacy keys (rerun.id, rerun:archetype_name +
 * rerun:archetype_field_name), indicator columns dropped, non-List component
 * columns wrapped one value per row. Row ids and times are copied; component
 * columns are moved out of the batch without copying their buffers. */
#include <stdio.h>

#include "base/rr_blocks.h"
#include "rr_chunk.h"

static bool meta_get(const char *md, const char *key, rr_str *v) {
  return md && rr_arrow_metadata_get(md, key, v) == RR_OK;
}

static bool str_eq(rr_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static char *dup_str(rr_str s) { return rr__strndup(s.ptr ? s.ptr : "", s.len); }

enum { COL_ROWID, COL_INDEX, COL_DATA, COL_DROP };

/* Version "a.b.c" compared with 0.1.3: <0 older, 0 equal, >0 newer. */
static int cmp_sorbet_version(rr_str v) {
  unsigned a = 0, b = 0, c = 0;
  char tmp[32];
  size_t n = v.len < sizeof tmp - 1 ? v.len : sizeof tmp - 1;
  memcpy(tmp, v.ptr, n);
  tmp[n] = 0;
  if (sscanf(tmp, "%u.%u.%u", &a, &b, &c) < 1) return -1;
  if (a != 0) return a > 0 ? 1 : -1;
  if (b != 1) return b > 1 ? 1 : -1;
  return c == 3 ? 0 : (c > 3 ? 1 : -1);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* Wraps a non-list column as List<item: T>, one value per row; the row is
 * null where the value is. Takes `values` (moved). */
static int wrap_in_list(struct ArrowArray *values, const struct ArrowSchema *vtype,
                        struct ArrowSchema *list_type, struct ArrowArray *list, rr_error *err) {
  int64_t n = values->length;
  int rc = rr_arrow_schema_init(list_type, "+l", "", ARROW_FLAG_NULLABLE, 1);
  if (rc < 0) return rr__err(err, rc, "out of memory");
  if ((rc = rr_arrow_schema_copy(list_type->children[0], vtype)) < 0) goto fail;
  /* rename the child to "item" and make it nullable */
  struct ArrowSchema item;
  if ((rc = rr_arrow_schema_init(&item, vtype->format, "item", vtype->flags | ARROW_FLAG_NULLABLE,
                                 vtype->n_children)) < 0) goto fail;
  for (int64_t i = 0; i < vtype->n_children; i++) {
    if ((rc = rr_arrow_schema_copy(item.children[i], vtype->children[i])) < 0) {
      item.release(&item);
      goto fail;
    }
  }
  list_type->children[0]->release(list_type->children[0]);
  rr_arrow_schema_move(&item, list_type->children[0]);

  if ((rc = rr_arrow_array_init(list, n, values->null_count, 2, 1)) < 0) goto fail;
  int32_t *offs = rr__malloc((size_t)(n + 1) * sizeof *offs);
  uint8_t *valid = NULL;
  if (!offs) { rc = RR_ENOMEM; goto fail_list; }
  for (int64_t i = 0; i <= n; i++) offs[i] = (int32_t)i;
  rr_arrow_array_set_buffer(list, 1, offs);
  if (values->null_count != 0 && values->n_buffers > 0 && values->buffers[0]) {
    valid = rr__calloc((size_t)(n + 7) / 8 + 1, 1);
    if (!valid) { rc = RR_ENOMEM; goto fail_list; }
    const uint8_t *src = values->buffers[0];
    int64_t nulls = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t j = i + values->offset;
      if (src[j >> 3] >> (j & 7) & 1) valid[i >> 3] |= (uint8_t)(1u << (i & 7));
      else nulls++;
    }
    list->null_count = nulls;
    rr_arrow_array_set_buffer(list, 0, valid);
  } else {
    list->null_count = 0;
  }
  rr_arrow_array_move(values, list->children[0]); /* the slot is a zeroed child */
  return RR_OK;
fail_list:
  list->release(list);
fail:
  list_type->release(list_type);
  return rr__err(err, rc, "out of memory wrapping a component column as a list");
}

int rr__chunk_from_batch(const struct ArrowSchema *schema, struct ArrowArray *batch,
                         struct rr_chunk *out, rr_error *err) {
  memset(out, 0, sizeof *out);
  if (!schema || !batch || !schema->release || !batch->release)
    return rr__err(err, RR_EINVAL, "chunk: released or NULL schema/batch");
  if (strcmp(schema->format, "+s") != 0)
    return rr__err(err, RR_ECORRUPT, "chunk: record batch schema is not a struct (%s)", schema->format);
  if (schema->n_children != batch->n_children || batch->length < 0)
    return rr__err(err, RR_ECORRUPT, "chunk: schema has %lld columns, batch %lld",
                   (long long)schema->n_children, (long long)batch->n_children);
  const char *md = schema->metadata;
  rr_str v;
  bool legacy = true;
  if (meta_get(md, "sorbet:version", &v)) legacy = cmp_sorbet_version(v) < 0;

  /* chunk id */
  if (!meta_get(md, "rerun:id", &v) && !meta_get(md, "rerun.id", &v))
    return rr__err(err, RR_ECORRUPT, "chunk: missing chunk id (schema metadata rerun:id)");
  {
    const char *p = v.ptr;
    size_t n = v.len;
    const char *us = memchr(p, '_', n);
    if (us) {
      size_t pl = (size_t)(us - p);
      if (pl != 5 || memcmp(p, "chunk", 5) != 0)
        return rr__err(err, RR_ECORRUPT, "chunk: chunk id '%.*s' has a wrong prefix", (int)(n > 60 ? 60 : n), p);
      p = us + 1;
      n -= pl + 1;
    }
    if (n != 32 || rr__tuid_parse(p, n, &out->id) < 0)
      return rr__err(err, RR_ECORRUPT, "chunk: bad chunk id '%.*s'", (int)(v.len > 60 ? 60 : v.len), v.ptr);
  }
  /* entity path */
  if (!meta_get(md, "rerun:entity_path", &v) && !meta_get(md, "rerun.entity_path", &v))
    return rr__err(err, RR_ECORRUPT, "chunk: missing entity path (schema metadata rerun:entity_path)");
  rr_buf pb = RR_BUF_INIT;
  bool warn = false;
  int rc = rr__path_canonical(v.ptr, v.len, false, &pb, &warn, err);
  if (rc < 0) return rr__err_wrap(err, RR_ECORRUPT, "chunk: entity path");
  out->entity_path = (char *)rr_buf_steal(&pb, NULL);

  int64_t n = batch->length;
  out->num_rows = n;
  size_t ncols = (size_t)schema->n_children;
  out->timelines = rr__calloc(ncols + 1, sizeof *out->timelines);
  out->components = rr__calloc(ncols + 1, sizeof *out->components);
  out->row_ids = rr__malloc((size_t)n * 16 + 1);
  int *kinds = rr__calloc(ncols + 1, sizeof *kinds);
  if (!out->timelines || !out->components || !out->row_ids || !kinds) {
    rc = rr__err(err, RR_ENOMEM, "out of memory");
    goto fail;
  }
  /* classify and check every column before moving anything */
  int stage = 0; /* 0 before row id, 1 row id seen, 2 index seen, 3 component seen */
  size_t n_rowid = 0;
  for (size_t i = 0; i < ncols; i++) {
    const struct ArrowSchema *f = schema->children[i];
    const struct ArrowArray *a = batch->children[i];
    const char *name = f->name ? f->name : "";
    if (!a || !a->release) { rc = rr__err(err, RR_ECORRUPT, "chunk: column %zu released", i); goto fail; }
    if (a->length != n) {
      rc = rr__err(err, RR_ECORRUPT, "chunk: column '%s' has %lld rows, the batch %lld", name,
                   (long long)a->length, (long long)n);
      goto fail;
    }
    int kind = COL_DATA;
    if (meta_get(f->metadata, "rerun:kind", &v)) {
      if (str_eq(v, "control") || str_eq(v, "row_id")) kind = COL_ROWID;
      else if (str_eq(v, "index") || str_eq(v, "time")) kind = COL_INDEX;
      else if (str_eq(v, "data") || str_eq(v, "component")) kind = COL_DATA;
      else {
        rc = rr__err(err, RR_ECORRUPT, "chunk: column '%s' has unknown rerun:kind '%.*s'", name,
                     (int)(v.len > 40 ? 40 : v.len), v.ptr);
        goto fail;
      }
    } else if (legacy && !strcmp(name, "rerun.controls.RowId")) {
      kind = COL_ROWID;
    }
    if (kind == COL_DATA && legacy) {
      rr_str ind;
      if (ends_with(name, "Indicator") || meta_get(f->metadata, "rerun:is_indicator", &ind)) kind = COL_DROP;
    }
    int st = kind == COL_ROWID ? 1 : kind == COL_INDEX ? 2 : 3;
    if (!legacy && st < stage) {
      rc = rr__err(err, RR_ECORRUPT, "chunk: invalid column order: %s column '%s' after a %s column",
                   kind == COL_ROWID ? "RowId" : "index", name, stage == 3 ? "component" : "index");
      goto fail;
    }
    if (st > stage) stage = st;
    kinds[i] = kind;
    if (kind == COL_ROWID) {
      if (++n_rowid > 1) { rc = rr__err(err, RR_ECORRUPT, "chunk: two RowId columns"); goto fail; }
      if (strcmp(f->format, "w:16") != 0) {
        rc = rr__err(err, RR_ECORRUPT, "chunk: RowId column has type %s, not FixedSizeBinary(16)", f->format);
        goto fail;
      }
      if (a->null_count != 0) { rc = rr__err(err, RR_ECORRUPT, "chunk: RowId column has nulls"); goto fail; }
      if (n && (a->n_buffers < 2 || !a->buffers[1])) { rc = rr__err(err, RR_ECORRUPT, "chunk: RowId column has no data"); goto fail; }
      if (n) memcpy(out->row_ids, (const uint8_t *)a->buffers[1] + 16 * a->offset, (size_t)n * 16);
    } else if (kind == COL_INDEX) {
      int type = 0;
      if (!strcmp(f->format, "l")) type = RR_TL_SEQUENCE;
      else if (!strcmp(f->format, "tDn")) type = RR_TL_DURATION;
      else if (!strncmp(f->format, "tsn:", 4)) type = RR_TL_TIMESTAMP;
      else {
        rc = rr__err(err, RR_EUNSUPPORTED, "chunk: index column '%s' has unsupported time type %s", name, f->format);
        goto fail;
      }
      if (a->null_count != 0) { rc = rr__err(err, RR_ECORRUPT, "chunk: index column '%s' has nulls", name); goto fail; }
      if (n && (a->n_buffers < 2 || !a->buffers[1])) { rc = rr__err(err, RR_ECORRUPT, "chunk: index column '%s' has no data", name); goto fail; }
      rr_str tn = {name, strlen(name)};
      if (meta_get(f->metadata, "rerun:index_name", &v)) tn = v;
      for (size_t t = 0; t < out->n_timelines; t++)
        if (strlen(out->timelines[t].name) == tn.len && !memcmp(out->timelines[t].name, tn.ptr, tn.len)) {
          rc = rr__err(err, RR_ECORRUPT, "chunk: duplicate timeline '%.*s'", (int)tn.len, tn.ptr);
          goto fail;
        }
      struct rr_chunk_timeline *tl = &out->timelines[out->n_timelines];
      tl->name = dup_str(tn);
      tl->type = type;
      tl->times = rr__malloc((size_t)n * 8 + 1);
      if (!tl->name || !tl->times) {
        rr__free(tl->name); rr__free(tl->times); tl->name = NULL; tl->times = NULL;
        rc = rr__err(err, RR_ENOMEM, "out of memory");
        goto fail;
      }
      out->n_timelines++;
      if (n) memcpy(tl->times, (const int64_t *)a->buffers[1] + a->offset, (size_t)n * 8);
      for (int64_t r = 0; r < n; r++)
        if (tl->times[r] == INT64_MIN) {
          rc = rr__err(err, RR_ECORRUPT, "chunk: index column '%s' holds the reserved value i64::MIN at row %lld",
                       tl->name, (long long)r);
          goto fail;
        }
    } else if (kind == COL_DATA) {
      rr_str cid = {name, strlen(name)}, arch = {NULL, 0}, ctype = {NULL, 0};
      if (meta_get(f->metadata, "rerun:component", &v)) cid = v;
      if (meta_get(f->metadata, "rerun:archetype", &v)) arch = v;
      if (meta_get(f->metadata, "rerun:component_type", &v)) ctype = v;
      rr_str an, af;
      if (legacy && meta_get(f->metadata, "rerun:archetype_name", &an) &&
          meta_get(f->metadata, "rerun:archetype_field_name", &af)) {
        /* pre-0.23 keys: rerun:component held the component type */
        if (!ctype.ptr && cid.ptr != name) ctype = cid;
        arch = an;
        const char *dot = NULL;
        for (size_t k = 0; k < an.len; k++) if (an.ptr[k] == '.') dot = an.ptr + k;
        rr_str shortn = dot ? (rr_str){dot + 1, an.len - (size_t)(dot + 1 - an.ptr)} : an;
        rr_buf b = RR_BUF_INIT;
        if (rr_buf_append(&b, shortn.ptr, shortn.len) < 0 || rr_buf_append(&b, ":", 1) < 0 ||
            rr_buf_append(&b, af.ptr, af.len) < 0 || rr_buf_append(&b, "", 1) < 0) {
          rr_buf_free(&b);
          rc = rr__err(err, RR_ENOMEM, "out of memory");
          goto fail;
        }
        out->components[out->n_components].component = (char *)rr_buf_steal(&b, NULL);
      } else {
        out->components[out->n_components].component = dup_str(cid);
      }
      struct rr_chunk_component *k = &out->components[out->n_components];
      k->archetype = arch.ptr ? dup_str(arch) : NULL;
      k->component_type = ctype.ptr ? dup_str(ctype) : NULL;
      out->n_components++;
      if (!k->component || (arch.ptr && !k->archetype) || (ctype.ptr && !k->component_type)) {
        rc = rr__err(err, RR_ENOMEM, "out of memory");
        goto fail;
      }
      for (size_t j = 0; j + 1 < out->n_components; j++)
        if (!strcmp(out->components[j].component, k->component)) {
          rc = rr__err(err, RR_ECORRUPT, "chunk: duplicate component column '%s'", k->component);
          goto fail;
        }
      bool is_list = !strcmp(f->format, "+l");
      if (!is_list && !legacy) {
        rc = rr__err(err, RR_ECORRUPT, "chunk: component column '%s' has type %s, not List", k->component, f->format);
        goto fail;
      }
      if (is_list && f->n_children != 1) {
        rc = rr__err(err, RR_ECORRUPT, "chunk: component column '%s': malformed List type", k->component);
        goto fail;
      }
    }
  }
  if (n_rowid == 0) { rc = rr__err(err, RR_ECORRUPT, "chunk: no RowId column"); goto fail; }

  /* move the component columns out of the batch */
  size_t ci = 0;
  for (size_t i = 0; i < ncols; i++) {
    if (kinds[i] != COL_DATA) continue;
    const struct ArrowSchema *f = schema->children[i];
    struct rr_chunk_component *k = &out->components[ci++];
    if (!strcmp(f->format, "+l")) {
      if ((rc = rr_arrow_schema_init(&k->list_type, "+l", "", ARROW_FLAG_NULLABLE, 1)) < 0 ||
          (rc = rr_arrow_schema_copy(k->list_type.children[0], f->children[0])) < 0) {
        rc = rr__err(err, RR_ENOMEM, "out of memory");
        goto fail;
      }
      rr_arrow_array_move(batch->children[i], &k->list);
    } else {
      struct ArrowArray vals;
      rr_arrow_array_move(batch->children[i], &vals);
      if ((rc = wrap_in_list(&vals, f, &k->list_type, &k->list, err)) < 0) {
        if (vals.release) vals.release(&vals);
        goto fail;
      }
    }
  }
  rr__free(kinds);
  return RR_OK;

fail:
  rr__free(kinds);
  rr__chunk_clear(out);
  return rc;
}

int rr__chunk_from_ipc(uint8_t *data, size_t len, struct rr_chunk *out, rr_error *err) {
  struct ArrowSchema schema;
  struct ArrowArray batch;
  memset(out, 0, sizeof *out);
  int rc = rr_arrow_ipc_read(data, len, rr__blocks_free, data, &schema, &batch, err);
  if (rc < 0) return rc;
  rc = rr__chunk_from_batch(&schema, &batch, out, err);
  batch.release(&batch);
  schema.release(&schema);
  return rc;
}
