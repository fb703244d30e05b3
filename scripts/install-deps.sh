#!/bin/sh
# Installs the Debian packages kprod's build, demo and tests need, and only
# those that are missing. Run as root (make demo / make test call it).
set -eu
PKGS="gcc make cmake pkg-config librdkafka-dev kcat valgrind zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libc-ares-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "kprod: installing Debian packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
  echo "kprod: need root to install:$missing (or install them yourself)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
