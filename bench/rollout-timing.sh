#!/usr/bin/env bash
# Measures, for the example app, the time from a webhook push to the new revision reported
# healthy, and from a failed start to the old revision healthy again, each split into app start,
# checks and the agent's own overhead, from the step timestamps the state store records.
# Usage: bench/rollout-timing.sh [ROUNDS]   (default 3; results also in bench/results/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/rollout_timing.py" "${1:-3}"
