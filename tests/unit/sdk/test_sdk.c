/* The logging SDK end to end: what rr_log writes, decoded by our own RRD
 * decoder and Arrow reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rerun.h"
#include "sdk/sdk_internal.h"
#include "sdk_test_util.h"

static rr_recording *new_mem(const char *app, bool strict) {
  rr_recording_options o = {.application_id = app, .recording_id = "rec_test", .strict = strict};
  rr_recording *rec = NULL;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  return rec;
}

static tdecoded *drain(rr_recording *rec) {
  uint8_t *b;
  size_t n = 0;
  assert_int_equal(rr_recording_memory_drain(rec, &b, &n), RR_OK);
  tdecoded *d = tdecode(b, n);
  rr_free(b);
  return d;
}

static const tchunk *find_chunk(const tdecoded *d, const char *entity) {
  for (int i = 0; i < d->n_chunks; i++)
    if (!strcmp(d->chunks[i].entity, entity)) return &d->chunks[i];
  return NULL;
}

static void test_points_round_trip(void **state) {
  rr_recording *rec = new_mem("my_app", true);
  rr_position3d pts[2] = {{1, 2, 3}, {4, 5, 6}};
  rr_color colors[2] = {0xFF0000FF, 0x00FF00FF};
  rr_radius r = 0.5f;
  rr_points3d p = {.positions = pts, .num_positions = 2, .colors = colors, .num_colors = 2, .radii = &r, .num_radii = 1};
  assert_int_equal(rr_set_time_sequence(rec, "frame", 3), RR_OK);
  rr_error err = {0};
  assert_int_equal(rr_log(rec, "points", RR_ARCHETYPE_POINTS3D, &p, &err), RR_OK);
  tdecoded *d = drain(rec);
  assert_int_equal(d->n_errors, 0);
  assert_int_equal(d->n_store_info, 1);
  assert_string_equal(d->app_id, "my_app");
  assert_string_equal(d->rec_id, "rec_test");
  const tchunk *c = find_chunk(d, "/points");
  assert_non_null(c);
  assert_false(c->is_static);
  assert_int_equal(c->num_rows, 1);
  /* Rerun's column order: RowId, timelines by name, components by identifier */
  const char *want[] = {"rerun.controls.RowId", "frame", "log_tick", "log_time",
                        "Points3D:colors", "Points3D:positions", "Points3D:radii"};
  assert_int_equal(c->schema.n_children, 7);
  for (int i = 0; i < 7; i++) assert_string_equal(c->schema.children[i]->name, want[i]);
  rr_str v;
  assert_int_equal(rr_arrow_metadata_get(c->schema.metadata, "sorbet:version", &v), RR_OK);
  assert_memory_equal(v.ptr, "0.1.3", 5);
  assert_int_equal(rr_arrow_metadata_get(c->schema.children[5]->metadata, "rerun:component_type", &v), RR_OK);
  assert_memory_equal(v.ptr, "rerun.components.Position3D", v.len);
  assert_string_equal(c->schema.children[1]->format, "l");
  assert_string_equal(c->schema.children[3]->format, "tsn:");
  /* values */
  const int64_t *frame = c->batch.children[1]->buffers[1];
  assert_int_equal(frame[0], 3);
  const struct ArrowArray *pos = c->batch.children[5];
  const int32_t *off = pos->buffers[1];
  assert_int_equal(off[1] - off[0], 2);
  const float *xyz = pos->children[0]->children[0]->buffers[1];
  assert_true(xyz[0] == 1 && xyz[5] == 6);
  const uint32_t *col = c->batch.children[4]->children[0]->buffers[1];
  assert_int_equal(col[0], 0xFF0000FF);
  /* the start time property */
  const tchunk *props = find_chunk(d, "/__properties");
  assert_non_null(props);
  assert_true(props->is_static);
  assert_true(tcol(props, "RecordingInfo:start_time") > 0);
  tdecoded_free(d);
  rr_recording_free(rec);
}

static void test_partial_updates_and_static(void **state) {
  rr_recording *rec = new_mem("app", true);
  rr_position3d pts[1] = {{0, 0, 0}};
  rr_color c = 0x112233FF;
  for (int i = 0; i < 3; i++) {
    rr_set_time_sequence(rec, "t", i);
    rr_points3d p = {.positions = pts, .num_positions = 1};
    if (i == 1) { p.colors = &c; p.num_colors = 1; }
    if (i == 2) { p.positions = NULL; p.num_positions = 0; p.colors = &c; p.num_colors = 0; } /* empty list */
    assert_int_equal(rr_log(rec, "e", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  }
  rr_text_document doc = {.text = (rr_text[]){"hello"}, .num_text = 1};
  assert_int_equal(rr_log_static(rec, "doc", RR_ARCHETYPE_TEXT_DOCUMENT, &doc, NULL), RR_OK);
  tdecoded *d = drain(rec);
  const tchunk *ch = find_chunk(d, "/e");
  assert_non_null(ch);
  assert_int_equal(ch->num_rows, 3);
  int ci = tcol(ch, "Points3D:colors"), pi = tcol(ch, "Points3D:positions");
  assert_true(ci > 0 && pi > 0);
  const struct ArrowArray *colors = ch->batch.children[ci];
  const uint8_t *valid = colors->buffers[0];
  assert_non_null(valid);                 /* row 0 did not log colors: null */
  assert_false(valid[0] & 1);
  assert_true(valid[0] & 2);
  const int32_t *off = colors->buffers[1];
  assert_int_equal(off[2] - off[1], 1);
  assert_true(valid[0] & 4);               /* row 2: logged, empty */
  assert_int_equal(off[3] - off[2], 0);
  const struct ArrowArray *pos = ch->batch.children[pi];
  assert_int_equal(pos->null_count, 1);    /* row 2 did not log positions */
  const tchunk *dc = find_chunk(d, "/doc");
  assert_non_null(dc);
  assert_true(dc->is_static);
  assert_int_equal(dc->schema.n_children, 2); /* RowId + the text: no timelines */
  tdecoded_free(d);
  rr_recording_free(rec);
}

static void test_bad_input_strict_and_lenient(void **state) {
  rr_recording *rec = new_mem("app", true);
  rr_error err = {0};
  rr_position3d nanpt = {NAN, 0, 0};
  rr_points3d p = {.positions = &nanpt, .num_positions = 1};
  assert_int_equal(rr_log(rec, "x", RR_ARCHETYPE_POINTS3D, &p, &err), RR_ENOTFINITE);
  assert_non_null(strstr(err.msg, "Points3D:positions"));
  assert_int_equal(rr_log(rec, "x", RR_ARCHETYPE_POINTS3D, NULL, &err), RR_EINVAL);
  assert_int_equal(rr_log(rec, NULL, RR_ARCHETYPE_POINTS3D, &p, &err), RR_EINVAL);
  assert_int_equal(rr_log(rec, "x", (rr_archetype_id)9999, &p, &err), RR_EINVAL);
  rr_text bad = "\xC3\x28";
  rr_text_log tl = {.text = &bad, .num_text = 1};
  assert_int_equal(rr_log(rec, "x", RR_ARCHETYPE_TEXT_LOG, &tl, &err), RR_EUTF8);
  rr_position3d ok = {1, 2, 3};
  rr_points3d good = {.positions = &ok, .num_positions = 1};
  assert_int_equal(rr_log(rec, "a//b", RR_ARCHETYPE_POINTS3D, &good, &err), RR_EPATH);  /* strict grammar */
  assert_int_equal(rr_log(rec, "__reserved/x", RR_ARCHETYPE_POINTS3D, &good, &err), RR_EPATH);
  assert_non_null(strstr(err.msg, "reserved"));
  assert_int_equal(rr_set_time_sequence(rec, "t", INT64_MIN), RR_ERANGE);
  assert_int_equal(rr_set_time_duration_secs(rec, "t", NAN), RR_ENOTFINITE);
  rr_image_buffer buf = {(const uint8_t *)"abc", 3};
  rr_image_format fmt = {.width = 2, .height = 2, .color_model = RR_COLOR_MODEL_RGB, .channel_datatype = RR_CHANNEL_DATATYPE_U8};
  rr_image img = {.buffer = &buf, .num_buffer = 1, .format = &fmt, .num_format = 1};
  assert_true(rr_log(rec, "img", RR_ARCHETYPE_IMAGE, &img, &err) < 0); /* 3 bytes for 2x2 RGB */
  tdecoded *d = drain(rec);
  assert_int_equal(d->n_errors, 0);
  assert_null(find_chunk(d, "/x"));   /* nothing bad was written */
  assert_null(find_chunk(d, "/img"));
  tdecoded_free(d);
  rr_recording_free(rec);

  /* lenient: the same calls return OK, warn, and write nothing */
  rec = new_mem("app", false);
  assert_int_equal(rr_log(rec, "x", RR_ARCHETYPE_POINTS3D, &p, &err), RR_OK);
  assert_int_equal(rr_log(rec, "a//b", RR_ARCHETYPE_POINTS3D, &good, &err), RR_OK); /* forgiving: /a/b */
  d = drain(rec);
  assert_null(find_chunk(d, "/x"));
  assert_non_null(find_chunk(d, "/a/b"));
  tdecoded_free(d);
  rr_recording_free(rec);
}

static void test_entity_paths(void **state) {
  char out[256];
  rr_error err = {0};
  assert_int_equal(rr_entity_path_normalize("world/my\\ image\\!", true, out, sizeof out, &err), RR_OK);
  assert_string_equal(out, "/world/my\\ image\\!");
  const char *parts[] = {"world", "my image!"};
  char out2[256];
  assert_int_equal(rr_entity_path_from_parts(parts, 2, out2, sizeof out2, &err), RR_OK);
  assert_string_equal(out, out2);
  assert_int_equal(rr_entity_path_normalize("foo/Hallå Där!", false, out, sizeof out, &err), RR_OK);
  assert_string_equal(out, "/foo/Hallå\\ Där\\!");
  assert_int_equal(rr_entity_path_normalize("/foo///bar//", false, out, sizeof out, &err), RR_OK);
  assert_string_equal(out, "/foo/bar");
  assert_int_equal(rr_entity_path_normalize("", false, out, sizeof out, &err), RR_OK);
  assert_string_equal(out, "/");
  assert_int_equal(rr_entity_path_normalize("foo/bar/", true, out, sizeof out, &err), RR_EPATH);
  assert_int_equal(rr_entity_path_normalize("foo bar", true, out, sizeof out, &err), RR_EPATH);
  assert_int_equal(rr_entity_path_normalize("a\\", true, out, sizeof out, &err), RR_EPATH);
  assert_int_equal(rr_entity_path_normalize("\\u{26", true, out, sizeof out, &err), RR_EPATH);
  assert_int_equal(rr_entity_path_normalize("\\u{262E}", true, out, sizeof out, &err), RR_OK);
  assert_string_equal(out, "/\xE2\x98\xAE");
  assert_int_equal(rr_entity_path_normalize("a\xff", false, out, sizeof out, &err), RR_EUTF8);
  assert_int_equal(rr_entity_path_normalize("tab\\there", true, out, sizeof out, &err), RR_OK);
  assert_string_equal(out, "/tab\\there");
  assert_int_equal(rr_entity_path_normalize("x", true, out, 1, &err), RR_ERANGE);
}

static void test_disabled(void **state) {
  setenv("RERUN", "off", 1);
  rr_recording_options o = {.application_id = "app"};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  unsetenv("RERUN");
  assert_false(rr_recording_is_enabled(rec));
  char path[] = "/tmp/rr_disabled_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
  rr_position3d p = {1, 2, 3};
  rr_points3d pts = {.positions = &p, .num_positions = 1};
  assert_int_equal(rr_log(rec, "x", RR_ARCHETYPE_POINTS3D, &pts, NULL), RR_OK);
  rr_recording_free(rec);
  assert_int_not_equal(access(path, F_OK), 0); /* nothing was created */
  rr_recording_options o2 = {.application_id = "app", .disabled_by_default = true};
  assert_int_equal(rr_recording_new(&rec, &o2, NULL), RR_OK);
  assert_false(rr_recording_is_enabled(rec));
  rr_recording_free(rec);
}

struct thr { rr_recording *rec; int id; };
static void *log_thread(void *arg) {
  struct thr *t = arg;
  char path[32];
  snprintf(path, sizeof path, "thread/%d", t->id % 2);
  for (int i = 0; i < 5000; i++) {
    rr_set_time_sequence(t->rec, "i", i);
    rr_scalar s = t->id * 100000 + i;
    rr_scalars sc = {.scalars = &s, .num_scalars = 1};
    if (rr_log(t->rec, path, RR_ARCHETYPE_SCALARS, &sc, NULL) != RR_OK) abort();
  }
  return NULL;
}

static void test_threads(void **state) {
  rr_recording *rec = new_mem("app", true);
  pthread_t th[4];
  struct thr a[4];
  for (int i = 0; i < 4; i++) { a[i] = (struct thr){rec, i}; pthread_create(&th[i], NULL, log_thread, &a[i]); }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  tdecoded *d = drain(rec);
  assert_int_equal(d->n_errors, 0);
  assert_int_equal(trows(d, "/thread/0") + trows(d, "/thread/1"), 20000);
  /* row ids strictly increase within every chunk (rows are sorted) */
  for (int i = 0; i < d->n_chunks; i++) {
    const tchunk *c = &d->chunks[i];
    const uint8_t *ids = c->batch.children[0]->buffers[1];
    for (int64_t r = 1; r < c->num_rows; r++) assert_true(memcmp(ids + 16 * (r - 1), ids + 16 * r, 16) < 0);
  }
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_int_equal(st.chunks_dropped, 0);
  tdecoded_free(d);
  rr_recording_free(rec);
}

static void test_buffered_then_save(void **state) {
  rr_recording_options o = {.application_id = "app", .strict = true};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  rr_position3d p = {1, 2, 3};
  rr_points3d pts = {.positions = &p, .num_positions = 1};
  rr_set_time_sequence(rec, "f", 0);
  assert_int_equal(rr_log(rec, "early", RR_ARCHETYPE_POINTS3D, &pts, NULL), RR_OK);
  assert_int_equal(rr_recording_flush(rec, true, 5000), RR_OK);
  char path[] = "/tmp/rr_buffered_XXXXXX";
  close(mkstemp(path));
  rr_error err = {0};
  assert_int_equal(rr_recording_save(rec, path, &err), RR_OK);
  assert_int_equal(rr_log(rec, "late", RR_ARCHETYPE_POINTS3D, &pts, NULL), RR_OK);
  rr_recording_free(rec);
  size_t n = 0;
  uint8_t *b = read_whole_file(path, &n);
  tdecoded *d = tdecode(b, n);
  assert_int_equal(d->n_errors, 0);
  assert_int_equal(d->n_store_info, 1);
  assert_int_equal(trows(d, "/early"), 1);
  assert_int_equal(trows(d, "/late"), 1);
  tdecoded_free(d);
  free(b);
  unlink(path);
  /* an unwritable path is a clear error */
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_save(rec, "/nonexistent-dir/x.rrd", &err), RR_EIO);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/x.rrd"));
  rr_recording_free(rec);
}

static void test_fork(void **state) {
  char path[] = "/tmp/rr_fork_XXXXXX";
  close(mkstemp(path));
  rr_recording_options o = {.application_id = "app", .strict = true};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
  rr_scalar s = 1;
  rr_scalars sc = {.scalars = &s, .num_scalars = 1};
  for (int i = 0; i < 100; i++) { rr_set_time_sequence(rec, "i", i); rr_log(rec, "parent/before", RR_ARCHETYPE_SCALARS, &sc, NULL); }
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 50; i++) { rr_set_time_sequence(rec, "i", i); if (rr_log(rec, "child", RR_ARCHETYPE_SCALARS, &sc, NULL)) _exit(3); }
    rr_recording_free(rec);
    _exit(0);
  }
  for (int i = 0; i < 100; i++) { rr_set_time_sequence(rec, "i", i); rr_log(rec, "parent/after", RR_ARCHETYPE_SCALARS, &sc, NULL); }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  rr_recording_free(rec);
  size_t n = 0;
  uint8_t *b = read_whole_file(path, &n);
  tdecoded *d = tdecode(b, n);
  assert_int_equal(d->n_errors, 0);
  assert_int_equal(trows(d, "/parent/before"), 100); /* not duplicated by the child */
  assert_int_equal(trows(d, "/parent/after"), 100);
  assert_int_equal(trows(d, "/child"), 50);
  tdecoded_free(d);
  free(b);
  unlink(path);
}

/* A child forked while chunks were queued logs a row larger than the
 * queue: it must not wait for the parent's chunks, which it dropped. */
/* Waits for the forked child (exit status 0), frees the parent's stream and
 * checks the file both wrote: it decodes whole, with these rows. */
static void check_fork_file(pid_t pid, rr_recording *rec, char *path, const char *e1, int64_t rows1,
                            const char *e2, int64_t rows2) {
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  rr_recording_free(rec);
  size_t n = 0;
  uint8_t *b = read_whole_file(path, &n);
  tdecoded *d = tdecode(b, n);
  assert_int_equal(d->n_errors, 0);
  assert_int_equal(trows(d, e1), rows1);
  assert_int_equal(trows(d, e2), rows2);
  tdecoded_free(d);
  free(b);
  unlink(path);
}

static void test_fork_then_large_row(void **state) {
  (void)state;
  char path[] = "/tmp/rr_fork_big_XXXXXX";
  close(mkstemp(path));
  rr_recording_options o = {.application_id = "app", .strict = true, .flush_num_rows = 1,
                            .max_bytes_in_flight = 1 << 20, .block_timeout_ms = 20000};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
  rr_scalar s = 1;
  rr_scalars sc = {.scalars = &s, .num_scalars = 1};
  pthread_mutex_lock(&rec->sink_mu); /* the batcher takes a run and waits: the rest stays queued */
  for (int i = 0; i < 400; i++) { rr_set_time_sequence(rec, "i", i); rr_log(rec, "parent", RR_ARCHETYPE_SCALARS, &sc, NULL); }
  pthread_mutex_lock(&rec->mu);
  bool queued = rec->q_head != NULL;
  pthread_mutex_unlock(&rec->mu);
  assert_true(queued);
  pid_t pid = fork();
  if (pid == 0) {
    static rr_position3d pts[100000]; /* 1.2 MB: more than the 1 MiB queue */
    rr_points3d p = {.positions = pts, .num_positions = 100000};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (rr_log(rec, "child_big", RR_ARCHETYPE_POINTS3D, &p, NULL)) _exit(3);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rr_recording_free(rec);
    _exit(t1.tv_sec - t0.tv_sec > 5 ? 4 : 0); /* the bug waited the 20 s block timeout */
  }
  pthread_mutex_unlock(&rec->sink_mu);
  check_fork_file(pid, rec, path, "/parent", 400, "/child_big", 1);
}

/* After fork() parent and child append to one file: the file sink then
 * writes each message whole (checked first), since a message cut back
 * after a refused row could have the other process's data after it. Both
 * refuse a row with a NaN and write the next; the file stays whole. */
static void test_fork_shared_file_refuses_nan(void **state) {
  (void)state;
  char path[] = "/tmp/rr_fork_nan_XXXXXX";
  close(mkstemp(path));
  rr_recording_options o = {.application_id = "app", .strict = true, .no_compression = true,
                            .max_bytes_in_flight = 1 << 20};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_save(rec, path, NULL), RR_OK);
  assert_false(rec->sink->shared);
  static rr_position3d pts[100000]; /* 1.2 MB: written in place */
  rr_points3d p = {.positions = pts, .num_positions = 100000};
  pid_t pid = fork();
  const char *who = pid == 0 ? "child" : "parent";
  bool shared = rec->sink->shared;
  pts[77777].y = NAN;
  rr_error e = {0};
  int bad = rr_log(rec, who, RR_ARCHETYPE_POINTS3D, &p, &e);
  pts[77777].y = 0;
  int good = rr_log(rec, who, RR_ARCHETYPE_POINTS3D, &p, NULL);
  if (pid == 0) {
    rr_recording_free(rec);
    _exit(!shared ? 2 : bad != RR_ENOTFINITE ? 3 : good != RR_OK ? 4 : 0);
  }
  assert_true(shared);
  assert_int_equal(bad, RR_ENOTFINITE);
  assert_non_null(strstr(e.msg, "Position3D[77777]: y is NaN"));
  assert_int_equal(good, RR_OK);
  check_fork_file(pid, rec, path, "/parent", 1, "/child", 1);
}

static void test_killed_writer_leaves_decodable_file(void **state) {
  char path[] = "/tmp/rr_killed_XXXXXX";
  close(mkstemp(path));
  pid_t pid = fork();
  if (pid == 0) {
    rr_recording_options o = {.application_id = "app", .flush_num_rows = 7};
    rr_recording *rec;
    if (rr_recording_new(&rec, &o, NULL) || rr_recording_save(rec, path, NULL)) _exit(2);
    static rr_position3d pts[1000];
    for (int64_t i = 0;; i++) {
      rr_set_time_sequence(rec, "i", i);
      rr_points3d p = {.positions = pts, .num_positions = 1000};
      rr_log(rec, "pts", RR_ARCHETYPE_POINTS3D, &p, NULL);
    }
  }
  /* kill it mid-stream: once some chunks are on disk (bounded wait, for loaded machines) */
  struct stat st;
  for (int i = 0; i < 1000 && (stat(path, &st) != 0 || st.st_size < (1 << 20)); i++) usleep(10 * 1000);
  usleep(20 * 1000);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  size_t n = 0;
  uint8_t *b = read_whole_file(path, &n);
  tdecoded *d = tdecode(b, n);
  /* every complete message decodes; at most the cut last one is reported */
  assert_true(d->n_errors <= 1);
  if (d->n_errors) assert_non_null(strstr(d->first_error, "offset"));
  assert_true(trows(d, "/pts") > 0);
  tdecoded_free(d);
  free(b);
  unlink(path);
}

static void test_send_columns(void **state) {
  rr_recording *rec = new_mem("app", true);
  enum { N = 1000 };
  int64_t times[N];
  for (int i = 0; i < N; i++) times[i] = 10 * i;
  rr_time_column tc = {"step", RR_TIME_SEQUENCE, times};
  struct ArrowSchema sch;
  assert_int_equal(rr_arrow_schema_init(&sch, "g", "", 0, 0), RR_OK);
  struct ArrowArray arr;
  assert_int_equal(rr_arrow_array_init(&arr, N, 0, 2, 0), RR_OK);
  double *vals = rr__malloc(N * sizeof *vals);
  for (int i = 0; i < N; i++) vals[i] = i * 0.5;
  rr_arrow_array_set_buffer(&arr, 1, vals);
  rr_columnar_component col = {{.component = "Scalars:scalars", .archetype = "rerun.archetypes.Scalars",
                                .component_type = "rerun.components.Scalar", .schema = &sch, .array = &arr}, NULL};
  rr_error err = {0};
  assert_int_equal(rr_send_columns(rec, "series", &tc, 1, N, &col, 1, &err), RR_OK);
  assert_null(arr.release); /* moved in, not copied */
  /* a length mismatch is refused and the array stays the caller's */
  struct ArrowArray arr2;
  rr_arrow_array_init(&arr2, 5, 0, 2, 0);
  rr_arrow_array_set_buffer(&arr2, 1, rr__calloc(5, 8));
  rr_columnar_component col2 = {{.component = "x", .schema = &sch, .array = &arr2}, NULL};
  assert_int_equal(rr_send_columns(rec, "series2", &tc, 1, N, &col2, 1, &err), RR_ELENGTH);
  assert_non_null(arr2.release);
  arr2.release(&arr2);
  tdecoded *d = drain(rec);
  const tchunk *c = find_chunk(d, "/series");
  assert_non_null(c);
  assert_int_equal(c->num_rows, N);
  assert_int_equal(c->schema.n_children, 3); /* RowId, step, Scalars:scalars */
  const int64_t *t = c->batch.children[1]->buffers[1];
  assert_int_equal(t[999], 9990);
  const double *v = c->batch.children[2]->children[0]->buffers[1];
  assert_true(v[999] == 499.5);
  tdecoded_free(d);
  sch.release(&sch);
  rr_recording_free(rec);
}

/* An arbitrary column and an archetype field of the same name (and type)
 * share one column: the archetype path finds a column it did not create,
 * also when the field is not at the column's position. */
static void test_archetype_and_columns_share(void **state) {
  rr_recording *rec = new_mem("app", true);
  rr_set_time_sequence(rec, "t", 0);
  struct ArrowSchema sch;
  struct ArrowArray arr;
  /* a Radius column given as f32 values */
  rr_arrow_schema_init(&sch, "f", "", 0, 0);
  rr_arrow_array_init(&arr, 1, 0, 2, 0);
  float *v = rr__malloc(4);
  *v = 7;
  rr_arrow_array_set_buffer(&arr, 1, v);
  rr_component_column c = {.component = "Points3D:radii", .schema = &sch, .array = &arr};
  assert_int_equal(rr_log_columns(rec, "p", &c, 1, false, NULL), RR_OK);
  sch.release(&sch);
  rr_position3d pt = {1, 2, 3};
  rr_radius r = 0.5f;
  for (int i = 1; i < 4; i++) {
    rr_set_time_sequence(rec, "t", i);
    rr_points3d p = {.positions = &pt, .num_positions = 1, .radii = &r, .num_radii = 1};
    if (i == 2) p.positions = NULL, p.num_positions = 0; /* radii first in the row */
    assert_int_equal(rr_log(rec, "p", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  }
  tdecoded *d = drain(rec);
  const tchunk *ch = find_chunk(d, "/p");
  assert_non_null(ch);
  assert_int_equal(ch->num_rows, 4);
  int ri = tcol(ch, "Points3D:radii"), pi = tcol(ch, "Points3D:positions");
  assert_true(ri > 0 && pi > 0);
  const struct ArrowArray *radii = ch->batch.children[ri];
  assert_int_equal(radii->null_count, 0);
  const float *rv = radii->children[0]->buffers[1];
  assert_true(rv[0] == 7 && rv[1] == 0.5f && rv[2] == 0.5f && rv[3] == 0.5f);
  const struct ArrowArray *pos = ch->batch.children[pi];
  assert_int_equal(pos->null_count, 2); /* rows 0 and 2 */
  const float *pv = pos->children[0]->children[0]->buffers[1];
  assert_true(pv[3] == 1 && pv[4] == 2 && pv[5] == 3); /* row 1's point (row 0 null: zeros) */
  tdecoded_free(d);
  rr_recording_free(rec);
}

static void test_flush_thresholds_and_any_values(void **state) {
  rr_recording_options o = {.application_id = "app", .strict = true, .flush_num_rows = 10};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  assert_int_equal(rr_recording_memory(rec, NULL), RR_OK);
  for (int i = 0; i < 35; i++) {
    rr_set_time_sequence(rec, "i", i);
    struct ArrowSchema sch;
    struct ArrowArray arr;
    rr_arrow_schema_init(&sch, "g", "", 0, 0);
    rr_arrow_array_init(&arr, 1, 0, 2, 0);
    double *v = rr__malloc(8);
    *v = i;
    rr_arrow_array_set_buffer(&arr, 1, v);
    rr_component_column c = {.component = "confidence", .schema = &sch, .array = &arr};
    assert_int_equal(rr_log_columns(rec, "any", &c, 1, false, NULL), RR_OK);
    assert_null(arr.release);
    sch.release(&sch);
  }
  tdecoded *d = drain(rec);
  int chunks = 0;
  for (int i = 0; i < d->n_chunks; i++)
    if (!strcmp(d->chunks[i].entity, "/any")) {
      chunks++;
      assert_true(d->chunks[i].num_rows <= 10);
      int k = tcol(&d->chunks[i], "confidence");
      assert_true(k > 0);
      rr_str v;
      assert_int_equal(rr_arrow_metadata_get(d->chunks[i].schema.children[k]->metadata, "rerun:archetype", &v), RR_ENOTFOUND);
    }
  assert_int_equal(chunks, 4);
  assert_int_equal(trows(d, "/any"), 35);
  tdecoded_free(d);
  rr_recording_free(rec);
}

/* Unsorted timelines split chunks at RERUN_CHUNK_MAX_ROWS_IF_UNSORTED rows,
 * and the is_sorted flag is only claimed when true. */
static void test_unsorted_split(void **state) {
  setenv("RERUN_CHUNK_MAX_ROWS_IF_UNSORTED", "100", 1);
  rr_recording *rec = new_mem("app", true);
  unsetenv("RERUN_CHUNK_MAX_ROWS_IF_UNSORTED");
  for (int i = 0; i < 1000; i++) {
    rr_set_time_sequence(rec, "t", (i * 7919) % 1000); /* a permutation: unsorted */
    rr_scalar v = i;
    rr_scalars s = {.scalars = &v, .num_scalars = 1};
    assert_int_equal(rr_log(rec, "u", RR_ARCHETYPE_SCALARS, &s, NULL), RR_OK);
  }
  tdecoded *d = drain(rec);
  assert_int_equal(trows(d, "/u"), 1000);
  int chunks = 0;
  for (int i = 0; i < d->n_chunks; i++) {
    const tchunk *c = &d->chunks[i];
    if (strcmp(c->entity, "/u")) continue;
    chunks++;
    assert_true(c->num_rows <= 100);
    int t = tcol(c, "t");
    const int64_t *v = c->batch.children[t]->buffers[1];
    bool sorted = true;
    for (int64_t r = 1; r < c->num_rows; r++) sorted = sorted && v[r - 1] <= v[r];
    rr_str flag;
    bool claimed = rr_arrow_metadata_get(c->schema.children[t]->metadata, "rerun:is_sorted", &flag) == RR_OK;
    assert_true(claimed == sorted);
  }
  assert_true(chunks >= 10);
  tdecoded_free(d);
  rr_recording_free(rec);
}

/* --stdout into a pipe: a complete .rrd stream; RERUN_FLUSH_NUM_ROWS from
 * the environment sets the chunk size. */
static void test_stdout_sink_and_env_rows(void **state) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    setenv("RERUN_FLUSH_NUM_ROWS", "5", 1);
    rr_recording_options o = {.application_id = "stdout_app", .strict = true};
    rr_recording *rec;
    if (rr_recording_new(&rec, &o, NULL) || rr_recording_stdout(rec, NULL)) _exit(2);
    for (int i = 0; i < 23; i++) {
      rr_set_time_sequence(rec, "i", i);
      rr_scalar v = i;
      rr_scalars sc = {.scalars = &v, .num_scalars = 1};
      if (rr_log(rec, "s", RR_ARCHETYPE_SCALARS, &sc, NULL)) _exit(3);
    }
    rr_recording_free(rec);
    _exit(0);
  }
  close(fds[1]);
  rr_buf all = RR_BUF_INIT;
  uint8_t buf[65536];
  ssize_t k;
  while ((k = read(fds[0], buf, sizeof buf)) > 0) rr_buf_append(&all, buf, (size_t)k);
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  tdecoded *d = tdecode(all.data, all.len);
  assert_int_equal(d->n_errors, 0);
  assert_string_equal(d->app_id, "stdout_app");
  assert_int_equal(trows(d, "/s"), 23);
  int chunks = 0;
  for (int i = 0; i < d->n_chunks; i++)
    if (!strcmp(d->chunks[i].entity, "/s")) { chunks++; assert_true(d->chunks[i].num_rows <= 5); }
  assert_int_equal(chunks, 5); /* 5+5+5+5+3 */
  tdecoded_free(d);
  rr_buf_free(&all);
}

/* A sink that never keeps up: a pipe nobody reads. The log call must not
 * wait, and the drop policy must count what it dropped. */
static void test_backpressure_drop_oldest(void **state) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  rr_recording_options o = {.application_id = "app", .strict = true, .flush_num_rows = 1,
                            .max_bytes_in_flight = 256 << 10, .backpressure = RR_BACKPRESSURE_DROP_OLDEST};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  struct rr_sink *s;
  assert_int_equal(rr__sink_fd_new(&s, fds[1], true, false, "pipe", NULL), RR_OK); /* header fits the pipe */
  assert_int_equal(rr__set_sink(rec, s), RR_OK);
  static rr_position3d pts[10000];
  for (int i = 0; i < 200; i++) {
    rr_set_time_sequence(rec, "i", i);
    rr_points3d p = {.positions = pts, .num_positions = 10000}; /* 120 kB a row */
    assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
  }
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_true(st.chunks_dropped > 0);
  assert_true(st.bytes_in_flight <= (256 << 10) + 130000);
  /* unblock the writer: drain the pipe until the stream is closed */
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    char buf[65536];
    while (read(fds[0], buf, sizeof buf) > 0) {}
    _exit(0);
  }
  rr_recording_free(rec);
  close(fds[0]);
  waitpid(pid, NULL, 0);
}

/* The default policy waits for a slow sink instead of dropping: every row
 * arrives, and memory stays bounded. */
struct drainer { int fd; size_t got; };
static void *drain_slowly(void *arg) {
  struct drainer *d = arg;
  char buf[16384];
  ssize_t k;
  while ((k = read(d->fd, buf, sizeof buf)) > 0) { d->got += (size_t)k; usleep(200); }
  return NULL;
}

static void test_backpressure_default_blocks(void **state) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  rr_recording_options o = {.application_id = "app", .strict = true, .flush_num_rows = 1,
                            .max_bytes_in_flight = 512 << 10, .no_compression = true};
  rr_recording *rec;
  assert_int_equal(rr_recording_new(&rec, &o, NULL), RR_OK);
  struct rr_sink *s;
  assert_int_equal(rr__sink_fd_new(&s, fds[1], true, false, "pipe", NULL), RR_OK);
  assert_int_equal(rr__set_sink(rec, s), RR_OK);
  struct drainer d = {fds[0], 0};
  pthread_t th;
  pthread_create(&th, NULL, drain_slowly, &d);
  static rr_position3d pts[10000];
  uint64_t max_in_flight = 0;
  for (int i = 0; i < 100; i++) {
    rr_set_time_sequence(rec, "i", i);
    rr_points3d p = {.positions = pts, .num_positions = 10000};
    assert_int_equal(rr_log(rec, "big", RR_ARCHETYPE_POINTS3D, &p, NULL), RR_OK);
    rr_recording_stats st;
    rr_recording_stats_get(rec, &st);
    if (st.bytes_in_flight > max_in_flight) max_in_flight = st.bytes_in_flight;
  }
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  assert_int_equal(st.chunks_dropped, 0);
  assert_true(max_in_flight <= (512 << 10) + 130000); /* one row over the bound at most */
  rr_recording_free(rec);
  pthread_join(th, NULL);
  close(fds[0]);
  assert_true(d.got > 100 * 120000); /* all 100 rows of 120 kB went through */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_points_round_trip),
      cmocka_unit_test(test_partial_updates_and_static),
      cmocka_unit_test(test_archetype_and_columns_share),
      cmocka_unit_test(test_bad_input_strict_and_lenient),
      cmocka_unit_test(test_entity_paths),
      cmocka_unit_test(test_disabled),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_buffered_then_save),
      cmocka_unit_test(test_fork),
      cmocka_unit_test(test_fork_then_large_row),
      cmocka_unit_test(test_fork_shared_file_refuses_nan),
      cmocka_unit_test(test_killed_writer_leaves_decodable_file),
      cmocka_unit_test(test_send_columns),
      cmocka_unit_test(test_flush_thresholds_and_any_values),
      cmocka_unit_test(test_unsorted_split),
      cmocka_unit_test(test_stdout_sink_and_env_rows),
      cmocka_unit_test(test_backpressure_drop_oldest),
      cmocka_unit_test(test_backpressure_default_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
