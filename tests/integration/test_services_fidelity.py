"""Services side by side with the reference engine: the same docker CLI
commands and raw Engine API requests against swarmd and against dockerd
20.10.24 (one of each for the whole module, each with the busybox test image
and its own swarm on its own 127.0.0.x), outputs diffed after masking.
Commands that wait run on both engines at once.

Masking rules (both sides alike):
  * each engine's advertise address -> <ADDR>;
  * RFC 3339 timestamps -> <TIME>; "Running 5 seconds ago" -> "Running <AGO>";
  * 64-hex container IDs -> <CID>; 25-character base36 IDs -> <ID>; the
    12-character ID column of `service ls`/`ps` and the task ID in log
    prefixes -> <ID12>;
  * runs of spaces in CLI output -> two spaces (table columns are as wide
    as their masked cells were before masking);
  * JSON: Version.Index -> <INDEX> (dockerd's raft writes more), a nonzero
    ContainerStatus.PID -> <PID>, the Addr of an ingress VirtualIP -> <VIP>
    (dockerd's IPAM hands addresses out serially, to VIPs and to each
    task's ingress attachment, so they depend on what the module did
    before; test_services.py checks swarmd's VIPs are distinct).
Lists whose order the engines need not share (tasks, log lines of several
tasks) are sorted before the diff.

What cannot match here: dockerd has no IPVS on this kernel, so its ingress
tasks stay pending (published services are compared by spec and `service
ls`, not by `ps`)."""
import concurrent.futures
import copy
import json
import os
import re
import signal
import time

import pytest

import harness
from harness import CLIS, RefDockerd, api_json, list_tasks, wait_for, wait_running

pytestmark = pytest.mark.skipif(not RefDockerd.available(), reason="no /usr/sbin/dockerd")

SWARMD_ADDR = "127.0.0.161"
REF_ADDR = "127.0.0.171"
PORT = 18438
S = 1000000000

MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<TIME>"),
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"), "<CID>"),
    (re.compile(r"(?<![0-9a-z])[0-9a-z]{25}(?![0-9a-z])"), "<ID>"),
    (re.compile(r"^[0-9a-z]{12}(?=\s|$)", re.M), "<ID12>"),
    (re.compile(r"(\.\d+\.)[0-9a-z]{12}@"), r"\1<ID12>@"),
    (re.compile(r"(\d+ seconds?|less than a second|About a minute) ago"), "<AGO>"),
]


def mask(text, addr):
    text = re.sub(re.escape(addr) + r"(?!\d)", "<ADDR>", text)
    for rx, repl in MASKS:
        text = rx.sub(repl, text)
    return text


def columns(text):
    """Table output with its padding normalized: the widths follow the
    (masked) cell texts, e.g. "5 seconds" on one engine and "less than a
    second" on the other."""
    return "\n".join(re.sub(r" {2,}", "  ", line.rstrip()) for line in text.split("\n"))


def mask_json(obj, addr):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "Version" and isinstance(v, dict) and set(v) == {"Index"}:
                out[k] = {"Index": "<INDEX>"}
            elif k == "PID" and isinstance(v, int) and v != 0:
                out[k] = "<PID>"
            elif k == "VirtualIPs" and isinstance(v, list):
                out[k] = [dict(mask_json(x, addr), Addr="<VIP>") if "Addr" in x
                          else mask_json(x, addr) for x in v]
            else:
                out[k] = mask_json(v, addr)
        return out
    if isinstance(obj, list):
        return [mask_json(v, addr) for v in obj]
    if isinstance(obj, str):
        return mask(obj, addr)
    return obj


def key_paths(obj, prefix=""):
    paths = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            paths.add(prefix + k)
            paths |= key_paths(v, prefix + k + ".")
    elif isinstance(obj, list):
        for v in obj:
            paths |= key_paths(v, prefix + "[].")
    return paths


class Pair:
    """swarmd and dockerd, and the differences found so far."""

    def __init__(self, swarmd, ref):
        self.swarmd, self.ref = swarmd, ref
        self.diffs = []

    def engines(self):
        return ((self.swarmd, SWARMD_ADDR), (self.ref, REF_ADDR))

    def both(self, fn):
        """fn(engine) on both engines at once; [swarmd's, dockerd's]."""
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            return list(ex.map(fn, (self.swarmd, self.ref)))

    def diff(self, what, got):
        if got[0] != got[1]:
            self.diffs.append("%s:\n  swarmd:  %r\n  dockerd: %r" % (what, got[0], got[1]))
        return got[0]

    def cli(self, cli, *args, sort=False, parse=None):
        """One command on both; a diff of (rc, stdout, stderr) masked."""
        got = []
        for eng, addr in self.engines():
            p = eng.docker(*args, cli=cli)
            out, err = columns(mask(p.stdout, addr)), mask(p.stderr, addr)
            if sort:
                out, err = sorted(out.splitlines()), sorted(err.splitlines())
            if parse and p.returncode == 0:
                out = parse(out)
            got.append((p.returncode, out, err))
        return self.diff("docker %s (%s)" % (" ".join(args), cli), got)

    def cli_json(self, cli, *args):
        docs = []
        for eng, _ in self.engines():
            p = eng.docker(*args, cli=cli)
            assert p.returncode == 0, p.stderr
            docs.append(json.loads(p.stdout))
        return self.json_doc("docker %s (%s)" % (" ".join(args), cli), docs)

    def api(self, method, path, body=None, sort_key=None):
        """One raw request on both; a diff of (status, masked body)."""
        got = []
        for eng, addr in self.engines():
            p = path
            if "{VERSION}" in p:
                name = p.split("/")[3]
                v = eng.request("GET", "/v1.41/services/" + name).json()["Version"]["Index"]
                p = p.replace("{VERSION}", str(v))
            r = eng.request(method, p, body=body)
            b = r.body.decode()
            if r.body:
                try:
                    b = json.loads(r.body)
                except ValueError:
                    pass
            if sort_key and isinstance(b, list):
                b = sorted(b, key=sort_key)
            got.append((r.status, mask_json(b, addr)))
        return self.diff("%s %s %s" % (method, path, json.dumps(body)[:300]), got)

    def json_doc(self, what, docs):
        a, b = (mask_json(d, addr) for d, (_, addr) in zip(docs, self.engines()))
        missing, extra = key_paths(b) - key_paths(a), key_paths(a) - key_paths(b)
        if missing or extra:
            self.diffs.append("%s keys: missing %s, extra %s\n  swarmd:  %s\n  dockerd: %s"
                              % (what, sorted(missing), sorted(extra), json.dumps(a),
                                 json.dumps(b)))
        elif a != b:
            self.diffs.append("%s:\n  swarmd:  %s\n  dockerd: %s" % (what, json.dumps(a),
                                                                     json.dumps(b)))
        return a

    def check(self):
        assert not self.diffs, "swarmd differs from dockerd:\n" + "\n".join(self.diffs)


@pytest.fixture(scope="module")
def engines():
    c = harness.own_cluster("swarmd-svcfid.")
    ref = RefDockerd(c)
    node_id = None
    try:
        sw = harness.swarm_node(c, SWARMD_ADDR)
        ref.start()
        p = ref.docker("load", "-i", harness.busybox_images()["docker"])
        assert p.returncode == 0, p.stderr
        sw.load_busybox()
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
            harness.remove_services(eng)
    if engines[0].proc is not None and engines[0].proc.poll() is None:
        left = harness.settle_node(engines[0])
        assert not left, "service rm left these behind on swarmd: %r" % left


def slot_key(t):
    return (t.get("Slot", 0), t["CreatedAt"])


def by_slot(tasks):
    return sorted(tasks, key=slot_key)


# ---- the CLI ---------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_cli_create_inspect_ls_ps(pair, cli):
    """`service create --name web --replicas 4 busybox sleep 1d`, waiting for
    convergence, then everything the CLI reads back."""
    procs = pair.both(lambda e: e.docker("service", "create", "--name", "web", "--replicas", "4",
                                         "busybox", "sleep", "1d", cli=cli))
    got = []
    for p, (_, addr) in zip(procs, pair.engines()):
        lines = mask(p.stdout, addr).splitlines()
        got.append((p.returncode, lines[0], "overall progress: 4 out of 4 tasks" in lines,
                    lines[-1], mask(p.stderr, addr)))
    assert got[0][0] == 0, procs[0]
    pair.diff("service create (%s)" % cli, got)
    pair.cli_json(cli, "service", "inspect", "web")
    for args in (["service", "inspect", "--pretty", "web"], ["service", "ls"],
                 ["service", "ls", "--filter", "mode=replicated"], ["service", "ls", "-q"],
                 ["service", "ps", "web"], ["service", "ps", "--no-trunc", "web"],
                 ["service", "ps", "--filter", "desired-state=running", "web"],
                 ["service", "ps", "-q", "web"]):
        pair.cli(cli, *args)
    for q in ("false", "true"):
        pair.api("GET", "/v1.41/services/web?insertDefaults=" + q)
    pair.api("GET", "/v1.41/services?status=true")
    pair.api("GET", "/v1.41/tasks?" + harness.query({"service": ["web"]}), sort_key=slot_key)
    pair.cli(cli, "service", "rm", "web")
    pair.check()


@pytest.mark.parametrize("cli", CLIS)
def test_cli_publish(pair, cli):
    pair.cli(cli, "service", "create", "-d", "--name", "pub", "--publish", "%d:80" % PORT,
             "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    settle(pair.ref)
    pair.cli_json(cli, "service", "inspect", "pub")
    pair.cli(cli, "service", "inspect", "--pretty", "pub")
    # (Not REPLICAS: dockerd's ingress task cannot start without IPVS.)
    pair.cli(cli, "service", "ls", "--format", "{{.ID}} {{.Name}} {{.Mode}} {{.Image}} {{.Ports}}")
    pair.cli(cli, "service", "rm", "pub")
    pair.check()


def test_cli_scale_down(pair):
    cli = harness.CLI28
    pair.cli(cli, "service", "create", "-d", "--name", "web", "--replicas", "3",
             "--stop-grace-period", "1s", "busybox", "sleep", "1d")
    pair.both(lambda e: wait_running(e, "web", 3))
    pair.cli(cli, "service", "scale", "-d", "web=1")
    pair.both(lambda e: wait_for(lambda: len(list_tasks(e, "web")) == 1, 30,
                                 "scaled-down tasks to be deleted"))
    pair.cli(cli, "service", "ps", "web")
    pair.cli(cli, "service", "ls")
    pair.check()


LOG_SCRIPT = ("echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2; i=0; "
              "while sleep 1; do i=$((i+1)); echo tick-$i; done")


def no_ticks(lines):
    return [x for x in lines if "tick-" not in x]


def test_cli_logs_and_a_killed_task(pair):
    pair.cli(harness.CLI28, "service", "create", "-d", "--name", "lg", "--replicas", "2",
             "--stop-grace-period", "1s", "busybox", "sh", "-c", LOG_SCRIPT)
    pair.both(lambda e: wait_running(e, "lg", 2))
    pair.both(lambda e: wait_for(lambda: e.docker("service", "logs", "lg").stdout.count("tick-1")
                                 == 2, 15, "ticks"))
    for cli in CLIS:
        for args in (["service", "logs", "lg"], ["service", "logs", "--no-task-ids", "lg"],
                     ["service", "logs", "--raw", "lg"]):
            pair.cli(cli, *args, parse=no_ticks, sort=True)
        pair.cli(cli, "service", "logs", "--tail", "1", "lg",
                 parse=lambda lines: [re.sub(r"tick-\d+", "tick-N", x) for x in lines], sort=True)

    def kill(e):
        t = [t for t in wait_running(e, "lg", 2) if t["Slot"] == 1][0]
        os.kill(t["Status"]["ContainerStatus"]["PID"], signal.SIGKILL)
        wait_for(lambda: len([x for x in harness.running_tasks(e, "lg") if x["ID"] != t["ID"]])
                 == 2, 20, "a replacement")
        return t["ID"]
    killed = pair.both(kill)
    for cli in CLIS:
        pair.cli(cli, "service", "ps", "lg")
        pair.cli(cli, "service", "ls")
    docs = [e.request("GET", "/v1.41/tasks/" + i).json() for (e, _), i in zip(pair.engines(),
                                                                              killed)]
    pair.json_doc("the killed task", docs)
    # The failed task's log stays readable next to its replacement's.
    pair.cli(harness.CLI28, "service", "logs", "lg", parse=no_ticks, sort=True)
    pair.check()


def test_cli_missing_image(pair):
    pair.cli(harness.CLI28, "service", "create", "-d", "--name", "bad", "nosuchimage:v1")

    # The agent's report (rejected) and the orchestrator's answer to it (desired
    # shutdown) are two commits in both engines; wait for the second, or the
    # document depends on which one a poll happens to see.
    def settled(e):
        ts = [t for t in by_slot(list_tasks(e, "bad")) if t["Status"]["State"] == "rejected"]
        return ts if ts and ts[0]["DesiredState"] == "shutdown" else None

    def rejected(e):
        return wait_for(lambda: settled(e), 20, "a rejected task shut down")
    first = pair.both(rejected)
    pair.json_doc("the first rejected task", [ts[0] for ts in first])
    for cli in CLIS:
        pair.cli(cli, "service", "ls")
        pair.cli(cli, "service", "ps", "--no-trunc", "--filter", "desired-state=shutdown",
                 "bad", parse=lambda out: out.splitlines()[:2])
    pair.check()


def test_cli_missing_image_newest_retry(pair):
    pair.cli(harness.CLI28, "service", "create", "-d", "--name", "bad", "nosuchimage:v1")
    pair.both(lambda e: wait_for(lambda: len([t for t in list_tasks(e, "bad")
                                              if t["Status"]["State"] == "rejected"]) >= 2,
                                 20, "two rejected tasks"))
    newest = pair.both(lambda e: max(list_tasks(e, "bad"), key=lambda t: t["CreatedAt"]))
    got = [(t["DesiredState"], t["Status"]["State"], "NodeID" in t) for t in newest]
    assert got[0] == got[1] == ("ready", "rejected", True), got


# ---- raw API bodies ------------------------------------------------------------------

CS = {"Image": "busybox:latest", "Args": ["sleep", "1d"]}

FULL = {
    "Name": "full",
    "Labels": {"com.example.team": "core", "empty": ""},
    "TaskTemplate": {
        "ContainerSpec": {
            "Image": "busybox:latest",
            "Labels": {"c.label": "v"},
            "Command": ["sh", "-c"],
            "Args": ["sleep 1d"],
            "Hostname": "h-{{.Task.Slot}}",
            "Env": ["A=1", "B=two words"],
            "Dir": "/tmp",
            "User": "nobody",
            "Groups": ["nogroup", "root"],
            "Privileges": {"SELinuxContext": {"Disable": True}},
            "Init": True,
            "TTY": True,
            "OpenStdin": True,
            "ReadOnly": True,
            "Mounts": [
                {"Type": "volume", "Source": "vol1", "Target": "/data", "ReadOnly": True,
                 "VolumeOptions": {"NoCopy": True, "Labels": {"v": "1"},
                                   "DriverConfig": {"Name": "local", "Options": {"o": "x"}}}},
                {"Type": "tmpfs", "Target": "/scratch",
                 "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 448}},
                {"Type": "bind", "Source": "/tmp", "Target": "/hosttmp",
                 "BindOptions": {"Propagation": "rprivate"}},
            ],
            "StopSignal": "SIGUSR1",
            "StopGracePeriod": 3 * S,
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2 * S, "Timeout": 1 * S,
                            "Retries": 3, "StartPeriod": 4 * S},
            "Hosts": ["10.1.2.3 db.example", "10.1.2.4 cache"],
            "DNSConfig": {"Nameservers": ["10.0.0.53"], "Search": ["example.org"],
                          "Options": ["ndots:2", "timeout:3"]},
            "Sysctls": {"net.ipv4.ip_forward": "1", "net.core.somaxconn": "512"},
            "CapabilityAdd": ["CAP_SYSLOG", "CAP_NET_ADMIN"],
            "CapabilityDrop": ["CAP_MKNOD"],
            "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
        },
        "Resources": {
            "Limits": {"NanoCPUs": 500000000, "MemoryBytes": 67108864, "Pids": 100},
            "Reservations": {"NanoCPUs": 100000000, "MemoryBytes": 16777216,
                             "GenericResources": [
                                 {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 1}},
                                 {"NamedResourceSpec": {"Kind": "fpga", "Value": "f1"}}]},
        },
        "RestartPolicy": {"Condition": "on-failure", "Delay": 2 * S, "MaxAttempts": 3,
                          "Window": 10 * S},
        "Placement": {"Constraints": ["node.role==manager", "node.labels.zone!=x"],
                      "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
                      "MaxReplicas": 2,
                      "Platforms": [{"Architecture": "amd64", "OS": "linux"}]},
        # Both engines have `host` as a swarm network; `ingress` may not be
        # named, and swarmd has no other (no overlay data plane yet).
        "Networks": [{"Target": "host", "Aliases": ["a1", "a2"], "DriverOpts": {"k": "v"}}],
        "LogDriver": {"Name": "json-file", "Options": {"max-size": "1m"}},
        "ForceUpdate": 3,
    },
    # No task: the spec is what is compared, not what a runtime makes of it.
    "Mode": {"Replicated": {"Replicas": 0}},
    "UpdateConfig": {"Parallelism": 2, "Delay": 1 * S, "FailureAction": "rollback",
                     "Monitor": 7 * S, "MaxFailureRatio": 0.5, "Order": "start-first"},
    "RollbackConfig": {"Parallelism": 3, "Delay": 2 * S, "FailureAction": "continue",
                       "Monitor": 8 * S, "MaxFailureRatio": 0.25, "Order": "stop-first"},
    "EndpointSpec": {"Mode": "vip", "Ports": [{"Protocol": "udp", "TargetPort": 53,
                                              "PublishedPort": PORT + 1,
                                              "PublishMode": "host"}]},
}


def body(name, **over):
    b = {"Name": name, "TaskTemplate": {"ContainerSpec": dict(CS)},
         "Mode": {"Replicated": {"Replicas": 0}}}
    for k, v in over.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def template(**tt):
    return dict({"ContainerSpec": dict(CS)}, **tt)


# Bodies both engines accept; what each normalizes on the way in.
ACCEPTED = [
    FULL,
    body("novip", EndpointSpec={"Mode": "vip"}),
    body("emptyep", EndpointSpec={}),
    body("hostnet", TaskTemplate=template(Networks=[{"Target": "host"}])),
    body("dnsrrhost", EndpointSpec={"Mode": "dnsrr"},
         TaskTemplate=template(Networks=[{"Target": "host"}])),
    body("dnsrr", EndpointSpec={"Mode": "dnsrr"}),
    body("hostport", EndpointSpec={"Ports": [{"TargetPort": 80, "PublishedPort": PORT + 2,
                                              "PublishMode": "host"}]}),
    body("ingport", EndpointSpec={"Ports": [{"TargetPort": 80, "PublishedPort": PORT + 3}]}),
    body("autoport", EndpointSpec={"Ports": [
        {"TargetPort": 80, "Protocol": "udp", "PublishedPort": 0},
        {"Name": "x", "TargetPort": 81, "PublishedPort": PORT + 4, "PublishMode": "host",
         "Protocol": "sctp"}]}),
    body("priv", TaskTemplate=template(ContainerSpec=dict(CS, Privileges={}))),
    body("priv2", TaskTemplate=template(ContainerSpec=dict(
        CS, Privileges={"CredentialSpec": {"File": "x.json"}, "NoNewPrivileges": False}))),
    body("nomode", Mode=None, TaskTemplate=template(ContainerSpec=dict(
        CS, StopGracePeriod=S))),
    body("emptymode", Mode={}),
    body("rpol", TaskTemplate=template(RestartPolicy={"Condition": "none"})),
    body("rp0", TaskTemplate=template(RestartPolicy={})),
    body("nulls", Labels=None, TaskTemplate=template(
        Networks=None, Placement=None, Resources=None,
        ContainerSpec=dict(CS, Labels=None, Env=None))),
    body("empties", TaskTemplate=template(
        Placement={}, Resources={"Limits": {"MemoryBytes": 0}}, LogDriver={},
        ContainerSpec=dict(CS, Healthcheck={}, DNSConfig={"Nameservers": []}, Env=[], Mounts=[],
                           Labels={}, TTY=False, Hostname=""))),
    body("uc0", UpdateConfig={}, RollbackConfig={"Parallelism": 2}),
    body("uc1", UpdateConfig={"Parallelism": 2, "FailureAction": "", "Order": ""}),
    body("global", Mode={"Global": {}}),
    body("", Mode={"Replicated": {"Replicas": 0}}),
]

# Bodies both engines refuse, with the same status and text.
REFUSED = [
    body("dnsrring", EndpointSpec={"Mode": "dnsrr", "Ports": [{"TargetPort": 80}]}),
    body("badmode", EndpointSpec={"Mode": "bogus"}),
    body("nettgt", TaskTemplate=template(Networks=[{"Target": "nosuchnet"}])),
    body("ingress", TaskTemplate=template(Networks=[{"Target": "ingress"}])),
    body("twomodes", Mode={"Replicated": {"Replicas": 1}, "Global": {}}),
    body("bad name"),
    body("noimage", TaskTemplate={"ContainerSpec": {"Args": ["x"]}}),
]

TRUE = {"ContainerSpec": {"Image": "busybox:latest", "Args": ["true"]}}
JOBS = [
    body("rj", Mode={"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 4}},
         TaskTemplate=TRUE),
    body("rj0", Mode={"ReplicatedJob": {}}, TaskTemplate=TRUE),
    body("rj3", Mode={"ReplicatedJob": {"MaxConcurrent": 3}}, TaskTemplate=TRUE),
    body("rjt", Mode={"ReplicatedJob": {"TotalCompletions": 5}}, TaskTemplate=TRUE),
    body("gj", Mode={"GlobalJob": {}}, TaskTemplate=TRUE),
]


def settle(ref):
    """Until dockerd's services stop changing: its allocator fills Endpoint
    (VIPs, published ports) after the create call has returned."""
    def same():
        a = ref.request("GET", "/v1.41/services").body
        time.sleep(0.5)
        return a == ref.request("GET", "/v1.41/services").body
    wait_for(same, 15, "dockerd's allocator", interval=0)


def test_api_create_bodies_read_back_as_dockerd_stores_them(pair):
    """POST /services/create with every field CONTRACT.md §14 lists (and the
    corner cases of empty, null and defaulted members); the reply and both
    GETs (insertDefaults false and true) must match, then an update with the
    spec read back must keep it and set PreviousSpec."""
    created = []
    for b in ACCEPTED:
        replies = [e.request("POST", "/v1.41/services/create", body=b) for e, _ in pair.engines()]
        pair.diff("create %s" % json.dumps(b)[:200],
                  [(r.status, mask_json(r.json(), addr))
                   for r, (_, addr) in zip(replies, pair.engines())])
        assert replies[0].status == 201, (b["Name"], replies)
        created.append((b, replies))
    settle(pair.ref)
    for b, replies in created:
        for q in ("false", "true"):
            docs = [e.request("GET", "/v1.41/services/%s?insertDefaults=%s"
                              % (r.json()["ID"], q)).json()
                    for r, (e, _) in zip(replies, pair.engines())]
            if not b["Name"]:  # a generated name: Docker's adjective_surname
                for d in docs:
                    assert re.match(r"^[a-z]+_[a-z]+$", d["Spec"].pop("Name")), d
            pair.json_doc("%s?insertDefaults=%s" % (b["Name"] or "<noname>", q), docs)
    # An update posting back what was read keeps the spec; the old one
    # becomes PreviousSpec.
    for name in ("full", "autoport", "priv2"):
        docs = []
        for eng, _ in pair.engines():
            cur = eng.request("GET", "/v1.41/services/%s?insertDefaults=false" % name).json()
            r = eng.request("POST", "/v1.41/services/%s/update?version=%d"
                            % (name, cur["Version"]["Index"]), body=cur["Spec"])
            assert r.status == 200 and r.json() == {"Warnings": None}, r
            docs.append(eng.request("GET", "/v1.41/services/%s?insertDefaults=false"
                                    % name).json())
        a = pair.json_doc("%s after a no-op update" % name, docs)
        assert a["PreviousSpec"] == a["Spec"]
    for b in REFUSED:
        pair.api("POST", "/v1.41/services/create", body=b)
    pair.check()


def test_api_job_specs(pair):
    """Job modes are stored and normalized as dockerd does (their defaults:
    MaxConcurrent 1, TotalCompletions = MaxConcurrent)."""
    for b in JOBS:
        pair.api("POST", "/v1.41/services/create", body=b)
    settle(pair.ref)
    for b in JOBS:
        for q in ("false", "true"):
            docs = [e.request("GET", "/v1.41/services/%s?insertDefaults=%s"
                              % (b["Name"], q)).json()["Spec"] for e, _ in pair.engines()]
            pair.json_doc("%s?insertDefaults=%s Spec" % (b["Name"], q), docs)
    pair.check()


def test_api_jobs_run_to_completion(pair):
    for b in JOBS[:1] + JOBS[-1:]:
        pair.api("POST", "/v1.41/services/create", body=b)
    def completed(e, name):
        return len([t for t in list_tasks(e, name) if t["Status"]["State"] == "complete"])
    pair.both(lambda e: wait_for(lambda: completed(e, "rj") == 4 and completed(e, "gj") == 1,
                                 30, "4 + 1 completed tasks"))
    pair.cli(harness.CLI28, "service", "ls")
    for name in ("rj", "gj"):
        pair.api("GET", "/v1.41/services/%s?insertDefaults=false" % name)
        pair.api("GET", "/v1.41/tasks?" + harness.query({"service": [name]}), sort_key=slot_key)
        pair.cli(harness.CLI28, "service", "ps", name, sort=True)
    pair.check()


def test_api_task_documents(pair):
    """A task read back from GET /tasks has the service's TaskTemplate
    without Runtime, and the same status members."""
    b = copy.deepcopy(body("one", Mode={"Replicated": {"Replicas": 1}}))
    b["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] = S
    b["TaskTemplate"]["ContainerSpec"]["Env"] = ["X=1"]
    b["Labels"] = {"l": "v"}
    pair.api("POST", "/v1.41/services/create", body=b)
    pair.both(lambda e: wait_running(e, "one", 1))
    pair.api("GET", "/v1.41/tasks?" + harness.query({"service": ["one"]}))
    pair.api("GET", "/v1.41/tasks?" + harness.query({"label": ["l=v"]}))
    pair.api("GET", "/v1.41/tasks?" + harness.query({"desired-state": ["running"],
                                                      "service": ["one"]}))
    pair.check()


# ---- the Docker SDK for Python ---------------------------------------------------------

def update_settled(e, name, start_within=10):
    """The state an update of service name ends in, once it has ended;
    None when none starts within start_within seconds. (dockerd sets
    UpdateStatus when its updater starts, a moment after the request.)"""
    def status():
        return api_json(e, "GET", "/v1.41/services/" + name).get("UpdateStatus")
    try:
        wait_for(status, start_within, "an update of " + name, interval=0.2)
    except AssertionError:
        return None

    def ended():
        us = status()
        return us["State"] if us["State"] not in ("updating", "rollback_started") else None
    return wait_for(ended, 60, "the update of %s to end" % name, interval=0.2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sdk_create_scale_update(pair):
    """docker-py sends what the CLI does not: a lowercase ServiceMode key,
    RestartPolicy with every member, UpdateConfig with its own defaults, and
    (scale, update) the spec read back with insertDefaults=true. (No
    published port: dockerd's ingress tasks cannot start here.)"""
    import docker
    from docker.types import Healthcheck, Resources, RestartPolicy, ServiceMode, UpdateConfig

    def run(e):
        c = docker.DockerClient(base_url="unix://" + e.sock)
        try:
            svc = c.services.create(
                "busybox:latest", ["sleep", "1d"], name="sdk", labels={"a": "b"},
                mode=ServiceMode("replicated", replicas=1), env=["X=1"], stop_grace_period=S,
                container_labels={"c": "d"}, hosts={"db.example": "10.1.2.3"},
                healthcheck=Healthcheck(test=["CMD", "true"], interval=2 * S),
                restart_policy=RestartPolicy(condition="on-failure", delay=S, max_attempts=3),
                resources=Resources(mem_limit=64 * 1024 * 1024),
                update_config=UpdateConfig(parallelism=2, order="start-first"))
            first = wait_running(e, "sdk", 1)[0]["ID"]
            svc.reload()
            svc.scale(2)
            rolled = update_settled(e, "sdk")
            tasks = wait_running(e, "sdk", 2)
            svc.reload()
            svc.update(env=["X=2"])
            return rolled, first in [t["ID"] for t in tasks]
        finally:
            c.close()
    # The scale sends back the spec read with insertDefaults=true, which
    # adds DNSConfig and Placement to the template: dockerd takes that for
    # a new template and rolls slot 1 too.
    got = pair.both(run)
    pair.diff("an SDK scale's update (state), and slot 1 kept its task", got)
    for q in ("false", "true"):
        pair.api("GET", "/v1.41/services/sdk?insertDefaults=" + q)
    pair.check()
