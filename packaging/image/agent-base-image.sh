#!/usr/bin/env bash
# Builds vtrack/agent-base:bookworm, the base of the agent image (the Dockerfile at the root adds
# the jar): no registry is needed — a minimal Debian bookworm root filesystem made with debootstrap
# from the mirror apt already uses, with a Java 17 runtime, docker-compose (for the compose runtime
# through the node's Docker socket) and procps, imported into the local engine. A few minutes once;
# nothing to do when the image exists and has all of them. Run as root.
set -euo pipefail
image=${VTRACK_AGENT_BASE_IMAGE:-vtrack/agent-base:bookworm}
# What the agent runs inside: java, docker-compose, and the kill program (procps; not the shell's
# builtin) to signal process groups.
needs='command -v java && command -v docker-compose && { [ -x /bin/kill ] || [ -x /usr/bin/kill ]; }'
if docker image inspect "$image" >/dev/null 2>&1 \
  && docker run --rm --network none --entrypoint sh "$image" -c "$needs" >/dev/null 2>&1; then
  exit 0
fi
command -v debootstrap >/dev/null || {
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
}
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
fi
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/vtrack-agent-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "agent-base-image: debootstrap bookworm from $mirror (openjdk-17-jre-headless, docker-compose, procps)"
# The JRE's postinst needs /proc; minbase keeps the image small.
debootstrap --variant=minbase \
  --include=openjdk-17-jre-headless,docker-compose,ca-certificates,procps \
  bookworm "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$image" >/dev/null
echo "agent-base-image: $image ($(docker image inspect "$image" --format '{{.Size}}') bytes)"
