/*
 * test_crc32c — CRC-32C (Castagnoli) as RecordBatch v2 uses it.
 *
 * Expected values: the standard check value crc32c("123456789") =
 * 0xE3069283 and the RFC 3720 appendix B.4 vectors. A plain bitwise
 * implementation (reflected polynomial 0x82F63B78) written here is the
 * independent reference for random data.
 */
#include "test.h"

#include <pthread.h>

#include "base/crc32c.h"

/* Bit-at-a-time CRC-32C; continues from crc like kp_crc32c. */
static uint32_t ref_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}


/* ---- first use from many threads at once (run first) -------------------------- */

#define NTHREADS 4

static void *crc_thread(void *arg)
{
    static const char check[] = "123456789";
    uint32_t *out = arg;

    out[0] = kp_crc32c(0, check, 9);
    out[1] = kp_crc32c_sw(0, check, 9);
    return NULL;
}

/* The lazy table build and hardware detection race on first use; every
 * thread must still get the right answer (and TSan must stay quiet). */
static void test_concurrent_first_use(void)
{
    pthread_t th[NTHREADS];
    uint32_t res[NTHREADS][2];

    for (int i = 0; i < NTHREADS; i++)
        REQUIRE(pthread_create(&th[i], NULL, crc_thread, res[i]) == 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_U64(res[i][0], 0xE3069283u);
        CHECK_EQ_U64(res[i][1], 0xE3069283u);
    }
}

/* ---- known answers ------------------------------------------------------------- */

typedef uint32_t crc_fn(uint32_t, const void *, size_t);

static void check_vectors(crc_fn *fn, const char *name)
{
    uint8_t zeros[32], ones[32], inc[32], dec[32];

    memset(zeros, 0, sizeof(zeros));
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++) {
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    fprintf(stderr, "# %s\n", name);
    CHECK_EQ_U64(fn(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(fn(0, "", 0), 0);
    CHECK_EQ_U64(fn(0, NULL, 0), 0);
    CHECK_EQ_U64(fn(0, zeros, 32), 0x8A9136AAu);
    CHECK_EQ_U64(fn(0, ones, 32), 0x62A8AB43u);
    CHECK_EQ_U64(fn(0, inc, 32), 0x46DD794Eu);
    CHECK_EQ_U64(fn(0, dec, 32), 0x113FDB5Cu);
    /* a zero-length update leaves any CRC unchanged */
    CHECK_EQ_U64(fn(0xE3069283u, "", 0), 0xE3069283u);
}

static void test_vectors_dispatch(void) { check_vectors(kp_crc32c, "kp_crc32c"); }
static void test_vectors_software(void) { check_vectors(kp_crc32c_sw, "kp_crc32c_sw"); }
static void test_vectors_reference(void) { check_vectors(ref_crc32c, "reference"); }

/* ---- incremental == one-shot ------------------------------------------------------ */

static void check_incremental(crc_fn *fn)
{
    uint8_t buf[200];
    uint64_t seed = 0x1234567887654321ULL;
    uint32_t whole;

    test_fill_random(buf, sizeof(buf), &seed);
    whole = ref_crc32c(0, buf, sizeof(buf));
    CHECK_EQ_U64(fn(0, buf, sizeof(buf)), whole);
    for (size_t i = 0; i <= sizeof(buf); i++) {
        uint32_t c = fn(0, buf, i);
        c = fn(c, buf + i, sizeof(buf) - i);
        if (!CHECK_EQ_U64(c, whole))
            fprintf(stderr, "    split at %zu\n", i);
    }
    /* three pieces */
    for (size_t i = 0; i <= 40; i++)
        for (size_t j = i; j <= i + 17; j++) {
            uint32_t c = fn(0, buf, i);
            c = fn(c, buf + i, j - i);
            c = fn(c, buf + j, sizeof(buf) - j);
            if (!CHECK_EQ_U64(c, whole)) {
                fprintf(stderr, "    split at %zu and %zu\n", i, j);
                return;
            }
        }
    /* byte by byte */
    {
        uint32_t c = 0;
        for (size_t i = 0; i < sizeof(buf); i++)
            c = fn(c, buf + i, 1);
        CHECK_EQ_U64(c, whole);
    }
    /* "123456789" split at every point gives the check value */
    for (size_t i = 0; i <= 9; i++)
        CHECK_EQ_U64(fn(fn(0, "123456789", i), "123456789" + i, 9 - i), 0xE3069283u);
}

static void test_incremental_dispatch(void) { check_incremental(kp_crc32c); }
static void test_incremental_software(void) { check_incremental(kp_crc32c_sw); }

/* ---- hardware path == software path == reference ----------------------------------- */

static void test_hw_matches_sw(void)
{
    enum { MAXLEN = 100000, ALIGN = 16 };
    uint8_t *mem = malloc(MAXLEN + ALIGN);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    /* around the three-stream thresholds (3 x 256 and 3 x 8192 bytes) too */
    static const size_t big[] = {511,   512,   513,   767,   768,   769,   1024,  1031,
                                 1543,  4096,  4099,  24575, 24576, 24577, 25343, 25344,
                                 25351, 49152, 65536, 99991, MAXLEN};

    REQUIRE_NOT_NULL(mem);
    fprintf(stderr, "# hardware crc32c %savailable\n", kp_crc32c_hw_available() ? "" : "not ");
    test_fill_random(mem, MAXLEN + ALIGN, &seed);

    /* every length up to 300 at every alignment 0..15 */
    for (size_t len = 0; len <= 300; len++)
        for (size_t a = 0; a < ALIGN; a++) {
            const uint8_t *p = mem + a;
            uint32_t want = ref_crc32c(0, p, len);
            uint32_t init = (uint32_t)test_rng_next(&seed);
            uint32_t hw = kp_crc32c(0, p, len);
            uint32_t sw = kp_crc32c_sw(0, p, len);

            if (!CHECK_EQ_U64(hw, want) || !CHECK_EQ_U64(sw, want)) {
                fprintf(stderr, "    len %zu alignment %zu\n", len, a);
                free(mem);
                return;
            }
            /* continuing from an arbitrary CRC */
            want = ref_crc32c(init, p, len);
            if (!CHECK_EQ_U64(kp_crc32c(init, p, len), want) ||
                !CHECK_EQ_U64(kp_crc32c_sw(init, p, len), want)) {
                fprintf(stderr, "    len %zu alignment %zu init 0x%08x\n", len, a, init);
                free(mem);
                return;
            }
        }
    /* larger buffers */
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
        for (size_t a = 0; a < 8; a++) {
            const uint8_t *p = mem + a;
            uint32_t want = ref_crc32c(0, p, big[i]);

            CHECK_EQ_U64(kp_crc32c(0, p, big[i]), want);
            CHECK_EQ_U64(kp_crc32c_sw(0, p, big[i]), want);
            /* continuing: from a CRC, and split across the thresholds */
            CHECK_EQ_U64(kp_crc32c(0x1EDC6F41u, p, big[i]), ref_crc32c(0x1EDC6F41u, p, big[i]));
            CHECK_EQ_U64(kp_crc32c(kp_crc32c(0, p, big[i] / 3), p + big[i] / 3,
                                   big[i] - big[i] / 3),
                         want);
        }
    free(mem);
}

/* CRC(A || B) from CRC(A), CRC(B) and |B|, for every split of a buffer. */
static void test_combine(void)
{
    uint8_t buf[3000];
    uint64_t seed = 42;

    test_fill_random(buf, sizeof(buf), &seed);
    for (size_t len = 0; len <= sizeof(buf); len += len < 70 ? 1 : 97) {
        uint32_t whole = ref_crc32c(0, buf, len);
        for (size_t cut = 0; cut <= len; cut += cut < 20 ? 1 : 31) {
            uint32_t c = kp_crc32c_combine(kp_crc32c(0, buf, cut), kp_crc32c(0, buf + cut, len - cut),
                                           len - cut);
            if (!CHECK_EQ_U64(c, whole)) {
                fprintf(stderr, "    len %zu cut %zu\n", len, cut);
                return;
            }
        }
    }
    /* a long empty-of-data B: 1 MiB of zeros */
    uint8_t *z = calloc(1, 1 << 20);
    REQUIRE_NOT_NULL(z);
    CHECK_EQ_U64(kp_crc32c_combine(kp_crc32c(0, "123456789", 9), kp_crc32c(0, z, 1 << 20), 1 << 20),
                 kp_crc32c(kp_crc32c(0, "123456789", 9), z, 1 << 20));
    free(z);
}

TEST_MAIN(TEST(test_concurrent_first_use), TEST(test_vectors_dispatch),
          TEST(test_vectors_software), TEST(test_vectors_reference),
          TEST(test_incremental_dispatch), TEST(test_incremental_software),
          TEST(test_hw_matches_sw), TEST(test_combine))
