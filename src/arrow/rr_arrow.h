/* This file is private to rerun-c.
 *
 * The arrow layer: Arrow C data interface helpers, array builders, and our
 * own Arrow IPC stream writer and reader (hand-written flatbuffers). It knows
 * nothing about Rerun. Every array and schema it hands out is a standard
 * ArrowArray / ArrowSchema with a release callback; "the caller releases
 * `out` if RR_OK is returned" holds for every function with an `out`.
 *
 * Format strings are the C data interface's: "c" i8, "C" u8, "s" i16,
 * "S" u16, "i" i32, "I" u32, "l" i64, "L" u64, "e" f16, "f" f32, "g" f64,
 * "b" bool, "u" utf8, "z" binary, "w:16" fixed-size binary, "+l" list,
 * "+w:3" fixed-size list, "+s" struct, "+ud:0,1" dense union, "tDn"
 * duration(ns), "tsn:" timestamp(ns, no tz), "n" null. */
#ifndef RR_ARROW_H
#define RR_ARROW_H

#include <stdbool.h>

#include "base/rr_common.h"
#include "rerun/arrow_c.h"

/* ---- schemas ------------------------------------------------------------- */

typedef struct rr_arrow_kv {
  rr_str key;
  rr_str value;
} rr_arrow_kv;

/* Initialises `out` as an owned schema node with `n_children` child slots,
 * each a zeroed ArrowSchema (release == NULL) for the caller to initialise
 * with this function. Strings are copied. Releasing `out` releases every
 * initialised child. */
int rr_arrow_schema_init(struct ArrowSchema *out, const char *format, const char *name,
                         int64_t flags, int64_t n_children);
/* Replaces the metadata of an owned schema node (made by this layer) with
 * the encoded form of the n pairs (copied). n == 0 clears it. */
int rr_arrow_schema_set_metadata(struct ArrowSchema *s, const rr_arrow_kv *kv, size_t n);
/* Deep copy of any schema into an owned one. */
int rr_arrow_schema_copy(struct ArrowSchema *out, const struct ArrowSchema *src);
/* Moves src into dst; src is left released (release == NULL). */
void rr_arrow_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst);
/* Structural type equality. With `strict`, also child names, nullability
 * flags and metadata (the viewer's notion of "same datatype"). */
bool rr_arrow_schema_equal(const struct ArrowSchema *a, const struct ArrowSchema *b, bool strict);
/* Appends to `key` bytes that identify the schema: format, name, flags,
 * metadata and children, recursively. Two schemas append the same bytes
 * exactly when they are strictly equal with the same metadata order (a
 * cache key; cheaper than comparing against every cached schema). */
int rr_arrow_schema_key(rr_buf *key, const struct ArrowSchema *s);
/* Human-readable type, e.g. "List<item: FixedSizeList<3, item: Float32>>". */
int rr_arrow_schema_format(const struct ArrowSchema *s, rr_buf *out);

/* Metadata in the C data interface's binary encoding (NULL = none). */
int64_t rr_arrow_metadata_count(const char *metadata);
/* Bytes of the encoded metadata blob (0 for NULL). */
size_t rr_arrow_metadata_size(const char *metadata);
/* The i-th pair, views into `metadata`. RR_ERANGE past the end. */
int rr_arrow_metadata_at(const char *metadata, int64_t i, rr_arrow_kv *out);
/* Looks `key` up; RR_ENOTFOUND if absent. */
int rr_arrow_metadata_get(const char *metadata, const char *key, rr_str *value);

/* ---- arrays -------------------------------------------------------------- */

/* Initialises `out` as an owned array with `n_buffers` buffer slots (NULL)
 * and `n_children` zeroed child arrays. Buffers set with set_buffer and
 * every initialised child are freed by the release callback. */
int rr_arrow_array_init(struct ArrowArray *out, int64_t length, int64_t null_count,
                        int64_t n_buffers, int64_t n_children);
/* Gives buffer slot `i` of an owned array (made by this layer) the memory
 * `owned`, allocated with rr__malloc; the array frees it. */
void rr_arrow_array_set_buffer(struct ArrowArray *a, int64_t i, void *owned);
/* An array of n values of `type` that views `data`, laid out as Arrow lays
 * out those values (no nulls, no copy): fixed-width primitives, and
 * fixed-size lists of them. The caller keeps `data` alive and unchanged
 * while the array is used. RR_EUNSUPPORTED for other types. */
int rr_arrow_array_view_values(struct ArrowArray *out, const struct ArrowSchema *type, const void *data, int64_t n);
/* Takes ownership of the buffer at `mem` away from an owned array made by
 * this layer (or one of its descendants): it is no longer freed by the
 * release callback; the caller frees it with rr__free after the array is
 * released. Returns mem, or NULL when no owned buffer there was found. */
void *rr_arrow_array_take_buffer(struct ArrowArray *a, const void *mem);
/* Moves src into dst; src is left released. */
void rr_arrow_array_move(struct ArrowArray *src, struct ArrowArray *dst);
/* Full validation of an array against its type (buffer counts, offsets in
 * range and non-decreasing, child lengths, union type ids, UTF-8 for "u").
 * Buffer sizes are not knowable here; the IPC reader checks them. */
int rr_arrow_array_validate(const struct ArrowArray *a, const struct ArrowSchema *s, rr_error *err);
/* Bytes held by the array's buffers, counting each buffer's used size. */
size_t rr_arrow_array_nbytes(const struct ArrowArray *a, const struct ArrowSchema *s);

/* ---- builders ------------------------------------------------------------ */

/* A builder grows one array of a fixed type. Nested types have one child
 * builder per child; append children's values first, then close the parent
 * slot (list_finish / struct_append_valid / union_append). */
typedef struct rr_arrow_builder rr_arrow_builder;

int rr_arrow_builder_new(rr_arrow_builder **out, const struct ArrowSchema *type);
void rr_arrow_builder_free(rr_arrow_builder *b); /* accepts NULL */
rr_arrow_builder *rr_arrow_builder_child(rr_arrow_builder *b, int64_t i);
int64_t rr_arrow_builder_length(const rr_arrow_builder *b);
/* Bytes of memory held by the builder and its children. */
size_t rr_arrow_builder_nbytes(const rr_arrow_builder *b);
/* Appends n valid values given as their packed little-endian bytes:
 * primitives (bool as one byte 0/1 per value), "w:N" (N bytes each), and a
 * fixed-size list whose descendants are all primitive or fixed-size lists
 * (n * N child values, flat). */
int rr_arrow_builder_append_values(rr_arrow_builder *b, const void *values, int64_t n);
/* Appends n nulls (a null type "n" only counts them). Fixed-size lists and
 * structs append matching child nulls;
 * lists append empty null slots; dense unions are rejected (RR_EINVAL). */
int rr_arrow_builder_append_nulls(rr_arrow_builder *b, int64_t n);
/* "u" / "z": one value. "u" checks UTF-8 (RR_EUTF8). */
int rr_arrow_builder_append_bytes(rr_arrow_builder *b, const void *p, size_t n);
/* "+l": closes one valid list slot holding the child values appended since
 * the previous slot closed. */
int rr_arrow_builder_list_finish(rr_arrow_builder *b);
/* "+l": one list slot of n values: append_values on the child, then
 * list_finish, in one call (a fast path for small fixed-width rows). */
int rr_arrow_builder_list_append_values(rr_arrow_builder *b, const void *values, int64_t n);
/* "+s": closes n valid struct slots; every child must have grown by n. */
int rr_arrow_builder_struct_append_valid(rr_arrow_builder *b, int64_t n);
/* "+ud": records one slot of `type_id` pointing at the child's next value;
 * then append exactly one value to that child. */
int rr_arrow_builder_union_append(rr_arrow_builder *b, int8_t type_id);
/* Appends elements [offset, offset + n) of `src` (same type). */
int rr_arrow_builder_append_array(rr_arrow_builder *b, const struct ArrowArray *src,
                                  const struct ArrowSchema *type, int64_t offset, int64_t n);
/* Moves the built array into `out` and resets the builder to empty. */
int rr_arrow_builder_finish(rr_arrow_builder *b, struct ArrowArray *out);
/* Empties the builder, keeping its memory for reuse. */
void rr_arrow_builder_reset(rr_arrow_builder *b);
/* Calls fn(ud, &memory, &capacity, length) for every buffer the builder
 * and its children have allocated (to fault them in ahead of the appends,
 * to find them later in the finished array). fn may replace an EMPTY buffer
 * (length 0) with another block from rr__malloc of the given capacity,
 * freeing or keeping the old one: the builder then owns the new block.
 * fn returns true if the block is now faulted in whole (the builder then
 * does not fault it in ahead of its appends). */
void rr_arrow_builder_visit_buffers(rr_arrow_builder *b, bool (*fn)(void *ud, void **mem, size_t *cap, size_t len),
                                    void *ud);

/* ---- IPC stream ---------------------------------------------------------- */

/* Appends an IPC stream to `out`: the Schema message, one RecordBatch
 * message and the end-of-stream marker. `schema` is a struct ("+s") with one
 * child per column, schema-level metadata on the root; `batch` a struct array
 * of the same type with no nulls of its own. `alignment` is 8 or 64. */
int rr_arrow_ipc_write(rr_buf *out, const struct ArrowSchema *schema,
                       const struct ArrowArray *batch, int alignment, rr_error *err);
/* The same stream as a segment list (see rr_segs in base): metadata and
 * small or transformed buffers are written to out->own, value buffers of
 * out->min_ref bytes or more are borrowed from `batch`, which must then
 * outlive every read of the parts. The stream ends with owned bytes: call
 * rr_segs_sync before reading the parts. On error the list is unusable (the
 * caller discards it). */
int rr_arrow_ipc_write_segs(rr_segs *out, const struct ArrowSchema *schema,
                            const struct ArrowArray *batch, int alignment, rr_error *err);
/* The two halves of rr_arrow_ipc_write_segs, for callers that keep the
 * Schema message of schemas they write often: the Schema message alone, then
 * the RecordBatch message and EOS. */
int rr_arrow_ipc_write_schema_msg(rr_buf *out, const struct ArrowSchema *schema, int alignment, rr_error *err);
int rr_arrow_ipc_write_batch_segs(rr_segs *out, const struct ArrowSchema *schema,
                                  const struct ArrowArray *batch, int alignment, rr_error *err);
/* Appends a stream holding only the Schema message and EOS. */
int rr_arrow_ipc_write_schema(rr_buf *out, const struct ArrowSchema *schema, rr_error *err);

/* Reads the Schema and the first RecordBatch of an IPC stream (input is
 * untrusted: every offset, length and flatbuffer is verified; an error names
 * the byte offset and what was wrong). With `owner_free` non-NULL the reader
 * takes ownership of `data` in every case, output buffers may point into it,
 * and owner_free(owner) runs when the last of them is released (or at once
 * on error); otherwise the buffers are copied and `data` stays the
 * caller's. `batch_out` may be NULL to read the schema only. Bytes after the
 * first RecordBatch are not read. RR_EEOF when a batch was asked for and the
 * stream ends after its Schema; RR_EUNSUPPORTED for valid Arrow this layer
 * does not handle (dictionaries, compression, view/large/sparse-union/decimal
 * types, big-endian, metadata < V4); RR_ECORRUPT / RR_EUTF8 otherwise.
 * Output arrays have offset 0; read null_count is exact (checked against the
 * bitmap), and the validity buffer is NULL when it is 0. */
int rr_arrow_ipc_read(const uint8_t *data, size_t len, void (*owner_free)(void *), void *owner,
                      struct ArrowSchema *schema_out, struct ArrowArray *batch_out,
                      rr_error *err);

#endif
