"""Every failure mode of the checklist as a real commit of the example app, pushed with a webhook:
how long until the agent has the old revision healthy again, and what caught it (see
failure-modes.sh)."""

import os
import sys
import time

from benchlib import Bench, save_results, sh

MODES = [
    ("crash at startup",
     [("backend/app.py", "def main():\n", "def main():\n    raise SystemExit('boom: missing setting')\n")]),
    ("API contract broken",
     [("backend/app.py", '"count": len(selected)', '"n": len(selected)')]),
    ("200 ms slower",
     [("backend/app.py", 'elif path == "/api/config/get-sources":\n',
       'elif path == "/api/config/get-sources":\n            time.sleep(0.2)\n')]),
    ("endpoint hangs",
     [("backend/app.py", 'elif path == "/api/config/get-sources":\n',
       'elif path == "/api/config/get-sources":\n            threading.Event().wait()\n')]),
    ("migration deletes rows",
     [("backend/app.py", "    conn.close()\n\n\ndef record_events",
       "    with conn:\n        conn.execute(\"DELETE FROM video_sources WHERE id > 1\")\n"
       "    conn.close()\n\n\ndef record_events")]),
    ("log flooded with errors",
     [("backend/app.py", "    migrate()\n",
       "    migrate()\n    threading.Thread(target=lambda: [(log.error('db write failed'), time.sleep(0.05))"
       " for _ in iter(int, 1)], daemon=True).start()\n")]),
    ("memory hog",
     [("backend/app.py", "    migrate()\n",
       "    migrate()\n    global HOG\n    HOG = bytearray(400 * 1024 * 1024)\n"
       "    for i in range(0, len(HOG), 4096): HOG[i] = 1\n")]),
]


def main():
    runtime = sys.argv[1] if len(sys.argv) > 1 else "process"
    b = Bench(runtime=runtime)
    results = []
    try:
        v1 = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", v1)
        before = b.rows()
        for name, edits in MODES:
            def edit():
                sh("git", "checkout", "-q", v1, "--", ".", cwd=b.app)
                for path, old, new in edits:
                    p = os.path.join(b.app, path)
                    with open(p) as f:
                        text = f.read()
                    assert old in text, (name, old)
                    with open(p, "w") as f:
                        f.write(text.replace(old, new, 1))
            sha, sent = b.push(edit, name)
            deadline = time.time() + 180
            while time.time() < deadline:
                st = b.status()
                last = st.get("lastRollout", {})
                if last.get("to") == sha and st.get("phase") in ("RolledBack", "Failed"):
                    break
                time.sleep(0.1)
            else:
                raise SystemExit(f"{name}: no rollback within 180 s: {st}")
            back = time.time()
            started, finished, steps, _ = b.rollout()
            failed_at = steps.get("rollback-stop", (finished, finished))[0]
            results.append({
                "mode": name, "phase": st.get("phase"), "reason": last.get("reason"),
                "current is v1": st.get("currentCommit") == v1,
                "quarantined": sha in st.get("quarantinedCommits", []),
                "rows before/after": f"{before}/{b.rows()}",
                "push to failure seen ms": round((failed_at - sent) * 1000),
                "push to v1 healthy ms": round((back - sent) * 1000),
                "message": (last.get("message") or "").splitlines()[0][:110],
            })
    finally:
        b.stop()
    print(f"\nfailure modes of the example app (examples/{runtime}/vtrack.yaml)")
    print(f"  {'commit':26s} {'result':11s} {'reason':14s} {'v1 runs':8s} {'rows':6s} "
          f"{'failure seen':>13s} {'v1 healthy':>11s}")
    for r in results:
        print(f"  {r['mode']:26s} {r['phase']:11s} {r['reason']:14s} {str(r['current is v1']):8s} "
              f"{r['rows before/after']:6s} {r['push to failure seen ms']:>10d} ms {r['push to v1 healthy ms']:>8d} ms")
        print(f"  {'':26s} {r['message']}")
    save_results("failure-modes-" + runtime, results)
    if not all(r["current is v1"] and r["quarantined"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
