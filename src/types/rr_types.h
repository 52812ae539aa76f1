/* This file is private to rerun-c.
 *
 * The types layer: what every Rerun 0.33 component looks like in Arrow, and
 * how each archetype (include/rerun/archetypes.h) maps its C fields to
 * component columns. Everything is generated from two tables: the component
 * catalogue RR__COMPONENT_TABLE below and RR_ARCHETYPE_TABLE in
 * archetypes.h. See docs/internals/types.md.
 *
 * A component's "value type" is the Arrow type of ONE instance, e.g.
 * FixedSizeList<3, item: Float32> for Position3D. The SDK stores a column
 * as List<item: value type>; the schema returned here IS that list's child
 * field (named "item", nullable), so it can be copied in as is.
 *
 * Invariants:
 *  - value-type schemas are built once (first use, under a lock), shared,
 *    read-only, and released at process exit; never release them yourself;
 *  - append() validates every instance BEFORE touching the builder: on a
 *    validation error the builder is unchanged. Only RR_ENOMEM (or an
 *    arrow-layer error) can leave a partially appended batch behind, and
 *    the caller must then discard or reset the builder. */
#ifndef RR_TYPES_H
#define RR_TYPES_H

#include "arrow/rr_arrow.h"
#include "base/rr_common.h"
#include "rerun/archetypes.h"
#include "rerun/components.h"

/* How a component's instances are represented (its datatype family). */
enum rr__rep {
  RR__REP_F32 = 1,   /* f32, finite */
  RR__REP_F64,       /* f64, any value (Scalar: NaN is a gap) */
  RR__REP_I64,       /* i64 */
  RR__REP_U16,       /* u16 */
  RR__REP_U32,       /* u32 */
  RR__REP_BOOL,      /* bool */
  RR__REP_UTF8,      /* utf8 from a NUL-terminated const char * */
  RR__REP_ENUM8,     /* u8 enum; param = mask of the valid codes (< 64) */
  RR__REP_ENUM32,    /* u32 enum (VideoCodec) */
  RR__REP_FSL_F32,   /* FSL<f32, param>, finite */
  RR__REP_FSL_F64,   /* FSL<f64, param>, finite */
  RR__REP_FSL_U32,   /* FSL<u32, param> */
  RR__REP_VIEW,      /* FSL<u8, 3>, ViewCoordinates */
  RR__REP_BLOB,      /* List<u8> from rr_bytes */
  RR__REP_STRIP_F32, /* List<FSL<f32, param>> from {points, num_points} */
  RR__REP_STRIP_F64, /* List<FSL<f64, param>> from {points, num_points} */
  RR__REP_IMAGE_FORMAT,
  RR__REP_AXIS_ANGLE,
  RR__REP_TENSOR,
  RR__REP_UTF8_PAIR,
  RR__REP_ANNOTATION
};

/* Masks of valid enum codes. */
#define RR__BITS(lo, hi) ((((uint64_t)1 << ((hi) + 1)) - 1) & ~(((uint64_t)1 << (lo)) - 1))
#define RR__BIT(v) ((uint64_t)1 << (v))
#define RR__MASK_COLOR_MODEL RR__BITS(1, 5)
#define RR__MASK_CHANNEL_DATATYPE (RR__BITS(6, 13) | RR__BITS(33, 35))
#define RR__MASK_PIXEL_FORMAT                                                         \
  (RR__BIT(20) | RR__BIT(26) | RR__BIT(27) | RR__BIT(30) | RR__BIT(39) | RR__BIT(40) |  \
   RR__BIT(41) | RR__BIT(44) | RR__BIT(49) | RR__BIT(50))

/* The component catalogue (spec archetypes.md §2.1):
 *   X(Name, ctype, rep, param)
 * Name is the part after "rerun.components.". */
#define RR__COMPONENT_TABLE(X)                                          \
  X(Position2D, rr_position2d, RR__REP_FSL_F32, 2)                      \
  X(Position3D, rr_position3d, RR__REP_FSL_F32, 3)                      \
  X(Vector2D, rr_vector2d, RR__REP_FSL_F32, 2)                          \
  X(Vector3D, rr_vector3d, RR__REP_FSL_F32, 3)                          \
  X(HalfSize2D, rr_half_size2d, RR__REP_FSL_F32, 2)                     \
  X(HalfSize3D, rr_half_size3d, RR__REP_FSL_F32, 3)                     \
  X(Translation3D, rr_translation3d, RR__REP_FSL_F32, 3)                \
  X(Scale3D, rr_scale3d, RR__REP_FSL_F32, 3)                            \
  X(RotationQuat, rr_rotation_quat, RR__REP_FSL_F32, 4)                 \
  X(RotationAxisAngle, rr_rotation_axis_angle, RR__REP_AXIS_ANGLE, 0)   \
  X(TransformMat3x3, rr_transform_mat3x3, RR__REP_FSL_F32, 9)           \
  X(PinholeProjection, rr_pinhole_projection, RR__REP_FSL_F32, 9)       \
  X(Resolution, rr_resolution, RR__REP_FSL_F32, 2)                      \
  X(Texcoord2D, rr_texcoord2d, RR__REP_FSL_F32, 2)                      \
  X(TriangleIndices, rr_triangle_indices, RR__REP_FSL_U32, 3)           \
  X(ValueRange, rr_value_range, RR__REP_FSL_F64, 2)                     \
  X(LatLon, rr_lat_lon, RR__REP_FSL_F64, 2)                             \
  X(ViewCoordinates, rr_view_coords, RR__REP_VIEW, 3)                   \
  X(TransformRelation, rr_transform_relation, RR__REP_ENUM8, RR__BITS(1, 2))     \
  X(FillMode, rr_fill_mode, RR__REP_ENUM8, RR__BITS(1, 4))                       \
  X(MeshFaceRendering, rr_mesh_face_rendering, RR__REP_ENUM8, RR__BITS(1, 3))    \
  X(MagnificationFilter, rr_magnification_filter, RR__REP_ENUM8, RR__BITS(1, 3)) \
  X(Colormap, rr_colormap, RR__REP_ENUM8, RR__BITS(1, 11))                       \
  X(AggregationPolicy, rr_aggregation_policy, RR__REP_ENUM8, RR__BITS(1, 6))     \
  X(InterpolationMode, rr_interpolation_mode, RR__REP_ENUM8, RR__BITS(1, 4))     \
  X(MarkerShape, rr_marker_shape, RR__REP_ENUM8, RR__BITS(1, 10))                \
  X(GraphType, rr_graph_type, RR__REP_ENUM8, RR__BITS(1, 2))                     \
  X(VideoCodec, rr_video_codec, RR__REP_ENUM32, 0)                      \
  X(Color, rr_color, RR__REP_U32, 0)                                    \
  X(AlbedoFactor, rr_albedo_factor, RR__REP_U32, 0)                     \
  X(Radius, rr_radius, RR__REP_F32, 0)                                  \
  X(ImagePlaneDistance, rr_image_plane_distance, RR__REP_F32, 0)        \
  X(DrawOrder, rr_draw_order, RR__REP_F32, 0)                           \
  X(Opacity, rr_opacity, RR__REP_F32, 0)                                \
  X(DepthMeter, rr_depth_meter, RR__REP_F32, 0)                         \
  X(FillRatio, rr_fill_ratio, RR__REP_F32, 0)                           \
  X(Length, rr_length, RR__REP_F32, 0)                                  \
  X(StrokeWidth, rr_stroke_width, RR__REP_F32, 0)                       \
  X(MarkerSize, rr_marker_size, RR__REP_F32, 0)                         \
  X(AxisLength, rr_axis_length, RR__REP_F32, 0)                         \
  X(CellSize, rr_cell_size, RR__REP_F32, 0)                             \
  X(Scalar, rr_scalar, RR__REP_F64, 0)                                  \
  X(ClassId, rr_class_id, RR__REP_U16, 0)                               \
  X(KeypointId, rr_keypoint_id, RR__REP_U16, 0)                         \
  X(Timestamp, rr_timestamp, RR__REP_I64, 0)                            \
  X(VideoTimestamp, rr_video_timestamp, RR__REP_I64, 0)                 \
  X(ShowLabels, rr_show_labels, RR__REP_BOOL, 0)                        \
  X(Visible, rr_visible, RR__REP_BOOL, 0)                               \
  X(ClearIsRecursive, rr_clear_is_recursive, RR__REP_BOOL, 0)           \
  X(IsKeyframe, rr_is_keyframe, RR__REP_BOOL, 0)                        \
  X(Text, rr_text, RR__REP_UTF8, 0)                                     \
  X(Name, rr_name, RR__REP_UTF8, 0)                                     \
  X(MediaType, rr_media_type, RR__REP_UTF8, 0)                          \
  X(TextLogLevel, rr_text_log_level, RR__REP_UTF8, 0)                   \
  X(TransformFrameId, rr_transform_frame_id, RR__REP_UTF8, 0)           \
  X(GraphNode, rr_graph_node, RR__REP_UTF8, 0)                          \
  X(EntityPath, rr_entity_path_component, RR__REP_UTF8, 0)              \
  X(Blob, rr_blob, RR__REP_BLOB, 0)                                     \
  X(ImageBuffer, rr_image_buffer, RR__REP_BLOB, 0)                      \
  X(VideoSample, rr_video_sample, RR__REP_BLOB, 0)                      \
  X(LineStrip2D, rr_line_strip2d, RR__REP_STRIP_F32, 2)                 \
  X(LineStrip3D, rr_line_strip3d, RR__REP_STRIP_F32, 3)                 \
  X(GeoLineString, rr_geo_line_string, RR__REP_STRIP_F64, 2)            \
  X(ImageFormat, rr_image_format, RR__REP_IMAGE_FORMAT, 0)              \
  X(TensorData, rr_tensor_data, RR__REP_TENSOR, 0)                      \
  X(GraphEdge, rr_graph_edge, RR__REP_UTF8_PAIR, 0)                     \
  X(AnnotationContext, rr_annotation_classes, RR__REP_ANNOTATION, 0)

/* RR__COMP_Position3D, ... : index into the component catalogue. */
enum rr__component_id {
#define RR__COMP_ENUM(Name, ctype, rep, param) RR__COMP_##Name,
  RR__COMPONENT_TABLE(RR__COMP_ENUM)
#undef RR__COMP_ENUM
  RR__COMP_COUNT
};

typedef struct rr__component_def {
  const char *type_name;  /* "rerun.components.Position3D" */
  const char *short_name; /* "Position3D" */
  int id;                 /* enum rr__component_id */
  int rep;                /* enum rr__rep */
  uint64_t param;         /* list size, or enum mask */
  size_t c_size;          /* sizeof the C type of one instance */
  /* Checks n instances (NaN/inf in geometric values, UTF-8, enum codes,
   * NULL pointers inside structs, tensor sizes). The error names the
   * component and the instance index. RR_OK or a negative code. */
  int (*validate)(const void *instances, size_t n, rr_error *err);
  /* Validates, then appends n instances to a builder made from
   * arrow_type(). On a validation error nothing is appended. */
  int (*append)(rr_arrow_builder *value_builder, const void *instances, size_t n,
                rr_error *err);
  /* Appends n instances that validate() already accepted (the SDK's hot
   * path: the archetype's validate covers every field). */
  int (*append_trusted)(rr_arrow_builder *value_builder, const void *instances, size_t n);
  /* The value type (the column list's child field "item", nullable).
   * Shared, read-only; NULL only if building it ran out of memory. */
  const struct ArrowSchema *(*arrow_type)(void);
} rr__component_def;

typedef struct rr__field_def {
  const char *name;      /* "positions" */
  const char *component; /* "Points3D:positions" (the column identifier) */
  const rr__component_def *type;
  int kind;              /* rr_field_kind */
  int mono;              /* 1 for mono fields */
  size_t ptr_offset;     /* offsetof the `const ctype *` member */
  size_t count_offset;   /* offsetof the `size_t num_*` member */
} rr__field_def;

typedef struct rr__archetype_def {
  rr_archetype_id id;
  const char *name;       /* "rerun.archetypes.Points3D" */
  const char *short_name; /* "Points3D" */
  size_t struct_size;
  size_t nfields;
  const rr__field_def *fields;
  /* Per-call checks of one archetype struct: NULL pointer with a non-zero
   * count, mono fields with more than one value, every logged field's
   * instances (component validate), and cross-field rules (image buffer
   * size vs format, depth/segmentation single channel, mesh triangle
   * indices in range). Whether required fields were ever logged is not
   * checkable here. */
  int (*validate)(const void *archetype_struct, rr_error *err);
  bool has_image; /* has an ImageFormat field (buffer size / channel checks) */
} rr__archetype_def;

/* Most fields of any archetype: bits of the uint32_t mask of
 * rr__archetype_validate_fields (checked at compile time). */
#define RR__MAX_FIELDS 32

/* The catalogue, indexed by enum rr__component_id. */
extern const rr__component_def rr__components[RR__COMP_COUNT];

/* ---- lookup -------------------------------------------------------------- */

/* The archetype table, indexed by rr_archetype_id. */
extern const rr__archetype_def rr__archetypes[RR_ARCHETYPE_COUNT];
/* NULL for an id out of range. Inline: once per log call. */
static inline const rr__archetype_def *rr__archetype_get(rr_archetype_id id) {
  if ((unsigned)id >= RR_ARCHETYPE_COUNT) return NULL;
  return &rr__archetypes[id];
}
/* By full ("rerun.archetypes.Points3D") or short ("Points3D") name; NULL if unknown. */
const rr__archetype_def *rr__archetype_find(const char *name);
/* By full ("rerun.components.Color") or short ("Color") name; NULL if unknown. */
const rr__component_def *rr__component_find(const char *type_name);
/* Index 0 .. RR__COMP_COUNT-1; NULL out of range. */
const rr__component_def *rr__component_at(size_t i);
/* Same as a->validate(s, err), with NULL checks. */
int rr__archetype_validate(const rr__archetype_def *a, const void *archetype_struct, rr_error *err);
/* The same checks; *present (if not NULL) receives the logged fields
 * (non-NULL pointer) as a bit mask: bit i for a->fields[i]. With
 * defer_min_bytes > 0, fields of float values whose only check is that
 * they are finite, of at least that many bytes, are not checked here but
 * listed in *deferred (same bits): the caller checks them later, with
 * rr__all_finite_f32 where it reads them anyway, and for the error
 * message with rr__archetype_check_field. */
int rr__archetype_validate_fields(const rr__archetype_def *a, const void *archetype_struct,
                                  rr_error *err, uint32_t *present, size_t defer_min_bytes,
                                  uint32_t *deferred);
/* The checks of field i alone (logged: non-NULL pointer). */
int rr__archetype_check_field(const rr__archetype_def *a, size_t i, const void *archetype_struct, rr_error *err);
/* Whether the `count` floats at v (any alignment) are all finite. */
bool rr__all_finite_f32(const void *v, size_t count);
/* Index of the lowest set bit of m (m != 0). */
static inline unsigned rr__lowest_bit(uint32_t m) {
#if defined(__GNUC__)
  return (unsigned)__builtin_ctz(m);
#else
  unsigned i = 0;
  while (!(m & 1)) m >>= 1, i++;
  return i;
#endif
}
/* True for reps whose C array has the Arrow layout of the value builder:
 * append_trusted is then rr_arrow_builder_append_values(b, instances, n). */
static inline bool rr__rep_is_flat(int rep) {
  switch (rep) {
  case RR__REP_F32: case RR__REP_F64: case RR__REP_I64: case RR__REP_U16: case RR__REP_U32:
  case RR__REP_ENUM8: case RR__REP_ENUM32: case RR__REP_FSL_F32: case RR__REP_FSL_F64:
  case RR__REP_FSL_U32: case RR__REP_VIEW:
    return true;
  default:
    return false;
  }
}
/* The field called `name` ("positions"), or NULL. */
const rr__field_def *rr__archetype_field(const rr__archetype_def *a, const char *name);

/* The field's pointer and count inside an archetype struct. */
static inline const void *rr__field_ptr(const rr__field_def *f, const void *arch) {
  const void *p;
  memcpy(&p, (const char *)arch + f->ptr_offset, sizeof p);
  return p;
}
static inline size_t rr__field_count(const rr__field_def *f, const void *arch) {
  size_t n;
  memcpy(&n, (const char *)arch + f->count_offset, sizeof n);
  return n;
}

/* Builds every value-type schema now (otherwise done at first use).
 * RR_OK or RR_ENOMEM; thread-safe, idempotent. */
int rr__types_init(rr_error *err);

/* Expected byte count of an image buffer, following
 * re_sdk_types image_format_ext.rs; RR_EINVAL for an unusable format
 * (overflow, or an enum code outside the 0.33 tables). For the
 * Y_U_V24 pixel formats *alt_bytes receives 3*w*h (three full planes) and
 * *bytes 4*w*h (what 0.33's size helper computes); otherwise both are equal. */
int rr__image_format_num_bytes(const rr_image_format *f, uint64_t *bytes, uint64_t *alt_bytes);

#endif
