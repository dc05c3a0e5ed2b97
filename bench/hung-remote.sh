#!/usr/bin/env bash
# A power cut, then the agent started again while the app's git host answers and while it hangs
# (accepts connections, never answers), side by side in each of ROUNDS rounds (default 3): the time
# from the start to the public address serving again and to Healthy. The app repository is served
# over git's smart HTTP (bench/git_http.py); the hang costs a fetch its gitTimeout (30 s).
# Usage: bench/hung-remote.sh [ROUNDS]   (results also in bench/results/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/agent/target/vtrack-agent.jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
exec python3 "$root/bench/hung_remote.py" "$@"
