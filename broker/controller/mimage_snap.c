/* rn_mimage: snapshots — the image written as the records that rebuild it, and loaded back
 * by replaying them into a fresh image (rn_mimage.h). */
#include "controller/mimage_int.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <string.h>

static rn_str_t str_of(const char *s)
{
    return s == NULL ? RN_STR_NULL : (rn_str_t){s, (int32_t)strlen(s)};
}

/* Each record as an unsigned varint length and the framed record. */
static void put(rn_proto_writer_t *w, const rn_mrec_t *rec)
{
    rn_proto_writer_t one;
    rn_proto_writer_init(&one);
    rn_mrec_encode(&one, rec);
    size_t len = rn_proto_writer_total(&one);
    uint8_t *buf = one.err ? NULL : rn_malloc(len ? len : 1);
    if (buf == NULL || rn_proto_writer_copy(&one, buf, len) != (long)len) {
        rn_proto_writer_fail(w, one.err ? one.err : RN_ENOMEM);
    } else {
        rn_proto_write_uvarint(w, (uint32_t)len);
        rn_proto_write_raw(w, buf, len);
    }
    rn_free(buf);
    rn_proto_writer_free(&one);
}

static void put_broker(rn_proto_writer_t *w, const rn_mimage_broker_t *b)
{
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_REGISTER_BROKER_RECORD);
    rn_register_broker_record_t *r = &rec.body.register_broker;
    rn_broker_endpoint_t eps[b->n_endpoints > 0 ? b->n_endpoints : 1];
    for (int i = 0; i < b->n_endpoints; i++)
        eps[i] = (rn_broker_endpoint_t){str_of(b->endpoints[i].name), str_of(b->endpoints[i].host),
                                        b->endpoints[i].port, b->endpoints[i].security_protocol};
    r->broker_id = b->id;
    r->incarnation_id = b->incarnation_id;
    r->broker_epoch = b->epoch;
    r->end_points = (rn_broker_endpoint_array_t){b->n_endpoints, eps};
    r->rack = str_of(b->rack);
    r->fenced = b->fenced;
    r->in_controlled_shutdown = b->in_controlled_shutdown;
    put(w, &rec);
}

static void put_topic(rn_proto_writer_t *w, const rn_mimage_topic_t *t)
{
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_TOPIC_RECORD);
    rec.body.topic.name = str_of(t->name);
    rec.body.topic.topic_id = t->id;
    put(w, &rec);
    for (int32_t i = 0; i < t->n_parts; i++) {
        const rn_mimage_part_t *part = &t->parts[i];
        rn_mrec_init(&rec, RN_MREC_PARTITION_RECORD);
        rn_partition_record_t *r = &rec.body.partition;
        r->partition_id = i;
        r->topic_id = t->id;
        r->replicas = (rn_int32_array_t){part->n_replicas, part->replicas};
        r->isr = (rn_int32_array_t){part->n_isr, part->isr};
        r->leader = part->leader;
        r->leader_epoch = part->leader_epoch;
        r->partition_epoch = part->partition_epoch;
        r->leader_recovery_state = part->leader_recovery_state;
        put(w, &rec);
    }
}

int rn_mimage_snapshot_write(const rn_mimage_t *img, uint8_t **data, size_t *len)
{
    if (img->in_txn)
        return RN_EINVAL;
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_mrec_t rec;
    /* Features first: metadata.version decides how the rest is read. */
    for (size_t i = 0; i < img->n_features; i++) {
        rn_mrec_init(&rec, RN_MREC_FEATURE_LEVEL_RECORD);
        rec.body.feature_level.name = str_of(img->features[i].name);
        rec.body.feature_level.feature_level = img->features[i].level;
        put(&w, &rec);
    }
    for (size_t i = 0; i < img->n_brokers; i++)
        put_broker(&w, &img->brokers[i]);
    for (size_t i = 0; i < img->n_topics; i++)
        put_topic(&w, img->by_name[i]);
    for (size_t i = 0; i < img->n_configs; i++) {
        const rn_mimage_config_t *c = &img->configs[i];
        rn_mrec_init(&rec, RN_MREC_CONFIG_RECORD);
        rec.body.config = (rn_config_record_t){c->resource_type, str_of(c->resource),
                                               str_of(c->name), str_of(c->value)};
        put(&w, &rec);
    }
    for (size_t i = 0; i < rn_acls_count(img->acls); i++) {
        const rn_acl_t *a = rn_acls_at(img->acls, i);
        rn_mrec_init(&rec, RN_MREC_ACCESS_CONTROL_ENTRY_RECORD);
        rn_access_control_entry_record_t *r = &rec.body.access_control_entry;
        r->id = a->id;
        r->resource_type = a->resource_type;
        r->resource_name = str_of(a->resource_name);
        r->pattern_type = a->pattern_type;
        r->principal = str_of(a->principal);
        r->host = str_of(a->host);
        r->operation = a->operation;
        r->permission_type = a->permission;
        put(&w, &rec);
    }
    if (img->next_producer_id > 0) {
        rn_mrec_init(&rec, RN_MREC_PRODUCER_IDS_RECORD);
        rec.body.producer_ids.broker_id = -1;
        rec.body.producer_ids.next_producer_id = img->next_producer_id;
        put(&w, &rec);
    }
    for (size_t i = 0; i < img->n_scram; i++) {
        const rn_scram_cred_t *cr = &img->scram[i].cred;
        size_t klen = rn_scram_key_len(cr->mech);
        rn_mrec_init(&rec, RN_MREC_USER_SCRAM_CREDENTIAL_RECORD);
        rec.body.user_scram_credential = (rn_user_scram_credential_record_t){
            str_of(img->scram[i].name),        (int8_t)cr->mech,
            {cr->salt, (int32_t)cr->salt_len}, {cr->stored_key, (int32_t)klen},
            {cr->server_key, (int32_t)klen},   cr->iterations};
        put(&w, &rec);
    }
    size_t total = rn_proto_writer_total(&w);
    uint8_t *buf = w.err ? NULL : rn_malloc(total ? total : 1);
    int rc = w.err ? w.err : buf == NULL ? RN_ENOMEM : 0;
    if (rc == 0 && rn_proto_writer_copy(&w, buf, total) != (long)total)
        rc = RN_EIO;
    rn_proto_writer_free(&w);
    if (rc != 0) {
        rn_free(buf);
        return rc;
    }
    *data = buf;
    *len = total;
    return 0;
}

/* Swap the states of dst and src, each keeping its own arena and hook; src then holds the
 * old state for rn_mimage_free. */
static void swap_state(rn_mimage_t *dst, rn_mimage_t *src)
{
    rn_mimage_t old = *dst;
    *dst = *src;
    *src = old;
    rn_arena_t arena = dst->arena;
    dst->arena = src->arena;
    src->arena = arena;
    dst->applied = src->applied;
    dst->arg = src->arg;
    src->applied = NULL;
}

int rn_mimage_snapshot_load(rn_mimage_t *img, int64_t offset, const uint8_t *data, size_t len)
{
    rn_mimage_t *fresh = rn_mimage_new();
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, data, len, NULL);
    int rc = 0;
    while (rc == 0 && rn_proto_remaining(&r) > 0) {
        uint32_t n = rn_proto_read_uvarint(&r);
        const uint8_t *rec = rn_proto_take(&r, n);
        rc = r.rd.err ? RN_ECORRUPT : rn_mimage_apply(fresh, offset, rec, n);
    }
    if (rc == 0 && fresh->in_txn)
        rc = RN_ECORRUPT;
    if (rc == 0) {
        swap_state(img, fresh);
        img->offset = offset;
    }
    rn_mimage_free(fresh);
    return rc;
}
