/*
 * rawfetch — reads a partition's stored record batches byte for byte with
 * plain Fetch v4 requests over a blocking socket, so a test can see what a
 * consumer hides: each batch's producer id, epoch and base sequence.
 * Batches are parsed with the test's own minimal reader (no kprod code).
 */
#include "rawfetch.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *hostport) {
    char host[256];
    snprintf(host, sizeof(host), "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = 0;
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &ai))
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void put16(uint8_t **p, int v) { *(*p)++ = (uint8_t)(v >> 8), *(*p)++ = (uint8_t)v; }
static void put32(uint8_t **p, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
        *(*p)++ = (uint8_t)(v >> s);
}
static void put64(uint8_t **p, uint64_t v) {
    put32(p, (uint32_t)(v >> 32));
    put32(p, (uint32_t)v);
}
static uint64_t get(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int full_io(int fd, void *buf, size_t n, int writing) {
    uint8_t *b = buf;
    while (n) {
        ssize_t r = writing ? write(fd, b, n) : read(fd, b, n);
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One Fetch v4 for one partition at offset; returns the response body
 * (malloc'd) or NULL. */
static uint8_t *fetch(int fd, const char *topic, int32_t partition, int64_t offset,
                      size_t *len) {
    uint8_t req[512], *p = req + 4;
    size_t tl = strlen(topic);
    put16(&p, 1);  /* Fetch */
    put16(&p, 4);  /* v4 */
    put32(&p, 7);  /* correlation id */
    put16(&p, 8);
    memcpy(p, "rawfetch", 8), p += 8;
    put32(&p, (uint32_t)-1); /* replica id */
    put32(&p, 0);            /* max wait */
    put32(&p, 0);            /* min bytes */
    put32(&p, 64 << 20);     /* max bytes */
    *p++ = 0;                /* isolation: read uncommitted */
    put32(&p, 1);
    put16(&p, (int)tl);
    memcpy(p, topic, tl), p += tl;
    put32(&p, 1);
    put32(&p, (uint32_t)partition);
    put64(&p, (uint64_t)offset);
    put32(&p, 64 << 20);
    uint8_t *sz = req;
    put32(&sz, (uint32_t)(p - req - 4));
    if (full_io(fd, req, (size_t)(p - req), 1))
        return NULL;
    uint8_t hdr[4];
    if (full_io(fd, hdr, 4, 0))
        return NULL;
    *len = (size_t)get(hdr, 4);
    uint8_t *resp = malloc(*len);
    if (!resp || full_io(fd, resp, *len, 0)) {
        free(resp);
        return NULL;
    }
    return resp;
}

/* A zigzag varint at *p (advanced), -1 past end. */
static int64_t varint(const uint8_t **p, const uint8_t *end) {
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    }
    return -1;
}

/* The type (key: int16 version, int16 type) of a control batch's first
 * record, from its records' bytes; -2 when unreadable. */
static int16_t control_type(const uint8_t *rec, size_t len) {
    const uint8_t *p = rec, *end = rec + len;
    varint(&p, end); /* length */
    if (p >= end)
        return -2;
    p++;             /* attributes */
    varint(&p, end); /* timestamp delta */
    varint(&p, end); /* offset delta */
    int64_t klen = varint(&p, end);
    if (klen < 4 || p + 4 > end)
        return -2;
    return (int16_t)get(p + 2, 2);
}

int rawfetch_partition(const char *bootstraps, const char *topic, int32_t partition,
                       rawfetch_batch_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    char list[1024];
    snprintf(list, sizeof(list), "%s", bootstraps);
    /* find the leader: the broker that answers without an error */
    for (char *save = NULL, *hp = strtok_r(list, ",", &save); hp; hp = strtok_r(NULL, ",", &save)) {
        int fd = connect_to(hp);
        if (fd < 0)
            continue;
        int64_t offset = 0;
        int ok = 1, leader = 0;
        for (;;) {
            size_t len;
            uint8_t *r = fetch(fd, topic, partition, offset, &len);
            if (!r) {
                ok = 0;
                break;
            }
            /* corr(4) throttle(4) ntopics(4) name(2+tl) nparts(4) partition(4) err(2)
             * hw(8) lso(8) naborted(4) [..] records(4+n) */
            size_t o = 4 + 4 + 4 + 2 + strlen(topic) + 4 + 4;
            int err = len >= o + 2 ? (int)(int16_t)get(r + o, 2) : -1;
            o += 2;
            int64_t hw = len >= o + 8 ? (int64_t)get(r + o, 8) : -1;
            o += 16;
            int32_t nab = len >= o + 4 ? (int32_t)get(r + o, 4) : 0;
            o += 4 + (size_t)(nab > 0 ? nab : 0) * 16;
            int32_t rl = len >= o + 4 ? (int32_t)get(r + o, 4) : -1;
            o += 4;
            if (err) {
                free(r);
                ok = 0; /* not the leader (or no such partition) */
                break;
            }
            leader = 1;
            size_t end = o + (size_t)(rl > 0 ? rl : 0);
            if (rl <= 0 || end > len) {
                free(r);
                break; /* nothing more */
            }
            int progressed = 0;
            while (o + 61 <= end) {
                uint32_t blen = (uint32_t)get(r + o + 8, 4);
                if (o + 12 + blen > end)
                    break;
                rawfetch_batch_t b;
                b.base_offset = (int64_t)get(r + o, 8);
                b.attributes = (int16_t)get(r + o + 21, 2);
                b.producer_id = (int64_t)get(r + o + 43, 8);
                b.producer_epoch = (int16_t)get(r + o + 51, 2);
                b.base_sequence = (int32_t)get(r + o + 53, 4);
                b.record_count = (int32_t)get(r + o + 57, 4);
                b.control_type = -1;
                if (b.attributes & RAWFETCH_CONTROL)
                    b.control_type = control_type(r + o + 61, o + 12 + blen - (o + 61));
                if (*n == cap) {
                    cap = cap ? cap * 2 : 256;
                    *out = realloc(*out, cap * sizeof(**out));
                }
                (*out)[(*n)++] = b;
                offset = b.base_offset + b.record_count;
                progressed = 1;
                o += 12 + blen;
            }
            free(r);
            if (!progressed || offset >= hw)
                break;
        }
        close(fd);
        if (ok && leader)
            return 0;
        *n = 0;
    }
    return -1;
}

int rawfetch_txn_summary(const char *bootstraps, const char *topic, int32_t partition,
                         rawfetch_txn_t *out) {
    *out = (rawfetch_txn_t){0, 0, 0, 0, 0, -1, -1, -1};
    rawfetch_batch_t *bs;
    size_t n;
    if (rawfetch_partition(bootstraps, topic, partition, &bs, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (bs[i].attributes & RAWFETCH_CONTROL) {
            if (bs[i].control_type == 1)
                out->commits++;
            else if (bs[i].control_type == 0)
                out->aborts++;
            else
                out->bad++;
            continue;
        }
        if (!(bs[i].attributes & RAWFETCH_TRANSACTIONAL))
            out->bad++;
        if (out->pid < 0) {
            out->pid = bs[i].producer_id;
            out->epoch_first = bs[i].producer_epoch;
        } else if (out->pid != bs[i].producer_id) {
            out->bad++;
        }
        out->epoch_last = bs[i].producer_epoch;
        out->data_batches++;
        out->data_records += bs[i].record_count;
    }
    free(bs);
    return 0;
}
