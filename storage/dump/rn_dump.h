/* rn_dump: the parsers behind runnel-dump, an inspector for Kafka/runnel data directories:
 * segment files (.log), offset and time indexes (.index, .timeindex) and the small text
 * files (checkpoints, leader-epoch-checkpoint, partition.metadata, meta.properties).
 *
 * Every parser works on bytes in memory and writes text to a FILE*, so the fuzzer and the
 * tests drive exactly the code the tool runs. Files are only ever read (never locked or
 * written), so dumping a live data directory is safe. Problems (corruption, truncation,
 * index entries that disagree with the log) are printed inline as lines starting with
 * "error: " that name the byte position, and counted; parsing goes on where the structure
 * allows it and stops cleanly where it does not. */
#ifndef RN_DUMP_H
#define RN_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rn_dump_opts {
    int records;             /* print every record (decompressing when needed) */
    int values_hex;          /* keys, values, header values as hex instead of escaped text */
    int hex;                 /* xxd-style dump of each batch with every field annotated */
    int verify;              /* check index entries against the matching .log */
    size_t max_decompressed; /* cap on one batch's decompressed records; 0 = 256 MiB */
} rn_dump_opts_t;

/* One batch of a segment as the index verifier needs it. */
typedef struct rn_dump_batch {
    uint64_t pos;
    int64_t base_offset, last_offset, max_timestamp;
} rn_dump_batch_t;

/* Incremental dumper of one .log file: feed it the file's bytes in order, in chunks of any
 * size; it prints each batch as soon as the whole batch is available. */
typedef struct rn_dump_log {
    FILE *out;
    const rn_dump_opts_t *opts;
    uint64_t pos;  /* file position of the next unparsed byte */
    size_t need;   /* after a feed that consumed nothing: bytes the next item needs */
    int stopped;   /* structure lost (bad length/magic): later feeds consume nothing */
    int have_prev; /* prev_last_offset is set */
    int64_t prev_last_offset;
    int64_t zero_start; /* start of a run of zero bytes (preallocation), or -1 */
    uint64_t batches, records;
    int problems;
    rn_dump_batch_t *table; /* every parsed batch, when collect_batches is set */
    size_t ntable, table_cap;
    int collect_batches;
} rn_dump_log_t;

void rn_dump_log_init(rn_dump_log_t *lg, FILE *out, const rn_dump_opts_t *opts);

/* Parse and print the whole batches at the start of buf[0..len), which holds the file's
 * bytes from lg->pos on. Returns the bytes consumed; the caller keeps the rest and feeds it
 * again with more bytes appended (lg->need says how many the next batch takes in total).
 * With eof set, buf reaches the end of the file: a partial batch is reported as truncated
 * and everything is consumed. */
size_t rn_dump_log_feed(rn_dump_log_t *lg, const uint8_t *buf, size_t len, int eof);

/* Print the closing summary; returns the number of problems found. Frees nothing: call
 * rn_dump_log_free afterwards. */
int rn_dump_log_finish(rn_dump_log_t *lg);
void rn_dump_log_free(rn_dump_log_t *lg);

/* Dump a whole segment held in memory (init + one feed with eof + finish + free).
 * Returns the number of problems. */
int rn_dump_log_buffer(FILE *out, const uint8_t *buf, size_t len, const rn_dump_opts_t *opts);

/* Dump an offset index (.index, 8-byte entries) or time index (.timeindex, 12-byte entries)
 * of a segment whose base offset is base_offset. With opts->verify, each entry is checked
 * against batches[0..nbatches) (the segment's batches, from a dump of its .log): an index entry
 * must point at the start of a batch holding its offset, a time index entry at an offset inside a
 * batch whose maxTimestamp is the entry's timestamp; entries must increase. Zero entries after the
 * first mark the preallocated tail of an active index and end the listing. Returns the number of
 * problems. */
int rn_dump_index(FILE *out, int64_t base_offset, const uint8_t *buf, size_t len,
                  const rn_dump_batch_t *batches, size_t nbatches, const rn_dump_opts_t *opts);
int rn_dump_timeindex(FILE *out, int64_t base_offset, const uint8_t *buf, size_t len,
                      const rn_dump_batch_t *batches, size_t nbatches, const rn_dump_opts_t *opts);

/* The small files, by kind. */
enum rn_dump_text_kind {
    RN_DUMP_CHECKPOINT,        /* recovery-point / log-start / replication / cleaner offsets */
    RN_DUMP_LEADER_EPOCH,      /* leader-epoch-checkpoint */
    RN_DUMP_PARTITION_META,    /* partition.metadata */
    RN_DUMP_META_PROPERTIES,   /* meta.properties */
    RN_DUMP_PRODUCER_SNAPSHOT, /* <offset>.snapshot (binary: producer state) */
};

/* Print a small file's parsed meaning; name is the file's base name (it selects the
 * checkpoint's description). Files are checked by the same strict parsers runnel uses
 * (rn_checkpoint, rn_partmeta, rn_datadir, rn_pidsnap), so an "error:" line means runnel
 * would refuse the file. Returns the number of problems. */
int rn_dump_text(FILE *out, enum rn_dump_text_kind kind, const char *name, const uint8_t *buf,
                 size_t len);

/* Dump the file or directory at path (directories recursively, in name order, symbolic
 * links not followed), choosing the parser by file name. Returns the number of problems;
 * files that cannot be read are reported on stderr and counted in *unreadable. */
int rn_dump_path(FILE *out, const char *path, const rn_dump_opts_t *opts, int *unreadable);

#endif
