/* rn_recwalk: walk the records of an uncompressed v2 batch to validate them, as Kafka's
 * LogValidator does before it assigns offsets in place.
 *
 * The records are parsed by rn_records_parse (rn_records.h holds the layout); this module
 * adds the validator's rules and names the first problem. It lives with the records in
 * storage/ because it needs nothing of the broker: the Produce handler calls it.
 *
 * Checked: every length and varint stays inside its record and the record inside the batch;
 * each record's length matches the bytes its fields take; offsetDelta is the record's index
 * (what every producer writes; Kafka would otherwise hand out offsets outside the batch's
 * range); the number of records equals the header's recordCount; nothing trails the last
 * record. Also gathered: the largest timestamp (base timestamp + largest delta), which
 * Kafka writes into the header's maxTimestamp, and whether any record has a null key
 * (refused on compacted topics). Compressed batches are not walked (not decompressed). */
#ifndef RN_RECWALK_H
#define RN_RECWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_recwalk_result {
    int32_t bad_index;      /* index of the first invalid record, -1 when all are valid */
    const char *reason;     /* what was wrong with it (static text), NULL when valid */
    int64_t max_timestamp;  /* base timestamp + largest timestampDelta; -1 with no records */
    bool has_null_key;      /* some record has a null key */
    int32_t first_null_key; /* index of the first such record, -1 when none */
} rn_recwalk_result_t;

/* Walk the batch at batch[0..len) (a whole batch whose header already passed
 * rn_batch_validate and whose codec is none). Returns 0 when every record is valid, or
 * RN_ECORRUPT with res->bad_index / res->reason set. res is always filled. */
int rn_recwalk_check(const uint8_t *batch, size_t len, rn_recwalk_result_t *res);

/* Called for each record that parsed, in order, with its index in the batch; rec's
 * timestamp (base timestamp + delta) and offset (the batch's base offset + delta, as the
 * client sent it) are filled in. */
struct rn_record;
typedef void (*rn_recwalk_fn)(void *arg, int32_t index, const struct rn_record *rec);

/* rn_recwalk_check calling fn (when not NULL) for every valid record up to the first
 * invalid one, so a caller can apply its own per-record rules in the same pass. */
int rn_recwalk_each(const uint8_t *batch, size_t len, rn_recwalk_fn fn, void *arg,
                    rn_recwalk_result_t *res);

#endif
