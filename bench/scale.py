"""One agent, many deployments (see scale.sh): for N tiny real apps (python3 -m http.server, one
http check each, interval 1 s), the agent's startup, its idle CPU and memory, how late monitoring
rounds start, the API's latency, a rollout of one deployment while the others keep checking, and
a CLI command's start time."""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import ROOT, commit, free_port, save_results, sh

SIZES = [int(x) for x in (sys.argv[1:] or ["1", "10", "50", "200"])]
IDLE_SECONDS = int(os.environ.get("SCALE_IDLE_SECONDS", "60"))
TICKS = os.sysconf("SC_CLK_TCK")

DOC = """apiVersion: vtrack.io/v1alpha1
kind: VTrackDeployment
metadata:
  name: {name}
spec:
  source: {{repoURL: "file://{repo}", revision: {rev}}}
  runtime:
    type: process
    services:
      - name: web
        command: [python3, -m, http.server, "{port}", --bind, 127.0.0.1]
  releases: {{keep: 2}}
  health:
    startupTimeout: 60s
    interval: 1s
    window: 1s
    checks:
      - name: web
        http: {{url: "http://127.0.0.1:{port}/index.html"}}
"""


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return None


def wrk(url, conns, seconds=5):
    out = sh("wrk", "-t", "2" if conns > 1 else "1", "-c", str(conns), "-d", f"{seconds}s", "--latency", url)

    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {"p50 ms": ms("50%"), "p99 ms": ms("99%"), "req/s": float(rps.group(1)) if rps else None}


def lateness(port):
    _, body = get(f"http://127.0.0.1:{port}/metrics")
    out = {}
    for q in ("0.5", "0.99"):
        m = re.search(rf'^vtrack_check_round_lateness_seconds{{quantile="{q}"}} ([\d.eE+-]+)', body.decode(), re.M)
        out[q] = round(float(m.group(1)) * 1000, 1) if m else None
    return out


def deployments(port):
    _, body = get(f"http://127.0.0.1:{port}/api/v1/deployments", timeout=30)
    return {d["name"]: d.get("status", {}) for d in json.loads(body)["items"]}


def app_ports(n):
    """Ports for the apps below the ephemeral range, so that no outgoing connection holds one."""
    import socket
    out, p = [], 21000
    while len(out) < n:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                out.append(p)
            except OSError:
                pass
        p += 1
    return out


def start_agent(work, log):
    return subprocess.Popen([os.path.join(ROOT, "bin", "vtrack"), "run", "--config",
                             os.path.join(work, "agent.yaml")], stdout=log, stderr=log)


def await_ready(port):
    while True:
        try:
            if get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                return
        except Exception:
            pass
        time.sleep(0.02)


def await_all_healthy(port, n):
    while True:
        try:
            st = deployments(port)
            if len(st) == n and all(s.get("phase") == "Healthy" for s in st.values()):
                return
        except Exception:
            pass
        time.sleep(0.1)


def one(n):
    work = tempfile.mkdtemp(prefix="vtrack-scale.")
    repo, docs = os.path.join(work, "app"), os.path.join(work, "docs")
    os.makedirs(repo)
    os.makedirs(docs)
    with open(os.path.join(repo, "index.html"), "w") as f:
        f.write("<p>v1</p>\n")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    v1 = commit(repo, "v1")
    ports = app_ports(n)
    for i in range(n):
        with open(os.path.join(docs, f"s{i}.yaml"), "w") as f:
            f.write(DOC.format(name=f"s{i}", repo=repo, rev=v1, port=ports[i]))
    port = free_port()
    with open(os.path.join(work, "agent.yaml"), "w") as f:
        f.write(f"agentName: scale\nstateDir: {work}/state\nlisten: 127.0.0.1:{port}\n"
                f"sources:\n  - file: {{path: {docs}, interval: 1s}}\n")
    log = open(os.path.join(work, "agent.log"), "w")
    t0 = time.time()
    proc = start_agent(work, log)
    r = {"deployments": n}
    try:
        await_ready(port)
        r["start -> /readyz ms"] = round((time.time() - t0) * 1000)
        await_all_healthy(port, n)
        r["start -> all Healthy ms"] = round((time.time() - t0) * 1000)
        time.sleep(20)
        c0, w0 = cpu_ticks(proc.pid), time.time()
        time.sleep(IDLE_SECONDS)
        c1, w1 = cpu_ticks(proc.pid), time.time()
        r["idle CPU % of a core"] = round((c1 - c0) / TICKS / (w1 - w0) * 100, 1)
        r["RSS MiB"] = round(int(status_field(proc.pid, "VmRSS")) / 1024)
        r["threads"] = int(status_field(proc.pid, "Threads"))
        late = lateness(port)
        r["round lateness p50 ms"], r["round lateness p99 ms"] = late["0.5"], late["0.99"]
        for path, label in [("/api/v1/deployments", "list"), ("/api/v1/deployments/s0", "one")]:
            for c in (1, 32):
                w = wrk(f"http://127.0.0.1:{port}{path}", c)
                r[f"GET {label} c={c} p50 ms"] = w["p50 ms"]
                r[f"GET {label} c={c} p99 ms"] = w["p99 ms"]
        # A rollout of one deployment while the others keep checking.
        with open(os.path.join(repo, "index.html"), "w") as f:
            f.write("<p>v2</p>\n")
        v2 = commit(repo, "v2")
        t1 = time.time()
        with open(os.path.join(docs, "s0.yaml"), "w") as f:
            f.write(DOC.format(name="s0", repo=repo, rev=v2, port=ports[0]))
        while True:
            s0 = deployments(port).get("s0", {})
            if s0.get("phase") == "Healthy" and s0.get("currentCommit") == v2:
                break
            time.sleep(0.05)
        r["rollout of one ms"] = round((time.time() - t1) * 1000)
        t2 = time.time()
        sh(os.path.join(ROOT, "bin", "vtrack"), "status", "--server", f"http://127.0.0.1:{port}", "s0")
        r["vtrack status ms"] = round((time.time() - t2) * 1000)
        # The agent restarted: what runs is adopted, nothing restarts.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        t3 = time.time()
        proc = start_agent(work, log)
        await_ready(port)
        r["restart -> /readyz ms"] = round((time.time() - t3) * 1000)
        await_all_healthy(port, n)
        r["restart -> all adopted Healthy ms"] = round((time.time() - t3) * 1000)
        return r
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        db = sqlite3.connect(os.path.join(work, "state", "state.db"))
        for (pgid,) in db.execute("SELECT pgid FROM processes"):
            subprocess.run(["kill", "-TERM", "--", f"-{pgid}"], capture_output=True)
        db.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    rows = []
    for n in SIZES:
        r = one(n)
        rows.append(r)
        print(json.dumps(r), flush=True)
    keys = list(rows[0].keys())
    print("\none agent, N deployments (goals at N=200: idle CPU <= 25%, RSS <= 400 MiB,"
          " round lateness p99 <= 100 ms, status p99 <= 20 ms)")
    for k in keys:
        print(f"  {k:28s}" + "".join(f"{str(r.get(k)):>12}" for r in rows))
    save_results("scale", rows)


if __name__ == "__main__":
    main()
