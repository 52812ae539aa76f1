/* Protobuf message codec: exact bytes of spec §2.9, field order, presence
 * rules, LZ4, LogMsg wrapping and the decoder's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "encoding/encoding_internal.h"
#include "encoding/rr_encoding.h"

static rr_str S(const char *s) { rr_str r = {s, strlen(s)}; return r; }

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len) {
  if (got_len != want_len || memcmp(got, want, want_len) != 0) {
    for (size_t i = 0; i < got_len; i++) print_message("%02x%s", got[i], (i % 16 == 15) ? "\n" : " ");
    print_message("\n");
  }
  assert_int_equal(got_len, want_len);
  assert_memory_equal(got, want, want_len);
}

/* Spec §2.9: StreamHeader + SetStoreInfo, byte for byte. */
static void test_worked_example(void **state) {
  static const uint8_t want[] = {
      0x52, 0x52, 0x46, 0x32, 0x00, 0x21, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00,
      0x01, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0, 0, 0, 0,
      0x0a, 0x12, 0x09, 0x06, 0xf5, 0xe4, 0xd3, 0xc2, 0xb1, 0xa0, 0x18,
      0x11, 0x01, 0, 0, 0, 0, 0, 0, 0,
      0x12, 0x20, 0x12, 0x13, 0x08, 0x01, 0x12, 0x05, 0x72, 0x65, 0x63, 0x5f, 0x31,
      0x1a, 0x08, 0x0a, 0x06, 0x6d, 0x79, 0x5f, 0x61, 0x70, 0x70,
      0x2a, 0x04, 0x08, 0x01, 0x12, 0x00, 0x32, 0x03, 0x08, 0x80, 0x42};
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_rrd_write_stream_header(&b, true), RR_OK);
  rr_store_id id = {RR_STORE_KIND_RECORDING, S("my_app"), S("rec_1")};
  rr_log_msg m;
  rr_log_msg_init_store_info(&m, &id);
  m.info.row_id.time_ns = 0x18A0B1C2D3E4F506ull;
  m.info.row_id.inc = 1;
  rr_error err = {0};
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, true, &err), RR_OK);
  assert_bytes(b.data, b.len, want, sizeof want);

  /* Decoding the payload gives the fields back. */
  rr_log_msg *d = NULL;
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_SET_STORE_INFO, b.data + 28, b.len - 28, NULL, &d, &err), RR_OK);
  assert_int_equal(d->kind, RR_MSG_SET_STORE_INFO);
  assert_int_equal(d->store_id.kind, RR_STORE_KIND_RECORDING);
  assert_string_equal(d->store_id.application_id.ptr, "my_app");
  assert_string_equal(d->store_id.recording_id.ptr, "rec_1");
  assert_true(d->info.row_id.time_ns == 0x18A0B1C2D3E4F506ull && d->info.row_id.inc == 1);
  assert_int_equal(d->info.source_kind, RR_SOURCE_C_SDK);
  assert_int_equal(d->info.source_extra.len, 0);
  assert_true(d->info.has_version);
  assert_int_equal(d->info.version_bits, 8448);
  assert_bytes(d->proto.ptr, d->proto.len, want + 28, sizeof want - 28);
  rr_log_msg_free(d);
  rr_buf_free(&b);
}

static void test_fresh_row_id(void **state) {
  rr_store_id id = {RR_STORE_KIND_RECORDING, S("a"), S("b")};
  rr_log_msg m1, m2;
  rr_log_msg_init_store_info(&m1, &id);
  rr_log_msg_init_store_info(&m2, &id);
  assert_true(m1.info.row_id.time_ns != m2.info.row_id.time_ns || m1.info.row_id.inc != m2.info.row_id.inc);
  assert_true(m1.info.row_id.time_ns > 0);
}

/* ArrowMsg fields go out in number order 1..7, is_static even when false. */
static void test_arrow_field_order(void **state) {
  static const uint8_t want[] = {
      0x0a, 0x0a, 0x08, 0x01, 0x12, 0x01, 'r', 0x1a, 0x03, 0x0a, 0x01, 'a',
      0x10, 0x01, 0x18, 0x03, 0x20, 0x01, 0x2a, 0x03, 'x', 'y', 'z',
      0x32, 0x12, 0x09, 0x07, 0xf5, 0xe4, 0xd3, 0xc2, 0xb1, 0xa0, 0x18,
      0x11, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x38, 0x00};
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_ARROW;
  m.store_id = (rr_store_id){RR_STORE_KIND_RECORDING, S("a"), S("r")};
  m.arrow.ipc = (rr_bytes){(const uint8_t *)"xyz", 3};
  m.arrow.has_chunk_id = true;
  m.arrow.chunk_id = (rr_tuid){0x18A0B1C2D3E4F507ull, 2};
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
  assert_bytes(b.data, b.len, want, sizeof want);

  /* static true, no chunk id, blueprint store */
  rr_buf_reset(&b);
  m.arrow.has_chunk_id = false;
  m.arrow.is_static = true;
  m.store_id.kind = RR_STORE_KIND_BLUEPRINT;
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
  assert_int_equal(b.data[3], 0x02);
  assert_int_equal(b.len, 25);
  assert_int_equal(b.data[23], 0x38);
  assert_int_equal(b.data[24], 0x01);
  rr_log_msg *d = NULL;
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, b.data, b.len, NULL, &d, NULL), RR_OK);
  assert_int_equal(d->store_id.kind, RR_STORE_KIND_BLUEPRINT);
  assert_true(d->arrow.has_is_static && d->arrow.is_static);
  assert_false(d->arrow.has_chunk_id);
  assert_int_equal(d->arrow.compression, RR_PROTO_COMPRESSION_NONE);
  assert_int_equal(d->arrow.ipc.len, 3);
  assert_memory_equal(d->arrow.ipc.ptr, "xyz", 3);
  rr_log_msg_free(d);
  rr_buf_free(&b);
}

static void make_payload(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i % 97) < 50 ? 'A' + (i % 7) : i * 31);
}

static void test_lz4_round_trip(void **state) {
  enum { N = 20000 };
  uint8_t *ipc = malloc(N);
  make_payload(ipc, N);
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_ARROW;
  m.store_id = (rr_store_id){RR_STORE_KIND_RECORDING, S("app"), S("rec")};
  m.arrow.ipc = (rr_bytes){ipc, N};
  m.arrow.has_chunk_id = true;
  m.arrow.chunk_id = (rr_tuid){123, 456};
  for (int lz4 = 0; lz4 < 2; lz4++) {
    rr_buf b = RR_BUF_INIT;
    rr_error err = {0};
    assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, lz4, &err), RR_OK);
    assert_int_equal(rr__get_u64le(b.data), RR_MSG_ARROW);
    assert_int_equal(rr__get_u64le(b.data + 8), b.len - 16);
    if (lz4) assert_true(b.len < N / 2);
    else assert_true(b.len > N);
    rr_log_msg *d = NULL;
    assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, b.data + 16, b.len - 16, NULL, &d, &err), RR_OK);
    assert_int_equal(d->arrow.compression, lz4 ? RR_PROTO_COMPRESSION_LZ4 : RR_PROTO_COMPRESSION_NONE);
    assert_int_equal(d->arrow.uncompressed_size, N);
    assert_int_equal(d->arrow.ipc.len, N);
    assert_memory_equal(d->arrow.ipc.ptr, ipc, N);
    assert_int_equal((uintptr_t)d->arrow.ipc.ptr % 8, 0);
    assert_true(d->arrow.has_chunk_id);
    assert_true(d->arrow.chunk_id.time_ns == 123 && d->arrow.chunk_id.inc == 456);
    assert_true(d->arrow.has_is_static);
    assert_false(d->arrow.is_static);
    size_t len = 0;
    uint8_t *taken = rr_log_msg_take_ipc(d, &len);
    assert_non_null(taken);
    assert_int_equal(len, N);
    assert_null(d->arrow.ipc.ptr);
    assert_null(rr_log_msg_take_ipc(d, &len));
    assert_int_equal(len, 0);
    rr__blocks_free(taken);
    rr_log_msg_free(d);

    /* Damaging the uncompressed_size (field 3 varint, 2 bytes for N) is caught. */
    if (lz4) {
      size_t at = 16 + 2 + b.data[17] + 2; /* store_id, compression */
      assert_int_equal(b.data[at], 0x18);
      b.data[at + 1] ^= 0x01;
      rr_error e = {0};
      assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, b.data + 16, b.len - 16, NULL, &d, &e), RR_ECORRUPT);
      assert_null(d);
      assert_non_null(strstr(e.msg, "LZ4"));
    }
    rr_buf_free(&b);
  }
  free(ipc);
}

/* The payload is read in place (protobuf-c unpacks the other fields): the
 * last occurrence wins as in protobuf, anything unusual is left to
 * protobuf-c, and a decoder may skip the copy of the protobuf bytes. */
static void test_payload_in_place(void **state) {
  (void)state;
  enum { N = 3000 };
  uint8_t ipc[N], other[N];
  make_payload(ipc, N);
  for (size_t i = 0; i < N; i++) other[i] = (uint8_t)(ipc[i] ^ 0x5A);
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_ARROW;
  m.store_id = (rr_store_id){RR_STORE_KIND_RECORDING, S("app"), S("rec")};
  m.arrow.ipc = (rr_bytes){ipc, N};
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, false, NULL), RR_OK);
  const uint8_t *inner = b.data + 16;
  size_t n = b.len - 16;
  rr_log_msg *d = NULL;
  /* without the proto copy */
  struct rr__decode_opts o = {NULL, true};
  assert_int_equal(rr__log_msg_decode_inner_opts(RR_MSG_ARROW, inner, n, NULL, &o, &d, NULL), RR_OK);
  assert_int_equal(d->proto.len, 0);
  assert_int_equal(d->arrow.ipc.len, N);
  assert_memory_equal(d->arrow.ipc.ptr, ipc, N);
  assert_int_equal((uintptr_t)d->arrow.ipc.ptr % 64, 0);
  rr_log_msg_free(d);
  /* a second payload field: it wins */
  rr_buf x = RR_BUF_INIT;
  uint8_t tag_len[3] = {5 << 3 | 2, (uint8_t)(N & 0x7F) | 0x80, (uint8_t)(N >> 7)};
  assert_int_equal(rr_buf_append(&x, inner, n), RR_OK);
  assert_int_equal(rr_buf_append(&x, tag_len, 3), RR_OK);
  assert_int_equal(rr_buf_append(&x, other, N), RR_OK);
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, x.data, x.len, NULL, &d, NULL), RR_OK);
  assert_int_equal(d->arrow.ipc.len, N);
  assert_memory_equal(d->arrow.ipc.ptr, other, N);
  assert_int_equal(d->proto.len, x.len);
  rr_log_msg_free(d);
  /* field 5 as a varint: not a payload; protobuf-c decides (a type mismatch) */
  rr_buf_reset(&x);
  uint8_t bad[2] = {5 << 3 | 0, 1};
  assert_int_equal(rr_buf_append(&x, inner, n), RR_OK);
  assert_int_equal(rr_buf_append(&x, bad, 2), RR_OK);
  rr_error e = {0};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, x.data, x.len, NULL, &d, &e), RR_ECORRUPT);
  assert_null(d);
  /* every truncation of the message is an error or a shorter valid message,
   * never a payload read past the end */
  for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 97)) {
    int rc = rr_log_msg_decode_inner(RR_MSG_ARROW, inner, cut, NULL, &d, &e);
    if (rc == RR_OK) {
      assert_true(d->arrow.ipc.len < N);
      rr_log_msg_free(d);
    } else {
      assert_null(d);
    }
  }
  rr_buf_free(&x);
  rr_buf_free(&b);
}

static void test_log_msg_wrapping(void **state) {
  rr_store_id id = {RR_STORE_KIND_BLUEPRINT, S("my_app"), S("bp_1")};
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_BLUEPRINT_ACTIVATION;
  m.store_id = id;
  m.activation.make_active = true;
  m.activation.make_default = true;
  rr_buf inner = RR_BUF_INIT, wrapped = RR_BUF_INIT, manual = RR_BUF_INIT;
  assert_int_equal(rr_log_msg_encode(&inner, &m, RR_FRAMING_PROTO, false, NULL), RR_OK);
  static const uint8_t want[] = {0x0a, 0x12, 0x08, 0x02, 0x12, 0x04, 'b', 'p', '_', '1', 0x1a, 0x08, 0x0a, 0x06,
                                 'm', 'y', '_', 'a', 'p', 'p', 0x10, 0x01, 0x18, 0x01};
  assert_bytes(inner.data, inner.len, want, sizeof want);
  assert_int_equal(rr_log_msg_encode(&wrapped, &m, RR_FRAMING_LOG_MSG, false, NULL), RR_OK);
  assert_int_equal(rr_proto_append_bytes_field(&manual, RR_MSG_BLUEPRINT_ACTIVATION, inner.data, inner.len), RR_OK);
  assert_bytes(wrapped.data, wrapped.len, manual.data, manual.len);
  assert_int_equal(wrapped.data[0], (3 << 3) | 2);
  assert_int_equal(wrapped.data[1], inner.len);

  rr_log_msg *d = NULL;
  rr_error err = {0};
  assert_int_equal(rr_log_msg_decode(wrapped.data, wrapped.len, NULL, &d, &err), RR_OK);
  assert_int_equal(d->kind, RR_MSG_BLUEPRINT_ACTIVATION);
  assert_true(d->activation.make_active && d->activation.make_default);
  assert_int_equal(d->store_id.kind, RR_STORE_KIND_BLUEPRINT);
  assert_string_equal(d->store_id.recording_id.ptr, "bp_1");
  assert_bytes(d->proto.ptr, d->proto.len, inner.data, inner.len);
  assert_int_equal(d->offset, 0);
  rr_log_msg_free(d);

  /* SetStoreInfo and ArrowMsg through LogMsg, LZ4 too. */
  rr_log_msg s;
  rr_log_msg_init_store_info(&s, &id);
  rr_buf_reset(&wrapped);
  assert_int_equal(rr_log_msg_encode(&wrapped, &s, RR_FRAMING_LOG_MSG, false, NULL), RR_OK);
  assert_int_equal(wrapped.data[0], 0x0a);
  assert_int_equal(rr_log_msg_decode(wrapped.data, wrapped.len, NULL, &d, &err), RR_OK);
  assert_int_equal(d->kind, RR_MSG_SET_STORE_INFO);
  assert_true(d->info.row_id.time_ns == s.info.row_id.time_ns && d->info.row_id.inc == s.info.row_id.inc);
  rr_log_msg_free(d);

  uint8_t ipc[3000];
  make_payload(ipc, sizeof ipc);
  rr_log_msg a;
  memset(&a, 0, sizeof a);
  a.kind = RR_MSG_ARROW;
  a.store_id = id;
  a.arrow.ipc = (rr_bytes){ipc, sizeof ipc};
  a.arrow.is_static = true;
  rr_buf_reset(&wrapped);
  assert_int_equal(rr_log_msg_encode(&wrapped, &a, RR_FRAMING_LOG_MSG, true, NULL), RR_OK);
  assert_int_equal(wrapped.data[0], 0x12);
  assert_int_equal(rr_log_msg_decode(wrapped.data, wrapped.len, NULL, &d, &err), RR_OK);
  assert_int_equal(d->kind, RR_MSG_ARROW);
  assert_int_equal(d->arrow.compression, RR_PROTO_COMPRESSION_LZ4);
  assert_memory_equal(d->arrow.ipc.ptr, ipc, sizeof ipc);
  assert_true(d->arrow.is_static);
  rr_log_msg_free(d);

  /* An empty LogMsg, or one with only unknown fields, has no message. */
  rr_error e = {0};
  assert_int_equal(rr_log_msg_decode((const uint8_t *)"", 0, NULL, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "no message"));
  static const uint8_t unknown[] = {0x20, 0x05};
  assert_int_equal(rr_log_msg_decode(unknown, sizeof unknown, NULL, &d, &e), RR_ECORRUPT);
  static const uint8_t trunc[] = {0x12, 0x05, 0x01};
  assert_int_equal(rr_log_msg_decode(trunc, sizeof trunc, NULL, &d, &e), RR_ECORRUPT);
  assert_null(d);
  rr_buf_free(&inner);
  rr_buf_free(&wrapped);
  rr_buf_free(&manual);
}

/* Hand-made protobufs that break one rule each. */
static void test_decode_checks(void **state) {
  rr_log_msg *d = NULL;
  rr_error e = {0};
  /* SetStoreInfo without store_source */
  static const uint8_t no_source[] = {0x0a, 0x12, 0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0, 0, 0,
                                      0x12, 0x0b, 0x12, 0x09, 0x08, 0x01, 0x1a, 0x05, 0x0a, 0x03, 'a', 'p', 'p'};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_SET_STORE_INFO, no_source, sizeof no_source, NULL, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "store_source"));
  /* row_id without inc */
  static const uint8_t no_inc[] = {0x0a, 0x09, 0x09, 1, 0, 0, 0, 0, 0, 0, 0,
                                   0x12, 0x0f, 0x12, 0x09, 0x08, 0x01, 0x1a, 0x05, 0x0a, 0x03, 'a', 'p', 'p',
                                   0x2a, 0x02, 0x08, 0x01};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_SET_STORE_INFO, no_inc, sizeof no_inc, NULL, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "row_id"));
  /* the same with inc: valid, and a Python source without extra is not */
  static const uint8_t ok[] = {0x0a, 0x12, 0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0, 0, 0,
                               0x12, 0x0f, 0x12, 0x09, 0x08, 0x01, 0x1a, 0x05, 0x0a, 0x03, 'a', 'p', 'p',
                               0x2a, 0x02, 0x08, 0x01};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_SET_STORE_INFO, ok, sizeof ok, NULL, &d, &e), RR_OK);
  assert_string_equal(d->store_id.application_id.ptr, "app");
  assert_int_equal(d->store_id.recording_id.len, 0);
  assert_false(d->info.has_version);
  rr_log_msg_free(d);
  uint8_t py[sizeof ok];
  memcpy(py, ok, sizeof ok);
  py[sizeof py - 1] = RR_SOURCE_PYTHON_SDK;
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_SET_STORE_INFO, py, sizeof py, NULL, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "extra"));
  /* ArrowMsg with encoding unspecified */
  static const uint8_t no_enc[] = {0x0a, 0x02, 0x08, 0x01, 0x10, 0x01, 0x2a, 0x01, 'x'};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, no_enc, sizeof no_enc, NULL, &d, &e), RR_EUNSUPPORTED);
  assert_non_null(strstr(e.msg, "encoding"));
  /* ArrowMsg without application id: decodes, application id absent */
  static const uint8_t no_app[] = {0x0a, 0x02, 0x08, 0x01, 0x10, 0x01, 0x20, 0x01, 0x2a, 0x01, 'x'};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, no_app, sizeof no_app, NULL, &d, &e), RR_OK);
  assert_null(d->store_id.application_id.ptr);
  assert_false(d->arrow.has_is_static);
  rr_log_msg_free(d);
  /* ArrowMsg without store id */
  static const uint8_t no_store[] = {0x20, 0x01, 0x2a, 0x01, 'x'};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, no_store, sizeof no_store, NULL, &d, &e), RR_ECORRUPT);
  /* LZ4 claiming 1000 bytes out of 1: impossible ratio, never allocated */
  static const uint8_t ratio[] = {0x0a, 0x02, 0x08, 0x01, 0x10, 0x02, 0x18, 0xe8, 0x07, 0x20, 0x01, 0x2a, 0x01, 0x00};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, ratio, sizeof ratio, NULL, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "impossible"));
  /* LZ4 claiming 5 GiB: over the default limit */
  static const uint8_t huge[] = {0x0a, 0x02, 0x08, 0x01, 0x10, 0x02, 0x18, 0x80, 0x80, 0x80, 0x80, 0x14,
                                 0x20, 0x01, 0x2a, 0x01, 0x00};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, huge, sizeof huge, NULL, &d, &e), RR_ERANGE);
  assert_non_null(strstr(e.msg, "limit"));
  /* a configured limit applies to raw payloads too */
  rr_decode_limits lim = {0, 2};
  static const uint8_t raw3[] = {0x0a, 0x02, 0x08, 0x01, 0x10, 0x01, 0x20, 0x01, 0x2a, 0x03, 'x', 'y', 'z'};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, raw3, sizeof raw3, &lim, &d, &e), RR_ERANGE);
  lim = (rr_decode_limits){4, 0};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, raw3, sizeof raw3, &lim, &d, &e), RR_ERANGE);
  /* invalid UTF-8 recording id */
  static const uint8_t bad_utf8[] = {0x0a, 0x04, 0x12, 0x02, 0xc3, 0x28, 0x20, 0x01};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_ARROW, bad_utf8, sizeof bad_utf8, NULL, &d, &e), RR_ECORRUPT);
  assert_non_null(strstr(e.msg, "UTF-8"));
  /* garbage and bad kinds */
  static const uint8_t garbage[] = {0xff, 0xff, 0xff};
  assert_int_equal(rr_log_msg_decode_inner(RR_MSG_BLUEPRINT_ACTIVATION, garbage, 3, NULL, &d, &e), RR_ECORRUPT);
  assert_int_equal(rr_log_msg_decode_inner(7, garbage, 3, NULL, &d, &e), RR_EINVAL);
  assert_null(d);
}

static void test_encode_rejects(void **state) {
  rr_log_msg m;
  rr_buf b = RR_BUF_INIT;
  rr_error e = {0};
  rr_store_id bad = {RR_STORE_KIND_RECORDING, {"a\0b", 3}, S("r")};
  rr_log_msg_init_store_info(&m, &bad);
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, false, &e), RR_EINVAL);
  rr_store_id bad8 = {RR_STORE_KIND_RECORDING, S("a"), S("\xc3")};
  rr_log_msg_init_store_info(&m, &bad8);
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, false, &e), RR_EUTF8);
  m.kind = RR_MSG_END;
  assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, false, &e), RR_EINVAL);
  assert_int_equal(b.len, 0);
  rr_buf_free(&b);
}

static void test_stream_header(void **state) {
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_rrd_write_stream_header(&b, false), RR_OK);
  static const uint8_t want[] = {'R', 'R', 'F', '2', 0, 0x21, 0, 0, 0, 2, 0, 0};
  assert_bytes(b.data, b.len, want, sizeof want);
  rr_rrd_stream_header h;
  bool newer = true;
  assert_int_equal(rr_rrd_verify_stream_header(b.data, 11, &h, &newer, NULL), RR_EAGAIN);
  assert_int_equal(rr_rrd_verify_stream_header(b.data, 12, &h, &newer, NULL), RR_OK);
  assert_false(newer);
  assert_false(h.lz4);
  char vs[32];
  rr_rrd_version_format(h.version, vs);
  assert_string_equal(vs, "0.33.0");
  const uint8_t rc[4] = {0, 34, 0, 0x42}, al[4] = {0, 34, 1, 0x81}, dev[4] = {1, 0, 0, 0xC3};
  rr_rrd_version_format(rc, vs);
  assert_string_equal(vs, "0.34.0-rc.2");
  rr_rrd_version_format(al, vs);
  assert_string_equal(vs, "0.34.1-alpha.1");
  rr_rrd_version_format(dev, vs);
  assert_string_equal(vs, "1.0.0-alpha.3+dev");
  rr_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_worked_example),   cmocka_unit_test(test_fresh_row_id),
      cmocka_unit_test(test_arrow_field_order), cmocka_unit_test(test_lz4_round_trip),
      cmocka_unit_test(test_log_msg_wrapping), cmocka_unit_test(test_decode_checks),
      cmocka_unit_test(test_payload_in_place),
      cmocka_unit_test(test_encode_rejects),   cmocka_unit_test(test_stream_header),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
