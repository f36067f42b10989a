/* runnel produce: lines of input become records, batched per partition with the storage
 * layer's batch builder (rn_batch_build: v2 batches, any codec), sent to each partition's
 * leader with Produce, and summarised as the offsets written.
 *
 * Partitioning follows the Java client so a keyed record lands where a Java producer would
 * put it: murmur2(key) as a positive int, modulo the partition count. Unkeyed records stick
 * to one partition until its batch is sent, then move to the next (round-robin per batch). */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_records.h"
#include "rn_str.h"
#include "rn_vec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORD_BYTES ((size_t)64 << 20)
#define SEND_RETRIES     5

enum { OPT_NULL_EMPTY = 0x100, OPT_BATCH_BYTES, OPT_LINGER };

typedef struct produce_opts {
    const char *file;
    char *key_sep;
    size_t key_sep_len;
    char *delim;
    size_t delim_len;
    rn_record_header_t *headers;
    size_t nheaders;
    int32_t partition; /* -1: partitioner */
    int codec;
    int16_t acks;
    bool null_empty;
    int64_t batch_bytes;
    int32_t linger_ms;
} produce_opts_t;

/* Records waiting to be sent to one partition. Their bytes live in data (stable
 * addresses), so specs can point at them. */
typedef struct pending {
    rn_arena_t data;
    rn_record_spec_t *recs;
    size_t n, cap;
    size_t bytes;
    /* results */
    int64_t produced;
    int64_t first_offset, last_offset;
} pending_t;

typedef struct producer {
    rn_cli_t *cli;
    produce_opts_t *o;
    const char *topic;
    int32_t npart;
    int32_t *leaders; /* per partition */
    pending_t *parts;
    int32_t sticky; /* partition for unkeyed records */
    int64_t total;
    int16_t version;
} producer_t;

/* Set by SIGINT/SIGTERM: stop reading, send what is pending, print the summary. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static int produce_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    produce_opts_t *o = ctx;
    switch (c) {
    case 'f': o->file = arg; return 0;
    case 'K':
        o->key_sep = rn_cli_keep(cli, arg);
        o->key_sep_len = rn_cli_unescape(o->key_sep);
        if (o->key_sep_len == 0)
            return rn_cli_usage(cli, "--key-separator must not be empty");
        return 0;
    case 'D':
        o->delim = rn_cli_keep(cli, arg);
        o->delim_len = rn_cli_unescape(o->delim);
        if (o->delim_len == 0)
            return rn_cli_usage(cli, "--delimiter must not be empty");
        return 0;
    case 'H': {
        char *kv = rn_cli_keep(cli, arg);
        char *eq = strchr(kv, '=');
        if (eq == kv)
            return rn_cli_usage(cli, "--header takes KEY=VALUE (or KEY for a null value)");
        o->headers = rn_xrealloc(o->headers, sizeof *o->headers * (o->nheaders + 1));
        rn_record_header_t *h = &o->headers[o->nheaders++];
        if (eq) {
            *eq = '\0';
            h->value = eq + 1;
            h->value_len = rn_cli_unescape(eq + 1);
        } else {
            h->value = NULL;
            h->value_len = 0;
        }
        h->key = kv;
        h->key_len = strlen(kv);
        return 0;
    }
    case 'p': return rn_cli_parse_i32(cli, "--partition", arg, 0, INT32_MAX, &o->partition);
    case 'z':
        o->codec = rn_codec_from_name(arg);
        if (o->codec < 0)
            return rn_cli_usage(cli,
                                "--compression takes none, gzip, snappy, lz4 or zstd, not "
                                "\"%s\"",
                                arg);
        return 0;
    case 'a':
        if (strcmp(arg, "all") == 0 || strcmp(arg, "-1") == 0)
            o->acks = -1;
        else if (strcmp(arg, "0") == 0 || strcmp(arg, "1") == 0)
            o->acks = (int16_t)(arg[0] - '0');
        else
            return rn_cli_usage(cli, "--acks takes 0, 1 or all, not \"%s\"", arg);
        return 0;
    case OPT_NULL_EMPTY: o->null_empty = true; return 0;
    case OPT_BATCH_BYTES:
        return rn_cli_parse_i64(cli, "--batch-bytes", arg, 1, 256 << 20, &o->batch_bytes);
    case OPT_LINGER: return rn_cli_parse_i32(cli, "--linger-ms", arg, 0, 3600000, &o->linger_ms);
    }
    return RN_CLI_EXIT_USAGE;
}

/* Kafka's murmur2 (the Java client's Utils.murmur2, seed 0x9747b28c). */
static int32_t murmur2(const uint8_t *data, size_t len)
{
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *p = data + 4 * i;
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + 4 * n4;
    switch (len % 4) {
    case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1: h ^= tail[0]; h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Refresh the leaders of the topic (after NOT_LEADER and friends). */
static int refresh_leaders(producer_t *pr)
{
    rn_metadata_response_t *md;
    const rn_metadata_response_topic_t *t;
    int st = rn_cli_topic_md(pr->cli, pr->topic, false, &md, &t);
    if (st != 0)
        return st;
    for (int32_t i = 0; i < t->partitions.count; i++) {
        const rn_metadata_response_partition_t *p = &t->partitions.items[i];
        if (p->partition_index >= 0 && p->partition_index < pr->npart)
            pr->leaders[p->partition_index] = p->leader_id;
    }
    return 0;
}

static bool retriable(int16_t code)
{
    return code == RN_KERR_NOT_LEADER_OR_FOLLOWER || code == RN_KERR_LEADER_NOT_AVAILABLE ||
           code == RN_KERR_REQUEST_TIMED_OUT || code == RN_KERR_NOT_ENOUGH_REPLICAS ||
           code == RN_KERR_KAFKA_STORAGE_ERROR || code == RN_KERR_NETWORK_EXCEPTION ||
           code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Send the pending records of every partition led by `leader` that `todo` marks, as one
 * Produce request. Partitions that succeed are cleared; retriable failures stay marked. */
static int send_leader(producer_t *pr, int32_t leader, bool *todo, uint8_t **batches,
                       size_t *batch_len)
{
    rn_cli_t *cli = pr->cli;
    int st;
    rn_conn_t *conn = rn_cli_broker(cli, leader, &st);
    if (conn == NULL)
        return st;
    int16_t v = rn_conn_version(conn, RN_API_PRODUCE, -1);
    if (v < 3)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "broker %d does not accept v2 record batches (Produce v3+)", leader);
    rn_produce_request_t req;
    rn_produce_request_init(&req);
    req.acks = pr->o->acks;
    req.timeout_ms = cli->timeout_ms;
    rn_topic_produce_data_t *td =
        rn_topic_produce_data_array_alloc(&cli->arena, &req.topic_data, 1);
    td->name = rn_str(pr->topic);
    int n = 0;
    for (int32_t p = 0; p < pr->npart; p++)
        n += todo[p] && pr->leaders[p] == leader;
    rn_partition_produce_data_t *pd =
        rn_partition_produce_data_array_alloc(&cli->arena, &td->partition_data, n);
    int k = 0;
    for (int32_t p = 0; p < pr->npart; p++) {
        if (!todo[p] || pr->leaders[p] != leader)
            continue;
        pd[k].index = p;
        pd[k].records = (rn_records_t){.ptr = batches[p], .len = (int32_t)batch_len[p]};
        k++;
    }
    if (pr->o->acks == 0) {
        int err = rn_conn_send(conn, RN_API_PRODUCE, v, &req);
        if (err != 0)
            return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                               "Produce to broker %d failed: %s", leader, rn_conn_error(conn));
        for (int32_t p = 0; p < pr->npart; p++)
            if (todo[p] && pr->leaders[p] == leader) {
                pr->parts[p].produced += (int64_t)pr->parts[p].n;
                pr->total += (int64_t)pr->parts[p].n;
                todo[p] = false;
            }
        return 0;
    }
    void *body;
    int err = rn_conn_call(conn, RN_API_PRODUCE, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "Produce to broker %d failed: %s (records of this batch may or may "
                           "not have been written)",
                           leader, rn_conn_error(conn));
    const rn_produce_response_t *resp = body;
    for (int32_t ti = 0; ti < resp->responses.count; ti++) {
        const rn_topic_produce_response_t *tr = &resp->responses.items[ti];
        for (int32_t pi = 0; pi < tr->partition_responses.count; pi++) {
            const rn_partition_produce_response_t *r = &tr->partition_responses.items[pi];
            int32_t p = r->index;
            if (p < 0 || p >= pr->npart || !todo[p] || pr->leaders[p] != leader)
                continue;
            if (r->error_code != 0) {
                if (retriable(r->error_code))
                    continue; /* stays in todo */
                rn_str_t msg = r->error_message;
                if (msg.len <= 0 && r->record_errors.count > 0)
                    msg = r->record_errors.items[0].batch_index_error_message;
                return rn_cli_fail(cli, rn_cli_kerr_status(r->error_code),
                                   "topic \"%s\" partition %d refused the batch: %s%s%.*s%s",
                                   pr->topic, p, rn_kerr_name(r->error_code),
                                   msg.len > 0 ? ": " : "", RN_STR_ARGS(msg),
                                   rn_cli_kerr_hint(r->error_code));
            }
            pending_t *pp = &pr->parts[p];
            if (pp->produced == 0)
                pp->first_offset = r->base_offset;
            pp->last_offset = r->base_offset + (int64_t)pp->n - 1;
            pp->produced += (int64_t)pp->n;
            pr->total += (int64_t)pp->n;
            todo[p] = false;
        }
    }
    return 0;
}

/* Build a batch per partition with pending records and send them all, retrying
 * partitions whose leader moved. */
static int flush_all(producer_t *pr)
{
    rn_cli_t *cli = pr->cli;
    bool *todo = rn_xcalloc((size_t)pr->npart, sizeof *todo);
    uint8_t **batches = rn_xcalloc((size_t)pr->npart, sizeof *batches);
    size_t *batch_len = rn_xcalloc((size_t)pr->npart, sizeof *batch_len);
    int st = 0;
    for (int32_t p = 0; p < pr->npart && st == 0; p++) {
        if (pr->parts[p].n == 0)
            continue;
        rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
        spec.codec = pr->o->codec;
        int err =
            rn_batch_build(&spec, pr->parts[p].recs, pr->parts[p].n, &batches[p], &batch_len[p]);
        if (err != 0)
            st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "cannot build a %s batch for partition %d: %s",
                             rn_codec_name(pr->o->codec), p, rn_strerror(err));
        else
            todo[p] = true;
    }
    for (int attempt = 0; st == 0; attempt++) {
        bool any = false;
        for (int32_t p = 0; p < pr->npart && st == 0; p++) {
            if (!todo[p])
                continue;
            any = true;
            if (pr->leaders[p] < 0)
                continue;
            st = send_leader(pr, pr->leaders[p], todo, batches, batch_len);
        }
        if (!any || st != 0)
            break;
        bool left = false;
        for (int32_t p = 0; p < pr->npart; p++)
            left |= todo[p];
        if (!left)
            break;
        if (attempt + 1 >= SEND_RETRIES) {
            for (int32_t p = 0; p < pr->npart; p++)
                if (todo[p]) {
                    st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                                     "topic \"%s\" partition %d has no available leader after %d "
                                     "tries; check `runnel topic describe %s`",
                                     pr->topic, p, SEND_RETRIES, pr->topic);
                    break;
                }
            break;
        }
        sleep_ms(100 << attempt);
        st = refresh_leaders(pr);
    }
    for (int32_t p = 0; p < pr->npart; p++) {
        rn_free(batches[p]);
        if (!todo[p] || st != 0) {
            rn_arena_reset(&pr->parts[p].data);
            pr->parts[p].n = 0;
            pr->parts[p].bytes = 0;
        }
    }
    rn_free(todo);
    rn_free(batches);
    rn_free(batch_len);
    rn_arena_reset(&cli->arena);
    return st;
}

/* Queue one record (bytes copied). Returns true when its partition's batch is full. */
static bool add_record(producer_t *pr, const char *line, size_t len)
{
    const produce_opts_t *o = pr->o;
    const char *key = NULL, *value = line;
    size_t key_len = 0, value_len = len;
    if (o->key_sep) {
        const char *sep = memmem(line, len, o->key_sep, o->key_sep_len);
        if (sep) {
            key = line;
            key_len = (size_t)(sep - line);
            value = sep + o->key_sep_len;
            value_len = len - key_len - o->key_sep_len;
        }
    }
    int32_t p;
    if (o->partition >= 0)
        p = o->partition;
    else if (key)
        p = (int32_t)((uint32_t)murmur2((const uint8_t *)key, key_len) & 0x7fffffff) % pr->npart;
    else
        p = pr->sticky;
    pending_t *pp = &pr->parts[p];
    rn_vec_xreserve(pp->recs, pp->cap, pp->n + 1);
    rn_record_spec_t *rec = &pp->recs[pp->n++];
    memset(rec, 0, sizeof *rec);
    char *copy = rn_arena_memdup(&pp->data, line, len ? len : 1);
    if (copy == NULL)
        abort();
    if (key) {
        rec->key = copy;
        rec->key_len = key_len;
    }
    if (!(o->null_empty && value_len == 0)) {
        rec->value = copy + (value - line);
        rec->value_len = value_len;
    }
    rec->headers = o->headers;
    rec->header_count = o->nheaders;
    rec->timestamp = wall_ms();
    pp->bytes += len + 24;
    for (size_t i = 0; i < o->nheaders; i++)
        pp->bytes += o->headers[i].key_len + o->headers[i].value_len + 4;
    bool full = pp->bytes >= (size_t)o->batch_bytes;
    if (full && !key && o->partition < 0)
        pr->sticky = (pr->sticky + 1) % pr->npart;
    return full;
}

static bool any_pending(const producer_t *pr)
{
    for (int32_t p = 0; p < pr->npart; p++)
        if (pr->parts[p].n > 0)
            return true;
    return false;
}

/* Read records from fd until EOF, flushing full batches, and batches idle for linger_ms. */
static int read_loop(producer_t *pr, int fd)
{
    const produce_opts_t *o = pr->o;
    size_t cap = 1 << 16, len = 0, scan = 0;
    char *buf = rn_xmalloc(cap);
    int st = 0;
    bool eof = false;
    while (st == 0 && !eof && !stop_signal) {
        if (any_pending(pr)) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int n = poll(&pfd, 1, o->linger_ms);
            if (n == 0) {
                st = flush_all(pr);
                continue;
            }
        }
        if (cap - len < 4096) {
            if (cap >= MAX_RECORD_BYTES * 2) {
                st = rn_cli_fail(pr->cli, RN_CLI_EXIT_FAIL,
                                 "a record is longer than %zu bytes; is --delimiter right?",
                                 MAX_RECORD_BYTES);
                break;
            }
            cap *= 2;
            buf = rn_xrealloc(buf, cap);
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0) {
            if (errno == EINTR)
                continue; /* the loop condition sees a stop signal */
            st = rn_cli_fail(pr->cli, RN_CLI_EXIT_FAIL, "cannot read %s: %s",
                             o->file ? o->file : "stdin", strerror(errno));
            break;
        }
        if (k == 0)
            eof = true;
        len += (size_t)k;
        const char *delim = o->delim ? o->delim : "\n";
        size_t dlen = o->delim ? o->delim_len : 1;
        size_t start = 0;
        bool full = false;
        for (;;) {
            char *d = len - scan >= dlen ? memmem(buf + scan, len - scan, delim, dlen) : NULL;
            if (d == NULL)
                break;
            size_t rlen = (size_t)(d - (buf + start));
            /* A CRLF line ending is one delimiter when reading lines. */
            if (o->delim == NULL && rlen > 0 && buf[start + rlen - 1] == '\r')
                rlen--;
            full |= add_record(pr, buf + start, rlen);
            start = scan = (size_t)(d - buf) + dlen;
        }
        if (eof && start < len)
            full |= add_record(pr, buf + start, len - start), start = len;
        memmove(buf, buf + start, len - start);
        len -= start;
        scan = len >= dlen ? len - dlen + 1 : 0;
        if (scan > len)
            scan = 0;
        if (full)
            st = flush_all(pr);
    }
    if (st == 0 && any_pending(pr))
        st = flush_all(pr);
    rn_free(buf);
    return st;
}

static void print_summary(producer_t *pr)
{
    rn_cli_t *cli = pr->cli;
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "topic");
        rn_cli_json_str(&j, pr->topic);
        rn_cli_json_key(&j, "records");
        rn_cli_json_int(&j, pr->total);
        rn_cli_json_key(&j, "acks");
        rn_cli_json_str(&j, pr->o->acks == -1 ? "all" : pr->o->acks == 1 ? "1" : "0");
        rn_cli_json_key(&j, "partitions");
        rn_cli_json_arr(&j);
        for (int32_t p = 0; p < pr->npart; p++) {
            const pending_t *pp = &pr->parts[p];
            if (pp->produced == 0)
                continue;
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "partition");
            rn_cli_json_int(&j, p);
            rn_cli_json_key(&j, "records");
            rn_cli_json_int(&j, pp->produced);
            rn_cli_json_key(&j, "first_offset");
            if (pr->o->acks != 0)
                rn_cli_json_int(&j, pp->first_offset);
            else
                rn_cli_json_null(&j);
            rn_cli_json_key(&j, "last_offset");
            if (pr->o->acks != 0)
                rn_cli_json_int(&j, pp->last_offset);
            else
                rn_cli_json_null(&j);
            rn_cli_json_end(&j, '}');
        }
        rn_cli_json_end(&j, ']');
        rn_cli_json_end(&j, '}');
        return;
    }
    printf("produced %" PRId64 " record%s to \"%s\"", pr->total, pr->total == 1 ? "" : "s",
           pr->topic);
    const char *sep = " (";
    for (int32_t p = 0; p < pr->npart; p++) {
        const pending_t *pp = &pr->parts[p];
        if (pp->produced == 0)
            continue;
        if (pr->o->acks == 0)
            printf("%spartition %d: %" PRId64, sep, p, pp->produced);
        else if (pp->first_offset == pp->last_offset)
            printf("%spartition %d: offset %" PRId64, sep, p, pp->first_offset);
        else
            printf("%spartition %d: offsets %" PRId64 "-%" PRId64, sep, p, pp->first_offset,
                   pp->last_offset);
        sep = "; ";
    }
    printf("%s\n", sep[0] == ';' ? ")" : "");
}

int rn_cli_produce(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"key-separator", required_argument, NULL, 'K'},
        {"header", required_argument, NULL, 'H'},
        {"partition", required_argument, NULL, 'p'},
        {"compression", required_argument, NULL, 'z'},
        {"acks", required_argument, NULL, 'a'},
        {"delimiter", required_argument, NULL, 'D'},
        {"null-empty", no_argument, NULL, OPT_NULL_EMPTY},
        {"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
        {"linger-ms", required_argument, NULL, OPT_LINGER},
        {NULL, 0, NULL, 0},
    };
    produce_opts_t o = {.partition = -1, .acks = -1, .batch_bytes = 1000000, .linger_ms = 100};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "f:K:H:p:z:a:D:", produce_opt, &o, &first);
    if (st == 0 && argc - first != 1)
        st = rn_cli_usage(cli, argc - first < 1 ? "name the topic to produce to"
                                                : "give exactly one topic");
    int fd = 0;
    if (st == 0 && o.file != NULL) {
        fd = open(o.file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            st = rn_cli_fail(cli, RN_CLI_EXIT_USAGE, "cannot open %s: %s", o.file, strerror(errno));
    }
    producer_t pr = {.cli = cli, .o = &o, .topic = st == 0 ? argv[first] : NULL};
    rn_metadata_response_t *md;
    const rn_metadata_response_topic_t *t;
    if (st == 0)
        st = rn_cli_topic_md(cli, pr.topic, true, &md, &t);
    if (st == 0) {
        pr.npart = t->partitions.count;
        pr.leaders = rn_xcalloc((size_t)pr.npart, sizeof *pr.leaders);
        for (int32_t p = 0; p < pr.npart; p++)
            pr.leaders[p] = -1;
        for (int32_t i = 0; i < t->partitions.count; i++) {
            const rn_metadata_response_partition_t *p = &t->partitions.items[i];
            if (p->partition_index >= 0 && p->partition_index < pr.npart)
                pr.leaders[p->partition_index] = p->leader_id;
        }
        if (o.partition >= pr.npart)
            st = rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND,
                             "topic \"%s\" has partitions 0-%d; there is no partition %d", pr.topic,
                             pr.npart - 1, o.partition);
    }
    if (st == 0) {
        pr.parts = rn_xcalloc((size_t)pr.npart, sizeof *pr.parts);
        for (int32_t p = 0; p < pr.npart; p++)
            rn_arena_init(&pr.parts[p].data, 0);
        pr.sticky = (int32_t)(wall_ms() % pr.npart);
        rn_arena_reset(&cli->arena);
        /* No SA_RESTART: a signal interrupts read() so the loop can stop and flush. */
        struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        st = read_loop(&pr, fd);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (pr.total > 0 || st == 0)
            print_summary(&pr);
        for (int32_t p = 0; p < pr.npart; p++) {
            rn_arena_free(&pr.parts[p].data);
            rn_free(pr.parts[p].recs);
        }
        rn_free(pr.parts);
    }
    if (fd > 0)
        close(fd);
    rn_free(pr.leaders);
    rn_free(o.headers);
    return st;
}
