/* SPDX-License-Identifier: MIT */
/*
 * front.h - the start both programs share, banter (main.c) and banter-node
 * (node_main.c): the options before the command word, then the home and
 * libsodium a command needs. Each program keeps its own usage text and
 * command table.
 */
#ifndef BANTER_PEER_FRONT_H
#define BANTER_PEER_FRONT_H

#include <stdio.h>

#include "cli.h"

/*
 * Read the options before the command word: --home DIR (or --home=DIR;
 * the last one wins) into *home_opt (pointing into argv), -h/--help
 * (usage(stdout), exit code EXIT_OK). Returns the index of the command
 * word (argc when there is none), or -1 with *code set to the exit code
 * to leave with: EXIT_OK after --help, EXIT_USAGE for an unknown option
 * (named on stderr as prog, then usage(stderr)).
 */
int front_options(int argc, char **argv, const char *prog, void (*usage)(FILE *f),
                  const char **home_opt, int *code);

/*
 * Resolve the home (home_opt, else the defaults of home.h), initialise
 * libsodium and run fn with argv[0] the command word. Returns fn's exit
 * code, or EXIT_USAGE (no home can be found, said on stderr) or
 * EXIT_ERROR (libsodium failed).
 */
int front_run(const char *home_opt, cli_cmd_fn fn, int argc, char **argv);

#endif
