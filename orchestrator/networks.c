#include "orchestrator/networks.h"

#include <string.h>

#include "lib/id.h"

Swarmd__Network *networks_unpack(const struct store_record *rec)
{
	return swarmd__network__unpack(NULL, rec->payload_len, rec->payload);
}

const struct store_record *networks_resolve(const struct swarm *s,
					    const char *ref)
{
	return swarm_resolve(s, OBJ_NETWORK, ref, true);
}

static void add_network(struct change *c, const char *name,
			const char *driver, bool ingress, const char *subnet,
			const char *gateway, uint32_t vxlan)
{
	Swarmd__KeyValue predefined = SWARMD__KEY_VALUE__INIT;
	Swarmd__KeyValue *labels[] = {&predefined};
	Swarmd__Network n = SWARMD__NETWORK__INIT;
	char id[ID_SWARM_LEN + 1];

	id_new_swarm(id);
	n.name = (char *)name;
	n.driver = (char *)driver;
	n.scope = "swarm";
	n.ingress = ingress;
	n.subnet = (char *)subnet;
	n.gateway = (char *)gateway;
	n.vxlan_id = vxlan;
	if (!ingress) {
		predefined.key = "com.docker.swarm.predefined";
		predefined.value = "true";
		n.labels = labels;
		n.n_labels = 1;
	}
	swarm_put(c, CHANGE_CREATE, OBJ_NETWORK, id, name, &n.base, 0);
}

void networks_add_predefined(struct change *c)
{
	add_network(c, "host", "host", false, "", "", 0);
	add_network(c, "ingress", "overlay", true, "10.0.0.0/24", "10.0.0.1",
		    4096);
}
