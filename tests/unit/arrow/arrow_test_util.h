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

#define SAMPLE_CHECK(expr) assert_int_equal((expr), RR_OK)
#define SAMPLE_FAIL(...) fail_msg(__VA_ARGS__)
#include "../../common/arrow_samples.h"

static inline size_t hex_decode(const char *hex, uint8_t *out) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned v;
    sscanf(hex, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
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

/* ---- logical comparison and deterministic filling ------------------------ */
#ifndef ARROW_TEST_UTIL_EXTRA
#define ARROW_TEST_UTIL_EXTRA

static inline bool slot_valid(const struct ArrowArray *a, const char *fmt, int64_t i) {
  if (!strcmp(fmt, "n")) return false;
  if (!strncmp(fmt, "+ud", 3) || a->n_buffers == 0 || !a->buffers[0]) return true;
  int64_t j = a->offset + i;
  return (((const uint8_t *)a->buffers[0])[j >> 3] >> (j & 7)) & 1;
}

/* Elements [ia, ia+n) of a equal elements [ib, ib+n) of b (logical indices). */
static inline bool arrays_equal(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t ia,
                                const struct ArrowArray *b, int64_t ib, int64_t n) {
  const char *f = s->format;
  for (int64_t k = 0; k < n; k++) {
    int64_t i = ia + k, j = ib + k, pa = a->offset + i, pb = b->offset + j;
    bool va = slot_valid(a, f, i), vb = slot_valid(b, f, j);
    if (va != vb) { fprintf(stderr, "%s: validity differs at %lld\n", s->name, (long long)k); return false; }
    if (!va) continue;
    int w = fixed_width(f);
    if (!strcmp(f, "b")) {
      const uint8_t *x = a->buffers[1], *y = b->buffers[1];
      if (((x[pa >> 3] >> (pa & 7)) & 1) != ((y[pb >> 3] >> (pb & 7)) & 1)) return false;
    } else if (w) {
      if (memcmp((const uint8_t *)a->buffers[1] + pa * w, (const uint8_t *)b->buffers[1] + pb * w, (size_t)w)) {
        fprintf(stderr, "%s: value differs at %lld\n", s->name, (long long)k);
        return false;
      }
    } else if (!strcmp(f, "u") || !strcmp(f, "z")) {
      const int32_t *x = a->buffers[1], *y = b->buffers[1];
      int32_t lx = x[pa + 1] - x[pa], ly = y[pb + 1] - y[pb];
      if (lx != ly || (lx && memcmp((const uint8_t *)a->buffers[2] + x[pa], (const uint8_t *)b->buffers[2] + y[pb],
                                    (size_t)lx))) {
        fprintf(stderr, "%s: bytes differ at %lld\n", s->name, (long long)k);
        return false;
      }
    } else if (!strcmp(f, "+l")) {
      const int32_t *x = a->buffers[1], *y = b->buffers[1];
      int32_t lx = x[pa + 1] - x[pa], ly = y[pb + 1] - y[pb];
      if (lx != ly) { fprintf(stderr, "%s: list length differs at %lld\n", s->name, (long long)k); return false; }
      if (!arrays_equal(s->children[0], a->children[0], x[pa], b->children[0], y[pb], lx)) return false;
    } else if (!strncmp(f, "+w:", 3)) {
      int64_t m = atoi(f + 3);
      if (!arrays_equal(s->children[0], a->children[0], pa * m, b->children[0], pb * m, m)) return false;
    } else if (!strcmp(f, "+s")) {
      for (int64_t c = 0; c < s->n_children; c++)
        if (!arrays_equal(s->children[c], a->children[c], pa, b->children[c], pb, 1)) return false;
    } else if (!strncmp(f, "+ud:", 4)) {
      const int8_t *tx = a->buffers[0], *ty = b->buffers[0];
      const int32_t *ox = a->buffers[1], *oy = b->buffers[1];
      if (tx[pa] != ty[pb]) return false;
      int c = 0;
      const char *p = f + 4;
      while (atoi(p) != tx[pa]) { p = strchr(p, ',') + 1; c++; }
      if (!arrays_equal(s->children[c], a->children[c], ox[pa], b->children[c], oy[pb], 1)) return false;
    }
  }
  return true;
}

#endif
