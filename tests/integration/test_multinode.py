"""Multi-node swarms: 3 managers and 2 workers, each its own swarmd with its
own containerd, data-root and 127.0.0.x address, formed with the real CLI
(`swarm init`, `swarm join-token`, `swarm join`), then driven through
followers, a leader crash and a worker crash.

The tests of this module share one lab and run in order: each builds on
the state the previous one left (the lab is rebuilt if a test needs nodes
a previous failure lost).
"""
import json
import os
import subprocess
import time

import pytest

import harness
from harness import api_error, wait_for

HEARTBEAT = "1s"  # Dispatcher.HeartbeatPeriod: down after 3 s, 6 s after a failover
NOT_MANAGER_WORKER = ("This node is not a swarm manager. Worker nodes can't be used to "
                      "view or modify cluster state. Please run this command on a manager "
                      "node or promote the current node to a manager.")
BAD_TOKEN = ("rpc error: code = InvalidArgument desc = A valid join token is necessary "
             "to join this cluster")
NO_LEADER = ("rpc error: code = Unknown desc = The swarm does not have a leader. It's "
             "possible that too few managers are online. Make sure more than half of the "
             "managers are online.")
LEAVE_MANAGER = ("You are attempting to leave the swarm on a node that is participating as "
                 "a manager. The only way to restore a swarm that has lost consensus is to "
                 "reinitialize it with `--force-new-cluster`. Use `--force` to suppress this "
                 "message.")


def ok(p):
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout


def join(n, token, remote):
    return n.docker("swarm", "join", "--token", token, "--advertise-addr", n.addr,
                    "--listen-addr", n.addr + ":2377", remote + ":2377")


def node_list(engine):
    r = engine.request("GET", "/v1.41/nodes")
    assert r.status == 200, r
    return r.json()


def node_status(engine):
    """{node id: (state, manager status or None)} as `docker node ls` shows them."""
    out = {}
    for n in node_list(engine):
        ms = n.get("ManagerStatus")
        if ms is None:
            col = None
        elif ms.get("Leader"):
            col = "Leader"
        else:
            col = ms["Reachability"].capitalize()
        out[n["ID"]] = (n["Status"]["State"], col)
    return out


def leader_of(engine):
    for n in node_list(engine):
        if n.get("ManagerStatus", {}).get("Leader"):
            return n["ID"]
    return None


class Lab:
    def __init__(self, cluster):
        self.cluster = cluster
        self.managers = []
        self.workers = []
        self.ids = {}

    @property
    def nodes(self):
        return self.managers + self.workers

    def alive(self, nodes=None):
        return [n for n in (nodes or self.nodes) if n.proc is not None]


@pytest.fixture(scope="module")
def lab():
    c = harness.Cluster()
    try:
        lab = Lab(c)
        nodes = [c.node() for _ in range(5)]
        for n in nodes:
            n.load_busybox()
        lab.managers = nodes[:3]
        lab.workers = nodes[3:]
        yield lab
    finally:
        c.cleanup()


def test_form_cluster(lab):
    m1, m2, m3 = lab.managers
    w1, w2 = lab.workers
    ok(harness.swarm_init(m1, m1.addr, extra=("--dispatcher-heartbeat", HEARTBEAT)))
    mtok = ok(m1.docker("swarm", "join-token", "-q", "manager")).strip()
    wtok = ok(m1.docker("swarm", "join-token", "-q", "worker")).strip()
    assert harness.JOIN_TOKEN_RE.match(mtok) and harness.JOIN_TOKEN_RE.match(wtok)

    out = ok(join(m2, mtok, m1.addr))
    assert out.strip() == "This node joined a swarm as a manager."
    # A follower hands out tokens too (read from its own store).
    assert ok(m2.docker("swarm", "join-token", "-q", "manager")).strip() == mtok
    assert ok(join(m3, mtok, m2.addr)).strip() == "This node joined a swarm as a manager."
    for w in lab.workers:
        assert ok(join(w, wtok, m1.addr)).strip() == "This node joined a swarm as a worker."

    for n in lab.nodes:
        lab.ids[n.name] = harness.swarm_info(n)["NodeID"]
    mids = {lab.ids[m.name] for m in lab.managers}

    def formed(engine):
        st = node_status(engine)
        return (len(st) == 5 and all(s == "ready" for s, _ in st.values())
                and sorted(c for _, c in st.values() if c) == ["Leader", "Reachable", "Reachable"]
                and {i for i, (_, c) in st.items() if c} == mids)

    for m in lab.managers:
        wait_for(lambda: formed(m), 30, "5 ready nodes on " + m.name)


def test_info_and_cli_on_each_role(lab):
    m1, m2, _ = lab.managers
    w1 = lab.workers[0]
    info = harness.swarm_info(m2)
    assert info["LocalNodeState"] == "active" and info["ControlAvailable"] is True
    assert info["Managers"] == 3 and info["Nodes"] == 5
    assert sorted(m["Addr"] for m in info["RemoteManagers"]) == \
        sorted(m.addr + ":2377" for m in lab.managers)

    info = harness.swarm_info(w1)
    assert info["NodeID"] == lab.ids[w1.name]
    assert info["NodeAddr"] == w1.addr
    assert info["LocalNodeState"] == "active"
    assert info["ControlAvailable"] is False
    assert info["RemoteManagers"] and {m["Addr"] for m in info["RemoteManagers"]} <= \
        {m.addr + ":2377" for m in lab.managers}

    # `docker node ls` on a follower marks itself and shows the leader.
    out = ok(m2.docker("node", "ls"))
    lines = out.splitlines()[1:]
    assert len(lines) == 5
    me = [l for l in lines if l.startswith(lab.ids[m2.name])][0]
    assert " * " in me and "Reachable" in me
    assert sum("Leader" in l for l in lines) == 1

    # Manager-only endpoints on a worker.
    for args in (("node", "ls"), ("service", "ls"), ("swarm", "join-token", "worker")):
        p = w1.docker(*args)
        assert p.returncode == 1
        assert p.stderr.strip() == "Error response from daemon: " + NOT_MANAGER_WORKER
    assert api_error(w1.request("GET", "/v1.41/swarm")) == (503, NOT_MANAGER_WORKER)


def test_join_refusals(lab):
    m1 = lab.managers[0]
    extra = lab.cluster.node()
    try:
        wtok = ok(m1.docker("swarm", "join-token", "-q", "worker")).strip()
        bad = wtok[:-25] + "0" * 25
        p = join(extra, bad, m1.addr)
        assert p.returncode == 1
        assert p.stderr.strip() == "Error response from daemon: " + BAD_TOKEN
        p = join(extra, "SWMTKN-1-nonsense", m1.addr)
        assert p.stderr.strip() == "Error response from daemon: invalid join token"
        # A token pinning another root CA: the manager is not trusted.
        other = "SWMTKN-1-" + "1" * 50 + wtok[-26:]
        p = join(extra, other, m1.addr)
        assert p.returncode == 1 and "does not match fingerprint" in p.stderr, p.stderr
        # A rotated token no longer admits anyone.
        ok(m1.docker("swarm", "join-token", "--rotate", "worker"))
        p = join(extra, wtok, m1.addr)
        assert p.returncode == 1
        assert p.stderr.strip() == "Error response from daemon: " + BAD_TOKEN
        assert ok(m1.docker("swarm", "join-token", "-q", "worker")).strip() != wtok
        assert harness.swarm_info(extra)["LocalNodeState"] == "inactive"
        assert len(node_list(m1)) == 5
    finally:
        extra.cleanup()
        lab.cluster.nodes.remove(extra)


def channel_reply(addr, channel, cert=None):
    """Opens a TLS connection to a manager's 2377 (with the client
    certificate (cert, key) or none), names a channel as nodes do (a 4-byte
    big-endian length, the name) and returns the reply's first byte (0:
    accepted, else the error kind) and its message; None when the TLS
    handshake itself is refused."""
    import socket
    import ssl
    import struct
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    raw = socket.create_connection((addr, 2377), timeout=5)
    try:
        tls = ctx.wrap_socket(raw)
        tls.sendall(struct.pack(">I", len(channel)) + channel.encode())
        head = b""
        while len(head) < 4:
            chunk = tls.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        body = b""
        n = struct.unpack(">I", head)[0]
        while len(body) < n:
            chunk = tls.recv(n - len(body))
            if not chunk:
                break
            body += chunk
        return body[0], body[1:].decode(errors="replace")
    except (ssl.SSLError, ConnectionError, socket.timeout):
        return None
    finally:
        raw.close()


def test_tls_channels_need_the_cluster_ca(lab, tmp_path):
    m1 = lab.managers[0]
    # No client certificate: only join opens.
    assert channel_reply(m1.addr, "join") == (0, "")
    for ch in ("raft", "dispatch", "forward", "logs"):
        r = channel_reply(m1.addr, ch)
        assert r is not None and r[0] != 0, (ch, r)
    # A certificate from another CA (claiming the manager role) is refused
    # at the handshake or by the channel, on every channel.
    key, crt = str(tmp_path / "k.pem"), str(tmp_path / "c.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-keyout", key,
                        "-out", crt, "-subj", "/O=%s/OU=swarm-manager/CN=%s"
                        % (harness.swarm_info(m1)["Cluster"]["ID"], lab.ids[m1.name])],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for ch in ("raft", "dispatch", "forward", "logs"):
        r = channel_reply(m1.addr, ch, cert=(crt, key))
        assert r is None or r[0] != 0, (ch, r)


def test_writes_on_a_follower(lab):
    m2 = lab.managers[1]
    # Create-then-inspect on a follower never 404s (read-your-writes).
    for i in range(5):
        name = "fw%d" % i
        ok(m2.docker("service", "create", "--detach", "--name", name, "--replicas", "0",
                     "busybox:latest", "sleep", "1000"))
        r = m2.request("GET", "/v1.41/services/" + name)
        assert r.status == 200, r
        ok(m2.docker("service", "rm", name))
        assert m2.request("GET", "/v1.41/services/" + name).status == 404
    # Stale versions fail as on the leader.
    ok(m2.docker("service", "create", "--detach", "--name", "fwv", "--replicas", "0",
                 "busybox:latest", "sleep", "1000"))
    svc = m2.request("GET", "/v1.41/services/fwv").json()
    r = m2.request("POST", "/v1.41/services/%s/update?version=1" % svc["ID"], body=svc["Spec"])
    assert api_error(r) == (500, "rpc error: code = Unknown desc = update out of sequence")
    ok(m2.docker("service", "rm", "fwv"))


def test_reads_on_a_follower_see_the_leaders_writes(lab):
    """Each write on the leader is seen by the next read on every follower,
    and a read-modify-write through a follower right after one through the
    leader carries the current version (dockerd reads at the leader)."""
    by_id = {lab.ids[n.name]: n for n in lab.managers}
    leader = by_id[leader_of(lab.managers[0])]
    followers = [m for m in lab.managers if m is not leader]
    target = lab.ids[lab.workers[0].name]
    for i in range(20):
        node = leader.request("GET", "/v1.41/nodes/" + target).json()
        spec = dict(node["Spec"], Labels=dict(node["Spec"].get("Labels") or {}, round=str(i)))
        r = leader.request("POST", "/v1.41/nodes/%s/update?version=%d"
                           % (target, node["Version"]["Index"]), body=spec)
        assert r.status == 200, r.body
        written = leader.request("GET", "/v1.41/nodes/" + target).json()["Version"]["Index"]
        for f in followers:
            seen = f.request("GET", "/v1.41/nodes/" + target).json()
            assert (seen["Version"]["Index"], seen["Spec"]["Labels"]["round"]) == \
                (written, str(i)), (f.name, i)
    for i in range(6):
        via = leader if i % 2 == 0 else followers[(i // 2) % len(followers)]
        ok(via.docker("node", "update", "--label-add", "rmw=%d" % i, target))
    labels = followers[0].request("GET", "/v1.41/nodes/" + target).json()["Spec"]["Labels"]
    assert labels["rmw"] == "5", labels
    ok(leader.docker("node", "update", "--label-rm", "round", "--label-rm", "rmw", target))


def tasks_by_node(engine, service):
    out = {}
    for t in harness.running_tasks(engine, service):
        out.setdefault(t["NodeID"], []).append(t)
    return out


def wait_moved(engine, service, n, node_id, timeout=60):
    """Until n tasks of service run, none of them on node_id."""
    def moved():
        spread = tasks_by_node(engine, service)
        return sum(len(v) for v in spread.values()) == n and node_id not in spread
    try:
        wait_for(moved, timeout, "the tasks of %s running off node %s" % (service, node_id))
    except AssertionError as e:
        tasks = [(t["ID"][:6], t["NodeID"][:6], t["DesiredState"], t["Status"]["State"])
                 for t in harness.list_tasks(engine, service)]
        raise AssertionError("%s; tasks (id, node, desired, state): %r" % (e, tasks))


def test_service_spreads(lab):
    m1 = lab.managers[0]
    ok(m1.docker("service", "create", "--detach", "--name", "web", "--replicas", "10",
                 "busybox:latest", "sleep", "100000"))
    harness.wait_running(m1, "web", 10, timeout=120)
    spread = tasks_by_node(m1, "web")
    assert set(spread) == set(lab.ids.values()), spread
    assert all(len(v) == 2 for v in spread.values())
    # Followers see the same tasks.
    harness.wait_running(lab.managers[2], "web", 10, timeout=10)


def test_leave_rules(lab):
    m3 = lab.managers[2]
    assert api_error(m3.request("POST", "/v1.41/swarm/leave")) == (503, LEAVE_MANAGER)


def test_leader_killed(lab):
    m1 = lab.managers[0]
    survivors = lab.managers[1:]
    assert leader_of(survivors[0]) == lab.ids[m1.name]
    t0 = time.time()
    m1.kill9()

    def new_leader():
        lead = leader_of(survivors[0])
        return lead if lead and lead != lab.ids[m1.name] else None
    lead = wait_for(new_leader, 30, "a new leader")
    # The API keeps working on both survivors, writes included.
    for m in survivors:
        wait_for(lambda: m.request("POST", "/v1.41/services/create", body={
            "Name": "after-" + m.name, "TaskTemplate": {"ContainerSpec": {
                "Image": "busybox:latest", "Args": ["sleep", "1000"]}},
            "Mode": {"Replicated": {"Replicas": 0}}}).status == 201, 30, "a write on " + m.name)
        assert m.request("GET", "/v1.41/services/after-" + m.name).status == 200
    elected = time.time() - t0
    # The dead manager is down and unreachable; its tasks run elsewhere.
    def dead_down():
        st = node_status(survivors[1])
        return st[lab.ids[m1.name]] == ("down", "Unreachable") and \
            sorted(c for _, c in st.values() if c) == ["Leader", "Reachable", "Unreachable"]
    wait_for(dead_down, 30, "the old leader down")
    wait_moved(survivors[0], "web", 10, lab.ids[m1.name])
    assert lead in {lab.ids[m.name] for m in survivors}
    print("leader elected and writable after %.1fs; tasks moved after %.1fs"
          % (elected, time.time() - t0))


def test_worker_killed(lab):
    m = lab.managers[1]
    w = lab.workers[0]
    before = tasks_by_node(m, "web")
    assert lab.ids[w.name] in before
    t0 = time.time()
    w.kill9()
    wait_for(lambda: node_status(m)[lab.ids[w.name]][0] == "down", 30, "the worker down")
    wait_moved(m, "web", 10, lab.ids[w.name])
    print("worker's tasks running elsewhere after %.1fs" % (time.time() - t0))
    # The other worker still takes tasks through its session.
    assert lab.ids[lab.workers[1].name] in tasks_by_node(m, "web")


def test_killed_nodes_rejoin(lab):
    """Restarted after kill -9, nodes come back with their certificates and
    state: no token needed."""
    m1 = lab.managers[0]
    w1 = lab.workers[0]
    for n in (m1, w1):
        harness.restart_node(n)
    assert harness.swarm_info(m1)["ControlAvailable"] is True
    assert harness.swarm_info(w1)["ControlAvailable"] is False

    def healed(engine):
        st = node_status(engine)
        return all(s == "ready" for s, _ in st.values()) and \
            sorted(c for _, c in st.values() if c) == ["Leader", "Reachable", "Reachable"]
    for m in lab.managers:
        wait_for(lambda: healed(m), 60, "5 ready nodes on " + m.name)
    harness.wait_running(m1, "web", 10, timeout=60)


def test_promote_demote(lab):
    m2 = lab.managers[1]
    w2 = lab.workers[1]
    wid = lab.ids[w2.name]
    out = ok(m2.docker("node", "promote", wid))
    assert out.strip() == "Node %s promoted to a manager in the swarm." % wid
    wait_for(lambda: node_status(m2)[wid] == ("ready", "Reachable"), 30, "the promoted node reachable")
    wait_for(lambda: harness.swarm_info(w2)["ControlAvailable"], 30, "the promoted node managing")
    wait_for(lambda: len(node_list(w2)) == 5, 30, "node ls on the promoted node")
    # Its tasks kept running through the change.
    harness.wait_running(m2, "web", 10, timeout=30)

    out = ok(m2.docker("node", "demote", wid))
    assert out.strip() == "Manager %s demoted in the swarm." % wid
    wait_for(lambda: node_status(m2)[wid] == ("ready", None), 30, "the demoted node a worker")
    wait_for(lambda: not harness.swarm_info(w2)["ControlAvailable"], 30, "the demoted node a worker")
    assert api_error(w2.request("GET", "/v1.41/nodes")) == (503, NOT_MANAGER_WORKER)
    harness.wait_running(m2, "web", 10, timeout=30)


def test_placement_on_the_lab(lab):
    m1 = lab.managers[0]
    ids = lab.ids
    zone = {ids[lab.managers[0].name]: "a", ids[lab.managers[1].name]: "a",
            ids[lab.workers[0].name]: "b"}
    try:
        place_on_the_lab(lab, m1, ids, zone)
    finally:
        for name in ("onw", "spread"):
            m1.docker("service", "rm", name)
        for nid in zone:
            m1.docker("node", "update", "--label-rm", "zone", nid)


def place_on_the_lab(lab, m1, ids, zone):
    for nid, z in zone.items():
        ok(m1.docker("node", "update", "--label-add", "zone=" + z, nid))
    # Constraints: only the workers.
    ok(m1.docker("service", "create", "--detach", "--name", "onw", "--replicas", "4",
                 "--constraint", "node.role==worker", "busybox:latest", "sleep", "100000"))
    harness.wait_running(m1, "onw", 4, timeout=60)
    assert set(tasks_by_node(m1, "onw")) <= {ids[w.name] for w in lab.workers}
    # Spread over zone: a, b and the unlabelled nodes get a third each,
    # whatever their node counts.
    ok(m1.docker("service", "create", "--detach", "--name", "spread", "--replicas", "6",
                 "--placement-pref", "spread=node.labels.zone", "busybox:latest",
                 "sleep", "100000"))
    harness.wait_running(m1, "spread", 6, timeout=60)
    per_zone = {}
    for nid, ts in tasks_by_node(m1, "spread").items():
        per_zone[zone.get(nid)] = per_zone.get(zone.get(nid), 0) + len(ts)
    assert per_zone == {"a": 2, "b": 2, None: 2}, per_zone


def node_cert(n):
    """(serial, seconds until it expires, role OU) of the node's certificate
    on disk."""
    import ssl
    path = os.path.join(n.data_root, "swarm", "swarm-node.crt")
    c = ssl._ssl._test_decode_cert(path)
    left = ssl.cert_time_to_seconds(c["notAfter"]) - time.time()
    ou = [v for rdn in c["subject"] for k, v in rdn if k == "organizationalUnitName"]
    return c["serialNumber"], left, ou


def test_certificates_renewed(lab):
    m2 = lab.managers[1]
    w1 = lab.workers[0]
    ok(m2.docker("swarm", "update", "--cert-expiry", "2h"))
    for n, role in ((w1, "swarm-worker"), (m2, "swarm-manager")):
        serial, _, ou = node_cert(n)
        assert ou == [role]
        # The renewal point comes early for the test (normally at a random
        # point between 50 % and 80 % of the validity, as SwarmKit).
        n.env = {"SWARMD_CERT_RENEW_AFTER_S": "1"}
        try:
            harness.restart_node(n)
            wait_for(lambda: node_cert(n)[0] != serial, 30,
                     "a renewed certificate on " + n.name)
        finally:
            n.env = {}
        _, left, ou = node_cert(n)
        # Issued for the new --cert-expiry (the old one was for 90 days;
        # "now" is rounded to the minute, as cfssl does).
        assert ou == [role] and abs(left - 2 * 3600) < 120, (left, ou)
        # The renewed certificate is the one it presents: it comes back
        # after a restart with no token.
        harness.restart_node(n)
        # A manager's restart may cost an election: wait for a leader that
        # sees the node back.
        wait_for(lambda: leader_of(lab.managers[2]) is not None and
                 node_status(lab.managers[2])[lab.ids[n.name]][0] == "ready", 30,
                 n.name + " ready with its renewed certificate")
    wait_for(lambda: m2.request("POST", "/v1.41/services/create", body={
        "Name": "after-renewal", "TaskTemplate": {"ContainerSpec": {
            "Image": "busybox:latest", "Args": ["sleep", "1000"]}},
        # (409: an earlier try committed but its answer was lost.)
        "Mode": {"Replicated": {"Replicas": 0}}}).status in (201, 409), 30,
        "a write after the renewals")
    harness.wait_running(m2, "web", 10, timeout=60)


def test_drain_moves_tasks(lab):
    m2 = lab.managers[1]
    w2 = lab.workers[1]
    wid = lab.ids[w2.name]
    harness.wait_running(m2, "web", 10, timeout=30)
    assert wid in tasks_by_node(m2, "web")
    # After the previous test's restarts a new leader may have turned every
    # node "unknown" until it registers again; that write would land between
    # the CLI's read of the node and its update ("update out of sequence", as
    # with SwarmKit), so the drain waits until all nodes are ready again.
    wait_for(lambda: all(st == "ready" for st, _ in node_status(m2).values()), 30,
             "every node ready")
    # As the recorded transcripts: the ID, then Drain in node ls.
    assert ok(m2.docker("node", "update", "--availability", "drain", wid)) == wid + "\n"
    def ls_row():
        row = [l for l in ok(m2.docker("node", "ls")).splitlines() if l.startswith(wid)][0]
        return row if row.split()[2:4] == ["Ready", "Drain"] else None
    wait_for(ls_row, 10, "node ls showing the node Ready and Drain")

    wait_moved(m2, "web", 10, wid)
    # The drained node's containers are stopped, its tasks shut down.
    def task_processes_stopped():
        procs = harness.ctr_processes(w2)
        return all(procs.get(c, (0, "STOPPED"))[1] != "RUNNING"
                   for c in harness.cri_containers(w2))
    wait_for(task_processes_stopped, 30, "the drained node's containers stopped")
    on_w2 = [t for t in m2.request("GET", "/v1.41/tasks").json() if t["NodeID"] == wid]
    assert on_w2 and all(t["DesiredState"] == "shutdown" for t in on_w2), on_w2
    ok(m2.docker("node", "update", "--availability", "active", wid))
    assert node_list(m2) and {n["ID"]: n["Spec"]["Availability"]
                              for n in node_list(m2)}[wid] == "active"


def test_removed_worker_stays_out(lab):
    m2 = lab.managers[1]
    w2 = lab.workers[1]
    wid = lab.ids[w2.name]
    p = m2.docker("node", "rm", wid)
    assert p.returncode == 1 and p.stderr.strip() == (
        "Error response from daemon: rpc error: code = FailedPrecondition desc = node %s "
        "is not down and can't be removed" % wid), p.stderr
    offset = os.path.getsize(w2.log_path)
    assert ok(m2.docker("node", "rm", "--force", wid)) == wid + "\n"
    # Its certificate no longer opens a session: it tries, is refused at the
    # channel, and stays out of the node list while it keeps trying.
    harness.wait_log(w2, b"is not a member of this swarm", offset, timeout=30)
    end = time.time() + 3  # 3 heartbeats
    while time.time() < end:
        assert wid not in {n["ID"] for n in node_list(m2)}
        time.sleep(0.2)
    r = m2.request("GET", "/v1.41/nodes/" + wid)
    assert api_error(r) == (404, "node %s not found" % wid)
    wait_moved(m2, "web", 10, wid)


def test_quorum_loss_then_force_new_cluster(lab):
    m1, m2, m3 = lab.managers
    survivor = m2
    for m in (m1, m3):
        m.kill9()

    def refused():
        r = survivor.request("POST", "/v1.41/services/create", body={
            "Name": "nq", "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest"}}})
        return api_error(r) if r.status != 201 else None
    # A write in flight while the leader steps down may get another error
    # (its outcome unknown); once raft has no leader, every write gets this.
    wait_for(lambda: refused() == (500, NO_LEADER), 30, "writes refused for want of a leader")
    # Reads still answer from the survivor's own state.
    r = survivor.request("GET", "/v1.41/services")
    assert r.status == 200 and "web" in [s["Spec"]["Name"] for s in r.json()]
    p = survivor.docker("service", "create", "--detach", "--name", "nq", "busybox:latest")
    assert p.returncode == 1 and p.stderr.strip() == "Error response from daemon: " + \
        NO_LEADER, p.stderr

    out = ok(survivor.docker("swarm", "init", "--force-new-cluster",
                             "--advertise-addr", survivor.addr))
    assert lab.ids[survivor.name] in out
    # The cluster's state is kept and writes work again.
    ok(survivor.docker("service", "create", "--detach", "--name", "after-fnc",
                       "--replicas", "0", "busybox:latest"))
    assert survivor.request("GET", "/v1.41/services/web").status == 200
    dead = {lab.ids[m1.name], lab.ids[m3.name]}

    def recovered():
        st = node_status(survivor)
        return st[lab.ids[survivor.name]] == ("ready", "Leader") and \
            all(st[i] == ("down", "Unreachable") for i in dead)
    wait_for(recovered, 30, "the survivor leading, the lost managers down")
    info = harness.swarm_info(survivor)
    assert info["ControlAvailable"] is True
    for i in dead:
        wait_moved(survivor, "web", 10, i)
    # The lost managers go as Docker wants: demoted, then removed.
    for i in dead:
        ok(survivor.docker("node", "demote", i))
        ok(survivor.docker("node", "rm", i))
    assert {n["ID"] for n in node_list(survivor)} == \
        {lab.ids[survivor.name], lab.ids[lab.workers[0].name]}
