/* Streaming base64 (RFC 4648 section 4), for gRPC-Web's text mode. */
#include "rr_common.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_group(uint8_t *o, const uint8_t *in, unsigned n) {
  uint32_t v = (uint32_t)in[0] << 16 | (n > 1 ? (uint32_t)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);
  o[0] = (uint8_t)ALPHABET[v >> 18 & 63];
  o[1] = (uint8_t)ALPHABET[v >> 12 & 63];
  o[2] = n > 1 ? (uint8_t)ALPHABET[v >> 6 & 63] : '=';
  o[3] = n > 2 ? (uint8_t)ALPHABET[v & 63] : '=';
}

int rr_b64_encode(rr_b64 *st, rr_buf *out, const void *p, size_t n) {
  const uint8_t *s = p;
  size_t groups = (st->n + n) / 3;
  if (!groups) { /* fewer than 3 bytes in all: carried */
    if (n) memcpy(st->carry + st->n, s, n);
    st->n += (unsigned)n;
    return RR_OK;
  }
  RR_TRY(rr_buf_reserve(out, groups * 4));
  uint8_t *o = out->data + out->len;
  if (st->n && st->n + n >= 3) { /* the carried bytes and the first new ones */
    unsigned k = 3 - st->n;
    memcpy(st->carry + st->n, s, k);
    put_group(o, st->carry, 3);
    o += 4;
    s += k;
    n -= k;
    st->n = 0;
  }
  for (; n >= 3 && !st->n; s += 3, n -= 3, o += 4) put_group(o, s, 3);
  if (n) memcpy(st->carry + st->n, s, n); /* 0-2 bytes left, st->n + n < 3 */
  st->n += (unsigned)n;
  out->len = (size_t)(o - out->data);
  return RR_OK;
}

int rr_b64_encode_end(rr_b64 *st, rr_buf *out) {
  if (st->n) {
    RR_TRY(rr_buf_reserve(out, 4));
    put_group(out->data + out->len, st->carry, st->n);
    out->len += 4;
  }
  st->n = 0;
  return RR_OK;
}

static int value_of(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return c == '=' ? 64 : -1;
}

int rr_b64_decode(rr_b64 *st, rr_buf *out, const void *p, size_t n) {
  const uint8_t *s = p;
  RR_TRY(rr_buf_reserve(out, (st->n + n) / 4 * 3 + 3));
  for (size_t i = 0; i < n; i++) {
    int v = value_of(s[i]);
    if (v < 0) return RR_EINVAL;
    st->carry[st->n++] = (uint8_t)v;
    if (st->n < 4) continue;
    st->n = 0;
    const uint8_t *g = st->carry;
    /* padding: only "xx==" or "xxx=" */
    if (g[0] == 64 || g[1] == 64 || (g[2] == 64 && g[3] != 64)) return RR_EINVAL;
    uint32_t w = (uint32_t)g[0] << 18 | (uint32_t)g[1] << 12 | (uint32_t)(g[2] & 63) << 6 | (g[3] & 63);
    uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
    unsigned k = g[2] == 64 ? 1 : g[3] == 64 ? 2 : 3;
    memcpy(out->data + out->len, b, k);
    out->len += k;
  }
  return RR_OK;
}

int rr_b64_decode_end(const rr_b64 *st) { return st->n ? RR_EINVAL : RR_OK; }
