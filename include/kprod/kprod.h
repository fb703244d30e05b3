/*
 * kprod — an Apache Kafka producer library in C11.
 *
 * This header is the whole public API: if it is not declared here, it is
 * not API. Every type is opaque unless its fields are part of the contract.
 *
 * Threading
 *   kp_producer_t is safe to use from many application threads at once.
 *   Callbacks (delivery callbacks, log callback) run on the producer's single
 *   I/O thread, in per-partition order. A slow callback slows the producer.
 *   With completion.mode=queue, completions run in kp_poll() instead, on the
 *   application's thread (see "Where completions run" below).
 *   kp_flush() and kp_close() called from inside a callback return
 *   KP_ERR_IN_CALLBACK instead of deadlocking.
 *
 * Errors
 *   One error type, kp_err_t: 0 is success, negative values are local
 *   errors, positive values are Kafka broker error codes passed through.
 *   Kafka's one negative code, UNKNOWN_SERVER_ERROR (-1 on the wire), would
 *   collide with the local range, so kprod reports it as the local code
 *   KP_ERR_UNKNOWN_SERVER_ERROR (named "UNKNOWN_SERVER_ERROR", as in Java).
 *   kp_err_name() and kp_err_str() describe any code.
 *
 * NULL arguments
 *   Every function accepts NULL for every pointer argument (and record
 *   field) without crashing. Where NULL is not a meaningful value, the call
 *   returns KP_ERR_INVALID_ARG (kp_partitions_for too), NULL where it
 *   returns a pointer, 0 from kp_future_is_done, or does nothing (destroy
 *   and set functions); each declaration below says which.
 *   tests/unit/test_null_args.c checks every one.
 *
 * Completion contract
 *   kp_send() either fails at once (returns an error, never calls back) or
 *   returns KP_OK and then completes the record exactly once, later: its
 *   callback and/or future are completed with success or an error, even
 *   when the producer is closed with records still queued.
 */
#ifndef KPROD_KPROD_H
#define KPROD_KPROD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KPROD_BUILDING) && defined(__GNUC__)
#define KP_API __attribute__((visibility("default")))
#else
#define KP_API
#endif

#define KPROD_VERSION_STR "0.1.0"
#define KPROD_VERSION_NUM 0x000100

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

/* Local errors are negative; they are only ever appended to. Positive
 * values are Kafka protocol error codes (e.g. 6 = NOT_LEADER_OR_FOLLOWER). */
typedef enum kp_err {
    KP_OK = 0,
    KP_ERR_UNKNOWN = -1,             /* unexpected internal condition */
    KP_ERR_INVALID_ARG = -2,         /* a NULL or out-of-range argument */
    KP_ERR_INVALID_CONFIG = -3,      /* bad property name or value */
    KP_ERR_NOMEM = -4,               /* out of memory */
    KP_ERR_CLOSED = -5,              /* the producer is closed or closing */
    KP_ERR_TIMED_OUT = -6,           /* a wait (get, flush, close) ran out of time */
    KP_ERR_BUFFER_EXHAUSTED = -7,    /* no buffer.memory within max.block.ms */
    KP_ERR_RECORD_TOO_LARGE = -8,    /* record over max.request.size or buffer.memory */
    KP_ERR_METADATA_TIMEOUT = -9,    /* no metadata for the topic within max.block.ms (a topic
                                      * the cluster says does not exist gives
                                      * UNKNOWN_TOPIC_OR_PARTITION, 3, instead) */
    KP_ERR_MSG_TIMED_OUT_QUEUE = -10,     /* delivery.timeout.ms expired before sending */
    KP_ERR_MSG_TIMED_OUT_IN_FLIGHT = -11, /* delivery.timeout.ms expired while in flight */
    KP_ERR_TRANSPORT = -12,          /* connection failed or dropped */
    KP_ERR_UNKNOWN_PARTITION = -13,  /* explicit partition outside the topic */
    KP_ERR_UNSUPPORTED_BROKER = -14, /* broker lacks a protocol version kprod needs */
    KP_ERR_BAD_RESPONSE = -15,       /* malformed response from a broker */
    KP_ERR_IN_CALLBACK = -16,        /* flush/close/future wait called from a producer callback */
    KP_ERR_SERIALIZATION = -17,      /* a serializer failed */
    KP_ERR_NOT_IMPLEMENTED = -18,    /* a feature this build does not have */
    KP_ERR_PURGED_CLOSE = -19,       /* still pending when close() timed out */
    KP_ERR_IO = -20,                 /* file or system I/O error */
    KP_ERR_UNKNOWN_SERVER_ERROR = -21, /* Kafka's UNKNOWN_SERVER_ERROR (-1 on the wire): the
                                        * broker failed unexpectedly. Given its own local code
                                        * because the wire value -1 is KP_ERR_UNKNOWN. */
    KP_ERR_CLUSTER_UNREACHABLE = -22, /* a send waited max.block.ms for metadata and no broker
                                       * answered at all (refused, not resolved, silent, or not
                                       * Kafka: the log names each broker and its cause) */
    KP_ERR_INVALID_RECORD_IN_BATCH = -23, /* the broker refused the record's batch for another
                                           * record in it (KIP-467: that one failed with
                                           * INVALID_RECORD); this one was not written */
    KP_ERR_SSL_HANDSHAKE = -24, /* the TLS handshake with the broker failed for a reason that
                                 * retrying will not mend: its certificate (untrusted, expired,
                                 * another host's), ours refused, no common TLS version, or a
                                 * listener that does not speak TLS. The log names the broker,
                                 * OpenSSL's reason and what to check. Records for that broker
                                 * fail with it at once; connections are retried with backoff,
                                 * so fixed certificates recover without a restart (as Java's
                                 * SslAuthenticationException) */
    KP_ERR_TXN_STATE = -25,     /* a transactional call not allowed in the producer's state
                                 * (commit before begin, a send outside a transaction, another
                                 * call under way...): nothing changed; a bug in the caller
                                 * (Java's IllegalStateException) */
    KP_ERR_TXN_ABORTABLE = -26, /* the transaction cannot commit (a record failed, the broker
                                 * aborted it, TRANSACTION_ABORTABLE): abort it and carry on;
                                 * kp_txn_error() gives the cause */
    KP_ERR_TXN_ABORTED = -27,   /* the record's transaction was aborted before it was sent
                                 * (never written: KP_NOT_PERSISTED) */
    KP_ERR_PURGED = -28,        /* kp_purge() failed the record before it was sent (never
                                 * written: KP_NOT_PERSISTED) */
    KP_ERR_PURGED_IN_FLIGHT = -29, /* kp_purge(KP_PURGE_IN_FLIGHT) stopped waiting for the
                                    * record's answer (KP_POSSIBLY_PERSISTED: the broker may
                                    * have written it; its late answer is ignored) */
} kp_err_t;

/* Short symbolic name, e.g. "NOT_LEADER_OR_FOLLOWER". Never NULL. */
KP_API const char *kp_err_name(kp_err_t err);
/* Human-readable description. Never NULL. */
KP_API const char *kp_err_str(kp_err_t err);
/* Non-zero when the error is transient and the producer retries it itself
 * (the Java client's RetriableException hierarchy). */
KP_API int kp_err_is_retriable(kp_err_t err);

/* What a transactional producer's application does about an error
 * (KIP-1050, KIP-691; docs/ERRORS.md's "class" column):
 *   KP_ERR_CLASS_NONE        not a transactional outcome (or KP_OK)
 *   KP_ERR_CLASS_RETRIABLE   transient: retried inside the producer; a call
 *                            that returned it (KP_ERR_TIMED_OUT) may be
 *                            called again and resumes where it was
 *   KP_ERR_CLASS_ABORTABLE   abort the transaction and carry on
 *   KP_ERR_CLASS_FATAL       the producer cannot continue (fenced, not
 *                            authorised...): every later call returns the
 *                            error; close and destroy it */
typedef enum kp_err_class {
    KP_ERR_CLASS_NONE = 0,
    KP_ERR_CLASS_RETRIABLE = 1,
    KP_ERR_CLASS_ABORTABLE = 2,
    KP_ERR_CLASS_FATAL = 3,
} kp_err_class_t;
KP_API kp_err_class_t kp_err_class(kp_err_t err);

/* ------------------------------------------------------------------------
 * Configuration (Java ProducerConfig property names and defaults)
 * ---------------------------------------------------------------------- */

typedef struct kp_config kp_config_t;

/* A new configuration holding every default. NULL only when out of memory.
 * The caller owns it and frees it with kp_config_destroy(). */
KP_API kp_config_t *kp_config_new(void);
/* conf NULL: does nothing. */
KP_API void kp_config_destroy(kp_config_t *conf);

/* Set one property. On error returns KP_ERR_INVALID_CONFIG and writes a
 * message naming the property and the allowed values into errstr (which may
 * be NULL). Strings are copied. conf or name NULL: KP_ERR_INVALID_ARG (with
 * a message); value NULL is the empty string. */
KP_API kp_err_t kp_config_set(kp_config_t *conf, const char *name, const char *value, char *errstr,
                              size_t errstr_size);

/* Current value of a property as text (the default when never set); NULL for
 * an unknown name, or when conf or name is NULL. The pointer is valid until
 * the property is set again or the configuration destroyed. */
KP_API const char *kp_config_get(const kp_config_t *conf, const char *name);

/* Load a Java-style .properties file (key=value, key:value or "key value";
 * '#' and '!' comments; backslash line continuation and escapes). Every
 * property goes through kp_config_set(). KP_ERR_IO when the file cannot be
 * read. conf or path NULL: KP_ERR_INVALID_ARG; errstr may be NULL. */
KP_API kp_err_t kp_config_load_file(kp_config_t *conf, const char *path, char *errstr,
                                    size_t errstr_size);

/* ------------------------------------------------------------------------
 * Pluggable parts: serializers, partitioner, interceptors (the Java
 * client's Serializer, Partitioner and ProducerInterceptor). Functions run
 * on the thread that calls kp_send(), except on_acknowledgement.
 * ---------------------------------------------------------------------- */

/* A serializer: write the bytes for data (as passed in the record: pointer
 * and length) into buf (buf_size bytes). Return the length written, a
 * length larger than buf_size to be called again with a buffer that big, or
 * a negative value for an error (the send fails with KP_ERR_SERIALIZATION).
 * data is NULL for a null key/value, which the serializer may keep null by
 * returning -2 (KP_SERIALIZE_NULL).
 * The kp_config_set_* functions below do nothing when conf is NULL; a NULL
 * fn restores the built-in behaviour (the key.serializer/value.serializer
 * property, the built-in placement, the stderr log); opaque may be NULL. */
#define KP_SERIALIZE_NULL (-2)
typedef int32_t(kp_serializer_fn)(const char *topic, const void *data, int32_t data_len,
                                  uint8_t *buf, int32_t buf_size, void *opaque);
KP_API void kp_config_set_key_serializer(kp_config_t *conf, kp_serializer_fn *fn, void *opaque);
KP_API void kp_config_set_value_serializer(kp_config_t *conf, kp_serializer_fn *fn,
                                           void *opaque);

/* A partitioner: return a partition in [0, partition_count), or a negative
 * value to let the built-in placement decide (keyed: murmur2; else sticky).
 * key/value are the serialized bytes (NULL when null). Replaces
 * partitioner.class. */
typedef int32_t(kp_partitioner_fn)(const char *topic, const void *key, int32_t key_len,
                                   const void *value, int32_t value_len, int32_t partition_count,
                                   void *opaque);
KP_API void kp_config_set_partitioner(kp_config_t *conf, kp_partitioner_fn *fn, void *opaque);

struct kp_record;
struct kp_record_metadata;
/* An interceptor. on_send (may be NULL) sees each record before it is
 * serialized and may replace it: return rec itself, or fill *replacement
 * (whose pointers must stay valid until kp_send returns) and return it; a
 * NULL return keeps the record as it was and is logged as the interceptor's
 * failure. on_acknowledgement (may be NULL) runs once per record, with the
 * record's metadata and error: on the I/O thread when the record completes
 * (in kp_poll with completion.mode=queue), or on the sending thread when
 * kp_send fails at once. Interceptors are
 * chained in the order they were added; a failure is logged, never fatal. */
typedef struct kp_interceptor {
    const struct kp_record *(*on_send)(const struct kp_record *rec,
                                       struct kp_record *replacement, void *opaque);
    void (*on_acknowledgement)(const struct kp_record_metadata *md, kp_err_t err, void *opaque);
    void *opaque;
} kp_interceptor_t;
/* The interceptor struct is copied. KP_ERR_NOMEM on allocation failure;
 * conf or ic NULL: KP_ERR_INVALID_ARG. */
KP_API kp_err_t kp_config_add_interceptor(kp_config_t *conf, const kp_interceptor_t *ic);

/* ------------------------------------------------------------------------
 * Records and delivery metadata
 * ---------------------------------------------------------------------- */

#define KP_PARTITION_ANY (-1)  /* let the partitioner choose */
#define KP_TIMESTAMP_NOW 0     /* timestamp: the time of the send call */

typedef struct kp_header {
    const char *key;     /* NUL-terminated; required */
    const void *value;   /* NULL for a null header value */
    int32_t value_len;   /* ignored when value is NULL */
} kp_header_t;

/* A record to send. kprod copies everything it needs during kp_send(): the
 * caller may free or reuse every buffer as soon as kp_send() returns.
 *
 * Key and value: a NULL pointer is a null key/value. What the pointer holds
 * depends on key.serializer / value.serializer, with the Java serializers'
 * byte layouts: "bytes" (pointer + *_len), "string" (NUL-terminated UTF-8;
 * *_len ignored), "short"/"int"/"long" (an int16_t/int32_t/int64_t, written
 * big-endian), "float"/"double" (IEEE 754, big-endian), "uuid" (16 bytes,
 * written as Java's UUID.toString(): 36 lowercase characters). */
typedef struct kp_record {
    const char *topic;       /* required */
    int32_t partition;       /* KP_PARTITION_ANY or an explicit partition */
    const void *key;
    int32_t key_len;
    const void *value;
    int32_t value_len;
    int64_t timestamp;       /* ms since the epoch; KP_TIMESTAMP_NOW = now */
    const kp_header_t *headers;
    size_t header_count;
} kp_record_t;

/* What kprod knows about whether a record reached the broker's log. An
 * application resending a failed record risks a duplicate unless the status
 * is KP_NOT_PERSISTED. */
typedef enum kp_persisted {
    KP_NOT_PERSISTED = 0,      /* never written: safe to resend */
    KP_POSSIBLY_PERSISTED = 1, /* sent, outcome unknown */
    KP_PERSISTED = 2,          /* acknowledged by the broker */
} kp_persisted_t;

/* Result of one record, as the Java client's RecordMetadata plus a status.
 * topic points at storage owned by the producer, valid until it is
 * destroyed. offset is -1 when unknown (acks=0, or an error). */
typedef struct kp_record_metadata {
    const char *topic;
    int32_t partition;        /* -1 if no partition was chosen */
    int64_t offset;
    int64_t timestamp;        /* CreateTime, or LogAppendTime if the topic uses it */
    int32_t serialized_key_size;   /* -1 for a null key */
    int32_t serialized_value_size; /* -1 for a null value */
    kp_persisted_t persisted;
    /* On failure, the broker's own words when it gave any (Produce v8+:
     * the record's BatchIndexErrorMessage or the batch's ErrorMessage),
     * else NULL. Valid during the callback only; NULL in a future's copy. */
    const char *error_message;
} kp_record_metadata_t;

/* Delivery callback: called exactly once per record sent with a callback, on
 * the producer's I/O thread. err is KP_OK on success. md is never NULL (on
 * failure offset is -1) and is valid only during the call. The callback must not block for long; it may call kp_send(). */
typedef void(kp_callback_fn)(const kp_record_metadata_t *md, kp_err_t err, void *opaque);

/* ------------------------------------------------------------------------
 * The producer
 * ---------------------------------------------------------------------- */

typedef struct kp_producer kp_producer_t;
typedef struct kp_future kp_future_t;

/* Create a producer and start its I/O thread. The configuration is copied:
 * the caller still owns conf. On failure returns NULL and writes the reason
 * (naming the property for configuration errors) into errstr (which may
 * be NULL). conf NULL: NULL, with a message. */
KP_API kp_producer_t *kp_producer_new(const kp_config_t *conf, char *errstr, size_t errstr_size);

/* Send modes 1 and 2: fire and forget (cb NULL) or with a callback.
 * Returns once the record is encoded into its partition's batch. It blocks
 * at most max.block.ms for topic metadata and for buffer memory. Returns
 * KP_OK (the record will complete exactly once) or an error (nothing was
 * queued; the callback is not called). p or rec NULL, rec->topic NULL,
 * rec->headers NULL with header_count > 0, or a header key NULL:
 * KP_ERR_INVALID_ARG. cb and opaque may be NULL. */
KP_API kp_err_t kp_send(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb,
                        void *opaque);

/* Send mode 3: as kp_send(), and on KP_OK *futp receives a future that
 * completes with the record's result (on failure *futp is set to NULL). The caller owns the future and must
 * free it with kp_future_destroy() (before or after it completes). cb and
 * opaque may be NULL; p, rec or futp NULL: KP_ERR_INVALID_ARG (and *futp,
 * if futp is not NULL, is set to NULL). */
KP_API kp_err_t kp_send_future(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb,
                               void *opaque, kp_future_t **futp);

/* Wait for a future. timeout_ms < 0 waits forever. Returns the record's
 * result (KP_OK or its error) and fills md (if not NULL), or
 * KP_ERR_TIMED_OUT if it did not complete in time (the future stays valid:
 * wait again or destroy it). fut NULL: KP_ERR_INVALID_ARG at once. On a
 * producer's I/O thread (inside a callback) a future not yet done gives
 * KP_ERR_IN_CALLBACK at once: waiting there would wait for that thread. */
KP_API kp_err_t kp_future_get(kp_future_t *fut, int64_t timeout_ms, kp_record_metadata_t *md);
/* Non-zero once the future has completed; 0 for NULL. */
KP_API int kp_future_is_done(const kp_future_t *fut);
/* fut NULL: does nothing. */
KP_API void kp_future_destroy(kp_future_t *fut);

/* Convenience: kp_send_future() + kp_future_get() + kp_future_destroy(),
 * except that the record's batch is sent at once instead of lingering for
 * linger.ms (nobody can add to it while the caller waits). Waiting beyond
 * timeout_ms gives KP_ERR_TIMED_OUT; the record itself still completes in
 * the background. md may be NULL; p or rec NULL: KP_ERR_INVALID_ARG.
 * From inside a producer callback: KP_ERR_IN_CALLBACK, nothing sent. */
KP_API kp_err_t kp_send_sync(kp_producer_t *p, const kp_record_t *rec, int64_t timeout_ms,
                             kp_record_metadata_t *md);

/* Send every queued record now, ignoring linger.ms, and wait until all
 * records sent before the call have completed. timeout_ms < 0 waits forever.
 * KP_ERR_TIMED_OUT when records are still pending at the deadline. p NULL:
 * KP_ERR_INVALID_ARG. */
KP_API kp_err_t kp_flush(kp_producer_t *p, int64_t timeout_ms);

/* Close: stop accepting records, deliver what is queued (as flush), wait at
 * most timeout_ms (< 0: forever), then complete whatever is left with
 * KP_ERR_PURGED_CLOSE and stop the I/O thread. Afterwards kp_send() returns
 * KP_ERR_CLOSED. Idempotent. Returns KP_ERR_TIMED_OUT if records had to be
 * failed. p NULL: KP_ERR_INVALID_ARG. */
KP_API kp_err_t kp_close(kp_producer_t *p, int64_t timeout_ms);

/* Free the producer; closes it first (waiting without limit) if needed.
 * p NULL: does nothing. */
KP_API void kp_producer_destroy(kp_producer_t *p);

/* The number of partitions of a topic in *count, fetching metadata if
 * needed (blocks at most max.block.ms, as kp_send). Returns KP_OK, or the
 * error a send to the topic would get (a Kafka code such as
 * TOPIC_AUTHORIZATION_FAILED is positive: it is never returned as a count);
 * *count is 0 then. p, topic or count NULL: KP_ERR_INVALID_ARG. */
KP_API kp_err_t kp_partitions_for(kp_producer_t *p, const char *topic, int32_t *count);

/* ------------------------------------------------------------------------
 * Where completions run, per-batch completions, back-pressure, purge
 *
 * completion.mode=callback (the default): delivery callbacks, the batch
 * callback, interceptors' on_acknowledgement and the buffer watermark
 * callback run on the producer's I/O thread.
 * completion.mode=queue: they are queued instead, and run by kp_poll() on
 * whichever application thread calls it; kp_completion_fd() gives an
 * eventfd to wait on in epoll/poll/libuv/asyncio. Futures complete on the
 * I/O thread as the broker answers, in both modes (kp_send_sync() needs no
 * poller). In queue mode:
 *   - Bounded: a queued batch keeps its completion entries (48 bytes a
 *     record) charged to buffer.memory until kp_poll() has run them, so a
 *     slow poller makes kp_send() block (max.block.ms), then fail with
 *     KP_ERR_BUFFER_EXHAUSTED: a thread that sends must not be the only one
 *     that polls while it may block.
 *   - kp_flush() waits for the broker's answers, not for the poller: it may
 *     return with completions still queued.
 *   - kp_close() waits for the answers (as flush), fails what is left at its
 *     timeout, and hands back what is still queued: kp_poll() goes on
 *     running it after close (and returns 0 at once once nothing is left);
 *     kp_producer_destroy() runs whatever is still queued on its own thread
 *     before freeing, so every record still completes exactly once.
 *   - Order: one poller runs completions in the order they were queued
 *     (each partition's in send order); several pollers run them in
 *     parallel, in no order between them.
 * ---------------------------------------------------------------------- */

/* One record of a completed batch, as the batch callback sees it. The array
 * is the batch's own (nothing is copied per record): valid only during the
 * call. */
typedef struct kp_batch_record {
    int32_t offset_delta;          /* offset = base_offset + offset_delta (when known) */
    int32_t serialized_key_size;   /* -1 for a null key */
    int32_t serialized_value_size; /* -1 for a null value */
    kp_err_t err;                  /* this record's outcome: the batch's err, or for a batch
                                    * the broker refused for some of its records (KIP-467)
                                    * the record's own */
    int64_t timestamp;             /* CreateTime as sent */
    kp_callback_fn *callback;      /* as given to kp_send (NULL: none) */
    void *opaque;                  /* as given to kp_send */
    kp_future_t *future;           /* the future of kp_send_future, or NULL; the application
                                    * may have destroyed it: compare, never dereference */
} kp_batch_record_t;

/* A completed batch: one partition's records, sent and answered together. */
typedef struct kp_batch_result {
    const char *topic;       /* owned by the producer, valid until it is destroyed */
    int32_t partition;
    int64_t base_offset;     /* of the first record; -1 unknown (an error, acks=0) */
    int64_t log_append_time; /* the broker's time for all records (LogAppendTime topics),
                              * else -1: each record's timestamp holds */
    kp_err_t err;            /* the batch's outcome */
    kp_persisted_t persisted;
    const char *error_message; /* the broker's words for the batch (Produce v8+), or NULL;
                                * valid during the call */
    const kp_batch_record_t *records; /* every record of the batch, in offset order */
    int32_t count;
} kp_batch_result_t;

/* Batch callback: called once per completed batch with all its records:
 * one call for hundreds of records, for applications that track offsets,
 * not records. Setting it gives every record an entry (kp_send with cb NULL
 * still passes its opaque through); records sent with a callback or a
 * future have it run as well, after the batch callback. Runs where
 * completion.mode says. conf NULL: does nothing; fn NULL: none. */
typedef void(kp_batch_callback_fn)(const kp_batch_result_t *batch, void *opaque);
KP_API void kp_config_set_batch_callback(kp_config_t *conf, kp_batch_callback_fn *fn,
                                         void *opaque);

/* Back-pressure: events when the bytes in use of buffer.memory reach
 * buffer.memory.high.watermark.percent of it (KP_BUFFER_HIGH: pause the
 * source before sends start to block) and then fall to
 * buffer.memory.low.watermark.percent (KP_BUFFER_LOW: resume). Strictly
 * alternating, HIGH first; delivered in order, late rather than never
 * (available is kp_buffer_available() when the event is delivered). Runs
 * where completion.mode says. conf NULL: does nothing; fn NULL: none. */
typedef enum kp_buffer_event { KP_BUFFER_HIGH = 1, KP_BUFFER_LOW = 2 } kp_buffer_event_t;
typedef void(kp_buffer_watermark_fn)(kp_buffer_event_t event, int64_t available, void *opaque);
KP_API void kp_config_set_buffer_watermark_cb(kp_config_t *conf, kp_buffer_watermark_fn *fn,
                                              void *opaque);

/* Bytes of buffer.memory still available now (0 when none; a hint: other
 * threads change it at once). p NULL: 0. */
KP_API int64_t kp_buffer_available(kp_producer_t *p);

/* completion.mode=queue: run at most max queued completions on this thread,
 * waiting at most timeout_ms (< 0: forever; 0: not at all) for the first.
 * One completion is one batch (its batch callback, then each record's
 * interceptors and callback) or one watermark event. Returns how many ran
 * (0: none within the timeout, or the producer is closed and nothing is
 * left), or KP_ERR_INVALID_ARG (p NULL, max < 1, or completion.mode is not
 * queue). Several threads may poll at once. A callback run here may call
 * kp_send, kp_flush, kp_close and kp_poll, but not kp_producer_destroy
 * (ignored, logged). */
KP_API int kp_poll(kp_producer_t *p, int max, int64_t timeout_ms);

/* completion.mode=queue: an eventfd (nonblocking) that is readable while
 * completions wait in the queue, and not once kp_poll() took the last:
 * wait for POLLIN (level-triggered), then call kp_poll(p, n, 0). Owned by
 * the producer (closed by kp_producer_destroy); never read it. -1 when p is
 * NULL or not in queue mode. */
KP_API int kp_completion_fd(kp_producer_t *p);

/* Purge: fail records now, each with its persisted status, for an
 * application that must stop fast and spool them itself.
 *   KP_PURGE_QUEUED     records not yet sent fail with KP_ERR_PURGED
 *                       (KP_NOT_PERSISTED; a batch waiting to be sent again
 *                       after an attempt that may have been written says
 *                       KP_POSSIBLY_PERSISTED)
 *   KP_PURGE_IN_FLIGHT  also stop waiting for records sent and not yet
 *                       answered: they fail with KP_ERR_PURGED_IN_FLIGHT
 *                       (KP_POSSIBLY_PERSISTED) and their late answers are
 *                       ignored (with idempotence, a new producer id or
 *                       epoch follows, as for any gap in the sequence)
 * Records sent after the call are not affected. Returns once the records
 * are failed (their completions ran, or are queued in queue mode); from a
 * callback on the I/O thread it returns at once and the purge happens when
 * the callback returns. On a transactional producer the failed records make
 * the transaction abortable (abort it, as for any failed record).
 * KP_ERR_INVALID_ARG: p NULL or flags without either bit; KP_ERR_CLOSED
 * after kp_close. */
#define KP_PURGE_QUEUED 1
#define KP_PURGE_IN_FLIGHT 2
KP_API kp_err_t kp_purge(kp_producer_t *p, int flags);

/* ------------------------------------------------------------------------
 * Transactions (transactional.id set; the Java producer's calls). The
 * state machine: kp_init_transactions once, then any number of
 *   kp_begin_transaction, kp_send*..., [kp_send_offsets_to_transaction],
 *   kp_commit_transaction or kp_abort_transaction.
 * A call that returns KP_ERR_TIMED_OUT did not fail: calling it again (the
 * same call) resumes where it was. KP_ERR_TXN_ABORTABLE: abort, then go on.
 * A fatal error (kp_err_class(err) == KP_ERR_CLASS_FATAL, e.g.
 * PRODUCER_FENCED): every later call returns it; close the producer. No
 * call may be made from a producer callback (KP_ERR_IN_CALLBACK).
 * ---------------------------------------------------------------------- */

/* Find the transaction coordinator, fence older producers with the same
 * transactional.id (a new epoch) and finish or abort what they left open.
 * Without transactional.id: KP_ERR_TXN_STATE. */
KP_API kp_err_t kp_init_transactions(kp_producer_t *p, int64_t timeout_ms);
/* Start a transaction (local: no request). */
KP_API kp_err_t kp_begin_transaction(kp_producer_t *p);

/* A consumed position to commit with the transaction, as the Java
 * client's (TopicPartition, OffsetAndMetadata). */
typedef struct kp_offset {
    const char *topic;
    int32_t partition;
    int64_t offset;       /* the next record to consume */
    int32_t leader_epoch; /* -1: unknown */
    const char *metadata; /* NULL: none */
} kp_offset_t;
/* The consumer group's metadata (the Java ConsumerGroupMetadata): the
 * group coordinator fences offsets of a zombie member by it. */
typedef struct kp_group_metadata {
    const char *group_id;
    int32_t generation_id;         /* -1: unknown */
    const char *member_id;         /* "" or NULL: unknown */
    const char *group_instance_id; /* NULL: none (static membership's id) */
} kp_group_metadata_t;
/* Add consumed offsets to the current transaction: committed to the
 * group if, and only if, the transaction commits. */
KP_API kp_err_t kp_send_offsets_to_transaction(kp_producer_t *p, const kp_offset_t *offsets,
                                               size_t count, const kp_group_metadata_t *group,
                                               int64_t timeout_ms);
/* Flush, then commit: every record sent in the transaction is acknowledged
 * before the commit is asked for. A record that failed makes it
 * KP_ERR_TXN_ABORTABLE (nothing is committed). */
KP_API kp_err_t kp_commit_transaction(kp_producer_t *p, int64_t timeout_ms);
/* Abort: records not yet sent fail with KP_ERR_TXN_ABORTED
 * (KP_NOT_PERSISTED), those in flight are waited for, then the
 * transaction is aborted on every partition it touched. */
KP_API kp_err_t kp_abort_transaction(kp_producer_t *p, int64_t timeout_ms);
/* The error that made the transaction abortable or the producer fail
 * (e.g. the first record's error, PRODUCER_FENCED); KP_OK when none. */
KP_API kp_err_t kp_txn_error(kp_producer_t *p);

/* Log callback: level follows syslog (3 error, 4 warning, 6 info, 7 debug).
 * Called from any thread. Default (also when fn is NULL): warnings and
 * errors to stderr. conf NULL: does nothing. */
typedef void(kp_log_fn)(int level, const char *msg, void *opaque);
KP_API void kp_config_set_log(kp_config_t *conf, kp_log_fn *fn, void *opaque);

/* ------------------------------------------------------------------------
 * OAUTHBEARER tokens (sasl.mechanism=OAUTHBEARER)
 * ---------------------------------------------------------------------- */

/* What a token callback hands over. Every pointer is borrowed: the library
 * copies the strings before the callback's caller returns, so they need
 * only stay valid until then (a buffer in opaque, a static string). */
typedef struct kp_oauthbearer_token {
    const char *value;      /* the token (a compact JWS, RFC 6750 b64token
                               characters), required */
    int64_t lifetime_ms;    /* when it expires, ms since the epoch, required */
    const char *principal;  /* who it names (logged); NULL: none */
    const char *const *extensions; /* SASL extensions (RFC 7628 3.1) as
                               key, value pairs: {"logicalCluster", "lkc-1",
                               "identityPoolId", "pool-2"}; keys
                               ^[A-Za-z]+$ (not "auth") */
    size_t extension_count; /* pairs, i.e. half the array's length */
} kp_oauthbearer_token_t;

/* A token source: fill *out and return KP_OK, or return an error
 * (any non-zero kp_err_t; KAFKA_SASL_AUTHENTICATION_FAILED = 58 fits) with a reason in errstr (errsize bytes; no
 * secret, please: it is logged and may become a creation error).
 *
 * The producer calls it on a thread of its own, never the application's
 * and never its I/O thread: once while kp_producer_new runs (a failure or
 * an unusable token then fails creation with the callback's reason), then
 * again at about 80 % of each token's lifetime, as Java's
 * ExpiringCredentialRefreshingLogin: at window.factor + a random part of
 * window.jitter of the lifetime (sasl.login.refresh.window.factor 0.8,
 * .window.jitter 0.05), not less than sasl.login.refresh.min.period.seconds
 * (60) from now and not later than sasl.login.refresh.buffer.seconds (300)
 * before expiry (both ignored for a token that expires sooner than their
 * sum). A failure later is logged and retried after
 * sasl.login.retry.backoff.ms, doubling up to sasl.login.retry.backoff.max.ms,
 * while connections keep the last good token. New connections, and
 * KIP-368 re-authentications of existing ones, take the newest token. Calls
 * never overlap; the last one has returned when kp_producer_destroy
 * returns. A callback may block (an HTTP request), but it delays only
 * refreshes, and kp_producer_new waits for the first.
 *
 * With a callback set, sasl.jaas.config's OAuthBearerLoginModule options
 * that make tokens (unsecuredLoginStringClaim_sub,
 * sasl.oauthbearer.token.endpoint.url) are not used. conf NULL: does
 * nothing; fn NULL: removes the callback. */
typedef kp_err_t(kp_oauthbearer_token_fn)(void *opaque, kp_oauthbearer_token_t *out,
                                          char *errstr, size_t errsize);
KP_API void kp_config_set_oauthbearer_token_cb(kp_config_t *conf, kp_oauthbearer_token_fn *fn,
                                               void *opaque);

/* ------------------------------------------------------------------------
 * Metrics (docs/METRICS.md lists every one)
 *
 * The Java producer's metrics with its groups, names, tags and units
 * (producer-metrics, producer-topic-metrics, producer-node-metrics; rates
 * per second, times in ms; -rate, -avg and -max over
 * metrics.sample.window.ms x metrics.num.samples, -total cumulative), and
 * kprod's own: percentiles (-p50, -p95, -p99, -p999) of request latency,
 * record queue time and send-to-acknowledgement time, and failures by
 * persisted status. Recording costs no lock and nothing per record on the
 * send path; a snapshot is built on the producer's I/O thread (the caller
 * waits one loop turn), never while nobody asks.
 * ---------------------------------------------------------------------- */

typedef struct kp_metric {
    const char *group;       /* "producer-metrics", ... */
    const char *name;        /* "record-send-rate", ... */
    const char *tags;        /* "client-id=producer-1" or "client-id=producer-1, topic=t" or
                              * "client-id=producer-1, node-id=node-2" (Java's, sorted) */
    const char *description;
    double value;            /* NaN when there is nothing to measure yet (an average of none) */
} kp_metric_t;
typedef struct kp_metrics kp_metrics_t;

/* Every metric now, or NULL (p NULL, out of memory). Its strings live as
 * long as the snapshot. */
KP_API kp_metrics_t *kp_metrics_snapshot(kp_producer_t *p);
KP_API size_t kp_metrics_count(const kp_metrics_t *m);
KP_API const kp_metric_t *kp_metrics_at(const kp_metrics_t *m, size_t i);
/* A metric's value by group, name and tags (NULL: the first of that group
 * and name): KP_OK, or KP_ERR_INVALID_ARG when there is none such. */
KP_API kp_err_t kp_metrics_find(const kp_metrics_t *m, const char *group, const char *name,
                                const char *tags, double *value);
KP_API void kp_metrics_destroy(kp_metrics_t *m);
/* One metric now: kp_metrics_snapshot + kp_metrics_find + destroy. */
KP_API kp_err_t kp_metric_value(kp_producer_t *p, const char *group, const char *name,
                                const char *tags, double *value);

/* The statistics JSON, librdkafka-compatible (its STATISTICS.md names
 * wherever kprod has the thing: top level, brokers with rtt and
 * int_latency windows, topics and partitions, eos): every
 * statistics.interval.ms to this callback, on the I/O thread (json is
 * valid during the call). conf NULL: does nothing. */
typedef void(kp_stats_fn)(const char *json, size_t len, void *opaque);
KP_API void kp_config_set_stats_cb(kp_config_t *conf, kp_stats_fn *fn, void *opaque);
/* The same document now, on demand (malloc'd: free() it), or NULL. */
KP_API char *kp_stats_json(kp_producer_t *p);

/* murmur2 as the Java client computes it (Utils.murmur2), exposed so
 * applications can predict placement: partition =
 * (kp_murmur2(key, len) & 0x7fffffff) % partitions. A NULL key hashes as
 * no bytes (len is ignored). */
KP_API int32_t kp_murmur2(const void *key, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* KPROD_KPROD_H */
