/* The batcher: accumulators of rows per (entity, timeline set, static), the
 * queue of closed chunks, the batcher thread that encodes them and feeds the
 * sink, flushing, backpressure and fork handling. */
#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <time.h>

#include "encoding/rr_encoding.h"
#include "sdk_internal.h"
#include "types/rr_types.h"

void rr__msg_free(struct rr_msg *m) {
  if (!m) return;
  rr__free(m->parts);
  rr__free(m->pb);
  rr__free(m);
}

int rr__msg_own(struct rr_msg *m) {
  if (!m->n_parts) return RR_OK;
  uint8_t *p = rr__malloc(m->len ? m->len : 1);
  if (!p) return RR_ENOMEM;
  size_t at = 0;
  for (size_t i = 0; i < m->n_parts; i++) {
    memcpy(p + at, m->parts[i].iov_base, m->parts[i].iov_len);
    at += m->parts[i].iov_len;
  }
  rr__free(m->parts);
  rr__free(m->pb);
  m->parts = NULL;
  m->n_parts = 0;
  m->pb = p;
  return RR_OK;
}

int rr__msg_check_all(const struct rr_msg *m, size_t *bad) {
  for (size_t i = 0; i < m->n_chk; i++)
    if (!rr__all_finite_f32(m->chk[i].p, m->chk[i].n / 4)) { *bad = i; return RR_ENOTFINITE; }
  return RR_OK;
}

/* Checked blocks: small enough to stay in the cache between the check and
 * the copy, large enough that the calls cost nothing. */
#define RR__CHECK_BLOCK ((size_t)128 << 10)

int rr__msg_copy_checked(const struct rr_msg *m, uint8_t *dst, size_t from, size_t to, size_t *bad) {
  struct iovec one;
  size_t n, at = 0;
  const struct iovec *iov = rr__msg_iov(m, &one, &n);
  for (size_t i = 0; i < n && at < to; at += iov[i].iov_len, i++) {
    size_t lo = from > at ? from - at : 0, hi = to - at < iov[i].iov_len ? to - at : iov[i].iov_len;
    const uint8_t *p = (const uint8_t *)iov[i].iov_base + lo, *end = (const uint8_t *)iov[i].iov_base + hi;
    uint8_t *d = dst + (at + lo - from);
    while (p < end) {
      size_t take = (size_t)(end - p), k = 0;
      for (; k < m->n_chk; k++) /* the unchecked region p is in, if any */
        if (p >= m->chk[k].p && p < m->chk[k].p + m->chk[k].n) break;
      if (k < m->n_chk) {
        const struct rr_msg_check *c = &m->chk[k];
        size_t left = (size_t)(c->p + c->n - p);
        if (take > left) take = left;
        if (take > RR__CHECK_BLOCK) take = RR__CHECK_BLOCK;
        /* whole values: from the start of the one p is in, to the end of
         * the one the block ends in (another thread may check it too) */
        const uint8_t *v = c->p + ((size_t)(p - c->p) & ~(size_t)3);
        size_t count = (size_t)(p + take - v + 3) / 4, most = (size_t)(c->p + c->n - v) / 4;
        if (!rr__all_finite_f32(v, count < most ? count : most)) { *bad = k; return RR_ENOTFINITE; }
      } else {
        for (size_t j = 0; j < m->n_chk; j++) /* up to the next region, if one begins before end */
          if (m->chk[j].p > p && m->chk[j].p < p + take) take = (size_t)(m->chk[j].p - p);
      }
      memcpy(d, p, take);
      d += take;
      p += take;
    }
  }
  return RR_OK;
}

/* Below this many bytes to check, a thread costs more than it saves. */
#define RR__CHECK_THREAD_MIN ((size_t)16 << 20)

static void *checker_main(void *arg) {
  struct rr_msg_checker *c = arg;
  pthread_setname_np(pthread_self(), "rr-check");
  c->rc = rr__msg_check_all(c->m, &c->bad);
  return NULL;
}

int rr__msg_check_start(struct rr_msg_checker *c, const struct rr_msg *m) {
  size_t n = 0;
  for (size_t i = 0; i < m->n_chk; i++) n += m->chk[i].n;
  c->m = m;
  c->bad = 0;
  c->rc = RR_OK;
  c->threaded = n >= RR__CHECK_THREAD_MIN && pthread_create(&c->thread, NULL, checker_main, c) == 0;
  if (!c->threaded) c->rc = rr__msg_check_all(m, &c->bad);
  return c->rc;
}

int rr__msg_check_finish(struct rr_msg_checker *c, size_t *bad) {
  if (c->threaded) pthread_join(c->thread, NULL);
  c->threaded = false;
  if (c->rc < 0) *bad = c->bad;
  return c->rc;
}

/* ---- accumulators ----------------------------------------------------------- */

static void acc_col_free(struct acc_col *c) {
  rr__free(c->component);
  rr__free(c->archetype);
  rr__free(c->component_type);
  if (c->list_type.release) c->list_type.release(&c->list_type);
  rr_arrow_builder_free(c->b);
}

void rr__acc_free(struct acc *a) {
  if (!a) return;
  rr__free(a->entity_path);
  for (size_t i = 0; i < a->n_tl; i++) {
    rr__free(a->tl[i].name);
    rr_buf_free(&a->tl[i].times);
  }
  rr__free(a->tl);
  rr_buf_free(&a->row_ids);
  for (size_t i = 0; i < a->n_cols; i++) acc_col_free(&a->cols[i]);
  rr__free(a->cols);
  rr__free(a);
}

/* Discards the rows of an accumulator (after fork in the child; after an
 * out-of-memory error mid-row). */
static void acc_discard(struct acc *a) {
  for (size_t i = 0; i < a->n_tl; i++) rr_buf_reset(&a->tl[i].times);
  rr_buf_reset(&a->row_ids);
  for (size_t i = 0; i < a->n_cols; i++) rr_arrow_builder_reset(a->cols[i].b);
  a->num_rows = 0;
  a->bytes = 0;
  a->unsorted = false;
}

void rr__acc_discard(rr_recording *rec, struct acc *a) {
  rec->acc_bytes -= a->bytes;
  acc_discard(a);
}

void rr__acc_drop_columns(struct acc *a) {
  for (size_t i = 0; i < a->n_cols; i++) acc_col_free(&a->cols[i]);
  a->n_cols = 0;
  a->user_cols = false;
}

/* Key: canonical path, NUL, 's' or 't', then "name\x01type\x02" per timeline. */
static int acc_key(rr_buf *key, const char *path, bool is_static, const struct tl_value *tl, size_t n) {
  rr_buf_reset(key);
  RR_TRY(rr_buf_append(key, path, strlen(path) + 1));
  RR_TRY(rr_buf_append(key, is_static ? "s" : "t", 1));
  for (size_t i = 0; i < n; i++) {
    char t[3] = {'\x01', (char)('0' + tl[i].type), '\x02'};
    RR_TRY(rr_buf_append(key, tl[i].name, strlen(tl[i].name)));
    RR_TRY(rr_buf_append(key, t, 3));
  }
  return RR_OK;
}

/* Finds or creates the accumulator. Timelines: the thread's (sorted) plus
 * log_tick and log_time for temporal rows. */
struct acc *rr__acc_get(rr_recording *rec, const char *path, bool is_static, const struct tl_value *tl,
                        size_t n, rr_buf *key) {
  if (acc_key(key, path, is_static, tl, n) < 0) return NULL;
  struct acc *a = rr_map_get(&rec->accs, key->data, key->len);
  if (a) return a;
  a = rr__calloc(1, sizeof *a);
  if (!a) return NULL;
  a->entity_path = rr__strdup(path);
  a->is_static = is_static;
  size_t ntl = is_static ? 0 : n + 2;
  a->tl = rr__calloc(ntl ? ntl : 1, sizeof *a->tl);
  if (!a->entity_path || !a->tl) goto fail;
  if (!is_static) {
    for (size_t i = 0; i < n; i++) {
      a->tl[i].name = rr__strdup(tl[i].name);
      a->tl[i].type = tl[i].type;
      if (!a->tl[i].name) goto fail;
      a->n_tl++;
    }
    a->tl[n].name = rr__strdup("log_tick");
    a->tl[n].type = RR_TL_SEQUENCE;
    a->tl[n + 1].name = rr__strdup("log_time");
    a->tl[n + 1].type = RR_TL_TIMESTAMP;
    a->n_tl += 2;
    if (!a->tl[n].name || !a->tl[n + 1].name) goto fail;
  }
  if (rr_map_put(&rec->accs, key->data, key->len, a) < 0) goto fail;
  return a;
fail:
  rr__acc_free(a);
  return NULL;
}

/* The column for `component`, created (and back-filled with nulls) if new.
 * *conflict is set when the column exists with another type. */
struct acc_col *rr__acc_col(struct acc *a, const char *component, const char *archetype,
                            const char *component_type, const struct ArrowSchema *value_type,
                            bool *conflict) {
  if (conflict) *conflict = false;
  for (size_t i = 0; i < a->n_cols; i++) {
    struct acc_col *c = &a->cols[i];
    if (strcmp(c->component, component)) continue;
    if (conflict && !rr_arrow_schema_equal(c->list_type.children[0], value_type, false)) *conflict = true;
    return c;
  }
  struct acc_col *nc = rr__realloc(a->cols, (a->n_cols + 1) * sizeof *nc);
  if (!nc) return NULL;
  a->cols = nc;
  struct acc_col *c = &nc[a->n_cols];
  memset(c, 0, sizeof *c);
  c->component = rr__strdup(component);
  c->archetype = archetype ? rr__strdup(archetype) : NULL;
  c->component_type = component_type ? rr__strdup(component_type) : NULL;
  if (!c->component || (archetype && !c->archetype) || (component_type && !c->component_type)) goto fail;
  if (rr_arrow_schema_init(&c->list_type, "+l", component, ARROW_FLAG_NULLABLE, 1) < 0) goto fail;
  if (rr_arrow_schema_copy(c->list_type.children[0], value_type) < 0) goto fail;
  /* the list's child is named "item" and nullable */
  {
    struct ArrowSchema *ch = c->list_type.children[0];
    struct ArrowSchema item;
    if (rr_arrow_schema_init(&item, ch->format, "item", ch->flags | ARROW_FLAG_NULLABLE, ch->n_children) < 0)
      goto fail;
    for (int64_t k = 0; k < ch->n_children; k++) rr_arrow_schema_move(ch->children[k], item.children[k]);
    if (ch->metadata) {
      int64_t nm = rr_arrow_metadata_count(ch->metadata);
      for (int64_t k = 0; k < nm; k++) { /* value types carry no metadata; keep it if they do */
        rr_arrow_kv kv;
        if (rr_arrow_metadata_at(ch->metadata, k, &kv) == RR_OK) (void)kv;
      }
    }
    ch->release(ch);
    rr_arrow_schema_move(&item, ch);
  }
  if (rr_arrow_builder_new(&c->b, &c->list_type) < 0) goto fail;
  if (a->num_rows && rr_arrow_builder_append_nulls(c->b, a->num_rows) < 0) goto fail;
  a->n_cols++;
  return c;
fail:
  acc_col_free(c);
  return NULL;
}

/* ---- recycling large buffers ------------------------------------------------------ */

#define RR__BIG ((size_t)256 << 10)

/* Notes the builders' large filled buffers, which the chunk will own. */
static bool note_big(void *ud, void **mem, size_t *cap, size_t len) {
  struct rr_chunk_node *node = ud;
  if (len && *cap >= RR__BIG && node->n_big < (int)(sizeof node->big / sizeof *node->big))
    node->big[node->n_big++] = (struct rr_spare){*mem, *cap, len};
  return false;
}

/* Gives an emptied builder buffer warm memory: a spare at least as large,
 * else faults the fresh one in with one call (rr__populate). */
static bool refill(void *ud, void **mem, size_t *cap, size_t len) {
  rr_recording *rec = ud;
  if (len || *cap < RR__BIG) return false;
  for (int i = 0; i < rec->n_spare; i++)
    if (rec->spare[i].n >= *cap && rec->spare[i].n / 2 <= *cap) {
      bool warm = rec->spare[i].filled >= *cap; /* as much as the last array took */
      rr__free(*mem);
      *mem = rec->spare[i].p;
      *cap = rec->spare[i].n;
      rec->spare_bytes -= rec->spare[i].n;
      rec->spare[i] = rec->spare[--rec->n_spare];
      return warm;
    }
  rr__populate(*mem, *cap);
  return true;
}

/* Takes the node's large buffers out of its chunk before it is cleared
 * and keeps them as spares (bounded); under mu. Returns the ones that did
 * not fit, to be freed after the chunk is released. */
/* Under mu: keeps a large buffer as a spare if the bound allows. */
static bool keep_spare(rr_recording *rec, const struct rr_spare *b) {
  if (rec->n_spare >= (int)(sizeof rec->spare / sizeof *rec->spare) ||
      rec->spare_bytes + b->n > (size_t)rec->flush_num_bytes * 4)
    return false;
  rec->spare[rec->n_spare++] = *b;
  rec->spare_bytes += b->n;
  return true;
}

/* Takes a large buffer out of the chunk's arrays (the chunk no longer
 * frees it); false if none of them has it. */
static bool take_big(struct rr_chunk_node *n, const void *p) {
  for (size_t j = 0; j < n->chunk.n_components; j++)
    if (rr_arrow_array_take_buffer(&n->chunk.components[j].list, p)) return true;
  return false;
}

static int harvest(rr_recording *rec, struct rr_chunk_node *n, struct rr_spare *excess) {
  int ne = 0;
  for (int k = 0; k < n->n_big; k++)
    if (take_big(n, n->big[k].p) && !keep_spare(rec, &n->big[k])) excess[ne++] = n->big[k];
  n->n_big = 0;
  return ne;
}

void rr__recording_recycle(rr_recording *rec, const struct rr_spare *bufs, int n) {
  struct rr_spare excess[RR_ADOPT_MAX_BUFS];
  int ne = 0;
  pthread_mutex_lock(&rec->mu);
  for (int i = 0; i < n; i++)
    if (!keep_spare(rec, &bufs[i])) excess[ne++] = bufs[i];
  pthread_mutex_unlock(&rec->mu);
  for (int i = 0; i < ne; i++) rr__free(excess[i].p);
}

static void node_free(struct rr_chunk_node *n) {
  rr__chunk_clear(&n->chunk);
  rr__free(n);
}

/* Frees up to `max` written chunks. Under mu. */
static void free_done(rr_recording *rec, int max) {
  for (int i = 0; i < max && rec->done; i++) {
    struct rr_chunk_node *n = rec->done;
    rec->done = n->next;
    rec->n_done--;
    rec->done_bytes -= n->bytes;
    node_free(n);
  }
}

static char *pack_str(char **at, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *r = memcpy(*at, s, n);
  *at += n;
  return r;
}

/* Rows of at most this many bytes (ids and times) are copied into a packed
 * chunk, and the accumulator keeps its buffers; larger ones are handed over. */
#define RR__PACK_MAX_ROW_BYTES ((size_t)16 << 10)

/* A small chunk's node with everything but its component arrays in the
 * same allocation (struct rr_chunk.packed): a one-row chunk was some twenty
 * allocations, each freed again by the next close. */
static struct rr_chunk_node *node_packed(struct acc *a) {
  size_t n = (size_t)a->num_rows;
  size_t fixed = (sizeof(struct rr_chunk_node) + 7) / 8 * 8 + a->n_tl * sizeof(struct rr_chunk_timeline) +
                 a->n_cols * sizeof(struct rr_chunk_component) + n * 8 * a->n_tl + n * 16;
  size_t strs = strlen(a->entity_path) + 1;
  for (size_t i = 0; i < a->n_tl; i++) strs += strlen(a->tl[i].name) + 1;
  for (size_t i = 0; i < a->n_cols; i++) {
    strs += strlen(a->cols[i].component) + 1;
    if (a->cols[i].archetype) strs += strlen(a->cols[i].archetype) + 1;
    if (a->cols[i].component_type) strs += strlen(a->cols[i].component_type) + 1;
  }
  struct rr_chunk_node *node = rr__calloc(1, fixed + strs);
  if (!node) return NULL;
  struct rr_chunk *c = &node->chunk;
  uint8_t *at = (uint8_t *)node + (sizeof *node + 7) / 8 * 8;
  c->packed = true;
  c->num_rows = a->num_rows;
  c->timelines = (struct rr_chunk_timeline *)(void *)at;
  at += a->n_tl * sizeof *c->timelines;
  c->components = (struct rr_chunk_component *)(void *)at;
  at += a->n_cols * sizeof *c->components;
  for (size_t i = 0; i < a->n_tl; i++, at += n * 8) {
    c->timelines[i] = (struct rr_chunk_timeline){NULL, a->tl[i].type, (int64_t *)(void *)at};
    memcpy(at, a->tl[i].times.data, n * 8);
    a->tl[i].times.len = 0;
  }
  c->n_timelines = a->n_tl;
  c->row_ids = memcpy(at, a->row_ids.data, n * 16);
  a->row_ids.len = 0;
  char *str = (char *)at + n * 16;
  c->entity_path = pack_str(&str, a->entity_path);
  for (size_t i = 0; i < a->n_tl; i++) c->timelines[i].name = pack_str(&str, a->tl[i].name);
  for (size_t i = 0; i < a->n_cols; i++) {
    c->components[i].component = pack_str(&str, a->cols[i].component);
    c->components[i].archetype = pack_str(&str, a->cols[i].archetype);
    c->components[i].component_type = pack_str(&str, a->cols[i].component_type);
  }
  return node;
}

/* A chunk's node whose row ids and times are taken from the accumulator. */
static struct rr_chunk_node *node_owned(struct acc *a) {
  struct rr_chunk_node *node = rr__calloc(1, sizeof *node);
  if (!node) return NULL;
  struct rr_chunk *c = &node->chunk;
  c->entity_path = rr__strdup(a->entity_path);
  c->num_rows = a->num_rows;
  c->timelines = rr__calloc(a->n_tl ? a->n_tl : 1, sizeof *c->timelines);
  c->components = rr__calloc(a->n_cols ? a->n_cols : 1, sizeof *c->components);
  if (!c->entity_path || !c->timelines || !c->components) goto fail;
  for (size_t i = 0; i < a->n_tl; i++) {
    struct rr_chunk_timeline *t = &c->timelines[c->n_timelines];
    t->name = rr__strdup(a->tl[i].name);
    if (!t->name) goto fail;
    t->type = a->tl[i].type;
    c->n_timelines++;
    size_t cap = a->tl[i].times.len;
    t->times = (int64_t *)(void *)rr_buf_steal(&a->tl[i].times, NULL);
    (void)rr_buf_reserve(&a->tl[i].times, cap); /* the next chunk is likely as long */
  }
  size_t cap = a->row_ids.len;
  c->row_ids = rr_buf_steal(&a->row_ids, NULL);
  (void)rr_buf_reserve(&a->row_ids, cap);
  for (size_t i = 0; i < a->n_cols; i++) {
    struct acc_col *col = &a->cols[i];
    struct rr_chunk_component *k = &c->components[i];
    k->component = rr__strdup(col->component);
    k->archetype = col->archetype ? rr__strdup(col->archetype) : NULL;
    k->component_type = col->component_type ? rr__strdup(col->component_type) : NULL;
    if (!k->component || (col->archetype && !k->archetype) || (col->component_type && !k->component_type)) {
      c->n_components = i + 1; /* frees its strings */
      goto fail;
    }
  }
  return node;
fail:
  rr__chunk_clear(c);
  rr__free(node);
  return NULL;
}

/* Makes a chunk node of the accumulator's rows and resets it for the next
 * ones: the builders keep their capacity, in a recycled buffer of an
 * earlier chunk when there is one, else in fresh memory faulted in here
 * with one call per buffer rather than one page fault per 4 KiB on the
 * next log calls (tens of microseconds each on some VMs). Under rec->mu.
 * On failure the rows are dropped. */
static int acc_chunk(rr_recording *rec, struct acc *a, struct rr_chunk_node **out) {
  free_done(rec, 2); /* its memory is what this chunk is about to allocate */
  size_t row_bytes = (size_t)a->num_rows * (16 + 8 * a->n_tl);
  struct rr_chunk_node *node = row_bytes <= RR__PACK_MAX_ROW_BYTES ? node_packed(a) : node_owned(a);
  if (!node) {
    acc_discard(a);
    return RR_ENOMEM;
  }
  struct rr_chunk *c = &node->chunk;
  int rc = RR_ENOMEM;
  c->id = rr__tuid_new();
  /* the component strings are in place; n_components counts finished arrays */
  for (size_t i = 0; i < a->n_cols; i++) {
    struct acc_col *col = &a->cols[i];
    struct rr_chunk_component *k = &c->components[i];
    rr_arrow_builder_visit_buffers(col->b, note_big, node);
    if ((rc = rr_arrow_builder_finish(col->b, &k->list)) < 0) goto fail;
    if ((rc = rr_arrow_schema_copy(&k->list_type, &col->list_type)) < 0) { k->list.release(&k->list); goto fail; }
    c->n_components++;
  }
  for (size_t i = 0; i < a->n_cols; i++) rr_arrow_builder_visit_buffers(a->cols[i].b, refill, rec);
  a->num_rows = 0;
  a->unsorted = false;
  *out = node;
  return RR_OK;
fail:
  if (!c->packed) /* strings of the components not counted yet */
    for (size_t i = c->n_components; i < a->n_cols; i++) {
      rr__free(c->components[i].component);
      rr__free(c->components[i].archetype);
      rr__free(c->components[i].component_type);
    }
  rr__chunk_clear(c);
  rr__free(node);
  acc_discard(a);
  return rc;
}

/* Columns with no value in any row are left out (Rerun rejects them). */
static void drop_null_columns(struct rr_chunk *c) {
  size_t w = 0;
  for (size_t i = 0; i < c->n_components; i++) {
    struct rr_chunk_component *k = &c->components[i];
    if (k->list.null_count == k->list.length) {
      if (!c->packed) { rr__free(k->component); rr__free(k->archetype); rr__free(k->component_type); }
      k->list_type.release(&k->list_type);
      k->list.release(&k->list);
      continue;
    }
    c->components[w++] = *k;
  }
  c->n_components = w;
}

/* Closes the accumulator's rows into a chunk on the queue. Under rec->mu. */
int rr__acc_close(rr_recording *rec, struct acc *a) {
  if (a->num_rows == 0) return RR_OK;
  struct rr_chunk_node *node = NULL;
  size_t bytes = a->bytes;
  rec->acc_bytes -= bytes;
  a->bytes = 0;
  int rc = acc_chunk(rec, a, &node);
  if (rc < 0) return rc;
  struct rr_chunk *c = &node->chunk;
  drop_null_columns(c);
  /* What the chunk takes while queued: a one-row chunk's allocations
   * outweigh its data thirty times, and max_bytes_in_flight bounds memory. */
  node->bytes = bytes;
  rr__queue_push(rec, node);
  return RR_OK;
}

void rr__queue_push(rr_recording *rec, struct rr_chunk_node *node) {
  size_t heap = rr__chunk_heap_bytes(&node->chunk);
  if (heap > node->bytes) node->bytes = heap;
  rec->q_bytes += node->bytes;
  bool was_empty = !rec->q_head;
  if (rec->q_tail) rec->q_tail->next = node;
  else rec->q_head = node;
  rec->q_tail = node;
  rec->q_in++;
  /* the batcher sleeps only on an empty queue (and takes all it finds) */
  if (was_empty) pthread_cond_signal(&rec->cv_work);
}

static void close_all(rr_recording *rec) {
  for (size_t i = 0; i < rec->accs.cap; i++)
    if (rec->accs.slots[i].key) {
      struct acc *a = rec->accs.slots[i].value;
      if (rr__acc_close(rec, a) < 0) {
        rec->stats.write_errors++;
        rr__warn("out of memory closing a chunk of %s: its rows are lost", a->entity_path);
      }
    }
}

/* Applies the backpressure policy after a row was added. Under rec->mu. */
void rr__backpressure(rr_recording *rec) {
  if ((int64_t)(rec->q_bytes + rec->acc_bytes) <= rec->max_in_flight) return;
  if (rec->policy != RR_BACKPRESSURE_DROP_OLDEST) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t deadline = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + rec->block_timeout_ms * 1000000;
    ts.tv_sec = deadline / 1000000000;
    ts.tv_nsec = deadline % 1000000000;
    while ((int64_t)(rec->q_bytes + rec->acc_bytes) > rec->max_in_flight && rec->q_head) {
      pthread_cond_signal(&rec->cv_work);
      if (pthread_cond_timedwait(&rec->cv_done, &rec->mu, &ts) == ETIMEDOUT) break;
    }
  }
  /* Drop the oldest queued chunks, never the newest one. */
  while ((int64_t)(rec->q_bytes + rec->acc_bytes) > rec->max_in_flight && rec->q_head &&
         rec->q_head != rec->q_tail) {
    struct rr_chunk_node *n = rec->q_head;
    rec->q_head = n->next;
    rec->q_bytes -= n->bytes;
    rec->q_out++;
    rec->stats.chunks_dropped++;
    rec->stats.rows_dropped += (uint64_t)n->chunk.num_rows;
    if (rec->stats.chunks_dropped == 1 || (rec->stats.chunks_dropped & (rec->stats.chunks_dropped - 1)) == 0)
      rr__warn("recording %s: the sink is behind; dropped %llu chunk(s) so far (max_bytes_in_flight %lld)",
               rec->rec_id, (unsigned long long)rec->stats.chunks_dropped, (long long)rec->max_in_flight);
    struct rr_spare excess[4];
    int ne = harvest(rec, n, excess);
    node_free(n);
    for (int k = 0; k < ne; k++) rr__free(excess[k].p);
  }
}

/* Per-row bookkeeping after a row was appended to `a`. Under rec->mu. */
int rr__acc_row_done(rr_recording *rec, struct acc *a, size_t bytes) {
  a->num_rows++;
  a->bytes += bytes;
  rec->acc_bytes += bytes;
  rec->stats.rows_logged++;
  /* columns not touched by this row get a null */
  if (a->row_cols != a->n_cols)
    for (size_t i = 0; i < a->n_cols; i++)
      if (rr_arrow_builder_length(a->cols[i].b) < a->num_rows)
        RR_TRY(rr_arrow_builder_append_nulls(a->cols[i].b, 1));
  /* As Rerun's batcher: a chunk with an unsorted timeline stays small, so
   * that the viewer's per-chunk sorting stays cheap. */
  if ((int64_t)a->bytes >= rec->flush_num_bytes || a->num_rows >= rec->flush_num_rows ||
      (a->unsorted && a->num_rows >= rec->max_rows_if_unsorted))
    RR_TRY(rr__acc_close(rec, a));
  rr__backpressure(rec);
  return RR_OK;
}

/* Appends a row id in its big-endian wire form, written in place: two
 * 8-byte stores (building it on the stack and copying 16 bytes made the
 * copy's load wait for the two stores, a store-forwarding stall). */
static inline int append_row_id(rr_buf *b, rr_tuid id) {
  if (RR__UNLIKELY(b->cap - b->len < 16)) RR_TRY(rr_buf_reserve(b, 16));
  uint8_t *out = b->data + b->len;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t hi = __builtin_bswap64(id.time_ns), lo = __builtin_bswap64(id.inc);
  memcpy(out, &hi, 8);
  memcpy(out + 8, &lo, 8);
#else
  rr__tuid_to_be(id, out);
#endif
  b->len += 16;
  return RR_OK;
}

/* Appending rows walks through fresh memory (an accumulator's buffers are
 * handed to each closed chunk and allocated again). On VMs a page fault
 * costs far more than faulting the pages in with one madvise, so when the
 * row ids enter a new 256 KiB step of their reserved capacity, that step
 * is populated, and the next half step of every time column (8 bytes a
 * row against 16, appended in lockstep). rr__populate skips < 64 KiB. */
#define POPULATE_STEP ((size_t)256 << 10)
static void populate(rr_buf *b, size_t step) {
  size_t room = b->cap - b->len;
  rr__populate(b->data + b->len, room < step ? room : step);
}
static void populate_row_buffers(struct acc *a) {
  populate(&a->row_ids, POPULATE_STEP);
  for (size_t i = 0; i < a->n_tl; i++) populate(&a->tl[i].times, POPULATE_STEP / 2);
}

/* Appends the row id and times of a new row. Under rec->mu. */
int rr__acc_row_begin(rr_recording *rec, struct acc *a, const struct tl_value *tl, size_t n) {
  int64_t now = rr__now_ns(); /* one clock read: row id and log_time */
  rr_tuid id = rr__next_row_id(rec, now);
  a->row_cols = 0;
  if (RR__UNLIKELY((a->row_ids.len & (POPULATE_STEP - 1)) < 16)) populate_row_buffers(a);
  RR_TRY(append_row_id(&a->row_ids, id));
  if (a->is_static) return RR_OK;
  for (size_t i = 0; i < n; i++) {
    rr_buf *b = &a->tl[i].times;
    if (b->len >= 8) {
      int64_t last;
      memcpy(&last, b->data + b->len - 8, 8);
      if (tl[i].value < last) a->unsorted = true;
    }
    RR_TRY(rr_buf_append(b, &tl[i].value, 8));
  }
  int64_t tick = rec->tick++;
  RR_TRY(rr_buf_append(&a->tl[n].times, &tick, 8));
  RR_TRY(rr_buf_append(&a->tl[n + 1].times, &now, 8));
  return RR_OK;
}

/* ---- the batcher thread ------------------------------------------------------ */

/* Counts a sink write's outcome; errors are logged (the first, then at
 * powers of two). */
static void count_write(rr_recording *rec, int rc, size_t len, const rr_error *e) {
  if (rc >= 0) {
    rec->stats.bytes_written += len;
    return;
  }
  rec->stats.write_errors++;
  if (rec->stats.write_errors == 1 || (rec->stats.write_errors & (rec->stats.write_errors - 1)) == 0)
    rr__log(RR_LOG_ERROR, "%s sink: %s", rec->sink->name, e->msg[0] ? e->msg : rr_strerror(rc));
}

/* Writes m to the sink (or buffers it) and frees it. A message with
 * unchecked regions whose values are not all finite is not written:
 * RR_ENOTFINITE, *bad the region (not a sink error). */
static int deliver(rr_recording *rec, struct rr_msg *m, size_t *bad) {
  int rc = RR_OK;
  bool checked = m->n_chk && rec->sink && rec->sink->write_checked;
  if (m->n_chk && !checked && (rc = rr__msg_check_all(m, bad)) < 0) {
    rr__msg_free(m);
    return rc;
  }
  if (rec->sink) {
    rr_error e = {0};
    rc = checked ? rec->sink->write_checked(rec->sink, m, bad, &e) : rec->sink->write(rec->sink, m, &e);
    if (!(rc == RR_ENOTFINITE && checked)) count_write(rec, rc, m->len, &e); /* else refused, nothing written */
    rr__msg_free(m);
  } else {
    /* kept for a sink attached later: must not point into the chunk */
    m->n_chk = 0; /* checked above */
    if (rr__msg_own(m) < 0) {
      rec->stats.write_errors++;
      rr__log(RR_LOG_ERROR, "out of memory buffering a %zu-byte message: it is lost", m->len);
      rr__msg_free(m);
      return RR_ENOMEM;
    }
    m->next = NULL;
    if (rec->buf_tail) rec->buf_tail->next = m;
    else rec->buf_head = m;
    rec->buf_tail = m;
  }
  return rc;
}

/* Messages from this size on are handed to a sink that can keep them
 * (smaller ones are gathered and copied together). */
#define RR__ADOPT_MIN ((size_t)64 << 10)

/* Hands a large m to a sink that can keep it (rr_sink.adopt), with the
 * chunk's large buffers its parts point into, instead of the sink copying
 * it: when every part lies in m's own bytes (an LZ4 message) or in one of
 * those buffers. Returns false, having done nothing, otherwise. */
static bool deliver_adopted(rr_recording *rec, struct rr_chunk_node *n, struct rr_msg *m) {
  _Static_assert(sizeof n->big / sizeof *n->big <= RR_ADOPT_MAX_BUFS, "adopt takes every big buffer");
  if (!rec->sink || !rec->sink->adopt || m->len < RR__ADOPT_MIN || !m->n_parts || m->n_chk || !m->pb_len)
    return false;
  bool used[sizeof n->big / sizeof *n->big] = {0};
  uintptr_t pb = (uintptr_t)m->pb;
  for (size_t i = 0; i < m->n_parts; i++) {
    uintptr_t p = (uintptr_t)m->parts[i].iov_base;
    size_t len = m->parts[i].iov_len;
    if (!len || (p >= pb && p - pb <= m->pb_len && len <= m->pb_len - (p - pb))) continue;
    int k = 0;
    while (k < n->n_big && !(p >= (uintptr_t)n->big[k].p && p - (uintptr_t)n->big[k].p <= n->big[k].n &&
                             len <= n->big[k].n - (p - (uintptr_t)n->big[k].p)))
      k++;
    if (k == n->n_big) return false; /* a part in some other buffer of the chunk */
    used[k] = true;
  }
  struct rr_spare bufs[RR_ADOPT_MAX_BUFS];
  int nb = 0, kept = 0;
  bool all = true;
  for (int k = 0; k < n->n_big; k++) {
    if (used[k] && take_big(n, n->big[k].p)) bufs[nb++] = n->big[k];
    else if (used[k]) all = false;
    else n->big[kept++] = n->big[k]; /* still the chunk's, for harvest */
  }
  n->n_big = kept;
  if (!all) {
    /* not the chunk's after all (cannot happen): copied as usual */
    deliver(rec, m, NULL);
    rr__recording_recycle(rec, bufs, nb);
    return true;
  }
  size_t len = m->len;
  rr_error e = {0};
  atomic_fetch_add_explicit(&rec->msgs_adopted, 1, memory_order_relaxed);
  count_write(rec, rec->sink->adopt(rec->sink, m, bufs, nb, &e), len, &e); /* m and bufs are the sink's now */
  return true;
}

/* The end of a run of deliveries (see rr_sink.end_run). */
static void end_run(rr_recording *rec) {
  if (rec->sink && rec->sink->end_run) rec->sink->end_run(rec->sink);
}

static void send_store_info(rr_recording *rec) {
  if (rec->store_info_sent) return;
  struct rr_msg *m = NULL;
  rr_error e = {0};
  if (rr__encode_store_info(rec, &m, &e) == RR_OK) {
    deliver(rec, m, NULL);
    rec->store_info_sent = true;
  } else {
    rr__log(RR_LOG_ERROR, "cannot encode SetStoreInfo: %s", e.msg);
  }
}

/* ---- rows written from the caller's memory ------------------------------------ */

/* Waits until the chunks queued so far are taken (not those queued
 * meanwhile by other threads), then takes sink_mu, which the batcher holds
 * while it writes them: the row goes out after everything logged before
 * it. Waits at most the stream's block timeout, then writes anyway (chunks
 * carry their row ids; order only keeps files tidy). Under mu; returns
 * holding both. */
static void sink_after_queue(rr_recording *rec) {
  uint64_t before = rec->q_in;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t deadline = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + rec->block_timeout_ms * 1000000;
  ts.tv_sec = deadline / 1000000000;
  ts.tv_nsec = deadline % 1000000000;
  bool late = false;
  for (;;) {
    while (rec->q_out < before && !late) {
      pthread_cond_signal(&rec->cv_work);
      if (pthread_cond_timedwait(&rec->cv_done, &rec->mu, &ts) == ETIMEDOUT) late = true;
    }
    pthread_mutex_unlock(&rec->mu);
    pthread_mutex_lock(&rec->sink_mu); /* lock order: sink_mu, then mu */
    pthread_mutex_lock(&rec->mu);
    if (rec->q_out >= before || late) return;
    pthread_mutex_unlock(&rec->sink_mu);
  }
}

/* Of the regions chk[0, n) the sink is to check as it writes m (out,
 * at most RR__MAX_FIELDS, with their indices in chk): those m's parts cover
 * whole, so that the sink reads them anyway. The others (LZ4: the
 * compressor read the values into its output) are checked here.
 * RR_ENOTFINITE with *bad if one of those fails. */
static int checks_for(const struct rr_msg *m, const struct rr_msg_check *chk, size_t n, struct rr_msg_check *out,
                      size_t *idx, size_t *n_out, size_t *bad) {
  struct iovec one;
  size_t np, k = 0;
  const struct iovec *iov = rr__msg_iov(m, &one, &np);
  for (size_t i = 0; i < n; i++) {
    const uint8_t *lo = chk[i].p, *hi = chk[i].p + chk[i].n;
    size_t covered = 0;
    for (size_t j = 0; j < np; j++) {
      const uint8_t *a = iov[j].iov_base, *b = a + iov[j].iov_len;
      if (a < lo) a = lo;
      if (b > hi) b = hi;
      if (a < b) covered += (size_t)(b - a);
    }
    if (covered == chk[i].n && k < RR__MAX_FIELDS) {
      out[k] = chk[i];
      idx[k++] = i;
    } else if (!rr__all_finite_f32(chk[i].p, chk[i].n / 4)) {
      *bad = i;
      return RR_ENOTFINITE;
    }
  }
  *n_out = k;
  return RR_OK;
}

int rr__acc_write_direct(rr_recording *rec, struct acc *a, struct rr_view_col *views, size_t n_views,
                         const struct rr_msg_check *chk, size_t n_chk, size_t *bad, rr_error *err) {
  size_t used = 0; /* views moved into the chunk */
  int rc = RR_OK;
  a->num_rows++;
  rec->stats.rows_logged++;
  for (size_t i = 0; i < a->n_cols && rc == RR_OK; i++) /* placeholders, and columns this row left out */
    if (rr_arrow_builder_length(a->cols[i].b) < a->num_rows) rc = rr_arrow_builder_append_nulls(a->cols[i].b, 1);
  struct rr_chunk_node *node = NULL;
  rec->acc_bytes -= a->bytes;
  a->bytes = 0;
  if (rc == RR_OK) rc = acc_chunk(rec, a, &node);
  else acc_discard(a);
  for (; rc == RR_OK && used < n_views; used++) {
    struct rr_chunk_component *k = &node->chunk.components[views[used].col];
    struct ArrowArray list;
    int32_t *off = rr__malloc(2 * sizeof *off);
    if (!off || (rc = rr_arrow_array_init(&list, 1, 0, 2, 1)) < 0) {
      rr__free(off);
      rc = RR_ENOMEM;
      break;
    }
    off[0] = 0;
    off[1] = (int32_t)views[used].values.length; /* <= INT32_MAX: checked by the caller */
    rr_arrow_array_set_buffer(&list, 1, off);
    rr_arrow_array_move(&views[used].values, list.children[0]);
    k->list.release(&k->list);
    rr_arrow_array_move(&list, &k->list);
  }
  for (size_t i = used; i < n_views; i++) views[i].values.release(&views[i].values);
  if (rc < 0) {
    if (node) node_free(node);
    rec->stats.rows_dropped++;
    return rr__err(err, rc, "out of memory writing a %s row", a->entity_path);
  }
  drop_null_columns(&node->chunk);
  sink_after_queue(rec);
  pthread_mutex_unlock(&rec->mu);
  send_store_info(rec);
  struct rr_msg *m = NULL;
  rr_error e = {0};
  struct rr_msg_check part_chk[RR__MAX_FIELDS];
  size_t idx[RR__MAX_FIELDS];
  if ((rc = rr__encode_chunk(rec, &node->chunk, &m, &e)) == RR_OK) {
    size_t k = 0;
    if ((rc = checks_for(m, chk, n_chk, part_chk, idx, &m->n_chk, &k)) == RR_OK) {
      m->chk = part_chk;
      rc = deliver(rec, m, &k); /* sink errors are counted and logged there, as for queued chunks */
      if (rc == RR_ENOTFINITE) k = idx[k];
    } else {
      rr__msg_free(m);
    }
    if (rc == RR_ENOTFINITE) *bad = k;
    else rec->stats.chunks_written++;
  } else {
    rec->stats.write_errors++;
    rr__log(RR_LOG_ERROR, "cannot encode a chunk of %s: %s", node->chunk.entity_path, e.msg);
  }
  pthread_mutex_unlock(&rec->sink_mu);
  node_free(node); /* before returning: it points into the caller's memory */
  pthread_mutex_lock(&rec->mu);
  if (rc == RR_ENOTFINITE) {
    rec->stats.rows_logged--; /* refused, as by the checks before the call */
    return rc;
  }
  return RR_OK;
}

/* Encodes and writes the queued chunks and returns them, written, for
 * rec->done. Called with sink_mu held, mu not. */
static struct rr_chunk_node *write_chunks(rr_recording *rec, struct rr_chunk_node *list) {
  struct rr_chunk_node *done = NULL, **tail = &done;
  send_store_info(rec);
  while (list) {
    struct rr_chunk_node *n = list;
    list = n->next;
    struct rr_msg *m = NULL;
    rr_error e = {0};
    int rc = rr__chunk_sort_by_row_id(&n->chunk);
    if (rc == RR_OK) rc = rr__encode_chunk(rec, &n->chunk, &m, &e);
    if (rc == RR_OK) {
      if (!deliver_adopted(rec, n, m)) deliver(rec, m, NULL);
      rec->stats.chunks_written++;
    } else {
      rec->stats.write_errors++;
      rr__log(RR_LOG_ERROR, "cannot encode a chunk of %s: %s", n->chunk.entity_path,
              e.msg[0] ? e.msg : rr_strerror(rc));
    }
    struct rr_spare excess[4];
    int ne = 0;
    if (n->n_big) {
      pthread_mutex_lock(&rec->mu);
      ne = harvest(rec, n, excess);
      pthread_mutex_unlock(&rec->mu);
    }
    for (int k = 0; k < ne; k++) rr__free(excess[k].p);
    n->next = NULL;
    *tail = n;
    tail = &n->next;
  }
  end_run(rec);
  return done;
}

enum { RR__RUN_CHUNKS = 256, RR__RUN_BYTES = 1 << 20, RR__DONE_MAX_CHUNKS = 1024, RR__DONE_MAX_BYTES = 4 << 20 };

void *rr__batcher_main(void *arg) {
  rr_recording *rec = arg;
  pthread_setname_np(pthread_self(), "rr-batcher"); /* for top -H, perf, per-thread CPU */
  pthread_mutex_lock(&rec->mu);
  int64_t last_tick = rr__mono_ns(), next_tick;
  uint64_t closed_gen = rec->flush_done; /* flush generation whose rows are all closed */
  for (;;) {
    while (!rec->stop && !rec->q_head && rec->flush_req == rec->flush_done) {
      int64_t now = rr__mono_ns();
      next_tick = last_tick + rec->flush_tick_ns; /* the tick may change with the sink */
      if (now >= next_tick) break;
      struct timespec ts = {next_tick / 1000000000, next_tick % 1000000000};
      pthread_cond_timedwait(&rec->cv_work, &rec->mu, &ts);
    }
    int64_t now = rr__mono_ns();
    if (now >= last_tick + rec->flush_tick_ns || rec->flush_req != closed_gen || rec->stop) {
      closed_gen = rec->flush_req;
      close_all(rec);
      last_tick = now;
    }
    /* A run of chunks per lock: a producer that logs without pause holds
     * mu most of the time, and a batcher taking one chunk per acquisition
     * fell behind it. The run is short enough that the backlog stays in the
     * queue, where the backpressure policy can drop from it. */
    struct rr_chunk_node *node = rec->q_head, *last = node;
    size_t bytes = 0;
    for (int k = 0; last; k++) {
      bytes += last->bytes;
      rec->q_out++;
      if (!last->next || k + 1 == RR__RUN_CHUNKS || bytes >= RR__RUN_BYTES) break;
      last = last->next;
    }
    if (node) {
      rec->q_head = last->next;
      if (!rec->q_head) rec->q_tail = NULL;
      last->next = NULL;
    }
    pthread_mutex_unlock(&rec->mu);

    pthread_mutex_lock(&rec->sink_mu);
    struct rr_chunk_node *done = NULL;
    if (node) done = write_chunks(rec, node);
    else send_store_info(rec);
    pthread_mutex_unlock(&rec->sink_mu);

    pthread_mutex_lock(&rec->mu);
    rec->q_bytes -= bytes;
    for (struct rr_chunk_node *n = done, *next; n; n = next) {
      next = n->next;
      n->next = rec->done;
      rec->done = n;
      rec->n_done++;
      rec->done_bytes += n->bytes;
    }
    /* Nobody closed a chunk for a while (a tick) or too many wait: the
     * batcher frees them itself, outside the lock. */
    if (rec->done && (!node || rec->n_done > RR__DONE_MAX_CHUNKS || rec->done_bytes > RR__DONE_MAX_BYTES)) {
      struct rr_chunk_node *list = rec->done;
      rec->done = NULL;
      rec->n_done = rec->done_bytes = 0;
      pthread_mutex_unlock(&rec->mu);
      while (list) {
        struct rr_chunk_node *n = list;
        list = n->next;
        node_free(n);
      }
      pthread_mutex_lock(&rec->mu);
    }
    if (!rec->q_head && closed_gen != rec->flush_done) rec->flush_done = closed_gen;
    pthread_cond_broadcast(&rec->cv_done);
    if (rec->stop && !rec->q_head && closed_gen == rec->flush_req) {
      /* one last look: rows logged while we wrote */
      bool empty = true;
      for (size_t i = 0; i < rec->accs.cap && empty; i++)
        if (rec->accs.slots[i].key && ((struct acc *)rec->accs.slots[i].value)->num_rows) empty = false;
      if (empty) break;
    }
  }
  pthread_mutex_unlock(&rec->mu);
  return NULL;
}

/* ---- flush, sinks, free -------------------------------------------------------- */

int rr_recording_flush(rr_recording *rec, bool blocking, int64_t timeout_ms) {
  if (!rec) rec = rr_get_recording();
  if (!rec) return RR_EINVAL;
  if (!rec->enabled) return RR_OK;
  pthread_mutex_lock(&rec->mu);
  if (!rec->thread_running) { pthread_mutex_unlock(&rec->mu); return RR_OK; }
  uint64_t gen = ++rec->flush_req;
  pthread_cond_signal(&rec->cv_work);
  int rc = RR_OK;
  if (blocking) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t deadline = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + timeout_ms * 1000000;
    ts.tv_sec = deadline / 1000000000;
    ts.tv_nsec = deadline % 1000000000;
    while (rec->flush_done < gen && rec->thread_running) {
      if (timeout_ms < 0) pthread_cond_wait(&rec->cv_done, &rec->mu);
      else if (pthread_cond_timedwait(&rec->cv_done, &rec->mu, &ts) == ETIMEDOUT) { rc = RR_ETIMEDOUT; break; }
    }
  }
  pthread_mutex_unlock(&rec->mu);
  if (rc == RR_OK && blocking) {
    pthread_mutex_lock(&rec->sink_mu);
    if (rec->sink && rec->sink->flush) rc = rec->sink->flush(rec->sink, NULL);
    pthread_mutex_unlock(&rec->sink_mu);
  }
  return rc;
}

/* Replaces the sink: flushes what is pending into the old one, then gives
 * the new one the buffered history (or a fresh SetStoreInfo). */
int rr__set_sink(rr_recording *rec, struct rr_sink *sink) {
  rr_recording_flush(rec, true, -1);
  pthread_mutex_lock(&rec->sink_mu);
  struct rr_sink *old = rec->sink;
  rec->sink = sink;
  if (old) {
    old->close(old);
    rec->store_info_sent = false;
  }
  if (sink && sink->default_flush_tick_ns > 0 && !rec->flush_tick_explicit) {
    pthread_mutex_lock(&rec->mu);
    rec->flush_tick_ns = sink->default_flush_tick_ns;
    pthread_cond_signal(&rec->cv_work); /* re-arm the tick */
    pthread_mutex_unlock(&rec->mu);
  }
  if (sink) {
    struct rr_msg *m = rec->buf_head;
    rec->buf_head = rec->buf_tail = NULL;
    if (m) rec->store_info_sent = true; /* the history starts with it */
    while (m) {
      struct rr_msg *next = m->next;
      deliver(rec, m, NULL);
      m = next;
    }
    end_run(rec);
    if (rec->enabled && !rec->store_info_sent) send_store_info(rec);
  }
  pthread_mutex_unlock(&rec->sink_mu);
  return RR_OK;
}

void rr_recording_stats_get(rr_recording *rec, rr_recording_stats *out) {
  if (!rec) rec = rr_get_recording();
  memset(out, 0, sizeof *out);
  if (!rec) return;
  pthread_mutex_lock(&rec->mu);
  *out = rec->stats;
  out->bytes_in_flight = rec->q_bytes + rec->acc_bytes;
  pthread_mutex_unlock(&rec->mu);
}

void rr__recording_stop(rr_recording *rec) {
  pthread_mutex_lock(&rec->mu);
  bool running = rec->thread_running;
  rec->stop = true;
  pthread_cond_signal(&rec->cv_work);
  pthread_mutex_unlock(&rec->mu);
  if (running) pthread_join(rec->thread, NULL);
  pthread_mutex_lock(&rec->mu);
  rec->thread_running = false;
  rec->closed = true;
  pthread_mutex_unlock(&rec->mu);
}

void rr__recording_release(rr_recording *rec) {
  for (size_t i = 0; i < rec->accs.cap; i++)
    if (rec->accs.slots[i].key) rr__acc_free(rec->accs.slots[i].value);
  rr_map_free(&rec->accs);
  for (size_t i = 0; i < rec->path_cache.cap; i++)
    if (rec->path_cache.slots[i].key) rr__free(rec->path_cache.slots[i].value);
  rr_map_free(&rec->path_cache);
  while (rec->q_head) {
    struct rr_chunk_node *n = rec->q_head;
    rec->q_head = n->next;
    node_free(n);
  }
  free_done(rec, INT_MAX);
  while (rec->buf_head) {
    struct rr_msg *m = rec->buf_head;
    rec->buf_head = m->next;
    rr__msg_free(m);
  }
  if (rec->sink) rec->sink->close(rec->sink); /* may give buffers back to the spares */
  for (int i = 0; i < rec->n_spare; i++) rr__free(rec->spare[i].p);
  rr__schema_cache_free(&rec->schemas);
  pthread_mutex_destroy(&rec->mu);
  pthread_mutex_destroy(&rec->sink_mu);
  pthread_cond_destroy(&rec->cv_work);
  pthread_cond_destroy(&rec->cv_done);
  rr__free(rec->app_id);
  rr__free(rec->rec_id);
  rr__free(rec);
}

/* After fork, in the child: the parent writes what was pending; the child
 * drops its copy and starts afresh (its batcher thread restarts lazily). */
void rr__recording_after_fork_child(rr_recording *rec) {
  for (size_t i = 0; i < rec->accs.cap; i++)
    if (rec->accs.slots[i].key) acc_discard(rec->accs.slots[i].value);
  while (rec->q_head) {
    struct rr_chunk_node *n = rec->q_head;
    rec->q_head = n->next;
    node_free(n);
  }
  free_done(rec, INT_MAX);
  rec->q_tail = NULL;
  rec->q_bytes = rec->acc_bytes = 0;
  rec->q_out = rec->q_in; /* the parent's chunks are not waited for here */
  rec->thread_running = false;
  rec->flush_done = rec->flush_req;
  rr__init_conds(rec);
}

/* Condition variables timed on the monotonic clock. */
void rr__init_conds(rr_recording *rec) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&rec->cv_work, &ca);
  pthread_cond_init(&rec->cv_done, &ca);
  pthread_condattr_destroy(&ca);
}

/* The next row id: strictly increasing within the stream even when threads'
 * clocks disagree. Under rec->mu. */
rr_tuid rr__next_row_id(rr_recording *rec, int64_t now_ns) {
  rr_tuid id = rr__tuid_new_at(now_ns);
  if (id.time_ns < rec->last_row_id.time_ns ||
      (id.time_ns == rec->last_row_id.time_ns && id.inc <= rec->last_row_id.inc)) {
    id = rec->last_row_id; /* another thread's clock was ahead */
    id.inc++;
  }
  rec->last_row_id = id;
  return id;
}
