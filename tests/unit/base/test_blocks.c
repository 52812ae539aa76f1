/* rr_blocks: carving, reference counts, the cache of free blocks and its bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/rr_blocks.h"
#include "base/rr_common.h"

#define MIB ((size_t)1 << 20)

static void check_stats(const rr_blocks *p, uint64_t live, uint64_t held, uint64_t blocks) {
  rr_blocks_stats st;
  rr__blocks_stats(p, &st);
  assert_int_equal(st.live, live);
  assert_int_equal(st.held, held);
  assert_int_equal(st.blocks, blocks);
}

static void test_carve(void **state) {
  (void)state;
  rr__blocks_set_cache_limit(0);
  rr_blocks *p = rr__blocks_new(4 * MIB, 0);
  assert_non_null(p);
  uint8_t *a[5];
  for (int i = 0; i < 4; i++) {
    a[i] = rr__blocks_alloc(p, MIB - 64);
    assert_non_null(a[i]);
    assert_int_equal((uintptr_t)a[i] % RR_BLOCKS_ALIGN, 0);
    assert_int_equal(rr__blocks_footprint(a[i]), MIB);
    memset(a[i], i + 1, MIB - 64); /* the whole allocation is writable */
  }
  /* four footprints of exactly 1 MiB fill one 4 MiB block, back to back */
  for (int i = 1; i < 4; i++) assert_ptr_equal(a[i], a[i - 1] + MIB);
  check_stats(p, 4 * MIB, 4 * MIB, 1);
  a[4] = rr__blocks_alloc(p, 100); /* below min_alloc: rr__malloc, not counted */
  assert_non_null(a[4]);
  assert_int_equal((uintptr_t)a[4] % RR_BLOCKS_ALIGN, 0);
  memset(a[4], 9, 100);
  check_stats(p, 4 * MIB, 4 * MIB, 1);
  rr__blocks_free(a[4]);
  a[4] = rr__blocks_alloc(p, 128 << 10); /* the full block cannot take it: a second one */
  check_stats(p, 4 * MIB + (128 << 10) + 64, 4 * MIB + (128 << 10) + 64, 2);
  for (int i = 0; i < 4; i++) assert_int_equal(a[i][MIB - 65], i + 1); /* neighbours intact */
  /* the first block is no longer current: it goes when its last allocation does */
  for (int i = 0; i < 3; i++) rr__blocks_free(a[i]);
  check_stats(p, MIB + (128 << 10) + 64, 4 * MIB + (128 << 10) + 64, 2); /* 3 MiB of holes */
  rr__blocks_free(a[3]);
  check_stats(p, (128 << 10) + 64, (128 << 10) + 64, 1);
  /* the current block rewinds when its last allocation goes */
  uint8_t *again = rr__blocks_alloc(p, 64 << 10), *first = a[4];
  assert_ptr_equal(again, a[4] + (128 << 10) + 64);
  rr__blocks_free(a[4]);
  check_stats(p, (64 << 10) + 64, (128 << 10) + (64 << 10) + 128, 1); /* a hole in front */
  rr__blocks_free(again);
  check_stats(p, 0, 0, 1);
  a[4] = rr__blocks_alloc(p, 128 << 10);
  assert_ptr_equal(a[4], first); /* from the start of the block again */
  /* the owner drops the pool: the allocation stays valid, then the block goes */
  rr__blocks_drop(p);
  memset(a[4], 7, 128 << 10);
  rr__blocks_free(a[4]);
  rr__blocks_free(NULL);
}

static void test_reuse_and_bound(void **state) {
  (void)state;
  rr__blocks_trim();
  rr__blocks_set_cache_limit(8 * MIB);
  assert_int_equal(rr__blocks_cache_bytes(), 0);
  rr_blocks *p = rr__blocks_new(4 * MIB, 0);
  /* three blocks of 4 MiB, each holding two allocations */
  uint8_t *a[6];
  for (int i = 0; i < 6; i++) a[i] = rr__blocks_alloc(p, 2 * MIB - 64);
  check_stats(p, 12 * MIB, 12 * MIB, 3);
  rr__blocks_drop(p);
  for (int i = 0; i < 6; i++) rr__blocks_free(a[i]);
  /* at most 8 MiB of free blocks are kept */
  assert_int_equal(rr__blocks_cache_bytes(), 8 * MIB);
  /* a new pool takes a cached block instead of mapping one */
  p = rr__blocks_new(4 * MIB, 0);
  uint8_t *b = rr__blocks_alloc(p, 2 * MIB - 64);
  assert_non_null(b);
  assert_int_equal(rr__blocks_cache_bytes(), 4 * MIB);
  assert_true(b == a[4] || b == a[2]); /* the memory of a freed block, reused */
  /* blocks of another size do not take it */
  rr_blocks *q = rr__blocks_new(2 * MIB, 0);
  uint8_t *c = rr__blocks_alloc(q, 512 << 10);
  assert_int_equal(rr__blocks_cache_bytes(), 4 * MIB);
  rr__blocks_free(c);
  rr__blocks_drop(q);
  assert_int_equal(rr__blocks_cache_bytes(), 6 * MIB);
  /* lowering the bound returns blocks at once */
  rr__blocks_set_cache_limit(0);
  assert_int_equal(rr__blocks_cache_bytes(), 0);
  rr__blocks_free(b);
  rr__blocks_drop(p);
  assert_int_equal(rr__blocks_cache_bytes(), 0);
}

static void test_own_block(void **state) {
  (void)state;
  rr__blocks_set_cache_limit(0);
  rr_blocks *p = rr__blocks_new(4 * MIB, 0);
  /* above half a block but below 8 MiB: rr__malloc, nothing held in blocks */
  uint8_t *m = rr__blocks_alloc(p, 2 * MIB + 1);
  assert_non_null(m);
  check_stats(p, 0, 0, 0);
  memset(m, 1, 2 * MIB + 1);
  rr__blocks_free(m);
  uint8_t *big = rr__blocks_alloc(p, 9 * MIB); /* a block of its own, 10 MiB */
  assert_non_null(big);
  check_stats(p, 9 * MIB + 64, 9 * MIB + 64, 1);
  memset(big, 1, 9 * MIB);
  rr__blocks_free(big);
  check_stats(p, 0, 0, 0);
  rr__blocks_drop(p);
  assert_null(rr__blocks_alloc(NULL, SIZE_MAX - 10));
}

/* Cached blocks go back to the system after the decay time, even when no
 * other block is freed or taken (the cache's thread expires them). */
static void test_decay(void **state) {
  (void)state;
  rr__blocks_trim();
  rr__blocks_set_cache_limit(16 * MIB);
  rr__blocks_set_cache_decay_ms(200);
  rr_blocks *p = rr__blocks_new(4 * MIB, 0);
  void *a = rr__blocks_alloc(p, MIB);
  rr__blocks_drop(p);
  rr__blocks_free(a);
  assert_int_equal(rr__blocks_cache_bytes(), 4 * MIB);
  for (int i = 0; i < 40 && rr__blocks_cache_bytes(); i++) {
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(rr__blocks_cache_bytes(), 0);
  rr__blocks_set_cache_decay_ms(RR_BLOCKS_CACHE_DECAY_MS);
}

/* A child forked while the cache holds blocks (and its thread runs) can
 * use the cache, and in the child cached blocks still expire. */
static void test_fork(void **state) {
  (void)state;
  rr__blocks_trim();
  rr__blocks_set_cache_limit(16 * MIB);
  rr__blocks_set_cache_decay_ms(200);
  for (int round = 0; round < 3; round++) {
    rr_blocks *p = rr__blocks_new(4 * MIB, 0);
    void *a = rr__blocks_alloc(p, MIB);
    rr__blocks_drop(p);
    rr__blocks_free(a); /* cached: the expiry thread is running */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      rr_blocks *q = rr__blocks_new(4 * MIB, 0);
      void *b = rr__blocks_alloc(q, MIB); /* takes the cached block */
      rr__blocks_drop(q);
      rr__blocks_free(b);
      for (int i = 0; i < 40 && rr__blocks_cache_bytes(); i++) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
      }
      _exit(rr__blocks_cache_bytes() == 0 ? 0 : 3);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  rr__blocks_trim();
  rr__blocks_set_cache_decay_ms(RR_BLOCKS_CACHE_DECAY_MS);
}

static void *churn(void *ud) {
  rr_blocks *p = ud;
  for (int i = 0; i < 2000; i++) {
    size_t n = (size_t)(64 << 10) + (size_t)(i % 7) * 4096;
    uint8_t *x = rr__blocks_alloc(p, n);
    if (!x) return (void *)1;
    memset(x, (int)i, n);
    if (x[n - 1] != (uint8_t)i) return (void *)1;
    rr__blocks_free(x);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  rr__blocks_set_cache_limit(16 * MIB);
  rr_blocks *p = rr__blocks_new(2 * MIB, 0);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, churn, p), 0);
  for (int i = 0; i < 3; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
  rr_blocks_stats st;
  rr__blocks_stats(p, &st);
  assert_int_equal(st.live, 0);
  assert_true(st.blocks <= 1); /* only the current block is left */
  rr__blocks_drop(p);
  rr__blocks_trim();
  assert_int_equal(rr__blocks_cache_bytes(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_carve),
      cmocka_unit_test(test_reuse_and_bound),
      cmocka_unit_test(test_own_block),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_decay),
      cmocka_unit_test(test_fork),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
