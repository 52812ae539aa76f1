/* Analytics events: properties, the on-disk line format (spec §1.5), the
 * PostHog wire mapping (spec §5.5) and the salted SHA-256 (spec §3.3). */
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>

#include "analytics/analytics_internal.h"

/* ---- properties -------------------------------------------------------------- */
static struct rr_prop *slot(struct rr_props *p, const char *name, int type) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i].name, name)) {
      rr__free(p->v[i].s);
      p->v[i].s = NULL;
      p->v[i].type = type;
      return &p->v[i];
    }
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    struct rr_prop *v = rr__realloc(p->v, cap * sizeof *v);
    if (!v) return NULL;
    p->v = v;
    p->cap = cap;
  }
  struct rr_prop *s = &p->v[p->n];
  memset(s, 0, sizeof *s);
  s->name = rr__strdup(name);
  if (!s->name) return NULL;
  s->type = type;
  p->n++;
  return s;
}

int rr__props_set_bool(struct rr_props *p, const char *name, bool v) {
  struct rr_prop *s = slot(p, name, RR_PBOOL);
  if (!s) return RR_ENOMEM;
  s->b = v;
  return RR_OK;
}

int rr__props_set_int(struct rr_props *p, const char *name, int64_t v) {
  struct rr_prop *s = slot(p, name, RR_PINT);
  if (!s) return RR_ENOMEM;
  s->i = v;
  return RR_OK;
}

int rr__props_set_float(struct rr_props *p, const char *name, double v) {
  if (!(v == v) || v - v != 0) return RR_ENOTFINITE; /* NaN or infinite: never written */
  struct rr_prop *s = slot(p, name, RR_PFLOAT);
  if (!s) return RR_ENOMEM;
  s->f = v;
  return RR_OK;
}

int rr__props_set_str(struct rr_props *p, const char *name, const char *v) {
  if (!v) return RR_EINVAL;
  struct rr_prop *s = slot(p, name, RR_PSTR);
  if (!s) return RR_ENOMEM;
  s->s = rr__strdup(v);
  if (!s->s) { s->type = RR_PBOOL; return RR_ENOMEM; }
  return RR_OK;
}

int rr__props_set_copy(struct rr_props *p, const struct rr_prop *src) {
  switch (src->type) {
    case RR_PBOOL: return rr__props_set_bool(p, src->name, src->b);
    case RR_PINT: return rr__props_set_int(p, src->name, src->i);
    case RR_PFLOAT: return rr__props_set_float(p, src->name, src->f);
    default: return rr__props_set_str(p, src->name, src->s);
  }
}

const struct rr_prop *rr__props_get(const struct rr_props *p, const char *name) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i].name, name)) return &p->v[i];
  return NULL;
}

void rr__props_free(struct rr_props *p) {
  for (size_t i = 0; i < p->n; i++) {
    rr__free(p->v[i].name);
    rr__free(p->v[i].s);
  }
  rr__free(p->v);
  memset(p, 0, sizeof *p);
}

/* ---- events -------------------------------------------------------------------- */
void rr__format_time(int64_t time_ns, char out[40]) {
  time_t secs = (time_t)(time_ns / 1000000000);
  long frac = (long)(time_ns % 1000000000);
  if (frac < 0) { frac += 1000000000; secs--; }
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  if (frac) {
    char f[11];
    snprintf(f, sizeof f, ".%09ld", frac);
    size_t fl = strlen(f);
    while (fl > 1 && f[fl - 1] == '0') f[--fl] = 0;
    memcpy(out + n, f, fl);
    n += fl;
  }
  out[n] = 'Z';
  out[n + 1] = 0;
}

int rr__event_init(struct rr_event *e, int kind, const char *name, int64_t time_ns) {
  memset(e, 0, sizeof *e);
  e->kind = kind;
  rr__format_time(time_ns, e->time_utc);
  e->name = rr__strdup(name);
  return e->name ? RR_OK : RR_ENOMEM;
}

void rr__event_free(struct rr_event *e) {
  rr__free(e->name);
  rr__props_free(&e->props);
  memset(e, 0, sizeof *e);
}

static const char *kind_name(int k) {
  return k == RR_KIND_IDENTIFY ? "Identify" : k == RR_KIND_SET ? "SetPersonProperties" : "Append";
}

int rr__prop_write_tagged(rr_buf *b, const struct rr_prop *p) {
  switch (p->type) {
    case RR_PBOOL: return rr__json_put_raw(b, p->b ? "{\"Bool\":true}" : "{\"Bool\":false}");
    case RR_PINT: {
      char t[40];
      snprintf(t, sizeof t, "{\"Integer\":%lld}", (long long)p->i);
      return rr__json_put_raw(b, t);
    }
    case RR_PFLOAT:
      RR_TRY(rr__json_put_raw(b, "{\"Float\":"));
      RR_TRY(rr__json_put_double(b, p->f));
      return rr__json_put_raw(b, "}");
    default:
      RR_TRY(rr__json_put_raw(b, "{\"String\":"));
      RR_TRY(rr__json_put_cstr(b, p->s));
      return rr__json_put_raw(b, "}");
  }
}

int rr__prop_from_tagged(struct rr_props *p, const char *name, const struct rr_json *v) {
  if (!v || v->type != RR_JOBJ || v->n != 1) return RR_ECORRUPT;
  const char *tag = v->keys[0];
  const struct rr_json *x = &v->items[0];
  if (!strcmp(tag, "Bool") && x->type == RR_JBOOL) return rr__props_set_bool(p, name, x->b);
  if (!strcmp(tag, "Integer") && x->type == RR_JNUM && x->is_int) return rr__props_set_int(p, name, x->i);
  if (!strcmp(tag, "Float") && x->type == RR_JNUM) {
    int rc = rr__props_set_float(p, name, x->num);
    return rc == RR_ENOTFINITE ? RR_ECORRUPT : rc;
  }
  if (!strcmp(tag, "String") && x->type == RR_JSTR && strlen(x->s) == x->slen)
    return rr__props_set_str(p, name, x->s);
  return RR_ECORRUPT;
}

int rr__event_to_line(rr_buf *b, const struct rr_event *e) {
  RR_TRY(rr__json_put_raw(b, "{\"time_utc\":"));
  RR_TRY(rr__json_put_cstr(b, e->time_utc));
  RR_TRY(rr__json_put_raw(b, ",\"kind\":"));
  RR_TRY(rr__json_put_cstr(b, kind_name(e->kind)));
  RR_TRY(rr__json_put_raw(b, ",\"name\":"));
  RR_TRY(rr__json_put_cstr(b, e->name));
  RR_TRY(rr__json_put_raw(b, ",\"props\":{"));
  for (size_t i = 0; i < e->props.n; i++) {
    if (i) RR_TRY(rr__json_put_raw(b, ","));
    RR_TRY(rr__json_put_cstr(b, e->props.v[i].name));
    RR_TRY(rr__json_put_raw(b, ":"));
    RR_TRY(rr__prop_write_tagged(b, &e->props.v[i]));
  }
  return rr__json_put_raw(b, "}}\n");
}

/* A timestamp as the original writes or reads it: YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z. */
static bool valid_time(const char *s, size_t n) {
  static const char pat[] = "dddd-dd-ddTdd:dd:dd";
  if (n < 20 || n > 30) return false;
  for (size_t i = 0; i < 19; i++)
    if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i]) return false;
  size_t i = 19;
  if (s[i] == '.') {
    size_t d = 0;
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) d++;
    if (d < 1 || d > 9) return false;
  }
  return i == n - 1 && s[i] == 'Z';
}

int rr__event_from_json(struct rr_event *e, const struct rr_json *v) {
  memset(e, 0, sizeof *e);
  const struct rr_json *t = rr__json_get(v, "time_utc"), *k = rr__json_get(v, "kind"),
                       *nm = rr__json_get(v, "name"), *pr = rr__json_get(v, "props");
  if (!t || t->type != RR_JSTR || !valid_time(t->s, t->slen)) return RR_ECORRUPT;
  if (!k || k->type != RR_JSTR || !nm || nm->type != RR_JSTR || strlen(nm->s) != nm->slen) return RR_ECORRUPT;
  if (!pr || pr->type != RR_JOBJ) return RR_ECORRUPT;
  if (!strcmp(k->s, "Append")) e->kind = RR_KIND_APPEND;
  else if (!strcmp(k->s, "Identify")) e->kind = RR_KIND_IDENTIFY;
  else if (!strcmp(k->s, "SetPersonProperties")) e->kind = RR_KIND_SET;
  else return RR_ECORRUPT;
  memcpy(e->time_utc, t->s, t->slen + 1);
  e->name = rr__strdup(nm->s);
  if (!e->name) return RR_ENOMEM;
  for (size_t i = 0; i < pr->n; i++) {
    int rc = rr__prop_from_tagged(&e->props, pr->keys[i], &pr->items[i]);
    if (rc < 0) { rr__event_free(e); return rc; }
  }
  return RR_OK;
}

void rr__events_free(struct rr_event *evs, size_t n) {
  for (size_t i = 0; i < n; i++) rr__event_free(&evs[i]);
  rr__free(evs);
}

int rr__events_parse_lines(const char *text, size_t n, struct rr_event **evs, size_t *nev) {
  size_t cap = *nev;
  const char *p = text, *end = text + n;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    struct rr_json *j = NULL;
    if (le > p && rr__json_parse(p, (size_t)(le - p), &j, NULL) == RR_OK) {
      struct rr_event e;
      if (rr__event_from_json(&e, j) == RR_OK) {
        if (*nev == cap) {
          size_t nc = cap ? cap * 2 : 16;
          struct rr_event *ne = rr__realloc(*evs, nc * sizeof *ne);
          if (!ne) { rr__event_free(&e); rr__json_free(j); return RR_ENOMEM; }
          *evs = ne;
          cap = nc;
        }
        (*evs)[(*nev)++] = e;
      }
      rr__json_free(j);
    }
    p = eol ? eol + 1 : end;
  }
  return RR_OK;
}

/* ---- wire payload ------------------------------------------------------------------ */
static int plain_value(rr_buf *b, const struct rr_prop *p) {
  char t[32];
  switch (p->type) {
    case RR_PBOOL: return rr__json_put_raw(b, p->b ? "true" : "false");
    case RR_PINT: snprintf(t, sizeof t, "%lld", (long long)p->i); return rr__json_put_raw(b, t);
    case RR_PFLOAT: return rr__json_put_double(b, p->f);
    default: return rr__json_put_cstr(b, p->s);
  }
}

static int pretty_nl(rr_buf *b, int indent, int level) {
  if (indent < 0) return RR_OK;
  RR_TRY(rr_buf_append(b, "\n", 1));
  for (int i = 0; i < indent * level; i++) RR_TRY(rr_buf_append(b, " ", 1));
  return RR_OK;
}

static int key(rr_buf *b, const char *k, bool first, int indent, int level) {
  if (!first) RR_TRY(rr__json_put_raw(b, ","));
  RR_TRY(pretty_nl(b, indent, level));
  RR_TRY(rr__json_put_cstr(b, k));
  return rr__json_put_raw(b, indent < 0 ? ":" : ": ");
}

/* props (skipping `skip`), then optionally "session_id", as one object. */
static int props_obj(rr_buf *b, const struct rr_props *p, const char *skip, const char *session_id, int indent,
                     int level) {
  RR_TRY(rr__json_put_raw(b, "{"));
  bool first = true;
  for (size_t i = 0; i < p->n; i++) {
    if ((skip && !strcmp(p->v[i].name, skip)) || (session_id && !strcmp(p->v[i].name, "session_id"))) continue;
    RR_TRY(key(b, p->v[i].name, first, indent, level + 1));
    RR_TRY(plain_value(b, &p->v[i]));
    first = false;
  }
  if (session_id) {
    RR_TRY(key(b, "session_id", first, indent, level + 1));
    RR_TRY(rr__json_put_cstr(b, session_id));
    first = false;
  }
  if (!first) RR_TRY(pretty_nl(b, indent, level));
  return rr__json_put_raw(b, "}");
}

static int wire_event(rr_buf *b, const char *distinct_id, const char *session_id, const struct rr_event *e,
                      int indent, int level) {
  RR_TRY(rr__json_put_raw(b, "{"));
  RR_TRY(key(b, "timestamp", true, indent, level + 1));
  RR_TRY(rr__json_put_cstr(b, e->time_utc));
  RR_TRY(key(b, "event", false, indent, level + 1));
  RR_TRY(rr__json_put_cstr(b, e->kind == RR_KIND_IDENTIFY ? "$identify" : e->kind == RR_KIND_SET ? "$set" : e->name));
  RR_TRY(key(b, "distinct_id", false, indent, level + 1));
  RR_TRY(rr__json_put_cstr(b, distinct_id));
  RR_TRY(key(b, "properties", false, indent, level + 1));
  if (e->kind == RR_KIND_APPEND) {
    RR_TRY(props_obj(b, &e->props, NULL, session_id, indent, level + 1));
  } else if (e->kind == RR_KIND_IDENTIFY) {
    struct rr_props none = {0};
    RR_TRY(props_obj(b, &none, NULL, session_id, indent, level + 1));
    RR_TRY(key(b, "$set", false, indent, level + 1));
    RR_TRY(props_obj(b, &e->props, NULL, NULL, indent, level + 1));
  } else {
    RR_TRY(rr__json_put_raw(b, "{"));
    RR_TRY(key(b, "$set", true, indent, level + 2));
    RR_TRY(props_obj(b, &e->props, NULL, NULL, indent, level + 2));
    RR_TRY(pretty_nl(b, indent, level + 1));
    RR_TRY(rr__json_put_raw(b, "}"));
  }
  RR_TRY(pretty_nl(b, indent, level));
  return rr__json_put_raw(b, "}");
}

int rr__batch_body(rr_buf *b, const char *api_key, const char *distinct_id, const char *session_id,
                   const struct rr_event *evs, size_t n, int indent) {
  RR_TRY(rr__json_put_raw(b, "{"));
  RR_TRY(key(b, "api_key", true, indent, 1));
  RR_TRY(rr__json_put_cstr(b, api_key ? api_key : ""));
  RR_TRY(key(b, "batch", false, indent, 1));
  RR_TRY(rr__json_put_raw(b, "["));
  for (size_t i = 0; i < n; i++) {
    if (i) RR_TRY(rr__json_put_raw(b, ","));
    RR_TRY(pretty_nl(b, indent, 2));
    RR_TRY(wire_event(b, distinct_id, session_id, &evs[i], indent, 2));
  }
  if (n) RR_TRY(pretty_nl(b, indent, 1));
  RR_TRY(rr__json_put_raw(b, "]"));
  RR_TRY(pretty_nl(b, indent, 0));
  return rr__json_put_raw(b, "}");
}

/* ---- hashing and ids ----------------------------------------------------------------- */
int rr__an_hash_bytes(const void *p, size_t n, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return RR_ENOMEM;
  int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
           EVP_DigestUpdate(ctx, RR_ANALYTICS_SALT, sizeof RR_ANALYTICS_SALT - 1) == 1 &&
           EVP_DigestUpdate(ctx, p, n) == 1 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
  EVP_MD_CTX_free(ctx);
  if (!ok) return RR_EINTERNAL;
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = 0;
  return RR_OK;
}

void rr__uuid4(char out[37], bool hyphenated) {
  static const char hex[] = "0123456789abcdef";
  uint8_t u[16];
  rr__random_bytes(u, sizeof u);
  u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
  u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
  size_t k = 0;
  for (int i = 0; i < 16; i++) {
    if (hyphenated && (i == 4 || i == 6 || i == 8 || i == 10)) out[k++] = '-';
    out[k++] = hex[u[i] >> 4];
    out[k++] = hex[u[i] & 15];
  }
  out[k] = 0;
}
