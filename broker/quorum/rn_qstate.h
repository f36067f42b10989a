/* rn_qstate: the quorum-state file of __cluster_metadata-0, in Kafka's own format so a
 * data dir moved to Apache Kafka reads alike: one JSON object on one line,
 *
 *   {"clusterId":"","leaderId":1,"leaderEpoch":5,"votedId":-1,"appliedOffset":0,
 *    "currentVoters":[{"voterId":1},{"voterId":2}],"data_version":0}
 *
 * (-1 = none). Pure functions over buffers; writing the file (tmp, fsync, rename, fsync of
 * the directory, before the node acts) belongs to the caller. */
#ifndef RN_QSTATE_H
#define RN_QSTATE_H

#include "quorum/rn_raft.h"

#include <stddef.h>
#include <stdint.h>

#define RN_QSTATE_CLUSTER_ID_MAX 64

typedef struct rn_qstate_file {
    char cluster_id[RN_QSTATE_CLUSTER_ID_MAX + 1]; /* "" when unknown */
    int32_t leader_id, leader_epoch, voted_id;
    int64_t applied_offset;
    int32_t voters[RN_RAFT_MAX_VOTERS]; /* currentVoters; n_voters 0 writes null */
    int n_voters;
    int32_t data_version;
} rn_qstate_file_t;

/* An empty state: epoch 0, no leader, no vote, data_version 0. */
void rn_qstate_init(rn_qstate_file_t *qs);

/* Write qs as one JSON line (with '\n', NUL-terminated) into buf[cap]; *out_len gets
 * its length without the NUL. 0, RN_EFULL when cap is too small, RN_EINVAL for a
 * cluster id that needs escaping. */
int rn_qstate_encode(const rn_qstate_file_t *qs, char *buf, size_t cap, size_t *out_len);

/* Parse the file's bytes. Keys may come in any order; unknown keys are skipped; the
 * required ones are leaderId, leaderEpoch, votedId and data_version. 0, or RN_ECORRUPT
 * for anything else (bad JSON, missing or out-of-range fields, trailing bytes, too many
 * voters). */
int rn_qstate_decode(const char *buf, size_t len, rn_qstate_file_t *out);

/* The part rn_raft keeps, and back. */
rn_raft_qstate_t rn_qstate_to_raft(const rn_qstate_file_t *qs);
void rn_qstate_from_raft(rn_qstate_file_t *qs, const rn_raft_qstate_t *rs);

#endif
