#!/usr/bin/env bash
# A real Docker Engine for the compose runtime and its tests, on a fresh Debian machine (run as
# root): installs docker.io, docker-compose (v1), busybox-static and docker-registry (a local
# registry for the tests of image pulls) when missing, starts dockerd
# without a bridge (host networking only, nothing on a private range) when no engine answers, and
# builds the local runtime image the compose example's Dockerfiles start FROM (no registry is
# reachable: the image is a Debian root filesystem made with debootstrap, python3 and nodejs in it)
# and the base of the agent image (packaging/image/agent-base-image.sh: a JRE and docker-compose).
# Idempotent: what is there already is left alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  echo "docker-setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
  echo "docker-setup: starting dockerd --bridge=none --iptables=false"
  mkdir -p /var/log
  nohup setsid dockerd --bridge=none --iptables=false >/var/log/vtrack-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "docker-setup: dockerd did not answer; see /var/log/vtrack-dockerd.log" >&2; exit 1; }
fi

bash "$here/../examples/compose/runtime-image.sh"
bash "$here/../packaging/image/agent-base-image.sh"
echo "docker-setup: engine $(docker version --format '{{.Server.Version}}'), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
