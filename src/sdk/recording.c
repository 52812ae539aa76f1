/* Recording streams: creation, default streams, the process recording id,
 * per-thread time, and the batcher thread. See sdk_internal.h for the flow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sdk_internal.h"

/* ---- process-wide state (each piece under its own lock) ------------------- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* g_live, g_serial, g_rec_id */
static rr_recording *g_live;
static uint64_t g_serial;
static char g_rec_id[64];
static rr_recording *g_global; /* atomically accessed */
static _Thread_local rr_recording *t_default;

void rr_free(void *p) { rr__free(p); }

const char *rr_default_recording_id(void) {
  pthread_mutex_lock(&g_mu);
  if (!g_rec_id[0]) {
    const char *env = getenv("RERUN_RECORDING_ID");
    if (env && *env && strlen(env) < sizeof g_rec_id) {
      snprintf(g_rec_id, sizeof g_rec_id, "%s", env);
    } else {
      uint8_t u[16];
      rr__random_bytes(u, sizeof u);
      u[6] = (uint8_t)((u[6] & 0x0F) | 0x40); /* UUIDv4 */
      u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
      char *p = g_rec_id + snprintf(g_rec_id, sizeof g_rec_id, "rec_");
      for (int i = 0; i < 16; i++) p += sprintf(p, "%02x", u[i]);
      /* children of this process log to the same recording */
      setenv("RERUN_RECORDING_ID", g_rec_id, 0);
    }
  }
  pthread_mutex_unlock(&g_mu);
  return g_rec_id;
}

void rr_set_global_recording(rr_recording *rec) { __atomic_store_n(&g_global, rec, __ATOMIC_RELEASE); }
void rr_set_thread_recording(rr_recording *rec) { t_default = rec; }
rr_recording *rr_get_recording(void) {
  return t_default ? t_default : __atomic_load_n(&g_global, __ATOMIC_ACQUIRE);
}

/* ---- env ---------------------------------------------------------------- */

static int64_t env_i64(const char *name, int64_t dflt) {
  const char *s = getenv(name);
  if (!s || !*s) return dflt;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*end || v < 0) { rr__warn("ignoring %s=%s: expected a non-negative integer", name, s); return dflt; }
  return v;
}

static int64_t env_secs_ns(const char *name, int64_t dflt) {
  const char *s = getenv(name);
  if (!s || !*s) return dflt;
  char *end;
  double v = strtod(s, &end);
  if (*end || !(v >= 0) || v > 1e9) { rr__warn("ignoring %s=%s: expected seconds", name, s); return dflt; }
  return (int64_t)(v * 1e9);
}

/* ---- thread-local time -------------------------------------------------- */

struct thread_time {
  uint64_t serial;
  uint64_t version; /* of the timeline set; unique process-wide */
  size_t n;
  struct tl_value *tl; /* sorted by name */
};
struct thread_times {
  size_t n;
  struct thread_time *items;
};
static uint64_t g_tl_version; /* atomically incremented */
static uint64_t next_version(void) { return __atomic_add_fetch(&g_tl_version, 1, __ATOMIC_RELAXED); }
static pthread_key_t g_time_key;
static pthread_once_t g_time_once = PTHREAD_ONCE_INIT;

static _Thread_local struct thread_time *t_last_time;

static void free_thread_times(void *p) {
  struct thread_times *tt = p;
  t_last_time = NULL;
  for (size_t i = 0; i < tt->n; i++) {
    for (size_t k = 0; k < tt->items[i].n; k++) rr__free(tt->items[i].tl[k].name);
    rr__free(tt->items[i].tl);
  }
  rr__free(tt->items);
  rr__free(tt);
}
static void make_time_key(void) { pthread_key_create(&g_time_key, free_thread_times); }

/* t_last_time, the thread's last looked-up entry, is valid until the array
 * is reallocated (then reset); serials never repeat, so a match is always
 * this stream's. */
static struct thread_time *thread_time(const rr_recording *rec, bool create) {
  if (RR__LIKELY(t_last_time && t_last_time->serial == rec->serial)) return t_last_time;
  pthread_once(&g_time_once, make_time_key);
  struct thread_times *tt = pthread_getspecific(g_time_key);
  if (!tt) {
    if (!create) return NULL;
    tt = rr__calloc(1, sizeof *tt);
    if (!tt || pthread_setspecific(g_time_key, tt) != 0) { rr__free(tt); return NULL; }
  }
  for (size_t i = 0; i < tt->n; i++)
    if (tt->items[i].serial == rec->serial) return t_last_time = &tt->items[i];
  if (!create) return NULL;
  t_last_time = NULL; /* the array may move */
  struct thread_time *ni = rr__realloc(tt->items, (tt->n + 1) * sizeof *ni);
  if (!ni) return NULL;
  tt->items = ni;
  memset(&ni[tt->n], 0, sizeof ni[tt->n]);
  ni[tt->n].serial = rec->serial;
  ni[tt->n].version = next_version();
  return t_last_time = &ni[tt->n++];
}

int rr__resolve(rr_recording **rec) {
  if (!*rec) *rec = rr_get_recording();
  return *rec ? RR_OK : RR_EINVAL;
}

/* Reports a bad call: strict returns the error, lenient warns and returns OK. */
int rr__report(const rr_recording *rec, int rc, rr_error *err, const char *what) {
  if (rc >= 0) return rc;
  if (rec && !rec->strict) {
    rr__warn("%s: %s (call ignored)", what, err && err->msg[0] ? err->msg : rr_strerror(rc));
    return RR_OK;
  }
  return rc;
}

/* Equal NUL-terminated strings; inline, as timeline names are short. */
static inline bool name_eq(const char *a, const char *b) {
  while (*a == *b) {
    if (!*a) return true;
    a++, b++;
  }
  return false;
}

/* Kept out of line so that the fast path below needs few registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int set_time_slow(rr_recording *rec, const char *timeline, int type, int64_t value) {
  if (RR__UNLIKELY(!timeline || !*timeline)) {
    rr_error e = {0};
    return rr__report(rec, rr__err(&e, RR_EINVAL, "timeline name is NULL or empty"), &e, "set_time");
  }
  rr_error e;
  e.code = 0;
  e.msg[0] = 0;
  size_t len = strlen(timeline);
  if (!rr__utf8_valid(timeline, len))
    return rr__report(rec, rr__err(&e, RR_EUTF8, "timeline name is not valid UTF-8"), &e, "set_time");
  if (value == INT64_MIN)
    return rr__report(rec, rr__err(&e, RR_ERANGE, "time value INT64_MIN is reserved for static data"), &e,
                  "set_time");
  struct thread_time *tt = thread_time(rec, true);
  if (!tt) return RR_ENOMEM;
  size_t i = 0;
  while (i < tt->n && strcmp(tt->tl[i].name, timeline) < 0) i++;
  if (i < tt->n && !strcmp(tt->tl[i].name, timeline)) {
    if (tt->tl[i].type != type) tt->version = next_version();
    tt->tl[i].type = type;
    tt->tl[i].value = value;
    return RR_OK;
  }
  struct tl_value *nt = rr__realloc(tt->tl, (tt->n + 1) * sizeof *nt);
  if (!nt) return RR_ENOMEM;
  tt->tl = nt;
  char *name = rr__strndup(timeline, len);
  if (!name) return RR_ENOMEM;
  memmove(&nt[i + 1], &nt[i], (tt->n - i) * sizeof *nt);
  nt[i] = (struct tl_value){name, type, value};
  tt->n++;
  tt->version = next_version();
  return RR_OK;
}

static int set_time(rr_recording *rec, const char *timeline, int type, int64_t value) {
  int rc = rr__resolve(&rec);
  if (rc < 0) return rc;
  if (!rec->enabled) return RR_OK;
  /* Fast path: the thread already has this timeline. Its name was checked
   * (non-empty, UTF-8) when it was added, so an equal name needs no check
   * again; anything else (NULL or empty name included) takes the slow path. */
  struct thread_time *tt = thread_time(rec, false);
  if (RR__LIKELY(tt && timeline && value != INT64_MIN)) {
    for (size_t i = 0; i < tt->n; i++) {
      if (!name_eq(tt->tl[i].name, timeline)) continue;
      if (RR__UNLIKELY(tt->tl[i].type != type)) {
        tt->version = next_version();
        tt->tl[i].type = type;
      }
      tt->tl[i].value = value;
      return RR_OK;
    }
  }
  return set_time_slow(rec, timeline, type, value);
}

int rr_set_time_sequence(rr_recording *rec, const char *t, int64_t v) { return set_time(rec, t, RR_TL_SEQUENCE, v); }
int rr_set_time_duration_nanos(rr_recording *rec, const char *t, int64_t v) { return set_time(rec, t, RR_TL_DURATION, v); }
int rr_set_time_timestamp_nanos(rr_recording *rec, const char *t, int64_t v) { return set_time(rec, t, RR_TL_TIMESTAMP, v); }

static int secs_to_ns(rr_recording *rec, double secs, int64_t *out) {
  rr_error e = {0};
  if (!(secs == secs) || secs > 9.2e9 || secs < -9.2e9)
    return rr__report(rec, rr__err(&e, RR_ENOTFINITE, "time in seconds is NaN, infinite or out of range"), &e,
                  "set_time");
  *out = (int64_t)(secs * 1e9 + (secs >= 0 ? 0.5 : -0.5));
  return 1;
}
int rr_set_time_duration_secs(rr_recording *rec, const char *t, double s) {
  int64_t ns;
  if (rr__resolve(&rec) < 0) return RR_EINVAL;
  int rc = secs_to_ns(rec, s, &ns);
  return rc == 1 ? set_time(rec, t, RR_TL_DURATION, ns) : rc;
}
int rr_set_time_timestamp_secs(rr_recording *rec, const char *t, double s) {
  int64_t ns;
  if (rr__resolve(&rec) < 0) return RR_EINVAL;
  int rc = secs_to_ns(rec, s, &ns);
  return rc == 1 ? set_time(rec, t, RR_TL_TIMESTAMP, ns) : rc;
}

int rr_disable_timeline(rr_recording *rec, const char *timeline) {
  RR_TRY(rr__resolve(&rec));
  struct thread_time *tt = thread_time(rec, false);
  if (!tt || !timeline) return RR_OK;
  for (size_t i = 0; i < tt->n; i++) {
    if (strcmp(tt->tl[i].name, timeline)) continue;
    rr__free(tt->tl[i].name);
    memmove(&tt->tl[i], &tt->tl[i + 1], (tt->n - i - 1) * sizeof *tt->tl);
    tt->n--;
    tt->version = next_version();
    break;
  }
  return RR_OK;
}

int rr_reset_time(rr_recording *rec) {
  RR_TRY(rr__resolve(&rec));
  struct thread_time *tt = thread_time(rec, false);
  if (!tt) return RR_OK;
  for (size_t i = 0; i < tt->n; i++) rr__free(tt->tl[i].name);
  tt->n = 0;
  tt->version = next_version();
  return RR_OK;
}

/* ---- creation -------------------------------------------------------------- */

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

int rr__start_thread(rr_recording *rec) {
  if (rec->thread_running || rec->closed) return RR_OK;
  if (pthread_create(&rec->thread, NULL, rr__batcher_main, rec) != 0) return RR_ENOMEM;
  rec->thread_running = true;
  return RR_OK;
}

int rr_recording_new(rr_recording **out, const rr_recording_options *opts, rr_error *err) {
  static const rr_recording_options dflt;
  if (!out) return rr__err(err, RR_EINVAL, "out is NULL");
  *out = NULL;
  if (!opts) opts = &dflt;
  const char *app = opts->application_id ? opts->application_id : "unknown_app_id";
  if (!*app || !rr__utf8_valid(app, strlen(app)))
    return rr__err(err, RR_EINVAL, "application_id is empty or not valid UTF-8");
  const char *rid = opts->recording_id ? opts->recording_id : rr_default_recording_id();
  if (!*rid || !rr__utf8_valid(rid, strlen(rid)))
    return rr__err(err, RR_EINVAL, "recording_id is empty or not valid UTF-8");

  rr_recording *rec = rr__calloc(1, sizeof *rec);
  if (!rec) return rr__err(err, RR_ENOMEM, "out of memory");
  rec->app_id = rr__strdup(app);
  rec->rec_id = rr__strdup(rid);
  if (!rec->app_id || !rec->rec_id) { rr__free(rec->app_id); rr__free(rec->rec_id); rr__free(rec); return RR_ENOMEM; }
  rec->enabled = !opts->disabled_by_default;
  const char *env = getenv("RERUN");
  if (env) {
    if (!strcasecmp(env, "off") || !strcmp(env, "0") || !strcasecmp(env, "false")) rec->enabled = false;
    else if (!strcasecmp(env, "on") || !strcmp(env, "1") || !strcasecmp(env, "true")) rec->enabled = true;
  }
  rec->strict = opts->strict;
  rec->compress = !opts->no_compression;
  rec->flush_tick_ns = opts->flush_tick_nanos > 0 ? opts->flush_tick_nanos : env_secs_ns("RERUN_FLUSH_TICK_SECS", 0);
  rec->flush_tick_explicit = rec->flush_tick_ns > 0;
  if (!rec->flush_tick_explicit) rec->flush_tick_ns = 200000000; /* Rerun's default */
  rec->flush_num_bytes = opts->flush_num_bytes > 0 ? opts->flush_num_bytes : env_i64("RERUN_FLUSH_NUM_BYTES", 2 << 20);
  rec->flush_num_rows = opts->flush_num_rows > 0 ? opts->flush_num_rows : env_i64("RERUN_FLUSH_NUM_ROWS", INT64_MAX);
  rec->max_rows_if_unsorted = env_i64("RERUN_CHUNK_MAX_ROWS_IF_UNSORTED", 8192);
  if (rec->max_rows_if_unsorted <= 0) rec->max_rows_if_unsorted = 8192;
  rec->max_in_flight = opts->max_bytes_in_flight > 0 ? opts->max_bytes_in_flight : 100 << 20;
  rec->policy = opts->backpressure;
  rec->block_timeout_ms = opts->block_timeout_ms > 0 ? opts->block_timeout_ms : 5000;
  rec->buffered_keep = true;
  pthread_mutex_init(&rec->mu, NULL);
  pthread_mutex_init(&rec->sink_mu, NULL);
  rr__init_conds(rec);

  pthread_once(&g_fork_once, install_atfork);
  pthread_mutex_lock(&g_mu);
  rec->serial = ++g_serial;
  rec->next_live = g_live;
  g_live = rec;
  pthread_mutex_unlock(&g_mu);

  if (rec->enabled) {
    pthread_mutex_lock(&rec->mu);
    int rc = rr__start_thread(rec);
    pthread_mutex_unlock(&rec->mu);
    if (rc < 0) { rr_recording_free(rec); return rr__err(err, rc, "cannot start the batcher thread"); }
    if (!opts->no_start_time) {
      int64_t now = rr__now_ns();
      rr_recording_set_start_time_nanos(rec, now, NULL);
    }
  }
  *out = rec;
  return RR_OK;
}

const char *rr_recording_id(const rr_recording *rec) { return rec ? rec->rec_id : NULL; }
const char *rr_recording_application_id(const rr_recording *rec) { return rec ? rec->app_id : NULL; }
bool rr_recording_is_enabled(const rr_recording *rec) { return rec && rec->enabled; }

const struct tl_value *rr__thread_timelines(const rr_recording *rec, size_t *n, uint64_t *version) {
  struct thread_time *tt = thread_time(rec, false);
  *n = tt ? tt->n : 0;
  if (version) *version = tt ? tt->version : 0;
  return tt ? tt->tl : NULL;
}

void rr_recording_free(rr_recording *rec) {
  if (!rec) return;
  if (__atomic_load_n(&g_global, __ATOMIC_ACQUIRE) == rec) rr_set_global_recording(NULL);
  if (t_default == rec) t_default = NULL;
  rr__recording_stop(rec); /* the batcher writes everything pending first */
  pthread_mutex_lock(&g_mu);
  for (rr_recording **p = &g_live; *p; p = &(*p)->next_live)
    if (*p == rec) { *p = rec->next_live; break; }
  pthread_mutex_unlock(&g_mu);
  rr__recording_release(rec);
}

/* fork(): hold every stream still (no row half-appended, no chunk
 * half-queued) while the process is copied. A sink write in flight is not
 * waited for (it may block on a pipe or socket for ever): the child then
 * re-creates the sink lock, and keeps the sink only if it is fork-safe. */
static void atfork_prepare(void) {
  pthread_mutex_lock(&g_mu);
  for (rr_recording *r = g_live; r; r = r->next_live) {
    r->fork_sink_locked = pthread_mutex_trylock(&r->sink_mu) == 0;
    pthread_mutex_lock(&r->mu);
  }
}
static void atfork_parent(void) {
  for (rr_recording *r = g_live; r; r = r->next_live) {
    if (r->sink) r->sink->shared = true; /* the child may write to it too */
    pthread_mutex_unlock(&r->mu);
    if (r->fork_sink_locked) pthread_mutex_unlock(&r->sink_mu);
  }
  pthread_mutex_unlock(&g_mu);
}
static void atfork_child(void) {
  for (rr_recording *r = g_live; r; r = r->next_live) {
    if (r->sink) r->sink->shared = true;
    rr__recording_after_fork_child(r);
    pthread_mutex_unlock(&r->mu);
    if (r->fork_sink_locked) {
      pthread_mutex_unlock(&r->sink_mu);
    } else {
      pthread_mutex_init(&r->sink_mu, NULL);
      if (r->sink && (!r->sink->fork_safe || r->sink->in_place)) {
        /* its state may be half-updated: leave the parent's copy alone */
        rr__warn("fork() during a %s sink write: the child's data stays buffered", r->sink->name);
        r->sink = NULL;
      }
    }
  }
  pthread_mutex_unlock(&g_mu);
}
