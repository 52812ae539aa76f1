/* An RGB image, a depth image and a segmentation image with its annotation
 * context, over 20 frames. */
#include <math.h>

#include "example_common.h"

enum { W = 256, H = 192 };

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_images");
  static uint8_t rgb[H][W][3];
  static uint16_t depth[H][W];
  static uint8_t seg[H][W];

  rr_class_description classes[3] = {
      {.info = {.id = 0, .label = "background", .color = RR_RGB(20, 20, 20), .has_color = true}},
      {.info = {.id = 1, .label = "disc", .color = RR_RGB(230, 80, 60), .has_color = true}},
      {.info = {.id = 2, .label = "bar", .color = RR_RGB(60, 180, 90), .has_color = true}},
  };
  rr_annotation_classes ctx = {classes, 3};
  rr_annotation_context ac = {.context = &ctx, .num_context = 1};
  CHECK(rr_log_static(rec, "camera", RR_ARCHETYPE_ANNOTATION_CONTEXT, &ac, NULL));

  for (int frame = 0; frame < 20; frame++) {
    CHECK(rr_set_time_sequence(rec, "frame", frame));
    float cx = 60.0f + 6.0f * frame, cy = 96.0f;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        float d = sqrtf((x - cx) * (x - cx) + (y - cy) * (y - cy));
        bool disc = d < 40.0f, bar = x > 180 && x < 200;
        rgb[y][x][0] = (uint8_t)(disc ? 230 : x);
        rgb[y][x][1] = (uint8_t)(disc ? 80 : y);
        rgb[y][x][2] = (uint8_t)(bar ? 255 : 128);
        depth[y][x] = (uint16_t)(disc ? 1000 + d * 10 : bar ? 800 : 3000);
        seg[y][x] = (uint8_t)(disc ? 1 : bar ? 2 : 0);
      }
    rr_image_buffer b1 = {(const uint8_t *)rgb, sizeof rgb};
    rr_image_format f1 = {.width = W, .height = H, .color_model = RR_COLOR_MODEL_RGB,
                          .channel_datatype = RR_CHANNEL_DATATYPE_U8};
    rr_image img = {.buffer = &b1, .num_buffer = 1, .format = &f1, .num_format = 1};
    CHECK(rr_log(rec, "camera/rgb", RR_ARCHETYPE_IMAGE, &img, NULL));

    rr_image_buffer b2 = {(const uint8_t *)depth, sizeof depth};
    rr_image_format f2 = {.width = W, .height = H, .color_model = RR_COLOR_MODEL_L,
                          .channel_datatype = RR_CHANNEL_DATATYPE_U16};
    rr_depth_meter meter = 1000.0f;
    rr_depth_image dimg = {.buffer = &b2, .num_buffer = 1, .format = &f2, .num_format = 1,
                           .meter = &meter, .num_meter = 1};
    CHECK(rr_log(rec, "camera/depth", RR_ARCHETYPE_DEPTH_IMAGE, &dimg, NULL));

    rr_image_buffer b3 = {(const uint8_t *)seg, sizeof seg};
    rr_image_format f3 = {.width = W, .height = H, .color_model = RR_COLOR_MODEL_L,
                          .channel_datatype = RR_CHANNEL_DATATYPE_U8};
    rr_segmentation_image simg = {.buffer = &b3, .num_buffer = 1, .format = &f3, .num_format = 1};
    CHECK(rr_log(rec, "camera/segmentation", RR_ARCHETYPE_SEGMENTATION_IMAGE, &simg, NULL));
  }
  example_finish(rec);
  return 0;
}
