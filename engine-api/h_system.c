/* /_ping, /version and /info: what every client asks first. */
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "engine-api/api.h"
#include "engine-api/codec_swarm.h"
#include "engine-api/routes.h"
#include "lib/jsonx.h"
#include "lib/sysinfo.h"
#include "lib/timefmt.h"

void h_ping(struct api_req *req)
{
	/* The CLI reads only the headers; Docker also forbids caching. */
	struct MHD_Response *r;

	api_reply_text(req, 200, "text/plain; charset=utf-8", "OK");
	r = req->response;
	if (r != NULL) {
		MHD_add_response_header(r, "Cache-Control",
					"no-cache, no-store, must-revalidate");
		MHD_add_response_header(r, "Pragma", "no-cache");
	}
}

static struct json_object *component(const char *name, const char *version,
				     struct json_object *details)
{
	struct json_object *c = json_object_new_object();

	jsonx_add_string(c, "Name", name);
	jsonx_add_string(c, "Version", version);
	jsonx_add(c, "Details", details);
	return c;
}

static struct json_object *commit_details(const char *commit)
{
	struct json_object *d = json_object_new_object();

	jsonx_add_string(d, "GitCommit", commit);
	return d;
}

static struct json_object *engine_details(const struct sysinfo_host *h)
{
	struct json_object *d = json_object_new_object();

	jsonx_add_string(d, "ApiVersion", API_VERSION);
	jsonx_add_string(d, "Arch", h->goarch);
	jsonx_add_string(d, "BuildTime", SWARMD_BUILD_TIME);
	jsonx_add_string(d, "Experimental", "false");
	jsonx_add_string(d, "GitCommit", SWARMD_GIT_COMMIT);
	jsonx_add_string(d, "GoVersion", "n/a (C11)");
	jsonx_add_string(d, "KernelVersion", h->kernel);
	jsonx_add_string(d, "MinAPIVersion", API_MIN_VERSION);
	jsonx_add_string(d, "Os", "linux");
	return d;
}

void h_version(struct api_req *req)
{
	struct api_env *env = api_server_env(req->srv);
	struct json_object *v = json_object_new_object();
	struct json_object *platform = json_object_new_object();
	struct json_object *comps = json_object_new_array();
	struct sysinfo_host h;

	sysinfo_read(&h);
	jsonx_add_string(platform, "Name", "swarmd");
	jsonx_add(v, "Platform", platform);
	json_object_array_add(comps, component("Engine", SWARMD_VERSION,
					       engine_details(&h)));
	if (env->containerd_version[0] != '\0')
		json_object_array_add(
			comps, component("containerd", env->containerd_version,
					 commit_details(env->containerd_commit)));
	if (env->runc_version[0] != '\0')
		json_object_array_add(
			comps, component("runc", env->runc_version,
					 commit_details(env->runc_commit)));
	jsonx_add(v, "Components", comps);
	jsonx_add_string(v, "Version", SWARMD_VERSION);
	jsonx_add_string(v, "ApiVersion", API_VERSION);
	jsonx_add_string(v, "MinAPIVersion", API_MIN_VERSION);
	jsonx_add_string(v, "GitCommit", SWARMD_GIT_COMMIT);
	jsonx_add_string(v, "GoVersion", "n/a (C11)");
	jsonx_add_string(v, "Os", "linux");
	jsonx_add_string(v, "Arch", h.goarch);
	jsonx_add_string(v, "KernelVersion", h.kernel);
	jsonx_add_string(v, "BuildTime", SWARMD_BUILD_TIME);
	api_reply_json(req, 200, v);
}

static struct json_object *string_array(const char *const *items)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; items != NULL && items[i] != NULL; i++)
		json_object_array_add(a, json_object_new_string(items[i]));
	return a;
}

static struct json_object *pair(const char *a, const char *b)
{
	const char *items[] = {a, b, NULL};

	return string_array(items);
}

static struct json_object *info_plugins(void)
{
	static const char *const volume[] = {"local", NULL};
	static const char *const network[] = {"bridge", "host", "null",
					      "overlay", NULL};
	static const char *const logs[] = {"json-file", NULL};
	struct json_object *p = json_object_new_object();

	jsonx_add(p, "Volume", string_array(volume));
	jsonx_add(p, "Network", string_array(network));
	jsonx_add(p, "Authorization", NULL);
	jsonx_add(p, "Log", string_array(logs));
	return p;
}

static struct json_object *info_registry(void)
{
	static const char *const insecure[] = {"127.0.0.0/8", NULL};
	struct json_object *r = json_object_new_object();
	struct json_object *idx = json_object_new_object();
	struct json_object *hub = json_object_new_object();

	jsonx_add(r, "AllowNondistributableArtifactsCIDRs",
		  json_object_new_array());
	jsonx_add(r, "AllowNondistributableArtifactsHostnames",
		  json_object_new_array());
	jsonx_add(r, "InsecureRegistryCIDRs", string_array(insecure));
	jsonx_add_string(hub, "Name", "docker.io");
	jsonx_add(hub, "Mirrors", json_object_new_array());
	jsonx_add_bool(hub, "Secure", true);
	jsonx_add_bool(hub, "Official", true);
	jsonx_add(idx, "docker.io", hub);
	jsonx_add(r, "IndexConfigs", idx);
	jsonx_add(r, "Mirrors", json_object_new_array());
	return r;
}

static struct json_object *info_runtimes(void)
{
	struct json_object *r = json_object_new_object();
	struct json_object *runc = json_object_new_object();

	jsonx_add_string(runc, "path", "runc");
	jsonx_add(r, "runc", runc);
	return r;
}

static struct json_object *commit_pair(const char *id)
{
	struct json_object *c = json_object_new_object();

	jsonx_add_string(c, "ID", id);
	jsonx_add_string(c, "Expected", id);
	return c;
}

static const char *state_name(enum swarm_state st)
{
	switch (st) {
	case SWARM_PENDING:
		return "pending";
	case SWARM_ACTIVE:
		return "active";
	case SWARM_ERROR:
		return "error";
	case SWARM_INACTIVE:
		break;
	}
	return "inactive";
}

/* RemoteManagers, and the node and manager counts, from the node objects. */
static struct json_object *info_managers(struct swarm *sw, int64_t *nodes,
					 int64_t *managers)
{
	struct json_object *list = json_object_new_array();

	*nodes = 0;
	*managers = 0;
	for (const struct store_record *r =
		     store_first(swarm_store(sw), OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		(*nodes)++;
		if (n != NULL && n->manager) {
			struct json_object *m = json_object_new_object();

			(*managers)++;
			jsonx_add_string(m, "NodeID", r->id);
			jsonx_add_string(m, "Addr", n->manager_addr);
			json_object_array_add(list, m);
		}
		swarmd__node__free_unpacked(n, NULL);
	}
	return list;
}

/* A worker's RemoteManagers: the managers its leader last listed. */
static struct json_object *info_remote_managers(struct swarm *sw)
{
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; i < swarm_remote_managers(sw); i++) {
		struct json_object *m = json_object_new_object();
		const char *id, *addr;

		swarm_remote_manager(sw, i, &id, &addr);
		jsonx_add_string(m, "NodeID", id);
		jsonx_add_string(m, "Addr", addr);
		json_object_array_add(list, m);
	}
	return list;
}

/* The manager part of the swarm section: counts and the cluster. */
static void info_swarm_manager(struct json_object *s, struct swarm *sw)
{
	const struct store_record *rec;
	Swarmd__Cluster *cl = swarm_cluster(sw, &rec);
	int64_t nodes, managers;

	jsonx_add(s, "RemoteManagers", info_managers(sw, &nodes, &managers));
	jsonx_add_int64(s, "Nodes", nodes);
	jsonx_add_int64(s, "Managers", managers);
	if (cl != NULL)
		jsonx_add(s, "Cluster", codec_swarm_to_json(rec, cl, false));
	swarmd__cluster__free_unpacked(cl, NULL);
}

static struct json_object *info_swarm(struct swarm *sw)
{
	struct json_object *s = json_object_new_object();
	enum swarm_state st = sw ? swarm_get_state(sw) : SWARM_INACTIVE;
	bool manager = sw != NULL && swarm_is_manager(sw);

	jsonx_add_string(s, "NodeID", st == SWARM_ACTIVE ? swarm_node_id(sw)
							  : "");
	jsonx_add_string(s, "NodeAddr", st == SWARM_ACTIVE
						? swarm_node_addr(sw)
						: "");
	jsonx_add_string(s, "LocalNodeState", state_name(st));
	jsonx_add_bool(s, "ControlAvailable", manager);
	jsonx_add_string(s, "Error", "");
	if (manager)
		info_swarm_manager(s, sw);
	else if (sw != NULL && swarm_is_worker(sw))
		jsonx_add(s, "RemoteManagers", info_remote_managers(sw));
	else
		jsonx_add(s, "RemoteManagers", NULL);
	return s;
}

static void info_counts(struct json_object *o)
{
	jsonx_add_int64(o, "Containers", 0);
	jsonx_add_int64(o, "ContainersRunning", 0);
	jsonx_add_int64(o, "ContainersPaused", 0);
	jsonx_add_int64(o, "ContainersStopped", 0);
	jsonx_add_int64(o, "Images", 0);
}

static void info_kernel_features(struct json_object *o)
{
	static const char *const flags[] = {
		"MemoryLimit",	    "SwapLimit",      "KernelMemory",
		"KernelMemoryTCP",  "CpuCfsPeriod",   "CpuCfsQuota",
		"CPUShares",	    "CPUSet",	      "PidsLimit",
		"IPv4Forwarding",   "BridgeNfIptables", "BridgeNfIp6tables"};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		jsonx_add_bool(o, flags[i], true);
}

static void info_host(struct json_object *o, const struct sysinfo_host *h,
		      const struct api_env *env)
{
	char now[64];
	char cg[4];

	jsonx_add_bool(o, "Debug", env->debug);
	jsonx_add_int64(o, "NFd", sysinfo_open_fds());
	jsonx_add_bool(o, "OomKillDisable", true);
	jsonx_add_int64(o, "NGoroutines", sysinfo_threads());
	jsonx_add_string(o, "SystemTime", timefmt_now_local(now, sizeof(now)));
	jsonx_add_string(o, "LoggingDriver", "json-file");
	jsonx_add_string(o, "CgroupDriver", "cgroupfs");
	snprintf(cg, sizeof(cg), "%d", h->cgroup_version);
	jsonx_add_string(o, "CgroupVersion", cg);
	jsonx_add_int64(o, "NEventsListener", 0);
	jsonx_add_string(o, "KernelVersion", h->kernel);
	jsonx_add_string(o, "OperatingSystem", h->os_name);
	jsonx_add_string(o, "OSVersion", h->os_version);
	jsonx_add_string(o, "OSType", "linux");
	jsonx_add_string(o, "Architecture", h->arch);
	jsonx_add_string(o, "IndexServerAddress",
			 "https://index.docker.io/v1/");
	jsonx_add(o, "RegistryConfig", info_registry());
	jsonx_add_int64(o, "NCPU", h->ncpu);
	jsonx_add_int64(o, "MemTotal", h->mem_total);
	jsonx_add(o, "GenericResources", NULL);
	jsonx_add_string(o, "DockerRootDir", env->data_root);
	jsonx_add_string(o, "HttpProxy", "");
	jsonx_add_string(o, "HttpsProxy", "");
	jsonx_add_string(o, "NoProxy", "");
	jsonx_add_string(o, "Name", h->hostname);
	jsonx_add(o, "Labels", string_array(env->labels));
}

void h_info(struct api_req *req)
{
	struct api_env *env = api_server_env(req->srv);
	struct json_object *o = json_object_new_object();
	struct json_object *ds = json_object_new_array();
	struct sysinfo_host h;

	sysinfo_read(&h);
	jsonx_add_string(o, "ID", env->engine_id);
	info_counts(o);
	jsonx_add_string(o, "Driver", "overlayfs");
	json_object_array_add(ds, pair("Snapshotter", "overlayfs"));
	jsonx_add(o, "DriverStatus", ds);
	jsonx_add(o, "Plugins", info_plugins());
	info_kernel_features(o);
	info_host(o, &h, env);
	jsonx_add_bool(o, "ExperimentalBuild", false);
	jsonx_add_string(o, "ServerVersion", SWARMD_VERSION);
	jsonx_add(o, "Runtimes", info_runtimes());
	jsonx_add_string(o, "DefaultRuntime", "runc");
	jsonx_add(o, "Swarm", info_swarm(env->swarm));
	jsonx_add_bool(o, "LiveRestoreEnabled", false);
	jsonx_add_string(o, "Isolation", "");
	jsonx_add_string(o, "InitBinary", "");
	jsonx_add(o, "ContainerdCommit", commit_pair(env->containerd_commit));
	jsonx_add(o, "RuncCommit", commit_pair(env->runc_commit));
	jsonx_add(o, "InitCommit", commit_pair(""));
	jsonx_add(o, "SecurityOptions", json_object_new_array());
	jsonx_add(o, "Warnings", NULL);
	api_reply_json(req, 200, o);
}
