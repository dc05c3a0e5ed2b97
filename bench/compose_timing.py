"""Compose runtime timings for vtrack-agent on the example app (see compose-timing.sh)."""

import json
import os
import re
import sqlite3
import sys
import time

from benchlib import Bench, answers, commit, report, save_results, sh, ts

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def dts(s):
    """A Docker timestamp (nanoseconds) as epoch seconds."""
    return ts(re.sub(r"(\.\d{6})\d*", r"\1", s))


def container(b, service):
    ids = sh("docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={b.project}",
             "--filter", f"label=com.docker.compose.service={service}").split()
    return ids[0] if ids else None


def inspect(cid):
    return json.loads(sh("docker", "inspect", cid))[0]


def last_event(b, kind):
    db = sqlite3.connect(os.path.join(b.work, "state", "state.db"))
    row = db.execute("SELECT id, at FROM events WHERE type = ? ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
    db.close()
    return row


def kill(b, i):
    old = container(b, "backend")
    before = last_event(b, "SelfHeal")
    t_kill = time.time()
    sh("docker", "kill", old)
    while True:
        ev = last_event(b, "SelfHeal")
        new = container(b, "backend")
        if ev != before and new and new != old:
            break
        time.sleep(0.02)
    while not answers(b):
        time.sleep(0.02)
    answering = time.time()
    c = inspect(new)
    created, started = dts(c["Created"]), dts(c["State"]["StartedAt"])
    reacted = ts(ev[1])
    return {"total (kill -> answering)": answering - t_kill,
            "kill -> agent reacts": reacted - t_kill,
            "agent + compose CLI": created - reacted,
            "engine create -> start": started - created,
            "app start": answering - started}


def crash(b, i, healthy_sha):
    def edit():
        p = os.path.join(b.app, "backend", "app.py")
        s = open(p).read().replace("def main():\n", f"def main():\n    raise SystemExit('bench crash {i}')\n", 1)
        open(p, "w").write(s)
    sha, sent = b.push(edit, f"crash {i}")
    rolled_back = b.wait("RolledBack", healthy_sha)
    sh("git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "revert", "--no-edit", "HEAD", cwd=b.app)
    started, finished, steps, rounds = b.rollout()
    failed_at = steps["verify"][1]
    stop = steps["rollback-stop"][1] - steps["rollback-stop"][0]
    restore = steps["restore"][1] - steps["restore"][0] if "restore" in steps else 0.0
    up = steps["rollback-start"][1] - steps["rollback-start"][0]
    engine_start = 0.0
    for svc in ("backend", "frontend"):
        c = inspect(container(b, svc))
        engine_start += dts(c["State"]["StartedAt"]) - dts(c["Created"])
    window_from = max(rounds["RollingBack:startup"])
    app_and_checks = steps["verify-rollback"][1] - steps["rollback-start"][1]
    total = rolled_back - failed_at
    engine = stop + engine_start
    return {"total (failure -> RolledBack)": total,
            "engine: stop+remove, create->start": engine,
            "compose CLI (up)": up - engine_start,
            "data restore": restore,
            "app start + checks (window)": app_and_checks,
            "agent overhead": total - engine - (up - engine_start) - restore - app_and_checks,
            "  of which first passing round -> done": steps["verify-rollback"][1] - window_from}


def main():
    b = Bench(runtime="compose")
    try:
        v1 = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", v1, timeout=600)
        kills, crashes = [], []
        for i in range(ROUNDS):
            kills.append(kill(b, i))
            b.wait("Healthy", b.status()["currentCommit"])
        for i in range(ROUNDS):
            current = b.status()["currentCommit"]
            crashes.append(crash(b, i, current))
            sha = sh("git", "rev-parse", "HEAD", cwd=b.app)
            b.write_doc(sha)
            commit(b.deploy, "deploy revert")
            b.webhook()
            b.wait("Healthy", sha, timeout=600)
        print(f"compose example, {sh('docker-compose', 'version', '--short')}, engine "
              f"{sh('docker', 'version', '--format', '{{.Server.Version}}')}")
        report("container killed by hand -> backend answering again", kills)
        report("container crashing at startup -> old images running healthy (RolledBack)", crashes)
        save_results("compose-timing", {"kill": kills, "crash": crashes})
    finally:
        b.stop()


if __name__ == "__main__":
    main()
