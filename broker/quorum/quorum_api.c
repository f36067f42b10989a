/* quorum_api.c: rn_quorum's side on the broker's loop (rn_quorum.h): start-up (quorum
 * state, log, latest snapshot, raft), the items coming back from the quorum thread
 * (answers, applies, leader changes, append outcomes), the snapshot policy, stop. */
#include "quorum/quorum_items.h"
#include "quorum/rn_qstate.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_log.h"
#include "net/rn_server.h"

#include <dirent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- start ---- */

static int load_qstate(rn_quorum_t *q, rn_raft_qstate_t *rs, bool *found)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/quorum-state", rn_qlog_dir(q->qlog));
    *found = false;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    rn_qstate_file_t qs;
    if (rn_qstate_decode(buf, n, &qs) != 0)
        return RN_ECORRUPT;
    *rs = rn_qstate_to_raft(&qs);
    *found = true;
    return 0;
}

/* The latest <endOffset>-<epoch>.checkpoint beside the log, into q->snap. */
static int load_snapshot(rn_quorum_t *q)
{
    DIR *d = opendir(rn_qlog_dir(q->qlog));
    if (d == NULL)
        return RN_EIO;
    char best[64] = "";
    long long best_end = -1;
    int best_epoch = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long long end;
        int epoch;
        char tail[16];
        if (strlen(de->d_name) == 43 &&
            sscanf(de->d_name, "%20lld-%10d.%11s", &end, &epoch, tail) == 3 &&
            strcmp(tail, "checkpoint") == 0 && end > best_end) {
            best_end = end;
            best_epoch = epoch;
            memcpy(best, de->d_name, 44); /* 43 characters and the NUL, checked above */
        }
    }
    closedir(d);
    if (best_end <= 0)
        return 0;
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", rn_qlog_dir(q->qlog), best);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return RN_EIO;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    q->snap = rn_xmalloc(len > 0 ? (size_t)len : 1);
    q->snap_len = len > 0 && fread(q->snap, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
    fclose(f);
    q->snap_id = (rn_raft_snapshot_id_t){best_end, best_epoch};
    return 0;
}

static int open_state(rn_quorum_t *q, char *err, size_t errlen)
{
    int rc = rn_qlog_open(q->opts.data_dir, &q->qlog, err, errlen);
    if (rc != 0)
        return rc;
    rn_raft_qstate_t rs;
    bool found;
    if ((rc = load_qstate(q, &rs, &found)) != 0) {
        snprintf(err, errlen, "%s/quorum-state: not a quorum-state file", rn_qlog_dir(q->qlog));
        return rc;
    }
    if ((rc = load_snapshot(q)) != 0) {
        snprintf(err, errlen, "%s: cannot read the snapshots", rn_qlog_dir(q->qlog));
        return rc;
    }
    /* Entries below the log start live in the snapshot: the state machine starts there. */
    if (q->snap_id.end_offset > 0 && q->opts.snapshot_load != NULL &&
        q->opts.snapshot_load(q->opts.arg, q->snap_id.end_offset - 1, q->snap, q->snap_len) != 0) {
        snprintf(err, errlen, "%s: the state machine refused snapshot %lld", rn_qlog_dir(q->qlog),
                 (long long)q->snap_id.end_offset);
        return RN_ECORRUPT;
    }
    rn_raft_config_t cfg;
    rn_raft_config_defaults(&cfg);
    cfg.node_id = q->opts.node_id;
    cfg.n_voters = q->opts.n_voters;
    for (int i = 0; i < q->opts.n_voters; i++)
        cfg.voters[i] = q->opts.voter_ids[i];
    cfg.election_timeout_ms = q->opts.election_timeout_ms;
    cfg.fetch_timeout_ms = q->opts.fetch_timeout_ms;
    cfg.election_backoff_max_ms = q->opts.election_backoff_max_ms;
    cfg.request_timeout_ms = q->opts.request_timeout_ms;
    cfg.fetch_max_wait_ms = RN_QMSG_FETCH_MAX_WAIT_MS;
    rn_raft_io_t io;
    rn__quorum_io(q, &io);
    /* A quorum of one need not wait an election timeout: its clock starts past the first
     * timeout, so the first tick elects it. */
    q->t0 = rn_clock_mono_ms();
    q->skew = q->opts.n_voters == 1 ? 2 * cfg.election_timeout_ms + 1 : 0;
    q->raft = rn_raft_new(&cfg, &io, found ? &rs : NULL, 0);
    if (q->raft == NULL) {
        snprintf(err, errlen, "controller.quorum.voters: node %d is not among the voters",
                 q->opts.node_id);
        return RN_EINVAL;
    }
    q->applied = q->snap_id.end_offset > 0 ? q->snap_id.end_offset : 0;
    return 0;
}

rn_quorum_t *rn_quorum_start(struct event_base *base, const rn_quorum_opts_t *opts, char *err,
                             size_t errlen)
{
    rn_quorum_t *q = rn_xcalloc(1, sizeof(*q));
    q->opts = *opts;
    if (opts->n_voters < 1 || opts->n_voters > RN_RAFT_MAX_VOTERS) {
        snprintf(err, errlen, "controller.quorum.voters: 1 to %d voters", RN_RAFT_MAX_VOTERS);
        rn_free(q);
        return NULL;
    }
    memcpy(q->voter_ids, opts->voter_ids, (size_t)opts->n_voters * sizeof(int32_t));
    q->opts.voter_ids = q->voter_ids;
    for (int i = 0; i < opts->n_voters; i++) {
        snprintf(q->voter_host[i], sizeof(q->voter_host[i]), "%s",
                 opts->voter_hosts && opts->voter_hosts[i] ? opts->voter_hosts[i] : "");
        q->voter_port[i] = opts->voter_ports ? opts->voter_ports[i] : 0;
    }
    if (opts->sasl_mechanism != NULL) {
        snprintf(q->sasl_mechanism, sizeof(q->sasl_mechanism), "%s", opts->sasl_mechanism);
        snprintf(q->sasl_username, sizeof(q->sasl_username), "%s", opts->sasl_username);
        snprintf(q->sasl_password, sizeof(q->sasl_password), "%s", opts->sasl_password);
    }
    q->opts.sasl_mechanism = q->opts.sasl_username = q->opts.sasl_password = NULL;
    q->base = base;
    snprintf(q->cluster_id, sizeof(q->cluster_id), "%s", opts->cluster_id ? opts->cluster_id : "");
    q->leader_id = -1;
    q->handles.next = q->handles.prev = &q->handles;
    rn_random_bytes(&q->rnd, sizeof(q->rnd));
    q->rnd |= 1;
    pthread_mutex_init(&q->pub_mu, NULL);
    q->qbase = event_base_new();
    q->inbox = q->qbase ? rn_qbox_new(q->qbase, rn__quorum_thread_item, q) : NULL;
    q->outbox = rn_qbox_new(base, rn__quorum_loop_item, q);
    if (q->inbox == NULL || q->outbox == NULL) {
        snprintf(err, errlen, "cannot set up the quorum thread's event loop");
        goto fail;
    }
    if (open_state(q, err, errlen) != 0 || rn__quorum_thread_start(q, err, errlen) != 0)
        goto fail;
    return q;
fail:
    rn__quorum_thread_free(q);
    rn_qbox_free(q->inbox);
    rn_qbox_free(q->outbox);
    if (q->qbase != NULL)
        event_base_free(q->qbase);
    pthread_mutex_destroy(&q->pub_mu);
    rn_free(q);
    return NULL;
}

void rn_quorum_stop(rn_quorum_t *q)
{
    if (q == NULL)
        return;
    rn__quorum_forward_free(q);
    rn_qitem_t *stop = rn_xcalloc(1, sizeof(*stop));
    stop->kind = QI_STOP;
    rn_qbox_post(q->inbox, stop);
    pthread_join(q->thread, NULL);
    rn_qbox_free(q->inbox); /* what came after the stop is dropped by the thread's free */
    rn__quorum_thread_free(q);
    event_base_free(q->qbase);
    rn_qbox_free(q->outbox); /* last answers, applies and append outcomes, here */
    while (q->handles.next != &q->handles) {
        rn_qhandle_t *h = q->handles.next;
        h->prev->next = h->next;
        h->next->prev = h->prev;
        rn_free(h);
    }
    pthread_mutex_destroy(&q->pub_mu);
    rn_free(q);
}
