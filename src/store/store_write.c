/* Writing stores back out as RRD streams, with an optional row filter. */
#include "store_internal.h"

static int emit(rr_write_fn write, void *ud, rr_buf *b, rr_error *err) {
  int rc = b->len ? write(ud, b->data, b->len) : RR_OK;
  rr_buf_reset(b);
  return rc < 0 ? rr__err(err, rc, "write failed: %s", rr_strerror(rc)) : RR_OK;
}

static rr_store_id store_id_of(const rr_store *s) {
  rr_store_id id;
  id.kind = s->info.kind;
  id.application_id = (rr_str){s->app_id, strlen(s->app_id)};
  id.recording_id = (rr_str){s->rec_id, strlen(s->rec_id)};
  return id;
}

/* Rows of chunk c that pass the filter, or -1 for "all rows". */
static int64_t select_rows(const struct rr_chunk *c, bool is_static, const rr_store_filter *f, int64_t *rows) {
  if (!f || !f->timeline || is_static) return -1;
  int t = rr__chunk_find_timeline(c, f->timeline);
  if (t < 0) return 0; /* a range on a timeline the chunk lacks: no row is in it */
  int64_t n = 0;
  bool all = true;
  for (int64_t i = 0; i < c->num_rows; i++) {
    int64_t v = c->timelines[t].times[i];
    if (v >= f->time_min && v <= f->time_max) rows[n++] = i;
    else all = false;
  }
  return all ? -1 : n;
}

int rr_store_hub_write_rrd(rr_store_hub *h, bool lz4, const rr_store_filter *filter, rr_write_fn write,
                           void *ud, rr_error *err) {
  if (!h || !write) return rr__err(err, RR_EINVAL, "rr_store_hub_write_rrd: NULL argument");
  rr_buf out = RR_BUF_INIT, ipc = RR_BUF_INIT;
  int rc = rr_rrd_write_stream_header(&out, lz4);
  if (rc < 0) return rr__err(err, rc, "out of memory");
  pthread_rwlock_rdlock(&h->lock);
  int64_t *rows = NULL;
  size_t rows_cap = 0;
  for (size_t si = 0; si < h->n_stores && rc == RR_OK; si++) {
    rr_store *s = h->stores[si];
    rr_log_msg m;
    if (s->info.has_store_info) {
      rr_store_id id = store_id_of(s);
      rr_log_msg_init_store_info(&m, &id);
      m.info.row_id = s->info_row_id;
      m.info.source_kind = s->info.source_kind;
      m.info.source_extra = (rr_bytes){s->source_extra, s->source_extra_len};
      m.info.has_version = s->info.has_version;
      m.info.version_bits = s->version_bits;
      if ((rc = rr_log_msg_encode(&out, &m, RR_FRAMING_RRD, lz4, err)) < 0) break;
    }
    for (size_t ci = 0; ci < s->n_chunks && rc == RR_OK; ci++) {
      rr__schunk *sc = s->chunks[ci];
      if (filter) {
        if (filter->drop_static && sc->is_static) continue;
        if (filter->drop_temporal && !sc->is_static) continue;
        if (filter->entity_glob && !rr_entity_path_match(filter->entity_glob, sc->c.entity_path)) continue;
      }
      if ((size_t)sc->c.num_rows > rows_cap) {
        int64_t *nr = rr__realloc(rows, (size_t)sc->c.num_rows * sizeof *nr);
        if (!nr) { rc = rr__err(err, RR_ENOMEM, "out of memory"); break; }
        rows = nr;
        rows_cap = (size_t)sc->c.num_rows;
      }
      int64_t nsel = select_rows(&sc->c, sc->is_static, filter, rows);
      if (nsel == 0) continue;
      struct rr_chunk sub;
      const struct rr_chunk *c = &sc->c;
      bool own = false;
      if (nsel > 0) {
        if ((rc = rr__chunk_take(&sc->c, rows, nsel, &sub, err)) < 0) break;
        c = &sub;
        own = true;
      }
      rr_buf_reset(&ipc);
      rc = rr__chunk_to_ipc(c, &ipc, err);
      if (rc == RR_OK) {
        memset(&m, 0, sizeof m);
        m.kind = RR_MSG_ARROW;
        m.store_id = store_id_of(s);
        m.arrow.ipc = (rr_bytes){ipc.data, ipc.len};
        m.arrow.has_chunk_id = true;
        m.arrow.chunk_id = c->id;
        m.arrow.has_is_static = true;
        m.arrow.is_static = c->n_timelines == 0;
        rc = rr_log_msg_encode(&out, &m, RR_FRAMING_RRD, lz4, err);
      }
      if (own) rr__chunk_clear(&sub);
      if (rc == RR_OK && out.len >= (1u << 20)) rc = emit(write, ud, &out, err);
    }
    if (rc == RR_OK && s->info.activated) {
      memset(&m, 0, sizeof m);
      m.kind = RR_MSG_BLUEPRINT_ACTIVATION;
      m.store_id = store_id_of(s);
      m.activation.make_active = s->info.make_active;
      m.activation.make_default = s->info.make_default;
      rc = rr_log_msg_encode(&out, &m, RR_FRAMING_RRD, lz4, err);
    }
  }
  pthread_rwlock_unlock(&h->lock);
  if (rc == RR_OK) rc = emit(write, ud, &out, err);
  rr__free(rows);
  rr_buf_free(&out);
  rr_buf_free(&ipc);
  return rc;
}
