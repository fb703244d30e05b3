/* util — small helpers shared by every module: strings, clocks, logging. */
#ifndef KP_UTIL_H
#define KP_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

char *kp_strdup(const char *s);
char *kp_strndup(const char *s, size_t n);
/* snprintf into an error buffer that may be NULL. */
void kp_errf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Monotonic milliseconds / microseconds (deadlines, backoff). */
int64_t kp_mono_ms(void);
int64_t kp_mono_us(void);
/* Wall-clock milliseconds since the epoch (record timestamps). */
int64_t kp_wall_ms(void);

/* Wait on c (created with CLOCK_MONOTONIC, m held) until woken or the
 * monotonic deadline; INT64_MAX waits without limit. Returns -1 without
 * waiting once the deadline has passed, else 0 (the caller re-checks its
 * condition: wake-ups may be spurious). */
int kp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ms);

/* value * (1 +- 0.2), the Java client's backoff jitter; state is per caller. */
int64_t kp_jitter(int64_t value, uint64_t *rng);
/* Exponential backoff: base * 2^attempts capped at max, with jitter. */
int64_t kp_backoff(int64_t base, int64_t max, int attempts, uint64_t *rng);

#endif
