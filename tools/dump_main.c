/* runnel-dump: print and check the files of a runnel (or Apache Kafka) data directory.
 * Command-line handling only; the parsers live in the rn_dump module (rn_dump.h). */
#include "rn_dump.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: runnel-dump [options] PATH...\n"
    "\n"
    "Print and check the files of a runnel or Apache Kafka data directory. A PATH may be a\n"
    "file or a directory (every file below it is dumped, in name order). Files are only\n"
    "read, never locked or changed, so a live data directory is safe to inspect.\n"
    "\n"
    "  *.log                 one line per record batch, as kafka-dump-log prints it\n"
    "  *.index               offset index entries (offset: N position: P)\n"
    "  *.timeindex           time index entries (timestamp: T offset: N)\n"
    "  *.snapshot            producer state snapshots (one line per producer)\n"
    "  *-offset-checkpoint, leader-epoch-checkpoint, partition.metadata, meta.properties\n"
    "                        parsed, explained and checked with runnel's own parsers\n"
    "\n"
    "options:\n"
    "  -r, --records         also print every record (offset, timestamp, key, value,\n"
    "                        headers), decompressing compressed batches; control records\n"
    "                        are decoded (transaction commit/abort markers)\n"
    "      --print-data-log  the same as --records (kafka-dump-log's name)\n"
    "      --values text|hex print keys, values and header values as text (non-printable\n"
    "                        bytes escaped as \\xNN; the default) or as hex\n"
    "  -x, --hex             xxd-style dump of every batch: position, 16 bytes in hex, ASCII,\n"
    "                        and a line with a caret under the first byte of each header\n"
    "                        and record field naming it and its value; the records of a\n"
    "                        compressed batch are shown again decompressed\n"
    "  -v, --verify          check each .index/.timeindex entry against the matching .log:\n"
    "                        an index entry must point at the start of a batch holding its\n"
    "                        offset, a time index entry at a batch whose maxTimestamp is its\n"
    "                        timestamp; entries must increase\n"
    "      --max-decompressed BYTES\n"
    "                        refuse to decompress a batch's records beyond BYTES\n"
    "                        (default 268435456)\n"
    "  -h, --help            print this help\n"
    "\n"
    "Batches are always checked (length, magic, CRC-32C, record count, increasing offsets);\n"
    "with --records or --hex every record is checked too. Each problem is printed as a line\n"
    "starting with \"error: \" that names its byte position; the dump continues with the next\n"
    "batch when the damaged batch's length is sane and stops cleanly otherwise.\n"
    "\n"
    "exit status: 0 everything valid, 1 corruption or inconsistencies found,\n"
    "             2 usage error or a file that could not be read\n";

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"records", no_argument, NULL, 'r'},
        {"print-data-log", no_argument, NULL, 'r'},
        {"values", required_argument, NULL, 'V'},
        {"hex", no_argument, NULL, 'x'},
        {"verify", no_argument, NULL, 'v'},
        {"max-decompressed", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_dump_opts_t opts = {0};
    int c;
    while ((c = getopt_long(argc, argv, "rxvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': opts.records = 1; break;
        case 'x': opts.hex = 1; break;
        case 'v': opts.verify = 1; break;
        case 'V':
            if (strcmp(optarg, "hex") == 0) {
                opts.values_hex = 1;
            } else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "runnel-dump: --values takes \"text\" or \"hex\", not \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'M': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end != '\0' || v == 0 || optarg[0] == '-') {
                fprintf(stderr, "runnel-dump: --max-decompressed takes a byte count, not \"%s\"\n",
                        optarg);
                return 2;
            }
            opts.max_decompressed = (size_t)v;
            break;
        }
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind == argc) {
        fprintf(stderr, "runnel-dump: no file or directory given\n\n%s", usage_text);
        return 2;
    }
    int problems = 0, unreadable = 0;
    for (int i = optind; i < argc; i++)
        problems += rn_dump_path(stdout, argv[i], &opts, &unreadable);
    fflush(stdout);
    if (problems)
        fprintf(stderr, "runnel-dump: %d problem%s found\n", problems, problems == 1 ? "" : "s");
    if (unreadable)
        return 2;
    return problems ? 1 : 0;
}
