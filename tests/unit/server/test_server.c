/* The server: broker (history order, memory limit, readers) and the whole
 * server in-process over loopback (SDK sink -> server -> gRPC-Web reader,
 * bad clients dropped while others are served). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding/rr_encoding.h"
#include "net/rr_net.h"
#include "../../common/http_chunked.h"
#include "rerun.h"
#include "rerun/server.h"
#include "rerun/store.h"
#include "sdk/sdk_internal.h"
#include "server/server_internal.h"

/* A SetStoreInfo (kind 1) or an ArrowMsg of n payload bytes (kind 2). */
static void init_msg(rr_log_msg *m, int kind, const rr_store_id *id, const void *payload, size_t n, bool is_static) {
  if (kind == RR_MSG_SET_STORE_INFO) {
    rr_log_msg_init_store_info(m, id);
    return;
  }
  memset(m, 0, sizeof *m);
  m->kind = RR_MSG_ARROW;
  m->store_id = *id;
  m->arrow.ipc.ptr = payload;
  m->arrow.ipc.len = n;
  m->arrow.has_is_static = true;
  m->arrow.is_static = is_static;
}

/* A decoded message: kind 1 store info, or kind 2 arrow (static or not) of `n` payload bytes tagged `tag`. */
static srv_msg *mk(int kind, bool is_static, bool blueprint, size_t n, uint8_t tag) {
  rr_log_msg m;
  rr_store_id id = {blueprint ? RR_STORE_KIND_BLUEPRINT : RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  uint8_t payload[4096];
  memset(payload, tag, sizeof payload);
  init_msg(&m, kind, &id, payload, n, is_static);
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

/* A server on 127.0.0.1 at a free port (or `port` when > 0), started;
 * `hub` (may be NULL) receives its recordings. */
static rr_server *loopback_server(rr_store_hub *hub, int port) {
  rr_server_options o;
  rr_server_options_init(&o);
  o.bind_host = "127.0.0.1";
  o.port = port;
  o.store = hub;
  rr_server *s = NULL;
  rr_error err = {0};
  assert_int_equal(rr_server_new(&s, &o, &err), RR_OK);
  assert_int_equal(rr_server_start(s, &err), RR_OK);
  return s;
}

static void test_server_loopback(void **state) {
  rr_store_hub *hub = NULL;
  assert_int_equal(rr_store_hub_new(&hub, NULL), RR_OK);
  rr_server *s = loopback_server(hub, 0);
  rr_error err = {0};
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

/* Large chunks (sent by the sink without a copy, validated from their
 * envelope, forwarded by reference) reach a gRPC-Web reader intact, and a
 * reader attached later gets the same bytes from the history. */
static void test_server_large_forwarding(void **state) {
  (void)state;
  rr_server *s = loopback_server(NULL, 0);
  rr_error err = {0};
  int port = rr_server_port(s);
  const char req[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\n"
                     "Host: x\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0";
  int live = tcp_connect(port);
  assert_int_equal(write(live, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  usleep(50000);

  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", port);
  rr_recording_options ro = {.application_id = "big_app", .recording_id = "big_rec", .no_start_time = true,
                             .no_compression = true, .flush_num_bytes = 1};
  rr_recording *rec = NULL;
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  assert_int_equal(rr_recording_connect_grpc(rec, url, &err), RR_OK);
  enum { BATCHES = 4, N = 40000 }; /* 320 KB of doubles per chunk */
  static double v[N];
  for (int b = 0; b < BATCHES; b++) {
    for (int i = 0; i < N; i++) v[i] = b * 1e6 + i;
    rr_set_time_sequence(rec, "b", b);
    rr_scalars sc = {.scalars = v, .num_scalars = N};
    assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_SCALARS, &sc, &err), RR_OK);
  }
  assert_int_equal(rr_recording_flush(rec, true, 10000), RR_OK);
  double last = (BATCHES - 1) * 1e6 + (N - 1);
  int late = tcp_connect(port);
  assert_int_equal(write(late, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  int fds[2] = {live, late};
  for (int k = 0; k < 2; k++) {
    rr_buf r = RR_BUF_INIT;
    read_until(fds[k], &r, (const char *)&last, sizeof last);
    /* every batch arrived with all its values in order (a run of doubles is never split by the chunked framing
     * here: each chunk carries one whole message) */
    for (int b = 0; b < BATCHES; b++) {
      double first[4] = {b * 1e6, b * 1e6 + 1, b * 1e6 + 2, b * 1e6 + 3};
      const uint8_t *at = memmem(r.data, r.len, first, sizeof first);
      assert_non_null(at);
      size_t left = r.len - (size_t)(at - r.data);
      assert_true(left >= sizeof(double) * N);
      for (int i = 0; i < N; i += 997) {
        double x;
        memcpy(&x, at + (size_t)i * sizeof x, sizeof x);
        assert_true(x == b * 1e6 + i);
      }
    }
    rr_buf_free(&r);
    close(fds[k]);
  }
  rr_recording_free(rec);
  rr_server_stats st;
  for (int i = 0; i < 200; i++) { stats(s, &st); if (!st.connections) break; usleep(10000); }
  assert_int_equal(st.message_bytes_live, st.history_bytes);
  assert_true(st.bytes_received > (uint64_t)BATCHES * N * sizeof(double));
  rr_server_free(s);
}

/* ---- cheap validation and the deframer ---------------------------------------------------- */

/* A LogMsg carrying an ArrowMsg of `n` payload bytes, encoded by the encoder. */
static void arrow_logmsg(rr_buf *b, bool is_static, bool blueprint, bool lz4, size_t n) {
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  uint8_t payload[256];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i % 7);
  m.kind = RR_MSG_ARROW;
  m.store_id = (rr_store_id){blueprint ? RR_STORE_KIND_BLUEPRINT : RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  m.arrow.ipc.ptr = payload;
  m.arrow.ipc.len = n;
  m.arrow.has_is_static = true;
  m.arrow.is_static = is_static;
  assert_int_equal(rr_log_msg_encode(b, &m, RR_FRAMING_LOG_MSG, lz4, NULL), RR_OK);
}

/* LogMsg { arrow_msg = inner } around hand-made ArrowMsg bytes. */
static size_t wrap_arrow(uint8_t *out, const uint8_t *inner, size_t n) {
  out[0] = 0x12;
  out[1] = (uint8_t)n; /* n < 128 here */
  memcpy(out + 2, inner, n);
  return n + 2;
}

static void test_check_log_msg(void **state) {
  (void)state;
  /* valid messages: the cheap check agrees with the full decoder on kind, category and inner bytes */
  for (int v = 0; v < 8; v++) {
    bool st = v & 1, bp = v & 2, lz = v & 4;
    rr_buf b = RR_BUF_INIT;
    arrow_logmsg(&b, st, bp, lz, 200);
    srv_log_info cheap, full;
    rr_error e = {0};
    assert_int_equal(rr__srv_check_log_msg(b.data, b.len, false, &cheap, &e), RR_OK);
    assert_int_equal(rr__srv_check_log_msg(b.data, b.len, true, &full, &e), RR_OK);
    rr_log_msg *d = NULL;
    assert_int_equal(rr_log_msg_decode(b.data, b.len, NULL, &d, NULL), RR_OK);
    assert_int_equal(cheap.kind, RR_MSG_ARROW);
    assert_int_equal(cheap.cat, rr__srv_category(d));
    assert_int_equal(full.cat, cheap.cat);
    assert_int_equal(cheap.cat, bp ? SRV_PERSISTENT : st ? SRV_STATIC : SRV_DISPOSABLE);
    assert_int_equal(cheap.inner_len, d->proto.len);
    assert_memory_equal(cheap.inner, d->proto.ptr, d->proto.len);
    rr_log_msg_free(d);
    rr_buf_free(&b);
  }
  /* store infos go through the full decoder */
  srv_msg *si = mk(RR_MSG_SET_STORE_INFO, false, false, 0, 0);
  srv_log_info li;
  const uint8_t *silm;
  size_t silen;
  assert_int_equal(rr_proto_find_field1(si->data + 5, si->len - 5, &silm, &silen), RR_OK);
  assert_int_equal(rr__srv_check_log_msg(silm, silen, false, &li, NULL), RR_OK);
  assert_int_equal(li.kind, RR_MSG_SET_STORE_INFO);
  assert_int_equal(li.cat, SRV_PERSISTENT);
  rr__free(si);

  /* garbage is refused with a reason */
  static const struct { const char *bytes; size_t n; int rc; const char *why; } bad[] = {
      {"\xff\xff\xff", 3, RR_ECORRUPT, "malformed ArrowMsg"},                 /* truncated varint */
      {"\x20\x01\x2a\x00", 4, RR_ECORRUPT, "missing store_id"},              /* encoding 1, empty payload */
      {"\x0a\x00\x20\x02", 4, RR_EUNSUPPORTED, "encoding"},                  /* encoding 2 */
      {"\x0a\x00\x20\x01\x10\x02\x18\xe8\x07\x2a\x01\x00", 12, RR_ECORRUPT, "impossible"}, /* 1000 bytes from 1 byte of LZ4 */
      {"\x0a\x02\x12\xff", 4, RR_ECORRUPT, "store_id"},                     /* truncated recording id */
      {"\x0a\x03\x12\x01\xff", 5, RR_ECORRUPT, "UTF-8"},                   /* recording id not UTF-8 */
      {"\x0a\x00\x22\x00", 4, RR_ECORRUPT, "wire type"},                    /* encoding as bytes */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    uint8_t lm[64];
    size_t n = wrap_arrow(lm, (const uint8_t *)bad[i].bytes, bad[i].n);
    rr_error e = {0};
    assert_int_equal(rr__srv_check_log_msg(lm, n, false, &li, &e), bad[i].rc);
    assert_non_null(strstr(e.msg, bad[i].why));
  }
  rr_error e = {0};
  assert_int_equal(rr__srv_check_log_msg((const uint8_t *)"\x08\x01", 2, false, &li, &e), RR_ECORRUPT); /* no oneof member */
  /* a corrupt LZ4 block: the cheap check lets it through, the full one (store hub) refuses it */
  static const uint8_t lz4bad[] = {0x0a, 0x00, 0x10, 0x02, 0x18, 0x10, 0x20, 0x01, 0x2a, 0x02, 0xff, 0xff};
  uint8_t lm[64];
  size_t n = wrap_arrow(lm, lz4bad, sizeof lz4bad);
  assert_int_equal(rr__srv_check_log_msg(lm, n, false, &li, NULL), RR_OK);
  assert_int_equal(rr__srv_check_log_msg(lm, n, true, &li, NULL), RR_ECORRUPT);
}

struct frames { srv_msg *m[8]; int n; };

static int keep_frame(void *ud, srv_msg *m) {
  struct frames *f = ud;
  if (f->n == 8) { rr__free(m); return RR_EINVAL; }
  f->m[f->n++] = m;
  return 0;
}

static void test_deframer(void **state) {
  (void)state;
  /* two frames (one empty) split at every pair of positions arrive whole, bytes unchanged */
  uint8_t in[5 + 300 + 5];
  rr_grpc_frame_header(in, 0, 300);
  for (int i = 0; i < 300; i++) in[5 + i] = (uint8_t)(i * 13);
  rr_grpc_frame_header(in + 305, 0, 0);
  for (size_t a = 0; a <= sizeof in; a += 7) {
    for (size_t b2 = a; b2 <= sizeof in; b2 += 11) {
      srv_deframer d;
      rr__srv_deframer_init(&d);
      struct frames f = {{0}, 0};
      assert_int_equal(rr__srv_deframer_feed(&d, in, a, keep_frame, &f, NULL), RR_OK);
      assert_int_equal(rr__srv_deframer_feed(&d, in + a, b2 - a, keep_frame, &f, NULL), RR_OK);
      assert_int_equal(rr__srv_deframer_feed(&d, in + b2, sizeof in - b2, keep_frame, &f, NULL), RR_OK);
      assert_true(rr__srv_deframer_idle(&d));
      assert_int_equal(f.n, 2);
      assert_int_equal(f.m[0]->len, 305);
      assert_memory_equal(f.m[0]->data, in, 305);
      assert_int_equal(f.m[1]->len, 5);
      for (int i = 0; i < f.n; i++) rr__free(f.m[i]);
      rr__srv_deframer_free(&d);
    }
  }
  /* a partial message is not idle and is freed with the deframer */
  srv_deframer d;
  rr__srv_deframer_init(&d);
  struct frames f = {{0}, 0};
  assert_int_equal(rr__srv_deframer_feed(&d, in, 100, keep_frame, &f, NULL), RR_OK);
  assert_false(rr__srv_deframer_idle(&d));
  assert_int_equal(f.n, 0);
  rr__srv_deframer_free(&d);
  /* compressed and unknown flags fail, and the stream stays failed */
  static const uint8_t comp[] = {1, 0, 0, 0, 1, 0}, unk[] = {0x80, 0, 0, 0, 0};
  rr_error e = {0};
  rr__srv_deframer_init(&d);
  assert_int_equal(rr__srv_deframer_feed(&d, comp, sizeof comp, keep_frame, &f, &e), RR_EPROTO);
  assert_non_null(strstr(e.msg, "compressed message"));
  assert_int_equal(rr__srv_deframer_feed(&d, in, sizeof in, keep_frame, &f, NULL), RR_EPROTO);
  rr__srv_deframer_free(&d);
  rr__srv_deframer_init(&d);
  assert_int_equal(rr__srv_deframer_feed(&d, unk, sizeof unk, keep_frame, &f, &e), RR_EPROTO);
  assert_int_equal(f.n, 0);
  rr__srv_deframer_free(&d);
  /* a claimed 4 GiB message allocates only what is bounded ahead, and fails cleanly on free */
  static const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
  rr__srv_deframer_init(&d);
  assert_int_equal(rr__srv_deframer_feed(&d, huge, sizeof huge, keep_frame, &f, NULL), RR_OK);
  assert_true(d.cap <= ((size_t)16 << 20));
  assert_int_equal(f.n, 0);
  rr__srv_deframer_free(&d);
  /* the callback's error stops the feed */
  struct frames full = {{0}, 8};
  rr__srv_deframer_init(&d);
  assert_int_equal(rr__srv_deframer_feed(&d, in, sizeof in, keep_frame, &full, NULL), RR_EINVAL);
  rr__srv_deframer_free(&d);
}

/* Large freed messages are reused (bounded), small ones freed; accounting unchanged. */
static void test_msg_spares(void **state) {
  (void)state;
  srv_broker b;
  rr__srv_broker_init(&b, 0, 1 << 20);
  srv_msg *m = rr__srv_msg_alloc(&b, 100 << 10);
  assert_non_null(m);
  assert_int_equal(m->cap, 100 << 10);
  m->len = 100 << 10;
  m->cat = SRV_DISPOSABLE;
  rr__srv_broker_publish(&b, m); /* no history, no readers: released at once */
  assert_int_equal(b.live_bytes, 0);
  assert_int_equal(b.n_spare, 1);
  assert_ptr_equal(rr__srv_msg_alloc(&b, 90 << 10), m); /* fits: reused, whole capacity kept */
  assert_int_equal(m->cap, 100 << 10);
  assert_int_equal(b.n_spare, 0);
  srv_msg *big = rr__srv_msg_alloc(&b, SRV_SPARE_BYTES + 4096); /* over the spare budget: freed when released */
  srv_msg *small = rr__srv_msg_alloc(&b, 100);      /* small: a 512-byte buffer, kept in its class */
  assert_int_equal(small->cap, 512);
  srv_msg *ms[3] = {m, big, small};
  for (int i = 0; i < 3; i++) { ms[i]->refs = 1; ms[i]->len = 1; b.live_bytes += 1; rr__srv_msg_unref(&b, ms[i]); }
  assert_int_equal(b.n_spare, 1);
  assert_true(b.spare_bytes <= SRV_SPARE_BYTES);
  assert_int_equal(b.small_bytes, 512);
  assert_ptr_equal(rr__srv_msg_alloc(&b, 300), small); /* same class: reused */
  assert_int_equal(b.small_bytes, 0);
  srv_msg *c4 = rr__srv_msg_alloc(&b, 4096 + 5), *c32 = rr__srv_msg_alloc(&b, 32 << 10), *c40 = rr__srv_msg_alloc(&b, 40 << 10);
  assert_int_equal(c4->cap, 8192);
  assert_int_equal(c32->cap, 32 << 10);
  assert_int_equal(c40->cap, 40 << 10); /* above the small classes, below the spares: as asked */
  srv_msg *ms2[4] = {small, c4, c32, c40};
  for (int i = 0; i < 4; i++) { ms2[i]->refs = 1; ms2[i]->len = 1; b.live_bytes += 1; rr__srv_msg_unref(&b, ms2[i]); }
  assert_int_equal(b.small_bytes, 512 + 8192 + (32 << 10));
  /* the kept buffers stay within their budget */
  enum { MANY = (int)(SRV_SMALL_BYTES / 4096) + 16 };
  static srv_msg *many[MANY];
  for (int i = 0; i < MANY; i++) many[i] = rr__srv_msg_alloc(&b, 4000);
  for (int i = 0; i < MANY; i++) { many[i]->refs = 1; many[i]->len = 1; b.live_bytes += 1; rr__srv_msg_unref(&b, many[i]); }
  assert_true(b.small_bytes <= SRV_SMALL_BYTES);
  assert_int_equal(b.live_bytes, 0);
  srv_msg *other = rr__srv_msg_alloc(&b, 300 << 10); /* more than the spare holds: fresh */
  assert_ptr_not_equal(other, m);
  rr__free(other);

  /* a burst's buffers are kept while they are used, given back after */
  rr__srv_broker_trim_spares(&b); /* m was in use since the start: kept */
  assert_int_equal(b.n_spare, 1);
  rr__srv_broker_trim_spares(&b); /* and then idle a whole period: given back */
  assert_int_equal(b.n_spare, 0);
  assert_int_equal(b.spare_bytes, 0);
  enum { BURST = 20 };
  srv_msg *burst[BURST];
  for (int i = 0; i < BURST; i++) burst[i] = rr__srv_msg_alloc(&b, 1 << 20);
  for (int i = 0; i < BURST; i++) { burst[i]->refs = 1; burst[i]->len = 1; b.live_bytes += 1; rr__srv_msg_unref(&b, burst[i]); }
  assert_int_equal(b.n_spare, BURST); /* more than the 8 kept before */
  rr__srv_broker_trim_spares(&b);      /* all came back after the last trim: none is idle yet */
  assert_int_equal(b.n_spare, BURST);
  for (int round = 0; round < 3; round++) {
    /* 5 at a time in flight: those 5 stay, the other 15 were idle */
    for (int i = 0; i < 5; i++) burst[i] = rr__srv_msg_alloc(&b, 1 << 20);
    for (int i = 0; i < 5; i++) { burst[i]->refs = 1; burst[i]->len = 1; b.live_bytes += 1; rr__srv_msg_unref(&b, burst[i]); }
    rr__srv_broker_trim_spares(&b);
    assert_int_equal(b.n_spare, 5);
    assert_int_equal(b.spare_bytes, 5 * ((size_t)1 << 20));
  }
  rr__srv_broker_trim_spares(&b); /* idle a whole second: all given back */
  assert_int_equal(b.n_spare, 0);
  assert_int_equal(b.spare_bytes, 0);
  srv_msg *last = rr__srv_msg_alloc(&b, 1 << 20);
  last->refs = 1; last->len = 1; b.live_bytes += 1; rr__srv_msg_unref(&b, last);
  rr__srv_broker_free(&b); /* frees the spare and the kept small buffers (ASan checks) */
  assert_int_equal(b.n_spare, 0);
  assert_int_equal(b.small_bytes, 0);
}

/* The gRPC sink's frames (large ones without a copy, split across DATA
 * frames, small ones batched) and the server's in-place assembly of large
 * request bodies: every message reaches a gRPC-Web reader byte for byte. */
struct dechunk {
  struct http_dechunk dc;
  rr_buf grpc; /* de-chunked gRPC frames */
  rr_buf head; /* the response head, until in_body */
  bool in_body;
};

static void append_grpc(void *ud, const uint8_t *p, size_t n) { rr_buf_append(&((struct dechunk *)ud)->grpc, p, n); }
static void dechunk_feed(struct dechunk *d, const uint8_t *p, size_t n) { http_dechunk_feed(&d->dc, p, n, append_grpc, d); }

/* Reads what came of a gRPC-Web response (waiting up to 100 ms): its head,
 * then its body de-chunked into d->grpc. false once the stream ended. */
static bool read_response(int fd, struct dechunk *d, uint8_t *tmp, size_t cap) {
  struct pollfd pf = {fd, POLLIN, 0};
  if (poll(&pf, 1, 100) <= 0) return true;
  ssize_t n = read(fd, tmp, cap);
  if (n <= 0) return false;
  if (d->in_body) {
    dechunk_feed(d, tmp, (size_t)n);
    return true;
  }
  rr_buf_append(&d->head, tmp, (size_t)n);
  uint8_t *e = memmem(d->head.data, d->head.len, "\r\n\r\n", 4);
  if (e) {
    d->in_body = true;
    dechunk_feed(d, e + 4, d->head.len - (size_t)(e + 4 - d->head.data));
  }
  return true;
}

/* in_process: through the sink of a server this process hosts (serve_web:
 * no connection between the SDK and the server) instead of a gRPC sink. */
static void sink_path_byte_exact(bool in_process) {
  rr_server *s = loopback_server(NULL, 0);
  rr_error err = {0};
  int port = rr_server_port(s);
  const char req[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\n"
                     "Host: x\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0";
  int fd = tcp_connect(port);
  assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  usleep(50000);

  rr_recording_options ro = {.application_id = "x", .no_start_time = true, .max_bytes_in_flight = 64 << 20};
  rr_recording *rec = NULL;
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", port);
  struct rr_sink *sink = NULL;
  if (in_process) assert_int_equal(rr__sink_server_new(&sink, rec, s, 5.0, &err), RR_OK); /* owns s now */
  else assert_int_equal(rr__sink_grpc_new(&sink, rec, url, NULL, &err), RR_OK);

  /* sizes around the sink's no-copy threshold, the server's in-place
   * threshold and the 1 MiB frame size, mixed with runs of small ones */
  static const size_t sizes[] = {3u << 20, 27, 100, 1u << 20, 40000, 70000, 5, (2u << 20) + 3, 32768, 65536,
                                 (1u << 20) - 30, 1, 200000, (5u << 20) + 7};
  enum { N_SIZES = sizeof sizes / sizeof *sizes, SMALL_RUN = 50 };
  rr_buf expect = RR_BUF_INIT; /* the gRPC frames the reader must see, in order */
  uint8_t *pay = rr__malloc((6u << 20));
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < (6u << 20); i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; pay[i] = (uint8_t)x; }
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  int n_msgs = 0;
  for (int i = 0; i < N_SIZES; i++) {
    for (int j = 0; j <= SMALL_RUN; j++) {
      size_t n = j == SMALL_RUN ? sizes[i] : (size_t)(j * 37 % 3000);
      rr_log_msg m;
      memset(&m, 0, sizeof m);
      m.kind = RR_MSG_ARROW;
      m.store_id = id;
      m.arrow.ipc.ptr = pay + (size_t)(i * 131 + j);
      m.arrow.ipc.len = n;
      m.arrow.has_is_static = true;
      rr_buf pb = RR_BUF_INIT;
      assert_int_equal(rr_log_msg_encode(&pb, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
      uint8_t prefix[32];
      int pl = rr_grpc_logmsg_prefix(prefix, RR_MSG_ARROW, pb.len);
      assert_true(pl > 0);
      rr_buf_append(&expect, prefix, (size_t)pl);
      rr_buf_append(&expect, pb.data, pb.len);
      struct rr_msg msg = {.kind = RR_MSG_ARROW, .len = pb.len, .pb = pb.data};
      assert_int_equal(sink->write(sink, &msg, &err), RR_OK);
      if (j == SMALL_RUN && sink->end_run) sink->end_run(sink); /* as the batcher does after a run */
      rr_buf_free(&pb);
      n_msgs++;
    }
  }
  /* read while the sink sends: its queue may exceed the socket buffers */
  struct dechunk d = {0};
  int64_t end = rr__mono_ns() + 20000000000LL;
  uint8_t *tmp = rr__malloc(1 << 20);
  while (d.grpc.len < expect.len && rr__mono_ns() < end && read_response(fd, &d, tmp, 1 << 20)) {}
  assert_int_equal(sink->flush(sink, &err), RR_OK);
  assert_int_equal(d.grpc.len, expect.len);
  assert_memory_equal(d.grpc.data, expect.data, expect.len);
  rr_server_stats st;
  stats(s, &st);
  assert_int_equal(st.messages_received, (uint64_t)n_msgs);
  assert_int_equal(st.writers, 0u + !in_process);
  sink->close(sink);
  close(fd);
  rr_recording_free(rec);
  rr_buf_free(&d.head);
  rr_buf_free(&d.grpc);
  rr_buf_free(&expect);
  rr__free(tmp);
  rr__free(pay);
  if (!in_process) rr_server_free(s);
}

static void test_sink_path_byte_exact(void **state) {
  (void)state;
  sink_path_byte_exact(false);
}

static void test_server_sink_byte_exact(void **state) {
  (void)state;
  sink_path_byte_exact(true);
}

/* gRPC-Web text mode (application/grpc-web-text, the default of Google's
 * grpc-web client): a writer's base64 body (sent in pieces that split its
 * groups) is decoded into the same messages, a reader gets base64 of the
 * same frames as a binary reader (each message a padded base64 text of its
 * own, so that a live reader can decode it when it arrives), and a body
 * that is not base64 drops only its client. */
static void read_text_body(int fd, rr_buf *head, rr_buf *body, size_t want) {
  struct dechunk d = {0};
  rr_b64 st = {0};
  uint8_t tmp[65536];
  int64_t end = rr__mono_ns() + 10000000000LL;
  for (bool open = true; open && body->len < want && rr__mono_ns() < end;) {
    size_t had = d.grpc.len;
    open = read_response(fd, &d, tmp, sizeof tmp);
    if (d.grpc.len > had) assert_int_equal(rr_b64_decode(&st, body, d.grpc.data + had, d.grpc.len - had), RR_OK);
  }
  if (d.head.len) rr_buf_append(head, d.head.data, d.head.len);
  rr_buf_free(&d.head);
  rr_buf_free(&d.grpc);
}

static void test_grpcweb_text(void **state) {
  (void)state;
  rr_server *s = loopback_server(NULL, 0);
  int port = rr_server_port(s);
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"text_rec", 8}};
  rr_buf frames = RR_BUF_INIT; /* the writer's frames: what readers must get */
  static uint8_t pay[70000];
  for (size_t i = 0; i < sizeof pay; i++) pay[i] = (uint8_t)(i * 7 + 3);
  for (int i = 0; i < 4; i++) {
    rr_log_msg m;
    init_msg(&m, i == 0 ? RR_MSG_SET_STORE_INFO : RR_MSG_ARROW, &id, pay, i == 3 ? sizeof pay : (size_t)(100 * i + 1),
             false);
    rr_buf pb = RR_BUF_INIT;
    assert_int_equal(rr_log_msg_encode(&pb, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
    uint8_t prefix[32];
    int pl = rr_grpc_logmsg_prefix(prefix, m.kind, pb.len);
    rr_buf_append(&frames, prefix, (size_t)pl);
    rr_buf_append(&frames, pb.data, pb.len);
    rr_buf_free(&pb);
  }
  rr_b64 enc = {0};
  rr_buf text = RR_BUF_INIT;
  assert_int_equal(rr_b64_encode(&enc, &text, frames.data, frames.len), RR_OK);
  assert_int_equal(rr_b64_encode_end(&enc, &text), RR_OK);

  /* the writer */
  int w = tcp_connect(port);
  char req[400];
  int k = snprintf(req, sizeof req,
                   "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/WriteMessages HTTP/1.1\r\nHost: x\r\n"
                   "content-type: application/grpc-web-text\r\ncontent-length: %zu\r\n\r\n", text.len);
  assert_int_equal(write(w, req, (size_t)k), k);
  assert_int_equal(write(w, text.data, 4001), 4001); /* inside a group */
  usleep(20000);
  assert_int_equal(write(w, text.data + 4001, text.len - 4001), (ssize_t)(text.len - 4001));
  rr_buf head = RR_BUF_INIT, body = RR_BUF_INIT;
  read_text_body(w, &head, &body, 5 + 5 + 14); /* an empty response frame, then the trailer frame */
  assert_non_null(memmem(head.data, head.len, "content-type: application/grpc-web-text+proto", 45));
  assert_true(body.len >= 10);
  assert_memory_equal(body.data, "\0\0\0\0\0\x80", 6);
  assert_non_null(memmem(body.data, body.len, "grpc-status:0", 13));
  close(w);
  rr_server_stats st;
  for (int i = 0; i < 200; i++) { stats(s, &st); if (st.messages_received >= 4) break; usleep(10000); }
  assert_int_equal(st.messages_received, 4);

  /* a reader gets the history: the writer's frames */
  int r = tcp_connect(port);
  const char rreq[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\nHost: x\r\n"
                      "content-type: application/grpc-web-text+proto\r\ncontent-length: 8\r\n\r\nAAAAAAA=";
  assert_int_equal(write(r, rreq, sizeof rreq - 1), (ssize_t)(sizeof rreq - 1));
  rr_buf_reset(&head);
  rr_buf_reset(&body);
  read_text_body(r, &head, &body, frames.len);
  assert_non_null(memmem(head.data, head.len, "content-type: application/grpc-web-text+proto", 45));
  assert_int_equal(body.len, frames.len);
  assert_memory_equal(body.data, frames.data, frames.len);
  close(r);

  /* a writer whose body is not base64 is dropped; the server serves on
   * (counted after the reader's close, which may count as a drop too) */
  for (int i = 0; i < 200; i++) { stats(s, &st); if (!st.connections) break; usleep(10000); }
  assert_int_equal(st.connections, 0);
  uint64_t dropped = st.clients_dropped;
  int bad = tcp_connect(port);
  const char breq[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/WriteMessages HTTP/1.1\r\nHost: x\r\n"
                      "content-type: application/grpc-web-text\r\ncontent-length: 8\r\n\r\nAAAA!AAA";
  assert_int_equal(write(bad, breq, sizeof breq - 1), (ssize_t)(sizeof breq - 1));
  rr_buf g = RR_BUF_INIT;
  read_until(bad, &g, "\x01\x02\x03", 3); /* until closed */
  close(bad);
  for (int i = 0; i < 200; i++) { stats(s, &st); if (st.clients_dropped > dropped) break; usleep(10000); }
  assert_int_equal(st.clients_dropped, dropped + 1);
  assert_int_equal(st.messages_received, 4);
  rr_buf_free(&g);
  rr_buf_free(&head);
  rr_buf_free(&body);
  rr_buf_free(&text);
  rr_buf_free(&frames);
  rr_server_free(s);
}

/* The sink loses its server in the middle of a stream of small messages
 * (appended together into blocks, one of them half sent) and reconnects to
 * a new server on the same port: it resumes at a message boundary, so the
 * new server gets only whole, valid messages (a partial one would make it
 * drop the client). */
static void test_sink_reconnect_whole_messages(void **state) {
  (void)state;
  rr_server *a = loopback_server(NULL, 0);
  rr_error err = {0};
  int port = rr_server_port(a);
  rr_recording_options ro = {.application_id = "x", .no_start_time = true, .max_bytes_in_flight = 256 << 20};
  rr_recording *rec = NULL;
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", port);
  struct rr_sink *sink = NULL;
  rr_grpc_options go = {.flush_timeout_sec = 10};
  assert_int_equal(rr__sink_grpc_new(&sink, rec, url, &go, &err), RR_OK);
  static uint8_t pay[4000];
  for (size_t i = 0; i < sizeof pay; i++) pay[i] = (uint8_t)(i * 31);
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  enum { N = 20000 };
  uint64_t sent = 0;
  for (int i = 0; i < 2 * N; i++) {
    if (i == N) {
      rr_server_free(a); /* mid-stream: some of it in flight, a block half sent */
      a = loopback_server(NULL, port);
      sent = 0;
    }
    rr_log_msg m;
    memset(&m, 0, sizeof m);
    m.kind = RR_MSG_ARROW;
    m.store_id = id;
    m.arrow.ipc.ptr = pay;
    m.arrow.ipc.len = 50 + (size_t)(i * 7919) % 3000;
    m.arrow.has_is_static = true;
    rr_buf pb = RR_BUF_INIT;
    assert_int_equal(rr_log_msg_encode(&pb, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
    struct rr_msg msg = {.kind = RR_MSG_ARROW, .len = pb.len, .pb = pb.data};
    assert_int_equal(sink->write(sink, &msg, &err), RR_OK);
    rr_buf_free(&pb);
    sent++;
  }
  assert_int_equal(sink->flush(sink, &err), RR_OK);
  rr_server_stats st;
  for (int i = 0; i < 500; i++) { stats(a, &st); if (st.messages_received >= sent) break; usleep(10000); }
  assert_true(st.messages_received >= sent);      /* all written after the switch (and maybe some before) */
  assert_true(st.messages_received <= 2 * sent);
  assert_int_equal(st.clients_dropped, 0);         /* nothing malformed */
  sink->close(sink);
  rr_recording_free(rec);
  rr_server_free(a);
}

/* One-row chunks stream out one by one as they are logged, with no flush:
 * the sink gathers small messages, but lets them go at the end of each
 * run of the batcher (not only when its block is full). */
static void test_sink_small_rows_go_without_flush(void **state) {
  rr_server *s = loopback_server(NULL, 0);
  rr_error err = {0};
  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", rr_server_port(s));
  rr_recording_options ro = {.application_id = "app", .no_start_time = true, .flush_num_rows = 1};
  rr_recording *rec = NULL;
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  assert_int_equal(rr_recording_connect_grpc(rec, url, &err), RR_OK);
  rr_server_stats st;
  for (int i = 0; i < 200; i++) { stats(s, &st); if (st.messages_received >= 1) break; usleep(10000); }
  assert_int_equal(st.messages_received, 1); /* SetStoreInfo */
  for (int i = 0; i < 5; i++) {
    rr_set_time_sequence(rec, "i", i);
    rr_scalar v = i;
    rr_scalars sc = {.scalars = &v, .num_scalars = 1};
    assert_int_equal(rr_log(rec, "s", RR_ARCHETYPE_SCALARS, &sc, &err), RR_OK);
    for (int k = 0; k < 300; k++) { stats(s, &st); if (st.messages_received >= 2u + (uint64_t)i) break; usleep(10000); }
    assert_int_equal(st.messages_received, 2u + (uint64_t)i);
  }
  rr_recording_free(rec);
  rr_server_free(s);
}

/* A loopback port where a socket listens but never accepts or reads (a
 * stalled server); url gets its proxy URL. Returns the socket. */
static int silent_listener(char url[64]) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(l, 1), 0);
  socklen_t sl = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &sl);
  snprintf(url, 64, "rerun+http://127.0.0.1:%d/proxy", ntohs(a.sin_port));
  return l;
}

/* An encoded ArrowMsg LogMsg of n payload bytes, as the sink's write takes it. */
static struct rr_msg arrow_msg_of(rr_buf *pb, size_t n) {
  static uint8_t pay[4096];
  assert_true(n <= sizeof pay);
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  rr_log_msg m;
  init_msg(&m, RR_MSG_ARROW, &id, pay, n, false);
  assert_int_equal(rr_log_msg_encode(pb, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
  return (struct rr_msg){.kind = RR_MSG_ARROW, .len = pb->len, .pb = pb->data};
}

/* A recording with `ro` and a gRPC sink of its own to url, written to
 * directly (not through the recording's batcher). */
static struct rr_sink *direct_sink(const char *url, const rr_recording_options *ro, double flush_timeout,
                                   rr_recording **rec) {
  rr_error err = {0};
  assert_int_equal(rr_recording_new(rec, ro, &err), RR_OK);
  struct rr_sink *sink = NULL;
  rr_grpc_options go = {.flush_timeout_sec = flush_timeout};
  assert_int_equal(rr__sink_grpc_new(&sink, *rec, url, &go, &err), RR_OK);
  return sink;
}

/* A server that takes the connection and never reads: with DROP_OLDEST
 * and a small bound, the sink takes every small message at once and drops
 * the oldest, counted, as its queue fills (gathered blocks included). */
static void test_sink_small_rows_drop_oldest(void **state) {
  char url[64];
  int l = silent_listener(url);
  rr_recording_options ro = {.application_id = "app", .no_start_time = true,
                             .max_bytes_in_flight = 64 << 10, .backpressure = RR_BACKPRESSURE_DROP_OLDEST};
  rr_recording *rec = NULL;
  rr_error err = {0};
  struct rr_sink *sink = direct_sink(url, &ro, 0.2, &rec);
  rr_buf pb = RR_BUF_INIT;
  struct rr_msg msg = arrow_msg_of(&pb, 3000);
  enum { N = 4000 }; /* 12 MB: more than the socket buffers and the window take */
  for (int i = 0; i < N; i++) {
    assert_int_equal(sink->write(sink, &msg, &err), RR_OK);
    if (i % 16 == 15) sink->end_run(sink);
  }
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_true(st.chunks_dropped > N / 2);
  assert_true(st.chunks_dropped < N);
  sink->close(sink); /* what is left is counted as dropped too */
  rr_recording_stats_get(rec, &st);
  assert_true(st.chunks_dropped < N);
  rr_buf_free(&pb);
  rr_recording_free(rec);
  close(l);
}

/* Logs `n` Scalars rows of N doubles (2.4 MB: over the recycled-buffer
 * size, so the values go to the gRPC sink without a copy, and over the
 * HTTP/2 frame size, so each goes out in several frames), row b
 * holding b * 1e6 + i. */
enum { ADOPT_N = 300000 };
static void log_big_rows(rr_recording *rec, int from, int n) {
  static double v[ADOPT_N];
  rr_error err = {0};
  for (int b = from; b < from + n; b++) {
    for (int i = 0; i < ADOPT_N; i++) v[i] = b * 1e6 + i;
    rr_set_time_sequence(rec, "b", b);
    rr_scalars sc = {.scalars = v, .num_scalars = ADOPT_N};
    assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_SCALARS, &sc, &err), RR_OK);
  }
}

/* Whether the bytes hold row b's values whole (sampled). */
static bool has_big_row(const rr_buf *r, int b) {
  double first[4] = {b * 1e6, b * 1e6 + 1, b * 1e6 + 2, b * 1e6 + 3};
  const uint8_t *at = r->len ? memmem(r->data, r->len, first, sizeof first) : NULL;
  if (!at || r->len - (size_t)(at - r->data) < sizeof(double) * ADOPT_N) return false;
  for (int i = 0; i < ADOPT_N; i += 991) {
    double x;
    memcpy(&x, at + (size_t)i * sizeof x, sizeof x);
    if (x != b * 1e6 + i) return false;
  }
  return true;
}

/* Chunks the gRPC sink keeps as the batcher made them (no copy: it owns the
 * chunk's value buffers until they are sent, then gives them back): they
 * arrive whole across a server restart mid-stream (half-sent ones are sent
 * again from their parts), and dropped or unsent ones give their buffers
 * back (ASan: no leak, no use after free). */
static void test_sink_adopted_chunks(void **state) {
  rr_server *a = loopback_server(NULL, 0);
  int port = rr_server_port(a);
  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", port);
  rr_recording_options ro = {.application_id = "app", .recording_id = "adopt", .no_start_time = true,
                             .no_compression = true, .flush_num_bytes = 1, .max_bytes_in_flight = 64 << 20};
  rr_recording *rec = NULL;
  rr_error err = {0};
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  rr_grpc_options go = {.flush_timeout_sec = 10};
  assert_int_equal(rr_recording_connect_grpc_opts(rec, url, &go, &err), RR_OK);
  log_big_rows(rec, 0, 10);
  rr_server_free(a); /* mid-stream: some sent, one perhaps half sent, some queued */
  a = loopback_server(NULL, port);
  log_big_rows(rec, 10, 10);
  assert_int_equal(rr_recording_flush(rec, true, 10000), RR_OK);
  assert_true(atomic_load(&rec->msgs_adopted) >= 20);
  const char req[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\n"
                     "Host: x\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0";
  int fd = tcp_connect(port);
  assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  /* the history, de-chunked (a large message may span HTTP chunks) */
  struct dechunk d = {0};
  static uint8_t tmp[1 << 20];
  int64_t end = rr__mono_ns() + (int64_t)30e9;
  while (!has_big_row(&d.grpc, 19) && rr__mono_ns() < end && read_response(fd, &d, tmp, sizeof tmp)) {}
  for (int b = 10; b < 20; b++) assert_true(has_big_row(&d.grpc, b)); /* all logged after the restart, whole */
  rr_buf_free(&d.grpc);
  rr_buf_free(&d.head);
  close(fd);
  rr_server_stats st;
  stats(a, &st);
  assert_int_equal(st.clients_dropped, 0); /* nothing malformed: no message cut */
  rr_recording_free(rec);
  rr_server_free(a);

  /* LZ4: the message owns all its bytes, kept as it is too; the server's
   * store decodes every chunk (decompression, Arrow IPC) */
  rr_store_hub *hub = NULL;
  assert_int_equal(rr_store_hub_new(&hub, NULL), RR_OK);
  a = loopback_server(hub, 0);
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", rr_server_port(a));
  ro.no_compression = false;
  ro.recording_id = "adopt_lz4";
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  assert_int_equal(rr_recording_connect_grpc_opts(rec, url, &go, &err), RR_OK);
  log_big_rows(rec, 0, 8);
  assert_int_equal(rr_recording_flush(rec, true, 10000), RR_OK);
  assert_true(atomic_load(&rec->msgs_adopted) >= 8);
  rr_recording_free(rec);
  wait_for(a, 9);
  stats(a, &st);
  assert_int_equal(st.clients_dropped, 0);
  rr_server_free(a);
  rr_store *store = rr_store_hub_find(hub, RR_STORE_RECORDING, "app", "adopt_lz4");
  assert_non_null(store);
  assert_int_equal(rr_store_chunk_count(store), 8);
  rr_store_hub_free(hub);

  /* a server that never reads, DROP_OLDEST: kept chunks are dropped (their
   * buffers given back), and the rest is given back at close */
  int l = silent_listener(url);
  ro.max_bytes_in_flight = 2 << 20;
  ro.backpressure = RR_BACKPRESSURE_DROP_OLDEST;
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  go.flush_timeout_sec = 0.2;
  assert_int_equal(rr_recording_connect_grpc_opts(rec, url, &go, &err), RR_OK);
  log_big_rows(rec, 0, 20); /* 48 MB */
  rr_recording_flush(rec, true, 5000); /* times out: the server never reads */
  rr_recording_stats rs;
  rr_recording_stats_get(rec, &rs);
  assert_true(rs.chunks_dropped > 0);
  assert_true(atomic_load(&rec->msgs_adopted) > 0);
  rr_recording_free(rec);
  close(l);
}

/* Resident memory of this process now, in bytes. */
/* rr_server_publish: what it refuses, and its bound on the messages the
 * loop thread has not taken yet. The loop thread is stalled for real: the
 * server saves to a FIFO nobody reads, so it blocks in the write once the
 * FIFO is full. Then the oldest queued messages are dropped (not a store
 * info), BLOCK waits first, and once the FIFO is read everything that was
 * kept arrives, in order, and nothing dropped. */
struct fifo_drain { int fd; rr_buf got; };
static void *fifo_drain_main(void *arg) {
  struct fifo_drain *f = arg;
  uint8_t tmp[65536];
  ssize_t n;
  while ((n = read(f->fd, tmp, sizeof tmp)) > 0) rr_buf_append(&f->got, tmp, (size_t)n);
  return NULL;
}

/* An ArrowMsg (its protobuf bytes) whose 4000 payload bytes are all `tag`. */
static void tagged_arrow(rr_buf *pb, uint8_t tag) {
  uint8_t pay[4000];
  memset(pay, tag, sizeof pay);
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  rr_log_msg m;
  init_msg(&m, RR_MSG_ARROW, &id, pay, sizeof pay, false);
  rr_buf_reset(pb);
  assert_int_equal(rr_log_msg_encode(pb, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
}

static bool has_tag(const rr_buf *b, uint8_t tag) {
  uint8_t run[256];
  memset(run, tag, sizeof run);
  return b->len && memmem(b->data, b->len, run, sizeof run) != NULL;
}

static void test_server_publish(void **state) {
  (void)state;
  char dir[] = "/tmp/rr_publish_XXXXXX", fifo[64];
  assert_non_null(mkdtemp(dir));
  snprintf(fifo, sizeof fifo, "%s/save", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  struct fifo_drain f = {open(fifo, O_RDONLY | O_NONBLOCK), RR_BUF_INIT};
  assert_true(f.fd >= 0);
  rr_server_options o;
  rr_server_options_init(&o);
  o.bind_host = "127.0.0.1";
  o.port = 0;
  o.save_path = fifo;
  rr_server *s = NULL;
  rr_error err = {0};
  assert_int_equal(rr_server_new(&s, &o, &err), RR_OK);
  rr_buf pb = RR_BUF_INIT;
  tagged_arrow(&pb, 0x41);
  struct iovec one = {pb.data, pb.len};
  assert_int_equal(rr_server_publish(s, RR_MSG_ARROW, &one, 1, NULL, NULL, &err), RR_ECLOSED); /* not started */
  assert_int_equal(rr_server_start(s, &err), RR_OK);
  assert_int_equal(rr_server_publish(s, 9, &one, 1, NULL, NULL, &err), RR_EINVAL);
  assert_non_null(strstr(err.msg, "not a LogMsg kind"));
  uint8_t junk[] = {0x0a, 0x7f, 1, 2};
  struct iovec bad = {junk, sizeof junk};
  assert_true(rr_server_publish(s, RR_MSG_ARROW, &bad, 1, NULL, NULL, &err) < 0);
  assert_non_null(strstr(err.msg, "bad LogMsg"));

  /* `more`: the loop thread is not woken for it, until publish_end */
  rr_server_stats st;
  rr_publish_options held = {.more = true};
  tagged_arrow(&pb, 0x20);
  one = (struct iovec){pb.data, pb.len};
  assert_int_equal(rr_server_publish(s, RR_MSG_ARROW, &one, 1, &held, NULL, &err), RR_OK);
  usleep(100000);
  stats(s, &st);
  assert_int_equal(st.messages_received, 0);
  rr_server_publish_end(s);
  wait_for(s, 1);
  stats(s, &st);
  assert_int_equal(st.messages_received, 1);

  /* fill the FIFO until the loop thread no longer takes messages */
  int before = 0;
  for (; before < 200; before++) {
    tagged_arrow(&pb, 0x10);
    one = (struct iovec){pb.data, pb.len};
    assert_int_equal(rr_server_publish(s, RR_MSG_ARROW, &one, 1, NULL, NULL, &err), RR_OK);
    if (rr_server_flush(s, 300, &err) == RR_ETIMEDOUT) break;
  }
  assert_true(before < 200);
  before++;
  assert_non_null(strstr(err.msg, "not taken"));

  /* bound: three ArrowMsgs' worth. A0, the store info S, then A1..A8 */
  uint8_t prefix[32];
  uint64_t bound = 3 * ((uint64_t)rr_grpc_logmsg_prefix(prefix, RR_MSG_ARROW, pb.len) + pb.len), dropped = 0, total = 0;
  rr_publish_options po = {.max_pending = bound}, pw = {.max_pending = bound, .wait_ms = 300};
  rr_buf info = RR_BUF_INIT;
  rr_store_id id = {RR_STORE_KIND_RECORDING, {"app", 3}, {"rec", 3}};
  rr_log_msg im;
  init_msg(&im, RR_MSG_SET_STORE_INFO, &id, NULL, 0, false);
  assert_int_equal(rr_log_msg_encode(&info, &im, RR_FRAMING_PROTO, false, NULL), RR_OK);
  for (int i = 0; i <= 8; i++) {
    tagged_arrow(&pb, (uint8_t)(0xA0 + i));
    one = (struct iovec){pb.data, pb.len};
    assert_int_equal(rr_server_publish(s, RR_MSG_ARROW, &one, 1, &po, &dropped, &err), RR_OK);
    total += dropped;
    if (i == 0) {
      struct iovec iv = {info.data, info.len};
      assert_int_equal(rr_server_publish(s, RR_MSG_SET_STORE_INFO, &iv, 1, &po, &dropped, &err), RR_OK);
      assert_int_equal(dropped, 0);
    }
  }
  assert_int_equal(total, 7); /* A0..A6; the store info stays */
  /* BLOCK: waits for room first, then drops A7 */
  tagged_arrow(&pb, 0xA9);
  one = (struct iovec){pb.data, pb.len};
  int64_t t0 = rr__mono_ns();
  assert_int_equal(rr_server_publish(s, RR_MSG_ARROW, &one, 1, &pw, &dropped, &err), RR_OK);
  assert_true(rr__mono_ns() - t0 >= 250000000);
  assert_int_equal(dropped, 1);

  /* read the FIFO: the loop thread goes on */
  pthread_t t;
  fcntl(f.fd, F_SETFL, 0);
  pthread_create(&t, NULL, fifo_drain_main, &f);
  assert_int_equal(rr_server_flush(s, 10000, &err), RR_OK);
  stats(s, &st);
  assert_int_equal(st.messages_received, 1 + (uint64_t)before + 3); /* the held one ... S, A8, A9 */
  rr_server_stop(s);
  assert_int_equal(rr_server_publish(s, RR_MSG_ARROW, &one, 1, NULL, NULL, &err), RR_ECLOSED);
  rr_server_free(s); /* closes the save file: the drain thread sees its end */
  pthread_join(t, NULL);
  for (int i = 0; i <= 7; i++) assert_false(has_tag(&f.got, (uint8_t)(0xA0 + i)));
  /* the saved stream: its header, then (kind, length, bytes) per message */
  rr_buf h = RR_BUF_INIT;
  assert_int_equal(rr_rrd_write_stream_header(&h, false), RR_OK);
  int infos = 0, msgs = 0;
  for (size_t at = h.len; at + 16 <= f.got.len; msgs++) {
    infos += rr__get_u64le(f.got.data + at) == RR_MSG_SET_STORE_INFO;
    at += 16 + rr__get_u64le(f.got.data + at + 8);
  }
  assert_int_equal(infos, 1);
  assert_int_equal(msgs, 1 + before + 3);
  rr_buf_free(&h);
  assert_true(has_tag(&f.got, 0xA8));
  assert_true(has_tag(&f.got, 0xA9));
  uint8_t run[256];
  memset(run, 0xA8, sizeof run);
  const uint8_t *a8 = memmem(f.got.data, f.got.len, run, sizeof run);
  memset(run, 0xA9, sizeof run);
  assert_true(a8 < (const uint8_t *)memmem(f.got.data, f.got.len, run, sizeof run)); /* in order */
  close(f.fd);
  unlink(fifo);
  rmdir(dir);
  rr_buf_free(&f.got);
  rr_buf_free(&pb);
  rr_buf_free(&info);
}

/* serve_web: the recording logs into the server it hosts without a
 * connection (its sink is the in-process one), and a reader on the
 * server's port gets every row as it is logged. */
static void test_serve_web_in_process(void **state) {
  (void)state;
  rr_recording_options ro = {.application_id = "app", .no_start_time = true, .no_compression = true};
  rr_recording *rec = NULL;
  rr_error err = {0};
  assert_int_equal(rr_recording_new(&rec, &ro, &err), RR_OK);
  int gp = 0, wp = 0;
  rr_serve_web_options wo = {.bind_host = "127.0.0.1", .grpc_port = -1, .web_port = -1,
                             .out_grpc_port = &gp, .out_web_port = &wp};
  assert_int_equal(rr_recording_serve_web(rec, &wo, &err), RR_OK);
  assert_true(gp > 0 && wp > 0);
  assert_string_equal(rec->sink->name, "server");
  const char req[] = "POST /rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages HTTP/1.1\r\n"
                     "Host: x\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0";
  int fd = tcp_connect(gp);
  assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  struct dechunk d = {0};
  uint8_t tmp[65536];
  for (int i = 0; i < 5; i++) {
    double v[3] = {1000.25 + i, 2000.5 + i, 3000.75 + i};
    rr_set_time_sequence(rec, "i", i);
    rr_scalars sc = {.scalars = v, .num_scalars = 3};
    assert_int_equal(rr_log(rec, "s", RR_ARCHETYPE_SCALARS, &sc, &err), RR_OK);
    /* no flush: the flush tick (8 ms for live sinks) sends it */
    int64_t end = rr__mono_ns() + 5000000000LL;
    while (!(d.grpc.len && memmem(d.grpc.data, d.grpc.len, v, sizeof v)) && rr__mono_ns() < end)
      read_response(fd, &d, tmp, sizeof tmp);
    assert_non_null(d.grpc.len ? memmem(d.grpc.data, d.grpc.len, v, sizeof v) : NULL);
  }
  rr_recording_stats rs;
  rr_recording_stats_get(rec, &rs);
  assert_int_equal(rs.chunks_dropped, 0);
  rr_recording_free(rec); /* closes the sink, which stops the server: the reader's stream ends */
  while (read_response(fd, &d, tmp, sizeof tmp)) {}
  close(fd);
  rr_buf_free(&d.head);
  rr_buf_free(&d.grpc);
}

static size_t rss_now(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* Small messages written one run at a time while no server listens: each
 * run's block joins the last queued one, so the queue takes about as much
 * memory as the messages (not a 256 KiB block for each). */
static void test_sink_trickle_while_down(void **state) {
  char url[64];
  close(silent_listener(url)); /* nothing listens there now */
  rr_recording_options ro = {.application_id = "app", .no_start_time = true};
  rr_recording *rec = NULL;
  rr_error err = {0};
  struct rr_sink *sink = direct_sink(url, &ro, 0.1, &rec);
  rr_buf pb = RR_BUF_INIT;
  struct rr_msg msg = arrow_msg_of(&pb, 300);
  size_t before = rss_now();
  enum { N = 2000 }; /* 0.7 MB of messages; 500 MB as a block each */
  for (int i = 0; i < N; i++) {
    assert_int_equal(sink->write(sink, &msg, &err), RR_OK);
    sink->end_run(sink);
  }
  size_t grown = rss_now() - before;
  assert_true(grown < (size_t)(32 << 20));
  sink->close(sink); /* nothing was sent: all counted as dropped */
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_int_equal(st.chunks_dropped, N);
  rr_buf_free(&pb);
  rr_recording_free(rec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_order), cmocka_unit_test(test_memory_limit),
      cmocka_unit_test(test_reader_overflow), cmocka_unit_test(test_server_loopback),
      cmocka_unit_test(test_check_log_msg), cmocka_unit_test(test_deframer), cmocka_unit_test(test_msg_spares),
      cmocka_unit_test(test_server_large_forwarding), cmocka_unit_test(test_sink_path_byte_exact),
      cmocka_unit_test(test_grpcweb_text),
      cmocka_unit_test(test_sink_reconnect_whole_messages), cmocka_unit_test(test_sink_small_rows_go_without_flush),
      cmocka_unit_test(test_sink_small_rows_drop_oldest), cmocka_unit_test(test_sink_trickle_while_down),
      cmocka_unit_test(test_sink_adopted_chunks), cmocka_unit_test(test_server_sink_byte_exact),
      cmocka_unit_test(test_server_publish), cmocka_unit_test(test_serve_web_in_process),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
