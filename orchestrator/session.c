#include "orchestrator/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"

enum {
	RETRY_MIN_MS = 100,
	RETRY_MAX_MS = 2000,
	CHECK_MS = 500, /* how often an idle manager looks at its hint */
	DEFAULT_PERIOD_MS = 5000,
};

/* One connection attempt; outlives the session while it closes. */
struct sconn {
	struct session *s; /* NULL once abandoned */
	struct transport_dial_req dial;
	struct transport_conn *c;
	char addr[80];
	bool dialing;
	bool up; /* SessionInfo received */
};

struct session {
	uv_loop_t *loop;
	struct transport *t;
	bool wants_tasks;
	const struct session_ops *ops;
	void *data;
	struct sconn *conn;
	char **managers;
	size_t n_managers, rr;
	char redirect[80];
	uv_timer_t timer; /* heartbeats when up, redials when down */
	uint64_t period_ms;
	uint64_t retry_ms;
	bool stopping;
};

static void schedule(struct session *s, uint64_t ms);

static void abandon(struct session *s)
{
	struct sconn *sc = s->conn;

	if (sc == NULL)
		return;
	s->conn = NULL;
	sc->s = NULL;
	if (sc->dialing)
		transport_dial_cancel(&sc->dial);
	else
		transport_conn_close(sc->c);
}

/* The connection is gone: tell the owner and try again later. */
static void lost(struct session *s, uint64_t delay)
{
	abandon(s);
	s->ops->down(s->data);
	schedule(s, delay);
}

static void send_frame(struct sconn *sc, const Swarmd__DispatchFrame *f)
{
	size_t len = protobuf_c_message_get_packed_size(&f->base);
	void *buf = xmalloc(len ? len : 1);
	struct sw_err err;

	protobuf_c_message_pack(&f->base, buf);
	if (transport_conn_send(sc->c, buf, len, &err) != 0)
		log_debug("session: %s", err.msg);
	free(buf);
}

static void handle_info(struct session *s, struct sconn *sc,
			const Swarmd__SessionInfo *info)
{
	if (!sc->up && info->error[0] != '\0') {
		log_debug("session: %s: %s", sc->addr, info->error);
		lost(s, RETRY_MAX_MS / 2);
		return;
	}
	if (!sc->up && info->redirect[0] != '\0') {
		snprintf(s->redirect, sizeof(s->redirect), "%s",
			 info->redirect);
		lost(s, 50);
		return;
	}
	uint64_t period = info->heartbeat_period_ms > 0
				  ? (uint64_t)info->heartbeat_period_ms
				  : DEFAULT_PERIOD_MS;
	bool first = !sc->up;

	if (first)
		log_info("session: connected to the leader at %s", sc->addr);
	sc->up = true;
	s->retry_ms = RETRY_MIN_MS;
	if (first || period != s->period_ms) {
		s->period_ms = period;
		schedule(s, period);
	}
	s->ops->info(s->data, info);
}

static void conn_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct sconn *sc = transport_conn_data(c);
	struct session *s = sc->s;
	Swarmd__DispatchFrame *f;

	if (s == NULL)
		return;
	f = swarmd__dispatch_frame__unpack(NULL, len, p);
	if (f == NULL) {
		lost(s, s->retry_ms);
		return;
	}
	if (f->info != NULL)
		handle_info(s, sc, f->info);
	if (s->conn == sc && sc->up) {
		if (f->assignments != NULL)
			s->ops->assignments(s->data, f->assignments);
		if (f->ack != NULL) {
			struct sw_err err;

			if (f->ack->error_kind != 0)
				sw_err_set(&err,
					   (enum sw_errkind)f->ack->error_kind,
					   "%s", f->ack->error);
			s->ops->ack(s->data, f->ack->seq,
				    f->ack->error_kind ? -f->ack->error_kind
						       : 0,
				    f->ack->error_kind ? &err : NULL);
		}
		if (f->renewed_cert[0] != '\0' || f->renew_error[0] != '\0')
			s->ops->renewed(s->data,
					f->renewed_cert[0] ? f->renewed_cert
							   : NULL,
					f->renew_error);
	}
	swarmd__dispatch_frame__free_unpacked(f, NULL);
}

static void conn_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct sconn *sc = transport_conn_data(c);
	struct session *s = sc->s;

	if (s != NULL && s->conn == sc) {
		if (sc->up)
			log_info("session: lost the leader at %s%s%s", sc->addr,
				 err ? ": " : "", err ? err->msg : "");
		lost(s, sc->up ? RETRY_MIN_MS : s->retry_ms);
	}
	free(sc);
}

static const struct transport_conn_ops conn_ops = {
    .frame = conn_frame,
    .closed = conn_closed,
};

static void on_dialed(struct transport_dial_req *req, struct transport_conn *c,
		      int status, const struct sw_err *err)
{
	struct sconn *sc = req->data;
	struct session *s = sc->s;
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;
	Swarmd__SessionOpen open = SWARMD__SESSION_OPEN__INIT;

	sc->dialing = false;
	if (status != 0) {
		if (s != NULL && s->conn == sc) {
			log_debug("session: %s: %s", sc->addr, err->msg);
			s->conn = NULL;
			s->redirect[0] = '\0';
			s->ops->down(s->data);
			schedule(s, s->retry_ms);
			s->retry_ms = s->retry_ms * 2 > RETRY_MAX_MS
					  ? RETRY_MAX_MS
					  : s->retry_ms * 2;
		}
		free(sc);
		return;
	}
	sc->c = c;
	transport_conn_set_ops(c, &conn_ops, sc);
	if (s == NULL || s->conn != sc) {
		transport_conn_close(c);
		return;
	}
	open.wants_tasks = s->wants_tasks;
	f.open = &open;
	send_frame(sc, &f);
}

static const char *pick_target(struct session *s)
{
	const char *hint = s->ops->leader_hint(s->data);

	if (hint != NULL)
		return hint;
	if (s->redirect[0] != '\0')
		return s->redirect;
	if (s->n_managers == 0)
		return NULL;
	return s->managers[s->rr++ % s->n_managers];
}

static void connect_now(struct session *s)
{
	const char *target = pick_target(s);
	struct sconn *sc;
	struct sw_err err;

	if (target == NULL || target[0] == '\0') {
		schedule(s, CHECK_MS);
		return;
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->s = s;
	snprintf(sc->addr, sizeof(sc->addr), "%s", target);
	s->redirect[0] = '\0';
	sc->dial.data = sc;
	sc->dialing = true;
	if (transport_dial(s->t, &sc->dial, sc->addr, TRANSPORT_DISPATCH,
			   on_dialed, &err) != 0) {
		log_debug("session: %s: %s", sc->addr, err.msg);
		free(sc);
		schedule(s, RETRY_MAX_MS);
		return;
	}
	s->conn = sc;
}

static void on_timer(uv_timer_t *t)
{
	struct session *s = t->data;
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;
	struct sconn *sc = s->conn;
	const char *hint;

	if (s->stopping)
		return;
	if (sc == NULL) {
		connect_now(s);
		return;
	}
	if (!sc->up)
		return;
	/* A manager follows the raft leader. */
	hint = s->ops->leader_hint(s->data);
	if (hint != NULL && strcmp(hint, sc->addr) != 0) {
		lost(s, 0);
		return;
	}
	f.heartbeat = true;
	send_frame(sc, &f);
	schedule(s, s->period_ms);
}

static void schedule(struct session *s, uint64_t ms)
{
	if (!s->stopping)
		uv_timer_start(&s->timer, on_timer, ms, 0);
}

struct session *session_new(uv_loop_t *loop, struct transport *t,
			    bool wants_tasks, const struct session_ops *ops,
			    void *data)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->t = t;
	s->wants_tasks = wants_tasks;
	s->ops = ops;
	s->data = data;
	s->period_ms = DEFAULT_PERIOD_MS;
	s->retry_ms = RETRY_MIN_MS;
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	schedule(s, 0);
	return s;
}

void session_set_managers(struct session *s, char *const *addrs, size_t n)
{
	for (size_t i = 0; i < s->n_managers; i++)
		free(s->managers[i]);
	free(s->managers);
	s->managers = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		s->managers[i] = xstrdup(addrs[i]);
	s->n_managers = n;
}

bool session_is_up(const struct session *s)
{
	return s->conn != NULL && s->conn->up;
}

int session_report(struct session *s, uint64_t seq,
		   const struct agent_report *r, size_t n, struct sw_err *err)
{
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;
	Swarmd__StatusReport rep = SWARMD__STATUS_REPORT__INIT;
	Swarmd__TaskStatus *ts;
	Swarmd__TaskStatus **ptrs;

	if (!session_is_up(s))
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "no session with the leader");
	ts = xcalloc(n + 1, sizeof(*ts));
	ptrs = xcalloc(n + 1, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		swarmd__task_status__init(&ts[i]);
		ts[i].id = (char *)r[i].id;
		ts[i].state = r[i].state;
		ts[i].message = (char *)r[i].message;
		ts[i].err = (char *)r[i].err;
		ts[i].has_container = r[i].has_container;
		ts[i].container_id = (char *)r[i].container_id;
		ts[i].pid = r[i].pid;
		ts[i].exit_code = r[i].exit_code;
		ptrs[i] = &ts[i];
	}
	rep.seq = seq;
	rep.statuses = ptrs;
	rep.n_statuses = n;
	f.report = &rep;
	send_frame(s->conn, &f);
	free(ptrs);
	free(ts);
	return 0;
}

int session_renew(struct session *s, const char *csr, struct sw_err *err)
{
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;

	if (!session_is_up(s))
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "no session with the leader");
	f.renew_csr = (char *)csr;
	send_frame(s->conn, &f);
	return 0;
}

void session_poke(struct session *s)
{
	const char *hint;

	if (s->stopping)
		return;
	hint = s->ops->leader_hint(s->data);
	if (s->conn == NULL) {
		schedule(s, 0);
		return;
	}
	if (hint != NULL && strcmp(hint, s->conn->addr) != 0)
		lost(s, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct session *s = h->data;

	for (size_t i = 0; i < s->n_managers; i++)
		free(s->managers[i]);
	free(s->managers);
	free(s);
}

void session_free(struct session *s)
{
	s->stopping = true;
	abandon(s);
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}
