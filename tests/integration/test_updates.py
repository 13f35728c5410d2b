"""Issue 6 on one swarmd node with both docker CLIs: rolling updates
(parallelism, delay, stop-first / start-first), automatic rollback,
`service rollback` without a previous spec, replicated jobs, placement on
node labels, impossible reservations, and healthchecks.

Every claim is read back from what the node records: task CreatedAt and
Status.Timestamp (the time of the task's last state change), task states,
UpdateStatus, and the containers containerd runs. Texts were checked
against dockerd 20.10.24 (SwarmKit).

One node (127.0.0.210) serves the module; each test removes its services
and waits until containerd holds nothing, as test_services.py does."""
import re
import threading
import time

import pytest

import harness
from harness import (CLIS, api_json, list_tasks, running_tasks, swarm_info,
                     wait_for, wait_running)
from test_services import SLEEP, create, gotime, ok, service

ADDR = "127.0.0.210"
PENDING_RESOURCES = "no suitable node (insufficient resources on 1 node)"
PENDING_CONSTRAINTS = "no suitable node (scheduling constraints not satisfied on 1 node)"
UNHEALTHY = "task: non-zero exit (137): dockerexec: unhealthy container"


@pytest.fixture(scope="module")
def node():
    c = harness.own_cluster("swarmd-upd.")
    node_id = None
    try:
        n = harness.swarm_node(c, ADDR)
        assert harness.swarm_init(n, ADDR).returncode == 0
        node_id = swarm_info(n)["NodeID"]
        n.node_id = node_id
        n.load_busybox()
        # A second name for the same image, so an update changes the image.
        ok(n.docker("tag", "busybox:latest", "busybox:v2"))
        yield n
        assert n.stop() == 0, n.logtext()
    finally:
        c.cleanup()
        harness.drop_cni_rules(node_id)


@pytest.fixture
def sw(node):
    yield node
    harness.check_node_after_test(node)


def image_of(t):
    return t["Spec"]["ContainerSpec"]["Image"]


def update_status(n, name):
    return service(n, name).get("UpdateStatus", {})


def batches(tasks, gap=1.0):
    """New tasks grouped by creation: a batch is a run of tasks created
    less than gap seconds after the previous one."""
    out = []
    for t in sorted(tasks, key=lambda t: gotime(t["CreatedAt"])):
        if out and gotime(t["CreatedAt"]) - gotime(out[-1][-1]["CreatedAt"]) < gap:
            out[-1].append(t)
        else:
            out.append([t])
    return out


class RunningSampler:
    """Counts the service's running tasks while an update runs (the
    minimum seen, and the maximum, for jobs)."""

    def __init__(self, n, name):
        self.n, self.name = n, name
        self.counts = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                ts = list_tasks(self.n, self.name)
            except AssertionError:  # the service is not created yet
                time.sleep(0.05)
                continue
            self.counts.append(len([t for t in ts if t["Status"]["State"] == "running"]))
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def roll(sw, cli, order):
    """6 replicas of busybox:latest updated to busybox:v2, 2 at a time, 2 s
    apart, with order; returns (old tasks, new tasks, sampler)."""
    create(sw, "--name", "web", "--replicas", "6", "--update-parallelism", "2",
           "--update-delay", "2s", "--update-order", order, *SLEEP, cli=cli)
    old = wait_running(sw, "web", 6)
    with RunningSampler(sw, "web") as sampler:
        p = sw.docker("service", "update", "--image", "busybox:v2", "web", cli=cli,
                      timeout=180)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout.splitlines()[-1].startswith("verify: Service "), p.stdout
    assert update_status(sw, "web")["State"] == "completed"
    tasks = list_tasks(sw, "web")
    new = [t for t in tasks if image_of(t) == "busybox:v2"]
    assert sorted(t["Slot"] for t in new) == [1, 2, 3, 4, 5, 6]
    assert all(t["Status"]["State"] == "running" for t in new), new
    by_id = {t["ID"]: t for t in tasks}
    old = [by_id[t["ID"]] for t in old]
    assert all(t["Status"]["State"] == "shutdown" for t in old), old
    return old, new, sampler


def assert_batches(new):
    """At most 2 new-spec tasks per batch; each batch starts at least the
    2 s delay after the previous batch ran."""
    bs = batches(new)
    assert [len(b) for b in bs] == [2, 2, 2], [[t["CreatedAt"] for t in b] for b in bs]
    for prev, nxt in zip(bs, bs[1:]):
        ran = max(gotime(t["Status"]["Timestamp"]) for t in prev)
        began = min(gotime(t["CreatedAt"]) for t in nxt)
        assert began - ran >= 2.0, (ran, began)


# ---- rolling updates ---------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_stop_first_update_replaces_two_at_a_time(sw, cli):
    old, new, _ = roll(sw, cli, "stop-first")
    assert_batches(new)
    # Stop-first: a slot's old task had stopped before its new one was made.
    for t in new:
        prev = [o for o in old if o["Slot"] == t["Slot"]][0]
        assert gotime(prev["Status"]["Timestamp"]) <= gotime(t["CreatedAt"]), (prev, t)


@pytest.mark.parametrize("cli", CLIS)
def test_start_first_update_keeps_every_replica_running(sw, cli):
    old, new, sampler = roll(sw, cli, "start-first")
    assert_batches(new)
    # Start-first: the old task stops only after its replacement runs, so
    # the running count never drops below 6 (sampled all along).
    for t in new:
        prev = [o for o in old if o["Slot"] == t["Slot"]][0]
        assert gotime(prev["Status"]["Timestamp"]) >= gotime(t["Status"]["Timestamp"]), (prev, t)
    assert len(sampler.counts) > 20 and min(sampler.counts) >= 6, sampler.counts


@pytest.mark.parametrize("cli", CLIS)
def test_failed_update_rolls_back_by_itself(sw, cli):
    svc_id = create(sw, "--name", "web", "--replicas", "2", "--update-failure-action", "rollback",
                    "--update-monitor", "3s", *SLEEP, cli=cli)
    wait_running(sw, "web", 2)
    before = service(sw, "web")["Spec"]
    p = sw.docker("service", "update", "-d", "--args", "sh -c 'exit 1'", "web", cli=cli)
    assert p.returncode == 0, p.stderr
    assert service(sw, "web")["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == \
        ["sh", "-c", "exit 1"]

    def rolled_back():
        us = update_status(sw, "web")
        return us if us.get("State") == "rollback_completed" else None
    us = wait_for(rolled_back, 60, "the automatic rollback to complete", interval=0.2)
    assert us["Message"] == "rollback completed"
    svc = service(sw, "web")
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"] == before["TaskTemplate"]["ContainerSpec"]
    assert svc["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Args"] == ["sh", "-c", "exit 1"]
    # The failed task is named in the rollback's cause, and failed as Docker says.
    failed = [t for t in list_tasks(sw, "web") if t["Status"]["State"] == "failed"]
    assert failed and all(t["Status"]["Err"] == "task: non-zero exit (1)" for t in failed)
    running = wait_running(sw, "web", 2)
    assert all(t["Spec"]["ContainerSpec"]["Args"] == ["sleep", "1d"] for t in running)
    assert service(sw, svc_id)["Spec"]["Name"] == "web"


@pytest.mark.parametrize("cli", CLIS)
def test_rollback_without_previous_spec_is_refused(sw, cli):
    svc_id = create(sw, "--name", "web", *SLEEP, cli=cli)
    p = sw.docker("service", "rollback", "web", cli=cli)
    assert p.returncode == 1
    assert p.stderr == ("Error response from daemon: rpc error: code = FailedPrecondition "
                        "desc = service %s does not have a previous spec\n" % svc_id), p.stderr
    svc = service(sw, "web")
    r = sw.request("POST", "/v1.41/services/%s/update?version=%d&rollback=previous"
                   % (svc_id, svc["Version"]["Index"]), body=svc["Spec"])
    assert r.status == 400, r
    assert r.json() == {"message": "rpc error: code = FailedPrecondition desc = service %s "
                                   "does not have a previous spec" % svc_id}


# ---- jobs ----------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_replicated_job_runs_five_completions_two_at_a_time(sw, cli):
    with RunningSampler(sw, "job") as sampler:
        p = sw.docker("service", "create", "--name", "job", "--mode", "replicated-job",
                      "--replicas", "5", "--max-concurrent", "2", "busybox", "sleep", "1",
                      cli=cli, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    tasks = list_tasks(sw, "job")
    assert [t["Status"]["State"] for t in tasks] == ["complete"] * 5, tasks
    # Job slots count from 0 (omitted from the JSON when 0, as Go does).
    assert sorted(t.get("Slot", 0) for t in tasks) == [0, 1, 2, 3, 4]
    # Each task lived from its creation to its completion; at no instant
    # did more than 2 of those spans overlap.
    edges = sorted([(gotime(t["CreatedAt"]), 1) for t in tasks] +
                   [(gotime(t["Status"]["Timestamp"]), -1) for t in tasks],
                   key=lambda e: (e[0], e[1]))
    live, most = 0, 0
    for _, d in edges:
        live += d
        most = max(most, live)
    assert most == 2, edges
    assert max(sampler.counts) <= 2, sampler.counts
    assert "JobIteration" in service(sw, "job")["JobStatus"]


# ---- placement -------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_constraints_on_node_labels(sw, cli):
    me = sw.node_id
    ok(sw.docker("node", "update", "--label-add", "zone=a", me, cli=cli))
    try:
        create(sw, "--name", "in-a", "--replicas", "2", "--constraint", "node.labels.zone==a",
               *SLEEP, cli=cli)
        create(sw, "--name", "in-b", "--constraint", "node.labels.zone == b", *SLEEP, cli=cli)
        assert {t["NodeID"] for t in wait_running(sw, "in-a", 2)} == {me}

        def pending():
            ts = list_tasks(sw, "in-b")
            return ts if ts and ts[0]["Status"].get("Err") == PENDING_CONSTRAINTS else None
        t = wait_for(pending, 20, "in-b pending")[0]
        assert t["Status"]["State"] == "pending" and "NodeID" not in t
        # Once the node carries the label the waiting task is placed.
        ok(sw.docker("node", "update", "--label-add", "zone=b", me, cli=cli))
        assert wait_running(sw, "in-b", 1)[0]["ID"] == t["ID"]
    finally:
        ok(sw.docker("node", "update", "--label-rm", "zone", me, cli=cli))


@pytest.mark.parametrize("cli", CLIS)
def test_impossible_reservation_stays_pending(sw, cli):
    create(sw, "--name", "big", "--replicas", "2", "--reserve-cpu", "4096", *SLEEP, cli=cli)

    def pending():
        ts = list_tasks(sw, "big")
        return ts if len(ts) == 2 and all(t["Status"].get("Err") for t in ts) else None
    for t in wait_for(pending, 20, "pending tasks with an error"):
        assert t["Status"]["State"] == "pending"
        assert t["Status"]["Err"] == PENDING_RESOURCES
        assert t["Status"]["Message"] == "pending task scheduling"
    out = ok(sw.docker("service", "ps", "--no-trunc", "big", cli=cli))
    assert out.count('"%s"' % PENDING_RESOURCES) == 2, out
    assert len(re.findall(r"\sPending [a-z0-9 ]+ ago\s", out)) == 2, out
    assert harness.live_containers(sw) == set()


def test_platform_filter(sw):
    """Placement.Platforms (the CLI fills it from an image's manifest, so
    this goes through the API): a node of another OS never gets the task,
    a matching one (x86_64 compares as amd64) does."""
    node = api_json(sw, "GET", "/v1.41/nodes/" + sw.node_id)
    arch = node["Description"]["Platform"]["Architecture"]

    def spec(name, platforms):
        return {"Name": name, "Mode": {"Replicated": {"Replicas": 1}},
                "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest",
                                                   "Args": ["sleep", "1d"],
                                                   "StopGracePeriod": 1000000000},
                                 "Placement": {"Platforms": platforms}}}
    api_json(sw, "POST", "/v1.41/services/create",
             spec("win", [{"OS": "windows", "Architecture": "amd64"}]), status=201)
    api_json(sw, "POST", "/v1.41/services/create",
             spec("lin", [{"OS": "windows"},
                          {"OS": "linux",
                           "Architecture": "amd64" if arch == "x86_64" else arch}]),
             status=201)
    wait_running(sw, "lin", 1)

    def pending():
        ts = list_tasks(sw, "win")
        return ts if ts and ts[0]["Status"].get("Err") else None
    t = wait_for(pending, 20, "win pending")[0]
    assert t["Status"]["State"] == "pending"
    assert t["Status"]["Err"] == "no suitable node (unsupported platform on 1 node)"


# ---- healthchecks ------------------------------------------------------------------

HEALTHY_FILE = ["--health-cmd", "test -e /tmp/ok", "--health-interval", "1s",
                "--health-timeout", "2s", "--health-retries", "2"]


@pytest.mark.parametrize("cli", CLIS)
def test_failing_healthcheck_replaces_the_task(sw, cli):
    create(sw, "--name", "hc", "--stop-grace-period", "1s", "--restart-delay", "1s",
           *HEALTHY_FILE, "busybox", "sh", "-c", "touch /tmp/ok; sleep 1d", cli=cli)
    first = wait_running(sw, "hc", 1)[0]
    cid = first["Status"]["ContainerStatus"]["ContainerID"]
    state = api_json(sw, "GET", "/v1.41/containers/%s/json" % cid)["State"]
    assert state["Health"]["Status"] == "healthy", state
    assert state["Health"]["FailingStreak"] == 0
    assert state["Health"]["Log"][-1]["ExitCode"] == 0
    ps = ok(sw.docker("ps", "--no-trunc", "--filter", "id=" + cid, "--format", "{{.Status}}", cli=cli))
    assert re.match(r"^Up .* \(healthy\)$", ps.strip()), ps

    ok(sw.docker("exec", cid, "rm", "/tmp/ok", cli=cli))

    # The agent reports the failure, then the orchestrator wants the task
    # shut down: two commits, as in SwarmKit, so both are waited for.
    def failed():
        t = api_json(sw, "GET", "/v1.41/tasks/" + first["ID"])
        return t if t["Status"]["State"] == "failed" and t["DesiredState"] == "shutdown" else None
    t = wait_for(failed, 30, "the unhealthy task to fail and be shut down", interval=0.2)
    assert t["Status"]["Err"] == UNHEALTHY
    new = wait_for(lambda: [x for x in running_tasks(sw, "hc") if x["ID"] != first["ID"]],
                   30, "a replacement task")[0]
    assert new["Slot"] == first["Slot"]


def test_task_with_a_healthcheck_runs_only_once_healthy(sw):
    """A healthcheck that never passes keeps the task "starting" until the
    retries run out; it never reports running."""
    create(sw, "--name", "never", "--stop-grace-period", "1s", "--restart-condition", "none",
           "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "2",
           *SLEEP[2:])
    seen = set()

    def ended():
        ts = list_tasks(sw, "never")
        seen.update(t["Status"]["State"] for t in ts)
        return ts if ts and ts[0]["Status"]["State"] == "failed" else None
    t = wait_for(ended, 30, "the never-healthy task to fail", interval=0.1)[0]
    assert "starting" in seen and "running" not in seen, seen
    assert t["Status"]["Err"] == UNHEALTHY
