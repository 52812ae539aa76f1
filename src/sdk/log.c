/* The log calls: archetypes, arbitrary Arrow columns, columnar sends,
 * clears and recording properties. */
#include <stdio.h>

#include "sdk_internal.h"
#include "types/rr_types.h"

#define PROPERTIES_PATH "/__properties"

/* Canonical path of a user path, cached per stream. Under rec->mu. */
static const char *canonical_path(rr_recording *rec, const char *path, bool internal, rr_error *err) {
  size_t n = strlen(path);
  const char *c = rr_map_get(&rec->path_cache, path, n);
  if (c) return c;
  rr_buf out = RR_BUF_INIT;
  bool warn = false;
  if (rr__path_canonical(path, n, rec->strict, &out, &warn, err) < 0) { rr_buf_free(&out); return NULL; }
  if (!internal && !strncmp((const char *)out.data, "/__", 3)) {
    rr__err(err, RR_EPATH, "entity path '%s': the '__' prefix is reserved for Rerun", path);
    rr_buf_free(&out);
    return NULL;
  }
  if (warn) rr__warn("entity path '%s' was read as '%s'", path, (const char *)out.data);
  if (rec->path_cache.len >= 65536) { /* bound the cache */
    for (size_t i = 0; i < rec->path_cache.cap; i++)
      if (rec->path_cache.slots[i].key) rr__free(rec->path_cache.slots[i].value);
    rr_map_free(&rec->path_cache);
  }
  char *s = (char *)rr_buf_steal(&out, NULL);
  if (rr_map_put(&rec->path_cache, path, n, s) < 0) { rr__free(s); rr__err(err, RR_ENOMEM, "out of memory"); return NULL; }
  return s;
}

/* Common entry checks. Returns 1 to go on, or a return code. */
static inline int enter(rr_recording **rec, const char *path, rr_error *err) {
  if (!*rec && rr__resolve(rec) < 0) return rr__err(err, RR_EINVAL, "no recording stream given and no default set");
  if (!(*rec)->enabled) return RR_OK;
  if ((*rec)->closed) return rr__report(*rec, rr__err(err, RR_ECLOSED, "the recording stream is closed"), err, "log");
  if (!path) return rr__report(*rec, rr__err(err, RR_EINVAL, "entity_path is NULL"), err, "log");
  return 1;
}

/* A row failed half-way (out of memory): drop the accumulator's rows so
 * its columns stay aligned, and say so. */
static int row_failed(rr_recording *rec, struct acc *a, int rc, rr_error *err) {
  rec->stats.rows_dropped += (uint64_t)a->num_rows;
  rr__acc_discard(rec, a);
  return rr__err(err, rc, "out of memory appending a row to %s: its pending rows were dropped", a->entity_path);
}

/* The accumulator of the thread's last archetype log call: a repeated call
 * to the same path with the same timeline set skips the path parse and two
 * map lookups. Accumulators live as long as their stream, and `serial`
 * never repeats, so a hit is always valid. */
static _Thread_local struct {
  uint64_t serial, tl_version;
  bool is_static, internal;
  char path[128];
  struct acc *acc;
} t_last_acc;

/* Finds (or creates) the accumulator for a user path. Under rec->mu. */
static struct acc *acc_for(rr_recording *rec, const char *path, bool is_static, bool internal,
                           const struct tl_value *tl, size_t ntl, uint64_t version, rr_error *err) {
  if (t_last_acc.acc && t_last_acc.serial == rec->serial && t_last_acc.tl_version == version &&
      t_last_acc.is_static == is_static && t_last_acc.internal == internal && !strcmp(t_last_acc.path, path))
    return t_last_acc.acc;
  const char *cpath = canonical_path(rec, path, internal, err);
  if (!cpath) return NULL;
  rr_buf key = RR_BUF_INIT;
  struct acc *a = rr__acc_get(rec, cpath, is_static, tl, ntl, &key);
  rr_buf_free(&key);
  if (!a) { rr__err(err, RR_ENOMEM, "out of memory"); return NULL; }
  size_t n = strlen(path);
  if (n < sizeof t_last_acc.path) {
    memcpy(t_last_acc.path, path, n + 1);
    t_last_acc.serial = rec->serial;
    t_last_acc.tl_version = version;
    t_last_acc.is_static = is_static;
    t_last_acc.internal = internal;
    t_last_acc.acc = a;
  }
  return a;
}

/* The accumulator's column named `component`, a static string (an
 * archetype field's): first at `hint` (fields usually land in the column
 * order of the previous rows) by pointer, then by name anywhere; a name
 * match records the pointer for the next call. */
static struct acc_col *find_col(struct acc *a, const char *component, size_t hint) {
  if (RR__LIKELY(hint < a->n_cols) && a->cols[hint].static_key == component) return &a->cols[hint];
  for (size_t k = 0; k < a->n_cols; k++) {
    if (strcmp(a->cols[k].component, component)) continue;
    a->cols[k].static_key = component;
    return &a->cols[k];
  }
  return NULL;
}

/* Closes the accumulator and forgets its columns when a logged field's
 * column exists with another type. Under rec->mu. */
static int close_on_type_change(rr_recording *rec, const rr__archetype_def *def, uint32_t present, struct acc *a) {
  for (; present; present &= present - 1) {
    const rr__field_def *f = &def->fields[rr__lowest_bit(present)];
    for (size_t k = 0; k < a->n_cols; k++) {
      if (strcmp(a->cols[k].component, f->component)) continue;
      if (!rr_arrow_schema_equal(a->cols[k].list_type.children[0], f->type->arrow_type(), false)) {
        RR_TRY(rr__acc_close(rec, a));
        rr__acc_drop_columns(a);
        return RR_OK;
      }
      break;
    }
  }
  return RR_OK;
}

/* Takes rec->mu and finds the accumulator of the path and the thread's
 * timelines (*tl, *ntl). NULL (lock released) with err set on failure. */
static inline struct acc *lock_acc(rr_recording *rec, const char *path, bool is_static, bool internal,
                                   const struct tl_value **tl, size_t *ntl, rr_error *err) {
  pthread_mutex_lock(&rec->mu);
  uint64_t version = 0;
  *tl = is_static ? NULL : rr__thread_timelines(rec, ntl, &version);
  struct acc *a = acc_for(rec, path, is_static, internal, *tl, *ntl, version, err);
  if (!a) pthread_mutex_unlock(&rec->mu);
  return a;
}

/* The accumulator's column for an archetype field, created if new. */
static inline struct acc_col *field_col(struct acc *a, const rr__archetype_def *def, const rr__field_def *f,
                                        size_t hint) {
  struct acc_col *col = find_col(a, f->component, hint);
  if (RR__LIKELY(col)) return col;
  const rr__component_def *t = f->type;
  col = rr__acc_col(a, f->component, def->name, t->type_name, t->arrow_type(), NULL);
  if (col) col->static_key = f->component;
  return col;
}

/* Appends a field's n values (validated) as the column's next list slot. */
static inline int append_field(struct acc_col *col, const rr__component_def *t, const void *p, size_t n) {
  /* flat reps are laid out as the builder's buffers */
  if (rr__rep_is_flat(t->rep) && n != 0) {
    if (RR__UNLIKELY(n > (size_t)INT64_MAX)) return RR_ERANGE;
    return rr_arrow_builder_list_append_values(col->b, p, (int64_t)n);
  }
  RR_TRY(t->append_trusted(rr_arrow_builder_child(col->b, 0), p, n));
  return rr_arrow_builder_list_finish(col->b);
}

/* A row larger than max_bytes_in_flight: see rr__acc_write_direct. Large
 * fixed-width fields are viewed in place, the others appended as usual. */
static int log_direct(rr_recording *rec, const char *path, const rr__archetype_def *def, const void *arch,
                      uint32_t present, uint32_t deferred, bool is_static, bool internal, rr_error *err) {
  struct rr_view_col views[RR__MAX_FIELDS];
  struct rr_msg_check chk[RR__MAX_FIELDS];
  size_t chk_field[RR__MAX_FIELDS];
  size_t nv = 0, nchk = 0;
  int rc = RR_OK;
  size_t ntl = 0;
  const struct tl_value *tl;
  struct acc *a = lock_acc(rec, path, is_static, internal, &tl, &ntl, err);
  if (!a) return err->code < 0 ? err->code : RR_EPATH;
  if (!rec->thread_running) rr__start_thread(rec); /* it writes what is queued before this row */
  if (RR__UNLIKELY(a->user_cols) && (rc = close_on_type_change(rec, def, present, a)) < 0) goto fail;
  if ((rc = rr__acc_close(rec, a)) < 0) goto fail; /* the entity's earlier rows go first */
  if ((rc = rr__acc_row_begin(rec, a, tl, ntl)) < 0) goto fail;
  size_t j = 0;
  for (; present; present &= present - 1) {
    unsigned fi = rr__lowest_bit(present);
    const rr__field_def *f = &def->fields[fi];
    const void *p = rr__field_ptr(f, arch);
    size_t n = rr__field_count(f, arch);
    const rr__component_def *t = f->type;
    struct acc_col *col = field_col(a, def, f, j++);
    if (!col) { rc = RR_ENOMEM; goto fail; }
    if (rr__rep_is_flat(t->rep) && n * t->c_size >= RR__DIRECT_MIN_BYTES && n <= (size_t)INT32_MAX &&
        nv < RR__MAX_FIELDS &&
        rr_arrow_array_view_values(&views[nv].values, col->list_type.children[0], p, (int64_t)n) == RR_OK) {
      views[nv++].col = (size_t)(col - a->cols);
      if (deferred & (1u << fi)) { /* checked by the sink, block by block as it writes them */
        chk[nchk] = (struct rr_msg_check){p, n * t->c_size};
        chk_field[nchk++] = fi;
        deferred &= ~(1u << fi);
      }
    } else {
      if ((deferred & (1u << fi)) && (rc = rr__archetype_check_field(def, fi, arch, err)) < 0) goto refused;
      if ((rc = append_field(col, t, p, n)) < 0) goto fail;
    }
    a->row_cols++;
  }
  size_t bad = 0;
  rc = rr__acc_write_direct(rec, a, views, nv, chk, nchk, &bad, err);
  pthread_mutex_unlock(&rec->mu);
  /* the error the checks before the call would have given */
  if (rc == RR_ENOTFINITE && (rc = rr__archetype_check_field(def, chk_field[bad], arch, err)) == RR_OK)
    rc = rr__err(err, RR_EINTERNAL, "%s: a value changed while it was logged", def->fields[chk_field[bad]].component);
  return rc;
refused:
  for (size_t i = 0; i < nv; i++) views[i].values.release(&views[i].values);
  rr__acc_discard(rec, a); /* only this row: the earlier ones were closed above */
  pthread_mutex_unlock(&rec->mu);
  return rc;
fail:
  for (size_t i = 0; i < nv; i++) views[i].values.release(&views[i].values);
  rc = row_failed(rec, a, rc, err);
  pthread_mutex_unlock(&rec->mu);
  return rc;
}

static int log_archetype(rr_recording *rec, const char *path, rr_archetype_id type, const void *arch,
                         bool is_static, bool internal, rr_error *err) {
  const rr__archetype_def *def = rr__archetype_get(type);
  if (!def) return rr__err(err, RR_EINVAL, "unknown archetype id %d", (int)type);
  if (!arch) return rr__err(err, RR_EINVAL, "%s: archetype struct is NULL", def->short_name);
  /* def->validate, which also lists the logged fields */
  /* Under a policy that waits, a row larger than the queue may hold is
   * written from the caller's memory (log_direct); its large float fields
   * are then checked as they are written, not read once more here. */
  bool may_direct = rec->policy != RR_BACKPRESSURE_DROP_OLDEST;
  uint32_t present = 0, deferred = 0;
  RR_TRY(rr__archetype_validate_fields(def, arch, err, &present, may_direct ? RR__DIRECT_MIN_BYTES : 0, &deferred));
  size_t row_bytes = 0;
  for (uint32_t b = present; b; b &= b - 1) {
    const rr__field_def *f = &def->fields[rr__lowest_bit(b)];
    row_bytes += rr__field_count(f, arch) * f->type->c_size;
  }
  if (RR__UNLIKELY(row_bytes > (size_t)rec->max_in_flight) && may_direct)
    return log_direct(rec, path, def, arch, present, deferred, is_static, internal, err);
  for (; RR__UNLIKELY(deferred); deferred &= deferred - 1)
    RR_TRY(rr__archetype_check_field(def, rr__lowest_bit(deferred), arch, err));
  int rc = RR_OK;
  size_t ntl = 0;
  const struct tl_value *tl;
  struct acc *a = lock_acc(rec, path, is_static, internal, &tl, &ntl, err);
  if (!a) return err->code < 0 ? err->code : RR_EPATH;
  /* A column of the same name made by rr_log_columns may have another
   * type: as there, a type change starts a new chunk. */
  if (RR__UNLIKELY(a->user_cols) && (rc = close_on_type_change(rec, def, present, a)) < 0) goto fail;
  if ((rc = rr__acc_row_begin(rec, a, tl, ntl)) < 0) goto fail;
  size_t bytes = 16 + 8 * a->n_tl;
  size_t j = 0; /* logged fields so far */
  for (; present; present &= present - 1) {
    const rr__field_def *f = &def->fields[rr__lowest_bit(present)];
    const void *p = rr__field_ptr(f, arch);
    size_t n = rr__field_count(f, arch);
    const rr__component_def *t = f->type;
    struct acc_col *col = field_col(a, def, f, j++);
    if (!col) { rc = RR_ENOMEM; goto fail; }
    if ((rc = append_field(col, t, p, n)) < 0) goto fail; /* validated above */
    bytes += n * t->c_size;
    a->row_cols++;
  }
  if ((rc = rr__acc_row_done(rec, a, bytes)) < 0) goto fail;
  if (!rec->thread_running) rr__start_thread(rec); /* after fork, in the child */
  pthread_mutex_unlock(&rec->mu);
  return RR_OK;
fail:
  rc = row_failed(rec, a, rc, err);
  pthread_mutex_unlock(&rec->mu);
  return rc;
}

/* An error struct for callers that passed none: only the fields read
 * (code, an empty message) are set, not all 260 bytes. */
#define LOCAL_ERROR(e) do { (e).code = 0; (e).msg[0] = 0; } while (0)

int rr_log(rr_recording *rec, const char *entity_path, rr_archetype_id type, const void *archetype,
           rr_error *err) {
  rr_error local;
  if (!err) { LOCAL_ERROR(local); err = &local; }
  int go = enter(&rec, entity_path, err);
  if (go != 1) return go;
  int rc = log_archetype(rec, entity_path, type, archetype, false, false, err);
  return RR__LIKELY(rc >= 0) ? rc : rr__report(rec, rc, err, "log");
}

int rr_log_static(rr_recording *rec, const char *entity_path, rr_archetype_id type, const void *archetype,
                  rr_error *err) {
  rr_error local;
  if (!err) { LOCAL_ERROR(local); err = &local; }
  int go = enter(&rec, entity_path, err);
  if (go != 1) return go;
  return rr__report(rec, log_archetype(rec, entity_path, type, archetype, true, false, err), err, "log_static");
}

/* ---- arbitrary Arrow columns ------------------------------------------------- */

static int check_column(const rr_component_column *c, size_t i, rr_error *err) {
  if (!c->component || !*c->component) return rr__err(err, RR_EINVAL, "column %zu: component name is NULL or empty", i);
  if (!rr__utf8_valid(c->component, strlen(c->component)))
    return rr__err(err, RR_EUTF8, "column %zu: component name is not valid UTF-8", i);
  if (!c->schema || !c->array || !c->array->release)
    return rr__err(err, RR_EINVAL, "column '%s': schema or array is NULL or released", c->component);
  int rc = rr_arrow_array_validate(c->array, c->schema, err);
  if (rc < 0) return rr__err_wrap(err, rc, "column '%s'", c->component);
  return RR_OK;
}

static void release_columns(rr_component_column *cols, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (cols[i].array && cols[i].array->release) cols[i].array->release(cols[i].array);
}

static int log_columns(rr_recording *rec, const char *path, rr_component_column *cols, size_t n,
                       bool is_static, bool internal, rr_error *err) {
  if (!cols && n) return rr__err(err, RR_EINVAL, "columns is NULL");
  for (size_t i = 0; i < n; i++) RR_TRY(check_column(&cols[i], i, err));
  pthread_mutex_lock(&rec->mu);
  int rc = RR_OK;
  const char *cpath = canonical_path(rec, path, internal, err);
  if (!cpath) { pthread_mutex_unlock(&rec->mu); return err->code < 0 ? err->code : RR_EPATH; }
  size_t ntl = 0;
  const struct tl_value *tl = is_static ? NULL : rr__thread_timelines(rec, &ntl, NULL);
  rr_buf key = RR_BUF_INIT;
  struct acc *a = rr__acc_get(rec, cpath, is_static, tl, ntl, &key);
  rr_buf_free(&key);
  if (!a) { pthread_mutex_unlock(&rec->mu); return rr__err(err, RR_ENOMEM, "out of memory"); }
  /* A component whose type changed starts a new chunk. */
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < a->n_cols; k++) {
      if (strcmp(a->cols[k].component, cols[i].component)) continue;
      if (!rr_arrow_schema_equal(a->cols[k].list_type.children[0], cols[i].schema, false)) {
        if ((rc = rr__acc_close(rec, a)) < 0) goto fail;
        rr__acc_drop_columns(a);
      }
      break;
    }
  }
  a->user_cols = true;
  if ((rc = rr__acc_row_begin(rec, a, tl, ntl)) < 0) goto fail;
  size_t bytes = 16 + 8 * a->n_tl;
  for (size_t i = 0; i < n; i++) {
    bool conflict;
    struct acc_col *col = rr__acc_col(a, cols[i].component, cols[i].archetype, cols[i].component_type,
                                      cols[i].schema, &conflict);
    if (!col) { rc = RR_ENOMEM; goto fail; }
    if ((rc = rr_arrow_builder_append_array(rr_arrow_builder_child(col->b, 0), cols[i].array, cols[i].schema, 0,
                                            cols[i].array->length)) < 0) goto fail;
    if ((rc = rr_arrow_builder_list_finish(col->b)) < 0) goto fail;
    bytes += rr_arrow_array_nbytes(cols[i].array, cols[i].schema);
  }
  if ((rc = rr__acc_row_done(rec, a, bytes)) < 0) goto fail;
  if (!rec->thread_running) rr__start_thread(rec);
  pthread_mutex_unlock(&rec->mu);
  release_columns(cols, n);
  return RR_OK;
fail:
  rc = row_failed(rec, a, rc, err);
  pthread_mutex_unlock(&rec->mu);
  return rc;
}

int rr_log_columns(rr_recording *rec, const char *entity_path, rr_component_column *cols, size_t n,
                   bool is_static, rr_error *err) {
  rr_error local = {0};
  if (!err) err = &local;
  int go = enter(&rec, entity_path, err);
  if (go != 1) return go;
  return rr__report(rec, log_columns(rec, entity_path, cols, n, is_static, false, err), err, "log_columns");
}

/* ---- columnar sends ------------------------------------------------------------ */

static int send_columns(rr_recording *rec, const char *path, const rr_time_column *times, size_t n_times,
                        size_t n_rows, rr_columnar_component *cols, size_t n_cols, rr_error *err) {
  if (n_rows == 0) return RR_OK;
  if ((!times && n_times) || (!cols && n_cols)) return rr__err(err, RR_EINVAL, "times or columns is NULL");
  for (size_t t = 0; t < n_times; t++) {
    if (!times[t].timeline || !*times[t].timeline || !times[t].times)
      return rr__err(err, RR_EINVAL, "time column %zu: timeline name or times is NULL", t);
    if (times[t].type < RR_TIME_SEQUENCE || times[t].type > RR_TIME_TIMESTAMP)
      return rr__err(err, RR_EINVAL, "time column '%s': unknown time type %d", times[t].timeline, (int)times[t].type);
    for (size_t k = 0; k < t; k++)
      if (!strcmp(times[k].timeline, times[t].timeline))
        return rr__err(err, RR_EINVAL, "timeline '%s' given twice", times[t].timeline);
    for (size_t r = 0; r < n_rows; r++)
      if (times[t].times[r] == INT64_MIN)
        return rr__err(err, RR_ERANGE, "time column '%s' row %zu: INT64_MIN is reserved", times[t].timeline, r);
  }
  for (size_t i = 0; i < n_cols; i++) {
    RR_TRY(check_column(&cols[i].column, i, err));
    uint64_t total = 0;
    if (cols[i].lengths) for (size_t r = 0; r < n_rows; r++) total += cols[i].lengths[r];
    else total = n_rows;
    if (total != (uint64_t)cols[i].column.array->length)
      return rr__err(err, RR_ELENGTH, "column '%s': lengths add up to %llu but the array has %lld values",
                     cols[i].column.component, (unsigned long long)total, (long long)cols[i].column.array->length);
  }
  if (n_rows > (size_t)INT32_MAX) return rr__err(err, RR_ERANGE, "too many rows in one send_columns call");

  struct rr_chunk_node *node = rr__calloc(1, sizeof *node);
  if (!node) return rr__err(err, RR_ENOMEM, "out of memory");
  struct rr_chunk *c = &node->chunk;
  int rc = RR_ENOMEM;
  c->num_rows = (int64_t)n_rows;
  c->row_ids = rr__malloc(n_rows * 16);
  c->timelines = rr__calloc(n_times ? n_times : 1, sizeof *c->timelines);
  c->components = rr__calloc(n_cols ? n_cols : 1, sizeof *c->components);
  if (!c->row_ids || !c->timelines || !c->components) goto fail;
  for (size_t t = 0; t < n_times; t++) {
    struct rr_chunk_timeline *tl = &c->timelines[t];
    tl->name = rr__strdup(times[t].timeline);
    tl->times = rr__malloc(n_rows * 8);
    tl->type = (int)times[t].type;
    c->n_timelines++;
    if (!tl->name || !tl->times) goto fail;
    memcpy(tl->times, times[t].times, n_rows * 8);
  }
  for (size_t i = 0; i < n_cols; i++) {
    rr_component_column *uc = &cols[i].column;
    struct rr_chunk_component *k = &c->components[c->n_components];
    int32_t *offsets = rr__malloc((n_rows + 1) * sizeof *offsets);
    if (!offsets) goto fail;
    offsets[0] = 0;
    for (size_t r = 0; r < n_rows; r++)
      offsets[r + 1] = offsets[r] + (int32_t)(cols[i].lengths ? cols[i].lengths[r] : 1);
    if ((rc = rr_arrow_array_init(&k->list, (int64_t)n_rows, 0, 2, 1)) < 0) { rr__free(offsets); goto fail; }
    rr_arrow_array_set_buffer(&k->list, 1, offsets);
    if ((rc = rr_arrow_schema_init(&k->list_type, "+l", uc->component, ARROW_FLAG_NULLABLE, 1)) < 0) {
      k->list.release(&k->list);
      goto fail;
    }
    c->n_components++;
    rc = RR_ENOMEM;
    k->component = rr__strdup(uc->component);
    k->archetype = uc->archetype ? rr__strdup(uc->archetype) : NULL;
    k->component_type = uc->component_type ? rr__strdup(uc->component_type) : NULL;
    if (!k->component) goto fail;
    struct ArrowSchema *item = k->list_type.children[0];
    if ((rc = rr_arrow_schema_copy(item, uc->schema)) < 0) goto fail;
    struct ArrowSchema renamed;
    if ((rc = rr_arrow_schema_init(&renamed, item->format, "item", item->flags | ARROW_FLAG_NULLABLE,
                                   item->n_children)) < 0) goto fail;
    for (int64_t ch = 0; ch < item->n_children; ch++) rr_arrow_schema_move(item->children[ch], renamed.children[ch]);
    item->release(item);
    rr_arrow_schema_move(&renamed, item);
    node->bytes += rr_arrow_array_nbytes(uc->array, uc->schema);
  }
  /* Everything checked and allocated: take the arrays (no copy). */
  for (size_t i = 0; i < n_cols; i++) rr_arrow_array_move(cols[i].column.array, c->components[i].list.children[0]);
  node->bytes += n_rows * (16 + 8 * n_times);

  pthread_mutex_lock(&rec->mu);
  const char *cpath = canonical_path(rec, path, false, err);
  if (!cpath) { pthread_mutex_unlock(&rec->mu); rc = err->code < 0 ? err->code : RR_EPATH; goto fail; }
  c->entity_path = rr__strdup(cpath);
  c->id = rr__tuid_new();
  for (size_t r = 0; r < n_rows; r++) rr__tuid_to_be(rr__next_row_id(rec, rr__now_ns()), c->row_ids + 16 * r);
  if (!c->entity_path) { pthread_mutex_unlock(&rec->mu); rc = RR_ENOMEM; goto fail; }
  rec->stats.rows_logged += n_rows;
  rr__queue_push(rec, node);
  if (!rec->thread_running) rr__start_thread(rec);
  rr__backpressure(rec);
  pthread_mutex_unlock(&rec->mu);
  return RR_OK;
fail:
  rr__chunk_clear(c);
  rr__free(node);
  return rc == RR_ENOMEM ? rr__err(err, rc, "out of memory in send_columns") : rc;
}

int rr_send_columns(rr_recording *rec, const char *entity_path, const rr_time_column *times, size_t n_times,
                    size_t n_rows, rr_columnar_component *cols, size_t n_cols, rr_error *err) {
  rr_error local = {0};
  if (!err) err = &local;
  int go = enter(&rec, entity_path, err);
  if (go != 1) return go;
  return rr__report(rec, send_columns(rec, entity_path, times, n_times, n_rows, cols, n_cols, err), err,
                    "send_columns");
}

/* ---- clears and properties --------------------------------------------------- */

int rr_log_clear(rr_recording *rec, const char *entity_path, bool recursive, rr_error *err) {
  rr_clear_is_recursive r = recursive;
  rr_clear c = {.is_recursive = &r, .num_is_recursive = 1};
  return rr_log(rec, entity_path, RR_ARCHETYPE_CLEAR, &c, err);
}

static int log_property(rr_recording *rec, const rr_recording_info *info, rr_error *err) {
  rr_error local = {0};
  if (!err) err = &local;
  int go = enter(&rec, PROPERTIES_PATH, err);
  if (go != 1) return go;
  return rr__report(rec, log_archetype(rec, PROPERTIES_PATH, RR_ARCHETYPE_RECORDING_INFO, info, true, true, err),
                    err, "recording properties");
}

int rr_recording_set_name(rr_recording *rec, const char *name, rr_error *err) {
  rr_name n = name;
  rr_recording_info info = {.name = &n, .num_name = 1};
  return log_property(rec, &info, err);
}

int rr_recording_set_start_time_nanos(rr_recording *rec, int64_t nanos, rr_error *err) {
  rr_timestamp t = nanos;
  rr_recording_info info = {.start_time = &t, .num_start_time = 1};
  return log_property(rec, &info, err);
}

int rr_recording_send_property(rr_recording *rec, const char *entry, rr_component_column *cols, size_t n,
                               rr_error *err) {
  rr_error local = {0};
  if (!err) err = &local;
  int go = enter(&rec, PROPERTIES_PATH, err);
  if (go != 1) return go;
  if (!entry || !*entry) return rr__report(rec, rr__err(err, RR_EINVAL, "property entry name is NULL or empty"), err, "send_property");
  rr_buf p = RR_BUF_INIT;
  rr_path_parts parts = {0};
  char *one[1] = {(char *)entry};
  parts.parts = one;
  parts.n = 1;
  int rc = rr_buf_append(&p, PROPERTIES_PATH, strlen(PROPERTIES_PATH));
  if (rc == RR_OK) rc = rr__path_format(&parts, &p);
  if (rc == RR_OK) rc = rr_buf_append(&p, "", 1);
  if (rc == RR_OK) rc = log_columns(rec, (const char *)p.data, cols, n, true, true, err);
  rr_buf_free(&p);
  return rr__report(rec, rc, err, "send_property");
}

/* ---- public entity path helpers ------------------------------------------------- */

static int copy_out(rr_buf *b, char *out, size_t cap, rr_error *err) {
  if (!out || b->len > cap)
    return rr__err(err, RR_ERANGE, "output buffer too small: %zu bytes needed", b->len);
  memcpy(out, b->data, b->len);
  return RR_OK;
}

int rr_entity_path_normalize(const char *path, bool strict, char *out, size_t out_cap, rr_error *err) {
  if (!path) return rr__err(err, RR_EINVAL, "path is NULL");
  rr_buf b = RR_BUF_INIT;
  int rc = rr__path_canonical(path, strlen(path), strict, &b, NULL, err);
  if (rc == RR_OK) rc = copy_out(&b, out, out_cap, err);
  rr_buf_free(&b);
  return rc;
}

int rr_entity_path_from_parts(const char *const *parts, size_t n, char *out, size_t out_cap, rr_error *err) {
  if (!parts && n) return rr__err(err, RR_EINVAL, "parts is NULL");
  for (size_t i = 0; i < n; i++) {
    if (!parts[i] || !*parts[i]) return rr__err(err, RR_EPATH, "part %zu is NULL or empty", i);
    if (!rr__utf8_valid(parts[i], strlen(parts[i]))) return rr__err(err, RR_EUTF8, "part %zu is not valid UTF-8", i);
  }
  rr_path_parts p = {(char **)parts, n};
  rr_buf b = RR_BUF_INIT;
  int rc = rr__path_format(&p, &b);
  if (rc == RR_OK) rc = rr_buf_append(&b, "", 1);
  if (rc == RR_OK) rc = copy_out(&b, out, out_cap, err);
  rr_buf_free(&b);
  return rc;
}
