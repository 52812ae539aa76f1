/* rerun-c: the C type of ONE instance of every Rerun 0.33 component.
 *
 * An archetype field (archetypes.h) is a pointer to an array of these plus a
 * count. The types are plain C: vectors are structs of floats laid out
 * exactly like the Arrow fixed-size list they become, colours are packed
 * 0xRRGGBBAA integers, strings are NUL-terminated UTF-8, byte buffers are
 * rr_bytes spans, and enums are small integers whose code 0 is invalid.
 *
 * Nothing here is retained: the SDK copies every value when it is logged.
 * Geometric values (positions, vectors, sizes, transforms, radii, ...) must
 * be finite; Scalar (rr_scalar) accepts NaN and infinities (a NaN is a gap
 * in a plot). Strings must be valid UTF-8. */
#ifndef RERUN_COMPONENTS_H
#define RERUN_COMPONENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- building blocks (datatypes) ----------------------------------------- */

/** Two floats, e.g. a 2D position [x, y]. */
typedef struct rr_vec2 { float x, y; } rr_vec2;
/** Three floats, e.g. a 3D position [x, y, z]. */
typedef struct rr_vec3 { float x, y, z; } rr_vec3;
/** A quaternion in x, y, z, w order (w is the real part). */
typedef struct rr_quat { float x, y, z, w; } rr_quat;
/** A 3x3 matrix stored COLUMN-major: [m00, m10, m20, m01, m11, m21, m02, m12, m22]. */
typedef struct rr_mat3x3 { float cols[9]; } rr_mat3x3;
/** Three unsigned 32-bit integers. */
typedef struct rr_uvec3 { uint32_t x, y, z; } rr_uvec3;
/** Two doubles. */
typedef struct rr_dvec2 { double x, y; } rr_dvec2;

/* ---- enums (codes from Rerun 0.33; 0 is always invalid) ------------------ */

/** rerun.components.TransformRelation */
typedef uint8_t rr_transform_relation;
enum { RR_TRANSFORM_RELATION_PARENT_FROM_CHILD = 1, RR_TRANSFORM_RELATION_CHILD_FROM_PARENT = 2 };

/** rerun.components.FillMode */
typedef uint8_t rr_fill_mode;
enum {
  RR_FILL_MODE_MAJOR_WIREFRAME = 1,
  RR_FILL_MODE_DENSE_WIREFRAME = 2,
  RR_FILL_MODE_SOLID = 3,
  RR_FILL_MODE_TRANSPARENT_FILL_MAJOR_WIREFRAME = 4
};

/** rerun.components.MeshFaceRendering */
typedef uint8_t rr_mesh_face_rendering;
enum {
  RR_MESH_FACE_RENDERING_DOUBLE_SIDED = 1,
  RR_MESH_FACE_RENDERING_FRONT = 2,
  RR_MESH_FACE_RENDERING_BACK = 3
};

/** rerun.components.MagnificationFilter */
typedef uint8_t rr_magnification_filter;
enum {
  RR_MAGNIFICATION_FILTER_NEAREST = 1,
  RR_MAGNIFICATION_FILTER_LINEAR = 2,
  RR_MAGNIFICATION_FILTER_BICUBIC = 3
};

/** rerun.components.Colormap */
typedef uint8_t rr_colormap;
enum {
  RR_COLORMAP_GRAYSCALE = 1,
  RR_COLORMAP_INFERNO = 2,
  RR_COLORMAP_MAGMA = 3,
  RR_COLORMAP_PLASMA = 4,
  RR_COLORMAP_TURBO = 5,
  RR_COLORMAP_VIRIDIS = 6,
  RR_COLORMAP_CYAN_TO_YELLOW = 7,
  RR_COLORMAP_SPECTRAL = 8,
  RR_COLORMAP_TWILIGHT = 9,
  RR_COLORMAP_RVIZ_MAP = 10,
  RR_COLORMAP_RVIZ_COSTMAP = 11
};

/** rerun.components.AggregationPolicy */
typedef uint8_t rr_aggregation_policy;
enum {
  RR_AGGREGATION_POLICY_OFF = 1,
  RR_AGGREGATION_POLICY_AVERAGE = 2,
  RR_AGGREGATION_POLICY_MAX = 3,
  RR_AGGREGATION_POLICY_MIN = 4,
  RR_AGGREGATION_POLICY_MIN_MAX = 5,
  RR_AGGREGATION_POLICY_MIN_MAX_AVERAGE = 6
};

/** rerun.components.InterpolationMode */
typedef uint8_t rr_interpolation_mode;
enum {
  RR_INTERPOLATION_MODE_LINEAR = 1,
  RR_INTERPOLATION_MODE_STEP_AFTER = 2,
  RR_INTERPOLATION_MODE_STEP_BEFORE = 3,
  RR_INTERPOLATION_MODE_STEP_MID = 4
};

/** rerun.components.MarkerShape */
typedef uint8_t rr_marker_shape;
enum {
  RR_MARKER_SHAPE_CIRCLE = 1,
  RR_MARKER_SHAPE_DIAMOND = 2,
  RR_MARKER_SHAPE_SQUARE = 3,
  RR_MARKER_SHAPE_CROSS = 4,
  RR_MARKER_SHAPE_PLUS = 5,
  RR_MARKER_SHAPE_UP = 6,
  RR_MARKER_SHAPE_DOWN = 7,
  RR_MARKER_SHAPE_LEFT = 8,
  RR_MARKER_SHAPE_RIGHT = 9,
  RR_MARKER_SHAPE_ASTERISK = 10
};

/** rerun.components.GraphType */
typedef uint8_t rr_graph_type;
enum { RR_GRAPH_TYPE_UNDIRECTED = 1, RR_GRAPH_TYPE_DIRECTED = 2 };

/** rerun.datatypes.ColorModel (inside rr_image_format) */
typedef uint8_t rr_color_model;
enum {
  RR_COLOR_MODEL_L = 1,
  RR_COLOR_MODEL_RGB = 2,
  RR_COLOR_MODEL_RGBA = 3,
  RR_COLOR_MODEL_BGR = 4,
  RR_COLOR_MODEL_BGRA = 5
};

/** rerun.datatypes.ChannelDatatype (inside rr_image_format) */
typedef uint8_t rr_channel_datatype;
enum {
  RR_CHANNEL_DATATYPE_U8 = 6,
  RR_CHANNEL_DATATYPE_I8 = 7,
  RR_CHANNEL_DATATYPE_U16 = 8,
  RR_CHANNEL_DATATYPE_I16 = 9,
  RR_CHANNEL_DATATYPE_U32 = 10,
  RR_CHANNEL_DATATYPE_I32 = 11,
  RR_CHANNEL_DATATYPE_U64 = 12,
  RR_CHANNEL_DATATYPE_I64 = 13,
  RR_CHANNEL_DATATYPE_F16 = 33,
  RR_CHANNEL_DATATYPE_F32 = 34,
  RR_CHANNEL_DATATYPE_F64 = 35
};

/** rerun.datatypes.PixelFormat (inside rr_image_format) */
typedef uint8_t rr_pixel_format;
enum {
  RR_PIXEL_FORMAT_Y_U_V12_LIMITED_RANGE = 20,
  RR_PIXEL_FORMAT_NV12 = 26,
  RR_PIXEL_FORMAT_YUY2 = 27,
  RR_PIXEL_FORMAT_Y8_FULL_RANGE = 30,
  RR_PIXEL_FORMAT_Y_U_V24_LIMITED_RANGE = 39,
  RR_PIXEL_FORMAT_Y_U_V24_FULL_RANGE = 40,
  RR_PIXEL_FORMAT_Y8_LIMITED_RANGE = 41,
  RR_PIXEL_FORMAT_Y_U_V12_FULL_RANGE = 44,
  RR_PIXEL_FORMAT_Y_U_V16_LIMITED_RANGE = 49,
  RR_PIXEL_FORMAT_Y_U_V16_FULL_RANGE = 50
};

/** rerun.components.VideoCodec (the only UInt32 enum). */
typedef uint32_t rr_video_codec;
enum {
  RR_VIDEO_CODEC_AV1 = 0x61763031,
  RR_VIDEO_CODEC_H264 = 0x61766331,
  RR_VIDEO_CODEC_H265 = 0x68657631,
  RR_VIDEO_CODEC_VP8 = 0x76703038,
  RR_VIDEO_CODEC_VP9 = 0x76703039
};

/** Direction codes of rr_view_coords. */
enum {
  RR_VIEW_DIR_UP = 1,
  RR_VIEW_DIR_DOWN = 2,
  RR_VIEW_DIR_RIGHT = 3,
  RR_VIEW_DIR_LEFT = 4,
  RR_VIEW_DIR_FORWARD = 5,
  RR_VIEW_DIR_BACK = 6
};

/** Element type of a tensor buffer; the code is the TensorBuffer union type id. */
typedef uint8_t rr_tensor_dtype;
enum {
  RR_TENSOR_DTYPE_U8 = 1,
  RR_TENSOR_DTYPE_U16 = 2,
  RR_TENSOR_DTYPE_U32 = 3,
  RR_TENSOR_DTYPE_U64 = 4,
  RR_TENSOR_DTYPE_I8 = 5,
  RR_TENSOR_DTYPE_I16 = 6,
  RR_TENSOR_DTYPE_I32 = 7,
  RR_TENSOR_DTYPE_I64 = 8,
  RR_TENSOR_DTYPE_F16 = 9, /* raw IEEE half floats as uint16_t */
  RR_TENSOR_DTYPE_F32 = 10,
  RR_TENSOR_DTYPE_F64 = 11
};

/* ---- components ---------------------------------------------------------- */

/** Packs a colour as 0xRRGGBBAA (unmultiplied sRGB, linear alpha). */
#define RR_RGBA(r, g, b, a)                                                        \
  ((uint32_t)(((uint32_t)(uint8_t)(r) << 24) | ((uint32_t)(uint8_t)(g) << 16) |     \
              ((uint32_t)(uint8_t)(b) << 8) | (uint32_t)(uint8_t)(a)))
#define RR_RGB(r, g, b) RR_RGBA(r, g, b, 0xFF)

typedef rr_vec2 rr_position2d;     /**< rerun.components.Position2D, finite */
typedef rr_vec3 rr_position3d;     /**< rerun.components.Position3D, finite */
typedef rr_vec2 rr_vector2d;       /**< rerun.components.Vector2D, finite */
typedef rr_vec3 rr_vector3d;       /**< rerun.components.Vector3D, finite */
typedef rr_vec2 rr_half_size2d;    /**< rerun.components.HalfSize2D, finite */
typedef rr_vec3 rr_half_size3d;    /**< rerun.components.HalfSize3D, finite */
typedef rr_vec3 rr_translation3d;  /**< rerun.components.Translation3D, finite */
typedef rr_vec3 rr_scale3d;        /**< rerun.components.Scale3D, finite */
typedef rr_quat rr_rotation_quat;  /**< rerun.components.RotationQuat (x, y, z, w), finite */
typedef rr_mat3x3 rr_transform_mat3x3;   /**< rerun.components.TransformMat3x3, column-major */
typedef rr_mat3x3 rr_pinhole_projection; /**< rerun.components.PinholeProjection, column-major */
typedef rr_vec2 rr_resolution;     /**< rerun.components.Resolution [width, height] */
typedef rr_vec2 rr_texcoord2d;     /**< rerun.components.Texcoord2D (u, v) */
typedef rr_uvec3 rr_triangle_indices; /**< rerun.components.TriangleIndices */
typedef rr_dvec2 rr_value_range;   /**< rerun.components.ValueRange: x = min, y = max */

/** rerun.components.LatLon: EPSG:4326 degrees. */
typedef struct rr_lat_lon { double lat, lon; } rr_lat_lon;

/** rerun.components.RotationAxisAngle: angle in radians; the axis need not be normalised. */
typedef struct rr_rotation_axis_angle {
  rr_vec3 axis;
  float angle;
} rr_rotation_axis_angle;

/** rerun.components.ViewCoordinates: direction (RR_VIEW_DIR_*) of the x, y
 *  and z axes; the three must lie on different axes. */
typedef struct rr_view_coords { uint8_t xyz[3]; } rr_view_coords;
#define RR_VIEW_COORDINATES_RDF {{3, 2, 5}}
#define RR_VIEW_COORDINATES_RUB {{3, 1, 6}}
#define RR_VIEW_COORDINATES_RFU {{3, 5, 1}}
#define RR_VIEW_COORDINATES_FLU {{5, 4, 1}}
#define RR_VIEW_COORDINATES_LUF {{4, 1, 5}}
#define RR_VIEW_COORDINATES_RIGHT_HAND_Y_UP RR_VIEW_COORDINATES_RUB
#define RR_VIEW_COORDINATES_RIGHT_HAND_Y_DOWN RR_VIEW_COORDINATES_RDF
#define RR_VIEW_COORDINATES_RIGHT_HAND_Z_UP RR_VIEW_COORDINATES_RFU
#define RR_VIEW_COORDINATES_RIGHT_HAND_Z_DOWN {{3, 6, 2}}

typedef uint32_t rr_color;         /**< rerun.components.Color, 0xRRGGBBAA (RR_RGBA) */
typedef uint32_t rr_albedo_factor; /**< rerun.components.AlbedoFactor, 0xRRGGBBAA */
typedef float rr_radius;           /**< rerun.components.Radius: > 0 scene units, < 0 UI points */
typedef float rr_image_plane_distance; /**< rerun.components.ImagePlaneDistance */
typedef float rr_draw_order;       /**< rerun.components.DrawOrder */
typedef float rr_opacity;          /**< rerun.components.Opacity, 0..1 */
typedef float rr_depth_meter;      /**< rerun.components.DepthMeter */
typedef float rr_fill_ratio;       /**< rerun.components.FillRatio */
typedef float rr_length;           /**< rerun.components.Length */
typedef float rr_stroke_width;     /**< rerun.components.StrokeWidth, UI points */
typedef float rr_marker_size;      /**< rerun.components.MarkerSize, UI points */
typedef float rr_axis_length;      /**< rerun.components.AxisLength */
typedef float rr_cell_size;        /**< rerun.components.CellSize */
typedef double rr_scalar;          /**< rerun.components.Scalar: any double, NaN = gap */
typedef uint16_t rr_class_id;      /**< rerun.components.ClassId */
typedef uint16_t rr_keypoint_id;   /**< rerun.components.KeypointId */
typedef int64_t rr_timestamp;      /**< rerun.components.Timestamp, ns since the Unix epoch */
typedef int64_t rr_video_timestamp; /**< rerun.components.VideoTimestamp, ns */
typedef bool rr_show_labels;       /**< rerun.components.ShowLabels */
typedef bool rr_visible;           /**< rerun.components.Visible */
typedef bool rr_clear_is_recursive; /**< rerun.components.ClearIsRecursive */
typedef bool rr_is_keyframe;       /**< rerun.components.IsKeyframe */

/** NUL-terminated UTF-8 string, never NULL. */
typedef const char *rr_text;       /**< rerun.components.Text */
typedef const char *rr_name;       /**< rerun.components.Name */
typedef const char *rr_media_type; /**< rerun.components.MediaType, e.g. "image/png" */
typedef const char *rr_text_log_level; /**< rerun.components.TextLogLevel, e.g. "INFO" */
typedef const char *rr_transform_frame_id; /**< rerun.components.TransformFrameId */
typedef const char *rr_graph_node; /**< rerun.components.GraphNode */
typedef const char *rr_entity_path_component; /**< rerun.components.EntityPath */

/** Byte buffers; `ptr` may be NULL only when `len` is 0. */
typedef rr_bytes rr_blob;          /**< rerun.components.Blob */
typedef rr_bytes rr_image_buffer;  /**< rerun.components.ImageBuffer */
typedef rr_bytes rr_video_sample;  /**< rerun.components.VideoSample */

/** rerun.components.LineStrip2D: an ordered list of points (finite). */
typedef struct rr_line_strip2d {
  const rr_vec2 *points;
  size_t num_points;
} rr_line_strip2d;
/** rerun.components.LineStrip3D */
typedef struct rr_line_strip3d {
  const rr_vec3 *points;
  size_t num_points;
} rr_line_strip3d;
/** rerun.components.GeoLineString: a list of [lat, lon]. */
typedef struct rr_geo_line_string {
  const rr_lat_lon *points;
  size_t num_points;
} rr_geo_line_string;

/** rerun.components.ImageFormat. A 0 enum code means "not set" (null):
 *  a null color_model reads as L, a null channel_datatype as U8; when
 *  pixel_format is set the two others are ignored. */
typedef struct rr_image_format {
  uint32_t width;
  uint32_t height;
  rr_pixel_format pixel_format;
  rr_color_model color_model;
  rr_channel_datatype channel_datatype;
} rr_image_format;

/** rerun.components.GraphEdge: source and target node ids. */
typedef struct rr_graph_edge {
  const char *first;
  const char *second;
} rr_graph_edge;

/** rerun.components.TensorData. `shape` lists `ndim` sizes, outermost
 *  first; `names` is NULL or `ndim` strings; `data` holds `num_elements`
 *  values of `dtype` (the product of the shape), row-major. */
typedef struct rr_tensor_data {
  const uint64_t *shape;
  size_t ndim;
  const char *const *names;
  rr_tensor_dtype dtype;
  const void *data;
  size_t num_elements;
} rr_tensor_data;

/** rerun.datatypes.AnnotationInfo: `label` NULL = none; `color` is used
 *  only when `has_color`. */
typedef struct rr_annotation_info {
  uint16_t id;
  const char *label;
  rr_color color;
  bool has_color;
} rr_annotation_info;

/** rerun.datatypes.KeypointPair */
typedef struct rr_keypoint_pair {
  uint16_t keypoint0, keypoint1;
} rr_keypoint_pair;

/** rerun.datatypes.ClassDescription; its class id is `info.id`. */
typedef struct rr_class_description {
  rr_annotation_info info;
  const rr_annotation_info *keypoints; /**< keypoint_annotations */
  size_t num_keypoints;
  const rr_keypoint_pair *connections; /**< keypoint_connections */
  size_t num_connections;
} rr_class_description;

/** rerun.components.AnnotationContext: one instance is a whole list of classes. */
typedef struct rr_annotation_classes {
  const rr_class_description *classes;
  size_t num_classes;
} rr_annotation_classes;

#ifdef __cplusplus
}
#endif
#endif
