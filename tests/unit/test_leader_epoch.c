/*
 * test_leader_epoch — a partition's leader changes only forward in leader
 * epochs (kp_md_set_leader, src/engine/metadata.c): metadata from a broker
 * that has not heard of a leader change yet (an older epoch) never moves a
 * partition back to the old leader, whether the newer news came from
 * metadata or from a Produce answer's CurrentLeader (KIP-951). The same
 * epoch is taken (a leader known at that epoch), and an answer without an
 * epoch (Metadata before v7) is taken as it comes.
 *
 * A unit test on a partition outside any producer: no peer can be made to
 * answer with stale metadata on cue (librdkafka's mock always answers its
 * current state).
 */
#include <string.h>

#include "engine/engine.h"
#include "engine/internal.h"
#include "test.h"

static void test_epochs_only_move_forward(void) {
    kp_producer_t *p = calloc(1, sizeof(*p));
    REQUIRE_NOT_NULL(p);
    p->logger.level = 3; /* quiet */
    kp_topic_t t;
    memset(&t, 0, sizeof(t));
    t.name = "t";
    kp_tp_t *tp = kp_tp_new(&t, 0);
    REQUIRE_NOT_NULL(tp);
    CHECK_EQ_INT(tp->leader, -1);
    CHECK_EQ_INT(tp->leader_epoch, -1);
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 1, 5, "metadata"), 1);
    CHECK_EQ_INT(tp->leader, 1);
    CHECK_EQ_INT(tp->leader_epoch, 5);
    /* stale: epoch 4 names the old leader */
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 2, 4, "metadata"), 0);
    CHECK_EQ_INT(tp->leader, 1);
    CHECK_EQ_INT(tp->leader_epoch, 5);
    /* newer, from a Produce answer */
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 3, 7, "Produce answer"), 1);
    CHECK_EQ_INT(tp->leader, 3);
    CHECK_EQ_INT(tp->leader_epoch, 7);
    /* metadata lagging behind that answer: ignored */
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 1, 6, "metadata"), 0);
    CHECK_EQ_INT(tp->leader, 3);
    /* the same epoch: taken; the same leader: no change */
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 3, 7, "metadata"), 0);
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 2, 7, "metadata"), 1);
    CHECK_EQ_INT(tp->leader, 2);
    /* no epoch (Metadata v1-v6): taken, the epoch known stays */
    CHECK_EQ_INT(kp_md_set_leader(p, tp, 1, -1, "metadata"), 1);
    CHECK_EQ_INT(tp->leader, 1);
    CHECK_EQ_INT(tp->leader_epoch, 7);
    kp_tp_destroy(tp);
    free(p);
}

TEST_MAIN(TEST(test_epochs_only_move_forward))
