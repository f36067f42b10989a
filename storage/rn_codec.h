/* rn_codec: compression codecs of Kafka record batches (the records section after the
 * 61-byte header is compressed as one block when the batch's codec bits are non-zero).
 *
 * Framings, as clients put them on the wire:
 *  - gzip (1): a gzip stream (RFC 1952). Decoding also accepts a zlib stream and
 *    concatenated gzip members; bytes after the last member that do not start another
 *    member are ignored, as Java's GZIPInputStream does.
 *  - snappy (2): either raw snappy (one block: what librdkafka, hence kcat and
 *    confluent-kafka-python, sends) or the xerial "snappy-java" framing that Java clients
 *    send: magic 82 'S' 'N' 'A' 'P' 'P' 'Y' 00, int32 version, int32 compatible version,
 *    then blocks of int32 big-endian length + raw snappy. Decoding detects the framing by
 *    the magic. Encoding writes xerial framing with 32 KiB blocks by default: Java brokers
 *    and consumers expect it first (snappy-java falls back to raw only when the magic is
 *    missing), and every other client decodes both.
 *  - lz4 (3): the LZ4 frame format. Encoding uses independent 64 KiB blocks and no block
 *    checksums, the subset Kafka's Java decoder (Lz4BlockInputStream) supports.
 *  - zstd (4): zstd frames, decoded by streaming so frames without a content size work.
 *
 * Decompression output is always capped by the caller (a batch's declared size cannot be
 * trusted): exceeding the cap is RN_ETOOBIG, never an allocation of the claimed size. */
#ifndef RN_CODEC_H
#define RN_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Codec numbers are enum rn_batch_codec in rn_batch.h (RN_CODEC_NONE .. RN_CODEC_ZSTD). */
#include "rn_batch.h"

/* Compression options; a NULL opts pointer means all defaults (a zeroed struct). */
typedef struct rn_codec_opts {
    int level;      /* 0 = the codec's default; gzip 1-9, lz4 1-12 (>2 = HC), zstd 1-22 */
    int snappy_raw; /* non-zero: write raw snappy (librdkafka's form) instead of xerial */
} rn_codec_opts_t;

/* The lowercase Kafka name of a codec ("none", "gzip", "snappy", "lz4", "zstd"), or
 * "unknown" for values outside 0..4. */
const char *rn_codec_name(int codec);

/* Parse a Kafka compression.type name (case-insensitive; "none", "gzip", "snappy", "lz4",
 * "zstd"). Returns the codec number or RN_EINVAL. */
int rn_codec_from_name(const char *name);

/* Compress in[0..in_len) with codec into a new rn_malloc'd buffer *out (free with rn_free)
 * of *out_len bytes. RN_CODEC_NONE copies. Returns 0, RN_EUNSUPPORTED for an unknown
 * codec, RN_ETOOBIG for input over INT32_MAX bytes (no batch can hold it), RN_ENOMEM,
 * or RN_EINVAL when the library refuses the options (e.g. a level out of range). */
int rn_codec_compress(int codec, const rn_codec_opts_t *opts, const uint8_t *in, size_t in_len,
                      uint8_t **out, size_t *out_len);

/* Decompress in[0..in_len) into a new rn_malloc'd buffer *out (free with rn_free; never
 * NULL on success, even for empty output) holding *out_len <= max_out bytes. Memory grows
 * with the output actually produced, never with sizes the input claims. Returns 0,
 * RN_ETOOBIG when the output would exceed max_out, RN_ECORRUPT for malformed or truncated
 * input (including empty input for gzip, lz4 and zstd), RN_EUNSUPPORTED for an unknown
 * codec, RN_ENOMEM. */
int rn_codec_decompress(int codec, const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out,
                        size_t *out_len);

/* Decompress into the caller's buf[0..cap): *out_len bytes are written. Same errors as
 * rn_codec_decompress, with RN_ETOOBIG when the output does not fit in cap. buf's
 * contents are unspecified after an error. */
int rn_codec_decompress_into(int codec, const uint8_t *in, size_t in_len, uint8_t *buf, size_t cap,
                             size_t *out_len);

#endif
