/* This file is private to rerun-c.
 *
 * The analytics layer (see docs/analytics.md and /work/shared/spec/analytics.md):
 *   analytics_json.c    a small JSON DOM reader and writing helpers
 *   analytics_event.c   events, tagged properties, hashing, disk lines, wire payloads
 *   analytics_config.c  locations, analytics.json load/save, env switches
 *   analytics_queue.c   the pending-event directory: session files, bound, retry state
 *   analytics_sender.c  the background sender thread (libcurl, abortable)
 *   analytics.c         the public handle and the CLI support functions
 * Invariants: nothing is read or written on disk while analytics is disabled by
 * the environment; events reach disk before any network use; a caller never
 * waits on the network for longer than the close budget (<= 1 s). */
#ifndef RR_ANALYTICS_INTERNAL_H
#define RR_ANALYTICS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rr_common.h"

/* ---- JSON ------------------------------------------------------------------ */
enum { RR_JNULL, RR_JBOOL, RR_JNUM, RR_JSTR, RR_JARR, RR_JOBJ };

/* A parsed JSON value. Objects keep key order; duplicate keys keep the last. */
struct rr_json {
  int type;
  bool b;
  double num;
  bool is_int;   /* number written without fraction/exponent and fits int64 */
  int64_t i;
  char *s;       /* string value (NUL-terminated, may hold NULs) or number text */
  size_t slen;
  struct rr_json *items; /* array elements / object values */
  char **keys;           /* object keys */
  size_t n, cap;
};

/* Parses exactly one JSON value (surrounding whitespace allowed). Depth is
 * limited to 64. Caller frees *out with rr__json_free if RR_OK is returned. */
int rr__json_parse(const char *s, size_t n, struct rr_json **out, rr_error *err);
void rr__json_free(struct rr_json *v);
const struct rr_json *rr__json_get(const struct rr_json *obj, const char *key);
/* Writes v; indent < 0: compact, else pretty with that many spaces. */
int rr__json_write(rr_buf *b, const struct rr_json *v, int indent);
int rr__json_put_str(rr_buf *b, const char *s, size_t n);
int rr__json_put_cstr(rr_buf *b, const char *s);
int rr__json_put_double(rr_buf *b, double d); /* shortest round-trip; non-finite -> null */
int rr__json_put_raw(rr_buf *b, const char *s);

/* ---- events ---------------------------------------------------------------- */
enum { RR_PBOOL, RR_PINT, RR_PFLOAT, RR_PSTR };
struct rr_prop {
  char *name;
  int type;
  bool b;
  int64_t i;
  double f;
  char *s;
};
struct rr_props {
  struct rr_prop *v;
  size_t n, cap;
};
enum { RR_KIND_APPEND, RR_KIND_IDENTIFY, RR_KIND_SET };
struct rr_event {
  char time_utc[40]; /* RFC 3339, 'Z' */
  int kind;
  char *name;
  struct rr_props props;
};

int rr__props_set_bool(struct rr_props *p, const char *name, bool v);
int rr__props_set_int(struct rr_props *p, const char *name, int64_t v);
int rr__props_set_float(struct rr_props *p, const char *name, double v); /* non-finite: not set */
int rr__props_set_str(struct rr_props *p, const char *name, const char *v);
int rr__props_set_copy(struct rr_props *p, const struct rr_prop *src);
const struct rr_prop *rr__props_get(const struct rr_props *p, const char *name);
void rr__props_free(struct rr_props *p);

int rr__event_init(struct rr_event *e, int kind, const char *name, int64_t time_ns);
void rr__event_free(struct rr_event *e);
void rr__format_time(int64_t time_ns, char out[40]);

/* Tagged property value ({"String":"x"}) of the disk format, and back. */
int rr__prop_write_tagged(rr_buf *b, const struct rr_prop *p);
int rr__prop_from_tagged(struct rr_props *p, const char *name, const struct rr_json *v);
/* One disk line (compact JSON + '\n'). */
int rr__event_to_line(rr_buf *b, const struct rr_event *e);
int rr__event_from_json(struct rr_event *e, const struct rr_json *v);
/* Parses the JSON-lines text; bad lines are skipped. Appends to *evs. */
int rr__events_parse_lines(const char *text, size_t n, struct rr_event **evs, size_t *nev);
void rr__events_free(struct rr_event *evs, size_t n);
/* The PostHog batch body: {"api_key":..,"batch":[..]} */
int rr__batch_body(rr_buf *b, const char *api_key, const char *distinct_id, const char *session_id,
                   const struct rr_event *evs, size_t n, int indent);

/* SHA-256 of salt || bytes, lower-case hex (65 bytes with NUL). */
#define RR_ANALYTICS_SALT "d6d6bed3-028a-49ac-94dc-8c89cfb19379"
int rr__an_hash_bytes(const void *p, size_t n, char out[65]);

/* Random UUIDv4: simple (32 hex) or hyphenated (36). */
void rr__uuid4(char out[37], bool hyphenated);

/* ---- config ---------------------------------------------------------------- */
struct rr_an_config {
  bool enabled;
  char *id;
  struct rr_props metadata;
  char *config_path;
  char *data_dir;
};
enum { RR_CFG_LOADED = 0, RR_CFG_MISSING = 1, RR_CFG_DAMAGED = 2 };

/* The platform locations (spec §1.1). Caller frees both. */
int rr__an_default_paths(char **config_file, char **data_dir, rr_error *err);
/* status: one of RR_CFG_*; on DAMAGED, err says why and *cfg holds what could
 * be salvaged (enabled only if the file said so explicitly; id if present). */
int rr__an_config_load(const char *path, struct rr_an_config *cfg, int *status, rr_error *err);
int rr__an_config_new(struct rr_an_config *cfg, const char *config_path, const char *data_dir);
int rr__an_config_save(const struct rr_an_config *cfg, rr_error *err);
int rr__an_config_json(rr_buf *b, const struct rr_an_config *cfg, int indent);
void rr__an_config_free(struct rr_an_config *cfg);
/* Loads, or on MISSING/DAMAGED builds a fresh one at the default place. */
int rr__an_config_load_or_default(struct rr_an_config *cfg, bool *existed, rr_error *err);
/* Environment switches: a static reason string, or NULL when none applies. */
const char *rr__an_env_disabled(void);

int rr__mkdirs(const char *path);
int rr__read_file(const char *path, size_t max, char **out, size_t *len, rr_error *err);
int rr__rm_rf(const char *path);

/* ---- pending directory ------------------------------------------------------ */
#define RR_AN_MAX_PENDING (4u << 20)   /* all pending files together */
#define RR_AN_MAX_LIVE (1u << 20)      /* one process's file */
#define RR_AN_STATE_FILE "retry-state" /* not *.json: the original ignores it */
/* Our session files: same JSON-lines content as the original's <session>.json,
 * but a suffix the original does not pick up, so neither implementation sends
 * the other's events to its own project. */
#define RR_AN_SUFFIX ".rerun-c.jsonl"

struct rr_an_pending {
  char *path;
  char *session_id; /* file name without .json */
  int64_t mtime_ns;
  uint64_t size;
};
/* Regular *RR_AN_SUFFIX files in dir except `skip_name`, oldest first. */
int rr__an_list_pending(const char *dir, const char *skip_name, struct rr_an_pending **out, size_t *n);
void rr__an_pending_free(struct rr_an_pending *p, size_t n);
/* Deletes the oldest files not locked by a live process until the total is <= max. */
void rr__an_prune(const char *dir, const char *own_name, uint64_t max);

struct rr_an_retry {
  int64_t failures;
  int64_t next_attempt_s; /* unix seconds */
};
void rr__an_retry_load(const char *dir, struct rr_an_retry *r);
int rr__an_retry_record(const char *dir, bool success, int64_t now_s);
int64_t rr__an_backoff_s(int64_t failures);

/* ---- sender ------------------------------------------------------------------ */
enum { RR_SEND_OK = 0, RR_SEND_FAIL = -1, RR_SEND_ABORTED = -2 };
/* Initialises libcurl (and the TLS library) once, on the calling thread, so
 * that their exit handlers are registered before the caller's own. */
int rr__an_http_init(void);
/* POSTs body; returns RR_SEND_*; *abort is polled every 50 ms. */
int rr__an_http_post(const char *url, const char *body, size_t n, long timeout_ms, const int *abort_flag,
                     long *status);

#endif
