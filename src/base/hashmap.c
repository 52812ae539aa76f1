/* A small open-addressing hash map from byte strings to pointers. Deletion
 * uses backward-shift, so there are no tombstones. */
#include "rr_common.h"

uint64_t rr__hash(const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
  h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;
  return h;
}

static size_t find(const rr_map *m, const void *key, size_t keylen, uint64_t h) {
  size_t mask = m->cap - 1, i = h & mask;
  while (m->slots[i].key) {
    const rr_map_entry *e = &m->slots[i];
    if (e->hash == h && e->keylen == keylen && !memcmp(e->key, key, keylen)) return i;
    i = (i + 1) & mask;
  }
  return i;
}

void *rr_map_get(const rr_map *m, const void *key, size_t keylen) {
  if (!m->cap) return NULL;
  size_t i = find(m, key, keylen, rr__hash(key, keylen));
  return m->slots[i].key ? m->slots[i].value : NULL;
}

static int grow(rr_map *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  rr_map_entry *ns = rr__calloc(ncap, sizeof *ns);
  if (!ns) return RR_ENOMEM;
  rr_map old = *m;
  m->slots = ns;
  m->cap = ncap;
  for (size_t i = 0; i < old.cap; i++)
    if (old.slots[i].key) m->slots[find(m, old.slots[i].key, old.slots[i].keylen, old.slots[i].hash)] = old.slots[i];
  rr__free(old.slots);
  return RR_OK;
}

int rr_map_put(rr_map *m, const void *key, size_t keylen, void *value) {
  if ((m->len + 1) * 4 > m->cap * 3) RR_TRY(grow(m));
  uint64_t h = rr__hash(key, keylen);
  size_t i = find(m, key, keylen, h);
  rr_map_entry *e = &m->slots[i];
  if (!e->key) {
    e->key = rr__strndup(key, keylen);
    if (!e->key) return RR_ENOMEM;
    e->keylen = keylen;
    e->hash = h;
    m->len++;
  }
  e->value = value;
  return RR_OK;
}

void *rr_map_remove(rr_map *m, const void *key, size_t keylen) {
  if (!m->cap) return NULL;
  size_t mask = m->cap - 1, i = find(m, key, keylen, rr__hash(key, keylen));
  if (!m->slots[i].key) return NULL;
  void *v = m->slots[i].value;
  rr__free(m->slots[i].key);
  m->slots[i].key = NULL;
  m->len--;
  /* backward-shift the following cluster */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->slots[j].key) break;
    size_t home = m->slots[j].hash & mask;
    bool between = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (between) continue;
    m->slots[i] = m->slots[j];
    m->slots[j].key = NULL;
    i = j;
  }
  return v;
}

void rr_map_free(rr_map *m) {
  for (size_t i = 0; i < m->cap; i++) rr__free(m->slots[i].key);
  rr__free(m->slots);
  m->slots = NULL;
  m->cap = m->len = 0;
}
