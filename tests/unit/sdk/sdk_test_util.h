/* Test helpers: decode an .rrd byte stream with our decoder and Arrow reader
 * into a flat list of chunks. */
#ifndef SDK_TEST_UTIL_H
#define SDK_TEST_UTIL_H
#include <stdio.h>
#include <stdlib.h>

#include "arrow/rr_arrow.h"
#include "encoding/rr_encoding.h"

typedef struct tchunk {
  char entity[256];
  bool is_static;      /* ArrowMsg.is_static */
  int64_t num_rows;
  struct ArrowSchema schema;
  struct ArrowArray batch;
} tchunk;

typedef struct tdecoded {
  int n_store_info;
  char app_id[128], rec_id[128];
  int n_chunks;
  tchunk chunks[4096];
  int n_errors;
  char first_error[300];
} tdecoded;

static void tdecoded_free(tdecoded *d) {
  for (int i = 0; i < d->n_chunks; i++) {
    d->chunks[i].batch.release(&d->chunks[i].batch);
    d->chunks[i].schema.release(&d->chunks[i].schema);
  }
  free(d);
}

/* Decodes every message; returns the result (never NULL). */
static tdecoded *tdecode(const uint8_t *bytes, size_t len) {
  tdecoded *d = calloc(1, sizeof *d);
  rr_rrd_decoder *dec;
  if (rr_rrd_decoder_new(&dec, NULL) != RR_OK) abort();
  rr_rrd_decoder_feed(dec, bytes, len);
  rr_rrd_decoder_finish(dec);
  for (;;) {
    rr_log_msg *m = NULL;
    rr_error err = {0};
    int rc = rr_rrd_decoder_next(dec, &m, &err);
    if (rc == RR_EEOF) break;
    if (rc < 0) {
      if (!d->n_errors++) snprintf(d->first_error, sizeof d->first_error, "%s", err.msg);
      continue;
    }
    if (m->kind == RR_MSG_SET_STORE_INFO) {
      d->n_store_info++;
      snprintf(d->app_id, sizeof d->app_id, "%.*s", (int)m->store_id.application_id.len, m->store_id.application_id.ptr);
      snprintf(d->rec_id, sizeof d->rec_id, "%.*s", (int)m->store_id.recording_id.len, m->store_id.recording_id.ptr);
    } else if (m->kind == RR_MSG_ARROW && d->n_chunks < 4096) {
      tchunk *c = &d->chunks[d->n_chunks];
      size_t n;
      uint8_t *ipc = rr_log_msg_take_ipc(m, &n);
      rr_error e2 = {0};
      if (rr_arrow_ipc_read(ipc, n, rr__blocks_free, ipc, &c->schema, &c->batch, &e2) != RR_OK) {
        if (!d->n_errors++) snprintf(d->first_error, sizeof d->first_error, "ipc: %s", e2.msg);
      } else {
        rr_str ep;
        if (rr_arrow_metadata_get(c->schema.metadata, "rerun:entity_path", &ep) == RR_OK)
          snprintf(c->entity, sizeof c->entity, "%.*s", (int)ep.len, ep.ptr);
        c->is_static = m->arrow.is_static;
        c->num_rows = c->batch.length;
        d->n_chunks++;
      }
    }
    rr_log_msg_free(m);
  }
  rr_rrd_decoder_free(dec);
  return d;
}

/* Index of the column named `name` in a chunk, or -1. */
static int tcol(const tchunk *c, const char *name) {
  for (int64_t i = 0; i < c->schema.n_children; i++)
    if (!strcmp(c->schema.children[i]->name, name)) return (int)i;
  return -1;
}

/* Rows of all chunks of `entity`. */
static int64_t trows(const tdecoded *d, const char *entity) {
  int64_t n = 0;
  for (int i = 0; i < d->n_chunks; i++)
    if (!strcmp(d->chunks[i].entity, entity)) n += d->chunks[i].num_rows;
  return n;
}

static uint8_t *read_whole_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}
#endif
