/* The leader's side of a replicated partition: each follower's progress from its Fetches,
 * the high watermark, and when followers leave and rejoin the ISR (rn_replica.h). */
#include "replica/replica_int.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"

#include <string.h>

static rn__follower_t *follower(rn__rpart_t *rep, int32_t id)
{
    for (int32_t i = 0; i < rep->n_followers; i++)
        if (rep->followers[i].id == id)
            return &rep->followers[i];
    return NULL;
}

static bool in_list(const int32_t *ids, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

void rn__leader_start(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_dpart_t *dpart = rep->dpart;
    rn_partition_t *part = dpart->part;
    int64_t leo = rn_plog_log_end_offset(dpart->log);
    /* The new epoch starts at the log end (Kafka's makeLeader): a follower whose log goes
     * past it in an older epoch is told to truncate back to it. */
    rn_datapath_lead_epoch(rn_datapath(rm->b), dpart, part->leader_epoch);
    rep->epoch_start = leo;
    rn_free(rep->followers);
    rep->followers =
        rn_xcalloc((size_t)(part->n_replicas > 0 ? part->n_replicas : 1), sizeof(*rep->followers));
    rep->n_followers = 0;
    int64_t now = rn_clock_mono_ms();
    for (int32_t i = 0; i < part->n_replicas; i++) {
        if (part->replicas[i] == rm->b->node_id)
            continue;
        /* ISR members get a full replica.lag.time.max.ms to show up (as Kafka). */
        rep->followers[rep->n_followers++] = (rn__follower_t){
            .id = part->replicas[i],
            .leo = -1,
            .caught_up_ms = in_list(part->isr, part->n_isr, part->replicas[i]) ? now : 0,
        };
    }
    rep->isr_in_flight = false;
    rep->isr_retry_ms = 0;
    rn__leader_check(rm, rep);
}

void rn__leader_stop(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn__isr_cancel(rm, rep);
    rn_free(rep->followers);
    rep->followers = NULL;
    rep->n_followers = 0;
    rep->isr_in_flight = false;
}

/* The ISR the high watermark and acks count: the committed one, plus a member being added
 * (a shrink in flight keeps the old members: Kafka's maximal ISR). */
static bool in_maximal_isr(const rn__rpart_t *rep, int32_t id)
{
    const rn_partition_t *part = rep->dpart->part;
    return in_list(part->isr, part->n_isr, id) ||
           (rep->isr_in_flight && in_list(rep->isr_asked, rep->n_isr_asked, id));
}

static void maybe_advance_hw(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_dpart_t *dpart = rep->dpart;
    const rn_partition_t *part = dpart->part;
    /* KAFKA-15583: with fewer in-sync replicas than min(min.insync.replicas, replicas) the
     * high watermark stays put, so nothing is exposed that too few replicas hold. */
    int64_t need = dpart->min_insync_replicas < part->n_replicas ? dpart->min_insync_replicas
                                                                 : part->n_replicas;
    if (part->n_isr < need)
        return;
    int64_t hw = rn_plog_log_end_offset(dpart->log);
    for (int32_t i = 0; i < rep->n_followers; i++) {
        const rn__follower_t *f = &rep->followers[i];
        if (!in_maximal_isr(rep, f->id))
            continue;
        if (f->leo < 0)
            return; /* not heard from since this node took the lead */
        if (f->leo < hw)
            hw = f->leo;
    }
    if (hw > dpart->hw)
        rn__hw_advance(rm, rep, hw);
}

void rn__hw_advance(rn_replica_t *rm, rn__rpart_t *rep, int64_t hw)
{
    rn_dpart_t *dpart = rep->dpart;
    int64_t old = dpart->hw, leo = rn_plog_log_end_offset(dpart->log);
    dpart->hw = hw;
    /* Consumers count bytes towards min_bytes: the share of the unreplicated bytes now
     * below the high watermark. */
    int64_t bytes = rep->unreplicated_bytes;
    if (hw < leo && leo > old)
        bytes = (int64_t)((double)bytes * (double)(hw - old) / (double)(leo - old));
    rep->unreplicated_bytes -= bytes;
    rn_datapath_t *dp = rn_datapath(rm->b);
    rn_fetchwait_notify(rn_datapath_waits(dp), rn_replica_hw_key(dpart->part),
                        bytes > 0 ? bytes : 1);
    rn__pwait_check(rm, dpart, 0);
}

void rn_replica_leader_appended(rn_broker_t *b, rn_dpart_t *dpart, int64_t bytes)
{
    rn__rpart_t *rep = rn__rep(dpart);
    if (b->replica == NULL || rep == NULL || rep->role != RN__ROLE_LEADER)
        return;
    rep->unreplicated_bytes += bytes;
    maybe_advance_hw(b->replica, rep);
}

/* ---- ISR changes ---- */

static void propose(rn_replica_t *rm, rn__rpart_t *rep, const int32_t *isr, int32_t n,
                    const char *why)
{
    rn_partition_t *part = rep->dpart->part;
    rn_free(rep->isr_asked);
    rep->isr_asked = rn_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    memcpy(rep->isr_asked, isr, (size_t)n * sizeof(int32_t));
    rep->n_isr_asked = n;
    char list[128] = "";
    size_t len = 0;
    for (int32_t i = 0; i < n && len < sizeof(list) - 12; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i ? "," : "", isr[i]);
    RN_INFO("replica", "node %d: %s-%d: ISR -> [%s] (%s)", rm->b->node_id, part->topic->name,
            part->index, list, why);
    rep->isr_in_flight = true;
    rn__isr_propose(rm, rep);
}

void rn__isr_answered(rn_replica_t *rm, rn__rpart_t *rep, int16_t error)
{
    rep->isr_in_flight = false;
    if (error != RN_KERR_NONE) {
        /* Stale or refused: the metadata will say what is true; try again later. */
        RN_INFO("replica", "node %d: %s-%d: ISR change refused: %s", rm->b->node_id,
                rep->dpart->part->topic->name, rep->dpart->part->index, rn_kerr_name(error));
        rep->isr_retry_ms = rn_clock_mono_ms() + 500;
    }
    maybe_advance_hw(rm, rep);
}

/* A follower that caught up rejoins the ISR (not while another change is in flight):
 * at or past the high watermark and the start of this epoch, and an active broker. */
static void maybe_expand(rn_replica_t *rm, rn__rpart_t *rep, const rn__follower_t *f)
{
    rn_dpart_t *dpart = rep->dpart;
    rn_partition_t *part = dpart->part;
    if (rep->isr_in_flight || in_list(part->isr, part->n_isr, f->id) ||
        rn_clock_mono_ms() < rep->isr_retry_ms)
        return;
    if (f->leo < dpart->hw || f->leo < rep->epoch_start || !rn__broker_active(rm, f->id))
        return;
    int32_t isr[part->n_isr + 1];
    memcpy(isr, part->isr, (size_t)part->n_isr * sizeof(int32_t));
    isr[part->n_isr] = f->id;
    rm->isr_expands++;
    propose(rm, rep, isr, part->n_isr + 1, "a follower caught up");
}

int16_t rn_replica_follower_fetch(rn_broker_t *b, rn_dpart_t *dpart, int32_t replica_id,
                                  int64_t fetch_offset, int32_t last_fetched_epoch,
                                  int32_t *div_epoch, int64_t *div_offset)
{
    *div_epoch = -1;
    *div_offset = -1;
    rn__rpart_t *rep = rn__rep(dpart);
    if (b->replica == NULL || rep == NULL || rep->role != RN__ROLE_LEADER)
        return RN_KERR_NOT_LEADER_OR_FOLLOWER;
    rn__follower_t *f = follower(rep, replica_id);
    if (f == NULL)
        return RN_KERR_UNKNOWN_LEADER_EPOCH; /* not a replica of this partition (as Kafka) */
    int64_t leo = rn_plog_log_end_offset(dpart->log);
    if (last_fetched_epoch >= 0) {
        int32_t e;
        int64_t o;
        rn_epochs_end_offset_for(&dpart->epochs, last_fetched_epoch, leo, &e, &o);
        if (e < 0 || o < 0)
            return RN_KERR_OFFSET_OUT_OF_RANGE;
        if (e < last_fetched_epoch || o < fetch_offset) {
            *div_epoch = e;
            *div_offset = o;
            return RN_KERR_NONE; /* no records, no progress recorded */
        }
    }
    if (fetch_offset < rn_plog_log_start_offset(dpart->log) || fetch_offset > leo)
        return RN_KERR_OFFSET_OUT_OF_RANGE;
    int64_t now = rn_clock_mono_ms();
    /* Caught up now, or at its previous Fetch if it has everything the leader had then. */
    if (fetch_offset >= leo)
        f->caught_up_ms = now;
    else if (f->fetch_ms > 0 && fetch_offset >= f->leader_leo_at_fetch &&
             f->fetch_ms > f->caught_up_ms)
        f->caught_up_ms = f->fetch_ms;
    f->fetch_ms = now;
    f->leader_leo_at_fetch = leo;
    f->leo = fetch_offset;
    maybe_expand(b->replica, rep, f);
    maybe_advance_hw(b->replica, rep);
    return RN_KERR_NONE;
}

/* The metadata changed while this node leads at the same epoch (ISR, replicas). */
void rn__leader_check(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_partition_t *part = rep->dpart->part;
    /* Replicas may have been added: every other replica has a follower slot. */
    for (int32_t i = 0; i < part->n_replicas; i++) {
        int32_t id = part->replicas[i];
        if (id == rm->b->node_id || follower(rep, id) != NULL)
            continue;
        rep->followers =
            rn_xrealloc(rep->followers, (size_t)(rep->n_followers + 1) * sizeof(*rep->followers));
        rep->followers[rep->n_followers++] = (rn__follower_t){.id = id, .leo = -1};
    }
    maybe_advance_hw(rm, rep);
    rn__pwait_check(rm, rep->dpart, 0);
}

/* Followers that have not caught up for replica.lag.time.max.ms leave the ISR. */
void rn__leader_tick(rn_replica_t *rm, rn__rpart_t *rep, int64_t now)
{
    rn_dpart_t *dpart = rep->dpart;
    rn_partition_t *part = dpart->part;
    if (rep->isr_in_flight || now < rep->isr_retry_ms || part->n_isr <= 1)
        return;
    int64_t leo = rn_plog_log_end_offset(dpart->log);
    int32_t isr[part->n_isr], n = 0;
    for (int32_t i = 0; i < part->n_isr; i++) {
        int32_t id = part->isr[i];
        const rn__follower_t *f = follower(rep, id);
        bool lagging = f != NULL && f->leo != leo && now - f->caught_up_ms > rm->lag_max_ms;
        if (!lagging)
            isr[n++] = id;
    }
    if (n < part->n_isr) {
        rm->isr_shrinks++;
        propose(rm, rep, isr, n, "followers not caught up for replica.lag.time.max.ms");
    }
}
