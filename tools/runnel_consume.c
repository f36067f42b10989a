/* runnel consume: fetch record batches from partition leaders, check and decode them with
 * the storage layer's iterator (decompressing as needed) and print each record with a
 * format string or as JSON. Either reads the partitions directly from a start position
 * (beginning, end, offset, relative, timestamp), or joins a consumer group (runnel_member.c)
 * and reads what the range assignor gives it, committing positions as it goes. */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_batch.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_records.h"
#include "rn_str.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FETCH_MAX_BYTES     (50 << 20)
#define PARTITION_MAX_BYTES (1 << 20)
#define PARTITION_MAX_LIMIT (64 << 20)
#define MAX_DECOMPRESSED    ((size_t)256 << 20)

enum { OPT_FROM_BEGINNING = 0x100, OPT_NULL, OPT_MAX_WAIT, OPT_COMMIT_INTERVAL, OPT_SESSION };

typedef enum start_kind {
    START_END,
    START_BEGINNING,
    START_OFFSET,
    START_FROM_END,
    START_TIME
} start_kind_t;

typedef struct consume_opts {
    int32_t *partitions; /* -p, NULL = all */
    int npartitions;
    start_kind_t start;
    bool start_given;
    int64_t start_value; /* offset, count back from the end, or timestamp */
    const char *group;
    char *format;
    size_t format_len;
    int64_t count; /* 0 = unlimited */
    bool exit_at_end;
    const char *null_text;
    int32_t max_wait_ms;
    int32_t commit_interval_ms;
    int32_t session_timeout_ms;
} consume_opts_t;

typedef struct cpart {
    int32_t partition;
    int32_t leader;
    int64_t position;  /* next offset to print */
    int64_t hwm;       /* high watermark from the last answer, -1 before one */
    int64_t committed; /* group: last committed position, -1 none */
    int32_t max_bytes;
} cpart_t;

typedef struct consumer {
    rn_cli_t *cli;
    consume_opts_t *o;
    const char *topic;
    rn_uuid_t topic_id;
    cpart_t *parts;
    int nparts;
    int64_t printed;
    bool done; /* count reached, output closed or signal */
    rn_cli_member_t *member;
    int64_t last_commit_ms;
    rn_cli_json_t j;
} consumer_t;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int consume_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    consume_opts_t *o = ctx;
    switch (c) {
    case 'p': {
        int32_t p;
        int st = rn_cli_parse_i32(cli, "--partition", arg, 0, INT32_MAX, &p);
        if (st != 0)
            return st;
        o->partitions =
            rn_xrealloc(o->partitions, sizeof *o->partitions * (size_t)(o->npartitions + 1));
        o->partitions[o->npartitions++] = p;
        return 0;
    }
    case OPT_FROM_BEGINNING: o->start = START_BEGINNING, o->start_given = true; return 0;
    case 'o':
        o->start_given = true;
        if (strcmp(arg, "beginning") == 0 || strcmp(arg, "earliest") == 0 ||
            strcmp(arg, "start") == 0) {
            o->start = START_BEGINNING;
            return 0;
        }
        if (strcmp(arg, "end") == 0 || strcmp(arg, "latest") == 0) {
            o->start = START_END;
            return 0;
        }
        if (arg[0] == '@') {
            o->start = START_TIME;
            return rn_cli_parse_time(cli, "--offset @TIME", arg + 1, &o->start_value);
        }
        if (arg[0] == '-') {
            o->start = START_FROM_END;
            return rn_cli_parse_i64(cli, "--offset -N", arg + 1, 0, INT64_MAX, &o->start_value);
        }
        o->start = START_OFFSET;
        if (arg[0] < '0' || arg[0] > '9')
            return rn_cli_usage(cli, "--offset takes beginning, end, N, -N or @TIME, not \"%s\"",
                                arg);
        return rn_cli_parse_i64(cli, "--offset", arg, 0, INT64_MAX, &o->start_value);
    case 'g': o->group = arg; return 0;
    case 'F':
        o->format = rn_cli_keep(cli, arg);
        o->format_len = rn_cli_unescape(o->format);
        return 0;
    case 'c': return rn_cli_parse_i64(cli, "--count", arg, 1, INT64_MAX, &o->count);
    case 'e': o->exit_at_end = true; return 0;
    case OPT_NULL: o->null_text = arg; return 0;
    case OPT_MAX_WAIT:
        return rn_cli_parse_i32(cli, "--max-wait-ms", arg, 0, 60000, &o->max_wait_ms);
    case OPT_COMMIT_INTERVAL:
        return rn_cli_parse_i32(cli, "--commit-interval-ms", arg, 1, 3600000,
                                &o->commit_interval_ms);
    case OPT_SESSION:
        return rn_cli_parse_i32(cli, "--session-timeout-ms", arg, 1000, 3600000,
                                &o->session_timeout_ms);
    }
    return RN_CLI_EXIT_USAGE;
}

/* ---- output ---- */

static void put_bytes(FILE *out, const rn_record_bytes_t *b, const char *null_text)
{
    if (b->len < 0)
        fputs(null_text, out);
    else if (b->len > 0)
        fwrite(b->data, 1, (size_t)b->len, out);
}

static void print_headers(FILE *out, const rn_record_t *rec, const char *null_text)
{
    size_t cursor = 0;
    rn_record_bytes_t k, v;
    for (int i = 0; rn_records_header_next(rec, &cursor, &k, &v) == 1; i++) {
        if (i)
            fputc(',', out);
        put_bytes(out, &k, null_text);
        fputc('=', out);
        put_bytes(out, &v, null_text);
    }
}

static void print_record(consumer_t *c, int32_t partition, const rn_record_t *rec)
{
    FILE *out = stdout;
    const consume_opts_t *o = c->o;
    if (c->cli->json) {
        rn_cli_json_t *j = &c->j;
        rn_cli_json_obj(j);
        rn_cli_json_key(j, "topic");
        rn_cli_json_str(j, c->topic);
        rn_cli_json_key(j, "partition");
        rn_cli_json_int(j, partition);
        rn_cli_json_key(j, "offset");
        rn_cli_json_int(j, rec->offset);
        rn_cli_json_key(j, "timestamp");
        rn_cli_json_int(j, rec->timestamp);
        rn_cli_json_key(j, "key");
        rn_cli_json_bytes(j, rec->key.data, rec->key.len);
        rn_cli_json_key(j, "value");
        rn_cli_json_bytes(j, rec->value.data, rec->value.len);
        rn_cli_json_key(j, "headers");
        rn_cli_json_arr(j);
        size_t cursor = 0;
        rn_record_bytes_t k, v;
        while (rn_records_header_next(rec, &cursor, &k, &v) == 1) {
            rn_cli_json_arr(j);
            rn_cli_json_bytes(j, k.data, k.len);
            rn_cli_json_bytes(j, v.data, v.len);
            rn_cli_json_end(j, ']');
        }
        rn_cli_json_end(j, ']');
        rn_cli_json_end(j, '}');
        return;
    }
    const char *f = o->format ? o->format : "%v";
    size_t flen = o->format ? o->format_len : 2;
    for (size_t i = 0; i < flen; i++) {
        if (f[i] != '%' || i + 1 == flen) {
            fputc(f[i], out);
            continue;
        }
        switch (f[++i]) {
        case 't': fputs(c->topic, out); break;
        case 'p': fprintf(out, "%d", partition); break;
        case 'o': fprintf(out, "%" PRId64, rec->offset); break;
        case 'k': put_bytes(out, &rec->key, o->null_text); break;
        case 'v':
        case 's': put_bytes(out, &rec->value, o->null_text); break;
        case 'K': fprintf(out, "%d", rec->key.len); break;
        case 'S': fprintf(out, "%d", rec->value.len); break;
        case 'T': fprintf(out, "%" PRId64, rec->timestamp); break;
        case 'h': print_headers(out, rec, o->null_text); break;
        case '%': fputc('%', out); break;
        default:
            fputc('%', out);
            fputc(f[i], out);
            break;
        }
    }
    if (flen == 0 || f[flen - 1] != '\n')
        fputc('\n', out);
}

/* ---- positions ---- */

/* Set the position of parts[idx[0..n)] from the start option (ListOffsets). */
static int resolve_start(consumer_t *c, const int *idx, int n)
{
    if (n == 0)
        return 0;
    const consume_opts_t *o = c->o;
    int per = o->start == START_TIME ? 3 : 2;
    rn_cli_offset_q_t *q = rn_xcalloc((size_t)n * (size_t)per, sizeof *q);
    for (int i = 0; i < n; i++) {
        const cpart_t *cp = &c->parts[idx[i]];
        for (int k = 0; k < per; k++) {
            rn_cli_offset_q_t *x = &q[i * per + k];
            x->topic = c->topic;
            x->partition = cp->partition;
            x->leader = cp->leader;
            x->timestamp = k == 0 ? -2 : k == 1 ? -1 : o->start_value;
        }
    }
    int st = rn_cli_list_offsets(c->cli, q, n * per);
    for (int i = 0; i < n && st == 0; i++) {
        cpart_t *cp = &c->parts[idx[i]];
        for (int k = 0; k < per && st == 0; k++)
            if (q[i * per + k].error != 0)
                st = rn_cli_fail(c->cli, rn_cli_kerr_status(q[i * per + k].error),
                                 "cannot find the offsets of \"%s\" partition %d: %s%s", c->topic,
                                 cp->partition, rn_kerr_name(q[i * per + k].error),
                                 rn_cli_kerr_hint(q[i * per + k].error));
        if (st != 0)
            break;
        int64_t start = q[i * per].offset, end = q[i * per + 1].offset;
        cp->hwm = end;
        switch (o->start) {
        case START_BEGINNING: cp->position = start; break;
        case START_END: cp->position = end; break;
        case START_OFFSET:
            cp->position = o->start_value < start ? start
                           : o->start_value > end ? end
                                                  : o->start_value;
            if (cp->position != o->start_value)
                rn_cli_note(c->cli,
                            "partition %d holds offsets %" PRId64 "-%" PRId64
                            "; starting at %" PRId64,
                            cp->partition, start, end, cp->position);
            break;
        case START_FROM_END:
            cp->position = end - o->start_value < start ? start : end - o->start_value;
            break;
        case START_TIME:
            /* -1: no record at or after the time, so start at the end. */
            cp->position = q[i * per + 2].offset >= 0 ? q[i * per + 2].offset : end;
            break;
        }
    }
    rn_free(q);
    return st;
}

/* Reload leaders (after NOT_LEADER and friends) and the topic id. */
static int refresh_leaders(consumer_t *c)
{
    rn_metadata_response_t *md;
    const rn_metadata_response_topic_t *t;
    int st = rn_cli_topic_md(c->cli, c->topic, false, &md, &t);
    if (st != 0)
        return st;
    c->topic_id = t->topic_id;
    for (int i = 0; i < c->nparts; i++) {
        const rn_metadata_response_partition_t *p = rn_cli_md_partition(t, c->parts[i].partition);
        c->parts[i].leader = p ? p->leader_id : -1;
    }
    return 0;
}

/* ---- fetching ---- */

/* Print the records of one partition's answer from cp->position on. */
static int take_records(consumer_t *c, cpart_t *cp, const rn_records_t *records)
{
    if (records->len <= 0)
        return 0;
    const uint8_t *p = records->ptr;
    size_t left = (size_t)records->len;
    bool whole = false;
    while (left > 0 && !c->done) {
        rn_batch_header_t hdr;
        int err = rn_batch_header_parse(p, left, &hdr);
        if (err == RN_ETRUNC || (err == 0 && rn_batch_total_size(&hdr) > left))
            break; /* the answer ends inside a batch: fetch it again next time */
        if (err == RN_EUNSUPPORTED)
            return rn_cli_fail(c->cli, RN_CLI_EXIT_FAIL,
                               "partition %d holds a legacy (magic 0/1) message set at offset "
                               "%" PRId64 "; runnel reads record batches v2 only",
                               cp->partition, cp->position);
        size_t total = err == 0 ? rn_batch_total_size(&hdr) : 0;
        if (err == 0)
            err = rn_batch_validate(p, total, &hdr);
        if (err != 0)
            return rn_cli_fail(c->cli, RN_CLI_EXIT_FAIL,
                               "corrupt batch in \"%s\" partition %d near offset %" PRId64 ": %s",
                               c->topic, cp->partition, cp->position, rn_batch_strerror(err));
        whole = true;
        int64_t last = rn_batch_last_offset(&hdr);
        if (last >= cp->position && !rn_batch_is_control(&hdr)) {
            rn_records_iter_t it;
            err = rn_records_open(&it, p, total, NULL, MAX_DECOMPRESSED);
            rn_record_t rec;
            int more = 0;
            while (err == 0 && (more = rn_records_iter_next(&it, &rec)) == 1) {
                if (rec.offset < cp->position)
                    continue;
                print_record(c, cp->partition, &rec);
                cp->position = rec.offset + 1;
                c->printed++;
                if (ferror(stdout) || (c->o->count > 0 && c->printed >= c->o->count)) {
                    c->done = true;
                    break;
                }
            }
            if (err == 0 && more < 0)
                err = more;
            rn_records_close(&it);
            if (err != 0)
                return rn_cli_fail(c->cli, RN_CLI_EXIT_FAIL,
                                   "cannot decode the %s batch at offset %" PRId64
                                   " of \"%s\" partition %d: %s",
                                   rn_codec_name(rn_batch_codec(&hdr)), hdr.base_offset, c->topic,
                                   cp->partition, rn_strerror(err));
        }
        if (!c->done && last + 1 > cp->position)
            cp->position = last + 1;
        p += total;
        left -= total;
    }
    /* A batch larger than what we asked for: ask for more next time. */
    if (!whole && left > 0 && cp->max_bytes < PARTITION_MAX_LIMIT)
        cp->max_bytes *= 2;
    return 0;
}

static bool fetch_retriable(int16_t code)
{
    return code == RN_KERR_NOT_LEADER_OR_FOLLOWER || code == RN_KERR_LEADER_NOT_AVAILABLE ||
           code == RN_KERR_UNKNOWN_LEADER_EPOCH || code == RN_KERR_FENCED_LEADER_EPOCH ||
           code == RN_KERR_REPLICA_NOT_AVAILABLE || code == RN_KERR_KAFKA_STORAGE_ERROR ||
           code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION || code == RN_KERR_UNKNOWN_TOPIC_ID ||
           code == RN_KERR_OFFSET_NOT_AVAILABLE || code == RN_KERR_NOT_COORDINATOR;
}

/* One Fetch to `leader` for its partitions that still have something to read. */
static int fetch_leader(consumer_t *c, int32_t leader, int32_t max_wait_ms, bool *refresh)
{
    rn_cli_t *cli = c->cli;
    int st;
    rn_conn_t *conn = rn_cli_broker(cli, leader, &st);
    if (conn == NULL)
        return st;
    int16_t v = rn_conn_version(conn, RN_API_FETCH, -1);
    if (v < 4)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "broker %d does not serve a Fetch version runnel speaks (v4+)", leader);
    if (v >= 13 && rn_uuid_is_zero(&c->topic_id))
        v = 12; /* no topic id known: name the topic instead */
    rn_fetch_request_t req;
    rn_fetch_request_init(&req);
    req.replica_id = -1;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = FETCH_MAX_BYTES;
    rn_fetch_topic_t *ft = rn_fetch_topic_array_alloc(&cli->arena, &req.topics, 1);
    ft->topic = rn_str(c->topic);
    ft->topic_id = c->topic_id;
    int n = 0;
    for (int i = 0; i < c->nparts; i++)
        n += c->parts[i].leader == leader && !(c->o->exit_at_end && c->parts[i].hwm >= 0 &&
                                               c->parts[i].position >= c->parts[i].hwm);
    if (n == 0)
        return 0;
    rn_fetch_partition_t *fp = rn_fetch_partition_array_alloc(&cli->arena, &ft->partitions, n);
    int k = 0;
    for (int i = 0; i < c->nparts; i++) {
        cpart_t *cp = &c->parts[i];
        if (cp->leader != leader || (c->o->exit_at_end && cp->hwm >= 0 && cp->position >= cp->hwm))
            continue;
        fp[k].partition = cp->partition;
        fp[k].fetch_offset = cp->position;
        fp[k].partition_max_bytes = cp->max_bytes;
        k++;
    }
    int64_t saved_timeout = conn->timeout_ms;
    if (conn->timeout_ms < max_wait_ms + 5000)
        conn->timeout_ms = max_wait_ms + 5000;
    void *body;
    int err = rn_conn_call(conn, RN_API_FETCH, v, &req, &cli->arena, &body);
    conn->timeout_ms = (int)saved_timeout;
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "Fetch from broker %d failed: %s", leader, rn_conn_error(conn));
    const rn_fetch_response_t *resp = body;
    if (resp->error_code != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "Fetch from broker %d failed: %s", leader,
                           rn_kerr_name(resp->error_code));
    for (int32_t ti = 0; ti < resp->responses.count && st == 0 && !c->done; ti++) {
        const rn_fetchable_topic_response_t *tr = &resp->responses.items[ti];
        if (v >= 13 ? !rn_uuid_equal(&tr->topic_id, &c->topic_id)
                    : !rn_str_eq_cstr(tr->topic, c->topic))
            continue;
        for (int32_t pi = 0; pi < tr->partitions.count && st == 0 && !c->done; pi++) {
            const rn_fetch_partition_data_t *pd = &tr->partitions.items[pi];
            cpart_t *cp = NULL;
            for (int i = 0; i < c->nparts; i++)
                if (c->parts[i].partition == pd->partition_index)
                    cp = &c->parts[i];
            if (cp == NULL)
                continue;
            if (pd->error_code == RN_KERR_OFFSET_OUT_OF_RANGE) {
                /* Retention removed what we were reading, or the log was truncated. */
                fflush(stdout);
                fprintf(stderr,
                        "runnel consume: offset %" PRId64 " of \"%s\" partition %d is out of "
                        "range; restarting at the %s\n",
                        cp->position, c->topic, cp->partition,
                        pd->log_start_offset > cp->position ? "log start" : "end");
                consume_opts_t saved = *c->o;
                c->o->start = pd->log_start_offset > cp->position ? START_BEGINNING : START_END;
                int idx = (int)(cp - c->parts);
                st = resolve_start(c, &idx, 1);
                *c->o = saved;
                continue;
            }
            if (fetch_retriable(pd->error_code)) {
                *refresh = true;
                continue;
            }
            if (pd->error_code != 0)
                return rn_cli_fail(cli, rn_cli_kerr_status(pd->error_code),
                                   "cannot fetch \"%s\" partition %d: %s%s", c->topic,
                                   cp->partition, rn_kerr_name(pd->error_code),
                                   rn_cli_kerr_hint(pd->error_code));
            cp->hwm = pd->high_watermark;
            st = take_records(c, cp, &pd->records);
        }
    }
    return st;
}

static bool all_at_end(const consumer_t *c)
{
    for (int i = 0; i < c->nparts; i++)
        if (c->parts[i].hwm < 0 || c->parts[i].position < c->parts[i].hwm)
            return false;
    return true;
}

/* ---- group membership ---- */

/* Commit positions that moved since the last commit. */
static int commit_positions(consumer_t *c, bool *rejoin)
{
    int32_t *parts = rn_xcalloc((size_t)c->nparts + 1, sizeof *parts);
    int64_t *offs = rn_xcalloc((size_t)c->nparts + 1, sizeof *offs);
    int n = 0;
    for (int i = 0; i < c->nparts; i++)
        if (c->parts[i].position >= 0 && c->parts[i].position != c->parts[i].committed) {
            parts[n] = c->parts[i].partition;
            offs[n++] = c->parts[i].position;
        }
    int st = 0;
    if (n > 0) {
        st = rn_cli_member_commit(c->member, parts, offs, n, rejoin);
        if (st == 0 && !*rejoin)
            for (int i = 0; i < c->nparts; i++)
                c->parts[i].committed = c->parts[i].position;
    }
    c->last_commit_ms = mono_ms();
    rn_free(parts);
    rn_free(offs);
    return st;
}

/* (Re)join the group and set up the assigned partitions and their positions. */
static int join_group(consumer_t *c)
{
    rn_cli_member_t *m = c->member;
    int st = rn_cli_member_join(m);
    if (st != 0)
        return st;
    rn_metadata_response_t *md;
    const rn_metadata_response_topic_t *t;
    st = rn_cli_topic_md(c->cli, c->topic, false, &md, &t);
    if (st != 0)
        return st;
    c->topic_id = t->topic_id;
    rn_free(c->parts);
    c->nparts = m->nassigned;
    c->parts = rn_xcalloc((size_t)c->nparts + 1, sizeof *c->parts);
    int32_t *pids = rn_xcalloc((size_t)c->nparts + 1, sizeof *pids);
    for (int i = 0; i < c->nparts; i++) {
        const rn_metadata_response_partition_t *p = rn_cli_md_partition(t, m->assigned[i]);
        c->parts[i] = (cpart_t){.partition = m->assigned[i],
                                .leader = p ? p->leader_id : -1,
                                .position = -1,
                                .hwm = -1,
                                .committed = -1,
                                .max_bytes = PARTITION_MAX_BYTES};
        pids[i] = m->assigned[i];
    }
    rn_cli_note(c->cli, "group \"%s\" generation %d: member %s%s, %d partition(s)", m->group,
                m->generation, m->member_id, m->leader ? " (leader)" : "", c->nparts);
    int64_t *committed = rn_xcalloc((size_t)c->nparts + 1, sizeof *committed);
    st = rn_cli_committed(c->cli, m->coord, m->group, c->topic, pids, c->nparts, committed);
    int *need = rn_xcalloc((size_t)c->nparts + 1, sizeof *need);
    int nneed = 0;
    for (int i = 0; i < c->nparts && st == 0; i++) {
        c->parts[i].committed = committed[i];
        if (committed[i] >= 0)
            c->parts[i].position = committed[i];
        need[nneed++] = i; /* also learns the end offset for --exit-at-end */
    }
    if (st == 0) {
        /* Where the group has committed, the committed offset wins over the start option. */
        int64_t *pos = rn_xcalloc((size_t)c->nparts + 1, sizeof *pos);
        for (int i = 0; i < c->nparts; i++)
            pos[i] = c->parts[i].position;
        st = resolve_start(c, need, nneed);
        for (int i = 0; i < c->nparts; i++)
            if (pos[i] >= 0)
                c->parts[i].position = pos[i];
        rn_free(pos);
    }
    rn_free(need);
    rn_free(committed);
    rn_free(pids);
    c->last_commit_ms = mono_ms();
    return st;
}

/* Heartbeat and commit when due; rejoin when the group rebalances. */
static int group_tick(consumer_t *c)
{
    bool rejoin = false;
    int st = rn_cli_member_heartbeat(c->member, &rejoin);
    if (st == 0 && !rejoin && mono_ms() - c->last_commit_ms >= c->o->commit_interval_ms)
        st = commit_positions(c, &rejoin);
    if (st == 0 && rejoin) {
        /* Commit what we read before giving the partitions up (best effort: a fenced
         * member's commit is refused). */
        bool again = false;
        commit_positions(c, &again);
        st = join_group(c);
    }
    return st;
}

/* ---- main loop ---- */

static int consume_loop(consumer_t *c)
{
    int st = 0;
    while (st == 0 && !c->done && !stop_signal) {
        if (c->member)
            st = group_tick(c);
        if (st != 0)
            break;
        if (c->o->exit_at_end && all_at_end(c))
            break;
        /* Leaders to ask this round; the wait is shared so one idle leader does not starve
         * the others. */
        int32_t *leaders = rn_xcalloc((size_t)c->nparts + 1, sizeof *leaders);
        int nl = 0;
        bool refresh = false;
        for (int i = 0; i < c->nparts; i++) {
            if (c->parts[i].leader < 0) {
                refresh = true;
                continue;
            }
            int k = 0;
            while (k < nl && leaders[k] != c->parts[i].leader)
                k++;
            if (k == nl)
                leaders[nl++] = c->parts[i].leader;
        }
        int32_t wait = nl > 1 ? c->o->max_wait_ms / nl : c->o->max_wait_ms;
        for (int k = 0; k < nl && st == 0 && !c->done && !stop_signal; k++)
            st = fetch_leader(c, leaders[k], wait, &refresh);
        rn_free(leaders);
        fflush(stdout);
        if (ferror(stdout))
            c->done = true; /* the reader went away (a closed pipe) */
        rn_arena_reset(&c->cli->arena);
        if (st == 0 && nl == 0 && !c->done) {
            /* Nothing to fetch (no partitions, or no leaders): wait a little. */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (st == 0 && refresh)
            st = refresh_leaders(c);
    }
    return st;
}

int rn_cli_consume(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"partition", required_argument, NULL, 'p'},
        {"offset", required_argument, NULL, 'o'},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"group", required_argument, NULL, 'g'},
        {"format", required_argument, NULL, 'F'},
        {"count", required_argument, NULL, 'c'},
        {"exit-at-end", no_argument, NULL, 'e'},
        {"null", required_argument, NULL, OPT_NULL},
        {"max-wait-ms", required_argument, NULL, OPT_MAX_WAIT},
        {"commit-interval-ms", required_argument, NULL, OPT_COMMIT_INTERVAL},
        {"session-timeout-ms", required_argument, NULL, OPT_SESSION},
        {NULL, 0, NULL, 0},
    };
    consume_opts_t o = {.start = START_END,
                        .null_text = "",
                        .max_wait_ms = 500,
                        .commit_interval_ms = 5000,
                        .session_timeout_ms = 10000};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "p:o:g:F:c:e", consume_opt, &o, &first);
    if (st == 0 && argc - first != 1)
        st = rn_cli_usage(cli, argc - first < 1 ? "name the topic to consume"
                                                : "give exactly one topic");
    if (st == 0 && o.group && o.npartitions > 0)
        st = rn_cli_usage(cli, "--partition and --group do not mix: a group member reads the "
                               "partitions the group assigns it");
    consumer_t c = {.cli = cli, .o = &o, .topic = st == 0 ? argv[first] : NULL};
    rn_cli_json_init(&c.j, stdout);
    rn_metadata_response_t *md;
    const rn_metadata_response_topic_t *t;
    if (st == 0)
        st = rn_cli_topic_md(cli, c.topic, false, &md, &t);

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_pipe;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, &old_pipe);

    rn_cli_member_t member;
    memset(&member, 0, sizeof member);
    if (st == 0 && o.group) {
        member.cli = cli;
        member.group = o.group;
        member.topic = c.topic;
        member.session_timeout_ms = o.session_timeout_ms;
        member.rebalance_timeout_ms = o.session_timeout_ms * 3;
        c.member = &member;
        st = join_group(&c);
    } else if (st == 0) {
        c.topic_id = t->topic_id;
        int n = o.npartitions ? o.npartitions : t->partitions.count;
        c.parts = rn_xcalloc((size_t)n + 1, sizeof *c.parts);
        int *idx = rn_xcalloc((size_t)n + 1, sizeof *idx);
        for (int i = 0; i < n && st == 0; i++) {
            int32_t pid = o.npartitions ? o.partitions[i] : t->partitions.items[i].partition_index;
            const rn_metadata_response_partition_t *p = rn_cli_md_partition(t, pid);
            if (p == NULL) {
                st = rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND,
                                 "topic \"%s\" has partitions 0-%d; there is no partition %d",
                                 c.topic, t->partitions.count - 1, pid);
                break;
            }
            c.parts[i] = (cpart_t){.partition = pid,
                                   .leader = p->leader_id,
                                   .position = -1,
                                   .hwm = -1,
                                   .committed = -1,
                                   .max_bytes = PARTITION_MAX_BYTES};
            idx[i] = i;
            c.nparts++;
        }
        if (st == 0)
            st = resolve_start(&c, idx, c.nparts);
        rn_free(idx);
    }
    if (st == 0)
        st = consume_loop(&c);
    fflush(stdout);
    if (c.member && member.coord) {
        bool rejoin = false;
        if (st == 0 || st == RN_CLI_EXIT_FAIL)
            commit_positions(&c, &rejoin);
        rn_cli_member_leave(&member);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    rn_free(c.parts);
    rn_free(o.partitions);
    return st;
}
