"""Growth over time (see growth.sh): one small deployment rolled out again and again, good and bad
alternating; every 50 rollouts, what the agent keeps: state.db, releases and backups on disk, open
file descriptors, threads, and the heap after a full GC. Flat, or bounded by retention."""

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

ROLLOUTS = int(sys.argv[1]) if len(sys.argv) > 1 else 500

DOC = """apiVersion: vtrack.io/v1alpha1
kind: VTrackDeployment
metadata:
  name: grow
spec:
  source: {{repoURL: "file://{repo}", revision: {rev}}}
  runtime:
    type: process
    sharedPaths: [data/]
    services:
      - name: web
        command: [python3, -m, http.server, "{port}", --bind, 127.0.0.1]
  backup: {{files: [data/notes.txt], keep: 3}}
  releases: {{keep: 3}}
  health:
    startupTimeout: 20s
    interval: 300ms
    window: 600ms
    checks:
      - name: web
        http: {{url: "http://127.0.0.1:{port}/index.html"}}
"""


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def heap_after_gc(pid):
    sh("jcmd", str(pid), "GC.run")
    out = sh("jcmd", str(pid), "GC.heap_info")
    m = re.search(r"used (\d+)K", out)
    return round(int(m.group(1)) / 1024, 1) if m else None


def main():
    work = tempfile.mkdtemp(prefix="vtrack-growth.")
    repo, docs = os.path.join(work, "app"), os.path.join(work, "docs")
    os.makedirs(os.path.join(repo, "data"))
    os.makedirs(docs)
    with open(os.path.join(repo, "data", "notes.txt"), "w") as f:
        f.write("users' notes\n")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    port, api = free_port(), free_port()

    def deploy(rev):
        with open(os.path.join(docs, "grow.yaml"), "w") as f:
            f.write(DOC.format(repo=repo, rev=rev, port=port))

    with open(os.path.join(repo, "index.html"), "w") as f:
        f.write("<p>0</p>\n")
    deploy(commit(repo, "r0"))
    with open(os.path.join(work, "agent.yaml"), "w") as f:
        f.write(f"agentName: growth\nstateDir: {work}/state\nlisten: 127.0.0.1:{api}\n"
                f"sources:\n  - file: {{path: {docs}, interval: 200ms}}\n")
    log = open(os.path.join(work, "agent.log"), "w")
    proc = subprocess.Popen([os.path.join(ROOT, "bin", "vtrack"), "run", "--config", os.path.join(work, "agent.yaml")],
                            stdout=log, stderr=log)
    state = os.path.join(work, "state")
    rows = []
    try:
        def last_id():
            try:
                lr = get(f"http://127.0.0.1:{api}/api/v1/deployments/grow")["status"].get("lastRollout") or {}
                return lr.get("id", 0), lr.get("result")
            except Exception:
                return 0, None

        def wait_done(after):
            while True:
                rid, result = last_id()
                if rid > after and result:
                    return rid
                time.sleep(0.05)

        done = wait_done(0)
        t0 = time.time()
        for i in range(1, ROLLOUTS + 1):
            if i % 2:
                with open(os.path.join(repo, "index.html"), "w") as f:
                    f.write(f"<p>{i}</p>\n")
            else:
                os.remove(os.path.join(repo, "index.html"))  # 404: a bad revision, rolled back
            sha = commit(repo, f"r{i}")
            if i % 2 == 0:
                with open(os.path.join(repo, "index.html"), "w") as f:
                    f.write(f"<p>{i}</p>\n")
            deploy(sha)
            done = wait_done(done)
            if i % 50 == 0 or i == 1:
                pid = proc.pid
                row = {
                    "rollouts": i,
                    "state.db KiB": round(sum(os.path.getsize(os.path.join(state, f)) for f in os.listdir(state)
                                              if f.startswith("state.db")) / 1024),
                    "rollout rows": sqlite3.connect(os.path.join(state, "state.db")).execute(
                        "SELECT COUNT(*) FROM rollouts").fetchone()[0],
                    "check rows": sqlite3.connect(os.path.join(state, "state.db")).execute(
                        "SELECT COUNT(*) FROM check_results").fetchone()[0],
                    "releases": len(os.listdir(os.path.join(state, "deployments", "grow", "releases"))),
                    "backups": len([d for d in os.listdir(os.path.join(state, "deployments", "grow", "backups"))
                                    if d.isdigit()]),
                    "deployment dir KiB": round(du(os.path.join(state, "deployments", "grow")) / 1024),
                    "open fds": len(os.listdir(f"/proc/{pid}/fd")),
                    "threads": int(re.search(r"Threads:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)),
                    "heap after GC MiB": heap_after_gc(pid),
                    "elapsed s": round(time.time() - t0),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
        keys = list(rows[0].keys())
        print(f"\n{ROLLOUTS} rollouts of one deployment, good and bad alternating")
        for k in keys:
            print(f"  {k:20s}" + "".join(f"{str(r[k]):>9}" for r in rows))
        save_results("growth", rows)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        db = sqlite3.connect(os.path.join(state, "state.db"))
        for (pgid,) in db.execute("SELECT pgid FROM processes"):
            subprocess.run(["kill", "-TERM", "--", f"-{pgid}"], capture_output=True)
        db.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
