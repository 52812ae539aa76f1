/* Tests of the types layer: value types against the spec's catalogue
 * (archetypes.md §2.1, in its own notation), the archetype table, appending
 * every field of every archetype, the logged values of the golden
 * recordings (values.json) appended through our builders, the Arrow types
 * stored in the golden .rrd files, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "encoding/rr_encoding.h"
#include "json_mini.h"
#include "types/rr_types.h"

#define GOLDEN_DIR "/work/shared/golden/rrd/archetypes"

/* ---- the spec's notation (§0) ---------------------------------------------- */

/* Renders a value type the way archetypes.md writes it: FSL<f32,3>,
 * List<u8>, Struct{a: T, b?: U}, DenseUnion{0:name?: T, ...}. A List/FSL
 * child that is not named "item", is nullable or has metadata is printed
 * as "BADCHILD(...)" so that it can never match the spec. */
static void spec_type(const struct ArrowSchema *s, rr_buf *out);

static void put(rr_buf *out, const char *s) { assert_int_equal(rr_buf_append(out, s, strlen(s)), RR_OK); }

static void spec_child(const struct ArrowSchema *c, rr_buf *out) {
  bool ok = c->name && !strcmp(c->name, "item") && !(c->flags & ARROW_FLAG_NULLABLE) && !c->metadata;
  if (!ok) put(out, "BADCHILD(");
  spec_type(c, out);
  if (!ok) put(out, ")");
}

static void spec_type(const struct ArrowSchema *s, rr_buf *out) {
  static const struct { const char *fmt, *name; } prims[] = {
      {"b", "bool"}, {"C", "u8"}, {"S", "u16"}, {"I", "u32"}, {"L", "u64"}, {"c", "i8"},
      {"s", "i16"}, {"i", "i32"}, {"l", "i64"}, {"e", "f16"}, {"f", "f32"}, {"g", "f64"},
      {"u", "utf8"}, {"n", "null"}};
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
    if (!strcmp(s->format, prims[i].fmt)) return put(out, prims[i].name);
  char tmp[64];
  if (!strncmp(s->format, "+w:", 3)) {
    put(out, "FSL<");
    spec_child(s->children[0], out);
    snprintf(tmp, sizeof tmp, ",%s>", s->format + 3);
    return put(out, tmp);
  }
  if (!strcmp(s->format, "+l")) {
    put(out, "List<");
    spec_child(s->children[0], out);
    return put(out, ">");
  }
  bool is_union = !strncmp(s->format, "+ud:", 4);
  if (!strcmp(s->format, "+s") || is_union) {
    put(out, is_union ? "DenseUnion{" : "Struct{");
    const char *ids = s->format + 4;
    for (int64_t i = 0; i < s->n_children; i++) {
      const struct ArrowSchema *c = s->children[i];
      if (i) put(out, ", ");
      if (is_union) {
        long id = strtol(ids, (char **)&ids, 10);
        if (*ids == ',') ids++;
        snprintf(tmp, sizeof tmp, "%ld:", id);
        put(out, tmp);
      }
      put(out, c->name);
      if (c->flags & ARROW_FLAG_NULLABLE) put(out, "?");
      if (c->metadata) put(out, "(METADATA)");
      put(out, ": ");
      spec_type(c, out);
    }
    return put(out, "}");
  }
  put(out, "UNKNOWN(");
  put(out, s->format);
  put(out, ")");
}

static char *spec_string(const struct ArrowSchema *s) {
  rr_buf b = RR_BUF_INIT;
  spec_type(s, &b);
  assert_int_equal(rr_buf_append(&b, "", 1), RR_OK);
  size_t len;
  return (char *)rr_buf_steal(&b, &len);
}

#define ANNOT_INFO "Struct{id: u16, label?: utf8, color?: u32}"
#define TENSOR_UNION                                                                      \
  "DenseUnion{0:_null_markers?: null, 1:U8: List<u8>, 2:U16: List<u16>, 3:U32: List<u32>, " \
  "4:U64: List<u64>, 5:I8: List<i8>, 6:I16: List<i16>, 7:I32: List<i32>, 8:I64: List<i64>, " \
  "9:F16: List<f16>, 10:F32: List<f32>, 11:F64: List<f64>}"

/* archetypes.md §2.1 "Arrow type of ONE instance" (and §4.10, §4.14, §4.24). */
static const struct { const char *component, *type; } spec_catalogue[] = {
    {"Position2D", "FSL<f32,2>"}, {"Position3D", "FSL<f32,3>"}, {"Vector2D", "FSL<f32,2>"},
    {"Vector3D", "FSL<f32,3>"}, {"HalfSize2D", "FSL<f32,2>"}, {"HalfSize3D", "FSL<f32,3>"},
    {"Translation3D", "FSL<f32,3>"}, {"Scale3D", "FSL<f32,3>"}, {"RotationQuat", "FSL<f32,4>"},
    {"RotationAxisAngle", "Struct{axis: FSL<f32,3>, angle: f32}"},
    {"TransformMat3x3", "FSL<f32,9>"}, {"PinholeProjection", "FSL<f32,9>"},
    {"Resolution", "FSL<f32,2>"}, {"TransformRelation", "u8"}, {"TransformFrameId", "utf8"},
    {"ViewCoordinates", "FSL<u8,3>"}, {"ImagePlaneDistance", "f32"}, {"Radius", "f32"},
    {"Color", "u32"}, {"AlbedoFactor", "u32"}, {"Text", "utf8"}, {"ShowLabels", "bool"},
    {"DrawOrder", "f32"}, {"ClassId", "u16"}, {"KeypointId", "u16"},
    {"LineStrip2D", "List<FSL<f32,2>>"}, {"LineStrip3D", "List<FSL<f32,3>>"},
    {"TriangleIndices", "FSL<u32,3>"}, {"Texcoord2D", "FSL<f32,2>"},
    {"MeshFaceRendering", "u8"}, {"ImageBuffer", "List<u8>"},
    {"ImageFormat",
     "Struct{width: u32, height: u32, pixel_format?: u8, color_model?: u8, channel_datatype?: u8}"},
    {"Blob", "List<u8>"}, {"MediaType", "utf8"}, {"Opacity", "f32"},
    {"MagnificationFilter", "u8"}, {"DepthMeter", "f32"}, {"Colormap", "u8"},
    {"ValueRange", "FSL<f64,2>"}, {"FillRatio", "f32"}, {"FillMode", "u8"}, {"Length", "f32"},
    {"TensorData", "Struct{shape: List<u64>, names?: List<utf8>, buffer?: " TENSOR_UNION "}"},
    {"Scalar", "f64"}, {"StrokeWidth", "f32"}, {"Name", "utf8"}, {"Visible", "bool"},
    {"AggregationPolicy", "u8"}, {"InterpolationMode", "u8"}, {"MarkerShape", "u8"},
    {"MarkerSize", "f32"}, {"TextLogLevel", "utf8"},
    {"AnnotationContext",
     "List<Struct{class_id: u16, class_description: Struct{info: " ANNOT_INFO
     ", keypoint_annotations: List<" ANNOT_INFO ">, keypoint_connections: "
     "List<Struct{keypoint0: u16, keypoint1: u16}>}}>"},
    {"ClearIsRecursive", "bool"}, {"GraphNode", "utf8"},
    {"GraphEdge", "Struct{first: utf8, second: utf8}"}, {"GraphType", "u8"},
    {"LatLon", "FSL<f64,2>"}, {"GeoLineString", "List<FSL<f64,2>>"}, {"Timestamp", "i64"},
    {"AxisLength", "f32"}, {"EntityPath", "utf8"}, {"VideoTimestamp", "i64"},
    {"VideoCodec", "u32"}, {"VideoSample", "List<u8>"}, {"IsKeyframe", "bool"},
    {"CellSize", "f32"}, /* not in §2.1; Float32 per re_sdk_types components/cell_size.rs */
};

/* ---- rendering values -------------------------------------------------------- */

static bool bit(const void *bits, int64_t i) { return ((const uint8_t *)bits)[i >> 3] >> (i & 7) & 1; }

static void putf(rr_buf *out, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(out, tmp);
}

/* Element i of an array, as canonical JSON-ish text guided by the type. */
static void render_array(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i, rr_buf *out) {
  int64_t k = a->offset + i;
  bool is_union = !strncmp(s->format, "+ud:", 4);
  if (!is_union && strcmp(s->format, "n") && a->null_count != 0 && a->buffers[0] && !bit(a->buffers[0], k))
    return put(out, "null");
  const char *f = s->format;
  const void *v = a->n_buffers > 1 ? a->buffers[1] : NULL;
  if (!strcmp(f, "n")) return put(out, "null");
  if (!strcmp(f, "f")) return putf(out, "%.9g", (double)((const float *)v)[k]);
  if (!strcmp(f, "g")) return putf(out, "%.17g", ((const double *)v)[k]);
  if (!strcmp(f, "b")) return put(out, bit(v, k) ? "true" : "false");
  if (!strcmp(f, "C")) return putf(out, "%u", ((const uint8_t *)v)[k]);
  if (!strcmp(f, "S")) return putf(out, "%u", ((const uint16_t *)v)[k]);
  if (!strcmp(f, "I")) return putf(out, "%u", ((const uint32_t *)v)[k]);
  if (!strcmp(f, "L")) return putf(out, "%llu", (unsigned long long)((const uint64_t *)v)[k]);
  if (!strcmp(f, "c")) return putf(out, "%d", ((const int8_t *)v)[k]);
  if (!strcmp(f, "s")) return putf(out, "%d", ((const int16_t *)v)[k]);
  if (!strcmp(f, "i")) return putf(out, "%d", ((const int32_t *)v)[k]);
  if (!strcmp(f, "l")) return putf(out, "%lld", (long long)((const int64_t *)v)[k]);
  if (!strcmp(f, "e")) return putf(out, "h%u", ((const uint16_t *)v)[k]);
  if (!strcmp(f, "u")) {
    const int32_t *o = v;
    put(out, "\"");
    assert_int_equal(rr_buf_append(out, (const char *)a->buffers[2] + o[k], (size_t)(o[k + 1] - o[k])), RR_OK);
    return put(out, "\"");
  }
  if (!strncmp(f, "+w:", 3) || !strcmp(f, "+l")) {
    int64_t lo, hi;
    if (f[1] == 'w') {
      int64_t n = atoll(f + 3);
      lo = k * n, hi = lo + n;
    } else {
      lo = ((const int32_t *)v)[k], hi = ((const int32_t *)v)[k + 1];
    }
    put(out, "[");
    for (int64_t j = lo; j < hi; j++) {
      if (j > lo) put(out, ",");
      render_array(s->children[0], a->children[0], j, out);
    }
    return put(out, "]");
  }
  if (!strcmp(f, "+s")) {
    put(out, "{");
    for (int64_t c = 0; c < s->n_children; c++) {
      putf(out, "%s%s:", c ? "," : "", s->children[c]->name);
      render_array(s->children[c], a->children[c], k, out);
    }
    return put(out, "}");
  }
  if (is_union) {
    int8_t id = ((const int8_t *)a->buffers[0])[k];
    int32_t off = ((const int32_t *)a->buffers[1])[k];
    putf(out, "[\"%s\",", s->children[id]->name); /* type ids are 0..n-1 here */
    render_array(s->children[id], a->children[id], off, out);
    return put(out, "]");
  }
  fail_msg("cannot render format %s", f);
}

/* The same rendering from a JSON value, guided by the same type. */
static void render_json(const struct ArrowSchema *s, const jm *j, rr_buf *out) {
  const char *f = s->format;
  if (j->t == JM_NULL) return put(out, "null");
  if (!strcmp(f, "f")) return putf(out, "%.9g", (double)(float)j->num);
  if (!strcmp(f, "g")) return putf(out, "%.17g", j->num);
  if (!strcmp(f, "b")) return put(out, j->b ? "true" : "false");
  if (strchr("CSIL", f[0]) && !f[1]) return putf(out, "%llu", strtoull(j->str, NULL, 10));
  if (strchr("csil", f[0]) && !f[1]) return putf(out, "%lld", strtoll(j->str, NULL, 10));
  if (!strcmp(f, "u")) {
    put(out, "\"");
    put(out, j->str);
    return put(out, "\"");
  }
  if (!strncmp(f, "+w:", 3) || !strcmp(f, "+l")) {
    assert_int_equal(j->t, JM_ARR);
    put(out, "[");
    for (size_t i = 0; i < j->n; i++) {
      if (i) put(out, ",");
      render_json(s->children[0], j->v[i], out);
    }
    return put(out, "]");
  }
  if (!strcmp(f, "+s")) {
    assert_int_equal(j->t, JM_OBJ);
    put(out, "{");
    for (int64_t c = 0; c < s->n_children; c++) {
      putf(out, "%s%s:", c ? "," : "", s->children[c]->name);
      const jm *v = jm_get(j, s->children[c]->name);
      assert_non_null(v);
      render_json(s->children[c], v, out);
    }
    return put(out, "}");
  }
  if (!strncmp(f, "+ud:", 4)) {
    assert_true(j->t == JM_ARR && j->n == 2 && j->v[0]->t == JM_STR);
    for (int64_t c = 0; c < s->n_children; c++) {
      if (strcmp(s->children[c]->name, j->v[0]->str)) continue;
      putf(out, "[\"%s\",", s->children[c]->name);
      render_json(s->children[c], j->v[1], out);
      return put(out, "]");
    }
    fail_msg("unknown union variant %s", j->v[0]->str);
  }
  fail_msg("cannot render format %s", f);
}

static char *buf_cstr(rr_buf *b) {
  assert_int_equal(rr_buf_append(b, "", 1), RR_OK);
  size_t len;
  return (char *)rr_buf_steal(b, &len);
}

/* ---- helpers ----------------------------------------------------------------- */

static const rr__component_def *comp(const char *name) {
  const rr__component_def *c = rr__component_find(name);
  assert_non_null(c);
  return c;
}

/* Appends through the component definition and returns the finished array. */
static int append_to_array(const rr__component_def *c, const void *inst, size_t n,
                           struct ArrowArray *out, rr_error *err) {
  rr_arrow_builder *b = NULL;
  const struct ArrowSchema *t = c->arrow_type();
  assert_non_null(t);
  assert_int_equal(rr_arrow_builder_new(&b, t), RR_OK);
  int rc = c->append(b, inst, n, err);
  if (rc == RR_OK) {
    assert_int_equal(rr_arrow_builder_length(b), (int64_t)n);
    assert_int_equal(rr_arrow_builder_finish(b, out), RR_OK);
    rr_error verr = {0};
    int vrc = rr_arrow_array_validate(out, t, &verr);
    if (vrc != RR_OK) fail_msg("%s: built array does not validate: %s", c->type_name, verr.msg);
  } else {
    /* A rejected batch leaves the builder untouched. */
    assert_int_equal(rr_arrow_builder_length(b), 0);
  }
  rr_arrow_builder_free(b);
  return rc;
}

static char *render_all(const rr__component_def *c, const struct ArrowArray *a) {
  rr_buf b = RR_BUF_INIT;
  put(&b, "[");
  for (int64_t i = 0; i < a->length; i++) {
    if (i) put(&b, ",");
    render_array(c->arrow_type(), a, i, &b);
  }
  put(&b, "]");
  return buf_cstr(&b);
}

/* ---- tests: schemas ---------------------------------------------------------- */

struct thread_result { const struct ArrowSchema *s[RR__COMP_COUNT]; };

static void *race_init(void *arg) {
  struct thread_result *r = arg;
  for (size_t i = RR__COMP_COUNT; i-- > 0;) r->s[i] = rr__component_at(i)->arrow_type();
  return NULL;
}

/* Runs first: several threads race to build the schemas; all must see the
 * same, complete, shared objects. */
static void test_concurrent_first_use(void **state) {
  pthread_t th[4];
  struct thread_result res[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, race_init, &res[i]), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
  for (size_t c = 0; c < RR__COMP_COUNT; c++) {
    assert_non_null(res[0].s[c]);
    assert_non_null(res[0].s[c]->release);
    for (int i = 1; i < 4; i++) assert_ptr_equal(res[i].s[c], res[0].s[c]);
  }
  assert_int_equal(rr__types_init(NULL), RR_OK);
}

static void test_value_types_match_spec(void **state) {
  size_t n = sizeof spec_catalogue / sizeof spec_catalogue[0];
  assert_int_equal(n, RR__COMP_COUNT); /* every component is covered, no more */
  for (size_t i = 0; i < n; i++) {
    const rr__component_def *c = comp(spec_catalogue[i].component);
    char full[96];
    snprintf(full, sizeof full, "rerun.components.%s", spec_catalogue[i].component);
    assert_string_equal(c->type_name, full);
    assert_ptr_equal(rr__component_find(full), c);
    const struct ArrowSchema *t = c->arrow_type();
    assert_non_null(t);
    /* The value type is the column list's child field: "item", nullable. */
    assert_string_equal(t->name, "item");
    assert_true(t->flags & ARROW_FLAG_NULLABLE);
    assert_null(t->metadata);
    char *got = spec_string(t);
    if (strcmp(got, spec_catalogue[i].type))
      fail_msg("%s: value type %s, spec says %s", c->type_name, got, spec_catalogue[i].type);
    rr__free(got);
  }
  assert_null(rr__component_find("rerun.components.Nope"));
  assert_null(rr__component_find(NULL));
  assert_null(rr__component_at(RR__COMP_COUNT));
}

/* ---- tests: the archetype table ---------------------------------------------- */

static void test_archetype_table(void **state) {
  assert_int_equal(RR_ARCHETYPE_COUNT, 43);
  size_t total = 0;
  for (int id = 0; id < RR_ARCHETYPE_COUNT; id++) {
    const rr__archetype_def *a = rr__archetype_get((rr_archetype_id)id);
    assert_non_null(a);
    assert_int_equal(a->id, id);
    char full[96];
    snprintf(full, sizeof full, "rerun.archetypes.%s", a->short_name);
    assert_string_equal(a->name, full);
    assert_ptr_equal(rr__archetype_find(a->name), a);
    assert_ptr_equal(rr__archetype_find(a->short_name), a);
    assert_true(a->nfields > 0);
    assert_int_equal(a->struct_size, a->nfields * (sizeof(void *) + sizeof(size_t)));
    assert_non_null(a->validate);
    for (size_t i = 0; i < a->nfields; i++) {
      const rr__field_def *f = &a->fields[i];
      char ident[128];
      snprintf(ident, sizeof ident, "%s:%s", a->short_name, f->name);
      assert_string_equal(f->component, ident);
      assert_ptr_equal(rr__archetype_field(a, f->name), f);
      assert_non_null(f->type);
      assert_true(f->kind >= RR_FIELD_REQ && f->kind <= RR_FIELD_OPT);
      assert_true(f->ptr_offset == i * 16 && f->count_offset == i * 16 + 8);
      total++;
    }
  }
  assert_int_equal(total, 231); /* every field of the 43 archetypes in the 0.33 .fbs definitions */
  assert_null(rr__archetype_get(RR_ARCHETYPE_COUNT));
  assert_null(rr__archetype_find("rerun.archetypes.AnyValues"));

  /* Spot checks against §4 (kind, cardinality, component type). */
  static const struct { const char *arch, *field, *type; int kind, mono; } spot[] = {
      {"Points3D", "positions", "Position3D", RR_FIELD_REQ, 0},
      {"Points3D", "show_labels", "ShowLabels", RR_FIELD_OPT, 1},
      {"Points2D", "draw_order", "DrawOrder", RR_FIELD_OPT, 1},
      {"Boxes3D", "centers", "Translation3D", RR_FIELD_REC, 0},
      {"Boxes3D", "fill_mode", "FillMode", RR_FIELD_OPT, 1},
      {"Arrows3D", "colors", "Color", RR_FIELD_OPT, 0},
      {"Mesh3D", "albedo_texture_format", "ImageFormat", RR_FIELD_OPT, 1},
      {"Image", "format", "ImageFormat", RR_FIELD_REQ, 1},
      {"SeriesPoints", "markers", "MarkerShape", RR_FIELD_REQ, 0},
      {"TextDocument", "media_type", "MediaType", RR_FIELD_OPT, 1},
      {"Transform3D", "relation", "TransformRelation", RR_FIELD_OPT, 1},
      {"Pinhole", "line_width", "Radius", RR_FIELD_OPT, 1},
      {"ViewCoordinates", "xyz", "ViewCoordinates", RR_FIELD_REQ, 1},
      {"Clear", "is_recursive", "ClearIsRecursive", RR_FIELD_REQ, 1},
      {"Capsules3D", "radii", "Radius", RR_FIELD_REQ, 0},
      {"Cylinders3D", "centers", "Translation3D", RR_FIELD_REC, 0},
      {"GraphEdges", "graph_type", "GraphType", RR_FIELD_REC, 1},
      {"GeoPoints", "positions", "LatLon", RR_FIELD_REQ, 0},
      {"RecordingInfo", "start_time", "Timestamp", RR_FIELD_OPT, 1},
      {"BarChart", "widths", "Length", RR_FIELD_OPT, 0},
      {"AnnotationContext", "context", "AnnotationContext", RR_FIELD_REQ, 1},
  };
  for (size_t i = 0; i < sizeof spot / sizeof spot[0]; i++) {
    const rr__field_def *f = rr__archetype_field(rr__archetype_find(spot[i].arch), spot[i].field);
    assert_non_null(f);
    assert_string_equal(f->type->short_name, spot[i].type);
    assert_int_equal(f->kind, spot[i].kind);
    assert_int_equal(f->mono, spot[i].mono);
  }
  /* The generated struct layout is what the field table says. */
  assert_int_equal(offsetof(rr_points3d, colors), rr__archetype_field(rr__archetype_get(RR_ARCHETYPE_POINTS3D), "colors")->ptr_offset);
  assert_int_equal(offsetof(rr_image, num_format), rr__archetype_field(rr__archetype_get(RR_ARCHETYPE_IMAGE), "format")->count_offset);
}

/* ---- tests: append every field of every archetype ---------------------------- */

/* Three valid sample instances of any component; returns a pointer into `store`. */
static const void *sample3(const rr__component_def *c, void *store) {
  static const float f[27] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                              15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
  static const double d[6] = {0.5, 1.5, -2, 3, 4.25, 5};
  static const int64_t i64[3] = {-1, 0, 1780000000000000000};
  static const uint16_t u16[3] = {0, 7, 65535};
  static const uint32_t u32[9] = {0, 1, 2, 2, 1, 0, 0xFF0000FFu, 1, 2};
  static const bool bl[3] = {true, false, true};
  static const char *const txt[3] = {"a", "h\xC3\xA9", ""};
  static const uint32_t codecs[3] = {RR_VIDEO_CODEC_AV1, RR_VIDEO_CODEC_H264, RR_VIDEO_CODEC_VP9};
  static const rr_view_coords views[3] = {RR_VIEW_COORDINATES_RDF, RR_VIEW_COORDINATES_RUB, RR_VIEW_COORDINATES_FLU};
  static const uint8_t bytes[5] = {1, 2, 3, 4, 5};
  static const rr_bytes blobs[3] = {{bytes, 5}, {NULL, 0}, {bytes + 1, 2}};
  static const rr_vec2 p2[3] = {{0, 0}, {1, 1}, {2, 0}};
  static const rr_vec3 p3[3] = {{0, 0, 0}, {1, 1, 1}, {2, 0, 1}};
  static const rr_lat_lon ll[2] = {{59.3, 18.1}, {48.9, 2.35}};
  static const rr_line_strip2d s2[3] = {{p2, 3}, {NULL, 0}, {p2 + 1, 2}};
  static const rr_line_strip3d s3[3] = {{p3, 3}, {p3, 1}, {NULL, 0}};
  static const rr_geo_line_string sg[3] = {{ll, 2}, {ll, 1}, {NULL, 0}};
  static const rr_image_format fmts[3] = {{16, 12, 0, 0, RR_CHANNEL_DATATYPE_U16},
                                          {4, 3, 0, RR_COLOR_MODEL_RGB, RR_CHANNEL_DATATYPE_U8},
                                          {8, 8, RR_PIXEL_FORMAT_NV12, 0, 0}};
  static const rr_rotation_axis_angle aa[3] = {{{0, 0, 1}, 0.5f}, {{1, 0, 0}, 0}, {{0, 1, 0}, -1}};
  static const rr_graph_edge edges[3] = {{"a", "b"}, {"b", "c"}, {"c", "a"}};
  static const uint64_t shape[2] = {2, 3};
  static const char *const dims[2] = {"h", "w"};
  static const float tf[6] = {1, 2, 3, 4, 5, 6};
  static const uint8_t tb[6] = {1, 2, 3, 4, 5, 6};
  static const rr_tensor_data tensors[3] = {{shape, 2, dims, RR_TENSOR_DTYPE_F32, tf, 6},
                                            {shape + 1, 1, NULL, RR_TENSOR_DTYPE_U8, tb, 3},
                                            {shape, 1, NULL, RR_TENSOR_DTYPE_F64, d, 2}};
  static const rr_annotation_info kps[2] = {{0, "nose", RR_RGBA(255, 0, 0, 255), true}, {1, NULL, 0, false}};
  static const rr_keypoint_pair conns[1] = {{0, 1}};
  static const rr_class_description classes[2] = {
      {{0, "background", 0x000000FF, true}, NULL, 0, NULL, 0},
      {{7, NULL, 0, false}, kps, 2, conns, 1}};
  static const rr_annotation_classes ctx[3] = {{classes, 2}, {NULL, 0}, {classes + 1, 1}};
  switch (c->rep) {
  case RR__REP_F32: case RR__REP_FSL_F32: return f;
  case RR__REP_F64: case RR__REP_FSL_F64: return d;
  case RR__REP_I64: return i64;
  case RR__REP_U16: return u16;
  case RR__REP_U32: case RR__REP_FSL_U32: return u32;
  case RR__REP_BOOL: return bl;
  case RR__REP_UTF8: return txt;
  case RR__REP_ENUM8: {
    uint8_t *e = store;
    int lo = 0;
    while (!(c->param >> lo & 1)) lo++;
    int hi = 63;
    while (!(c->param >> hi & 1)) hi--;
    e[0] = (uint8_t)lo, e[1] = (uint8_t)hi, e[2] = (uint8_t)lo;
    return e;
  }
  case RR__REP_ENUM32: return codecs;
  case RR__REP_VIEW: return views;
  case RR__REP_BLOB: return blobs;
  case RR__REP_STRIP_F32: return c->param == 2 ? (const void *)s2 : (const void *)s3;
  case RR__REP_STRIP_F64: return sg;
  case RR__REP_IMAGE_FORMAT: return fmts;
  case RR__REP_AXIS_ANGLE: return aa;
  case RR__REP_UTF8_PAIR: return edges;
  case RR__REP_TENSOR: return tensors;
  case RR__REP_ANNOTATION: return ctx;
  default: fail_msg("no sample for %s", c->type_name);
  }
  return NULL;
}

static void test_append_every_field(void **state) {
  size_t checked = 0;
  for (int id = 0; id < RR_ARCHETYPE_COUNT; id++) {
    const rr__archetype_def *a = rr__archetype_get((rr_archetype_id)id);
    for (size_t i = 0; i < a->nfields; i++) {
      const rr__field_def *f = &a->fields[i];
      uint8_t store[16];
      const void *inst = sample3(f->type, store);
      size_t n = f->mono ? 1 : 3;
      /* The archetype struct with only this field set validates... */
      unsigned char arch[1024] = {0};
      assert_true(a->struct_size <= sizeof arch);
      memcpy(arch + f->ptr_offset, &inst, sizeof inst);
      memcpy(arch + f->count_offset, &n, sizeof n);
      rr_error err = {0};
      if (a->validate(arch, &err) != RR_OK) fail_msg("%s: %s", f->component, err.msg);
      /* ...and its values append to a builder of the component's value type. */
      struct ArrowArray arr;
      if (append_to_array(f->type, inst, n, &arr, &err) != RR_OK) fail_msg("%s: %s", f->component, err.msg);
      assert_int_equal(arr.length, (int64_t)n);
      char *txt = render_all(f->type, &arr); /* walks every buffer */
      assert_true(strlen(txt) > 2);
      rr__free(txt);
      arr.release(&arr);
      /* An empty batch (a "clear") is valid too. */
      size_t zero = 0;
      memcpy(arch + f->count_offset, &zero, sizeof zero);
      assert_int_equal(a->validate(arch, &err), RR_OK);
      checked++;
    }
  }
  assert_int_equal(checked, 231);
}

/* Concrete values: what lands in the buffers. */
static void test_values(void **state) {
  struct ArrowArray arr;
  rr_error err = {0};
  rr_color colors[2] = {RR_RGBA(255, 0, 0, 255), RR_RGB(0, 255, 0)};
  assert_int_equal(colors[0], 4278190335u);
  assert_int_equal(append_to_array(comp("Color"), colors, 2, &arr, &err), RR_OK);
  const uint8_t *cb = arr.buffers[1];
  assert_memory_equal(cb, "\xFF\x00\x00\xFF\xFF\x00\xFF\x00", 8); /* AA BB GG RR */
  arr.release(&arr);

  rr_image_format fmt = {16, 12, 0, 0, RR_CHANNEL_DATATYPE_U16};
  assert_int_equal(append_to_array(comp("ImageFormat"), &fmt, 1, &arr, &err), RR_OK);
  char *txt = render_all(comp("ImageFormat"), &arr);
  assert_string_equal(txt, "[{width:16,height:12,pixel_format:null,color_model:null,channel_datatype:8}]");
  rr__free(txt);
  arr.release(&arr);

  bool flags[3] = {true, false, true};
  assert_int_equal(append_to_array(comp("ShowLabels"), flags, 3, &arr, &err), RR_OK);
  assert_int_equal(((const uint8_t *)arr.buffers[1])[0] & 7, 5);
  arr.release(&arr);

  uint64_t shape[2] = {2, 2};
  int16_t vals[4] = {-1, 2, -3, 4};
  rr_tensor_data t = {shape, 2, NULL, RR_TENSOR_DTYPE_I16, vals, 4};
  assert_int_equal(append_to_array(comp("TensorData"), &t, 1, &arr, &err), RR_OK);
  txt = render_all(comp("TensorData"), &arr);
  assert_string_equal(txt, "[{shape:[2,2],names:null,buffer:[\"I16\",[-1,2,-3,4]]}]");
  rr__free(txt);
  /* dense union: type id 6, offset 0 within the I16 child */
  const struct ArrowArray *u = arr.children[2];
  assert_int_equal(((const int8_t *)u->buffers[0])[0], 6);
  assert_int_equal(((const int32_t *)u->buffers[1])[0], 0);
  arr.release(&arr);

  rr_rotation_axis_angle aa = {{0, 0, 1}, 0.5f};
  assert_int_equal(append_to_array(comp("RotationAxisAngle"), &aa, 1, &arr, &err), RR_OK);
  txt = render_all(comp("RotationAxisAngle"), &arr);
  assert_string_equal(txt, "[{axis:[0,0,1],angle:0.5}]");
  rr__free(txt);
  arr.release(&arr);

  rr_graph_edge e = {"a", "b"};
  assert_int_equal(append_to_array(comp("GraphEdge"), &e, 1, &arr, &err), RR_OK);
  txt = render_all(comp("GraphEdge"), &arr);
  assert_string_equal(txt, "[{first:\"a\",second:\"b\"}]");
  rr__free(txt);
  arr.release(&arr);

  /* NaN is a legal Scalar (a gap in a plot). */
  rr_scalar sc[2] = {NAN, 1.0};
  assert_int_equal(append_to_array(comp("Scalar"), sc, 2, &arr, &err), RR_OK);
  assert_true(isnan(((const double *)arr.buffers[1])[0]));
  arr.release(&arr);
}

/* ---- tests: golden values.json through our builders ------------------------- */

static char *read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
  p[n] = 0;
  fclose(fp);
  if (len) *len = (size_t)n;
  return p;
}

/* Allocations made while converting one cell, freed together. */
struct pool { void *p[4096]; size_t n; };
static void *pool_alloc(struct pool *pl, size_t n) {
  assert_true(pl->n < 4096);
  return pl->p[pl->n++] = calloc(1, n ? n : 1);
}
static void pool_free(struct pool *pl) {
  while (pl->n) free(pl->p[--pl->n]);
}

static const char *const variant_names[12] = {"_null_markers", "U8", "U16", "U32", "U64", "I8",
                                              "I16", "I32", "I64", "F16", "F32", "F64"};

static void json_number_to(const jm *j, const char *fmt, void *dst) {
  assert_int_equal(j->t, JM_NUM);
  switch (fmt[0]) {
  case 'f': *(float *)dst = (float)j->num; break;
  case 'g': *(double *)dst = j->num; break;
  case 'C': *(uint8_t *)dst = (uint8_t)strtoul(j->str, NULL, 10); break;
  case 'S': *(uint16_t *)dst = (uint16_t)strtoul(j->str, NULL, 10); break;
  case 'I': *(uint32_t *)dst = (uint32_t)strtoul(j->str, NULL, 10); break;
  case 'L': *(uint64_t *)dst = strtoull(j->str, NULL, 10); break;
  case 'c': *(int8_t *)dst = (int8_t)strtol(j->str, NULL, 10); break;
  case 's': *(int16_t *)dst = (int16_t)strtol(j->str, NULL, 10); break;
  case 'i': *(int32_t *)dst = (int32_t)strtol(j->str, NULL, 10); break;
  case 'l': *(int64_t *)dst = strtoll(j->str, NULL, 10); break;
  default: fail_msg("number to %s", fmt);
  }
}

static size_t prim_size(const char *fmt) {
  switch (fmt[0]) {
  case 'C': case 'c': return 1;
  case 'S': case 's': case 'e': return 2;
  case 'I': case 'i': case 'f': return 4;
  default: return 8;
  }
}

/* A flat array of numbers (nested lists flattened) of format `fmt`. */
static void *json_flat(struct pool *pl, const jm *j, const char *fmt, size_t *count) {
  size_t cap = 0;
  const jm *stack[8];
  /* count leaves */
  size_t n = 0;
  for (size_t i = 0; i < j->n; i++) n += j->v[i]->t == JM_ARR ? j->v[i]->n : 1;
  cap = n;
  uint8_t *out = pool_alloc(pl, cap * prim_size(fmt));
  size_t k = 0;
  for (size_t i = 0; i < j->n; i++) {
    stack[0] = j->v[i];
    if (stack[0]->t == JM_ARR)
      for (size_t m = 0; m < stack[0]->n; m++) json_number_to(stack[0]->v[m], fmt, out + prim_size(fmt) * k++);
    else
      json_number_to(stack[0], fmt, out + prim_size(fmt) * k++);
  }
  *count = k;
  return out;
}

static void json_info(const jm *j, rr_annotation_info *out) {
  json_number_to(jm_get(j, "id"), "S", &out->id);
  const jm *l = jm_get(j, "label"), *c = jm_get(j, "color");
  out->label = l && l->t == JM_STR ? l->str : NULL;
  out->has_color = c && c->t == JM_NUM;
  if (out->has_color) json_number_to(c, "I", &out->color);
}

/* Converts the JSON list of instances of one cell into C instances. */
static void *json_instances(struct pool *pl, const rr__component_def *c, const jm *cell, size_t *n) {
  assert_int_equal(cell->t, JM_ARR);
  *n = cell->n;
  size_t cnt;
  switch (c->rep) {
  case RR__REP_F32: case RR__REP_FSL_F32: return json_flat(pl, cell, "f", &cnt);
  case RR__REP_F64: case RR__REP_FSL_F64: return json_flat(pl, cell, "g", &cnt);
  case RR__REP_I64: return json_flat(pl, cell, "l", &cnt);
  case RR__REP_U16: return json_flat(pl, cell, "S", &cnt);
  case RR__REP_U32: case RR__REP_ENUM32: case RR__REP_FSL_U32: return json_flat(pl, cell, "I", &cnt);
  case RR__REP_ENUM8: case RR__REP_VIEW: return json_flat(pl, cell, "C", &cnt);
  case RR__REP_BOOL: {
    bool *b = pool_alloc(pl, cell->n);
    for (size_t i = 0; i < cell->n; i++) b[i] = cell->v[i]->b;
    return b;
  }
  case RR__REP_UTF8: {
    const char **s = pool_alloc(pl, cell->n * sizeof *s);
    for (size_t i = 0; i < cell->n; i++) s[i] = cell->v[i]->str;
    return s;
  }
  case RR__REP_BLOB: {
    rr_bytes *b = pool_alloc(pl, cell->n * sizeof *b);
    for (size_t i = 0; i < cell->n; i++) {
      const jm *one[1] = {cell->v[i]};
      jm wrap = {.t = JM_ARR, .n = 1, .v = (jm **)one};
      b[i].ptr = json_flat(pl, &wrap, "C", &b[i].len);
    }
    return b;
  }
  case RR__REP_STRIP_F32: case RR__REP_STRIP_F64: {
    rr_line_strip3d *s = pool_alloc(pl, cell->n * sizeof *s); /* {ptr, count} like the others */
    for (size_t i = 0; i < cell->n; i++) {
      s[i].points = json_flat(pl, cell->v[i], c->rep == RR__REP_STRIP_F32 ? "f" : "g", &cnt);
      s[i].num_points = cell->v[i]->n;
    }
    return s;
  }
  case RR__REP_IMAGE_FORMAT: {
    rr_image_format *f = pool_alloc(pl, cell->n * sizeof *f);
    for (size_t i = 0; i < cell->n; i++) {
      const jm *o = cell->v[i], *v;
      json_number_to(jm_get(o, "width"), "I", &f[i].width);
      json_number_to(jm_get(o, "height"), "I", &f[i].height);
      if ((v = jm_get(o, "pixel_format"))->t == JM_NUM) json_number_to(v, "C", &f[i].pixel_format);
      if ((v = jm_get(o, "color_model"))->t == JM_NUM) json_number_to(v, "C", &f[i].color_model);
      if ((v = jm_get(o, "channel_datatype"))->t == JM_NUM) json_number_to(v, "C", &f[i].channel_datatype);
    }
    return f;
  }
  case RR__REP_AXIS_ANGLE: {
    rr_rotation_axis_angle *r = pool_alloc(pl, cell->n * sizeof *r);
    for (size_t i = 0; i < cell->n; i++) {
      const jm *ax = jm_get(cell->v[i], "axis");
      json_number_to(ax->v[0], "f", &r[i].axis.x);
      json_number_to(ax->v[1], "f", &r[i].axis.y);
      json_number_to(ax->v[2], "f", &r[i].axis.z);
      json_number_to(jm_get(cell->v[i], "angle"), "f", &r[i].angle);
    }
    return r;
  }
  case RR__REP_TENSOR: {
    rr_tensor_data *t = pool_alloc(pl, cell->n * sizeof *t);
    for (size_t i = 0; i < cell->n; i++) {
      const jm *o = cell->v[i], *names = jm_get(o, "names"), *buf = jm_get(o, "buffer");
      t[i].shape = json_flat(pl, jm_get(o, "shape"), "L", &t[i].ndim);
      if (names->t == JM_ARR) {
        const char **nm = pool_alloc(pl, names->n * sizeof *nm);
        for (size_t k = 0; k < names->n; k++) nm[k] = names->v[k]->str;
        t[i].names = nm;
      }
      int dt = 0;
      for (int k = 1; k < 12; k++)
        if (!strcmp(variant_names[k], buf->v[0]->str)) dt = k;
      assert_true(dt > 0);
      static const char *const fmts[12] = {"n", "C", "S", "I", "L", "c", "s", "i", "l", "S", "f", "g"};
      t[i].dtype = (rr_tensor_dtype)dt;
      t[i].data = json_flat(pl, buf->v[1], fmts[dt], &t[i].num_elements);
    }
    return t;
  }
  case RR__REP_ANNOTATION: {
    rr_annotation_classes *ac = pool_alloc(pl, cell->n * sizeof *ac);
    for (size_t i = 0; i < cell->n; i++) {
      const jm *list = cell->v[i];
      rr_class_description *cds = pool_alloc(pl, list->n * sizeof *cds);
      for (size_t k = 0; k < list->n; k++) {
        const jm *cdj = jm_get(list->v[k], "class_description");
        json_info(jm_get(cdj, "info"), &cds[k].info);
        uint16_t class_id;
        json_number_to(jm_get(list->v[k], "class_id"), "S", &class_id);
        assert_int_equal(class_id, cds[k].info.id); /* our API derives class_id from info.id */
        const jm *kps = jm_get(cdj, "keypoint_annotations"), *cs = jm_get(cdj, "keypoint_connections");
        rr_annotation_info *ki = pool_alloc(pl, kps->n * sizeof *ki);
        for (size_t m = 0; m < kps->n; m++) json_info(kps->v[m], &ki[m]);
        rr_keypoint_pair *kp = pool_alloc(pl, cs->n * sizeof *kp);
        for (size_t m = 0; m < cs->n; m++) {
          json_number_to(jm_get(cs->v[m], "keypoint0"), "S", &kp[m].keypoint0);
          json_number_to(jm_get(cs->v[m], "keypoint1"), "S", &kp[m].keypoint1);
        }
        cds[k].keypoints = ki, cds[k].num_keypoints = kps->n;
        cds[k].connections = kp, cds[k].num_connections = cs->n;
      }
      ac[i].classes = cds, ac[i].num_classes = list->n;
    }
    return ac;
  }
  default: fail_msg("%s: no JSON conversion", c->type_name);
  }
  return NULL;
}

/* Appends one values.json cell through our builder (after validating it as
 * an archetype call), checks that the array renders back to the JSON
 * values, and returns our rendering (caller frees with rr__free). */
static char *ours_for_cell(const rr__archetype_def *a, const rr__field_def *f, const jm *cell,
                           const char *ident, size_t r) {
  struct pool pl = {.n = 0};
  size_t n;
  void *inst = json_instances(&pl, f->type, cell, &n);
  /* The whole archetype call validates (mono counts etc.)... */
  unsigned char archs[1024] = {0};
  memcpy(archs + f->ptr_offset, &inst, sizeof inst);
  memcpy(archs + f->count_offset, &n, sizeof n);
  rr_error err = {0};
  if (a->validate(archs, &err) != RR_OK) fail_msg("%s row %zu: %s", ident, r, err.msg);
  /* ...and the values come back out of our arrays unchanged. */
  struct ArrowArray arr;
  if (append_to_array(f->type, inst, n, &arr, &err) != RR_OK) fail_msg("%s: %s", ident, err.msg);
  char *got = render_all(f->type, &arr);
  rr_buf want = RR_BUF_INIT;
  put(&want, "[");
  for (size_t i = 0; i < n; i++) {
    if (i) put(&want, ",");
    render_json(f->type->arrow_type(), cell->v[i], &want);
  }
  put(&want, "]");
  char *w = buf_cstr(&want);
  if (strcmp(got, w)) fail_msg("%s row %zu:\n ours %s\n want %s", ident, r, got, w);
  rr__free(w);
  arr.release(&arr);
  pool_free(&pl);
  return got;
}

static void test_golden_values_roundtrip(void **state) {
  char *text = read_file(GOLDEN_DIR "/values.json", NULL);
  if (!text) {
    skip();
    return;
  }
  jm *root = jm_parse(text);
  free(text);
  assert_int_equal(root->t, JM_OBJ);
  size_t columns = 0, cells = 0;
  for (size_t fi = 0; fi < root->n; fi++) {
    const jm *chunks = jm_get(root->v[fi], "chunks");
    for (size_t ci = 0; ci < chunks->n; ci++) {
      const jm *cols = jm_get(chunks->v[ci], "columns");
      for (size_t k = 0; k < cols->n; k++) {
        const jm *col = cols->v[k], *arch = jm_get(col, "archetype");
        if (arch->t != JM_STR) continue; /* AnyValues: not an archetype */
        const char *ident = jm_get(col, "component")->str;
        const rr__archetype_def *a = rr__archetype_find(arch->str);
        assert_non_null(a);
        const char *colon = strchr(ident, ':');
        assert_non_null(colon);
        const rr__field_def *f = rr__archetype_field(a, colon + 1);
        if (!f) fail_msg("%s: not in our table", ident);
        assert_string_equal(f->component, ident);
        assert_string_equal(f->type->type_name, jm_get(col, "component_type")->str);
        const jm *cl = jm_get(col, "cells");
        for (size_t r = 0; r < cl->n; r++) {
          if (cl->v[r]->t == JM_NULL) continue;
          char *got = ours_for_cell(a, f, cl->v[r], ident, r);
          rr__free(got);
          cells++;
        }
        columns++;
      }
    }
  }
  jm_free(root);
  assert_true(columns >= 70);
  assert_true(cells >= 150);
}

/* ---- tests: the Arrow types and values inside the golden .rrd files ------- */

struct rrd_ctx {
  const jm *file;     /* values.json entry of this recording */
  size_t chunk;       /* index of the next ArrowMsg */
  size_t columns, compared_cells;
};

static const jm *json_column(const jm *chunk, const char *ident) {
  const jm *cols = jm_get(chunk, "columns");
  for (size_t i = 0; i < cols->n; i++)
    if (!strcmp(jm_get(cols->v[i], "component")->str, ident)) return cols->v[i];
  return NULL;
}

static void check_rrd_column(struct rrd_ctx *cx, const jm *jchunk, const struct ArrowSchema *fs,
                             const struct ArrowArray *col) {
  rr_str arch, ident, ctype;
  if (rr_arrow_metadata_get(fs->metadata, "rerun:archetype", &arch) != RR_OK) return; /* AnyValues */
  assert_int_equal(rr_arrow_metadata_get(fs->metadata, "rerun:component", &ident), RR_OK);
  assert_int_equal(rr_arrow_metadata_get(fs->metadata, "rerun:component_type", &ctype), RR_OK);
  char an[128], in[128], tn[128];
  snprintf(an, sizeof an, "%.*s", (int)arch.len, arch.ptr);
  snprintf(in, sizeof in, "%.*s", (int)ident.len, ident.ptr);
  snprintf(tn, sizeof tn, "%.*s", (int)ctype.len, ctype.ptr);
  const rr__archetype_def *a = rr__archetype_find(an);
  if (!a) fail_msg("%s: unknown archetype %s", in, an);
  const rr__field_def *f = rr__archetype_field(a, strchr(in, ':') + 1);
  if (!f) fail_msg("%s: unknown field", in);
  assert_string_equal(f->component, in);
  assert_string_equal(fs->name, in);
  assert_string_equal(f->type->type_name, tn);
  /* Our value type equals the file's list child type, strictly (names,
   * nullability, metadata). */
  assert_string_equal(fs->format, "+l");
  if (!rr_arrow_schema_equal(fs->children[0], f->type->arrow_type(), true)) {
    char *theirs = spec_string(fs->children[0]), *ours = spec_string(f->type->arrow_type());
    fail_msg("%s: file value type %s, ours %s", in, theirs, ours);
  }
  /* And the values: each logged cell of the file equals what our builder
   * makes of the same values from values.json. */
  const jm *jc = json_column(jchunk, in);
  assert_non_null(jc);
  const jm *cells = jm_get(jc, "cells");
  assert_int_equal(cells->n, (size_t)col->length);
  const int32_t *off = col->buffers[1];
  for (int64_t r = 0; r < col->length; r++) {
    int64_t k = col->offset + r;
    bool valid = col->null_count == 0 || !col->buffers[0] || bit(col->buffers[0], k);
    assert_int_equal(valid, cells->v[r]->t != JM_NULL);
    if (!valid) continue;
    rr_buf b = RR_BUF_INIT;
    put(&b, "[");
    for (int32_t e = off[k]; e < off[k + 1]; e++) {
      if (e > off[k]) put(&b, ",");
      render_array(fs->children[0], col->children[0], e, &b);
    }
    put(&b, "]");
    char *theirs = buf_cstr(&b);
    char *ours = ours_for_cell(a, f, cells->v[r], in, (size_t)r);
    if (strcmp(theirs, ours)) fail_msg("%s row %lld:\n file %s\n ours %s", in, (long long)r, theirs, ours);
    rr__free(theirs);
    rr__free(ours);
    cx->compared_cells++;
  }
  cx->columns++;
}

static int rrd_msg(void *ud, rr_log_msg *msg, const rr_error *err) {
  struct rrd_ctx *cx = ud;
  if (!msg) fail_msg("decoding failed: %s", err ? err->msg : "?");
  if (msg->kind == RR_MSG_ARROW) {
    const jm *chunks = jm_get(cx->file, "chunks");
    assert_true(cx->chunk < chunks->n);
    const jm *jchunk = chunks->v[cx->chunk++];
    struct ArrowSchema schema;
    struct ArrowArray batch;
    rr_error e = {0};
    if (rr_arrow_ipc_read(msg->arrow.ipc.ptr, msg->arrow.ipc.len, NULL, NULL, &schema, &batch, &e) != RR_OK)
      fail_msg("IPC: %s", e.msg);
    for (int64_t c = 0; c < schema.n_children; c++) {
      rr_str kind;
      if (rr_arrow_metadata_get(schema.children[c]->metadata, "rerun:kind", &kind) != RR_OK) continue;
      if (kind.len == 4 && !memcmp(kind.ptr, "data", 4))
        check_rrd_column(cx, jchunk, schema.children[c], batch.children[c]);
    }
    batch.release(&batch);
    schema.release(&schema);
  }
  rr_log_msg_free(msg);
  return 0;
}

static void test_golden_rrd_types(void **state) {
  char *text = read_file(GOLDEN_DIR "/values.json", NULL);
  if (!text) {
    skip();
    return;
  }
  jm *root = jm_parse(text);
  free(text);
  size_t files = 0, columns = 0, cells = 0;
  for (size_t i = 0; i < root->n; i++) {
    char path[512];
    snprintf(path, sizeof path, GOLDEN_DIR "/%s.rrd", root->keys[i]);
    struct rrd_ctx cx = {.file = root->v[i]};
    rr_error err = {0};
    if (rr_rrd_read_path(path, NULL, rrd_msg, &cx, &err) != RR_OK) fail_msg("%s: %s", path, err.msg);
    assert_int_equal(cx.chunk, jm_get(root->v[i], "chunks")->n);
    columns += cx.columns, cells += cx.compared_cells;
    files++;
  }
  jm_free(root);
  assert_true(files >= 25);
  assert_true(columns >= 70);
  assert_true(cells >= 150);
}

/* ---- tests: bad input -------------------------------------------------------- */

static void expect_append_error(const char *component, const void *inst, size_t n, int code,
                                const char *needle) {
  struct ArrowArray arr;
  rr_error err = {0};
  int rc = append_to_array(comp(component), inst, n, &arr, &err);
  if (rc != code) fail_msg("%s: got %d (%s), want %d", component, rc, err.msg, code);
  if (!strstr(err.msg, needle)) fail_msg("%s: message '%s' lacks '%s'", component, err.msg, needle);
}

static void test_bad_component_input(void **state) {
  rr_position3d pts[3] = {{0, 0, 0}, {1, NAN, 0}, {2, 2, 2}};
  expect_append_error("Position3D", pts, 3, RR_ENOTFINITE, "rerun.components.Position3D[1]: y is NaN");
  pts[1].y = 0, pts[2].z = INFINITY;
  expect_append_error("Position3D", pts, 3, RR_ENOTFINITE, "[2]: z is infinite");
  rr_radius r[2] = {0.5f, NAN};
  expect_append_error("Radius", r, 2, RR_ENOTFINITE, "Radius[1]");
  rr_transform_mat3x3 m = {{1, 0, 0, 0, 1, 0, 0, 0, NAN}};
  expect_append_error("TransformMat3x3", &m, 1, RR_ENOTFINITE, "element 8");
  rr_rotation_axis_angle aa = {{0, 0, 1}, INFINITY};
  expect_append_error("RotationAxisAngle", &aa, 1, RR_ENOTFINITE, "angle");
  rr_lat_lon ll = {NAN, 0};
  expect_append_error("LatLon", &ll, 1, RR_ENOTFINITE, "LatLon[0]");
  rr_vec3 sp[2] = {{0, 0, 0}, {0, -INFINITY, 0}};
  rr_line_strip3d strip = {sp, 2};
  expect_append_error("LineStrip3D", &strip, 1, RR_ENOTFINITE, "point 1 y");
  rr_line_strip3d nostrip = {NULL, 4};
  expect_append_error("LineStrip3D", &nostrip, 1, RR_EINVAL, "NULL");

  rr_fill_mode fm[2] = {RR_FILL_MODE_SOLID, 0};
  expect_append_error("FillMode", fm, 2, RR_EINVAL, "FillMode[1]: 0 is not a valid code");
  fm[1] = 5;
  expect_append_error("FillMode", fm, 2, RR_EINVAL, "5 is not a valid code");
  rr_colormap cm = 12;
  expect_append_error("Colormap", &cm, 1, RR_EINVAL, "12");
  rr_video_codec vc = 1;
  expect_append_error("VideoCodec", &vc, 1, RR_EINVAL, "not a valid code");
  rr_image_format bad_fmt = {4, 4, 0, 9, RR_CHANNEL_DATATYPE_U8};
  expect_append_error("ImageFormat", &bad_fmt, 1, RR_EINVAL, "color_model 9");
  bad_fmt.color_model = RR_COLOR_MODEL_RGB, bad_fmt.channel_datatype = 14;
  expect_append_error("ImageFormat", &bad_fmt, 1, RR_EINVAL, "channel_datatype 14");
  bad_fmt.channel_datatype = 0, bad_fmt.pixel_format = 21;
  expect_append_error("ImageFormat", &bad_fmt, 1, RR_EINVAL, "pixel_format 21");
  rr_view_coords vcs[2] = {RR_VIEW_COORDINATES_RDF, {{3, 4, 5}}};
  expect_append_error("ViewCoordinates", vcs, 2, RR_EINVAL, "does not cover all three");
  vcs[1].xyz[1] = 7;
  expect_append_error("ViewCoordinates", vcs, 2, RR_EINVAL, "y direction 7");

  rr_text labels[3] = {"ok", "bad \xC3\x28", "x"};
  expect_append_error("Text", labels, 3, RR_EUTF8, "rerun.components.Text[1]: value is not valid UTF-8");
  labels[1] = NULL;
  expect_append_error("Text", labels, 3, RR_EINVAL, "Text[1]: value is a NULL string");
  rr_graph_edge ge = {"a", "\xFF"};
  expect_append_error("GraphEdge", &ge, 1, RR_EUTF8, "second");
  rr_annotation_info kp = {1, "\xE0\x80\x80", 0, false};
  rr_class_description cd = {{0, "x", 0, false}, &kp, 1, NULL, 0};
  rr_annotation_classes ac = {&cd, 1};
  expect_append_error("AnnotationContext", &ac, 1, RR_EUTF8, "classes[0].keypoints[0].label");
  cd.num_keypoints = 0, cd.num_connections = 2;
  expect_append_error("AnnotationContext", &ac, 1, RR_EINVAL, "connections");

  uint64_t shape[2] = {2, 3};
  float data[5] = {0};
  rr_tensor_data t = {shape, 2, NULL, RR_TENSOR_DTYPE_F32, data, 5};
  expect_append_error("TensorData", &t, 1, RR_ELENGTH, "shape holds 6 elements but 5");
  t.num_elements = 6, t.dtype = 12;
  expect_append_error("TensorData", &t, 1, RR_EINVAL, "dtype 12");
  t.dtype = RR_TENSOR_DTYPE_F32, t.data = NULL;
  expect_append_error("TensorData", &t, 1, RR_EINVAL, "data is NULL");
  const char *names[2] = {"h", NULL};
  t.data = data, t.names = names;
  expect_append_error("TensorData", &t, 1, RR_EINVAL, "names[1]");

  rr_bytes blob = {NULL, 3};
  expect_append_error("Blob", &blob, 1, RR_EINVAL, "Blob[0]: bytes is NULL");
  expect_append_error("Color", NULL, 2, RR_EINVAL, "NULL instances");
}

static int validate_arch(rr_archetype_id id, const void *s, rr_error *err) {
  const rr__archetype_def *a = rr__archetype_get(id);
  assert_int_equal(rr__archetype_validate(a, s, NULL), a->validate(s, NULL));
  return a->validate(s, err);
}

static void test_bad_archetype_input(void **state) {
  rr_error err = {0};
  uint8_t px[48] = {0};
  rr_image_buffer buf = {px, 47};
  rr_image_format fmt = {4, 4, 0, RR_COLOR_MODEL_RGB, RR_CHANNEL_DATATYPE_U8};
  rr_image img = {.buffer = &buf, .num_buffer = 1, .format = &fmt, .num_format = 1};
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_ELENGTH);
  assert_non_null(strstr(err.msg, "Image:buffer: buffer holds 47 bytes but the 4x4 format needs 48"));
  buf.len = 48;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_OK);
  fmt.channel_datatype = RR_CHANNEL_DATATYPE_F32; /* 4*4*3*4 bytes */
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_ELENGTH);
  fmt = (rr_image_format){4, 4, RR_PIXEL_FORMAT_NV12, 0, 0}; /* 1.5 bytes per pixel */
  buf.len = 24;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_OK);
  fmt.pixel_format = RR_PIXEL_FORMAT_Y_U_V24_FULL_RANGE; /* 3*w*h or 0.33's 4*w*h */
  buf.len = 48;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_OK);
  buf.len = 64;
  uint8_t big[64] = {0};
  buf.ptr = big;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_OK);
  buf.len = 50;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_ELENGTH);
  /* The buffer alone (format logged earlier) cannot be checked: accepted. */
  img.format = NULL, img.num_format = 0;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_OK);

  /* A mono field takes 0 or 1 values. */
  rr_image_format two[2] = {{2, 2, 0, 1, 6}, {2, 2, 0, 1, 6}};
  img.format = two, img.num_format = 2;
  assert_int_equal(validate_arch(RR_ARCHETYPE_IMAGE, &img, &err), RR_ELENGTH);
  assert_non_null(strstr(err.msg, "Image:format: mono field given 2 values"));

  /* Depth images are single-channel. */
  uint16_t depth[4] = {0};
  rr_image_buffer dbuf = {(const uint8_t *)depth, 8};
  rr_image_format dfmt = {2, 2, 0, RR_COLOR_MODEL_RGB, RR_CHANNEL_DATATYPE_U16};
  rr_depth_image di = {.buffer = &dbuf, .num_buffer = 1, .format = &dfmt, .num_format = 1};
  assert_int_equal(validate_arch(RR_ARCHETYPE_DEPTH_IMAGE, &di, &err), RR_EINVAL);
  assert_non_null(strstr(err.msg, "single-channel"));
  dfmt.color_model = 0;
  assert_int_equal(validate_arch(RR_ARCHETYPE_DEPTH_IMAGE, &di, &err), RR_OK);

  /* A NULL pointer with a count is a caller bug. */
  rr_points3d p = {.positions = NULL, .num_positions = 3};
  assert_int_equal(validate_arch(RR_ARCHETYPE_POINTS3D, &p, &err), RR_EINVAL);
  assert_non_null(strstr(err.msg, "Points3D:positions"));
  /* Component errors are prefixed with the column identifier. */
  rr_position3d nan_pt = {0, 0, NAN};
  p = (rr_points3d){.positions = &nan_pt, .num_positions = 1};
  assert_int_equal(validate_arch(RR_ARCHETYPE_POINTS3D, &p, &err), RR_ENOTFINITE);
  assert_non_null(strstr(err.msg, "Points3D:positions: rerun.components.Position3D[0]: z is NaN"));
  /* The first error in field order wins, whatever its kind. */
  p.radii = NULL, p.num_radii = 2; /* after the NaN position */
  assert_int_equal(validate_arch(RR_ARCHETYPE_POINTS3D, &p, &err), RR_ENOTFINITE);
  assert_non_null(strstr(err.msg, "Points3D:positions: rerun.components.Position3D[0]: z is NaN"));
  rr_radius inf_r[2] = {1, INFINITY};
  p = (rr_points3d){.positions = NULL, .num_positions = 1, .radii = inf_r, .num_radii = 2};
  assert_int_equal(validate_arch(RR_ARCHETYPE_POINTS3D, &p, &err), RR_EINVAL);
  assert_non_null(strstr(err.msg, "Points3D:positions: pointer is NULL but num_positions is 1"));
  p.num_positions = 0;
  assert_int_equal(validate_arch(RR_ARCHETYPE_POINTS3D, &p, &err), RR_ENOTFINITE);
  assert_non_null(strstr(err.msg, "Points3D:radii: rerun.components.Radius[1]: value is infinite"));
  /* The logged fields (non-NULL pointer, any count) come back as a mask. */
  inf_r[1] = 2;
  rr_color col = 0xff0000ff;
  p = (rr_points3d){.radii = inf_r, .num_radii = 0, .colors = &col, .num_colors = 1};
  uint32_t mask = 0;
  assert_int_equal(rr__archetype_validate_fields(rr__archetype_get(RR_ARCHETYPE_POINTS3D), &p, &err, &mask, 0, NULL), RR_OK);
  assert_int_equal(mask, 0x6); /* radii, colors */
  rr_text bad = "\xC3";
  rr_position3d ok_pt = {0, 0, 0};
  p = (rr_points3d){.positions = &ok_pt, .num_positions = 1, .labels = &bad, .num_labels = 1};
  assert_int_equal(validate_arch(RR_ARCHETYPE_POINTS3D, &p, &err), RR_EUTF8);
  assert_non_null(strstr(err.msg, "Points3D:labels"));
  /* Mesh indices must address the positions logged with them. */
  rr_position3d v[3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}};
  rr_triangle_indices tri = {0, 1, 3};
  rr_mesh3d mesh = {.vertex_positions = v, .num_vertex_positions = 3, .triangle_indices = &tri,
                    .num_triangle_indices = 1};
  assert_int_equal(validate_arch(RR_ARCHETYPE_MESH3D, &mesh, &err), RR_ERANGE);
  tri.z = 2;
  assert_int_equal(validate_arch(RR_ARCHETYPE_MESH3D, &mesh, &err), RR_OK);
  assert_int_equal(rr__archetype_validate(rr__archetype_get(RR_ARCHETYPE_MESH3D), NULL, &err), RR_EINVAL);
  assert_int_equal(rr__archetype_validate(NULL, &mesh, &err), RR_EINVAL);

  /* Image sizes: overflow-safe and exact. */
  uint64_t bytes, alt;
  rr_image_format huge = {UINT32_MAX, UINT32_MAX, 0, RR_COLOR_MODEL_RGBA, RR_CHANNEL_DATATYPE_F64};
  assert_int_equal(rr__image_format_num_bytes(&huge, &bytes, &alt), RR_EINVAL);
  rr_image_format odd = {3, 1, 0, RR_COLOR_MODEL_L, RR_CHANNEL_DATATYPE_U8};
  assert_int_equal(rr__image_format_num_bytes(&odd, &bytes, &alt), RR_OK);
  assert_int_equal(bytes, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_first_use),
      cmocka_unit_test(test_value_types_match_spec),
      cmocka_unit_test(test_archetype_table),
      cmocka_unit_test(test_append_every_field),
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_golden_values_roundtrip),
      cmocka_unit_test(test_golden_rrd_types),
      cmocka_unit_test(test_bad_component_input),
      cmocka_unit_test(test_bad_archetype_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
