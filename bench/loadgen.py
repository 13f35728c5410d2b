"""A small, bounded HTTP/1.1 load generator for an Engine API unix socket.

`connections` keep-alive connections, spread over `procs` forked processes
(Python threads share one interpreter lock, so one process alone tops out
below what a C server answers) with one thread per connection. Each
connection sends one GET, reads the whole answer (Content-Length or chunked,
as Go's net/http sends large bodies), and sends the next, for `seconds`.
Nothing is parsed beyond the framing. Returns requests/s, errors and the
latency percentiles seen under that load.
"""
import multiprocessing
import os
import socket
import threading
import time


class Conn:
    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def _fill(self):
        d = self.s.recv(262144)
        if not d:
            raise ConnectionError("closed by server")
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        self.buf = self.buf[n:]

    def roundtrip(self, req):
        """Sends req (bytes); returns the status code once the whole
        response has been read."""
        self.s.sendall(req)
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            self._fill()
        head, self.buf = self.buf[:i], self.buf[i + 4:]
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, chunked = 0, False
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        if chunked:
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the empty line
                        pass
                    break
                self._take(size + 2)
        else:
            self._take(length)
        return status

    def close(self):
        self.s.close()


def _worker(path, req, threads, start_at, stop_at, out_q):
    results = []
    lock = threading.Lock()

    def run():
        lat, n, errs = [], 0, 0
        try:
            c = Conn(path)
        except OSError:
            with lock:
                results.append(([], 0, 1))
            return
        while time.time() < start_at:
            time.sleep(0.001)
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at_perf:
                    break
                st = c.roundtrip(req)
                t1 = time.perf_counter()
                if t1 > stop_at_perf:
                    break  # count only requests completed inside the window
                if st == 200:
                    n += 1
                    lat.append(t1 - t0)
                else:
                    errs += 1
        except (OSError, ValueError, ConnectionError):
            errs += 1
        finally:
            c.close()
        with lock:
            results.append((lat, n, errs))

    stop_at_perf = time.perf_counter() + (stop_at - time.time())
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat = [x for r in results for x in r[0]]
    out_q.put((lat, sum(r[1] for r in results), sum(r[2] for r in results)))


def pct(values, p):
    """Nearest-rank percentile of values (p in 0..100)."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def run(path, target, seconds=5.0, connections=8, procs=2):
    """Loads GET target on the unix socket path; returns a dict."""
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: swarmd-bench\r\n\r\n"
           % target).encode()
    procs = max(1, min(procs, connections))
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    start_at = time.time() + 0.5
    stop_at = start_at + seconds
    ps = []
    for i in range(procs):
        threads = connections // procs + (1 if i < connections % procs else 0)
        p = ctx.Process(target=_worker, args=(path, req, threads, start_at, stop_at, q))
        p.start()
        ps.append(p)
    lat, n, errs = [], 0, 0
    for _ in ps:
        r = q.get(timeout=seconds + 120)
        lat += r[0]
        n += r[1]
        errs += r[2]
    for p in ps:
        p.join(10)
    return {
        "target": target, "seconds": seconds, "connections": connections,
        "processes": procs, "requests": n, "errors": errs,
        "rps": n / seconds,
        "p50_ms": pct(lat, 50) * 1e3 if lat else None,
        "p99_ms": pct(lat, 99) * 1e3 if lat else None,
    }


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(run(sys.argv[1], sys.argv[2], float(os.environ.get("SECONDS_", "3")))))
