/* The Arrow content of the golden files, decoded through the RRD decoder
 * and the Arrow IPC reader: one Points3D chunk at /points, two points
 * (1,2,3) and (4,5,6), colours red and green, radius 0.5, timeline at 3
 * (or none for static.rrd), per the golden README. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/rr_arrow.h"
#include "encoding/rr_encoding.h"

#define GOLDEN RR_SOURCE_DIR "/../shared/golden/rrd"

struct expect {
  const char *file;
  const char *timeline;   /* NULL: static */
  const char *format;     /* index column format prefix */
};

static const struct expect FILES[] = {
    {"plain", "frame", "l"},        {"lz4", "frame", "l"},          {"static", NULL, NULL},
    {"durtime", "elapsed", "tDn"},  {"tstime", "wall", "tsn:"},     {"nosorbet", "frame", "l"},
    {"barerowid", "frame", "l"},    {"nostoreinfo", "frame", "l"},  {"concat_footer", "frame", "l"},
    {"concat_noend", "frame", "l"},
};

struct arrows {
  size_t n;
  uint8_t *ipc[8];
  size_t len[8];
  rr_tuid chunk_id[8];
  bool has_chunk_id[8];
};

static int collect(void *ud, rr_log_msg *m, const rr_error *err) {
  struct arrows *a = ud;
  if (!m) fail_msg("decode error: %s", err->msg);
  if (m->kind == RR_MSG_ARROW) {
    assert_true(a->n < 8);
    a->has_chunk_id[a->n] = m->arrow.has_chunk_id;
    a->chunk_id[a->n] = m->arrow.chunk_id;
    a->ipc[a->n] = rr_log_msg_take_ipc(m, &a->len[a->n]);
    a->n++;
  }
  rr_log_msg_free(m);
  return 0;
}

static const struct ArrowSchema *child(const struct ArrowSchema *s, const char *name, int64_t *idx) {
  for (int64_t i = 0; i < s->n_children; i++)
    if (!strcmp(s->children[i]->name, name)) { *idx = i; return s->children[i]; }
  fail_msg("no column %s", name);
  return NULL;
}

static bool meta_is(const char *metadata, const char *key, const char *value) {
  rr_str v;
  if (rr_arrow_metadata_get(metadata, key, &v) != RR_OK) return false;
  return v.len == strlen(value) && !memcmp(v.ptr, value, v.len);
}

static void check_chunk(const struct expect *t, const uint8_t *ipc, size_t len, bool has_id, rr_tuid id) {
  struct ArrowSchema s;
  struct ArrowArray b;
  rr_error err = {0};
  int rc = rr_arrow_ipc_read(ipc, len, NULL, NULL, &s, &b, &err);
  if (rc != RR_OK) fail_msg("%s: %s", t->file, err.msg);
  assert_true(meta_is(s.metadata, "rerun:entity_path", "/points"));
  assert_int_equal(meta_is(s.metadata, "sorbet:version", "0.1.3"), strcmp(t->file, "nosorbet") != 0);
  if (has_id) {
    char hex[33], want[40];
    rr__tuid_format(id, hex);
    snprintf(want, sizeof want, "chunk_%s", hex);
    assert_true(meta_is(s.metadata, "rerun:id", want));
  }
  assert_int_equal(b.length, 1);
  /* RowId first, then the index column (if any), then 3 components */
  assert_int_equal(s.n_children, t->timeline ? 5 : 4);
  assert_string_equal(s.children[0]->name, "rerun.controls.RowId");
  assert_string_equal(s.children[0]->format, "w:16");
  int64_t k;
  if (t->timeline) {
    const struct ArrowSchema *tl = child(&s, t->timeline, &k);
    assert_int_equal(k, 1);
    assert_true(meta_is(tl->metadata, "rerun:kind", "index"));
    assert_memory_equal(tl->format, t->format, strlen(t->format));
    const struct ArrowArray *a = b.children[k];
    assert_int_equal(a->null_count, 0);
    int64_t v = ((const int64_t *)a->buffers[1])[a->offset];
    /* the README gives the value of the sequence timeline only */
    if (!strcmp(t->timeline, "frame")) assert_int_equal(v, 3);
    else assert_true(v > 0);
  }
  for (int64_t i = 1; i < s.n_children; i++) {
    rr_str v;
    bool is_index = rr_arrow_metadata_get(s.children[i]->metadata, "rerun:kind", &v) == RR_OK &&
                    v.len == 5 && !memcmp(v.ptr, "index", 5);
    assert_int_equal(is_index, t->timeline != NULL && i == 1);
  }

  /* positions: List<FixedSizeList<3, f32>> = [(1,2,3), (4,5,6)] */
  const struct ArrowSchema *ps = child(&s, "Points3D:positions", &k);
  assert_string_equal(ps->format, "+l");
  assert_string_equal(ps->children[0]->format, "+w:3");
  const struct ArrowArray *pl = b.children[k];
  const int32_t *off = (const int32_t *)pl->buffers[1] + pl->offset;
  assert_int_equal(off[1] - off[0], 2);
  const struct ArrowArray *fsl = pl->children[0];
  const struct ArrowArray *fl = fsl->children[0];
  const float *xyz = (const float *)fl->buffers[1] + fl->offset + 3 * (fsl->offset + off[0]);
  for (int i = 0; i < 6; i++) assert_true(xyz[i] == (float)(i + 1));

  /* colors: List<u32> = [0xFF0000FF, 0x00FF00FF] */
  const struct ArrowSchema *cs = child(&s, "Points3D:colors", &k);
  assert_string_equal(cs->children[0]->format, "I");
  const struct ArrowArray *cl = b.children[k];
  off = (const int32_t *)cl->buffers[1] + cl->offset;
  assert_int_equal(off[1] - off[0], 2);
  const uint32_t *col = (const uint32_t *)cl->children[0]->buffers[1] + cl->children[0]->offset + off[0];
  assert_int_equal(col[0], 0xFF0000FFu);
  assert_int_equal(col[1], 0x00FF00FFu);

  /* radii: List<f32> = [0.5] (a splat) */
  const struct ArrowSchema *rs = child(&s, "Points3D:radii", &k);
  assert_string_equal(rs->children[0]->format, "f");
  const struct ArrowArray *rl = b.children[k];
  off = (const int32_t *)rl->buffers[1] + rl->offset;
  assert_int_equal(off[1] - off[0], 1);
  assert_true(((const float *)rl->children[0]->buffers[1])[rl->children[0]->offset + off[0]] == 0.5f);

  b.release(&b);
  s.release(&s);
}

static void test_golden_arrow_content(void **state) {
  for (size_t f = 0; f < sizeof FILES / sizeof *FILES; f++) {
    char path[512];
    snprintf(path, sizeof path, GOLDEN "/%s.rrd", FILES[f].file);
    struct arrows a;
    memset(&a, 0, sizeof a);
    rr_error err = {0};
    assert_int_equal(rr_rrd_read_path(path, NULL, collect, &a, &err), RR_OK);
    assert_int_equal(a.n, strncmp(FILES[f].file, "concat", 6) ? 1 : 2);
    for (size_t i = 0; i < a.n; i++) {
      check_chunk(&FILES[f], a.ipc[i], a.len[i], a.has_chunk_id[i], a.chunk_id[i]);
      rr__blocks_free(a.ipc[i]);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden_arrow_content)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
