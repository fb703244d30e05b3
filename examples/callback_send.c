/*
 * callback_send — send mode 2: asynchronous, with a delivery callback.
 *
 *   usage: callback_send BOOTSTRAP_SERVERS     e.g. callback_send 127.0.0.1:9092
 *
 * The Java producer's send with a Callback:
 *
 *     producer.send(record, new Callback() {
 *         public void onCompletion(RecordMetadata metadata, Exception e) { ... }
 *     });
 *
 * kp_send() still returns at once, so the loop queues all five records
 * without waiting. Later, when a broker acknowledges a record (or it finally
 * fails), kprod calls the callback exactly once for that record, with its
 * partition and offset or with the error. Failed sends are retried by the
 * producer itself: an error in the callback is final, not a cue to resend.
 */
#include <kprod/kprod.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

/* Callbacks run on the producer's I/O thread, not on main()'s thread, so the
 * count they share with main() is atomic. */
static atomic_int failed;

/* Called once per record. md is valid only during the call; copy out what
 * you need. Keep it short: the I/O thread waits while it runs. */
static void on_delivery(const kp_record_metadata_t *md, kp_err_t err, void *opaque)
{
    (void)opaque; /* the last argument of kp_send(), NULL here */
    if (err == KP_OK) {
        printf("topic: %s partition: %" PRId32 " offset: %" PRId64 "\n", md->topic,
               md->partition, md->offset);
    } else {
        fprintf(stderr, "delivery to %s failed: %s: %s\n", md->topic, kp_err_name(err),
                kp_err_str(err));
        atomic_fetch_add(&failed, 1);
    }
}

/* Set one property, printing the library's explanation if it is refused. */
static int set(kp_config_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (kp_config_set(conf, name, value, errstr, sizeof errstr) != KP_OK) {
        fprintf(stderr, "config: %s\n", errstr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s BOOTSTRAP_SERVERS\n", argv[0]);
        return 1;
    }

    /* 1. Configuration, as in async_send.c. */
    kp_config_t *conf = kp_config_new();
    if (conf == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (set(conf, "bootstrap.servers", argv[1]) != 0 ||
        set(conf, "key.serializer", "string") != 0 ||
        set(conf, "value.serializer", "string") != 0) {
        kp_config_destroy(conf);
        return 1;
    }

    /* 2. The producer. */
    char errstr[512];
    kp_producer_t *p = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    if (p == NULL) {
        fprintf(stderr, "cannot create producer: %s\n", errstr);
        return 1;
    }

    /* 3. Send five records, each with on_delivery as its callback. */
    int status = 0;
    for (int i = 0; i < 5; i++) {
        char value[64];
        snprintf(value, sizeof value, "kafka first callback msg : %d", i);

        kp_record_t rec = {
            .topic = "first",
            .partition = KP_PARTITION_ANY,
            .value = value,
        };
        /* On KP_OK the callback will run exactly once, later. On an error
         * nothing was queued and the callback will not run: report it here. */
        kp_err_t err = kp_send(p, &rec, on_delivery, NULL);
        if (err != KP_OK) {
            fprintf(stderr, "send %d failed: %s: %s\n", i, kp_err_name(err), kp_err_str(err));
            status = 1;
        }
    }

    /* 4. Close: deliver what is queued and wait for it. When kp_close()
     *    returns, every callback has run, so `failed` is final. */
    kp_err_t err = kp_close(p, -1);
    if (err != KP_OK) {
        fprintf(stderr, "close: %s: %s\n", kp_err_name(err), kp_err_str(err));
        status = 1;
    }
    kp_producer_destroy(p);

    if (atomic_load(&failed) > 0)
        status = 1;
    return status;
}
