/* A small JSON reader (to a DOM) and writing helpers for the analytics layer.
 * Input is hostile: depth is bounded, every allocation is sized by bytes
 * actually present, strings must be valid UTF-8 and escapes are checked. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analytics/analytics_internal.h"

#define MAX_DEPTH 64

struct parser {
  const char *s, *end;
  rr_error *err;
};

static int perr(struct parser *p, const char *what) {
  return rr__err(p->err, RR_ECORRUPT, "JSON: %s at byte %zu", what, (size_t)(p->end - p->s));
}

static void ws(struct parser *p) {
  while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static int put_utf8(rr_buf *b, unsigned cp) {
  uint8_t t[4];
  size_t n;
  if (cp < 0x80) { t[0] = (uint8_t)cp; n = 1; }
  else if (cp < 0x800) { t[0] = (uint8_t)(0xC0 | (cp >> 6)); t[1] = (uint8_t)(0x80 | (cp & 0x3F)); n = 2; }
  else if (cp < 0x10000) {
    t[0] = (uint8_t)(0xE0 | (cp >> 12)); t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    t[2] = (uint8_t)(0x80 | (cp & 0x3F)); n = 3;
  } else {
    t[0] = (uint8_t)(0xF0 | (cp >> 18)); t[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    t[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (uint8_t)(0x80 | (cp & 0x3F)); n = 4;
  }
  return rr_buf_append(b, t, n);
}

/* Parses a string at p->s (which is at the opening quote). */
static int parse_string(struct parser *p, char **out, size_t *outlen) {
  rr_buf b = RR_BUF_INIT;
  p->s++;
  int rc = RR_OK;
  for (;;) {
    if (p->s >= p->end) { rc = perr(p, "unterminated string"); goto fail; }
    unsigned char c = (unsigned char)*p->s;
    if (c == '"') { p->s++; break; }
    if (c < 0x20) { rc = perr(p, "control character in string"); goto fail; }
    if (c != '\\') {
      const char *start = p->s;
      while (p->s < p->end && *p->s != '"' && *p->s != '\\' && (unsigned char)*p->s >= 0x20) p->s++;
      if ((rc = rr_buf_append(&b, start, (size_t)(p->s - start))) < 0) goto fail;
      continue;
    }
    if (p->end - p->s < 2) { rc = perr(p, "bad escape"); goto fail; }
    char e = p->s[1];
    p->s += 2;
    char lit = 0;
    switch (e) {
      case '"': lit = '"'; break;
      case '\\': lit = '\\'; break;
      case '/': lit = '/'; break;
      case 'b': lit = '\b'; break;
      case 'f': lit = '\f'; break;
      case 'n': lit = '\n'; break;
      case 'r': lit = '\r'; break;
      case 't': lit = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (p->end - p->s < 4 || hex4(p->s, &cp) < 0) { rc = perr(p, "bad \\u escape"); goto fail; }
        p->s += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
          if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u' || hex4(p->s + 2, &lo) < 0 ||
              lo < 0xDC00 || lo > 0xDFFF) { rc = perr(p, "lone surrogate"); goto fail; }
          p->s += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) { rc = perr(p, "lone surrogate"); goto fail; }
        if ((rc = put_utf8(&b, cp)) < 0) goto fail;
        continue;
      }
      default: rc = perr(p, "bad escape"); goto fail;
    }
    if ((rc = rr_buf_append(&b, &lit, 1)) < 0) goto fail;
  }
  if (!rr__utf8_valid((const char *)b.data, b.len)) { rc = perr(p, "invalid UTF-8 in string"); goto fail; }
  if ((rc = rr_buf_append(&b, "", 1)) < 0) goto fail;
  *outlen = b.len - 1;
  *out = (char *)rr_buf_steal(&b, NULL);
  return RR_OK;
fail:
  rr_buf_free(&b);
  return rc;
}

static int parse_value(struct parser *p, struct rr_json *v, int depth);

static int grow(struct rr_json *v, bool obj) {
  if (v->n < v->cap) return RR_OK;
  size_t cap = v->cap ? v->cap * 2 : 4;
  struct rr_json *items = rr__realloc(v->items, cap * sizeof *items);
  if (!items) return RR_ENOMEM;
  v->items = items;
  if (obj) {
    char **keys = rr__realloc(v->keys, cap * sizeof *keys);
    if (!keys) return RR_ENOMEM;
    v->keys = keys;
  }
  v->cap = cap;
  return RR_OK;
}

static void json_clear(struct rr_json *v) {
  for (size_t i = 0; i < v->n; i++) {
    json_clear(&v->items[i]);
    if (v->keys) rr__free(v->keys[i]);
  }
  rr__free(v->items);
  rr__free(v->keys);
  rr__free(v->s);
}

static int parse_number(struct parser *p, struct rr_json *v) {
  const char *start = p->s;
  bool frac = false;
  if (p->s < p->end && *p->s == '-') p->s++;
  if (p->s >= p->end || *p->s < '0' || *p->s > '9') return perr(p, "bad number");
  if (*p->s == '0') p->s++;
  else while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
  if (p->s < p->end && *p->s == '.') {
    frac = true;
    p->s++;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') return perr(p, "bad number");
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
  }
  if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
    frac = true;
    p->s++;
    if (p->s < p->end && (*p->s == '+' || *p->s == '-')) p->s++;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') return perr(p, "bad number");
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
  }
  size_t len = (size_t)(p->s - start);
  if (len > 400) return perr(p, "number too long");
  v->type = RR_JNUM;
  v->s = rr__strndup(start, len);
  if (!v->s) return RR_ENOMEM;
  v->slen = len;
  v->num = strtod(v->s, NULL);
  if (!frac) {
    errno = 0;
    long long ll = strtoll(v->s, NULL, 10);
    if (errno == 0) { v->is_int = true; v->i = ll; }
  }
  return RR_OK;
}

static int parse_value(struct parser *p, struct rr_json *v, int depth) {
  memset(v, 0, sizeof *v);
  if (depth > MAX_DEPTH) return perr(p, "nesting too deep");
  ws(p);
  if (p->s >= p->end) return perr(p, "unexpected end");
  char c = *p->s;
  size_t left = (size_t)(p->end - p->s);
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    v->type = obj ? RR_JOBJ : RR_JARR;
    p->s++;
    ws(p);
    if (p->s < p->end && *p->s == (obj ? '}' : ']')) { p->s++; return RR_OK; }
    for (;;) {
      char *key = NULL;
      size_t klen;
      if (obj) {
        ws(p);
        if (p->s >= p->end || *p->s != '"') return perr(p, "expected key");
        RR_TRY(parse_string(p, &key, &klen));
        ws(p);
        if (p->s >= p->end || *p->s != ':') { rr__free(key); return perr(p, "expected ':'"); }
        p->s++;
      }
      int rc = grow(v, obj);
      if (rc < 0) { rr__free(key); return rc; }
      if (obj) v->keys[v->n] = key;
      rc = parse_value(p, &v->items[v->n], depth + 1);
      v->n++; /* counted even on failure so json_clear frees the partial item */
      if (rc < 0) return rc;
      ws(p);
      if (p->s < p->end && *p->s == ',') { p->s++; continue; }
      if (p->s < p->end && *p->s == (obj ? '}' : ']')) { p->s++; return RR_OK; }
      return perr(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  if (c == '"') {
    v->type = RR_JSTR;
    return parse_string(p, &v->s, &v->slen);
  }
  if (left >= 4 && !memcmp(p->s, "null", 4)) { p->s += 4; v->type = RR_JNULL; return RR_OK; }
  if (left >= 4 && !memcmp(p->s, "true", 4)) { p->s += 4; v->type = RR_JBOOL; v->b = true; return RR_OK; }
  if (left >= 5 && !memcmp(p->s, "false", 5)) { p->s += 5; v->type = RR_JBOOL; return RR_OK; }
  if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
  return perr(p, "unexpected character");
}

int rr__json_parse(const char *s, size_t n, struct rr_json **out, rr_error *err) {
  *out = NULL;
  struct rr_json *v = rr__calloc(1, sizeof *v);
  if (!v) return rr__err(err, RR_ENOMEM, "out of memory");
  struct parser p = {s, s + n, err};
  int rc = parse_value(&p, v, 0);
  if (rc == RR_OK) {
    ws(&p);
    if (p.s != p.end) rc = perr(&p, "trailing characters");
  }
  if (rc < 0) {
    rr__json_free(v);
    return rc;
  }
  *out = v;
  return RR_OK;
}

void rr__json_free(struct rr_json *v) {
  if (!v) return;
  json_clear(v);
  rr__free(v);
}

const struct rr_json *rr__json_get(const struct rr_json *obj, const char *key) {
  if (!obj || obj->type != RR_JOBJ) return NULL;
  for (size_t i = obj->n; i-- > 0;)
    if (!strcmp(obj->keys[i], key)) return &obj->items[i];
  return NULL;
}

/* ---- writing ------------------------------------------------------------- */
int rr__json_put_raw(rr_buf *b, const char *s) { return rr_buf_append(b, s, strlen(s)); }

int rr__json_put_str(rr_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  RR_TRY(rr_buf_append(b, "\"", 1));
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    RR_TRY(rr_buf_append(b, s + run, i - run));
    run = i + 1;
    char esc[7] = {'\\', 0};
    size_t el = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
        el = 6;
    }
    RR_TRY(rr_buf_append(b, esc, el));
  }
  RR_TRY(rr_buf_append(b, s + run, n - run));
  return rr_buf_append(b, "\"", 1);
}

int rr__json_put_cstr(rr_buf *b, const char *s) { return rr__json_put_str(b, s, strlen(s)); }

int rr__json_put_double(rr_buf *b, double d) {
  if (!isfinite(d)) return rr__json_put_raw(b, "null");
  char t[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(t, sizeof t, "%.*g", prec, d);
    if (strtod(t, NULL) == d) break;
  }
  if (!strpbrk(t, ".eE")) strcat(t, ".0");
  return rr__json_put_raw(b, t);
}

static int nl(rr_buf *b, int indent, int level) {
  if (indent < 0) return RR_OK;
  RR_TRY(rr_buf_append(b, "\n", 1));
  for (int i = 0; i < indent * level; i++) RR_TRY(rr_buf_append(b, " ", 1));
  return RR_OK;
}

static int write_val(rr_buf *b, const struct rr_json *v, int indent, int level) {
  switch (v->type) {
    case RR_JNULL: return rr__json_put_raw(b, "null");
    case RR_JBOOL: return rr__json_put_raw(b, v->b ? "true" : "false");
    case RR_JNUM: return rr_buf_append(b, v->s, v->slen);
    case RR_JSTR: return rr__json_put_str(b, v->s, v->slen);
    default: break;
  }
  bool obj = v->type == RR_JOBJ;
  RR_TRY(rr_buf_append(b, obj ? "{" : "[", 1));
  for (size_t i = 0; i < v->n; i++) {
    if (i) RR_TRY(rr_buf_append(b, ",", 1));
    RR_TRY(nl(b, indent, level + 1));
    if (obj) {
      RR_TRY(rr__json_put_cstr(b, v->keys[i]));
      RR_TRY(rr__json_put_raw(b, indent < 0 ? ":" : ": "));
    }
    RR_TRY(write_val(b, &v->items[i], indent, level + 1));
  }
  if (v->n) RR_TRY(nl(b, indent, level));
  return rr_buf_append(b, obj ? "}" : "]", 1);
}

int rr__json_write(rr_buf *b, const struct rr_json *v, int indent) { return write_val(b, v, indent, 0); }
