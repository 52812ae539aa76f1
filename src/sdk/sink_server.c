/* The in-process server sink (rr_recording_serve_web): the recording's
 * messages go straight to the server the process hosts
 * (rr_server_publish), with no connection and no HTTP/2 in between. Each
 * message is copied once, into the server's own message, on the batcher
 * thread; the server's loop thread then serves it to its readers as any
 * client's message. The stream's policy applies to the messages the loop
 * thread has not taken yet, at most max_bytes_in_flight of them:
 * RR_BACKPRESSURE_BLOCK waits for room up to block_timeout_ms, the others
 * drop the oldest at once. Drops are counted and warned about. */
#include <stdlib.h>

#include "rerun/server.h"
#include "sdk_internal.h"

struct server_sink {
  struct rr_sink base;
  rr_recording *rec;
  rr_server *srv; /* owned */
  uint64_t max_bytes;
  int64_t flush_timeout_ms;
  uint64_t dropped; /* batcher thread only */
};

static int server_write(struct rr_sink *s, const struct rr_msg *m, rr_error *err) {
  struct server_sink *v = (struct server_sink *)s;
  struct iovec one;
  size_t n;
  const struct iovec *iov = rr__msg_iov(m, &one, &n);
  /* the loop thread is woken at the end of the batcher's run (end_run) */
  rr_publish_options po = {.max_pending = v->max_bytes, .more = true,
                           .wait_ms = v->rec->policy == RR_BACKPRESSURE_BLOCK ? v->rec->block_timeout_ms : 0};
  uint64_t dropped = 0;
  int rc = rr_server_publish(v->srv, m->kind, iov, n, &po, &dropped, err);
  if (dropped) {
    uint64_t before = v->dropped;
    v->dropped += dropped;
    rr__drops_warn("in-process server", before, v->dropped, "its loop thread falls behind");
    rr__recording_count_dropped(v->rec, dropped);
  }
  return rc;
}

static void server_end_run(struct rr_sink *s) { rr_server_publish_end(((struct server_sink *)s)->srv); }

static int server_flush(struct rr_sink *s, rr_error *err) {
  struct server_sink *v = (struct server_sink *)s;
  return rr_server_flush(v->srv, v->flush_timeout_ms, err);
}

static void server_close(struct rr_sink *s) {
  struct server_sink *v = (struct server_sink *)s;
  rr_error e = {0};
  if (rr_server_flush(v->srv, v->flush_timeout_ms, &e) < 0) rr__log(RR_LOG_WARN, "in-process server: closing: %s", e.msg);
  rr_server_free(v->srv);
  rr__free(v);
}

int rr__sink_server_new(struct rr_sink **out, rr_recording *rec, rr_server *srv, double flush_timeout_sec, rr_error *err) {
  struct server_sink *v = rr__calloc(1, sizeof *v);
  if (!v) return rr__err(err, RR_ENOMEM, "out of memory");
  v->base = (struct rr_sink){.name = "server", .write = server_write, .flush = server_flush, .close = server_close,
                             .end_run = server_end_run,
                             .default_flush_tick_ns = RR_LIVE_FLUSH_TICK_NS};
  v->rec = rec;
  v->srv = srv;
  v->max_bytes = rec->max_in_flight > 0 ? (uint64_t)rec->max_in_flight : RR_LIVE_QUEUE_BYTES;
  v->flush_timeout_ms = flush_timeout_sec < 0 ? -1 : (int64_t)(flush_timeout_sec * 1000);
  *out = &v->base;
  return RR_OK;
}
