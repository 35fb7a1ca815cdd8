/* cli.h — the clgrad command-line tool: one function per subcommand. */
#ifndef CLGRAD_CLI_H
#define CLGRAD_CLI_H

#include "clgrad/clgrad.h"

int cmd_devices(int argc, char **argv);
int cmd_corpus(int argc, char **argv);
int cmd_train_sgns(int argc, char **argv);
int cmd_similar(int argc, char **argv);
int cmd_analogy(int argc, char **argv);
int cmd_lookup(int argc, char **argv);

/* Print "clgrad: <what>: <status message>" to stderr and return 1. */
int cli_fail(const char *what, clg_status st);

#endif
