/* Write -> read round trips of every supported type, sliced batches,
 * append_array, schema-only streams and metadata. */
#include "arrow_test_util.h"

#define ROWS 37

static void check_roundtrip(const struct ArrowSchema *s, const struct ArrowArray *a, int alignment, bool zero_copy) {
  rr_buf out = RR_BUF_INIT;
  rr_error err = {0};
  assert_int_equal(rr_arrow_ipc_write(&out, s, a, alignment, &err), RR_OK);
  assert_int_equal(out.len % 8, 0);
  struct ArrowSchema s2;
  struct ArrowArray a2;
  size_t len;
  uint8_t *data = rr_buf_steal(&out, &len);
  int rc = zero_copy ? rr_arrow_ipc_read(data, len, rr__free, data, &s2, &a2, &err)
                     : rr_arrow_ipc_read(data, len, NULL, NULL, &s2, &a2, &err);
  if (rc != RR_OK) fail_msg("read failed: %s", err.msg);
  if (!zero_copy) rr__free(data);
  assert_true(rr_arrow_schema_equal(s, &s2, true));
  assert_int_equal(a2.length, a->length);
  assert_int_equal(rr_arrow_array_validate(&a2, &s2, NULL), RR_OK);
  for (int64_t c = 0; c < s->n_children; c++) {
    if (!arrays_equal(s->children[c], a->children[c], a->offset, a2.children[c], 0, a->length))
      fail_msg("column %s differs", s->children[c]->name);
    assert_int_equal(a2.children[c]->offset, 0);
  }
  a2.release(&a2);
  s2.release(&s2);
}

static void test_all_types(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  all_types_schema(&s);
  fill_batch(&s, ROWS, 42, &a);
  rr_error err = {0};
  if (rr_arrow_array_validate(&a, &s, &err) != RR_OK) fail_msg("%s", err.msg);
  check_roundtrip(&s, &a, 8, false);
  check_roundtrip(&s, &a, 64, false);
  check_roundtrip(&s, &a, 8, true);
  check_roundtrip(&s, &a, 64, true);
  /* a null count per nullable column was produced */
  int with_nulls = 0;
  for (int64_t c = 0; c < a.n_children; c++) with_nulls += a.children[c]->null_count > 0;
  assert_true(with_nulls > 10);
  a.release(&a);
  s.release(&s);
}

static void test_empty_batch(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  all_types_schema(&s);
  fill_batch(&s, 0, 1, &a);
  check_roundtrip(&s, &a, 8, true);
  a.release(&a);
  s.release(&s);
}

static void test_sliced(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  all_types_schema(&s);
  fill_batch(&s, ROWS, 7, &a);
  for (int64_t off = 1; off < 12; off += 3) {
    a.offset = off;
    a.length = ROWS - off - 5;
    check_roundtrip(&s, &a, 8, false);
  }
  /* column-level offsets too: slice every column by 3 and the batch by 2 */
  a.offset = 2;
  a.length = ROWS - 10;
  for (int64_t c = 0; c < a.n_children; c++) {
    struct ArrowArray *col = a.children[c];
    if (!strncmp(s.children[c]->format, "+ud", 3)) continue;
    col->offset += 3;
    col->length -= 3;
    col->null_count = -1; /* unknown after slicing */
  }
  rr_buf out = RR_BUF_INIT;
  rr_error err = {0};
  assert_int_equal(rr_arrow_ipc_write(&out, &s, &a, 8, &err), RR_OK);
  struct ArrowSchema s2;
  struct ArrowArray a2;
  assert_int_equal(rr_arrow_ipc_read(out.data, out.len, NULL, NULL, &s2, &a2, &err), RR_OK);
  for (int64_t c = 0; c < s.n_children; c++) {
    assert_true(arrays_equal(s.children[c], a.children[c], a.offset, a2.children[c], 0, a.length));
    if (a2.children[c]->null_count > 0 && strcmp(s.children[c]->format, "n")) assert_non_null(a2.children[c]->buffers[0]);
  }
  a2.release(&a2);
  s2.release(&s2);
  rr_buf_free(&out);
  a.release(&a);
  s.release(&s);
}

static void test_append_array(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  all_types_schema(&s);
  fill_batch(&s, ROWS, 99, &a);
  for (int64_t c = 0; c < s.n_children; c++) {
    rr_arrow_builder *b;
    assert_int_equal(rr_arrow_builder_new(&b, s.children[c]), RR_OK);
    assert_int_equal(rr_arrow_builder_append_array(b, a.children[c], s.children[c], 5, 20), RR_OK);
    assert_int_equal(rr_arrow_builder_append_array(b, a.children[c], s.children[c], 0, 3), RR_OK);
    assert_int_equal(rr_arrow_builder_length(b), 23);
    struct ArrowArray out;
    assert_int_equal(rr_arrow_builder_finish(b, &out), RR_OK);
    rr_error err = {0};
    if (rr_arrow_array_validate(&out, s.children[c], &err) != RR_OK) fail_msg("%s", err.msg);
    assert_true(arrays_equal(s.children[c], a.children[c], 5, &out, 0, 20));
    assert_true(arrays_equal(s.children[c], a.children[c], 0, &out, 20, 3));
    assert_int_equal(rr_arrow_builder_append_array(b, a.children[c], s.children[c], 30, 8), RR_EINVAL);
    out.release(&out);
    rr_arrow_builder_free(b);
  }
  a.release(&a);
  s.release(&s);
}

static void test_schema_only(void **state) {
  struct ArrowSchema s, s2;
  struct ArrowArray a;
  all_types_schema(&s);
  rr_buf out = RR_BUF_INIT;
  assert_int_equal(rr_arrow_ipc_write_schema(&out, &s, NULL), RR_OK);
  assert_int_equal(rr_arrow_ipc_read(out.data, out.len, NULL, NULL, &s2, NULL, NULL), RR_OK);
  assert_true(rr_arrow_schema_equal(&s, &s2, true));
  s2.release(&s2);
  rr_error err = {0};
  assert_int_equal(rr_arrow_ipc_read(out.data, out.len, NULL, NULL, &s2, &a, &err), RR_EEOF);
  assert_null(s2.release);
  rr_buf_free(&out);
  s.release(&s);
}

static void test_metadata_and_schema(void **state) {
  struct ArrowSchema s, c;
  mk(&s, "+s", "root", false, 1);
  rr_arrow_kv kv[3] = {{{"a", 1}, {"1", 1}}, {{"b", 1}, {"", 0}}, {{"a", 1}, {"3", 1}}};
  assert_int_equal(rr_arrow_schema_set_metadata(&s, kv, 3), RR_OK);
  assert_int_equal(rr_arrow_metadata_count(s.metadata), 3);
  rr_arrow_kv at;
  assert_int_equal(rr_arrow_metadata_at(s.metadata, 1, &at), RR_OK);
  assert_int_equal(at.key.len, 1);
  assert_int_equal(at.value.len, 0);
  assert_int_equal(rr_arrow_metadata_at(s.metadata, 3, &at), RR_ERANGE);
  rr_str v;
  assert_int_equal(rr_arrow_metadata_get(s.metadata, "a", &v), RR_OK);
  assert_memory_equal(v.ptr, "3", 1);
  assert_int_equal(rr_arrow_metadata_count(NULL), 0);
  mk(s.children[0], "tsn:Europe/Paris", "t", true, 0);
  assert_int_equal(rr_arrow_schema_copy(&c, &s), RR_OK);
  assert_true(rr_arrow_schema_equal(&s, &c, true));
  /* the duplicate key is dropped by the IPC round trip: last wins */
  rr_buf out = RR_BUF_INIT;
  assert_int_equal(rr_arrow_ipc_write_schema(&out, &s, NULL), RR_OK);
  struct ArrowSchema r;
  assert_int_equal(rr_arrow_ipc_read(out.data, out.len, NULL, NULL, &r, NULL, NULL), RR_OK);
  assert_int_equal(rr_arrow_metadata_count(r.metadata), 2);
  assert_int_equal(rr_arrow_metadata_get(r.metadata, "a", &v), RR_OK);
  assert_memory_equal(v.ptr, "3", 1);
  assert_string_equal(r.children[0]->format, "tsn:Europe/Paris");
  rr_buf f = RR_BUF_INIT;
  assert_int_equal(rr_arrow_schema_format(r.children[0], &f), RR_OK);
  assert_int_equal(rr_buf_append(&f, "", 1), RR_OK);
  assert_string_equal((char *)f.data, "Timestamp(ns, \"Europe/Paris\")");
  rr_buf_free(&f);
  r.release(&r);
  rr_buf_free(&out);
  assert_int_equal(rr_arrow_schema_set_metadata(&c, NULL, 0), RR_OK);
  assert_null(c.metadata);
  assert_false(rr_arrow_schema_equal(&s, &c, true));
  assert_true(rr_arrow_schema_equal(&s, &c, false));
  struct ArrowSchema m;
  rr_arrow_schema_move(&c, &m);
  assert_null(c.release);
  assert_false(rr_arrow_schema_equal(&s, m.children[0], false));
  m.release(&m);
  s.release(&s);
}

static void test_write_rejects(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  rr_buf out = RR_BUF_INIT;
  rr_error err = {0};
  mk(&s, "+s", "", false, 1);
  mk(s.children[0], "+l", "bad", true, 0); /* list without a child */
  assert_int_equal(rr_arrow_array_init(&a, 0, 0, 1, 1), RR_OK);
  assert_int_equal(rr_arrow_array_init(a.children[0], 0, 0, 2, 0), RR_OK);
  assert_int_not_equal(rr_arrow_ipc_write(&out, &s, &a, 8, &err), RR_OK);
  assert_int_equal(out.len, 0);
  assert_int_equal(rr_arrow_ipc_write(&out, &s, &a, 16, &err), RR_EINVAL);
  a.release(&a);
  s.release(&s);
  rr_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_types),       cmocka_unit_test(test_empty_batch),
      cmocka_unit_test(test_sliced),          cmocka_unit_test(test_append_array),
      cmocka_unit_test(test_schema_only),     cmocka_unit_test(test_metadata_and_schema),
      cmocka_unit_test(test_write_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
