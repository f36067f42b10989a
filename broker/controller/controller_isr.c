/* rn_controller: AlterPartition (56), a partition leader's ISR change (rn_controller.h).
 * The checks and their order are Kafka's (ReplicationControlManager; KIP-497, KIP-841,
 * KIP-903), so that a deposed leader, a stale view of the partition or a replica that is
 * not a live member of the cluster can never change an ISR. */
#include "controller/rn_controller.h"

#include "rn_kerr.h"

#include <string.h>

/* The requested ISR as (id, broker epoch) pairs; before v3 epochs are -1 (not checked). */
typedef struct isr_req {
    const rn_alter_partition_req_partition_t *p;
    int16_t version;
} isr_req_t;

static int32_t isr_count(const isr_req_t *r)
{
    int32_t n = r->version >= 3 ? r->p->new_isr_with_epochs.count : r->p->new_isr.count;
    return n > 0 ? n : 0;
}

static int32_t isr_id(const isr_req_t *r, int32_t i)
{
    return r->version >= 3 ? r->p->new_isr_with_epochs.items[i].broker_id : r->p->new_isr.items[i];
}

static int64_t isr_epoch(const isr_req_t *r, int32_t i)
{
    return r->version >= 3 ? r->p->new_isr_with_epochs.items[i].broker_epoch : -1;
}

static bool has(const int32_t *ids, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Kafka's Replicas.validateIsr: every member a replica, none twice (an empty ISR passes
 * here and fails the leader check after). */
static bool isr_valid(const isr_req_t *r, const rn_mimage_part_t *part)
{
    int32_t n = isr_count(r);
    for (int32_t i = 0; i < n; i++) {
        int32_t id = isr_id(r, i);
        if (id < 0 || !has(part->replicas, part->n_replicas, id))
            return false;
        for (int32_t j = 0; j < i; j++)
            if (isr_id(r, j) == id)
                return false;
    }
    return true;
}

/* KIP-841 / KIP-903: registered, not shutting down, unfenced, and of the epoch named. */
static bool isr_eligible(const rn_mimage_t *img, const isr_req_t *r)
{
    int32_t n = isr_count(r);
    for (int32_t i = 0; i < n; i++) {
        const rn_mimage_broker_t *b = rn_mimage_broker(img, isr_id(r, i));
        int64_t epoch = isr_epoch(r, i);
        if (b == NULL || b->in_controlled_shutdown || b->fenced ||
            (epoch != -1 && b->epoch != epoch))
            return false;
    }
    return true;
}

static int16_t check(const rn_controller_t *ctl, int32_t broker_id, const isr_req_t *r,
                     const rn_mimage_part_t *part)
{
    const rn_alter_partition_req_partition_t *p = r->p;
    if (part == NULL)
        return RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    /* Epochs above the image's: this controller is behind, most likely no longer active. */
    if (p->leader_epoch > part->leader_epoch || p->partition_epoch > part->partition_epoch)
        return RN_KERR_NOT_CONTROLLER;
    if (p->leader_epoch < part->leader_epoch)
        return RN_KERR_FENCED_LEADER_EPOCH;
    if (broker_id != part->leader)
        return RN_KERR_INVALID_REQUEST;
    if (p->partition_epoch < part->partition_epoch)
        return RN_KERR_INVALID_UPDATE_VERSION;
    if (!isr_valid(r, part))
        return RN_KERR_INVALID_REQUEST;
    bool leader_in = false;
    for (int32_t i = 0; i < isr_count(r); i++)
        leader_in |= isr_id(r, i) == part->leader;
    if (!leader_in)
        return RN_KERR_INVALID_REQUEST;
    /* KIP-704: a leader recovering from an unclean election keeps a one-member ISR, and a
     * recovered partition never goes back to recovering. */
    if (p->leader_recovery_state == 1 && isr_count(r) > 1)
        return RN_KERR_INVALID_REQUEST;
    if (part->leader_recovery_state == 0 && p->leader_recovery_state == 1)
        return RN_KERR_INVALID_REQUEST;
    if (!isr_eligible(ctl->img, r))
        return r->version > 1 ? RN_KERR_INELIGIBLE_REPLICA : RN_KERR_OPERATION_NOT_ATTEMPTED;
    return RN_KERR_NONE;
}

/* Same members, whatever the order. */
static bool isr_same(const isr_req_t *r, const rn_mimage_part_t *part)
{
    int32_t n = isr_count(r);
    if (n != part->n_isr)
        return false;
    for (int32_t i = 0; i < n; i++)
        if (!has(part->isr, part->n_isr, isr_id(r, i)))
            return false;
    return true;
}

static void answer_part(rn_alter_partition_resp_partition_t *rp, const rn_mimage_part_t *part,
                        const int32_t *isr, int32_t n_isr, int8_t lrs, int32_t bump,
                        rn_arena_t *arena)
{
    rp->error_code = RN_KERR_NONE;
    rp->leader_id = part->leader;
    rp->leader_epoch = part->leader_epoch;
    rp->partition_epoch = part->partition_epoch + bump;
    rp->leader_recovery_state = lrs;
    int32_t *items = rn_arena_alloc(arena, (size_t)(n_isr > 0 ? n_isr : 1) * sizeof(int32_t));
    if (items == NULL) {
        rp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    if (n_isr > 0)
        memcpy(items, isr, (size_t)n_isr * sizeof(int32_t));
    rp->isr = (rn_int32_array_t){n_isr, items};
}

static void alter_one(rn_controller_t *ctl, int32_t broker_id, int16_t version,
                      const rn_mimage_topic_t *t, const rn_alter_partition_req_partition_t *p,
                      rn_arena_t *arena, rn_mrecs_t *out, rn_alter_partition_resp_partition_t *rp)
{
    isr_req_t r = {p, version};
    const rn_mimage_part_t *part = p->partition_index >= 0 && p->partition_index < t->n_parts
                                       ? &t->parts[p->partition_index]
                                       : NULL;
    rp->partition_index = p->partition_index;
    rp->error_code = check(ctl, broker_id, &r, part);
    if (rp->error_code != RN_KERR_NONE)
        return;
    int8_t lrs = version >= 1 ? p->leader_recovery_state : part->leader_recovery_state;
    bool same = isr_same(&r, part);
    if (same && lrs == part->leader_recovery_state) {
        /* Nothing changes: nothing is written, the answer is the partition as it is. */
        answer_part(rp, part, part->isr, part->n_isr, lrs, 0, arena);
        return;
    }
    int32_t n = isr_count(&r);
    int32_t isr[n > 0 ? n : 1];
    for (int32_t i = 0; i < n; i++)
        isr[i] = isr_id(&r, i);
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    rn_partition_change_record_t *c = &rec.body.partition_change;
    c->partition_id = p->partition_index;
    c->topic_id = t->id;
    if (!same)
        c->isr = (rn_int32_array_t){n, isr};
    c->leader = -2; /* the leader stays, and so does its epoch */
    if (lrs != part->leader_recovery_state)
        c->leader_recovery_state = lrs;
    rn_mrecs_add(out, &rec);
    /* The answer is the partition as the image will have it once the record is applied. */
    if (same)
        answer_part(rp, part, part->isr, part->n_isr, lrs, 1, arena);
    else
        answer_part(rp, part, isr, n, lrs, 1, arena);
}

void rn_controller_alter_partition(rn_controller_t *ctl, const rn_alter_partition_request_t *req,
                                   int16_t version, rn_arena_t *arena, rn_mrecs_t *out,
                                   rn_alter_partition_response_t *resp)
{
    const rn_mimage_broker_t *b = rn_mimage_broker(ctl->img, req->broker_id);
    if (b == NULL || b->epoch != req->broker_epoch) {
        resp->error_code = RN_KERR_STALE_BROKER_EPOCH;
        return;
    }
    int32_t nt = req->topics.count > 0 ? req->topics.count : 0;
    rn_alter_partition_resp_topic_t *rts =
        rn_alter_partition_resp_topic_array_alloc(arena, &resp->topics, nt);
    if (rts == NULL && nt > 0) {
        resp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    for (int32_t i = 0; i < nt; i++) {
        const rn_alter_partition_req_topic_t *rt = &req->topics.items[i];
        rn_alter_partition_resp_topic_t *out_t = &rts[i];
        out_t->topic_name = rt->topic_name;
        out_t->topic_id = rt->topic_id;
        const rn_mimage_topic_t *t =
            version >= 2 ? rn_mimage_topic_id(ctl->img, &rt->topic_id)
            : rt->topic_name.len > 0
                ? rn_mimage_topic(ctl->img, rt->topic_name.ptr, (size_t)rt->topic_name.len)
                : NULL;
        int32_t np = rt->partitions.count > 0 ? rt->partitions.count : 0;
        rn_alter_partition_resp_partition_t *rps =
            rn_alter_partition_resp_partition_array_alloc(arena, &out_t->partitions, np);
        if (rps == NULL && np > 0) {
            resp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
            return;
        }
        for (int32_t j = 0; j < np; j++) {
            const rn_alter_partition_req_partition_t *p = &rt->partitions.items[j];
            if (t == NULL) {
                rps[j].partition_index = p->partition_index;
                rps[j].error_code =
                    version >= 2 ? RN_KERR_UNKNOWN_TOPIC_ID : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            alter_one(ctl, req->broker_id, version, t, p, arena, out, &rps[j]);
        }
    }
}
