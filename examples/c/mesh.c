/* A colored Mesh3D: an icosahedron-like UV sphere with per-vertex colors. */
#include <math.h>

#include "example_common.h"

enum { RINGS = 16, SEGS = 32, NV = (RINGS + 1) * SEGS, NT = RINGS * SEGS * 2 };

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_mesh3d");
  static rr_position3d v[NV];
  static rr_vector3d n[NV];
  static rr_color c[NV];
  static rr_triangle_indices t[NT];
  for (int r = 0; r <= RINGS; r++)
    for (int s = 0; s < SEGS; s++) {
      float th = (float)M_PI * r / RINGS, ph = 2.0f * (float)M_PI * s / SEGS;
      rr_vec3 p = {sinf(th) * cosf(ph), sinf(th) * sinf(ph), cosf(th)};
      v[r * SEGS + s] = p;
      n[r * SEGS + s] = p;
      c[r * SEGS + s] = RR_RGB((uint8_t)(127 + 127 * p.x), (uint8_t)(127 + 127 * p.y), (uint8_t)(127 + 127 * p.z));
    }
  int k = 0;
  for (int r = 0; r < RINGS; r++)
    for (int s = 0; s < SEGS; s++) {
      uint32_t a = (uint32_t)(r * SEGS + s), b = (uint32_t)(r * SEGS + (s + 1) % SEGS);
      uint32_t c2 = a + SEGS, d = b + SEGS;
      t[k++] = (rr_triangle_indices){a, c2, b};
      t[k++] = (rr_triangle_indices){b, c2, d};
    }
  CHECK(rr_set_time_sequence(rec, "frame", 0));
  rr_mesh3d m = {.vertex_positions = v, .num_vertex_positions = NV, .vertex_normals = n,
                 .num_vertex_normals = NV, .vertex_colors = c, .num_vertex_colors = NV,
                 .triangle_indices = t, .num_triangle_indices = NT};
  CHECK(rr_log(rec, "world/sphere", RR_ARCHETYPE_MESH3D, &m, NULL));
  example_finish(rec);
  return 0;
}
