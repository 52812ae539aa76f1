/* Arrow values and types as text, for the rrd tools (print -v, export). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/rr_arrow.h"
#include "rerun/query.h"

static bool is_valid(const struct ArrowArray *a, int64_t i) {
  if (a->null_count == 0 || a->n_buffers < 1 || !a->buffers[0]) return true;
  int64_t j = i + a->offset;
  return (((const uint8_t *)a->buffers[0])[j >> 3] >> (j & 7)) & 1;
}

static int put(rr_buf *b, const char *s) { return rr_buf_append(b, s, strlen(s)); }

static int put_double(rr_buf *b, double v, int style) {
  char tmp[40];
  if (!isfinite(v)) {
    if (style == RR_FORMAT_JSON) return put(b, "null");
    return put(b, isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
  }
  for (int prec = 6; prec <= 17; prec++) { /* shortest form that round-trips */
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  return put(b, tmp);
}

static int put_float(rr_buf *b, float v, int style) {
  char tmp[40];
  if (!isfinite(v)) return put_double(b, v, style);
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
    if (strtof(tmp, NULL) == v) break;
  }
  return put(b, tmp);
}

static int put_string(rr_buf *b, const char *p, size_t n, int style, bool binary) {
  if (binary) {
    RR_TRY(put(b, style == RR_FORMAT_JSON ? "\"" : "0x"));
    char h[3];
    for (size_t i = 0; i < n; i++) {
      snprintf(h, sizeof h, "%02x", (unsigned char)p[i]);
      RR_TRY(put(b, h));
    }
    return style == RR_FORMAT_JSON ? put(b, "\"") : RR_OK;
  }
  if (style != RR_FORMAT_JSON) return rr_buf_append(b, p, n);
  RR_TRY(put(b, "\""));
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\') { char e[3] = {'\\', (char)c, 0}; RR_TRY(put(b, e)); }
    else if (c < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", c); RR_TRY(put(b, e)); }
    else RR_TRY(rr_buf_append(b, &p[i], 1));
  }
  return put(b, "\"");
}

static int fmt(rr_buf *b, const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i, int style, int depth) {
  if (depth > 64) return RR_ERANGE;
  if (i < 0 || i >= a->length) return put(b, "?");
  if (!is_valid(a, i)) return put(b, "null");
  const char *f = s->format;
  int64_t j = i + a->offset;
  const void *d = a->n_buffers > 1 ? a->buffers[1] : NULL;
  char tmp[48];
  switch (f[0]) {
    case 'n': return put(b, "null");
    case 'b': return put(b, (((const uint8_t *)d)[j >> 3] >> (j & 7)) & 1 ? "true" : "false");
    case 'c': snprintf(tmp, sizeof tmp, "%d", ((const int8_t *)d)[j]); return put(b, tmp);
    case 'C': snprintf(tmp, sizeof tmp, "%u", ((const uint8_t *)d)[j]); return put(b, tmp);
    case 's': snprintf(tmp, sizeof tmp, "%d", ((const int16_t *)d)[j]); return put(b, tmp);
    case 'S': snprintf(tmp, sizeof tmp, "%u", ((const uint16_t *)d)[j]); return put(b, tmp);
    case 'i': snprintf(tmp, sizeof tmp, "%" PRId32, ((const int32_t *)d)[j]); return put(b, tmp);
    case 'I': snprintf(tmp, sizeof tmp, "%" PRIu32, ((const uint32_t *)d)[j]); return put(b, tmp);
    case 'l': snprintf(tmp, sizeof tmp, "%" PRId64, ((const int64_t *)d)[j]); return put(b, tmp);
    case 'L': snprintf(tmp, sizeof tmp, "%" PRIu64, ((const uint64_t *)d)[j]); return put(b, tmp);
    case 'f': return put_float(b, ((const float *)d)[j], style);
    case 'g': return put_double(b, ((const double *)d)[j], style);
    case 't': snprintf(tmp, sizeof tmp, "%" PRId64, ((const int64_t *)d)[j]); return put(b, tmp);
    case 'u':
    case 'z': {
      const int32_t *o = d;
      const char *p = a->buffers[2];
      return put_string(b, p + o[j], (size_t)(o[j + 1] - o[j]), style, f[0] == 'z');
    }
    case 'w': {
      int w = atoi(f + 2);
      return put_string(b, (const char *)d + (int64_t)w * j, (size_t)w, style, true);
    }
    case '+': break;
    default: return put(b, "?");
  }
  int64_t from = 0, to = 0;
  if (f[1] == 'l') {
    const int32_t *o = d;
    from = o[j];
    to = o[j + 1];
  } else if (f[1] == 'w') {
    int64_t n = atoll(f + 3);
    from = j * n;
    to = from + n;
  } else if (f[1] == 's') {
    RR_TRY(put(b, "{"));
    for (int64_t c = 0; c < s->n_children; c++) {
      if (c) RR_TRY(put(b, ", "));
      const char *nm = s->children[c]->name ? s->children[c]->name : "";
      RR_TRY(put_string(b, nm, strlen(nm), style, false));
      RR_TRY(put(b, ": "));
      RR_TRY(fmt(b, s->children[c], a->children[c], j, style, depth + 1));
    }
    return put(b, "}");
  } else if (f[1] == 'u' && f[2] == 'd') {
    const int8_t *ids = a->buffers[0];
    const int32_t *offs = a->buffers[1];
    /* type ids listed after "+ud:" map to children in order */
    const char *p = f + 4;
    int64_t child = -1;
    for (int64_t c = 0; c < s->n_children && *p; c++) {
      if (atoi(p) == ids[j]) { child = c; break; }
      while (*p && *p != ',') p++;
      if (*p == ',') p++;
    }
    if (child < 0) return put(b, "?");
    return fmt(b, s->children[child], a->children[child], offs[j], style, depth + 1);
  } else {
    return put(b, "?");
  }
  RR_TRY(put(b, "["));
  for (int64_t k = from; k < to; k++) {
    if (k > from) RR_TRY(put(b, ", "));
    RR_TRY(fmt(b, s->children[0], a->children[0], k, style, depth + 1));
  }
  return put(b, "]");
}

char *rr_format_value(const struct ArrowSchema *type, const struct ArrowArray *a, int64_t i, int style) {
  if (!type || !a) return NULL;
  rr_buf b = RR_BUF_INIT;
  if (fmt(&b, type, a, i, style, 0) < 0 || rr_buf_append(&b, "", 1) < 0) {
    rr_buf_free(&b);
    return NULL;
  }
  return (char *)rr_buf_steal(&b, NULL);
}

char *rr_format_type(const struct ArrowSchema *type) {
  rr_buf b = RR_BUF_INIT;
  if (!type || rr_arrow_schema_format(type, &b) < 0 || rr_buf_append(&b, "", 1) < 0) {
    rr_buf_free(&b);
    return NULL;
  }
  return (char *)rr_buf_steal(&b, NULL);
}

void rr_string_free(char *s) { rr__free(s); }

size_t rr_array_nbytes(const struct ArrowArray *a, const struct ArrowSchema *s) {
  return rr_arrow_array_nbytes(a, s);
}
