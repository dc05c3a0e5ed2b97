#!/usr/bin/env bash
# How soon a switch proxy serves after it starts (the gap users see when the agent restarts one
# that died): with the build's class-data archive (agent/target/vtrack-proxy.jsa) against
# without, alternating. Usage: bench/proxy-start.sh [runs per side, default 10]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] && [ -f "$root/agent/target/vtrack-proxy.jsa" ] || {
  echo "build first: mvn -B -q -DskipTests package" >&2
  exit 2
}
exec python3 "$root/bench/proxy_start.py" "${1:-10}"
