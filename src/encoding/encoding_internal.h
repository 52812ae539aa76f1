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

/* rr_log_msg_decode_inner with the decoded Arrow IPC bytes carved from
 * `pool` (NULL: the process-wide pool of rr_blocks.h). */
struct rr_blocks;
int rr__log_msg_decode_inner_pool(int kind, const uint8_t *p, size_t n, const rr_decode_limits *limits,
                                  struct rr_blocks *pool, rr_log_msg **out, rr_error *err);

#endif
