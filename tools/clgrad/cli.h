/* cli.h — the clgrad command-line tool: one function per subcommand. */
#ifndef CLGRAD_CLI_H
#define CLGRAD_CLI_H

#include <stdint.h>

#include "clgrad/clgrad.h"

int cmd_devices(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* Fisher-Yates shuffle driven by a splitmix64 state (reproducible from the seed). */
void cli_shuffle(int *idx, int n, uint64_t *state);

/* Print "clgrad: <what>: <status message>" to stderr and return 1. */
int cli_fail(const char *what, clg_status st);

#endif
