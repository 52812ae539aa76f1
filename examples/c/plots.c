/* sin and cos over 1000 steps, as two time series. */
#include <math.h>

#include "example_common.h"

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_plots");
  rr_color red = RR_RGB(230, 60, 60), blue = RR_RGB(60, 90, 230);
  rr_name sin_name = "sin", cos_name = "cos";
  rr_series_lines s1 = {.colors = &red, .num_colors = 1, .names = &sin_name, .num_names = 1};
  rr_series_lines s2 = {.colors = &blue, .num_colors = 1, .names = &cos_name, .num_names = 1};
  CHECK(rr_log_static(rec, "plots/sin", RR_ARCHETYPE_SERIES_LINES, &s1, NULL));
  CHECK(rr_log_static(rec, "plots/cos", RR_ARCHETYPE_SERIES_LINES, &s2, NULL));
  for (int step = 0; step < 1000; step++) {
    CHECK(rr_set_time_sequence(rec, "step", step));
    rr_scalar s = sin(step / 100.0), c = cos(step / 100.0);
    rr_scalars a = {.scalars = &s, .num_scalars = 1}, b = {.scalars = &c, .num_scalars = 1};
    CHECK(rr_log(rec, "plots/sin", RR_ARCHETYPE_SCALARS, &a, NULL));
    CHECK(rr_log(rec, "plots/cos", RR_ARCHETYPE_SCALARS, &b, NULL));
  }
  example_finish(rec);
  return 0;
}
