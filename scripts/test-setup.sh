#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root): Java 17, Maven,
# git, python3, node/npm, Chromium with its driver for the status-page test, and a running Docker
# Engine with docker-compose and the compose example's runtime image (scripts/docker-setup.sh),
# Debian's Prometheus (promtool) for the metrics tests.
# What is already present is left alone.
set -euo pipefail
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v git >/dev/null || missing+=(git)
command -v python3 >/dev/null || missing+=(python3)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v setsid >/dev/null || missing+=(util-linux)
command -v kill >/dev/null || missing+=(procps)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# Prometheus (and promtool) for the metrics and alert-rule tests; dpkg for the package test.
command -v prometheus >/dev/null || missing+=(prometheus)
command -v dpkg-deb >/dev/null || missing+=(dpkg)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
bash "$(dirname "$0")/docker-setup.sh"
echo "test-setup: $(/usr/bin/chromium --version 2>/dev/null), java $(java -version 2>&1 | head -1), $(python3 --version), node $(node --version), $(git --version)"
