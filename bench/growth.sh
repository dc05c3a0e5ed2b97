#!/usr/bin/env bash
# Growth over time: one small deployment rolled out N times (default 500), good and bad
# alternating; every 50 rollouts the state store's size and rows, releases and backups on disk,
# open file descriptors, threads and the heap after a full GC. Usage: bench/growth.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/growth.py" "$@"
