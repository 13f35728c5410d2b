#include "orchestrator/consensus.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/alloc.h"
#include "lib/timefmt.h"
#include "orchestrator/commitstats.h"

struct consensus {
	uv_loop_t *loop;
	struct raft raft;
	struct raft_io io;
	/* raft_uv's close and raft's callback for it, wrapped so the callback
	 * runs once (see io_closed_once). */
	void (*uv_close)(struct raft_io *io, raft_io_close_cb cb);
	raft_io_close_cb io_close_cb;
	bool io_closed;
	struct fsm *fsm;
	uint64_t id;
	uv_check_t watch; /* notices leadership changes (0.15 has no hook) */
	uv_timer_t defer; /* runs raft_close outside of raft callbacks */
	struct raft_barrier barrier;
	raft_term leader_term;  /* term we lead in, 0 when not leading */
	raft_term barrier_term; /* term the pending barrier was issued in */
	bool barrier_pending;
	bool ready;
	bool closing;
	int open_handles;
	consensus_ready_cb ready_cb;
	void *ready_data;
	consensus_close_cb close_cb;
	void *close_data;
	struct commitstats *stats; /* NULL unless a benchmark asks */
};

/* ---- errors ---- */

static int raft_status_err(int rv, struct sw_err *err)
{
	switch (rv) {
	case RAFT_NOTLEADER:
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "this node is not the raft leader");
	case RAFT_LEADERSHIPLOST:
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "raft leadership lost before the write "
				  "committed; its outcome is unknown");
	case RAFT_SHUTDOWN:
	case RAFT_CANCELED:
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "raft is shutting down; the outcome of the "
				  "write is unknown");
	case RAFT_CANTCHANGE:
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "a raft membership change is in progress");
	case RAFT_BADID:
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
	case RAFT_BADROLE:
		return sw_err_set(err, SW_EINVALID, "raft: %s",
				  raft_strerror(rv));
	default:
		return sw_err_set(err, SW_ESYSTEM, "raft: %s",
				  raft_strerror(rv));
	}
}

static int not_ready_err(struct consensus *c, struct sw_err *err)
{
	if (c->closing)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "raft is shutting down");
	if (raft_state(&c->raft) == RAFT_LEADER)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "raft leader is not ready for writes yet");
	return raft_status_err(RAFT_NOTLEADER, err);
}

/* ---- leadership watch ---- */

static void set_ready(struct consensus *c, bool ready)
{
	if (c->ready == ready)
		return;
	c->ready = ready;
	if (!c->closing && c->ready_cb != NULL)
		c->ready_cb(c, c->ready_data, ready);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct consensus *c = req->data;

	c->barrier_pending = false;
	if (status == 0 && !c->closing && raft_state(&c->raft) == RAFT_LEADER &&
	    c->raft.current_term == c->barrier_term &&
	    c->leader_term == c->barrier_term)
		set_ready(c, true);
}

/* Called on every loop iteration: cheap unless leadership changed. A failed
 * barrier is simply retried on a later iteration. */
static void consensus_watch(struct consensus *c)
{
	bool leader = raft_state(&c->raft) == RAFT_LEADER;
	raft_term term = c->raft.current_term;

	if (c->closing)
		return;
	if (c->leader_term != 0 && (!leader || term != c->leader_term)) {
		c->leader_term = 0;
		set_ready(c, false);
	}
	if (!leader || c->closing)
		return;
	c->leader_term = term;
	if (c->ready || c->barrier_pending)
		return;
	c->barrier.data = c;
	if (raft_barrier(&c->raft, &c->barrier, barrier_cb) == 0) {
		c->barrier_pending = true;
		c->barrier_term = term;
	}
}

static void watch_cb(uv_check_t *h)
{
	consensus_watch(h->data);
}

/* ---- lifecycle ---- */

static int make_dir(const char *dir, struct sw_err *err)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return sw_err_sys(err, errno, "creating %s", dir);
	return 0;
}

static void set_defaults(struct consensus *c)
{
	raft_set_election_timeout(&c->raft, CONSENSUS_ELECTION_MS);
	raft_set_heartbeat_timeout(&c->raft, CONSENSUS_HEARTBEAT_MS);
	raft_set_snapshot_threshold(&c->raft, CONSENSUS_SNAPSHOT_THRESHOLD);
	raft_set_snapshot_trailing(&c->raft, CONSENSUS_SNAPSHOT_TRAILING);
	raft_set_pre_vote(&c->raft, true);
}

enum { RELEASE_DELAY_MS = 1000 };

static struct consensus *of_io(struct raft_io *io)
{
	return (struct consensus *)(void *)((char *)io -
					    offsetof(struct consensus, io));
}

/* c-raft 0.15's uv layer can fire its close callback twice (a late
 * completion re-runs its "everything closed?" check), and raft's callback
 * then frees the same memory twice. Only the first call goes through. */
static void io_closed_once(struct raft_io *io)
{
	struct consensus *c = of_io(io);

	if (c->io_closed)
		return;
	c->io_closed = true;
	c->io_close_cb(io);
}

static void io_close_wrapped(struct raft_io *io, raft_io_close_cb cb)
{
	struct consensus *c = of_io(io);

	c->io_close_cb = cb;
	c->uv_close(io, io_closed_once);
}

struct consensus *consensus_init(uv_loop_t *loop, const char *dir, uint64_t id,
				 const char *address,
				 struct raft_uv_transport *transport,
				 struct fsm *fsm, struct sw_err *err)
{
	struct consensus *c;
	int rv;

	if (make_dir(dir, err) != 0)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->fsm = fsm;
	c->id = id;
	rv = raft_uv_init(&c->io, loop, dir, transport);
	if (rv == 0) {
		c->uv_close = c->io.close;
		c->io.close = io_close_wrapped;
	}
	if (rv != 0) {
		sw_err_set(err, SW_ESYSTEM, "raft io: %s", c->io.errmsg);
		goto err_free;
	}
	/* Auto-recovery would silently drop acknowledged entries from a
	 * corrupt tail; refusing to start is the safer failure. */
	raft_uv_set_auto_recovery(&c->io, false);
	rv = raft_init(&c->raft, &c->io, &fsm->raft_fsm, id, address);
	if (rv != 0) {
		sw_err_set(err, SW_ESYSTEM, "raft: %s", raft_errmsg(&c->raft));
		goto err_close_io;
	}
	c->raft.data = c;
	fsm_attach(fsm, &c->raft);
	set_defaults(c);
	uv_check_init(loop, &c->watch);
	c->watch.data = c;
	uv_timer_init(loop, &c->defer);
	c->defer.data = c;
	c->stats = commitstats_from_env(loop);
	return c;

err_close_io:
	raft_uv_close(&c->io);
err_free:
	free(c);
	return NULL;
}

int consensus_set_timeouts(struct consensus *c, unsigned election_ms,
			   unsigned heartbeat_ms, struct sw_err *err)
{
	/* raft_start asserts heartbeat < election (ticks are heartbeats). */
	if (heartbeat_ms == 0 || heartbeat_ms >= election_ms)
		return sw_err_set(
		    err, SW_EINVALID,
		    "heartbeat (%u ms) must be below the election "
		    "timeout (%u ms)",
		    heartbeat_ms, election_ms);
	raft_set_election_timeout(&c->raft, election_ms);
	raft_set_heartbeat_timeout(&c->raft, heartbeat_ms);
	return 0;
}

void consensus_set_snapshot(struct consensus *c, unsigned threshold,
			    unsigned trailing)
{
	raft_set_snapshot_threshold(&c->raft, threshold);
	raft_set_snapshot_trailing(&c->raft, trailing);
}

void consensus_on_ready(struct consensus *c, consensus_ready_cb cb, void *data)
{
	c->ready_cb = cb;
	c->ready_data = data;
}

/* Runs raft_bootstrap or raft_recover with this server as the only voter. */
static int set_lone_voter(struct consensus *c,
			  int (*fn)(struct raft *, const struct raft_configuration *))
{
	struct raft_configuration conf;
	int rv;

	raft_configuration_init(&conf);
	rv = raft_configuration_add(&conf, c->id, c->raft.address, RAFT_VOTER);
	if (rv == 0)
		rv = fn(&c->raft, &conf);
	raft_configuration_close(&conf);
	return rv;
}

int consensus_recover(struct consensus *c, struct sw_err *err)
{
	if (set_lone_voter(c, raft_recover) != 0)
		return sw_err_set(err, SW_ESYSTEM, "raft recover: %s",
				  raft_errmsg(&c->raft));
	return 0;
}

static int bootstrap(struct consensus *c, struct sw_err *err)
{
	int rv = set_lone_voter(c, raft_bootstrap);

	/* CANTBOOTSTRAP: the dir already has state, which is what we want. */
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP)
		return sw_err_set(err, SW_ESYSTEM, "raft bootstrap: %s",
				  raft_errmsg(&c->raft));
	return 0;
}

int consensus_start(struct consensus *c, bool boot, struct sw_err *err)
{
	int rv;

	if (boot && bootstrap(c, err) != 0)
		return -SW_ESYSTEM;
	rv = raft_start(&c->raft);
	if (rv != 0)
		return sw_err_set(err, SW_ESYSTEM, "raft start: %s",
				  raft_errmsg(&c->raft));
	uv_check_start(&c->watch, watch_cb);
	/* raft's own timers keep the loop alive while it runs. */
	uv_unref((uv_handle_t *)&c->watch);
	/* A lone voter is leader already: get its barrier going now. */
	consensus_watch(c);
	return 0;
}


static void handle_closed_cb(uv_handle_t *h)
{
	struct consensus *c = h->data;
	consensus_close_cb cb;
	void *data;

	if (--c->open_handles > 0)
		return;
	cb = c->close_cb;
	data = c->close_data;
	free(c);
	if (cb != NULL)
		cb(data);
}

/* Frees raft_uv's state and closes our handles, well after raft's close
 * callback: c-raft 0.15 can still run uv-layer callbacks of the closed
 * instance in the same loop turns (handle closes of its writer), and
 * freeing it from inside the close callback crashed (ioCloseCb reading a
 * freed instance). */
static void release_cb(uv_timer_t *t)
{
	struct consensus *c = t->data;

	raft_uv_close(&c->io);
	c->open_handles = 2;
	commitstats_free(c->stats);
	c->stats = NULL;
	uv_close((uv_handle_t *)&c->watch, handle_closed_cb);
	uv_close((uv_handle_t *)&c->defer, handle_closed_cb);
}

static void raft_closed_cb(struct raft *r)
{
	struct consensus *c = r->data;

	uv_timer_start(&c->defer, release_cb, RELEASE_DELAY_MS, 0);
}

static void defer_close_cb(uv_timer_t *t)
{
	struct consensus *c = t->data;

	raft_close(&c->raft, raft_closed_cb);
}

void consensus_close(struct consensus *c, consensus_close_cb cb, void *data)
{
	assert(!c->closing);
	c->closing = true;
	c->ready = false;
	c->close_cb = cb;
	c->close_data = data;
	uv_check_stop(&c->watch);
	/* raft_close from inside a raft callback aborts in libuv
	 * (LIBRARY-NOTES §1), and we may be inside one: defer it. */
	uv_timer_start(&c->defer, defer_close_cb, 0, 0);
}

/* ---- proposals ---- */

static void apply_cb(struct raft_apply *a, int status, void *result)
{
	struct consensus_propose_req *req = a->data;
	struct sw_err err;
	int st;

	sw_err_clear(&err);
	if (status != 0)
		st = raft_status_err(status, &err);
	else
		st = fsm_outcome(req->c->fsm, result, a->index, &err);
	if (req->c->stats != NULL)
		commitstats_record(req->c->stats,
				   timefmt_now_ns() - req->proposed_ns);
	req->cb(req, st, a->index, &err);
}

int consensus_propose(struct consensus *c, struct consensus_propose_req *req,
		      const struct change *change, consensus_propose_cb cb,
		      struct sw_err *err)
{
	struct raft_buffer buf;
	int rv;

	if (c->closing || !c->ready)
		return not_ready_err(c, err);
	if (change_encode(change, &buf, err) != 0)
		return -SW_EINVALID;
	req->c = c;
	req->cb = cb;
	req->apply.data = req;
	if (c->stats != NULL)
		req->proposed_ns = timefmt_now_ns();
	rv = raft_apply(&c->raft, &req->apply, &buf, 1, apply_cb);
	if (rv != 0) {
		/* On failure raft did not take the buffer. */
		raft_free(buf.base);
		return raft_status_err(rv, err);
	}
	return 0;
}

/* ---- membership ---- */

static void change_cb(struct raft_change *rc, int status)
{
	struct consensus_change_req *req = rc->data;
	struct sw_err err;
	int st = 0;

	sw_err_clear(&err);
	if (status != 0)
		st = raft_status_err(status, &err);
	req->cb(req, st, &err);
}

static int change_begin(struct consensus *c, struct consensus_change_req *req,
			consensus_change_cb cb, struct sw_err *err)
{
	if (c->closing || !c->ready)
		return not_ready_err(c, err);
	req->c = c;
	req->cb = cb;
	req->change.data = req;
	return 0;
}

int consensus_add(struct consensus *c, struct consensus_change_req *req,
		  uint64_t id, const char *address, consensus_change_cb cb,
		  struct sw_err *err)
{
	int rv = change_begin(c, req, cb, err);

	if (rv != 0)
		return rv;
	rv = raft_add(&c->raft, &req->change, id, address, change_cb);
	return rv ? raft_status_err(rv, err) : 0;
}

int consensus_assign(struct consensus *c, struct consensus_change_req *req,
		     uint64_t id, int role, consensus_change_cb cb,
		     struct sw_err *err)
{
	int rv = change_begin(c, req, cb, err);

	if (rv != 0)
		return rv;
	rv = raft_assign(&c->raft, &req->change, id, role, change_cb);
	return rv ? raft_status_err(rv, err) : 0;
}

int consensus_remove(struct consensus *c, struct consensus_change_req *req,
		     uint64_t id, consensus_change_cb cb, struct sw_err *err)
{
	int rv = change_begin(c, req, cb, err);

	if (rv != 0)
		return rv;
	rv = raft_remove(&c->raft, &req->change, id, change_cb);
	return rv ? raft_status_err(rv, err) : 0;
}

/* ---- state ---- */

enum consensus_role consensus_role(struct consensus *c)
{
	return (enum consensus_role)raft_state(&c->raft);
}

bool consensus_is_ready(const struct consensus *c)
{
	return c->ready && !c->closing;
}

void consensus_leader(struct consensus *c, uint64_t *id, const char **address)
{
	raft_id lid = 0;

	*address = NULL;
	raft_leader(&c->raft, &lid, address);
	*id = lid;
}

uint64_t consensus_applied_index(struct consensus *c)
{
	return raft_last_applied(&c->raft);
}

const struct raft_configuration *consensus_configuration(struct consensus *c)
{
	return &c->raft.configuration;
}

uint64_t consensus_id(const struct consensus *c)
{
	return c->id;
}

/* ---- single-node transport ---- */

struct local_transport {
	uv_loop_t *loop;
	uv_timer_t timer; /* defers connect failures, then the close cb */
	bool timer_open;
	bool closing;
	struct raft_uv_connect **pending;
	size_t n_pending, cap_pending;
	raft_uv_transport_close_cb close_cb;
};

static int local_init(struct raft_uv_transport *t, raft_id id,
		      const char *address)
{
	return 0;
}

static int local_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	return 0; /* nothing ever connects to a lone manager */
}

/* Fails every pending connect with status; callbacks may connect again. */
static void local_flush(struct local_transport *lt, int status)
{
	struct raft_uv_connect **reqs = lt->pending;
	size_t i, n = lt->n_pending;

	lt->pending = NULL;
	lt->n_pending = lt->cap_pending = 0;
	for (i = 0; i < n; i++)
		reqs[i]->cb(reqs[i], NULL, status);
	free(reqs);
}

static void local_timer_cb(uv_timer_t *h)
{
	local_flush(h->data, RAFT_NOCONNECTION);
}

static void local_open_timer(struct local_transport *lt)
{
	if (lt->timer_open)
		return;
	uv_timer_init(lt->loop, &lt->timer);
	lt->timer.data = lt;
	lt->timer_open = true;
}

static int local_connect(struct raft_uv_transport *t,
			 struct raft_uv_connect *req, raft_id id,
			 const char *address, raft_uv_connect_cb cb)
{
	struct local_transport *lt = t->impl;

	if (lt->closing)
		return RAFT_CANCELED;
	req->cb = cb;
	if (lt->n_pending == lt->cap_pending) {
		lt->cap_pending = lt->cap_pending ? 2 * lt->cap_pending : 4;
		lt->pending = xrealloc(lt->pending,
				       lt->cap_pending * sizeof(*lt->pending));
	}
	lt->pending[lt->n_pending++] = req;
	local_open_timer(lt);
	uv_timer_start(&lt->timer, local_timer_cb, 0, 0);
	return 0;
}

static void local_closed_cb(uv_handle_t *h)
{
	struct raft_uv_transport *t = h->data;
	struct local_transport *lt = t->impl;

	lt->timer_open = false;
	local_flush(lt, RAFT_CANCELED);
	lt->close_cb(t);
}

static void local_close(struct raft_uv_transport *t,
			raft_uv_transport_close_cb cb)
{
	struct local_transport *lt = t->impl;

	lt->closing = true;
	lt->close_cb = cb;
	local_open_timer(lt);
	/* The close callback fires from the handle's close, so the transport
	 * is never re-entered from inside raft's close path. */
	lt->timer.data = t;
	uv_close((uv_handle_t *)&lt->timer, local_closed_cb);
}

int consensus_transport_local_init(struct raft_uv_transport *t, uv_loop_t *loop)
{
	struct local_transport *lt = xcalloc(1, sizeof(*lt));

	memset(t, 0, sizeof(*t));
	lt->loop = loop;
	t->impl = lt;
	t->init = local_init;
	t->listen = local_listen;
	t->connect = local_connect;
	t->close = local_close;
	return 0;
}

void consensus_transport_local_close(struct raft_uv_transport *t)
{
	struct local_transport *lt = t->impl;

	/* Its timer must be closed: raft closed the transport first. */
	assert(!lt->timer_open);
	free(lt->pending);
	free(lt);
	t->impl = NULL;
}
