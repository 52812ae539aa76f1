/* `rerun`: the command-line entry point. Dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rerun.h"

static const rr_cli_cmd commands[] = {
    {"rrd", "tools for .rrd files: print, stats, verify, merge, compact, filter, export", rr_cli_rrd},
    {"analytics", "anonymous usage analytics: details, clear, email, enable, disable, config", rr_cli_analytics},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f,
          "rerun %s: the Rerun viewer, server and tools, in C\n\n"
          "Usage: rerun [OPTIONS] [FILE.rrd ...]\n"
          "       rerun <COMMAND> [ARGS]\n\nCommands:\n",
          rr_version_string());
  for (const rr_cli_cmd *c = commands; c->name; c++) fprintf(f, "  %-12s %s\n", c->name, c->summary);
  fprintf(f, "\nOptions:\n  -h, --help     this help\n  -V, --version  print the version\n"
             "Without a command: the server (rerun --serve-help for its options).\n");
}

int main(int argc, char **argv) {
  if (argc < 2) return rr_cli_serve(argc, argv); /* no file: the server */
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    usage(stdout);
    return 0;
  }
  rr_cli_analytics_preamble(argc, argv, commands);
  if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
    printf("rerun-c %s\n", rr_version_string());
    return 0;
  }
  for (const rr_cli_cmd *c = commands; c->name; c++)
    if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
  return rr_cli_serve(argc, argv); /* files, '-', options: the server */
}
