/*
 * async_send — send mode 1: fire and forget.
 *
 *   usage: async_send BOOTSTRAP_SERVERS        e.g. async_send 127.0.0.1:9092
 *
 * The Java producer's plain asynchronous send:
 *
 *     producer.send(new ProducerRecord<>("first", "kafka first msg : " + i));
 *
 * kp_send() returns as soon as the record is in its partition's batch; a
 * background I/O thread sends the batches to the brokers. With no callback
 * the program never learns whether a record arrived: use this mode only when
 * losing a record now and then is acceptable (the producer still retries
 * transient errors by itself). See callback_send.c to hear back, and
 * sync_send.c to wait for each record.
 */
#include <kprod/kprod.h>

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

    /* 1. Configuration: Java ProducerConfig names. bootstrap.servers may
     *    list several brokers, "host1:9092,host2:9092"; any one is enough to
     *    discover the rest of the cluster. The "string" serializers take
     *    NUL-terminated strings, like Java's StringSerializer. */
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

    /* 2. The producer copies the configuration, so we can free ours now. */
    char errstr[512];
    kp_producer_t *p = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    if (p == NULL) {
        fprintf(stderr, "cannot create producer: %s\n", errstr);
        return 1;
    }

    /* 3. Send five records to topic "first". The key is NULL (a null key),
     *    so the partitioner chooses the partition. kprod copies the record
     *    during kp_send(), so reusing the value buffer at once is fine. */
    int status = 0;
    for (int i = 0; i < 5; i++) {
        char value[64];
        snprintf(value, sizeof value, "kafka first msg : %d", i);

        kp_record_t rec = {
            .topic = "first",
            .partition = KP_PARTITION_ANY,
            .key = NULL,
            .value = value,
        };
        /* No callback (NULL): fire and forget. An error here means the
         * record was not even queued (e.g. the topic does not exist). */
        kp_err_t err = kp_send(p, &rec, NULL, NULL);
        if (err != KP_OK) {
            fprintf(stderr, "send %d failed: %s: %s\n", i, kp_err_name(err), kp_err_str(err));
            status = 1;
        }
    }

    /* 4. Close, like producer.close(): send everything still queued and wait
     *    for it (-1: no time limit), then stop the I/O thread. Skipping this
     *    would lose the records still waiting in their batches. */
    kp_err_t err = kp_close(p, -1);
    if (err != KP_OK) {
        fprintf(stderr, "close: %s: %s\n", kp_err_name(err), kp_err_str(err));
        status = 1;
    }
    kp_producer_destroy(p);
    return status;
}
