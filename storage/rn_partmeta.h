/* rn_partmeta: a partition directory's partition.metadata file, which ties the directory to
 * its topic id (so a deleted-and-recreated topic of the same name is never confused with the
 * old one). Exactly what Kafka writes, 43 bytes and no trailing newline:
 *
 *   version: 0
 *   topic_id: <22-character base64url topic id>
 */
#ifndef RN_PARTMETA_H
#define RN_PARTMETA_H

#include "rn_uuid.h"

#include <stddef.h>
#include <stdint.h>

#define RN_PARTMETA_FILE    "partition.metadata"
#define RN_PARTMETA_VERSION 0
/* Size of the file as written: "version: 0\ntopic_id: " + 22 characters. */
#define RN_PARTMETA_SIZE 43

/* Parse partition.metadata from memory (`name` labels errors). Accepts what Kafka's reader
 * accepts from Kafka's writer: two lines "version: <n>" (n >= 0; newer versions are read
 * for downgrade compatibility, as Kafka does) and "topic_id: <id>", ':' followed by one or
 * more blanks, an optional final newline (CRLF too), nothing else. The all-zero id is
 * refused. Returns 0 or RN_ECORRUPT ("<name>:<line>: ..." in err). */
int rn_partmeta_parse(const char *name, const uint8_t *buf, size_t len, rn_uuid_t *topic_id,
                      char *err, size_t errlen);

/* Read <partition dir>/partition.metadata. Returns 0, RN_ENOTFOUND (no file: a partition
 * created before topic ids, or by a crash before the file was written), RN_ECORRUPT,
 * RN_EIO. */
int rn_partmeta_load(const char *dir, rn_uuid_t *topic_id, char *err, size_t errlen);

/* Write the file's bytes into out[RN_PARTMETA_SIZE + 1] (NUL-terminated); returns
 * RN_PARTMETA_SIZE. */
size_t rn_partmeta_format(const rn_uuid_t *topic_id, char *out);

/* Atomically write <partition dir>/partition.metadata. Returns 0, RN_EINVAL (zero id) or
 * RN_EIO. Blocks on fsync. */
int rn_partmeta_save(const char *dir, const rn_uuid_t *topic_id, char *err, size_t errlen);

#endif
