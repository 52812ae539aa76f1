/* Log messages at every level, on a `log_seq` timeline. */
#include <stdio.h>

#include "example_common.h"

int main(int argc, char **argv) {
  rr_recording *rec = example_start(argc, argv, "rerun_example_text_log");
  static const char *levels[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"};
  char text[128];
  for (int i = 0; i < 60; i++) {
    CHECK(rr_set_time_sequence(rec, "log_seq", i));
    snprintf(text, sizeof text, "message %d: the reactor is at %d%% — všechno v pořádku", i, (i * 7) % 101);
    rr_text t = text;
    rr_text_log_level lvl = levels[i % 6];
    rr_text_log tl = {.text = &t, .num_text = 1, .level = &lvl, .num_level = 1};
    CHECK(rr_log(rec, "logs/reactor", RR_ARCHETYPE_TEXT_LOG, &tl, NULL));
  }
  rr_text doc = "# Reactor notes\n\nEverything logged by **rerun-c**.";
  rr_media_type md = "text/markdown";
  rr_text_document td = {.text = &doc, .num_text = 1, .media_type = &md, .num_media_type = 1};
  CHECK(rr_log_static(rec, "notes", RR_ARCHETYPE_TEXT_DOCUMENT, &td, NULL));
  example_finish(rec);
  return 0;
}
