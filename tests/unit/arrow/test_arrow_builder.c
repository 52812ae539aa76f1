/* Builders for every type: buffer contents, validity handling, errors,
 * reuse, and amortised allocation for fixed-width appends. */
#include "arrow_test_util.h"

static void test_primitives(void **state) {
  static const char *const fmts[] = {"c", "C", "s", "S", "i", "I", "l", "L", "e", "f", "g",
                                     "w:3", "tDn", "tsn:", "tsn:UTC", "tdD", "ttn"};
  for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
    struct ArrowSchema s;
    mk(&s, fmts[k], "x", true, 0);
    int w = fixed_width(fmts[k]);
    rr_arrow_builder *b;
    assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
    uint8_t vals[10 * 8];
    for (int i = 0; i < 10 * w; i++) vals[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(rr_arrow_builder_append_values(b, vals, 10), RR_OK);
    struct ArrowArray a;
    assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
    assert_int_equal(a.length, 10);
    assert_int_equal(a.null_count, 0);
    assert_int_equal(a.n_buffers, 2);
    assert_null(a.buffers[0]); /* no nulls: no bitmap */
    assert_memory_equal(a.buffers[1], vals, (size_t)(10 * w));
    assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
    assert_int_equal(rr_arrow_array_nbytes(&a, &s), (size_t)(10 * w));
    a.release(&a);
    /* builder was reset and is reusable; now with nulls in the middle */
    assert_int_equal(rr_arrow_builder_length(b), 0);
    assert_int_equal(rr_arrow_builder_append_values(b, vals, 3), RR_OK);
    assert_int_equal(rr_arrow_builder_append_nulls(b, 2), RR_OK);
    assert_int_equal(rr_arrow_builder_append_values(b, vals + 3 * w, 7), RR_OK);
    assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
    assert_int_equal(a.length, 12);
    assert_int_equal(a.null_count, 2);
    const uint8_t *bits = a.buffers[0];
    assert_non_null(bits);
    assert_int_equal(bits[0], 0xE7); /* 1110 0111 */
    assert_int_equal(bits[1], 0x0F); /* bits past the length are zero */
    const uint8_t *v = a.buffers[1];
    assert_memory_equal(v, vals, (size_t)(3 * w));
    assert_memory_equal(v + 5 * w, vals + 3 * w, (size_t)(7 * w));
    assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
    a.release(&a);
    assert_true(rr_arrow_builder_nbytes(b) > 0);
    rr_arrow_builder_free(b);
    s.release(&s);
  }
}

static void test_bool_and_null(void **state) {
  struct ArrowSchema s;
  mk(&s, "b", "flag", true, 0);
  rr_arrow_builder *b;
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  uint8_t v[9] = {1, 0, 1, 1, 0, 0, 0, 1, 1};
  assert_int_equal(rr_arrow_builder_append_values(b, v, 9), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(b, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_append_values(b, v, 1), RR_OK);
  struct ArrowArray a;
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  const uint8_t *vals = a.buffers[1], *valid = a.buffers[0];
  assert_int_equal(vals[0], 0x8D);
  assert_int_equal(vals[1], 0x05); /* v[8]=1, null=0, v[0]=1 */
  assert_int_equal(valid[0], 0xFF);
  assert_int_equal(valid[1], 0x05);
  assert_int_equal(a.null_count, 1);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);

  mk(&s, "n", "nothing", true, 0);
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(b, 5), RR_OK);
  assert_int_equal(rr_arrow_builder_append_values(b, v, 1), RR_EINVAL);
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(a.length, 5);
  assert_int_equal(a.null_count, 5);
  assert_int_equal(a.n_buffers, 0);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);
}

static void test_strings(void **state) {
  struct ArrowSchema s;
  mk(&s, "u", "name", true, 0);
  rr_arrow_builder *b;
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b, "ab", 2), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(b, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b, "", 0), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b, "\xc3\xa9", 2), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b, "\xc3", 1), RR_EUTF8);
  assert_int_equal(rr_arrow_builder_list_finish(b), RR_EINVAL);
  struct ArrowArray a;
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(a.length, 4);
  assert_int_equal(a.n_buffers, 3);
  const int32_t *o = a.buffers[1];
  assert_int_equal(o[0], 0);
  assert_int_equal(o[1], 2);
  assert_int_equal(o[2], 2);
  assert_int_equal(o[3], 2);
  assert_int_equal(o[4], 4);
  assert_memory_equal(a.buffers[2], "ab\xc3\xa9", 4);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  /* validation catches corrupt offsets and bad UTF-8 */
  ((int32_t *)a.buffers[1])[2] = 5;
  rr_error err = {0};
  assert_int_equal(rr_arrow_array_validate(&a, &s, &err), RR_ECORRUPT);
  assert_non_null(strstr(err.msg, "name"));
  ((int32_t *)a.buffers[1])[2] = 2;
  ((uint8_t *)a.buffers[2])[3] = 0x41;
  assert_int_equal(rr_arrow_array_validate(&a, &s, &err), RR_EUTF8);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);

  mk(&s, "z", "blob", false, 0);
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  assert_int_equal(rr_arrow_builder_append_bytes(b, "\xc3\x00", 2), RR_OK);
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(((const int32_t *)a.buffers[1])[1], 2);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);
}

static void test_nested(void **state) {
  /* List<FSL<f32, 3>> with a null list and a null point */
  struct ArrowSchema s;
  mk(&s, "+l", "pts", true, 1);
  mk(mk(s.children[0], "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
  rr_arrow_builder *b;
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  rr_arrow_builder *fsl = rr_arrow_builder_child(b, 0);
  assert_null(rr_arrow_builder_child(b, 1));
  float p[6] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(rr_arrow_builder_append_values(fsl, p, 2), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(fsl, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_list_finish(b), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(b, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_list_finish(b), RR_OK); /* empty list */
  struct ArrowArray a;
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(a.length, 3);
  assert_int_equal(a.null_count, 1);
  const int32_t *o = a.buffers[1];
  assert_int_equal(o[1], 3);
  assert_int_equal(o[2], 3);
  assert_int_equal(o[3], 3);
  assert_int_equal(a.children[0]->length, 3);
  assert_int_equal(a.children[0]->null_count, 1);
  assert_int_equal(a.children[0]->children[0]->length, 9);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);

  /* Struct: children must grow together */
  mk(&s, "+s", "st", true, 2);
  mk(s.children[0], "i", "a", false, 0);
  mk(s.children[1], "u", "b", true, 0);
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  int32_t x = 5;
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b, 0), &x, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_struct_append_valid(b, 1), RR_ELENGTH);
  assert_int_equal(rr_arrow_builder_append_bytes(rr_arrow_builder_child(b, 1), "q", 1), RR_OK);
  assert_int_equal(rr_arrow_builder_struct_append_valid(b, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(b, 2), RR_OK);
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(a.length, 3);
  assert_int_equal(a.null_count, 2);
  assert_int_equal(a.children[0]->length, 3);
  assert_int_equal(a.children[1]->length, 3);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);

  /* Dense union */
  mk(&s, "+ud:2,7", "u", false, 2);
  mk(s.children[0], "n", "_null_markers", true, 0);
  mk(s.children[1], "l", "I64", false, 0);
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  int64_t v = 9;
  assert_int_equal(rr_arrow_builder_union_append(b, 7), RR_OK);
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b, 1), &v, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_union_append(b, 2), RR_OK);
  assert_int_equal(rr_arrow_builder_append_nulls(rr_arrow_builder_child(b, 0), 1), RR_OK);
  assert_int_equal(rr_arrow_builder_union_append(b, 7), RR_OK);
  assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(b, 1), &v, 1), RR_OK);
  assert_int_equal(rr_arrow_builder_union_append(b, 3), RR_EINVAL);
  assert_int_equal(rr_arrow_builder_append_nulls(b, 1), RR_EINVAL);
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(a.n_buffers, 2);
  const int8_t *ids = a.buffers[0];
  const int32_t *offs = a.buffers[1];
  assert_int_equal(ids[0], 7);
  assert_int_equal(ids[1], 2);
  assert_int_equal(offs[0], 0);
  assert_int_equal(offs[1], 0);
  assert_int_equal(offs[2], 1);
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
  ((int32_t *)a.buffers[1])[2] = 2; /* past the child */
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_ECORRUPT);
  ((int32_t *)a.buffers[1])[2] = 1;
  ((int8_t *)a.buffers[0])[1] = 3; /* unknown type id */
  assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_ECORRUPT);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);

  /* bad types */
  mk(&s, "+l", "nochild", true, 0);
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_EINVAL);
  assert_null(b);
  s.release(&s);
  mk(&s, "U", "large", true, 0);
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_EUNSUPPORTED);
  s.release(&s);
}

/* rr_arrow_builder_list_append_values (with its fast path) builds the same
 * arrays as append_values on the child + list_finish, through nulls,
 * empty slots, a finish/reuse cycle and more than 256 KiB of values. */
static void cmp_arrays(const struct ArrowArray *x, const struct ArrowArray *y, int64_t value_width) {
  assert_int_equal(x->length, y->length);
  assert_int_equal(x->null_count, y->null_count);
  assert_int_equal(x->n_buffers, y->n_buffers);
  assert_int_equal(x->n_children, y->n_children);
  if (x->n_buffers == 2 && x->n_children == 1) { /* list: bitmap, offsets */
    assert_true((x->buffers[0] == NULL) == (y->buffers[0] == NULL));
    if (x->buffers[0]) assert_memory_equal(x->buffers[0], y->buffers[0], (size_t)(x->length + 7) / 8);
    assert_memory_equal(x->buffers[1], y->buffers[1], (size_t)(x->length + 1) * 4);
  } else if (x->n_children == 0) { /* fixed width: bitmap, values */
    assert_true((x->buffers[0] == NULL) == (y->buffers[0] == NULL));
    if (x->buffers[0]) assert_memory_equal(x->buffers[0], y->buffers[0], (size_t)(x->length + 7) / 8);
    assert_memory_equal(x->buffers[1], y->buffers[1], (size_t)(x->length * value_width));
  } else { /* fixed-size list: bitmap only */
    assert_true((x->buffers[0] == NULL) == (y->buffers[0] == NULL));
    if (x->buffers[0]) assert_memory_equal(x->buffers[0], y->buffers[0], (size_t)(x->length + 7) / 8);
  }
  for (int64_t i = 0; i < x->n_children; i++) cmp_arrays(x->children[i], y->children[i], value_width);
}

static void test_list_append_values(void **state) {
  for (int fsl = 0; fsl < 2; fsl++) {
    struct ArrowSchema s;
    mk(&s, "+l", "col", true, 1);
    if (fsl) mk(mk(s.children[0], "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
    else mk(s.children[0], "f", "item", true, 0);
    int64_t per = fsl ? 3 : 1;
    rr_arrow_builder *fast, *ref;
    assert_int_equal(rr_arrow_builder_new(&fast, &s), RR_OK);
    assert_int_equal(rr_arrow_builder_new(&ref, &s), RR_OK);
    static float v[3 * 100000];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) v[i] = (float)i;
    for (int round = 0; round < 2; round++) {
      for (int64_t row = 0; row < 30000; row++) {
        int64_t n = row % 7 == 3 ? 0 : 1 + row % 3;
        if (row % 1000 == 999) { /* a null slot */
          assert_int_equal(rr_arrow_builder_append_nulls(fast, 1), RR_OK);
          assert_int_equal(rr_arrow_builder_append_nulls(ref, 1), RR_OK);
          continue;
        }
        if (row == 20000) { /* a null value inside a slot: no fast path after it */
          assert_int_equal(rr_arrow_builder_append_nulls(rr_arrow_builder_child(fast, 0), 1), RR_OK);
          assert_int_equal(rr_arrow_builder_append_nulls(rr_arrow_builder_child(ref, 0), 1), RR_OK);
        }
        assert_int_equal(rr_arrow_builder_list_append_values(fast, v + row * per, n), RR_OK);
        assert_int_equal(rr_arrow_builder_append_values(rr_arrow_builder_child(ref, 0), v + row * per, n), RR_OK);
        assert_int_equal(rr_arrow_builder_list_finish(ref), RR_OK);
      }
      struct ArrowArray a, b;
      assert_int_equal(rr_arrow_builder_finish(fast, &a), RR_OK);
      assert_int_equal(rr_arrow_builder_finish(ref, &b), RR_OK);
      assert_int_equal(rr_arrow_array_validate(&a, &s, NULL), RR_OK);
      cmp_arrays(&a, &b, 4);
      a.release(&a);
      b.release(&b);
    }
    assert_int_equal(rr_arrow_builder_list_append_values(rr_arrow_builder_child(fast, 0), v, 1), RR_EINVAL);
    assert_int_equal(rr_arrow_builder_list_append_values(NULL, v, 1), RR_EINVAL);
    rr_arrow_builder_free(fast);
    rr_arrow_builder_free(ref);
    s.release(&s);
  }
}

/* A view of fixed-width values equals what a builder makes of them, and
 * points into the caller's memory; other types are refused. */
static void test_view_values(void **state) {
  (void)state;
  static float v[3 * 1000];
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) v[i] = (float)i * 0.5f;
  for (int fsl = 0; fsl < 2; fsl++) {
    struct ArrowSchema t;
    if (fsl) mk(mk(&t, "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
    else mk(&t, "f", "item", true, 0);
    int64_t n = fsl ? 1000 : 3000;
    struct ArrowArray view, built;
    assert_int_equal(rr_arrow_array_view_values(&view, &t, v, n), RR_OK);
    assert_int_equal(rr_arrow_array_validate(&view, &t, NULL), RR_OK);
    rr_arrow_builder *b;
    assert_int_equal(rr_arrow_builder_new(&b, &t), RR_OK);
    assert_int_equal(rr_arrow_builder_append_values(b, v, n), RR_OK);
    assert_int_equal(rr_arrow_builder_finish(b, &built), RR_OK);
    cmp_arrays(&view, &built, 4);
    const struct ArrowArray *leaf = fsl ? view.children[0] : &view;
    assert_ptr_equal(leaf->buffers[1], v); /* no copy */
    view.release(&view);
    built.release(&built);
    rr_arrow_builder_free(b);
    t.release(&t);
  }
  struct ArrowSchema u;
  mk(&u, "u", "item", true, 0);
  struct ArrowArray a;
  assert_int_equal(rr_arrow_array_view_values(&a, &u, v, 1), RR_EUNSUPPORTED);
  u.release(&u);
  mk(&u, "b", "item", true, 0);
  assert_int_equal(rr_arrow_array_view_values(&a, &u, v, 1), RR_EUNSUPPORTED);
  assert_int_equal(rr_arrow_array_view_values(&a, &u, NULL, 1), RR_EINVAL);
  u.release(&u);
}

static long n_mallocs;
static void *count_malloc(void *ud, size_t n) { n_mallocs++; return malloc(n); }
static void *count_realloc(void *ud, void *p, size_t n) { n_mallocs++; return realloc(p, n); }
static void count_freefn(void *ud, void *p) { free(p); }

static void test_appends_amortised(void **state) {
  struct ArrowSchema s;
  mk(&s, "+w:3", "pos", false, 1);
  mk(s.children[0], "f", "item", false, 0);
  rr_arrow_builder *b;
  assert_int_equal(rr_arrow_builder_new(&b, &s), RR_OK);
  rr_allocator al = {NULL, count_malloc, count_realloc, count_freefn};
  rr_set_allocator(&al);
  n_mallocs = 0;
  float p[3] = {1, 2, 3};
  for (int i = 0; i < 1000000; i++) assert_int_equal(rr_arrow_builder_append_values(b, p, 1), RR_OK);
  long used = n_mallocs;
  rr_set_allocator(NULL);
  assert_true(used < 64); /* geometric growth, not one allocation per call */
  assert_int_equal(rr_arrow_builder_length(b), 1000000);
  struct ArrowArray a;
  assert_int_equal(rr_arrow_builder_finish(b, &a), RR_OK);
  assert_int_equal(a.children[0]->length, 3000000);
  assert_true(((const float *)a.children[0]->buffers[1])[2999999] == 3.0f);
  a.release(&a);
  rr_arrow_builder_free(b);
  s.release(&s);
}

static void test_array_init_move(void **state) {
  struct ArrowArray a, b;
  assert_int_equal(rr_arrow_array_init(&a, 4, 0, 2, 1), RR_OK);
  assert_int_equal(a.n_buffers, 2);
  assert_null(a.buffers[0]);
  assert_null(a.children[0]->release);
  int32_t *v = rr__malloc(16);
  memset(v, 0, 16);
  rr_arrow_array_set_buffer(&a, 1, v);
  assert_ptr_equal(a.buffers[1], v);
  assert_int_equal(rr_arrow_array_init(a.children[0], 0, 0, 0, 0), RR_OK);
  rr_arrow_array_move(&a, &b);
  assert_null(a.release);
  b.release(&b); /* frees v and the child; ASan checks */
  assert_null(b.release);
  assert_int_equal(rr_arrow_array_init(&a, -1, 0, 0, 0), RR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_primitives),        cmocka_unit_test(test_bool_and_null),
      cmocka_unit_test(test_strings),           cmocka_unit_test(test_nested),
      cmocka_unit_test(test_appends_amortised), cmocka_unit_test(test_array_init_move),
      cmocka_unit_test(test_list_append_values), cmocka_unit_test(test_view_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
