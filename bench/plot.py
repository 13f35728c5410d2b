#!/usr/bin/python3
"""Plots of a bench/run results file (swarmd vs dockerd), with gnuplot.

Usage: bench/plot.py RESULTS.json [OUTDIR]   (default OUTDIR: docs/bench)
Writes times.svg, memory.svg, api.svg, throughput.svg and converge.svg.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MB = 1024.0 * 1024.0
COLORS = {"swarmd": "#2b7bba", "dockerd": "#e8793a"}

BARS = {
    "times": ("Operation latency (median; lower is better)", "seconds", True, [
        ("swarm_init_s", "swarm init", 1),
        ("create_1_s", "create → 1 running", 1),
        ("create_4_s", "create → 4 running", 1),
        ("create_50_s", "create → 50 running", 1),
        ("scale_50_100_s", "scale 50 → 100", 1),
        ("rm_1_s", "rm 1 → gone", 1),
        ("rm_4_s", "rm 4 → gone", 1),
        ("rm_100_s", "rm 100 → gone", 1),
    ]),
    "memory": ("Resident memory (median; lower is better)", "MB", False, [
        ("idle_rss", "daemon, idle after init", 1 / MB),
        ("containerd_idle_rss", "its containerd, idle", 1 / MB),
        ("rss_100_tasks", "daemon, 100 tasks", 1 / MB),
        ("rss_1000_services", "daemon, 1,000 services", 1 / MB),
    ]),
    "api": ("Engine API latency with 1,000 services (median of runs; lower is better)",
            "milliseconds", True, [
                ("services_status_p50_ms", "/services?status=true p50", 1),
                ("services_status_p99_ms", "/services?status=true p99", 1),
                ("services_p50_ms", "/services p50", 1),
                ("services_p99_ms", "/services p99", 1),
                ("nodes_p50_ms", "/nodes p50", 1),
                ("nodes_p99_ms", "/nodes p99", 1),
                ("service_ls_s", "docker service ls", 1000),
            ]),
    "throughput": ("Requests/s, 8 keep-alive clients (median; higher is better)",
                   "requests/s", True, [
                       ("rps_ping", "GET /_ping", 1),
                       ("rps_services", "GET /services (1 service)", 1),
                       ("rps_tasks", "GET /tasks (100 tasks)", 1),
                   ]),
}

TERMS = {
    "svg": 'set terminal svg size 900,500 dynamic font "sans,12" background "white"',
    "png": 'set terminal pngcairo size 900,500 font "sans,10" background "white"',
}
FMT = os.environ.get("BENCH_PLOT_FORMAT", "svg")  # png: for a quick look
TERM = TERMS[FMT]


def gnuplot(script):
    p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("gnuplot: " + p.stderr)


def fmtv(v):
    return "?" if v is None else "%.6g" % v


def bar_plot(result, key, outdir, tmp):
    title, ylabel, logy, rows = BARS[key]
    med = result["median"]
    dat = os.path.join(tmp, key + ".dat")
    with open(dat, "w") as f:
        for mkey, label, scale in rows:
            s, d = med["swarmd"].get(mkey), med["dockerd"].get(mkey)
            f.write('"%s" %s %s\n' % (label, fmtv(s * scale if s is not None else None),
                                      fmtv(d * scale if d is not None else None)))
    out = os.path.join(outdir, key + "." + FMT)
    lbl = '"%.3g"' if key != "throughput" else '"%.0f"'
    gnuplot("""%(term)s
set output "%(out)s"
set datafile missing "?"
set title "%(title)s"
set ylabel "%(ylabel)s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set termoption noenhanced
set boxwidth 0.9
set xtics rotate by 25 right scale 0 nomirror noenhanced
set bmargin 7
set grid ytics lc rgb "#dddddd"
set key top left
%(log)s
set yrange [%(ymin)s:*]
plot "%(dat)s" using 2:xtic(1) title "swarmd" lc rgb "%(cs)s", \\
     "" using 3 title "dockerd" lc rgb "%(cd)s", \\
     "" using ($0-1/6.0):2:(sprintf(%(lbl)s, $2)) with labels offset 0,0.7 font ",8" notitle, \\
     "" using ($0+1/6.0):3:(sprintf(%(lbl)s, $3)) with labels offset 0,0.7 font ",8" notitle
""" % {"term": TERM, "out": out, "title": title, "ylabel": ylabel, "dat": dat,
       "log": "set logscale y" if logy else "unset logscale y",
       "ymin": "*" if logy else "0", "cs": COLORS["swarmd"], "cd": COLORS["dockerd"],
       "lbl": lbl})
    return out


def converge_plot(result, outdir, tmp):
    """Running tasks over time: create → 50, then scale → 100 (drawn from
    where the create ended), first run of each engine with the traces."""
    series = []
    for name in ("swarmd", "dockerd"):
        for run in result["runs"]:
            d = run.get(name, {}).get("detail", {})
            if d.get("trace_create_50") and d.get("trace_scale_100"):
                dat = os.path.join(tmp, "conv-%s.dat" % name)
                end = d["trace_create_50"][-1][0]
                with open(dat, "w") as f:
                    for t, k in d["trace_create_50"]:
                        f.write("%g %d\n" % (t, k))
                    for t, k in d["trace_scale_100"]:
                        f.write("%g %d\n" % (end + t, k))
                series.append((name, dat, end))
                break
    if not series:
        return None
    out = os.path.join(outdir, "converge." + FMT)
    plots, arrows = [], []
    for i, (name, dat, end) in enumerate(series):
        plots.append('"%s" using 1:2 with steps lw 2 lc rgb "%s" title "%s"'
                     % (dat, COLORS[name], name))
        arrows.append('set arrow %d from %g,0 to %g,100 nohead dt 3 lc rgb "%s"'
                      % (i + 1, end, end, COLORS[name]))
    gnuplot("""%(term)s
set output "%(out)s"
set title "Tasks RUNNING: create 50 replicas, then scale to 100 (dotted line); 50 ms polls"
set xlabel "seconds since service create"
set ylabel "tasks running"
set grid lc rgb "#dddddd"
set key top left
set yrange [0:105]
%(arrows)s
plot %(plots)s
""" % {"term": TERM, "out": out, "plots": ", \\\n     ".join(plots),
       "arrows": "\n".join(arrows)})
    return out


def plot(result, outdir):
    if "swarmd" not in result["median"] or "dockerd" not in result["median"]:
        return []
    os.makedirs(outdir, exist_ok=True)
    outs = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in BARS:
            outs.append(bar_plot(result, key, outdir, tmp))
        c = converge_plot(result, outdir, tmp)
        if c:
            outs.append(c)
    return outs


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        res = json.load(f)
    for p in plot(res, sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "docs", "bench")):
        print(p)
