/* Store tests: golden files, chunk_from_batch validation, compaction,
 * Clear, GC under a budget, concurrent ingestion and queries. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "store_test_util.h"

#define GOLDEN RR_SOURCE_DIR "/../shared/golden/rrd/"

static rr_store_hub *load(const char *name, bool no_compaction) {
  rr_store_options o = {0};
  o.no_compaction = no_compaction;
  rr_store_hub *h = NULL;
  assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
  char path[512];
  snprintf(path, sizeof path, "%s%s", GOLDEN, name);
  rr_error e = {0, ""};
  int rc = rr_store_hub_load_path(h, path, &e);
  if (rc != RR_OK) fprintf(stderr, "%s: %s\n", name, e.msg);
  assert_int_equal(rc, RR_OK);
  return h;
}

static void check_points(rr_store *s, const char *timeline, int64_t at, int tl_type) {
  rr_latest_at r;
  assert_int_equal(rr_query_latest_at(s, "points", "Points3D:positions", timeline, at, &r, NULL), RR_OK);
  assert_true(r.found);
  assert_int_equal(r.values.length, 2);
  const float *p = r.values.children[0]->buffers[1];
  int64_t off = (r.values.offset + r.values.children[0]->offset / 3) * 3;
  assert_true(p[off] == 1.0f && p[off + 5] == 6.0f);
  rr_latest_at_release(&r);
  assert_int_equal(rr_query_latest_at(s, "/points", "Points3D:colors", timeline, at, &r, NULL), RR_OK);
  assert_true(r.found);
  assert_int_equal(r.values.length, 2);
  const uint32_t *col = r.values.buffers[1];
  assert_true(col[r.values.offset] == 0xFF0000FFu && col[r.values.offset + 1] == 0x00FF00FFu);
  rr_latest_at_release(&r);
  if (timeline) {
    rr_timeline_info tl[4];
    assert_int_equal(rr_store_timelines(s, tl, 4), 1);
    assert_string_equal(tl[0].name, timeline);
    assert_true(tl[0].min == at && tl[0].max == at);
    assert_int_equal(tl[0].type, tl_type);
    /* before the data: nothing */
    assert_int_equal(rr_query_latest_at(s, "points", "Points3D:positions", timeline, at - 1, &r, NULL), RR_OK);
    assert_false(r.found);
    rr_latest_at_release(&r);
  }
}

static void test_golden(void **state) {
  (void)state;
  static const struct { const char *f; int tl; const char *name; int64_t at; } files[] = {
      {"plain.rrd", 1, "frame", 3}, {"lz4.rrd", 1, "frame", 3}, {"durtime.rrd", 2, "elapsed", 3},
      {"tstime.rrd", 3, "wall", 1700000000123456789}, {"nosorbet.rrd", 1, "frame", 3},
      {"barerowid.rrd", 1, "frame", 3}, {"nostoreinfo.rrd", 1, "frame", 3}, {"static.rrd", 0, NULL, 0}};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    rr_store_hub *h = load(files[i].f, true);
    assert_int_equal(rr_store_hub_count(h), 1);
    rr_store *s = rr_store_hub_at(h, 0);
    rr_store_info in;
    rr_store_get_info(s, &in);
    assert_string_equal(in.application_id, "my_app");
    assert_int_equal(in.has_store_info, strcmp(files[i].f, "nostoreinfo.rrd") != 0);
    rr_chunk_summary cs;
    assert_int_equal(rr_store_chunk_summary(s, 0, &cs), RR_OK);
    assert_string_equal(cs.entity_path, "/points");
    assert_int_equal(cs.num_rows, 1);
    assert_int_equal(cs.is_static, files[i].tl == 0);
    check_points(s, files[i].name, files[i].at, files[i].tl);
    rr_store_hub_free(h);
  }
  const char *concat[] = {"concat_footer.rrd", "concat_noend.rrd"};
  for (int i = 0; i < 2; i++) {
    rr_store_hub *h = load(concat[i], true);
    assert_int_equal(rr_store_hub_count(h), 2);
    rr_store_info a, b;
    rr_store_get_info(rr_store_hub_at(h, 0), &a);
    rr_store_get_info(rr_store_hub_at(h, 1), &b);
    assert_string_equal(a.application_id, "my_app");
    assert_string_equal(b.application_id, "other_app");
    check_points(rr_store_hub_at(h, 1), "frame", 3, 1);
    rr_store_hub_free(h);
  }
}

/* ---- chunk_from_batch --------------------------------------------------- */

static void batch_of(struct rr_chunk *c, struct ArrowSchema *s, struct ArrowArray *a) {
  const double v[2] = {1, 2};
  const int64_t t[2] = {5, 6};
  assert_int_equal(make_chunk(c, "/e", "Scalars:scalars", t, v, 2, 1), RR_OK);
  assert_int_equal(rr__chunk_to_batch(c, s, a, NULL), RR_OK);
}

static void test_from_batch(void **state) {
  (void)state;
  struct rr_chunk c, d;
  struct ArrowSchema s;
  struct ArrowArray a;
  rr_error e;
  /* round trip */
  batch_of(&c, &s, &a);
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_OK);
  assert_string_equal(d.entity_path, "/e");
  assert_int_equal(d.num_rows, 2);
  assert_int_equal(d.n_timelines, 1);
  assert_int_equal(d.timelines[0].times[1], 6);
  assert_string_equal(d.components[0].component, "Scalars:scalars");
  assert_string_equal(d.components[0].archetype, "rerun.archetypes.Scalars");
  assert_memory_equal(&d.id, &c.id, sizeof c.id);
  assert_int_equal(memcmp(d.row_ids, c.row_ids, 32), 0);
  rr__chunk_clear(&d);
  a.release(&a);
  s.release(&s);
  rr__chunk_clear(&c);

  /* column order: component before index */
  batch_of(&c, &s, &a);
  struct ArrowSchema *ts = s.children[1];
  s.children[1] = s.children[2];
  s.children[2] = ts;
  struct ArrowArray *ta = a.children[1];
  a.children[1] = a.children[2];
  a.children[2] = ta;
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "column order"));
  a.release(&a);
  s.release(&s);
  rr__chunk_clear(&c);

  /* missing chunk id */
  batch_of(&c, &s, &a);
  rr_arrow_kv kv[2] = {{{"rerun:entity_path", 17}, {"/e", 2}}, {{"sorbet:version", 14}, {"0.1.3", 5}}};
  assert_int_equal(rr_arrow_schema_set_metadata(&s, kv, 2), RR_OK);
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "chunk id"));
  /* missing entity path */
  rr_arrow_kv kv2[2] = {{{"rerun:id", 8}, {"chunk_182342300C5F8C327a7b4a6e5a379ac4", 38}}, {{"sorbet:version", 14}, {"0.1.3", 5}}};
  assert_int_equal(rr_arrow_schema_set_metadata(&s, kv2, 2), RR_OK);
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "entity path"));
  /* wrong id prefix */
  rr_arrow_kv kv3[3] = {{{"rerun:id", 8}, {"row_182342300C5F8C327a7b4a6e5a379ac4", 36}}, {{"sorbet:version", 14}, {"0.1.3", 5}},
                        {{"rerun:entity_path", 17}, {"/e", 2}}};
  assert_int_equal(rr_arrow_schema_set_metadata(&s, kv3, 3), RR_OK);
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "prefix"));
  a.release(&a);
  s.release(&s);
  rr__chunk_clear(&c);

  /* index of an unsupported type */
  batch_of(&c, &s, &a);
  struct ArrowSchema i32;
  assert_int_equal(rr_arrow_schema_init(&i32, "i", "t", ARROW_FLAG_NULLABLE, 0), RR_OK);
  rr_arrow_kv km[1] = {{{"rerun:kind", 10}, {"index", 5}}};
  assert_int_equal(rr_arrow_schema_set_metadata(&i32, km, 1), RR_OK);
  s.children[1]->release(s.children[1]);
  rr_arrow_schema_move(&i32, s.children[1]);
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_EUNSUPPORTED);
  assert_non_null(strstr(e.msg, "time type"));
  /* unknown kind */
  rr_arrow_kv kb[1] = {{{"rerun:kind", 10}, {"bogus", 5}}};
  assert_int_equal(rr_arrow_schema_set_metadata(s.children[1], kb, 1), RR_OK);
  assert_int_equal(rr__chunk_from_batch(&s, &a, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "unknown rerun:kind"));
  a.release(&a);
  s.release(&s);
  rr__chunk_clear(&c);
}

/* legacy: no sorbet:version, a non-List component column is wrapped */
static void test_from_batch_legacy(void **state) {
  (void)state;
  struct ArrowSchema s;
  struct ArrowArray a;
  assert_int_equal(rr_arrow_schema_init(&s, "+s", "", 0, 2), RR_OK);
  rr_arrow_kv kv[2] = {{{"rerun.id", 8}, {"182342300C5F8C327a7b4a6e5a379ac4", 32}}, {{"rerun:entity_path", 17}, {"x/y", 3}}};
  assert_int_equal(rr_arrow_schema_set_metadata(&s, kv, 2), RR_OK);
  assert_int_equal(rr_arrow_schema_init(s.children[0], "w:16", "rerun.controls.RowId", 0, 0), RR_OK);
  assert_int_equal(rr_arrow_schema_init(s.children[1], "f", "Radius", ARROW_FLAG_NULLABLE, 0), RR_OK);
  assert_int_equal(rr_arrow_array_init(&a, 3, 0, 1, 2), RR_OK);
  assert_int_equal(rr_arrow_array_init(a.children[0], 3, 0, 2, 0), RR_OK);
  uint8_t *ids = rr__calloc(48, 1);
  ids[15] = 1; ids[31] = 2; ids[47] = 3;
  rr_arrow_array_set_buffer(a.children[0], 1, ids);
  assert_int_equal(rr_arrow_array_init(a.children[1], 3, 1, 2, 0), RR_OK);
  float *f = rr__malloc(12);
  f[0] = 1.5f; f[1] = 0; f[2] = 2.5f;
  uint8_t *valid = rr__calloc(1, 1);
  valid[0] = 0x5; /* row 1 null */
  rr_arrow_array_set_buffer(a.children[1], 0, valid);
  rr_arrow_array_set_buffer(a.children[1], 1, f);
  struct rr_chunk c;
  rr_error e;
  assert_int_equal(rr__chunk_from_batch(&s, &a, &c, &e), RR_OK);
  assert_string_equal(c.entity_path, "/x/y");
  assert_int_equal(c.n_timelines, 0);
  assert_int_equal(c.n_components, 1);
  assert_string_equal(c.components[0].list_type.format, "+l");
  assert_int_equal(c.components[0].list.length, 3);
  assert_int_equal(c.components[0].list.null_count, 1);
  assert_true(rr__chunk_row_valid(&c, 0, 0));
  assert_false(rr__chunk_row_valid(&c, 0, 1));
  const int32_t *o = c.components[0].list.buffers[1];
  assert_int_equal(o[2] - o[1], 1);
  rr__chunk_clear(&c);
  a.release(&a);
  s.release(&s);
}

/* ---- compaction, clear, GC, concurrency --------------------------------------- */

static void test_compaction(void **state) {
  (void)state;
  for (int pass = 0; pass < 2; pass++) {
    rr_store_options o = {0};
    o.chunk_max_rows = pass ? 10 : 0;
    rr_store_hub *h = NULL;
    assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
    for (int i = 0; i < 100; i++) {
      int64_t t = i;
      double v = i * 0.5;
      assert_int_equal(add_rows(h, "/s", "Scalars:scalars", &t, &v, 1, (uint64_t)i + 1, i == 0), RR_OK);
    }
    assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
    rr_store *s = rr_store_hub_at(h, 0);
    size_t n = rr_store_chunk_count(s);
    assert_int_equal(n, pass ? 10 : 1);
    int64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
      rr_chunk_summary cs;
      assert_int_equal(rr_store_chunk_summary(s, i, &cs), RR_OK);
      assert_true(cs.num_rows <= (pass ? 10 : 4096));
      rows += cs.num_rows;
    }
    assert_int_equal(rows, 100);
    rr_latest_at r;
    assert_int_equal(rr_query_latest_at(s, "/s", "Scalars:scalars", "t", 57, &r, NULL), RR_OK);
    assert_true(la_value(&r) == 28.5);
    rr_latest_at_release(&r);
    rr_store_hub_free(h);
  }
}

/* A chunk of at least a quarter of chunk_max_bytes is not merged at
 * ingestion (it would cost a full copy for little gain); smaller ones are. */
static void test_compaction_skips_large(void **state) {
  (void)state;
  /* the bytes of one single-row chunk */
  rr_store_options o = {0};
  o.no_compaction = true;
  rr_store_hub *h = NULL;
  int64_t t = 0;
  double v = 1;
  assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
  assert_int_equal(add_rows(h, "/s", "Scalars:scalars", &t, &v, 1, 1, true), RR_OK);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  rr_chunk_summary cs;
  assert_int_equal(rr_store_chunk_summary(rr_store_hub_at(h, 0), 0, &cs), RR_OK);
  int64_t one = (int64_t)cs.bytes;
  assert_true(one > 0);
  rr_store_hub_free(h);
  /* room for 2 such chunks: each is over a quarter, none merged; with room
   * for 8 they are under a quarter and merge by groups (of at most 8) */
  for (int pass = 0; pass < 2; pass++) {
    memset(&o, 0, sizeof o);
    o.chunk_max_bytes = pass ? one * 8 + 8 : one * 2 + 2;
    assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
    for (int i = 0; i < 10; i++) {
      t = i;
      v = i;
      assert_int_equal(add_rows(h, "/s", "Scalars:scalars", &t, &v, 1, (uint64_t)i + 1, i == 0), RR_OK);
    }
    assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
    rr_store *s = rr_store_hub_at(h, 0);
    size_t n = rr_store_chunk_count(s);
    if (pass) assert_true(n >= 2 && n < 10);
    else assert_int_equal(n, 10);
    rr_latest_at r;
    assert_int_equal(rr_query_latest_at(s, "/s", "Scalars:scalars", "t", 7, &r, NULL), RR_OK);
    assert_true(la_value(&r) == 7);
    rr_latest_at_release(&r);
    /* an explicit full compaction still merges the large ones */
    if (!pass) {
      assert_int_equal(rr_store_compact(s, NULL), RR_OK);
      assert_true(rr_store_chunk_count(s) < 10);
    }
    rr_store_hub_free(h);
  }
}

static void test_clear(void **state) {
  (void)state;
  rr_store_hub *h = NULL;
  assert_int_equal(rr_store_hub_new(&h, NULL), RR_OK);
  int64_t t1 = 1, t2 = 2, t3 = 3;
  double v = 7;
  assert_int_equal(add_rows(h, "/a", "Scalars:scalars", &t1, &v, 1, 1, true), RR_OK);
  assert_int_equal(add_rows(h, "/a/b", "Scalars:scalars", &t1, &v, 1, 2, false), RR_OK);
  assert_int_equal(add_rows(h, "/c", "Scalars:scalars", &t1, &v, 1, 3, false), RR_OK);
  /* a recursive Clear on /a at t = 2 */
  struct rr_chunk c;
  memset(&c, 0, sizeof c);
  c.id = rr__tuid_new();
  c.entity_path = rr__strdup("/a");
  c.num_rows = 1;
  c.row_ids = rr__malloc(16);
  rr__tuid_to_be((rr_tuid){1000, 10}, c.row_ids);
  c.n_timelines = 1;
  c.timelines = rr__calloc(1, sizeof *c.timelines);
  c.timelines[0].name = rr__strdup("t");
  c.timelines[0].type = RR_TL_SEQUENCE;
  c.timelines[0].times = rr__malloc(8);
  c.timelines[0].times[0] = t2;
  c.n_components = 1;
  c.components = rr__calloc(1, sizeof *c.components);
  c.components[0].component = rr__strdup("Clear:is_recursive");
  c.components[0].archetype = rr__strdup("rerun.archetypes.Clear");
  assert_int_equal(rr_arrow_schema_init(&c.components[0].list_type, "+l", "", ARROW_FLAG_NULLABLE, 1), RR_OK);
  assert_int_equal(rr_arrow_schema_init(c.components[0].list_type.children[0], "b", "item", ARROW_FLAG_NULLABLE, 0), RR_OK);
  rr_arrow_builder *b = NULL;
  assert_int_equal(rr_arrow_builder_new(&b, &c.components[0].list_type), RR_OK);
  uint8_t yes = 1;
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b, 0), &yes, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_list_finish(b), RR_OK);
  assert_int_equal(rr_arrow_builder_finish(b, &c.components[0].list), RR_OK);
  rr_arrow_builder_free(b);
  assert_int_equal(feed_chunk(h, &c, false), RR_OK);
  /* data logged after the clear */
  double w = 9;
  assert_int_equal(add_rows(h, "/a/b", "Scalars:scalars", &t3, &w, 1, 20, false), RR_OK);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  rr_store *s = rr_store_hub_at(h, 0);
  rr_latest_at r;
  const char *ents[] = {"/a", "/a/b"};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(rr_query_latest_at(s, ents[i], "Scalars:scalars", "t", 1, &r, NULL), RR_OK);
    assert_true(la_value(&r) == 7);
    rr_latest_at_release(&r);
    assert_int_equal(rr_query_latest_at(s, ents[i], "Scalars:scalars", "t", 2, &r, NULL), RR_OK);
    assert_true(r.found);
    assert_int_equal(r.values.length, 0); /* cleared */
    rr_latest_at_release(&r);
  }
  assert_int_equal(rr_query_latest_at(s, "/a/b", "Scalars:scalars", "t", 3, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 9);
  rr_latest_at_release(&r);
  /* outside the subtree: untouched */
  assert_int_equal(rr_query_latest_at(s, "/c", "Scalars:scalars", "t", 5, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 7);
  rr_latest_at_release(&r);
  rr_store_hub_free(h);
}

static void test_gc(void **state) {
  (void)state;
  rr_store_options o = {0};
  o.memory_limit = 200000;
  o.chunk_max_rows = 256;
  rr_store_hub *h = NULL;
  assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
  double sv = 42;
  assert_int_equal(add_rows(h, "/static", "Scalars:scalars", NULL, &sv, 1, 1, true), RR_OK);
  int64_t t[256];
  double v[256];
  for (int k = 0; k < 40; k++) {
    for (int i = 0; i < 256; i++) { t[i] = k * 256 + i; v[i] = t[i]; }
    assert_int_equal(add_rows(h, "/s", "Scalars:scalars", t, v, 256, 100 + (uint64_t)k * 256, false), RR_OK);
    assert_true(rr_store_hub_memory(h) <= o.memory_limit);
  }
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  assert_true(rr_store_hub_memory(h) <= o.memory_limit);
  rr_store *s = rr_store_hub_at(h, 0);
  rr_latest_at r;
  /* static kept */
  assert_int_equal(rr_query_latest_at(s, "/static", "Scalars:scalars", "t", 0, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 42);
  rr_latest_at_release(&r);
  /* newest kept, oldest dropped */
  assert_int_equal(rr_query_latest_at(s, "/s", "Scalars:scalars", "t", 40 * 256 - 1, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 40 * 256 - 1);
  rr_latest_at_release(&r);
  assert_int_equal(rr_query_latest_at(s, "/s", "Scalars:scalars", "t", 10, &r, NULL), RR_OK);
  assert_false(r.found);
  rr_latest_at_release(&r);
  /* explicit GC to a smaller target */
  uint64_t before = rr_store_hub_memory(h);
  assert_true(rr_store_hub_gc(h, before / 2) > 0);
  assert_true(rr_store_hub_memory(h) <= before / 2);
  rr_store_hub_free(h);
}

/* A chunk of `rows` rows at "/big", each a list of 1000 f64 (t = row). */
static int add_big_rows(rr_store_hub *h, int64_t t0, int64_t rows, bool first) {
  static double vals[1000];
  struct rr_chunk c;
  int64_t *t = rr__malloc((size_t)rows * 8);
  double *one = rr__malloc((size_t)rows * 8);
  for (int64_t i = 0; i < rows; i++) { t[i] = t0 + i; one[i] = 0; }
  int rc = make_chunk(&c, "/big", "Scalars:scalars", t, one, rows, 1 + (uint64_t)t0);
  rr__free(t);
  rr__free(one);
  if (rc < 0) { rr__chunk_clear(&c); return rc; }
  /* replace the column: 1000 values per row, the first one = t */
  struct rr_chunk_component *k = &c.components[0];
  k->list.release(&k->list);
  rr_arrow_builder *b = NULL;
  rc = rr_arrow_builder_new(&b, &k->list_type);
  for (int64_t i = 0; i < rows && rc == RR_OK; i++) {
    vals[0] = (double)(t0 + i);
    rc = rr_arrow_builder_append_values(rr_arrow_builder_child(b, 0), vals, 1000);
    if (rc == RR_OK) rc = rr_arrow_builder_list_finish(b);
  }
  if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &k->list);
  rr_arrow_builder_free(b);
  if (rc < 0) { rr__chunk_clear(&c); return rc; }
  return feed_chunk(h, &c, first);
}

/* Chunks large enough for their decoded bytes to be carved from the hub's
 * blocks: GC under a limit frees them, and the holes left in blocks still
 * in use count toward the limit. */
static void test_gc_blocks(void **state) {
  (void)state;
  enum { ROWS = 64 }; /* 512 KB of values per chunk */
  for (int pass = 0; pass < 2; pass++) {
    rr_store_options o = {0};
    o.memory_limit = 8u << 20;
    /* pass 0: every chunk is large and kept as it arrived (in its block);
     * pass 1: chunks merge by groups (copies), leaving holes in blocks */
    o.chunk_max_bytes = pass ? 16 << 20 : 1 << 20;
    rr_store_hub *h = NULL;
    assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
    for (int k = 0; k < 60; k++) {
      assert_int_equal(add_big_rows(h, (int64_t)k * ROWS, ROWS, k == 0), RR_OK);
      assert_true(rr_store_hub_memory(h) <= o.memory_limit);
    }
    assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
    rr_blocks_stats bs;
    rr__blocks_stats(h->pool, &bs);
    if (!pass) assert_true(bs.live > (4u << 20)); /* the chunks live in blocks */
    assert_true(atomic_load(&h->mem) + (bs.held - bs.live) == rr_store_hub_memory(h));
    assert_true(rr_store_hub_memory(h) <= o.memory_limit);
    rr_latest_at r;
    rr_store *s = rr_store_hub_at(h, 0);
    assert_int_equal(rr_query_latest_at(s, "/big", "Scalars:scalars", "t", 60 * ROWS - 1, &r, NULL), RR_OK);
    assert_true(r.found && r.values.length == 1000);
    assert_true(((const double *)r.values.buffers[1])[r.values.offset] == 60.0 * ROWS - 1);
    rr_latest_at_release(&r);
    /* everything temporal goes: no block memory is left held */
    assert_true(rr_store_hub_gc(h, 0) > 0);
    assert_int_equal(rr_store_chunk_count(s), 0);
    rr__blocks_stats(h->pool, &bs);
    assert_int_equal(bs.live, 0);
    assert_int_equal(bs.held, 0);
    assert_int_equal(rr_store_hub_memory(h), 0);
    rr_store_hub_free(h);
  }
}

struct reader_arg { rr_store_hub *h; int found; };

static void *reader(void *p) {
  struct reader_arg *a = p;
  for (int i = 0; i < 2000; i++) {
    rr_store *s = rr_store_hub_at(a->h, 0);
    if (!s) continue;
    rr_latest_at r;
    if (rr_query_latest_at(s, "/s", "Scalars:scalars", "t", INT64_MAX, &r, NULL) == RR_OK && r.found) {
      if (la_value(&r) >= 0) a->found++;
    }
    rr_latest_at_release(&r);
  }
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  rr_store_hub *h = NULL;
  assert_int_equal(rr_store_hub_new(&h, NULL), RR_OK);
  int64_t t = 0;
  double v = 0;
  assert_int_equal(add_rows(h, "/s", "Scalars:scalars", &t, &v, 1, 1, true), RR_OK);
  struct reader_arg a = {h, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, reader, &a), 0);
  for (int i = 1; i < 500; i++) {
    t = i;
    v = i;
    assert_int_equal(add_rows(h, "/s", "Scalars:scalars", &t, &v, 1, 1 + (uint64_t)i, false), RR_OK);
  }
  pthread_join(th, NULL);
  assert_int_equal(a.found, 2000);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  rr_latest_at r;
  assert_int_equal(rr_query_latest_at(rr_store_hub_at(h, 0), "/s", "Scalars:scalars", "t", 1000, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 499);
  rr_latest_at_release(&r);
  rr_store_hub_free(h);
}

static void test_memory_limit_parse(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(rr_parse_memory_limit("2GB", &v, NULL), RR_OK);
  assert_true(v == 2000000000ull);
  assert_int_equal(rr_parse_memory_limit("512MiB", &v, NULL), RR_OK);
  assert_true(v == 512ull << 20);
  assert_int_equal(rr_parse_memory_limit("75%", &v, NULL), RR_OK);
  assert_true(v > 0);
  assert_int_equal(rr_parse_memory_limit("12XB", &v, NULL), RR_EINVAL);
  assert_int_equal(rr_parse_memory_limit("abc", &v, NULL), RR_EINVAL);
  assert_true(rr_entity_path_match("/a/**", "/a"));
  assert_true(rr_entity_path_match("/a/**", "/a/b/c"));
  assert_true(rr_entity_path_match("/a/*", "/a/b"));
  assert_false(rr_entity_path_match("/a/*", "/a/b/c"));
  assert_false(rr_entity_path_match("/a", "/ab"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),         cmocka_unit_test(test_from_batch),
      cmocka_unit_test(test_from_batch_legacy), cmocka_unit_test(test_compaction), cmocka_unit_test(test_compaction_skips_large),
      cmocka_unit_test(test_clear),          cmocka_unit_test(test_gc),
      cmocka_unit_test(test_gc_blocks),      cmocka_unit_test(test_concurrent),     cmocka_unit_test(test_memory_limit_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
