"""The two engines the benchmarks compare, behind one small interface.

Both are started through tests/integration/harness.py (imported, not
copied): swarmd as a harness Node with its managed containerd, the reference
dockerd 20.10 as a harness RefDockerd with its own private containerd. Every
process is stopped by PID; nothing is killed by name.
"""
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# The benchmarks use an optimized, non-sanitized build (see docs/benchmarks.md).
os.environ.setdefault("SWARMD_BIN", os.path.join(REPO, "build-bench", "swarmd"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import harness as h  # noqa: E402

API = "/v1.41"


def proc_status(pid):
    """VmRSS, RssAnon and RssFile of pid in bytes (None if gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                    parts = v.split()
                    out[k] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    except OSError:
        return None
    return out


def proc_cpu(pid):
    """utime+stime of pid in seconds (None if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def _live_subnets():
    """IPv4 networks configured on this host's interfaces."""
    p = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True)
    nets = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) > 3:
            try:
                nets.append(ipaddress.ip_interface(parts[3]).network)
            except ValueError:
                pass
    return nets


def cni_nat_cleanup(net_names=None):
    """Deletes the per-pod masquerade rules and CNI-* chains that the CNI
    bridge plugin (ipMasq) left in the nat table for swarmd networks whose
    pods were never torn down (a node stopped with pods still there). Only
    rules of the given network names, or with net_names None, of swarmd
    networks whose bridge is gone (no interface holds the pod's subnet), so
    a live node's rules are never touched. Returns the number of pods."""
    p = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True)
    if p.returncode != 0:
        return 0
    live = _live_subnets()
    batch = []
    for line in p.stdout.splitlines():
        if not line.startswith("-A POSTROUTING ") or 'name: \\"swarmd-' not in line:
            continue
        m = re.search(r'-s (\S+) .*name: \\"(swarmd-[0-9a-z]+)\\".* -j (CNI-[0-9a-f]+)$', line)
        if not m:
            continue
        src, name, chain = m.groups()
        if net_names is not None and name not in net_names:
            continue
        try:
            ip = ipaddress.ip_interface(src).ip
        except ValueError:
            continue
        if any(ip in n for n in live):
            continue
        batch.append((line, chain))
    if not batch:
        return 0
    text = "*nat\n" + "".join("-D" + line[2:] + "\n" for line, _ in batch)
    text += "".join("-F %s\n-X %s\n" % (c, c) for _, c in batch) + "COMMIT\n"
    r = subprocess.run(["iptables-restore", "--noflush"], input=text,
                       capture_output=True, text=True)
    if r.returncode != 0:  # something changed meanwhile: one by one
        for line, chain in batch:
            subprocess.run(["iptables", "-t", "nat"] + ["-D"] + shlex.split(line)[1:],
                           capture_output=True)
            subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True)
            subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True)
    return len(batch)


def node_masquerade_cleanup(net_names):
    """Deletes the one masquerade rule per node network that swarmd adds
    (comment "swarmd <network>"; a node stopped without leaving keeps it)
    for the given network names whose bridge is gone. Returns how many."""
    p = subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"],
                       capture_output=True, text=True)
    gone = 0
    for line in p.stdout.splitlines():
        m = re.search(r'! -o (\S+) .*--comment "swarmd (swarmd-[0-9a-z]+)" -j MASQUERADE$', line)
        if not m or m.group(2) not in net_names:
            continue
        if subprocess.run(["ip", "link", "show", m.group(1)], capture_output=True).returncode == 0:
            continue
        subprocess.run(["iptables", "-t", "nat", "-D"] + shlex.split(line)[1:], capture_output=True)
        gone += 1
    return gone


class Engine:
    """Common parts: a keep-alive API connection and JSON helpers."""

    name = "?"

    def __init__(self, addr):
        self.addr = addr
        self.cluster = h.Cluster()
        # Our own prefix: other jobs on a shared machine clean up /tmp/swt.*.
        os.rmdir(self.cluster.root)
        self.cluster.root = tempfile.mkdtemp(prefix="swarmd-bench.", dir="/var/tmp")
        self._conn = None

    # -- API ---------------------------------------------------------------
    def conn(self):
        if self._conn is None:
            self._conn = h.UnixHTTPConnection(self.sock, timeout=120)
        return self._conn

    def request(self, method, path, body=None):
        """One request on the keep-alive connection (reconnects once)."""
        for attempt in (0, 1):
            try:
                return h.Node.request(self, method, path, body=body, conn=self.conn())
            except (OSError, h.http.client.HTTPException):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt:
                    raise

    def api(self, method, path, body=None, ok=(200, 201)):
        r = self.request(method, API + path, body)
        if r.status not in ok:
            raise RuntimeError("%s %s %s -> %d %s" % (self.name, method, path, r.status,
                                                        r.body[:300]))
        return r.json() if r.body else None

    def tasks(self, service_id):
        q = urllib.parse.quote(json.dumps({"service": [service_id]}))
        return self.api("GET", "/tasks?filters=" + q)

    def swarm_init(self):
        return self.api("POST", "/swarm/init",
                        {"ListenAddr": "%s:2377" % self.addr, "AdvertiseAddr": self.addr})

    @property
    def sock(self):
        return self.engine.sock

    def docker(self, *args, **kw):
        return self.engine.docker(*args, **kw)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def rss(self):
        return proc_status(self.pid)

    def containerd_rss(self):
        return proc_status(self.containerd_pid)

    def cpu(self):
        return proc_cpu(self.pid)

    def containerd_cpu(self):
        return proc_cpu(self.containerd_pid)


    def save_logs(self, dest):
        """Copies the daemons' logs to dest (kept when a run had errors)."""
        os.makedirs(dest, exist_ok=True)
        for path in self.log_paths():
            if os.path.exists(path):
                shutil.copy(path, os.path.join(dest, "%s-%s" % (self.name, os.path.basename(path))))


class Swarmd(Engine):
    name = "swarmd"

    def start(self):
        # info like dockerd's default (the harness defaults to debug).
        self.engine = h.Node(self.cluster.root, "swarmd", self.addr,
                             extra_args=["--log-level", "info"])
        self.cluster.nodes.append(self.engine)
        self.engine.start()
        self.pid = self.engine.proc.pid
        self.containerd_pid = self.engine.containerd_pid()
        return self

    def load_image(self):
        self.engine.load_busybox()

    def containers(self):
        """Every container in the node's containerd (task containers and
        their pod sandboxes), like `ctr -n k8s.io containers ls -q`."""
        p = h.ctr(self.engine.containerd_sock(), "containers", "ls", "-q")
        if p.returncode != 0:
            raise RuntimeError("ctr: " + p.stderr)
        return len(p.stdout.split())

    def log_paths(self):
        return [self.engine.log_path,
                os.path.join(self.engine.data_root, "containerd", "containerd.log")]

    def version(self):
        return "swarmd " + self.api("GET", "/version").get("Version", "?")

    def net_names(self):
        """CNI network names in the conflists swarmd wrote for its node."""
        d = os.path.join(self.engine.data_root, "containerd", "cni", "net.d")
        names = set()
        try:
            for f in os.listdir(d):
                with open(os.path.join(d, f)) as fh:
                    names.add(json.load(fh).get("name"))
        except (OSError, ValueError):
            pass
        return names - {None}

    def stop(self):
        self.close()
        nets = self.net_names()
        self.cluster.cleanup()
        # Pods that were never torn down (e.g. the leak after service rm)
        # leave their masquerade rules behind once the node is gone.
        if nets:
            cni_nat_cleanup(nets)
            node_masquerade_cleanup(nets)


class Dockerd(Engine):
    name = "dockerd"

    def start(self):
        self.engine = h.RefDockerd(self.cluster)
        before = set(self.cluster.extra_pids)
        self.engine.start()
        self.pid = self.engine.proc.pid
        started = set(self.cluster.extra_pids) - before - {self.pid}
        self.containerd_pid = started.pop() if started else None
        self.ctd_sock = os.path.join(self.engine.dir, "ctd", "c.sock")
        return self

    def load_image(self):
        p = self.engine.docker("load", "-i", h.busybox_images()["docker"])
        if p.returncode != 0:
            raise RuntimeError("docker load: " + p.stderr)

    def containers(self):
        """Running containers, like `docker ps -q`."""
        return len(self.api("GET", "/containers/json"))

    def all_containers(self):
        """Containers in any state, like `docker ps -aq`."""
        return len(self.api("GET", "/containers/json?all=1"))

    def log_paths(self):
        return [os.path.join(self.engine.dir, "dockerd.log"),
                os.path.join(self.engine.dir, "ctd", "containerd.log")]

    def version(self):
        return "dockerd " + self.api("GET", "/version").get("Version", "?")

    def stop(self):
        self.close()
        try:
            self.engine.stop()
        finally:
            # Shims and mounts of task containers that outlived an aborted run.
            for pid in h.shim_pids(self.ctd_sock):
                h.kill_pid(pid, timeout=2)
            h.unmount_under(self.engine.dir)
            self.cluster.cleanup()


ENGINES = {"swarmd": Swarmd, "dockerd": Dockerd}
