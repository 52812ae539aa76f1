/* This file is private to rerun-c (the store and query layers).
 *
 * Layout: a hub owns stores; a store owns entities and stored chunks; an
 * entity lists its chunks. One reader-writer lock per hub: ingestion, GC
 * and compaction take it exclusively, queries share it. A stored chunk is
 * reference counted so that query results (Arrow views into its buffers)
 * outlive its removal by GC or compaction. */
#ifndef RR_STORE_INTERNAL_H
#define RR_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/rr_common.h"
#include "chunk/rr_chunk.h"
#include "encoding/rr_encoding.h"
#include "rerun/store.h"

/* Fences narrow a search to 1/RR__FENCES of the chunk before the time
 * column is read: they sit next to min/max, so a latest-at touches one or
 * two lines of the time column instead of a whole binary search's worth. */
#define RR__FENCES 16

struct rr__tl_index {
  int64_t min, max;
  bool sorted;       /* times non-decreasing in row order */
  uint32_t *perm;    /* when !sorted: rows in (time, RowId) order */
  /* fence[j]: the time at position (j * num_rows) / RR__FENCES in (time,
   * RowId) order (unused when the chunk has no rows) */
  int64_t fence[RR__FENCES];
};

typedef struct rr__schunk {
  struct rr_chunk c;
  atomic_int refs;
  struct rr__entity *ent;
  struct rr__tl_index *tl;  /* one per c.timelines */
  size_t held;              /* bytes counted for this chunk */
  uint64_t seq;             /* ingestion order */
  bool is_static;
  bool dead;                /* removed from the store */
} rr__schunk;

typedef struct rr__comp_info {
  char *component;
  char *archetype, *component_type;
  struct ArrowSchema list_type;
} rr__comp_info;

typedef struct rr__entity {
  char *path;
  rr__schunk **chunks;      /* every live chunk of the entity, ingestion order */
  size_t n_chunks, cap_chunks;
  rr__comp_info *comps;     /* every component ever stored here */
  size_t n_comps, cap_comps;
  size_t pending_from;      /* chunks[pending_from..] are compaction candidates */
} rr__entity;

struct rr__tl_global {
  char *name;
  int type;
  int64_t min, max;
};

struct rr_store {
  struct rr_store_hub *hub;
  rr_store_info info;
  char *app_id, *rec_id;
  uint8_t *source_extra;
  size_t source_extra_len;
  rr_tuid info_row_id;
  int32_t version_bits;
  rr__schunk **chunks;      /* live chunks, ingestion order */
  size_t n_chunks, cap_chunks;
  rr_map entities;          /* path -> rr__entity* */
  char **sorted_paths;      /* cache, rebuilt when dirty */
  size_t n_sorted;
  bool paths_dirty;
  rr_map chunk_ids;         /* 16-byte chunk id -> (void*)1 */
  struct rr__tl_global *tls;
  size_t n_tls;
};

struct rr__sub {
  int id;
  rr_store_chunk_cb cb;
  void *ud;
};

struct rr_store_hub {
  pthread_rwlock_t lock;
  pthread_mutex_t feed_lock; /* one feeder at a time */
  rr_store_options opts;
  rr_store **stores;
  size_t n_stores, cap_stores;
  atomic_uint_fast64_t mem;  /* sum of the live chunks' `held` */
  rr_blocks *pool;           /* decoded IPC bytes of the chunks it ingests */
  uint64_t seq;
  rr_rrd_decoder *dec;
  rr_load_stats stats;
  int input_first_error;
  rr_error input_err;
  struct rr__sub *subs;
  size_t n_subs;
  int next_sub;
};

/* Bytes the hub holds: its chunks plus the unused part of its blocks. */
uint64_t rr__hub_memory(rr_store_hub *h);
void rr__schunk_ref(rr__schunk *c);
void rr__schunk_unref(rr__schunk *c);
/* Ingests a decoded chunk into `s` (moved, cleared on return in every
 * case). Caller holds the write lock. */
int rr__store_ingest_chunk(rr_store *s, struct rr_chunk *c, rr_error *err);
/* Ingests one decoded message (ownership passes). Takes the lock. For the
 * server, which decodes gRPC LogMsgs itself. */
int rr__store_hub_ingest_msg(rr_store_hub *h, rr_log_msg *m, rr_error *err);
rr__entity *rr__store_entity(rr_store *s, const char *path);
/* Index of the component in the chunk, or -1. */
int rr__chunk_find_component(const struct rr_chunk *c, const char *component);
int rr__chunk_find_timeline(const struct rr_chunk *c, const char *timeline);
/* Row i of the chunk holds a (non-null) value for component k. */
bool rr__chunk_row_valid(const struct rr_chunk *c, int k, int64_t row);

/* New chunk made of the rows `rows` (n of them) of src, with a fresh id. */
int rr__chunk_take(const struct rr_chunk *src, const int64_t *rows, int64_t n, struct rr_chunk *out,
                   rr_error *err);
/* Concatenation of n chunks of one entity with the same timelines. */
int rr__chunk_concat(struct rr_chunk *const *src, size_t n, struct rr_chunk *out, rr_error *err);

#endif
