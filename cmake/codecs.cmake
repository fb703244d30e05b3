# codecs.cmake — the compression libraries behind src/compress.c.
#
# Every codec is optional. The cache variable KPROD_WITH_<CODEC> (GZIP,
# SNAPPY, LZ4, ZSTD) is one of
#   AUTO  (default) use the library when it is found
#   ON    require it: configuring fails when it is missing
#   OFF   build without it; compression.type=<codec> then fails at producer
#         creation with a message saying the codec was not built in
# The libraries: zlib (find_package(ZLIB), ZLIB::ZLIB), liblz4 (lz4frame.h),
# libzstd (zstd.h), libsnappy through its C API (snappy-c.h), each through
# pkg-config when it is there and find_path/find_library otherwise. Debian:
# zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev.
#
# Include this file after the library targets exist, then call
#   kp_codecs_apply(<target>)
# for each target compiled from src/ (kprod, kprod_static, kprod_asan,
# kprod_tsan; a name that is not a target is skipped). It defines
# KPROD_WITH_<CODEC> for every codec found, and links the libraries:
#   shared library  PRIVATE: libkprod.so records them as its own DT_NEEDED
#   static library  PUBLIC: an archive does not carry its dependencies, so
#                   whatever links it (tests, tools, users) must link them
# Inside the build tree the link item is an imported target (include
# directories come with it) and KPROD_WITH_<CODEC> is passed on too, so
# in-tree tests know which codecs to check; in the installed
# kprodTargets.cmake the static library lists just the plain library names
# (z, snappy, lz4, zstd) and no definitions.
#
# Results for the rest of the project:
#   KP_CODECS          codecs found, upper case (e.g. "GZIP;LZ4;ZSTD")
#   KP_CODECS_PC_LIBS  "-lz -lsnappy -llz4 -lzstd" (those found), for the
#                      Libs.private line of kprod.pc

find_package(PkgConfig QUIET)

set(KP_CODECS "")
set(KP_CODECS_PC_LIBS "")
set(_kp_codecs_missing "")

# _kp_codec(<CODEC> <pkg-config module> <header> <library name>)
# Finds one codec library; on success creates the imported target
# kprod_codec_<codec> (GLOBAL, so tests/ and tools/ resolve it through the
# libraries' link interfaces) and appends to KP_CODECS / KP_CODECS_PC_LIBS.
function(_kp_codec codec pcname header libname)
  set(mode "${KPROD_WITH_${codec}}")
  string(TOUPPER "${mode}" mode)
  if(mode STREQUAL "OFF" OR mode STREQUAL "NO" OR mode STREQUAL "FALSE" OR mode STREQUAL "0")
    return()
  endif()
  string(TOLOWER "${codec}" lc)
  set(tgt kprod_codec_${lc})
  set(link "")

  if(codec STREQUAL "GZIP")
    find_package(ZLIB QUIET)
    if(ZLIB_FOUND)
      set(link ZLIB::ZLIB)
    endif()
  else()
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(KP_PC_${codec} QUIET IMPORTED_TARGET GLOBAL ${pcname})
      if(KP_PC_${codec}_FOUND)
        # pkg-config found the module; make sure the header we use is there
        # (snappy's C API header lives beside its C++ ones).
        find_path(KP_${codec}_INCLUDE_DIR ${header} HINTS ${KP_PC_${codec}_INCLUDE_DIRS})
        if(KP_${codec}_INCLUDE_DIR)
          set(link PkgConfig::KP_PC_${codec})
        endif()
      endif()
    endif()
    if(NOT link)
      find_path(KP_${codec}_INCLUDE_DIR ${header})
      find_library(KP_${codec}_LIBRARY NAMES ${libname})
      if(KP_${codec}_INCLUDE_DIR AND KP_${codec}_LIBRARY)
        set(link ${KP_${codec}_LIBRARY})
      endif()
    endif()
  endif()

  if(NOT link)
    if(mode STREQUAL "AUTO")
      set(_kp_codecs_missing ${_kp_codecs_missing} ${lc} PARENT_SCOPE)
      return()
    endif()
    message(FATAL_ERROR "KPROD_WITH_${codec}=${KPROD_WITH_${codec}} but ${header} / lib${libname} "
                        "were not found (Debian: see scripts/install-deps.sh)")
  endif()

  if(NOT TARGET ${tgt})
    add_library(${tgt} INTERFACE IMPORTED GLOBAL)
    set_target_properties(${tgt} PROPERTIES INTERFACE_LINK_LIBRARIES "${link}")
    if(KP_${codec}_INCLUDE_DIR)
      set_target_properties(${tgt} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${KP_${codec}_INCLUDE_DIR}")
    endif()
  endif()
  set(KP_CODECS ${KP_CODECS} ${codec} PARENT_SCOPE)
  set(KP_CODECS_PC_LIBS "${KP_CODECS_PC_LIBS} -l${libname}" PARENT_SCOPE)
endfunction()

foreach(_c GZIP SNAPPY LZ4 ZSTD)
  set(KPROD_WITH_${_c} AUTO CACHE STRING "Build with ${_c} compression: AUTO, ON or OFF")
  set_property(CACHE KPROD_WITH_${_c} PROPERTY STRINGS AUTO ON OFF)
endforeach()

_kp_codec(GZIP   zlib    zlib.h      z)
_kp_codec(SNAPPY snappy  snappy-c.h  snappy)
_kp_codec(LZ4    liblz4  lz4frame.h  lz4)
_kp_codec(ZSTD   libzstd zstd.h      zstd)
string(STRIP "${KP_CODECS_PC_LIBS}" KP_CODECS_PC_LIBS)

string(TOLOWER "${KP_CODECS}" _kp_found)
string(REPLACE ";" " " _kp_found "${_kp_found}")
string(REPLACE ";" " " _kp_codecs_missing "${_kp_codecs_missing}")
if(_kp_codecs_missing)
  message(STATUS "kprod compression codecs: ${_kp_found} (not found: ${_kp_codecs_missing})")
else()
  message(STATUS "kprod compression codecs: ${_kp_found}")
endif()

# kp_codecs_apply(<target>): compile <target> with the codecs found.
function(kp_codecs_apply target)
  if(NOT TARGET ${target})
    return()
  endif()
  get_target_property(type ${target} TYPE)
  foreach(codec IN LISTS KP_CODECS)
    string(TOLOWER "${codec}" lc)
    if(codec STREQUAL "GZIP")
      set(name z)
    else()
      set(name ${lc})
    endif()
    target_compile_definitions(${target} PUBLIC $<BUILD_INTERFACE:KPROD_WITH_${codec}>)
    if(type STREQUAL "STATIC_LIBRARY")
      target_link_libraries(${target} PUBLIC
        $<BUILD_INTERFACE:kprod_codec_${lc}> $<INSTALL_INTERFACE:${name}>)
    else()
      target_link_libraries(${target} PRIVATE kprod_codec_${lc})
    endif()
  endforeach()
endfunction()
