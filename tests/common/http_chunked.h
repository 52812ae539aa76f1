/* An incremental decoder of an HTTP/1.1 chunked body (the gRPC-Web
 * responses of our server), shared by the server tests and bench_server.
 * Chunk extensions are ignored; the decoder does not check the framing
 * beyond what reading it needs (the tests check the payload instead). */
#ifndef HTTP_CHUNKED_H
#define HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct http_dechunk {
  int state;   /* 0 size line, 1 data, 2 CRLF after data */
  size_t left; /* data bytes left in the current chunk */
  char line[32];
  size_t line_len;
};

/* Feeds n bytes of the body; calls data(ud, p, k) for each run of payload. */
static inline void http_dechunk_feed(struct http_dechunk *d, const uint8_t *p, size_t n,
                                     void (*data)(void *ud, const uint8_t *p, size_t k), void *ud) {
  while (n) {
    if (d->state == 0) {
      char c = (char)*p++;
      n--;
      if (c == '\n') {
        d->line[d->line_len] = 0;
        d->left = strtoul(d->line, NULL, 16);
        d->line_len = 0;
        d->state = d->left ? 1 : 2;
      } else if (c != '\r' && d->line_len < sizeof d->line - 1) {
        d->line[d->line_len++] = c;
      }
    } else if (d->state == 1) {
      size_t k = n < d->left ? n : d->left;
      data(ud, p, k);
      p += k;
      n -= k;
      d->left -= k;
      if (!d->left) d->state = 2;
    } else {
      if (*p == '\n') d->state = 0;
      p++;
      n--;
    }
  }
}

#endif
