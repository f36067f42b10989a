/* handle_quorum.c: the quorum on the broker's loop — the handlers of Vote,
 * BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot, DescribeQuorum and the Fetch hook for
 * __cluster_metadata-0, which park the request and hand it to the quorum thread; the items
 * the thread sends back; the public calls of rn_quorum.h. */
#include "quorum/quorum_items.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"

#include <string.h>

/* ---- items from the thread ---- */

static void apply_entry(rn_quorum_t *q, qo_apply_t *a)
{
    if (a->offset < q->applied)
        return; /* below an installed snapshot */
    q->applied = a->offset + 1;
    if (a->kind != RN_RAFT_ENTRY_DATA)
        return; /* LeaderChange: the quorum's own record, not the state machine's */
    q->applied_count++;
    if (q->opts.apply != NULL)
        q->opts.apply(q->opts.arg, a->offset, a->epoch, a->data, a->len);
    q->applied_bytes_since_snapshot += (int64_t)a->len;
    if (q->opts.snapshot_write == NULL || q->opts.snapshot_bytes <= 0 ||
        q->applied_bytes_since_snapshot < q->opts.snapshot_bytes)
        return;
    /* Simple policy: a snapshot every snapshot_bytes of applied records. */
    qi_snapshot_t *s = rn_xcalloc(1, sizeof(*s));
    if (q->opts.snapshot_write(q->opts.arg, a->offset, &s->data, &s->len) != 0) {
        rn_free(s);
        return;
    }
    q->applied_bytes_since_snapshot = 0;
    s->id = (rn_raft_snapshot_id_t){a->offset + 1, a->epoch};
    s->link.kind = QI_SNAPSHOT_TAKEN;
    rn_qbox_post(q->inbox, &s->link);
}

void rn__quorum_loop_item(void *arg, rn_qitem_t *item)
{
    rn_quorum_t *q = arg;
    switch (item->kind) {
    case QO_ANSWER: {
        qo_answer_t *a = (qo_answer_t *)item;
        rn__quorum_answer(a->h, &a->msg, a->bytes, a->len, a->position, a->size);
        rn_free(a->bytes);
        break;
    }
    case QO_APPLY: {
        qo_apply_t *a = (qo_apply_t *)item;
        apply_entry(q, a);
        rn_free(a->data);
        break;
    }
    case QO_LEADER: {
        qo_leader_t *l = (qo_leader_t *)item;
        q->leader_id = l->leader_id;
        q->epoch = l->epoch;
        RN_INFO("quorum", "node %d: leader %d at epoch %d", q->opts.node_id, l->leader_id,
                l->epoch);
        if (q->opts.leader_changed != NULL)
            q->opts.leader_changed(q->opts.arg, l->leader_id, l->epoch);
        break;
    }
    case QO_DONE: {
        qo_done_t *d = (qo_done_t *)item;
        if (d->done != NULL)
            d->done(d->arg, d->rc, d->last_offset);
        break;
    }
    case QO_SNAPSHOT_LOAD: {
        qi_snapshot_t *s = (qi_snapshot_t *)item;
        if (s->id.end_offset > q->applied) {
            if (q->opts.snapshot_load != NULL &&
                q->opts.snapshot_load(q->opts.arg, s->id.end_offset - 1, s->data, s->len) != 0)
                RN_ERROR("quorum", "node %d: the state machine refused snapshot %lld",
                         q->opts.node_id, (long long)s->id.end_offset);
            q->applied = s->id.end_offset;
        }
        rn_free(s->data);
        break;
    }
    }
    rn_free(item);
}

/* ---- public calls ---- */

int rn_quorum_append(rn_quorum_t *q, const uint8_t *const *entries, const size_t *lens, int n,
                     rn_quorum_done_fn done, void *arg)
{
    if (n <= 0)
        return RN_EINVAL;
    if (!rn_quorum_is_leader(q))
        return RN_ENOTLEADER;
    qi_append_t *a = rn_xcalloc(1, sizeof(*a));
    a->n = n;
    a->entries = rn_xcalloc((size_t)n, sizeof(*a->entries));
    a->lens = rn_xcalloc((size_t)n, sizeof(*a->lens));
    for (int i = 0; i < n; i++) {
        a->entries[i] = rn_xmalloc(lens[i] ? lens[i] : 1);
        memcpy(a->entries[i], entries[i], lens[i]);
        a->lens[i] = lens[i];
    }
    a->done = done;
    a->arg = arg;
    a->link.kind = QI_APPEND;
    rn_qbox_post(q->inbox, &a->link);
    return 0;
}

int32_t rn_quorum_leader(const rn_quorum_t *q, int32_t *epoch)
{
    if (epoch != NULL)
        *epoch = q != NULL ? q->epoch : -1;
    return q != NULL ? q->leader_id : -1;
}

bool rn_quorum_is_leader(const rn_quorum_t *q)
{
    return q != NULL && q->leader_id == q->opts.node_id;
}

int64_t rn_quorum_applied_offset(const rn_quorum_t *q)
{
    return q != NULL ? q->applied - 1 : -1;
}

int64_t rn_quorum_high_watermark(rn_quorum_t *q)
{
    rn_qstatus_t st;
    rn__quorum_status(q, &st);
    return st.leader_id >= 0 && st.hw > 0 ? st.hw : -1;
}

int64_t rn_quorum_end_offset(rn_quorum_t *q)
{
    rn_qstatus_t st;
    rn__quorum_status(q, &st);
    return st.leo;
}

void rn__quorum_status(rn_quorum_t *q, rn_qstatus_t *out)
{
    pthread_mutex_lock(&q->pub_mu);
    *out = q->pub;
    pthread_mutex_unlock(&q->pub_mu);
}

void rn__quorum_submit(rn_quorum_t *q, rn_qhandle_t *h, const rn_raft_msg_t *msg,
                       int64_t snap_position)
{
    h->next = q->handles.next;
    h->prev = &q->handles;
    h->next->prev = h;
    q->handles.next = h;
    qi_req_t *r = rn_xcalloc(1, sizeof(*r));
    r->h = h;
    r->msg = *msg;
    r->snap_position = snap_position;
    r->link.kind = QI_REQ;
    rn_qbox_post(q->inbox, &r->link);
}

void rn__quorum_answer(rn_qhandle_t *h, const rn_raft_msg_t *msg, const uint8_t *bytes, size_t len,
                       int64_t position, int64_t size)
{
    h->prev->next = h->next;
    h->next->prev = h->prev;
    rn_req_t *req = h->req;
    rn_free(h);
    if (req == NULL)
        return; /* cancelled */
    uint8_t *copy = NULL;
    if (len > 0 && (copy = rn_arena_alloc(&req->arena, len)) != NULL)
        memcpy(copy, bytes, len);
    if (rn_qmsg_response_encode(msg, req->api_version, copy, copy ? len : 0, position, size,
                                &req->arena, req->response) != 0)
        RN_WARN("quorum", "api %d corr %d: answer dropped (memory)", req->api_key,
                req->correlation_id);
    rn_req_complete(req);
}
