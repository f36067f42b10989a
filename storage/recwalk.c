/* Record-level validation of uncompressed v2 batches (see rn_recwalk.h). The records are
 * parsed by rn_records_parse, the one parser of the layout; this file adds Kafka's
 * LogValidator rules on top and names what was wrong. */
#include "rn_recwalk.h"

#include "rn_batch.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_reader.h"
#include "rn_records.h"

static int fail(rn_recwalk_result_t *res, int32_t index, const char *reason)
{
    res->bad_index = index;
    res->reason = reason;
    return RN_ECORRUPT;
}

/* The reason for a record at index i that parsed with fault (or RN_RECORD_OK), NULL when it
 * is valid. The offset delta is judged once the fields before it parsed and before the
 * fields after it, so each malformed record gets the reason of its first bad field. */
static const char *record_problem(rn_record_fault_t fault, const rn_record_t *rec, int32_t i)
{
    switch (fault) {
    case RN_RECORD_BAD_LENGTH: return "record length outside the batch";
    case RN_RECORD_BAD_PREFIX: return "malformed record header";
    default: break;
    }
    if (rec->offset_delta != i)
        return "record offset delta is not its position in the batch";
    switch (fault) {
    case RN_RECORD_BAD_FIELDS: return "malformed key, value or header count";
    case RN_RECORD_BAD_HEADERS: return "malformed record header (key/value of a header)";
    case RN_RECORD_BAD_SIZE: return "record length does not match its fields";
    default: return NULL;
    }
}

static void result_init(rn_recwalk_result_t *res)
{
    res->bad_index = -1;
    res->reason = NULL;
    res->max_timestamp = -1;
    res->has_null_key = false;
    res->first_null_key = -1;
}

int rn_recwalk_check(const uint8_t *batch, size_t len, rn_recwalk_result_t *res)
{
    return rn_recwalk_each(batch, len, NULL, NULL, res);
}

int rn_recwalk_each(const uint8_t *batch, size_t len, rn_recwalk_fn fn, void *arg,
                    rn_recwalk_result_t *res)
{
    result_init(res);
    if (len < RN_BATCH_HEADER_SIZE)
        return fail(res, 0, "batch shorter than its header");
    int64_t base_ts = (int64_t)rn_load_be64(batch + RN_BATCH_OFF_BASE_TIMESTAMP);
    int32_t count = (int32_t)rn_load_be32(batch + RN_BATCH_OFF_RECORD_COUNT);
    rn_reader_t r = rn_reader_make(batch + RN_BATCH_HEADER_SIZE, len - RN_BATCH_HEADER_SIZE);
    int64_t max_delta = INT64_MIN;
    int32_t i = 0;
    for (; rn_reader_left(&r) > 0; i++) {
        if (i >= count)
            return fail(res, i, "more records than the batch's record count");
        rn_record_t rec;
        const char *problem = record_problem(rn_records_parse(&r, &rec), &rec, i);
        if (problem != NULL)
            return fail(res, i, problem);
        if (rec.key.len < 0 && !res->has_null_key) {
            res->has_null_key = true;
            res->first_null_key = i;
        }
        if (fn != NULL) {
            rec.timestamp = (int64_t)((uint64_t)base_ts + (uint64_t)rec.timestamp_delta);
            rec.offset = (int64_t)rn_load_be64(batch + RN_BATCH_OFF_BASE_OFFSET) + rec.offset_delta;
            fn(arg, i, &rec);
        }
        if (rec.timestamp_delta > max_delta)
            max_delta = rec.timestamp_delta;
    }
    if (i != count)
        return fail(res, i, "fewer records than the batch's record count");
    if (count > 0)
        res->max_timestamp = (int64_t)((uint64_t)base_ts + (uint64_t)max_delta); /* no UB */
    return 0;
}
