/* Messages written in parts (owned + borrowed segments) must be byte for
 * byte the messages written in one piece: the segment list itself, the
 * Arrow IPC stream with borrowed value buffers, and an ArrowMsg framed
 * around a payload kept elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <lz4.h>
#include <stdlib.h>

#include "arrow/rr_arrow.h"
#include "encoding/rr_encoding.h"

/* The parts of `s` concatenated. */
static rr_buf gather(rr_segs *s) {
  assert_int_equal(rr_segs_sync(s), RR_OK);
  rr_buf g = RR_BUF_INIT;
  for (size_t i = 0; i < rr_segs_count(s); i++) {
    size_t n;
    const uint8_t *p = rr_segs_ptr(s, i, &n);
    assert_int_equal(rr_buf_append(&g, p, n), RR_OK);
  }
  assert_int_equal(g.len, rr_segs_len(s));
  return g;
}

static void test_segs(void **state) {
  (void)state;
  static uint8_t big[100], big2[100];
  for (int i = 0; i < 100; i++) big[i] = (uint8_t)i, big2[i] = (uint8_t)(200 - i);
  rr_buf own = RR_BUF_INIT;
  assert_int_equal(rr_buf_append(&own, "pre", 3), RR_OK); /* before the list: not part of it */
  rr_segs s;
  rr_segs_init(&s, &own, 50);
  assert_int_equal(rr_buf_append(&own, "ab", 2), RR_OK);
  assert_int_equal(rr_segs_ref(&s, big, 10), RR_OK);  /* short: copied */
  assert_int_equal(rr_segs_ref(&s, big, 60), RR_OK);  /* borrowed */
  assert_int_equal(rr_segs_ref(&s, big + 60, 40), RR_OK); /* short, copied even though adjacent */
  assert_int_equal(rr_segs_ref(&s, big2, 100), RR_OK);
  assert_int_equal(rr_buf_append(&own, "z", 1), RR_OK);
  rr_buf g = gather(&s);
  uint8_t want[2 + 10 + 60 + 40 + 100 + 1];
  memcpy(want, "ab", 2);
  memcpy(want + 2, big, 10);
  memcpy(want + 12, big, 60);
  memcpy(want + 72, big + 60, 40);
  memcpy(want + 112, big2, 100);
  want[212] = 'z';
  assert_int_equal(g.len, sizeof want);
  assert_memory_equal(g.data, want, sizeof want);
  /* owned, borrowed, owned, borrowed, owned */
  assert_int_equal(rr_segs_count(&s), 5);
  size_t n;
  assert_ptr_equal(rr_segs_ptr(&s, 1, &n), big);
  assert_int_equal(n, 60);
  /* adjacent borrowed ranges merge */
  rr_segs t;
  rr_buf own2 = RR_BUF_INIT;
  rr_segs_init(&t, &own2, 8);
  assert_int_equal(rr_segs_ref(&t, big, 50), RR_OK);
  assert_int_equal(rr_segs_ref(&t, big + 50, 50), RR_OK);
  assert_int_equal(rr_segs_sync(&t), RR_OK);
  assert_int_equal(rr_segs_count(&t), 1);
  assert_int_equal(rr_segs_len(&t), 100);
  rr_segs_free(&t);
  rr_buf_free(&own2);
  rr_buf_free(&g);
  rr_segs_free(&s);
  rr_buf_free(&own);
}

/* A batch with a list<fixed_size_list<float,3>> column, a nullable int32
 * column with an offset (bit-shifted validity) and a utf8 column sliced so
 * its offsets get rebased: the writer must borrow only plain value ranges. */
static void make_batch(struct ArrowSchema *sch, struct ArrowArray *arr, float *pts, int64_t npts) {
  assert_int_equal(rr_arrow_schema_init(sch, "+s", "", 0, 3), RR_OK);
  assert_int_equal(rr_arrow_schema_init(sch->children[0], "+l", "pos", ARROW_FLAG_NULLABLE, 1), RR_OK);
  assert_int_equal(rr_arrow_schema_init(sch->children[0]->children[0], "+w:3", "item", ARROW_FLAG_NULLABLE, 1), RR_OK);
  assert_int_equal(rr_arrow_schema_init(sch->children[0]->children[0]->children[0], "f", "item", 0, 0), RR_OK);
  assert_int_equal(rr_arrow_schema_init(sch->children[1], "i", "n", ARROW_FLAG_NULLABLE, 0), RR_OK);
  assert_int_equal(rr_arrow_schema_init(sch->children[2], "u", "s", ARROW_FLAG_NULLABLE, 0), RR_OK);
  rr_arrow_builder *b[3];
  for (int k = 0; k < 3; k++) assert_int_equal(rr_arrow_builder_new(&b[k], sch->children[k]), RR_OK);
  /* two rows: npts - 5 points, then 5 points */
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b[0], 0), pts, npts - 5), RR_OK);
  assert_int_equal(rr_arrow_builder_list_finish(b[0]), RR_OK);
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b[0], 0), pts + 3 * (npts - 5), 5), RR_OK);
  assert_int_equal(rr_arrow_builder_list_finish(b[0]), RR_OK);
  int32_t v = 7;
  assert_int_equal(rr_arrow_builder_append_values(b[1], &v, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(b[1], 1), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b[2], "hello", 5), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b[2], "world!", 6), RR_OK);
  assert_int_equal(rr_arrow_array_init(arr, 2, 0, 1, 3), RR_OK);
  for (int k = 0; k < 3; k++) {
    assert_int_equal(rr_arrow_builder_finish(b[k], arr->children[k]), RR_OK);
    rr_arrow_builder_free(b[k]);
  }
}

static void test_ipc_segments(void **state) {
  (void)state;
  int64_t npts = 40000;
  float *pts = malloc((size_t)npts * 12);
  for (int64_t i = 0; i < 3 * npts; i++) pts[i] = (float)i * 0.5f;
  struct ArrowSchema sch;
  struct ArrowArray arr;
  make_batch(&sch, &arr, pts, npts);
  /* whole, then only the first row (the list's values are still
   * borrowed), then only the second row (offsets rebased, validity bits
   * shifted: written, not borrowed) */
  for (int v = 0; v < 6; v++) {
    int align = v % 2 ? 64 : 8;
    arr.offset = v / 2 == 2 ? 1 : 0;
    arr.length = v / 2 == 0 ? 2 : 1;
    rr_buf flat = RR_BUF_INIT, own = RR_BUF_INIT;
    rr_error err = {0};
    assert_int_equal(rr_arrow_ipc_write(&flat, &sch, &arr, align, &err), RR_OK);
    rr_segs s;
    rr_segs_init(&s, &own, 4096);
    assert_int_equal(rr_arrow_ipc_write_segs(&s, &sch, &arr, align, &err), RR_OK);
    rr_buf g = gather(&s);
    assert_int_equal(g.len, flat.len);
    assert_memory_equal(g.data, flat.data, flat.len);
    bool borrowed = false;
    for (size_t i = 0; i < rr_segs_count(&s); i++) {
      size_t n;
      const uint8_t *p = rr_segs_ptr(&s, i, &n);
      if (p < own.data || p >= own.data + own.len) borrowed = true;
    }
    /* the point values are borrowed, not copied, when they are written */
    assert_int_equal(borrowed, v / 2 != 2);
    if (borrowed) assert_true(own.len < flat.len / 4);
    rr_buf_free(&g);
    rr_segs_free(&s);
    rr_buf_free(&own);
    rr_buf_free(&flat);
  }
  arr.offset = 0;
  arr.length = 2;
  arr.release(&arr);
  sch.release(&sch);
  free(pts);
}

/* Frames `payload` in parts and checks head + payload + tail == want. */
static void check_parts(const rr_log_msg *m, rr_framing framing, bool lz4, const void *payload, size_t n,
                        size_t uncompressed, const rr_buf *want) {
  rr_buf parts = RR_BUF_INIT, got = RR_BUF_INIT;
  rr_error err = {0};
  size_t head = 0;
  assert_int_equal(rr_arrow_msg_encode_parts(&parts, &head, m, framing, lz4, n, uncompressed, &err), RR_OK);
  assert_int_equal(rr_buf_append(&got, parts.data, head), RR_OK);
  assert_int_equal(rr_buf_append(&got, payload, n), RR_OK);
  assert_int_equal(rr_buf_append(&got, parts.data + head, parts.len - head), RR_OK);
  assert_int_equal(got.len, want->len);
  assert_memory_equal(got.data, want->data, want->len);
  rr_buf_free(&got);
  rr_buf_free(&parts);
}

static void test_arrow_msg_parts(void **state) {
  (void)state;
  static uint8_t payload[300];
  for (int i = 0; i < 300; i++) payload[i] = (uint8_t)(i * 13);
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec_x", 5}};
  size_t lens[] = {0, 1, 127, 128, 300};
  for (int framing = 0; framing < 3; framing++)
      for (int with_id = 0; with_id < 2; with_id++)
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
          rr_log_msg m;
          memset(&m, 0, sizeof m);
          m.kind = RR_MSG_ARROW;
          m.store_id = id;
          m.arrow.ipc = (rr_bytes){payload, lens[li]};
          m.arrow.has_chunk_id = with_id;
          m.arrow.chunk_id = (rr_tuid){123456789, 42};
          m.arrow.has_is_static = true;
          m.arrow.is_static = with_id;
          rr_buf want = RR_BUF_INIT;
          rr_error err = {0};
          assert_int_equal(rr_log_msg_encode(&want, &m, (rr_framing)framing, false, &err), RR_OK);
          check_parts(&m, (rr_framing)framing, false, payload, lens[li], lens[li], &want);
          rr_buf_free(&want);
        }
}

/* An LZ4 payload framed in parts decodes to the original IPC bytes. */
static void test_arrow_msg_parts_lz4(void **state) {
  (void)state;
  static uint8_t ipc[5000];
  for (int i = 0; i < 5000; i++) ipc[i] = (uint8_t)(i / 50);
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec_x", 5}};
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_ARROW;
  m.store_id = id;
  m.arrow.has_is_static = true;
  /* compressed by rr_log_msg_encode: the reference bytes */
  m.arrow.ipc = (rr_bytes){ipc, sizeof ipc};
  rr_buf want = RR_BUF_INIT;
  rr_error err = {0};
  assert_int_equal(rr_log_msg_encode(&want, &m, RR_FRAMING_RRD, true, &err), RR_OK);
  /* the same LZ4 block framed in parts */
  char z[LZ4_COMPRESSBOUND(5000)];
  int zn = LZ4_compress_default((const char *)ipc, z, 5000, (int)sizeof z);
  assert_true(zn > 0);
  check_parts(&m, RR_FRAMING_RRD, true, z, (size_t)zn, sizeof ipc, &want);
  rr_buf_free(&want);
}

static void test_arrow_msg_parts_rejects(void **state) {
  (void)state;
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_SET_STORE_INFO;
  rr_buf out = RR_BUF_INIT;
  size_t head = 0;
  rr_error err = {0};
  assert_int_equal(rr_arrow_msg_encode_parts(&out, &head, &m, RR_FRAMING_RRD, false, 0, 0, &err), RR_EINVAL);
  assert_non_null(strstr(err.msg, "ArrowMsg"));
  m.kind = RR_MSG_ARROW;
  assert_int_equal(rr_arrow_msg_encode_parts(&out, &head, &m, (rr_framing)9, false, 0, 0, &err), RR_EINVAL);
  assert_int_equal(out.len, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_segs),
      cmocka_unit_test(test_ipc_segments),
      cmocka_unit_test(test_arrow_msg_parts),
      cmocka_unit_test(test_arrow_msg_parts_lz4),
      cmocka_unit_test(test_arrow_msg_parts_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
