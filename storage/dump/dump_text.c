/* runnel-dump for the small files of a data directory: offset checkpoints,
 * leader-epoch-checkpoint, partition.metadata, meta.properties and producer state
 * snapshots, each printed with its meaning and judged by the parser runnel itself uses
 * (the leader epochs are also listed as written, with the entries Kafka would drop). */
#include "dump_internal.h"

#include "rn_alloc.h"
#include "rn_checkpoint.h"
#include "rn_datadir.h"
#include "rn_epochs.h"
#include "rn_err.h"
#include "rn_partmeta.h"
#include "rn_pidsnap.h"
#include "rn_uuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A line cursor: next_line returns the next line (without '\n') or 0 at the end. */
typedef struct lines {
    const char *p, *end;
    int number;
} lines_t;

static int next_line(lines_t *ls, const char **line, size_t *len)
{
    if (ls->p >= ls->end)
        return 0;
    const char *nl = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
    const char *stop = nl ? nl : ls->end;
    *line = ls->p;
    *len = (size_t)(stop - ls->p);
    ls->p = nl ? nl + 1 : ls->end;
    ls->number++;
    return 1;
}

/* Parse a whole decimal int64 from line[0..len). */
static int parse_i64(const char *s, size_t len, int64_t *v)
{
    char tmp[32];
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || *end != '\0' || tmp[0] == ' ' || tmp[0] == '+')
        return -1;
    *v = x;
    return 0;
}

static const char *checkpoint_meaning(const char *name)
{
    if (strcmp(name, RN_CHECKPOINT_RECOVERY_POINT) == 0)
        return "recovery point per partition (every segment below it was flushed)";
    if (strcmp(name, RN_CHECKPOINT_LOG_START) == 0)
        return "log start offset per partition";
    if (strcmp(name, RN_CHECKPOINT_REPLICATION) == 0)
        return "high watermark per partition";
    if (strcmp(name, RN_CHECKPOINT_CLEANER) == 0)
        return "cleaned-up-to offset per partition (log compaction)";
    return "offset per partition";
}

static int dump_checkpoint(FILE *out, const char *name, const uint8_t *buf, size_t len)
{
    int problems = 0;
    rn_checkpoint_t cp;
    char err[256];
    if (rn_checkpoint_parse(name, buf, len, &cp, err, sizeof(err)) != 0) {
        rn__dump_error(out, &problems, "%s", err);
        return problems;
    }
    fprintf(out, "%s: %s, %zu entr%s\n", name, checkpoint_meaning(name), cp.count,
            cp.count == 1 ? "y" : "ies");
    for (size_t i = 0; i < cp.count; i++)
        fprintf(out, "  %s-%d: %lld\n", cp.entries[i].topic, cp.entries[i].partition,
                (long long)cp.entries[i].offset);
    rn_checkpoint_free(&cp);
    return problems;
}

static int dump_leader_epoch(FILE *out, const char *name, const uint8_t *buf, size_t len)
{
    int problems = 0;
    lines_t ls = {(const char *)buf, (const char *)buf + len, 0};
    const char *line;
    size_t ll;
    int64_t version, count, prev_epoch = -1, prev_offset = -1;
    if (len == 0) {
        fprintf(out, "%s: empty (no epochs recorded yet)\n", name);
        return 0;
    }
    if (!next_line(&ls, &line, &ll) || parse_i64(line, ll, &version) || version != 0) {
        rn__dump_error(out, &problems, "%s:1: expected the version line \"0\"", name);
        return problems;
    }
    if (!next_line(&ls, &line, &ll) || parse_i64(line, ll, &count) || count < 0) {
        rn__dump_error(out, &problems, "%s:2: expected the number of entries", name);
        return problems;
    }
    fprintf(out, "%s: leader epochs and their start offsets, version 0, %lld entr%s\n", name,
            (long long)count, count == 1 ? "y" : "ies");
    int64_t seen = 0;
    while (next_line(&ls, &line, &ll)) {
        const char *sp = memchr(line, ' ', ll);
        int64_t epoch, offset;
        if (sp == NULL || parse_i64(line, (size_t)(sp - line), &epoch) ||
            parse_i64(sp + 1, ll - (size_t)(sp - line) - 1, &offset) || epoch < 0 ||
            epoch > INT32_MAX || offset < 0) {
            rn__dump_error(out, &problems,
                           "%s:%d: expected \"<epoch> <start offset>\", got \"%.*s\"", name,
                           ls.number, (int)(ll < 80 ? ll : 80), line);
            continue;
        }
        seen++;
        fprintf(out, "  epoch %lld starts at offset %lld\n", (long long)epoch, (long long)offset);
        if (epoch <= prev_epoch || offset < prev_offset)
            rn__dump_error(out, &problems,
                           "%s:%d: epoch %lld at offset %lld does not follow epoch %lld at "
                           "offset %lld (epochs must increase, offsets must not decrease)",
                           name, ls.number, (long long)epoch, (long long)offset,
                           (long long)prev_epoch, (long long)prev_offset);
        prev_epoch = epoch;
        prev_offset = offset;
    }
    if (seen != count)
        rn__dump_error(out, &problems, "%s: the count line says %lld entries, the file has %lld",
                       name, (long long)count, (long long)seen);
    /* runnel's loader is the judge of what the broker accepts; its complaint adds nothing
     * when the lines above already named the problem. */
    rn_epochs_t ec;
    char err[256];
    rn_epochs_init(&ec);
    if (rn_epochs_parse(&ec, name, buf, len, err, sizeof(err)) != 0 && problems == 0)
        rn__dump_error(out, &problems, "%s", err);
    rn_epochs_destroy(&ec);
    return problems;
}

/* Print a base64 Kafka id with its text form when it parses. */
static void print_uuid(FILE *out, const char *what, const char *s, size_t len)
{
    rn_uuid_t uuid;
    char text[RN_UUID_TEXT_LEN + 1];
    int shown = (int)(len < 80 ? len : 80);
    if (rn_uuid_from_base64(s, len, &uuid) != 0) {
        fprintf(out, "  %s: %.*s (not a Kafka id)\n", what, shown, s);
        return;
    }
    rn_uuid_to_text(&uuid, text);
    fprintf(out, "  %s: %.*s (%s)\n", what, shown, s, text);
}

static int dump_partition_meta(FILE *out, const char *name, const uint8_t *buf, size_t len)
{
    int problems = 0;
    rn_uuid_t id;
    char err[256], b64[RN_UUID_BASE64_LEN + 1], text[RN_UUID_TEXT_LEN + 1];
    fprintf(out, "%s: the partition's topic id\n", name);
    if (rn_partmeta_parse(name, buf, len, &id, err, sizeof(err)) != 0) {
        lines_t ls = {(const char *)buf, (const char *)buf + len, 0};
        const char *line;
        size_t ll;
        while (next_line(&ls, &line, &ll) && ls.number <= 10)
            fprintf(out, "  line %d: %.*s\n", ls.number, (int)(ll < 80 ? ll : 80), line);
        rn__dump_error(out, &problems, "%s", err);
        return problems;
    }
    rn_uuid_to_base64(&id, b64);
    rn_uuid_to_text(&id, text);
    fprintf(out, "  topic id: %s (%s)\n", b64, text);
    return problems;
}

static size_t trim(const char **s, size_t len)
{
    while (len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        len--;
    }
    while (len > 0 && ((*s)[len - 1] == ' ' || (*s)[len - 1] == '\t' || (*s)[len - 1] == '\r'))
        len--;
    return len;
}

/* Explain each line, then let rn_datadir's parser (what runneld runs at start-up) judge. */
static int dump_meta_properties(FILE *out, const char *name, const uint8_t *buf, size_t len)
{
    int problems = 0;
    lines_t ls = {(const char *)buf, (const char *)buf + len, 0};
    const char *line;
    size_t ll;
    fprintf(out, "%s: identity of this data directory\n", name);
    while (next_line(&ls, &line, &ll)) {
        ll = trim(&line, ll);
        if (ll == 0)
            continue;
        if (line[0] == '#' || line[0] == '!') {
            fprintf(out, "  (comment) %.*s\n", (int)(ll < 200 ? ll : 200), line);
            continue;
        }
        const char *sep = line;
        while (sep < line + ll && *sep != '=' && *sep != ':' && *sep != ' ')
            sep++;
        const char *key = line, *val = sep < line + ll ? sep + 1 : sep;
        size_t kl = (size_t)(sep - line);
        size_t vl = trim(&val, ll - (size_t)(val - line));
        if (kl == 7 && memcmp(key, "version", 7) == 0) {
            const char *what = vl == 1 && val[0] == '1'   ? "KRaft"
                               : vl == 1 && val[0] == '0' ? "ZooKeeper-era layout"
                                                          : "unknown";
            fprintf(out, "  version: %.*s (%s)\n", (int)(vl < 80 ? vl : 80), val, what);
        } else if ((kl == 7 && memcmp(key, "node.id", 7) == 0) ||
                   (kl == 9 && memcmp(key, "broker.id", 9) == 0)) {
            fprintf(out, "  %.*s: %.*s (the id of the node owning this directory)\n", (int)kl, key,
                    (int)(vl < 80 ? vl : 80), val);
        } else if ((kl == 10 && memcmp(key, "cluster.id", 10) == 0) ||
                   (kl == 12 && memcmp(key, "directory.id", 12) == 0)) {
            char what[16];
            snprintf(what, sizeof(what), "%.*s", (int)kl, key);
            print_uuid(out, what, val, vl);
        } else {
            fprintf(out, "  %.*s: %.*s (not interpreted)\n", (int)(kl < 80 ? kl : 80), key,
                    (int)(vl < 80 ? vl : 80), val);
        }
    }
    rn_datadir_meta_t meta;
    char err[256];
    int rc = rn_datadir_meta_parse(name, buf, len, &meta, err, sizeof(err));
    if (rc != 0)
        rn__dump_error(out, &problems, "%s%s", err,
                       rc == RN_EUNSUPPORTED ? " (runnel does not open this directory)" : "");
    return problems;
}

static int dump_snapshot(FILE *out, const char *name, const uint8_t *buf, size_t len)
{
    int problems = 0;
    rn_pidsnap_entry_t *entries = NULL;
    size_t count = 0;
    char err[256];
    if (rn_pidsnap_parse(name, buf, len, &entries, &count, err, sizeof(err)) != 0) {
        rn__dump_error(out, &problems, "%s", err);
        return problems;
    }
    fprintf(out, "%s: producer state snapshot, version %d, %zu producer%s\n", name,
            RN_PIDSNAP_VERSION, count, count == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        const rn_pidsnap_entry_t *e = &entries[i];
        fprintf(out,
                "producerId: %lld producerEpoch: %d coordinatorEpoch: %d currentTxnFirstOffset: "
                "%lld lastSequence: %d lastOffset: %lld offsetDelta: %d timestamp: %lld\n",
                (long long)e->producer_id, e->producer_epoch, e->coordinator_epoch,
                (long long)e->current_txn_first_offset, e->last_sequence, (long long)e->last_offset,
                e->offset_delta, (long long)e->timestamp);
    }
    rn_free(entries);
    return problems;
}

int rn_dump_text(FILE *out, enum rn_dump_text_kind kind, const char *name, const uint8_t *buf,
                 size_t len)
{
    switch (kind) {
    case RN_DUMP_CHECKPOINT: return dump_checkpoint(out, name, buf, len);
    case RN_DUMP_LEADER_EPOCH: return dump_leader_epoch(out, name, buf, len);
    case RN_DUMP_PARTITION_META: return dump_partition_meta(out, name, buf, len);
    case RN_DUMP_META_PROPERTIES: return dump_meta_properties(out, name, buf, len);
    case RN_DUMP_PRODUCER_SNAPSHOT: return dump_snapshot(out, name, buf, len);
    }
    return 0;
}
