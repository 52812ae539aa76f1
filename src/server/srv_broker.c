/* The broker: history with the memory limit, readers with snapshots and
 * live queues. No I/O; the loop thread only. See server_internal.h. */
#include <string.h>
#if defined(__linux__)
#endif

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
  m->cap = (size_t)pl + lm->proto.len;
  m->refs = 0;
  m->cat = (uint8_t)rr__srv_category(lm);
  m->kind = (uint8_t)lm->kind;
  m->inner_off = (uint32_t)pl;
  m->len = (size_t)pl + lm->proto.len;
  memcpy(m->data, prefix, (size_t)pl);
  if (lm->proto.len) memcpy(m->data + pl, lm->proto.ptr, lm->proto.len);
  return m;
}

srv_msg *rr__srv_msg_new(int kind, int cat, const uint8_t *inner, size_t n) {
  uint8_t prefix[32];
  int pl = rr_grpc_logmsg_prefix(prefix, kind, n);
  if (pl < 0) return NULL;
  srv_msg *m = rr__malloc(sizeof *m + (size_t)pl + n);
  if (!m) return NULL;
  m->cap = (size_t)pl + n;
  m->refs = 0;
  m->cat = (uint8_t)cat;
  m->kind = (uint8_t)kind;
  m->inner_off = (uint32_t)pl;
  m->len = (size_t)pl + n;
  memcpy(m->data, prefix, (size_t)pl);
  if (n) memcpy(m->data + pl, inner, n);
  return m;
}

/* ---- cheap LogMsg validation -------------------------------------------------------- */

/* One protobuf field: number, wire type, varint value or length-delimited view. */
typedef struct pb_field {
  uint32_t num, wt;
  uint64_t v;
  const uint8_t *p;
  size_t n;
} pb_field;

static int pb_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *i < n; shift += 7) {
    uint8_t b = p[(*i)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return RR_OK;
  }
  return RR_ECORRUPT;
}

/* Reads the field at *i. RR_ECORRUPT if malformed (truncated, bad wire type, field 0). */
static int pb_next(const uint8_t *p, size_t n, size_t *i, pb_field *f) {
  uint64_t key;
  if (pb_varint(p, n, i, &key) < 0) return RR_ECORRUPT;
  f->num = (uint32_t)(key >> 3);
  f->wt = (uint32_t)(key & 7);
  if (f->num == 0 || key >> 32) return RR_ECORRUPT;
  f->p = NULL;
  f->n = 0;
  f->v = 0;
  switch (f->wt) {
  case 0: return pb_varint(p, n, i, &f->v);
  case 1: if (n - *i < 8) return RR_ECORRUPT; *i += 8; return RR_OK;
  case 5: if (n - *i < 4) return RR_ECORRUPT; *i += 4; return RR_OK;
  case 2:
    if (pb_varint(p, n, i, &f->v) < 0 || f->v > n - *i) return RR_ECORRUPT;
    f->p = p + *i;
    f->n = (size_t)f->v;
    *i += f->n;
    return RR_OK;
  default: return RR_ECORRUPT;
  }
}

/* A known field must have its declared wire type. */
#define PB_WANT(f, w, what) \
  do { if ((f).wt != (w)) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf: %s has wire type %u", what, (unsigned)(f).wt); } while (0)

static int check_utf8_field(const pb_field *f, const char *what, rr_error *err) {
  /* the full decoder reads strings up to a NUL, as C strings */
  const uint8_t *z = memchr(f->p, 0, f->n);
  size_t len = z ? (size_t)(z - f->p) : f->n;
  if (!rr__utf8_valid((const char *)f->p, len)) return rr__err(err, RR_ECORRUPT, "%s is not valid UTF-8", what);
  return RR_OK;
}

/* StoreId {kind = 1; recording_id = 2; application_id = 3 {id = 1}}. */
static int check_store_id(const uint8_t *p, size_t n, bool *blueprint, rr_error *err) {
  size_t i = 0;
  pb_field f;
  *blueprint = false;
  while (i < n) {
    if (pb_next(p, n, &i, &f) < 0) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf: bad store_id");
    if (f.num == 1) { PB_WANT(f, 0, "store_id.kind"); *blueprint = f.v == 2; }
    else if (f.num == 2) { PB_WANT(f, 2, "store_id.recording_id"); RR_TRY(check_utf8_field(&f, "recording id", err)); }
    else if (f.num == 3) {
      PB_WANT(f, 2, "store_id.application_id");
      size_t j = 0;
      pb_field g;
      while (j < f.n) {
        if (pb_next(f.p, f.n, &j, &g) < 0) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf: bad application_id");
        if (g.num == 1) { PB_WANT(g, 2, "application_id.id"); RR_TRY(check_utf8_field(&g, "application id", err)); }
      }
    }
  }
  return RR_OK;
}

static int check_arrow(const uint8_t *p, size_t n, int *cat, rr_error *err) {
  size_t i = 0;
  pb_field f;
  bool has_store = false, blueprint = false, is_static = false;
  uint64_t compression = 0, usize = 0, encoding = 0;
  size_t clen = 0;
  while (i < n) {
    if (pb_next(p, n, &i, &f) < 0) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf");
    switch (f.num) {
    case 1: PB_WANT(f, 2, "store_id"); RR_TRY(check_store_id(f.p, f.n, &blueprint, err)); has_store = true; break;
    case 2: PB_WANT(f, 0, "compression"); compression = f.v; break;
    case 3: PB_WANT(f, 0, "uncompressed_size"); usize = f.v; break;
    case 4: PB_WANT(f, 0, "encoding"); encoding = f.v; break;
    case 5: PB_WANT(f, 2, "payload"); clen = f.n; break;
    case 6: {
      PB_WANT(f, 2, "chunk_id");
      size_t j = 0;
      pb_field g;
      while (j < f.n) {
        if (pb_next(f.p, f.n, &j, &g) < 0) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf: bad chunk_id");
        if ((g.num == 1 || g.num == 2) && g.wt != 1) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf: bad chunk_id");
      }
      break;
    }
    case 7: PB_WANT(f, 0, "is_static"); is_static = f.v != 0; break;
    default: break; /* unknown fields are skipped, as protobuf does */
    }
  }
  bool lz4 = compression == 2;
  uint64_t ulen = lz4 ? usize : (uint64_t)clen;
  if (!has_store) return rr__err(err, RR_ECORRUPT, "ArrowMsg: missing store_id");
  if (encoding != 1)
    return rr__err(err, RR_EUNSUPPORTED, "ArrowMsg: unsupported encoding %llu, expected Arrow IPC (1)", (unsigned long long)encoding);
  if (ulen > RR_RRD_DEFAULT_MAX_UNCOMPRESSED_SIZE)
    return rr__err(err, RR_ERANGE, "ArrowMsg: uncompressed size %llu exceeds the limit of %llu bytes",
                   (unsigned long long)ulen, (unsigned long long)RR_RRD_DEFAULT_MAX_UNCOMPRESSED_SIZE);
  /* LZ4 expands at most 255x (plus a little for tiny blocks) */
  if (lz4 && ulen > (uint64_t)clen * 255u + 64u)
    return rr__err(err, RR_ECORRUPT, "ArrowMsg: uncompressed size %llu is impossible for %zu bytes of LZ4",
                   (unsigned long long)ulen, clen);
  if (lz4 && (clen > 0x7E000000u || ulen > (uint64_t)INT32_MAX))
    return rr__err(err, RR_ERANGE, "ArrowMsg: LZ4 block of %zu -> %llu bytes is too large", clen, (unsigned long long)ulen);
  *cat = blueprint ? SRV_PERSISTENT : is_static ? SRV_STATIC : SRV_DISPOSABLE;
  return RR_OK;
}

int rr__srv_check_log_msg(const uint8_t *p, size_t n, bool full, srv_log_info *out, rr_error *err) {
  /* LogMsg: a oneof of fields 1-3; the last one wins */
  size_t i = 0;
  pb_field f;
  out->kind = 0;
  while (i < n) {
    if (pb_next(p, n, &i, &f) < 0) return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf at byte %zu", i);
    if (f.num >= 1 && f.num <= 3 && f.wt == 2) { out->kind = (int)f.num; out->inner = f.p; out->inner_len = f.n; }
  }
  if (!out->kind) return rr__err(err, RR_ECORRUPT, "LogMsg without a message (no oneof member set)");
  if (out->kind == RR_MSG_ARROW && !full) return check_arrow(out->inner, out->inner_len, &out->cat, err);
  rr_log_msg *m = NULL;
  RR_TRY(rr_log_msg_decode(p, n, NULL, &m, err));
  out->cat = rr__srv_category(m);
  rr_log_msg_free(m);
  return RR_OK;
}

/* ---- deframer --------------------------------------------------------------------------- */

#define DEFRAME_AHEAD ((size_t)16 << 20)

void rr__srv_deframer_init(srv_deframer *d) { memset(d, 0, sizeof *d); }

void rr__srv_deframer_free(srv_deframer *d) {
  rr__free(d->cur);
  d->cur = NULL;
  d->hdr_have = 0;
}

bool rr__srv_deframer_idle(const srv_deframer *d) { return d->hdr_have == 0; }

uint8_t *rr__srv_deframer_inplace(const srv_deframer *d, size_t *len) {
  if (d->failed || !d->cur || d->hdr_have < 5) return NULL;
  size_t total = 5 + (size_t)d->need, k = total - d->cur->len;
  if (k > d->cap - d->cur->len) k = d->cap - d->cur->len;
  *len = k;
  return k ? d->cur->data + d->cur->len : NULL;
}

static int deframe_fail(srv_deframer *d, rr_error *err, int code, const char *what, unsigned v) {
  d->failed = true;
  return rr__err(err, code, "gRPC framing: %s (%u)", what, v);
}

int rr__srv_deframer_feed(srv_deframer *d, const uint8_t *p, size_t n, srv_deframer_cb cb, void *ud, rr_error *err) {
  if (d->failed) return rr__err(err, RR_EPROTO, "gRPC framing: stream already failed");
  while (n > 0) {
    if (d->hdr_have < 5) {
      size_t k = 5 - d->hdr_have;
      if (k > n) k = n;
      memcpy(d->hdr + d->hdr_have, p, k);
      d->hdr_have += k;
      p += k;
      n -= k;
      if (d->hdr_have < 5) break;
      uint8_t flags = d->hdr[0];
      if (flags == 1) return deframe_fail(d, err, RR_EPROTO, "compressed message, but no compression was negotiated", flags);
      if (flags != 0) return deframe_fail(d, err, RR_EPROTO, "unknown flag byte", flags);
      d->need = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 | (uint32_t)d->hdr[3] << 8 | d->hdr[4];
      size_t total = 5 + (size_t)d->need;
      d->cap = total < DEFRAME_AHEAD ? total : DEFRAME_AHEAD;
      d->cur = rr__srv_msg_alloc(d->pool, d->cap);
      if (!d->cur) { d->failed = true; return rr__err(err, RR_ENOMEM, "out of memory for a %zu-byte message", total); }
      d->cap = d->cur->cap;
      memcpy(d->cur->data, d->hdr, 5);
      d->cur->len = 5;
      d->cur->inner_off = 5;
    }
    size_t total = 5 + (size_t)d->need;
    size_t k = total - d->cur->len;
    if (k > n) k = n;
    if (d->cur->len + k > d->cap) {
      size_t nc = d->cap * 2 < total ? d->cap * 2 : total;
      if (nc < d->cur->len + k) nc = d->cur->len + k;
      srv_msg *g = rr__realloc(d->cur, sizeof *g + nc);
      if (!g) { d->failed = true; return rr__err(err, RR_ENOMEM, "out of memory for a %zu-byte message", total); }
      d->cur = g;
      d->cap = g->cap = nc;
    }
    if (p != d->cur->data + d->cur->len) memcpy(d->cur->data + d->cur->len, p, k);
    d->cur->len += k;
    p += k;
    n -= k;
    if (d->cur->len == total) {
      srv_msg *m = d->cur;
      d->cur = NULL;
      d->hdr_have = 0;
      d->last_len = total;
      int rc = cb(ud, m);
      if (rc < 0) { d->failed = true; return rc; }
    }
  }
  return RR_OK;
}

/* The size class of a small buffer of `cap` bytes (-1: not small). */
static int small_class(size_t cap) {
  if (cap > ((size_t)1 << (SRV_SMALL_MIN_SHIFT + SRV_SMALL_CLASSES - 1))) return -1;
  int c = 0;
  while (((size_t)1 << (SRV_SMALL_MIN_SHIFT + c)) < cap) c++;
  return c;
}

void rr__srv_msg_unref(srv_broker *b, srv_msg *m) {
  if (--m->refs) return;
  b->live_bytes -= m->len;
  int c = small_class(m->cap);
  bool kept = true;
  pthread_mutex_lock(&b->pool_mu);
  if (c >= 0 && m->cap == ((size_t)1 << (SRV_SMALL_MIN_SHIFT + c)) && b->small_bytes + m->cap <= SRV_SMALL_BYTES) {
    /* a small buffer (one of ours: cap is its class size): kept for reuse */
    memcpy(m->data, &b->small[c], sizeof(srv_msg *));
    b->small[c] = m;
    b->small_bytes += m->cap;
  } else if (m->cap >= SRV_SPARE_MIN && b->spare_bytes + m->cap <= SRV_SPARE_BYTES && b->n_spare < SRV_SPARES) {
    b->spare[b->n_spare++] = m;
    b->spare_bytes += m->cap;
  } else {
    kept = false;
  }
  pthread_mutex_unlock(&b->pool_mu);
  if (!kept) rr__free(m); /* outside the lock */
}

void rr__srv_broker_trim_spares(srv_broker *b) {
  srv_msg *gone[SRV_SPARES];
  pthread_mutex_lock(&b->pool_mu);
  /* spare_low of them stayed unused all along (which ones does not matter) */
  int k = b->spare_low < b->n_spare ? b->spare_low : b->n_spare;
  for (int i = 0; i < k; i++) {
    b->spare_bytes -= b->spare[i]->cap;
    gone[i] = b->spare[i];
  }
  memmove(b->spare, b->spare + k, (size_t)(b->n_spare - k) * sizeof *b->spare);
  b->n_spare -= k;
  b->spare_low = b->n_spare;
  pthread_mutex_unlock(&b->pool_mu);
  for (int i = 0; i < k; i++) rr__free(gone[i]); /* outside the lock */
}

srv_msg *rr__srv_msg_alloc(srv_broker *b, size_t cap) {
  srv_msg *m = NULL;
  int c = b ? small_class(cap) : -1;
  if (b) pthread_mutex_lock(&b->pool_mu);
  if (c >= 0) {
    /* small: a kept buffer of its class, or a new one of the class size
     * (malloc per message and the heap growing and shrinking cost more than
     * the rest of a small message's way through the server) */
    cap = (size_t)1 << (SRV_SMALL_MIN_SHIFT + c);
    if (b->small[c]) {
      m = b->small[c];
      memcpy(&b->small[c], m->data, sizeof(srv_msg *));
      b->small_bytes -= cap;
    }
  } else if (b && cap >= SRV_SPARE_MIN) {
    for (int i = 0; i < b->n_spare; i++)
      if (b->spare[i]->cap >= cap && b->spare[i]->cap / 2 <= cap) {
        m = b->spare[i];
        b->spare[i] = b->spare[--b->n_spare];
        b->spare_bytes -= m->cap;
        if (b->n_spare < b->spare_low) b->spare_low = b->n_spare;
        cap = m->cap;
        break;
      }
  }
  if (b) pthread_mutex_unlock(&b->pool_mu);
  if (!m) {
    m = rr__malloc(sizeof *m + cap);
    /* a large one is faulted in at once (cheaper than page by page) */
    if (m && b && c < 0 && cap >= SRV_SPARE_MIN) rr__populate(m->data, cap);
  }
  if (!m) return NULL;
  memset(m, 0, sizeof *m);
  m->cap = cap;
  return m;
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
  pthread_mutex_init(&b->pool_mu, NULL);
  b->limit = limit;
  b->reader_max = reader_max;
}

void rr__srv_broker_free(srv_broker *b) {
  while (b->readers) rr__srv_reader_detach(b->readers);
  for (int i = 0; i < 3; i++) dq_clear(b, &b->hist[i]);
  b->hist_bytes = 0;
  for (int i = 0; i < b->n_spare; i++) rr__free(b->spare[i]);
  b->n_spare = 0;
  b->spare_bytes = 0;
  b->spare_low = 0;
  for (int c = 0; c < SRV_SMALL_CLASSES; c++)
    while (b->small[c]) {
      srv_msg *m = b->small[c];
      memcpy(&b->small[c], m->data, sizeof(srv_msg *));
      rr__free(m);
    }
  b->small_bytes = 0;
  pthread_mutex_destroy(&b->pool_mu);
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

size_t rr__srv_reader_small_run(const srv_reader *r, size_t max_each, size_t max_total) {
  size_t total = 0, off = r->off;
  size_t n_live = r->live.n;
  for (size_t i = r->snap_i; i < r->snap_n + n_live; i++) {
    const srv_msg *m = i < r->snap_n ? r->snap[i] : dq_at(&r->live, i - r->snap_n);
    size_t n = m->len - off;
    off = 0;
    if (n >= max_each || (total && total + n > max_total)) break;
    total += n;
  }
  return total;
}

srv_msg *rr__srv_reader_msg(const srv_reader *r) { return reader_cur(r); }

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
