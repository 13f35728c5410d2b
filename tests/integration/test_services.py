"""Services on one swarmd node, run as real containers in containerd: the
CLI's service create/ls/ps/inspect/scale/logs/rm with both docker CLIs,
restarts of failed tasks, a published port, the node-local bridge between
tasks, and the adoption of running tasks after swarmd is killed.

One node (its own 127.0.0.x) serves the whole module; every test removes
its services and waits until containerd holds no container and no pod, so
each test starts from an empty node. Outputs were checked against dockerd
20.10.24 (test_services_fidelity.py diffs them side by side)."""
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timezone

import pytest

import harness
from harness import (CLIS, HOSTNAME, REGISTRY_WARNING, SWARM_ID_RE, api_json,
                     ctr_processes, live_containers, list_tasks, running_tasks,
                     swarm_info, task_dirs, wait_for, wait_running)

ADDR = "127.0.0.141"
PORT = 18437
LS_HEADER = ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
PS_HEADER = ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR",
             "PORTS"]
AGO = r"(\d+ seconds?|less than a second|About a minute)"
SLEEP = ["--stop-grace-period", "1s", "busybox", "sleep", "1d"]
S = 1000000000


@pytest.fixture(scope="module")
def swarm():
    c = harness.own_cluster("swarmd-svc.")
    node_id = None
    try:
        n = harness.swarm_node(c, ADDR)
        assert harness.swarm_init(n, ADDR).returncode == 0
        node_id = swarm_info(n)["NodeID"]
        n.load_busybox()
        yield n
        assert n.stop() == 0, n.logtext()
    finally:
        c.cleanup()
        harness.drop_cni_rules(node_id)


@pytest.fixture
def sw(swarm):
    """The module's node; afterwards no service, container or pod is left
    (what is, fails this test once and is then ignored by the others)."""
    yield swarm
    harness.check_node_after_test(swarm)


def ok(p):
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout


def create(n, *args, cli=harness.CLI28):
    """`service create -d`; returns the service ID."""
    p = n.docker("service", "create", "-d", *args, cli=cli)
    out = ok(p).strip()
    assert SWARM_ID_RE.match(out), out
    return out


def columns(line):
    return re.split(r"\s{2,}", line.strip())


def table(out, header):
    """Rows of a CLI table (lists of columns) after checking its header."""
    lines = out.splitlines()
    assert columns(lines[0]) == header, lines[0]
    return [columns(line) for line in lines[1:]]


def ls_row(n, name, cli):
    rows = [r for r in table(ok(n.docker("service", "ls", cli=cli)), LS_HEADER) if r[1] == name]
    assert len(rows) == 1, rows
    return rows[0]


def service(n, name, defaults=False):
    return api_json(n, "GET", "/v1.41/services/%s?insertDefaults=%s" % (name, defaults))


def gotime(ts):
    """A Go RFC 3339 timestamp (nanoseconds) as a POSIX time."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", ts)
    assert m, ts
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return base.timestamp() + float("0." + (m.group(2) or "0"))


def converged_output(out, svc_id, replicas, cli, first=None):
    """What the CLI prints while it waits for convergence (no TTY): the ID
    (or first, e.g. `web scaled to 10`), progress lines, the stability
    window, the verdict (CLI 20.10 names no service there)."""
    lines = out.splitlines()
    assert lines[0] == (first or svc_id), out
    assert "overall progress: %d out of %d tasks" % (replicas, replicas) in lines, out
    assert any(re.match(r"^verify: Waiting \d seconds? to verify that tasks are stable\.\.\.$",
                        line) for line in lines), out
    assert lines[-1] == converged(svc_id, cli), out


def converged(ref, cli):
    """The last line: CLI 28 names the service as it was given (the ID
    create printed, or the name given to scale)."""
    return "verify: Service %sconverged" % (ref + " " if cli == harness.CLI28 else "")


def containers_of(tasks):
    return {t["Status"]["ContainerStatus"]["ContainerID"] for t in tasks}


def assert_running_in_containerd(n, tasks):
    """Each task's container runs in containerd under the PID swarmd reports,
    and the node has exactly these containers and one pod per task."""
    procs = ctr_processes(n)
    for t in tasks:
        cs = t["Status"]["ContainerStatus"]
        assert procs.get(cs["ContainerID"]) == (cs["PID"], "RUNNING"), (t, procs)
        assert os.path.exists("/proc/%d" % cs["PID"])
    assert live_containers(n) == containers_of(tasks)
    assert len(live_containers(n, "sandbox")) == len(tasks)


# ---- create, inspect, ls, ps -------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_create_converges_and_runs_containers(sw, cli):
    p = sw.docker("service", "create", "--name", "web", "--replicas", "4", *SLEEP, cli=cli)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stderr == REGISTRY_WARNING.format("busybox:latest")
    svc = service(sw, "web")
    converged_output(p.stdout, svc["ID"], 4, cli)

    tasks = running_tasks(sw, "web")
    assert sorted(t["Slot"] for t in tasks) == [1, 2, 3, 4]
    assert_running_in_containerd(sw, tasks)

    # service ls: REPLICAS 4/4, the image as the CLI normalized it.
    row = ls_row(sw, "web", cli)
    assert row == [svc["ID"][:12], "web", "replicated", "4/4", "busybox:latest"]

    # service ps: web.1..web.4 on this node, running.
    rows = table(ok(sw.docker("service", "ps", "web", cli=cli)), PS_HEADER)
    by_slot = {t["Slot"]: t for t in tasks}
    assert [r[1] for r in rows] == ["web.1", "web.2", "web.3", "web.4"]
    for r in rows:
        slot = int(r[1].split(".")[1])
        assert r[0] == by_slot[slot]["ID"][:12]
        assert r[2:5] == ["busybox:latest", HOSTNAME, "Running"]
        assert re.match("^Running %s ago$" % AGO, r[5]), r
        assert len(r) == 6, r  # no ERROR, no PORTS
    # --no-trunc shows whole task IDs.
    rows = table(ok(sw.docker("service", "ps", "--no-trunc", "web", cli=cli)), PS_HEADER)
    assert sorted(r[0] for r in rows) == sorted(t["ID"] for t in tasks)

    # service inspect asks for insertDefaults=true; the stored spec has none.
    out = ok(sw.docker("service", "inspect", "web", cli=cli))
    spec = json.loads(out)[0]["Spec"]
    tt = spec["TaskTemplate"]
    assert tt["ContainerSpec"]["StopGracePeriod"] == S  # as given, not the default
    assert tt["ContainerSpec"]["Args"] == ["sleep", "1d"]
    assert tt["RestartPolicy"] == {"Condition": "any", "Delay": 5 * S, "MaxAttempts": 0}
    defaults = {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5 * S,
                "MaxFailureRatio": 0, "Order": "stop-first"}
    assert spec["UpdateConfig"] == defaults and spec["RollbackConfig"] == defaults
    raw = svc["Spec"]
    assert "RestartPolicy" not in raw["TaskTemplate"] and "UpdateConfig" not in raw
    assert raw["Mode"] == {"Replicated": {"Replicas": 4}}
    assert svc["Endpoint"] == {"Spec": {}}


@pytest.mark.parametrize("cli", CLIS)
def test_global_service_runs_one_task_on_the_node(sw, cli):
    p = sw.docker("service", "create", "--mode", "global", "--name", "glob", *SLEEP, cli=cli)
    assert p.returncode == 0, (p.stdout, p.stderr)
    svc = service(sw, "glob")
    lines = p.stdout.splitlines()
    assert lines[0] == svc["ID"] and lines[-1] == converged(svc["ID"], cli)
    node_id = swarm_info(sw)["NodeID"]
    tasks = list_tasks(sw, "glob")
    assert len(tasks) == 1
    t = tasks[0]
    assert "Slot" not in t and t["NodeID"] == node_id
    assert (t["DesiredState"], t["Status"]["State"]) == ("running", "running")
    assert_running_in_containerd(sw, tasks)
    assert ls_row(sw, "glob", cli) == [svc["ID"][:12], "glob", "global", "1/1", "busybox:latest"]
    rows = table(ok(sw.docker("service", "ps", "glob", cli=cli)), PS_HEADER)
    assert [r[:5] for r in rows] == [[t["ID"][:12], "glob." + node_id, "busybox:latest",
                                      HOSTNAME, "Running"]]


# ---- ports -----------------------------------------------------------------

def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


@pytest.mark.parametrize("cli", CLIS)
def test_published_port_answers_on_the_host(sw, cli):
    p = sw.docker("service", "create", "--name", "pub", "--publish", "%d:80" % PORT,
                  "--stop-grace-period", "1s", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
                  cli=cli)
    assert p.returncode == 0, (p.stdout, p.stderr)
    svc = service(sw, "pub")
    port = {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": PORT, "PublishMode": "ingress"}
    assert svc["Endpoint"]["Ports"] == [port]
    assert svc["Spec"]["EndpointSpec"] == {"Mode": "vip", "Ports": [port]}
    assert ls_row(sw, "pub", cli) == [svc["ID"][:12], "pub", "replicated", "1/1",
                                      "busybox:latest", "*:%d->80/tcp" % PORT]
    body = wait_for(lambda: http_get("http://127.0.0.1:%d/passwd" % PORT), 10,
                    "an answer on port %d" % PORT)
    assert body.startswith("root:x:0:0:root:/root:/bin/sh\n"), body
    # Each publishing service has its own VIP on the ingress network (.1 is
    # the gateway, .2 the node's own attachment).
    create(sw, "--name", "pub2", "--publish", "%d:80" % (PORT + 1), *SLEEP, cli=cli)
    vips = [service(sw, n)["Endpoint"]["VirtualIPs"] for n in ("pub", "pub2")]
    ingress = api_json(sw, "GET", "/v1.41/networks/ingress")["Id"]
    assert [[v["NetworkID"] for v in x] for x in vips] == [[ingress], [ingress]]
    addrs = [x[0]["Addr"] for x in vips]
    assert addrs[0] != addrs[1] and all(re.match(r"^10\.0\.0\.([3-9]|\d\d+)/24$", a)
                                        for a in addrs), addrs
    ok(sw.docker("service", "rm", "pub", cli=cli))
    wait_for(lambda: http_get("http://127.0.0.1:%d/passwd" % PORT) is None, 15,
             "port %d to close" % PORT)


# ---- scale -------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_scale_up_and_down(sw, cli):
    create(sw, "--name", "web", "--replicas", "2", *SLEEP, cli=cli)
    wait_running(sw, "web", 2)
    p = sw.docker("service", "scale", "web=10", cli=cli)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stderr == ""
    converged_output(p.stdout, "web", 10, cli, first="web scaled to 10")
    tasks = running_tasks(sw, "web")
    assert sorted(t["Slot"] for t in tasks) == list(range(1, 11))
    assert_running_in_containerd(sw, tasks)
    assert ls_row(sw, "web", cli)[3] == "10/10"
    before = containers_of(tasks)
    keep = containers_of([t for t in tasks if t["Slot"] <= 2])

    p = sw.docker("service", "scale", "web=2", cli=cli)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout.startswith("web scaled to 2\n"), p.stdout
    assert p.stdout.splitlines()[-1] == converged("web", cli)
    # The 8 containers of slots 3..10 go (after the 1 s stop grace), with
    # their pods; slots 1 and 2 keep theirs.
    wait_for(lambda: live_containers(sw) == keep and len(live_containers(sw, "sandbox")) == 2,
             20, "8 containers to be removed")
    assert len(before - live_containers(sw)) == 8
    tasks = running_tasks(sw, "web")
    assert sorted(t["Slot"] for t in tasks) == [1, 2]
    assert ls_row(sw, "web", cli)[3] == "2/2"


# ---- failures ----------------------------------------------------------------

def test_killed_task_fails_and_is_replaced_after_the_restart_delay(sw):
    create(sw, "--name", "crash", *SLEEP)
    old = wait_running(sw, "crash", 1)[0]
    pid = old["Status"]["ContainerStatus"]["PID"]
    cid = old["Status"]["ContainerStatus"]["ContainerID"]
    assert ctr_processes(sw)[cid] == (pid, "RUNNING")
    os.kill(pid, signal.SIGKILL)

    def failed():
        t = api_json(sw, "GET", "/v1.41/tasks/" + old["ID"])
        return t if (t["Status"]["State"], t["DesiredState"]) == ("failed", "shutdown") else None
    t = wait_for(failed, 10, "the task to fail")
    assert t["Status"]["Err"] == "task: non-zero exit (137)"
    assert t["Status"]["ContainerStatus"]["ExitCode"] == 137
    new = wait_for(lambda: [x for x in running_tasks(sw, "crash") if x["ID"] != old["ID"]],
                   20, "a replacement task")[0]
    assert new["Slot"] == 1
    assert new["Status"]["ContainerStatus"]["ContainerID"] != cid
    # Restart condition any, default delay 5 s between failure and restart.
    delay = gotime(new["Status"]["Timestamp"]) - gotime(t["Status"]["Timestamp"])
    assert 4.5 <= delay <= 10, delay
    assert live_containers(sw) >= {new["Status"]["ContainerStatus"]["ContainerID"]}

    for cli in CLIS:
        rows = table(ok(sw.docker("service", "ps", "crash", cli=cli)), PS_HEADER)
        assert [r[:5] for r in rows] == [
            [new["ID"][:12], "crash.1", "busybox:latest", HOSTNAME, "Running"],
            [old["ID"][:12], "\\_ crash.1", "busybox:latest", HOSTNAME, "Shutdown"]], rows
        assert re.match("^Failed %s ago$" % AGO, rows[1][5]), rows
        assert rows[1][6] == '"task: non-zero exit (137)"', rows


def test_restarts_held_back_by_the_window_resume_when_it_passes(sw):
    """MaxAttempts 1 within a 6 s Window: the first failure is restarted
    after the 1 s delay, the second is held back until the first leaves
    the window; nothing else happens meanwhile that could wake the
    orchestrator up."""
    create(sw, "--name", "flap", "--restart-delay", "1s", "--restart-max-attempts", "1",
           "--restart-window", "6s", "busybox", "sh", "-c", "exit 3")

    def three():
        ts = sorted(list_tasks(sw, "flap"), key=lambda t: gotime(t["CreatedAt"]))
        return ts if len(ts) >= 3 else None
    first, second, third = wait_for(three, 30, "a third task of flap")[:3]
    second = api_json(sw, "GET", "/v1.41/tasks/" + second["ID"])
    assert second["Status"]["State"] == "failed", second["Status"]
    held = gotime(third["CreatedAt"]) - gotime(second["Status"]["Timestamp"])
    # The first failure left the window 6 s after it; the second came
    # about 1.5 s after the first.
    assert held >= 2.5, held
    ok(sw.docker("service", "rm", "flap"))
    wait_for(lambda: live_containers(sw) == set(), 20, "flap's containers gone")


@pytest.mark.parametrize("cli", CLIS)
def test_missing_image_rejects_tasks_and_the_service_stays(sw, cli):
    svc_id = create(sw, "--name", "bad", "nosuchimage:v1", cli=cli)

    def rejected():
        return [t for t in list_tasks(sw, "bad") if t["Status"]["State"] == "rejected"]
    t = wait_for(rejected, 20, "a rejected task")[0]
    assert t["Status"]["Err"] == "No such image: nosuchimage:v1"
    assert t["Status"]["Message"] == "preparing"
    assert t["Spec"]["ContainerSpec"]["Image"] == "nosuchimage:v1"
    rows = table(ok(sw.docker("service", "ps", "--no-trunc", "bad", cli=cli)), PS_HEADER)
    row = [r for r in rows if r[0] == t["ID"]]
    assert len(row) == 1, rows
    assert row[0][2:4] == ["nosuchimage:v1", HOSTNAME]
    assert re.match("^Rejected %s ago$" % AGO, row[0][5]), row
    assert row[0][6] == '"No such image: nosuchimage:v1"', row
    # The service stays, retrying; nothing runs.
    assert service(sw, "bad")["ID"] == svc_id
    assert ls_row(sw, "bad", cli) == [svc_id[:12], "bad", "replicated", "0/1", "nosuchimage:v1"]
    assert live_containers(sw) == set()


@pytest.mark.parametrize("cli", CLIS)
def test_create_without_detach_shows_the_task_error(sw, cli):
    """Without -d the CLI waits forever on a missing image, printing the
    task error; Ctrl-C leaves the service running."""
    env = dict(os.environ, DOCKER_HOST="unix://" + sw.sock, DOCKER_CONFIG=sw.docker_config)
    p = subprocess.Popen([cli, "service", "create", "--name", "bad", "nosuchimage:v1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()
    seen = []
    try:
        end = time.time() + 20
        while time.time() < end and not any("No such image: nosuchimage:v1" in x for x in seen):
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        assert any(re.match(r"^1/1: No such image: nosuchimage:v1\s*$", x) for x in seen), seen
        p.send_signal(signal.SIGINT)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert service(sw, "bad")["Spec"]["Name"] == "bad"


# ---- logs --------------------------------------------------------------------

LOG_SCRIPT = ("echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2; i=0; "
              "while sleep 1; do i=$((i+1)); echo tick-$i; done")


def log_lines(text, prefixes):
    """{task slot: [messages]} of CLI log output, checking every prefix."""
    got = {}
    for line in text.splitlines():
        pre, sep, msg = line.partition("    | ")
        assert sep and pre in prefixes, line
        got.setdefault(prefixes[pre], []).append(msg)
    return got


@pytest.mark.parametrize("cli", CLIS)
def test_logs(sw, cli):
    create(sw, "--name", "lg", "--replicas", "2", "--stop-grace-period", "1s", "busybox",
           "sh", "-c", LOG_SCRIPT, cli=cli)
    tasks = wait_running(sw, "lg", 2)
    prefixes = {"lg.%d.%s@%s" % (t["Slot"], t["ID"][:12], HOSTNAME): t["Slot"] for t in tasks}

    def ticked():
        p = sw.docker("service", "logs", "lg", cli=cli)
        assert p.returncode == 0, p.stderr
        out = log_lines(p.stdout, prefixes)
        return p if all("tick-2" in out.get(s, []) for s in (1, 2)) else None
    p = wait_for(ticked, 20, "two ticks per task", interval=0.5)
    out, err = log_lines(p.stdout, prefixes), log_lines(p.stderr, prefixes)
    for slot in (1, 2):
        n = len(out[slot]) - 2
        assert out[slot] == ["out-1", "out-2"] + ["tick-%d" % i for i in range(1, n + 1)]
        assert err[slot] == ["err-1", "err-2"]

    # --tail counts per task: the last line of each.
    p = sw.docker("service", "logs", "--tail", "1", "lg", cli=cli)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    tail = log_lines(p.stdout, prefixes)
    assert sorted(tail) == [1, 2] and all(len(v) == 1 and v[0].startswith("tick-")
                                          for v in tail.values()), tail

    # --timestamps puts the line's time before the prefix.
    p = sw.docker("service", "logs", "--timestamps", "lg", cli=cli)
    assert p.returncode == 0, p.stderr
    created = gotime(service(sw, "lg")["CreatedAt"])
    for line in p.stdout.splitlines() + p.stderr.splitlines():
        ts, _, rest = line.partition(" ")
        assert created - 1 < gotime(ts) < time.time() + 1, line
        assert rest.split("    | ")[0] in prefixes, line

    # --no-task-ids drops the task ID from the prefix.
    p = sw.docker("service", "logs", "--no-task-ids", "lg", cli=cli)
    assert p.returncode == 0, p.stderr
    assert {line.partition("    | ")[0] for line in p.stdout.splitlines()} == \
        {"lg.1@" + HOSTNAME, "lg.2@" + HOSTNAME}

    # --follow streams lines written after the call.
    last = {s: int(v[-1].split("-")[1]) for s, v in tail.items()}
    env = dict(os.environ, DOCKER_HOST="unix://" + sw.sock, DOCKER_CONFIG=sw.docker_config)
    f = subprocess.Popen([cli, "service", "logs", "--follow", "lg"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in f.stdout], daemon=True).start()
    newer = {1: set(), 2: set()}
    try:
        end = time.time() + 15
        while time.time() < end and not all(len(v) >= 2 for v in newer.values()):
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            slot, msg = log_lines(line, prefixes).popitem()
            if msg[0].startswith("tick-") and int(msg[0].split("-")[1]) > last[slot]:
                newer[slot].add(msg[0])
        assert all(len(v) >= 2 for v in newer.values()), newer
        assert f.poll() is None  # still streaming
    finally:
        f.terminate()
        f.wait(10)


# ---- networking --------------------------------------------------------------

def logged_ipv4(n, name):
    """The eth0 address a task of service name printed (`ip -4 addr`)."""
    def find():
        p = n.docker("service", "logs", "--raw", name)
        m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/(\d+)", p.stdout)
        return m.groups() if m else None
    return wait_for(find, 15, "the address of " + name, interval=0.3)


def test_tasks_reach_each_other_over_the_node_bridge(sw):
    create(sw, "--name", "srv", "--stop-grace-period", "1s", "busybox", "sh", "-c",
           "ip -4 addr show eth0; exec httpd -f -v -p 8000 -h /etc")
    srv_ip, prefix = logged_ipv4(sw, "srv")
    # (nc, not wget: the static busybox's wget crashes in the test image.)
    create(sw, "--name", "cli", "--stop-grace-period", "1s", "busybox", "sh", "-c",
           "ip -4 addr show eth0; while true; do printf 'GET /passwd HTTP/1.0\\r\\n\\r\\n' "
           "| nc %s 8000; sleep 1; done" % srv_ip)
    cli_ip, cli_prefix = logged_ipv4(sw, "cli")
    assert cli_ip != srv_ip and cli_prefix == prefix == "24"
    assert cli_ip.rsplit(".", 1)[0] == srv_ip.rsplit(".", 1)[0]  # one node bridge
    assert "Networks" not in service(sw, "cli")["Spec"]["TaskTemplate"]
    wait_for(lambda: "root:x:0:0:root:/root:/bin/sh" in
             sw.docker("service", "logs", "--raw", "cli").stdout, 15, "the client's fetch",
             interval=0.3)
    # httpd -v logs the peer: the client's own bridge address, no NAT.
    wait_for(lambda: cli_ip in sw.docker("service", "logs", "--raw", "srv").stderr, 10,
             "the server to log the client", interval=0.3)


# ---- removal and restarts ------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_rm_leaves_nothing_behind(sw, cli):
    create(sw, "--name", "gone", "--replicas", "3", *SLEEP, cli=cli)
    tasks = wait_running(sw, "gone", 3)
    ids = {t["ID"] for t in tasks}
    assert_running_in_containerd(sw, tasks)
    assert ids <= task_dirs(sw)
    assert all(os.path.exists(os.path.join(sw.data_root, "tasks", i, "container.log"))
               for i in ids)
    pods = live_containers(sw, "sandbox")
    ctd_log = os.path.join(sw.data_root, "containerd", "containerd.log")
    log_from = os.path.getsize(ctd_log)
    p = sw.docker("service", "rm", "gone", cli=cli)
    assert (p.returncode, p.stdout, p.stderr) == (0, "gone\n", "")
    r = sw.request("GET", "/v1.41/services/gone")
    assert harness.api_error(r) == (404, "service gone not found")
    harness.wait_node_empty(sw, 30)
    wait_for(lambda: not (ids & task_dirs(sw)), 10, "the task directories to go")
    assert ctr_processes(sw) == {}
    assert [t for t in list_tasks(sw) if t["ID"] in ids] == []
    # Each container is stopped once, and each pod's network torn down
    # once (by RemovePodSandbox: the stop leaves the pod to the removal).
    with open(ctd_log, "rb") as f:
        f.seek(log_from)
        log = f.read().decode(errors="replace")
    assert {c: log.count('StopContainer for \\"%s\\" with' % c)
            for c in containers_of(tasks)} == {c: 1 for c in containers_of(tasks)}, log[-4000:]
    assert {p: log.count('TearDown network for sandbox \\"%s\\"' % p) for p in pods} == \
        {p: 1 for p in pods}, log[-4000:]


def test_restart_after_kill9_adopts_running_tasks(sw):
    create(sw, "--name", "keep", "--replicas", "2", *SLEEP)
    before = wait_running(sw, "keep", 2)
    procs = ctr_processes(sw)
    harness.restart_node(sw, kill9=True)
    harness.wait_swarm_leader(sw)
    time.sleep(3)  # the agent had time to look at what runs
    for _ in range(2):
        after = sorted(list_tasks(sw, "keep"), key=lambda t: t["Slot"])
        assert [t["ID"] for t in after] == [t["ID"] for t in before]  # no new task
        for a, b in zip(after, before):
            assert (a["DesiredState"], a["Status"]["State"]) == ("running", "running"), a
            assert a["Status"]["ContainerStatus"] == b["Status"]["ContainerStatus"]
        assert live_containers(sw) == containers_of(before)
        assert len(live_containers(sw, "sandbox")) == 2
        assert {c: procs[c] for c in containers_of(before)} == \
            {c: p for c, p in ctr_processes(sw).items() if c in containers_of(before)}
        time.sleep(2)
    rows = table(ok(sw.docker("service", "ps", "keep")), PS_HEADER)
    assert [r[1] for r in rows] == ["keep.1", "keep.2"]


@contextlib.contextmanager
def own_node(cluster, addr):
    """A swarm of one node of the test's own at addr, with busybox loaded;
    stopped and its CNI rules dropped afterwards."""
    n = harness.swarm_node(cluster, addr)
    assert harness.swarm_init(n, n.addr).returncode == 0
    node_id = swarm_info(n)["NodeID"]
    n.load_busybox()
    try:
        yield n
    finally:
        n.stop()
        harness.drop_cni_rules(node_id)


def test_rm_of_a_running_job_stops_its_tasks(cluster):
    """On a node of its own: what a failure here leaks would break the
    module's node."""
    with own_node(cluster, "127.0.0.143") as n:
        create(n, "--name", "job", "--mode", "replicated-job", "--max-concurrent", "2",
               "--replicas", "2", *SLEEP)
        wait_for(lambda: len([t for t in list_tasks(n, "job")
                              if t["Status"]["State"] == "running"]) == 2, 30,
                 "2 running job tasks")
        ok(n.docker("service", "rm", "job"))
        harness.wait_node_empty(n, 20)
        assert list_tasks(n) == []


# `sleep` as PID 1 ignores SIGTERM: its stop sits out the whole grace period.
SLOW_STOP = ["--stop-grace-period", "4s", "busybox", "sleep", "1d"]


def test_leave_removes_task_containers_before_answering(cluster):
    """As Docker's daemon, `swarm leave --force` answers once the node's
    task containers are removed, even those whose stop (`service rm` just
    before) is still running: a daemon stopped right after the answer
    leaves none behind."""
    with own_node(cluster, "127.0.0.144") as n:
        create(n, "--name", "stay", "--replicas", "4", *SLOW_STOP)
        create(n, "--name", "going", "--replicas", "4", *SLOW_STOP)
        wait_running(n, "stay", 4)
        wait_running(n, "going", 4)
        assert len(harness.cri_containers(n)) == 8
        ok(n.docker("service", "rm", "going"))
        assert ok(n.docker("swarm", "leave", "--force")) == "Node left the swarm.\n"
        left = (harness.cri_containers(n), harness.cri_containers(n, "sandbox"),
                ctr_processes(n))
        assert left == (set(), set(), {}), left


def test_stop_during_leave_finishes_it(cluster):
    """SIGTERM while a leave still removes task containers: the daemon waits
    for the removal, exits 0 (it aborted: the stop's callback data replaced
    the leave's, and the leave's answer was written into the daemon's event
    loop) and left the swarm."""
    with own_node(cluster, "127.0.0.144") as n:
        create(n, "--name", "going", "--replicas", "2", *SLOW_STOP)
        wait_running(n, "going", 2)
        ok(n.docker("service", "rm", "going"))
        leave = {}
        t = threading.Thread(target=lambda: leave.setdefault(
            "p", n.docker("swarm", "leave", "--force")))
        t.start()
        time.sleep(1)
        assert n.stop() == 0
        t.join()
        assert leave["p"].returncode in (0, 1), leave["p"]
        n.start()
        assert swarm_info(n)["LocalNodeState"] == "inactive"
        assert (harness.cri_containers(n), harness.cri_containers(n, "sandbox")) == \
            (set(), set())
