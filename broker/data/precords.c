/* Produce's record-level rules and recompression (see rn_precords.h). */
#include "data/rn_precords.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_endian.h"
#include "rn_kerr.h"
#include "rn_recwalk.h"
#include "rn_records.h"
#include "rn_err.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One pass over the records: counts the failing ones, and fills errs when it is set. */
typedef struct rules {
    rn_req_t *req; /* NULL off the loop, where only the counting pass runs */
    const rn_precords_rules_t *rules;
    const char *topic;
    int32_t partition;
    int64_t now_ms;
    int32_t n_errors;
    bool bad_timestamp;
    rn_batch_index_and_error_message_t *errs; /* NULL on the counting pass */
} rules_t;

static void add_error(rules_t *ru, int32_t index, rn_str_t text)
{
    if (ru->errs) {
        ru->errs[ru->n_errors].batch_index = index;
        ru->errs[ru->n_errors].batch_index_error_message = text;
    }
    ru->n_errors++;
}

/* Kafka's validateKey then validateTimestamp: one error per record, the key's first. */
static void check_record(void *arg, int32_t index, const rn_record_t *rec)
{
    rules_t *ru = arg;
    const rn_precords_rules_t *dpart = ru->rules;
    rn_str_t none = {0};
    if (dpart->compacted && rec->key.len < 0) {
        add_error(ru, index,
                  ru->errs ? rn_req_strf(ru->req,
                                         "Compacted topic cannot accept message without key in "
                                         "topic partition %s-%d",
                                         ru->topic, ru->partition)
                           : none);
        return;
    }
    if (!dpart->create_time || rec->timestamp == -1)
        return;
    /* Kafka's arithmetic on longs wraps: now + Long.MAX prints negative, as here. */
    int64_t diff = (int64_t)((uint64_t)ru->now_ms - (uint64_t)rec->timestamp);
    if (diff > dpart->ts_before_max_ms || -diff > dpart->ts_after_max_ms) {
        ru->bad_timestamp = true;
        int64_t lo = (int64_t)((uint64_t)ru->now_ms - (uint64_t)dpart->ts_before_max_ms);
        int64_t hi = (int64_t)((uint64_t)ru->now_ms + (uint64_t)dpart->ts_after_max_ms);
        add_error(ru, index,
                  ru->errs ? rn_req_strf(ru->req,
                                         "Timestamp %" PRId64 " of message with offset %" PRId64
                                         " is out of range. The timestamp should be within "
                                         "[%" PRId64 ", %" PRId64 "]",
                                         rec->timestamp, rec->offset, lo, hi)
                           : none);
    }
}

static void fail(rn_partition_produce_response_t *out, int16_t code)
{
    out->error_code = code;
    out->base_offset = -1;
    out->log_append_time_ms = -1;
    out->log_start_offset = -1;
}

/* Kafka's processRecordErrors: the list as Java prints it, at most three entries. */
static void record_errors_message(rules_t *ru, rn_partition_produce_response_t *out)
{
    if (ru->bad_timestamp) {
        out->error_message =
            rn_req_strf(ru->req, "One or more records have been rejected due to invalid timestamp");
        return;
    }
    char list[1536];
    size_t n = 0;
    for (int32_t i = 0; i < ru->n_errors && i < 3 && n < sizeof(list); i++)
        n += (size_t)snprintf(
            list + n, sizeof(list) - n, "%sRecordError(batchIndex=%d, message='%.*s')",
            i ? ", " : "", ru->errs[i].batch_index, (int)ru->errs[i].batch_index_error_message.len,
            ru->errs[i].batch_index_error_message.ptr);
    out->error_message = rn_req_strf(ru->req,
                                     "One or more records have been rejected due to %d record "
                                     "errors in total, and only showing the first three errors at "
                                     "most: [%s]",
                                     ru->n_errors, list);
}

/* A malformed record: the walk stopped there (runnel names it as a record error). */
static int16_t malformed(rules_t *ru, const rn_recwalk_result_t *walk,
                         rn_partition_produce_response_t *out)
{
    fail(out, RN_KERR_INVALID_RECORD);
    if (ru->req->api_version < 8)
        return RN_KERR_INVALID_RECORD;
    rn_batch_index_and_error_message_t *e =
        rn_batch_index_and_error_message_array_alloc(&ru->req->arena, &out->record_errors, 1);
    if (e) {
        e->batch_index = walk->bad_index;
        e->batch_index_error_message = rn_req_strf(ru->req, "%s", walk->reason);
    }
    out->error_message = rn_req_strf(ru->req,
                                     "One or more records have been rejected: record %d of the "
                                     "batch for %s-%d: %s",
                                     walk->bad_index, ru->topic, ru->partition, walk->reason);
    return RN_KERR_INVALID_RECORD;
}

/* Walk plain (an uncompressed batch) with the rules; on failures, a second pass lists them. */
static int16_t walk_records(rules_t *ru, const uint8_t *plain, size_t plain_len,
                            rn_recwalk_result_t *walk, rn_partition_produce_response_t *out)
{
    if (rn_recwalk_each(plain, plain_len, check_record, ru, walk) != 0)
        return malformed(ru, walk, out);
    if (ru->n_errors == 0)
        return 0;
    int16_t code = ru->bad_timestamp ? RN_KERR_INVALID_TIMESTAMP : RN_KERR_INVALID_RECORD;
    fail(out, code);
    if (ru->req->api_version < 8)
        return code;
    ru->errs = rn_batch_index_and_error_message_array_alloc(&ru->req->arena, &out->record_errors,
                                                            ru->n_errors);
    if (!ru->errs)
        return code;
    ru->n_errors = 0;
    rn_recwalk_each(plain, plain_len, check_record, ru, walk);
    record_errors_message(ru, out);
    return code;
}

/* An uncompressed copy of a compressed batch, in req's arena: its header with the codec
 * bits cleared, then the records. NULL (with out filled) when it cannot be made. */
static uint8_t *inflate_batch(rules_t *ru, const uint8_t *buf, size_t len, size_t *plain_len,
                              rn_partition_produce_response_t *out)
{
    size_t cap = (size_t)ru->rules->max_message_bytes * RN_PRECORDS_INFLATE_FACTOR;
    uint8_t *recs = NULL;
    size_t rlen = 0;
    int rc = rn_codec_decompress(buf[RN_BATCH_OFF_ATTRIBUTES + 1] & RN_BATCH_ATTR_CODEC_MASK,
                                 buf + RN_BATCH_HEADER_SIZE, len - RN_BATCH_HEADER_SIZE, cap, &recs,
                                 &rlen);
    uint8_t *plain = NULL;
    if (rc == 0)
        plain = rn_arena_alloc(&ru->req->arena, RN_BATCH_HEADER_SIZE + rlen);
    if (plain) {
        memcpy(plain, buf, RN_BATCH_HEADER_SIZE);
        memcpy(plain + RN_BATCH_HEADER_SIZE, recs, rlen);
        plain[RN_BATCH_OFF_ATTRIBUTES + 1] &= (uint8_t)~RN_BATCH_ATTR_CODEC_MASK;
        *plain_len = RN_BATCH_HEADER_SIZE + rlen;
        rn_store_be32(plain + RN_BATCH_OFF_BATCH_LENGTH,
                      (uint32_t)(*plain_len - RN_BATCH_OFF_LEADER_EPOCH));
    }
    rn_free(recs);
    if (plain)
        return plain;
    fail(out, rc == RN_ETOOBIG ? RN_KERR_RECORD_LIST_TOO_LARGE : RN_KERR_CORRUPT_MESSAGE);
    if (ru->req->api_version >= 8)
        out->error_message =
            rn_req_strf(ru->req, "%s",
                        rc == RN_ETOOBIG ? "the batch decompresses to more than 16 x "
                                           "max.message.bytes"
                                         : "the batch's compressed records cannot be read");
    return NULL;
}

/* batch = header (codec bits set to codec, length for zlen bytes of records) then z; its
 * length. The CRC and max timestamp are the caller's. */
static size_t fill_batch(uint8_t *batch, const uint8_t *header, int codec, const uint8_t *z,
                         size_t zlen)
{
    memcpy(batch, header, RN_BATCH_HEADER_SIZE);
    memcpy(batch + RN_BATCH_HEADER_SIZE, z, zlen);
    batch[RN_BATCH_OFF_ATTRIBUTES + 1] =
        (uint8_t)((batch[RN_BATCH_OFF_ATTRIBUTES + 1] & ~RN_BATCH_ATTR_CODEC_MASK) | codec);
    rn_store_be32(batch + RN_BATCH_OFF_BATCH_LENGTH,
                  (uint32_t)(RN_BATCH_HEADER_SIZE + zlen - RN_BATCH_OFF_LEADER_EPOCH));
    return RN_BATCH_HEADER_SIZE + zlen;
}

/* A batch of header (plain's, codec bits set to codec) and the compressed records z, in
 * req's arena; NULL when out of memory. */
static uint8_t *build_batch(rn_req_t *req, const uint8_t *header, int codec, const uint8_t *z,
                            size_t zlen, size_t *len)
{
    uint8_t *batch = rn_arena_alloc(&req->arena, RN_BATCH_HEADER_SIZE + zlen);
    if (batch == NULL)
        return NULL;
    *len = fill_batch(batch, header, codec, z, zlen);
    return batch;
}

/* plain's records compressed with codec into a new batch in req's arena; NULL on failure. */
static uint8_t *compress_batch(rn_req_t *req, const uint8_t *plain, size_t plain_len, int codec,
                               size_t *len)
{
    uint8_t *z = NULL;
    size_t zlen = 0;
    if (rn_codec_compress(codec, NULL, plain + RN_BATCH_HEADER_SIZE,
                          plain_len - RN_BATCH_HEADER_SIZE, &z, &zlen) != 0)
        return NULL;
    uint8_t *batch = build_batch(req, plain, codec, z, zlen, len);
    rn_free(z);
    return batch;
}

/* The last steps once the batch to store is known (batch NULL: it could not be made):
 * Kafka's size check of a recompressed batch, the CRC of a changed one. */
static int16_t seal_batch(rn_req_t *req, int64_t max_message_bytes, const char *topic,
                          int32_t partition, bool recompressed, bool changed, uint8_t *batch,
                          size_t batch_len, uint8_t **buf, size_t *len, rn_batch_header_t *hdr,
                          rn_partition_produce_response_t *out)
{
    if (batch == NULL) {
        fail(out, RN_KERR_UNKNOWN_SERVER_ERROR);
        return RN_KERR_UNKNOWN_SERVER_ERROR;
    }
    /* Kafka checks the size again when the batch changed size (UnifiedLog.append; its text,
     * "topartition" included). */
    if (recompressed && (int64_t)batch_len > max_message_bytes) {
        fail(out, RN_KERR_MESSAGE_TOO_LARGE);
        if (req->api_version >= 8)
            out->error_message =
                rn_req_strf(req,
                            "Message batch size is %zu bytes in append topartition %s-%d which "
                            "exceeds the maximum configured size of %" PRId64 ".",
                            batch_len, topic, partition, max_message_bytes);
        return RN_KERR_MESSAGE_TOO_LARGE;
    }
    if (changed) {
        rn_store_be32(batch + RN_BATCH_OFF_CRC, rn_batch_compute_crc(batch, batch_len));
        *buf = batch;
        *len = batch_len;
        rn_batch_header_parse(batch, batch_len, hdr);
    }
    return 0;
}

void rn_precords_rules_of(const rn_dpart_t *dpart, rn_precords_rules_t *rules)
{
    *rules = (rn_precords_rules_t){
        .compression = dpart->compression,
        .compacted = dpart->compacted,
        .create_time = dpart->create_time,
        .ts_before_max_ms = dpart->ts_before_max_ms,
        .ts_after_max_ms = dpart->ts_after_max_ms,
        .max_message_bytes = dpart->max_message_bytes,
    };
}

/* Whether the records must be read: recompression, a finite timestamp window, compaction. */
static bool needs_records(const rn_precords_rules_t *rules, int codec, bool *recompress)
{
    *recompress = rules->compression >= 0 && rules->compression != codec;
    bool window = rules->create_time &&
                  (rules->ts_before_max_ms != INT64_MAX || rules->ts_after_max_ms != INT64_MAX);
    return codec == RN_CODEC_NONE || *recompress || window || rules->compacted;
}

bool rn_precords_worker_wanted(const rn_precords_rules_t *rules, const rn_batch_header_t *hdr,
                               size_t len)
{
    if (len >= RN_PRECORDS_WORKER_MIN_BYTES)
        return true;
    int codec = rn_batch_codec(hdr);
    bool recompress;
    return codec != RN_CODEC_NONE && len >= RN_PRECORDS_WORKER_MIN_ZBYTES &&
           needs_records(rules, codec, &recompress);
}

bool rn_precords_offload_wanted(int codec, size_t records_len)
{
    return codec == RN_CODEC_GZIP ||
           (codec != RN_CODEC_NONE && records_len >= RN_PRECORDS_OFFLOAD_MIN_BYTES);
}

int16_t rn_precords_apply(rn_req_t *req, const rn_dpart_t *dpart, const char *topic,
                          int32_t partition, int64_t now_ms, uint8_t **buf, size_t *len,
                          rn_batch_header_t *hdr, rn_partition_produce_response_t *out,
                          rn_precords_zjob_t *zjob)
{
    if (zjob != NULL)
        *zjob = (rn_precords_zjob_t){0};
    int codec = rn_batch_codec(hdr);
    rn_precords_rules_t rules;
    rn_precords_rules_of(dpart, &rules);
    bool recompress;
    if (!needs_records(&rules, codec, &recompress))
        return 0; /* stored as sent, without decompressing (design decision 2) */
    rules_t ru = {
        .req = req, .rules = &rules, .topic = topic, .partition = partition, .now_ms = now_ms};
    uint8_t *plain = *buf;
    size_t plain_len = *len;
    if (codec != RN_CODEC_NONE && !(plain = inflate_batch(&ru, *buf, *len, &plain_len, out)))
        return out->error_code;
    rn_recwalk_result_t walk;
    int16_t code = walk_records(&ru, plain, plain_len, &walk, out);
    if (code != 0)
        return code;
    /* Kafka recomputes maxTimestamp from the records (LogValidator); the time index and
     * ListOffsets depend on it, so a client's wrong value is corrected here. */
    bool changed = walk.max_timestamp != hdr->max_timestamp;
    rn_store_be64(plain + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)walk.max_timestamp);
    uint8_t *batch = plain == *buf && !recompress ? *buf : NULL;
    size_t batch_len = plain_len;
    if (recompress && zjob != NULL &&
        rn_precords_offload_wanted(dpart->compression, plain_len - RN_BATCH_HEADER_SIZE) &&
        (zjob->plain = rn_malloc(plain_len)) != NULL) {
        /* The caller has it compressed elsewhere and finishes with rn_precords_zjob_finish
         * (when the copy cannot be made, it is compressed here instead). */
        memcpy(zjob->plain, plain, plain_len);
        zjob->plain_len = plain_len;
        zjob->codec = dpart->compression;
        return 0;
    }
    if (recompress) {
        batch = dpart->compression == RN_CODEC_NONE
                    ? plain
                    : compress_batch(req, plain, plain_len, dpart->compression, &batch_len);
        changed = true;
    } else if (batch == NULL) {
        /* Walked for its rules only: the compressed original is kept, its maximum fixed. */
        batch = *buf;
        batch_len = *len;
        rn_store_be64(batch + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)walk.max_timestamp);
    }
    return seal_batch(req, dpart->max_message_bytes, topic, partition, recompress, changed, batch,
                      batch_len, buf, len, hdr, out);
}

int16_t rn_precords_zjob_finish(rn_req_t *req, int64_t max_message_bytes, const char *topic,
                                int32_t partition, const rn_precords_zjob_t *zjob, int rc,
                                const uint8_t *z, size_t zlen, uint8_t **buf, size_t *len,
                                rn_batch_header_t *hdr, rn_partition_produce_response_t *out)
{
    size_t batch_len = 0;
    uint8_t *batch =
        rc == 0 ? build_batch(req, zjob->plain, zjob->codec, z, zlen, &batch_len) : NULL;
    return seal_batch(req, max_message_bytes, topic, partition, true, true, batch, batch_len, buf,
                      len, hdr, out);
}

int16_t rn_precords_zjob_run(rn_req_t *req, int64_t max_message_bytes, const char *topic,
                             int32_t partition, const rn_precords_zjob_t *zjob, uint8_t **buf,
                             size_t *len, rn_batch_header_t *hdr,
                             rn_partition_produce_response_t *out)
{
    uint8_t *z = NULL;
    size_t zlen = 0;
    int rc = rn_codec_compress(zjob->codec, NULL, zjob->plain + RN_BATCH_HEADER_SIZE,
                               zjob->plain_len - RN_BATCH_HEADER_SIZE, &z, &zlen);
    int16_t code = rn_precords_zjob_finish(req, max_message_bytes, topic, partition, zjob, rc, z,
                                           zlen, buf, len, hdr, out);
    rn_free(z);
    return code;
}

/* The worker's batch: header (max timestamp set, codec bits and length for zlen bytes of
 * records z) then z, with its CRC; NULL past max_message_bytes. */
static uint8_t *seal_copy(const uint8_t *header, int codec, int64_t max_timestamp, const uint8_t *z,
                          size_t zlen, int64_t max_message_bytes, size_t *len)
{
    size_t batch_len = RN_BATCH_HEADER_SIZE + zlen;
    if ((int64_t)batch_len > max_message_bytes)
        return NULL;
    uint8_t *batch = rn_malloc(batch_len);
    if (batch == NULL)
        return NULL;
    fill_batch(batch, header, codec, z, zlen);
    rn_store_be64(batch + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_timestamp);
    rn_store_be32(batch + RN_BATCH_OFF_CRC, rn_batch_compute_crc(batch, batch_len));
    *len = batch_len;
    return batch;
}

/* A worker's buffer for decompressed batches, kept between batches (freed when the thread
 * ends): a fresh one of a megabyte or more per batch cost more in page faults than the
 * decompression itself. It holds the largest batch seen, at most 16 x max.message.bytes. */
typedef struct scratch {
    uint8_t *p;
    size_t cap;
} scratch_t;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    scratch_t *sc = arg;
    rn_free(sc->p);
    rn_free(sc);
}

static void scratch_key_init(void)
{
    if (pthread_key_create(&scratch_key, scratch_free) != 0)
        abort();
}

static scratch_t *scratch_get(void)
{
    pthread_once(&scratch_once, scratch_key_init);
    scratch_t *sc = pthread_getspecific(scratch_key);
    if (sc == NULL) {
        sc = rn_xcalloc(1, sizeof(*sc));
        if (pthread_setspecific(scratch_key, sc) != 0)
            abort();
    }
    return sc;
}

/* The compressed batch buf[0..len) as a whole uncompressed batch in this thread's scratch
 * buffer (*plain, valid until the thread's next call): its header, codec bits cleared and
 * length set, then the records, at most max_message_bytes x the inflate factor. */
static int inflate_scratch(int codec, const uint8_t *buf, size_t len, int64_t max_message_bytes,
                           uint8_t **plain, size_t *plain_len)
{
    scratch_t *sc = scratch_get();
    size_t max_out = (size_t)max_message_bytes * RN_PRECORDS_INFLATE_FACTOR;
    const uint8_t *in = buf + RN_BATCH_HEADER_SIZE;
    size_t in_len = len - RN_BATCH_HEADER_SIZE, rlen = 0;
    size_t room = sc->cap > RN_BATCH_HEADER_SIZE ? sc->cap - RN_BATCH_HEADER_SIZE : 0;
    int rc = RN_ETOOBIG;
    if (room > 0)
        rc = rn_codec_decompress_into(codec, in, in_len, sc->p + RN_BATCH_HEADER_SIZE,
                                      room < max_out ? room : max_out, &rlen);
    if (rc == RN_ETOOBIG && room < max_out) {
        /* Larger than any batch before: decompressed once more, into a buffer that fits. */
        uint8_t *recs = NULL;
        rc = rn_codec_decompress(codec, in, in_len, max_out, &recs, &rlen);
        if (rc == 0) {
            uint8_t *grown = rn_malloc(RN_BATCH_HEADER_SIZE + rlen);
            if (grown == NULL) {
                rn_free(recs);
                return RN_ENOMEM;
            }
            rn_free(sc->p);
            sc->p = grown;
            sc->cap = RN_BATCH_HEADER_SIZE + rlen;
            memcpy(sc->p + RN_BATCH_HEADER_SIZE, recs, rlen);
            rn_free(recs);
        }
    }
    if (rc != 0)
        return rc;
    memcpy(sc->p, buf, RN_BATCH_HEADER_SIZE);
    sc->p[RN_BATCH_OFF_ATTRIBUTES + 1] &= (uint8_t)~RN_BATCH_ATTR_CODEC_MASK;
    *plain_len = RN_BATCH_HEADER_SIZE + rlen;
    rn_store_be32(sc->p + RN_BATCH_OFF_BATCH_LENGTH,
                  (uint32_t)(*plain_len - RN_BATCH_OFF_LEADER_EPOCH));
    *plain = sc->p;
    return 0;
}

int rn_precords_check(const rn_precords_rules_t *rules, int64_t now_ms, uint8_t *buf, size_t len,
                      const rn_batch_header_t *hdr, uint8_t **batch, size_t *batch_len)
{
    *batch = NULL;
    *batch_len = 0;
    int codec = rn_batch_codec(hdr);
    bool recompress;
    if (!needs_records(rules, codec, &recompress))
        return 0;
    rules_t ru = {.rules = rules, .now_ms = now_ms};
    /* The walk reads a whole batch: an uncompressed one is buf; a decompressed one is its
     * header then its records, in this thread's scratch buffer. */
    uint8_t *plain = buf;
    size_t plain_len = len;
    if (codec != RN_CODEC_NONE) {
        int rc = inflate_scratch(codec, buf, len, rules->max_message_bytes, &plain, &plain_len);
        if (rc != 0)
            return rc;
    }
    rn_recwalk_result_t walk;
    int rc = rn_recwalk_each(plain, plain_len, check_record, &ru, &walk) != 0 || ru.n_errors != 0
                 ? RN_EINVAL
                 : 0;
    if (rc == 0 && recompress) {
        uint8_t *z = NULL;
        size_t zlen = 0;
        const uint8_t *out = plain + RN_BATCH_HEADER_SIZE;
        size_t out_len = plain_len - RN_BATCH_HEADER_SIZE;
        if (rules->compression != RN_CODEC_NONE) {
            rc = rn_codec_compress(rules->compression, NULL, out, out_len, &z, &zlen);
            out = z;
            out_len = zlen;
        }
        if (rc == 0)
            *batch = seal_copy(plain, rules->compression, walk.max_timestamp, out, out_len,
                               rules->max_message_bytes, batch_len);
        if (rc == 0 && *batch == NULL)
            rc = RN_ETOOBIG;
        rn_free(z);
    } else if (rc == 0 && walk.max_timestamp != hdr->max_timestamp) {
        /* Walked for its rules only: kept as sent, its maximum fixed (the last step, so a
         * failure above leaves buf as the loop must see it again). */
        rn_store_be64(buf + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)walk.max_timestamp);
        rn_store_be32(buf + RN_BATCH_OFF_CRC, rn_batch_compute_crc(buf, len));
    }
    return rc;
}
