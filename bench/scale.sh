#!/usr/bin/env bash
# One agent, many deployments: for N = 1, 10, 50, 200 tiny real apps (python3 -m http.server, one
# http check each, interval 1 s): startup, idle CPU and RSS, monitoring-round lateness, API latency
# at concurrency 1 and 32 (wrk), a rollout of one deployment while the others keep checking, and a
# CLI command's start time. Usage: bench/scale.sh [N ...]   (SCALE_IDLE_SECONDS, default 60)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
exec python3 "$root/bench/scale.py" "$@"
