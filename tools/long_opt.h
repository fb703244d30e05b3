/*
 * long_opt — the command-line tools' "--name=value" / "--name value"
 * splitting (kprod-console, kprod-perf).
 */
#ifndef KPROD_LONG_OPT_H
#define KPROD_LONG_OPT_H

#include <string.h>

/* arg is "--name" or "--name=value": the length of "--name" in *name_len,
 * and the value after '=' (NULL without one; the caller may then take the
 * next argument). */
static inline const char *long_opt_split(const char *arg, size_t *name_len) {
    const char *eq = strchr(arg, '=');
    *name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    return eq ? eq + 1 : NULL;
}

/* Whether the option whose name is arg[0 .. name_len) is `name`. */
static inline int long_opt_is(const char *arg, size_t name_len, const char *name) {
    return name_len == strlen(name) && strncmp(arg, name, name_len) == 0;
}

#endif
