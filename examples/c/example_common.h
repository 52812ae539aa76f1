/* Shared command-line handling of the examples: --save FILE, --stdout,
 * --connect [URL] (a running server), --spawn, --serve [PORT] (server in-process,
 * on 9876 and 9090, or on PORT (0: any free one) and any free port; it serves
 * until Ctrl-C or SIGTERM),
 * --no-compression (messages without LZ4), --max-bytes-in-flight N (the
 * stream's queue bound; rows larger than it are written in place).
 * (Header-only; each example is one program.) */
#ifndef EXAMPLE_COMMON_H
#define EXAMPLE_COMMON_H
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rerun.h"

/* --serve: the ports the server bound; example_finish keeps serving them. */
static int example_grpc_port, example_web_port, example_serving;

/* Creates the recording and attaches the sink chosen on the command line.
 * Exits with status 1 (after printing why) on a bad argument. */
static rr_recording *example_start(int argc, char **argv, const char *app_id) {
  const char *save = NULL;
  const char *connect = NULL;
  int use_stdout = 0, serve = 0, spawn = 0, raw = 0, serve_port = -2; /* -2: the defaults */
  long long max_in_flight = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
    else if (!strcmp(argv[i], "--stdout")) use_stdout = 1;
    else if (!strcmp(argv[i], "--connect"))
      connect = i + 1 < argc && strncmp(argv[i + 1], "--", 2) ? argv[++i] : RR_DEFAULT_CONNECT_URL;
    else if (!strcmp(argv[i], "--serve")) {
      serve = 1;
      if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') serve_port = atoi(argv[++i]);
    }
    else if (!strcmp(argv[i], "--spawn")) spawn = 1;
    else if (!strcmp(argv[i], "--no-compression")) raw = 1;
    else if (!strcmp(argv[i], "--max-bytes-in-flight") && i + 1 < argc) {
      char *end;
      max_in_flight = strtoll(argv[++i], &end, 10);
      if (*end || max_in_flight <= 0) {
        fprintf(stderr, "%s: --max-bytes-in-flight wants a positive number of bytes, not '%s'\n", argv[0], argv[i]);
        exit(2);
      }
    }
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: %s [--save FILE.rrd | --stdout | --connect [URL] | --spawn | --serve [PORT]] [--no-compression]"
             " [--max-bytes-in-flight N]\n", argv[0]);
      exit(0);
    } else {
      fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[i]);
      exit(2);
    }
  }
  if (serve) {
    /* example_finish waits for these with sigwait: blocked before any
     * thread starts, so that every thread inherits the mask */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
  }
  rr_recording_options opts = {.application_id = app_id, .strict = true, .no_compression = raw,
                               .max_bytes_in_flight = max_in_flight};
  rr_recording *rec = NULL;
  rr_error err = {0};
  if (rr_recording_new(&rec, &opts, &err) != RR_OK) {
    fprintf(stderr, "cannot create the recording: %s\n", err.msg);
    exit(1);
  }
  int rc = RR_OK;
  if (connect) rc = rr_recording_connect_grpc(rec, connect, &err);
  else if (spawn) rc = rr_recording_spawn(rec, NULL, &err);
  else if (serve) {
    /* --serve PORT: gRPC on PORT (0: any free one), the viewer's files on any free port */
    rr_serve_web_options wo = {.open_browser = true, .out_grpc_port = &example_grpc_port, .out_web_port = &example_web_port,
                               .grpc_port = serve_port == -2 ? 0 : serve_port == 0 ? -1 : serve_port,
                               .web_port = serve_port == -2 ? 0 : -1};
    rc = rr_recording_serve_web(rec, &wo, &err);
    example_serving = rc == RR_OK;
  } else if (save) rc = rr_recording_save(rec, save, &err);
  else if (use_stdout) rc = rr_recording_stdout(rec, &err);
  else rc = rr_recording_save(rec, "example.rrd", &err);
  if (rc != RR_OK) {
    fprintf(stderr, "cannot open the sink: %s\n", err.msg);
    exit(1);
  }
  rr_set_global_recording(rec);
  return rec;
}

#define CHECK(call)                                                                     \
  do {                                                                                  \
    rr_error e_ = {0};                                                                  \
    int rc_ = (call);                                                                   \
    (void)e_;                                                                           \
    if (rc_ != RR_OK) {                                                                 \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, rr_strerror(rc_)); \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)

/* With --serve, keeps the server (and the data logged into it) up until
 * Ctrl-C or SIGTERM, as Rerun's examples do: it goes with the process. */
static void example_finish(rr_recording *rec) {
  if (example_serving) {
    rr_recording_flush(rec, true, 5000);
    fprintf(stderr, "serving: viewer http://127.0.0.1:%d/?url=rerun%%2Bhttp%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fproxy, "
                    "gRPC rerun+http://127.0.0.1:%d/proxy; Ctrl-C to stop\n",
            example_web_port, example_grpc_port, example_grpc_port);
    sigset_t ss;
    int sig;
    sigemptyset(&ss);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGTERM);
    sigwait(&ss, &sig);
  }
  rr_set_global_recording(NULL);
  rr_recording_free(rec);
}
#endif
