/* The broker: history with the memory limit, readers with snapshots and
 * live queues. No I/O; the loop thread only. See server_internal.h. */
#include <string.h>

#include "net/rr_net.h"
#include "server_internal.h"

/* ---- messages ------------------------------------------------------------------ */

int rr__srv_category(const rr_log_msg *m) {
  if (m->kind != RR_MSG_ARROW) return SRV_PERSISTENT;
  if (m->store_id.kind == RR_STORE_KIND_BLUEPRINT) return SRV_PERSISTENT;
  if (m->arrow.has_is_static && m->arrow.is_static) return SRV_STATIC;
  return SRV_DISPOSABLE;
}

srv_msg *rr__srv_msg_from_log_msg(const rr_log_msg *lm) {
  uint8_t prefix[32];
  int pl = rr_grpc_logmsg_prefix(prefix, lm->kind, lm->proto.len);
  if (pl < 0) return NULL;
  srv_msg *m = rr__malloc(sizeof *m + (size_t)pl + lm->proto.len);
  if (!m) return NULL;
  m->refs = 0;
  m->cat = (uint8_t)rr__srv_category(lm);
  m->kind = (uint8_t)lm->kind;
  m->inner_off = (uint32_t)pl;
  m->len = (size_t)pl + lm->proto.len;
  memcpy(m->data, prefix, (size_t)pl);
  if (lm->proto.len) memcpy(m->data + pl, lm->proto.ptr, lm->proto.len);
  return m;
}

void rr__srv_msg_unref(srv_broker *b, srv_msg *m) {
  if (--m->refs == 0) {
    b->live_bytes -= m->len;
    rr__free(m);
  }
}

/* ---- deque ---------------------------------------------------------------------- */

static int dq_push(srv_deque *d, srv_msg *m) {
  if (d->n == d->cap) {
    size_t nc = d->cap ? d->cap * 2 : 64;
    srv_msg **v = rr__malloc(nc * sizeof *v);
    if (!v) return RR_ENOMEM;
    for (size_t i = 0; i < d->n; i++) v[i] = d->v[(d->head + i) % d->cap];
    rr__free(d->v);
    d->v = v;
    d->cap = nc;
    d->head = 0;
  }
  d->v[(d->head + d->n) % d->cap] = m;
  d->n++;
  return RR_OK;
}

static srv_msg *dq_at(const srv_deque *d, size_t i) { return d->v[(d->head + i) % d->cap]; }

static srv_msg *dq_pop(srv_deque *d) {
  if (!d->n) return NULL;
  srv_msg *m = d->v[d->head];
  d->head = (d->head + 1) % d->cap;
  d->n--;
  return m;
}

static void dq_clear(srv_broker *b, srv_deque *d) {
  srv_msg *m;
  while ((m = dq_pop(d))) rr__srv_msg_unref(b, m);
  rr__free(d->v);
  memset(d, 0, sizeof *d);
}

/* ---- broker ---------------------------------------------------------------------- */

void rr__srv_broker_init(srv_broker *b, uint64_t limit, uint64_t reader_max) {
  memset(b, 0, sizeof *b);
  b->limit = limit;
  b->reader_max = reader_max;
}

void rr__srv_broker_free(srv_broker *b) {
  while (b->readers) rr__srv_reader_detach(b->readers);
  for (int i = 0; i < 3; i++) dq_clear(b, &b->hist[i]);
  b->hist_bytes = 0;
}

static size_t enforce_limit(srv_broker *b) {
  size_t dropped = 0;
  while (b->hist_bytes > b->limit) {
    srv_deque *d = b->hist[SRV_DISPOSABLE].n ? &b->hist[SRV_DISPOSABLE]
                   : b->hist[SRV_STATIC].n ? &b->hist[SRV_STATIC] : NULL;
    if (!d) {
      if (!b->warned_persistent) {
        rr__log(RR_LOG_WARN, "server: store infos and blueprints alone exceed the memory limit (%llu bytes); they are kept",
                (unsigned long long)b->limit);
        b->warned_persistent = true;
      }
      break;
    }
    srv_msg *m = dq_pop(d);
    b->hist_bytes -= m->len;
    b->dropped_msgs++;
    b->dropped_bytes += m->len;
    dropped++;
    rr__srv_msg_unref(b, m);
  }
  return dropped;
}

size_t rr__srv_broker_publish(srv_broker *b, srv_msg *m) {
  m->refs = 1; /* held by this call */
  b->live_bytes += m->len;
  size_t dropped = 0;
  if (b->limit > 0) {
    if (dq_push(&b->hist[m->cat], m) == RR_OK) {
      m->refs++;
      b->hist_bytes += m->len;
      dropped = enforce_limit(b);
    }
  }
  for (srv_reader *r = b->readers; r; r = r->next) {
    if (r->overflow) continue;
    if (dq_push(&r->live, m) < 0) { r->overflow = true; }
    else {
      m->refs++;
      r->live_bytes += m->len;
      if (r->live_bytes > b->reader_max) r->overflow = true;
    }
    if (r->notify) r->notify(r);
  }
  rr__srv_msg_unref(b, m);
  return dropped;
}

/* ---- readers ----------------------------------------------------------------------- */

int rr__srv_reader_attach(srv_broker *b, srv_reader *r) {
  size_t n = b->hist[0].n + b->hist[1].n + b->hist[2].n;
  r->b = b;
  r->snap = NULL;
  r->snap_n = r->snap_i = 0;
  memset(&r->live, 0, sizeof r->live);
  r->live_bytes = 0;
  r->off = 0;
  r->overflow = false;
  if (n) {
    r->snap = rr__malloc(n * sizeof *r->snap);
    if (!r->snap) return RR_ENOMEM;
    for (int c = 0; c < 3; c++)
      for (size_t i = 0; i < b->hist[c].n; i++) {
        srv_msg *m = dq_at(&b->hist[c], i);
        m->refs++;
        r->snap[r->snap_n++] = m;
      }
  }
  r->prev = NULL;
  r->next = b->readers;
  if (b->readers) b->readers->prev = r;
  b->readers = r;
  b->n_readers++;
  return RR_OK;
}

void rr__srv_reader_detach(srv_reader *r) {
  srv_broker *b = r->b;
  if (!b) return;
  for (size_t i = r->snap_i; i < r->snap_n; i++) rr__srv_msg_unref(b, r->snap[i]);
  rr__free(r->snap);
  r->snap = NULL;
  r->snap_n = r->snap_i = 0;
  dq_clear(b, &r->live);
  r->live_bytes = 0;
  if (r->prev) r->prev->next = r->next;
  else b->readers = r->next;
  if (r->next) r->next->prev = r->prev;
  r->next = r->prev = NULL;
  r->b = NULL;
  b->n_readers--;
}

static srv_msg *reader_cur(const srv_reader *r) {
  if (r->snap_i < r->snap_n) return r->snap[r->snap_i];
  if (r->live.n) return dq_at(&r->live, 0);
  return NULL;
}

bool rr__srv_reader_empty(const srv_reader *r) { return reader_cur(r) == NULL; }

const uint8_t *rr__srv_reader_peek(srv_reader *r, size_t *len) {
  srv_msg *m = reader_cur(r);
  if (!m) { *len = 0; return NULL; }
  *len = m->len - r->off;
  return m->data + r->off;
}

void rr__srv_reader_consume(srv_reader *r, size_t n) {
  while (n > 0) {
    srv_msg *m = reader_cur(r);
    if (!m) return;
    size_t left = m->len - r->off;
    if (n < left) { r->off += n; return; }
    n -= left;
    r->off = 0;
    if (r->snap_i < r->snap_n) {
      r->snap[r->snap_i++] = NULL;
      if (r->snap_i == r->snap_n) { rr__free(r->snap); r->snap = NULL; r->snap_n = r->snap_i = 0; }
    } else {
      dq_pop(&r->live);
      r->live_bytes -= m->len;
    }
    rr__srv_msg_unref(r->b, m);
  }
}
