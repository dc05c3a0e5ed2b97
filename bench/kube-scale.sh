#!/usr/bin/env bash
# M simulated agents (M = 10, 100, 1000 by default; each its own agentName, client, informer,
# Leases and status writer) with two deployments each against fabric8's mock API server, in one
# JVM: the requests by verb and resource for the first sync, at idle and while 10% of the
# deployments roll out. The mock scans everything it stores for each request, so agents are spread
# over mock servers of at most SCALE_PER_SERVER (100) agents each and the counts summed.
# Usage: bench/kube-scale.sh [10,100,1000] [window seconds, default 30]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
exec mvn -B -q verify -Dtest=NoSuchTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=KubeScaleBench -Dspotless.check.skip=true \
  -Dscale.agents="${1:-10,100,1000}" -Dscale.window="${2:-30}" -Dscale.perServer="${SCALE_PER_SERVER:-100}"
