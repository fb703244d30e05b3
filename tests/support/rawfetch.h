/*
 * rawfetch — a partition's stored batch headers, read with raw Fetch v4
 * requests (librdkafka's consumer does not expose producer ids and
 * sequences). For tests of the idempotent producer.
 */
#ifndef KPROD_TEST_RAWFETCH_H
#define KPROD_TEST_RAWFETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct rawfetch_batch {
    int64_t base_offset;
    int16_t attributes;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
    /* a control batch (attributes 0x20): its first record's type, 0 ABORT or
     * 1 COMMIT; -1 for data batches */
    int16_t control_type;
} rawfetch_batch_t;

/* Attributes bits */
#define RAWFETCH_TRANSACTIONAL 0x10
#define RAWFETCH_CONTROL 0x20

/* Every batch of the partition, in log order. Tries each bootstrap server
 * until the leader answers. Returns 0 (free *out) or -1. */
int rawfetch_partition(const char *bootstraps, const char *topic, int32_t partition,
                       rawfetch_batch_t **out, size_t *n);

/* A partition's log as transactions left it: COMMIT and ABORT markers,
 * the data batches and their records, and what a transactional log must
 * not hold (bad: a marker of neither type, a data batch without the
 * transactional bit, or under another producer id than the first). */
typedef struct rawfetch_txn {
    int commits, aborts, data_batches, data_records, bad;
    int64_t pid;                     /* the first data batch's; -1: none */
    int16_t epoch_first, epoch_last; /* the data batches' first and last epoch; -1: none */
} rawfetch_txn_t;
/* Returns 0, or -1 (out as for an empty log) when the partition cannot be
 * read. */
int rawfetch_txn_summary(const char *bootstraps, const char *topic, int32_t partition,
                         rawfetch_txn_t *out);

#endif
