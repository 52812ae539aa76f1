/* Logging SDK benchmarks: Rerun's log benchmark workloads, each printed as a
 * ratio against a baseline measured in the same run (raw memcpy, raw fwrite
 * of the same bytes). Usage: bench_sdk [--quick] [--only NAME]. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>

#include "rerun.h"
#include "sdk/sdk_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool quick;
static const char *only;
static char tmpdir[256] = "/tmp";

static bool want(const char *name) { return !only || !strcmp(only, name); }

/* Bytes per second of memcpy over n bytes (best of 3). */
static double memcpy_bw(size_t n) {
  uint8_t *a = malloc(n), *b = malloc(n);
  memset(a, 1, n);
  memset(b, 2, n);
  double best = 1e30;
  for (int i = 0; i < 3; i++) {
    double t = now_s();
    memcpy(b, a, n);
    t = now_s() - t;
    if (t < best) best = t;
    a[i] = b[n - 1 - i]; /* keep the copies observable */
  }
  free(a);
  free(b);
  return (double)n / best;
}

/* Bytes per second of fwrite of n bytes to a new file, including fflush + fsync-less close (best of 3). */
static double fwrite_bw(size_t n) {
  char path[300];
  snprintf(path, sizeof path, "%s/bench_fwrite.bin", tmpdir);
  uint8_t *a = malloc(n);
  memset(a, 3, n);
  double best = 1e30;
  for (int i = 0; i < 3; i++) {
    double t = now_s();
    FILE *f = fopen(path, "wb");
    fwrite(a, 1, n, f);
    fclose(f);
    t = now_s() - t;
    if (t < best) best = t;
    unlink(path);
  }
  free(a);
  return (double)n / best;
}

/* Bytes per second of LZ4_compress_default over the buffers p[i] of n[i]
 * bytes, one call each (best of 2). */
static double lz4_bw(const void *const *p, const size_t *n, int count) {
  size_t total = 0, most = 0;
  for (int i = 0; i < count; i++) {
    total += n[i];
    if (n[i] > most) most = n[i];
  }
  int bound = LZ4_compressBound((int)most);
  char *out = malloc((size_t)bound);
  double best = 1e30;
  for (int rep = 0; rep < 2; rep++) {
    double t = now_s();
    for (int i = 0; i < count; i++)
      if (LZ4_compress_default(p[i], out, (int)n[i], bound) <= 0) exit(1);
    t = now_s() - t;
    if (t < best) best = t;
  }
  free(out);
  return (double)total / best;
}

/* A stream that never drops: writers wait for room, in a queue as large as
 * needed (`defaults`: the default options, 100 MiB and the default policy). */
static rr_recording *new_rec_opts(bool compress, const char *file, bool defaults) {
  rr_recording_options o = {.application_id = "bench", .strict = true, .no_compression = !compress};
  if (!defaults) {
    o.backpressure = RR_BACKPRESSURE_BLOCK;
    o.block_timeout_ms = 60000;
    o.max_bytes_in_flight = (int64_t)1 << 40;
  }
  rr_recording *rec;
  if (rr_recording_new(&rec, &o, NULL)) exit(1);
  if (file ? rr_recording_save(rec, file, NULL) : rr_recording_memory(rec, NULL)) exit(1);
  return rec;
}

static rr_recording *new_rec(bool compress, const char *file) { return new_rec_opts(compress, file, false); }

static void finish_mem(rr_recording *rec, size_t *bytes) {
  uint8_t *b;
  size_t n;
  rr_recording_memory_drain(rec, &b, &n);
  rr_free(b);
  if (bytes) *bytes = n;
}

static void report(const char *name, const char *what, double ratio, const char *baseline, const char *extra) {
  printf("%-28s %-34s %7.3fx %-22s %s\n", name, what, ratio, baseline, extra ? extra : "");
}

/* ---- workloads ------------------------------------------------------------ */

static void points3d_many_individual(void) {
  int64_t n = quick ? 200000 : 1000000;
  /* best of 3, as the memcpy baseline (the first run in a process also
   * pays for its first touch of the accumulators' memory); the first run's
   * figure is printed too */
  double best_calls = 1e30, best_all = 1e30, first = 0;
  for (int rep = 0; rep < 3; rep++) {
    rr_recording *rec = new_rec(true, NULL);
    rr_position3d p = {1, 2, 3};
    double t0 = now_s();
    for (int64_t i = 0; i < n; i++) {
      rr_set_time_sequence(rec, "frame", i);
      p.x = (float)i;
      rr_points3d pts = {.positions = &p, .num_positions = 1};
      if (rr_log(rec, "points", RR_ARCHETYPE_POINTS3D, &pts, NULL)) exit(1);
    }
    double t_calls = now_s() - t0;
    finish_mem(rec, NULL);
    double t_all = now_s() - t0;
    rr_recording_free(rec);
    if (rep == 0) first = t_calls;
    if (t_calls < best_calls) best_calls = t_calls;
    if (t_all < best_all) best_all = t_all;
  }
  char extra[160];
  snprintf(extra, sizeof extra, "%.2fM calls/s, first run %.2fM (target 5M/s; with flush+encode %.2fM/s)",
           n / best_calls / 1e6, n / first / 1e6, n / best_all / 1e6);
  /* baseline: memcpy of the same 12-byte points, one at a time */
  double bw = memcpy_bw((size_t)n * 12);
  report("points3d_many_individual", "log bytes/s vs memcpy of the points", (n * 12.0 / best_calls) / bw, "memcpy", extra);
}

static void points3d_large_batch(void) {
  /* as Rerun's log benchmark: positions, colors, radii and one label */
  size_t n = quick ? 5000000 : 50000000;
  rr_position3d *pts = malloc(n * sizeof *pts);
  rr_color *colors = malloc(n * sizeof *colors);
  rr_radius *radii = malloc(n * sizeof *radii);
  for (size_t i = 0; i < n; i++) {
    pts[i] = (rr_position3d){(float)i, (float)(i % 1000), 0.5f};
    colors[i] = (rr_color)(0xff0000ffu | (uint32_t)(i & 0xff) << 8);
    radii[i] = 0.01f + (float)(i % 7) * 0.001f;
  }
  rr_text label = "large_batch";
  size_t bytes = n * (sizeof *pts + sizeof *colors + sizeof *radii);
  const void *arrays[3] = {pts, colors, radii};
  const size_t sizes[3] = {n * sizeof *pts, n * sizeof *colors, n * sizeof *radii};
  double mbw = memcpy_bw(bytes), fbw = fwrite_bw(bytes), zbw = lz4_bw(arrays, sizes, 3);
  /* Best of 3, as the baselines: the first run in a process also pays
   * for the machine's first touch of fresh memory (the baselines touch
   * their buffers before they are timed); the figure of the first run is
   * printed too. The stream has the default options: a 600 MB row is more
   * than max_bytes_in_flight holds, so it is written from the caller's
   * memory (rr__acc_write_direct). */
  for (int compress = 0; compress < 2; compress++) {
    rr_points3d p = {.positions = pts, .num_positions = n, .colors = colors, .num_colors = n,
                     .radii = radii, .num_radii = n, .labels = &label, .num_labels = 1};
    double best = 1e30, first = 0;
    for (int rep = 0; rep < 3; rep++) {
      rr_recording *rec = new_rec_opts(compress, NULL, true);
      double t = now_s();
      rr_set_time_sequence(rec, "frame", 0);
      if (rr_log(rec, "points", RR_ARCHETYPE_POINTS3D, &p, NULL)) exit(1);
      size_t out;
      finish_mem(rec, &out);
      t = now_s() - t;
      rr_recording_free(rec);
      if (rep == 0) first = t;
      if (t < best) best = t;
    }
    char extra[160];
    snprintf(extra, sizeof extra, "%.0f MB (positions, colors, radii) in %.2fs, first run %.2fs (target >= 0.5x)%s", bytes / 1e6, best, first,
             compress ? " LZ4" : " uncompressed");
    report("points3d_large_batch", "memory sink bytes/s vs memcpy", bytes / best / mbw, "memcpy", extra);

    char path[300];
    snprintf(path, sizeof path, "%s/bench_large.rrd", tmpdir);
    best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      rr_recording *rec = new_rec_opts(compress, path, true);
      double t = now_s();
      rr_set_time_sequence(rec, "frame", 0);
      if (rr_log(rec, "points", RR_ARCHETYPE_POINTS3D, &p, NULL)) exit(1);
      rr_recording_free(rec);
      t = now_s() - t;
      unlink(path);
      if (rep == 0) first = t;
      if (t < best) best = t;
    }
    snprintf(extra, sizeof extra, "%.2fs, first run %.2fs (target >= 0.8x)%s", best, first, compress ? " LZ4" : " uncompressed");
    report("points3d_large_batch", "file sink bytes/s vs fwrite", bytes / best / fbw, "fwrite", extra);
    /* LZ4 alone runs at a small fraction of memcpy's speed: what the SDK
     * adds to it is the figure that measures the SDK */
    if (compress)
      report("points3d_large_batch", "file sink bytes/s vs raw LZ4", bytes / best / zbw, "LZ4_compress_default",
             "the same bytes, one call, one thread");
  }
  free(pts);
  free(colors);
  free(radii);
}

static void scalars(void) {
  int ents = 600, steps = quick ? 200 : 1000;
  char path[64];
  double mbw = memcpy_bw((size_t)ents * steps * 8);
  rr_recording *rec = new_rec(true, NULL);
  double t = now_s();
  for (int s = 0; s < steps; s++) {
    rr_set_time_sequence(rec, "step", s);
    for (int e = 0; e < ents; e++) {
      snprintf(path, sizeof path, "scalars/%d", e);
      rr_scalar v = sin(s * 0.01 + e);
      rr_scalars sc = {.scalars = &v, .num_scalars = 1};
      if (rr_log(rec, path, RR_ARCHETYPE_SCALARS, &sc, NULL)) exit(1);
    }
  }
  finish_mem(rec, NULL);
  t = now_s() - t;
  rr_recording_free(rec);
  double rows = (double)ents * steps;
  char extra[100];
  snprintf(extra, sizeof extra, "%.2fM rows/s", rows / t / 1e6);
  report("scalars (log)", "value bytes/s vs memcpy", rows * 8 / t / mbw, "memcpy", extra);

  rec = new_rec(true, NULL);
  int64_t *times = malloc(steps * sizeof *times);
  for (int s = 0; s < steps; s++) times[s] = s;
  t = now_s();
  for (int e = 0; e < ents; e++) {
    snprintf(path, sizeof path, "scalars/%d", e);
    struct ArrowSchema sch;
    struct ArrowArray arr;
    rr_arrow_schema_init(&sch, "g", "", 0, 0);
    rr_arrow_array_init(&arr, steps, 0, 2, 0);
    double *v = rr__malloc(steps * sizeof *v);
    for (int s = 0; s < steps; s++) v[s] = sin(s * 0.01 + e);
    rr_arrow_array_set_buffer(&arr, 1, v);
    rr_time_column tc = {"step", RR_TIME_SEQUENCE, times};
    rr_columnar_component col = {{.component = "Scalars:scalars", .archetype = "rerun.archetypes.Scalars",
                                  .component_type = "rerun.components.Scalar", .schema = &sch, .array = &arr}, NULL};
    if (rr_send_columns(rec, path, &tc, 1, steps, &col, 1, NULL)) exit(1);
    sch.release(&sch);
  }
  finish_mem(rec, NULL);
  t = now_s() - t;
  rr_recording_free(rec);
  free(times);
  snprintf(extra, sizeof extra, "%.2fM rows/s", rows / t / 1e6);
  report("scalars (send_columns)", "value bytes/s vs memcpy", rows * 8 / t / mbw, "memcpy", extra);
}

static void transform3d(void) {
  int ents = 10, steps = quick ? 2000 : 10000;
  char path[64];
  rr_recording *rec = new_rec(true, NULL);
  double t = now_s();
  for (int s = 0; s < steps; s++) {
    rr_set_time_sequence(rec, "step", s);
    for (int e = 0; e < ents; e++) {
      snprintf(path, sizeof path, "tf/%d", e);
      rr_translation3d tr = {(float)s, (float)e, 0};
      rr_rotation_quat q = {0, 0, 0, 1};
      rr_transform3d tf = {.translation = &tr, .num_translation = 1, .quaternion = &q, .num_quaternion = 1};
      if (rr_log(rec, path, RR_ARCHETYPE_TRANSFORM3D, &tf, NULL)) exit(1);
    }
  }
  finish_mem(rec, NULL);
  t = now_s() - t;
  rr_recording_free(rec);
  double rows = (double)ents * steps;
  double mbw = memcpy_bw((size_t)rows * 28);
  char extra[100];
  snprintf(extra, sizeof extra, "%.2fM transforms/s", rows / t / 1e6);
  report("transform3d", "value bytes/s vs memcpy", rows * 28 / t / mbw, "memcpy", extra);
}

static void image(void) {
  int n = quick ? 20 : 100;
  size_t sz = 1024 * 1024 * 4;
  uint8_t *px = malloc(sz);
  for (size_t i = 0; i < sz; i++) px[i] = (uint8_t)(i * 7 + (i >> 12));
  double mbw = memcpy_bw(sz * (size_t)n > (1u << 30) ? (1u << 30) : sz * (size_t)n);
  rr_recording *rec = new_rec(true, NULL);
  double t = now_s();
  for (int i = 0; i < n; i++) {
    rr_set_time_sequence(rec, "frame", i);
    px[i] = (uint8_t)i;
    rr_image_buffer b = {px, sz};
    rr_image_format f = {.width = 1024, .height = 1024, .color_model = RR_COLOR_MODEL_RGBA, .channel_datatype = RR_CHANNEL_DATATYPE_U8};
    rr_image img = {.buffer = &b, .num_buffer = 1, .format = &f, .num_format = 1};
    if (rr_log(rec, "image", RR_ARCHETYPE_IMAGE, &img, NULL)) exit(1);
  }
  finish_mem(rec, NULL);
  t = now_s() - t;
  rr_recording_free(rec);
  free(px);
  char extra[100];
  snprintf(extra, sizeof extra, "%.0f images/s", n / t);
  report("image (1024x1024 RGBA)", "pixel bytes/s vs memcpy", (double)n * sz / t / mbw, "memcpy", extra);
}

/* ---- latency while the sink is slower than the producer ------------------- */

struct slow_reader { int fd; double bytes_per_s; volatile int stop; };
static void *slow_read(void *arg) {
  struct slow_reader *r = arg;
  char buf[65536];
  double t0 = now_s(), got = 0;
  for (;;) {
    ssize_t k = read(r->fd, buf, sizeof buf);
    if (k <= 0) break;
    got += (double)k;
    double ahead = got / r->bytes_per_s - (now_s() - t0);
    if (ahead > 0 && !r->stop) usleep((useconds_t)(ahead * 1e6));
  }
  return NULL;
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static void latency(void) {
  int fds[2];
  if (pipe(fds)) exit(1);
  struct slow_reader r = {fds[0], 20e6, 0}; /* the "disk" takes 20 MB/s */
  pthread_t th;
  pthread_create(&th, NULL, slow_read, &r);
  rr_recording_options o = {.application_id = "bench", .strict = true, .max_bytes_in_flight = 64 << 20,
                            .backpressure = RR_BACKPRESSURE_DROP_OLDEST, .no_compression = true};
  rr_recording *rec;
  rr_recording_new(&rec, &o, NULL);
  struct rr_sink *s;
  rr__sink_fd_new(&s, fds[1], true, true, "slow-pipe", NULL);
  rr__set_sink(rec, s);
  int calls = quick ? 20000 : 100000;
  double *lat = malloc(calls * sizeof *lat);
  static rr_position3d pts[1000];
  for (int i = 0; i < 1000; i++) pts[i] = (rr_position3d){(float)i, 0, 0};
  double t0 = now_s();
  for (int i = 0; i < calls; i++) {
    rr_set_time_sequence(rec, "frame", i);
    rr_points3d p = {.positions = pts, .num_positions = 1000};
    double t = now_s();
    rr_log(rec, "points", RR_ARCHETYPE_POINTS3D, &p, NULL);
    lat[i] = now_s() - t;
  }
  double produce = calls * 12000.0 / (now_s() - t0);
  rr_recording_stats st;
  rr_recording_stats_get(rec, &st);
  r.stop = 1;
  rr_recording_free(rec);
  pthread_join(th, NULL);
  close(fds[0]);
  qsort(lat, calls, sizeof *lat, cmp_d);
  /* baseline: memcpy of one call's 12 kB */
  double one = 12000.0 / memcpy_bw(12000);
  char extra[220];
  snprintf(extra, sizeof extra,
           "p50 %.1f us, p99 %.1f us (target < 20), max %.0f us; produced %.0f MB/s into a 20 MB/s sink; "
           "policy drop-oldest: %llu of %llu rows dropped, counted",
           lat[calls / 2] * 1e6, lat[calls * 99 / 100] * 1e6, lat[calls - 1] * 1e6, produce / 1e6,
           (unsigned long long)st.rows_dropped, (unsigned long long)st.rows_logged);
  report("log latency, slow sink", "p99 call time vs memcpy of its data", lat[calls * 99 / 100] / one, "memcpy(12 kB)", extra);
  free(lat);
}

/* ---- peak memory logging 1 GB through the file sink ------------------------ */

static void memory(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char path[300];
    snprintf(path, sizeof path, "%s/bench_mem.rrd", tmpdir);
    rr_recording_options o = {.application_id = "bench", .strict = true};
    rr_recording *rec;
    rr_recording_new(&rec, &o, NULL);
    rr_recording_save(rec, path, NULL);
    size_t total = quick ? (256u << 20) : (1u << 30), per = 1 << 20, n = per / 12;
    rr_position3d *pts = malloc(n * sizeof *pts);
    for (size_t i = 0; i < n; i++) pts[i] = (rr_position3d){(float)i, 1, 2};
    for (size_t done = 0, i = 0; done < total; done += n * 12, i++) {
      rr_set_time_sequence(rec, "frame", (int64_t)i);
      pts[0].x = (float)i;
      rr_points3d p = {.positions = pts, .num_positions = n};
      rr_log(rec, "points", RR_ARCHETYPE_POINTS3D, &p, NULL);
    }
    rr_recording_stats st;
    rr_recording_stats_get(rec, &st);
    rr_recording_free(rec);
    unlink(path);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double budget = 100.0 * (1 << 20); /* max_bytes_in_flight default */
    double peak = ru.ru_maxrss * 1024.0, limit = 2 * budget + 64.0 * (1 << 20);
    char extra[200];
    snprintf(extra, sizeof extra, "peak RSS %.0f MB for %.0f MB logged; limit 2x budget(100 MiB)+64 MB = %.0f MB; default policy (wait): dropped %llu",
             peak / 1e6, total / 1e6, limit / 1e6, (unsigned long long)st.chunks_dropped);
    report("memory, 1 GB to file", "peak RSS vs the limit", peak / limit, "2*budget+64MB", extra);
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = true;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--tmpdir") && i + 1 < argc) snprintf(tmpdir, sizeof tmpdir, "%s", argv[++i]);
    else { fprintf(stderr, "usage: bench_sdk [--quick] [--only NAME] [--tmpdir DIR]\n"); return 2; }
  }
  setenv("RERUN_ANALYTICS", "off", 1);
  printf("%-28s %-34s %8s %-22s %s\n", "workload", "figure", "ratio", "baseline", "details");
  if (want("points3d_many_individual")) points3d_many_individual();
  if (want("points3d_large_batch")) points3d_large_batch();
  if (want("scalars")) scalars();
  if (want("transform3d")) transform3d();
  if (want("image")) image();
  if (want("latency")) latency();
  if (want("memory")) memory();
  return 0;
}
