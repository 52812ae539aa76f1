/* Helpers shared by the arrow unit tests. */
#ifndef ARROW_TEST_UTIL_H
#define ARROW_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/rr_arrow.h"

static inline size_t hex_decode(const char *hex, uint8_t *out) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned v;
    sscanf(hex, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}

/* Initialises a schema node; children are then set with mk() on s->children[i]. */
static inline struct ArrowSchema *mk(struct ArrowSchema *s, const char *fmt, const char *name, bool nullable,
                                     int64_t n_children) {
  assert_int_equal(rr_arrow_schema_init(s, fmt, name, nullable ? ARROW_FLAG_NULLABLE : 0, n_children), RR_OK);
  return s;
}

static inline void set_md(struct ArrowSchema *s, const char *k1, const char *v1, const char *k2, const char *v2) {
  rr_arrow_kv kv[2] = {{{k1, strlen(k1)}, {v1, strlen(v1)}}, {{k2 ? k2 : "", k2 ? strlen(k2) : 0}, {v2 ? v2 : "", v2 ? strlen(v2) : 0}}};
  assert_int_equal(rr_arrow_schema_set_metadata(s, kv, k2 ? 2 : 1), RR_OK);
}

/* The spec §5 example: schema and 2-row batch. */
static inline void spec_example(struct ArrowSchema *schema, struct ArrowArray *batch) {
  mk(schema, "+s", "", false, 3);
  set_md(schema, "rerun:entity_path", "/points", "sorbet:version", "0.1.3");
  struct ArrowSchema *rowid = mk(schema->children[0], "w:16", "rerun.controls.RowId", false, 0);
  set_md(rowid, "rerun:kind", "control", "ARROW:extension:name", "rerun.datatypes.TUID");
  mk(schema->children[1], "l", "frame", true, 0);
  struct ArrowSchema *pos = mk(schema->children[2], "+l", "Points3D:positions", true, 1);
  struct ArrowSchema *fsl = mk(pos->children[0], "+w:3", "item", true, 1);
  mk(fsl->children[0], "f", "item", false, 0);

  rr_arrow_builder *b;
  assert_int_equal(rr_arrow_builder_new(&b, schema), RR_OK);
  uint8_t ids[32];
  hex_decode("18a0b1c2d3e4f506000000000000000118a0b1c2d3e4f5060000000000000002", ids);
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b, 0), ids, 2), RR_OK);
  int64_t frames[2] = {3, 4};
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b, 1), frames, 2), RR_OK);
  rr_arrow_builder *lb = rr_arrow_builder_child(b, 2);
  float pts[6] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(lb, 0), pts, 2), RR_OK);
  assert_int_equal(rr_arrow_builder_list_finish(lb), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(lb, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_struct_append_valid(b, 2), RR_OK);
  assert_int_equal(rr_arrow_builder_finish(b, batch), RR_OK);
  rr_arrow_builder_free(b);
}

#endif
