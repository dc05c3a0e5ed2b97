#!/usr/bin/env bash
# New connections at once against the example backend, side by side in one run: as it is (listen
# backlog 128) and with http.server's default backlog of 5. A burst that overflows the backlog has
# its SYNs dropped and retried 1 s (then 3 s) later: a health round, a smoke test and users
# connecting together. Usage: bench/connect-burst.sh [bursts per size, default 40]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$root/bench/connect_burst.py" "${1:-40}"
