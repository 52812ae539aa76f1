/* The net layer's no-I/O cores: gRPC framing, LogMsg wrapping, HTTP/1
 * request heads, proxy URLs, CORS origins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "net/rr_net.h"

struct got { int n; size_t lens[16]; uint8_t first[16]; uint8_t flags[16]; int fail_at; };

static int collect(void *ud, uint8_t flags, const uint8_t *p, size_t n) {
  struct got *g = ud;
  if (g->n == g->fail_at) return RR_ECORRUPT;
  g->lens[g->n] = n;
  g->first[g->n] = n ? p[0] : 0;
  g->flags[g->n] = flags;
  g->n++;
  return 0;
}

static void frame(rr_buf *b, uint8_t flag, const char *body, size_t n) {
  uint8_t h[5];
  rr_grpc_frame_header(h, flag, (uint32_t)n);
  rr_buf_append(b, h, 5);
  rr_buf_append(b, body, n);
}

static void test_grpc_decoder_splits(void **state) {
  rr_buf b = RR_BUF_INIT;
  frame(&b, 0, "abc", 3);
  frame(&b, 0, "", 0);
  char big[70000];
  memset(big, 'z', sizeof big);
  frame(&b, 0, big, sizeof big);
  /* every split size gives the same three messages */
  for (size_t step = 1; step < 9000; step = step * 3 + 1) {
    rr_grpc_decoder d;
    rr_grpc_decoder_init(&d, 0);
    struct got g = {.fail_at = -1};
    for (size_t o = 0; o < b.len; o += step) {
      size_t k = b.len - o < step ? b.len - o : step;
      assert_int_equal(rr_grpc_decoder_feed(&d, b.data + o, k, collect, &g, NULL), RR_OK);
    }
    assert_int_equal(g.n, 3);
    assert_int_equal(g.lens[0], 3);
    assert_int_equal(g.first[0], 'a');
    assert_int_equal(g.lens[1], 0);
    assert_int_equal(g.lens[2], sizeof big);
    assert_int_equal(g.first[2], 'z');
    assert_true(rr_grpc_decoder_idle(&d));
    rr_grpc_decoder_free(&d);
  }
  rr_buf_free(&b);
}

static void test_grpc_decoder_errors(void **state) {
  rr_grpc_decoder d;
  struct got g = {.fail_at = -1};
  rr_error e = {0};
  /* compressed flag: not negotiated */
  rr_grpc_decoder_init(&d, 0);
  uint8_t c[6] = {1, 0, 0, 0, 1, 'x'};
  assert_int_equal(rr_grpc_decoder_feed(&d, c, 6, collect, &g, &e), RR_EPROTO);
  assert_non_null(strstr(e.msg, "compress"));
  assert_int_equal(rr_grpc_decoder_feed(&d, c, 0, collect, &g, NULL), RR_EPROTO); /* stays failed */
  rr_grpc_decoder_free(&d);
  /* length over the limit is refused before any body is buffered */
  rr_grpc_decoder_init(&d, 100);
  uint8_t l[5] = {0, 0, 0, 0, 101};
  assert_int_equal(rr_grpc_decoder_feed(&d, l, 5, collect, &g, &e), RR_ERANGE);
  assert_null(d.body.data);
  rr_grpc_decoder_free(&d);
  /* trailer frames only where allowed */
  rr_grpc_decoder_init(&d, 0);
  uint8_t t[5] = {0x80, 0, 0, 0, 0};
  assert_int_equal(rr_grpc_decoder_feed(&d, t, 5, collect, &g, NULL), RR_EPROTO);
  rr_grpc_decoder_free(&d);
  rr_grpc_decoder_init(&d, 0);
  d.allow_trailers = true;
  assert_int_equal(rr_grpc_decoder_feed(&d, t, 5, collect, &g, NULL), RR_OK);
  assert_int_equal(g.flags[g.n - 1], 0x80);
  rr_grpc_decoder_free(&d);
  /* a callback error stops the feed */
  rr_grpc_decoder_init(&d, 0);
  struct got g2 = {.fail_at = 1};
  rr_buf b = RR_BUF_INIT;
  frame(&b, 0, "a", 1);
  frame(&b, 0, "b", 1);
  frame(&b, 0, "c", 1);
  assert_int_equal(rr_grpc_decoder_feed(&d, b.data, b.len, collect, &g2, NULL), RR_ECORRUPT);
  assert_int_equal(g2.n, 1);
  rr_buf_free(&b);
  rr_grpc_decoder_free(&d);
  /* partial message: not idle */
  rr_grpc_decoder_init(&d, 0);
  uint8_t p[7] = {0, 0, 0, 0, 9, 'a', 'b'};
  assert_int_equal(rr_grpc_decoder_feed(&d, p, 7, collect, &g, NULL), RR_OK);
  assert_false(rr_grpc_decoder_idle(&d));
  rr_grpc_decoder_free(&d);
}

static void test_logmsg_prefix(void **state) {
  uint8_t pre[32];
  /* inner of 300 bytes, kind 2: LogMsg = 0x12 varint(300) inner (303 bytes);
   * request = 0x0a varint(303) LogMsg (306 bytes) */
  int n = rr_grpc_logmsg_prefix(pre, 2, 300);
  assert_int_equal(n, 5 + 3 + 3);
  assert_int_equal(pre[0], 0);
  assert_int_equal((pre[1] << 24) | (pre[2] << 16) | (pre[3] << 8) | pre[4], 306);
  assert_int_equal(pre[5], 0x0a);
  assert_int_equal(pre[6], 0xaf);
  assert_int_equal(pre[7], 0x02);
  assert_int_equal(pre[8], 0x12);
  assert_int_equal(pre[9], 0xac);
  assert_int_equal(pre[10], 0x02);
  assert_int_equal(rr_grpc_logmsg_prefix(pre, 0, 1), RR_EINVAL);
  assert_int_equal(rr_grpc_logmsg_prefix(pre, 2, (size_t)UINT32_MAX), RR_ERANGE);
  /* find_field1 gets the LogMsg back, skipping other fields */
  uint8_t body[] = {0x10, 0x05, 0x0a, 0x02, 'h', 'i', 0x1d, 1, 2, 3, 4};
  const uint8_t *in;
  size_t il;
  assert_int_equal(rr_proto_find_field1(body, sizeof body, &in, &il), RR_OK);
  assert_int_equal(il, 2);
  assert_memory_equal(in, "hi", 2);
  assert_int_equal(rr_proto_find_field1(body, 2, &in, &il), RR_ENOTFOUND);
  uint8_t bad[] = {0x0a, 0x09, 'x'};
  assert_int_equal(rr_proto_find_field1(bad, sizeof bad, &in, &il), RR_ECORRUPT);
  uint8_t wt[] = {0x08, 0x01};
  assert_int_equal(rr_proto_find_field1(wt, sizeof wt, &in, &il), RR_ECORRUPT);
}

static void test_grpcweb_trailer(void **state) {
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_grpcweb_trailer(&b, 3, "bad 100%\n"), RR_OK);
  const char *want = "grpc-status:3\r\ngrpc-message:bad 100%25%0A\r\n";
  assert_int_equal(b.data[0], 0x80);
  assert_int_equal((b.data[1] << 24) | (b.data[2] << 16) | (b.data[3] << 8) | b.data[4], strlen(want));
  assert_memory_equal(b.data + 5, want, strlen(want));
  rr_buf_free(&b);
}

static void test_http1(void **state) {
  rr_http1_request r;
  const char *req = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: 5\r\n"
                    "Origin: http://127.0.0.1:8080\r\nConnection: keep-alive, Upgrade\r\n\r\nXXXXX";
  assert_int_equal(rr_http1_parse_request(req, strlen(req), &r, NULL), RR_OK);
  assert_int_equal(r.method.len, 4);
  assert_int_equal(r.content_length, 5);
  assert_int_equal(r.head_len, strlen(req) - 5);
  assert_true(r.keep_alive);
  rr_str ct = rr_http1_header(&r, "content-type");
  assert_int_equal(ct.len, strlen("application/grpc-web+proto"));
  assert_true(rr_http1_header_has(&r, "connection", "upgrade"));
  assert_false(rr_http1_header_has(&r, "connection", "close"));
  /* incomplete, then each prefix is EAGAIN */
  for (size_t i = 0; i < strlen(req) - 5; i++) assert_int_equal(rr_http1_parse_request(req, i, &r, NULL), RR_EAGAIN);
  const char *bad[] = {"GET\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                       "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                       "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                       "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
                       "G(T / HTTP/1.1\r\n\r\n", "GET /a b HTTP/1.1\r\n\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(rr_http1_parse_request(bad[i], strlen(bad[i]), &r, NULL), RR_EPROTO);
  /* too long without an end */
  static char longreq[RR_HTTP1_MAX_HEAD + 10];
  memset(longreq, 'a', sizeof longreq);
  assert_int_equal(rr_http1_parse_request(longreq, sizeof longreq, &r, NULL), RR_EPROTO);
  const char *c10 = "GET / HTTP/1.0\r\n\r\n";
  assert_int_equal(rr_http1_parse_request(c10, strlen(c10), &r, NULL), RR_OK);
  assert_false(r.keep_alive);
  assert_int_equal(r.content_length, -1);
}

static void test_url(void **state) {
  rr_proxy_url u;
  assert_int_equal(rr_proxy_url_parse("rerun+http://127.0.0.1:9876/proxy", &u, NULL), RR_OK);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 9876);
  assert_false(u.tls);
  assert_int_equal(rr_proxy_url_parse("rerun+http://example.com/proxy", &u, NULL), RR_OK);
  assert_int_equal(u.port, 9876);
  assert_int_equal(rr_proxy_url_parse("http://example.com", &u, NULL), RR_OK);
  assert_int_equal(u.port, 80);
  assert_int_equal(rr_proxy_url_parse("rerun+https://example.com", &u, NULL), RR_OK);
  assert_true(u.tls);
  assert_int_equal(u.port, 443);
  assert_int_equal(rr_proxy_url_parse("rerun http://0.0.0.0:1234/proxy", &u, NULL), RR_OK);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 1234);
  assert_int_equal(rr_proxy_url_parse("rerun+http://[::1]:5/proxy", &u, NULL), RR_OK);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 5);
  assert_int_equal(rr_proxy_url_parse("localhost", &u, NULL), RR_OK);
  assert_int_equal(u.port, 9876);
  const char *bad[] = {"", "ftp://x", "rerun+http://:9/proxy", "rerun+http://h:0/", "rerun+http://h:99999/",
                       "rerun+http://h:12x/", "rerun+http://[::1/proxy", "rerun+http://a@b/"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(rr_proxy_url_parse(bad[i], &u, NULL), RR_EINVAL);
}

static void test_cors(void **state) {
#define OK(s, extra) assert_true(rr_cors_origin_allowed(s, strlen(s), extra))
#define NO(s, extra) assert_false(rr_cors_origin_allowed(s, strlen(s), extra))
  OK("http://localhost", NULL);
  OK("http://localhost:9090", NULL);
  OK("https://127.0.0.1:1", NULL);
  OK("https://rerun.io", NULL);
  NO("http://evil.com", NULL);
  NO("http://localhost.evil.com", NULL);
  NO("http://127.0.0.1.evil.com", NULL);
  OK("https://app.example.com", "https://*.example.com");
  NO("https://example.org", "https://*.example.com");
  assert_true(rr_glob_match("a*b*c", "axxbyyc", 7));
  assert_false(rr_glob_match("a*b*c", "axxbyy", 6));
  assert_true(rr_glob_match("*", "", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grpc_decoder_splits), cmocka_unit_test(test_grpc_decoder_errors),
      cmocka_unit_test(test_logmsg_prefix),       cmocka_unit_test(test_grpcweb_trailer),
      cmocka_unit_test(test_http1),               cmocka_unit_test(test_url),
      cmocka_unit_test(test_cors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
