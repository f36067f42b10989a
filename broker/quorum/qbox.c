/* qbox.c: cross-thread mailbox (see rn_qbox.h). */
#include "quorum/rn_qbox.h"

#include "rn_alloc.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

/* Invariant: a wake-up byte is in the pipe whenever head != NULL and signalled is set. */
struct rn_qbox {
    pthread_mutex_t mu;
    rn_qitem_t *head, *tail;
    bool signalled;
    int fds[2];
    struct event *ev;
    rn_qbox_fn fn;
    void *arg;
};

void rn_qbox_drain(rn_qbox_t *box)
{
    char buf[64];
    while (read(box->fds[0], buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&box->mu);
    rn_qitem_t *list = box->head;
    box->head = box->tail = NULL;
    box->signalled = false;
    pthread_mutex_unlock(&box->mu);
    while (list != NULL) {
        rn_qitem_t *next = list->next;
        box->fn(box->arg, list);
        list = next;
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn_qbox_drain(arg);
}

rn_qbox_t *rn_qbox_new(struct event_base *base, rn_qbox_fn fn, void *arg)
{
    rn_qbox_t *box = rn_xcalloc(1, sizeof(*box));
    if (pipe2(box->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        rn_free(box);
        return NULL;
    }
    pthread_mutex_init(&box->mu, NULL);
    box->fn = fn;
    box->arg = arg;
    box->ev = event_new(base, box->fds[0], EV_READ | EV_PERSIST, on_readable, box);
    event_add(box->ev, NULL);
    return box;
}

void rn_qbox_post(rn_qbox_t *box, rn_qitem_t *item)
{
    item->next = NULL;
    pthread_mutex_lock(&box->mu);
    if (box->tail != NULL)
        box->tail->next = item;
    else
        box->head = item;
    box->tail = item;
    bool wake = !box->signalled;
    box->signalled = true;
    pthread_mutex_unlock(&box->mu);
    if (wake) {
        char c = 1;
        ssize_t n = write(box->fds[1], &c, 1);
        (void)n; /* a full pipe already wakes the loop */
    }
}

void rn_qbox_free(rn_qbox_t *box)
{
    if (box == NULL)
        return;
    rn_qbox_drain(box);
    event_free(box->ev);
    close(box->fds[0]);
    close(box->fds[1]);
    pthread_mutex_destroy(&box->mu);
    rn_free(box);
}
