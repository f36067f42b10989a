/* acks=all Produces waiting for the high watermark (Kafka's DelayedProduce): each parked
 * request has one entry per partition it appended to, done when the high watermark passes
 * the entry's last offset, failed when the leadership is lost or the maximal ISR fell below
 * min.insync.replicas, and the rest answered REQUEST_TIMED_OUT at its timeout. The list is
 * walked on each high-watermark move of any partition: parked Produces are few (a producer
 * has at most max.in.flight of them), so a registry per partition would not pay. */
#include "replica/replica_int.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_kerr.h"
#include "rn_messages.h"

#include <event2/event.h>

#include <string.h>

struct rn__pwait {
    rn__pwait_t *prev, *next;
    rn_replica_t *rm;
    rn_req_t *req; /* a Produce, or NULL for a callback wait */
    rn_replica_done_fn *done;
    void *done_arg;
    rn_partition_produce_response_t slot; /* a callback wait's outcome */
    rn_replica_pwait_t *waits;            /* last_offset -1 once done */
    int n, left;
    struct event *timer;
};

static void unlink_pw(rn__pwait_t *pw)
{
    rn_replica_t *rm = pw->rm;
    if (pw->prev)
        pw->prev->next = pw->next;
    else
        rm->pwaits = pw->next;
    if (pw->next)
        pw->next->prev = pw->prev;
    event_free(pw->timer);
    rn_free(pw->waits);
    rn_free(pw);
}

static void fail(rn_replica_pwait_t *w, int16_t code)
{
    rn_partition_produce_response_t *out = w->out;
    out->error_code = code;
    out->base_offset = -1;
    out->log_append_time_ms = -1;
    out->log_start_offset = -1;
    w->last_offset = -1;
}

static void finish(rn__pwait_t *pw)
{
    rn_req_t *req = pw->req;
    rn_replica_done_fn *done = pw->done;
    void *arg = pw->done_arg;
    int16_t code = pw->slot.error_code;
    unlink_pw(pw);
    if (req != NULL)
        rn_req_complete(req);
    else
        done(arg, code);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn__pwait_t *pw = arg;
    for (int i = 0; i < pw->n; i++)
        if (pw->waits[i].last_offset >= 0)
            fail(&pw->waits[i], RN_KERR_REQUEST_TIMED_OUT);
    finish(pw);
}

static void on_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    unlink_pw(arg);
}

/* One entry: done, failed, or still waiting (false). */
static bool settle(rn_replica_t *rm, rn_replica_pwait_t *w, int16_t fail_code)
{
    rn_dpart_t *dpart = w->dpart;
    if (fail_code != 0) {
        fail(w, fail_code);
        return true;
    }
    /* flush.messages=1: also on this node's disk (the followers' Fetch offsets already
     * count only what they synced). */
    bool synced =
        !rn_replica_sync_wanted(dpart) || rn_plog_recovery_point(dpart->log) > w->last_offset;
    if ((!w->need_hw || dpart->hw > w->last_offset) && synced) {
        w->last_offset = -1;
        return true;
    }
    if (!synced && rm != NULL && dpart->rep != NULL)
        rn__sync_start(rm, rn__rep(dpart));
    const rn_partition_t *part = dpart->part;
    if (w->need_hw && part->n_isr < dpart->min_insync_replicas) {
        fail(w, RN_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        return true;
    }
    return false;
}

void rn__pwait_check(rn_replica_t *rm, rn_dpart_t *dpart, int16_t fail_code)
{
    rn__pwait_t *pw = rm->pwaits;
    while (pw != NULL) {
        rn__pwait_t *next = pw->next;
        for (int i = 0; i < pw->n; i++) {
            rn_replica_pwait_t *w = &pw->waits[i];
            if (w->dpart == dpart && w->last_offset >= 0 && settle(rm, w, fail_code))
                pw->left--;
        }
        if (pw->left == 0)
            finish(pw);
        pw = next;
    }
}

bool rn_replica_wait_produce(rn_broker_t *b, rn_req_t *req, rn_replica_pwait_t *waits, int n,
                             int32_t timeout_ms)
{
    rn_replica_t *rm = b->replica;
    int left = 0;
    for (int i = 0; i < n; i++)
        if (!settle(rm, &waits[i], rm == NULL ? RN_KERR_NOT_LEADER_OR_FOLLOWER : 0))
            left++;
    if (left == 0)
        return false;
    rn__pwait_t *pw = rn_xcalloc(1, sizeof(*pw));
    pw->rm = rm;
    pw->req = req;
    pw->waits = rn_xmalloc((size_t)n * sizeof(*pw->waits));
    memcpy(pw->waits, waits, (size_t)n * sizeof(*pw->waits));
    pw->n = n;
    pw->left = left;
    pw->timer = event_new(b->base, -1, 0, on_timeout, pw);
    pw->next = rm->pwaits;
    if (rm->pwaits)
        rm->pwaits->prev = pw;
    rm->pwaits = pw;
    rn_req_park(req, on_cancel, pw);
    int32_t ms = timeout_ms > 0 ? timeout_ms : 0;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(pw->timer, &tv);
    return true;
}

rn_replica_wait_t *rn_replica_when_replicated(rn_broker_t *b, rn_dpart_t *dpart,
                                              int64_t last_offset, int32_t timeout_ms,
                                              rn_replica_done_fn *done, void *arg)
{
    rn_replica_t *rm = b->replica;
    rn__pwait_t *pw = rn_xcalloc(1, sizeof(*pw));
    pw->rm = rm;
    pw->done = done;
    pw->done_arg = arg;
    pw->waits = rn_xmalloc(sizeof(*pw->waits));
    pw->waits[0] = (rn_replica_pwait_t){dpart, &pw->slot, last_offset, true};
    pw->n = 1;
    bool settled = settle(rm, &pw->waits[0], rm == NULL ? RN_KERR_NOT_LEADER_OR_FOLLOWER : 0);
    if (rm == NULL || settled) {
        int16_t code = pw->slot.error_code;
        rn_free(pw->waits);
        rn_free(pw);
        done(arg, code);
        return NULL;
    }
    pw->left = 1;
    pw->timer = event_new(b->base, -1, 0, on_timeout, pw);
    pw->next = rm->pwaits;
    if (rm->pwaits)
        rm->pwaits->prev = pw;
    rm->pwaits = pw;
    int32_t ms = timeout_ms > 0 ? timeout_ms : 0;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(pw->timer, &tv);
    return (rn_replica_wait_t *)pw;
}

void rn_replica_wait_cancel(rn_replica_wait_t *wait)
{
    if (wait != NULL)
        unlink_pw((rn__pwait_t *)wait);
}

void rn__pwaits_free(rn_replica_t *rm)
{
    /* The server is gone by now, so every parked Produce was cancelled; callback waits are
     * told the leadership is gone. */
    while (rm->pwaits != NULL) {
        rn__pwait_t *pw = rm->pwaits;
        if (pw->req == NULL) {
            pw->slot.error_code = RN_KERR_NOT_LEADER_OR_FOLLOWER;
            finish(pw);
        } else {
            unlink_pw(pw);
        }
    }
}
