#!/usr/bin/env bash
# What preview: snapshot costs: for a live database of 1 MiB, 100 MiB and 1 GiB (users' data as
# random blobs), a good upgrade of the example app with preview: live and with preview: snapshot,
# side by side in one run: push -> Healthy, the backup, the copy of the data and the whole preview.
# The disk needs about four times the largest size free (the backup, the copy, and the copy's rule).
# Usage: bench/preview.sh [MiB ...]   (default: 1 100 1000; results also in bench/results/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/preview.py" "$@"
