/*
 * auth — a connection's SASL setup step (security.protocol SASL_PLAINTEXT
 * or SASL_SSL), run after ApiVersions and before the connection is READY:
 * SaslHandshake v1 names the mechanism, then SaslAuthenticate requests
 * carry the mechanism's messages (KIP-152) until the state machine of
 * sasl.c says the exchange is complete.
 *
 * Why a step and not a transport: SASL is Kafka requests on the
 * connection's framing (the handshake has a correlation id and a version
 * like any request), so it uses the same request path, the same timeouts
 * (request.timeout.ms, and socket.connection.setup.timeout.ms for the
 * whole setup) and the same upcall tables; the transport below stays TCP
 * or TLS.
 *
 * A broker that refuses us (SASL_AUTHENTICATION_FAILED with its message, a
 * mechanism it does not enable, a SCRAM server that cannot prove it knows
 * the password) marks the connection unusable with that error: the
 * records waiting for it, and sends that wait for metadata only it could
 * give, fail at once (engine/sender.c, drain.c) instead of after
 * delivery.timeout.ms, while reconnects go on with backoff, so credentials
 * fixed on the broker's side are taken without a restart. Requests that
 * carry a secret are zeroed when freed (kp_req_t.secret). No secret goes
 * into a log line: what the broker says is logged, what we send is not.
 *
 * OAUTHBEARER tokens come from the refresher (net/oauth.h, net->oauth)
 * when the application set a token callback: each handshake, a new
 * connection's or a KIP-368 re-authentication's, copies the newest token
 * under the refresher's lock; OIDC client credentials
 * (sasl.oauthbearer.token.endpoint.url) are such a source too. Without
 * one, Java's unsecured token is made anew for each connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kafka_codes.h"
#include "base/util.h"
#include "net/auth.h"
#include "net/conn.h"
#include "net/net.h"
#include "net/oauth.h"
#include "net/sasl.h"

static void on_handshake(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r);
static void on_authenticate(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r);
static const kp_req_ops_t handshake_ops = {on_handshake, NULL, NULL};
static const kp_req_ops_t authenticate_ops = {on_authenticate, NULL, NULL};

/* The broker refuses us for good (until it changes): say why, mark the
 * connection and close it. */
static void refuse(kp_net_t *net, kp_conn_t *c, kp_err_t err, const char *why) {
    char name[KP_CONN_NAME_MAX];
    kp_logf(net->log, 3, "%s: SASL %s authentication failed: %s", kp_conn_name(c, name, sizeof(name)),
            kp_sasl_mech_name(net->sasl.mech), why);
    c->unusable = err;
    kp_conn_close(net, c, err, "SASL authentication failed");
}

void kp_auth_start(kp_net_t *net, kp_conn_t *c) {
    if (!net->sasl.on) {
        kp_conn_setup_done(net, c);
        return;
    }
    int16_t hv = c->ver[KP_API_SASL_HANDSHAKE], av = c->ver[KP_API_SASL_AUTHENTICATE];
    if (hv < 1 || av < 0) {
        char why[256];
        snprintf(why, sizeof(why),
                 "the broker offers SaslHandshake v%d..%d and SaslAuthenticate v%d..%d; kprod needs "
                 "SaslHandshake v1 and SaslAuthenticate (is this a SASL listener?)",
                 c->range[KP_API_SASL_HANDSHAKE].min, c->range[KP_API_SASL_HANDSHAKE].max,
                 c->range[KP_API_SASL_AUTHENTICATE].min, c->range[KP_API_SASL_AUTHENTICATE].max);
        refuse(net, c, KAFKA_ILLEGAL_SASL_STATE, why);
        return;
    }
    kp_req_t *req = kp_req_new(net, KP_API_SASL_HANDSHAKE, hv, kp_mono_ms(), &handshake_ops);
    if (req)
        kp_sasl_handshake_req(&req->w, req->ver, req->corrid, net->client_id,
                              kp_sasl_mech_name(net->sasl.mech));
    kp_conn_send_setup(net, c, req);
}

/* Send the mechanism's next message in a SaslAuthenticate request. */
static void send_authenticate(kp_net_t *net, kp_conn_t *c, const kp_sasl_out_t *out) {
    kp_req_t *req = kp_req_new(net, KP_API_SASL_AUTHENTICATE, c->ver[KP_API_SASL_AUTHENTICATE],
                               kp_mono_ms(), &authenticate_ops);
    if (req) {
        req->secret = 1;
        kp_sasl_authenticate_req(&req->w, req->ver, req->corrid, net->client_id, out->data,
                                 out->len);
    }
    kp_conn_send_setup(net, c, req);
}

/* Run the state machine on the server's message (NULL: the first step),
 * then send, finish or refuse. */
static void advance(kp_net_t *net, kp_conn_t *c, const uint8_t *in, size_t len) {
    kp_sasl_out_t out;
    char err[256];
    kp_err_t rc = kp_sasl_step(c->sasl, in, len, &out, err, sizeof(err));
    if (rc) {
        refuse(net, c, rc, err);
        return;
    }
    if (out.send) {
        send_authenticate(net, c, &out);
        return;
    }
    if (out.done) {
        kp_sasl_free(c->sasl);
        c->sasl = NULL;
        /* KIP-368: again at a random point between 85 % and 95 % of the
         * session the broker gave, as the Java client */
        int64_t l = c->session_lifetime_ms;
        c->reauth_at = l > 0 ? kp_mono_ms() + l * 85 / 100 +
                                   (int64_t)(kp_rand(&net->rng) % (uint64_t)(l / 10 + 1))
                             : 0;
        kp_conn_setup_done(net, c);
        return;
    }
    refuse(net, c, KAFKA_ILLEGAL_SASL_STATE, "the exchange stopped without completing");
}

static void on_handshake(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_sasl_handshake_resp_t hs;
    if (kp_sasl_handshake_resp(r, req->ver, &hs)) {
        kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "malformed SaslHandshake response");
        return;
    }
    char err[256];
    kp_err_t rc = kp_sasl_handshake_check(&hs, net->sasl.mech, err, sizeof(err));
    kp_sasl_handshake_resp_free(&hs);
    if (rc) {
        refuse(net, c, rc, err);
        return;
    }
    kp_sasl_creds_t creds = net->sasl.creds;
    kp_sasl_token_t token = {0};
    kp_oauth_snap_t snap = {0};
    if (net->sasl.mech == KP_SASL_OAUTHBEARER && net->oauth) {
        /* the refresher's newest token (net/oauth.h) */
        if (kp_oauth_current(net->oauth, &snap)) {
            kp_conn_close(net, c, KP_ERR_NOMEM, "out of memory");
            return;
        }
        creds.token = snap.value;
        creds.ext = snap.ext;
        creds.next = snap.next;
    } else if (net->sasl.mech == KP_SASL_OAUTHBEARER) {
        /* Java's unsecured token, made anew for each connection */
        rc = kp_sasl_unsecured_token(&net->sasl.jaas, kp_wall_ms(), &token, err, sizeof(err));
        if (rc) {
            refuse(net, c, rc, err);
            return;
        }
        creds.token = token.value;
    }
    kp_sasl_free(c->sasl);
    c->sasl = kp_sasl_new(net->sasl.mech, &creds, &rc, err, sizeof(err));
    kp_sasl_token_clear(&token);
    kp_oauth_snap_free(&snap);
    if (!c->sasl) {
        if (rc == KP_ERR_NOMEM)
            kp_conn_close(net, c, rc, "out of memory");
        else
            refuse(net, c, rc, err);
        return;
    }
    advance(net, c, NULL, 0);
}

static void on_authenticate(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_sasl_authenticate_resp_t ar;
    if (kp_sasl_authenticate_resp(r, req->ver, &ar)) {
        kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "malformed SaslAuthenticate response");
        return;
    }
    if (!c->sasl) {
        kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "SaslAuthenticate answer out of turn");
        return;
    }
    if (ar.err) {
        char why[400];
        int ml = ar.error_message && ar.error_message_len > 0 ? (int)MIN(ar.error_message_len, 300)
                                                              : 0;
        snprintf(why, sizeof(why), "%s%s%.*s", kp_err_name((kp_err_t)ar.err), ml ? ": " : "", ml,
                 ml ? ar.error_message : "");
        refuse(net, c, (kp_err_t)ar.err, why);
        return;
    }
    c->session_lifetime_ms = ar.session_lifetime_ms;
    advance(net, c, ar.auth_bytes, (size_t)ar.auth_len);
}

kp_err_t kp_auth_configure(kp_net_sasl_t *s, const kp_conf_t *conf, char *errstr, size_t size) {
    memset(s, 0, sizeof(*s));
    if (conf->security_protocol != KP_SEC_SASL_PLAINTEXT &&
        conf->security_protocol != KP_SEC_SASL_SSL)
        return KP_OK;
    char err[256];
    kp_err_t rc = kp_sasl_mech_parse(conf->sasl_mechanism ? conf->sasl_mechanism : "GSSAPI",
                                     &s->mech, err, sizeof(err));
    if (!rc && !kp_sasl_mech_built(s->mech)) {
        snprintf(err, sizeof(err), "%s needs OpenSSL, which this build of kprod does not have",
                 kp_sasl_mech_name(s->mech));
        rc = KP_ERR_NOT_IMPLEMENTED;
    }
    if (rc) {
        kp_errf(errstr, size, "Invalid value for property 'sasl.mechanism': %s", err);
        return rc == KP_ERR_NOMEM ? rc : KP_ERR_INVALID_CONFIG;
    }
    if (s->mech == KP_SASL_OAUTHBEARER && conf->oauth_token_fn) {
        /* the application's token callback: tokens and extensions come
         * from it (net/oauth.c), sasl.jaas.config is not needed */
        s->on = 1;
        return KP_OK;
    }
    if (!conf->sasl_jaas_config || !*conf->sasl_jaas_config) {
        kp_errf(errstr, size,
                "security.protocol=%s with sasl.mechanism=%s needs sasl.jaas.config (e.g. "
                "%s required username=\"...\" password=\"...\";)",
                conf->security_protocol == KP_SEC_SASL_SSL ? "SASL_SSL" : "SASL_PLAINTEXT",
                kp_sasl_mech_name(s->mech),
                s->mech == KP_SASL_PLAIN ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                : s->mech == KP_SASL_OAUTHBEARER
                    ? "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
                    : "org.apache.kafka.common.security.scram.ScramLoginModule");
        return KP_ERR_INVALID_CONFIG;
    }
    rc = kp_jaas_parse(conf->sasl_jaas_config, &s->jaas, errstr, size);
    if (rc)
        return rc;
    if (s->mech == KP_SASL_OAUTHBEARER && conf->sasl_oauthbearer_token_endpoint_url &&
        *conf->sasl_oauthbearer_token_endpoint_url) {
        /* OIDC client credentials (KIP-768): the refresher asks the
         * endpoint (net/oauth.c, started by kp_oauth_setup) */
        rc = kp_oauth_oidc_check(conf, &s->jaas, errstr, size);
        if (rc) {
            kp_jaas_free(&s->jaas);
            return rc == KP_ERR_NOMEM ? rc : KP_ERR_INVALID_CONFIG;
        }
        s->on = 1;
        return KP_OK;
    }
    if (s->mech == KP_SASL_OAUTHBEARER && conf->sasl_login_callback_handler_class &&
        *conf->sasl_login_callback_handler_class) {
        /* Java's OAuthBearerLoginCallbackHandler without its endpoint */
        kp_errf(errstr, size,
                "sasl.login.callback.handler.class=%s needs sasl.oauthbearer.token.endpoint.url",
                conf->sasl_login_callback_handler_class);
        kp_jaas_free(&s->jaas);
        return KP_ERR_INVALID_CONFIG;
    }
    if (s->mech == KP_SASL_OAUTHBEARER) {
        /* Java's unsecured tokens (development) */
        if (!kp_jaas_get(&s->jaas, "unsecuredLoginStringClaim_sub")) {
            kp_errf(errstr, size,
                    "sasl.mechanism=OAUTHBEARER needs a token source: OIDC client credentials "
                    "(sasl.oauthbearer.token.endpoint.url, with clientId and clientSecret in "
                    "sasl.jaas.config), Java's unsecured tokens for development "
                    "(unsecuredLoginStringClaim_sub=\"...\" in sasl.jaas.config) or "
                    "kp_config_set_oauthbearer_token_cb()");
            kp_jaas_free(&s->jaas);
            return KP_ERR_INVALID_CONFIG;
        }
        kp_sasl_token_t t = {0};
        rc = kp_sasl_unsecured_token(&s->jaas, kp_wall_ms(), &t, err, sizeof(err));
        kp_sasl_token_clear(&t);
        if (!rc)
            rc = kp_sasl_ext_from_jaas(&s->jaas, "unsecuredLoginExtension_", &s->ext, &s->next, err,
                                       sizeof(err));
        s->creds.ext = s->ext;
        s->creds.next = s->next;
    } else {
        rc = kp_sasl_creds_from_jaas(s->mech, &s->jaas, &s->creds, err, sizeof(err));
    }
    if (rc) {
        kp_errf(errstr, size, "%s", err);
        kp_auth_free(s);
        return rc;
    }
    s->on = 1;
    return KP_OK;
}

void kp_auth_free(kp_net_sasl_t *s) {
    kp_jaas_free(&s->jaas);
    free(s->ext);
    memset(s, 0, sizeof(*s));
}
