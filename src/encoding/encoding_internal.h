/* This file is private to the encoding layer: helpers shared by the message
 * codec (rr_msg_codec.c) and the RRD stream code (rr_rrd_stream.c). */
#ifndef RR_ENCODING_INTERNAL_H
#define RR_ENCODING_INTERNAL_H

#include "encoding/rr_encoding.h"

/* A decoded End message: `p`, `n` is the RrdFooter payload (may be empty).
 * RR_ECORRUPT if it is not a valid RrdFooter, RR_ENOMEM. */
int rr__log_msg_new_end(const uint8_t *p, size_t n, rr_log_msg **out, rr_error *err);

/* Gives a decoded message an application id (copied); *m may move. */
int rr__log_msg_set_app_id(rr_log_msg **m, const char *app, size_t len);

const char *rr__msg_kind_name(int kind);

/* How a decoder stores what it decodes: the Arrow IPC bytes carved from
 * `pool` (NULL: the process-wide pool of rr_blocks.h); with `no_arrow_proto`
 * an ArrowMsg's `proto` is left empty instead of holding a copy of the
 * (mostly payload) protobuf bytes. */
struct rr__decode_opts {
  struct rr_blocks *pool;
  bool no_arrow_proto;
};
/* rr_log_msg_decode_inner with `o` (NULL: defaults). */
int rr__log_msg_decode_inner_opts(int kind, const uint8_t *p, size_t n, const rr_decode_limits *limits,
                                  const struct rr__decode_opts *o, rr_log_msg **out, rr_error *err);

#endif
