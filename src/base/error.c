/* The error table, error detail and logging. */
#include <stdio.h>
#include <stdlib.h>

#include "rerun/version.h"
#include "rr_common.h"

const char *rr_strerror(int code) {
  switch (code) {
#define XX(name, val, msg) case val: return msg;
    RR_ERRNO_MAP(XX)
#undef XX
    default: return "unknown error";
  }
}

const char *rr_err_name(int code) {
  switch (code) {
#define XX(name, val, msg) case val: return "RR_" #name;
    RR_ERRNO_MAP(XX)
#undef XX
    default: return "RR_UNKNOWN";
  }
}

unsigned rr_version(void) { return RR_VERSION_HEX; }
const char *rr_version_string(void) { return RR_VERSION_STRING; }

int rr__err(rr_error *err, int code, const char *fmt, ...) {
  if (err) {
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int rr__err_wrap(rr_error *err, int code, const char *fmt, ...) {
  if (!err) return code;
  char prev[sizeof err->msg], ctx[sizeof err->msg];
  memcpy(prev, err->msg, sizeof prev);
  prev[sizeof prev - 1] = 0;
  if (err->code < 0) code = err->code;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  /* "ctx: prev", cut to fit */
  size_t n = strlen(ctx), cap = sizeof err->msg - 1;
  memcpy(err->msg, ctx, n);
  if (prev[0] && n + 2 < cap) {
    memcpy(err->msg + n, ": ", 2);
    n += 2;
    size_t m = strlen(prev);
    if (m > cap - n) m = cap - n;
    memcpy(err->msg + n, prev, m);
    n += m;
  }
  err->msg[n] = 0;
  return code;
}

static int log_level(void) {
  static int level = -1; /* benign race: every thread computes the same value */
  int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
  if (l >= 0) return l;
  const char *e = getenv("RERUN_LOG_LEVEL");
  l = RR_LOG_WARN;
  if (e) {
    if (!strcmp(e, "error")) l = RR_LOG_ERROR;
    else if (!strcmp(e, "info")) l = RR_LOG_INFO;
    else if (!strcmp(e, "debug")) l = RR_LOG_DEBUG;
    else if (!strcmp(e, "off")) l = -2;
  }
  __atomic_store_n(&level, l < 0 ? 100 : l, __ATOMIC_RELAXED);
  return l < 0 ? 100 : l;
}

void rr__log(int level, const char *fmt, ...) {
  int cur = log_level();
  if (cur == 100 || level > cur) return;
  static const char *names[] = {"error", "warning", "info", "debug"};
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "[rerun] %s: %s\n", names[level], line);
}
