/* Time, randomness, TUIDs and UTF-8 validation. */
#include <pthread.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "rr_common.h"

int64_t rr__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t rr__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rr__random_bytes(void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = getrandom(b, n, 0);
    if (r <= 0) { /* practically unreachable; fall back to a time-seeded mix */
      uint64_t x = (uint64_t)rr__mono_ns() ^ (uint64_t)(uintptr_t)&r;
      for (; n; n--) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; *b++ = (uint8_t)x; }
      return;
    }
    b += r;
    n -= (size_t)r;
  }
}

uint64_t rr__random_u64(void) {
  uint64_t v;
  rr__random_bytes(&v, sizeof v);
  return v;
}

/* Per-thread state, as rerun's re_tuid: `inc` starts at a random value with
 * the top bit clear and counts up by one for every id of the thread; time_ns
 * never goes backwards within a thread. So ids from one thread strictly
 * increase, and ids of different threads are ordered by time. */
static _Thread_local rr_tuid t_last;
static _Thread_local bool t_seeded;

/* A forked child continues in a copy of the forking thread: give it its own
 * sequence, or parent and child would make the same ids. */
static void reseed_in_child(void) { t_seeded = false; }
static void install_reseed(void) { pthread_atfork(NULL, NULL, reseed_in_child); }
static pthread_once_t g_reseed_once = PTHREAD_ONCE_INIT;

rr_tuid rr__tuid_new(void) { return rr__tuid_new_at(rr__now_ns()); }

rr_tuid rr__tuid_new_at(int64_t now_ns) {
  if (RR__UNLIKELY(!t_seeded)) {
    pthread_once(&g_reseed_once, install_reseed);
    t_last.inc = rr__random_u64() & ~(1ull << 63);
    t_seeded = true;
  }
  uint64_t now = (uint64_t)now_ns;
  if (now > t_last.time_ns) t_last.time_ns = now;
  t_last.inc++;
  return t_last;
}

/* 16 hex digits of v, upper or lower case (every chunk id is formatted:
 * snprintf cost more than the rest of encoding a small chunk's id). */
static void hex16(char *out, uint64_t v, const char *digits) {
  for (int i = 15; i >= 0; i--, v >>= 4) out[i] = digits[v & 15];
}

void rr__tuid_format(rr_tuid t, char out[33]) {
  hex16(out, t.time_ns, "0123456789ABCDEF");
  hex16(out + 16, t.inc, "0123456789abcdef");
  out[32] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int rr__tuid_parse(const char *s, size_t len, rr_tuid *out) {
  if (len != 32) return RR_EINVAL;
  uint64_t v[2] = {0, 0};
  for (size_t i = 0; i < 32; i++) {
    int h = hexval(s[i]);
    if (h < 0) return RR_EINVAL;
    v[i / 16] = (v[i / 16] << 4) | (uint64_t)h;
  }
  out->time_ns = v[0];
  out->inc = v[1];
  return RR_OK;
}

bool rr__utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
    else return false;
    if (n - i <= k) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += k + 1;
  }
  return true;
}
