/* Fuzz target: record-level validation of uncompressed batches (rn_recwalk), the part of
 * Produce that parses client-controlled record bytes. The input's first 4 bytes are the
 * header's recordCount, the next 8 its base timestamp, the rest the records; the header is
 * built here so the fuzzer spends its time in the record parser, not on CRCs. */
#include "rn_batch.h"
#include "rn_endian.h"
#include "rn_records.h"
#include "rn_recwalk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12)
        return 0;
    size_t len = RN_BATCH_HEADER_SIZE + size - 12;
    uint8_t *buf = malloc(len);
    if (!buf)
        return 0;
    memset(buf, 0, RN_BATCH_HEADER_SIZE);
    buf[RN_BATCH_OFF_MAGIC] = 2;
    memcpy(buf + RN_BATCH_OFF_RECORD_COUNT, data, 4);       /* recordCount */
    memcpy(buf + RN_BATCH_OFF_BASE_TIMESTAMP, data + 4, 8); /* baseTimestamp */
    memcpy(buf + RN_BATCH_HEADER_SIZE, data + 12, size - 12);
    rn_recwalk_result_t res;
    int rc = rn_recwalk_check(buf, len, &res);
    /* Invariants: a failure names a record and a reason; success names none. */
    if (rc != 0 && (res.bad_index < 0 || res.reason == NULL))
        abort();
    if (rc == 0 && (res.bad_index != -1 || res.reason != NULL))
        abort();
    if (rc == 0 && res.has_null_key != (res.first_null_key >= 0))
        abort();
    /* One parser: a batch the walk accepts, the record iterator reads to the end. */
    if (rc == 0) {
        rn_batch_header_t hdr = {.record_count = (int32_t)rn_load_be32(data)};
        rn_records_iter_t it;
        rn_record_t rec;
        int more;
        rn_records_iter_init(&it, &hdr, buf + RN_BATCH_HEADER_SIZE, len - RN_BATCH_HEADER_SIZE);
        while ((more = rn_records_iter_next(&it, &rec)) == 1)
            ;
        if (more != 0)
            abort();
    }
    free(buf);
    return 0;
}
