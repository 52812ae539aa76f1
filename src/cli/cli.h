/* The `rerun` command's subcommands. Each returns the process exit code.
 * The CLI uses public headers only (include/rerun/...). */
#ifndef RR_CLI_H
#define RR_CLI_H
#include <stdio.h>

typedef struct rr_cli_cmd {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} rr_cli_cmd;

int rr_cli_analytics(int argc, char **argv);
int rr_cli_rrd(int argc, char **argv); /* cmd_rrd.c */
/* No subcommand: the server (cmd_serve.c); argv[0] is the program. */
int rr_cli_serve(int argc, char **argv);
/* Before every command (after --help): records cli_command_invoked, first-run notice. */
void rr_cli_analytics_preamble(int argc, char **argv, const rr_cli_cmd *commands);

#endif
