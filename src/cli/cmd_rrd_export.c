/* `rerun rrd export`: a dataframe query written as CSV, JSON lines or an
 * Arrow IPC file. Public headers only. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rerun/query.h"
#include "rerun/store.h"

int rr_cli_rrd_export(int argc, char **argv);

static const char HELP[] =
    "Usage: rerun rrd export --index TIMELINE [OPTIONS] [FILE ...]\n\n"
    "Runs a dataframe query over the first recording of the inputs and writes it out:\n"
    "one row per distinct time of TIMELINE, one column per entity and component.\n\n"
    "Options:\n"
    "  --index T             the index timeline (default: the first timeline, by name)\n"
    "  --from A, --to B      time range (inclusive; default: everything)\n"
    "  -e, --entity GLOB     entities to include (repeatable; '*' one part, '**' any)\n"
    "  -c, --component C     components to include, e.g. Scalars:scalars or scalars (repeatable)\n"
    "  --fill-latest-at      fill empty cells with the latest value at that time\n"
    "  --format F            csv (default), jsonl, or arrow (an Arrow IPC file)\n"
    "  -o, --output FILE     write to FILE instead of standard output\n\n"
    "CSV and JSON cells: a single instance is written as its value, several as a list\n"
    "[a, b], an empty list as [] (JSON) or an empty field (CSV), a missing value as\n"
    "null (JSON) or an empty field (CSV).\n";

static int write_file(void *ud, const void *p, size_t n) { return fwrite(p, 1, n, ud) == n ? RR_OK : RR_EIO; }

static void csv_field(FILE *f, const char *s) {
  bool quote = strpbrk(s, ",\"\n\r") != NULL;
  if (!quote) { fputs(s, f); return; }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* One cell: the list at row i of a List column. */
static char *cell(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i, int style, bool *empty) {
  *empty = false;
  bool valid = a->null_count == 0 || !a->buffers[0] ||
               ((((const uint8_t *)a->buffers[0])[(i + a->offset) >> 3] >> ((i + a->offset) & 7)) & 1);
  if (!valid) { *empty = true; return NULL; }
  const int32_t *o = a->buffers[1];
  int64_t from = o[i + a->offset], to = o[i + a->offset + 1];
  if (to - from == 1) return rr_format_value(s->children[0], a->children[0], from, style);
  if (to == from && style != RR_FORMAT_JSON) { *empty = true; return NULL; }
  return rr_format_value(s, a, i, style);
}

int rr_cli_rrd_export(int argc, char **argv) {
  const char *inputs[256], *ents[64], *comps[64];
  int n_in = 0, n_e = 0, n_c = 0;
  const char *index = NULL, *format = "csv", *output = NULL;
  int64_t from = INT64_MIN, to = INT64_MAX;
  bool fill = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = !strcmp(a, "--index") || !strcmp(a, "--timeline") || !strcmp(a, "--from") || !strcmp(a, "--to") ||
                 !strcmp(a, "-e") || !strcmp(a, "--entity") || !strcmp(a, "-c") || !strcmp(a, "--component") ||
                 !strcmp(a, "--format") || !strcmp(a, "-o") || !strcmp(a, "--output");
    if (takes && !next) { fprintf(stderr, "rerun rrd export: missing value after %s\n", a); return 2; }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(HELP, stdout); return 0; }
    else if (!strcmp(a, "--index") || !strcmp(a, "--timeline")) index = next;
    else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
      char *end;
      errno = 0;
      long long v = strtoll(next, &end, 10);
      if (errno || *end || end == next) { fprintf(stderr, "rerun rrd export: bad %s %s\n", a, next); return 2; }
      if (!strcmp(a, "--from")) from = v; else to = v;
    } else if (!strcmp(a, "-e") || !strcmp(a, "--entity")) { if (n_e < 64) ents[n_e++] = next; }
    else if (!strcmp(a, "-c") || !strcmp(a, "--component")) { if (n_c < 64) comps[n_c++] = next; }
    else if (!strcmp(a, "--format")) format = next;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) output = next;
    else if (!strcmp(a, "--fill-latest-at")) { fill = true; continue; }
    else if (a[0] == '-' && a[1]) { fprintf(stderr, "rerun rrd export: unknown option %s\n", a); return 2; }
    else { if (n_in < 256) inputs[n_in++] = a; continue; }
    i++;
  }
  int style;
  if (!strcmp(format, "csv")) style = 0;
  else if (!strcmp(format, "jsonl") || !strcmp(format, "json")) style = 1;
  else if (!strcmp(format, "arrow") || !strcmp(format, "ipc")) style = 2;
  else { fprintf(stderr, "rerun rrd export: unknown format '%s' (csv, jsonl, arrow)\n", format); return 2; }
  if (!n_in) inputs[n_in++] = "-";

  rr_store_hub *h = NULL;
  if (rr_store_hub_new(&h, NULL) < 0) return 1;
  for (int i = 0; i < n_in; i++) {
    rr_error e = {0, ""};
    if (rr_store_hub_load_path(h, inputs[i], &e) < 0) {
      fprintf(stderr, "rerun rrd export: %s: %s\n", inputs[i], e.msg);
      rr_store_hub_free(h);
      return 1;
    }
  }
  rr_store *s = NULL;
  for (size_t i = 0; i < rr_store_hub_count(h) && !s; i++) {
    rr_store_info in;
    rr_store_get_info(rr_store_hub_at(h, i), &in);
    if (in.kind == RR_STORE_RECORDING) s = rr_store_hub_at(h, i);
  }
  if (!s) { fprintf(stderr, "rerun rrd export: no recording in the input\n"); rr_store_hub_free(h); return 1; }
  if (!index) {
    rr_timeline_info tl[64];
    size_t n = rr_store_timelines(s, tl, 64);
    for (size_t i = 0; i < n && i < 64; i++)
      if (!index || strcmp(tl[i].name, index) < 0) index = tl[i].name;
    if (!index) { fprintf(stderr, "rerun rrd export: the recording has no timeline; give --index\n"); rr_store_hub_free(h); return 1; }
  }
  rr_dataframe_options o = {0};
  o.index = index;
  o.time_min = from;
  o.time_max = to;
  o.entities = ents;
  o.n_entities = (size_t)n_e;
  o.components = comps;
  o.n_components = (size_t)n_c;
  o.fill_latest_at = fill;
  rr_dataframe_query *q = NULL;
  rr_error e = {0, ""};
  if (rr_query_dataframe_new(&q, s, &o, &e) < 0) {
    fprintf(stderr, "rerun rrd export: %s\n", e.msg);
    rr_store_hub_free(h);
    return 1;
  }
  FILE *f = output && strcmp(output, "-") ? fopen(output, "wb") : stdout;
  if (!f) {
    fprintf(stderr, "rerun rrd export: cannot write %s: %s\n", output, strerror(errno));
    rr_query_dataframe_free(q);
    rr_store_hub_free(h);
    return 1;
  }
  int code = 0;
  struct ArrowSchema sc;
  memset(&sc, 0, sizeof sc);
  rr_ipc_file_writer *w = NULL;
  if (rr_query_dataframe_schema(q, &sc) < 0) code = 1;
  if (!code && style == 0) {
    for (int64_t c = 0; c < sc.n_children; c++) {
      if (c) fputc(',', f);
      csv_field(f, sc.children[c]->name);
    }
    fputc('\n', f);
  }
  if (!code && style == 2 && rr_ipc_file_writer_new(&w, &sc, write_file, f, &e) < 0) {
    fprintf(stderr, "rerun rrd export: %s\n", e.msg);
    code = 1;
  }
  while (!code) {
    struct ArrowSchema bs;
    struct ArrowArray b;
    int rc = rr_query_dataframe_next(q, &bs, &b, &e);
    if (rc == RR_EEOF) break;
    if (rc < 0) { fprintf(stderr, "rerun rrd export: %s\n", e.msg); code = 1; break; }
    if (style == 2) {
      if (rr_ipc_file_writer_add(w, &b, &e) < 0) { fprintf(stderr, "rerun rrd export: %s\n", e.msg); code = 1; }
    } else {
      for (int64_t r = 0; r < b.length; r++) {
        if (style == 1) fputc('{', f);
        for (int64_t c = 0; c < bs.n_children; c++) {
          bool empty = false;
          char *v = c == 0 ? rr_format_value(bs.children[0], b.children[0], r, style) : cell(bs.children[c], b.children[c], r, style, &empty);
          if (style == 0) {
            if (c) fputc(',', f);
            if (v) csv_field(f, v);
          } else {
            if (c) fputs(", ", f);
            json_string(f, bs.children[c]->name);
            fputs(": ", f);
            fputs(v ? v : "null", f);
          }
          rr_string_free(v);
        }
        fputs(style == 1 ? "}\n" : "\n", f);
      }
    }
    b.release(&b);
    bs.release(&bs);
  }
  if (!code && w && rr_ipc_file_writer_finish(w, &e) < 0) { fprintf(stderr, "rerun rrd export: %s\n", e.msg); code = 1; }
  rr_ipc_file_writer_free(w);
  if (sc.release) sc.release(&sc);
  rr_query_dataframe_free(q);
  rr_store_hub_free(h);
  if (fflush(f) != 0 || ferror(f)) code = 1;
  if (f != stdout) fclose(f);
  return code;
}
