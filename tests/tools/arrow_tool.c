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
#define SAMPLE_CHECK(expr) CHECK(expr)
#define SAMPLE_FAIL(...) (fprintf(stderr, "arrow_tool: " __VA_ARGS__), fputc('\n', stderr), exit(2))
#include "../common/arrow_samples.h"

/* ---- samples ---------------------------------------------------------------- */

static void spec_schema(struct ArrowSchema *s) {
  mk(s, "+s", "", false, 3);
  set_md(s, "rerun:entity_path", "/points", "sorbet:version", "0.1.3");
  set_md(mk(s->children[0], "w:16", "rerun.controls.RowId", false, 0), "rerun:kind", "control", "ARROW:extension:name",
     "rerun.datatypes.TUID");
  mk(s->children[1], "l", "frame", true, 0);
  struct ArrowSchema *pos = mk(s->children[2], "+l", "Points3D:positions", true, 1);
  mk(mk(pos->children[0], "+w:3", "item", true, 1)->children[0], "f", "item", false, 0);
}

static const char *const samples[] = {"spec", "all", "all_sliced", "empty", "single"};

static bool make_sample(const char *name, struct ArrowSchema *s, struct ArrowArray *a) {
  if (!strcmp(name, "spec")) {
    spec_schema(s);
    fill_batch(s, 5, 3, a);
  } else if (!strcmp(name, "all")) {
    all_types_schema(s);
    fill_batch(s, 37, 42, a);
  } else if (!strcmp(name, "all_sliced")) {
    all_types_schema(s);
    fill_batch(s, 40, 17, a);
    a->offset = 3; /* bitmaps shifted, offsets rebased */
    a->length = 29;
  } else if (!strcmp(name, "empty")) {
    all_types_schema(s);
    fill_batch(s, 0, 1, a);
  } else if (!strcmp(name, "single")) {
    all_types_schema(s);
    fill_batch(s, 1, 5, a);
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
      if (fixed_width(f) == 4) printf("%d", ((const int32_t *)v)[p]);
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
      int w = fixed_width(f);
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
