"""Shared pieces of the vtrack-agent benchmarks: the example app in git, the agent, its API."""

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "bench-secret"


def sh(*args, cwd=None):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo, message):
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-qm", message, cwd=repo)
    return sh("git", "rev-parse", "HEAD", cwd=repo)


def ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def report(title, runs):
    """Prints the median, min and max in ms of every measure of a list of runs."""
    import statistics
    print(f"\n{title} ({len(runs)} runs; median, min, max in ms)")
    for key in runs[0]:
        vals = [r[key] * 1000 for r in runs]
        print(f"  {key:30s} {statistics.median(vals):9.0f} {min(vals):9.0f} {max(vals):9.0f}")


def save_results(name, data):
    """Writes the raw runs to bench/results/<name>-<time>.json and says where."""
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", time.strftime(f"{name}-%Y%m%dT%H%M%S.json"))
    with open(out, "w") as f:
        json.dump(data, f, indent=2)
    print("\nraw results:", out)


def recreate(doc, backend, frontend):
    """The example document without blue-green: the services bind the public ports themselves."""
    import re
    doc = re.sub(r"  strategy:\n    blueGreen:\n(      .*\n)+", "", doc)
    doc = re.sub(r"\n +expose: \{listen: [^}]*\}", "", doc)
    return doc.replace("${port:backend}", str(backend)).replace("${port:frontend}", str(frontend))


def answers(b):
    """Whether the example backend's public address answers its health endpoint with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{b.backend}/api/health", timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


_HANDED_OUT = set()


def free_port():
    """A port free now and not handed out before by this run (the kernel may repeat one)."""
    import socket
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


class Bench:
    def __init__(self, doc_filter=None, runtime="process", strategy="blue-green"):
        self.doc_filter = doc_filter
        self.strategy = strategy
        self.runtime = runtime
        self.work = tempfile.mkdtemp(prefix="vtrack-bench.")
        self.app = os.path.join(self.work, "app")
        self.deploy = os.path.join(self.work, "deploy")
        self.port = free_port()
        self.backend = free_port()
        self.frontend = free_port()
        shutil.copytree(os.path.join(ROOT, "examples", "vtrack-app"), self.app)
        # Compose reads the ports from .env in the release root.
        self.project = "vtbench" + os.path.basename(self.work).split(".")[-1].lower()
        with open(os.path.join(self.app, ".env"), "w") as f:
            f.write(f"VTRACK_PORT_BACKEND={self.backend}\nVTRACK_PORT_FRONTEND={self.frontend}\n")
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
        self.restart()

    def restart(self):
        """Starts the agent (again, after it stopped: its output goes on in the same log)."""
        self.proc = subprocess.Popen([os.path.join(ROOT, "bin", "vtrack"), "run", "--config",
                                      os.path.join(self.work, "agent.yaml")], stdout=self.log, stderr=self.log)

    def write_doc(self, revision):
        with open(os.path.join(ROOT, "examples", self.runtime, "vtrack.yaml")) as f:
            doc = f.read()
        doc = doc.replace("project: vtrack", "project: " + self.project)
        doc = doc.replace("file:///srv/git/V_Track.git", "file://" + self.app)
        doc = doc.replace("revision: v1", "revision: " + revision)
        doc = doc.replace("18080", str(self.backend)).replace("13000", str(self.frontend))
        if self.doc_filter:
            doc = self.doc_filter(doc)
        if self.strategy == "recreate":
            doc = recreate(doc, self.backend, self.frontend)
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

    def rows(self):
        """The example app's video sources in the deployment's live database (read-only)."""
        db = sqlite3.connect(f"file:{self.work}/state/deployments/vtrack/shared/backend/database/events.db?mode=ro",
                             uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM video_sources").fetchone()[0]
        finally:
            db.close()

    def agent_pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        db = sqlite3.connect(os.path.join(self.work, "state", "state.db"))
        for (pgid,) in db.execute("SELECT pgid FROM processes"):
            subprocess.run(["kill", "-TERM", "--", f"-{pgid}"], capture_output=True)
        db.close()
        proxy = os.path.join(self.work, "state", "proxy", "proxy.json")
        if os.path.exists(proxy):
            with open(proxy) as f:
                subprocess.run(["kill", "-TERM", str(json.load(f)["pid"])], capture_output=True)
        if self.runtime == "compose":
            # Recreate runs the project under its own name; blue-green as <project>-<colour>.
            ids = set(sh("docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").split())
            ids |= set(sh("docker", "ps", "-aq", "--filter", f"name=^{self.project}-").split())
            if ids:
                subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


