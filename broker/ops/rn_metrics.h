/* rn_metrics: runneld's metrics — a registry of counters, gauges and histograms with labels,
 * rendered in Prometheus' text exposition format 0.0.4 — and the broker's own metrics.
 *
 * Two ways to publish a metric:
 *
 *  1. A family in the registry (rn_metrics_family): the registry owns the values. A series is
 *     one combination of label values; rn_metrics_series finds or creates it (created at zero,
 *     the only allocation), then rn_metrics_inc / rn_metrics_set / rn_metrics_observe update it
 *     with a plain store. Cache the series pointer where the label values are fixed (an
 *     unlabelled family, or a series per api created at start-up).
 *
 *  2. A collector (rn_metrics_add_collector): a callback run at every scrape that emits
 *     families it computes then (partition offsets, process RSS, consumer lag) through the
 *     rn_metrics_emit_* functions. Nothing is stored between scrapes; state a module already
 *     keeps (the server's per-api arrays) costs the request path nothing extra.
 *
 * Rendering (rn_metrics_render) walks families and collectors in registration order. Every
 * family is written as one group: "# HELP name text", "# TYPE name type", then its samples
 * `name{label="value",...} value`. HELP text escapes backslash and newline; label values
 * escape backslash, double quote and newline, and invalid UTF-8 becomes U+FFFD, so client-
 * chosen strings (group ids) cannot break the exposition. A histogram series is written as
 * cumulative name_bucket{...,le="bound"} lines ending with le="+Inf", then name_sum and
 * name_count. A family whose name (or one of a histogram's derived names) was already written
 * in this exposition, an invalid metric or label name, or a sample outside a family, is
 * dropped and logged instead of producing text Prometheus would reject.
 *
 * Names follow Prometheus' conventions: runnel_ prefix, base units (seconds, bytes), counters
 * end in _total; the process_* names are the ones Prometheus' client libraries use, so
 * stock dashboards work.
 *
 * Loop thread only: no locks anywhere (design.md, decision 3). */
#ifndef RN_METRICS_H
#define RN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct rn_broker;
struct rn_topic;

/* Most upper bounds a histogram may have (+Inf comes on top). */
#define RN_METRICS_MAX_BUCKETS 24
/* Most labels of a registry family. */
#define RN_METRICS_MAX_LABELS 4

typedef enum rn_metrics_type {
    RN_METRICS_COUNTER,
    RN_METRICS_GAUGE,
    RN_METRICS_HISTOGRAM,
} rn_metrics_type_t;

/* ---- histograms with fixed buckets ---- */

/* Observations counted per bucket (not cumulative; the renderer sums them up): counts[i] is
 * how many fell in (bounds[i-1], bounds[i]], counts[n_bounds] how many were above the last
 * bound. bounds is not owned and must outlive the histogram (usually a static array). */
typedef struct rn_metrics_hist {
    const double *bounds;
    uint32_t n_bounds;
    uint64_t counts[RN_METRICS_MAX_BUCKETS + 1];
    uint64_t count;
    double sum;
} rn_metrics_hist_t;

/* Request latency buckets in seconds, 100 us to 10 s (Kafka requests take milliseconds;
 * a parked Fetch or acks=all Produce waits up to its timeout). */
#define RN_METRICS_LATENCY_BOUNDS 16
extern const double rn_metrics_latency_bounds[RN_METRICS_LATENCY_BOUNDS];

/* An empty histogram over n (<= RN_METRICS_MAX_BUCKETS, strictly increasing, finite) bounds;
 * bounds NULL = rn_metrics_latency_bounds. */
void rn_metrics_hist_init(rn_metrics_hist_t *h, const double *bounds, size_t n);
/* Count one observation (a NaN counts in +Inf and is left out of the sum). */
void rn_metrics_hist_observe(rn_metrics_hist_t *h, double v);

/* ---- emitting an exposition (collectors) ---- */

typedef struct rn_metrics_label {
    const char *name; /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value;
} rn_metrics_label_t;

typedef struct rn_metrics_writer rn_metrics_writer_t;

/* Start a family: write its HELP and TYPE lines. Samples that follow belong to it until the
 * next family. Returns 0, or RN_EINVAL (logged; its samples are dropped) when the name is
 * not a metric name or was already written in this exposition. */
int rn_metrics_emit_family(rn_metrics_writer_t *w, rn_metrics_type_t type, const char *name,
                           const char *help);
/* One sample of the current counter or gauge family. labels may be NULL when n is 0. */
void rn_metrics_emit(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n, double v);
/* The same with an integer value, written exactly (offsets, byte counts). */
void rn_metrics_emit_i64(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n,
                         int64_t v);
void rn_metrics_emit_u64(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n,
                         uint64_t v);
/* One series of the current histogram family ("le" may not be among labels). */
void rn_metrics_emit_hist(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n,
                          const rn_metrics_hist_t *h);

/* ---- the registry ---- */

typedef struct rn_metrics rn_metrics_t;
typedef struct rn_metrics_family rn_metrics_family_t;
typedef struct rn_metrics_series rn_metrics_series_t;

/* Called at every scrape to emit families (rn_metrics_emit_*). */
typedef void (*rn_metrics_collect_fn)(rn_metrics_writer_t *w, void *arg);
/* For a family's filter: false when the series with these label values should go. */
typedef bool (*rn_metrics_live_fn)(const char *const *values, void *arg);

/* An empty registry. Never NULL (aborts on OOM). */
rn_metrics_t *rn_metrics_new(void);
/* Free the registry, its families and series. NULL is a no-op. */
void rn_metrics_free(rn_metrics_t *m);

/* Add a family. label_names is a comma-separated list ("topic,partition"), NULL or "" for
 * none; an unlabelled family has its one series from the start (rendered as 0). For a
 * histogram, bounds/n_bounds as for rn_metrics_hist_init (NULL: latency buckets); ignored
 * otherwise. name, help and label names are copied. Returns NULL (logged with the reason)
 * for an invalid name or label name, more than RN_METRICS_MAX_LABELS labels, bad bounds, or
 * a name already registered. */
rn_metrics_family_t *rn_metrics_family(rn_metrics_t *m, rn_metrics_type_t type, const char *name,
                                       const char *help, const char *label_names,
                                       const double *bounds, size_t n_bounds);
/* The series for values (one per label, in the family's order; NULL for an unlabelled
 * family), created at zero on first use; values are copied. Series are rendered in creation
 * order. The pointer stays valid until the series is removed (rn_metrics_series_remove or
 * the family's filter) or the registry freed. */
rn_metrics_series_t *rn_metrics_series(rn_metrics_family_t *fam, const char *const *values);
/* Shorthand for a family with one label. */
rn_metrics_series_t *rn_metrics_series1(rn_metrics_family_t *fam, const char *value);
/* The series of a one-label family with this value, or NULL (never creates one: readers
 * such as the console must not add series). */
rn_metrics_series_t *rn_metrics_series_find1(rn_metrics_family_t *fam, const char *value);
/* Remove the series for values, if any. */
void rn_metrics_series_remove(rn_metrics_family_t *fam, const char *const *values);
/* Before each rendering, remove the family's series for which live(values, arg) is false
 * (e.g. topics deleted since). Pointers to a filtered family's series must not be kept. */
void rn_metrics_family_filter(rn_metrics_family_t *fam, rn_metrics_live_fn live, void *arg);
/* Number of series of the family. */
size_t rn_metrics_family_size(const rn_metrics_family_t *fam);

/* Counter: add n. */
void rn_metrics_inc(rn_metrics_series_t *s, uint64_t n);
/* Gauge: set to v / add v. */
void rn_metrics_set(rn_metrics_series_t *s, double v);
void rn_metrics_add(rn_metrics_series_t *s, double v);
/* Histogram: count one observation. */
void rn_metrics_observe(rn_metrics_series_t *s, double v);
/* A counter's value or a histogram's count. */
uint64_t rn_metrics_count(const rn_metrics_series_t *s);
/* A gauge's value. */
double rn_metrics_value(const rn_metrics_series_t *s);

/* Run fn(w, arg) at every rendering, after what was registered before it. */
void rn_metrics_add_collector(rn_metrics_t *m, rn_metrics_collect_fn fn, void *arg);
/* Unregister the collector added with exactly this fn and arg (a no-op if there is none). */
void rn_metrics_remove_collector(rn_metrics_t *m, rn_metrics_collect_fn fn, void *arg);

/* Append the whole exposition to out. 0, or RN_ENOMEM when out could not grow (out then
 * holds a partial exposition). */
int rn_metrics_render(rn_metrics_t *m, struct evbuffer *out);
/* Samples and families dropped by the last rendering (invalid names, duplicates); 0 when the
 * exposition was complete. */
size_t rn_metrics_dropped(const rn_metrics_t *m);

/* ---- runneld's metrics (metrics_broker.c) ----
 *
 * rn_metrics_broker_register adds, in this order:
 *   runnel_broker_info{version,node_id,cluster_id} 1, runnel_uptime_seconds,
 *   requests by api: runnel_requests_total{api}, runnel_request_errors_total{api},
 *     runnel_request_duration_seconds{api} (histogram: frame read until the response is
 *     queued on the socket), runnel_requests_in_flight, runnel_requests_parked;
 *   network: runnel_connections (open), runnel_connections_accepted_total,
 *     runnel_connections_closed_bad_total, runnel_network_received_bytes_total,
 *     runnel_network_sent_bytes_total;
 *   topics and partitions (computed at scrape time from the topic manager and the data path):
 *     runnel_topics, runnel_partitions, runnel_leader_partitions,
 *     runnel_under_replicated_partitions, runnel_under_min_isr_partitions,
 *     runnel_offline_partitions, and per partition with an open log
 *     runnel_partition_{log_end_offset,high_watermark,log_start_offset,size_bytes,
 *     replicas,in_sync_replicas}{topic,partition};
 *   fetch sessions: runnel_fetch_sessions, runnel_fetch_session_partitions,
 *     runnel_fetch_sessions_created_total, runnel_fetch_session_evictions_total,
 *     runnel_fetch_incremental_total;
 *   per topic (counted by the data path, see below): runnel_topic_bytes_in_total,
 *     runnel_topic_messages_in_total, runnel_topic_bytes_out_total;
 *   process: process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
 *     process_max_fds, process_cpu_seconds_total, process_start_time_seconds.
 *
 * Hooks for other modules:
 *   - Produce calls rn_metrics_topic_in after each successful append, Fetch calls
 *     rn_metrics_topic_out with the record bytes of each response it sends to a consumer.
 *   - The group coordinator registers a collector in its module init and removes it in its
 *     shutdown, emitting at scrape time what it knows, e.g.
 *
 *       static void groups_collect(rn_metrics_writer_t *w, void *arg)
 *       {
 *           rn_gcoord_t *gc = arg;
 *           rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_consumer_groups",
 *                                  "Consumer groups this node coordinates, by state.");
 *           ... rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"state", "Stable"}}, 1, n);
 *           rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_consumer_group_lag",
 *                                  "High watermark minus the committed offset.");
 *           ... rn_metrics_emit_i64(w, (rn_metrics_label_t[]){{"group", id},
 *                                   {"topic", t}, {"partition", p}}, 3, hw - committed);
 *       }
 *       rn_metrics_add_collector(b->metrics, groups_collect, gc);      // module init
 *       rn_metrics_remove_collector(b->metrics, groups_collect, gc);   // module shutdown
 *
 *     (the broker's registry exists before modules start and is freed after they stop).
 *     The "groups" module (handle_group.c) does this, emitting runnel_consumer_groups{state}
 *     (every state, 0 included), runnel_consumer_group_members{group},
 *     runnel_consumer_group_lag{group,topic,partition} (high watermark minus committed offset,
 *     for partitions with a local log) and runnel_consumer_group_lag_sum{group}. */

/* Register runneld's families and collectors on m. b is read at scrape time (its server,
 * topics and data path may come and go: what is missing is left out). */
void rn_metrics_broker_register(rn_metrics_t *m, struct rn_broker *b);
/* Produce appended bytes (the batch as stored) holding records records to topic. m may be
 * NULL (no metrics). Costs one hash lookup of the topic name per family. */
void rn_metrics_topic_in(rn_metrics_t *m, const struct rn_topic *topic, uint64_t bytes,
                         uint64_t records);
/* Fetch is sending bytes of topic's records to a consumer (not to a follower). */
void rn_metrics_topic_out(rn_metrics_t *m, const struct rn_topic *topic, uint64_t bytes);
/* The topic's counters so far (0 for a topic nothing was counted for; creates no series):
 * bytes and records produced, bytes sent to consumers. For readers such as the console. */
void rn_metrics_topic_totals(rn_metrics_t *m, const struct rn_topic *topic, uint64_t *bytes_in,
                             uint64_t *messages_in, uint64_t *bytes_out);

#endif
