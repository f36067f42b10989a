/* rn_pidstate: per-partition state of idempotent producers, for sequence checking.
 *
 * One rn_pidstate_t belongs to one partition (its log owns it). It maps a producer id to the
 * producer's current epoch and the metadata of its last RN_PIDSTATE_BATCHES appended batches
 * (first/last sequence, first/last offset, max timestamp), which is what Kafka's
 * ProducerStateManager keeps. A Produce handler asks rn_pidstate_check() about a batch
 * before appending it and calls rn_pidstate_update() once the log assigned its offsets.
 *
 * Rules (Apache Kafka 2.8 to 4.x, ProducerAppendInfo and UnifiedLog.analyzeAndValidate):
 *  - epoch older than the producer's current epoch -> RN_PIDSTATE_INVALID_EPOCH (Kafka
 *    answers INVALID_PRODUCER_EPOCH 47 on every Produce version since 2.7, KIP-588).
 *  - same epoch and the batch's (first seq, last seq) equals one of the remembered batches
 *    -> RN_PIDSTATE_DUPLICATE: acknowledge with the original offsets, do not append.
 *  - producer unknown (never seen, or its state was dropped because retention/DeleteRecords
 *    removed all of its batches or it expired) -> any sequence is accepted. Kafka stopped
 *    answering UNKNOWN_PRODUCER_ID here in 2.5 (KIP-360): a client that got it would reset
 *    its sequences and could re-send, producing exactly the duplicates idempotence prevents.
 *  - epoch newer than the current one (the client bumped it) -> sequence must be 0, else
 *    RN_PIDSTATE_OUT_OF_ORDER.
 *  - same epoch -> first sequence must be last sequence + 1, where INT32_MAX is followed by
 *    0 (sequences wrap), else RN_PIDSTATE_OUT_OF_ORDER (Kafka 45). A retry of a batch older
 *    than the remembered window is out of order too, as in Kafka.
 * An update with a new epoch forgets the batches of the old one.
 *
 * State survives restarts as Kafka's does: rn_pidstate_foreach() exports one entry per
 * producer (its last batch) for the producer snapshot file written at clean shutdown and
 * segment roll; rn_pidstate_load() imports such entries; batches after the snapshot are
 * replayed from the log with rn_pidstate_update(). Not thread-safe: used on the event loop. */
#ifndef RN_PIDSTATE_H
#define RN_PIDSTATE_H

#include <stddef.h>
#include <stdint.h>

#define RN_PIDSTATE_BATCHES 5 /* batches remembered per producer: max.in.flight for idempotence */

typedef struct rn_pidstate rn_pidstate_t;

/* Metadata of one appended batch of a producer. */
typedef struct rn_pidstate_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
    int64_t timestamp; /* the batch's max timestamp (or its LogAppendTime) */
} rn_pidstate_batch_t;

/* One producer as exported to / imported from a producer snapshot (Kafka's 46-byte entry). */
typedef struct rn_pidstate_entry {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_seq;          /* -1 when no batch is known */
    int64_t last_offset;       /* -1 when no batch is known */
    int32_t offset_delta;      /* last_offset - first offset of the last batch */
    int64_t timestamp;         /* max timestamp of the last batch */
    int32_t coordinator_epoch; /* -1: no transactions yet */
    int64_t txn_first_offset;  /* -1: no open transaction */
} rn_pidstate_entry_t;

typedef enum rn_pidstate_verdict {
    RN_PIDSTATE_APPEND = 0,        /* append the batch, then rn_pidstate_update() */
    RN_PIDSTATE_DUPLICATE = 1,     /* already appended: answer with *dup's offsets */
    RN_PIDSTATE_OUT_OF_ORDER = 2,  /* OUT_OF_ORDER_SEQUENCE_NUMBER (45) */
    RN_PIDSTATE_INVALID_EPOCH = 3, /* INVALID_PRODUCER_EPOCH (47) */
} rn_pidstate_verdict_t;

/* An empty state. Aborts on OOM (small internal allocation). */
rn_pidstate_t *rn_pidstate_new(void);
void rn_pidstate_free(rn_pidstate_t *ps);

/* Number of producers tracked. */
size_t rn_pidstate_count(const rn_pidstate_t *ps);

/* Last sequence of a batch of record_count records starting at base_seq, wrapping past
 * INT32_MAX to 0 as producers do (record_count >= 1). */
int32_t rn_pidstate_last_seq(int32_t base_seq, int32_t record_count);

/* Judge an idempotent batch (producer_id >= 0) from a client before appending it.
 * last_offset_delta is the batch header's lastOffsetDelta (last seq = base_seq + delta, with
 * wrap-around). On RN_PIDSTATE_DUPLICATE, *dup (if not NULL) receives the original batch.
 * Does not modify the state. */
rn_pidstate_verdict_t rn_pidstate_check(const rn_pidstate_t *ps, int64_t producer_id,
                                        int16_t producer_epoch, int32_t base_seq,
                                        int32_t last_offset_delta, rn_pidstate_batch_t *dup);

/* Record an appended batch of producer_id: its epoch becomes current (a new epoch forgets
 * the old epoch's batches) and the batch joins the last RN_PIDSTATE_BATCHES. Used after an
 * append and when replaying a log; does no checking (replay must accept what is on disk).
 * Offsets are the ones the log assigned. */
void rn_pidstate_update(rn_pidstate_t *ps, int64_t producer_id, int16_t producer_epoch,
                        const rn_pidstate_batch_t *batch);

/* Look a producer up: its current epoch and, if batch is not NULL and one is known, its
 * last batch. Returns 0, or RN_ENOTFOUND when the producer is not tracked (or has no batch
 * and batch was asked for). */
int rn_pidstate_lookup(const rn_pidstate_t *ps, int64_t producer_id, int16_t *epoch,
                       rn_pidstate_batch_t *batch);

/* Export: call fn once per producer with its snapshot entry (the last batch), in no
 * particular order. Stops early and returns fn's value when fn returns non-zero. */
int rn_pidstate_foreach(const rn_pidstate_t *ps,
                        int (*fn)(const rn_pidstate_entry_t *entry, void *arg), void *arg);

/* Import one snapshot entry (replacing any state of that producer). The entry's last batch
 * becomes the only remembered batch (first seq = last_seq - offset_delta, wrapping). Returns
 * 0 or RN_EINVAL for an entry that cannot be valid (negative producer id, negative delta). */
int rn_pidstate_load(rn_pidstate_t *ps, const rn_pidstate_entry_t *entry);

/* Forget producers none of whose batches remain in the log: those whose last offset is
 * below log_start_offset (after retention, DeleteRecords or truncation from the head).
 * Returns how many were removed. */
size_t rn_pidstate_evict_below(rn_pidstate_t *ps, int64_t log_start_offset);

/* Forget producers whose last batch's timestamp is at least expiration_ms before now_ms
 * (Kafka's producer.id.expiration.ms, one day by default). Returns how many were removed. */
size_t rn_pidstate_expire(rn_pidstate_t *ps, int64_t now_ms, int64_t expiration_ms);

/* Forget producers whose last offset is at or beyond end_offset, and remembered batches
 * at or beyond it (log truncated to end_offset, e.g. by a follower). Kafka rebuilds from a
 * snapshot instead; dropping the newer batches errs on the side of accepting retries as
 * new producers. Returns how many producers were removed. */
size_t rn_pidstate_truncate(rn_pidstate_t *ps, int64_t end_offset);

/* Forget every producer. */
void rn_pidstate_clear(rn_pidstate_t *ps);

#endif
