/*
 * sync_send — send mode 3: synchronous, one record at a time.
 *
 *   usage: sync_send BOOTSTRAP_SERVERS         e.g. sync_send 127.0.0.1:9092
 *
 * The Java producer's send(...).get():
 *
 *     Future<RecordMetadata> f = producer.send(record);
 *     f.get();   // block until the broker has acknowledged the record
 *
 * kp_send_future() queues the record like kp_send() and hands back a
 * future; kp_future_get() blocks until the record completes. Waiting for
 * each record before sending the next gives a strict order and an answer for
 * every record, at the price of one broker round trip per record: much
 * slower than callback_send.c. The output alternates "sent" and "acked".
 * (kp_send_sync() does these three calls in one.)
 */
#include <kprod/kprod.h>

#include <inttypes.h>
#include <stdio.h>

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

    /* 3. Ten keyed records to topic "test2". Records with the same key
     *    always go to the same partition. */
    int status = 0;
    for (int i = 0; i < 10; i++) {
        char key[16], value[64];
        snprintf(key, sizeof key, "%d", i);
        snprintf(value, sizeof value, "message %d", i);

        kp_record_t rec = {
            .topic = "test2",
            .partition = KP_PARTITION_ANY,
            .key = key,
            .value = value,
        };

        printf("sent %d\n", i);
        kp_future_t *fut = NULL;
        kp_err_t err = kp_send_future(p, &rec, NULL, NULL, &fut);
        if (err != KP_OK) {
            /* Not queued, so there is no future to wait for or free. */
            fprintf(stderr, "send %d failed: %s: %s\n", i, kp_err_name(err), kp_err_str(err));
            status = 1;
            break;
        }

        /* Block until the broker answers (-1: no time limit; the record
         * itself still gives up after delivery.timeout.ms). */
        kp_record_metadata_t md;
        err = kp_future_get(fut, -1, &md);
        kp_future_destroy(fut); /* we own the future: free it once done */
        if (err != KP_OK) {
            /* Like get() throwing ExecutionException: the record failed
             * for good (the producer already retried). Stop here. */
            fprintf(stderr, "record %d failed: %s: %s\n", i, kp_err_name(err), kp_err_str(err));
            status = 1;
            break;
        }
        printf("acked %d partition %" PRId32 " offset %" PRId64 "\n", i, md.partition,
               md.offset);
    }

    /* 4. Close. Nothing is pending after a synchronous loop, but close
     *    stops the I/O thread cleanly. */
    kp_err_t err = kp_close(p, -1);
    if (err != KP_OK) {
        fprintf(stderr, "close: %s: %s\n", kp_err_name(err), kp_err_str(err));
        status = 1;
    }
    kp_producer_destroy(p);
    return status;
}
