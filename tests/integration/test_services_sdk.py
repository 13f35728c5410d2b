"""Services through the Docker SDK for Python (docker-py 5.0.3): create with
many ContainerSpec/TaskTemplate options, inspect, list with filters, update
(the model reads the current version and merges the current spec), scale,
force an update, list tasks, read logs, remove; and the low-level APIClient
calls behind them. The tasks run as containers in the node's containerd.

One node (its own 127.0.0.x) serves the module; each test removes its
services and waits until containerd holds no container and no pod."""
import time

import docker
import pytest
from docker.types import (DNSConfig, EndpointSpec, Healthcheck, Resources, RestartPolicy,
                          ServiceMode, UpdateConfig)

import harness
from harness import api_json, live_containers, swarm_info, wait_for

# docker-py 5.0.3 uses distutils' deprecated version classes on every call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ADDR = "127.0.0.151"
PORT = 18439
S = 1000000000


@pytest.fixture(scope="module")
def swarm():
    c = harness.own_cluster("swarmd-svcsdk.")
    node_id = None
    try:
        n = harness.swarm_node(c, ADDR)
        cl = docker.DockerClient(base_url="unix://" + n.sock)
        try:
            node_id = cl.swarm.init(advertise_addr=ADDR, listen_addr=ADDR + ":2377")
        finally:
            cl.close()
        assert node_id == swarm_info(n)["NodeID"]
        n.load_busybox()
        yield n
        assert n.stop() == 0, n.logtext()
    finally:
        c.cleanup()
        harness.drop_cni_rules(node_id)


@pytest.fixture
def client(swarm):
    c = docker.DockerClient(base_url="unix://" + swarm.sock)
    try:
        yield c
    finally:
        c.close()
        harness.check_node_after_test(swarm)


def running(svc, n, timeout=30):
    """Until n tasks of svc run; returns them sorted by slot."""
    def ready():
        ts = [t for t in svc.tasks(filters={"desired-state": "running"})
              if t["Status"]["State"] == "running"]
        return sorted(ts, key=lambda t: t.get("Slot", 0)) if len(ts) == n else None
    return wait_for(ready, timeout, "%d running tasks of %s" % (n, svc.name))


def running_containers(node):
    return {c for c, (_, st) in harness.ctr_processes(node).items() if st == "RUNNING"} & \
        harness.cri_containers(node)


def settled(node, name):
    """Until the service's update (if the change started one) completed."""
    def done():
        us = api_json(node, "GET", "/v1.41/services/" + name).get("UpdateStatus")
        return us is None or us["State"] == "completed"
    wait_for(done, 60, "the update of %s to complete" % name, interval=0.2)


def cids(tasks):
    return {t["Status"]["ContainerStatus"]["ContainerID"] for t in tasks}


def test_create_inspect_and_list(client, swarm):
    svc = client.services.create(
        "busybox:latest", ["sleep", "1d"], name="sdk-web", labels={"tier": "web"},
        mode=ServiceMode("replicated", replicas=2), env=["X=1"], container_labels={"c": "d"},
        hostname="box", workdir="/tmp", user="root", groups=["nogroup"], init=True,
        stop_grace_period=S, stop_signal="SIGTERM", hosts={"db.example": "10.1.2.3"},
        dns_config=DNSConfig(nameservers=["10.0.0.53"], search=["example.org"]),
        healthcheck=Healthcheck(test=["CMD", "true"], interval=2 * S, retries=3),
        cap_add=["CAP_NET_ADMIN"], cap_drop=["CAP_MKNOD"],
        restart_policy=RestartPolicy(condition="on-failure", delay=S, max_attempts=3),
        resources=Resources(mem_limit=64 * 1024 * 1024),
        update_config=UpdateConfig(parallelism=2, order="start-first"),
        endpoint_spec=EndpointSpec(ports={PORT: 80}))
    assert harness.SWARM_ID_RE.match(svc.id) and svc.name == "sdk-web"
    spec = client.services.get(svc.id).attrs["Spec"]
    assert spec["Name"] == "sdk-web" and spec["Labels"] == {"tier": "web"}
    assert spec["Mode"] == {"Replicated": {"Replicas": 2}}
    cs = spec["TaskTemplate"]["ContainerSpec"]
    assert {k: cs[k] for k in ("Image", "Command", "Env", "Labels", "Hostname", "Dir", "User",
                               "Groups", "Init", "StopGracePeriod", "StopSignal", "Hosts",
                               "DNSConfig", "CapabilityAdd", "CapabilityDrop",
                               "Isolation")} == {
        "Image": "busybox:latest", "Command": ["sleep", "1d"], "Env": ["X=1"],
        "Labels": {"c": "d"}, "Hostname": "box", "Dir": "/tmp", "User": "root",
        "Groups": ["nogroup"], "Init": True, "StopGracePeriod": S, "StopSignal": "SIGTERM",
        "Hosts": ["10.1.2.3 db.example"],
        "DNSConfig": {"Nameservers": ["10.0.0.53"], "Search": ["example.org"]},
        "CapabilityAdd": ["CAP_NET_ADMIN"], "CapabilityDrop": ["CAP_MKNOD"],
        "Isolation": "default"}
    assert cs["Healthcheck"]["Test"] == ["CMD", "true"]
    assert cs["Healthcheck"]["Interval"] == 2 * S and cs["Healthcheck"]["Retries"] == 3
    tt = spec["TaskTemplate"]
    assert tt["RestartPolicy"] == {"Condition": "on-failure", "Delay": S, "MaxAttempts": 3,
                                   "Window": 0}
    assert tt["Resources"] == {"Limits": {"MemoryBytes": 64 * 1024 * 1024}}
    assert tt["ForceUpdate"] == 0 and tt["Runtime"] == "container"
    assert spec["UpdateConfig"]["Parallelism"] == 2
    assert spec["UpdateConfig"]["Order"] == "start-first"
    assert spec["UpdateConfig"]["FailureAction"] == "continue"  # docker-py's default
    port = {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": PORT, "PublishMode": "ingress"}
    assert spec["EndpointSpec"] == {"Mode": "vip", "Ports": [port]}
    assert svc.attrs["Endpoint"]["Ports"] == [port]

    # insertDefaults only fills what the spec lacks.
    full = client.api.inspect_service(svc.id, insert_defaults=True)["Spec"]
    assert full["TaskTemplate"]["RestartPolicy"] == tt["RestartPolicy"]
    assert full["RollbackConfig"]["Monitor"] == 5 * S
    assert full["UpdateConfig"]["Monitor"] == 5 * S
    assert full["UpdateConfig"]["Parallelism"] == 2

    # Lookups and filters: exact name, ID prefix, name prefix, labels, mode.
    assert client.services.get("sdk-web").id == svc.id
    assert client.services.get(svc.id[:8]).id == svc.id
    with pytest.raises(docker.errors.NotFound):
        client.services.get("nosuch")
    client.services.create("busybox:latest", ["sleep", "1d"], name="sdk-other",
                           mode="global", stop_grace_period=S)
    names = lambda **f: sorted(s.name for s in client.services.list(filters=f))  # noqa: E731
    assert names() == ["sdk-other", "sdk-web"]
    assert names(name="sdk") == ["sdk-other", "sdk-web"]
    assert names(name="sdk-w") == ["sdk-web"]
    assert names(id=svc.id[:10]) == ["sdk-web"]
    assert names(label="tier=web") == ["sdk-web"] and names(label="tier") == ["sdk-web"]
    assert names(mode="global") == ["sdk-other"]
    assert names(mode="replicated") == ["sdk-web"]
    with pytest.raises(docker.errors.APIError) as e:
        client.services.list(filters={"bogus": "x"})
    assert e.value.status_code == 400

    # Tasks: two replicas and one global task run as containers.
    tasks = running(svc, 2)
    assert [t["Slot"] for t in tasks] == [1, 2]
    assert all(t["Spec"]["ContainerSpec"]["Env"] == ["X=1"] for t in tasks)
    other = running(client.services.get("sdk-other"), 1)
    assert "Slot" not in other[0] and other[0]["NodeID"] == swarm_info(swarm)["NodeID"]
    assert live_containers(swarm) == cids(tasks) | cids(other)


def test_update_merges_the_current_spec_and_replaces_tasks(client, swarm):
    svc = client.services.create("busybox:latest", ["sleep", "1d"], name="upd", env=["V=1"],
                                 stop_grace_period=S)
    old = running(svc, 1)
    v1 = svc.version
    assert svc.update(env=["V=2"], labels={"rev": "2"}) == {"Warnings": None}
    stale = svc
    svc = client.services.get(svc.id)
    assert svc.version > v1
    spec = svc.attrs["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Env"] == ["V=2"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Command"] == ["sleep", "1d"]  # kept
    assert spec["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] == S  # kept
    assert spec["Labels"] == {"rev": "2"}
    assert svc.attrs["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["V=1"]
    new = wait_for(lambda: [t for t in running(svc, 1) if t["ID"] != old[0]["ID"]], 30,
                   "the updated task")
    assert new[0]["Spec"]["ContainerSpec"]["Env"] == ["V=2"]
    # The old task is shut down; its container (kept with the task's
    # history, as dockerd keeps it) no longer runs.
    wait_for(lambda: harness.ctr_processes(swarm).get(cids(old).pop(), (0, "gone"))[1]
             != "RUNNING", 20, "the old container to stop")
    assert api_json(swarm, "GET", "/v1.41/tasks/" + old[0]["ID"])["DesiredState"] == "shutdown"

    # The version read before the update is stale now.
    with pytest.raises(docker.errors.APIError) as e:
        stale.update(env=["V=3"])
    assert e.value.status_code == 500
    assert "update out of sequence" in e.value.explanation

    # force_update bumps ForceUpdate and replaces the task, same spec.
    assert svc.force_update()
    svc.reload()
    assert svc.attrs["Spec"]["TaskTemplate"]["ForceUpdate"] == 1
    newer = wait_for(lambda: [t for t in running(svc, 1) if t["ID"] != new[0]["ID"]], 30,
                     "the forced task")
    assert newer[0]["Spec"]["ContainerSpec"]["Env"] == ["V=2"]


def test_scale(client, swarm):
    svc = client.services.create("busybox:latest", ["sleep", "1d"], name="sc",
                                 stop_grace_period=S)
    running(svc, 1)
    # (5.0.3 documents True; it returns the update's reply, as on dockerd.)
    assert svc.scale(4) == {"Warnings": None}
    svc.reload()
    assert svc.attrs["Spec"]["Mode"] == {"Replicated": {"Replicas": 4}}
    settled(swarm, "sc")
    tasks = running(svc, 4)
    assert [t["Slot"] for t in tasks] == [1, 2, 3, 4]
    # scale() posts the spec read with insertDefaults=true: the template
    # changed, so (as on dockerd) slot 1 got a new task too.
    assert running_containers(swarm) == cids(tasks)
    svc.reload()
    assert svc.scale(1) == {"Warnings": None}
    one = running(svc, 1)
    assert one[0]["Slot"] == 1
    wait_for(lambda: running_containers(swarm) == cids(one), 20, "3 containers to stop")
    glob = client.services.create("busybox:latest", ["sleep", "1d"], name="gl", mode="global",
                                  stop_grace_period=S)
    with pytest.raises(docker.errors.InvalidArgument):
        glob.scale(2)


def test_logs(client, swarm):
    svc = client.services.create("busybox:latest", ["sh", "-c",
                                 "echo out-1; echo err-1 >&2; exec sleep 1d"],
                                 name="lg", stop_grace_period=S)
    t = running(svc, 1)[0]
    wait_for(lambda: b"".join(svc.logs(stdout=True, stderr=True)) != b"", 10, "logs")
    assert b"".join(svc.logs(stdout=True)) == b"out-1\n"
    assert b"".join(svc.logs(stderr=True)) == b"err-1\n"
    lines = list(svc.logs(stdout=True, stderr=True, details=True, timestamps=True))
    assert len(lines) == 2
    for line in lines:
        ts, details, msg = line.decode().split(" ", 2)
        assert ts.endswith("Z") and msg in ("out-1\n", "err-1\n")
        assert details == ("com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,"
                           "com.docker.swarm.task.id=%s" % (t["NodeID"], svc.id, t["ID"]))
    # A task's own logs.
    got = b"".join(client.api._multiplexed_response_stream_helper(
        client.api._get(client.api._url("/tasks/{0}/logs", t["ID"]),
                        params={"stdout": 1, "stderr": 1}, stream=True)))
    assert sorted(got.splitlines()) == [b"err-1", b"out-1"]


def test_low_level_api_and_remove(client, swarm):
    api = client.api
    spec = docker.types.TaskTemplate(
        container_spec=docker.types.ContainerSpec("busybox:latest", ["sleep", "1d"],
                                                  stop_grace_period=S),
        restart_policy=RestartPolicy(condition="none"))
    created = api.create_service(spec, name="low", mode=ServiceMode("replicated", 2),
                                 labels={"k": "v"})
    sid = created["ID"]
    assert [s["ID"] for s in api.services(filters={"name": "low"})] == [sid]
    assert [s["ID"] for s in api.services(filters={"label": "k=v"})] == [sid]
    svc = client.services.get(sid)
    tasks = running(svc, 2)
    assert sorted(t["ID"] for t in api.tasks(filters={"service": "low"})) == \
        sorted(t["ID"] for t in tasks)
    assert api.inspect_task(tasks[0]["ID"])["ServiceID"] == sid
    with pytest.raises(docker.errors.NotFound):
        api.tasks(filters={"service": "nosuch"})
    status = {s["Spec"]["Name"]: s["ServiceStatus"] for s in
              api_json(swarm, "GET", "/v1.41/services?status=true")}
    assert status["low"] == {"RunningTasks": 2, "DesiredTasks": 2, "CompletedTasks": 0}
    assert api.remove_service(sid) is True
    assert api.services(filters={"name": "low"}) == []
    with pytest.raises(docker.errors.NotFound):
        api.inspect_service(sid)
    harness.wait_node_empty(swarm, 30)
    time.sleep(0.5)
    assert not ({t["ID"] for t in tasks} & harness.task_dirs(swarm))
