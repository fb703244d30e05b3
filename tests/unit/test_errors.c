/*
 * test_errors — kp_err_name / kp_err_str / kp_err_is_retriable.
 *
 * Kafka names are those of org.apache.kafka.common.protocol.Errors; the
 * retriable column follows the Java exception hierarchy (RetriableException
 * and its InvalidMetadataException subclass), producer-anchors §5.4.
 */
#include "test.h"

#include "base/err.h"

/* The last local code: loops over "every local error" run 0 .. LAST_LOCAL. */
#define LAST_LOCAL KP_ERR_SSL_HANDSHAKE

typedef struct {
    int code;
    const char *name;
    int retriable;
} kerr_t;

/* producer-anchors §5.4 plus neighbours, names from Errors.java */
static const kerr_t kafka_errs[] = {
    {1, "OFFSET_OUT_OF_RANGE", 0},
    {2, "CORRUPT_MESSAGE", 1},
    {3, "UNKNOWN_TOPIC_OR_PARTITION", 1},
    {5, "LEADER_NOT_AVAILABLE", 1},
    {6, "NOT_LEADER_OR_FOLLOWER", 1},
    {7, "REQUEST_TIMED_OUT", 1},
    {8, "BROKER_NOT_AVAILABLE", 0},
    {9, "REPLICA_NOT_AVAILABLE", 1},
    {10, "MESSAGE_TOO_LARGE", 0},
    {13, "NETWORK_EXCEPTION", 1},
    {14, "COORDINATOR_LOAD_IN_PROGRESS", 1},
    {15, "COORDINATOR_NOT_AVAILABLE", 1},
    {16, "NOT_COORDINATOR", 1},
    {17, "INVALID_TOPIC_EXCEPTION", 0},
    {18, "RECORD_LIST_TOO_LARGE", 0},
    {19, "NOT_ENOUGH_REPLICAS", 1},
    {20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", 1},
    {21, "INVALID_REQUIRED_ACKS", 0},
    {29, "TOPIC_AUTHORIZATION_FAILED", 0},
    {31, "CLUSTER_AUTHORIZATION_FAILED", 0},
    {32, "INVALID_TIMESTAMP", 0},
    {35, "UNSUPPORTED_VERSION", 0},
    {42, "INVALID_REQUEST", 0},
    {43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", 0},
    {45, "OUT_OF_ORDER_SEQUENCE_NUMBER", 0},
    {47, "INVALID_PRODUCER_EPOCH", 0},
    {48, "INVALID_TXN_STATE", 0},
    {53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", 0},
    {56, "KAFKA_STORAGE_ERROR", 1},
    {59, "UNKNOWN_PRODUCER_ID", 0},
    {67, "INVALID_PRINCIPAL_TYPE", 0},
    {72, "LISTENER_NOT_FOUND", 1},
    {74, "FENCED_LEADER_EPOCH", 1},
    {75, "UNKNOWN_LEADER_EPOCH", 1},
    {76, "UNSUPPORTED_COMPRESSION_TYPE", 0},
    {87, "INVALID_RECORD", 0},
    {89, "THROTTLING_QUOTA_EXCEEDED", 1},
    {90, "PRODUCER_FENCED", 0},
    {100, "UNKNOWN_TOPIC_ID", 1},
    {103, "INCONSISTENT_TOPIC_ID", 1},
    {120, "TRANSACTION_ABORTABLE", 0},
};

#define NKAFKA (sizeof(kafka_errs) / sizeof(kafka_errs[0]))

static void test_named_examples(void)
{
    CHECK_EQ_STR(kp_err_name((kp_err_t)6), "NOT_LEADER_OR_FOLLOWER");
    CHECK(kp_err_is_retriable((kp_err_t)6));
    CHECK_EQ_STR(kp_err_name((kp_err_t)10), "MESSAGE_TOO_LARGE");
    CHECK(!kp_err_is_retriable((kp_err_t)10));
    CHECK_EQ_STR(kp_err_name((kp_err_t)45), "OUT_OF_ORDER_SEQUENCE_NUMBER");
    CHECK(!kp_err_is_retriable((kp_err_t)45));
    CHECK_EQ_STR(kp_err_name(KP_OK), kp_err_name((kp_err_t)0));
    CHECK(!kp_err_is_retriable(KP_OK));
}

static void test_kafka_names_and_retriable(void)
{
    for (size_t i = 0; i < NKAFKA; i++) {
        kp_err_t e = (kp_err_t)kafka_errs[i].code;
        const char *s = kp_err_str(e);

        if (!CHECK_EQ_STR(kp_err_name(e), kafka_errs[i].name))
            fprintf(stderr, "    code %d\n", kafka_errs[i].code);
        if (!CHECK_EQ_INT(!!kp_err_is_retriable(e), kafka_errs[i].retriable))
            fprintf(stderr, "    code %d %s\n", kafka_errs[i].code, kafka_errs[i].name);
        if (CHECK_NOT_NULL(s))
            CHECK_GT_INT(strlen(s), 0);
    }
}

static void test_unknown_codes(void)
{
    static const int codes[] = {9999, 32767, 121, 1000, -9999, -25, -1000000};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        kp_err_t e = (kp_err_t)codes[i];
        const char *n = kp_err_name(e), *s = kp_err_str(e);

        if (CHECK_NOT_NULL(n))
            CHECK_GT_INT(strlen(n), 0);
        if (CHECK_NOT_NULL(s))
            CHECK_GT_INT(strlen(s), 0);
        CHECK(!kp_err_is_retriable(e));
        /* an unknown code is never reported under a known error's name */
        for (size_t k = 0; k < NKAFKA; k++)
            CHECK(strcmp(n, kafka_errs[k].name) != 0);
        for (int l = KP_OK; l >= LAST_LOCAL; l--)
            CHECK(strcmp(n, kp_err_name((kp_err_t)l)) != 0);
    }
}

/* Every local error (0 .. LAST_LOCAL) has its own non-empty name and a
 * description; names are distinct from each other and from Kafka's. */
static void test_local_errors_distinct(void)
{
    for (int a = KP_OK; a >= LAST_LOCAL; a--) {
        const char *na = kp_err_name((kp_err_t)a), *sa = kp_err_str((kp_err_t)a);

        REQUIRE_NOT_NULL(na);
        REQUIRE_NOT_NULL(sa);
        CHECK_GT_INT(strlen(na), 0);
        CHECK_GT_INT(strlen(sa), 0);
        for (int b = a - 1; b >= LAST_LOCAL; b--)
            if (!CHECK(strcmp(na, kp_err_name((kp_err_t)b)) != 0))
                fprintf(stderr, "    %d and %d are both %s\n", a, b, na);
        for (size_t k = 0; k < NKAFKA; k++)
            CHECK(strcmp(na, kafka_errs[k].name) != 0);
    }
    /* the unknown-local fallback is not any local error's name */
    for (int a = KP_OK; a >= LAST_LOCAL; a--)
        CHECK(strcmp(kp_err_name((kp_err_t)a), kp_err_name((kp_err_t)-9999)) != 0);
}

/* Local errors the producer resolves itself are final; a lost connection
 * is retried (producer-anchors §5.4, last paragraph). */
static void test_local_retriable(void)
{
    CHECK(kp_err_is_retriable(KP_ERR_TRANSPORT));
    CHECK(!kp_err_is_retriable(KP_ERR_INVALID_ARG));
    CHECK(!kp_err_is_retriable(KP_ERR_INVALID_CONFIG));
    CHECK(!kp_err_is_retriable(KP_ERR_CLOSED));
    CHECK(!kp_err_is_retriable(KP_ERR_RECORD_TOO_LARGE));
    CHECK(!kp_err_is_retriable(KP_ERR_MSG_TIMED_OUT_QUEUE));
    CHECK(!kp_err_is_retriable(KP_ERR_MSG_TIMED_OUT_IN_FLIGHT));
    CHECK(!kp_err_is_retriable(KP_ERR_PURGED_CLOSE));
}

/* Every Kafka code the broker can send is distinct by name. */
static void test_kafka_names_distinct(void)
{
    for (int a = 1; a <= 130; a++) {
        const char *na = kp_err_name((kp_err_t)a);
        if (!strcmp(na, kp_err_name((kp_err_t)9999)))
            continue; /* not in the table */
        for (int b = a + 1; b <= 130; b++)
            if (!CHECK(strcmp(na, kp_err_name((kp_err_t)b)) != 0))
                fprintf(stderr, "    %d and %d are both %s\n", a, b, na);
    }
}

/* Issue 10, defect 8: a broker's UNKNOWN_SERVER_ERROR (-1) was reported as
 * kprod's own _UNKNOWN ("Unexpected internal error"). It has a local code
 * of its own, with Java's name and text, and is not retriable (Java's
 * UnknownServerException is not a RetriableException). */
static void test_unknown_server_error(void)
{
    kp_err_t e = kp_err_from_kafka(-1);

    CHECK_EQ_ERR(e, KP_ERR_UNKNOWN_SERVER_ERROR);
    CHECK(e != KP_ERR_UNKNOWN);
    CHECK_EQ_STR(kp_err_name(e), "UNKNOWN_SERVER_ERROR");
    CHECK_EQ_STR(kp_err_str(e),
                 "The server experienced an unexpected error when processing the request");
    CHECK(!kp_err_is_retriable(e));
    /* kprod's own -1 keeps its name */
    CHECK_EQ_STR(kp_err_name(KP_ERR_UNKNOWN), "_UNKNOWN");

    /* no wire value lands on another local code: other negatives (Kafka has
     * none) are as unexpected; 0 and positives pass through unchanged */
    for (int c = INT16_MIN; c < 0; c++)
        if (!CHECK_EQ_ERR(kp_err_from_kafka((int16_t)c), KP_ERR_UNKNOWN_SERVER_ERROR))
            break;
    for (int c = 0; c <= INT16_MAX; c++)
        if (!CHECK_EQ_INT(kp_err_from_kafka((int16_t)c), c))
            break;

    /* a Kafka code not in the table is not called UNKNOWN_SERVER_ERROR:
     * that name is one specific code now */
    CHECK(strcmp(kp_err_name((kp_err_t)9999), "UNKNOWN_SERVER_ERROR") != 0);
    CHECK(strcmp(kp_err_name((kp_err_t)-9999), "UNKNOWN_SERVER_ERROR") != 0);
}

TEST_MAIN(TEST(test_named_examples), TEST(test_kafka_names_and_retriable),
          TEST(test_unknown_codes), TEST(test_local_errors_distinct), TEST(test_local_retriable),
          TEST(test_kafka_names_distinct), TEST(test_unknown_server_error))
