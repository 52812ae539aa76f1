/* Sinks: a byte stream (file, stdout) and memory, plus the encoding glue
 * that turns chunks into messages. Sinks run on the batcher thread only. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lz4.h>

#include "encoding/rr_encoding.h"
#include "sdk_internal.h"

/* ---- messages ----------------------------------------------------------------- */

static int msg_from_log_msg(const rr_log_msg *lm, bool lz4, struct rr_msg **out, rr_error *err) {
  rr_buf b = RR_BUF_INIT;
  RR_TRY(rr_log_msg_encode(&b, lm, RR_FRAMING_PROTO, lz4, err));
  struct rr_msg *m = rr__calloc(1, sizeof *m);
  if (!m) { rr_buf_free(&b); return rr__err(err, RR_ENOMEM, "out of memory"); }
  m->kind = lm->kind;
  m->pb = rr_buf_steal(&b, &m->len);
  *out = m;
  return RR_OK;
}

static rr_store_id store_id_of(const rr_recording *rec) {
  rr_store_id id = {RR_STORE_KIND_RECORDING, {rec->app_id, strlen(rec->app_id)}, {rec->rec_id, strlen(rec->rec_id)}};
  return id;
}

int rr__encode_store_info(rr_recording *rec, struct rr_msg **out, rr_error *err) {
  rr_store_id id = store_id_of(rec);
  rr_log_msg lm;
  rr_log_msg_init_store_info(&lm, &id);
  return msg_from_log_msg(&lm, false, out, err);
}

/* ---- the Schema message cache ------------------------------------------------------ */

/* Chunks of one accumulator share their schema except for the chunk id in
 * the schema's metadata. Building the schema and its Schema message was
 * most of the cost of encoding a small chunk, so the last few are kept,
 * keyed by what the schema is made of (rr__chunk_schema_key), and the
 * chunk's id is patched into a copy of the message. */

/* Appends the chunk's Schema message to out and sets *schema to the
 * schema to write its batch with: a cached one, or `own` (built here; the
 * caller releases it when own->release is set). */
static int write_schema_cached(struct rr_schema_cache *sc, rr_buf *out, const struct rr_chunk *c,
                               const struct ArrowSchema **schema, struct ArrowSchema *own, rr_error *err) {
  char idval[40];
  memcpy(idval, "chunk_", 6);
  rr__tuid_format(c->id, idval + 6); /* as rr__chunk_schema writes it */
  const size_t idlen = 38;
  rr_buf *key = &sc->scratch;
  rr_buf_reset(key);
  bool keyed = rr__chunk_schema_key(c, key) == RR_OK;
  for (size_t i = 0; keyed && i < sizeof sc->e / sizeof *sc->e; i++) {
    if (sc->e[i].key.len != key->len || memcmp(sc->e[i].key.data, key->data, key->len)) continue;
    size_t at = out->len;
    RR_TRY(rr_buf_append(out, sc->e[i].msg.data, sc->e[i].msg.len));
    memcpy(out->data + at + sc->e[i].id_at, idval, idlen);
    *schema = &sc->e[i].schema;
    return RR_OK;
  }
  RR_TRY(rr__chunk_schema(c, own, err));
  *schema = own;
  size_t at = out->len;
  RR_TRY(rr_arrow_ipc_write_schema_msg(out, own, 64, err));
  /* the id's place: its value appears once (a fresh random TUID) */
  const uint8_t *p = keyed ? memmem(out->data + at, out->len - at, idval, idlen) : NULL;
  if (!p) return RR_OK;
  unsigned k = sc->next++ % (unsigned)(sizeof sc->e / sizeof *sc->e);
  rr_buf_reset(&sc->e[k].msg);
  rr_buf_reset(&sc->e[k].key);
  if (sc->e[k].schema.release) sc->e[k].schema.release(&sc->e[k].schema);
  if (rr_buf_append(&sc->e[k].msg, out->data + at, out->len - at) == RR_OK &&
      rr_buf_append(&sc->e[k].key, key->data, key->len) == RR_OK) {
    sc->e[k].id_at = (size_t)(p - (out->data + at));
    rr_arrow_schema_move(own, &sc->e[k].schema); /* own->release is NULL now */
    *schema = &sc->e[k].schema;
  } else {
    sc->e[k].key.len = 0; /* never matches: keys are never empty */
  }
  return RR_OK;
}

void rr__schema_cache_free(struct rr_schema_cache *sc) {
  for (size_t i = 0; i < sizeof sc->e / sizeof *sc->e; i++) {
    rr_buf_free(&sc->e[i].key);
    rr_buf_free(&sc->e[i].msg);
    if (sc->e[i].schema.release) sc->e[i].schema.release(&sc->e[i].schema);
  }
  rr_buf_free(&sc->scratch);
  memset(sc, 0, sizeof *sc);
}

/* Value buffers of at least this size are written by the sinks straight
 * from the chunk (writev, one copy into a memory sink) instead of being
 * copied into the message first. */
#define RR__MSG_MIN_BORROW ((size_t)64 << 10)

/* m->parts = [head] + the IPC parts + [tail], head and tail at `at` in pb. */
static int set_parts(struct rr_msg *m, const rr_segs *ipc, size_t at, size_t head, size_t tail) {
  size_t n = rr_segs_count(ipc);
  m->parts = rr__calloc(n + 2, sizeof *m->parts);
  if (!m->parts) return RR_ENOMEM;
  m->parts[0] = (struct iovec){m->pb + at, head};
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const uint8_t *p = rr_segs_ptr(ipc, i, &len);
    m->parts[1 + i] = (struct iovec){(void *)p, len};
  }
  m->parts[n + 1] = (struct iovec){m->pb + at + head, tail};
  m->n_parts = n + 2;
  m->len = ipc->total + head + tail; /* parts only: pb also holds head and tail */
  return RR_OK;
}

/* The chunk as an ArrowMsg. Uncompressed, large value buffers are borrowed
 * from the chunk (see struct rr_msg); with LZ4 the IPC stream is written
 * whole, compressed, and the message framed around the compressed block. */
int rr__encode_chunk(rr_recording *rec, const struct rr_chunk *c, struct rr_msg **out, rr_error *err) {
  rr_log_msg lm;
  memset(&lm, 0, sizeof lm);
  lm.kind = RR_MSG_ARROW;
  lm.store_id = store_id_of(rec);
  lm.arrow.has_chunk_id = true;
  lm.arrow.chunk_id = c->id;
  lm.arrow.has_is_static = true;
  lm.arrow.is_static = rr__chunk_is_static(c);
  struct rr_msg *m = rr__calloc(1, sizeof *m);
  if (!m) return rr__err(err, RR_ENOMEM, "out of memory");
  m->kind = RR_MSG_ARROW;
  rr_buf ipc = RR_BUF_INIT, z = RR_BUF_INIT;
  /* room for as much as the previous message owned: one allocation instead
   * of a chain of reallocations through the small sizes */
  if (rr_buf_reserve(&ipc, rec->enc_size_hint > 4096 ? rec->enc_size_hint : 4096) < 0) {
    rr__msg_free(m);
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  rr_segs segs;
  rr_segs_init(&segs, &ipc, rec->compress ? SIZE_MAX : RR__MSG_MIN_BORROW);
  const struct ArrowSchema *schema = NULL;
  struct ArrowSchema own = {0};
  struct ArrowArray batch;
  int rc = write_schema_cached(&rec->schemas, &ipc, c, &schema, &own, err);
  if (rc == RR_OK && (rc = rr__chunk_batch(c, &batch, err)) == RR_OK) {
    rc = rr_arrow_ipc_write_batch_segs(&segs, schema, &batch, 64, err);
    batch.release(&batch); /* borrowed parts point into the chunk, not the batch */
  }
  if (own.release) own.release(&own);
  if (rc == RR_OK && (rc = rr_segs_sync(&segs)) < 0) rr__err(err, rc, "out of memory");
  size_t ipc_len = rr_segs_len(&segs), head = 0, at;
  rec->enc_size_hint = ipc.len < ((size_t)1 << 20) ? ipc.len + 256 : (size_t)1 << 20;
  if (rc == RR_OK && rec->compress && ipc_len <= (size_t)LZ4_MAX_INPUT_SIZE) {
    /* ipc holds the whole stream; pb = [LZ4 block][head][tail] */
    int bound = LZ4_compressBound((int)ipc_len);
    if ((rc = rr_buf_reserve(&z, (size_t)bound + 64)) < 0) {
      rr__err(err, rc, "out of memory for LZ4 output (%d bytes)", bound);
    } else {
      int n = ipc_len ? LZ4_compress_default((const char *)ipc.data, (char *)z.data, (int)ipc_len, bound) : 0;
      if (ipc_len && n <= 0) rc = rr__err(err, RR_EINTERNAL, "LZ4 compression failed");
      z.len = (size_t)n;
    }
    at = z.len;
    if (rc == RR_OK) rc = rr_arrow_msg_encode_parts(&z, &head, &lm, RR_FRAMING_PROTO, true, at, ipc_len, err);
    if (rc == RR_OK) {
      size_t tail = z.len - at - head;
      m->pb = z.data;
      m->pb_len = z.len;
      z = (rr_buf)RR_BUF_INIT;
      m->parts = rr__calloc(3, sizeof *m->parts);
      if (!m->parts) rc = RR_ENOMEM;
      else {
        m->parts[0] = (struct iovec){m->pb + at, head};
        m->parts[1] = (struct iovec){m->pb, at};
        m->parts[2] = (struct iovec){m->pb + at + head, tail};
        m->n_parts = 3;
        m->len = at + head + tail;
      }
    }
  } else if (rc == RR_OK) {
    /* pb = [IPC owned bytes][head][tail]; large buffers borrowed */
    at = ipc.len;
    rc = rr_arrow_msg_encode_parts(&ipc, &head, &lm, RR_FRAMING_PROTO, false, ipc_len, ipc_len, err);
    if (rc == RR_OK) {
      size_t tail = ipc.len - at - head;
      m->pb = ipc.data;
      m->pb_len = ipc.len;
      rc = set_parts(m, &segs, at, head, tail);
      ipc = (rr_buf)RR_BUF_INIT; /* now m->pb, freed with m */
    }
  }
  rr_segs_free(&segs);
  rr_buf_free(&ipc);
  rr_buf_free(&z);
  if (rc < 0) {
    if (rc == RR_ENOMEM && !err->msg[0]) rr__err(err, rc, "out of memory encoding a chunk");
    rr__msg_free(m);
    return rc;
  }
  *out = m;
  return RR_OK;
}

static void frame_header(uint8_t hdr[16], const struct rr_msg *m) {
  rr__put_u64le(hdr, (uint64_t)m->kind);
  rr__put_u64le(hdr + 8, (uint64_t)m->len);
}

/* ---- file descriptor sink ---------------------------------------------------- */

struct fd_sink {
  struct rr_sink base;
  int fd;
  bool owns;
  bool appends; /* a regular file this sink opened for appending: a refused message can be cut off */
  char name[64];
};

enum { RR__IOV_MAX = 1024 }; /* Linux's UIO_MAXIOV */

static int write_all(int fd, struct iovec *iov, size_t n, rr_error *err, const char *name) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n < RR__IOV_MAX ? (int)n : RR__IOV_MAX);
    if (w < 0) {
      if (errno == EINTR) continue;
      return rr__err(err, RR_EIO, "%s: write failed: %s", name, strerror(errno));
    }
    size_t left = (size_t)w;
    while (n > 0 && left >= iov->iov_len) { left -= iov->iov_len; iov++; n--; }
    if (n > 0) { iov->iov_base = (char *)iov->iov_base + left; iov->iov_len -= left; }
  }
  return RR_OK;
}

/* The 16-byte header and the message's parts in one writev (per IOV_MAX). */
static int fd_write(struct rr_sink *s, const struct rr_msg *m, rr_error *err) {
  struct fd_sink *f = (struct fd_sink *)s;
  uint8_t hdr[16];
  frame_header(hdr, m);
  struct iovec one, small[8], *iov = small;
  size_t n;
  const struct iovec *parts = rr__msg_iov(m, &one, &n);
  if (n + 1 > sizeof small / sizeof *small && !(iov = rr__malloc((n + 1) * sizeof *iov)))
    return rr__err(err, RR_ENOMEM, "%s: out of memory", f->name);
  iov[0] = (struct iovec){hdr, 16};
  memcpy(iov + 1, parts, n * sizeof *iov);
  int rc = write_all(f->fd, iov, n + 1, err, f->name);
  if (iov != small) rr__free(iov);
  return rc;
}

/* The message is written whole (one writev, so other processes' appends
 * cannot land inside it) while its values are checked beside it; if one
 * fails, the file is cut back to where the message began. Only in a file
 * this sink appends to alone (no fork since it was made); else all is
 * checked first. */
static int fd_write_checked(struct rr_sink *s, const struct rr_msg *m, size_t *bad, rr_error *err) {
  struct fd_sink *f = (struct fd_sink *)s;
  struct stat st;
  if (!f->appends || s->shared || fstat(f->fd, &st) < 0) {
    RR_TRY(rr__msg_check_all(m, bad));
    return fd_write(s, m, err);
  }
  struct rr_msg_checker c;
  RR_TRY(rr__msg_check_start(&c, m));
  s->in_place = true;
  int rc = fd_write(s, m, err);
  if (rr__msg_check_finish(&c, bad) < 0) {
    rc = RR_ENOTFINITE;
    if (ftruncate(f->fd, st.st_size) < 0)
      rr__log(RR_LOG_ERROR, "%s: cannot cut off a refused message (%s): the file ends in part of it", f->name,
              strerror(errno));
  }
  s->in_place = false;
  return rc;
}

static int fd_flush(struct rr_sink *s, rr_error *err) {
  struct fd_sink *f = (struct fd_sink *)s;
  if (fdatasync(f->fd) < 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
    return rr__err(err, RR_EIO, "%s: sync failed: %s", f->name, strerror(errno));
  return RR_OK;
}

static void fd_close(struct rr_sink *s) {
  struct fd_sink *f = (struct fd_sink *)s;
  if (f->owns) close(f->fd);
  rr__free(f);
}

int rr__sink_fd_new(struct rr_sink **out, int fd, bool owns_fd, bool compressed, const char *name, rr_error *err) {
  struct fd_sink *f = rr__calloc(1, sizeof *f);
  if (!f) return rr__err(err, RR_ENOMEM, "out of memory");
  f->base = (struct rr_sink){.name = f->name, .write = fd_write, .write_checked = fd_write_checked, .flush = fd_flush,
                             .close = fd_close, .fork_safe = true};
  f->fd = fd;
  f->owns = owns_fd;
  snprintf(f->name, sizeof f->name, "%s", name);
  rr_buf h = RR_BUF_INIT;
  int rc = rr_rrd_write_stream_header(&h, compressed);
  if (rc == RR_OK) {
    struct iovec iov = {h.data, h.len};
    rc = write_all(fd, &iov, 1, err, f->name);
  }
  rr_buf_free(&h);
  if (rc < 0) { rr__free(f); return rc; }
  *out = &f->base;
  return RR_OK;
}

int rr__sink_file_new(struct rr_sink **out, const char *path, bool compressed, rr_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return rr__err(err, RR_EIO, "cannot open '%s' for writing: %s", path, strerror(errno));
  int rc = rr__sink_fd_new(out, fd, true, compressed, "file", err);
  if (rc < 0) close(fd);
  struct stat st;
  if (rc == RR_OK && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ((struct fd_sink *)*out)->appends = true;
  return rc;
}

/* ---- memory sink ------------------------------------------------------------ */

struct mem_sink {
  struct rr_sink base;
  rr_buf buf;
};

struct copy_job {
  const struct rr_msg *m;
  uint8_t *dst;
  size_t from, to, bad;
  int rc;
};

static void *copy_main(void *arg) {
  struct copy_job *j = arg;
  pthread_setname_np(pthread_self(), "rr-copy");
  j->rc = rr__msg_copy_checked(j->m, j->dst, j->from, j->to, &j->bad);
  return NULL;
}

/* Messages of at least this many bytes are copied by two threads, each
 * half: the output is fresh memory, whose pages the kernel zeroes at the
 * first touch on the touching thread (about as much work again as the
 * copy), so two threads fill it in little more than half the time. */
#define MEM_COPY_SPLIT ((size_t)32 << 20)

/* Appends the framed message; its unchecked values are checked as they are
 * copied, and a refused message leaves the buffer as it was. */
static int mem_write_checked(struct rr_sink *s, const struct rr_msg *m, size_t *bad, rr_error *err) {
  struct mem_sink *k = (struct mem_sink *)s;
  uint8_t hdr[16];
  frame_header(hdr, m);
  if (rr_buf_reserve(&k->buf, 16 + m->len) < 0) return rr__err(err, RR_ENOMEM, "memory sink: out of memory");
  uint8_t *dst = k->buf.data + k->buf.len;
  memcpy(dst, hdr, 16);
  dst += 16;
  size_t half = m->len / 2;
  struct copy_job j = {m, dst + half, half, m->len, 0, RR_OK};
  pthread_t t;
  bool split = m->len >= MEM_COPY_SPLIT && pthread_create(&t, NULL, copy_main, &j) == 0;
  int rc = rr__msg_copy_checked(m, dst, 0, split ? half : m->len, bad);
  if (split) {
    pthread_join(t, NULL);
    if (rc == RR_OK && j.rc < 0) {
      rc = j.rc;
      *bad = j.bad;
    }
  }
  if (rc == RR_OK) k->buf.len += 16 + m->len;
  return rc;
}

static int mem_write(struct rr_sink *s, const struct rr_msg *m, rr_error *err) {
  size_t bad;
  return mem_write_checked(s, m, &bad, err); /* m has no unchecked values */
}

static void mem_close(struct rr_sink *s) {
  struct mem_sink *k = (struct mem_sink *)s;
  rr_buf_free(&k->buf);
  rr__free(k);
}

int rr__sink_memory_new(struct rr_sink **out, bool compressed) {
  struct mem_sink *k = rr__calloc(1, sizeof *k);
  if (!k) return RR_ENOMEM;
  k->base = (struct rr_sink){.name = "memory", .write = mem_write, .write_checked = mem_write_checked, .close = mem_close};
  if (rr_rrd_write_stream_header(&k->buf, compressed) < 0) { rr__free(k); return RR_ENOMEM; }
  *out = &k->base;
  return RR_OK;
}

uint8_t *rr__sink_memory_take(struct rr_sink *s, size_t *len) {
  struct mem_sink *k = (struct mem_sink *)s;
  return rr_buf_steal(&k->buf, len);
}

/* ---- public sink setters ----------------------------------------------------- */

int rr_recording_save(rr_recording *rec, const char *path, rr_error *err) {
  rr_error local = {0};
  if (!err) err = &local;
  if (rr__resolve(&rec) < 0) return rr__err(err, RR_EINVAL, "no recording stream");
  if (!path || !*path) return rr__err(err, RR_EINVAL, "save: path is NULL or empty");
  if (!rec->enabled) return RR_OK;
  struct rr_sink *s;
  RR_TRY(rr__sink_file_new(&s, path, rec->compress, err));
  return rr__set_sink(rec, s);
}

int rr_recording_stdout(rr_recording *rec, rr_error *err) {
  rr_error local = {0};
  if (!err) err = &local;
  if (rr__resolve(&rec) < 0) return rr__err(err, RR_EINVAL, "no recording stream");
  if (!rec->enabled) return RR_OK;
  if (isatty(STDOUT_FILENO)) {
    rr__warn("stdout is a terminal: not writing binary data to it; the recording stays buffered");
    return RR_OK;
  }
  struct rr_sink *s;
  RR_TRY(rr__sink_fd_new(&s, STDOUT_FILENO, false, rec->compress, "stdout", err));
  return rr__set_sink(rec, s);
}

int rr_recording_memory(rr_recording *rec, rr_error *err) {
  if (rr__resolve(&rec) < 0) return rr__err(err, RR_EINVAL, "no recording stream");
  if (!rec->enabled) return RR_OK;
  struct rr_sink *s;
  if (rr__sink_memory_new(&s, rec->compress) < 0) return rr__err(err, RR_ENOMEM, "out of memory");
  return rr__set_sink(rec, s);
}

int rr_recording_memory_drain(rr_recording *rec, uint8_t **bytes, size_t *len) {
  if (rr__resolve(&rec) < 0 || !bytes || !len) return RR_EINVAL;
  *bytes = NULL;
  *len = 0;
  RR_TRY(rr_recording_flush(rec, true, -1));
  pthread_mutex_lock(&rec->sink_mu);
  int rc = RR_OK;
  if (!rec->sink || rec->sink->write != mem_write) rc = RR_EINVAL;
  else *bytes = rr__sink_memory_take(rec->sink, len);
  pthread_mutex_unlock(&rec->sink_mu);
  if (rc == RR_OK && !*bytes) { *bytes = rr__malloc(1); if (!*bytes) return RR_ENOMEM; }
  return rc;
}

void rr__drops_warn(const char *who, uint64_t before, uint64_t after, const char *why) {
  for (uint64_t k = before + 1; k <= after; k++)
    if ((k & (k - 1)) == 0) {
      rr__log(RR_LOG_WARN, "%s: %s: %llu chunk(s) dropped so far", who, why, (unsigned long long)after);
      return;
    }
}

void rr__recording_count_dropped(rr_recording *rec, uint64_t n) {
  pthread_mutex_lock(&rec->mu);
  rec->stats.chunks_dropped += n;
  pthread_mutex_unlock(&rec->mu);
}
