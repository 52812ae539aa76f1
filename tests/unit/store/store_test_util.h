/* Helpers shared by the store and query tests: build scalar chunks and feed
 * them to a hub through the real RRD encoder and decoder. */
#ifndef STORE_TEST_UTIL_H
#define STORE_TEST_UTIL_H

#include "arrow/rr_arrow.h"
#include "chunk/rr_chunk.h"
#include "encoding/rr_encoding.h"
#include "rerun/query.h"
#include "rerun/store.h"
#include "store/store_internal.h"

static const rr_store_id TEST_ID = {1, {"app", 3}, {"rec", 3}};

/* A chunk of n rows at `entity`: f64 component `comp` (NaN = null cell),
 * timeline "t" (sequence) unless times == NULL (static); row ids from
 * row_base + i. */
static inline int make_chunk(struct rr_chunk *c, const char *entity, const char *comp, const int64_t *times,
                             const double *vals, int64_t n, uint64_t row_base) {
  memset(c, 0, sizeof *c);
  c->id = rr__tuid_new();
  c->entity_path = rr__strdup(entity);
  c->num_rows = n;
  c->row_ids = rr__malloc((size_t)n * 16 + 1);
  for (int64_t i = 0; i < n; i++) rr__tuid_to_be((rr_tuid){1000, row_base + (uint64_t)i}, c->row_ids + 16 * i);
  if (times) {
    c->n_timelines = 1;
    c->timelines = rr__calloc(1, sizeof *c->timelines);
    c->timelines[0].name = rr__strdup("t");
    c->timelines[0].type = RR_TL_SEQUENCE;
    c->timelines[0].times = rr__malloc((size_t)n * 8 + 1);
    memcpy(c->timelines[0].times, times, (size_t)n * 8);
  }
  c->n_components = 1;
  c->components = rr__calloc(1, sizeof *c->components);
  struct rr_chunk_component *k = &c->components[0];
  k->component = rr__strdup(comp);
  k->archetype = rr__strdup("rerun.archetypes.Scalars");
  k->component_type = rr__strdup("rerun.components.Scalar");
  int rc = rr_arrow_schema_init(&k->list_type, "+l", "", ARROW_FLAG_NULLABLE, 1);
  if (rc == RR_OK) rc = rr_arrow_schema_init(k->list_type.children[0], "g", "item", ARROW_FLAG_NULLABLE, 0);
  rr_arrow_builder *b = NULL;
  if (rc == RR_OK) rc = rr_arrow_builder_new(&b, &k->list_type);
  for (int64_t i = 0; i < n && rc == RR_OK; i++) {
    if (vals[i] != vals[i]) {
      rc = rr_arrow_builder_append_nulls(b, 1);
    } else {
      rc = rr_arrow_builder_append_values(rr_arrow_builder_child(b, 0), &vals[i], 1);
      if (rc == RR_OK) rc = rr_arrow_builder_list_finish(b);
    }
  }
  if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &k->list);
  rr_arrow_builder_free(b);
  return rc;
}

/* Encodes (header when first, SetStoreInfo when first) and feeds one chunk. */
static inline int feed_chunk(rr_store_hub *h, struct rr_chunk *c, bool first) {
  rr_buf out = RR_BUF_INIT, ipc = RR_BUF_INIT;
  int rc = RR_OK;
  if (first) {
    rr_log_msg m;
    rr_log_msg_init_store_info(&m, &TEST_ID);
    rc = rr_rrd_write_stream_header(&out, true);
    if (rc == RR_OK) rc = rr_log_msg_encode(&out, &m, RR_FRAMING_RRD, true, NULL);
  }
  if (rc == RR_OK) rc = rr__chunk_to_ipc(c, &ipc, NULL);
  if (rc == RR_OK) {
    rr_log_msg m;
    memset(&m, 0, sizeof m);
    m.kind = RR_MSG_ARROW;
    m.store_id = TEST_ID;
    m.arrow.ipc = (rr_bytes){ipc.data, ipc.len};
    m.arrow.has_is_static = true;
    m.arrow.is_static = c->n_timelines == 0;
    rc = rr_log_msg_encode(&out, &m, RR_FRAMING_RRD, true, NULL);
  }
  if (rc == RR_OK) rc = rr_store_hub_feed(h, out.data, out.len, NULL);
  rr_buf_free(&out);
  rr_buf_free(&ipc);
  rr__chunk_clear(c);
  return rc;
}

/* One-shot: a chunk fed as its own input (first message of a stream). */
static inline int add_rows(rr_store_hub *h, const char *entity, const char *comp, const int64_t *times,
                           const double *vals, int64_t n, uint64_t row_base, bool first) {
  struct rr_chunk c;
  int rc = make_chunk(&c, entity, comp, times, vals, n, row_base);
  if (rc < 0) { rr__chunk_clear(&c); return rc; }
  return feed_chunk(h, &c, first);
}

/* The single f64 value of a latest-at result (NaN if not exactly one). */
static inline double la_value(const rr_latest_at *r) {
  if (!r->found || r->values.length != 1) return 0.0 / 0.0;
  return ((const double *)r->values.buffers[1])[r->values.offset];
}

#endif
