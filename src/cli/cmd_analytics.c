/* `rerun analytics …` and the analytics step run before every command
 * (docs/cli/analytics.md). Public headers only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "rerun/analytics.h"

static const char USAGE[] =
    "Usage: rerun analytics <COMMAND>\n"
    "\n"
    "Anonymous usage analytics: see what is collected, opt out, audit pending events.\n"
    "\n"
    "Commands:\n"
    "  details        what is collected, and the exact payloads pending on disk\n"
    "  clear [--yes]  delete pending events and start over with a new analytics id\n"
    "                 (asks first unless --yes; keeps your enable/disable choice)\n"
    "  email ADDRESS  attach an e-mail address to your analytics id (for the Rerun team)\n"
    "  enable         turn analytics on\n"
    "  disable        turn analytics off (honoured by Rerun and rerun-c alike)\n"
    "  config         print the config file (JSON) with the config and data paths\n"
    "\n"
    "Environment: DO_NOT_TRACK=1, CI or RERUN_ANALYTICS=off turn analytics off for a\n"
    "process without writing anything; XDG_CONFIG_HOME / XDG_DATA_HOME choose where the\n"
    "config and the pending events live; RERUN_ANALYTICS_ENDPOINT / RERUN_ANALYTICS_KEY\n"
    "override the build's endpoint and project key.\n";

static rr_analytics *g_analytics; /* set once by the preamble, on the main thread */

static void close_at_exit(void) {
  rr_analytics_close(g_analytics); /* bounded: at most 1 s */
  g_analytics = NULL;
}

void rr_cli_analytics_preamble(int argc, char **argv, const rr_cli_cmd *commands) {
  const char *command = "viewer", *sub = NULL;
  if (argc >= 2 && argv[1][0] != '-')
    for (const rr_cli_cmd *c = commands; c && c->name; c++)
      if (!strcmp(argv[1], c->name)) command = c->name;
  if (!strcmp(command, "rrd") || !strcmp(command, "mcap")) return; /* as upstream: not recorded */
  if (!strcmp(command, "analytics")) {
    if (argc < 3 || argv[2][0] == '-') return; /* help */
    sub = argv[2];
    /* Opting out or wiping must not first create, announce or record anything. */
    if (!strcmp(sub, "disable") || !strcmp(sub, "clear")) return;
  }
  /* Option names only (from a fixed list inside the library); never values. */
  const char *flags[32];
  char names[32][32];
  size_t nf = 0;
  for (int i = 1; i < argc && nf < 32; i++) {
    const char *s = argv[i];
    if (strncmp(s, "--", 2) || !s[2]) continue;
    size_t n = strcspn(s + 2, "=");
    if (n >= sizeof names[0]) continue;
    for (size_t k = 0; k < n; k++) names[nf][k] = s[2 + k] == '-' ? '_' : s[2 + k];
    names[nf][n] = 0;
    flags[nf] = names[nf];
    nf++;
  }
  if (rr_analytics_open(&g_analytics, NULL, NULL) != RR_OK) return;
  rr_analytics_cli_command_invoked(g_analytics, command, sub, flags, nf);
  atexit(close_at_exit);
}

static int fail(rr_error *e) {
  fprintf(stderr, "Error: %s\n", e->msg[0] ? e->msg : rr_strerror(e->code));
  return 1;
}

static void env_note(void) {
  const char *why = rr_analytics_env_disabled_reason();
  if (why) fprintf(stderr, "Note: analytics is off in this environment (%s).\n", why);
}

static int cmd_details(void) {
  rr_error e = {0};
  char *pending = NULL;
  if (rr_analytics_pending_text(&pending, &e) != RR_OK) return fail(&e);
  fputs(rr_analytics_details_text(), stdout);
  fputs("\n", stdout);
  fputs(pending, stdout);
  rr_analytics_free(pending);
  env_note();
  return 0;
}

static int cmd_config(void) {
  rr_error e = {0};
  char *text = NULL;
  if (rr_analytics_config_text(&text, &e) != RR_OK) return fail(&e);
  printf("%s\n", text);
  rr_analytics_free(text);
  env_note();
  return 0;
}

static int cmd_enable(int on) {
  rr_error e = {0};
  if (rr_analytics_set_enabled(on, &e) != RR_OK) return fail(&e);
  fprintf(stderr, on ? "Analytics enabled\n" : "Analytics disabled\n");
  if (on) env_note();
  return 0;
}

static int cmd_email(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "Usage: rerun analytics email ADDRESS\n");
    return 2;
  }
  rr_error e = {0};
  if (rr_analytics_set_email(argv[2], &e) != RR_OK) return fail(&e);
  return 0;
}

static int cmd_clear(int argc, char **argv) {
  int yes = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--yes") || !strcmp(argv[i], "-y")) yes = 1;
    else {
      fprintf(stderr, "Usage: rerun analytics clear [--yes]\n");
      return 2;
    }
  }
  rr_error e = {0};
  char *cfg = NULL, *data = NULL;
  if (rr_analytics_locations(&cfg, &data, &e) != RR_OK) return fail(&e);
  int go = yes;
  if (!yes) {
    fprintf(stderr, "Delete all pending analytics events in \"%s\" and replace the analytics id in \"%s\"? [y/N]: ",
            data, cfg);
    fflush(stderr);
    char line[64] = "";
    if (fgets(line, sizeof line, stdin)) {
      char *s = line;
      while (*s == ' ' || *s == '\t') s++;
      s[strcspn(s, " \t\r\n")] = 0;
      go = !strcasecmp(s, "y") || !strcasecmp(s, "yes");
    }
    if (!go) fprintf(stderr, "\nNothing deleted.\n");
  }
  int rc = 0;
  if (go) {
    if (rr_analytics_clear(&e) != RR_OK) rc = fail(&e);
    else fprintf(stderr, "Deleted \"%s\"; new analytics id written to \"%s\"\n", data, cfg);
  }
  rr_analytics_free(cfg);
  rr_analytics_free(data);
  return rc;
}

int rr_cli_analytics(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(USAGE, stdout);
      return 0;
    }
  if (!strcmp(sub, "details") && argc == 2) return cmd_details();
  if (!strcmp(sub, "config") && argc == 2) return cmd_config();
  if (!strcmp(sub, "enable") && argc == 2) return cmd_enable(1);
  if (!strcmp(sub, "disable") && argc == 2) return cmd_enable(0);
  if (!strcmp(sub, "email")) return cmd_email(argc, argv);
  if (!strcmp(sub, "clear")) return cmd_clear(argc, argv);
  fprintf(stderr, "rerun analytics: unknown or malformed command '%s'\n\n%s", sub, USAGE);
  return 2;
}
