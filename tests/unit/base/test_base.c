#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/rr_common.h"

static void test_buf(void **state) {
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_buf_append(&b, "abc", 3), RR_OK);
  assert_int_equal(rr_buf_pad_to(&b, 8), RR_OK);
  assert_int_equal(b.len, 8);
  assert_int_equal(b.data[3], 0);
  assert_int_equal(rr_buf_append_u64le(&b, 0x0102030405060708ull), RR_OK);
  assert_int_equal(rr__get_u64le(b.data + 8), 0x0102030405060708ull);
  for (int i = 0; i < 10000; i++) assert_int_equal(rr_buf_append(&b, "x", 1), RR_OK);
  assert_int_equal(b.len, 10016);
  rr_buf_free(&b);
  assert_null(b.data);
}

static void test_tuid(void **state) {
  rr_tuid a = rr__tuid_new(), b = rr__tuid_new();
  assert_true(b.time_ns >= a.time_ns);
  assert_int_equal(b.inc, a.inc + 1); /* inc counts up, whatever the clock did */
  assert_true(b.time_ns > a.time_ns || b.inc > a.inc);
  char s[33];
  rr_tuid t = {0x182342300C5F8C32ull, 0x7a7b4a6e5a379ac4ull};
  rr__tuid_format(t, s);
  assert_string_equal(s, "182342300C5F8C327a7b4a6e5a379ac4");
  rr_tuid back;
  assert_int_equal(rr__tuid_parse(s, 32, &back), RR_OK);
  assert_true(back.time_ns == t.time_ns && back.inc == t.inc);
  assert_int_equal(rr__tuid_parse("zz", 2, &back), RR_EINVAL);
  uint8_t be[16];
  rr__tuid_to_be(t, be);
  assert_int_equal(be[0], 0x18);
  assert_int_equal(be[15], 0xc4);
}

static void test_utf8(void **state) {
  assert_true(rr__utf8_valid("héllo", strlen("héllo")));
  assert_false(rr__utf8_valid("\xC3", 1));
  assert_false(rr__utf8_valid("\xC0\x80", 2));         /* overlong */
  assert_false(rr__utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
  assert_true(rr__utf8_valid("\xF0\x9F\x98\x80", 4));  /* emoji */
}

static void test_errors(void **state) {
  assert_string_equal(rr_err_name(RR_EINVAL), "RR_EINVAL");
  assert_string_equal(rr_strerror(RR_ENOMEM), "out of memory");
  rr_error e = {0};
  assert_int_equal(rr__err(&e, RR_EINVAL, "bad %s", "thing"), RR_EINVAL);
  assert_string_equal(e.msg, "bad thing");
  rr__err_wrap(&e, RR_EIO, "context");
  assert_string_equal(e.msg, "context: bad thing");
  assert_int_equal(e.code, RR_EINVAL);
}

/* Base64 against RFC 4648's vectors, streamed in pieces of every size, and
 * texts concatenated after padding (gRPC-Web text clients send those). */
static void test_base64(void **state) {
  (void)state;
  static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    size_t n = strlen(plain[i]);
    for (size_t piece = 1; piece <= 4; piece++) {
      rr_b64 st = {0};
      rr_buf out = RR_BUF_INIT;
      for (size_t o = 0; o < n; o += piece)
        assert_int_equal(rr_b64_encode(&st, &out, plain[i] + o, n - o < piece ? n - o : piece), RR_OK);
      assert_int_equal(rr_b64_encode_end(&st, &out), RR_OK);
      assert_int_equal(out.len, strlen(coded[i]));
      assert_memory_equal(out.data ? (const char *)out.data : "", coded[i], out.len);
      rr_b64 d = {0};
      rr_buf back = RR_BUF_INIT;
      for (size_t o = 0; o < out.len; o += piece)
        assert_int_equal(rr_b64_decode(&d, &back, out.data + o, out.len - o < piece ? out.len - o : piece), RR_OK);
      assert_int_equal(rr_b64_decode_end(&d), RR_OK);
      assert_int_equal(back.len, n);
      if (n) assert_memory_equal(back.data, plain[i], n);
      rr_buf_free(&out);
      rr_buf_free(&back);
    }
  }
  /* all byte values, through a stream of uneven pieces */
  uint8_t all[256];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  rr_b64 st = {0};
  rr_buf out = RR_BUF_INIT, back = RR_BUF_INIT;
  for (size_t o = 0, k = 1; o < 256; o += k, k = k % 5 + 1)
    assert_int_equal(rr_b64_encode(&st, &out, all + o, 256 - o < k ? 256 - o : k), RR_OK);
  assert_int_equal(rr_b64_encode_end(&st, &out), RR_OK);
  rr_b64 d = {0};
  assert_int_equal(rr_b64_decode(&d, &back, out.data, out.len), RR_OK);
  assert_int_equal(back.len, 256);
  assert_memory_equal(back.data, all, 256);
  rr_buf_reset(&back);
  /* concatenated padded texts; bad characters and stray padding refused */
  d = (rr_b64){0};
  assert_int_equal(rr_b64_decode(&d, &back, "Zg==Zm8=Zm9v", 12), RR_OK);
  assert_int_equal(back.len, 6);
  assert_memory_equal(back.data, "ffofoo", 6);
  d = (rr_b64){0};
  assert_int_equal(rr_b64_decode(&d, &back, "Zm9*", 4), RR_EINVAL);
  d = (rr_b64){0};
  assert_int_equal(rr_b64_decode(&d, &back, "Z=9v", 4), RR_EINVAL);
  d = (rr_b64){0};
  assert_int_equal(rr_b64_decode(&d, &back, "Zm=v", 4), RR_EINVAL);
  d = (rr_b64){0};
  assert_int_equal(rr_b64_decode(&d, &back, "Zm9", 3), RR_OK);
  assert_int_equal(rr_b64_decode_end(&d), RR_EINVAL);
  rr_buf_free(&out);
  rr_buf_free(&back);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf), cmocka_unit_test(test_tuid),
      cmocka_unit_test(test_utf8), cmocka_unit_test(test_errors), cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
