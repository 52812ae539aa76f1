/* The chunk store: hubs of stores keyed by store id, ingestion (decode,
 * dedupe, sort, Clear cascade, index, compaction, GC), subscribers, and the
 * read-only accessors the tools use. See docs/internals/store.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store_internal.h"

#define DEFAULT_MAX_ROWS 4096
#define DEFAULT_MAX_BYTES (4 * 1024 * 1024)
#define MAX_PENDING 256

/* ---- stored chunks ------------------------------------------------------------ */

void rr__schunk_ref(rr__schunk *c) { atomic_fetch_add(&c->refs, 1); }

void rr__schunk_unref(rr__schunk *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  for (size_t t = 0; t < c->c.n_timelines; t++) rr__free(c->tl ? c->tl[t].perm : NULL);
  rr__free(c->tl);
  rr__chunk_clear(&c->c);
  rr__free(c);
}

static _Thread_local const int64_t *t_sort_times;
static int perm_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int64_t tx = t_sort_times[x], ty = t_sort_times[y];
  if (tx != ty) return tx < ty ? -1 : 1;
  return x < y ? -1 : x > y; /* rows are in RowId order */
}

static size_t comp_bytes(const struct rr_chunk *c) {
  size_t n = 0;
  for (size_t k = 0; k < c->n_components; k++)
    n += rr_arrow_array_nbytes(&c->components[k].list, &c->components[k].list_type);
  return n;
}

/* Replaces every component column by an owned copy (drops references to a
 * larger IPC input). */
static int own_components(struct rr_chunk *c) {
  for (size_t k = 0; k < c->n_components; k++) {
    struct rr_chunk_component *col = &c->components[k];
    rr_arrow_builder *b = NULL;
    int rc = rr_arrow_builder_new(&b, &col->list_type);
    if (rc == RR_OK) rc = rr_arrow_builder_append_array(b, &col->list, &col->list_type, 0, c->num_rows);
    struct ArrowArray copy;
    if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &copy);
    rr_arrow_builder_free(b);
    if (rc < 0) return rc;
    col->list.release(&col->list);
    rr_arrow_array_move(&copy, &col->list);
  }
  return RR_OK;
}

/* Wraps a chunk (moved) as a stored chunk with its time indexes. */
static int make_schunk(struct rr_chunk *c, size_t blob_len, rr__schunk **out) {
  rr__schunk *sc = rr__calloc(1, sizeof *sc);
  if (!sc) return RR_ENOMEM;
  sc->c = *c;
  memset(c, 0, sizeof *c);
  atomic_init(&sc->refs, 1);
  sc->is_static = sc->c.n_timelines == 0;
  int64_t n = sc->c.num_rows;
  sc->tl = rr__calloc(sc->c.n_timelines + 1, sizeof *sc->tl);
  if (!sc->tl) goto oom;
  size_t held = sizeof *sc + (size_t)n * 16 + sc->c.n_timelines * (sizeof *sc->tl + (size_t)n * 8);
  for (size_t t = 0; t < sc->c.n_timelines; t++) {
    struct rr__tl_index *ix = &sc->tl[t];
    const int64_t *tm = sc->c.timelines[t].times;
    ix->min = INT64_MAX;
    ix->max = INT64_MIN;
    ix->sorted = true;
    for (int64_t i = 0; i < n; i++) {
      if (tm[i] < ix->min) ix->min = tm[i];
      if (tm[i] > ix->max) ix->max = tm[i];
      if (i && tm[i] < tm[i - 1]) ix->sorted = false;
    }
    if (!ix->sorted) {
      ix->perm = rr__malloc((size_t)n * sizeof *ix->perm);
      if (!ix->perm) goto oom;
      for (int64_t i = 0; i < n; i++) ix->perm[i] = (uint32_t)i;
      t_sort_times = tm;
      qsort(ix->perm, (size_t)n, sizeof *ix->perm, perm_cmp);
      held += (size_t)n * sizeof *ix->perm;
    }
    for (int j = 0; j < RR__FENCES && n > 0; j++) {
      int64_t pos = (int64_t)j * n / RR__FENCES;
      ix->fence[j] = tm[ix->sorted ? pos : (int64_t)ix->perm[pos]];
    }
  }
  size_t cb = comp_bytes(&sc->c);
  if (blob_len > cb + cb / 4 + 4096) {
    if (own_components(&sc->c) < 0) goto oom;
    blob_len = 0;
  }
  held += blob_len ? blob_len : cb;
  for (size_t k = 0; k < sc->c.n_components; k++) held += 64 + strlen(sc->c.components[k].component);
  sc->held = held;
  *out = sc;
  return RR_OK;
oom:
  rr__schunk_unref(sc);
  return RR_ENOMEM;
}

/* ---- hubs and stores ---------------------------------------------------------- */

int rr_store_hub_new(rr_store_hub **out, const rr_store_options *opts) {
  if (!out) return RR_EINVAL;
  rr_store_hub *h = rr__calloc(1, sizeof *h);
  if (!h) return RR_ENOMEM;
  if (opts) h->opts = *opts;
  if (h->opts.chunk_max_rows <= 0) h->opts.chunk_max_rows = DEFAULT_MAX_ROWS;
  if (h->opts.chunk_max_bytes <= 0) h->opts.chunk_max_bytes = DEFAULT_MAX_BYTES;
  if (pthread_rwlock_init(&h->lock, NULL) != 0) { rr__free(h); return RR_ENOMEM; }
  if (pthread_mutex_init(&h->feed_lock, NULL) != 0) {
    pthread_rwlock_destroy(&h->lock);
    rr__free(h);
    return RR_ENOMEM;
  }
  atomic_init(&h->mem, 0);
  /* Decoded IPC bytes come from blocks of 32 MiB, smaller under a small
   * memory limit: the holes freed chunks leave in a block that other chunks
   * still use count as held, and must not dwarf the limit. */
  size_t bs = RR_BLOCKS_DEFAULT_SIZE;
  if (h->opts.memory_limit && h->opts.memory_limit / 16 < bs) bs = (size_t)(h->opts.memory_limit / 16);
  h->pool = rr__blocks_new(bs < ((size_t)2 << 20) ? (size_t)2 << 20 : bs, 0);
  if (!h->pool) {
    pthread_mutex_destroy(&h->feed_lock);
    pthread_rwlock_destroy(&h->lock);
    rr__free(h);
    return RR_ENOMEM;
  }
  *out = h;
  return RR_OK;
}

static void entity_free(rr__entity *e) {
  rr__free(e->path);
  rr__free(e->chunks);
  for (size_t i = 0; i < e->n_comps; i++) {
    rr__free(e->comps[i].component);
    rr__free(e->comps[i].archetype);
    rr__free(e->comps[i].component_type);
    if (e->comps[i].list_type.release) e->comps[i].list_type.release(&e->comps[i].list_type);
  }
  rr__free(e->comps);
  rr__free(e);
}

static void store_free(rr_store *s) {
  for (size_t i = 0; i < s->n_chunks; i++) {
    s->chunks[i]->dead = true;
    rr__schunk_unref(s->chunks[i]);
  }
  rr__free(s->chunks);
  for (size_t i = 0; i < s->entities.cap; i++)
    if (s->entities.slots[i].key) entity_free(s->entities.slots[i].value);
  rr_map_free(&s->entities);
  rr_map_free(&s->chunk_ids);
  rr__free(s->sorted_paths);
  for (size_t i = 0; i < s->n_tls; i++) rr__free(s->tls[i].name);
  rr__free(s->tls);
  rr__free(s->app_id);
  rr__free(s->rec_id);
  rr__free(s->source_extra);
  rr__free(s);
}

void rr_store_hub_free(rr_store_hub *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n_stores; i++) store_free(h->stores[i]);
  rr__free(h->stores);
  rr__free(h->subs);
  rr_rrd_decoder_free(h->dec);
  rr__blocks_drop(h->pool);
  pthread_rwlock_destroy(&h->lock);
  pthread_mutex_destroy(&h->feed_lock);
  rr__free(h);
}

static rr_store *find_store(rr_store_hub *h, int kind, const char *app, size_t app_len, const char *rec,
                            size_t rec_len) {
  for (size_t i = 0; i < h->n_stores; i++) {
    rr_store *s = h->stores[i];
    if (s->info.kind == kind && strlen(s->app_id) == app_len && !memcmp(s->app_id, app, app_len) &&
        strlen(s->rec_id) == rec_len && !memcmp(s->rec_id, rec, rec_len))
      return s;
  }
  return NULL;
}

static rr_store *get_store(rr_store_hub *h, int kind, const char *app, size_t app_len, const char *rec,
                           size_t rec_len) {
  if (kind != RR_STORE_BLUEPRINT) kind = RR_STORE_RECORDING;
  rr_store *s = find_store(h, kind, app, app_len, rec, rec_len);
  if (s) return s;
  if (h->n_stores == h->cap_stores) {
    size_t cap = h->cap_stores ? 2 * h->cap_stores : 4;
    rr_store **ns = rr__realloc(h->stores, cap * sizeof *ns);
    if (!ns) return NULL;
    h->stores = ns;
    h->cap_stores = cap;
  }
  s = rr__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->hub = h;
  s->app_id = rr__strndup(app ? app : "", app_len);
  s->rec_id = rr__strndup(rec ? rec : "", rec_len);
  if (!s->app_id || !s->rec_id) { store_free(s); return NULL; }
  s->info.kind = kind;
  s->info.application_id = s->app_id;
  s->info.recording_id = s->rec_id;
  h->stores[h->n_stores++] = s;
  return s;
}

rr__entity *rr__store_entity(rr_store *s, const char *path) {
  return rr_map_get(&s->entities, path, strlen(path));
}

static rr__entity *get_entity(rr_store *s, const char *path) {
  rr__entity *e = rr__store_entity(s, path);
  if (e) return e;
  e = rr__calloc(1, sizeof *e);
  if (!e || !(e->path = rr__strdup(path)) || rr_map_put(&s->entities, path, strlen(path), e) < 0) {
    if (e) rr__free(e->path);
    rr__free(e);
    return NULL;
  }
  s->paths_dirty = true;
  return e;
}

static int push_ptr(void ***arr, size_t *n, size_t *cap, void *p) {
  if (*n == *cap) {
    size_t nc = *cap ? 2 * *cap : 8;
    void **na = rr__realloc(*arr, nc * sizeof *na);
    if (!na) return RR_ENOMEM;
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = p;
  return RR_OK;
}

static int note_components(rr__entity *e, const struct rr_chunk *c) {
  for (size_t k = 0; k < c->n_components; k++) {
    const struct rr_chunk_component *col = &c->components[k];
    bool have = false;
    for (size_t i = 0; i < e->n_comps && !have; i++) have = !strcmp(e->comps[i].component, col->component);
    if (have) continue;
    if (e->n_comps == e->cap_comps) {
      size_t nc = e->cap_comps ? 2 * e->cap_comps : 4;
      rr__comp_info *na = rr__realloc(e->comps, nc * sizeof *na);
      if (!na) return RR_ENOMEM;
      e->comps = na;
      e->cap_comps = nc;
    }
    rr__comp_info *ci = &e->comps[e->n_comps];
    memset(ci, 0, sizeof *ci);
    ci->component = rr__strdup(col->component);
    ci->archetype = col->archetype ? rr__strdup(col->archetype) : NULL;
    ci->component_type = col->component_type ? rr__strdup(col->component_type) : NULL;
    int rc = ci->component ? rr_arrow_schema_copy(&ci->list_type, &col->list_type) : RR_ENOMEM;
    if (rc < 0) {
      rr__free(ci->component); rr__free(ci->archetype); rr__free(ci->component_type);
      return rc;
    }
    e->n_comps++;
  }
  return RR_OK;
}

static int note_timelines(rr_store *s, const rr__schunk *sc) {
  for (size_t t = 0; t < sc->c.n_timelines; t++) {
    const struct rr_chunk_timeline *tl = &sc->c.timelines[t];
    size_t i = 0;
    while (i < s->n_tls && strcmp(s->tls[i].name, tl->name)) i++;
    if (i == s->n_tls) {
      struct rr__tl_global *nt = rr__realloc(s->tls, (s->n_tls + 1) * sizeof *nt);
      if (!nt) return RR_ENOMEM;
      s->tls = nt;
      nt[i].name = rr__strdup(tl->name);
      if (!nt[i].name) return RR_ENOMEM;
      nt[i].type = tl->type;
      nt[i].min = INT64_MAX;
      nt[i].max = INT64_MIN;
      s->n_tls++;
    }
    if (sc->c.num_rows) {
      if (sc->tl[t].min < s->tls[i].min) s->tls[i].min = sc->tl[t].min;
      if (sc->tl[t].max > s->tls[i].max) s->tls[i].max = sc->tl[t].max;
    }
  }
  return RR_OK;
}

/* Adds a stored chunk to the store (and its entity at position `at`). */
static int insert_schunk(rr_store *s, rr__entity *e, rr__schunk *sc) {
  sc->ent = e;
  sc->seq = ++s->hub->seq;
  if (push_ptr((void ***)&s->chunks, &s->n_chunks, &s->cap_chunks, sc) < 0) return RR_ENOMEM;
  if (push_ptr((void ***)&e->chunks, &e->n_chunks, &e->cap_chunks, sc) < 0) {
    s->n_chunks--;
    return RR_ENOMEM;
  }
  atomic_fetch_add(&s->hub->mem, sc->held);
  int rc = note_components(e, &sc->c);
  if (rc == RR_OK) rc = note_timelines(s, sc);
  return rc;
}

/* Removes dead chunks from the store's and entities' lists, then unrefs. */
static void remove_chunks(rr_store *s, rr__schunk **dead, size_t n) {
  if (!n) return;
  for (size_t i = 0; i < n; i++) dead[i]->dead = true;
  size_t w = 0;
  for (size_t i = 0; i < s->n_chunks; i++)
    if (!s->chunks[i]->dead) s->chunks[w++] = s->chunks[i];
  s->n_chunks = w;
  for (size_t i = 0; i < n; i++) {
    rr__entity *e = dead[i]->ent;
    if (!e) continue;
    size_t ww = 0;
    for (size_t j = 0; j < e->n_chunks; j++) {
      if (e->chunks[j]->dead) {
        if (j < e->pending_from) e->pending_from--;
        continue;
      }
      e->chunks[ww++] = e->chunks[j];
    }
    e->n_chunks = ww;
    if (e->pending_from > e->n_chunks) e->pending_from = e->n_chunks;
  }
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_sub(&s->hub->mem, dead[i]->held);
    dead[i]->ent = NULL;
    rr__schunk_unref(dead[i]);
  }
}

/* Same timelines (name and type) and same types for shared components. */
static bool concatenable(const struct rr_chunk *a, const struct rr_chunk *b) {
  if (a->n_timelines != b->n_timelines || !a->n_timelines) return false;
  for (size_t t = 0; t < a->n_timelines; t++) {
    int j = rr__chunk_find_timeline(b, a->timelines[t].name);
    if (j < 0 || b->timelines[j].type != a->timelines[t].type) return false;
  }
  for (size_t k = 0; k < a->n_components; k++) {
    int j = rr__chunk_find_component(b, a->components[k].component);
    if (j >= 0 && !rr_arrow_schema_equal(&a->components[k].list_type, &b->components[j].list_type, false))
      return false;
  }
  return true;
}

/* Merges e->chunks[from, to) into one chunk placed at the end. */
static int merge_range(rr_store *s, rr__entity *e, size_t from, size_t to, rr_error *err) {
  size_t n = to - from;
  if (n < 2) return RR_OK;
  struct rr_chunk **src = rr__malloc(n * sizeof *src);
  rr__schunk **old = rr__malloc(n * sizeof *old);
  if (!src || !old) { rr__free(src); rr__free(old); return rr__err(err, RR_ENOMEM, "out of memory"); }
  for (size_t i = 0; i < n; i++) {
    old[i] = e->chunks[from + i];
    src[i] = &old[i]->c;
  }
  struct rr_chunk merged;
  int rc = rr__chunk_concat(src, n, &merged, err);
  rr__schunk *sc = NULL;
  if (rc == RR_OK && (rc = make_schunk(&merged, 0, &sc)) < 0) {
    rr__chunk_clear(&merged);
    rc = rr__err(err, rc, "out of memory");
  }
  if (rc == RR_OK) {
    remove_chunks(s, old, n);
    rc = insert_schunk(s, e, sc);
  }
  rr__free(src);
  rr__free(old);
  return rc;
}

static int merge_pending(rr_store *s, rr__entity *e, rr_error *err) {
  size_t from = e->pending_from, to = e->n_chunks;
  if (to - from < 2) return RR_OK;
  RR_TRY(merge_range(s, e, from, to, err));
  e->pending_from = e->n_chunks - 1; /* the merged chunk stays a candidate */
  return RR_OK;
}

static int compact_on_insert(rr_store *s, rr__entity *e, rr__schunk *sc, rr_error *err) {
  const rr_store_options *o = &s->hub->opts;
  /* sc is already the last chunk of e */
  size_t last = e->n_chunks - 1;
  /* A chunk of at least a quarter of chunk_max_bytes is already large:
   * merging it would at most quarter the chunk count at the price of copying
   * every byte, so it is kept as it arrived (its data still points into the
   * decoded IPC bytes). rr_store_compact still merges it. */
  if (sc->is_static || sc->c.num_rows >= o->chunk_max_rows || (int64_t)sc->held >= o->chunk_max_bytes / 4) {
    /* sc is no candidate: close the group before it */
    RR_TRY(merge_range(s, e, e->pending_from, last, err));
    e->pending_from = e->n_chunks;
    return RR_OK;
  }
  int64_t rows = 0, bytes = 0;
  for (size_t i = e->pending_from; i < last; i++) {
    rows += e->chunks[i]->c.num_rows;
    bytes += (int64_t)e->chunks[i]->held;
  }
  bool fits = e->pending_from < last && concatenable(&e->chunks[e->pending_from]->c, &sc->c) &&
              rows + sc->c.num_rows <= o->chunk_max_rows && bytes + (int64_t)sc->held <= o->chunk_max_bytes;
  if (!fits && e->pending_from < last) {
    /* close the pending group, sc starts a new one */
    rr__schunk_ref(sc);
    int rc = merge_range(s, e, e->pending_from, last, err);
    size_t pos = e->n_chunks;
    for (size_t i = 0; i < e->n_chunks; i++) if (e->chunks[i] == sc) pos = i;
    rr__schunk_unref(sc);
    RR_TRY(rc);
    /* keep sc last: move it to the end */
    if (pos + 1 < e->n_chunks) {
      memmove(&e->chunks[pos], &e->chunks[pos + 1], (e->n_chunks - pos - 1) * sizeof *e->chunks);
      e->chunks[e->n_chunks - 1] = sc;
    }
    e->pending_from = e->n_chunks - 1;
    return RR_OK;
  }
  if (e->n_chunks - e->pending_from >= MAX_PENDING) return merge_pending(s, e, err);
  return RR_OK;
}

/* Clear cascade: rows holding Clear:is_recursive write empty lists for every
 * component known so far on the entity (and its descendants when the flag
 * is true) at the same time point, with the clear's RowId + 1. */
static int clear_cascade(rr_store *s, const struct rr_chunk *c, rr_error *err) {
  int k = rr__chunk_find_component(c, "Clear:is_recursive");
  if (k < 0) return RR_OK;
  const struct rr_chunk_component *col = &c->components[k];
  if (strcmp(col->list_type.children[0]->format, "b") != 0) return RR_OK;
  const struct ArrowArray *vals = col->list.children[0];
  const int32_t *offs = col->list.buffers[1];
  int rc = RR_OK;
  for (int64_t r = 0; r < c->num_rows && rc == RR_OK; r++) {
    if (!rr__chunk_row_valid(c, k, r)) continue;
    int64_t o = offs[r + col->list.offset];
    if (offs[r + col->list.offset + 1] <= o) continue;
    int64_t bi = o + vals->offset;
    bool recursive = (((const uint8_t *)vals->buffers[1])[bi >> 3] >> (bi & 7)) & 1;
    size_t plen = strlen(c->entity_path);
    for (size_t i = 0; i < s->entities.cap && rc == RR_OK; i++) {
      if (!s->entities.slots[i].key) continue;
      rr__entity *e = s->entities.slots[i].value;
      bool self = !strcmp(e->path, c->entity_path);
      bool child = recursive && !self &&
                   (plen == 1 ? e->path[0] == '/' : (!strncmp(e->path, c->entity_path, plen) && e->path[plen] == '/'));
      if (!self && !child) continue;
      size_t ncomp = 0;
      for (size_t j = 0; j < e->n_comps; j++) ncomp += strcmp(e->comps[j].component, "Clear:is_recursive") != 0;
      if (!ncomp) continue;
      struct rr_chunk t;
      memset(&t, 0, sizeof t);
      t.id = rr__tuid_new();
      t.entity_path = rr__strdup(e->path);
      t.num_rows = 1;
      t.row_ids = rr__malloc(16);
      t.timelines = rr__calloc(c->n_timelines + 1, sizeof *t.timelines);
      t.components = rr__calloc(ncomp, sizeof *t.components);
      if (!t.entity_path || !t.row_ids || !t.timelines || !t.components) rc = RR_ENOMEM;
      if (rc == RR_OK) {
        rr_tuid id = rr__tuid_from_be(c->row_ids + 16 * r);
        id.inc++;
        if (id.inc == 0) id.time_ns++;
        rr__tuid_to_be(id, t.row_ids);
      }
      for (size_t tt = 0; tt < c->n_timelines && rc == RR_OK; tt++) {
        struct rr_chunk_timeline *tl = &t.timelines[t.n_timelines++];
        tl->name = rr__strdup(c->timelines[tt].name);
        tl->type = c->timelines[tt].type;
        tl->times = rr__malloc(8);
        if (!tl->name || !tl->times) rc = RR_ENOMEM;
        else tl->times[0] = c->timelines[tt].times[r];
      }
      for (size_t j = 0; j < e->n_comps && rc == RR_OK; j++) {
        const rr__comp_info *ci = &e->comps[j];
        if (!strcmp(ci->component, "Clear:is_recursive")) continue;
        struct rr_chunk_component *dc = &t.components[t.n_components++];
        dc->component = rr__strdup(ci->component);
        dc->archetype = ci->archetype ? rr__strdup(ci->archetype) : NULL;
        dc->component_type = ci->component_type ? rr__strdup(ci->component_type) : NULL;
        if (!dc->component) { rc = RR_ENOMEM; break; }
        if ((rc = rr_arrow_schema_copy(&dc->list_type, &ci->list_type)) < 0) break;
        rr_arrow_builder *b = NULL;
        if ((rc = rr_arrow_builder_new(&b, &ci->list_type)) < 0) break;
        rc = rr_arrow_builder_list_finish(b);
        if (rc == RR_OK) rc = rr_arrow_builder_finish(b, &dc->list);
        rr_arrow_builder_free(b);
      }
      if (rc < 0) {
        rr__chunk_clear(&t);
        return rr__err(err, rc, "store: Clear cascade: %s", rr_strerror(rc));
      }
      rr__schunk *sc = NULL;
      if ((rc = make_schunk(&t, 0, &sc)) < 0) { rr__chunk_clear(&t); break; }
      if ((rc = insert_schunk(s, e, sc)) < 0) break;
      if (!s->hub->opts.no_compaction) rc = compact_on_insert(s, e, sc, err);
    }
  }
  return rc;
}

int rr__store_ingest_chunk_blob(rr_store *s, struct rr_chunk *c, size_t blob_len, rr_error *err);

int rr__store_ingest_chunk_blob(rr_store *s, struct rr_chunk *c, size_t blob_len, rr_error *err) {
  uint8_t idkey[16];
  rr__tuid_to_be(c->id, idkey);
  if (rr_map_get(&s->chunk_ids, idkey, 16)) { /* a chunk id is stored once */
    rr__chunk_clear(c);
    return RR_OK;
  }
  int rc = rr__chunk_sort_by_row_id(c);
  if (rc < 0) { rr__chunk_clear(c); return rr__err(err, rc, "out of memory"); }
  rr__entity *e = get_entity(s, c->entity_path);
  if (!e || rr_map_put(&s->chunk_ids, idkey, 16, (void *)1) < 0) {
    rr__chunk_clear(c);
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  /* the cascade sees the components stored before this chunk */
  if ((rc = clear_cascade(s, c, err)) < 0) { rr__chunk_clear(c); return rc; }
  rr__schunk *sc = NULL;
  if ((rc = make_schunk(c, blob_len, &sc)) < 0) { rr__chunk_clear(c); return rr__err(err, rc, "out of memory"); }
  if ((rc = insert_schunk(s, e, sc)) < 0) return rr__err(err, rc, "out of memory");
  if (!s->hub->opts.no_compaction) RR_TRY(compact_on_insert(s, e, sc, err));
  return RR_OK;
}

int rr__store_ingest_chunk(rr_store *s, struct rr_chunk *c, rr_error *err) {
  return rr__store_ingest_chunk_blob(s, c, 0, err);
}

/* ---- GC ------------------------------------------------------------------------- */

static int gc_cmp(const void *a, const void *b) {
  const rr__schunk *x = *(rr__schunk *const *)a, *y = *(rr__schunk *const *)b;
  int c = memcmp(x->c.row_ids, y->c.row_ids, 16);
  return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

uint64_t rr__hub_memory(rr_store_hub *h) {
  rr_blocks_stats bs;
  rr__blocks_stats(h->pool, &bs);
  return atomic_load(&h->mem) + (bs.held > bs.live ? bs.held - bs.live : 0);
}

static void gc_pass(rr_store_hub *h, uint64_t target);

/* Removes the oldest temporal chunks until the hub holds at most `target`
 * bytes. Freeing chunks can leave part of a block held by its other chunks,
 * so a pass is repeated while the total is still above the target. */
static uint64_t gc_locked(rr_store_hub *h, uint64_t target) {
  uint64_t before = rr__hub_memory(h), now = before;
  for (int pass = 0; pass < 4 && now > target; pass++) {
    gc_pass(h, target);
    uint64_t after = rr__hub_memory(h);
    if (after >= now) break;
    now = after;
  }
  return before > now ? before - now : 0;
}

static void gc_pass(rr_store_hub *h, uint64_t target) {
  uint64_t before = rr__hub_memory(h);
  if (before <= target) return;
  size_t total = 0;
  for (size_t i = 0; i < h->n_stores; i++) total += h->stores[i]->n_chunks;
  rr__schunk **all = rr__malloc((total + 1) * sizeof *all);
  if (!all) return;
  size_t n = 0;
  for (size_t i = 0; i < h->n_stores; i++)
    for (size_t j = 0; j < h->stores[i]->n_chunks; j++) {
      rr__schunk *c = h->stores[i]->chunks[j];
      if (!c->is_static && c->c.num_rows > 0) all[n++] = c;
    }
  if (n) qsort(all, n, sizeof *all, gc_cmp);
  uint64_t mem = before;
  size_t cut = 0;
  while (cut < n && mem > target) mem -= all[cut++]->held;
  /* remove per store */
  for (size_t i = 0; i < h->n_stores; i++) {
    rr_store *s = h->stores[i];
    size_t k = 0;
    for (size_t j = 0; j < cut; j++) {
      rr__entity *e = all[j]->ent;
      bool mine = false;
      for (size_t q = 0; q < s->n_chunks && !mine; q++) mine = s->chunks[q] == all[j];
      (void)e;
      if (mine) { rr__schunk *t = all[k]; all[k] = all[j]; all[j] = t; k++; }
    }
    remove_chunks(s, all, k);
    memmove(all, all + k, (n - k) * sizeof *all);
    cut -= k;
    n -= k;
  }
  rr__free(all);
}

uint64_t rr_store_hub_gc(rr_store_hub *h, uint64_t target) {
  if (!h) return 0;
  pthread_rwlock_wrlock(&h->lock);
  uint64_t r = gc_locked(h, target);
  pthread_rwlock_unlock(&h->lock);
  return r;
}

uint64_t rr_store_hub_memory(rr_store_hub *h) { return h ? rr__hub_memory(h) : 0; }

/* ---- messages ------------------------------------------------------------------- */

static void note_error(rr_store_hub *h, const rr_error *e, int code) {
  h->stats.errors++;
  if (h->stats.first_error == RR_OK) {
    h->stats.first_error = code;
    snprintf(h->stats.first_error_msg, sizeof h->stats.first_error_msg, "%.255s", e ? e->msg : rr_strerror(code));
  }
  if (h->input_first_error == RR_OK) {
    h->input_first_error = code;
    h->input_err.code = code;
    snprintf(h->input_err.msg, sizeof h->input_err.msg, "%.255s", e ? e->msg : rr_strerror(code));
  }
}

struct notify { rr_store *s; size_t idx; };

static int ingest_locked(rr_store_hub *h, rr_log_msg *m, rr_store **touched, rr_error *err) {
  *touched = NULL;
  if (m->kind == RR_MSG_END) return RR_OK;
  rr_store *s = get_store(h, m->store_id.kind, m->store_id.application_id.ptr, m->store_id.application_id.len,
                          m->store_id.recording_id.ptr, m->store_id.recording_id.len);
  if (!s) return rr__err(err, RR_ENOMEM, "out of memory");
  *touched = s;
  if (m->kind == RR_MSG_SET_STORE_INFO) {
    s->info.has_store_info = true;
    s->info.source_kind = m->info.source_kind;
    s->info.has_version = m->info.has_version;
    s->version_bits = m->info.version_bits;
    s->info_row_id = m->info.row_id;
    if (m->info.has_version) {
      uint32_t b = (uint32_t)m->info.version_bits;
      uint8_t v[4] = {(uint8_t)b, (uint8_t)(b >> 8), (uint8_t)(b >> 16), (uint8_t)(b >> 24)};
      rr_rrd_version_format(v, s->info.version);
    }
    rr__free(s->source_extra);
    s->source_extra = NULL;
    s->source_extra_len = 0;
    if (m->info.source_extra.len) {
      s->source_extra = rr__malloc(m->info.source_extra.len);
      if (!s->source_extra) return rr__err(err, RR_ENOMEM, "out of memory");
      memcpy(s->source_extra, m->info.source_extra.ptr, m->info.source_extra.len);
      s->source_extra_len = m->info.source_extra.len;
    }
    return RR_OK;
  }
  if (m->kind == RR_MSG_BLUEPRINT_ACTIVATION) {
    s->info.activated = true;
    s->info.make_active = m->activation.make_active;
    s->info.make_default = m->activation.make_default;
    return RR_OK;
  }
  if (m->kind != RR_MSG_ARROW) return RR_OK;
  size_t len = 0;
  uint8_t *ipc = rr_log_msg_take_ipc(m, &len);
  if (!ipc) return rr__err(err, RR_ECORRUPT, "ArrowMsg without payload");
  size_t foot = rr__blocks_footprint(ipc); /* what the kept bytes occupy */
  struct rr_chunk c;
  int rc = rr__chunk_from_ipc(ipc, len, &c, err);
  if (rc < 0) return rc;
  h->stats.chunks++;
  return rr__store_ingest_chunk_blob(s, &c, foot, err);
}

static void notify_subs(rr_store_hub *h, rr_store *s, size_t before) {
  if (!h->n_subs || !s) return;
  pthread_rwlock_rdlock(&h->lock);
  size_t n = s->n_chunks;
  struct rr__sub subs[16];
  size_t ns = h->n_subs < 16 ? h->n_subs : 16;
  memcpy(subs, h->subs, ns * sizeof *subs);
  pthread_rwlock_unlock(&h->lock);
  (void)before;
  /* the chunks appended by this ingestion are at the end */
  for (size_t i = 0; i < ns; i++) subs[i].cb(subs[i].ud, s, n ? n - 1 : 0);
}

int rr__store_hub_ingest_msg(rr_store_hub *h, rr_log_msg *m, rr_error *err) {
  rr_store *touched = NULL;
  pthread_rwlock_wrlock(&h->lock);
  h->stats.messages++;
  int rc = ingest_locked(h, m, &touched, err);
  if (h->opts.memory_limit && rr__hub_memory(h) > h->opts.memory_limit) gc_locked(h, h->opts.memory_limit);
  pthread_rwlock_unlock(&h->lock);
  bool arrow = m->kind == RR_MSG_ARROW;
  rr_log_msg_free(m);
  if (rc == RR_OK && arrow) notify_subs(h, touched, 0);
  return rc;
}

static int new_decoder(rr_store_hub *h) {
  RR_TRY(rr_rrd_decoder_new(&h->dec, NULL));
  rr_rrd_decoder_set_ipc_pool(h->dec, h->pool);
  rr_rrd_decoder_set_keep_arrow_proto(h->dec, false); /* chunks are made from `arrow` alone */
  h->input_first_error = RR_OK;
  return RR_OK;
}

/* Ingests every complete message of the decoder's queue. Caller holds the
 * feed lock. */
static int drain_locked(rr_store_hub *h, rr_error *err) {
  int rc = RR_OK;
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error e = {0, ""};
    int r = rr_rrd_decoder_next(h->dec, &m, &e);
    if (r == RR_EAGAIN || r == RR_EEOF) break;
    if (r < 0) { note_error(h, &e, r); continue; }
    const char *w = rr_rrd_decoder_warning(h->dec);
    if (w && !h->stats.warning[0]) snprintf(h->stats.warning, sizeof h->stats.warning, "%s", w);
    uint64_t off = m->offset;
    r = rr__store_hub_ingest_msg(h, m, &e);
    if (r == RR_ENOMEM) { rc = rr__err(err, r, "out of memory"); break; }
    if (r < 0) {
      rr_error e2 = e;
      snprintf(e2.msg, sizeof e2.msg, "message at byte offset %llu: %.200s", (unsigned long long)off, e.msg);
      note_error(h, &e2, r);
    }
  }
  return rc;
}

int rr_store_hub_feed(rr_store_hub *h, const void *p, size_t n, rr_error *err) {
  if (!h || (!p && n)) return rr__err(err, RR_EINVAL, "rr_store_hub_feed: NULL argument");
  pthread_mutex_lock(&h->feed_lock);
  int rc = RR_OK;
  if (!h->dec && (rc = new_decoder(h)) < 0) {
    pthread_mutex_unlock(&h->feed_lock);
    return rr__err(err, rc, "out of memory");
  }
  if (n && (rc = rr_rrd_decoder_feed(h->dec, p, n)) < 0) {
    pthread_mutex_unlock(&h->feed_lock);
    return rr__err(err, rc, "out of memory");
  }
  h->stats.bytes += n;
  rc = drain_locked(h, err);
  pthread_mutex_unlock(&h->feed_lock);
  return rc;
}

/* Reads up to n bytes of f straight into the decoder's queue (no copy
 * through a buffer of ours) and ingests what is complete. *got: bytes read. */
static int feed_from_file(rr_store_hub *h, FILE *f, size_t n, size_t *got, rr_error *err) {
  *got = 0;
  pthread_mutex_lock(&h->feed_lock);
  int rc = RR_OK;
  if (!h->dec && (rc = new_decoder(h)) < 0) {
    pthread_mutex_unlock(&h->feed_lock);
    return rr__err(err, rc, "out of memory");
  }
  uint8_t *dst = rr_rrd_decoder_reserve(h->dec, n);
  if (!dst) {
    /* the decoder stopped (bytes are ignored, as by rr_store_hub_feed) or
     * is out of memory: go through a small buffer */
    pthread_mutex_unlock(&h->feed_lock);
    uint8_t tmp[65536];
    size_t k = fread(tmp, 1, sizeof tmp, f);
    *got = k;
    return k ? rr_store_hub_feed(h, tmp, k, err) : RR_OK;
  }
  size_t k = fread(dst, 1, n, f);
  rr_rrd_decoder_commit(h->dec, k);
  *got = k;
  h->stats.bytes += k;
  if (k) rc = drain_locked(h, err);
  pthread_mutex_unlock(&h->feed_lock);
  return rc;
}

int rr_store_hub_finish(rr_store_hub *h, rr_error *err) {
  if (!h) return RR_EINVAL;
  pthread_mutex_lock(&h->feed_lock);
  if (!h->dec && new_decoder(h) < 0) {
    pthread_mutex_unlock(&h->feed_lock);
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  rr_rrd_decoder_finish(h->dec);
  pthread_mutex_unlock(&h->feed_lock);
  int rc = rr_store_hub_feed(h, NULL, 0, err);
  pthread_mutex_lock(&h->feed_lock);
  int first = h->input_first_error;
  if (first < 0 && err) *err = h->input_err;
  rr_rrd_decoder_free(h->dec);
  h->dec = NULL;
  h->input_first_error = RR_OK;
  pthread_mutex_unlock(&h->feed_lock);
  /* the last pending groups */
  if (rc == RR_OK && !h->opts.no_compaction) {
    pthread_rwlock_wrlock(&h->lock);
    for (size_t i = 0; i < h->n_stores && rc == RR_OK; i++) {
      rr_store *s = h->stores[i];
      for (size_t j = 0; j < s->entities.cap && rc == RR_OK; j++)
        if (s->entities.slots[j].key) rc = merge_pending(s, s->entities.slots[j].value, err);
    }
    pthread_rwlock_unlock(&h->lock);
  }
  return rc < 0 ? rc : first;
}

int rr_store_hub_load_path(rr_store_hub *h, const char *path, rr_error *err) {
  if (!h || !path) return rr__err(err, RR_EINVAL, "rr_store_hub_load_path: NULL argument");
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    int e = errno;
    return rr__err(err, e == ENOENT ? RR_ENOTFOUND : RR_EIO, "cannot open %s: %s", path, strerror(e));
  }
  enum { BUFSZ = 1 << 20 };
  int rc = RR_OK;
  while (rc == RR_OK) {
    size_t n = 0;
    rc = feed_from_file(h, f, BUFSZ, &n, err);
    if (rc == RR_OK && n == 0) {
      if (ferror(f)) rc = rr__err(err, RR_EIO, "read error in %s", path);
      break;
    }
  }
  if (f != stdin) fclose(f);
  if (rc < 0) {
    rr_error tmp;
    rr_store_hub_finish(h, &tmp);
    return rc;
  }
  return rr_store_hub_finish(h, err);
}

void rr_store_hub_load_stats(rr_store_hub *h, rr_load_stats *out) {
  pthread_mutex_lock(&h->feed_lock);
  *out = h->stats;
  pthread_mutex_unlock(&h->feed_lock);
}

int rr_store_hub_subscribe(rr_store_hub *h, rr_store_chunk_cb cb, void *ud) {
  if (!h || !cb) return RR_EINVAL;
  pthread_rwlock_wrlock(&h->lock);
  struct rr__sub *ns = rr__realloc(h->subs, (h->n_subs + 1) * sizeof *ns);
  int id = RR_ENOMEM;
  if (ns) {
    h->subs = ns;
    id = h->next_sub++;
    ns[h->n_subs++] = (struct rr__sub){id, cb, ud};
  }
  pthread_rwlock_unlock(&h->lock);
  return id;
}

void rr_store_hub_unsubscribe(rr_store_hub *h, int id) {
  if (!h) return;
  pthread_rwlock_wrlock(&h->lock);
  for (size_t i = 0; i < h->n_subs; i++)
    if (h->subs[i].id == id) {
      memmove(&h->subs[i], &h->subs[i + 1], (h->n_subs - i - 1) * sizeof *h->subs);
      h->n_subs--;
      break;
    }
  pthread_rwlock_unlock(&h->lock);
}

/* ---- accessors ---------------------------------------------------------------- */

size_t rr_store_hub_count(rr_store_hub *h) {
  if (!h) return 0;
  pthread_rwlock_rdlock(&h->lock);
  size_t n = h->n_stores;
  pthread_rwlock_unlock(&h->lock);
  return n;
}

rr_store *rr_store_hub_at(rr_store_hub *h, size_t i) {
  if (!h) return NULL;
  pthread_rwlock_rdlock(&h->lock);
  rr_store *s = i < h->n_stores ? h->stores[i] : NULL;
  pthread_rwlock_unlock(&h->lock);
  return s;
}

rr_store *rr_store_hub_find(rr_store_hub *h, int kind, const char *app, const char *rec) {
  if (!h || !app || !rec) return NULL;
  pthread_rwlock_rdlock(&h->lock);
  rr_store *s = find_store(h, kind, app, strlen(app), rec, strlen(rec));
  pthread_rwlock_unlock(&h->lock);
  return s;
}

void rr_store_get_info(rr_store *s, rr_store_info *out) {
  pthread_rwlock_rdlock(&s->hub->lock);
  *out = s->info;
  pthread_rwlock_unlock(&s->hub->lock);
}

void rr_store_get_stats(rr_store *s, rr_store_stats *out) {
  memset(out, 0, sizeof *out);
  pthread_rwlock_rdlock(&s->hub->lock);
  for (size_t i = 0; i < s->n_chunks; i++) {
    out->chunks++;
    out->static_chunks += s->chunks[i]->is_static;
    out->rows += (uint64_t)s->chunks[i]->c.num_rows;
    out->bytes += s->chunks[i]->held;
  }
  out->entities = s->entities.len;
  out->timelines = s->n_tls;
  pthread_rwlock_unlock(&s->hub->lock);
}

static int strp_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

size_t rr_store_entities(rr_store *s, const char **out, size_t cap, size_t *total) {
  pthread_rwlock_wrlock(&s->hub->lock);
  if (s->paths_dirty || !s->sorted_paths) {
    char **np = rr__realloc(s->sorted_paths, (s->entities.len + 1) * sizeof *np);
    if (np) {
      s->sorted_paths = np;
      size_t n = 0;
      for (size_t i = 0; i < s->entities.cap; i++)
        if (s->entities.slots[i].key) np[n++] = ((rr__entity *)s->entities.slots[i].value)->path;
      if (n) qsort(np, n, sizeof *np, strp_cmp);
      s->n_sorted = n;
      s->paths_dirty = false;
    }
  }
  size_t n = s->n_sorted < cap ? s->n_sorted : cap;
  for (size_t i = 0; i < n; i++) out[i] = s->sorted_paths[i];
  if (total) *total = s->n_sorted;
  pthread_rwlock_unlock(&s->hub->lock);
  return n;
}

size_t rr_store_timelines(rr_store *s, rr_timeline_info *out, size_t cap) {
  pthread_rwlock_rdlock(&s->hub->lock);
  size_t n = s->n_tls;
  for (size_t i = 0; i < n && i < cap; i++)
    out[i] = (rr_timeline_info){s->tls[i].name, s->tls[i].type, s->tls[i].min, s->tls[i].max};
  pthread_rwlock_unlock(&s->hub->lock);
  return n;
}

size_t rr_store_chunk_count(rr_store *s) {
  pthread_rwlock_rdlock(&s->hub->lock);
  size_t n = s->n_chunks;
  pthread_rwlock_unlock(&s->hub->lock);
  return n;
}

int rr_store_chunk_summary(rr_store *s, size_t i, rr_chunk_summary *out) {
  pthread_rwlock_rdlock(&s->hub->lock);
  if (i >= s->n_chunks) {
    pthread_rwlock_unlock(&s->hub->lock);
    return RR_ERANGE;
  }
  const rr__schunk *c = s->chunks[i];
  memcpy(out->id, "chunk_", 6);
  rr__tuid_format(c->c.id, out->id + 6);
  out->entity_path = c->ent ? c->ent->path : "";
  out->num_rows = c->c.num_rows;
  out->is_static = c->is_static;
  out->bytes = c->held;
  out->n_timelines = c->c.n_timelines;
  out->n_components = c->c.n_components;
  pthread_rwlock_unlock(&s->hub->lock);
  return RR_OK;
}

/* ---- arrays holding a chunk reference ---------------------------------------- */

struct held_array {
  struct ArrowArray inner;
  rr__schunk *chunk;
};

static void held_release(struct ArrowArray *a) {
  struct held_array *h = a->private_data;
  if (h->inner.release) h->inner.release(&h->inner);
  rr__schunk_unref(h->chunk);
  rr__free(h);
  a->release = NULL;
}

int rr__array_hold(struct ArrowArray *a, rr__schunk *c);
int rr__array_hold(struct ArrowArray *a, rr__schunk *c) {
  struct held_array *h = rr__malloc(sizeof *h);
  if (!h) return RR_ENOMEM;
  h->inner = *a;
  h->chunk = c;
  rr__schunk_ref(c);
  a->private_data = h;
  a->release = held_release;
  return RR_OK;
}

int rr_store_chunk_batch(rr_store *s, size_t i, struct ArrowSchema *schema, struct ArrowArray *batch,
                         rr_error *err) {
  pthread_rwlock_rdlock(&s->hub->lock);
  if (i >= s->n_chunks) {
    pthread_rwlock_unlock(&s->hub->lock);
    return rr__err(err, RR_ERANGE, "chunk index %zu out of range", i);
  }
  rr__schunk *c = s->chunks[i];
  rr__schunk_ref(c);
  pthread_rwlock_unlock(&s->hub->lock);
  int rc = rr__chunk_to_batch(&c->c, schema, batch, err);
  if (rc == RR_OK && (rc = rr__array_hold(batch, c)) < 0) {
    batch->release(batch);
    schema->release(schema);
    rc = rr__err(err, rc, "out of memory");
  }
  rr__schunk_unref(c);
  return rc;
}

/* ---- compaction, matching, limits -------------------------------------------- */

/* Splits chunks of e with more than max_rows rows into pieces of max_rows. */
static int split_large(rr_store *s, rr__entity *e, rr_error *err) {
  int64_t max = s->hub->opts.chunk_max_rows;
  for (size_t i = 0; i < e->n_chunks; i++) {
    rr__schunk *c = e->chunks[i];
    if (c->c.num_rows <= max) continue;
    int64_t *rows = rr__malloc((size_t)max * sizeof *rows);
    if (!rows) return rr__err(err, RR_ENOMEM, "out of memory");
    int rc = RR_OK;
    for (int64_t at = 0; at < c->c.num_rows && rc == RR_OK; at += max) {
      int64_t n = c->c.num_rows - at < max ? c->c.num_rows - at : max;
      for (int64_t k = 0; k < n; k++) rows[k] = at + k;
      struct rr_chunk piece;
      rr__schunk *sc = NULL;
      if ((rc = rr__chunk_take(&c->c, rows, n, &piece, err)) < 0) break;
      if ((rc = make_schunk(&piece, 0, &sc)) < 0) { rr__chunk_clear(&piece); break; }
      rc = insert_schunk(s, e, sc);
    }
    rr__free(rows);
    if (rc < 0) return rc;
    rr__schunk *dead[1] = {c};
    remove_chunks(s, dead, 1);
    i--; /* the pieces were appended; the next chunk moved into slot i */
  }
  return RR_OK;
}

int rr_store_compact(rr_store *s, rr_error *err) {
  rr_store_hub *h = s->hub;
  int rc = RR_OK;
  pthread_rwlock_wrlock(&h->lock);
  for (size_t j = 0; j < s->entities.cap && rc == RR_OK; j++)
    if (s->entities.slots[j].key) rc = split_large(s, s->entities.slots[j].value, err);
  for (size_t j = 0; j < s->entities.cap && rc == RR_OK; j++) {
    if (!s->entities.slots[j].key) continue;
    rr__entity *e = s->entities.slots[j].value;
    size_t i = 0;
    while (i < e->n_chunks && rc == RR_OK) {
      rr__schunk *a = e->chunks[i];
      size_t k = i + 1;
      int64_t rows = a->c.num_rows, bytes = (int64_t)a->held;
      if (!a->is_static)
        while (k < e->n_chunks && !e->chunks[k]->is_static && concatenable(&a->c, &e->chunks[k]->c) &&
               rows + e->chunks[k]->c.num_rows <= h->opts.chunk_max_rows &&
               bytes + (int64_t)e->chunks[k]->held <= h->opts.chunk_max_bytes) {
          rows += e->chunks[k]->c.num_rows;
          bytes += (int64_t)e->chunks[k]->held;
          k++;
        }
      if (k - i >= 2) {
        /* merge_range appends the result; move it back to position i */
        rc = merge_range(s, e, i, k, err);
        if (rc == RR_OK && e->n_chunks > i + 1) {
          rr__schunk *m = e->chunks[e->n_chunks - 1];
          memmove(&e->chunks[i + 1], &e->chunks[i], (e->n_chunks - 1 - i) * sizeof *e->chunks);
          e->chunks[i] = m;
        }
      }
      i++;
    }
    e->pending_from = e->n_chunks;
  }
  pthread_rwlock_unlock(&h->lock);
  return rc;
}

static bool match_parts(const char *g, const char *p) {
  /* g and p point at the start of a part (after '/') or at NUL */
  if (!*g) return !*p;
  const char *gend = strchr(g, '/');
  size_t glen = gend ? (size_t)(gend - g) : strlen(g);
  if (glen == 2 && !memcmp(g, "**", 2)) {
    const char *rest = gend ? gend + 1 : g + glen;
    for (const char *q = p;;) {
      if (match_parts(rest, q)) return true;
      if (!*q) return false;
      const char *qe = strchr(q, '/');
      q = qe ? qe + 1 : q + strlen(q);
    }
  }
  if (!*p) return false;
  const char *pend = strchr(p, '/');
  size_t plen = pend ? (size_t)(pend - p) : strlen(p);
  if (!(glen == 1 && g[0] == '*') && (glen != plen || memcmp(g, p, plen) != 0)) return false;
  return match_parts(gend ? gend + 1 : g + glen, pend ? pend + 1 : p + plen);
}

bool rr_entity_path_match(const char *glob, const char *path) {
  if (!glob || !path) return false;
  while (*glob == '/') glob++;
  while (*path == '/') path++;
  return match_parts(glob, path);
}

int rr_parse_memory_limit(const char *s, uint64_t *out, rr_error *err) {
  if (!s || !out) return rr__err(err, RR_EINVAL, "memory limit: NULL argument");
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || v < 0) return rr__err(err, RR_EINVAL, "memory limit '%s': not a number", s);
  while (*end == ' ') end++;
  double mul = 1;
  if (!strcmp(end, "%")) {
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || psz <= 0 || v > 100) return rr__err(err, RR_EINVAL, "memory limit '%s': bad percentage", s);
    *out = (uint64_t)((double)pages * (double)psz * v / 100.0);
    return RR_OK;
  }
  static const struct { const char *u; double m; } units[] = {
      {"", 1}, {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
  bool ok = false;
  for (size_t i = 0; i < sizeof units / sizeof *units && !ok; i++)
    if (!strcmp(end, units[i].u)) { mul = units[i].m; ok = true; }
  if (!ok) return rr__err(err, RR_EINVAL, "memory limit '%s': unknown unit '%s' (B, kB, MB, GB, KiB, MiB, GiB, %%)", s, end);
  double r = v * mul;
  if (r >= 1.8e19) return rr__err(err, RR_ERANGE, "memory limit '%s' too large", s);
  *out = (uint64_t)r;
  return RR_OK;
}
