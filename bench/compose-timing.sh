#!/usr/bin/env bash
# Measures the compose runtime on the example app (examples/compose/vtrack.yaml) against the real
# Docker Engine: the latency from a container killed by hand to the agent's reaction and the
# container running again, and the rollback time after a container that crashes at startup, each
# split into the engine's time, the compose CLI's and the agent's own overhead.
# Usage (as root; scripts/docker-setup.sh provides the engine): bench/compose-timing.sh [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/docker-setup.sh" >/dev/null
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/compose_timing.py" "${1:-3}"
