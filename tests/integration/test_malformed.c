/*
 * Malformed responses: a tiny fake broker in this process (one thread, a
 * listening socket on 127.0.0.1, an ephemeral port) speaks just enough
 * Kafka — ApiVersions v0-2, Metadata v1-2, InitProducerId v0-1, Produce
 * v3-7, all non-flexible — and, on a per-test schedule, corrupts chosen
 * responses: a truncated body, a frame that stalls half-way, frame sizes of
 * 0 / -5 / 100 MiB + 1 / 200 MiB, garbage bytes, a wrong correlation id, an
 * array count of 2^31-1, a string longer than the frame, the connection
 * closed in the middle of a frame, a response to a request never made.
 *
 * kprod must not crash (the ASan+UBSan and TSan builds run this too), must
 * drop the connection (and say so in its log), retry, and complete every
 * record exactly once: with success, at the offset the broker gave it, once
 * the broker answers properly again; with a delivery timeout when it never
 * does. The fake broker keeps an idempotent log (duplicates of the last
 * five batches answered with their first offset, as Kafka does; producer
 * ids 1000, 1001, ... epoch 0), so the tests also see that no record was
 * written twice or lost.
 *
 * Besides: random bytes that decode as an InitProducerId answer with an
 * unknown error code (fatal, as in the Java client), and well-formed but
 * impossible Metadata (partition index 2^31-1; a topic with no partition),
 * the latter in child processes so that a crash is one failed check.
 *
 * MALFORMED_VERBOSE=1 prints kprod's log.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define TOPIC "t"
#define CLIENT_ID "malformed-test"
#define NODE_ID 1
#define API_PRODUCE 0
#define API_METADATA 3
#define API_APIVERSIONS 18
#define API_INITPID 22
#define API_ANY (-1)
#define FOREVER (-1)

/* ---------------------------------------------------------------- faults */

typedef enum fault {
    F_NONE,
    F_TRUNCATED,       /* consistent frame whose body stops half-way */
    F_STALLED,         /* the size promises the whole body; half comes, then silence */
    F_SIZE_ZERO,       /* frame size 0 */
    F_SIZE_NEGATIVE,   /* frame size -5 */
    F_SIZE_OVER_MAX,   /* frame size 100 MiB + 1: one past kprod's limit */
    F_SIZE_HUGE,       /* frame size 200 MiB */
    F_GARBAGE,         /* right size and correlation id, random body */
    F_GARBAGE_FRAME,   /* right size, everything after it random */
    F_WRONG_CORRID,    /* the right response under another correlation id */
    F_ARRAY_HUGE,      /* an array count of 2^31-1 */
    F_STRING_HUGE,     /* a string length running past the end of the frame */
    F_CLOSE_MID_FRAME, /* size and half the body, then the connection closes */
    F_CLOSE_MID_SIZE,  /* two bytes of the size, then the connection closes */
    F_UNSOLICITED,     /* a response to a request never made, then the real one */
    F_AFTER_ANSWER,    /* the real response, then the same again: nothing in flight */
    F_PARTITION_HUGE,  /* Metadata: well-formed, but partition index 2^31-1 */
    F_NO_PARTITIONS,   /* Metadata: well-formed, topic without error and no partition */
    F_COUNT
} fault_t;

static const char *const fault_names[F_COUNT] = {
    "none",          "truncated",        "stalled",         "size-0",         "size--5",
    "size-100MiB+1", "size-200MiB",      "garbage-body",    "garbage-frame",  "wrong-corrid",
    "array-2^31-1",  "string-long",      "close-mid-frame", "close-mid-size", "unsolicited",
    "after-answer",  "partition-2^31-1", "no-partitions",
};

static const char *api_name(int api) {
    switch (api) {
    case API_PRODUCE: return "Produce";
    case API_METADATA: return "Metadata";
    case API_APIVERSIONS: return "ApiVersions";
    case API_INITPID: return "InitProducerId";
    case API_ANY: return "any";
    }
    return "?";
}

/* Does the response of this API have what the fault corrupts? */
static int fault_applies(fault_t f, int api) {
    if (f == F_STRING_HUGE) /* ApiVersions v0-2 and InitProducerId hold no string */
        return api == API_METADATA || api == API_PRODUCE;
    if (f == F_ARRAY_HUGE) /* InitProducerId holds no array */
        return api != API_INITPID;
    if (f == F_PARTITION_HUGE || f == F_NO_PARTITIONS)
        return api == API_METADATA;
    return 1;
}

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
/* A classic string; long: claim 32767 bytes but write only these. */
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

/* ---------------------------------------------------------------- the fake broker */

#define MAX_CONNS 32
#define LOG_CACHE 5

typedef struct fconn {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    int stalled;  /* sent a partial frame: never answer on it again */
    int dup_sent; /* sent a response twice */
    int faulted;  /* got at least one corrupted response */
} fconn_t;

typedef struct fake_broker {
    int lfd, port;
    int wake[2];
    pthread_t thread;
    fconn_t conns[MAX_CONNS];
    int nconns;
    uint32_t rng;

    pthread_mutex_t lock; /* everything below */
    /* the schedule: skip `skip` responses of `api`, then corrupt `count`
     * (FOREVER: all) with `fault` */
    fault_t fault;
    int fault_api, fault_skip, fault_count;
    int injected;
    int faulted_conns; /* connections that got a corrupted response */
    /* well-formed errors: skip `perr_skip` t-0 batches, then answer
     * `perr_count` with error code `perr` (not appended) */
    int16_t perr;
    int perr_skip, perr_count, perr_injected;
    uint8_t garbage[52]; /* the last garbage sent */
    /* what happened */
    int accepted;
    int requests[API_INITPID + 1];
    int bad_requests; /* unparsable, unknown API, wrong version or client id */
    int out_of_order; /* Produce answered OUT_OF_ORDER_SEQUENCE_NUMBER */
    int64_t first_ooo_ms; /* when it first did (test_now_ms), 0: never */
    char first_ooo[96];   /* and to what */
    int duplicates;   /* Produce batches recognised as resends */
    int dup_closed;   /* connections that got a duplicate answer, closed by kprod */
    /* the log of t-0: idempotent per producer id */
    int64_t log_end;
    wb_t log; /* the batches written to t-0, end to end (fb_wrote looks for values) */
    int32_t pids; /* InitProducerId answered so far: ids 1000, 1001, ... */
    int partitions; /* how many partitions Metadata lists for t (log kept for t-0 only) */
    int unknown_sent; /* Produce partitions answered UNKNOWN_TOPIC_OR_PARTITION */
    int64_t cur_pid;
    int32_t next_seq;
    struct {
        int32_t seq, count;
        int64_t base;
    } cache[LOG_CACHE];
    int ncache;
} fake_broker_t;

static void fb_set_fault(fake_broker_t *fb, fault_t f, int api, int skip, int count) {
    pthread_mutex_lock(&fb->lock);
    fb->fault = f;
    fb->fault_api = api;
    fb->fault_skip = skip;
    fb->fault_count = count;
    fb->injected = 0;
    pthread_mutex_unlock(&fb->lock);
}

/* An error code for the next t-0 batch, or 0 (broker thread). */
static int16_t fb_next_produce_error(fake_broker_t *fb) {
    int16_t e = 0;
    pthread_mutex_lock(&fb->lock);
    if (fb->perr_skip > 0) {
        fb->perr_skip--;
    } else if (fb->perr_count > 0) {
        fb->perr_count--;
        fb->perr_injected++;
        e = fb->perr;
    }
    pthread_mutex_unlock(&fb->lock);
    return e;
}

/* The fault for the next response of this API (called on the broker thread). */
static fault_t fb_next_fault(fake_broker_t *fb, int api) {
    fault_t f = F_NONE;
    pthread_mutex_lock(&fb->lock);
    if (fb->fault != F_NONE && (fb->fault_api == API_ANY || fb->fault_api == api) &&
        fault_applies(fb->fault, api)) {
        if (fb->fault_skip > 0) {
            fb->fault_skip--;
        } else if (fb->fault_count != 0) {
            if (fb->fault_count > 0)
                fb->fault_count--;
            fb->injected++;
            f = fb->fault;
        }
    }
    pthread_mutex_unlock(&fb->lock);
    return f;
}

static int fb_get(fake_broker_t *fb, const int *field) {
    pthread_mutex_lock(&fb->lock);
    int v = *field;
    pthread_mutex_unlock(&fb->lock);
    return v;
}

static int64_t fb_log_end(fake_broker_t *fb) {
    pthread_mutex_lock(&fb->lock);
    int64_t v = fb->log_end;
    pthread_mutex_unlock(&fb->lock);
    return v;
}

/* Has the broker written a record with this value (to t-0, uncompressed)? */
static int fb_wrote(fake_broker_t *fb, const char *value) {
    pthread_mutex_lock(&fb->lock);
    int r = fb->log.len && memmem(fb->log.p, fb->log.len, value, strlen(value)) != NULL;
    pthread_mutex_unlock(&fb->lock);
    return r;
}

static void fb_bad_request(fake_broker_t *fb, const char *why) {
    pthread_mutex_lock(&fb->lock);
    fb->bad_requests++;
    pthread_mutex_unlock(&fb->lock);
    fprintf(stderr, "fake broker: bad request: %s\n", why);
}

static uint32_t fb_rand(fake_broker_t *fb) { /* xorshift32: reproducible garbage */
    uint32_t x = fb->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return fb->rng = x;
}

static void conn_drop(fake_broker_t *fb, int i) {
    close(fb->conns[i].fd);
    free(fb->conns[i].buf);
    fb->conns[i] = fb->conns[--fb->nconns];
}

static void send_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client went away: its business */
        b += w;
        n -= (size_t)w;
    }
}

static void send_frame(int fd, int32_t size, const void *body, size_t n) {
    wb_t w = {0};
    wb_i32(&w, size);
    wb_put(&w, body, n);
    send_all(fd, w.p, w.len);
    free(w.p);
}

/* Append one record batch to t-0 (or recognise a resend). Returns the error
 * code for the partition and sets *base. */
static int16_t fb_append(fake_broker_t *fb, const uint8_t *batch, size_t len, int64_t *base) {
    /* RecordBatch v2: lastOffsetDelta @23, producerId @43, epoch @51,
     * baseSequence @53, records count @57; 61 bytes of header */
    if (len < 61 || batch[16] != 2)
        return 2; /* CORRUPT_MESSAGE */
    int32_t count = (int32_t)be32(batch + 57);
    int64_t pid = (int64_t)((uint64_t)be32(batch + 43) << 32 | be32(batch + 47));
    int32_t seq = (int32_t)be32(batch + 53);
    if (count <= 0 || (int32_t)be32(batch + 23) != count - 1)
        return 2;
    int16_t err = 0;
    pthread_mutex_lock(&fb->lock);
    if (pid >= 0) {
        if (pid != fb->cur_pid) {
            if (seq != 0) {
                err = 45; /* OUT_OF_ORDER_SEQUENCE_NUMBER */
                goto out;
            }
            fb->cur_pid = pid;
            fb->next_seq = 0;
            fb->ncache = 0;
        }
        for (int i = 0; i < fb->ncache; i++)
            if (fb->cache[i].seq == seq && fb->cache[i].count == count) {
                fb->duplicates++;
                *base = fb->cache[i].base; /* Kafka answers a resend with its offset */
                goto out;
            }
        if (seq != fb->next_seq) {
            err = 45;
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
    if (err == 45 && !fb->out_of_order++) {
        fb->first_ooo_ms = test_now_ms();
        snprintf(fb->first_ooo, sizeof(fb->first_ooo),
                 "producer id %lld sequence %d (%d records) while at %lld/%d", (long long)pid,
                 seq, count, (long long)fb->cur_pid, fb->next_seq);
    }
    pthread_mutex_unlock(&fb->lock);
    return err;
}

/* Build the response body (correlation id first) for one request. Returns
 * -1 for a request the fake broker does not understand. */
static int fb_respond(fake_broker_t *fb, int16_t api, int16_t ver, int32_t corrid, rd_t *r,
                      fault_t f, wb_t *out) {
    int huge_array = f == F_ARRAY_HUGE, long_str = f == F_STRING_HUGE;
    wb_i32(out, corrid);
    switch (api) {
    case API_APIVERSIONS: {
        static const int16_t offer[][3] = {{API_PRODUCE, 3, 7},
                                           {API_METADATA, 1, 2},
                                           {API_APIVERSIONS, 0, 2},
                                           {API_INITPID, 0, 1}};
        if (ver < 0 || ver > 2)
            return -1;
        wb_i16(out, 0);
        wb_i32(out, huge_array ? INT32_MAX : 4);
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 3; k++)
                wb_i16(out, offer[i][k]);
        if (ver >= 1)
            wb_i32(out, 0); /* throttle */
        return 0;
    }
    case API_METADATA: {
        if (ver < 1 || ver > 2)
            return -1;
        wb_i32(out, 1); /* brokers */
        wb_i32(out, NODE_ID);
        wb_str(out, "127.0.0.1", 9, long_str);
        wb_i32(out, fb->port);
        wb_i16(out, -1); /* rack: null */
        if (ver >= 2)
            wb_str(out, "fake-cluster", 12, 0);
        wb_i32(out, NODE_ID); /* controller */
        wb_i32(out, 1);       /* topics */
        wb_i16(out, 0);
        wb_str(out, TOPIC, strlen(TOPIC), 0);
        wb_i8(out, 0); /* internal */
        if (f == F_NO_PARTITIONS) {
            wb_i32(out, 0); /* partitions: none */
            return 0;
        }
        pthread_mutex_lock(&fb->lock);
        int nparts = fb->partitions > 0 ? fb->partitions : 1;
        pthread_mutex_unlock(&fb->lock);
        wb_i32(out, nparts); /* partitions */
        for (int j = 0; j < nparts; j++) {
            wb_i16(out, 0);
            wb_i32(out, f == F_PARTITION_HUGE ? INT32_MAX : j);
            wb_i32(out, NODE_ID);
            wb_i32(out, huge_array ? INT32_MAX : 1); /* replicas */
            wb_i32(out, NODE_ID);
            wb_i32(out, 1); /* isr */
            wb_i32(out, NODE_ID);
        }
        return 0;
    }
    case API_INITPID: {
        if (ver < 0 || ver > 1)
            return -1;
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
    case API_PRODUCE: {
        enum { MAXP = 16 };
        struct {
            const char *topic;
            int16_t tlen;
            int32_t partition;
            int16_t err;
            int64_t base;
        } res[MAXP];
        int nres = 0;
        if (ver < 3 || ver > 7)
            return -1;
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
                if (tlen != (int16_t)strlen(TOPIC) || memcmp(topic, TOPIC, (size_t)tlen) ||
                    part != 0) {
                    res[nres].err = 3; /* UNKNOWN_TOPIC_OR_PARTITION */
                    pthread_mutex_lock(&fb->lock);
                    fb->unknown_sent++;
                    pthread_mutex_unlock(&fb->lock);
                }
                else if (!(res[nres].err = fb_next_produce_error(fb)))
                    res[nres].err = fb_append(fb, batch, (size_t)blen, &res[nres].base);
                nres++;
            }
        }
        /* one topic entry per request topic, in order */
        wb_i32(out, nt);
        for (int i = 0; i < nres;) {
            int j = i;
            while (j < nres && res[j].topic == res[i].topic)
                j++;
            wb_str(out, res[i].topic, (size_t)res[i].tlen, long_str);
            wb_i32(out, huge_array ? INT32_MAX : j - i);
            for (int k = i; k < j; k++) {
                wb_i32(out, res[k].partition);
                wb_i16(out, res[k].err);
                wb_i64(out, res[k].base);
                wb_i64(out, -1); /* log append time: CreateTime */
                if (ver >= 5)
                    wb_i64(out, 0); /* log start offset */
            }
            i = j;
        }
        wb_i32(out, 0); /* throttle */
        return 0;
    }
    }
    return -1;
}

/* Send the response as the fault says. Returns -1 when the connection is to
 * be closed. */
static int fb_deliver(fake_broker_t *fb, fconn_t *c, fault_t f, const wb_t *body) {
    const uint8_t *b = body->p;
    size_t n = body->len, half = n / 2;
    switch (f) {
    case F_NONE:
    case F_ARRAY_HUGE:
    case F_STRING_HUGE:
    case F_PARTITION_HUGE:
    case F_NO_PARTITIONS: send_frame(c->fd, (int32_t)n, b, n); return 0;
    case F_TRUNCATED: send_frame(c->fd, (int32_t)half, b, half); return 0;
    case F_STALLED:
        send_frame(c->fd, (int32_t)n, b, half);
        c->stalled = 1;
        return 0;
    case F_SIZE_ZERO: send_frame(c->fd, 0, b, n); return 0;
    case F_SIZE_NEGATIVE: send_frame(c->fd, -5, b, n); return 0;
    case F_SIZE_OVER_MAX: send_frame(c->fd, 100 * 1024 * 1024 + 1, b, n); return 0;
    case F_SIZE_HUGE: send_frame(c->fd, 200 * 1024 * 1024, b, n); return 0;
    case F_GARBAGE:
    case F_GARBAGE_FRAME: {
        uint8_t g[52];
        size_t at = 0;
        if (f == F_GARBAGE) {
            memcpy(g, b, 4); /* the right correlation id */
            at = 4;
        }
        for (; at < sizeof(g); at++)
            g[at] = (uint8_t)fb_rand(fb);
        pthread_mutex_lock(&fb->lock);
        memcpy(fb->garbage, g, sizeof(g));
        pthread_mutex_unlock(&fb->lock);
        send_frame(c->fd, (int32_t)sizeof(g), g, sizeof(g));
        return 0;
    }
    case F_WRONG_CORRID: {
        wb_t w = {0};
        wb_i32(&w, (int32_t)be32(b) + 1000);
        wb_put(&w, b + 4, n - 4);
        send_frame(c->fd, (int32_t)w.len, w.p, w.len);
        free(w.p);
        return 0;
    }
    case F_CLOSE_MID_FRAME: send_frame(c->fd, (int32_t)n, b, half); return -1;
    case F_CLOSE_MID_SIZE: send_all(c->fd, "\0\0", 2); return -1;
    case F_UNSOLICITED: {
        wb_t w = {0};
        wb_i32(&w, 0x7fff0000); /* no request ever had this id */
        wb_put(&w, b + 4, n - 4);
        send_frame(c->fd, (int32_t)w.len, w.p, w.len);
        free(w.p);
        send_frame(c->fd, (int32_t)n, b, n);
        return 0;
    }
    case F_AFTER_ANSWER:
        send_frame(c->fd, (int32_t)n, b, n);
        send_frame(c->fd, (int32_t)n, b, n);
        c->dup_sent = 1;
        return 0;
    case F_COUNT: break;
    }
    return 0;
}

/* One complete request frame (without its size). Returns -1 to close. */
static int fb_request(fake_broker_t *fb, fconn_t *c, const uint8_t *p, size_t len) {
    rd_t r = {p, len, 0, 0};
    int16_t api = rd_i16(&r), ver = rd_i16(&r);
    int32_t corrid = rd_i32(&r);
    int16_t clen;
    const char *cid = rd_str(&r, &clen);
    if (r.err || !cid || clen != (int16_t)strlen(CLIENT_ID) ||
        memcmp(cid, CLIENT_ID, (size_t)clen)) {
        fb_bad_request(fb, "header or client id");
        return -1;
    }
    if (api == API_PRODUCE || api == API_METADATA || api == API_APIVERSIONS || api == API_INITPID) {
        pthread_mutex_lock(&fb->lock);
        fb->requests[api]++;
        pthread_mutex_unlock(&fb->lock);
    }
    if (c->stalled)
        return 0; /* kprod waits for the rest of a frame that never comes */
    fault_t f = fb_next_fault(fb, api);
    if (f != F_NONE && !c->faulted) {
        c->faulted = 1;
        pthread_mutex_lock(&fb->lock);
        fb->faulted_conns++;
        pthread_mutex_unlock(&fb->lock);
    }
    wb_t body = {0};
    int rc = fb_respond(fb, api, ver, corrid, &r, f, &body);
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
                if (fb->conns[i - 2].dup_sent) {
                    pthread_mutex_lock(&fb->lock);
                    fb->dup_closed++;
                    pthread_mutex_unlock(&fb->lock);
                }
                conn_drop(fb, i - 2);
            }
        if (pfd[1].revents & POLLIN) {
            int fd = accept4(fb->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && fb->nconns == MAX_CONNS) {
                close(fd);
            } else if (fd >= 0) {
                fb->conns[fb->nconns++] = (fconn_t){.fd = fd};
                pthread_mutex_lock(&fb->lock);
                fb->accepted++;
                pthread_mutex_unlock(&fb->lock);
            }
        }
    }
    while (fb->nconns)
        conn_drop(fb, fb->nconns - 1);
    return NULL;
}

static fake_broker_t *fb_start(void) {
    fake_broker_t *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return NULL;
    fb->rng = 0x9e3779b9u;
    fb->cur_pid = -1;
    pthread_mutex_init(&fb->lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    fb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fb->lfd < 0 || bind(fb->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fb->lfd, 16) ||
        getsockname(fb->lfd, (struct sockaddr *)&sa, &sl) || pipe(fb->wake)) {
        FAIL("fake broker socket: %s", strerror(errno));
        if (fb->lfd >= 0)
            close(fb->lfd);
        pthread_mutex_destroy(&fb->lock);
        free(fb);
        return NULL;
    }
    fb->port = ntohs(sa.sin_port);
    if (pthread_create(&fb->thread, NULL, fb_main, fb)) {
        FAIL("fake broker thread");
        close(fb->lfd);
        close(fb->wake[0]);
        close(fb->wake[1]);
        pthread_mutex_destroy(&fb->lock);
        free(fb);
        return NULL;
    }
    return fb;
}

static void fb_stop(fake_broker_t *fb) {
    if (!fb)
        return;
    if (write(fb->wake[1], "x", 1) != 1)
        FAIL("fake broker wake-up: %s", strerror(errno));
    pthread_join(fb->thread, NULL);
    close(fb->lfd);
    close(fb->wake[0]);
    close(fb->wake[1]);
    pthread_mutex_destroy(&fb->lock);
    free(fb->log.p);
    free(fb);
}

/* ---------------------------------------------------------------- the producer side */

/* What kprod logged. */
typedef struct logcap {
    atomic_int lines;
    atomic_int disconnects;
} logcap_t;

static void log_cb(int level, const char *msg, void *opaque) {
    logcap_t *lc = opaque;
    atomic_fetch_add(&lc->lines, 1);
    if (strstr(msg, "disconnected"))
        atomic_fetch_add(&lc->disconnects, 1);
    if (getenv("MALFORMED_VERBOSE"))
        fprintf(stderr, "  %lld kprod[%d] %s\n", (long long)(test_now_ms() % 100000), level, msg);
}

/* A producer for the fake broker, logging into lc (counts from zero);
 * `extra` (NULL-terminated pairs) adds or overrides properties. */
static kp_producer_t *producer_with(const fake_broker_t *fb, logcap_t *lc, const char *dto,
                                    const char *const *extra) {
    char boot[64], err[512];
    atomic_init(&lc->lines, 0);
    atomic_init(&lc->disconnects, 0);
    snprintf(boot, sizeof(boot), "127.0.0.1:%d", fb->port);
    const char *props[][2] = {
        {"bootstrap.servers", boot},
        {"client.id", CLIENT_ID},
        {"linger.ms", "0"},
        {"delivery.timeout.ms", dto},
        {"request.timeout.ms", "500"},
        {"max.block.ms", "10000"},
        {"retry.backoff.ms", "10"},
        {"retry.backoff.max.ms", "50"},
        {"reconnect.backoff.ms", "10"},
        {"reconnect.backoff.max.ms", "50"},
        {"socket.connection.setup.timeout.ms", "1000"},
    };
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (kp_config_set(c, props[i][0], props[i][1], err, sizeof(err))) {
            FAIL("config %s=%s: %s", props[i][0], props[i][1], err);
            kp_config_destroy(c);
            return NULL;
        }
    for (; extra && extra[0]; extra += 2)
        if (kp_config_set(c, extra[0], extra[1], err, sizeof(err))) {
            FAIL("config %s=%s: %s", extra[0], extra[1], err);
            kp_config_destroy(c);
            return NULL;
        }
    kp_config_set_log(c, log_cb, lc);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    if (!p)
        FAIL("kp_producer_new: %s", err);
    kp_config_destroy(c);
    return p;
}

static kp_producer_t *producer_for(const fake_broker_t *fb, logcap_t *lc, const char *dto) {
    return producer_with(fb, lc, dto, NULL);
}

static kp_err_t send_value(kp_producer_t *p, const char *prefix, size_t i, slot_ref_t *ref) {
    char v[48];
    snprintf(v, sizeof(v), "%s-%06zu", prefix, i);
    kp_record_t r = {0};
    r.topic = TOPIC;
    r.partition = KP_PARTITION_ANY;
    r.value = v;
    r.value_len = (int32_t)strlen(v);
    return kp_send(p, &r, tracker_cb, ref);
}

/* Records prefix-000000 .. prefix-(n-1), each tracked in refs[i] (a send
 * kp_send refuses never calls back: it counts as done). */
static void send_values(kp_producer_t *p, tracker_t *t, slot_ref_t *refs, size_t n,
                        const char *prefix) {
    for (size_t i = 0; i < n; i++) {
        refs[i] = (slot_ref_t){t, i};
        if (!CHECK_OK(send_value(p, prefix, i, &refs[i])))
            atomic_fetch_add(&t->done, 1);
    }
}

/* ---------------------------------------------------------------- recovery */

typedef struct drops_arg {
    logcap_t *lc;
    fake_broker_t *fb;
    int want;
} drops_arg_t;

static int drops_logged(void *arg) {
    drops_arg_t *d = arg;
    return atomic_load(&d->lc->disconnects) >= d->want;
}

static int dup_conns_closed(void *arg) {
    drops_arg_t *d = arg;
    return fb_get(d->fb, &d->fb->dup_closed) >= d->want;
}

/* `count` responses of `api` corrupted with `f`, then correct answers: N
 * records sent with callbacks all succeed, once each, at offsets 0..N-1,
 * and the broker's log holds exactly N records. */
static void run_recovery(fault_t f, int api, int count) {
    enum { N = 20 };
    const char *an = api_name(api), *fn = fault_names[f];
    int64_t t0 = test_now_ms();
    fake_broker_t *fb = fb_start();
    REQUIRE_NOT_NULL(fb);
    fb_set_fault(fb, f, api, 0, count);
    logcap_t lc;
    kp_producer_t *p = producer_for(fb, &lc, "10000");
    if (!p) {
        fb_stop(fb);
        return;
    }
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    send_values(p, &t, refs, N, "rec");
    if (!tracker_wait(&t, 15000))
        FAIL("%s/%s: %ld of %d records completed", an, fn, atomic_load(&t.done), N);
    int64_t took = test_now_ms() - t0;
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (size_t i = 0; i < N; i++) {
        if (atomic_load(&t.d[i].calls) != 1 || t.d[i].err != KP_OK || t.d[i].offset != (int64_t)i ||
            t.d[i].partition != 0) {
            FAIL("%s/%s: record %zu: %d calls, %s, partition %d, offset %lld (expected %zu)", an,
                 fn, i, atomic_load(&t.d[i].calls), kp_err_name(t.d[i].err), t.d[i].partition,
                 (long long)t.d[i].offset, i);
            break;
        }
        CHECK_EQ_INT(t.d[i].persisted, KP_PERSISTED);
    }
    int injected = fb_get(fb, &fb->injected);
    /* Every scheduled fault happened: kprod asked again each time. (A
     * duplicate after the real answer makes nobody ask again.) */
    if (f == F_AFTER_ANSWER ? injected < 1 || injected > count : injected != count)
        FAIL("%s/%s: injected %d of %d faults", an, fn, injected, count);
    /* Each connection that got a fault was dropped, and kprod said so.
     * (Random bytes may happen to decode, and odd partitions are
     * well-formed: those need not drop it. Two faulty answers on one
     * connection cost it once: a request written before kprod read the
     * first may get the second.) A duplicate answer comes when nothing
     * waits for one: kprod closes that connection when it reads it (and logs it) or
     * when it retires it unread (a bootstrap connection: silently) — it
     * must not keep it. */
    drops_arg_t da = {&lc, fb, fb_get(fb, &fb->faulted_conns)};
    if (f == F_AFTER_ANSWER) {
        if (!wait_until(dup_conns_closed, &da, 5000))
            FAIL("%s/%s: %d connections got a duplicate answer, %d closed", an, fn, da.want,
                 fb_get(fb, &fb->dup_closed));
    } else if (f != F_GARBAGE && f != F_PARTITION_HUGE && f != F_NO_PARTITIONS) {
        if (!wait_until(drops_logged, &da, 5000))
            FAIL("%s/%s: %d faults on %d connections but %d logged disconnections", an, fn,
                 injected, da.want, atomic_load(&lc.disconnects));
    }
    /* A stalled frame costs one request.timeout.ms (500 ms), then the
     * reconnect waits reconnect.backoff.ms (10-50 ms), not more. */
    if (f == F_STALLED && took > 500 + 600)
        FAIL("%s/%s: a %d ms request timeout took %lld ms to recover from", an, fn, 500,
             (long long)took);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    CHECK_EQ_INT(fb_log_end(fb), N); /* nothing written twice, nothing lost */
    CHECK_EQ_INT(fb_get(fb, &fb->out_of_order), 0);
    CHECK_EQ_INT(fb_get(fb, &fb->bad_requests), 0);
    printf("  %-14s %-16s %d faults, %d disconnections, %d connections, %d resends seen, "
           "done in %lld ms\n",
           an, fn, injected, atomic_load(&lc.disconnects), fb_get(fb, &fb->accepted),
           fb_get(fb, &fb->duplicates), (long long)took);
    tracker_free(&t);
    fb_stop(fb);
}

static void run_all_faults(int api) {
    for (int f = F_NONE + 1; f < F_COUNT; f++) {
        if (!fault_applies((fault_t)f, api))
            continue;
        /* random bytes in an InitProducerId body decode to a well-formed
         * answer with an unknown error code: see test_initpid_garbage_fatal */
        if (api == API_INITPID && f == F_GARBAGE)
            continue;
        if (f == F_PARTITION_HUGE || f == F_NO_PARTITIONS) /* test_metadata_odd_partitions */
            continue;
        /* a stall costs request.timeout.ms: one is enough */
        run_recovery((fault_t)f, api, f == F_STALLED ? 1 : 2);
    }
}

/* The handshake: ApiVersions answered wrong twice on a fresh connection. */
static void test_apiversions_faults(void) { run_all_faults(API_APIVERSIONS); }

/* Metadata answered wrong: kp_send() waits, then carries on. */
static void test_metadata_faults(void) { run_all_faults(API_METADATA); }

/* InitProducerId answered wrong: the producer id comes on a later try. */
static void test_initpid_faults(void) { run_all_faults(API_INITPID); }

/* Produce answered wrong after the broker appended the batch: the resend is
 * recognised as a duplicate, each record is acknowledged once, in order. */
static void test_produce_faults(void) { run_all_faults(API_PRODUCE); }

/* InitProducerId answered with a random body: its 16 leading bytes decode
 * as a well-formed v1 response (trailing bytes are ignored, as they must
 * be) whose error code is no Kafka error: UNKNOWN_SERVER_ERROR to the Java
 * client, not retriable, so the producer stops. README: "Only a broker
 * refusing idempotent writes at all ... stops the producer: then every
 * record fails with that error." — the records already accepted included,
 * and at once, not after delivery.timeout.ms. */
static void test_initpid_garbage_fatal(void) {
    enum { N = 5 };
    fake_broker_t *fb = fb_start();
    REQUIRE_NOT_NULL(fb);
    fb_set_fault(fb, F_GARBAGE, API_INITPID, 0, 1);
    logcap_t lc;
    kp_producer_t *p = producer_for(fb, &lc, "2000");
    if (!p) {
        fb_stop(fb);
        return;
    }
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    kp_err_t sent[N];
    int64_t t0 = test_now_ms();
    for (size_t i = 0; i < N; i++) {
        refs[i] = (slot_ref_t){&t, i};
        sent[i] = send_value(p, "fatal", i, &refs[i]);
        if (sent[i] != KP_OK)
            atomic_fetch_add(&t.done, 1); /* refused at once: no callback */
    }
    CHECK(tracker_wait(&t, 2000 + 3000));
    /* the error the garbage carries: correlation id, throttle, error code */
    pthread_mutex_lock(&fb->lock);
    int16_t code = (int16_t)(uint16_t)(fb->garbage[8] << 8 | fb->garbage[9]);
    pthread_mutex_unlock(&fb->lock);
    CHECK_EQ_INT(fb_get(fb, &fb->injected), 1);
    CHECK(code != 0 && !kp_err_is_retriable((kp_err_t)code) && code != 14 && code != 15 &&
          code != 16); /* what this seed yields (7991); else the test proves nothing */
    int late = 0;
    for (size_t i = 0; i < N; i++) {
        if (sent[i] != KP_OK) {
            CHECK_EQ_ERR(sent[i], code);
            continue;
        }
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
        if (t.d[i].err != code)
            FAIL("record %zu accepted before the fatal InitProducerId answer: %s (%d) after "
                 "%lld ms, expected the fatal error %d at once",
                 i, kp_err_name(t.d[i].err), t.d[i].err, (long long)(t.d[i].when_ms - t0), code);
        if (t.d[i].when_ms - t0 >= 2000)
            late++;
        CHECK_EQ_INT(t.d[i].persisted, KP_NOT_PERSISTED);
    }
    CHECK_EQ_INT(late, 0); /* not held until delivery.timeout.ms */
    kp_record_t r = {.topic = TOPIC, .partition = KP_PARTITION_ANY, .value = "x", .value_len = 1};
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), code); /* later sends refused with it */
    CHECK_EQ_INT(fb_log_end(fb), 0);
    kp_close(p, 5000);
    kp_producer_destroy(p);
    tracker_free(&t);
    fb_stop(fb);
}

/* Faults on whatever response comes, several in a row, skipping a few
 * correct answers first so they land mid-stream. */
static void test_any_response_faults(void) {
    static const fault_t fs[] = {F_TRUNCATED,       F_WRONG_CORRID, F_GARBAGE_FRAME,
                                 F_CLOSE_MID_FRAME, F_UNSOLICITED,  F_SIZE_HUGE};
    for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
        enum { N = 20 };
        fake_broker_t *fb = fb_start();
        REQUIRE_NOT_NULL(fb);
        fb_set_fault(fb, fs[i], API_ANY, 3, 4);
        logcap_t lc;
        kp_producer_t *p = producer_for(fb, &lc, "10000");
        if (!p) {
            fb_stop(fb);
            return;
        }
        tracker_t t;
        tracker_init(&t, N);
        slot_ref_t refs[N];
        send_values(p, &t, refs, N, "any");
        CHECK(tracker_wait(&t, 15000));
        CHECK_EQ_INT(atomic_load(&t.failed), 0);
        for (size_t k = 0; k < N; k++) {
            CHECK_EQ_INT(atomic_load(&t.d[k].calls), 1);
            CHECK_EQ_INT(t.d[k].offset, (int64_t)k);
        }
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
        CHECK_EQ_INT(fb_get(fb, &fb->injected), 4);
        /* every connection that got a fault was dropped (two faulty answers
         * in flight on one connection cost it once) */
        CHECK_GE_INT(fb_get(fb, &fb->faulted_conns), 1);
        CHECK_GE_INT(atomic_load(&lc.disconnects), fb_get(fb, &fb->faulted_conns));
        CHECK_EQ_INT(fb_log_end(fb), N);
        CHECK_EQ_INT(fb_get(fb, &fb->out_of_order), 0);
        CHECK_EQ_INT(fb_get(fb, &fb->bad_requests), 0);
        tracker_free(&t);
        fb_stop(fb);
    }
}

/* ---------------------------------------------------------------- never recovering */

#define FOREVER_DTO 2000
#define FOREVER_RTO 500

typedef struct forever_case {
    fault_t f;
    fake_broker_t *fb;
    kp_producer_t *p;
    logcap_t lc;
    tracker_t t;
    slot_ref_t refs[10];
    int64_t t0;
    int64_t appended_before;
} forever_case_t;

/* Every Produce answered wrong past delivery.timeout.ms: each record
 * completes once, with a timeout error, within delivery.timeout.ms plus a
 * request timeout; records the broker did write are reported "possibly
 * persisted", never "not persisted". Then the broker mends and the same
 * producer delivers again. All fault kinds run side by side (one broker and
 * one producer each), so the whole takes one delivery timeout. */
static void test_faults_forever_time_out(void) {
    enum { N = 10 };
    static const fault_t fs[] = {
        F_TRUNCATED,   F_STALLED,         F_SIZE_ZERO,      F_SIZE_NEGATIVE, F_SIZE_OVER_MAX,
        F_SIZE_HUGE,   F_GARBAGE,         F_GARBAGE_FRAME,  F_WRONG_CORRID,  F_ARRAY_HUGE,
        F_STRING_HUGE, F_CLOSE_MID_FRAME, F_CLOSE_MID_SIZE, F_UNSOLICITED,
    };
    enum { NC = sizeof(fs) / sizeof(fs[0]) };
    forever_case_t *cs = calloc(NC, sizeof(*cs));
    REQUIRE_NOT_NULL(cs);
    char dto[16];
    snprintf(dto, sizeof(dto), "%d", FOREVER_DTO);
    int ok = 1;
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        c->f = fs[i];
        c->fb = fb_start();
        c->p = c->fb ? producer_for(c->fb, &c->lc, dto) : NULL;
        ok = c->p != NULL;
        if (!ok)
            break;
        /* warm up: metadata and a producer id known, one record written */
        kp_record_t r = {
            .topic = TOPIC, .partition = KP_PARTITION_ANY, .value = "warm-up", .value_len = 7};
        ok = CHECK_OK(kp_send_sync(c->p, &r, 10000, NULL));
    }
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        fb_set_fault(c->fb, c->f, API_PRODUCE, 0, FOREVER);
        c->appended_before = fb_log_end(c->fb);
        tracker_init(&c->t, N);
        c->t0 = test_now_ms();
        send_values(c->p, &c->t, c->refs, N, "lost");
    }
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        const char *fn = fault_names[c->f];
        if (!tracker_wait(&c->t, FOREVER_DTO + FOREVER_RTO + 10000))
            FAIL("%s: %ld of %d records completed", fn, atomic_load(&c->t.done), N);
        CHECK_EQ_INT(atomic_load(&c->t.failed), N);
        int64_t written = fb_log_end(c->fb) - c->appended_before;
        int in_flight = 0, queued = 0, max_ms = 0;
        int64_t first_failed = INT64_MAX;
        for (size_t k = 0; k < N; k++) {
            delivery_t *d = &c->t.d[k];
            int64_t took = d->when_ms - c->t0;
            if (took > max_ms)
                max_ms = (int)took;
            if (d->when_ms < first_failed)
                first_failed = d->when_ms;
            if (atomic_load(&d->calls) != 1 || (d->err != KP_ERR_MSG_TIMED_OUT_IN_FLIGHT &&
                                                d->err != KP_ERR_MSG_TIMED_OUT_QUEUE)) {
                FAIL("%s: record %zu: %d calls, %s", fn, k, atomic_load(&d->calls),
                     kp_err_name(d->err));
                continue;
            }
            if (d->err == KP_ERR_MSG_TIMED_OUT_IN_FLIGHT) {
                in_flight++;
                CHECK_EQ_INT(d->persisted, KP_POSSIBLY_PERSISTED);
            } else {
                queued++;
                CHECK_EQ_INT(d->persisted, KP_NOT_PERSISTED);
                /* "not persisted" promises the broker never wrote it (the
                 * records after it may have been: a batch that failed for
                 * good leaves a gap, and the next go under a new producer
                 * id) */
                char v[48];
                snprintf(v, sizeof(v), "lost-%06zu", k);
                if (fb_wrote(c->fb, v))
                    FAIL("%s: record %zu reported not persisted, but the broker wrote it", fn, k);
            }
            CHECK_EQ_INT(d->offset, -1);
            CHECK_GE_INT(took, FOREVER_DTO - 5);
            CHECK_LE_INT(took, FOREVER_DTO + FOREVER_RTO + 750);
        }
        CHECK_GE_INT(fb_get(c->fb, &c->fb->injected), 1);
        if (c->f != F_GARBAGE)
            CHECK_GE_INT(atomic_load(&c->lc.disconnects), 1);
        /* Nothing is sent out of order while every record is still being
         * retried. Once a batch has failed for good (its records' delivery
         * timeout), its sequence number is a gap, and a batch behind it
         * that may have been written before must be sent under its old
         * sequence to find out: the broker's OUT_OF_ORDER_SEQUENCE_NUMBER
         * says it was not (a duplicate would have been recognised). */
        pthread_mutex_lock(&c->fb->lock);
        if (c->fb->out_of_order && c->fb->first_ooo_ms < first_failed)
            FAIL("%s: out of order %lld ms before the first record failed: %s", fn,
                 (long long)(first_failed - c->fb->first_ooo_ms), c->fb->first_ooo);
        pthread_mutex_unlock(&c->fb->lock);
        CHECK_EQ_INT(fb_get(c->fb, &c->fb->bad_requests), 0);
        printf("  Produce        %-15s %d faults, %d disconnections, %d in flight / %d queued "
               "timed out, %lld written, last after %d ms\n",
               fn, fb_get(c->fb, &c->fb->injected), atomic_load(&c->lc.disconnects), in_flight,
               queued, (long long)written, max_ms);
    }
    /* the broker mends: the same producer delivers again */
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        fb_set_fault(c->fb, F_NONE, API_ANY, 0, 0);
        kp_record_t r = {
            .topic = TOPIC, .partition = KP_PARTITION_ANY, .value = "after", .value_len = 5};
        kp_record_metadata_t md;
        int64_t end = fb_log_end(c->fb);
        if (CHECK_OK(kp_send_sync(c->p, &r, 10000, &md))) {
            CHECK_EQ_INT(md.offset, end);
            CHECK_EQ_INT(md.persisted, KP_PERSISTED);
        }
        CHECK_EQ_INT(fb_log_end(c->fb), end + 1);
    }
    for (int i = 0; i < NC; i++) {
        forever_case_t *c = &cs[i];
        if (c->p) {
            CHECK_OK(kp_close(c->p, 10000));
            kp_producer_destroy(c->p);
        }
        if (c->t.d)
            tracker_free(&c->t);
        fb_stop(c->fb);
    }
    free(cs);
}

/* ---------------------------------------------------------------- growth */

typedef struct growth {
    kp_producer_t *p;
} growth_t;

static int has_three(void *arg) { return test_partitions(((growth_t *)arg)->p, TOPIC) == 3; }

/* A topic that grows (partitions added on the broker) is picked up by the
 * periodic metadata refresh (metadata.max.age.ms). */
static void test_partition_growth_picked_up(void) {
    fake_broker_t *fb = fb_start();
    REQUIRE_NOT_NULL(fb);
    char boot[64], err[512];
    snprintf(boot, sizeof(boot), "127.0.0.1:%d", fb->port);
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err));
    kp_config_set(c, "client.id", CLIENT_ID, err, sizeof(err));
    kp_config_set(c, "metadata.max.age.ms", "100", err, sizeof(err));
    growth_t g = {kp_producer_new(c, err, sizeof(err))};
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(g.p);
    CHECK_EQ_INT(test_partitions(g.p, TOPIC), 1);
    kp_record_t r = {.topic = TOPIC, .partition = 2, .value = "x", .value_len = 1};
    pthread_mutex_lock(&fb->lock);
    fb->partitions = 3;
    pthread_mutex_unlock(&fb->lock);
    CHECK(wait_until(has_three, &g, 5000));
    /* an explicit partition of the grown topic is accepted now (its
     * delivery is not this test's business: the fake keeps only t-0) */
    kp_future_t *f = NULL;
    CHECK_OK(kp_send_future(g.p, &r, NULL, NULL, &f));
    kp_future_destroy(f);
    CHECK_EQ_ERR(kp_close(g.p, 0), KP_ERR_TIMED_OUT);
    kp_producer_destroy(g.p);
    fb_stop(fb);
}

/* Many partitions failing with a metadata error cause one metadata refresh
 * at a time, at most one per retry.backoff.ms (single-flight, coalesced),
 * not one per failing partition. */
static void test_metadata_refresh_coalesced(void) {
    fake_broker_t *fb = fb_start();
    REQUIRE_NOT_NULL(fb);
    pthread_mutex_lock(&fb->lock);
    fb->partitions = 8; /* partitions 1..7 answer UNKNOWN_TOPIC_OR_PARTITION */
    pthread_mutex_unlock(&fb->lock);
    char boot[64], err[512];
    snprintf(boot, sizeof(boot), "127.0.0.1:%d", fb->port);
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err));
    kp_config_set(c, "client.id", CLIENT_ID, err, sizeof(err));
    kp_config_set(c, "linger.ms", "0", err, sizeof(err));
    kp_config_set(c, "request.timeout.ms", "500", err, sizeof(err));
    kp_config_set(c, "delivery.timeout.ms", "2000", err, sizeof(err));
    kp_config_set(c, "retry.backoff.ms", "100", err, sizeof(err));
    kp_config_set(c, "retry.backoff.max.ms", "100", err, sizeof(err));
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_INT(test_partitions(p, TOPIC), 8);
    int md0 = fb_get(fb, &fb->requests[API_METADATA]);
    tracker_t t;
    tracker_init(&t, 7);
    slot_ref_t refs[7];
    int64_t t0 = test_now_ms();
    for (int part = 1; part <= 7; part++) {
        kp_record_t r = {.topic = TOPIC, .partition = part, .value = "x", .value_len = 1};
        refs[part - 1] = (slot_ref_t){&t, (size_t)part - 1};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[part - 1]));
    }
    CHECK(tracker_wait(&t, 10000)); /* they fail at delivery.timeout.ms */
    int64_t elapsed = test_now_ms() - t0;
    int md = fb_get(fb, &fb->requests[API_METADATA]) - md0;
    int errors = fb_get(fb, &fb->unknown_sent);
    printf("%d partition errors answered in %lld ms, %d metadata requests\n", errors,
           (long long)elapsed, md);
    CHECK_GT_INT(errors, 50);
    CHECK_LE_INT(md, elapsed / 100 + 2); /* at most one per retry.backoff.ms */
    CHECK_LT_INT(md * 2, errors);
    kp_producer_destroy(p);
    tracker_free(&t);
    fb_stop(fb);
}

/* ---------------------------------------------------------------- odd partitions */

typedef struct child {
    pid_t pid;
    int status;
} child_t;

static int child_exited(void *arg) {
    child_t *c = arg;
    return waitpid(c->pid, &c->status, WNOHANG) == c->pid;
}

/* Run fn in a child process, so that a crash fails this test and not the
 * whole program. Only with no other thread running: every producer and
 * fake broker of the tests before is gone. */
static void run_isolated(const char *what, void (*fn)(void)) {
    fflush(stdout);
    fflush(stderr);
    child_t c = {fork(), 0};
    if (c.pid < 0) {
        FAIL("fork: %s", strerror(errno));
        return;
    }
    if (c.pid == 0) {
        atomic_store(&test_failures_, 0);
        fn();
        fflush(stdout);
        fflush(stderr);
        exit(atomic_load(&test_failures_) ? 1 : 0);
    }
    if (!wait_until(child_exited, &c, 60000)) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &c.status, 0);
        FAIL("%s: still running after 60 s: killed", what);
    } else if (WIFSIGNALED(c.status)) {
        FAIL("%s: the process died of signal %d (%s)", what, WTERMSIG(c.status),
             strsignal(WTERMSIG(c.status)));
    } else if (WEXITSTATUS(c.status) != 0) {
        FAIL("%s: failed (exit status %d; a sanitizer report exits 1 too)", what,
             WEXITSTATUS(c.status));
    }
}

static void partition_index_max(void) { run_recovery(F_PARTITION_HUGE, API_METADATA, 2); }
static void no_partitions(void) { run_recovery(F_NO_PARTITIONS, API_METADATA, 2); }

/* Well-formed Metadata answers a broker never gives, twice, then the truth:
 * a partition index of 2^31-1 must cause no signed overflow (UBSan aborts
 * on one) and no attempt to grow the topic to 2^31 partitions; a topic
 * without error but without a partition must not count as known with zero
 * partitions (the partitioner would divide by it). kprod ignores what it
 * cannot use and delivers once the real partition is known. Each runs in a
 * child process, so that a crash is one failed check. */
static void test_metadata_odd_partitions(void) {
    run_isolated("Metadata/partition-2^31-1", partition_index_max);
    run_isolated("Metadata/no-partitions", no_partitions);
}

/* ---------------------------------------------------------------- SIGPIPE */

/* A broker closing a connection while kprod writes must cost kprod an
 * error, not raise SIGPIPE in the application (whose default action is to
 * die). The fake broker writes with MSG_NOSIGNAL, so any SIGPIPE here is
 * kprod's: counted for the whole run (instead of killing it) and checked
 * by the last test. It takes a close landing between kprod's last read
 * and its next write on that connection, so it is a matter of chance: a
 * fresh-clone CI run once died of it (in about six runs of this program)
 * before kprod wrote with MSG_NOSIGNAL. */
static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

__attribute__((constructor)) static void count_sigpipes(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigpipe;
    sigaction(SIGPIPE, &sa, NULL);
}

static void test_no_sigpipe(void) { CHECK_EQ_INT(sigpipes, 0); }

/* ---------------------------------------------------------------- in flight */

/* Send N records, batches of a few records, up to 5 in flight; the fake
 * broker's schedule is already set. Checks that every record was
 * acknowledged once, at the offset equal to its send order, and the log is
 * exactly N long. */
static void run_inflight(fake_broker_t *fb, const char *what) {
    enum { N = 3000 };
    static const char *const extra[] = {"batch.size", "200", "max.in.flight.requests.per.connection",
                                        "5", NULL};
    logcap_t lc;
    kp_producer_t *p = producer_with(fb, &lc, "20000", extra);
    if (!p)
        return;
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    send_values(p, &t, refs, N, "rec");
    if (!tracker_wait(&t, 20000))
        FAIL("%s: %ld of %d records completed", what, atomic_load(&t.done), N);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (size_t i = 0; i < N; i++)
        if (atomic_load(&t.d[i].calls) != 1 || t.d[i].err != KP_OK ||
            t.d[i].offset != (int64_t)i) {
            FAIL("%s: record %zu: %d calls, %s, offset %lld", what, i,
                 atomic_load(&t.d[i].calls), kp_err_name(t.d[i].err), (long long)t.d[i].offset);
            break;
        }
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    CHECK_EQ_INT(fb_log_end(fb), N);
    printf("  %-44s %d refused as out of order, %d resends recognised, %d disconnections, log "
           "%lld records in order\n",
           what, fb_get(fb, &fb->out_of_order), fb_get(fb, &fb->duplicates),
           atomic_load(&lc.disconnects), (long long)fb_log_end(fb));
    free(refs);
    tracker_free(&t);
}

/* Several batches of one partition in flight, and the broker fails some
 * with NOT_LEADER_OR_FOLLOWER: it then refuses the batches behind each
 * failed one with OUT_OF_ORDER_SEQUENCE_NUMBER (their sequence leaves a
 * gap), as Kafka does. kprod must resend them all, in their first order,
 * under their sequence numbers. */
static void test_inflight_retries_keep_order(void) {
    static const struct {
        int skip, count;
    } plans[] = {{20, 1}, {40, 3}, {60, 10}};
    int refused = 0;
    for (size_t pl = 0; pl < sizeof(plans) / sizeof(plans[0]); pl++) {
        fake_broker_t *fb = fb_start();
        REQUIRE_NOT_NULL(fb);
        pthread_mutex_lock(&fb->lock);
        fb->perr = 6; /* NOT_LEADER_OR_FOLLOWER */
        fb->perr_skip = plans[pl].skip;
        fb->perr_count = plans[pl].count;
        pthread_mutex_unlock(&fb->lock);
        char what[64];
        snprintf(what, sizeof(what), "%d NOT_LEADER_OR_FOLLOWER after %d batches",
                 plans[pl].count, plans[pl].skip);
        run_inflight(fb, what);
        CHECK_EQ_INT(fb_get(fb, &fb->perr_injected), plans[pl].count);
        refused += fb_get(fb, &fb->out_of_order);
        fb_stop(fb);
    }
    /* batches were in flight behind the failed ones: the broker refused
     * them, and kprod sent them again (in order, once: run_inflight) */
    CHECK(refused > 0);
}

/* Several batches in flight and the answer to one is lost (the connection
 * breaks in the middle of it, or it is garbage): the broker may have
 * written that batch and the ones behind it. kprod resends them all under
 * their sequences; the broker recognises what it has (its last five
 * batches, Kafka's window, which is why five is the most in flight) and
 * answers with the first offsets: each record once, in order. */
static void test_inflight_lost_answers(void) {
    static const fault_t faults[] = {F_CLOSE_MID_FRAME, F_GARBAGE_FRAME, F_TRUNCATED};
    int resends = 0;
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        fake_broker_t *fb = fb_start();
        REQUIRE_NOT_NULL(fb);
        fb_set_fault(fb, faults[i], API_PRODUCE, 30, 2);
        char what[64];
        snprintf(what, sizeof(what), "2 Produce answers lost (%s)", fault_names[faults[i]]);
        run_inflight(fb, what);
        CHECK_EQ_INT(fb_get(fb, &fb->injected), 2);
        resends += fb_get(fb, &fb->duplicates);
        fb_stop(fb);
    }
    /* batches written but not acknowledged were sent again, recognised */
    CHECK(resends > 0);
}

TEST_MAIN(TEST(test_apiversions_faults), TEST(test_metadata_faults), TEST(test_initpid_faults),
          TEST(test_initpid_garbage_fatal), TEST(test_produce_faults),
          TEST(test_any_response_faults), TEST(test_faults_forever_time_out),
          TEST(test_metadata_odd_partitions), TEST(test_partition_growth_picked_up),
          TEST(test_metadata_refresh_coalesced), TEST(test_inflight_retries_keep_order),
          TEST(test_inflight_lost_answers), TEST(test_no_sigpipe))
