/* runneld's dispatch table: which api keys and versions this broker serves and which
 * function serves them. ApiVersions is generated from this table (through rn_rpc_serve),
 * so a row is a promise to clients: add a row only with a working handler.
 *
 * To add a handler: write int rn_handle_xxx(rn_req_t *req) in its own handle_xxx.c
 * (contract in rn_server.h), declare it in rn_handlers.h, add a row below. State that
 * outlives one request (parked fetches, producer ids) belongs to a module row in
 * rn_broker_modules, whose init/shutdown the broker runs at start and stop. */
#include "rn_handlers.h"
#include "data/rn_cleaner_thread.h"
#include "data/rn_datapath.h"

#include <stdint.h>

#define ROW(key, lo, hi, fn, flags, name)                                                          \
    {                                                                                              \
        key, lo, hi, INT16_MAX, fn, flags, name                                                    \
    }

const rn_api_entry_t rn_broker_apis[] = {
    ROW(RN_API_PRODUCE, 0, 9, rn_handle_produce, 0, "Produce"),
    ROW(RN_API_FETCH, 4, 13, rn_handle_fetch, 0, "Fetch"),
    ROW(RN_API_LIST_OFFSETS, 1, 7, rn_handle_list_offsets, 0, "ListOffsets"),
    ROW(RN_API_DELETE_RECORDS, 0, 2, rn_handle_delete_records, 0, "DeleteRecords"),
    ROW(RN_API_INIT_PRODUCER_ID, 0, 4, rn_handle_init_producer_id, 0, "InitProducerId"),
    ROW(RN_API_OFFSET_FOR_LEADER_EPOCH, 2, 4, rn_handle_offset_for_leader_epoch, 0,
        "OffsetForLeaderEpoch"),
    ROW(RN_API_METADATA, 0, 12, rn_handle_metadata, 0, "Metadata"),
    ROW(RN_API_API_VERSIONS, 0, 3, rn_handle_api_versions, RN_API_ANY_VERSION, "ApiVersions"),
    ROW(RN_API_CREATE_TOPICS, 2, 7, rn_handle_create_topics, 0, "CreateTopics"),
    ROW(RN_API_DELETE_TOPICS, 1, 6, rn_handle_delete_topics, 0, "DeleteTopics"),
    ROW(RN_API_DESCRIBE_CONFIGS, 1, 4, rn_handle_describe_configs, 0, "DescribeConfigs"),
    ROW(RN_API_ALTER_CONFIGS, 0, 2, rn_handle_alter_configs, 0, "AlterConfigs"),
    ROW(RN_API_CREATE_PARTITIONS, 0, 3, rn_handle_create_partitions, 0, "CreatePartitions"),
    ROW(RN_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, rn_handle_incremental_alter_configs, 0,
        "IncrementalAlterConfigs"),
    ROW(RN_API_DESCRIBE_CLUSTER, 0, 1, rn_handle_describe_cluster, 0, "DescribeCluster"),
    ROW(RN_API_OFFSET_COMMIT, 2, 8, rn_handle_offset_commit, 0, "OffsetCommit"),
    ROW(RN_API_OFFSET_FETCH, 1, 8, rn_handle_offset_fetch, 0, "OffsetFetch"),
    ROW(RN_API_FIND_COORDINATOR, 0, 4, rn_handle_find_coordinator, 0, "FindCoordinator"),
    ROW(RN_API_JOIN_GROUP, 0, 9, rn_handle_join_group, 0, "JoinGroup"),
    ROW(RN_API_HEARTBEAT, 0, 4, rn_handle_heartbeat, 0, "Heartbeat"),
    ROW(RN_API_LEAVE_GROUP, 0, 5, rn_handle_leave_group, 0, "LeaveGroup"),
    ROW(RN_API_SYNC_GROUP, 0, 5, rn_handle_sync_group, 0, "SyncGroup"),
    ROW(RN_API_DESCRIBE_GROUPS, 0, 5, rn_handle_describe_groups, 0, "DescribeGroups"),
    ROW(RN_API_LIST_GROUPS, 0, 4, rn_handle_list_groups, 0, "ListGroups"),
    ROW(RN_API_DELETE_GROUPS, 0, 2, rn_handle_delete_groups, 0, "DeleteGroups"),
    ROW(RN_API_OFFSET_DELETE, 0, 0, rn_handle_offset_delete, 0, "OffsetDelete"),
};
const size_t rn_broker_napis = sizeof(rn_broker_apis) / sizeof(rn_broker_apis[0]);

const rn_broker_module_t rn_broker_modules[] = {
    {"datapath", rn_datapath_init, rn_datapath_shutdown},
    {"cleaner", rn_cleaner_thread_module_init, rn_cleaner_thread_module_shutdown},
    {"groups", rn_groups_init, rn_groups_shutdown}, /* after datapath: replays its logs */
    {NULL, NULL, NULL},
};
