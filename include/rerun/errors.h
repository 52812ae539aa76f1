/* rerun-c error codes.
 *
 * Every fallible function returns RR_OK (0) or one negative code from the one
 * table below. Codes are never renumbered: a retired code keeps its number.
 * Codes at or below RR_E_FATAL mean the object may only be freed. */
#ifndef RERUN_ERRORS_H
#define RERUN_ERRORS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define RR_EXTERN __declspec(dllexport)
#elif defined(__GNUC__)
#  define RR_EXTERN __attribute__((visibility("default")))
#else
#  define RR_EXTERN
#endif

/* XX(name, value, message) */
#define RR_ERRNO_MAP(XX)                                                      \
  XX(OK, 0, "success")                                                        \
  XX(EINVAL, -1, "invalid argument")                                          \
  XX(ENOMEM, -2, "out of memory")                                             \
  XX(EIO, -3, "input/output error")                                           \
  XX(ECORRUPT, -4, "corrupt or malformed data")                               \
  XX(EAGAIN, -5, "need more input")                                           \
  XX(EEOF, -6, "end of stream")                                               \
  XX(EUNSUPPORTED, -7, "unsupported feature or version")                      \
  XX(ECLOSED, -8, "object is closed")                                         \
  XX(ERANGE, -9, "value out of range")                                        \
  XX(ENOTFOUND, -10, "not found")                                             \
  XX(EEXIST, -11, "already exists")                                           \
  XX(ETIMEDOUT, -12, "timed out")                                             \
  XX(EUTF8, -13, "invalid UTF-8")                                             \
  XX(ENOTFINITE, -14, "value is NaN or infinite")                             \
  XX(ELENGTH, -15, "length mismatch")                                         \
  XX(EPATH, -16, "invalid entity path")                                       \
  XX(ECONN, -17, "connection failed")                                         \
  XX(EDISABLED, -18, "disabled")                                              \
  XX(EFULL, -19, "queue full")                                                \
  XX(EPROTO, -20, "protocol error")                                           \
  XX(EINTERNAL, -100, "internal error")

typedef enum rr_errno {
#define RR__ERR_ENUM(name, val, msg) RR_##name = (val),
  RR_ERRNO_MAP(RR__ERR_ENUM)
#undef RR__ERR_ENUM
  RR_E_FATAL = -100
} rr_errno;

/** Optional error detail: a code and a message naming what was wrong. */
typedef struct rr_error {
  int code;
  char msg[256];
} rr_error;

/** Static description of an error code ("unknown error" for an unknown code). */
RR_EXTERN const char *rr_strerror(int code);
/** Symbolic name of an error code, e.g. "RR_EINVAL". */
RR_EXTERN const char *rr_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
