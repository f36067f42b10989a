/* rn_qlog: the metadata quorum's log (rn_raft_log_ops_t) on an rn_plog in
 * <data dir>/__cluster_metadata-0/, Kafka's layout: one record batch per entry, holding one
 * record whose value is the entry's bytes, with partitionLeaderEpoch = the entry's epoch.
 * A LeaderChange entry is a control batch (control key version 0, type LEADER_CHANGE), so
 * runnel-dump and Kafka's tools show it as such.
 *
 * The leader-epoch cache (rn_epochs) answers epoch_end; it is rebuilt from the batches at
 * open (the metadata log is small, and a crash may have cut the tail the file described)
 * and saved as leader-epoch-checkpoint at every flush.
 *
 * Threading: one thread (the quorum thread) makes every call after open. Reads return
 * data valid until the next change of the log (append, truncate, reset, drop_prefix) or
 * RN_QLOG_READ_SLOTS further reads, whichever comes first: rn_raft reads at most 64
 * entries before using them. */
#ifndef RN_QLOG_H
#define RN_QLOG_H

#include "quorum/rn_raft.h"

#include <stddef.h>
#include <stdint.h>

#define RN_QLOG_TOPIC      "__cluster_metadata"
#define RN_QLOG_DIR        "__cluster_metadata-0"
#define RN_QLOG_READ_SLOTS 128

typedef struct rn_qlog rn_qlog_t;

/* The ops table to put in rn_raft_io_t with the rn_qlog_t as log. */
extern const rn_raft_log_ops_t rn_qlog_ops;

/* Open (creating when missing) <data_dir>/__cluster_metadata-0/; a torn tail is cut.
 * 0 and *out, or RN_E* with err set. */
int rn_qlog_open(const char *data_dir, rn_qlog_t **out, char *err, size_t errlen);
/* Flush and close. NULL is a no-op. */
void rn_qlog_close(rn_qlog_t *qlog);
/* The directory (for the quorum-state file and snapshots beside the segments). */
const char *rn_qlog_dir(const rn_qlog_t *qlog);

#endif
