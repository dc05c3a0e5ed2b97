"""Power lost at a random moment of a blue-green rollout, again and again (see power-loss.sh).

Each round pushes a real commit of the example app (a good upgrade, or one whose migration deletes
rows, or one that crashes) through a signed webhook, waits a random time, and then takes the power:
the agent, its switch proxy and every process they started are frozen at once and killed, as a
machine that loses power would lose them. Only the agent starts again. It must finish what it was
doing: a good commit Healthy and never quarantined, a bad one rolled back with the rows it deleted
restored; the public address serves the revision the status names; nothing runs but that
revision's services (and the previous one, kept warm). Reports the time from the restart to the
end state and every round that broke a rule."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

from benchlib import Bench, save_results, sh, ts

BAD = {
    "deletes rows": ("backend/app.py", "    conn.close()\n\n\ndef record_events",
                     "    with conn:\n        conn.execute(\"DELETE FROM video_sources WHERE id > 1\")\n"
                     "    conn.close()\n\n\ndef record_events"),
    "crashes": ("backend/app.py", "def main():\n", "def main():\n    raise SystemExit('boom')\n"),
}


def children():
    """pid -> parent pid of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    out[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def environ_has(pid, entry):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return entry in f.read().split(b"\0")
    except OSError:
        return False


def power_off(b):
    """Freezes the agent, its proxy and everything either started (by descent, or by the
    VTRACK_STATE_DIR every service inherits), until no new one appears, then kills them all."""
    state = f"VTRACK_STATE_DIR={b.work}/state".encode()
    roots = {b.proc.pid}
    proxy = os.path.join(b.work, "state", "proxy", "proxy.json")
    try:
        with open(proxy) as f:
            roots.add(json.load(f)["pid"])
    except (OSError, ValueError, KeyError):
        pass
    frozen = set()
    while True:
        tree = children()
        found = set(p for p in roots if p in tree)
        grew = True
        while grew:
            more = {p for p, pp in tree.items() if pp in found and p not in found}
            grew = bool(more)
            found |= more
        found |= {p for p in tree if p not in found and environ_has(p, state)}
        new = found - frozen
        if not new:
            break
        for p in new:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        frozen |= new
    for p in frozen:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    b.proc.wait(timeout=30)
    if b.runtime == "compose":
        # The containers die with the machine; the engine (a service of its own) keeps their
        # records, as after a reboot without restart policies.
        ids = sh("docker", "ps", "-q", "--filter", f"name=^{b.project}-").split()
        if ids:
            subprocess.run(["docker", "kill", *ids], capture_output=True)
        frozen |= set(ids)
    return len(frozen)


def live_colour(b):
    db = sqlite3.connect(f"file:{b.work}/state/state.db?mode=ro", uri=True)
    try:
        row = db.execute("SELECT colour FROM instances WHERE role = 'Live'").fetchone()
        return row[0] if row else None
    finally:
        db.close()


def untracked(b):
    """Process groups of the deployment's services that the store has no row for."""
    state = f"VTRACK_STATE_DIR={b.work}/state".encode()
    db = sqlite3.connect(f"file:{b.work}/state/state.db?mode=ro", uri=True)
    try:
        known = {pgid for (pgid,) in db.execute("SELECT pgid FROM processes")}
    finally:
        db.close()
    proxy = os.path.join(b.work, "state", "proxy", "proxy.json")
    with open(proxy) as f:
        proxy = json.load(f)["pid"]  # it runs with the agent's state folder too
    out = set()
    for pid in children():
        if pid != proxy and environ_has(pid, state):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    pgid = int(f.read().rsplit(")", 1)[1].split()[3])
            except (OSError, IndexError, ValueError):
                continue
            if pgid not in known:
                out.add(pgid)
    return sorted(out)


def stray_containers(b):
    """Running containers of the deployment in a project (colour) the store has no instance of."""
    db = sqlite3.connect(f"file:{b.work}/state/state.db?mode=ro", uri=True)
    try:
        colours = {c for (c,) in db.execute("SELECT colour FROM instances")}
    finally:
        db.close()
    names = sh("docker", "ps", "--format", "{{.Names}}", "--filter", f"name=^{b.project}-").split()
    return sorted(n for n in names if not any(n.startswith(f"{b.project}-{c}") for c in colours))


def serves(b):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{b.backend}/api/health", timeout=5) as r:
            return json.load(r).get("commit")
    except Exception as e:
        return repr(e)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runtime = "compose" if "--compose" in sys.argv else "process"
    rounds = int(args[0]) if args else 20
    seed = int(args[1]) if len(args) > 1 else int(time.time())
    rng = random.Random(seed)
    print(f"{rounds} rounds, seed {seed}, {runtime}")
    b = Bench(runtime=runtime)
    results, broken = [], []
    try:
        base = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", base)
        before = b.rows()
        healthy, version = base, 1
        for n in range(rounds):
            kind = rng.choice(["good", "good", "deletes rows", "crashes"])
            # The rollout takes ~6 s when good, ~2 s when bad: lose the power anywhere in it.
            delay = rng.uniform(0, (7 if kind == "good" else 2) * (2.5 if runtime == "compose" else 1))

            def edit():
                sh("git", "checkout", "-q", healthy, "--", ".", cwd=b.app)
                with open(os.path.join(b.app, "ROUND"), "w") as f:
                    f.write(f"{n}\n")  # every round a commit of its own
                if kind == "good":
                    with open(os.path.join(b.app, "VERSION"), "w") as f:
                        f.write(f"{version + 1}.0.0\n")
                else:
                    path, old, new = BAD[kind]
                    p = os.path.join(b.app, path)
                    with open(p) as f:
                        text = f.read()
                    assert old in text, kind
                    with open(p, "w") as f:
                        f.write(text.replace(old, new, 1))

            sha, sent = b.push(edit, f"round {n}: {kind}")
            time.sleep(max(0.0, sent + delay - time.time()))
            at = b.status()
            killed = power_off(b)
            b.restart()
            restarted = time.time()
            want_phase = "Healthy" if kind == "good" else "RolledBack"
            want = sha if kind == "good" else healthy
            st = {}
            deadline = time.time() + 180
            while time.time() < deadline:
                st = b.status()
                # A bad commit's end: rolled back to the last healthy one, and quarantined (right
                # after the restart the status is still Healthy on that one, the push not read yet).
                # And checked since the restart: right after it the status is the one stored before.
                fresh = any(c.get("lastRun") and ts(c["lastRun"]) > restarted for c in st.get("checks") or [])
                if st.get("currentCommit") == want and st.get("phase") in (want_phase, "Healthy") \
                        and not st.get("activeRollout") and fresh \
                        and (kind == "good" or sha in (st.get("quarantinedCommits") or [])):
                    break
                time.sleep(0.05)
            done = time.time()
            problems = []
            if st.get("currentCommit") != want or st.get("phase") not in (want_phase, "Healthy"):
                problems.append(f"ended {st.get('phase')} on {str(st.get('currentCommit'))[:7]}, not {want_phase}"
                                f" on {want[:7]}: {st.get('conditions')}")
            quarantined = st.get("quarantinedCommits") or []
            if kind == "good" and sha in quarantined:
                problems.append("the good commit was quarantined")
            if kind != "good" and sha not in quarantined:
                problems.append("the bad commit is not quarantined")
            # The public address serves what the status says.
            deadline = time.time() + 30
            while serves(b) != want and time.time() < deadline:
                time.sleep(0.1)
            if serves(b) != want:
                problems.append(f"the public address serves {serves(b)}, not {want[:7]}")
            live = live_colour(b)
            # Processes: the log links and the process table. Compose: the engine's containers.
            for service in ("backend", "frontend") if runtime == "process" else ():
                link = os.path.join(b.work, "state", "deployments", "vtrack", "logs", service + ".log")
                if not os.path.islink(link) or os.readlink(link) != f"{live}/{service}.log":
                    problems.append(f"logs/{service}.log is not a link to the live {live} instance's log:"
                                    f" {os.readlink(link) if os.path.islink(link) else 'no link'}")
            strays = untracked(b) if runtime == "process" else stray_containers(b)
            if strays:
                problems.append(f"processes the store does not account for: {strays}")
            if b.rows() != before:
                problems.append(f"{b.rows()} rows, not {before}")
            r = {"round": n, "kind": kind, "lost power after s": round(delay, 2),
                 "phase then": at.get("phase"), "processes killed": killed,
                 "restart to end s": round(done - restarted, 2), "problems": problems}
            results.append(r)
            print(json.dumps(r), flush=True)
            if problems:
                broken.append(r)
            if kind == "good":
                version += 1
            # What the next round builds on: what runs, whatever this round broke.
            healthy = b.status().get("currentCommit") or healthy
        times = sorted(r["restart to end s"] for r in results)
        print(f"\n{len(results)} rounds, {len(broken)} broke a rule; restart -> end state: "
              f"median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s")
        save_results("power-loss", {"seed": seed, "rounds": results})
    finally:
        b.stop()
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
