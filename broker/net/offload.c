/* rn_offload: worker threads for blocking work, results delivered on the loop
 * (see rn_offload.h).
 *
 * Jobs move queued -> (a worker runs work) -> finished -> (loop runs done). Both lists are
 * guarded by mu; a worker writes one byte to the pipe after finishing a job and the
 * loop's read event drains the pipe and the finished list. */
#include "net/rn_offload.h"

#include "rn_alloc.h"
#include "rn_log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

typedef struct job {
    rn_offload_work_fn work;
    rn_offload_done_fn done;
    void *arg;
    int rc;
    struct job *next;
} job_t;

typedef struct job_list {
    job_t *head, *tail;
} job_list_t;

struct rn_offload {
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_list_t queued, finished;
    bool stop;
    unsigned pending; /* loop thread only */
    int pipe_rd, pipe_wr;
    struct event *ev;
};

static void list_push(job_list_t *list, job_t *job)
{
    job->next = NULL;
    if (list->tail != NULL)
        list->tail->next = job;
    else
        list->head = job;
    list->tail = job;
}

static job_t *list_pop(job_list_t *list)
{
    job_t *job = list->head;
    if (job != NULL) {
        list->head = job->next;
        if (list->head == NULL)
            list->tail = NULL;
    }
    return job;
}

static void *worker_main(void *arg)
{
    rn_offload_t *off = arg;
    pthread_mutex_lock(&off->mu);
    for (;;) {
        while (off->queued.head == NULL && !off->stop)
            pthread_cond_wait(&off->cv, &off->mu);
        job_t *job = list_pop(&off->queued);
        if (job == NULL)
            break; /* stop requested and nothing left */
        pthread_mutex_unlock(&off->mu);
        job->rc = job->work != NULL ? job->work(job->arg) : 0;
        pthread_mutex_lock(&off->mu);
        list_push(&off->finished, job);
        char byte = 1;
        ssize_t n = write(off->pipe_wr, &byte, 1);
        (void)n; /* a full pipe already holds a wake-up */
    }
    pthread_mutex_unlock(&off->mu);
    return NULL;
}

/* Run the done callbacks of every finished job, in order. */
static void deliver(rn_offload_t *off)
{
    for (;;) {
        pthread_mutex_lock(&off->mu);
        job_t *job = list_pop(&off->finished);
        pthread_mutex_unlock(&off->mu);
        if (job == NULL)
            return;
        off->pending--;
        if (job->done != NULL)
            job->done(job->arg, job->rc);
        rn_free(job);
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    rn_offload_t *off = arg;
    char buf[64];
    while (read(off->pipe_rd, buf, sizeof(buf)) > 0)
        ;
    deliver(off);
}

/* Stop and join the first n threads (they run every queued job first). */
static void stop_threads(rn_offload_t *off, int n)
{
    pthread_mutex_lock(&off->mu);
    off->stop = true;
    pthread_cond_broadcast(&off->cv);
    pthread_mutex_unlock(&off->mu);
    for (int i = 0; i < n; i++)
        pthread_join(off->threads[i], NULL);
}

rn_offload_t *rn_offload_new(struct event_base *base)
{
    return rn_offload_new_pool(base, 1);
}

rn_offload_t *rn_offload_new_pool(struct event_base *base, int nthreads)
{
    rn_offload_t *off = rn_xcalloc(1, sizeof(*off));
    int fds[2];
    if (nthreads < 1)
        nthreads = 1;
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        rn_free(off);
        return NULL;
    }
    off->threads = rn_xcalloc((size_t)nthreads, sizeof(*off->threads));
    off->pipe_rd = fds[0];
    off->pipe_wr = fds[1];
    pthread_mutex_init(&off->mu, NULL);
    pthread_cond_init(&off->cv, NULL);
    off->ev = event_new(base, off->pipe_rd, EV_READ | EV_PERSIST, on_wake, off);
    int started = 0, err = 0;
    if (off->ev == NULL || event_add(off->ev, NULL) != 0)
        err = errno ? errno : ENOMEM;
    while (err == 0 && started < nthreads) {
        err = pthread_create(&off->threads[started], NULL, worker_main, off);
        if (err == 0)
            started++;
    }
    off->nthreads = started;
    if (err != 0) {
        int saved = err;
        stop_threads(off, started); /* nothing was queued yet */
        if (off->ev != NULL)
            event_free(off->ev);
        close(fds[0]);
        close(fds[1]);
        pthread_mutex_destroy(&off->mu);
        pthread_cond_destroy(&off->cv);
        rn_free(off->threads);
        rn_free(off);
        errno = saved;
        return NULL;
    }
    return off;
}

void rn_offload_submit(rn_offload_t *off, rn_offload_work_fn work, rn_offload_done_fn done,
                       void *arg)
{
    job_t *job = rn_xcalloc(1, sizeof(*job));
    job->work = work;
    job->done = done;
    job->arg = arg;
    off->pending++;
    pthread_mutex_lock(&off->mu);
    list_push(&off->queued, job);
    pthread_cond_signal(&off->cv);
    pthread_mutex_unlock(&off->mu);
}

unsigned rn_offload_pending(const rn_offload_t *off)
{
    return off->pending;
}

void rn_offload_free(rn_offload_t *off)
{
    if (off == NULL)
        return;
    stop_threads(off, off->nthreads); /* the workers run every queued job before they exit */
    deliver(off);
    if (off->pending != 0)
        RN_ERROR("offload", "%u job(s) lost at shutdown", off->pending);
    event_free(off->ev);
    close(off->pipe_rd);
    close(off->pipe_wr);
    pthread_mutex_destroy(&off->mu);
    pthread_cond_destroy(&off->cv);
    rn_free(off->threads);
    rn_free(off);
}
