/* analytics.json: locations (spec §1.1), format (§1.2), loading and saving,
 * plus the environment switches and small file helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/analytics_internal.h"

#define MAX_CONFIG_BYTES (1u << 20)

/* ---- file helpers --------------------------------------------------------------- */
int rr__mkdirs(const char *path) {
  size_t n = strlen(path);
  char *p = rr__strdup(path);
  if (!p) return RR_ENOMEM;
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != 0) continue;
    char c = p[i];
    p[i] = 0;
    if (mkdir(p, 0700) < 0 && errno != EEXIST) { rr__free(p); return RR_EIO; }
    p[i] = c;
  }
  rr__free(p);
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? RR_OK : RR_EIO;
}

int rr__read_file(const char *path, size_t max, char **out, size_t *len, rr_error *err) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? rr__err(err, RR_ENOTFOUND, "%s: not found", path)
                           : rr__err(err, RR_EIO, "%s: %s", path, strerror(errno));
  rr_buf b = RR_BUF_INIT;
  int rc = RR_OK;
  for (;;) {
    if ((rc = rr_buf_reserve(&b, 4096)) < 0) break;
    ssize_t r = read(fd, b.data + b.len, 4096);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { rc = rr__err(err, RR_EIO, "%s: %s", path, strerror(errno)); break; }
    if (r == 0) break;
    b.len += (size_t)r;
    if (b.len > max) { rc = rr__err(err, RR_ERANGE, "%s: larger than %zu bytes", path, max); break; }
  }
  close(fd);
  if (rc == RR_OK) rc = rr_buf_append(&b, "", 1);
  if (rc < 0) { rr_buf_free(&b); return rc; }
  *len = b.len - 1;
  *out = (char *)rr_buf_steal(&b, NULL);
  return RR_OK;
}

int rr__rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? RR_OK : RR_EIO;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? RR_OK : RR_EIO;
  DIR *d = opendir(path);
  if (!d) return RR_EIO;
  int rc = RR_OK;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    size_t n = strlen(path) + strlen(de->d_name) + 2;
    char *c = rr__malloc(n);
    if (!c) { rc = RR_ENOMEM; break; }
    snprintf(c, n, "%s/%s", path, de->d_name);
    if (rr__rm_rf(c) < 0) rc = RR_EIO;
    rr__free(c);
  }
  closedir(d);
  if (rmdir(path) < 0 && errno != ENOENT) rc = RR_EIO;
  return rc;
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *s = rr__malloc(n);
  if (s) snprintf(s, n, "%s/%s", a, b);
  return s;
}

/* ---- locations ---------------------------------------------------------------------- */
static const char *home_dir(void) {
  const char *h = getenv("HOME");
  if (h && h[0]) return h;
  struct passwd pw, *res = NULL;
  static _Thread_local char buf[4096];
  if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_dir && res->pw_dir[0])
    return res->pw_dir;
  return NULL;
}

int rr__an_default_paths(char **config_file, char **data_dir, rr_error *err) {
  *config_file = *data_dir = NULL;
  const char *home = home_dir();
#if defined(__APPLE__)
  if (!home) return rr__err(err, RR_ENOTFOUND, "Couldn't compute config location: no home directory");
  char *base = join(home, "Library/Application Support/rerun");
  if (!base) return RR_ENOMEM;
  *config_file = join(base, "analytics.json");
  *data_dir = join(base, "analytics");
  rr__free(base);
#else
  const char *xc = getenv("XDG_CONFIG_HOME"), *xd = getenv("XDG_DATA_HOME");
  bool cabs = xc && xc[0] == '/', dabs = xd && xd[0] == '/'; /* XDG values count only if absolute */
  if ((!cabs || !dabs) && !home)
    return rr__err(err, RR_ENOTFOUND, "Couldn't compute config location: no home directory");
  char *cbase = cabs ? rr__strdup(xc) : join(home, ".config");
  char *dbase = dabs ? rr__strdup(xd) : join(home, ".local/share");
  if (cbase) *config_file = join(cbase, "rerun/analytics.json");
  if (dbase) *data_dir = join(dbase, "rerun/analytics");
  rr__free(cbase);
  rr__free(dbase);
#endif
  if (!*config_file || !*data_dir) {
    rr__free(*config_file);
    rr__free(*data_dir);
    *config_file = *data_dir = NULL;
    return rr__err(err, RR_ENOMEM, "out of memory");
  }
  return RR_OK;
}

/* ---- environment ------------------------------------------------------------------------- */
static bool truthy(const char *v) {
  return v && (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

const char *rr__an_env_disabled(void) {
  const char *ra = getenv("RERUN_ANALYTICS");
  if (ra && (!strcasecmp(ra, "off") || !strcasecmp(ra, "0") || !strcasecmp(ra, "false") || !strcasecmp(ra, "no")))
    return "RERUN_ANALYTICS is set to off";
  const char *dnt = getenv("DO_NOT_TRACK");
  if (dnt && dnt[0] && strcmp(dnt, "0") && strcasecmp(dnt, "false")) return "DO_NOT_TRACK is set";
  /* FORCE_RERUN_ANALYTICS overrides only CI (never the user's own opt-outs). */
  if (getenv("CI") && !truthy(getenv("FORCE_RERUN_ANALYTICS"))) return "CI is set";
  return NULL;
}

/* ---- config ------------------------------------------------------------------------------ */
void rr__an_config_free(struct rr_an_config *cfg) {
  rr__free(cfg->id);
  rr__free(cfg->config_path);
  rr__free(cfg->data_dir);
  rr__props_free(&cfg->metadata);
  memset(cfg, 0, sizeof *cfg);
}

int rr__an_config_new(struct rr_an_config *cfg, const char *config_path, const char *data_dir) {
  memset(cfg, 0, sizeof *cfg);
  char id[37];
  rr__uuid4(id, false);
  cfg->enabled = true;
  cfg->id = rr__strdup(id);
  cfg->config_path = rr__strdup(config_path);
  cfg->data_dir = rr__strdup(data_dir);
  if (!cfg->id || !cfg->config_path || !cfg->data_dir) {
    rr__an_config_free(cfg);
    return RR_ENOMEM;
  }
  return RR_OK;
}

static bool is_str(const struct rr_json *v) { return v && v->type == RR_JSTR && strlen(v->s) == v->slen; }

int rr__an_config_load(const char *path, struct rr_an_config *cfg, int *status, rr_error *err) {
  memset(cfg, 0, sizeof *cfg);
  *status = RR_CFG_MISSING;
  char *text = NULL;
  size_t len = 0;
  int rc = rr__read_file(path, MAX_CONFIG_BYTES, &text, &len, err);
  if (rc == RR_ENOTFOUND) return RR_OK;
  if (rc == RR_ENOMEM) return rc;
  struct rr_json *j = NULL;
  if (rc == RR_OK) rc = rr__json_parse(text, len, &j, err);
  rr__free(text);
  if (rc == RR_ENOMEM) return rc;
  *status = RR_CFG_DAMAGED;
  if (rc < 0) return RR_OK; /* err already names the problem */
  const struct rr_json *en = rr__json_get(j, "analytics_enabled"), *id = rr__json_get(j, "analytics_id"),
                       *md = rr__json_get(j, "metadata"), *cp = rr__json_get(j, "config_file_path"),
                       *dp = rr__json_get(j, "data_dir_path");
  /* What can be salvaged from a damaged file: an explicit choice and the id. */
  cfg->enabled = en && en->type == RR_JBOOL && en->b;
  if (is_str(id) && id->slen) cfg->id = rr__strdup(id->s);
  const char *why = NULL;
  if (j->type != RR_JOBJ) why = "not a JSON object";
  else if (!en || en->type != RR_JBOOL) why = "\"analytics_enabled\" is missing or not a boolean";
  else if (!is_str(id)) why = "\"analytics_id\" is missing or not a string";
  else if (!is_str(cp) || cp->s[0] != '/') why = "\"config_file_path\" is missing or not an absolute path";
  else if (!is_str(dp) || dp->s[0] != '/') why = "\"data_dir_path\" is missing or not an absolute path";
  else if (md && md->type != RR_JOBJ && md->type != RR_JNULL) why = "\"metadata\" is not an object";
  if (!why && md && md->type == RR_JOBJ)
    for (size_t i = 0; i < md->n && !why; i++)
      if (rr__prop_from_tagged(&cfg->metadata, md->keys[i], &md->items[i]) < 0) why = "bad \"metadata\" entry";
  if (why) {
    rr__json_free(j);
    rr__err(err, RR_ECORRUPT, "%s", why);
    return RR_OK;
  }
  cfg->config_path = rr__strdup(cp->s);
  cfg->data_dir = rr__strdup(dp->s);
  rr__json_free(j);
  if (!cfg->id || !cfg->config_path || !cfg->data_dir) {
    rr__an_config_free(cfg);
    return RR_ENOMEM;
  }
  *status = RR_CFG_LOADED;
  return RR_OK;
}

int rr__an_config_json(rr_buf *b, const struct rr_an_config *cfg, int indent) {
  /* Build the text compactly, then re-indent through the DOM when asked. */
  rr_buf c = RR_BUF_INIT;
  int rc = rr__json_put_raw(&c, cfg->enabled ? "{\"analytics_enabled\":true" : "{\"analytics_enabled\":false");
  if (rc == RR_OK) rc = rr__json_put_raw(&c, ",\"analytics_id\":");
  if (rc == RR_OK) rc = rr__json_put_cstr(&c, cfg->id);
  if (rc == RR_OK) rc = rr__json_put_raw(&c, ",\"metadata\":{");
  for (size_t i = 0; rc == RR_OK && i < cfg->metadata.n; i++) {
    if (i) rc = rr__json_put_raw(&c, ",");
    if (rc == RR_OK) rc = rr__json_put_cstr(&c, cfg->metadata.v[i].name);
    if (rc == RR_OK) rc = rr__json_put_raw(&c, ":");
    if (rc == RR_OK) rc = rr__prop_write_tagged(&c, &cfg->metadata.v[i]);
  }
  if (rc == RR_OK) rc = rr__json_put_raw(&c, "},\"config_file_path\":");
  if (rc == RR_OK) rc = rr__json_put_cstr(&c, cfg->config_path);
  if (rc == RR_OK) rc = rr__json_put_raw(&c, ",\"data_dir_path\":");
  if (rc == RR_OK) rc = rr__json_put_cstr(&c, cfg->data_dir);
  if (rc == RR_OK) rc = rr__json_put_raw(&c, "}");
  if (rc == RR_OK && indent < 0) rc = rr_buf_append(b, c.data, c.len);
  else if (rc == RR_OK) {
    struct rr_json *j = NULL;
    rc = rr__json_parse((const char *)c.data, c.len, &j, NULL);
    if (rc == RR_OK) rc = rr__json_write(b, j, indent);
    rr__json_free(j);
  }
  rr_buf_free(&c);
  return rc;
}

int rr__an_config_save(const struct rr_an_config *cfg, rr_error *err) {
  if (rr__mkdirs(cfg->data_dir) < 0) return rr__err(err, RR_EIO, "cannot create %s: %s", cfg->data_dir, strerror(errno));
  char *dir = rr__strdup(cfg->config_path);
  if (!dir) return rr__err(err, RR_ENOMEM, "out of memory");
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) *slash = 0;
  int rc = rr__mkdirs(dir);
  rr__free(dir);
  if (rc < 0) return rr__err(err, RR_EIO, "cannot create the directory of %s", cfg->config_path);
  rr_buf b = RR_BUF_INIT;
  if ((rc = rr__an_config_json(&b, cfg, -1)) < 0) { rr_buf_free(&b); return rr__err(err, rc, "out of memory"); }
  /* Unlike the original (truncate in place), write a temporary file and rename
   * it over the old one, so a crash never leaves a damaged config behind. */
  size_t tn = strlen(cfg->config_path) + 32;
  char *tmp = rr__malloc(tn);
  if (!tmp) { rr_buf_free(&b); return rr__err(err, RR_ENOMEM, "out of memory"); }
  snprintf(tmp, tn, "%s.tmp-%ld", cfg->config_path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  rc = RR_OK;
  if (fd < 0) rc = rr__err(err, RR_EIO, "cannot write %s: %s", tmp, strerror(errno));
  else {
    size_t off = 0;
    while (off < b.len) {
      ssize_t w = write(fd, b.data + off, b.len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) { rc = rr__err(err, RR_EIO, "cannot write %s: %s", tmp, strerror(errno)); break; }
      off += (size_t)w;
    }
    if (close(fd) < 0 && rc == RR_OK) rc = rr__err(err, RR_EIO, "cannot write %s", tmp);
    if (rc == RR_OK && rename(tmp, cfg->config_path) < 0)
      rc = rr__err(err, RR_EIO, "cannot write %s: %s", cfg->config_path, strerror(errno));
    if (rc < 0) unlink(tmp);
  }
  rr__free(tmp);
  rr_buf_free(&b);
  return rc;
}

int rr__an_config_load_or_default(struct rr_an_config *cfg, bool *existed, rr_error *err) {
  char *cpath = NULL, *dpath = NULL;
  RR_TRY(rr__an_default_paths(&cpath, &dpath, err));
  int status;
  rr_error lerr = {0};
  int rc = rr__an_config_load(cpath, cfg, &status, &lerr);
  if (rc == RR_OK && status != RR_CFG_LOADED) {
    struct rr_an_config salvage = *cfg;
    rc = rr__an_config_new(cfg, cpath, dpath);
    if (rc == RR_OK && status == RR_CFG_DAMAGED) {
      cfg->enabled = salvage.enabled;
      if (salvage.id) { rr__free(cfg->id); cfg->id = salvage.id; salvage.id = NULL; }
    }
    rr__an_config_free(&salvage);
  }
  if (existed) *existed = status == RR_CFG_LOADED;
  rr__free(cpath);
  rr__free(dpath);
  return rc < 0 ? rr__err(err, rc, "out of memory") : RR_OK;
}
