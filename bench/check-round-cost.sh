#!/usr/bin/env bash
# Measures the cost of one round of the example app's full health policy (wall ms and CPU ms of
# the agent and of the app) against a one-check policy, side by side in the same run.
# Usage: bench/check-round-cost.sh [SECONDS]   (default 20 per policy)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/check_round_cost.py" "${1:-20}"
