"""Cost of one health-check round after Healthy, full policy vs one check (see check-round-cost.sh)."""

import os
import re
import statistics
import sys
import time
import urllib.request

from benchlib import ROOT, Bench, sh

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
TICK = os.sysconf("SC_CLK_TCK")


def one_check(doc):
    """Keeps only the first check of the example policy."""
    start = doc.index("    checks:\n")
    end = doc.index("  rollback:")
    first = re.search(r"      - name: .*?(?=\n      - name: )", doc[start:end], re.S).group(0)
    return doc[:start] + "    checks:\n" + first + "\n" + doc[end:]


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def group_cpu_ms(pgid):
    total = 0.0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    total += (int(fields[11]) + int(fields[12])) * 1000 / TICK
            except OSError:
                pass
    return total


def rounds_done(b):
    with urllib.request.urlopen(f"http://127.0.0.1:{b.port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(v) for v in re.findall(r'vtrack_check_results_total\{[^}]*check="sources"[^}]*\} ([0-9.]+)', text))


def measure(label, doc_filter):
    b = Bench(doc_filter)
    try:
        b.wait("Healthy", sh("git", "rev-parse", "HEAD", cwd=b.app))
        import sqlite3
        db = sqlite3.connect(os.path.join(b.work, "state", "state.db"))
        backend = db.execute("SELECT pgid FROM processes WHERE service = 'backend'").fetchone()[0]
        db.close()
        time.sleep(2)  # let the first monitoring rounds settle
        # CPU first, with nothing but the rounds running: no API calls in between.
        r0, a0, p0 = rounds_done(b), cpu_ms(b.agent_pid()), group_cpu_ms(backend)
        time.sleep(SECONDS)
        r1, a1, p1 = rounds_done(b), cpu_ms(b.agent_pid()), group_cpu_ms(backend)
        rounds = r1 - r0
        # Then each round's wall time (its slowest check) from the status, once a second.
        walls = []
        for _ in range(min(SECONDS, 15)):
            checks = b.status().get("checks", [])
            if checks:
                walls.append(max(c.get("durationMs", 0) for c in checks))
            time.sleep(1)
        n_checks = len(b.status().get("checks", []))
        return {"label": label, "checks": n_checks, "rounds": rounds,
                "wall ms/round (median)": statistics.median(walls) if walls else 0,
                "agent CPU ms/round": (a1 - a0) / rounds if rounds else 0,
                "backend CPU ms/round": (p1 - p0) / rounds if rounds else 0}
    finally:
        b.stop()


def main():
    results = [measure("one http check", one_check), measure("full example policy", None)]
    print(f"health-check round cost, example app, {SECONDS}s of monitoring each (interval 1s)")
    keys = [k for k in results[0] if k != "label"]
    print(f"  {'':28s}" + "".join(f"{r['label']:>24s}" for r in results))
    for k in keys:
        print(f"  {k:28s}" + "".join(f"{r[k]:>24.1f}" for r in results))


if __name__ == "__main__":
    main()
