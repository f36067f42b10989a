/* Helpers of the log-cleaner tests: a model of what was appended (offset, key, value,
 * timestamp), batches built with rn_batch_build and appended through rn_plog_append, a
 * read-back of the whole log through rn_plog_read (every batch validated, every record
 * decoded), and the comparison of what was read with what the model says must remain.
 * Header-only (static functions), like plog_testutil.h. */
#ifndef RN_CLEANER_TESTUTIL_H
#define RN_CLEANER_TESTUTIL_H

#include "rn_cleaner.h"
#include "rn_err.h"
#include "rn_plog.h"
#include "rn_records.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <dirent.h>
#include <stdbool.h>

#define CT_NOW   1700000000000LL
#define CT_KEYSZ 24
#define CT_VALSZ 48

/* One record: as appended (the model) or as read back. */
typedef struct ct_rec {
    int64_t offset;
    int64_t timestamp;
    bool has_key, has_value;
    char key[CT_KEYSZ];
    char value[CT_VALSZ];
    /* read back only: its batch's header */
    rn_batch_header_t hdr;
} ct_rec_t;

typedef struct ct_recs {
    ct_rec_t *v;
    size_t n, cap;
} ct_recs_t;

static inline void ct_push(ct_recs_t *rs, const ct_rec_t *r)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->v = rn_xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    rs->v[rs->n++] = *r;
}

static inline void ct_free(ct_recs_t *rs)
{
    rn_free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

/* The batch to append: fields beyond the records. */
typedef struct ct_batch {
    int codec;
    int64_t producer_id; /* -1: plain */
    int16_t producer_epoch;
    int32_t base_sequence;
    int16_t attributes; /* e.g. RN_BATCH_ATTR_CONTROL */
} ct_batch_t;

#define CT_PLAIN ((ct_batch_t){RN_CODEC_NONE, -1, -1, -1, 0})

/* Append one batch of n records: key i = keys[i] (NULL = null key), value i = values[i]
 * (NULL = tombstone), timestamps ts, ts + 1, ... Records go into the model with their
 * offsets. Returns rn_plog_append's result; *info may be NULL. */
static inline int ct_append(rn_plog_t *log, ct_recs_t *model, const ct_batch_t *b, int n,
                            const char *const *keys, const char *const *values, int64_t ts,
                            rn_plog_append_info_t *info)
{
    rn_record_spec_t recs[64];
    if (n > 64)
        return RN_EINVAL;
    for (int i = 0; i < n; i++) {
        recs[i] = (rn_record_spec_t){0};
        recs[i].key = keys[i];
        recs[i].key_len = keys[i] ? strlen(keys[i]) : 0;
        recs[i].value = values[i];
        recs[i].value_len = values[i] ? strlen(values[i]) : 0;
        recs[i].timestamp = ts + i;
    }
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.codec = b->codec;
    spec.producer_id = b->producer_id;
    spec.producer_epoch = b->producer_epoch;
    spec.base_sequence = b->base_sequence;
    spec.attributes = b->attributes;
    uint8_t *buf;
    size_t len;
    int err = rn_batch_build(&spec, recs, (size_t)n, &buf, &len);
    if (err)
        return err;
    rn_plog_append_info_t local;
    err = rn_plog_append(log, buf, len, 3, ts + n, info ? info : &local);
    rn_free(buf);
    if (err)
        return err;
    int64_t base = (info ? info : &local)->base_offset;
    for (int i = 0; i < n && model != NULL; i++) {
        ct_rec_t r = {0};
        r.offset = base + i;
        r.timestamp = ts + i;
        r.has_key = keys[i] != NULL;
        r.has_value = values[i] != NULL;
        if (keys[i])
            snprintf(r.key, sizeof(r.key), "%s", keys[i]);
        if (values[i])
            snprintf(r.value, sizeof(r.value), "%s", values[i]);
        ct_push(model, &r);
    }
    return 0;
}

/* Read the whole log through rn_plog_read into out. Returns the number of problems found
 * (invalid batches, undecodable records, offsets not increasing), each reported. */
static inline int ct_read_all(rn_plog_t *log, ct_recs_t *out)
{
    int problems = 0;
    int64_t off = rn_plog_log_start_offset(log), prev = -1;
    for (;;) {
        rn_plog_slice_t slice;
        int err = rn_plog_read(log, off, 1 << 20, -1, &slice);
        if (err) {
            diag("rn_plog_read(%" PRId64 ") = %s", off, rn_strerror(err));
            return problems + 1;
        }
        if (slice.length == 0)
            break;
        uint8_t *buf = tu_read_slice(&slice);
        size_t pos = 0;
        while (pos < slice.length) {
            rn_batch_header_t hdr;
            if (rn_batch_validate(buf + pos, slice.length - pos, &hdr) != 0) {
                diag("invalid batch at offset %" PRId64, off);
                problems++;
                break;
            }
            rn_records_iter_t it;
            rn_record_t rec;
            if (rn_records_open(&it, buf + pos, rn_batch_total_size(&hdr), NULL, 64 << 20) != 0) {
                diag("batch at %" PRId64 " does not decode", hdr.base_offset);
                problems++;
            }
            int rc;
            while ((rc = rn_records_iter_next(&it, &rec)) == 1) {
                ct_rec_t r = {0};
                r.offset = rec.offset;
                r.timestamp = rec.timestamp;
                r.has_key = rec.key.data != NULL;
                r.has_value = rec.value.data != NULL;
                if (r.has_key)
                    snprintf(r.key, sizeof(r.key), "%.*s", (int)rec.key.len, rec.key.data);
                if (r.has_value)
                    snprintf(r.value, sizeof(r.value), "%.*s", (int)rec.value.len, rec.value.data);
                r.hdr = hdr;
                if (r.offset <= prev) {
                    diag("offset %" PRId64 " after %" PRId64, r.offset, prev);
                    problems++;
                }
                prev = r.offset;
                ct_push(out, &r);
            }
            if (rc != 0) {
                diag("records of batch %" PRId64 ": %s", hdr.base_offset, rn_strerror(rc));
                problems++;
            }
            rn_records_close(&it);
            pos += rn_batch_total_size(&hdr);
            off = rn_batch_last_offset(&hdr) + 1;
        }
        rn_free(buf);
        rn_plog_slice_release(&slice);
        if (pos < slice.length)
            break;
    }
    return problems;
}

static inline bool ct_same(const ct_rec_t *a, const ct_rec_t *b)
{
    return a->offset == b->offset && a->timestamp == b->timestamp && a->has_key == b->has_key &&
           a->has_value == b->has_value && strcmp(a->key, b->key) == 0 &&
           strcmp(a->value, b->value) == 0;
}

/* Compare what was read with the model records for which keep(model, i, arg) is true.
 * Returns the number of differences (the first few reported). */
static inline int ct_compare(const ct_recs_t *got, const ct_recs_t *model,
                             bool (*keep)(const ct_recs_t *, size_t, void *), void *arg)
{
    int diffs = 0;
    size_t g = 0;
    for (size_t i = 0; i < model->n; i++) {
        if (!keep(model, i, arg))
            continue;
        if (g >= got->n || !ct_same(&got->v[g], &model->v[i])) {
            if (diffs++ < 5)
                diag("expected offset %" PRId64 " key %s value %s, got %s%" PRId64 " %s %s",
                     model->v[i].offset, model->v[i].key,
                     model->v[i].has_value ? model->v[i].value : "(null)",
                     g < got->n ? "offset " : "nothing", g < got->n ? got->v[g].offset : 0,
                     g < got->n ? got->v[g].key : "", g < got->n ? got->v[g].value : "");
            /* Resynchronise on offsets. */
            while (g < got->n && got->v[g].offset < model->v[i].offset)
                g++;
            if (g < got->n && got->v[g].offset == model->v[i].offset)
                g++;
            continue;
        }
        g++;
    }
    if (g < got->n) {
        diag("%zu unexpected record(s) from offset %" PRId64, got->n - g, got->v[g].offset);
        diffs += (int)(got->n - g);
    }
    return diffs;
}

/* Kafka's compaction of the model below end (no tombstone is past its horizon): a record
 * stays when it is at or past end, has no key, or is the latest below end for its key. */
typedef struct ct_cut {
    int64_t end;
} ct_cut_t;

static inline bool ct_keep_latest(const ct_recs_t *m, size_t i, void *arg)
{
    const ct_cut_t *cut = arg;
    const ct_rec_t *r = &m->v[i];
    if (r->offset >= cut->end || !r->has_key)
        return true;
    for (size_t j = i + 1; j < m->n && m->v[j].offset < cut->end; j++)
        if (m->v[j].has_key && strcmp(m->v[j].key, r->key) == 0)
            return false;
    return true;
}

static inline bool ct_keep_all(const ct_recs_t *m, size_t i, void *arg)
{
    (void)m;
    (void)i;
    (void)arg;
    return true;
}

/* Files in dir whose names end with suffix. */
static inline int ct_count_files(const char *dir, const char *suffix)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *ent;
    size_t sl = strlen(suffix);
    while (d != NULL && (ent = readdir(d)) != NULL) {
        size_t l = strlen(ent->d_name);
        if (l >= sl && strcmp(ent->d_name + l - sl, suffix) == 0)
            n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static inline void ct_config(rn_plog_config_t *cfg, int64_t segment_bytes)
{
    rn_plog_config_default(cfg);
    cfg->segment_bytes = segment_bytes;
    cfg->segment_index_bytes = 4096;
    cfg->index_interval_bytes = 256;
}

static inline rn_plog_t *ct_open(const char *dir, const rn_plog_config_t *cfg, int clean,
                                 int64_t rp)
{
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, clean);
    opts.recovery_point = rp;
    rn_plog_t *log = NULL;
    if (rn_plog_open(dir, cfg, &opts, &log) != 0) {
        diag("cannot open %s", dir);
        exit(2);
    }
    return log;
}

#endif
