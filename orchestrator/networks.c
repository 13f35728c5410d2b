#include "orchestrator/networks.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/id.h"
#include "lib/timefmt.h"
#include "orchestrator/ipam.h"
#include "orchestrator/proposal.h"

#define PREDEFINED_LABEL "com.docker.swarm.predefined"

Swarmd__Network *networks_unpack(const struct store_record *rec)
{
	return swarmd__network__unpack(NULL, rec->payload_len, rec->payload);
}

const struct store_record *networks_resolve(const struct swarm *s,
					    const char *ref)
{
	return swarm_resolve(s, OBJ_NETWORK, ref, true);
}

bool networks_is_predefined(const Swarmd__Network *n)
{
	for (size_t i = 0; i < n->n_labels; i++)
		if (strcmp(n->labels[i]->key, PREDEFINED_LABEL) == 0)
			return true;
	return false;
}

const struct store_record *networks_ingress(const struct swarm *s)
{
	const struct store_record *r;

	for (r = store_first(swarm_store(s), OBJ_NETWORK); r != NULL;
	     r = store_next(r)) {
		Swarmd__Network *n = networks_unpack(r);
		bool ingress = n != NULL && n->ingress;

		swarmd__network__free_unpacked(n, NULL);
		if (ingress)
			return r;
	}
	return NULL;
}

/* ---- what is in use ------------------------------------------------------ */

/* Subnets and VXLAN IDs held by the networks already stored. */
struct held {
	struct ipam_subnet *subnets;
	size_t n_subnets;
	uint32_t *vxlans;
	size_t n_vxlans;
};

static void held_add_subnet(struct held *h, const struct ipam_subnet *sn)
{
	h->subnets =
	    xrealloc(h->subnets, (h->n_subnets + 1) * sizeof(*h->subnets));
	h->subnets[h->n_subnets++] = *sn;
}

static void held_add_vxlan(struct held *h, uint32_t v)
{
	h->vxlans = xrealloc(h->vxlans, (h->n_vxlans + 1) * sizeof(*h->vxlans));
	h->vxlans[h->n_vxlans++] = v;
}

static void held_add(struct held *h, const Swarmd__Network *n)
{
	for (size_t i = 0; i < n->n_ipam; i++) {
		struct ipam_subnet sn;

		if (ipam_parse(n->ipam[i]->subnet, &sn) == 0)
			held_add_subnet(h, &sn);
	}
	for (size_t i = 0; i < n->n_vxlan_ids; i++)
		held_add_vxlan(h, n->vxlan_ids[i]);
}

static void held_collect(const struct swarm *s, struct held *h)
{
	memset(h, 0, sizeof(*h));
	for (const struct store_record *r =
		 store_first(swarm_store(s), OBJ_NETWORK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Network *n = networks_unpack(r);

		if (n != NULL)
			held_add(h, n);
		swarmd__network__free_unpacked(n, NULL);
	}
}

static void held_free(struct held *h)
{
	free(h->subnets);
	h->subnets = NULL;
	free(h->vxlans);
	h->vxlans = NULL;
}

static uint32_t next_vxlan(const struct held *h)
{
	uint32_t v = NETWORKS_FIRST_VXLAN;
	bool taken = true;

	while (taken) {
		taken = false;
		for (size_t i = 0; i < h->n_vxlans && !taken; i++)
			taken = h->vxlans[i] == v;
		if (taken)
			v++;
	}
	return v;
}

/* ---- the pool ------------------------------------------------------------ */

struct pool {
	struct ipam_subnet subnets[64];
	size_t n;
	unsigned size;
};

/* The cluster's DefaultAddrPool and SubnetSize, SwarmKit's defaults where
 * the swarm was initialised without them (or with the CLI's empty list). */
static void pool_of(const Swarmd__Cluster *cl, struct pool *p)
{
	size_t n = cl ? cl->n_default_addr_pool : 0;

	p->n = 0;
	p->size =
	    cl && cl->subnet_size ? cl->subnet_size : IPAM_DEFAULT_SUBNET_SIZE;
	for (size_t i = 0; i < n && p->n < 64; i++)
		if (ipam_parse(cl->default_addr_pool[i], &p->subnets[p->n]) ==
		    0)
			p->n++;
	if (p->n == 0) {
		ipam_parse(IPAM_DEFAULT_POOL, &p->subnets[0]);
		p->n = 1;
	}
}

static Swarmd__IpamConfig *new_config(const struct ipam_subnet *sn,
				      uint32_t gateway, const char *range)
{
	Swarmd__IpamConfig *c = xmalloc(sizeof(*c));
	char text[IPAM_CIDR_MAX], gw[IPAM_ADDR_MAX];

	swarmd__ipam_config__init(c);
	ipam_format(sn, text);
	ipam_format_addr(gateway, gw);
	c->subnet = xstrdup(text);
	c->gateway = xstrdup(gw);
	c->ip_range = xstrdup(range ? range : "");
	return c;
}

static void free_configs(Swarmd__IpamConfig **c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i]->subnet);
		free(c[i]->gateway);
		free(c[i]->ip_range);
		free(c[i]);
	}
	free(c);
}

/* ---- the predefined networks --------------------------------------------- */

static Swarmd__Cluster *cluster_in(const struct change *c)
{
	for (size_t i = 0; i < c->n_ops; i++)
		if (c->ops[i].kind == OBJ_CLUSTER &&
		    c->ops[i].type == CHANGE_PUT)
			return swarmd__cluster__unpack(
			    NULL, c->ops[i].payload_len, c->ops[i].payload);
	return NULL;
}

static void add_host(struct change *c)
{
	Swarmd__KeyValue predefined = SWARMD__KEY_VALUE__INIT;
	Swarmd__KeyValue *labels[] = {&predefined};
	Swarmd__Network n = SWARMD__NETWORK__INIT;
	char id[ID_SWARM_LEN + 1];

	id_new_swarm(id);
	n.name = "host";
	n.driver = "host";
	n.scope = "swarm";
	predefined.key = PREDEFINED_LABEL;
	predefined.value = "true";
	n.labels = labels;
	n.n_labels = 1;
	swarm_put(c, CHANGE_CREATE, OBJ_NETWORK, id, n.name, &n.base, 0);
}

static void add_ingress(struct change *c)
{
	Swarmd__Cluster *cl = cluster_in(c);
	Swarmd__Network n = SWARMD__NETWORK__INIT;
	uint32_t vxlan = NETWORKS_FIRST_VXLAN;
	struct ipam_subnet sn;
	struct pool pool;
	struct sw_err err;
	char id[ID_SWARM_LEN + 1];

	pool_of(cl, &pool);
	swarmd__cluster__free_unpacked(cl, NULL);
	id_new_swarm(id);
	n.name = "ingress";
	n.driver = "overlay";
	n.scope = "swarm";
	n.ingress = true;
	n.ipam_driver = "default";
	/* A pool too small for even one block leaves ingress unallocated,
	 * as SwarmKit's allocator would. */
	if (ipam_alloc_subnet(pool.subnets, pool.n, pool.size, NULL, 0, &sn,
			      &err) == 0) {
		n.ipam = xcalloc(1, sizeof(*n.ipam));
		n.ipam[n.n_ipam++] = new_config(&sn, sn.base + 1, NULL);
		n.vxlan_ids = &vxlan;
		n.n_vxlan_ids = 1;
	} else {
		n.failed = true;
	}
	swarm_put(c, CHANGE_CREATE, OBJ_NETWORK, id, n.name, &n.base, 0);
	free_configs(n.ipam, n.n_ipam);
}

void networks_add_predefined(struct change *c)
{
	add_host(c);
	add_ingress(c);
}

/* ---- create -------------------------------------------------------------- */

static int check_create(const struct swarm *s, const struct swarm_network *n,
			struct sw_err *err)
{
	const struct store_record *ingress;

	/* The store refuses a taken name too, but with SwarmKit's generic
	 * text; dockerd checks first and answers this. */
	if (store_get_by_name(swarm_store(s), OBJ_NETWORK, n->name) != NULL)
		return sw_err_set(err, SW_ECONFLICT,
				  "network with name %s already exists",
				  n->name);
	if (n->ingress && n->attachable)
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = InvalidArgument desc = "
				  "ingress network cannot be attachable");
	ingress = n->ingress ? networks_ingress(s) : NULL;
	if (ingress != NULL)
		return sw_err_set(err, SW_ECONFLICT,
				  "rpc error: code = AlreadyExists desc = "
				  "ingress network (%s) is already present",
				  ingress->id);
	return 0;
}

/* One user IPAM.Config entry: the subnet as given, the gateway given or
 * the subnet's first address. */
static Swarmd__IpamConfig *user_config(const Swarmd__IpamConfig *in,
				       struct ipam_subnet *sn,
				       struct sw_err *err)
{
	uint32_t gw = 0;

	if (ipam_parse(in->subnet, sn) != 0) {
		sw_err_set(err, SW_ESYSTEM,
			   "Invalid subnet %s : invalid CIDR address: %s",
			   in->subnet, in->subnet);
		return NULL;
	}
	if (in->gateway[0] == '\0') {
		gw = sn->base + 1;
	} else if (ipam_parse_addr(in->gateway, &gw) != 0 ||
		   !ipam_contains(sn, gw)) {
		sw_err_set(err, SW_EINVALID,
			   "rpc error: code = InvalidArgument desc = ipam "
			   "configuration: subnet %s does not contain gateway "
			   "%s",
			   in->subnet, in->gateway);
		return NULL;
	}
	return new_config(sn, gw, in->ip_range);
}

/* The user's subnets, or one block from the pool. A user subnet that
 * overlaps one in use marks the network failed instead of refusing it:
 * SwarmKit accepts the spec and its allocator gives up later. */
static int alloc_subnets(const struct swarm *s, const struct swarm_network *n,
			 struct held *h, Swarmd__Network *m, struct sw_err *err)
{
	struct ipam_subnet sn;

	m->ipam = xcalloc(n->n_ipam + 1, sizeof(*m->ipam));
	for (size_t i = 0; i < n->n_ipam; i++) {
		m->ipam[i] = user_config(n->ipam[i], &sn, err);
		if (m->ipam[i] == NULL)
			return -1;
		m->n_ipam++;
		/* No room for a gateway and an address: SwarmKit's IPAM gives
		 * up on such a pool as on an overlapping one. */
		m->failed = m->failed || sn.prefix > 30;
		for (size_t j = 0; j < h->n_subnets && !m->failed; j++)
			m->failed = ipam_overlap(&sn, &h->subnets[j]);
		held_add_subnet(h, &sn);
	}
	if (n->n_ipam == 0) {
		Swarmd__Cluster *cl = swarm_cluster(s, NULL);
		struct pool pool;

		pool_of(cl, &pool);
		swarmd__cluster__free_unpacked(cl, NULL);
		if (ipam_alloc_subnet(pool.subnets, pool.n, pool.size,
				      h->subnets, h->n_subnets, &sn, err) != 0)
			return -1;
		m->ipam[m->n_ipam++] = new_config(&sn, sn.base + 1, NULL);
	}
	return 0;
}

static void alloc_vxlans(struct held *h, Swarmd__Network *m)
{
	m->vxlan_ids = xcalloc(m->n_ipam + 1, sizeof(*m->vxlan_ids));
	for (size_t i = 0; i < m->n_ipam; i++) {
		uint32_t v = next_vxlan(h);

		m->vxlan_ids[m->n_vxlan_ids++] = v;
		held_add_vxlan(h, v);
	}
}

/* Subnets and VXLAN IDs for an overlay network; other drivers are bare
 * swarm objects with nothing to allocate, as SwarmKit keeps them. */
static int allocate(const struct swarm *s, const struct swarm_network *n,
		    Swarmd__Network *m, struct sw_err *err)
{
	struct held h;
	int rc;

	if (strcmp(n->driver, "overlay") != 0) {
		m->ipam_driver = "";
		return 0;
	}
	m->ipam_driver = "default";
	held_collect(s, &h);
	rc = alloc_subnets(s, n, &h, m, err);
	if (rc == 0 && !m->failed)
		alloc_vxlans(&h, m);
	held_free(&h);
	if (m->failed) {
		free_configs(m->ipam, m->n_ipam);
		m->ipam = NULL;
		m->n_ipam = 0;
		m->driver = "";
		m->ipam_driver = "";
	}
	return rc;
}

/* SwarmKit's IPAM marks a network's options "serial" whenever it has any
 * (Docker shows the key in IPAM.Options). */
static Swarmd__KeyValue **ipam_options(const struct swarm_network *n,
				       Swarmd__KeyValue *serial, size_t *count)
{
	Swarmd__KeyValue **o;

	*count = 0;
	if (n->n_ipam_options == 0)
		return NULL;
	o = xcalloc(n->n_ipam_options + 1, sizeof(*o));
	for (size_t i = 0; i < n->n_ipam_options; i++)
		if (strcmp(n->ipam_options[i]->key, serial->key) != 0)
			o[(*count)++] = n->ipam_options[i];
	o[(*count)++] = serial;
	return o;
}

static void fill(Swarmd__Network *m, const struct swarm_network *n)
{
	m->name = (char *)n->name;
	m->driver = (char *)n->driver;
	m->scope = "swarm";
	m->ingress = n->ingress;
	m->attachable = n->attachable;
	m->internal = n->internal;
	m->enable_ipv6 = n->enable_ipv6;
	m->labels = n->labels;
	m->n_labels = n->n_labels;
	m->options = n->options;
	m->n_options = n->n_options;
	m->spec_json.data = (uint8_t *)n->spec_json;
	m->spec_json.len = n->spec_json ? strlen(n->spec_json) : 0;
}

struct create_op {
	swarm_cb cb;
	void *data;
};

/* Tells a lost allocation race apart from other failures. */
static void on_create_applied(void *data, int status, const struct sw_err *err)
{
	struct create_op *op = data;
	struct sw_err raced;

	if (status != 0 && strstr(err->msg, STORE_ERR_OUT_OF_SEQUENCE)) {
		sw_err_set(&raced, SW_ECONFLICT, NETWORKS_ERR_RACED);
		op->cb(op->data, -SW_ECONFLICT, &raced);
	} else {
		op->cb(op->data, status, err);
	}
	free(op);
}

/* Subnets and VXLAN IDs are picked from what the store shows free, which
 * the store cannot check at commit: every create re-writes the swarm's
 * predefined `host` network (never changed otherwise) at the version seen
 * here, so of two creates allocated from the same state only the first
 * commits. */
static int propose_create(struct swarm *s, const char *id,
			  const Swarmd__Network *m, swarm_cb cb, void *data,
			  struct sw_err *err)
{
	const struct store_record *guard =
	    store_get_by_name(swarm_store(s), OBJ_NETWORK, "host");
	struct create_op *op = xmalloc(sizeof(*op));
	int rc;

	op->cb = cb;
	op->data = data;
	rc = proposal_put_guarded(s, timefmt_now_ns(), CHANGE_CREATE,
				  OBJ_NETWORK, id, m->name, &m->base, guard,
				  on_create_applied, op, err);
	if (rc != 0)
		free(op);
	return rc;
}

int networks_create(struct swarm *s, const struct swarm_network *n, char id[27],
		    swarm_cb cb, void *data, struct sw_err *err)
{
	Swarmd__Network m = SWARMD__NETWORK__INIT;
	Swarmd__KeyValue serial = SWARMD__KEY_VALUE__INIT;
	int rc;

	if (check_create(s, n, err) != 0)
		return -1;
	fill(&m, n);
	serial.key = "com.docker.network.ipam.serial";
	serial.value = "true";
	m.ipam_options = ipam_options(n, &serial, &m.n_ipam_options);
	rc = allocate(s, n, &m, err);
	if (rc == 0) {
		id_new_swarm(id);
		rc = propose_create(s, id, &m, cb, data, err);
	}
	free(m.ipam_options);
	free_configs(m.ipam, m.n_ipam);
	free(m.vxlan_ids);
	return rc;
}

/* ---- remove -------------------------------------------------------------- */

static bool publishes_ingress(const Swarmd__Service *svc)
{
	for (size_t i = 0; svc->task && i < svc->task->n_ports; i++)
		if (strcmp(svc->task->ports[i]->mode, "ingress") == 0)
			return true;
	return false;
}

static bool attaches(const Swarmd__Service *svc, const char *net_id)
{
	for (size_t i = 0; i < svc->n_network_ids; i++)
		if (strcmp(svc->network_ids[i], net_id) == 0)
			return true;
	return false;
}

/* The first service (in ID order, as SwarmKit reports it) that keeps
 * network id in use; NULL when none. */
static const struct store_record *user_of(const struct swarm *s, const char *id,
					  bool ingress)
{
	const struct store_record *r;

	for (r = store_first(swarm_store(s), OBJ_SERVICE); r != NULL;
	     r = store_next(r)) {
		Swarmd__Service *svc =
		    swarmd__service__unpack(NULL, r->payload_len, r->payload);
		bool uses = svc != NULL && (ingress ? publishes_ingress(svc)
						    : attaches(svc, id));

		swarmd__service__free_unpacked(svc, NULL);
		if (uses)
			return r;
	}
	return NULL;
}

int networks_remove(struct swarm *s, const char *id, swarm_cb cb, void *data,
		    struct sw_err *err)
{
	const struct store_record *rec =
	    store_get(swarm_store(s), OBJ_NETWORK, id);
	Swarmd__Network *n = rec ? networks_unpack(rec) : NULL;
	bool ingress = n != NULL && n->ingress;
	const struct store_record *user;

	swarmd__network__free_unpacked(n, NULL);
	if (rec == NULL)
		return sw_err_set(err, SW_ENOTFOUND, "network %s not found",
				  id);
	user = user_of(s, id, ingress);
	if (user != NULL && ingress)
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = FailedPrecondition desc = "
				  "ingress network cannot be removed because "
				  "service %s depends on it",
				  user->id);
	if (user != NULL)
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = FailedPrecondition desc = "
				  "network %s is in use by service %s",
				  id, user->id);
	return proposal_delete(s, OBJ_NETWORK, id, cb, data, err);
}
