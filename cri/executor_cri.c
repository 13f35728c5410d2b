#include "cri/executor_cri.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cri/client.h"
#include "cri/cni.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/buf.h"
#include "lib/fsutil.h"

#define CONTAINER_OF(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

enum {
	NET_RETRY_MS = 100,
	CALL_MS = 60 * 1000,       /* deadline of ordinary CRI calls */
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
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
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
	} else if (ulen < sizeof(u->name) && memchr(user, '/', ulen) == NULL) {
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
	    (int64_t)h * 3600 + (int64_t)mi * 60 + sec -
	    (int64_t)sign * (oh * 3600 + om * 60);
	*ns = t * 1000000000 + frac;
	return 0;
}

int exec_cri_log_line(const char *line, size_t len,
		      struct exec_cri_log_line *out)
{
	const char *end = line + len, *p, *q;

	p = memchr(line, ' ', len);
	if (p == NULL ||
	    exec_cri_parse_time(line, (size_t)(p - line), &out->time_ns) != 0)
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
		(void)fclose(f);
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
	(void)fclose(f);
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
		if (root != NULL &&
		    json_object_object_get_ex(root, "pid", &pid) &&
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
	/* containerd 1.6 stamps StartedAt after Start returns, so a process
	 * that exits at once can show a finish before its start. */
	if (st->finished_at != 0 && st->finished_at < st->started_at)
		st->finished_at = st->started_at;
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

/* ======================================================================
 * Building the CRI configurations of a task
 * ====================================================================== */

/* Scratch allocations for one message tree, freed together once the tree
 * has been packed. */
struct scratch {
	void **v;
	size_t n, cap;
};

static void *sc_new(struct scratch *s, size_t size)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n] = xcalloc(1, size > 0 ? size : 1);
	return s->v[s->n++];
}

static void sc_free(struct scratch *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static char *sc_printf(struct scratch *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *sc_printf(struct scratch *s, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = sc_new(s, (size_t)(n < 0 ? 0 : n) + 1);
	va_start(ap, fmt);
	(void)vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void *sc_msg(struct scratch *s, const ProtobufCMessageDescriptor *d)
{
	void *m = sc_new(s, d->sizeof_message);

	protobuf_c_message_init(d, m);
	return m;
}

/* A protobuf map (repeated key/value entries of descriptor d) from kv. The
 * generated entry types differ only in name, so fields are set through the
 * descriptor. */
static void **sc_map(struct scratch *s, const ProtobufCMessageDescriptor *d,
		     const struct exec_kv *kv, size_t n)
{
	const ProtobufCFieldDescriptor *fk =
	    protobuf_c_message_descriptor_get_field_by_name(d, "key");
	const ProtobufCFieldDescriptor *fv =
	    protobuf_c_message_descriptor_get_field_by_name(d, "value");
	void **arr = sc_new(s, n * sizeof(void *));
	size_t i;

	for (i = 0; i < n; i++) {
		char *m = sc_msg(s, d);

		*(const char **)(m + fk->offset) = kv[i].key;
		*(const char **)(m + fv->offset) = str_or_empty(kv[i].value);
		arr[i] = m;
	}
	return arr;
}

/* protobuf-c wants char ** for repeated strings; they are only read. */
static char **strv(const char *const *v)
{
	return (char **)v;
}

static char *str(const char *s)
{
	return (char *)str_or_empty(s);
}

struct build {
	struct exec_cri *ex;
	const struct exec_task *t;
	const char *name;
	const char *log_dir;
	const char *hosts_path; /* NULL: containerd's /etc/hosts */
	struct exec_kv *labels;
	size_t n_labels;
	struct scratch s;
};

static Runtime__V1__NamespaceOption *build_ns(struct build *b, bool container)
{
	Runtime__V1__NamespaceOption *ns =
	    sc_msg(&b->s, &runtime__v1__namespace_option__descriptor);

	ns->network = b->t->host_network ? RUNTIME__V1__NAMESPACE_MODE__NODE
					 : RUNTIME__V1__NAMESPACE_MODE__POD;
	/* The task's process is PID 1 of its own namespace, as in Docker. */
	ns->pid = container ? RUNTIME__V1__NAMESPACE_MODE__CONTAINER
			    : RUNTIME__V1__NAMESPACE_MODE__POD;
	ns->ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
	return ns;
}

static Runtime__V1__DNSConfig *build_dns(struct build *b)
{
	const struct exec_task *t = b->t;
	Runtime__V1__DNSConfig *dns;

	if (t->n_dns_servers + t->n_dns_search + t->n_dns_options == 0)
		return NULL;
	dns = sc_msg(&b->s, &runtime__v1__dnsconfig__descriptor);
	dns->n_servers = t->n_dns_servers;
	dns->servers = strv(t->dns_servers);
	dns->n_searches = t->n_dns_search;
	dns->searches = strv(t->dns_search);
	dns->n_options = t->n_dns_options;
	dns->options = strv(t->dns_options);
	return dns;
}

static void build_ports(struct build *b, Runtime__V1__PodSandboxConfig *pod)
{
	const struct exec_task *t = b->t;
	size_t i;

	/* A host-network task binds the node's ports itself. */
	if (t->host_network || t->n_ports == 0)
		return;
	pod->port_mappings = sc_new(&b->s, t->n_ports * sizeof(void *));
	for (i = 0; i < t->n_ports; i++) {
		Runtime__V1__PortMapping *pm =
		    sc_msg(&b->s, &runtime__v1__port_mapping__descriptor);

		pm->protocol = t->ports[i].proto == EXEC_PROTO_UDP
				   ? RUNTIME__V1__PROTOCOL__UDP
			       : t->ports[i].proto == EXEC_PROTO_SCTP
				   ? RUNTIME__V1__PROTOCOL__SCTP
				   : RUNTIME__V1__PROTOCOL__TCP;
		pm->container_port = t->ports[i].target;
		pm->host_port = t->ports[i].published;
		pod->port_mappings[i] = pm;
	}
	pod->n_port_mappings = t->n_ports;
}

/* Defined with struct exec_cri below. */
static const char *ex_cgroup_parent(const struct exec_cri *ex);

static void build_pod(struct build *b, Runtime__V1__PodSandboxConfig *pod)
{
	const struct exec_task *t = b->t;
	Runtime__V1__PodSandboxMetadata *md =
	    sc_msg(&b->s, &runtime__v1__pod_sandbox_metadata__descriptor);
	Runtime__V1__LinuxPodSandboxConfig *lx =
	    sc_msg(&b->s, &runtime__v1__linux_pod_sandbox_config__descriptor);
	Runtime__V1__LinuxSandboxSecurityContext *sc = sc_msg(
	    &b->s, &runtime__v1__linux_sandbox_security_context__descriptor);

	md->name = str(b->name);
	md->uid = str(t->task_id);
	md->namespace_ = EXEC_CRI_NAMESPACE;
	pod->metadata = md;
	/* A host-network pod shares the node's UTS namespace: RunPodSandbox
	 * fails if it is given a hostname. Otherwise Docker's default is the
	 * container ID's first 12 characters; the task ID's stands in. */
	if (!t->host_network)
		pod->hostname = t->hostname != NULL && t->hostname[0] != '\0'
				    ? str(t->hostname)
				    : sc_printf(&b->s, "%.12s", t->task_id);
	pod->log_directory = str(b->log_dir);
	pod->dns_config = build_dns(b);
	build_ports(b, pod);
	pod->n_labels = b->n_labels;
	pod->labels = (Runtime__V1__PodSandboxConfig__LabelsEntry **)sc_map(
	    &b->s, &runtime__v1__pod_sandbox_config__labels_entry__descriptor,
	    b->labels, b->n_labels);
	sc->namespace_options = build_ns(b, false);
	sc->privileged = t->privileged;
	lx->security_context = sc;
	lx->cgroup_parent = str(ex_cgroup_parent(b->ex));
	lx->n_sysctls = t->n_sysctls;
	lx->sysctls = (Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry **)sc_map(
	    &b->s,
	    &runtime__v1__linux_pod_sandbox_config__sysctls_entry__descriptor,
	    t->sysctls, t->n_sysctls);
	pod->linux = lx;
}

/* Maps Docker capabilities to CRI's into a scratch array. */
static int build_caps(struct build *b, const char *const *in, size_t n,
		      const char *what, char ***out, struct sw_err *err)
{
	size_t i;

	*out = sc_new(&b->s, n * sizeof(char *));
	for (i = 0; i < n; i++) {
		char *c = sc_new(&b->s, 64);

		if (exec_cri_capability(in[i], c, 64, err) != 0)
			return sw_err_wrap(err, "invalid %s", what);
		(*out)[i] = c;
	}
	return 0;
}

static bool cgroup_v2(void);

static Runtime__V1__LinuxContainerResources *build_resources(struct build *b)
{
	const struct exec_task *t = b->t;
	Runtime__V1__LinuxContainerResources *res =
	    sc_msg(&b->s, &runtime__v1__linux_container_resources__descriptor);

	if (t->nano_cpus > 0) {
		/* Docker's NanoCPUs: a 100 ms CFS period. */
		res->cpu_period = 100000;
		res->cpu_quota = t->nano_cpus / 10000;
		if (res->cpu_quota < 1000)
			res->cpu_quota = 1000;
	}
	res->memory_limit_in_bytes = t->memory_bytes;
	if (t->pids_limit > 0 && cgroup_v2()) {
		struct exec_kv kv = {
		    "pids.max", sc_printf(&b->s, "%" PRId64, t->pids_limit)};

		res->n_unified = 1;
		res->unified = (Runtime__V1__LinuxContainerResources__UnifiedEntry
				    **)
		    sc_map(
			&b->s,
			&runtime__v1__linux_container_resources__unified_entry__descriptor,
			&kv, 1);
	}
	return res;
}

static int build_security(struct build *b,
			  Runtime__V1__LinuxContainerSecurityContext *sc,
			  struct sw_err *err)
{
	const struct exec_task *t = b->t;
	Runtime__V1__Capability *caps =
	    sc_msg(&b->s, &runtime__v1__capability__descriptor);
	struct exec_cri_user u;

	if (build_caps(b, t->cap_add, t->n_cap_add, "CapAdd",
		       &caps->add_capabilities, err) != 0 ||
	    build_caps(b, t->cap_drop, t->n_cap_drop, "CapDrop",
		       &caps->drop_capabilities, err) != 0)
		return -(int)err->kind;
	caps->n_add_capabilities = t->n_cap_add;
	caps->n_drop_capabilities = t->n_cap_drop;
	sc->capabilities = caps;
	sc->privileged = t->privileged;
	sc->namespace_options = build_ns(b, true);
	sc->readonly_rootfs = t->read_only;
	if (!t->privileged) {
		/* Docker confines containers with its default seccomp
		 * profile; containerd's RuntimeDefault is the same list. */
		sc->seccomp =
		    sc_msg(&b->s, &runtime__v1__security_profile__descriptor);
		sc->seccomp->profile_type =
		    RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
	}
	if (t->user == NULL || t->user[0] == '\0')
		return 0;
	if (exec_cri_parse_user(t->user, &u, err) != 0)
		return -(int)err->kind;
	if (u.has_uid) {
		sc->run_as_user =
		    sc_msg(&b->s, &runtime__v1__int64_value__descriptor);
		sc->run_as_user->value = u.uid;
	} else {
		sc->run_as_username = sc_printf(&b->s, "%s", u.name);
	}
	if (u.has_gid) {
		sc->run_as_group =
		    sc_msg(&b->s, &runtime__v1__int64_value__descriptor);
		sc->run_as_group->value = u.gid;
	}
	return 0;
}

static void build_env(struct build *b, Runtime__V1__ContainerConfig *cc)
{
	const struct exec_task *t = b->t;
	size_t i;

	cc->envs = sc_new(&b->s, t->n_env * sizeof(void *));
	for (i = 0; i < t->n_env; i++) {
		Runtime__V1__KeyValue *kv =
		    sc_msg(&b->s, &runtime__v1__key_value__descriptor);
		const char *eq = strchr(t->env[i], '=');

		if (eq != NULL) {
			kv->key = sc_printf(&b->s, "%.*s",
					    (int)(eq - t->env[i]), t->env[i]);
			kv->value = str(eq + 1);
		} else {
			kv->key = str(t->env[i]);
		}
		cc->envs[i] = kv;
	}
	cc->n_envs = t->n_env;
}

static Runtime__V1__Mount *new_mount(struct build *b, const char *target,
				     const char *source, bool read_only)
{
	Runtime__V1__Mount *m = sc_msg(&b->s, &runtime__v1__mount__descriptor);

	m->container_path = str(target);
	m->host_path = str(source);
	m->readonly = read_only;
	return m;
}

/* The task's bind mounts, plus /etc/hosts when it has extra hosts. */
static void build_mounts(struct build *b, Runtime__V1__ContainerConfig *cc)
{
	const struct exec_task *t = b->t;

	cc->mounts = sc_new(&b->s, (t->n_mounts + 1) * sizeof(void *));
	for (size_t i = 0; i < t->n_mounts; i++)
		cc->mounts[cc->n_mounts++] = new_mount(
			b, t->mounts[i].target,
			t->mounts[i].tmpfs
				? sc_printf(&b->s, "%s/tmpfs-%zu", b->log_dir, i)
				: t->mounts[i].source,
			t->mounts[i].read_only);
	if (b->hosts_path != NULL)
		cc->mounts[cc->n_mounts++] =
			new_mount(b, "/etc/hosts", b->hosts_path, false);
}

static int build_container(struct build *b, Runtime__V1__ContainerConfig *cc,
			   struct sw_err *err)
{
	const struct exec_task *t = b->t;
	Runtime__V1__ContainerMetadata *md =
	    sc_msg(&b->s, &runtime__v1__container_metadata__descriptor);
	Runtime__V1__ImageSpec *image =
	    sc_msg(&b->s, &runtime__v1__image_spec__descriptor);
	Runtime__V1__LinuxContainerConfig *lx =
	    sc_msg(&b->s, &runtime__v1__linux_container_config__descriptor);
	Runtime__V1__LinuxContainerSecurityContext *sc = sc_msg(
	    &b->s, &runtime__v1__linux_container_security_context__descriptor);

	md->name = str(b->name);
	cc->metadata = md;
	image->image = str(t->image);
	cc->image = image;
	cc->n_command = t->n_command;
	cc->command = strv(t->command);
	cc->n_args = t->n_args;
	cc->args = strv(t->args);
	cc->working_dir = str(t->workdir);
	build_env(b, cc);
	build_mounts(b, cc);
	cc->n_labels = b->n_labels;
	cc->labels = (Runtime__V1__ContainerConfig__LabelsEntry **)sc_map(
	    &b->s, &runtime__v1__container_config__labels_entry__descriptor,
	    b->labels, b->n_labels);
	cc->log_path = EXEC_CRI_LOG_FILE;
	cc->stdin = t->open_stdin;
	cc->tty = t->tty;
	lx->resources = build_resources(b);
	if (build_security(b, sc, err) != 0)
		return -(int)err->kind;
	lx->security_context = sc;
	cc->linux = lx;
	return 0;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *p;

	*len = protobuf_c_message_get_packed_size(m);
	p = xmalloc(*len > 0 ? *len : 1);
	protobuf_c_message_pack(m, p);
	return p;
}

/* ======================================================================
 * The executor
 * ====================================================================== */

/* What the executor knows of one task: the runtime's IDs for it, and
 * whether its exit is being watched. Entries holding no runtime object are
 * dropped once no call runs on them. */
struct ctask {
	struct ctask *next;
	char id[EXEC_ID_MAX];
	char pod_id[EXEC_ID_MAX];
	char ctr_id[EXEC_ID_MAX];
	bool resolved;  /* IDs known: set by us or looked up by label */
	bool pod_ready; /* the sandbox is (or was found) READY */
	bool watch;     /* running: report its exit */
	bool exit_pending;
	struct op *busy; /* the call in flight on this task */
	int64_t grace_ns;
	struct exec_status last;
};

enum op_kind {
	OP_PREPARE = 0,
	OP_START,
	OP_STOP,
	OP_REMOVE,
	OP_STATUS,
	OP_LIST,
	OP_EXIT,     /* internal: a watched task exited */
	OP_STOP_POD, /* internal: release a finished task's sandbox */
	OP_KIND_COUNT,
};

enum op_wait {
	OPW_NONE = 0,
	OPW_CALL,     /* a CRI call is in flight */
	OPW_NET,      /* waiting for the CNI network */
	OPW_DEFERRED, /* finished inside the caller's call; reported later */
};

/* The first two steps of every call on a task find its IDs by label when
 * the executor does not know them (after a restart). */
enum {
	S_RESOLVE_POD = 0,
	S_RESOLVE_CTR,
	S_FIRST,
};

struct prep {
	char *image;
	uint8_t *pod; /* packed PodSandboxConfig */
	size_t pod_len;
	uint8_t *ctr; /* packed ContainerConfig */
	size_t ctr_len;
	bool host_network;
	int64_t pids_limit;
	char reject[EXEC_ERR_MAX]; /* why prepare (or start) was refused */
};

struct listed {
	char id[EXEC_ID_MAX];
	char pod_id[EXEC_ID_MAX];
	char task_id[EXEC_ID_MAX];
	char service_id[EXEC_ID_MAX];
	char node_id[EXEC_ID_MAX];
	bool has_ctr;
	bool ready; /* a READY sandbox */
};

struct listing {
	struct listed *pods;
	size_t n_pods;
	struct listed *ctrs;
	size_t n_ctrs;
	size_t next; /* container whose status comes next */
	struct exec_found *found;
	size_t n_found;
};

struct op {
	struct op *next;
	struct exec_cri *ex;
	enum op_kind kind;
	int step;
	enum op_wait wait;
	struct exec_req *req;
	exec_cb cb;
	struct ctask *t; /* the task, held through t->busy; NULL if internal */
	char task_id[EXEC_ID_MAX];
	char pod_id[EXEC_ID_MAX]; /* internal ops */
	char ctr_id[EXEC_ID_MAX];
	struct cri_req cri;
	int result;
	struct sw_err err;
	struct exec_status st;
	int64_t grace_ns;
	bool keep_pod; /* stop: the pod is left for RemovePodSandbox */
	uint64_t net_since;
	struct prep prep;
	struct listing list;
};

struct exec_cri {
	struct executor base;
	uv_loop_t *loop;
	struct cri_client *cri;
	char *node_id;
	char *log_root;
	char *cgroup_parent;
	unsigned poll_ms;
	unsigned net_wait_ms;
	bool has_net; /* a CNI network was configured */
	bool net_ready;
	bool net_checking;
	char net_reason[EXEC_ERR_MAX];
	struct cri_req net_req;
	struct cri_req poll_req;
	bool poll_inflight;
	uv_timer_t net_timer;
	uv_timer_t poll_timer;
	uv_timer_t defer_timer;
	int handles_open;
	struct ctask *tasks;
	struct op *ops;
	exec_event_cb on_event;
	void *event_data;
	struct node_runtime *runtime; /* probes */
	bool closing;
	struct op *sync_op; /* started inside the caller's call right now */
	exec_close_cb close_cb;
	void *close_data;
};

static const char *ex_cgroup_parent(const struct exec_cri *ex)
{
	return ex->cgroup_parent;
}

static bool cgroup_v2(void)
{
	return access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
}

/* Task IDs name directories: keep them to [A-Za-z0-9_.-], not leading '.'. */
static bool valid_id(const char *id)
{
	size_t i, n;

	if (id == NULL || id[0] == '\0' || id[0] == '.')
		return false;
	n = strlen(id);
	if (n >= EXEC_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_' &&
		    id[i] != '-' && id[i] != '.')
			return false;
	return true;
}

static void copy_id(char *dst, const char *src)
{
	(void)snprintf(dst, EXEC_ID_MAX, "%s", src);
}

/* ---- Task table ---- */

static struct ctask *task_find(struct exec_cri *ex, const char *id)
{
	struct ctask *t;

	for (t = ex->tasks; t != NULL; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

static struct ctask *task_add(struct exec_cri *ex, const char *id)
{
	struct ctask *t = xcalloc(1, sizeof(*t));

	copy_id(t->id, id);
	t->grace_ns = EXEC_STOP_GRACE_DEFAULT_NS;
	t->next = ex->tasks;
	ex->tasks = t;
	return t;
}

static void task_delete(struct exec_cri *ex, struct ctask *t)
{
	struct ctask **pp;

	for (pp = &ex->tasks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			free(t);
			return;
		}
	}
}

static bool any_watched(const struct exec_cri *ex)
{
	const struct ctask *t;

	for (t = ex->tasks; t != NULL; t = t->next)
		if (t->watch)
			return true;
	return false;
}

/* ---- Files the executor keeps per task ---- */

static char *task_dir(const struct exec_cri *ex, const char *id)
{
	return xasprintf("%s/%s", ex->log_root, id);
}

/* Removes the cgroup directories runc may have left for id under the
 * cgroup parent, in every v1 hierarchy and in the v2 tree. Best effort:
 * runc normally removes them itself. */
static void cgroup_cleanup(const char *parent, const char *id)
{
	DIR *d = opendir(CGROUP_ROOT);
	struct dirent *de;
	char *p;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		p = id != NULL
			? xasprintf("%s/%s%s/%s", CGROUP_ROOT, de->d_name,
				    parent, id)
			: xasprintf("%s/%s%s", CGROUP_ROOT, de->d_name, parent);
		(void)rmdir(p);
		free(p);
	}
	closedir(d);
	p = id != NULL ? xasprintf("%s%s/%s", CGROUP_ROOT, parent, id)
		       : xasprintf("%s%s", CGROUP_ROOT, parent);
	(void)rmdir(p);
	free(p);
}

/* cgroup v1 has no CRI field for a pids limit: create the container's pids
 * cgroup before runc does and set pids.max; runc joins the directory and,
 * with no limit in the spec, leaves the value alone. */
static int apply_pids_limit(const struct exec_cri *ex, const char *ctr_id,
			    int64_t limit, struct sw_err *err)
{
	char *dir, *file, *val;
	int fd, rc = 0;

	if (limit <= 0 || cgroup_v2())
		return 0;
	dir = xasprintf("%s/pids%s/%s", CGROUP_ROOT, ex->cgroup_parent, ctr_id);
	file = xasprintf("%s/pids.max", dir);
	val = xasprintf("%" PRId64, limit);
	if (fsutil_mkdir_p(dir, 0755, err) != 0) {
		rc = -(int)err->kind;
	} else if ((fd = open(file, O_WRONLY | O_CLOEXEC)) == -1) {
		rc = sw_err_sys(err, errno, "setting the pids limit");
	} else {
		if (write(fd, val, strlen(val)) == -1)
			rc = sw_err_sys(err, errno, "setting the pids limit");
		close(fd);
	}
	free(val);
	free(file);
	free(dir);
	return rc;
}

/* Writes the task's /etc/hosts when it has extra hosts: the node's file
 * for a host-network task, Docker's defaults otherwise, then the extra
 * lines. Returns the path (malloc'd), NULL when containerd's default file
 * will do, or NULL with err set. */
static char *write_hosts(const struct exec_task *t, const char *dir,
			 struct sw_err *err)
{
	struct buf b;
	struct sw_err ignored;
	char *path;
	size_t i;

	if (t->n_extra_hosts == 0)
		return NULL;
	buf_init(&b);
	if (!t->host_network ||
	    fsutil_read_file("/etc/hosts", 1 << 20, &b, &ignored) != 0) {
		b.len = 0;
		buf_puts(&b, "127.0.0.1\tlocalhost\n"
			     "::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "fe00::0\tip6-localnet\n"
			     "ff00::0\tip6-mcastprefix\n"
			     "ff02::1\tip6-allnodes\n"
			     "ff02::2\tip6-allrouters\n");
	}
	if (b.len > 0 && b.data[b.len - 1] != '\n')
		buf_puts(&b, "\n");
	for (i = 0; i < t->n_extra_hosts; i++)
		buf_printf(&b, "%s\n", t->extra_hosts[i]);
	path = xasprintf("%s/hosts", dir);
	if (fsutil_write_file(path, b.data, err) != 0) {
		free(path);
		path = NULL;
	}
	buf_free(&b);
	return path;
}

/* ---- Operations: the machinery ---- */

static void on_op_reply(struct cri_req *r, int status);
static void on_defer(uv_timer_t *timer);
static int op_run(struct op *op);
static void poll_ensure(struct exec_cri *ex);
static void poll_kick(struct exec_cri *ex);

static struct op *op_new(struct exec_cri *ex, enum op_kind kind,
			 struct exec_req *req, exec_cb cb)
{
	struct op *op = xcalloc(1, sizeof(*op));

	op->ex = ex;
	op->kind = kind;
	op->req = req;
	op->cb = cb;
	op->next = ex->ops;
	ex->ops = op;
	return op;
}

static void op_unlink(struct op *op)
{
	struct op **pp;

	for (pp = &op->ex->ops; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			return;
		}
	}
}

static void op_free(struct op *op)
{
	free(op->prep.image);
	free(op->prep.pod);
	free(op->prep.ctr);
	free(op->list.pods);
	free(op->list.ctrs);
	free(op->list.found);
	free(op);
}

/* Reports the op to its caller and frees it. */
static void op_finish(struct op *op)
{
	struct exec_cri *ex = op->ex;
	struct exec_req *req = op->req;
	struct ctask *t = op->t;

	op_unlink(op);
	if (t != NULL) {
		if (t->busy == op)
			t->busy = NULL;
		if (t->busy == NULL && t->pod_id[0] == '\0' &&
		    t->ctr_id[0] == '\0' && !t->exit_pending)
			task_delete(ex, t);
	}
	if (req != NULL) {
		req->priv = NULL;
		req->status = op->st;
		req->found = op->list.found;
		req->n_found = op->list.n_found;
		if (op->result < 0)
			req->err = op->err;
	}
	/* The callback may free req: nothing touches it afterwards. The
	 * found list stays owned by the op and dies with it. */
	if (op->cb != NULL)
		op->cb(req, op->result);
	op_free(op);
}

/* Completes the op: reported now, or from the loop when still inside the
 * caller's call (callbacks never fire inside a call). */
static void op_complete(struct op *op, int result)
{
	op->result = result;
	if (op->ex->sync_op == op) {
		op->wait = OPW_DEFERRED;
		uv_timer_start(&op->ex->defer_timer, on_defer, 0, 0);
		return;
	}
	op_finish(op);
}

static void on_defer(uv_timer_t *timer)
{
	struct exec_cri *ex = timer->data;
	struct op *op;

	for (;;) {
		for (op = ex->ops; op != NULL; op = op->next)
			if (op->wait == OPW_DEFERRED)
				break;
		if (op == NULL)
			return;
		op_finish(op);
	}
}

/* Starts a CRI call for the op's current step. */
static int op_call(struct op *op, enum cri_method m,
		   const ProtobufCMessage *msg, unsigned timeout_ms)
{
	int rc;

	memset(&op->cri, 0, sizeof(op->cri));
	op->cri.data = op;
	op->cri.timeout_ms = timeout_ms != 0 ? timeout_ms : CALL_MS;
	rc = cri_call(&op->cri, op->ex->cri, m, msg, on_op_reply, &op->err);
	if (rc == 0)
		op->wait = OPW_CALL;
	return rc;
}

/* Runs the op's current step; a step that cannot start ends the op. */
static void op_continue(struct op *op)
{
	int rc = op_run(op);

	if (rc < 0)
		op_complete(op, rc);
}

/* Errors that say nothing about the task: containerd is away or slow. */
static bool transient(const struct cri_req *r)
{
	return r->code == GRPC_UNAVAILABLE || r->code == GRPC_CANCELLED ||
	       r->code == GRPC_DEADLINE_EXCEEDED;
}

/* Ends the op with the call's error, as a failed call. */
static int op_fail(struct op *op, const struct cri_req *r)
{
	op->err = r->err;
	return sw_err_wrap(&op->err, "%s", cri_method_name(r->method));
}

static void set_status(struct exec_status *st, enum exec_state state,
		       const char *msg, const char *errfmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_status(struct exec_status *st, enum exec_state state,
		       const char *msg, const char *errfmt, ...)
{
	va_list ap;

	st->state = state;
	set_msg(st, msg);
	st->err[0] = '\0';
	if (errfmt == NULL)
		return;
	va_start(ap, errfmt);
	(void)vsnprintf(st->err, sizeof(st->err), errfmt, ap);
	va_end(ap);
}

/* Label selectors for one node, optionally one task. */
struct selector {
	struct exec_kv kv[2];
	size_t n;
};

static void selector_init(struct selector *s, const struct exec_cri *ex,
			  const char *task_id)
{
	s->kv[0].key = EXEC_LABEL_NODE_ID;
	s->kv[0].value = ex->node_id;
	s->n = 1;
	if (task_id != NULL) {
		s->kv[1].key = EXEC_LABEL_TASK_ID;
		s->kv[1].value = task_id;
		s->n = 2;
	}
}

static int call_list_pods(struct op *op, const char *task_id)
{
	Runtime__V1__ListPodSandboxRequest msg =
	    RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	struct scratch s = {0};
	struct selector sel;
	int rc;

	selector_init(&sel, op->ex, task_id);
	f.n_label_selector = sel.n;
	f.label_selector =
	    (Runtime__V1__PodSandboxFilter__LabelSelectorEntry **)sc_map(
		&s,
		&runtime__v1__pod_sandbox_filter__label_selector_entry__descriptor,
		sel.kv, sel.n);
	msg.filter = &f;
	rc = op_call(op, CRI_LIST_POD_SANDBOX, &msg.base, 0);
	sc_free(&s);
	return rc;
}

static int call_list_containers(struct op *op, const char *task_id)
{
	Runtime__V1__ListContainersRequest msg =
	    RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	struct scratch s = {0};
	struct selector sel;
	int rc;

	selector_init(&sel, op->ex, task_id);
	f.n_label_selector = sel.n;
	f.label_selector =
	    (Runtime__V1__ContainerFilter__LabelSelectorEntry **)sc_map(
		&s,
		&runtime__v1__container_filter__label_selector_entry__descriptor,
		sel.kv, sel.n);
	msg.filter = &f;
	rc = op_call(op, CRI_LIST_CONTAINERS, &msg.base, 0);
	sc_free(&s);
	return rc;
}

static int call_container_status(struct op *op, const char *ctr_id)
{
	Runtime__V1__ContainerStatusRequest msg =
	    RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;

	msg.container_id = (char *)ctr_id;
	msg.verbose = true;
	return op_call(op, CRI_CONTAINER_STATUS, &msg.base, 0);
}

static int call_stop_pod(struct op *op, const char *pod_id)
{
	Runtime__V1__StopPodSandboxRequest msg =
	    RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;

	msg.pod_sandbox_id = (char *)pod_id;
	return op_call(op, CRI_STOP_POD_SANDBOX, &msg.base, 0);
}

/* Releases a finished task's sandbox (its pause process, network namespace
 * and IP) in the background. */
static void spawn_stop_pod(struct exec_cri *ex, const char *pod_id)
{
	struct op *op;

	if (pod_id[0] == '\0' || ex->closing)
		return;
	op = op_new(ex, OP_STOP_POD, NULL, NULL);
	copy_id(op->pod_id, pod_id);
	if (call_stop_pod(op, pod_id) != 0)
		op_finish(op);
}

static const char *label(Runtime__V1__PodSandbox__LabelsEntry **l, size_t n,
			 const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(l[i]->key, key) == 0)
			return l[i]->value;
	return "";
}

static const char *ctr_label(Runtime__V1__Container__LabelsEntry **l, size_t n,
			     const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(l[i]->key, key) == 0)
			return l[i]->value;
	return "";
}

/* ---- Resolving a task's IDs by label ---- */

static int resolve_run(struct op *op)
{
	if (op->t->resolved) {
		op->step = S_FIRST;
		return op_run(op);
	}
	if (op->step == S_RESOLVE_POD)
		return call_list_pods(op, op->t->id);
	return call_list_containers(op, op->t->id);
}

/* Picks a READY sandbox, else the newest one. */
static void resolve_pods(struct ctask *t,
			 const Runtime__V1__ListPodSandboxResponse *r)
{
	const Runtime__V1__PodSandbox *best = NULL;
	size_t i;

	for (i = 0; i < r->n_items; i++) {
		const Runtime__V1__PodSandbox *p = r->items[i];
		bool ready =
		    p->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;

		if (best == NULL || (ready && best->state != p->state) ||
		    (best->state == p->state &&
		     p->created_at > best->created_at))
			best = p;
	}
	if (best == NULL)
		return;
	copy_id(t->pod_id, best->id);
	t->pod_ready =
	    best->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
}

/* Picks the container in the chosen sandbox, else the newest one. */
static void resolve_ctrs(struct ctask *t,
			 const Runtime__V1__ListContainersResponse *r)
{
	const Runtime__V1__Container *best = NULL;
	size_t i;

	for (i = 0; i < r->n_containers; i++) {
		const Runtime__V1__Container *c = r->containers[i];
		bool in_pod = strcmp(c->pod_sandbox_id, t->pod_id) == 0;
		bool best_in = best != NULL &&
			       strcmp(best->pod_sandbox_id, t->pod_id) == 0;

		if (best == NULL || (in_pod && !best_in) ||
		    (in_pod == best_in && c->created_at > best->created_at))
			best = c;
	}
	if (best == NULL)
		return;
	copy_id(t->ctr_id, best->id);
	if (t->pod_id[0] == '\0')
		copy_id(t->pod_id, best->pod_sandbox_id);
}

static int resolve_reply(struct op *op, int status, struct cri_req *r)
{
	if (status < 0)
		return op_fail(op, r);
	if (op->step == S_RESOLVE_POD) {
		resolve_pods(op->t, r->reply.list_pod_sandbox);
	} else {
		resolve_ctrs(op->t, r->reply.list_containers);
		op->t->resolved = true;
	}
	op->step++;
	return op_run(op);
}

static int not_found(struct op *op)
{
	return sw_err_set(&op->err, SW_ENOTFOUND, "task %s not found",
			  op->task_id);
}

/* Records what the runtime says about a task found there, and watches it
 * if it runs. A finished task's sandbox is released. */
static void adopt(struct exec_cri *ex, struct ctask *t,
		  const struct exec_status *st)
{
	t->last = *st;
	t->resolved = true;
	if (st->state == EXEC_RUNNING) {
		t->watch = true;
		poll_ensure(ex);
	} else if (st->state >= EXEC_COMPLETE && t->pod_ready) {
		spawn_stop_pod(ex, t->pod_id);
		t->pod_ready = false;
	}
}

/* ---- prepare ---- */

enum {
	P_CHECK = S_FIRST,
	P_ADOPT,
	P_STALE,
	P_NET,
	P_IMAGE,
	P_PULL,
	P_RUN,
	P_CREATE,
};

static void net_check(struct exec_cri *ex);

/* Ends a prepare with the task REJECTED, as Docker's agent does for any
 * error before the task starts, and releases a sandbox already made. */
static int prep_reject(struct op *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int prep_reject(struct op *op, const char *fmt, ...)
{
	struct ctask *t = op->t;
	va_list ap;

	memset(&op->st, 0, sizeof(op->st));
	op->st.state = EXEC_REJECTED;
	set_msg(&op->st, "preparing");
	va_start(ap, fmt);
	(void)vsnprintf(op->st.err, sizeof(op->st.err), fmt, ap);
	va_end(ap);
	copy_id(op->st.container_id, t->ctr_id);
	t->last = op->st;
	if (t->pod_ready) {
		spawn_stop_pod(op->ex, t->pod_id);
		t->pod_ready = false;
	}
	op_complete(op, 0);
	return 0;
}

static int prep_image_call(struct op *op, enum cri_method m)
{
	Runtime__V1__ImageStatusRequest st =
	    RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__PullImageRequest pull =
	    RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;

	spec.image = op->prep.image;
	st.image = pull.image = &spec;
	if (m == CRI_IMAGE_STATUS)
		return op_call(op, m, &st.base, 0);
	/* Pulls move whole images: the client's own (long) default. */
	return op_call(op, m, &pull.base, 30 * 60 * 1000);
}

static int prep_run_pod(struct op *op)
{
	Runtime__V1__RunPodSandboxRequest msg =
	    RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	int rc;

	msg.config = runtime__v1__pod_sandbox_config__unpack(
	    NULL, op->prep.pod_len, op->prep.pod);
	if (msg.config == NULL)
		return sw_err_set(&op->err, SW_ESYSTEM, "bad sandbox config");
	rc = op_call(op, CRI_RUN_POD_SANDBOX, &msg.base, 0);
	runtime__v1__pod_sandbox_config__free_unpacked(msg.config, NULL);
	return rc;
}

static int prep_create(struct op *op)
{
	Runtime__V1__CreateContainerRequest msg =
	    RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	int rc;

	msg.pod_sandbox_id = op->t->pod_id;
	msg.sandbox_config = runtime__v1__pod_sandbox_config__unpack(
	    NULL, op->prep.pod_len, op->prep.pod);
	msg.config = runtime__v1__container_config__unpack(
	    NULL, op->prep.ctr_len, op->prep.ctr);
	if (msg.sandbox_config == NULL || msg.config == NULL)
		rc = sw_err_set(&op->err, SW_ESYSTEM, "bad container config");
	else
		rc = op_call(op, CRI_CREATE_CONTAINER, &msg.base, 0);
	if (msg.sandbox_config != NULL)
		runtime__v1__pod_sandbox_config__free_unpacked(
		    msg.sandbox_config, NULL);
	if (msg.config != NULL)
		runtime__v1__container_config__free_unpacked(msg.config, NULL);
	return rc;
}

static int prepare_run(struct op *op)
{
	struct exec_cri *ex = op->ex;
	struct ctask *t = op->t;
	Runtime__V1__RemovePodSandboxRequest rm =
	    RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;

	if (op->step < S_FIRST)
		return resolve_run(op);
	switch (op->step) {
	case P_CHECK:
		if (t->ctr_id[0] != '\0') {
			op->step = P_ADOPT;
			return call_container_status(op, t->ctr_id);
		}
		if (op->prep.reject[0] != '\0')
			return prep_reject(op, "%s", op->prep.reject);
		if (t->pod_id[0] != '\0' && !t->pod_ready) {
			/* A stopped sandbox left by an interrupted prepare
			 * still holds the task's sandbox name. */
			op->step = P_STALE;
			rm.pod_sandbox_id = t->pod_id;
			return op_call(op, CRI_REMOVE_POD_SANDBOX, &rm.base, 0);
		}
		op->step = P_NET;
		/* fall through */
	case P_NET:
		if (!op->prep.host_network && !ex->net_ready) {
			if (!ex->has_net)
				return prep_reject(
				    op, "no bridge network on this node: "
					"only host-network tasks can run");
			op->wait = OPW_NET;
			op->net_since = uv_now(ex->loop);
			net_check(ex);
			return 0;
		}
		op->step = P_IMAGE;
		/* fall through */
	case P_IMAGE:
	case P_PULL:
		return prep_image_call(op, op->step == P_IMAGE
					       ? CRI_IMAGE_STATUS
					       : CRI_PULL_IMAGE);
	case P_RUN:
		if (t->pod_id[0] == '\0')
			return prep_run_pod(op);
		op->step = P_CREATE;
		/* fall through */
	default:
		return prep_create(op);
	}
}

static int prepare_reply(struct op *op, int status, struct cri_req *r)
{
	struct ctask *t = op->t;
	struct sw_err err;

	if (op->step < S_FIRST)
		return resolve_reply(op, status, r);
	if (status < 0 && transient(r))
		return op_fail(op, r);
	switch (op->step) {
	case P_ADOPT:
		if (status < 0 && r->code == GRPC_NOT_FOUND) {
			t->ctr_id[0] = '\0';
			op->step = P_CHECK;
			return op_run(op);
		}
		if (status < 0)
			return op_fail(op, r);
		exec_cri_status_from(r->reply.container_status, &op->st);
		adopt(op->ex, t, &op->st);
		op_complete(op, 0);
		return 0;
	case P_STALE:
		if (status < 0 && r->code != GRPC_NOT_FOUND)
			return op_fail(op, r);
		t->pod_id[0] = '\0';
		op->step = P_NET;
		return op_run(op);
	case P_IMAGE:
		if (status < 0)
			return prep_reject(op, "%s", r->err.msg);
		op->step =
		    r->reply.image_status->image != NULL ? P_RUN : P_PULL;
		return op_run(op);
	case P_PULL:
		/* Docker's words when an image is neither local nor
		 * pullable. */
		if (status < 0)
			return prep_reject(op, "No such image: %s",
					   op->prep.image);
		op->step = P_RUN;
		return op_run(op);
	case P_RUN:
		if (status < 0)
			return prep_reject(op, "%s", r->err.msg);
		copy_id(t->pod_id, r->reply.run_pod_sandbox->pod_sandbox_id);
		t->pod_ready = true;
		op->step = P_CREATE;
		return op_run(op);
	default:
		if (status < 0)
			return prep_reject(op, "%s", r->err.msg);
		copy_id(t->ctr_id, r->reply.create_container->container_id);
		if (apply_pids_limit(op->ex, t->ctr_id, op->prep.pids_limit,
				     &err) != 0)
			return prep_reject(op, "%s", err.msg);
		memset(&op->st, 0, sizeof(op->st));
		set_status(&op->st, EXEC_READY, "prepared", NULL);
		copy_id(op->st.container_id, t->ctr_id);
		t->last = op->st;
		op_complete(op, 0);
		return 0;
	}
}

/* ---- start ---- */

enum { ST_START = S_FIRST, ST_STATUS };

static int start_run(struct op *op)
{
	Runtime__V1__StartContainerRequest msg =
	    RUNTIME__V1__START_CONTAINER_REQUEST__INIT;

	if (op->step < S_FIRST)
		return resolve_run(op);
	if (op->step == ST_STATUS)
		return call_container_status(op, op->t->ctr_id);
	if (op->t->ctr_id[0] == '\0')
		return not_found(op);
	msg.container_id = op->t->ctr_id;
	return op_call(op, CRI_START_CONTAINER, &msg.base, 0);
}

/* The task started: it is RUNNING even if it has exited since; that exit
 * is reported through the event callback like any other. */
static void start_running(struct op *op, int status, struct cri_req *r)
{
	struct exec_cri *ex = op->ex;
	struct ctask *t = op->t;
	bool exited = false;

	if (status == 0) {
		exec_cri_status_from(r->reply.container_status, &op->st);
		exited = op->st.state >= EXEC_COMPLETE;
	} else {
		memset(&op->st, 0, sizeof(op->st));
		copy_id(op->st.container_id, t->ctr_id);
	}
	set_status(&op->st, EXEC_RUNNING, "started", NULL);
	op->st.exit_code = 0;
	op->st.finished_at = 0;
	op->st.oom_killed = false;
	t->last = op->st;
	t->watch = true;
	if (exited)
		poll_kick(ex);
	else
		poll_ensure(ex);
}

/* StartContainer failed: the task FAILED, unless it runs after all (a
 * repeated start after an agent restart). */
static void start_failed(struct op *op, int status, struct cri_req *r)
{
	struct ctask *t = op->t;
	const Runtime__V1__ContainerStatus *cs =
	    status == 0 ? r->reply.container_status->status : NULL;

	if (cs != NULL &&
	    cs->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING) {
		start_running(op, status, r);
		return;
	}
	memset(&op->st, 0, sizeof(op->st));
	set_status(&op->st, EXEC_FAILED, "starting",
		   "starting container failed: %s", op->prep.reject);
	copy_id(op->st.container_id, t->ctr_id);
	t->last = op->st;
	if (t->pod_ready) {
		spawn_stop_pod(op->ex, t->pod_id);
		t->pod_ready = false;
	}
}

static int start_reply(struct op *op, int status, struct cri_req *r)
{
	if (op->step < S_FIRST)
		return resolve_reply(op, status, r);
	if (op->step == ST_STATUS) {
		if (op->prep.reject[0] != '\0')
			start_failed(op, status, r);
		else
			start_running(op, status, r);
		op_complete(op, 0);
		return 0;
	}
	if (status < 0 && (transient(r) || r->code == GRPC_NOT_FOUND))
		return op_fail(op, r);
	if (status < 0)
		(void)snprintf(op->prep.reject, sizeof(op->prep.reject), "%s",
			       r->err.msg[0] != '\0' ? r->err.msg : "error");
	op->step = ST_STATUS;
	return op_run(op);
}

/* ---- stop ---- */

enum { SP_STOP = S_FIRST, SP_STATUS, SP_POD };

/* The call's deadline: the grace period and time to spare, within what
 * an unsigned count of milliseconds holds (~49 days). */
static unsigned stop_deadline_ms(int64_t secs)
{
	const int64_t max_secs = 40LL * 24 * 3600;

	return (unsigned)((secs < max_secs ? secs : max_secs) * 1000) +
	       STOP_EXTRA_MS;
}

static int stop_run(struct op *op)
{
	Runtime__V1__StopContainerRequest msg =
	    RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	struct ctask *t = op->t;
	int64_t secs;

	if (op->step < S_FIRST)
		return resolve_run(op);
	switch (op->step) {
	case SP_STOP:
		if (t->ctr_id[0] != '\0') {
			/* CRI counts whole seconds: round up, so a grace
			 * period is never cut short. */
			secs = op->grace_ns / 1000000000 +
			       (op->grace_ns % 1000000000 != 0);
			msg.container_id = t->ctr_id;
			msg.timeout = secs;
			return op_call(op, CRI_STOP_CONTAINER, &msg.base,
				       stop_deadline_ms(secs));
		}
		if (t->pod_id[0] == '\0')
			return not_found(op);
		set_status(&op->st, EXEC_SHUTDOWN, "shutdown", NULL);
		op->step = SP_POD;
		return op_run(op);
	case SP_STATUS:
		return call_container_status(op, t->ctr_id);
	default:
		if (t->pod_id[0] != '\0' && !op->keep_pod)
			return call_stop_pod(op, t->pod_id);
		op_complete(op, 0);
		return 0;
	}
}

static int stop_reply(struct op *op, int status, struct cri_req *r)
{
	struct ctask *t = op->t;

	if (op->step < S_FIRST)
		return resolve_reply(op, status, r);
	if (status < 0 && r->code != GRPC_NOT_FOUND)
		return op_fail(op, r);
	switch (op->step) {
	case SP_STOP:
		op->step = SP_STATUS;
		return op_run(op);
	case SP_STATUS:
		if (status < 0) {
			memset(&op->st, 0, sizeof(op->st));
			set_status(&op->st, EXEC_SHUTDOWN, "shutdown", NULL);
		} else {
			exec_cri_status_from(r->reply.container_status,
					     &op->st);
			if (op->st.state == EXEC_READY)
				set_status(&op->st, EXEC_SHUTDOWN, "shutdown",
					   NULL);
		}
		t->last = op->st;
		op->step = SP_POD;
		return op_run(op);
	default:
		t->pod_ready = false;
		op_complete(op, 0);
		return 0;
	}
}

/* ---- remove ---- */

/* No StopPodSandbox first: containerd 1.6's RemovePodSandbox stops the
 * pod itself, network teardown included, even one already stopped; a
 * stop before it would run the CNI plugins' DEL once more per task. */
enum { RM_CTR = S_FIRST, RM_POD, RM_DONE };

/* Detaches the task's tmpfs mounts (tmpfs-N in its directory). */
static void unmount_tmpfs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *path;

		if (strncmp(e->d_name, "tmpfs-", 6) != 0)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		(void)umount2(path, MNT_DETACH);
		free(path);
	}
	closedir(d);
}

/* Mounts a tmpfs for each tmpfs mount of the task, to bind into it. */
static int mount_tmpfs(const struct exec_task *t, const char *dir,
		       struct sw_err *err)
{
	for (size_t i = 0; i < t->n_mounts; i++) {
		char *path, opts[64];
		int rc;

		if (!t->mounts[i].tmpfs)
			continue;
		path = xasprintf("%s/tmpfs-%zu", dir, i);
		if (t->mounts[i].size_bytes > 0)
			(void)snprintf(opts, sizeof(opts), "mode=1777,size=%lld",
				       (long long)t->mounts[i].size_bytes);
		else
			(void)snprintf(opts, sizeof(opts), "mode=1777");
		rc = fsutil_mkdir_p(path, 0755, err);
		if (rc == 0 && mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
				     opts) == -1)
			rc = sw_err_sys(err, errno, "mounting tmpfs for %s",
					t->mounts[i].target);
		free(path);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void remove_files(struct op *op)
{
	struct exec_cri *ex = op->ex;
	char *dir = task_dir(ex, op->task_id);
	struct sw_err err;

	/* containerd never removes a log directory. */
	unmount_tmpfs(dir);
	(void)fsutil_remove_all(dir, &err);
	free(dir);
	if (op->ctr_id[0] != '\0')
		cgroup_cleanup(ex->cgroup_parent, op->ctr_id);
	if (op->pod_id[0] != '\0')
		cgroup_cleanup(ex->cgroup_parent, op->pod_id);
}

static int remove_run(struct op *op)
{
	Runtime__V1__RemoveContainerRequest rc =
	    RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxRequest rp =
	    RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	struct ctask *t = op->t;

	if (op->step < S_FIRST)
		return resolve_run(op);
	switch (op->step) {
	case RM_CTR:
		if (t->ctr_id[0] != '\0') {
			copy_id(op->ctr_id, t->ctr_id);
			rc.container_id = t->ctr_id;
			return op_call(op, CRI_REMOVE_CONTAINER, &rc.base, 0);
		}
		op->step = RM_POD;
		/* fall through */
	case RM_POD:
		if (t->pod_id[0] == '\0') {
			op->step = RM_DONE;
			return op_run(op);
		}
		copy_id(op->pod_id, t->pod_id);
		rp.pod_sandbox_id = t->pod_id;
		return op_call(op, CRI_REMOVE_POD_SANDBOX, &rp.base, 0);
	default:
		remove_files(op);
		op->st = t->last;
		task_delete(op->ex, t);
		op->t = NULL;
		op_complete(op, 0);
		return 0;
	}
}

static int remove_reply(struct op *op, int status, struct cri_req *r)
{
	if (op->step < S_FIRST)
		return resolve_reply(op, status, r);
	if (status < 0 && r->code != GRPC_NOT_FOUND)
		return op_fail(op, r);
	if (op->step == RM_CTR)
		op->t->ctr_id[0] = '\0';
	else if (op->step == RM_POD)
		op->t->pod_id[0] = '\0';
	op->step++;
	return op_run(op);
}

/* ---- status ---- */

static int status_run(struct op *op)
{
	struct ctask *t = op->t;

	if (op->step < S_FIRST)
		return resolve_run(op);
	if (t->ctr_id[0] != '\0')
		return call_container_status(op, t->ctr_id);
	if (t->pod_id[0] == '\0')
		return not_found(op);
	op->st = t->last;
	if (op->st.state == 0)
		set_status(&op->st, EXEC_PREPARING, "preparing", NULL);
	op_complete(op, 0);
	return 0;
}

static int status_reply(struct op *op, int status, struct cri_req *r)
{
	if (op->step < S_FIRST)
		return resolve_reply(op, status, r);
	if (status < 0 && r->code == GRPC_NOT_FOUND)
		return not_found(op);
	if (status < 0)
		return op_fail(op, r);
	exec_cri_status_from(r->reply.container_status, &op->st);
	op->t->last = op->st;
	op_complete(op, 0);
	return 0;
}

/* ---- list ---- */

enum { L_PODS = S_FIRST, L_CTRS, L_STATUS };

static void list_pods(struct listing *l,
		      const Runtime__V1__ListPodSandboxResponse *r)
{
	size_t i;

	l->pods = xcalloc(r->n_items + 1, sizeof(*l->pods));
	for (i = 0; i < r->n_items; i++) {
		const Runtime__V1__PodSandbox *p = r->items[i];
		struct listed *d = &l->pods[l->n_pods];
		const char *task =
		    label(p->labels, p->n_labels, EXEC_LABEL_TASK_ID);

		if (!valid_id(task))
			continue;
		copy_id(d->pod_id, p->id);
		copy_id(d->task_id, task);
		copy_id(d->service_id,
			label(p->labels, p->n_labels, EXEC_LABEL_SERVICE_ID));
		copy_id(d->node_id,
			label(p->labels, p->n_labels, EXEC_LABEL_NODE_ID));
		d->ready =
		    p->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
		l->n_pods++;
	}
}

static void list_ctrs(struct listing *l,
		      const Runtime__V1__ListContainersResponse *r)
{
	size_t i, j;

	l->ctrs = xcalloc(r->n_containers + 1, sizeof(*l->ctrs));
	for (i = 0; i < r->n_containers; i++) {
		const Runtime__V1__Container *c = r->containers[i];
		struct listed *d = &l->ctrs[l->n_ctrs];
		const char *task =
		    ctr_label(c->labels, c->n_labels, EXEC_LABEL_TASK_ID);

		if (!valid_id(task))
			continue;
		copy_id(d->id, c->id);
		copy_id(d->pod_id, c->pod_sandbox_id);
		copy_id(d->task_id, task);
		copy_id(d->service_id, ctr_label(c->labels, c->n_labels,
						 EXEC_LABEL_SERVICE_ID));
		copy_id(d->node_id,
			ctr_label(c->labels, c->n_labels, EXEC_LABEL_NODE_ID));
		for (j = 0; j < l->n_pods; j++)
			if (strcmp(l->pods[j].pod_id, d->pod_id) == 0)
				l->pods[j].has_ctr = true;
		l->n_ctrs++;
	}
	l->found = xcalloc(l->n_ctrs + l->n_pods + 1, sizeof(*l->found));
}

static struct exec_found *found_add(struct listing *l, const struct listed *d)
{
	struct exec_found *f;
	size_t i;

	for (i = 0; i < l->n_found; i++)
		if (strcmp(l->found[i].task_id, d->task_id) == 0)
			return NULL;
	f = &l->found[l->n_found++];
	copy_id(f->task_id, d->task_id);
	copy_id(f->service_id, d->service_id);
	copy_id(f->node_id, d->node_id);
	return f;
}

/* Adopts one found task: the executor now answers for it. */
static void list_adopt(struct exec_cri *ex, const struct exec_found *f,
		       const struct listed *d, bool pod_ready)
{
	struct ctask *t = task_find(ex, f->task_id);

	if (t == NULL)
		t = task_add(ex, f->task_id);
	else if (t->busy != NULL)
		return;
	if (t->pod_id[0] == '\0') {
		copy_id(t->pod_id, d->pod_id);
		t->pod_ready = pod_ready;
	}
	if (t->ctr_id[0] == '\0')
		copy_id(t->ctr_id, d->id);
	adopt(ex, t, &f->status);
}

static bool pod_is_ready(const struct listing *l, const char *pod_id)
{
	size_t i;

	for (i = 0; i < l->n_pods; i++)
		if (strcmp(l->pods[i].pod_id, pod_id) == 0)
			return l->pods[i].ready;
	return false;
}

static void list_lone_pods(struct op *op);

static int list_run(struct op *op)
{
	struct listing *l = &op->list;

	switch (op->step) {
	case L_PODS:
		return call_list_pods(op, NULL);
	case L_CTRS:
		return call_list_containers(op, NULL);
	default:
		if (l->next < l->n_ctrs)
			return call_container_status(op, l->ctrs[l->next].id);
		list_lone_pods(op);
		op_complete(op, 0);
		return 0;
	}
}

/* Sandboxes with no container: a prepare that never finished. */
static void list_lone_pods(struct op *op)
{
	struct listing *l = &op->list;
	struct exec_found *f;
	size_t i;

	for (i = 0; i < l->n_pods; i++) {
		if (l->pods[i].has_ctr)
			continue;
		f = found_add(l, &l->pods[i]);
		if (f == NULL)
			continue;
		set_status(&f->status, EXEC_PREPARING, "preparing", NULL);
		list_adopt(op->ex, f, &l->pods[i], l->pods[i].ready);
	}
}

static int list_reply(struct op *op, int status, struct cri_req *r)
{
	struct listing *l = &op->list;
	const struct listed *d;
	struct exec_found *f;

	if (status < 0 && !(op->step == L_STATUS && r->code == GRPC_NOT_FOUND))
		return op_fail(op, r);
	if (op->step == L_PODS) {
		list_pods(l, r->reply.list_pod_sandbox);
		op->step = L_CTRS;
		return op_run(op);
	}
	if (op->step == L_CTRS) {
		list_ctrs(l, r->reply.list_containers);
		op->step = L_STATUS;
		return op_run(op);
	}
	/* A container removed since the listing is simply not there. */
	d = &l->ctrs[l->next++];
	if (status == 0 && (f = found_add(l, d)) != NULL) {
		exec_cri_status_from(r->reply.container_status, &f->status);
		list_adopt(op->ex, f, d, pod_is_ready(l, d->pod_id));
	}
	return op_run(op);
}

/* ---- exit (internal): a watched task's container stopped running ---- */

enum { EX_STATUS = S_FIRST, EX_POD };

static int exit_run(struct op *op)
{
	if (op->ex->closing) {
		op_complete(op, 0);
		return 0;
	}
	if (op->step == EX_STATUS)
		return call_container_status(op, op->ctr_id);
	return call_stop_pod(op, op->pod_id);
}

static int exit_reply(struct op *op, int status, struct cri_req *r)
{
	struct exec_cri *ex = op->ex;
	struct ctask *t;

	if (op->step == EX_POD) {
		op_complete(op, 0);
		return 0;
	}
	t = task_find(ex, op->task_id);
	if (t != NULL)
		t->exit_pending = false;
	/* Another call took the task over, or containerd could not answer:
	 * nothing to report now (the next poll looks again). */
	if (t == NULL || t->busy != NULL || !t->watch ||
	    strcmp(t->ctr_id, op->ctr_id) != 0 ||
	    (status < 0 && r->code != GRPC_NOT_FOUND)) {
		op_complete(op, 0);
		return 0;
	}
	if (status < 0) {
		memset(&op->st, 0, sizeof(op->st));
		set_status(&op->st, EXEC_FAILED, "started",
			   "task: container %s was removed", op->ctr_id);
	} else {
		exec_cri_status_from(r->reply.container_status, &op->st);
		if (op->st.state < EXEC_COMPLETE) {
			op_complete(op, 0);
			return 0;
		}
	}
	t->watch = false;
	t->last = op->st;
	t->pod_ready = false;
	/* The callback may call into the executor, even remove the task or
	 * close the executor: t is not touched after it. */
	if (ex->on_event != NULL)
		ex->on_event(ex->event_data, op->task_id, &op->st);
	op->step = EX_POD;
	return op_run(op);
}

static void spawn_exit(struct exec_cri *ex, struct ctask *t)
{
	struct op *op = op_new(ex, OP_EXIT, NULL, NULL);

	copy_id(op->task_id, t->id);
	copy_id(op->ctr_id, t->ctr_id);
	copy_id(op->pod_id, t->pod_id);
	op->step = EX_STATUS;
	t->exit_pending = true;
	if (op_run(op) != 0) {
		t->exit_pending = false;
		op_finish(op);
	}
}

static int stop_pod_run(struct op *op)
{
	return call_stop_pod(op, op->pod_id);
}

static int stop_pod_reply(struct op *op, int status, struct cri_req *r)
{
	op_complete(op, 0);
	return 0;
}

/* ---- dispatch ---- */

struct op_kind_ops {
	int (*run)(struct op *op);
	int (*reply)(struct op *op, int status, struct cri_req *r);
};

static const struct op_kind_ops kinds[OP_KIND_COUNT] = {
    [OP_PREPARE] = {prepare_run, prepare_reply},
    [OP_START] = {start_run, start_reply},
    [OP_STOP] = {stop_run, stop_reply},
    [OP_REMOVE] = {remove_run, remove_reply},
    [OP_STATUS] = {status_run, status_reply},
    [OP_LIST] = {list_run, list_reply},
    [OP_EXIT] = {exit_run, exit_reply},
    [OP_STOP_POD] = {stop_pod_run, stop_pod_reply},
};

static int op_run(struct op *op)
{
	return kinds[op->kind].run(op);
}

static void on_op_reply(struct cri_req *r, int status)
{
	struct op *op = r->data;
	int rc;

	op->wait = OPW_NONE;
	if (r->canceled || op->ex->closing) {
		sw_err_set(&op->err, SW_EUNAVAILABLE, "executor closing");
		op_complete(op, -SW_EUNAVAILABLE);
		return;
	}
	rc = kinds[op->kind].reply(op, status, r);
	if (rc < 0)
		op_complete(op, rc);
}

/* ---- exit polling ---- */

static void on_poll_reply(struct cri_req *r, int status)
{
	struct exec_cri *ex = r->data;
	const Runtime__V1__ListContainersResponse *l;
	struct ctask *t;
	size_t i;

	ex->poll_inflight = false;
	if (r->canceled || ex->closing || status < 0)
		return;
	l = r->reply.list_containers;
	for (t = ex->tasks; t != NULL; t = t->next) {
		const Runtime__V1__Container *c = NULL;

		if (!t->watch || t->busy != NULL || t->exit_pending)
			continue;
		for (i = 0; i < l->n_containers && c == NULL; i++)
			if (strcmp(l->containers[i]->id, t->ctr_id) == 0)
				c = l->containers[i];
		if (c != NULL &&
		    (c->state ==
			 RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING ||
		     c->state ==
			 RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED))
			continue;
		spawn_exit(ex, t);
	}
}

static void on_poll(uv_timer_t *timer)
{
	struct exec_cri *ex = timer->data;
	Runtime__V1__ListContainersRequest msg =
	    RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	struct scratch s = {0};
	struct selector sel;
	struct sw_err err;

	if (ex->closing || ex->poll_inflight)
		return;
	if (!any_watched(ex)) {
		uv_timer_stop(&ex->poll_timer);
		return;
	}
	/* One call for every task of the node, however many run. */
	selector_init(&sel, ex, NULL);
	f.n_label_selector = sel.n;
	f.label_selector =
	    (Runtime__V1__ContainerFilter__LabelSelectorEntry **)sc_map(
		&s,
		&runtime__v1__container_filter__label_selector_entry__descriptor,
		sel.kv, sel.n);
	msg.filter = &f;
	memset(&ex->poll_req, 0, sizeof(ex->poll_req));
	ex->poll_req.data = ex;
	ex->poll_req.timeout_ms = CALL_MS;
	if (cri_call(&ex->poll_req, ex->cri, CRI_LIST_CONTAINERS, &msg.base,
		     on_poll_reply, &err) == 0)
		ex->poll_inflight = true;
	sc_free(&s);
}

static void poll_ensure(struct exec_cri *ex)
{
	if (!ex->closing && !uv_is_active((uv_handle_t *)&ex->poll_timer))
		uv_timer_start(&ex->poll_timer, on_poll, ex->poll_ms,
			       ex->poll_ms);
}

/* Polls at once: a task is known to have exited already. */
static void poll_kick(struct exec_cri *ex)
{
	if (!ex->closing)
		uv_timer_start(&ex->poll_timer, on_poll, 0, ex->poll_ms);
}

/* ---- waiting for the CNI network ---- */

static void on_net_timer(uv_timer_t *timer)
{
	net_check(timer->data);
}

static struct op *first_net_waiter(struct exec_cri *ex, bool expired_only)
{
	uint64_t now = uv_now(ex->loop);
	struct op *op;

	for (op = ex->ops; op != NULL; op = op->next)
		if (op->wait == OPW_NET &&
		    (!expired_only || now - op->net_since >= ex->net_wait_ms))
			return op;
	return NULL;
}

static bool network_ready(const Runtime__V1__StatusResponse *r, char *reason,
			  size_t n)
{
	size_t i;

	if (r->status == NULL)
		return false;
	for (i = 0; i < r->status->n_conditions; i++) {
		const Runtime__V1__RuntimeCondition *c =
		    r->status->conditions[i];

		if (strcmp(c->type, "NetworkReady") != 0)
			continue;
		if (!c->status)
			(void)snprintf(reason, n, "%s: %s", c->reason,
				       c->message);
		return c->status;
	}
	return false;
}

static void on_net_status(struct cri_req *r, int status)
{
	struct exec_cri *ex = r->data;
	struct op *op;

	ex->net_checking = false;
	if (r->canceled || ex->closing)
		return;
	if (status < 0)
		(void)snprintf(ex->net_reason, sizeof(ex->net_reason), "%s",
			       r->err.msg);
	else if (network_ready(r->reply.status, ex->net_reason,
			       sizeof(ex->net_reason)))
		ex->net_ready = true;
	while ((op = first_net_waiter(ex, !ex->net_ready)) != NULL) {
		op->wait = OPW_NONE;
		if (ex->net_ready) {
			op->step = P_IMAGE;
			op_continue(op);
		} else {
			sw_err_set(&op->err, SW_EUNAVAILABLE,
				   "network not ready: %s", ex->net_reason);
			op_complete(op, -SW_EUNAVAILABLE);
		}
	}
	if (!ex->net_ready && first_net_waiter(ex, false) != NULL)
		uv_timer_start(&ex->net_timer, on_net_timer, NET_RETRY_MS, 0);
}

static void net_check(struct exec_cri *ex)
{
	struct sw_err err;

	if (ex->net_checking || ex->closing ||
	    uv_is_active((uv_handle_t *)&ex->net_timer))
		return;
	memset(&ex->net_req, 0, sizeof(ex->net_req));
	ex->net_req.data = ex;
	ex->net_req.timeout_ms = CALL_MS;
	if (cri_status(&ex->net_req, ex->cri, false, on_net_status, &err) == 0)
		ex->net_checking = true;
	else
		uv_timer_start(&ex->net_timer, on_net_timer, NET_RETRY_MS, 0);
}

/* ======================================================================
 * The executor_ops
 * ====================================================================== */

static struct exec_cri *to_ex(struct executor *base)
{
	return CONTAINER_OF(base, struct exec_cri, base);
}

/* Checks and registers a call on one task. */
static struct op *op_begin(struct exec_cri *ex, enum op_kind kind,
			   struct exec_req *req, const char *task_id,
			   exec_cb cb, struct sw_err *err)
{
	struct ctask *t;
	struct op *op;

	if (ex->closing) {
		sw_err_set(err, SW_EUNAVAILABLE, "executor is closing");
		return NULL;
	}
	if (!valid_id(task_id)) {
		sw_err_set(err, SW_EINVALID, "invalid task ID \"%s\"",
			   str_or_empty(task_id));
		return NULL;
	}
	t = task_find(ex, task_id);
	if (t != NULL && t->busy != NULL) {
		sw_err_set(err, SW_ECONFLICT,
			   "task %s: another call is in flight", task_id);
		return NULL;
	}
	if (t == NULL)
		t = task_add(ex, task_id);
	op = op_new(ex, kind, req, cb);
	op->t = t;
	t->busy = op;
	copy_id(op->task_id, task_id);
	op->step = S_RESOLVE_POD;
	req->priv = op;
	req->found = NULL;
	req->n_found = 0;
	memset(&req->status, 0, sizeof(req->status));
	return op;
}

/* Runs the first step inside the caller's call: whatever completes now
 * is reported from the loop. */
static int op_go(struct op *op)
{
	struct exec_cri *ex = op->ex;

	ex->sync_op = op;
	op_continue(op);
	ex->sync_op = NULL;
	return 0;
}

static void prep_build(struct op *op, const struct exec_task *task)
{
	struct exec_cri *ex = op->ex;
	struct prep *p = &op->prep;
	Runtime__V1__PodSandboxConfig pod =
	    RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	char name[NAME_MAX_LEN];
	struct build b = {0};
	struct sw_err err;

	p->image = xstrdup(task->image);
	p->host_network = task->host_network;
	p->pids_limit = task->pids_limit;
	if (exec_cri_container_name(task, name, sizeof(name)) < 0) {
		(void)snprintf(p->reject, sizeof(p->reject),
			       "task name is too long");
		return;
	}
	b.ex = ex;
	b.t = task;
	b.name = name;
	b.labels = xcalloc(task->n_labels + EXEC_CRI_LABELS, sizeof(*b.labels));
	b.n_labels = exec_cri_labels(task, name, b.labels,
				     task->n_labels + EXEC_CRI_LABELS);
	b.log_dir = task_dir(ex, task->task_id);
	if (fsutil_mkdir_p(b.log_dir, 0755, &err) != 0 ||
	    mount_tmpfs(task, b.log_dir, &err) != 0 ||
	    ((b.hosts_path = write_hosts(task, b.log_dir, &err)) == NULL &&
	     task->n_extra_hosts > 0)) {
		(void)snprintf(p->reject, sizeof(p->reject), "%s", err.msg);
		goto out;
	}
	build_pod(&b, &pod);
	if (build_container(&b, &cc, &err) != 0) {
		(void)snprintf(p->reject, sizeof(p->reject), "%s", err.msg);
		goto out;
	}
	p->pod = pack(&pod.base, &p->pod_len);
	p->ctr = pack(&cc.base, &p->ctr_len);
out:
	sc_free(&b.s);
	free((char *)b.hosts_path);
	free((char *)b.log_dir);
	free(b.labels);
}

static int cri_prepare(struct executor *base, struct exec_req *req,
		       const struct exec_task *task, exec_cb cb,
		       struct sw_err *err)
{
	struct exec_cri *ex = to_ex(base);
	struct op *op;

	if (task == NULL || task->image == NULL || task->image[0] == '\0' ||
	    task->service_name == NULL || task->service_name[0] == '\0' ||
	    (task->slot == 0 &&
	     (task->node_id == NULL || task->node_id[0] == '\0')))
		return sw_err_set(err, SW_EINVALID,
				  "task needs an image, a service name and a "
				  "slot or node ID");
	op = op_begin(ex, OP_PREPARE, req, task->task_id, cb, err);
	if (op == NULL)
		return -(int)err->kind;
	op->t->grace_ns = task->stop_grace_ns >= 0 ? task->stop_grace_ns
						   : EXEC_STOP_GRACE_DEFAULT_NS;
	prep_build(op, task);
	return op_go(op);
}

static int cri_start(struct executor *base, struct exec_req *req,
		     const char *task_id, exec_cb cb, struct sw_err *err)
{
	struct op *op = op_begin(to_ex(base), OP_START, req, task_id, cb, err);

	return op == NULL ? -(int)err->kind : op_go(op);
}

static int cri_stop(struct executor *base, struct exec_req *req,
		    const char *task_id, int64_t grace_ns, bool removing,
		    exec_cb cb, struct sw_err *err)
{
	struct op *op = op_begin(to_ex(base), OP_STOP, req, task_id, cb, err);

	if (op == NULL)
		return -(int)err->kind;
	op->grace_ns = grace_ns >= 0 ? grace_ns : op->t->grace_ns;
	op->keep_pod = removing;
	/* This exit is the caller's doing: no event for it. */
	op->t->watch = false;
	return op_go(op);
}

static int cri_remove(struct executor *base, struct exec_req *req,
		      const char *task_id, exec_cb cb, struct sw_err *err)
{
	struct op *op = op_begin(to_ex(base), OP_REMOVE, req, task_id, cb, err);

	if (op == NULL)
		return -(int)err->kind;
	op->t->watch = false;
	return op_go(op);
}

static int cri_status_op(struct executor *base, struct exec_req *req,
			 const char *task_id, exec_cb cb, struct sw_err *err)
{
	struct op *op = op_begin(to_ex(base), OP_STATUS, req, task_id, cb, err);

	return op == NULL ? -(int)err->kind : op_go(op);
}

static int cri_list(struct executor *base, struct exec_req *req, exec_cb cb,
		    struct sw_err *err)
{
	struct exec_cri *ex = to_ex(base);
	struct op *op;

	if (ex->closing)
		return sw_err_set(err, SW_EUNAVAILABLE, "executor is closing");
	op = op_new(ex, OP_LIST, req, cb);
	op->step = L_PODS;
	req->priv = op;
	req->found = NULL;
	req->n_found = 0;
	return op_go(op);
}

static int cri_logs(struct executor *base, const char *task_id,
		    const struct exec_log_query *q, struct exec_logs *out,
		    struct sw_err *err)
{
	struct exec_cri *ex = to_ex(base);
	char *path;
	int rc;

	if (!valid_id(task_id))
		return sw_err_set(err, SW_EINVALID, "invalid task ID \"%s\"",
				  str_or_empty(task_id));
	path = xasprintf("%s/%s/%s", ex->log_root, task_id, EXEC_CRI_LOG_FILE);
	rc = exec_cri_read_log(path, q, out, err);
	free(path);
	return rc;
}

static void ex_free(struct exec_cri *ex)
{
	struct ctask *t;

	while ((t = ex->tasks) != NULL) {
		ex->tasks = t->next;
		free(t);
	}
	free(ex->node_id);
	free(ex->log_root);
	free(ex->cgroup_parent);
	free(ex);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct exec_cri *ex = h->data;
	exec_close_cb cb;
	void *data;

	if (--ex->handles_open > 0)
		return;
	cb = ex->close_cb;
	data = ex->close_data;
	ex_free(ex);
	if (cb != NULL)
		cb(data);
}

/* Every call in flight has been canceled by now; what is left waited on
 * the network or on the loop. */
static void on_cri_closed(struct cri_client *c, void *data)
{
	struct exec_cri *ex = data;
	struct op *op, *rest;

	ex->cri = NULL;
	/* Nothing new starts while closing: finish the ops taken off the
	 * list. */
	rest = ex->ops;
	ex->ops = NULL;
	while ((op = rest) != NULL) {
		rest = op->next;
		if (op->wait != OPW_DEFERRED) {
			sw_err_set(&op->err, SW_EUNAVAILABLE,
				   "executor closing");
			op->result = -SW_EUNAVAILABLE;
		}
		op_finish(op);
	}
	ex->handles_open = 3;
	uv_close((uv_handle_t *)&ex->poll_timer, on_handle_closed);
	uv_close((uv_handle_t *)&ex->net_timer, on_handle_closed);
	uv_close((uv_handle_t *)&ex->defer_timer, on_handle_closed);
}

static void cri_close(struct executor *base, exec_close_cb cb, void *data)
{
	struct exec_cri *ex = to_ex(base);

	ex->closing = true;
	ex->close_cb = cb;
	ex->close_data = data;
	uv_timer_stop(&ex->poll_timer);
	uv_timer_stop(&ex->net_timer);
	uv_timer_stop(&ex->defer_timer);
	cri_client_close(ex->cri, on_cri_closed, ex);
}

/* ---- Probes ---- */

/* A probe runs through the node runtime's ExecSync, the call docker exec
 * uses, so it holds no task slot: a stop may be in flight meanwhile. */
struct probe {
	struct rt_req rreq;
	struct exec_req *req;
	exec_cb cb;
};

static void on_probe_done(struct rt_req *rreq, int status)
{
	struct probe *p = rreq->data;
	struct exec_req *req = p->req;

	memset(&req->status, 0, sizeof(req->status));
	req->output_len = rreq->out_len + rreq->errout_len;
	req->output = xmalloc(req->output_len + 1);
	if (rreq->out_len > 0)
		memcpy(req->output, rreq->out, rreq->out_len);
	if (rreq->errout_len > 0)
		memcpy(req->output + rreq->out_len, rreq->errout,
		       rreq->errout_len);
	req->output[req->output_len] = '\0';
	if (status == 0)
		req->status.exit_code = rreq->exit_code;
	else
		req->err = rreq->err;
	p->cb(req, status);
	free(req->output);
	req->output = NULL;
	req->output_len = 0;
	free(p);
}

static int cri_probe(struct executor *base, struct exec_req *req,
		     const char *task_id, const char *const *argv, size_t argc,
		     int64_t timeout_ns, exec_cb cb, struct sw_err *err)
{
	struct exec_cri *ex = to_ex(base);
	struct ctask *t = task_find(ex, task_id);
	struct probe *p;
	int rc;

	if (ex->closing)
		return sw_err_set(err, SW_EUNAVAILABLE, "executor is closing");
	if (ex->runtime == NULL)
		return sw_err_set(err, SW_ENOTIMPL,
				  "no probes on this executor");
	if (t == NULL || !t->resolved || t->ctr_id[0] == '\0')
		return sw_err_set(err, SW_ENOTFOUND,
				  "task %s has no container", task_id);
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->cb = cb;
	p->rreq.data = p;
	p->rreq.timeout_s = (timeout_ns + 999999999) / 1000000000;
	rc = runtime_exec_sync(ex->runtime, &p->rreq, t->ctr_id, argv, argc,
			       on_probe_done, err);
	if (rc != 0)
		free(p);
	return rc;
}

static const struct executor_ops cri_ops = {
    .probe = cri_probe,
    .prepare = cri_prepare,
    .start = cri_start,
    .stop = cri_stop,
    .remove = cri_remove,
    .status = cri_status_op,
    .list = cri_list,
    .logs = cri_logs,
    .close = cri_close,
};

/* ---- Creation and teardown ---- */

/* The node's network names, from cfg or derived from the node ID. */
struct net_names {
	char name[64];
	char bridge[CNI_IFNAME_MAX];
	char subnet[CNI_SUBNET_MAX];
	char *ipam_dir;
	struct cni_net net;
};

static void net_names_init(struct net_names *n,
			   const struct exec_cri_config *cfg)
{
	(void)snprintf(n->name, sizeof(n->name), "swarmd-%.12s", cfg->node_id);
	if (cfg->bridge != NULL)
		(void)snprintf(n->bridge, sizeof(n->bridge), "%s", cfg->bridge);
	else
		cni_default_bridge(cfg->node_id, n->bridge);
	if (cfg->subnet != NULL)
		(void)snprintf(n->subnet, sizeof(n->subnet), "%s", cfg->subnet);
	else
		cni_default_subnet(cfg->node_id, n->subnet);
	n->ipam_dir = cfg->ipam_dir != NULL
			  ? xstrdup(cfg->ipam_dir)
			  : xasprintf("%s/../ipam", cfg->cni_conf_dir);
	n->net.name = n->name;
	n->net.bridge = n->bridge;
	n->net.subnet = n->subnet;
	n->net.ipam_dir = n->ipam_dir;
}

static char *cgroup_parent_of(const struct exec_cri_config *cfg)
{
	if (cfg->cgroup_parent == NULL || cfg->cgroup_parent[0] == '\0')
		return xasprintf("/swarmd-%.12s", cfg->node_id);
	if (cfg->cgroup_parent[0] == '/')
		return xstrdup(cfg->cgroup_parent);
	return xasprintf("/%s", cfg->cgroup_parent);
}

static int config_check(const struct exec_cri_config *cfg, struct sw_err *err)
{
	if (cfg == NULL || !valid_id(cfg->node_id))
		return sw_err_set(err, SW_EINVALID,
				  "executor: a valid node ID is required");
	if (cfg->log_root == NULL || cfg->log_root[0] == '\0')
		return sw_err_set(err, SW_EINVALID,
				  "executor: a log root is required");
	return 0;
}

struct executor *executor_cri_new(uv_loop_t *loop, const char *socket,
				  const struct exec_cri_config *cfg,
				  struct sw_err *err)
{
	struct exec_cri *ex;
	struct net_names nn;
	struct sw_err merr;
	char *abs;

	if (config_check(cfg, err) != 0 ||
	    fsutil_mkdir_p(cfg->log_root, 0711, err) != 0)
		return NULL;
	if (cfg->cni_conf_dir != NULL) {
		net_names_init(&nn, cfg);
		if (cni_write_conflist(cfg->cni_conf_dir, &nn.net, err) != 0) {
			free(nn.ipam_dir);
			return NULL;
		}
		/* Tasks still run without it; they cannot reach out. */
		if (cni_masquerade(&nn.net, true, &merr) != 0)
			log_warn("executor: %s", merr.msg);
		free(nn.ipam_dir);
	}
	ex = xcalloc(1, sizeof(*ex));
	ex->base.ops = &cri_ops;
	ex->loop = loop;
	ex->cri = cri_client_new(loop, socket, cfg->grpc, err);
	if (ex->cri == NULL) {
		free(ex);
		return NULL;
	}
	ex->node_id = xstrdup(cfg->node_id);
	/* containerd wants an absolute log directory. */
	abs = realpath(cfg->log_root, NULL);
	ex->log_root = abs != NULL ? abs : xstrdup(cfg->log_root);
	ex->cgroup_parent = cgroup_parent_of(cfg);
	ex->poll_ms = cfg->poll_ms != 0 ? cfg->poll_ms : EXEC_CRI_POLL_MS;
	ex->net_wait_ms = cfg->network_wait_ms != 0 ? cfg->network_wait_ms
						    : EXEC_CRI_NETWORK_WAIT_MS;
	ex->has_net = cfg->cni_conf_dir != NULL;
	ex->on_event = cfg->on_event;
	ex->event_data = cfg->event_data;
	ex->runtime = cfg->runtime;
	uv_timer_init(loop, &ex->poll_timer);
	uv_timer_init(loop, &ex->net_timer);
	uv_timer_init(loop, &ex->defer_timer);
	ex->poll_timer.data = ex->net_timer.data = ex->defer_timer.data = ex;
	return &ex->base;
}

int executor_cri_teardown(const struct exec_cri_config *cfg, struct sw_err *err)
{
	struct net_names nn;
	char *parent;
	int rc = 0;

	if (config_check(cfg, err) != 0)
		return -(int)err->kind;
	if (cfg->cni_conf_dir != NULL) {
		net_names_init(&nn, cfg);
		rc = cni_teardown(cfg->cni_conf_dir, &nn.net, err);
		free(nn.ipam_dir);
	}
	parent = cgroup_parent_of(cfg);
	cgroup_cleanup(parent, NULL);
	free(parent);
	return rc;
}
