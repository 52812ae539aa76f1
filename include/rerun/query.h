/* rerun-c queries over a store (rerun/store.h).
 *
 * Semantics follow Rerun 0.33:
 * - latest-at (entity, component, timeline, t): the value of the row with
 *   the greatest (time, RowId) at or before t that holds the component
 *   (null cells skipped; an empty list, e.g. from a Clear, is a value).
 *   Static data of the component shadows all temporal data.
 * - range (entity, component, timeline, [t0, t1]): every row in the range
 *   that holds the component, as record batches, each sorted by
 *   (time, RowId); with static data for the component, the static value
 *   only (is_static set, time column = INT64_MIN).
 * - dataframe: one row per distinct index time in the range among the
 *   selected columns' rows; each cell is that column's last row (by
 *   RowId) at exactly that time, or with fill_latest_at the latest-at
 *   value; static columns hold their static value in every row.
 *
 * Results are Arrow C data interface arrays. latest-at and range results
 * are views into the store's chunks (no copy); they stay valid after the
 * data is garbage collected, until released. Every function is
 * thread-safe and may run concurrently with ingestion. */
#ifndef RERUN_QUERY_H
#define RERUN_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arrow_c.h"
#include "common.h"
#include "errors.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_latest_at {
  bool found;
  bool is_static;
  int64_t time;              /**< INT64_MIN when static */
  uint8_t row_id[16];        /**< big-endian TUID */
  struct ArrowSchema type;   /**< the instances' type (the list item) */
  struct ArrowArray values;  /**< the instances (a view, no copy) */
} rr_latest_at;

/** latest-at of one component. `timeline` may be NULL for static data only.
 *  An unknown entity, component or timeline is not an error: found = false.
 *  Release the result with rr_latest_at_release (also when not found). */
RR_EXTERN int rr_query_latest_at(rr_store *s, const char *entity, const char *component,
                                 const char *timeline, int64_t time, rr_latest_at *out, rr_error *err);
RR_EXTERN void rr_latest_at_release(rr_latest_at *r);

typedef struct rr_range_query rr_range_query;
RR_EXTERN int rr_query_range_new(rr_range_query **out, rr_store *s, const char *entity,
                                 const char *component, const char *timeline, int64_t t0, int64_t t1,
                                 rr_error *err);
/** The next batch: a struct of 3 columns "rerun.controls.RowId" (w:16),
 *  the timeline (l / tDn / tsn:) and the component (List). RR_EEOF when
 *  done. The caller releases schema and batch. */
RR_EXTERN int rr_query_range_next(rr_range_query *q, struct ArrowSchema *schema,
                                  struct ArrowArray *batch, rr_error *err);
RR_EXTERN bool rr_query_range_is_static(const rr_range_query *q);
RR_EXTERN void rr_query_range_free(rr_range_query *q); /* accepts NULL */

typedef struct rr_dataframe_options {
  const char *index;                 /**< timeline name (required) */
  int64_t time_min, time_max;        /**< inclusive */
  const char *const *entities;       /**< entity path globs; n = 0: all */
  size_t n_entities;
  const char *const *components;     /**< component ids ("Scalars:scalars") or
                                          their field part ("scalars"); n = 0: all */
  size_t n_components;
  bool fill_latest_at;               /**< fill empty cells with latest-at values */
  int64_t batch_rows;                /**< rows per batch; 0 = 4096 */
} rr_dataframe_options;

typedef struct rr_dataframe_query rr_dataframe_query;
RR_EXTERN int rr_query_dataframe_new(rr_dataframe_query **out, rr_store *s,
                                     const rr_dataframe_options *opts, rr_error *err);
/** Columns: the index (named after the timeline), then one List column per
 *  (entity, component) named "<entity>:<component>". */
RR_EXTERN int rr_query_dataframe_schema(rr_dataframe_query *q, struct ArrowSchema *out);
/** The next record batch (RR_EEOF when done). */
RR_EXTERN int rr_query_dataframe_next(rr_dataframe_query *q, struct ArrowSchema *schema,
                                      struct ArrowArray *batch, rr_error *err);
RR_EXTERN void rr_query_dataframe_free(rr_dataframe_query *q); /* accepts NULL */

/* ---- value formatting (tools) ---------------------------------------------- */

enum { RR_FORMAT_TEXT = 0, RR_FORMAT_JSON = 1 };
/** Element i of an array as text: numbers in shortest round-trip form,
 *  lists and fixed-size lists as [a, b], structs as {name: v}, null as
 *  "null"; JSON style quotes strings and keys and writes NaN/inf as null.
 *  Returns a NUL-terminated string to free with rr_string_free, or NULL on
 *  out of memory. */
RR_EXTERN char *rr_format_value(const struct ArrowSchema *type, const struct ArrowArray *a, int64_t i,
                                int style);
/** A type as text, e.g. "List<item: FixedSizeList<3, item: Float32>>". */
RR_EXTERN char *rr_format_type(const struct ArrowSchema *type);
RR_EXTERN void rr_string_free(char *s);
/** Bytes held by an array's buffers (used sizes). */
RR_EXTERN size_t rr_array_nbytes(const struct ArrowArray *a, const struct ArrowSchema *s);

/** Writes a record-batch stream as an Arrow IPC *file* (magic, schema,
 *  batches, footer): what DuckDB, Polars and pandas open directly.
 *  Call begin once, then add per batch, then end. */
typedef struct rr_ipc_file_writer rr_ipc_file_writer;
RR_EXTERN int rr_ipc_file_writer_new(rr_ipc_file_writer **out, const struct ArrowSchema *schema,
                                     rr_write_fn write, void *ud, rr_error *err);
RR_EXTERN int rr_ipc_file_writer_add(rr_ipc_file_writer *w, const struct ArrowArray *batch, rr_error *err);
RR_EXTERN int rr_ipc_file_writer_finish(rr_ipc_file_writer *w, rr_error *err);
RR_EXTERN void rr_ipc_file_writer_free(rr_ipc_file_writer *w); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
