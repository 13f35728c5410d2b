"""Images on one swarmd node (its own containerd): docker load (the tar body
streamed into `ctr images import`, never buffered), images, image inspect,
tag, rmi and pull from a local registry on 127.0.0.x over plain HTTP, with
both docker CLIs, the raw Engine API and the Python SDK.

One node (127.0.0.181, outside a swarm: images need none) serves the module;
each test starts from a node holding only busybox:latest."""
import hashlib
import io
import json
import os
import platform
import socket
import subprocess
import tarfile

import pytest

import harness
from harness import CLIS, api_error

ADDR = "127.0.0.181"
REGISTRY = ("127.0.0.185", 5185)
BUSYBOX_ID = None  # set by the fixture: the test image's ID
LOAD_BODY = b'{"stream":"Loaded image: busybox:latest\\n"}\n'
IMAGES_HEADER = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
SUMMARY_KEYS = ["Containers", "Created", "Id", "Labels", "ParentId", "RepoDigests",
                "RepoTags", "SharedSize", "Size", "VirtualSize"]


@pytest.fixture(scope="module")
def node():
    c = harness.Cluster()
    try:
        n = harness.swarm_node(c, ADDR)
        yield n
        assert n.stop() == 0, n.logtext()
    finally:
        c.cleanup()


def image_ids(n):
    return {i["Id"]: i["RepoTags"] for i in harness.api_json(n, "GET", "/v1.41/images/json")}


@pytest.fixture
def nd(node):
    """The module's node with busybox:latest loaded and nothing else."""
    global BUSYBOX_ID
    for img in harness.api_json(node, "GET", "/v1.41/images/json"):
        node.request("DELETE", "/v1.41/images/%s?force=1" % img["Id"])
    ok(node.docker("load", "-q", "-i", harness.busybox_images()["docker"]))
    BUSYBOX_ID = harness.api_json(node, "GET", "/v1.41/images/busybox/json")["Id"]
    return node


def ok(p):
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout


def rows(out):
    lines = out.splitlines()
    assert lines[0].split("  ")[0] == "REPOSITORY"
    return [line.split() for line in lines[1:]]


def raw_post(n, path, body_chunks, headers=()):
    """POSTs a chunked body over a raw socket; returns (status line,
    headers dict, body bytes) of a Content-Length or chunked answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(n.sock)
    head = "POST %s HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n" % path
    head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    s.sendall(head.encode())
    for chunk in body_chunks:
        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    s.sendall(b"0\r\n\r\n")
    f = s.makefile("rb")
    status = f.readline().decode().strip()
    hdrs = {}
    while True:
        line = f.readline().decode().strip()
        if not line:
            break
        k, v = line.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        body = f.read(int(hdrs["content-length"]))
    else:
        body = b""
        while True:
            size = int(f.readline().strip(), 16)
            if size == 0:
                f.readline()
                break
            body += f.read(size)
            f.readline()
    s.close()
    return status, hdrs, body


def file_chunks(path, size=32768):
    with open(path, "rb") as f:
        while True:
            b = f.read(size)
            if not b:
                return
            yield b


def docker_save_tar(path, ref, size):
    """A docker-save archive of one image holding a random file of size
    bytes, labelled big=yes and created 2024-01-02T03:04:05Z."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        t.addfile(info, io.BytesIO(os.urandom(size)))
    layer = layer.getvalue()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["sh"], "Labels": {"big": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }).encode()
    cfg = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": cfg + ".json", "RepoTags": [ref],
                            "Layers": ["layer/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as t:
        for name, data in (("manifest.json", manifest), (cfg + ".json", config),
                           ("layer/layer.tar", layer)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return "sha256:" + cfg


# ---- load --------------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_docker_load(nd, cli):
    nd.request("DELETE", "/v1.41/images/busybox")
    p = nd.docker("load", "-i", harness.busybox_images()["docker"], cli=cli)
    assert (p.returncode, p.stdout, p.stderr) == (0, "Loaded image: busybox:latest\n", "")
    p = nd.docker("load", "-q", "-i", harness.busybox_images()["oci"], cli=cli)
    assert (p.returncode, p.stdout) == (0, "Loaded image: busybox:latest\n")
    assert image_ids(nd) == {BUSYBOX_ID: ["busybox:latest"]}


def test_load_api_stream(nd):
    for quiet in ("1", "0"):
        status, hdrs, body = raw_post(
            nd, "/v1.41/images/load?quiet=" + quiet,
            file_chunks(harness.busybox_images()["docker"]),
            [("Content-Type", "application/x-tar")])
        assert status == "HTTP/1.1 200 OK"
        assert hdrs["content-type"] == "application/json"
        assert body == LOAD_BODY


def test_load_streams_a_body_over_the_buffer_limit(nd, tmp_path):
    """24 MiB is over the 16 MiB the server buffers for other bodies: it
    can only work streamed. The image's label and time come back."""
    tar = str(tmp_path / "big.tar")
    big_id = docker_save_tar(tar, "big:v1", 24 << 20)
    p = nd.docker("load", "-i", tar)
    assert (p.returncode, p.stdout) == (0, "Loaded image: big:v1\n"), p.stderr
    item = [i for i in harness.api_json(nd, "GET", "/v1.41/images/json")
            if i["Id"] == big_id][0]
    assert item["Labels"] == {"big": "yes"}
    assert item["Created"] == 1704164645
    assert item["RepoTags"] == ["big:v1"]
    assert ok(nd.docker("rmi", "big:v1")) == "Untagged: big:v1\nDeleted: %s\n" % big_id


def test_load_bad_tar(nd, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(os.urandom(100000))
    status, _, body = raw_post(nd, "/v1.41/images/load?quiet=1", file_chunks(str(bad)))
    assert status == "HTTP/1.1 200 OK"
    msg = json.loads(body)
    assert set(msg) == {"errorDetail", "error"} and msg["errorDetail"]["message"] == msg["error"]
    for cli in CLIS:
        p = nd.docker("load", "-i", str(bad), cli=cli)
        assert p.returncode == 1 and msg["error"] in p.stderr, p.stderr
    assert image_ids(nd) == {BUSYBOX_ID: ["busybox:latest"]}


def test_load_client_gone_midway(nd):
    """A client that leaves in the middle of the tar: the import is
    abandoned and the daemon serves on."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(nd.sock)
    s.sendall(b"POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: d\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    data = open(harness.busybox_images()["docker"], "rb").read()[:300000]
    s.sendall(b"%x\r\n%s\r\n" % (len(data), data))
    s.close()
    harness.wait_for(lambda: nd.request("GET", "/_ping").status == 200, 10)
    assert image_ids(nd) == {BUSYBOX_ID: ["busybox:latest"]}


# ---- list and inspect --------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_docker_images(nd, cli):
    r = rows(ok(nd.docker("images", cli=cli)))
    assert r == [["busybox", "latest", BUSYBOX_ID[7:19], "56", "years", "ago", r[0][-1]]]
    assert ok(nd.docker("images", "-q", cli=cli)) == BUSYBOX_ID[7:19] + "\n"
    assert ok(nd.docker("images", "-q", "nosuch", cli=cli)) == ""
    assert ok(nd.docker("images", "-q", "busy*", cli=cli)) == BUSYBOX_ID[7:19] + "\n"


def test_images_api(nd):
    items = harness.api_json(nd, "GET", "/v1.41/images/json")
    assert len(items) == 1  # the sandbox image is not shown
    item = items[0]
    assert list(item) == SUMMARY_KEYS
    assert item["Id"] == BUSYBOX_ID and item["RepoTags"] == ["busybox:latest"]
    assert (item["RepoDigests"], item["Labels"], item["ParentId"]) == ([], None, "")
    assert (item["Containers"], item["SharedSize"], item["Created"]) == (-1, -1, 0)
    assert item["Size"] == item["VirtualSize"] > 1000000
    q = harness.query
    assert harness.api_json(nd, "GET", "/v1.41/images/json?" + q({"reference": ["busybox"]})) == items
    assert harness.api_json(nd, "GET", "/v1.41/images/json?" +
                            q({"reference": ["busybox:latest"]})) == items
    assert harness.api_json(nd, "GET", "/v1.41/images/json?" + q({"reference": ["x"]})) == []
    assert harness.api_json(nd, "GET", "/v1.41/images/json?" + q({"dangling": ["true"]})) == []
    assert harness.api_json(nd, "GET", "/v1.41/images/json?" + q({"label": ["nope"]})) == []
    assert api_error(nd.request("GET", "/v1.41/images/json?" + q({"bogus": ["1"]}))) == \
        (400, "Invalid filter 'bogus'")
    # The SDK's legacy filter form.
    assert harness.api_json(nd, "GET", '/v1.41/images/json?filters={"reference":["busybox"]}') == items


def test_image_inspect(nd):
    img = harness.api_json(nd, "GET", "/v1.41/images/busybox/json")
    assert img["Id"] == BUSYBOX_ID
    assert img["RepoTags"] == ["busybox:latest"] and img["RepoDigests"] == []
    assert img["Config"]["Cmd"] == ["sh"] and img["Config"]["Env"][0].startswith("PATH=")
    assert (img["Os"], img["Created"]) == ("linux", "1970-01-01T00:00:00Z")
    assert img["RootFS"]["Type"] == "layers" and len(img["RootFS"]["Layers"]) == 1
    for name in ("busybox:latest", "docker.io/library/busybox", BUSYBOX_ID, BUSYBOX_ID[7:],
                 BUSYBOX_ID[7:19], BUSYBOX_ID[:15]):
        assert harness.api_json(nd, "GET", "/v1.41/images/%s/json" % name)["Id"] == BUSYBOX_ID
    assert api_error(nd.request("GET", "/v1.41/images/nosuch/json")) == \
        (404, "No such image: nosuch:latest")
    assert api_error(nd.request("GET", "/v1.41/images/a/b:c/json")) == \
        (404, "No such image: a/b:c")
    assert api_error(nd.request("GET", "/v1.41/images/UPPER/json")) == \
        (400, "invalid reference format: repository name must be lowercase")
    for cli in CLIS:
        out = json.loads(ok(nd.docker("image", "inspect", "busybox", cli=cli)))
        assert out[0]["Id"] == BUSYBOX_ID
        p = nd.docker("image", "inspect", "nosuch", cli=cli)
        assert p.returncode == 1 and "No such image: nosuch" in p.stderr


# ---- tag and rmi -------------------------------------------------------------

@pytest.mark.parametrize("cli", CLIS)
def test_tag_and_rmi(nd, cli):
    assert ok(nd.docker("tag", "busybox", "mybox:v1", cli=cli)) == ""
    assert ok(nd.docker("tag", BUSYBOX_ID[7:19], "127.0.0.1:5999/me/box", cli=cli)) == ""
    assert image_ids(nd) == {BUSYBOX_ID: ["127.0.0.1:5999/me/box:latest", "busybox:latest",
                                          "mybox:v1"]}
    assert ok(nd.docker("rmi", "mybox:v1", cli=cli)) == "Untagged: mybox:v1\n"
    p = nd.docker("rmi", BUSYBOX_ID[7:19], cli=cli)
    assert p.returncode == 1
    assert p.stderr == ("Error response from daemon: conflict: unable to delete %s (must be "
                        "forced) - image is referenced in multiple repositories\n"
                        % BUSYBOX_ID[7:19])
    assert ok(nd.docker("rmi", "-f", BUSYBOX_ID[7:19], cli=cli)) == (
        "Untagged: 127.0.0.1:5999/me/box:latest\nUntagged: busybox:latest\n"
        "Deleted: %s\n" % BUSYBOX_ID)
    assert image_ids(nd) == {}
    p = nd.docker("rmi", "busybox", cli=cli)
    assert p.returncode == 1
    # CLI 20.10 words a 404 itself.
    assert p.stderr in ("Error response from daemon: No such image: busybox:latest\n",
                        "Error: No such image: busybox\n")


def test_tag_api(nd):
    r = nd.request("POST", "/v1.41/images/busybox/tag?repo=other&tag=t1")
    assert (r.status, r.body) == (201, b"")
    r = nd.request("POST", "/v1.41/images/busybox:latest/tag?repo=other")
    assert r.status == 201
    assert image_ids(nd) == {BUSYBOX_ID: ["busybox:latest", "other:latest", "other:t1"]}
    assert api_error(nd.request("POST", "/v1.41/images/nosuch/tag?repo=x")) == \
        (404, "No such image: nosuch:latest")
    assert api_error(nd.request("POST", "/v1.41/images/busybox/tag?repo=Bad")) == \
        (400, "invalid reference format: repository name must be lowercase")
    assert api_error(nd.request("POST", "/v1.41/images/busybox/tag?repo=x&tag=-no")) == \
        (400, "invalid tag format")
    r = nd.request("DELETE", "/v1.41/images/other:t1")
    assert (r.status, r.json()) == (200, [{"Untagged": "other:t1"}])
    r = nd.request("DELETE", "/v1.41/images/other")
    assert (r.status, r.json()) == (200, [{"Untagged": "other:latest"}])
    r = nd.request("DELETE", "/v1.41/images/busybox")
    assert (r.status, r.json()) == (200, [{"Untagged": "busybox:latest"},
                                          {"Deleted": BUSYBOX_ID}])
    assert api_error(nd.request("DELETE", "/v1.41/images/busybox")) == \
        (404, "No such image: busybox:latest")


# ---- pull --------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("registry"))
    script = os.path.join(harness.REPO, "tests", "integration", "registry.sh")
    addr, port = REGISTRY
    subprocess.run([script, "start", addr, str(port), d], check=True, capture_output=True)
    try:
        subprocess.run([script, "push", addr, str(port), harness.busybox_images()["oci"],
                        "busybox:v1"], check=True, capture_output=True)
        yield "%s:%d" % REGISTRY
    finally:
        subprocess.run([script, "stop", d], capture_output=True)


@pytest.mark.parametrize("cli", CLIS)
def test_pull_from_local_registry(nd, registry, cli):
    ref = registry + "/busybox:v1"
    p = nd.docker("pull", ref, cli=cli)
    lines = ok(p).splitlines()
    assert lines[0] == "v1: Pulling from busybox"
    assert lines[1].startswith("Digest: sha256:")
    assert lines[2] == "Status: Downloaded newer image for " + ref
    if cli == harness.CLI28:
        assert lines[3:] == [ref]
    digest = lines[1].split()[1]
    lines = ok(nd.docker("pull", ref, cli=cli)).splitlines()
    assert lines[2] == "Status: Image is up to date for " + ref
    img = harness.api_json(nd, "GET", "/v1.41/images/%s/json" % ref)
    assert img["Id"] == BUSYBOX_ID
    assert img["RepoDigests"] == [registry + "/busybox@" + digest]
    assert ok(nd.docker("rmi", ref, cli=cli)) == (
        "Untagged: %s\nUntagged: %s/busybox@%s\n" % (ref, registry, digest))
    p = nd.docker("pull", registry + "/nosuch:v1", cli=cli)
    assert p.returncode == 1
    assert p.stderr == ("Error response from daemon: manifest for %s/nosuch:v1 not found: "
                        "manifest unknown: manifest unknown\n" % registry)


def test_pull_api(nd, registry):
    r = nd.request("POST", "/v1.41/images/create?fromImage=%s/busybox&tag=v1" % registry)
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    msgs = [json.loads(line) for line in r.body.splitlines()]
    assert msgs[0] == {"status": "Pulling from busybox", "id": "v1"}
    assert msgs[-1] == {"status": "Status: Downloaded newer image for %s/busybox:v1" % registry}
    r = nd.request("POST", "/v1.41/images/create?fromImage=127.0.0.185:1/x&tag=v1")
    assert r.status == 500 and "connection refused" in r.json()["message"]
    assert api_error(nd.request("POST", "/v1.41/images/create?fromImage=Bad&tag=v1")) == \
        (400, "invalid reference format: repository name must be lowercase")


# ---- the Python SDK ----------------------------------------------------------

def test_sdk_images(nd):
    docker = pytest.importorskip("docker")
    c = docker.DockerClient(base_url="unix://" + nd.sock, version="1.41")
    nd.request("DELETE", "/v1.41/images/busybox")
    with open(harness.busybox_images()["docker"], "rb") as f:
        loaded = c.images.load(f.read())
    assert [i.id for i in loaded] == [BUSYBOX_ID]
    img = c.images.get("busybox")
    assert (img.id, img.tags) == (BUSYBOX_ID, ["busybox:latest"])
    assert img.tag("sdkbox", "v1") is True
    assert sorted(t for i in c.images.list() for t in i.tags) == ["busybox:latest", "sdkbox:v1"]
    assert [i.id for i in c.images.list(name="sdkbox")] == [BUSYBOX_ID]
    c.images.remove("sdkbox:v1")
    assert [i.tags for i in c.images.list()] == [["busybox:latest"]]
    with pytest.raises(docker.errors.ImageNotFound):
        c.images.get("nosuch")
    c.close()
