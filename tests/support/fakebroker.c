/*
 * fakebroker — see fakebroker.h for what it models and why.
 *
 * Inside: one thread polls the listening socket, a wake-up pipe (fb_stop)
 * and up to 32 connections; it reads whole request frames, parses the
 * header, finds the API in the handler table, builds the response body into
 * a growing buffer and hands it to fb_deliver(), which sends it as the fault
 * schedule says (or keeps it on the connection until fb_set_api_delay()'s
 * time is up). Connection state belongs to the thread alone; the schedules,
 * the counters, the log and the transactional state sit behind one mutex,
 * since tests read and set them from their own threads.
 *
 * Time: the thread's poll() sleeps until the next held answer is due or the
 * next open transaction times out (CLOCK_MONOTONIC), so a transaction is
 * aborted at its deadline with no request to trigger it; a request also
 * runs the timeout check first, so it never sees a transaction past its
 * time still open.
 *
 * Flexible versions: the reader and the writer carry a `flex` flag, set per
 * request from the API's row (first flexible version), and the string,
 * array and tag helpers write or read the compact forms under it — the
 * handlers are written once for both forms.
 */
#include "fakebroker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NODE_ID 1
#define MAX_CONNS 32
#define LOG_CACHE 5      /* Kafka's duplicate window: the last five batches */
#define PRODUCERS 8      /* producer ids whose sequences are kept */
#define GARBAGE_LEN 52   /* the body of a garbage frame */
#define TXN_IDS 4        /* transactional ids known */
#define TXN_GROUPS 4     /* groups added to one transaction */
#define MAX_OFFSETS 64   /* offsets pending in a transaction; committed ones */
#define MAX_REQ_PARTS 32 /* partitions in one request */
#define TXN_MAX_TIMEOUT_MS 900000 /* Kafka's transaction.max.timeout.ms */
#define EPOCH_MAX 32767  /* an epoch reaching it is exhausted */

#define ATTR_TRANSACTIONAL 0x10
#define ATTR_CONTROL 0x20

/* Kafka error codes answered */
#define ERR_UNKNOWN_SERVER_ERROR (-1)
#define ERR_CORRUPT_MESSAGE 2
#define ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define ERR_COORDINATOR_NOT_AVAILABLE 15
#define ERR_UNSUPPORTED_SASL_MECHANISM 33
#define ERR_UNSUPPORTED_VERSION 35
#define ERR_INVALID_REQUEST 42
#define ERR_OUT_OF_ORDER_SEQUENCE_NUMBER 45
#define ERR_INVALID_PRODUCER_EPOCH 47
#define ERR_INVALID_TXN_STATE 48
#define ERR_INVALID_PRODUCER_ID_MAPPING 49
#define ERR_INVALID_TRANSACTION_TIMEOUT 50
#define ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED 53
#define ERR_OPERATION_NOT_ATTEMPTED 55
#define ERR_SASL_AUTHENTICATION_FAILED 58
#define ERR_PRODUCER_FENCED 90
#define ERR_TRANSACTION_ABORTABLE 120

static int64_t fb_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- byte buffers */

typedef struct wb {
    uint8_t *p;
    size_t len, cap;
    int flex; /* compact strings and arrays, tagged fields */
} wb_t;

static void wb_put(wb_t *w, const void *src, size_t n) {
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np)
            abort();
        w->p = np;
        w->cap = cap;
    }
    if (n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
}
static void wb_i8(wb_t *w, int8_t v) { wb_put(w, &v, 1); }
static void wb_i16(wb_t *w, int16_t v) {
    uint8_t b[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    wb_put(w, b, 2);
}
static void wb_i32(wb_t *w, int32_t v) {
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    wb_put(w, b, 4);
}
static void wb_i64(wb_t *w, int64_t v) {
    wb_i32(w, (int32_t)(uint32_t)((uint64_t)v >> 32));
    wb_i32(w, (int32_t)(uint32_t)(uint64_t)v);
}
static void wb_uvarint(wb_t *w, uint64_t v) {
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    wb_put(w, b, n);
}
/* A string, classic or compact; long_: claim 32767 bytes but write only these. */
static void wb_str(wb_t *w, const char *s, size_t n, int long_) {
    if (w->flex)
        wb_uvarint(w, (long_ ? INT16_MAX : n) + 1);
    else
        wb_i16(w, long_ ? INT16_MAX : (int16_t)n);
    wb_put(w, s, n);
}
static void wb_cstr(wb_t *w, const char *s) { wb_str(w, s, strlen(s), 0); }
static void wb_null(wb_t *w) { /* a null string */
    if (w->flex)
        wb_uvarint(w, 0);
    else
        wb_i16(w, -1);
}
static void wb_arr(wb_t *w, int32_t n) { /* an array's count (INT32_MAX: the huge one) */
    if (w->flex)
        wb_uvarint(w, (uint64_t)(uint32_t)n + 1);
    else
        wb_i32(w, n);
}
static void wb_tags(wb_t *w) { /* an empty tagged-field section */
    if (w->flex)
        wb_uvarint(w, 0);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const uint8_t *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }
static int16_t be16(const uint8_t *p) { return (int16_t)(uint16_t)(p[0] << 8 | p[1]); }

/* CRC-32C (Castagnoli), bit by bit: control batches only. */
static uint32_t crc32c(const uint8_t *p, size_t n) {
    uint32_t c = ~0u;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c >> 1 ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return ~c;
}

/* A bounds-checked reader for requests; err is sticky. */
typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    int err;
    int flex; /* compact strings and arrays, tagged fields */
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n) {
    if (r->err || r->len - r->off < n) {
        r->err = 1;
        return NULL;
    }
    r->off += n;
    return r->p + r->off - n;
}
static int8_t rd_i8(rd_t *r) {
    const uint8_t *b = rd_take(r, 1);
    return b ? (int8_t)b[0] : 0;
}
static int16_t rd_i16(rd_t *r) {
    const uint8_t *b = rd_take(r, 2);
    return b ? be16(b) : 0;
}
static int32_t rd_i32(rd_t *r) {
    const uint8_t *b = rd_take(r, 4);
    return b ? (int32_t)be32(b) : 0;
}
static int64_t rd_i64(rd_t *r) {
    const uint8_t *b = rd_take(r, 8);
    return b ? be64(b) : 0;
}
static uint64_t rd_uvarint(rd_t *r) {
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        const uint8_t *b = rd_take(r, 1);
        if (!b)
            return 0;
        v |= (uint64_t)(*b & 0x7f) << s;
        if (!(*b & 0x80))
            return v;
    }
    r->err = 1;
    return 0;
}
/* Nullable string, classic or compact: its bytes (NULL for null), *n its
 * length (-1 for null). */
static const char *rd_str(rd_t *r, int16_t *n) {
    if (r->flex) {
        uint64_t l = rd_uvarint(r);
        *n = -1;
        if (r->err || l == 0)
            return NULL;
        if (l - 1 > INT16_MAX) {
            r->err = 1;
            return NULL;
        }
        *n = (int16_t)(l - 1);
    } else {
        *n = rd_i16(r);
        if (r->err || *n < 0)
            return NULL;
    }
    return (const char *)rd_take(r, (size_t)*n);
}
/* An array's count (-1: null), classic or compact. */
static int32_t rd_arr(rd_t *r) {
    if (!r->flex)
        return rd_i32(r);
    uint64_t l = rd_uvarint(r);
    if (l > (uint64_t)INT32_MAX + 1)
        r->err = 1;
    return r->err ? 0 : (int32_t)(l - 1);
}
/* Nullable bytes (the records), classic or compact; *n -1 for null. */
static const uint8_t *rd_bytes(rd_t *r, int32_t *n) {
    *n = rd_arr(r); /* the same length forms */
    return *n >= 0 ? rd_take(r, (size_t)*n) : NULL;
}
/* Skip a tagged-field section (flexible versions only). */
static void rd_tags(rd_t *r) {
    if (!r->flex)
        return;
    uint64_t n = rd_uvarint(r);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        (void)rd_uvarint(r);
        uint64_t size = rd_uvarint(r);
        if (!r->err && size > r->len - r->off)
            r->err = 1;
        else
            (void)rd_take(r, (size_t)size);
    }
}

/* Does the string read (s, n) equal c? */
static int str_is(const char *s, int16_t n, const char *c) {
    return s && n >= 0 && (size_t)n == strlen(c) && !memcmp(s, c, (size_t)n);
}
/* The string read into dst[FB_NAME_LEN] (cut; "" for null). */
static void str_copy(char *dst, const char *s, int16_t n) {
    size_t l = s && n > 0 ? (size_t)n : 0;
    if (l > FB_NAME_LEN - 1)
        l = FB_NAME_LEN - 1;
    if (l)
        memcpy(dst, s, l);
    dst[l] = 0;
}

/* ---------------------------------------------------------------- state */

typedef struct fconn {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    int stalled;  /* sent a partial frame: never answer on it again */
    int dup_sent; /* sent a response twice */
    int faulted;  /* got at least one corrupted response */
    int authenticated; /* SASL PLAIN (fb_options_t.sasl_user): done */
    /* an answer held by fb_set_api_delay(): sent at held_until, with its
     * fault; the connection is not read meanwhile */
    int held;
    wb_t held_body;
    fb_fault_t held_fault;
    int64_t held_until;
} fconn_t;

/* A producer id's sequence state on partition 0. */
typedef struct fprod {
    int64_t pid; /* -1: a free slot */
    int16_t epoch;
    int32_t next_seq;
    struct {
        int32_t seq, count;
        int64_t base;
    } cache[LOG_CACHE];
    int ncache;
    uint64_t used; /* for forgetting the least recently used */
} fprod_t;

/* An offset a TxnOffsetCommit gave, pending in a transaction or committed. */
typedef struct foffset {
    char group[FB_NAME_LEN], topic[FB_NAME_LEN];
    int32_t partition;
    int64_t offset;
    fb_group_meta_t gm;
} foffset_t;

/* A transactional id. */
typedef struct ftxn {
    char id[FB_NAME_LEN]; /* "": a free slot */
    int64_t pid, prev_pid;
    int16_t epoch;      /* -1 before the first InitProducerId */
    int16_t last_epoch; /* aborted on timeout; -1 none */
    int32_t timeout_ms;
    int open, p0;       /* a transaction is open; partition 0 is in it */
    int64_t opened_ms;
    char groups[TXN_GROUPS][FB_NAME_LEN];
    int ngroups;
    foffset_t pending[MAX_OFFSETS];
    int npending;
    /* how the last transaction ended, for EndTxn retries (end_pid -1: none) */
    int64_t end_pid;
    int16_t end_epoch;
    int end_commit;
    int inits, commits, aborts, timeouts;
} ftxn_t;

struct fake_broker {
    /* set by fb_start, then read-only */
    int lfd, port;
    int wake[2];
    pthread_t thread;
    char *client_id, *topic;
    void (*fill_random)(uint8_t *p, size_t n, uint64_t *state);
    int apiversions_hangs_up;
    char *sasl_user, *sasl_password; /* SASL PLAIN required when set */
    char host[INET6_ADDRSTRLEN]; /* listened on, named in Metadata */
    char bootstrap[64];
    int transactions;
    int16_t txn_version, txn_start_epoch;

    /* the broker thread's alone */
    fconn_t conns[MAX_CONNS];
    int nconns;
    uint64_t rng;

    pthread_mutex_t lock; /* everything below */
    /* the schedule: skip `fault_skip` responses of `fault_api`, then corrupt
     * `fault_count` (FB_FOREVER: all) with `fault` */
    fb_fault_t fault;
    int fault_api, fault_skip, fault_count;
    /* well-formed errors: skip `perr_skip` partition-0 batches, then answer
     * `perr_count` with error code `perr` (not appended) */
    int16_t perr;
    int perr_skip, perr_count;
    /* with them (Produce v8+, KIP-467): the records named, and the message */
    int32_t perr_records[8];
    int perr_nrecords;
    char perr_message[128];
    /* per API: fb_set_api_error(), fb_set_api_delay() */
    int16_t api_err[FB_API_KEYS];
    int api_err_count[FB_API_KEYS];
    int api_delay_ms[FB_API_KEYS], api_delay_count[FB_API_KEYS];
    uint8_t garbage[GARBAGE_LEN]; /* the last garbage sent */
    size_t garbage_len;
    int partitions; /* how many partitions Metadata lists (log kept for 0 only) */
    int32_t pids;   /* producer ids given so far: ids 1000, 1001, ... */
    fb_stats_t st;
    /* the log of partition 0: idempotent per producer id */
    int64_t log_end;
    wb_t log; /* the batches written, end to end (fb_wrote looks for values) */
    fb_batch_info_t *batches; /* and what each is */
    size_t nbatches, capbatches;
    fprod_t prods[PRODUCERS];
    uint64_t prod_clock;
    /* transactions */
    ftxn_t txns[TXN_IDS];
    foffset_t committed[MAX_OFFSETS];
    int ncommitted;
};

/* ---------------------------------------------------------------- names and schedules */

static const char *const fault_names[FB_F_COUNT] = {
    "none",          "truncated",        "stalled",         "size-0",         "size--5",
    "size-100MiB+1", "size-200MiB",      "garbage-body",    "garbage-frame",  "wrong-corrid",
    "array-2^31-1",  "string-long",      "close-mid-frame", "close-mid-size", "unsolicited",
    "after-answer",  "partition-2^31-1", "no-partitions",
};

const char *fb_fault_name(fb_fault_t f) {
    return (unsigned)f < FB_F_COUNT ? fault_names[f] : "?";
}

const char *fb_api_name(int api) {
    switch (api) {
    case FB_API_PRODUCE: return "Produce";
    case FB_API_METADATA: return "Metadata";
    case FB_API_APIVERSIONS: return "ApiVersions";
    case FB_API_INITPID: return "InitProducerId";
    case FB_API_FIND_COORDINATOR: return "FindCoordinator";
    case FB_API_ADD_PARTITIONS_TO_TXN: return "AddPartitionsToTxn";
    case FB_API_ADD_OFFSETS_TO_TXN: return "AddOffsetsToTxn";
    case FB_API_END_TXN: return "EndTxn";
    case FB_API_TXN_OFFSET_COMMIT: return "TxnOffsetCommit";
    case FB_API_ANY: return "any";
    }
    return "?";
}

int fb_fault_applies(fb_fault_t f, int api) {
    if (f == FB_F_STRING_HUGE) /* ApiVersions v0-2 and InitProducerId hold no string */
        return api == FB_API_METADATA || api == FB_API_PRODUCE;
    if (f == FB_F_ARRAY_HUGE) /* InitProducerId holds no array; the transactional
                                 answers do not build the fault */
        return api == FB_API_METADATA || api == FB_API_PRODUCE || api == FB_API_APIVERSIONS;
    if (f == FB_F_PARTITION_HUGE || f == FB_F_NO_PARTITIONS)
        return api == FB_API_METADATA;
    return 1;
}

void fb_set_fault(fake_broker_t *fb, fb_fault_t f, int api, int skip, int count) {
    pthread_mutex_lock(&fb->lock);
    fb->fault = f;
    fb->fault_api = api;
    fb->fault_skip = skip;
    fb->fault_count = count;
    fb->st.injected = 0;
    pthread_mutex_unlock(&fb->lock);
}

void fb_set_produce_error(fake_broker_t *fb, int16_t err, int skip, int count) {
    fb_set_record_errors(fb, err, skip, count, NULL, 0, NULL);
}

void fb_set_record_errors(fake_broker_t *fb, int16_t err, int skip, int count,
                          const int32_t *indexes, int n, const char *message) {
    pthread_mutex_lock(&fb->lock);
    fb->perr = err;
    fb->perr_skip = skip;
    fb->perr_count = count;
    fb->perr_nrecords = n < 0 ? 0 : n > 8 ? 8 : n;
    for (int i = 0; i < fb->perr_nrecords; i++)
        fb->perr_records[i] = indexes[i];
    snprintf(fb->perr_message, sizeof(fb->perr_message), "%s", message ? message : "");
    fb->st.errors_injected = 0;
    pthread_mutex_unlock(&fb->lock);
}

void fb_set_partitions(fake_broker_t *fb, int n) {
    pthread_mutex_lock(&fb->lock);
    fb->partitions = n;
    pthread_mutex_unlock(&fb->lock);
}

void fb_set_api_error(fake_broker_t *fb, int api, int16_t err, int count) {
    if (api < 0 || api >= FB_API_KEYS)
        return;
    pthread_mutex_lock(&fb->lock);
    fb->api_err[api] = err;
    fb->api_err_count[api] = count;
    pthread_mutex_unlock(&fb->lock);
}

void fb_set_api_delay(fake_broker_t *fb, int api, int delay_ms, int count) {
    if (api < 0 || api >= FB_API_KEYS)
        return;
    pthread_mutex_lock(&fb->lock);
    fb->api_delay_ms[api] = delay_ms;
    fb->api_delay_count[api] = count;
    pthread_mutex_unlock(&fb->lock);
}

/* Take one from a schedule of `count` (FB_FOREVER: endless); 1 if taken. */
static int fb_take(int *count) {
    if (*count == 0)
        return 0;
    if (*count > 0)
        (*count)--;
    return 1;
}

/* The error fb_set_api_error() gives this request, or 0 (broker thread). */
static int16_t fb_next_api_error(fake_broker_t *fb, int api) {
    int16_t e = 0;
    pthread_mutex_lock(&fb->lock);
    if (api >= 0 && api < FB_API_KEYS && fb_take(&fb->api_err_count[api])) {
        e = fb->api_err[api];
        fb->st.api_errors_injected++;
    }
    pthread_mutex_unlock(&fb->lock);
    return e;
}

/* How long fb_set_api_delay() holds this answer, or 0 (broker thread). */
static int fb_next_delay(fake_broker_t *fb, int api) {
    int d = 0;
    pthread_mutex_lock(&fb->lock);
    if (api >= 0 && api < FB_API_KEYS && fb->api_delay_ms[api] > 0 &&
        fb_take(&fb->api_delay_count[api])) {
        d = fb->api_delay_ms[api];
        fb->st.delayed++;
    }
    pthread_mutex_unlock(&fb->lock);
    return d;
}

/* An error code for the next partition-0 batch, or 0 (broker thread). */
static int16_t fb_next_produce_error(fake_broker_t *fb) {
    int16_t e = 0;
    pthread_mutex_lock(&fb->lock);
    if (fb->perr_skip > 0) {
        fb->perr_skip--;
    } else if (fb->perr_count > 0) {
        fb->perr_count--;
        fb->st.errors_injected++;
        e = fb->perr;
    }
    pthread_mutex_unlock(&fb->lock);
    return e;
}

/* The fault for the next response of this API (broker thread). */
static fb_fault_t fb_next_fault(fake_broker_t *fb, int api) {
    fb_fault_t f = FB_F_NONE;
    pthread_mutex_lock(&fb->lock);
    if (fb->fault != FB_F_NONE && (fb->fault_api == FB_API_ANY || fb->fault_api == api) &&
        fb_fault_applies(fb->fault, api)) {
        if (fb->fault_skip > 0) {
            fb->fault_skip--;
        } else if (fb->fault_count != 0) {
            if (fb->fault_count > 0)
                fb->fault_count--;
            fb->st.injected++;
            f = fb->fault;
        }
    }
    pthread_mutex_unlock(&fb->lock);
    return f;
}

/* ---------------------------------------------------------------- reading back */

fb_stats_t fb_stats(fake_broker_t *fb) {
    pthread_mutex_lock(&fb->lock);
    fb_stats_t s = fb->st;
    pthread_mutex_unlock(&fb->lock);
    return s;
}

int64_t fb_log_end(fake_broker_t *fb) {
    pthread_mutex_lock(&fb->lock);
    int64_t v = fb->log_end;
    pthread_mutex_unlock(&fb->lock);
    return v;
}

int fb_wrote(fake_broker_t *fb, const char *value) {
    pthread_mutex_lock(&fb->lock);
    int r = fb->log.len && memmem(fb->log.p, fb->log.len, value, strlen(value)) != NULL;
    pthread_mutex_unlock(&fb->lock);
    return r;
}

size_t fb_last_garbage(fake_broker_t *fb, uint8_t *buf, size_t cap) {
    pthread_mutex_lock(&fb->lock);
    size_t n = fb->garbage_len < cap ? fb->garbage_len : cap;
    memcpy(buf, fb->garbage, n);
    pthread_mutex_unlock(&fb->lock);
    return n;
}

int fb_log_batches(fake_broker_t *fb, fb_batch_info_t **out, size_t *n) {
    int rc = 0;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&fb->lock);
    if (fb->nbatches) {
        *out = malloc(fb->nbatches * sizeof(**out));
        if (*out) {
            memcpy(*out, fb->batches, fb->nbatches * sizeof(**out));
            *n = fb->nbatches;
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&fb->lock);
    return rc;
}

/* The transactional id's slot, or NULL (under the lock). */
static ftxn_t *txn_find(fake_broker_t *fb, const char *id, int16_t n) {
    for (int i = 0; i < TXN_IDS; i++)
        if (fb->txns[i].id[0] && str_is(id, n, fb->txns[i].id))
            return &fb->txns[i];
    return NULL;
}

int fb_txn(fake_broker_t *fb, const char *transactional_id, fb_txn_info_t *out) {
    pthread_mutex_lock(&fb->lock);
    const ftxn_t *t = txn_find(fb, transactional_id, (int16_t)strlen(transactional_id));
    int rc = t && t->epoch >= 0 ? 0 : -1;
    if (rc == 0)
        *out = (fb_txn_info_t){.pid = t->pid,
                               .epoch = t->epoch,
                               .prev_pid = t->prev_pid,
                               .last_epoch = t->last_epoch,
                               .timeout_ms = t->timeout_ms,
                               .open = t->open,
                               .partition_added = t->p0,
                               .pending_offsets = t->npending,
                               .inits = t->inits,
                               .commits = t->commits,
                               .aborts = t->aborts,
                               .timeouts = t->timeouts};
    pthread_mutex_unlock(&fb->lock);
    return rc;
}

/* The entry for (group, topic, partition) among n offsets, or NULL. */
static foffset_t *offset_find(foffset_t *o, int n, const char *group, const char *topic,
                              int32_t partition) {
    for (int i = 0; i < n; i++)
        if (o[i].partition == partition && !strcmp(o[i].group, group) && !strcmp(o[i].topic, topic))
            return &o[i];
    return NULL;
}

int fb_committed_offset(fake_broker_t *fb, const char *group, const char *topic, int32_t partition,
                        int64_t *offset, fb_group_meta_t *gm) {
    pthread_mutex_lock(&fb->lock);
    const foffset_t *o = offset_find(fb->committed, fb->ncommitted, group, topic, partition);
    if (o) {
        *offset = o->offset;
        if (gm)
            *gm = o->gm;
    }
    pthread_mutex_unlock(&fb->lock);
    return o ? 0 : -1;
}

const char *fb_bootstrap(const fake_broker_t *fb) { return fb->bootstrap; }

/* Count one of the stats (broker thread). */
static void fb_count(fake_broker_t *fb, int *counter) {
    pthread_mutex_lock(&fb->lock);
    (*counter)++;
    pthread_mutex_unlock(&fb->lock);
}

static void fb_bad_request(fake_broker_t *fb, const char *why) {
    fb_count(fb, &fb->st.bad_requests);
    fprintf(stderr, "fake broker: bad request: %s\n", why);
}

/* ---------------------------------------------------------------- the log */

/* Append a batch to partition 0's log and its description (under the lock). */
static void log_put(fake_broker_t *fb, const uint8_t *batch, size_t len, fb_batch_info_t info) {
    if (fb->nbatches == fb->capbatches) {
        size_t cap = fb->capbatches ? 2 * fb->capbatches : 64;
        fb_batch_info_t *nb = realloc(fb->batches, cap * sizeof(*nb));
        if (!nb)
            abort();
        fb->batches = nb;
        fb->capbatches = cap;
    }
    info.base_offset = fb->log_end;
    fb->batches[fb->nbatches++] = info;
    fb->log_end += info.count;
    wb_put(&fb->log, batch, len);
}

/* The sequence state of a producer id, or NULL (under the lock). */
static fprod_t *prod_find(fake_broker_t *fb, int64_t pid) {
    for (int i = 0; i < PRODUCERS; i++)
        if (fb->prods[i].pid == pid)
            return &fb->prods[i];
    return NULL;
}

/* A fresh state for pid at epoch, in a free slot or the least recently used
 * one's (forgotten, as if expired). */
static fprod_t *prod_new(fake_broker_t *fb, int64_t pid, int16_t epoch) {
    fprod_t *p = &fb->prods[0];
    for (int i = 1; i < PRODUCERS && p->pid >= 0; i++)
        if (fb->prods[i].pid < 0 || fb->prods[i].used < p->used)
            p = &fb->prods[i];
    *p = (fprod_t){.pid = pid, .epoch = epoch};
    return p;
}

/* A transaction marker for (pid, epoch) in partition 0's log: a control
 * batch of one record, key (version 0, type 0 ABORT / 1 COMMIT), value
 * (version 0, coordinator epoch 0), its CRC-32C right (under the lock). */
static void log_marker(fake_broker_t *fb, int64_t pid, int16_t epoch, int commit) {
    static const uint8_t rec[] = {
        16 << 1,              /* length 16 (zigzag varint) */
        0,    0, 0,           /* attributes, timestamp delta, offset delta */
        4 << 1, 0, 0, 0, 0,   /* key: 4 bytes, version 0, type (set below) */
        6 << 1, 0, 0, 0, 0, 0, 0, /* value: 6 bytes, version 0, coordinator epoch 0 */
        0,                    /* headers */
    };
    uint8_t b[61 + sizeof(rec)];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    wb_t w = {0};
    wb_i64(&w, fb->log_end);                  /* base offset */
    wb_i32(&w, (int32_t)(sizeof(b) - 12));    /* batch length */
    wb_i32(&w, 0);                            /* partition leader epoch */
    wb_i8(&w, 2);                             /* magic */
    wb_i32(&w, 0);                            /* CRC, below */
    wb_i16(&w, ATTR_TRANSACTIONAL | ATTR_CONTROL);
    wb_i32(&w, 0);                            /* last offset delta */
    wb_i64(&w, now);                          /* base and max timestamp */
    wb_i64(&w, now);
    wb_i64(&w, pid);
    wb_i16(&w, epoch);
    wb_i32(&w, -1);                           /* base sequence */
    wb_i32(&w, 1);                            /* records */
    wb_put(&w, rec, sizeof(rec));
    memcpy(b, w.p, sizeof(b));
    free(w.p);
    b[61 + 8] = (uint8_t)commit;
    uint32_t crc = crc32c(b + 21, sizeof(b) - 21);
    b[17] = (uint8_t)(crc >> 24), b[18] = (uint8_t)(crc >> 16);
    b[19] = (uint8_t)(crc >> 8), b[20] = (uint8_t)crc;
    log_put(fb, b, sizeof(b),
            (fb_batch_info_t){.attributes = ATTR_TRANSACTIONAL | ATTR_CONTROL,
                              .pid = pid,
                              .epoch = epoch,
                              .base_seq = -1,
                              .count = 1,
                              .marker = commit});
    /* a marker of a newer epoch moves the producer there: its next batch
     * starts at sequence 0, older epochs are refused */
    fprod_t *p = prod_find(fb, pid);
    if (p && epoch > p->epoch)
        *p = (fprod_t){.pid = pid, .epoch = epoch, .used = p->used};
}

/* Append one record batch to partition 0 (or recognise a resend). Returns
 * the error code for the partition and sets *base. */
static int16_t fb_append(fake_broker_t *fb, const uint8_t *batch, size_t len, int64_t *base) {
    /* RecordBatch v2: attributes @21, lastOffsetDelta @23, producerId @43,
     * epoch @51, baseSequence @53, records count @57; 61 bytes of header */
    if (len < 61 || batch[16] != 2)
        return ERR_CORRUPT_MESSAGE;
    int32_t count = (int32_t)be32(batch + 57);
    int64_t pid = be64(batch + 43);
    int16_t epoch = be16(batch + 51);
    int32_t seq = (int32_t)be32(batch + 53);
    if (count <= 0 || (int32_t)be32(batch + 23) != count - 1)
        return ERR_CORRUPT_MESSAGE;
    int16_t err = 0;
    pthread_mutex_lock(&fb->lock);
    fprod_t *p = pid >= 0 ? prod_find(fb, pid) : NULL;
    if (pid >= 0) {
        if (!p || epoch > p->epoch) { /* a new producer, or a new epoch of it */
            if (seq != 0) {
                err = ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
                goto out;
            }
            if (!p)
                p = prod_new(fb, pid, epoch);
            else
                *p = (fprod_t){.pid = pid, .epoch = epoch};
        } else if (epoch < p->epoch) {
            err = ERR_INVALID_PRODUCER_EPOCH;
            fb->st.fenced++;
            goto out;
        }
        p->used = ++fb->prod_clock;
        for (int i = 0; i < p->ncache; i++)
            if (p->cache[i].seq == seq && p->cache[i].count == count) {
                fb->st.duplicates++;
                *base = p->cache[i].base; /* Kafka answers a resend with its offset */
                goto out;
            }
        if (seq != p->next_seq) {
            err = ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            goto out;
        }
        p->next_seq += count;
        if (p->ncache == LOG_CACHE) {
            memmove(p->cache, p->cache + 1, (LOG_CACHE - 1) * sizeof(p->cache[0]));
            p->ncache--;
        }
        p->cache[p->ncache].seq = seq;
        p->cache[p->ncache].count = count;
        p->cache[p->ncache++].base = fb->log_end;
    }
    *base = fb->log_end;
    log_put(fb, batch, len,
            (fb_batch_info_t){.attributes = be16(batch + 21),
                              .pid = pid,
                              .epoch = epoch,
                              .base_seq = seq,
                              .count = count,
                              .marker = -1});
out:
    if (err == ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && !fb->st.out_of_order++) {
        fb->st.first_ooo_ms = fb_now_ms();
        snprintf(fb->st.first_ooo, sizeof(fb->st.first_ooo),
                 "producer id %lld sequence %d (%d records) while at %lld/%d", (long long)pid,
                 seq, count, (long long)(p ? p->pid : -1), p ? p->next_seq : 0);
    }
    pthread_mutex_unlock(&fb->lock);
    return err;
}

/* ---------------------------------------------------------------- transactions
 *
 * Everything here runs under the lock, on the broker thread. */

/* A slot for a new transactional id, its producer id given; NULL when all
 * TXN_IDS are taken. */
static ftxn_t *txn_new(fake_broker_t *fb, const char *id, int16_t n) {
    for (int i = 0; i < TXN_IDS; i++) {
        ftxn_t *t = &fb->txns[i];
        if (!t->id[0]) {
            memset(t, 0, sizeof(*t));
            str_copy(t->id, id, n);
            t->pid = 1000 + fb->pids++;
            t->prev_pid = t->end_pid = -1;
            t->epoch = t->last_epoch = -1;
            return t;
        }
    }
    return NULL;
}

/* The transactional id owning this producer id, or NULL. */
static ftxn_t *txn_by_pid(fake_broker_t *fb, int64_t pid) {
    for (int i = 0; i < TXN_IDS; i++)
        if (fb->txns[i].id[0] && fb->txns[i].epoch >= 0 &&
            (fb->txns[i].pid == pid || fb->txns[i].prev_pid == pid))
            return &fb->txns[i];
    return NULL;
}

/* The next epoch (the first: txn_start_epoch); one that would reach 32767
 * is exhausted: a new producer id at epoch 0 (Kafka's
 * isProducerEpochExhausted). */
static void txn_bump(fake_broker_t *fb, ftxn_t *t) {
    if (t->epoch < 0) {
        t->epoch = fb->txn_start_epoch;
    } else if (t->epoch + 1 >= EPOCH_MAX) {
        t->prev_pid = t->pid;
        t->pid = 1000 + fb->pids++;
        t->epoch = 0;
    } else {
        t->epoch++;
    }
}

/* Open a transaction if none is. */
static void txn_join(ftxn_t *t) {
    if (!t->open) {
        t->open = 1;
        t->opened_ms = fb_now_ms();
    }
}

/* End the open transaction (or, for an abort, the empty one): a marker of
 * marker_epoch on partition 0 if it joined, its offsets committed or
 * dropped, the outcome kept for retries. */
static void txn_end(fake_broker_t *fb, ftxn_t *t, int commit, int16_t marker_epoch) {
    if (t->p0)
        log_marker(fb, t->pid, marker_epoch, commit);
    for (int i = 0; commit && i < t->npending; i++) {
        const foffset_t *o = &t->pending[i];
        foffset_t *c = offset_find(fb->committed, fb->ncommitted, o->group, o->topic, o->partition);
        if (!c && fb->ncommitted < MAX_OFFSETS)
            c = &fb->committed[fb->ncommitted++];
        if (c)
            *c = *o;
    }
    t->npending = t->ngroups = t->open = t->p0 = 0;
    t->end_pid = t->pid;
    t->end_epoch = t->epoch;
    t->end_commit = commit;
}

/* The broker aborts a transaction past its timeout: marker, epoch bumped,
 * the old epoch remembered. */
static void txn_time_out(fake_broker_t *fb, ftxn_t *t) {
    int16_t old = t->epoch;
    txn_end(fb, t, 0, (int16_t)(old + 1));
    t->timeouts++;
    fb->st.txn_timeouts++;
    txn_bump(fb, t);
    t->last_epoch = old;
}

/* Abort the transactions past their time; returns when the next one is
 * due (INT64_MAX: none open). */
static int64_t txn_expire(fake_broker_t *fb, int64_t now) {
    int64_t next = INT64_MAX;
    for (int i = 0; i < TXN_IDS; i++) {
        ftxn_t *t = &fb->txns[i];
        if (!t->id[0] || !t->open)
            continue;
        int64_t due = t->opened_ms + t->timeout_ms;
        if (now >= due)
            txn_time_out(fb, t);
        else if (due < next)
            next = due;
    }
    return next;
}

/* Is (pid, epoch) the epoch the broker aborted on timeout? */
static int txn_is_last(const ftxn_t *t, int64_t pid, int16_t epoch) {
    return t->last_epoch >= 0 && epoch == t->last_epoch && (pid == t->pid || pid == t->prev_pid);
}

/* Is (pid, epoch) the current producer of t? 0, or the coordinator's error
 * before the per-version conversions: TRANSACTION_ABORTABLE for the epoch
 * aborted on timeout, PRODUCER_FENCED for another epoch. */
static int16_t txn_check(fake_broker_t *fb, const ftxn_t *t, int64_t pid, int16_t epoch) {
    int16_t e = 0;
    if (!t || t->epoch < 0)
        return ERR_INVALID_PRODUCER_ID_MAPPING;
    if (txn_is_last(t, pid, epoch))
        e = ERR_TRANSACTION_ABORTABLE;
    else if (pid != t->pid && pid != t->prev_pid)
        return ERR_INVALID_PRODUCER_ID_MAPPING;
    else if (pid != t->pid || epoch != t->epoch)
        e = ERR_PRODUCER_FENCED;
    if (e)
        fb->st.fenced++;
    return e;
}

/* InitProducerId with a transactional id: fence or bump (see fakebroker.h). */
static int16_t txn_init(fake_broker_t *fb, const char *id, int16_t n, int32_t timeout_ms,
                        int64_t pid, int16_t epoch, int64_t *out_pid, int16_t *out_epoch) {
    if (timeout_ms <= 0 || timeout_ms > TXN_MAX_TIMEOUT_MS)
        return ERR_INVALID_TRANSACTION_TIMEOUT;
    ftxn_t *t = txn_find(fb, id, n);
    if (!t && !(t = txn_new(fb, id, n)))
        return ERR_COORDINATOR_NOT_AVAILABLE;
    if (pid == -1 && epoch == -1) {
        /* a new producer for the id: the older epochs are fenced */
    } else if (t->epoch >= 0 && ((pid == t->pid && epoch == t->epoch) || txn_is_last(t, pid, epoch))) {
        /* KIP-360: the current producer recovers with a new epoch */
    } else if (t->epoch < 0 || (pid != t->pid && pid != t->prev_pid)) {
        return ERR_INVALID_PRODUCER_ID_MAPPING;
    } else {
        fb->st.fenced++;
        return ERR_PRODUCER_FENCED;
    }
    if (t->open) {
        txn_end(fb, t, 0, (int16_t)(t->epoch + 1));
        fb->st.txn_fenced_aborts++;
    }
    txn_bump(fb, t);
    t->last_epoch = -1;
    t->end_pid = -1; /* an EndTxn of an older epoch is no retry */
    t->timeout_ms = timeout_ms;
    t->inits++;
    *out_pid = t->pid;
    *out_epoch = t->epoch;
    return 0;
}

/* EndTxn (see fakebroker.h); out_pid, out_epoch: what v5 answers. */
static int16_t txn_endtxn(fake_broker_t *fb, int16_t ver, const char *id, int16_t n, int64_t pid,
                          int16_t epoch, int commit, int64_t *out_pid, int16_t *out_epoch) {
    int tv2 = fb->txn_version >= 2 && ver >= 5;
    ftxn_t *t = txn_find(fb, id, n);
    if (!t || t->epoch < 0)
        return ERR_INVALID_PRODUCER_ID_MAPPING;
    *out_pid = t->pid;
    *out_epoch = t->epoch;
    if (txn_is_last(t, pid, epoch)) { /* the broker aborted it on timeout */
        fb->st.fenced += commit;
        return commit ? ERR_TRANSACTION_ABORTABLE : 0;
    }
    if (!t->open && t->end_pid == pid && t->end_epoch == epoch) /* a retry */
        return t->end_commit == commit ? 0 : ERR_INVALID_TXN_STATE;
    int16_t e = txn_check(fb, t, pid, epoch);
    if (e)
        return e;
    if (!t->open && commit)
        return ERR_INVALID_TXN_STATE;
    if (t->open && commit)
        t->commits++, fb->st.txn_commits++;
    else if (t->open)
        t->aborts++, fb->st.txn_aborts++;
    txn_end(fb, t, commit, (int16_t)(tv2 ? t->epoch + 1 : t->epoch));
    if (tv2)
        txn_bump(fb, t);
    *out_pid = t->pid;
    *out_epoch = t->epoch;
    return 0;
}

/* ---------------------------------------------------------------- the APIs */

/* A handler appends the response body after the response header, for a
 * version within its row's range (r and out in the flexible form when the
 * version is); the fault is for the parts it builds (FB_F_ARRAY_HUGE,
 * FB_F_STRING_HUGE, the Metadata ones), inj an error fb_set_api_error()
 * gives: answered in every error field, the request not acted on. Returns
 * -1 for a request it cannot parse. */
typedef int fb_handler_fn(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                          wb_t *out);

static fb_handler_fn fb_apiversions, fb_metadata, fb_initpid, fb_produce, fb_findcoord,
    fb_addparts, fb_addoffsets, fb_endtxn, fb_txncommit;

/* What the broker serves, in the order ApiVersions lists it: versions
 * min..max, or min..txn_max with fb_options_t.transactions (max -1: only
 * then); flexible from `flex`. */
static const struct fb_api {
    int16_t key, min, max, txn_max, flex;
    fb_handler_fn *respond;
} fb_apis[] = {
    {FB_API_PRODUCE, 3, 8, 12, 9, fb_produce},
    {FB_API_METADATA, 1, 2, 2, 9, fb_metadata},
    {FB_API_FIND_COORDINATOR, 0, -1, 4, 3, fb_findcoord},
    {FB_API_APIVERSIONS, 0, 2, 3, 3, fb_apiversions},
    {FB_API_INITPID, 0, 1, 5, 2, fb_initpid},
    {FB_API_ADD_PARTITIONS_TO_TXN, 0, -1, 3, 3, fb_addparts},
    {FB_API_ADD_OFFSETS_TO_TXN, 0, -1, 3, 3, fb_addoffsets},
    {FB_API_END_TXN, 0, -1, 5, 3, fb_endtxn},
    {FB_API_TXN_OFFSET_COMMIT, 0, -1, 3, 3, fb_txncommit},
};
#define FB_NAPIS ((int)(sizeof(fb_apis) / sizeof(fb_apis[0])))

static const struct fb_api *fb_api_find(int16_t key) {
    for (int i = 0; i < FB_NAPIS; i++)
        if (fb_apis[i].key == key)
            return &fb_apis[i];
    return NULL;
}

/* The highest version served (-1: the API is not). */
static int16_t fb_api_max(const fake_broker_t *fb, const struct fb_api *a) {
    if (!fb->transactions)
        return a->max;
    if (a->key == FB_API_END_TXN && fb->txn_version < 2)
        return 4; /* v5 is transactions v2's */
    return a->txn_max;
}

/* ApiVersions v3's FinalizedFeatures (tag 2) and its epoch (tag 1). */
static void fb_features(fake_broker_t *fb, wb_t *out) {
    if (!fb->transactions || fb->txn_version <= 0) {
        wb_tags(out);
        return;
    }
    static const char name[] = "transaction.version";
    wb_t v = {.flex = 1};
    wb_arr(&v, 1);
    wb_str(&v, name, sizeof(name) - 1, 0);
    wb_i16(&v, fb->txn_version); /* max level */
    wb_i16(&v, fb->txn_version); /* min level */
    wb_tags(&v);
    wb_uvarint(out, 2);
    wb_uvarint(out, 1); /* FinalizedFeaturesEpoch */
    wb_uvarint(out, 8);
    wb_i64(out, 1);
    wb_uvarint(out, 2); /* FinalizedFeatures */
    wb_uvarint(out, v.len);
    wb_put(out, v.p, v.len);
    free(v.p);
}

static int fb_apiversions(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                          wb_t *out) {
    if (ver >= 3) { /* ClientSoftwareName, ClientSoftwareVersion */
        int16_t n;
        (void)rd_str(r, &n);
        (void)rd_str(r, &n);
        rd_tags(r);
        if (r->err)
            return -1;
    }
    int sasl = fb->sasl_user != NULL, n = 0;
    for (int i = 0; i < FB_NAPIS; i++)
        n += fb_api_max(fb, &fb_apis[i]) >= 0;
    wb_i16(out, inj);
    wb_arr(out, f == FB_F_ARRAY_HUGE ? INT32_MAX : n + 2 * sasl);
    for (int i = 0; i < FB_NAPIS; i++) {
        int16_t max = fb_api_max(fb, &fb_apis[i]);
        if (max < 0)
            continue;
        wb_i16(out, fb_apis[i].key);
        wb_i16(out, fb_apis[i].min);
        wb_i16(out, max);
        wb_tags(out);
    }
    if (sasl) { /* SaslHandshake v0-1, SaslAuthenticate v0-1 (non-flexible) */
        wb_i16(out, FB_API_SASL_HANDSHAKE), wb_i16(out, 0), wb_i16(out, 1), wb_tags(out);
        wb_i16(out, FB_API_SASL_AUTHENTICATE), wb_i16(out, 0), wb_i16(out, 1), wb_tags(out);
    }
    if (ver >= 1)
        wb_i32(out, 0); /* throttle */
    if (ver >= 3)
        fb_features(fb, out);
    return 0;
}

static int fb_metadata(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                       wb_t *out) {
    (void)r;
    int huge_array = f == FB_F_ARRAY_HUGE;
    wb_i32(out, 1); /* brokers */
    wb_i32(out, NODE_ID);
    wb_str(out, fb->host, strlen(fb->host), f == FB_F_STRING_HUGE);
    wb_i32(out, fb->port);
    wb_i16(out, -1); /* rack: null */
    if (ver >= 2)
        wb_str(out, "fake-cluster", 12, 0);
    wb_i32(out, NODE_ID); /* controller */
    wb_i32(out, 1);       /* topics */
    wb_i16(out, inj);
    wb_str(out, fb->topic, strlen(fb->topic), 0);
    wb_i8(out, 0); /* internal */
    if (f == FB_F_NO_PARTITIONS) {
        wb_i32(out, 0); /* partitions: none */
        return 0;
    }
    pthread_mutex_lock(&fb->lock);
    int nparts = fb->partitions > 0 ? fb->partitions : 1;
    pthread_mutex_unlock(&fb->lock);
    wb_i32(out, nparts); /* partitions */
    for (int j = 0; j < nparts; j++) {
        wb_i16(out, inj);
        wb_i32(out, f == FB_F_PARTITION_HUGE ? INT32_MAX : j);
        wb_i32(out, NODE_ID);
        wb_i32(out, huge_array ? INT32_MAX : 1); /* replicas */
        wb_i32(out, NODE_ID);
        wb_i32(out, 1); /* isr */
        wb_i32(out, NODE_ID);
    }
    return 0;
}

static int fb_initpid(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                      wb_t *out) {
    (void)f;
    int16_t n;
    const char *id = rd_str(r, &n); /* transactional id */
    int32_t timeout_ms = rd_i32(r);
    int64_t pid = -1;
    int16_t epoch = -1;
    if (ver >= 3) {
        pid = rd_i64(r);
        epoch = rd_i16(r);
    }
    rd_tags(r);
    if (r->err)
        return -1;
    int16_t err = inj;
    int64_t out_pid = -1;
    int16_t out_epoch = -1;
    if (!err) {
        pthread_mutex_lock(&fb->lock);
        if (!fb->transactions || !id || n == 0) {
            out_pid = 1000 + fb->pids++;
            out_epoch = 0;
        } else {
            err = txn_init(fb, id, n, timeout_ms, pid, epoch, &out_pid, &out_epoch);
        }
        pthread_mutex_unlock(&fb->lock);
        if (err == ERR_PRODUCER_FENCED && ver < 4)
            err = ERR_INVALID_PRODUCER_EPOCH; /* as Kafka, for clients before PRODUCER_FENCED */
    }
    wb_i32(out, 0); /* throttle */
    wb_i16(out, err);
    wb_i64(out, err ? -1 : out_pid);
    wb_i16(out, err ? -1 : out_epoch);
    wb_tags(out);
    return 0;
}

/* The transactional checks of a transactional batch for partition 0 (see
 * fakebroker.h): 0 or the partition's error. */
static int16_t fb_txn_produce(fake_broker_t *fb, int16_t ver, const char *id, int16_t idlen,
                              const uint8_t *batch) {
    if (!fb->transactions)
        return 0;
    int64_t pid = be64(batch + 43);
    int16_t epoch = be16(batch + 51), e = 0;
    pthread_mutex_lock(&fb->lock);
    ftxn_t *t = txn_by_pid(fb, pid);
    if (!id || !t || !str_is(id, idlen, t->id)) {
        e = ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        fb->st.txn_id_mismatch++;
    } else if (txn_is_last(t, pid, epoch)) {
        e = ver >= 11 ? ERR_TRANSACTION_ABORTABLE : ERR_INVALID_PRODUCER_EPOCH;
        fb->st.fenced++;
    } else if (pid != t->pid || epoch != t->epoch) {
        e = ERR_INVALID_PRODUCER_EPOCH;
        fb->st.fenced++;
    } else if (!t->p0 && fb->txn_version >= 2 && ver >= 12) {
        txn_join(t); /* transactions v2: the partition joins with its first batch */
        t->p0 = 1;
        fb->st.implicit_adds++;
    } else if (!t->p0) {
        e = ERR_INVALID_TXN_STATE;
        fb->st.not_in_txn++;
    }
    pthread_mutex_unlock(&fb->lock);
    return e;
}

static int fb_produce(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                      wb_t *out) {
    enum { MAXP = 16 };
    struct {
        const char *topic;
        int16_t tlen;
        int32_t partition;
        const uint8_t *batch;
        int32_t blen;
        int16_t err;
        int64_t base;
    } res[MAXP];
    int nres = 0, ntopics = 0;
    int16_t idlen;
    const char *id = rd_str(r, &idlen); /* transactional id */
    (void)rd_i16(r);                    /* acks */
    (void)rd_i32(r);                    /* timeout */
    int32_t nt = rd_arr(r);
    if (r->err || nt < 0 || nt > MAXP)
        return -1;
    for (int32_t t = 0; t < nt; t++) {
        int16_t tlen;
        const char *topic = rd_str(r, &tlen);
        int32_t np = rd_arr(r);
        if (r->err || !topic || np < 0 || nres + np > MAXP)
            return -1;
        for (int32_t k = 0; k < np; k++) {
            res[nres].partition = rd_i32(r);
            res[nres].batch = rd_bytes(r, &res[nres].blen);
            rd_tags(r);
            if (r->err || !res[nres].batch || res[nres].blen <= 0)
                return -1;
            res[nres].topic = topic;
            res[nres].tlen = tlen;
            res[nres].base = -1;
            nres++;
        }
        ntopics += np > 0;
        rd_tags(r);
    }
    rd_tags(r);
    if (r->err)
        return -1;
    for (int i = 0; i < nres; i++) {
        const uint8_t *batch = res[i].batch;
        if (inj) {
            res[i].err = inj;
        } else if (res[i].tlen != (int16_t)strlen(fb->topic) ||
                   memcmp(res[i].topic, fb->topic, (size_t)res[i].tlen) || res[i].partition != 0) {
            res[i].err = ERR_UNKNOWN_TOPIC_OR_PARTITION;
            fb_count(fb, &fb->st.unknown_partitions);
        } else if (res[i].blen >= 61 && (be16(batch + 21) & ATTR_TRANSACTIONAL) &&
                   (res[i].err = fb_txn_produce(fb, ver, id, idlen, batch))) {
            /* refused */
        } else if (!(res[i].err = fb_next_produce_error(fb))) {
            res[i].err = fb_append(fb, batch, (size_t)res[i].blen, &res[i].base);
        }
    }
    /* one topic entry per request topic, in order */
    wb_arr(out, ntopics);
    for (int i = 0; i < nres;) {
        int j = i;
        while (j < nres && res[j].topic == res[i].topic)
            j++;
        wb_str(out, res[i].topic, (size_t)res[i].tlen, f == FB_F_STRING_HUGE);
        wb_arr(out, f == FB_F_ARRAY_HUGE ? INT32_MAX : j - i);
        for (int k = i; k < j; k++) {
            wb_i32(out, res[k].partition);
            wb_i16(out, res[k].err);
            wb_i64(out, res[k].base);
            wb_i64(out, -1); /* log append time: CreateTime */
            if (ver >= 5)
                wb_i64(out, 0); /* log start offset */
            if (ver >= 8) { /* KIP-467: record errors, and the message */
                pthread_mutex_lock(&fb->lock);
                int with = res[k].err && res[k].err == fb->perr && !inj;
                int nrec = with ? fb->perr_nrecords : 0;
                wb_arr(out, nrec);
                for (int e = 0; e < nrec; e++) {
                    char m[64];
                    int ml = snprintf(m, sizeof(m), "record %d is bad", (int)fb->perr_records[e]);
                    wb_i32(out, fb->perr_records[e]);
                    wb_str(out, m, (size_t)ml, 0);
                    wb_tags(out);
                }
                if (with && fb->perr_message[0])
                    wb_cstr(out, fb->perr_message);
                else
                    wb_null(out); /* no message */
                pthread_mutex_unlock(&fb->lock);
            }
            wb_tags(out);
        }
        wb_tags(out);
        i = j;
    }
    wb_i32(out, 0); /* throttle */
    wb_tags(out);
    return 0;
}

/* The coordinator's answer for one key: itself, or the error. */
static void fb_coordinator(fake_broker_t *fb, int16_t err, wb_t *out) {
    wb_i32(out, err ? -1 : NODE_ID);
    wb_cstr(out, err ? "" : fb->host);
    wb_i32(out, err ? -1 : fb->port);
}

static int fb_findcoord(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                        wb_t *out) {
    (void)f;
    enum { MAXK = 8 };
    const char *keys[MAXK];
    int16_t klens[MAXK];
    int32_t nk = 1;
    int8_t type = 0;
    if (ver <= 3) {
        keys[0] = rd_str(r, &klens[0]);
        if (ver >= 1)
            type = rd_i8(r);
    } else {
        type = rd_i8(r);
        nk = rd_arr(r);
        if (r->err || nk < 0 || nk > MAXK)
            return -1;
        for (int32_t i = 0; i < nk; i++)
            keys[i] = rd_str(r, &klens[i]);
    }
    rd_tags(r);
    if (r->err)
        return -1;
    for (int32_t i = 0; i < nk; i++)
        if (!keys[i])
            return -1;
    int16_t err = inj ? inj : type == 0 || type == 1 ? 0 : ERR_INVALID_REQUEST;
    if (type == 0 || type == 1) {
        pthread_mutex_lock(&fb->lock);
        fb->st.coordinator_lookups[type] += nk;
        pthread_mutex_unlock(&fb->lock);
    }
    if (ver >= 1)
        wb_i32(out, 0); /* throttle */
    if (ver <= 3) {
        wb_i16(out, err);
        if (ver >= 1)
            wb_null(out); /* error message */
        fb_coordinator(fb, err, out);
    } else {
        wb_arr(out, nk);
        for (int32_t i = 0; i < nk; i++) {
            wb_str(out, keys[i], (size_t)klens[i], 0);
            fb_coordinator(fb, err, out);
            wb_i16(out, err);
            wb_null(out);
            wb_tags(out);
        }
    }
    wb_tags(out);
    return 0;
}

/* Topics and partitions of a request (AddPartitionsToTxn,
 * TxnOffsetCommit): the partitions in order, each with its topic. */
typedef struct fb_tp {
    const char *topic;
    int16_t tlen;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *meta;
    int16_t mlen;
    int16_t err;
} fb_tp_t;

/* The answer both APIs share: per topic, its partitions and their errors. */
static void fb_tp_answer(const fb_tp_t *tp, int n, wb_t *out) {
    int ntopics = 0;
    for (int i = 0; i < n; i++)
        ntopics += i == 0 || tp[i].topic != tp[i - 1].topic;
    wb_i32(out, 0); /* throttle */
    wb_arr(out, ntopics);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && tp[j].topic == tp[i].topic)
            j++;
        wb_str(out, tp[i].topic, (size_t)tp[i].tlen, 0);
        wb_arr(out, j - i);
        for (int k = i; k < j; k++) {
            wb_i32(out, tp[k].partition);
            wb_i16(out, tp[k].err);
            wb_tags(out);
        }
        wb_tags(out);
        i = j;
    }
    wb_tags(out);
}

static int fb_addparts(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                       wb_t *out) {
    (void)f;
    fb_tp_t tp[MAX_REQ_PARTS];
    int n = 0;
    int16_t idlen;
    const char *id = rd_str(r, &idlen);
    int64_t pid = rd_i64(r);
    int16_t epoch = rd_i16(r);
    int32_t nt = rd_arr(r);
    if (r->err || !id || nt < 0)
        return -1;
    for (int32_t t = 0; t < nt; t++) {
        int16_t tlen;
        const char *topic = rd_str(r, &tlen);
        int32_t np = rd_arr(r);
        if (r->err || !topic || np < 0 || n + np > MAX_REQ_PARTS)
            return -1;
        for (int32_t k = 0; k < np; k++)
            tp[n++] = (fb_tp_t){.topic = topic, .tlen = tlen, .partition = rd_i32(r)};
        rd_tags(r);
    }
    rd_tags(r);
    if (r->err)
        return -1;
    int16_t err = inj;
    int unknown = 0;
    for (int i = 0; i < n; i++)
        unknown += !str_is(tp[i].topic, tp[i].tlen, fb->topic) || tp[i].partition != 0;
    if (!err) {
        pthread_mutex_lock(&fb->lock);
        ftxn_t *t = txn_find(fb, id, idlen);
        err = txn_check(fb, t, pid, epoch);
        if (err == ERR_TRANSACTION_ABORTABLE) /* only v4+ (brokers') answer it */
            err = ERR_INVALID_PRODUCER_EPOCH;
        if (err == ERR_PRODUCER_FENCED && ver < 2)
            err = ERR_INVALID_PRODUCER_EPOCH;
        if (!err && !unknown && n > 0) {
            txn_join(t);
            t->p0 = 1;
        }
        pthread_mutex_unlock(&fb->lock);
    }
    for (int i = 0; i < n; i++) {
        int bad = !str_is(tp[i].topic, tp[i].tlen, fb->topic) || tp[i].partition != 0;
        tp[i].err = err        ? err
                    : bad      ? ERR_UNKNOWN_TOPIC_OR_PARTITION
                    : unknown  ? ERR_OPERATION_NOT_ATTEMPTED
                               : 0;
    }
    fb_tp_answer(tp, n, out);
    return 0;
}

static int fb_addoffsets(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                         wb_t *out) {
    (void)f;
    int16_t idlen, glen;
    const char *id = rd_str(r, &idlen);
    int64_t pid = rd_i64(r);
    int16_t epoch = rd_i16(r);
    const char *group = rd_str(r, &glen);
    rd_tags(r);
    if (r->err || !id || !group)
        return -1;
    int16_t err = inj;
    if (!err) {
        pthread_mutex_lock(&fb->lock);
        ftxn_t *t = txn_find(fb, id, idlen);
        err = txn_check(fb, t, pid, epoch);
        if (err == ERR_PRODUCER_FENCED && ver < 2)
            err = ERR_INVALID_PRODUCER_EPOCH;
        if (!err) {
            txn_join(t);
            int have = 0;
            for (int i = 0; i < t->ngroups; i++)
                have |= str_is(group, glen, t->groups[i]);
            if (!have && t->ngroups < TXN_GROUPS)
                str_copy(t->groups[t->ngroups++], group, glen);
        }
        pthread_mutex_unlock(&fb->lock);
    }
    wb_i32(out, 0); /* throttle */
    wb_i16(out, err);
    wb_tags(out);
    return 0;
}

static int fb_txncommit(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                        wb_t *out) {
    (void)f;
    fb_tp_t tp[MAX_REQ_PARTS];
    int n = 0;
    int16_t idlen, glen, mlen = 0, ilen = -1;
    const char *id = rd_str(r, &idlen);
    const char *group = rd_str(r, &glen);
    int64_t pid = rd_i64(r);
    int16_t epoch = rd_i16(r);
    int32_t generation = -1;
    const char *member = NULL, *instance = NULL;
    if (ver >= 3) {
        generation = rd_i32(r);
        member = rd_str(r, &mlen);
        instance = rd_str(r, &ilen);
    }
    int32_t nt = rd_arr(r);
    if (r->err || !id || !group || nt < 0 || (ver >= 3 && !member))
        return -1;
    for (int32_t t = 0; t < nt; t++) {
        int16_t tlen;
        const char *topic = rd_str(r, &tlen);
        int32_t np = rd_arr(r);
        if (r->err || !topic || np < 0 || n + np > MAX_REQ_PARTS)
            return -1;
        for (int32_t k = 0; k < np; k++, n++) {
            tp[n] = (fb_tp_t){.topic = topic, .tlen = tlen, .leader_epoch = -1};
            tp[n].partition = rd_i32(r);
            tp[n].offset = rd_i64(r);
            if (ver >= 2)
                tp[n].leader_epoch = rd_i32(r);
            tp[n].meta = rd_str(r, &tp[n].mlen);
            rd_tags(r);
        }
        rd_tags(r);
    }
    rd_tags(r);
    if (r->err)
        return -1;
    int16_t err = inj;
    if (!err) {
        pthread_mutex_lock(&fb->lock);
        ftxn_t *t = txn_find(fb, id, idlen);
        err = txn_check(fb, t, pid, epoch);
        if (err == ERR_TRANSACTION_ABORTABLE)
            err = ERR_PRODUCER_FENCED;
        int added = 0;
        for (int i = 0; !err && i < t->ngroups; i++)
            added |= str_is(group, glen, t->groups[i]);
        if (!err && !added)
            err = ERR_INVALID_TXN_STATE; /* no AddOffsetsToTxn for the group */
        for (int i = 0; !err && i < n; i++) {
            foffset_t o = {.partition = tp[i].partition, .offset = tp[i].offset};
            str_copy(o.group, group, glen);
            str_copy(o.topic, tp[i].topic, tp[i].tlen);
            o.gm.generation_id = generation;
            str_copy(o.gm.member_id, member, mlen);
            str_copy(o.gm.group_instance_id, instance, ilen);
            o.gm.has_group_instance_id = instance != NULL;
            o.gm.leader_epoch = tp[i].leader_epoch;
            str_copy(o.gm.metadata, tp[i].meta, tp[i].mlen);
            o.gm.version = ver;
            foffset_t *p = offset_find(t->pending, t->npending, o.group, o.topic, o.partition);
            if (!p && t->npending < MAX_OFFSETS)
                p = &t->pending[t->npending++];
            if (p)
                *p = o;
            else
                tp[i].err = ERR_UNKNOWN_SERVER_ERROR; /* more than MAX_OFFSETS */
        }
        pthread_mutex_unlock(&fb->lock);
    }
    for (int i = 0; err && i < n; i++)
        tp[i].err = err;
    fb_tp_answer(tp, n, out);
    return 0;
}

static int fb_endtxn(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, int16_t inj,
                     wb_t *out) {
    (void)f;
    int16_t idlen;
    const char *id = rd_str(r, &idlen);
    int64_t pid = rd_i64(r);
    int16_t epoch = rd_i16(r);
    int8_t commit = rd_i8(r);
    rd_tags(r);
    if (r->err || !id)
        return -1;
    int16_t err = inj;
    int64_t out_pid = -1;
    int16_t out_epoch = -1;
    if (!err) {
        pthread_mutex_lock(&fb->lock);
        err = txn_endtxn(fb, ver, id, idlen, pid, epoch, commit != 0, &out_pid, &out_epoch);
        pthread_mutex_unlock(&fb->lock);
        if (err == ERR_PRODUCER_FENCED && ver < 2)
            err = ERR_INVALID_PRODUCER_EPOCH;
    }
    wb_i32(out, 0); /* throttle */
    wb_i16(out, err);
    if (ver >= 5) {
        wb_i64(out, err ? -1 : out_pid);
        wb_i16(out, err ? -1 : out_epoch);
    }
    wb_tags(out);
    return 0;
}
/* ---------------------------------------------------------------- connections */

static void fb_conn_drop(fake_broker_t *fb, int i) {
    close(fb->conns[i].fd);
    free(fb->conns[i].buf);
    free(fb->conns[i].held_body.p);
    fb->conns[i] = fb->conns[--fb->nconns];
}

static void fb_send_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client went away: its business */
        b += w;
        n -= (size_t)w;
    }
}

static void fb_send_frame(int fd, int32_t size, const void *body, size_t n) {
    wb_t w = {0};
    wb_i32(&w, size);
    wb_put(&w, body, n);
    fb_send_all(fd, w.p, w.len);
    free(w.p);
}

/* body under another correlation id (its first 4 bytes replaced) */
static void fb_send_recorrelated(int fd, int32_t corrid, const uint8_t *b, size_t n) {
    wb_t w = {0};
    wb_i32(&w, corrid);
    wb_put(&w, b + 4, n - 4);
    fb_send_frame(fd, (int32_t)w.len, w.p, w.len);
    free(w.p);
}

/* Send the response as the fault says. Returns -1 when the connection is to
 * be closed. */
static int fb_deliver(fake_broker_t *fb, fconn_t *c, fb_fault_t f, const wb_t *body) {
    const uint8_t *b = body->p;
    size_t n = body->len, half = n / 2;
    switch (f) {
    case FB_F_NONE:
    case FB_F_ARRAY_HUGE:
    case FB_F_STRING_HUGE:
    case FB_F_PARTITION_HUGE:
    case FB_F_NO_PARTITIONS: fb_send_frame(c->fd, (int32_t)n, b, n); return 0;
    case FB_F_TRUNCATED: fb_send_frame(c->fd, (int32_t)half, b, half); return 0;
    case FB_F_STALLED:
        fb_send_frame(c->fd, (int32_t)n, b, half);
        c->stalled = 1;
        return 0;
    case FB_F_SIZE_ZERO: fb_send_frame(c->fd, 0, b, n); return 0;
    case FB_F_SIZE_NEGATIVE: fb_send_frame(c->fd, -5, b, n); return 0;
    case FB_F_SIZE_OVER_MAX: fb_send_frame(c->fd, 100 * 1024 * 1024 + 1, b, n); return 0;
    case FB_F_SIZE_HUGE: fb_send_frame(c->fd, 200 * 1024 * 1024, b, n); return 0;
    case FB_F_GARBAGE:
    case FB_F_GARBAGE_FRAME: {
        uint8_t g[GARBAGE_LEN];
        size_t at = 0;
        if (f == FB_F_GARBAGE) {
            memcpy(g, b, 4); /* the right correlation id */
            at = 4;
        }
        if (fb->fill_random)
            fb->fill_random(g + at, sizeof(g) - at, &fb->rng);
        else
            memset(g + at, 0xa5, sizeof(g) - at);
        pthread_mutex_lock(&fb->lock);
        memcpy(fb->garbage, g, sizeof(g));
        fb->garbage_len = sizeof(g);
        pthread_mutex_unlock(&fb->lock);
        fb_send_frame(c->fd, (int32_t)sizeof(g), g, sizeof(g));
        return 0;
    }
    case FB_F_WRONG_CORRID:
        fb_send_recorrelated(c->fd, (int32_t)be32(b) + 1000, b, n);
        return 0;
    case FB_F_CLOSE_MID_FRAME: fb_send_frame(c->fd, (int32_t)n, b, half); return -1;
    case FB_F_CLOSE_MID_SIZE: fb_send_all(c->fd, "\0\0", 2); return -1;
    case FB_F_UNSOLICITED:
        fb_send_recorrelated(c->fd, 0x7fff0000, b, n); /* no request ever had this id */
        fb_send_frame(c->fd, (int32_t)n, b, n);
        return 0;
    case FB_F_AFTER_ANSWER:
        fb_send_frame(c->fd, (int32_t)n, b, n);
        fb_send_frame(c->fd, (int32_t)n, b, n);
        c->dup_sent = 1;
        return 0;
    case FB_F_COUNT: break;
    }
    return 0;
}

/* SASL PLAIN, as a Kafka broker's SaslServerAuthenticator: SaslHandshake
 * (v0-1) for PLAIN only, then SaslAuthenticate (v0-1) with
 * "authzid NUL user NUL password". Returns -1 to close. */
static int fb_sasl(fake_broker_t *fb, fconn_t *c, int16_t api, int16_t ver, int32_t corrid,
                   rd_t *r) {
    wb_t body = {0};
    int close_after = 0;
    wb_i32(&body, corrid);
    if (api == FB_API_SASL_HANDSHAKE) {
        int16_t n;
        const char *mech = rd_str(r, &n);
        int ok = !r->err && mech && n == 5 && !memcmp(mech, "PLAIN", 5);
        wb_i16(&body, ok ? 0 : ERR_UNSUPPORTED_SASL_MECHANISM);
        wb_i32(&body, 1);
        wb_str(&body, "PLAIN", 5, 0);
        close_after = !ok;
        pthread_mutex_lock(&fb->lock);
        fb->st.sasl_handshakes++;
        pthread_mutex_unlock(&fb->lock);
    } else {
        int32_t n = rd_i32(r);
        const uint8_t *p = n >= 0 ? rd_take(r, (size_t)n) : NULL;
        size_t ul = strlen(fb->sasl_user), pl = strlen(fb->sasl_password);
        /* "" NUL user NUL password */
        int ok = p && (size_t)n == 2 + ul + pl && p[0] == 0 && !memcmp(p + 1, fb->sasl_user, ul) &&
                 p[1 + ul] == 0 && !memcmp(p + 2 + ul, fb->sasl_password, pl);
        static const char bad[] = "Invalid username or password";
        wb_i16(&body, ok ? 0 : ERR_SASL_AUTHENTICATION_FAILED);
        if (ok)
            wb_i16(&body, -1);
        else
            wb_str(&body, bad, sizeof(bad) - 1, 0);
        wb_i32(&body, 0); /* auth bytes: none */
        if (ver >= 1)
            wb_i64(&body, 0); /* session lifetime: none */
        c->authenticated = ok;
        close_after = !ok;
        pthread_mutex_lock(&fb->lock);
        if (ok)
            fb->st.sasl_authenticated++;
        else
            fb->st.sasl_refused++;
        pthread_mutex_unlock(&fb->lock);
    }
    int rc = fb_deliver(fb, c, FB_F_NONE, &body);
    free(body.p);
    return close_after ? -1 : rc;
}

/* One complete request frame (without its size). Returns -1 to close. */
static int fb_request(fake_broker_t *fb, fconn_t *c, const uint8_t *p, size_t len) {
    rd_t r = {p, len, 0, 0, 0};
    int16_t api = rd_i16(&r), ver = rd_i16(&r);
    int32_t corrid = rd_i32(&r);
    int16_t clen;
    const char *cid = rd_str(&r, &clen);
    if (r.err || (fb->client_id && (!cid || clen != (int16_t)strlen(fb->client_id) ||
                                    memcmp(cid, fb->client_id, (size_t)clen)))) {
        fb_bad_request(fb, "header or client id");
        return -1;
    }
    if (fb->sasl_user && (api == FB_API_SASL_HANDSHAKE || api == FB_API_SASL_AUTHENTICATE))
        return fb_sasl(fb, c, api, ver, corrid, &r);
    if (fb->sasl_user && !c->authenticated && api != FB_API_APIVERSIONS) {
        fb_bad_request(fb, "a request before SASL authentication");
        return -1;
    }
    const struct fb_api *a = fb_api_find(api);
    int16_t max = a ? fb_api_max(fb, a) : -1;
    if (max < 0)
        a = NULL; /* not served */
    if (a && a->key < FB_API_KEYS)
        fb_count(fb, &fb->st.requests[a->key]);
    if (c->stalled)
        return 0; /* the client waits for the rest of a frame that never comes */
    int64_t now = fb_now_ms();
    pthread_mutex_lock(&fb->lock);
    (void)txn_expire(fb, now); /* no request sees a transaction past its time open */
    pthread_mutex_unlock(&fb->lock);
    fb_fault_t f = fb_next_fault(fb, api);
    if (f != FB_F_NONE && !c->faulted) {
        c->faulted = 1;
        fb_count(fb, &fb->st.faulted_conns);
    }
    wb_t body = {0};
    int rc = -1;
    if (a && ver >= a->min && ver <= max) {
        int flex = ver >= a->flex;
        r.flex = flex;
        rd_tags(&r); /* request header v2 */
        body.flex = flex;
        wb_i32(&body, corrid);
        if (api != FB_API_APIVERSIONS) /* whose answer keeps header v0 */
            wb_tags(&body); /* response header v1 */
        if (!r.err)
            rc = a->respond(fb, ver, &r, f, fb_next_api_error(fb, api), &body);
        if (rc == 0 && a->key < FB_API_KEYS) {
            pthread_mutex_lock(&fb->lock);
            fb->st.versions[a->key] |= 1u << ver;
            pthread_mutex_unlock(&fb->lock);
        }
    } else if (a && api == FB_API_APIVERSIONS && ver > max && !fb->apiversions_hangs_up) {
        /* as Kafka 2.4+: UNSUPPORTED_VERSION in the v0 form with only its
         * own ApiVersions range, whatever version was asked */
        wb_i32(&body, corrid);
        wb_i16(&body, ERR_UNSUPPORTED_VERSION);
        wb_i32(&body, 1);
        wb_i16(&body, a->key);
        wb_i16(&body, a->min);
        wb_i16(&body, max);
        fb_count(fb, &fb->st.apiversions_refused);
        rc = 0;
    }
    if (rc < 0) {
        char why[64];
        snprintf(why, sizeof(why), "api %d version %d", api, ver);
        fb_bad_request(fb, why);
        free(body.p);
        return -1;
    }
    int delay = fb_next_delay(fb, api);
    if (delay > 0) { /* sent by fb_main when due; the connection waits */
        c->held = 1;
        c->held_body = body;
        c->held_fault = f;
        c->held_until = now + delay;
        return 0;
    }
    rc = fb_deliver(fb, c, f, &body);
    free(body.p);
    return rc;
}

/* Handle every complete frame the connection has buffered, until one's
 * answer is held. Returns -1 to close. */
static int fb_frames(fake_broker_t *fb, fconn_t *c) {
    size_t off = 0;
    while (!c->held && c->len - off >= 4) {
        int32_t size = (int32_t)be32(c->buf + off);
        if (size < 8 || size > 64 * 1024 * 1024) {
            fb_bad_request(fb, "request frame size");
            return -1;
        }
        if (c->len - off - 4 < (size_t)size)
            break;
        if (fb_request(fb, c, c->buf + off + 4, (size_t)size) < 0)
            return -1;
        off += 4 + (size_t)size;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return 0;
}

/* Read what the connection has; handle every complete frame. */
static int fb_read(fake_broker_t *fb, fconn_t *c) {
    if (c->cap - c->len < 65536) {
        uint8_t *nb = realloc(c->buf, c->cap + 65536);
        if (!nb)
            abort();
        c->buf = nb;
        c->cap += 65536;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    c->len += (size_t)n;
    pthread_mutex_lock(&fb->lock);
    fb->st.bytes_in += n;
    pthread_mutex_unlock(&fb->lock);
    return fb_frames(fb, c);
}

/* Send the held answers that are due, then handle the frames waiting
 * behind them; returns when the next held one is due (INT64_MAX: none). */
static int64_t fb_release(fake_broker_t *fb, int64_t now) {
    int64_t next = INT64_MAX;
    for (int i = fb->nconns - 1; i >= 0; i--) {
        fconn_t *c = &fb->conns[i];
        if (!c->held)
            continue;
        if (c->held_until > now) {
            if (c->held_until < next)
                next = c->held_until;
            continue;
        }
        c->held = 0;
        int rc = fb_deliver(fb, c, c->held_fault, &c->held_body);
        free(c->held_body.p);
        c->held_body = (wb_t){0};
        if (rc < 0 || fb_frames(fb, c) < 0)
            fb_conn_drop(fb, i);
        else if (c->held && c->held_until < next)
            next = c->held_until;
    }
    return next;
}

static void *fb_main(void *arg) {
    fake_broker_t *fb = arg;
    for (;;) {
        int64_t now = fb_now_ms(), next = fb_release(fb, now);
        pthread_mutex_lock(&fb->lock);
        int64_t due = txn_expire(fb, now);
        pthread_mutex_unlock(&fb->lock);
        if (due < next)
            next = due;
        int timeout = next == INT64_MAX ? -1 : next - now > 60000 ? 60000 : (int)(next - now);
        struct pollfd pfd[2 + MAX_CONNS];
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = fb->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = fb->lfd, .events = POLLIN};
        /* a connection with an answer held is not read (Kafka mutes it);
         * only its errors and hang-ups come */
        for (int i = 0; i < fb->nconns; i++)
            pfd[n++] = (struct pollfd){.fd = fb->conns[i].fd,
                                       .events = fb->conns[i].held ? 0 : POLLIN};
        if (poll(pfd, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        /* connections from the back, so dropping one (moving the last into
         * its slot) leaves the ones still to look at in place */
        for (int i = n - 1; i >= 2; i--)
            if (pfd[i].revents &&
                (fb->conns[i - 2].held || fb_read(fb, &fb->conns[i - 2]) < 0)) {
                if (fb->conns[i - 2].dup_sent)
                    fb_count(fb, &fb->st.dup_closed);
                fb_conn_drop(fb, i - 2);
            }
        if (pfd[1].revents & POLLIN) {
            int fd = accept4(fb->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && fb->nconns == MAX_CONNS) {
                close(fd);
            } else if (fd >= 0) {
                fb->conns[fb->nconns++] = (fconn_t){.fd = fd};
                fb_count(fb, &fb->st.accepted);
            }
        }
    }
    while (fb->nconns)
        fb_conn_drop(fb, fb->nconns - 1);
    return NULL;
}

/* ---------------------------------------------------------------- start and stop */

static void fb_free(fake_broker_t *fb) {
    pthread_mutex_destroy(&fb->lock);
    free(fb->client_id);
    free(fb->topic);
    free(fb->sasl_user);
    free(fb->sasl_password);
    free(fb->log.p);
    free(fb->batches);
    free(fb);
}

fake_broker_t *fb_start(const fb_options_t *opts) {
    static const fb_options_t defaults = {0};
    if (!opts)
        opts = &defaults;
    fake_broker_t *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return NULL;
    fb->lfd = -1;
    for (int i = 0; i < PRODUCERS; i++)
        fb->prods[i].pid = -1;
    fb->transactions = opts->transactions;
    fb->txn_version = opts->txn_version;
    fb->txn_start_epoch = opts->txn_start_epoch < 0 || opts->txn_start_epoch >= EPOCH_MAX
                              ? 0
                              : opts->txn_start_epoch;
    fb->rng = opts->seed;
    fb->fill_random = opts->fill_random;
    fb->apiversions_hangs_up = opts->apiversions_hangs_up;
    if (opts->sasl_user) {
        fb->sasl_user = strdup(opts->sasl_user);
        fb->sasl_password = strdup(opts->sasl_password ? opts->sasl_password : "");
    }
    pthread_mutex_init(&fb->lock, NULL);
    fb->topic = strdup(opts->topic ? opts->topic : "t");
    fb->client_id = opts->client_id ? strdup(opts->client_id) : NULL;
    if (!fb->topic || (opts->client_id && !fb->client_id)) {
        fprintf(stderr, "fake broker: out of memory\n");
        fb_free(fb);
        return NULL;
    }
    /* opts->listen_host: an IPv4 or IPv6 literal; port 0: an ephemeral one */
    snprintf(fb->host, sizeof(fb->host), "%s", opts->listen_host ? opts->listen_host : "127.0.0.1");
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
    struct sockaddr_in sa4 = {.sin_family = AF_INET};
    int v6 = strchr(fb->host, ':') != NULL;
    struct sockaddr *sa = v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4;
    socklen_t sl = v6 ? sizeof(sa6) : sizeof(sa4);
    void *ip = v6 ? (void *)&sa6.sin6_addr : (void *)&sa4.sin_addr;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, fb->host, ip) != 1) {
        fprintf(stderr, "fake broker: listen_host '%s' is not an IP address\n", fb->host);
        fb_free(fb);
        return NULL;
    }
    fb->lfd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fb->lfd < 0 || bind(fb->lfd, sa, sl) || listen(fb->lfd, 16) ||
        getsockname(fb->lfd, sa, &sl) || pipe(fb->wake)) {
        fprintf(stderr, "fake broker: socket: %s\n", strerror(errno));
        if (fb->lfd >= 0)
            close(fb->lfd);
        fb_free(fb);
        return NULL;
    }
    fb->port = ntohs(v6 ? sa6.sin6_port : sa4.sin_port);
    snprintf(fb->bootstrap, sizeof(fb->bootstrap), v6 ? "[%s]:%d" : "%s:%d", fb->host, fb->port);
    int rc = pthread_create(&fb->thread, NULL, fb_main, fb);
    if (rc) {
        fprintf(stderr, "fake broker: thread: %s\n", strerror(rc));
        close(fb->lfd);
        close(fb->wake[0]);
        close(fb->wake[1]);
        fb_free(fb);
        return NULL;
    }
    return fb;
}

int fb_stop(fake_broker_t *fb) {
    if (!fb)
        return 0;
    if (write(fb->wake[1], "x", 1) != 1)
        return -1; /* the thread runs on: leave it its broker */
    pthread_join(fb->thread, NULL);
    close(fb->lfd);
    close(fb->wake[0]);
    close(fb->wake[1]);
    fb_free(fb);
    return 0;
}
