/*
 * fuzz.h — shared bits of the libFuzzer targets in tests/fuzz/: the entry
 * point's prototype (the project builds with -Wmissing-prototypes) and
 * FUZZ_CHECK, an invariant check that aborts with a message whatever
 * NDEBUG says (the replay build is RelWithDebInfo, where assert() is off).
 *
 * Every target is built twice: with clang -fsanitize=fuzzer for `make fuzz`
 * and with the project's compiler linked to replay_main.c for `make test`.
 */
#ifndef KP_FUZZ_H
#define KP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* p..p+n lies inside buf..buf+len (n may be 0). */
static inline int fuzz_within(const void *p, size_t n, const void *buf, size_t len) {
    const uint8_t *q = p, *b = buf;
    return q >= b && q <= b + len && n <= (size_t)(b + len - q);
}

#endif
