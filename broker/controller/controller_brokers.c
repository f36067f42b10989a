/* rn_controller: broker decisions — registration (epoch = the RegisterBrokerRecord's
 * offset), heartbeats and their sessions, fencing with leader movement, unfencing, and
 * producer id blocks (rn_controller.h; KIP-631's ClusterControlManager and
 * BrokerHeartbeatManager are the reference). */
#include "controller/rn_controller.h"

#include "rn_alloc.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <string.h>
#include <strings.h>

static rn__ctl_session_t *session(rn_controller_t *ctl, int32_t id)
{
    for (size_t i = 0; i < ctl->n_sessions; i++)
        if (ctl->sessions[i].id == id)
            return &ctl->sessions[i];
    return NULL;
}

static void touch(rn_controller_t *ctl, int32_t id, int64_t now_ms)
{
    rn__ctl_session_t *s = session(ctl, id);
    if (s == NULL) {
        rn__ctl_session_t fresh = {id, now_ms, true, -1, -1};
        rn_vec_xpush(ctl->sessions, ctl->n_sessions, ctl->sessions_cap, fresh);
        return;
    }
    s->last_ms = now_ms;
    s->heard = true;
}

static bool alive(rn_controller_t *ctl, int32_t id, int64_t now_ms)
{
    rn__ctl_session_t *s = session(ctl, id);
    return s != NULL && now_ms - s->last_ms < ctl->opts.session_timeout_ms;
}

void rn_controller_register_broker(rn_controller_t *ctl,
                                   const rn_broker_registration_request_t *req, int64_t next_offset,
                                   int64_t now_ms, rn_mrecs_t *out,
                                   rn_broker_registration_response_t *resp)
{
    const char *cid = ctl->opts.cluster_id;
    if (cid != NULL && (req->cluster_id.len != (int32_t)strlen(cid) ||
                        memcmp(req->cluster_id.ptr, cid, strlen(cid)) != 0)) {
        resp->error_code = RN_KERR_INCONSISTENT_CLUSTER_ID;
        return;
    }
    const rn_mimage_broker_t *old = rn_mimage_broker(ctl->img, req->broker_id);
    if (old != NULL && rn_uuid_equal(&old->incarnation_id, &req->incarnation_id)) {
        /* The same incarnation asking again keeps its epoch: nothing to write. */
        touch(ctl, req->broker_id, now_ms);
        resp->broker_epoch = old->epoch;
        return;
    }
    /* A live session refuses a second incarnation; one this controller never heard from
     * (its grace period after activation) does not: the old process is most likely gone,
     * a restarted node (a single node above all) registers at once. Nor does one that
     * announced it was leaving (controlled shutdown). */
    rn__ctl_session_t *live = session(ctl, req->broker_id);
    if (old != NULL && !old->fenced && !old->in_controlled_shutdown &&
        alive(ctl, req->broker_id, now_ms) && live->heard) {
        resp->error_code = RN_KERR_DUPLICATE_BROKER_REGISTRATION;
        return;
    }
    int n = req->listeners.count > 0 ? req->listeners.count : 0;
    rn_broker_endpoint_t eps[n > 0 ? n : 1];
    for (int i = 0; i < n; i++) {
        const rn_broker_registration_req_listener_t *l = &req->listeners.items[i];
        eps[i] = (rn_broker_endpoint_t){l->name, l->host, l->port, l->security_protocol};
    }
    int64_t epoch = next_offset + out->n;
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_REGISTER_BROKER_RECORD);
    rn_register_broker_record_t *r = &rec.body.register_broker;
    r->broker_id = req->broker_id;
    r->incarnation_id = req->incarnation_id;
    r->broker_epoch = epoch;
    r->end_points = (rn_broker_endpoint_array_t){n, eps};
    r->rack = req->rack;
    r->fenced = true; /* a new incarnation starts fenced until it catches up */
    rn_mrecs_add(out, &rec);
    touch(ctl, req->broker_id, now_ms);
    rn__ctl_session_t *s = session(ctl, req->broker_id);
    s->metadata_offset = -1;
    s->shutdown_offset = -1;
    resp->broker_epoch = epoch;
}

/* Leader choice (PartitionChangeBuilder): the current leader if still in the ISR and
 * active, else the first replica in assignment order that is in the ISR and active. */
static int32_t choose_leader(const rn_mimage_t *img, const rn_mimage_part_t *part,
                             const int32_t *isr, int32_t n_isr, int32_t exclude)
{
    for (int32_t i = 0; i < part->n_replicas; i++) {
        int32_t id = part->replicas[i];
        if (id == exclude || !rn_mimage_broker_active(img, id))
            continue;
        for (int32_t j = 0; j < n_isr; j++)
            if (isr[j] == id)
                return id;
    }
    return -1;
}

static void change_record(const rn_mimage_topic_t *t, int32_t p, const int32_t *isr, int32_t n_isr,
                          int32_t leader, rn_mrecs_t *out)
{
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    rn_partition_change_record_t *r = &rec.body.partition_change;
    r->partition_id = p;
    r->topic_id = t->id;
    if (isr != NULL)
        r->isr = (rn_int32_array_t){n_isr, (int32_t *)isr};
    r->leader = leader;
    rn_mrecs_add(out, &rec);
}

/* The partition changes that take broker id out of every ISR (a last member stays) and
 * move its leaderships to other ISR members (or none). */
/* unclean.leader.election.enable for topic t: its override, else the broker's default. */
static bool unclean_allowed(const rn_controller_t *ctl, const rn_mimage_topic_t *t)
{
    const char *v = rn_mimage_config(ctl->img, RN_MREC_RESOURCE_TOPIC, t->name,
                                     "unclean.leader.election.enable");
    return v != NULL ? strcasecmp(v, "true") == 0 : ctl->opts.unclean_leader_election;
}

static void log_unclean(const rn_mimage_topic_t *t, int32_t p, int32_t id)
{
    RN_WARN("controller",
            "%s-%d: no in-sync replica can lead; electing out-of-sync replica %d "
            "(unclean.leader.election.enable): records may be lost",
            t->name, p, id);
}

/* Unclean election (only when allowed): the first active replica in assignment order
 * other than exclude, which becomes the whole ISR. Records written after the last
 * in-sync replica went may be lost; Kafka logs it, so do we. -1: none. */
static int32_t choose_unclean(const rn_controller_t *ctl, const rn_mimage_topic_t *t, int32_t p,
                              int32_t exclude)
{
    const rn_mimage_part_t *part = &t->parts[p];
    if (!unclean_allowed(ctl, t))
        return -1;
    for (int32_t i = 0; i < part->n_replicas; i++) {
        int32_t id = part->replicas[i];
        if (id != exclude && rn_mimage_broker_active(ctl->img, id)) {
            log_unclean(t, p, id);
            return id;
        }
    }
    return -1;
}

static void leave(rn_controller_t *ctl, int32_t id, rn_mrecs_t *out)
{
    for (size_t i = 0; i < rn_mimage_topic_count(ctl->img); i++) {
        const rn_mimage_topic_t *t = rn_mimage_topic_at(ctl->img, i);
        for (int32_t p = 0; p < t->n_parts; p++) {
            const rn_mimage_part_t *part = &t->parts[p];
            int32_t isr[part->n_isr > 0 ? part->n_isr : 1], n_isr = 0;
            bool in_isr = false;
            for (int32_t j = 0; j < part->n_isr; j++) {
                if (part->isr[j] == id)
                    in_isr = true;
                else
                    isr[n_isr++] = part->isr[j];
            }
            if (!in_isr && part->leader != id)
                continue;
            if (n_isr == 0 && in_isr) /* never empty an ISR: the last member stays */
                isr[n_isr++] = id;
            int32_t leader = part->leader;
            if (leader == id || leader == -1)
                leader = choose_leader(ctl->img, part, isr, n_isr, id);
            bool isr_changed = in_isr && n_isr != part->n_isr;
            if (leader == -1) {
                int32_t unclean = choose_unclean(ctl, t, p, id);
                if (unclean >= 0) {
                    leader = unclean;
                    isr[0] = unclean;
                    n_isr = 1;
                    isr_changed = true;
                }
            }
            if (!isr_changed && leader == part->leader)
                continue; /* a last ISR member, already leaderless: nothing changes */
            change_record(t, p, isr_changed ? isr : NULL, n_isr,
                          leader != part->leader ? leader : -2, out);
        }
    }
}

void rn_controller_fence(rn_controller_t *ctl, int32_t id, rn_mrecs_t *out)
{
    const rn_mimage_broker_t *b = rn_mimage_broker(ctl->img, id);
    if (b == NULL || b->fenced)
        return;
    int from = out->n;
    leave(ctl, id, out);
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_FENCE_BROKER_RECORD);
    rec.body.fence_broker.id = id;
    rec.body.fence_broker.epoch = b->epoch;
    rn_mrecs_add(out, &rec);
    rn_mrecs_wrap_transaction(out, from, "FenceBroker");
}

/* Unfence, then give leaderless partitions whose ISR holds the broker their leader back. */
static void unfence(rn_controller_t *ctl, const rn_mimage_broker_t *b, rn_mrecs_t *out)
{
    int from = out->n;
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_UNFENCE_BROKER_RECORD);
    rec.body.unfence_broker.id = b->id;
    rec.body.unfence_broker.epoch = b->epoch;
    rn_mrecs_add(out, &rec);
    for (size_t i = 0; i < rn_mimage_topic_count(ctl->img); i++) {
        const rn_mimage_topic_t *t = rn_mimage_topic_at(ctl->img, i);
        for (int32_t p = 0; p < t->n_parts; p++) {
            const rn_mimage_part_t *part = &t->parts[p];
            if (part->leader != -1)
                continue;
            bool in_isr = false;
            for (int32_t j = 0; j < part->n_isr; j++)
                in_isr |= part->isr[j] == b->id;
            if (in_isr) {
                change_record(t, p, NULL, 0, b->id, out);
            } else if (unclean_allowed(ctl, t)) {
                for (int32_t j = 0; j < part->n_replicas; j++) {
                    if (part->replicas[j] != b->id)
                        continue;
                    log_unclean(t, p, b->id);
                    change_record(t, p, &b->id, 1, b->id, out);
                }
            }
        }
    }
    rn_mrecs_wrap_transaction(out, from, "UnfenceBroker");
}

/* Every active broker but b has applied the image up to offset (its last heartbeat says). */
static bool others_applied(rn_controller_t *ctl, int32_t id, int64_t offset)
{
    for (size_t i = 0; i < rn_mimage_broker_count(ctl->img); i++) {
        const rn_mimage_broker_t *o = rn_mimage_broker_at(ctl->img, i);
        if (o->id == id || !rn_mimage_broker_active(ctl->img, o->id))
            continue;
        const rn__ctl_session_t *s = session(ctl, o->id);
        if (s == NULL || s->metadata_offset < offset)
            return false;
    }
    return true;
}

/* Controlled shutdown (KIP-631's CONTROLLED_SHUTDOWN, then SHUTDOWN_NOW). */
static void shut_down(rn_controller_t *ctl, const rn_mimage_broker_t *b, rn__ctl_session_t *s,
                      int64_t next_offset, rn_mrecs_t *out, rn_broker_heartbeat_response_t *resp)
{
    if (b->fenced) { /* fencing already took it off every ISR and leadership */
        resp->should_shut_down = true;
        return;
    }
    if (!b->in_controlled_shutdown) {
        int from = out->n;
        rn_mrec_t rec;
        rn_mrec_init(&rec, RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD);
        rec.body.broker_registration_change.broker_id = b->id;
        rec.body.broker_registration_change.broker_epoch = b->epoch;
        rec.body.broker_registration_change.in_controlled_shutdown = 1;
        rn_mrecs_add(out, &rec);
        leave(ctl, b->id, out);
        rn_mrecs_wrap_transaction(out, from, "ControlledShutdown");
        s->shutdown_offset = next_offset + out->n - 1; /* where they end */
        return;
    }
    /* A new controller does not know where they ended: its image holds them. */
    if (s->shutdown_offset < 0)
        s->shutdown_offset = rn_mimage_offset(ctl->img);
    if (!others_applied(ctl, b->id, s->shutdown_offset))
        return;
    rn_controller_fence(ctl, b->id, out);
    resp->is_fenced = true;
    resp->should_shut_down = true;
}

void rn_controller_heartbeat(rn_controller_t *ctl, const rn_broker_heartbeat_request_t *req,
                             int64_t next_offset, int64_t now_ms, rn_mrecs_t *out,
                             rn_broker_heartbeat_response_t *resp)
{
    const rn_mimage_broker_t *b = rn_mimage_broker(ctl->img, req->broker_id);
    if (b == NULL) {
        resp->error_code = RN_KERR_BROKER_ID_NOT_REGISTERED;
        return;
    }
    if (b->epoch != req->broker_epoch) {
        resp->error_code = RN_KERR_STALE_BROKER_EPOCH;
        return;
    }
    touch(ctl, b->id, now_ms);
    rn__ctl_session_t *s = session(ctl, b->id);
    s->metadata_offset = req->current_metadata_offset;
    resp->is_caught_up = req->current_metadata_offset >= b->epoch;
    resp->is_fenced = b->fenced;
    if (req->want_shut_down) {
        shut_down(ctl, b, s, next_offset, out, resp);
    } else if (req->want_fence && !b->fenced) {
        rn_controller_fence(ctl, b->id, out);
        resp->is_fenced = true;
    } else if (b->fenced && !b->in_controlled_shutdown && !req->want_fence && resp->is_caught_up) {
        unfence(ctl, b, out);
        resp->is_fenced = false;
    }
}

int32_t rn_controller_check_sessions(rn_controller_t *ctl, int64_t now_ms, rn_mrecs_t *out)
{
    for (size_t i = 0; i < rn_mimage_broker_count(ctl->img); i++) {
        const rn_mimage_broker_t *b = rn_mimage_broker_at(ctl->img, i);
        if (b->fenced)
            continue;
        /* A broker the new active controller has not heard from yet gets a full session. */
        if (session(ctl, b->id) == NULL) {
            rn__ctl_session_t grace = {b->id, now_ms, false, -1, -1};
            rn_vec_xpush(ctl->sessions, ctl->n_sessions, ctl->sessions_cap, grace);
        }
        if (alive(ctl, b->id, now_ms))
            continue;
        rn_controller_fence(ctl, b->id, out);
        return b->id;
    }
    return -1;
}

void rn_controller_allocate_producer_ids(rn_controller_t *ctl,
                                         const rn_allocate_producer_ids_request_t *req,
                                         rn_mrecs_t *out, rn_allocate_producer_ids_response_t *resp)
{
    const rn_mimage_broker_t *b = rn_mimage_broker(ctl->img, req->broker_id);
    if (b == NULL) {
        resp->error_code = RN_KERR_BROKER_ID_NOT_REGISTERED;
        return;
    }
    if (b->epoch != req->broker_epoch) {
        resp->error_code = RN_KERR_STALE_BROKER_EPOCH;
        return;
    }
    int64_t start = rn_mimage_next_producer_id(ctl->img);
    if (start < ctl->opts.producer_id_floor)
        start = ctl->opts.producer_id_floor;
    if (start > INT64_MAX - RN_CONTROLLER_PID_BLOCK) {
        resp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR; /* ids exhausted */
        return;
    }
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_PRODUCER_IDS_RECORD);
    rec.body.producer_ids.broker_id = b->id;
    rec.body.producer_ids.broker_epoch = b->epoch;
    rec.body.producer_ids.next_producer_id = start + RN_CONTROLLER_PID_BLOCK;
    rn_mrecs_add(out, &rec);
    resp->producer_id_start = start;
    resp->producer_id_len = RN_CONTROLLER_PID_BLOCK;
}
