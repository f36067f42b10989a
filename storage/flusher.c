/* The flush thread: fsyncs partition logs off the event loop (see rn_flusher.h). */
#include "rn_flusher.h"
#include "rn_clock.h"

#include "plog_internal.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <pthread.h>
#include <time.h>

typedef struct flusher_entry {
    rn_plog_t *log;
    int requested;
} flusher_entry_t;

/* Invariants (under mu): entries[i].log->flusher_slot == i; a log is in the table at most once
 * and only while registered; the thread holds a log reference while flushing it unlocked. */
struct rn_flusher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    flusher_entry_t *entries;
    size_t n, cap;
    size_t cursor; /* round-robin start */
    int stop;
    uint64_t flushes, errors;
};

static void *flusher_main(void *arg)
{
    rn_flusher_t *fl = arg;
    pthread_mutex_lock(&fl->mu);
    while (!fl->stop) {
        int64_t now = rn_clock_mono_ms(), wake = INT64_MAX;
        rn_plog_t *pick = NULL;
        for (size_t k = 0; k < fl->n; k++) {
            size_t i = (fl->cursor + k) % fl->n;
            int64_t next_ms;
            if (fl->entries[i].requested || rn__plog_flush_due(fl->entries[i].log, now, &next_ms)) {
                pick = fl->entries[i].log;
                fl->entries[i].requested = 0;
                fl->cursor = i + 1;
                break;
            }
            if (next_ms < wake)
                wake = next_ms;
        }
        if (pick != NULL) {
            rn__plog_ref(pick);
            pthread_mutex_unlock(&fl->mu);
            int err = rn_plog_flush(pick);
            rn__plog_unref(pick);
            pthread_mutex_lock(&fl->mu);
            fl->flushes++;
            if (err)
                fl->errors++;
            continue;
        }
        if (wake == INT64_MAX) {
            pthread_cond_wait(&fl->cond, &fl->mu);
        } else {
            struct timespec ts = {.tv_sec = wake / 1000, .tv_nsec = (wake % 1000) * 1000000};
            pthread_cond_timedwait(&fl->cond, &fl->mu, &ts);
        }
    }
    pthread_mutex_unlock(&fl->mu);
    return NULL;
}

int rn_flusher_start(rn_flusher_t **out)
{
    rn_flusher_t *fl = rn_xcalloc(1, sizeof(*fl));
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&fl->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&fl->mu, NULL);
    if (pthread_create(&fl->thread, NULL, flusher_main, fl) != 0) {
        pthread_cond_destroy(&fl->cond);
        pthread_mutex_destroy(&fl->mu);
        rn_free(fl);
        RN_ERROR("log", "cannot start the flush thread");
        return RN_EIO;
    }
    *out = fl;
    return 0;
}

void rn_flusher_stop(rn_flusher_t *fl)
{
    if (fl == NULL)
        return;
    pthread_mutex_lock(&fl->mu);
    fl->stop = 1;
    pthread_cond_signal(&fl->cond);
    pthread_mutex_unlock(&fl->mu);
    pthread_join(fl->thread, NULL);
    for (size_t i = 0; i < fl->n; i++)
        fl->entries[i].log->flusher = NULL;
    pthread_cond_destroy(&fl->cond);
    pthread_mutex_destroy(&fl->mu);
    rn_free(fl->entries);
    rn_free(fl);
}

void rn_flusher_add(rn_flusher_t *fl, struct rn_plog *log)
{
    pthread_mutex_lock(&fl->mu);
    rn_vec_xreserve(fl->entries, fl->cap, fl->n + 1);
    log->flusher_slot = fl->n;
    fl->entries[fl->n].log = log;
    fl->entries[fl->n].requested = 0;
    fl->n++;
    /* A finite flush.ms may need an earlier wake-up. Without one there is nothing to wake for,
     * and each wake-up scans every log: registering thousands at start-up was quadratic. */
    if (__atomic_load_n(&log->flush_ms, __ATOMIC_RELAXED) != INT64_MAX)
        pthread_cond_signal(&fl->cond);
    pthread_mutex_unlock(&fl->mu);
}

void rn_flusher_remove(rn_flusher_t *fl, struct rn_plog *log)
{
    pthread_mutex_lock(&fl->mu);
    size_t i = log->flusher_slot;
    if (i < fl->n && fl->entries[i].log == log) {
        fl->entries[i] = fl->entries[--fl->n];
        if (i < fl->n)
            fl->entries[i].log->flusher_slot = i;
    }
    pthread_mutex_unlock(&fl->mu);
}

void rn_flusher_request(rn_flusher_t *fl, struct rn_plog *log)
{
    pthread_mutex_lock(&fl->mu);
    size_t i = log->flusher_slot;
    if (i < fl->n && fl->entries[i].log == log && !fl->entries[i].requested) {
        fl->entries[i].requested = 1;
        pthread_cond_signal(&fl->cond);
    }
    pthread_mutex_unlock(&fl->mu);
}

uint64_t rn_flusher_flush_count(rn_flusher_t *fl)
{
    pthread_mutex_lock(&fl->mu);
    uint64_t n = fl->flushes;
    pthread_mutex_unlock(&fl->mu);
    return n;
}

uint64_t rn_flusher_error_count(rn_flusher_t *fl)
{
    pthread_mutex_lock(&fl->mu);
    uint64_t n = fl->errors;
    pthread_mutex_unlock(&fl->mu);
    return n;
}
