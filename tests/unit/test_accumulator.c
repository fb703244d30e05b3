/*
 * test_accumulator — the accumulator alone, with no producer and no I/O
 * thread: a kp_acc_t given a configuration, a closing flag and a notify
 * hook, and one partition (issue 11: the engine's modules tested on their
 * own). It checks what the module promises: records encoded into the open
 * batch and a new batch when one is full (the owner notified), the memory
 * pool charged per batch and for completion entries and given back on
 * release, a full pool refused at once when the caller may not block, a
 * closing accumulator refusing appends, and a split that keeps every
 * record, in order, with its completion entry.
 */
#include "test.h"

#include "base/alloc.h"
#include "engine/internal.h"
#include "record/record_batch.h"

typedef struct world {
    kp_config_t *cfg;
    kp_conf_t conf;
    _Atomic int closing;
    atomic_int notified;
    kp_acc_t acc;
    kp_topic_t topic;
    kp_tp_t *tp;
} world_t;

static void on_notify(void *owner) { atomic_fetch_add(&((world_t *)owner)->notified, 1); }

/* An accumulator with batch.size and buffer.memory as given, no codec. */
static int world_init(world_t *w, const char *batch_size, const char *buffer_memory) {
    char err[256];
    memset(w, 0, sizeof(*w));
    w->cfg = kp_config_new();
    if (!w->cfg || kp_config_set(w->cfg, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)) ||
        kp_config_set(w->cfg, "batch.size", batch_size, err, sizeof(err)) ||
        kp_config_set(w->cfg, "buffer.memory", buffer_memory, err, sizeof(err)) ||
        kp_conf_copy(&w->conf, &w->cfg->c) || kp_conf_finalize(&w->conf, err, sizeof(err))) {
        fprintf(stderr, "world_init: %s\n", err);
        return -1;
    }
    atomic_init(&w->closing, 0);
    atomic_init(&w->notified, 0);
    kp_acc_init(&w->acc, &w->conf, &w->closing, on_notify, w, 0);
    w->topic.name = "acc";
    atomic_init(&w->topic.ratio_milli, 1000);
    w->tp = kp_tp_new(&w->topic, 0);
    return w->tp ? 0 : -1;
}

static void world_free(world_t *w) {
    while (w->tp && w->tp->head) {
        kp_batch_t *b = w->tp->head;
        w->tp->head = b->next;
        kp_acc_release(&w->acc, b);
    }
    kp_tp_destroy(w->tp);
    kp_acc_destroy(&w->acc);
    kp_conf_free(&w->conf);
    kp_config_destroy(w->cfg);
}

static kp_err_t append(world_t *w, const char *value, kp_callback_fn *cb, int *new_batch) {
    kp_record_t rec = {.topic = "acc", .partition = 0, .value = value};
    int64_t deadline = 0;
    kp_append_t a = {.rec = &rec, .key = NULL, .value = value, .klen = -1,
                     .vlen = (int32_t)strlen(value), .ts = 1000, .cb = cb,
                     .deadline = &deadline, .may_block = 0};
    return kp_acc_append(&w->acc, w->tp, &a, new_batch);
}

static int batches(const world_t *w) {
    int n = 0;
    for (kp_batch_t *b = w->tp->head; b; b = b->next)
        n++;
    return n;
}

static void no_cb(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    (void)md, (void)err, (void)opaque;
}

/* Records go into the open batch; when it is full the next opens another,
 * closing the full one, and each batch is charged batch.size. */
static void test_batches_fill_and_charge(void) {
    world_t w;
    REQUIRE(world_init(&w, "1024", "65536") == 0);
    char value[101];
    memset(value, 'v', 100);
    value[100] = 0;
    int new_batch = 0, opened = 0;
    for (int i = 0; i < 25; i++) {
        CHECK_OK(append(&w, value, NULL, &new_batch));
        opened += new_batch;
    }
    /* ~115 bytes a record in 1024-byte batches: 8 a batch, 4 batches */
    CHECK_EQ_INT(batches(&w), 4);
    CHECK_GE_INT(opened, 4);
    CHECK_EQ_INT(w.acc.pool_avail, 65536 - 4 * 1024);
    int32_t records = 0;
    for (kp_batch_t *b = w.tp->head; b; b = b->next) {
        records += b->count;
        CHECK_EQ_INT(b->closed, b->next != NULL); /* all but the last are full */
    }
    CHECK_EQ_INT(records, 25);
    CHECK_EQ_INT(atomic_load(&w.tp->appended), 25);
    /* everything given back on release */
    while (w.tp->head) {
        kp_batch_t *b = w.tp->head;
        w.tp->head = b->next;
        kp_acc_release(&w.acc, b);
    }
    w.tp->tail = NULL;
    CHECK_EQ_INT(w.acc.pool_avail, 65536);
    world_free(&w);
}

/* With a callback each record has a completion entry, charged to the pool
 * too (they outweighed small compressed records 5 to 1 before). */
static void test_entries_charged(void) {
    world_t w;
    REQUIRE(world_init(&w, "16384", "1048576") == 0);
    int new_batch;
    for (int i = 0; i < 100; i++)
        CHECK_OK(append(&w, "x", no_cb, &new_batch));
    REQUIRE_NOT_NULL(w.tp->head);
    kp_batch_t *b = w.tp->head;
    CHECK_EQ_INT(b->nents, 100);
    CHECK_EQ_INT(w.acc.pool_avail,
                 1048576 - 16384 - (int64_t)b->ents_cap * (int64_t)sizeof(kp_rec_entry_t));
    world_free(&w);
}

/* A caller that may not block (the I/O thread) is refused at once when
 * the pool is used up; a closing accumulator refuses every append. */
static void test_full_pool_and_closing(void) {
    world_t w;
    REQUIRE(world_init(&w, "1024", "2048") == 0);
    char value[601];
    memset(value, 'v', 600);
    value[600] = 0;
    int new_batch;
    CHECK_OK(append(&w, value, NULL, &new_batch));
    CHECK_OK(append(&w, value, NULL, &new_batch)); /* a second batch: the pool is used up */
    int64_t t0 = kp_mono_ms();
    CHECK_EQ_ERR(append(&w, value, NULL, &new_batch), KP_ERR_BUFFER_EXHAUSTED);
    CHECK_LT_INT(kp_mono_ms() - t0, 100); /* at once, not after max.block.ms */
    CHECK_EQ_INT(atomic_load(&w.tp->appended), 2);
    atomic_store(&w.closing, 1);
    CHECK_EQ_ERR(append(&w, "x", NULL, &new_batch), KP_ERR_CLOSED);
    world_free(&w);
}

/* A new batch tells the owner (the notify hook) when a full one closes. */
static void test_owner_notified(void) {
    world_t w;
    REQUIRE(world_init(&w, "1024", "65536") == 0);
    char value[401];
    memset(value, 'n', 400);
    value[400] = 0;
    int new_batch = 0;
    CHECK_OK(append(&w, value, NULL, &new_batch));
    CHECK_EQ_INT(new_batch, 1); /* the first record opens a batch */
    CHECK_OK(append(&w, value, NULL, &new_batch));
    CHECK_EQ_INT(new_batch, 0); /* it fit */
    CHECK_OK(append(&w, value, NULL, &new_batch));
    CHECK_EQ_INT(new_batch, 1); /* the full one closed, another opened */
    /* (the hook is for compression done outside the lock: none here) */
    CHECK_EQ_INT(atomic_load(&w.notified), 0);
    world_free(&w);
}

typedef struct seen {
    int32_t n;
    char first[8];
} seen_t;

static int collect(const kp_rb_record_t *r, void *opaque) {
    seen_t *s = opaque;
    if (s->n++ == 0 && r->value_len > 0)
        snprintf(s->first, sizeof(s->first), "%.*s", (int)r->value_len, (const char *)r->value);
    return 0;
}

/* A batch the broker found too large splits in two halves that keep
 * every record in order and its completion entry. */
static void test_split_keeps_records(void) {
    world_t w;
    REQUIRE(world_init(&w, "16384", "1048576") == 0);
    char v[8];
    int new_batch;
    for (int i = 0; i < 10; i++) {
        snprintf(v, sizeof(v), "r%d", i);
        CHECK_OK(append(&w, v, no_cb, &new_batch));
    }
    kp_batch_t *b = w.tp->head, *first = NULL, *second = NULL;
    REQUIRE_NOT_NULL(b);
    w.tp->head = w.tp->tail = NULL;
    REQUIRE(kp_acc_split(&w.acc, b, &first, &second) == 0);
    CHECK_EQ_INT(first->count, 5);
    CHECK_EQ_INT(second->count, 5);
    CHECK(first->next == second);
    CHECK_EQ_INT(first->nents + second->nents, 10);
    const kp_batch_t *halves[2] = {first, second};
    const char *want[2] = {"r0", "r5"};
    for (int h = 0; h < 2; h++) {
        kp_batch_t *x = (kp_batch_t *)halves[h];
        kp_rb_header_t hd = {0, x->count, x->base_ts, x->max_ts, -1, -1, -1};
        kp_rb_finalize(x->buf, x->len, &hd);
        seen_t s = {0};
        CHECK_EQ_INT(kp_rb_decode(x->buf, x->len, NULL, collect, &s), 0);
        CHECK_EQ_INT(s.n, 5);
        CHECK_EQ_STR(s.first, want[h]);
    }
    kp_acc_release(&w.acc, first);
    kp_acc_release(&w.acc, second);
    CHECK_EQ_INT(w.acc.pool_avail, 1048576);
    world_free(&w);
}

TEST_MAIN(TEST(test_batches_fill_and_charge), TEST(test_entries_charged),
          TEST(test_full_pool_and_closing), TEST(test_owner_notified),
          TEST(test_split_keeps_records))
