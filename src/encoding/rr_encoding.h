/* This file is private to rerun-c.
 *
 * The encoding layer: Rerun's protobuf messages (protobuf-c code generated
 * from proto/rerun/<name>.proto), LZ4 block compression of Arrow payloads and the
 * RRD stream framing (docs/format/rrd.md, shared/spec/rrd-format.md §1-§4).
 *
 * One value type, rr_log_msg, describes a message in both directions: the
 * encoder reads it, the decoders (RRD stream, gRPC LogMsg) produce it. The
 * RRD decoder is incremental and does no I/O: feed it byte views split
 * anywhere, pull messages out; "need more bytes" (RR_EAGAIN) and "end of
 * stream" (RR_EEOF) are distinct. All input is untrusted: every length is
 * checked before it sizes anything, and buffers only grow as bytes arrive. */
#ifndef RR_ENCODING_H
#define RR_ENCODING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/rr_blocks.h"
#include "base/rr_common.h"

/* ---- constants ----------------------------------------------------------- */

#define RR_RRD_STREAM_HEADER_SIZE 12
#define RR_RRD_MESSAGE_HEADER_SIZE 16
#define RR_RRD_STREAM_FOOTER_SIZE 32
/* xxHash32 seed of the StreamFooter CRC over the RrdFooter bytes. */
#define RR_RRD_FOOTER_CRC_SEED 7850921u
/* Version bytes this library writes: [major, minor, patch, meta] = 0.33.0. */
#define RR_RRD_VERSION_MAJOR 0
#define RR_RRD_VERSION_MINOR 33
#define RR_RRD_VERSION_PATCH 0
/* The same version as StoreVersion.crate_version_bits (little-endian i32). */
#define RR_RRD_CRATE_VERSION_BITS 8448
/* Default limits of the decoders: 4 GiB. */
#define RR_RRD_DEFAULT_MAX_MESSAGE_SIZE (UINT64_C(4) << 30)
#define RR_RRD_DEFAULT_MAX_UNCOMPRESSED_SIZE (UINT64_C(4) << 30)

/* Message kinds: the RRD MessageHeader kind = the LogMsg oneof number. */
typedef enum rr_msg_kind {
  RR_MSG_END = 0,                 /* End of stream: RrdFooter payload (RRD only) */
  RR_MSG_SET_STORE_INFO = 1,
  RR_MSG_ARROW = 2,
  RR_MSG_BLUEPRINT_ACTIVATION = 3
} rr_msg_kind;

typedef enum rr_store_kind {
  RR_STORE_KIND_UNSPECIFIED = 0,  /* readers treat it as a recording */
  RR_STORE_KIND_RECORDING = 1,
  RR_STORE_KIND_BLUEPRINT = 2
} rr_store_kind;

typedef enum rr_store_source_kind {
  RR_SOURCE_UNSPECIFIED = 0,
  RR_SOURCE_C_SDK = 1,
  RR_SOURCE_PYTHON_SDK = 2,
  RR_SOURCE_RUST_SDK = 3,
  RR_SOURCE_FILE = 4,
  RR_SOURCE_VIEWER = 5,
  RR_SOURCE_OTHER = 6
} rr_store_source_kind;

/* ArrowMsg.compression (protobuf enum; differs from the StreamHeader byte). */
typedef enum rr_proto_compression {
  RR_PROTO_COMPRESSION_UNSPECIFIED = 0,
  RR_PROTO_COMPRESSION_NONE = 1,
  RR_PROTO_COMPRESSION_LZ4 = 2
} rr_proto_compression;

/* ---- the message value ----------------------------------------------------- */

/* A store id. In a decoded message the strings are NUL-terminated views
 * into the message; application_id.ptr is NULL when the wire message had no
 * application id (only possible for messages decoded by rr_log_msg_decode*,
 * the RRD decoder recovers or rejects such ids, see rr_rrd_decoder_next). */
typedef struct rr_store_id {
  int32_t kind;                   /* rr_store_kind */
  rr_str application_id;
  rr_str recording_id;
} rr_store_id;

typedef struct rr_log_msg {
  int kind;                       /* rr_msg_kind */
  /* The store this message is about (SetStoreInfo: info.store_id;
   * ArrowMsg: store_id; BlueprintActivationCommand: blueprint_id). Unused
   * for RR_MSG_END. */
  rr_store_id store_id;

  /* RR_MSG_SET_STORE_INFO */
  struct {
    rr_tuid row_id;
    int32_t source_kind;          /* rr_store_source_kind */
    rr_bytes source_extra;        /* StoreSourceExtra.payload (may be empty) */
    bool has_version;
    int32_t version_bits;         /* StoreVersion.crate_version_bits */
  } info;

  /* RR_MSG_ARROW */
  struct {
    /* Decoded: the Arrow IPC stream, decompressed, 64-byte aligned, owned by
     * the message (see rr_log_msg_take_ipc). Encoding: the IPC stream to
     * send, not owned. */
    rr_bytes ipc;
    int32_t compression;          /* decoded: as on the wire (rr_proto_compression) */
    uint64_t uncompressed_size;   /* decoded: as on the wire */
    bool has_chunk_id;
    rr_tuid chunk_id;
    bool has_is_static;           /* encoding: is_static is always emitted */
    bool is_static;
  } arrow;

  /* RR_MSG_BLUEPRINT_ACTIVATION */
  struct {
    bool make_active;
    bool make_default;
  } activation;

  /* RR_MSG_END (RRD decoder with emit_end only) */
  struct {
    size_t n_manifests;           /* RrdManifest entries in the RrdFooter */
  } end;

  /* Decoded only: the inner protobuf bytes as received (RRD payload, or the
   * oneof member of a LogMsg), ready to be forwarded; the byte offset of the
   * MessageHeader in the decoder's input (0 for LogMsg); the version bytes
   * of the enclosing StreamHeader (all zero outside an RRD stream). */
  rr_bytes proto;
  uint64_t offset;
  uint8_t stream_version[4];
} rr_log_msg;

/* Frees a message returned by a decoder. Accepts NULL. */
void rr_log_msg_free(rr_log_msg *m);

/* Moves the decoded Arrow IPC bytes out of `m` (64-byte aligned, from
 * rr__blocks_alloc: the caller frees them with rr__blocks_free). Returns
 * NULL (and *len = 0) when there are none or they were already taken. */
uint8_t *rr_log_msg_take_ipc(rr_log_msg *m, size_t *len);

/* Fills `m` (zeroed first) as the SetStoreInfo a C SDK sends: fresh row id,
 * source C_SDK with empty extra, version 0.33.0. The strings in `id` are
 * borrowed, not copied. */
void rr_log_msg_init_store_info(rr_log_msg *m, const rr_store_id *id);

/* ---- encoding ------------------------------------------------------------ */

typedef enum rr_framing {
  RR_FRAMING_PROTO = 0,  /* the inner protobuf message only */
  RR_FRAMING_RRD = 1,    /* 16-byte MessageHeader + inner protobuf */
  RR_FRAMING_LOG_MSG = 2 /* a rerun.log_msg.v1alpha1.LogMsg (gRPC) */
} rr_framing;

/* Appends the 12-byte StreamHeader: RRF2, version 0.33.0, the compression
 * byte (1 with `lz4`, else 0), serializer protobuf, reserved zero. */
int rr_rrd_write_stream_header(rr_buf *out, bool lz4);
/* The same with explicit version bytes (tools and tests). */
int rr_rrd_write_stream_header_version(rr_buf *out, const uint8_t version[4], bool lz4);

/* Appends message `m` (kinds 1-3) in the given framing. Fields are emitted
 * in ascending field-number order like Rerun's encoder.
 *   SetStoreInfo: row_id (both halves), info{store_id, store_source{kind,
 *     extra (always, even empty)}, store_version if has_version}.
 *   ArrowMsg: store_id, compression (LZ4 block of arrow.ipc when `lz4`,
 *     else raw with compression NONE), uncompressed_size = ipc length,
 *     encoding ARROW_IPC, payload, chunk_id if has_chunk_id, is_static
 *     (always present).
 *   BlueprintActivationCommand: blueprint_id = store_id and both flags.
 * Returns RR_OK, RR_EINVAL (bad kind, string or size), RR_ENOMEM. On error
 * `out` keeps its previous length. */
int rr_log_msg_encode(rr_buf *out, const rr_log_msg *m, rr_framing framing, bool lz4,
                      rr_error *err);

/* The bytes around an ArrowMsg's payload, for callers that keep the
 * payload elsewhere (segments, a compression buffer): appends to `out` the
 * head (the framing, fields 1-4, the payload's tag and length: *head_len
 * bytes) and then the tail (chunk_id, is_static). head + payload + tail are
 * byte for byte what rr_log_msg_encode writes for the same message with that
 * payload. m->arrow.ipc is ignored; the payload is payload_len bytes, an LZ4
 * block when `lz4`, of an IPC stream of uncompressed_size bytes. */
int rr_arrow_msg_encode_parts(rr_buf *out, size_t *head_len, const rr_log_msg *m, rr_framing framing,
                              bool lz4, size_t payload_len, size_t uncompressed_size, rr_error *err);

/* Appends a length-delimited protobuf field (tag, varint length, bytes).
 * With field = kind it turns an inner message into a LogMsg without
 * re-encoding; with field 1 it wraps a LogMsg as WriteMessagesRequest or
 * ReadMessagesResponse. */
int rr_proto_append_bytes_field(rr_buf *out, uint32_t field, const void *p, size_t n);

/* ---- decoding single messages ---------------------------------------------- */

typedef struct rr_decode_limits {
  uint64_t max_message_size;      /* 0 = RR_RRD_DEFAULT_MAX_MESSAGE_SIZE */
  uint64_t max_uncompressed_size; /* 0 = RR_RRD_DEFAULT_MAX_UNCOMPRESSED_SIZE */
} rr_decode_limits;

/* Decodes the inner protobuf of kind 1-3 (`p`, `n` as in an RRD payload).
 * Checks what Rerun's conversion requires (row id halves, store info,
 * store source and its extra, store ids, encoding ARROW_IPC) and
 * decompresses LZ4 into exactly uncompressed_size bytes, refusing sizes
 * above the limit or above 255 x the compressed size (+ slack). The caller
 * frees *out with rr_log_msg_free if RR_OK is returned. Errors: RR_ECORRUPT
 * (malformed protobuf, missing field, bad LZ4), RR_EUNSUPPORTED (encoding),
 * RR_ERANGE (limit), RR_EINVAL (kind), RR_ENOMEM. `limits` may be NULL. */
int rr_log_msg_decode_inner(int kind, const uint8_t *p, size_t n, const rr_decode_limits *limits,
                            rr_log_msg **out, rr_error *err);

/* Decodes a rerun.log_msg.v1alpha1.LogMsg (gRPC). An unset oneof is
 * RR_ECORRUPT. Otherwise as rr_log_msg_decode_inner; `proto` of the result
 * is the inner message. */
int rr_log_msg_decode(const uint8_t *p, size_t n, const rr_decode_limits *limits,
                      rr_log_msg **out, rr_error *err);

/* ---- RRD stream headers (peek / verify) --------------------------------------- */

typedef struct rr_rrd_stream_header {
  uint8_t version[4];
  bool lz4;                        /* compression byte == 1 */
} rr_rrd_stream_header;

/* Verifies a 12-byte StreamHeader (fourcc, options, version rules of spec
 * §7). Returns RR_EAGAIN if n < 12; RR_EUNSUPPORTED for an old fourcc
 * (RRF0/RRF1), a removed serializer or a version below 0.23 (the message
 * names the version); RR_ECORRUPT for anything else wrong. With a version
 * newer than 0.33.x it returns RR_OK and sets *newer (may be NULL). */
int rr_rrd_verify_stream_header(const uint8_t *p, size_t n, rr_rrd_stream_header *out, bool *newer,
                                rr_error *err);
/* Formats version bytes as "0.33.0", "0.34.0-rc.2", "0.34.0-alpha.1+dev". */
void rr_rrd_version_format(const uint8_t version[4], char out[32]);

/* ---- incremental RRD decoder ------------------------------------------------- */

typedef struct rr_rrd_decoder rr_rrd_decoder;

typedef struct rr_rrd_decoder_opts {
  rr_decode_limits limits;        /* zeros = defaults (4 GiB each) */
  bool emit_end;                  /* also return End messages (after their StreamFooter) */
} rr_rrd_decoder_opts;

/* Creates a decoder; `opts` may be NULL. The caller frees *out with
 * rr_rrd_decoder_free if RR_OK is returned. RR_ENOMEM. */
int rr_rrd_decoder_new(rr_rrd_decoder **out, const rr_rrd_decoder_opts *opts);
void rr_rrd_decoder_free(rr_rrd_decoder *d); /* accepts NULL */
/* Decoded Arrow IPC bytes are carved from `pool` (NULL, the default: the
 * process-wide pool of rr_blocks.h); the pool must outlive the decoder. */
void rr_rrd_decoder_set_ipc_pool(rr_rrd_decoder *d, rr_blocks *pool);
/* With keep = false, ArrowMsgs come out with an empty `proto` (no copy of
 * their protobuf bytes; for consumers that only read `arrow`). Default true. */
void rr_rrd_decoder_set_keep_arrow_proto(rr_rrd_decoder *d, bool keep);
/* Zero-copy input: room for `n` more bytes at the end of the decoder's
 * queue (NULL when out of memory, or when the decoder stopped or finished);
 * the caller writes up to n bytes there and hands them over with
 * rr_rrd_decoder_commit(d, written). Nothing may be fed in between. */
uint8_t *rr_rrd_decoder_reserve(rr_rrd_decoder *d, size_t n);
void rr_rrd_decoder_commit(rr_rrd_decoder *d, size_t written);

/* Appends n input bytes (copied). After the decoder stopped the bytes are
 * ignored. RR_EINVAL after rr_rrd_decoder_finish; RR_ENOMEM. */
int rr_rrd_decoder_feed(rr_rrd_decoder *d, const void *p, size_t n);
/* Declares the end of the input: a partial frame left over becomes an
 * error naming its offset instead of RR_EAGAIN. */
void rr_rrd_decoder_finish(rr_rrd_decoder *d);

/* Decodes the next message, following Rerun 0.33's reader (spec §1.5):
 * concatenated streams, End + StreamFooter skipped (or returned with
 * emit_end), an unknown kind sends it back to expect a StreamHeader.
 * Returns
 *   RR_OK      *out is a message (caller frees it with rr_log_msg_free);
 *   RR_EAGAIN  feed more bytes (or finish);
 *   RR_EEOF    the input ended cleanly, or after a stream error was reported;
 *   < 0        an error, reported once, with `err` naming the byte offset.
 *              If the message payload was bad (protobuf, LZ4, a required
 *              field), only that message is lost and the next call goes on
 *              with the next message; if the framing was bad (stream header,
 *              version, message length, footer, truncation) the next call
 *              returns RR_EEOF. rr_rrd_decoder_stopped tells them apart.
 * A store id without application id is completed from an earlier
 * SetStoreInfo of the same recording id, or the message is rejected. */
int rr_rrd_decoder_next(rr_rrd_decoder *d, rr_log_msg **out, rr_error *err);

/* True once the decoder will return nothing but RR_EEOF. */
bool rr_rrd_decoder_stopped(const rr_rrd_decoder *d);
/* Total bytes consumed so far (the offset of the next frame). */
uint64_t rr_rrd_decoder_offset(const rr_rrd_decoder *d);
/* The last warning (e.g. a stream newer than 0.33), or NULL. Valid until the
 * next call on the decoder. Warnings are also logged once via rr__warn. */
const char *rr_rrd_decoder_warning(const rr_rrd_decoder *d);

/* ---- I/O adapters ------------------------------------------------------------ */

/* Called for every decoded message (ownership passes to the callback) and
 * for every error (msg NULL, err filled). A non-zero return stops reading
 * and is returned by the reader. */
typedef int (*rr_rrd_msg_cb)(void *ud, rr_log_msg *msg, const rr_error *err);

/* Reads a FILE* (or a whole file by path) through the decoder in 64 KiB
 * reads, invoking `cb`. Returns RR_OK at the end of input (even if some
 * messages were reported as errors), the callback's non-zero value,
 * RR_EIO on a read error, or RR_ENOTFOUND / RR_EIO when the path cannot be
 * opened. `opts` may be NULL. */
int rr_rrd_read_file(FILE *f, const rr_rrd_decoder_opts *opts, rr_rrd_msg_cb cb, void *ud,
                     rr_error *err);
int rr_rrd_read_path(const char *path, const rr_rrd_decoder_opts *opts, rr_rrd_msg_cb cb, void *ud,
                     rr_error *err);

#endif
