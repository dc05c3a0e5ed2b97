#!/usr/bin/env bash
# CLI start time, side by side: bin/vtrack with the build's class-data-sharing archive
# (agent/target/vtrack-cli.jsa) against the same command without it, alternating, against a
# running agent with no deployments. Usage: bench/cli-start.sh [runs per command, default 15]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=${1:-15}
jar="$root/agent/target/vtrack-agent.jar"
[ -f "$jar" ] && [ -f "$root/agent/target/vtrack-cli.jsa" ] || {
  echo "build first: mvn -B -q -DskipTests package" >&2
  exit 2
}
work=$(mktemp -d /tmp/vtrack-cli-start.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/docs"
printf 'stateDir: %s/state\nlisten: 127.0.0.1:%s\nsources:\n  - file: {path: %s/docs}\n' \
  "$work" "$port" "$work" >"$work/agent.yaml"
java -XX:+UseSerialGC -jar "$jar" run --config "$work/agent.yaml" >"$work/agent.log" 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null; wait $agent 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
plain="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto"
ms() {
  local s
  s=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  echo $((($(date +%s%N) - s) / 1000000))
}
stats() { sort -n | awk '{a[NR]=$1} END {printf "%5d %5d %5d", a[1], a[int((NR+1)/2)], a[int(NR*0.9+0.5)]}'; }
printf '%-10s %-22s %-22s\n' "command" "without: min p50 p90" "with CDS: min p50 p90"
for cmd in "--version" "status" "validate"; do
  case $cmd in
    status) args=(status --server "http://127.0.0.1:$port") ;;
    validate) args=(validate "$root/examples/process/vtrack.yaml") ;;
    *) args=("$cmd") ;;
  esac
  : >"$work/a"
  : >"$work/b"
  for _ in $(seq "$runs"); do
    VTRACK_JAVA_OPTS="$plain" ms "$root/bin/vtrack" "${args[@]}" >>"$work/a"
    ms "$root/bin/vtrack" "${args[@]}" >>"$work/b"
  done
  printf '%-10s %-22s %-22s\n' "$cmd" "$(stats <"$work/a") ms" "$(stats <"$work/b") ms"
done
