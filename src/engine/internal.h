/*
 * internal — the producer's shared state and the contracts between its
 * parts. Who may touch what:
 *
 *   app threads   kp_send(): the topic and partition tables (read without a
 *                 lock; a new topic is added under topics_lock), a
 *                 partition's deque (tp->lock: the one lock a record
 *                 takes), the memory pool (pool_lock, per batch); a batch
 *                 the thread filled is compressed by it outside every lock
 *                 (b->compressing keeps the I/O thread away), with a
 *                 compressor from the pool (cpool_lock, taken alone)
 *   I/O thread    everything under "sender-owned": connections, brokers,
 *                 metadata state, in-flight requests. Nobody else reads it.
 *
 * Lock order (never the reverse): close_lock -> topics_lock -> tp->lock ->
 * pool_lock -> done_lock; tp->lock -> work_lock. A thread holds at most one
 * tp->lock at a time. cpool_lock, cq.lock and a future's lock are taken
 * alone.
 */
#ifndef KP_INTERNAL_H
#define KP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "conf/config.h"
#include "base/kafka_codes.h"
#include "base/stat.h"
#include "kprod/kprod.h"
#include "net/net.h"
#include "proto/protocol.h"
#include "proto/txn.h"
#include "base/util.h"

typedef struct kp_batch kp_batch_t;
typedef struct kp_tp kp_tp_t;
typedef struct kp_topic kp_topic_t;
typedef struct kp_conn kp_conn_t;
typedef struct kp_req kp_req_t;

/* A record that needs telling when it completes (callback, future,
 * interceptors, the batch callback). Fire-and-forget records have no entry:
 * the batch only counts them. The public kp_batch_record_t itself, so that
 * the batch callback gets the batch's array as it is (err is filled in at
 * completion). */
typedef kp_batch_record_t kp_rec_entry_t;

struct kp_batch {
    kp_batch_t *next; /* deque link (tp) or in-flight list */
    kp_tp_t *tp;
    uint8_t *buf; /* KP_RB_HEADER_SIZE header + records */
    size_t len, cap;
    /* CRC-32C of the records up to crc_len, computed by the appending
     * thread every KP_CRC_CHUNK bytes, while they are in its core's cache:
     * the I/O thread then reads only the rest (less than a chunk), not the
     * whole batch from another core's cache (perf: CRC at 13 % of the I/O
     * thread for 1 KB records). In chunks, not per record: a call per
     * 100-byte record cost more than the cache misses it saved. */
    uint32_t crc;
    size_t crc_len;
    int32_t count;
    int32_t max_rec; /* the largest record's bytes in the batch (metrics' record-size) */
    int64_t base_ts, max_ts;
    int64_t created_ms; /* monotonic: linger and delivery deadline start */
    int64_t retry_at_ms;
    int attempts;
    int closed;           /* no more appends (under tp->lock) */
    /* an application thread is compressing this closed batch outside the
     * partition lock: nobody else may touch it until this is 0 again
     * (tp->lock) */
    int compressing;
    /* idempotence: assigned when first drained, kept across retries */
    int64_t pid;
    int16_t epoch;
    int32_t base_seq; /* -1: not assigned */
    int maybe_persisted;  /* an attempt ended ambiguously */
    /* its records were failed at delivery.timeout.ms while it was in
     * flight: it waits in its request only to be freed (sender-owned) */
    int abandoned;
    /* the partition's send order: 0 until first sent, then 1, 2, ...; a
     * batch coming back for a retry goes back in this order (sender) */
    int64_t sent_no;
    kp_rec_entry_t *ents;
    int nents, ents_cap;
    /* compressed form (header + compressed records), made once — by the
     * application thread that filled the batch, else by the I/O thread
     * when first sent — and reused by retries; then buf is NULL (back in
     * the pool). NULL without compression. */
    uint8_t *cbuf;
    size_t clen;
    uint32_t ccrc; /* CRC-32C of the compressed records */
};

/* One partition of one topic. Two groups of fields, on separate cache
 * lines: what application threads write for every record (the lock and
 * the deque), and what the I/O thread writes (its bookkeeping, completion
 * counts). Sharing a line made every scan turn steal the appenders' line
 * (perf: pthread_mutex_unlock at 7.6 % of the sending thread for 1 KB
 * records). The struct is allocated 64-byte aligned (kp_tp_new). */
#define KP_CACHE_LINE 64
#define KP_CRC_CHUNK 4096 /* see kp_batch.crc */
struct kp_tp {
    kp_topic_t *topic;
    int32_t partition;
    pthread_mutex_t lock; /* guards head/tail and batch contents */
    kp_batch_t *head, *tail;
    /* records ever appended: written under lock (a plain store, no atomic
     * read-modify-write per record), read without it by kp_pending() */
    _Atomic int64_t appended;

    _Alignas(KP_CACHE_LINE) _Atomic int32_t queued; /* batches not yet completed:
                                                      * the adaptive partitioner's load */
    /* since when (monotonic ms) a ready batch has found no broker to take
     * it; 0 while the partition is drained normally (written by the I/O
     * thread, read by partition.availability.timeout.ms) */
    _Atomic int64_t stalled_since;
    _Atomic int64_t completed;   /* records ever completed */
    /* on the I/O thread's list of partitions with batches (tp->lock), and
     * the link of the list new ones wait in (work_lock): the scan visits
     * only partitions with work, not all of them (5,000 partitions cost
     * 7.7 ms of CPU a second at 10 records/s when it visited all) */
    int listed;
    kp_tp_t *work_next;
    /* sender-owned */
    int32_t leader;   /* node id, -1 unknown */
    int32_t leader_epoch; /* of that leader, -1 unknown: an older one is stale */
    int leader_hinted; /* moved by a Produce answer's CurrentLeader (KIP-951):
                        * the batch it refused is resent without backoff */
    /* Batches in flight: up to max.in.flight.requests.per.connection, all
     * on one connection (inflight_conn), whose answers come back in order.
     * After a failure the partition is `retrying`: the batches that came
     * back are resent one at a time, in their first order and (under
     * idempotence) with their sequence numbers, until none is left. */
    int inflight;
    kp_conn_t *inflight_conn;
    int retrying;
    int64_t sent_count; /* last sent_no given */
    int64_t pid;      /* producer id/epoch this partition's sequences belong to */
    int16_t epoch;
    int32_t next_seq;
    /* transactions: the partition's place in the current transaction
     * (KP_TXN_PART_*; txn.c) */
    int txn_part;
    /* statistics (metrics.c; sender-owned): records in flight, records and
     * bytes sent, the sequence after the last acknowledged batch */
    int32_t m_inflight_recs;
    int64_t m_txmsgs, m_txbytes;
    int32_t m_next_ack_seq;
};

struct kp_topic {
    char *name;
    /* Partition table (kp_tp_t *), read without a lock by senders and the
     * scan (kp_topic_parts); grown (never shrunk) by the I/O thread under
     * topics_lock. Empty until metadata knows the topic. */
    kp_ptab_t *_Atomic parts;
    kp_err_t md_err; /* last metadata error for the topic (topics_lock) */
    uint8_t topic_id[KP_UUID_LEN]; /* from Metadata v10+; zero: unknown (topics_lock) */
    /* sticky partitioner for records without a key, lock-free: the current
     * partition (high 32 bits, all ones: none yet) and the bytes sent to it
     * (low 32 bits, saturating), changed together by compare-and-swap */
    _Atomic uint64_t sticky;
    _Atomic uint32_t rr_next; /* round-robin partitioner */
    /* compressed/uncompressed size, in thousandths, as the Java client's
     * CompressionRatioEstimator: written by whichever thread compressed a
     * batch (kp_batch_compress), read when a new batch is sized */
    _Atomic int32_t ratio_milli;
    uint32_t hash; /* of name: the topic index's key (kp_topic_find) */
    struct kp_topic_stats *stats; /* producer-topic-metrics (metrics.c; sender-owned, set up at
                                   * its first batch sent) */
    /* metadata bookkeeping (sender-owned): asked for and not yet complete
     * (no partitions, a retriable error, a leader unknown); when records
     * were last appended (metadata.max.idle.ms) and the count then */
    int md_pending;
    int64_t used_ms;
    int64_t seen_appended;
    kp_err_t md_logged; /* the topic's metadata error last logged */
    /* an application thread was refused with md_err and asks that the
     * topic be looked at again (with backoff) */
    _Atomic int md_recheck;
};

/* The topics by name: open addressing over a power-of-two table of
 * topic pointers, read without a lock (kp_topic_find) and written under
 * topics_lock. Growth builds a table twice the size and publishes it; old
 * tables stay, chained, until the producer is freed (as kp_ptab). Why:
 * a send to the 3,000th topic cost 10 us with a linear walk. */
typedef struct kp_topic_index {
    struct kp_topic_index *prev;
    size_t mask, used;
    kp_topic_t *_Atomic slot[];
} kp_topic_index_t;

/* A topic's partitions: their count, and *tps set to the table (of
 * kp_tp_t *; void * so that each item converts to kp_tp_t * as read). */
static inline int32_t kp_topic_parts(const kp_topic_t *t, void *const **tps) {
    return (int32_t)kp_ptab_get(&t->parts, tps);
}

struct kp_future {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int refs; /* producer side + application side */
    kp_err_t err;
    kp_record_metadata_t md;
};

/* The accumulator's state: everything kp_acc_* touches besides the
 * partitions' deques (each under its tp->lock). It knows the producer only
 * through the configuration, the closing flag and a notify hook. */
typedef struct kp_acc {
    const kp_conf_t *conf;
    const _Atomic int *closing; /* set: no new batches, waits end */
    /* tell the owner (the I/O thread) that a batch may be sent now */
    void (*notify)(void *owner);
    void *owner;
    /* memory pool: buffer.memory bounds the bytes of all batch buffers,
     * compressed copies and completion entries (pool_lock) */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    int64_t pool_avail;
    kp_stack_t free_bufs; /* buffers of batch.size bytes, reusable */
    int pool_waiters;
    /* metrics: waits for memory (ns) and sends refused for it (NULL: none) */
    struct kp_stat *m_wait, *m_exhausted;
    /* idle compressors for application threads (cpool_lock, taken alone) */
    int codec_level; /* of conf->compression_type */
    pthread_mutex_t cpool_lock;
    kp_stack_t cpool;
    /* partitions that got a batch while off the I/O thread's list
     * (work_lock, taken alone or under a tp->lock) */
    pthread_mutex_t work_lock;
    kp_tp_t *work_inbox;
    /* buffer watermarks (pool_lock): bytes in use at which use crosses
     * high (wm_high 0: not watched) and then low; wm_events counts the
     * crossings, strictly alternating, so event k is HIGH when k is odd.
     * Read without the lock by the I/O thread, which delivers them. */
    int64_t wm_high, wm_low;
    int wm_above;
    _Atomic uint64_t wm_events;
} kp_acc_t;

/* One completed batch waiting in the completion queue (completion.mode=
 * queue): its entries moved out of the batch (still charged to
 * buffer.memory until run) and its outcome. Nodes are reused. */
typedef struct kp_cq_item {
    struct kp_cq_item *next;
    kp_tp_t *tp;
    kp_rec_entry_t *ents;
    int nents, ents_cap;
    kp_err_t err;
    kp_persisted_t persisted;
    int64_t base_offset, log_append_time;
    char *msg; /* the broker's words for the batch, or NULL */
} kp_cq_item_t;

/* The completion queue (completion.c). lock is taken alone: nothing runs
 * under it but list and counter updates and the eventfd's signal. */
typedef struct kp_cq {
    int enabled; /* completion.mode=queue */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* something was queued, or the producer closed */
    kp_cq_item_t *head, *tail;
    /* watermark events queued and taken, by number (acc.wm_events's) */
    uint64_t wm_queued, wm_taken;
    int fd;        /* eventfd: readable while something waits */
    int signalled; /* fd holds a count */
    int waiters;   /* threads in kp_poll waiting */
    int closed;    /* kp_close finished: waits end once the queue is empty */
    kp_stack_t free_items;
} kp_cq_t;

/* The metadata requests' bookkeeping (metadata.c; sender-owned). What
 * other threads ask for arrives through md_wanted and md_recheck_any. */
typedef struct kp_md {
    int inflight;          /* the kind of request in flight, 0: none */
    int due;               /* a full refresh is owed */
    int64_t backoff_until; /* no full refresh before this */
    int64_t next_ms;       /* next periodic full refresh (metadata.max.age.ms) */
    int attempts;          /* answers in a row that left something missing */
    int64_t retry_at;      /* no retry of incomplete topics before this */
    size_t asked;          /* topics [0, asked) have been asked for */
    int npending;          /* topics asked for and not complete */
    int recheck_seen;      /* md_recheck_any seen, not yet asked */
    int64_t wanted_since;  /* first wanted since the last answer (0: not wanted) */
    int rebootstrap_asked; /* a broker answered REBOOTSTRAP_REQUIRED */
} kp_md_t;

/* Idempotence: the producer id and epoch the partitions' sequences
 * belong to (idempotence.c; sender-owned). */
typedef struct kp_idem {
    int enabled; /* enable.idempotence */
    int64_t pid;
    int16_t epoch;
    int state; /* KP_PID_NONE, KP_PID_REQUESTING, KP_PID_READY */
    int64_t retry_at;
    int attempts;
} kp_idem_t;

/* Transactions (txn.c): the transactional state machine shared by the
 * application's calls and the I/O thread, and the I/O thread's requests.
 * state is written under lock by both sides (the application: begin and
 * the start of a call; the I/O thread: the outcomes) and read without it
 * by kp_send. One call (op) is under way at a time; a call that timed out
 * leaves it under way, and the same call resumes it. */
typedef enum kp_txn_state {
    KP_TXN_UNINIT = 0,
    KP_TXN_INITIALIZING,
    KP_TXN_READY,
    KP_TXN_IN_TXN,
    KP_TXN_COMMITTING,
    KP_TXN_ABORTING,
    KP_TXN_ABORTABLE,
    KP_TXN_FATAL,
} kp_txn_state_t;
enum { KP_TXN_OP_NONE = 0, KP_TXN_OP_INIT, KP_TXN_OP_COMMIT, KP_TXN_OP_ABORT, KP_TXN_OP_OFFSETS };
/* a partition in the transaction (kp_tp_t.txn_part) */
enum { KP_TXN_PART_NONE = 0, KP_TXN_PART_WANTED, KP_TXN_PART_ADDING, KP_TXN_PART_ADDED };
typedef struct kp_txn {
    int enabled; /* transactional.id set */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic int state;  /* kp_txn_state_t */
    int op;             /* the call under way (lock) */
    int op_done;        /* its outcome is in op_result (lock) */
    kp_err_t op_result;
    kp_err_t error;     /* what made it abortable or fatal (lock) */
    /* kp_send_offsets_to_transaction's copy (lock until posted, then the
     * I/O thread's until op_done) */
    kp_txn_offset_t *offs;
    int32_t noffs;
    char *group_id, *member_id, *group_instance_id;
    int32_t generation_id;
    /* sender-owned */
    int step;             /* where the op is (txn.c) */
    int32_t coord;        /* the transaction coordinator's node id, -1: to find */
    int32_t group_coord;  /* the group's coordinator for offsets, -1: to find */
    int coord_failures, group_coord_failures; /* their connections' failures when found */
    int inflight;         /* a transactional request is in flight */
    int64_t retry_at;
    int attempts;
    kp_tp_t **parts;      /* the partitions in the transaction, or waiting to be */
    int nparts, parts_cap;
    int wanted;           /* partitions waiting for AddPartitionsToTxn */
    int newly_wanted;     /* one was put on the list by the scan (drain.c) */
    int skip_endtxn;      /* INVALID_PRODUCER_ID_MAPPING: the abort asks for a new
                           * producer id without EndTxn (the coordinator would refuse it) */
    int started;          /* partitions or offsets were added: EndTxn is owed */
    int need_bump;        /* a new epoch before the next transaction (KIP-360) */
    int v2;               /* transactions v2 (KIP-890): the coordinator's transaction.version >= 2 */
    int flushing;         /* a commit holds p->flushing up */
} kp_txn_t;

struct kp_producer {
    uint64_t uid; /* unique over the process's life, from 1 */
    kp_conf_t conf;
    char *client_id;
    kp_logger_t logger; /* kp_log(p, ...): the log callback or stderr */

    /* topics: the table (kp_topic_t *) is read without a lock (kp_topics);
     * topics are added, and metadata is changed, under topics_lock */
    pthread_mutex_t topics_lock;
    pthread_cond_t md_cond; /* metadata changed (topics_lock) */
    int64_t md_ok_ms;       /* last metadata response, monotonic (topics_lock) */
    kp_ptab_t *_Atomic topics;
    kp_topic_index_t *_Atomic tindex;

    /* the accumulator: the memory pool, compressors for application
     * threads, partitions that got work (accumulator.c) */
    kp_acc_t acc;
    /* the I/O thread's list of partitions with batches (sender-owned) */
    kp_tp_t **active;
    int nactive, active_cap;

    /* completion bookkeeping */
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    int done_waiters;            /* done_lock */
    kp_cq_t cq;                  /* completion.mode=queue (completion.c) */
    /* kp_purge: the flags asked for (OR-ed), and purges asked for and done
     * (done_lock; the I/O thread does them and wakes done_cond) */
    _Atomic int purge_flags;
    int64_t purge_asked, purge_done;
    int io_exited; /* the I/O thread has ended (done_lock): no purge waits for it */
    uint64_t wm_seen; /* watermark events delivered or queued (sender-owned) */

    /* control */
    _Atomic int closing;     /* no new records */
    _Atomic int force_close; /* fail whatever is left and stop */
    _Atomic int flushing;    /* > 0: ignore linger.ms */
    _Atomic int md_wanted;   /* an app thread needs metadata */
    _Atomic int wake_pending;
    int wake_fd;
    pthread_t thread;
    int thread_started;
    int closed; /* kp_close finished (close_lock) */
    pthread_mutex_t close_lock;

    /* sender-owned */
    /* brokers, connections, the resolver (net/net.h) */
    kp_net_t net;
    kp_md_t md; /* metadata requests (metadata.c) */
    _Atomic int md_recheck_any; /* some topic's md_recheck is set */
    /* idempotence (sender-owned, but fatal_err is read by kp_send) */
    kp_idem_t idem; /* (idempotence.c) */
    kp_txn_t txn;   /* (txn.c) */
    _Atomic int fatal_err; /* non-zero: the producer cannot continue */
    _Atomic int unusable; /* non-zero: only brokers that cannot be used answer, and why
                           * (an unsupported broker, TLS, SASL: sender.c) */
    struct kp_compressor *compressor; /* the I/O thread's; NULL: compression.type=none */
    struct kp_metrics_state *metrics; /* statistics (metrics.c) */
    uint64_t rng; /* retry backoff jitter (the engine's; the net has its own) */
};

/* The producer's topics: their count, and *ts set to the table (of
 * kp_topic_t *). */
static inline size_t kp_topics(const kp_producer_t *p, void *const **ts) {
    return kp_ptab_get(&p->topics, ts);
}

enum { KP_PID_NONE = 0, KP_PID_REQUESTING, KP_PID_READY };

/* ---- producer.c ---- */
#define kp_log(p, ...) kp_logf(&(p)->logger, __VA_ARGS__)
void kp_wake(kp_producer_t *p);
/* The topic of that name, or NULL; no lock (kp_ptab). */
kp_topic_t *kp_topic_find(const kp_producer_t *p, const char *name);
/* Records appended and not yet completed (every partition's appended -
 * completed; without locks: exact once no append is under way). */
int64_t kp_pending(const kp_producer_t *p);
/* Once `closing` is set: is nothing pending, also of the appends that were
 * under way when it was set? */
int kp_drained(const kp_producer_t *p);
/* ---- completion.c: the completion sink ---- */
/* Tell every record of a batch its outcome and count them completed; the
 * batch stays allocated (I/O thread). */
void kp_batch_notify(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                     int64_t log_append_time, kp_persisted_t persisted);
/* The same with the broker's answer for the batch (Produce v8+: record
 * errors, KIP-467, and its message), which says what each record is told;
 * pp NULL: as kp_batch_complete. */
void kp_batch_fail(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                   int64_t log_append_time, kp_persisted_t persisted,
                   const kp_produce_presp_t *pp);
/* Complete every record of a batch and free it (I/O thread). */
void kp_batch_complete(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                       int64_t log_append_time, kp_persisted_t persisted);
/* A future's outcome (the producer's reference is dropped), and a
 * reference dropped (the last frees it). */
void kp_future_resolve(kp_future_t *f, const kp_record_metadata_t *md, kp_err_t err);
void kp_future_unref(kp_future_t *f);
/* The completion queue: set up (completion.mode=queue: its eventfd; 0 or
 * KP_ERR_NOMEM/_IO), closed (waits end once empty), and freed. */
kp_err_t kp_cq_init(kp_producer_t *p);
void kp_cq_close(kp_producer_t *p);
void kp_cq_destroy(kp_producer_t *p);
/* kp_poll: run at most max queued completions on this thread. */
int kp_cq_poll(kp_producer_t *p, int max, int64_t timeout_ms);
/* Non-zero while p's completions run in kp_poll on this thread. */
int kp_in_poll(const kp_producer_t *p);
/* Watermark crossings not delivered yet: call the callback (callback
 * mode) or queue them (I/O thread). */
void kp_deliver_watermarks(kp_producer_t *p);

/* ---- accumulator.c ---- */
/* One record for kp_acc_append: what the send path has ready. */
typedef struct kp_append {
    const kp_record_t *rec; /* its headers */
    const void *key, *value; /* serialized; lengths -1 for null */
    int32_t klen, vlen;
    int64_t ts;
    kp_callback_fn *cb; /* completion: callback and/or future, or neither */
    void *opaque;
    kp_future_t *fut;
    int64_t *deadline; /* max.block.ms, from the clock once a wait starts (0 until) */
    int send_now;      /* close the batch: it goes without lingering */
    int may_block;     /* the caller may wait for memory (0 on the I/O thread, where
                        * a wait would wait for itself: then _BUFFER_EXHAUSTED) */
} kp_append_t;
/* Append a record to tp's open batch, opening one (memory from the pool)
 * when it does not fit; *new_batch says a batch was opened or closed (the
 * I/O thread may have work). */
kp_err_t kp_acc_append(kp_acc_t *acc, kp_tp_t *tp, const kp_append_t *a, int *new_batch);
/* A send's max.block.ms deadline, read from the clock only when the send
 * first has to wait (most never do: this saves a clock read per record).
 * *deadline starts at 0. */
int64_t kp_send_deadline(int64_t max_block_ms, int64_t *deadline);
void kp_acc_release(kp_acc_t *acc, kp_batch_t *b);
/* Split a batch the broker rejected as too large into two closed batches
 * (first->next == second) with the same records, callbacks, deadline and,
 * under idempotence, the same sequence range; b is freed. -1 (b untouched)
 * for a single record or when memory runs out. */
int kp_acc_split(kp_acc_t *acc, kp_batch_t *b, kp_batch_t **first, kp_batch_t **second);
/* Set up an accumulator, and free what it holds (a zeroed, never
 * initialised one: nothing). */
void kp_acc_init(kp_acc_t *acc, const kp_conf_t *conf, const _Atomic int *closing,
                 void (*notify)(void *owner), void *owner, int codec_level);
void kp_acc_destroy(kp_acc_t *acc);
/* The partitions that got their first batch since the last call (linked by
 * work_next; they stay marked listed), and how many; the I/O thread's. */
kp_tp_t *kp_acc_take_inbox(kp_acc_t *acc, int *n);
/* Give back a list kp_acc_take_inbox returned (it could not be kept). */
void kp_acc_put_back_inbox(kp_acc_t *acc, kp_tp_t *list);
/* Wake the appenders waiting for memory (they look at the closing flag). */
void kp_acc_wake_waiters(kp_acc_t *acc);
/* Bytes of buffer.memory available now (may be negative for a while). */
int64_t kp_acc_available(kp_acc_t *acc);
/* Give back a batch's record bytes (buffer, compressed copy) but not its
 * completion entries, which stay charged until kp_acc_release_entries
 * (the completion queue holds them). */
void kp_acc_release_records(kp_acc_t *acc, kp_batch_t *b);
void kp_acc_release_entries(kp_acc_t *acc, kp_rec_entry_t *ents, int ents_cap);
/* Compress b's records into b->cbuf with c (once; retries reuse it) and
 * update the topic's compression ratio estimate. */
kp_err_t kp_batch_compress(kp_acc_t *acc, struct kp_compressor *c, kp_batch_t *b);
kp_tp_t *kp_tp_new(kp_topic_t *t, int32_t partition);
void kp_tp_destroy(kp_tp_t *tp);
/* Bytes a record needs in a new batch (used for size checks). */
size_t kp_acc_record_bound(int32_t klen, int32_t vlen, const kp_header_t *hdrs, size_t nhdrs);
/* tp has a batch now (tp->lock held): put it on the I/O thread's list if
 * it is not there. */
void kp_acc_mark_work(kp_acc_t *acc, kp_tp_t *tp);

/* ---- txn.c: the application's side ---- */
/* (the lock and condition, at creation; enabled is set once the
 * configuration is final) */
void kp_txn_init(kp_producer_t *p);
void kp_txn_destroy(kp_producer_t *p);
/* May a record be sent now? KP_OK, or the error kp_send returns (outside a
 * transaction, abortable). Only for transactional producers. */
kp_err_t kp_txn_may_send(kp_producer_t *p);
/* Post the call op (begin: local; the others are carried out by the I/O
 * thread) and wait for it at most timeout_ms (< 0: forever); a call that
 * timed out is resumed by the same call. */
kp_err_t kp_txn_call(kp_producer_t *p, int op, int64_t timeout_ms);
kp_err_t kp_txn_begin(kp_producer_t *p);
kp_err_t kp_txn_offsets(kp_producer_t *p, const kp_offset_t *offsets, size_t count,
                        const kp_group_metadata_t *group, int64_t timeout_ms);
kp_err_t kp_txn_last_error(kp_producer_t *p);
/* A send of the transaction failed at once (too large, no metadata, no
 * memory within max.block.ms...): as Java's doSend, the transaction can no
 * longer commit whole. Misuse (KP_ERR_TXN_STATE, a bad argument) and a
 * closed or failed producer change nothing. */
void kp_txn_send_failed(kp_producer_t *p, kp_err_t err);

/* ---- sender.c ---- */
void *kp_sender_main(void *arg);
/* ---- produce.c ---- */
/* kp_purge(KP_PURGE_IN_FLIGHT): fail the batches in flight now; their
 * requests keep them, abandoned, until answered (I/O thread). */
void kp_prod_purge_in_flight(kp_producer_t *p);
/* Non-zero on p's I/O thread (inside a callback, for instance). */
int kp_in_io_thread(const kp_producer_t *p);
/* Non-zero on any producer's I/O thread: a wait for a future there may
 * wait for the thread itself. */
int kp_in_any_io_thread(void);

#endif
