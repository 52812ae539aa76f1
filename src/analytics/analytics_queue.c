/* The pending-event directory: listing session files, keeping them within a
 * size bound (oldest dropped first) and the cross-run retry/back-off state.
 * A live process holds an exclusive flock() on its own session file, so other
 * processes of this implementation neither send nor delete it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/analytics_internal.h"

void rr__an_pending_free(struct rr_an_pending *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    rr__free(p[i].path);
    rr__free(p[i].session_id);
  }
  rr__free(p);
}

static int by_age(const void *a, const void *b) {
  const struct rr_an_pending *x = a, *y = b;
  if (x->mtime_ns != y->mtime_ns) return x->mtime_ns < y->mtime_ns ? -1 : 1;
  return strcmp(x->path, y->path);
}

int rr__an_list_pending(const char *dir, const char *skip_name, struct rr_an_pending **out, size_t *n) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? RR_OK : RR_EIO;
  struct rr_an_pending *v = NULL;
  size_t cap = 0, cnt = 0;
  int rc = RR_OK;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t nl = strlen(de->d_name);
    const size_t sl = sizeof RR_AN_SUFFIX - 1;
    if (nl <= sl || strcmp(de->d_name + nl - sl, RR_AN_SUFFIX)) continue;
    if (skip_name && !strcmp(de->d_name, skip_name)) continue;
    if (!rr__utf8_valid(de->d_name, nl)) continue;
    size_t pl = strlen(dir) + nl + 2;
    char *path = rr__malloc(pl);
    if (!path) { rc = RR_ENOMEM; break; }
    snprintf(path, pl, "%s/%s", dir, de->d_name);
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) { rr__free(path); continue; } /* no symlinks */
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 8;
      struct rr_an_pending *nv = rr__realloc(v, nc * sizeof *nv);
      if (!nv) { rr__free(path); rc = RR_ENOMEM; break; }
      v = nv;
      cap = nc;
    }
    v[cnt].path = path;
    v[cnt].session_id = rr__strndup(de->d_name, nl - sl);
    v[cnt].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    v[cnt].size = (uint64_t)st.st_size;
    cnt++;
    if (!v[cnt - 1].session_id) { rc = RR_ENOMEM; break; }
  }
  closedir(d);
  if (rc < 0) { rr__an_pending_free(v, cnt); return rc; }
  if (cnt) qsort(v, cnt, sizeof *v, by_age);
  *out = v;
  *n = cnt;
  return RR_OK;
}

void rr__an_prune(const char *dir, const char *own_name, uint64_t max) {
  struct rr_an_pending *v;
  size_t n;
  if (rr__an_list_pending(dir, NULL, &v, &n) < 0) return;
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += v[i].size;
  for (size_t i = 0; i < n && total > max; i++) {
    const char *base = strrchr(v[i].path, '/');
    if (own_name && base && !strcmp(base + 1, own_name)) continue;
    int fd = open(v[i].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) { /* not held by a live process */
      if (unlink(v[i].path) == 0) {
        total -= v[i].size;
        rr__log(RR_LOG_INFO, "analytics: dropped old pending events %s (over %llu bytes)", v[i].path,
                (unsigned long long)max);
      }
    }
    close(fd);
  }
  rr__an_pending_free(v, n);
}

/* ---- retry state -------------------------------------------------------------------- */
static char *state_path(const char *dir) {
  size_t n = strlen(dir) + sizeof RR_AN_STATE_FILE + 2;
  char *p = rr__malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, RR_AN_STATE_FILE);
  return p;
}

void rr__an_retry_load(const char *dir, struct rr_an_retry *r) {
  r->failures = 0;
  r->next_attempt_s = 0;
  char *path = state_path(dir), *text = NULL;
  size_t len;
  if (!path) return;
  if (rr__read_file(path, 4096, &text, &len, NULL) == RR_OK) {
    struct rr_json *j = NULL;
    if (rr__json_parse(text, len, &j, NULL) == RR_OK) {
      const struct rr_json *f = rr__json_get(j, "failures"), *t = rr__json_get(j, "next_attempt_unix_s");
      if (f && f->type == RR_JNUM && f->is_int && f->i > 0 && t && t->type == RR_JNUM && t->is_int) {
        r->failures = f->i;
        r->next_attempt_s = t->i;
      }
      rr__json_free(j);
    }
    rr__free(text);
  }
  rr__free(path);
}

int64_t rr__an_backoff_s(int64_t failures) {
  /* 1 min, 2, 4, ... capped at 6 h. */
  if (failures <= 0) return 0;
  int64_t s = 60;
  for (int64_t i = 1; i < failures && s < 6 * 3600; i++) s *= 2;
  return s > 6 * 3600 ? 6 * 3600 : s;
}

int rr__an_retry_record(const char *dir, bool success, int64_t now_s) {
  char *path = state_path(dir);
  if (!path) return RR_ENOMEM;
  int rc = RR_OK;
  if (success) {
    if (unlink(path) < 0 && errno != ENOENT) rc = RR_EIO;
  } else {
    struct rr_an_retry r;
    rr__an_retry_load(dir, &r);
    r.failures++;
    r.next_attempt_s = now_s + rr__an_backoff_s(r.failures);
    char text[128];
    int tl = snprintf(text, sizeof text, "{\"failures\":%lld,\"next_attempt_unix_s\":%lld}",
                      (long long)r.failures, (long long)r.next_attempt_s);
    size_t tn = strlen(path) + 32;
    char *tmp = rr__malloc(tn);
    if (!tmp) { rr__free(path); return RR_ENOMEM; }
    snprintf(tmp, tn, "%s.tmp-%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) rc = RR_EIO;
    else {
      if (write(fd, text, (size_t)tl) != tl) rc = RR_EIO;
      close(fd);
      if (rc == RR_OK && rename(tmp, path) < 0) rc = RR_EIO;
      if (rc < 0) unlink(tmp);
    }
    rr__free(tmp);
  }
  rr__free(path);
  return rc;
}
