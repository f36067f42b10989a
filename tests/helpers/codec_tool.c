/* codec_tool: drive rn_codec and rn_records from scripts, for interop tests against
 * independent implementations (gzip/lz4/zstd programs, python-snappy, kafka-python).
 *
 *   codec_tool compress   gzip|snappy|snappy-xerial|lz4|zstd [LEVEL]  < in > out
 *   codec_tool decompress gzip|snappy|snappy-xerial|lz4|zstd [MAX]    < in > out
 *   codec_tool build CODEC [--raw-snappy] [--base-offset N] [--producer ID EPOCH SEQ]
 *                          [--transactional] [--control]              < records > batch
 *   codec_tool records                                                < batches > text
 *
 * "snappy" compresses raw (librdkafka's form), "snappy-xerial" with xerial framing;
 * decompression detects the framing for both. Record lines (build input, records output):
 *   <timestamp> <key> <value> [<hkey>=<hvalue> ...]
 * where each field is "-" for null or "x" followed by the bytes in hex ("x" alone = empty).
 * records prints, per batch, a "batch ..." line of header fields then "record <offset> "
 * followed by a record line. Exit 0 on success, 1 on a codec or format error, 2 on usage. */
#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_err.h"
#include "rn_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *read_all(FILE *fp, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = rn_xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap)
            buf = rn_xrealloc(buf, cap *= 2);
    }
    *len = n;
    return buf;
}

static int usage(void)
{
    fprintf(stderr, "usage: codec_tool compress|decompress gzip|snappy|snappy-xerial|lz4|zstd "
                    "[LEVEL|MAX]\n       codec_tool build CODEC [options] | codec_tool records\n");
    return 2;
}

static int parse_codec(const char *name, int *snappy_raw)
{
    *snappy_raw = strcmp(name, "snappy") == 0;
    if (strcmp(name, "snappy-xerial") == 0)
        return RN_CODEC_SNAPPY;
    return rn_codec_from_name(name);
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "codec_tool: %s: %s\n", what, rn_strerror(err));
    return 1;
}

/* ---- record lines ---- */

static void put_field(const void *data, long len)
{
    if (data == NULL || len < 0) {
        fputs("-", stdout);
        return;
    }
    putchar('x');
    for (long i = 0; i < len; i++)
        printf("%02x", ((const uint8_t *)data)[i]);
}

/* Decode "-" / "xHEX" into a heap buffer; returns 0 or -1 on bad syntax. */
static int get_field(const char *tok, size_t toklen, uint8_t **data, size_t *len)
{
    if (toklen == 1 && tok[0] == '-') {
        *data = NULL;
        *len = 0;
        return 0;
    }
    if (toklen == 0 || tok[0] != 'x' || (toklen - 1) % 2)
        return -1;
    *len = (toklen - 1) / 2;
    *data = rn_xmalloc(*len + 1);
    for (size_t i = 0; i < *len; i++) {
        unsigned v;
        if (sscanf(tok + 1 + 2 * i, "%2x", &v) != 1)
            return -1;
        (*data)[i] = (uint8_t)v;
    }
    return 0;
}

static int parse_record_line(char *line, rn_record_spec_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    char *save, *tok = strtok_r(line, " \t\n", &save);
    if (tok == NULL)
        return -1;
    rec->timestamp = strtoll(tok, NULL, 10);
    uint8_t *d;
    char *key = strtok_r(NULL, " \t\n", &save), *value = strtok_r(NULL, " \t\n", &save);
    if (key == NULL || value == NULL || get_field(key, strlen(key), &d, &rec->key_len))
        return -1;
    rec->key = d;
    if (get_field(value, strlen(value), &d, &rec->value_len))
        return -1;
    rec->value = d;
    rn_record_header_t *hdrs = NULL;
    while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            return -1;
        hdrs = rn_xrealloc(hdrs, (rec->header_count + 1) * sizeof(*hdrs));
        rn_record_header_t *h = &hdrs[rec->header_count++];
        uint8_t *k, *v;
        if (get_field(tok, (size_t)(eq - tok), &k, &h->key_len) || k == NULL ||
            get_field(eq + 1, strlen(eq + 1), &v, &h->value_len))
            return -1;
        h->key = k;
        h->value = v;
    }
    rec->headers = hdrs;
    return 0;
}

static int cmd_build(int argc, char **argv)
{
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    int raw;
    if (argc < 3 || (spec.codec = parse_codec(argv[2], &raw)) < 0)
        return usage();
    spec.codec_opts.snappy_raw = raw;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--base-offset") == 0 && i + 1 < argc)
            spec.base_offset = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--producer") == 0 && i + 3 < argc) {
            spec.producer_id = strtoll(argv[++i], NULL, 10);
            spec.producer_epoch = (int16_t)atoi(argv[++i]);
            spec.base_sequence = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--transactional") == 0)
            spec.attributes |= RN_BATCH_ATTR_TRANSACTIONAL;
        else if (strcmp(argv[i], "--control") == 0)
            spec.attributes |= RN_BATCH_ATTR_CONTROL;
        else
            return usage();
    }
    rn_record_spec_t *recs = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        if (line[0] == '\n')
            continue;
        recs = rn_xrealloc(recs, (n + 1) * sizeof(*recs));
        if (parse_record_line(line, &recs[n++]) != 0) {
            fprintf(stderr, "codec_tool: bad record line %zu\n", n);
            return 2;
        }
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    int err = rn_batch_build(&spec, recs, n, &out, &out_len);
    if (err == 0)
        fwrite(out, 1, out_len, stdout);
    rn_free(out);
    free(line);
    for (size_t i = 0; i < n; i++) {
        rn_free((void *)recs[i].key);
        rn_free((void *)recs[i].value);
        for (size_t h = 0; h < recs[i].header_count; h++) {
            rn_free((void *)recs[i].headers[h].key);
            rn_free((void *)recs[i].headers[h].value);
        }
        rn_free((void *)recs[i].headers);
    }
    rn_free(recs);
    return err ? fail("build", err) : 0;
}

static int cmd_records(void)
{
    size_t len, pos = 0;
    uint8_t *buf = read_all(stdin, &len);
    while (pos < len) {
        rn_batch_header_t hdr;
        int err = rn_batch_validate(buf + pos, len - pos, &hdr);
        if (err) {
            rn_free(buf);
            return fail("batch", err);
        }
        printf("batch base=%lld last_delta=%d count=%d codec=%s attrs=%d base_ts=%lld "
               "max_ts=%lld pid=%lld epoch=%d seq=%d ple=%d\n",
               (long long)hdr.base_offset, hdr.last_offset_delta, hdr.record_count,
               rn_codec_name(rn_batch_codec(&hdr)), hdr.attributes, (long long)hdr.base_timestamp,
               (long long)hdr.max_timestamp, (long long)hdr.producer_id, hdr.producer_epoch,
               hdr.base_sequence, hdr.partition_leader_epoch);
        rn_records_iter_t it;
        err = rn_records_open(&it, buf + pos, len - pos, NULL, 64 << 20);
        rn_record_t rec;
        while (err == 0 && (err = rn_records_iter_next(&it, &rec)) == 1) {
            printf("record %lld %lld ", (long long)rec.offset, (long long)rec.timestamp);
            put_field(rec.key.data, rec.key.len);
            putchar(' ');
            put_field(rec.value.data, rec.value.len);
            size_t cur = 0;
            rn_record_bytes_t hk, hv;
            while (rn_records_header_next(&rec, &cur, &hk, &hv) == 1) {
                putchar(' ');
                put_field(hk.data, hk.len);
                putchar('=');
                put_field(hv.data, hv.len);
            }
            putchar('\n');
            err = 0;
        }
        rn_records_close(&it);
        if (err) {
            rn_free(buf);
            return fail("records", err);
        }
        pos += rn_batch_total_size(&hdr);
    }
    rn_free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "build") == 0)
        return cmd_build(argc, argv);
    if (argc == 2 && strcmp(argv[1], "records") == 0)
        return cmd_records();
    if (argc < 3 || argc > 4)
        return usage();
    int raw, codec = parse_codec(argv[2], &raw);
    if (codec < 0)
        return usage();
    size_t len, out_len;
    uint8_t *in = read_all(stdin, &len), *out;
    int err;
    if (strcmp(argv[1], "compress") == 0) {
        rn_codec_opts_t opts = {argc == 4 ? atoi(argv[3]) : 0, raw};
        err = rn_codec_compress(codec, &opts, in, len, &out, &out_len);
    } else if (strcmp(argv[1], "decompress") == 0) {
        size_t max = argc == 4 ? strtoull(argv[3], NULL, 10) : (size_t)1 << 30;
        err = rn_codec_decompress(codec, in, len, max, &out, &out_len);
    } else {
        return usage();
    }
    if (err) {
        rn_free(in);
        return fail(argv[1], err);
    }
    fwrite(out, 1, out_len, stdout);
    rn_free(out);
    rn_free(in);
    return 0;
}
