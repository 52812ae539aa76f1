/* HTTP/1.1 request heads, proxy URLs and the CORS origin rule. No I/O. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rr_net.h"

static bool tchar(char c) {
  return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static rr_str trim(const char *p, size_t n) {
  while (n && (*p == ' ' || *p == '\t')) { p++; n--; }
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  return (rr_str){p, n};
}

static bool str_ieq(rr_str a, const char *b) {
  size_t n = strlen(b);
  return a.len == n && strncasecmp(a.ptr, b, n) == 0;
}

int rr_http1_parse_request(const char *p, size_t n, rr_http1_request *r, rr_error *err) {
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  size_t lim = n < RR_HTTP1_MAX_HEAD ? n : RR_HTTP1_MAX_HEAD;
  size_t end = 0;
  for (size_t i = 0; i + 3 < lim; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') { end = i + 4; break; }
  if (!end) {
    if (n >= RR_HTTP1_MAX_HEAD) return rr__err(err, RR_EPROTO, "HTTP/1: request head longer than %d bytes", RR_HTTP1_MAX_HEAD);
    return RR_EAGAIN;
  }
  r->head_len = end;
  /* request line: METHOD SP PATH SP HTTP/1.x CRLF */
  const char *le = memchr(p, '\r', end);
  if (!le || le[1] != '\n') return rr__err(err, RR_EPROTO, "HTTP/1: bad request line");
  const char *sp1 = memchr(p, ' ', (size_t)(le - p));
  if (!sp1 || sp1 == p) return rr__err(err, RR_EPROTO, "HTTP/1: bad request line");
  const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
  if (!sp2 || sp2 == sp1 + 1) return rr__err(err, RR_EPROTO, "HTTP/1: bad request line");
  for (const char *c = p; c < sp1; c++)
    if (!tchar(*c)) return rr__err(err, RR_EPROTO, "HTTP/1: bad method");
  for (const char *c = sp1 + 1; c < sp2; c++)
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) return rr__err(err, RR_EPROTO, "HTTP/1: bad request target");
  r->method = (rr_str){p, (size_t)(sp1 - p)};
  r->path = (rr_str){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
  r->version = (rr_str){sp2 + 1, (size_t)(le - sp2 - 1)};
  if (!str_ieq(r->version, "HTTP/1.1") && !str_ieq(r->version, "HTTP/1.0"))
    return rr__err(err, RR_EPROTO, "HTTP/1: unsupported version");
  r->keep_alive = str_ieq(r->version, "HTTP/1.1");
  const char *q = le + 2;
  const char *stop = p + end - 2; /* the final CRLF */
  while (q < stop) {
    const char *e = memchr(q, '\r', (size_t)(stop - q) + 1);
    if (!e || e[1] != '\n') return rr__err(err, RR_EPROTO, "HTTP/1: bad header line");
    const char *colon = memchr(q, ':', (size_t)(e - q));
    if (!colon || colon == q) return rr__err(err, RR_EPROTO, "HTTP/1: bad header line");
    for (const char *c = q; c < colon; c++)
      if (!tchar(*c)) return rr__err(err, RR_EPROTO, "HTTP/1: bad header name");
    if (r->n_headers == RR_HTTP1_MAX_HEADERS) return rr__err(err, RR_EPROTO, "HTTP/1: too many headers");
    rr_str name = {q, (size_t)(colon - q)};
    rr_str value = trim(colon + 1, (size_t)(e - colon - 1));
    for (size_t i = 0; i < value.len; i++)
      if ((unsigned char)value.ptr[i] < 0x20 && value.ptr[i] != '\t') return rr__err(err, RR_EPROTO, "HTTP/1: bad header value");
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = value;
    r->n_headers++;
    if (str_ieq(name, "content-length")) {
      if (r->content_length >= 0 || value.len == 0 || value.len > 15) return rr__err(err, RR_EPROTO, "HTTP/1: bad content-length");
      int64_t v = 0;
      for (size_t i = 0; i < value.len; i++) {
        if (!isdigit((unsigned char)value.ptr[i])) return rr__err(err, RR_EPROTO, "HTTP/1: bad content-length");
        v = v * 10 + (value.ptr[i] - '0');
      }
      r->content_length = v;
    }
    q = e + 2;
  }
  r->chunked = rr_http1_header_has(r, "transfer-encoding", "chunked");
  if (r->chunked && r->content_length >= 0) return rr__err(err, RR_EPROTO, "HTTP/1: both content-length and chunked");
  if (rr_http1_header_has(r, "connection", "close")) r->keep_alive = false;
  if (rr_http1_header_has(r, "connection", "keep-alive")) r->keep_alive = true;
  return RR_OK;
}

rr_str rr_http1_header(const rr_http1_request *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (str_ieq(r->headers[i].name, name)) return r->headers[i].value;
  return (rr_str){NULL, 0};
}

bool rr_http1_header_has(const rr_http1_request *r, const char *name, const char *token) {
  size_t tl = strlen(token);
  for (size_t i = 0; i < r->n_headers; i++) {
    if (!str_ieq(r->headers[i].name, name)) continue;
    const char *v = r->headers[i].value.ptr, *end = v + r->headers[i].value.len;
    while (v < end) {
      const char *c = memchr(v, ',', (size_t)(end - v));
      if (!c) c = end;
      rr_str t = trim(v, (size_t)(c - v));
      if (t.len == tl && strncasecmp(t.ptr, token, tl) == 0) return true;
      v = c + 1;
    }
  }
  return false;
}

/* ---- URLs ---------------------------------------------------------------------- */

int rr_proxy_url_parse(const char *url, rr_proxy_url *out, rr_error *err) {
  memset(out, 0, sizeof *out);
  if (!url || !*url) return rr__err(err, RR_EINVAL, "empty URL");
  const char *p = url;
  static const struct { const char *scheme; bool tls; } schemes[] = {
      {"rerun+http://", false}, {"rerun http://", false}, {"http://", false},
      {"rerun+https://", true}, {"rerun https://", true}, {"https://", true}, {"rerun://", true}};
  bool have_scheme = false;
  for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
    size_t n = strlen(schemes[i].scheme);
    if (strncasecmp(p, schemes[i].scheme, n) == 0) { p += n; out->tls = schemes[i].tls; have_scheme = true; break; }
  }
  if (!have_scheme && strstr(p, "://")) return rr__err(err, RR_EINVAL, "'%s': unsupported URL scheme", url);
  const char *host = p, *host_end;
  if (*p == '[') {
    host_end = strchr(p, ']');
    if (!host_end) return rr__err(err, RR_EINVAL, "'%s': bad IPv6 host", url);
    host++;
    p = host_end + 1;
  } else {
    p += strcspn(p, ":/?#");
    host_end = p;
  }
  size_t hl = (size_t)(host_end - host);
  if (hl == 0 || hl >= sizeof out->host) return rr__err(err, RR_EINVAL, "'%s': bad host", url);
  memcpy(out->host, host, hl);
  out->host[hl] = 0;
  for (size_t i = 0; i < hl; i++)
    if ((unsigned char)out->host[i] <= 0x20 || out->host[i] == '@') return rr__err(err, RR_EINVAL, "'%s': bad host", url);
  out->port = -1;
  if (*p == ':') {
    p++;
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p || v < 1 || v > 65535) return rr__err(err, RR_EINVAL, "'%s': bad port", url);
    out->port = (int)v;
    p = e;
  }
  if (*p && *p != '/' && *p != '?' && *p != '#') return rr__err(err, RR_EINVAL, "'%s': bad URL", url);
  bool proxy = strncmp(p, "/proxy", 6) == 0;
  if (!strcmp(out->host, "0.0.0.0") || !strcmp(out->host, "::")) strcpy(out->host, "127.0.0.1");
  bool local = !strcmp(out->host, "localhost") || !strcmp(out->host, "127.0.0.1") || !strcmp(out->host, "::1");
  if (out->port < 0) out->port = (proxy || local) ? RR_GRPC_DEFAULT_PORT : out->tls ? 443 : 80;
  return RR_OK;
}

/* ---- CORS ------------------------------------------------------------------------ */

bool rr_glob_match(const char *pat, const char *s, size_t len) {
  /* iterative '*' matcher with backtracking to the last star */
  size_t pi = 0, si = 0, star = (size_t)-1, mark = 0, pl = strlen(pat);
  while (si < len) {
    if (pi < pl && pat[pi] == '*') { star = pi++; mark = si; }
    else if (pi < pl && pat[pi] == s[si]) { pi++; si++; }
    else if (star != (size_t)-1) { pi = star + 1; si = ++mark; }
    else return false;
  }
  while (pi < pl && pat[pi] == '*') pi++;
  return pi == pl;
}

bool rr_cors_origin_allowed(const char *origin, size_t len, const char *extra) {
  static const char *pats[] = {"*://localhost", "*://localhost:*", "*://127.0.0.1", "*://127.0.0.1:*",
                               "*://rerun.io", "*://rerun.io:*"};
  for (size_t i = 0; i < sizeof pats / sizeof *pats; i++)
    if (rr_glob_match(pats[i], origin, len)) return true;
  return extra && *extra && rr_glob_match(extra, origin, len);
}
