# rdkafka.cmake — librdkafka 2.15.1: the dev cluster's mock (kprod-mock), the
# test peer and read-back consumer (tests/), the benchmark's anchor (bench/).
# libkprod never links it.
#
# It is not Debian's librdkafka-dev (2.0.2, kcat's library) but the one
# scripts/build-librdkafka.sh builds from the npm package that vendors it
# into a cache outside the clone (default ~/.cache/kprod/librdkafka-2.15.1)
# and whose prefix it prints. `make` runs the script and passes that prefix
# here as KPROD_RDKAFKA_PREFIX; a plain `cmake -S . -B build` must be given it:
#   cmake -S . -B build -DKPROD_RDKAFKA_PREFIX="$(sh scripts/build-librdkafka.sh)"
#
# Only that prefix is looked at (never the system's librdkafka, whose soname
# is the same), and its header must say 2.15.1. Nothing is cached but the
# prefix, so changing it takes effect at the next configure.
#
# Results:
#   kp_rdkafka         imported target: the shared librdkafka.so.1 of the
#                      prefix with its include directory. CMake puts the
#                      prefix's lib/ into the build tree's RPATH (RUNPATH), so
#                      tests and benchmarks find 2.15.1, not /usr/lib's, with no
#                      LD_LIBRARY_PATH. Tests use the shared library because
#                      tests/tsan.supp names it (called_from_lib).
#   kp_rdkafka_static  imported target: librdkafka.a and what its
#                      rdkafka-static.pc says it needs (zlib, libcrypto, libssl,
#                      libzstd, liblz4, libm, libdl, librt, pthreads), for
#                      programs that are installed (kprod-mock): they must not
#                      depend on the cache at run time, nor pick up Debian's
#                      librdkafka.so.1 instead.
#   KP_RDKAFKA_PREFIX  the prefix; KP_RDKAFKA_VERSION "2.15.1"

set(KP_RDKAFKA_VERSION 2.15.1)
set(_kp_rdk_hex 0x020f01ff)
set(KPROD_RDKAFKA_PREFIX "" CACHE PATH
    "librdkafka ${KP_RDKAFKA_VERSION} for the mock cluster, tests and benchmarks: the prefix scripts/build-librdkafka.sh prints")

set(_kp_rdk_howto
  "Build it once (1-2 minutes, with npm, make, cc, openssl and the -dev packages of scripts/install-deps.sh) and pass its prefix:\n"
  "    cmake -S . -B build -DKPROD_RDKAFKA_PREFIX=\"$(sh scripts/build-librdkafka.sh)\"\n"
  "or use `make` (make build / make test / make demo / make bench), which does both.")

set(_kp_rdk ${KPROD_RDKAFKA_PREFIX})
if(NOT _kp_rdk)
  message(FATAL_ERROR
    "kprod's mock cluster, tests and benchmarks need librdkafka ${KP_RDKAFKA_VERSION} "
    "(KPROD_RDKAFKA_PREFIX is not set; Debian's librdkafka-dev is not used for them).\n"
    ${_kp_rdk_howto})
endif()
get_filename_component(_kp_rdk "${_kp_rdk}" ABSOLUTE)
set(_kp_rdk_h ${_kp_rdk}/include/librdkafka/rdkafka.h)
set(_kp_rdk_so ${_kp_rdk}/lib/librdkafka.so.1)
set(_kp_rdk_a ${_kp_rdk}/lib/librdkafka.a)
if(NOT EXISTS ${_kp_rdk_h})
  message(FATAL_ERROR
    "KPROD_RDKAFKA_PREFIX=${KPROD_RDKAFKA_PREFIX} does not hold librdkafka (no ${_kp_rdk_h}).\n"
    ${_kp_rdk_howto})
endif()
file(STRINGS ${_kp_rdk_h} _kp_rdk_line REGEX "^#define[ \t]+RD_KAFKA_VERSION[ \t]+0x[0-9a-fA-F]+")
string(REGEX REPLACE ".*(0x[0-9a-fA-F]+).*" "\\1" _kp_rdk_found "${_kp_rdk_line}")
if(NOT _kp_rdk_found STREQUAL _kp_rdk_hex)
  message(FATAL_ERROR
    "${_kp_rdk_h} is librdkafka RD_KAFKA_VERSION ${_kp_rdk_found}, not ${KP_RDKAFKA_VERSION} "
    "(${_kp_rdk_hex}): kprod's mock cluster, tests and benchmarks are written against "
    "librdkafka ${KP_RDKAFKA_VERSION}.\n"
    ${_kp_rdk_howto})
endif()
foreach(_f ${_kp_rdk}/include/librdkafka/rdkafka_mock.h ${_kp_rdk_so} ${_kp_rdk_a})
  if(NOT EXISTS ${_f})
    message(FATAL_ERROR
      "KPROD_RDKAFKA_PREFIX=${KPROD_RDKAFKA_PREFIX} holds no ${_f}: not a complete build of "
      "librdkafka ${KP_RDKAFKA_VERSION}.\n" ${_kp_rdk_howto})
  endif()
endforeach()
set(KP_RDKAFKA_PREFIX ${_kp_rdk})
message(STATUS "librdkafka ${KP_RDKAFKA_VERSION} (mock cluster, tests, benchmarks): ${_kp_rdk}")

add_library(kp_rdkafka SHARED IMPORTED GLOBAL)
set_target_properties(kp_rdkafka PROPERTIES
  IMPORTED_LOCATION ${_kp_rdk_so}
  IMPORTED_SONAME librdkafka.so.1
  INTERFACE_INCLUDE_DIRECTORIES ${_kp_rdk}/include)

# What rdkafka-static.pc's Requires and Libs name, as system libraries.
find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)
find_library(KP_RDK_ZSTD_LIB zstd)
find_library(KP_RDK_LZ4_LIB lz4)
if(NOT KP_RDK_ZSTD_LIB OR NOT KP_RDK_LZ4_LIB)
  message(FATAL_ERROR "librdkafka.a needs libzstd and liblz4 (Debian: libzstd-dev liblz4-dev; "
                      "see scripts/install-deps.sh)")
endif()
add_library(kp_rdkafka_static STATIC IMPORTED GLOBAL)
set_target_properties(kp_rdkafka_static PROPERTIES
  IMPORTED_LOCATION ${_kp_rdk_a}
  IMPORTED_LINK_INTERFACE_LANGUAGES C
  INTERFACE_INCLUDE_DIRECTORIES ${_kp_rdk}/include
  INTERFACE_LINK_LIBRARIES
    "OpenSSL::SSL;OpenSSL::Crypto;ZLIB::ZLIB;${KP_RDK_ZSTD_LIB};${KP_RDK_LZ4_LIB};m;${CMAKE_DL_LIBS};rt;Threads::Threads")
