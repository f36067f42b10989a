/* The console's consumer groups: state, members and their assignments, committed offsets
 * and lag per partition (high watermark minus committed offset, as Kafka's tools count it),
 * and Burrow-style statuses from the samples the sampler keeps (rn_lagstat). Read from the
 * group coordinator of this node: the groups whose __consumer_offsets partition it leads. */
#include "console/console_int.h"

#include "rn_broker.h"
#include "rn_plog.h"
#include "rn_reader.h"
#include "data/rn_datapath.h"
#include "group/rn_gcoord.h"

#include <event2/http.h>
#include <string.h>

/* A committed offset's partition, as far as this node knows it. */
typedef struct lagpoint {
    bool known; /* the partition has an open log here */
    int64_t log_start, log_end, hw;
} lagpoint_t;

static lagpoint_t lookup(rn_broker_t *b, const rn_offset_entry_t *e)
{
    lagpoint_t lp = {0};
    rn_topic_t *topic =
        b->topics != NULL ? rn_topics_find(b->topics, e->topic, e->topic_len) : NULL;
    rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, e->partition) : NULL;
    const rn_dpart_t *dpart = part != NULL ? part->user : NULL;
    if (dpart == NULL || dpart->log == NULL)
        return lp;
    lp.known = true;
    lp.log_start = rn_plog_log_start_offset(dpart->log);
    lp.log_end = rn_plog_log_end_offset(dpart->log);
    lp.hw = rn_dpart_high_watermark(dpart);
    return lp;
}

static int64_t total_lag(rn_broker_t *b, const rn_committed_t *offsets)
{
    int64_t sum = 0;
    for (size_t i = 0; i < rn_committed_count(offsets); i++) {
        const rn_offset_entry_t *e = rn_committed_at(offsets, i);
        lagpoint_t lp = lookup(b, e);
        if (lp.known && lp.hw > e->offset)
            sum += lp.hw - e->offset;
    }
    return sum;
}

/* key: a Kafka string, which may hold any byte (null when it is null). */
static void kstrs(rn_json_t *j, const char *key, rn_str_t s)
{
    rn_json_key(j, key);
    if (s.len < 0)
        rn_json_null(j);
    else
        rn_json_strn(j, s.ptr, (size_t)s.len);
}

void rn__console_sample(rn_console_t *con)
{
    rn_broker_t *b = con->b;
    if (b->gcoord == NULL)
        return;
    int64_t now = rn__console_now_ms();
    for (size_t g = 0; g < rn_gcoord_size(b->gcoord); g++) {
        const rn_committed_t *offsets;
        const rn_group_t *group = rn_gcoord_at(b->gcoord, g, &offsets);
        if (rn_group_state(group) == RN_GROUP_DEAD || rn_committed_count(offsets) == 0)
            continue;
        rn_str_t id = rn_group_id(group);
        for (size_t i = 0; i < rn_committed_count(offsets); i++) {
            const rn_offset_entry_t *e = rn_committed_at(offsets, i);
            lagpoint_t lp = lookup(b, e);
            if (lp.known)
                rn_lagstat_add(con->lag, id, e->topic, e->partition, now, e->offset, e->commit_ts,
                               lp.log_start, lp.hw);
        }
        rn_lagstat_add_total(con->lag, id, now, total_lag(b, offsets));
    }
}

void rn__console_groups(const rn__console_q_t *q)
{
    rn_broker_t *b = q->con->b;
    int64_t now = rn__console_now_ms();
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    rn_json_key(&j, "groups");
    rn_json_arr(&j);
    for (size_t g = 0; b->gcoord != NULL && g < rn_gcoord_size(b->gcoord); g++) {
        const rn_committed_t *offsets;
        const rn_group_t *group = rn_gcoord_at(b->gcoord, g, &offsets);
        if (rn_group_state(group) == RN_GROUP_DEAD)
            continue;
        rn_json_obj(&j);
        kstrs(&j, "id", rn_group_id(group));
        rn_json_kstr(&j, "state", rn_group_state_name(rn_group_state(group)));
        kstrs(&j, "protocol_type", rn_group_protocol_type(group));
        kstrs(&j, "protocol", rn_group_protocol_name(group));
        rn_json_ki64(&j, "generation", rn_group_generation(group));
        rn_json_ki64(&j, "members", (int64_t)rn_group_member_count(group));
        rn_json_ki64(&j, "partitions", (int64_t)rn_committed_count(offsets));
        rn_json_ki64(&j, "lag", total_lag(b, offsets));
        rn_json_kstr(&j, "status",
                     rn_lagstat_name(rn_lagstat_group(q->con->lag, rn_group_id(group), now)));
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_ki64(&j, "coordinator", b->node_id);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}

/* A ConsumerProtocolAssignment (any version: the topic list is its common prefix) as
 * [{topic, partitions}], or the raw size when it is not one. */
static void write_assignment(rn_json_t *j, const uint8_t *p, int32_t len)
{
    rn_reader_t r = rn_reader_make(p, len > 0 ? (size_t)len : 0);
    rn_json_arr(j);
    if (len >= 6) {
        rn_reader_i16(&r);
        int32_t n = rn_reader_i32(&r);
        for (int32_t t = 0; !r.err && t < n && t < 10000; t++) {
            int16_t tl = rn_reader_i16(&r);
            const uint8_t *name = tl >= 0 ? rn_reader_take(&r, (size_t)tl) : NULL;
            int32_t np = rn_reader_i32(&r);
            if (r.err || name == NULL || np < 0 || (size_t)np > rn_reader_left(&r) / 4)
                break;
            rn_json_obj(j);
            rn_json_key(j, "topic");
            rn_json_strn(j, (const char *)name, (size_t)tl);
            rn_json_key(j, "partitions");
            rn_json_arr(j);
            for (int32_t i = 0; i < np; i++)
                rn_json_i64(j, rn_reader_i32(&r));
            rn_json_end(j);
            rn_json_end(j);
        }
    }
    rn_json_end(j);
}

static void write_members(rn_json_t *j, const rn_group_t *group)
{
    bool consumer = rn_str_eq_cstr(rn_group_protocol_type(group), "consumer");
    rn_json_arr(j);
    for (size_t i = 0; i < rn_group_member_count(group); i++) {
        const rn_group_member_t *m = rn_group_member_at(group, i);
        rn_json_obj(j);
        kstrs(j, "member_id", m->member_id);
        kstrs(j, "instance_id", m->instance_id);
        kstrs(j, "client_id", m->client_id);
        kstrs(j, "client_host", m->client_host);
        rn_json_ki64(j, "session_timeout_ms", m->session_timeout_ms);
        rn_json_key(j, "assignment");
        if (consumer)
            write_assignment(j, m->assignment, m->assignment_len);
        else
            rn_json_hex(j, m->assignment, m->assignment_len > 0 ? (size_t)m->assignment_len : 0);
        rn_json_end(j);
    }
    rn_json_end(j);
}

void rn__console_group(const rn__console_q_t *q)
{
    rn_console_t *con = q->con;
    rn_broker_t *b = con->b;
    const char *param = rn__console_param(q, "id");
    rn_str_t id = param != NULL ? rn_str(param) : RN_STR_NULL;
    const rn_group_t *group = NULL;
    const rn_committed_t *offsets = NULL;
    for (size_t g = 0; id.len >= 0 && b->gcoord != NULL && g < rn_gcoord_size(b->gcoord); g++) {
        const rn_committed_t *o;
        const rn_group_t *gr = rn_gcoord_at(b->gcoord, g, &o);
        if (rn_str_eq(rn_group_id(gr), id) && rn_group_state(gr) != RN_GROUP_DEAD) {
            group = gr;
            offsets = o;
        }
    }
    if (group == NULL) {
        rn__console_error(q->req, HTTP_NOTFOUND,
                          "no such group on this node (it may be coordinated by another)");
        return;
    }
    int64_t now = rn__console_now_ms();
    rn_json_t j;
    rn_json_init(&j, RN_CONSOLE_MAX_ANSWER);
    rn_json_obj(&j);
    kstrs(&j, "id", id);
    rn_json_kstr(&j, "state", rn_group_state_name(rn_group_state(group)));
    kstrs(&j, "protocol_type", rn_group_protocol_type(group));
    kstrs(&j, "protocol", rn_group_protocol_name(group));
    rn_json_ki64(&j, "generation", rn_group_generation(group));
    kstrs(&j, "leader", rn_group_leader(group));
    rn_json_key(&j, "members");
    write_members(&j, group);
    rn_json_key(&j, "offsets");
    rn_json_arr(&j);
    for (size_t i = 0; i < rn_committed_count(offsets); i++) {
        const rn_offset_entry_t *e = rn_committed_at(offsets, i);
        lagpoint_t lp = lookup(b, e);
        rn_json_obj(&j);
        rn_json_key(&j, "topic");
        rn_json_strn(&j, e->topic, e->topic_len);
        rn_json_ki64(&j, "partition", e->partition);
        rn_json_ki64(&j, "committed", e->offset);
        rn_json_ki64(&j, "commit_timestamp", e->commit_ts);
        rn_json_key(&j, "metadata");
        rn_json_strn(&j, e->metadata, e->metadata_len);
        if (lp.known) {
            rn_json_ki64(&j, "log_end", lp.log_end);
            rn_json_ki64(&j, "high_watermark", lp.hw);
            rn_json_ki64(&j, "lag", lp.hw > e->offset ? lp.hw - e->offset : 0);
        }
        rn_json_kstr(
            &j, "status",
            rn_lagstat_name(rn_lagstat_partition(con->lag, id, e->topic, e->partition, now)));
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_ki64(&j, "lag", total_lag(b, offsets));
    rn_json_kstr(&j, "status", rn_lagstat_name(rn_lagstat_group(con->lag, id, now)));
    rn_json_key(&j, "history");
    rn_json_arr(&j);
    rn_lagstat_point_t pts[RN_LAGSTAT_HISTORY];
    size_t n = rn_lagstat_history(con->lag, id, pts, RN_LAGSTAT_HISTORY);
    for (size_t i = 0; i < n; i++) {
        rn_json_arr(&j);
        rn_json_i64(&j, pts[i].ts_ms);
        rn_json_i64(&j, pts[i].lag);
        rn_json_end(&j);
    }
    rn_json_end(&j);
    rn_json_end(&j);
    rn__console_reply(q->req, &j);
    rn_json_free(&j);
}
