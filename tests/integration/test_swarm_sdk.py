"""Swarm mode through the Docker SDK for Python (docker-py 5.0.3), which sends
what the CLI does not: partial specs, Go-style booleans (force=False), the
default listen address 0.0.0.0:2377 with no advertise address."""
import ipaddress
import json
import subprocess

import docker
import pytest

import harness
from harness import (JOIN_TOKEN_RE, LEAVE_LAST_MANAGER, ALREADY_IN_SWARM, SWARM_ID_RE,
                     UNLOCK_KEY_RE, swarm_info)

# docker-py 5.0.3 uses distutils' deprecated version classes on every call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DEFAULT_SPEC = {
    "Name": "default", "Labels": {},
    "Orchestration": {"TaskHistoryRetentionLimit": 5},
    "Raft": {"SnapshotInterval": 10000, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
             "ElectionTick": 10, "HeartbeatTick": 1},
    "Dispatcher": {"HeartbeatPeriod": 5000000000},
    "CAConfig": {"NodeCertExpiry": 7776000000000000},
    "TaskDefaults": {},
    "EncryptionConfig": {"AutoLockManagers": False},
}


@pytest.fixture
def client(node):
    c = docker.DockerClient(base_url="unix://" + node.sock)
    try:
        yield c
    finally:
        try:
            if swarm_info(node)["LocalNodeState"] != "inactive":
                c.swarm.leave(force=True)
        finally:
            c.close()


def advertisable_ipv4():
    """What `swarm init` without an address must pick: the IPv4 addresses of
    up interfaces that are neither loopback nor link-local."""
    links = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True,
                                      text=True, check=True).stdout)
    found = []
    for link in links:
        if "UP" not in link.get("flags", []):
            continue
        for a in link.get("addr_info", []):
            ip = ipaddress.ip_address(a["local"])
            if not ip.is_loopback and not ip.is_link_local:
                found.append(str(ip))
    return found


def self_node(client):
    nodes = client.nodes.list()
    assert len(nodes) == 1
    return nodes[0]


def test_init_without_arguments_detects_the_address(node, client):
    addrs = advertisable_ipv4()
    if len(addrs) != 1:
        # No single candidate (e.g. a test's container bridge is up next to
        # eth0): dockerd's two errors (CONTRACT.md §3.1).
        with pytest.raises(docker.errors.APIError) as e:
            client.swarm.init()
        assert e.value.status_code == 400
        if addrs:
            msg = e.value.explanation
            assert msg.startswith("could not choose an IP address to advertise since this "
                                  "system has multiple addresses on different interfaces ("), msg
            assert sum(("%s on " % a) in msg for a in addrs) == 2, msg
        else:
            assert e.value.explanation == "could not find the system's IP address"
        assert swarm_info(node)["LocalNodeState"] == "inactive"
        return
    node_id = client.swarm.init()
    assert SWARM_ID_RE.match(node_id)
    info = swarm_info(node)
    assert info["NodeID"] == node_id and info["NodeAddr"] == addrs[0]
    me = self_node(client)
    assert me.id == node_id
    assert me.attrs["Status"] == {"State": "ready", "Addr": addrs[0]}
    assert me.attrs["ManagerStatus"] == {"Leader": True, "Reachability": "reachable",
                                         "Addr": addrs[0] + ":2377"}
    attrs = client.swarm.attrs  # init() reloaded it
    assert set(attrs) == {"ID", "Version", "CreatedAt", "UpdatedAt", "Spec", "TLSInfo",
                          "RootRotationInProgress", "DefaultAddrPool", "SubnetSize",
                          "DataPathPort", "JoinTokens"}
    assert attrs["ID"] == info["Cluster"]["ID"]
    assert attrs["Spec"] == DEFAULT_SPEC
    # The SDK sends no DefaultAddrPool; SwarmKit reports its default.
    assert (attrs["DefaultAddrPool"], attrs["SubnetSize"], attrs["DataPathPort"]) == (
        ["10.0.0.0/8"], 24, 4789)
    assert JOIN_TOKEN_RE.match(attrs["JoinTokens"]["Worker"])
    assert client.swarm.leave(force=True) is True
    assert swarm_info(node)["LocalNodeState"] == "inactive"


def test_init_on_a_non_default_port(node, client):
    addr = node.addr
    client.swarm.init(listen_addr=addr + ":4567", advertise_addr=addr)
    me = self_node(client)
    assert me.attrs["ManagerStatus"]["Addr"] == addr + ":4567"
    assert me.attrs["Status"]["Addr"] == addr
    info = swarm_info(node)
    assert info["RemoteManagers"] == [{"NodeID": me.id, "Addr": addr + ":4567"}]
    assert info["NodeAddr"] == addr
    p = node.docker("swarm", "join-token", "worker")
    assert p.returncode == 0, p.stderr
    assert "docker swarm join --token %s %s:4567\n" % (
        client.swarm.attrs["JoinTokens"]["Worker"], addr) in p.stdout
    with pytest.raises(docker.errors.APIError) as e:
        client.swarm.init(listen_addr=addr + ":4567", advertise_addr=addr)
    assert (e.value.status_code, e.value.explanation) == (503, ALREADY_IN_SWARM)


def test_update_rotate_and_partial_specs(node, client):
    client.swarm.init(listen_addr=node.addr + ":2377", advertise_addr=node.addr)
    before = dict(client.swarm.attrs)
    assert client.swarm.update(rotate_worker_token=True) is True
    client.swarm.reload()
    after = client.swarm.attrs
    old_w, new_w = (JOIN_TOKEN_RE.match(a["JoinTokens"]["Worker"]) for a in (before, after))
    assert new_w.group(2) != old_w.group(2) and new_w.group(1) == old_w.group(1)
    assert after["JoinTokens"]["Manager"] == before["JoinTokens"]["Manager"]
    assert after["Version"]["Index"] > before["Version"]["Index"]
    assert after["Spec"] == DEFAULT_SPEC
    assert after["UpdatedAt"] >= before["UpdatedAt"] and after["CreatedAt"] == before["CreatedAt"]

    # A partial spec: swarmd merges it onto the current one, as the issue
    # asks (CONTRACT.md §14). dockerd 20.10 differs here: it converts the
    # partial spec as a whole and zeroes what is absent (Raft ticks, snapshot
    # interval, TaskHistoryRetentionLimit, NodeCertExpiry, ...).
    r = client.api.update_swarm(version=after["Version"]["Index"], swarm_spec={"Labels": {"a": "b"}})
    assert r is True
    client.swarm.reload()
    assert client.swarm.attrs["Spec"] == dict(DEFAULT_SPEC, Labels={"a": "b"})
    assert client.swarm.attrs["JoinTokens"] == after["JoinTokens"]
    # The SDK's own update builds partial specs too; absent members stay.
    client.swarm.update(snapshot_interval=5000, task_history_retention_limit=9)
    client.swarm.reload()
    spec = client.swarm.attrs["Spec"]
    assert spec["Raft"] == dict(DEFAULT_SPEC["Raft"], SnapshotInterval=5000)
    assert spec["Orchestration"] == {"TaskHistoryRetentionLimit": 9}
    assert spec["Labels"] == {"a": "b"}
    assert spec["CAConfig"] == DEFAULT_SPEC["CAConfig"]
    # Stale version: the SwarmKit error through the SDK.
    with pytest.raises(docker.errors.APIError) as e:
        client.api.update_swarm(version=before["Version"]["Index"], swarm_spec={})
    assert (e.value.status_code, e.value.explanation) == (
        500, "rpc error: code = Unknown desc = update out of sequence")

    # Autolock and the unlock key.
    assert client.swarm.get_unlock_key() == {"UnlockKey": ""}
    client.swarm.update(autolock_managers=True)
    key = client.swarm.get_unlock_key()["UnlockKey"]
    assert UNLOCK_KEY_RE.match(key)
    client.swarm.reload()
    client.swarm.update(autolock_managers=True, rotate_manager_unlock_key=True)
    key2 = client.swarm.get_unlock_key()["UnlockKey"]
    assert UNLOCK_KEY_RE.match(key2) and key2 != key
    with pytest.raises(docker.errors.APIError) as e:
        client.swarm.unlock(key2)
    assert (e.value.status_code, e.value.explanation) == (409, "swarm is not locked")
    client.swarm.reload()
    client.swarm.update(autolock_managers=False)
    assert client.swarm.get_unlock_key() == {"UnlockKey": ""}


def test_reload_attrs_and_nodes(node, client):
    with pytest.raises(docker.errors.APIError) as e:
        client.swarm.reload()
    assert e.value.status_code == 503
    client.swarm.init(listen_addr=node.addr + ":2377", advertise_addr=node.addr)
    client.swarm.reload()
    info = swarm_info(node)
    assert client.swarm.id == info["Cluster"]["ID"]
    assert client.swarm.version == client.swarm.attrs["Version"]["Index"]
    assert client.swarm.attrs["TLSInfo"]["TrustRoot"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert JOIN_TOKEN_RE.match(client.swarm.attrs["JoinTokens"]["Worker"]).group(1) == \
        harness.token_digest_of(client.swarm.attrs["TLSInfo"]["TrustRoot"])

    me = self_node(client)
    assert me.id == info["NodeID"]
    assert me.attrs["Spec"] == {"Labels": {}, "Role": "manager", "Availability": "active"}
    assert me.attrs["Description"]["Engine"]["EngineVersion"] == "0.1.0"
    assert me.attrs["Description"]["TLSInfo"] == client.swarm.attrs["TLSInfo"]
    assert client.nodes.get(me.id).attrs == me.attrs
    assert [n.id for n in client.nodes.list(filters={"role": "manager"})] == [me.id]
    assert client.nodes.list(filters={"role": "worker"}) == []
    assert [n.id for n in client.nodes.list(filters={"id": me.id[:5]})] == [me.id]
    assert [n.id for n in client.nodes.list(filters={"name": me.attrs["Description"]["Hostname"]})
            ] == [me.id]
    with pytest.raises(docker.errors.APIError) as e:
        client.nodes.list(filters={"bogus": "x"})
    assert (e.value.status_code, e.value.explanation) == (400, "Invalid filter 'bogus'")
    with pytest.raises(docker.errors.NotFound) as e:
        client.nodes.get("nosuch")
    assert e.value.explanation == "node nosuch not found"

    # Node.update posts the whole spec with the version it read.
    assert me.update({"Labels": {"k": "v"}, "Role": "manager", "Availability": "pause"}) is True
    me.reload()
    assert me.attrs["Spec"] == {"Labels": {"k": "v"}, "Role": "manager", "Availability": "pause"}
    assert [n.id for n in client.nodes.list(filters={"node.label": "k=v"})] == [me.id]
    with pytest.raises(docker.errors.APIError) as e:
        me.update({"Labels": {}, "Role": "worker", "Availability": "active"})
    assert e.value.status_code == 400
    assert e.value.explanation == ("rpc error: code = FailedPrecondition desc = attempting to "
                                   "demote the last manager of the swarm")
    with pytest.raises(docker.errors.APIError) as e:  # me.version is stale now
        client.api.update_node(me.id, me.version - 1, me.attrs["Spec"])
    assert e.value.status_code == 500
    with pytest.raises(docker.errors.APIError) as e:
        me.remove(force=True)
    assert e.value.status_code == 400 and "is a cluster manager" in e.value.explanation


def test_leave_force_false_and_true(node, client):
    with pytest.raises(docker.errors.APIError) as e:
        client.swarm.leave()
    assert (e.value.status_code, e.value.explanation) == (503, "This node is not part of a swarm")
    client.swarm.init(listen_addr=node.addr + ":2377", advertise_addr=node.addr)
    node_id = swarm_info(node)["NodeID"]
    # force=False goes on the wire as "force=False": must not count as true.
    with pytest.raises(docker.errors.APIError) as e:
        client.swarm.leave(force=False)
    assert (e.value.status_code, e.value.explanation) == (503, LEAVE_LAST_MANAGER)
    assert swarm_info(node)["NodeID"] == node_id
    assert client.swarm.leave(force=True) is True
    info = swarm_info(node)
    assert info["LocalNodeState"] == "inactive" and info["NodeID"] == ""
    with pytest.raises(docker.errors.APIError) as e:
        client.nodes.list()
    assert e.value.status_code == 503
    # The SDK swallows a 503 when forcing; the answer itself is dockerd's.
    assert client.swarm.leave(force=True) is True
    assert harness.api_error(node.request("POST", "/v1.41/swarm/leave?force=True")) == (
        503, "This node is not part of a swarm")
    # And a new swarm after it.
    new_id = client.swarm.init(listen_addr=node.addr + ":2377", advertise_addr=node.addr)
    assert SWARM_ID_RE.match(new_id) and new_id != node_id
