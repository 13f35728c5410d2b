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
