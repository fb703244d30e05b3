/*
 * fakebroker — see fakebroker.h for what it models and why.
 *
 * Inside: one thread polls the listening socket, a wake-up pipe (fb_stop)
 * and up to 32 connections; it reads whole request frames, parses the
 * header, finds the API in the handler table, builds the response body into
 * a growing buffer and hands it to fb_deliver(), which sends it as the fault
 * schedule says. Connection state belongs to the thread alone; the schedule,
 * the counters and the log sit behind one mutex, since tests read and set
 * them from their own threads.
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
#define GARBAGE_LEN 52   /* the body of a garbage frame */
#define ERR_CORRUPT_MESSAGE 2
#define ERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define ERR_OUT_OF_ORDER_SEQUENCE_NUMBER 45

/* ---------------------------------------------------------------- byte buffers */

typedef struct wb {
    uint8_t *p;
    size_t len, cap;
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
/* A classic string; long_: claim 32767 bytes but write only these. */
static void wb_str(wb_t *w, const char *s, size_t n, int long_) {
    wb_i16(w, long_ ? INT16_MAX : (int16_t)n);
    wb_put(w, s, n);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A bounds-checked reader for requests; err is sticky. */
typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    int err;
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n) {
    if (r->err || r->len - r->off < n) {
        r->err = 1;
        return NULL;
    }
    r->off += n;
    return r->p + r->off - n;
}
static int16_t rd_i16(rd_t *r) {
    const uint8_t *b = rd_take(r, 2);
    return b ? (int16_t)(uint16_t)(b[0] << 8 | b[1]) : 0;
}
static int32_t rd_i32(rd_t *r) {
    const uint8_t *b = rd_take(r, 4);
    return b ? (int32_t)be32(b) : 0;
}
/* Nullable classic string: its bytes (NULL for null), *n its length. */
static const char *rd_str(rd_t *r, int16_t *n) {
    *n = rd_i16(r);
    if (r->err || *n < 0)
        return NULL;
    return (const char *)rd_take(r, (size_t)*n);
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
} fconn_t;

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
    uint8_t garbage[GARBAGE_LEN]; /* the last garbage sent */
    size_t garbage_len;
    int partitions; /* how many partitions Metadata lists (log kept for 0 only) */
    int32_t pids;   /* InitProducerId answered so far: ids 1000, 1001, ... */
    fb_stats_t st;
    /* the log of partition 0: idempotent per producer id */
    int64_t log_end;
    wb_t log; /* the batches written, end to end (fb_wrote looks for values) */
    int64_t cur_pid;
    int32_t next_seq;
    struct {
        int32_t seq, count;
        int64_t base;
    } cache[LOG_CACHE];
    int ncache;
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
    case FB_API_ANY: return "any";
    }
    return "?";
}

int fb_fault_applies(fb_fault_t f, int api) {
    if (f == FB_F_STRING_HUGE) /* ApiVersions v0-2 and InitProducerId hold no string */
        return api == FB_API_METADATA || api == FB_API_PRODUCE;
    if (f == FB_F_ARRAY_HUGE) /* InitProducerId holds no array */
        return api != FB_API_INITPID;
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

/* Append one record batch to partition 0 (or recognise a resend). Returns
 * the error code for the partition and sets *base. */
static int16_t fb_append(fake_broker_t *fb, const uint8_t *batch, size_t len, int64_t *base) {
    /* RecordBatch v2: lastOffsetDelta @23, producerId @43, epoch @51,
     * baseSequence @53, records count @57; 61 bytes of header */
    if (len < 61 || batch[16] != 2)
        return ERR_CORRUPT_MESSAGE;
    int32_t count = (int32_t)be32(batch + 57);
    int64_t pid = (int64_t)((uint64_t)be32(batch + 43) << 32 | be32(batch + 47));
    int32_t seq = (int32_t)be32(batch + 53);
    if (count <= 0 || (int32_t)be32(batch + 23) != count - 1)
        return ERR_CORRUPT_MESSAGE;
    int16_t err = 0;
    pthread_mutex_lock(&fb->lock);
    if (pid >= 0) {
        if (pid != fb->cur_pid) {
            if (seq != 0) {
                err = ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
                goto out;
            }
            fb->cur_pid = pid;
            fb->next_seq = 0;
            fb->ncache = 0;
        }
        for (int i = 0; i < fb->ncache; i++)
            if (fb->cache[i].seq == seq && fb->cache[i].count == count) {
                fb->st.duplicates++;
                *base = fb->cache[i].base; /* Kafka answers a resend with its offset */
                goto out;
            }
        if (seq != fb->next_seq) {
            err = ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            goto out;
        }
        fb->next_seq += count;
        if (fb->ncache == LOG_CACHE) {
            memmove(fb->cache, fb->cache + 1, (LOG_CACHE - 1) * sizeof(fb->cache[0]));
            fb->ncache--;
        }
        fb->cache[fb->ncache].seq = seq;
        fb->cache[fb->ncache].count = count;
        fb->cache[fb->ncache++].base = fb->log_end;
    }
    *base = fb->log_end;
    fb->log_end += count;
    wb_put(&fb->log, batch, len);
out:
    if (err == ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && !fb->st.out_of_order++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        fb->st.first_ooo_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        snprintf(fb->st.first_ooo, sizeof(fb->st.first_ooo),
                 "producer id %lld sequence %d (%d records) while at %lld/%d", (long long)pid,
                 seq, count, (long long)fb->cur_pid, fb->next_seq);
    }
    pthread_mutex_unlock(&fb->lock);
    return err;
}

/* ---------------------------------------------------------------- the APIs */

/* A handler appends the response body after the correlation id, for a
 * version within its row's range; the fault is for the parts it builds
 * (FB_F_ARRAY_HUGE, FB_F_STRING_HUGE, the Metadata ones). Returns -1 for a
 * request it cannot parse. */
typedef int fb_handler_fn(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, wb_t *out);

static fb_handler_fn fb_apiversions, fb_metadata, fb_initpid, fb_produce;

/* What the broker serves, in the order ApiVersions lists it. */
static const struct fb_api {
    int16_t key, min, max;
    fb_handler_fn *respond;
} fb_apis[] = {
    {FB_API_PRODUCE, 3, 8, fb_produce},
    {FB_API_METADATA, 1, 2, fb_metadata},
    {FB_API_APIVERSIONS, 0, 2, fb_apiversions},
    {FB_API_INITPID, 0, 1, fb_initpid},
};
#define FB_NAPIS ((int)(sizeof(fb_apis) / sizeof(fb_apis[0])))

static const struct fb_api *fb_api_find(int16_t key) {
    for (int i = 0; i < FB_NAPIS; i++)
        if (fb_apis[i].key == key)
            return &fb_apis[i];
    return NULL;
}

static int fb_apiversions(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, wb_t *out) {
    int sasl = fb->sasl_user != NULL;
    wb_i16(out, 0);
    wb_i32(out, f == FB_F_ARRAY_HUGE ? INT32_MAX : FB_NAPIS + 2 * sasl);
    for (int i = 0; i < FB_NAPIS; i++) {
        wb_i16(out, fb_apis[i].key);
        wb_i16(out, fb_apis[i].min);
        wb_i16(out, fb_apis[i].max);
    }
    if (sasl) { /* SaslHandshake v0-1, SaslAuthenticate v0-1 (non-flexible) */
        wb_i16(out, FB_API_SASL_HANDSHAKE), wb_i16(out, 0), wb_i16(out, 1);
        wb_i16(out, FB_API_SASL_AUTHENTICATE), wb_i16(out, 0), wb_i16(out, 1);
    }
    if (ver >= 1)
        wb_i32(out, 0); /* throttle */
    return 0;
}

static int fb_metadata(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, wb_t *out) {
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
    wb_i16(out, 0);
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
        wb_i16(out, 0);
        wb_i32(out, f == FB_F_PARTITION_HUGE ? INT32_MAX : j);
        wb_i32(out, NODE_ID);
        wb_i32(out, huge_array ? INT32_MAX : 1); /* replicas */
        wb_i32(out, NODE_ID);
        wb_i32(out, 1); /* isr */
        wb_i32(out, NODE_ID);
    }
    return 0;
}

static int fb_initpid(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, wb_t *out) {
    int16_t n;
    (void)rd_str(r, &n); /* transactional id */
    (void)rd_i32(r);     /* transaction timeout */
    if (r->err)
        return -1;
    pthread_mutex_lock(&fb->lock);
    int64_t pid = 1000 + fb->pids++;
    pthread_mutex_unlock(&fb->lock);
    wb_i32(out, 0); /* throttle */
    wb_i16(out, 0);
    wb_i64(out, pid);
    wb_i16(out, 0); /* epoch */
    return 0;
}

static int fb_produce(fake_broker_t *fb, int16_t ver, rd_t *r, fb_fault_t f, wb_t *out) {
    enum { MAXP = 16 };
    struct {
        const char *topic;
        int16_t tlen;
        int32_t partition;
        int16_t err;
        int64_t base;
    } res[MAXP];
    int nres = 0;
    int16_t n;
    (void)rd_str(r, &n); /* transactional id */
    (void)rd_i16(r);     /* acks */
    (void)rd_i32(r);     /* timeout */
    int32_t nt = rd_i32(r);
    if (r->err || nt < 0 || nt > MAXP)
        return -1;
    for (int32_t t = 0; t < nt; t++) {
        int16_t tlen;
        const char *topic = rd_str(r, &tlen);
        int32_t np = rd_i32(r);
        if (r->err || !topic || np < 0 || nres + np > MAXP)
            return -1;
        for (int32_t k = 0; k < np; k++) {
            int32_t part = rd_i32(r);
            int32_t blen = rd_i32(r);
            const uint8_t *batch = blen > 0 ? rd_take(r, (size_t)blen) : NULL;
            if (r->err || !batch)
                return -1;
            res[nres].topic = topic;
            res[nres].tlen = tlen;
            res[nres].partition = part;
            res[nres].base = -1;
            if (tlen != (int16_t)strlen(fb->topic) || memcmp(topic, fb->topic, (size_t)tlen) ||
                part != 0) {
                res[nres].err = ERR_UNKNOWN_TOPIC_OR_PARTITION;
                fb_count(fb, &fb->st.unknown_partitions);
            } else if (!(res[nres].err = fb_next_produce_error(fb))) {
                res[nres].err = fb_append(fb, batch, (size_t)blen, &res[nres].base);
            }
            nres++;
        }
    }
    /* one topic entry per request topic, in order */
    wb_i32(out, nt);
    for (int i = 0; i < nres;) {
        int j = i;
        while (j < nres && res[j].topic == res[i].topic)
            j++;
        wb_str(out, res[i].topic, (size_t)res[i].tlen, f == FB_F_STRING_HUGE);
        wb_i32(out, f == FB_F_ARRAY_HUGE ? INT32_MAX : j - i);
        for (int k = i; k < j; k++) {
            wb_i32(out, res[k].partition);
            wb_i16(out, res[k].err);
            wb_i64(out, res[k].base);
            wb_i64(out, -1); /* log append time: CreateTime */
            if (ver >= 5)
                wb_i64(out, 0); /* log start offset */
            if (ver >= 8) { /* KIP-467: record errors, and the message */
                pthread_mutex_lock(&fb->lock);
                int with = res[k].err && res[k].err == fb->perr;
                int nrec = with ? fb->perr_nrecords : 0;
                wb_i32(out, nrec);
                for (int e = 0; e < nrec; e++) {
                    char m[64];
                    int ml = snprintf(m, sizeof(m), "record %d is bad", (int)fb->perr_records[e]);
                    wb_i32(out, fb->perr_records[e]);
                    wb_str(out, m, (size_t)ml, 0);
                }
                if (with && fb->perr_message[0])
                    wb_str(out, fb->perr_message, strlen(fb->perr_message), 0);
                else
                    wb_i16(out, -1); /* no message */
                pthread_mutex_unlock(&fb->lock);
            }
        }
        i = j;
    }
    wb_i32(out, 0); /* throttle */
    return 0;
}

/* ---------------------------------------------------------------- connections */

static void fb_conn_drop(fake_broker_t *fb, int i) {
    close(fb->conns[i].fd);
    free(fb->conns[i].buf);
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
        wb_i16(&body, ok ? 0 : 33); /* UNSUPPORTED_SASL_MECHANISM */
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
        wb_i16(&body, ok ? 0 : 58); /* SASL_AUTHENTICATION_FAILED */
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
    rd_t r = {p, len, 0, 0};
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
    if (a && a->key < FB_API_KEYS)
        fb_count(fb, &fb->st.requests[a->key]);
    if (c->stalled)
        return 0; /* the client waits for the rest of a frame that never comes */
    fb_fault_t f = fb_next_fault(fb, api);
    if (f != FB_F_NONE && !c->faulted) {
        c->faulted = 1;
        fb_count(fb, &fb->st.faulted_conns);
    }
    wb_t body = {0};
    int rc = -1;
    if (a && ver >= a->min && ver <= a->max) {
        wb_i32(&body, corrid);
        rc = a->respond(fb, ver, &r, f, &body);
        if (rc == 0 && a->key < FB_API_KEYS) {
            pthread_mutex_lock(&fb->lock);
            fb->st.versions[a->key] |= 1u << ver;
            pthread_mutex_unlock(&fb->lock);
        }
    } else if (api == FB_API_APIVERSIONS && ver > a->max && !fb->apiversions_hangs_up) {
        /* as Kafka 2.4+: UNSUPPORTED_VERSION in the v0 form with only its
         * own ApiVersions range, whatever version was asked */
        wb_i32(&body, corrid);
        wb_i16(&body, 35);
        wb_i32(&body, 1);
        wb_i16(&body, a->key);
        wb_i16(&body, a->min);
        wb_i16(&body, a->max);
        fb_count(fb, &fb->st.apiversions_refused);
        rc = 0;
    }
    if (rc < 0) {
        char why[64];
        snprintf(why, sizeof(why), "api %d version %d", api, ver);
        fb_bad_request(fb, why);
    } else {
        rc = fb_deliver(fb, c, f, &body);
    }
    free(body.p);
    return rc;
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
    size_t off = 0;
    while (c->len - off >= 4) {
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

static void *fb_main(void *arg) {
    fake_broker_t *fb = arg;
    for (;;) {
        struct pollfd pfd[2 + MAX_CONNS];
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = fb->wake[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = fb->lfd, .events = POLLIN};
        for (int i = 0; i < fb->nconns; i++)
            pfd[n++] = (struct pollfd){.fd = fb->conns[i].fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        /* connections from the back, so dropping one (moving the last into
         * its slot) leaves the ones still to look at in place */
        for (int i = n - 1; i >= 2; i--)
            if (pfd[i].revents && fb_read(fb, &fb->conns[i - 2]) < 0) {
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
    fb->cur_pid = -1;
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
