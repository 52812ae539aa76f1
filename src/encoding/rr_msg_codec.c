/* Rerun's log messages <-> rr_log_msg, through the protobuf-c code generated
 * from proto/rerun/<name>.proto.
 *
 * Encoding fills the generated structs with borrowed pointers and packs
 * them straight into the caller's buffer; protobuf-c packs fields in
 * field-number order and emits an explicit-presence member (spelled as a
 * one-member oneof in our .proto) whenever its case is set, which gives the
 * exact bytes of Rerun's prost encoder (spec §2).
 *
 * Decoding unpacks with our allocator (protobuf-c checks every length
 * against the input, so nothing is sized by an unchecked field), checks what
 * Rerun's transport-to-app conversion requires, then copies the result into
 * one owned allocation; the Arrow IPC bytes live in a second, 64-byte
 * aligned allocation from rr__blocks_alloc that can be moved out. */
#include <lz4.h>
#if defined(__linux__)
#endif

#include "base/rr_blocks.h"
#include "encoding/encoding_internal.h"
#include "rerun/common.pb-c.h"
#include "rerun/log_msg.pb-c.h"

/* StoreInfo.application_id is deprecated in Rerun's schema, and we still
 * read it from old files; the generated initialiser names it too. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef Rerun__Common__V1alpha1__Tuid PbTuid;
typedef Rerun__Common__V1alpha1__StoreId PbStoreId;
typedef Rerun__Common__V1alpha1__ApplicationId PbAppId;
typedef Rerun__LogMsg__V1alpha1__LogMsg PbLogMsg;
typedef Rerun__LogMsg__V1alpha1__SetStoreInfo PbSetStoreInfo;
typedef Rerun__LogMsg__V1alpha1__StoreInfo PbStoreInfo;
typedef Rerun__LogMsg__V1alpha1__StoreSource PbStoreSource;
typedef Rerun__LogMsg__V1alpha1__StoreSourceExtra PbStoreSourceExtra;
typedef Rerun__LogMsg__V1alpha1__StoreVersion PbStoreVersion;
typedef Rerun__LogMsg__V1alpha1__ArrowMsg PbArrowMsg;
typedef Rerun__LogMsg__V1alpha1__BlueprintActivationCommand PbActivation;

/* A decoded message: the public part first, then the owned IPC buffer and
 * the inline storage for strings, extra and the raw protobuf. */
struct msg_impl {
  rr_log_msg pub;
  uint8_t *ipc;
  size_t ipc_len;
  uint8_t data[];
};

/* LZ4 can expand at most ~255x; anything claiming more is a lie. */
#define RR__LZ4_MAX_RATIO 255u
#define RR__LZ4_SLACK 64u

/* ---- protobuf-c allocator through rr__malloc ---------------------------------- */

static void *pc_alloc(void *ud, size_t n) { (void)ud; return rr__malloc(n ? n : 1); }
static void pc_free(void *ud, void *p) { (void)ud; rr__free(p); }
static ProtobufCAllocator pc_allocator = {pc_alloc, pc_free, NULL};

/* ---- encoding ------------------------------------------------------------------- */

static int str_check(rr_str s, const char *what, rr_error *err) {
  if (s.len && !s.ptr) return rr__err(err, RR_EINVAL, "%s: NULL pointer with length %zu", what, s.len);
  if (s.len && memchr(s.ptr, 0, s.len))
    return rr__err(err, RR_EINVAL, "%s contains a NUL byte", what);
  if (!rr__utf8_valid(s.ptr ? s.ptr : "", s.len))
    return rr__err(err, RR_EUTF8, "%s is not valid UTF-8", what);
  return RR_OK;
}

/* Everything an encoded message points to: the generated structs and
 * NUL-terminated copies of the store id strings. */
struct enc_ctx {
  PbTuid tuid, chunk_id;
  PbAppId app;
  PbStoreId sid;
  PbStoreSourceExtra extra;
  PbStoreSource source;
  PbStoreVersion version;
  PbStoreInfo info;
  PbSetStoreInfo ssi;
  PbArrowMsg arrow;
  PbActivation act;
  PbLogMsg log;
  char *app_s, *rec_s;
  uint8_t *lz4;
};

static void set_tuid(PbTuid *t, rr_tuid v) {
  *t = (PbTuid)RERUN__COMMON__V1ALPHA1__TUID__INIT;
  t->_time_ns_case = RERUN__COMMON__V1ALPHA1__TUID___TIME_NS_TIME_NS;
  t->time_ns = v.time_ns;
  t->_inc_case = RERUN__COMMON__V1ALPHA1__TUID___INC_INC;
  t->inc = v.inc;
}

static int set_store_id(struct enc_ctx *c, const rr_store_id *id, rr_error *err) {
  RR_TRY(str_check(id->application_id, "application id", err));
  RR_TRY(str_check(id->recording_id, "recording id", err));
  if (id->kind < 0 || id->kind > RR_STORE_KIND_BLUEPRINT)
    return rr__err(err, RR_EINVAL, "unknown store kind %d", (int)id->kind);
  c->app_s = rr__strndup(id->application_id.ptr ? id->application_id.ptr : "", id->application_id.len);
  c->rec_s = rr__strndup(id->recording_id.ptr ? id->recording_id.ptr : "", id->recording_id.len);
  if (!c->app_s || !c->rec_s) return rr__err(err, RR_ENOMEM, "out of memory encoding a store id");
  c->app = (PbAppId)RERUN__COMMON__V1ALPHA1__APPLICATION_ID__INIT;
  c->app.id = c->app_s;
  c->sid = (PbStoreId)RERUN__COMMON__V1ALPHA1__STORE_ID__INIT;
  /* Rerun writes kind 1 or 2; an unspecified kind is written as a recording. */
  c->sid.kind = id->kind == RR_STORE_KIND_BLUEPRINT ? RERUN__COMMON__V1ALPHA1__STORE_KIND__STORE_KIND_BLUEPRINT
                                                    : RERUN__COMMON__V1ALPHA1__STORE_KIND__STORE_KIND_RECORDING;
  c->sid.recording_id = c->rec_s;
  c->sid.application_id = &c->app;
  return RR_OK;
}

static int build_message(struct enc_ctx *c, const rr_log_msg *m, bool lz4, ProtobufCMessage **out,
                         rr_error *err) {
  switch (m->kind) {
    case RR_MSG_SET_STORE_INFO:
      RR_TRY(set_store_id(c, &m->store_id, err));
      if (m->info.source_kind < 0 || m->info.source_kind > RR_SOURCE_OTHER)
        return rr__err(err, RR_EINVAL, "unknown store source kind %d", (int)m->info.source_kind);
      if (m->info.source_extra.len && !m->info.source_extra.ptr)
        return rr__err(err, RR_EINVAL, "store source extra: NULL pointer");
      set_tuid(&c->tuid, m->info.row_id);
      c->extra = (PbStoreSourceExtra)RERUN__LOG_MSG__V1ALPHA1__STORE_SOURCE_EXTRA__INIT;
      c->extra.payload.data = (uint8_t *)m->info.source_extra.ptr;
      c->extra.payload.len = m->info.source_extra.len;
      c->source = (PbStoreSource)RERUN__LOG_MSG__V1ALPHA1__STORE_SOURCE__INIT;
      c->source.kind = (Rerun__LogMsg__V1alpha1__StoreSourceKind)m->info.source_kind;
      c->source.extra = &c->extra; /* always emitted, even empty (12 00) */
      c->version = (PbStoreVersion)RERUN__LOG_MSG__V1ALPHA1__STORE_VERSION__INIT;
      c->version.crate_version_bits = m->info.version_bits;
      c->info = (PbStoreInfo)RERUN__LOG_MSG__V1ALPHA1__STORE_INFO__INIT;
      c->info.store_id = &c->sid;
      c->info.store_source = &c->source;
      c->info.store_version = m->info.has_version ? &c->version : NULL;
      c->ssi = (PbSetStoreInfo)RERUN__LOG_MSG__V1ALPHA1__SET_STORE_INFO__INIT;
      c->ssi.row_id = &c->tuid;
      c->ssi.info = &c->info;
      *out = &c->ssi.base;
      return RR_OK;
    case RR_MSG_ARROW: {
      const rr_bytes ipc = m->arrow.ipc;
      if (ipc.len && !ipc.ptr) return rr__err(err, RR_EINVAL, "ArrowMsg: NULL IPC bytes");
      RR_TRY(set_store_id(c, &m->store_id, err));
      c->arrow = (PbArrowMsg)RERUN__LOG_MSG__V1ALPHA1__ARROW_MSG__INIT;
      c->arrow.store_id = &c->sid;
      c->arrow.uncompressed_size = ipc.len;
      c->arrow.encoding = RERUN__LOG_MSG__V1ALPHA1__ENCODING__ENCODING_ARROW_IPC;
      c->arrow.compression = RERUN__COMMON__V1ALPHA1__COMPRESSION__COMPRESSION_NONE;
      c->arrow.payload.data = (uint8_t *)ipc.ptr;
      c->arrow.payload.len = ipc.len;
      /* An input too large for one LZ4 block goes out uncompressed: the
       * reader only follows the per-message compression field. */
      if (lz4 && ipc.len <= (size_t)LZ4_MAX_INPUT_SIZE) {
        int bound = LZ4_compressBound((int)ipc.len);
        c->lz4 = rr__malloc((size_t)bound > 0 ? (size_t)bound : 1);
        if (!c->lz4) return rr__err(err, RR_ENOMEM, "out of memory for LZ4 output (%d bytes)", bound);
        rr__advise_huge(c->lz4, (size_t)bound);
        int n = ipc.len ? LZ4_compress_default((const char *)ipc.ptr, (char *)c->lz4, (int)ipc.len, bound) : 0;
        if (ipc.len && n <= 0) return rr__err(err, RR_EINTERNAL, "LZ4 compression failed");
        c->arrow.compression = RERUN__COMMON__V1ALPHA1__COMPRESSION__COMPRESSION_LZ4;
        c->arrow.payload.data = c->lz4;
        c->arrow.payload.len = (size_t)n;
      }
      if (m->arrow.has_chunk_id) {
        set_tuid(&c->chunk_id, m->arrow.chunk_id);
        c->arrow.chunk_id = &c->chunk_id;
      }
      c->arrow._is_static_case = RERUN__LOG_MSG__V1ALPHA1__ARROW_MSG___IS_STATIC_IS_STATIC;
      c->arrow.is_static = m->arrow.is_static;
      *out = &c->arrow.base;
      return RR_OK;
    }
    case RR_MSG_BLUEPRINT_ACTIVATION:
      RR_TRY(set_store_id(c, &m->store_id, err));
      c->act = (PbActivation)RERUN__LOG_MSG__V1ALPHA1__BLUEPRINT_ACTIVATION_COMMAND__INIT;
      c->act.blueprint_id = &c->sid;
      c->act.make_active = m->activation.make_active;
      c->act.make_default = m->activation.make_default;
      *out = &c->act.base;
      return RR_OK;
    default:
      return rr__err(err, RR_EINVAL, "cannot encode message kind %d", m->kind);
  }
}

int rr_log_msg_encode(rr_buf *out, const rr_log_msg *m, rr_framing framing, bool lz4,
                      rr_error *err) {
  if (!out || !m) return rr__err(err, RR_EINVAL, "rr_log_msg_encode: NULL argument");
  if (framing != RR_FRAMING_PROTO && framing != RR_FRAMING_RRD && framing != RR_FRAMING_LOG_MSG)
    return rr__err(err, RR_EINVAL, "unknown framing %d", (int)framing);
  struct enc_ctx c;
  memset(&c, 0, sizeof c);
  ProtobufCMessage *msg = NULL;
  size_t before = out->len;
  int rc = build_message(&c, m, lz4, &msg, err);
  if (rc == RR_OK && framing == RR_FRAMING_LOG_MSG) {
    c.log = (PbLogMsg)RERUN__LOG_MSG__V1ALPHA1__LOG_MSG__INIT;
    c.log.msg_case = (Rerun__LogMsg__V1alpha1__LogMsg__MsgCase)m->kind;
    if (m->kind == RR_MSG_SET_STORE_INFO) c.log.set_store_info = &c.ssi;
    else if (m->kind == RR_MSG_ARROW) c.log.arrow_msg = &c.arrow;
    else c.log.blueprint_activation_command = &c.act;
    msg = &c.log.base;
  }
  if (rc == RR_OK) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    size_t hdr = framing == RR_FRAMING_RRD ? RR_RRD_MESSAGE_HEADER_SIZE : 0;
    rc = rr_buf_reserve(out, hdr + n);
    if (rc < 0) {
      rr__err(err, rc, "out of memory for a %zu-byte message", n);
    } else {
      if (hdr) {
        rr__put_u64le(out->data + out->len, (uint64_t)m->kind);
        rr__put_u64le(out->data + out->len + 8, (uint64_t)n);
      }
      size_t w = protobuf_c_message_pack(msg, out->data + out->len + hdr);
      if (w != n) rc = rr__err(err, RR_EINTERNAL, "protobuf packed %zu bytes, expected %zu", w, n);
      else out->len += hdr + n;
    }
  }
  rr__free(c.app_s);
  rr__free(c.rec_s);
  rr__free(c.lz4);
  if (rc < 0) out->len = before;
  return rc;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t k = 0;
  do { p[k++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0)); v >>= 7; } while (v);
  return k;
}

/* An ArrowMsg is fields 1-4, the payload (5), then 6-7, each packed in
 * field order; packing the two groups as separate messages and putting the
 * payload's tag and length between them gives the same bytes. */
int rr_arrow_msg_encode_parts(rr_buf *out, size_t *head_len, const rr_log_msg *m, rr_framing framing,
                              bool lz4, size_t payload_len, size_t uncompressed_size, rr_error *err) {
  if (!out || !head_len || !m || m->kind != RR_MSG_ARROW)
    return rr__err(err, RR_EINVAL, "rr_arrow_msg_encode_parts: NULL argument or not an ArrowMsg");
  if (framing != RR_FRAMING_PROTO && framing != RR_FRAMING_RRD && framing != RR_FRAMING_LOG_MSG)
    return rr__err(err, RR_EINVAL, "unknown framing %d", (int)framing);
  struct enc_ctx c;
  memset(&c, 0, sizeof c);
  rr_log_msg bare = *m;
  bare.arrow.ipc = (rr_bytes){NULL, 0};
  ProtobufCMessage *msg = NULL;
  int rc = build_message(&c, &bare, false, &msg, err);
  size_t before = out->len;
  if (rc == RR_OK) {
    PbArrowMsg first = c.arrow, second = (PbArrowMsg)RERUN__LOG_MSG__V1ALPHA1__ARROW_MSG__INIT;
    first.uncompressed_size = uncompressed_size;
    first.compression = lz4 ? RERUN__COMMON__V1ALPHA1__COMPRESSION__COMPRESSION_LZ4
                            : RERUN__COMMON__V1ALPHA1__COMPRESSION__COMPRESSION_NONE;
    first.chunk_id = NULL;
    first._is_static_case = RERUN__LOG_MSG__V1ALPHA1__ARROW_MSG___IS_STATIC__NOT_SET;
    second.chunk_id = c.arrow.chunk_id;
    second._is_static_case = c.arrow._is_static_case;
    second.is_static = c.arrow.is_static;
    size_t na = protobuf_c_message_get_packed_size(&first.base);
    size_t nb = protobuf_c_message_get_packed_size(&second.base);
    uint8_t ptag[12];
    size_t np = 0;
    if (payload_len) {
      ptag[0] = (5 << 3) | 2;
      np = 1 + put_varint(ptag + 1, payload_len);
    }
    size_t inner = na + np + payload_len + nb;
    uint8_t frame[24];
    size_t nf = 0;
    if (framing == RR_FRAMING_RRD) {
      rr__put_u64le(frame, (uint64_t)RR_MSG_ARROW);
      rr__put_u64le(frame + 8, (uint64_t)inner);
      nf = RR_RRD_MESSAGE_HEADER_SIZE;
    } else if (framing == RR_FRAMING_LOG_MSG) {
      frame[0] = (RR_MSG_ARROW << 3) | 2;
      nf = 1 + put_varint(frame + 1, inner);
    }
    if ((rc = rr_buf_reserve(out, nf + na + np + nb)) < 0) {
      rr__err(err, rc, "out of memory for a message header");
    } else {
      uint8_t *d = out->data + out->len;
      memcpy(d, frame, nf);
      protobuf_c_message_pack(&first.base, d + nf);
      memcpy(d + nf + na, ptag, np);
      protobuf_c_message_pack(&second.base, d + nf + na + np);
      *head_len = nf + na + np;
      out->len += nf + na + np + nb;
    }
  }
  rr__free(c.app_s);
  rr__free(c.rec_s);
  if (rc < 0) out->len = before;
  return rc;
}

int rr_proto_append_bytes_field(rr_buf *out, uint32_t field, const void *p, size_t n) {
  if (!out || field == 0 || field > 0x1FFFFFFFu || (n && !p)) return RR_EINVAL;
  uint8_t tmp[20];
  size_t k = 0;
  uint64_t v = ((uint64_t)field << 3) | 2u;
  do { tmp[k++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0)); v >>= 7; } while (v);
  v = n;
  do { tmp[k++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0)); v >>= 7; } while (v);
  RR_TRY(rr_buf_reserve(out, k + n));
  RR_TRY(rr_buf_append(out, tmp, k));
  return rr_buf_append(out, p, n);
}

void rr_log_msg_init_store_info(rr_log_msg *m, const rr_store_id *id) {
  memset(m, 0, sizeof *m);
  m->kind = RR_MSG_SET_STORE_INFO;
  if (id) m->store_id = *id;
  m->info.row_id = rr__tuid_new();
  m->info.source_kind = RR_SOURCE_C_SDK;
  m->info.has_version = true;
  m->info.version_bits = RR_RRD_CRATE_VERSION_BITS;
}

/* ---- decoding --------------------------------------------------------------------- */

void rr_log_msg_free(rr_log_msg *m) {
  if (!m) return;
  struct msg_impl *impl = (struct msg_impl *)m;
  rr__blocks_free(impl->ipc);
  rr__free(impl);
}

uint8_t *rr_log_msg_take_ipc(rr_log_msg *m, size_t *len) {
  if (len) *len = 0;
  if (!m) return NULL;
  struct msg_impl *impl = (struct msg_impl *)m;
  uint8_t *p = impl->ipc;
  if (len && p) *len = impl->ipc_len;
  impl->ipc = NULL;
  impl->ipc_len = 0;
  m->arrow.ipc.ptr = NULL;
  m->arrow.ipc.len = 0;
  return p;
}

const char *rr__msg_kind_name(int kind) {
  switch (kind) {
    case RR_MSG_END: return "End";
    case RR_MSG_SET_STORE_INFO: return "SetStoreInfo";
    case RR_MSG_ARROW: return "ArrowMsg";
    case RR_MSG_BLUEPRINT_ACTIVATION: return "BlueprintActivationCommand";
    default: return "unknown";
  }
}

/* What the conversion keeps from the unpacked message: views into it. */
struct dec_view {
  int kind;
  int32_t store_kind;
  const char *app;  /* NULL: no application id */
  const char *rec;
  rr_bytes extra;
};

static int view_store_id(const PbStoreId *sid, const PbAppId *fallback, struct dec_view *v,
                         rr_error *err) {
  /* prost reads an unknown enum value as UNSPECIFIED = recording. */
  v->store_kind = sid->kind == RERUN__COMMON__V1ALPHA1__STORE_KIND__STORE_KIND_BLUEPRINT
                      ? RR_STORE_KIND_BLUEPRINT : RR_STORE_KIND_RECORDING;
  v->rec = sid->recording_id ? sid->recording_id : "";
  const PbAppId *app = sid->application_id ? sid->application_id : fallback;
  v->app = app ? (app->id ? app->id : "") : NULL;
  if (!rr__utf8_valid(v->rec, strlen(v->rec)))
    return rr__err(err, RR_ECORRUPT, "recording id is not valid UTF-8");
  if (v->app && !rr__utf8_valid(v->app, strlen(v->app)))
    return rr__err(err, RR_ECORRUPT, "application id is not valid UTF-8");
  return RR_OK;
}

static bool tuid_complete(const PbTuid *t) {
  return t && t->_time_ns_case == RERUN__COMMON__V1ALPHA1__TUID___TIME_NS_TIME_NS &&
         t->_inc_case == RERUN__COMMON__V1ALPHA1__TUID___INC_INC;
}

/* The per-kind payload rules for StoreSourceExtra (spec §2.5). */
static int check_source_extra(int32_t kind, const PbStoreSourceExtra *extra, rr_error *err) {
  if (kind != RR_SOURCE_PYTHON_SDK && kind != RR_SOURCE_RUST_SDK && kind != RR_SOURCE_FILE &&
      kind != RR_SOURCE_OTHER)
    return RR_OK;
  if (!extra) return rr__err(err, RR_ECORRUPT, "store source kind %d requires an extra payload", (int)kind);
  const uint8_t *p = extra->payload.data;
  size_t n = extra->payload.len;
  ProtobufCMessage *sub = NULL;
  int rc = RR_OK;
  if (kind == RR_SOURCE_OTHER) {
    if (!rr__utf8_valid((const char *)(p ? p : (const uint8_t *)""), n))
      rc = rr__err(err, RR_ECORRUPT, "store source description is not valid UTF-8");
    return rc;
  }
  if (kind == RR_SOURCE_PYTHON_SDK) {
    sub = (ProtobufCMessage *)rerun__log_msg__v1alpha1__python_version__unpack(&pc_allocator, n, p);
    if (!sub) rc = rr__err(err, RR_ECORRUPT, "store source extra is not a valid PythonVersion");
  } else if (kind == RR_SOURCE_RUST_SDK) {
    sub = (ProtobufCMessage *)rerun__log_msg__v1alpha1__crate_info__unpack(&pc_allocator, n, p);
    if (!sub) rc = rr__err(err, RR_ECORRUPT, "store source extra is not a valid CrateInfo");
  } else {
    Rerun__LogMsg__V1alpha1__FileSource *fs =
        rerun__log_msg__v1alpha1__file_source__unpack(&pc_allocator, n, p);
    sub = (ProtobufCMessage *)fs;
    if (!fs) rc = rr__err(err, RR_ECORRUPT, "store source extra is not a valid FileSource");
    else if (fs->kind == RERUN__LOG_MSG__V1ALPHA1__FILE_SOURCE_KIND__FILE_SOURCE_KIND_UNSPECIFIED)
      rc = rr__err(err, RR_ECORRUPT, "store source FileSource has an unspecified kind");
  }
  if (sub) protobuf_c_message_free_unpacked(sub, &pc_allocator);
  return rc;
}

/* One allocation for the message, its strings, extra and raw protobuf. */
static int make_msg(const struct dec_view *v, const uint8_t *proto, size_t proto_len,
                    struct msg_impl **out, rr_error *err) {
  size_t app_len = v->app ? strlen(v->app) : 0, rec_len = strlen(v->rec);
  size_t total = sizeof(struct msg_impl) + proto_len + v->extra.len + app_len + rec_len + 2;
  struct msg_impl *impl = rr__malloc(total);
  if (!impl) return rr__err(err, RR_ENOMEM, "out of memory for a decoded message (%zu bytes)", total);
  memset(impl, 0, sizeof *impl);
  uint8_t *w = impl->data;
  rr_log_msg *m = &impl->pub;
  m->kind = v->kind;
  if (proto_len) memcpy(w, proto, proto_len);
  m->proto.ptr = w;
  m->proto.len = proto_len;
  w += proto_len;
  if (v->extra.len) memcpy(w, v->extra.ptr, v->extra.len);
  m->info.source_extra.ptr = w;
  m->info.source_extra.len = v->extra.len;
  w += v->extra.len;
  m->store_id.kind = v->store_kind;
  memcpy(w, v->rec, rec_len + 1);
  m->store_id.recording_id.ptr = (const char *)w;
  m->store_id.recording_id.len = rec_len;
  w += rec_len + 1;
  if (v->app) {
    memcpy(w, v->app, app_len + 1);
    m->store_id.application_id.ptr = (const char *)w;
    m->store_id.application_id.len = app_len;
  }
  *out = impl;
  return RR_OK;
}

static int decode_set_store_info(const uint8_t *p, size_t n, struct msg_impl **out, rr_error *err) {
  PbSetStoreInfo *s = rerun__log_msg__v1alpha1__set_store_info__unpack(&pc_allocator, n, p);
  if (!s) return rr__err(err, RR_ECORRUPT, "malformed SetStoreInfo protobuf");
  struct dec_view v = {RR_MSG_SET_STORE_INFO, 0, NULL, NULL, {NULL, 0}};
  int rc = RR_OK;
  const PbStoreInfo *info = s->info;
  int32_t source_kind = 0;
  if (!tuid_complete(s->row_id)) rc = rr__err(err, RR_ECORRUPT, "SetStoreInfo: missing or incomplete row_id");
  else if (!info) rc = rr__err(err, RR_ECORRUPT, "SetStoreInfo: missing info");
  else if (!info->store_id) rc = rr__err(err, RR_ECORRUPT, "SetStoreInfo: missing info.store_id");
  else if (!info->store_source) rc = rr__err(err, RR_ECORRUPT, "SetStoreInfo: missing info.store_source");
  if (rc == RR_OK) {
    /* The deprecated StoreInfo.application_id is the fallback for old files. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const PbAppId *legacy_app = info->application_id;
#pragma GCC diagnostic pop
    rc = view_store_id(info->store_id, legacy_app, &v, err);
  }
  if (rc == RR_OK && !v.app) rc = rr__err(err, RR_ECORRUPT, "SetStoreInfo: store id has no application id");
  if (rc == RR_OK) {
    source_kind = (int32_t)info->store_source->kind;
    if (source_kind < 0 || source_kind > RR_SOURCE_OTHER) source_kind = RR_SOURCE_UNSPECIFIED;
    rc = check_source_extra(source_kind, info->store_source->extra, err);
    if (info->store_source->extra) {
      v.extra.ptr = info->store_source->extra->payload.data;
      v.extra.len = info->store_source->extra->payload.len;
    }
  }
  struct msg_impl *impl = NULL;
  if (rc == RR_OK) rc = make_msg(&v, p, n, &impl, err);
  if (rc == RR_OK) {
    impl->pub.info.row_id.time_ns = s->row_id->time_ns;
    impl->pub.info.row_id.inc = s->row_id->inc;
    impl->pub.info.source_kind = source_kind;
    impl->pub.info.has_version = info->store_version != NULL;
    impl->pub.info.version_bits = info->store_version ? info->store_version->crate_version_bits : 0;
    *out = impl;
  }
  protobuf_c_message_free_unpacked(&s->base, &pc_allocator);
  return rc;
}

/* Reads one varint; returns bytes used or 0 if malformed. */
static size_t read_varint(const uint8_t *p, size_t n, uint64_t *v);

/* protobuf-c copies every bytes field, and an ArrowMsg is mostly payload:
 * walks the top-level fields, views the payload (field 5, length-delimited;
 * the last occurrence wins, as in protobuf) in place and copies the other
 * fields (a few dozen bytes) to `rest` for protobuf-c. Returns false when
 * anything is unusual; the caller then unpacks the whole message, and
 * protobuf-c reports its errors as before. */
static bool split_payload(const uint8_t *p, size_t n, rr_buf *rest, rr_bytes *payload) {
  size_t i = 0;
  while (i < n) {
    uint64_t tag, len;
    size_t at = i, k = read_varint(p + i, n - i, &tag);
    if (!k || tag >> 3 == 0 || tag >> 3 > UINT32_MAX) return false;
    i += k;
    switch (tag & 7) {
      case 0:
        if (!(k = read_varint(p + i, n - i, &len))) return false;
        i += k;
        break;
      case 1: if (n - i < 8) return false; i += 8; break;
      case 5: if (n - i < 4) return false; i += 4; break;
      case 2:
        if (!(k = read_varint(p + i, n - i, &len)) || len > n - i - k) return false;
        i += k;
        if (tag == (5u << 3 | 2u)) {
          payload->ptr = p + i;
          payload->len = (size_t)len;
          i += (size_t)len;
          continue;
        }
        i += (size_t)len;
        break;
      default: return false;
    }
    if (rr_buf_append(rest, p + at, i - at) < 0) return false;
  }
  return true;
}

static int decode_arrow(const uint8_t *p, size_t n, const rr_decode_limits *lim, const struct rr__decode_opts *o,
                        struct msg_impl **out, rr_error *err) {
  rr_buf rest = RR_BUF_INIT;
  rr_bytes payload = {NULL, 0};
  PbArrowMsg *a = NULL;
  if (split_payload(p, n, &rest, &payload)) {
    a = rerun__log_msg__v1alpha1__arrow_msg__unpack(&pc_allocator, rest.len, rest.data ? rest.data : p);
  } else {
    payload = (rr_bytes){NULL, 0};
    a = rerun__log_msg__v1alpha1__arrow_msg__unpack(&pc_allocator, n, p);
    if (a) payload = (rr_bytes){a->payload.data, a->payload.len};
  }
  rr_buf_free(&rest);
  if (!a) return rr__err(err, RR_ECORRUPT, "malformed ArrowMsg protobuf");
  struct dec_view v = {RR_MSG_ARROW, 0, NULL, NULL, {NULL, 0}};
  int rc = RR_OK;
  uint64_t max_u = lim && lim->max_uncompressed_size ? lim->max_uncompressed_size
                                                     : RR_RRD_DEFAULT_MAX_UNCOMPRESSED_SIZE;
  bool lz4 = a->compression == RERUN__COMMON__V1ALPHA1__COMPRESSION__COMPRESSION_LZ4;
  size_t clen = payload.len;
  uint64_t ulen = lz4 ? a->uncompressed_size : (uint64_t)clen;
  if (!a->store_id) rc = rr__err(err, RR_ECORRUPT, "ArrowMsg: missing store_id");
  else if (a->encoding != RERUN__LOG_MSG__V1ALPHA1__ENCODING__ENCODING_ARROW_IPC)
    rc = rr__err(err, RR_EUNSUPPORTED, "ArrowMsg: unsupported encoding %d, expected Arrow IPC (1)",
                 (int)a->encoding);
  else if (ulen > max_u)
    rc = rr__err(err, RR_ERANGE, "ArrowMsg: uncompressed size %llu exceeds the limit of %llu bytes",
                 (unsigned long long)ulen, (unsigned long long)max_u);
  else if (lz4 && ulen > (uint64_t)clen * RR__LZ4_MAX_RATIO + RR__LZ4_SLACK)
    rc = rr__err(err, RR_ECORRUPT,
                 "ArrowMsg: uncompressed size %llu is impossible for %zu bytes of LZ4",
                 (unsigned long long)ulen, clen);
  else if (lz4 && (clen > (size_t)LZ4_MAX_INPUT_SIZE || ulen > (uint64_t)INT32_MAX))
    rc = rr__err(err, RR_ERANGE, "ArrowMsg: LZ4 block of %zu -> %llu bytes is too large", clen,
                 (unsigned long long)ulen);
  if (rc == RR_OK) rc = view_store_id(a->store_id, NULL, &v, err);
  uint8_t *ipc = NULL;
  if (rc == RR_OK && ulen > 0) {
    /* the bytes the decoded chunk will keep: carved from large huge-page
     * blocks, so that LZ4 writes into memory faulted 2 MiB at a time */
    ipc = rr__blocks_alloc(o->pool, (size_t)ulen);
    if (!ipc) rc = rr__err(err, RR_ENOMEM, "out of memory for %llu IPC bytes", (unsigned long long)ulen);
  }
  if (rc == RR_OK && ulen > 0) {
    if (lz4) {
      int got = LZ4_decompress_safe((const char *)payload.ptr, (char *)ipc, (int)clen, (int)ulen);
      if (got < 0)
        rc = rr__err(err, RR_ECORRUPT, "ArrowMsg: corrupt LZ4 block (%zu bytes)", clen);
      else if ((uint64_t)got != ulen)
        rc = rr__err(err, RR_ECORRUPT, "ArrowMsg: LZ4 block decompressed to %d bytes, uncompressed_size says %llu",
                     got, (unsigned long long)ulen);
    } else {
      memcpy(ipc, payload.ptr, clen);
    }
  } else if (rc == RR_OK && lz4 && clen > 0) {
    /* uncompressed_size 0 with a non-empty block: the block must decode to nothing. */
    char dummy;
    if (LZ4_decompress_safe((const char *)payload.ptr, &dummy, (int)clen, 0) != 0)
      rc = rr__err(err, RR_ECORRUPT, "ArrowMsg: LZ4 block does not match uncompressed_size 0");
  }
  struct msg_impl *impl = NULL;
  if (rc == RR_OK) rc = make_msg(&v, p, o->no_arrow_proto ? 0 : n, &impl, err);
  if (rc == RR_OK) {
    rr_log_msg *m = &impl->pub;
    impl->ipc = ipc;
    impl->ipc_len = (size_t)ulen;
    ipc = NULL;
    m->arrow.ipc.ptr = impl->ipc;
    m->arrow.ipc.len = impl->ipc_len;
    m->arrow.compression = (int32_t)a->compression;
    m->arrow.uncompressed_size = a->uncompressed_size;
    m->arrow.has_chunk_id = tuid_complete(a->chunk_id);
    if (m->arrow.has_chunk_id) {
      m->arrow.chunk_id.time_ns = a->chunk_id->time_ns;
      m->arrow.chunk_id.inc = a->chunk_id->inc;
    }
    m->arrow.has_is_static = a->_is_static_case == RERUN__LOG_MSG__V1ALPHA1__ARROW_MSG___IS_STATIC_IS_STATIC;
    m->arrow.is_static = m->arrow.has_is_static && a->is_static;
    *out = impl;
  }
  rr__blocks_free(ipc);
  protobuf_c_message_free_unpacked(&a->base, &pc_allocator);
  return rc;
}

static int decode_activation(const uint8_t *p, size_t n, struct msg_impl **out, rr_error *err) {
  PbActivation *b = rerun__log_msg__v1alpha1__blueprint_activation_command__unpack(&pc_allocator, n, p);
  if (!b) return rr__err(err, RR_ECORRUPT, "malformed BlueprintActivationCommand protobuf");
  struct dec_view v = {RR_MSG_BLUEPRINT_ACTIVATION, 0, NULL, NULL, {NULL, 0}};
  int rc = RR_OK;
  if (!b->blueprint_id) rc = rr__err(err, RR_ECORRUPT, "BlueprintActivationCommand: missing blueprint_id");
  if (rc == RR_OK) rc = view_store_id(b->blueprint_id, NULL, &v, err);
  struct msg_impl *impl = NULL;
  if (rc == RR_OK) rc = make_msg(&v, p, n, &impl, err);
  if (rc == RR_OK) {
    impl->pub.activation.make_active = b->make_active != 0;
    impl->pub.activation.make_default = b->make_default != 0;
    *out = impl;
  }
  protobuf_c_message_free_unpacked(&b->base, &pc_allocator);
  return rc;
}

int rr__log_msg_new_end(const uint8_t *p, size_t n, rr_log_msg **out, rr_error *err) {
  *out = NULL;
  size_t count = 0;
  if (n) {
    Rerun__LogMsg__V1alpha1__RrdFooter *f = rerun__log_msg__v1alpha1__rrd_footer__unpack(&pc_allocator, n, p);
    if (!f) return rr__err(err, RR_ECORRUPT, "malformed RrdFooter protobuf");
    count = f->n_manifests;
    protobuf_c_message_free_unpacked(&f->base, &pc_allocator);
  }
  struct dec_view v = {RR_MSG_END, 0, NULL, "", {NULL, 0}};
  struct msg_impl *impl = NULL;
  RR_TRY(make_msg(&v, p, n, &impl, err));
  impl->pub.end.n_manifests = count;
  *out = &impl->pub;
  return RR_OK;
}

int rr__log_msg_set_app_id(rr_log_msg **pm, const char *app, size_t len) {
  struct msg_impl *impl = (struct msg_impl *)*pm;
  rr_log_msg *m = &impl->pub;
  /* Everything inline lies in data[]; remember offsets, grow, re-point. */
  size_t proto_off = (size_t)(m->proto.ptr - impl->data);
  size_t extra_off = (size_t)(m->info.source_extra.ptr - impl->data);
  size_t rec_off = (size_t)((const uint8_t *)m->store_id.recording_id.ptr - impl->data);
  size_t used = rec_off + m->store_id.recording_id.len + 1;
  if (m->store_id.application_id.ptr)
    used += m->store_id.application_id.len + 1;
  struct msg_impl *n = rr__realloc(impl, sizeof *impl + used + len + 1);
  if (!n) return RR_ENOMEM;
  m = &n->pub;
  m->proto.ptr = n->data + proto_off;
  m->info.source_extra.ptr = n->data + extra_off;
  m->store_id.recording_id.ptr = (const char *)n->data + rec_off;
  memcpy(n->data + used, app, len);
  n->data[used + len] = 0;
  m->store_id.application_id.ptr = (const char *)n->data + used;
  m->store_id.application_id.len = len;
  *pm = m;
  return RR_OK;
}

int rr_log_msg_decode_inner(int kind, const uint8_t *p, size_t n, const rr_decode_limits *limits,
                            rr_log_msg **out, rr_error *err) {
  return rr__log_msg_decode_inner_opts(kind, p, n, limits, NULL, out, err);
}

int rr__log_msg_decode_inner_opts(int kind, const uint8_t *p, size_t n, const rr_decode_limits *limits,
                                  const struct rr__decode_opts *o, rr_log_msg **out, rr_error *err) {
  static const struct rr__decode_opts defaults = {NULL, false};
  if (!o) o = &defaults;
  if (!out || (n && !p)) return rr__err(err, RR_EINVAL, "rr_log_msg_decode_inner: NULL argument");
  *out = NULL;
  uint64_t max_m = limits && limits->max_message_size ? limits->max_message_size
                                                      : RR_RRD_DEFAULT_MAX_MESSAGE_SIZE;
  if ((uint64_t)n > max_m)
    return rr__err(err, RR_ERANGE, "%s of %zu bytes exceeds the limit of %llu bytes", rr__msg_kind_name(kind), n,
                   (unsigned long long)max_m);
  struct msg_impl *impl = NULL;
  int rc;
  switch (kind) {
    case RR_MSG_SET_STORE_INFO: rc = decode_set_store_info(p, n, &impl, err); break;
    case RR_MSG_ARROW: rc = decode_arrow(p, n, limits, o, &impl, err); break;
    case RR_MSG_BLUEPRINT_ACTIVATION: rc = decode_activation(p, n, &impl, err); break;
    default: return rr__err(err, RR_EINVAL, "cannot decode message kind %d", kind);
  }
  if (rc == RR_OK) *out = &impl->pub;
  return rc;
}

/* Reads one protobuf varint; returns bytes used or 0 if malformed. */
static size_t read_varint(const uint8_t *p, size_t n, uint64_t *v) {
  uint64_t r = 0;
  for (size_t i = 0; i < n && i < 10; i++) {
    r |= (uint64_t)(p[i] & 0x7F) << (7 * i);
    if (!(p[i] & 0x80)) { *v = r; return i + 1; }
  }
  return 0;
}

/* LogMsg is a oneof: walk its top-level fields (checking the wire format),
 * find the member (field 1/2/3, the last one wins as for any oneof) and
 * decode its bytes, so `proto` points at the inner message. */
int rr_log_msg_decode(const uint8_t *p, size_t n, const rr_decode_limits *limits, rr_log_msg **out,
                      rr_error *err) {
  if (!out || (n && !p)) return rr__err(err, RR_EINVAL, "rr_log_msg_decode: NULL argument");
  *out = NULL;
  uint64_t max_m = limits && limits->max_message_size ? limits->max_message_size
                                                      : RR_RRD_DEFAULT_MAX_MESSAGE_SIZE;
  if ((uint64_t)n > max_m)
    return rr__err(err, RR_ERANGE, "LogMsg of %zu bytes exceeds the limit of %llu bytes", n,
                   (unsigned long long)max_m);
  int kind = -1;
  size_t inner_at = 0, inner_len = 0, i = 0;
  while (i < n) {
    uint64_t tag, len = 0;
    size_t k = read_varint(p + i, n - i, &tag);
    if (!k) return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: bad tag at byte %zu", i);
    i += k;
    uint64_t field = tag >> 3;
    switch (tag & 7) {
      case 0:
        k = read_varint(p + i, n - i, &len);
        if (!k) return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: bad varint at byte %zu", i);
        i += k;
        break;
      case 1: if (n - i < 8) goto trunc; i += 8; break;
      case 5: if (n - i < 4) goto trunc; i += 4; break;
      case 2:
        k = read_varint(p + i, n - i, &len);
        if (!k) return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: bad length at byte %zu", i);
        i += k;
        if (len > n - i) goto trunc;
        if (field >= 1 && field <= 3) { kind = (int)field; inner_at = i; inner_len = (size_t)len; }
        i += (size_t)len;
        break;
      default:
        return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: wire type %u at byte %zu",
                       (unsigned)(tag & 7), i - k);
    }
    if (field >= 1 && field <= 3 && (tag & 7) != 2)
      return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: field %u is not a message", (unsigned)field);
    if (field == 0) return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: field number 0");
  }
  if (kind < 0) return rr__err(err, RR_ECORRUPT, "LogMsg has no message set");
  /* Protobuf would merge repeated occurrences of one oneof member; Rerun
   * never sends them, and a merged message has no single byte range, so the
   * last occurrence wins here. */
  return rr_log_msg_decode_inner(kind, p + inner_at, inner_len, limits, out, err);
trunc:
  return rr__err(err, RR_ECORRUPT, "malformed LogMsg protobuf: truncated field at byte %zu", i);
}
