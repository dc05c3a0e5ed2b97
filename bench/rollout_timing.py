"""Rollout timing benchmark for vtrack-agent on the example app (see rollout-timing.sh)."""

import os
import sys

from benchlib import ROOT, Bench, commit, report, save_results, sh

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


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
    detected = failed_at - steps["start"][1]
    total = healthy - failed_at
    if "rollback-start" not in steps:
        # Blue-green: the old release never stopped serving, the rollback stops the new one only.
        return {"total": total, "app start": 0.0, "checks (window)": 0.0, "agent overhead": total,
                "failure detected after start": detected}
    restart_done = steps["rollback-start"][1]
    window_from = max(rounds["RollingBack:startup"])
    app_start = window_from - restart_done
    checks = steps["verify-rollback"][1] - window_from
    return {"total": total, "app start": app_start, "checks (window)": checks,
            "agent overhead": total - app_start - checks, "failure detected after start": detected}


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
        save_results("rollout-timing", {"good": goods, "failed": fails})
    finally:
        b.stop()


if __name__ == "__main__":
    main()
