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

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/rr_common.h"
#include "encoding/rr_encoding.h"

enum { SRV_PERSISTENT = 0, SRV_STATIC = 1, SRV_DISPOSABLE = 2 };
/* large freed messages kept for reuse: as many as a burst had in flight
 * (up to SRV_SPARES, SRV_SPARE_BYTES), given back once a second when they
 * were not needed (rr__srv_broker_trim_spares) */
#define SRV_SPARES 64
#define SRV_SPARE_MIN ((size_t)64 << 10)
#define SRV_SPARE_BYTES ((size_t)128 << 20)
/* small messages: buffers of 512 B .. 32 KiB (powers of two) kept for reuse,
 * at most SRV_SMALL_BYTES in all */
#define SRV_SMALL_CLASSES 7
#define SRV_SMALL_MIN_SHIFT 9
#define SRV_SMALL_BYTES ((size_t)8 << 20)

typedef struct srv_broker srv_broker;

typedef struct srv_msg {
  uint32_t refs;
  uint8_t cat;        /* SRV_* */
  uint8_t kind;       /* rr_msg_kind */
  uint32_t inner_off; /* offset of the inner message in data (for --save) */
  size_t len;         /* bytes of data: one whole gRPC frame */
  size_t cap;         /* bytes allocated for data (>= len) */
  uint8_t data[];
} srv_msg;

/* Builds a message from a decoded LogMsg (category from kind, store kind and
 * is_static). NULL on out-of-memory or a frame over 4 GiB. */
srv_msg *rr__srv_msg_from_log_msg(const rr_log_msg *m);
int rr__srv_category(const rr_log_msg *m);
/* The same from an inner message's bytes (copied behind the prefix). */
srv_msg *rr__srv_msg_new(int kind, int cat, const uint8_t *inner, size_t n);

/* What the server needs to know of a LogMsg to forward it. */
typedef struct srv_log_info {
  int kind;             /* rr_msg_kind */
  int cat;              /* SRV_* */
  const uint8_t *inner; /* the oneof member's bytes, a view into the LogMsg */
  size_t inner_len;
} srv_log_info;

/* Validates a LogMsg (`p`, `n`) for forwarding. An ArrowMsg is checked
 * without copying or decompressing its payload: the protobuf wire format
 * of the envelope, the store id (UTF-8), encoding Arrow IPC, the sizes
 * (uncompressed size within the limit and possible for an LZ4 block of
 * that length). The LZ4 block itself is only decoded with `full`, as are
 * the other kinds always (rr_log_msg_decode). RR_ECORRUPT, RR_EUNSUPPORTED,
 * RR_ERANGE, RR_ENOMEM with a reason in err. */
int rr__srv_check_log_msg(const uint8_t *p, size_t n, bool full, srv_log_info *out, rr_error *err);

/* gRPC deframer that assembles each message straight into a srv_msg
 * (data = the 5-byte gRPC header + the body), so a request that is already
 * in the canonical form of a ReadMessagesResponse frame is forwarded without
 * another copy. Allocates at most 16 MiB ahead of the bytes that arrived. */
typedef struct srv_deframer {
  uint8_t hdr[5];
  size_t hdr_have;
  uint32_t need;   /* body length of the current message */
  srv_msg *cur;    /* being filled: cur->len bytes so far (header included) */
  size_t cap;      /* bytes allocated for cur->data */
  srv_broker *pool; /* where to take message buffers from (NULL: malloc) */
  size_t last_len; /* bytes of the last whole message (header included) */
  bool failed;
} srv_deframer;

/* Called with each whole message; takes ownership of m (refs 0, kind and
 * cat unset, inner_off 5). A negative return stops the feed. */
typedef int (*srv_deframer_cb)(void *ud, srv_msg *m);
void rr__srv_deframer_init(srv_deframer *d);
void rr__srv_deframer_free(srv_deframer *d);
bool rr__srv_deframer_idle(const srv_deframer *d);
/* Where up to *len bytes of the current message's body may be read
 * directly (then fed from there); NULL if no body is being assembled. */
uint8_t *rr__srv_deframer_inplace(const srv_deframer *d, size_t *len);
/* Returns RR_OK, RR_EPROTO (compressed or unknown flag), RR_ENOMEM or the
 * callback's negative value; after an error every feed returns RR_EPROTO.
 * Bytes already in place (p is where the next body byte goes, see
 * rr__srv_deframer_inplace) are taken without a copy. */
int rr__srv_deframer_feed(srv_deframer *d, const uint8_t *p, size_t n, srv_deframer_cb cb, void *ud, rr_error *err);

typedef struct srv_deque {
  srv_msg **v;
  size_t head, n, cap;
} srv_deque;

typedef struct srv_reader srv_reader;

struct srv_broker {
  srv_deque hist[3];
  uint64_t hist_bytes, limit, reader_max;
  srv_reader *readers;
  uint64_t dropped_msgs, dropped_bytes;
  uint64_t live_bytes;       /* all srv_msg bytes alive (refs > 0) */
  uint64_t n_readers;
  bool warned_persistent;
  /* large freed messages kept for reuse (fresh memory costs a page fault
   * per page, more than the copy into it). The kept buffers (spare and
   * small) are under pool_mu: rr__srv_msg_alloc may run on any thread (a
   * message published from the process hosting the server). */
  pthread_mutex_t pool_mu;
  srv_msg *spare[SRV_SPARES];
  int n_spare;
  int spare_low;            /* the fewest kept since the last trim */
  size_t spare_bytes;       /* at most SRV_SPARE_BYTES */
  srv_msg *small[SRV_SMALL_CLASSES]; /* free lists (linked through data) */
  size_t small_bytes;       /* at most SRV_SMALL_BYTES */
};

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
/* Frees the kept large buffers that no message needed since the last call
 * (the server calls it once a second): a burst's buffers are reused while
 * it lasts, and given back after it. */
void rr__srv_broker_trim_spares(srv_broker *b);
/* A message with room for cap bytes of data (a kept one when one fits),
 * header zeroed; NULL on out-of-memory. Thread-safe (b may be NULL: malloc). */
srv_msg *rr__srv_msg_alloc(srv_broker *b, size_t cap);
/* Attaches a reader: snapshot of the history (persistent, static,
 * disposable, each oldest first), then live messages. RR_ENOMEM. */
int rr__srv_reader_attach(srv_broker *b, srv_reader *r);
void rr__srv_reader_detach(srv_reader *r);
/* The bytes of the reader's next message not yet taken (NULL if none). */
const uint8_t *rr__srv_reader_peek(srv_reader *r, size_t *len);
void rr__srv_reader_consume(srv_reader *r, size_t n);
/* The message rr__srv_reader_peek points into (NULL if none). */
srv_msg *rr__srv_reader_msg(const srv_reader *r);
bool rr__srv_reader_empty(const srv_reader *r);
/* Bytes of the run of messages from the next one on (the rest of it, then
 * whole ones) that are each under max_each bytes, at most max_total in all
 * (the first one always counts); 0 if the next one is not under max_each. */
size_t rr__srv_reader_small_run(const srv_reader *r, size_t max_each, size_t max_total);

#endif
