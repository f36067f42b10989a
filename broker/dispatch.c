/* runneld's dispatch table: which api keys this broker serves and which function serves
 * them. The versions served are the serve= range of the api's client/defs/<api>.def file, the
 * one place they are written (the README's table is checked against it by
 * tests/integration/test_served_versions.py). ApiVersions is generated from these rows and
 * those ranges, so a row is a promise to clients: add a row only with a working handler.
 *
 * Rows of the inter-node APIs name their guard (acl/guard.c), which checks CLUSTER_ACTION
 * before the handler runs; the other handlers ask the authorizer themselves.
 *
 * To add a handler: write int rn_handle_xxx(rn_req_t *req) in the handle_xxx.c of its room
 * (contract in net/rn_server.h), declare it in rn_handlers.h, add a row below. State that
 * outlives one request (parked fetches, producer ids) belongs to a module row in
 * rn_broker_modules, whose init/shutdown the broker runs at start and stop. */
#include "rn_handlers.h"
#include "auth/rn_auth.h"
#include "data/rn_cleaner_thread.h"
#include "data/rn_datapath.h"
#include "quota/rn_quotas.h"
#include "replica/rn_replica.h"
#include "acl/rn_authz.h"

/* min/max -1: the server takes the range from the codec's serve= (net/server.c). */
#define ROW(key, fn, flags, name)                                                                  \
    {                                                                                              \
        key, -1, -1, fn, flags, name                                                               \
    }

const rn_api_entry_t rn_broker_apis[] = {
    ROW(RN_API_PRODUCE, rn_handle_produce, 0, "Produce"),
    ROW(RN_API_FETCH, rn_handle_fetch, 0, "Fetch"),
    ROW(RN_API_LIST_OFFSETS, rn_handle_list_offsets, 0, "ListOffsets"),
    ROW(RN_API_DELETE_RECORDS, rn_handle_delete_records, 0, "DeleteRecords"),
    ROW(RN_API_INIT_PRODUCER_ID, rn_handle_init_producer_id, 0, "InitProducerId"),
    ROW(RN_API_OFFSET_FOR_LEADER_EPOCH, rn_handle_offset_for_leader_epoch, 0,
        "OffsetForLeaderEpoch"),
    ROW(RN_API_METADATA, rn_handle_metadata, 0, "Metadata"),
    ROW(RN_API_API_VERSIONS, rn_handle_api_versions, RN_API_ANY_VERSION, "ApiVersions"),
    ROW(RN_API_CREATE_TOPICS, rn_handle_create_topics, 0, "CreateTopics"),
    ROW(RN_API_DELETE_TOPICS, rn_handle_delete_topics, 0, "DeleteTopics"),
    ROW(RN_API_DESCRIBE_CONFIGS, rn_handle_describe_configs, 0, "DescribeConfigs"),
    ROW(RN_API_ALTER_CONFIGS, rn_handle_alter_configs, 0, "AlterConfigs"),
    ROW(RN_API_CREATE_PARTITIONS, rn_handle_create_partitions, 0, "CreatePartitions"),
    ROW(RN_API_INCREMENTAL_ALTER_CONFIGS, rn_handle_incremental_alter_configs, 0,
        "IncrementalAlterConfigs"),
    ROW(RN_API_DESCRIBE_CLUSTER, rn_handle_describe_cluster, 0, "DescribeCluster"),
    ROW(RN_API_OFFSET_COMMIT, rn_handle_offset_commit, 0, "OffsetCommit"),
    ROW(RN_API_OFFSET_FETCH, rn_handle_offset_fetch, 0, "OffsetFetch"),
    ROW(RN_API_FIND_COORDINATOR, rn_handle_find_coordinator, 0, "FindCoordinator"),
    ROW(RN_API_JOIN_GROUP, rn_handle_join_group, 0, "JoinGroup"),
    ROW(RN_API_HEARTBEAT, rn_handle_heartbeat, 0, "Heartbeat"),
    ROW(RN_API_LEAVE_GROUP, rn_handle_leave_group, 0, "LeaveGroup"),
    ROW(RN_API_SYNC_GROUP, rn_handle_sync_group, 0, "SyncGroup"),
    ROW(RN_API_DESCRIBE_GROUPS, rn_handle_describe_groups, 0, "DescribeGroups"),
    ROW(RN_API_LIST_GROUPS, rn_handle_list_groups, 0, "ListGroups"),
    ROW(RN_API_DELETE_GROUPS, rn_handle_delete_groups, 0, "DeleteGroups"),
    ROW(RN_API_OFFSET_DELETE, rn_handle_offset_delete, 0, "OffsetDelete"),
    ROW(RN_API_VOTE, rn_guard_vote, 0, "Vote"),
    ROW(RN_API_BEGIN_QUORUM_EPOCH, rn_guard_begin_quorum_epoch, 0, "BeginQuorumEpoch"),
    ROW(RN_API_END_QUORUM_EPOCH, rn_guard_end_quorum_epoch, 0, "EndQuorumEpoch"),
    ROW(RN_API_DESCRIBE_QUORUM, rn_guard_describe_quorum, 0, "DescribeQuorum"),
    ROW(RN_API_FETCH_SNAPSHOT, rn_guard_fetch_snapshot, 0, "FetchSnapshot"),
    ROW(RN_API_BROKER_REGISTRATION, rn_guard_broker_registration, 0, "BrokerRegistration"),
    ROW(RN_API_BROKER_HEARTBEAT, rn_guard_broker_heartbeat, 0, "BrokerHeartbeat"),
    ROW(RN_API_ALLOCATE_PRODUCER_IDS, rn_guard_allocate_producer_ids, 0, "AllocateProducerIds"),
    ROW(RN_API_ALTER_PARTITION, rn_guard_alter_partition, 0, "AlterPartition"),
    /* Client quotas (quota/). */
    ROW(RN_API_DESCRIBE_CLIENT_QUOTAS, rn_handle_describe_client_quotas, 0, "DescribeClientQuotas"),
    ROW(RN_API_ALTER_CLIENT_QUOTAS, rn_handle_alter_client_quotas, 0, "AlterClientQuotas"),
    /* ACLs (acl/). */
    ROW(RN_API_DESCRIBE_ACLS, rn_handle_describe_acls, 0, "DescribeAcls"),
    ROW(RN_API_CREATE_ACLS, rn_handle_create_acls, 0, "CreateAcls"),
    ROW(RN_API_DELETE_ACLS, rn_handle_delete_acls, 0, "DeleteAcls"),
    /* SASL logins and SCRAM credentials (auth/). */
    ROW(RN_API_SASL_HANDSHAKE, rn_handle_sasl_handshake, 0, "SaslHandshake"),
    ROW(RN_API_SASL_AUTHENTICATE, rn_handle_sasl_authenticate, 0, "SaslAuthenticate"),
    ROW(RN_API_DESCRIBE_USER_SCRAM_CREDENTIALS, rn_handle_describe_user_scram_credentials, 0,
        "DescribeUserScramCredentials"),
    ROW(RN_API_ALTER_USER_SCRAM_CREDENTIALS, rn_handle_alter_user_scram_credentials, 0,
        "AlterUserScramCredentials"),
};
const size_t rn_broker_napis = sizeof(rn_broker_apis) / sizeof(rn_broker_apis[0]);

const rn_broker_module_t rn_broker_modules[] = {
    /* First: the controller id and the metadata log exist before anything serves. */
    {"quorum", rn_quorum_module_init, rn_quorum_module_shutdown},
    {"datapath", rn_datapath_init, rn_datapath_shutdown},
    {"replica", rn_replica_init, rn_replica_shutdown}, /* roles of the logs datapath opened */
    {"cleaner", rn_cleaner_thread_module_init, rn_cleaner_thread_module_shutdown},
    {"groups", rn_groups_init, rn_groups_shutdown}, /* after datapath: replays its logs */
    {"quotas", rn_quotas_init, rn_quotas_shutdown},
    {"acl", rn_authz_module_init, rn_authz_module_shutdown},
    {"auth", rn_auth_init, rn_auth_shutdown},
    {NULL, NULL, NULL},
};
