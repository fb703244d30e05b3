/*
 * test_oauth_mock — tokens from kp_config_set_oauthbearer_token_cb reach a
 * broker: a producer whose callback makes Java's unsecured JWS (sub
 * "alice-N" for the Nth call, 3 s of life) sends records for 6 s through
 * kprod-mock --sasl OAUTHBEARER with 1 s sessions (KIP-368), so each
 * re-authentication after the first token expired must carry a refreshed
 * one: every record is acknowledged, the callback was called at least
 * three times (at creation, then at 80-85 % of each 3 s token), and the
 * gateway's log shows a re-authentication as alice-3 and no refusal.
 *
 * The gateway (tools/mock_gateway.c, proven by kcat and kafka-python in
 * test_kprod_sasl.sh / test_mock_secured.sh) checks alg none, sub and exp.
 * kprod-mock is found next to this test (../tools); without it (a build
 * without jansson) the test says so and passes.
 */
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "conf/jaas.h"
#include "kprod/kprod.h"
#include "net/sasl.h"
#include "test.h"

extern char **environ;

typedef struct source {
    _Atomic int calls;
    char token[4096];
} source_t;

static kp_err_t token_cb(void *opaque, kp_oauthbearer_token_t *out, char *errstr,
                         size_t errsize) {
    source_t *s = opaque;
    int n = atomic_fetch_add(&s->calls, 1) + 1;
    char text[256];
    snprintf(text, sizeof(text),
             "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
             "unsecuredLoginStringClaim_sub=\"alice-%d\" unsecuredLoginLifetimeSeconds=\"3\";",
             n);
    kp_jaas_t j;
    kp_err_t rc = kp_jaas_parse(text, &j, errstr, errsize);
    if (rc)
        return rc;
    kp_sasl_token_t t = {0};
    rc = kp_sasl_unsecured_token(&j, kp_wall_ms(), &t, errstr, errsize);
    kp_jaas_free(&j);
    if (rc)
        return rc;
    snprintf(s->token, sizeof(s->token), "%s", t.value);
    out->value = s->token;
    out->lifetime_ms = t.lifetime_ms;
    out->principal = "alice";
    kp_sasl_token_clear(&t);
    return KP_OK;
}

typedef struct acks {
    _Atomic int ok, failed;
    _Atomic int first_err;
} acks_t;

static void on_done(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    (void)md;
    acks_t *a = opaque;
    if (err) {
        int zero = 0;
        atomic_compare_exchange_strong(&a->first_err, &zero, err);
        atomic_fetch_add(&a->failed, 1);
    } else {
        atomic_fetch_add(&a->ok, 1);
    }
}

/* Start kprod-mock with args; its bootstrap address (first stdout line)
 * in boot, its stderr in logpath. The pid, or -1. */
static pid_t start_mock(const char *mock, char *const *args, char *boot, size_t bootn,
                        const char *logpath) {
    int out[2];
    if (pipe(out))
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, mock, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc) {
        close(out[0]);
        return -1;
    }
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(boot, (int)bootn, f)) {
        if (f)
            fclose(f);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    boot[strcspn(boot, "\r\n")] = 0;
    fclose(f); /* the mock writes nothing more there */
    return pid;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_tokens_reach_the_broker(void) {
    char self[4096], mock[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    REQUIRE(n > 0);
    self[n] = 0;
    snprintf(mock, sizeof(mock), "%s/../tools/kprod-mock", dirname(self));
    if (access(mock, X_OK)) {
        printf("     (no %s: skipped)\n", mock);
        return;
    }
    char logpath[] = "/tmp/test_oauth_mock.XXXXXX";
    int lfd = mkstemp(logpath);
    REQUIRE(lfd >= 0);
    close(lfd);
    char *args[] = {mock, "--brokers", "1", "--topic", "t:1", "--sasl", "OAUTHBEARER",
                    "--sasl-session-lifetime-ms", "1000", NULL};
    char boot[256];
    pid_t pid = start_mock(mock, args, boot, sizeof(boot), logpath);
    REQUIRE(pid > 0);

    source_t s = {0};
    acks_t a = {0};
    char err[512];
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    const char *kv[] = {"bootstrap.servers", boot, "security.protocol", "SASL_PLAINTEXT",
                        "sasl.mechanism", "OAUTHBEARER", "linger.ms", "0", NULL};
    for (const char *const *p = kv; *p; p += 2)
        CHECK_OK(kp_config_set(c, p[0], p[1], err, sizeof(err)));
    kp_config_set_oauthbearer_token_cb(c, token_cb, &s);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    if (!p)
        FAIL("kp_producer_new: %s", err);
    int sent = 0;
    for (int64_t end = test_now_ms() + 6000; p && test_now_ms() < end; sent++) {
        kp_record_t r = {0};
        r.topic = "t";
        r.value = "v";
        r.value_len = 1;
        CHECK_OK(kp_send(p, &r, on_done, &a));
        test_sleep_ms(100);
    }
    if (p) {
        CHECK_OK(kp_flush(p, 30000));
        kp_producer_destroy(p);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    CHECK_EQ_INT(atomic_load(&a.ok), sent);
    CHECK_EQ_INT(atomic_load(&a.failed), 0);
    if (atomic_load(&a.failed))
        printf("     first error: %s\n", kp_err_name(atomic_load(&a.first_err)));
    CHECK_GE_INT(atomic_load(&s.calls), 3);
    const char *log = slurp(logpath);
    REQUIRE_NOT_NULL(log);
    CHECK(strstr(log, "re-authenticated as 'alice-3'") != NULL);
    CHECK(strstr(log, "SASL_AUTHENTICATION_FAILED") == NULL);
    CHECK(strstr(log, "session expired") == NULL);
    if (test_failures_)
        printf("---- kprod-mock's log ----\n%s\n", log);
    unlink(logpath);
}

TEST_MAIN(TEST(test_tokens_reach_the_broker))
