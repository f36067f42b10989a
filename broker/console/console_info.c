/* The console's overview, topics and cluster answers: read from the topic manager, the data
 * path's open logs (never opening one), the metrics registry's counters, the replica module
 * and the quorum. */
#include "console/console_int.h"

#include "rn_broker.h"
#include "rn_clock.h"
#include "controller/rn_cluster.h"
#include "controller/rn_mimage.h"
#include "data/rn_datapath.h"
#include "ops/rn_metrics.h"
#include "quorum/rn_quorum.h"
#include "replica/rn_replica.h"
#include "rn_plog.h"
#include "rn_uuid.h"

#include <event2/http.h>
#include <string.h>

/* Seconds since the console was set up, at the broker's start. */
static double uptime_s(const rn_console_t *con)
{
    return (double)(rn_clock_mono_ns() - con->started_ns) / 1e9;
}

/* The open log of a partition, or NULL: a look never opens one. */
static const rn_dpart_t *open_dpart(const rn_partition_t *part)
{
    const rn_dpart_t *dpart = part->user;
    return dpart != NULL && dpart->log != NULL ? dpart : NULL;
}

static void write_ids(rn_json_t *j, const int32_t *ids, int32_t n)
{
    rn_json_arr(j);
    for (int32_t i = 0; i < n; i++)
        rn_json_i64(j, ids[i]);
    rn_json_end(j);
}

static void write_nodes(rn_json_t *j, const rn_broker_t *b)
{
    rn_json_arr(j);
    for (int i = 0; i < rn_broker_node_count(b); i++) {
        int32_t id, port;
        const char *host;
        rn_broker_node(b, i, &id, &host, &port);
        rn_json_obj(j);
        rn_json_ki64(j, "id", id);
        rn_json_kstr(j, "host", host);
        rn_json_ki64(j, "port", port);
        rn_json_kbool(j, "self", id == b->node_id);
        rn_json_end(j);
    }
    rn_json_end(j);
}

void rn__console_overview(const rn__console_q_t *q)
{
    rn_broker_t *b = q->con->b;
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_kstr(&j, "version", RN_VERSION);
    rn_json_ki64(&j, "node_id", b->node_id);
    rn_json_kstr(&j, "cluster_id", b->cluster_id);
    rn_json_ki64(&j, "controller_id", b->controller_id);
    rn_json_kdouble(&j, "uptime_s", uptime_s(q->con));
    rn_json_ki64(&j, "time_ms", rn__console_now_ms());
    rn_json_kbool(&j, "write_enabled", q->con->write);
    rn_json_key(&j, "nodes");
    write_nodes(&j, b);
    uint64_t partitions = 0, leaders = 0, under = 0, offline = 0, bytes = 0, internal = 0;
    uint64_t msgs_in = 0, bytes_in = 0, bytes_out = 0;
    size_t n_topics = b->topics != NULL ? rn_topics_count(b->topics) : 0;
    for (size_t t = 0; t < n_topics; t++) {
        const rn_topic_t *topic = rn_topics_at(b->topics, t);
        internal += topic->internal;
        uint64_t bi, mi, bo;
        rn_metrics_topic_totals(b->metrics, topic, &bi, &mi, &bo);
        msgs_in += mi;
        bytes_in += bi;
        bytes_out += bo;
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            const rn_partition_t *part = topic->partitions[p];
            partitions++;
            offline += part->leader_id < 0;
            under += part->n_isr < part->n_replicas;
            leaders += part->leader_id == b->node_id;
            const rn_dpart_t *dpart = open_dpart(part);
            if (dpart != NULL)
                bytes += rn_plog_size(dpart->log);
        }
    }
    rn_json_ki64(&j, "topics", (int64_t)n_topics);
    rn_json_ki64(&j, "internal_topics", (int64_t)internal);
    rn_json_ki64(&j, "partitions", (int64_t)partitions);
    rn_json_ki64(&j, "leader_partitions", (int64_t)leaders);
    rn_json_ki64(&j, "under_replicated_partitions", (int64_t)under);
    rn_json_ki64(&j, "offline_partitions", (int64_t)offline);
    rn_json_ki64(&j, "bytes_on_disk", (int64_t)bytes);
    /* Counters since start: a reader takes two and divides by the time between them. */
    rn_json_key(&j, "totals");
    rn_json_obj(&j);
    rn_json_ki64(&j, "messages_in", (int64_t)msgs_in);
    rn_json_ki64(&j, "bytes_in", (int64_t)bytes_in);
    rn_json_ki64(&j, "bytes_out", (int64_t)bytes_out);
    rn_json_end(&j);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}

static void write_partition(rn_json_t *j, rn_broker_t *b, const rn_partition_t *part)
{
    rn_json_obj(j);
    rn_json_ki64(j, "partition", part->index);
    rn_json_ki64(j, "leader", part->leader_id);
    rn_json_ki64(j, "leader_epoch", part->leader_epoch);
    rn_json_key(j, "replicas");
    write_ids(j, part->replicas, part->n_replicas);
    rn_json_key(j, "isr");
    write_ids(j, part->isr, part->n_isr);
    const rn_dpart_t *dpart = open_dpart(part);
    if (dpart != NULL) {
        rn_json_ki64(j, "log_start", rn_plog_log_start_offset(dpart->log));
        rn_json_ki64(j, "log_end", rn_plog_log_end_offset(dpart->log));
        rn_json_ki64(j, "high_watermark", rn_dpart_high_watermark(dpart));
        rn_json_ki64(j, "size", (int64_t)rn_plog_size(dpart->log));
        rn_json_ki64(j, "segments", (int64_t)rn_plog_segment_count(dpart->log));
    }
    rn_json_kbool(j, "local", dpart != NULL);
    rn_json_end(j);
}

void rn__console_topics(const rn__console_q_t *q)
{
    rn_broker_t *b = q->con->b;
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_key(&j, "topics");
    rn_json_arr(&j);
    size_t n_topics = b->topics != NULL ? rn_topics_count(b->topics) : 0;
    for (size_t t = 0; t < n_topics; t++) {
        const rn_topic_t *topic = rn_topics_at(b->topics, t);
        int64_t size = 0, messages = 0, under = 0;
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            const rn_partition_t *part = topic->partitions[p];
            const rn_dpart_t *dpart = open_dpart(part);
            under += part->n_isr < part->n_replicas;
            if (dpart != NULL) {
                size += (int64_t)rn_plog_size(dpart->log);
                messages += rn_dpart_high_watermark(dpart) - rn_plog_log_start_offset(dpart->log);
            }
        }
        uint64_t bi, mi, bo;
        rn_metrics_topic_totals(b->metrics, topic, &bi, &mi, &bo);
        rn_json_obj(&j);
        rn_json_kstr(&j, "name", topic->name);
        char id[40];
        rn_uuid_to_base64(&topic->id, id);
        rn_json_kstr(&j, "id", id);
        rn_json_ki64(&j, "partitions", topic->n_partitions);
        rn_json_ki64(&j, "replication_factor", topic->replication_factor);
        rn_json_kbool(&j, "internal", topic->internal);
        rn_json_ki64(&j, "under_replicated", under);
        rn_json_ki64(&j, "size", size);
        rn_json_ki64(&j, "messages", messages);
        rn_json_ki64(&j, "messages_in", (int64_t)mi);
        rn_json_ki64(&j, "bytes_in", (int64_t)bi);
        rn_json_ki64(&j, "bytes_out", (int64_t)bo);
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}

static const char *source_name(rn_tc_source_t src)
{
    switch (src) {
    case RN_TC_SOURCE_DYNAMIC_TOPIC: return "topic";
    case RN_TC_SOURCE_STATIC_BROKER: return "broker";
    case RN_TC_SOURCE_DEFAULT: return "default";
    }
    return "default";
}

void rn__console_topic(const rn__console_q_t *q)
{
    rn_broker_t *b = q->con->b;
    const char *name = rn__console_param(q, "name");
    rn_topic_t *topic =
        name != NULL && b->topics != NULL ? rn_topics_find(b->topics, name, strlen(name)) : NULL;
    if (topic == NULL) {
        rn__console_error(q->req, HTTP_NOTFOUND, "no such topic");
        return;
    }
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_kstr(&j, "name", topic->name);
    rn_json_kbool(&j, "internal", topic->internal);
    rn_json_ki64(&j, "replication_factor", topic->replication_factor);
    rn_json_key(&j, "partitions");
    rn_json_arr(&j);
    for (int32_t p = 0; p < topic->n_partitions; p++)
        write_partition(&j, b, topic->partitions[p]);
    rn_json_end(&j);
    rn_json_key(&j, "configs");
    rn_json_arr(&j);
    for (int k = 0; k < RN_TC__COUNT; k++) {
        rn_tc_source_t src;
        char buf[64];
        const char *v =
            rn_topicconf_value(&topic->conf, b->cfg, (rn_tc_key_t)k, &src, buf, sizeof(buf));
        rn_json_obj(&j);
        rn_json_kstr(&j, "name", rn_topicconf_def((rn_tc_key_t)k)->name);
        rn_json_kstr(&j, "value", v);
        rn_json_kstr(&j, "source", source_name(src));
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}

/* Partitions this node leads: each follower's log end and lag. */
static void write_followers(rn_json_t *j, rn_broker_t *b, int64_t *under)
{
    rn_json_arr(j);
    size_t n_topics = b->topics != NULL ? rn_topics_count(b->topics) : 0;
    for (size_t t = 0; t < n_topics; t++) {
        const rn_topic_t *topic = rn_topics_at(b->topics, t);
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            const rn_partition_t *part = topic->partitions[p];
            *under += part->n_isr < part->n_replicas;
            const rn_dpart_t *dpart = open_dpart(part);
            if (dpart == NULL || !rn_replica_is_leader(dpart) || part->n_replicas < 2)
                continue;
            int64_t leo = rn_plog_log_end_offset(dpart->log);
            rn_json_obj(j);
            rn_json_kstr(j, "topic", topic->name);
            rn_json_ki64(j, "partition", part->index);
            rn_json_ki64(j, "log_end", leo);
            rn_json_ki64(j, "high_watermark", rn_dpart_high_watermark(dpart));
            rn_json_key(j, "isr");
            write_ids(j, part->isr, part->n_isr);
            rn_json_key(j, "followers");
            rn_json_arr(j);
            rn_replica_follower_t f;
            for (int i = 0; rn_replica_follower_at(dpart, i, &f); i++) {
                rn_json_obj(j);
                rn_json_ki64(j, "id", f.id);
                rn_json_ki64(j, "log_end", f.leo);
                rn_json_ki64(j, "lag", f.leo < 0 ? -1 : leo - f.leo);
                rn_json_ki64(j, "last_fetch_ago_ms", f.fetch_ago_ms);
                rn_json_end(j);
            }
            rn_json_end(j);
            rn_json_end(j);
        }
    }
    rn_json_end(j);
}

void rn__console_cluster(const rn__console_q_t *q)
{
    rn_broker_t *b = q->con->b;
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_ki64(&j, "node_id", b->node_id);
    rn_json_ki64(&j, "controller_id", b->controller_id);
    int32_t epoch = -1, leader = b->quorum != NULL ? rn_quorum_leader(b->quorum, &epoch) : -1;
    rn_json_key(&j, "quorum");
    rn_json_obj(&j);
    rn_json_ki64(&j, "leader", leader);
    rn_json_ki64(&j, "epoch", epoch);
    if (b->quorum != NULL) {
        rn_json_ki64(&j, "applied_offset", rn_quorum_applied_offset(b->quorum));
        rn_json_ki64(&j, "high_watermark", rn_quorum_high_watermark(b->quorum));
        rn_json_ki64(&j, "end_offset", rn_quorum_end_offset(b->quorum));
    }
    rn_json_key(&j, "voters");
    rn_json_arr(&j);
    for (int i = 0; i < b->cfg->n_voters; i++) {
        const rn_config_voter_t *v = &b->cfg->voters[i];
        rn_json_obj(&j);
        rn_json_ki64(&j, "id", v->id);
        rn_json_kstr(&j, "host", v->host);
        rn_json_ki64(&j, "port", v->port);
        rn_json_kbool(&j, "leader", v->id == leader);
        rn_json_end(&j);
    }
    if (b->cfg->n_voters == 0) { /* a single node is its own quorum */
        rn_json_obj(&j);
        rn_json_ki64(&j, "id", b->node_id);
        rn_json_kstr(&j, "host", b->advertised_host);
        rn_json_ki64(&j, "port", b->advertised_port);
        rn_json_kbool(&j, "leader", b->node_id == leader);
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_end(&j);
    rn_json_key(&j, "brokers");
    rn_json_arr(&j);
    const rn_mimage_t *img = b->cluster != NULL ? rn_cluster_image(b->cluster) : NULL;
    for (size_t i = 0; img != NULL && i < rn_mimage_broker_count(img); i++) {
        const rn_mimage_broker_t *br = rn_mimage_broker_at(img, i);
        rn_json_obj(&j);
        rn_json_ki64(&j, "id", br->id);
        rn_json_kbool(&j, "fenced", br->fenced);
        rn_json_kbool(&j, "in_controlled_shutdown", br->in_controlled_shutdown);
        if (br->n_endpoints > 0) {
            rn_json_kstr(&j, "host", br->endpoints[0].host);
            rn_json_ki64(&j, "port", br->endpoints[0].port);
        }
        rn_json_end(&j);
    }
    rn_json_end(&j);
    int64_t under = 0;
    rn_json_key(&j, "replication");
    write_followers(&j, b, &under);
    rn_json_ki64(&j, "under_replicated_partitions", under);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}
