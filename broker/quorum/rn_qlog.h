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
 * A clean close leaves the marker file RN_QLOG_CLEAN_FILE beside the segments (Kafka's
 * .kafka_cleanshutdown, for this one log): the next open trusts the segments' indexes and
 * removes it, durably, before anything is appended, so a crash after that open is
 * recovered in full (every batch checked, a torn tail cut).
 *
 * Threading: one thread (the quorum thread) makes every call after open. Reads return
 * data valid until the next change of the log (append, truncate, reset, drop_prefix) or
 * RN_QLOG_READ_SLOTS further reads, whichever comes first: rn_raft reads at most 64
 * entries before using them. */
#ifndef RN_QLOG_H
#define RN_QLOG_H

#include "quorum/rn_raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_QLOG_TOPIC      "__cluster_metadata"
#define RN_QLOG_DIR        "__cluster_metadata-0"
#define RN_QLOG_READ_SLOTS 128
#define RN_QLOG_CLEAN_FILE "quorum-log-clean" /* present only between a clean close and open */

typedef struct rn_qlog rn_qlog_t;

/* The ops table to put in rn_raft_io_t with the rn_qlog_t as log. */
extern const rn_raft_log_ops_t rn_qlog_ops;

/* Open (creating when missing) <data_dir>/__cluster_metadata-0/; after anything but a
 * clean close every batch is checked and a torn tail cut. 0 and *out, or RN_E* with err
 * set. */
int rn_qlog_open(const char *data_dir, rn_qlog_t **out, char *err, size_t errlen);
/* Flush and close; the close is recorded as clean (the marker written) only when the
 * flush succeeded. NULL is a no-op. */
void rn_qlog_close(rn_qlog_t *qlog);
/* Did the open find the log closed cleanly (or the directory new)? */
bool rn_qlog_was_clean(const rn_qlog_t *qlog);
/* The directory (for the quorum-state file and snapshots beside the segments). */
const char *rn_qlog_dir(const rn_qlog_t *qlog);

#endif
