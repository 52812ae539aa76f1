/* This file is private to rerun-c.
 *
 * The chunk layer: entity paths, and chunks (N rows of one entity: a RowId
 * per row, zero or more timeline columns, one List column per component)
 * with their Arrow record batch form, Sorbet schema 0.1.3
 * (spec/rrd-format.md section 5). No I/O. */
#ifndef RR_CHUNK_H
#define RR_CHUNK_H

#include "arrow/rr_arrow.h"
#include "base/rr_common.h"

/* ---- entity paths -------------------------------------------------------- */

typedef struct rr_path_parts {
  char **parts; /* unescaped, NUL-terminated */
  size_t n;
} rr_path_parts;

/* Parses an entity path. strict: Rerun's strict grammar (special characters
 * must be escaped; no empty parts); else forgiving (duplicate slashes
 * skipped, unknown escapes kept, with *warning set when something was
 * guessed). Invalid UTF-8 is an error in both modes. */
int rr__path_parse(const char *s, size_t n, bool strict, rr_path_parts *out, bool *warning,
                   rr_error *err);
void rr__path_parts_free(rr_path_parts *p);
/* Canonical escaped form: "/" for the root, else "/part/part". */
int rr__path_format(const rr_path_parts *p, rr_buf *out);
/* parse + format, NUL-terminated into out. */
int rr__path_canonical(const char *s, size_t n, bool strict, rr_buf *out, bool *warning,
                       rr_error *err);

/* ---- chunks ---------------------------------------------------------------- */

enum { RR_TL_SEQUENCE = 1, RR_TL_DURATION = 2, RR_TL_TIMESTAMP = 3 };

struct rr_chunk_timeline {
  char *name;
  int type;       /* RR_TL_* */
  int64_t *times; /* num_rows values, rr__malloc'd */
};

struct rr_chunk_component {
  char *component;      /* identifier, e.g. "Points3D:positions" */
  char *archetype;      /* NULL or "rerun.archetypes.Points3D" */
  char *component_type; /* NULL or "rerun.components.Position3D" */
  struct ArrowSchema list_type; /* "+l" with one nullable child "item" */
  struct ArrowArray list;       /* num_rows list slots; null = not logged */
};

struct rr_chunk {
  rr_tuid id;
  char *entity_path;   /* canonical */
  int64_t num_rows;
  uint8_t *row_ids;    /* num_rows x 16 bytes: big-endian TUIDs (byte order = time order) */
  size_t n_timelines;
  struct rr_chunk_timeline *timelines;
  size_t n_components;
  struct rr_chunk_component *components;
  /* Set by the SDK for small chunks: entity_path, row_ids, the timelines
   * (array, names, times) and the components array with its strings live
   * in one block owned by whoever made the chunk, and rr__chunk_clear
   * releases only the component arrays and schemas. */
  bool packed;
};

void rr__chunk_clear(struct rr_chunk *c); /* frees the contents */
bool rr__chunk_is_static(const struct rr_chunk *c);
/* Sorts rows by RowId when they are not in order (stable, every column). */
int rr__chunk_sort_by_row_id(struct rr_chunk *c);
/* Schema + record batch in Rerun's column order and metadata. The batch
 * borrows the chunk's buffers: release it before the chunk. */
int rr__chunk_to_batch(const struct rr_chunk *c, struct ArrowSchema *schema,
                       struct ArrowArray *batch, rr_error *err);
/* The two halves of rr__chunk_to_batch: the schema alone, the batch alone. */
int rr__chunk_schema(const struct rr_chunk *c, struct ArrowSchema *schema, rr_error *err);
int rr__chunk_batch(const struct rr_chunk *c, struct ArrowArray *batch, rr_error *err);
/* Appends to `key` everything the chunk's schema depends on except its id:
 * chunks with equal keys have the same schema but for "rerun:id" (what the
 * encoder's schema cache is keyed by). */
int rr__chunk_schema_key(const struct rr_chunk *c, rr_buf *key);
/* The Arrow IPC stream (schema, batch, EOS) of the chunk, appended to out. */
int rr__chunk_to_ipc(const struct rr_chunk *c, rr_buf *out, rr_error *err);
/* Approximate bytes of data held by the chunk. */
size_t rr__chunk_nbytes(const struct rr_chunk *c);
/* Approximate heap bytes the chunk takes: its data and every allocation
 * around it (for a one-row chunk, thirty times its data). */
size_t rr__chunk_heap_bytes(const struct rr_chunk *c);

/* ---- decoding (chunk_decode.c) ------------------------------------------------ */

/* Builds a chunk from a record batch in Sorbet form (spec §5; legacy
 * variants of §5.9 accepted: old kinds and keys, no sorbet:version,
 * indicator columns dropped, non-List component columns wrapped). Row ids
 * and times are copied; component columns are moved out of `batch` (their
 * buffers are not copied); the caller still releases schema and batch.
 * RR_ECORRUPT / RR_EUNSUPPORTED with a message naming the column. */
int rr__chunk_from_batch(const struct ArrowSchema *schema, struct ArrowArray *batch,
                         struct rr_chunk *out, rr_error *err);
/* The same from an Arrow IPC stream; takes ownership of `data` (from rr__blocks_alloc)
 * in every case: the component buffers point into it. */
int rr__chunk_from_ipc(uint8_t *data, size_t len, struct rr_chunk *out, rr_error *err);

#endif
