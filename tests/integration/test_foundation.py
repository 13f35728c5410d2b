"""Issue 2: swarmd answers the Engine API; managed containerd; lifecycle."""
import json
import os
import signal
import subprocess
import time

import pytest

import harness
from harness import CLIS, CLI28, CLI20

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def sample(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


@pytest.mark.parametrize("cli", CLIS)
def test_docker_version_shows_swarmd_server(node, cli):
    p = node.docker("version", cli=cli)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    server = p.stdout.split("Server:", 1)[1]
    assert "Version:          0.1.0" in server
    assert "API version:      1.41 (minimum version 1.12)" in server
    assert "containerd:" in server


@pytest.mark.parametrize("cli", CLIS)
def test_docker_info_exits_clean(node, cli):
    p = node.docker("info", cli=cli)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert "Swarm: inactive" in p.stdout
    assert "Server Version: 0.1.0" in p.stdout


@pytest.mark.parametrize("cli", CLIS)
def test_docker_ps_and_images(node, cli):
    for args in (["ps"], ["ps", "-a"], ["images"]):
        p = node.docker(*args, cli=cli)
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""


def test_both_clis_present():
    assert CLI28 in CLIS and CLI20 in CLIS, "tests need docker CLI 28.2 and 20.10"


def test_info_has_every_key_of_dockerd(node):
    r = node.request("GET", "/v1.41/info")
    assert r.status == 200
    info = r.json()
    missing = set(sample("info-swarm-inactive.json")) - set(info)
    assert not missing, missing
    assert info["Swarm"] == sample("info-swarm-inactive.json")["Swarm"]
    assert info["DockerRootDir"] == node.data_root
    assert info["NCPU"] == os.cpu_count()
    assert isinstance(info["MemTotal"], int) and info["MemTotal"] > 0
    for pair in info["DriverStatus"]:
        assert len(pair) == 2


def test_version_has_every_key_of_dockerd(node):
    v = node.request("GET", "/version").json()
    ref = sample("version.json")
    assert set(ref) <= set(v)
    assert v["ApiVersion"] == "1.41" and v["MinAPIVersion"] == "1.12"
    engine = [c for c in v["Components"] if c["Name"] == "Engine"][0]
    assert set(ref["Components"][0]["Details"]) <= set(engine["Details"])
    names = [c["Name"] for c in v["Components"]]
    assert "containerd" in names and "runc" in names


def test_ping_head_and_get(node):
    for method in ("HEAD", "GET"):
        r = node.request(method, "/_ping")
        assert r.status == 200
        assert r.headers["Api-Version"] == "1.41"
        assert r.headers["Ostype"] == "linux"
        assert r.headers["Docker-Experimental"] == "false"
        assert r.headers["Server"].startswith("swarmd/")
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
        assert r.body == (b"OK" if method == "GET" else b"")
    assert node.request("GET", "/v1.41/_ping").body == b"OK"


def test_version_prefix_rules(node):
    r = node.request("GET", "/v1.99/version")
    assert r.status == 400
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"message": "client version 1.99 is too new. Maximum supported API version is 1.41"}
    r = node.request("GET", "/v1.11/version")
    assert r.status == 400
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.body.decode() == ("client version 1.11 is too old. Minimum supported API version is 1.12, "
                               "please upgrade your client to a newer version")
    for path in ("/version", "/v1.41/version", "/v1.24/version", "/v1.12/info"):
        assert node.request("GET", path).status == 200, path


def test_errors_are_docker_shaped(node):
    r = node.request("GET", "/v1.41/nosuch/route")
    assert r.status == 404
    assert r.headers["Content-Type"] == "application/json"
    assert r.body == b'{"message":"page not found"}\n'
    assert r.headers["Api-Version"] == "1.41"


def test_body_limit_answers_413(node):
    conn = harness.UnixHTTPConnection(node.sock)
    conn.putrequest("POST", "/v1.41/services/create")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(64 * 1024 * 1024))
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 413
    assert json.loads(r.read())["message"]
    conn.close()


def test_large_legal_body_is_read(node):
    # A 1000 KiB config is ~1.4 MB of JSON: it must reach the router (404
    # here, as no handler takes it yet) rather than be refused as too large.
    body = json.dumps({"Data": "A" * (1400 * 1024)})
    r = node.request("POST", "/v1.41/nosuch", body=body, headers={"Content-Type": "application/json"})
    assert r.status == 404


def test_keep_alive_serves_many_requests(node):
    conn = harness.UnixHTTPConnection(node.sock)
    for _ in range(200):
        r = node.request("GET", "/v1.41/_ping", conn=conn)
        assert r.status == 200
    conn.close()


def test_sigterm_stops_cleanly(cluster):
    n = cluster.node()
    ctd = n.containerd_pid()
    assert ctd and harness.pid_alive(ctd)
    assert n.stop() == 0, n.logtext()
    assert not os.path.exists(n.sock)
    assert harness.wait_gone(ctd, 15), "managed containerd still running"
    assert "swarmd stopped" in n.logtext()


def test_sigint_stops_cleanly(cluster):
    n = cluster.node()
    n.proc.send_signal(signal.SIGINT)
    assert n.proc.wait(30) == 0, n.logtext()
    n.proc = None
    assert not os.path.exists(n.sock)


def test_restart_after_kill9_replaces_orphaned_containerd(cluster):
    n = cluster.node()
    old = n.containerd_pid()
    n.kill9()
    assert harness.pid_alive(old), "containerd should outlive a kill -9 of swarmd"
    n.start()
    new = n.containerd_pid()
    assert new != old
    assert harness.wait_gone(old, 15)
    p = n.docker("info")
    assert p.returncode == 0 and p.stderr == ""
    assert "swarmd.local/pause:1" in harness.ctr(n.containerd_sock(), "images", "ls", "-q").stdout


def test_second_swarmd_on_same_data_root_refused(cluster):
    n = cluster.node()
    p = subprocess.run([harness.SWARMD, "-H", "unix://" + n.sock + "2", "--data-root", n.data_root,
                        "--exec-root", n.exec_root + "2"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, **harness.SANITIZER_ENV))
    assert p.returncode == 1
    assert "in use by another swarmd" in p.stderr
    assert n.request("GET", "/_ping").status == 200


def test_managed_containerd_is_private_and_has_pause_image(node):
    cfg = open(os.path.join(node.data_root, "containerd", "config.toml")).read()
    assert "restrict_oom_score_adj = true" in cfg
    assert 'sandbox_image = "swarmd.local/pause:1"' in cfg
    assert node.data_root in cfg and node.exec_root in cfg
    out = harness.ctr(node.containerd_sock(), "images", "ls", "-q").stdout
    assert "swarmd.local/pause:1" in out


def test_external_containerd(cluster):
    sock, pid = harness.start_containerd(cluster.root, cluster)
    n = cluster.node(containerd=sock)
    p = n.docker("version")
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(os.path.join(n.exec_root, "containerd"))
    assert n.stop() == 0
    assert harness.pid_alive(pid), "swarmd must not stop an external containerd"


def test_config_file_and_conflicts(cluster):
    cfg = os.path.join(cluster.root, "daemon.json")
    with open(cfg, "w") as f:
        json.dump({"labels": ["zone=a", "tier=test"]}, f)
    n = cluster.node(extra_args=["--config-file", cfg])
    info = n.request("GET", "/info").json()
    assert info["Labels"] == ["zone=a", "tier=test"]
    with open(cfg, "w") as f:
        json.dump({"data-root": "/tmp/elsewhere"}, f)
    p = subprocess.run([harness.SWARMD, "--data-root", "/tmp/x", "--config-file", cfg],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "specified both as a flag and in the configuration file: data-root" in p.stderr


def test_help_and_version_flags():
    p = subprocess.run([harness.SWARMD, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for flag in ("--host", "--data-root", "--exec-root", "--containerd", "--log-level",
                 "--config-file", "--version"):
        assert flag in p.stdout
    p = subprocess.run([harness.SWARMD, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and "swarmd version 0.1.0" in p.stdout
    p = subprocess.run([harness.SWARMD, "--bogus"], capture_output=True, text=True)
    assert p.returncode == 1 and "--bogus" in p.stderr


def test_python_sdk_version_and_info(node):
    import docker
    client = docker.DockerClient(base_url="unix://" + node.sock, version="auto")
    assert client.version()["ApiVersion"] == "1.41"
    assert client.info()["Swarm"]["LocalNodeState"] == "inactive"
    assert client.ping() is True
    client.close()
