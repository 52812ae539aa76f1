/* libFuzzer target: protobuf unpacking of LogMsg / SetStoreInfo / ArrowMsg /
 * BlueprintActivationCommand through rr_log_msg_decode*. Byte 0 picks the
 * message type (0 = LogMsg, 1-3 = inner kind), the rest is the protobuf.
 * A message that decodes is re-encoded and decoded again: the fields must
 * survive the round trip. */
#include <stddef.h>
#include <stdint.h>

#include "encoding/rr_encoding.h"

static bool same_str(rr_str a, rr_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void check_round_trip(const rr_log_msg *m) {
  rr_buf b = RR_BUF_INIT;
  rr_error e;
  bool lz4 = m->arrow.compression == RR_PROTO_COMPRESSION_LZ4;
  if (rr_log_msg_encode(&b, m, RR_FRAMING_LOG_MSG, lz4, &e) != RR_OK) {
    /* Only an impossible allocation may fail: every decoded field is encodable. */
    if (e.code != RR_ENOMEM) __builtin_trap();
    rr_buf_free(&b);
    return;
  }
  rr_log_msg *d = NULL;
  if (rr_log_msg_decode(b.data, b.len, NULL, &d, &e) != RR_OK) __builtin_trap();
  if (d->kind != m->kind || d->store_id.kind != m->store_id.kind) __builtin_trap();
  if (!same_str(d->store_id.recording_id, m->store_id.recording_id)) __builtin_trap();
  if (m->store_id.application_id.ptr && !same_str(d->store_id.application_id, m->store_id.application_id))
    __builtin_trap();
  switch (m->kind) {
    case RR_MSG_SET_STORE_INFO:
      if (d->info.row_id.time_ns != m->info.row_id.time_ns || d->info.row_id.inc != m->info.row_id.inc ||
          d->info.source_kind != m->info.source_kind || d->info.has_version != m->info.has_version ||
          d->info.version_bits != m->info.version_bits ||
          d->info.source_extra.len != m->info.source_extra.len ||
          (m->info.source_extra.len &&
           memcmp(d->info.source_extra.ptr, m->info.source_extra.ptr, m->info.source_extra.len)))
        __builtin_trap();
      break;
    case RR_MSG_ARROW:
      if (d->arrow.ipc.len != m->arrow.ipc.len ||
          (m->arrow.ipc.len && memcmp(d->arrow.ipc.ptr, m->arrow.ipc.ptr, m->arrow.ipc.len)) ||
          d->arrow.is_static != m->arrow.is_static || d->arrow.has_chunk_id != m->arrow.has_chunk_id ||
          (m->arrow.has_chunk_id && (d->arrow.chunk_id.time_ns != m->arrow.chunk_id.time_ns ||
                                     d->arrow.chunk_id.inc != m->arrow.chunk_id.inc)))
        __builtin_trap();
      break;
    default:
      if (d->activation.make_active != m->activation.make_active ||
          d->activation.make_default != m->activation.make_default)
        __builtin_trap();
  }
  rr_log_msg_free(d);
  rr_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int which = data[0] & 3;
  rr_log_msg *m = NULL;
  rr_error e;
  int rc = which == 0 ? rr_log_msg_decode(data + 1, size - 1, NULL, &m, &e)
                      : rr_log_msg_decode_inner(which, data + 1, size - 1, NULL, &m, &e);
  if (rc != RR_OK) {
    if (m) __builtin_trap();
    return 0;
  }
  check_round_trip(m);
  rr_log_msg_free(m);
  return 0;
}
