/* quorum_items.h: the messages quorum.c and quorum_api.c pass through the mailboxes.
 * Included only from broker/quorum/. Every item owns its buffers (rn_malloc'd). */
#ifndef RN_QUORUM_ITEMS_H
#define RN_QUORUM_ITEMS_H

#include "quorum/quorum_int.h"
#include "quorum/rn_qbox.h"

enum {
    /* loop -> thread */
    QI_REQ = 1, /* an incoming quorum request */
    QI_APPEND,  /* rn_quorum_append */
    QI_SNAPSHOT_TAKEN,
    QI_STOP,
    /* thread -> loop */
    QO_ANSWER, /* the answer to a QI_REQ */
    QO_APPLY,  /* a committed entry */
    QO_LEADER, /* the known leader or epoch changed */
    QO_DONE,   /* an append committed or failed */
    QO_SNAPSHOT_LOAD,
};

typedef struct qi_req {
    rn_qitem_t link;
    rn_qhandle_t *h;
    rn_raft_msg_t msg;
    int64_t snap_position;
} qi_req_t;

typedef struct qi_append {
    rn_qitem_t link;
    int n;
    uint8_t **entries;
    size_t *lens;
    rn_quorum_done_fn done;
    void *arg;
} qi_append_t;

typedef struct qi_snapshot {
    rn_qitem_t link;
    rn_raft_snapshot_id_t id;
    uint8_t *data;
    size_t len;
} qi_snapshot_t;

typedef struct qo_answer {
    rn_qitem_t link;
    rn_qhandle_t *h;
    rn_raft_msg_t msg;
    uint8_t *bytes;
    size_t len;
    int64_t position, size;
} qo_answer_t;

typedef struct qo_apply {
    rn_qitem_t link;
    int64_t offset;
    int32_t epoch;
    uint8_t kind;
    uint8_t *data;
    size_t len;
} qo_apply_t;

typedef struct qo_leader {
    rn_qitem_t link;
    int32_t leader_id, epoch;
} qo_leader_t;

typedef struct qo_done {
    rn_qitem_t link;
    rn_quorum_done_fn done;
    void *arg;
    int rc;
    int64_t last_offset;
} qo_done_t;

/* quorum.c: the thread. */
int rn__quorum_thread_start(rn_quorum_t *q, char *err, size_t errlen);
void rn__quorum_thread_item(void *arg, rn_qitem_t *item);
/* After the thread has joined: release what it owned. */
void rn__quorum_thread_free(rn_quorum_t *q);
/* The io raft is given. */
void rn__quorum_io(rn_quorum_t *q, rn_raft_io_t *io);
/* quorum_api.c: the loop. */
void rn__quorum_loop_item(void *arg, rn_qitem_t *item);

#endif
