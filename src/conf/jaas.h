/*
 * jaas — the `sasl.jaas.config` property in Java's syntax, parsed into the
 * login module's class, its control flag and its options, so that Java
 * users' settings work unchanged:
 *
 *   org.apache.kafka.common.security.plain.PlainLoginModule required
 *       username="alice" password="alice-secret";
 *
 * The grammar is Kafka's (clients/.../security/JaasConfig.java, a
 * java.io.StreamTokenizer set up as below), written anew in C:
 *
 *   config  = entry ;  Kafka's clients take exactly one
 *   entry   = token flag { token "=" token } ";"
 *   flag    = required | requisite | sufficient | optional  (any case)
 *   token   = word | quoted
 *   word    = a run of bytes other than whitespace (0-32), '/', '"', '\'',
 *             ';' and '=' (bytes 0x80 and up, i.e. UTF-8, are word bytes)
 *   quoted  = '"' ... '"' or '\'' ... '\'' with StreamTokenizer's escapes:
 *             \a \b \f \n \r \t \v, \ooo octal (up to 0377), and \c for
 *             any other c (so \" \' \\)
 *   comments: slash-star to star-slash, and a '/' anywhere outside quotes
 *             runs to the end of the line (as Java's commentChar('/'): an
 *             unquoted value cannot hold '/')
 *
 * A name given twice keeps its last value (Java's HashMap.put). Stricter
 * than Java where Java silently reads something else: a quoted string or
 * comment left open, a NUL character from an escape, or a second login
 * module (which Kafka's client refuses later anyway) are errors.
 *
 * Errors name the spot, "sasl.jaas.config: expected ';' at column 73"
 * ("at line 2, column 5" for text over several lines; columns count
 * characters, not bytes), and never quote the text: a value may be a
 * password, and a mistake can put one where a name or flag belongs.
 * kp_jaas_describe() gives a printable form with secret values as
 * "[hidden]", as Java prints its Password type.
 */
#ifndef KP_JAAS_H
#define KP_JAAS_H

#include <stddef.h>

#include "kprod/kprod.h"

/* The longest sasl.jaas.config text taken (a bound on every allocation). */
#define KP_JAAS_MAX_TEXT 65536

typedef enum kp_jaas_flag {
    KP_JAAS_REQUIRED,
    KP_JAAS_REQUISITE,
    KP_JAAS_SUFFICIENT,
    KP_JAAS_OPTIONAL
} kp_jaas_flag_t;

typedef struct kp_jaas_opt {
    char *name;
    char *value; /* NUL-terminated; never contains a NUL */
} kp_jaas_opt_t;

typedef struct kp_jaas {
    char *module; /* the login module class, e.g.
                     org.apache.kafka.common.security.plain.PlainLoginModule */
    kp_jaas_flag_t flag;
    kp_jaas_opt_t *opts; /* in the order written (duplicates kept) */
    size_t nopts;
} kp_jaas_t;

/* Parse text into j. KP_OK, or KP_ERR_INVALID_CONFIG with the reason in err
 * ("sasl.jaas.config: ..."), or KP_ERR_NOMEM; j is empty (nothing to free,
 * kp_jaas_free harmless) on failure. */
kp_err_t kp_jaas_parse(const char *text, kp_jaas_t *j, char *err, size_t errsize);

/* The value of option name (the last one given), or NULL. */
const char *kp_jaas_get(const kp_jaas_t *j, const char *name);

/* The class name without its package: "PlainLoginModule". */
const char *kp_jaas_module_short(const kp_jaas_t *j);

/* "required", "requisite", ... */
const char *kp_jaas_flag_name(kp_jaas_flag_t f);

/* Whether an option's value is a secret, never to be shown: a name holding
 * "password", "secret", "token" or "credential" in any case (password,
 * clientSecret, token, tokenauth, ...). */
int kp_jaas_is_secret(const char *name);

/* j written out in the JAAS syntax with every secret value as [hidden]
 * (logs, kp_config_get): `Module required username="u" password=[hidden];`.
 * Returns the length it needed, as snprintf; out may be NULL with size 0. */
size_t kp_jaas_describe(const kp_jaas_t *j, char *out, size_t size);

/* Free j's strings, zeroing the values first (they hold passwords). */
void kp_jaas_free(kp_jaas_t *j);

#endif
