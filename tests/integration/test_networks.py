"""Networks as objects, side by side with the reference engine: the same
docker CLI commands, raw Engine API requests and Docker SDK calls against
swarmd and against dockerd 20.10 (one of each for the module, each in its
own swarm on its own 127.0.0.x), outputs diffed after masking.

Masking rules (both sides alike):
  * Version.Index -> <INDEX> (dockerd's raft writes more);
  * RFC 3339 timestamps -> <TIME>; 25-character base36 IDs -> <ID>; 64-hex
    IDs -> <CID>; the 12-character ID column of `network ls` -> <ID12>;
  * addresses from the local pools (172.x.y.z) -> <LOCALPOOL>: dockerd's
    docker_gwbridge holds 172.17.0.0/16 once it exists;
  * addresses from the default pool (10.x.y.z) -> <POOL> and the VXLAN
    list -> <VXLAN>: both engines hand them out in order, but dockerd also
    gives addresses to each task and to its own load balancer, and keeps a
    freed block or VXLAN ID out of use for a while, so the values depend on
    what ran before. Subnets a client chooses (100.64.x) are compared as
    they are;
  * dockerd's docker_gwbridge (created once a task of a service on an
    overlay network starts; swarmd has no overlay data plane yet) is left
    out of dockerd's lists.
Lists are sorted by name before the diff: the engines' orders differ."""
import concurrent.futures
import json
import re
import subprocess

import pytest

import harness
from harness import CLIS, RefDockerd, api_json

pytestmark = pytest.mark.skipif(not RefDockerd.available(), reason="no /usr/sbin/dockerd")

SWARMD_ADDR = "127.0.0.223"
REF_ADDR = "127.0.0.224"
POOL_ADDR = "127.0.0.225"

MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<TIME>"),
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"), "<CID>"),
    (re.compile(r"(?<![0-9a-z])[0-9a-z]{25}(?![0-9a-z])"), "<ID>"),
    (re.compile(r"^[0-9a-z]{12}(?=\s)", re.M), "<ID12>"),
    (re.compile(r"(?<![\d.])10\.\d+\.\d+\.\d+(/\d+)?"), "<POOL>"),
    (re.compile(r"(?<![\d.])172\.\d+\.\d+\.\d+(/\d+)?"), "<LOCALPOOL>"),
    (re.compile(r'("com\.docker\.network\.driver\.overlay\.vxlanid_list": )"[\d,]+"'),
     r"\1<VXLAN>"),
]


def mask(text):
    for rx, repl in MASKS:
        text = rx.sub(repl, text)
    return text


def mask_json(obj):
    if isinstance(obj, dict):
        return {k: ("<VXLAN>" if k == "com.docker.network.driver.overlay.vxlanid_list"
                    else "<INDEX>" if k == "Version" and isinstance(v, dict)
                    else mask_json(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_json(v) for v in obj]
    if isinstance(obj, str):
        return mask(obj)
    return obj


def columns(text):
    return "\n".join(re.sub(r" {2,}", "  ", line.rstrip()) for line in text.split("\n"))


def without_gwbridge(docs):
    return [d for d in docs if d.get("Name") != "docker_gwbridge"]


def by_name(docs):
    return sorted(without_gwbridge(docs), key=lambda d: (d["Name"], d["Scope"]))


class Pair:
    """swarmd and dockerd, and the differences found so far."""

    def __init__(self, swarmd, ref):
        self.swarmd, self.ref = swarmd, ref
        self.engines = (swarmd, ref)
        self.diffs = []

    def diff(self, what, got):
        if got[0] != got[1]:
            self.diffs.append("%s:\n  swarmd:  %r\n  dockerd: %r" % (what, got[0], got[1]))
        return got[0]

    def cli(self, cli, *args, sort=False, drop=()):
        """The CLI's answer on both; lines in drop are left out of the
        comparison."""
        got = []
        for eng in self.engines:
            p = eng.docker(*args, cli=cli)
            out = [x for x in columns(mask(p.stdout)).splitlines() if x not in drop]
            if sort:
                out = sorted(x for x in out if "docker_gwbridge" not in x)
            got.append((p.returncode, out, mask(p.stderr)))
        return self.diff("docker %s (%s)" % (" ".join(args), cli), got)

    def api(self, method, path, body=None):
        """One raw request on both; (status, masked body), lists by name."""
        got = []
        for eng in self.engines:
            r = eng.request(method, path, body=body)
            b = json.loads(r.body) if r.body else None
            if isinstance(b, list):
                b = by_name(b)
            got.append((r.status, mask_json(b)))
        return self.diff("%s %s %s" % (method, path, json.dumps(body)), got)

    def check(self):
        assert not self.diffs, "swarmd differs from dockerd:\n" + "\n".join(self.diffs)


def leftovers(eng):
    return [n["Id"] for n in eng.request("GET", "/v1.41/networks").json()
            if n["Scope"] == "swarm" and not n["Ingress"] or
            n["Scope"] == "local" and n["Name"] not in ("host", "none", "docker_gwbridge")]


def drop_networks(eng):
    """Removes what a test left: services first, then user networks (dockerd
    refuses a network while the tasks of a removed service linger)."""
    harness.remove_services(eng)

    def gone():
        for i in leftovers(eng):
            eng.request("DELETE", "/v1.41/networks/" + i)
        return not leftovers(eng)
    harness.wait_for(gone, 60, "the test's networks to be removed", interval=0.5)


def wait_removed(eng, name):
    harness.wait_for(lambda: eng.request("DELETE", "/v1.41/networks/" + name).status in (204, 404),
                     60, "network %s to be removable" % name, interval=0.3)


@pytest.fixture(scope="module")
def engines():
    c = harness.own_cluster("swarmd-netfid.")
    ref = RefDockerd(c)
    node_id = None
    try:
        sw = harness.Node(c.root, "sw", SWARMD_ADDR)
        c.nodes.append(sw)
        sw.start()
        sw.load_busybox()
        ref.start()
        p = ref.docker("load", "-i", harness.busybox_images()["docker"])
        assert p.returncode == 0, p.stderr
        for eng, addr in ((sw, SWARMD_ADDR), (ref, REF_ADDR)):
            assert harness.swarm_init(eng, addr).returncode == 0
        node_id = harness.swarm_info(sw)["NodeID"]
        yield sw, ref
        assert sw.stop() == 0, sw.logtext()
    finally:
        try:
            ref.stop()
        finally:
            c.cleanup()
            harness.drop_cni_rules(node_id)


@pytest.fixture
def pair(engines):
    p = Pair(*engines)
    yield p
    for eng in engines:
        if getattr(eng, "proc", None) is not None:
            drop_networks(eng)


def allocated(engines, *names):
    """Waits until each swarm network is allocated on the engines:
    SwarmKit's allocator runs after the create is answered (swarmd's
    allocation is part of the create)."""
    for eng in engines:
        for name in names:
            harness.wait_for(lambda: eng.request(
                "GET", "/v1.41/networks/%s?scope=swarm" % name).json()["IPAM"]["Driver"],
                30, "network %s to be allocated" % name, interval=0.1)


def vips_ready(engines, *services):
    """As allocated(), for the virtual IPs of services."""
    for eng in engines:
        for name in services:
            harness.wait_for(lambda: "VirtualIPs" in api_json(
                eng, "GET", "/v1.41/services/" + name)["Endpoint"],
                30, "service %s to be allocated" % name, interval=0.1)


def create(eng, body, status=201):
    r = eng.request("POST", "/v1.41/networks/create", body=body)
    assert r.status == status, r
    return r.json()


# ---- the CLI ---------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_cli_create_inspect_ls_rm(pair, cli):
    pair.cli(cli, "network", "create", "-d", "overlay", "--attachable", "--label", "a=b",
             "--opt", "o1=v1", "mynet")
    pair.cli(cli, "network", "create", "-d", "overlay", "plain")
    pair.cli(cli, "network", "create", "-d", "overlay", "--internal", "--subnet",
             "100.64.3.0/24", "--gateway", "100.64.3.254", "fixed")
    pair.cli(cli, "network", "create", "-d", "overlay", "mynet")
    allocated(pair.engines, "mynet", "plain", "fixed")
    for name in ("mynet", "plain", "fixed"):
        pair.cli(cli, "network", "inspect", name)
    pair.cli(cli, "network", "ls", sort=True)
    pair.cli(cli, "network", "ls", "--filter", "driver=overlay", sort=True)
    pair.cli(cli, "network", "ls", "--filter", "label=a", sort=True)
    pair.cli(cli, "network", "ls", "--filter", "name=mynet", "-q")
    pair.cli(cli, "network", "ls", "--filter", "scope=swarm", "--format",
             "{{.Name}} {{.Driver}} {{.Scope}}", sort=True)
    pair.cli(cli, "network", "rm", "mynet", "plain", "fixed")
    pair.cli(cli, "network", "rm", "mynet")
    pair.cli(cli, "network", "inspect", "mynet")
    pair.check()


def test_cli_local_bridge(pair):
    cli = harness.CLI28
    pair.cli(cli, "network", "create", "--subnet", "100.64.9.0/24", "localbr")
    pair.cli(cli, "network", "inspect", "localbr")
    pair.cli(cli, "network", "ls", "--filter", "scope=local", sort=True)
    pair.cli(cli, "network", "create", "localbr")
    pair.cli(cli, "network", "rm", "localbr")
    pair.cli(cli, "network", "rm", "host")
    pair.check()


def test_cli_not_in_swarm(cluster):
    """Overlay create off a swarm is dockerd's 500 with its manager text;
    a local bridge still works."""
    n = harness.Node(cluster.root, "solo", POOL_ADDR)
    cluster.nodes.append(n)
    n.start()
    p = n.docker("network", "create", "-d", "overlay", "ov2")
    assert (p.returncode, p.stderr) == (1, "Error response from daemon: %s\n"
                                        % harness.NOT_MANAGER_INACTIVE)
    r = n.request("POST", "/v1.41/networks/create", body={"Name": "ov2", "Driver": "overlay"})
    assert r.status == 500
    p = n.docker("network", "create", "solobr")
    assert p.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", p.stdout), p
    names = {x["Name"]: x for x in api_json(n, "GET", "/v1.41/networks")}
    assert set(names) == {"none", "host", "solobr"}
    assert names["solobr"]["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16",
                                                  "Gateway": "172.17.0.1"}]
    # Local networks outlive a restart (data-root/local-networks.json).
    n.stop()
    n.start()
    again = {x["Name"]: x["Id"] for x in api_json(n, "GET", "/v1.41/networks")}
    assert again == {k: v["Id"] for k, v in names.items()}


# ---- the API ---------------------------------------------------------------

CREATE_BODIES = [
    {"Name": "ov-int", "Driver": "overlay", "Internal": True, "Labels": {"k": "v"},
     "IPAM": {"Config": [{"Subnet": "100.64.1.0/24", "Gateway": "100.64.1.254"}]}},
    {"Name": "ov-two", "Driver": "overlay",
     "IPAM": {"Config": [{"Subnet": "100.64.4.0/24"}, {"Subnet": "100.64.5.0/24"}]}},
    {"Name": "ov-range", "Driver": "overlay", "EnableIPv6": True,
     "IPAM": {"Driver": "default", "Options": {"x": "y"},
              "Config": [{"Subnet": "100.64.16.0/20", "IPRange": "100.64.17.0/24",
                          "Gateway": "100.64.16.1"}]}},
    {"Name": "ov-opts", "Driver": "overlay", "Options": {"encrypted": ""}, "Labels": {}},
    # Overlaps ov-int: SwarmKit accepts it and leaves it unallocated.
    {"Name": "ov-clash", "Driver": "overlay", "IPAM": {"Config": [{"Subnet": "100.64.1.0/24"}]}},
    {"Name": "sw-bridge", "Driver": "bridge", "Scope": "swarm"},
]

BAD_BODIES = [
    {"Driver": "overlay"},
    {"Name": "bad1", "Driver": "overlay", "IPAM": {"Config": [{"Subnet": "100.64.0.0/33"}]}},
    {"Name": "bad2", "Driver": "overlay",
     "IPAM": {"Config": [{"Subnet": "100.64.2.0/24", "Gateway": "100.64.7.1"}]}},
    {"Name": "bad3", "Driver": "overlay", "IPAM": {"Config": [{"Gateway": "100.64.8.1"}]}},
    {"Name": "bad4", "Driver": "overlay", "IPAM": {"Driver": "nosuch"}},
    {"Name": "bad5", "Driver": "nosuchdriver"},
    {"Name": "bad6", "Driver": "overlay", "Scope": "local"},
    {"Name": "bad7", "Driver": "overlay", "Attachable": True, "Ingress": True},
    {"Name": "ingress2", "Driver": "overlay", "Ingress": True},
    {"Name": "none", "Driver": "overlay"},
    {"Name": "default", "Driver": "overlay"},
    {"Name": "bridge", "Driver": "overlay"},
    {"Name": "host", "Driver": "overlay"},
    {"Name": "host"},
]


def test_api_create_variants_and_errors(pair):
    for body in CREATE_BODIES:
        pair.api("POST", "/v1.41/networks/create", body)
        if body["Name"].startswith("ov-") and body["Name"] != "ov-clash":
            allocated(pair.engines, body["Name"])
        pair.api("GET", "/v1.41/networks/" + body["Name"])
    for body in BAD_BODIES:
        pair.api("POST", "/v1.41/networks/create", body)
    pair.api("POST", "/v1.41/networks/create", dict(CREATE_BODIES[0], CheckDuplicate=True))
    pair.check()


def test_api_filters(pair):
    for eng in pair.engines:
        create(eng, {"Name": "f-one", "Driver": "overlay", "Labels": {"team": "a", "x": ""}})
        create(eng, {"Name": "f-two", "Driver": "overlay", "Labels": {"team": "b"}})
        create(eng, {"Name": "f-br", "Labels": {"team": "a"}})
    allocated(pair.engines, "f-one", "f-two")
    for flt in ({"name": {"f-one": True}}, {"name": {"f-": True}}, {"name": ["o"]},
                {"label": {"team": True}}, {"label": {"team=a": True}}, {"label": {"x=": True}},
                {"driver": {"overlay": True}}, {"driver": {"bridge": True}},
                {"scope": {"swarm": True}}, {"scope": {"local": True}}, {"scope": {"x": True}},
                {"type": {"custom": True}}, {"type": {"builtin": True}},
                {"dangling": {"true": True}}, {"dangling": {"0": True}},
                {"type": {"bogus": True}}, {"dangling": {"maybe": True}}, {"nosuch": {"x": True}},
                {"driver": {"overlay": True}, "label": {"team=a": True}}):
        pair.api("GET", "/v1.41/networks?" + harness.query(flt))
    ids = [eng.request("GET", "/v1.41/networks/f-one").json()["Id"] for eng in pair.engines]
    got = [[n["Name"] for n in api_json(eng, "GET", "/v1.41/networks?" +
                                        harness.query({"id": {i[:5]: True}}))]
           for eng, i in zip(pair.engines, ids)]
    pair.diff("id prefix filter", got)
    pair.check()


def test_api_inspect_scope(pair):
    for eng in pair.engines:
        create(eng, {"Name": "sc-ov", "Driver": "overlay"})
        create(eng, {"Name": "sc-br"})
        # The same name in both scopes: ambiguous without a scope.
        create(eng, {"Name": "sc-br", "Driver": "overlay"})
    allocated(pair.engines, "sc-ov")
    for eng in pair.engines:
        sc = [n["Id"] for n in api_json(eng, "GET", "/v1.41/networks?" + harness.query(
            {"name": ["sc-br"], "scope": ["swarm"]}))]
        allocated([eng], *sc)
    for p in ("sc-ov", "sc-ov?scope=swarm", "sc-ov?scope=local", "sc-ov?scope=bogus",
              "sc-ov?verbose=true", "sc-br?scope=local", "sc-br?scope=swarm", "sc-br",
              "host", "host?scope=swarm", "host?scope=local", "none?scope=swarm",
              "ingress?scope=swarm&verbose=1", "nosuch", "nosuch?scope=swarm"):
        pair.api("GET", "/v1.41/networks/" + p)
    pair.api("DELETE", "/v1.41/networks/sc-br")
    # An ID prefix resolves; the swarm's own `host` is hidden from DELETE.
    for eng in pair.engines:
        ov = eng.request("GET", "/v1.41/networks/sc-ov").json()["Id"]
        r = eng.request("GET", "/v1.41/networks/" + ov[:6])
        assert (r.status, r.json()["Name"]) == (200, "sc-ov")
        host = eng.request("GET", "/v1.41/networks/host?scope=swarm").json()["Id"]
        r = eng.request("DELETE", "/v1.41/networks/" + host)
        assert (r.status, r.json()) == (404, {"message": "network %s not found" % host})
    pair.check()


# ---- services on networks ----------------------------------------------------

def test_service_by_network_name_and_rm_in_use(pair):
    cli = harness.CLI28
    pair.cli(cli, "network", "create", "-d", "overlay", "appnet")
    pair.cli(cli, "network", "create", "-d", "overlay", "--subnet", "100.64.20.0/24", "side")
    allocated(pair.engines, "appnet", "side")
    pair.cli(cli, "service", "create", "-d", "--name", "web", "--network", "appnet",
             "busybox", "sleep", "1d")
    vips_ready(pair.engines, "web")
    for eng in pair.engines:
        net = api_json(eng, "GET", "/v1.41/networks/appnet")["Id"]
        svc = api_json(eng, "GET", "/v1.41/services/web")
        assert svc["Spec"]["TaskTemplate"]["Networks"] == [{"Target": net}]
        assert [v["NetworkID"] for v in svc["Endpoint"]["VirtualIPs"]] == [net]
        p = eng.docker("network", "rm", "appnet")
        assert p.returncode == 1
        assert p.stderr.startswith(
            "Error response from daemon: rpc error: code = FailedPrecondition desc = "
            "network %s is in use by service %s\n" % (net, svc["ID"])), p.stderr
    pair.cli(cli, "network", "rm", "appnet")
    pair.api("GET", "/v1.41/services/web")
    pair.cli(cli, "service", "inspect", "--format",
             "{{json .Spec.TaskTemplate.Networks}} {{len .Endpoint.VirtualIPs}}", "web")
    # The deprecated top-level Networks, by name, through the API.
    body = {"Name": "old", "TaskTemplate": {"ContainerSpec": {"Image": "busybox",
                                                             "Command": ["sleep", "1d"]}},
            "Networks": [{"Target": "side", "Aliases": ["o"]}]}
    pair.api("POST", "/v1.41/services/create", body)
    vips_ready(pair.engines, "old")
    pair.api("GET", "/v1.41/services/old")
    for eng in pair.engines:
        side = api_json(eng, "GET", "/v1.41/networks/side")["Id"]
        svc = api_json(eng, "GET", "/v1.41/services/old")
        assert svc["Spec"]["Networks"] == [{"Target": side, "Aliases": ["o"]}]
        assert svc["Endpoint"]["VirtualIPs"][0]["NetworkID"] == side
        assert svc["Endpoint"]["VirtualIPs"][0]["Addr"].startswith("100.64.20.")
        r = eng.request("DELETE", "/v1.41/networks/side")
        assert r.status == 400 and "is in use by service %s" % svc["ID"] in r.json()["message"]
    nosuch = dict(body, Name="bad", Networks=[{"Target": "nosuchnet"}])
    pair.api("POST", "/v1.41/services/create", nosuch)
    pair.cli(cli, "service", "rm", "web", "old")
    for eng in pair.engines:
        wait_removed(eng, "appnet")
        wait_removed(eng, "side")
    pair.check()


def test_concurrent_creates(pair):
    """Creates in flight at once all succeed with distinct subnets and
    VXLAN IDs (swarmd retries an allocation that lost the race)."""
    names = ["par-%d" % i for i in range(12)]
    for eng in pair.engines:
        with concurrent.futures.ThreadPoolExecutor(len(names)) as ex:
            codes = list(ex.map(lambda n: eng.request(
                "POST", "/v1.41/networks/create",
                body={"Name": n, "Driver": "overlay"}).status, names))
        assert codes == [201] * len(names)
        allocated([eng], *names)
        nets = [api_json(eng, "GET", "/v1.41/networks/" + n) for n in names]
        subnets = [n["IPAM"]["Config"][0]["Subnet"] for n in nets]
        vxlans = [n["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
                  for n in nets]
        assert len(set(subnets)) == len(names), subnets
        assert len(set(vxlans)) == len(names), vxlans


def test_service_on_local_network(pair):
    """The SDK sends network names as given: a local network is dockerd's
    403, `none` (local, built in) and unknown names its 500 lookup error."""
    for eng in pair.engines:
        create(eng, {"Name": "svc-br"})
    for target in ("svc-br", "none", "nosuchnet"):
        pair.api("POST", "/v1.41/services/create", {
            "Name": "s-" + target, "TaskTemplate": {
                "ContainerSpec": {"Image": "busybox", "Command": ["sleep", "1d"]},
                "Networks": [{"Target": target}]}})
    pair.check()


def test_prune(pair):
    """`network prune` takes unused user networks of both scopes, never
    ingress, the built-in ones or one a service uses; label filters AND."""
    for eng in pair.engines:
        create(eng, {"Name": "pr-keep", "Driver": "overlay", "Labels": {"keep": "1"}})
        create(eng, {"Name": "pr-a", "Driver": "overlay", "Labels": {"tier": "x"}})
        create(eng, {"Name": "pr-b", "Driver": "overlay"})
        create(eng, {"Name": "pr-used", "Driver": "overlay"})
        create(eng, {"Name": "pr-br", "Labels": {"tier": "x"}})
        api_json(eng, "POST", "/v1.41/services/create", status=201, body={
            "Name": "pr-svc", "TaskTemplate": {
                "ContainerSpec": {"Image": "busybox", "Command": ["sleep", "1d"]},
                "Networks": [{"Target": "pr-used"}]}})
    allocated(pair.engines, "pr-keep", "pr-a", "pr-b", "pr-used")
    pair.api("POST", "/v1.41/networks/prune?" + harness.query({"label": ["tier=x", "keep"]}))
    pair.api("POST", "/v1.41/networks/prune?" + harness.query({"nosuch": ["x"]}))
    pair.cli(harness.CLI28, "network", "prune", "-f", "--filter", "label=tier=x", sort=True)
    # dockerd 20.10 sometimes lists pr-used among the deleted although it
    # keeps it (the listing below compares what is left), so that line is
    # not compared; swarmd must keep it.
    pair.cli(harness.CLI20, "network", "prune", "-f", "--filter", "label!=keep", sort=True,
             drop=("pr-used",))
    pair.api("GET", "/v1.41/networks?" + harness.query({"scope": ["swarm"]}))
    assert pair.engines[0].request("GET", "/v1.41/networks/pr-used").status == 200
    pair.check()


def test_sdk_create_list_remove(engines):
    """python3-docker drives both engines the same way; the results agree."""
    script = r"""
import json, sys, time, docker
from docker.types import IPAMConfig, IPAMPool
c = docker.DockerClient(base_url=sys.argv[1], version="1.41")
out = {}
n = c.networks.create("sdknet", driver="overlay", attachable=True, labels={"sdk": "1"},
                      ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="100.64.30.0/24")]))
# dockerd allocates after it answers the create: wait for the allocator.
while not n.attrs["IPAM"]["Driver"]:
    time.sleep(0.1)
    n.reload()
out["created"] = n.attrs
out["listed"] = sorted(x.name for x in c.networks.list(filters={"label": "sdk=1"}))
out["by_name"] = [x.attrs for x in c.networks.list(names=["sdknet"])]
out["get"] = c.networks.get(n.id).attrs
try:
    c.networks.create("sdknet", driver="overlay", check_duplicate=True)
except docker.errors.APIError as e:
    out["dup"] = [e.status_code, e.explanation]
n.remove()
out["after"] = [x.name for x in c.networks.list(names=["sdknet"])]
try:
    c.networks.get("sdknet")
except docker.errors.NotFound as e:
    out["gone"] = e.explanation
print(json.dumps(out))
"""
    got = []
    for eng in engines:
        p = subprocess.run(["/usr/bin/python3", "-c", script, "unix://" + eng.sock],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        got.append(json.loads(p.stdout))
    sw = got[0]
    assert sw["created"]["IPAM"]["Config"] == [{"Subnet": "100.64.30.0/24",
                                                "Gateway": "100.64.30.1"}]
    assert sw["listed"] == ["sdknet"] and sw["after"] == []
    assert sw["dup"] == [409, "network with name sdknet already exists"]
    assert sw["gone"] == "network sdknet not found"
    assert mask_json(got[0]) == mask_json(got[1])


def test_default_addr_pool(cluster):
    """Subnets come from the swarm's DefaultAddrPool in SubnetSize blocks:
    ingress first, then each new network, never overlapping."""
    n = harness.Node(cluster.root, "pool", POOL_ADDR)
    cluster.nodes.append(n)
    n.start()
    assert harness.swarm_init(n, POOL_ADDR, extra=(
        "--default-addr-pool", "10.20.0.0/25", "--default-addr-pool", "10.30.0.0/16",
        "--default-addr-pool-mask-length", "26")).returncode == 0
    swarm = api_json(n, "GET", "/v1.41/swarm")
    assert (swarm["DefaultAddrPool"], swarm["SubnetSize"]) == (["10.20.0.0/25", "10.30.0.0/16"], 26)

    def subnet(name):
        cfg = api_json(n, "GET", "/v1.41/networks/" + name)["IPAM"]["Config"]
        return [c["Subnet"] for c in cfg or []]
    assert subnet("ingress") == ["10.20.0.0/26"]
    create(n, {"Name": "a", "Driver": "overlay"})
    create(n, {"Name": "b", "Driver": "overlay"})
    create(n, {"Name": "mine", "Driver": "overlay", "IPAM": {"Config": [{"Subnet": "10.30.0.0/26"}]}})
    create(n, {"Name": "c", "Driver": "overlay"})
    assert (subnet("a"), subnet("b"), subnet("mine"), subnet("c")) == \
        (["10.20.0.64/26"], ["10.30.0.0/26"], [], ["10.30.0.64/26"])
    # "mine" overlapped "b": kept unallocated, as SwarmKit leaves it.
    mine = api_json(n, "GET", "/v1.41/networks/mine")
    assert (mine["Driver"], mine["IPAM"], mine["Options"]) == \
        ("", {"Driver": "", "Options": None, "Config": None}, None)
    vx = [api_json(n, "GET", "/v1.41/networks/" + x)["Options"][
        "com.docker.network.driver.overlay.vxlanid_list"] for x in ("ingress", "a", "b", "c")]
    assert vx == ["4096", "4097", "4098", "4099"]
    # A freed block is handed out again.
    assert n.request("DELETE", "/v1.41/networks/a").status == 204
    create(n, {"Name": "d", "Driver": "overlay"})
    assert subnet("d") == ["10.20.0.64/26"]


# ---- ingress (last: it replaces the module's ingress network) -----------------

def test_ingress_remove_and_recreate(pair):
    pub = {"Name": "pub", "TaskTemplate": {"ContainerSpec": {"Image": "busybox",
                                                            "Command": ["sleep", "1d"]}},
           "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 18777}]}}
    pair.api("POST", "/v1.41/services/create", pub)
    pair.api("DELETE", "/v1.41/networks/ingress")
    pair.api("DELETE", "/v1.41/services/pub")
    for eng in pair.engines:
        wait_removed(eng, "ingress")
    pair.api("GET", "/v1.41/networks/ingress")
    pair.api("POST", "/v1.41/services/create", dict(pub, Name="pub2"))
    pair.api("POST", "/v1.41/networks/create",
             {"Name": "ingress-new", "Driver": "overlay", "Ingress": True,
              "IPAM": {"Config": [{"Subnet": "100.64.40.0/24"}]}})
    allocated(pair.engines, "ingress-new")
    pair.api("GET", "/v1.41/networks/ingress-new")
    pair.api("POST", "/v1.41/networks/create", {"Name": "ing3", "Driver": "overlay",
                                                 "Ingress": True})
    pair.api("POST", "/v1.41/services/create", dict(pub, Name="pub3"))
    vips_ready(pair.engines, "pub3")
    for eng in pair.engines:
        ing = api_json(eng, "GET", "/v1.41/networks/ingress-new")["Id"]
        vips = api_json(eng, "GET", "/v1.41/services/pub3")["Endpoint"]["VirtualIPs"]
        assert [v["NetworkID"] for v in vips] == [ing]
        assert vips[0]["Addr"].startswith("100.64.40.")
    pair.check()
