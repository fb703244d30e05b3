# oidc.cmake — libcurl (HTTPS) and jansson (JSON) behind src/net/oauth.c's
# OIDC client credentials (KIP-768: sasl.oauthbearer.token.endpoint.url).
#
# Optional, like OpenSSL (cmake/openssl.cmake). The cache variable
# KPROD_WITH_OIDC is one of
#   AUTO  (default) build OIDC when both libraries are found
#   ON    require them: configuring fails when one is missing
#   OFF   build without; sasl.oauthbearer.token.endpoint.url then fails at
#         producer creation saying this build lacks OIDC
# Debian: libcurl4-openssl-dev libjansson-dev (scripts/install-deps.sh),
# both through pkg-config.
#
# Include it after the library targets exist, then call
#   kp_oidc_apply(<target>)
# for each target compiled from src/ (a name that is not a target is
# skipped). It defines KPROD_WITH_OIDC and links libcurl and jansson:
# PRIVATE to the shared library, PUBLIC to the static ones (plain curl and
# jansson once installed).
#
# Results for the rest of the project:
#   KP_OIDC_FOUND    TRUE when the build has OIDC
#   KP_OIDC_PC_LIBS  "-lcurl -ljansson" or "", for kprod.pc's Libs.private

set(KPROD_WITH_OIDC AUTO CACHE STRING "Build OAUTHBEARER OIDC (libcurl, jansson): AUTO, ON or OFF")
set_property(CACHE KPROD_WITH_OIDC PROPERTY STRINGS AUTO ON OFF)

set(KP_OIDC_FOUND FALSE)
set(KP_OIDC_PC_LIBS "")
string(TOUPPER "${KPROD_WITH_OIDC}" _kp_oidc_mode)
if(NOT _kp_oidc_mode MATCHES "^(OFF|NO|FALSE|0)$")
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(KP_CURL QUIET IMPORTED_TARGET GLOBAL libcurl)
    pkg_check_modules(KP_OIDC_JANSSON QUIET IMPORTED_TARGET GLOBAL jansson)
  endif()
  if(KP_CURL_FOUND AND KP_OIDC_JANSSON_FOUND)
    set(KP_OIDC_FOUND TRUE)
    set(KP_OIDC_PC_LIBS "-lcurl -ljansson")
    message(STATUS "kprod OIDC: libcurl ${KP_CURL_VERSION}, jansson ${KP_OIDC_JANSSON_VERSION}")
  elseif(_kp_oidc_mode STREQUAL "AUTO")
    message(STATUS "kprod OIDC: not built (libcurl or jansson not found; Debian: "
                   "libcurl4-openssl-dev libjansson-dev)")
  else()
    message(FATAL_ERROR "KPROD_WITH_OIDC=${KPROD_WITH_OIDC} but libcurl or jansson was not found "
                        "(Debian: libcurl4-openssl-dev libjansson-dev; see scripts/install-deps.sh)")
  endif()
else()
  message(STATUS "kprod OIDC: not built (KPROD_WITH_OIDC=OFF)")
endif()

# kp_oidc_apply(<target>): compile and link <target> with libcurl and jansson.
function(kp_oidc_apply target)
  if(NOT TARGET ${target} OR NOT KP_OIDC_FOUND)
    return()
  endif()
  get_target_property(type ${target} TYPE)
  target_compile_definitions(${target} PUBLIC $<BUILD_INTERFACE:KPROD_WITH_OIDC>)
  if(type STREQUAL "STATIC_LIBRARY")
    target_link_libraries(${target} PUBLIC
      $<BUILD_INTERFACE:PkgConfig::KP_CURL> $<BUILD_INTERFACE:PkgConfig::KP_OIDC_JANSSON>
      $<INSTALL_INTERFACE:curl> $<INSTALL_INTERFACE:jansson>)
  else()
    target_link_libraries(${target} PRIVATE PkgConfig::KP_CURL PkgConfig::KP_OIDC_JANSSON)
  endif()
endfunction()
