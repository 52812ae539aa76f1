/* The analytics handle: enable decision, the live session file, the sender
 * thread with its bounded waits, the event helpers and the functions behind
 * `rerun analytics`. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analytics/analytics_internal.h"
#include "rerun/analytics.h"
#include "rerun/version.h"

#ifndef RR_ANALYTICS_ENDPOINT_DEFAULT
#  define RR_ANALYTICS_ENDPOINT_DEFAULT ""
#endif
#ifndef RR_ANALYTICS_KEY_DEFAULT
#  define RR_ANALYTICS_KEY_DEFAULT ""
#endif

#define HTTP_TIMEOUT_MS 10000L

struct rr_analytics {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  bool enabled, first_run, can_send;
  char reason[400];
  struct rr_an_config cfg;
  char session[37];
  char live_name[64];
  char *live_path;
  int fd;
  uint64_t live_gen; /* bumped when the live file is compacted */
  int64_t next_event_id;
  char *endpoint, *key;
  int tick_ms, budget_ms;
  /* sender state, under mu */
  pthread_t thread;
  bool thread_started, stop, exited, failed;
  uint64_t flush_req, flush_done;
  int abort_flag; /* atomic */
};

/* ---- small helpers ------------------------------------------------------------- */
static const char *pick(const char *opt, const char *env, const char *dflt) {
  if (opt) return opt;
  const char *e = getenv(env);
  return e ? e : dflt;
}

static void deadline_in(struct timespec *ts, int64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  int64_t ns = ts->tv_nsec + (ms % 1000) * 1000000;
  ts->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
  ts->tv_nsec = (long)(ns % 1000000000);
}

static bool before(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec < deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec < deadline->tv_nsec);
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return RR_EIO;
    b += w;
    n -= (size_t)w;
  }
  return RR_OK;
}

static int read_fd_all(int fd, size_t max, rr_buf *b) {
  off_t off = 0;
  for (;;) {
    RR_TRY(rr_buf_reserve(b, 4096));
    ssize_t r = pread(fd, b->data + b->len, 4096, off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return RR_EIO;
    if (r == 0) return RR_OK;
    b->len += (size_t)r;
    off += r;
    if (b->len > max) return RR_ERANGE;
  }
}

/* ---- sending ---------------------------------------------------------------------- */
/* Sends the events in text as one batch. Returns RR_SEND_* (OK when there is nothing to send). */
static int send_text(rr_analytics *a, const char *text, size_t n, const char *session_id) {
  struct rr_event *evs = NULL;
  size_t nev = 0;
  int rc = rr__events_parse_lines(text, n, &evs, &nev);
  if (rc < 0 || nev == 0) {
    rr__events_free(evs, nev);
    return rc < 0 ? RR_SEND_FAIL : RR_SEND_OK;
  }
  rr_buf body = RR_BUF_INIT;
  rc = rr__batch_body(&body, a->key, a->cfg.id, session_id, evs, nev, -1);
  rr__events_free(evs, nev);
  int res = RR_SEND_FAIL;
  if (rc == RR_OK && rr_buf_append(&body, "", 1) == RR_OK) {
    long status = 0;
    res = rr__an_http_post(a->endpoint, (const char *)body.data, body.len - 1, HTTP_TIMEOUT_MS, &a->abort_flag,
                           &status);
    rr__log(RR_LOG_DEBUG, "analytics: sent %zu events of session %s: %s (HTTP %ld)", nev, session_id,
            res == RR_SEND_OK ? "ok" : "failed", status);
  }
  rr_buf_free(&body);
  return res;
}

/* Files left by earlier (or other, finished) processes. */
static int send_catchup(rr_analytics *a, bool *sent_any) {
  struct rr_an_pending *v;
  size_t n;
  if (rr__an_list_pending(a->cfg.data_dir, a->live_name, &v, &n) < 0) return RR_SEND_OK;
  int res = RR_SEND_OK;
  for (size_t i = 0; i < n && res == RR_SEND_OK; i++) {
    if (__atomic_load_n(&a->abort_flag, __ATOMIC_ACQUIRE)) { res = RR_SEND_ABORTED; break; }
    int fd = open(v[i].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) { close(fd); continue; } /* a live process's file */
    rr_buf b = RR_BUF_INIT;
    int rc = read_fd_all(fd, RR_AN_MAX_PENDING, &b);
    if (rc == RR_OK) {
      res = send_text(a, (const char *)b.data, b.len, v[i].session_id);
      if (res == RR_SEND_OK) {
        unlink(v[i].path);
        if (b.len) *sent_any = true;
      }
    } else if (rc == RR_ERANGE) {
      unlink(v[i].path); /* beyond the bound: dropped */
    }
    rr_buf_free(&b);
    close(fd);
  }
  rr__an_pending_free(v, n);
  return res;
}

/* This process's own file: send what is there, then cut the sent bytes off. Called with mu held. */
static int send_live(rr_analytics *a, bool *sent_any) {
  if (a->fd < 0) return RR_SEND_OK;
  rr_buf b = RR_BUF_INIT;
  if (read_fd_all(a->fd, RR_AN_MAX_LIVE * 2, &b) < 0 || b.len == 0) {
    rr_buf_free(&b);
    return RR_SEND_OK;
  }
  uint64_t gen = a->live_gen;
  size_t sent_len = b.len;
  pthread_mutex_unlock(&a->mu);
  int res = send_text(a, (const char *)b.data, b.len, a->session);
  pthread_mutex_lock(&a->mu);
  if (res == RR_SEND_OK && gen == a->live_gen) {
    rr_buf rest = RR_BUF_INIT;
    if (read_fd_all(a->fd, RR_AN_MAX_LIVE * 2, &rest) == RR_OK && rest.len >= sent_len &&
        ftruncate(a->fd, 0) == 0)
      (void)write_all(a->fd, rest.data + sent_len, rest.len - sent_len);
    rr_buf_free(&rest);
    *sent_any = true;
  }
  rr_buf_free(&b);
  return res;
}

static void *sender_main(void *arg) {
  rr_analytics *a = arg;
  bool caught_up = false;
  pthread_mutex_lock(&a->mu);
  for (;;) {
    if (caught_up) {
      struct timespec dl;
      deadline_in(&dl, a->tick_ms);
      while (!a->stop && a->flush_req == a->flush_done && before(&dl))
        pthread_cond_timedwait(&a->cv, &a->mu, &dl);
    }
    bool last = a->stop;
    uint64_t req = a->flush_req;
    if (__atomic_load_n(&a->abort_flag, __ATOMIC_ACQUIRE)) break;
    if (!a->failed) {
      bool sent_any = false;
      int res = RR_SEND_OK;
      if (!caught_up) {
        pthread_mutex_unlock(&a->mu);
        res = send_catchup(a, &sent_any);
        pthread_mutex_lock(&a->mu);
        caught_up = true;
      }
      if (res == RR_SEND_OK) res = send_live(a, &sent_any);
      if (res != RR_SEND_OK && !a->failed) { /* (close may have recorded the abort already) */
        /* Keep everything on disk, stop trying in this process, back off across runs. */
        a->failed = true;
        snprintf(a->reason, sizeof a->reason, "the last send to %s failed; retrying in a later run",
                 a->endpoint);
        pthread_mutex_unlock(&a->mu);
        rr__an_retry_record(a->cfg.data_dir, false, rr__now_ns() / 1000000000);
        rr__an_prune(a->cfg.data_dir, a->live_name, RR_AN_MAX_PENDING);
        pthread_mutex_lock(&a->mu);
      } else if (res == RR_SEND_OK && sent_any) {
        pthread_mutex_unlock(&a->mu);
        rr__an_retry_record(a->cfg.data_dir, true, 0);
        pthread_mutex_lock(&a->mu);
      }
    }
    caught_up = true;
    a->flush_done = req;
    pthread_cond_broadcast(&a->cv);
    if (last) break;
  }
  a->exited = true;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

/* ---- open / close ---------------------------------------------------------------- */
static void notice(const rr_analytics_opts *o, const char *fmt, const char *arg, const char *why) {
  if (o && o->quiet) return;
  fprintf(stderr, fmt, arg, why);
}

int rr_analytics_open(rr_analytics **out, const rr_analytics_opts *opts, rr_error *err) {
  if (!out) return rr__err(err, RR_EINVAL, "out is NULL");
  *out = NULL;
  rr_analytics *a = rr__calloc(1, sizeof *a);
  if (!a) return rr__err(err, RR_ENOMEM, "out of memory");
  a->fd = -1;
  a->next_event_id = 1;
  pthread_mutex_init(&a->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->cv, &ca);
  pthread_condattr_destroy(&ca);
  a->tick_ms = opts && opts->tick_ms > 0 ? opts->tick_ms : 2000;
  a->budget_ms = opts && opts->close_budget_ms > 0 && opts->close_budget_ms <= 1000 ? opts->close_budget_ms : 1000;
  *out = a;

  const char *env = rr__an_env_disabled();
  if (env) { /* nothing is read, written or sent */
    snprintf(a->reason, sizeof a->reason, "%s", env);
    return RR_OK;
  }
  char *cpath = NULL, *dpath = NULL;
  rr_error e = {0};
  if (rr__an_default_paths(&cpath, &dpath, &e) < 0) {
    snprintf(a->reason, sizeof a->reason, "%s", e.msg);
    return RR_OK;
  }
  int status;
  int rc = rr__an_config_load(cpath, &a->cfg, &status, &e);
  if (rc == RR_OK && status != RR_CFG_LOADED) {
    struct rr_an_config salvage = a->cfg;
    rc = rr__an_config_new(&a->cfg, cpath, dpath);
    if (rc == RR_OK && status == RR_CFG_MISSING) {
      a->first_run = true;
      notice(opts, "%s%s", rr_analytics_notice_text(), "");
    } else if (rc == RR_OK) {
      a->cfg.enabled = salvage.enabled;
      if (salvage.id) { rr__free(a->cfg.id); a->cfg.id = salvage.id; salvage.id = NULL; }
      char msg[600];
      snprintf(msg, sizeof msg,
               "[rerun] warning: the analytics config file %s is damaged (%s). It has been replaced by a new one "
               "with analytics %s.",
               cpath, e.msg, a->cfg.enabled ? "enabled (as the damaged file said)" : "disabled");
      notice(opts, "%s%s\n", msg,
             a->cfg.enabled ? "" : " Run `rerun analytics enable` to turn it back on.");
    }
    rr__an_config_free(&salvage);
    if (rc == RR_OK && rr__an_config_save(&a->cfg, &e) < 0) {
      a->cfg.enabled = false;
      snprintf(a->reason, sizeof a->reason, "cannot save the config: %s", e.msg);
    }
  }
  rr__free(cpath);
  rr__free(dpath);
  if (rc < 0) {
    rr_analytics_close(a);
    *out = NULL;
    return rr__err(err, rc, "out of memory");
  }
  if (!a->cfg.enabled) {
    if (!a->reason[0]) snprintf(a->reason, sizeof a->reason, "disabled in %s", a->cfg.config_path);
    return RR_OK;
  }
  a->enabled = true;
  rr__uuid4(a->session, true);
  snprintf(a->live_name, sizeof a->live_name, "%s" RR_AN_SUFFIX, a->session);
  size_t pl = strlen(a->cfg.data_dir) + sizeof a->live_name + 2;
  a->live_path = rr__malloc(pl);
  if (!a->live_path) {
    rr_analytics_close(a);
    *out = NULL;
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  snprintf(a->live_path, pl, "%s/%s", a->cfg.data_dir, a->live_name);
  rr__an_prune(a->cfg.data_dir, a->live_name, RR_AN_MAX_PENDING);

  /* May this process send? */
  a->endpoint = rr__strdup(pick(opts ? opts->endpoint : NULL, "RERUN_ANALYTICS_ENDPOINT", RR_ANALYTICS_ENDPOINT_DEFAULT));
  a->key = rr__strdup(pick(opts ? opts->api_key : NULL, "RERUN_ANALYTICS_KEY", RR_ANALYTICS_KEY_DEFAULT));
  if (!a->endpoint || !a->key) {
    rr_analytics_close(a);
    *out = NULL;
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  struct rr_an_retry r;
  rr__an_retry_load(a->cfg.data_dir, &r);
  int64_t now_s = rr__now_ns() / 1000000000;
  if (!a->key[0]) snprintf(a->reason, sizeof a->reason, "no project key in this build: events are kept on disk, never sent");
  else if (!a->endpoint[0]) snprintf(a->reason, sizeof a->reason, "no endpoint: events are kept on disk, never sent");
  else if (a->first_run) snprintf(a->reason, sizeof a->reason, "first run: nothing is sent before the next run");
  else if (r.failures > 0 && now_s < r.next_attempt_s)
    snprintf(a->reason, sizeof a->reason, "earlier sends failed %lld time(s): next attempt in %lld s",
             (long long)r.failures, (long long)(r.next_attempt_s - now_s));
  else a->can_send = true;
  if (a->can_send && rr__an_http_init() < 0) {
    a->can_send = false;
    snprintf(a->reason, sizeof a->reason, "could not initialise libcurl");
  }
  if (a->can_send) {
    if (pthread_create(&a->thread, NULL, sender_main, a) == 0) a->thread_started = true;
    else {
      a->can_send = false;
      snprintf(a->reason, sizeof a->reason, "could not start the sender thread");
    }
  }
  return RR_OK;
}

void rr_analytics_close(rr_analytics *a) {
  if (!a) return;
  if (a->thread_started) {
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    struct timespec dl;
    deadline_in(&dl, a->budget_ms > 200 ? a->budget_ms - 200 : a->budget_ms / 2);
    while (!a->exited && before(&dl)) pthread_cond_timedwait(&a->cv, &a->mu, &dl);
    if (!a->exited) {
      /* A hung or slow endpoint: give up now, the events stay on disk. */
      __atomic_store_n(&a->abort_flag, 1, __ATOMIC_RELEASE);
      if (!a->failed) {
        a->failed = true;
        pthread_mutex_unlock(&a->mu);
        rr__an_retry_record(a->cfg.data_dir, false, rr__now_ns() / 1000000000);
        pthread_mutex_lock(&a->mu);
      }
    }
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
  }
  if (a->fd >= 0) {
    struct stat st; /* everything sent: leave no empty file behind */
    if (fstat(a->fd, &st) == 0 && st.st_size == 0) unlink(a->live_path);
    close(a->fd); /* also releases the flock */
  }
  rr__an_config_free(&a->cfg);
  rr__free(a->live_path);
  rr__free(a->endpoint);
  rr__free(a->key);
  pthread_cond_destroy(&a->cv);
  pthread_mutex_destroy(&a->mu);
  rr__free(a);
}

int rr_analytics_flush(rr_analytics *a, int timeout_ms) {
  if (!a) return RR_EINVAL;
  pthread_mutex_lock(&a->mu);
  if (!a->thread_started || a->failed || a->exited) {
    pthread_mutex_unlock(&a->mu);
    return RR_EDISABLED;
  }
  uint64_t want = ++a->flush_req;
  pthread_cond_broadcast(&a->cv);
  int ms = timeout_ms < 0 || timeout_ms > a->budget_ms ? a->budget_ms : timeout_ms;
  struct timespec dl;
  deadline_in(&dl, ms);
  while (a->flush_done < want && !a->exited && before(&dl)) pthread_cond_timedwait(&a->cv, &a->mu, &dl);
  int rc = a->flush_done >= want ? RR_OK : RR_ETIMEDOUT;
  pthread_mutex_unlock(&a->mu);
  return rc;
}

int rr_analytics_is_enabled(const rr_analytics *a) { return a && a->enabled; }
int rr_analytics_is_first_run(const rr_analytics *a) { return a && a->first_run; }
const char *rr_analytics_session_id(const rr_analytics *a) { return a && a->enabled ? a->session : ""; }
const char *rr_analytics_disabled_reason(const rr_analytics *a) {
  if (!a) return "no handle";
  return a->reason;
}

/* ---- recording -------------------------------------------------------------------- */
/* Drops the older half of the live file (the bound of one process's file). mu held. */
static void compact_live(rr_analytics *a) {
  rr_buf b = RR_BUF_INIT;
  if (read_fd_all(a->fd, RR_AN_MAX_LIVE * 2, &b) == RR_OK) {
    size_t cut = b.len / 2;
    const uint8_t *nl = b.len ? memchr(b.data + cut, '\n', b.len - cut) : NULL;
    cut = nl ? (size_t)(nl - b.data) + 1 : b.len;
    if (ftruncate(a->fd, 0) == 0) (void)write_all(a->fd, b.data + cut, b.len - cut);
    a->live_gen++;
  }
  rr_buf_free(&b);
}

/* Takes ownership of e. */
static int record(rr_analytics *a, struct rr_event *e) {
  if (!a) { rr__event_free(e); return RR_EINVAL; }
  if (!a->enabled) { rr__event_free(e); return RR_EDISABLED; }
  pthread_mutex_lock(&a->mu);
  int rc = RR_OK;
  if (a->fd < 0) {
    if (rr__mkdirs(a->cfg.data_dir) < 0) rc = RR_EIO;
    else {
      a->fd = open(a->live_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (a->fd < 0) rc = RR_EIO;
      else (void)flock(a->fd, LOCK_EX | LOCK_NB);
    }
  }
  if (rc == RR_OK && e->kind == RR_KIND_APPEND) rc = rr__props_set_int(&e->props, "event_id", a->next_event_id);
  rr_buf line = RR_BUF_INIT;
  if (rc == RR_OK) rc = rr__event_to_line(&line, e);
  if (rc == RR_OK) {
    struct stat st;
    if (fstat(a->fd, &st) == 0 && (uint64_t)st.st_size + line.len > RR_AN_MAX_LIVE) compact_live(a);
    rc = write_all(a->fd, line.data, line.len);
    if (rc == RR_OK && e->kind == RR_KIND_APPEND) a->next_event_id++;
  }
  pthread_mutex_unlock(&a->mu);
  rr_buf_free(&line);
  rr__event_free(e);
  return rc;
}

static int new_event(struct rr_event *e, int kind, const char *name) {
  return rr__event_init(e, kind, name, rr__now_ns());
}

static bool in_list(const char *v, const char *const *list) {
  if (!v) return false;
  for (; *list; list++)
    if (!strcmp(v, *list)) return true;
  return false;
}

static const char *allowed(const char *v, const char *const *list, const char *dflt) {
  if (!v) return dflt;
  return in_list(v, list) ? v : "other";
}

/* A version-like string: [0-9A-Za-z.+-]{1,40}, else NULL. */
static const char *version_like(const char *v) {
  if (!v) return NULL;
  size_t n = strlen(v);
  if (n == 0 || n > 40) return NULL;
  for (size_t i = 0; i < n; i++) {
    char c = v[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' ||
          c == '-'))
      return NULL;
  }
  return v;
}

static const char *const COMMANDS[] = {"viewer", "analytics", "auth", "man", "download", "reset", "server",
                                       "rrd", "mcap", "convert", "query", "serve", "log", "print", "compare",
                                       "verify", "route", "merge", "compact", "stats", "filter", "version", NULL};
static const char *const SUBCOMMANDS[] = {"details", "clear", "email", "enable", "disable", "config", "login",
                                          "logout", "token", "generate-token", NULL};
static const char *const FLAGS[] = {"web_viewer", "serve_web", "serve_grpc", "newest_first", "profile",
                                    "expect_data_soon", "hide_welcome_screen", "detach_process", "test_receive",
                                    "connect", "save", "screenshot_to", "persist_state_disabled", NULL};

int rr_analytics_cli_command_invoked(rr_analytics *a, const char *command, const char *subcommand,
                                     const char *const *flags, size_t n_flags) {
  if (!command) return RR_EINVAL;
  struct rr_event e;
  int rc = new_event(&e, RR_KIND_APPEND, "cli_command_invoked");
  if (rc == RR_OK) rc = rr__props_set_str(&e.props, "command", allowed(command, COMMANDS, "other"));
  if (rc == RR_OK && subcommand) rc = rr__props_set_str(&e.props, "subcommand", allowed(subcommand, SUBCOMMANDS, NULL));
  for (size_t i = 0; rc == RR_OK && i < n_flags; i++)
    if (in_list(flags[i], FLAGS)) rc = rr__props_set_bool(&e.props, flags[i], true);
  if (rc < 0) { rr__event_free(&e); return rc; }
  return record(a, &e);
}

static const char *target_triple(void) {
#if defined(__x86_64__)
#  define RR__ARCH "x86_64"
#elif defined(__aarch64__)
#  define RR__ARCH "aarch64"
#elif defined(__i386__)
#  define RR__ARCH "i686"
#elif defined(__arm__)
#  define RR__ARCH "arm"
#elif defined(__riscv)
#  define RR__ARCH "riscv64gc"
#else
#  define RR__ARCH "unknown"
#endif
#if defined(__APPLE__)
  return RR__ARCH "-apple-darwin";
#elif defined(__linux__) && defined(__GLIBC__)
  return RR__ARCH "-unknown-linux-gnu";
#elif defined(__linux__)
  return RR__ARCH "-unknown-linux-musl";
#else
  return RR__ARCH "-unknown-unknown";
#endif
}

static int build_info(struct rr_props *p) {
  int rc = rr__props_set_str(p, "features", "rerun-c");
#ifdef RR_GIT_HASH
  if (rc == RR_OK) rc = rr__props_set_str(p, "git_hash", RR_GIT_HASH);
#else
  if (rc == RR_OK) rc = rr__props_set_str(p, "git_hash", "v" RR_VERSION_STRING);
#endif
  if (rc == RR_OK) rc = rr__props_set_str(p, "rerun_version", RR_VERSION_STRING);
  if (rc == RR_OK) rc = rr__props_set_str(p, "rust_version", ""); /* no Rust compiler involved */
  if (rc == RR_OK) rc = rr__props_set_str(p, "llvm_version", "");
  if (rc == RR_OK) rc = rr__props_set_str(p, "target", target_triple());
  if (rc == RR_OK) rc = rr__props_set_str(p, "build_date", "");
#ifdef NDEBUG
  if (rc == RR_OK) rc = rr__props_set_bool(p, "debug", false);
#else
  if (rc == RR_OK) rc = rr__props_set_bool(p, "debug", true);
#endif
  if (rc == RR_OK) rc = rr__props_set_bool(p, "rerun_workspace", false);
  return rc;
}

int rr_analytics_identify(rr_analytics *a, const char *python_version) {
  if (!a) return RR_EINVAL;
  if (!a->enabled) return RR_EDISABLED;
  struct rr_event e;
  int rc = new_event(&e, RR_KIND_IDENTIFY, "$identify");
  if (rc == RR_OK) rc = build_info(&e.props);
  if (rc == RR_OK && version_like(python_version)) rc = rr__props_set_str(&e.props, "python_version", python_version);
  for (size_t i = 0; rc == RR_OK && i < a->cfg.metadata.n; i++) rc = rr__props_set_copy(&e.props, &a->cfg.metadata.v[i]);
  if (rc < 0) { rr__event_free(&e); return rc; }
  return record(a, &e);
}

static const char *const APP_ENVS[] = {"c_sdk", "python_sdk", "rust_sdk", "rerun_cli", "web_viewer", "custom",
                                       "test", NULL};
static const char *const BACKENDS[] = {"vulkan", "metal", "dx12", "gl", "webgpu", "noop", NULL};
static const char *const TIERS[] = {"limited", "full_webgpu_support", NULL};

static bool file_contains(const char *path, const char *a, const char *b) {
  char *text = NULL;
  size_t n;
  if (rr__read_file(path, 1 << 16, &text, &n, NULL) < 0) return false;
  for (size_t i = 0; i < n; i++)
    if (text[i] >= 'A' && text[i] <= 'Z') text[i] = (char)(text[i] - 'A' + 'a');
  bool found = strstr(text, a) || (b && strstr(text, b));
  rr__free(text);
  return found;
}

int rr_analytics_viewer_started(rr_analytics *a, const rr_analytics_viewer_info *info) {
  if (!a || !info) return RR_EINVAL;
  if (!a->enabled) return RR_EDISABLED;
  bool docker = false, wsl = false;
#if defined(__linux__)
  docker = access("/.dockerenv", F_OK) == 0 || file_contains("/proc/1/cgroup", "docker", NULL) ||
           file_contains("/proc/self/cgroup", "docker", NULL);
  wsl = file_contains("/proc/sys/kernel/osrelease", "microsoft", "wsl");
#endif
  struct rr_event e;
  int rc = new_event(&e, RR_KIND_APPEND, "viewer_started");
  if (rc == RR_OK) rc = rr__props_set_str(&e.props, "app_env", allowed(info->app_env, APP_ENVS, "c_sdk"));
  if (rc == RR_OK) rc = rr__props_set_bool(&e.props, "is_docker", docker);
  if (rc == RR_OK) rc = rr__props_set_bool(&e.props, "is_wsl", wsl);
  if (rc == RR_OK) rc = rr__props_set_str(&e.props, "graphics_adapter_backend", allowed(info->graphics_backend, BACKENDS, "noop"));
  if (rc == RR_OK) rc = rr__props_set_str(&e.props, "re_renderer_device_tier", allowed(info->device_tier, TIERS, "limited"));
  /* The original's values are f32: widen the same way. Non-finite values are left out. */
  if (rc == RR_OK) (void)rr__props_set_float(&e.props, "pixels_per_point", (double)(float)info->pixels_per_point);
  if (rc == RR_OK && info->native_pixels_per_point > 0)
    (void)rr__props_set_float(&e.props, "native_pixels_per_point", (double)(float)info->native_pixels_per_point);
  if (rc == RR_OK) (void)rr__props_set_float(&e.props, "zoom_factor", (double)(float)info->zoom_factor);
  if (rc < 0) { rr__event_free(&e); return rc; }
  return record(a, &e);
}

static const char *const STORE_SOURCES[] = {"unknown", "c_sdk", "python_sdk", "rust_sdk", "file_cli", "file_uri",
                                            "file_drag_and_drop", "file_dialog", "file_sdk", "viewer", NULL};
static const char *const DATA_SOURCES[] = {"file", "http", "grpc", "web_event", "javascript", "sdk", "stdin", NULL};

int rr_analytics_open_recording(rr_analytics *a, const rr_analytics_recording_info *info) {
  if (!a || !info) return RR_EINVAL;
  if (!a->enabled) return RR_EDISABLED;
  struct rr_event e;
  int rc = new_event(&e, RR_KIND_APPEND, "open_recording");
  if (rc == RR_OK) rc = rr__props_set_str(&e.props, "app_env", allowed(info->app_env, APP_ENVS, "c_sdk"));
  if (rc == RR_OK && info->application_id) {
    bool example = !strncmp(info->application_id, "rerun_example", 13);
    char h[65];
    const char *rid = info->recording_id ? info->recording_id : "";
    if (example) {
      rc = rr__props_set_str(&e.props, "application_id", info->application_id);
      if (rc == RR_OK) rc = rr__props_set_str(&e.props, "recording_id", rid);
    } else {
      rc = rr__an_hash_bytes(info->application_id, strlen(info->application_id), h);
      if (rc == RR_OK) rc = rr__props_set_str(&e.props, "application_id", h);
      if (rc == RR_OK) rc = rr__an_hash_bytes(rid, strlen(rid), h);
      if (rc == RR_OK) rc = rr__props_set_str(&e.props, "recording_id", h);
    }
    if (rc == RR_OK) rc = rr__props_set_str(&e.props, "store_source", allowed(info->store_source, STORE_SOURCES, "unknown"));
    const char *ver = version_like(info->store_version);
    if (rc == RR_OK) rc = rr__props_set_str(&e.props, "store_version", ver ? ver : "undefined");
    if (rc == RR_OK && version_like(info->python_version))
      rc = rr__props_set_str(&e.props, "python_version", info->python_version);
    if (rc == RR_OK) rc = rr__props_set_bool(&e.props, "app_id_starts_with_rerun_example", example);
  }
  if (rc == RR_OK && info->data_source)
    rc = rr__props_set_str(&e.props, "data_source", allowed(info->data_source, DATA_SOURCES, NULL));
  if (rc < 0) { rr__event_free(&e); return rc; }
  return record(a, &e);
}

static const char *const SOURCE_TYPES[] = {"http_url", "file_path", "file_contents", "stdin",
                                           "redap_dataset_segment", "redap_proxy", NULL};
static const char *const FILE_SOURCES[] = {"cli", "uri", "drag_and_drop", "file_dialog", "sdk", NULL};
static const char *const EXTENSIONS[] = {"rrd", "rbl", "mcap", "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif",
                                         "tiff", "mp4", "mkv", "webm", "mov", "glb", "gltf", "obj", "stl", "ply",
                                         "dae", "urdf", "las", "laz", "pcd", "npy", "txt", "md", "csv", "json",
                                         "parquet", "arrow", "ipc", "feather", NULL};

int rr_analytics_load_data_source(rr_analytics *a, const char *source_type, const char *path_or_url,
                                  const char *file_source, int started_successfully) {
  if (!a || !source_type) return RR_EINVAL;
  if (!a->enabled) return RR_EDISABLED;
  char ext[32] = "";
  if (path_or_url) {
    size_t n = strcspn(path_or_url, "?#"); /* a URL's path ends at its query */
    const char *end = path_or_url + n, *p = end;
    while (p > path_or_url && p[-1] != '.' && p[-1] != '/' && p[-1] != '\\') p--;
    if (p > path_or_url && p[-1] == '.' && (size_t)(end - p) < sizeof ext) {
      size_t k = 0;
      for (; p < end; p++) ext[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
      ext[k] = 0;
    }
  }
  struct rr_event e;
  int rc = new_event(&e, RR_KIND_APPEND, "load_data_source");
  if (rc == RR_OK) rc = rr__props_set_str(&e.props, "source_type", allowed(source_type, SOURCE_TYPES, NULL));
  if (rc == RR_OK && ext[0]) rc = rr__props_set_str(&e.props, "file_extension", in_list(ext, EXTENSIONS) ? ext : "other");
  if (rc == RR_OK && file_source) rc = rr__props_set_str(&e.props, "file_source", allowed(file_source, FILE_SOURCES, NULL));
  if (rc == RR_OK) rc = rr__props_set_bool(&e.props, "started_successfully", started_successfully != 0);
  if (rc < 0) { rr__event_free(&e); return rc; }
  return record(a, &e);
}

int rr_analytics_ui_event(rr_analytics *a, const char *name) {
  static const char *const UI[] = {"settings-opened", "help-button-clicked", "serve_wasm", NULL};
  if (!a || !in_list(name, UI)) return RR_EINVAL;
  if (!a->enabled) return RR_EDISABLED;
  struct rr_event e;
  int rc = new_event(&e, RR_KIND_APPEND, name);
  if (rc < 0) { rr__event_free(&e); return rc; }
  return record(a, &e);
}

int rr_analytics_hash(const char *s, size_t n, char out[65]) {
  if (!out || (!s && n)) return RR_EINVAL;
  return rr__an_hash_bytes(s ? s : "", n, out);
}

/* ---- configuration functions -------------------------------------------------------- */
void rr_analytics_free(void *p) { rr__free(p); }
const char *rr_analytics_env_disabled_reason(void) { return rr__an_env_disabled(); }

int rr_analytics_config_text(char **out, rr_error *err) {
  if (!out) return rr__err(err, RR_EINVAL, "out is NULL");
  *out = NULL;
  char *cpath, *dpath;
  RR_TRY(rr__an_default_paths(&cpath, &dpath, err));
  struct rr_an_config cfg;
  int status;
  rr_error le = {0};
  int rc = rr__an_config_load(cpath, &cfg, &status, &le);
  rr_buf b = RR_BUF_INIT;
  if (rc == RR_OK && status == RR_CFG_DAMAGED) rc = rr__err(err, RR_ECORRUPT, "%s is damaged: %s", cpath, le.msg);
  else if (rc == RR_OK && status == RR_CFG_MISSING) rc = rr__json_put_raw(&b, "null");
  else if (rc == RR_OK) rc = rr__an_config_json(&b, &cfg, 2);
  if (rc == RR_OK) rc = rr_buf_append(&b, "", 1);
  if (rc == RR_OK) *out = (char *)rr_buf_steal(&b, NULL);
  rr_buf_free(&b);
  rr__an_config_free(&cfg);
  rr__free(cpath);
  rr__free(dpath);
  return rc;
}

static int modify(int (*fn)(struct rr_an_config *, const void *), const void *arg, rr_error *err) {
  struct rr_an_config cfg;
  RR_TRY(rr__an_config_load_or_default(&cfg, NULL, err));
  int rc = fn(&cfg, arg);
  if (rc == RR_OK) rc = rr__an_config_save(&cfg, err);
  else rr__err(err, rc, "cannot update the config");
  rr__an_config_free(&cfg);
  return rc;
}

static int do_enable(struct rr_an_config *c, const void *arg) {
  c->enabled = *(const int *)arg != 0;
  return RR_OK;
}
static int do_email(struct rr_an_config *c, const void *arg) { return rr__props_set_str(&c->metadata, "email", arg); }

int rr_analytics_set_enabled(int enabled, rr_error *err) { return modify(do_enable, &enabled, err); }

int rr_analytics_set_email(const char *email, rr_error *err) {
  if (!email) return rr__err(err, RR_EINVAL, "no e-mail address");
  size_t n = strlen(email);
  const char *at = strchr(email, '@');
  bool ok = n >= 3 && n <= 254 && at && at != email && at[1] && !strchr(at + 1, '@') && rr__utf8_valid(email, n);
  for (size_t i = 0; ok && i < n; i++)
    if ((unsigned char)email[i] <= ' ' || email[i] == 0x7f) ok = false;
  if (!ok) return rr__err(err, RR_EINVAL, "'%s' is not an e-mail address", email);
  return modify(do_email, email, err);
}

int rr_analytics_locations(char **config_file, char **data_dir, rr_error *err) {
  if (!config_file || !data_dir) return rr__err(err, RR_EINVAL, "NULL argument");
  struct rr_an_config cfg;
  RR_TRY(rr__an_config_load_or_default(&cfg, NULL, err));
  *config_file = cfg.config_path;
  *data_dir = cfg.data_dir;
  cfg.config_path = cfg.data_dir = NULL;
  rr__an_config_free(&cfg);
  return RR_OK;
}

int rr_analytics_clear(rr_error *err) {
  struct rr_an_config cfg;
  RR_TRY(rr__an_config_load_or_default(&cfg, NULL, err));
  int rc = rr__rm_rf(cfg.data_dir);
  if (rc < 0) rc = rr__err(err, rc, "cannot delete %s", cfg.data_dir);
  if (rc == RR_OK) {
    char id[37];
    rr__uuid4(id, false);
    char *nid = rr__strdup(id);
    if (!nid) rc = rr__err(err, RR_ENOMEM, "out of memory");
    else {
      rr__free(cfg.id);
      cfg.id = nid;
      rr__props_free(&cfg.metadata);
      rc = rr__an_config_save(&cfg, err);
    }
  }
  rr__an_config_free(&cfg);
  return rc;
}

int rr_analytics_pending_text(char **out, rr_error *err) {
  if (!out) return rr__err(err, RR_EINVAL, "out is NULL");
  *out = NULL;
  struct rr_an_config cfg;
  bool existed;
  RR_TRY(rr__an_config_load_or_default(&cfg, &existed, err));
  const char *key = pick(NULL, "RERUN_ANALYTICS_KEY", RR_ANALYTICS_KEY_DEFAULT);
  const char *endpoint = pick(NULL, "RERUN_ANALYTICS_ENDPOINT", RR_ANALYTICS_ENDPOINT_DEFAULT);
  rr_buf b = RR_BUF_INIT;
  char line[1024];
  struct rr_an_pending *v = NULL;
  size_t n = 0;
  int rc = rr__an_list_pending(cfg.data_dir, NULL, &v, &n);
  if (rc < 0) rc = rr__err(err, rc, "cannot list %s", cfg.data_dir);
  if (rc == RR_OK) {
    snprintf(line, sizeof line, "Pending events: %zu file(s) in %s\nDestination: %s\n", n, cfg.data_dir,
             !key[0] ? "none: this build has no project key, events stay on disk and are never sent"
             : !endpoint[0] ? "none: no endpoint configured, events stay on disk and are never sent"
                            : endpoint);
    rc = rr__json_put_raw(&b, line);
  }
  for (size_t i = 0; rc == RR_OK && i < n; i++) {
    char *text = NULL;
    size_t len = 0;
    if (rr__read_file(v[i].path, RR_AN_MAX_PENDING, &text, &len, NULL) < 0) continue;
    struct rr_event *evs = NULL;
    size_t nev = 0;
    rc = rr__events_parse_lines(text, len, &evs, &nev);
    rr__free(text);
    if (rc == RR_OK) {
      snprintf(line, sizeof line, "\n--- %s: %zu event(s); request body:\n", v[i].path, nev);
      rc = rr__json_put_raw(&b, line);
    }
    if (rc == RR_OK) rc = rr__batch_body(&b, key, cfg.id, v[i].session_id, evs, nev, 2);
    if (rc == RR_OK) rc = rr__json_put_raw(&b, "\n");
    rr__events_free(evs, nev);
  }
  if (rc == RR_OK) rc = rr_buf_append(&b, "", 1);
  if (rc == RR_OK) *out = (char *)rr_buf_steal(&b, NULL);
  rr_buf_free(&b);
  rr__an_pending_free(v, n);
  rr__an_config_free(&cfg);
  return rc;
}

const char *rr_analytics_notice_text(void) {
  return "\n"
         "Welcome to Rerun (rerun-c)!\n"
         "\n"
         "To help improve it, this build records anonymous usage events: which high-level\n"
         "features are used (viewer started, data source connected, CLI command run, ...),\n"
         "with build facts and a random id. It never records the data you log (points,\n"
         "images, text, entity paths), file paths, user names or IP addresses.\n"
         "\n"
         "Nothing has been sent: this first session's events stay on disk until the next\n"
         "run, and are only ever sent by builds that have a project key.\n"
         "Opt out now with `rerun analytics disable` (or set DO_NOT_TRACK=1).\n"
         "Run `rerun analytics details` to see what is collected and every pending event.\n"
         "\n";
}

const char *rr_analytics_details_text(void) {
  return "Anonymous usage analytics in rerun-c\n"
         "\n"
         "Opting out:\n"
         "  rerun analytics disable        (kept in the config file, shared with Rerun)\n"
         "  DO_NOT_TRACK=1, CI=<any>, RERUN_ANALYTICS=off   (environment, per process)\n"
         "\n"
         "What is collected (see docs/analytics.md for every event and property):\n"
         "  - high-level events: cli_command_invoked, $identify, viewer_started,\n"
         "    open_recording, load_data_source (\"data source connected\"), a few UI events;\n"
         "  - build facts (version, target platform, debug build, ...);\n"
         "  - a persistent random id that links sessions (new one: rerun analytics clear)\n"
         "    and a random id per process;\n"
         "  - application_id and recording_id as salted SHA-256 hashes (in clear only\n"
         "    for the rerun_example_* demos);\n"
         "  - only the names of the options given on the command line, never values.\n"
         "\n"
         "What is not collected: the data you log (entity paths, values, images, text),\n"
         "file paths and names, URLs, user names, IP addresses. An e-mail address is\n"
         "only attached if you set one with `rerun analytics email` (meant for the\n"
         "Rerun team; please don't).\n"
         "\n"
         "Events are written to the data directory below before anything is sent, so you\n"
         "can audit them; `rerun analytics config` shows where. They are sent only by a\n"
         "build configured with a project key, and kept (up to 4 MiB, oldest dropped)\n"
         "when a send fails.\n";
}
