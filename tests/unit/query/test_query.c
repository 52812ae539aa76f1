/* Query tests: latest-at semantics (ties, nulls, static shadowing), range
 * (order, bounds, zero copy), dataframe (rows, fill), IPC file writer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../store/store_test_util.h"

static rr_store_hub *hub(void) {
  rr_store_options o = {0};
  o.no_compaction = true;
  rr_store_hub *h = NULL;
  assert_int_equal(rr_store_hub_new(&h, &o), RR_OK);
  return h;
}

static void test_latest_at(void **state) {
  (void)state;
  rr_store_hub *h = hub();
  const int64_t t[4] = {10, 20, 20, 30};
  const double v[4] = {1, 2, 3, NAN}; /* row 3 holds no value */
  assert_int_equal(add_rows(h, "/e", "Scalars:scalars", t, v, 4, 100, true), RR_OK);
  /* a second chunk: same time 20, lower RowId than both rows at 20 */
  const int64_t t2 = 20;
  const double v2 = 99;
  assert_int_equal(add_rows(h, "/e", "Scalars:scalars", &t2, &v2, 1, 50, false), RR_OK);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  rr_store *s = rr_store_hub_at(h, 0);
  rr_latest_at r;
  assert_int_equal(rr_query_latest_at(s, "/e", "Scalars:scalars", "t", 9, &r, NULL), RR_OK);
  assert_false(r.found);
  rr_latest_at_release(&r);
  assert_int_equal(rr_query_latest_at(s, "/e", "Scalars:scalars", "t", 15, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 1 && r.time == 10);
  rr_latest_at_release(&r);
  /* the tie at 20 goes to the greatest RowId (row 2: value 3) */
  assert_int_equal(rr_query_latest_at(s, "/e", "Scalars:scalars", "t", 20, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 3);
  rr_latest_at_release(&r);
  /* the null at 30 is skipped */
  assert_int_equal(rr_query_latest_at(s, "/e", "Scalars:scalars", "t", 1000, &r, NULL), RR_OK);
  assert_true(la_value(&r) == 3 && r.time == 20);
  rr_latest_at_release(&r);
  /* unknown things */
  assert_int_equal(rr_query_latest_at(s, "/nope", "Scalars:scalars", "t", 15, &r, NULL), RR_OK);
  assert_false(r.found);
  rr_latest_at_release(&r);
  assert_int_equal(rr_query_latest_at(s, "/e", "Scalars:scalars", "other", 15, &r, NULL), RR_OK);
  assert_false(r.found);
  rr_latest_at_release(&r);
  /* static shadows temporal */
  const double sv = -1;
  assert_int_equal(add_rows(h, "/e", "Scalars:scalars", NULL, &sv, 1, 1, true), RR_OK);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  assert_int_equal(rr_query_latest_at(s, "/e", "Scalars:scalars", "t", 15, &r, NULL), RR_OK);
  assert_true(r.is_static && la_value(&r) == -1);
  /* the result outlives the data */
  assert_true(rr_store_hub_gc(h, 0) > 0);
  rr_store_hub_free(h);
  assert_true(la_value(&r) == -1);
  rr_latest_at_release(&r);
}

/* Rows in [t0, t1] over all range batches. */
static int64_t range_rows(rr_store *s, const char *e, int64_t t0, int64_t t1) {
  rr_range_query *q = NULL;
  assert_int_equal(rr_query_range_new(&q, s, e, "Scalars:scalars", "t", t0, t1, NULL), RR_OK);
  int64_t n = 0;
  struct ArrowSchema sc;
  struct ArrowArray b;
  while (rr_query_range_next(q, &sc, &b, NULL) == RR_OK) {
    n += b.length;
    b.release(&b);
    sc.release(&sc);
  }
  rr_query_range_free(q);
  return n;
}

/* The time searches (fences, then bisection) against brute force, on
 * sorted and unsorted chunks of sizes around the fence count, with ties. */
static void test_search_bounds(void **state) {
  (void)state;
  const int64_t sizes[] = {1, 2, 15, 16, 17, 33, 100, 1000};
  uint64_t seed = 12345;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    for (int sorted = 0; sorted < 2; sorted++) {
      int64_t n = sizes[si];
      int64_t *t = malloc((size_t)n * sizeof *t);
      double *v = malloc((size_t)n * sizeof *v);
      int64_t span = n / 3 + 2; /* ties */
      for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = sorted ? i * span / n : (int64_t)((seed >> 33) % (uint64_t)span);
        v[i] = (double)i;
      }
      rr_store_hub *h = hub();
      assert_int_equal(add_rows(h, "/b", "Scalars:scalars", t, v, n, 1000, true), RR_OK);
      assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
      rr_store *s = rr_store_hub_at(h, 0);
      for (int64_t x = -2; x <= span + 1; x++) {
        /* greatest (time, RowId) with time <= x; RowIds grow with i */
        int64_t want = -1;
        for (int64_t i = 0; i < n; i++)
          if (t[i] <= x && (want < 0 || t[i] > t[want] || (t[i] == t[want] && i > want))) want = i;
        rr_latest_at r;
        assert_int_equal(rr_query_latest_at(s, "/b", "Scalars:scalars", "t", x, &r, NULL), RR_OK);
        if (want < 0) assert_false(r.found);
        else assert_true(r.found && la_value(&r) == (double)want && r.time == t[want]);
        rr_latest_at_release(&r);
        for (int64_t w = 0; w <= 3; w++) {
          int64_t cnt = 0;
          for (int64_t i = 0; i < n; i++) cnt += t[i] >= x && t[i] <= x + w;
          assert_int_equal(range_rows(s, "/b", x, x + w), cnt);
        }
      }
      rr_store_hub_free(h);
      free(t);
      free(v);
    }
  }
}

static void test_range(void **state) {
  (void)state;
  rr_store_hub *h = hub();
  int64_t t[100];
  double v[100];
  for (int i = 0; i < 100; i++) { t[i] = i; v[i] = i; }
  assert_int_equal(add_rows(h, "/r", "Scalars:scalars", t, v, 50, 1, true), RR_OK);
  /* second chunk out of time order within itself */
  for (int i = 50; i < 100; i++) t[i] = 149 - i; /* 99 .. 50 */
  for (int i = 50; i < 100; i++) v[i] = (double)t[i];
  assert_int_equal(add_rows(h, "/r", "Scalars:scalars", t + 50, v + 50, 50, 1000, false), RR_OK);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  rr_store *s = rr_store_hub_at(h, 0);
  rr_range_query *q = NULL;
  assert_int_equal(rr_query_range_new(&q, s, "/r", "Scalars:scalars", "t", 40, 59, NULL), RR_OK);
  int64_t seen = 0, last = INT64_MIN;
  int batches = 0;
  for (;;) {
    struct ArrowSchema sc;
    struct ArrowArray b;
    int rc = rr_query_range_next(q, &sc, &b, NULL);
    if (rc == RR_EEOF) break;
    assert_int_equal(rc, RR_OK);
    batches++;
    assert_int_equal(sc.n_children, 3);
    assert_string_equal(sc.children[1]->name, "t");
    const int64_t *tm = (const int64_t *)b.children[1]->buffers[1] + b.children[1]->offset;
    const struct ArrowArray *l = b.children[2];
    const int32_t *o = l->buffers[1];
    const double *d = l->children[0]->buffers[1];
    for (int64_t i = 0; i < b.length; i++) {
      assert_true(tm[i] >= 40 && tm[i] <= 59);
      assert_true(tm[i] >= last);
      last = tm[i];
      assert_true(d[l->children[0]->offset + o[l->offset + i]] == (double)tm[i]);
      seen++;
    }
    if (batches == 1) /* the sorted chunk is a view: its buffer is the chunk's */
      assert_ptr_equal(d, rr__store_entity(s, "/r")->chunks[0]->c.components[0].list.children[0]->buffers[1]);
    b.release(&b);
    sc.release(&sc);
  }
  assert_int_equal(batches, 2);
  assert_int_equal(seen, 20);
  rr_query_range_free(q);
  rr_store_hub_free(h);
}

static void test_dataframe(void **state) {
  (void)state;
  rr_store_hub *h = hub();
  const int64_t ta[3] = {1, 2, 4};
  const double va[3] = {10, 20, 40};
  const int64_t tb[2] = {2, 3};
  const double vb[2] = {200, 300};
  assert_int_equal(add_rows(h, "/a", "Scalars:scalars", ta, va, 3, 1, true), RR_OK);
  assert_int_equal(add_rows(h, "/b", "Scalars:scalars", tb, vb, 2, 10, false), RR_OK);
  assert_int_equal(rr_store_hub_finish(h, NULL), RR_OK);
  rr_store *s = rr_store_hub_at(h, 0);
  for (int fill = 0; fill < 2; fill++) {
    rr_dataframe_options o = {0};
    o.index = "t";
    o.time_min = 2;
    o.time_max = 10;
    o.fill_latest_at = fill;
    o.batch_rows = 2;
    rr_dataframe_query *q = NULL;
    assert_int_equal(rr_query_dataframe_new(&q, s, &o, NULL), RR_OK);
    /* rows at 2, 3, 4; columns /a, /b */
    const double want[2][3][2] = {{{20, 200}, {NAN, 300}, {40, NAN}}, {{20, 200}, {20, 300}, {40, 300}}};
    int64_t row = 0;
    for (;;) {
      struct ArrowSchema sc;
      struct ArrowArray b;
      int rc = rr_query_dataframe_next(q, &sc, &b, NULL);
      if (rc == RR_EEOF) break;
      assert_int_equal(rc, RR_OK);
      assert_int_equal(sc.n_children, 3);
      assert_string_equal(sc.children[1]->name, "/a:Scalars:scalars");
      assert_string_equal(sc.children[2]->name, "/b:Scalars:scalars");
      assert_true(b.length <= 2);
      for (int64_t i = 0; i < b.length; i++, row++) {
        assert_int_equal(((const int64_t *)b.children[0]->buffers[1])[i], 2 + row);
        for (int c = 0; c < 2; c++) {
          char *txt = rr_format_value(sc.children[1 + c], b.children[1 + c], i, RR_FORMAT_TEXT);
          char expect[32];
          double w = want[fill][row][c];
          if (isnan(w)) snprintf(expect, sizeof expect, "null");
          else snprintf(expect, sizeof expect, "[%g]", w);
          assert_string_equal(txt, expect);
          rr_string_free(txt);
        }
      }
      b.release(&b);
      sc.release(&sc);
    }
    assert_int_equal(row, 3);
    rr_query_dataframe_free(q);
  }
  rr_dataframe_options bad = {0};
  bad.index = "nope";
  rr_dataframe_query *q = NULL;
  assert_int_equal(rr_query_dataframe_new(&q, s, &bad, NULL), RR_ENOTFOUND);
  rr_store_hub_free(h);
}

static int to_buf(void *ud, const void *p, size_t n) { return rr_buf_append(ud, p, n); }

static void test_ipc_file(void **state) {
  (void)state;
  const double v[3] = {1.5, 2.5, 3.5};
  const int64_t t[3] = {1, 2, 3};
  struct rr_chunk c;
  assert_int_equal(make_chunk(&c, "/f", "Scalars:scalars", t, v, 3, 1), RR_OK);
  struct ArrowSchema s;
  struct ArrowArray a;
  assert_int_equal(rr__chunk_to_batch(&c, &s, &a, NULL), RR_OK);
  rr_buf out = RR_BUF_INIT;
  rr_ipc_file_writer *w = NULL;
  assert_int_equal(rr_ipc_file_writer_new(&w, &s, to_buf, &out, NULL), RR_OK);
  assert_int_equal(rr_ipc_file_writer_add(w, &a, NULL), RR_OK);
  assert_int_equal(rr_ipc_file_writer_add(w, &a, NULL), RR_OK);
  assert_int_equal(rr_ipc_file_writer_finish(w, NULL), RR_OK);
  rr_ipc_file_writer_free(w);
  assert_memory_equal(out.data, "ARROW1\0\0", 8);
  assert_memory_equal(out.data + out.len - 6, "ARROW1", 6);
  uint32_t flen = rr__get_u32le(out.data + out.len - 10);
  assert_true(flen < out.len);
  /* the footer's two blocks point at record batch messages the reader accepts */
  const uint8_t *f = out.data + out.len - 10 - flen;
  uint32_t root = rr__get_u32le(f);
  uint32_t vecpos = root + 8 + rr__get_u32le(f + root + 8);
  assert_int_equal(rr__get_u32le(f + vecpos), 2);
  /* a stream made of the file's schema message and the first block reads back */
  uint64_t off = rr__get_u64le(f + vecpos + 4);
  uint32_t meta = rr__get_u32le(f + vecpos + 12);
  uint64_t body = rr__get_u64le(f + vecpos + 20);
  rr_buf st = RR_BUF_INIT;
  uint32_t sml = rr__get_u32le(out.data + 12);
  assert_int_equal(rr_buf_append(&st, out.data + 8, 8 + sml), RR_OK);
  assert_int_equal(rr_buf_append(&st, out.data + off, meta + body), RR_OK);
  struct ArrowSchema s2;
  struct ArrowArray a2;
  rr_error e;
  assert_int_equal(rr_arrow_ipc_read(st.data, st.len, NULL, NULL, &s2, &a2, &e), RR_OK);
  assert_int_equal(a2.length, 3);
  a2.release(&a2);
  s2.release(&s2);
  rr_buf_free(&st);
  rr_buf_free(&out);
  a.release(&a);
  s.release(&s);
  rr__chunk_clear(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_latest_at), cmocka_unit_test(test_search_bounds), cmocka_unit_test(test_range),
      cmocka_unit_test(test_dataframe), cmocka_unit_test(test_ipc_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
