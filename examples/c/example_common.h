/* Shared command-line handling of the examples: --save FILE, --stdout,
 * --connect [URL] (a running server), --spawn, --serve (server in-process),
 * --no-compression (messages without LZ4), --max-bytes-in-flight N (the
 * stream's queue bound; rows larger than it are written in place).
 * (Header-only; each example is one program.) */
#ifndef EXAMPLE_COMMON_H
#define EXAMPLE_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rerun.h"

/* Creates the recording and attaches the sink chosen on the command line.
 * Exits with status 1 (after printing why) on a bad argument. */
static rr_recording *example_start(int argc, char **argv, const char *app_id) {
  const char *save = NULL;
  const char *connect = NULL;
  int use_stdout = 0, serve = 0, spawn = 0, raw = 0;
  long long max_in_flight = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
    else if (!strcmp(argv[i], "--stdout")) use_stdout = 1;
    else if (!strcmp(argv[i], "--connect"))
      connect = i + 1 < argc && strncmp(argv[i + 1], "--", 2) ? argv[++i] : RR_DEFAULT_CONNECT_URL;
    else if (!strcmp(argv[i], "--serve")) serve = 1;
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
      printf("usage: %s [--save FILE.rrd | --stdout | --connect [URL] | --spawn | --serve] [--no-compression]"
             " [--max-bytes-in-flight N]\n", argv[0]);
      exit(0);
    } else {
      fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[i]);
      exit(2);
    }
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
    rr_serve_web_options wo = {.open_browser = true};
    rc = rr_recording_serve_web(rec, &wo, &err);
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

static void example_finish(rr_recording *rec) {
  rr_set_global_recording(NULL);
  rr_recording_free(rec);
}
#endif
