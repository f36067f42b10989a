/* runnel-dump for segment files (.log): one line per batch in kafka-dump-log's format,
 * optionally every record and an annotated hex dump, with every inconsistency reported at
 * its byte position. Input arrives in chunks (rn_dump_log_feed) so a 1 GiB segment never
 * has to be in memory at once. */
#include "dump_internal.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_err.h"
#include "rn_endian.h"
#include "rn_records.h"
#include "rn_vec.h"

#include <inttypes.h>
#include <string.h>

/* Smallest legacy (magic 0/1) message: crc, magic, attributes, key and value lengths. */
#define LEGACY_MIN_SIZE 14
/* Bytes of a header that must be present to read batchLength and magic. */
#define HEADER_PREFIX (RN_BATCH_OFF_MAGIC + 1)
/* Bytes shown in the hex dump of a region whose structure is lost. */
#define HEX_TAIL 256

void rn_dump_log_init(rn_dump_log_t *lg, FILE *out, const rn_dump_opts_t *opts)
{
    memset(lg, 0, sizeof(*lg));
    lg->out = out;
    lg->opts = opts;
    lg->zero_start = -1;
}

void rn_dump_log_free(rn_dump_log_t *lg)
{
    rn_free(lg->table);
    lg->table = NULL;
    lg->ntable = lg->table_cap = 0;
}

/* Kafka's sequence arithmetic: sequences wrap from INT32_MAX to 0; -1 means none. */
static int32_t sequence_at(int32_t base, int32_t delta)
{
    if (base < 0)
        return -1;
    if (delta < 0)
        return base;
    if (base > INT32_MAX - delta)
        return (int32_t)(delta - (INT32_MAX - base) - 1);
    return base + delta;
}

static void print_batch_line(rn_dump_log_t *lg, const rn_batch_header_t *hdr, uint64_t pos,
                             size_t total, int crc_ok)
{
    int lat = (hdr->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    char horizon[32] = "none";
    if (hdr->attributes & RN_BATCH_ATTR_DELETE_HORIZON)
        snprintf(horizon, sizeof(horizon), "%lld", (long long)hdr->base_timestamp);
    fprintf(lg->out,
            "baseOffset: %lld lastOffset: %lld count: %d baseSequence: %d lastSequence: %d "
            "producerId: %lld producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %s "
            "isControl: %s deleteHorizonMs: %s position: %" PRIu64 " %s: %lld size: %zu "
            "magic: %d compresscodec: %s crc: %u isvalid: %s\n",
            (long long)hdr->base_offset, (long long)rn_batch_last_offset(hdr), hdr->record_count,
            hdr->base_sequence, sequence_at(hdr->base_sequence, hdr->last_offset_delta),
            (long long)hdr->producer_id, hdr->producer_epoch, hdr->partition_leader_epoch,
            rn_batch_is_transactional(hdr) ? "true" : "false",
            rn_batch_is_control(hdr) ? "true" : "false", horizon, pos,
            lat ? "LogAppendTime" : "CreateTime", (long long)hdr->max_timestamp, total, hdr->magic,
            rn_codec_name(rn_batch_codec(hdr)), hdr->crc, crc_ok ? "true" : "false");
}

static void print_record(rn_dump_log_t *lg, const rn_batch_header_t *hdr, const rn_record_t *rec)
{
    FILE *out = lg->out;
    int hex = lg->opts->values_hex;
    fprintf(out, "| offset: %lld %s: %lld keySize: %d valueSize: %d sequence: %d headers: [",
            (long long)rec->offset,
            hdr->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime",
            (long long)rec->timestamp, rec->key.len, rec->value.len,
            sequence_at(hdr->base_sequence, rec->offset_delta));
    size_t cur = 0;
    rn_record_bytes_t hk, hv;
    for (int first = 1; rn_records_header_next(rec, &cur, &hk, &hv) == 1; first = 0) {
        if (!first)
            fputs(", ", out);
        rn__dump_put_bytes(out, hk.data, hk.len, 0);
        fputc('=', out);
        rn__dump_put_bytes(out, hv.data, hv.len, hex);
    }
    fputc(']', out);
    rn_control_record_t ctl;
    if (rn_batch_is_control(hdr)) {
        if (rn_records_control_parse(rec, &ctl) != 0)
            fputs(" control: malformed", out);
        else if (ctl.type == RN_CONTROL_ABORT || ctl.type == RN_CONTROL_COMMIT)
            fprintf(out, " endTxnMarker: %s coordinatorEpoch: %d",
                    rn_records_control_name(ctl.type), ctl.coordinator_epoch);
        else
            fprintf(out, " controlType: %s (%d)", rn_records_control_name(ctl.type), ctl.type);
    } else {
        fputs(" key: ", out);
        rn__dump_put_bytes(out, rec->key.data, rec->key.len, hex);
        fputs(" payload: ", out);
        rn__dump_put_bytes(out, rec->value.data, rec->value.len, hex);
    }
    fputc('\n', out);
}

/* Walk the records: print them (--records), check them against the header, and add hex
 * notes (--hex). */
static void dump_records(rn_dump_log_t *lg, const uint8_t *b, size_t total,
                         const rn_batch_header_t *hdr, rn__dump_notes_t *ns,
                         const uint8_t **section, size_t *section_len, uint8_t **owned)
{
    size_t max =
        lg->opts->max_decompressed ? lg->opts->max_decompressed : RN__DUMP_DEFAULT_MAX_DECOMPRESSED;
    rn_records_iter_t it;
    int err = rn_records_open(&it, b, total, NULL, max);
    if (err) {
        rn__dump_error(lg->out, &lg->problems,
                       "batch at position %" PRIu64 ": cannot read its %s records: %s%s", lg->pos,
                       rn_codec_name(rn_batch_codec(hdr)), rn_strerror(err),
                       err == RN_ETOOBIG ? " (raise --max-decompressed)" : "");
        rn_records_close(&it);
        return;
    }
    rn_record_t rec;
    int32_t prev_delta = -1, n = 0;
    int lat = (hdr->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    while ((err = rn_records_iter_next(&it, &rec)) == 1) {
        if (lg->opts->records)
            print_record(lg, hdr, &rec);
        if (rec.offset_delta <= prev_delta || rec.offset_delta > hdr->last_offset_delta)
            rn__dump_error(lg->out, &lg->problems,
                           "batch at position %" PRIu64 ": record %d has offsetDelta %d "
                           "(previous %d, lastOffsetDelta %d)",
                           lg->pos, n, rec.offset_delta, prev_delta, hdr->last_offset_delta);
        if (!lat && rec.timestamp > hdr->max_timestamp)
            rn__dump_error(lg->out, &lg->problems,
                           "batch at position %" PRIu64 ": record at offset %lld has timestamp "
                           "%lld above the batch's maxTimestamp %lld",
                           lg->pos, (long long)rec.offset, (long long)rec.timestamp,
                           (long long)hdr->max_timestamp);
        prev_delta = rec.offset_delta;
        n++;
    }
    if (err < 0)
        rn__dump_error(lg->out, &lg->problems,
                       "batch at position %" PRIu64 ": record %d (byte %zu of the %srecords "
                       "section) is malformed or the record count %d is wrong",
                       lg->pos, n, it.pos, rn_batch_codec(hdr) ? "decompressed " : "",
                       hdr->record_count);
    if (ns != NULL) {
        *section = it.records;
        *section_len = it.records_len;
        *owned = it.owned; /* the caller annotates the decompressed section, then frees it */
        it.owned = NULL;
    }
    rn_records_close(&it);
}

static void dump_hex(rn_dump_log_t *lg, const uint8_t *b, size_t total,
                     const rn_batch_header_t *hdr, rn__dump_notes_t *ns, const uint8_t *section,
                     size_t section_len)
{
    int codec = rn_batch_codec(hdr);
    size_t raw_len = total - RN_BATCH_HEADER_SIZE;
    if (codec == RN_CODEC_NONE) {
        rn__dump_note_records(ns, hdr, b + RN_BATCH_HEADER_SIZE, raw_len, RN_BATCH_HEADER_SIZE,
                              lg->opts->values_hex);
    } else if (raw_len > 0 && section == NULL) {
        rn__dump_note(ns, RN_BATCH_HEADER_SIZE,
                      "records: %d records, %s-compressed (%zu bytes; not decompressed)",
                      hdr->record_count, rn_codec_name(codec), raw_len);
    } else if (raw_len > 0) {
        rn__dump_note(ns, RN_BATCH_HEADER_SIZE,
                      "records: %d records, %s-compressed (%zu bytes; %zu decompressed, "
                      "annotated below)",
                      hdr->record_count, rn_codec_name(codec), raw_len, section_len);
    }
    rn__dump_hexdump(lg->out, b, total, lg->pos, ns);
    if (codec != RN_CODEC_NONE && section != NULL && section_len > 0) {
        rn__dump_notes_t dn = {0};
        fprintf(lg->out,
                "  decompressed records of the batch at position %" PRIu64
                " (offsets count from the start of the section):\n",
                lg->pos);
        rn__dump_note_records(&dn, hdr, section, section_len, 0, lg->opts->values_hex);
        rn__dump_hexdump(lg->out, section, section_len, 0, &dn);
        rn__dump_notes_free(&dn);
    }
}

static void dump_batch(rn_dump_log_t *lg, const uint8_t *b, size_t total)
{
    rn_batch_header_t hdr;
    rn_batch_header_parse(b, total, &hdr); /* total >= 61 and magic 2: cannot fail */
    uint32_t computed = rn_batch_compute_crc(b, total);
    int crc_ok = computed == hdr.crc;
    print_batch_line(lg, &hdr, lg->pos, total, crc_ok);
    if (!crc_ok)
        rn__dump_error(lg->out, &lg->problems,
                       "batch at position %" PRIu64 ": CRC mismatch (stored 0x%08x, computed "
                       "0x%08x)",
                       lg->pos, hdr.crc, computed);
    if (hdr.last_offset_delta < 0 || hdr.record_count < 0 ||
        hdr.record_count > (int64_t)hdr.last_offset_delta + 1)
        rn__dump_error(lg->out, &lg->problems,
                       "batch at position %" PRIu64 ": recordCount %d does not fit "
                       "lastOffsetDelta %d",
                       lg->pos, hdr.record_count, hdr.last_offset_delta);
    if (lg->have_prev && hdr.base_offset <= lg->prev_last_offset)
        rn__dump_error(lg->out, &lg->problems,
                       "batch at position %" PRIu64 ": baseOffset %lld is not above the "
                       "previous batch's last offset %lld",
                       lg->pos, (long long)hdr.base_offset, (long long)lg->prev_last_offset);
    if (rn_batch_codec(&hdr) > RN_CODEC_ZSTD)
        rn__dump_error(lg->out, &lg->problems,
                       "batch at position %" PRIu64 ": unknown compression codec %d", lg->pos,
                       rn_batch_codec(&hdr));
    lg->have_prev = 1;
    lg->prev_last_offset = rn_batch_last_offset(&hdr);
    lg->batches++;
    if (hdr.record_count > 0)
        lg->records += (uint64_t)hdr.record_count;
    if (lg->collect_batches) {
        rn_vec_xreserve(lg->table, lg->table_cap, lg->ntable + 1);
        rn_dump_batch_t *e = &lg->table[lg->ntable++];
        e->pos = lg->pos;
        e->base_offset = hdr.base_offset;
        e->last_offset = rn_batch_last_offset(&hdr);
        e->max_timestamp = hdr.max_timestamp;
    }
    rn__dump_notes_t ns = {0};
    const uint8_t *section = NULL;
    size_t section_len = 0;
    uint8_t *owned = NULL;
    if (lg->opts->records || lg->opts->hex)
        dump_records(lg, b, total, &hdr, lg->opts->hex ? &ns : NULL, &section, &section_len,
                     &owned);
    if (lg->opts->hex) {
        rn__dump_note_header(&ns, b, total, crc_ok, computed);
        dump_hex(lg, b, total, &hdr, &ns, section, section_len);
        rn__dump_notes_free(&ns);
    }
    rn_free(owned);
}

/* Hex dump of at most HEX_TAIL bytes where the structure was lost, header notes included. */
static void dump_lost(rn_dump_log_t *lg, const uint8_t *p, size_t rem)
{
    if (!lg->opts->hex)
        return;
    rn__dump_notes_t ns = {0};
    size_t n = rem < HEX_TAIL ? rem : HEX_TAIL;
    rn__dump_note_header(&ns, p, n, -1, 0);
    rn__dump_hexdump(lg->out, p, n, lg->pos, &ns);
    if (n < rem)
        fprintf(lg->out, "  ... %zu more bytes not shown\n", rem - n);
    rn__dump_notes_free(&ns);
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

size_t rn_dump_log_feed(rn_dump_log_t *lg, const uint8_t *buf, size_t len, int eof)
{
    size_t off = 0;
    lg->need = 0;
    while (off < len && !lg->stopped) {
        const uint8_t *p = buf + off;
        size_t rem = len - off;
        if (lg->zero_start >= 0) {
            size_t z = 0;
            while (z < rem && p[z] == 0)
                z++;
            off += z;
            lg->pos += z;
            if (z < rem) {
                rn__dump_error(lg->out, &lg->problems,
                               "position %lld: zero bytes up to position %" PRIu64
                               ", then non-zero data: cannot find the next batch; stopping",
                               (long long)lg->zero_start, lg->pos);
                dump_lost(lg, p + z, rem - z);
                lg->stopped = 1;
            }
            continue;
        }
        if (rem < HEADER_PREFIX || all_zero(p, HEADER_PREFIX)) {
            if (rem >= HEADER_PREFIX || (eof && all_zero(p, rem))) {
                lg->zero_start = (int64_t)lg->pos; /* the rest may be preallocated space */
                continue;
            }
            if (!eof) {
                lg->need = HEADER_PREFIX;
                break;
            }
            rn__dump_error(lg->out, &lg->problems,
                           "truncated batch at position %" PRIu64 ": needs %d bytes, file has %zu",
                           lg->pos, RN_BATCH_HEADER_SIZE, rem);
            dump_lost(lg, p, rem);
            lg->pos += rem;
            off = len;
            break;
        }
        int32_t length = (int32_t)rn_load_be32(p + RN_BATCH_OFF_BATCH_LENGTH);
        int8_t magic = (int8_t)p[RN_BATCH_OFF_MAGIC];
        int legacy = magic == 0 || magic == 1;
        int32_t min_length =
            legacy ? LEGACY_MIN_SIZE : RN_BATCH_HEADER_SIZE - RN_BATCH_LOG_OVERHEAD;
        if ((magic != 2 && !legacy) || length < min_length) {
            if (magic != 2 && !legacy)
                rn__dump_error(lg->out, &lg->problems,
                               "batch at position %" PRIu64 ": magic %d is not a record batch "
                               "(2): cannot find the next batch; stopping",
                               lg->pos, magic);
            else
                rn__dump_error(lg->out, &lg->problems,
                               "batch at position %" PRIu64 ": length %d is below the %d-byte "
                               "minimum: cannot find the next batch; stopping",
                               lg->pos, length, min_length);
            dump_lost(lg, p, rem);
            lg->stopped = 1;
            break;
        }
        size_t total = (size_t)length + RN_BATCH_LOG_OVERHEAD;
        if (rem < total) {
            if (!eof) {
                lg->need = total;
                break;
            }
            rn__dump_error(lg->out, &lg->problems,
                           "truncated batch at position %" PRIu64 ": needs %zu bytes, file has "
                           "%zu",
                           lg->pos, total, rem);
            dump_lost(lg, p, rem);
            lg->pos += rem;
            off = len;
            break;
        }
        if (legacy)
            fprintf(lg->out,
                    "legacy message at position %" PRIu64 ": offset %lld, magic %d, %zu bytes "
                    "(message format v%d is not decoded; skipped)\n",
                    lg->pos, (long long)(int64_t)rn_load_be64(p), magic, total, magic);
        else
            dump_batch(lg, p, total);
        off += total;
        lg->pos += total;
    }
    return off;
}

int rn_dump_log_finish(rn_dump_log_t *lg)
{
    if (lg->zero_start >= 0 && !lg->stopped)
        fprintf(lg->out,
                "note: %" PRIu64 " zero bytes from position %lld to the end of the file "
                "(preallocated space, no batches)\n",
                lg->pos - (uint64_t)lg->zero_start, (long long)lg->zero_start);
    fprintf(lg->out, "summary: %" PRIu64 " batches, %" PRIu64 " records", lg->batches, lg->records);
    if (lg->have_prev)
        fprintf(lg->out, ", last offset %lld", (long long)lg->prev_last_offset);
    fprintf(lg->out, ", %" PRIu64 " bytes, %d problem%s\n", lg->pos, lg->problems,
            lg->problems == 1 ? "" : "s");
    return lg->problems;
}

int rn_dump_log_buffer(FILE *out, const uint8_t *buf, size_t len, const rn_dump_opts_t *opts)
{
    rn_dump_log_t lg;
    rn_dump_log_init(&lg, out, opts);
    rn_dump_log_feed(&lg, buf, len, 1);
    int problems = rn_dump_log_finish(&lg);
    rn_dump_log_free(&lg);
    return problems;
}
