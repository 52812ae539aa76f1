/* rerun-c chunk stores.
 *
 * A store hub (rr_store_hub) holds one store (rr_store) per store id
 * (kind, application id, recording id): recordings and blueprints. Data
 * arrives as RRD bytes from any source (files, stdin, sockets: feed the
 * bytes as they come) and is decoded, validated and indexed per entity and
 * timeline. Ingestion may run concurrently with queries (rerun/query.h)
 * from any number of threads: every function here is thread-safe.
 *
 * Memory: every byte the stores and their query indexes hold is counted
 * (rr_store_hub_memory). With a memory limit, ingestion drops the oldest
 * temporal chunks (by their smallest RowId) until the count is under the
 * limit; static data is never dropped.
 *
 * Compaction: a new chunk is merged with the previous small chunk of the
 * same entity with the same timelines and component types while the result
 * stays within chunk_max_rows rows and chunk_max_bytes bytes (Rerun's
 * defaults: 4096 rows, 4 MiB). At ingestion, a chunk of a quarter of
 * chunk_max_bytes or more is kept as it came (no copy); rr_store_compact
 * still merges such chunks. */
#ifndef RERUN_STORE_H
#define RERUN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arrow_c.h"
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_store_hub rr_store_hub;
typedef struct rr_store rr_store;

typedef struct rr_store_options {
  /** Compaction thresholds; 0 = 4096 rows / 4 MiB. */
  int64_t chunk_max_rows;
  int64_t chunk_max_bytes;
  /** Keep chunks exactly as they arrive (tools that copy files). */
  bool no_compaction;
  /** Byte budget over all stores of the hub; 0 = unlimited. */
  uint64_t memory_limit;
} rr_store_options;

/** Store kinds, as in the RRD StoreId. */
enum { RR_STORE_RECORDING = 1, RR_STORE_BLUEPRINT = 2 };

/** Parses "2GB", "512MiB", "100000", "75%" (of physical memory) into bytes. */
RR_EXTERN int rr_parse_memory_limit(const char *s, uint64_t *out, rr_error *err);

/** Creates an empty hub; `opts` may be NULL. Free it with rr_store_hub_free. */
RR_EXTERN int rr_store_hub_new(rr_store_hub **out, const rr_store_options *opts);
RR_EXTERN void rr_store_hub_free(rr_store_hub *h); /* accepts NULL */

/** What loading reported. */
typedef struct rr_load_stats {
  uint64_t bytes;          /**< input bytes consumed */
  uint64_t messages;       /**< messages decoded */
  uint64_t chunks;         /**< chunks ingested */
  uint64_t errors;         /**< messages or chunks rejected */
  int first_error;         /**< code of the first error (RR_OK if none) */
  char first_error_msg[256];
  char warning[256];       /**< e.g. a stream newer than 0.33 ("" if none) */
} rr_load_stats;

/** Feeds RRD bytes split anywhere (any source: stdin, a socket, a file);
 *  each stream-level source is one call sequence ending with
 *  rr_store_hub_finish. Errors in the data are counted in the stats and the
 *  first one kept; returns < 0 only on RR_ENOMEM or misuse. */
RR_EXTERN int rr_store_hub_feed(rr_store_hub *h, const void *p, size_t n, rr_error *err);
/** Ends the current input: a partial frame becomes an error. Returns RR_OK
 *  or the first error of this input (with `err` filled) if there was one. */
RR_EXTERN int rr_store_hub_finish(rr_store_hub *h, rr_error *err);
/** Reads a whole file ("-" = stdin) through feed + finish. */
RR_EXTERN int rr_store_hub_load_path(rr_store_hub *h, const char *path, rr_error *err);
/** Cumulative statistics of everything fed so far. */
RR_EXTERN void rr_store_hub_load_stats(rr_store_hub *h, rr_load_stats *out);

/** Stores, in the order they were first seen. The pointers stay valid until
 *  the hub is freed. */
RR_EXTERN size_t rr_store_hub_count(rr_store_hub *h);
RR_EXTERN rr_store *rr_store_hub_at(rr_store_hub *h, size_t i);
/** The store with this id, or NULL. */
RR_EXTERN rr_store *rr_store_hub_find(rr_store_hub *h, int kind, const char *application_id,
                                      const char *recording_id);

/** Bytes held by every store and query index of the hub. */
RR_EXTERN uint64_t rr_store_hub_memory(rr_store_hub *h);
/** Drops the oldest temporal chunks until at most `target` bytes are held
 *  (static data is kept). Returns the number of bytes freed. */
RR_EXTERN uint64_t rr_store_hub_gc(rr_store_hub *h, uint64_t target);

/** Called (from the ingesting thread, after the chunk is queryable) for
 *  every chunk added to any store of the hub: `chunk_index` for
 *  rr_store_chunk_*; a compacted chunk is reported again under its new
 *  index. Returns a subscription id >= 0. */
typedef void (*rr_store_chunk_cb)(void *ud, rr_store *store, size_t chunk_index);
RR_EXTERN int rr_store_hub_subscribe(rr_store_hub *h, rr_store_chunk_cb cb, void *ud);
RR_EXTERN void rr_store_hub_unsubscribe(rr_store_hub *h, int subscription);

/* ---- one store ----------------------------------------------------------- */

typedef struct rr_store_info {
  int kind;                    /**< RR_STORE_RECORDING / RR_STORE_BLUEPRINT */
  const char *application_id;  /**< valid while the hub lives */
  const char *recording_id;
  bool has_store_info;         /**< a SetStoreInfo was seen */
  int source_kind;             /**< StoreSourceKind (0 unknown) */
  bool has_version;
  char version[32];            /**< e.g. "0.33.0" */
  bool activated;              /**< a BlueprintActivationCommand was seen */
  bool make_active, make_default;
} rr_store_info;
RR_EXTERN void rr_store_get_info(rr_store *s, rr_store_info *out);

typedef struct rr_store_stats {
  uint64_t chunks, static_chunks, rows, bytes;
  uint64_t entities, timelines;
} rr_store_stats;
RR_EXTERN void rr_store_get_stats(rr_store *s, rr_store_stats *out);

/** Entity paths (canonical, sorted). Returns the number written (up to
 *  cap) and sets *total. The strings stay valid while the hub lives. */
RR_EXTERN size_t rr_store_entities(rr_store *s, const char **out, size_t cap, size_t *total);

typedef struct rr_timeline_info {
  const char *name;
  int type;          /**< 1 sequence, 2 duration (ns), 3 timestamp (ns) */
  int64_t min, max;  /**< over every stored row */
} rr_timeline_info;
RR_EXTERN size_t rr_store_timelines(rr_store *s, rr_timeline_info *out, size_t cap);

/** Chunks currently held, oldest first (indexes change on compaction and GC). */
RR_EXTERN size_t rr_store_chunk_count(rr_store *s);

typedef struct rr_chunk_summary {
  char id[40];            /**< "chunk_" + 32 hex */
  const char *entity_path;
  int64_t num_rows;
  bool is_static;
  uint64_t bytes;         /**< bytes of data held */
  size_t n_timelines, n_components;
} rr_chunk_summary;
RR_EXTERN int rr_store_chunk_summary(rr_store *s, size_t i, rr_chunk_summary *out);
/** The chunk as a Sorbet 0.1.3 record batch (schema "+s" with Rerun's
 *  metadata, one child per column). The arrays are copies-free views kept
 *  alive by their release callback. */
RR_EXTERN int rr_store_chunk_batch(rr_store *s, size_t i, struct ArrowSchema *schema,
                                   struct ArrowArray *batch, rr_error *err);

/* ---- writing ------------------------------------------------------------- */

/** Which rows rr_store_hub_write_rrd writes. */
typedef struct rr_store_filter {
  const char *entity_glob;    /**< see rr_entity_path_match; NULL = all */
  const char *timeline;       /**< with [time_min, time_max]: keep rows in range */
  int64_t time_min, time_max;
  bool drop_static;
  bool drop_temporal;
} rr_store_filter;

/** Sink for written bytes: returns RR_OK or a negative code. */
typedef int (*rr_write_fn)(void *ud, const void *p, size_t n);

/** Writes every store as an RRD stream (header, SetStoreInfo when one was
 *  seen, one ArrowMsg per chunk, BlueprintActivationCommand when seen).
 *  `filter` may be NULL. */
RR_EXTERN int rr_store_hub_write_rrd(rr_store_hub *h, bool lz4, const rr_store_filter *filter,
                                     rr_write_fn write, void *ud, rr_error *err);

/** Merges every small chunk it can (thresholds of the hub's options). */
RR_EXTERN int rr_store_compact(rr_store *s, rr_error *err);

/** Entity path glob: a part that is one star matches any one part, a part
 *  of two stars any number of parts (so "world" followed by a two-star part
 *  matches /world and everything under it); other parts match exactly. */
RR_EXTERN bool rr_entity_path_match(const char *glob, const char *path);

#ifdef __cplusplus
}
#endif
#endif
