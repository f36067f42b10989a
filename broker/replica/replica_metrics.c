/* The replica module's metrics, computed at every scrape from its state (no cost on the
 * produce and fetch paths): partitions by role, under-replicated and under-min-ISR
 * partitions this node leads, the largest follower lag, and event counters. */
#include "replica/replica_int.h"

#include "ops/rn_metrics.h"

static void collect(rn_metrics_writer_t *w, void *arg)
{
    const rn_replica_t *rm = arg;
    rn_topics_t *topics = rm->b->topics;
    uint64_t leading = 0, following = 0, under = 0, under_min = 0;
    int64_t max_lag = 0;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            const rn_dpart_t *dpart = topic->partitions[i]->user;
            const rn__rpart_t *rep = dpart ? rn__rep(dpart) : NULL;
            if (rep == NULL)
                continue;
            if (rep->role == RN__ROLE_FOLLOWER)
                following++;
            if (rep->role != RN__ROLE_LEADER)
                continue;
            leading++;
            const rn_partition_t *part = dpart->part;
            if (part->n_isr < part->n_replicas)
                under++;
            if (part->n_isr < dpart->min_insync_replicas)
                under_min++;
            int64_t leo = rn_plog_log_end_offset(dpart->log);
            for (int32_t k = 0; k < rep->n_followers; k++) {
                int64_t lag = leo - (rep->followers[k].leo < 0 ? 0 : rep->followers[k].leo);
                if (lag > max_lag)
                    max_lag = lag;
            }
        }
    }
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_replica_partitions",
                           "Partitions hosted here, by the role this node has in them.");
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"role", "leader"}}, 1, leading);
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"role", "follower"}}, 1, following);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_under_replicated_partitions",
                           "Partitions this node leads whose ISR lacks some replica.");
    rn_metrics_emit_u64(w, NULL, 0, under);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_under_min_isr_partitions",
                           "Partitions this node leads with fewer in-sync replicas than "
                           "min.insync.replicas (acks=all produce fails).");
    rn_metrics_emit_u64(w, NULL, 0, under_min);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_replica_max_lag_messages",
                           "The largest number of offsets a follower is behind, over the "
                           "partitions this node leads.");
    rn_metrics_emit_i64(w, NULL, 0, max_lag);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_isr_shrinks_total",
                           "ISR changes this node asked for that removed followers.");
    rn_metrics_emit_u64(w, NULL, 0, rm->isr_shrinks);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_isr_expands_total",
                           "ISR changes this node asked for that added a caught-up follower.");
    rn_metrics_emit_u64(w, NULL, 0, rm->isr_expands);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_replica_fetched_bytes_total",
                           "Record bytes this node appended as a follower.");
    rn_metrics_emit_u64(w, NULL, 0, rm->fetched_bytes);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_replica_truncations_total",
                           "Times a follower log here was cut back to the leader's.");
    rn_metrics_emit_u64(w, NULL, 0, rm->truncations);
}

void rn__replica_metrics_start(rn_replica_t *rm)
{
    rn_metrics_add_collector(rm->b->metrics, collect, rm);
}

void rn__replica_metrics_stop(rn_replica_t *rm)
{
    rn_metrics_remove_collector(rm->b->metrics, collect, rm);
}
