/*
 * auth — the SASL setup step of a connection (auth.c), and the SASL
 * settings every connection of a producer shares.
 */
#ifndef KP_AUTH_H
#define KP_AUTH_H

#include "conf/config.h"
#include "conf/jaas.h"
#include "net/sasl.h"

typedef struct kp_conn kp_conn_t;
typedef struct kp_net kp_net_t;

/* security.protocol SASL_*: the mechanism and the parsed sasl.jaas.config
 * (which holds the secrets; creds point into it). */
typedef struct kp_net_sasl {
    int on;
    kp_sasl_mech_t mech;
    kp_jaas_t jaas;
    kp_sasl_creds_t creds;
    kp_sasl_ext_t *ext; /* OAUTHBEARER extensions */
    size_t next;
} kp_net_sasl_t;

/* From the configuration (nothing when security.protocol is not SASL_*):
 * KP_OK, or KP_ERR_INVALID_CONFIG / KP_ERR_NOMEM with the reason in
 * errstr (never a secret). */
kp_err_t kp_auth_configure(kp_net_sasl_t *s, const kp_conf_t *conf, char *errstr, size_t size);
void kp_auth_free(kp_net_sasl_t *s);

/* The setup step (conn.c's list, after ApiVersions): authenticate, then
 * kp_conn_setup_done; without SASL, at once. */
void kp_auth_start(kp_net_t *net, kp_conn_t *c);

#endif
