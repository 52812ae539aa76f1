/* Test tool: writes the Arrow IPC payload of every ArrowMsg of an .rrd file
 * to OUTDIR/NNNNN.arrows (decompressed), so independent Arrow readers can
 * check them.  Usage: rrd_tool ipc FILE.rrd OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rr_blocks.h"
#include "encoding/rr_encoding.h"

struct ctx { const char *dir; int n, errors; };

static int on_msg(void *ud, rr_log_msg *m, const rr_error *err) {
  struct ctx *c = ud;
  if (!m) { fprintf(stderr, "rrd_tool: %s\n", err->msg); c->errors++; return 0; }
  if (m->kind == RR_MSG_ARROW) {
    size_t n;
    uint8_t *ipc = rr_log_msg_take_ipc(m, &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%05d.arrows", c->dir, c->n++);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(ipc, 1, n, f) != n) { fprintf(stderr, "rrd_tool: cannot write %s\n", path); c->errors++; }
    if (f) fclose(f);
    rr__blocks_free(ipc);
  }
  rr_log_msg_free(m);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4 || strcmp(argv[1], "ipc")) {
    fprintf(stderr, "usage: rrd_tool ipc FILE.rrd OUTDIR\n");
    return 2;
  }
  struct ctx c = {argv[3], 0, 0};
  rr_error err = {0};
  if (rr_rrd_read_path(argv[2], NULL, on_msg, &c, &err) != RR_OK) {
    fprintf(stderr, "rrd_tool: %s\n", err.msg);
    return 1;
  }
  printf("%d\n", c.n);
  return c.errors ? 1 : 0;
}
