"""The containers of a node's tasks through the Engine API: docker ps,
inspect, logs and exec with both docker CLIs, the raw API (the hijacked
101 exec stream byte for byte, its non-upgraded form, exec inspect) and
the Python SDK.

One swarm node (127.0.0.191) serves the module, with two services made
once: `web` (a task that prints to stdout and stderr, then ticks) and
`done` (a task that exits at once, with 0: a failed task with restart
condition none trips a UBSan report in orchestrator/updater.c, to be fixed
there, and is not restarted)."""
import json
import re
import socket
import subprocess
import time

import pytest

import harness
from harness import CLIS, api_error, wait_for

ADDR = "127.0.0.191"
WEB_CMD = ("echo hello; echo oops >&2; i=0; "
           "while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")
PS_HEADER = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
NAME_RE = r"^web\.1\.[0-9a-z]{25}$"


class Env:
    pass


@pytest.fixture(scope="module")
def env():
    c = harness.Cluster()
    node_id = None
    try:
        n = harness.swarm_node(c, ADDR)
        assert harness.swarm_init(n, ADDR).returncode == 0
        node_id = harness.swarm_info(n)["NodeID"]
        n.load_busybox()
        ok(n.docker("service", "create", "-d", "--name", "web", "busybox", "sh", "-c", WEB_CMD))
        ok(n.docker("service", "create", "-d", "--name", "done", "--restart-condition", "none",
                    "busybox", "sh", "-c", "echo bye; exit 0"))
        e = Env()
        e.n = n
        e.task = harness.wait_running(n, "web", 1)[0]
        e.cid = e.task["Status"]["ContainerStatus"]["ContainerID"]
        e.name = "web.1." + e.task["ID"]
        wait_for(lambda: [t for t in harness.list_tasks(n, "done")
                          if t["Status"]["State"] == "complete"], 60, "the done task to exit")
        e.done = [t for t in harness.list_tasks(n, "done")][0]
        e.done_cid = e.done["Status"]["ContainerStatus"]["ContainerID"]
        wait_for(lambda: b"tick 3" in logs_raw(n, e.cid), 30, "web's output")
        yield e
        harness.remove_services(n)
        harness.wait_node_empty(n)
        assert n.stop() == 0, n.logtext()
    finally:
        c.cleanup()
        harness.drop_cni_rules(node_id)


def ok(p):
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout


def logs_raw(n, ref, query="stdout=1&stderr=1"):
    r = n.request("GET", "/v1.41/containers/%s/logs?%s" % (ref, query))
    assert r.status == 200, r
    return r.body


def frames(data):
    """Docker's multiplexed stream as (stream, bytes) pairs."""
    out = []
    while data:
        assert len(data) >= 8 and data[1:4] == b"\0\0\0", data[:16]
        n = int.from_bytes(data[4:8], "big")
        out.append((data[0], data[8:8 + n]))
        assert len(data) >= 8 + n
        data = data[8 + n:]
    return out


def columns(line):
    return re.split(r"\s{2,}", line.strip())


# ---- ps ----------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_docker_ps(env, cli):
    n = env.n
    lines = ok(n.docker("ps", cli=cli)).splitlines()
    assert columns(lines[0]) == PS_HEADER
    assert len(lines) == 2
    row = columns(lines[1])
    assert row[0] == env.cid[:12]
    assert row[1] == "busybox:latest"
    assert row[2].startswith('"sh -c \'echo hello')
    assert re.match(r"^Up (1 second|\d+ seconds|Less than a second|About a minute)$",
                    row[4]), row
    assert row[-1] == env.name
    assert ok(n.docker("ps", "-q", "--no-trunc", cli=cli)) == env.cid + "\n"
    all_ids = ok(n.docker("ps", "-aq", "--no-trunc", cli=cli)).split()
    assert sorted(all_ids) == sorted([env.cid, env.done_cid])
    done = [columns(x) for x in ok(n.docker("ps", "-a", cli=cli)).splitlines()
            if env.done_cid[:12] in x][0]
    assert re.match(r"^Exited \(0\) ", done[4]), done
    assert ok(n.docker("ps", "-q", "--filter", "name=web", cli=cli)) == env.cid[:12] + "\n"
    assert ok(n.docker("ps", "-q", "--filter", "name=nomatch", cli=cli)) == ""
    assert ok(n.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=web",
                       cli=cli)) == env.cid[:12] + "\n"
    assert ok(n.docker("ps", "-q", "--filter", "status=exited", cli=cli)) == \
        env.done_cid[:12] + "\n"
    assert len(ok(n.docker("ps", "-q", "-n", "1", cli=cli)).split()) == 1
    p = n.docker("ps", "--filter", "bogus=1", cli=cli)
    assert p.returncode == 1
    assert p.stderr == "Error response from daemon: Invalid filter 'bogus'\n"


def test_containers_api(env):
    n = env.n
    items = harness.api_json(n, "GET", "/v1.41/containers/json")
    assert [i["Id"] for i in items] == [env.cid]
    c = items[0]
    assert list(c) == ["Id", "Names", "Image", "ImageID", "Command", "Created", "Ports",
                       "Labels", "State", "Status", "HostConfig", "NetworkSettings", "Mounts"]
    assert c["Names"] == ["/" + env.name]
    assert c["Image"] == "busybox:latest" and c["ImageID"].startswith("sha256:")
    assert c["Command"] == "sh -c '%s'" % WEB_CMD
    assert c["State"] == "running" and c["Status"].startswith("Up ")
    assert c["Labels"]["com.docker.swarm.task.id"] == env.task["ID"]
    assert c["Labels"]["com.docker.swarm.service.name"] == "web"
    assert (c["Ports"], c["Mounts"]) == ([], [])
    q = harness.query
    assert len(harness.api_json(n, "GET", "/v1.41/containers/json?all=1")) == 2
    assert len(harness.api_json(n, "GET", "/v1.41/containers/json?all=true&limit=1")) == 1
    # The SDK's legacy form; substring of <service>.<slot>.<taskID>.
    for f in ('{"name":["web.1"]}', '{"name":["%s"]}' % env.task["ID"][:10]):
        assert [i["Id"] for i in harness.api_json(
            n, "GET", "/v1.41/containers/json?all=1&filters=" + f)] == [env.cid]
    def without_status(cs):  # "Up N seconds" moves on between two calls
        return [{k: v for k, v in x.items() if k != "Status"} for x in cs]
    assert without_status(harness.api_json(n, "GET", "/v1.41/containers/json?" +
                                           q({"id": [env.cid[:8]]}))) == without_status(items)
    assert harness.api_json(n, "GET", "/v1.41/containers/json?" +
                            q({"is-task": ["false"]})) == []
    assert api_error(n.request("GET", "/v1.41/containers/json?" + q({"status": ["x"]}))) == \
        (400, "Unrecognised filter value for status: x")


# ---- inspect -----------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_docker_inspect(env, cli):
    n = env.n
    for ref in (env.name, env.cid, env.cid[:12]):
        c = json.loads(ok(n.docker("inspect", ref, cli=cli)))[0]
        assert c["Id"] == env.cid and c["Name"] == "/" + env.name
    assert c["State"]["Status"] == "running" and c["State"]["Running"] is True
    assert c["State"]["Pid"] > 0
    assert (c["Path"], c["Args"]) == ("sh", ["-c", WEB_CMD])
    assert c["Config"]["Labels"]["com.docker.swarm.task.name"] == env.name
    assert c["Config"]["Image"] == "busybox:latest" and c["Image"].startswith("sha256:")
    assert c["LogPath"].endswith("/container.log")
    fmt = ok(n.docker("inspect", "-f", "{{.State.Status}} {{.Config.Hostname}}", env.name,
                      cli=cli)).split()
    assert fmt[0] == "running"
    d = json.loads(ok(n.docker("inspect", env.done_cid, cli=cli)))[0]
    assert (d["State"]["Status"], d["State"]["ExitCode"]) == ("exited", 0)
    assert d["State"]["FinishedAt"] != "0001-01-01T00:00:00Z"
    p = n.docker("inspect", "nosuch", cli=cli)
    assert p.returncode == 1 and "No such object: nosuch" in p.stderr


def test_inspect_api_errors(env):
    assert api_error(env.n.request("GET", "/v1.41/containers/nosuch/json")) == \
        (404, "No such container: nosuch")
    assert api_error(env.n.request("GET", "/v1.41/containers/%s/logs?stdout=1" % "nosuch")) \
        == (404, "No such container: nosuch")


# ---- logs --------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_docker_logs(env, cli):
    n = env.n
    p = n.docker("logs", env.name, cli=cli)
    assert p.returncode == 0
    assert p.stdout.startswith("hello\ntick 1\n")
    assert p.stderr == "oops\n"
    lines = ok(n.docker("logs", "--tail", "2", "-t", env.cid[:12], cli=cli)).splitlines()
    assert len(lines) == 2
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick \d+$", x) for x in lines)
    p = n.docker("logs", env.done_cid, cli=cli)
    assert (p.returncode, p.stdout) == (0, "bye\n")


def test_logs_api_frames(env):
    f = frames(logs_raw(env.n, env.cid))
    # stdout and stderr reach the log through separate pipes: only the
    # order within each stream is fixed.
    out = [d for s, d in f if s == 1]
    assert [d for s, d in f if s == 2] == [b"oops\n"]
    assert out[0] == b"hello\n" and all(d.startswith(b"tick ") for d in out[1:])
    assert frames(logs_raw(env.n, env.cid, "stderr=1")) == [(2, b"oops\n")]
    assert frames(logs_raw(env.n, env.done_cid, "stdout=1&tail=1")) == [(1, b"bye\n")]
    assert api_error(env.n.request("GET", "/v1.41/containers/%s/logs" % env.cid)) == \
        (400, "Bad parameters: you must choose at least one stream")


def test_logs_follow(env):
    """--follow keeps sending new lines; it ends by itself for an exited
    container."""
    n = env.n
    proc = subprocess.Popen([harness.CLI28, "-H", "unix://" + n.sock, "logs", "-f",
                             "--tail", "1", env.cid], stdout=subprocess.PIPE, text=True)
    try:
        first = int(proc.stdout.readline().split()[1])
        seen = [int(proc.stdout.readline().split()[1]) for _ in range(3)]
        assert seen == [first + 1, first + 2, first + 3]
    finally:
        proc.kill()
        proc.wait()
    p = n.docker("logs", "-f", env.done_cid, timeout=20)
    assert (p.returncode, p.stdout) == (0, "bye\n")


# ---- exec --------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_docker_exec(env, cli):
    n = env.n
    hostname = ok(n.docker("exec", env.name, "cat", "/etc/hostname", cli=cli))
    assert hostname == env.task["ID"][:12] + "\n"
    p = n.docker("exec", env.cid[:12], "sh", "-c", "echo out; echo err >&2; exit 7", cli=cli)
    assert (p.returncode, p.stdout, p.stderr) == (7, "out\n", "err\n")
    p = n.docker("exec", env.name, "nosuchcmd", cli=cli)
    assert p.returncode == 126 and "executable file not found" in p.stdout + p.stderr
    assert ok(n.docker("exec", "-d", env.name, "sh", "-c", "echo d > /tmp/d", cli=cli)) == ""
    assert wait_for(lambda: n.docker("exec", env.name, "cat", "/tmp/d", cli=cli).stdout, 10) \
        == "d\n"
    p = n.docker("exec", "nosuch", "true", cli=cli)
    assert p.returncode == 1 and "No such container: nosuch" in p.stderr
    p = n.docker("exec", env.done_cid, "true", cli=cli)
    assert p.returncode == 1
    assert "Container %s is not running" % env.done_cid in p.stderr


def exec_create(n, cid, cmd, **kw):
    body = {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True}
    body.update(kw)
    r = n.request("POST", "/v1.41/containers/%s/exec" % cid, body=body)
    assert r.status == 201, r
    assert list(r.json()) == ["Id"]
    return r.json()["Id"]


def hijack(n, exec_id, body=b'{"Detach":false,"Tty":false}'):
    """POST /exec/{id}/start as the CLI does; returns (head, stream)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(n.sock)
    s.sendall(b"POST /v1.41/exec/%s/start HTTP/1.1\r\nHost: api.moby.localhost\r\n"
              b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (exec_id.encode(), len(body), body))
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, stream = data.partition(b"\r\n\r\n")
    return head.decode(), stream


def test_exec_api_hijacked_stream(env):
    n = env.n
    eid = exec_create(n, env.cid, ["sh", "-c", "printf 'a\\nb'; printf 'E' >&2; exit 5"])
    info = harness.api_json(n, "GET", "/v1.41/exec/%s/json" % eid)
    assert (info["Running"], info["ExitCode"], info["ContainerID"]) == (False, None, env.cid)
    assert info["ProcessConfig"] == {"privileged": False, "user": "", "tty": False,
                                     "entrypoint": "sh",
                                     "arguments": ["-c", "printf 'a\\nb'; printf 'E' >&2; exit 5"]}
    head, stream = hijack(n, eid)
    lines = head.split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101 ")
    assert "Content-Type: application/vnd.docker.raw-stream" in lines
    assert stream == b"\x01\0\0\0\0\0\0\x03a\nb\x02\0\0\0\0\0\0\x01E"
    info = harness.api_json(n, "GET", "/v1.41/exec/%s/json" % eid)
    assert (info["Running"], info["ExitCode"]) == (False, 5)
    assert api_error(n.request("POST", "/v1.41/exec/%s/start" % eid, body={})) == \
        (409, "Error: Exec command %s has already run" % eid)
    # A TTY exec: raw bytes, no frames; only stdout attached: no stderr.
    eid = exec_create(n, env.cid, ["sh", "-c", "echo t"], Tty=True)
    assert hijack(n, eid)[1] == b"t\n"
    eid = exec_create(n, env.cid, ["sh", "-c", "echo o; echo e >&2"], AttachStderr=False)
    assert hijack(n, eid)[1] == b"\x01\0\0\0\0\0\0\x02o\n"
    ids = harness.api_json(n, "GET", "/v1.41/containers/%s/json" % env.cid)["ExecIDs"]
    assert eid in ids


def test_exec_api_plain_and_detached(env):
    n = env.n
    eid = exec_create(n, env.cid, ["echo", "plain"])
    r = n.request("POST", "/v1.41/exec/%s/start" % eid, body={"Detach": False})
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/vnd.docker.raw-stream"
    assert r.body == b"\x01\0\0\0\0\0\0\x06plain\n"
    eid = exec_create(n, env.cid, ["sh", "-c", "exit 4"])
    r = n.request("POST", "/v1.41/exec/%s/start" % eid, body={"Detach": True})
    assert (r.status, r.body) == (200, b"")
    info = wait_for(lambda: [i for i in [harness.api_json(n, "GET", "/v1.41/exec/%s/json" % eid)]
                             if i["ExitCode"] is not None], 10)[0]
    assert info["ExitCode"] == 4
    assert api_error(n.request("GET", "/v1.41/exec/nosuch/json")) == \
        (404, "No such exec instance: nosuch")
    assert api_error(n.request("POST", "/v1.41/exec/nosuch/start", body={})) == \
        (404, "No such exec instance: nosuch")
    r = n.request("POST", "/v1.41/containers/%s/exec" % env.cid, body={"Cmd": []})
    assert api_error(r) == (400, "No exec command specified")
    r = n.request("POST", "/v1.41/containers/%s/exec" % env.done_cid, body={"Cmd": ["true"]})
    assert api_error(r) == (409, "Container %s is not running" % env.done_cid)


def test_rmi_of_an_image_in_use(env):
    n = env.n
    image = harness.api_json(n, "GET", "/v1.41/images/busybox/json")["Id"]
    users = {c["Id"] for c in harness.api_json(n, "GET", "/v1.41/containers/json?all=1")}
    r = n.request("DELETE", "/v1.41/images/busybox")
    status, msg = api_error(r)
    m = re.match(r'^conflict: unable to remove repository reference "busybox" \(must force\) '
                 r'- container ([0-9a-f]{12}) is using its referenced image ([0-9a-f]{12})$', msg)
    assert status == 409 and m, msg
    assert any(u.startswith(m.group(1)) for u in users) and image[7:19] == m.group(2)
    assert api_error(n.request("DELETE", "/v1.41/images/%s" % image[7:19])) == \
        (409, "conflict: unable to delete %s (cannot be forced) - image is being used by "
         "running container %s" % (image[7:19], env.cid[:12]))
    assert harness.api_json(n, "GET", "/v1.41/images/busybox/json")["Id"] == image


# ---- the Python SDK ----------------------------------------------------------

def test_sdk_containers(env):
    docker = pytest.importorskip("docker")
    c = docker.DockerClient(base_url="unix://" + env.n.sock, version="1.41")
    running = c.containers.list()
    assert [x.id for x in running] == [env.cid]
    ct = running[0]
    assert (ct.name, ct.status, ct.image.tags) == (env.name, "running", ["busybox:latest"])
    assert ct.labels["com.docker.swarm.service.name"] == "web"
    assert len(c.containers.list(all=True)) == 2
    assert [x.id for x in c.containers.list(filters={"name": "web"})] == [env.cid]
    assert c.containers.get(env.cid[:10]).name == env.name
    r = ct.exec_run("cat /etc/hostname")
    assert (r.exit_code, r.output) == (0, (env.task["ID"][:12] + "\n").encode())
    r = ct.exec_run(["sh", "-c", "echo a; echo b >&2; exit 3"], demux=True)
    assert (r.exit_code, r.output) == (3, (b"a\n", b"b\n"))
    r = ct.exec_run("echo streamed", stream=True)
    assert b"".join(r.output) == b"streamed\n"
    assert ct.logs(tail=1).startswith(b"tick ")
    assert c.containers.get(env.done_cid).logs() == b"bye\n"
    with pytest.raises(docker.errors.NotFound):
        c.containers.get("nosuch")
    c.close()
