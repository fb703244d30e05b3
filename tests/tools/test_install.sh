#!/usr/bin/env bash
# make install's layout works for programs outside the tree: pkg-config and
# CMake's find_package both build and run a program against an installed
# copy, wherever it was installed, and after it was moved (kprod.pc is
# relative to its own directory, ${pcfiledir}; never the configured prefix).
#   test_install.sh BUILD_DIR
set -eu
B=$(cd "$1" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PASSED=0
ok() { echo "ok   $1"; PASSED=$((PASSED + 1)); }
# 1. installed into a prefix of its own
ROOT="$T/inst"
cmake --install "$B" --prefix "$ROOT" >/dev/null
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

# pc_build NAME ROOT: pkg-config alone (no --define-variable) finds kprod
# under ROOT; a program built with its flags, shared and static, runs.
pc_build() {
  local name=$1 root=$2 libdir cflags libs
  libdir=$(dirname "$(find "$root" -name kprod.pc)")
  export PKG_CONFIG_PATH="$libdir"
  libdir=$(cd "$libdir/.." && pwd)
  cflags=$(pkg-config --cflags kprod)
  libs=$(pkg-config --libs kprod)
  # the flags name this copy, and nothing outside it
  for flag in $cflags $libs; do
    case $flag in
    -I* | -L*)
      local dir=${flag#-?}
      case $(cd "$dir" 2>/dev/null && pwd -P) in
      "$(cd "$root" && pwd -P)"/*) ;;
      *) echo "$name: pkg-config flag $flag is not under $root"; exit 1 ;;
      esac ;;
    esac
  done
  # shellcheck disable=SC2086
  cc -std=c11 "$T/app.c" -o "$T/app-$name" $cflags $libs
  got=$(LD_LIBRARY_PATH="$libdir" "$T/app-$name")
  [ "$got" = "$want" ] || { echo "$name: pkg-config build printed '$got'"; exit 1; }
  # static: the archive and Libs.private are enough
  # shellcheck disable=SC2046
  cc -std=c11 "$T/app.c" -o "$T/app-$name-static" $cflags "$libdir/libkprod.a" \
    $(pkg-config --static --libs kprod | sed 's/-lkprod//')
  got=$(env -u LD_LIBRARY_PATH "$T/app-$name-static")
  [ "$got" = "$want" ] || { echo "$name: static pkg-config build printed '$got'"; exit 1; }
  if ldd "$T/app-$name-static" | grep -q libkprod; then
    echo "$name: the static build links libkprod.so"; exit 1
  fi
  unset PKG_CONFIG_PATH
}
pc_build prefix "$ROOT"
ok "pkg-config build (--prefix $ROOT: shared and static)"

# 2. the same tree moved elsewhere
mv "$ROOT" "$T/moved"
pc_build moved "$T/moved"
ok "pkg-config build after moving the installed tree"

# 3. staged with DESTDIR under the default prefix
DESTDIR="$T/stage" cmake --install "$B" --prefix /usr/local >/dev/null
pc_build staged "$T/stage/usr/local"
ok "pkg-config build of a DESTDIR-staged copy"
ROOT="$T/stage/usr/local"
LIBDIR=$(dirname "$(find "$ROOT" -name kprod.pc)")/..

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
ok "find_package build"
# the shared library exports only the API
if nm -D --defined-only "$LIBDIR/libkprod.so" | awk '{print $3}' | grep -v '^kp_' | grep -q .; then
  echo "libkprod.so exports non-API symbols:"; nm -D --defined-only "$LIBDIR/libkprod.so" | grep -v ' kp_'
  exit 1
fi
ok "only kp_* symbols exported"
echo "$PASSED passed, 0 failed"
