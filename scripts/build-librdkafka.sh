#!/bin/sh
# build-librdkafka.sh — librdkafka 2.15.1, the dev cluster's mock and the
# benchmark's anchor (issue 12), built from the npm package that vendors it,
# into a cache outside the clone; does nothing when the cache holds it.
#
#   scripts/build-librdkafka.sh          build if needed; print the prefix
#
# Source: the npm registry's @confluentinc/kafka-javascript@1.10.1 (Confluent's
# Node client), whose deps/librdkafka is librdkafka 2.15.1. The tarball is
# checked against the registry's sha512 (pinned here too) and the header's
# RD_KAFKA_VERSION (0x020f01ff); only the C library is built, with its own
# configure, against Debian's zlib, zstd, lz4 and OpenSSL (no GSSAPI, no
# libcurl, no Cyrus SASL); zlib, zstd and OpenSSL are required (--enable-*), so
# a missing -dev package fails the build instead of quietly leaving a codec
# out. About 100 s of CPU: 1–2 minutes on 2 cores (1 min 57 s measured on a
# shared 2-core VM).
#
# The prefix gets include/librdkafka/{rdkafka.h,rdkafka_mock.h},
# lib/librdkafka.{a,so} and lib/pkgconfig/rdkafka.pc.
#
# KPROD_CACHE (default ~/.cache/kprod) chooses the cache. Never committed:
# neither librdkafka's code nor what is built from it enters the repository.
set -eu

PKG=@confluentinc/kafka-javascript
PKG_VERSION=1.10.1
INTEGRITY=sha512-KVePUBn21EqCVP9mfxzEuM3SYJHHEF7X+iiC2e43QQgDSyEaksInmCGooT3w5q+cNAdkSCrK71j0ICfqoSqZLw==
RDK_VERSION_HEX=0x020f01ff

CACHE=${KPROD_CACHE:-${HOME:-/root}/.cache/kprod}
PREFIX=$CACHE/librdkafka-2.15.1
if [ -f "$PREFIX/.complete" ]; then
    echo "$PREFIX"
    exit 0
fi

say() { echo "kprod: $*" >&2; }
need() {
    command -v "$1" >/dev/null 2>&1 || { say "$1 is needed to build librdkafka 2.15.1"; exit 1; }
}
# npm fetches the package; openssl checks it; librdkafka's configure is a bash
# script that also insists on a C++ compiler (it builds only C here) and asks
# pkg-config for the libraries (scripts/install-deps.sh installs all of them)
need npm
need openssl
need bash
need make
need cc
need c++
need pkg-config

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kprod-rdk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
say "building librdkafka 2.15.1 from $PKG@$PKG_VERSION into $PREFIX (1-2 minutes)"

(cd "$WORK" && npm pack "$PKG@$PKG_VERSION" --silent >/dev/null 2>"$WORK/npm.err") || {
    cat "$WORK/npm.err" >&2
    say "npm pack $PKG@$PKG_VERSION failed"
    exit 1
}
TGZ=$(ls "$WORK"/*.tgz)

# the registry's checksum, and the one pinned above, must both match
got="sha512-$(openssl dgst -sha512 -binary "$TGZ" | openssl base64 -A)"
registry=$(npm view "$PKG@$PKG_VERSION" dist.integrity 2>/dev/null || true)
if [ "$got" != "$INTEGRITY" ] || { [ -n "$registry" ] && [ "$got" != "$registry" ]; }; then
    say "checksum mismatch for $PKG@$PKG_VERSION: got $got, pinned $INTEGRITY, registry ${registry:-?}"
    exit 1
fi

tar xzf "$TGZ" -C "$WORK" package/deps/librdkafka
SRC=$WORK/package/deps/librdkafka
if ! grep -q "define RD_KAFKA_VERSION $RDK_VERSION_HEX" "$SRC/src/rdkafka.h"; then
    say "$PKG@$PKG_VERSION does not vendor librdkafka $RDK_VERSION_HEX"
    exit 1
fi

rm -rf "$PREFIX"
(
    cd "$SRC"
    ./configure --prefix="$PREFIX" --disable-gssapi --disable-curl --disable-sasl \
        --enable-zlib --enable-zstd --enable-ssl \
        >"$WORK/configure.log" 2>&1
    make -C src -j"$(nproc 2>/dev/null || echo 2)" >"$WORK/make.log" 2>&1
    make -C src install >"$WORK/install.log" 2>&1
) || {
    tail -n 30 "$WORK"/*.log >&2
    say "building librdkafka 2.15.1 failed (logs above)"
    exit 1
}
touch "$PREFIX/.complete"
echo "$PREFIX"
