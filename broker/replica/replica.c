/* The replica module: each hosted partition's role as the metadata says, and the 1 s tick
 * that retries what could not be done at once (rn_replica.h). */
#include "replica/replica_int.h"
#include "controller/rn_cluster.h"
#include "group/rn_gcoord.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_kerr.h"
#include "rn_log.h"

#include <event2/event.h>

#define TICK_MS    1000
#define RECHECK_MS 50 /* while leaderships wait for readiness, logs for their directory */

/* A node of a cluster takes up leaderships only once it is registered, unfenced and caught
 * up with the metadata: after a restart its replayed log may still name it leader of
 * partitions that moved while it was down, and it must not accept writes for them. */
static bool may_lead(rn_replica_t *rm)
{
    rn_broker_t *b = rm->b;
    char why[128];
    if (b->cfg->n_voters <= 1 || b->cluster == NULL ||
        rn_cluster_ready(b->cluster, why, sizeof(why)))
        return true;
    if (!event_pending(rm->recheck, EV_TIMEOUT, NULL)) {
        struct timeval tv = {0, RECHECK_MS * 1000};
        event_add(rm->recheck, &tv);
    }
    return false;
}

/* Give up the current role: no fetching, no leading. */
static void drop_role(rn_replica_t *rm, rn__rpart_t *rep, int16_t fail_code)
{
    if (rep->role == RN__ROLE_LEADER) /* the group coordinator drops the partition's groups */
        rn_gcoord_set_leader(rm->b->gcoord, rep->dpart->part, false);
    if (rep->role == RN__ROLE_FOLLOWER)
        rn__fetcher_remove(rm, rep);
    if (rep->role == RN__ROLE_LEADER)
        rn__leader_stop(rm, rep);
    rep->role = RN__ROLE_NONE;
    rn__pwait_check(rm, rep->dpart, fail_code);
    /* Parked Fetches read again and learn who leads now. */
    rn_datapath_t *dp = rn_datapath(rm->b);
    rn_fetchwait_wake(rn_datapath_waits(dp), rep->dpart->part);
    rn_fetchwait_wake(rn_datapath_waits(dp), rn_replica_hw_key(rep->dpart->part));
}

static void become_follower(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_partition_t *part = rep->dpart->part;
    drop_role(rm, rep, RN_KERR_NOT_LEADER_OR_FOLLOWER);
    rep->role = RN__ROLE_FOLLOWER;
    rep->epoch = part->leader_epoch;
    rep->leader = part->leader_id;
    rep->backoff_until = 0;
    RN_INFO("replica", "node %d: following node %d for %s-%d at leader epoch %d from offset %lld",
            rm->b->node_id, rep->leader, part->topic->name, part->index, rep->epoch,
            (long long)rn_plog_log_end_offset(rep->dpart->log));
    rn__fetcher_add(rm, rep, rep->leader);
}

static void become_leader(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_partition_t *part = rep->dpart->part;
    drop_role(rm, rep, RN_KERR_NOT_LEADER_OR_FOLLOWER);
    rep->role = RN__ROLE_LEADER;
    rep->epoch = part->leader_epoch;
    rep->leader = rm->b->node_id;
    rn__leader_start(rm, rep);
    rn_gcoord_set_leader(rm->b->gcoord, part, true); /* loads the partition's groups */
    if (part->n_replicas > 1)
        RN_INFO("replica", "node %d: leading %s-%d at leader epoch %d from offset %lld (hw %lld)",
                rm->b->node_id, part->topic->name, part->index, rep->epoch,
                (long long)rep->epoch_start, (long long)rep->dpart->hw);
}

/* Take up the role the metadata gives the partition now. */
static void apply_role(rn_replica_t *rm, rn_dpart_t *dpart)
{
    rn__rpart_t *rep = rn__rep(dpart);
    rn_partition_t *part = dpart->part;
    if (rep == NULL || dpart->log == NULL)
        return;
    int32_t self = rm->b->node_id;
    if (!rn_partition_has_replica(part, rm->b->node_id) || part->leader_id < 0) {
        if (rep->role != RN__ROLE_NONE)
            drop_role(rm, rep, RN_KERR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    if (part->leader_id == self) {
        if (!may_lead(rm)) {
            if (rep->role != RN__ROLE_NONE)
                drop_role(rm, rep, RN_KERR_NOT_LEADER_OR_FOLLOWER);
            return;
        }
        if (rep->role != RN__ROLE_LEADER || rep->epoch != part->leader_epoch)
            become_leader(rm, rep);
        else
            rn__leader_check(rm, rep);
        return;
    }
    if (rep->role != RN__ROLE_FOLLOWER || rep->epoch != part->leader_epoch ||
        rep->leader != part->leader_id)
        become_follower(rm, rep);
    else if (rep->fetcher == NULL)
        rn__fetcher_add(rm, rep, rep->leader); /* no address for the leader before */
}

void rn_replica_attach(rn_broker_t *b, rn_dpart_t *dpart)
{
    rn_replica_t *rm = b->replica;
    if (rm == NULL || dpart->log == NULL)
        return;
    if (dpart->rep == NULL) {
        rn__rpart_t *rep = rn_xcalloc(1, sizeof(*rep));
        rep->dpart = dpart;
        rep->sent_offset = -1;
        rep->epoch = -1;
        rep->leader = -1;
        rep->rm = rm;
        dpart->rep = rep;
    }
    apply_role(rm, dpart);
}

void rn_replica_detach(rn_broker_t *b, rn_dpart_t *dpart)
{
    rn_replica_t *rm = b->replica;
    rn__rpart_t *rep = rn__rep(dpart);
    if (rep == NULL)
        return;
    if (rm != NULL)
        drop_role(rm, rep, RN_KERR_NOT_LEADER_OR_FOLLOWER);
    rn_free(rep->isr_asked);
    rn_free(rep);
    dpart->rep = NULL;
}

void rn_replica_changed(rn_broker_t *b, rn_partition_t *part)
{
    rn_replica_t *rm = b->replica;
    if (rm == NULL || b->datapath == NULL)
        return;
    if (part->user == NULL) {
        if (rn_partition_has_replica(part, b->node_id) &&
            rn_datapath_part(b->datapath, part) == NULL &&
            !event_pending(rm->recheck, EV_TIMEOUT, NULL)) {
            /* The topic's directory is being made: look again soon, not at the next tick,
             * or the first acks=all writes wait a second for the followers. */
            struct timeval tv = {0, RECHECK_MS * 1000};
            event_add(rm->recheck, &tv);
        }
        return; /* opened: rn_replica_attach took the role */
    }
    apply_role(rm, part->user);
}

bool rn_replica_is_leader(const rn_dpart_t *dpart)
{
    const rn__rpart_t *rep = rn__rep(dpart);
    return rep != NULL && rep->role == RN__ROLE_LEADER && rep->epoch == dpart->part->leader_epoch;
}

bool rn_replica_follower_at(const rn_dpart_t *dpart, int i, rn_replica_follower_t *out)
{
    if (!rn_replica_is_leader(dpart))
        return false;
    const rn__rpart_t *rep = rn__rep(dpart);
    if (i < 0 || i >= rep->n_followers)
        return false;
    const rn__follower_t *f = &rep->followers[i];
    out->id = f->id;
    out->leo = f->leo;
    out->fetch_ago_ms = f->fetch_ms > 0 ? rn_clock_mono_ms() - f->fetch_ms : -1;
    return true;
}

const void *rn_replica_hw_key(const rn_partition_t *part)
{
    /* Any address that is not another partition's: one byte into this one. */
    return (const char *)part + 1;
}

/* ---- module ---- */

static void sweep(rn_replica_t *rm, bool tick)
{
    rn_broker_t *b = rm->b;
    if (b->stopping || b->datapath == NULL)
        return;
    int64_t now = rn_clock_mono_ms();
    rn_topics_t *topics = b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_partition_t *part = topic->partitions[i];
            rn_replica_changed(b, part);
            rn_dpart_t *dpart = part->user;
            rn__rpart_t *rep = dpart ? rn__rep(dpart) : NULL;
            if (tick && rep != NULL && rep->role == RN__ROLE_LEADER)
                rn__leader_tick(rm, rep, now);
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sweep(arg, true);
}

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sweep(arg, false);
}

int rn_replica_init(rn_broker_t *b, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rn_replica_t *rm = rn_xcalloc(1, sizeof(*rm));
    rm->b = b;
    rm->lag_max_ms = rn_config_int(b->cfg, RN_CFG_REPLICA_LAG_TIME_MAX_MS);
    rm->fetch_max_bytes = (int32_t)rn_config_int(b->cfg, RN_CFG_REPLICA_FETCH_MAX_BYTES);
    rm->fetch_wait_ms = (int32_t)rn_config_int(b->cfg, RN_CFG_REPLICA_FETCH_WAIT_MAX_MS);
    rm->recheck = event_new(b->base, -1, 0, on_recheck, rm);
    b->replica = rm;
    /* The data path opened the logs found on disk before this module existed. */
    rn_topics_t *topics = b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_partition_t *part = topic->partitions[i];
            if (part->user != NULL)
                rn_replica_attach(b, part->user);
        }
    }
    rn__replica_metrics_start(rm);
    rm->tick = event_new(b->base, -1, EV_PERSIST, on_tick, rm);
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
    event_add(rm->tick, &tv);
    return 0;
}

void rn_replica_shutdown(rn_broker_t *b)
{
    rn_replica_t *rm = b->replica;
    if (rm == NULL)
        return;
    rn__replica_metrics_stop(rm);
    event_free(rm->tick);
    event_free(rm->recheck);
    rn__pwaits_free(rm);
    rn_topics_t *topics = b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (dpart != NULL && dpart->rep != NULL)
                rn_replica_detach(b, dpart);
        }
    }
    rn__fetchers_free(rm);
    b->replica = NULL;
    rn_free(rm);
}
