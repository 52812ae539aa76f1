/* `rerun [FILE.rrd ... | -] [options]`: the live server (gRPC message proxy,
 * gRPC-Web for browsers, optional web viewer files). Runs until SIGINT or
 * SIGTERM. See docs/cli/serve.md. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rerun.h"
#include "rerun/server.h"

static void serve_usage(FILE *f) {
  fprintf(f,
          "Usage: rerun [FILE.rrd ... | -] [OPTIONS]\n\n"
          "Starts the server: Rerun's gRPC message proxy for SDKs (HTTP/2) and web viewers\n"
          "(gRPC-Web), loading the given .rrd files (or standard input with '-') into it.\n\n"
          "Options:\n"
          "  --port N                  gRPC port (default 9876; 0 = any free port)\n"
          "  --bind HOST               address to listen on (default 0.0.0.0)\n"
          "  --server-memory-limit L   history bound: 1GiB (default), 16GB, 512MB, 50%%, 0 = none\n"
          "  --save FILE.rrd           also write everything received to this file\n"
          "  --serve-web               also serve the web viewer files (port 9090)\n"
          "  --web-viewer-port N       web viewer port (implies --serve-web)\n"
          "  --web-viewer-dir DIR      the @rerun-io/web-viewer files to serve\n"
          "  --cors-allow-origin PAT   an extra allowed browser origin ('*' globs)\n"
          "  --reader-max-pending L    drop a reader that falls this far behind (default 256MiB)\n"
          "  --hide-welcome-screen     accepted for compatibility\n");
}

static int parse_limit(const char *str, uint64_t *out) {
  if (!str || !*str) return -1;
  char *e;
  double v = strtod(str, &e);
  if (e == str || v < 0 || v != v) return -1;
  if (!strcmp(e, "%")) {
    long pages = sysconf(_SC_PHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || ps <= 0 || v > 100) return -1;
    *out = (uint64_t)((double)pages * (double)ps * v / 100.0);
    return 0;
  }
  static const struct { const char *s; double m; } units[] = {
      {"", 1}, {"B", 1}, {"k", 1e3}, {"kB", 1e3}, {"K", 1e3}, {"KB", 1e3}, {"KiB", 1024.0},
      {"M", 1e6}, {"MB", 1e6}, {"MiB", 1048576.0}, {"G", 1e9}, {"GB", 1e9}, {"GiB", 1073741824.0},
      {"T", 1e12}, {"TB", 1e12}, {"TiB", 1099511627776.0}};
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (!strcmp(e, units[i].s)) {
      if (v * units[i].m > 1.8e19) return -1;
      *out = (uint64_t)(v * units[i].m);
      return 0;
    }
  return -1;
}

static bool is_dir_with_viewer(const char *d) {
  char p[2 * PATH_MAX + 32];
  struct stat sb;
  snprintf(p, sizeof p, "%s/index.js", d);
  return stat(p, &sb) == 0;
}

/* $RERUN_WEB_VIEWER_DIR, then web/ next to the binary, the install's
 * share/rerun/web, the build tree's conformance copy of the npm package. */
static const char *default_web_dir(char *buf, size_t n) {
  const char *env = getenv("RERUN_WEB_VIEWER_DIR");
  if (env && *env) return env;
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) return NULL;
  exe[k] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return NULL;
  *slash = 0;
  static const char *rel[] = {"/web", "/../share/rerun/web", "/conformance/node_modules/@rerun-io/web-viewer",
                              "/../build/conformance/node_modules/@rerun-io/web-viewer"};
  for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
    snprintf(buf, n, "%s%s", exe, rel[i]);
    if (is_dir_with_viewer(buf)) return buf;
  }
  return NULL;
}

int rr_cli_serve(int argc, char **argv) {
  rr_server_options o;
  rr_server_options_init(&o);
  const char **files = calloc((size_t)argc + 1, sizeof *files);
  size_t n_files = 0;
  bool web = false;
  char webbuf[2 * PATH_MAX];
  if (!files) return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG() do { if (!v) { fprintf(stderr, "rerun: %s needs a value\n", a); free(files); return 2; } i++; } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "--serve-help")) { serve_usage(stdout); free(files); return 0; }
    else if (!strcmp(a, "--port")) {
      NEED_ARG();
      char *e;
      long p = strtol(v, &e, 10);
      if (*e || p < 0 || p > 65535) { fprintf(stderr, "rerun: bad port '%s'\n", v); free(files); return 2; }
      o.port = (int)p;
    } else if (!strcmp(a, "--bind")) { NEED_ARG(); o.bind_host = v; }
    else if (!strcmp(a, "--server-memory-limit") || !strcmp(a, "--memory-limit")) {
      NEED_ARG();
      if (parse_limit(v, &o.memory_limit) < 0) { fprintf(stderr, "rerun: bad memory limit '%s'\n", v); free(files); return 2; }
    } else if (!strcmp(a, "--reader-max-pending")) {
      NEED_ARG();
      if (parse_limit(v, &o.reader_max_pending) < 0) { fprintf(stderr, "rerun: bad size '%s'\n", v); free(files); return 2; }
    } else if (!strcmp(a, "--save")) { NEED_ARG(); o.save_path = v; }
    else if (!strcmp(a, "--serve-web") || !strcmp(a, "--web-viewer")) { web = true; }
    else if (!strcmp(a, "--web-viewer-port")) {
      NEED_ARG();
      char *e;
      long p = strtol(v, &e, 10);
      if (*e || p < 0 || p > 65535) { fprintf(stderr, "rerun: bad port '%s'\n", v); free(files); return 2; }
      o.web_port = (int)p;
      web = true;
    } else if (!strcmp(a, "--web-viewer-dir")) { NEED_ARG(); o.web_dir = v; }
    else if (!strcmp(a, "--cors-allow-origin")) { NEED_ARG(); o.cors_allow_origin = v; }
    else if (!strcmp(a, "--hide-welcome-screen") || !strcmp(a, "--serve") || !strcmp(a, "--serve-grpc")) { }
    else if (a[0] == '-' && a[1]) { fprintf(stderr, "rerun: unknown option '%s' (see rerun --help)\n", a); free(files); return 2; }
    else files[n_files++] = a;
#undef NEED_ARG
  }
  if (web && o.web_port < 0) o.web_port = 9090;
  if (web && !o.web_dir) {
    o.web_dir = default_web_dir(webbuf, sizeof webbuf);
    if (!o.web_dir) fprintf(stderr, "rerun: warning: no web viewer files found (use --web-viewer-dir); serving the page only\n");
  }
  /* Signals go to sigwait below, not to the server thread. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  rr_server *s = NULL;
  rr_error err = {0};
  if (rr_server_new(&s, &o, &err) != RR_OK || rr_server_start(s, &err) != RR_OK) {
    fprintf(stderr, "rerun: %s\n", err.msg);
    rr_server_free(s);
    free(files);
    return 1;
  }
  printf("rerun: serving rerun+http://127.0.0.1:%d/proxy (memory limit %llu bytes)\n", rr_server_port(s),
         (unsigned long long)o.memory_limit);
  if (rr_server_web_port(s) >= 0)
    printf("rerun: web viewer at http://127.0.0.1:%d/?url=rerun%%2Bhttp%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fproxy\n",
           rr_server_web_port(s), rr_server_port(s));
  fflush(stdout);
  int status = 0;
  for (size_t i = 0; i < n_files; i++) {
    if (rr_server_load(s, files[i], &err) != RR_OK) {
      fprintf(stderr, "rerun: %s: %s\n", files[i], err.msg);
      status = 1;
    }
  }
  int sig = 0;
  sigwait(&set, &sig);
  fprintf(stderr, "rerun: stopping (signal %d)\n", sig);
  rr_server_free(s);
  free(files);
  return status;
}
