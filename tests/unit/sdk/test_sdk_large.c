/* Large rows through the SDK: value buffers written straight from the chunk
 * (memory, file and pipe sinks), recycled into the builders after a chunk is
 * written or dropped. Every row is distinct, so a buffer reused too early
 * or written from the wrong place shows up as wrong values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include "rerun.h"
#include "sdk/sdk_internal.h"
#include "sdk_test_util.h"

enum { PTS = 10000 }; /* 120 kB of positions per row */

static void fill_row(rr_position3d *p, int row) {
  for (int i = 0; i < PTS; i++) p[i] = (rr_position3d){(float)row, (float)i, (float)-row};
}

/* Checks every decoded row of "big": its frame and the PTS positions that
 * row logged. Returns the number of rows seen; *frames_seen[f] set. */
static int check_rows(const tdecoded *d, bool *frames_seen, int n_frames) {
  int rows = 0;
  for (int c = 0; c < d->n_chunks; c++) {
    const tchunk *ch = &d->chunks[c];
    if (strcmp(ch->entity, "/big") && strcmp(ch->entity, "big")) continue;
    int fi = tcol(ch, "frame"), pi = tcol(ch, "Points3D:positions");
    assert_true(fi >= 0 && pi >= 0);
    const struct ArrowArray *times = ch->batch.children[fi], *list = ch->batch.children[pi];
    const int64_t *tv = (const int64_t *)times->buffers[1] + times->offset;
    const int32_t *off = (const int32_t *)list->buffers[1] + list->offset;
    const struct ArrowArray *fsl = list->children[0], *vals = fsl->children[0];
    const float *f = (const float *)vals->buffers[1] + vals->offset + 3 * fsl->offset;
    for (int64_t r = 0; r < ch->num_rows; r++) {
      int64_t frame = tv[r];
      assert_true(frame >= 0 && frame < n_frames);
      assert_false(frames_seen[frame]);
      frames_seen[frame] = true;
      assert_int_equal(off[r + 1] - off[r], PTS);
      const float *p = f + 3 * (int64_t)off[r];
      for (int i = 0; i < PTS; i++) {
        if (p[3 * i] != (float)frame || p[3 * i + 1] != (float)i || p[3 * i + 2] != (float)-frame)
          fail_msg("row %lld point %d: (%g, %g, %g)", (long long)frame, i, p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      }
      rows++;
    }
  }
  return rows;
}

/* Creates the file named by the mkstemp template `path` (rewritten), empty. */
static void make_temp(char *path) {
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
}

static rr_recording *new_rec(bool compress, int64_t flush_bytes, rr_backpressure bp, int64_t max_in_flight) {
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = !compress,
                            .flush_num_bytes = flush_bytes, .backpressure = bp,
                            .max_bytes_in_flight = max_in_flight};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  return rec;
}

/* Frees the stream and decodes what it wrote: the file at `path`, or its
 * memory sink when path is NULL. */
static tdecoded *finish_and_decode(rr_recording *rec, const char *path) {
  uint8_t *bytes;
  size_t len;
  if (path) {
    rr_recording_free(rec);
    bytes = read_whole_file(path, &len);
  } else {
    assert_int_equal(rr_recording_memory_drain(rec, &bytes, &len), RR_OK);
    rr_recording_free(rec);
  }
  tdecoded *d = tdecode(bytes, len);
  assert_int_equal(d->n_errors, 0);
  if (path) free(bytes);
  else rr_free(bytes);
  return d;
}

/* Rows across many chunks of ~360 kB: buffers recycled, values intact, in
 * every sink, compressed or not. */
static void test_recycled_buffers_keep_values(void **state) {
  (void)state;
  static rr_position3d pts[PTS];
  enum { ROWS = 60 };
  char path[] = "/tmp/rr_test_large_XXXXXX";
  make_temp(path);
  for (int compress = 0; compress < 2; compress++)
    for (int file = 0; file < 2; file++) {
      rr_recording *rec = new_rec(compress, 300000, RR_BACKPRESSURE_DEFAULT, 0);
      assert_int_equal(file ? rr_recording_save(rec, path, NULL) : rr_recording_memory(rec, NULL), RR_OK);
      int max_spares = 0;
      for (int row = 0; row < ROWS; row++) {
        rr_set_time_sequence(rec, "frame", row);
        fill_row(pts, row);
        rr_points3d p = {.positions = pts, .num_positions = PTS};
        assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
        if (row % 10 == 9) assert_int_equal(rr_recording_flush(rec, true, -1), RR_OK);
        pthread_mutex_lock(&rec->mu);
        if (rec->n_spare > max_spares) max_spares = rec->n_spare;
        pthread_mutex_unlock(&rec->mu);
      }
      /* the recycling path ran: written chunks left spares behind */
      assert_true(max_spares > 0);
      tdecoded *d = finish_and_decode(rec, file ? path : NULL);
      bool seen[ROWS] = {0};
      assert_int_equal(check_rows(d, seen, ROWS), ROWS);
      assert_int_equal(trows(d, "/big"), ROWS);
      assert_true(d->n_chunks > 10);
      tdecoded_free(d);
    }
  unlink(path);
}

/* Drop-oldest into a pipe nobody reads yet: dropped chunks' buffers are
 * recycled while later rows are logged; what arrives is intact. */
struct reader { int fd; rr_buf got; };
static void *read_all(void *arg) {
  struct reader *r = arg;
  uint8_t buf[65536];
  ssize_t k;
  while ((k = read(r->fd, buf, sizeof buf)) > 0) rr_buf_append(&r->got, buf, (size_t)k);
  return NULL;
}

static void test_dropped_buffers_recycled(void **state) {
  (void)state;
  static rr_position3d pts[PTS];
  enum { ROWS = 120 };
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  rr_recording *rec = new_rec(false, 300000, RR_BACKPRESSURE_DROP_OLDEST, 1 << 20);
  struct rr_sink *s;
  assert_int_equal(rr__sink_fd_new(&s, fds[1], true, false, "pipe", NULL), RR_OK);
  assert_int_equal(rr__set_sink(rec, s), RR_OK);
  for (int row = 0; row < ROWS; row++) {
    rr_set_time_sequence(rec, "frame", row);
    fill_row(pts, row);
    rr_points3d p = {.positions = pts, .num_positions = PTS};
    assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  }
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_true(st.chunks_dropped > 0);
  struct reader r = {fds[0], RR_BUF_INIT};
  pthread_t th;
  pthread_create(&th, NULL, read_all, &r);
  rr_recording_free(rec);
  pthread_join(th, NULL);
  close(fds[0]);
  tdecoded *d = tdecode(r.got.data, r.got.len);
  assert_int_equal(d->n_errors, 0);
  bool seen[ROWS] = {0};
  int rows = check_rows(d, seen, ROWS);
  assert_int_equal(rows + (int)st.rows_dropped, ROWS);
  assert_true(seen[ROWS - 1]); /* the newest chunk is never dropped */
  tdecoded_free(d);
  rr_buf_free(&r.got);
}

/* One row of 1.2 MB, uncompressed, into a file: the values are written
 * with writev from the chunk and read back exactly. */
static void test_large_row_file(void **state) {
  (void)state;
  enum { N = 100000 };
  rr_position3d *pts = malloc(N * sizeof *pts);
  for (int i = 0; i < N; i++) pts[i] = (rr_position3d){(float)i, 0.5f, (float)(i % 7)};
  char path[] = "/tmp/rr_test_large_XXXXXX";
  make_temp(path);
  rr_recording *rec = new_rec(false, 0, RR_BACKPRESSURE_DEFAULT, 0);
  assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
  rr_points3d p = {.positions = pts, .num_positions = N};
  assert_int_equal(rr_log(rec, "one", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  rr_recording_free(rec);
  size_t len;
  uint8_t *bytes = read_whole_file(path, &len);
  unlink(path);
  tdecoded *d = tdecode(bytes, len);
  assert_int_equal(d->n_errors, 0);
  int found = 0;
  for (int c = 0; c < d->n_chunks; c++) {
    tchunk *ch = &d->chunks[c];
    int pi = tcol(ch, "Points3D:positions");
    if (pi < 0) continue;
    const struct ArrowArray *vals = ch->batch.children[pi]->children[0]->children[0];
    assert_int_equal(vals->length, 3 * N);
    assert_memory_equal((const float *)vals->buffers[1] + vals->offset, pts, N * sizeof *pts);
    found++;
  }
  assert_int_equal(found, 1);
  tdecoded_free(d);
  free(bytes);
  free(pts);
}

/* A column made by rr_log_columns with another type than an archetype's
 * field of the same name: the archetype's row starts a new chunk with its
 * own type (nothing is appended into the wrongly typed column). */
static void test_column_type_change_between_log_paths(void **state) {
  (void)state;
  rr_recording *rec = new_rec(false, 0, RR_BACKPRESSURE_DEFAULT, 0);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  rr_set_time_sequence(rec, "frame", 0);
  struct ArrowSchema sch;
  struct ArrowArray arr;
  rr_arrow_schema_init(&sch, "g", "", 0, 0); /* f64 radii */
  rr_arrow_array_init(&arr, 3, 0, 2, 0);
  double *v = rr__malloc(3 * sizeof *v);
  v[0] = 1, v[1] = 2, v[2] = 3;
  rr_arrow_array_set_buffer(&arr, 1, v);
  rr_component_column c = {.component = "Points3D:radii", .schema = &sch, .array = &arr};
  assert_int_equal(rr_log_columns(rec, "pts", &c, 1, false, NULL), RR_OK);
  sch.release(&sch);
  rr_set_time_sequence(rec, "frame", 1);
  static rr_position3d pos[1000];
  static rr_radius radii[1000]; /* f32: half the bytes an f64 column would read */
  for (int i = 0; i < 1000; i++) radii[i] = (float)i;
  rr_points3d p = {.positions = pos, .num_positions = 1000, .radii = radii, .num_radii = 1000};
  assert_int_equal(rr_log(rec, "pts", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  uint8_t *bytes;
  size_t len;
  assert_int_equal(rr_recording_memory_drain(rec, &bytes, &len), RR_OK);
  rr_recording_free(rec);
  tdecoded *d = tdecode(bytes, len);
  assert_int_equal(d->n_errors, 0);
  int f32_chunks = 0, f64_chunks = 0;
  for (int i = 0; i < d->n_chunks; i++) {
    int k = tcol(&d->chunks[i], "Points3D:radii");
    if (k < 0) continue;
    const struct ArrowSchema *item = d->chunks[i].schema.children[k]->children[0];
    const struct ArrowArray *vals = d->chunks[i].batch.children[k]->children[0];
    if (!strcmp(item->format, "f")) {
      f32_chunks++;
      assert_int_equal(vals->length, 1000);
      assert_memory_equal((const float *)vals->buffers[1] + vals->offset, radii, sizeof radii);
    } else if (!strcmp(item->format, "g")) {
      f64_chunks++;
      assert_int_equal(vals->length, 3);
    }
  }
  assert_int_equal(f32_chunks, 1);
  assert_int_equal(f64_chunks, 1);
  tdecoded_free(d);
  rr_free(bytes);
}

/* One-row chunks of two entities, interleaved: their Schema messages come
 * from the encoder's cache with the chunk id patched in. Every chunk's
 * schema must name its own ArrowMsg chunk id, and its bytes must be those
 * the uncached writer gives for the decoded schema and batch. */
static void test_cached_schema_messages(void **state) {
  (void)state;
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = true, .flush_num_rows = 1};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  for (int i = 0; i < 40; i++) {
    rr_set_time_sequence(rec, "step", i % 7); /* some chunks of a timeline... */
    rr_scalar v = i;
    rr_scalars sc = {.scalars = &v, .num_scalars = 1};
    assert_int_equal(rr_log(rec, i % 2 ? "a" : "b/c", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
    if (i % 10 == 9) {
      rr_text txt = "hello";
      rr_text_log t = {.text = &txt, .num_text = 1}; /* ...and another schema */
      assert_int_equal(rr_log(rec, "a", RR_ARCHETYPE_TEXT_LOG, &t, NULL), RR_OK);
    }
  }
  uint8_t *bytes;
  size_t len;
  assert_int_equal(rr_recording_memory_drain(rec, &bytes, &len), RR_OK);
  rr_recording_free(rec);
  rr_rrd_decoder *dec;
  assert_int_equal(rr_rrd_decoder_new(&dec, NULL), RR_OK);
  rr_rrd_decoder_feed(dec, bytes, len);
  rr_rrd_decoder_finish(dec);
  int chunks = 0;
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error err = {0};
    int rc = rr_rrd_decoder_next(dec, &m, &err);
    if (rc == RR_EEOF) break;
    assert_int_equal(rc, RR_OK);
    if (m->kind == RR_MSG_ARROW) {
      assert_true(m->arrow.has_chunk_id);
      char want[40] = "chunk_";
      rr__tuid_format(m->arrow.chunk_id, want + 6);
      struct ArrowSchema sch;
      struct ArrowArray arr;
      assert_int_equal(rr_arrow_ipc_read(m->arrow.ipc.ptr, m->arrow.ipc.len, NULL, NULL, &sch, &arr, &err), RR_OK);
      rr_str id;
      assert_int_equal(rr_arrow_metadata_get(sch.metadata, "rerun:id", &id), RR_OK);
      assert_int_equal(id.len, 38);
      assert_memory_equal(id.ptr, want, 38);
      rr_buf again = RR_BUF_INIT;
      assert_int_equal(rr_arrow_ipc_write(&again, &sch, &arr, 64, &err), RR_OK);
      assert_int_equal(again.len, m->arrow.ipc.len);
      assert_memory_equal(again.data, m->arrow.ipc.ptr, again.len);
      rr_buf_free(&again);
      arr.release(&arr);
      sch.release(&sch);
      chunks++;
    }
    rr_log_msg_free(m);
  }
  assert_int_equal(chunks, 45); /* 40 + 4 rows and the recording properties (start time) */
  rr_rrd_decoder_free(dec);
  rr_free(bytes);
}

/* Chunks of one entity alike but for whether a timeline is sorted must not
 * share a cached schema: "rerun:is_sorted" is on a timeline's field exactly
 * when its times are in order. */
static void test_cached_schema_sortedness(void **state) {
  (void)state;
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = true, .flush_num_rows = 3};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  static const int64_t steps[] = {0, 1, 2, 5, 4, 3, 6, 7, 8, 9, 9, 1, 10, 11, 12};
  for (int i = 0; i < 15; i++) {
    rr_set_time_sequence(rec, "step", steps[i]);
    rr_scalar v = i;
    rr_scalars sc = {.scalars = &v, .num_scalars = 1};
    assert_int_equal(rr_log(rec, "a", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
  }
  uint8_t *bytes;
  size_t len;
  assert_int_equal(rr_recording_memory_drain(rec, &bytes, &len), RR_OK);
  rr_recording_free(rec);
  rr_rrd_decoder *dec;
  assert_int_equal(rr_rrd_decoder_new(&dec, NULL), RR_OK);
  rr_rrd_decoder_feed(dec, bytes, len);
  rr_rrd_decoder_finish(dec);
  int sorted = 0, unsorted = 0;
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error err = {0};
    int rc = rr_rrd_decoder_next(dec, &m, &err);
    if (rc == RR_EEOF) break;
    assert_int_equal(rc, RR_OK);
    if (m->kind == RR_MSG_ARROW) {
      struct ArrowSchema sch;
      struct ArrowArray arr;
      assert_int_equal(rr_arrow_ipc_read(m->arrow.ipc.ptr, m->arrow.ipc.len, NULL, NULL, &sch, &arr, &err), RR_OK);
      for (int64_t f = 0; f < sch.n_children; f++) {
        if (strcmp(sch.children[f]->name, "step")) continue;
        const int64_t *t = arr.children[f]->buffers[1];
        bool in_order = true;
        for (int64_t r = 1; r < arr.length; r++) in_order = in_order && t[r - 1] <= t[r];
        rr_str flag;
        bool marked = rr_arrow_metadata_get(sch.children[f]->metadata, "rerun:is_sorted", &flag) == RR_OK;
        assert_true(marked == in_order);
        if (in_order) sorted++;
        else unsorted++;
      }
      arr.release(&arr);
      sch.release(&sch);
    }
    rr_log_msg_free(m);
  }
  assert_int_equal(sorted, 3);
  assert_int_equal(unsorted, 2);
  rr_rrd_decoder_free(dec);
  rr_free(bytes);
}

static int64_t chunks_of(const tdecoded *d, const char *entity) {
  int64_t n = 0;
  for (int c = 0; c < d->n_chunks; c++) n += !strcmp(d->chunks[c].entity, entity);
  return n;
}

/* Rows larger than max_bytes_in_flight, under the default policy, are
 * written from the caller's memory before rr_log returns (one chunk each):
 * the caller's buffer is overwritten right after every call, and what
 * arrives is what was logged, in every sink, with the small rows logged in
 * between and a small string column next to the viewed positions. */
static void test_rows_written_in_place(void **state) {
  (void)state;
  static rr_position3d pts[PTS];
  enum { ROWS = 12 };
  char path[] = "/tmp/rr_test_direct_XXXXXX";
  make_temp(path);
  for (int compress = 0; compress < 2; compress++)
    for (int sink = 0; sink < 3; sink++) { /* memory, file, none until the end (buffered) */
      rr_recording *rec = new_rec(compress, 0, RR_BACKPRESSURE_DEFAULT, 64 << 10);
      if (sink == 0) assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
      if (sink == 1) assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
      for (int row = 0; row < ROWS; row++) {
        rr_set_time_sequence(rec, "frame", row);
        rr_scalar v = row;
        rr_scalars sc = {.scalars = &v, .num_scalars = 1};
        assert_int_equal(rr_log(rec, "small", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
        fill_row(pts, row);
        rr_text label = "row";
        rr_points3d p = {.positions = pts, .num_positions = PTS, .labels = &label, .num_labels = 1};
        assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
        fill_row(pts, 1000 + row); /* the caller reuses its buffer at once */
      }
      rr_recording_stats st;
      rr_recording_stats_get(rec, &st);
      assert_int_equal(st.rows_dropped, 0);
      assert_int_equal(st.chunks_dropped, 0);
      if (sink == 2) assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
      tdecoded *d = finish_and_decode(rec, sink == 1 ? path : NULL);
      bool seen[ROWS] = {0};
      assert_int_equal(check_rows(d, seen, ROWS), ROWS);
      assert_int_equal(chunks_of(d, "/big"), ROWS); /* one chunk per row: not queued */
      assert_int_equal(trows(d, "/small"), ROWS);
      for (int c = 0; c < d->n_chunks; c++)
        if (!strcmp(d->chunks[c].entity, "/big")) assert_true(tcol(&d->chunks[c], "Points3D:labels") >= 0);
      tdecoded_free(d);
    }
  unlink(path);
}

/* A row written from the caller's memory has its float fields checked
 * while it is written (as the memory sink copies them, by two threads for
 * a large row; beside the file's write, on a thread of its own): a NaN or
 * an infinity anywhere in it still gives the same error as the checks
 * before the call, and leaves no trace in any sink; the rows before and
 * after it arrive whole. Rows of 120 kB and of 36 MB, in the memory, file,
 * pipe and buffered sinks, compressed or not. */
static void fill_big(rr_position3d *p, size_t n, int row) {
  for (size_t i = 0; i < n; i++) p[i] = (rr_position3d){(float)row, (float)(i % 4096), (float)(i / 4096)};
}

static void *drain_fd(void *arg) {
  int fd = *(int *)arg;
  rr_buf *b = rr__calloc(1, sizeof *b);
  uint8_t tmp[65536];
  ssize_t n;
  while ((n = read(fd, tmp, sizeof tmp)) > 0) assert_int_equal(rr_buf_append(b, tmp, (size_t)n), RR_OK);
  return b;
}

static void test_direct_row_refuses_nonfinite(void **state) {
  (void)state;
  const size_t sizes[2] = {PTS, 3000000};
  rr_position3d *pts = malloc(sizes[1] * sizeof *pts);
  assert_non_null(pts);
  char path[] = "/tmp/rr_test_refuse_XXXXXX";
  make_temp(path);
  for (int big = 0; big < 2; big++)
    for (int compress = 0; compress < 2; compress++)
      for (int sink = 0; sink < 4; sink++) { /* memory, file, pipe, buffered */
        size_t n = sizes[big];
        rr_recording *rec = new_rec(compress, 0, RR_BACKPRESSURE_DEFAULT, 64 << 10);
        int pfd[2] = {-1, -1};
        pthread_t reader;
        if (sink == 0) assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
        if (sink == 1) assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
        if (sink == 2) {
          assert_int_equal(pipe(pfd), 0);
          assert_int_equal(pthread_create(&reader, NULL, drain_fd, &pfd[0]), 0);
          struct rr_sink *s;
          assert_int_equal(rr__sink_fd_new(&s, pfd[1], true, compress, "pipe", NULL), RR_OK);
          assert_int_equal(rr__set_sink(rec, s), RR_OK);
        }
        rr_recording_stats st;
        rr_recording_stats_get(rec, &st);
        uint64_t rows_before = st.rows_logged; /* the recording's properties */
        for (int row = 0; row < 4; row++) {
          rr_set_time_sequence(rec, "frame", row);
          fill_big(pts, n, row);
          bool bad = row == 1 || row == 2;
          if (row == 1) pts[n - 1].z = NAN; /* the last value: the end of the last block */
          if (row == 2) pts[n / 2].y = -INFINITY;
          rr_points3d p = {.positions = pts, .num_positions = n};
          rr_error e = {0};
          int rc = rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, &e);
          if (!bad) {
            assert_int_equal(rc, RR_OK);
            continue;
          }
          assert_int_equal(rc, RR_ENOTFINITE);
          char want[96];
          snprintf(want, sizeof want, "Points3D:positions: rerun.components.Position3D[%zu]: %s is %s", row == 1 ? n - 1 : n / 2,
                   row == 1 ? "z" : "y", row == 1 ? "NaN" : "infinite");
          if (!strstr(e.msg, want)) fail_msg("error '%s' lacks '%s'", e.msg, want);
        }
        rr_recording_stats_get(rec, &st);
        if (st.rows_logged != rows_before + 2)
          fail_msg("big %d compress %d sink %d: %llu rows logged", big, compress, sink,
                   (unsigned long long)(st.rows_logged - rows_before));
        assert_int_equal(st.write_errors, 0);
        assert_int_equal(st.rows_dropped, 0);
        if (sink == 3) assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
        tdecoded *d;
        if (sink == 2) {
          rr_recording_free(rec); /* closes the pipe */
          rr_buf *got;
          assert_int_equal(pthread_join(reader, (void **)&got), 0);
          close(pfd[0]);
          d = tdecode(got->data, got->len);
          assert_int_equal(d->n_errors, 0);
          rr_buf_free(got);
          rr__free(got);
        } else {
          d = finish_and_decode(rec, sink == 1 ? path : NULL);
        }
        assert_int_equal(trows(d, "/big"), 2); /* rows 0 and 3, whole */
        for (int c = 0; c < d->n_chunks; c++) {
          const tchunk *ch = &d->chunks[c];
          if (strcmp(ch->entity, "/big")) continue;
          const struct ArrowArray *times = ch->batch.children[tcol(ch, "frame")];
          const struct ArrowArray *list = ch->batch.children[tcol(ch, "Points3D:positions")];
          int64_t frame = ((const int64_t *)times->buffers[1])[times->offset];
          assert_true(frame == 0 || frame == 3);
          const struct ArrowArray *vals = list->children[0]->children[0];
          const float *f = (const float *)vals->buffers[1] + vals->offset;
          assert_int_equal(vals->length, 3 * (int64_t)n);
          for (size_t i = 0; i < n; i += n / 7)
            assert_true(f[3 * i] == (float)frame && f[3 * i + 1] == (float)(i % 4096));
          assert_true(f[3 * n - 1] == (float)((n - 1) / 4096));
        }
        tdecoded_free(d);
      }
  unlink(path);
  free(pts);
}

/* A row of large float fields that is queued (smaller than the queue's
 * bound) has them checked in the call, as any other. */
static void test_queued_row_refuses_nonfinite(void **state) {
  (void)state;
  static rr_position3d pts[PTS];
  rr_recording *rec = new_rec(false, 0, RR_BACKPRESSURE_BLOCK, 0);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  fill_row(pts, 0);
  pts[PTS / 3].x = INFINITY;
  rr_points3d p = {.positions = pts, .num_positions = PTS};
  rr_error e = {0};
  assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, &e), RR_ENOTFINITE);
  assert_non_null(strstr(e.msg, "Position3D[3333]: x is infinite"));
  pts[PTS / 3].x = 0;
  assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, &e), RR_OK);
  tdecoded *d = finish_and_decode(rec, NULL);
  assert_int_equal(trows(d, "/big"), 1);
  tdecoded_free(d);
}

/* A large row waits for the chunks queued before it, not for those other
 * threads keep queueing meanwhile. A thread logs one-row chunks into a sink
 * (a pipe read at about 64 MB/s) far slower than it logs: the 8 MiB queue
 * stays full while the batcher writes its 1 MiB runs, and a wait for an
 * empty queue lasted the 30 s block timeout per row. */
struct chatter { rr_recording *rec; atomic_bool stop; long rows; };
static void *chatter_main(void *arg) {
  struct chatter *c = arg;
  for (int64_t i = 0; !atomic_load(&c->stop); i++) {
    rr_set_time_sequence(c->rec, "step", i);
    rr_scalar v = (double)i;
    rr_scalars sc = {.scalars = &v, .num_scalars = 1};
    if (rr_log(c->rec, "chatter", RR_ARCHETYPE_SCALARS, &sc, NULL) == RR_OK) c->rows++;
  }
  return NULL;
}
struct slow_reader { int fd; atomic_bool stop; };
static void *read_slowly(void *arg) {
  struct slow_reader *r = arg;
  static uint8_t buf[65536];
  while (read(r->fd, buf, sizeof buf) > 0)
    if (!atomic_load(&r->stop)) usleep(1000);
  return NULL;
}

static void test_direct_row_not_starved(void **state) {
  (void)state;
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = true, .no_start_time = true,
                            .flush_num_rows = 1, .max_bytes_in_flight = 8 << 20, .block_timeout_ms = 30000};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  struct rr_sink *s;
  assert_int_equal(rr__sink_fd_new(&s, fds[1], true, false, "pipe", NULL), RR_OK);
  assert_int_equal(rr__set_sink(rec, s), RR_OK);
  struct slow_reader sr = {fds[0], false};
  struct chatter c = {rec, false, 0};
  pthread_t rt, ct;
  assert_int_equal(pthread_create(&rt, NULL, read_slowly, &sr), 0);
  assert_int_equal(pthread_create(&ct, NULL, chatter_main, &c), 0);
  usleep(300000); /* the queue fills up */
  static rr_position3d pts[70 * PTS]; /* 8.4 MB: more than the 8 MiB queue */
  rr_points3d p = {.positions = pts, .num_positions = 70 * PTS};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 2; i++) assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  atomic_store(&c.stop, true);
  pthread_join(ct, NULL);
  atomic_store(&sr.stop, true);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  print_message("two large rows among %ld one-row chunks: %.3f s\n", c.rows, secs);
  assert_true(secs < 10); /* waiting for an empty queue lasted 30 s per row */
  rr_recording_free(rec);
  pthread_join(rt, NULL);
  close(fds[0]);
}

/* A row larger than the gRPC sink's whole queue is queued over its bound
 * without dropping the messages before it (it could never fit anyway).
 * Nothing listens on the port: the sink keeps everything queued. */
static void test_grpc_oversized_row_drops_nothing(void **state) {
  (void)state;
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = true, .no_start_time = true,
                            .max_bytes_in_flight = 64 << 10};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  rr_grpc_options go = {.flush_timeout_sec = 0.2};
  assert_int_equal(rr_recording_connect_grpc_opts(rec, "rerun+http://127.0.0.1:1/proxy", &go, NULL), RR_OK);
  rr_scalar v = 1;
  rr_scalars sc = {.scalars = &v, .num_scalars = 1};
  assert_int_equal(rr_log(rec, "small", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
  rr_recording_flush(rec, true, 200); /* handed to the sink, not sent */
  static rr_position3d pts[PTS]; /* 120 kB: more than the 64 KiB queue */
  fill_row(pts, 0);
  rr_points3d p = {.positions = pts, .num_positions = PTS};
  assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_int_equal(st.chunks_dropped, 0);
  assert_int_equal(st.chunks_written, 2);
  rr_recording_free(rec); /* gives up after the flush timeout */
}

/* Queued one-row chunks count what they take on the heap (thirty times
 * their data), so that max_bytes_in_flight bounds memory. */
static void test_queue_counts_heap_bytes(void **state) {
  (void)state;
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = true, .no_start_time = true,
                            .flush_num_rows = 1, .max_bytes_in_flight = (int64_t)1 << 40};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  rr_scalar v = 1;
  rr_scalars sc = {.scalars = &v, .num_scalars = 1};
  assert_int_equal(rr_log(rec, "s", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
  assert_int_equal(rr_recording_flush(rec, true, 10000), RR_OK);
  pthread_mutex_lock(&rec->sink_mu); /* the batcher stops before its next write */
  assert_int_equal(rr_log(rec, "s", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
  usleep(50000);
  rr_recording_stats s0, s1;
  rr_recording_stats_get(rec, &s0);
  struct mallinfo2 m0 = mallinfo2();
  enum { N = 2000 };
  for (int i = 0; i < N; i++) {
    rr_set_time_sequence(rec, "step", i);
    assert_int_equal(rr_log(rec, "s", RR_ARCHETYPE_SCALARS, &sc, NULL), RR_OK);
  }
  struct mallinfo2 m1 = mallinfo2();
  rr_recording_stats_get(rec, &s1);
  pthread_mutex_unlock(&rec->sink_mu);
  double heap = (double)(m1.uordblks + m1.hblkhd) - (double)(m0.uordblks + m0.hblkhd);
  double counted = (double)(s1.bytes_in_flight - s0.bytes_in_flight);
  print_message("%d queued one-row chunks: %.0f heap bytes each, %.0f counted\n", N, heap / N, counted / N);
  assert_true(counted >= 500.0 * N); /* the data alone is 48 bytes a row */
  if (heap < 100.0 * N) { /* a sanitizer's allocator: glibc's counters do not move */
    rr_recording_free(rec);
    return;
  }
  assert_true(counted >= 0.7 * heap);
  assert_true(counted <= 1.5 * heap);
  rr_recording_free(rec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recycled_buffers_keep_values),
      cmocka_unit_test(test_dropped_buffers_recycled),
      cmocka_unit_test(test_large_row_file),
      cmocka_unit_test(test_column_type_change_between_log_paths),
      cmocka_unit_test(test_cached_schema_messages),
      cmocka_unit_test(test_cached_schema_sortedness),
      cmocka_unit_test(test_queue_counts_heap_bytes),
      cmocka_unit_test(test_rows_written_in_place),
      cmocka_unit_test(test_direct_row_refuses_nonfinite),
      cmocka_unit_test(test_queued_row_refuses_nonfinite),
      cmocka_unit_test(test_grpc_oversized_row_drops_nothing),
      cmocka_unit_test(test_direct_row_not_starved),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
