/* Fuzz target: runnel-dump's parsers over arbitrary bytes, output to /dev/null.
 *
 * Input: two control bytes, then the file contents. Byte 0 bits 0-2 choose the parser
 * (.log whole, .log fed in chunks, .index, .timeindex, or a small-file kind; 7 with bit 7
 * set is a producer snapshot), bits 3-6 the options (--records, --hex, --values hex,
 * --verify); byte 1 is the chunk size for the
 * chunked .log path. With --verify the index is checked against the batches of the same
 * bytes parsed as a log. The decompression cap is small so bombs stay cheap. */
#include "rn_alloc.h"
#include "rn_dump.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

/* Feed the log in chunks the way runnel-dump's file reader does: keep what the parser did
 * not consume and append the next chunk. */
static void feed_chunked(const uint8_t *in, size_t len, size_t chunk, const rn_dump_opts_t *opts)
{
    rn_dump_log_t lg;
    rn_dump_log_init(&lg, devnull, opts);
    uint8_t *buf = rn_xmalloc(len + 1);
    size_t have = 0, fed = 0;
    for (;;) {
        size_t add = len - fed < chunk ? len - fed : chunk;
        memcpy(buf + have, in + fed, add);
        have += add;
        fed += add;
        int eof = fed == len;
        size_t used = rn_dump_log_feed(&lg, buf, have, eof);
        memmove(buf, buf + used, have - used);
        have -= used;
        if (lg.stopped || eof)
            break;
    }
    rn_dump_log_finish(&lg);
    rn_dump_log_free(&lg);
    rn_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
        return 0;
    int mode = data[0] & 7;
    rn_dump_opts_t opts = {.records = (data[0] >> 3) & 1,
                           .hex = (data[0] >> 4) & 1,
                           .values_hex = (data[0] >> 5) & 1,
                           .verify = (data[0] >> 6) & 1,
                           .max_decompressed = 64 * 1024};
    size_t chunk = (size_t)data[1] + 1;
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    /* An exact-size copy so reads past the end trip ASan. */
    uint8_t *copy = rn_xmalloc(len ? len : 1);
    memcpy(copy, in, len);

    switch (mode) {
    case 0: rn_dump_log_buffer(devnull, copy, len, &opts); break;
    case 1: feed_chunked(copy, len, chunk, &opts); break;
    case 2:
    case 3: {
        rn_dump_log_t lg;
        rn_dump_opts_t quiet = {.max_decompressed = 64 * 1024};
        rn_dump_log_init(&lg, devnull, &quiet);
        lg.collect_batches = 1;
        rn_dump_log_feed(&lg, copy, len, 1);
        if (mode == 2)
            rn_dump_index(devnull, 100, copy, len, lg.table, lg.ntable, &opts);
        else
            rn_dump_timeindex(devnull, 100, copy, len, lg.table, lg.ntable, &opts);
        rn_dump_log_free(&lg);
        break;
    }
    case 4:
        rn_dump_text(devnull, RN_DUMP_CHECKPOINT, "replication-offset-checkpoint", copy, len);
        break;
    case 5:
        rn_dump_text(devnull, RN_DUMP_LEADER_EPOCH, "leader-epoch-checkpoint", copy, len);
        break;
    case 6: rn_dump_text(devnull, RN_DUMP_PARTITION_META, "partition.metadata", copy, len); break;
    default:
        if (data[0] & 0x80)
            rn_dump_text(devnull, RN_DUMP_PRODUCER_SNAPSHOT, "00000000000000000000.snapshot", copy,
                         len);
        else
            rn_dump_text(devnull, RN_DUMP_META_PROPERTIES, "meta.properties", copy, len);
        break;
    }
    rn_free(copy);
    return 0;
}
