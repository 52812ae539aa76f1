/* The gRPC sink: one WriteMessages call over HTTP/2 cleartext (nghttp2
 * client session driven by mem_recv/mem_send) on an I/O thread of its own.
 *
 * The batcher thread (write) only appends framed messages to a bounded
 * queue and, if the I/O thread sleeps, wakes it through a pipe. Small
 * messages are first gathered in a block of the batcher's own (`stage`,
 * no lock taken per message) that joins the queue whole: when full, before
 * any other message, at the end of each run of the batcher (end_run), and
 * on flush and close. A large chunk's message is not copied: the sink
 * keeps it as the batcher made it (adopt), with the chunk's value buffers
 * it points into, and gives those back to the recording once it is sent
 * or dropped (ext, reap). The I/O
 * thread connects (re-connects with back-off 100 ms .. 2 s), feeds the queue
 * to nghttp2 as the DATA of the request, and writes with non-blocking
 * send(); what the socket does not take waits in `pend` (at most about
 * 1 MiB + one frame). A message is only removed from the queue once
 * nghttp2 has taken its last byte; after a lost connection a message that
 * was half sent is sent again whole, preceded by the last SetStoreInfo. */
#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "encoding/rr_encoding.h"
#include "net/rr_net.h"
#include "rerun/version.h"
#include "rerun/net.h"
#include "sdk_internal.h"

#define PEND_MAX (1u << 20)
#define ITEM_SPARES 8
#define BATCH_MAX (16u << 10)    /* messages up to this size share blocks */
#define BLOCK_BYTES (256u << 10)
/* How long the I/O thread waits for more messages after sending some (the
 * latency it adds, at most, while messages stream in). */
#define LINGER_NS 1000000
/* ... unless this many bytes are queued meanwhile (then the writer wakes it) */
#define LINGER_BYTES (64u << 10)
#define ITEM_SPARE_MIN (64u << 10)

/* A message kept as the batcher made it (rr_sink.adopt): its parts, and the
 * recording's buffers they point into, given back once it is sent. */
struct qext {
  struct rr_msg *m;
  struct rr_spare bufs[RR_ADOPT_MAX_BUFS];
  int n_bufs;
  int n_iov;
  struct iovec iov[]; /* the gRPC prefix (in the item's data), then m's parts */
};

/* A queued run of framed messages: one message, or (batch) a block that
 * small messages are appended to while it is the queue's tail. With ext,
 * the message's bytes are ext->iov (data holds only the prefix). */
struct qitem {
  struct qitem *next;
  int kind;             /* of its (first) message */
  bool batch;
  uint32_t n_msgs;
  size_t len, off, cap; /* bytes queued, handed to nghttp2, allocated for data */
  struct qext *ext;
  struct qitem *dead_next; /* on the list of kept messages to give back */
  uint8_t data[];
};

struct grpc_sink {
  struct rr_sink base;
  rr_recording *rec;
  rr_proxy_url url;
  char authority[300];
  double flush_timeout;
  size_t max_bytes;

  pthread_mutex_t mu;
  pthread_cond_t cv;          /* progress, room, idle */
  struct qitem *head, *tail;
  size_t q_bytes;
  struct qitem *store_info;   /* copy of the last SetStoreInfo frame */
  /* batcher side only (the recording's sink_mu): the block small messages
   * are gathered in before it is queued, and how full it may get (a
   * fraction of the queue's bound, so that a small bound still drops and
   * waits message by message) */
  struct qitem *stage;
  size_t stage_max;
  /* large items kept for reuse: fresh memory for every large message costs
   * a page fault per page, more than the copy itself */
  struct qitem *spare[ITEM_SPARES];
  int n_spare;
  bool stop, idle, need_wake, thread_started;
  bool lingering;             /* the I/O thread waits unwoken for more messages */
  int turn_frames;            /* DATA frames taken this turn of the I/O thread */
  uint64_t progress;          /* bytes taken off the queue */
  uint64_t dropped;
  /* kept messages (ext) dropped or sent under mu: given back outside it
   * (reap), as that takes the recording's lock */
  struct qitem *dead;
  _Atomic bool has_dead;
  int wake[2];
  pthread_t thread;

  /* I/O thread only */
  int fd;
  nghttp2_session *h2;
  int32_t stream;
  bool deferred, stream_closed, ended, connected_once;
  rr_buf pend;                /* bytes the socket did not take; sent from pend_off */
  size_t pend_off;
  /* a DATA frame given to nghttp2 without a copy (NGHTTP2_DATA_FLAG_NO_COPY):
   * its bytes are in nc_item (taken off the queue when wholly sent, then
   * kept here until send_data_cb wrote them) */
  struct qitem *nc_item;
  size_t nc_off, nc_len;
  bool nc_last;
  /* the part of such a frame the socket did not take: sent from the item
   * after pend (never copied); pv_item is freed once sent if pv_free */
  struct qitem *pv_item;
  size_t pv_off, pv_n;
  bool pv_free;
  int conn_no;
};

static void sink_log_drop(struct grpc_sink *g, uint64_t n, const char *why) {
  uint64_t before = g->dropped;
  g->dropped += n;
  rr__drops_warn("gRPC sink", before, g->dropped, why);
}

static void count_dropped(struct grpc_sink *g, uint64_t n) { rr__recording_count_dropped(g->rec, n); }

static void wake_io(struct grpc_sink *g) {
  char c = 1;
  ssize_t r = write(g->wake[1], &c, 1);
  (void)r;
}

/* ---- batcher side ------------------------------------------------------------------- */

/* Gives a kept message's buffers back to the recording and frees it. Under
 * no lock (the recording's is taken). */
static void ext_release(struct grpc_sink *g, struct qitem *it) {
  struct qext *x = it->ext;
  rr__recording_recycle(g->rec, x->bufs, x->n_bufs);
  rr__msg_free(x->m);
  rr__free(x);
  rr__free(it);
}

/* Under mu: keeps a large item for reuse, else frees it (a kept message:
 * later, by reap). */
static void item_free(struct grpc_sink *g, struct qitem *it) {
  if (it->ext) {
    it->dead_next = g->dead;
    g->dead = it;
    atomic_store_explicit(&g->has_dead, true, memory_order_relaxed);
  } else if (it->cap >= ITEM_SPARE_MIN && g->n_spare < ITEM_SPARES) {
    g->spare[g->n_spare++] = it;
  } else {
    rr__free(it);
  }
}

/* Under no lock: an item no longer queued, freed whatever it is. */
static void item_destroy(struct grpc_sink *g, struct qitem *it) {
  if (it->ext) ext_release(g, it);
  else rr__free(it);
}

/* Under no lock: gives back the kept messages that were dropped or sent. */
static void reap(struct grpc_sink *g) {
  if (!atomic_load_explicit(&g->has_dead, memory_order_relaxed)) return; /* a late one: next time */
  pthread_mutex_lock(&g->mu);
  struct qitem *d = g->dead;
  g->dead = NULL;
  atomic_store_explicit(&g->has_dead, false, memory_order_relaxed);
  pthread_mutex_unlock(&g->mu);
  while (d) {
    struct qitem *next = d->dead_next;
    ext_release(g, d);
    d = next;
  }
}

/* Up to max iovecs for bytes [off, off + n) of an item; returns how many. */
static int item_iov(const struct qitem *it, size_t off, size_t n, struct iovec *out, int max) {
  if (!it->ext) {
    out[0] = (struct iovec){(void *)(it->data + off), n};
    return 1;
  }
  int k = 0;
  for (int i = 0; i < it->ext->n_iov && n && k < max; i++) {
    const struct iovec *v = &it->ext->iov[i];
    if (off >= v->iov_len) { off -= v->iov_len; continue; }
    size_t take = v->iov_len - off < n ? v->iov_len - off : n;
    out[k++] = (struct iovec){(uint8_t *)v->iov_base + off, take};
    n -= take;
    off = 0;
  }
  return k;
}

/* Copies bytes [off, off + n) of an item to dst. */
static void item_copy(const struct qitem *it, size_t off, uint8_t *dst, size_t n) {
  struct iovec v[16];
  while (n) {
    int k = item_iov(it, off, n, v, 16);
    if (!k) break; /* past the item's end: cannot happen */
    for (int i = 0; i < k; i++) {
      memcpy(dst, v[i].iov_base, v[i].iov_len);
      dst += v[i].iov_len;
      off += v[i].iov_len;
      n -= v[i].iov_len;
    }
  }
}

/* Under mu: whether fewer than LINGER_BYTES wait to be handed to nghttp2. */
static bool little_queued(const struct grpc_sink *g) {
  size_t n = 0;
  for (const struct qitem *it = g->head; it && n < LINGER_BYTES; it = it->next) n += it->len - it->off;
  return n < LINGER_BYTES;
}

/* Under mu: a kept item with room for `need` bytes (and not much more). */
static struct qitem *spare_take(struct grpc_sink *g, size_t need) {
  for (int i = 0; i < g->n_spare; i++)
    if (g->spare[i]->cap >= need && g->spare[i]->cap / 2 <= need) {
      struct qitem *it = g->spare[i];
      g->spare[i] = g->spare[--g->n_spare];
      return it;
    }
  return NULL;
}

/* An empty item with room for `need` bytes (kept or fresh), NULL on out-of-memory. */
static struct qitem *item_alloc(struct grpc_sink *g, size_t need) {
  struct qitem *it = NULL;
  if (need >= ITEM_SPARE_MIN) {
    pthread_mutex_lock(&g->mu);
    it = spare_take(g, need);
    pthread_mutex_unlock(&g->mu);
  }
  if (!it) {
    it = rr__malloc(sizeof *it + need);
    if (!it) return NULL;
    rr__populate(it->data, need);
    it->cap = need;
  }
  it->next = NULL;
  it->len = it->off = 0;
  it->n_msgs = 0;
  it->batch = false;
  it->ext = NULL;
  return it;
}

/* Appends one framed message (gRPC prefix + segments) to an item with room. */
static void item_append(struct qitem *it, const uint8_t *prefix, size_t pl, const struct iovec *seg, int nseg) {
  memcpy(it->data + it->len, prefix, pl);
  it->len += pl;
  for (int i = 0; i < nseg; i++) {
    if (seg[i].iov_len) memcpy(it->data + it->len, seg[i].iov_base, seg[i].iov_len);
    it->len += seg[i].iov_len;
  }
  it->n_msgs++;
}

/* Drops the oldest droppable items (not half sent, not store infos) until
 * `need` more bytes fit. Under mu. Returns how many messages were dropped. */
static uint64_t drop_oldest(struct grpc_sink *g, size_t need) {
  uint64_t n = 0;
  struct qitem **pp = &g->head, *prev = NULL;
  while (*pp && g->q_bytes + need > g->max_bytes) {
    struct qitem *it = *pp;
    if (it->off > 0 || it->kind == RR_MSG_SET_STORE_INFO) { prev = it; pp = &it->next; continue; }
    *pp = it->next;
    if (g->tail == it) g->tail = prev;
    g->q_bytes -= it->len;
    n += it->n_msgs;
    item_free(g, it);
  }
  return n;
}

/* Under mu: makes room for `need` more bytes by the stream's policy (block
 * with a timeout, then drop the oldest). Returns how many were dropped. */
static uint64_t make_room(struct grpc_sink *g, size_t need) {
  if (g->q_bytes + need <= g->max_bytes) return 0;
  /* A message larger than the bound is queued alone over it (the newest is
   * never dropped); dropping the others would not make it fit. */
  if (need > g->max_bytes) return 0;
  if (g->rec->policy == RR_BACKPRESSURE_BLOCK) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t dl = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + g->rec->block_timeout_ms * 1000000;
    ts.tv_sec = dl / 1000000000;
    ts.tv_nsec = dl % 1000000000;
    while (g->q_bytes + need > g->max_bytes && g->q_bytes > 0 && !g->stop)
      if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT) break;
  }
  return g->q_bytes + need > g->max_bytes ? drop_oldest(g, need) : 0;
}

/* Queues an item (a whole message, or a block of small ones) by the
 * stream's policy, with `info` the new SetStoreInfo copy if it is one. A
 * block that fits in the room left in the queue's last block (none of it
 * sent yet: it stays droppable) is appended to it instead, so that a
 * trickle of small messages queued while the connection is down takes as
 * much memory as its bytes, not a block each. */
static void queue_item(struct grpc_sink *g, struct qitem *it, struct qitem *info) {
  pthread_mutex_lock(&g->mu);
  uint64_t dropped = make_room(g, it->len);
  struct qitem *t = g->tail;
  if (it->batch && t && t->batch && t->off == 0 && t->cap - t->len >= it->len) {
    memcpy(t->data + t->len, it->data, it->len);
    t->len += it->len;
    t->n_msgs += it->n_msgs;
    g->q_bytes += it->len;
    item_free(g, it);
  } else {
    it->next = NULL;
    if (t) t->next = it;
    else g->head = it;
    g->tail = it;
    g->q_bytes += it->len;
  }
  g->idle = false;
  if (info) { rr__free(g->store_info); g->store_info = info; }
  bool wake = g->need_wake || (g->lingering && !little_queued(g));
  g->need_wake = false;
  if (wake) g->lingering = false;
  if (dropped) sink_log_drop(g, dropped, "the connection falls behind");
  pthread_mutex_unlock(&g->mu);
  if (wake) wake_io(g);
  if (dropped) count_dropped(g, dropped);
}

/* Queues the gathered small messages, if any. */
static void stage_publish(struct grpc_sink *g) {
  struct qitem *it = g->stage;
  if (!it) return;
  g->stage = NULL;
  queue_item(g, it, NULL);
}

/* Queues one message (its inner protobuf in segments, `n` bytes in all).
 * Small messages are gathered into blocks (one allocation, one queue item
 * and one lock for many; the I/O thread sends them in one frame); others
 * get an item of their own, as does every SetStoreInfo (never dropped, and
 * kept for reconnections). */
static int enqueue(struct grpc_sink *g, int kind, const struct iovec *seg, int nseg, size_t n, rr_error *err) {
  uint8_t prefix[32];
  int pl = rr_grpc_logmsg_prefix(prefix, kind, n);
  if (pl < 0) return rr__err(err, RR_ERANGE, "gRPC sink: message over 4 GiB");
  size_t need = (size_t)pl + n;
  if (need <= BATCH_MAX && kind != RR_MSG_SET_STORE_INFO) {
    if (g->stage && g->stage->len + need > g->stage_max) stage_publish(g);
    if (!g->stage) {
      struct qitem *it = item_alloc(g, BLOCK_BYTES);
      if (!it) return rr__err(err, RR_ENOMEM, "gRPC sink: out of memory");
      it->kind = kind;
      it->batch = true;
      g->stage = it;
    }
    item_append(g->stage, prefix, (size_t)pl, seg, nseg);
    if (g->stage->len >= g->stage_max) stage_publish(g);
    return RR_OK;
  }
  stage_publish(g); /* in order */
  struct qitem *it = item_alloc(g, need), *info = NULL;
  if (!it) return rr__err(err, RR_ENOMEM, "gRPC sink: out of memory");
  it->kind = kind;
  item_append(it, prefix, (size_t)pl, seg, nseg); /* copied outside the lock */
  if (kind == RR_MSG_SET_STORE_INFO) {
    info = item_alloc(g, need);
    if (!info) { rr__free(it); return rr__err(err, RR_ENOMEM, "gRPC sink: out of memory"); }
    info->kind = kind;
    item_append(info, prefix, (size_t)pl, seg, nseg);
  }
  queue_item(g, it, info);
  return RR_OK;
}

static void grpc_end_run(struct rr_sink *s) {
  stage_publish((struct grpc_sink *)s);
  reap((struct grpc_sink *)s);
}

static int grpc_write(struct rr_sink *s, const struct rr_msg *m, rr_error *err) {
  /* the one place that reads the message's bytes: copied into the queue
   * here, so borrowed parts need not outlive the call */
  struct grpc_sink *g = (struct grpc_sink *)s;
  struct iovec one;
  size_t n;
  const struct iovec *iov = rr__msg_iov(m, &one, &n);
  if (n > INT_MAX) return rr__err(err, RR_EINVAL, "gRPC sink: a message in too many parts");
  int rc = enqueue(g, m->kind, iov, (int)n, m->len, err);
  reap(g);
  return rc;
}

/* Queues m as it is, without a copy: the sink owns m and bufs (the
 * recording's buffers its parts point into) from now on, and gives the
 * buffers back once m is sent or dropped. */
static int grpc_adopt(struct rr_sink *s, struct rr_msg *m, const struct rr_spare *bufs, int n_bufs, rr_error *err) {
  struct grpc_sink *g = (struct grpc_sink *)s;
  struct iovec one;
  size_t n;
  const struct iovec *iov = rr__msg_iov(m, &one, &n);
  uint8_t prefix[32];
  int pl = rr_grpc_logmsg_prefix(prefix, m->kind, m->len);
  struct qitem *it = NULL;
  struct qext *x = NULL;
  if (pl > 0 && n <= INT_MAX - 1 && n_bufs <= RR_ADOPT_MAX_BUFS && (it = rr__malloc(sizeof *it + (size_t)pl)))
    x = rr__malloc(sizeof *x + (n + 1) * sizeof *x->iov);
  if (!x) {
    /* as write() would have it: a copy (or its error) */
    rr__free(it);
    int rc = grpc_write(s, m, err);
    rr__recording_recycle(g->rec, bufs, n_bufs);
    rr__msg_free(m);
    return rc;
  }
  memcpy(it->data, prefix, (size_t)pl);
  x->iov[0] = (struct iovec){it->data, (size_t)pl};
  memcpy(x->iov + 1, iov, n * sizeof *iov);
  x->n_iov = (int)n + 1;
  x->m = m;
  memcpy(x->bufs, bufs, (size_t)n_bufs * sizeof *bufs);
  x->n_bufs = n_bufs;
  *it = (struct qitem){.kind = m->kind, .n_msgs = 1, .len = (size_t)pl + m->len, .cap = (size_t)pl, .ext = x};
  stage_publish(g); /* in order */
  queue_item(g, it, NULL);
  reap(g);
  return RR_OK;
}

/* A block's messages not wholly handed to nghttp2 yet (below off), and
 * where the first of them starts. */
static uint32_t block_unsent(const struct qitem *it, size_t *start) {
  size_t pos = 0;
  uint32_t sent = 0;
  while (pos + 5 <= it->off) {
    const uint8_t *h = it->data + pos;
    size_t flen = 5 + ((size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4]);
    if (pos + flen > it->off) break;
    pos += flen;
    sent++;
  }
  *start = pos;
  return it->n_msgs - sent;
}

static int64_t mono_ms(void) { return rr__mono_ns() / 1000000; }

static int wait_idle(struct grpc_sink *g, double timeout_sec) {
  int rc = RR_OK;
  pthread_mutex_lock(&g->mu);
  uint64_t last = g->progress;
  int64_t deadline = timeout_sec < 0 ? INT64_MAX : mono_ms() + (int64_t)(timeout_sec * 1000);
  while (!(g->head == NULL && g->idle)) {
    if (g->need_wake) { g->need_wake = false; wake_io(g); }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 20 * 1000000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    if (g->progress != last) {
      last = g->progress;
      if (timeout_sec >= 0) deadline = mono_ms() + (int64_t)(timeout_sec * 1000);
    } else if (mono_ms() >= deadline) {
      rc = RR_ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock(&g->mu);
  return rc;
}

static int grpc_flush(struct rr_sink *s, rr_error *err) {
  struct grpc_sink *g = (struct grpc_sink *)s;
  stage_publish(g);
  int rc = wait_idle(g, g->flush_timeout);
  if (rc < 0)
    return rr__err(err, rc, "gRPC sink: flush made no progress for %.1f s (server %s:%d unreachable or stalled)",
                   g->flush_timeout, g->url.host, g->url.port);
  return RR_OK;
}

static void grpc_close(struct rr_sink *s) {
  struct grpc_sink *g = (struct grpc_sink *)s;
  stage_publish(g);
  if (g->thread_started) {
    if (wait_idle(g, g->flush_timeout) < 0)
      rr__log(RR_LOG_WARN, "gRPC sink: closing with data still queued for %s:%d (flush timeout)", g->url.host, g->url.port);
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    wake_io(g);
    pthread_join(g->thread, NULL);
  }
  uint64_t left = 0;
  while (g->head) {
    struct qitem *it = g->head;
    g->head = it->next;
    size_t start;
    if (it->batch) left += block_unsent(it, &start); /* small messages: chunks, perhaps a blueprint activation */
    else if (it->kind == RR_MSG_ARROW) left++;
    item_destroy(g, it);
  }
  reap(g);
  if (left) {
    sink_log_drop(g, left, "closed before the server got them");
    count_dropped(g, left);
  }
  rr__free(g->store_info);
  for (int i = 0; i < g->n_spare; i++) item_destroy(g, g->spare[i]);
  close(g->wake[0]);
  close(g->wake[1]);
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  rr__free(g);
}

/* ---- I/O thread: HTTP/2 client ----------------------------------------------------------- */

/* Messages of at least this many bytes go out as DATA frames of their own,
 * not copied into nghttp2's buffer; smaller ones are copied together into
 * one frame (one send for many small messages). */
#define NO_COPY_MIN (64u << 10)

static ssize_t data_read_cb(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                            nghttp2_data_source *src, void *ud) {
  struct grpc_sink *g = ud;
  size_t o = 0;
  uint64_t freed = 0;
  pthread_mutex_lock(&g->mu);
  if (g->turn_frames > 0 && !g->stop && little_queued(g) && !(g->head && g->head->off && !g->head->batch)) {
    /* what came in while this turn's frames were sent waits for the next
     * turn (after the linger) instead of a frame and a send of its own each;
     * never the rest of a message already under way */
    g->deferred = true;
    g->need_wake = true;
    pthread_mutex_unlock(&g->mu);
    return NGHTTP2_ERR_DEFERRED;
  }
  if (g->head && g->head->len - g->head->off >= NO_COPY_MIN && !g->nc_item) {
    struct qitem *it = g->head;
    size_t k = it->len - it->off;
    if (k > length) k = length;
    g->nc_item = it;
    g->nc_off = it->off;
    g->nc_len = k;
    it->off += k; /* half sent: never dropped */
    g->nc_last = it->off == it->len;
    if (g->nc_last) {
      g->head = it->next;
      if (!g->head) g->tail = NULL;
      g->q_bytes -= it->len;
      g->progress += it->len;
      pthread_cond_broadcast(&g->cv);
    }
    g->turn_frames++;
    pthread_mutex_unlock(&g->mu);
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    return (ssize_t)k;
  }
  while (o < length && g->head) {
    struct qitem *it = g->head;
    size_t k = it->len - it->off;
    if (k >= NO_COPY_MIN) break; /* goes out in frames of its own, next time */
    if (k > length - o) k = length - o;
    item_copy(it, it->off, buf + o, k);
    it->off += k;
    o += k;
    if (it->off == it->len) {
      g->head = it->next;
      if (!g->head) g->tail = NULL;
      g->q_bytes -= it->len;
      freed += it->len;
      /* its earlier bytes may still wait as a view (pv): freed after them */
      if (it == g->pv_item) g->pv_free = true;
      else item_free(g, it);
    }
  }
  if (freed) { g->progress += freed; pthread_cond_broadcast(&g->cv); }
  if (o == 0) {
    if (g->stop) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      g->ended = true;
      pthread_mutex_unlock(&g->mu);
      return 0;
    }
    g->deferred = true;
    g->need_wake = true;
    pthread_mutex_unlock(&g->mu);
    return NGHTTP2_ERR_DEFERRED;
  }
  g->turn_frames++;
  pthread_mutex_unlock(&g->mu);
  return (ssize_t)o;
}

/* DATA frames up to the peer's frame size and window (nghttp2's default is 16 KiB). */
static ssize_t read_length_cb(nghttp2_session *session, uint8_t frame_type, int32_t stream_id,
                              int32_t session_window, int32_t stream_window, uint32_t max_frame, void *ud) {
  ssize_t n = (ssize_t)max_frame;
  if (session_window < n) n = session_window;
  if (stream_window < n) n = stream_window;
  return n > 0 ? n : 1;
}

/* Queues the unsent part of bufs in pend. */
static int pend_add(struct grpc_sink *g, const struct iovec *v, int nv, size_t done) {
  for (int i = 0; i < nv; i++) {
    size_t k = done < v[i].iov_len ? done : v[i].iov_len;
    done -= k;
    if (v[i].iov_len > k && rr_buf_append(&g->pend, (const uint8_t *)v[i].iov_base + k, v[i].iov_len - k) < 0) return -1;
  }
  return 0;
}

/* Sends the buffers now if nothing is pending; returns the bytes the socket
 * took (0 if something is pending or the socket is full), -1 on a socket error. */
static ssize_t out_try(struct grpc_sink *g, const struct iovec *v, int nv) {
  if (g->pend.len != g->pend_off || g->pv_n) return 0;
  struct msghdr mh = {.msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)nv};
  for (;;) {
    ssize_t w = sendmsg(g->fd, &mh, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    return w > 0 ? w : 0;
  }
}

/* Writes the buffers now if nothing is pending, the rest into pend.
 * NGHTTP2_ERR_WOULDBLOCK (nothing taken) when pend is full or a view is
 * pending (bytes queued now would go out before it), else 0 or
 * NGHTTP2_ERR_CALLBACK_FAILURE on a socket error. */
static int out_write(struct grpc_sink *g, const struct iovec *v, int nv) {
  if (g->pend.len - g->pend_off >= PEND_MAX || g->pv_n) return NGHTTP2_ERR_WOULDBLOCK;
  ssize_t done = out_try(g, v, nv);
  if (done < 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return pend_add(g, v, nv, (size_t)done) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *ud) {
  struct iovec v = {(void *)data, length};
  int r = out_write(ud, &v, 1);
  return r < 0 ? r : (ssize_t)length;
}

/* Under no lock: gives a sent item back (kept for reuse or freed). */
static void item_release(struct grpc_sink *g, struct qitem *it) {
  if (it->ext) { ext_release(g, it); return; }
  pthread_mutex_lock(&g->mu);
  item_free(g, it);
  pthread_mutex_unlock(&g->mu);
}

static int send_data_cb(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *ud) {
  struct grpc_sink *g = ud;
  if (!g->nc_item || length != g->nc_len) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (g->pv_n) return NGHTTP2_ERR_WOULDBLOCK; /* one view at a time; called again later */
  struct iovec v[64] = {{(void *)framehd, 9}};
  int nv = 1 + item_iov(g->nc_item, g->nc_off, length, v + 1, 63);
  ssize_t done = out_try(g, v, nv);
  if (done < 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  size_t d = (size_t)done;
  if (pend_add(g, v, 1, d) < 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  d = d > 9 ? d - 9 : 0;
  if (d < length) {
    /* the rest waits as a view of the item: no copy */
    g->pv_item = g->nc_item;
    g->pv_off = g->nc_off + d;
    g->pv_n = length - d;
    g->pv_free = g->nc_last;
  } else if (g->nc_last) {
    item_release(g, g->nc_item);
  }
  g->nc_item = NULL;
  return 0;
}

static int on_header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
  if (namelen == 11 && !memcmp(name, "grpc-status", 11) && !(valuelen == 1 && value[0] == '0'))
    rr__log(RR_LOG_WARN, "gRPC sink: server ended WriteMessages with grpc-status %.*s", (int)valuelen, value);
  if (namelen == 7 && !memcmp(name, ":status", 7) && !(valuelen == 3 && !memcmp(value, "200", 3)))
    rr__log(RR_LOG_WARN, "gRPC sink: server answered HTTP %.*s", (int)valuelen, value);
  return 0;
}

static int on_stream_close_cb(nghttp2_session *session, int32_t id, uint32_t code, void *ud) {
  struct grpc_sink *g = ud;
  if (id == g->stream) g->stream_closed = true;
  return 0;
}

static int connect_to(const rr_proxy_url *u, int timeout_ms) {
  char port[16];
  snprintf(port, sizeof port, "%d", u->port);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(u->host, port, &hints, &res) != 0) return -1;
  int fd = -1;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int r = connect(fd, a->ai_addr, a->ai_addrlen);
    if (r < 0 && errno == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) r = 0;
    }
    if (r < 0) { close(fd); fd = -1; }
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

static int session_start(struct grpc_sink *g) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb)) return -1;
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close_cb);
  nghttp2_session_callbacks_set_send_callback(cb, send_cb);
  nghttp2_session_callbacks_set_send_data_callback(cb, send_data_cb);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb, read_length_cb);
  int r = nghttp2_session_client_new(&g->h2, cb, g);
  nghttp2_session_callbacks_del(cb);
  if (r) return -1;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
                                 {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1 << 20}};
  nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, iv, 3);
  nghttp2_nv h[] = {
      {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
      {(uint8_t *)":authority", (uint8_t *)g->authority, 10, strlen(g->authority), 0},
      {(uint8_t *)":path", (uint8_t *)RR_GRPC_PATH_PREFIX "WriteMessages", 5, strlen(RR_GRPC_PATH_PREFIX "WriteMessages"), 0},
      {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
      {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0},
      {(uint8_t *)"user-agent", (uint8_t *)"rerun-c/" RR_VERSION_STRING, 10, strlen("rerun-c/" RR_VERSION_STRING), 0},
  };
  nghttp2_data_provider dp = {.source.ptr = g, .read_callback = data_read_cb};
  g->stream = nghttp2_submit_request(g->h2, NULL, h, sizeof h / sizeof *h, &dp, NULL);
  if (g->stream < 0) return -1;
  g->stream_closed = g->ended = g->deferred = false;
  return 0;
}

/* Sends pend, then more from nghttp2 (which writes through send_cb and
 * send_data_cb, keeping what the socket does not take in pend), until the
 * socket is full or nothing is left. Returns -1 on a socket error. */
static int pump_out(struct grpc_sink *g) {
  while (g->pend.len > g->pend_off) {
    ssize_t w = send(g->fd, g->pend.data + g->pend_off, g->pend.len - g->pend_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    g->pend_off += (size_t)w;
  }
  if (g->pend.len == g->pend_off) { rr_buf_reset(&g->pend); g->pend_off = 0; }
  if (g->pend.len - g->pend_off >= PEND_MAX) return 0;
  while (g->pend.len == g->pend_off && g->pv_n) {
    struct iovec v[64];
    struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)item_iov(g->pv_item, g->pv_off, g->pv_n, v, 64)};
    ssize_t w = sendmsg(g->fd, &mh, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    g->pv_off += (size_t)w;
    g->pv_n -= (size_t)w;
    if (!g->pv_n) {
      if (g->pv_free) item_release(g, g->pv_item);
      g->pv_item = NULL;
    }
  }
  if (g->pv_n) return 0;
  return nghttp2_session_send(g->h2) < 0 ? -1 : 0;
}

static void conn_reset(struct grpc_sink *g) {
  if (g->h2) { nghttp2_session_del(g->h2); g->h2 = NULL; }
  if (g->fd >= 0) { close(g->fd); g->fd = -1; }
  if (g->nc_item && g->nc_last) item_destroy(g, g->nc_item); /* nghttp2 had taken it all (as a copy would have been) */
  g->nc_item = NULL;
  if (g->pv_item && g->pv_free) item_destroy(g, g->pv_item);
  g->pv_item = NULL;
  g->pv_n = 0;
  rr_buf_reset(&g->pend);
  g->pend_off = 0;
}

/* New connection: a half-sent message is sent again whole; after the first
 * connection the last SetStoreInfo goes first. */
static void requeue_for_new_connection(struct grpc_sink *g) {
  pthread_mutex_lock(&g->mu);
  struct qitem *h = g->head;
  if (h && h->batch) {
    block_unsent(h, &h->off); /* from the start of the message nghttp2 had not wholly taken */
  } else if (h) {
    h->off = 0;
  }
  if (g->conn_no > 1 && g->store_info && !(g->head && g->head->kind == RR_MSG_SET_STORE_INFO)) {
    struct qitem *c = rr__malloc(sizeof *c + g->store_info->len);
    if (c) {
      memcpy(c, g->store_info, sizeof *c + g->store_info->len);
      c->batch = false;
      c->n_msgs = 1;
      c->cap = g->store_info->len;
      c->off = 0;
      c->next = g->head;
      g->head = c;
      if (!g->tail) g->tail = c;
      g->q_bytes += c->len;
    }
  }
  pthread_mutex_unlock(&g->mu);
}

/* Waits ms (or until stop). Returns true if stopping. */
static bool backoff_wait(struct grpc_sink *g, int ms) {
  int64_t end = mono_ms() + ms;
  for (;;) {
    pthread_mutex_lock(&g->mu);
    bool stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    if (stop) return true;
    int64_t left = end - mono_ms();
    if (left <= 0) return false;
    struct pollfd p = {g->wake[0], POLLIN, 0};
    if (poll(&p, 1, (int)(left < 50 ? left : 50)) > 0) {
      char buf[64];
      while (read(g->wake[0], buf, sizeof buf) > 0) {}
    }
  }
}

static void *io_main(void *arg) {
  struct grpc_sink *g = arg;
#if defined(__linux__)
  pthread_setname_np(pthread_self(), "rr-grpc-sink"); /* for top -H, perf, per-thread CPU */
#endif
  int backoff = 100;
  bool warned = false;
  for (;;) {
    pthread_mutex_lock(&g->mu);
    bool stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    if (stop) break; /* never connected in time: close() counts what is left */
    g->fd = connect_to(&g->url, 1000);
    if (g->fd < 0) {
      if (!warned) {
        rr__log(RR_LOG_INFO, "gRPC sink: cannot connect to %s:%d yet; buffering and retrying", g->url.host, g->url.port);
        warned = true;
      }
      if (backoff_wait(g, backoff)) break;
      backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
      continue;
    }
    g->conn_no++;
    if (g->conn_no > 1) rr__log(RR_LOG_WARN, "gRPC sink: reconnected to %s:%d", g->url.host, g->url.port);
    backoff = 100;
    warned = false;
    requeue_for_new_connection(g);
    if (session_start(g) < 0) { conn_reset(g); backoff_wait(g, backoff); continue; }
    const char *why = NULL;
    int64_t stop_deadline = 0;
    uint8_t rbuf[65536];
    for (;;) {
      pthread_mutex_lock(&g->mu);
      stop = g->stop;
      bool have = g->head != NULL;
      if (g->deferred && (have || stop)) { g->deferred = false; g->need_wake = false; nghttp2_session_resume_data(g->h2, g->stream); }
      g->turn_frames = 0;
      pthread_mutex_unlock(&g->mu);
      if (stop && !stop_deadline) stop_deadline = mono_ms() + 2000;
      if (pump_out(g) < 0) { why = "write failed"; break; }
      reap(g);
      pthread_mutex_lock(&g->mu);
      bool idle = !g->head && g->pend.len == g->pend_off && !g->pv_n && !nghttp2_session_want_write(g->h2);
      if (idle != g->idle) { g->idle = idle; pthread_cond_broadcast(&g->cv); }
      /* All sent. If messages are streaming in (this turn sent some), linger
       * up to 1 ms unwoken (or until 64 KiB are queued) so that the next ones
       * go out together: one wakeup and one write for many small messages,
       * here and in the server and its readers. Otherwise the next write
       * wakes this thread at once. */
      bool linger = g->deferred && g->turn_frames > 0 && little_queued(g) && !g->stop;
      if (g->deferred) g->need_wake = !linger; /* data_read_cb asked for a wake: not while lingering */
      g->lingering = linger;
      pthread_mutex_unlock(&g->mu);
      if (g->stream_closed) { if (!g->ended) why = "the server ended the call"; break; }
      if (stop_deadline && mono_ms() > stop_deadline) break;
      struct pollfd p[2] = {{g->fd, POLLIN | (g->pend.len > g->pend_off || g->pv_n ? POLLOUT : 0), 0}, {g->wake[0], POLLIN, 0}};
      struct timespec tmo = {0, linger ? LINGER_NS : 100000000};
      int r = ppoll(p, 2, &tmo, NULL);
      if (r < 0 && errno != EINTR) { why = "poll failed"; break; }
      if (p[1].revents & POLLIN) {
        char buf[256];
        while (read(g->wake[0], buf, sizeof buf) > 0) {}
      }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = recv(g->fd, rbuf, sizeof rbuf, 0);
        if (n == 0) { why = "connection closed by the server"; break; }
        if (n < 0 && errno != EAGAIN && errno != EINTR) { why = strerror(errno); break; }
        if (n > 0 && nghttp2_session_mem_recv(g->h2, rbuf, (size_t)n) < 0) { why = "HTTP/2 protocol error"; break; }
      }
    }
    bool done = g->ended && g->stream_closed;
    conn_reset(g);
    pthread_mutex_lock(&g->mu);
    stop = g->stop;
    g->idle = false;
    pthread_mutex_unlock(&g->mu);
    if (why && !stop) rr__log(RR_LOG_WARN, "gRPC sink: connection to %s:%d lost (%s); reconnecting", g->url.host, g->url.port, why);
    if (done || stop) break;
    if (backoff_wait(g, backoff)) break;
  }
  pthread_mutex_lock(&g->mu);
  g->idle = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  rr_buf_free(&g->pend);
  return NULL;
}

/* ---- public ---------------------------------------------------------------------------------- */

int rr__sink_grpc_new(struct rr_sink **out, rr_recording *rec, const char *url, const rr_grpc_options *opts,
                      rr_error *err) {
  if (!url) url = RR_DEFAULT_CONNECT_URL;
  rr_proxy_url u;
  RR_TRY(rr_proxy_url_parse(url, &u, err));
  if (u.tls) return rr__err(err, RR_EUNSUPPORTED, "'%s': TLS (https) is not supported by this build", url);
  struct grpc_sink *g = rr__calloc(1, sizeof *g);
  if (!g) return rr__err(err, RR_ENOMEM, "out of memory");
  g->base = (struct rr_sink){.name = "grpc", .write = grpc_write, .flush = grpc_flush, .close = grpc_close,
                             .end_run = grpc_end_run, .adopt = grpc_adopt,
                             .default_flush_tick_ns = RR_LIVE_FLUSH_TICK_NS};
  g->rec = rec;
  g->url = u;
  g->fd = -1;
  bool v6 = strchr(u.host, ':') != NULL;
  snprintf(g->authority, sizeof g->authority, "%s%s%s:%d", v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
  g->flush_timeout = opts && opts->flush_timeout_sec != 0 ? opts->flush_timeout_sec : RR_LIVE_FLUSH_TIMEOUT_SEC;
  g->max_bytes = rec->max_in_flight > 0 ? (size_t)rec->max_in_flight : (size_t)RR_LIVE_QUEUE_BYTES;
  g->stage_max = g->max_bytes / 8 < BLOCK_BYTES ? g->max_bytes / 8 : BLOCK_BYTES;
  g->idle = true;
  if (pipe2(g->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
    rr__free(g);
    return rr__err(err, RR_EIO, "gRPC sink: pipe: %s", strerror(errno));
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&g->mu, NULL);
  if (pthread_create(&g->thread, NULL, io_main, g) != 0) {
    grpc_close(&g->base);
    return rr__err(err, RR_ENOMEM, "gRPC sink: cannot start its thread");
  }
  g->thread_started = true;
  *out = &g->base;
  return RR_OK;
}

int rr_recording_connect_grpc_opts(rr_recording *rec, const char *url, const rr_grpc_options *opts, rr_error *err) {
  RR_TRY(rr__resolve(&rec));
  if (!rec->enabled) return RR_OK;
  struct rr_sink *s = NULL;
  RR_TRY(rr__sink_grpc_new(&s, rec, url, opts, err));
  return rr__set_sink(rec, s);
}

int rr_recording_connect_grpc(rr_recording *rec, const char *url, rr_error *err) {
  return rr_recording_connect_grpc_opts(rec, url, NULL, err);
}

int rr_recording_disconnect(rr_recording *rec) {
  RR_TRY(rr__resolve(&rec));
  return rr__set_sink(rec, NULL);
}
