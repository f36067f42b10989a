/* rn_datadir: one data directory (an entry of log.dirs), laid out as Kafka's:
 *
 *   .lock                  flock(LOCK_EX) held while this process owns the directory
 *   meta.properties        version=1, node.id, cluster.id, directory.id (Java properties)
 *   .kafka_cleanshutdown   present only between a clean stop and the next start
 *   *-offset-checkpoint    see rn_checkpoint.h
 *   <topic>-<partition>/   one directory per partition
 *
 * Lifecycle: rn_datadir_open creates the directory if needed, takes the lock, creates or
 * checks meta.properties, and notes and removes the clean-shutdown marker (so a crash after
 * start always leads to recovery). rn_datadir_close(dd, true) writes the marker after the
 * caller has flushed and closed every log; rn_datadir_close(dd, false) just lets go.
 * open and close fsync: call them at start-up and shutdown, not from the event loop.
 *
 * meta.properties as runnel writes it (Kafka reads it; '#' lines are comments):
 *
 *   #Written by runnel
 *   cluster.id=MkU3OEVBNTcwNTJENDM2Qg
 *   directory.id=b8tRS7h4TJ2Vt43Dp85v2A
 *   node.id=1
 *   version=1
 */
#ifndef RN_DATADIR_H
#define RN_DATADIR_H

/* The metadata quorum log's directory, which rn_datadir_list_partitions skips. */
#define RN_DATADIR_METADATA_LOG "__cluster_metadata-0"

#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_DATADIR_META_FILE           "meta.properties"
#define RN_DATADIR_LOCK_FILE           ".lock"
#define RN_DATADIR_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
/* Longest Kafka topic name; a buffer for one needs RN_DATADIR_TOPIC_MAX + 1 bytes. */
#define RN_DATADIR_TOPIC_MAX 249

/* The contents of meta.properties (KRaft, version 1). */
typedef struct rn_datadir_meta {
    int32_t version; /* always 1 once parsed */
    int32_t node_id; /* >= 0 */
    rn_uuid_t cluster_id;
    bool has_directory_id; /* older Kafka versions wrote no directory.id */
    rn_uuid_t directory_id;
} rn_datadir_meta_t;

/* Parse meta.properties from memory (`name` labels errors). Java properties subset: '#' and
 * '!' comments, blank lines, "key=value" / "key: value" / "key value"; backslash escapes are
 * refused since Kafka never writes them here. Unknown keys are ignored. Returns 0,
 * RN_ECORRUPT (missing or malformed key, message names file and line) or RN_EUNSUPPORTED
 * (version 0, i.e. a ZooKeeper-mode directory, or a version above 1). */
int rn_datadir_meta_parse(const char *name, const uint8_t *buf, size_t len, rn_datadir_meta_t *meta,
                          char *err, size_t errlen);

/* Render meta.properties (the form shown above; directory.id only when present) into a new
 * rn_malloc'd NUL-terminated buffer (*out, *len). */
void rn_datadir_meta_format(const rn_datadir_meta_t *meta, char **out, size_t *len);

/* An open, locked data directory. */
typedef struct rn_datadir rn_datadir_t;

/* Open the data directory `path` for node `node_id`, creating it when missing.
 * `cluster_id` may be NULL: a new directory then gets a random cluster id and an existing
 * one keeps its own; when given, a new directory takes it and an existing directory with a
 * different id is refused (RN_EINVAL). Errors (message in err):
 *   RN_ELOCKED  another process (or another open in this process) holds the lock;
 *   RN_EINVAL   meta.properties belongs to another node.id or cluster;
 *   RN_ECORRUPT / RN_EUNSUPPORTED  meta.properties unreadable;
 *   RN_EIO, RN_EEXIST  file system errors. */
int rn_datadir_open(const char *path, int32_t node_id, const rn_uuid_t *cluster_id,
                    rn_datadir_t **out, char *err, size_t errlen);

/* Release the lock and free `dd`. With `clean`, first write the clean-shutdown marker
 * (durably): do that only after every log in the directory is flushed and closed. Returns 0,
 * or RN_EIO when the marker could not be written; `dd` is freed either way. NULL is a no-op. */
int rn_datadir_close(rn_datadir_t *dd, bool clean, char *err, size_t errlen);

/* The path as given to rn_datadir_open. */
const char *rn_datadir_path(const rn_datadir_t *dd);
/* The meta.properties in force (directory.id always present after open). */
const rn_datadir_meta_t *rn_datadir_meta(const rn_datadir_t *dd);
/* True when the previous process stopped cleanly (its marker was found at open): logs may
 * skip recovery. */
bool rn_datadir_was_clean_shutdown(const rn_datadir_t *dd);

/* One partition directory found in the data directory. */
typedef struct rn_datadir_part {
    char *topic;       /* NUL-terminated topic name */
    int32_t partition; /* >= 0 */
    char *name;        /* directory name, "<topic>-<partition>" */
} rn_datadir_part_t;

/* List the partition directories, sorted by topic then partition. Skipped: entries that are
 * not directories, names starting with '.', and directories whose name is not
 * <topic>-<partition> -- which covers Kafka's "<topic>-<partition>.<id>-delete", "-future"
 * and "-stray" directories (logged at WARN when the name is not one of those). On success
 * *parts (free with rn_datadir_parts_free) holds *count entries. Returns 0 or RN_EIO. */
int rn_datadir_list_partitions(const rn_datadir_t *dd, rn_datadir_part_t **parts, size_t *count,
                               char *err, size_t errlen);
void rn_datadir_parts_free(rn_datadir_part_t *parts, size_t count);

/* Split a partition directory name at its LAST '-': the topic before it must be a valid
 * topic name (topics may contain '-'), the partition after it decimal digits without a
 * leading zero that fit an int32. Copies the topic into topic[0..topic_cap) (needs
 * RN_DATADIR_TOPIC_MAX + 1 to hold any). Returns 0 or RN_EINVAL. */
int rn_datadir_parse_partition_dir(const char *name, char *topic, size_t topic_cap,
                                   int32_t *partition);

/* Write "<data dir>/<topic>-<partition>" into buf. Returns 0, RN_EINVAL (invalid topic or
 * negative partition) or RN_ETOOBIG (buffer too small). */
int rn_datadir_partition_path(const rn_datadir_t *dd, const char *topic, int32_t partition,
                              char *buf, size_t cap);

/* A legal Kafka topic name: 1..249 bytes of [A-Za-z0-9._-], not "." or "..". */
bool rn_datadir_topic_valid(const char *topic, size_t len);

#endif
