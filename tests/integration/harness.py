"""Test harness: real swarmd nodes, real containerd, the real docker CLIs.

Every process a test starts is recorded by PID and stopped by PID, even when
the test fails. Nothing here kills by name.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWARMD = os.environ.get("SWARMD_BIN", os.path.join(REPO, "build", "swarmd"))
CLI28 = "/usr/local/bin/docker"
CLI20 = "/usr/bin/docker"
CLIS = [c for c in (CLI28, CLI20) if os.access(c, os.X_OK)]

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


_IMAGES = {}


def busybox_images():
    """Builds the busybox test images once per test session."""
    if not _IMAGES:
        out = os.path.join(tempfile.gettempdir(), "swarmd-test-images")
        subprocess.run([os.path.join(REPO, "tests", "integration", "images.sh"), out],
                       check=True, capture_output=True)
        _IMAGES["oci"] = os.path.join(out, "busybox-oci.tar")
        _IMAGES["docker"] = os.path.join(out, "busybox-docker.tar")
    return _IMAGES


def child_pids(parents):
    """PIDs whose parent is one of the given PIDs (one walk of /proc)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                # pid (comm) state ppid ...: comm may hold spaces.
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid in parents:
            pids.append(int(d))
    return pids


def shim_pids(containerd_sock):
    """PIDs of containerd shims serving the given containerd (they belong to
    the node that started that containerd)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and b"containerd-shim" in args[0] and \
                containerd_sock.encode() in args:
            pids.append(int(d))
    return pids


def unmount_under(path):
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for m in sorted((m for m in mounts if m.startswith(path + "/")), reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def node_bridges(data_root):
    """Bridge names in the CNI configuration swarmd wrote for its node."""
    d = os.path.join(data_root, "containerd", "cni", "net.d")
    names = []
    try:
        files = os.listdir(d)
    except OSError:
        return names
    for name in files:
        try:
            with open(os.path.join(d, name)) as f:
                conf = json.load(f)
        except (OSError, ValueError):
            continue
        for plugin in conf.get("plugins", []):
            if plugin.get("type") == "bridge" and plugin.get("bridge"):
                names.append(plugin["bridge"])
    return names


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def wait_gone(pid, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def kill_pid(pid, timeout=10):
    """SIGTERM, then SIGKILL after timeout; only the PID given."""
    if pid is None or not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_gone(pid, timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_gone(pid, 5)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket, for raw Engine API checks."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class Node:
    """One swarmd (and, by default, the containerd it manages)."""

    def __init__(self, root, name, addr, containerd=None, extra_args=None):
        self.name = name
        self.addr = addr
        self.dir = os.path.join(root, name)
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.sock = os.path.join(self.dir, "swarmd.sock")
        self.log_path = os.path.join(self.dir, "swarmd.log")
        self.containerd = containerd
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.pids = set()
        self.env = {}  # extra environment for the next start
        self.docker_config = os.path.join(self.dir, "cliconf")
        os.makedirs(self.docker_config, exist_ok=True)

    # -- lifecycle -----------------------------------------------------
    def args(self):
        a = [SWARMD, "-H", "unix://" + self.sock, "--data-root", self.data_root,
             "--exec-root", self.exec_root, "--log-level", "debug"]
        if self.containerd:
            a += ["--containerd", self.containerd]
        return a + self.extra_args

    def start(self, wait=True):
        env = dict(os.environ, **SANITIZER_ENV, **self.env)
        self.log = open(self.log_path, "ab")
        # The log is appended across restarts: readiness lines count only
        # from here on.
        self.log_start = self.log.tell()
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=self.log,
                                     env=env, start_new_session=True)
        self.pids.add(self.proc.pid)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        """Until the API answers and the managed containerd has its pause image."""
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("swarmd exited with %s:\n%s" % (self.proc.returncode, self.logtext()))
            try:
                if self.request("GET", "/_ping").status == 200 and self.containerd_ready():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("swarmd not ready:\n" + self.logtext())

    def containerd_ready(self):
        if self.containerd:
            return True
        pid = self.containerd_pid()
        if pid:
            self.pids.add(pid)
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return b"containerd ready" in f.read()

    def containerd_pid(self):
        try:
            with open(os.path.join(self.exec_root, "containerd", "containerd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def containerd_sock(self):
        return self.containerd or os.path.join(self.exec_root, "containerd", "containerd.sock")

    def stop(self, timeout=30):
        """SIGTERM and wait; returns swarmd's exit code (None if killed)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        self.log.close()
        self.proc = None
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        self.proc = None

    def cleanup(self):
        """Stops everything this node started, by PID: swarmd, its
        containerd, the shims of task containers that outlived them; then
        unmounts what those left under the node's directory and deletes the
        node's bridge."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        for pid in sorted(self.pids):
            kill_pid(pid)
        cpid = self.containerd_pid()
        if cpid and not self.containerd:
            kill_pid(cpid)
        shims = shim_pids(self.containerd_sock())
        # A shim is its containers' reaper: they go first, or they outlive
        # it (pause and task processes adopted by init).
        for child in child_pids(set(shims)):
            kill_pid(child, timeout=0)
        for pid in shims:
            kill_pid(pid, timeout=2)
        unmount_under(self.dir)
        for bridge in node_bridges(self.data_root):
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)

    def load_busybox(self):
        """Imports the test busybox image into this node's containerd."""
        p = ctr(self.containerd_sock(), "images", "import", busybox_images()["oci"])
        assert p.returncode == 0, p.stderr

    def log_tail(self, lines=40):
        """The last lines of the log, API request lines left out."""
        kept = [l for l in self.logtext(200000).splitlines()
                if 'msg="api: ' not in l]
        return "\n".join(kept[-lines:])

    def logtext(self, limit=8000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-limit:]
        except OSError:
            return ""

    # -- clients -------------------------------------------------------
    def docker(self, *args, cli=CLI28, check=False, timeout=120, input=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("DOCKER_API_VERSION", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY")}
        env["DOCKER_HOST"] = "unix://" + self.sock
        env["DOCKER_CONFIG"] = self.docker_config
        p = subprocess.run([cli] + list(args), capture_output=True, text=True,
                           env=env, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or UnixHTTPConnection(self.sock)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.headers, data)
        finally:
            if own:
                conn.close()


# The clusters not yet cleaned up: a failing test shows their nodes' logs.
LIVE_CLUSTERS = []


class Cluster:
    """The nodes of one test; gives each its own 127.0.0.x address."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="swt.", dir="/tmp")
        self.nodes = []
        self.extra_pids = set()
        LIVE_CLUSTERS.append(self)

    def node(self, name=None, containerd=None, extra_args=None, start=True):
        idx = len(self.nodes) + 1
        n = Node(self.root, name or "n%d" % idx, "127.0.0.%d" % (10 + idx),
                 containerd=containerd, extra_args=extra_args)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def cleanup(self):
        if self in LIVE_CLUSTERS:
            LIVE_CLUSTERS.remove(self)
        for n in self.nodes:
            n.cleanup()
        for pid in self.extra_pids:
            kill_pid(pid)
        if os.environ.get("SWARMD_KEEP_TMP") != "1":
            shutil.rmtree(self.root, ignore_errors=True)


def start_containerd(root, cluster):
    """A private containerd for --containerd tests (not swarmd-managed)."""
    d = os.path.join(root, "ctd")
    os.makedirs(os.path.join(d, "cni"), exist_ok=True)
    sock = os.path.join(d, "c.sock")
    cfg = os.path.join(d, "config.toml")
    with open(cfg, "w") as f:
        f.write("""version = 2
root = "%(d)s/root"
state = "%(d)s/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "%(s)s"
[ttrpc]
  address = "%(s)s.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "%(d)s/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "swarmd.local/pause:1"
  restrict_oom_score_adj = true
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "/usr/sbin/runc"
      Root = "%(d)s/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%(d)s/cni"
""" % {"d": d, "s": sock})
    log = open(os.path.join(d, "containerd.log"), "ab")
    p = subprocess.Popen(["containerd", "--config", cfg], stdout=log, stderr=log,
                         start_new_session=True)
    cluster.extra_pids.add(p.pid)
    end = time.time() + 20
    while time.time() < end and not os.path.exists(sock):
        time.sleep(0.05)
    assert os.path.exists(sock), "private containerd did not start"
    return sock, p.pid


def ctr(sock, *args):
    return subprocess.run(["ctr", "--address", sock, "--namespace", "k8s.io"] + list(args),
                          capture_output=True, text=True, timeout=60)


class RefDockerd:
    """The reference engine (Debian's dockerd 20.10) with its own private
    containerd, for fidelity tests that diff its answers against swarmd's."""

    def __init__(self, cluster, name="ref"):
        self.cluster = cluster
        self.dir = os.path.join(cluster.root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.docker_config = os.path.join(self.dir, "cliconf")
        os.makedirs(self.docker_config, exist_ok=True)
        self.proc = None

    @staticmethod
    def available():
        return os.access("/usr/sbin/dockerd", os.X_OK)

    def start(self):
        ctd_sock, _ = start_containerd(self.dir, self.cluster)
        log = open(os.path.join(self.dir, "dockerd.log"), "ab")
        self.proc = subprocess.Popen(
            ["/usr/sbin/dockerd", "-H", "unix://" + self.sock,
             "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "exec"),
             "--pidfile", os.path.join(self.dir, "dockerd.pid"),
             "--containerd", ctd_sock, "--iptables=false", "--bridge=none"],
            stdout=log, stderr=log, start_new_session=True)
        self.cluster.extra_pids.add(self.proc.pid)
        end = time.time() + 60
        while time.time() < end:
            try:
                if self.request("GET", "/_ping").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("reference dockerd did not start")

    def stop(self):
        if self.proc is not None:
            kill_pid(self.proc.pid, 30)
            self.proc = None
        # dockerd's swarm mode leaves this bridge behind (see REFERENCE-DOCKERD.md),
        # and its network namespaces and overlay mounts under its directory.
        subprocess.run(["ip", "link", "del", "docker_gwbridge"], capture_output=True)
        unmount_under(self.dir)

    docker = Node.docker
    request = Node.request


# -- swarm mode helpers --------------------------------------------------------

import hashlib  # noqa: E402  (kept with the helpers that use them)
import re  # noqa: E402

SWARM_ID_RE = re.compile(r"^[0-9a-z]{25}$")
JOIN_TOKEN_RE = re.compile(r"^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$")
UNLOCK_KEY_RE = re.compile(r"^SWMKEY-1-[A-Za-z0-9+/]{43}$")
NOT_MANAGER_INACTIVE = ('This node is not a swarm manager. Use "docker swarm init" or '
                        '"docker swarm join" to connect this node to swarm and try again.')
ALREADY_IN_SWARM = ('This node is already part of a swarm. Use "docker swarm leave" to '
                    'leave this swarm and join another one.')
LEAVE_LAST_MANAGER = ("You are attempting to leave the swarm on a node that is participating "
                      "as a manager. Removing the last manager erases all current state of "
                      "the swarm. Use `--force` to ignore this message. ")


def swarm_init(engine, addr, cli=CLI28, port=2377, extra=()):
    """`docker swarm init` on 127.0.0.x only; returns the finished process."""
    return engine.docker("swarm", "init", "--advertise-addr", addr,
                         "--listen-addr", "%s:%d" % (addr, port), *extra, cli=cli)


def swarm_info(engine):
    r = engine.request("GET", "/v1.41/info")
    assert r.status == 200, r
    return r.json()["Swarm"]


def wait_swarm_leader(engine, timeout=30):
    """Until this manager leads (raft is up again after a restart); returns
    its node object."""
    end = time.time() + timeout
    node_id = swarm_info(engine)["NodeID"]
    last = None
    while time.time() < end:
        last = engine.request("GET", "/v1.41/nodes/" + node_id)
        if last.status == 200 and last.json().get("ManagerStatus", {}).get("Leader"):
            return last.json()
        time.sleep(0.05)
    raise AssertionError("no leader after %ss: %r" % (timeout, last))


def swarm_state(engine):
    """Everything a manager shows about its swarm, for before/after diffs."""
    sw = engine.request("GET", "/v1.41/swarm")
    nodes = engine.request("GET", "/v1.41/nodes")
    key = engine.request("GET", "/v1.41/swarm/unlockkey")
    assert (sw.status, nodes.status, key.status) == (200, 200, 200), (sw, nodes, key)
    return {"swarm": sw.json(), "nodes": sorted(nodes.json(), key=lambda n: n["ID"]),
            "info": swarm_info(engine), "unlockkey": key.json()}


def token_digest_of(trust_root_pem):
    """The <digest> part of a join token for a root CA (CONTRACT.md §6.3):
    SHA-256 of the PEM text as a big-endian integer, base36, 50 digits."""
    v = int.from_bytes(hashlib.sha256(trust_root_pem.encode()).digest(), "big")
    digits = ""
    while v:
        v, r = divmod(v, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    return digits.rjust(50, "0")


def api_error(resp):
    """(status, message) of a Docker-shaped error answer."""
    assert resp.headers["Content-Type"] == "application/json", resp
    return resp.status, resp.json()["message"]



def wait_log(n, needle, offset=0, timeout=60):
    """Until needle appears in n's log after byte offset (the log is
    appended to across restarts)."""
    end = time.time() + timeout
    while time.time() < end:
        if n.proc is not None and n.proc.poll() is not None:
            raise RuntimeError("swarmd exited with %s:\n%s" % (n.proc.returncode, n.logtext()))
        with open(n.log_path, "rb") as f:
            f.seek(offset)
            if needle in f.read():
                return
        time.sleep(0.05)
    raise RuntimeError("%r not logged:\n%s" % (needle, n.logtext()))


def restart_node(n, kill9=False, between=None, timeout=60):
    """Stops n (SIGTERM, or SIGKILL with kill9), calls between() if given,
    and starts it again, waiting until this run's managed containerd is
    ready: Node.wait_ready alone would see the previous run's "containerd
    ready" line and return while the new pause image import still runs (a
    swarmd stopped then leaves that ctr behind). Returns the exit code of
    the stop (None after kill9)."""
    rc = None
    if kill9:
        n.kill9()
    else:
        rc = n.stop()
    if between is not None:
        between()
    offset = os.path.getsize(n.log_path)
    n.start(wait=False)
    wait_log(n, b"containerd ready", offset, timeout)
    n.wait_ready(timeout)
    return rc


# -- services (test_services*.py) --------------------------------------------------

import urllib.parse  # noqa: E402

HOSTNAME = os.uname().nodename
TASK_ID12_RE = r"[0-9a-z]{12}"
REGISTRY_WARNING = ("image {0} could not be accessed on a registry to record\n"
                    "its digest. Each node will access {0} independently,\n"
                    "possibly leading to different nodes running different\n"
                    "versions of the image.\n\n")


def swarm_node(cluster, addr, name=None):
    """A started swarmd at a chosen 127.0.0.x: modules that share one node
    for all their tests pick addresses no other test module uses."""
    n = Node(cluster.root, name or "n%d" % (len(cluster.nodes) + 1), addr)
    cluster.nodes.append(n)
    return n.start()


def query(filters=None, **params):
    """A query string; filters is a dict of key -> list of values."""
    if filters is not None:
        params["filters"] = json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})
    return urllib.parse.urlencode(params)


def api_json(engine, method, path, body=None, status=200):
    r = engine.request(method, path, body=body)
    assert r.status == status, r
    return r.json() if r.body else None


def list_tasks(engine, service=None, **filters):
    f = {k.replace("_", "-"): v if isinstance(v, list) else [v] for k, v in filters.items()}
    if service is not None:
        f["service"] = [service]
    return api_json(engine, "GET", "/v1.41/tasks?" + query(f))


def wait_for(pred, timeout, what="condition", interval=0.05):
    """Polls pred() until it returns something true; returns that value."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def running_tasks(engine, service):
    """Tasks of service that should run and do."""
    return [t for t in list_tasks(engine, service)
            if t["DesiredState"] == "running" and t["Status"]["State"] == "running"]


def wait_running(engine, service, n, timeout=60):
    """Until exactly n tasks of service run; returns them sorted by slot."""
    def ready():
        ts = running_tasks(engine, service)
        return sorted(ts, key=lambda t: t.get("Slot", 0)) if len(ts) == n else None
    return wait_for(ready, timeout, "%d running tasks of %s" % (n, service))


def cri_containers(node, kind="container"):
    """IDs of the node's CRI containers of one kind: "container" (task
    containers) or "sandbox" (the pause containers of their pods)."""
    p = ctr(node.containerd_sock(), "containers", "ls", "-q",
            'labels."io.cri-containerd.kind"==%s' % kind)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def ctr_processes(node):
    """containerd tasks of the node: {container id: (pid, status)}."""
    p = ctr(node.containerd_sock(), "tasks", "ls")
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines()[1:]:
        cid, pid, status = line.split()
        out[cid] = (int(pid), status)
    return out


def task_dirs(node):
    """Task IDs that have a directory (the CRI log lives there) under
    data-root/tasks."""
    try:
        return set(os.listdir(os.path.join(node.data_root, "tasks")))
    except FileNotFoundError:
        return set()


def remove_services(engine):
    for s in api_json(engine, "GET", "/v1.41/services"):
        engine.request("DELETE", "/v1.41/services/" + s["ID"])


def check_node_after_test(node):
    """After a test on a module's node: swarmd still runs, and no service,
    container or pod is left (what is fails this test once and is then
    ignored by the others)."""
    if node.proc is not None and node.proc.poll() is not None:
        raise AssertionError("swarmd exited with %s:\n%s" % (node.proc.returncode,
                                                            node.logtext()))
    if node.proc is not None:
        remove_services(node)
        left = settle_node(node)
        assert not left, "service rm left these behind: %r" % left


def cri_leftovers(node):
    """What is left in the node's containerd: {container id: (kind, task
    name, process status)}."""
    procs = ctr_processes(node)
    out = {}
    for kind in ("container", "sandbox"):
        for cid in cri_containers(node, kind):
            p = ctr(node.containerd_sock(), "containers", "info", cid)
            labels = json.loads(p.stdout).get("Labels", {}) if p.returncode == 0 else {}
            out[cid[:12]] = (kind, labels.get("com.docker.swarm.task.name"),
                             procs.get(cid, (0, "no process"))[1])
    return out


def live_containers(node, kind="container"):
    """cri_containers without those an earlier test already reported as left
    behind (settle_node), so one leak fails one test, not all that follow."""
    return cri_containers(node, kind) - getattr(node, "leftovers", set())


def wait_node_empty(node, timeout=60):
    """Until the node has no task container and no pod (but the reported
    leftovers)."""
    try:
        wait_for(lambda: not live_containers(node) and not live_containers(node, "sandbox"),
                 timeout, "no CRI containers left on " + node.name)
    except AssertionError as e:
        raise AssertionError("%s; left: %r" % (e, cri_leftovers(node))) from None


def settle_node(node, timeout=60):
    """After its services were removed: waits until the node lists no task
    and runs no task container, then up to 20 s for containers and pods to
    be removed. Returns what is left that no earlier call reported (and
    remembers it, see live_containers)."""
    def idle():
        procs = ctr_processes(node)
        return not list_tasks(node) and not [c for c in cri_containers(node)
                                             if procs.get(c, (0, ""))[1] == "RUNNING"]
    wait_for(idle, timeout, "no task on " + node.name, interval=0.2)
    try:
        wait_node_empty(node, 20)
        return {}
    except AssertionError:
        known = {c[:12] for c in getattr(node, "leftovers", set())}
        left = {k: v for k, v in cri_leftovers(node).items() if k not in known}
        node.leftovers = getattr(node, "leftovers", set()) | cri_containers(node) | \
            cri_containers(node, "sandbox")
        return left


def drop_cni_rules(node_id):
    """Deletes the iptables nat rules CNI made for a node's pods (comments
    name the network "swarmd-<node id, 12 chars>") and the chains only they
    used. A pod that was never torn down (its node killed with tasks
    running) leaves them behind, and a stale hostport DNAT rule would
    capture a later test's published port."""
    import shlex
    if not node_id:
        return
    tag = '\\"swarmd-%s\\"' % node_id[:12]
    rules = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True,
                           text=True).stdout.splitlines()
    chains = set()
    for rule in rules:
        if rule.startswith("-A ") and tag in rule:
            args = shlex.split(rule)
            subprocess.run(["iptables", "-t", "nat", "-D"] + args[1:], capture_output=True)
            if "-j" in args:
                chains.add(args[args.index("-j") + 1])
    rules = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True,
                           text=True).stdout.splitlines()
    for ch in chains:
        if ch.startswith("CNI-") and not any(("-j " + ch) in r for r in rules):
            subprocess.run(["iptables", "-t", "nat", "-F", ch], capture_output=True)
            subprocess.run(["iptables", "-t", "nat", "-X", ch], capture_output=True)


def own_cluster(prefix):
    """A Cluster whose root is not /tmp/swt.*: on a shared machine other jobs
    sweep those, which a module-scoped node living for minutes would not
    survive."""
    c = Cluster()
    os.rmdir(c.root)
    c.root = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    return c
