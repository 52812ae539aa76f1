/* gRPC length-prefixed framing, gRPC-Web trailers and the LogMsg wrapping
 * of the message proxy. No I/O. */
#include <stdio.h>
#include <string.h>

#include "rr_net.h"

void rr_grpc_decoder_init(rr_grpc_decoder *d, uint64_t max_len) {
  memset(d, 0, sizeof *d);
  d->max_len = max_len ? max_len : UINT32_MAX;
}

void rr_grpc_decoder_free(rr_grpc_decoder *d) {
  rr_buf_free(&d->body);
  d->hdr_have = 0;
  d->need = 0;
}

bool rr_grpc_decoder_idle(const rr_grpc_decoder *d) { return d->hdr_have == 0; }

static int fail(rr_grpc_decoder *d, rr_error *err, int code, const char *what, uint64_t v) {
  d->failed = true;
  return rr__err(err, code, "gRPC framing: %s (%llu)", what, (unsigned long long)v);
}

int rr_grpc_decoder_feed(rr_grpc_decoder *d, const uint8_t *p, size_t n, rr_grpc_msg_cb cb, void *ud,
                         rr_error *err) {
  if (d->failed) return rr__err(err, RR_EPROTO, "gRPC framing: stream already failed");
  while (n > 0) {
    if (d->hdr_have < RR_GRPC_FRAME_HEADER) {
      size_t k = RR_GRPC_FRAME_HEADER - d->hdr_have;
      if (k > n) k = n;
      memcpy(d->hdr + d->hdr_have, p, k);
      d->hdr_have += k;
      p += k;
      n -= k;
      if (d->hdr_have < RR_GRPC_FRAME_HEADER) break;
      uint8_t flags = d->hdr[0];
      if (flags == 1) return fail(d, err, RR_EPROTO, "compressed message, but no compression was negotiated", flags);
      if (flags != 0 && !(flags == 0x80 && d->allow_trailers)) return fail(d, err, RR_EPROTO, "unknown flag byte", flags);
      d->need = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 | (uint32_t)d->hdr[3] << 8 | d->hdr[4];
      if (d->need > d->max_len) return fail(d, err, RR_ERANGE, "message longer than the limit", d->need);
      rr_buf_reset(&d->body);
    }
    size_t have = d->body.len;
    size_t k = d->need - have;
    if (k > n) k = n;
    /* Zero-copy path: the whole body is in this view and nothing is buffered. */
    if (have == 0 && k == d->need) {
      d->hdr_have = 0;
      int rc = cb(ud, d->hdr[0], p, k);
      if (rc < 0) { d->failed = true; return rc; }
      p += k;
      n -= k;
      continue;
    }
    if (k > 0) {
      if (rr_buf_append(&d->body, p, k) < 0) { d->failed = true; return rr__err(err, RR_ENOMEM, "out of memory"); }
      p += k;
      n -= k;
    }
    if (d->body.len == d->need) {
      d->hdr_have = 0;
      int rc = cb(ud, d->hdr[0], d->body.data ? d->body.data : (const uint8_t *)"", d->body.len);
      rr_buf_reset(&d->body);
      if (d->body.cap > (1u << 20)) rr_buf_free(&d->body); /* don't keep a huge buffer */
      if (rc < 0) { d->failed = true; return rc; }
    }
  }
  return RR_OK;
}

void rr_grpc_percent_encode(const char *in, char *out, size_t out_size) {
  size_t o = 0;
  for (const unsigned char *s = (const unsigned char *)in; *s && o + 4 < out_size; s++) {
    if (*s >= 0x20 && *s < 0x7f && *s != '%') out[o++] = (char)*s;
    else o += (size_t)snprintf(out + o, out_size - o, "%%%02X", *s);
  }
  if (out_size) out[o < out_size ? o : out_size - 1] = 0;
}

int rr_grpcweb_trailer(rr_buf *out, int status, const char *message) {
  char enc[600], body[700];
  rr_grpc_percent_encode(message ? message : "", enc, sizeof enc);
  int n = snprintf(body, sizeof body, "grpc-status:%d\r\ngrpc-message:%s\r\n", status, enc);
  if (n < 0 || (size_t)n >= sizeof body) n = (int)strlen(body);
  uint8_t h[5];
  rr_grpc_frame_header(h, 0x80, (uint32_t)n);
  RR_TRY(rr_buf_append(out, h, 5));
  return rr_buf_append(out, body, (size_t)n);
}

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t i = 0;
  while (v >= 0x80) { p[i++] = (uint8_t)(v | 0x80); v >>= 7; }
  p[i++] = (uint8_t)v;
  return i;
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

int rr_grpc_logmsg_prefix(uint8_t out[32], int kind, size_t inner_len) {
  if (kind < 1 || kind > 15) return RR_EINVAL;
  uint64_t logmsg_len = 1 + varint_len(inner_len) + (uint64_t)inner_len;
  uint64_t req_len = 1 + varint_len(logmsg_len) + logmsg_len;
  if (req_len > UINT32_MAX) return RR_ERANGE;
  rr_grpc_frame_header(out, 0, (uint32_t)req_len);
  size_t o = 5;
  out[o++] = 0x0a; /* field 1, length-delimited */
  o += put_varint(out + o, logmsg_len);
  out[o++] = (uint8_t)(kind << 3 | 2);
  o += put_varint(out + o, inner_len);
  return (int)o;
}

static int get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*i >= n) return RR_ECORRUPT;
    uint8_t b = p[(*i)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return RR_OK;
  }
  return RR_ECORRUPT;
}

int rr_proto_find_field1(const uint8_t *p, size_t n, const uint8_t **inner, size_t *inner_len) {
  size_t i = 0;
  int found = RR_ENOTFOUND;
  while (i < n) {
    uint64_t key, v;
    if (get_varint(p, n, &i, &key) < 0) return RR_ECORRUPT;
    uint32_t field = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
    if (field == 0) return RR_ECORRUPT;
    switch (wt) {
    case 0: if (get_varint(p, n, &i, &v) < 0) return RR_ECORRUPT; break;
    case 1: if (n - i < 8) return RR_ECORRUPT; i += 8; break;
    case 5: if (n - i < 4) return RR_ECORRUPT; i += 4; break;
    case 2:
      if (get_varint(p, n, &i, &v) < 0 || v > n - i) return RR_ECORRUPT;
      if (field == 1) { *inner = p + i; *inner_len = (size_t)v; found = RR_OK; } /* last one wins */
      i += (size_t)v;
      break;
    default: return RR_ECORRUPT;
    }
    if (field == 1 && wt != 2) return RR_ECORRUPT;
  }
  return found;
}
