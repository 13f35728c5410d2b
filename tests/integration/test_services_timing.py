"""How long a service takes from create to all its replicas RUNNING, on
swarmd and on the reference dockerd 20.10 in the same run, for 4 and 50
replicas of `busybox sleep 1d`. The create is a raw POST /services/create
(no CLI, no registry lookup); GET /tasks is polled every 50 ms. The figures
are printed, not asserted (the machine is shared); the test only requires
that both engines converge. Run it alone with -s to see them:

    SWARMD_BIN=... python3 -m pytest -s tests/integration/test_services_timing.py
"""
import time

import pytest

import harness
from harness import RefDockerd, api_json, list_tasks, wait_for

SWARMD_ADDR = "127.0.0.181"
REF_ADDR = "127.0.0.191"
POLL = 0.05
S = 1000000000


def spec(name, replicas):
    return {"Name": name, "Mode": {"Replicated": {"Replicas": replicas}},
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest", "Args": ["sleep", "1d"],
                                               "StopGracePeriod": S}}}


def time_to_running(engine, name, replicas, timeout=180):
    """Seconds from the create request to `replicas` running tasks."""
    t0 = time.monotonic()
    api_json(engine, "POST", "/v1.41/services/create", spec(name, replicas), status=201)
    end = t0 + timeout
    while time.monotonic() < end:
        n = sum(1 for t in list_tasks(engine, name)
                if t["DesiredState"] == "running" and t["Status"]["State"] == "running")
        if n == replicas:
            return time.monotonic() - t0
        time.sleep(POLL)
    raise AssertionError("%s: %d replicas not running after %ss" % (name, replicas, timeout))


def remove_and_wait(engine, name, gone):
    """Removes the service and waits until its tasks are gone and nothing
    of it runs, so the next measurement starts from an idle engine."""
    engine.request("DELETE", "/v1.41/services/" + name)
    wait_for(lambda: not [t for t in list_tasks(engine) if t["Spec"]] and gone(), 120,
             "the tasks of %s to go" % name, interval=0.2)


def nothing_runs(node):
    return not [c for c, (_, st) in harness.ctr_processes(node).items()
                if st == "RUNNING" and c in harness.cri_containers(node)]


@pytest.mark.skipif(not RefDockerd.available(), reason="no /usr/sbin/dockerd")
def test_time_to_running(capsys):
    c = harness.own_cluster("swarmd-svctime.")
    ref = RefDockerd(c)
    node_id = None
    figures = []
    try:
        sw = harness.swarm_node(c, SWARMD_ADDR)
        assert harness.swarm_init(sw, SWARMD_ADDR).returncode == 0
        node_id = harness.swarm_info(sw)["NodeID"]
        sw.load_busybox()
        ref.start()
        assert ref.docker("load", "-i", harness.busybox_images()["docker"]).returncode == 0
        assert harness.swarm_init(ref, REF_ADDR).returncode == 0
        # (Removal leftovers are test_services.py's business; here only
        # what still runs would skew the next figure.)
        engines = [("swarmd", sw, lambda: nothing_runs(sw)),
                   ("dockerd", ref, lambda: api_json(ref, "GET", "/v1.41/containers/json") == [])]
        for replicas in (4, 50):
            for label, eng, gone in engines:
                name = "t%d" % replicas
                secs = time_to_running(eng, name, replicas)
                figures.append((label, replicas, secs))
                remove_and_wait(eng, name, gone)
        assert sw.stop() == 0, sw.logtext()
    finally:
        try:
            ref.stop()
        finally:
            c.cleanup()
            harness.drop_cni_rules(node_id)
        with capsys.disabled():
            print("\ncreate -> all replicas running (GET /tasks every %d ms):" % (POLL * 1000))
            for label, replicas, secs in figures:
                print("  %-8s %3d replicas  %6.2f s" % (label, replicas, secs))
