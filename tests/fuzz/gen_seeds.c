/*
 * gen_seeds — writes the hand-made seed inputs of the fuzz targets:
 * well-formed responses of every version each decoder takes (encoded with
 * buf.h's writers, field by field as the kafka-protocol message schemas
 * list them, the way tests/unit/test_protocol.c builds its responses),
 * with their tagged fields (ApiVersions features, KIP-951's CurrentLeader
 * and NodeEndpoints, unknown tags), the replies a v3 ApiVersions request
 * can get (UNSUPPORTED_VERSION in v0 form; librdkafka 2.15's malformed
 * one), RecordBatches made by record_batch.h's encoder (plain and
 * compressed with each codec built in), compressed streams, .properties
 * files, kprod-console input lines, and SASL's inputs (SaslHandshake and
 * SaslAuthenticate answers, SCRAM server messages from RFC 5802/7677,
 * sasl.jaas.config texts, OAUTHBEARER error statuses), and the answers of
 * the transactional APIs (FindCoordinator, AddPartitionsToTxn,
 * AddOffsetsToTxn, TxnOffsetCommit, EndTxn) at every version.
 *
 *   gen_seeds <dir>    writes <dir>/<target>/seed-<name> for every target,
 *                      and <dir>/<target>.dict (libFuzzer dictionaries) for
 *                      the text parsers
 *
 * `make fuzz` runs it into its build directory and gives the result to
 * each fuzzer beside the saved corpus; the merge keeps what adds coverage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "record/compress.h"
#include "conf/config.h"
#include "proto/protocol.h"
#include "proto/txn.h"
#include "record/record_batch.h"
#ifdef KPROD_WITH_SNAPPY
#include <snappy-c.h>
#endif

static const char *root;
static int failed;

static void put_file(const char *target, const char *name, const uint8_t *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        failed = 1;
        return;
    }
    snprintf(path, sizeof(path), "%s/%s/seed-%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        failed = 1;
    }
}

/* A seed: a selector byte then w's bytes. */
static void put_sel(const char *target, const char *name, uint8_t sel, kp_wbuf_t *w) {
    uint8_t *p = malloc(w->len + 1);
    if (!p || w->err) {
        failed = 1;
        free(p);
        return;
    }
    p[0] = sel;
    memcpy(p + 1, w->p, w->len);
    put_file(target, name, p, w->len + 1);
    free(p);
}

/* Response header (correlation id 7; v1 tags for flexible versions). */
static void resp_begin(kp_wbuf_t *w, int16_t api, int16_t ver) {
    kp_wbuf_init(w, 256);
    w->flex = 0;
    kp_w_i32(w, 7);
    int flex = kp_proto_is_flexible(api, ver);
    if (flex && api != KP_API_API_VERSIONS)
        kp_w_uvarint(w, 0);
    w->flex = flex;
}

/* One tagged field: tag, size, then the bytes of val. */
static void put_tag(kp_wbuf_t *w, uint64_t tag, const kp_wbuf_t *val) {
    kp_w_uvarint(w, tag);
    kp_w_uvarint(w, val->len);
    kp_w_bytes_raw(w, val->p, val->len);
    if (val->err)
        w->err = 1;
}

static void seeds_resp_header(void) {
    static const int16_t apis[] = {KP_API_PRODUCE, KP_API_METADATA, KP_API_API_VERSIONS,
                                   KP_API_INIT_PRODUCER_ID};
    for (int a = 0; a < 4; a++)
        for (int16_t ver = 0; ver <= 12; ver += 3) {
            kp_wbuf_t w;
            resp_begin(&w, apis[a], ver);
            uint8_t *p = malloc(w.len + 2);
            if (!p) {
                failed = 1;
                kp_wbuf_free(&w);
                return;
            }
            p[0] = (uint8_t)a;
            p[1] = (uint8_t)ver;
            memcpy(p + 2, w.p, w.len);
            char name[32];
            snprintf(name, sizeof(name), "api%d-v%d", apis[a], ver);
            put_file("fuzz_resp_header", name, p, w.len + 2);
            free(p);
            kp_wbuf_free(&w);
        }
}

static void seeds_apiversions(void) {
    static const int16_t offered[][3] = {{0, 3, 11}, {3, 1, 12}, {18, 0, 4}, {22, 0, 5}};
    for (int16_t ver = 0; ver <= 4; ver++) {
        kp_wbuf_t w;
        resp_begin(&w, KP_API_API_VERSIONS, ver);
        kp_w_i16(&w, 0);
        kp_w_arraylen(&w, 4);
        for (int i = 0; i < 4; i++) {
            kp_w_i16(&w, offered[i][0]);
            kp_w_i16(&w, offered[i][1]);
            kp_w_i16(&w, offered[i][2]);
            kp_w_tags(&w);
        }
        if (ver >= 1)
            kp_w_i32(&w, 0); /* throttle */
        kp_w_tags(&w);
        char name[16];
        snprintf(name, sizeof(name), "v%d", ver);
        put_sel("fuzz_apiversions", name, (uint8_t)ver, &w);
        kp_wbuf_free(&w);
    }
    /* v3/v4 as Kafka 4 answers: SupportedFeatures (tag 0),
     * FinalizedFeaturesEpoch (1), FinalizedFeatures (2), ZkMigrationReady (3) */
    for (int16_t ver = 3; ver <= 4; ver++) {
        kp_wbuf_t w, v;
        resp_begin(&w, KP_API_API_VERSIONS, ver);
        kp_w_i16(&w, 0);
        kp_w_arraylen(&w, 4);
        for (int i = 0; i < 4; i++) {
            kp_w_i16(&w, offered[i][0]);
            kp_w_i16(&w, offered[i][1]);
            kp_w_i16(&w, offered[i][2]);
            kp_w_tags(&w);
        }
        kp_w_i32(&w, 0);
        kp_w_uvarint(&w, 4);
        kp_wbuf_init(&v, 64);
        v.flex = 1;
        kp_w_arraylen(&v, 1);
        kp_w_str(&v, "metadata.version"), kp_w_i16(&v, 1), kp_w_i16(&v, 25), kp_w_tags(&v);
        put_tag(&w, 0, &v);
        v.len = 0;
        kp_w_i64(&v, 42);
        put_tag(&w, 1, &v);
        v.len = 0;
        kp_w_arraylen(&v, 2);
        kp_w_str(&v, "metadata.version"), kp_w_i16(&v, 25), kp_w_i16(&v, 25), kp_w_tags(&v);
        kp_w_str(&v, "transaction.version"), kp_w_i16(&v, 2), kp_w_i16(&v, 0), kp_w_tags(&v);
        put_tag(&w, 2, &v);
        v.len = 0;
        kp_w_i8(&v, 0);
        put_tag(&w, 3, &v);
        kp_wbuf_free(&v);
        char name[32];
        snprintf(name, sizeof(name), "v%d-features", ver);
        put_sel("fuzz_apiversions", name, (uint8_t)ver, &w);
        kp_wbuf_free(&w);
    }
    /* UNSUPPORTED_VERSION (35) to a v2, a v3 and a v4 request, answered in
     * v0 form (Kafka 2.4+: only the ApiVersions entry) */
    for (int16_t ver = 2; ver <= 4; ver++) {
        kp_wbuf_t w;
        resp_begin(&w, KP_API_API_VERSIONS, 0);
        kp_w_i16(&w, 35);
        kp_w_arraylen(&w, 1);
        kp_w_i16(&w, 18), kp_w_i16(&w, 0), kp_w_i16(&w, 2);
        char name[32];
        snprintf(name, sizeof(name), "unsupported-v%d", ver);
        put_sel("fuzz_apiversions", name, (uint8_t)ver, &w);
        kp_wbuf_free(&w);
    }
    /* the same in the asked (flexible) form */
    {
        kp_wbuf_t w;
        resp_begin(&w, KP_API_API_VERSIONS, 3);
        kp_w_i16(&w, 35);
        kp_w_arraylen(&w, 1);
        kp_w_i16(&w, 18), kp_w_i16(&w, 0), kp_w_i16(&w, 2), kp_w_tags(&w);
        kp_w_i32(&w, 0);
        kp_w_tags(&w);
        put_sel("fuzz_apiversions", "unsupported-v3-flexible", 3, &w);
        kp_wbuf_free(&w);
    }
    /* librdkafka 2.15.1's mock to a v3 request: a one-byte count, an entry
     * without tags, a throttle (malformed) */
    {
        static const uint8_t mock[] = {3,    0x00, 0x00, 0x00, 0x07, 0x00, 0x23, 0x01, 0x00,
                                       0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00};
        put_file("fuzz_apiversions", "mock-2.15-v3", mock, sizeof(mock));
    }
}

static void int32_array(kp_wbuf_t *w, int n, int32_t first) {
    kp_w_arraylen(w, n);
    for (int i = 0; i < n; i++)
        kp_w_i32(w, first + i);
}

static void seeds_metadata(void) {
    for (int16_t ver = 0; ver <= 12; ver++) {
        kp_wbuf_t w;
        resp_begin(&w, KP_API_METADATA, ver);
        if (ver >= 3)
            kp_w_i32(&w, 0); /* throttle */
        kp_w_arraylen(&w, 2);
        for (int b = 0; b < 2; b++) {
            kp_w_i32(&w, b + 1);
            kp_w_str(&w, b ? "broker-2.example" : "localhost");
            kp_w_i32(&w, 9092 + b);
            if (ver >= 1)
                kp_w_str(&w, b ? "rack-b" : NULL);
            kp_w_tags(&w);
        }
        if (ver >= 2)
            kp_w_str(&w, "cluster-id-xyz");
        if (ver >= 1)
            kp_w_i32(&w, 1); /* controller */
        kp_w_arraylen(&w, 2);
        for (int t = 0; t < 2; t++) {
            kp_w_i16(&w, t ? 3 : 0); /* UNKNOWN_TOPIC_OR_PARTITION for the second */
            /* v12+: the second asked for by id, so no name */
            kp_w_str(&w, t ? (ver >= 12 ? NULL : "missing") : "orders");
            if (ver >= 10)
                kp_w_bytes_raw(&w, "0123456789abcdef", 16); /* TopicId */
            if (ver >= 1)
                kp_w_i8(&w, 0); /* IsInternal */
            int np = t ? 0 : 3;
            kp_w_arraylen(&w, np);
            for (int p = 0; p < np; p++) {
                kp_w_i16(&w, p == 2 ? 5 : 0); /* LEADER_NOT_AVAILABLE */
                kp_w_i32(&w, p);
                kp_w_i32(&w, p == 2 ? -1 : p % 2 + 1);
                if (ver >= 7)
                    kp_w_i32(&w, 4); /* LeaderEpoch */
                int32_array(&w, 2, 1);
                int32_array(&w, 1, 1);
                if (ver >= 5)
                    int32_array(&w, p == 1 ? 1 : 0, 2);
                if (ver >= 9 && p == 1) { /* a tagged field nobody knows */
                    kp_w_uvarint(&w, 1);
                    kp_w_uvarint(&w, 7), kp_w_uvarint(&w, 2), kp_w_i16(&w, 0x55);
                } else {
                    kp_w_tags(&w);
                }
            }
            if (ver >= 8)
                kp_w_i32(&w, INT32_MIN); /* TopicAuthorizedOperations */
            kp_w_tags(&w);
        }
        if (ver >= 8 && ver <= 10)
            kp_w_i32(&w, INT32_MIN); /* ClusterAuthorizedOperations */
        kp_w_tags(&w);
        char name[16];
        snprintf(name, sizeof(name), "v%d", ver);
        put_sel("fuzz_metadata", name, (uint8_t)ver, &w);
        kp_wbuf_free(&w);
    }
}

static void seeds_produce(void) {
    for (int16_t ver = 0; ver <= 13; ver++) {
        kp_wbuf_t w, v;
        kp_wbuf_init(&v, 64);
        v.flex = 1;
        resp_begin(&w, KP_API_PRODUCE, ver);
        kp_w_arraylen(&w, 1);
        kp_w_str(&w, "orders");
        kp_w_arraylen(&w, 3);
        for (int p = 0; p < 3; p++) {
            /* 0 written; 3 INVALID_RECORD (KIP-467); 6 NOT_LEADER_OR_FOLLOWER
             * with the new leader (KIP-951) */
            kp_w_i32(&w, p * 3);
            kp_w_i16(&w, p == 1 ? 87 : p == 2 ? 6 : 0);
            kp_w_i64(&w, p ? -1 : 100);
            if (ver >= 2)
                kp_w_i64(&w, p == 1 ? 1700000000000LL : -1); /* LogAppendTime */
            if (ver >= 5)
                kp_w_i64(&w, p ? -1 : 10); /* LogStartOffset */
            if (ver >= 8) {
                kp_w_arraylen(&w, p == 1 ? 2 : 0); /* RecordErrors */
                for (int e = 0; e < (p == 1 ? 2 : 0); e++) {
                    kp_w_i32(&w, e);
                    kp_w_str(&w, e ? NULL : "bad record");
                    kp_w_tags(&w);
                }
                kp_w_str(&w, p == 1 ? "oops" : NULL); /* ErrorMessage */
            }
            if (ver >= 9 && p == 2) { /* CurrentLeader (tag 0, v10+) */
                kp_w_uvarint(&w, 1);
                v.len = 0;
                kp_w_i32(&v, 2), kp_w_i32(&v, 7), kp_w_tags(&v);
                put_tag(&w, 0, &v);
            } else {
                kp_w_tags(&w);
            }
        }
        kp_w_tags(&w);
        if (ver >= 1)
            kp_w_i32(&w, 5); /* throttle */
        if (ver >= 9) { /* NodeEndpoints (tag 0, v10+) */
            kp_w_uvarint(&w, 1);
            v.len = 0;
            kp_w_arraylen(&v, 2);
            kp_w_i32(&v, 2), kp_w_str(&v, "broker-2"), kp_w_i32(&v, 9093), kp_w_str(&v, "rack-b"),
                kp_w_tags(&v);
            kp_w_i32(&v, 3), kp_w_str(&v, "b3"), kp_w_i32(&v, 9094), kp_w_str(&v, NULL),
                kp_w_tags(&v);
            put_tag(&w, 0, &v);
        } else {
            kp_w_tags(&w);
        }
        kp_wbuf_free(&v);
        char name[16];
        snprintf(name, sizeof(name), "v%d", ver);
        put_sel("fuzz_produce_resp", name, (uint8_t)ver, &w);
        kp_wbuf_free(&w);
    }
}

static void seeds_initpid(void) {
    for (int16_t ver = 0; ver <= 5; ver++) {
        kp_wbuf_t w;
        resp_begin(&w, KP_API_INIT_PRODUCER_ID, ver);
        kp_w_i32(&w, 0);
        kp_w_i16(&w, 0);
        kp_w_i64(&w, 4000);
        kp_w_i16(&w, 2);
        kp_w_tags(&w);
        char name[16];
        snprintf(name, sizeof(name), "v%d", ver);
        put_sel("fuzz_initpid", name, (uint8_t)ver, &w);
        kp_wbuf_free(&w);
    }
}

/* ---- transactional APIs (fuzz_txn) ------------------------------------------- */

/* fuzz_txn's selector and version bytes, then w's bytes. */
static void put_txn(const char *name, uint8_t sel, int16_t ver, kp_wbuf_t *w) {
    uint8_t *p = malloc(w->len + 2);
    if (!p || w->err) {
        failed = 1;
        free(p);
        return;
    }
    p[0] = sel;
    p[1] = (uint8_t)ver;
    memcpy(p + 2, w->p, w->len);
    put_file("fuzz_txn", name, p, w->len + 2);
    free(p);
}

/* Topics[] {Name, Partitions[] {PartitionIndex, ErrorCode}} */
static void txn_results(kp_wbuf_t *w) {
    kp_w_arraylen(w, 2);
    kp_w_str(w, "orders");
    kp_w_arraylen(w, 2);
    for (int p = 0; p < 2; p++) {
        kp_w_i32(w, p);
        kp_w_i16(w, p ? 51 : 0); /* CONCURRENT_TRANSACTIONS */
        kp_w_tags(w);
    }
    kp_w_tags(w);
    kp_w_str(w, "audit");
    kp_w_arraylen(w, 1);
    kp_w_i32(w, 3);
    kp_w_i16(w, 0);
    kp_w_tags(w);
    kp_w_tags(w);
}

static void seeds_txn(void) {
    /* fuzz_txn's selectors: the order of its apis[] */
    static const int16_t apis[] = {KP_API_FIND_COORDINATOR, KP_API_ADD_PARTITIONS_TO_TXN,
                                   KP_API_ADD_OFFSETS_TO_TXN, KP_API_TXN_OFFSET_COMMIT,
                                   KP_API_END_TXN};
    for (uint8_t sel = 0; sel < 5; sel++) {
        int16_t api = apis[sel];
        for (int16_t ver = 0; ver <= kp_proto_codec_max(api); ver++) {
            kp_wbuf_t w;
            resp_begin(&w, api, ver);
            switch (api) {
            case KP_API_FIND_COORDINATOR:
                if (ver >= 1)
                    kp_w_i32(&w, 0); /* ThrottleTimeMs */
                if (ver >= 4) {
                    kp_w_arraylen(&w, 1);
                    kp_w_str(&w, "my-txn");
                    kp_w_i32(&w, 2);
                    kp_w_str(&w, "broker-2");
                    kp_w_i32(&w, 9092);
                    kp_w_i16(&w, 0);
                    kp_w_str(&w, NULL);
                    kp_w_tags(&w);
                } else {
                    kp_w_i16(&w, 0);
                    if (ver >= 1)
                        kp_w_str(&w, "none");
                    kp_w_i32(&w, 2);
                    kp_w_str(&w, "broker-2");
                    kp_w_i32(&w, 9092);
                }
                break;
            case KP_API_ADD_PARTITIONS_TO_TXN:
            case KP_API_TXN_OFFSET_COMMIT:
                kp_w_i32(&w, 0);
                txn_results(&w);
                break;
            case KP_API_ADD_OFFSETS_TO_TXN:
                kp_w_i32(&w, 0);
                kp_w_i16(&w, 90); /* PRODUCER_FENCED */
                break;
            case KP_API_END_TXN:
                kp_w_i32(&w, 0);
                kp_w_i16(&w, 0);
                if (ver >= 5) {
                    kp_w_i64(&w, 4000);
                    kp_w_i16(&w, 3);
                }
                break;
            }
            kp_w_tags(&w);
            char name[32];
            snprintf(name, sizeof(name), "api%d-v%d", api, ver);
            put_txn(name, sel, ver, &w);
            kp_wbuf_free(&w);
        }
    }
}

/* ---- record batches --------------------------------------------------------- */

/* Records: null key, empty value, headers (one with a null value). */
static size_t write_records(uint8_t *dst) {
    static const kp_header_t hdrs[] = {
        {"trace", "abc", 3},
        {"nul", NULL, 0},
        {"e", "", 0},
    };
    static const int32_t hklens[] = {5, 3, 1};
    size_t n = 0;
    n += kp_rb_write_record(dst + n, 0, 0, "k0", 2, "v0", 2, NULL, 0, NULL);
    n += kp_rb_write_record(dst + n, 5, 1, NULL, -1, "hello", 5, NULL, 0, NULL);
    n += kp_rb_write_record(dst + n, 130, 2, "key2", 4, "", 0, hdrs, 3, hklens);
    return n;
}

static size_t records_size(void) {
    static const kp_header_t hdrs[] = {
        {"trace", "abc", 3},
        {"nul", NULL, 0},
        {"e", "", 0},
    };
    static const int32_t hklens[] = {5, 3, 1};
    return kp_rb_record_size(0, 0, 2, 2, NULL, 0, NULL) +
           kp_rb_record_size(5, 1, -1, 5, NULL, 0, NULL) +
           kp_rb_record_size(130, 2, 4, 0, hdrs, 3, hklens);
}

static void put_batch(const char *name, uint8_t flags, const uint8_t *b, size_t n) {
    kp_wbuf_t w;
    kp_wbuf_init(&w, n);
    kp_w_bytes_raw(&w, b, n);
    put_sel("fuzz_record_batch", name, flags, &w);
    kp_wbuf_free(&w);
}

static void seeds_record_batch(void) {
    size_t rl = records_size();
    size_t len = KP_RB_HEADER_SIZE + rl;
    uint8_t *b = calloc(1, len);
    if (!b) {
        failed = 1;
        return;
    }
    size_t wrote = write_records(b + KP_RB_HEADER_SIZE);
    if (wrote != rl) {
        fprintf(stderr, "record sizes disagree: %zu vs %zu\n", wrote, rl);
        failed = 1;
    }
    kp_rb_header_t h = {0, 3, 1700000000000LL, 1700000000130LL, 4000, 2, 17};
    kp_rb_finalize(b, len, &h);
    put_batch("plain", 0, b, len);
    put_batch("plain-fixup", 3, b, len);
    /* the same records compressed with every codec built in */
    for (int codec = KP_CODEC_GZIP; codec < KP_CODEC_COUNT; codec++) {
        if (!kp_codec_available(codec))
            continue;
        kp_compressor_t *c = kp_compressor_new(codec, KP_CODEC_LEVEL_DEFAULT);
        kp_wbuf_t w;
        kp_wbuf_init(&w, 256);
        kp_wbuf_reserve(&w, KP_RB_HEADER_SIZE);
        if (!c || kp_compress(c, b + KP_RB_HEADER_SIZE, rl, &w) != 0 || w.err) {
            failed = 1;
        } else {
            memset(w.p, 0, KP_RB_HEADER_SIZE);
            kp_rb_header_t ch = h;
            ch.attributes = (int16_t)codec;
            kp_rb_finalize(w.p, w.len, &ch);
            put_batch(kp_codec_name(codec), 0, w.p, w.len);
        }
        kp_wbuf_free(&w);
        kp_compressor_free(c);
    }
    free(b);
}

/* ---- compressed streams -------------------------------------------------------- */

static void seeds_decompress(void) {
    static const char text[] =
        "kprod kprod kprod: a Kafka producer. aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
        "0123456789 0123456789 0123456789 0123456789";
    /* selector: codec in the low bits, limit 16 << 12 = 64 KiB */
    for (int codec = KP_CODEC_NONE; codec < KP_CODEC_COUNT; codec++) {
        if (!kp_codec_available(codec))
            continue;
        kp_compressor_t *c = kp_compressor_new(codec, KP_CODEC_LEVEL_DEFAULT);
        kp_wbuf_t w;
        kp_wbuf_init(&w, 256);
        if (!c || kp_compress(c, (const uint8_t *)text, sizeof(text) - 1, &w) != 0) {
            failed = 1;
        } else {
            put_sel("fuzz_decompress", kp_codec_name(codec), (uint8_t)(codec | 12 << 3), &w);
            /* gzip: two members in a row */
            if (codec == KP_CODEC_GZIP) {
                size_t one = w.len;
                kp_w_bytes_raw(&w, w.p, one);
                put_sel("fuzz_decompress", "gzip-2members", (uint8_t)(codec | 12 << 3), &w);
            }
        }
        kp_wbuf_free(&w);
        kp_compressor_free(c);
    }
#ifdef KPROD_WITH_SNAPPY
    /* raw snappy, as librdkafka writes it */
    size_t cap = snappy_max_compressed_length(sizeof(text) - 1);
    kp_wbuf_t w;
    kp_wbuf_init(&w, cap);
    if (kp_wbuf_reserve(&w, cap) &&
        snappy_compress(text, sizeof(text) - 1, (char *)w.p, &cap) == SNAPPY_OK) {
        w.len = cap;
        put_sel("fuzz_decompress", "snappy-raw", (uint8_t)(KP_CODEC_SNAPPY | 12 << 3), &w);
    } else {
        failed = 1;
    }
    kp_wbuf_free(&w);
#endif
}

/* ---- .properties ------------------------------------------------------------- */

static void put_text(const char *target, const char *name, const char *text) {
    put_file(target, name, (const uint8_t *)text, strlen(text));
}

/* A libFuzzer dictionary entry: "..." with \xNN for anything unusual. */
static void dict_entry(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputs("\"\n", f);
}

static void seeds_properties(void) {
    put_text("fuzz_properties", "typical",
             "# producer settings\n"
             "bootstrap.servers=localhost:9092,broker-2:9093\n"
             "acks=all\n"
             "linger.ms=5\n"
             "compression.type=lz4\n"
             "enable.idempotence=true\n"
             "client.id=orders-app\n");
    put_text("fuzz_properties", "java-syntax",
             "! comment with '!'\r\n"
             "   # indented comment\n"
             "client.id : spaced\\\n"
             "    continued\n"
             "linger.ms 10\n"
             "batch.size\t=\f16384\r"
             "client\\.id=esc\\u0041\\t\\n\\=x\n"
             "client.id=\\uD83D\\uDE00 smile\n"
             "retries=\\\n"
             "   3\n"
             "max.block.ms=1000\\\r\n"
             "  000\n");
    put_text("fuzz_properties", "bad-value", "acks=2\n");
    put_text("fuzz_properties", "bad-escape", "client.id=a\\uZZ\n");
    put_text("fuzz_properties", "unknown", "no.such.property=1\n");

    /* every property at its default, and the dictionary of names */
    char path[4096];
    snprintf(path, sizeof(path), "%s/fuzz_properties.dict", root);
    FILE *dict = fopen(path, "w");
    if (!dict) {
        perror(path);
        failed = 1;
        return;
    }
    kp_wbuf_t w;
    kp_wbuf_init(&w, 4096);
    kp_prop_info_t info;
    for (size_t i = 0; kp_config_prop(i, &info) == 0; i++) {
        if (info.missing)
            continue;
        kp_w_bytes_raw(&w, info.name, strlen(info.name));
        kp_w_bytes_raw(&w, "=", 1);
        if (info.deflt)
            kp_w_bytes_raw(&w, info.deflt, strlen(info.deflt));
        kp_w_bytes_raw(&w, "\n", 1);
        dict_entry(dict, info.name);
        if (info.deflt && *info.deflt)
            dict_entry(dict, info.deflt);
    }
    static const char *const tokens[] = {"\\u", "\\uD83D\\uDE00", "\\\n", "\\\r\n",
                                         "\\t",  "true",             "false",  "all",
                                         "-1",   "2147483647",       "none",   "zstd"};
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        dict_entry(dict, tokens[i]);
    if (fclose(dict) != 0)
        failed = 1;
    if (w.err)
        failed = 1;
    else
        put_file("fuzz_properties", "all-defaults", w.p, w.len);
    kp_wbuf_free(&w);
}

/* ---- kprod-console lines ------------------------------------------------------ */

/* A seed: the option byte, option fields (see fuzz_console_parse.c), lines. */
static void put_console(const char *name, uint8_t flags, const char *opts, size_t optlen,
                        const char *lines) {
    kp_wbuf_t w;
    kp_wbuf_init(&w, 256);
    kp_w_bytes_raw(&w, opts, optlen);
    kp_w_bytes_raw(&w, lines, strlen(lines));
    put_sel("fuzz_console_parse", name, flags, &w);
    kp_wbuf_free(&w);
}

static void seeds_console(void) {
    /* flags: 1 parse.key, 2 parse.headers, 4 ignore.error, 8 null.marker,
     * 16 separators, (i << 5) headers.separator number i */
    put_console("values", 0, "", 0, "hello\nworld\r\n\nlast");
    put_console("keys", 1, "", 0, "k1\tv1\nk2\tv2 with\ttab\nno key here");
    put_console("headers-keys", 3, "", 0,
                "h1:v1,h2:v2\tkey\tvalue\nh:\tk\tv\n\tk\tv\nbad-pair\tk\tv");
    put_console("ignore-error", 7, "", 0, "no separators at all\nh1\tonly-key");
    put_console("null-marker", 8 | 3, "\004NULL", 5,
                "NULL\tNULL\tNULL\nh:NULL\tk\tNULL\nNULL:x\tk\tv");
    put_console("custom-seps", 16 | 3, "\001=\002||\001~", 7,
                "a~1,b~2||key=value\nx~||k=v=w");
    put_console("regex-pipe", 3 | (2 << 5), "", 0, "a:1|b:2|c:3\tk\tv");
    put_console("regex-spaces", 3 | (4 << 5), "", 0, "a:1, b:2,   c:3,\tk\tv");
    put_console("regex-empty", 2 | (5 << 5), "", 0, "ab:1x:2\tv");
}

/* ---- SASL ---------------------------------------------------------------------- */

/* fuzz_sasl's selector byte, then a version byte when ver >= 0, then text. */
static void put_sasl(const char *name, uint8_t sel, int ver, const void *p, size_t n) {
    uint8_t *b = malloc(n + 2);
    if (!b) {
        failed = 1;
        return;
    }
    size_t k = 0;
    b[k++] = sel;
    if (ver >= 0)
        b[k++] = (uint8_t)ver;
    memcpy(b + k, p, n);
    put_file("fuzz_sasl", name, b, n + k);
    free(b);
}

static void seeds_sasl(void) {
    static const char *const mechs[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"};
    for (int16_t ver = 0; ver <= 1; ver++)
        for (int e = 0; e <= 1; e++) {
            kp_wbuf_t w;
            resp_begin(&w, KP_API_SASL_HANDSHAKE, ver);
            kp_w_i16(&w, e ? 33 : 0);
            kp_w_arraylen(&w, e ? 2 : 4);
            for (int i = 0; i < (e ? 2 : 4); i++)
                kp_w_str(&w, mechs[i]);
            char name[32];
            snprintf(name, sizeof(name), "handshake-v%d-%s", ver, e ? "unsupported" : "ok");
            if (!w.err)
                put_sasl(name, 0, ver, w.p, w.len);
            kp_wbuf_free(&w);
        }
    for (int16_t ver = 0; ver <= 2; ver++)
        for (int e = 0; e <= 1; e++) {
            kp_wbuf_t w;
            resp_begin(&w, KP_API_SASL_AUTHENTICATE, ver);
            kp_w_i16(&w, e ? 58 : 0);
            kp_w_str(&w, e ? "Authentication failed: Invalid username or password" : NULL);
            const char *auth = e ? "" : "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
            kp_w_byteslen_sz(&w, strlen(auth));
            kp_w_bytes_raw(&w, auth, strlen(auth));
            if (ver >= 1)
                kp_w_i64(&w, e ? 0 : 3600000);
            kp_w_tags(&w);
            char name[32];
            snprintf(name, sizeof(name), "authenticate-v%d-%s", ver, e ? "failed" : "ok");
            if (!w.err)
                put_sasl(name, 1, ver, w.p, w.len);
            kp_wbuf_free(&w);
        }
    static const struct {
        const char *name;
        uint8_t sel;
        const char *text;
    } texts[] = {
        {"first-rfc7677", 2,
         "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
        {"first-rfc5802", 2, "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"},
        {"first-ext", 2, "r=abc,s=c2FsdA==,i=16384,foo=bar,x=y z"},
        {"first-mext", 2, "m=ext,r=abc,s=c2FsdA==,i=4096"},
        {"first-error", 2, "e=unknown-user"},
        {"first-low", 2, "r=abc,s=c2FsdA==,i=1024"},
        {"final-rfc7677", 3, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
        {"final-sha512", 3,
         "v=W2IgQBNPOaPDpo2LkcNaKCBBLs4J98JSEPHHjspalOTWr1DUhZtrGrH3USxPnXQCXpSGeFoxAV23kJMQS6x1eA=="},
        {"final-error", 3, "e=invalid-proof,x=1"},
        {"jaas-plain", 4,
         "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" "
         "password=\"alice-secret\";"},
        {"jaas-scram", 4,
         "org.apache.kafka.common.security.scram.ScramLoginModule Required\n"
         "  username='tok\\'en' /* id */ password=\"h\\\\m\\101c\" // hmac\n"
         "  tokenauth=true;"},
        {"jaas-unsecured", 4,
         "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
         "unsecuredLoginStringClaim_sub=\"thePrincipalName\" "
         "unsecuredLoginListClaim_scope=\"|scope1|scope2\" unsecuredLoginLifetimeSeconds=\"60\" "
         "unsecuredLoginNumberClaim_n=\"-4.5e3\" unsecuredLoginPrincipalClaimName=sub "
         "unsecuredLoginExtension_traceId=\"123\";"},
        {"jaas-oidc", 4,
         "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
         "clientId='my-client' clientSecret='s3cr3t' scope='kafka' "
         "extension_logicalCluster='lkc-abc123' extension_identityPoolId='pool-xyz';"},
        {"server-plain", 5, "\x00"},
        {"server-oauth-status", 5, "\x01{\"status\":\"invalid_token\",\"scope\":\"kafka\"}"},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        put_sasl(texts[i].name, texts[i].sel, -1, texts[i].text,
                 texts[i].sel == 5 ? 1 + strlen(texts[i].text + 1) : strlen(texts[i].text));

    char path[4096];
    snprintf(path, sizeof(path), "%s/fuzz_sasl.dict", root);
    FILE *dict = fopen(path, "w");
    if (!dict) {
        perror(path);
        failed = 1;
        return;
    }
    static const char *const tokens[] = {
        "r=", ",s=", ",i=", "v=", "e=", "m=", ",i=4096", "=2C", "=3D", "==", "required",
        "requisite", "sufficient", "optional", "/*", "*/", "//", "\\\"", "\\'", "\\\\", "\\101",
        "PlainLoginModule", "ScramLoginModule", "OAuthBearerLoginModule", "username=", "password=",
        "tokenauth=true", "unsecuredLoginStringClaim_sub=", "unsecuredLoginListClaim_",
        "unsecuredLoginNumberClaim_", "unsecuredLoginLifetimeSeconds=",
        "unsecuredLoginPrincipalClaimName=", "unsecuredLoginExtension_", "extension_",
        "clientSecret=", "iat", "exp"};
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        dict_entry(dict, tokens[i]);
    if (fclose(dict) != 0)
        failed = 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <dir>\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    seeds_resp_header();
    seeds_apiversions();
    seeds_metadata();
    seeds_produce();
    seeds_initpid();
    seeds_record_batch();
    seeds_decompress();
    seeds_properties();
    seeds_console();
    seeds_sasl();
    seeds_txn();
    return failed;
}
