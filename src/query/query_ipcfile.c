/* Arrow IPC *file* format writer on top of the arrow layer's stream writer:
 * "ARROW1\0\0", the stream's Schema and RecordBatch messages, the EOS
 * marker, a Footer flatbuffer (version V5, the schema, one Block per
 * batch), its int32 length and "ARROW1".
 *
 * The footer's Schema table is the schema message's own flatbuffer copied
 * verbatim (8-byte aligned), so every relative offset inside it stays
 * valid; the Footer table points at the Schema table inside that copy. */
#include "arrow/rr_arrow.h"
#include "rerun/query.h"

struct block { uint64_t offset; int32_t meta_len; int64_t body_len; };

struct rr_ipc_file_writer {
  struct ArrowSchema schema;
  rr_write_fn write;
  void *ud;
  uint64_t pos;
  uint8_t *schema_fb; /* the schema message's flatbuffer */
  size_t schema_fb_len;
  bool started;
  struct block *blocks;
  size_t n_blocks, cap_blocks;
  rr_buf tmp;
};

static int out(rr_ipc_file_writer *w, const void *p, size_t n, rr_error *err) {
  int rc = w->write(w->ud, p, n);
  if (rc < 0) return rr__err(err, rc, "arrow file: write failed");
  w->pos += n;
  return RR_OK;
}

int rr_ipc_file_writer_new(rr_ipc_file_writer **o, const struct ArrowSchema *schema, rr_write_fn write, void *ud,
                           rr_error *err) {
  if (!o || !schema || !write) return rr__err(err, RR_EINVAL, "arrow file: NULL argument");
  rr_ipc_file_writer *w = rr__calloc(1, sizeof *w);
  if (!w) return rr__err(err, RR_ENOMEM, "out of memory");
  int rc = rr_arrow_schema_copy(&w->schema, schema);
  if (rc < 0) { rr__free(w); return rr__err(err, rc, "out of memory"); }
  w->write = write;
  w->ud = ud;
  /* the schema message: from a schema-only stream */
  rr_buf b = RR_BUF_INIT;
  if ((rc = rr_arrow_ipc_write_schema(&b, schema, err)) < 0) goto fail;
  if (b.len < 8 || rr__get_u32le(b.data) != 0xFFFFFFFFu) { rc = rr__err(err, RR_EINTERNAL, "arrow file: unexpected stream"); goto fail; }
  uint32_t ml = rr__get_u32le(b.data + 4);
  if (8 + (size_t)ml > b.len) { rc = rr__err(err, RR_EINTERNAL, "arrow file: unexpected stream"); goto fail; }
  w->schema_fb = rr__malloc(ml);
  if (!w->schema_fb) { rc = rr__err(err, RR_ENOMEM, "out of memory"); goto fail; }
  memcpy(w->schema_fb, b.data + 8, ml);
  w->schema_fb_len = ml;
  static const uint8_t magic[8] = {'A', 'R', 'R', 'O', 'W', '1', 0, 0};
  if ((rc = out(w, magic, 8, err)) < 0 || (rc = out(w, b.data, 8 + ml, err)) < 0) goto fail;
  rr_buf_free(&b);
  *o = w;
  return RR_OK;
fail:
  rr_buf_free(&b);
  rr_ipc_file_writer_free(w);
  return rc;
}

int rr_ipc_file_writer_add(rr_ipc_file_writer *w, const struct ArrowArray *batch, rr_error *err) {
  rr_buf_reset(&w->tmp);
  RR_TRY(rr_arrow_ipc_write(&w->tmp, &w->schema, batch, 8, err));
  const uint8_t *p = w->tmp.data;
  size_t n = w->tmp.len;
  size_t s_len = 8 + (size_t)rr__get_u32le(p + 4); /* schema message: no body */
  if (s_len + 8 > n || rr__get_u32le(p + s_len) != 0xFFFFFFFFu)
    return rr__err(err, RR_EINTERNAL, "arrow file: unexpected stream");
  uint32_t ml = rr__get_u32le(p + s_len + 4);
  size_t msg_len = n - s_len - 8; /* minus the EOS marker */
  if (8 + (size_t)ml > msg_len) return rr__err(err, RR_EINTERNAL, "arrow file: unexpected stream");
  if (w->n_blocks == w->cap_blocks) {
    size_t nc = w->cap_blocks ? 2 * w->cap_blocks : 16;
    struct block *nb = rr__realloc(w->blocks, nc * sizeof *nb);
    if (!nb) return rr__err(err, RR_ENOMEM, "out of memory");
    w->blocks = nb;
    w->cap_blocks = nc;
  }
  w->blocks[w->n_blocks++] = (struct block){w->pos, (int32_t)(8 + ml), (int64_t)(msg_len - 8 - ml)};
  return out(w, p + s_len, msg_len, err);
}

/* Position of the Message's header table (field 2) in a Message flatbuffer. */
static int header_table(const uint8_t *fb, size_t n, size_t *pos) {
  if (n < 8) return RR_ECORRUPT;
  uint32_t root = rr__get_u32le(fb);
  if ((size_t)root + 4 > n) return RR_ECORRUPT;
  int32_t so = (int32_t)rr__get_u32le(fb + root);
  int64_t vt = (int64_t)root - so;
  if (vt < 0 || (size_t)vt + 4 > n) return RR_ECORRUPT;
  uint16_t vlen = (uint16_t)(fb[vt] | fb[vt + 1] << 8);
  if (vlen < 4 + 2 * 3 || (size_t)vt + vlen > n) return RR_ECORRUPT;
  uint16_t fo = (uint16_t)(fb[vt + 4 + 2 * 2] | fb[vt + 4 + 2 * 2 + 1] << 8);
  if (!fo || (size_t)root + fo + 4 > n) return RR_ECORRUPT;
  size_t at = root + fo;
  *pos = at + rr__get_u32le(fb + at);
  return *pos < n ? RR_OK : RR_ECORRUPT;
}

int rr_ipc_file_writer_finish(rr_ipc_file_writer *w, rr_error *err) {
  static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  RR_TRY(out(w, eos, 8, err));
  size_t sch;
  if (header_table(w->schema_fb, w->schema_fb_len, &sch) < 0)
    return rr__err(err, RR_EINTERNAL, "arrow file: cannot locate the schema table");
  rr_buf f = RR_BUF_INIT;
  size_t vec = 36, vec_end = vec + 4 + 24 * w->n_blocks;
  size_t msg = (vec_end + 7) & ~(size_t)7;
  size_t total = msg + w->schema_fb_len;
  int rc = rr_buf_append_zeros(&f, total);
  if (rc < 0) return rr__err(err, rc, "out of memory");
  uint8_t *b = f.data;
  rr__put_u32le(b, 16);                      /* root: the Footer table */
  /* vtable at 4: size 12, table size 16, version @12, schema @4, dicts absent, batches @8 */
  uint16_t vt[6] = {12, 16, 12, 4, 0, 8};
  for (int i = 0; i < 6; i++) { b[4 + 2 * i] = (uint8_t)vt[i]; b[5 + 2 * i] = (uint8_t)(vt[i] >> 8); }
  rr__put_u32le(b + 16, 12);                 /* soffset to the vtable */
  rr__put_u32le(b + 20, (uint32_t)(msg + sch - 20));
  rr__put_u32le(b + 24, (uint32_t)(vec - 24));
  b[28] = 4;                                 /* MetadataVersion V5 */
  rr__put_u32le(b + vec, (uint32_t)w->n_blocks);
  for (size_t i = 0; i < w->n_blocks; i++) {
    uint8_t *e = b + vec + 4 + 24 * i;
    rr__put_u64le(e, w->blocks[i].offset);
    rr__put_u32le(e + 8, (uint32_t)w->blocks[i].meta_len);
    rr__put_u64le(e + 16, (uint64_t)w->blocks[i].body_len);
  }
  memcpy(b + msg, w->schema_fb, w->schema_fb_len);
  uint8_t tail[10];
  rr__put_u32le(tail, (uint32_t)total);
  memcpy(tail + 4, "ARROW1", 6);
  rc = out(w, b, total, err);
  if (rc == RR_OK) rc = out(w, tail, 10, err);
  rr_buf_free(&f);
  return rc;
}

void rr_ipc_file_writer_free(rr_ipc_file_writer *w) {
  if (!w) return;
  if (w->schema.release) w->schema.release(&w->schema);
  rr__free(w->schema_fb);
  rr__free(w->blocks);
  rr_buf_free(&w->tmp);
  rr__free(w);
}
