/* JSON reader/writer, hashing vectors, timestamps, tagged properties, disk
 * lines and the PostHog wire mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "analytics/analytics_internal.h"
#include "rerun/analytics.h"

static struct rr_json *parse(const char *s) {
  struct rr_json *j = NULL;
  assert_int_equal(rr__json_parse(s, strlen(s), &j, NULL), RR_OK);
  return j;
}

static void test_json(void **state) {
  struct rr_json *j = parse(" {\"a\":[1,-2.5e3,true,null,\"x\\u00fc\\ud83d\\ude00\\n\"],\"b\":{},\"a\":7} ");
  const struct rr_json *a = rr__json_get(j, "a");
  assert_non_null(a);
  assert_true(a->type == RR_JNUM && a->is_int && a->i == 7); /* last duplicate wins */
  const struct rr_json *arr = &j->items[0];
  assert_int_equal(arr->n, 5);
  assert_true(arr->items[1].num == -2500.0 && !arr->items[1].is_int);
  assert_string_equal(arr->items[4].s, "x\xc3\xbc\xf0\x9f\x98\x80\n");
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr__json_write(&b, j, -1), RR_OK);
  assert_int_equal(rr_buf_append(&b, "", 1), RR_OK);
  assert_string_equal((char *)b.data, "{\"a\":[1,-2.5e3,true,null,\"x\xc3\xbc\xf0\x9f\x98\x80\\n\"],\"b\":{},\"a\":7}");
  rr_buf_reset(&b);
  rr__json_free(j);
  j = parse("{\"k\":[1,{}]}");
  assert_int_equal(rr__json_write(&b, j, 2), RR_OK);
  assert_int_equal(rr_buf_append(&b, "", 1), RR_OK);
  assert_string_equal((char *)b.data, "{\n  \"k\": [\n    1,\n    {}\n  ]\n}");
  rr__json_free(j);
  rr_buf_free(&b);

  /* the last one nests deeper than the parser allows */
  static const char deep[] = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]";
  static const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "\"\x01\"", "01", "1.", "tru",
                              "{\"a\":1} x", "\"\xff\"", "\"\\x\"", deep};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    rr_error err = {0};
    struct rr_json *x = (struct rr_json *)1;
    assert_int_equal(rr__json_parse(bad[i], strlen(bad[i]), &x, &err), RR_ECORRUPT);
    assert_null(x);
    assert_true(err.msg[0] != 0);
  }
}

static void test_hash_vectors(void **state) {
  static const struct { const char *in; const char *out; } v[] = {
      {"", "5faa4da45c8b275b4b9b13d00d08345aefdc87cb0040512c32c65a622ca5aeb3"},
      {"rerun.io", "3d0563e28c9991e522fee0dab0ea1d7dcc1b446eccc76c1e6e70a8e74f8e7cb1"},
      {"my_app", "f658bceafed84b5e395262b8bc6a314826fa73582cc79b0cdf48e6ff88f0a226"},
      {"unknown_app_id", "ef090e44e7abf75b8b3ec8f3b6e58e0615819b2c3457437bee9c6f7797f37d2a"},
      {"\xc3\xbc", "20f458d0859767d27a785578fc2f49b6f4cc1aadd7410555feafa934165f8d3e"},
  };
  char out[65];
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    assert_int_equal(rr_analytics_hash(v[i].in, strlen(v[i].in), out), RR_OK);
    assert_string_equal(out, v[i].out);
  }
  /* The generic encodings: Bool as one byte, Integer as 8 bytes little-endian. */
  uint8_t t = 1, f = 0, le[8];
  assert_int_equal(rr__an_hash_bytes(&t, 1, out), RR_OK);
  assert_string_equal(out, "d420305186f55789d751a1b2b6b068b5c000e4711d5a2427f26300e3c8e64100");
  assert_int_equal(rr__an_hash_bytes(&f, 1, out), RR_OK);
  assert_string_equal(out, "e6b60fc0e505882e4493ae7e24abb6f7d9f8f2ef564afedf6cd95d0adfdfb06c");
  rr__put_u64le(le, 1);
  assert_int_equal(rr__an_hash_bytes(le, 8, out), RR_OK);
  assert_string_equal(out, "8cf6375aa7f82f84a4f5520a5ab64ae855c2a0ac8ad899ae9cb0b42564c4f071");
  rr__put_u64le(le, (uint64_t)-1);
  assert_int_equal(rr__an_hash_bytes(le, 8, out), RR_OK);
  assert_string_equal(out, "ec3659086932f7552fc786f6cbcc01fb1efeb13ae07a7607e8b1a14aada4740e");
  assert_int_equal(rr_analytics_hash(NULL, 3, out), RR_EINVAL);
}

static void test_time_and_floats(void **state) {
  char t[40];
  rr__format_time(1779985574000000000ll, t);
  assert_string_equal(t, "2026-05-28T16:26:14Z");
  rr__format_time(1779985574123456000ll, t);
  assert_string_equal(t, "2026-05-28T16:26:14.123456Z");
  rr__format_time(1779985574500000000ll, t);
  assert_string_equal(t, "2026-05-28T16:26:14.5Z");
  rr__format_time(1779985574000000001ll, t);
  assert_string_equal(t, "2026-05-28T16:26:14.000000001Z");

  static const struct { double d; const char *s; } v[] = {
      {1.0, "1.0"}, {(double)1.1f, "1.100000023841858"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e21, "1e+21"},
      {NAN, "null"}, {INFINITY, "null"}};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    rr_buf b = RR_BUF_INIT;
    assert_int_equal(rr__json_put_double(&b, v[i].d), RR_OK);
    assert_int_equal(rr_buf_append(&b, "", 1), RR_OK);
    assert_string_equal((char *)b.data, v[i].s);
    rr_buf_free(&b);
  }
}

static void test_uuid(void **state) {
  char a[37], b[37];
  rr__uuid4(a, true);
  rr__uuid4(b, false);
  assert_int_equal(strlen(a), 36);
  assert_int_equal(strlen(b), 32);
  assert_true(a[8] == '-' && a[13] == '-' && a[14] == '4' && a[18] == '-' && a[23] == '-');
  assert_true(strchr("89ab", a[19]) != NULL);
  assert_true(b[12] == '4');
  for (int i = 0; i < 32; i++) assert_true(strchr("0123456789abcdef", b[i]) != NULL);
  char c[37];
  rr__uuid4(c, false);
  assert_string_not_equal(b, c);
}

static void test_line_roundtrip(void **state) {
  struct rr_event e;
  assert_int_equal(rr__event_init(&e, RR_KIND_APPEND, "viewer_started", 1779985574123456000ll), RR_OK);
  assert_int_equal(rr__props_set_str(&e.props, "app_env", "rerun_cli"), RR_OK);
  assert_int_equal(rr__props_set_bool(&e.props, "is_docker", false), RR_OK);
  assert_int_equal(rr__props_set_float(&e.props, "zoom_factor", 1.0), RR_OK);
  assert_int_equal(rr__props_set_float(&e.props, "bad", NAN), RR_ENOTFINITE);
  assert_int_equal(rr__props_set_int(&e.props, "event_id", 1), RR_OK);
  assert_int_equal(rr__props_set_int(&e.props, "event_id", 2), RR_OK); /* overwrite */
  assert_int_equal(rr__props_set_str(&e.props, "q", "a\"b\\c\n"), RR_OK);
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr__event_to_line(&b, &e), RR_OK);
  const char *want =
      "{\"time_utc\":\"2026-05-28T16:26:14.123456Z\",\"kind\":\"Append\",\"name\":\"viewer_started\",\"props\":{"
      "\"app_env\":{\"String\":\"rerun_cli\"},\"is_docker\":{\"Bool\":false},\"zoom_factor\":{\"Float\":1.0},"
      "\"event_id\":{\"Integer\":2},\"q\":{\"String\":\"a\\\"b\\\\c\\n\"}}}\n";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  /* Bad lines around a good one are skipped one by one. */
  rr_buf text = RR_BUF_INIT;
  const char *junk = "{\"time_utc\":\"2026-05-28T16:26:1\n\n{\"time_utc\":\"2026-05-28T16:26:14Z\",\"kind\":\"Nope\","
                     "\"name\":\"x\",\"props\":{}}\n{\"time_utc\":\"x\",\"kind\":\"Append\",\"name\":\"x\",\"props\":{}}\n"
                     "{\"time_utc\":\"2026-05-28T16:26:14Z\",\"kind\":\"Append\",\"name\":\"x\",\"props\":{\"f\":{\"Float\":null}}}\n";
  assert_int_equal(rr_buf_append(&text, junk, strlen(junk)), RR_OK);
  assert_int_equal(rr_buf_append(&text, b.data, b.len), RR_OK);
  const char *ident = "{\"time_utc\":\"2026-01-01T00:00:00.5Z\",\"kind\":\"Identify\",\"name\":\"$identify\",\"props\":{}}";
  assert_int_equal(rr_buf_append(&text, ident, strlen(ident)), RR_OK);
  struct rr_event *evs = NULL;
  size_t n = 0;
  assert_int_equal(rr__events_parse_lines((char *)text.data, text.len, &evs, &n), RR_OK);
  assert_int_equal(n, 2);
  assert_string_equal(evs[0].name, "viewer_started");
  assert_string_equal(evs[0].time_utc, "2026-05-28T16:26:14.123456Z");
  assert_int_equal(evs[0].props.n, 5);
  const struct rr_prop *p = rr__props_get(&evs[0].props, "zoom_factor");
  assert_true(p && p->type == RR_PFLOAT && p->f == 1.0);
  p = rr__props_get(&evs[0].props, "q");
  assert_string_equal(p->s, "a\"b\\c\n");
  assert_int_equal(evs[1].kind, RR_KIND_IDENTIFY);
  rr__events_free(evs, n);
  rr_buf_free(&text);
  rr_buf_free(&b);
  rr__event_free(&e);
}

static void test_wire_mapping(void **state) {
  struct rr_event ev[3];
  assert_int_equal(rr__event_init(&ev[0], RR_KIND_APPEND, "open_recording", 1779985574500000000ll), RR_OK);
  assert_int_equal(rr__props_set_str(&ev[0].props, "session_id", "spoofed"), RR_OK);
  assert_int_equal(rr__props_set_int(&ev[0].props, "event_id", 3), RR_OK);
  assert_int_equal(rr__props_set_float(&ev[0].props, "ppp", (double)1.1f), RR_OK);
  assert_int_equal(rr__event_init(&ev[1], RR_KIND_IDENTIFY, "$identify", 1779985574000000000ll), RR_OK);
  assert_int_equal(rr__props_set_str(&ev[1].props, "rerun_version", "0.33.0"), RR_OK);
  assert_int_equal(rr__props_set_bool(&ev[1].props, "debug", false), RR_OK);
  assert_int_equal(rr__event_init(&ev[2], RR_KIND_SET, "$set", 1779985574000000000ll), RR_OK);
  assert_int_equal(rr__props_set_str(&ev[2].props, "email", "a@b.c"), RR_OK);
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr__batch_body(&b, "phc_k", "did", "sess", ev, 3, -1), RR_OK);
  assert_int_equal(rr_buf_append(&b, "", 1), RR_OK);
  assert_string_equal((char *)b.data,
                      "{\"api_key\":\"phc_k\",\"batch\":["
                      "{\"timestamp\":\"2026-05-28T16:26:14.5Z\",\"event\":\"open_recording\",\"distinct_id\":\"did\","
                      "\"properties\":{\"event_id\":3,\"ppp\":1.100000023841858,\"session_id\":\"sess\"}},"
                      "{\"timestamp\":\"2026-05-28T16:26:14Z\",\"event\":\"$identify\",\"distinct_id\":\"did\","
                      "\"properties\":{\"session_id\":\"sess\"},\"$set\":{\"rerun_version\":\"0.33.0\",\"debug\":false}},"
                      "{\"timestamp\":\"2026-05-28T16:26:14Z\",\"event\":\"$set\",\"distinct_id\":\"did\","
                      "\"properties\":{\"$set\":{\"email\":\"a@b.c\"}}}]}");
  /* The pretty form is the same JSON. */
  rr_buf p = RR_BUF_INIT;
  assert_int_equal(rr__batch_body(&p, "phc_k", "did", "sess", ev, 3, 2), RR_OK);
  struct rr_json *x = NULL, *y = NULL;
  assert_int_equal(rr__json_parse((char *)p.data, p.len, &x, NULL), RR_OK);
  assert_int_equal(rr__json_parse((char *)b.data, b.len - 1, &y, NULL), RR_OK);
  rr_buf cx = RR_BUF_INIT;
  assert_int_equal(rr__json_write(&cx, x, -1), RR_OK);
  assert_int_equal(cx.len, b.len - 1);
  assert_memory_equal(cx.data, b.data, cx.len);
  rr__json_free(x);
  rr__json_free(y);
  rr_buf_free(&cx);
  rr_buf_free(&p);
  rr_buf_free(&b);
  for (int i = 0; i < 3; i++) rr__event_free(&ev[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json),         cmocka_unit_test(test_hash_vectors), cmocka_unit_test(test_time_and_floats),
      cmocka_unit_test(test_uuid),         cmocka_unit_test(test_line_roundtrip), cmocka_unit_test(test_wire_mapping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
