/* runnel's shared plumbing (see rn_cli.h): option parsing with the global options merged
 * in, error messages that say what to do, number and time parsing, and the cluster
 * look-ups every subcommand needs (bootstrap, metadata, topics, ListOffsets by leader). */
#include "rn_cli.h"
#include "rn_hex.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_sasl.h"
#include "rn_str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_JSON = 0x1000, OPT_TIMEOUT, OPT_COMMAND_CONFIG };

static const struct option global_opts[] = {
    {"bootstrap", required_argument, NULL, 'b'},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"command-config", required_argument, NULL, OPT_COMMAND_CONFIG},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int rn_cli_parse(rn_cli_t *cli, int argc, char **argv, const struct option *opts,
                 const char *shortopts,
                 int (*on_opt)(rn_cli_t *cli, void *ctx, int c, const char *arg), void *ctx,
                 int *first)
{
    size_t n = 0, g = sizeof global_opts / sizeof global_opts[0] - 1;
    while (opts && opts[n].name)
        n++;
    struct option *all = rn_xcalloc(n + g + 1, sizeof *all);
    if (n)
        memcpy(all, opts, n * sizeof *all);
    memcpy(all + n, global_opts, g * sizeof *all);
    char *shorts = rn_xmalloc(strlen(shortopts ? shortopts : "") + 8);
    /* Leading ':' reports a missing argument as ':' so the message can name the option. */
    snprintf(shorts, strlen(shortopts ? shortopts : "") + 8, ":%sb:vh", shortopts ? shortopts : "");

    int st = 0;
    opterr = 0;
    optind = 0; /* GNU: full re-initialisation */
    int c;
    while (st == 0 && (c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        switch (c) {
        case 'b': cli->bootstrap = optarg; break;
        case OPT_JSON: cli->json = true; break;
        case OPT_COMMAND_CONFIG: st = rn_cli_command_config(cli, optarg); break;
        case 'v': cli->verbose++; break;
        case 'h':
            fputs(cli->help, stdout);
            printf("\n"
                   "global options: -b/--bootstrap HOST:PORT (default $RUNNEL_BOOTSTRAP or "
                   "%s), --json,\n--timeout MS, --command-config FILE, -v/--verbose, "
                   "-h/--help\n\n%s",
                   RN_CLI_DEFAULT_BOOTSTRAP, rn_cli_exit_help);
            st = RN_CLI_HELP_SHOWN;
            break;
        case OPT_TIMEOUT: {
            int32_t ms;
            st = rn_cli_parse_i32(cli, "--timeout", optarg, 1, 3600000, &ms);
            if (st == 0)
                cli->timeout_ms = ms;
            break;
        }
        case ':': st = rn_cli_usage(cli, "option %s needs a value", argv[optind - 1]); break;
        case '?':
            if (optopt)
                st = rn_cli_usage(cli, "unknown option -%c", optopt);
            else
                st = rn_cli_usage(cli, "unknown option %s", argv[optind - 1]);
            break;
        default: st = on_opt ? on_opt(cli, ctx, c, optarg) : RN_CLI_EXIT_USAGE; break;
        }
    }
    *first = optind;
    rn_free(all);
    rn_free(shorts);
    return st;
}

/* "runnel CMD: message" on stderr, after whatever stdout holds so far (no newline). */
static void report(rn_cli_t *cli, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "runnel %s: ", cli->cmd ? cli->cmd : "");
    vfprintf(stderr, fmt, ap);
}

int rn_cli_fail(rn_cli_t *cli, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cli, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int rn_cli_usage(rn_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cli, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%.*s(see `runnel %s --help`)\n",
            (int)(strchr(cli->help, '\n') ? strchr(cli->help, '\n') - cli->help + 1 : 0), cli->help,
            cli->cmd);
    return RN_CLI_EXIT_USAGE;
}

void rn_cli_note(rn_cli_t *cli, const char *fmt, ...)
{
    if (!cli->verbose)
        return;
    fprintf(stderr, "runnel: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int rn_cli_parse_i64(rn_cli_t *cli, const char *opt, const char *s, int64_t min, int64_t max,
                     int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return rn_cli_usage(cli, "%s takes a whole number from %lld to %lld, not \"%s\"", opt,
                            (long long)min, (long long)max, s);
    *out = v;
    return 0;
}

int rn_cli_parse_i32(rn_cli_t *cli, const char *opt, const char *s, int32_t min, int32_t max,
                     int32_t *out)
{
    int64_t v = 0; /* set on success; initialized for compilers that cannot see that */
    int st = rn_cli_parse_i64(cli, opt, s, min, max, &v);
    if (st == 0)
        *out = (int32_t)v;
    return st;
}

int rn_cli_parse_time(rn_cli_t *cli, const char *opt, const char *s, int64_t *out)
{
    bool digits = *s != '\0';
    for (const char *p = s; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    if (digits)
        return rn_cli_parse_i64(cli, opt, s, 0, INT64_MAX, out);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        rest = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (rest == NULL) {
        memset(&tm, 0, sizeof tm);
        rest = strptime(s, "%Y-%m-%d", &tm);
    }
    int64_t ms = 0;
    if (rest != NULL && *rest == '.') {
        int digits_seen = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits_seen++)
            if (digits_seen < 3)
                ms = ms * 10 + (*rest - '0');
        for (; digits_seen < 3; digits_seen++)
            ms *= 10;
    }
    if (rest != NULL && *rest == 'Z')
        rest++;
    if (rest == NULL || *rest != '\0')
        return rn_cli_usage(cli,
                            "%s takes ms since the epoch or YYYY-MM-DDTHH:MM:SS[.mmm][Z] (UTC), "
                            "not \"%s\"",
                            opt, s);
    *out = (int64_t)timegm(&tm) * 1000 + ms;
    return 0;
}

size_t rn_cli_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\' || r[1] == '\0') {
            *w++ = *r;
            continue;
        }
        r++;
        switch (*r) {
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case '0': *w++ = '\0'; break;
        case '\\': *w++ = '\\'; break;
        case 'x':
            if (rn_hex_value(r[1]) >= 0 && rn_hex_value(r[2]) >= 0) {
                *w++ = (char)(rn_hex_value(r[1]) * 16 + rn_hex_value(r[2]));
                r += 2;
                break;
            }
            /* fall through */
        default:
            *w++ = '\\';
            *w++ = *r;
            break;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

char *rn_cli_fmt(rn_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = rn_arena_alloc(&cli->arena, (size_t)(n > 0 ? n : 0) + 1);
    if (s == NULL)
        abort();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *rn_cli_keep(rn_cli_t *cli, const char *s)
{
    char *copy = rn_arena_strndup(&cli->keep, s, strlen(s));
    if (copy == NULL)
        abort();
    return copy;
}

char *rn_cli_ids(rn_cli_t *cli, const rn_int32_array_t *ids)
{
    size_t cap = 1 + (size_t)(ids->count > 0 ? ids->count : 0) * 12;
    char *s = rn_arena_alloc(&cli->arena, cap);
    if (s == NULL)
        abort();
    size_t len = 0;
    s[0] = '\0';
    for (int32_t i = 0; i < ids->count; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? "," : "", ids->items[i]);
    return s;
}

/* ---- broker access ---- */

const char *rn_cli_where(rn_cli_t *cli)
{
    static char buf[300];
    if (!cli->pool_ready)
        return cli->bootstrap;
    return rn_conn_pool_bootstrap_name(&cli->pool, buf, sizeof buf);
}

int rn_cli_command_config(rn_cli_t *cli, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return rn_cli_usage(cli, "--command-config %s: %s", path, strerror(errno));
    char line[4096], proto[64] = "PLAINTEXT", mech[64] = "", jaas[4096] = "";
    while (fgets(line, sizeof line, fp) != NULL) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '!' || *p == '\n' || *p == '\0')
            continue;
        char *sep = strpbrk(p, "=:");
        if (sep == NULL)
            continue;
        char *k_end = sep;
        while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
            k_end--;
        *k_end = '\0';
        char *v = sep + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == '\n' || v[vl - 1] == '\r' || v[vl - 1] == ' '))
            v[--vl] = '\0';
        if (strcmp(p, "security.protocol") == 0)
            snprintf(proto, sizeof proto, "%s", v);
        else if (strcmp(p, "sasl.mechanism") == 0)
            snprintf(mech, sizeof mech, "%s", v);
        else if (strcmp(p, "sasl.jaas.config") == 0)
            snprintf(jaas, sizeof jaas, "%s", v);
    }
    fclose(fp);
    if (strcmp(proto, "PLAINTEXT") == 0)
        return 0;
    if (strcmp(proto, "SASL_PLAINTEXT") != 0)
        return rn_cli_usage(cli,
                            "--command-config %s: security.protocol %s is not supported by "
                            "runnel yet (PLAINTEXT or SASL_PLAINTEXT)",
                            path, proto);
    char user[256], password[256];
    if (strcmp(mech, "PLAIN") != 0 && rn_scram_mech_by_name(mech, strlen(mech)) == RN_SCRAM_UNKNOWN)
        return rn_cli_usage(cli,
                            "--command-config %s: sasl.mechanism must be PLAIN, "
                            "SCRAM-SHA-256 or SCRAM-SHA-512 (got \"%s\")",
                            path, mech);
    if (rn_sasl_jaas_parse(jaas, user, sizeof user, password, sizeof password) != 0)
        return rn_cli_usage(cli,
                            "--command-config %s: sasl.jaas.config must read '... required "
                            "username=\"NAME\" password=\"PASSWORD\";'",
                            path);
    cli->sasl.mechanism = rn_cli_keep(cli, mech);
    cli->sasl.username = rn_cli_keep(cli, user);
    cli->sasl.password = rn_cli_keep(cli, password);
    memset(password, 0, sizeof password);
    return 0;
}

rn_conn_t *rn_cli_boot_api(rn_cli_t *cli, const char *needs, int16_t key, const char *api,
                           int16_t *v, int *st)
{
    rn_conn_t *conn = rn_cli_boot(cli, st);
    if (conn == NULL)
        return NULL;
    *v = rn_conn_version(conn, key, -1);
    if (*v < 0) {
        *st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "%s:%d does not serve %s%s%s", conn->host,
                          conn->port, api, needs != NULL ? "; " : "", needs != NULL ? needs : "");
        return NULL;
    }
    rn_cli_note(cli, "%s v%d to %s:%d", api, *v, conn->host, conn->port);
    return conn;
}

int rn_cli_call_failed(rn_cli_t *cli, rn_conn_t *conn, int err, const char *api)
{
    return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                       "%s request failed: %s", api, rn_conn_error(conn));
}

rn_conn_t *rn_cli_boot(rn_cli_t *cli, int *status)
{
    *status = 0;
    if (!cli->pool_ready) {
        if (rn_conn_pool_init(&cli->pool, cli->bootstrap, cli->timeout_ms) != 0) {
            *status =
                rn_cli_usage(cli, "%s (from -b/--bootstrap or RUNNEL_BOOTSTRAP)", cli->pool.err);
            return NULL;
        }
        cli->pool_ready = true;
        if (cli->sasl.mechanism != NULL)
            cli->pool.sasl = &cli->sasl;
    }
    rn_conn_t *conn = rn_conn_pool_any(&cli->pool);
    if (conn == NULL) {
        *status = rn_cli_fail(cli, RN_CLI_EXIT_CONNECT,
                              "cannot reach a broker at %s (%s); is it running? point runnel at "
                              "it with -b HOST:PORT or RUNNEL_BOOTSTRAP",
                              cli->bootstrap, cli->pool.err);
        return NULL;
    }
    return conn;
}

rn_conn_t *rn_cli_broker(rn_cli_t *cli, int32_t node_id, int *status)
{
    *status = 0;
    rn_conn_t *conn = rn_conn_pool_broker(&cli->pool, node_id);
    if (conn == NULL)
        *status = rn_cli_fail(cli, RN_CLI_EXIT_CONNECT,
                              "cannot reach %s; the cluster's metadata advertises that address "
                              "(check advertised.listeners)",
                              cli->pool.err);
    return conn;
}

int rn_cli_metadata(rn_cli_t *cli, const char *const *topics, int ntopics, bool auto_create,
                    rn_metadata_response_t **md)
{
    int st;
    rn_conn_t *boot = rn_cli_boot(cli, &st);
    if (boot == NULL)
        return st;
    rn_cli_note(cli, "Metadata v%d from %s:%d", rn_conn_version(boot, RN_API_METADATA, -1),
                boot->host, boot->port);
    int err = rn_conn_pool_metadata(&cli->pool, topics, ntopics, auto_create, &cli->arena, md);
    if (err == RN_EIO)
        return rn_cli_fail(cli, RN_CLI_EXIT_CONNECT, "metadata request failed: %s", cli->pool.err);
    if (err != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "metadata request failed: %s", cli->pool.err);
    return 0;
}

const rn_metadata_response_topic_t *rn_cli_md_topic(const rn_metadata_response_t *md,
                                                    const char *name)
{
    for (int32_t i = 0; i < md->topics.count; i++)
        if (rn_str_eq_cstr(md->topics.items[i].name, name))
            return &md->topics.items[i];
    return NULL;
}

const rn_metadata_response_partition_t *rn_cli_md_partition(const rn_metadata_response_topic_t *t,
                                                            int32_t partition)
{
    for (int32_t i = 0; i < t->partitions.count; i++)
        if (t->partitions.items[i].partition_index == partition)
            return &t->partitions.items[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rn_cli_topic_not_found(rn_cli_t *cli, const char *topic)
{
    rn_metadata_response_t *md;
    char known[400] = "";
    if (rn_conn_pool_metadata(&cli->pool, NULL, -1, false, &cli->arena, &md) == 0) {
        int n = 0;
        char **names =
            rn_xcalloc((size_t)(md->topics.count > 0 ? md->topics.count : 0) + 1, sizeof *names);
        for (int32_t i = 0; i < md->topics.count; i++)
            if (!md->topics.items[i].is_internal && md->topics.items[i].error_code == 0)
                names[n++] = rn_str_arena_dup(&cli->arena, md->topics.items[i].name);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        size_t len = 0;
        for (int i = 0; i < n && names[i]; i++) {
            int k = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
            if (k < 0 || len + (size_t)k >= sizeof known - 8) {
                snprintf(known + len, sizeof known - len, ", ... (%d in all)", n);
                break;
            }
            len += (size_t)k;
        }
        rn_free(names);
        if (n == 0)
            snprintf(known, sizeof known, "(none)");
        return rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND,
                           "topic \"%s\" not found on %s; known topics: %s", topic,
                           rn_cli_where(cli), known);
    }
    return rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND, "topic \"%s\" not found on %s", topic,
                       rn_cli_where(cli));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool retriable(int16_t code)
{
    return code == RN_KERR_LEADER_NOT_AVAILABLE || code == RN_KERR_NOT_LEADER_OR_FOLLOWER ||
           code == RN_KERR_REQUEST_TIMED_OUT || code == RN_KERR_REPLICA_NOT_AVAILABLE ||
           code == RN_KERR_BROKER_NOT_AVAILABLE || code == RN_KERR_UNKNOWN_LEADER_EPOCH ||
           code == RN_KERR_FENCED_LEADER_EPOCH || code == RN_KERR_KAFKA_STORAGE_ERROR;
}

int rn_cli_topic_md(rn_cli_t *cli, const char *topic, bool auto_create, rn_metadata_response_t **md,
                    const rn_metadata_response_topic_t **t)
{
    int64_t deadline = mono_ms() + cli->timeout_ms;
    const char *names[1] = {topic};
    for (;;) {
        int st = rn_cli_metadata(cli, names, 1, auto_create, md);
        if (st != 0)
            return st;
        *t = rn_cli_md_topic(*md, topic);
        int16_t err = *t ? (*t)->error_code : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        bool leaderless = false;
        for (int32_t i = 0; err == 0 && i < (*t)->partitions.count; i++)
            leaderless |= (*t)->partitions.items[i].leader_id < 0;
        if (err == 0 && !leaderless && (*t)->partitions.count > 0)
            return 0;
        /* A topic just created (or auto-created) has no leaders for a moment. */
        bool wait = retriable(err) || leaderless || (err == 0 && (*t)->partitions.count == 0) ||
                    (auto_create && err == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION);
        if (!wait || mono_ms() + 200 > deadline) {
            if (err == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION)
                return rn_cli_topic_not_found(cli, topic);
            if (err == RN_KERR_INVALID_TOPIC_EXCEPTION)
                return rn_cli_fail(cli, RN_CLI_EXIT_USAGE,
                                   "\"%s\" is not a valid topic name (use ASCII letters, "
                                   "digits, '.', '_', '-'; at most 249 characters)",
                                   topic);
            if (err != 0)
                return rn_cli_fail(cli, rn_cli_kerr_status(err), "topic \"%s\": %s%s", topic,
                                   rn_kerr_name(err), rn_cli_kerr_hint(err));
            if (leaderless)
                return 0; /* the caller reports the partitions without a leader */
            return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "topic \"%s\" has no partitions", topic);
        }
        sleep_ms(200);
    }
}

const char *rn_cli_kerr_hint(int16_t code)
{
    switch (code) {
    case RN_KERR_UNKNOWN_TOPIC_OR_PARTITION: return " (check the name with `runnel topic list`)";
    case RN_KERR_TOPIC_ALREADY_EXISTS: return " (use --if-not-exists to accept that)";
    case RN_KERR_INVALID_REPLICATION_FACTOR:
        return " (the factor cannot exceed the number of brokers; see `runnel cluster info`)";
    case RN_KERR_INVALID_PARTITIONS: return " (the partition count must be at least 1)";
    case RN_KERR_INVALID_CONFIG: return " (check the config name and value)";
    case RN_KERR_POLICY_VIOLATION: return " (the broker's create-topic policy refused it)";
    case RN_KERR_TOPIC_DELETION_DISABLED: return " (the broker has delete.topic.enable=false)";
    case RN_KERR_NOT_CONTROLLER:
    case RN_KERR_LEADER_NOT_AVAILABLE:
    case RN_KERR_NOT_LEADER_OR_FOLLOWER:
    case RN_KERR_COORDINATOR_NOT_AVAILABLE:
    case RN_KERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RN_KERR_NOT_COORDINATOR:
    case RN_KERR_REQUEST_TIMED_OUT:
        return " (the cluster is electing a leader or busy; retry in a few seconds)";
    case RN_KERR_NOT_ENOUGH_REPLICAS:
    case RN_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return " (fewer in-sync replicas than min.insync.replicas; check `runnel cluster info` "
               "or use --acks 1)";
    case RN_KERR_MESSAGE_TOO_LARGE:
    case RN_KERR_RECORD_LIST_TOO_LARGE:
        return " (lower --batch-bytes or raise the topic's max.message.bytes)";
    case RN_KERR_NON_EMPTY_GROUP: return " (the group still has members; stop its consumers first)";
    case RN_KERR_GROUP_ID_NOT_FOUND: return " (see `runnel group list`)";
    case RN_KERR_UNKNOWN_MEMBER_ID:
    case RN_KERR_ILLEGAL_GENERATION:
    case RN_KERR_REBALANCE_IN_PROGRESS:
        return " (the group has active members; stop its consumers first)";
    case RN_KERR_UNSUPPORTED_VERSION: return " (the broker does not support this request version)";
    case RN_KERR_UNSUPPORTED_COMPRESSION_TYPE:
        return " (the topic does not accept this codec; try another --compression)";
    case RN_KERR_TOPIC_AUTHORIZATION_FAILED:
    case RN_KERR_GROUP_AUTHORIZATION_FAILED:
    case RN_KERR_CLUSTER_AUTHORIZATION_FAILED: return " (not authorized)";
    case RN_KERR_INVALID_REQUEST: return " (the broker rejected the request as invalid)";
    default: return "";
    }
}

int rn_cli_kerr_status(int16_t code)
{
    if (code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION || code == RN_KERR_GROUP_ID_NOT_FOUND ||
        code == RN_KERR_UNKNOWN_TOPIC_ID)
        return RN_CLI_EXIT_NOTFOUND;
    return RN_CLI_EXIT_FAIL;
}

/* ---- ListOffsets ---- */

static int list_offsets_once(rn_cli_t *cli, rn_cli_offset_q_t *q, int n)
{
    bool *done = rn_xcalloc((size_t)n + 1, sizeof *done);
    bool *in_req = rn_xcalloc((size_t)n + 1, sizeof *in_req);
    int st = 0;
    for (int i = 0; i < n && st == 0; i++) {
        if (done[i])
            continue;
        if (q[i].leader < 0) {
            q[i].error = RN_KERR_LEADER_NOT_AVAILABLE;
            q[i].offset = -1;
            done[i] = true;
            continue;
        }
        int32_t leader = q[i].leader;
        rn_conn_t *conn = rn_cli_broker(cli, leader, &st);
        if (conn == NULL)
            break;
        int16_t v = rn_conn_version(conn, RN_API_LIST_OFFSETS, -1);
        if (v < 1) {
            st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                             "broker %d does not serve a ListOffsets version runnel speaks (v1+)",
                             leader);
            break;
        }
        /* One request for every partition this leader has, grouped by topic. Kafka refuses
         * a partition named twice, so a second look-up of the same partition (say,
         * earliest and latest) waits for the next round. */
        rn_list_offsets_request_t req;
        rn_list_offsets_request_init(&req);
        req.replica_id = -1;
        rn_list_offsets_topic_t *topics =
            rn_list_offsets_topic_array_alloc(&cli->arena, &req.topics, n);
        int nt = 0;
        for (int k = i; k < n; k++) {
            in_req[k] = false;
            if (done[k] || q[k].leader != leader)
                continue;
            int ti = 0;
            while (ti < nt && !rn_str_eq_cstr(topics[ti].name, q[k].topic))
                ti++;
            if (ti == nt) {
                topics[nt].name = rn_str(q[k].topic);
                rn_list_offsets_partition_array_alloc(&cli->arena, &topics[nt].partitions, n);
                topics[nt].partitions.count = 0;
                nt++;
            }
            bool dup = false;
            for (int32_t pi = 0; pi < topics[ti].partitions.count; pi++)
                dup |= topics[ti].partitions.items[pi].partition_index == q[k].partition;
            if (dup)
                continue;
            rn_list_offsets_partition_t *p =
                &topics[ti].partitions.items[topics[ti].partitions.count++];
            p->partition_index = q[k].partition;
            p->timestamp = q[k].timestamp;
            q[k].error = RN_KERR_UNKNOWN_SERVER_ERROR; /* unless the answer names it */
            q[k].offset = -1;
            in_req[k] = true;
        }
        req.topics.count = nt;
        void *body;
        int err = rn_conn_call(conn, RN_API_LIST_OFFSETS, v, &req, &cli->arena, &body);
        if (err != 0) {
            st = rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                             "ListOffsets to broker %d failed: %s", leader, rn_conn_error(conn));
            break;
        }
        const rn_list_offsets_response_t *resp = body;
        for (int32_t ti = 0; ti < resp->topics.count; ti++) {
            const rn_list_offsets_topic_response_t *rt = &resp->topics.items[ti];
            for (int32_t pi = 0; pi < rt->partitions.count; pi++) {
                const rn_list_offsets_partition_response_t *rp = &rt->partitions.items[pi];
                for (int k = i; k < n; k++) {
                    if (!in_req[k] || q[k].partition != rp->partition_index ||
                        !rn_str_eq_cstr(rt->name, q[k].topic))
                        continue;
                    q[k].error = rp->error_code;
                    q[k].offset = rp->offset;
                }
            }
        }
        for (int k = i; k < n; k++)
            if (in_req[k])
                done[k] = true;
    }
    rn_free(in_req);
    rn_free(done);
    return st;
}

static bool offsets_retriable(int16_t code)
{
    return retriable(code) || code == RN_KERR_OFFSET_NOT_AVAILABLE ||
           code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

int rn_cli_list_offsets(rn_cli_t *cli, rn_cli_offset_q_t *q, int n)
{
    /* A partition whose leader just moved (or a topic just created, whose leader has not
     * taken over yet) answers with a retriable error: reload its leader and ask again. */
    int64_t deadline = mono_ms() + cli->timeout_ms;
    for (;;) {
        int st = list_offsets_once(cli, q, n);
        if (st != 0)
            return st;
        int again = 0;
        for (int i = 0; i < n; i++)
            again += offsets_retriable(q[i].error);
        if (again == 0 || mono_ms() + 200 > deadline)
            return 0;
        sleep_ms(200);
        for (int i = 0; i < n; i++) {
            if (!offsets_retriable(q[i].error))
                continue;
            rn_metadata_response_t *md;
            if (rn_conn_pool_metadata(&cli->pool, &q[i].topic, 1, false, &cli->arena, &md) != 0)
                continue;
            const rn_metadata_response_topic_t *t = rn_cli_md_topic(md, q[i].topic);
            const rn_metadata_response_partition_t *p =
                t ? rn_cli_md_partition(t, q[i].partition) : NULL;
            if (p != NULL)
                for (int k = i; k < n; k++)
                    if (q[k].partition == q[i].partition && strcmp(q[k].topic, q[i].topic) == 0)
                        q[k].leader = p->leader_id;
        }
        rn_cli_note(cli, "retrying ListOffsets for %d partition(s)", again);
    }
}
