/* IPC writer and reader against the spec's test vector; robustness of the
 * reader against truncation and byte flips. */
#include "arrow_test_util.h"
#include "spec_vector.h"

static uint8_t vec[2048];
static size_t vec_len;

static int setup(void **state) {
  vec_len = hex_decode(spec_vector_hex, vec);
  return vec_len == 1144 ? 0 : -1;
}

static void test_write_matches_spec_vector(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  spec_example(&s, &a);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  rr_buf out = RR_BUF_INIT;
  rr_error err = {0};
  assert_int_equal(rr_arrow_ipc_write(&out, &s, &a, 8, &err), RR_OK);
  assert_int_equal(out.len, 1144);
  for (size_t i = 0; i < out.len; i++)
    if (out.data[i] != vec[i]) fail_msg("byte %zu differs: %02x vs %02x", i, out.data[i], vec[i]);
  rr_buf_free(&out);
  a.release(&a);
  s.release(&s);
}

static void test_write_64(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  spec_example(&s, &a);
  rr_buf out = RR_BUF_INIT;
  assert_int_equal(rr_buf_append(&out, "x", 1), RR_OK); /* start at an odd position */
  assert_int_equal(rr_arrow_ipc_write(&out, &s, &a, 64, NULL), RR_OK);
  const uint8_t *p = out.data + 1;
  assert_int_equal(out.len - 1, 1416);
  assert_int_equal(rr__get_u32le(p + 4), 760);
  const uint8_t *rb = p + 768;
  assert_int_equal(rr__get_u32le(rb + 4), 312);
  /* buffers vector: fb+0x0a8 in the RecordBatch flatbuffer, 9 x {offset, length} */
  static const int64_t offs[9] = {0, 0, 64, 64, 128, 192, 256, 256, 256};
  static const int64_t lens[9] = {0, 32, 0, 16, 1, 12, 0, 0, 24};
  assert_int_equal(rr__get_u32le(rb + 8 + 0xa4), 9);
  for (int i = 0; i < 9; i++) {
    assert_int_equal(rr__get_u64le(rb + 8 + 0xa8 + 16 * i), offs[i]);
    assert_int_equal(rr__get_u64le(rb + 8 + 0xb0 + 16 * i), lens[i]);
  }
  assert_int_equal(rr__get_u64le(rb + 8 + 0x18), 320); /* bodyLength */
  /* and it reads back */
  struct ArrowSchema s2;
  struct ArrowArray a2;
  rr_error err = {0};
  assert_int_equal(rr_arrow_ipc_read(p, out.len - 1, NULL, NULL, &s2, &a2, &err), RR_OK);
  assert_true(rr_arrow_schema_equal(&s, &s2, true));
  a2.release(&a2);
  s2.release(&s2);
  rr_buf_free(&out);
  a.release(&a);
  s.release(&s);
}

static int freed;
static void count_free(void *p) {
  freed++;
  free(p);
}

static void check_spec_values(const struct ArrowSchema *s, const struct ArrowArray *a) {
  assert_string_equal(s->format, "+s");
  assert_int_equal(s->n_children, 3);
  rr_str v;
  assert_int_equal(rr_arrow_metadata_count(s->metadata), 2);
  assert_int_equal(rr_arrow_metadata_get(s->metadata, "rerun:entity_path", &v), RR_OK);
  assert_int_equal(v.len, 7);
  assert_memory_equal(v.ptr, "/points", 7);
  assert_int_equal(rr_arrow_metadata_get(s->metadata, "sorbet:version", &v), RR_OK);
  assert_memory_equal(v.ptr, "0.1.3", 5);
  assert_int_equal(rr_arrow_metadata_get(s->metadata, "nope", &v), RR_ENOTFOUND);
  assert_string_equal(s->children[0]->format, "w:16");
  assert_string_equal(s->children[0]->name, "rerun.controls.RowId");
  assert_int_equal(s->children[0]->flags & ARROW_FLAG_NULLABLE, 0);
  assert_int_equal(rr_arrow_metadata_count(s->children[0]->metadata), 2);
  assert_int_equal(rr_arrow_metadata_get(s->children[0]->metadata, "ARROW:extension:name", &v), RR_OK);
  assert_memory_equal(v.ptr, "rerun.datatypes.TUID", 20);
  assert_string_equal(s->children[1]->format, "l");
  assert_string_equal(s->children[1]->name, "frame");
  assert_int_equal(s->children[1]->flags & ARROW_FLAG_NULLABLE, ARROW_FLAG_NULLABLE);
  assert_null(s->children[1]->metadata);
  rr_buf f = RR_BUF_INIT;
  assert_int_equal(rr_arrow_schema_format(s->children[2], &f), RR_OK);
  assert_int_equal(rr_buf_append(&f, "", 1), RR_OK);
  assert_string_equal((char *)f.data, "List<item: FixedSizeList<3, item: Float32>>");
  rr_buf_free(&f);
  assert_int_equal(s->children[2]->children[0]->children[0]->flags & ARROW_FLAG_NULLABLE, 0);

  assert_int_equal(a->length, 2);
  const uint8_t *ids = a->children[0]->buffers[1];
  assert_int_equal(ids[0], 0x18);
  assert_int_equal(ids[15], 0x01);
  assert_int_equal(ids[31], 0x02);
  const int64_t *fr = a->children[1]->buffers[1];
  assert_int_equal(fr[0], 3);
  assert_int_equal(fr[1], 4);
  const struct ArrowArray *pos = a->children[2];
  assert_int_equal(pos->null_count, 1);
  const uint8_t *valid = pos->buffers[0];
  assert_int_equal(valid[0] & 3, 1);
  const int32_t *off = pos->buffers[1];
  assert_int_equal(off[0], 0);
  assert_int_equal(off[1], 2);
  assert_int_equal(off[2], 2);
  assert_int_equal(pos->children[0]->length, 2);
  const struct ArrowArray *fl = pos->children[0]->children[0];
  assert_int_equal(fl->length, 6);
  const float *xs = fl->buffers[1];
  for (int i = 0; i < 6; i++) assert_true(xs[i] == (float)(i + 1));
}

static void test_read_spec_vector(void **state) {
  struct ArrowSchema s;
  struct ArrowArray a;
  rr_error err = {0};
  assert_int_equal(rr_arrow_ipc_read(vec, vec_len, NULL, NULL, &s, &a, &err), RR_OK);
  check_spec_values(&s, &a);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  /* copy mode: buffers do not point into the input */
  const uint8_t *fr = a.children[1]->buffers[1];
  assert_true(fr < vec || fr >= vec + vec_len);
  a.release(&a);
  s.release(&s);

  /* zero-copy: buffers point into the input, which lives until the last release */
  uint8_t *copy = malloc(vec_len);
  memcpy(copy, vec, vec_len);
  freed = 0;
  assert_int_equal(rr_arrow_ipc_read(copy, vec_len, count_free, copy, &s, &a, &err), RR_OK);
  check_spec_values(&s, &a);
  fr = a.children[1]->buffers[1];
  assert_true(fr >= copy && fr < copy + vec_len);
  struct ArrowArray col;
  rr_arrow_array_move(a.children[2], &col); /* children may outlive their parent */
  a.release(&a);
  assert_int_equal(freed, 0);
  col.release(&col);
  assert_int_equal(freed, 1);
  s.release(&s);

  /* schema only */
  assert_int_equal(rr_arrow_ipc_read(vec, vec_len, NULL, NULL, &s, NULL, &err), RR_OK);
  assert_int_equal(s.n_children, 3);
  s.release(&s);

  /* the owner is freed at once on error too */
  copy = malloc(16);
  memset(copy, 0xab, 16);
  freed = 0;
  assert_int_not_equal(rr_arrow_ipc_read(copy, 16, count_free, copy, &s, &a, &err), RR_OK);
  assert_int_equal(freed, 1);
  assert_null(a.release);
  assert_null(s.release);
}

static void test_truncation(void **state) {
  for (size_t n = 0; n < vec_len; n++) {
    struct ArrowSchema s;
    struct ArrowArray a;
    rr_error err = {0};
    uint8_t *p = malloc(n ? n : 1); /* exact-size copy so ASan sees over-reads */
    memcpy(p, vec, n);
    int rc = rr_arrow_ipc_read(p, n, NULL, NULL, &s, &a, &err);
    if (n >= 1136) { /* the batch is complete; what follows it is not read */
      assert_int_equal(rc, RR_OK);
      a.release(&a);
      s.release(&s);
    } else {
      if (rc == RR_OK) fail_msg("truncation at %zu accepted", n);
      assert_true(err.msg[0] != 0);
      assert_null(a.release);
      assert_null(s.release);
    }
    if (n == 720) assert_int_equal(rc, RR_EEOF);
    free(p);
  }
}

static void test_byte_flips(void **state) {
  uint8_t buf[2048];
  srand(1234);
  int ok = 0;
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(buf, vec, vec_len);
    int flips = 1 + rand() % 4;
    for (int k = 0; k < flips; k++) {
      size_t at = (size_t)rand() % vec_len;
      int mode = rand() % 3;
      if (mode == 0) buf[at] ^= (uint8_t)(1u << (rand() % 8));
      else if (mode == 1) buf[at] = (uint8_t)rand();
      else buf[at] = 0xff;
    }
    struct ArrowSchema s;
    struct ArrowArray a;
    uint8_t *p = malloc(vec_len);
    memcpy(p, buf, vec_len);
    if (rr_arrow_ipc_read(p, vec_len, NULL, NULL, &s, &a, NULL) == RR_OK) {
      ok++;
      assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
      a.release(&a);
      s.release(&s);
    }
    free(p);
  }
  /* some flips only touch values or padding and must still read */
  assert_true(ok > 0);
}

static void test_rejections(void **state) {
  uint8_t buf[2048];
  struct ArrowSchema s;
  struct ArrowArray a;
  rr_error err = {0};
  /* legacy prefix */
  memcpy(buf, vec, vec_len);
  memcpy(buf, "\xc8\x02\x00\x00", 4);
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  /* body compression: point RecordBatch vtable slot 3 at a table.  Simplest
   * unsupported case: change Int(frame) type tag to Decimal (7) */
  memcpy(buf, vec, vec_len);
  buf[0x15d] = 7;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_EUNSUPPORTED);
  assert_non_null(strstr(err.msg, "Decimal"));
  buf[0x15d] = 24; /* Utf8View */
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_EUNSUPPORTED);
  /* header type 2 = dictionary batch */
  memcpy(buf, vec, vec_len);
  buf[0x2fe] = 2;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_EUNSUPPORTED);
  /* bad UTF-8 in a field name */
  memcpy(buf, vec, vec_len);
  buf[0x164] = 0xff;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_EUTF8);
  /* list offsets past the child: offsets [0,2,2] -> [0,3,3] */
  memcpy(buf, vec, vec_len);
  buf[0x44c] = 3;
  buf[0x450] = 3;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  assert_non_null(strstr(err.msg, "Points3D:positions"));
  /* null count disagreeing with the bitmap */
  memcpy(buf, vec, vec_len);
  buf[0x440] = 0x03;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  /* buffer past the body: frame values length 16 -> 200 */
  memcpy(buf, vec, vec_len);
  buf[0x3b8] = 200;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  assert_non_null(strstr(err.msg, "byte"));
  /* buffer too short: frame values length 16 -> 8 */
  buf[0x3b8] = 8;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  assert_non_null(strstr(err.msg, "frame"));
  /* metadata version V3 */
  memcpy(buf, vec, vec_len);
  buf[0x2c] = 2;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_EUNSUPPORTED);
  /* missing NUL terminator on a string */
  memcpy(buf, vec, vec_len);
  buf[0x169] = 'x';
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  /* misaligned table offset */
  memcpy(buf, vec, vec_len);
  buf[0x8] = 0x15;
  assert_int_equal(rr_arrow_ipc_read(buf, vec_len, NULL, NULL, &s, &a, &err), RR_ECORRUPT);
  assert_non_null(strstr(err.msg, "byte 29"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_matches_spec_vector),
      cmocka_unit_test(test_write_64),
      cmocka_unit_test(test_read_spec_vector),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_byte_flips),
      cmocka_unit_test(test_rejections),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
