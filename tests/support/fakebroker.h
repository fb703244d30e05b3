/*
 * fakebroker — a one-broker Kafka peer in the test's own process that checks
 * what a Kafka broker checks and answers what no Kafka broker would.
 *
 * What it is: one thread and a listening socket on 127.0.0.1 (an ephemeral
 * port, fb_bootstrap(); fb_options_t.listen_host: another address, ::1). It speaks just enough Kafka, all non-flexible
 * versions: ApiVersions v0-2, Metadata v1-2, InitProducerId v0-1 and Produce
 * v3-8 (an ApiVersions request above v2 gets UNSUPPORTED_VERSION and that
 * range, as from Kafka; fb_options_t.apiversions_hangs_up: a close). Metadata lists itself as node 1, leader of every partition of the
 * one topic (fb_options_t.topic; one partition unless fb_set_partitions()
 * says more). Requests that do not parse, of an API or version it does not
 * offer, or with another client id than fb_options_t.client_id count as bad
 * requests (fb_stats_t.bad_requests, a line on stderr) and close the
 * connection.
 *
 * The Kafka behaviour it models: a log of partition 0 of the topic (the
 * other partitions answer UNKNOWN_TOPIC_OR_PARTITION), written batch after
 * batch, whose records are looked up with fb_wrote() and counted with
 * fb_log_end(). Producer ids come from InitProducerId as 1000, 1001, ...,
 * epoch 0. A batch with a producer id is checked as Kafka checks it: the
 * first batch of a new producer id must have sequence 0; a batch equal
 * (base sequence and record count) to one of the last five the id wrote is
 * a resend, answered with that batch's first offset and not written again
 * (Kafka's duplicate window, which is why a producer keeps at most five
 * requests in flight); any other sequence than the next expected is refused
 * with OUT_OF_ORDER_SEQUENCE_NUMBER (45) — so batches in flight behind a
 * failed one are refused, as Kafka refuses them.
 *
 * What it does not model: more than one broker, leader moves, replication
 * or acks (every write is acknowledged at once); more than one producer id
 * at a time (a new id resets the sequence state, as if the old one had
 * expired); epochs, transactions, SASL, TLS, compression (batches are
 * stored as sent, so fb_wrote() finds only uncompressed values), the record
 * CRC, timestamps, quotas (throttle is always 0) and flexible versions.
 *
 * What it can do that a broker cannot: on a schedule (fb_set_fault())
 * corrupt chosen responses — truncated, stalled half-way, frame sizes of
 * 0 / -5 / 100 MiB + 1 / 200 MiB, garbage bytes, a wrong correlation id, an
 * array count of 2^31-1, a string longer than the frame, a close in the
 * middle of a frame, a response to no request, a response sent twice,
 * impossible partition lists — and answer well-formed Produce errors on a
 * schedule (fb_set_produce_error()).
 *
 * Why it exists: librdkafka's mock cluster (tests/support/mockcluster.h,
 * librdkafka 2.0.2) checks producer sequences only for transactional
 * producers — it stores a resend of an idempotent producer again and
 * accepts batches a broker would refuse as out of order — and it cannot
 * send malformed answers. kprod's handling of both is tested against this
 * peer (tests/integration/test_malformed.c).
 *
 * Growing it: an API is one row of the handler table in fakebroker.c
 * (ApiVersions offers what the table holds), a behaviour a field of
 * fb_options_t whose zero value keeps today's behaviour — the places for
 * SASL and transactions.
 *
 * Threads: every function may be called from any thread while the broker
 * runs; counters and the log are read under the broker's lock. Run several
 * brokers side by side for cases that should overlap in time.
 */
#ifndef KPROD_TEST_FAKEBROKER_H
#define KPROD_TEST_FAKEBROKER_H

#include <stddef.h>
#include <stdint.h>

/* Kafka API keys the fake broker serves. */
#define FB_API_PRODUCE 0
#define FB_API_METADATA 3
#define FB_API_APIVERSIONS 18
#define FB_API_INITPID 22
#define FB_API_SASL_HANDSHAKE 17
#define FB_API_SASL_AUTHENTICATE 36
#define FB_API_ANY (-1) /* fb_set_fault(): whatever response comes */
#define FB_API_KEYS 64  /* fb_stats_t.requests[] holds API keys below this */

#define FB_FOREVER (-1) /* fb_set_fault(): no end to the faults */

typedef enum fb_fault {
    FB_F_NONE,
    FB_F_TRUNCATED,       /* consistent frame whose body stops half-way */
    FB_F_STALLED,         /* the size promises the whole body; half comes, then silence
                             (and no answer on that connection again) */
    FB_F_SIZE_ZERO,       /* frame size 0 */
    FB_F_SIZE_NEGATIVE,   /* frame size -5 */
    FB_F_SIZE_OVER_MAX,   /* frame size 100 MiB + 1: one past kprod's limit */
    FB_F_SIZE_HUGE,       /* frame size 200 MiB */
    FB_F_GARBAGE,         /* right size and correlation id, random body */
    FB_F_GARBAGE_FRAME,   /* right size, everything after it random */
    FB_F_WRONG_CORRID,    /* the right response under another correlation id */
    FB_F_ARRAY_HUGE,      /* an array count of 2^31-1 */
    FB_F_STRING_HUGE,     /* a string length running past the end of the frame */
    FB_F_CLOSE_MID_FRAME, /* size and half the body, then the connection closes */
    FB_F_CLOSE_MID_SIZE,  /* two bytes of the size, then the connection closes */
    FB_F_UNSOLICITED,     /* a response to a request never made, then the real one */
    FB_F_AFTER_ANSWER,    /* the real response, then the same again: nothing in flight */
    FB_F_PARTITION_HUGE,  /* Metadata: well-formed, but partition index 2^31-1 */
    FB_F_NO_PARTITIONS,   /* Metadata: well-formed, topic without error and no partition */
    FB_F_COUNT
} fb_fault_t;

typedef struct fb_options {
    /* The client id every request must carry; NULL: any. */
    const char *client_id;
    /* The one topic Metadata lists; NULL: "t". */
    const char *topic;
    /* The bytes of the garbage faults: fill p[0..n) from the generator
     * state *state, which starts at seed (test.h's test_fill_random fits).
     * NULL: those bytes are 0xa5. */
    void (*fill_random)(uint8_t *p, size_t n, uint64_t *state);
    uint64_t seed;
    /* An ApiVersions request above v2 is answered UNSUPPORTED_VERSION with
     * the range it serves, as Kafka 2.4+ does; set, the connection is
     * closed instead (a bad request), as Azure Event Hubs does on v3. */
    int apiversions_hangs_up;
    /* The IP literal it listens on and names in Metadata (as a broker
     * advertises it: "::1", no brackets), e.g. "::1" or "127.0.0.2"; NULL:
     * "127.0.0.1". fb_start fails when it cannot listen there (a machine
     * without IPv6 loopback). */
    const char *listen_host;
    /* Set: SASL PLAIN is required (SASL_PLAINTEXT), with this user and
     * password; SaslHandshake and SaslAuthenticate v0-1, any other request
     * before authentication is a bad request. */
    const char *sasl_user, *sasl_password;
} fb_options_t;

/* What happened so far (fb_stats()). */
typedef struct fb_stats {
    int accepted;               /* connections accepted */
    int requests[FB_API_KEYS];  /* requests per API key, of the APIs served */
    unsigned versions[FB_API_KEYS]; /* bit v: a request of version v was answered */
    int bad_requests;           /* see above: each closed its connection */
    int apiversions_refused;    /* ApiVersions answered UNSUPPORTED_VERSION */
    int sasl_handshakes, sasl_authenticated, sasl_refused; /* SASL PLAIN */
    int injected;               /* faults injected since the last fb_set_fault() */
    int faulted_conns;          /* connections that got at least one fault */
    int dup_closed;             /* connections sent an answer twice
                                   (FB_F_AFTER_ANSWER), then closed by the client */
    int errors_injected;        /* Produce errors since fb_set_produce_error() */
    int unknown_partitions;     /* Produce partitions answered
                                   UNKNOWN_TOPIC_OR_PARTITION */
    int duplicates;             /* batches recognised as resends */
    int out_of_order;           /* batches refused with OUT_OF_ORDER_SEQUENCE_NUMBER */
    int64_t first_ooo_ms;       /* when first (CLOCK_MONOTONIC ms, test_now_ms()'s
                                   clock); 0: never */
    char first_ooo[96];         /* and what it refused then, in words */
} fb_stats_t;

typedef struct fake_broker fake_broker_t;

/* Start a broker (its thread runs until fb_stop()). opts NULL: all
 * defaults. Returns NULL, after saying why on stderr, on failure. */
fake_broker_t *fb_start(const fb_options_t *opts);

/* Stop the thread, close every connection, free everything. NULL is a
 * no-op. Returns 0, or -1 (errno set) when the thread could not be woken
 * (then the broker runs on and nothing is freed). */
int fb_stop(fake_broker_t *fb);

/* "127.0.0.1:PORT" ("[::1]:PORT" for IPv6), for bootstrap.servers; valid
 * until fb_stop(). */
const char *fb_bootstrap(const fake_broker_t *fb);

/* The fault schedule: skip `skip` responses of `api` (FB_API_ANY: of any
 * API the fault applies to), then corrupt the next `count` (FB_FOREVER: all)
 * with `f`. Replaces the schedule before and zeroes fb_stats_t.injected;
 * FB_F_NONE ends the faults. */
void fb_set_fault(fake_broker_t *fb, fb_fault_t f, int api, int skip, int count);

/* Well-formed Produce errors: let `skip` batches of partition 0 through, then
 * answer the next `count` with error code `err` without writing them.
 * Zeroes fb_stats_t.errors_injected. */
void fb_set_produce_error(fake_broker_t *fb, int16_t err, int skip, int count);

/* The same, with KIP-467's detail (Produce v8): the errors name the
 * records at these batch indexes (at most 8; each with the message
 * "record N is bad") and carry `message` as the batch's ErrorMessage
 * (NULL or "": none). */
void fb_set_record_errors(fake_broker_t *fb, int16_t err, int skip, int count,
                          const int32_t *indexes, int n, const char *message);

/* How many partitions Metadata lists for the topic (at least 1; only
 * partition 0 has a log). */
void fb_set_partitions(fake_broker_t *fb, int n);

/* Does a response of this API hold what the fault corrupts? (Faults that do
 * not apply to an API are never injected into its responses.) */
int fb_fault_applies(fb_fault_t f, int api);

/* Short names for messages: "truncated", ...; "Produce", ... ("?" unknown). */
const char *fb_fault_name(fb_fault_t f);
const char *fb_api_name(int api);

/* A snapshot of the counters, taken at once. */
fb_stats_t fb_stats(fake_broker_t *fb);

/* The log of partition 0: the next offset it would give (= records written). */
int64_t fb_log_end(fake_broker_t *fb);

/* Has the log a record with this value (found as bytes in the stored
 * batches, so uncompressed values only)? */
int fb_wrote(fake_broker_t *fb, const char *value);

/* The body of the last garbage frame sent (FB_F_GARBAGE: its first 4 bytes
 * are the right correlation id), copied into buf (at most cap bytes).
 * Returns its length, 0 if none was sent yet. */
size_t fb_last_garbage(fake_broker_t *fb, uint8_t *buf, size_t cap);

#endif /* KPROD_TEST_FAKEBROKER_H */
