"""Side by side with the reference engine: the same docker CLI commands and raw
Engine API requests against swarmd and against dockerd 20.10.24 (one of each
for the whole module, each initialized with its own 127.0.0.x address), with
stdout, stderr and exit codes (or status and body) diffed after masking.

Masking rules (applied to both sides alike, in this order):
  * join tokens `SWMTKN-1-<50 base36>-<25 base36>` -> <TOKEN>; unlock keys
    `SWMKEY-1-<43 base64>` -> <UNLOCK-KEY> (random per swarm; their shape is
    checked by the regexes themselves);
  * PEM certificate blocks -> <PEM>, and the base64 DER public key after
    "Issuer Public Key:" / in CertIssuerPublicKey -> <PUBKEY> (each engine
    made its own root CA; the issuer subject, CN=swarm-ca, is not masked);
  * timestamps (RFC 3339 with optional fraction and Z, or Go's
    "2006-01-02 15:04:05.999999999 +0000 utc") -> <TIME>;
  * 25-character base36 words (node and cluster IDs) -> <ID>;
  * each engine's own advertise address (127.0.0.11 for swarmd, 127.0.0.71
    for dockerd) -> <ADDR>: the only input that differs on purpose;
  * the engine version, "0.1.0" vs "20.10.24+dfsg1" -> <ENGINE-VERSION>;
  * plugin lists: the values of the Log/Network/Volume lines under
    "Plugins:" in `node inspect --pretty`, and Description.Engine.Plugins in
    JSON -> <PLUGINS>. dockerd 20.10 ships more log and network drivers
    (awslogs, ipvlan, ...); swarmd's list must be a subset of dockerd's;
  * JSON only: Version.Index -> <INDEX> (dockerd's SwarmKit makes internal
    raft writes of its own, so the index differs while both grow).
`docker info` is compared on its Swarm section only (the rest describes the
engines: storage driver, runtimes, security options, which differ by
design). Hostnames, CPUs and memory come from the same machine and are not
masked.
"""
import json
import re

import pytest

import harness
from harness import CLIS, RefDockerd, swarm_info

pytestmark = pytest.mark.skipif(not RefDockerd.available(), reason="no /usr/sbin/dockerd")

SWARMD_ADDR = "127.0.0.11"  # the first node of a Cluster
REF_ADDR = "127.0.0.71"
JSON = {"Content-Type": "application/json"}

MASKS = [
    (re.compile(r"SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}"), "<TOKEN>"),
    (re.compile(r"SWMKEY-1-[A-Za-z0-9+/]{43}"), "<UNLOCK-KEY>"),
    (re.compile(r"-----BEGIN CERTIFICATE-----(\n|\\n).*?-----END CERTIFICATE-----", re.S),
     "<PEM>"),
    (re.compile(r"(Issuer Public Key:\s+)[A-Za-z0-9+/=]+"), r"\1<PUBKEY>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z| \+0000 (utc|UTC))"), "<TIME>"),
    (re.compile(r"(?<![0-9a-z])[0-9a-z]{25}(?![0-9a-z])"), "<ID>"),
    (re.compile(r"(?<![\w.+])(0\.1\.0|20\.10\.24\+dfsg1)(?![\w.+])"), "<ENGINE-VERSION>"),
    (re.compile(r"^( (Log|Network|Volume):\s+).*$", re.M), r"\1<PLUGINS>"),
]


def mask(text, addr):
    text = re.sub(re.escape(addr) + r"(?!\d)", "<ADDR>", text)
    for rx, repl in MASKS:
        text = rx.sub(repl, text)
    return text


def mask_json(obj, addr):
    """The JSON rules: structural ones first, then the text rules on strings."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "Version" and isinstance(v, dict) and set(v) == {"Index"}:
                out[k] = {"Index": "<INDEX>"}
            elif k == "Plugins" and isinstance(v, list):
                out[k] = "<PLUGINS>"
            elif k == "CertIssuerPublicKey":
                out[k] = "<PUBKEY>"
            else:
                out[k] = mask_json(v, addr)
        return out
    if isinstance(obj, list):
        return [mask_json(v, addr) for v in obj]
    if isinstance(obj, str):
        return mask(obj, addr)
    return obj


def key_paths(obj, prefix=""):
    """Every key path in a JSON value, to name missing/extra members."""
    paths = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            paths.add(prefix + k)
            paths |= key_paths(v, prefix + k + ".")
    elif isinstance(obj, list):
        for v in obj:
            paths |= key_paths(v, prefix + "[].")
    return paths


def swarm_section(info_text):
    """The ` Swarm:` block of `docker info` (its line and the deeper ones)."""
    out, inside = [], False
    for line in info_text.splitlines():
        if line.startswith(" Swarm:"):
            inside = True
        elif inside and not line.startswith("  "):
            break
        if inside:
            out.append(line)
    assert out, info_text
    return "\n".join(out) + "\n"


class Pair:
    """swarmd and dockerd, and the differences found so far."""

    def __init__(self, swarmd, ref):
        self.swarmd, self.ref = swarmd, ref
        self.diffs = []

    def engines(self):
        return ((self.swarmd, SWARMD_ADDR), (self.ref, REF_ADDR))

    def cli(self, cli, *args, input=None, section=None, addr_args=False):
        """Runs one command on both; records a diff of (rc, stdout, stderr)."""
        got = []
        for eng, addr in self.engines():
            a = [x.replace("{ADDR}", addr).replace("{SELF}", swarm_info(eng)["NodeID"] or "-")
                 for x in args]
            p = eng.docker(*a, cli=cli, input=input)
            out = section(p.stdout) if section and p.returncode == 0 else p.stdout
            got.append((p.returncode, mask(out, addr), mask(p.stderr, addr)))
        if got[0] != got[1]:
            self.diffs.append("docker %s (%s):\n  swarmd: %r\n  dockerd: %r"
                              % (" ".join(args), cli, got[0], got[1]))
        return got[0]

    def api(self, method, path, body=None):
        """One raw request on both; records a diff of (status, masked body)."""
        got = []
        for eng, addr in self.engines():
            p = path.replace("{SELF}", swarm_info(eng)["NodeID"] or "-")
            if "{VERSION}" in p or "{NVERSION}" in p:
                sw = eng.request("GET", "/v1.41/swarm")
                nid = swarm_info(eng)["NodeID"]
                nd = eng.request("GET", "/v1.41/nodes/" + nid)
                if sw.status == 200:
                    p = p.replace("{VERSION}", str(sw.json()["Version"]["Index"]))
                if nd.status == 200:
                    p = p.replace("{NVERSION}", str(nd.json()["Version"]["Index"]))
            r = eng.request(method, p, body=body, headers=JSON if body is not None else None)
            try:
                b = mask_json(json.loads(r.body), addr) if r.body else ""
            except ValueError:
                b = mask(r.body.decode(), addr)
            got.append((r.status, r.headers.get("Content-Type"), b))
        if got[0] != got[1]:
            self.diffs.append("%s %s %r:\n  swarmd: %r\n  dockerd: %r"
                              % (method, path, body, got[0], got[1]))
        return got[0]

    def json_doc(self, what, docs):
        """Compares two JSON documents (swarmd's, dockerd's) after masking."""
        a, b = (mask_json(d, addr) for d, (_, addr) in zip(docs, self.engines()))
        missing, extra = key_paths(b) - key_paths(a), key_paths(a) - key_paths(b)
        if missing or extra:
            self.diffs.append("%s keys: missing %s, extra %s" % (what, sorted(missing),
                                                                 sorted(extra)))
        elif a != b:
            self.diffs.append("%s:\n  swarmd: %s\n  dockerd: %s" % (what, json.dumps(a),
                                                                   json.dumps(b)))

    def init(self, cli):
        return self.cli(cli, "swarm", "init", "--advertise-addr", "{ADDR}",
                        "--listen-addr", "{ADDR}:2377")

    def leave(self):
        for eng, _ in self.engines():
            if swarm_info(eng)["LocalNodeState"] != "inactive":
                eng.docker("swarm", "leave", "--force")

    def check(self):
        assert not self.diffs, "swarmd differs from dockerd:\n" + "\n".join(self.diffs)


@pytest.fixture(scope="module")
def engines():
    c = harness.Cluster()
    ref = RefDockerd(c)
    try:
        swarmd = c.node()
        assert swarmd.addr == SWARMD_ADDR
        ref.start()
        yield swarmd, ref
    finally:
        try:
            ref.stop()
        finally:
            c.cleanup()


@pytest.fixture
def pair(engines):
    p = Pair(*engines)
    try:
        yield p
    finally:
        p.leave()


@pytest.mark.parametrize("cli", CLIS)
def test_cli_outside_swarm(pair, cli):
    for args in (["swarm", "leave"], ["swarm", "leave", "--force"], ["node", "ls"],
                 ["node", "inspect", "self"], ["swarm", "join-token", "worker"],
                 ["swarm", "join-token", "-q", "manager"], ["swarm", "unlock-key"],
                 ["swarm", "update", "--autolock"], ["node", "rm", "x"]):
        pair.cli(cli, *args)
    pair.cli(cli, "swarm", "unlock", input="SWMKEY-1-x\n")
    pair.cli(cli, "info", section=swarm_section)
    pair.check()


@pytest.mark.parametrize("cli", CLIS)
def test_cli_swarm_session(pair, cli):
    rc, out, _ = pair.init(cli)
    assert rc == 0 and "Swarm initialized: current node (<ID>) is now a manager." in out
    for args in (["swarm", "join-token", "worker"], ["swarm", "join-token", "manager"],
                 ["swarm", "join-token", "-q", "manager"], ["swarm", "join-token", "-q", "worker"],
                 ["node", "ls"], ["node", "ls", "-q"], ["node", "ls", "--filter", "role=manager"],
                 ["node", "ls", "--filter", "role=worker"], ["node", "ls", "--filter", "x=y"],
                 ["node", "ls", "--filter", "role=bogus"],
                 ["node", "ls", "--format", "{{.ID}} {{.Self}} {{.Status}} {{.ManagerStatus}} "
                  "{{.TLSStatus}}"],
                 ["node", "inspect", "--pretty", "self"]):
        pair.cli(cli, *args)
    pair.cli(cli, "info", section=swarm_section)
    pair.init(cli)  # again: already part of a swarm
    for args in (["swarm", "leave"], ["node", "rm", "{SELF}"], ["node", "rm", "--force", "{SELF}"],
                 ["node", "rm", "self"], ["node", "demote", "self"], ["node", "demote", "{SELF}"],
                 ["node", "promote", "{SELF}"], ["node", "rm", "nosuchnode"],
                 ["node", "inspect", "nosuchnode"], ["node", "update", "--label-add", "a=b", "self"],
                 ["node", "update", "--availability", "drain", "{SELF}"], ["node", "ls"],
                 ["node", "update", "--label-add", "a=b", "--label-add", "c=", "{SELF}"],
                 ["node", "inspect", "-f", "{{json .Spec}}", "self"],
                 ["node", "update", "--availability", "pause", "--label-rm", "a", "{SELF}"],
                 ["node", "inspect", "-f", "{{json .Spec}} {{.Status.State}}", "self"],
                 ["node", "ls"],
                 ["node", "update", "--availability", "active", "--role", "worker", "{SELF}"],
                 ["swarm", "join-token", "--rotate", "worker"],
                 ["swarm", "join-token", "--rotate", "-q", "manager"],
                 ["swarm", "update", "--task-history-limit", "7", "--snapshot-interval", "50",
                  "--dispatcher-heartbeat", "10s", "--cert-expiry", "48h"]):
        pair.cli(cli, *args)
    pair.cli(cli, "info", section=swarm_section)
    for args in (["swarm", "unlock-key"], ["swarm", "update", "--autolock"],
                 ["swarm", "unlock-key"], ["swarm", "unlock-key", "-q"],
                 ["swarm", "unlock-key", "--rotate"], ["swarm", "update", "--autolock=false"],
                 ["swarm", "unlock-key"]):
        pair.cli(cli, *args)
    pair.cli(cli, "swarm", "unlock", input="SWMKEY-1-x\n")
    pair.cli(cli, "info", section=swarm_section)
    pair.cli(cli, "swarm", "leave", "--force")
    pair.cli(cli, "info", section=swarm_section)
    pair.cli(cli, "node", "ls")
    pair.check()


def test_json_documents(pair):
    """node inspect self (through both CLIs), GET /swarm, GET /nodes, /info's
    Swarm: the same members with the same values after masking."""
    pair.init(harness.CLI28)
    plugins = []
    for cli in CLIS:
        docs = []
        for eng, _ in pair.engines():
            p = eng.docker("node", "inspect", "self", cli=cli)
            assert p.returncode == 0, p.stderr
            docs.append(json.loads(p.stdout))
        pair.json_doc("node inspect self (%s)" % cli, docs)
        plugins = [{(x["Type"], x["Name"]) for x in d[0]["Description"]["Engine"]["Plugins"]}
                   for d in docs]
    assert plugins[0] and plugins[0] <= plugins[1], plugins
    for path in ("/v1.41/swarm", "/v1.41/nodes", "/v1.41/info"):
        docs = [eng.request("GET", path).json() for eng, _ in pair.engines()]
        if path.endswith("info"):
            docs = [d["Swarm"] for d in docs]
        pair.json_doc("GET " + path, docs)
    pair.check()


def test_api_errors(pair):
    """Raw requests whose answers are errors (and a few that are not)."""
    bad_filter = "filters=%7B%22x%22%3A%7B%22y%22%3Atrue%7D%7D"
    outside = [("GET", "/v1.41/swarm", None), ("GET", "/v1.41/nodes", None),
               ("GET", "/v1.41/nodes/x", None), ("DELETE", "/v1.41/nodes/x", None),
               ("GET", "/v1.41/nodes?" + bad_filter, None),
               ("GET", "/v1.41/swarm/unlockkey", None),
               ("POST", "/v1.41/swarm/leave", None), ("POST", "/v1.41/swarm/leave?force=1", None),
               ("POST", "/v1.41/swarm/unlock", '{"UnlockKey":"SWMKEY-1-x"}'),
               ("POST", "/v1.41/swarm/update?version=1", "{}"),
               ("POST", "/v1.41/swarm/update", "{}"),
               ("POST", "/v1.41/nodes/x/update?version=1", "{}"),
               ("POST", "/v1.41/nodes/x/update", "{}")]
    for path in ("/v1.41/swarm/update?version=x", "/v1.41/nodes/x/update", "/v1.41/swarm/unlock",
                 "/v1.41/swarm/join", "/v1.41/swarm/init"):
        outside += [("POST", path, b) for b in ("", " \n", "{bad", "{", "[]", "3")]
    for req in outside:
        pair.api(*req)
    pair.init(harness.CLI28)
    inside = [("POST", "/v1.41/swarm/init", '{"ListenAddr":"127.0.0.1:2377"}'),
              ("POST", "/v1.41/swarm/join", '{"RemoteAddrs":["127.0.0.1:1"],"JoinToken":"x"}'),
              ("POST", "/v1.41/swarm/leave", None), ("POST", "/v1.41/swarm/leave?force=False", None),
              ("POST", "/v1.41/swarm/leave?force=0", None),
              ("GET", "/v1.41/nodes?" + bad_filter, None),
              ("GET", "/v1.41/nodes?filters=%7B%22role%22%3A%7B%22bogus%22%3Atrue%7D%7D", None),
              ("GET", "/v1.41/nodes?filters=%7B%22role%22%3A%5B%22manager%22%5D%7D", None),
              ("GET", "/v1.41/nodes?filters=%7Bbad", None),
              ("GET", "/v1.41/nodes?filters=%7B%22membership%22%3A%7B%22bogus%22%3Atrue%7D%7D",
               None),
              ("GET", "/v1.41/nodes?filters=%7B%22membership%22%3A%5B%22accepted%22%5D%2C"
               "%22name%22%3A%5B%22nosuch%22%5D%7D", None),
              ("GET", "/v1.41/nodes/nosuch", None), ("DELETE", "/v1.41/nodes/nosuch", None),
              ("DELETE", "/v1.41/nodes/{SELF}", None), ("DELETE", "/v1.41/nodes/{SELF}?force=1", None),
              ("DELETE", "/v1.41/nodes/{SELF}?force=true", None),
              ("POST", "/v1.41/swarm/update", "{}"),
              ("POST", "/v1.41/swarm/update?version=abc", "{}"),
              ("POST", "/v1.41/swarm/update?version=1", "{}"),
              ("POST", "/v1.41/swarm/update?version={VERSION}", '{"Name":"x"}'),
              ("POST", "/v1.41/nodes/{SELF}/update", '{"Role":"manager","Availability":"active"}'),
              ("POST", "/v1.41/nodes/{SELF}/update?version=1",
               '{"Role":"manager","Availability":"active"}'),
              ("POST", "/v1.41/nodes/nosuch/update?version={NVERSION}",
               '{"Role":"manager","Availability":"active"}'),
              ("POST", "/v1.41/nodes/nosuch/update?version=1", "{}"),
              ("POST", "/v1.41/nodes/{SELF}/update?version={NVERSION}", '{"Role":"manager"}'),
              ("POST", "/v1.41/nodes/{SELF}/update?version={NVERSION}",
               '{"Role":"manager","Availability":"bogus"}'),
              ("POST", "/v1.41/nodes/{SELF}/update?version={NVERSION}",
               '{"Role":"worker","Availability":"active"}'),
              ("POST", "/v1.41/nodes/{SELF}/update?version={NVERSION}",
               '{"Role":"manager","Availability":"active","Labels":{"a":1}}'),
              ("POST", "/v1.41/nodes/{SELF}/update?version={NVERSION}",
               '{"Role":"manager","Availability":"active","Labels":{"a":null,"b":"c"}}'),
              ("GET", "/v1.41/nodes/{SELF}", None),
              ("POST", "/v1.41/swarm/unlock", '{"UnlockKey":"SWMKEY-1-x"}'),
              ("POST", "/v1.41/swarm/unlock", '{"UnlockKey":"bogus"}'),
              ("GET", "/v1.41/swarm/unlockkey", None)]
    for path in ("/v1.41/swarm/update?version={VERSION}",
                 "/v1.41/nodes/{SELF}/update?version={NVERSION}", "/v1.41/swarm/unlock"):
        inside += [("POST", path, b) for b in ("", "{bad", "{", "[]", '"s"')]
    for req in inside:
        pair.api(*req)
    pair.check()
