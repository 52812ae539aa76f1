/* This file is private to rerun-c.
 *
 * The net layer: protocol cores that do no I/O, shared by the server
 * (src/server) and the SDK's gRPC sink (src/sdk/sink_grpc.c).
 *
 *  - gRPC length-prefixed messages: 1 flag byte (0 = uncompressed; 0x80 =
 *    gRPC-Web trailers) + u32 big-endian length + bytes. The decoder is fed
 *    byte views split anywhere and calls back once per whole message; it
 *    never allocates more than the bytes that arrived, and refuses lengths
 *    above its limit before buffering them.
 *  - gRPC-Web: the trailer frame (flag 0x80, "grpc-status:N\r\n...").
 *  - HTTP/1.1 request heads (for gRPC-Web, CORS preflights and static files).
 *  - Rerun proxy URLs (rerun+http://host:port/proxy) and the CORS origin rule
 *    of Rerun's server (spec §6.2, §6.3).
 * Everything here is pure: byte views in, values out. */
#ifndef RR_NET_H
#define RR_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rr_common.h"

#define RR_GRPC_PATH_PREFIX "/rerun.sdk_comms.v1alpha1.MessageProxyService/"
#define RR_GRPC_DEFAULT_PORT 9876
#define RR_WEB_VIEWER_DEFAULT_PORT 9090
#define RR_GRPC_FRAME_HEADER 5

/* gRPC status codes used here. */
enum {
  RR_GRPC_OK = 0,
  RR_GRPC_INVALID_ARGUMENT = 3,
  RR_GRPC_RESOURCE_EXHAUSTED = 8,
  RR_GRPC_UNIMPLEMENTED = 12,
  RR_GRPC_INTERNAL = 13,
  RR_GRPC_UNAVAILABLE = 14
};

/* ---- gRPC message framing ------------------------------------------------------ */

static inline void rr_grpc_frame_header(uint8_t out[5], uint8_t flags, uint32_t len) {
  out[0] = flags;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
}

/* Called for each whole message; `p` is valid during the call only. A
 * negative return stops the feed and is returned by rr_grpc_decoder_feed. */
typedef int (*rr_grpc_msg_cb)(void *ud, uint8_t flags, const uint8_t *p, size_t n);

typedef struct rr_grpc_decoder {
  uint8_t hdr[RR_GRPC_FRAME_HEADER];
  size_t hdr_have;   /* bytes of hdr filled */
  uint32_t need;     /* body length of the current message */
  rr_buf body;       /* body bytes so far */
  uint64_t max_len;  /* messages longer than this are refused */
  bool allow_trailers; /* accept flag 0x80 (gRPC-Web responses) */
  bool failed;
} rr_grpc_decoder;

/* max_len 0 = UINT32_MAX (Rerun's limit). */
void rr_grpc_decoder_init(rr_grpc_decoder *d, uint64_t max_len);
void rr_grpc_decoder_free(rr_grpc_decoder *d);
/* Feeds n bytes. Returns RR_OK, RR_EPROTO (compressed flag or unknown flag:
 * no compression is negotiated), RR_ERANGE (length above the limit), the
 * callback's negative value, or RR_ENOMEM. After an error every later feed
 * returns RR_EPROTO. */
int rr_grpc_decoder_feed(rr_grpc_decoder *d, const uint8_t *p, size_t n, rr_grpc_msg_cb cb, void *ud,
                         rr_error *err);
/* True when no partial message is pending (a clean place for the stream to end). */
bool rr_grpc_decoder_idle(const rr_grpc_decoder *d);

/* Appends the gRPC-Web trailer frame: 0x80, u32 BE length,
 * "grpc-status:N\r\ngrpc-message:MSG\r\n" (MSG percent-encoded). */
int rr_grpcweb_trailer(rr_buf *out, int status, const char *message);
/* Percent-encodes a grpc-message value (RFC 3986 unreserved and space kept
 * except '%'), at most out_size-1 bytes, NUL-terminated. */
void rr_grpc_percent_encode(const char *in, char *out, size_t out_size);

/* ---- protobuf wrapping of one LogMsg ----------------------------------------------- */

/* Writes the prefix that turns an inner message (kind 1-3, `inner_len`
 * bytes) into one gRPC frame of WriteMessagesRequest / ReadMessagesResponse
 * (both: field 1 = LogMsg; LogMsg: field `kind` = inner): 5-byte gRPC header,
 * tag, varint, tag, varint. Returns the prefix length (at most 27), or
 * RR_ERANGE if the frame would exceed 4 GiB - 1. */
int rr_grpc_logmsg_prefix(uint8_t out[32], int kind, size_t inner_len);

/* Reads one protobuf length-delimited field 1 out of a request/response
 * body: *inner points into p. Unknown fields are skipped. RR_ENOTFOUND if
 * field 1 is absent (an empty request), RR_ECORRUPT if malformed. */
int rr_proto_find_field1(const uint8_t *p, size_t n, const uint8_t **inner, size_t *inner_len);

/* ---- HTTP/1.1 request heads ------------------------------------------------------------ */

#define RR_HTTP1_MAX_HEADERS 32
#define RR_HTTP1_MAX_HEAD 16384

typedef struct rr_http1_request {
  rr_str method, path, version;  /* views into the input */
  size_t n_headers;
  struct { rr_str name, value; } headers[RR_HTTP1_MAX_HEADERS];
  int64_t content_length;        /* -1 if absent */
  bool chunked;                  /* Transfer-Encoding: chunked */
  bool keep_alive;               /* HTTP/1.1 without Connection: close */
  size_t head_len;               /* bytes up to and including the blank line */
} rr_http1_request;

/* Parses a request head from the start of p. Returns RR_OK (filled),
 * RR_EAGAIN (no blank line yet and fewer than RR_HTTP1_MAX_HEAD bytes),
 * RR_EPROTO (malformed, too long, too many headers, bad content-length). */
int rr_http1_parse_request(const char *p, size_t n, rr_http1_request *out, rr_error *err);
/* The value of a header (case-insensitive name), or {NULL, 0}. */
rr_str rr_http1_header(const rr_http1_request *r, const char *name);
/* True if the value of header `name` (comma-separated list) contains `token` (case-insensitive). */
bool rr_http1_header_has(const rr_http1_request *r, const char *name, const char *token);

/* ---- URLs and origins ------------------------------------------------------------------ */

typedef struct rr_proxy_url {
  char host[256];
  int port;
  bool tls;   /* rerun+https / rerun:// : not supported by this client */
} rr_proxy_url;

/* Parses rerun+http://host[:port][/proxy] (also http://, rerun+https://,
 * rerun://, [v6]). Missing port: 9876 for a /proxy URL or localhost/127.0.0.1,
 * else 80/443. Host 0.0.0.0 / :: becomes 127.0.0.1. RR_EINVAL if malformed. */
int rr_proxy_url_parse(const char *url, rr_proxy_url *out, rr_error *err);

/* Rerun's CORS rule: origins *://localhost[:*], *://127.0.0.1[:*],
 * *://rerun.io[:*], plus an optional extra glob pattern ('*' matches any run). */
bool rr_cors_origin_allowed(const char *origin, size_t len, const char *extra_pattern);
bool rr_glob_match(const char *pat, const char *s, size_t len);

#endif
