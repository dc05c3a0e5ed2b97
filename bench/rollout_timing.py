"""Rollout timing benchmark for vtrack-agent on the example app (see rollout-timing.sh)."""

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SECRET = "bench-secret"


def sh(*args, cwd=None):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo, message):
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qm", message, cwd=repo)
    return sh("git", "rev-parse", "HEAD", cwd=repo)


def ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bench:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="vtrack-bench.")
        self.app = os.path.join(self.work, "app")
        self.deploy = os.path.join(self.work, "deploy")
        self.port = free_port()
        self.backend = free_port()
        self.frontend = free_port()
        shutil.copytree(os.path.join(ROOT, "examples", "vtrack-app"), self.app)
        sh("git", "init", "-q", "-b", "main", cwd=self.app)
        commit(self.app, "v1")
        os.makedirs(self.deploy)
        sh("git", "init", "-q", "-b", "main", cwd=self.deploy)
        with open(os.path.join(self.work, "secret"), "w") as f:
            f.write(SECRET)
        with open(os.path.join(self.work, "agent.yaml"), "w") as f:
            f.write(
                f"agentName: bench\nstateDir: {self.work}/state\nlisten: 127.0.0.1:{self.port}\n"
                f"sources:\n  - git: {{repoURL: file://{self.deploy}, branch: main, path: ., interval: 1h,"
                f" webhookSecretFile: {self.work}/secret}}\n")
        self.write_doc(sh("git", "rev-parse", "HEAD", cwd=self.app))
        commit(self.deploy, "deploy v1")
        self.log = open(os.path.join(self.work, "agent.log"), "w")
        self.proc = subprocess.Popen([os.path.join(ROOT, "bin", "vtrack"), "run", "--config",
                                      os.path.join(self.work, "agent.yaml")], stdout=self.log, stderr=self.log)

    def write_doc(self, revision):
        with open(os.path.join(ROOT, "examples", "process", "vtrack.yaml")) as f:
            doc = f.read()
        doc = doc.replace("file:///srv/git/V_Track.git", "file://" + self.app)
        doc = doc.replace("revision: v1", "revision: " + revision)
        doc = doc.replace("18080", str(self.backend)).replace("13000", str(self.frontend))
        with open(os.path.join(self.deploy, "vtrack.yaml"), "w") as f:
            f.write(doc)

    def status(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/deployments/vtrack", timeout=5) as r:
                return json.load(r)["status"]
        except Exception:
            return {}

    def wait(self, phase, commit_sha, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status()
            if st.get("phase") == phase and st.get("currentCommit") == commit_sha:
                return time.time()
            if self.proc.poll() is not None:
                raise SystemExit("agent exited; see " + self.log.name)
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {phase} {commit_sha[:7]}: {self.status()}")

    def webhook(self):
        body = b'{"ref":"refs/heads/main"}'
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1/hooks/git", data=body, method="POST",
                                     headers={"X-Hub-Signature-256": sig, "X-GitHub-Event": "push"})
        sent = time.time()
        urllib.request.urlopen(req, timeout=10).read()
        return sent

    def push(self, edit, message):
        edit()
        sha = commit(self.app, message)
        self.write_doc(sha)
        commit(self.deploy, "deploy " + sha[:7])
        return sha, self.webhook()

    def rollout(self):
        db = sqlite3.connect(os.path.join(self.work, "state", "state.db"))
        rid, started, finished = db.execute(
            "SELECT id, started_at, finished_at FROM rollouts ORDER BY id DESC LIMIT 1").fetchone()
        steps = {name: (ts(s), ts(e)) for name, s, e in db.execute(
            "SELECT step, started_at, finished_at FROM rollout_steps WHERE rollout_id = ?", (rid,))}
        rounds = {}
        for stage, at in db.execute("SELECT stage, at FROM check_results WHERE rollout_id = ?", (rid,)):
            rounds.setdefault(stage, []).append(ts(at))
        db.close()
        return ts(started), ts(finished), steps, rounds

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        db = sqlite3.connect(os.path.join(self.work, "state", "state.db"))
        for (pgid,) in db.execute("SELECT pgid FROM processes"):
            subprocess.run(["kill", "-TERM", "--", f"-{pgid}"], capture_output=True)
        db.close()


def good(b, i):
    def edit():
        with open(os.path.join(b.app, "VERSION"), "w") as f:
            f.write(f"2.{i}.0\n")
    sha, sent = b.push(edit, f"good {i}")
    healthy = b.wait("Healthy", sha)
    started, finished, steps, rounds = b.rollout()
    start_done = steps["start"][1]
    # The last startup round is the first one where every check passed: the window starts there.
    window_from = max(rounds["Verifying:startup"])
    app_start = window_from - start_done
    checks = steps["verify"][1] - window_from
    total = healthy - sent
    commands = sum(e - s for n, (s, e) in steps.items() if n.startswith(("validate:", "prepare:")))
    return {"total": total, "app start": app_start, "checks (window)": checks, "validate/prepare": commands,
            "agent overhead": total - app_start - checks - commands,
            "webhook to rollout start": started - sent}


def failed(b, i, healthy_sha):
    def edit():
        with open(os.path.join(b.app, "backend", "app.py")) as f:
            s = f.read()
        s = s.replace("def main():\n", f"def main():\n    raise SystemExit('bench crash {i}')\n", 1)
        with open(os.path.join(b.app, "backend", "app.py"), "w") as f:
            f.write(s)
    sha, sent = b.push(edit, f"crash {i}")
    healthy = b.wait("RolledBack", healthy_sha)
    sh("git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "revert", "--no-edit", "HEAD", cwd=b.app)
    started, finished, steps, rounds = b.rollout()
    failed_at = steps["verify"][1]
    restart_done = steps["rollback-start"][1]
    window_from = max(rounds["RollingBack:startup"])
    app_start = window_from - restart_done
    checks = steps["verify-rollback"][1] - window_from
    total = healthy - failed_at
    return {"total": total, "app start": app_start, "checks (window)": checks,
            "agent overhead": total - app_start - checks, "failure detected after start": failed_at - steps["start"][1]}


def report(title, runs):
    print(f"\n{title} ({len(runs)} runs; median, min, max in ms)")
    for key in runs[0]:
        vals = [r[key] * 1000 for r in runs]
        print(f"  {key:30s} {statistics.median(vals):9.0f} {min(vals):9.0f} {max(vals):9.0f}")


def main():
    b = Bench()
    try:
        v1 = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", v1)
        goods, fails = [], []
        for i in range(ROUNDS):
            goods.append(good(b, i))
            current = b.status()["currentCommit"]
            fails.append(failed(b, i, current))
            # The revert commit is a new healthy revision: deploy it so the next round starts clean.
            sha = sh("git", "rev-parse", "HEAD", cwd=b.app)
            b.write_doc(sha)
            commit(b.deploy, "deploy revert")
            b.webhook()
            b.wait("Healthy", sha)
        health = open(os.path.join(ROOT, "examples", "process", "vtrack.yaml")).read()
        window = [l.strip() for l in health.splitlines() if l.strip().startswith(("window:", "interval:"))]
        print(f"example app, health policy {window}")
        report("webhook push -> new revision Healthy", goods)
        report("failed start -> old revision healthy again (RolledBack)", fails)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        out = os.path.join(ROOT, "bench", "results", time.strftime("rollout-timing-%Y%m%dT%H%M%S.json"))
        with open(out, "w") as f:
            json.dump({"good": goods, "failed": fails}, f, indent=2)
        print("\nraw results:", out)
    finally:
        b.stop()


if __name__ == "__main__":
    main()
