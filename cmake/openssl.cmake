# openssl.cmake — OpenSSL 3 behind src/net/tls.c (security.protocol=SSL).
#
# Optional, like the codecs (cmake/codecs.cmake). The cache variable
# KPROD_WITH_OPENSSL is one of
#   AUTO  (default) use OpenSSL when it is found (3.0 or later)
#   ON    require it: configuring fails when it is missing
#   OFF   build without it; security.protocol=SSL then fails at producer
#         creation saying this build has no TLS
# Debian: libssl-dev (scripts/install-deps.sh).
#
# Include it after the library targets exist, then call
#   kp_openssl_apply(<target>)
# for each target compiled from src/ (a name that is not a target is
# skipped). It defines KPROD_WITH_OPENSSL and links libssl and libcrypto:
# PRIVATE to the shared library (its own DT_NEEDED), PUBLIC to the static
# ones (an archive does not carry its dependencies), and in the installed
# kprodTargets.cmake as the plain names ssl and crypto.
#
# Results for the rest of the project:
#   KP_OPENSSL_FOUND    TRUE when the build has TLS
#   KP_OPENSSL_PC_LIBS  "-lssl -lcrypto" or "", for kprod.pc's Libs.private

set(KPROD_WITH_OPENSSL AUTO CACHE STRING "Build with TLS (OpenSSL 3): AUTO, ON or OFF")
set_property(CACHE KPROD_WITH_OPENSSL PROPERTY STRINGS AUTO ON OFF)

set(KP_OPENSSL_FOUND FALSE)
set(KP_OPENSSL_PC_LIBS "")
string(TOUPPER "${KPROD_WITH_OPENSSL}" _kp_ssl_mode)
if(NOT _kp_ssl_mode MATCHES "^(OFF|NO|FALSE|0)$")
  find_package(OpenSSL 3.0 QUIET)
  if(OPENSSL_FOUND)
    set(KP_OPENSSL_FOUND TRUE)
    set(KP_OPENSSL_PC_LIBS "-lssl -lcrypto")
    message(STATUS "kprod TLS: OpenSSL ${OPENSSL_VERSION}")
  elseif(_kp_ssl_mode STREQUAL "AUTO")
    message(STATUS "kprod TLS: not built (OpenSSL 3 not found; Debian: libssl-dev)")
  else()
    message(FATAL_ERROR "KPROD_WITH_OPENSSL=${KPROD_WITH_OPENSSL} but OpenSSL 3 was not found "
                        "(Debian: libssl-dev; see scripts/install-deps.sh)")
  endif()
else()
  message(STATUS "kprod TLS: not built (KPROD_WITH_OPENSSL=OFF)")
endif()

# kp_openssl_apply(<target>): compile and link <target> with OpenSSL.
function(kp_openssl_apply target)
  if(NOT TARGET ${target} OR NOT KP_OPENSSL_FOUND)
    return()
  endif()
  get_target_property(type ${target} TYPE)
  target_compile_definitions(${target} PUBLIC $<BUILD_INTERFACE:KPROD_WITH_OPENSSL>)
  if(type STREQUAL "STATIC_LIBRARY")
    target_link_libraries(${target} PUBLIC
      $<BUILD_INTERFACE:OpenSSL::SSL> $<BUILD_INTERFACE:OpenSSL::Crypto>
      $<INSTALL_INTERFACE:ssl> $<INSTALL_INTERFACE:crypto>)
  else()
    target_link_libraries(${target} PRIVATE OpenSSL::SSL OpenSSL::Crypto)
  endif()
endfunction()
