#include "orchestrator/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "orchestrator/channels.pb-c.h"
#include "orchestrator/store.h"

enum fwd_state {
	FWD_QUEUED = 1, /* waiting for a connection */
	FWD_SENT,       /* waiting for the leader's answer */
	FWD_WAITING,    /* committed; waiting for the local apply */
};

struct fwd_req {
	uint64_t seq;
	enum fwd_state state;
	uint64_t index;
	void *frame;
	size_t len;
	forward_cb cb;
	void *data;
	struct fwd_req *next;
};

/* One connection (or dial) to a leader. It outlives the forwarder when
 * the forwarder is freed while it closes. */
struct fwd_link {
	struct forwarder *f; /* NULL once the forwarder is gone */
	struct transport_dial_req dial;
	struct transport_conn *c;
	char addr[80];
	bool dialing;
};

struct forwarder {
	struct transport *t;
	const struct store *st;
	struct fwd_link *link;
	struct fwd_req *reqs;
	uint64_t next_seq;
};

struct forwarder *forwarder_new(struct transport *t, const struct store *st)
{
	struct forwarder *f = xcalloc(1, sizeof(*f));

	f->t = t;
	f->st = st;
	f->next_seq = 1;
	return f;
}

static void unlink_req(struct forwarder *f, struct fwd_req *r)
{
	for (struct fwd_req **p = &f->reqs; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			return;
		}
}

static void finish(struct forwarder *f, struct fwd_req *r, int status,
		   const struct sw_err *err)
{
	unlink_req(f, r);
	r->cb(r->data, status, err);
	free(r->frame);
	free(r);
}

/* Fails the requests in the given states. */
static void fail_states(struct forwarder *f, bool queued, bool sent,
			const char *why)
{
	struct sw_err err;
	struct fwd_req *r = f->reqs, *next;

	sw_err_set(&err, SW_EUNAVAILABLE, "%s", why);
	for (; r != NULL; r = next) {
		next = r->next;
		if ((queued && r->state == FWD_QUEUED) ||
		    (sent && r->state == FWD_SENT))
			finish(f, r, -SW_EUNAVAILABLE, &err);
	}
}

static void check_applied(struct forwarder *f)
{
	uint64_t applied = store_applied_index(f->st);
	struct fwd_req *r = f->reqs, *next;

	for (; r != NULL; r = next) {
		next = r->next;
		if (r->state == FWD_WAITING && r->index <= applied)
			finish(f, r, 0, NULL);
	}
}

void forwarder_applied(struct forwarder *f, uint64_t index)
{
	check_applied(f);
}

static void send_queued(struct forwarder *f)
{
	struct fwd_link *l = f->link;
	struct sw_err err;

	for (struct fwd_req *r = f->reqs; r != NULL; r = r->next) {
		if (r->state != FWD_QUEUED)
			continue;
		if (transport_conn_send(l->c, r->frame, r->len, &err) != 0) {
			log_warn("forward: %s", err.msg);
			transport_conn_close(l->c);
			return;
		}
		r->state = FWD_SENT;
	}
}

static void on_response(struct forwarder *f, const Swarmd__ForwardResponse *m)
{
	struct fwd_req *r;
	struct sw_err err;

	for (r = f->reqs; r != NULL && r->seq != m->seq; r = r->next)
		;
	if (r == NULL || r->state != FWD_SENT)
		return;
	if (m->error_kind != 0) {
		sw_err_set(&err, (enum sw_errkind)m->error_kind, "%s",
			   m->error);
		err.status = m->error_status;
		finish(f, r, -(int)err.kind, &err);
		return;
	}
	r->state = FWD_WAITING;
	r->index = m->index;
	check_applied(f);
}

static void link_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct fwd_link *l = transport_conn_data(c);
	Swarmd__ForwardResponse *m;

	if (l->f == NULL)
		return;
	m = swarmd__forward_response__unpack(NULL, len, p);
	if (m == NULL) {
		log_warn("forward: the leader sent a malformed answer");
		transport_conn_close(c);
		return;
	}
	on_response(l->f, m);
	swarmd__forward_response__free_unpacked(m, NULL);
}

static void link_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct fwd_link *l = transport_conn_data(c);
	struct forwarder *f = l->f;

	if (f != NULL && f->link == l) {
		f->link = NULL;
		fail_states(f, true, true,
			    "rpc error: code = Unavailable desc = the "
			    "connection to the leader was lost; the write "
			    "may or may not have been applied");
	}
	free(l);
}

static const struct transport_conn_ops link_ops = {
    .frame = link_frame,
    .closed = link_closed,
};

static void on_dialed(struct transport_dial_req *req, struct transport_conn *c,
		      int status, const struct sw_err *err)
{
	struct fwd_link *l = req->data;
	struct forwarder *f = l->f;
	char why[600];

	l->dialing = false;
	if (status != 0) {
		if (f != NULL && f->link == l) {
			f->link = NULL;
			snprintf(why, sizeof(why),
				 "rpc error: code = Unavailable desc = "
				 "cannot reach the leader: %.500s",
				 err->msg);
			fail_states(f, true, true, why);
		}
		free(l);
		return;
	}
	l->c = c;
	transport_conn_set_ops(c, &link_ops, l);
	if (f == NULL || f->link != l) {
		transport_conn_close(c);
		return;
	}
	send_queued(f);
}

/* Makes f->link a connection (or dial) to addr. */
static int ensure_link(struct forwarder *f, const char *addr,
		       struct sw_err *err)
{
	struct fwd_link *l = f->link;

	if (l != NULL && strcmp(l->addr, addr) == 0)
		return 0;
	if (l != NULL) {
		/* The leader moved: what was sent to the old one is lost. */
		f->link = NULL;
		l->f = NULL;
		if (l->dialing)
			transport_dial_cancel(&l->dial);
		else
			transport_conn_close(l->c);
		fail_states(f, false, true,
			    "rpc error: code = Unavailable desc = the leader "
			    "changed; the write may or may not have been "
			    "applied");
	}
	l = xcalloc(1, sizeof(*l));
	l->f = f;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->dial.data = l;
	l->dialing = true;
	if (transport_dial(f->t, &l->dial, addr, TRANSPORT_FORWARD, on_dialed,
			   err) != 0) {
		free(l);
		return -1;
	}
	f->link = l;
	return 0;
}

/* Queues m (its seq is set here) for the leader at leader_addr. */
static int queue_request(struct forwarder *f, const char *leader_addr,
			 Swarmd__ForwardRequest *m, forward_cb cb, void *data,
			 struct sw_err *err)
{
	struct fwd_req *r;

	if (ensure_link(f, leader_addr, err) != 0)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->seq = f->next_seq++;
	r->state = FWD_QUEUED;
	r->cb = cb;
	r->data = data;
	m->seq = r->seq;
	r->len = protobuf_c_message_get_packed_size(&m->base);
	r->frame = xmalloc(r->len ? r->len : 1);
	protobuf_c_message_pack(&m->base, r->frame);
	r->next = f->reqs;
	f->reqs = r;
	if (!f->link->dialing)
		send_queued(f);
	return 0;
}

int forwarder_propose(struct forwarder *f, const char *leader_addr,
		      const struct change *c, forward_cb cb, void *data,
		      struct sw_err *err)
{
	Swarmd__ForwardRequest m = SWARMD__FORWARD_REQUEST__INIT;
	struct raft_buffer buf;
	int rc;

	if (change_encode(c, &buf, err) != 0)
		return -1;
	m.change.data = buf.base;
	m.change.len = buf.len;
	rc = queue_request(f, leader_addr, &m, cb, data, err);
	raft_free(buf.base);
	return rc;
}

int forwarder_barrier(struct forwarder *f, const char *leader_addr,
		      forward_cb cb, void *data, struct sw_err *err)
{
	Swarmd__ForwardRequest m = SWARMD__FORWARD_REQUEST__INIT;

	m.read_index = true;
	return queue_request(f, leader_addr, &m, cb, data, err);
}

void forwarder_free(struct forwarder *f)
{
	struct sw_err err;
	struct fwd_link *l = f->link;

	if (l != NULL) {
		l->f = NULL;
		if (l->dialing)
			transport_dial_cancel(&l->dial);
		else
			transport_conn_close(l->c);
	}
	sw_err_set(&err, SW_EUNAVAILABLE, "raft is shutting down");
	while (f->reqs != NULL)
		finish(f, f->reqs, -SW_EUNAVAILABLE, &err);
	free(f);
}

/* ---- leader side -----------------------------------------------------------
 */

struct fwd_srv {
	struct transport_conn *c;
	forward_propose_fn propose;
	void *data;
	int pending;
	bool gone;
};

struct fwd_op {
	struct fwd_srv *srv;
	uint64_t seq;
};

static void srv_reply(struct fwd_srv *s, uint64_t seq, uint64_t index,
		      const struct sw_err *err)
{
	Swarmd__ForwardResponse m = SWARMD__FORWARD_RESPONSE__INIT;
	struct sw_err e;
	size_t len;
	void *buf;

	if (s->gone)
		return;
	m.seq = seq;
	m.index = index;
	if (err != NULL) {
		m.error_kind = err->kind ? (int32_t)err->kind : SW_ESYSTEM;
		m.error_status = err->status;
		m.error = (char *)err->msg;
	}
	len = protobuf_c_message_get_packed_size(&m.base);
	buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(&m.base, buf);
	if (transport_conn_send(s->c, buf, len, &e) != 0)
		transport_conn_close(s->c);
	free(buf);
}

static void srv_done(void *arg, int status, uint64_t index,
		     const struct sw_err *err)
{
	struct fwd_op *op = arg;
	struct fwd_srv *s = op->srv;

	srv_reply(s, op->seq, index, status == 0 ? NULL : err);
	free(op);
	if (--s->pending == 0 && s->gone)
		free(s);
}

/* Proposes c (NULL: a read barrier) and answers request seq when done. */
static void serve_op(struct fwd_srv *s, uint64_t seq, const struct change *c)
{
	struct fwd_op *op = xcalloc(1, sizeof(*op));
	struct sw_err err;

	op->srv = s;
	op->seq = seq;
	s->pending++;
	if (s->propose(s->data, c, srv_done, op, &err) != 0) {
		s->pending--;
		free(op);
		srv_reply(s, seq, 0, &err);
	}
}

static void srv_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct fwd_srv *s = transport_conn_data(c);
	Swarmd__ForwardRequest *m =
	    swarmd__forward_request__unpack(NULL, len, p);
	struct change ch;
	struct sw_err err;

	if (m == NULL) {
		transport_conn_close(c);
		return;
	}
	if (m->read_index) {
		serve_op(s, m->seq, NULL);
		swarmd__forward_request__free_unpacked(m, NULL);
		return;
	}
	if (change_decode(m->change.data, m->change.len, &ch, &err) != 0) {
		srv_reply(s, m->seq, 0, &err);
		change_free(&ch);
		swarmd__forward_request__free_unpacked(m, NULL);
		return;
	}
	serve_op(s, m->seq, &ch);
	change_free(&ch);
	swarmd__forward_request__free_unpacked(m, NULL);
}

static void srv_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct fwd_srv *s = transport_conn_data(c);

	s->gone = true;
	if (s->pending == 0)
		free(s);
}

static const struct transport_conn_ops srv_ops = {
    .frame = srv_frame,
    .closed = srv_closed,
};

void forward_serve(struct transport_conn *c, forward_propose_fn propose,
		   void *data)
{
	struct fwd_srv *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->propose = propose;
	s->data = data;
	transport_conn_set_ops(c, &srv_ops, s);
}
