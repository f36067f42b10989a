/* The log cleaner thread on a real libevent loop: it finds a dirty compacted log through the
 * walk, cleans it with owner steps run on the loop while the loop keeps appending, writes
 * cleaner-offset-checkpoint, skips clean logs, loads the checkpoint at the next start, gives
 * up a pass whose log left the walk, and stops promptly even while it waits on a loop call
 * that the loop never runs. */
#include <event2/event.h>
#include <time.h>

#include "rn_checkpoint.h"
#include "data/rn_cleaner_thread.h"
#include "rn_err.h"
#include "rn_log.h"
#include "unit/storage/cleaner_testutil.h"

typedef struct world {
    rn_plog_t *log;
    bool hidden; /* the walk does not show the log */
    int walks;
    double ratio;
} world_t;

static void walk(void *arg, rn_cleaner_visit_fn visit, void *visit_arg)
{
    world_t *w = arg;
    w->walks++;
    if (w->hidden)
        return;
    rn_cleaner_part_t part = {.topic = "compacted", .partition = 0, .log = w->log};
    rn_cleaner_config_default(&part.cfg);
    part.min_cleanable_dirty_ratio = w->ratio;
    part.max_compaction_lag_ms = INT64_MAX;
    visit(visit_arg, &part);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until cond holds or ms pass; each round appends one update (the owner's
 * work going on between the cleaner's steps). */
typedef bool (*cond_fn)(rn_cleaner_thread_t *ct, void *arg);

static bool run_until(struct event_base *base, rn_cleaner_thread_t *ct, world_t *w,
                      ct_recs_t *model, cond_fn cond, void *arg, int ms)
{
    int64_t deadline = mono_ms() + ms;
    int i = 0;
    while (!cond(ct, arg)) {
        if (mono_ms() > deadline)
            return false;
        struct timeval tick = {0, 2000};
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
        if (model != NULL) {
            char k[16], v[32];
            snprintf(k, sizeof(k), "k%d", i % 3);
            snprintf(v, sizeof(v), "during-%d", i++);
            const char *keys[] = {k}, *vals[] = {v};
            ct_append(w->log, model, &CT_PLAIN, 1, keys, vals, CT_NOW + i, NULL);
        }
    }
    return true;
}

/* Run the loop until the walk has run n more times (or ms pass). */
static bool spin_walks(struct event_base *base, world_t *w, int n, int ms)
{
    int target = w->walks + n;
    int64_t deadline = mono_ms() + ms;
    while (w->walks < target && mono_ms() < deadline) {
        struct timeval tick = {0, 2000};
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
    }
    return w->walks >= target;
}

static int64_t checkpointed(const char *root);

static bool checkpoint_written(rn_cleaner_thread_t *ct, void *arg)
{
    return checkpointed(arg) > 0;
}

static char root[256];

static bool checkpoint_at_active(rn_cleaner_thread_t *ct, void *arg)
{
    world_t *w = arg;
    rn_segment_t *active = rn_plog_segment_at(w->log, rn_plog_segment_count(w->log) - 1);
    return checkpointed(root) == active->base_offset;
}

static int64_t checkpointed(const char *root_dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", root_dir, RN_CHECKPOINT_CLEANER);
    rn_checkpoint_t cp;
    if (rn_checkpoint_load(path, &cp, NULL, 0) != 0)
        return -2;
    const rn_checkpoint_entry_t *e = rn_checkpoint_find(&cp, "compacted", 0);
    int64_t off = e ? e->offset : -1;
    rn_checkpoint_free(&cp);
    return off;
}

int main(void)
{
    rn_log_set_level(RN_LOG_WARN);
    char dir[512];
    tu_tmpdir(root, "cleaner-thread");
    snprintf(dir, sizeof(dir), "%s/compacted-0", root);
    rn_plog_config_t pc;
    ct_config(&pc, 1024);
    world_t w = {.log = ct_open(dir, &pc, 0, 0), .ratio = 0.5};
    ct_recs_t model = {0};
    for (int i = 0; i < 600; i++) {
        char k[16], v[32];
        snprintf(k, sizeof(k), "k%d", i % 7);
        snprintf(v, sizeof(v), "v%d", i);
        const char *keys[] = {k}, *vals[] = {v};
        ct_append(w.log, &model, &CT_PLAIN, 1, keys, vals, CT_NOW + i, NULL);
    }
    struct event_base *base = event_base_new();
    char err[256];
    rn_cleaner_thread_opts_t opts = {root, 20, 1 << 20, walk, &w};
    rn_cleaner_thread_t *ct = rn_cleaner_thread_start(base, &opts, err, sizeof(err));
    ok(ct != NULL, "thread started");
    ok(run_until(base, ct, &w, &model, checkpoint_written, root, 10000),
       "a pass ran while the loop kept appending, and its checkpoint was written");
    rn_cleaner_thread_stats_t st;
    rn_cleaner_thread_stats(ct, &st);
    ok(st.segments_written > 0 && st.failed == 0, "%lld segment(s) swapped in, no failure",
       (long long)st.segments_written);
    /* The pass ran off the loop; its end is at most the active base the loop has now. */
    int64_t active = rn_plog_segment_at(w.log, rn_plog_segment_count(w.log) - 1)->base_offset;
    int64_t cp = checkpointed(root);
    ok(cp > 0 && cp <= active, "cleaner-offset-checkpoint holds %lld", (long long)cp);

    /* Let it catch up with everything appended: the checkpoint reaches the active segment.
     * (Until then the log may be cleaned past the checkpoint file: a pass writes it after its
     * swaps.) */
    w.ratio = 0.0;
    ok(run_until(base, ct, &w, NULL, checkpoint_at_active, &w, 5000),
       "the cleaner catches up with the appends");
    ct_recs_t got = {0};
    is(ct_read_all(w.log, &got), 0, "the log reads back");
    ct_cut_t cut = {checkpointed(root)};
    is(ct_compare(&got, &model, ct_keep_latest, &cut), 0,
       "exactly the latest per key, plus the active segment");
    ct_free(&got);

    /* With a ratio no log can reach (cleaned segments may all be empty, making a dirty ratio
     * of exactly 1) it walks without cleaning. */
    w.ratio = 1.5;
    spin_walks(base, &w, 1, 5000);
    rn_cleaner_thread_stats(ct, &st);
    int64_t passes = st.passes;
    bool walked = spin_walks(base, &w, 3, 5000);
    rn_cleaner_thread_stats(ct, &st);
    ok(walked && st.passes == passes, "a clean log is walked (%d walks) but not cleaned", w.walks);
    rn_cleaner_thread_stop(ct);
    int64_t saved = checkpointed(root);
    ok(saved > 0, "checkpoint %lld saved", (long long)saved);

    /* A restart loads the checkpoint: nothing is dirty, so no pass moves it. */
    ct = rn_cleaner_thread_start(base, &opts, err, sizeof(err));
    walked = spin_walks(base, &w, 3, 5000);
    /* One pass may run for the delete horizon (unknown after a start); it must not move the
     * checkpoint since nothing is dirty. */
    ok(walked && checkpointed(root) == saved, "the checkpoint survived the restart");
    rn_cleaner_thread_stop(ct);

    /* Stop while the thread waits for a loop call the loop never runs. */
    ct = rn_cleaner_thread_start(base, &opts, err, sizeof(err));
    struct timespec pause = {0, 50 * 1000000};
    nanosleep(&pause, NULL);
    int64_t t0 = mono_ms();
    rn_cleaner_thread_stop(ct);
    ok(mono_ms() - t0 < 2000, "stop returns while the thread waits on the loop");

    /* A log that leaves the walk mid-pass: its owner steps are refused. */
    w.hidden = false;
    w.ratio = 0.0;
    for (int i = 0; i < 300; i++) {
        char k[16], v[32];
        snprintf(k, sizeof(k), "k%d", i % 7);
        snprintf(v, sizeof(v), "w%d", i);
        const char *keys[] = {k}, *vals[] = {v};
        ct_append(w.log, &model, &CT_PLAIN, 1, keys, vals, CT_NOW + 1000 + i, NULL);
    }
    ct = rn_cleaner_thread_start(base, &opts, err, sizeof(err));
    w.hidden = true;
    walked = spin_walks(base, &w, 3, 5000);
    rn_cleaner_thread_stats(ct, &st);
    ok(walked && st.passes == 0 && st.failed == 0, "a hidden log is not cleaned");
    rn_cleaner_thread_stop(ct);

    event_base_free(base);
    rn_plog_close(w.log);
    ct_free(&model);
    tu_rmtree(root);
    return done_testing();
}
