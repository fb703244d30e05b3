/*
 * readback — read a whole topic back with an independent consumer.
 *
 * Integration tests produce with kprod and check what actually reached the
 * log with a client we did not write: librdkafka's consumer. It assigns
 * every partition of the topic from the beginning (rd_kafka_assign, no group
 * membership, no offset commits), verifies CRCs (check.crcs=true), reads
 * with isolation.level=read_uncommitted, and stops once it has at least the
 * expected number of records AND has reached the end of every partition, so
 * records beyond the expected count are returned too.
 */
#ifndef KPROD_TEST_READBACK_H
#define KPROD_TEST_READBACK_H

#include <stddef.h>
#include <stdint.h>

/* Timestamp types; the values match rd_kafka_timestamp_type_t. */
enum {
    RB_TS_NOT_AVAILABLE = 0,
    RB_TS_CREATE_TIME = 1,
    RB_TS_LOG_APPEND_TIME = 2,
};

typedef struct rb_header {
    char *name;       /* NUL-terminated */
    void *value;      /* NULL only when value_null; NUL-terminated copy */
    size_t value_len; /* not counting the NUL */
    int value_null;   /* 1: a null header value */
} rb_header_t;

/* Key and value buffers are copies followed by a NUL byte that len does not
 * count, so text can be printed or compared with strcmp(). A null key/value
 * has key_null/value_null set, a NULL pointer and length 0; an empty one has
 * a non-NULL pointer and length 0. */
typedef struct rb_record {
    int32_t partition;
    int64_t offset;
    void *key;
    size_t key_len;
    int key_null;
    void *value;
    size_t value_len;
    int value_null;
    int64_t timestamp;  /* ms since the epoch; -1 when not available */
    int timestamp_type; /* RB_TS_* */
    rb_header_t *headers;
    size_t header_count;
} rb_record_t;

/* Return codes. */
enum {
    RB_OK = 0,       /* >= expected_count records and every partition at its end */
    RB_TIMEOUT = 1,  /* timeout_ms passed first; what was read is returned */
    RB_ERROR = -1,   /* no metadata for the topic, client failure, or a record-level
                        error such as a CRC mismatch (printed on stderr) */
};

/* Read topic `topic` from the cluster at `bootstraps`. On every return,
 * *out and *n hold the records read so far (possibly none: *out may be
 * NULL), sorted by partition then offset; free them with readback_free().
 * A reason is printed on stderr for any result but RB_OK. */
int readback_topic(const char *bootstraps, const char *topic, int expected_count, int timeout_ms,
                   rb_record_t **out, size_t *n);

/* The same with extra librdkafka consumer properties applied last:
 * conf is a NULL-terminated list of name, value, name, value, ..., NULL
 * (e.g. {"isolation.level", "read_committed", NULL}). conf may be NULL. */
int readback_topic_conf(const char *bootstraps, const char *topic, int expected_count,
                        int timeout_ms, const char *const *conf, rb_record_t **out, size_t *n);

void readback_free(rb_record_t *recs, size_t n);

/* Sort by partition, then offset (readback_topic already returns them so). */
void readback_sort(rb_record_t *recs, size_t n);

/* In sorted records, the run belonging to one partition: returns how many
 * there are and sets *first to the first of them (NULL when none). */
size_t readback_partition(const rb_record_t *recs, size_t n, int32_t partition,
                          const rb_record_t **first);

/* The first record whose key equals key/key_len (key == NULL: a null key),
 * or NULL. */
const rb_record_t *readback_find_key(const rb_record_t *recs, size_t n, const void *key,
                                     size_t key_len);

/* The first header of rec named name, or NULL. */
const rb_header_t *readback_header(const rb_record_t *rec, const char *name);

/* Print the records (for failure diagnostics) on stderr, at most max. */
void readback_dump(const rb_record_t *recs, size_t n, size_t max);

#endif /* KPROD_TEST_READBACK_H */
