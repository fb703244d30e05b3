/*
 * fuzz_properties — the .properties parser, kp_config_load_buf (config.c):
 * java.util.Properties.load syntax (comments, the three separators, line
 * continuations, escapes, \uXXXX with surrogate pairs) and every entry
 * through kp_config_set().
 *
 * Input: the text itself (any bytes). Checks: the result is KP_OK,
 * KP_ERR_INVALID_CONFIG or KP_ERR_NOMEM; an error has a message, NUL-
 * terminated inside errstr; afterwards properties still read back as text;
 * loading the text again on top and freeing leak nothing.
 */
#include <string.h>

#include "conf/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kp_config_t *conf = kp_config_new();
    if (!conf)
        return 0;
    char errstr[512];
    memset(errstr, 0x55, sizeof(errstr));
    kp_err_t err = kp_config_load_buf(conf, (const char *)data, size, "fuzz.properties", errstr,
                                      sizeof(errstr));
    FUZZ_CHECK(err == KP_OK || err == KP_ERR_INVALID_CONFIG || err == KP_ERR_NOMEM);
    if (err != KP_OK) {
        FUZZ_CHECK(memchr(errstr, '\0', sizeof(errstr)) != NULL);
        FUZZ_CHECK(errstr[0] != '\0');
    }
    /* string properties read back as NUL-terminated text (ASan checks the
     * read); not all of them: kp_config_get's lookup would cost more than
     * the parse */
    static const char *const names[] = {"client.id", "bootstrap.servers", "acks"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = kp_config_get(conf, names[i]);
        FUZZ_CHECK(v != NULL && strlen(v) <= size + 32);
    }
    /* the same text again on top: a second load of set values must not leak */
    (void)kp_config_load_buf(conf, (const char *)data, size, NULL, errstr, sizeof(errstr));
    kp_config_destroy(conf);
    return 0;
}
