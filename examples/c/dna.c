/* The double helix of Rerun's DNA example: two strands of points, the
 * rungs between them as line strips, beads sliding along the rungs, and the
 * whole structure spinning with a Transform3D, on a `stable_time` duration
 * timeline. */
#include <math.h>

#include "example_common.h"

enum { NUM_POINTS = 100, NUM_BEADS = NUM_POINTS / 2 };

static float lerpf(float a, float b, float t) { return a + (b - a) * t; }

static rr_color color_ramp(float t) {
  /* from a warm orange to a cool blue */
  return RR_RGB((uint8_t)lerpf(245, 40, t), (uint8_t)lerpf(160, 120, t), (uint8_t)lerpf(40, 240, t));
}

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_dna_abacus");
  static rr_position3d s1[NUM_POINTS], s2[NUM_POINTS];
  static rr_color c1[NUM_POINTS], c2[NUM_POINTS];
  const float z_offset = -5.0f, z_length = 10.0f, radius = 3.0f, angular_step = 0.1f;
  for (int i = 0; i < NUM_POINTS; i++) {
    float t = (float)i / (NUM_POINTS - 1), a = (float)i * angular_step * 3.0f;
    float z = z_offset + t * z_length;
    s1[i] = (rr_position3d){radius * sinf(a), radius * cosf(a), z};
    s2[i] = (rr_position3d){radius * sinf(a + (float)M_PI), radius * cosf(a + (float)M_PI), z};
    c1[i] = color_ramp(t);
    c2[i] = color_ramp(1.0f - t);
  }
  CHECK(rr_set_time_duration_secs(rec, "stable_time", 0.0));
  rr_radius r = 0.08f;
  rr_points3d p1 = {.positions = s1, .num_positions = NUM_POINTS, .colors = c1, .num_colors = NUM_POINTS,
                    .radii = &r, .num_radii = 1};
  rr_points3d p2 = {.positions = s2, .num_positions = NUM_POINTS, .colors = c2, .num_colors = NUM_POINTS,
                    .radii = &r, .num_radii = 1};
  CHECK(rr_log(rec, "dna/structure/left", RR_ARCHETYPE_POINTS3D, &p1, NULL));
  CHECK(rr_log(rec, "dna/structure/right", RR_ARCHETYPE_POINTS3D, &p2, NULL));

  /* rungs: every other pair of points */
  static rr_vec3 rung_pts[NUM_BEADS][2];
  static rr_line_strip3d rungs[NUM_BEADS];
  for (int k = 0; k < NUM_BEADS; k++) {
    rung_pts[k][0] = s1[2 * k];
    rung_pts[k][1] = s2[2 * k];
    rungs[k] = (rr_line_strip3d){rung_pts[k], 2};
  }
  rr_color grey = RR_RGBA(128, 128, 128, 255);
  rr_radius rung_r = 0.01f;
  rr_line_strips3d ls = {.strips = rungs, .num_strips = NUM_BEADS, .colors = &grey, .num_colors = 1,
                         .radii = &rung_r, .num_radii = 1};
  CHECK(rr_log(rec, "dna/structure/scaffolding", RR_ARCHETYPE_LINE_STRIPS3D, &ls, NULL));

  /* 400 time steps of 0.01 s: beads oscillate along the rungs, the helix spins */
  static rr_position3d beads[NUM_BEADS];
  static rr_color bead_colors[NUM_BEADS];
  uint32_t seed = 12345;
  float offsets[NUM_BEADS];
  for (int k = 0; k < NUM_BEADS; k++) {
    seed = seed * 1664525u + 1013904223u;
    offsets[k] = (float)(seed >> 8) / (float)(1u << 24);
  }
  rr_radius bead_r = 0.06f;
  for (int step = 0; step < 400; step++) {
    double time_s = step * 0.01;
    float time = (float)time_s;
    CHECK(rr_set_time_duration_secs(rec, "stable_time", time_s));
    for (int k = 0; k < NUM_BEADS; k++) {
      float t = (sinf(offsets[k] * 6.28f + time) + 1.0f) * 0.5f;
      rr_vec3 a = rung_pts[k][0], b = rung_pts[k][1];
      beads[k] = (rr_position3d){lerpf(a.x, b.x, t), lerpf(a.y, b.y, t), lerpf(a.z, b.z, t)};
      uint8_t c = (uint8_t)(200 * t + 55);
      bead_colors[k] = RR_RGB(c, c, 255);
    }
    rr_points3d pb = {.positions = beads, .num_positions = NUM_BEADS, .colors = bead_colors,
                      .num_colors = NUM_BEADS, .radii = &bead_r, .num_radii = 1};
    CHECK(rr_log(rec, "dna/structure/scaffolding/beads", RR_ARCHETYPE_POINTS3D, &pb, NULL));
    rr_rotation_axis_angle rot = {.axis = {0, 0, 1}, .angle = time / 4.0f * 6.2831855f};
    rr_transform3d tf = {.rotation_axis_angle = &rot, .num_rotation_axis_angle = 1};
    CHECK(rr_log(rec, "dna/structure", RR_ARCHETYPE_TRANSFORM3D, &tf, NULL));
  }
  example_finish(rec);
  return 0;
}
