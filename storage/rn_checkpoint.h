/* rn_checkpoint: Kafka's per-data-dir offset checkpoint files.
 *
 *   recovery-point-offset-checkpoint  offsets below which every segment was flushed
 *   log-start-offset-checkpoint       per-partition log start offset
 *   replication-offset-checkpoint     per-partition high watermark
 *   cleaner-offset-checkpoint         per-partition cleaned-up-to offset (compaction)
 *
 * Format (text, '\n' line ends, byte-identical to what Kafka writes):
 *
 *   0                    version
 *   2                    number of entries
 *   orders 0 1200        <topic> <partition> <offset>
 *   orders 1 877
 *
 * Reading is strict: a wrong version, a count that does not match the lines, or a malformed
 * line is RN_ECORRUPT with a message "<file>:<line>: ...". As in Kafka, an empty file and a
 * file with only the version line read as zero entries (a crash of an older non-atomic
 * writer). Writing goes through rn_fsutil_write_atomic (temp file, fsync, rename, dir fsync):
 * it blocks, so it belongs off the event loop. */
#ifndef RN_CHECKPOINT_H
#define RN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define RN_CHECKPOINT_RECOVERY_POINT "recovery-point-offset-checkpoint"
#define RN_CHECKPOINT_LOG_START      "log-start-offset-checkpoint"
#define RN_CHECKPOINT_REPLICATION    "replication-offset-checkpoint"
#define RN_CHECKPOINT_CLEANER        "cleaner-offset-checkpoint"

#define RN_CHECKPOINT_VERSION 0
/* Largest checkpoint file rn_checkpoint_load accepts (about a million partitions). */
#define RN_CHECKPOINT_MAX_FILE_SIZE (64u << 20)

typedef struct rn_checkpoint_entry {
    char *topic;       /* NUL-terminated, a valid Kafka topic name */
    int32_t partition; /* >= 0 */
    int64_t offset;
} rn_checkpoint_entry_t;

/* A parsed file: entries in file order. Owns the entries and their topic strings. */
typedef struct rn_checkpoint {
    rn_checkpoint_entry_t *entries;
    size_t count;
} rn_checkpoint_t;

/* Parse a checkpoint held in memory; `name` (the file name or path) only labels errors.
 * On success *cp owns new memory (free with rn_checkpoint_free); on failure *cp is empty.
 * Returns 0 or RN_ECORRUPT (message in err). */
int rn_checkpoint_parse(const char *name, const uint8_t *buf, size_t len, rn_checkpoint_t *cp,
                        char *err, size_t errlen);

/* Read and parse the file at `path`. A missing file reads as zero entries (Kafka creates it
 * empty on first use). Returns 0, RN_ECORRUPT, RN_ETOOBIG, RN_ENOMEM or RN_EIO. */
int rn_checkpoint_load(const char *path, rn_checkpoint_t *cp, char *err, size_t errlen);

/* Render entries in the file format into a new rn_malloc'd buffer (*out, *len; NUL-terminated
 * for convenience, the NUL not counted). Returns 0, or RN_EINVAL (message in err) when an
 * entry has an invalid topic name or a negative partition, since the file could not be read
 * back. */
int rn_checkpoint_format(const rn_checkpoint_entry_t *entries, size_t count, char **out,
                         size_t *len, char *err, size_t errlen);

/* Format and atomically replace `path`. Returns 0, RN_EINVAL or RN_EIO. Blocks on fsync. */
int rn_checkpoint_save(const char *path, const rn_checkpoint_entry_t *entries, size_t count,
                       char *err, size_t errlen);

/* The entry for topic-partition, or NULL. With duplicates the last one wins (as in Kafka's
 * map). Linear: callers with many partitions build their own map once after loading. */
const rn_checkpoint_entry_t *rn_checkpoint_find(const rn_checkpoint_t *cp, const char *topic,
                                                int32_t partition);

/* Free the entries and reset *cp to empty. Safe on an empty or zeroed checkpoint. */
void rn_checkpoint_free(rn_checkpoint_t *cp);

#endif
