/* Sample Arrow schemas and deterministic pseudo-random data, shared by the
 * arrow unit tests and tests/tools/arrow_tool (the JS cross-check and the
 * fuzz seeds). The includer defines SAMPLE_CHECK(expr) (expr returns an
 * rr_status that must be RR_OK) and SAMPLE_FAIL(fmt, ...). */
#ifndef ARROW_SAMPLES_H
#define ARROW_SAMPLES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/rr_arrow.h"

/* Initialises a schema node; children are then set with mk() on s->children[i]. */
static inline struct ArrowSchema *mk(struct ArrowSchema *s, const char *fmt, const char *name, bool nullable,
                                     int64_t n_children) {
  SAMPLE_CHECK(rr_arrow_schema_init(s, fmt, name, nullable ? ARROW_FLAG_NULLABLE : 0, n_children));
  return s;
}

static inline void set_md(struct ArrowSchema *s, const char *k1, const char *v1, const char *k2, const char *v2) {
  rr_arrow_kv kv[2] = {{{k1, strlen(k1)}, {v1, strlen(v1)}}, {{k2 ? k2 : "", k2 ? strlen(k2) : 0}, {v2 ? v2 : "", v2 ? strlen(v2) : 0}}};
  SAMPLE_CHECK(rr_arrow_schema_set_metadata(s, kv, k2 ? 2 : 1));
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

static inline uint32_t rnd(uint32_t *st) {
  *st = *st * 1103515245u + 12345u;
  return *st >> 8;
}

/* Appends exactly one pseudo-random element (null 1 time in 4 if nullable). */
static inline void fill_one(rr_arrow_builder *b, const struct ArrowSchema *s, uint32_t *st) {
  const char *f = s->format;
  bool null = (s->flags & ARROW_FLAG_NULLABLE) && rnd(st) % 4 == 0 && strncmp(f, "+ud", 3);
  if (!strcmp(f, "n") || null) { SAMPLE_CHECK(rr_arrow_builder_append_nulls(b, 1)); return; }
  int w = fixed_width(f);
  if (!strcmp(f, "b")) {
    uint8_t v = rnd(st) & 1;
    SAMPLE_CHECK(rr_arrow_builder_append_values(b, &v, 1));
  } else if (w) {
    uint8_t v[64];
    for (int i = 0; i < w; i++) v[i] = (uint8_t)rnd(st);
    if (f[0] == 'e') v[1] &= 0x3b; /* keep f16 finite */
    if (f[0] == 'f') v[3] &= 0x3f;
    if (f[0] == 'g') v[7] &= 0x3f;
    if (f[0] == 't' && w == 8) v[7] &= 0x0f; /* keep times in a sane range */
    if (f[0] == 't' && f[1] == 't') { uint32_t ms = rnd(st) % 86400000u; memcpy(v, &ms, 4); memset(v + 4, 0, 4); }
    if (f[0] == 't' && f[1] == 'd') { int32_t d = (int32_t)(rnd(st) % 40000); memcpy(v, &d, 4); }
    SAMPLE_CHECK(rr_arrow_builder_append_values(b, v, 1));
  } else if (!strcmp(f, "u")) {
    static const char *const words[] = {"", "a", "h\xc3\xa9llo", "\xe2\x82\xac", "world!", "\xf0\x9f\x98\x80x"};
    const char *wd = words[rnd(st) % 6];
    SAMPLE_CHECK(rr_arrow_builder_append_bytes(b, wd, strlen(wd)));
  } else if (!strcmp(f, "z")) {
    uint8_t v[9];
    size_t n = rnd(st) % 10;
    for (size_t i = 0; i < n; i++) v[i] = (uint8_t)rnd(st);
    SAMPLE_CHECK(rr_arrow_builder_append_bytes(b, v, n));
  } else if (!strcmp(f, "+l")) {
    int n = (int)(rnd(st) % 4);
    for (int i = 0; i < n; i++) fill_one(rr_arrow_builder_child(b, 0), s->children[0], st);
    SAMPLE_CHECK(rr_arrow_builder_list_finish(b));
  } else if (!strncmp(f, "+w:", 3)) {
    int m = atoi(f + 3), cw = fixed_width(s->children[0]->format);
    if (cw <= 0) SAMPLE_FAIL("fill_one: %s of a non-fixed-width type", f);
    uint8_t v[256];
    for (int i = 0; i < m * cw; i++) v[i] = (uint8_t)(rnd(st) & 0x3f);
    SAMPLE_CHECK(rr_arrow_builder_append_values(b, v, 1));
  } else if (!strcmp(f, "+s")) {
    for (int64_t c = 0; c < s->n_children; c++) fill_one(rr_arrow_builder_child(b, c), s->children[c], st);
    SAMPLE_CHECK(rr_arrow_builder_struct_append_valid(b, 1));
  } else if (!strncmp(f, "+ud:", 4)) {
    int c = (int)(rnd(st) % (uint32_t)s->n_children);
    const char *p = f + 4;
    for (int i = 0; i < c; i++) p = strchr(p, ',') + 1;
    SAMPLE_CHECK(rr_arrow_builder_union_append(b, (int8_t)atoi(p)));
    fill_one(rr_arrow_builder_child(b, c), s->children[c], st);
  } else {
    SAMPLE_FAIL("fill_one: unhandled format %s", f);
  }
}

/* The all-types schema used by round trips, the JS cross-check and the fuzz seeds. */
static inline void all_types_schema(struct ArrowSchema *s) {
  static const char *const prims[] = {"c", "C", "s", "S", "i", "I", "l", "L", "e", "f", "g", "b", "u",
                                      "z", "w:4", "n", "tDn", "tDs", "tsn:", "tsn:UTC", "tss:", "tsm:", "tdD",
                                      "ttm", "ttn"};
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
  SAMPLE_CHECK(rr_arrow_builder_new(&b, s));
  uint32_t st = seed;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < s->n_children; c++) fill_one(rr_arrow_builder_child(b, c), s->children[c], &st);
    SAMPLE_CHECK(rr_arrow_builder_struct_append_valid(b, 1));
  }
  SAMPLE_CHECK(rr_arrow_builder_finish(b, out));
  rr_arrow_builder_free(b);
}

#endif
