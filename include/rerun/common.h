/* Small value types shared by every rerun-c header. */
#ifndef RERUN_COMMON_H
#define RERUN_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "errors.h"
#ifdef __cplusplus
extern "C" {
#endif
/** A string view: `len` bytes of UTF-8 at `ptr`, not necessarily NUL-terminated. */
typedef struct rr_str { const char *ptr; size_t len; } rr_str;
/** A byte span. */
typedef struct rr_bytes { const uint8_t *ptr; size_t len; } rr_bytes;

/** Allocator hooks with a user pointer. Any NULL member falls back to libc. */
typedef struct rr_allocator {
  void *ud;
  void *(*malloc)(void *ud, size_t size);
  void *(*realloc)(void *ud, void *ptr, size_t size);
  void (*free)(void *ud, void *ptr);
} rr_allocator;

/** Sets the process-wide allocator. Not thread-safe: call before any other
 *  rerun-c function, or never. NULL restores libc. */
RR_EXTERN void rr_set_allocator(const rr_allocator *a);
#ifdef __cplusplus
}
#endif
#endif
