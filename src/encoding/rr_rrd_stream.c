/* RRD stream framing: the StreamHeader writer/verifier, the incremental
 * decoder and its FILE* adapters.
 *
 * The decoder is Rerun 0.33's reader state machine (spec §1.5) over an
 * internal byte queue:
 *   STREAM_HEADER  12 bytes, verified (first header: any failure is fatal;
 *                  later headers: "trailing bytes", also fatal = stop);
 *   MSG_HEADER     16 bytes peeked; kind > 3 goes back to STREAM_HEADER
 *                  without consuming (concatenated footer-less streams);
 *   PAYLOAD        `len` bytes (bounded by the configured maximum), decoded
 *                  per kind; a bad payload loses only that message. An End
 *                  message is taken together with the 32-byte StreamFooter
 *                  that must follow it, after which a new stream may start.
 * The queue only ever holds bytes the caller fed: a declared length never
 * sizes an allocation. Consumed bytes are dropped when they make up at least
 * half of the queue, so feeding byte by byte stays linear. */
#include <errno.h>

#include "encoding/encoding_internal.h"

enum { S_STREAM_HEADER, S_MSG_HEADER, S_PAYLOAD, S_DONE };

/* recording id -> application id, learnt from SetStoreInfo, used to complete
 * store ids without an application id (0.24-era data). Bounded. */
#define RR__MAX_APP_IDS 4096
struct app_entry {
  char *rec;
  char *app;
  size_t app_len;
};

struct rr_rrd_decoder {
  uint64_t max_msg, max_unc;
  bool emit_end;
  rr_buf q;           /* pending input; q.data[pos..len) unconsumed */
  size_t pos;
  uint64_t base;      /* absolute input offset of q.data[0] */
  int state;
  bool finished, seen_header;
  uint64_t kind, len, msg_offset;
  uint8_t version[4];
  bool has_warning, warned_newer;
  char warning[256];
  struct app_entry *apps;
  size_t n_apps;
  struct rr__decode_opts dopts;
};

static const uint8_t FOURCC[4] = {'R', 'R', 'F', '2'};

/* ---- stream header ----------------------------------------------------------- */

int rr_rrd_write_stream_header_version(rr_buf *out, const uint8_t version[4], bool lz4) {
  if (!out || !version) return RR_EINVAL;
  uint8_t h[RR_RRD_STREAM_HEADER_SIZE] = {'R', 'R', 'F', '2', version[0], version[1], version[2],
                                          version[3], lz4 ? 1 : 0, 2, 0, 0};
  return rr_buf_append(out, h, sizeof h);
}

int rr_rrd_write_stream_header(rr_buf *out, bool lz4) {
  const uint8_t v[4] = {RR_RRD_VERSION_MAJOR, RR_RRD_VERSION_MINOR, RR_RRD_VERSION_PATCH, 0};
  return rr_rrd_write_stream_header_version(out, v, lz4);
}

void rr_rrd_version_format(const uint8_t v[4], char out[32]) {
  int n = v[3] & 0x3F;
  switch (v[3] >> 6) {
    case 0: snprintf(out, 32, "%u.%u.%u", v[0], v[1], v[2]); break;
    case 1: snprintf(out, 32, "%u.%u.%u-rc.%d", v[0], v[1], v[2], n); break;
    case 2: snprintf(out, 32, "%u.%u.%u-alpha.%d", v[0], v[1], v[2], n); break;
    default: snprintf(out, 32, "%u.%u.%u-alpha.%d+dev", v[0], v[1], v[2], n); break;
  }
}

static void fourcc_text(const uint8_t *p, char out[20]) {
  size_t k = 0;
  for (int i = 0; i < 4; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7F) out[k++] = (char)p[i];
    else k += (size_t)snprintf(out + k, 20 - k, "\\x%02x", p[i]);
  }
  out[k] = 0;
}

int rr_rrd_verify_stream_header(const uint8_t *p, size_t n, rr_rrd_stream_header *out, bool *newer,
                                rr_error *err) {
  if (newer) *newer = false;
  if (n < RR_RRD_STREAM_HEADER_SIZE || !p) return RR_EAGAIN;
  if (!memcmp(p, "RRF0", 4) || !memcmp(p, "RRF1", 4)) {
    char fc[20];
    fourcc_text(p, fc);
    return rr__err(err, RR_EUNSUPPORTED,
                   "old RRD format '%s' (before Rerun 0.23) is not supported; re-save it with a newer Rerun", fc);
  }
  if (memcmp(p, FOURCC, 4)) {
    char fc[20];
    fourcc_text(p, fc);
    return rr__err(err, RR_ECORRUPT, "not an RRD stream: magic is '%s', expected 'RRF2'", fc);
  }
  if (p[8] > 1) return rr__err(err, RR_ECORRUPT, "invalid compression byte %u in RRD stream header", p[8]);
  if (p[9] == 1)
    return rr__err(err, RR_EUNSUPPORTED, "RRD stream uses the removed MsgPack serializer");
  if (p[9] != 2) return rr__err(err, RR_ECORRUPT, "unknown serializer %u in RRD stream header", p[9]);
  if (p[10] || p[11]) return rr__err(err, RR_ECORRUPT, "Reserved bytes not zero in RRD stream header");
  uint8_t v[4] = {p[4], p[5], p[6], p[7]};
  if (!v[0] && !v[1] && !v[2] && !v[3]) v[1] = 2; /* [0,0,0,0] means 0.2.0 */
  char vs[32];
  rr_rrd_version_format(v, vs);
  if (v[0] == 0 && v[1] < 23)
    return rr__err(err, RR_EUNSUPPORTED,
                   "Data from Rerun version %s, which is incompatible with this reader (0.33); "
                   "versions before 0.23 are not supported", vs);
  bool is_newer = v[0] > RR_RRD_VERSION_MAJOR ||
                  (v[0] == RR_RRD_VERSION_MAJOR &&
                   (v[1] > RR_RRD_VERSION_MINOR || (v[1] == RR_RRD_VERSION_MINOR && v[2] > RR_RRD_VERSION_PATCH)));
  if (newer) *newer = is_newer;
  if (out) {
    memcpy(out->version, p + 4, 4);
    out->lz4 = p[8] == 1;
  }
  return RR_OK;
}

/* ---- decoder lifetime and input -------------------------------------------------- */

int rr_rrd_decoder_new(rr_rrd_decoder **out, const rr_rrd_decoder_opts *opts) {
  if (!out) return RR_EINVAL;
  rr_rrd_decoder *d = rr__calloc(1, sizeof *d);
  if (!d) return RR_ENOMEM;
  d->max_msg = opts && opts->limits.max_message_size ? opts->limits.max_message_size
                                                     : RR_RRD_DEFAULT_MAX_MESSAGE_SIZE;
  d->max_unc = opts && opts->limits.max_uncompressed_size ? opts->limits.max_uncompressed_size
                                                          : RR_RRD_DEFAULT_MAX_UNCOMPRESSED_SIZE;
  d->emit_end = opts && opts->emit_end;
  d->state = S_STREAM_HEADER;
  *out = d;
  return RR_OK;
}

void rr_rrd_decoder_free(rr_rrd_decoder *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n_apps; i++) {
    rr__free(d->apps[i].rec);
    rr__free(d->apps[i].app);
  }
  rr__free(d->apps);
  rr_buf_free(&d->q);
  rr__free(d);
}

void rr_rrd_decoder_set_ipc_pool(rr_rrd_decoder *d, rr_blocks *pool) {
  if (d) d->dopts.pool = pool;
}

void rr_rrd_decoder_set_keep_arrow_proto(rr_rrd_decoder *d, bool keep) {
  if (d) d->dopts.no_arrow_proto = !keep;
}

/* Drop consumed bytes once they are at least half the queue: each byte is
 * moved at most once per halving, so the total copying stays linear. */
static void compact_queue(rr_rrd_decoder *d) {
  if (d->pos && d->pos >= d->q.len - d->pos) {
    size_t rest = d->q.len - d->pos;
    memmove(d->q.data, d->q.data + d->pos, rest);
    d->base += d->pos;
    d->q.len = rest;
    d->pos = 0;
  }
}

int rr_rrd_decoder_feed(rr_rrd_decoder *d, const void *p, size_t n) {
  if (!d || (n && !p)) return RR_EINVAL;
  if (d->finished) return RR_EINVAL;
  if (d->state == S_DONE || n == 0) return RR_OK;
  compact_queue(d);
  return rr_buf_append(&d->q, p, n);
}

uint8_t *rr_rrd_decoder_reserve(rr_rrd_decoder *d, size_t n) {
  if (!d || d->finished || d->state == S_DONE) return NULL;
  compact_queue(d);
  if (rr_buf_reserve(&d->q, n ? n : 1) < 0) return NULL;
  return d->q.data + d->q.len;
}

void rr_rrd_decoder_commit(rr_rrd_decoder *d, size_t written) {
  if (!d || d->finished || d->state == S_DONE || written > d->q.cap - d->q.len) return;
  d->q.len += written;
}

void rr_rrd_decoder_finish(rr_rrd_decoder *d) {
  if (d) d->finished = true;
}

bool rr_rrd_decoder_stopped(const rr_rrd_decoder *d) { return !d || d->state == S_DONE; }

uint64_t rr_rrd_decoder_offset(const rr_rrd_decoder *d) { return d ? d->base + d->pos : 0; }

const char *rr_rrd_decoder_warning(const rr_rrd_decoder *d) {
  return d && d->has_warning ? d->warning : NULL;
}

/* ---- application id recovery ---------------------------------------------------------- */

static struct app_entry *app_find(rr_rrd_decoder *d, rr_str rec) {
  for (size_t i = 0; i < d->n_apps; i++)
    if (strlen(d->apps[i].rec) == rec.len && !memcmp(d->apps[i].rec, rec.ptr, rec.len)) return &d->apps[i];
  return NULL;
}

static void app_learn(rr_rrd_decoder *d, const rr_log_msg *m) {
  rr_str rec = m->store_id.recording_id, app = m->store_id.application_id;
  struct app_entry *e = app_find(d, rec);
  char *a = rr__strndup(app.ptr, app.len);
  if (!a) return; /* recovery is best effort */
  if (e) {
    rr__free(e->app);
    e->app = a;
    e->app_len = app.len;
    return;
  }
  if (d->n_apps >= RR__MAX_APP_IDS) { rr__free(a); return; }
  struct app_entry *na = rr__realloc(d->apps, (d->n_apps + 1) * sizeof *na);
  char *r = rr__strndup(rec.ptr, rec.len);
  if (!na || !r) { if (na) d->apps = na; rr__free(a); rr__free(r); return; }
  d->apps = na;
  d->apps[d->n_apps++] = (struct app_entry){r, a, app.len};
}

/* ---- the state machine --------------------------------------------------------------- */

static int stop(rr_rrd_decoder *d, rr_error *err, int code, const char *fmt, ...) RR__PRINTF(4, 5);
static int stop(rr_rrd_decoder *d, rr_error *err, int code, const char *fmt, ...) {
  d->state = S_DONE;
  rr_buf_free(&d->q);
  d->base += d->pos;
  d->pos = 0;
  char m[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  return rr__err(err, code, "%s", m);
}

static int header_state(rr_rrd_decoder *d, rr_error *err) {
  size_t avail = d->q.len - d->pos;
  uint64_t at = d->base + d->pos;
  if (avail == 0 && d->finished) {
    if (d->seen_header) { d->state = S_DONE; return RR_EEOF; }
    return stop(d, err, RR_ECORRUPT, "empty input: no RRD stream header at byte offset 0");
  }
  if (avail < RR_RRD_STREAM_HEADER_SIZE) {
    if (!d->finished) return RR_EAGAIN;
    return stop(d, err, RR_ECORRUPT, "truncated RRD stream header at byte offset %llu (%zu of 12 bytes)",
                (unsigned long long)at, avail);
  }
  rr_rrd_stream_header h;
  bool newer = false;
  rr_error e = {0};
  int rc = rr_rrd_verify_stream_header(d->q.data + d->pos, avail, &h, &newer, &e);
  if (rc < 0) {
    if (d->seen_header)
      return stop(d, err, rc, "trailing bytes at byte offset %llu after an RRD stream: %s",
                  (unsigned long long)at, e.msg);
    return stop(d, err, rc, "at byte offset %llu: %s", (unsigned long long)at, e.msg);
  }
  if (newer) {
    char vs[32];
    rr_rrd_version_format(h.version, vs);
    snprintf(d->warning, sizeof d->warning,
             "Found data stream with Rerun version %s which is newer than this reader (0.33.0); "
             "it may contain data that is not compatible", vs);
    d->has_warning = true;
    if (!d->warned_newer) rr__warn("%s", d->warning);
    d->warned_newer = true;
  }
  memcpy(d->version, h.version, 4);
  d->seen_header = true;
  d->pos += RR_RRD_STREAM_HEADER_SIZE;
  d->state = S_MSG_HEADER;
  return RR_OK;
}

static int msg_header_state(rr_rrd_decoder *d, rr_error *err) {
  size_t avail = d->q.len - d->pos;
  uint64_t at = d->base + d->pos;
  if (avail == 0 && d->finished) { d->state = S_DONE; return RR_EEOF; }
  if (avail < RR_RRD_MESSAGE_HEADER_SIZE) {
    if (!d->finished) return RR_EAGAIN;
    /* A final stream may be just its 12-byte header. */
    if (avail >= RR_RRD_STREAM_HEADER_SIZE) { d->state = S_STREAM_HEADER; return RR_OK; }
    return stop(d, err, RR_ECORRUPT, "truncated message header at byte offset %llu (%zu of 16 bytes)",
                (unsigned long long)at, avail);
  }
  const uint8_t *p = d->q.data + d->pos;
  uint64_t kind = rr__get_u64le(p), len = rr__get_u64le(p + 8);
  if (kind > RR_MSG_BLUEPRINT_ACTIVATION) { d->state = S_STREAM_HEADER; return RR_OK; }
  if (len > d->max_msg)
    return stop(d, err, RR_ERANGE,
                "message at byte offset %llu (%s) declares %llu payload bytes, more than the limit of %llu",
                (unsigned long long)at, rr__msg_kind_name((int)kind), (unsigned long long)len,
                (unsigned long long)d->max_msg);
  d->kind = kind;
  d->len = len;
  d->msg_offset = at;
  d->pos += RR_RRD_MESSAGE_HEADER_SIZE;
  d->state = S_PAYLOAD;
  return RR_OK;
}

/* payload_state's "nothing to return, keep going" (never leaves this file). */
#define RR__CONTINUE 1

static int end_state(rr_rrd_decoder *d, rr_log_msg **out, rr_error *err) {
  size_t avail = d->q.len - d->pos;
  size_t len = (size_t)d->len;
  if (avail < len + RR_RRD_STREAM_FOOTER_SIZE) {
    if (!d->finished) return RR_EAGAIN;
    if (avail < len)
      return stop(d, err, RR_ECORRUPT,
                  "truncated End message at byte offset %llu: %llu footer bytes declared, %zu present",
                  (unsigned long long)d->msg_offset, (unsigned long long)d->len, avail);
    return stop(d, err, RR_ECORRUPT,
                "truncated StreamFooter at byte offset %llu (%zu of 32 bytes)",
                (unsigned long long)(d->base + d->pos + len), avail - len);
  }
  const uint8_t *f = d->q.data + d->pos + len;
  if (memcmp(f + 20, FOURCC, 4) || memcmp(f + 24, "FOOT", 4)) {
    char a[20], b[20];
    fourcc_text(f + 20, a);
    fourcc_text(f + 24, b);
    return stop(d, err, RR_ECORRUPT,
                "corrupt StreamFooter at byte offset %llu: found '%s' '%s', expected 'RRF2' 'FOOT'",
                (unsigned long long)(d->base + d->pos + len), a, b);
  }
  int rc = RR_OK;
  rr_log_msg *m = NULL;
  if (d->emit_end || len) rc = rr__log_msg_new_end(d->q.data + d->pos, len, &m, err);
  d->pos += len + RR_RRD_STREAM_FOOTER_SIZE;
  d->state = S_STREAM_HEADER;
  if (rc < 0)
    return rr__err_wrap(err, rc, "End message at byte offset %llu (%zu bytes)",
                        (unsigned long long)d->msg_offset, len);
  if (!d->emit_end) { rr_log_msg_free(m); return RR__CONTINUE; }
  m->offset = d->msg_offset;
  memcpy(m->stream_version, d->version, 4);
  *out = m;
  return RR_OK;
}

static int payload_state(rr_rrd_decoder *d, rr_log_msg **out, rr_error *err) {
  if (d->kind == RR_MSG_END) return end_state(d, out, err);
  size_t avail = d->q.len - d->pos;
  if ((uint64_t)avail < d->len) {
    if (!d->finished) return RR_EAGAIN;
    return stop(d, err, RR_ECORRUPT,
                "truncated %s at byte offset %llu: %llu payload bytes declared, %zu present",
                rr__msg_kind_name((int)d->kind), (unsigned long long)d->msg_offset,
                (unsigned long long)d->len, avail);
  }
  size_t len = (size_t)d->len;
  const uint8_t *p = d->q.data + d->pos;
  d->pos += len;
  d->state = S_MSG_HEADER;
  rr_decode_limits lim = {d->max_msg, d->max_unc};
  rr_log_msg *m = NULL;
  int rc = rr__log_msg_decode_inner_opts((int)d->kind, p, len, &lim, &d->dopts, &m, err);
  if (rc == RR_OK) {
    if (d->kind == RR_MSG_SET_STORE_INFO) {
      app_learn(d, m);
    } else if (!m->store_id.application_id.ptr) {
      struct app_entry *e = app_find(d, m->store_id.recording_id);
      if (!e) {
        rc = rr__err(err, RR_ECORRUPT,
                     "store id of recording '%.64s' has no application id and no earlier SetStoreInfo names one",
                     m->store_id.recording_id.ptr);
      } else if ((rc = rr__log_msg_set_app_id(&m, e->app, e->app_len)) < 0) {
        rr__err(err, rc, "out of memory");
      }
      if (rc < 0) { rr_log_msg_free(m); m = NULL; }
    }
  }
  if (rc < 0)
    return rr__err_wrap(err, rc, "message at byte offset %llu (%s, %zu bytes)",
                        (unsigned long long)d->msg_offset, rr__msg_kind_name((int)d->kind), len);
  m->offset = d->msg_offset;
  memcpy(m->stream_version, d->version, 4);
  *out = m;
  return RR_OK;
}

int rr_rrd_decoder_next(rr_rrd_decoder *d, rr_log_msg **out, rr_error *err) {
  if (!d || !out) return rr__err(err, RR_EINVAL, "rr_rrd_decoder_next: NULL argument");
  *out = NULL;
  for (;;) {
    int rc;
    switch (d->state) {
      case S_STREAM_HEADER: rc = header_state(d, err); break;
      case S_MSG_HEADER: rc = msg_header_state(d, err); break;
      case S_PAYLOAD:
        rc = payload_state(d, out, err);
        if (rc == RR__CONTINUE) continue;
        return rc;
      default: return RR_EEOF;
    }
    if (rc != RR_OK) return rc;
  }
}

/* ---- I/O adapters ------------------------------------------------------------------ */

static int drain(rr_rrd_decoder *d, rr_rrd_msg_cb cb, void *ud) {
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error e = {0};
    int rc = rr_rrd_decoder_next(d, &m, &e);
    if (rc == RR_EAGAIN || rc == RR_EEOF) return RR_OK;
    int r = cb(ud, rc == RR_OK ? m : NULL, rc == RR_OK ? NULL : &e);
    if (r) return r;
  }
}

int rr_rrd_read_file(FILE *f, const rr_rrd_decoder_opts *opts, rr_rrd_msg_cb cb, void *ud,
                     rr_error *err) {
  if (!f || !cb) return rr__err(err, RR_EINVAL, "rr_rrd_read_file: NULL argument");
  rr_rrd_decoder *d = NULL;
  if (rr_rrd_decoder_new(&d, opts) < 0) return rr__err(err, RR_ENOMEM, "out of memory");
  enum { CHUNK = 64 * 1024 };
  uint8_t *chunk = rr__malloc(CHUNK);
  int rc = chunk ? RR_OK : rr__err(err, RR_ENOMEM, "out of memory");
  while (rc == RR_OK) {
    size_t n = fread(chunk, 1, CHUNK, f);
    if (n) {
      if ((rc = rr_rrd_decoder_feed(d, chunk, n)) < 0) { rr__err(err, rc, "out of memory"); break; }
      if ((rc = drain(d, cb, ud)) != 0) break;
      if (rr_rrd_decoder_stopped(d)) break;
    }
    if (n < CHUNK) {
      if (ferror(f)) { rc = rr__err(err, RR_EIO, "read error at byte offset %llu",
                                    (unsigned long long)rr_rrd_decoder_offset(d)); break; }
      rr_rrd_decoder_finish(d);
      rc = drain(d, cb, ud);
      break;
    }
  }
  rr__free(chunk);
  rr_rrd_decoder_free(d);
  return rc;
}

int rr_rrd_read_path(const char *path, const rr_rrd_decoder_opts *opts, rr_rrd_msg_cb cb, void *ud,
                     rr_error *err) {
  if (!path) return rr__err(err, RR_EINVAL, "rr_rrd_read_path: NULL path");
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return rr__err(err, e == ENOENT ? RR_ENOTFOUND : RR_EIO, "cannot open %s: %s", path, strerror(e));
  }
  int rc = rr_rrd_read_file(f, opts, cb, ud, err);
  fclose(f);
  return rc;
}
