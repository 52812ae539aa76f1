/* Test driver for the arrow layer, used by tests/js/arrow.test.mjs and to
 * make fuzz seeds:
 *   arrow_tool list                 sample names, one per line
 *   arrow_tool write NAME [ALIGN]   IPC stream of sample NAME on stdout
 *   arrow_tool dump NAME            sample NAME as JSON (from memory, no IPC)
 *   arrow_tool read                 reads an IPC stream from stdin, prints JSON
 * JSON: {"metadata":{..},"fields":[{name,format,nullable,metadata,children}],
 * "length":N,"columns":[[v,...],...]}. Values: null slots -> null; 64-bit
 * integers and time values as decimal strings; f16 as its raw u16; binary as
 * hex; lists as arrays; structs as arrays of child values; dense unions as
 * {"type":id,"value":v}. */
#include <stdio.h>
#include <stdlib.h>

#include "arrow/rr_arrow.h"

#define CHECK(x)                                                              \
  do {                                                                        \
    int rc_ = (x);                                                            \
    if (rc_ != RR_OK) {                                                       \
      fprintf(stderr, "arrow_tool: %s failed: %d\n", #x, rc_);                \
      exit(2);                                                                \
    }                                                                         \
  } while (0)

/* ---- samples ---------------------------------------------------------------- */

static struct ArrowSchema *mk(struct ArrowSchema *s, const char *fmt, const char *name, bool nullable, int64_t n) {
  CHECK(rr_arrow_schema_init(s, fmt, name, nullable ? ARROW_FLAG_NULLABLE : 0, n));
  return s;
}

static void md(struct ArrowSchema *s, const char *k1, const char *v1, const char *k2, const char *v2) {
  rr_arrow_kv kv[2] = {{{k1, strlen(k1)}, {v1, strlen(v1)}}, {{k2, strlen(k2)}, {v2, strlen(v2)}}};
  CHECK(rr_arrow_schema_set_metadata(s, kv, 2));
}

static int width(const char *f) {
  switch (f[0]) {
    case 'c': case 'C': return 1;
    case 's': case 'S': case 'e': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'l': case 'L': case 'g': return 8;
    case 'w': return atoi(f + 2);
    case 't': return (f[1] == 'd' && f[2] == 'D') || (f[1] == 't' && (f[2] == 's' || f[2] == 'm')) ? 4 : 8;
    default: return 0;
  }
}

static uint32_t rnd(uint32_t *st) {
  *st = *st * 1103515245u + 12345u;
  return *st >> 8;
}

static void fill_one(rr_arrow_builder *b, const struct ArrowSchema *s, uint32_t *st) {
  const char *f = s->format;
  bool null = (s->flags & ARROW_FLAG_NULLABLE) && rnd(st) % 4 == 0 && strncmp(f, "+ud", 3);
  int w = width(f);
  if (!strcmp(f, "n") || null) {
    CHECK(rr_arrow_builder_append_nulls(b, 1));
  } else if (!strcmp(f, "b")) {
    uint8_t v = rnd(st) & 1;
    CHECK(rr_arrow_builder_append_values(b, &v, 1));
  } else if (w) {
    uint8_t v[64];
    for (int i = 0; i < w; i++) v[i] = (uint8_t)rnd(st);
    if (f[0] == 'e') v[1] &= 0x3b;
    if (f[0] == 'f') v[3] &= 0x3f;
    if (f[0] == 'g') v[7] &= 0x3f;
    if (f[0] == 't' && w == 8) v[7] &= 0x0f; /* keep times in a sane range */
    if (f[0] == 't' && f[1] == 't') { uint32_t ms = rnd(st) % 86400000u; memcpy(v, &ms, 4); memset(v + 4, 0, 4); }
    if (f[0] == 't' && f[1] == 'd') { int32_t d = (int32_t)(rnd(st) % 40000); memcpy(v, &d, 4); }
    CHECK(rr_arrow_builder_append_values(b, v, 1));
  } else if (!strcmp(f, "u")) {
    static const char *const words[] = {"", "a", "h\xc3\xa9llo", "\xe2\x82\xac", "world!", "\xf0\x9f\x98\x80x"};
    const char *wd = words[rnd(st) % 6];
    CHECK(rr_arrow_builder_append_bytes(b, wd, strlen(wd)));
  } else if (!strcmp(f, "z")) {
    uint8_t v[9];
    size_t n = rnd(st) % 10;
    for (size_t i = 0; i < n; i++) v[i] = (uint8_t)rnd(st);
    CHECK(rr_arrow_builder_append_bytes(b, v, n));
  } else if (!strcmp(f, "+l")) {
    int n = (int)(rnd(st) % 4);
    for (int i = 0; i < n; i++) fill_one(rr_arrow_builder_child(b, 0), s->children[0], st);
    CHECK(rr_arrow_builder_list_finish(b));
  } else if (!strncmp(f, "+w:", 3)) {
    int m = atoi(f + 3), cw = width(s->children[0]->format);
    uint8_t v[256];
    for (int i = 0; i < m * cw; i++) v[i] = (uint8_t)(rnd(st) & 0x3f);
    CHECK(rr_arrow_builder_append_values(b, v, 1));
  } else if (!strcmp(f, "+s")) {
    for (int64_t c = 0; c < s->n_children; c++) fill_one(rr_arrow_builder_child(b, c), s->children[c], st);
    CHECK(rr_arrow_builder_struct_append_valid(b, 1));
  } else if (!strncmp(f, "+ud:", 4)) {
    int c = (int)(rnd(st) % (uint32_t)s->n_children);
    const char *p = f + 4;
    for (int i = 0; i < c; i++) p = strchr(p, ',') + 1;
    CHECK(rr_arrow_builder_union_append(b, (int8_t)atoi(p)));
    fill_one(rr_arrow_builder_child(b, c), s->children[c], st);
  }
}

static void all_types_schema(struct ArrowSchema *s) {
  static const char *const prims[] = {"c", "C", "s", "S", "i", "I", "l", "L", "e", "f", "g", "b", "u", "z",
                                      "w:4", "n", "tDn", "tDs", "tsn:", "tsn:UTC", "tsm:", "tdD", "ttm", "ttn"};
  int np = (int)(sizeof prims / sizeof prims[0]);
  mk(s, "+s", "", false, np + 7);
  char name[32];
  for (int i = 0; i < np; i++) {
    snprintf(name, sizeof name, "p_%s", prims[i]);
    mk(s->children[i], prims[i], name, i % 2 == 0 || !strcmp(prims[i], "n"), 0);
  }
  struct ArrowSchema *c = mk(s->children[np], "+l", "list_fsl", true, 1);
  mk(mk(c->children[0], "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
  c = mk(s->children[np + 1], "+l", "list_struct", true, 1);
  struct ArrowSchema *st = mk(c->children[0], "+s", "item", true, 2);
  mk(st->children[0], "i", "a", false, 0);
  mk(st->children[1], "u", "b", true, 0);
  c = mk(s->children[np + 2], "+s", "struct_nullable", true, 3);
  mk(c->children[0], "g", "x", true, 0);
  mk(c->children[1], "b", "y", true, 0);
  mk(c->children[2], "w:16", "z", false, 0);
  c = mk(s->children[np + 3], "+ud:0,1,5", "dense_union", false, 3);
  mk(c->children[0], "n", "_null_markers", true, 0);
  mk(c->children[1], "g", "F64", false, 0);
  mk(c->children[2], "u", "Str", false, 0);
  c = mk(s->children[np + 4], "+l", "list_utf8", true, 1);
  mk(c->children[0], "u", "item", true, 0);
  c = mk(s->children[np + 5], "+l", "list_list_fsl", true, 1);
  c = mk(c->children[0], "+l", "item", true, 1);
  c = mk(c->children[0], "+w:2", "item", false, 1);
  mk(c->children[0], "f", "item", false, 0);
  c = mk(s->children[np + 6], "+w:2", "fsl_i16", true, 1);
  mk(c->children[0], "s", "item", true, 0);
  md(s, "rerun:entity_path", "/all/types", "empty", "");
  md(s->children[0], "ARROW:extension:name", "x.y", "k", "v\xc3\xa9");
}

static void spec_schema(struct ArrowSchema *s) {
  mk(s, "+s", "", false, 3);
  md(s, "rerun:entity_path", "/points", "sorbet:version", "0.1.3");
  md(mk(s->children[0], "w:16", "rerun.controls.RowId", false, 0), "rerun:kind", "control", "ARROW:extension:name",
     "rerun.datatypes.TUID");
  mk(s->children[1], "l", "frame", true, 0);
  struct ArrowSchema *pos = mk(s->children[2], "+l", "Points3D:positions", true, 1);
  mk(mk(pos->children[0], "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
}

static void fill(const struct ArrowSchema *s, int64_t rows, uint32_t seed, struct ArrowArray *out) {
  rr_arrow_builder *b;
  CHECK(rr_arrow_builder_new(&b, s));
  uint32_t st = seed;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < s->n_children; c++) fill_one(rr_arrow_builder_child(b, c), s->children[c], &st);
    CHECK(rr_arrow_builder_struct_append_valid(b, 1));
  }
  CHECK(rr_arrow_builder_finish(b, out));
  rr_arrow_builder_free(b);
}

static const char *const samples[] = {"spec", "all", "all_sliced", "empty", "single"};

static bool make_sample(const char *name, struct ArrowSchema *s, struct ArrowArray *a) {
  if (!strcmp(name, "spec")) {
    spec_schema(s);
    fill(s, 5, 3, a);
  } else if (!strcmp(name, "all")) {
    all_types_schema(s);
    fill(s, 37, 42, a);
  } else if (!strcmp(name, "all_sliced")) {
    all_types_schema(s);
    fill(s, 40, 17, a);
    a->offset = 3; /* bitmaps shifted, offsets rebased */
    a->length = 29;
  } else if (!strcmp(name, "empty")) {
    all_types_schema(s);
    fill(s, 0, 1, a);
  } else if (!strcmp(name, "single")) {
    all_types_schema(s);
    fill(s, 1, 5, a);
  } else {
    return false;
  }
  return true;
}

/* ---- JSON ------------------------------------------------------------------- */

static void json_str(const char *p, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20) printf("\\u%04x", ch);
    else putchar(ch);
  }
  putchar('"');
}

static void json_metadata(const char *m) {
  putchar('{');
  for (int64_t i = 0; i < rr_arrow_metadata_count(m); i++) {
    rr_arrow_kv kv;
    rr_arrow_metadata_at(m, i, &kv);
    if (i) putchar(',');
    json_str(kv.key.ptr, kv.key.len);
    putchar(':');
    json_str(kv.value.ptr, kv.value.len);
  }
  putchar('}');
}

static void json_field(const struct ArrowSchema *s) {
  printf("{\"name\":");
  json_str(s->name, strlen(s->name));
  printf(",\"format\":");
  json_str(s->format, strlen(s->format));
  printf(",\"nullable\":%s,\"metadata\":", (s->flags & ARROW_FLAG_NULLABLE) ? "true" : "false");
  json_metadata(s->metadata);
  printf(",\"children\":[");
  for (int64_t i = 0; i < s->n_children; i++) {
    if (i) putchar(',');
    json_field(s->children[i]);
  }
  printf("]}");
}

static void json_value(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i) {
  const char *f = s->format;
  int64_t p = a->offset + i;
  bool isnull = !strcmp(f, "n") ||
                (strncmp(f, "+ud", 3) && a->buffers[0] && !((((const uint8_t *)a->buffers[0])[p >> 3] >> (p & 7)) & 1));
  if (isnull) { printf("null"); return; }
  const uint8_t *v = a->n_buffers > 1 ? a->buffers[1] : NULL;
  switch (f[0]) {
    case 'c': printf("%d", ((const int8_t *)v)[p]); return;
    case 'C': printf("%u", v[p]); return;
    case 's': printf("%d", ((const int16_t *)v)[p]); return;
    case 'S': case 'e': printf("%u", ((const uint16_t *)v)[p]); return;
    case 'i': printf("%d", ((const int32_t *)v)[p]); return;
    case 'I': printf("%u", ((const uint32_t *)v)[p]); return;
    case 'l': printf("\"%lld\"", (long long)((const int64_t *)v)[p]); return;
    case 'L': printf("\"%llu\"", (unsigned long long)((const uint64_t *)v)[p]); return;
    case 'f': printf("%.17g", (double)((const float *)v)[p]); return;
    case 'g': printf("%.17g", ((const double *)v)[p]); return;
    case 'b': printf((v[p >> 3] >> (p & 7)) & 1 ? "true" : "false"); return;
    case 't':
      if (width(f) == 4) printf("%d", ((const int32_t *)v)[p]);
      else printf("\"%lld\"", (long long)((const int64_t *)v)[p]);
      return;
    case 'u': case 'z': {
      const int32_t *o = (const int32_t *)v;
      const char *d = a->buffers[2];
      if (f[0] == 'u') { json_str(d + o[p], (size_t)(o[p + 1] - o[p])); return; }
      putchar('"');
      for (int32_t k = o[p]; k < o[p + 1]; k++) printf("%02x", (unsigned char)d[k]);
      putchar('"');
      return;
    }
    case 'w': {
      int w = width(f);
      putchar('"');
      for (int k = 0; k < w; k++) printf("%02x", v[p * w + k]);
      putchar('"');
      return;
    }
    default: break;
  }
  if (!strcmp(f, "+l") || !strncmp(f, "+w:", 3)) {
    int64_t start, end;
    if (f[1] == 'l') {
      start = ((const int32_t *)v)[p];
      end = ((const int32_t *)v)[p + 1];
    } else {
      start = p * atoi(f + 3);
      end = start + atoi(f + 3);
    }
    putchar('[');
    for (int64_t k = start; k < end; k++) {
      if (k > start) putchar(',');
      json_value(s->children[0], a->children[0], k);
    }
    putchar(']');
  } else if (!strcmp(f, "+s")) {
    putchar('[');
    for (int64_t c = 0; c < s->n_children; c++) {
      if (c) putchar(',');
      json_value(s->children[c], a->children[c], p);
    }
    putchar(']');
  } else if (!strncmp(f, "+ud:", 4)) {
    int8_t id = ((const int8_t *)a->buffers[0])[p];
    int32_t off = ((const int32_t *)a->buffers[1])[p];
    int c = 0;
    const char *q = f + 4;
    while (atoi(q) != id) { q = strchr(q, ',') + 1; c++; }
    printf("{\"type\":%d,\"value\":", id);
    json_value(s->children[c], a->children[c], off);
    putchar('}');
  }
}

static void json_batch(const struct ArrowSchema *s, const struct ArrowArray *a) {
  printf("{\"metadata\":");
  json_metadata(s->metadata);
  printf(",\"fields\":[");
  for (int64_t i = 0; i < s->n_children; i++) {
    if (i) putchar(',');
    json_field(s->children[i]);
  }
  printf("],\"length\":%lld,\"columns\":[", (long long)a->length);
  for (int64_t c = 0; c < s->n_children; c++) {
    if (c) putchar(',');
    putchar('[');
    for (int64_t i = 0; i < a->length; i++) {
      if (i) putchar(',');
      json_value(s->children[c], a->children[c], a->offset + i);
    }
    putchar(']');
  }
  printf("]}\n");
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "list")) {
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) puts(samples[i]);
    return 0;
  }
  if (argc >= 3 && (!strcmp(argv[1], "write") || !strcmp(argv[1], "dump"))) {
    struct ArrowSchema s;
    struct ArrowArray a;
    if (!make_sample(argv[2], &s, &a)) { fprintf(stderr, "arrow_tool: no sample %s\n", argv[2]); return 2; }
    rr_error err = {0};
    if (rr_arrow_array_validate(&a, &s, &err) != RR_OK) { fprintf(stderr, "invalid sample: %s\n", err.msg); return 1; }
    if (!strcmp(argv[1], "dump")) {
      json_batch(&s, &a);
    } else {
      rr_buf out = RR_BUF_INIT;
      if (rr_arrow_ipc_write(&out, &s, &a, argc >= 4 ? atoi(argv[3]) : 8, &err) != RR_OK) {
        fprintf(stderr, "arrow_tool: %s\n", err.msg);
        return 1;
      }
      fwrite(out.data, 1, out.len, stdout);
      rr_buf_free(&out);
    }
    a.release(&a);
    s.release(&s);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "read")) {
    rr_buf in = RR_BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, stdin)) > 0) CHECK(rr_buf_append(&in, tmp, n));
    struct ArrowSchema s;
    struct ArrowArray a;
    rr_error err = {0};
    int rc = rr_arrow_ipc_read(in.data, in.len, NULL, NULL, &s, &a, &err);
    rr_buf_free(&in);
    if (rc != RR_OK) { fprintf(stderr, "arrow_tool: %s (%s)\n", err.msg, rr_err_name(rc)); return 1; }
    json_batch(&s, &a);
    a.release(&a);
    s.release(&s);
    return 0;
  }
  fprintf(stderr, "usage: arrow_tool list | write NAME [ALIGN] | dump NAME | read < stream\n");
  return 2;
}
