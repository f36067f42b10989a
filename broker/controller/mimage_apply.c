/* rn_mimage: replaying records into the image, one function per record type, following
 * Kafka's replay rules (ClusterControlManager, ReplicationControlManager,
 * ConfigurationControlManager, FeatureControlManager, ProducerIdControlManager,
 * OffsetControlManager for transactions). */
#include "controller/mimage_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_vec.h"

#include <string.h>

static char *str_dup(rn_str_t s)
{
    return s.len < 0 ? NULL : rn_xstrndup(s.ptr != NULL ? s.ptr : "", (size_t)s.len);
}

static int32_t *ids_dup(const int32_t *ids, int32_t n)
{
    int32_t *copy = rn_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (n > 0)
        memcpy(copy, ids, (size_t)n * sizeof(int32_t));
    return copy;
}

static rn_mimage_broker_t *broker_mut(rn_mimage_t *img, int32_t id)
{
    return (rn_mimage_broker_t *)rn_mimage_broker(img, id);
}

static rn_mimage_topic_t *topic_mut(rn_mimage_t *img, const rn_uuid_t *id)
{
    return (rn_mimage_topic_t *)rn_mimage_topic_id(img, id);
}

/* ---- brokers ---- */

static void broker_release(rn_mimage_broker_t *b)
{
    for (int i = 0; i < b->n_endpoints; i++) {
        rn_free(b->endpoints[i].name);
        rn_free(b->endpoints[i].host);
    }
    rn_free(b->endpoints);
    rn_free(b->rack);
}

/* A registration replaces any previous one of the same id (a new incarnation). */
static int apply_register(rn_mimage_t *img, const rn_register_broker_record_t *r)
{
    rn_mimage_broker_t b = {.id = r->broker_id,
                            .epoch = r->broker_epoch,
                            .incarnation_id = r->incarnation_id,
                            .rack = str_dup(r->rack),
                            .fenced = r->fenced,
                            .in_controlled_shutdown = r->in_controlled_shutdown};
    int n = r->end_points.count > 0 ? r->end_points.count : 0;
    b.endpoints = rn_xcalloc((size_t)(n ? n : 1), sizeof(*b.endpoints));
    b.n_endpoints = n;
    for (int i = 0; i < n; i++) {
        const rn_broker_endpoint_t *ep = &r->end_points.items[i];
        b.endpoints[i] = (rn_mimage_endpoint_t){str_dup(ep->name), str_dup(ep->host), ep->port,
                                                ep->security_protocol};
    }
    rn_mimage_broker_t *old = broker_mut(img, r->broker_id);
    if (old != NULL) {
        broker_release(old);
        *old = b;
        return 0;
    }
    rn_vec_xreserve(img->brokers, img->brokers_cap, img->n_brokers + 1);
    size_t pos = 0;
    while (pos < img->n_brokers && img->brokers[pos].id < b.id)
        pos++;
    memmove(&img->brokers[pos + 1], &img->brokers[pos],
            (img->n_brokers - pos) * sizeof(img->brokers[0]));
    img->brokers[pos] = b;
    img->n_brokers++;
    return 0;
}

static int apply_unregister(rn_mimage_t *img, const rn_unregister_broker_record_t *r)
{
    rn_mimage_broker_t *b = broker_mut(img, r->broker_id);
    if (b == NULL || b->epoch != r->broker_epoch)
        return RN_EINVAL;
    broker_release(b);
    size_t pos = (size_t)(b - img->brokers);
    memmove(b, b + 1, (img->n_brokers - pos - 1) * sizeof(*b));
    img->n_brokers--;
    return 0;
}

/* Fencing changes name the registration by epoch so that a late record about an older
 * incarnation cannot fence a newer one. */
static int apply_fencing(rn_mimage_t *img, int32_t id, int64_t epoch, int fenced, int shutdown)
{
    rn_mimage_broker_t *b = broker_mut(img, id);
    if (b == NULL || b->epoch != epoch)
        return RN_EINVAL;
    if (fenced != 0)
        b->fenced = fenced > 0;
    if (shutdown != 0)
        b->in_controlled_shutdown = shutdown > 0;
    return 0;
}

/* ---- topics and partitions ---- */

static void ptrs_insert(rn_mimage_topic_t **arr, size_t n, size_t pos, rn_mimage_topic_t *t)
{
    memmove(&arr[pos + 1], &arr[pos], (n - pos) * sizeof(*arr));
    arr[pos] = t;
}

static int apply_topic(rn_mimage_t *img, const rn_topic_record_t *r)
{
    if (r->name.len <= 0 || rn_mimage_topic(img, r->name.ptr, (size_t)r->name.len) != NULL ||
        rn_mimage_topic_id(img, &r->topic_id) != NULL)
        return RN_EINVAL;
    rn_mimage_topic_t *t = rn_xcalloc(1, sizeof(*t));
    t->name = str_dup(r->name);
    t->id = r->topic_id;
    rn_vec_xreserve(img->by_name, img->topics_cap, img->n_topics + 1);
    rn_vec_xreserve(img->by_id, img->by_id_cap, img->n_topics + 1);
    size_t npos = 0, ipos = 0;
    while (npos < img->n_topics && strcmp(img->by_name[npos]->name, t->name) < 0)
        npos++;
    while (ipos < img->n_topics && memcmp(img->by_id[ipos]->id.bytes, t->id.bytes, 16) < 0)
        ipos++;
    ptrs_insert(img->by_name, img->n_topics, npos, t);
    ptrs_insert(img->by_id, img->n_topics, ipos, t);
    img->n_topics++;
    return 0;
}

static void ptrs_remove(rn_mimage_topic_t **arr, size_t n, const rn_mimage_topic_t *t)
{
    for (size_t i = 0; i < n; i++)
        if (arr[i] == t) {
            memmove(&arr[i], &arr[i + 1], (n - i - 1) * sizeof(*arr));
            return;
        }
}

static void config_remove_at(rn_mimage_t *img, size_t i)
{
    rn_free(img->configs[i].resource);
    rn_free(img->configs[i].name);
    rn_free(img->configs[i].value);
    memmove(&img->configs[i], &img->configs[i + 1],
            (img->n_configs - i - 1) * sizeof(img->configs[0]));
    img->n_configs--;
}

/* A removed topic takes its partitions and its configs with it. */
static int apply_remove_topic(rn_mimage_t *img, const rn_remove_topic_record_t *r)
{
    rn_mimage_topic_t *t = topic_mut(img, &r->topic_id);
    if (t == NULL)
        return RN_EINVAL;
    for (size_t i = img->n_configs; i-- > 0;)
        if (img->configs[i].resource_type == RN_MREC_RESOURCE_TOPIC &&
            strcmp(img->configs[i].resource, t->name) == 0)
            config_remove_at(img, i);
    ptrs_remove(img->by_name, img->n_topics, t);
    ptrs_remove(img->by_id, img->n_topics, t);
    img->n_topics--;
    for (int32_t i = 0; i < t->n_parts; i++) {
        rn_free(t->parts[i].replicas);
        rn_free(t->parts[i].isr);
    }
    rn_free(t->parts);
    rn_free(t->name);
    rn_free(t);
    return 0;
}

/* A PartitionRecord creates the next partition of its topic or replaces an existing one. */
static int apply_partition(rn_mimage_t *img, const rn_partition_record_t *r)
{
    rn_mimage_topic_t *t = topic_mut(img, &r->topic_id);
    if (t == NULL || r->partition_id < 0 || r->partition_id > t->n_parts || r->replicas.count < 1)
        return RN_EINVAL;
    if (r->partition_id == t->n_parts) {
        rn_vec_xreserve(t->parts, t->parts_cap, (size_t)t->n_parts + 1);
        memset(&t->parts[t->n_parts++], 0, sizeof(t->parts[0]));
    }
    rn_mimage_part_t *part = &t->parts[r->partition_id];
    rn_free(part->replicas);
    rn_free(part->isr);
    part->replicas = ids_dup(r->replicas.items, r->replicas.count);
    part->n_replicas = r->replicas.count;
    part->n_isr = r->isr.count > 0 ? r->isr.count : 0;
    part->isr = ids_dup(r->isr.items, part->n_isr);
    part->leader = r->leader;
    part->leader_epoch = r->leader_epoch;
    part->partition_epoch = r->partition_epoch;
    part->leader_recovery_state = r->leader_recovery_state;
    return 0;
}

/* Kafka's merge: null fields stay; a leader other than -2 bumps the leader epoch; every
 * change bumps the partition epoch. */
static int apply_partition_change(rn_mimage_t *img, const rn_partition_change_record_t *r)
{
    rn_mimage_topic_t *t = topic_mut(img, &r->topic_id);
    if (t == NULL || r->partition_id < 0 || r->partition_id >= t->n_parts)
        return RN_EINVAL;
    if (r->replicas.count == 0)
        return RN_EINVAL;
    rn_mimage_part_t *part = &t->parts[r->partition_id];
    if (r->isr.count >= 0) {
        rn_free(part->isr);
        part->isr = ids_dup(r->isr.items, r->isr.count);
        part->n_isr = r->isr.count;
    }
    if (r->replicas.count > 0) {
        rn_free(part->replicas);
        part->replicas = ids_dup(r->replicas.items, r->replicas.count);
        part->n_replicas = r->replicas.count;
    }
    if (r->leader != -2) {
        part->leader = r->leader;
        part->leader_epoch++;
    }
    if (r->leader_recovery_state >= 0)
        part->leader_recovery_state = r->leader_recovery_state;
    part->partition_epoch++;
    return 0;
}

/* ---- configs, features, producer ids ---- */

static int apply_config(rn_mimage_t *img, const rn_config_record_t *r)
{
    if (r->resource_name.len < 0 || r->name.len <= 0)
        return RN_EINVAL;
    for (size_t i = 0; i < img->n_configs; i++) {
        rn_mimage_config_t *c = &img->configs[i];
        if (c->resource_type != r->resource_type ||
            strlen(c->resource) != (size_t)r->resource_name.len ||
            memcmp(c->resource, r->resource_name.ptr, (size_t)r->resource_name.len) != 0 ||
            strlen(c->name) != (size_t)r->name.len ||
            memcmp(c->name, r->name.ptr, (size_t)r->name.len) != 0)
            continue;
        if (r->value.len < 0) {
            config_remove_at(img, i);
        } else {
            rn_free(c->value);
            c->value = str_dup(r->value);
        }
        return 0;
    }
    if (r->value.len < 0)
        return 0; /* deleting an unset key changes nothing */
    rn_vec_xreserve(img->configs, img->configs_cap, img->n_configs + 1);
    img->configs[img->n_configs++] = (rn_mimage_config_t){
        r->resource_type, str_dup(r->resource_name), str_dup(r->name), str_dup(r->value)};
    return 0;
}

static int apply_feature(rn_mimage_t *img, const rn_feature_level_record_t *r)
{
    if (r->name.len <= 0)
        return RN_EINVAL;
    for (size_t i = 0; i < img->n_features; i++) {
        rn_mimage_feature_t *f = &img->features[i];
        if (strlen(f->name) != (size_t)r->name.len ||
            memcmp(f->name, r->name.ptr, (size_t)r->name.len) != 0)
            continue;
        if (r->feature_level == 0) { /* level 0 removes a feature */
            rn_free(f->name);
            memmove(f, f + 1, (img->n_features - i - 1) * sizeof(*f));
            img->n_features--;
        } else {
            f->level = r->feature_level;
        }
        return 0;
    }
    if (r->feature_level != 0) {
        rn_vec_xreserve(img->features, img->features_cap, img->n_features + 1);
        img->features[img->n_features++] =
            (rn_mimage_feature_t){str_dup(r->name), r->feature_level};
    }
    return 0;
}

/* Producer id blocks only move forward. */
static int apply_producer_ids(rn_mimage_t *img, const rn_producer_ids_record_t *r)
{
    if (r->next_producer_id < img->next_producer_id)
        return RN_EINVAL;
    img->next_producer_id = r->next_producer_id;
    return 0;
}

/* ---- ACLs ---- */

/* Kafka's AclControlManager replay: an id is added once; a binding no CreateAcls could have
 * stored is refused. */
static int apply_acl(rn_mimage_t *img, const rn_access_control_entry_record_t *r)
{
    if (rn_acl_check_binding(r->resource_type, r->resource_name, r->pattern_type, r->principal,
                             r->host, r->operation, r->permission_type, NULL) != 0)
        return RN_EINVAL;
    for (size_t i = 0; i < rn_acls_count(img->acls); i++)
        if (rn_uuid_equal(&rn_acls_at(img->acls, i)->id, &r->id))
            return RN_EINVAL;
    rn_acls_add(img->acls, &r->id, r->resource_type, r->resource_name, r->pattern_type,
                r->principal, r->host, r->operation, r->permission_type);
    return 0;
}

static int apply_remove_acl(rn_mimage_t *img, const rn_remove_access_control_entry_record_t *r)
{
    return rn_acls_remove(img->acls, &r->id) == 0 ? 0 : RN_EINVAL;
}

/* ---- dispatch and transactions ---- */

static int apply_effect(rn_mimage_t *img, const rn_mrec_t *rec)
{
    switch (rec->type) {
    case RN_MREC_REGISTER_BROKER_RECORD: return apply_register(img, &rec->body.register_broker);
    case RN_MREC_UNREGISTER_BROKER_RECORD:
        return apply_unregister(img, &rec->body.unregister_broker);
    case RN_MREC_FENCE_BROKER_RECORD:
        return apply_fencing(img, rec->body.fence_broker.id, rec->body.fence_broker.epoch, 1, 0);
    case RN_MREC_UNFENCE_BROKER_RECORD:
        return apply_fencing(img, rec->body.unfence_broker.id, rec->body.unfence_broker.epoch, -1,
                             0);
    case RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD: {
        const rn_broker_registration_change_record_t *r = &rec->body.broker_registration_change;
        /* InControlledShutdown: 0 unchanged, 1 in controlled shutdown. */
        return apply_fencing(img, r->broker_id, r->broker_epoch, r->fenced,
                             r->in_controlled_shutdown == 1 ? 1 : 0);
    }
    case RN_MREC_TOPIC_RECORD: return apply_topic(img, &rec->body.topic);
    case RN_MREC_PARTITION_RECORD: return apply_partition(img, &rec->body.partition);
    case RN_MREC_PARTITION_CHANGE_RECORD:
        return apply_partition_change(img, &rec->body.partition_change);
    case RN_MREC_REMOVE_TOPIC_RECORD: return apply_remove_topic(img, &rec->body.remove_topic);
    case RN_MREC_CONFIG_RECORD: return apply_config(img, &rec->body.config);
    case RN_MREC_FEATURE_LEVEL_RECORD: return apply_feature(img, &rec->body.feature_level);
    case RN_MREC_PRODUCER_IDS_RECORD: return apply_producer_ids(img, &rec->body.producer_ids);
    case RN_MREC_ACCESS_CONTROL_ENTRY_RECORD:
        return apply_acl(img, &rec->body.access_control_entry);
    case RN_MREC_REMOVE_ACCESS_CONTROL_ENTRY_RECORD:
        return apply_remove_acl(img, &rec->body.remove_access_control_entry);
    case RN_MREC_USER_SCRAM_CREDENTIAL_RECORD:
        return rn__mimage_scram_apply(img, &rec->body.user_scram_credential);
    case RN_MREC_REMOVE_USER_SCRAM_CREDENTIAL_RECORD:
        return rn__mimage_scram_remove(img, &rec->body.remove_user_scram_credential);
    default: return 0; /* NoOpRecord and records with no effect on the image */
    }
}

static int take_effect(rn_mimage_t *img, const rn_mrec_t *rec)
{
    int rc = apply_effect(img, rec);
    if (rc == 0 && img->applied != NULL)
        img->applied(img->arg, img, rec);
    return rc;
}

/* End of a transaction: its records take effect in order. A record that contradicts the
 * image is skipped (reported once at the end); the others still apply, as each would have
 * outside a transaction. */
static int commit_pending(rn_mimage_t *img)
{
    int first_rc = 0;
    for (size_t i = 0; i < img->n_pending; i++) {
        rn_mrec_t rec;
        const rn__mimage_pending_t *p = &img->pending[i];
        int rc = rn_mrec_decode(p->data, p->len, &img->arena, &rec);
        if (rc == 0)
            rc = take_effect(img, &rec);
        if (rc != 0 && first_rc == 0)
            first_rc = rc;
        rn_arena_reset(&img->arena);
    }
    for (size_t i = 0; i < img->n_pending; i++)
        rn_free(img->pending[i].data);
    img->n_pending = 0;
    img->in_txn = false;
    return first_rc;
}

static int buffer_pending(rn_mimage_t *img, int64_t offset, const rn_mrec_t *rec)
{
    rn__mimage_pending_t p = {.offset = offset};
    int rc = rn_mrec_encode_alloc(rec, &p.data, &p.len);
    if (rc != 0)
        return rc;
    rn_vec_xpush(img->pending, img->n_pending, img->pending_cap, p);
    return 0;
}

int rn_mimage_apply_rec(rn_mimage_t *img, int64_t offset, const rn_mrec_t *rec)
{
    img->offset = offset;
    switch (rec->type) {
    case RN_MREC_BEGIN_TRANSACTION_RECORD:
        if (img->in_txn)
            return RN_EINVAL; /* Kafka refuses a nested transaction */
        img->in_txn = true;
        return 0;
    case RN_MREC_END_TRANSACTION_RECORD:
        if (!img->in_txn)
            return RN_EINVAL;
        return commit_pending(img);
    case RN_MREC_ABORT_TRANSACTION_RECORD:
        if (!img->in_txn)
            return RN_EINVAL;
        for (size_t i = 0; i < img->n_pending; i++)
            rn_free(img->pending[i].data);
        img->n_pending = 0;
        img->in_txn = false;
        return 0;
    default:
        if (img->in_txn)
            return buffer_pending(img, offset, rec);
        return take_effect(img, rec);
    }
}

int rn_mimage_apply(rn_mimage_t *img, int64_t offset, const uint8_t *data, size_t len)
{
    rn_mrec_t rec;
    int rc = rn_mrec_decode(data, len, &img->arena, &rec);
    if (rc == 0)
        rc = rn_mimage_apply_rec(img, offset, &rec);
    else
        img->offset = offset;
    rn_arena_reset(&img->arena);
    return rc;
}
