#!/usr/bin/env bash
# Builds vtrack/runtime:bookworm, the base image of the compose example (no registry is reachable
# here): a minimal Debian bookworm root filesystem made with debootstrap from the mirror apt already
# uses, with python3 and nodejs, imported into the local engine. About a minute and a half once;
# nothing to do when the image exists. Run as root.
set -euo pipefail
image=${VTRACK_RUNTIME_IMAGE:-vtrack/runtime:bookworm}
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
fi
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/vtrack-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "runtime-image: debootstrap bookworm from $mirror (python3, nodejs)"
debootstrap --variant=minbase --include=python3,nodejs bookworm "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$image" >/dev/null
echo "runtime-image: $image ($(docker image inspect "$image" --format '{{.Size}}') bytes)"
