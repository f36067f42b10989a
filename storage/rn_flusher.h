/* rn_flusher: the background thread that fsyncs partition logs, so no fsync ever runs on the
 * event loop.
 *
 * Logs register with rn_plog_set_flusher(). A log asks for a flush (rn_flusher_request) when
 * flush.messages unflushed messages have piled up and at every segment roll (as Kafka does);
 * the thread also flushes each log whose flush.ms has passed since its last flush while it has
 * unflushed data. A flush is rn_plog_flush(): fsync of the segments holding offsets from the
 * recovery point to the log end, then the recovery point advances. Requests for the same log
 * coalesce; logs are served round-robin.
 *
 * The thread holds a reference on a log while flushing it, so rn_plog_close() never waits
 * for an fsync. All functions are thread-safe. */
#ifndef RN_FLUSHER_H
#define RN_FLUSHER_H

#include <stdint.h>

typedef struct rn_flusher rn_flusher_t;
struct rn_plog;

/* Start the thread. Returns 0 and *out, or RN_ENOMEM / RN_EIO (pthread_create failed). */
int rn_flusher_start(rn_flusher_t **out);
/* Finish the flush in progress (pending requests are dropped: flush logs explicitly at
 * shutdown), join the thread, detach every log still registered and free. */
void rn_flusher_stop(rn_flusher_t *fl);

/* Register / unregister a log (rn_plog_set_flusher calls these). Removing does not wait for a
 * flush of that log in progress. */
void rn_flusher_add(rn_flusher_t *fl, struct rn_plog *log);
void rn_flusher_remove(rn_flusher_t *fl, struct rn_plog *log);
/* Ask for a flush of a registered log soon; returns at once. */
void rn_flusher_request(rn_flusher_t *fl, struct rn_plog *log);

/* Flushes performed and failed so far (stats, tests). */
uint64_t rn_flusher_flush_count(rn_flusher_t *fl);
uint64_t rn_flusher_error_count(rn_flusher_t *fl);

#endif
