/*
 * fakebroker — a one-broker Kafka peer in the test's own process that checks
 * what a Kafka broker checks and answers what no Kafka broker would.
 *
 * What it is: one thread and a listening socket on 127.0.0.1 (an ephemeral
 * port, fb_bootstrap(); fb_options_t.listen_host: another address, ::1). By
 * default it speaks just enough Kafka, all non-flexible versions:
 * ApiVersions v0-2, Metadata v1-2, InitProducerId v0-1 and Produce v3-8 (an
 * ApiVersions request above its range gets UNSUPPORTED_VERSION and that
 * range, as from Kafka; fb_options_t.apiversions_hangs_up: a close).
 * Metadata lists itself as node 1, leader of every partition of the one
 * topic (fb_options_t.topic; one partition unless fb_set_partitions() says
 * more). Requests that do not parse, of an API or version it does not
 * offer, or with another client id than fb_options_t.client_id count as bad
 * requests (fb_stats_t.bad_requests, a line on stderr) and close the
 * connection.
 *
 * With fb_options_t.transactions it is also the transaction coordinator
 * and the group coordinator (always itself, node 1) and speaks flexible
 * versions (request header v2, response header v1, compact strings and
 * arrays, tagged fields):
 *
 *   API                 versions   flexible from
 *   ApiVersions         0-3        3 (v3's answer: FinalizedFeatures
 *                                     transaction.version = txn_version,
 *                                     when txn_version > 0)
 *   Produce             3-12       9 (v11 and v12 as v10)
 *   InitProducerId      0-5        2
 *   FindCoordinator     0-4        3 (key types 0 and 1; v4: CoordinatorKeys)
 *   AddPartitionsToTxn  0-3        3
 *   AddOffsetsToTxn     0-3        3
 *   TxnOffsetCommit     0-3        3
 *   EndTxn              0-4, 0-5   3 (v5 offered only with txn_version >= 2)
 *
 * The Kafka behaviour it models: a log of partition 0 of the topic (the
 * other partitions answer UNKNOWN_TOPIC_OR_PARTITION), written batch after
 * batch, whose records are looked up with fb_wrote(), counted with
 * fb_log_end() and listed batch by batch with fb_log_batches(). Producer
 * ids come from InitProducerId as 1000, 1001, ..., epoch 0. A batch with a
 * producer id is checked as Kafka checks it, per producer id (the last
 * eight ids seen; an older one is forgotten, as if expired): the first batch
 * of an id, or of a newer epoch of it, must have sequence 0; an older epoch
 * is refused with INVALID_PRODUCER_EPOCH (47); a batch equal (base sequence
 * and record count) to one of the last five the id wrote is a resend,
 * answered with that batch's first offset and not written again (Kafka's
 * duplicate window, which is why a producer keeps at most five requests in
 * flight); any other sequence than the next expected is refused with
 * OUT_OF_ORDER_SEQUENCE_NUMBER (45) — so batches in flight behind a failed
 * one are refused, as Kafka refuses them.
 *
 * Transactions (fb_options_t.transactions), as Kafka's coordinator, for up
 * to four transactional ids:
 * - InitProducerId with a transactional id and pid/epoch -1 gives the id's
 *   one producer id (the first time: the next of 1000, 1001, ...) with the
 *   epoch after the last one given (first: fb_options_t.txn_start_epoch),
 *   which fences the producers of older epochs: their AddPartitionsToTxn,
 *   AddOffsetsToTxn, TxnOffsetCommit and EndTxn are answered
 *   PRODUCER_FENCED (90; INVALID_PRODUCER_EPOCH before v4 of
 *   InitProducerId and v2 of the others, as Kafka), their transactional
 *   Produce INVALID_PRODUCER_EPOCH (47). Their open transaction is aborted.
 *   With the current pid and epoch (v3+, KIP-360) it bumps the epoch,
 *   aborting any open transaction. An epoch that would reach 32767 gives a
 *   new producer id at epoch 0 instead (here and in EndTxn v5). The
 *   transaction timeout must be 1..900000 ms (INVALID_TRANSACTION_TIMEOUT).
 * - A transaction opens with its first AddPartitionsToTxn, AddOffsetsToTxn
 *   or (transactions v2) Produce. AddPartitionsToTxn adds partition 0 of the
 *   topic; any other partition is UNKNOWN_TOPIC_OR_PARTITION and the rest of
 *   the request OPERATION_NOT_ATTEMPTED. A transactional Produce (batch
 *   attribute 0x10) must carry the transactional id that owns the batch's
 *   producer id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 53, counted in
 *   fb_stats_t.txn_id_mismatch) and go to a partition of the open
 *   transaction, else INVALID_TXN_STATE (48) — except with transactions v2
 *   (txn_version >= 2 and Produce v12), where the partition joins.
 * - EndTxn commit or abort writes a control batch (attributes 0x30, one
 *   record with key version 0, type 0 abort / 1 commit; a valid CRC) after
 *   the transaction's batches when partition 0 joined, commits or drops the
 *   transaction's offsets and ends it. A repeat of the EndTxn that ended the
 *   last transaction (same pid, epoch and outcome) answers OK, the other
 *   outcome INVALID_TXN_STATE; with nothing open, an abort answers OK
 *   (nothing is written), a commit INVALID_TXN_STATE. EndTxn v5 with
 *   txn_version >= 2 (KIP-890 part 2) then bumps the epoch and answers the
 *   producer id and epoch to use next; markers of a bumped epoch carry the
 *   new epoch (old + 1), as Kafka writes them.
 * - A transaction open longer than the InitProducerId's timeout (from its
 *   opening) is aborted by the broker on its own thread, at once: the
 *   marker, the epoch bumped, the old epoch kept as fb_txn_info_t.last_epoch.
 *   From that epoch afterwards: Produce v11+, AddOffsetsToTxn and
 *   EndTxn(commit) answer TRANSACTION_ABORTABLE (120), Produce before v11
 *   and AddPartitionsToTxn INVALID_PRODUCER_EPOCH (47), TxnOffsetCommit
 *   PRODUCER_FENCED, EndTxn(abort) OK (and, v5, the current pid/epoch);
 *   InitProducerId with (pid, that epoch) bumps to the current epoch + 1.
 * - TxnOffsetCommit (only for a group added by AddOffsetsToTxn, else
 *   INVALID_TXN_STATE) keeps the offsets with the group's metadata
 *   (generation, member id, group instance id: v3+); they are committed
 *   when the transaction commits (fb_committed_offset()), dropped when it
 *   aborts. Groups are not modelled: generation and member are stored, not
 *   checked.
 *
 * What it does not model: more than one broker, leader moves, replication
 * or acks (every write is acknowledged at once); more than one partition
 * with a log; coordinator loading or moving (inject NOT_COORDINATOR and the
 * like with fb_set_api_error()); the coordinator's Prepare* states (an
 * EndTxn or a fencing completes at once, so CONCURRENT_TRANSACTIONS comes
 * only when injected); consumer groups; read_committed fetching; SASL
 * beyond PLAIN, TLS, compression (batches are stored as sent, so
 * fb_wrote() finds only uncompressed values), the record CRC of data
 * batches, timestamps, quotas (throttle is always 0); the brokers' form of
 * AddPartitionsToTxn (v4+), TxnOffsetCommit v4+, Metadata v3+.
 *
 * What it can do that a broker cannot: on a schedule (fb_set_fault())
 * corrupt chosen responses — truncated, stalled half-way, frame sizes of
 * 0 / -5 / 100 MiB + 1 / 200 MiB, garbage bytes, a wrong correlation id, an
 * array count of 2^31-1, a string longer than the frame, a close in the
 * middle of a frame, a response to no request, a response sent twice,
 * impossible partition lists — and answer well-formed Produce errors on a
 * schedule (fb_set_produce_error()); answer any API a well-formed error
 * (fb_set_api_error()) or late (fb_set_api_delay()).
 *
 * Why it exists: librdkafka's mock cluster (tests/support/mockcluster.h)
 * checks producer sequences only for transactional producers — it stores a
 * resend of an idempotent producer again and accepts batches a broker would
 * refuse as out of order — and it cannot send malformed answers. kprod's
 * handling of both is tested against this peer
 * (tests/integration/test_malformed.c). For transactions the mock has no
 * zombie fencing, no transaction timeout, no transactions v2 and does not
 * store TxnOffsetCommit's offsets: tests/integration/test_fakebroker_txn.c
 * shows this peer does each.
 *
 * Growing it: an API is one row of the handler table in fakebroker.c
 * (ApiVersions offers what the table holds), a behaviour a field of
 * fb_options_t whose zero value keeps today's behaviour.
 *
 * Threads: every function may be called from any thread while the broker
 * runs; counters, the log and the transactional state are read under the
 * broker's lock. Run several brokers side by side for cases that should
 * overlap in time.
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
#define FB_API_FIND_COORDINATOR 10 /* these five: with fb_options_t.transactions */
#define FB_API_ADD_PARTITIONS_TO_TXN 24
#define FB_API_ADD_OFFSETS_TO_TXN 25
#define FB_API_END_TXN 26
#define FB_API_TXN_OFFSET_COMMIT 28
#define FB_API_ANY (-1) /* fb_set_fault(): whatever response comes */
#define FB_API_KEYS 64  /* fb_stats_t.requests[] holds API keys below this */

#define FB_FOREVER (-1) /* fb_set_fault(), fb_set_api_error(), fb_set_api_delay(): no end */
#define FB_NAME_LEN 128 /* ids and names kept (longer ones are cut) */

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
    /* Set: the transactional APIs and the flexible versions (see above). */
    int transactions;
    /* With transactions: the finalized feature transaction.version the
     * ApiVersions v3 answer lists (0: none listed); 2 or more turns on
     * transactions v2 (KIP-890 part 2: EndTxn v5, Produce v12 joins
     * partitions). */
    int16_t txn_version;
    /* The epoch a transactional id's first InitProducerId hands out (0..32766;
     * e.g. 32765 to reach epoch exhaustion in two EndTxn v5). */
    int16_t txn_start_epoch;
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
    /* transactions */
    int coordinator_lookups[2]; /* FindCoordinator keys looked up, by key type
                                   (0 group, 1 transaction) */
    int api_errors_injected;    /* answers given fb_set_api_error()'s error */
    int delayed;                /* answers held by fb_set_api_delay() */
    int fenced;                 /* requests refused for an old epoch (47, 90, 120) */
    int txn_commits, txn_aborts; /* transactions ended by EndTxn */
    int txn_timeouts;           /* transactions the broker aborted, timed out */
    int txn_fenced_aborts;      /* open transactions aborted by InitProducerId */
    int not_in_txn;             /* Produce refused INVALID_TXN_STATE: partition not added */
    int implicit_adds;          /* partitions joined by Produce v12 (transactions v2) */
    int txn_id_mismatch;        /* transactional Produce with a wrong or no transactional id */
    int64_t bytes_in;           /* bytes read from clients (all connections) */
} fb_stats_t;

/* A batch of the log (fb_log_batches()). */
typedef struct fb_batch_info {
    int64_t base_offset; /* its first offset in the log */
    int16_t attributes;  /* 0x10 transactional, 0x20 control */
    int64_t pid;
    int16_t epoch;
    int32_t base_seq;
    int32_t count;       /* records */
    int marker;          /* control batches: 0 ABORT, 1 COMMIT; else -1 */
} fb_batch_info_t;

/* A group's metadata as TxnOffsetCommit gave it with an offset, and the
 * offset's own details (fb_committed_offset()). */
typedef struct fb_group_meta {
    int32_t generation_id;                /* -1 before v3 */
    char member_id[FB_NAME_LEN];          /* "" before v3 */
    char group_instance_id[FB_NAME_LEN];  /* "" when null */
    int has_group_instance_id;            /* it was not null */
    int32_t leader_epoch;                 /* the offset's (v2+; -1 unknown) */
    char metadata[FB_NAME_LEN];           /* the offset's ("" when null) */
    int16_t version;                      /* of the TxnOffsetCommit request */
} fb_group_meta_t;

/* A transactional id's state (fb_txn()). */
typedef struct fb_txn_info {
    int64_t pid;         /* its producer id now */
    int16_t epoch;       /* and epoch */
    int64_t prev_pid;    /* the one before an epoch ran out (-1: none) */
    int16_t last_epoch;  /* the epoch of the transaction the broker aborted
                            on timeout (-1: none since InitProducerId) */
    int32_t timeout_ms;  /* InitProducerId's TransactionTimeoutMs */
    int open;            /* a transaction is open */
    int partition_added; /* partition 0 is in it */
    int pending_offsets; /* TxnOffsetCommit offsets in it */
    int inits;           /* InitProducerId answered for the id */
    int commits, aborts, timeouts; /* transactions ended so */
} fb_txn_info_t;

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

/* Answer the next `count` (FB_FOREVER: all) requests of API `api` with
 * error code `err` in every error field of a well-formed answer, without
 * acting on them (nothing written, no state changed). Served for Produce,
 * Metadata, ApiVersions, InitProducerId and the transactional APIs. Replaces
 * that API's schedule; count 0 ends it. */
void fb_set_api_error(fake_broker_t *fb, int api, int16_t err, int count);

/* Hold the answers to the next `count` (FB_FOREVER: all) requests of API
 * `api` for delay_ms. The request acts at once (an EndTxn commits); only
 * its answer waits. The connection is muted meanwhile, as Kafka mutes a
 * connection with a request in progress: later requests on it wait their
 * turn, other connections are answered. A client that closes the connection
 * meanwhile loses the answer. */
void fb_set_api_delay(fake_broker_t *fb, int api, int delay_ms, int count);

/* The log of partition 0, batch by batch in offset order (control batches
 * included): *out a malloc'd array of *n (free() it; NULL when empty).
 * Returns 0, -1 when out of memory. */
int fb_log_batches(fake_broker_t *fb, fb_batch_info_t **out, size_t *n);

/* The state of a transactional id. Returns 0, or -1 when no InitProducerId
 * named it. */
int fb_txn(fake_broker_t *fb, const char *transactional_id, fb_txn_info_t *out);

/* The committed offset of a partition for a group (a committed transaction's
 * TxnOffsetCommit), and the group metadata it came with (gm may be NULL).
 * Returns 0 when found, -1 when none. */
int fb_committed_offset(fake_broker_t *fb, const char *group, const char *topic, int32_t partition,
                        int64_t *offset, fb_group_meta_t *gm);

#endif /* KPROD_TEST_FAKEBROKER_H */
