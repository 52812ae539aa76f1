/* Large-block pools with a bounded cache of free blocks; see rr_blocks.h. */
#include "rr_blocks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rr_common.h"

#define HUGE_SZ ((size_t)2 << 20)
#define HDR_MAGIC 0x6b636f6c42527272ull /* "rrRBlock" */

struct blk {
  uint8_t *base;
  size_t size;
  size_t used;            /* bump offset (under the pool's lock) */
  atomic_size_t refs;     /* live allocations + 1 while current */
  struct rr_blocks *pool;
  struct blk *next;       /* in the cache */
  int64_t freed_ns;       /* when it entered the cache */
};

/* RR_BLOCKS_ALIGN bytes in front of every allocation. */
struct hdr {
  uint64_t magic;
  struct blk *blk;        /* NULL: from rr__malloc */
  size_t foot;            /* footprint counted in the pool */
};
_Static_assert(sizeof(struct hdr) <= RR_BLOCKS_ALIGN, "header fits its slot");

struct rr_blocks {
  pthread_mutex_t mu;
  struct blk *cur;
  size_t block_size, min_alloc;
  atomic_size_t refs;     /* 1 for the owner + 1 per block */
  atomic_uint_fast64_t live, held, blocks;
  bool is_static;
};

static struct rr_blocks g_pool = {PTHREAD_MUTEX_INITIALIZER, NULL, RR_BLOCKS_DEFAULT_SIZE,
                                  RR_BLOCKS_DEFAULT_MIN, 1, 0, 0, 0, true};

static struct {
  pthread_mutex_t mu;
  struct blk *head;       /* most recently freed first */
  size_t bytes, limit;
  bool limit_set;
  bool reaper;            /* the thread that expires idle blocks is running */
  int64_t decay_ns;
} g_cache = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, false, false, (int64_t)RR_BLOCKS_CACHE_DECAY_MS * 1000000};

/* ---- mappings -------------------------------------------------------------- */

static void *map_aligned(size_t size) {
  size_t len = size + HUGE_SZ;
  uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
  if (a > p) munmap(p, (size_t)(a - p));
  if (p + len > a + size) munmap(a + size, (size_t)(p + len - (a + size)));
#if defined(MADV_HUGEPAGE)
  (void)madvise(a, size, MADV_HUGEPAGE);
#endif
  return a;
}

static void blk_destroy(struct blk *b) {
  munmap(b->base, b->size);
  rr__free(b);
}

/* ---- the cache --------------------------------------------------------------- */

static size_t cache_limit_locked(void) {
  if (!g_cache.limit_set) {
    g_cache.limit = RR_BLOCKS_DEFAULT_CACHE;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0 && (uint64_t)pages * (uint64_t)psz / 8 < g_cache.limit)
      g_cache.limit = (size_t)((uint64_t)pages * (uint64_t)psz / 8);
    const char *e = getenv("RERUN_BLOCK_CACHE_BYTES");
    if (e && *e) {
      char *end = NULL;
      unsigned long long v = strtoull(e, &end, 10);
      if (end && *end == 0) g_cache.limit = (size_t)v;
    }
    g_cache.limit_set = true;
  }
  return g_cache.limit;
}

/* Unlinks cached blocks that are too old or over the limit; returns them
 * as a list for the caller to unmap outside the lock. */
static struct blk *cache_expire_locked(int64_t now, size_t limit) {
  struct blk *dead = NULL, **pp = &g_cache.head;
  size_t kept = 0;
  while (*pp) {
    struct blk *b = *pp;
    bool old = now - b->freed_ns > g_cache.decay_ns;
    if (old || kept + b->size > limit) {
      *pp = b->next;
      g_cache.bytes -= b->size;
      b->next = dead;
      dead = b;
    } else {
      kept += b->size;
      pp = &b->next;
    }
  }
  return dead;
}

static void destroy_list(struct blk *b) {
  while (b) {
    struct blk *n = b->next;
    blk_destroy(b);
    b = n;
  }
}

/* While the cache holds blocks, a detached thread expires them once a
 * second, so that a process that goes idle after freeing a store still
 * returns the memory after the decay time (as jemalloc's background
 * thread). It exits when the cache is empty. */
static void *reaper_main(void *ud) {
  (void)ud;
  for (;;) {
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&g_cache.mu);
    struct blk *dead = cache_expire_locked(rr__mono_ns(), cache_limit_locked());
    bool empty = g_cache.head == NULL;
    if (empty) g_cache.reaper = false;
    pthread_mutex_unlock(&g_cache.mu);
    destroy_list(dead);
    if (empty) return NULL;
  }
}

/* fork(): the cache lock must not be inherited held (the reaper may hold
 * it at that moment), and the child has no reaper thread. */
static void fork_prepare(void) { pthread_mutex_lock(&g_cache.mu); }
static void fork_parent(void) { pthread_mutex_unlock(&g_cache.mu); }
static void fork_child(void) {
  g_cache.reaper = false;
  pthread_mutex_unlock(&g_cache.mu);
}
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;
static void register_fork(void) { (void)pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* Caller holds the cache lock. Best effort: without the thread, blocks
 * still expire whenever a block is freed or taken. */
static void start_reaper_locked(void) {
  if (g_cache.reaper || !g_cache.head) return;
  pthread_once(&g_fork_once, register_fork);
  pthread_attr_t a;
  if (pthread_attr_init(&a) != 0) return;
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 << 10);
  pthread_t t;
  if (pthread_create(&t, &a, reaper_main, NULL) == 0) g_cache.reaper = true;
  pthread_attr_destroy(&a);
}

static void cache_put(struct blk *b) {
  int64_t now = rr__mono_ns();
  pthread_mutex_lock(&g_cache.mu);
  size_t limit = cache_limit_locked();
  struct blk *dead = NULL;
  if (b->size <= RR_BLOCKS_DEFAULT_SIZE && b->size <= limit) {
    b->freed_ns = now;
    b->next = g_cache.head;
    g_cache.head = b;
    g_cache.bytes += b->size;
    b = NULL;
  }
  dead = cache_expire_locked(now, limit);
  start_reaper_locked();
  pthread_mutex_unlock(&g_cache.mu);
  if (b) blk_destroy(b);
  destroy_list(dead);
}

static struct blk *cache_take(size_t size) {
  if (size > RR_BLOCKS_DEFAULT_SIZE) return NULL;
  int64_t now = rr__mono_ns();
  pthread_mutex_lock(&g_cache.mu);
  struct blk *dead = cache_expire_locked(now, cache_limit_locked());
  struct blk **pp = &g_cache.head, *b;
  while ((b = *pp) && b->size != size) pp = &b->next;
  if (b) {
    *pp = b->next;
    g_cache.bytes -= b->size;
  }
  pthread_mutex_unlock(&g_cache.mu);
  destroy_list(dead);
  return b;
}

void rr__blocks_set_cache_limit(size_t bytes) {
  pthread_mutex_lock(&g_cache.mu);
  g_cache.limit = bytes;
  g_cache.limit_set = true;
  struct blk *dead = cache_expire_locked(rr__mono_ns(), bytes);
  pthread_mutex_unlock(&g_cache.mu);
  destroy_list(dead);
}

void rr__blocks_set_cache_decay_ms(int64_t ms) {
  pthread_mutex_lock(&g_cache.mu);
  g_cache.decay_ns = ms * 1000000;
  pthread_mutex_unlock(&g_cache.mu);
}

size_t rr__blocks_cache_bytes(void) {
  pthread_mutex_lock(&g_cache.mu);
  size_t n = g_cache.bytes;
  pthread_mutex_unlock(&g_cache.mu);
  return n;
}

void rr__blocks_trim(void) {
  pthread_mutex_lock(&g_cache.mu);
  struct blk *dead = g_cache.head;
  g_cache.head = NULL;
  g_cache.bytes = 0;
  pthread_mutex_unlock(&g_cache.mu);
  destroy_list(dead);
}

/* ---- pools ------------------------------------------------------------------- */

static void pool_unref(struct rr_blocks *p) {
  if (p->is_static || atomic_fetch_sub(&p->refs, 1) != 1) return;
  pthread_mutex_destroy(&p->mu);
  rr__free(p);
}

rr_blocks *rr__blocks_new(size_t block_size, size_t min_alloc) {
  struct rr_blocks *p = rr__calloc(1, sizeof *p);
  if (!p) return NULL;
  if (pthread_mutex_init(&p->mu, NULL) != 0) { rr__free(p); return NULL; }
  if (!block_size) block_size = RR_BLOCKS_DEFAULT_SIZE;
  if (block_size > SIZE_MAX / 2) block_size = SIZE_MAX / 2;
  p->block_size = (block_size + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
  p->min_alloc = min_alloc ? min_alloc : RR_BLOCKS_DEFAULT_MIN;
  atomic_init(&p->refs, 1);
  atomic_init(&p->live, 0);
  atomic_init(&p->held, 0);
  atomic_init(&p->blocks, 0);
  return p;
}

/* The block leaves its pool: to the cache or back to the system. */
static void blk_release(struct blk *b) {
  struct rr_blocks *p = b->pool;
  atomic_fetch_sub(&p->held, b->used);
  atomic_fetch_sub(&p->blocks, 1);
  b->pool = NULL;
  b->used = 0;
  cache_put(b);
  pool_unref(p);
}

static void blk_unref(struct blk *b) {
  if (atomic_fetch_sub(&b->refs, 1) == 1) blk_release(b);
}

void rr__blocks_drop(rr_blocks *p) {
  if (!p || p->is_static) return;
  pthread_mutex_lock(&p->mu);
  struct blk *cur = p->cur;
  p->cur = NULL;
  pthread_mutex_unlock(&p->mu);
  if (cur) blk_unref(cur);
  pool_unref(p);
}

/* A block of `size` bytes joining pool p with `refs` references. */
static struct blk *blk_get(struct rr_blocks *p, size_t size, size_t refs) {
  struct blk *b = cache_take(size);
  if (!b) {
    b = rr__calloc(1, sizeof *b);
    if (!b) return NULL;
    b->base = map_aligned(size);
    if (!b->base) { rr__free(b); return NULL; }
    b->size = size;
  }
  b->used = 0;
  b->next = NULL;
  b->pool = p;
  atomic_init(&b->refs, refs);
  if (!p->is_static) atomic_fetch_add(&p->refs, 1);
  atomic_fetch_add(&p->blocks, 1);
  return b;
}

static void *finish(struct blk *b, uint8_t *at, size_t foot) {
  struct hdr *h = (struct hdr *)at;
  h->magic = HDR_MAGIC;
  h->blk = b;
  h->foot = foot;
  return at + RR_BLOCKS_ALIGN;
}

void *rr__blocks_alloc(rr_blocks *p, size_t n) {
  if (!p) p = &g_pool;
  if (n > SIZE_MAX - 2 * HUGE_SZ) return NULL;
  size_t foot = RR_BLOCKS_ALIGN + ((n + RR_BLOCKS_ALIGN - 1) & ~(size_t)(RR_BLOCKS_ALIGN - 1));
  /* small requests, and requests too large for a shared block but too
   * small for a block of their own without much rounding: rr__malloc */
  bool own = foot > p->block_size / 2;
  if (n < p->min_alloc || (own && foot < 4 * HUGE_SZ)) {
    /* rr__malloc gives 16-byte alignment: over-allocate to align the slot */
    uint8_t *raw = rr__malloc(foot + RR_BLOCKS_ALIGN);
    if (!raw) return NULL;
    uint8_t *at = (uint8_t *)(((uintptr_t)raw + RR_BLOCKS_ALIGN - 1) & ~(uintptr_t)(RR_BLOCKS_ALIGN - 1));
    if (at == raw) at += RR_BLOCKS_ALIGN; /* room in front for the raw pointer */
    ((uint8_t **)at)[-1] = raw;
    return finish(NULL, at, foot);
  }
  if (own) {
    /* a block of its own, not shared: returned whole when freed */
    size_t size = (foot + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
    struct blk *b = blk_get(p, size, 1);
    if (!b) return NULL;
    b->used = foot;
    atomic_fetch_add(&p->live, foot);
    atomic_fetch_add(&p->held, foot);
    return finish(b, b->base, foot);
  }
  /* mapping a new block under the pool's lock is rare (one per block) */
  pthread_mutex_lock(&p->mu);
  struct blk *b = p->cur, *old = NULL;
  if (!b || b->size - b->used < foot) {
    struct blk *nb = blk_get(p, p->block_size, 1);
    if (!nb) { pthread_mutex_unlock(&p->mu); return NULL; }
    old = b;
    p->cur = b = nb;
  }
  uint8_t *at = b->base + b->used;
  b->used += foot;
  atomic_fetch_add(&b->refs, 1);
  atomic_fetch_add(&p->live, foot);
  atomic_fetch_add(&p->held, foot);
  pthread_mutex_unlock(&p->mu);
  if (old) blk_unref(old); /* no longer current */
  return finish(b, at, foot);
}

void rr__blocks_free(void *ptr) {
  if (!ptr) return;
  uint8_t *at = (uint8_t *)ptr - RR_BLOCKS_ALIGN;
  struct hdr *h = (struct hdr *)at;
  struct blk *b = h->blk;
  h->magic = 0;
  if (!b) {
    rr__free(((uint8_t **)at)[-1]);
    return;
  }
  /* The pool outlives this call: the block holds a reference to it until
   * it is released, and it is released only after our decrement. Under the
   * pool's lock, the current block whose last allocation goes is rewound:
   * its memory is reused from the start instead of leaving a hole. */
  struct rr_blocks *p = b->pool;
  pthread_mutex_lock(&p->mu);
  atomic_fetch_sub(&p->live, h->foot);
  size_t left = atomic_fetch_sub(&b->refs, 1) - 1;
  if (left == 1 && p->cur == b) {
    atomic_fetch_sub(&p->held, b->used);
    b->used = 0;
  }
  pthread_mutex_unlock(&p->mu);
  if (left == 0) blk_release(b);
}

size_t rr__blocks_footprint(const void *ptr) {
  if (!ptr) return 0;
  const struct hdr *h = (const struct hdr *)((const uint8_t *)ptr - RR_BLOCKS_ALIGN);
  return h->foot;
}

void rr__blocks_stats(const rr_blocks *p, rr_blocks_stats *out) {
  if (!p) p = &g_pool;
  out->live = atomic_load(&p->live);
  out->held = atomic_load(&p->held);
  out->blocks = atomic_load(&p->blocks);
}
