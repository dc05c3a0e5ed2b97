#!/usr/bin/env bash
# Pushes one real bad commit of the example app per failure mode (crash, broken API contract,
# slower, rows deleted by a migration, log flooded with errors, memory hog) through a signed
# webhook and reports, for each, what caught it, the time from the push until the failure was seen
# and until the last healthy revision was healthy again, and the rows of the database afterwards.
# Usage: bench/failure-modes.sh [process|compose]   (results also in bench/results/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/failure_modes.py" "$@"
