/* rr_recording_spawn (a `rerun` child process) and rr_recording_serve_web
 * (the server in this process), both ending in a gRPC sink. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rerun/net.h"
#include "rerun/server.h"
#include "sdk_internal.h"

/* True if something accepts TCP connections on 127.0.0.1:port. */
static bool port_listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

int rr_recording_spawn(rr_recording *rec, const rr_spawn_options *opts, rr_error *err) {
  RR_TRY(rr__resolve(&rec));
  if (!rec->enabled) return RR_OK;
  rr_spawn_options d = {0};
  if (!opts) opts = &d;
  int port = opts->port > 0 ? opts->port : 9876;
  if (port > 65535) return rr__err(err, RR_EINVAL, "spawn: bad port %d", port);
  if (!port_listening(port)) {
    const char *exe = opts->executable_path;
    if (!exe) exe = getenv("RERUN_EXECUTABLE");
    if (!exe || !*exe) exe = "rerun";
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *argv[12];
    int n = 0;
    argv[n++] = exe;
    argv[n++] = "--port";
    argv[n++] = port_s;
    if (opts->memory_limit) { argv[n++] = "--server-memory-limit"; argv[n++] = opts->memory_limit; }
    if (opts->hide_welcome_screen) argv[n++] = "--hide-welcome-screen";
    argv[n] = NULL;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) return rr__err(err, RR_EIO, "spawn: pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
      close(errpipe[0]);
      close(errpipe[1]);
      return rr__err(err, RR_EIO, "spawn: fork: %s", strerror(errno));
    }
    if (pid == 0) {
      /* child: a session of its own (outlives us), stdin from /dev/null */
      setsid();
      int nul = open("/dev/null", O_RDWR);
      if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); if (nul > 2) close(nul); }
      signal(SIGPIPE, SIG_DFL);
      execvp(exe, (char *const *)argv);
      int e = errno;
      ssize_t w = write(errpipe[1], &e, sizeof e);
      (void)w;
      _exit(127);
    }
    close(errpipe[1]);
    int child_err = 0;
    ssize_t r = read(errpipe[0], &child_err, sizeof child_err);
    close(errpipe[0]);
    if (r == (ssize_t)sizeof child_err) {
      waitpid(pid, NULL, 0);
      return rr__err(err, RR_ENOTFOUND, "spawn: cannot run '%s': %s", exe, strerror(child_err));
    }
    int64_t wait_ms = opts->wait_ms > 0 ? opts->wait_ms : 5000;
    int64_t end = rr__mono_ns() / 1000000 + wait_ms;
    bool up = false;
    while (rr__mono_ns() / 1000000 < end) {
      if (port_listening(port)) { up = true; break; }
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid)
        return rr__err(err, RR_ECONN, "spawn: '%s' exited before listening on port %d", exe, port);
      usleep(20000);
    }
    if (!up) return rr__err(err, RR_ECONN, "spawn: '%s' did not listen on port %d within %lld ms", exe, port, (long long)wait_ms);
  }
  char url[64];
  snprintf(url, sizeof url, "rerun+http://127.0.0.1:%d/proxy", port);
  return rr_recording_connect_grpc(rec, url, err);
}

int rr_recording_serve_web(rr_recording *rec, const rr_serve_web_options *opts, rr_error *err) {
  RR_TRY(rr__resolve(&rec));
  if (!rec->enabled) return RR_OK;
  rr_serve_web_options d = {0};
  if (!opts) opts = &d;
  rr_server_options so;
  rr_server_options_init(&so);
  so.bind_host = opts->bind_host;
  so.port = opts->grpc_port == 0 ? 9876 : opts->grpc_port < 0 ? 0 : opts->grpc_port;
  so.web_port = opts->web_port == 0 ? 9090 : opts->web_port < 0 ? 0 : opts->web_port;
  if (opts->server_memory_limit) so.memory_limit = opts->server_memory_limit;
  so.web_dir = opts->web_dir ? opts->web_dir : getenv("RERUN_WEB_VIEWER_DIR");
  rr_server *srv = NULL;
  RR_TRY(rr_server_new(&srv, &so, err));
  int rc = rr_server_start(srv, err);
  if (rc < 0) { rr_server_free(srv); return rc; }
  int gp = rr_server_port(srv), wp = rr_server_web_port(srv);
  if (opts->out_grpc_port) *opts->out_grpc_port = gp;
  if (opts->out_web_port) *opts->out_web_port = wp;
  /* the recording logs into the server directly: no loopback connection */
  struct rr_sink *s = NULL;
  rc = rr__sink_server_new(&s, rec, srv, RR_LIVE_FLUSH_TIMEOUT_SEC, err);
  if (rc < 0) { rr_server_free(srv); return rc; }
  rc = rr__set_sink(rec, s);
  if (rc == RR_OK && opts->open_browser) {
    char page[200];
    snprintf(page, sizeof page, "http://127.0.0.1:%d/?url=rerun%%2Bhttp%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fproxy", wp, gp);
    if (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY") || getenv("BROWSER")) {
      pid_t pid = fork();
      if (pid == 0) {
        setsid();
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); dup2(nul, 2); }
        const char *b = getenv("BROWSER");
        if (b && *b) execlp(b, b, page, (char *)NULL);
        execlp("xdg-open", "xdg-open", page, (char *)NULL);
        _exit(127);
      }
      if (pid > 0) {
        /* reap it without blocking the caller for long: xdg-open returns at once */
        int st;
        for (int i = 0; i < 50 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(10000);
      }
    } else {
      rr__log(RR_LOG_INFO, "serve_web: no display; open %s in a browser", page);
    }
  }
  return rc;
}
