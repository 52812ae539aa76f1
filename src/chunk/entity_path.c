/* Entity paths: parse (strict and forgiving, as Rerun's EntityPath) and
 * format the canonical escaped form. */
#include <ctype.h>
#include <stdio.h>

#include "rr_chunk.h"

/* Decodes one UTF-8 code point at s[i]; input already validated. */
static uint32_t utf8_next(const char *s, size_t *i) {
  const unsigned char *u = (const unsigned char *)s;
  uint32_t c = u[*i];
  if (c < 0x80) { (*i)++; return c; }
  int k = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
  c &= (uint32_t)(0x3F >> k);
  for (int j = 1; j <= k; j++) c = (c << 6) | (u[*i + (size_t)j] & 0x3F);
  *i += (size_t)k + 1;
  return c;
}

static int utf8_put(rr_buf *b, uint32_t c) {
  uint8_t t[4];
  size_t n;
  if (c < 0x80) { t[0] = (uint8_t)c; n = 1; }
  else if (c < 0x800) { t[0] = (uint8_t)(0xC0 | (c >> 6)); t[1] = (uint8_t)(0x80 | (c & 0x3F)); n = 2; }
  else if (c < 0x10000) {
    t[0] = (uint8_t)(0xE0 | (c >> 12)); t[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    t[2] = (uint8_t)(0x80 | (c & 0x3F)); n = 3;
  } else {
    t[0] = (uint8_t)(0xF0 | (c >> 18)); t[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    t[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F)); t[3] = (uint8_t)(0x80 | (c & 0x3F)); n = 4;
  }
  return rr_buf_append(b, t, n);
}

/* Unicode whitespace and the C0/C1 controls; everything else non-ASCII is
 * treated as a letter (Rust's is_alphanumeric differs only for non-ASCII
 * punctuation and symbols, which we then print as-is: the reader accepts
 * either form). */
static bool is_unicode_space_or_control(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static bool plain_char(uint32_t c) {
  if (c < 0x80) return isalnum((int)c) || c == '_' || c == '-' || c == '.';
  return !is_unicode_space_or_control(c);
}

static bool ascii_punct_or_space(uint32_t c) { return c < 0x80 && (ispunct((int)c) || c == ' '); }

/* \u{262E}-style escapes: exactly four hex digits, as Rerun. */
static int parse_unicode_escape(const char *s, size_t n, size_t *i, uint32_t *out) {
  if (*i + 6 > n || s[*i] != '{' || s[*i + 5] != '}') return -1;
  uint32_t v = 0;
  for (size_t k = 1; k <= 4; k++) {
    char h = s[*i + k];
    int d = isdigit((unsigned char)h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
          : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + (uint32_t)d;
  }
  if (v >= 0xD800 && v <= 0xDFFF) return -1;
  *i += 6;
  *out = v;
  return 0;
}

/* One part [s, s+n) into out (unescaped). */
static int parse_part(const char *s, size_t n, bool strict, rr_buf *out, bool *warning,
                      size_t base, rr_error *err) {
  size_t i = 0;
  while (i < n) {
    size_t at = i;
    uint32_t c = utf8_next(s, &i);
    if (c == '\\') {
      if (i >= n) {
        if (strict) return rr__err(err, RR_EPATH, "entity path ends in a backslash (byte %zu)", base + at);
        *warning = true;
        RR_TRY(rr_buf_append(out, "\\", 1));
        continue;
      }
      uint32_t e = utf8_next(s, &i);
      uint32_t u;
      switch (e) {
        case 'n': RR_TRY(rr_buf_append(out, "\n", 1)); break;
        case 'r': RR_TRY(rr_buf_append(out, "\r", 1)); break;
        case 't': RR_TRY(rr_buf_append(out, "\t", 1)); break;
        case 'u':
          if (parse_unicode_escape(s, n, &i, &u) == 0) {
            RR_TRY(utf8_put(out, u));
          } else {
            if (strict)
              return rr__err(err, RR_EPATH, "invalid unicode escape at byte %zu (expected e.g. \\u{262E})",
                             base + at);
            *warning = true;
            RR_TRY(rr_buf_append(out, "\\u", 2));
          }
          break;
        default:
          if (ascii_punct_or_space(e)) {
            RR_TRY(utf8_put(out, e));
          } else {
            if (strict)
              return rr__err(err, RR_EPATH, "unknown escape sequence '\\%c' at byte %zu",
                             e < 0x80 ? (char)e : '?', base + at);
            *warning = true;
            RR_TRY(utf8_put(out, e));
          }
      }
    } else {
      if (strict && !plain_char(c))
        return rr__err(err, RR_EPATH, "character '%c' at byte %zu must be escaped as '\\%c'",
                       c < 0x80 ? (char)c : '?', base + at, c < 0x80 ? (char)c : '?');
      if (!strict && c < 0x80 && isspace((int)c)) *warning = true;
      RR_TRY(utf8_put(out, c));
    }
  }
  return RR_OK;
}

void rr__path_parts_free(rr_path_parts *p) {
  for (size_t i = 0; i < p->n; i++) rr__free(p->parts[i]);
  rr__free(p->parts);
  p->parts = NULL;
  p->n = 0;
}

static int push_part(rr_path_parts *p, rr_buf *b) {
  char **np = rr__realloc(p->parts, (p->n + 1) * sizeof *np);
  if (!np) return RR_ENOMEM;
  p->parts = np;
  RR_TRY(rr_buf_append(b, "", 1));
  size_t len;
  p->parts[p->n++] = (char *)rr_buf_steal(b, &len);
  return RR_OK;
}

int rr__path_parse(const char *s, size_t n, bool strict, rr_path_parts *out, bool *warning,
                   rr_error *err) {
  bool warn = false;
  memset(out, 0, sizeof *out);
  if (!s) return rr__err(err, RR_EINVAL, "entity path is NULL");
  if (!rr__utf8_valid(s, n)) return rr__err(err, RR_EUTF8, "entity path is not valid UTF-8");
  if (memchr(s, 0, n)) return rr__err(err, RR_EPATH, "entity path contains a NUL byte");
  if (strict && n == 0) return rr__err(err, RR_EPATH, "entity path is empty");
  rr_buf part = RR_BUF_INIT;
  size_t i = 0;
  if (n > 0 && s[0] == '/') i = 1;
  int rc = RR_OK;
  while (i < n) {
    /* find the next unescaped slash */
    size_t j = i;
    bool esc = false;
    while (j < n && (esc || s[j] != '/')) { esc = !esc && s[j] == '\\'; j++; }
    if (j == i) {
      if (strict) { rc = rr__err(err, RR_EPATH, "double slash at byte %zu in entity path", j); break; }
      i = j + 1;
      continue; /* forgiving: skip empty parts */
    }
    rr_buf_reset(&part);
    if ((rc = parse_part(s + i, j - i, strict, &part, &warn, i, err)) < 0) break;
    if ((rc = push_part(out, &part)) < 0) break;
    if (j < n && j + 1 == n && strict) { rc = rr__err(err, RR_EPATH, "trailing slash in entity path"); break; }
    i = j + 1;
  }
  rr_buf_free(&part);
  if (rc < 0) { rr__path_parts_free(out); return rc; }
  if (warning) *warning = warn;
  return RR_OK;
}

int rr__path_format(const rr_path_parts *p, rr_buf *out) {
  if (p->n == 0) return rr_buf_append(out, "/", 1);
  for (size_t k = 0; k < p->n; k++) {
    RR_TRY(rr_buf_append(out, "/", 1));
    const char *s = p->parts[k];
    size_t n = strlen(s), i = 0;
    while (i < n) {
      uint32_t c = utf8_next(s, &i);
      if (plain_char(c)) { RR_TRY(utf8_put(out, c)); continue; }
      char tmp[16];
      int len;
      if (c == '\n') len = snprintf(tmp, sizeof tmp, "\\n");
      else if (c == '\r') len = snprintf(tmp, sizeof tmp, "\\r");
      else if (c == '\t') len = snprintf(tmp, sizeof tmp, "\\t");
      else if (ascii_punct_or_space(c)) len = snprintf(tmp, sizeof tmp, "\\%c", (char)c);
      else len = snprintf(tmp, sizeof tmp, "\\u{%04X}", (unsigned)c);
      RR_TRY(rr_buf_append(out, tmp, (size_t)len));
    }
  }
  return RR_OK;
}

int rr__path_canonical(const char *s, size_t n, bool strict, rr_buf *out, bool *warning,
                       rr_error *err) {
  rr_path_parts p;
  RR_TRY(rr__path_parse(s, n, strict, &p, warning, err));
  int rc = rr__path_format(&p, out);
  if (rc == RR_OK) rc = rr_buf_append(out, "", 1);
  rr__path_parts_free(&p);
  return rc;
}
