/* Client quotas on the request path: the server's before_response hook records a finished
 * request's usage, and when a quota is exceeded sets its throttle time in the response and
 * throttles the connection (see rn_quotas.h). */
#include "quota/rn_quotas.h"

#include "data/rn_datapath.h"
#include "rn_handlers.h"
#include "rn_clock.h"
#include "rn_messages.h"

#include <stddef.h>

/* Where each response carries ThrottleTimeMs (every api runneld serves has it, from some
 * version on; encoding at an older version leaves it out), and the first version whose
 * clients back off by themselves (KIP-219: Kafka's shouldClientThrottle; -1 = none, the
 * broker holds the response back). */
typedef struct throttle_field {
    int16_t key;
    int16_t client_throttles_from;
    size_t offset;
} throttle_field_t;

#define TF(key, from, type)                                                                        \
    {                                                                                              \
        key, from, offsetof(type, throttle_time_ms)                                                \
    }

static const throttle_field_t fields[] = {
    TF(RN_API_PRODUCE, 6, rn_produce_response_t),
    TF(RN_API_FETCH, 8, rn_fetch_response_t),
    TF(RN_API_LIST_OFFSETS, 3, rn_list_offsets_response_t),
    TF(RN_API_METADATA, 6, rn_metadata_response_t),
    TF(RN_API_OFFSET_COMMIT, 4, rn_offset_commit_response_t),
    TF(RN_API_OFFSET_FETCH, 4, rn_offset_fetch_response_t),
    TF(RN_API_FIND_COORDINATOR, 2, rn_find_coordinator_response_t),
    TF(RN_API_JOIN_GROUP, 3, rn_join_group_response_t),
    TF(RN_API_HEARTBEAT, 2, rn_heartbeat_response_t),
    TF(RN_API_LEAVE_GROUP, 2, rn_leave_group_response_t),
    TF(RN_API_SYNC_GROUP, 2, rn_sync_group_response_t),
    TF(RN_API_DESCRIBE_GROUPS, 2, rn_describe_groups_response_t),
    TF(RN_API_LIST_GROUPS, 2, rn_list_groups_response_t),
    TF(RN_API_API_VERSIONS, 2, rn_api_versions_response_t),
    TF(RN_API_CREATE_TOPICS, 3, rn_create_topics_response_t),
    TF(RN_API_DELETE_TOPICS, 2, rn_delete_topics_response_t),
    TF(RN_API_DELETE_RECORDS, 1, rn_delete_records_response_t),
    TF(RN_API_INIT_PRODUCER_ID, 1, rn_init_producer_id_response_t),
    TF(RN_API_OFFSET_FOR_LEADER_EPOCH, -1, rn_offset_for_leader_epoch_response_t),
    TF(RN_API_DESCRIBE_CONFIGS, 2, rn_describe_configs_response_t),
    TF(RN_API_ALTER_CONFIGS, 1, rn_alter_configs_response_t),
    TF(RN_API_CREATE_PARTITIONS, 1, rn_create_partitions_response_t),
    TF(RN_API_DELETE_GROUPS, 1, rn_delete_groups_response_t),
    TF(RN_API_INCREMENTAL_ALTER_CONFIGS, 0, rn_incremental_alter_configs_response_t),
    TF(RN_API_OFFSET_DELETE, 0, rn_offset_delete_response_t),
    TF(RN_API_DESCRIBE_CLIENT_QUOTAS, -1, rn_describe_client_quotas_response_t),
    TF(RN_API_ALTER_CLIENT_QUOTAS, -1, rn_alter_client_quotas_response_t),
    TF(RN_API_DESCRIBE_CLUSTER, -1, rn_describe_cluster_response_t),
};

static const throttle_field_t *field_for(int16_t key)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].key == key)
            return &fields[i];
    return NULL;
}

/* Record bytes of a Fetch response (file ranges and memory alike). */
static int64_t fetch_bytes(const rn_fetch_response_t *resp)
{
    int64_t bytes = 0;
    for (int32_t t = 0; t < resp->responses.count; t++) {
        const rn_fetchable_topic_response_t *tout = &resp->responses.items[t];
        for (int32_t p = 0; p < tout->partitions.count; p++)
            if (tout->partitions.items[p].records.len > 0)
                bytes += tout->partitions.items[p].records.len;
    }
    return bytes;
}

/* A throttled Fetch is answered with no partitions at all, as Kafka's throttled response;
 * the file references its records held go back. */
static void fetch_empty(rn_fetch_response_t *resp)
{
    for (int32_t t = 0; t < resp->responses.count; t++) {
        rn_fetchable_topic_response_t *tout = &resp->responses.items[t];
        for (int32_t p = 0; p < tout->partitions.count; p++) {
            rn_records_t *rec = &tout->partitions.items[p].records;
            if (rec->in_file && rec->owner)
                rn_datapath_release_file(rec->owner);
            *rec = (rn_records_t){0};
        }
    }
    resp->responses.count = 0;
}

void rn_quotas_before_response(rn_req_t *req)
{
    rn_quotas_t *q = rn_req_broker(req)->quotas;
    if (q == NULL || rn_qstore_count(rn_quotas_store(q)) == 0 || req->response == NULL)
        return;
    int64_t now = rn_clock_mono_ms();
    rn_str_t user = rn_quotas_user(req), client = rn_quotas_client_id(req);
    int64_t bytes_ms = 0, fetched = 0;
    rn_qtype_t bytes_type = RN_QT_PRODUCE;
    if (req->api_key == RN_API_PRODUCE) {
        bytes_ms = rn_quotas_record(q, RN_QT_PRODUCE, user, client, (double)req->frame_len, now);
    } else if (req->api_key == RN_API_FETCH) {
        bytes_type = RN_QT_FETCH;
        fetched = fetch_bytes(req->response);
        bytes_ms = rn_quotas_record(q, RN_QT_FETCH, user, client, (double)fetched, now);
    }
    /* Handler time as a percentage of one second (Kafka's request-time unit). */
    double pct = (double)req->handle_ns * 100.0 / 1e9;
    int64_t request_ms = rn_quotas_record(q, RN_QT_REQUEST, user, client, pct, now);
    int64_t ms = bytes_ms > request_ms ? bytes_ms : request_ms;
    if (ms <= 0)
        return;
    if (req->api_key == RN_API_FETCH) {
        rn_quotas_unrecord(q, RN_QT_FETCH, user, client, (double)fetched, now);
        fetch_empty(req->response);
    }
    rn_quotas_count_throttle(q, bytes_ms > request_ms ? bytes_type : RN_QT_REQUEST, ms);
    if (ms > INT32_MAX)
        ms = INT32_MAX;
    const throttle_field_t *f = field_for(req->api_key);
    if (f != NULL)
        *(int32_t *)((char *)req->response + f->offset) = (int32_t)ms;
    bool client_backs_off = f != NULL && f->client_throttles_from >= 0 &&
                            req->response_version >= f->client_throttles_from;
    rn_req_throttle(req, ms, !client_backs_off);
}
