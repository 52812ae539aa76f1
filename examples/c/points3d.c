/* A moving point cloud: 100 frames of 1000 points on a swirling sphere. */
#include <math.h>

#include "example_common.h"

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_points3d");
  enum { N = 1000 };
  static rr_position3d pts[N];
  static rr_color colors[N];
  rr_radius radius = 0.05f;
  for (int frame = 0; frame < 100; frame++) {
    CHECK(rr_set_time_sequence(rec, "frame", frame));
    float t = (float)frame * 0.05f;
    for (int i = 0; i < N; i++) {
      float u = (float)i / N, th = u * 40.0f + t, z = 2.0f * u - 1.0f, r = sqrtf(1.0f - z * z);
      pts[i] = (rr_position3d){r * cosf(th) * 3.0f, r * sinf(th) * 3.0f, z * 3.0f};
      colors[i] = RR_RGB((uint8_t)(255 * u), (uint8_t)(128 + 127 * sinf(t)), (uint8_t)(255 * (1 - u)));
    }
    rr_points3d p = {.positions = pts, .num_positions = N, .colors = colors, .num_colors = N,
                     .radii = &radius, .num_radii = 1};
    CHECK(rr_log(rec, "world/points", RR_ARCHETYPE_POINTS3D, &p, NULL));
  }
  example_finish(rec);
  return 0;
}
