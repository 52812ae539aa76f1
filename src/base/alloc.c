/* Allocation through the process-wide hooks (rr_set_allocator). */
#include <stdlib.h>

#include "rr_common.h"

static rr_allocator g_alloc; /* set once before use; see rr_set_allocator */

void rr_set_allocator(const rr_allocator *a) {
  if (a) g_alloc = *a;
  else memset(&g_alloc, 0, sizeof g_alloc);
}

void *rr__malloc(size_t n) {
  if (n == 0) n = 1;
  return g_alloc.malloc ? g_alloc.malloc(g_alloc.ud, n) : malloc(n);
}

void *rr__calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  void *p = rr__malloc(count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

void *rr__realloc(void *p, size_t n) {
  if (n == 0) n = 1;
  return g_alloc.realloc ? g_alloc.realloc(g_alloc.ud, p, n) : realloc(p, n);
}

void rr__free(void *p) {
  if (!p) return;
  if (g_alloc.free) g_alloc.free(g_alloc.ud, p);
  else free(p);
}

char *rr__strndup(const char *s, size_t n) {
  char *d = rr__malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *rr__strdup(const char *s) { return s ? rr__strndup(s, strlen(s)) : NULL; }
