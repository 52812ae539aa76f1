/* The server: broker (history order, memory limit, readers) and the whole
 * server in-process over loopback (SDK sink -> server -> gRPC-Web reader,
 * bad clients dropped while others are served). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "encoding/rr_encoding.h"
#include "net/rr_net.h"
#include "rerun.h"
#include "rerun/server.h"
#include "rerun/store.h"
#include "server/server_internal.h"

/* A decoded message: kind 1 store info, or kind 2 arrow (static or not) of `n` payload bytes tagged `tag`. */
static srv_msg *mk(int kind, bool is_static, bool blueprint, size_t n, uint8_t tag) {
  rr_log_msg m;
  rr_store_id id = {blueprint ? RR_STORE_KIND_BLUEPRINT : RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  uint8_t payload[4096];
  memset(payload, tag, sizeof payload);
  if (kind == RR_MSG_SET_STORE_INFO) {
    rr_log_msg_init_store_info(&m, &id);
  } else {
    memset(&m, 0, sizeof m);
    m.kind = RR_MSG_ARROW;
    m.store_id = id;
    m.arrow.ipc.ptr = payload;
    m.arrow.ipc.len = n;
    m.arrow.has_is_static = true;
    m.arrow.is_static = is_static;
  }
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_LOG_MSG, false, NULL), RR_OK);
  rr_log_msg *d = NULL;
  assert_int_equal(rr_log_msg_decode(b.data, b.len, NULL, &d, NULL), RR_OK);
  srv_msg *s = rr__srv_msg_from_log_msg(d);
  assert_non_null(s);
  rr_log_msg_free(d);
  rr_buf_free(&b);
  return s;
}

/* The tag byte of a message's payload (last byte of its frame before the is_static field). */
static uint8_t tag_of(const uint8_t *frame, size_t len) { return frame[len - 3]; }

static void drain(srv_reader *r, uint8_t *tags, int *n) {
  size_t len;
  const uint8_t *p;
  while ((p = rr__srv_reader_peek(r, &len))) {
    tags[(*n)++] = tag_of(p, len);
    rr__srv_reader_consume(r, len);
  }
}

static void test_history_order(void **state) {
  srv_broker b;
  rr__srv_broker_init(&b, 1 << 30, 1 << 30);
  rr__srv_broker_publish(&b, mk(2, false, false, 10, 'a'));
  rr__srv_broker_publish(&b, mk(1, false, false, 0, 0));
  rr__srv_broker_publish(&b, mk(2, true, false, 10, 'b'));
  rr__srv_broker_publish(&b, mk(2, false, false, 10, 'c'));
  rr__srv_broker_publish(&b, mk(2, false, true, 10, 'd')); /* blueprint: persistent */
  srv_reader r = {0};
  assert_int_equal(rr__srv_reader_attach(&b, &r), RR_OK);
  assert_int_equal(r.snap_n, 5);
  /* persistent (store info, blueprint), static, disposable; then live */
  size_t len;
  const uint8_t *p = rr__srv_reader_peek(&r, &len);
  assert_non_null(p);
  rr__srv_reader_consume(&r, len); /* the store info */
  rr__srv_broker_publish(&b, mk(2, false, false, 10, 'e'));
  uint8_t tags[16];
  int n = 0;
  drain(&r, tags, &n);
  assert_int_equal(n, 5);
  assert_memory_equal(tags, "dbace", 5);
  /* partial consumption keeps the position inside a message */
  rr__srv_broker_publish(&b, mk(2, false, false, 10, 'f'));
  p = rr__srv_reader_peek(&r, &len);
  size_t full = len;
  rr__srv_reader_consume(&r, 3);
  p = rr__srv_reader_peek(&r, &len);
  assert_int_equal(len, full - 3);
  rr__srv_reader_consume(&r, len);
  assert_true(rr__srv_reader_empty(&r));
  rr__srv_reader_detach(&r);
  uint64_t hist = b.hist_bytes;
  assert_int_equal(b.live_bytes, hist); /* nothing but the history holds messages */
  rr__srv_broker_free(&b);
  assert_int_equal(b.live_bytes, 0);
}

static void test_memory_limit(void **state) {
  srv_msg *probe = mk(2, false, false, 1000, 'x');
  size_t one = probe->len;
  rr__free(probe);
  srv_broker b;
  rr__srv_broker_init(&b, 3 * one + 10, 1 << 30);
  rr__srv_broker_publish(&b, mk(1, false, false, 0, 0));
  rr__srv_broker_publish(&b, mk(2, true, false, 1000, 's'));
  for (int i = 0; i < 5; i++) rr__srv_broker_publish(&b, mk(2, false, false, 1000, (uint8_t)('0' + i)));
  /* kept: store info + static + the newest temporal that fit */
  assert_true(b.hist_bytes <= b.limit);
  assert_int_equal(b.hist[SRV_PERSISTENT].n, 1);
  assert_int_equal(b.hist[SRV_STATIC].n, 1);
  assert_int_equal(b.hist[SRV_DISPOSABLE].n, 1);
  assert_int_equal(b.dropped_msgs, 4);
  srv_reader r = {0};
  assert_int_equal(rr__srv_reader_attach(&b, &r), RR_OK);
  size_t len;
  rr__srv_reader_consume(&r, (rr__srv_reader_peek(&r, &len), len));
  uint8_t tags[8];
  int n = 0;
  drain(&r, tags, &n);
  assert_int_equal(n, 2);
  assert_memory_equal(tags, "s4", 2);
  /* then static ones go too, store infos never */
  for (int i = 0; i < 3; i++) rr__srv_broker_publish(&b, mk(2, true, false, 1000, 'S'));
  assert_int_equal(b.hist[SRV_DISPOSABLE].n, 0);
  assert_int_equal(b.hist[SRV_PERSISTENT].n, 1);
  assert_true(b.hist_bytes <= b.limit);
  rr__srv_reader_detach(&r);
  rr__srv_broker_free(&b);
  /* limit 0: pure forwarding */
  rr__srv_broker_init(&b, 0, 1 << 30);
  srv_reader r2 = {0};
  rr__srv_reader_attach(&b, &r2);
  rr__srv_broker_publish(&b, mk(1, false, false, 0, 0));
  assert_int_equal(b.hist_bytes, 0);
  assert_false(rr__srv_reader_empty(&r2));
  rr__srv_reader_detach(&r2);
  assert_int_equal(b.live_bytes, 0);
  rr__srv_broker_free(&b);
}

static void test_reader_overflow(void **state) {
  srv_broker b;
  rr__srv_broker_init(&b, 1 << 30, 5000);
  srv_reader slow = {0}, fast = {0};
  rr__srv_reader_attach(&b, &slow);
  rr__srv_reader_attach(&b, &fast);
  uint8_t tags[16];
  int n = 0;
  for (int i = 0; i < 10; i++) {
    rr__srv_broker_publish(&b, mk(2, false, false, 1000, (uint8_t)('0' + i)));
    drain(&fast, tags, &n);
  }
  assert_true(slow.overflow);
  assert_false(fast.overflow);
  assert_int_equal(n, 10);
  assert_true(slow.live_bytes <= 5000 + 1200);
  rr__srv_reader_detach(&slow);
  rr__srv_reader_detach(&fast);
  rr__srv_broker_free(&b);
}

/* ---- the whole server over loopback -------------------------------------------------- */

static int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* Reads until `needle` appears or the peer closes or 5 s pass. */
static size_t read_until(int fd, rr_buf *b, const char *needle, size_t needle_len) {
  int64_t end = rr__mono_ns() + 5000000000LL;
  while (rr__mono_ns() < end) {
    if (b->len >= needle_len && memmem(b->data, b->len, needle, needle_len)) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) break;
    rr_buf_append(b, tmp, (size_t)n);
  }
  return b->len;
}

static void stats(rr_server *s, rr_server_stats *st) { rr_server_stats_get(s, st); }

static void wait_for(rr_server *s, uint64_t msgs) {
  rr_server_stats st;
  for (int i = 0; i < 500; i++) {
    stats(s, &st);
    if (st.messages_received >= msgs) return;
    usleep(10000);
  }
}

static void test_server_loopback(void **state) {
  rr_server_options o;
  rr_server_options_init(&o);
  o.bind_host = "127.0.0.1";
  o.port = 0;
  rr_store_hub *hub = NULL;
  assert_int_equal(rr_store_hub_new(&hub, NULL), RR_OK);
  o.store = hub;
  rr_server *s = NULL;
  rr_error err = {0};
  assert_int_equal(rr_server_new(&s, &o, &err), RR_OK);
  assert_int_equal(rr_server_start(s, &err), RR_OK);
  int port = rr_server_port(s);
  assert_true(port > 0);

  /* a client sending garbage after the HTTP/2 preface is dropped */
  int bad = tcp_connect(port);
  const char junk[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  assert_int_equal(write(bad, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
  rr_buf g = RR_BUF_INIT;
  read_until(bad, &g, "\x01\x02\x03", 3); /* until closed */
  close(bad);
  rr_buf_free(&g);
  rr_server_stats st;
  for (int i = 0; i < 100; i++) { stats(s, &st); if (st.clients_dropped) break; usleep(10000); }
  assert_int_equal(st.clients_dropped, 1);

  /* the SDK streams a recording */
  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", port);
  rr_recording_options ro = {.application_id = "test_app", .recording_id = "test_rec", .no_start_time = true};
  rr_recording *rec = NULL;
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  assert_int_equal(rr_recording_connect_grpc(rec, url, &err), RR_OK);
  for (int i = 0; i < 10; i++) {
    rr_set_time_sequence(rec, "frame", i);
    rr_text t = "hello";
    rr_text_log tl = {.text = &t, .num_text = 1};
    assert_int_equal(rr_log(rec, "log", RR_ARCHETYPE_TEXT_LOG, &tl, &err), RR_OK);
  }
  assert_int_equal(rr_recording_flush(rec, true, 5000), RR_OK);
  wait_for(s, 2);
  stats(s, &st);
  assert_true(st.messages_received >= 2); /* store info + at least one chunk */

  /* a browser-style gRPC-Web reader gets the history: CORS, content type, frames */
  int fd = tcp_connect(port);
  const char req[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\n"
                     "Host: x\r\nOrigin: http://localhost:1234\r\ncontent-type: application/grpc-web+proto\r\n"
                     "x-grpc-web: 1\r\ncontent-length: 5\r\n\r\n";
  assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  assert_int_equal(write(fd, "\0\0\0\0\0", 5), 5);
  rr_buf r = RR_BUF_INIT;
  read_until(fd, &r, "test_rec", 8);
  assert_non_null(memmem(r.data, r.len, "content-type: application/grpc-web+proto", 40));
  assert_non_null(memmem(r.data, r.len, "access-control-allow-origin: http://localhost:1234", 50));
  assert_non_null(memmem(r.data, r.len, "test_rec", 8));
  stats(s, &st);
  assert_int_equal(st.readers, 1);
  close(fd);
  rr_buf_free(&r);

  /* preflight from an allowed and a foreign origin */
  fd = tcp_connect(port);
  const char pre[] = "OPTIONS /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\nHost: x\r\n"
                     "Origin: http://127.0.0.1:9090\r\naccess-control-request-method: POST\r\n"
                     "access-control-request-headers: content-type,x-grpc-web\r\n\r\n";
  assert_int_equal(write(fd, pre, sizeof pre - 1), (ssize_t)(sizeof pre - 1));
  r = (rr_buf)RR_BUF_INIT;
  read_until(fd, &r, "\r\n\r\n", 4);
  assert_non_null(memmem(r.data, r.len, "HTTP/1.1 204", 12));
  assert_non_null(memmem(r.data, r.len, "access-control-allow-headers: content-type,x-grpc-web", 53));
  rr_buf_free(&r);
  const char pre2[] = "OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n";
  assert_int_equal(write(fd, pre2, sizeof pre2 - 1), (ssize_t)(sizeof pre2 - 1));
  read_until(fd, &r, "\r\n\r\n", 4);
  assert_non_null(memmem(r.data, r.len, "HTTP/1.1 403", 12));
  assert_null(memmem(r.data, r.len, "evil", 4));
  rr_buf_free(&r);
  close(fd);

  rr_recording_free(rec);
  for (int i = 0; i < 200; i++) { stats(s, &st); if (!st.connections) break; usleep(10000); }
  assert_int_equal(st.connections, 0);
  assert_int_equal(st.message_bytes_live, st.history_bytes); /* readers gone: only the history holds messages */
  rr_server_free(s);
  /* the live recording also went into the store, queryable */
  rr_store *rs = rr_store_hub_find(hub, RR_STORE_RECORDING, "test_app", "test_rec");
  assert_non_null(rs);
  assert_true(rr_store_chunk_count(rs) >= 1);
  rr_store_hub_free(hub);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_order), cmocka_unit_test(test_memory_limit),
      cmocka_unit_test(test_reader_overflow), cmocka_unit_test(test_server_loopback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
