"""Smoke test of a running backend: python3 tests/smoke.py http://127.0.0.1:8080

Checks what no single endpoint check covers: the cameras selected for processing exist among the
sources. Exit code 0 passes.
"""

import json
import sys
import urllib.request

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"


def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.load(r)


sources = {s["id"] for s in get("/api/config/get-sources")["data"]}
selected = get("/api/config/get-processing-cameras")["selected_cameras"]
missing = [c for c in selected if c not in sources]
if missing:
    print(f"selected cameras without a source: {missing}")
    sys.exit(1)
print(f"ok: {len(selected)} selected cameras, {len(sources)} sources")
