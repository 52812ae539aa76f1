/* One of each archetype, each at its own entity, on frames 0 and 1. */
#include <math.h>

#include "example_common.h"

/* An 8x8 RGB PNG (made with zlib, stored as bytes). */
static const uint8_t k_png[] = {0x89,0x50,0x4e,0x47,0x0d,0x0a,0x1a,0x0a,0x00,0x00,0x00,0x0d,0x49,0x48,0x44,0x52,0x00,0x00,0x00,0x08,0x00,0x00,0x00,0x08,0x08,0x02,0x00,0x00,0x00,0x4b,0x6d,0x29,0xdc,0x00,0x00,0x00,0x6c,0x49,0x44,0x41,0x54,0x78,0xda,0x0d,0xc9,0x41,0x01,0x00,0x30,0x08,0x03,0x31,0x94,0x54,0x09,0x4a,0xaa,0xa4,0x4a,0x50,0x82,0x88,0x7b,0xa3,0x68,0xcb,0x37,0x55,0x85,0x8a,0x2e,0x5c,0xa4,0x98,0x62,0x8b,0x2b,0xaa,0x84,0x44,0x0b,0x8b,0x88,0x11,0x2b,0x4e,0x3f,0x1a,0x35,0xdd,0xb8,0x49,0x33,0xcd,0x36,0xd7,0x3f,0x8c,0x4c,0x1b,0x9b,0x98,0x31,0x6b,0xce,0x3f,0x82,0x42,0x07,0x87,0x84,0x09,0x1b,0x2e,0x3f,0x06,0x0d,0x3d,0x78,0xc8,0x30,0xc3,0x0e,0x37,0x3f,0x16,0x2d,0xbd,0x78,0xc9,0x32,0xcb,0x2e,0xb7,0x3f,0x0e,0x1d,0x7d,0xf8,0xc8,0x31,0xc7,0x1e,0x77,0x3c,0xa6,0x95,0x66,0x81,0xab,0x8c,0xf7,0xb9,0x00,0x00,0x00,0x00,0x49,0x45,0x4e,0x44,0xae,0x42,0x60,0x82};

/* EXAMPLE_ONLY=word logs only the entities whose path contains it. */
static int wanted(const char *path) {
  const char *only = getenv("EXAMPLE_ONLY");
  return !only || strstr(path, only) != NULL;
}
#define LOG(path, ID, v) \
  do { if (wanted(path)) CHECK(rr_log(rec, path, RR_ARCHETYPE_##ID, &(v), NULL)); } while (0)
#define LOG_STATIC(path, ID, v) \
  do { if (wanted(path)) CHECK(rr_log_static(rec, path, RR_ARCHETYPE_##ID, &(v), NULL)); } while (0)

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_all_archetypes");
  CHECK(rr_recording_set_name(rec, "one of each", NULL));
  rr_color red = RR_RGB(230, 50, 50), green = RR_RGB(50, 200, 80), blue = RR_RGB(60, 90, 230);
  rr_color rgb3[3] = {red, green, blue};
  rr_text labels[3] = {"a", "b", "c"};
  rr_radius rad = 0.1f;

  for (int frame = 0; frame < 2; frame++) {
    CHECK(rr_set_time_sequence(rec, "frame", frame));
    float s = 1.0f + frame;

    rr_position3d p3[3] = {{0, 0, 0}, {s, 0, 0}, {0, s, 0}};
    rr_points3d points3d = {.positions = p3, .num_positions = 3, .colors = rgb3, .num_colors = 3,
                            .radii = &rad, .num_radii = 1, .labels = labels, .num_labels = 3};
    LOG("world/points3d", POINTS3D, points3d);

    rr_position2d p2[3] = {{10, 10}, {20 * s, 10}, {10, 20 * s}};
    rr_points2d points2d = {.positions = p2, .num_positions = 3, .colors = rgb3, .num_colors = 3};
    LOG("image2d/points2d", POINTS2D, points2d);

    rr_half_size2d hs2 = {5, 3};
    rr_position2d c2 = {40, 40};
    rr_boxes2d boxes2d = {.half_sizes = &hs2, .num_half_sizes = 1, .centers = &c2, .num_centers = 1,
                          .colors = &green, .num_colors = 1};
    LOG("image2d/boxes2d", BOXES2D, boxes2d);

    rr_half_size3d hs3 = {0.5f, 0.3f, 0.2f};
    rr_translation3d c3 = {2, 2, 0};
    rr_fill_mode solid = RR_FILL_MODE_SOLID;
    rr_boxes3d boxes3d = {.half_sizes = &hs3, .num_half_sizes = 1, .centers = &c3, .num_centers = 1,
                          .colors = &blue, .num_colors = 1, .fill_mode = &solid, .num_fill_mode = 1};
    LOG("world/boxes3d", BOXES3D, boxes3d);

    rr_vec2 l2pts[3] = {{0, 0}, {30, 10}, {60, 0}};
    rr_line_strip2d l2 = {l2pts, 3};
    rr_line_strips2d strips2d = {.strips = &l2, .num_strips = 1, .colors = &red, .num_colors = 1};
    LOG("image2d/strips2d", LINE_STRIPS2D, strips2d);

    rr_vec3 l3pts[4] = {{0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1 + s}};
    rr_line_strip3d l3 = {l3pts, 4};
    rr_line_strips3d strips3d = {.strips = &l3, .num_strips = 1, .colors = &green, .num_colors = 1};
    LOG("world/strips3d", LINE_STRIPS3D, strips3d);

    rr_vector2d v2 = {20, 20};
    rr_arrows2d arrows2d = {.vectors = &v2, .num_vectors = 1, .origins = &c2, .num_origins = 1};
    LOG("image2d/arrows2d", ARROWS2D, arrows2d);

    rr_vector3d v3[3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, s}};
    rr_arrows3d arrows3d = {.vectors = v3, .num_vectors = 3, .colors = rgb3, .num_colors = 3};
    LOG("world/arrows3d", ARROWS3D, arrows3d);

    rr_position3d mv[3] = {{3, 0, 0}, {4, 0, 0}, {3.5f, 1, 0}};
    rr_triangle_indices tri = {0, 1, 2};
    rr_mesh3d mesh = {.vertex_positions = mv, .num_vertex_positions = 3, .triangle_indices = &tri,
                      .num_triangle_indices = 1, .vertex_colors = rgb3, .num_vertex_colors = 3};
    LOG("world/mesh3d", MESH3D, mesh);

    rr_half_size3d ehs = {0.4f, 0.2f, 0.3f};
    rr_translation3d ec = {-2, 0, 0};
    rr_ellipsoids3d ell = {.half_sizes = &ehs, .num_half_sizes = 1, .centers = &ec, .num_centers = 1,
                           .colors = &red, .num_colors = 1};
    LOG("world/ellipsoids3d", ELLIPSOIDS3D, ell);

    rr_length len = 1.0f;
    rr_radius crad = 0.2f;
    rr_translation3d cc = {-2, 2, 0};
    rr_capsules3d caps = {.lengths = &len, .num_lengths = 1, .radii = &crad, .num_radii = 1,
                          .translations = &cc, .num_translations = 1};
    LOG("world/capsules3d", CAPSULES3D, caps);
    rr_translation3d cyc = {-2, -2, 0};
    rr_cylinders3d cyl = {.lengths = &len, .num_lengths = 1, .radii = &crad, .num_radii = 1,
                          .centers = &cyc, .num_centers = 1};
    LOG("world/cylinders3d", CYLINDERS3D, cyl);

    rr_half_size2d ehs2 = {8, 4};
    rr_position2d ec2 = {70, 30};
    rr_ellipses2d ell2 = {.half_sizes = &ehs2, .num_half_sizes = 1, .centers = &ec2, .num_centers = 1};
    LOG("image2d/ellipses2d", ELLIPSES2D, ell2);

    rr_scalar sc[2] = {sin(frame), cos(frame)};
    rr_scalars scalars = {.scalars = sc, .num_scalars = 2};
    LOG("plots/scalars", SCALARS, scalars);
    rr_scalar sp = 0.5 * frame;
    rr_scalars sps = {.scalars = &sp, .num_scalars = 1};
    LOG("plots/points", SCALARS, sps);

    rr_text msg = "hello from rerun-c";
    rr_text_log_level info = "INFO";
    rr_text_log tl = {.text = &msg, .num_text = 1, .level = &info, .num_level = 1};
    LOG("logs", TEXT_LOG, tl);

    rr_translation3d tr = {0, 0, 0.1f * frame};
    rr_rotation_quat q = {0, 0, sinf(0.2f * frame), cosf(0.2f * frame)};
    rr_transform3d tf = {.translation = &tr, .num_translation = 1, .quaternion = &q, .num_quaternion = 1};
    LOG("world/boxes3d", TRANSFORM3D, tf);

    rr_translation3d ip[2] = {{0, 0, 0}, {0, 0, 1}};
    rr_instance_poses3d poses = {.translations = ip, .num_translations = 2};
    LOG("world/mesh3d", INSTANCE_POSES3D, poses);

    uint64_t shape[2] = {3, 4};
    float tdata[12];
    for (int i = 0; i < 12; i++) tdata[i] = (float)(i * s);
    rr_tensor_data td = {.shape = shape, .ndim = 2, .dtype = RR_TENSOR_DTYPE_F32, .data = tdata, .num_elements = 12};
    rr_tensor tensor = {.data = &td, .num_data = 1};
    LOG("tensor", TENSOR, tensor);

    uint64_t bshape = 5;
    double bvals[5] = {1, 3 * s, 2, 5, 4};
    rr_tensor_data bd = {.shape = &bshape, .ndim = 1, .dtype = RR_TENSOR_DTYPE_F64, .data = bvals, .num_elements = 5};
    rr_bar_chart bar = {.values = &bd, .num_values = 1, .color = &blue, .num_color = 1};
    LOG("bar_chart", BAR_CHART, bar);

    rr_graph_node nodes[3] = {"a", "b", "c"};
    rr_position2d npos[3] = {{0, 0}, {50, 0}, {25, 40}};
    rr_graph_nodes gn = {.node_ids = nodes, .num_node_ids = 3, .positions = npos, .num_positions = 3,
                         .labels = labels, .num_labels = 3};
    LOG("graph", GRAPH_NODES, gn);
    rr_graph_edge edges[2] = {{"a", "b"}, {"b", "c"}};
    rr_graph_type directed = RR_GRAPH_TYPE_DIRECTED;
    rr_graph_edges ge = {.edges = edges, .num_edges = 2, .graph_type = &directed, .num_graph_type = 1};
    LOG("graph", GRAPH_EDGES, ge);

    rr_lat_lon gp[2] = {{59.319, 18.075}, {59.33, 18.06 + 0.01 * frame}};
    rr_geo_points geo = {.positions = gp, .num_positions = 2, .colors = &red, .num_colors = 1};
    LOG("map/points", GEO_POINTS, geo);
    rr_geo_line_string gls = {gp, 2};
    rr_geo_line_strings geol = {.line_strings = &gls, .num_line_strings = 1};
    LOG("map/line", GEO_LINE_STRINGS, geol);
  }

  /* static things */
  rr_color lc = RR_RGB(200, 100, 0);
  rr_name n1 = "sin";
  rr_series_lines sl = {.colors = &lc, .num_colors = 1, .names = &n1, .num_names = 1};
  LOG_STATIC("plots/scalars", SERIES_LINES, sl);
  rr_marker_shape diamond = RR_MARKER_SHAPE_DIAMOND;
  rr_series_points spp = {.markers = &diamond, .num_markers = 1};
  LOG_STATIC("plots/points", SERIES_POINTS, spp);

  rr_text doc = "# all archetypes\nLogged by **rerun-c**.";
  rr_media_type md = "text/markdown";
  rr_text_document tdoc = {.text = &doc, .num_text = 1, .media_type = &md, .num_media_type = 1};
  LOG_STATIC("readme", TEXT_DOCUMENT, tdoc);

  rr_view_coords rub = {{RR_VIEW_DIR_RIGHT, RR_VIEW_DIR_UP, RR_VIEW_DIR_BACK}};
  rr_view_coordinates vc = {.xyz = &rub, .num_xyz = 1};
  LOG_STATIC("world", VIEW_COORDINATES, vc);

  rr_pinhole_projection K = {{100, 0, 0, 0, 100, 0, 64, 48, 1}};
  rr_resolution res = {128, 96};
  rr_pinhole pin = {.image_from_camera = &K, .num_image_from_camera = 1, .resolution = &res, .num_resolution = 1};
  LOG_STATIC("world/camera", PINHOLE, pin);
  static uint8_t pix[96][128][3];
  for (int y = 0; y < 96; y++)
    for (int x = 0; x < 128; x++) { pix[y][x][0] = (uint8_t)(2 * x); pix[y][x][1] = (uint8_t)(2 * y); pix[y][x][2] = 128; }
  rr_image_buffer ib = {(const uint8_t *)pix, sizeof pix};
  rr_image_format ifmt = {.width = 128, .height = 96, .color_model = RR_COLOR_MODEL_RGB,
                          .channel_datatype = RR_CHANNEL_DATATYPE_U8};
  rr_image img = {.buffer = &ib, .num_buffer = 1, .format = &ifmt, .num_format = 1};
  LOG_STATIC("world/camera/image", IMAGE, img);

  static float depth[32][32];
  for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) depth[y][x] = 1.0f + 0.05f * (float)(x + y);
  rr_image_buffer db = {(const uint8_t *)depth, sizeof depth};
  rr_image_format dfmt = {.width = 32, .height = 32, .color_model = RR_COLOR_MODEL_L,
                          .channel_datatype = RR_CHANNEL_DATATYPE_F32};
  rr_depth_image dimg = {.buffer = &db, .num_buffer = 1, .format = &dfmt, .num_format = 1};
  LOG_STATIC("depth", DEPTH_IMAGE, dimg);

  static uint8_t seg[32][32];
  for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) seg[y][x] = (uint8_t)(x < 16 ? 1 : 2);
  rr_image_buffer sb = {(const uint8_t *)seg, sizeof seg};
  rr_image_format sfmt = {.width = 32, .height = 32, .color_model = RR_COLOR_MODEL_L,
                          .channel_datatype = RR_CHANNEL_DATATYPE_U8};
  rr_segmentation_image simg = {.buffer = &sb, .num_buffer = 1, .format = &sfmt, .num_format = 1};
  LOG_STATIC("segmentation", SEGMENTATION_IMAGE, simg);
  rr_class_description cls[2] = {{.info = {.id = 1, .label = "left", .color = RR_RGB(255, 0, 0), .has_color = true}},
                                 {.info = {.id = 2, .label = "right", .color = RR_RGB(0, 0, 255), .has_color = true}}};
  rr_annotation_classes ctx = {cls, 2};
  rr_annotation_context ac = {.context = &ctx, .num_context = 1};
  LOG_STATIC("segmentation", ANNOTATION_CONTEXT, ac);

  rr_blob png = {k_png, sizeof k_png};
  rr_media_type png_type = "image/png";
  rr_encoded_image enc = {.blob = &png, .num_blob = 1, .media_type = &png_type, .num_media_type = 1};
  /* Logged on the timeline: the official 0.33 web viewer's page crashes on
   * a *static* EncodedImage (seen in headless Chromium; any PNG). */
  LOG("encoded_image", ENCODED_IMAGE, enc);

  static const char obj[] = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n";
  rr_blob objb = {(const uint8_t *)obj, sizeof obj - 1};
  rr_media_type obj_type = "model/obj";
  rr_asset3d asset = {.blob = &objb, .num_blob = 1, .media_type = &obj_type, .num_media_type = 1};
  LOG_STATIC("world/asset3d", ASSET3D, asset);

  CHECK(rr_set_time_sequence(rec, "frame", 2));
  CHECK(rr_log_clear(rec, "world/arrows3d", false, NULL));
  example_finish(rec);
  return 0;
}
