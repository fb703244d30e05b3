/*
 * readback — see readback.h.
 *
 * End-of-read rule: librdkafka (enable.partition.eof=true) reports
 * PARTITION_EOF each time a partition's fetch position reaches its high
 * watermark. A partition counts as "at end" from its EOF event until a
 * record arrives for it again. Reading stops when the record count has
 * reached expected_count and every partition is at end — so records past the
 * expected count that are already in the log are seen too.
 */
#include "readback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

struct rb_vec {
    rb_record_t *recs;
    size_t n, cap;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

/* A NUL-terminated copy of len bytes; NULL only when out of memory. */
static void *dup_bytes(const void *p, size_t len)
{
    char *q = malloc(len + 1);

    if (q) {
        if (len)
            memcpy(q, p, len);
        q[len] = '\0';
    }
    return q;
}

static void free_record(rb_record_t *r)
{
    free(r->key);
    free(r->value);
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
}

void readback_free(rb_record_t *recs, size_t n)
{
    if (!recs)
        return;
    for (size_t i = 0; i < n; i++)
        free_record(&recs[i]);
    free(recs);
}

/* Copy what the test needs out of a consumed message. 0 or -1 (no memory). */
static int copy_message(const rd_kafka_message_t *m, rb_record_t *r)
{
    rd_kafka_timestamp_type_t tstype;
    rd_kafka_headers_t *hdrs = NULL;

    memset(r, 0, sizeof *r);
    r->partition = m->partition;
    r->offset = m->offset;
    r->key_null = m->key == NULL;
    if (m->key) {
        r->key_len = m->key_len;
        if (!(r->key = dup_bytes(m->key, m->key_len)))
            return -1;
    }
    r->value_null = m->payload == NULL;
    if (m->payload) {
        r->value_len = m->len;
        if (!(r->value = dup_bytes(m->payload, m->len)))
            return -1;
    }
    r->timestamp = rd_kafka_message_timestamp(m, &tstype);
    r->timestamp_type = (int)tstype;

    /* rd_kafka_message_headers() needs a non-const message but does not
     * change what we read; the headers stay owned by the message. */
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hdrs) {
        size_t cnt = rd_kafka_header_cnt(hdrs);

        r->headers = calloc(cnt ? cnt : 1, sizeof *r->headers);
        if (!r->headers)
            return -1;
        for (size_t i = 0; i < cnt; i++) {
            const char *name;
            const void *val;
            size_t size;
            rb_header_t *h = &r->headers[i];

            if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size))
                break;
            r->header_count++;
            if (!(h->name = dup_bytes(name, strlen(name))))
                return -1;
            h->value_null = val == NULL;
            if (val) {
                h->value_len = size;
                if (!(h->value = dup_bytes(val, size)))
                    return -1;
            }
        }
    }
    return 0;
}

static int push_record(struct rb_vec *v, const rd_kafka_message_t *m)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        rb_record_t *recs = realloc(v->recs, cap * sizeof *recs);
        if (!recs)
            return -1;
        v->recs = recs;
        v->cap = cap;
    }
    if (copy_message(m, &v->recs[v->n]) != 0) {
        free_record(&v->recs[v->n]);
        return -1;
    }
    v->n++;
    return 0;
}

static int cmp_record(const void *a, const void *b)
{
    const rb_record_t *x = a, *y = b;

    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return 0;
}

void readback_sort(rb_record_t *recs, size_t n)
{
    if (n > 1)
        qsort(recs, n, sizeof *recs, cmp_record);
}

size_t readback_partition(const rb_record_t *recs, size_t n, int32_t partition,
                          const rb_record_t **first)
{
    size_t i = 0, count = 0;

    while (i < n && recs[i].partition != partition)
        i++;
    *first = i < n ? &recs[i] : NULL;
    while (i + count < n && recs[i + count].partition == partition)
        count++;
    return count;
}

const rb_record_t *readback_find_key(const rb_record_t *recs, size_t n, const void *key,
                                     size_t key_len)
{
    for (size_t i = 0; i < n; i++) {
        if (!key) {
            if (recs[i].key_null)
                return &recs[i];
        } else if (!recs[i].key_null && recs[i].key_len == key_len &&
                   (key_len == 0 || memcmp(recs[i].key, key, key_len) == 0)) {
            return &recs[i];
        }
    }
    return NULL;
}

const rb_header_t *readback_header(const rb_record_t *rec, const char *name)
{
    for (size_t i = 0; i < rec->header_count; i++)
        if (strcmp(rec->headers[i].name, name) == 0)
            return &rec->headers[i];
    return NULL;
}

static void dump_bytes(const void *p, size_t len, int is_null)
{
    const unsigned char *b = p;
    size_t max = len < 40 ? len : 40;

    if (is_null) {
        fputs("null", stderr);
        return;
    }
    fputc('"', stderr);
    for (size_t i = 0; i < max; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\')
            fputc(b[i], stderr);
        else
            fprintf(stderr, "\\x%02x", b[i]);
    }
    fputs(max < len ? "\"..." : "\"", stderr);
}

void readback_dump(const rb_record_t *recs, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        const rb_record_t *r = &recs[i];

        fprintf(stderr, "  [%d@%lld] ts=%lld/%d key=", (int)r->partition, (long long)r->offset,
                (long long)r->timestamp, r->timestamp_type);
        dump_bytes(r->key, r->key_len, r->key_null);
        fputs(" value=", stderr);
        dump_bytes(r->value, r->value_len, r->value_null);
        for (size_t h = 0; h < r->header_count; h++) {
            fprintf(stderr, " %s=", r->headers[h].name);
            dump_bytes(r->headers[h].value, r->headers[h].value_len, r->headers[h].value_null);
        }
        fputc('\n', stderr);
    }
    if (n > max)
        fprintf(stderr, "  ... %zu more\n", n - max);
}

static rd_kafka_t *new_consumer(const char *bootstraps, const char *const *extra)
{
    /* Fast turnarounds for a local mock cluster; no group membership or
     * commits (assign() only; group.id is required by consumer_poll()). */
    static const char *const base[] = {
        "group.id", "kprod-readback",
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "enable.partition.eof", "true",
        "auto.offset.reset", "earliest",
        "check.crcs", "true",
        "isolation.level", "read_uncommitted",
        "fetch.wait.max.ms", "10",
        "fetch.error.backoff.ms", "10",
        "reconnect.backoff.ms", "10",
        "reconnect.backoff.max.ms", "200",
        "allow.auto.create.topics", "false",
        "log_level", "3",
        NULL,
    };
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof errstr))
        goto bad;
    for (size_t i = 0; base[i]; i += 2)
        if (rd_kafka_conf_set(conf, base[i], base[i + 1], errstr, sizeof errstr))
            goto bad;
    for (size_t i = 0; extra && extra[i]; i += 2) {
        if (!extra[i + 1]) {
            snprintf(errstr, sizeof errstr, "property %s has no value", extra[i]);
            goto bad;
        }
        if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], errstr, sizeof errstr))
            goto bad;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk)
        return rk;
bad:
    fprintf(stderr, "readback: consumer configuration: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* The topic's partition count from metadata, retried until the deadline
 * (the topic may still be being created). -1 on failure. */
static int partition_count(rd_kafka_t *rk, const char *topic, int64_t deadline)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
    int count = -1;

    if (!rkt) {
        fprintf(stderr, "readback: rd_kafka_topic_new(%s): %s\n", topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int tmo = remaining_ms(deadline);
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, tmo > 1000 ? 1000 : tmo);

        if (!err && md->topic_cnt == 1) {
            err = md->topics[0].err;
            if (!err && md->topics[0].partition_cnt > 0)
                count = md->topics[0].partition_cnt;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (count > 0)
            break;
        last = err;
        if (remaining_ms(deadline) == 0) {
            fprintf(stderr, "readback: no metadata for topic %s: %s\n", topic,
                    rd_kafka_err2str(last));
            break;
        }
        {
            struct timespec pause = {0, 20 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    rd_kafka_topic_destroy(rkt);
    return count;
}

static int assign_all(rd_kafka_t *rk, const char *topic, int partitions)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
    rd_kafka_resp_err_t err;

    /* Absolute offset 0 rather than OFFSET_BEGINNING: the latter needs a
     * ListOffsets round first, which librdkafka 2.0.2 often retries only
     * after a 500 ms timer when the leader's connection is not up yet. A
     * log that does not start at 0 (never the case in the mock cluster)
     * still reads from its start through auto.offset.reset=earliest. */
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = 0;
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        fprintf(stderr, "readback: assign %s: %s\n", topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int readback_topic_conf(const char *bootstraps, const char *topic, int expected_count,
                        int timeout_ms, const char *const *conf, rb_record_t **out, size_t *n)
{
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct rb_vec v = {0};
    rd_kafka_t *rk;
    char *at_end = NULL;
    int partitions, at_end_count = 0;
    int result = RB_ERROR, record_error = 0;

    *out = NULL;
    *n = 0;
    rk = new_consumer(bootstraps, conf);
    if (!rk)
        return RB_ERROR;
    partitions = partition_count(rk, topic, deadline);
    if (partitions <= 0 || assign_all(rk, topic, partitions) != 0)
        goto done;
    at_end = calloc((size_t)partitions, 1);
    if (!at_end) {
        fprintf(stderr, "readback: out of memory\n");
        goto done;
    }

    while (!(at_end_count == partitions && (long long)v.n >= (long long)expected_count)) {
        int tmo = remaining_ms(deadline);
        rd_kafka_message_t *m;

        if (tmo == 0) {
            result = RB_TIMEOUT;
            fprintf(stderr,
                    "readback: %s: timed out after %d ms with %zu of %d records, %d of %d "
                    "partitions at end\n",
                    topic, timeout_ms, v.n, expected_count, at_end_count, partitions);
            goto done;
        }
        m = rd_kafka_consumer_poll(rk, tmo > 100 ? 100 : tmo);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < partitions && !at_end[m->partition]) {
                at_end[m->partition] = 1;
                at_end_count++;
            }
        } else if (m->err) {
            /* Errors tied to a partition concern the data (e.g. a CRC
             * mismatch: __BAD_MSG) and fail the read; others (connection
             * trouble) are reported and retried by librdkafka. */
            fprintf(stderr, "readback: %s [%d] @%lld: %s\n", m->rkt ? rd_kafka_topic_name(m->rkt) : "-",
                    (int)m->partition, (long long)m->offset, rd_kafka_message_errstr(m));
            if (m->rkt)
                record_error = 1;
        } else {
            if (m->partition >= 0 && m->partition < partitions && at_end[m->partition]) {
                at_end[m->partition] = 0;
                at_end_count--;
            }
            if (push_record(&v, m) != 0) {
                fprintf(stderr, "readback: out of memory\n");
                rd_kafka_message_destroy(m);
                goto done;
            }
        }
        rd_kafka_message_destroy(m);
        if (record_error)
            goto done;
    }
    result = RB_OK;

done:
    free(at_end);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    readback_sort(v.recs, v.n);
    *out = v.recs;
    *n = v.n;
    return result;
}

int readback_topic(const char *bootstraps, const char *topic, int expected_count, int timeout_ms,
                   rb_record_t **out, size_t *n)
{
    return readback_topic_conf(bootstraps, topic, expected_count, timeout_ms, NULL, out, n);
}
