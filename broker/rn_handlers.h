/* rn_handlers: every API handler runneld serves, and the helpers they share. The dispatch
 * table in dispatch.c maps api keys and versions to these functions; the handler contract
 * is in rn_server.h. Handlers run on the event loop and reach the broker as
 * (rn_broker_t *)req->ctx. */
#ifndef RN_HANDLERS_H
#define RN_HANDLERS_H

#include "rn_broker.h"
#include "quorum/rn_quorum.h"
#include "net/rn_server.h"

/* The dispatch table and the modules with state (dispatch.c). */
extern const rn_api_entry_t rn_broker_apis[];
extern const size_t rn_broker_napis;
extern const rn_broker_module_t rn_broker_modules[]; /* ends with a {NULL} row */

/* data/: handle_produce.c, handle_fetch.c, handle_log_offsets.c, handle_initpid.c */
int rn_handle_produce(rn_req_t *req);
int rn_handle_fetch(rn_req_t *req);
int rn_handle_list_offsets(rn_req_t *req);
int rn_handle_delete_records(rn_req_t *req);
int rn_handle_offset_for_leader_epoch(rn_req_t *req);
int rn_handle_init_producer_id(rn_req_t *req);

/* meta/handle_meta.c */
int rn_handle_api_versions(rn_req_t *req);
int rn_handle_metadata(rn_req_t *req);
int rn_handle_describe_cluster(rn_req_t *req);

/* meta/handle_topics.c */
int rn_handle_create_topics(rn_req_t *req);
/* Served by the active controller (controller/cluster_brokers.c). */
int rn_handle_broker_registration(rn_req_t *req);
int rn_handle_broker_heartbeat(rn_req_t *req);
int rn_handle_allocate_producer_ids(rn_req_t *req);
int rn_handle_alter_partition(rn_req_t *req);
int rn_handle_delete_topics(rn_req_t *req);
int rn_handle_create_partitions(rn_req_t *req);

/* meta/handle_configs.c */
int rn_handle_describe_configs(rn_req_t *req);
int rn_handle_alter_configs(rn_req_t *req);
int rn_handle_incremental_alter_configs(rn_req_t *req);

/* group/handle_group.c: group membership, and the "groups" module owning the coordinator */
int rn_handle_find_coordinator(rn_req_t *req);
int rn_handle_join_group(rn_req_t *req);
int rn_handle_sync_group(rn_req_t *req);
int rn_handle_heartbeat(rn_req_t *req);
int rn_handle_leave_group(rn_req_t *req);
int rn_handle_describe_groups(rn_req_t *req);
int rn_handle_list_groups(rn_req_t *req);
int rn_handle_delete_groups(rn_req_t *req);
int rn_groups_init(rn_broker_t *b, char *err, size_t errlen);
/* quorum/: the metadata quorum module, and the Fetch handler's hook for
 * __cluster_metadata-0 (a replica's Fetch naming it goes to the quorum). */
int rn_quorum_module_init(rn_broker_t *b, char *err, size_t errlen);
void rn_quorum_module_shutdown(rn_broker_t *b);
bool rn_quorum_fetch_wanted(const rn_req_t *req);
int rn_quorum_handle_fetch(rn_req_t *req);
void rn_groups_shutdown(rn_broker_t *b);

/* group/handle_commit.c */
int rn_handle_offset_commit(rn_req_t *req);
int rn_handle_offset_fetch(rn_req_t *req);
int rn_handle_offset_delete(rn_req_t *req);

/* quota/handle_quotas.c, handle_quotas_alter.c: client quotas */
int rn_handle_describe_client_quotas(rn_req_t *req);
int rn_handle_alter_client_quotas(rn_req_t *req);
/* SASL logins and SCRAM credentials (auth/). */
int rn_handle_sasl_handshake(rn_req_t *req);
int rn_handle_sasl_authenticate(rn_req_t *req);
int rn_handle_describe_user_scram_credentials(rn_req_t *req);
int rn_handle_alter_user_scram_credentials(rn_req_t *req);

/* acl/guard.c: the inter-node APIs behind their authorization check */
int rn_guard_vote(rn_req_t *req);
int rn_guard_begin_quorum_epoch(rn_req_t *req);
int rn_guard_end_quorum_epoch(rn_req_t *req);
int rn_guard_fetch_snapshot(rn_req_t *req);
int rn_guard_describe_quorum(rn_req_t *req);
int rn_guard_broker_registration(rn_req_t *req);
int rn_guard_broker_heartbeat(rn_req_t *req);
int rn_guard_allocate_producer_ids(rn_req_t *req);
int rn_guard_alter_partition(rn_req_t *req);

/* acl/handle_acls.c: DescribeAcls, CreateAcls, DeleteAcls (changes through the controller) */
int rn_handle_describe_acls(rn_req_t *req);
int rn_handle_create_acls(rn_req_t *req);
int rn_handle_delete_acls(rn_req_t *req);

/* Admin requests that change topics answer once the change is on disk (handle_topics.c):
 * rn__admin_state allocates the state, rn__admin_track notes a result whose error code
 * (and message, may be NULL) becomes KAFKA_STORAGE_ERROR if persisting fails, and
 * rn__admin_finish answers now (nothing changed) or parks the request until persisted —
 * with on_commit (CreateTopics) only until the change is committed
 * (rn_topics_commit_records). */
typedef struct rn__admin_state {
    int n;
    int16_t **codes;
    rn_str_t **messages;
} rn__admin_state_t;
rn__admin_state_t *rn__admin_state(rn_req_t *req, int32_t max);
void rn__admin_track(rn__admin_state_t *st, int16_t *code, rn_str_t *message);
int rn__admin_finish(rn_req_t *req, rn__admin_state_t *st, bool on_commit);

/* Partitions this node may still add under max.partitions (handle_topics.c). */
int64_t rn__partition_room(const rn_broker_t *b);

static inline rn_broker_t *rn_req_broker(const rn_req_t *req)
{
    return (rn_broker_t *)req->ctx;
}

#endif
