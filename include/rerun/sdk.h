/* The rerun-c logging SDK.
 *
 * A recording stream (rr_recording) collects rows of archetype data logged to
 * entity paths at the calling thread's current time on any number of
 * timelines, batches them into chunks on a background thread, and hands the
 * encoded chunks to its sink: buffered (the default), a file, stdout, memory
 * or (see net.h) a live server. Every function here is thread-safe unless it
 * says otherwise; any number of threads may log to one stream.
 *
 * Errors: functions return RR_OK or a negative RR_E* code; an optional
 * rr_error receives a message naming what was wrong. In lenient mode (the
 * default) a bad log call is reported as a warning on stderr and ignored, and
 * the function returns RR_OK; in strict mode the error is returned. */
#ifndef RERUN_SDK_H
#define RERUN_SDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arrow_c.h"
#include "archetypes.h"
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_recording rr_recording;

/** What the log call does when the sink falls behind and the stream's
 *  bytes in flight (rows not yet handed to the sink) reach
 *  `max_bytes_in_flight`. Memory stays bounded in every case; what differs
 *  is whether the caller waits or data is dropped (dropped data is counted
 *  in rr_recording_stats and warned about, never silent). */
typedef enum rr_backpressure {
  /** Wait for room up to `block_timeout_ms` (default 5 s), then drop the
   *  oldest chunks not yet written. A gRPC sink's own send queue drops its
   *  oldest messages instead of waiting (a robot must not stall on a slow
   *  network). */
  RR_BACKPRESSURE_DEFAULT = 0,
  /** Never wait: drop the oldest chunks not yet written, and count them. */
  RR_BACKPRESSURE_DROP_OLDEST = 1,
  /** Wait up to `block_timeout_ms` (default 5 s) everywhere, including
   *  the gRPC send queue, then drop the oldest as above. */
  RR_BACKPRESSURE_BLOCK = 2,
} rr_backpressure;

typedef struct rr_recording_options {
  /** Application id; NULL: "unknown_app_id". */
  const char *application_id;
  /** Recording id; NULL: the process default (a random UUIDv4 made once per
   *  process and inherited by child processes through RERUN_RECORDING_ID). */
  const char *recording_id;
  /** Enabled unless false here or RERUN=off; RERUN=on forces on. A disabled
   *  stream accepts every call and does nothing. Default true. */
  bool disabled_by_default;
  /** Return errors (true) or warn and ignore bad calls (false, default). */
  bool strict;
  /** Batching thresholds; 0 = from RERUN_FLUSH_TICK_SECS /
   *  RERUN_FLUSH_NUM_BYTES / RERUN_FLUSH_NUM_ROWS, else Rerun's defaults
   *  (200 ms, 2 MiB, unlimited). */
  int64_t flush_tick_nanos;
  int64_t flush_num_bytes;
  int64_t flush_num_rows;
  /** Bound on bytes logged but not yet handed to the sink (open and closed
   *  chunks); 0 = 100 MiB. */
  int64_t max_bytes_in_flight;
  rr_backpressure backpressure;
  int64_t block_timeout_ms; /**< how long a log call may wait for room; 0 = 5000 */
  /** LZ4-compress chunks (default true unless this is set). */
  bool no_compression;
  /** Do not log the RecordingInfo start time automatically. */
  bool no_start_time;
} rr_recording_options;

/** Creates a stream. The caller frees it with rr_recording_free if RR_OK. */
RR_EXTERN int rr_recording_new(rr_recording **out, const rr_recording_options *opts, rr_error *err);
/** Flushes everything, closes the sink and frees the stream. Accepts NULL. */
RR_EXTERN void rr_recording_free(rr_recording *rec);
/** The recording id of the stream (valid until it is freed). */
RR_EXTERN const char *rr_recording_id(const rr_recording *rec);
RR_EXTERN const char *rr_recording_application_id(const rr_recording *rec);
RR_EXTERN bool rr_recording_is_enabled(const rr_recording *rec);

/** Default streams: a stream passed as NULL to any function resolves to the
 *  calling thread's default if set, else the global default. The caller
 *  keeps ownership; unset (NULL) before freeing the stream. */
RR_EXTERN void rr_set_global_recording(rr_recording *rec);
RR_EXTERN void rr_set_thread_recording(rr_recording *rec);
RR_EXTERN rr_recording *rr_get_recording(void);

/** The process-wide default recording id (see recording_id above). */
RR_EXTERN const char *rr_default_recording_id(void);

/* ---- sinks ------------------------------------------------------------------ */

/** Writes to a new .rrd file at `path` (replaced if it exists). What was
 *  logged before (buffered) is written first. Every frame is written whole,
 *  so a killed process leaves a file whose complete messages all decode.
 *  RR_EIO if the path cannot be opened for writing. */
RR_EXTERN int rr_recording_save(rr_recording *rec, const char *path, rr_error *err);
/** Writes the .rrd stream to stdout. If stdout is a terminal, stays buffered
 *  and warns. */
RR_EXTERN int rr_recording_stdout(rr_recording *rec, rr_error *err);
/** Keeps the complete .rrd stream in memory; see rr_recording_memory_drain. */
RR_EXTERN int rr_recording_memory(rr_recording *rec, rr_error *err);
/** Flushes, then moves out the bytes written to the memory sink so far; the
 *  first drain starts with the stream header, each one holds whole messages.
 *  Caller frees *bytes with rr_free. RR_EINVAL if the sink is not memory. */
RR_EXTERN int rr_recording_memory_drain(rr_recording *rec, uint8_t **bytes, size_t *len);
/** Flushes the batcher and, if `blocking`, waits until the sink has the data
 *  (at most timeout_ms; <0 = forever). */
RR_EXTERN int rr_recording_flush(rr_recording *rec, bool blocking, int64_t timeout_ms);
RR_EXTERN void rr_free(void *p);

typedef struct rr_recording_stats {
  uint64_t rows_logged;
  uint64_t chunks_written;
  uint64_t bytes_written;
  uint64_t chunks_dropped; /**< by the backpressure policy */
  uint64_t rows_dropped;
  uint64_t bytes_in_flight;
  uint64_t write_errors;
} rr_recording_stats;
RR_EXTERN void rr_recording_stats_get(rr_recording *rec, rr_recording_stats *out);

/* ---- time ---------------------------------------------------------------------- */

/** The calling thread's time on `timeline` for later log calls on `rec`. */
RR_EXTERN int rr_set_time_sequence(rr_recording *rec, const char *timeline, int64_t value);
RR_EXTERN int rr_set_time_duration_nanos(rr_recording *rec, const char *timeline, int64_t nanos);
RR_EXTERN int rr_set_time_duration_secs(rr_recording *rec, const char *timeline, double secs);
RR_EXTERN int rr_set_time_timestamp_nanos(rr_recording *rec, const char *timeline, int64_t nanos_since_epoch);
RR_EXTERN int rr_set_time_timestamp_secs(rr_recording *rec, const char *timeline, double secs_since_epoch);
/** Stops using `timeline` on this thread. */
RR_EXTERN int rr_disable_timeline(rr_recording *rec, const char *timeline);
/** Clears every timeline of this thread (log_time and log_tick remain). */
RR_EXTERN int rr_reset_time(rr_recording *rec);

/* ---- logging ------------------------------------------------------------------- */

/** Logs one archetype (see archetypes.h) to `entity_path` at the thread's
 *  current time (or statically: on every timeline, shadowing temporal data).
 *  Fields whose pointer is NULL are not logged (a partial update); a non-NULL
 *  pointer with count 0 logs an empty list. The data is copied. */
RR_EXTERN int rr_log(rr_recording *rec, const char *entity_path, rr_archetype_id type,
                     const void *archetype, rr_error *err);
RR_EXTERN int rr_log_static(rr_recording *rec, const char *entity_path, rr_archetype_id type,
                            const void *archetype, rr_error *err);

/** One column of arbitrary Arrow data: AnyValues and custom components. */
typedef struct rr_component_column {
  const char *component;      /**< identifier, e.g. "confidence" or "Points3D:positions" */
  const char *archetype;      /**< optional, e.g. "rerun.archetypes.Points3D" */
  const char *component_type; /**< optional, e.g. "rerun.components.Scalar" */
  const struct ArrowSchema *schema; /**< type of one instance */
  struct ArrowArray *array;   /**< the instances; moved in on RR_OK (release set to NULL) */
} rr_component_column;

/** Logs n columns as one row (AnyValues): each array holds the instances of
 *  its component in this row. Arrays are moved in without a copy. */
RR_EXTERN int rr_log_columns(rr_recording *rec, const char *entity_path, rr_component_column *cols,
                             size_t n, bool is_static, rr_error *err);

typedef enum rr_time_type {
  RR_TIME_SEQUENCE = 1,
  RR_TIME_DURATION = 2,  /**< nanoseconds */
  RR_TIME_TIMESTAMP = 3, /**< nanoseconds since the Unix epoch */
} rr_time_type;

typedef struct rr_time_column {
  const char *timeline;
  rr_time_type type;
  const int64_t *times; /**< one per row */
} rr_time_column;

/** A component over N rows: `array` holds every instance of every row; row i
 *  holds `lengths[i]` instances (lengths == NULL: one instance per row). */
typedef struct rr_columnar_component {
  rr_component_column column;
  const uint32_t *lengths;
} rr_columnar_component;

/** Sends N rows of one entity at once, without batching and without the
 *  thread's current time (only the given time columns). Arrays are moved in
 *  without a copy. */
RR_EXTERN int rr_send_columns(rr_recording *rec, const char *entity_path, const rr_time_column *times,
                              size_t n_times, size_t n_rows, rr_columnar_component *cols,
                              size_t n_cols, rr_error *err);

/** Clears `entity_path` (and, if recursive, its descendants) at the current time. */
RR_EXTERN int rr_log_clear(rr_recording *rec, const char *entity_path, bool recursive, rr_error *err);

/** Recording properties (static, under /__properties). */
RR_EXTERN int rr_recording_set_name(rr_recording *rec, const char *name, rr_error *err);
RR_EXTERN int rr_recording_set_start_time_nanos(rr_recording *rec, int64_t nanos_since_epoch, rr_error *err);
/** Custom properties: columns logged at /__properties/<entry>. */
RR_EXTERN int rr_recording_send_property(rr_recording *rec, const char *entry, rr_component_column *cols,
                                         size_t n, rr_error *err);

/* ---- entity paths -------------------------------------------------------------- */

/** Parses `path` into its canonical string ("/world/my\ image\!"), written
 *  NUL-terminated into out (capacity out_cap). strict: Rerun's strict
 *  grammar (every special character escaped); else forgiving. */
RR_EXTERN int rr_entity_path_normalize(const char *path, bool strict, char *out, size_t out_cap,
                                       rr_error *err);
/** Joins unescaped parts into a canonical path. */
RR_EXTERN int rr_entity_path_from_parts(const char *const *parts, size_t n, char *out, size_t out_cap,
                                        rr_error *err);

#ifdef __cplusplus
}
#endif
#endif
