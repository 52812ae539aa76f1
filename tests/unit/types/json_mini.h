/* A tiny JSON reader for test data (values.json). Test-only: aborts the
 * test through cmocka's fail_msg on malformed input. Every node is
 * allocated with malloc and freed by jm_free. */
#ifndef RR_TEST_JSON_MINI_H
#define RR_TEST_JSON_MINI_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum { JM_NULL, JM_BOOL, JM_NUM, JM_STR, JM_ARR, JM_OBJ };

typedef struct jm {
  int t;
  int b;           /* JM_BOOL */
  double num;      /* JM_NUM */
  char *str;       /* JM_STR (unescaped, NUL-terminated); JM_NUM: raw text */
  size_t n;        /* JM_ARR / JM_OBJ: element count */
  struct jm **v;   /* elements */
  char **keys;     /* JM_OBJ keys */
} jm;

static void jm_free(jm *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) {
    jm_free(j->v[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->v);
  free(j->keys);
  free(j->str);
  free(j);
}

static void jm_ws(const char **p) {
  while (isspace((unsigned char)**p)) (*p)++;
}

static char *jm_string(const char **p) {
  /* **p == '"' */
  (*p)++;
  size_t cap = 16, len = 0;
  char *out = malloc(cap);
  while (**p && **p != '"') {
    char c = *(*p)++;
    if (c == '\\') {
      char e = *(*p)++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned cp = (unsigned)strtoul((char[5]){(*p)[0], (*p)[1], (*p)[2], (*p)[3], 0}, NULL, 16);
        *p += 4;
        char tmp[3];
        int k = 0;
        if (cp < 0x80) tmp[k++] = (char)cp;
        else if (cp < 0x800) { tmp[k++] = (char)(0xC0 | (cp >> 6)); tmp[k++] = (char)(0x80 | (cp & 0x3F)); }
        else { tmp[k++] = (char)(0xE0 | (cp >> 12)); tmp[k++] = (char)(0x80 | ((cp >> 6) & 0x3F)); tmp[k++] = (char)(0x80 | (cp & 0x3F)); }
        for (int i = 0; i < k; i++) {
          if (len + 2 > cap) out = realloc(out, cap *= 2);
          out[len++] = tmp[i];
        }
        continue;
      }
      default: c = e; break;
      }
    }
    if (len + 2 > cap) out = realloc(out, cap *= 2);
    out[len++] = c;
  }
  if (**p == '"') (*p)++;
  out[len] = 0;
  return out;
}

static jm *jm_value(const char **p) {
  jm_ws(p);
  jm *j = calloc(1, sizeof *j);
  char c = **p;
  if (c == '{' || c == '[') {
    j->t = c == '{' ? JM_OBJ : JM_ARR;
    (*p)++;
    size_t cap = 0;
    jm_ws(p);
    while (**p && **p != (c == '{' ? '}' : ']')) {
      if (j->n == cap) {
        cap = cap ? cap * 2 : 4;
        j->v = realloc(j->v, cap * sizeof *j->v);
        if (c == '{') j->keys = realloc(j->keys, cap * sizeof *j->keys);
      }
      if (c == '{') {
        jm_ws(p);
        j->keys[j->n] = jm_string(p);
        jm_ws(p);
        if (**p == ':') (*p)++;
      }
      j->v[j->n++] = jm_value(p);
      jm_ws(p);
      if (**p == ',') (*p)++;
      jm_ws(p);
    }
    if (**p) (*p)++;
  } else if (c == '"') {
    j->t = JM_STR;
    j->str = jm_string(p);
  } else if (!strncmp(*p, "null", 4)) {
    j->t = JM_NULL;
    *p += 4;
  } else if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
    j->t = JM_BOOL;
    j->b = **p == 't';
    *p += j->b ? 4 : 5;
  } else {
    j->t = JM_NUM;
    const char *s = *p;
    char *end;
    j->num = strtod(s, &end);
    j->str = strndup(s, (size_t)(end - s));
    *p = end;
  }
  return j;
}

static jm *jm_parse(const char *text) {
  const char *p = text;
  return jm_value(&p);
}

static jm *jm_get(const jm *o, const char *key) {
  if (!o || o->t != JM_OBJ) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (!strcmp(o->keys[i], key)) return o->v[i];
  return NULL;
}

#endif
