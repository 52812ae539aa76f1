/* This file is private to rerun-c.
 *
 * The SDK layer: recording streams, the batcher, sinks.
 *
 * Data flow: a log call (any thread) takes the stream lock, appends one row
 * to the accumulator of its (entity path, timeline set, static) key and
 * returns; no I/O and no encoding happen on the caller's thread. An
 * accumulator closes into a chunk when it reaches the byte or row threshold,
 * or on the flush tick, and the chunk joins the stream's queue. The batcher
 * thread takes chunks off the queue, encodes them (Arrow IPC, LZ4, ArrowMsg)
 * and hands the message to the sink. Bytes in flight (open accumulators and
 * queued chunks) are bounded by max_bytes_in_flight; see rr_backpressure. */
#ifndef RR_SDK_INTERNAL_H
#define RR_SDK_INTERNAL_H

#include <pthread.h>
#include <sys/uio.h>

#include "arrow/rr_arrow.h"
#include "base/rr_common.h"
#include "chunk/rr_chunk.h"
#include "rerun/sdk.h"

/* An encoded message: kind 1 SetStoreInfo, 2 ArrowMsg, 3 BlueprintActivation,
 * with the inner protobuf bytes (RRD payload form), len bytes in all.
 * With n_parts == 0 they are pb[0, len). Otherwise they are the parts in
 * order: some point into pb (framing, Arrow metadata, small buffers), the
 * large value buffers into the chunk being written, so such a message is
 * only valid during sink->write (rr__msg_own makes it self-contained).
 *
 * A message may carry regions of the caller's memory whose values are not
 * checked yet (chk, n_chk: a row written in place, see rr__acc_write_direct):
 * every 4-byte value in them must be a finite float. A sink with
 * write_checked checks them while it writes the message (rr__msg_check_start),
 * and leaves no trace of it if one fails (RR_ENOTFINITE); for other sinks
 * the batcher checks them all first. */
struct rr_msg_check {
  const uint8_t *p;
  size_t n;
};
struct rr_msg {
  struct rr_msg *next;
  int kind;
  size_t len;
  uint8_t *pb;
  size_t n_parts;
  struct iovec *parts;
  const struct rr_msg_check *chk; /* borrowed: valid during sink->write */
  size_t pb_len; /* bytes of pb the parts may point into (0: unknown) */
  size_t n_chk;
};
void rr__msg_free(struct rr_msg *m);
/* Copies the parts into one owned buffer (n_parts becomes 0). */
int rr__msg_own(struct rr_msg *m);
/* Checks all of m's unchecked regions: RR_OK, or RR_ENOTFINITE with *bad
 * the index of the first region that fails. */
int rr__msg_check_all(const struct rr_msg *m, size_t *bad);
/* Checks m's unchecked regions while the caller writes m: on a thread of
 * its own if there are many (both then read the values at about the same
 * time, so from memory once), else at once. start returns the result if
 * it is known already (RR_ENOTFINITE: write nothing); finish waits for it
 * (RR_OK, or RR_ENOTFINITE with *bad set: undo what was written). */
struct rr_msg_checker {
  pthread_t thread;
  bool threaded;
  const struct rr_msg *m;
  size_t bad;
  int rc;
};
int rr__msg_check_start(struct rr_msg_checker *c, const struct rr_msg *m);
int rr__msg_check_finish(struct rr_msg_checker *c, size_t *bad);
/* Copies bytes [from, to) of m to dst; the unchecked values among them are
 * checked block by block just before they are copied (from the cache, so
 * they are read from memory once). RR_OK, or RR_ENOTFINITE with *bad. */
int rr__msg_copy_checked(const struct rr_msg *m, uint8_t *dst, size_t from, size_t to, size_t *bad);
/* The message's bytes as iovecs: its parts, or `one` pointing at pb. */
static inline const struct iovec *rr__msg_iov(const struct rr_msg *m, struct iovec *one, size_t *n) {
  if (m->n_parts) { *n = m->n_parts; return m->parts; }
  one->iov_base = m->pb;
  one->iov_len = m->len;
  *n = 1;
  return one;
}

struct rr_spare { void *p; size_t n, filled; }; /* filled: bytes written (so faulted in) */
#define RR_ADOPT_MAX_BUFS 4
/* Takes large buffers back (from a sink that kept a message, see
 * rr_sink.adopt): kept for reuse within the recording's bound, else freed.
 * Under no lock of the recording. */
void rr__recording_recycle(rr_recording *rec, const struct rr_spare *bufs, int n);

/* A sink receives whole messages, in order, on the batcher thread only. */
struct rr_sink {
  const char *name;
  /* The stream header (if the sink is a byte stream) is the sink's job. */
  int (*write)(struct rr_sink *s, const struct rr_msg *m, rr_error *err);
  int (*flush)(struct rr_sink *s, rr_error *err);
  void (*close)(struct rr_sink *s); /* flushes and frees */
  /* A forked child may keep using the sink even if a write was in flight in
   * the parent at fork time (true for plain file descriptors). */
  bool fork_safe;
  /* Flush tick this sink prefers when the user set none (0: keep), as
   * Rerun's sinks do: live network sinks want low latency (8 ms). */
  int64_t default_flush_tick_ns;
  /* Optional: write() for a message with unchecked regions (struct
   * rr_msg), which it checks itself; RR_ENOTFINITE with *bad the region
   * that failed, and nothing written. */
  int (*write_checked)(struct rr_sink *s, const struct rr_msg *m, size_t *bad, rr_error *err);
  /* Optional: the batcher has written a run of messages. A sink that
   * gathers small messages before it sends them (gRPC) lets them go now;
   * they would otherwise wait for the next write, flush or close. */
  void (*end_run)(struct rr_sink *s);
  /* Optional: write() without a copy. The sink takes m and bufs (the
   * recording's buffers m's parts point into, at most RR_ADOPT_MAX_BUFS),
   * whatever it returns, and gives the buffers back with
   * rr__recording_recycle once m is sent or dropped. */
  int (*adopt)(struct rr_sink *s, struct rr_msg *m, const struct rr_spare *bufs, int n_bufs, rr_error *err);
  /* atfork: set in parent and child while the sink exists, as its file
   * descriptor is then shared with another process */
  _Atomic bool shared;
  /* a write that cannot stay whole if another process appends meanwhile is
   * under way (a forked child then does not keep the sink) */
  _Atomic bool in_place;
};

int rr__sink_file_new(struct rr_sink **out, const char *path, bool compressed, rr_error *err);
int rr__sink_fd_new(struct rr_sink **out, int fd, bool owns_fd, bool compressed, const char *name,
                    rr_error *err);
int rr__sink_memory_new(struct rr_sink **out, bool compressed);
/* Moves out the bytes written so far (whole messages); caller frees. */
uint8_t *rr__sink_memory_take(struct rr_sink *s, size_t *len);

/* Column of an accumulator. */
struct acc_col {
  char *component, *archetype, *component_type;
  struct ArrowSchema list_type; /* "+l" of the value type, child "item" nullable */
  rr_arrow_builder *b;
  /* A static (immutable) component name, e.g. an archetype field's, that
   * equals `component`: then a pointer compare finds the column. NULL
   * until the SDK sets it; columns are zeroed when created. */
  const char *static_key;
};

/* Rows of one (entity, timeline set, static) key not yet closed. */
struct acc {
  char *entity_path; /* canonical */
  bool is_static;
  size_t n_tl;
  struct acc_tl { char *name; int type; rr_buf times; } *tl; /* sorted by name */
  rr_buf row_ids;
  int64_t num_rows;
  size_t n_cols;
  struct acc_col *cols;
  size_t bytes;  /* estimate of data appended since the last close */
  bool unsorted; /* some timeline went backwards since the last close */
  /* Columns given a value in the row being appended, counted by the log
   * path (rr__acc_row_begin zeroes it): when it equals n_cols,
   * rr__acc_row_done has no column to fill with a null. */
  size_t row_cols;
  bool user_cols; /* has columns made by rr_log_columns (types not from the archetype table) */
};

/* The thread's time for one stream. */
struct tl_value { char *name; int type; int64_t value; };


struct rr_recording {
  uint64_t serial;        /* unique per process, keys thread-local state */
  char *app_id, *rec_id;
  bool enabled, strict, compress;
  int64_t flush_tick_ns, flush_num_bytes, flush_num_rows, max_in_flight, block_timeout_ms;
  bool flush_tick_explicit; /* from the options or RERUN_FLUSH_TICK_SECS */
  int64_t max_rows_if_unsorted; /* RERUN_CHUNK_MAX_ROWS_IF_UNSORTED, Rerun's 8192 */
  rr_backpressure policy;

  _Atomic uint64_t msgs_adopted; /* handed to a sink without a copy (rr_sink.adopt), for tests */

  pthread_mutex_t mu;
  pthread_mutex_t sink_mu;  /* held by whoever uses `sink` (the batcher thread, set_sink) */
  pthread_cond_t cv_work;   /* batcher: queue non-empty, flush request, stop */
  pthread_cond_t cv_done;   /* producers: room freed, flush done */
  rr_map path_cache;        /* raw path -> canonical (char *) */
  rr_map accs;              /* key -> struct acc * */
  struct rr_chunk_node {
    struct rr_chunk_node *next;
    struct rr_chunk chunk;
    size_t bytes;
    struct rr_spare big[4]; /* the chunk's large value buffers, to recycle */
    int n_big;
  } *q_head, *q_tail;
  /* Written chunks whose memory the producers free (rr__acc_close) rather
   * than the batcher: memory freed by the thread that allocated it goes
   * back to that thread's malloc cache and arena, where the batcher's frees
   * took the producer's arena lock on every chunk. Under mu; bounded
   * (RR__DONE_MAX_*), past which and when idle the batcher frees them. */
  struct rr_chunk_node *done;
  size_t n_done, done_bytes;
  uint64_t q_in, q_out; /* chunks queued, chunks taken off (written or dropped) */
  /* Large value buffers of written or dropped chunks, already faulted in,
   * handed to the accumulators' builders at their next close instead of
   * fresh memory (see rr__acc_close). Under mu. */
  struct rr_spare spare[8];
  int n_spare;
  size_t spare_bytes;
  size_t q_bytes, acc_bytes;
  int64_t tick;             /* log_tick */
  rr_tuid last_row_id;      /* row ids are made under the lock: strictly increasing */
  uint64_t flush_req, flush_done; /* generations */
  bool stop, closed, thread_running;
  bool fork_sink_locked;    /* atfork: sink_mu was free and is held across fork() */
  pthread_t thread;

  struct rr_sink *sink;     /* NULL: buffered */
  struct rr_msg *buf_head, *buf_tail; /* buffered messages (also replayed to a new sink) */
  bool buffered_keep;       /* keep buffered history */
  bool store_info_sent;
  size_t enc_size_hint;     /* batcher thread: bytes the last encoded message owned */
  /* Batcher thread: recent chunk schemas and their Arrow Schema messages,
   * keyed by rr__chunk_schema_key; the chunk id ("rerun:id") is patched in. */
  struct rr_schema_cache {
    struct { rr_buf key, msg; size_t id_at; struct ArrowSchema schema; } e[8];
    unsigned next;
    rr_buf scratch; /* the key being looked up */
  } schemas;

  rr_recording_stats stats;
  struct rr_recording *next_live; /* list of live streams, for fork handling */
};

/* batcher.c */
void rr__acc_free(struct acc *a);
struct acc *rr__acc_get(rr_recording *rec, const char *path, bool is_static, const struct tl_value *tl,
                        size_t n, rr_buf *key);
struct acc_col *rr__acc_col(struct acc *a, const char *component, const char *archetype,
                            const char *component_type, const struct ArrowSchema *value_type,
                            bool *conflict);
int rr__acc_close(rr_recording *rec, struct acc *a);
/* Queues a chunk (node->bytes: its data; raised to its heap bytes). Under mu. */
void rr__queue_push(rr_recording *rec, struct rr_chunk_node *node);
void rr__acc_discard(rr_recording *rec, struct acc *a);
void rr__acc_drop_columns(struct acc *a); /* only when it has no rows */
int rr__acc_row_begin(rr_recording *rec, struct acc *a, const struct tl_value *tl, size_t n);
int rr__acc_row_done(rr_recording *rec, struct acc *a, size_t bytes);
/* A row larger than max_bytes_in_flight, under a policy that waits for
 * room, is written from the caller's memory instead of being queued: the
 * caller would wait for its write anyway, and a copy of it would be the
 * largest allocation the SDK makes. `a` holds that one row (row begun,
 * small fields appended); the columns in `views` (their index in a->cols)
 * get the caller's values in place. Waits for the queued chunks to be
 * written first, writes the row's chunk on the calling thread, and
 * returns when the sink has it. Under rec->mu (released meanwhile). */
struct rr_view_col {
  size_t col;
  struct ArrowArray values; /* rr_arrow_array_view_values; moved into the chunk */
};
/* Values of at least this many bytes are viewed rather than copied. */
#define RR__DIRECT_MIN_BYTES ((size_t)64 << 10)
/* Writes the row just appended to `a` (its large fields viewed in place:
 * views) at once, after the chunks queued before it. The regions chk[0,
 * n_chk) of the caller's memory are still to be checked (finite floats):
 * RR_ENOTFINITE with *bad the index of one that is not, and nothing
 * written. Under mu (released while writing). */
int rr__acc_write_direct(rr_recording *rec, struct acc *a, struct rr_view_col *views, size_t n_views,
                         const struct rr_msg_check *chk, size_t n_chk, size_t *bad, rr_error *err);
void rr__backpressure(rr_recording *rec);
void *rr__batcher_main(void *arg);
int rr__set_sink(rr_recording *rec, struct rr_sink *sink);
void rr__recording_stop(rr_recording *rec);
void rr__recording_release(rr_recording *rec);
void rr__recording_after_fork_child(rr_recording *rec);
void rr__init_conds(rr_recording *rec);
rr_tuid rr__next_row_id(rr_recording *rec, int64_t now_ns); /* under rec->mu */
/* recording.c */
int rr__start_thread(rr_recording *rec); /* under rec->mu */
/* The thread's timeline values for rec (sorted by name); n = 0 if none.
 * *version changes whenever the set of timelines (names, types) changes. */
const struct tl_value *rr__thread_timelines(const rr_recording *rec, size_t *n, uint64_t *version);
int rr__resolve(rr_recording **rec);
int rr__report(const rr_recording *rec, int rc, rr_error *err, const char *what);

/* Encoding helpers, used by the batcher thread. */
int rr__encode_store_info(rr_recording *rec, struct rr_msg **out, rr_error *err);
int rr__encode_chunk(rr_recording *rec, const struct rr_chunk *c, struct rr_msg **out, rr_error *err);
void rr__schema_cache_free(struct rr_schema_cache *sc);

/* sink_grpc.c / spawn.c: the gRPC sink (see rerun/net.h). */
struct rr_grpc_options;
struct rr_server;
int rr__sink_grpc_new(struct rr_sink **out, rr_recording *rec, const char *url,
                      const struct rr_grpc_options *opts, rr_error *err);
/* sink_server.c: a sink into a server this process hosts (serve_web);
 * owns srv once it returns RR_OK (frees it when it closes). */
int rr__sink_server_new(struct rr_sink **out, rr_recording *rec, struct rr_server *srv, double flush_timeout_sec,
                        rr_error *err);
/* What the live sinks (gRPC, in-process server) use unless told: the flush
 * tick (Rerun's LOW_LATENCY), the queue bound when max_bytes_in_flight is
 * unset, and how long flush waits for progress. */
#define RR_LIVE_FLUSH_TICK_NS 8000000
#define RR_LIVE_QUEUE_BYTES ((uint64_t)100 << 20)
#define RR_LIVE_FLUSH_TIMEOUT_SEC 2.0
/* sinks.c: a sink dropped messages by the stream's policy. rr__drops_warn
 * warns (`who`, `why`) when its total went from `before` to `after` past the
 * first drop or a power of two: never silent, never a flood.
 * rr__recording_count_dropped adds n to the stats (takes rec->mu). */
void rr__drops_warn(const char *who, uint64_t before, uint64_t after, const char *why);
void rr__recording_count_dropped(rr_recording *rec, uint64_t n);

#endif
