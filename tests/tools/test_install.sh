#!/usr/bin/env bash
# make install's layout works for programs outside the tree: pkg-config and
# CMake's find_package both build and run a program against the staged copy.
#   test_install.sh BUILD_DIR
set -eu
B=$(cd "$1" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PREFIX=/usr/local
DESTDIR="$T/stage" cmake --install "$B" --prefix "$PREFIX" >/dev/null
ROOT="$T/stage$PREFIX"
LIBDIR=$(dirname "$(find "$ROOT" -name kprod.pc)")/..
for f in include/kprod/kprod.h; do [ -f "$ROOT/$f" ] || { echo "missing $f"; exit 1; }; done
ls "$LIBDIR"/libkprod.so* "$LIBDIR"/libkprod.a >/dev/null
cat >"$T/app.c" <<'C'
#include <kprod/kprod.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    char err[256];
    kp_config_t *c = kp_config_new();
    kp_err_t e = kp_config_set(c, "acks", "2", err, sizeof(err));
    kp_config_destroy(c);
    printf("%s|%s|%d\n", kp_err_name(e), strstr(err, "acks") ? "named" : "unnamed",
           (kp_murmur2("21", 2)));
    return 0;
}
C
want="_INVALID_CONFIG|named|-973932308"
# pkg-config, relocated into the staging area
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
cc -std=c11 "$T/app.c" -o "$T/app-pc" $(pkg-config --define-variable=prefix="$ROOT" --cflags --libs kprod)
got=$(LD_LIBRARY_PATH="$LIBDIR" "$T/app-pc")
[ "$got" = "$want" ] || { echo "pkg-config build printed '$got'"; exit 1; }
echo "ok   pkg-config build"
# CMake find_package
mkdir "$T/proj"
cat >"$T/proj/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(kprod REQUIRED)
add_executable(app ../app.c)
target_link_libraries(app PRIVATE kprod::kprod)
C
cmake -S "$T/proj" -B "$T/proj/b" -DCMAKE_PREFIX_PATH="$ROOT" >/dev/null
cmake --build "$T/proj/b" >/dev/null
got=$(LD_LIBRARY_PATH="$LIBDIR" "$T/proj/b/app")
[ "$got" = "$want" ] || { echo "find_package build printed '$got'"; exit 1; }
echo "ok   find_package build"
# the shared library exports only the API
if nm -D --defined-only "$LIBDIR/libkprod.so" | awk '{print $3}' | grep -v '^kp_' | grep -q .; then
  echo "libkprod.so exports non-API symbols:"; nm -D --defined-only "$LIBDIR/libkprod.so" | grep -v ' kp_'
  exit 1
fi
echo "ok   only kp_* symbols exported"
echo "3 passed, 0 failed"
