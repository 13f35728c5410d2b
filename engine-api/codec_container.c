#include "engine-api/codec_container.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-api/imageref.h"
#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"
#include "orchestrator/health.h"

/* ---- Finding a container ---- */

int codec_container_find(const struct rt_container *c, size_t n,
			 const char *ref, struct sw_err *err)
{
	const char *name = ref[0] == '/' ? ref + 1 : ref;
	size_t len = strlen(ref);
	int found = -1;

	for (size_t i = 0; len > 0 && i < n; i++)
		if (strcmp(c[i].id, ref) == 0)
			return (int)i;
	for (size_t i = 0; len > 0 && i < n; i++)
		if (c[i].name != NULL && strcmp(c[i].name, name) == 0)
			return (int)i;
	for (size_t i = 0; len > 0 && i < n; i++) {
		if (strncmp(c[i].id, ref, len) != 0)
			continue;
		if (found >= 0) {
			sw_err_set(err, SW_EINVALID,
				   "multiple IDs found with provided prefix: "
				   "%s",
				   ref);
			return -1;
		}
		found = (int)i;
	}
	if (found < 0)
		sw_err_set(err, SW_ENOTFOUND, "No such container: %s", ref);
	return found;
}

/* ---- Words ---- */

const char *codec_container_state(const struct rt_container *c)
{
	switch (c->state) {
	case RT_CREATED:
		return "created";
	case RT_RUNNING:
		return "running";
	case RT_EXITED:
		return "exited";
	default:
		return "dead";
	}
}

void codec_human_duration(int64_t ns, char *out, size_t n)
{
	int64_t s = ns / 1000000000LL;
	int64_t minutes = s / 60;
	int64_t hours = (ns + 1800LL * 1000000000LL) / (3600LL * 1000000000LL);

	if (s < 1)
		(void)snprintf(out, n, "Less than a second");
	else if (s == 1)
		(void)snprintf(out, n, "1 second");
	else if (s < 60)
		(void)snprintf(out, n, "%lld seconds", (long long)s);
	else if (minutes == 1)
		(void)snprintf(out, n, "About a minute");
	else if (minutes < 60)
		(void)snprintf(out, n, "%lld minutes", (long long)minutes);
	else if (hours == 1)
		(void)snprintf(out, n, "About an hour");
	else if (hours < 48)
		(void)snprintf(out, n, "%lld hours", (long long)hours);
	else if (hours < 24LL * 7 * 2)
		(void)snprintf(out, n, "%lld days", (long long)(hours / 24));
	else if (hours < 24LL * 30 * 2)
		(void)snprintf(out, n, "%lld weeks",
			       (long long)(hours / 24 / 7));
	else if (hours < 24LL * 365 * 2)
		(void)snprintf(out, n, "%lld months",
			       (long long)(hours / 24 / 30));
	else
		(void)snprintf(out, n, "%lld years",
			       (long long)(s / 3600 / 24 / 365));
}

void codec_container_status(const struct rt_container *c, int64_t now_ns,
			    char *out, size_t n)
{
	char d[64];

	switch (c->state) {
	case RT_RUNNING:
		codec_human_duration(c->started_ns > 0 ? now_ns - c->started_ns
						       : 0,
				     d, sizeof(d));
		/* Docker's State.String: "Up 5 seconds (healthy)". */
		if (c->health != NULL && c->health->status == HEALTH_STARTING)
			(void)snprintf(out, n, "Up %s (health: starting)", d);
		else if (c->health != NULL)
			(void)snprintf(out, n, "Up %s (%s)", d,
				       health_status_name(c->health->status));
		else
			(void)snprintf(out, n, "Up %s", d);
		return;
	case RT_CREATED:
		(void)snprintf(out, n, "Created");
		return;
	case RT_EXITED:
		if (c->finished_ns <= 0) {
			(void)snprintf(out, n, "%s",
				       c->started_ns > 0 ? "" : "Created");
			return;
		}
		codec_human_duration(now_ns - c->finished_ns, d, sizeof(d));
		(void)snprintf(out, n, "Exited (%d) %s ago", c->exit_code, d);
		return;
	default:
		(void)snprintf(out, n, "Dead");
		return;
	}
}

char *codec_container_command(const struct rt_container *c)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < c->n_args; i++) {
		if (i > 0)
			buf_puts(&b, " ");
		if (i > 0 && strchr(c->args[i], ' ') != NULL)
			buf_printf(&b, "'%s'", c->args[i]);
		else
			buf_puts(&b, c->args[i]);
	}
	if (b.data == NULL)
		buf_puts(&b, "");
	return buf_steal(&b);
}

/* ---- Filters ---- */

static const char *label(const struct rt_container *c, const char *key)
{
	for (size_t i = 0; i < c->n_labels; i++)
		if (strcmp(c->labels[i].key, key) == 0)
			return c->labels[i].value;
	return NULL;
}

static bool is_task(const struct rt_container *c)
{
	return label(c, "com.docker.swarm.task.id") != NULL;
}

int codec_container_filters_check(const struct filters *f, struct sw_err *err)
{
	static const char *const keys[] = {
	    "ancestor",  "before",  "expose", "exited", "health",  "id",
	    "isolation", "is-task", "label",  "name",   "network", "publish",
	    "since",     "status",  "volume", NULL};
	static const char *const states[] = {
	    "created", "restarting", "running", "removing",
	    "paused",  "exited",     "dead",    NULL};
	const struct filter_entry *e;

	if (filters_validate(f, keys, err) != 0)
		return -1;
	e = filters_get(f, "status");
	for (size_t i = 0; e != NULL && i < e->nvalues; i++) {
		bool ok = false;

		for (size_t j = 0; states[j] != NULL; j++)
			ok = ok || strcmp(e->values[i], states[j]) == 0;
		if (!ok)
			return sw_err_set(err, SW_EINVALID,
					  "Unrecognised filter value for "
					  "status: %s",
					  e->values[i]);
	}
	e = filters_get(f, "exited");
	for (size_t i = 0; e != NULL && i < e->nvalues; i++) {
		char *end;

		(void)strtol(e->values[i], &end, 10);
		if (e->values[i][0] == '\0' || *end != '\0')
			return sw_err_set(err, SW_EINVALID,
					  "strconv.Atoi: parsing \"%s\": "
					  "invalid syntax",
					  e->values[i]);
	}
	e = filters_get(f, "is-task");
	for (size_t i = 0; e != NULL && i < e->nvalues; i++)
		if (strcmp(e->values[i], "true") != 0 &&
		    strcmp(e->values[i], "false") != 0)
			return sw_err_set(err, SW_EINVALID,
					  "Invalid filter 'is-task=[%s]'",
					  e->values[i]);
	return 0;
}

/* Go's filters.Match: exact, or a regular expression that matches
 * somewhere (a bad expression matches nothing). */
static bool regex_match(const char *pattern, const char *s)
{
	regex_t re;
	bool ok;

	if (strcmp(pattern, s) == 0)
		return true;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static bool match_name(const char *v, const void *arg)
{
	const struct rt_container *c = arg;
	char slashed[512];

	(void)snprintf(slashed, sizeof(slashed), "/%s", c->name);
	return regex_match(v, c->name) || regex_match(v, slashed);
}

static bool match_id(const char *v, const void *arg)
{
	const struct rt_container *c = arg;

	return regex_match(v, c->id);
}

static bool match_label(const char *v, const void *arg)
{
	const struct rt_container *c = arg;
	const char *eq = strchr(v, '=');
	char key[256];
	const char *val;

	(void)snprintf(key, sizeof(key), "%.*s",
		       (int)(eq != NULL ? (size_t)(eq - v) : strlen(v)), v);
	val = label(c, key);
	return val != NULL && (eq == NULL || strcmp(val, eq + 1) == 0);
}

static bool match_status(const char *v, const void *arg)
{
	return strcmp(v, codec_container_state(arg)) == 0;
}

static bool match_exited(const char *v, const void *arg)
{
	const struct rt_container *c = arg;

	return c->state == RT_EXITED && atoi(v) == c->exit_code;
}

static bool match_is_task(const char *v, const void *arg)
{
	return strcmp(v, is_task(arg) ? "true" : "false") == 0;
}

static bool match_ancestor(const char *v, const void *arg)
{
	const struct rt_container *c = arg;
	char want[IMAGEREF_MAX], have[IMAGEREF_MAX];
	struct sw_err err;

	if (imageref_is_id_prefix(v) && imageref_id_matches(c->image_id, v))
		return true;
	return imageref_normalize(v, want, sizeof(want), &err) == 0 &&
	       imageref_normalize(c->image, have, sizeof(have), &err) == 0 &&
	       strcmp(want, have) == 0;
}

bool codec_container_matches(const struct rt_container *c,
			     const struct filters *f)
{
	return filters_match_any(f, "name", match_name, c) &&
	       filters_match_any(f, "id", match_id, c) &&
	       filters_match_any(f, "label", match_label, c) &&
	       filters_match_any(f, "status", match_status, c) &&
	       filters_match_any(f, "exited", match_exited, c) &&
	       filters_match_any(f, "is-task", match_is_task, c) &&
	       filters_match_any(f, "ancestor", match_ancestor, c);
}

/* ---- JSON ---- */

static struct json_object *labels_json(const struct rt_container *c)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < c->n_labels; i++)
		jsonx_add_string(o, c->labels[i].key, c->labels[i].value);
	return o;
}

static struct json_object *strv_json(char *const *v, size_t n)
{
	struct json_object *a;

	if (v == NULL)
		return NULL;
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *mounts_json(const struct rt_container *c)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < c->n_mounts; i++) {
		struct json_object *m = json_object_new_object();

		jsonx_add_string(m, "Type", "bind");
		jsonx_add_string(m, "Source", c->mounts[i].source);
		jsonx_add_string(m, "Destination", c->mounts[i].target);
		jsonx_add_string(m, "Mode", "");
		jsonx_add_bool(m, "RW", !c->mounts[i].read_only);
		jsonx_add_string(m, "Propagation", "rprivate");
		json_object_array_add(a, m);
	}
	return a;
}

struct json_object *codec_container_summary(const struct rt_container *c,
					    int64_t now_ns)
{
	struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array();
	struct json_object *hc = json_object_new_object();
	struct json_object *ns = json_object_new_object();
	char *cmd = codec_container_command(c);
	char *slashed = xasprintf("/%s", c->name);
	char status[128], image[IMAGEREF_MAX];

	json_object_array_add(names, json_object_new_string(slashed));
	codec_container_status(c, now_ns, status, sizeof(status));
	jsonx_add_string(o, "Id", c->id);
	jsonx_add(o, "Names", names);
	/* The image as the task's spec named it, in its familiar form. */
	imageref_familiar(c->image, true, image, sizeof(image));
	jsonx_add_string(o, "Image", image);
	jsonx_add_string(o, "ImageID", c->image_id);
	jsonx_add_string(o, "Command", cmd);
	jsonx_add_int64(o, "Created", c->created_ns / 1000000000LL);
	jsonx_add(o, "Ports", json_object_new_array());
	jsonx_add(o, "Labels", labels_json(c));
	jsonx_add_string(o, "State", codec_container_state(c));
	jsonx_add_string(o, "Status", status);
	jsonx_add_string(hc, "NetworkMode", "default");
	jsonx_add(o, "HostConfig", hc);
	jsonx_add(ns, "Networks", json_object_new_object());
	jsonx_add(o, "NetworkSettings", ns);
	jsonx_add(o, "Mounts", mounts_json(c));
	free(cmd);
	free(slashed);
	return o;
}

/* State.Health: status, failing streak and the last probe results. */
static struct json_object *health_json(const struct health_state *h)
{
	struct json_object *o = json_object_new_object();
	struct json_object *log = json_object_new_array();
	char t[64];

	jsonx_add_string(o, "Status", health_status_name(h->status));
	jsonx_add_int64(o, "FailingStreak", h->failing_streak);
	for (size_t i = 0; i < h->n_log; i++) {
		struct json_object *e = json_object_new_object();

		jsonx_add_string(e, "Start",
				 timefmt_utc(h->log[i].start_ns, t, sizeof(t)));
		jsonx_add_string(e, "End",
				 timefmt_utc(h->log[i].end_ns, t, sizeof(t)));
		jsonx_add_int64(e, "ExitCode", h->log[i].exit_code);
		jsonx_add_string(e, "Output", h->log[i].output);
		json_object_array_add(log, e);
	}
	jsonx_add(o, "Log", log);
	return o;
}

static struct json_object *state_json(const struct rt_container *c)
{
	struct json_object *o = json_object_new_object();
	char t[64];

	jsonx_add_string(o, "Status", codec_container_state(c));
	jsonx_add_bool(o, "Running", c->state == RT_RUNNING);
	jsonx_add_bool(o, "Paused", false);
	jsonx_add_bool(o, "Restarting", false);
	jsonx_add_bool(o, "OOMKilled",
		       c->reason != NULL &&
			   strcmp(c->reason, "OOMKilled") == 0);
	jsonx_add_bool(o, "Dead", c->state == RT_UNKNOWN);
	jsonx_add_int64(o, "Pid", c->state == RT_RUNNING ? c->pid : 0);
	jsonx_add_int64(o, "ExitCode",
			c->state == RT_EXITED ? c->exit_code : 0);
	jsonx_add_string(o, "Error", "");
	jsonx_add_string(o, "StartedAt",
			 timefmt_utc(c->started_ns, t, sizeof(t)));
	jsonx_add_string(o, "FinishedAt",
			 timefmt_utc(c->finished_ns, t, sizeof(t)));
	if (c->health != NULL)
		jsonx_add(o, "Health", health_json(c->health));
	return o;
}

static struct json_object *host_config_json(const struct rt_container *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *rp = json_object_new_object();
	struct json_object *lc = json_object_new_object();
	struct json_object *binds = json_object_new_array();

	for (size_t i = 0; i < c->n_mounts; i++) {
		char *b = xasprintf("%s:%s%s", c->mounts[i].source,
				    c->mounts[i].target,
				    c->mounts[i].read_only ? ":ro" : "");

		json_object_array_add(binds, json_object_new_string(b));
		free(b);
	}
	if (c->n_mounts == 0) {
		json_object_put(binds);
		binds = NULL;
	}
	jsonx_add(o, "Binds", binds);
	jsonx_add_string(lc, "Type", "json-file");
	jsonx_add(lc, "Config", json_object_new_object());
	jsonx_add(o, "LogConfig", lc);
	jsonx_add_string(o, "NetworkMode", "default");
	jsonx_add_string(rp, "Name", "");
	jsonx_add_int64(rp, "MaximumRetryCount", 0);
	jsonx_add(o, "RestartPolicy", rp);
	jsonx_add_bool(o, "AutoRemove", false);
	jsonx_add_bool(o, "Privileged", false);
	jsonx_add_bool(o, "ReadonlyRootfs", false);
	jsonx_add(o, "Init", NULL);
	return o;
}

static struct json_object *config_json(const struct rt_container *c)
{
	struct json_object *o = json_object_new_object();
	const char *user = c->user != NULL ? c->user : "";

	jsonx_add_string(o, "Hostname", c->hostname != NULL ? c->hostname : "");
	jsonx_add_string(o, "Domainname", "");
	/* The runtime reports the resolved uid:gid; root is Docker's
	 * default, shown as "". */
	jsonx_add_string(o, "User", strcmp(user, "0:0") == 0 ? "" : user);
	jsonx_add_bool(o, "AttachStdin", false);
	jsonx_add_bool(o, "AttachStdout", false);
	jsonx_add_bool(o, "AttachStderr", false);
	jsonx_add_bool(o, "Tty", c->tty);
	jsonx_add_bool(o, "OpenStdin", c->open_stdin);
	jsonx_add_bool(o, "StdinOnce", false);
	jsonx_add(o, "Env", strv_json(c->env, c->n_env));
	jsonx_add(o, "Cmd", strv_json(c->args, c->n_args));
	jsonx_add_string(o, "Image", c->image);
	jsonx_add(o, "Volumes", NULL);
	jsonx_add_string(o, "WorkingDir", c->workdir != NULL ? c->workdir : "");
	jsonx_add(o, "Entrypoint", NULL);
	jsonx_add(o, "OnBuild", NULL);
	jsonx_add(o, "Labels", labels_json(c));
	return o;
}

static struct json_object *network_json(void)
{
	struct json_object *o = json_object_new_object();

	jsonx_add_string(o, "Bridge", "");
	jsonx_add_string(o, "SandboxID", "");
	jsonx_add_bool(o, "HairpinMode", false);
	jsonx_add(o, "Ports", json_object_new_object());
	jsonx_add_string(o, "SandboxKey", "");
	jsonx_add_string(o, "IPAddress", "");
	jsonx_add(o, "Networks", json_object_new_object());
	return o;
}

struct json_object *codec_container_inspect(const struct rt_container *c,
					    char *const *exec_ids,
					    size_t n_exec)
{
	struct json_object *o = json_object_new_object();
	struct json_object *gd = json_object_new_object();
	char *name = xasprintf("/%s", c->name);
	char t[64];

	jsonx_add_string(o, "Id", c->id);
	jsonx_add_string(o, "Created",
			 timefmt_utc(c->created_ns, t, sizeof(t)));
	jsonx_add_string(o, "Path", c->n_args > 0 ? c->args[0] : "");
	jsonx_add(o, "Args",
		  c->n_args > 0 ? strv_json(c->args + 1, c->n_args - 1)
				: json_object_new_array());
	jsonx_add(o, "State", state_json(c));
	jsonx_add_string(o, "Image", c->image_id);
	jsonx_add_string(o, "ResolvConfPath", "");
	jsonx_add_string(o, "HostnamePath", "");
	jsonx_add_string(o, "HostsPath", "");
	jsonx_add_string(o, "LogPath", c->log_path != NULL ? c->log_path : "");
	jsonx_add_string(o, "Name", name);
	jsonx_add_int64(o, "RestartCount", 0);
	jsonx_add_string(o, "Driver", "overlayfs");
	jsonx_add_string(o, "Platform", "linux");
	jsonx_add_string(o, "MountLabel", "");
	jsonx_add_string(o, "ProcessLabel", "");
	jsonx_add_string(o, "AppArmorProfile", "");
	jsonx_add(o, "ExecIDs",
		  n_exec > 0 ? strv_json(exec_ids, n_exec) : NULL);
	jsonx_add(o, "HostConfig", host_config_json(c));
	jsonx_add(gd, "Data", NULL);
	jsonx_add_string(gd, "Name", "overlayfs");
	jsonx_add(o, "GraphDriver", gd);
	jsonx_add(o, "Mounts", mounts_json(c));
	jsonx_add(o, "Config", config_json(c));
	jsonx_add(o, "NetworkSettings", network_json());
	free(name);
	return o;
}

void codec_frame(struct buf *b, int stream, const void *data, size_t n)
{
	unsigned char hdr[8] = {0};

	if (n == 0)
		return;
	hdr[0] = (unsigned char)stream;
	hdr[4] = (unsigned char)(n >> 24);
	hdr[5] = (unsigned char)(n >> 16);
	hdr[6] = (unsigned char)(n >> 8);
	hdr[7] = (unsigned char)n;
	buf_append(b, hdr, sizeof(hdr));
	buf_append(b, data, n);
}
