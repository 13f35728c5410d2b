/* swarmd-sim: joins N simulated worker nodes to a real swarmd manager and
 * keeps them alive on one libuv loop (bench/sim/simnode.h), printing one
 * JSON line of counters per interval on stdout for the bench runner.
 *
 *   swarmd-sim --manager 127.0.0.230:2377 --token SWMTKN-1-... \
 *              --nodes 1000 [--delay 0] [--joins 32] [--interval 500]
 *
 * Joins are paced (at most --joins in flight) so that thousands of TLS
 * handshakes, CSRs and raft writes do not all time out at once; a failed
 * join is retried after a second. SIGINT or SIGTERM stops every node and
 * prints the last line. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bench/sim/simnode.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/timefmt.h"

enum { JOIN_RETRY_MS = 1000, JOIN_TRIES = 5 };

struct fleet_opts {
	const char *manager;
	const char *token;
	const char *advertise_host;
	const char *prefix;
	unsigned nodes, joins, delay_ms, interval_ms, first;
};

struct slot {
	struct fleet *f;
	struct simnode *node;
	unsigned index, tries;
};

struct fleet {
	uv_loop_t loop;
	struct fleet_opts o;
	struct sim_stats stats;
	struct slot *slots;
	unsigned next, in_flight;
	unsigned *retry, n_retry; /* slots whose join failed */
	uv_timer_t pace, report;
	uv_signal_t sigint, sigterm;
	bool stopping;
	int64_t start_ns;
};

static void print_stats(struct fleet *f)
{
	const struct sim_stats *s = &f->stats;
	unsigned up = 0;

	for (unsigned i = 0; i < f->o.nodes; i++)
		up += f->slots[i].node && simnode_is_up(f->slots[i].node);
	printf("{\"t_ns\":%lld,\"nodes\":%u,\"joined\":%llu,"
	       "\"join_failed\":%llu,\"up\":%u,\"assigned\":%llu,"
	       "\"running\":%llu,\"stopped\":%llu,\"reports\":%llu,"
	       "\"reports_failed\":%llu,\"first_assign_ns\":%lld,"
	       "\"last_assign_ns\":%lld,\"last_running_ns\":%lld}\n",
	       (long long)timefmt_now_ns(), f->o.nodes,
	       (unsigned long long)s->joined,
	       (unsigned long long)s->join_failed, up,
	       (unsigned long long)s->assigned,
	       (unsigned long long)s->running,
	       (unsigned long long)s->stopped,
	       (unsigned long long)s->reports_sent,
	       (unsigned long long)s->reports_failed,
	       (long long)s->first_assign_ns, (long long)s->last_assign_ns,
	       (long long)s->last_running_ns);
	fflush(stdout);
}

static void on_report(uv_timer_t *t)
{
	print_stats(t->data);
}

static void on_joined(struct simnode *n, int status, const struct sw_err *err,
		      void *data);

static void start_node(struct fleet *f, struct slot *sl)
{
	char host[64], addr[80];
	struct simnode_config cfg = {
	    .token = f->o.token,
	    .manager = f->o.manager,
	    .hostname = host,
	    .advertise_addr = addr,
	    .start_delay_ms = f->o.delay_ms,
	    .stats = &f->stats,
	};
	struct sw_err err;
	unsigned number = f->o.first + sl->index;

	snprintf(host, sizeof(host), "%s-%05u", f->o.prefix, number);
	/* Nothing listens there: a worker's address is only displayed. */
	snprintf(addr, sizeof(addr), "%s:%u", f->o.advertise_host,
		 20000 + number % 40000);
	sl->node = simnode_start(&f->loop, &cfg, on_joined, sl, &err);
	if (sl->node == NULL) {
		log_error("sim: node %u: %s", sl->index, err.msg);
		return;
	}
	f->in_flight++;
}

/* Starts joins while fewer than --joins are in flight. */
static void pace(struct fleet *f)
{
	while (!f->stopping && f->in_flight < f->o.joins &&
	       f->next < f->o.nodes)
		start_node(f, &f->slots[f->next++]);
}

/* Retries the nodes whose join failed, a second later. */
static void on_retry(uv_timer_t *t)
{
	struct fleet *f = t->data;
	unsigned n = f->n_retry;

	f->n_retry = 0;
	for (unsigned i = 0; i < n && !f->stopping; i++)
		start_node(f, &f->slots[f->retry[i]]);
}

static void on_joined(struct simnode *n, int status, const struct sw_err *err,
		      void *data)
{
	struct slot *sl = data;
	struct fleet *f = sl->f;

	f->in_flight--;
	if (status != 0) {
		log_warn("sim: node %u: join: %s", sl->index, err->msg);
		simnode_stop(n);
		sl->node = NULL;
		if (++sl->tries < JOIN_TRIES) {
			f->retry[f->n_retry++] = sl->index;
			if (!uv_is_active((uv_handle_t *)&f->pace))
				uv_timer_start(&f->pace, on_retry,
					       JOIN_RETRY_MS, 0);
		}
	}
	pace(f);
}

static void stop_fleet(struct fleet *f)
{
	if (f->stopping)
		return;
	f->stopping = true;
	print_stats(f);
	for (unsigned i = 0; i < f->o.nodes; i++) {
		if (f->slots[i].node != NULL)
			simnode_stop(f->slots[i].node);
		f->slots[i].node = NULL;
	}
	uv_close((uv_handle_t *)&f->pace, NULL);
	uv_close((uv_handle_t *)&f->report, NULL);
	uv_close((uv_handle_t *)&f->sigint, NULL);
	uv_close((uv_handle_t *)&f->sigterm, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
	stop_fleet(s->data);
}

static void usage(void)
{
	fputs("usage: swarmd-sim --manager HOST:PORT --token TOKEN --nodes N\n"
	      "  [--delay MS] start → RUNNING (default 0)\n"
	      "  [--joins K] joins in flight (default 32)\n"
	      "  [--interval MS] between stats lines (default 500)\n"
	      "  [--prefix NAME] hostnames NAME-00001... (default sim)\n"
	      "  [--first I] number of the first node (default 1)\n"
	      "  [--advertise-host IP] (default 127.0.0.231)\n"
	      "  [--log-level LEVEL] (default warn)\n",
	      stderr);
}

static unsigned num(const char *s)
{
	return (unsigned)strtoul(s, NULL, 10);
}

static int parse(struct fleet_opts *o, int argc, char **argv)
{
	static const struct option longs[] = {
	    {"manager", required_argument, NULL, 'm'},
	    {"token", required_argument, NULL, 't'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"delay", required_argument, NULL, 'd'},
	    {"joins", required_argument, NULL, 'j'},
	    {"interval", required_argument, NULL, 'i'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"first", required_argument, NULL, 'f'},
	    {"advertise-host", required_argument, NULL, 'a'},
	    {"log-level", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct fleet_opts){.advertise_host = "127.0.0.231",
				 .prefix = "sim",
				 .joins = 32,
				 .interval_ms = 500,
				 .first = 1};
	log_set_level(SW_LOG_WARN);
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'm': o->manager = optarg; break;
		case 't': o->token = optarg; break;
		case 'n': o->nodes = num(optarg); break;
		case 'd': o->delay_ms = num(optarg); break;
		case 'j': o->joins = num(optarg); break;
		case 'i': o->interval_ms = num(optarg); break;
		case 'p': o->prefix = optarg; break;
		case 'f': o->first = num(optarg); break;
		case 'a': o->advertise_host = optarg; break;
		case 'l':
			if (log_parse_level(optarg) < 0)
				return -1;
			log_set_level((enum sw_loglevel)log_parse_level(optarg));
			break;
		default: return -1;
		}
	}
	if (o->manager == NULL || o->token == NULL || o->nodes == 0 ||
	    o->joins == 0 || o->interval_ms == 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct fleet *f = xcalloc(1, sizeof(*f));
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	if (parse(&f->o, argc, argv) != 0) {
		usage();
		free(f);
		return 2;
	}
	uv_loop_init(&f->loop);
	f->slots = xcalloc(f->o.nodes, sizeof(*f->slots));
	f->retry = xcalloc(f->o.nodes, sizeof(*f->retry));
	for (unsigned i = 0; i < f->o.nodes; i++)
		f->slots[i] = (struct slot){.f = f, .index = i};
	uv_timer_init(&f->loop, &f->pace);
	uv_timer_init(&f->loop, &f->report);
	uv_signal_init(&f->loop, &f->sigint);
	uv_signal_init(&f->loop, &f->sigterm);
	f->pace.data = f->report.data = f->sigint.data = f->sigterm.data = f;
	uv_signal_start(&f->sigint, on_signal, SIGINT);
	uv_signal_start(&f->sigterm, on_signal, SIGTERM);
	uv_timer_start(&f->report, on_report, f->o.interval_ms,
		       f->o.interval_ms);
	f->start_ns = timefmt_now_ns();
	pace(f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&f->loop) != 0) {
		log_warn("sim: loop closed with handles open");
		rc = 1;
	}
	free(f->slots);
	free(f->retry);
	free(f);
	return rc;
}
