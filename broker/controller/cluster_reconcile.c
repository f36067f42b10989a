/* rn_cluster: the records that take the image to what the controller's topics say, and the
 * rn_topics committer that writes them (rn_cluster.h). */
#include "controller/rn_cluster.h"
#include "meta/rn_topics.h"
#include "rn_broker.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_str.h"

#include <string.h>

static rn_str_t str_or_null(const char *s)
{
    return s != NULL ? (rn_str_t){s, (int32_t)strlen(s)} : RN_STR_NULL;
}

static void partition_record(const rn_topic_t *topic, const rn_partition_t *part, rn_mrecs_t *out)
{
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_PARTITION_RECORD);
    rn_partition_record_t *r = &rec.body.partition;
    r->partition_id = part->index;
    r->topic_id = topic->id;
    r->replicas = (rn_int32_array_t){part->n_replicas, part->replicas};
    r->isr = (rn_int32_array_t){part->n_isr, part->isr};
    r->leader = part->leader_id;
    r->leader_epoch = part->leader_epoch;
    r->partition_epoch = 0;
    rn_mrecs_add(out, &rec);
}

/* ConfigRecords for every override that differs from the image (a null value removes). */
static void config_records(const rn_mimage_t *img, const rn_topic_t *topic, rn_mrecs_t *out)
{
    for (int k = 0; k < RN_TC__COUNT; k++) {
        const char *name = rn_topicconf_def((rn_tc_key_t)k)->name;
        const char *want = topic->conf.v[k];
        const char *have = rn_mimage_config(img, RN_MREC_RESOURCE_TOPIC, topic->name, name);
        if ((want == NULL && have == NULL) || (want && have && strcmp(want, have) == 0))
            continue;
        rn_mrec_t rec;
        rn_mrec_init(&rec, RN_MREC_CONFIG_RECORD);
        rec.body.config = (rn_config_record_t){RN_MREC_RESOURCE_TOPIC,
                                               {topic->name, (int32_t)topic->name_len},
                                               str_or_null(name),
                                               str_or_null(want)};
        rn_mrecs_add(out, &rec);
    }
}

void rn_cluster_reconcile(const rn_mimage_t *img, const rn_topics_t *topics, rn_mrecs_t *out)
{
    int from = out->n;
    /* Removals first, so a name deleted and created again in one go is free. */
    for (size_t i = 0; i < rn_mimage_topic_count(img); i++) {
        const rn_mimage_topic_t *it = rn_mimage_topic_at(img, i);
        if (rn_topics_find_id(topics, &it->id) != NULL)
            continue;
        rn_mrec_t rec;
        rn_mrec_init(&rec, RN_MREC_REMOVE_TOPIC_RECORD);
        rec.body.remove_topic.topic_id = it->id;
        rn_mrecs_add(out, &rec);
    }
    for (size_t i = 0; i < rn_topics_count(topics); i++) {
        const rn_topic_t *topic = rn_topics_at(topics, i);
        const rn_mimage_topic_t *it = rn_mimage_topic_id(img, &topic->id);
        int32_t have = 0;
        if (it == NULL) {
            rn_mrec_t rec;
            rn_mrec_init(&rec, RN_MREC_TOPIC_RECORD);
            rec.body.topic.name = (rn_str_t){topic->name, (int32_t)topic->name_len};
            rec.body.topic.topic_id = topic->id;
            rn_mrecs_add(out, &rec);
        } else {
            have = it->n_parts;
        }
        config_records(img, topic, out);
        for (int32_t p = have; p < topic->n_partitions; p++)
            partition_record(topic, topic->partitions[p], out);
    }
    rn_mrecs_wrap_transaction(out, from, "Topics");
}

/* ---- the committer ---- */

typedef struct commit_op {
    rn_cluster_op_t op;
    rn_cluster_t *c;
    bool on_commit; /* answer once committed; the persist follows (rn_topics_commit_fn) */
    void (*done)(void *arg, int rc);
    void *arg;
} commit_op_t;

static void commit_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset,
                          rn_mrecs_t *out)
{
    (void)op;
    (void)next_offset;
    rn_cluster_reconcile(rn_cluster_image(c), rn_cluster_broker(c)->topics, out);
}

static void failed_persisted(void *arg, int rc)
{
    (void)rc;
    commit_op_t *cop = arg;
    cop->done(cop->arg, RN_ENOTLEADER);
    rn_free(cop);
}

/* The committed change's persist: a failed one is tried again (the metadata log holds the
 * change, so rn_topics keeps it, not ready), though the request is answered with its error. */
static void persisted(void *arg, int rc)
{
    commit_op_t *cop = arg;
    if (rc != 0)
        rn__cluster_persist(cop->c, true);
    cop->done(cop->arg, rc);
    rn_free(cop);
}

static void commit_done(rn_cluster_op_t *op, int rc)
{
    commit_op_t *cop = (commit_op_t *)op;
    rn_broker_t *b = rn_cluster_broker(cop->c);
    if (rc == RN_ECANCELED) {
        rn_free(cop);
        return;
    }
    if (rc == 0 && cop->on_commit) {
        /* Committed and applied: the change holds whatever this node's disk does next.
         * The directories and the cache file follow off the loop; the new partitions stay
         * not ready (retriable errors to clients) until they are durable. */
        cop->done(cop->arg, 0);
        rn__cluster_persist(cop->c, false);
        rn_free(cop);
        return;
    }
    if (rc == 0) {
        /* Committed and applied: what remains is the directories and the cache file. */
        rn_topics_persist(b->topics, b->offload, persisted, cop);
        return;
    }
    /* Not committed here: the topics go back to what the image says. */
    rn_mimage_topics_sync(rn_cluster_image(cop->c), b->topics);
    rn_topics_persist(b->topics, b->offload, failed_persisted, cop);
}

void rn_cluster_commit(void *carg, rn_topics_t *topics, bool on_commit,
                       void (*done)(void *arg, int rc), void *arg)
{
    (void)topics;
    commit_op_t *cop = rn_xcalloc(1, sizeof(*cop));
    cop->op = (rn_cluster_op_t){NULL, commit_decide, commit_done, cop};
    cop->c = carg;
    cop->on_commit = on_commit;
    cop->done = done;
    cop->arg = arg;
    rn_cluster_submit(carg, &cop->op);
}
