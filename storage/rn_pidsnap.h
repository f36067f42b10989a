/* rn_pidsnap: producer state snapshot files, <20-digit offset>.snapshot in a partition
 * directory. A snapshot holds, for every idempotent/transactional producer, the state at
 * that log offset, so a restart replays only the log after the newest snapshot.
 *
 * Layout (Kafka's ProducerStateManager, version 1, big-endian):
 *   version  int16   1
 *   crc      uint32  CRC-32C of every byte after this field
 *   count    int32   number of entries
 *   count x 46-byte entries:
 *     producer_id i64, producer_epoch i16, last_sequence i32, last_offset i64,
 *     offset_delta i32, timestamp i64, coordinator_epoch i32,
 *     current_txn_first_offset i64 (-1 when no transaction is open)
 *
 * A snapshot that fails any check is RN_ECORRUPT; Kafka then deletes it and falls back to an
 * older snapshot or the log, and so should the caller. */
#ifndef RN_PIDSNAP_H
#define RN_PIDSNAP_H

#include <stddef.h>
#include <stdint.h>

#define RN_PIDSNAP_SUFFIX      ".snapshot"
#define RN_PIDSNAP_VERSION     1
#define RN_PIDSNAP_HEADER_SIZE 10 /* version + crc + count */
#define RN_PIDSNAP_CRC_OFFSET  2
#define RN_PIDSNAP_ENTRY_SIZE  46
/* Largest snapshot rn_pidsnap_load reads (about 5.8 million producers). */
#define RN_PIDSNAP_MAX_FILE_SIZE (256u << 20)
/* Buffer size for a snapshot file name: 20 digits + ".snapshot" + NUL. */
#define RN_PIDSNAP_NAME_SIZE 30

typedef struct rn_pidsnap_entry {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_sequence;
    int64_t last_offset;
    int32_t offset_delta; /* last sequence - first sequence of the last batch */
    int64_t timestamp;    /* max timestamp of the last batch */
    int32_t coordinator_epoch;
    int64_t current_txn_first_offset; /* -1 when none */
} rn_pidsnap_entry_t;

/* Decode a snapshot held in memory (`name` labels errors). On success *entries (rn_free it;
 * NULL when there are none) holds *count entries in file order. Returns 0 or RN_ECORRUPT
 * (short file, version != 1, CRC mismatch, negative count, size not 10 + 46 x count). */
int rn_pidsnap_parse(const char *name, const uint8_t *buf, size_t len, rn_pidsnap_entry_t **entries,
                     size_t *count, char *err, size_t errlen);

/* Encode entries into a new rn_malloc'd buffer (*out, *len) with the CRC filled in. */
void rn_pidsnap_encode(const rn_pidsnap_entry_t *entries, size_t count, uint8_t **out, size_t *len);

/* "<offset, 20 digits>.snapshot" into out[RN_PIDSNAP_NAME_SIZE]; offset must be >= 0. */
void rn_pidsnap_filename(int64_t offset, char *out);

/* The offset of a snapshot file name: exactly 20 digits then ".snapshot". Returns 0 or
 * RN_EINVAL (not a snapshot name; e.g. "....snapshot.deleted"). */
int rn_pidsnap_parse_filename(const char *name, int64_t *offset);

/* Read and decode <dir>/<offset>.snapshot. Returns 0, RN_ENOTFOUND, RN_ECORRUPT,
 * RN_ETOOBIG, RN_ENOMEM, RN_EIO. */
int rn_pidsnap_load(const char *dir, int64_t offset, rn_pidsnap_entry_t **entries, size_t *count,
                    char *err, size_t errlen);

/* Atomically write <dir>/<offset>.snapshot. Returns 0 or RN_EIO. Blocks on fsync. */
int rn_pidsnap_save(const char *dir, int64_t offset, const rn_pidsnap_entry_t *entries,
                    size_t count, char *err, size_t errlen);

/* The offsets of the snapshot files in `dir`, ascending (newest last). On success *offsets
 * (rn_free it; NULL when none) holds *count values. Returns 0 or RN_EIO. */
int rn_pidsnap_list(const char *dir, int64_t **offsets, size_t *count, char *err, size_t errlen);

#endif
