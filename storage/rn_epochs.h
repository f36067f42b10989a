/* rn_epochs: a partition's leader-epoch cache and its leader-epoch-checkpoint file.
 *
 * Each entry says "leader epoch E began at offset S" (the first offset written in E). The
 * cache answers OffsetForLeaderEpoch (where did epoch E end?), which followers use to find
 * where their log diverged from the leader's, and tells which epoch wrote an offset.
 * The rules are Kafka's LeaderEpochFileCache, so a runnel log and a Kafka log holding the
 * same batches have the same cache.
 *
 * Invariant: entries are sorted with epochs AND start offsets both strictly increasing;
 * every epoch >= 0 and start offset >= 0.
 *
 * The cache lives in memory; callers persist it with rn_epochs_save (fsync: off the event
 * loop) after a change. File format (text, '\n' line ends):
 *
 *   0              version
 *   2              number of entries
 *   0 0            <epoch> <start offset>
 *   3 1200
 */
#ifndef RN_EPOCHS_H
#define RN_EPOCHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_EPOCHS_FILE    "leader-epoch-checkpoint"
#define RN_EPOCHS_VERSION 0
/* Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
#define RN_EPOCH_UNDEFINED        (-1)
#define RN_EPOCH_UNDEFINED_OFFSET (-1)
/* Largest leader-epoch-checkpoint rn_epochs_load accepts. */
#define RN_EPOCHS_MAX_FILE_SIZE (16u << 20)

typedef struct rn_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} rn_epoch_entry_t;

typedef struct rn_epochs {
    rn_epoch_entry_t *entries; /* entries[0..count), oldest first; see the invariant above */
    size_t count;
    size_t cap;
} rn_epochs_t;

/* An empty cache (a zeroed struct is one too). */
void rn_epochs_init(rn_epochs_t *ec);
/* Free the entries; the cache is empty and reusable afterwards. */
void rn_epochs_destroy(rn_epochs_t *ec);

/* Record that `epoch` starts at `start_offset` (Kafka's assign). No change when the latest
 * entry has the same epoch and a start <= start_offset. Otherwise every entry from the end
 * whose epoch >= `epoch` or whose start >= `start_offset` is dropped (it conflicts with the
 * new one, e.g. after truncation) and the new entry appended. Returns 1 when the cache
 * changed (save it), 0 when not, RN_EINVAL for a negative epoch or offset. */
int rn_epochs_assign(rn_epochs_t *ec, int32_t epoch, int64_t start_offset);

/* The latest epoch, or RN_EPOCH_UNDEFINED when empty. */
int32_t rn_epochs_latest(const rn_epochs_t *ec);

/* OffsetForLeaderEpoch: the end offset of `requested` (exclusive: the start of the next
 * higher epoch) and the largest cached epoch <= requested, as Kafka computes them:
 *   requested == RN_EPOCH_UNDEFINED or above every cached epoch, or empty cache
 *                                     -> (UNDEFINED, UNDEFINED_OFFSET)
 *   requested == latest epoch         -> (requested, log_end_offset)
 *   requested below the first entry   -> (requested, first entry's start offset)
 *   otherwise                         -> (largest epoch <= requested, start of the first
 *                                          epoch > requested) */
void rn_epochs_end_offset_for(const rn_epochs_t *ec, int32_t requested, int64_t log_end_offset,
                              int32_t *epoch, int64_t *end_offset);

/* The epoch that wrote `offset`: the entry with the greatest start <= offset, or
 * RN_EPOCH_UNDEFINED when offset is before the first entry or the cache is empty. */
int32_t rn_epochs_epoch_for_offset(const rn_epochs_t *ec, int64_t offset);

/* The log was truncated to end before `end_offset`: drop every entry whose start >=
 * end_offset (nothing when end_offset < 0). Returns true when the cache changed. */
bool rn_epochs_truncate_from_end(rn_epochs_t *ec, int64_t end_offset);

/* The log start moved to `start_offset` (retention, DeleteRecords): drop the entries that
 * start at or before it, keeping the last of them re-based to start at start_offset (it
 * still owns the offsets from there). Returns true when the cache changed. */
bool rn_epochs_truncate_from_start(rn_epochs_t *ec, int64_t start_offset);

/* Replace the cache's contents with the leader-epoch-checkpoint in buf (`name` labels
 * errors). Entries are applied with rn_epochs_assign, as Kafka does when it loads the file,
 * so non-monotonic entries are dropped rather than trusted. Returns 0 or RN_ECORRUPT (wrong
 * version or count, malformed line, negative value; message "<name>:<line>: ..."); on error
 * the cache is left empty. An empty file or one with only the version line is empty. */
int rn_epochs_parse(rn_epochs_t *ec, const char *name, const uint8_t *buf, size_t len, char *err,
                    size_t errlen);

/* Load <partition dir>/leader-epoch-checkpoint into the cache; a missing file gives an empty
 * cache. Returns 0, RN_ECORRUPT, RN_ETOOBIG, RN_ENOMEM, RN_EIO. */
int rn_epochs_load(rn_epochs_t *ec, const char *dir, char *err, size_t errlen);

/* Render the file into a new rn_malloc'd NUL-terminated buffer (*out, *len). */
void rn_epochs_format(const rn_epochs_t *ec, char **out, size_t *len);

/* Atomically replace <partition dir>/leader-epoch-checkpoint. Returns 0 or RN_EIO. */
int rn_epochs_save(const rn_epochs_t *ec, const char *dir, char *err, size_t errlen);

#endif
