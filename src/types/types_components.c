/* The component catalogue: value-type schemas, validation and appending of
 * C-natural instances, all driven by RR__COMPONENT_TABLE (rr_types.h).
 *
 * Each component belongs to one representation ("rep", a datatype family)
 * with one schema builder, one validator and one appender; the per-component
 * functions generated at the bottom only bind a rep to the component's
 * definition, so that errors name the component. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "types/rr_types.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#  error "rerun-c's types layer passes C structs to Arrow as little-endian bytes"
#endif

_Static_assert(sizeof(rr_vec2) == 8 && sizeof(rr_vec3) == 12 && sizeof(rr_quat) == 16 &&
                   sizeof(rr_mat3x3) == 36 && sizeof(rr_uvec3) == 12 &&
                   sizeof(rr_dvec2) == 16 && sizeof(rr_lat_lon) == 16 &&
                   sizeof(rr_view_coords) == 3 && sizeof(bool) == 1,
               "C component types must be packed like their Arrow layout");

/* Offsets and strings in Arrow are 32-bit: one value may not exceed this. */
#define RR__MAX_LIST ((size_t)INT32_MAX)

/* ---- value-type schemas --------------------------------------------------- */

static int node(struct ArrowSchema *s, const char *fmt, const char *name, bool nullable,
                int64_t nchild) {
  return rr_arrow_schema_init(s, fmt, name, nullable ? ARROW_FLAG_NULLABLE : 0, nchild);
}

/* FSL<prim, n> (child "item", non-null). */
static int build_fsl(struct ArrowSchema *s, const char *name, bool nullable, const char *prim,
                     uint64_t n) {
  char fmt[32];
  snprintf(fmt, sizeof fmt, "+w:%u", (unsigned)n);
  RR_TRY(node(s, fmt, name, nullable, 1));
  return node(s->children[0], prim, "item", false, 0);
}

/* List<item: child built by the callback>. */
static int build_list_of_prim(struct ArrowSchema *s, const char *name, bool nullable,
                              const char *prim) {
  RR_TRY(node(s, "+l", name, nullable, 1));
  return node(s->children[0], prim, "item", false, 0);
}

/* Struct{id: u16, label?: utf8, color?: u32} (AnnotationInfo). */
static int build_annotation_info(struct ArrowSchema *s, const char *name) {
  RR_TRY(node(s, "+s", name, false, 3));
  RR_TRY(node(s->children[0], "S", "id", false, 0));
  RR_TRY(node(s->children[1], "u", "label", true, 0));
  return node(s->children[2], "I", "color", true, 0);
}

static const char *const tensor_variants[12] = {"_null_markers", "U8", "U16", "U32",
                                                "U64", "I8", "I16", "I32",
                                                "I64", "F16", "F32", "F64"};
static const char *const tensor_formats[12] = {"n", "C", "S", "I", "L", "c",
                                               "s", "i", "l", "e", "f", "g"};

static int build_value_type(const rr__component_def *c, struct ArrowSchema *s) {
  const char *item = "item";
  switch (c->rep) {
  case RR__REP_F32: return node(s, "f", item, true, 0);
  case RR__REP_F64: return node(s, "g", item, true, 0);
  case RR__REP_I64: return node(s, "l", item, true, 0);
  case RR__REP_U16: return node(s, "S", item, true, 0);
  case RR__REP_U32: case RR__REP_ENUM32: return node(s, "I", item, true, 0);
  case RR__REP_ENUM8: return node(s, "C", item, true, 0);
  case RR__REP_BOOL: return node(s, "b", item, true, 0);
  case RR__REP_UTF8: return node(s, "u", item, true, 0);
  case RR__REP_FSL_F32: return build_fsl(s, item, true, "f", c->param);
  case RR__REP_FSL_F64: return build_fsl(s, item, true, "g", c->param);
  case RR__REP_FSL_U32: return build_fsl(s, item, true, "I", c->param);
  case RR__REP_VIEW: return build_fsl(s, item, true, "C", 3);
  case RR__REP_BLOB: return build_list_of_prim(s, item, true, "C");
  case RR__REP_STRIP_F32:
  case RR__REP_STRIP_F64:
    RR_TRY(node(s, "+l", item, true, 1));
    return build_fsl(s->children[0], "item", false, c->rep == RR__REP_STRIP_F32 ? "f" : "g",
                     c->param);
  case RR__REP_IMAGE_FORMAT:
    RR_TRY(node(s, "+s", item, true, 5));
    RR_TRY(node(s->children[0], "I", "width", false, 0));
    RR_TRY(node(s->children[1], "I", "height", false, 0));
    RR_TRY(node(s->children[2], "C", "pixel_format", true, 0));
    RR_TRY(node(s->children[3], "C", "color_model", true, 0));
    return node(s->children[4], "C", "channel_datatype", true, 0);
  case RR__REP_AXIS_ANGLE:
    RR_TRY(node(s, "+s", item, true, 2));
    RR_TRY(build_fsl(s->children[0], "axis", false, "f", 3));
    return node(s->children[1], "f", "angle", false, 0);
  case RR__REP_UTF8_PAIR:
    RR_TRY(node(s, "+s", item, true, 2));
    RR_TRY(node(s->children[0], "u", "first", false, 0));
    return node(s->children[1], "u", "second", false, 0);
  case RR__REP_TENSOR: {
    RR_TRY(node(s, "+s", item, true, 3));
    RR_TRY(build_list_of_prim(s->children[0], "shape", false, "L"));
    RR_TRY(build_list_of_prim(s->children[1], "names", true, "u"));
    struct ArrowSchema *u = s->children[2];
    RR_TRY(node(u, "+ud:0,1,2,3,4,5,6,7,8,9,10,11", "buffer", true, 12));
    RR_TRY(node(u->children[0], "n", tensor_variants[0], true, 0));
    for (int i = 1; i < 12; i++)
      RR_TRY(build_list_of_prim(u->children[i], tensor_variants[i], false, tensor_formats[i]));
    return RR_OK;
  }
  case RR__REP_ANNOTATION: {
    /* List<item: ClassDescriptionMapElem> */
    RR_TRY(node(s, "+l", item, true, 1));
    struct ArrowSchema *elem = s->children[0];
    RR_TRY(node(elem, "+s", "item", false, 2));
    RR_TRY(node(elem->children[0], "S", "class_id", false, 0));
    struct ArrowSchema *cd = elem->children[1];
    RR_TRY(node(cd, "+s", "class_description", false, 3));
    RR_TRY(build_annotation_info(cd->children[0], "info"));
    RR_TRY(node(cd->children[1], "+l", "keypoint_annotations", false, 1));
    RR_TRY(build_annotation_info(cd->children[1]->children[0], "item"));
    struct ArrowSchema *kc = cd->children[2];
    RR_TRY(node(kc, "+l", "keypoint_connections", false, 1));
    RR_TRY(node(kc->children[0], "+s", "item", false, 2));
    RR_TRY(node(kc->children[0]->children[0], "S", "keypoint0", false, 0));
    return node(kc->children[0]->children[1], "S", "keypoint1", false, 0);
  }
  default: return RR_EINTERNAL;
  }
}

/* The schemas live in static storage, built once under `types_lock`;
 * `types_ready` publishes them (release/acquire). A failed build (OOM) is
 * undone and retried at the next use. Released by a destructor at exit. */
static struct ArrowSchema types_schemas[RR__COMP_COUNT];
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool types_ready;

static void release_all(void) {
  for (size_t i = 0; i < RR__COMP_COUNT; i++)
    if (types_schemas[i].release) types_schemas[i].release(&types_schemas[i]);
}

int rr__types_init(rr_error *err) {
  if (atomic_load_explicit(&types_ready, memory_order_acquire)) return RR_OK;
  pthread_mutex_lock(&types_lock);
  int rc = RR_OK;
  if (!atomic_load_explicit(&types_ready, memory_order_relaxed)) {
    for (size_t i = 0; i < RR__COMP_COUNT && rc == RR_OK; i++)
      rc = build_value_type(rr__component_at(i), &types_schemas[i]);
    if (rc == RR_OK) atomic_store_explicit(&types_ready, true, memory_order_release);
    else release_all();
  }
  pthread_mutex_unlock(&types_lock);
  if (rc < 0) return rr__err(err, rc, "building the component value types failed");
  return RR_OK;
}

__attribute__((destructor)) static void types_fini(void) {
  pthread_mutex_lock(&types_lock);
  if (atomic_load_explicit(&types_ready, memory_order_relaxed)) {
    atomic_store_explicit(&types_ready, false, memory_order_relaxed);
    release_all();
  }
  pthread_mutex_unlock(&types_lock);
}

static const struct ArrowSchema *schema_of(int id) {
  if (rr__types_init(NULL) < 0) return NULL;
  return &types_schemas[id];
}

/* ---- validation ----------------------------------------------------------- */

/* Points and count of the i-th strip, whichever of the three strip types. */
static void strip_at(const rr__component_def *c, const void *inst, size_t i, const void **pts,
                     size_t *np) {
  if (c->rep == RR__REP_STRIP_F64) {
    const rr_geo_line_string *v = inst;
    *pts = v[i].points, *np = v[i].num_points;
  } else if (c->param == 2) {
    const rr_line_strip2d *v = inst;
    *pts = v[i].points, *np = v[i].num_points;
  } else {
    const rr_line_strip3d *v = inst;
    *pts = v[i].points, *np = v[i].num_points;
  }
}

static const char *const axis_names[4] = {"x", "y", "z", "w"};

static int check_finite_f32(const rr__component_def *c, const float *v, size_t n, size_t per,
                            rr_error *err) {
  for (size_t i = 0; i < n * per; i++) {
    if (RR__UNLIKELY(!isfinite(v[i]))) {
      size_t k = i % per;
      char what[32];
      if (per <= 4 && c->rep != RR__REP_AXIS_ANGLE) snprintf(what, sizeof what, "%s", axis_names[k]);
      else snprintf(what, sizeof what, "element %zu", k);
      return rr__err(err, RR_ENOTFINITE, "%s[%zu]: %s is %s (must be finite)", c->type_name,
                     i / per, per == 1 ? "value" : what, isnan(v[i]) ? "NaN" : "infinite");
    }
  }
  return RR_OK;
}

static int check_text(const rr__component_def *c, size_t i, const char *what, const char *s,
                      rr_error *err) {
  if (RR__UNLIKELY(s == NULL))
    return rr__err(err, RR_EINVAL, "%s[%zu]: %s is a NULL string", c->type_name, i, what);
  size_t len = strlen(s);
  if (RR__UNLIKELY(len > RR__MAX_LIST))
    return rr__err(err, RR_ERANGE, "%s[%zu]: %s is longer than 2^31-1 bytes", c->type_name, i,
                   what);
  if (RR__UNLIKELY(!rr__utf8_valid(s, len)))
    return rr__err(err, RR_EUTF8, "%s[%zu]: %s is not valid UTF-8", c->type_name, i, what);
  return RR_OK;
}

static int check_span(const rr__component_def *c, size_t i, const void *p, size_t n,
                      const char *what, rr_error *err) {
  if (RR__UNLIKELY(p == NULL && n > 0))
    return rr__err(err, RR_EINVAL, "%s[%zu]: %s is NULL with %zu elements", c->type_name, i,
                   what, n);
  if (RR__UNLIKELY(n > RR__MAX_LIST))
    return rr__err(err, RR_ERANGE, "%s[%zu]: %s has %zu elements (more than 2^31-1)",
                   c->type_name, i, what, n);
  return RR_OK;
}

static int check_enum8(const rr__component_def *c, size_t i, const char *what, uint8_t v,
                       uint64_t mask, rr_error *err) {
  if (RR__UNLIKELY(v >= 64 || !(mask & ((uint64_t)1 << v))))
    return rr__err(err, RR_EINVAL, "%s[%zu]: %s%s%u is not a valid code", c->type_name, i,
                   what ? what : "", what ? " " : "", (unsigned)v);
  return RR_OK;
}

static int check_annotation_info(const rr__component_def *c, size_t i,
                                 const rr_annotation_info *a, const char *what, rr_error *err) {
  if (a->label) return check_text(c, i, what, a->label, err);
  return RR_OK;
}

static int validate_tensor(const rr__component_def *c, size_t i, const rr_tensor_data *t,
                           rr_error *err) {
  RR_TRY(check_span(c, i, t->shape, t->ndim, "shape", err));
  if (RR__UNLIKELY(t->dtype < 1 || t->dtype > 11))
    return rr__err(err, RR_EINVAL, "%s[%zu]: dtype %u is not a valid tensor element type",
                   c->type_name, i, (unsigned)t->dtype);
  uint64_t prod = 1;
  for (size_t d = 0; d < t->ndim; d++) {
    if (t->shape[d] != 0 && prod > UINT64_MAX / t->shape[d])
      return rr__err(err, RR_ERANGE, "%s[%zu]: shape overflows", c->type_name, i);
    prod *= t->shape[d];
  }
  if (RR__UNLIKELY(prod != (uint64_t)t->num_elements))
    return rr__err(err, RR_ELENGTH, "%s[%zu]: shape holds %llu elements but %zu were given",
                   c->type_name, i, (unsigned long long)prod, t->num_elements);
  RR_TRY(check_span(c, i, t->data, t->num_elements, "data", err));
  if (t->names) {
    for (size_t d = 0; d < t->ndim; d++) {
      char what[32];
      snprintf(what, sizeof what, "names[%zu]", d);
      RR_TRY(check_text(c, i, what, t->names[d], err));
    }
  }
  return RR_OK;
}

static int validate_view(const rr__component_def *c, size_t i, const rr_view_coords *v,
                         rr_error *err) {
  int seen = 0;
  for (int k = 0; k < 3; k++) {
    uint8_t d = v->xyz[k];
    if (RR__UNLIKELY(d < 1 || d > 6))
      return rr__err(err, RR_EINVAL, "%s[%zu]: %s direction %u is not a valid code (1..6)",
                     c->type_name, i, axis_names[k], (unsigned)d);
    seen |= 1 << ((d - 1) / 2);
  }
  if (RR__UNLIKELY(seen != 7))
    return rr__err(err, RR_EINVAL,
                   "%s[%zu]: [%u, %u, %u] does not cover all three cardinal directions",
                   c->type_name, i, v->xyz[0], v->xyz[1], v->xyz[2]);
  return RR_OK;
}

static int validate_rep(const rr__component_def *c, const void *inst, size_t n, rr_error *err) {
  if (n == 0) return RR_OK;
  if (RR__UNLIKELY(inst == NULL))
    return rr__err(err, RR_EINVAL, "%s: NULL instances with count %zu", c->type_name, n);
  switch (c->rep) {
  case RR__REP_F32: return check_finite_f32(c, inst, n, 1, err);
  case RR__REP_FSL_F32: return check_finite_f32(c, inst, n, (size_t)c->param, err);
  case RR__REP_AXIS_ANGLE: {
    const rr_rotation_axis_angle *a = inst;
    for (size_t i = 0; i < n; i++) {
      if (!isfinite(a[i].axis.x) || !isfinite(a[i].axis.y) || !isfinite(a[i].axis.z))
        return rr__err(err, RR_ENOTFINITE, "%s[%zu]: axis is not finite", c->type_name, i);
      if (!isfinite(a[i].angle))
        return rr__err(err, RR_ENOTFINITE, "%s[%zu]: angle is not finite", c->type_name, i);
    }
    return RR_OK;
  }
  case RR__REP_FSL_F64: {
    const double *v = inst;
    for (size_t i = 0; i < n * c->param; i++)
      if (RR__UNLIKELY(!isfinite(v[i])))
        return rr__err(err, RR_ENOTFINITE, "%s[%zu]: element %zu is %s (must be finite)",
                       c->type_name, i / c->param, (size_t)(i % c->param),
                       isnan(v[i]) ? "NaN" : "infinite");
    return RR_OK;
  }
  case RR__REP_F64: case RR__REP_I64: case RR__REP_U16: case RR__REP_U32:
  case RR__REP_FSL_U32: case RR__REP_BOOL:
    return RR_OK;
  case RR__REP_ENUM8: {
    const uint8_t *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(check_enum8(c, i, NULL, v[i], c->param, err));
    return RR_OK;
  }
  case RR__REP_ENUM32: {
    const uint32_t *v = inst;
    for (size_t i = 0; i < n; i++)
      if (v[i] != RR_VIDEO_CODEC_AV1 && v[i] != RR_VIDEO_CODEC_H264 &&
          v[i] != RR_VIDEO_CODEC_H265 && v[i] != RR_VIDEO_CODEC_VP8 && v[i] != RR_VIDEO_CODEC_VP9)
        return rr__err(err, RR_EINVAL, "%s[%zu]: 0x%08X is not a valid code", c->type_name, i,
                       (unsigned)v[i]);
    return RR_OK;
  }
  case RR__REP_VIEW: {
    const rr_view_coords *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(validate_view(c, i, &v[i], err));
    return RR_OK;
  }
  case RR__REP_UTF8: {
    const char *const *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(check_text(c, i, "value", v[i], err));
    return RR_OK;
  }
  case RR__REP_BLOB: {
    const rr_bytes *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(check_span(c, i, v[i].ptr, v[i].len, "bytes", err));
    return RR_OK;
  }
  case RR__REP_STRIP_F32: {
    for (size_t i = 0; i < n; i++) {
      const void *pts;
      size_t np;
      strip_at(c, inst, i, &pts, &np);
      RR_TRY(check_span(c, i, pts, np, "points", err));
      const float *f = pts;
      for (size_t k = 0; k < np * c->param; k++)
        if (RR__UNLIKELY(!isfinite(f[k])))
          return rr__err(err, RR_ENOTFINITE, "%s[%zu]: point %zu %s is %s (must be finite)",
                         c->type_name, i, (size_t)(k / c->param), axis_names[k % c->param],
                         isnan(f[k]) ? "NaN" : "infinite");
    }
    return RR_OK;
  }
  case RR__REP_STRIP_F64: {
    const rr_geo_line_string *v = inst;
    for (size_t i = 0; i < n; i++) {
      RR_TRY(check_span(c, i, v[i].points, v[i].num_points, "points", err));
      for (size_t k = 0; k < v[i].num_points; k++)
        if (!isfinite(v[i].points[k].lat) || !isfinite(v[i].points[k].lon))
          return rr__err(err, RR_ENOTFINITE, "%s[%zu]: point %zu is not finite", c->type_name,
                         i, k);
    }
    return RR_OK;
  }
  case RR__REP_IMAGE_FORMAT: {
    const rr_image_format *v = inst;
    for (size_t i = 0; i < n; i++) {
      if (v[i].pixel_format)
        RR_TRY(check_enum8(c, i, "pixel_format", v[i].pixel_format, RR__MASK_PIXEL_FORMAT, err));
      if (v[i].color_model)
        RR_TRY(check_enum8(c, i, "color_model", v[i].color_model, RR__MASK_COLOR_MODEL, err));
      if (v[i].channel_datatype)
        RR_TRY(check_enum8(c, i, "channel_datatype", v[i].channel_datatype,
                           RR__MASK_CHANNEL_DATATYPE, err));
    }
    return RR_OK;
  }
  case RR__REP_TENSOR: {
    const rr_tensor_data *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(validate_tensor(c, i, &v[i], err));
    return RR_OK;
  }
  case RR__REP_UTF8_PAIR: {
    const rr_graph_edge *v = inst;
    for (size_t i = 0; i < n; i++) {
      RR_TRY(check_text(c, i, "first", v[i].first, err));
      RR_TRY(check_text(c, i, "second", v[i].second, err));
    }
    return RR_OK;
  }
  case RR__REP_ANNOTATION: {
    const rr_annotation_classes *v = inst;
    for (size_t i = 0; i < n; i++) {
      RR_TRY(check_span(c, i, v[i].classes, v[i].num_classes, "classes", err));
      for (size_t k = 0; k < v[i].num_classes; k++) {
        const rr_class_description *cd = &v[i].classes[k];
        char what[96];
        snprintf(what, sizeof what, "classes[%zu].info.label", k);
        RR_TRY(check_annotation_info(c, i, &cd->info, what, err));
        snprintf(what, sizeof what, "classes[%zu].keypoints", k);
        RR_TRY(check_span(c, i, cd->keypoints, cd->num_keypoints, what, err));
        snprintf(what, sizeof what, "classes[%zu].connections", k);
        RR_TRY(check_span(c, i, cd->connections, cd->num_connections, what, err));
        for (size_t j = 0; j < cd->num_keypoints; j++) {
          snprintf(what, sizeof what, "classes[%zu].keypoints[%zu].label", k, j);
          RR_TRY(check_annotation_info(c, i, &cd->keypoints[j], what, err));
        }
      }
    }
    return RR_OK;
  }
  default: return rr__err(err, RR_EINTERNAL, "%s: unknown representation", c->type_name);
  }
}

/* ---- appending ------------------------------------------------------------ */

static rr_arrow_builder *child(rr_arrow_builder *b, int64_t i) {
  return rr_arrow_builder_child(b, i);
}

static int append_text(rr_arrow_builder *b, const char *s) {
  return rr_arrow_builder_append_bytes(b, s, strlen(s));
}

static int append_opt_u8(rr_arrow_builder *b, uint8_t v) {
  if (v == 0) return rr_arrow_builder_append_nulls(b, 1);
  return rr_arrow_builder_append_values(b, &v, 1);
}

static int append_annotation_info(rr_arrow_builder *s, const rr_annotation_info *a) {
  RR_TRY(rr_arrow_builder_append_values(child(s, 0), &a->id, 1));
  if (a->label) RR_TRY(append_text(child(s, 1), a->label));
  else RR_TRY(rr_arrow_builder_append_nulls(child(s, 1), 1));
  if (a->has_color) RR_TRY(rr_arrow_builder_append_values(child(s, 2), &a->color, 1));
  else RR_TRY(rr_arrow_builder_append_nulls(child(s, 2), 1));
  return rr_arrow_builder_struct_append_valid(s, 1);
}

static int append_tensor(rr_arrow_builder *b, const rr_tensor_data *t) {
  rr_arrow_builder *shape = child(b, 0), *names = child(b, 1), *buf = child(b, 2);
  RR_TRY(rr_arrow_builder_append_values(child(shape, 0), t->shape, (int64_t)t->ndim));
  RR_TRY(rr_arrow_builder_list_finish(shape));
  if (t->names) {
    for (size_t d = 0; d < t->ndim; d++) RR_TRY(append_text(child(names, 0), t->names[d]));
    RR_TRY(rr_arrow_builder_list_finish(names));
  } else {
    RR_TRY(rr_arrow_builder_append_nulls(names, 1));
  }
  RR_TRY(rr_arrow_builder_union_append(buf, (int8_t)t->dtype));
  rr_arrow_builder *variant = child(buf, t->dtype);
  RR_TRY(rr_arrow_builder_append_values(child(variant, 0), t->data, (int64_t)t->num_elements));
  RR_TRY(rr_arrow_builder_list_finish(variant));
  return rr_arrow_builder_struct_append_valid(b, 1);
}

static int append_annotation(rr_arrow_builder *b, const rr_annotation_classes *ac) {
  rr_arrow_builder *elem = child(b, 0);
  rr_arrow_builder *class_id = child(elem, 0), *cd = child(elem, 1);
  rr_arrow_builder *info = child(cd, 0), *kps = child(cd, 1), *conns = child(cd, 2);
  rr_arrow_builder *pair = child(conns, 0);
  for (size_t k = 0; k < ac->num_classes; k++) {
    const rr_class_description *c = &ac->classes[k];
    RR_TRY(rr_arrow_builder_append_values(class_id, &c->info.id, 1));
    RR_TRY(append_annotation_info(info, &c->info));
    for (size_t j = 0; j < c->num_keypoints; j++)
      RR_TRY(append_annotation_info(child(kps, 0), &c->keypoints[j]));
    RR_TRY(rr_arrow_builder_list_finish(kps));
    for (size_t j = 0; j < c->num_connections; j++) {
      RR_TRY(rr_arrow_builder_append_values(child(pair, 0), &c->connections[j].keypoint0, 1));
      RR_TRY(rr_arrow_builder_append_values(child(pair, 1), &c->connections[j].keypoint1, 1));
    }
    RR_TRY(rr_arrow_builder_struct_append_valid(pair, (int64_t)c->num_connections));
    RR_TRY(rr_arrow_builder_list_finish(conns));
    RR_TRY(rr_arrow_builder_struct_append_valid(cd, 1));
    RR_TRY(rr_arrow_builder_struct_append_valid(elem, 1));
  }
  return rr_arrow_builder_list_finish(b);
}

static int append_rep(const rr__component_def *c, rr_arrow_builder *b, const void *inst,
                      size_t n) {
  if (n == 0) return RR_OK;
  if (RR__UNLIKELY(n > (size_t)INT64_MAX)) return RR_ERANGE;
  switch (c->rep) {
  case RR__REP_F32: case RR__REP_F64: case RR__REP_I64: case RR__REP_U16: case RR__REP_U32:
  case RR__REP_ENUM8: case RR__REP_ENUM32: case RR__REP_FSL_F32: case RR__REP_FSL_F64:
  case RR__REP_FSL_U32: case RR__REP_VIEW:
    /* The C arrays are laid out exactly like the Arrow buffers. */
    return rr_arrow_builder_append_values(b, inst, (int64_t)n);
  case RR__REP_BOOL: {
    const bool *v = inst;
    uint8_t tmp[256];
    for (size_t i = 0; i < n;) {
      size_t k = 0;
      for (; k < sizeof tmp && i < n; k++, i++) tmp[k] = v[i] ? 1 : 0;
      RR_TRY(rr_arrow_builder_append_values(b, tmp, (int64_t)k));
    }
    return RR_OK;
  }
  case RR__REP_UTF8: {
    const char *const *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(append_text(b, v[i]));
    return RR_OK;
  }
  case RR__REP_BLOB: {
    const rr_bytes *v = inst;
    for (size_t i = 0; i < n; i++) {
      if (v[i].len) RR_TRY(rr_arrow_builder_append_values(child(b, 0), v[i].ptr, (int64_t)v[i].len));
      RR_TRY(rr_arrow_builder_list_finish(b));
    }
    return RR_OK;
  }
  case RR__REP_STRIP_F32: case RR__REP_STRIP_F64: {
    for (size_t i = 0; i < n; i++) {
      const void *pts;
      size_t np;
      strip_at(c, inst, i, &pts, &np);
      if (np) RR_TRY(rr_arrow_builder_append_values(child(b, 0), pts, (int64_t)np));
      RR_TRY(rr_arrow_builder_list_finish(b));
    }
    return RR_OK;
  }
  case RR__REP_IMAGE_FORMAT: {
    const rr_image_format *v = inst;
    for (size_t i = 0; i < n; i++) {
      RR_TRY(rr_arrow_builder_append_values(child(b, 0), &v[i].width, 1));
      RR_TRY(rr_arrow_builder_append_values(child(b, 1), &v[i].height, 1));
      RR_TRY(append_opt_u8(child(b, 2), v[i].pixel_format));
      RR_TRY(append_opt_u8(child(b, 3), v[i].color_model));
      RR_TRY(append_opt_u8(child(b, 4), v[i].channel_datatype));
    }
    return rr_arrow_builder_struct_append_valid(b, (int64_t)n);
  }
  case RR__REP_AXIS_ANGLE: {
    const rr_rotation_axis_angle *v = inst;
    for (size_t i = 0; i < n; i++) {
      RR_TRY(rr_arrow_builder_append_values(child(b, 0), &v[i].axis, 1));
      RR_TRY(rr_arrow_builder_append_values(child(b, 1), &v[i].angle, 1));
    }
    return rr_arrow_builder_struct_append_valid(b, (int64_t)n);
  }
  case RR__REP_UTF8_PAIR: {
    const rr_graph_edge *v = inst;
    for (size_t i = 0; i < n; i++) {
      RR_TRY(append_text(child(b, 0), v[i].first));
      RR_TRY(append_text(child(b, 1), v[i].second));
    }
    return rr_arrow_builder_struct_append_valid(b, (int64_t)n);
  }
  case RR__REP_TENSOR: {
    const rr_tensor_data *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(append_tensor(b, &v[i]));
    return RR_OK;
  }
  case RR__REP_ANNOTATION: {
    const rr_annotation_classes *v = inst;
    for (size_t i = 0; i < n; i++) RR_TRY(append_annotation(b, &v[i]));
    return RR_OK;
  }
  default: return RR_EINTERNAL;
  }
}

static int append_checked(const rr__component_def *c, rr_arrow_builder *b, const void *inst,
                          size_t n, rr_error *err) {
  if (RR__UNLIKELY(b == NULL)) return rr__err(err, RR_EINVAL, "%s: NULL builder", c->type_name);
  RR_TRY(validate_rep(c, inst, n, err));
  int rc = append_rep(c, b, inst, n);
  if (rc < 0) return rr__err(err, rc, "%s: appending %zu instances failed (%s)", c->type_name, n,
                             rr_strerror(rc));
  return RR_OK;
}

/* ---- the catalogue -------------------------------------------------------- */


#define RR__COMP_FUNCS(Name, ctype, rep, param)                                          \
  static int validate_##Name(const void *inst, size_t n, rr_error *err) {                \
    return validate_rep(&rr__components[RR__COMP_##Name], inst, n, err);                     \
  }                                                                                       \
  static int append_##Name(rr_arrow_builder *b, const void *inst, size_t n, rr_error *err) { \
    return append_checked(&rr__components[RR__COMP_##Name], b, inst, n, err);                \
  }                                                                                       \
  static int append_trusted_##Name(rr_arrow_builder *b, const void *inst, size_t n) {     \
    return append_rep(&rr__components[RR__COMP_##Name], b, inst, n);                     \
  }                                                                                       \
  static const struct ArrowSchema *arrow_type_##Name(void) { return schema_of(RR__COMP_##Name); }
RR__COMPONENT_TABLE(RR__COMP_FUNCS)
#undef RR__COMP_FUNCS

const rr__component_def rr__components[RR__COMP_COUNT] = {
#define RR__COMP_DEF(Name, ctype, rep, param)                                           \
  [RR__COMP_##Name] = {"rerun.components." #Name, #Name, RR__COMP_##Name, rep, param,   \
                       sizeof(ctype), validate_##Name, append_##Name, append_trusted_##Name,   \
                       arrow_type_##Name},
    RR__COMPONENT_TABLE(RR__COMP_DEF)
#undef RR__COMP_DEF
};

const rr__component_def *rr__component_at(size_t i) {
  return i < RR__COMP_COUNT ? &rr__components[i] : NULL;
}

const rr__component_def *rr__component_find(const char *type_name) {
  if (!type_name) return NULL;
  const char *prefix = "rerun.components.";
  size_t pl = strlen(prefix);
  const char *s = strncmp(type_name, prefix, pl) == 0 ? type_name + pl : type_name;
  for (size_t i = 0; i < RR__COMP_COUNT; i++)
    if (strcmp(rr__components[i].short_name, s) == 0) return &rr__components[i];
  return NULL;
}

/* ---- image sizes ---------------------------------------------------------- */

static unsigned channel_bits(uint8_t dt) {
  switch (dt) {
  case 0: case RR_CHANNEL_DATATYPE_U8: case RR_CHANNEL_DATATYPE_I8: return 8;
  case RR_CHANNEL_DATATYPE_U16: case RR_CHANNEL_DATATYPE_I16: case RR_CHANNEL_DATATYPE_F16: return 16;
  case RR_CHANNEL_DATATYPE_U32: case RR_CHANNEL_DATATYPE_I32: case RR_CHANNEL_DATATYPE_F32: return 32;
  case RR_CHANNEL_DATATYPE_U64: case RR_CHANNEL_DATATYPE_I64: case RR_CHANNEL_DATATYPE_F64: return 64;
  default: return 0;
  }
}

static unsigned model_channels(uint8_t cm) {
  switch (cm) {
  case 0: case RR_COLOR_MODEL_L: return 1;
  case RR_COLOR_MODEL_RGB: case RR_COLOR_MODEL_BGR: return 3;
  case RR_COLOR_MODEL_RGBA: case RR_COLOR_MODEL_BGRA: return 4;
  default: return 0;
  }
}

int rr__image_format_num_bytes(const rr_image_format *f, uint64_t *bytes, uint64_t *alt_bytes) {
  uint64_t px = (uint64_t)f->width * (uint64_t)f->height; /* < 2^64: both are 32-bit */
  uint64_t b, alt;
  if (f->pixel_format) {
    switch (f->pixel_format) {
    case RR_PIXEL_FORMAT_Y_U_V24_FULL_RANGE: case RR_PIXEL_FORMAT_Y_U_V24_LIMITED_RANGE:
      if (px > UINT64_MAX / 4) return RR_EINVAL;
      b = px * 4, alt = px * 3;
      break;
    case RR_PIXEL_FORMAT_Y_U_V16_FULL_RANGE: case RR_PIXEL_FORMAT_Y_U_V16_LIMITED_RANGE:
    case RR_PIXEL_FORMAT_YUY2:
      if (px > UINT64_MAX / 2) return RR_EINVAL;
      b = alt = px * 2;
      break;
    case RR_PIXEL_FORMAT_Y_U_V12_FULL_RANGE: case RR_PIXEL_FORMAT_Y_U_V12_LIMITED_RANGE:
    case RR_PIXEL_FORMAT_NV12:
      if (px > UINT64_MAX / 12) return RR_EINVAL;
      b = alt = 12 * px / 8;
      break;
    case RR_PIXEL_FORMAT_Y8_FULL_RANGE: case RR_PIXEL_FORMAT_Y8_LIMITED_RANGE:
      b = alt = px;
      break;
    default: return RR_EINVAL;
    }
  } else {
    unsigned ch = model_channels(f->color_model), bits = channel_bits(f->channel_datatype);
    if (!ch || !bits) return RR_EINVAL;
    uint64_t bpp = (uint64_t)ch * bits;
    if (px > (UINT64_MAX - 7) / bpp) return RR_EINVAL;
    b = alt = (px * bpp + 7) / 8;
  }
  if (bytes) *bytes = b;
  if (alt_bytes) *alt_bytes = alt;
  return RR_OK;
}
