/*
 * test_oauth_oidc — OIDC client credentials (KIP-768, src/net/oauth.c) in
 * process, so that the sanitizer builds (asan., tsan.) see libcurl and
 * jansson run on the refresher thread: against tests/tools/token_endpoint.py
 * (Python's http.server + ssl, an HTTPS token endpoint with a certificate
 * made here by the openssl CLI) a producer is created with its first token
 * (the endpoint's JWS, the extension_* options as SASL extensions), asks
 * again at 80-85 % of a 3 s token, and a wrong client secret fails
 * creation naming the endpoint and HTTP 401 without the secret; a producer
 * destroyed right after creation stops its refresher at once.
 * test_kprod_oidc.sh takes the tokens through kprod-mock to kcat.
 *
 * Without python3 or openssl, or in a build without OIDC, it says so and
 * passes (the shell test is the one that skips).
 */
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/internal.h"
#include "kprod/kprod.h"
#include "net/oauth.h"
#include "test.h"

extern char **environ;

#define SECRET "0idc-Cl1ent-s3cret"

static char dir[] = "/tmp/test_oauth_oidc.XXXXXX";
static char url[128];
static pid_t idp = -1;

/* Certificates and the endpoint (3 s tokens); 0 when the tools are missing. */
static int start(void) {
    if (!kp_oauth_oidc_built() || system("command -v python3 >/dev/null && command -v openssl >/dev/null"))
        return 0;
    if (!mkdtemp(dir))
        return 0;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj '/CN=kprod test CA' && openssl req -newkey rsa:2048 -nodes -keyout idp.key -out "
             "idp.csr -subj /CN=localhost && printf 'subjectAltName=IP:127.0.0.1\\n' >idp.ext && "
             "openssl x509 -req -in idp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out idp.pem "
             "-days 2 -extfile idp.ext",
             dir);
    char quiet[2200];
    snprintf(quiet, sizeof(quiet), "(%s) >/dev/null 2>&1", cmd);
    if (system(quiet)) {
        FAIL("openssl could not make the certificates");
        return 0;
    }
    char script[4096];
    snprintf(script, sizeof(script), "%s", __FILE__);
    char *d = dirname(script);
    char py[4200], cert[256], key[256];
    snprintf(py, sizeof(py), "%s/../tools/token_endpoint.py", d);
    snprintf(cert, sizeof(cert), "%s/idp.pem", dir);
    snprintf(key, sizeof(key), "%s/idp.key", dir);
    char *args[] = {"python3", py, "--cert", cert, "--key", key, "--client-id", "kprod-app",
                    "--client-secret", SECRET, "--lifetime", "3", NULL};
    int out[2];
    if (pipe(out))
        return 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawnp(&idp, "python3", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char port[32] = "";
    if (rc || !f || !fgets(port, sizeof(port), f)) {
        FAIL("token_endpoint.py did not start");
        if (f)
            fclose(f);
        return 0;
    }
    fclose(f);
    port[strcspn(port, "\r\n")] = 0;
    snprintf(url, sizeof(url), "https://127.0.0.1:%s/token", port);
    return 1;
}

static void stop(void) {
    if (idp > 0) {
        kill(idp, SIGTERM);
        waitpid(idp, NULL, 0);
    }
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd)) {
    }
}

static kp_producer_t *producer(const char *secret, char *err, size_t errsize) {
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    char jaas[1024];
    snprintf(jaas, sizeof(jaas),
             "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
             "clientId=\"kprod-app\" clientSecret=\"%s\" scope=\"kafka\" "
             "extension_logicalCluster=\"lkc-1\" ssl.truststore.location=\"%s/ca.pem\";",
             secret, dir);
    const char *kv[] = {"bootstrap.servers", "127.0.0.1:1", "security.protocol", "SASL_PLAINTEXT",
                        "sasl.mechanism", "OAUTHBEARER", "sasl.oauthbearer.token.endpoint.url",
                        url, "sasl.jaas.config", jaas, NULL};
    for (const char *const *p = kv; *p; p += 2)
        if (kp_config_set(c, p[0], p[1], err, errsize))
            FAIL("%s: %s", p[0], err);
    kp_producer_t *p = kp_producer_new(c, err, errsize);
    kp_config_destroy(c);
    return p;
}

static int refreshed(void *arg) { return kp_oauth_fetches(arg, NULL) >= 2; }

static void test_oidc(void) {
    if (!start()) {
        printf("     (no OIDC in this build, or no python3/openssl: skipped)\n");
        stop();
        return;
    }
    char err[1024];
    kp_producer_t *p = producer(SECRET, err, sizeof(err));
    if (!p)
        FAIL("kp_producer_new: %s", err);
    if (p) {
        kp_oauth_snap_t s;
        CHECK_OK(kp_oauth_current(p->net.oauth, &s));
        CHECK(s.value && !strncmp(s.value, "eyJhbGciOiAibm9uZSJ9.", 21)); /* {"alg": "none"} */
        CHECK_EQ_INT((int)s.next, 1);
        if (s.next) {
            CHECK_EQ_STR(s.ext[0].key, "logicalCluster");
            CHECK_EQ_STR(s.ext[0].value, "lkc-1");
        }
        kp_oauth_snap_free(&s);
        /* a 3 s token: asked again after 2.4-2.55 s */
        CHECK(wait_until(refreshed, p->net.oauth, 6000));
        kp_producer_destroy(p);
    }
    /* destroyed at once: the refresher stops without waiting for anything */
    int64_t t0 = test_now_ms();
    p = producer(SECRET, err, sizeof(err));
    CHECK_NOT_NULL(p);
    kp_producer_destroy(p);
    CHECK_LT_INT(test_now_ms() - t0, 3000);
    /* a wrong secret: 401, named with the endpoint, the secret nowhere */
    p = producer("wrong-" SECRET, err, sizeof(err));
    CHECK_NULL(p);
    kp_producer_destroy(p);
    CHECK(strstr(err, url) != NULL);
    CHECK(strstr(err, "HTTP 401") != NULL);
    CHECK(strstr(err, SECRET) == NULL);
    printf("     %s\n", err);
    stop();
}

TEST_MAIN(TEST(test_oidc))
