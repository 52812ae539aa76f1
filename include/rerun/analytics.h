/* rerun-c anonymous usage analytics.
 *
 * Compatible with Rerun's own analytics files (config `analytics.json`, the
 * pending-event directory and its JSON-lines files), so an opt-out given to
 * either implementation is honoured by both. See docs/analytics.md for what is
 * collected, how to opt out and where we differ from the original.
 *
 * Lifetime: rr_analytics_open() once per process (or per component), record
 * events with the rr_analytics_* event helpers, rr_analytics_close() at the
 * end. Every event is appended to a file in the data directory before any
 * network use; a background thread sends the files to a PostHog-compatible
 * endpoint when the build (or RERUN_ANALYTICS_KEY) supplies a project key.
 * No call waits on the network for more than 1 s. All functions are
 * thread-safe for one handle. */
#ifndef RERUN_ANALYTICS_H
#define RERUN_ANALYTICS_H

#include <stddef.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_analytics rr_analytics;

/** Options for rr_analytics_open(); zero-initialise, then set what you need. */
typedef struct rr_analytics_opts {
  const char *endpoint; /**< NULL: $RERUN_ANALYTICS_ENDPOINT, else the build's RR_ANALYTICS_ENDPOINT */
  const char *api_key;  /**< NULL: $RERUN_ANALYTICS_KEY, else the build's RR_ANALYTICS_KEY */
  int tick_ms;          /**< period of background sends; 0: 2000 */
  int close_budget_ms;  /**< longest wait in close/flush; 0 or more than 1000: 1000 */
  int quiet;            /**< nonzero: print no first-run notice or warning on stderr */
} rr_analytics_opts;

/** Opens analytics for this process: reads (or, on first run, creates) the
 * config, decides whether analytics is on, and starts the sender when it may
 * send. Never fails because analytics is off: *out is then a disabled handle
 * (see rr_analytics_disabled_reason()). When the environment disables
 * analytics (RERUN_ANALYTICS=off, DO_NOT_TRACK, CI) nothing is read, created
 * or sent. A damaged config is reported on stderr and replaced by a config
 * that keeps analytics off unless the damaged file said `true` explicitly.
 * Caller closes *out with rr_analytics_close() if RR_OK is returned.
 * Returns RR_OK, RR_EINVAL (out is NULL) or RR_ENOMEM. */
RR_EXTERN int rr_analytics_open(rr_analytics **out, const rr_analytics_opts *opts, rr_error *err);
/** Sends what is pending if possible, waiting at most the close budget (<= 1 s),
 * then stops the sender. Unsent events stay on disk for a later run. NULL is
 * accepted. */
RR_EXTERN void rr_analytics_close(rr_analytics *a);
/** Asks the sender to send now and waits up to min(timeout_ms, budget).
 * Returns RR_OK when the send attempt finished, RR_ETIMEDOUT, or RR_EDISABLED
 * when this process does not send (disabled, first run, no key, back-off). */
RR_EXTERN int rr_analytics_flush(rr_analytics *a, int timeout_ms);
/** 1 when events are recorded (to disk), 0 when analytics is off. */
RR_EXTERN int rr_analytics_is_enabled(const rr_analytics *a);
/** Why analytics is off, or why nothing is sent ("" when sending). Static or
 * handle-owned text, valid until close. */
RR_EXTERN const char *rr_analytics_disabled_reason(const rr_analytics *a);
/** 1 when this process created the config (first run: nothing is sent). */
RR_EXTERN int rr_analytics_is_first_run(const rr_analytics *a);
/** The per-process session id (36-char UUIDv4), "" when disabled. */
RR_EXTERN const char *rr_analytics_session_id(const rr_analytics *a);

/* ---- events. Each returns RR_OK, RR_EDISABLED (analytics off; nothing done),
 * RR_EINVAL, RR_ENOMEM or RR_EIO (could not write the pending file). Strings
 * naming kinds are checked against the documented values; an unknown value is
 * recorded as "other", never verbatim, so user data cannot leak. -------------- */

/** `cli_command_invoked`: command and optional subcommand names (from a fixed
 * table, never argv), flags: names of options that were given (e.g. "save"),
 * recorded as Bool true if they are among the documented flag names. */
RR_EXTERN int rr_analytics_cli_command_invoked(rr_analytics *a, const char *command, const char *subcommand,
                                               const char *const *flags, size_t n_flags);
/** `$identify`: build properties and the config's metadata (e.g. email).
 * python_version may be NULL. */
RR_EXTERN int rr_analytics_identify(rr_analytics *a, const char *python_version);

typedef struct rr_analytics_viewer_info {
  const char *app_env;          /**< c_sdk python_sdk rust_sdk rerun_cli web_viewer custom test */
  const char *graphics_backend; /**< vulkan metal dx12 gl webgpu noop (NULL: noop) */
  const char *device_tier;      /**< limited full_webgpu_support (NULL: limited) */
  double pixels_per_point;
  double native_pixels_per_point; /**< 0: absent */
  double zoom_factor;
} rr_analytics_viewer_info;
/** `viewer_started` (is_docker/is_wsl are detected here). */
RR_EXTERN int rr_analytics_viewer_started(rr_analytics *a, const rr_analytics_viewer_info *info);

typedef struct rr_analytics_recording_info {
  const char *app_env;        /**< as in rr_analytics_viewer_info */
  const char *application_id; /**< hashed unless it starts with "rerun_example"; NULL: no store info */
  const char *recording_id;   /**< hashed unless the application id starts with "rerun_example" */
  const char *store_source;   /**< unknown c_sdk python_sdk rust_sdk file_cli file_uri ... viewer */
  const char *store_version;  /**< version that encoded the data; NULL: "undefined" */
  const char *python_version; /**< NULL: absent */
  const char *data_source;    /**< file http grpc web_event javascript sdk stdin; NULL: absent */
} rr_analytics_recording_info;
/** `open_recording`. */
RR_EXTERN int rr_analytics_open_recording(rr_analytics *a, const rr_analytics_recording_info *info);
/** `load_data_source` ("Data Source Connected"): source_type is one of
 * http_url file_path file_contents stdin redap_dataset_segment redap_proxy;
 * only the lower-cased extension of path_or_url (may be NULL) is sent, and only
 * if it is a known loadable type; file_source (may be NULL) one of cli uri
 * drag_and_drop file_dialog sdk. */
RR_EXTERN int rr_analytics_load_data_source(rr_analytics *a, const char *source_type, const char *path_or_url,
                                            const char *file_source, int started_successfully);
/** Property-less UI events: "settings-opened", "help-button-clicked", "serve_wasm". */
RR_EXTERN int rr_analytics_ui_event(rr_analytics *a, const char *name);

/** SHA-256 of the public salt followed by the n bytes, as 64 lower-case hex
 * digits plus NUL in out. Returns RR_OK or RR_EINTERNAL. */
RR_EXTERN int rr_analytics_hash(const char *s, size_t n, char out[65]);

/* ---- configuration, for `rerun analytics` and embedders. Strings returned
 * through char ** are freed by the caller with rr_analytics_free(). -------- */

/** The config as pretty JSON (2-space indent, no newline), or "null" when no
 * config file exists. RR_ECORRUPT (err says why) for a damaged file. */
RR_EXTERN int rr_analytics_config_text(char **out, rr_error *err);
/** Loads (or builds) the config, sets analytics_enabled, saves. */
RR_EXTERN int rr_analytics_set_enabled(int enabled, rr_error *err);
/** Stores metadata.email (sent in every later $identify). RR_EINVAL for a
 * value that is not an e-mail address. */
RR_EXTERN int rr_analytics_set_email(const char *email, rr_error *err);
/** The config file path and the pending-event directory in effect. */
RR_EXTERN int rr_analytics_locations(char **config_file, char **data_dir, rr_error *err);
/** Deletes every pending event file and the retry state, and writes a config
 * with a new id (keeping analytics_enabled; metadata dropped). */
RR_EXTERN int rr_analytics_clear(rr_error *err);
/** Human-readable listing of the pending files with, for each, the exact
 * request body that would be sent. */
RR_EXTERN int rr_analytics_pending_text(char **out, rr_error *err);
/** Static texts: what is collected (for `details`), the first-run notice. */
RR_EXTERN const char *rr_analytics_details_text(void);
RR_EXTERN const char *rr_analytics_notice_text(void);
/** Which environment variable turns analytics off now, or NULL. */
RR_EXTERN const char *rr_analytics_env_disabled_reason(void);
RR_EXTERN void rr_analytics_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
