/* Fuzz target: index and time-index validation on arbitrary bytes, and a one-segment log
 * directory made from the input opened both ways (trusting the indexes after a clean stop,
 * rebuilding them after an unclean one).
 *
 * Input: flags u8 (bit 0: recompute each batch's CRC so mutations reach the offset and order
 * checks; bit 1: open clean first), index length u16, time-index length u16 (big-endian), the
 * .index bytes, the .timeindex bytes, then the .log bytes. Whatever the bytes, opening must
 * not crash; a clean open may refuse or serve errors; an unclean open must leave a log whose
 * indexes agree with its batches (abort otherwise). */
#include "rn_err.h"
#include "rn_index.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "rn_timeindex.h"
#include "unit/storage/plog_testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[256];
static char dir[512];

static void cleanup(void)
{
    tu_rmtree(root);
}

static void put_file(const char *name, const uint8_t *bytes, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    if (len > 0 && write(fd, bytes, len) != (ssize_t)len)
        abort();
    close(fd);
}

static int read_batch(void *arg, const rn_batch_header_t *hdr, int fd, uint64_t position)
{
    rn_plog_t *log = arg;
    rn_plog_slice_t slice;
    if (rn_plog_read(log, hdr->base_offset, 100, -1, &slice) == 0)
        rn_plog_slice_release(&slice);
    if (rn_plog_read(log, rn_batch_last_offset(hdr), 1 << 20, hdr->base_offset + 1, &slice) == 0)
        rn_plog_slice_release(&slice);
    rn_segment_ts_hit_t hit;
    (void)rn_plog_offset_for_timestamp(log, hdr->max_timestamp, &hit);
    return 0;
}

static void exercise(rn_plog_t *log)
{
    (void)rn_plog_foreach_batch(log, rn_plog_log_start_offset(log), -1, read_batch, log);
    rn_segment_ts_hit_t hit;
    (void)rn_plog_max_timestamp(log, &hit);
    (void)rn_plog_offset_for_timestamp(log, 0, &hit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why;
    int64_t max_rel = size > 0 ? data[0] * 1000 : 0;
    (void)rn_index_check_bytes(data, size - size % RN_INDEX_ENTRY_SIZE, max_rel, size * 4, &why);
    (void)rn_timeindex_check_bytes(data, size - size % RN_TIMEINDEX_ENTRY_SIZE, max_rel, &why);
    if (size < 5)
        return 0;
    if (root[0] == 0) {
        rn_log_set_level((rn_log_level_t)(RN_LOG_ERROR + 1)); /* silence */
        tu_tmpdir(root, "fuzzindex");
        atexit(cleanup);
    }
    snprintf(dir, sizeof(dir), "%s/fuzz-0", root);
    tu_rmtree(dir);
    mkdir(dir, 0755);

    int flags = data[0];
    size_t ilen = rn_load_be16(data + 1), tlen = rn_load_be16(data + 3);
    const uint8_t *p = data + 5, *end = data + size;
    if (ilen > (size_t)(end - p))
        ilen = (size_t)(end - p);
    const uint8_t *idx = p;
    p += ilen;
    if (tlen > (size_t)(end - p))
        tlen = (size_t)(end - p);
    const uint8_t *tidx = p;
    p += tlen;
    size_t llen = (size_t)(end - p);
    uint8_t *logbytes = rn_xmalloc(llen + 1);
    memcpy(logbytes, p, llen);
    if (flags & 1) {
        size_t pos = 0;
        rn_batch_header_t hdr;
        while (pos < llen && rn_batch_header_parse(logbytes + pos, llen - pos, &hdr) == 0 &&
               rn_batch_total_size(&hdr) <= llen - pos) {
            size_t total = rn_batch_total_size(&hdr);
            rn_store_be32(logbytes + pos + RN_BATCH_OFF_CRC,
                          rn_batch_compute_crc(logbytes + pos, total));
            pos += total;
        }
    }
    put_file("00000000000000000000.log", logbytes, llen);
    put_file("00000000000000000000.index", idx, ilen);
    put_file("00000000000000000000.timeindex", tidx, tlen);
    rn_free(logbytes);

    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_index_bytes = 1024;
    cfg.index_interval_bytes = 64;
    rn_plog_open_opts_t opts;
    rn_plog_t *log;
    if (flags & 2) {
        tu_default_opts(&opts, 1);
        if (rn_plog_open(dir, &cfg, &opts, &log) == 0) {
            exercise(log);
            rn_plog_close(log);
        }
    }
    tu_default_opts(&opts, 0);
    if (rn_plog_open(dir, &cfg, &opts, &log) != 0)
        abort(); /* recovery must always produce a usable log */
    if (tu_check_log(log) != 0)
        abort();
    exercise(log);
    rn_plog_close(log);
    return 0;
}
