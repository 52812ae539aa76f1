/* This file is private to rerun-c.
 *
 * Large-block allocation: pools that carve allocations out of big blocks of
 * anonymous memory (2 MiB-aligned, transparent huge pages requested), a
 * process-wide bounded cache of free blocks, and allocations that can be
 * freed from any thread without knowing where they came from.
 *
 * Why: on virtual machines a first touch of a fresh 4 KiB page costs tens of
 * microseconds, so filling a gigabyte of malloc'd memory costs seconds. A
 * block is faulted in 2 MiB at a time, and a freed block is kept (bounded,
 * for a limited time) so that the next data reuses memory that is already
 * backed instead of asking the kernel for fresh pages.
 *
 * Invariants: every allocation starts RR_BLOCKS_ALIGN bytes after a header
 * naming its block (or none: small allocations come from rr__malloc); a
 * block counts one reference per live allocation plus one while it is its
 * pool's current block; a block whose count reaches zero leaves its pool
 * and goes to the cache or back to the system. A pool lives until its owner
 * dropped it and its last block left it, so allocations may outlive it. */
#ifndef RR_BLOCKS_H
#define RR_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#define RR_BLOCKS_ALIGN 64                      /* alignment of every allocation */
#define RR_BLOCKS_DEFAULT_SIZE ((size_t)32 << 20) /* 32 MiB blocks */
#define RR_BLOCKS_DEFAULT_MIN ((size_t)64 << 10)  /* smaller requests: rr__malloc */

typedef struct rr_blocks rr_blocks;

typedef struct rr_blocks_stats {
  uint64_t live;    /* footprint of the pool's allocations not yet freed */
  uint64_t held;    /* bytes its blocks handed out and still hold: live +
                     * the holes freed allocations left in blocks that are
                     * still in use (never-used block tails are not
                     * counted: they were never touched) */
  uint64_t blocks;  /* number of those blocks */
} rr_blocks_stats;

/* A new pool. block_size (0: RR_BLOCKS_DEFAULT_SIZE) is rounded up to 2 MiB;
 * requests below min_alloc (0: RR_BLOCKS_DEFAULT_MIN) are served by
 * rr__malloc, requests above half a block get a block of their own (or
 * rr__malloc when below 8 MiB). Returns
 * NULL when out of memory. The owner lets go with rr__blocks_drop. */
rr_blocks *rr__blocks_new(size_t block_size, size_t min_alloc);
/* The owner lets go of the pool (NULL accepted): no more allocations from
 * it; its memory is returned as its allocations are freed. */
void rr__blocks_drop(rr_blocks *p);

/* n bytes, RR_BLOCKS_ALIGN-aligned, from pool p (NULL: a process-wide
 * pool), or NULL when out of memory. Not zeroed. Free with
 * rr__blocks_free, from any thread. */
void *rr__blocks_alloc(rr_blocks *p, size_t n);
/* Frees an allocation of rr__blocks_alloc (NULL accepted). Thread-safe. */
void rr__blocks_free(void *ptr);
/* Bytes the allocation occupies: its size rounded up plus its header. */
size_t rr__blocks_footprint(const void *ptr);

/* Counters of pool p (NULL: the process-wide pool), read without a lock. */
void rr__blocks_stats(const rr_blocks *p, rr_blocks_stats *out);

/* The cache of free blocks (blocks of at most RR_BLOCKS_DEFAULT_SIZE;
 * taken again by blocks of the same size): at most `bytes`
 * (default: RR_BLOCKS_DEFAULT_CACHE or an eighth of the physical memory,
 * whichever is smaller; or the environment variable RERUN_BLOCK_CACHE_BYTES,
 * read once), each kept at most about RR_BLOCKS_CACHE_DECAY_MS after it
 * was freed (checked whenever a block is freed or taken, and once a second
 * by a detached thread that runs while the cache is not empty);
 * rr__blocks_trim returns every cached block at once. */
#define RR_BLOCKS_DEFAULT_CACHE ((size_t)2 << 30)
#define RR_BLOCKS_CACHE_DECAY_MS 10000
void rr__blocks_set_cache_limit(size_t bytes);
void rr__blocks_set_cache_decay_ms(int64_t ms); /* default RR_BLOCKS_CACHE_DECAY_MS */
size_t rr__blocks_cache_bytes(void);
void rr__blocks_trim(void);

#endif
