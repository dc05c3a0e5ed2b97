#!/usr/bin/env bash
# The vtrack-agent demo: builds the agent, makes a local git repository from the example app,
# starts the agent on it, deploys v1, commits a good v2, then a broken v3, and shows the status
# after each: the good rollout, the automatic rollback, the data intact.
# Needs Java 17, Maven, python3, node and git. Leaves everything under one temporary folder.
# VTRACK_DEMO_RUNTIME=compose runs the same story as a docker-compose project
# (examples/compose/vtrack.yaml): as root, with scripts/docker-setup.sh providing the engine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runtime="${VTRACK_DEMO_RUNTIME:-process}"
case "$runtime" in
  process | compose) ;;
  *) echo "VTRACK_DEMO_RUNTIME: '$runtime' is not process or compose" >&2; exit 2 ;;
esac
work="${VTRACK_DEMO_DIR:-$(mktemp -d /tmp/vtrack-demo.XXXXXX)}"
port="${VTRACK_DEMO_PORT:-18787}"
vtrack() { "$root/bin/vtrack" "$@"; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
agent_pid=""
client_pid=""
finished=""
cleanup() {
  if [ -n "$client_pid" ] && kill -0 "$client_pid" 2>/dev/null; then
    kill "$client_pid" 2>/dev/null || true
  fi
  # Cut short (a failure, Ctrl-C): the app and the switch proxy outlive the agent by design, so
  # the document goes first and the agent stops them, as at the end of the story.
  if [ -z "$finished" ] && [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null \
    && [ -f "$work/deploy/vtrack.yaml" ]; then
    echo "   stopping what the demo started (removing the document)" >&2
    remove_document >&2 || true
  fi
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ "$runtime" = compose ]; then
  say "Making sure a Docker Engine runs (scripts/docker-setup.sh)"
  bash "$root/scripts/docker-setup.sh"
fi

say "Building the agent"
(cd "$root" && mvn -B -q -DskipTests package)

say "Creating the app repository in $work/app from examples/vtrack-app"
mkdir -p "$work"
cp -r "$root/examples/vtrack-app" "$work/app"
git_commit() { git -C "$1" add -A && git -C "$1" -c user.name="Demo User" -c user.email=demo@example.com commit -qm "$2"; }
git -C "$work/app" init -q -b main
git_commit "$work/app" "V_Track 1.0.0"
git -C "$work/app" tag v1

say "Creating the desired-state repository in $work/deploy"
mkdir -p "$work/deploy"
git -C "$work/deploy" init -q -b main
write_doc() {
  sed -e "s#repoURL: .*#repoURL: file://$work/app#" -e "s#revision: .*#revision: $1#" \
    "$root/examples/$runtime/vtrack.yaml" > "$work/deploy/vtrack.yaml"
}
write_doc v1
git_commit "$work/deploy" "Deploy v1"
echo "demo-webhook-secret" > "$work/webhook-secret"
cat > "$work/agent.yaml" <<YAML
agentName: demo
stateDir: $work/state
listen: 127.0.0.1:$port
sources:
  - git: {repoURL: file://$work/deploy, branch: main, path: ., interval: 1m, webhookSecretFile: $work/webhook-secret}
YAML

say "Starting the agent (log: $work/agent.log)"
"$root/bin/vtrack" run --config "$work/agent.yaml" > "$work/agent.log" 2>&1 &
agent_pid=$!
export VTRACK_SERVER="http://127.0.0.1:$port" VTRACK_TOKEN_FILE="$work/state/api-token"

# Waits until the deployment reaches one of the phases given, with the commit given (if any).
wait_for() {
  local want="$1" commit="${2:-}" deadline=$((SECONDS + ${3:-120})) out phase current
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$agent_pid" 2>/dev/null; then
      echo "the agent exited; its log:" >&2
      tail -n 40 "$work/agent.log" >&2
      return 1
    fi
    if out=$(vtrack status vtrack -o json 2>/dev/null); then
      phase=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("phase",""))')
      current=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"].get("currentCommit",""))')
      if [[ " $want " == *" $phase "* ]] && { [ -z "$commit" ] || [ "$current" = "$commit" ]; }; then
        return 0
      fi
      printf '   ... %s\n' "$phase"
    fi
    read -r -t 2 _ <> <(:) || true
  done
  echo "timed out waiting for $want; agent log:" >&2
  tail -n 40 "$work/agent.log" >&2
  return 1
}
# A signed push webhook, as GitHub would send it (python3 only: no curl needed).
push_webhook() {
  python3 - "$work/webhook-secret" "http://127.0.0.1:$port/api/v1/hooks/git" <<'PY'
import hashlib, hmac, sys, urllib.request
body = b'{"ref":"refs/heads/main"}'
sig = "sha256=" + hmac.new(open(sys.argv[1]).read().strip().encode(), body, hashlib.sha256).hexdigest()
req = urllib.request.Request(sys.argv[2], data=body, method="POST",
                             headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig})
with urllib.request.urlopen(req, timeout=10) as r:
    print(f"   webhook answered {r.status}")
PY
}
# Removes the document and waits (at most 30 s) until the agent has stopped the deployment.
remove_document() {
  git -C "$work/deploy" rm -q vtrack.yaml
  git -C "$work/deploy" -c user.name="Demo User" -c user.email=demo@example.com commit -qm "Remove vtrack"
  push_webhook
  for _ in $(seq 1 30); do
    vtrack status vtrack >/dev/null 2>&1 || break
    read -r -t 1 _ <> <(:) || true
  done
}
rows() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM video_sources").fetchone()[0])' \
    "$work/state/deployments/vtrack/shared/backend/database/events.db"
}

# A user of the app: asks the public frontend address every 50 ms through the whole story and
# counts the answers that were not a 200 (python3 only).
start_client() {
  python3 - "$work/client.txt" <<'PY' &
import os, sys, time, urllib.request
out, ok, failed = sys.argv[1], 0, 0
while True:
    try:
        with urllib.request.urlopen("http://127.0.0.1:13000/api/config/get-sources", timeout=5) as r:
            ok, failed = (ok + 1, failed) if r.status == 200 else (ok, failed + 1)
    except Exception:
        failed += 1
    # Written aside and renamed: a report never reads a file cut short.
    with open(out + ".tmp", "w") as f:
        f.write(f"{ok} {failed}\n")
    os.replace(out + ".tmp", out)
    time.sleep(0.05)
PY
  client_pid=$!
}
client_mark=(0 0)
# Says how many of the user's requests failed since the last report.
client_report() {
  local ok="" failed="" i
  # The client's first count may take a moment on a busy machine.
  for i in $(seq 1 100); do
    [ -f "$work/client.txt" ] && read -r ok failed < "$work/client.txt" && break
    read -r -t 0.1 _ <> <(:) || true
  done
  [ -n "$ok" ] || return 0
  echo "   user polling the public address: $((ok - client_mark[0])) ok, $((failed - client_mark[1])) failed — $1"
  client_mark=("$ok" "$failed")
}

say "Deploying v1"
wait_for Healthy "$(git -C "$work/app" rev-parse v1)"
vtrack status vtrack
echo "   video_sources rows: $(rows)"
start_client
read -r -t 2 _ <> <(:) || true
client_report "v1 serving"

say "Committing a good v2 (version 2.0.0, a new yard camera) and pointing the document at it"
echo "2.0.0" > "$work/app/VERSION"
python3 - "$work/app/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["cameras"].append({"id": 4, "name": "yard", "url": "rtsp://127.0.0.1:8554/yard", "selected": True})
json.dump(c, open(p, "w"), indent=2)
PY
git_commit "$work/app" "V_Track 2.0.0: yard camera"
git -C "$work/app" tag v2
write_doc v2
git_commit "$work/deploy" "Deploy v2"
say "Suspending first, to see what the agent would do before it does it"
vtrack suspend vtrack --token-file "$work/state/api-token"
push_webhook
wait_for Suspended
vtrack plan vtrack
vtrack diff vtrack
say "Resuming, and watching the rollout live"
vtrack resume vtrack --token-file "$work/state/api-token"
vtrack watch vtrack --timeout 120
wait_for Healthy "$(git -C "$work/app" rev-parse v2)"
vtrack status vtrack
echo "   video_sources rows: $(rows)"
client_report "during the blue-green upgrade to v2 (v1 kept serving until v2 was proven)"
before=$(rows)

say "Committing a broken v3: a migration that deletes cameras and an API that drops the 'data' key"
echo "3.0.0" > "$work/app/VERSION"
python3 - "$work/app/backend/app.py" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('            self.send_json(200, {"success": True, "data": data})',
              '            self.send_json(200, {"success": True, "items": data})')
s = s.replace('    conn.close()\n\n\ndef record_events',
              '    with conn:\n        conn.execute("DELETE FROM video_sources WHERE id > 1")\n    conn.close()\n\n\ndef record_events', 1)
open(p, "w").write(s)
PY
git_commit "$work/app" "V_Track 3.0.0: new sources format"
git -C "$work/app" tag v3
write_doc v3
git_commit "$work/deploy" "Deploy v3"
push_webhook
vtrack watch vtrack --timeout 120 || echo "   (watch exited with $?: the rollout did not end Healthy)"
wait_for "RolledBack" "$(git -C "$work/app" rev-parse v2)"
vtrack status vtrack
echo "   video_sources rows: $(rows) (before v3: $before)"
client_report "while v3 was tried: v3 never served; its migration ran on the live database, so the \
live release restarted on the restored data, its requests held in the proxy meanwhile (preview: \
snapshot avoids the restart)"
echo "   the database as v3 left it is kept in:"
find "$work/state/deployments/vtrack/backups" -path '*failed*' -name '*.db' | sed 's/^/     /'

say "History"
vtrack history vtrack
say "The record of the rolled-back rollout (also: -o json, -o markdown)"
vtrack history vtrack --id "$(vtrack history vtrack -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"

say "Removing the document: deletionPolicy Stop stops the app, data and backups stay"
remove_document
finished=yes
say "Done. Everything is in $work (the status page was at http://127.0.0.1:$port/)"
