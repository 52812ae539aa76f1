/* `rerun rrd …`: tools over .rrd files (docs/cli/rrd.md). Public headers only. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rerun/query.h"
#include "rerun/store.h"

static const char USAGE[] =
    "Usage: rerun rrd <COMMAND> [OPTIONS] [FILE ...]\n"
    "\n"
    "Tools for .rrd files. FILE '-' (or no FILE) reads standard input; output goes to\n"
    "standard output unless -o FILE is given.\n"
    "\n"
    "Commands:\n"
    "  print    stores, entities, chunks and their schemas (-v: also the values)\n"
    "  stats    bytes, rows and chunks per entity, component and timeline\n"
    "  verify   decode everything; exit 1 with the first problem\n"
    "  merge    merge files into one .rrd stream\n"
    "  compact  re-chunk with the compaction thresholds (--max-rows, --max-bytes)\n"
    "  filter   keep entities matching --entity GLOB, rows in --timeline T --from A --to B,\n"
    "           --drop-static / --drop-temporal\n"
    "  export   a dataframe query as CSV, JSON lines or an Arrow IPC file\n"
    "\n"
    "Run 'rerun rrd <COMMAND> --help' for the options of a command.\n";

/* ---- argument helpers ----------------------------------------------------- */

typedef struct opts {
  const char *inputs[256];
  int n_inputs;
  const char *output;
  int verbose;
  bool lz4;
  int64_t max_rows, max_bytes;
  const char *entities[64];
  int n_entities;
  const char *components[64];
  int n_components;
  const char *timeline;
  bool has_from, has_to;
  int64_t from, to;
  bool drop_static, drop_temporal;
  const char *format;
  bool fill;
  uint64_t memory_limit;
  bool continue_on_error;
} opts;

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return -1;
  *out = v;
  return 0;
}

static int bad(const char *cmd, const char *msg, const char *arg) {
  fprintf(stderr, "rerun rrd %s: %s%s%s\n", cmd, msg, arg ? " " : "", arg ? arg : "");
  return 2;
}

/* Returns -1 to go on, else an exit code. */
static int parse(const char *cmd, int argc, char **argv, opts *o, const char *help) {
  memset(o, 0, sizeof *o);
  o->lz4 = true;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!next) return bad(cmd, "missing value after", a); i++; } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(help, stdout); return 0; }
    else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) o->verbose++;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { NEED(); o->output = next; }
    else if (!strcmp(a, "--no-compression")) o->lz4 = false;
    else if (!strcmp(a, "--max-rows")) { NEED(); if (parse_i64(next, &o->max_rows) || o->max_rows <= 0) return bad(cmd, "bad --max-rows", next); }
    else if (!strcmp(a, "--max-bytes")) { NEED(); if (parse_i64(next, &o->max_bytes) || o->max_bytes <= 0) return bad(cmd, "bad --max-bytes", next); }
    else if (!strcmp(a, "--entity") || !strcmp(a, "-e")) { NEED(); if (o->n_entities < 64) o->entities[o->n_entities++] = next; }
    else if (!strcmp(a, "--component") || !strcmp(a, "-c")) { NEED(); if (o->n_components < 64) o->components[o->n_components++] = next; }
    else if (!strcmp(a, "--timeline") || !strcmp(a, "--index")) { NEED(); o->timeline = next; }
    else if (!strcmp(a, "--from")) { NEED(); if (parse_i64(next, &o->from)) return bad(cmd, "bad --from", next); o->has_from = true; }
    else if (!strcmp(a, "--to")) { NEED(); if (parse_i64(next, &o->to)) return bad(cmd, "bad --to", next); o->has_to = true; }
    else if (!strcmp(a, "--drop-static")) o->drop_static = true;
    else if (!strcmp(a, "--drop-temporal")) o->drop_temporal = true;
    else if (!strcmp(a, "--format")) { NEED(); o->format = next; }
    else if (!strcmp(a, "--fill-latest-at")) o->fill = true;
    else if (!strcmp(a, "--continue-on-error")) o->continue_on_error = true;
    else if (!strcmp(a, "--memory-limit")) {
      NEED();
      rr_error e = {0, ""};
      if (rr_parse_memory_limit(next, &o->memory_limit, &e) < 0) return bad(cmd, e.msg, NULL);
    } else if (a[0] == '-' && a[1]) return bad(cmd, "unknown option", a);
    else if (o->n_inputs < 256) o->inputs[o->n_inputs++] = a;
#undef NEED
  }
  if (!o->n_inputs) o->inputs[o->n_inputs++] = "-";
  return -1;
}

static FILE *open_out(const char *cmd, const opts *o) {
  if (!o->output || !strcmp(o->output, "-")) return stdout;
  FILE *f = fopen(o->output, "wb");
  if (!f) fprintf(stderr, "rerun rrd %s: cannot write %s: %s\n", cmd, o->output, strerror(errno));
  return f;
}

static int close_out(const char *cmd, FILE *f) {
  int bad_write = ferror(f) || fflush(f) != 0;
  if (f != stdout) bad_write |= fclose(f) != 0;
  if (bad_write) { fprintf(stderr, "rerun rrd %s: write error\n", cmd); return 1; }
  return 0;
}

static int write_file(void *ud, const void *p, size_t n) {
  return fwrite(p, 1, n, ud) == n ? RR_OK : RR_EIO;
}

/* Loads every input into a new hub. Exit code, or -1 on success. */
static int load(const char *cmd, const opts *o, rr_store_options *so, rr_store_hub **out) {
  if (o->memory_limit) so->memory_limit = o->memory_limit;
  if (rr_store_hub_new(out, so) < 0) { fprintf(stderr, "rerun rrd %s: out of memory\n", cmd); return 1; }
  int code = -1;
  for (int i = 0; i < o->n_inputs; i++) {
    rr_error e = {0, ""};
    int rc = rr_store_hub_load_path(*out, o->inputs[i], &e);
    if (rc < 0) {
      fprintf(stderr, "rerun rrd %s: %s: %s\n", cmd, strcmp(o->inputs[i], "-") ? o->inputs[i] : "<stdin>",
              e.msg[0] ? e.msg : rr_strerror(rc));
      if (!o->continue_on_error) code = 1;
    }
  }
  rr_load_stats st;
  rr_store_hub_load_stats(*out, &st);
  if (st.warning[0]) fprintf(stderr, "rerun rrd %s: warning: %s\n", cmd, st.warning);
  return code;
}

static const char *kind_name(int k) { return k == RR_STORE_BLUEPRINT ? "blueprint" : "recording"; }
static const char *tl_type_name(int t) { return t == 2 ? "duration" : t == 3 ? "timestamp" : "sequence"; }

/* ---- verify --------------------------------------------------------------- */

static const char VERIFY_HELP[] =
    "Usage: rerun rrd verify [FILE ...]\n\n"
    "Decodes every message and every chunk of every input. Prints a one-line summary per\n"
    "input and exits 0, or prints the first problem (with its byte offset) and exits 1.\n";

static int cmd_verify(int argc, char **argv) {
  opts o;
  int r = parse("verify", argc, argv, &o, VERIFY_HELP);
  if (r >= 0) return r;
  int code = 0;
  for (int i = 0; i < o.n_inputs; i++) {
    const char *name = strcmp(o.inputs[i], "-") ? o.inputs[i] : "<stdin>";
    rr_store_options so = {0};
    so.no_compaction = true;
    rr_store_hub *h = NULL;
    if (rr_store_hub_new(&h, &so) < 0) return 1;
    rr_error e = {0, ""};
    int rc = rr_store_hub_load_path(h, o.inputs[i], &e);
    rr_load_stats st;
    rr_store_hub_load_stats(h, &st);
    if (rc < 0) {
      fprintf(stderr, "%s: %s: %s\n", name, rr_err_name(rc), e.msg[0] ? e.msg : rr_strerror(rc));
      code = 1;
    } else {
      uint64_t rows = 0;
      for (size_t s = 0; s < rr_store_hub_count(h); s++) {
        rr_store_stats ss;
        rr_store_get_stats(rr_store_hub_at(h, s), &ss);
        rows += ss.rows;
      }
      printf("%s: ok: %" PRIu64 " bytes, %" PRIu64 " messages, %zu stores, %" PRIu64 " chunks, %" PRIu64 " rows\n",
             name, st.bytes, st.messages, rr_store_hub_count(h), st.chunks, rows);
      if (st.warning[0]) fprintf(stderr, "%s: warning: %s\n", name, st.warning);
    }
    rr_store_hub_free(h);
  }
  return code;
}

/* ---- print ---------------------------------------------------------------- */

static const char PRINT_HELP[] =
    "Usage: rerun rrd print [-v] [FILE ...]\n\n"
    "Prints each store (kind, application id, recording id, source, version), its\n"
    "timelines and entities, and every chunk with its columns and types. -v also prints\n"
    "every value. Chunks are shown as stored (no compaction).\n";

static void print_store_header(FILE *f, rr_store *s) {
  rr_store_info in;
  rr_store_get_info(s, &in);
  fprintf(f, "Store %s application_id=%s recording_id=%s", kind_name(in.kind), in.application_id, in.recording_id);
  if (in.has_store_info) fprintf(f, " source_kind=%d", in.source_kind);
  else fprintf(f, " (no SetStoreInfo)");
  if (in.has_version) fprintf(f, " version=%s", in.version);
  if (in.activated) fprintf(f, " activated(make_active=%d, make_default=%d)", in.make_active, in.make_default);
  fputc('\n', f);
}

static int cmd_print(int argc, char **argv) {
  opts o;
  int r = parse("print", argc, argv, &o, PRINT_HELP);
  if (r >= 0) return r;
  rr_store_options so = {0};
  so.no_compaction = true;
  rr_store_hub *h = NULL;
  int code = load("print", &o, &so, &h);
  FILE *f = open_out("print", &o);
  if (!f) { rr_store_hub_free(h); return 1; }
  for (size_t si = 0; si < rr_store_hub_count(h); si++) {
    rr_store *s = rr_store_hub_at(h, si);
    print_store_header(f, s);
    rr_timeline_info tls[64];
    size_t nt = rr_store_timelines(s, tls, 64);
    for (size_t t = 0; t < nt && t < 64; t++)
      fprintf(f, "  timeline %s (%s) [%" PRId64 ", %" PRId64 "]\n", tls[t].name, tl_type_name(tls[t].type), tls[t].min, tls[t].max);
    size_t ne = 0;
    rr_store_entities(s, NULL, 0, &ne);
    const char **ents = malloc((ne + 1) * sizeof *ents);
    if (ents) {
      rr_store_entities(s, ents, ne, NULL);
      for (size_t i = 0; i < ne; i++) fprintf(f, "  entity %s\n", ents[i]);
      free(ents);
    }
    size_t nc = rr_store_chunk_count(s);
    for (size_t ci = 0; ci < nc; ci++) {
      rr_chunk_summary cs;
      if (rr_store_chunk_summary(s, ci, &cs) < 0) continue;
      fprintf(f, "  %s %s: %" PRId64 " rows, %s, %" PRIu64 " bytes\n", cs.id, cs.entity_path, cs.num_rows,
              cs.is_static ? "static" : "temporal", cs.bytes);
      struct ArrowSchema sc;
      struct ArrowArray b;
      rr_error e = {0, ""};
      if (rr_store_chunk_batch(s, ci, &sc, &b, &e) < 0) { fprintf(stderr, "%s\n", e.msg); code = 1; continue; }
      for (int64_t c = 0; c < sc.n_children; c++) {
        char *ty = rr_format_type(sc.children[c]);
        fprintf(f, "    %s: %s\n", sc.children[c]->name, ty ? ty : "?");
        rr_string_free(ty);
        if (o.verbose) {
          for (int64_t row = 0; row < b.length; row++) {
            char *v = rr_format_value(sc.children[c], b.children[c], row, RR_FORMAT_TEXT);
            fprintf(f, "      [%" PRId64 "] %s\n", row, v ? v : "?");
            rr_string_free(v);
          }
        }
      }
      b.release(&b);
      sc.release(&sc);
    }
  }
  rr_store_hub_free(h);
  int c2 = close_out("print", f);
  return code >= 0 ? code : c2;
}

/* ---- stats ---------------------------------------------------------------- */

static const char STATS_HELP[] =
    "Usage: rerun rrd stats [FILE ...]\n\n"
    "Prints, per store: chunks, rows and bytes in total, per entity, per component\n"
    "(rows = rows holding the component, bytes = its column's buffers) and per timeline.\n";

typedef struct agg { char *key; uint64_t chunks, rows, bytes; } agg;
typedef struct aggs { agg *v; size_t n, cap; } aggs;

static agg *agg_get(aggs *a, const char *key) {
  for (size_t i = 0; i < a->n; i++) if (!strcmp(a->v[i].key, key)) return &a->v[i];
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 16;
    agg *nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return NULL;
    a->v = nv;
    a->cap = nc;
  }
  agg *g = &a->v[a->n];
  memset(g, 0, sizeof *g);
  g->key = strdup(key);
  if (!g->key) return NULL;
  a->n++;
  return g;
}

static int agg_cmp(const void *x, const void *y) { return strcmp(((const agg *)x)->key, ((const agg *)y)->key); }

static void agg_print(FILE *f, const char *title, aggs *a) {
  qsort(a->v, a->n, sizeof *a->v, agg_cmp);
  fprintf(f, "  %s:\n", title);
  for (size_t i = 0; i < a->n; i++) {
    fprintf(f, "    %-48s chunks %8" PRIu64 "  rows %10" PRIu64 "  bytes %12" PRIu64 "\n", a->v[i].key, a->v[i].chunks,
            a->v[i].rows, a->v[i].bytes);
    free(a->v[i].key);
  }
  free(a->v);
  memset(a, 0, sizeof *a);
}

static int cmd_stats(int argc, char **argv) {
  opts o;
  int r = parse("stats", argc, argv, &o, STATS_HELP);
  if (r >= 0) return r;
  rr_store_options so = {0};
  so.no_compaction = true;
  rr_store_hub *h = NULL;
  int code = load("stats", &o, &so, &h);
  FILE *f = open_out("stats", &o);
  if (!f) { rr_store_hub_free(h); return 1; }
  for (size_t si = 0; si < rr_store_hub_count(h); si++) {
    rr_store *s = rr_store_hub_at(h, si);
    print_store_header(f, s);
    rr_store_stats ss;
    rr_store_get_stats(s, &ss);
    fprintf(f, "  total: %" PRIu64 " chunks (%" PRIu64 " static), %" PRIu64 " rows, %" PRIu64 " bytes, %" PRIu64
               " entities, %" PRIu64 " timelines\n",
            ss.chunks, ss.static_chunks, ss.rows, ss.bytes, ss.entities, ss.timelines);
    aggs ents = {0}, comps = {0}, tls = {0};
    size_t nc = rr_store_chunk_count(s);
    for (size_t ci = 0; ci < nc; ci++) {
      rr_chunk_summary cs;
      struct ArrowSchema sc;
      struct ArrowArray b;
      if (rr_store_chunk_summary(s, ci, &cs) < 0 || rr_store_chunk_batch(s, ci, &sc, &b, NULL) < 0) continue;
      agg *g = agg_get(&ents, cs.entity_path);
      if (g) { g->chunks++; g->rows += (uint64_t)cs.num_rows; g->bytes += cs.bytes; }
      for (int64_t c = 1; c < sc.n_children; c++) {
        bool is_index = c <= (int64_t)cs.n_timelines;
        g = agg_get(is_index ? &tls : &comps, sc.children[c]->name);
        if (!g) continue;
        g->chunks++;
        g->rows += (uint64_t)(b.children[c]->length - (is_index ? 0 : b.children[c]->null_count));
        g->bytes += rr_array_nbytes(b.children[c], sc.children[c]);
      }
      if (!cs.n_timelines && (g = agg_get(&tls, "(static)"))) { g->chunks++; g->rows += (uint64_t)cs.num_rows; }
      b.release(&b);
      sc.release(&sc);
    }
    agg_print(f, "entities", &ents);
    agg_print(f, "components", &comps);
    agg_print(f, "timelines", &tls);
  }
  rr_store_hub_free(h);
  int c2 = close_out("stats", f);
  return code >= 0 ? code : c2;
}

/* ---- merge / compact / filter -------------------------------------------- */

static const char MERGE_HELP[] =
    "Usage: rerun rrd merge [-o OUT] [--no-compression] FILE ...\n\n"
    "Merges the inputs into one stream: data of the same store id from any input ends up in\n"
    "one store. Chunks are kept as they are (see compact).\n";
static const char COMPACT_HELP[] =
    "Usage: rerun rrd compact [-o OUT] [--max-rows N] [--max-bytes N] [--no-compression] FILE ...\n\n"
    "Re-chunks the inputs: chunks of one entity with the same timelines are merged while the\n"
    "result stays within N rows (default 4096) and N bytes (default 4194304).\n";
static const char FILTER_HELP[] =
    "Usage: rerun rrd filter [-o OUT] [--entity GLOB ...] [--timeline T --from A --to B]\n"
    "                        [--drop-static] [--drop-temporal] FILE ...\n\n"
    "Keeps the chunks of entities matching any GLOB ('*' one part, '**' any parts), the rows\n"
    "whose time on T lies in [A, B] (chunks without T are dropped; static chunks are kept\n"
    "unless --drop-static).\n";

static int rewrite(const char *cmd, int argc, char **argv, const char *help) {
  opts o;
  int r = parse(cmd, argc, argv, &o, help);
  if (r >= 0) return r;
  rr_store_options so = {0};
  so.no_compaction = strcmp(cmd, "compact") != 0;
  so.chunk_max_rows = o.max_rows;
  so.chunk_max_bytes = o.max_bytes;
  rr_store_hub *h = NULL;
  int code = load(cmd, &o, &so, &h);
  if (code >= 0) { rr_store_hub_free(h); return code; }
  rr_error e = {0, ""};
  if (!strcmp(cmd, "compact"))
    for (size_t i = 0; i < rr_store_hub_count(h); i++)
      if (rr_store_compact(rr_store_hub_at(h, i), &e) < 0) { fprintf(stderr, "rerun rrd compact: %s\n", e.msg); code = 1; }
  FILE *f = open_out(cmd, &o);
  if (!f) { rr_store_hub_free(h); return 1; }
  rr_store_filter flt = {0};
  flt.drop_static = o.drop_static;
  flt.drop_temporal = o.drop_temporal;
  flt.timeline = o.timeline;
  flt.time_min = o.has_from ? o.from : INT64_MIN;
  flt.time_max = o.has_to ? o.to : INT64_MAX;
  int nmatch = o.n_entities;
  int rc = RR_OK;
  if (nmatch <= 1) {
    flt.entity_glob = nmatch ? o.entities[0] : NULL;
    rc = rr_store_hub_write_rrd(h, o.lz4, &flt, write_file, f, &e);
  } else {
    /* several globs: one pass per glob would duplicate; filter by writing each
     * glob's chunks in turn is wrong for overlaps, so reject */
    fprintf(stderr, "rerun rrd %s: give one --entity GLOB (use ** for subtrees)\n", cmd);
    rc = RR_EINVAL;
  }
  if (rc < 0) { fprintf(stderr, "rerun rrd %s: %s\n", cmd, e.msg[0] ? e.msg : rr_strerror(rc)); code = 1; }
  rr_store_hub_free(h);
  int c2 = close_out(cmd, f);
  return code >= 0 ? code : c2;
}

static int cmd_merge(int argc, char **argv) { return rewrite("merge", argc, argv, MERGE_HELP); }
static int cmd_compact(int argc, char **argv) { return rewrite("compact", argc, argv, COMPACT_HELP); }
static int cmd_filter(int argc, char **argv) { return rewrite("filter", argc, argv, FILTER_HELP); }

int rr_cli_rrd_export(int argc, char **argv);

/* ---- dispatch ---------------------------------------------------------------- */

int rr_cli_rrd(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  static const struct { const char *name; int (*run)(int, char **); } subs[] = {
      {"print", cmd_print}, {"stats", cmd_stats}, {"verify", cmd_verify}, {"merge", cmd_merge},
      {"compact", cmd_compact}, {"filter", cmd_filter}, {"export", rr_cli_rrd_export}};
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
    if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
  fprintf(stderr, "rerun rrd: unknown command '%s'\n\n%s", argv[1], USAGE);
  return 2;
}
