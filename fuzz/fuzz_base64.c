/* libFuzzer target: the streaming base64 of gRPC-Web's text mode. The
 * input, split into pieces whose sizes come from its first byte, is
 * decoded as a request body would be (never a crash; what decodes is
 * re-encoded and must decode to the same bytes), and encoded in those
 * pieces: its base64 must decode back to the input. */
#include <stddef.h>
#include <stdint.h>

#include "base/rr_common.h"

static int decode_in_pieces(const uint8_t *p, size_t n, size_t piece, rr_buf *out) {
  rr_b64 st = {0};
  for (size_t o = 0; o < n; o += piece)
    if (rr_b64_decode(&st, out, p + o, n - o < piece ? n - o : piece) < 0) return -1;
  return rr_b64_decode_end(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t piece = (size_t)data[0] % 7 + 1;
  data++;
  size--;
  rr_buf dec = RR_BUF_INIT, enc = RR_BUF_INIT, back = RR_BUF_INIT;
  if (decode_in_pieces(data, size, piece, &dec) == 0) {
    rr_b64 st = {0};
    if (rr_b64_encode(&st, &enc, dec.data, dec.len) < 0 || rr_b64_encode_end(&st, &enc) < 0) __builtin_trap();
    if (decode_in_pieces(enc.data, enc.len, piece, &back) < 0 || back.len != dec.len ||
        (dec.len && memcmp(back.data, dec.data, dec.len)))
      __builtin_trap();
  }
  rr_buf_reset(&enc);
  rr_buf_reset(&back);
  rr_b64 st = {0};
  for (size_t o = 0; o < size; o += piece)
    if (rr_b64_encode(&st, &enc, data + o, size - o < piece ? size - o : piece) < 0) __builtin_trap();
  if (rr_b64_encode_end(&st, &enc) < 0 || enc.len % 4) __builtin_trap();
  if (decode_in_pieces(enc.data, enc.len, piece, &back) < 0 || back.len != size ||
      (size && memcmp(back.data, data, size)))
    __builtin_trap();
  rr_buf_free(&dec);
  rr_buf_free(&enc);
  rr_buf_free(&back);
  return 0;
}
