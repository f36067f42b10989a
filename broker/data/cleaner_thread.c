/* The log cleaner thread: choosing the dirtiest compacted log, running passes, the cleaner
 * checkpoint file, and the calls it makes on the event loop (see rn_cleaner_thread.h).
 *
 * Loop calls: the thread fills `call` under mu, writes a byte to the pipe and waits on cv; the
 * loop's read event runs call.fn and clears call.pending. stop() (on the loop, so never
 * during such a run) sets stopping; a waiting thread then gives its call up as RN_ECANCELED.
 * The per-partition state (tps) belongs to the thread; the loop touches it only inside a call,
 * while the thread waits, so the mutex handoff orders every access. */
#include "data/rn_cleaner_thread.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_checkpoint.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SKIP_MS (10 * 60 * 1000) /* a failing log rests this long */

/* What the thread knows of one compacted partition. */
typedef struct tp_state {
    char *topic;
    int32_t partition;
    int64_t checkpoint;   /* cleaned up to here; 0 when never cleaned */
    int64_t next_horizon; /* a kept tombstone may go from then on; 0 = unknown (due) */
    int64_t skip_until;   /* wall ms: failed recently */
    bool seen;            /* visited by the latest walk */
} tp_state_t;

struct rn_cleaner_thread {
    struct event_base *base;
    struct event *ev;
    int pipe_rd, pipe_wr;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping; /* under mu; also read atomically by the cancel hook */
    struct {
        rn_cleaner_owner_fn fn;
        void *arg;
        int rc;
        bool pending;
    } call; /* under mu */
    rn_cleaner_thread_opts_t opts;
    char *checkpoint_path;
    tp_state_t *tps; /* the thread's (see the top of the file) */
    size_t ntps, cap;
    bool cp_dirty;
    rn_cleaner_thread_stats_t stats; /* __atomic */
};

static bool is_stopping(rn_cleaner_thread_t *ct)
{
    return __atomic_load_n(&ct->stopping, __ATOMIC_ACQUIRE);
}

/* ---- calls on the loop ---- */

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    rn_cleaner_thread_t *ct = arg;
    char buf[64];
    while (read(ct->pipe_rd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&ct->mu);
    bool run = ct->call.pending;
    rn_cleaner_owner_fn fn = ct->call.fn;
    void *fnarg = ct->call.arg;
    pthread_mutex_unlock(&ct->mu);
    if (!run)
        return;
    int rc = fn(fnarg);
    pthread_mutex_lock(&ct->mu);
    ct->call.rc = rc;
    ct->call.pending = false;
    pthread_cond_broadcast(&ct->cv);
    pthread_mutex_unlock(&ct->mu);
}

/* Thread side: run fn(arg) on the loop and return its result, or RN_ECANCELED when stopping. */
static int call_on_loop(rn_cleaner_thread_t *ct, rn_cleaner_owner_fn fn, void *arg)
{
    pthread_mutex_lock(&ct->mu);
    if (ct->stopping) {
        pthread_mutex_unlock(&ct->mu);
        return RN_ECANCELED;
    }
    ct->call.fn = fn;
    ct->call.arg = arg;
    ct->call.pending = true;
    char byte = 1;
    ssize_t n = write(ct->pipe_wr, &byte, 1);
    (void)n; /* a full pipe already holds a wake-up */
    while (ct->call.pending && !ct->stopping)
        pthread_cond_wait(&ct->cv, &ct->mu);
    int rc = ct->call.pending ? RN_ECANCELED : ct->call.rc;
    ct->call.pending = false;
    pthread_mutex_unlock(&ct->mu);
    return rc;
}

/* ---- partition state and the checkpoint file ---- */

static tp_state_t *tp_find(rn_cleaner_thread_t *ct, const char *topic, int32_t partition, bool add)
{
    for (size_t i = 0; i < ct->ntps; i++)
        if (ct->tps[i].partition == partition && strcmp(ct->tps[i].topic, topic) == 0)
            return &ct->tps[i];
    if (!add)
        return NULL;
    rn_vec_xreserve(ct->tps, ct->cap, ct->ntps + 1);
    tp_state_t *st = &ct->tps[ct->ntps++];
    *st = (tp_state_t){rn_xstrdup(topic), partition, 0, 0, 0, false};
    return st;
}

static void load_checkpoint(rn_cleaner_thread_t *ct)
{
    rn_checkpoint_t cp;
    char err[512];
    if (rn_checkpoint_load(ct->checkpoint_path, &cp, err, sizeof(err)) != 0) {
        RN_WARN("cleaner", "ignoring %s (compacted logs are cleaned from their start): %s",
                ct->checkpoint_path, err);
        return;
    }
    for (size_t i = 0; i < cp.count; i++)
        tp_find(ct, cp.entries[i].topic, cp.entries[i].partition, true)->checkpoint =
            cp.entries[i].offset;
    rn_checkpoint_free(&cp);
}

/* Write the checkpoints of the partitions the latest walk saw (Kafka drops the others). */
static void save_checkpoint(rn_cleaner_thread_t *ct)
{
    if (!ct->cp_dirty)
        return;
    rn_checkpoint_entry_t *entries = rn_xcalloc(ct->ntps ? ct->ntps : 1, sizeof(*entries));
    size_t n = 0;
    for (size_t i = 0; i < ct->ntps; i++)
        if (ct->tps[i].seen && ct->tps[i].checkpoint > 0)
            entries[n++] = (rn_checkpoint_entry_t){ct->tps[i].topic, ct->tps[i].partition,
                                                   ct->tps[i].checkpoint};
    char err[512];
    if (rn_checkpoint_save(ct->checkpoint_path, entries, n, err, sizeof(err)) != 0)
        RN_WARN("cleaner",
                "cannot write the cleaner checkpoint: %s; logs will be re-cleaned "
                "from the previous one after a restart",
                err);
    else
        ct->cp_dirty = false;
    rn_free(entries);
}

/* ---- choosing a log (on the loop) ---- */

typedef struct choice {
    rn_cleaner_thread_t *ct;
    int64_t now;
    bool found;
    double score;
    char topic[256];
    int32_t partition;
    rn_plog_t *log;
    rn_cleaner_config_t cfg;
    int64_t first_dirty;
} choice_t;

static void choose_visit(void *arg, const rn_cleaner_part_t *part)
{
    choice_t *ch = arg;
    tp_state_t *st = tp_find(ch->ct, part->topic, part->partition, true);
    st->seen = true;
    if (ch->now < st->skip_until)
        return;
    rn_cleaner_dirt_t d;
    rn_cleaner_measure(part->log, &part->cfg, st->checkpoint, ch->now, &d);
    bool ratio = d.dirty_bytes > 0 && d.dirty_ratio >= part->min_cleanable_dirty_ratio;
    bool overdue = d.dirty_bytes > 0 && d.first_dirty_timestamp >= 0 &&
                   part->max_compaction_lag_ms != INT64_MAX &&
                   ch->now - d.first_dirty_timestamp > part->max_compaction_lag_ms;
    bool horizon = st->next_horizon <= ch->now && d.clean_bytes + d.dirty_bytes > 0;
    if (!ratio && !overdue && !horizon)
        return;
    /* Overdue logs first, then the dirtiest (Kafka's order). */
    double score = d.dirty_ratio + (overdue ? 2.0 : 0.0);
    if (ch->found && score <= ch->score)
        return;
    ch->found = true;
    ch->score = score;
    snprintf(ch->topic, sizeof(ch->topic), "%s", part->topic);
    ch->partition = part->partition;
    ch->log = part->log;
    ch->cfg = part->cfg;
    ch->first_dirty = st->checkpoint;
}

static int choose_on_loop(void *arg)
{
    choice_t *ch = arg;
    ch->ct->opts.walk(ch->ct->opts.walk_arg, choose_visit, ch);
    return 0;
}

/* ---- a pass ---- */

/* The owner steps of a pass: on the loop, and only while the partition still has this log. */
typedef struct owner_call {
    rn_cleaner_thread_t *ct;
    const choice_t *ch;
    rn_cleaner_owner_fn fn;
    void *fnarg;
    bool found;
} owner_call_t;

static void check_visit(void *arg, const rn_cleaner_part_t *part)
{
    owner_call_t *oc = arg;
    if (part->log == oc->ch->log && part->partition == oc->ch->partition &&
        strcmp(part->topic, oc->ch->topic) == 0)
        oc->found = true;
}

static int owner_on_loop(void *arg)
{
    owner_call_t *oc = arg;
    oc->found = false;
    oc->ct->opts.walk(oc->ct->opts.walk_arg, check_visit, oc);
    return oc->found ? oc->fn(oc->fnarg) : RN_ECANCELED;
}

static int pass_run_owner(void *owner_arg, rn_cleaner_owner_fn fn, void *fnarg)
{
    owner_call_t *oc = owner_arg;
    oc->fn = fn;
    oc->fnarg = fnarg;
    return call_on_loop(oc->ct, owner_on_loop, oc);
}

static int pass_cancelled(void *arg)
{
    return is_stopping(arg);
}

static void add_stat(int64_t *counter, int64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* Clean the chosen log once. Returns the pass's result. */
static int run_pass(rn_cleaner_thread_t *ct, const choice_t *ch)
{
    owner_call_t oc = {ct, ch, NULL, NULL, false};
    rn_cleaner_config_t cfg = ch->cfg;
    cfg.dedupe_buffer_bytes = ct->opts.dedupe_buffer_bytes;
    cfg.run_owner = pass_run_owner;
    cfg.owner_arg = &oc;
    cfg.cancelled = pass_cancelled;
    cfg.cancel_arg = ct;
    cfg.fault = NULL;
    rn_cleaner_stats_t st;
    int rc = rn_cleaner_clean(ch->log, &cfg, ch->first_dirty, ch->now, &st);
    tp_state_t *tp = tp_find(ct, ch->topic, ch->partition, true);
    if (rc == 0) {
        if (tp->checkpoint != st.end_offset)
            ct->cp_dirty = true;
        tp->checkpoint = st.end_offset;
        tp->next_horizon = st.next_horizon_ms;
        add_stat(&ct->stats.passes, 1);
        add_stat(&ct->stats.segments_written, st.segments_written);
        add_stat(&ct->stats.tombstones_dropped, st.tombstones_dropped);
    } else if (rc == RN_ECANCELED) {
        add_stat(&ct->stats.cancelled, 1);
    } else {
        add_stat(&ct->stats.failed, 1);
        tp->skip_until = ch->now + SKIP_MS;
        RN_WARN("cleaner", "%s-%d: compaction failed (%s); retrying in %d minutes", ch->topic,
                ch->partition, rn_strerror(rc), SKIP_MS / 60000);
    }
    return rc;
}

/* Sleep up to ms, or until woken or stopped. */
static void rest(rn_cleaner_thread_t *ct, int64_t ms)
{
    struct timespec deadline; /* a real wait: the condition variable's clock, not rn_clock */
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&ct->mu);
    while (!ct->stopping && pthread_cond_timedwait(&ct->cv, &ct->mu, &deadline) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&ct->mu);
}

/* After a walk: forget partitions it did not visit (deleted, or no longer compacted), as
 * Kafka drops their checkpoint entries. */
static void prune(rn_cleaner_thread_t *ct)
{
    size_t kept = 0;
    for (size_t i = 0; i < ct->ntps; i++) {
        if (ct->tps[i].seen) {
            ct->tps[kept++] = ct->tps[i];
        } else {
            if (ct->tps[i].checkpoint > 0)
                ct->cp_dirty = true;
            rn_free(ct->tps[i].topic);
        }
    }
    ct->ntps = kept;
}

static void *thread_main(void *arg)
{
    rn_cleaner_thread_t *ct = arg;
    while (!is_stopping(ct)) {
        choice_t ch = {.ct = ct, .now = rn_clock_wall_ms()};
        for (size_t i = 0; i < ct->ntps; i++)
            ct->tps[i].seen = false;
        if (call_on_loop(ct, choose_on_loop, &ch) != 0)
            break; /* stopping */
        prune(ct);
        int rc = ch.found ? run_pass(ct, &ch) : 0;
        save_checkpoint(ct);
        /* Go on at once after a pass; rest when nothing qualified or the pass was thwarted. */
        if (!ch.found || rc != 0)
            rest(ct, ct->opts.backoff_ms);
    }
    return NULL;
}

/* ---- start / stop ---- */

rn_cleaner_thread_t *rn_cleaner_thread_start(struct event_base *base,
                                             const rn_cleaner_thread_opts_t *opts, char *err,
                                             size_t errlen)
{
    rn_cleaner_thread_t *ct = rn_xcalloc(1, sizeof(*ct));
    ct->base = base;
    ct->opts = *opts;
    if (ct->opts.backoff_ms <= 0)
        ct->opts.backoff_ms = 15000;
    if (ct->opts.dedupe_buffer_bytes == 0)
        ct->opts.dedupe_buffer_bytes = 128u << 20;
    size_t n = strlen(opts->data_dir) + sizeof(RN_CHECKPOINT_CLEANER) + 2;
    ct->checkpoint_path = rn_xmalloc(n);
    snprintf(ct->checkpoint_path, n, "%s/%s", opts->data_dir, RN_CHECKPOINT_CLEANER);
    ct->opts.data_dir = NULL; /* not kept: only the path is */
    load_checkpoint(ct);
    int fds[2] = {-1, -1};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ct->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&ct->mu, NULL);
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0 ||
        (ct->ev = event_new(base, fds[0], EV_READ | EV_PERSIST, on_wake, ct)) == NULL ||
        event_add(ct->ev, NULL) != 0) {
        snprintf(err, errlen, "cannot set up the log cleaner's wake-up pipe: %s", strerror(errno));
        goto fail;
    }
    ct->pipe_rd = fds[0];
    ct->pipe_wr = fds[1];
    if ((errno = pthread_create(&ct->thread, NULL, thread_main, ct)) != 0) {
        snprintf(err, errlen, "cannot start the log cleaner thread: %s", strerror(errno));
        goto fail;
    }
    RN_INFO("cleaner", "log cleaner started (backoff %" PRId64 " ms, dedupe buffer %zu bytes)",
            ct->opts.backoff_ms, ct->opts.dedupe_buffer_bytes);
    return ct;
fail:
    if (ct->ev != NULL)
        event_free(ct->ev);
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
    pthread_mutex_destroy(&ct->mu);
    pthread_cond_destroy(&ct->cv);
    for (size_t i = 0; i < ct->ntps; i++)
        rn_free(ct->tps[i].topic);
    rn_free(ct->tps);
    rn_free(ct->checkpoint_path);
    rn_free(ct);
    return NULL;
}

void rn_cleaner_thread_stop(rn_cleaner_thread_t *ct)
{
    if (ct == NULL)
        return;
    pthread_mutex_lock(&ct->mu);
    __atomic_store_n(&ct->stopping, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&ct->cv);
    pthread_mutex_unlock(&ct->mu);
    pthread_join(ct->thread, NULL);
    event_free(ct->ev);
    close(ct->pipe_rd);
    close(ct->pipe_wr);
    pthread_mutex_destroy(&ct->mu);
    pthread_cond_destroy(&ct->cv);
    for (size_t i = 0; i < ct->ntps; i++)
        rn_free(ct->tps[i].topic);
    rn_free(ct->tps);
    rn_free(ct->checkpoint_path);
    rn_free(ct);
}

void rn_cleaner_thread_stats(rn_cleaner_thread_t *ct, rn_cleaner_thread_stats_t *out)
{
    out->passes = __atomic_load_n(&ct->stats.passes, __ATOMIC_RELAXED);
    out->cancelled = __atomic_load_n(&ct->stats.cancelled, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&ct->stats.failed, __ATOMIC_RELAXED);
    out->segments_written = __atomic_load_n(&ct->stats.segments_written, __ATOMIC_RELAXED);
    out->tombstones_dropped = __atomic_load_n(&ct->stats.tombstones_dropped, __ATOMIC_RELAXED);
}
