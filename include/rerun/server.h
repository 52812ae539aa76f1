/* The rerun-c live server: Rerun's gRPC message proxy
 * (rerun.sdk_comms.v1alpha1.MessageProxyService) on one port, spoken as
 * gRPC over HTTP/2 cleartext by SDKs and as gRPC-Web over HTTP/1.1 (with
 * CORS) by browsers, plus an optional static file server for a web viewer.
 *
 * WriteMessages (any number of concurrent writers) feeds every LogMsg to all
 * connected ReadMessages streams and to a history buffer; a new reader gets
 * the history first (store infos and blueprints, then static, then other
 * chunks, each in arrival order), then live messages. The history is
 * bounded by `memory_limit`: over it, the oldest temporal chunks are dropped
 * first, then the oldest static ones; store infos and blueprints never. A
 * reader that falls more than `reader_max_pending` bytes behind is dropped
 * (it never slows writers or other readers); a client that sends bad
 * HTTP/2, bad gRPC framing or a bad LogMsg is dropped; both are logged.
 *
 * The server runs its own event loop thread (libuv) between rr_server_start
 * and rr_server_stop. Every function is thread-safe. */
#ifndef RERUN_SERVER_H
#define RERUN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_server rr_server;

typedef struct rr_server_options {
  const char *bind_host;        /**< default "0.0.0.0" (as Rerun) */
  int port;                     /**< gRPC port; default 9876; 0 = any free port */
  /** History bound in bytes (default 1 GiB as Rerun); 0 = no history (pure forwarding). */
  uint64_t memory_limit;
  /** Live bytes a reader may fall behind before it is dropped (default 256 MiB). */
  uint64_t reader_max_pending;
  /** Every received message is also appended to this .rrd file (NULL: none). */
  const char *save_path;
  /** Web viewer static files: port (-1 = none, the default; 0 = any free
   *  port) and directory (holding index.js, re_viewer.js, re_viewer_bg.wasm
   *  of the @rerun-io/web-viewer package, or a complete site with index.html). */
  int web_port;
  const char *web_dir;
  /** An extra allowed CORS origin pattern ('*' globs), NULL: Rerun's defaults only. */
  const char *cors_allow_origin;
  /** Every received message is also ingested into this store hub (borrowed;
   *  must outlive the server; NULL: none), for queries on live data. */
  struct rr_store_hub *store;
} rr_server_options;

/** Fills the defaults above. */
RR_EXTERN void rr_server_options_init(rr_server_options *o);

/** Creates a server and binds its listeners (so the ports are known and in
 *  use when it returns). The caller frees it with rr_server_free if RR_OK.
 *  RR_ECONN if a port cannot be bound, RR_EIO if save_path cannot be opened. */
RR_EXTERN int rr_server_new(rr_server **out, const rr_server_options *opts, rr_error *err);
/** Starts serving on a thread of its own. */
RR_EXTERN int rr_server_start(rr_server *s, rr_error *err);
/** The bound ports (useful with port 0). Web port -1 if none. */
RR_EXTERN int rr_server_port(const rr_server *s);
RR_EXTERN int rr_server_web_port(const rr_server *s);
/** Decodes an .rrd file (path "-" = standard input) and publishes its
 *  messages as if a writer had sent them. Blocks the calling thread until
 *  the input ends; the server must be started. Decode errors are reported
 *  as warnings and skipped. RR_ENOTFOUND/RR_EIO if the file cannot be read. */
RR_EXTERN int rr_server_load(rr_server *s, const char *path, rr_error *err);
/** How rr_server_publish queues a message for the server's loop thread. */
typedef struct rr_publish_options {
  /** While the messages the loop thread has not taken yet exceed this many
   *  bytes (0: 64 MiB), the call waits for room up to `wait_ms` (< 0: as
   *  long as it takes), then drops the oldest of them (store infos and
   *  blueprints never) and counts them in *dropped. */
  uint64_t max_pending;
  int64_t wait_ms;
  /** More messages follow at once: the loop thread is not woken for this
   *  one, but by the next publish without `more`, rr_server_publish_end or
   *  rr_server_flush (one wake-up for a run of messages, not one each). */
  bool more;
} rr_publish_options;

/** Publishes one log message made in this process as if a client had
 *  written it (history, readers, store, --save), without a connection:
 *  how an SDK that hosts the server logs into it. `kind` is the LogMsg
 *  member (1 SetStoreInfo, 2 ArrowMsg, 3 BlueprintActivationCommand), its
 *  encoded bytes in `parts` (copied before it returns; checked as a
 *  client's message is: RR_ECORRUPT and the like, nothing published).
 *  `opts` may be NULL (64 MiB, no wait, wake at once); `dropped` may be
 *  NULL. Thread-safe. RR_ECLOSED if the server is not running. */
RR_EXTERN int rr_server_publish(rr_server *s, int kind, const struct iovec *parts, size_t n_parts,
                                const rr_publish_options *opts, uint64_t *dropped, rr_error *err);
/** Wakes the loop thread for the messages published with `more`. */
RR_EXTERN void rr_server_publish_end(rr_server *s);
/** Waits until the loop thread has taken every message published so far
 *  (rr_server_publish, rr_server_load), up to `timeout_ms` (< 0: no limit):
 *  RR_ETIMEDOUT then. */
RR_EXTERN int rr_server_flush(rr_server *s, int64_t timeout_ms, rr_error *err);
/** Stops the loop, closes every connection and joins the thread. Idempotent. */
RR_EXTERN void rr_server_stop(rr_server *s);
/** Stops (if needed) and frees. Accepts NULL. */
RR_EXTERN void rr_server_free(rr_server *s);

typedef struct rr_server_stats {
  uint64_t messages_received, bytes_received;
  uint64_t history_messages, history_bytes;
  uint64_t messages_dropped, bytes_dropped;  /**< from the history, by the memory limit */
  uint64_t message_bytes_live;               /**< message bytes still referenced anywhere */
  uint64_t connections, writers, readers;    /**< current */
  uint64_t clients_dropped;                  /**< bad input or too slow */
} rr_server_stats;
RR_EXTERN void rr_server_stats_get(rr_server *s, rr_server_stats *out);

#ifdef __cplusplus
}
#endif
#endif
