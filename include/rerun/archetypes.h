/* rerun-c: every Rerun 0.33 archetype, generated from ONE X-macro table.
 *
 * Each archetype is a plain struct with, for every field, a pointer to an
 * array of that component's C type (components.h) and a count:
 *
 *     const <ctype> *<field>;  size_t num_<field>;
 *
 *   - pointer NULL                 -> the field is not logged in this row
 *                                     (the count must then be 0);
 *   - pointer non-NULL, count 0    -> logged as an empty list: this clears
 *                                     the component (the viewer falls back);
 *   - pointer non-NULL, count N    -> a batch of N instances.
 *
 * A "mono" field holds one value for the whole entity: its count must be 0
 * or 1. A batch of 1 for a "batch" field applies to every instance.
 *
 *     rr_position3d pts[2] = {{0, 0, 0}, {1, 1, 1}};
 *     rr_color red = RR_RGBA(255, 0, 0, 255);
 *     rr_points3d p = {.positions = pts, .num_positions = 2,
 *                      .colors = &red, .num_colors = 1};
 *     rr_log(rec, "world/points", RR_ARCHETYPE_POINTS3D, &p, &err);
 *
 * Zero-initialise the struct ({0}) and set only the fields you log.
 * Identifiers on the wire are "<Archetype>:<field>" (e.g. "Points3D:colors"),
 * the archetype tag "rerun.archetypes.<Archetype>" and the component type
 * "rerun.components.<Component>" from the table. */
#ifndef RERUN_ARCHETYPES_H
#define RERUN_ARCHETYPES_H

#include <stddef.h>

#include "components.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How an archetype lists a field (its REQUIRED/RECOMMENDED/OPTIONAL set). */
typedef enum rr_field_kind {
  RR_FIELD_REQ = 1, /**< required */
  RR_FIELD_REC = 2, /**< recommended */
  RR_FIELD_OPT = 3  /**< optional */
} rr_field_kind;

/** Cardinality: one value per instance, or one value for the whole entity. */
typedef enum rr_field_card { RR_FIELD_BATCH = 0, RR_FIELD_MONO = 1 } rr_field_card;

/* The table. Each archetype is
 *   A(ID, ArchetypeName, snake_name)
 *   F(snake_name, ArchetypeName, field, ComponentName, ctype, REQ|REC|OPT, BATCH|MONO) ...
 *   E(snake_name)
 * in the field order of the official definitions (.fbs "order"). Checked
 * field by field against rerun 0.33.0 crates/store/re_sdk_types/definitions.
 * Not included: the Mcap*, StateChange and StateConfiguration archetypes. */
#define RR_ARCHETYPE_TABLE(A, F, E) \
  A(POINTS3D, Points3D, points3d) \
  F(points3d, Points3D, positions, Position3D, rr_position3d, REQ, BATCH) \
  F(points3d, Points3D, radii, Radius, rr_radius, REC, BATCH) \
  F(points3d, Points3D, colors, Color, rr_color, REC, BATCH) \
  F(points3d, Points3D, labels, Text, rr_text, OPT, BATCH) \
  F(points3d, Points3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(points3d, Points3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  F(points3d, Points3D, keypoint_ids, KeypointId, rr_keypoint_id, OPT, BATCH) \
  E(points3d) \
  A(POINTS2D, Points2D, points2d) \
  F(points2d, Points2D, positions, Position2D, rr_position2d, REQ, BATCH) \
  F(points2d, Points2D, radii, Radius, rr_radius, REC, BATCH) \
  F(points2d, Points2D, colors, Color, rr_color, REC, BATCH) \
  F(points2d, Points2D, labels, Text, rr_text, OPT, BATCH) \
  F(points2d, Points2D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(points2d, Points2D, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(points2d, Points2D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  F(points2d, Points2D, keypoint_ids, KeypointId, rr_keypoint_id, OPT, BATCH) \
  E(points2d) \
  A(BOXES2D, Boxes2D, boxes2d) \
  F(boxes2d, Boxes2D, half_sizes, HalfSize2D, rr_half_size2d, REQ, BATCH) \
  F(boxes2d, Boxes2D, centers, Position2D, rr_position2d, REC, BATCH) \
  F(boxes2d, Boxes2D, colors, Color, rr_color, REC, BATCH) \
  F(boxes2d, Boxes2D, radii, Radius, rr_radius, OPT, BATCH) \
  F(boxes2d, Boxes2D, labels, Text, rr_text, OPT, BATCH) \
  F(boxes2d, Boxes2D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(boxes2d, Boxes2D, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(boxes2d, Boxes2D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(boxes2d) \
  A(BOXES3D, Boxes3D, boxes3d) \
  F(boxes3d, Boxes3D, half_sizes, HalfSize3D, rr_half_size3d, REQ, BATCH) \
  F(boxes3d, Boxes3D, centers, Translation3D, rr_translation3d, REC, BATCH) \
  F(boxes3d, Boxes3D, rotation_axis_angles, RotationAxisAngle, rr_rotation_axis_angle, OPT, BATCH) \
  F(boxes3d, Boxes3D, quaternions, RotationQuat, rr_rotation_quat, OPT, BATCH) \
  F(boxes3d, Boxes3D, colors, Color, rr_color, REC, BATCH) \
  F(boxes3d, Boxes3D, radii, Radius, rr_radius, OPT, BATCH) \
  F(boxes3d, Boxes3D, fill_mode, FillMode, rr_fill_mode, OPT, MONO) \
  F(boxes3d, Boxes3D, labels, Text, rr_text, OPT, BATCH) \
  F(boxes3d, Boxes3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(boxes3d, Boxes3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(boxes3d) \
  A(LINE_STRIPS2D, LineStrips2D, line_strips2d) \
  F(line_strips2d, LineStrips2D, strips, LineStrip2D, rr_line_strip2d, REQ, BATCH) \
  F(line_strips2d, LineStrips2D, radii, Radius, rr_radius, REC, BATCH) \
  F(line_strips2d, LineStrips2D, colors, Color, rr_color, REC, BATCH) \
  F(line_strips2d, LineStrips2D, labels, Text, rr_text, OPT, BATCH) \
  F(line_strips2d, LineStrips2D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(line_strips2d, LineStrips2D, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(line_strips2d, LineStrips2D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(line_strips2d) \
  A(LINE_STRIPS3D, LineStrips3D, line_strips3d) \
  F(line_strips3d, LineStrips3D, strips, LineStrip3D, rr_line_strip3d, REQ, BATCH) \
  F(line_strips3d, LineStrips3D, radii, Radius, rr_radius, REC, BATCH) \
  F(line_strips3d, LineStrips3D, colors, Color, rr_color, REC, BATCH) \
  F(line_strips3d, LineStrips3D, labels, Text, rr_text, OPT, BATCH) \
  F(line_strips3d, LineStrips3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(line_strips3d, LineStrips3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(line_strips3d) \
  A(ARROWS2D, Arrows2D, arrows2d) \
  F(arrows2d, Arrows2D, vectors, Vector2D, rr_vector2d, REQ, BATCH) \
  F(arrows2d, Arrows2D, origins, Position2D, rr_position2d, REC, BATCH) \
  F(arrows2d, Arrows2D, radii, Radius, rr_radius, OPT, BATCH) \
  F(arrows2d, Arrows2D, colors, Color, rr_color, OPT, BATCH) \
  F(arrows2d, Arrows2D, labels, Text, rr_text, OPT, BATCH) \
  F(arrows2d, Arrows2D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(arrows2d, Arrows2D, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(arrows2d, Arrows2D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(arrows2d) \
  A(ARROWS3D, Arrows3D, arrows3d) \
  F(arrows3d, Arrows3D, vectors, Vector3D, rr_vector3d, REQ, BATCH) \
  F(arrows3d, Arrows3D, origins, Position3D, rr_position3d, REC, BATCH) \
  F(arrows3d, Arrows3D, radii, Radius, rr_radius, OPT, BATCH) \
  F(arrows3d, Arrows3D, colors, Color, rr_color, OPT, BATCH) \
  F(arrows3d, Arrows3D, labels, Text, rr_text, OPT, BATCH) \
  F(arrows3d, Arrows3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(arrows3d, Arrows3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(arrows3d) \
  A(MESH3D, Mesh3D, mesh3d) \
  F(mesh3d, Mesh3D, vertex_positions, Position3D, rr_position3d, REQ, BATCH) \
  F(mesh3d, Mesh3D, triangle_indices, TriangleIndices, rr_triangle_indices, REC, BATCH) \
  F(mesh3d, Mesh3D, vertex_normals, Vector3D, rr_vector3d, REC, BATCH) \
  F(mesh3d, Mesh3D, vertex_colors, Color, rr_color, OPT, BATCH) \
  F(mesh3d, Mesh3D, vertex_texcoords, Texcoord2D, rr_texcoord2d, OPT, BATCH) \
  F(mesh3d, Mesh3D, albedo_factor, AlbedoFactor, rr_albedo_factor, OPT, MONO) \
  F(mesh3d, Mesh3D, face_rendering, MeshFaceRendering, rr_mesh_face_rendering, OPT, MONO) \
  F(mesh3d, Mesh3D, albedo_texture_buffer, ImageBuffer, rr_image_buffer, OPT, MONO) \
  F(mesh3d, Mesh3D, albedo_texture_format, ImageFormat, rr_image_format, OPT, MONO) \
  F(mesh3d, Mesh3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(mesh3d) \
  A(IMAGE, Image, image) \
  F(image, Image, buffer, ImageBuffer, rr_image_buffer, REQ, MONO) \
  F(image, Image, format, ImageFormat, rr_image_format, REQ, MONO) \
  F(image, Image, opacity, Opacity, rr_opacity, OPT, MONO) \
  F(image, Image, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(image, Image, magnification_filter, MagnificationFilter, rr_magnification_filter, OPT, MONO) \
  E(image) \
  A(DEPTH_IMAGE, DepthImage, depth_image) \
  F(depth_image, DepthImage, buffer, ImageBuffer, rr_image_buffer, REQ, MONO) \
  F(depth_image, DepthImage, format, ImageFormat, rr_image_format, REQ, MONO) \
  F(depth_image, DepthImage, meter, DepthMeter, rr_depth_meter, OPT, MONO) \
  F(depth_image, DepthImage, colormap, Colormap, rr_colormap, OPT, MONO) \
  F(depth_image, DepthImage, depth_range, ValueRange, rr_value_range, OPT, MONO) \
  F(depth_image, DepthImage, point_fill_ratio, FillRatio, rr_fill_ratio, OPT, MONO) \
  F(depth_image, DepthImage, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(depth_image, DepthImage, magnification_filter, MagnificationFilter, rr_magnification_filter, OPT, MONO) \
  E(depth_image) \
  A(SEGMENTATION_IMAGE, SegmentationImage, segmentation_image) \
  F(segmentation_image, SegmentationImage, buffer, ImageBuffer, rr_image_buffer, REQ, MONO) \
  F(segmentation_image, SegmentationImage, format, ImageFormat, rr_image_format, REQ, MONO) \
  F(segmentation_image, SegmentationImage, opacity, Opacity, rr_opacity, OPT, MONO) \
  F(segmentation_image, SegmentationImage, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  E(segmentation_image) \
  A(ENCODED_IMAGE, EncodedImage, encoded_image) \
  F(encoded_image, EncodedImage, blob, Blob, rr_blob, REQ, MONO) \
  F(encoded_image, EncodedImage, media_type, MediaType, rr_media_type, REC, MONO) \
  F(encoded_image, EncodedImage, opacity, Opacity, rr_opacity, OPT, MONO) \
  F(encoded_image, EncodedImage, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(encoded_image, EncodedImage, magnification_filter, MagnificationFilter, rr_magnification_filter, OPT, MONO) \
  E(encoded_image) \
  A(TENSOR, Tensor, tensor) \
  F(tensor, Tensor, data, TensorData, rr_tensor_data, REQ, MONO) \
  F(tensor, Tensor, value_range, ValueRange, rr_value_range, OPT, MONO) \
  E(tensor) \
  A(SCALARS, Scalars, scalars) \
  F(scalars, Scalars, scalars, Scalar, rr_scalar, REQ, BATCH) \
  E(scalars) \
  A(SERIES_LINES, SeriesLines, series_lines) \
  F(series_lines, SeriesLines, colors, Color, rr_color, OPT, BATCH) \
  F(series_lines, SeriesLines, widths, StrokeWidth, rr_stroke_width, OPT, BATCH) \
  F(series_lines, SeriesLines, names, Name, rr_name, OPT, BATCH) \
  F(series_lines, SeriesLines, visible_series, Visible, rr_visible, OPT, BATCH) \
  F(series_lines, SeriesLines, aggregation_policy, AggregationPolicy, rr_aggregation_policy, OPT, MONO) \
  F(series_lines, SeriesLines, interpolation_mode, InterpolationMode, rr_interpolation_mode, OPT, MONO) \
  E(series_lines) \
  A(SERIES_POINTS, SeriesPoints, series_points) \
  F(series_points, SeriesPoints, colors, Color, rr_color, OPT, BATCH) \
  F(series_points, SeriesPoints, markers, MarkerShape, rr_marker_shape, REQ, BATCH) \
  F(series_points, SeriesPoints, names, Name, rr_name, OPT, BATCH) \
  F(series_points, SeriesPoints, visible_series, Visible, rr_visible, OPT, BATCH) \
  F(series_points, SeriesPoints, marker_sizes, MarkerSize, rr_marker_size, OPT, BATCH) \
  E(series_points) \
  A(TEXT_LOG, TextLog, text_log) \
  F(text_log, TextLog, text, Text, rr_text, REQ, MONO) \
  F(text_log, TextLog, level, TextLogLevel, rr_text_log_level, REC, MONO) \
  F(text_log, TextLog, color, Color, rr_color, OPT, MONO) \
  E(text_log) \
  A(TEXT_DOCUMENT, TextDocument, text_document) \
  F(text_document, TextDocument, text, Text, rr_text, REQ, MONO) \
  F(text_document, TextDocument, media_type, MediaType, rr_media_type, OPT, MONO) \
  E(text_document) \
  A(TRANSFORM3D, Transform3D, transform3d) \
  F(transform3d, Transform3D, translation, Translation3D, rr_translation3d, OPT, MONO) \
  F(transform3d, Transform3D, rotation_axis_angle, RotationAxisAngle, rr_rotation_axis_angle, OPT, MONO) \
  F(transform3d, Transform3D, quaternion, RotationQuat, rr_rotation_quat, OPT, MONO) \
  F(transform3d, Transform3D, scale, Scale3D, rr_scale3d, OPT, MONO) \
  F(transform3d, Transform3D, mat3x3, TransformMat3x3, rr_transform_mat3x3, OPT, MONO) \
  F(transform3d, Transform3D, relation, TransformRelation, rr_transform_relation, OPT, MONO) \
  F(transform3d, Transform3D, child_frame, TransformFrameId, rr_transform_frame_id, OPT, MONO) \
  F(transform3d, Transform3D, parent_frame, TransformFrameId, rr_transform_frame_id, OPT, MONO) \
  E(transform3d) \
  A(INSTANCE_POSES3D, InstancePoses3D, instance_poses3d) \
  F(instance_poses3d, InstancePoses3D, translations, Translation3D, rr_translation3d, OPT, BATCH) \
  F(instance_poses3d, InstancePoses3D, rotation_axis_angles, RotationAxisAngle, rr_rotation_axis_angle, OPT, BATCH) \
  F(instance_poses3d, InstancePoses3D, quaternions, RotationQuat, rr_rotation_quat, OPT, BATCH) \
  F(instance_poses3d, InstancePoses3D, scales, Scale3D, rr_scale3d, OPT, BATCH) \
  F(instance_poses3d, InstancePoses3D, mat3x3, TransformMat3x3, rr_transform_mat3x3, OPT, BATCH) \
  E(instance_poses3d) \
  A(PINHOLE, Pinhole, pinhole) \
  F(pinhole, Pinhole, image_from_camera, PinholeProjection, rr_pinhole_projection, REQ, MONO) \
  F(pinhole, Pinhole, resolution, Resolution, rr_resolution, REC, MONO) \
  F(pinhole, Pinhole, camera_xyz, ViewCoordinates, rr_view_coords, OPT, MONO) \
  F(pinhole, Pinhole, child_frame, TransformFrameId, rr_transform_frame_id, OPT, MONO) \
  F(pinhole, Pinhole, parent_frame, TransformFrameId, rr_transform_frame_id, OPT, MONO) \
  F(pinhole, Pinhole, image_plane_distance, ImagePlaneDistance, rr_image_plane_distance, OPT, MONO) \
  F(pinhole, Pinhole, color, Color, rr_color, OPT, MONO) \
  F(pinhole, Pinhole, line_width, Radius, rr_radius, OPT, MONO) \
  E(pinhole) \
  A(VIEW_COORDINATES, ViewCoordinates, view_coordinates) \
  F(view_coordinates, ViewCoordinates, xyz, ViewCoordinates, rr_view_coords, REQ, MONO) \
  E(view_coordinates) \
  A(ANNOTATION_CONTEXT, AnnotationContext, annotation_context) \
  F(annotation_context, AnnotationContext, context, AnnotationContext, rr_annotation_classes, REQ, MONO) \
  E(annotation_context) \
  A(CLEAR, Clear, clear) \
  F(clear, Clear, is_recursive, ClearIsRecursive, rr_clear_is_recursive, REQ, MONO) \
  E(clear) \
  A(BAR_CHART, BarChart, bar_chart) \
  F(bar_chart, BarChart, values, TensorData, rr_tensor_data, REQ, MONO) \
  F(bar_chart, BarChart, color, Color, rr_color, OPT, MONO) \
  F(bar_chart, BarChart, abscissa, TensorData, rr_tensor_data, OPT, MONO) \
  F(bar_chart, BarChart, widths, Length, rr_length, OPT, BATCH) \
  E(bar_chart) \
  A(ASSET3D, Asset3D, asset3d) \
  F(asset3d, Asset3D, blob, Blob, rr_blob, REQ, MONO) \
  F(asset3d, Asset3D, media_type, MediaType, rr_media_type, REC, MONO) \
  F(asset3d, Asset3D, albedo_factor, AlbedoFactor, rr_albedo_factor, OPT, MONO) \
  E(asset3d) \
  A(ELLIPSOIDS3D, Ellipsoids3D, ellipsoids3d) \
  F(ellipsoids3d, Ellipsoids3D, half_sizes, HalfSize3D, rr_half_size3d, REQ, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, centers, Translation3D, rr_translation3d, REC, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, rotation_axis_angles, RotationAxisAngle, rr_rotation_axis_angle, OPT, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, quaternions, RotationQuat, rr_rotation_quat, OPT, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, colors, Color, rr_color, REC, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, line_radii, Radius, rr_radius, OPT, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, fill_mode, FillMode, rr_fill_mode, OPT, MONO) \
  F(ellipsoids3d, Ellipsoids3D, labels, Text, rr_text, OPT, BATCH) \
  F(ellipsoids3d, Ellipsoids3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(ellipsoids3d, Ellipsoids3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(ellipsoids3d) \
  A(CAPSULES3D, Capsules3D, capsules3d) \
  F(capsules3d, Capsules3D, lengths, Length, rr_length, REQ, BATCH) \
  F(capsules3d, Capsules3D, radii, Radius, rr_radius, REQ, BATCH) \
  F(capsules3d, Capsules3D, translations, Translation3D, rr_translation3d, REC, BATCH) \
  F(capsules3d, Capsules3D, rotation_axis_angles, RotationAxisAngle, rr_rotation_axis_angle, OPT, BATCH) \
  F(capsules3d, Capsules3D, quaternions, RotationQuat, rr_rotation_quat, OPT, BATCH) \
  F(capsules3d, Capsules3D, colors, Color, rr_color, REC, BATCH) \
  F(capsules3d, Capsules3D, line_radii, Radius, rr_radius, OPT, BATCH) \
  F(capsules3d, Capsules3D, fill_mode, FillMode, rr_fill_mode, OPT, MONO) \
  F(capsules3d, Capsules3D, labels, Text, rr_text, OPT, BATCH) \
  F(capsules3d, Capsules3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(capsules3d, Capsules3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(capsules3d) \
  A(CYLINDERS3D, Cylinders3D, cylinders3d) \
  F(cylinders3d, Cylinders3D, lengths, Length, rr_length, REQ, BATCH) \
  F(cylinders3d, Cylinders3D, radii, Radius, rr_radius, REQ, BATCH) \
  F(cylinders3d, Cylinders3D, centers, Translation3D, rr_translation3d, REC, BATCH) \
  F(cylinders3d, Cylinders3D, rotation_axis_angles, RotationAxisAngle, rr_rotation_axis_angle, OPT, BATCH) \
  F(cylinders3d, Cylinders3D, quaternions, RotationQuat, rr_rotation_quat, OPT, BATCH) \
  F(cylinders3d, Cylinders3D, colors, Color, rr_color, REC, BATCH) \
  F(cylinders3d, Cylinders3D, line_radii, Radius, rr_radius, OPT, BATCH) \
  F(cylinders3d, Cylinders3D, fill_mode, FillMode, rr_fill_mode, OPT, MONO) \
  F(cylinders3d, Cylinders3D, labels, Text, rr_text, OPT, BATCH) \
  F(cylinders3d, Cylinders3D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(cylinders3d, Cylinders3D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(cylinders3d) \
  A(GRAPH_NODES, GraphNodes, graph_nodes) \
  F(graph_nodes, GraphNodes, node_ids, GraphNode, rr_graph_node, REQ, BATCH) \
  F(graph_nodes, GraphNodes, positions, Position2D, rr_position2d, OPT, BATCH) \
  F(graph_nodes, GraphNodes, colors, Color, rr_color, OPT, BATCH) \
  F(graph_nodes, GraphNodes, labels, Text, rr_text, OPT, BATCH) \
  F(graph_nodes, GraphNodes, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(graph_nodes, GraphNodes, radii, Radius, rr_radius, OPT, BATCH) \
  E(graph_nodes) \
  A(GRAPH_EDGES, GraphEdges, graph_edges) \
  F(graph_edges, GraphEdges, edges, GraphEdge, rr_graph_edge, REQ, BATCH) \
  F(graph_edges, GraphEdges, graph_type, GraphType, rr_graph_type, REC, MONO) \
  E(graph_edges) \
  A(GEO_POINTS, GeoPoints, geo_points) \
  F(geo_points, GeoPoints, positions, LatLon, rr_lat_lon, REQ, BATCH) \
  F(geo_points, GeoPoints, radii, Radius, rr_radius, REC, BATCH) \
  F(geo_points, GeoPoints, colors, Color, rr_color, REC, BATCH) \
  F(geo_points, GeoPoints, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(geo_points) \
  A(GEO_LINE_STRINGS, GeoLineStrings, geo_line_strings) \
  F(geo_line_strings, GeoLineStrings, line_strings, GeoLineString, rr_geo_line_string, REQ, BATCH) \
  F(geo_line_strings, GeoLineStrings, radii, Radius, rr_radius, REC, BATCH) \
  F(geo_line_strings, GeoLineStrings, colors, Color, rr_color, REC, BATCH) \
  E(geo_line_strings) \
  A(RECORDING_INFO, RecordingInfo, recording_info) \
  F(recording_info, RecordingInfo, start_time, Timestamp, rr_timestamp, OPT, MONO) \
  F(recording_info, RecordingInfo, name, Name, rr_name, OPT, MONO) \
  E(recording_info) \
  A(COORDINATE_FRAME, CoordinateFrame, coordinate_frame) \
  F(coordinate_frame, CoordinateFrame, frame, TransformFrameId, rr_transform_frame_id, REQ, MONO) \
  E(coordinate_frame) \
  A(TRANSFORM_AXES3D, TransformAxes3D, transform_axes3d) \
  F(transform_axes3d, TransformAxes3D, axis_length, AxisLength, rr_axis_length, REQ, MONO) \
  F(transform_axes3d, TransformAxes3D, show_frame, ShowLabels, rr_show_labels, OPT, MONO) \
  E(transform_axes3d) \
  A(ASSET_VIDEO, AssetVideo, asset_video) \
  F(asset_video, AssetVideo, blob, Blob, rr_blob, REQ, MONO) \
  F(asset_video, AssetVideo, media_type, MediaType, rr_media_type, REC, MONO) \
  E(asset_video) \
  A(VIDEO_FRAME_REFERENCE, VideoFrameReference, video_frame_reference) \
  F(video_frame_reference, VideoFrameReference, timestamp, VideoTimestamp, rr_video_timestamp, REQ, MONO) \
  F(video_frame_reference, VideoFrameReference, video_reference, EntityPath, rr_entity_path_component, OPT, MONO) \
  F(video_frame_reference, VideoFrameReference, opacity, Opacity, rr_opacity, OPT, MONO) \
  F(video_frame_reference, VideoFrameReference, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  E(video_frame_reference) \
  A(VIDEO_STREAM, VideoStream, video_stream) \
  F(video_stream, VideoStream, codec, VideoCodec, rr_video_codec, REQ, MONO) \
  F(video_stream, VideoStream, sample, VideoSample, rr_video_sample, REC, MONO) \
  F(video_stream, VideoStream, is_keyframe, IsKeyframe, rr_is_keyframe, OPT, MONO) \
  F(video_stream, VideoStream, opacity, Opacity, rr_opacity, OPT, MONO) \
  F(video_stream, VideoStream, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  E(video_stream) \
  A(ENCODED_DEPTH_IMAGE, EncodedDepthImage, encoded_depth_image) \
  F(encoded_depth_image, EncodedDepthImage, blob, Blob, rr_blob, REQ, MONO) \
  F(encoded_depth_image, EncodedDepthImage, media_type, MediaType, rr_media_type, REC, MONO) \
  F(encoded_depth_image, EncodedDepthImage, meter, DepthMeter, rr_depth_meter, REC, MONO) \
  F(encoded_depth_image, EncodedDepthImage, colormap, Colormap, rr_colormap, OPT, MONO) \
  F(encoded_depth_image, EncodedDepthImage, depth_range, ValueRange, rr_value_range, OPT, MONO) \
  F(encoded_depth_image, EncodedDepthImage, point_fill_ratio, FillRatio, rr_fill_ratio, OPT, MONO) \
  F(encoded_depth_image, EncodedDepthImage, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(encoded_depth_image, EncodedDepthImage, magnification_filter, MagnificationFilter, rr_magnification_filter, OPT, MONO) \
  E(encoded_depth_image) \
  A(ELLIPSES2D, Ellipses2D, ellipses2d) \
  F(ellipses2d, Ellipses2D, half_sizes, HalfSize2D, rr_half_size2d, REQ, BATCH) \
  F(ellipses2d, Ellipses2D, centers, Position2D, rr_position2d, REC, BATCH) \
  F(ellipses2d, Ellipses2D, colors, Color, rr_color, REC, BATCH) \
  F(ellipses2d, Ellipses2D, line_radii, Radius, rr_radius, OPT, BATCH) \
  F(ellipses2d, Ellipses2D, labels, Text, rr_text, OPT, BATCH) \
  F(ellipses2d, Ellipses2D, show_labels, ShowLabels, rr_show_labels, OPT, MONO) \
  F(ellipses2d, Ellipses2D, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(ellipses2d, Ellipses2D, class_ids, ClassId, rr_class_id, OPT, BATCH) \
  E(ellipses2d) \
  A(GRID_MAP, GridMap, grid_map) \
  F(grid_map, GridMap, data, ImageBuffer, rr_image_buffer, REQ, MONO) \
  F(grid_map, GridMap, format, ImageFormat, rr_image_format, REQ, MONO) \
  F(grid_map, GridMap, cell_size, CellSize, rr_cell_size, REQ, MONO) \
  F(grid_map, GridMap, translation, Translation3D, rr_translation3d, OPT, MONO) \
  F(grid_map, GridMap, rotation_axis_angle, RotationAxisAngle, rr_rotation_axis_angle, OPT, MONO) \
  F(grid_map, GridMap, quaternion, RotationQuat, rr_rotation_quat, OPT, MONO) \
  F(grid_map, GridMap, opacity, Opacity, rr_opacity, OPT, MONO) \
  F(grid_map, GridMap, draw_order, DrawOrder, rr_draw_order, OPT, MONO) \
  F(grid_map, GridMap, colormap, Colormap, rr_colormap, OPT, MONO) \
  E(grid_map)

/** Identifies an archetype: RR_ARCHETYPE_POINTS3D, RR_ARCHETYPE_TRANSFORM3D, ... */
typedef enum rr_archetype_id {
#define RR__ARCH_ENUM_A(ID, Name, snake) RR_ARCHETYPE_##ID,
#define RR__ARCH_ENUM_F(snake, Name, field, Comp, ctype, kind, card)
#define RR__ARCH_ENUM_E(snake)
  RR_ARCHETYPE_TABLE(RR__ARCH_ENUM_A, RR__ARCH_ENUM_F, RR__ARCH_ENUM_E)
#undef RR__ARCH_ENUM_A
#undef RR__ARCH_ENUM_F
#undef RR__ARCH_ENUM_E
  RR_ARCHETYPE_COUNT
} rr_archetype_id;

/* One struct per archetype: rr_points3d, rr_transform3d, ... */
#define RR__ARCH_STRUCT_A(ID, Name, snake) typedef struct rr_##snake {
#define RR__ARCH_STRUCT_F(snake, Name, field, Comp, ctype, kind, card) \
  const ctype *field;                                                  \
  size_t num_##field;
#define RR__ARCH_STRUCT_E(snake) } rr_##snake;
RR_ARCHETYPE_TABLE(RR__ARCH_STRUCT_A, RR__ARCH_STRUCT_F, RR__ARCH_STRUCT_E)
#undef RR__ARCH_STRUCT_A
#undef RR__ARCH_STRUCT_F
#undef RR__ARCH_STRUCT_E

#ifdef __cplusplus
}
#endif
#endif
