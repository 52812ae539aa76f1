/* This file is private to rerun-c.
 *
 * The server layer. Two parts:
 *
 *  - the broker (srv_broker.c, no I/O, loop thread only): reference-counted
 *    messages, each already framed as one gRPC ReadMessagesResponse; the
 *    history in three arrival-ordered queues (persistent: store infos and
 *    blueprints, static chunks, temporal chunks) bounded by the memory
 *    limit; and readers, each holding a snapshot of the history taken when
 *    it attached, then a queue of live messages. A message is freed when the
 *    history and every reader have let go of it.
 *  - the loop (srv_loop.c): libuv, one thread; connections sniffed as
 *    HTTP/2 (nghttp2 server session fed by mem_recv, drained by mem_send) or
 *    HTTP/1.1 (gRPC-Web, CORS preflight, static files).
 *
 * Invariants: hist_bytes = sum of len over the three history queues;
 * reader->live_bytes = sum of len over its live queue; a reader whose
 * live_bytes exceeds the bound is flagged `overflow` and its connection
 * drops it at the next pump. */
#ifndef RR_SERVER_INTERNAL_H
#define RR_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rr_common.h"
#include "encoding/rr_encoding.h"

enum { SRV_PERSISTENT = 0, SRV_STATIC = 1, SRV_DISPOSABLE = 2 };

typedef struct srv_msg {
  uint32_t refs;
  uint8_t cat;        /* SRV_* */
  uint8_t kind;       /* rr_msg_kind */
  uint32_t inner_off; /* offset of the inner message in data (for --save) */
  size_t len;         /* bytes of data: one whole gRPC frame */
  uint8_t data[];
} srv_msg;

/* Builds a message from a decoded LogMsg (category from kind, store kind and
 * is_static). NULL on out-of-memory or a frame over 4 GiB. */
srv_msg *rr__srv_msg_from_log_msg(const rr_log_msg *m);
int rr__srv_category(const rr_log_msg *m);

typedef struct srv_deque {
  srv_msg **v;
  size_t head, n, cap;
} srv_deque;

typedef struct srv_reader srv_reader;

typedef struct srv_broker {
  srv_deque hist[3];
  uint64_t hist_bytes, limit, reader_max;
  srv_reader *readers;
  uint64_t dropped_msgs, dropped_bytes;
  uint64_t live_bytes;       /* all srv_msg bytes alive (refs > 0) */
  uint64_t n_readers;
  bool warned_persistent;
} srv_broker;

struct srv_reader {
  srv_reader *next, *prev;
  srv_broker *b;
  srv_msg **snap;
  size_t snap_n, snap_i;
  srv_deque live;
  uint64_t live_bytes;
  size_t off;        /* bytes of the current message already taken */
  bool overflow;
  void (*notify)(srv_reader *r);
  void *ud;
};

void rr__srv_broker_init(srv_broker *b, uint64_t limit, uint64_t reader_max);
void rr__srv_broker_free(srv_broker *b); /* readers must be detached first */
/* Takes a new message (refs must be 0; the broker takes the first refs and
 * accounts its bytes in live_bytes until the last unref).
 * Adds it to the history (limit permitting) and to every reader. Returns the
 * number of history messages dropped by the limit. */
size_t rr__srv_broker_publish(srv_broker *b, srv_msg *m);
void rr__srv_msg_unref(srv_broker *b, srv_msg *m);
/* Attaches a reader: snapshot of the history (persistent, static,
 * disposable, each oldest first), then live messages. RR_ENOMEM. */
int rr__srv_reader_attach(srv_broker *b, srv_reader *r);
void rr__srv_reader_detach(srv_reader *r);
/* The bytes of the reader's next message not yet taken (NULL if none). */
const uint8_t *rr__srv_reader_peek(srv_reader *r, size_t *len);
void rr__srv_reader_consume(srv_reader *r, size_t n);
bool rr__srv_reader_empty(const srv_reader *r);

#endif
