#!/usr/bin/env bash
# Blue-green against recreate, side by side in one run, on the example app with a user polling the
# public address every 20 ms: for a good upgrade and each bad commit (crash, broken contract,
# slower, rows deleted, log flood), the time from the push to the old revision serving again and
# the user's failed requests. Then the switch proxy against a direct connection and against haproxy
# and nginx (Debian's, installed when missing, as root) at concurrency 1 and 32, with wrk.
# Usage: bench/switch.sh [--proxy-only|--scenarios-only]   (results also in bench/results/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ] && [ "${1:-}" != "--scenarios-only" ]; then
  echo "switch bench: installing ${missing[*]}"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
exec python3 "$root/bench/switch.py" "$@"
