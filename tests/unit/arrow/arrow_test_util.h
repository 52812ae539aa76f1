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

/* ---- logical comparison and deterministic filling ------------------------ */
#ifndef ARROW_TEST_UTIL_EXTRA
#define ARROW_TEST_UTIL_EXTRA

static inline bool slot_valid(const struct ArrowArray *a, const char *fmt, int64_t i) {
  if (!strcmp(fmt, "n")) return false;
  if (!strncmp(fmt, "+ud", 3) || a->n_buffers == 0 || !a->buffers[0]) return true;
  int64_t j = a->offset + i;
  return (((const uint8_t *)a->buffers[0])[j >> 3] >> (j & 7)) & 1;
}

static inline int fixed_width(const char *f) {
  switch (f[0]) {
    case 'c': case 'C': return 1;
    case 's': case 'S': case 'e': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'l': case 'L': case 'g': return 8;
    case 'w': return atoi(f + 2);
    case 't': return (f[1] == 'd' && f[2] == 'D') || (f[1] == 't' && (f[2] == 's' || f[2] == 'm')) ? 4 : 8;
    default: return 0;
  }
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

static inline uint32_t rnd(uint32_t *st) {
  *st = *st * 1103515245u + 12345u;
  return *st >> 8;
}

/* Appends exactly one pseudo-random element (null 1 time in 4 if nullable). */
static inline void fill_one(rr_arrow_builder *b, const struct ArrowSchema *s, uint32_t *st) {
  const char *f = s->format;
  bool null = (s->flags & ARROW_FLAG_NULLABLE) && rnd(st) % 4 == 0 && strncmp(f, "+ud", 3);
  if (!strcmp(f, "n") || null) { assert_int_equal(rr_arrow_builder_append_nulls(b, 1), RR_OK); return; }
  int w = fixed_width(f);
  if (!strcmp(f, "b")) {
    uint8_t v = rnd(st) & 1;
    assert_int_equal(rr_arrow_builder_append_values(b, &v, 1), RR_OK);
  } else if (w) {
    uint8_t v[64];
    for (int i = 0; i < w; i++) v[i] = (uint8_t)rnd(st);
    if (f[0] == 'e') v[1] &= 0x3b; /* keep f16 finite */
    if (f[0] == 'f') v[3] &= 0x3f;
    if (f[0] == 'g') v[7] &= 0x3f;
    assert_int_equal(rr_arrow_builder_append_values(b, v, 1), RR_OK);
  } else if (!strcmp(f, "u")) {
    static const char *const words[] = {"", "a", "h\xc3\xa9llo", "\xe2\x82\xac", "world!", "\xf0\x9f\x98\x80x"};
    const char *wd = words[rnd(st) % 6];
    assert_int_equal(rr_arrow_builder_append_bytes(b, wd, strlen(wd)), RR_OK);
  } else if (!strcmp(f, "z")) {
    uint8_t v[9];
    size_t n = rnd(st) % 10;
    for (size_t i = 0; i < n; i++) v[i] = (uint8_t)rnd(st);
    assert_int_equal(rr_arrow_builder_append_bytes(b, v, n), RR_OK);
  } else if (!strcmp(f, "+l")) {
    int n = (int)(rnd(st) % 4);
    for (int i = 0; i < n; i++) fill_one(rr_arrow_builder_child(b, 0), s->children[0], st);
    assert_int_equal(rr_arrow_builder_list_finish(b), RR_OK);
  } else if (!strncmp(f, "+w:", 3)) {
    int m = atoi(f + 3), cw = fixed_width(s->children[0]->format);
    assert_true(cw > 0);
    uint8_t v[256];
    for (int i = 0; i < m * cw; i++) v[i] = (uint8_t)(rnd(st) & 0x3f);
    assert_int_equal(rr_arrow_builder_append_values(b, v, 1), RR_OK);
  } else if (!strcmp(f, "+s")) {
    for (int64_t c = 0; c < s->n_children; c++) fill_one(rr_arrow_builder_child(b, c), s->children[c], st);
    assert_int_equal(rr_arrow_builder_struct_append_valid(b, 1), RR_OK);
  } else if (!strncmp(f, "+ud:", 4)) {
    int c = (int)(rnd(st) % (uint32_t)s->n_children);
    const char *p = f + 4;
    for (int i = 0; i < c; i++) p = strchr(p, ',') + 1;
    assert_int_equal(rr_arrow_builder_union_append(b, (int8_t)atoi(p)), RR_OK);
    fill_one(rr_arrow_builder_child(b, c), s->children[c], st);
  } else {
    fail_msg("fill_one: unhandled format %s", f);
  }
}

/* The all-types schema used by round trips, the JS cross-check and the fuzz seeds. */
static inline void all_types_schema(struct ArrowSchema *s) {
  static const char *const prims[] = {"c", "C", "s", "S", "i", "I", "l", "L", "e", "f", "g", "b",
                                      "u", "z", "w:4", "n", "tDn", "tsn:", "tsn:UTC", "tss:", "tDs", "tdD", "ttm"};
  int np = (int)(sizeof prims / sizeof prims[0]);
  mk(s, "+s", "", false, np + 7);
  char name[32];
  for (int i = 0; i < np; i++) {
    snprintf(name, sizeof name, "p_%s", prims[i]);
    mk(s->children[i], prims[i], name, i % 2 == 0 || !strcmp(prims[i], "n"), 0);
  }
  struct ArrowSchema *c = s->children[np];
  mk(c, "+l", "list_fsl", true, 1);
  mk(mk(c->children[0], "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
  c = s->children[np + 1];
  mk(c, "+l", "list_struct", true, 1);
  struct ArrowSchema *st = mk(c->children[0], "+s", "item", true, 2);
  mk(st->children[0], "i", "a", false, 0);
  mk(st->children[1], "u", "b", true, 0);
  c = mk(s->children[np + 2], "+s", "struct_nullable", true, 3);
  mk(c->children[0], "g", "x", true, 0);
  mk(c->children[1], "b", "y", true, 0);
  mk(c->children[2], "w:16", "z", false, 0);
  c = mk(s->children[np + 3], "+ud:0,1,5", "dense_union", false, 3);
  mk(c->children[0], "n", "_null_markers", true, 0);
  mk(c->children[1], "g", "F64", false, 0);
  mk(c->children[2], "u", "Str", false, 0);
  c = mk(s->children[np + 4], "+l", "list_utf8", true, 1);
  mk(c->children[0], "u", "item", true, 0);
  c = mk(s->children[np + 5], "+l", "list_list_fsl", true, 1);
  c = mk(c->children[0], "+l", "item", true, 1);
  c = mk(c->children[0], "+w:2", "item", false, 1);
  mk(c->children[0], "f", "item", false, 0);
  c = mk(s->children[np + 6], "+w:2", "fsl_i16", true, 1);
  mk(c->children[0], "s", "item", true, 0);
  set_md(s, "rerun:entity_path", "/all/types", "empty", "");
  set_md(s->children[0], "ARROW:extension:name", "x.y", "k", "v\xc3\xa9");
}

static inline void fill_batch(const struct ArrowSchema *s, int64_t rows, uint32_t seed, struct ArrowArray *out) {
  rr_arrow_builder *b;
  assert_int_equal(rr_arrow_builder_new(&b, s), RR_OK);
  uint32_t st = seed;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < s->n_children; c++) fill_one(rr_arrow_builder_child(b, c), s->children[c], &st);
    assert_int_equal(rr_arrow_builder_struct_append_valid(b, 1), RR_OK);
  }
  assert_int_equal(rr_arrow_builder_finish(b, out), RR_OK);
  rr_arrow_builder_free(b);
}

#endif
