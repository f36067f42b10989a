/* rn_metrics, runneld's part: the broker's families and collectors (listed in rn_metrics.h)
 * and the hooks the data path and replication call.
 *
 * Nearly everything is computed at scrape time from state the broker keeps anyway: the
 * server's per-api arrays (rn_server_metrics_t), the topic manager, the data path's
 * partition logs, /proc. Only the per-topic traffic counters and the ISR counters live in
 * the registry, because nothing else remembers them. */
#include "metrics_int.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_broker.h"
#include "data/rn_datapath.h"
#include "data/rn_pdefer.h"
#include "rn_rpc.h"
#include "net/rn_server.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double monotonic_s(void)
{
    return (double)rn_clock_mono_ns() / 1e9;
}

/* ---- broker, requests, network ---- */

typedef struct broker_ctx {
    rn_broker_t *b;
    double started; /* monotonic seconds at registration */
} broker_ctx_t;

/* The api label for an api key: the dispatch table's name, else the codec's, else a
 * placeholder (a client sending an api key nobody defines). */
static const char *api_name(const rn_server_t *srv, int16_t key, char *buf, size_t len)
{
    const rn_api_entry_t *row = rn_server_find_api(srv, key);
    if (row != NULL && row->name != NULL)
        return row->name;
    const rn_rpc_api_t *api = rn_rpc_api(key);
    if (api != NULL)
        return api->name;
    snprintf(buf, len, "unknown_%d", key);
    return buf;
}

/* One sample per served api (zero included, so rates start from a known value), plus one
 * for each other api key that was seen. */
static void emit_per_api(rn_metrics_writer_t *w, const rn_server_t *srv, const uint64_t *values)
{
    char buf[32];
    for (int key = 0; key <= RN_API_KEY_MAX; key++) {
        if (values[key] == 0 && rn_server_find_api(srv, (int16_t)key) == NULL)
            continue;
        rn_metrics_label_t label = {"api", api_name(srv, (int16_t)key, buf, sizeof(buf))};
        rn_metrics_emit_u64(w, &label, 1, values[key]);
    }
}

static void collect_broker(rn_metrics_writer_t *w, void *arg)
{
    broker_ctx_t *ctx = arg;
    rn_broker_t *b = ctx->b;
    char node[16];
    snprintf(node, sizeof(node), "%d", b->node_id);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_broker_info",
                           "Always 1; the labels name this runneld's version, node and cluster.");
    rn_metrics_label_t info[] = {
        {"version", RN_VERSION}, {"node_id", node}, {"cluster_id", b->cluster_id}};
    rn_metrics_emit_u64(w, info, 3, 1);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_uptime_seconds",
                           "Seconds since the broker started.");
    rn_metrics_emit(w, NULL, 0, monotonic_s() - ctx->started);

    const rn_server_t *srv = b->server;
    if (srv == NULL)
        return; /* not listening (yet, or any more) */
    const rn_server_metrics_t *sm = rn_server_metrics(srv);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_requests_total",
                           "Kafka requests received, by API.");
    emit_per_api(w, srv, sm->requests);
    rn_metrics_emit_family(
        w, RN_METRICS_COUNTER, "runnel_request_errors_total",
        "Requests that failed, by API: malformed (the connection was closed), unencodable, or "
        "answered with an error code by a handler that reports errors (rn_req_count_error).");
    emit_per_api(w, srv, sm->errors);
    rn_metrics_emit_family(w, RN_METRICS_HISTOGRAM, "runnel_request_duration_seconds",
                           "Time from reading a request to queueing its response on the socket "
                           "(includes the wait of a parked Fetch or Produce), by API.");
    size_t n_apis;
    const rn_api_entry_t *apis = rn_server_apis(srv, &n_apis);
    for (size_t i = 0; i < n_apis; i++) {
        rn_metrics_label_t label = {"api", apis[i].name};
        rn_metrics_emit_hist(w, &label, 1, &sm->latency[apis[i].api_key]);
    }
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_requests_in_flight",
                           "Requests read and not yet answered.");
    rn_metrics_emit_u64(w, NULL, 0, rn_server_inflight(srv));
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_requests_parked",
                           "Requests waiting for data or replication (long-poll Fetch, acks=all "
                           "Produce).");
    rn_metrics_emit_u64(w, NULL, 0, sm->requests_parked);

    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_connections",
                           "Open client connections on the Kafka listener.");
    rn_metrics_emit_u64(w, NULL, 0, sm->connections_open);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_connections_accepted_total",
                           "Connections accepted on the Kafka listener.");
    rn_metrics_emit_u64(w, NULL, 0, sm->connections_accepted);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_connections_closed_bad_total",
                           "Connections closed for a bad frame or a malformed request.");
    rn_metrics_emit_u64(w, NULL, 0, sm->connections_closed_bad);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_connections_rejected_total",
                           "Connections closed at accept: over max.connections or "
                           "max.connections.per.ip.");
    rn_metrics_emit_u64(w, NULL, 0, sm->connections_rejected);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_connections_closed_idle_total",
                           "Connections closed after connections.max.idle.ms without activity.");
    rn_metrics_emit_u64(w, NULL, 0, sm->connections_closed_idle);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_connections_closed_slow_total",
                           "Connections closed for not completing a request within "
                           "socket.request.read.timeout.ms.");
    rn_metrics_emit_u64(w, NULL, 0, sm->connections_closed_slow);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_accept_pauses_total",
                           "Times the listener paused because accept ran out of file "
                           "descriptors or memory.");
    rn_metrics_emit_u64(w, NULL, 0, sm->accept_pauses);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_reads_paused_total",
                           "Times a connection stopped being read: memory = "
                           "queued.max.request.bytes reached, backpressure = its own "
                           "responses or pending requests at their bound, throttle = muted "
                           "for a client quota.");
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"reason", "memory"}}, 1,
                        sm->reads_paused_memory);
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"reason", "backpressure"}}, 1,
                        sm->reads_paused_backpressure);
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"reason", "throttle"}}, 1,
                        sm->reads_paused_throttle);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_queued_request_bytes",
                           "Memory of requests being read or handled (queued.max.request.bytes "
                           "bounds it).");
    rn_metrics_emit_u64(w, NULL, 0, (uint64_t)sm->queued_request_bytes);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_network_received_bytes_total",
                           "Bytes of Kafka requests read, size prefixes included.");
    rn_metrics_emit_u64(w, NULL, 0, sm->bytes_in);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_network_sent_bytes_total",
                           "Bytes of Kafka responses queued for sending, size prefixes included.");
    rn_metrics_emit_u64(w, NULL, 0, sm->bytes_out);
}

/* ---- topics and partitions ---- */

/* The open log of a partition, or NULL (not hosted here, topic not on disk yet, never used
 * since start-up, or the log failed to open). Never opens one: a scrape changes nothing. */
static const rn_dpart_t *open_dpart(const rn_partition_t *part)
{
    const rn_dpart_t *dpart = part->user;
    return dpart != NULL && dpart->log != NULL ? dpart : NULL;
}

static void collect_counts(rn_metrics_writer_t *w, const rn_broker_t *b)
{
    uint64_t partitions = 0, leaders = 0, under = 0, under_min = 0, offline = 0;
    size_t n_topics = rn_topics_count(b->topics);
    for (size_t t = 0; t < n_topics; t++) {
        const rn_topic_t *topic = rn_topics_at(b->topics, t);
        int64_t min_isr = rn_topicconf_int(&topic->conf, b->cfg, RN_TC_MIN_INSYNC_REPLICAS);
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            const rn_partition_t *part = topic->partitions[p];
            if (!rn_partition_has_replica(part, b->node_id))
                continue;
            partitions++;
            offline += part->leader_id < 0;
            if (part->leader_id != b->node_id)
                continue;
            leaders++;
            under += part->n_isr < part->n_replicas;
            under_min += part->n_isr < min_isr;
        }
    }
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_topics", "Topics in the cluster.");
    rn_metrics_emit_u64(w, NULL, 0, n_topics);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_partitions",
                           "Partitions with a replica on this node.");
    rn_metrics_emit_u64(w, NULL, 0, partitions);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_leader_partitions",
                           "Partitions this node leads.");
    rn_metrics_emit_u64(w, NULL, 0, leaders);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_under_replicated_partitions",
                           "Partitions led by this node whose ISR is smaller than the replica "
                           "set (always 0 on a single node).");
    rn_metrics_emit_u64(w, NULL, 0, under);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_under_min_isr_partitions",
                           "Partitions led by this node whose ISR is smaller than "
                           "min.insync.replicas (acks=all produce fails).");
    rn_metrics_emit_u64(w, NULL, 0, under_min);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_offline_partitions",
                           "Partitions with a replica on this node and no leader.");
    rn_metrics_emit_u64(w, NULL, 0, offline);
}

/* The fetch session cache (Kafka's NumIncrementalFetchSessions,
 * NumIncrementalFetchPartitionsCached, IncrementalFetchSessionEvictionsPerSec). */
static void collect_sessions(rn_metrics_writer_t *w, const rn_broker_t *b)
{
    if (b->datapath == NULL)
        return;
    rn_fetchsess_stats_t st = rn_fetchsess_stats(rn_datapath_sessions(rn_datapath(b)));
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_fetch_sessions",
                           "Incremental fetch sessions (KIP-227) in this node's cache.");
    rn_metrics_emit_u64(w, NULL, 0, st.sessions);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_fetch_session_partitions",
                           "Partitions held by all fetch sessions of this node.");
    rn_metrics_emit_u64(w, NULL, 0, st.partitions);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_fetch_sessions_created_total",
                           "Fetch sessions created for full fetches.");
    rn_metrics_emit_u64(w, NULL, 0, st.created);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_fetch_session_evictions_total",
                           "Fetch sessions evicted to make room for new ones.");
    rn_metrics_emit_u64(w, NULL, 0, st.evicted);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_fetch_incremental_total",
                           "Incremental fetches accepted on a fetch session.");
    rn_metrics_emit_u64(w, NULL, 0, st.incremental);
}

/* Produce work off the loop (rn_pdefer: recompressions, and with produce.worker.threads
 * the checks of large batches). */
static void collect_produce_workers(rn_metrics_writer_t *w, const rn_broker_t *b)
{
    if (b->datapath == NULL)
        return;
    const struct rn_pdefer *pd = rn_datapath_pdefer(rn_datapath(b));
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_produce_worker_jobs_total",
                           "Produced batches checked or recompressed on a worker thread.");
    rn_metrics_emit_u64(w, NULL, 0, rn_pdefer_jobs_run(pd));
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_produce_worker_queued",
                           "Produced batches waiting for a worker or for their turn to append.");
    rn_metrics_emit_u64(w, NULL, 0, rn_pdefer_items(pd));
}

typedef enum part_value {
    PV_LOG_END,
    PV_HIGH_WATERMARK,
    PV_LOG_START,
    PV_SIZE,
    PV_REPLICAS,
    PV_ISR,
} part_value_t;

static const struct {
    const char *name, *help;
    bool needs_log;
} part_families[] = {
    [PV_LOG_END] = {"runnel_partition_log_end_offset",
                    "Offset the next appended record gets, per partition with an open log.", true},
    [PV_HIGH_WATERMARK] = {"runnel_partition_high_watermark",
                           "Offset below which consumers may read, per partition with an open "
                           "log.",
                           true},
    [PV_LOG_START] = {"runnel_partition_log_start_offset",
                      "First offset still in the log, per partition with an open log.", true},
    [PV_SIZE] = {"runnel_partition_size_bytes",
                 "Bytes of all segments of the partition's log, per partition with an open log.",
                 true},
    [PV_REPLICAS] = {"runnel_partition_replicas",
                     "Replicas of the partition, per partition hosted on this node.", false},
    [PV_ISR] = {"runnel_partition_in_sync_replicas",
                "In-sync replicas of the partition, per partition hosted on this node.", false},
};

static int64_t part_value(part_value_t which, const rn_partition_t *part, const rn_dpart_t *dpart)
{
    switch (which) {
    case PV_LOG_END: return rn_plog_log_end_offset(dpart->log);
    case PV_HIGH_WATERMARK: return rn_dpart_high_watermark(dpart);
    case PV_LOG_START: return rn_plog_log_start_offset(dpart->log);
    case PV_SIZE: return (int64_t)rn_plog_size(dpart->log);
    case PV_REPLICAS: return part->n_replicas;
    case PV_ISR: return part->n_isr;
    }
    return 0;
}

static void collect_partitions(rn_metrics_writer_t *w, void *arg)
{
    const rn_broker_t *b = ((broker_ctx_t *)arg)->b;
    if (b->topics == NULL)
        return;
    collect_counts(w, b);
    collect_sessions(w, b);
    collect_produce_workers(w, b);
    size_t n_topics = rn_topics_count(b->topics);
    for (size_t f = 0; f < sizeof(part_families) / sizeof(part_families[0]); f++) {
        rn_metrics_emit_family(w, RN_METRICS_GAUGE, part_families[f].name, part_families[f].help);
        for (size_t t = 0; t < n_topics; t++) {
            const rn_topic_t *topic = rn_topics_at(b->topics, t);
            for (int32_t p = 0; p < topic->n_partitions; p++) {
                const rn_partition_t *part = topic->partitions[p];
                const rn_dpart_t *dpart = open_dpart(part);
                if (!rn_partition_has_replica(part, b->node_id) ||
                    (part_families[f].needs_log && dpart == NULL))
                    continue;
                char index[16];
                snprintf(index, sizeof(index), "%d", part->index);
                rn_metrics_label_t labels[] = {{"topic", topic->name}, {"partition", index}};
                rn_metrics_emit_i64(w, labels, 2, part_value((part_value_t)f, part, dpart));
            }
        }
    }
}

/* Series of deleted topics leave the per-topic families at the next scrape. */
static bool topic_live(const char *const *values, void *arg)
{
    const rn_broker_t *b = ((broker_ctx_t *)arg)->b;
    return b->topics == NULL || rn_topics_find(b->topics, values[0], strlen(values[0])) != NULL;
}

/* ---- process ---- */

/* Open descriptors: entries of /proc/self/fd, less the one reading the directory. */
static bool count_fds(uint64_t *n)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return false;
    uint64_t count = 0;
    for (struct dirent *de; (de = readdir(dir)) != NULL;)
        count += de->d_name[0] != '.';
    closedir(dir);
    *n = count > 0 ? count - 1 : 0;
    return true;
}

/* Virtual and resident size from /proc/self/statm (in pages there). */
static bool read_statm(uint64_t *vsize, uint64_t *rss)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return false;
    unsigned long long size, resident;
    bool ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    *vsize = (uint64_t)size * (uint64_t)page;
    *rss = (uint64_t)resident * (uint64_t)page;
    return ok;
}

/* Process start in Unix seconds: /proc/self/stat field 22 (clock ticks after boot) plus the
 * boot time from /proc/stat. */
static bool start_time(double *out)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return false;
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return false;
    unsigned long long ticks = 0;
    for (int field = 2; field < 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
        return false;
    f = fopen("/proc/stat", "r");
    if (f == NULL)
        return false;
    unsigned long long btime = 0;
    bool found = false;
    while (!found && fgets(buf, sizeof(buf), f) != NULL)
        found = sscanf(buf, "btime %llu", &btime) == 1;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!found || hz <= 0)
        return false;
    *out = (double)btime + (double)ticks / (double)hz;
    return true;
}

static void collect_process(rn_metrics_writer_t *w, void *arg)
{
    uint64_t vsize, rss, fds;
    if (read_statm(&vsize, &rss)) {
        rn_metrics_emit_family(w, RN_METRICS_GAUGE, "process_resident_memory_bytes",
                               "Resident memory size in bytes.");
        rn_metrics_emit_u64(w, NULL, 0, rss);
        rn_metrics_emit_family(w, RN_METRICS_GAUGE, "process_virtual_memory_bytes",
                               "Virtual memory size in bytes.");
        rn_metrics_emit_u64(w, NULL, 0, vsize);
    }
    if (count_fds(&fds)) {
        rn_metrics_emit_family(w, RN_METRICS_GAUGE, "process_open_fds",
                               "Number of open file descriptors.");
        rn_metrics_emit_u64(w, NULL, 0, fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        rn_metrics_emit_family(w, RN_METRICS_GAUGE, "process_max_fds",
                               "Maximum number of open file descriptors.");
        rn_metrics_emit_u64(w, NULL, 0, (uint64_t)rl.rlim_cur);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        rn_metrics_emit_family(w, RN_METRICS_COUNTER, "process_cpu_seconds_total",
                               "Total user and system CPU time spent in seconds.");
        rn_metrics_emit(w, NULL, 0, cpu);
    }
    double start;
    if (start_time(&start)) {
        rn_metrics_emit_family(w, RN_METRICS_GAUGE, "process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.");
        rn_metrics_emit(w, NULL, 0, start);
    }
}

/* ---- registration and hooks ---- */

void rn_metrics_broker_register(rn_metrics_t *m, rn_broker_t *b)
{
    broker_ctx_t *ctx = rn_xcalloc(1, sizeof(*ctx));
    ctx->b = b;
    ctx->started = monotonic_s();
    m->broker.ctx = ctx;
    rn_metrics_add_collector(m, collect_broker, ctx);
    rn_metrics_add_collector(m, collect_partitions, ctx);

    rn_metrics_broker_fams_t *bf = &m->broker;
    bf->topic_bytes_in = rn_metrics_family(
        m, RN_METRICS_COUNTER, "runnel_topic_bytes_in_total",
        "Bytes of record batches appended by producers, by topic.", "topic", NULL, 0);
    bf->topic_messages_in =
        rn_metrics_family(m, RN_METRICS_COUNTER, "runnel_topic_messages_in_total",
                          "Records appended by producers, by topic.", "topic", NULL, 0);
    bf->topic_bytes_out = rn_metrics_family(
        m, RN_METRICS_COUNTER, "runnel_topic_bytes_out_total",
        "Bytes of record batches sent to consumers (not followers), by topic.", "topic", NULL, 0);
    rn_metrics_family_filter(bf->topic_bytes_in, topic_live, ctx);
    rn_metrics_family_filter(bf->topic_messages_in, topic_live, ctx);
    rn_metrics_family_filter(bf->topic_bytes_out, topic_live, ctx);
    rn_metrics_add_collector(m, collect_process, NULL);
}

void rn_metrics_topic_in(rn_metrics_t *m, const rn_topic_t *topic, uint64_t bytes, uint64_t records)
{
    if (m == NULL || m->broker.topic_bytes_in == NULL)
        return;
    rn_metrics_inc(rn_metrics_series1(m->broker.topic_bytes_in, topic->name), bytes);
    rn_metrics_inc(rn_metrics_series1(m->broker.topic_messages_in, topic->name), records);
}

void rn_metrics_topic_out(rn_metrics_t *m, const rn_topic_t *topic, uint64_t bytes)
{
    if (m == NULL || m->broker.topic_bytes_out == NULL)
        return;
    rn_metrics_inc(rn_metrics_series1(m->broker.topic_bytes_out, topic->name), bytes);
}

void rn_metrics_topic_totals(rn_metrics_t *m, const rn_topic_t *topic, uint64_t *bytes_in,
                             uint64_t *messages_in, uint64_t *bytes_out)
{
    rn_metrics_series_t *s;
    *bytes_in = *messages_in = *bytes_out = 0;
    if (m == NULL || m->broker.topic_bytes_in == NULL)
        return;
    if ((s = rn_metrics_series_find1(m->broker.topic_bytes_in, topic->name)) != NULL)
        *bytes_in = rn_metrics_count(s);
    if ((s = rn_metrics_series_find1(m->broker.topic_messages_in, topic->name)) != NULL)
        *messages_in = rn_metrics_count(s);
    if ((s = rn_metrics_series_find1(m->broker.topic_bytes_out, topic->name)) != NULL)
        *bytes_out = rn_metrics_count(s);
}
