/* rn_qbox: a mailbox from any thread to one event loop: a mutex-guarded FIFO of items and
 * a pipe whose read end is an event on the receiving loop (libevent needs no thread
 * support). The receiver's callback gets every item queued so far, in order. */
#ifndef RN_QBOX_H
#define RN_QBOX_H

struct event_base;

/* Items start with this link. */
typedef struct rn_qitem {
    struct rn_qitem *next;
    int kind;
} rn_qitem_t;

typedef struct rn_qbox rn_qbox_t;
/* Called on the receiving loop with one item, which it owns (frees) from then on. */
typedef void (*rn_qbox_fn)(void *arg, rn_qitem_t *item);

rn_qbox_t *rn_qbox_new(struct event_base *base, rn_qbox_fn fn, void *arg);
/* Any thread. Never fails (aborts on OOM; a full pipe is fine: one byte wakes the loop). */
void rn_qbox_post(rn_qbox_t *box, rn_qitem_t *item);
/* Receiving thread: hand every queued item to fn now. */
void rn_qbox_drain(rn_qbox_t *box);
/* Items still queued are given to fn first. */
void rn_qbox_free(rn_qbox_t *box);

#endif
