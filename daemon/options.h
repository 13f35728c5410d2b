/* swarmd's command line and configuration file, modelled on dockerd's flag
 * names and daemon.json keys. A directive given both as a flag and in the
 * file is an error, as with dockerd. */
#ifndef SW_OPTIONS_H
#define SW_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/err.h"

#define SWARMD_DEFAULT_HOST "unix:///var/run/swarmd.sock"
#define SWARMD_DEFAULT_DATA_ROOT "/var/lib/swarmd"
#define SWARMD_DEFAULT_EXEC_ROOT "/var/run/swarmd"
#define SWARMD_DEFAULT_CONFIG "/etc/swarmd/daemon.json"

struct options {
	char *host;        /* socket path, without unix:// */
	char *data_root;
	char *exec_root;
	char *containerd;  /* external containerd socket, NULL = managed */
	char *log_level;
	char *config_file;
	char *pidfile;
	char **labels;     /* NULL-terminated */
	/* Who runs this node's tasks: "cri" (containerd, the default) or
	 * "sim" (in memory, no containerd: for control-plane benchmarks). */
	char *executor;
	unsigned sim_delay_ms; /* sim: start → RUNNING after this long */
	bool debug;
	bool show_version;
	bool show_help;
	unsigned set_by_flag; /* bit per OPT_* directive given on the line */
};

/* Parses argv into o (defaults first, then flags, then the config file if
 * one is named or the default one exists). 0 on success; -1 with err set
 * (the text is what swarmd prints before exiting with status 1). o must be
 * released with options_free in every case. */
int options_parse(struct options *o, int argc, char **argv,
		  struct sw_err *err);

/* Applies the JSON text of a configuration file to o. Exposed for tests;
 * options_parse calls it. */
int options_apply_json(struct options *o, const char *text, size_t len,
		       const char *path, struct sw_err *err);

void options_free(struct options *o);

/* The --help text. */
void options_usage(FILE *out);

#endif
