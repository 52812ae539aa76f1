/* libFuzzer target: arbitrary bytes through the incremental RRD decoder.
 * Byte 0 picks the feeding pattern (all at once, fixed steps, or pseudo-
 * random piece sizes seeded by it) and whether End messages are emitted;
 * the rest is the stream. Every decoded Arrow payload is read in full so
 * the sanitizers see any bad length. */
#include <stddef.h>
#include <stdint.h>

#include "encoding/rr_encoding.h"

static volatile uint8_t sink;

static void drain(rr_rrd_decoder *d) {
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error e;
    int rc = rr_rrd_decoder_next(d, &m, &e);
    if (rc == RR_EAGAIN || rc == RR_EEOF) return;
    if (rc != RR_OK) continue;
    uint8_t x = 0;
    for (size_t i = 0; i < m->arrow.ipc.len; i++) x ^= m->arrow.ipc.ptr[i];
    for (size_t i = 0; i < m->proto.len; i++) x ^= m->proto.ptr[i];
    x ^= (uint8_t)m->store_id.application_id.len ^ (uint8_t)m->store_id.recording_id.len;
    if (m->store_id.recording_id.ptr[m->store_id.recording_id.len] != 0) __builtin_trap();
    sink = x;
    rr_log_msg_free(m);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  rr_rrd_decoder_opts opts = {{0, 0}, (mode & 0x80) != 0};
  rr_rrd_decoder *d = NULL;
  if (rr_rrd_decoder_new(&d, &opts) != RR_OK) return 0;
  uint64_t seed = mode | 1u;
  size_t at = 0;
  while (at < size) {
    size_t k = size - at;
    switch (mode & 3) {
      case 0: break;                               /* all at once */
      case 1: k = 1; break;                        /* byte by byte */
      case 2: k = k < 16 ? k : 16; break;          /* frame-header sized */
      default:
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if ((size_t)(seed >> 59) + 1 < k) k = (size_t)(seed >> 59) + 1;
    }
    if (rr_rrd_decoder_feed(d, data + at, k) != RR_OK) break;
    at += k;
    drain(d);
  }
  rr_rrd_decoder_finish(d);
  drain(d);
  rr_rrd_decoder_free(d);
  return 0;
}
