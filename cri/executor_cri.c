#include "cri/executor_cri.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cri/client.h"
#include "cri/cni.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/fsutil.h"

#define CONTAINER_OF(ptr, type, member)                                        \
	((type *)((char *)(ptr) - offsetof(type, member)))

enum {
	NET_RETRY_MS = 100,
	CALL_MS = 60 * 1000,      /* deadline of ordinary CRI calls */
	STOP_EXTRA_MS = 60 * 1000, /* StopContainer: the grace period + this */
	NAME_MAX_LEN = 256,
	LOG_TAIL_SLACK = 1024,
};

#define CGROUP_ROOT "/sys/fs/cgroup"

/* ======================================================================
 * Pure helpers
 * ====================================================================== */

int exec_cri_container_name(const struct exec_task *t, char *out, size_t n)
{
	int len;

	if (t->slot != 0)
		len = snprintf(out, n, "%s.%" PRIu64 ".%s", t->service_name,
			       t->slot, t->task_id);
	else
		len = snprintf(out, n, "%s.%s.%s", t->service_name, t->node_id,
			       t->task_id);
	if (len < 0 || (size_t)len >= n)
		return -1;
	return len;
}

static bool is_swarm_label(const char *key)
{
	return strcmp(key, EXEC_LABEL_TASK) == 0 ||
	       strcmp(key, EXEC_LABEL_TASK_ID) == 0 ||
	       strcmp(key, EXEC_LABEL_TASK_NAME) == 0 ||
	       strcmp(key, EXEC_LABEL_SERVICE_ID) == 0 ||
	       strcmp(key, EXEC_LABEL_SERVICE_NAME) == 0 ||
	       strcmp(key, EXEC_LABEL_NODE_ID) == 0;
}

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

size_t exec_cri_labels(const struct exec_task *t, const char *name,
		       struct exec_kv *out, size_t cap)
{
	const struct exec_kv swarm[EXEC_CRI_LABELS] = {
	    {EXEC_LABEL_NODE_ID, str_or_empty(t->node_id)},
	    {EXEC_LABEL_SERVICE_ID, str_or_empty(t->service_id)},
	    {EXEC_LABEL_SERVICE_NAME, str_or_empty(t->service_name)},
	    {EXEC_LABEL_TASK, ""},
	    {EXEC_LABEL_TASK_ID, str_or_empty(t->task_id)},
	    {EXEC_LABEL_TASK_NAME, name},
	};
	size_t n = 0, i;

	for (i = 0; i < t->n_labels && n < cap; i++)
		if (!is_swarm_label(t->labels[i].key))
			out[n++] = t->labels[i];
	for (i = 0; i < EXEC_CRI_LABELS && n < cap; i++)
		out[n++] = swarm[i];
	return n;
}

/* Linux capabilities as of 5.9, without their CAP_ prefix. */
static const char *const capabilities[] = {
    "CHOWN",           "DAC_OVERRIDE",     "DAC_READ_SEARCH",
    "FOWNER",          "FSETID",           "KILL",
    "SETGID",          "SETUID",           "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",       "NET_RAW",          "IPC_LOCK",
    "IPC_OWNER",       "SYS_MODULE",       "SYS_RAWIO",
    "SYS_CHROOT",      "SYS_PTRACE",       "SYS_PACCT",
    "SYS_ADMIN",       "SYS_BOOT",         "SYS_NICE",
    "SYS_RESOURCE",    "SYS_TIME",         "SYS_TTY_CONFIG",
    "MKNOD",           "LEASE",            "AUDIT_WRITE",
    "AUDIT_CONTROL",   "SETFCAP",          "MAC_OVERRIDE",
    "MAC_ADMIN",       "SYSLOG",           "WAKE_ALARM",
    "BLOCK_SUSPEND",   "AUDIT_READ",       "PERFMON",
    "BPF",             "CHECKPOINT_RESTORE",
};

int exec_cri_capability(const char *docker, char *out, size_t n,
			struct sw_err *err)
{
	char up[64];
	const char *name;
	size_t i, len = strlen(docker);

	if (len == 0 || len >= sizeof(up))
		goto bad;
	for (i = 0; i <= len; i++)
		up[i] = (char)toupper((unsigned char)docker[i]);
	name = strncmp(up, "CAP_", 4) == 0 ? up + 4 : up;
	if (strcmp(name, "ALL") == 0)
		goto ok;
	for (i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++)
		if (strcmp(name, capabilities[i]) == 0)
			goto ok;
bad:
	return sw_err_set(err, SW_EINVALID, "unknown capability: \"%s\"",
			  docker);
ok:
	if (strlen(name) >= n)
		goto bad;
	memcpy(out, name, strlen(name) + 1);
	return 0;
}

/* Parses a decimal ID (all digits, fits in 32 bits). */
static bool parse_id(const char *s, size_t len, int64_t *v)
{
	int64_t x = 0;
	size_t i;

	if (len == 0 || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		x = x * 10 + (s[i] - '0');
	}
	if (x > UINT32_MAX)
		return false;
	*v = x;
	return true;
}

int exec_cri_parse_user(const char *user, struct exec_cri_user *u,
			struct sw_err *err)
{
	const char *colon = strchr(user, ':');
	size_t ulen = colon != NULL ? (size_t)(colon - user) : strlen(user);

	memset(u, 0, sizeof(*u));
	if (ulen == 0)
		return sw_err_set(err, SW_EINVALID, "invalid user \"%s\"",
				  user);
	if (parse_id(user, ulen, &u->uid)) {
		u->has_uid = true;
	} else if (ulen < sizeof(u->name) &&
		   memchr(user, '/', ulen) == NULL) {
		memcpy(u->name, user, ulen);
		u->name[ulen] = '\0';
	} else {
		return sw_err_set(err, SW_EINVALID, "invalid user \"%s\"",
				  user);
	}
	if (colon == NULL)
		return 0;
	if (!parse_id(colon + 1, strlen(colon + 1), &u->gid))
		return sw_err_set(err, SW_EINVALID,
				  "invalid user \"%s\": only numeric groups "
				  "are supported",
				  user);
	u->has_gid = true;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads n digits at s into *v. */
static bool digits(const char *s, size_t n, int *v)
{
	int x = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

int exec_cri_parse_time(const char *s, size_t len, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, t;
	size_t i = 19, nd = 0;

	if (len < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -1;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	if (s[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)s[i]); i++, nd++)
			if (nd < 9)
				frac = frac * 10 + (s[i] - '0');
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
		sign = 0;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') &&
		   s[i + 3] == ':' && digits(s + i + 1, 2, &oh) &&
		   digits(s + i + 4, 2, &om)) {
		sign = s[i] == '+' ? 1 : -1;
	} else {
		return -1;
	}
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	*ns = t * 1000000000 + frac;
	return 0;
}

int exec_cri_log_line(const char *line, size_t len,
		      struct exec_cri_log_line *out)
{
	const char *end = line + len, *p, *q;

	p = memchr(line, ' ', len);
	if (p == NULL || exec_cri_parse_time(line, (size_t)(p - line),
					     &out->time_ns) != 0)
		return -1;
	p++;
	if ((size_t)(end - p) >= 7 && memcmp(p, "stdout ", 7) == 0)
		out->stream = EXEC_STDOUT;
	else if ((size_t)(end - p) >= 7 && memcmp(p, "stderr ", 7) == 0)
		out->stream = EXEC_STDERR;
	else
		return -1;
	p += 7;
	q = memchr(p, ' ', (size_t)(end - p));
	if (q == NULL)
		q = end; /* a bare tag: an empty message */
	if (q == p)
		return -1;
	/* Tags are ':'-separated; only P (partial) and F (full) exist. */
	out->partial = p[0] == 'P';
	out->msg = q < end ? q + 1 : end;
	out->msg_len = (size_t)(end - out->msg);
	return 0;
}

/* ---- Log files ---- */

struct log_ent {
	enum exec_stream stream;
	int64_t time_ns;
	bool partial;
	uint64_t start; /* file offset of the entry's first line */
	size_t off;     /* bytes in the reader's blob */
	size_t len;
};

/* A message whose P chunks are still arriving, per stream. */
struct log_pending {
	bool active;
	int64_t time_ns;
	uint64_t start;
	struct buf text;
};

struct log_reader {
	const struct exec_log_query *q;
	struct log_ent *ents;
	size_t n, cap;
	struct buf blob;
	struct log_pending pend[3]; /* indexed by exec_stream */
};

/* Drops all but the newest `keep` entries, compacting the blob. */
static void log_drop_front(struct log_reader *r, size_t keep)
{
	size_t drop = r->n - keep, shift, i;

	if (r->n <= keep)
		return;
	shift = keep > 0 ? r->ents[drop].off : r->blob.len;
	memmove(r->ents, r->ents + drop, keep * sizeof(*r->ents));
	r->n = keep;
	memmove(r->blob.data, r->blob.data + shift, r->blob.len - shift);
	r->blob.len -= shift;
	for (i = 0; i < r->n; i++)
		r->ents[i].off -= shift;
}

static void log_emit(struct log_reader *r, enum exec_stream stream,
		     struct log_pending *p, bool partial)
{
	struct log_ent *e;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->ents = xrealloc(r->ents, r->cap * sizeof(*r->ents));
	}
	e = &r->ents[r->n++];
	e->stream = stream;
	e->time_ns = p->time_ns;
	e->partial = partial;
	e->start = p->start;
	e->off = r->blob.len;
	e->len = p->text.len;
	if (p->text.len > 0)
		buf_append(&r->blob, p->text.data, p->text.len);
	p->active = false;
	p->text.len = 0;
	/* A tail needs only the newest entries: keep memory bounded by the
	 * tail, not by the file. */
	if (r->q->tail >= 0 && r->n > 2 * (size_t)r->q->tail + LOG_TAIL_SLACK)
		log_drop_front(r, (size_t)r->q->tail);
}

static void log_add_line(struct log_reader *r, const char *line, size_t len,
			 uint64_t start)
{
	struct exec_cri_log_line ll;
	struct log_pending *p;

	if (exec_cri_log_line(line, len, &ll) != 0)
		return; /* not a CRI line: skip it */
	p = &r->pend[ll.stream];
	if (!p->active) {
		p->active = true;
		p->time_ns = ll.time_ns;
		p->start = start;
	}
	buf_append(&p->text, ll.msg, ll.msg_len);
	if (!ll.partial)
		log_emit(r, ll.stream, p, false);
}

/* Handles the messages still open at the end of the file. Following, they
 * are left for the next read, together with every entry that began after
 * them (they would be read again from there). Otherwise they are returned
 * as partial entries. Returns the offset the next read starts from. */
static uint64_t log_finish_pending(struct log_reader *r, uint64_t end)
{
	uint64_t cut = end;
	int s;

	for (s = EXEC_STDOUT; s <= EXEC_STDERR; s++) {
		struct log_pending *p = &r->pend[s];

		if (!p->active)
			continue;
		if (!r->q->follow)
			log_emit(r, (enum exec_stream)s, p, true);
		else if (p->start < cut)
			cut = p->start;
	}
	while (r->n > 0 && r->ents[r->n - 1].start >= cut)
		r->n--;
	return cut;
}

static void log_output(struct log_reader *r, struct exec_logs *out)
{
	size_t first = 0, i, k = 0;

	if (r->q->tail >= 0 && r->n > (size_t)r->q->tail)
		first = r->n - (size_t)r->q->tail;
	out->entries = xcalloc(r->n - first + 1, sizeof(*out->entries));
	out->blob = r->blob.data != NULL ? buf_steal(&r->blob) : xstrdup("");
	for (i = first; i < r->n; i++) {
		const struct log_ent *e = &r->ents[i];

		if (r->q->since_ns > 0 && e->time_ns < r->q->since_ns)
			continue;
		if (r->q->until_ns > 0 && e->time_ns > r->q->until_ns)
			continue;
		out->entries[k].stream = e->stream;
		out->entries[k].time_ns = e->time_ns;
		out->entries[k].partial = e->partial;
		out->entries[k].data = out->blob + e->off;
		out->entries[k].len = e->len;
		k++;
	}
	out->n_entries = k;
}

int exec_cri_read_log(const char *path, const struct exec_log_query *q,
		      struct exec_logs *out, struct sw_err *err)
{
	struct log_reader r;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t pos = q->offset;
	FILE *f = fopen(path, "r");
	int s;

	memset(out, 0, sizeof(*out));
	if (f == NULL) {
		if (errno == ENOENT)
			return sw_err_set(err, SW_ENOTFOUND, "no log at %s",
					  path);
		return sw_err_sys(err, errno, "opening %s", path);
	}
	if (q->offset > 0 && fseeko(f, (off_t)q->offset, SEEK_SET) == -1) {
		s = errno;
		fclose(f);
		return sw_err_sys(err, s, "seeking in %s", path);
	}
	memset(&r, 0, sizeof(r));
	r.q = q;
	while ((n = getline(&line, &cap, f)) != -1) {
		/* A line without its newline is still being written. */
		if (line[n - 1] != '\n')
			break;
		log_add_line(&r, line, (size_t)n - 1, pos);
		pos += (uint64_t)n;
	}
	free(line);
	fclose(f);
	out->next_offset = log_finish_pending(&r, pos);
	log_output(&r, out);
	free(r.ents);
	buf_free(&r.blob);
	for (s = 0; s < 3; s++)
		buf_free(&r.pend[s].text);
	return 0;
}

/* ---- Container status ---- */

/* The pid in the verbose info ({"pid": 1234, ...}), or 0. */
static int info_pid(const Runtime__V1__ContainerStatusResponse *r)
{
	json_object *root, *pid;
	int v = 0;
	size_t i;

	for (i = 0; i < r->n_info; i++) {
		if (strcmp(r->info[i]->key, "info") != 0)
			continue;
		root = json_tokener_parse(r->info[i]->value);
		if (root != NULL && json_object_object_get_ex(root, "pid", &pid) &&
		    json_object_is_type(pid, json_type_int))
			v = json_object_get_int(pid);
		json_object_put(root);
	}
	return v;
}

static void set_msg(struct exec_status *st, const char *msg)
{
	(void)snprintf(st->message, sizeof(st->message), "%s", msg);
}

void exec_cri_status_from(const Runtime__V1__ContainerStatusResponse *r,
			  struct exec_status *st)
{
	const Runtime__V1__ContainerStatus *cs = r->status;

	memset(st, 0, sizeof(*st));
	if (cs == NULL) {
		st->state = EXEC_FAILED;
		set_msg(st, "started");
		(void)snprintf(st->err, sizeof(st->err),
			       "container status missing");
		return;
	}
	(void)snprintf(st->container_id, sizeof(st->container_id), "%s",
		       cs->id);
	st->created_at = cs->created_at;
	st->started_at = cs->started_at;
	st->finished_at = cs->finished_at;
	st->exit_code = cs->exit_code;
	st->oom_killed = strcmp(cs->reason, "OOMKilled") == 0;
	switch (cs->state) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED:
		st->state = EXEC_READY;
		set_msg(st, "prepared");
		break;
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING:
		st->state = EXEC_RUNNING;
		st->pid = info_pid(r);
		set_msg(st, "started");
		break;
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED:
		if (cs->exit_code == 0) {
			st->state = EXEC_COMPLETE;
			set_msg(st, "finished");
			break;
		}
		st->state = EXEC_FAILED;
		set_msg(st, "started");
		(void)snprintf(st->err, sizeof(st->err),
			       "task: non-zero exit (%d)", cs->exit_code);
		break;
	default:
		st->state = EXEC_FAILED;
		set_msg(st, "started");
		(void)snprintf(st->err, sizeof(st->err),
			       "container state unknown%s%s",
			       cs->message[0] ? ": " : "", cs->message);
		break;
	}
}
