/* Sinks: a byte stream (file, stdout) and memory, plus the encoding glue
 * that turns chunks into messages. Sinks run on the batcher thread only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

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

int rr__encode_chunk(rr_recording *rec, const struct rr_chunk *c, struct rr_msg **out, rr_error *err) {
  rr_buf ipc = RR_BUF_INIT;
  int rc = rr__chunk_to_ipc(c, &ipc, err);
  if (rc == RR_OK) {
    rr_log_msg lm;
    memset(&lm, 0, sizeof lm);
    lm.kind = RR_MSG_ARROW;
    lm.store_id = store_id_of(rec);
    lm.arrow.ipc.ptr = ipc.data;
    lm.arrow.ipc.len = ipc.len;
    lm.arrow.has_chunk_id = true;
    lm.arrow.chunk_id = c->id;
    lm.arrow.has_is_static = true;
    lm.arrow.is_static = rr__chunk_is_static(c);
    rc = msg_from_log_msg(&lm, rec->compress, out, err);
  }
  rr_buf_free(&ipc);
  return rc;
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
  char name[64];
};

static int write_all(int fd, struct iovec *iov, int n, rr_error *err, const char *name) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n);
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

static int fd_write(struct rr_sink *s, const struct rr_msg *m, rr_error *err) {
  struct fd_sink *f = (struct fd_sink *)s;
  uint8_t hdr[16];
  frame_header(hdr, m);
  struct iovec iov[2] = {{hdr, 16}, {m->pb, m->len}};
  return write_all(f->fd, iov, 2, err, f->name);
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
  f->base = (struct rr_sink){.name = f->name, .write = fd_write, .flush = fd_flush, .close = fd_close, .fork_safe = true};
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
  return rc;
}

/* ---- memory sink ------------------------------------------------------------ */

struct mem_sink {
  struct rr_sink base;
  rr_buf buf;
};

static int mem_write(struct rr_sink *s, const struct rr_msg *m, rr_error *err) {
  struct mem_sink *k = (struct mem_sink *)s;
  uint8_t hdr[16];
  frame_header(hdr, m);
  if (rr_buf_reserve(&k->buf, 16 + m->len) < 0) return rr__err(err, RR_ENOMEM, "memory sink: out of memory");
  rr_buf_append(&k->buf, hdr, 16);
  rr_buf_append(&k->buf, m->pb, m->len);
  return RR_OK;
}

static void mem_close(struct rr_sink *s) {
  struct mem_sink *k = (struct mem_sink *)s;
  rr_buf_free(&k->buf);
  rr__free(k);
}

int rr__sink_memory_new(struct rr_sink **out, bool compressed) {
  struct mem_sink *k = rr__calloc(1, sizeof *k);
  if (!k) return RR_ENOMEM;
  k->base = (struct rr_sink){.name = "memory", .write = mem_write, .close = mem_close};
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
