#!/usr/bin/python3
"""bench/sim.py: the control plane at scale, with simulated nodes.

For each size (N nodes, T tasks) it starts one swarmd manager with the sim
executor (drained, so every task lands on a simulated node) and swarmd-sim
with N workers that join over the real join flow and keep real mTLS
dispatcher sessions, then measures:

- join: time for N nodes to join and open their sessions;
- idle: manager CPU with N nodes and no tasks (the heartbeat cost) and RSS;
- tasks: services of up to 1,000 replicas totalling T are created through
  the API by --clients concurrent clients (default 1: one create after the
  other, each waiting for its answer); tasks scheduled+committed per second
  (until the last assignment reached a node), time until all are RUNNING
  (the last RUNNING report committed), raft commit latency p50/p99
  (SWARMD_COMMIT_STATS), manager CPU, RSS and read/write system calls per
  task.

A phase that does not finish within --timeout is cut and its partial figure
reported. --perf FILE records the manager with perf during the task phase.
Prints a table, writes bench/results/sim-<time>.json and plots
docs/bench/sim-*.svg (gnuplot).

Usage: bench/sim.py [--sizes 100x10000,1000x10000,...] [--delay MS]
                    [--timeout S] [--build DIR] [--no-plots] [--out FILE]
                    [--clients K] [--perf FILE]
Build first: ./scripts/build.sh build-bench-sim -DCMAKE_BUILD_TYPE=Release
Addresses: 127.0.0.230 (manager), 127.0.0.231 (advertised by sim nodes).
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ADDR = "127.0.0.230"
SIM_ADDR = "127.0.0.231"
PER_SERVICE = 1000
TICK = os.sysconf("SC_CLK_TCK")
DEFAULT_SIZES = "100x10000,1000x10000,1000x100000,5000x10000,5000x100000"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


# ---- process figures -------------------------------------------------------

def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return None


def syscalls(pid):
    """(read, write) system calls of the process so far (/proc/PID/io)."""
    io = {}
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            io[k] = int(v)
    return io["syscr"], io["syscw"]


def percentiles(before, after, qs=(0.5, 0.99)):
    """p-quantiles (ms) of the commits between two commit-stats snapshots."""
    counts = [a - b for a, b in zip(after["counts"], before["counts"])]
    n = sum(counts)
    out = {"commits": n}
    if n == 0:
        return out
    for q in qs:
        want, acc = q * n, 0
        for i, c in enumerate(counts):
            acc += c
            if acc >= want:
                # the bucket's middle: lo and the next bucket's lo
                hi = after["lo_us"][i + 1] if i + 1 < len(counts) else after["lo_us"][i]
                out["p%d_ms" % round(q * 100)] = (after["lo_us"][i] + hi) / 2000.0
                break
    out["mean_ms"] = (after["sum_us"] - before["sum_us"]) / 1000.0 / n
    return out


# ---- the manager and the simulator -----------------------------------------

class Manager:
    def __init__(self, build, root):
        self.root = root
        self.sock = os.path.join(root, "swarmd.sock")
        self.stats = os.path.join(root, "commit.json")
        self.log = open(os.path.join(root, "swarmd.log"), "wb")
        env = dict(os.environ, SWARMD_COMMIT_STATS=self.stats)
        self.proc = subprocess.Popen(
            [os.path.join(build, "swarmd"), "-H", "unix://" + self.sock,
             "--data-root", os.path.join(root, "data"), "--exec-root", os.path.join(root, "exec"),
             "--containerd", os.path.join(root, "no-containerd.sock"),
             "--executor", "sim", "--log-level", "warn"],
            stdout=self.log, stderr=self.log, env=env, start_new_session=True)
        self.pid = self.proc.pid
        wait(lambda: self.ping(), 30, "swarmd API")

    def ping(self):
        try:
            return self.call("GET", "/_ping")[0] == 200
        except OSError:
            return False

    def call(self, method, path, body=None):
        c = UnixHTTPConnection(self.sock, timeout=120)
        try:
            hdrs = {}
            if body is not None:
                body = json.dumps(body)
                hdrs["Content-Type"] = "application/json"
            c.request(method, "/v1.41" + path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data and data[:1] in b"{[" else data
        finally:
            c.close()

    def init(self):
        st, _ = self.call("POST", "/swarm/init", {"ListenAddr": ADDR + ":2377",
                                                  "AdvertiseAddr": ADDR + ":2377"})
        assert st == 200, st
        _, sw = self.call("GET", "/swarm")
        _, info = self.call("GET", "/info")
        node_id = info["Swarm"]["NodeID"]
        _, node = self.call("GET", "/nodes/" + node_id)
        spec = dict(node["Spec"], Availability="drain")
        st, _ = self.call("POST", "/nodes/%s/update?version=%d" % (node_id, node["Version"]["Index"]), spec)
        assert st == 200, st
        return sw["JoinTokens"]["Worker"]

    def commit_stats(self):
        time.sleep(1.2)  # the file is rewritten once a second
        with open(self.stats) as f:
            return json.load(f)

    def stop(self):
        stop_pid(self.proc)
        self.log.close()


class Sim:
    """swarmd-sim, its JSON lines read by a thread (the newest one kept)."""

    def __init__(self, build, token, nodes, delay):
        self.last = {}
        self.proc = subprocess.Popen(
            [os.path.join(build, "swarmd-sim"), "--manager", ADDR + ":2377", "--token", token,
             "--nodes", str(nodes), "--delay", str(delay), "--advertise-host", SIM_ADDR,
             "--interval", "200", "--joins", "32"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            try:
                self.last = json.loads(line)
            except ValueError:
                pass

    def stop(self):
        stop_pid(self.proc)


def stop_pid(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait(pred, timeout, what, interval=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return None


# ---- one size --------------------------------------------------------------

def join_phase(m, sim, n, timeout, res):
    t0 = time.time()
    ok = wait(lambda: sim.last.get("up", 0) >= n, timeout, "nodes up", 0.2)
    res["join_s"] = time.time() - t0
    res["joined"] = sim.last.get("joined", 0)
    res["up"] = sim.last.get("up", 0)
    res["join_complete"] = bool(ok)
    return ok


def idle_phase(m, sim, n, seconds, res):
    time.sleep(2)  # settle after the joins
    c0, s0, t0 = cpu_s(m.pid), cpu_s(sim.pid), time.time()
    time.sleep(seconds)
    dt = time.time() - t0
    res["idle_cpu_pct"] = 100.0 * (cpu_s(m.pid) - c0) / dt
    res["idle_sim_cpu_pct"] = 100.0 * (cpu_s(sim.pid) - s0) / dt
    res["rss_nodes_mb"] = rss_mb(m.pid)
    res["heartbeat_us_per_node_s"] = 1e6 * (cpu_s(m.pid) - c0) / dt / max(n, 1)


def create_services(m, total, deadline, clients=1):
    """Creates services of up to PER_SERVICE replicas until total replicas or
    the deadline, from `clients` concurrent API clients (each creates every
    clients-th service, one after the other); returns how many replicas were
    asked for."""
    sizes = [min(PER_SERVICE, total - i) for i in range(0, total, PER_SERVICE)]
    made = [0] * clients
    failed = []

    def client(k):
        for i in range(k, len(sizes), clients):
            if time.time() > deadline:
                return
            st, body = m.call("POST", "/services/create", {
                "Name": "s%03d" % i,
                "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest",
                                                   "Args": ["sleep", "1d"]}},
                "Mode": {"Replicated": {"Replicas": sizes[i]}}})
            if st != 201:
                failed.append((st, body))
                return
            made[k] += sizes[i]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed, failed
    return sum(made)


def start_perf(pid, out):
    """perf record of the manager (call graphs by frame pointer: use a
    build-prof build), or None without an output file."""
    if not out:
        return None
    return subprocess.Popen(["perf", "record", "-q", "-F", "4000", "-g", "-p", str(pid),
                             "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_perf(p):
    if p is not None:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)


def task_phase(m, sim, tasks, timeout, res, clients, perf_out=None):
    perf = start_perf(m.pid, perf_out)
    stats0 = m.commit_stats()
    c0, s0, rss0 = cpu_s(m.pid), cpu_s(sim.pid), rss_mb(m.pid)
    io0 = syscalls(m.pid)
    t0_ns = time.time_ns()
    # One cap for creating and running: a slow create eats the same budget.
    deadline = t0_ns / 1e9 + timeout
    res["clients"] = clients
    res["requested"] = create_services(m, tasks, deadline, clients)
    res["create_s"] = (time.time_ns() - t0_ns) / 1e9
    done = wait(lambda: sim.last.get("running", 0) >= tasks,
                max(deadline - time.time(), 1), "running", 0.2)
    last = dict(sim.last)
    res["tasks_complete"] = bool(done)
    res["assigned"] = last.get("assigned", 0)
    res["running"] = last.get("running", 0)
    end_ns = time.time_ns()
    a_end = last.get("last_assign_ns") or end_ns
    r_end = last.get("last_running_ns") or end_ns
    stop_perf(perf)
    if not done:  # cut by the timeout: rates over the whole window
        a_end = r_end = end_ns
    res["schedule_s"] = (a_end - t0_ns) / 1e9
    res["tasks_per_s"] = res["assigned"] / res["schedule_s"] if res["schedule_s"] > 0 else None
    res["all_running_s"] = (r_end - t0_ns) / 1e9
    res["running_per_s"] = res["running"] / res["all_running_s"] if res["all_running_s"] > 0 else None
    res["task_cpu_s"] = cpu_s(m.pid) - c0
    res["task_sim_cpu_s"] = cpu_s(sim.pid) - s0
    res["cpu_ms_per_task"] = 1000.0 * res["task_cpu_s"] / max(res["running"], 1)
    res["rss_tasks_mb"] = rss_mb(m.pid)
    io1 = syscalls(m.pid)
    n = max(res["running"], 1)
    res["reads_per_task"] = (io1[0] - io0[0]) / n
    res["writes_per_task"] = (io1[1] - io0[1]) / n
    res["kb_per_task"] = 1024.0 * (res["rss_tasks_mb"] - rss0) / max(res["assigned"], 1)
    res["commit"] = percentiles(stats0, m.commit_stats())


def run_size(build, nodes, tasks, delay, timeout, idle_s, clients=1, perf_out=None):
    root = tempfile.mkdtemp(prefix="swb.sim.", dir="/tmp")
    res = {"nodes": nodes, "tasks": tasks, "delay_ms": delay}
    m = sim = None
    try:
        m = Manager(build, root)
        res["rss_idle_mb"] = rss_mb(m.pid)
        token = m.init()
        sim = Sim(build, token, nodes, delay)
        if join_phase(m, sim, nodes, timeout, res):
            idle_phase(m, sim, nodes, idle_s, res)
            res["kb_per_node"] = 1024.0 * (res["rss_nodes_mb"] - res["rss_idle_mb"]) / nodes
            task_phase(m, sim, tasks, timeout, res, clients, perf_out)
    except Exception as e:  # keep the other sizes going, and say so
        res["error"] = repr(e)
    finally:
        if sim:
            sim.stop()
        if m:
            m.stop()
        if res.get("error"):
            res["log"] = os.path.join(root, "swarmd.log")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return res


# ---- output ----------------------------------------------------------------

COLS = [("nodes", "%6d"), ("tasks", "%7d"), ("join_s", "%7.1f"), ("idle_cpu_pct", "%6.1f"),
        ("kb_per_node", "%7.1f"), ("tasks_per_s", "%8.0f"), ("all_running_s", "%7.1f"),
        ("running", "%7d"), ("p50", "%7.2f"), ("p99", "%7.2f"), ("cpu_ms_per_task", "%6.3f"),
        ("kb_per_task", "%6.2f")]
HEAD = ["nodes", "tasks", "join s", "idle%", "KB/node", "tasks/s", "RUN s", "running",
        "p50 ms", "p99 ms", "ms/task", "KB/tsk"]


def row_values(r):
    c = r.get("commit", {})
    v = dict(r, p50=c.get("p50_ms"), p99=c.get("p99_ms"))
    out = []
    for key, fmt in COLS:
        x = v.get(key)
        out.append(fmt % x if x is not None else "-".rjust(len(fmt % 0)))
    return out


def print_table(results):
    widths = [max(len(h), len(row_values(results[0])[i]) if results else 0) for i, h in enumerate(HEAD)]
    print("  ".join(h.rjust(w) for h, w in zip(HEAD, widths)))
    for r in results:
        line = "  ".join(s.rjust(w) for s, w in zip(row_values(r), widths))
        if not r.get("tasks_complete", False):
            line += "  (cut: %s)" % (r.get("error") or "timeout")
        print(line)


def plot(results, outdir):
    import plot as bplot  # gnuplot helpers of bench/run
    tmp = tempfile.mkdtemp(prefix="swb.plot.", dir="/tmp")
    try:
        # One line per task count and number of creating clients.
        by_tasks = {}
        for r in results:
            by_tasks.setdefault((r["tasks"], r.get("clients", 1)), []).append(r)
        specs = [("sim-throughput", "Tasks scheduled+committed per second", "tasks/s",
                  lambda r: r.get("tasks_per_s")),
                 ("sim-running", "Time until all tasks RUNNING", "seconds",
                  lambda r: r.get("all_running_s")),
                 ("sim-commit", "Raft commit latency p99 (ms)", "ms",
                  lambda r: r.get("commit", {}).get("p99_ms"))]
        for name, title, ylabel, get in specs:
            plots = []
            for (t, k), rs in sorted(by_tasks.items()):
                dat = os.path.join(tmp, "%s-%d-%d.dat" % (name, t, k))
                with open(dat, "w") as f:
                    for r in sorted(rs, key=lambda r: r["nodes"]):
                        f.write("%d %s\n" % (r["nodes"], bplot.fmtv(get(r))))
                plots.append('"%s" using 1:2 with linespoints lw 2 pt 7 title "%d tasks, %d client%s"'
                             % (dat, t, k, "" if k == 1 else "s"))
            bplot.gnuplot("""%s
set output "%s"
set datafile missing "?"
set title "%s (sim executor, 1 manager, 2 cores)"
set xlabel "simulated nodes"
set ylabel "%s"
set logscale x
set grid lc rgb "#dddddd"
set key top left
plot %s
""" % (bplot.TERM, os.path.join(outdir, name + "." + bplot.FMT), title, ylabel, ", ".join(plots)))
        dat = os.path.join(tmp, "cost.dat")
        seen = {}
        for r in results:
            seen.setdefault(r["nodes"], r)
        with open(dat, "w") as f:
            for n, r in sorted(seen.items()):
                f.write("%d %s %s\n" % (n, bplot.fmtv(r.get("idle_cpu_pct")),
                                        bplot.fmtv(r.get("rss_nodes_mb"))))
        bplot.gnuplot("""%s
set output "%s"
set datafile missing "?"
set title "Manager at idle with N simulated nodes (heartbeats only)"
set xlabel "simulated nodes"
set logscale x
set ylabel "CPU %%"
set y2label "RSS MB"
set ytics nomirror
set y2tics
set grid lc rgb "#dddddd"
set key top left
plot "%s" using 1:2 axes x1y1 with linespoints lw 2 pt 7 title "idle CPU %%", \\
     "" using 1:3 axes x1y2 with linespoints lw 2 pt 5 title "RSS MB"
""" % (bplot.TERM, os.path.join(outdir, "sim-idle." + bplot.FMT), dat))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="NODESxTASKS,... (default %(default)s)")
    ap.add_argument("--delay", type=int, default=0, help="sim start → RUNNING delay, ms")
    ap.add_argument("--timeout", type=int, default=120, help="cap per phase, seconds")
    ap.add_argument("--idle", type=int, default=10, help="idle measurement, seconds")
    ap.add_argument("--build", default=os.path.join(REPO, "build-bench-sim"))
    ap.add_argument("--plots", default=os.path.join(REPO, "docs", "bench"))
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--clients", type=int, default=1,
                    help="concurrent API clients creating the services (default 1: one after the other)")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record the manager during the task phase (one size; use --build build-prof)")
    ap.add_argument("--merge", help="an earlier results file whose sizes are kept unless rerun")
    a = ap.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in a.sizes.split(",")]
    results = []
    if a.merge:
        with open(a.merge) as f:
            results = [r for r in json.load(f)["results"]
                       if (r["nodes"], r["tasks"]) not in sizes]
    for n, t in sizes:
        print("== %d nodes, %d tasks" % (n, t), file=sys.stderr, flush=True)
        results.append(run_size(a.build, n, t, a.delay, a.timeout, a.idle, a.clients, a.perf))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    results.sort(key=lambda r: (r["tasks"], r["nodes"]))
    doc = {"machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
           "date": datetime.datetime.now().isoformat(timespec="seconds"),
           "delay_ms": a.delay, "timeout_s": a.timeout, "results": results}
    out = a.out or os.path.join(HERE, "results", "sim-%s.json" % datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print_table(results)
    print("results: " + out)
    if not a.no_plots:
        plot(results, a.plots)


if __name__ == "__main__":
    main()
