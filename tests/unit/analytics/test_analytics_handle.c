/* Locations, config load/save, environment switches, the pending bound, the
 * retry state, and every event as the loopback capture server receives it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/analytics_internal.h"
#include "rerun/analytics.h"

static char g_root[256];

static void fresh_env(const char *name) {
  char d[512];
  snprintf(d, sizeof d, "%s/%s", g_root, name);
  assert_int_equal(rr__mkdirs(d), RR_OK);
  setenv("HOME", d, 1);
  char c[600];
  snprintf(c, sizeof c, "%s/cfg", d);
  setenv("XDG_CONFIG_HOME", c, 1);
  snprintf(c, sizeof c, "%s/data", d);
  setenv("XDG_DATA_HOME", c, 1);
  unsetenv("RERUN_ANALYTICS");
  unsetenv("CI");
  unsetenv("DO_NOT_TRACK");
  unsetenv("FORCE_RERUN_ANALYTICS");
  unsetenv("RERUN_ANALYTICS_ENDPOINT");
  unsetenv("RERUN_ANALYTICS_KEY");
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) n += count_files(p);
    else n++;
  }
  closedir(d);
  return n;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_paths(void **state) {
  fresh_env("paths");
  char *c, *d;
  assert_int_equal(rr__an_default_paths(&c, &d, NULL), RR_OK);
  assert_non_null(strstr(c, "/paths/cfg/rerun/analytics.json"));
  assert_non_null(strstr(d, "/paths/data/rerun/analytics"));
  rr__free(c);
  rr__free(d);
  setenv("XDG_CONFIG_HOME", "relative", 1);
  setenv("XDG_DATA_HOME", "", 1);
  assert_int_equal(rr__an_default_paths(&c, &d, NULL), RR_OK);
  assert_non_null(strstr(c, "/paths/.config/rerun/analytics.json"));
  assert_non_null(strstr(d, "/paths/.local/share/rerun/analytics"));
  rr__free(c);
  rr__free(d);
}

static void test_env_switches(void **state) {
  fresh_env("env");
  assert_null(rr__an_env_disabled());
  setenv("RERUN_ANALYTICS", "off", 1);
  assert_non_null(rr__an_env_disabled());
  setenv("RERUN_ANALYTICS", "on", 1);
  assert_null(rr__an_env_disabled());
  setenv("DO_NOT_TRACK", "1", 1);
  assert_non_null(strstr(rr__an_env_disabled(), "DO_NOT_TRACK"));
  setenv("DO_NOT_TRACK", "0", 1);
  assert_null(rr__an_env_disabled());
  setenv("CI", "", 1);
  assert_non_null(strstr(rr__an_env_disabled(), "CI"));
  setenv("FORCE_RERUN_ANALYTICS", "TRUE", 1);
  assert_null(rr__an_env_disabled());
  setenv("FORCE_RERUN_ANALYTICS", "2", 1);
  assert_non_null(rr__an_env_disabled());
  setenv("FORCE_RERUN_ANALYTICS", "yes", 1);
  setenv("DO_NOT_TRACK", "true", 1); /* forcing never overrides the user's own opt-out */
  assert_non_null(strstr(rr__an_env_disabled(), "DO_NOT_TRACK"));
  fresh_env("env");
}

static void test_config_files(void **state) {
  fresh_env("config");
  char *cpath, *dpath;
  assert_int_equal(rr__an_default_paths(&cpath, &dpath, NULL), RR_OK);
  struct rr_an_config cfg;
  int status;
  rr_error err = {0};
  assert_int_equal(rr__an_config_load(cpath, &cfg, &status, &err), RR_OK);
  assert_int_equal(status, RR_CFG_MISSING);
  rr__an_config_free(&cfg);

  assert_int_equal(rr__an_config_new(&cfg, cpath, dpath), RR_OK);
  assert_int_equal(rr__props_set_str(&cfg.metadata, "email", "a@b.c"), RR_OK);
  cfg.enabled = false;
  assert_int_equal(rr__an_config_save(&cfg, &err), RR_OK);
  struct rr_an_config back;
  assert_int_equal(rr__an_config_load(cpath, &back, &status, &err), RR_OK);
  assert_int_equal(status, RR_CFG_LOADED);
  assert_false(back.enabled);
  assert_string_equal(back.id, cfg.id);
  assert_string_equal(rr__props_get(&back.metadata, "email")->s, "a@b.c");
  rr__an_config_free(&back);
  char *text;
  size_t len;
  assert_int_equal(rr__read_file(cpath, 1 << 16, &text, &len, NULL), RR_OK);
  char want[2048];
  snprintf(want, sizeof want,
           "{\"analytics_enabled\":false,\"analytics_id\":\"%s\",\"metadata\":{\"email\":{\"String\":\"a@b.c\"}},"
           "\"config_file_path\":\"%s\",\"data_dir_path\":\"%s\"}",
           cfg.id, cpath, dpath);
  assert_string_equal(text, want);
  rr__free(text);
  rr__an_config_free(&cfg);

  static const struct { const char *text; bool enabled; const char *why; } damaged[] = {
      {"{\"analytics_enabled\":false,\"analytics_id\":\"x", false, "JSON"},
      {"{\"analytics_enabled\":true,\"analytics_id\":\"x\"}", true, "config_file_path"},
      {"{\"analytics_id\":\"x\",\"config_file_path\":\"/a\",\"data_dir_path\":\"/b\"}", false, "analytics_enabled"},
      {"[]", false, "object"},
      {"", false, "JSON"},
  };
  for (size_t i = 0; i < sizeof damaged / sizeof *damaged; i++) {
    write_text(cpath, damaged[i].text);
    memset(&err, 0, sizeof err);
    assert_int_equal(rr__an_config_load(cpath, &cfg, &status, &err), RR_OK);
    assert_int_equal(status, RR_CFG_DAMAGED);
    assert_true(cfg.enabled == damaged[i].enabled);
    assert_non_null(strstr(err.msg, damaged[i].why));
    rr__an_config_free(&cfg);
  }
  /* A damaged file through the handle: reported, replaced, stays off. */
  write_text(cpath, "{\"analytics_enabled\":false,");
  rr_analytics *a;
  rr_analytics_opts o = {.quiet = 1};
  assert_int_equal(rr_analytics_open(&a, &o, NULL), RR_OK);
  assert_false(rr_analytics_is_enabled(a));
  assert_false(rr_analytics_is_first_run(a));
  rr_analytics_close(a);
  assert_int_equal(rr__an_config_load(cpath, &cfg, &status, &err), RR_OK);
  assert_int_equal(status, RR_CFG_LOADED);
  assert_false(cfg.enabled);
  rr__an_config_free(&cfg);
  char *ct;
  assert_int_equal(rr_analytics_config_text(&ct, NULL), RR_OK);
  assert_non_null(strstr(ct, "\n  \"analytics_enabled\": false,\n"));
  rr_analytics_free(ct);
  write_text(cpath, "nope");
  memset(&err, 0, sizeof err);
  assert_int_equal(rr_analytics_config_text(&ct, &err), RR_ECORRUPT);
  assert_non_null(strstr(err.msg, "damaged"));
  rr__free(cpath);
  rr__free(dpath);
}

static void test_stored_data_dir_wins(void **state) {
  fresh_env("stored");
  char *cpath, *dpath, other[600];
  assert_int_equal(rr__an_default_paths(&cpath, &dpath, NULL), RR_OK);
  snprintf(other, sizeof other, "%s/stored/elsewhere", g_root);
  struct rr_an_config cfg;
  assert_int_equal(rr__an_config_new(&cfg, cpath, other), RR_OK);
  assert_int_equal(rr__an_config_save(&cfg, NULL), RR_OK);
  rr__an_config_free(&cfg);
  rr_analytics *a;
  rr_analytics_opts o = {.quiet = 1};
  assert_int_equal(rr_analytics_open(&a, &o, NULL), RR_OK);
  assert_true(rr_analytics_is_enabled(a));
  assert_int_equal(rr_analytics_ui_event(a, "settings-opened"), RR_OK);
  assert_int_equal(rr_analytics_ui_event(a, "my-own-event"), RR_EINVAL);
  rr_analytics_close(a);
  assert_int_equal(count_files(other), 1);
  assert_int_equal(count_files(dpath), 0);
  rr__free(cpath);
  rr__free(dpath);
}

static void test_retry_and_prune(void **state) {
  fresh_env("retry");
  char dir[600];
  snprintf(dir, sizeof dir, "%s/retry/q", g_root);
  assert_int_equal(rr__mkdirs(dir), RR_OK);
  assert_int_equal(rr__an_backoff_s(1), 60);
  assert_int_equal(rr__an_backoff_s(3), 240);
  assert_int_equal(rr__an_backoff_s(40), 6 * 3600);
  struct rr_an_retry r;
  rr__an_retry_load(dir, &r);
  assert_int_equal(r.failures, 0);
  assert_int_equal(rr__an_retry_record(dir, false, 1000), RR_OK);
  assert_int_equal(rr__an_retry_record(dir, false, 2000), RR_OK);
  rr__an_retry_load(dir, &r);
  assert_int_equal(r.failures, 2);
  assert_int_equal(r.next_attempt_s, 2120);
  assert_int_equal(rr__an_retry_record(dir, true, 0), RR_OK);
  rr__an_retry_load(dir, &r);
  assert_int_equal(r.failures, 0);

  char big[2000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  for (int i = 0; i < 5; i++) {
    char p[700];
    snprintf(p, sizeof p, "%s/f%d" RR_AN_SUFFIX, dir, i);
    write_text(p, big);
    struct timespec ts[2] = {{1000 + i, 0}, {1000 + i, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  }
  write_text(strcat(strcpy(big, dir), "/notes.txt"), "not an event file");
  write_text(strcat(strcpy(big, dir), "/original.json"), big); /* the original's: never ours to send or drop */
  struct rr_an_pending *v;
  size_t n;
  assert_int_equal(rr__an_list_pending(dir, "f4" RR_AN_SUFFIX, &v, &n), RR_OK);
  assert_int_equal(n, 4);
  assert_string_equal(v[0].session_id, "f0");
  rr__an_pending_free(v, n);
  rr__an_prune(dir, "f0" RR_AN_SUFFIX, 2 * 1999); /* own file is never pruned */
  assert_int_equal(rr__an_list_pending(dir, NULL, &v, &n), RR_OK);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].session_id, "f0");
  assert_string_equal(v[1].session_id, "f4");
  rr__an_pending_free(v, n);
}

/* ---- against the capture server ------------------------------------------------------ */
struct server {
  FILE *p;
  int port, pid;
  char out[600];
};

static void server_start(struct server *s, const char *mode, const char *name) {
  snprintf(s->out, sizeof s->out, "%s/%s.jsonl", g_root, name);
  write_text(s->out, "");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "exec python3 %s/tests/cli/analytics/capture_server.py --out %s --mode %s",
           RR_SOURCE_DIR, s->out, mode);
  s->p = popen(cmd, "r");
  assert_non_null(s->p);
  assert_int_equal(fscanf(s->p, "%d %d", &s->port, &s->pid), 2);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
  setenv("RERUN_ANALYTICS_ENDPOINT", url, 1);
  setenv("RERUN_ANALYTICS_KEY", "phc_unit_test", 1);
}

static void server_stop(struct server *s) {
  kill(s->pid, SIGTERM);
  pclose(s->p);
}

/* All events of all captured request bodies, as one JSON array text + checks. */
static struct rr_json *captured_batch(struct server *s, int *nreq, const char *const *forbidden) {
  char *text;
  size_t len;
  assert_int_equal(rr__read_file(s->out, 1 << 24, &text, &len, NULL), RR_OK);
  rr_buf all = RR_BUF_INIT;
  assert_int_equal(rr_buf_append(&all, "[", 1), RR_OK);
  *nreq = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    struct rr_json *j;
    assert_int_equal(rr__json_parse(line, strlen(line), &j, NULL), RR_OK);
    if (!strcmp(rr__json_get(j, "type")->s, "request")) {
      const struct rr_json *body = rr__json_get(j, "body");
      for (const char *const *f = forbidden; *f; f++) assert_null(strstr(body->s, *f)); /* no user data */
      assert_string_equal(rr__json_get(rr__json_get(j, "headers"), "content-type")->s, "text/plain; charset=utf-8");
      struct rr_json *b;
      assert_int_equal(rr__json_parse(body->s, body->slen, &b, NULL), RR_OK);
      assert_string_equal(rr__json_get(b, "api_key")->s, "phc_unit_test");
      const struct rr_json *batch = rr__json_get(b, "batch");
      assert_true(batch && batch->type == RR_JARR && batch->n > 0);
      for (size_t i = 0; i < batch->n; i++) {
        if (all.len > 1) assert_int_equal(rr_buf_append(&all, ",", 1), RR_OK);
        assert_int_equal(rr__json_write(&all, &batch->items[i], -1), RR_OK);
      }
      rr__json_free(b);
      (*nreq)++;
    }
    rr__json_free(j);
  }
  assert_int_equal(rr_buf_append(&all, "]", 1), RR_OK);
  struct rr_json *arr;
  assert_int_equal(rr__json_parse((char *)all.data, all.len, &arr, NULL), RR_OK);
  rr_buf_free(&all);
  rr__free(text);
  return arr;
}

static const struct rr_json *find_event(const struct rr_json *arr, const char *name, int nth) {
  for (size_t i = 0; i < arr->n; i++)
    if (!strcmp(rr__json_get(&arr->items[i], "event")->s, name) && nth-- == 0) return &arr->items[i];
  fail_msg("event %s not captured", name);
  return NULL;
}

static const char *sprop(const struct rr_json *ev, const char *name) {
  const struct rr_json *v = rr__json_get(rr__json_get(ev, "properties"), name);
  return v && v->type == RR_JSTR ? v->s : NULL;
}

static void test_every_event_captured(void **state) {
  fresh_env("events");
  rr_analytics *a;
  rr_analytics_opts o = {.quiet = 1};
  assert_int_equal(rr_analytics_open(&a, &o, NULL), RR_OK); /* first run: creates the config */
  assert_true(rr_analytics_is_first_run(a));
  assert_int_equal(rr_analytics_flush(a, 100), RR_EDISABLED);
  rr_analytics_close(a);
  assert_int_equal(rr_analytics_set_email("person@example.org", NULL), RR_OK);

  struct server s;
  server_start(&s, "ok", "events");
  assert_int_equal(rr_analytics_open(&a, &o, NULL), RR_OK);
  assert_true(rr_analytics_is_enabled(a));
  assert_string_equal(rr_analytics_disabled_reason(a), "");
  char session[37];
  strcpy(session, rr_analytics_session_id(a));
  const char *flags[] = {"save", "secret_path_7f3a", "connect"};
  assert_int_equal(rr_analytics_cli_command_invoked(a, "/tmp/user_file", "secret-host-91b2", flags, 3), RR_OK);
  assert_int_equal(rr_analytics_identify(a, "3.11.7"), RR_OK);
  rr_analytics_viewer_info vi = {"c_sdk", "vulkan", "full_webgpu_support", 1.1, 0, 1.0};
  assert_int_equal(rr_analytics_viewer_started(a, &vi), RR_OK);
  rr_analytics_recording_info ri = {"c_sdk", "my_app", "unknown_app_id", "c_sdk", "0.33.0", NULL, "file"};
  assert_int_equal(rr_analytics_open_recording(a, &ri), RR_OK);
  rr_analytics_recording_info rx = {"rerun_cli", "rerun_example_points", "rec-1", "world/points", "../../x y",
                                    NULL, "sdk"};
  assert_int_equal(rr_analytics_open_recording(a, &rx), RR_OK);
  assert_int_equal(rr_analytics_load_data_source(a, "file_path", "/tmp/user_file/secret_path_7f3a.PLY", "cli", 1),
                   RR_OK);
  assert_int_equal(rr_analytics_load_data_source(a, "http_url", "https://secret-host-91b2/a.secret_path_7f3a?x=1.rrd",
                                                 NULL, 0),
                   RR_OK);
  assert_int_equal(rr_analytics_ui_event(a, "help-button-clicked"), RR_OK);
  assert_int_equal(rr_analytics_flush(a, 1000), RR_OK);
  rr_analytics_close(a);
  server_stop(&s);

  static const char *const forbidden[] = {"secret_path_7f3a", "secret-host-91b2", "/tmp/user_file",
                                          "world/points", "my_app", "unknown_app_id", "x y", NULL};
  int nreq;
  struct rr_json *arr = captured_batch(&s, &nreq, forbidden);
  /* the first run recorded nothing; all 8 events are from this session */
  assert_int_equal(arr->n, 8);
  const struct rr_json *cli = find_event(arr, "cli_command_invoked", 0);
  assert_string_equal(sprop(cli, "command"), "other");
  assert_string_equal(sprop(cli, "subcommand"), "other");
  assert_true(rr__json_get(rr__json_get(cli, "properties"), "save")->b);
  assert_null(rr__json_get(rr__json_get(cli, "properties"), "secret_path_7f3a"));
  assert_int_equal(rr__json_get(rr__json_get(cli, "properties"), "event_id")->i, 1);
  assert_string_equal(sprop(cli, "session_id"), session);

  const struct rr_json *id = find_event(arr, "$identify", 0);
  const struct rr_json *set = rr__json_get(id, "$set");
  assert_int_equal(rr__json_get(id, "properties")->n, 1);
  assert_string_equal(sprop(id, "session_id"), session);
  assert_string_equal(rr__json_get(set, "email")->s, "person@example.org"); /* opt-in metadata */
  assert_string_equal(rr__json_get(set, "rerun_version")->s, "0.33.0");
  assert_string_equal(rr__json_get(set, "python_version")->s, "3.11.7");
  assert_string_equal(rr__json_get(set, "features")->s, "rerun-c");
  assert_non_null(rr__json_get(set, "target"));
  assert_non_null(rr__json_get(set, "debug"));
  assert_null(rr__json_get(rr__json_get(id, "properties"), "event_id"));

  const struct rr_json *vs = find_event(arr, "viewer_started", 0);
  assert_string_equal(sprop(vs, "graphics_adapter_backend"), "vulkan");
  assert_string_equal(rr__json_get(rr__json_get(vs, "properties"), "pixels_per_point")->s, "1.100000023841858");
  assert_int_equal(rr__json_get(rr__json_get(vs, "properties"), "event_id")->i, 2);
  assert_non_null(rr__json_get(rr__json_get(vs, "properties"), "is_docker"));

  const struct rr_json *o1 = find_event(arr, "open_recording", 0), *o2 = find_event(arr, "open_recording", 1);
  assert_string_equal(sprop(o1, "application_id"), "f658bceafed84b5e395262b8bc6a314826fa73582cc79b0cdf48e6ff88f0a226");
  assert_string_equal(sprop(o1, "recording_id"), "ef090e44e7abf75b8b3ec8f3b6e58e0615819b2c3457437bee9c6f7797f37d2a");
  assert_false(rr__json_get(rr__json_get(o1, "properties"), "app_id_starts_with_rerun_example")->b);
  assert_string_equal(sprop(o1, "store_version"), "0.33.0");
  assert_string_equal(sprop(o1, "data_source"), "file");
  assert_string_equal(sprop(o2, "application_id"), "rerun_example_points");
  assert_string_equal(sprop(o2, "recording_id"), "rec-1");
  assert_string_equal(sprop(o2, "store_source"), "other");
  assert_string_equal(sprop(o2, "store_version"), "undefined");

  const struct rr_json *l1 = find_event(arr, "load_data_source", 0), *l2 = find_event(arr, "load_data_source", 1);
  assert_string_equal(sprop(l1, "file_extension"), "ply");
  assert_string_equal(sprop(l1, "file_source"), "cli");
  assert_true(rr__json_get(rr__json_get(l1, "properties"), "started_successfully")->b);
  assert_string_equal(sprop(l2, "file_extension"), "other");
  find_event(arr, "help-button-clicked", 0);
  rr__json_free(arr);

  /* Everything sent: nothing left on disk. */
  char *c, *d;
  assert_int_equal(rr_analytics_locations(&c, &d, NULL), RR_OK);
  assert_int_equal(count_files(d), 0);
  rr_analytics_free(c);
  rr_analytics_free(d);
}

static void test_hung_endpoint_close_bound(void **state) {
  fresh_env("hang");
  rr_analytics *a;
  rr_analytics_opts o = {.quiet = 1};
  assert_int_equal(rr_analytics_open(&a, &o, NULL), RR_OK);
  rr_analytics_close(a);
  struct server s;
  server_start(&s, "hang", "hang");
  assert_int_equal(rr_analytics_open(&a, &o, NULL), RR_OK);
  assert_int_equal(rr_analytics_ui_event(a, "settings-opened"), RR_OK);
  int64_t t0 = rr__mono_ns();
  assert_int_equal(rr_analytics_flush(a, 5000), RR_ETIMEDOUT); /* bounded by the 1 s budget */
  int64_t t1 = rr__mono_ns();
  rr_analytics_close(a);
  int64_t t2 = rr__mono_ns();
  server_stop(&s);
  assert_true(t1 - t0 < 1100000000ll);
  assert_true(t2 - t1 < 1100000000ll);
  char *c, *d, *pending;
  assert_int_equal(rr_analytics_locations(&c, &d, NULL), RR_OK);
  assert_int_equal(rr_analytics_pending_text(&pending, NULL), RR_OK);
  assert_non_null(strstr(pending, "\"event\": \"settings-opened\""));
  struct rr_an_retry r;
  rr__an_retry_load(d, &r);
  assert_int_equal(r.failures, 1);
  rr_analytics_free(pending);
  rr_analytics_free(c);
  rr_analytics_free(d);
}

static void test_disabled_touches_nothing(void **state) {
  fresh_env("disabled");
  setenv("DO_NOT_TRACK", "1", 1);
  rr_analytics *a;
  assert_int_equal(rr_analytics_open(&a, NULL, NULL), RR_OK);
  assert_false(rr_analytics_is_enabled(a));
  assert_non_null(strstr(rr_analytics_disabled_reason(a), "DO_NOT_TRACK"));
  assert_int_equal(rr_analytics_ui_event(a, "settings-opened"), RR_EDISABLED);
  rr_analytics_viewer_info vi = {0};
  assert_int_equal(rr_analytics_viewer_started(a, &vi), RR_EDISABLED);
  assert_int_equal(rr_analytics_identify(a, NULL), RR_EDISABLED);
  assert_int_equal(rr_analytics_flush(a, 10), RR_EDISABLED);
  rr_analytics_close(a);
  char d[600];
  snprintf(d, sizeof d, "%s/disabled", g_root);
  assert_int_equal(count_files(d), 0);
  unsetenv("DO_NOT_TRACK");
}

static int setup(void **state) {
  snprintf(g_root, sizeof g_root, "/tmp/rr-analytics-unit-XXXXXX");
  return mkdtemp(g_root) ? 0 : -1;
}

static int teardown(void **state) {
  rr__rm_rf(g_root);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paths),
      cmocka_unit_test(test_env_switches),
      cmocka_unit_test(test_config_files),
      cmocka_unit_test(test_stored_data_dir_wins),
      cmocka_unit_test(test_retry_and_prune),
      cmocka_unit_test(test_every_event_captured),
      cmocka_unit_test(test_hung_endpoint_close_bound),
      cmocka_unit_test(test_disabled_touches_nothing),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
