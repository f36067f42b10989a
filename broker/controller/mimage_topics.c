/* rn_mimage: driving the broker's rn_topics from the image (rn_mimage.h), so that once the
 * metadata quorum is the source of truth, topics, partitions, leaders and overrides come
 * from committed records instead of the registry file. */
#include "controller/mimage_int.h"
#include "meta/rn_topics.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <string.h>

static bool ids_equal(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(int32_t)) == 0);
}

/* Partition index of topic as the image has it: appended, or replicas/leader/ISR and the
 * partition epoch updated. */
static void sync_part(rn_topics_t *topics, rn_topic_t *topic, int32_t index,
                      const rn_mimage_part_t *ip)
{
    rn_partition_t *part = rn_topic_partition(topic, index);
    if (part == NULL) {
        if (index != topic->n_partitions)
            return; /* the image adds partitions in order, so this cannot happen */
        if (topic->n_partitions == 0)
            topic->replication_factor = (int16_t)ip->n_replicas;
        part = rn_topics_add_partition(topics, topic, ip->replicas, ip->n_replicas);
    } else if (!ids_equal(part->replicas, part->n_replicas, ip->replicas, ip->n_replicas)) {
        rn_topics_set_replicas(topics, part, ip->replicas, ip->n_replicas);
    }
    rn_topics_set_leader(topics, part, ip->leader, ip->leader_epoch, ip->isr, ip->n_isr);
    part->partition_epoch = ip->partition_epoch; /* what an AlterPartition must name */
}

/* The topic's overrides become the image's ConfigRecords for it. Values were checked by
 * the controller; unknown keys (written by a newer controller) are skipped. */
static void sync_conf(const rn_mimage_t *img, rn_topics_t *topics, rn_topic_t *topic)
{
    rn_topicconf_t conf;
    memset(&conf, 0, sizeof(conf));
    for (size_t i = 0; i < img->n_configs; i++) {
        const rn_mimage_config_t *c = &img->configs[i];
        if (c->resource_type != RN_MREC_RESOURCE_TOPIC || strcmp(c->resource, topic->name) != 0)
            continue;
        rn_tc_key_t key;
        char err[256];
        if (rn_topicconf_check(c->name, strlen(c->name), c->value, &key, err, sizeof(err)) == 0)
            rn_topicconf_set(&conf, key, c->value);
    }
    bool same = true;
    for (int k = 0; k < RN_TC__COUNT && same; k++) {
        const char *a = conf.v[k], *b = topic->conf.v[k];
        same = (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
    }
    if (same) {
        rn_topicconf_free(&conf);
        return;
    }
    rn_topicconf_free(&topic->conf);
    topic->conf = conf;
    rn_topics_config_changed(topics, topic);
}

static rn_topic_t *topic_for(const rn_mimage_topic_t *it, rn_topics_t *topics)
{
    return it == NULL ? NULL : rn_topics_find_id(topics, &it->id);
}

int rn_mimage_topics_apply(const rn_mimage_t *img, const rn_mrec_t *rec, rn_topics_t *topics)
{
    switch (rec->type) {
    case RN_MREC_TOPIC_RECORD: {
        const rn_topic_record_t *r = &rec->body.topic;
        if (rn_topics_find_id(topics, &r->topic_id) != NULL)
            return 0;
        rn_topic_t *old = rn_topics_find(topics, r->name.ptr, (size_t)r->name.len);
        if (old != NULL)
            rn_topics_delete(topics, old); /* same name, another id: that topic is gone */
        rn_topics_create_id(topics, r->name.ptr, (size_t)r->name.len, &r->topic_id, 0);
        return 0;
    }
    case RN_MREC_PARTITION_RECORD:
    case RN_MREC_PARTITION_CHANGE_RECORD: {
        const rn_uuid_t *id = rec->type == RN_MREC_PARTITION_RECORD
                                  ? &rec->body.partition.topic_id
                                  : &rec->body.partition_change.topic_id;
        int32_t index = rec->type == RN_MREC_PARTITION_RECORD
                            ? rec->body.partition.partition_id
                            : rec->body.partition_change.partition_id;
        const rn_mimage_topic_t *it = rn_mimage_topic_id(img, id);
        rn_topic_t *topic = topic_for(it, topics);
        if (topic == NULL || index < 0 || index >= it->n_parts)
            return RN_ENOTFOUND;
        sync_part(topics, topic, index, &it->parts[index]);
        return 0;
    }
    case RN_MREC_REMOVE_TOPIC_RECORD: {
        rn_topic_t *topic = rn_topics_find_id(topics, &rec->body.remove_topic.topic_id);
        if (topic == NULL)
            return RN_ENOTFOUND;
        rn_topics_delete(topics, topic);
        return 0;
    }
    case RN_MREC_CONFIG_RECORD: {
        const rn_config_record_t *r = &rec->body.config;
        if (r->resource_type != RN_MREC_RESOURCE_TOPIC)
            return 0;
        rn_topic_t *topic =
            rn_topics_find(topics, r->resource_name.ptr,
                           (size_t)(r->resource_name.len > 0 ? r->resource_name.len : 0));
        if (topic == NULL)
            return RN_ENOTFOUND;
        sync_conf(img, topics, topic);
        return 0;
    }
    default: return 0;
    }
}

void rn_mimage_topics_sync(const rn_mimage_t *img, rn_topics_t *topics)
{
    /* Topics the image does not have (by id) go first, so their names are free. */
    size_t n = rn_topics_count(topics);
    rn_topic_t **gone = rn_xcalloc(n ? n : 1, sizeof(*gone));
    size_t n_gone = 0;
    for (size_t i = 0; i < n; i++) {
        rn_topic_t *topic = rn_topics_at(topics, i);
        if (rn_mimage_topic_id(img, &topic->id) == NULL)
            gone[n_gone++] = topic;
    }
    for (size_t i = 0; i < n_gone; i++)
        rn_topics_delete(topics, gone[i]);
    rn_free(gone);
    for (size_t i = 0; i < img->n_topics; i++) {
        const rn_mimage_topic_t *it = img->by_name[i];
        rn_topic_t *topic = rn_topics_find_id(topics, &it->id);
        if (topic == NULL)
            topic = rn_topics_create_id(topics, it->name, strlen(it->name), &it->id, 0);
        for (int32_t p = 0; p < it->n_parts; p++)
            sync_part(topics, topic, p, &it->parts[p]);
        sync_conf(img, topics, topic);
    }
}
