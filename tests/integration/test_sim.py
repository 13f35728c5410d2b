"""The sim executor and the node simulator (issue 8): a real swarmd manager
running with `--executor sim` takes 20 simulated workers from swarmd-sim
over the real join flow and mTLS sessions, and schedules a 200-replica
service on them. Executor: sim (no containerd anywhere).

Addresses: 127.0.0.230 (the manager) and 127.0.0.231 (what the simulated
workers advertise; nothing listens there)."""
import json
import os
import subprocess

import harness

SIM = os.path.join(os.path.dirname(harness.SWARMD), "swarmd-sim")
MANAGER_ADDR = "127.0.0.230"
NODES = 20


def start_manager(cluster):
    n = cluster.node("mgr", containerd=os.path.join(cluster.root, "no-containerd.sock"),
                     extra_args=["--executor", "sim"])
    p = harness.swarm_init(n, MANAGER_ADDR)
    assert p.returncode == 0, p.stderr
    return n


def start_sim(cluster, manager, nodes):
    token = manager.docker("swarm", "join-token", "-q", "worker", check=True).stdout.strip()
    out = open(os.path.join(cluster.root, "sim.out"), "wb")
    err = open(os.path.join(cluster.root, "sim.err"), "wb")
    proc = subprocess.Popen([SIM, "--manager", MANAGER_ADDR + ":2377", "--token", token,
                             "--nodes", str(nodes), "--advertise-host", "127.0.0.231",
                             "--interval", "200"],
                            stdout=out, stderr=err, env=dict(os.environ, **harness.SANITIZER_ENV),
                            start_new_session=True)
    cluster.extra_pids.add(proc.pid)
    return proc


def last_stats(cluster):
    with open(os.path.join(cluster.root, "sim.out")) as f:
        lines = [line for line in f if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def ready_workers(manager):
    nodes = harness.api_json(manager, "GET", "/v1.41/nodes")
    return [n for n in nodes if n["Spec"]["Role"] == "worker" and n["Status"]["State"] == "ready"]


def test_sim_nodes_run_a_service(cluster):
    manager = start_manager(cluster)
    sim = start_sim(cluster, manager, NODES)
    workers = harness.wait_for(lambda: len(ready_workers(manager)) == NODES and ready_workers(manager),
                               60, "%d ready simulated workers" % NODES, interval=0.2)
    assert sorted(w["Description"]["Hostname"] for w in workers) == \
        ["sim-%05d" % i for i in range(1, NODES + 1)]

    p = manager.docker("node", "ls", check=True)
    lines = p.stdout.strip().splitlines()[1:]
    assert len(lines) == NODES + 1
    assert sum(" Ready " in line for line in lines) == NODES + 1

    p = manager.docker("service", "create", "-d", "--name", "web", "--replicas", "200",
                       "busybox", "sleep", "1d", check=True)
    harness.wait_for(lambda: len(harness.running_tasks(manager, "web")) == 200, 60,
                     "200 running tasks", interval=0.2)
    tasks = harness.running_tasks(manager, "web")
    on_sim = {t["NodeID"] for t in tasks} & {w["ID"] for w in workers}
    assert len(on_sim) == NODES  # spread over every simulated node
    stats = harness.wait_for(lambda: (lambda s: s if s.get("running", 0) >= 190 else None)(last_stats(cluster)),
                             10, "the simulator's RUNNING count")
    assert stats["joined"] == NODES and stats["up"] == NODES

    sim.terminate()
    assert sim.wait(30) == 0


def tasks_on(manager, service):
    """{node ID: number of running tasks of service}."""
    out = {}
    for t in harness.running_tasks(manager, service):
        out[t["NodeID"]] = out.get(t["NodeID"], 0) + 1
    return out


def test_node_changes_reach_the_services_they_concern(cluster):
    """A node's change reaches the services it concerns, now that a pass
    after it reads only those: the global ones (a node joins, is drained),
    those with tasks on it (drained), those waiting for a node (a label
    makes it fit)."""
    manager = start_manager(cluster)
    mid = harness.api_json(manager, "GET", "/v1.41/info")["Swarm"]["NodeID"]
    manager.docker("service", "create", "-d", "--name", "g", "--mode", "global",
                   "busybox", "sleep", "1d", check=True)
    manager.docker("service", "create", "-d", "--name", "pinned", "--replicas", "2",
                   "--constraint", "node.labels.zone==blue", "busybox", "sleep", "1d",
                   check=True)
    harness.wait_for(lambda: tasks_on(manager, "g") == {mid: 1}, 30, "g on the manager")
    nodes = 6
    start_sim(cluster, manager, nodes)
    workers = harness.wait_for(lambda: len(ready_workers(manager)) == nodes and ready_workers(manager),
                               60, "%d ready simulated workers" % nodes, interval=0.2)
    wids = sorted(w["ID"] for w in workers)
    # Every node that joined got the global service's task.
    harness.wait_for(lambda: tasks_on(manager, "g") == dict({w: 1 for w in wids}, **{mid: 1}),
                     30, "g on every node", interval=0.2)
    # Nothing fits the pinned service yet: its tasks wait, saying why.
    pinned = [t for t in harness.list_tasks(manager, "pinned") if t["DesiredState"] == "running"]
    assert len(pinned) == 2 and all(t["Status"]["State"] == "pending" for t in pinned), pinned
    assert all("no suitable node" in t["Status"].get("Err", "") for t in pinned), pinned

    manager.docker("service", "create", "-d", "--name", "web", "--replicas", "14",
                   "busybox", "sleep", "1d", check=True)
    harness.wait_for(lambda: sum(tasks_on(manager, "web").values()) == 14, 30,
                     "14 running tasks of web", interval=0.2)
    # A label makes one node fit: the waiting tasks go there.
    blue = wids[0]
    manager.docker("node", "update", "--label-add", "zone=blue", blue, check=True)
    harness.wait_for(lambda: tasks_on(manager, "pinned") == {blue: 2}, 30,
                     "pinned on the labelled node", interval=0.2)
    # A drained node's tasks move; the global task there stops.
    drained = max((n for n in wids if n != blue), key=lambda n: tasks_on(manager, "web").get(n, 0))
    assert tasks_on(manager, "web").get(drained, 0) > 0
    manager.docker("node", "update", "--availability", "drain", drained, check=True)

    def moved():
        web = tasks_on(manager, "web")
        return sum(web.values()) == 14 and drained not in web and \
            drained not in tasks_on(manager, "g") and len(tasks_on(manager, "g")) == nodes
    harness.wait_for(moved, 30, "web off the drained node, g on the other nodes", interval=0.2)
    # The pinned tasks and the other nodes' tasks stayed where they were.
    assert tasks_on(manager, "pinned") == {blue: 2}
