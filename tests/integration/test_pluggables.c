/*
 * The Java client's pluggable parts: built-in serializers with their byte
 * layouts, user serializers, the round-robin and user partitioners, and
 * chained interceptors — checked against what librdkafka's consumer reads.
 */
#include "common.h"

static const rb_record_t *only(rb_record_t *recs, size_t n, int64_t offset, int32_t part) {
    for (size_t i = 0; i < n; i++)
        if (recs[i].offset == offset && recs[i].partition == part)
            return &recs[i];
    return NULL;
}

/* key.serializer / value.serializer built-ins: exact bytes */
static void test_builtin_serializers(void) {
    mockcluster_t *mc = mockcluster_start(1, "ser", 1);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    static const char *const kinds[][2] = {
        {"short", "org.apache.kafka.common.serialization.IntegerSerializer"},
        {"long", "float"},
        {"double", "uuid"},
    };
    int16_t s = -2;
    int32_t i32 = 0x01020304;
    int64_t i64 = -1234567890123LL;
    float f = 1.5f;
    double d = -0.25;
    uint8_t uuid[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                        0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
    const void *keys[] = {&s, &i64, &d};
    const void *values[] = {&i32, &f, uuid};
    static const uint8_t want_k[3][8] = {{0xff, 0xfe},
                                         {0xff, 0xff, 0xfe, 0xe0, 0x8e, 0x04, 0xfb, 0x35},
                                         {0xbf, 0xd0, 0, 0, 0, 0, 0, 0}};
    static const int klen[3] = {2, 8, 8};
    static const uint8_t want_v01[2][4] = {{1, 2, 3, 4}, {0x3f, 0xc0, 0, 0}};
    const char *want_uuid = "123e4567-e89b-12d3-a456-426614174000";
    for (int k = 0; k < 3; k++) {
        kp_producer_t *p = make_producer(boot, "key.serializer", kinds[k][0], "value.serializer",
                                         kinds[k][1], NULL);
        REQUIRE_NOT_NULL(p);
        kp_record_t r = {.topic = "ser", .partition = 0, .key = keys[k], .value = values[k]};
        kp_record_metadata_t md;
        CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        CHECK_EQ_INT(md.serialized_key_size, klen[k]);
        CHECK_EQ_INT(md.offset, k);
        kp_producer_destroy(p);
    }
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, "ser", 3, 20000, &recs, &n), RB_OK);
    REQUIRE_EQ_INT(n, 3);
    for (int k = 0; k < 3; k++) {
        const rb_record_t *r = only(recs, n, k, 0);
        REQUIRE_NOT_NULL(r);
        CHECK_EQ_MEM(r->key, r->key_len, want_k[k], (size_t)klen[k]);
        if (k < 2)
            CHECK_EQ_MEM(r->value, r->value_len, want_v01[k], 4);
        else
            CHECK_EQ_MEM(r->value, r->value_len, want_uuid, 36);
    }
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

/* a user serializer: uppercase, asks for a bigger buffer for long input,
 * fails on "bad" */
static int32_t upper(const char *topic, const void *data, int32_t len, uint8_t *buf,
                     int32_t size, void *opaque) {
    (void)topic;
    atomic_fetch_add((atomic_int *)opaque, 1);
    if (!data)
        return KP_SERIALIZE_NULL;
    if (len == 3 && !memcmp(data, "bad", 3))
        return -1;
    if (len > size)
        return len;
    for (int32_t i = 0; i < len; i++) {
        char c = ((const char *)data)[i];
        buf[i] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    return len;
}

static void test_user_serializer(void) {
    mockcluster_t *mc = mockcluster_start(1, "user", 1);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    char err[256];
    atomic_int calls = 0;
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err));
    kp_config_set_value_serializer(c, upper, &calls);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(p);
    char big[300];
    memset(big, 'q', sizeof(big));
    kp_record_t r = {.topic = "user", .partition = 0, .value = "hello", .value_len = 5};
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    r.value = big;
    r.value_len = sizeof(big); /* longer than the first buffer: called twice */
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    r.value = "bad";
    r.value_len = 3;
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_SERIALIZATION);
    r.value = NULL;
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    CHECK_EQ_INT(atomic_load(&calls), 5);
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, "user", 3, 20000, &recs, &n), RB_OK);
    REQUIRE_EQ_INT(n, 3);
    CHECK_EQ_MEM(recs[0].value, recs[0].value_len, "HELLO", 5);
    memset(big, 'Q', sizeof(big));
    CHECK_EQ_MEM(recs[1].value, recs[1].value_len, big, sizeof(big));
    CHECK(recs[2].value_null);
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

static void test_round_robin_partitioner(void) {
    mockcluster_t *mc = mockcluster_start(1, "rr", 3);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "partitioner.class",
                                     "org.apache.kafka.clients.producer.RoundRobinPartitioner",
                                     NULL);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 9; i++) {
        kp_record_t r = {.topic = "rr", .partition = KP_PARTITION_ANY, .key = "same-key",
                         .key_len = 8, .value = "v", .value_len = 1};
        kp_record_metadata_t md;
        CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        CHECK_EQ_INT(md.partition, i % 3); /* keys are ignored */
    }
    kp_producer_destroy(p);
    char err[256];
    kp_config_t *c = kp_config_new();
    CHECK_EQ_ERR(kp_config_set(c, "partitioner.class", "com.example.MyPartitioner", err,
                               sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK(strstr(err, "partitioner.class") && strstr(err, "kp_config_set_partitioner"));
    kp_config_destroy(c);
    mockcluster_destroy(mc);
}

static int32_t first_byte(const char *topic, const void *key, int32_t klen, const void *value,
                          int32_t vlen, int32_t count, void *opaque) {
    (void)topic, (void)value, (void)vlen, (void)opaque;
    if (!key || klen < 1)
        return -1; /* built-in placement */
    return ((const uint8_t *)key)[0] == 'X' ? count : ((const uint8_t *)key)[0] % count;
}

static void test_user_partitioner(void) {
    mockcluster_t *mc = mockcluster_start(1, "up", 4);
    REQUIRE_NOT_NULL(mc);
    char err[256];
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", mockcluster_bootstraps(mc), err, sizeof(err));
    kp_config_set_partitioner(c, first_byte, NULL);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(p);
    const char *keys[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        kp_record_t r = {.topic = "up", .partition = KP_PARTITION_ANY, .key = keys[i],
                         .key_len = 1, .value = "v", .value_len = 1};
        kp_record_metadata_t md;
        CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        CHECK_EQ_INT(md.partition, keys[i][0] % 4);
    }
    kp_record_t r = {.topic = "up", .partition = KP_PARTITION_ANY, .key = "X", .key_len = 1};
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_UNKNOWN_PARTITION);
    r.partition = 2; /* an explicit partition wins over the partitioner */
    kp_record_metadata_t md;
    CHECK_OK(kp_send_sync(p, &r, 10000, &md));
    CHECK_EQ_INT(md.partition, 2);
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

typedef struct ic_state {
    atomic_int sends, acks_ok, acks_err;
    char buf[64]; /* the replacement value; used within one kp_send at a time */
} ic_state_t;

static const kp_record_t *prefix_on_send(const kp_record_t *rec, kp_record_t *repl,
                                         void *opaque) {
    ic_state_t *s = opaque;
    atomic_fetch_add(&s->sends, 1);
    if (rec->value_len > 32)
        return rec; /* too long for our buffer: leave it */
    *repl = *rec;
    int n = snprintf(s->buf, sizeof(s->buf), "X:%.*s", rec->value_len, (const char *)rec->value);
    repl->value = s->buf;
    repl->value_len = n;
    return repl;
}

static const kp_record_t *count_on_send(const kp_record_t *rec, kp_record_t *repl,
                                        void *opaque) {
    (void)repl;
    ic_state_t *s = opaque;
    atomic_fetch_add(&s->sends, 1);
    /* runs after the first: sees its replacement */
    if (rec->value_len <= 32 && (rec->value_len < 2 || memcmp(rec->value, "X:", 2)))
        FAIL("second interceptor did not see the first one's record");
    return rec;
}

static void count_ack(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    ic_state_t *s = opaque;
    (void)md;
    atomic_fetch_add(err ? &s->acks_err : &s->acks_ok, 1);
}

static void test_interceptors(void) {
    mockcluster_t *mc = mockcluster_start(1, "ic", 1);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    char err[256];
    ic_state_t a = {0}, b = {0};
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err));
    kp_config_set(c, "max.request.size", "10000", err, sizeof(err));
    kp_interceptor_t i1 = {prefix_on_send, count_ack, &a}, i2 = {count_on_send, count_ack, &b};
    CHECK_OK(kp_config_add_interceptor(c, &i1));
    CHECK_OK(kp_config_add_interceptor(c, &i2));
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 10; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "v%d", i);
        kp_record_t r = {.topic = "ic", .partition = 0, .value = v, .value_len = n};
        CHECK_OK(kp_send(p, &r, NULL, NULL)); /* fire and forget: still acknowledged */
    }
    static char huge[20000];
    kp_record_t r = {.topic = "ic", .partition = 0, .value = huge, .value_len = sizeof(huge)};
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_RECORD_TOO_LARGE);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    CHECK_EQ_INT(atomic_load(&a.sends), 11);
    CHECK_EQ_INT(atomic_load(&b.sends), 11);
    CHECK_EQ_INT(atomic_load(&a.acks_ok), 10);
    CHECK_EQ_INT(atomic_load(&b.acks_ok), 10);
    CHECK_EQ_INT(atomic_load(&a.acks_err), 1);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, "ic", 10, 20000, &recs, &n), RB_OK);
    REQUIRE_EQ_INT(n, 10);
    for (size_t i = 0; i < n; i++) {
        char v[16];
        int len = snprintf(v, sizeof(v), "X:v%zu", i);
        CHECK_EQ_MEM(recs[i].value, recs[i].value_len, v, (size_t)len);
    }
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_builtin_serializers), TEST(test_user_serializer),
          TEST(test_round_robin_partitioner), TEST(test_user_partitioner),
          TEST(test_interceptors))
