/* rn_controller: topic decisions — CreateTopics (with auto-creation and __consumer_offsets
 * on the same path) and DeleteTopics, with Kafka's checks and messages (rn_controller.h). */
#include "controller/rn_controller.h"
#include "meta/rn_topicconf.h"
#include "meta/rn_topics.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <stdio.h>
#include <string.h>

typedef struct topic_plan {
    int16_t error;
    char message[256];
    int32_t n_parts;
    int16_t rf;
    int32_t *replicas; /* n_parts * rf, from the arena */
} topic_plan_t;

static int plan_fail(topic_plan_t *plan, int16_t error, const char *msg)
{
    plan->error = error;
    snprintf(plan->message, sizeof(plan->message), "%s", msg);
    return -1;
}

static int32_t active_brokers(const rn_mimage_t *img)
{
    int32_t n = 0;
    for (size_t i = 0; i < rn_mimage_broker_count(img); i++)
        n += rn_mimage_broker_active(img, rn_mimage_broker_at(img, i)->id);
    return n;
}

/* Name rules, existence, and Kafka's '.'/'_' collision rule against the image. */
static int check_name(const rn_mimage_t *img, const char *name, size_t len, topic_plan_t *plan)
{
    if (rn_topics_valid_name(name, len, plan->message, sizeof(plan->message)) != 0) {
        plan->error = RN_KERR_INVALID_TOPIC_EXCEPTION;
        return -1;
    }
    if (rn_mimage_topic(img, name, len) != NULL) {
        snprintf(plan->message, sizeof(plan->message), "Topic '%.*s' already exists.", (int)len,
                 name);
        plan->error = RN_KERR_TOPIC_ALREADY_EXISTS;
        return -1;
    }
    for (size_t i = 0; i < rn_mimage_topic_count(img); i++) {
        const char *other = rn_mimage_topic_at(img, i)->name;
        bool same = strlen(other) == len;
        for (size_t j = 0; same && j < len; j++) {
            char a = name[j] == '.' ? '_' : name[j], b = other[j] == '.' ? '_' : other[j];
            same = a == b;
        }
        if (same) {
            snprintf(plan->message, sizeof(plan->message),
                     "Topic '%.*s' collides with existing topic: %s", (int)len, name, other);
            plan->error = RN_KERR_INVALID_TOPIC_EXCEPTION;
            return -1;
        }
    }
    return 0;
}

/* Manual assignments: partitions 0..n-1 each once, replicas distinct registered brokers. */
static int plan_manual(rn_controller_t *ctl, const rn_creatable_topic_t *t, rn_arena_t *arena,
                       topic_plan_t *plan)
{
    if (t->num_partitions != -1 || t->replication_factor != -1)
        return plan_fail(
            plan, RN_KERR_INVALID_REQUEST,
            "Both numPartitions or replicationFactor and replicasAssignments were set. "
            "Both cannot be used at the same time.");
    int32_t n = t->assignments.count;
    int16_t rf = (int16_t)t->assignments.items[0].broker_ids.count;
    plan->replicas = rn_arena_calloc(arena, (size_t)n * (size_t)(rf > 0 ? rf : 1), sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        const rn_creatable_replica_assignment_t *a = &t->assignments.items[i];
        if (a->partition_index < 0 || a->partition_index >= n)
            return plan_fail(plan, RN_KERR_INVALID_REPLICA_ASSIGNMENT,
                             "Partitions should be numbered from 0 and consecutive.");
        if (a->broker_ids.count != rf || rf < 1)
            return plan_fail(plan, RN_KERR_INVALID_REPLICA_ASSIGNMENT,
                             "All partitions should have the same number of replicas.");
        for (int j = 0; j < rf; j++) {
            int32_t id = a->broker_ids.items[j];
            if (rn_mimage_broker(ctl->img, id) == NULL)
                return plan_fail(plan, RN_KERR_INVALID_REPLICA_ASSIGNMENT,
                                 "The manual partition assignment includes a broker that is not "
                                 "registered.");
            for (int k = 0; k < j; k++)
                if (a->broker_ids.items[k] == id)
                    return plan_fail(plan, RN_KERR_INVALID_REPLICA_ASSIGNMENT,
                                     "The manual partition assignment includes the same broker "
                                     "more than once.");
            plan->replicas[(size_t)a->partition_index * (size_t)rf + (size_t)j] = id;
        }
        for (int32_t k = 0; k < i; k++)
            if (t->assignments.items[k].partition_index == a->partition_index)
                return plan_fail(plan, RN_KERR_INVALID_REPLICA_ASSIGNMENT,
                                 "Partitions should be numbered from 0 and consecutive.");
    }
    plan->n_parts = n;
    plan->rf = rf;
    return 0;
}

static int plan_auto(rn_controller_t *ctl, int32_t n_parts, int16_t rf, rn_arena_t *arena,
                     topic_plan_t *plan)
{
    int32_t active = active_brokers(ctl->img);
    if (n_parts == -1)
        n_parts = ctl->opts.num_partitions;
    if (rf == -1)
        rf = ctl->opts.default_replication_factor < active ? ctl->opts.default_replication_factor
                                                           : (int16_t)(active > 0 ? active : 1);
    if (n_parts <= 0)
        return plan_fail(plan, RN_KERR_INVALID_PARTITIONS,
                         "Number of partitions was set to an invalid non-positive value.");
    if (rf <= 0)
        return plan_fail(plan, RN_KERR_INVALID_REPLICATION_FACTOR,
                         "Replication factor must be larger than 0, or -1 to use the default "
                         "value.");
    if (rf > active) {
        plan->error = RN_KERR_INVALID_REPLICATION_FACTOR;
        snprintf(plan->message, sizeof(plan->message),
                 "Unable to replicate the partition %d time(s): The target replication factor "
                 "of %d cannot be reached because only %d broker(s) are registered.",
                 rf, rf, active);
        return -1;
    }
    plan->replicas = rn_arena_calloc(arena, (size_t)n_parts * (size_t)rf, sizeof(int32_t));
    if (plan->replicas == NULL)
        return plan_fail(plan, RN_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
    if (rn_controller_place(ctl, 0, n_parts, rf, plan->replicas) != 0)
        return plan_fail(plan, RN_KERR_INVALID_REPLICATION_FACTOR, "All brokers are fenced.");
    plan->n_parts = n_parts;
    plan->rf = rf;
    return 0;
}

static int check_configs(const rn_creatable_topic_config_array_t *configs, topic_plan_t *plan)
{
    for (int32_t i = 0; i < configs->count; i++) {
        const rn_creatable_topic_config_t *c = &configs->items[i];
        if (c->value.len < 0) {
            plan->error = RN_KERR_INVALID_REQUEST;
            snprintf(plan->message, sizeof(plan->message),
                     "Null value not supported for topic configs: %.*s", c->name.len, c->name.ptr);
            return -1;
        }
        char value[1024];
        snprintf(value, sizeof(value), "%.*s", c->value.len, c->value.ptr);
        rn_tc_key_t key;
        if (rn_topicconf_check(c->name.ptr, (size_t)c->name.len, value, &key, plan->message,
                               sizeof(plan->message)) != 0) {
            plan->error = RN_KERR_INVALID_CONFIG;
            return -1;
        }
    }
    return 0;
}

/* The records of one new topic: TopicRecord, its ConfigRecords, its PartitionRecords (the
 * first replica leads, the ISR is every replica, epochs 0). */
static void topic_records(const char *name, size_t len, const rn_uuid_t *id,
                          const rn_creatable_topic_config_array_t *configs,
                          const topic_plan_t *plan, rn_mrecs_t *out)
{
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_TOPIC_RECORD);
    rec.body.topic.name = (rn_str_t){name, (int32_t)len};
    rec.body.topic.topic_id = *id;
    rn_mrecs_add(out, &rec);
    for (int32_t i = 0; configs != NULL && i < configs->count; i++) {
        rn_mrec_init(&rec, RN_MREC_CONFIG_RECORD);
        rec.body.config = (rn_config_record_t){RN_MREC_RESOURCE_TOPIC,
                                               {name, (int32_t)len},
                                               configs->items[i].name,
                                               configs->items[i].value};
        rn_mrecs_add(out, &rec);
    }
    for (int32_t p = 0; p < plan->n_parts; p++) {
        int32_t *row = &plan->replicas[(size_t)p * (size_t)plan->rf];
        rn_mrec_init(&rec, RN_MREC_PARTITION_RECORD);
        rn_partition_record_t *r = &rec.body.partition;
        r->partition_id = p;
        r->topic_id = *id;
        r->replicas = (rn_int32_array_t){plan->rf, row};
        r->isr = (rn_int32_array_t){plan->rf, row};
        r->leader = row[0];
        r->leader_epoch = 0;
        r->partition_epoch = 0;
        rn_mrecs_add(out, &rec);
    }
}

static int new_topic_id(const rn_mimage_t *img, rn_uuid_t *id)
{
    do {
        if (rn_uuid_random(id) != 0)
            return RN_EIO;
    } while (rn_mimage_topic_id(img, id) != NULL);
    return 0;
}

void rn_controller_create_topics(rn_controller_t *ctl, const rn_create_topics_request_t *req,
                                 int16_t version, rn_arena_t *arena, rn_mrecs_t *out,
                                 rn_create_topics_response_t *resp)
{
    (void)version;
    int32_t n = req->topics.count > 0 ? req->topics.count : 0;
    rn_creatable_topic_result_t *res =
        rn_creatable_topic_result_array_alloc(arena, &resp->topics, n);
    int from = out->n;
    for (int32_t i = 0; res != NULL && i < n; i++) {
        const rn_creatable_topic_t *t = &req->topics.items[i];
        rn_creatable_topic_result_t *r = &res[i];
        topic_plan_t plan = {0};
        r->name = t->name;
        bool dup = false;
        for (int32_t k = 0; k < n && !dup; k++)
            dup = k != i && rn_str_eq(req->topics.items[k].name, t->name);
        int rc = dup ? plan_fail(&plan, RN_KERR_INVALID_REQUEST, "Duplicate topic name.")
                     : check_name(ctl->img, t->name.ptr, (size_t)t->name.len, &plan);
        if (rc == 0)
            rc = t->assignments.count > 0
                     ? plan_manual(ctl, t, arena, &plan)
                     : plan_auto(ctl, t->num_partitions, t->replication_factor, arena, &plan);
        if (rc == 0)
            rc = check_configs(&t->configs, &plan);
        rn_uuid_t id;
        if (rc == 0 && new_topic_id(ctl->img, &id) != 0)
            rc = plan_fail(&plan, RN_KERR_UNKNOWN_SERVER_ERROR, "no randomness for a topic id");
        if (rc != 0) {
            r->error_code = plan.error;
            r->error_message =
                (rn_str_t){rn_arena_strndup(arena, plan.message, strlen(plan.message)),
                           (int32_t)strlen(plan.message)};
            continue;
        }
        r->topic_id = id;
        r->num_partitions = plan.n_parts;
        r->replication_factor = plan.rf;
        if (!req->validate_only)
            topic_records(t->name.ptr, (size_t)t->name.len, &id, &t->configs, &plan, out);
    }
    rn_mrecs_wrap_transaction(out, from, "CreateTopics");
}

static int16_t create_one(rn_controller_t *ctl, const char *name, size_t len, int32_t n_parts,
                          int16_t rf, rn_mrecs_t *out)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    topic_plan_t plan = {0};
    rn_uuid_t id;
    int rc = check_name(ctl->img, name, len, &plan);
    if (rc == 0)
        rc = plan_auto(ctl, n_parts, rf, &arena, &plan);
    if (rc == 0 && new_topic_id(ctl->img, &id) != 0)
        rc = plan_fail(&plan, RN_KERR_UNKNOWN_SERVER_ERROR, "no randomness for a topic id");
    if (rc == 0) {
        int from = out->n;
        topic_records(name, len, &id, NULL, &plan, out);
        rn_mrecs_wrap_transaction(out, from, "CreateTopics");
    }
    rn_arena_free(&arena);
    return rc == 0 ? RN_KERR_NONE : plan.error;
}

int16_t rn_controller_auto_create(rn_controller_t *ctl, const char *name, size_t len,
                                  rn_mrecs_t *out)
{
    return create_one(ctl, name, len, -1, -1, out);
}

/* __consumer_offsets: offsets.topic.num.partitions, replication capped at the active
 * brokers (Kafka refuses until enough brokers are up; a small cluster takes what it has). */
int16_t rn_controller_offsets_topic(rn_controller_t *ctl, rn_mrecs_t *out)
{
    int32_t active = active_brokers(ctl->img);
    int16_t rf = ctl->opts.offsets_topic_replication_factor;
    if (rf > active)
        rf = (int16_t)(active > 0 ? active : 1);
    if (rn_mimage_topic(ctl->img, "__consumer_offsets", 18) != NULL)
        return RN_KERR_NONE;
    return create_one(ctl, "__consumer_offsets", 18, ctl->opts.offsets_topic_partitions, rf, out);
}

void rn_controller_delete_topics(rn_controller_t *ctl, const rn_delete_topics_request_t *req,
                                 int16_t version, rn_arena_t *arena, rn_mrecs_t *out,
                                 rn_delete_topics_response_t *resp)
{
    bool by_state = version >= 6;
    int32_t n = by_state ? req->topics.count : req->topic_names.count;
    n = n > 0 ? n : 0;
    rn_deletable_topic_result_t *res =
        rn_deletable_topic_result_array_alloc(arena, &resp->responses, n);
    int from = out->n;
    for (int32_t i = 0; res != NULL && i < n; i++) {
        rn_str_t name = by_state ? req->topics.items[i].name : req->topic_names.items[i];
        const rn_mimage_topic_t *t = NULL;
        if (by_state && name.len < 0)
            t = rn_mimage_topic_id(ctl->img, &req->topics.items[i].topic_id);
        else if (name.len > 0)
            t = rn_mimage_topic(ctl->img, name.ptr, (size_t)name.len);
        res[i].name = name;
        if (by_state)
            res[i].topic_id = req->topics.items[i].topic_id;
        if (t == NULL) {
            res[i].error_code = by_state && name.len < 0 ? RN_KERR_UNKNOWN_TOPIC_ID
                                                         : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        res[i].name = (rn_str_t){t->name, (int32_t)strlen(t->name)};
        res[i].topic_id = t->id;
        rn_mrec_t rec;
        rn_mrec_init(&rec, RN_MREC_REMOVE_TOPIC_RECORD);
        rec.body.remove_topic.topic_id = t->id;
        rn_mrecs_add(out, &rec);
    }
    rn_mrecs_wrap_transaction(out, from, "DeleteTopics");
}
