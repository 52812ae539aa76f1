/* The incremental RRD decoder: golden files, any input split, truncation at
 * every offset, flipped bytes, versions, framing errors, and round trips
 * through the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "encoding/rr_encoding.h"

#define GOLDEN RR_SOURCE_DIR "/../shared/golden/rrd"

static rr_str S(const char *s) { rr_str r = {s, strlen(s)}; return r; }

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("missing golden file %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return p;
}

/* ---- decoding into a comparable result ------------------------------------------- */

#define MAX_MSGS 256
struct result {
  size_t n;
  rr_log_msg *m[MAX_MSGS];
  size_t n_err;
  int err_code[16];
  char err_msg[16][256];
  bool stopped;
  char warning[256];
};

static void result_free(struct result *r) {
  for (size_t i = 0; i < r->n; i++) rr_log_msg_free(r->m[i]);
  memset(r, 0, sizeof *r);
}

static void drain(rr_rrd_decoder *d, struct result *r) {
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error e = {0};
    int rc = rr_rrd_decoder_next(d, &m, &e);
    if (rc == RR_EAGAIN || rc == RR_EEOF) return;
    if (rc == RR_OK) {
      assert_non_null(m);
      assert_true(r->n < MAX_MSGS);
      r->m[r->n++] = m;
    } else {
      assert_null(m);
      assert_true(r->n_err < 16);
      r->err_code[r->n_err] = rc;
      snprintf(r->err_msg[r->n_err], 256, "%s", e.msg);
      r->n_err++;
    }
  }
}

static bool g_reserve; /* decode() feeds through rr_rrd_decoder_reserve/commit */

/* Feeds `data` in pieces: step 0 = all at once, step k = k bytes at a time,
 * step < 0 = pseudo-random piece sizes from seed -step. */
static void decode(const uint8_t *data, size_t n, long step, const rr_rrd_decoder_opts *opts, struct result *r) {
  memset(r, 0, sizeof *r);
  rr_rrd_decoder *d = NULL;
  assert_int_equal(rr_rrd_decoder_new(&d, opts), RR_OK);
  uint64_t seed = (uint64_t)(step < 0 ? -step : 1);
  size_t at = 0;
  while (at < n) {
    size_t k = n - at;
    if (step > 0) k = (size_t)step < k ? (size_t)step : k;
    if (step < 0) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      size_t want = (size_t)(seed >> 33) % 300 + 1;
      k = want < k ? want : k;
    }
    if (g_reserve) {
      /* room for more than is written: only `k` bytes count */
      uint8_t *dst = rr_rrd_decoder_reserve(d, k + 5);
      if (dst) {
        memcpy(dst, data + at, k);
        memset(dst + k, 0xAB, 5);
        rr_rrd_decoder_commit(d, k);
      } else {
        assert_true(rr_rrd_decoder_stopped(d)); /* bytes after a stop are ignored */
      }
    } else {
      assert_int_equal(rr_rrd_decoder_feed(d, data + at, k), RR_OK);
    }
    at += k;
    drain(d, r);
  }
  rr_rrd_decoder_finish(d);
  assert_null(rr_rrd_decoder_reserve(d, 1));
  drain(d, r);
  rr_log_msg *m = NULL;
  assert_int_equal(rr_rrd_decoder_next(d, &m, NULL), RR_EEOF);
  assert_int_equal(rr_rrd_decoder_next(d, &m, NULL), RR_EEOF);
  assert_int_equal(rr_rrd_decoder_feed(d, "x", 1), RR_EINVAL);
  r->stopped = rr_rrd_decoder_stopped(d);
  if (rr_rrd_decoder_warning(d)) snprintf(r->warning, sizeof r->warning, "%s", rr_rrd_decoder_warning(d));
  rr_rrd_decoder_free(d);
}

static void assert_same(const struct result *a, const struct result *b) {
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->n_err, b->n_err);
  for (size_t i = 0; i < a->n_err; i++) assert_string_equal(a->err_msg[i], b->err_msg[i]);
  for (size_t i = 0; i < a->n; i++) {
    const rr_log_msg *x = a->m[i], *y = b->m[i];
    assert_int_equal(x->kind, y->kind);
    assert_int_equal(x->offset, y->offset);
    assert_int_equal(x->proto.len, y->proto.len);
    assert_memory_equal(x->proto.ptr, y->proto.ptr, x->proto.len);
    assert_int_equal(x->arrow.ipc.len, y->arrow.ipc.len);
    if (x->arrow.ipc.len) assert_memory_equal(x->arrow.ipc.ptr, y->arrow.ipc.ptr, x->arrow.ipc.len);
  }
}

static const uint8_t EOS[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};

/* An Arrow IPC stream: continuation marker first, end-of-stream last. */
static void assert_ipc_stream(const rr_log_msg *m) {
  assert_true(m->arrow.ipc.len > 16);
  assert_int_equal((uintptr_t)m->arrow.ipc.ptr % 8, 0);
  assert_int_equal(rr__get_u32le(m->arrow.ipc.ptr), 0xFFFFFFFFu);
  assert_memory_equal(m->arrow.ipc.ptr + m->arrow.ipc.len - 8, EOS, 8);
  if (m->arrow.compression == RR_PROTO_COMPRESSION_LZ4) assert_int_equal(m->arrow.uncompressed_size, m->arrow.ipc.len);
}

static bool ipc_contains(const rr_log_msg *m, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= m->arrow.ipc.len; i++)
    if (!memcmp(m->arrow.ipc.ptr + i, s, n)) return true;
  return false;
}

static void assert_store(const rr_log_msg *m, int kind, const char *app, const char *rec) {
  assert_int_equal(m->store_id.kind, kind);
  assert_non_null(m->store_id.application_id.ptr);
  assert_string_equal(m->store_id.application_id.ptr, app);
  assert_string_equal(m->store_id.recording_id.ptr, rec);
}

/* ---- golden files ------------------------------------------------------------------------- */

struct golden {
  const char *file;
  int compression;    /* ArrowMsg compression field */
  bool has_ssi;
  bool is_static;
  const char *timeline_hint; /* bytes that must appear in the IPC stream */
  const char *rec;
};

static const struct golden GOLDEN_FILES[] = {
    {"plain", RR_PROTO_COMPRESSION_NONE, true, false, "frame", "rec_plain"},
    {"lz4", RR_PROTO_COMPRESSION_LZ4, true, false, "frame", "rec_lz4"},
    {"static", RR_PROTO_COMPRESSION_NONE, true, true, "Points3D:positions", "rec_static"},
    {"durtime", RR_PROTO_COMPRESSION_NONE, true, false, "elapsed", "rec_dur"},
    {"tstime", RR_PROTO_COMPRESSION_NONE, true, false, "wall", "rec_ts"},
    {"nosorbet", RR_PROTO_COMPRESSION_NONE, true, false, "frame", "rec_nosorbet"},
    {"barerowid", RR_PROTO_COMPRESSION_NONE, true, false, "frame", "rec_barerowid"},
    {"nostoreinfo", RR_PROTO_COMPRESSION_NONE, false, false, "frame", "rec_nosi"},
};

static void test_golden_single(void **state) {
  for (size_t g = 0; g < sizeof GOLDEN_FILES / sizeof *GOLDEN_FILES; g++) {
    const struct golden *t = &GOLDEN_FILES[g];
    char path[512];
    const char *rec = t->rec;
    snprintf(path, sizeof path, GOLDEN "/%s.rrd", t->file);
    size_t n;
    uint8_t *data = read_all(path, &n);
    struct result r;
    decode(data, n, 0, NULL, &r);
    print_message("%s: %zu messages, %zu errors\n", t->file, r.n, r.n_err);
    assert_int_equal(r.n_err, 0);
    assert_int_equal(r.warning[0], 0);
    assert_int_equal(r.n, t->has_ssi ? 2 : 1);
    size_t i = 0;
    if (t->has_ssi) {
      const rr_log_msg *s = r.m[i++];
      assert_int_equal(s->kind, RR_MSG_SET_STORE_INFO);
      assert_int_equal(s->offset, 12);
      assert_store(s, RR_STORE_KIND_RECORDING, "my_app", rec);
      assert_int_equal(s->info.source_kind, RR_SOURCE_C_SDK);
      assert_true(s->info.has_version);
      assert_int_equal(s->info.version_bits, RR_RRD_CRATE_VERSION_BITS);
      assert_int_equal(s->stream_version[1], 33);
    }
    const rr_log_msg *a = r.m[i];
    assert_int_equal(a->kind, RR_MSG_ARROW);
    assert_store(a, RR_STORE_KIND_RECORDING, "my_app", rec);
    assert_int_equal(a->arrow.compression, t->compression);
    /* The golden writer emits is_static = false (38 00) in every one of
     * these files, static.rrd included: staticness is the missing index
     * column, checked below. The decoder reports the wire value. */
    assert_true(a->arrow.has_is_static);
    assert_false(a->arrow.is_static);
    assert_int_equal(a->offset + 16 + a->proto.len, n);
    assert_ipc_stream(a);
    assert_true(ipc_contains(a, t->timeline_hint));
    assert_true(ipc_contains(a, "rerun:id"));
    assert_int_equal(ipc_contains(a, "sorbet:version"), strcmp(t->file, "nosorbet") != 0);
    /* only the static chunk lacks an index column */
    assert_int_equal(ipc_contains(a, "index"), !t->is_static);
    result_free(&r);
    free(data);
  }
}

static void check_concat(const char *file, bool footer, const char *rec1, const char *rec2) {
  char path[512];
  snprintf(path, sizeof path, GOLDEN "/%s.rrd", file);
  size_t n;
  uint8_t *data = read_all(path, &n);
  struct result r;
  decode(data, n, 0, NULL, &r);
  assert_int_equal(r.n_err, 0);
  assert_int_equal(r.n, 4);
  const char *apps[4] = {"my_app", "my_app", "other_app", "other_app"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(r.m[i]->kind, i % 2 ? RR_MSG_ARROW : RR_MSG_SET_STORE_INFO);
    assert_string_equal(r.m[i]->store_id.application_id.ptr, apps[i]);
    if (i % 2) assert_ipc_stream(r.m[i]);
  }
  for (size_t i = 0; i < 4; i++) assert_string_equal(r.m[i]->store_id.recording_id.ptr, i < 2 ? rec1 : rec2);
  /* the second stream starts with its own header after the first */
  uint64_t end1 = r.m[1]->offset + 16 + r.m[1]->proto.len;
  assert_int_equal(r.m[2]->offset, end1 + (footer ? 16 + 32 : 0) + 12);
  result_free(&r);

  /* with emit_end the End message appears between the streams */
  rr_rrd_decoder_opts o = {{0, 0}, true};
  decode(data, n, 0, &o, &r);
  assert_int_equal(r.n_err, 0);
  assert_int_equal(r.n, footer ? 5 : 4);
  if (footer) {
    assert_int_equal(r.m[2]->kind, RR_MSG_END);
    assert_int_equal(r.m[2]->offset, end1);
    assert_int_equal(r.m[2]->end.n_manifests, 0);
    assert_string_equal(r.m[3]->store_id.application_id.ptr, "other_app");
  }
  result_free(&r);
  free(data);
}

static void test_golden_concat(void **state) {
  check_concat("concat_footer", true, "rec_c1", "rec_c2");
  check_concat("concat_noend", false, "rec_n1", "rec_n2");
}

/* archetypes/<name>.rrd against values.json: application/recording ids, the
 * SetStoreInfo row id, and per chunk its id and static flag, in order. */
static void test_golden_archetypes(void **state) {
  size_t jn;
  char *json = (char *)read_all(GOLDEN "/archetypes/values.json", &jn);
  json = realloc(json, jn + 1);
  json[jn] = 0;
  size_t files = 0;
  for (char *p = strstr(json, "{\"application_id\""); p; files++) {
    char *next = strstr(p + 1, "{\"application_id\"");
    char *name_end = p - 2, *name = name_end;   /* ..."Name":{"application_id" */
    while (name > json && name[-1] != '"') name--;
    char arch[64];
    snprintf(arch, sizeof arch, "%.*s", (int)(name_end - name), name);
    char path[512];
    snprintf(path, sizeof path, GOLDEN "/archetypes/%s.rrd", arch);
    size_t n;
    uint8_t *data = read_all(path, &n);
    struct result r, r1;
    decode(data, n, 0, NULL, &r);
    assert_int_equal(r.n_err, 0);
    assert_true(r.n >= 2);
    assert_int_equal(r.m[0]->kind, RR_MSG_SET_STORE_INFO);
    assert_store(r.m[0], RR_STORE_KIND_RECORDING, "rerun_c_golden", arch);
    char want[80], tu[33];
    rr__tuid_format(r.m[0]->info.row_id, tu);
    snprintf(want, sizeof want, "\"store_info_row_id\":\"row_%s\"", tu);
    char *sect_end = next ? next : json + jn;
    char *hit = strstr(p, want);
    assert_true(hit && hit < sect_end);
    size_t chunk = 0;
    char *q = p;
    while ((q = strstr(q, "\"chunk_id\":\"")) && q < sect_end) {
      chunk++;
      assert_true(chunk < r.n);
      const rr_log_msg *a = r.m[chunk];
      assert_int_equal(a->kind, RR_MSG_ARROW);
      assert_store(a, RR_STORE_KIND_RECORDING, "rerun_c_golden", arch);
      assert_true(a->arrow.has_chunk_id);
      rr__tuid_format(a->arrow.chunk_id, tu);
      snprintf(want, sizeof want, "\"chunk_id\":\"chunk_%s\",", tu);
      assert_memory_equal(q, want, strlen(want));
      /* the chunk id is also the schema's rerun:id */
      snprintf(want, sizeof want, "chunk_%s", tu);
      assert_true(ipc_contains(a, want));
      char *st = strstr(q, "\"static\":");
      assert_non_null(st);
      assert_true(a->arrow.has_is_static);
      assert_int_equal(a->arrow.is_static, strncmp(st + 9, "true", 4) == 0);
      assert_ipc_stream(a);
      q++;
    }
    assert_int_equal(r.n, chunk + 1);
    /* one byte at a time gives the same */
    decode(data, n, 1, NULL, &r1);
    assert_same(&r, &r1);
    result_free(&r1);
    result_free(&r);
    free(data);
    p = next;
  }
  assert_int_equal(files, 25);
  free(json);
}

/* ---- splits, truncation, flipped bytes -------------------------------------------------- */

static const char *ALL_FILES[] = {"plain", "lz4", "static", "durtime", "tstime", "nosorbet",
                                  "barerowid", "nostoreinfo", "concat_footer", "concat_noend"};

static void test_splits(void **state) {
  for (size_t f = 0; f < sizeof ALL_FILES / sizeof *ALL_FILES; f++) {
    char path[512];
    snprintf(path, sizeof path, GOLDEN "/%s.rrd", ALL_FILES[f]);
    size_t n;
    uint8_t *data = read_all(path, &n);
    struct result whole, part;
    decode(data, n, 0, NULL, &whole);
    assert_true(whole.n >= 1);
    long steps[] = {1, 2, 7, 16, 1000, -1, -2, -3};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
      decode(data, n, steps[s], NULL, &part);
      assert_same(&whole, &part);
      result_free(&part);
      /* the same through reserve/commit */
      g_reserve = true;
      decode(data, n, steps[s], NULL, &part);
      g_reserve = false;
      assert_same(&whole, &part);
      result_free(&part);
    }
    result_free(&whole);
    free(data);
  }
}

/* Cutting the input anywhere: every message that ends before the cut is
 * decoded, nothing else, and an error names the offset unless the cut falls
 * on a frame boundary. */
static void test_truncation(void **state) {
  const char *files[] = {"plain", "lz4", "concat_footer", "concat_noend"};
  for (size_t f = 0; f < 4; f++) {
    char path[512];
    snprintf(path, sizeof path, GOLDEN "/%s.rrd", files[f]);
    size_t n;
    uint8_t *data = read_all(path, &n);
    rr_rrd_decoder_opts o = {{0, 0}, true};
    struct result whole;
    decode(data, n, 0, &o, &whole);
    /* clean cut points: after a stream header, after each frame */
    size_t ends[MAX_MSGS * 2], n_ends = 0;
    ends[n_ends++] = 12;
    for (size_t i = 0; i < whole.n; i++) {
      const rr_log_msg *m = whole.m[i];
      size_t e = (size_t)m->offset + 16 + m->proto.len + (m->kind == RR_MSG_END ? 32 : 0);
      ends[n_ends++] = e;
      if (e + 12 <= n && !memcmp(data + e, "RRF2", 4)) ends[n_ends++] = e + 12;
    }
    for (size_t cut = 0; cut <= n; cut++) {
      struct result r;
      decode(data, cut, cut % 3 == 0 ? 0 : (long)(cut % 5) - 5, &o, &r);
      size_t want = 0;
      for (size_t i = 0; i < whole.n; i++) {
        const rr_log_msg *m = whole.m[i];
        if (m->offset + 16 + m->proto.len + (m->kind == RR_MSG_END ? 32 : 0) <= cut) want++;
      }
      bool clean = false;
      for (size_t i = 0; i < n_ends; i++) clean |= ends[i] == cut;
      assert_int_equal(r.n, want);
      for (size_t i = 0; i < want; i++) assert_int_equal(r.m[i]->offset, whole.m[i]->offset);
      assert_int_equal(r.n_err, clean ? 0 : 1);
      if (!clean) {
        assert_non_null(strstr(r.err_msg[0], "byte offset"));
        assert_true(r.stopped);
      }
      result_free(&r);
    }
    result_free(&whole);
    free(data);
  }
}

static void test_flipped_bytes(void **state) {
  const char *files[] = {"plain", "lz4", "concat_footer"};
  for (size_t f = 0; f < 3; f++) {
    char path[512];
    snprintf(path, sizeof path, GOLDEN "/%s.rrd", files[f]);
    size_t n;
    uint8_t *data = read_all(path, &n);
    for (size_t i = 0; i < n; i++) {
      const uint8_t masks[] = {0x01, 0x80, 0xFF};
      for (size_t k = 0; k < 3; k++) {
        data[i] ^= masks[k];
        struct result r;
        decode(data, n, (i & 1) ? 0 : -(long)(i + 1), NULL, &r);
        /* a flip damages at most one frame; if it hits a length, decoding
         * stops there, so never more messages than the intact file has */
        assert_true(r.n <= 4);
        for (size_t j = 0; j < r.n; j++) assert_true(r.m[j]->offset < n);
        result_free(&r);
        data[i] ^= masks[k];
      }
    }
    free(data);
  }
}

/* ---- versions and framing errors --------------------------------------------------------- */

static void stream_with(rr_buf *b, const uint8_t version[4], const char *app, const char *rec) {
  assert_int_equal(rr_rrd_write_stream_header_version(b, version, false), RR_OK);
  rr_store_id id = {RR_STORE_KIND_RECORDING, S(app), S(rec)};
  rr_log_msg m;
  rr_log_msg_init_store_info(&m, &id);
  assert_int_equal(rr_log_msg_encode(b, &m, RR_FRAMING_RRD, false, NULL), RR_OK);
}

static void test_versions(void **state) {
  struct { uint8_t v[4]; int code; const char *text; } cases[] = {
      {{0, 22, 0, 0}, RR_EUNSUPPORTED, "0.22.0"},
      {{0, 0, 0, 0}, RR_EUNSUPPORTED, "0.2.0"},
      {{0, 23, 0, 0}, RR_OK, NULL},
      {{0, 33, 0, 0}, RR_OK, NULL},
      {{0, 33, 0, 0x41}, RR_OK, NULL},
      {{0, 99, 0, 0}, RR_OK, "0.99.0"},
      {{1, 0, 0, 0}, RR_OK, "1.0.0"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    rr_buf b = RR_BUF_INIT;
    stream_with(&b, cases[c].v, "app", "rec");
    struct result r;
    decode(b.data, b.len, 0, NULL, &r);
    if (cases[c].code == RR_OK) {
      assert_int_equal(r.n_err, 0);
      assert_int_equal(r.n, 1);
      if (cases[c].text) assert_non_null(strstr(r.warning, cases[c].text));
      else assert_int_equal(r.warning[0], 0);
    } else {
      assert_int_equal(r.n, 0);
      assert_int_equal(r.n_err, 1);
      assert_int_equal(r.err_code[0], cases[c].code);
      assert_non_null(strstr(r.err_msg[0], cases[c].text));
      assert_non_null(strstr(r.err_msg[0], "byte offset 0"));
    }
    result_free(&r);
    rr_buf_free(&b);
  }
  /* old fourcc, wrong magic, bad options */
  struct { const char *hdr; int code; const char *text; } bad[] = {
      {"RRF0\x00\x10\x00\x00\x00\x02\x00\x00", RR_EUNSUPPORTED, "RRF0"},
      {"RRF1\x00\x10\x00\x00\x00\x02\x00\x00", RR_EUNSUPPORTED, "RRF1"},
      {"PK\x03\x04\x00\x21\x00\x00\x00\x02\x00\x00", RR_ECORRUPT, "not an RRD"},
      {"RRF2\x00\x21\x00\x00\x00\x02\x01\x00", RR_ECORRUPT, "Reserved bytes not zero"},
      {"RRF2\x00\x21\x00\x00\x02\x02\x00\x00", RR_ECORRUPT, "compression"},
      {"RRF2\x00\x21\x00\x00\x00\x01\x00\x00", RR_EUNSUPPORTED, "MsgPack"},
      {"RRF2\x00\x21\x00\x00\x00\x03\x00\x00", RR_ECORRUPT, "serializer"},
  };
  for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
    struct result r;
    decode((const uint8_t *)bad[c].hdr, 12, 0, NULL, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.n_err, 1);
    assert_int_equal(r.err_code[0], bad[c].code);
    assert_non_null(strstr(r.err_msg[0], bad[c].text));
    result_free(&r);
  }
  /* empty input */
  struct result r;
  decode((const uint8_t *)"", 0, 0, NULL, &r);
  assert_int_equal(r.n_err, 1);
  assert_non_null(strstr(r.err_msg[0], "empty"));
  result_free(&r);
}

static void append_frame(rr_buf *b, uint64_t kind, const void *p, size_t n) {
  assert_int_equal(rr_buf_append_u64le(b, kind), RR_OK);
  assert_int_equal(rr_buf_append_u64le(b, n), RR_OK);
  assert_int_equal(rr_buf_append(b, p, n), RR_OK);
}

static void test_framing_errors(void **state) {
  const uint8_t v33[4] = {0, 33, 0, 0}, v22[4] = {0, 22, 0, 0};
  struct result r;
  /* a bad payload loses one message, decoding goes on */
  rr_buf b = RR_BUF_INIT;
  stream_with(&b, v33, "app", "rec");
  size_t bad_at = b.len;
  append_frame(&b, RR_MSG_ARROW, "\xff\xff\xff", 3);
  rr_log_msg a;
  memset(&a, 0, sizeof a);
  a.kind = RR_MSG_ARROW;
  a.store_id = (rr_store_id){RR_STORE_KIND_RECORDING, S("app"), S("rec")};
  a.arrow.ipc = (rr_bytes){(const uint8_t *)"ipc", 3};
  assert_int_equal(rr_log_msg_encode(&b, &a, RR_FRAMING_RRD, false, NULL), RR_OK);
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.n_err, 1);
  assert_int_equal(r.err_code[0], RR_ECORRUPT);
  char off[64];
  snprintf(off, sizeof off, "byte offset %zu (ArrowMsg, 3 bytes)", bad_at);
  assert_non_null(strstr(r.err_msg[0], off));
  result_free(&r);

  /* a length over the limit stops without allocating it */
  rr_buf_reset(&b);
  stream_with(&b, v33, "app", "rec");
  assert_int_equal(rr_buf_append_u64le(&b, RR_MSG_ARROW), RR_OK);
  assert_int_equal(rr_buf_append_u64le(&b, UINT64_C(1) << 50), RR_OK);
  assert_int_equal(rr_buf_append_zeros(&b, 100), RR_OK);
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.n_err, 1);
  assert_int_equal(r.err_code[0], RR_ERANGE);
  assert_non_null(strstr(r.err_msg[0], "limit"));
  assert_true(r.stopped);
  result_free(&r);
  rr_rrd_decoder_opts small = {{64, 0}, false};
  rr_buf_reset(&b);
  stream_with(&b, v33, "app", "rec");
  decode(b.data, b.len, 0, &small, &r);
  assert_int_equal(r.n, 1);
  result_free(&r);
  small.limits.max_message_size = 40;
  decode(b.data, b.len, 0, &small, &r);
  assert_int_equal(r.n, 0);
  assert_int_equal(r.err_code[0], RR_ERANGE);
  result_free(&r);

  /* unknown kind: back to stream header; a later bad header is "trailing bytes" */
  rr_buf_reset(&b);
  stream_with(&b, v33, "app", "rec");
  size_t junk_at = b.len;
  append_frame(&b, 9, "abcd", 4);
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.n_err, 1);
  snprintf(off, sizeof off, "trailing bytes at byte offset %zu", junk_at);
  assert_non_null(strstr(r.err_msg[0], off));
  result_free(&r);

  /* a later stream with an old version is refused, the first kept */
  rr_buf_reset(&b);
  stream_with(&b, v33, "app", "rec");
  stream_with(&b, v22, "app", "rec2");
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.n_err, 1);
  assert_non_null(strstr(r.err_msg[0], "0.22.0"));
  result_free(&r);

  /* End without StreamFooter before another stream: corrupt footer */
  rr_buf_reset(&b);
  stream_with(&b, v33, "app", "rec");
  append_frame(&b, RR_MSG_END, "", 0);
  stream_with(&b, v33, "app", "rec2");
  stream_with(&b, v33, "app", "rec3");
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.n_err, 1);
  assert_non_null(strstr(r.err_msg[0], "corrupt StreamFooter"));
  result_free(&r);

  /* a stream that is only its header, twice */
  rr_buf_reset(&b);
  assert_int_equal(rr_rrd_write_stream_header(&b, true), RR_OK);
  assert_int_equal(rr_rrd_write_stream_header(&b, true), RR_OK);
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n, 0);
  assert_int_equal(r.n_err, 0);
  result_free(&r);
  rr_buf_free(&b);
}

/* A store id without application id is completed from SetStoreInfo. */
static void test_app_id_recovery(void **state) {
  static const uint8_t no_app[] = {0x0a, 0x05, 0x12, 0x03, 'r', 'e', 'c', 0x10, 0x01, 0x20, 0x01, 0x2a, 0x01, 'x'};
  const uint8_t v33[4] = {0, 33, 0, 0};
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_rrd_write_stream_header(&b, false), RR_OK);
  append_frame(&b, RR_MSG_ARROW, no_app, sizeof no_app);
  stream_with(&b, v33, "the_app", "rec");
  append_frame(&b, RR_MSG_ARROW, no_app, sizeof no_app);
  struct result r;
  decode(b.data, b.len, 0, NULL, &r);
  assert_int_equal(r.n_err, 1);
  assert_non_null(strstr(r.err_msg[0], "no application id"));
  assert_int_equal(r.n, 2);
  assert_int_equal(r.m[1]->kind, RR_MSG_ARROW);
  assert_store(r.m[1], RR_STORE_KIND_RECORDING, "the_app", "rec");
  assert_int_equal(r.m[1]->proto.len, sizeof no_app);
  assert_memory_equal(r.m[1]->proto.ptr, no_app, sizeof no_app);
  assert_int_equal(r.m[1]->arrow.ipc.len, 1);
  result_free(&r);
  rr_buf_free(&b);
}

/* Encoder -> decoder for a whole stream, LZ4 and plain. */
static void test_round_trip(void **state) {
  uint8_t ipc[5000];
  for (size_t i = 0; i < sizeof ipc; i++) ipc[i] = (uint8_t)(i % 13 == 0 ? i : 'a');
  for (int lz4 = 0; lz4 < 2; lz4++) {
    rr_buf b = RR_BUF_INIT;
    assert_int_equal(rr_rrd_write_stream_header(&b, lz4), RR_OK);
    rr_store_id rec = {RR_STORE_KIND_RECORDING, S("my_app"), S("rec_x")};
    rr_store_id bp = {RR_STORE_KIND_BLUEPRINT, S("my_app"), S("bp_x")};
    rr_log_msg m;
    rr_log_msg_init_store_info(&m, &rec);
    assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, lz4, NULL), RR_OK);
    rr_log_msg_init_store_info(&m, &bp);
    assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, lz4, NULL), RR_OK);
    memset(&m, 0, sizeof m);
    m.kind = RR_MSG_ARROW;
    m.store_id = rec;
    m.arrow.ipc = (rr_bytes){ipc, sizeof ipc};
    m.arrow.has_chunk_id = true;
    m.arrow.chunk_id = rr__tuid_new();
    m.arrow.is_static = true;
    assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, lz4, NULL), RR_OK);
    m.arrow.ipc.len = 0;
    m.arrow.is_static = false;
    assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, lz4, NULL), RR_OK);
    memset(&m, 0, sizeof m);
    m.kind = RR_MSG_BLUEPRINT_ACTIVATION;
    m.store_id = bp;
    m.activation.make_active = true;
    assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, lz4, NULL), RR_OK);
    struct result r, r1;
    decode(b.data, b.len, 0, NULL, &r);
    assert_int_equal(r.n_err, 0);
    assert_int_equal(r.n, 5);
    assert_store(r.m[0], RR_STORE_KIND_RECORDING, "my_app", "rec_x");
    assert_store(r.m[1], RR_STORE_KIND_BLUEPRINT, "my_app", "bp_x");
    assert_int_equal(r.m[2]->arrow.compression, lz4 ? RR_PROTO_COMPRESSION_LZ4 : RR_PROTO_COMPRESSION_NONE);
    assert_int_equal(r.m[2]->arrow.ipc.len, sizeof ipc);
    assert_memory_equal(r.m[2]->arrow.ipc.ptr, ipc, sizeof ipc);
    assert_true(r.m[2]->arrow.is_static);
    assert_int_equal(r.m[3]->arrow.ipc.len, 0);
    assert_false(r.m[3]->arrow.is_static);
    assert_int_equal(r.m[4]->kind, RR_MSG_BLUEPRINT_ACTIVATION);
    assert_true(r.m[4]->activation.make_active);
    assert_false(r.m[4]->activation.make_default);
    assert_store(r.m[4], RR_STORE_KIND_BLUEPRINT, "my_app", "bp_x");
    /* re-encoding the decoded messages gives the same bytes */
    rr_buf again = RR_BUF_INIT;
    assert_int_equal(rr_rrd_write_stream_header(&again, lz4), RR_OK);
    for (size_t i = 0; i < r.n; i++) assert_int_equal(rr_log_msg_encode(&again, r.m[i], RR_FRAMING_RRD, lz4, NULL), RR_OK);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    decode(b.data, b.len, 1, NULL, &r1);
    assert_same(&r, &r1);
    result_free(&r1);
    result_free(&r);
    rr_buf_free(&again);
    rr_buf_free(&b);
  }
}

static int count_cb(void *ud, rr_log_msg *m, const rr_error *err) {
  size_t *c = ud;
  if (m) { c[0]++; rr_log_msg_free(m); }
  else c[1]++;
  return 0;
}

static int stop_cb(void *ud, rr_log_msg *m, const rr_error *err) {
  rr_log_msg_free(m);
  return 42;
}

static void test_file_adapters(void **state) {
  size_t c[2] = {0, 0};
  rr_error e = {0};
  assert_int_equal(rr_rrd_read_path(GOLDEN "/concat_noend.rrd", NULL, count_cb, c, &e), RR_OK);
  assert_int_equal(c[0], 4);
  assert_int_equal(c[1], 0);
  assert_int_equal(rr_rrd_read_path(GOLDEN "/plain.rrd", NULL, stop_cb, NULL, &e), 42);
  assert_int_equal(rr_rrd_read_path(GOLDEN "/does_not_exist.rrd", NULL, count_cb, c, &e), RR_ENOTFOUND);
  assert_non_null(strstr(e.msg, "does_not_exist"));
  /* a file larger than one read chunk, through FILE* */
  FILE *f = tmpfile();
  assert_non_null(f);
  rr_buf b = RR_BUF_INIT;
  assert_int_equal(rr_rrd_write_stream_header(&b, false), RR_OK);
  static uint8_t big[200000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
  rr_log_msg m;
  memset(&m, 0, sizeof m);
  m.kind = RR_MSG_ARROW;
  m.store_id = (rr_store_id){RR_STORE_KIND_RECORDING, S("a"), S("r")};
  m.arrow.ipc = (rr_bytes){big, sizeof big};
  for (int i = 0; i < 3; i++) assert_int_equal(rr_log_msg_encode(&b, &m, RR_FRAMING_RRD, i == 1, NULL), RR_OK);
  assert_int_equal(fwrite(b.data, 1, b.len - 5, f), b.len - 5);
  rewind(f);
  c[0] = c[1] = 0;
  assert_int_equal(rr_rrd_read_file(f, NULL, count_cb, c, &e), RR_OK);
  assert_int_equal(c[0], 2);
  assert_int_equal(c[1], 1); /* the truncated third message */
  fclose(f);
  rr_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_single),   cmocka_unit_test(test_golden_concat),
      cmocka_unit_test(test_golden_archetypes), cmocka_unit_test(test_splits),
      cmocka_unit_test(test_truncation),      cmocka_unit_test(test_flipped_bytes),
      cmocka_unit_test(test_versions),        cmocka_unit_test(test_framing_errors),
      cmocka_unit_test(test_app_id_recovery), cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_file_adapters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
