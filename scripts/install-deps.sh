#!/bin/sh
# Installs the Debian packages kprod's build, demo and tests need, and only
# those that are missing. Run as root (make demo / make test call it).
#
#   gcc make cmake pkg-config     the build
#   zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libc-ares-dev
#                                 libkprod's codecs and resolver
#   npm ca-certificates openssl g++ libssl-dev
#                                 scripts/build-librdkafka.sh: librdkafka 2.15.1
#                                 (the mock cluster, tests, benchmarks) from the
#                                 npm registry, checked with openssl, built by
#                                 its configure (which wants a C++ compiler) against
#                                 zlib, zstd, lz4 and OpenSSL
#   librdkafka-dev kcat           kcat reads topics back in the demo and the
#                                 tool tests (Debian's librdkafka 2.0.2 is its
#                                 library; kprod's own programs do not use it)
#   valgrind python3              the tool tests, the docs and include checks
#   libjansson-dev                kprod-mock's secured listeners (OAUTHBEARER's
#                                 JWS claims), and with libcurl4-openssl-dev
#   libcurl4-openssl-dev          libkprod's OIDC client credentials (KIP-768,
#                                 optional: cmake/oidc.cmake)
#   python3-kafka python3-snappy python3-lz4 python3-zstandard
#                                 kafka-python, an independent client of
#                                 kprod-mock's secured listeners in the tool
#                                 tests (its own SASL, Python's ssl), with
#                                 its compression codecs
#   stunnel4                      test_tls: OpenSSL's TLS server in front of the mock
#                                 brokers (libssl-dev above is libkprod's TLS)
# npm counts as present when an `npm` command exists (e.g. NodeSource's nodejs
# ships its own).
set -eu
PKGS="gcc g++ make cmake pkg-config zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libc-ares-dev
npm ca-certificates openssl libssl-dev librdkafka-dev kcat valgrind python3 stunnel4 libjansson-dev
libcurl4-openssl-dev python3-kafka python3-snappy python3-lz4 python3-zstandard"
missing=""
for p in $PKGS; do
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
    continue
  fi
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
