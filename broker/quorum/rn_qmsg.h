/* rn_qmsg: rn_raft_msg_t <-> the Kafka codec's structs of the quorum RPCs (Vote,
 * BeginQuorumEpoch, EndQuorumEpoch, Fetch on __cluster_metadata-0, FetchSnapshot), and the
 * quorum's entries <-> record batches. Pure functions: no I/O, no state; memory from the
 * caller's arena, strings and records pointing into the caller's buffers.
 *
 * Requests are addressed by what the RPC carries: the sender is CandidateId / LeaderId /
 * ReplicaId; responses name no sender, so the caller (who knows the peer it asked) fills
 * from, and the request it sent gives corr, pre_vote and the fetch offset. */
#ifndef RN_QMSG_H
#define RN_QMSG_H

#include "quorum/rn_raft.h"

#include "rn_arena.h"
#include "rn_messages.h"

#include <stddef.h>
#include <stdint.h>

/* Kafka's fetch limits for the metadata log: MaxWaitMs, bytes per partition. */
#define RN_QMSG_FETCH_MAX_WAIT_MS 500
#define RN_QMSG_FETCH_MAX_BYTES   (8 << 20)

typedef union rn_qmsg_request {
    rn_vote_request_t vote;
    rn_begin_quorum_epoch_request_t begin;
    rn_end_quorum_epoch_request_t end;
    rn_fetch_request_t fetch;
    rn_fetch_snapshot_request_t snap;
} rn_qmsg_request_t;

typedef union rn_qmsg_response {
    rn_vote_response_t vote;
    rn_begin_quorum_epoch_response_t begin;
    rn_end_quorum_epoch_response_t end;
    rn_fetch_response_t fetch;
    rn_fetch_snapshot_response_t snap;
} rn_qmsg_response_t;

/* The metadata topic's id, AAAAAAAAAAAAAAAAAAAAAQ (0...01). */
extern const rn_uuid_t rn_qmsg_topic_id;

/* The api key carrying a raft message type (request or response). */
int16_t rn_qmsg_api_key(rn_raft_msg_type_t type);

/* A request raft sent, as the codec's request at version (snap_position: FetchSnapshot's
 * Position). 0, RN_EINVAL (not a request), RN_ENOMEM. */
int rn_qmsg_request_encode(const rn_raft_msg_t *msg, const char *cluster_id, int16_t version,
                           int64_t snap_position, rn_arena_t *arena, rn_qmsg_request_t *out);

/* A received request as a raft message to node self. Returns 0, or the Kafka error to answer
 * with: INCONSISTENT_CLUSTER_ID (a ClusterId other than cluster_id), INVALID_REQUEST (not
 * exactly __cluster_metadata partition 0, or a Fetch without a replica id). */
int rn_qmsg_request_decode(int16_t api_key, int16_t version, const void *req,
                           const char *cluster_id, int32_t self, rn_raft_msg_t *out,
                           int64_t *snap_position);

/* A response raft sent, into the codec's response (already initialised) at version. For
 * Fetch, records/len are the entries as batches (rn_qmsg_batches_encode); for
 * FetchSnapshot the chunk of the snapshot at position and the snapshot's size. */
int rn_qmsg_response_encode(const rn_raft_msg_t *msg, int16_t version, const uint8_t *records,
                            size_t len, int64_t position, int64_t size, rn_arena_t *arena,
                            void *resp);

/* A received response to the request `sent` (as raft sent it) from node `from`. Fetch
 * records become entries in arena pointing into the response. FetchSnapshot: *chunk, *size
 * and *position describe the bytes carried (out->u.snap_resp.data is left to the caller).
 * 0, or RN_ECORRUPT for a response that does not answer the request (wrong topic, bad
 * batches). */
int rn_qmsg_response_decode(int16_t api_key, int16_t version, const void *resp,
                            const rn_raft_msg_t *sent, rn_arena_t *arena, rn_raft_msg_t *out,
                            rn_records_t *chunk, int64_t *size, int64_t *position);

/* One entry as one record batch at its offset (rn_malloc'd in *out). 0 or RN_E*. */
int rn_qmsg_batch_build(const rn_raft_entry_t *entry, uint8_t **out, size_t *len);
/* Entries as consecutive batches (rn_malloc'd; *out NULL and *len 0 when n is 0). */
int rn_qmsg_batches_encode(const rn_raft_entry_t *entries, int n, uint8_t **out, size_t *len);
/* The one entry in the batch buf (exactly one whole batch: one record, no compression);
 * data points into buf. 0 or RN_ECORRUPT. */
int rn_qmsg_batch_entry(const uint8_t *buf, size_t len, rn_raft_entry_t *out);

#endif
