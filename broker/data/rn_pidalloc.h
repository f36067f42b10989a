/* rn_pidalloc: producer ids for InitProducerId that never repeat, across restarts too.
 *
 * Ids are handed out from blocks reserved in a file of the data directory,
 * "producer-id-block" (Kafka reserves blocks of 1000 the same way, in ZooKeeper's
 * /latest_producer_id_block or KRaft's ProducerIdsRecord). The file holds one text line,
 * "<first id not yet reserved>\n". Reserving a block rewrites the file (temporary file +
 * rename) *before* any id of the block is handed out, so after a crash the next process
 * starts past every id that may have been used. The reservation at open is fsynced (start-up
 * may block); later ones are not (the event loop must not fsync) and rely on the page cache,
 * which survives a process crash -- the same durability Kafka's logs have by default.
 *
 * Kafka's own broker ignores this file if the data directory is ever handed to it. */
#ifndef RN_PIDALLOC_H
#define RN_PIDALLOC_H

#include <stddef.h>
#include <stdint.h>

#define RN_PIDALLOC_FILE  "producer-id-block"
#define RN_PIDALLOC_BLOCK 1000

typedef struct rn_pidalloc rn_pidalloc_t;

/* Open the allocator of data directory dir, reserving the first block (block_size ids; 0
 * means RN_PIDALLOC_BLOCK). A missing file starts at id 0. Returns 0; RN_ECORRUPT when the
 * file is not one decimal number and a newline; RN_EIO (message in err). */
int rn_pidalloc_open(const char *dir, int64_t block_size, rn_pidalloc_t **out, char *err,
                     size_t errlen);

void rn_pidalloc_close(rn_pidalloc_t *pa);

/* The next producer id (>= 0). Returns 0, or RN_EIO when a new block could not be reserved
 * (the id is then not handed out; the caller answers an error and the client retries), or
 * RN_ERANGE when ids are exhausted (INT64_MAX). */
int rn_pidalloc_next(rn_pidalloc_t *pa, int64_t *producer_id);

#endif
