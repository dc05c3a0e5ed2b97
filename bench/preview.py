"""What preview: snapshot costs against the size of the database, side by side with preview: live
(see preview.sh)."""

import json
import os
import shutil
import sqlite3
import sys
import time

from benchlib import Bench, save_results, sh

SIZES_MB = [int(x) for x in (sys.argv[1:] or ["1", "100", "1000"])]


def snapshot(doc):
    return doc.replace("      drainTimeout: 30s\n", "      drainTimeout: 30s\n      preview: snapshot\n")


def pad(b, mb):
    """Grows the live database to about `mb` MiB with a table of random blobs (users' data)."""
    db = os.path.join(b.work, "state", "deployments", "vtrack", "shared", "backend", "database", "events.db")
    c = sqlite3.connect(db, timeout=30)
    c.execute("CREATE TABLE IF NOT EXISTS bench_padding (b BLOB)")
    have = os.path.getsize(db) // (1 << 20)
    for _ in range(max(0, mb - have)):
        c.execute("INSERT INTO bench_padding VALUES (randomblob(1048576))")
        c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return os.path.getsize(db)


def one(mb, mode):
    b = Bench(doc_filter=snapshot if mode == "snapshot" else None)
    try:
        v1 = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", v1, timeout=300)
        size = pad(b, mb)

        def edit():
            with open(os.path.join(b.app, "VERSION"), "w") as f:
                f.write("2.0.0\n")

        v2, pushed = b.push(edit, "v2")
        done = b.wait("Healthy", v2, timeout=900)
        started, finished, steps, _ = b.rollout()
        db = sqlite3.connect(os.path.join(b.work, "state", "state.db"))
        copy_out = db.execute(
            "SELECT output FROM rollout_steps WHERE step = 'preview-copy' ORDER BY id DESC LIMIT 1").fetchone()
        db.close()

        def took(name):
            s = steps.get(name)
            return round((s[1] - s[0]) * 1000) if s else None

        preview_ms = None
        if "preview-copy" in steps and "preview-stop" in steps:
            preview_ms = round((steps["preview-stop"][1] - steps["preview-copy"][0]) * 1000)
        return {
            "size MiB": round(size / (1 << 20)),
            "preview": mode,
            "push to Healthy ms": round((done - pushed) * 1000),
            "backup ms": took("backup"),
            "preview-copy ms": took("preview-copy"),
            "preview total ms": preview_ms,
            "copy": copy_out[0] if copy_out else None,
        }
    finally:
        b.stop()
        shutil.rmtree(b.work, ignore_errors=True)


def main():
    rows = []
    for mb in SIZES_MB:
        for mode in ["live", "snapshot"]:
            r = one(mb, mode)
            rows.append(r)
            print(json.dumps(r), flush=True)
    print("\npreview cost against database size (a good upgrade, push -> Healthy)")
    print(f"  {'size':>8} {'preview':>9} {'push->Healthy':>14} {'backup':>8} {'copy':>8} {'preview':>9}")
    for r in rows:
        def f(k):
            return "-" if r[k] is None else f"{r[k] / 1000:.1f} s"
        print(f"  {r['size MiB']:>5} MiB {r['preview']:>9} {f('push to Healthy ms'):>14} {f('backup ms'):>8}"
              f" {f('preview-copy ms'):>8} {f('preview total ms'):>9}")
    save_results("preview", rows)


if __name__ == "__main__":
    main()
