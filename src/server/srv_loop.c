/* The server's event loop: libuv on one thread, connections sniffed as
 * HTTP/2 (gRPC; nghttp2 server session, mem_recv/session_send) or HTTP/1.1
 * (gRPC-Web + CORS, static files, /rerun-c/stats). Protocol state lives in
 * the net layer and the broker; this file only moves bytes.
 *
 * Output: each connection writes with uv_try_write first and queues what
 * the socket did not take; it pulls more (nghttp2 frames, reader messages)
 * only while less than CONN_BACKLOG bytes are queued, so a slow peer costs
 * at most that much here plus its reader's live queue (bounded, then
 * dropped). Readers that got new messages are pumped once per loop turn
 * (uv_check), which batches small messages into few writes. */
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "encoding/rr_encoding.h"
#include "net/rr_net.h"
#include "rerun/server.h"
#include "rerun/store.h"
#include "server_internal.h"

#define CONN_BACKLOG (1u << 20)
#define H2_WINDOW (16 << 20)
#define H2_CONN_WINDOW (64 << 20)
#define H2_MAX_FRAME (1 << 20)
#define READ_BUF (256 << 10)
#define INPLACE_MIN (32u << 10) /* read message bodies in place from this size on */

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

typedef struct conn conn;

#define WRITE_SEGS 64
#define SMALL_MSG 4096 /* reader messages below this are copied into one write */
#define SMALL_RUN (256u << 10) /* at most this many bytes of them in one HTTP chunk */
#define OWN_SPARE_MAX ((size_t)2 << 20)

/* A piece of output: a view of a message (a reference held) or bytes of our own. */
typedef struct oseg {
  srv_msg *ref;
  const uint8_t *p;
  size_t n;
  rr_buf own;
  size_t own_off; /* bytes of own already written */
} oseg;

static size_t seg_len(const oseg *g) { return g->ref ? g->n : g->own.len - g->own_off; }
static const uint8_t *seg_ptr(const oseg *g) { return g->ref ? g->p : g->own.data + g->own_off; }
typedef struct h2_stream h2_stream;

enum { C_SNIFF, C_H1, C_H2 };
enum { ST_OTHER, ST_WRITE, ST_READ };
enum { H1_HEAD, H1_BODY, H1_STREAM, H1_DONE };

struct h2_stream {
  h2_stream *next, *prev; /* the connection's streams */
  conn *c;
  int32_t id;
  int kind;
  char path[160];
  srv_deframer dec;
  srv_reader reader;
  bool attached, deferred, responded, ending;
  size_t reply_off; /* of the WriteMessagesResponse frame */
};

struct conn {
  uv_tcp_t tcp;
  rr_server *s;
  conn *next, *prev;
  int mode;
  bool closing, is_writer, is_reader, dirty, web_listener;
  char peer[64];
  /* output: segments, oldest first; the first `inflight` are in uv_write */
  oseg *q;
  size_t q_head, q_end, q_cap;
  size_t q_bytes;      /* bytes of all segments (in flight included) */
  size_t inflight;
  /* buffers of written segments of our own, kept (freeing and allocating
   * them at every write made the heap shrink and grow: page faults) */
  rr_buf own_spare[2];
  int n_own_spare;
  uv_buf_t wbufs[WRITE_SEGS];
  uv_write_t wreq;
  bool writing;
  /* HTTP/2 */
  nghttp2_session *h2;
  h2_stream *streams;
  /* the input's frame boundaries, followed alongside nghttp2 so that DATA
   * of a WriteMessages stream can be read straight into the message being
   * assembled (h2_read_target) */
  uint8_t fh[9];
  uint8_t fh_have;
  uint32_t f_left;     /* payload bytes of the current frame still to come */
  int32_t f_stream;    /* its stream if it is an unpadded DATA frame, else 0 */
  char fail[256];      /* set inside nghttp2 callbacks: close after mem_recv */
  /* HTTP/1 */
  rr_buf in;
  int h1;
  rr_http1_request req;
  int64_t body_left;
  int h1_kind;         /* ST_* of the current request */
  srv_deframer dec;
  srv_reader reader;
  bool attached, keep_alive;
  /* gRPC-Web text mode (application/grpc-web-text): request and response
   * bodies are base64 of the binary ones (b64_in: the request's decoder) */
  bool text;
  rr_b64 b64_in;
  char origin[256];
  conn *dirty_next;
};

struct rr_server {
  rr_server_options o;
  char *bind_host, *save_path, *web_dir, *cors;
  uv_loop_t loop;
  uv_tcp_t listener, web_listener;
  bool has_web;
  int port, web_port;
  uv_async_t wake;
  uv_check_t check;
  uv_timer_t timer;
  pthread_t thread;
  bool started, stopped, stop_req;
  pthread_mutex_t mu;      /* stats, inbox, stop_req */
  pthread_cond_t inbox_cv;
  struct inbox_node { struct inbox_node *next; srv_msg *m; } *in_head, *in_tail;
  size_t in_bytes;
  uint64_t in_pushed, in_done; /* inbox messages so far: queued; published or dropped */
  rr_server_stats st;
  srv_broker b;
  conn *conns, *dirty;
  FILE *save;
  bool store_fed;          /* the store hub got the stream header */
  uint64_t reported_drops;
  uint8_t readbuf[READ_BUF];
};

static void conn_close(conn *c, const char *why);
static void conn_pump(conn *c);
static void pump_dirty(rr_server *s);
static void stats_sync(rr_server *s);

/* ---- publishing --------------------------------------------------------------------- */

static void save_msg(rr_server *s, const srv_msg *m) {
  if (!s->save) return;
  uint8_t hdr[16];
  size_t inner = m->len - m->inner_off;
  rr__put_u64le(hdr, m->kind);
  rr__put_u64le(hdr + 8, inner);
  if (fwrite(hdr, 1, 16, s->save) != 16 || fwrite(m->data + m->inner_off, 1, inner, s->save) != inner) {
    rr__log(RR_LOG_ERROR, "server: --save: write failed (%s); no longer saving", strerror(errno));
    fclose(s->save);
    s->save = NULL;
  }
}

/* Feeds the store hub the message as an RRD frame (one stream for the
 * server's lifetime). Bad data is counted by the hub, never fatal here. */
static void store_msg(rr_server *s, const srv_msg *m) {
  if (!s->o.store) return;
  if (!s->store_fed) {
    rr_buf h = RR_BUF_INIT;
    if (rr_rrd_write_stream_header(&h, false) == RR_OK) rr_store_hub_feed(s->o.store, h.data, h.len, NULL);
    rr_buf_free(&h);
    s->store_fed = true;
  }
  uint8_t hdr[16];
  size_t inner = m->len - m->inner_off;
  rr__put_u64le(hdr, m->kind);
  rr__put_u64le(hdr + 8, inner);
  rr_store_hub_feed(s->o.store, hdr, 16, NULL);
  rr_store_hub_feed(s->o.store, m->data + m->inner_off, inner, NULL);
}

static void publish(rr_server *s, srv_msg *m) {
  save_msg(s, m);
  store_msg(s, m);
  size_t len = m->len;
  size_t dropped = rr__srv_broker_publish(&s->b, m);
  if (dropped && s->b.dropped_msgs == dropped)
    rr__log(RR_LOG_WARN, "server: history over the memory limit (%llu bytes): dropping the oldest messages",
            (unsigned long long)s->b.limit);
  pthread_mutex_lock(&s->mu);
  s->st.messages_received++;
  s->st.bytes_received += len;
  pthread_mutex_unlock(&s->mu);
}

static int on_writer_msg(void *ud, srv_msg *fm);

/* ---- output -------------------------------------------------------------------------------- */

static size_t backlog(const conn *c) { return c->q_bytes; }

static void on_write(uv_write_t *req, int status);

static void seg_release(conn *c, oseg *g) {
  if (g->ref) rr__srv_msg_unref(&c->s->b, g->ref);
  if (g->own.cap && g->own.cap <= OWN_SPARE_MAX && c->n_own_spare < 2 && !c->closing) {
    rr_buf_reset(&g->own);
    c->own_spare[c->n_own_spare++] = g->own;
  } else {
    rr_buf_free(&g->own);
  }
  memset(g, 0, sizeof *g);
}

/* Releases the first k segments. */
static void q_pop(conn *c, size_t k) {
  for (size_t i = 0; i < k; i++) {
    oseg *g = &c->q[c->q_head++];
    c->q_bytes -= seg_len(g);
    seg_release(c, g);
  }
  if (c->q_head == c->q_end) c->q_head = c->q_end = 0;
}

static void q_free_all(conn *c) {
  for (size_t i = c->q_head; i < c->q_end; i++) seg_release(c, &c->q[i]);
  while (c->n_own_spare) rr_buf_free(&c->own_spare[--c->n_own_spare]);
  rr__free(c->q);
  c->q = NULL;
  c->q_head = c->q_end = c->q_cap = 0;
  c->q_bytes = 0;
  c->inflight = 0;
}

static oseg *q_push(conn *c) {
  if (c->q_end == c->q_cap) {
    if (c->q_head > 0) {
      memmove(c->q, c->q + c->q_head, (c->q_end - c->q_head) * sizeof *c->q);
      c->q_end -= c->q_head;
      c->q_head = 0;
    } else {
      size_t nc = c->q_cap ? c->q_cap * 2 : 64;
      oseg *v = rr__realloc(c->q, nc * sizeof *v);
      if (!v) return NULL;
      c->q = v;
      c->q_cap = nc;
    }
  }
  oseg *g = &c->q[c->q_end++];
  memset(g, 0, sizeof *g);
  return g;
}

/* Releases the first w bytes of the queue (written). */
static void q_advance(conn *c, size_t w) {
  while (w && c->q_head < c->q_end) {
    oseg *g = &c->q[c->q_head];
    size_t n = seg_len(g);
    if (w >= n) {
      w -= n;
      q_pop(c, 1);
      continue;
    }
    if (g->ref) { g->p += w; g->n -= w; }
    else g->own_off += w;
    c->q_bytes -= w;
    w = 0;
  }
}

static size_t q_bufs(conn *c) {
  size_t k = 0;
  for (size_t i = c->q_head; i < c->q_end && k < WRITE_SEGS; i++, k++)
    c->wbufs[k] = uv_buf_init((char *)seg_ptr(&c->q[i]), (unsigned)seg_len(&c->q[i]));
  return k;
}

/* Writes the queue: at once as far as the socket takes it (no write request,
 * no callback a loop turn later), the rest with uv_write. */
static void conn_kick(conn *c) {
  if (c->writing || c->q_head == c->q_end || c->closing) return;
  size_t k = q_bufs(c);
  int w = uv_try_write((uv_stream_t *)&c->tcp, c->wbufs, (unsigned)k);
  if (w < 0 && w != UV_EAGAIN) { conn_close(c, uv_strerror(w)); return; }
  if (w > 0) {
    q_advance(c, (size_t)w);
    if (c->q_head == c->q_end) return;
    k = q_bufs(c);
  }
  c->inflight = k;
  c->writing = true;
  int r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, c->wbufs, (unsigned)k, on_write);
  if (r < 0) {
    c->writing = false;
    c->inflight = 0;
    conn_close(c, uv_strerror(r));
  }
}

static void on_write(uv_write_t *req, int status) {
  conn *c = req->data;
  c->writing = false;
  q_pop(c, c->inflight);
  c->inflight = 0;
  if (c->closing) return;
  if (status < 0) { conn_close(c, uv_strerror(status)); return; }
  conn_kick(c);
  conn_pump(c);
}

/* Tries to write directly when nothing is queued; returns how many bytes of
 * the buffers the socket took (the caller queues the rest), or -1 when the
 * connection was closed. */
static ssize_t conn_try(conn *c, uv_buf_t *bufs, unsigned n) {
  if (c->closing) return -1;
  if (c->writing || c->q_head != c->q_end) return 0;
  int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
  if (r < 0 && r != UV_EAGAIN) { conn_close(c, uv_strerror(r)); return -1; }
  return r > 0 ? r : 0;
}

/* The last segment of our own if it is not being written (to append to),
 * else a new one (with a kept buffer if there is one). NULL: out of memory. */
static oseg *q_own(conn *c) {
  oseg *last = c->q_end > c->q_head + c->inflight ? &c->q[c->q_end - 1] : NULL;
  if (last && !last->ref) return last;
  last = q_push(c);
  if (last && c->n_own_spare) last->own = c->own_spare[--c->n_own_spare];
  return last;
}

/* Queues a copy of bytes: appended to the last segment of our own when it
 * is not being written. */
static bool q_copy(conn *c, const void *p, size_t n) {
  if (!n) return true;
  oseg *last = q_own(c);
  if (!last || rr_buf_append(&last->own, p, n) < 0) { conn_close(c, "out of memory"); return false; }
  c->q_bytes += n;
  return true;
}

/* Sends copies of the buffers: directly if nothing is queued, the rest queued. */
static void conn_send(conn *c, uv_buf_t *bufs, unsigned n) {
  ssize_t done = conn_try(c, bufs, n);
  if (done < 0) return;
  for (unsigned i = 0; i < n; i++) {
    size_t k = (size_t)done < bufs[i].len ? (size_t)done : bufs[i].len;
    done -= (ssize_t)k;
    if (!q_copy(c, bufs[i].base + k, bufs[i].len - k)) return;
  }
  conn_kick(c);
}

static void conn_send1(conn *c, const void *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  conn_send(c, &b, 1);
}

/* Sends a small head (copied), `n` bytes of message m at p (referenced, not
 * copied) and a small tail (copied). */
static void conn_send_msg(conn *c, const void *head, size_t hn, srv_msg *m, const uint8_t *p, size_t n,
                          const void *tail, size_t tn) {
  uv_buf_t b[3] = {uv_buf_init((char *)head, (unsigned)hn), uv_buf_init((char *)p, (unsigned)n),
                   uv_buf_init((char *)tail, (unsigned)tn)};
  ssize_t done = conn_try(c, b, 3);
  if (done < 0) return;
  size_t k = (size_t)done < hn ? (size_t)done : hn;
  done -= (ssize_t)k;
  if (!q_copy(c, (const uint8_t *)head + k, hn - k)) return;
  k = (size_t)done < n ? (size_t)done : n;
  done -= (ssize_t)k;
  if (n > k) {
    oseg *g = q_push(c);
    if (!g) { conn_close(c, "out of memory"); return; }
    g->ref = m;
    m->refs++;
    g->p = p + k;
    g->n = n - k;
    c->q_bytes += g->n;
  }
  k = (size_t)done < tn ? (size_t)done : tn;
  if (!q_copy(c, (const uint8_t *)tail + k, tn - k)) return;
  conn_kick(c);
}

/* ---- HTTP/2 --------------------------------------------------------------------------------- */

static void reader_notify(srv_reader *r) {
  conn *c = r->ud;
  if (!c->dirty) {
    c->dirty = true;
    c->dirty_next = c->s->dirty;
    c->s->dirty = c;
  }
}

static ssize_t read_reader_cb(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                              uint32_t *flags, nghttp2_data_source *src, void *ud) {
  h2_stream *st = src->ptr;
  size_t o = 0;
  size_t first;
  if (rr__srv_reader_peek(&st->reader, &first) && first >= SMALL_MSG) {
    /* a large message: DATA frames referencing it, written by h2_send_data */
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    return (ssize_t)(first < length ? first : length);
  }
  while (o < length) {
    size_t n;
    const uint8_t *p = rr__srv_reader_peek(&st->reader, &n);
    if (!p) break;
    if (n > length - o) n = length - o;
    memcpy(buf + o, p, n);
    rr__srv_reader_consume(&st->reader, n);
    o += n;
  }
  if (o == 0) {
    if (st->ending) {
      *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_nv t[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0}};
      nghttp2_submit_trailer(session, id, t, 1);
      return 0;
    }
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)o;
}

static ssize_t read_reply_cb(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                             uint32_t *flags, nghttp2_data_source *src, void *ud) {
  h2_stream *st = src->ptr;
  static const uint8_t empty[5] = {0, 0, 0, 0, 0};
  size_t n = 5 - st->reply_off;
  if (n > length) n = length;
  memcpy(buf, empty + st->reply_off, n);
  st->reply_off += n;
  if (st->reply_off == 5) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv t[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0}};
    nghttp2_submit_trailer(session, id, t, 1);
  }
  return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static void h2_trailers_only(conn *c, h2_stream *st, int status, const char *msg) {
  char code[16], enc[300];
  snprintf(code, sizeof code, "%d", status);
  rr_grpc_percent_encode(msg, enc, sizeof enc);
  nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", code),
                    NV("grpc-message", enc)};
  st->responded = true;
  nghttp2_submit_response(c->h2, st->id, h, 4, NULL);
}

static int h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h2_stream *st = rr__calloc(1, sizeof *st);
  if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
  st->c = c;
  st->id = frame->hd.stream_id;
  rr__srv_deframer_init(&st->dec);
  st->dec.pool = &c->s->b;
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  nghttp2_session_set_stream_user_data(session, st->id, st);
  return 0;
}

static int h2_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h2_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!st) return 0;
  if (namelen == 5 && !memcmp(name, ":path", 5)) {
    size_t n = valuelen < sizeof st->path - 1 ? valuelen : sizeof st->path - 1;
    memcpy(st->path, value, n);
    st->path[n] = 0;
  }
  return 0;
}

static void h2_start(conn *c, h2_stream *st) {
  rr_server *s = c->s;
  const char *m = strncmp(st->path, RR_GRPC_PATH_PREFIX, strlen(RR_GRPC_PATH_PREFIX)) == 0
                      ? st->path + strlen(RR_GRPC_PATH_PREFIX) : "";
  if (!strcmp(m, "WriteMessages")) {
    st->kind = ST_WRITE;
    if (!c->is_writer) {
      c->is_writer = true;
      pthread_mutex_lock(&s->mu); s->st.writers++; pthread_mutex_unlock(&s->mu);
    }
  } else if (!strcmp(m, "ReadMessages")) {
    st->kind = ST_READ;
    st->reader.notify = reader_notify;
    st->reader.ud = c;
    if (rr__srv_reader_attach(&s->b, &st->reader) < 0) { h2_trailers_only(c, st, RR_GRPC_RESOURCE_EXHAUSTED, "out of memory"); return; }
    st->attached = true;
    if (!c->is_reader) {
      c->is_reader = true;
      pthread_mutex_lock(&s->mu); s->st.readers++; pthread_mutex_unlock(&s->mu);
    }
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_reader_cb};
    st->responded = true;
    nghttp2_submit_response(c->h2, st->id, h, 2, &dp);
    rr__log(RR_LOG_INFO, "server: %s: reader attached (%zu history messages)", c->peer, st->reader.snap_n);
  } else {
    h2_trailers_only(c, st, RR_GRPC_UNIMPLEMENTED, "method not implemented by rerun-c");
  }
}

static int h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  h2_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!st) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) h2_start(c, st);
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->kind == ST_WRITE && !st->responded) {
    if (!rr__srv_deframer_idle(&st->dec))
      rr__log(RR_LOG_WARN, "server: %s: WriteMessages ended inside a message; the partial message is dropped", c->peer);
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_reply_cb};
    st->responded = true;
    nghttp2_submit_response(c->h2, st->id, h, 2, &dp);
  }
  return 0;
}

static int h2_on_data(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud) {
  conn *c = ud;
  h2_stream *st = nghttp2_session_get_stream_user_data(session, id);
  if (!st || st->kind != ST_WRITE || c->closing) return 0;
  rr_error e = {0};
  int rc = rr__srv_deframer_feed(&st->dec, data, len, on_writer_msg, c, &e);
  if (rc < 0) {
    snprintf(c->fail, sizeof c->fail, "%s", e.msg[0] ? e.msg : rr_strerror(rc));
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static void h2_stream_free(conn *c, h2_stream *st) {
  if (st->prev) st->prev->next = st->next;
  else c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  if (st->attached) rr__srv_reader_detach(&st->reader);
  rr__srv_deframer_free(&st->dec);
  rr__free(st);
}

static int h2_on_stream_close(nghttp2_session *session, int32_t id, uint32_t code, void *ud) {
  h2_stream *st = nghttp2_session_get_stream_user_data(session, id);
  if (!st) return 0;
  nghttp2_session_set_stream_user_data(session, id, NULL);
  h2_stream_free(ud, st);
  return 0;
}

static int h2_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  conn *c = ud;
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR && !c->fail[0])
    snprintf(c->fail, sizeof c->fail, "bad HTTP/2 (GOAWAY %s)", nghttp2_http2_strerror(frame->goaway.error_code));
  return 0;
}

/* Queue-only writers for nghttp2 callbacks (they never close the connection). */
static ssize_t h2_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *ud) {
  conn *c = ud;
  if (backlog(c) >= CONN_BACKLOG) return NGHTTP2_ERR_WOULDBLOCK;
  oseg *last = q_own(c);
  if (!last || rr_buf_append(&last->own, data, length) < 0) {
    snprintf(c->fail, sizeof c->fail, "out of memory");
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  c->q_bytes += length;
  return (ssize_t)length;
}

static int h2_send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *ud) {
  conn *c = ud;
  h2_stream *st = source->ptr;
  if (backlog(c) >= CONN_BACKLOG) return NGHTTP2_ERR_WOULDBLOCK;
  size_t n;
  const uint8_t *p = rr__srv_reader_peek(&st->reader, &n);
  srv_msg *m = rr__srv_reader_msg(&st->reader);
  if (!p || n < length || frame->data.padlen) {
    snprintf(c->fail, sizeof c->fail, "internal: DATA frame without its message");
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (h2_send(session, framehd, 9, 0, ud) < 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  oseg *g = q_push(c);
  if (!g) { snprintf(c->fail, sizeof c->fail, "out of memory"); return NGHTTP2_ERR_CALLBACK_FAILURE; }
  g->ref = m;
  m->refs++;
  g->p = p;
  g->n = length;
  c->q_bytes += length;
  rr__srv_reader_consume(&st->reader, length);
  return 0;
}

/* DATA frames up to the peer's frame size and window (nghttp2's default is 16 KiB). */
static ssize_t h2_read_length(nghttp2_session *session, uint8_t frame_type, int32_t stream_id, int32_t session_window,
                              int32_t stream_window, uint32_t max_frame, void *ud) {
  ssize_t n = (ssize_t)max_frame;
  if (session_window < n) n = session_window;
  if (stream_window < n) n = stream_window;
  if (n > (ssize_t)CONN_BACKLOG) n = (ssize_t)CONN_BACKLOG;
  return n > 0 ? n : 1;
}

static int h2_init(conn *c) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb)) return RR_ENOMEM;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2_on_frame_send);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb, h2_read_length);
  nghttp2_session_callbacks_set_send_callback(cb, h2_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, h2_send_data);
  nghttp2_option *opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_max_send_header_block_length(opt, 65536);
  int r = nghttp2_session_server_new2(&c->h2, cb, c, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (r) return RR_ENOMEM;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
                                 {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, H2_MAX_FRAME}};
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3);
  nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
  return RR_OK;
}

/* Follows the HTTP/2 frames of input bytes about to be fed to nghttp2
 * (everything after the connection preface). */
static void h2_track(conn *c, const uint8_t *p, size_t n) {
  while (n) {
    if (c->f_left == 0) {
      size_t k = 9u - c->fh_have < n ? 9u - c->fh_have : n;
      memcpy(c->fh + c->fh_have, p, k);
      c->fh_have = (uint8_t)(c->fh_have + k);
      p += k;
      n -= k;
      if (c->fh_have < 9) return;
      c->fh_have = 0;
      c->f_left = (uint32_t)c->fh[0] << 16 | (uint32_t)c->fh[1] << 8 | c->fh[2];
      bool data = c->fh[3] == NGHTTP2_DATA && !(c->fh[4] & NGHTTP2_FLAG_PADDED);
      c->f_stream = data ? (int32_t)(((uint32_t)c->fh[5] & 0x7f) << 24 | (uint32_t)c->fh[6] << 16 | (uint32_t)c->fh[7] << 8 | c->fh[8]) : 0;
      continue;
    }
    size_t k = c->f_left < n ? c->f_left : n;
    c->f_left -= (uint32_t)k;
    p += k;
    n -= k;
  }
}

/* Where the next read should go on a connection whose WriteMessages stream
 * carries large messages: body bytes straight into the message being
 * assembled; a frame header, gRPC header or the short end of a body alone
 * (a few bytes through the read buffer) so that the large body after them
 * lands in place. NULL: the shared read buffer, in full (small messages). */
static uint8_t *h2_read_target(conn *c, size_t *len) {
  if (!c->f_stream || !c->h2) return NULL;
  h2_stream *st = nghttp2_session_get_stream_user_data(c->h2, c->f_stream);
  if (!st || st->kind != ST_WRITE || st->dec.failed) return NULL;
  size_t k = 0;
  uint8_t *body = rr__srv_deframer_inplace(&st->dec, &k);
  bool large = body ? 5 + (size_t)st->dec.need >= INPLACE_MIN : st->dec.last_len >= INPLACE_MIN;
  if (!large) return NULL;
  if (c->f_left == 0) {
    /* a frame header next (probably of this stream's next DATA) */
    *len = 9u - c->fh_have;
    return c->s->readbuf;
  }
  if (!body) {
    /* a gRPC header next */
    if (c->f_left < INPLACE_MIN || st->dec.hdr_have >= 5) return NULL;
    *len = 5u - st->dec.hdr_have;
    return c->s->readbuf;
  }
  if (k > c->f_left) k = c->f_left;
  *len = k;
  return k >= INPLACE_MIN ? body : c->s->readbuf; /* a short end: alone, not with what follows */
}

static void h2_pump(conn *c) {
  /* nghttp2 writes through h2_send (copies) and h2_send_data (references),
   * both into the output queue; WOULDBLOCK past the backlog bound */
  for (int turn = 0; turn < 16; turn++) {
    if (backlog(c) < CONN_BACKLOG && !c->closing) {
      int r = nghttp2_session_send(c->h2);
      if (r < 0) { conn_close(c, c->fail[0] ? c->fail : nghttp2_strerror(r)); return; }
    }
    conn_kick(c);
    /* written at once: go on while nghttp2 has more */
    if (c->closing || c->writing || backlog(c) || !nghttp2_session_want_write(c->h2)) break;
  }
  if (!c->closing && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) && !backlog(c))
    conn_close(c, c->fail[0] ? c->fail : NULL);
}

/* ---- HTTP/1 ---------------------------------------------------------------------------------- */

static void h1_cors_headers(conn *c, rr_buf *h) {
  if (!c->origin[0]) return;
  char line[700];
  snprintf(line, sizeof line,
           "access-control-allow-origin: %s\r\naccess-control-allow-credentials: true\r\n"
           "access-control-expose-headers: grpc-status,grpc-message,grpc-status-details-bin\r\nvary: origin\r\n",
           c->origin);
  rr_buf_append(h, line, strlen(line));
}

static void h1_respond(conn *c, int code, const char *reason, const char *ctype, const void *body, size_t n,
                       const char *extra) {
  rr_buf h = RR_BUF_INIT;
  char line[512];
  snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\n%s%s%s%s", code, reason, n,
           ctype ? "content-type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", c->keep_alive ? "" : "connection: close\r\n");
  rr_buf_append(&h, line, strlen(line));
  h1_cors_headers(c, &h);
  if (extra) rr_buf_append(&h, extra, strlen(extra));
  rr_buf_append(&h, "\r\n", 2);
  uv_buf_t b[2] = {uv_buf_init((char *)h.data, (unsigned)h.len), uv_buf_init((char *)body, (unsigned)n)};
  conn_send(c, b, n ? 2 : 1);
  rr_buf_free(&h);
}

static const char *mime(const char *path) {
  const char *e = strrchr(path, '.');
  if (!e) return "application/octet-stream";
  if (!strcmp(e, ".html")) return "text/html; charset=utf-8";
  if (!strcmp(e, ".js") || !strcmp(e, ".mjs")) return "text/javascript";
  if (!strcmp(e, ".wasm")) return "application/wasm";
  if (!strcmp(e, ".css")) return "text/css";
  if (!strcmp(e, ".json") || !strcmp(e, ".map")) return "application/json";
  if (!strcmp(e, ".png")) return "image/png";
  if (!strcmp(e, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

static const char INDEX_HTML[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Rerun</title>\n"
    "<style>html,body{margin:0;height:100%%;overflow:hidden}</style></head><body>\n"
    "<script type=\"module\">\nimport { WebViewer } from \"./index.js\";\n"
    "const q = new URLSearchParams(location.search);\n"
    "const urls = q.getAll(\"url\");\n"
    "if (!urls.length) urls.push(`rerun+http://${location.hostname}:%d/proxy`);\n"
    "const v = new WebViewer();\nwindow.viewer = v;\n"
    "await v.start(urls, document.body, { width: \"100%%\", height: \"100%%\", hide_welcome_screen: true });\n"
    "</script></body></html>\n";

static void h1_static(conn *c, rr_str path) {
  rr_server *s = c->s;
  char rel[256];
  size_t n = path.len;
  const char *q = memchr(path.ptr, '?', n);
  if (q) n = (size_t)(q - path.ptr);
  if (n == 0 || n >= sizeof rel || path.ptr[0] != '/') { h1_respond(c, 400, "Bad Request", NULL, NULL, 0, NULL); return; }
  memcpy(rel, path.ptr, n);
  rel[n] = 0;
  if (!strcmp(rel, "/rerun-c/stats")) {
    stats_sync(s);
    rr_server_stats st;
    rr_server_stats_get(s, &st);
    char js[640];
    int k = snprintf(js, sizeof js,
                     "{\"messages_received\":%llu,\"bytes_received\":%llu,\"history_messages\":%llu,"
                     "\"history_bytes\":%llu,\"messages_dropped\":%llu,\"bytes_dropped\":%llu,"
                     "\"message_bytes_live\":%llu,\"connections\":%llu,\"writers\":%llu,\"readers\":%llu,"
                     "\"clients_dropped\":%llu}\n",
                     (unsigned long long)st.messages_received, (unsigned long long)st.bytes_received,
                     (unsigned long long)st.history_messages, (unsigned long long)st.history_bytes,
                     (unsigned long long)st.messages_dropped, (unsigned long long)st.bytes_dropped,
                     (unsigned long long)st.message_bytes_live, (unsigned long long)st.connections,
                     (unsigned long long)st.writers, (unsigned long long)st.readers,
                     (unsigned long long)st.clients_dropped);
    h1_respond(c, 200, "OK", "application/json", js, (size_t)k, NULL);
    return;
  }
  if (!s->web_dir) { h1_respond(c, 404, "Not Found", NULL, NULL, 0, NULL); return; }
  for (size_t i = 0; i < n; i++) {
    char ch = rel[i];
    if (!(ch == '/' || ch == '.' || ch == '-' || ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9'))) { h1_respond(c, 404, "Not Found", NULL, NULL, 0, NULL); return; }
  }
  if (strstr(rel, "..")) { h1_respond(c, 404, "Not Found", NULL, NULL, 0, NULL); return; }
  if (!strcmp(rel, "/")) strcpy(rel, "/index.html");
  char full[1024];
  snprintf(full, sizeof full, "%s%s", s->web_dir, rel);
  FILE *f = fopen(full, "rb");
  /* The viewer package imports some modules without their ".js" (ES module
   * specifiers resolved by bundlers): serve "x" as "x.js" when only that exists. */
  const char *slash = strrchr(rel, '/'), *type_of = rel;
  if (!f && !strchr(slash ? slash : rel, '.') && strlen(full) + 4 < sizeof full) {
    strcat(full, ".js");
    f = fopen(full, "rb");
    if (f) type_of = full;
  }
  struct stat sb;
  if (!f || fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
    if (f) fclose(f);
    if (!strcmp(rel, "/index.html")) {
      char page[1200];
      int k = snprintf(page, sizeof page, INDEX_HTML, s->port);
      h1_respond(c, 200, "OK", "text/html; charset=utf-8", page, (size_t)k, NULL);
    } else {
      h1_respond(c, 404, "Not Found", NULL, NULL, 0, NULL);
    }
    return;
  }
  uint8_t *data = rr__malloc(sb.st_size ? (size_t)sb.st_size : 1);
  size_t got = data ? fread(data, 1, (size_t)sb.st_size, f) : 0;
  fclose(f);
  if (!data || got != (size_t)sb.st_size) {
    rr__free(data);
    h1_respond(c, 500, "Internal Server Error", NULL, NULL, 0, NULL);
    return;
  }
  h1_respond(c, 200, "OK", mime(type_of), data, got, "cache-control: no-cache\r\n");
  rr__free(data);
}

/* 1: gRPC-Web (binary), 2: gRPC-Web text (base64), 0: neither. */
static int h1_grpcweb_ctype(const rr_http1_request *r) {
  rr_str ct = rr_http1_header(r, "content-type");
  static const char *const types[4] = {"application/grpc-web", "application/grpc-web+proto",
                                       "application/grpc-web-text", "application/grpc-web-text+proto"};
  for (int i = 0; i < 4; i++)
    if (ct.len == strlen(types[i]) && !strncasecmp(ct.ptr, types[i], ct.len)) return i < 2 ? 1 : 2;
  return 0;
}

static void h1_grpc_head(conn *c) {
  rr_buf h = RR_BUF_INIT;
  const char *head = c->text ? "HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web-text+proto\r\n"
                             : "HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\n";
  static const char rest[] = "transfer-encoding: chunked\r\ncache-control: no-cache\r\n";
  rr_buf_append(&h, head, strlen(head));
  rr_buf_append(&h, rest, sizeof rest - 1);
  h1_cors_headers(c, &h);
  rr_buf_append(&h, "\r\n", 2);
  conn_send1(c, h.data, h.len);
  rr_buf_free(&h);
}

/* One HTTP chunk, never an empty one (which would end the body). */
static void h1_chunk_raw(conn *c, const void *p, size_t n) {
  if (!n) return;
  char pre[24];
  int k = snprintf(pre, sizeof pre, "%zx\r\n", n);
  uv_buf_t b[3] = {uv_buf_init(pre, (unsigned)k), uv_buf_init((char *)p, (unsigned)n), uv_buf_init("\r\n", 2)};
  conn_send(c, b, 3);
}

/* Whole gRPC-Web frames as one chunk; in text mode their base64, padded:
 * a live reader must be able to decode each message when it arrives, so
 * the body is base64 texts one after another (gRPC-Web text clients decode
 * them in 4-character groups, padding included). */
static void h1_chunk(conn *c, const void *p, size_t n) {
  if (!c->text) { h1_chunk_raw(c, p, n); return; }
  rr_buf enc = RR_BUF_INIT;
  rr_b64 st = {0};
  if (rr_b64_encode(&st, &enc, p, n) < 0 || rr_b64_encode_end(&st, &enc) < 0) {
    rr_buf_free(&enc);
    conn_close(c, "out of memory");
    return;
  }
  h1_chunk_raw(c, enc.data, enc.len);
  rr_buf_free(&enc);
}

static void h1_grpc_end(conn *c, int status, const char *msg) {
  rr_buf t = RR_BUF_INIT;
  rr_grpcweb_trailer(&t, status, msg);
  h1_chunk(c, t.data, t.len);
  rr_buf_free(&t);
  conn_send1(c, "0\r\n\r\n", 5);
}

static void h1_fill(conn *c);

static void h1_pump(conn *c) {
  if (c->h1 != H1_STREAM || !c->attached) return;
  for (;;) {
    h1_fill(c);
    conn_kick(c);
    /* written at once: go on while messages are waiting */
    if (c->closing || c->writing || backlog(c) >= CONN_BACKLOG || rr__srv_reader_empty(&c->reader)) return;
  }
}

static void h1_fill(conn *c) {
  while (backlog(c) < CONN_BACKLOG && !c->closing) {
    size_t n;
    const uint8_t *p = rr__srv_reader_peek(&c->reader, &n);
    if (!p) break;
    if (c->text) { /* base64: a copy of every message anyway */
      h1_chunk(c, p, n);
      rr__srv_reader_consume(&c->reader, n);
      continue;
    }
    char pre[24];
    if (n < SMALL_MSG) {
      /* a run of small messages: copied together into one HTTP chunk */
      size_t left = rr__srv_reader_small_run(&c->reader, SMALL_MSG, SMALL_RUN);
      int k = snprintf(pre, sizeof pre, "%zx\r\n", left);
      if (!q_copy(c, pre, (size_t)k)) return;
      while (left) {
        p = rr__srv_reader_peek(&c->reader, &n);
        if (!q_copy(c, p, n)) return;
        rr__srv_reader_consume(&c->reader, n);
        left -= n;
      }
      if (!q_copy(c, "\r\n", 2)) return;
      continue;
    }
    /* one chunk per large message (the rest of it): referenced, not copied */
    srv_msg *m = rr__srv_reader_msg(&c->reader);
    int k = snprintf(pre, sizeof pre, "%zx\r\n", n);
    m->refs++; /* conn_send_msg takes its own reference; keep m alive across consume */
    conn_send_msg(c, pre, (size_t)k, m, p, n, "\r\n", 2);
    rr__srv_reader_consume(&c->reader, n);
    rr__srv_msg_unref(&c->s->b, m);
  }
}

/* A whole request head was parsed: decide what to do. Returns false if the
 * connection was closed. */
static bool h1_begin(conn *c) {
  rr_http1_request *r = &c->req;
  c->keep_alive = r->keep_alive;
  c->origin[0] = 0;
  rr_str origin = rr_http1_header(r, "origin");
  if (origin.ptr && origin.len < sizeof c->origin) {
    if (rr_cors_origin_allowed(origin.ptr, origin.len, c->s->cors)) {
      memcpy(c->origin, origin.ptr, origin.len);
      c->origin[origin.len] = 0;
    }
  }
  c->body_left = r->content_length < 0 ? 0 : r->content_length;
  c->h1_kind = ST_OTHER;
  bool post = r->method.len == 4 && !memcmp(r->method.ptr, "POST", 4);
  bool grpc = r->path.len > strlen(RR_GRPC_PATH_PREFIX) && !memcmp(r->path.ptr, RR_GRPC_PATH_PREFIX, strlen(RR_GRPC_PATH_PREFIX));
  if (r->method.len == 7 && !memcmp(r->method.ptr, "OPTIONS", 7)) {
    char extra[800];
    rr_str rh = rr_http1_header(r, "access-control-request-headers");
    snprintf(extra, sizeof extra,
             "access-control-allow-methods: GET, POST, OPTIONS\r\naccess-control-allow-headers: %.*s\r\n"
             "access-control-max-age: 86400\r\n",
             (int)(rh.len < 400 ? rh.len : 0), rh.ptr ? rh.ptr : "");
    h1_respond(c, c->origin[0] ? 204 : 403, c->origin[0] ? "No Content" : "Forbidden", NULL, NULL, 0, extra);
    return true;
  }
  if (r->chunked) {
    c->keep_alive = false;
    h1_respond(c, 411, "Length Required", NULL, NULL, 0, NULL);
    return true;
  }
  if (post && grpc) {
    const char *m = r->path.ptr + strlen(RR_GRPC_PATH_PREFIX);
    size_t ml = r->path.len - strlen(RR_GRPC_PATH_PREFIX);
    int kind = h1_grpcweb_ctype(r);
    if (!kind) {
      c->keep_alive = false;
      h1_respond(c, 415, "Unsupported Media Type", NULL, NULL, 0, NULL);
      return true;
    }
    c->text = kind == 2;
    c->b64_in = (rr_b64){0};
    if (ml == 12 && !memcmp(m, "ReadMessages", 12)) c->h1_kind = ST_READ;
    else if (ml == 13 && !memcmp(m, "WriteMessages", 13)) {
      c->h1_kind = ST_WRITE;
      if (!c->is_writer) {
        c->is_writer = true;
        pthread_mutex_lock(&c->s->mu); c->s->st.writers++; pthread_mutex_unlock(&c->s->mu);
      }
    }
    else {
      h1_grpc_head(c);
      h1_grpc_end(c, RR_GRPC_UNIMPLEMENTED, "method not implemented by rerun-c");
      c->h1_kind = ST_OTHER;
    }
    rr__srv_deframer_free(&c->dec);
    rr__srv_deframer_init(&c->dec);
    c->dec.pool = &c->s->b;
    c->h1 = H1_BODY;
    return true;
  }
  if (r->method.len == 3 && !memcmp(r->method.ptr, "GET", 3)) h1_static(c, r->path);
  else h1_respond(c, 405, "Method Not Allowed", NULL, NULL, 0, NULL);
  c->h1 = H1_BODY; /* skip any body */
  return true;
}

/* The request body has been consumed completely. */
static void h1_end(conn *c) {
  if (c->h1_kind == ST_READ) {
    c->reader.notify = reader_notify;
    c->reader.ud = c;
    if (rr__srv_reader_attach(&c->s->b, &c->reader) < 0) { conn_close(c, "out of memory"); return; }
    c->attached = true;
    if (!c->is_reader) {
      c->is_reader = true;
      pthread_mutex_lock(&c->s->mu); c->s->st.readers++; pthread_mutex_unlock(&c->s->mu);
    }
    rr__log(RR_LOG_INFO, "server: %s: gRPC-Web reader attached (%zu history messages)", c->peer, c->reader.snap_n);
    h1_grpc_head(c);
    c->h1 = H1_STREAM;
    h1_pump(c);
    return;
  }
  if (c->h1_kind == ST_WRITE) {
    if (c->text && rr_b64_decode_end(&c->b64_in) < 0) {
      conn_close(c, "gRPC-Web text WriteMessages body ended inside a base64 group");
      return;
    }
    if (!rr__srv_deframer_idle(&c->dec)) { conn_close(c, "gRPC-Web WriteMessages body ended inside a message"); return; }
    h1_grpc_head(c);
    static const uint8_t empty[5] = {0};
    h1_chunk(c, empty, 5);
    h1_grpc_end(c, RR_GRPC_OK, "");
  }
  if (!c->keep_alive) {
    c->h1 = H1_DONE;
    if (!backlog(c)) conn_close(c, NULL);
    return;
  }
  c->h1 = H1_HEAD;
}

static void h1_feed(conn *c, const uint8_t *p, size_t n) {
  while (!c->closing) {
    if (c->h1 == H1_HEAD) {
      if (n) { if (rr_buf_append(&c->in, p, n) < 0) { conn_close(c, "out of memory"); return; } n = 0; }
      rr_error e = {0};
      int rc = rr_http1_parse_request((const char *)c->in.data, c->in.len, &c->req, &e);
      if (rc == RR_EAGAIN) return;
      if (rc < 0) {
        c->keep_alive = false;
        h1_respond(c, 400, "Bad Request", NULL, NULL, 0, NULL);
        conn_close(c, e.msg);
        return;
      }
      size_t head = c->req.head_len;
      /* the parsed views point into c->in: handle the head before moving bytes */
      if (!h1_begin(c) || c->closing) return;
      size_t rest = c->in.len - head;
      memmove(c->in.data, c->in.data + head, rest);
      c->in.len = rest;
      if (c->closing) return;
      continue;
    }
    if (c->h1 == H1_BODY) {
      /* body bytes: first what was buffered, then the new input */
      const uint8_t *q = c->in.len ? c->in.data : p;
      size_t avail = c->in.len ? c->in.len : n;
      size_t k = (int64_t)avail < c->body_left ? avail : (size_t)c->body_left;
      if (k && c->h1_kind == ST_WRITE) {
        rr_error e = {0};
        int rc;
        if (c->text) {
          rr_buf dec = RR_BUF_INIT;
          rc = rr_b64_decode(&c->b64_in, &dec, q, k);
          if (rc == RR_EINVAL) rr__err(&e, rc, "gRPC-Web text WriteMessages body is not base64");
          if (rc == RR_OK) rc = rr__srv_deframer_feed(&c->dec, dec.data, dec.len, on_writer_msg, c, &e);
          rr_buf_free(&dec);
        } else {
          rc = rr__srv_deframer_feed(&c->dec, q, k, on_writer_msg, c, &e);
        }
        if (rc < 0) { conn_close(c, e.msg[0] ? e.msg : rr_strerror(rc)); return; }
      }
      c->body_left -= (int64_t)k;
      if (c->in.len) { memmove(c->in.data, c->in.data + k, c->in.len - k); c->in.len -= k; }
      else { p += k; n -= k; }
      if (c->body_left > 0) return;
      h1_end(c);
      if (c->h1 != H1_HEAD) {
        /* streaming or done: further input is not expected */
        return;
      }
      if (!c->in.len && !n) return;
      continue;
    }
    return; /* H1_STREAM, H1_DONE: ignore input */
  }
}

/* ---- connections -------------------------------------------------------------------------- */

/* One whole WriteMessagesRequest frame (owned). Validated cheaply (see
 * rr__srv_check_log_msg; fully decoded only for the store hub); a frame in
 * the canonical form (field 1 = LogMsg = the one oneof member, minimal
 * varints) is byte-for-byte the ReadMessagesResponse frame to forward, so it
 * is published as it is; any other form is re-framed (one copy). */
static int on_writer_msg(void *ud, srv_msg *fm) {
  conn *c = ud;
  const uint8_t *body = fm->data + 5, *lm;
  size_t n = fm->len - 5, lml;
  int rc = rr_proto_find_field1(body, n, &lm, &lml);
  if (rc == RR_ENOTFOUND) {
    rr__log(RR_LOG_WARN, "server: %s: WriteMessagesRequest without log_msg ignored", c->peer);
    rr__free(fm);
    return 0;
  }
  if (rc < 0) {
    rr__log(RR_LOG_WARN, "server: %s: malformed WriteMessagesRequest", c->peer);
    rr__free(fm);
    return RR_ECORRUPT;
  }
  srv_log_info li;
  rr_error e = {0};
  rc = rr__srv_check_log_msg(lm, lml, c->s->o.store != NULL, &li, &e);
  if (rc < 0) {
    rr__log(RR_LOG_WARN, "server: %s: bad LogMsg: %s", c->peer, e.msg);
    rr__free(fm);
    return rc;
  }
  uint8_t prefix[32];
  int pl = rr_grpc_logmsg_prefix(prefix, li.kind, li.inner_len);
  srv_msg *sm;
  if (pl > 0 && fm->len == (size_t)pl + li.inner_len && li.inner == fm->data + pl && !memcmp(fm->data, prefix, (size_t)pl)) {
    sm = fm;
    sm->inner_off = (uint32_t)pl;
    sm->kind = (uint8_t)li.kind;
    sm->cat = (uint8_t)li.cat;
  } else {
    sm = rr__srv_msg_new(li.kind, li.cat, li.inner, li.inner_len);
    rr__free(fm);
    if (!sm) return RR_ENOMEM;
  }
  publish(c->s, sm);
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  size_t n = 0;
  uint8_t *p = c->mode == C_H2 && !c->closing ? h2_read_target(c, &n) : NULL;
  buf->base = (char *)(p ? p : c->s->readbuf);
  buf->len = p ? n : READ_BUF;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  conn *c = stream->data;
  if (nread < 0) {
    conn_close(c, nread == UV_EOF ? NULL : uv_strerror((int)nread));
    return;
  }
  if (nread == 0 || c->closing) return;
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t n = (size_t)nread;
  if (c->mode == C_SNIFF) {
    size_t have = c->in.len;
    size_t k = sizeof H2_PREFACE - 1 - have;
    if (k > n) k = n;
    if (rr_buf_append(&c->in, p, k) < 0) { conn_close(c, "out of memory"); return; }
    p += k;
    n -= k;
    if (memcmp(c->in.data, H2_PREFACE, c->in.len) != 0 || c->web_listener) {
      c->mode = C_H1;
      c->h1 = H1_HEAD;
      rr_buf moved = c->in;
      c->in = (rr_buf)RR_BUF_INIT;
      h1_feed(c, moved.data, moved.len);
      rr_buf_free(&moved);
    } else if (c->in.len == sizeof H2_PREFACE - 1) {
      c->mode = C_H2;
      if (h2_init(c) < 0) { conn_close(c, "out of memory"); return; }
      ssize_t r = nghttp2_session_mem_recv(c->h2, c->in.data, c->in.len);
      rr_buf_free(&c->in); /* the preface: not a frame, not tracked */
      if (r < 0) { conn_close(c, c->fail[0] ? c->fail : nghttp2_strerror((int)r)); return; }
    } else {
      return; /* a prefix of the preface so far */
    }
  }
  if (c->closing) return;
  if (c->mode == C_H1) {
    if (n) h1_feed(c, p, n);
  } else if (n) {
    h2_track(c, p, n);
    ssize_t r = nghttp2_session_mem_recv(c->h2, p, n);
    if (r < 0) {
      conn_close(c, c->fail[0] ? c->fail : nghttp2_strerror((int)r));
      return;
    }
  }
  if (!c->closing) conn_pump(c);
  /* readers get what this read brought at once, not after every other
   * read of this loop turn: their queues stay short, so message buffers
   * are reused while still in cache */
  pump_dirty(c->s);
}

static void conn_pump(conn *c) {
  if (c->closing) return;
  srv_reader *r = NULL;
  if (c->mode == C_H1 && c->attached) r = &c->reader;
  if (r && r->overflow) {
    conn_close(c, "reader too slow: more than the pending-bytes bound behind");
    return;
  }
  if (c->mode == C_H2) {
    h2_pump(c);
  } else if (c->mode == C_H1) {
    h1_pump(c);
    if (c->h1 == H1_DONE && !backlog(c)) conn_close(c, NULL);
  }
}

static void on_closed(uv_handle_t *h) {
  conn *c = h->data;
  q_free_all(c);
  rr__free(c);
}

static void conn_close(conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  rr_server *s = c->s;
  if (why) {
    rr__log(RR_LOG_WARN, "server: dropping client %s: %s", c->peer, why);
    pthread_mutex_lock(&s->mu); s->st.clients_dropped++; pthread_mutex_unlock(&s->mu);
  } else {
    rr__log(RR_LOG_INFO, "server: client %s disconnected", c->peer);
  }
  /* nghttp2_session_del does not report stream closes: free ours first */
  while (c->streams) h2_stream_free(c, c->streams);
  if (c->h2) { nghttp2_session_del(c->h2); c->h2 = NULL; }
  if (c->attached) { rr__srv_reader_detach(&c->reader); c->attached = false; }
  rr__srv_deframer_free(&c->dec);
  rr_buf_free(&c->in);
  pthread_mutex_lock(&s->mu);
  s->st.connections--;
  if (c->is_writer) s->st.writers--;
  if (c->is_reader) s->st.readers--;
  pthread_mutex_unlock(&s->mu);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  /* remove from the dirty list */
  for (conn **pp = &s->dirty; *pp; pp = &(*pp)->dirty_next)
    if (*pp == c) { *pp = c->dirty_next; break; }
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  rr_server *s = server->data;
  if (status < 0) return;
  conn *c = rr__calloc(1, sizeof *c);
  if (!c) return;
  c->s = s;
  c->web_listener = server == (uv_stream_t *)&s->web_listener;
  uv_tcp_init(&s->loop, &c->tcp);
  c->tcp.data = c;
  c->wreq.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) { uv_close((uv_handle_t *)&c->tcp, on_closed); return; }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
    char ip[48] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) { uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip); port = ntohs(((struct sockaddr_in *)&ss)->sin_port); }
    else if (ss.ss_family == AF_INET6) { uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip); port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port); }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
  }
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  pthread_mutex_lock(&s->mu); s->st.connections++; pthread_mutex_unlock(&s->mu);
  rr__log(RR_LOG_INFO, "server: client %s connected", c->peer);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- loop plumbing ------------------------------------------------------------------------------ */

static void stats_sync(rr_server *s) {
  pthread_mutex_lock(&s->mu);
  s->st.history_messages = s->b.hist[0].n + s->b.hist[1].n + s->b.hist[2].n;
  s->st.history_bytes = s->b.hist_bytes;
  s->st.messages_dropped = s->b.dropped_msgs;
  s->st.bytes_dropped = s->b.dropped_bytes;
  s->st.message_bytes_live = s->b.live_bytes;
  pthread_mutex_unlock(&s->mu);
}

/* Pumps the connections whose readers got messages. */
static void pump_dirty(rr_server *s) {
  while (s->dirty) {
    conn *c = s->dirty;
    s->dirty = c->dirty_next;
    c->dirty = false;
    if (c->closing) continue;
    if (c->mode == C_H2 && c->h2) {
      /* resume every deferred reader stream of this connection */
      for (srv_reader *r = s->b.readers; r; r = r->next) {
        if (r->ud != c) continue;
        h2_stream *st = (h2_stream *)((char *)r - offsetof(h2_stream, reader));
        if (c->attached && r == &c->reader) continue;
        if (r->overflow) {
          rr__log(RR_LOG_WARN, "server: %s: reader too slow (more than %llu bytes behind); its stream is reset",
                  c->peer, (unsigned long long)s->b.reader_max);
          pthread_mutex_lock(&s->mu); s->st.clients_dropped++; pthread_mutex_unlock(&s->mu);
          r->notify = NULL;
          nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_ENHANCE_YOUR_CALM);
          continue;
        }
        if (st->deferred) { st->deferred = false; nghttp2_session_resume_data(c->h2, st->id); }
      }
    }
    conn_pump(c);
  }
}

static void on_check(uv_check_t *h) { pump_dirty(h->data); }

static void drain_inbox(rr_server *s) {
  pthread_mutex_lock(&s->mu);
  struct inbox_node *n = s->in_head;
  s->in_head = s->in_tail = NULL;
  s->in_bytes = 0;
  pthread_cond_broadcast(&s->inbox_cv);
  bool stop = s->stop_req;
  pthread_mutex_unlock(&s->mu);
  uint64_t k = 0;
  for (; n; k++) {
    struct inbox_node *next = n->next;
    publish(s, n->m);
    rr__free(n);
    n = next;
  }
  if (k) {
    pthread_mutex_lock(&s->mu);
    s->in_done += k;
    pthread_cond_broadcast(&s->inbox_cv);
    pthread_mutex_unlock(&s->mu);
  }
  if (stop) {
    for (conn *c = s->conns; c;) { conn *next = c->next; conn_close(c, NULL); c = next; }
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->has_web) uv_close((uv_handle_t *)&s->web_listener, NULL);
    uv_close((uv_handle_t *)&s->wake, NULL);
    uv_close((uv_handle_t *)&s->check, NULL);
    uv_close((uv_handle_t *)&s->timer, NULL);
  }
}

static void on_wake(uv_async_t *h) { drain_inbox(h->data); }

static void on_timer(uv_timer_t *h) {
  rr_server *s = h->data;
  stats_sync(s);
  rr__srv_broker_trim_spares(&s->b);
  if (s->save) fflush(s->save);
  if (s->b.dropped_msgs != s->reported_drops) {
    rr__log(RR_LOG_WARN, "server: memory limit: %llu messages (%llu bytes) dropped from the history so far",
            (unsigned long long)s->b.dropped_msgs, (unsigned long long)s->b.dropped_bytes);
    s->reported_drops = s->b.dropped_msgs;
  }
}

static void *loop_main(void *arg) {
  rr_server *s = arg;
#if defined(__linux__)
  pthread_setname_np(pthread_self(), "rr-server"); /* for top -H, perf, per-thread CPU */
#endif
  uv_run(&s->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ---- public API ------------------------------------------------------------------------------- */

void rr_server_options_init(rr_server_options *o) {
  memset(o, 0, sizeof *o);
  o->port = RR_GRPC_DEFAULT_PORT;
  o->memory_limit = UINT64_C(1) << 30;
  o->reader_max_pending = UINT64_C(256) << 20;
  o->web_port = -1;
}

static int bind_listener(rr_server *s, uv_tcp_t *t, const char *host, int port, int *bound, rr_error *err) {
  struct sockaddr_storage addr;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)
    return rr__err(err, RR_EINVAL, "bad bind address '%s'", host);
  uv_tcp_init(&s->loop, t);
  t->data = s;
  int r = uv_tcp_bind(t, (struct sockaddr *)&addr, 0);
  if (r == 0) r = uv_listen((uv_stream_t *)t, 256, on_connection);
  if (r < 0) {
    uv_close((uv_handle_t *)t, NULL);
    return rr__err(err, RR_ECONN, "cannot listen on %s:%d: %s", host, port, uv_strerror(r));
  }
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  uv_tcp_getsockname(t, (struct sockaddr *)&ss, &sl);
  *bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return RR_OK;
}

int rr_server_new(rr_server **out, const rr_server_options *opts, rr_error *err) {
  rr_server_options def;
  if (!opts) { rr_server_options_init(&def); opts = &def; }
  rr_server *s = rr__calloc(1, sizeof *s);
  if (!s) return rr__err(err, RR_ENOMEM, "out of memory");
  s->o = *opts;
  s->bind_host = rr__strdup(opts->bind_host ? opts->bind_host : "0.0.0.0");
  s->web_dir = opts->web_dir ? rr__strdup(opts->web_dir) : NULL;
  s->cors = opts->cors_allow_origin ? rr__strdup(opts->cors_allow_origin) : NULL;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines from rr__mono_ns */
  pthread_cond_init(&s->inbox_cv, &ca);
  pthread_condattr_destroy(&ca);
  rr__srv_broker_init(&s->b, opts->memory_limit, opts->reader_max_pending ? opts->reader_max_pending : UINT64_C(256) << 20);
  s->web_port = -1;
  int rc = uv_loop_init(&s->loop) == 0 ? RR_OK : rr__err(err, RR_ENOMEM, "cannot create the event loop");
  if (rc == RR_OK) {
    rc = bind_listener(s, &s->listener, s->bind_host, opts->port, &s->port, err);
    if (rc == RR_OK && opts->web_port >= 0) {
      rc = bind_listener(s, &s->web_listener, s->bind_host, opts->web_port, &s->web_port, err);
      if (rc == RR_OK) s->has_web = true;
      else uv_close((uv_handle_t *)&s->listener, NULL);
    }
    if (rc == RR_OK && opts->save_path) {
      s->save = fopen(opts->save_path, "wb");
      rr_buf h = RR_BUF_INIT;
      if (!s->save) rc = rr__err(err, RR_EIO, "cannot open '%s' for writing: %s", opts->save_path, strerror(errno));
      else if (rr_rrd_write_stream_header(&h, false) < 0 || fwrite(h.data, 1, h.len, s->save) != h.len)
        rc = rr__err(err, RR_EIO, "cannot write '%s'", opts->save_path);
      rr_buf_free(&h);
      if (rc < 0) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        if (s->has_web) uv_close((uv_handle_t *)&s->web_listener, NULL);
      }
    }
    if (rc < 0) {
      uv_run(&s->loop, UV_RUN_DEFAULT);
      uv_loop_close(&s->loop);
    }
  }
  if (rc < 0) {
    if (s->save) fclose(s->save);
    rr__free(s->bind_host);
    rr__free(s->web_dir);
    rr__free(s->cors);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->inbox_cv);
    rr__free(s);
    return rc;
  }
  uv_async_init(&s->loop, &s->wake, on_wake);
  s->wake.data = s;
  uv_check_init(&s->loop, &s->check);
  s->check.data = s;
  uv_check_start(&s->check, on_check);
  uv_timer_init(&s->loop, &s->timer);
  s->timer.data = s;
  uv_timer_start(&s->timer, on_timer, 1000, 1000);
  uv_unref((uv_handle_t *)&s->timer);
  *out = s;
  return RR_OK;
}

int rr_server_start(rr_server *s, rr_error *err) {
  if (s->started) return rr__err(err, RR_EINVAL, "server already started");
  if (pthread_create(&s->thread, NULL, loop_main, s) != 0) return rr__err(err, RR_ENOMEM, "cannot start the server thread");
  s->started = true;
  return RR_OK;
}

int rr_server_port(const rr_server *s) { return s->port; }
int rr_server_web_port(const rr_server *s) { return s->web_port; }

void rr_server_stop(rr_server *s) {
  if (!s || s->stopped) return;
  pthread_mutex_lock(&s->mu);
  s->stop_req = true;
  pthread_cond_broadcast(&s->inbox_cv);
  pthread_mutex_unlock(&s->mu);
  if (s->started) {
    uv_async_send(&s->wake);
    pthread_join(s->thread, NULL);
  } else {
    drain_inbox(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
  }
  s->stopped = true;
}

void rr_server_free(rr_server *s) {
  if (!s) return;
  rr_server_stop(s);
  while (s->in_head) {
    struct inbox_node *n = s->in_head;
    s->in_head = n->next;
    rr__free(n->m);
    rr__free(n);
  }
  rr__srv_broker_free(&s->b);
  uv_loop_close(&s->loop);
  if (s->save) fclose(s->save);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->inbox_cv);
  rr__free(s->bind_host);
  rr__free(s->web_dir);
  rr__free(s->cors);
  rr__free(s);
}

void rr_server_stats_get(rr_server *s, rr_server_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->st;
  pthread_mutex_unlock(&s->mu);
}

/* ---- loading files -------------------------------------------------------------------------------- */

#define INBOX_MAX (64u << 20)

/* Under mu: drops the oldest inbox messages other than store infos and
 * blueprints until `need` more bytes fit under `max`. Returns how many. */
static uint64_t inbox_drop_oldest(rr_server *s, size_t need, uint64_t max) {
  uint64_t n = 0;
  struct inbox_node **pp = &s->in_head, *prev = NULL;
  while (*pp && s->in_bytes + need > max) {
    struct inbox_node *x = *pp;
    if (x->m->cat == SRV_PERSISTENT) { prev = x; pp = &x->next; continue; }
    *pp = x->next;
    if (s->in_tail == x) s->in_tail = prev;
    s->in_bytes -= x->m->len;
    rr__free(x->m);
    rr__free(x);
    n++;
  }
  s->in_done += n;
  return n;
}

/* Hands m to the loop thread. While the messages it has not taken yet
 * exceed max_pending bytes, waits for room until `deadline_ns` (monotonic;
 * INT64_MAX: as long as it takes), then, if `drop`, drops the oldest (a
 * message larger than max_pending alone goes over it). RR_ECLOSED once the
 * server is stopping (m freed). */
static int inbox_push(rr_server *s, srv_msg *m, uint64_t max_pending, int64_t deadline_ns, bool drop, bool more,
                      uint64_t *dropped) {
  struct inbox_node *n = rr__malloc(sizeof *n);
  if (!n) { rr__free(m); return RR_ENOMEM; }
  n->m = m;
  n->next = NULL;
  pthread_mutex_lock(&s->mu);
  bool over_alone = m->len > max_pending;
  if (!over_alone && s->in_bytes + m->len > max_pending) uv_async_send(&s->wake); /* held ones make room too */
  while (!s->stop_req && !over_alone && s->in_bytes + m->len > max_pending) {
    if (deadline_ns == INT64_MAX) { pthread_cond_wait(&s->inbox_cv, &s->mu); continue; }
    if (rr__mono_ns() >= deadline_ns) break;
    struct timespec ts = {deadline_ns / 1000000000, deadline_ns % 1000000000};
    pthread_cond_timedwait(&s->inbox_cv, &s->mu, &ts);
  }
  if (s->stop_req) {
    pthread_mutex_unlock(&s->mu);
    rr__free(m);
    rr__free(n);
    return RR_ECLOSED;
  }
  if (drop && !over_alone && s->in_bytes + m->len > max_pending) *dropped += inbox_drop_oldest(s, m->len, max_pending);
  if (s->in_tail) s->in_tail->next = n;
  else s->in_head = n;
  s->in_tail = n;
  s->in_bytes += m->len;
  s->in_pushed++;
  pthread_mutex_unlock(&s->mu);
  if (!more) uv_async_send(&s->wake);
  return RR_OK;
}

static int load_cb(void *ud, rr_log_msg *m, const rr_error *err) {
  rr_server *s = ud;
  if (!m) {
    rr__log(RR_LOG_WARN, "server: input: %s", err && err->msg[0] ? err->msg : "decode error");
    return 0;
  }
  srv_msg *sm = rr__srv_msg_from_log_msg(m);
  rr_log_msg_free(m);
  if (!sm) return RR_ENOMEM;
  uint64_t none = 0;
  return inbox_push(s, sm, INBOX_MAX, INT64_MAX, false, false, &none);
}

int rr_server_load(rr_server *s, const char *path, rr_error *err) {
  if (!s->started || s->stopped) return rr__err(err, RR_EINVAL, "server not running");
  if (!strcmp(path, "-")) return rr_rrd_read_file(stdin, NULL, load_cb, s, err);
  return rr_rrd_read_path(path, NULL, load_cb, s, err);
}

int rr_server_publish(rr_server *s, int kind, const struct iovec *parts, size_t n_parts, const rr_publish_options *opts,
                      uint64_t *dropped, rr_error *err) {
  static const rr_publish_options defaults = {0};
  if (!opts) opts = &defaults;
  uint64_t none = 0;
  if (!dropped) dropped = &none;
  *dropped = 0;
  if (!s->started || s->stopped) return rr__err(err, RR_ECLOSED, "server: publish: the server is not running");
  size_t len = 0;
  for (size_t i = 0; i < n_parts; i++) {
    if (parts[i].iov_len > SIZE_MAX - len) return rr__err(err, RR_ERANGE, "server: publish: message too large");
    len += parts[i].iov_len;
  }
  if (kind != RR_MSG_SET_STORE_INFO && kind != RR_MSG_ARROW && kind != RR_MSG_BLUEPRINT_ACTIVATION)
    return rr__err(err, RR_EINVAL, "server: publish: %d is not a LogMsg kind", kind);
  uint8_t prefix[32];
  int pl = rr_grpc_logmsg_prefix(prefix, kind, len);
  if (pl < 0) return rr__err(err, RR_ERANGE, "server: publish: message over 4 GiB");
  srv_msg *m = rr__srv_msg_alloc(&s->b, (size_t)pl + len); /* a kept buffer, warm, when one fits */
  if (!m) return rr__err(err, RR_ENOMEM, "server: publish: out of memory");
  memcpy(m->data, prefix, (size_t)pl);
  uint8_t *w = m->data + pl;
  for (size_t i = 0; i < n_parts; i++) {
    if (parts[i].iov_len) memcpy(w, parts[i].iov_base, parts[i].iov_len);
    w += parts[i].iov_len;
  }
  m->len = (size_t)pl + len;
  /* the same checks as a client's message gets, on the LogMsg (behind the
   * gRPC header and the request's field tag) */
  const uint8_t *lm;
  size_t lml;
  srv_log_info li;
  rr_error why = {0};
  int rc = rr_proto_find_field1(m->data + 5, m->len - 5, &lm, &lml);
  if (rc == RR_OK) rc = rr__srv_check_log_msg(lm, lml, s->o.store != NULL, &li, &why);
  if (rc < 0) {
    rr__free(m);
    return rr__err(err, rc, "server: publish: bad LogMsg: %s", why.msg[0] ? why.msg : "malformed");
  }
  m->kind = (uint8_t)li.kind;
  m->cat = (uint8_t)li.cat;
  m->inner_off = (uint32_t)pl;
  int64_t deadline = opts->wait_ms < 0 ? INT64_MAX : rr__mono_ns() + opts->wait_ms * 1000000;
  rc = inbox_push(s, m, opts->max_pending ? opts->max_pending : INBOX_MAX, deadline, true, opts->more, dropped);
  if (rc == RR_ECLOSED) return rr__err(err, rc, "server: publish: the server is stopping");
  if (rc < 0) return rr__err(err, rc, "server: publish: out of memory");
  return RR_OK;
}

void rr_server_publish_end(rr_server *s) {
  if (s->started && !s->stopped) uv_async_send(&s->wake);
}

int rr_server_flush(rr_server *s, int64_t timeout_ms, rr_error *err) {
  rr_server_publish_end(s);
  int64_t deadline = timeout_ms < 0 ? INT64_MAX : rr__mono_ns() + timeout_ms * 1000000;
  pthread_mutex_lock(&s->mu);
  uint64_t target = s->in_pushed;
  while (s->in_done < target && !s->stop_req && s->started) {
    int64_t now = rr__mono_ns();
    if (now >= deadline) break;
    int64_t until = deadline == INT64_MAX ? now + 1000000000 : deadline;
    struct timespec ts = {until / 1000000000, until % 1000000000};
    pthread_cond_timedwait(&s->inbox_cv, &s->mu, &ts);
  }
  uint64_t left = s->in_done >= target ? 0 : target - s->in_done;
  pthread_mutex_unlock(&s->mu);
  if (left) return rr__err(err, RR_ETIMEDOUT, "server: flush: %llu message(s) not taken by the loop thread in %lld ms",
                           (unsigned long long)left, (long long)timeout_ms);
  return RR_OK;
}
