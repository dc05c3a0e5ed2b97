#!/usr/bin/env bash
# Power lost at a random moment of a blue-green rollout, ROUNDS times (default 20): the agent, its
# switch proxy and every process they started killed at once, then only the agent started again.
# Checks the end state of each round (Healthy or rolled back, the right commit quarantined, the
# rows, what the public address serves) and reports the time from the restart to it.
# Usage: bench/power-loss.sh [ROUNDS] [SEED] [--compose]   (a failed round is reproduced with its
# seed; --compose: the compose example, its containers killed with the rest)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/power_loss.py" "$@"
