/* The console's data answers: a page of records (the message browser), a partition's
 * segment files, and one batch's annotated hex view (rn_dump's, as runnel-dump --hex prints
 * it). Everything is read through the data path's partition log (rn_plog) on the loop, each
 * request within fixed bounds (rn_console.h). */
#include "console/console_int.h"

#include "rn_alloc.h"
#include "rn_batch.h"
#include "rn_broker.h"
#include "rn_codec.h"
#include "rn_dump.h"
#include "rn_err.h"
#include "rn_plog.h"
#include "rn_records.h"
#include "rn_segment.h"
#include "data/rn_datapath.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Decompressed records of one batch the browser accepts. */
#define RN_CONSOLE_MAX_DECOMPRESSED (4 << 20)
#define RN_CONSOLE_MAX_SEGMENTS     1000

/* The partition named by topic= and partition=, its log opened if needed; NULL when
 * answered with an error. */
static rn_dpart_t *find_part(const rn__console_q_t *q)
{
    rn_broker_t *b = q->con->b;
    const char *name = rn__console_param(q, "topic");
    int64_t index;
    if (!rn__console_int(q, "partition", 0, 0, INT32_MAX, &index))
        return NULL;
    rn_topic_t *topic =
        name != NULL && b->topics != NULL ? rn_topics_find(b->topics, name, strlen(name)) : NULL;
    rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, (int32_t)index) : NULL;
    if (part == NULL) {
        rn__console_error(q->req, HTTP_NOTFOUND, "no such topic or partition");
        return NULL;
    }
    rn_dpart_t *dpart = b->datapath != NULL && rn_partition_has_replica(part, b->node_id)
                            ? rn_datapath_part(rn_datapath(b), part)
                            : NULL;
    if (dpart == NULL || dpart->log == NULL) {
        rn__console_error(q->req, HTTP_NOTFOUND,
                          "the partition has no log on this node (not a replica here, or not "
                          "ready)");
        return NULL;
    }
    return dpart;
}

/* Read len bytes at pos of fd into a new buffer; NULL on a short read. */
static uint8_t *read_range(int fd, uint64_t pos, size_t len)
{
    uint8_t *buf = rn_malloc(len ? len : 1);
    if (buf == NULL)
        return NULL;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(pos + got));
        if (n <= 0) {
            rn_free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

static void write_bytes(rn_json_t *j, const char *name, const uint8_t *p, int32_t len, int64_t max)
{
    char key[32];
    if (p == NULL || len < 0) {
        rn_json_key(j, name);
        rn_json_null(j);
        return;
    }
    size_t n = (size_t)len < (uint64_t)max ? (size_t)len : (size_t)max;
    rn_json_key(j, name);
    if (rn_json_utf8_valid(p, n) || n < (size_t)len) /* a cut may split a character */
        rn_json_strn(j, (const char *)p, n);
    else
        rn_json_null(j);
    snprintf(key, sizeof(key), "%s_hex", name);
    rn_json_key(j, key);
    rn_json_hex(j, p, n);
    snprintf(key, sizeof(key), "%s_size", name);
    rn_json_ki64(j, key, len);
    if (n < (size_t)len) {
        snprintf(key, sizeof(key), "%s_truncated", name);
        rn_json_kbool(j, key, true);
    }
}

static void write_batch_info(rn_json_t *j, const rn_batch_header_t *hdr, uint64_t position)
{
    rn_json_key(j, "batch");
    rn_json_obj(j);
    rn_json_ki64(j, "base_offset", hdr->base_offset);
    rn_json_ki64(j, "last_offset", rn_batch_last_offset(hdr));
    rn_json_ki64(j, "position", (int64_t)position);
    rn_json_ki64(j, "size", (int64_t)rn_batch_total_size(hdr));
    rn_json_ki64(j, "records", hdr->record_count);
    rn_json_kstr(j, "compression", rn_codec_name(rn_batch_codec(hdr)));
    rn_json_kstr(j, "timestamp_type",
                 hdr->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime");
    rn_json_kbool(j, "transactional", rn_batch_is_transactional(hdr));
    rn_json_kbool(j, "control", rn_batch_is_control(hdr));
    rn_json_ki64(j, "producer_id", hdr->producer_id);
    rn_json_ki64(j, "producer_epoch", hdr->producer_epoch);
    rn_json_ki64(j, "base_sequence", hdr->base_sequence);
    rn_json_ki64(j, "partition_leader_epoch", hdr->partition_leader_epoch);
    rn_json_end(j);
}

/* The records of the batches in buf[0..len) (file position pos) from offset `from` below
 * `hw`, at most limit; returns the offset after the last one listed (or passed). */
static int64_t write_records(rn_json_t *j, const uint8_t *buf, size_t len, uint64_t pos,
                             int64_t from, int64_t hw, int64_t limit, int64_t value_max,
                             int64_t *count)
{
    int64_t next = from;
    size_t at = 0;
    while (at + RN_BATCH_LOG_OVERHEAD + 5 <= len && *count < limit) {
        rn_records_iter_t it;
        int rc = rn_records_open(&it, buf + at, len - at, NULL, RN_CONSOLE_MAX_DECOMPRESSED);
        if (rc != 0) {
            rn_records_close(&it);
            break; /* a partial batch at the end of the read, or one we cannot open */
        }
        size_t total = rn_batch_total_size(&it.hdr);
        rn_record_t rec;
        while (*count < limit && (rc = rn_records_iter_next(&it, &rec)) == 1) {
            if (rec.offset < from || rec.offset >= hw)
                continue;
            rn_json_obj(j);
            rn_json_ki64(j, "offset", rec.offset);
            rn_json_ki64(j, "timestamp", rec.timestamp);
            write_bytes(j, "key", rec.key.data, rec.key.len, value_max);
            write_bytes(j, "value", rec.value.data, rec.value.len, value_max);
            rn_json_key(j, "headers");
            rn_json_arr(j);
            size_t cursor = 0;
            rn_record_bytes_t hk, hv;
            while (rn_records_header_next(&rec, &cursor, &hk, &hv) == 1) {
                rn_json_obj(j);
                write_bytes(j, "key", hk.data, hk.len, value_max);
                write_bytes(j, "value", hv.data, hv.len, value_max);
                rn_json_end(j);
            }
            rn_json_end(j);
            write_batch_info(j, &it.hdr, pos + at);
            rn_json_end(j);
            (*count)++;
            next = rec.offset + 1;
        }
        int64_t after = rn_batch_last_offset(&it.hdr) + 1;
        if (rc == 0 && *count < limit && after > next) /* records before `from`, or none */
            next = after < hw ? after : hw;
        rn_records_close(&it);
        if (rc < 0)
            break;
        at += total;
    }
    return next;
}

void rn__console_messages(const rn__console_q_t *q)
{
    int64_t limit, max_bytes, value_max, offset, ts;
    if (!rn__console_int(q, "limit", 50, 1, RN_CONSOLE_MAX_RECORDS, &limit) ||
        !rn__console_int(q, "max_bytes", 256 << 10, 1024, RN_CONSOLE_MAX_READ, &max_bytes) ||
        !rn__console_int(q, "value_max", 4096, 0, 65536, &value_max) ||
        !rn__console_int(q, "offset", -1, -1, INT64_MAX, &offset) ||
        !rn__console_int(q, "timestamp", -1, -1, INT64_MAX, &ts))
        return;
    rn_dpart_t *dpart = find_part(q);
    if (dpart == NULL)
        return;
    rn_plog_t *log = dpart->log;
    int64_t start = rn_plog_log_start_offset(log), hw = rn_dpart_high_watermark(dpart);
    const char *from = rn__console_param(q, "from");
    if (ts >= 0) {
        rn_segment_ts_hit_t hit;
        offset = rn_plog_offset_for_timestamp(log, ts, &hit) == 0 ? hit.offset : hw;
    } else if (from != NULL && strcmp(from, "latest") == 0) {
        offset = hw - limit;
    } else if (offset < 0) {
        offset = start;
    }
    offset = offset < start ? start : offset > hw ? hw : offset;

    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_kstr(&j, "topic", dpart->part->topic->name);
    rn_json_ki64(&j, "partition", dpart->part->index);
    rn_json_ki64(&j, "log_start", start);
    rn_json_ki64(&j, "high_watermark", hw);
    rn_json_ki64(&j, "log_end", rn_plog_log_end_offset(log));
    rn_json_ki64(&j, "from_offset", offset);
    rn_json_key(&j, "records");
    rn_json_arr(&j);
    int64_t count = 0, next = offset;
    rn_plog_slice_t slice = {.fd = -1};
    if (offset < hw && rn_plog_read(log, offset, max_bytes, hw, &slice) == 0 && slice.length > 0) {
        size_t len = slice.length < (uint64_t)RN_CONSOLE_MAX_READ ? (size_t)slice.length
                                                                  : (size_t)RN_CONSOLE_MAX_READ;
        uint8_t *buf = read_range(slice.fd, slice.position, len);
        if (buf != NULL)
            next =
                write_records(&j, buf, len, slice.position, offset, hw, limit, value_max, &count);
        rn_free(buf);
        rn_plog_slice_release(&slice);
    }
    rn_json_end(&j);
    rn_json_ki64(&j, "next_offset", next);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}

static void write_file(rn_json_t *j, const char *dir, int64_t base, const char *suffix)
{
    char name[64], path[4096];
    rn_segment_file_name(name, base, suffix);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    rn_json_obj(j);
    rn_json_kstr(j, "name", name);
    rn_json_ki64(j, "size", stat(path, &st) == 0 ? (int64_t)st.st_size : -1);
    rn_json_end(j);
}

void rn__console_segments(const rn__console_q_t *q)
{
    rn_dpart_t *dpart = find_part(q);
    if (dpart == NULL)
        return;
    rn_plog_t *log = dpart->log;
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_kstr(&j, "topic", dpart->part->topic->name);
    rn_json_ki64(&j, "partition", dpart->part->index);
    rn_json_kstr(&j, "dir", rn_plog_dir(log));
    rn_json_ki64(&j, "log_start", rn_plog_log_start_offset(log));
    rn_json_ki64(&j, "log_end", rn_plog_log_end_offset(log));
    rn_json_ki64(&j, "size", (int64_t)rn_plog_size(log));
    size_t n = rn_plog_segment_count(log);
    rn_json_ki64(&j, "segment_count", (int64_t)n);
    rn_json_key(&j, "segments");
    rn_json_arr(&j);
    /* The newest RN_CONSOLE_MAX_SEGMENTS. */
    for (size_t i = n > RN_CONSOLE_MAX_SEGMENTS ? n - RN_CONSOLE_MAX_SEGMENTS : 0; i < n; i++) {
        const rn_segment_t *seg = rn_plog_segment_at(log, i);
        rn_json_obj(&j);
        rn_json_ki64(&j, "base_offset", seg->base_offset);
        rn_json_ki64(&j, "next_offset", seg->next_offset);
        rn_json_ki64(&j, "size", (int64_t)seg->size);
        rn_json_ki64(&j, "max_timestamp", seg->max_timestamp);
        rn_json_kbool(&j, "active", seg->active);
        rn_json_key(&j, "files");
        rn_json_arr(&j);
        write_file(&j, rn_plog_dir(log), seg->base_offset, ".log");
        write_file(&j, rn_plog_dir(log), seg->base_offset, ".index");
        write_file(&j, rn_plog_dir(log), seg->base_offset, ".timeindex");
        rn_json_end(&j);
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}

/* runnel-dump --hex's text for the batch at buf[0..len) found at file position pos. */
static char *hex_view(const uint8_t *buf, size_t len, uint64_t pos, size_t *out_len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, out_len);
    if (f == NULL)
        return NULL;
    rn_dump_opts_t opts = {.hex = 1, .max_decompressed = RN_CONSOLE_MAX_DECOMPRESSED};
    rn_dump_log_t lg;
    rn_dump_log_init(&lg, f, &opts);
    lg.pos = pos;
    rn_dump_log_feed(&lg, buf, len, 1);
    rn_dump_log_free(&lg);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void rn__console_batch(const rn__console_q_t *q)
{
    int64_t offset;
    if (!rn__console_int(q, "offset", 0, 0, INT64_MAX, &offset))
        return;
    rn_dpart_t *dpart = find_part(q);
    if (dpart == NULL)
        return;
    rn_plog_slice_t slice = {.fd = -1};
    int rc = rn_plog_read(dpart->log, offset, 1, -1, &slice);
    if (rc != 0 || slice.length < RN_BATCH_LOG_OVERHEAD + 5) {
        if (rc == 0)
            rn_plog_slice_release(&slice);
        rn__console_error(q->req, HTTP_NOTFOUND, "no batch holds that offset");
        return;
    }
    uint8_t head[RN_BATCH_LOG_OVERHEAD + 5];
    rn_batch_header_t hdr;
    uint8_t *buf = NULL;
    size_t total = 0;
    if (pread(slice.fd, head, sizeof(head), (off_t)slice.position) == (ssize_t)sizeof(head)) {
        memset(&hdr, 0, sizeof(hdr));
        hdr.batch_length = (int32_t)((uint32_t)head[8] << 24 | (uint32_t)head[9] << 16 |
                                     (uint32_t)head[10] << 8 | head[11]);
        total = hdr.batch_length > 0 ? (size_t)hdr.batch_length + RN_BATCH_LOG_OVERHEAD : 0;
    }
    if (total == 0 || total > slice.length || total > RN_CONSOLE_MAX_HEX_BATCH) {
        rn_plog_slice_release(&slice);
        rn__console_error(q->req, 413, "the batch is larger than the hex view shows (256 KiB)");
        return;
    }
    buf = read_range(slice.fd, slice.position, total);
    int64_t seg_base = slice.seg->base_offset;
    uint64_t position = slice.position;
    rn_plog_slice_release(&slice);
    size_t text_len = 0;
    char *text = buf != NULL ? hex_view(buf, total, position, &text_len) : NULL;
    if (text == NULL) {
        rn_free(buf);
        rn__console_error(q->req, HTTP_INTERNAL, "cannot read the batch");
        return;
    }
    rn_batch_header_parse(buf, total, &hdr);
    char file[64];
    rn_segment_file_name(file, seg_base, ".log");
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_kstr(&j, "topic", dpart->part->topic->name);
    rn_json_ki64(&j, "partition", dpart->part->index);
    rn_json_kstr(&j, "file", file);
    rn_json_ki64(&j, "position", (int64_t)position);
    rn_json_ki64(&j, "size", (int64_t)total);
    write_batch_info(&j, &hdr, position);
    rn_json_key(&j, "hex");
    rn_json_strn(&j, text, text_len);
    rn_json_end(&j);
    free(text);
    rn_free(buf);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}
