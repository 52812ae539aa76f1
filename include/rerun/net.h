/* rerun-c: live sinks of a recording stream (connect, spawn, serve_web).
 *
 * A gRPC sink streams the recording to a Rerun server (ours: `rerun`, or
 * Rerun's own viewer/server) with one long-lived WriteMessages call over
 * HTTP/2 cleartext. The log call never touches the network: encoded
 * messages wait in the sink's queue, bounded by the stream's
 * max_bytes_in_flight, and the sink's own I/O thread sends them. While the
 * connection is being made (or remade, with back-off from 100 ms to 2 s)
 * messages stay queued. When the queue is full the stream's policy applies
 * (rr_backpressure): RR_BACKPRESSURE_DROP_OLDEST (the default, chosen for
 * robots: never stall the control loop) drops the oldest queued chunks;
 * RR_BACKPRESSURE_BLOCK waits up to block_timeout_ms first. Dropped chunks
 * are counted in rr_recording_stats.chunks_dropped and reported on stderr,
 * never silent. Store infos are never dropped, and are sent again first on
 * every new connection. */
#ifndef RERUN_NET_H
#define RERUN_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "errors.h"
#include "sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The default URL: rerun+http://127.0.0.1:9876/proxy */
#define RR_DEFAULT_CONNECT_URL "rerun+http://127.0.0.1:9876/proxy"

typedef struct rr_grpc_options {
  /** How long a flush (rr_recording_flush blocking, disconnect, free) waits
   *  without progress before giving up and leaving (on close: dropping and
   *  counting) what is still queued. Seconds; 0 = 2.0 (Rerun's default);
   *  negative = wait forever. */
  double flush_timeout_sec;
} rr_grpc_options;

/** Streams `rec` to the server at `url` (NULL: RR_DEFAULT_CONNECT_URL;
 *  schemes rerun+http, http; port defaults to 9876). Returns at once:
 *  connecting happens in the background. What was logged before
 *  (buffered) is sent first. RR_EINVAL for a bad URL, RR_EUNSUPPORTED for
 *  rerun+https (no TLS in this build). */
RR_EXTERN int rr_recording_connect_grpc(rr_recording *rec, const char *url, rr_error *err);
RR_EXTERN int rr_recording_connect_grpc_opts(rr_recording *rec, const char *url, const rr_grpc_options *opts,
                                             rr_error *err);
/** Flushes (within the flush timeout), closes the current sink (gRPC,
 *  file, in-process server) and goes back to buffering. */
RR_EXTERN int rr_recording_disconnect(rr_recording *rec);

typedef struct rr_spawn_options {
  int port;                   /**< 0 = 9876 */
  const char *memory_limit;   /**< --server-memory-limit of the server; NULL = its default */
  bool hide_welcome_screen;   /**< passed through */
  /** The `rerun` executable; NULL = $RERUN_EXECUTABLE, else `rerun` on PATH. */
  const char *executable_path;
  int64_t wait_ms;            /**< how long to wait for it to listen; 0 = 5000 */
} rr_spawn_options;

/** Starts `rerun --port PORT` as a detached child process unless something
 *  already listens on 127.0.0.1:PORT, waits until it listens, then connects
 *  like rr_recording_connect_grpc. `opts` may be NULL. RR_ECONN if it did not
 *  come up in time, RR_ENOTFOUND if the executable could not be started. */
RR_EXTERN int rr_recording_spawn(rr_recording *rec, const rr_spawn_options *opts, rr_error *err);

typedef struct rr_serve_web_options {
  const char *bind_host;      /**< NULL = "0.0.0.0" */
  int grpc_port;              /**< 0 = 9876; -1 = any free port */
  int web_port;               /**< 0 = 9090; -1 = any free port */
  uint64_t server_memory_limit; /**< 0 = 1 GiB */
  const char *web_dir;        /**< web viewer files; NULL = $RERUN_WEB_VIEWER_DIR */
  bool open_browser;          /**< open the viewer page with xdg-open, if there is one */
  /** Out: the ports actually bound. */
  int *out_grpc_port, *out_web_port;
} rr_serve_web_options;

/** Runs a server in this process (gRPC proxy + web viewer files), makes it
 *  `rec`'s sink and returns at once. `rec` logs into it directly, with no
 *  connection (rr_server_publish): its messages wait for the server's
 *  loop thread in a queue bounded by max_bytes_in_flight, under the
 *  stream's back-pressure policy. Viewers connect to the gRPC port. The
 *  server lives until the sink is closed (rr_recording_disconnect, another
 *  sink, rr_recording_free). */
RR_EXTERN int rr_recording_serve_web(rr_recording *rec, const rr_serve_web_options *opts, rr_error *err);

#ifdef __cplusplus
}
#endif
#endif
