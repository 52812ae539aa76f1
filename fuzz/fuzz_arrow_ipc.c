/* libFuzzer target: the Arrow IPC reader on untrusted bytes, in copy mode
 * and in zero-copy mode (the input is copied to an exact-size allocation so
 * out-of-bounds reads are caught). Every successful read is re-validated
 * and re-written, so the writer also sees whatever the reader accepts. */
#include <stdlib.h>
#include <string.h>

#include "arrow/rr_arrow.h"

static void free_input(void *p) { free(p); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ArrowSchema s;
  struct ArrowArray a;
  if (rr_arrow_ipc_read(data, size, NULL, NULL, &s, &a, NULL) == RR_OK) {
    if (rr_arrow_array_validate(&a, &s, NULL) != RR_OK) abort();
    rr_buf out = RR_BUF_INIT;
    if (rr_arrow_ipc_write(&out, &s, &a, 8, NULL) != RR_OK) abort();
    struct ArrowSchema s2;
    struct ArrowArray a2;
    if (rr_arrow_ipc_read(out.data, out.len, NULL, NULL, &s2, &a2, NULL) != RR_OK) abort();
    if (!rr_arrow_schema_equal(&s, &s2, true) || a2.length != a.length) abort();
    a2.release(&a2);
    s2.release(&s2);
    rr_buf_free(&out);
    a.release(&a);
    s.release(&s);
  }
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  if (rr_arrow_ipc_read(copy, size, free_input, copy, &s, &a, NULL) == RR_OK) {
    a.release(&a);
    s.release(&s);
  }
  if (rr_arrow_ipc_read(data, size, NULL, NULL, &s, NULL, NULL) == RR_OK) s.release(&s);
  return 0;
}
