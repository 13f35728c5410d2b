"""Swarm mode on one node: init, tokens, node updates, restarts, leave, and
the Engine API's error answers (texts and statuses checked against dockerd
20.10.24, see test_swarm_fidelity.py for the side-by-side diff)."""
import json
import os
import shutil

import pytest

import harness
from harness import (CLIS, ALREADY_IN_SWARM, JOIN_TOKEN_RE, LEAVE_LAST_MANAGER,
                     NOT_MANAGER_INACTIVE, SWARM_ID_RE, UNLOCK_KEY_RE, api_error,
                     swarm_info, swarm_init, swarm_state, token_digest_of,
                     wait_swarm_leader)

INACTIVE = {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
            "ControlAvailable": False, "Error": "", "RemoteManagers": None}
JSON = {"Content-Type": "application/json"}
NODE_LS_HEADER = ("ID                            HOSTNAME   STATUS    AVAILABILITY   "
                  "MANAGER STATUS   ENGINE VERSION")


def ok(p):
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stderr == "", p.stderr
    return p.stdout


def daemon_error(p, message):
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stdout == ""
    assert p.stderr == "Error response from daemon: %s\n" % message.strip()


def tokens(n, cli):
    return (ok(n.docker("swarm", "join-token", "-q", "worker", cli=cli)).strip(),
            ok(n.docker("swarm", "join-token", "-q", "manager", cli=cli)).strip())


def node_rows(n, cli):
    lines = ok(n.docker("node", "ls", cli=cli)).splitlines()
    assert lines[0] == NODE_LS_HEADER
    return [line.split() for line in lines[1:]]


def node_obj(n, ref="self"):
    ref = swarm_info(n)["NodeID"] if ref == "self" else ref
    r = n.request("GET", "/v1.41/nodes/" + ref)
    assert r.status == 200, r
    return r.json()


def post(n, path, body):
    return n.request("POST", path, body=body if isinstance(body, str) else json.dumps(body),
                     headers=JSON)


# ---- the whole life of a one-node swarm, with both CLIs ----------------------

@pytest.mark.parametrize("cli", CLIS)
def test_swarm_lifecycle(node, cli):
    n = node
    p = swarm_init(n, n.addr, cli=cli)
    out = ok(p)
    info = swarm_info(n)
    nid, cid = info["NodeID"], info["Cluster"]["ID"]
    assert SWARM_ID_RE.match(nid) and SWARM_ID_RE.match(cid) and nid != cid
    worker, manager = tokens(n, cli)
    # (CLI 20.10 ends with one more empty line than CLI 28.)
    assert out.rstrip("\n") + "\n" == ("Swarm initialized: current node (%s) is now a manager.\n\n"
                   "To add a worker to this swarm, run the following command:\n\n"
                   "    docker swarm join --token %s %s:2377\n\n"
                   "To add a manager to this swarm, run 'docker swarm join-token manager' "
                   "and follow the instructions.\n" % (nid, worker, n.addr))
    assert info["LocalNodeState"] == "active" and info["ControlAvailable"] is True
    assert info["NodeAddr"] == n.addr
    assert info["RemoteManagers"] == [{"NodeID": nid, "Addr": n.addr + ":2377"}]
    assert (info["Nodes"], info["Managers"]) == (1, 1)

    # node ls: this node, ready, active, the leader.
    rows = node_rows(n, cli)
    assert rows == [[nid, "*", os.uname().nodename, "Ready", "Active", "Leader", "0.1.0"]]
    assert ok(n.docker("node", "ls", "-q", cli=cli)) == nid + "\n"

    # Tokens: one CA digest (of the TrustRoot PEM), two secrets.
    trust_root = n.request("GET", "/v1.41/swarm").json()["TLSInfo"]["TrustRoot"]
    mw, mm = JOIN_TOKEN_RE.match(worker), JOIN_TOKEN_RE.match(manager)
    assert mw and mm and mw.group(1) == mm.group(1) == token_digest_of(trust_root)
    assert mw.group(2) != mm.group(2)
    version = n.request("GET", "/v1.41/swarm").json()["Version"]["Index"]
    out = ok(n.docker("swarm", "join-token", "--rotate", "worker", cli=cli))
    worker2, manager2 = tokens(n, cli)
    assert out.startswith("Successfully rotated worker join token.\n\n")
    assert "docker swarm join --token %s %s:2377" % (worker2, n.addr) in out
    assert worker2 != worker and manager2 == manager
    assert JOIN_TOKEN_RE.match(worker2).group(1) == mw.group(1)
    assert n.request("GET", "/v1.41/swarm").json()["Version"]["Index"] > version
    ok(n.docker("swarm", "join-token", "--rotate", "manager", cli=cli))
    worker3, manager3 = tokens(n, cli)
    assert worker3 == worker2 and manager3 != manager
    assert JOIN_TOKEN_RE.match(manager3).group(1) == mw.group(1)

    # node update: availability and labels, through the CLI's read-modify-write.
    before = node_obj(n)["Version"]["Index"]
    assert ok(n.docker("node", "update", "--availability", "drain", "--label-add", "zone=a",
                       "--label-add", "tier=db", nid, cli=cli)) == nid + "\n"
    spec = node_obj(n)["Spec"]
    assert spec == {"Labels": {"zone": "a", "tier": "db"}, "Role": "manager",
                    "Availability": "drain"}
    assert node_rows(n, cli)[0][4] == "Drain"
    ok(n.docker("node", "update", "--availability", "pause", "--label-rm", "tier", nid, cli=cli))
    after = node_obj(n)
    assert after["Spec"] == {"Labels": {"zone": "a"}, "Role": "manager", "Availability": "pause"}
    assert after["Version"]["Index"] > before
    assert node_rows(n, cli)[0][4] == "Pause"

    # kill -9 and restart: same identity, cluster, tokens and labels.
    state = swarm_state(n)
    harness.restart_node(n, kill9=True)
    wait_swarm_leader(n)
    assert swarm_state(n) == state
    assert tokens(n, cli) == (worker3, manager3)
    assert node_rows(n, cli) == [[nid, "*", os.uname().nodename, "Ready", "Pause", "Leader",
                                  "0.1.0"]]
    # ... and it still takes writes.
    ok(n.docker("node", "update", "--availability", "active", nid, cli=cli))
    assert node_obj(n)["Spec"]["Availability"] == "active"

    # leave --force: inactive, state wiped; init again makes a new swarm.
    assert ok(n.docker("swarm", "leave", "--force", cli=cli)) == "Node left the swarm.\n"
    assert swarm_info(n) == INACTIVE
    assert "Swarm: inactive\n" in ok(n.docker("info", cli=cli))
    assert not os.path.exists(os.path.join(n.data_root, "swarm", "state"))
    daemon_error(n.docker("node", "ls", cli=cli), NOT_MANAGER_INACTIVE)
    ok(swarm_init(n, n.addr, cli=cli))
    info = swarm_info(n)
    assert info["NodeID"] != nid and info["Cluster"]["ID"] != cid
    assert SWARM_ID_RE.match(info["NodeID"]) and SWARM_ID_RE.match(info["Cluster"]["ID"])
    new_worker, new_manager = tokens(n, cli)
    assert JOIN_TOKEN_RE.match(new_worker).group(1) != mw.group(1)  # a new root CA
    assert node_obj(n)["Spec"] == {"Labels": {}, "Role": "manager", "Availability": "active"}
    ok(n.docker("swarm", "leave", "--force", cli=cli))
    assert n.stop() == 0, n.logtext()


# ---- errors outside a swarm ---------------------------------------------------

def test_api_errors_outside_swarm(node):
    n = node
    for method, path, body in [("GET", "/v1.41/swarm", None), ("GET", "/v1.41/nodes", None),
                               ("GET", "/v1.41/nodes/x", None), ("DELETE", "/v1.41/nodes/x", None),
                               ("GET", "/v1.41/swarm/unlockkey", None),
                               ("POST", "/v1.41/swarm/update?version=1", "{}"),
                               ("POST", "/v1.41/nodes/x/update?version=1", "{}"),
                               ("POST", "/v1.41/swarm/unlock", '{"UnlockKey":"SWMKEY-1-x"}'),
                               ("GET", "/v1.41/nodes?filters=%7B%22x%22%3A%7B%22y%22%3Atrue%7D%7D",
                                None)]:
        r = n.request(method, path, body=body, headers=JSON if body else None)
        assert api_error(r) == (503, NOT_MANAGER_INACTIVE), (method, path)
    r = n.request("POST", "/v1.41/swarm/leave")
    assert api_error(r) == (503, "This node is not part of a swarm")
    r = n.request("POST", "/v1.41/swarm/leave?force=1")
    assert api_error(r) == (503, "This node is not part of a swarm")
    # dockerd reads the body, then the version, and only then asks SwarmKit.
    assert api_error(post(n, "/v1.41/swarm/update", {})) == (
        400, "invalid swarm version '': strconv.ParseUint: parsing \"\": invalid syntax")
    assert api_error(post(n, "/v1.41/nodes/x/update", {})) == (
        400, "invalid node version '': strconv.ParseUint: parsing \"\": invalid syntax")
    for path in ("/v1.41/swarm/update?version=1", "/v1.41/nodes/x/update?version=1",
                 "/v1.41/swarm/unlock", "/v1.41/swarm/init", "/v1.41/swarm/join"):
        assert api_error(post(n, path, "")) == (400, "got EOF while reading request body"), path
        assert api_error(post(n, path, "{bad")) == (
            400, "invalid character 'b' looking for beginning of object key string"), path
    assert api_error(post(n, "/v1.41/swarm/init", "[]")) == (
        400, "json: cannot unmarshal array into Go value of type swarm.InitRequest")
    assert swarm_info(n) == INACTIVE


@pytest.mark.parametrize("cli", CLIS)
def test_cli_errors_outside_swarm(node, cli):
    daemon_error(node.docker("swarm", "leave", cli=cli), "This node is not part of a swarm")
    daemon_error(node.docker("swarm", "leave", "--force", cli=cli),
                 "This node is not part of a swarm")
    daemon_error(node.docker("node", "ls", cli=cli), NOT_MANAGER_INACTIVE)
    daemon_error(node.docker("swarm", "join-token", "worker", cli=cli), NOT_MANAGER_INACTIVE)
    p = node.docker("swarm", "unlock-key", cli=cli)
    assert p.returncode == 1 and p.stderr == (
        "could not fetch unlock key: Error response from daemon: %s\n" % NOT_MANAGER_INACTIVE)
    p = node.docker("swarm", "unlock", cli=cli, input="x\n")
    assert p.returncode == 1 and p.stderr == "Error: This node is not part of a swarm\n"


# ---- errors inside a swarm ------------------------------------------------------

def test_api_errors_in_swarm(node):
    n = node
    ok(swarm_init(n, n.addr))
    nid = swarm_info(n)["NodeID"]
    state = swarm_state(n)
    sv = state["swarm"]["Version"]["Index"]
    nv = node_obj(n)["Version"]["Index"]
    spec = state["swarm"]["Spec"]
    nspec = {"Labels": {}, "Role": "manager", "Availability": "active"}

    r = post(n, "/v1.41/swarm/init", {"ListenAddr": n.addr + ":2377", "AdvertiseAddr": n.addr})
    assert api_error(r) == (503, ALREADY_IN_SWARM)
    for q in ("", "?force=0", "?force=False", "?force=false", "?force=no"):
        r = n.request("POST", "/v1.41/swarm/leave" + q)
        assert api_error(r) == (503, LEAVE_LAST_MANAGER), q
    out_of_seq = (500, "rpc error: code = Unknown desc = update out of sequence")
    assert api_error(post(n, "/v1.41/swarm/update?version=%d" % (sv - 1), spec)) == out_of_seq
    assert api_error(post(n, "/v1.41/swarm/update?version=%d" % (sv + 7), spec)) == out_of_seq
    assert api_error(post(n, "/v1.41/nodes/%s/update?version=%d" % (nid, nv - 1), nspec)) \
        == out_of_seq
    assert api_error(post(n, "/v1.41/swarm/update", spec)) == (
        400, "invalid swarm version '': strconv.ParseUint: parsing \"\": invalid syntax")
    assert api_error(post(n, "/v1.41/swarm/update?version=abc", spec)) == (
        400, "invalid swarm version 'abc': strconv.ParseUint: parsing \"abc\": invalid syntax")
    assert api_error(post(n, "/v1.41/nodes/%s/update" % nid, nspec)) == (
        400, "invalid node version '': strconv.ParseUint: parsing \"\": invalid syntax")
    assert api_error(post(n, "/v1.41/swarm/update?version=%d" % sv, dict(spec, Name="x"))) == (
        400, 'swarm spec must be named "default"')
    # Unknown nodes (a spec error comes before the lookup, as in dockerd).
    for method, path in (("GET", "/v1.41/nodes/nosuch"), ("DELETE", "/v1.41/nodes/nosuch"),
                         ("DELETE", "/v1.41/nodes/nosuch?force=1")):
        assert api_error(n.request(method, path)) == (404, "node nosuch not found")
    assert api_error(post(n, "/v1.41/nodes/nosuch/update?version=%d" % nv, nspec)) == (
        404, "node nosuch not found")
    assert api_error(post(n, "/v1.41/nodes/nosuch/update?version=%d" % nv, {})) == (
        400, 'invalid Role: ""')
    path = "/v1.41/nodes/%s/update?version=%d" % (nid, nv)
    assert api_error(post(n, path, dict(nspec, Availability="bogus"))) == (
        400, 'invalid Availability: "bogus"')
    assert api_error(post(n, path, dict(nspec, Labels={"a": 1}))) == (
        400, "json: cannot unmarshal number into Go struct field NodeSpec.Labels of type string")
    # The only manager: no removal (even forced), no demotion.
    for q in ("", "?force=1", "?force=true"):
        r = n.request("DELETE", "/v1.41/nodes/%s%s" % (nid, q))
        assert api_error(r) == (400, "rpc error: code = FailedPrecondition desc = node %s is a "
                                "cluster manager and is a member of the raft cluster. It must be "
                                "demoted to worker before removal" % nid), q
    assert api_error(post(n, path, dict(nspec, Role="worker"))) == (
        400, "rpc error: code = FailedPrecondition desc = attempting to demote the last "
             "manager of the swarm")
    # Filters and bodies.
    r = n.request("GET", "/v1.41/nodes?filters=%7B%22x%22%3A%7B%22y%22%3Atrue%7D%7D")
    assert api_error(r) == (400, "Invalid filter 'x'")
    r = n.request("GET", "/v1.41/nodes?filters=%7B%22role%22%3A%7B%22bogus%22%3Atrue%7D%7D")
    # dockerd passes this one (and bad filter JSON) through as a plain 500.
    assert api_error(r) == (500, "Invalid role filter: 'bogus'")
    for body, msg in (("{bad", "invalid character 'b' looking for beginning of object key string"),
                      ("{", "unexpected EOF"), ("", "got EOF while reading request body"),
                      ("[]", "json: cannot unmarshal array into Go value of type swarm.Spec")):
        assert api_error(post(n, "/v1.41/swarm/update?version=%d" % sv, body)) == (400, msg)
    assert api_error(post(n, path, "[]")) == (
        400, "json: cannot unmarshal array into Go value of type swarm.NodeSpec")
    assert api_error(post(n, path, "{bad")) == (
        400, "invalid character 'b' looking for beginning of object key string")
    # Nothing above changed anything.
    assert swarm_state(n) == state

    # The unlock key: empty without autolock; a SWMKEY-1- key with it.
    assert api_error(post(n, "/v1.41/swarm/unlock", {"UnlockKey": "SWMKEY-1-x"})) == (
        409, "swarm is not locked")
    r = n.request("GET", "/v1.41/swarm/unlockkey")
    assert (r.status, r.body) == (200, b'{"UnlockKey":""}\n')
    out = ok(n.docker("swarm", "update", "--autolock"))
    key = n.request("GET", "/v1.41/swarm/unlockkey").json()["UnlockKey"]
    assert UNLOCK_KEY_RE.match(key), key
    assert "\n\n    %s\n\n" % key in out
    assert n.request("GET", "/v1.41/swarm").json()["Spec"]["EncryptionConfig"] == {
        "AutoLockManagers": True}
    assert ok(n.docker("swarm", "unlock-key", "-q")) == key + "\n"
    ok(n.docker("swarm", "unlock-key", "--rotate"))
    key2 = n.request("GET", "/v1.41/swarm/unlockkey").json()["UnlockKey"]
    assert UNLOCK_KEY_RE.match(key2) and key2 != key
    assert api_error(post(n, "/v1.41/swarm/unlock", {"UnlockKey": key2})) == (
        409, "swarm is not locked")
    ok(n.docker("swarm", "update", "--autolock=false"))
    assert n.request("GET", "/v1.41/swarm/unlockkey").json() == {"UnlockKey": ""}
    ok(n.docker("swarm", "leave", "--force"))


@pytest.mark.parametrize("cli", CLIS)
def test_cli_errors_in_swarm(node, cli):
    n = node
    ok(swarm_init(n, n.addr, cli=cli))
    nid = swarm_info(n)["NodeID"]
    daemon_error(swarm_init(n, n.addr, cli=cli), ALREADY_IN_SWARM)
    daemon_error(n.docker("swarm", "leave", cli=cli), LEAVE_LAST_MANAGER)
    msg = ("rpc error: code = FailedPrecondition desc = node %s is a cluster manager and is a "
           "member of the raft cluster. It must be demoted to worker before removal" % nid)
    daemon_error(n.docker("node", "rm", nid, cli=cli), msg)
    daemon_error(n.docker("node", "rm", "--force", nid, cli=cli), msg)
    daemon_error(n.docker("node", "demote", nid, cli=cli),
                 "rpc error: code = FailedPrecondition desc = attempting to demote the last "
                 "manager of the swarm")
    p = n.docker("node", "rm", "nosuchnode", cli=cli)
    if cli == harness.CLI20:  # CLI 20.10 words the daemon's 404 itself
        assert p.returncode == 1 and p.stderr == "Error: No such node: nosuchnode\n"
    else:
        daemon_error(p, "node nosuchnode not found")
    daemon_error(n.docker("node", "ls", "--filter", "x=y", cli=cli), "Invalid filter 'x'")
    p = n.docker("swarm", "unlock", cli=cli, input="x\n")
    assert p.returncode == 1 and p.stderr == "Error: swarm is not locked\n"
    p = n.docker("swarm", "unlock-key", cli=cli)
    assert p.returncode == 1 and p.stderr == "no unlock key is set\n"
    assert ok(n.docker("node", "promote", nid, cli=cli)) == "Node %s is already a manager.\n" % nid
    assert node_rows(n, cli)[0][:2] == [nid, "*"]
    ok(n.docker("swarm", "leave", "--force", cli=cli))


# ---- raft: snapshot + log restore, plain restart --------------------------------

def test_state_restored_from_raft_snapshot_and_log(node):
    n = node
    ok(swarm_init(n, n.addr))
    assert ok(n.docker("swarm", "update", "--snapshot-interval", "50")) == "Swarm updated.\n"
    sw = n.request("GET", "/v1.41/swarm").json()
    assert sw["Spec"]["Raft"]["SnapshotInterval"] == 50
    assert "   Snapshot Interval: 50\n" in ok(n.docker("info"))
    nid = swarm_info(n)["NodeID"]
    # More than 50 raft entries: label writes, each with the version it read.
    for i in range(60):
        cur = node_obj(n, nid)
        spec = dict(cur["Spec"], Labels=dict(cur["Spec"]["Labels"], **{"k%02d" % i: str(i)}))
        r = post(n, "/v1.41/nodes/%s/update?version=%d" % (nid, cur["Version"]["Index"]), spec)
        assert r.status == 200 and r.body == b"", r
    ok(n.docker("swarm", "join-token", "--rotate", "worker"))
    state = swarm_state(n)
    labels = state["nodes"][0]["Spec"]["Labels"]
    assert labels == {"k%02d" % i: str(i) for i in range(60)}
    assert state["nodes"][0]["Version"]["Index"] > 60
    raft = os.path.join(n.data_root, "swarm", "raft")
    snaps = [f for f in os.listdir(raft) if f.startswith("snapshot-") and not f.endswith(".meta")]
    assert snaps, os.listdir(raft)
    # c-raft's names: snapshot-<term>-<index>-<timestamp>.
    assert max(int(f.split("-")[2]) for f in snaps) >= 50, snaps

    # Plain restart: the store is kept.
    assert harness.restart_node(n) == 0, n.logtext()
    wait_swarm_leader(n)
    assert swarm_state(n) == state

    # Without the store, raft's snapshot and log rebuild the same state.
    store = os.path.join(n.data_root, "swarm", "store")
    assert os.path.isdir(store)
    assert harness.restart_node(n, between=lambda: shutil.rmtree(store)) == 0, n.logtext()
    assert os.path.isdir(store)  # rebuilt
    wait_swarm_leader(n)
    assert swarm_state(n) == state
    # Still writable, and versions keep growing from where they were.
    cur = node_obj(n, nid)
    r = post(n, "/v1.41/nodes/%s/update?version=%d" % (nid, cur["Version"]["Index"]),
             dict(cur["Spec"], Availability="drain"))
    assert r.status == 200, r
    assert node_obj(n, nid)["Version"]["Index"] > cur["Version"]["Index"]
    ok(n.docker("swarm", "leave", "--force"))
    assert n.stop() == 0, n.logtext()
