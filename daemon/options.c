#include "daemon/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/jsonx.h"
#include "lib/log.h"

/* Directives that can come from a flag or from the file. */
enum {
	OPT_HOST = 1 << 0,
	OPT_DATA_ROOT = 1 << 1,
	OPT_EXEC_ROOT = 1 << 2,
	OPT_CONTAINERD = 1 << 3,
	OPT_LOG_LEVEL = 1 << 4,
	OPT_PIDFILE = 1 << 5,
	OPT_LABELS = 1 << 6,
	OPT_DEBUG = 1 << 7,
};

enum { MAX_CONFIG_BYTES = 1 << 20 };

void options_usage(FILE *out)
{
	fputs("Usage:\tswarmd [OPTIONS]\n\n"
	      "A Docker Engine API daemon with swarm mode, on containerd's "
	      "CRI.\n\n"
	      "Options:\n"
	      "      --config-file string   Daemon configuration file "
	      "(default \"" SWARMD_DEFAULT_CONFIG "\")\n"
	      "      --containerd string    containerd socket to use instead "
	      "of starting one\n"
	      "      --data-root string     Root directory of persistent "
	      "state (default \"" SWARMD_DEFAULT_DATA_ROOT "\")\n"
	      "  -D, --debug                Enable debug mode\n"
	      "      --exec-root string     Root directory for execution "
	      "state files (default \"" SWARMD_DEFAULT_EXEC_ROOT "\")\n"
	      "      --executor string      Task executor: \"cri\" or \"sim\" "
	      "(in memory, no containerd) (default \"cri\")\n"
	      "  -h, --help                 Print usage\n"
	      "  -H, --host string          Daemon socket to listen on "
	      "(default \"" SWARMD_DEFAULT_HOST "\")\n"
	      "      --label list           Set key=value labels to the "
	      "daemon\n"
	      "  -l, --log-level string     Set the logging level "
	      "(\"debug\"|\"info\"|\"warn\"|\"error\"|\"fatal\") (default "
	      "\"info\")\n"
	      "      --sim-delay int        sim executor: milliseconds "
	      "before a started task runs (default 0)\n"
	      "  -p, --pidfile string       Path to use for daemon PID file "
	      "(default \"" SWARMD_DEFAULT_EXEC_ROOT "/swarmd.pid\")\n"
	      "  -v, --version              Print version information and "
	      "quit\n",
	      out);
}

static void set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value != NULL ? xstrdup(value) : NULL;
}

static void add_label(struct options *o, const char *label)
{
	size_t n = 0;

	while (o->labels != NULL && o->labels[n] != NULL)
		n++;
	o->labels = xrealloc(o->labels, (n + 2) * sizeof(char *));
	o->labels[n] = xstrdup(label);
	o->labels[n + 1] = NULL;
}

/* Accepts "unix:///path" or a bare absolute path. */
static int set_host(struct options *o, const char *value, struct sw_err *err)
{
	if (strncmp(value, "unix://", 7) == 0)
		value += 7;
	else if (strstr(value, "://") != NULL)
		return sw_err_set(err, SW_EINVALID,
				  "invalid host %s: swarmd listens only on "
				  "unix sockets (unix:///path)",
				  value);
	if (value[0] != '/')
		return sw_err_set(err, SW_EINVALID,
				  "invalid host %s: the socket path must be "
				  "absolute",
				  value);
	set_str(&o->host, value);
	return 0;
}

static void set_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->host = xstrdup(SWARMD_DEFAULT_HOST + 7);
	o->data_root = xstrdup(SWARMD_DEFAULT_DATA_ROOT);
	o->exec_root = xstrdup(SWARMD_DEFAULT_EXEC_ROOT);
	o->log_level = xstrdup("info");
	o->executor = xstrdup("cri");
}

static const struct option long_opts[] = {
	{"host", required_argument, NULL, 'H'},
	{"data-root", required_argument, NULL, 'd'},
	{"exec-root", required_argument, NULL, 'e'},
	{"containerd", required_argument, NULL, 'c'},
	{"log-level", required_argument, NULL, 'l'},
	{"config-file", required_argument, NULL, 'f'},
	{"pidfile", required_argument, NULL, 'p'},
	{"label", required_argument, NULL, 'L'},
	{"debug", no_argument, NULL, 'D'},
	{"executor", required_argument, NULL, 'X'},
	{"sim-delay", required_argument, NULL, 'S'},
	{"version", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int parse_delay(struct options *o, const char *arg, struct sw_err *err)
{
	char *end;
	unsigned long ms;

	errno = 0;
	ms = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || ms > 3600000)
		return sw_err_set(err, SW_EINVALID,
				  "invalid argument \"%s\" for --sim-delay",
				  arg);
	o->sim_delay_ms = (unsigned)ms;
	return 0;
}

/* Applies one parsed flag. */
static int apply_flag(struct options *o, int c, const char *arg,
		      struct sw_err *err)
{
	switch (c) {
	case 'H':
		o->set_by_flag |= OPT_HOST;
		return set_host(o, arg, err);
	case 'd':
		o->set_by_flag |= OPT_DATA_ROOT;
		set_str(&o->data_root, arg);
		return 0;
	case 'e':
		o->set_by_flag |= OPT_EXEC_ROOT;
		set_str(&o->exec_root, arg);
		return 0;
	case 'c':
		o->set_by_flag |= OPT_CONTAINERD;
		set_str(&o->containerd, arg);
		return 0;
	case 'l':
		o->set_by_flag |= OPT_LOG_LEVEL;
		set_str(&o->log_level, arg);
		return 0;
	case 'f':
		set_str(&o->config_file, arg);
		return 0;
	case 'p':
		o->set_by_flag |= OPT_PIDFILE;
		set_str(&o->pidfile, arg);
		return 0;
	case 'L':
		o->set_by_flag |= OPT_LABELS;
		add_label(o, arg);
		return 0;
	case 'D':
		o->set_by_flag |= OPT_DEBUG;
		o->debug = true;
		return 0;
	case 'X':
		set_str(&o->executor, arg);
		return 0;
	case 'S':
		return parse_delay(o, arg, err);
	case 'v':
		o->show_version = true;
		return 0;
	case 'h':
		o->show_help = true;
		return 0;
	}
	return sw_err_set(err, SW_EINVALID,
			  "unknown flag; see 'swarmd --help'");
}

static int parse_flags(struct options *o, int argc, char **argv,
		       struct sw_err *err)
{
	int c;

	optind = 0; /* glibc: full reset, including a half-read "-abc" */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":H:l:p:Dvh", long_opts, NULL)) !=
	       -1) {
		const char *arg = argv[optind - 1];

		if (c == ':')
			return sw_err_set(err, SW_EINVALID,
					  "flag needs an argument: %s; see "
					  "'swarmd --help'",
					  arg);
		if (c == '?' && optopt != 0)
			return sw_err_set(err, SW_EINVALID,
					  "unknown shorthand flag: '%c'; see "
					  "'swarmd --help'",
					  optopt);
		if (c == '?')
			return sw_err_set(err, SW_EINVALID,
					  "unknown flag: %s; see 'swarmd "
					  "--help'",
					  arg);
		if (apply_flag(o, c, optarg, err) != 0)
			return -1;
	}
	if (optind < argc)
		return sw_err_set(err, SW_EINVALID,
				  "swarmd takes no arguments, got \"%s\"; see "
				  "'swarmd --help'",
				  argv[optind]);
	return 0;
}

/* One configuration-file key and the directive it sets. */
struct file_key {
	const char *name;
	unsigned bit;
};

static const struct file_key file_keys[] = {
	{"hosts", OPT_HOST},	   {"data-root", OPT_DATA_ROOT},
	{"exec-root", OPT_EXEC_ROOT}, {"containerd", OPT_CONTAINERD},
	{"log-level", OPT_LOG_LEVEL}, {"pidfile", OPT_PIDFILE},
	{"labels", OPT_LABELS},	   {"debug", OPT_DEBUG},
};

static const struct file_key *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(file_keys) / sizeof(file_keys[0]); i++)
		if (strcmp(file_keys[i].name, name) == 0)
			return &file_keys[i];
	return NULL;
}

/* Lists keys unknown or also given as flags; dockerd refuses both. */
static int check_keys(struct options *o, struct json_object *root,
		      struct sw_err *err)
{
	struct buf unknown, both;
	int rc = 0;

	buf_init(&unknown);
	buf_init(&both);
	json_object_object_foreach(root, key, val)
	{
		const struct file_key *k = find_key(key);

		(void)val;
		if (k == NULL)
			buf_printf(&unknown, "%s%s", unknown.len ? ", " : "",
				   key);
		else if (o->set_by_flag & k->bit)
			buf_printf(&both, "%s%s", both.len ? ", " : "", key);
	}
	if (unknown.len > 0)
		rc = sw_err_set(err, SW_EINVALID,
				"the following directives don't match any "
				"configuration option: %s",
				unknown.data);
	else if (both.len > 0)
		rc = sw_err_set(err, SW_EINVALID,
				"the following directives are specified both "
				"as a flag and in the configuration file: %s",
				both.data);
	buf_free(&unknown);
	buf_free(&both);
	return rc;
}

static int file_string(struct json_object *root, const char *key,
		       char **slot, struct sw_err *err)
{
	const char *v;
	int rc = jsonx_get_string(root, key, &v, err);

	if (rc > 0)
		set_str(slot, v);
	return rc < 0 ? -1 : 0;
}

/* "hosts" is a list in daemon.json; swarmd serves one socket. */
static int file_hosts(struct options *o, struct json_object *root,
		      struct sw_err *err)
{
	struct json_object *hosts;
	struct json_object *h;
	int rc = jsonx_get_array(root, "hosts", &hosts, err);

	if (rc <= 0)
		return rc;
	if (json_object_array_length(hosts) != 1)
		return sw_err_set(err, SW_EINVALID,
				  "hosts: swarmd listens on exactly one "
				  "socket");
	h = json_object_array_get_idx(hosts, 0);
	if (h == NULL || !json_object_is_type(h, json_type_string))
		return sw_err_set(err, SW_EINVALID,
				  "hosts: expected a list of strings");
	return set_host(o, json_object_get_string(h), err);
}

static int file_labels(struct options *o, struct json_object *root,
		       struct sw_err *err)
{
	struct json_object *labels;
	int rc = jsonx_get_array(root, "labels", &labels, err);

	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < json_object_array_length(labels); i++) {
		struct json_object *l = json_object_array_get_idx(labels, i);

		if (l == NULL || !json_object_is_type(l, json_type_string))
			return sw_err_set(err, SW_EINVALID,
					  "labels: expected a list of "
					  "strings");
		add_label(o, json_object_get_string(l));
	}
	return 0;
}

static int apply_root(struct options *o, struct json_object *root,
		      struct sw_err *err)
{
	if (check_keys(o, root, err) != 0 || file_hosts(o, root, err) != 0 ||
	    file_labels(o, root, err) != 0 ||
	    file_string(root, "data-root", &o->data_root, err) != 0 ||
	    file_string(root, "exec-root", &o->exec_root, err) != 0 ||
	    file_string(root, "containerd", &o->containerd, err) != 0 ||
	    file_string(root, "log-level", &o->log_level, err) != 0 ||
	    file_string(root, "pidfile", &o->pidfile, err) != 0 ||
	    jsonx_get_bool(root, "debug", &o->debug, err) < 0)
		return -1;
	return 0;
}

int options_apply_json(struct options *o, const char *text, size_t len,
		       const char *path, struct sw_err *err)
{
	struct json_object *root = jsonx_parse(text, len, err);
	int rc;

	if (root == NULL)
		return sw_err_wrap(err, "unable to configure the daemon with "
				   "file %s", path);
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return sw_err_set(err, SW_EINVALID,
				  "unable to configure the daemon with file "
				  "%s: expected a JSON object",
				  path);
	}
	rc = apply_root(o, root, err);
	json_object_put(root);
	if (rc != 0)
		return sw_err_wrap(err, "unable to configure the daemon with "
				   "file %s", path);
	return 0;
}

static int load_config_file(struct options *o, struct sw_err *err)
{
	const char *path = o->config_file;
	struct buf b;
	int rc;

	if (path == NULL) {
		/* Like dockerd: the default file is read only if present. */
		FILE *f = fopen(SWARMD_DEFAULT_CONFIG, "r");

		if (f == NULL)
			return 0;
		fclose(f);
		path = SWARMD_DEFAULT_CONFIG;
	}
	buf_init(&b);
	rc = fsutil_read_file(path, MAX_CONFIG_BYTES, &b, err);
	if (rc == 0)
		rc = options_apply_json(o, b.data ? b.data : "", b.len, path,
					err);
	buf_free(&b);
	return rc;
}

static int validate(struct options *o, struct sw_err *err)
{
	if (log_parse_level(o->log_level) < 0)
		return sw_err_set(err, SW_EINVALID,
				  "unable to parse logging level: %s",
				  o->log_level);
	if (o->data_root[0] != '/' || o->exec_root[0] != '/')
		return sw_err_set(err, SW_EINVALID,
				  "--data-root and --exec-root must be "
				  "absolute paths");
	if (strcmp(o->executor, "cri") != 0 && strcmp(o->executor, "sim") != 0)
		return sw_err_set(err, SW_EINVALID,
				  "unknown executor \"%s\": use \"cri\" or "
				  "\"sim\"",
				  o->executor);
	if (o->pidfile == NULL)
		o->pidfile = xasprintf("%s/swarmd.pid", o->exec_root);
	if (o->debug && !(o->set_by_flag & OPT_LOG_LEVEL))
		set_str(&o->log_level, "debug");
	return 0;
}

int options_parse(struct options *o, int argc, char **argv,
		  struct sw_err *err)
{
	set_defaults(o);
	if (parse_flags(o, argc, argv, err) != 0)
		return -1;
	if (o->show_help || o->show_version)
		return 0;
	if (load_config_file(o, err) != 0)
		return -1;
	return validate(o, err);
}

void options_free(struct options *o)
{
	free(o->host);
	free(o->data_root);
	free(o->exec_root);
	free(o->containerd);
	free(o->log_level);
	free(o->config_file);
	free(o->pidfile);
	free(o->executor);
	for (size_t i = 0; o->labels != NULL && o->labels[i] != NULL; i++)
		free(o->labels[i]);
	free(o->labels);
	memset(o, 0, sizeof(*o));
}
