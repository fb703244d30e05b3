/*
 * test_clock — kp_wall_ms(), the record timestamp clock, which answers
 * from a per-thread cache checked with the TSC: it must never be behind
 * the wall clock (CLOCK_REALTIME, read just before) nor ahead of it (read
 * just after), on every call, from several threads at once.
 */
#include <pthread.h>
#include <time.h>

#include "test.h"
#include "base/util.h"

static int64_t realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls for about 300 ms; returns the number of calls out of bounds. */
static void *check_calls(void *arg) {
    long *bad = arg;
    int64_t end = realtime_ms() + 300;
    long calls = 0;
    for (;;) {
        int64_t before = realtime_ms();
        int64_t t = kp_wall_ms();
        int64_t after = realtime_ms();
        if (t < before || t > after) {
            if (!*bad)
                fprintf(stderr, "# kp_wall_ms %lld outside [%lld, %lld]\n", (long long)t,
                        (long long)before, (long long)after);
            ++*bad;
        }
        /* back-to-back calls too (the cached path) */
        for (int i = 0; i < 50; i++) {
            int64_t t2 = kp_wall_ms();
            if (t2 < t)
                ++*bad;
            t = t2;
        }
        if (t > realtime_ms())
            ++*bad;
        calls++;
        if (after >= end)
            break;
    }
    fprintf(stderr, "# %ld rounds\n", calls);
    return NULL;
}

static void test_never_stale_nor_early(void) {
    enum { T = 3 };
    pthread_t th[T];
    long bad[T] = {0};
    for (int i = 0; i < T; i++)
        REQUIRE(pthread_create(&th[i], NULL, check_calls, &bad[i]) == 0);
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(bad[i], 0);
    }
}

TEST_MAIN(TEST(test_never_stale_nor_early))
