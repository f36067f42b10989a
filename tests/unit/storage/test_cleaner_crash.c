/* The log cleaner under crashes and concurrency.
 *
 * Crashes: a pass is stopped (fault hook) after the cleaned files are written, after their
 * rename to .swap, after the first replaced segment is deleted, and after the final renames;
 * also with a half-written .cleaned file. The log is then closed as a dead process leaves it
 * and reopened after an unclean stop, with full recovery and with the recovery point at the
 * log end (no rescan): it must hold exactly the original records (crash before the .swap) or
 * exactly the cleaned ones (after), have valid indexes and no leftover files, and clean and
 * append normally afterwards.
 *
 * Concurrency: segments deleted between the snapshot and the swap abandon the pass
 * (RN_ECANCELED, nothing left behind); appends and reads between owner steps; a Fetch slice
 * taken before a swap still reads the old bytes; a cleaner thread cleaning while the main
 * thread appends and reads, the owner steps serialized by a mutex (the run_owner contract). */
#include "rn_cleaner.h"
#include "rn_log.h"
#include "unit/storage/cleaner_testutil.h"

#include <pthread.h>

#define ROLL_MS 100000

static uint32_t rng = 777;

static uint32_t rnd(void)
{
    return tu_xorshift32(&rng);
}

static void config(rn_plog_config_t *pc)
{
    ct_config(pc, 1 << 20);
    pc->segment_ms = ROLL_MS;
}

/* Three sealed segments of updates to five keys, then an active segment of three records. */
static rn_plog_t *build(const char *dir, ct_recs_t *model, int64_t *active_base)
{
    rn_plog_config_t pc;
    config(&pc);
    rn_plog_t *log = ct_open(dir, &pc, 0, 0);
    int64_t t = CT_NOW - 10 * ROLL_MS;
    for (int seg = 0; seg < 4; seg++) {
        int64_t ts = t + (int64_t)seg * 2 * ROLL_MS;
        for (int i = 0; i < (seg < 3 ? 40 : 3); i++) {
            char k[CT_KEYSZ], v[CT_VALSZ];
            snprintf(k, sizeof(k), "k%u", rnd() % 5);
            snprintf(v, sizeof(v), "s%d-%d", seg, i);
            const char *keys[] = {k}, *values[] = {v};
            if (ct_append(log, model, &CT_PLAIN, 1, keys, values, ts + i, NULL) != 0)
                exit(2);
        }
    }
    *active_base = rn_plog_segment_at(log, rn_plog_segment_count(log) - 1)->base_offset;
    return log;
}

static int leftovers(const char *dir)
{
    return ct_count_files(dir, ".cleaned") + ct_count_files(dir, ".swap") +
           ct_count_files(dir, ".deleted");
}

static int fault_at(void *arg, rn_cleaner_step_t step)
{
    return step == *(rn_cleaner_step_t *)arg;
}

static const char *step_name(int step)
{
    static const char *names[] = {"half-written .cleaned", "after .cleaned", "after .swap",
                                  "mid-swap (first segment deleted)", "after the final renames"};
    return names[step];
}

static void check_after(const char *dir, const char *what, int64_t rp, const ct_recs_t *model,
                        bool cleaned, int64_t active_base)
{
    rn_plog_config_t pc;
    config(&pc);
    rn_plog_t *log = ct_open(dir, &pc, 0, rp);
    ct_recs_t got = {0};
    ct_cut_t cut = {active_base};
    is(ct_read_all(log, &got), 0, "%s (rp %lld): the log reads back", what, (long long)rp);
    is(ct_compare(&got, model, cleaned ? ct_keep_latest : ct_keep_all, &cut), 0,
       "%s (rp %lld): exactly the %s records", what, (long long)rp,
       cleaned ? "cleaned" : "original");
    is(rn_plog_segment_count(log), cleaned ? 2 : 4, "%s: %s segments", what,
       cleaned ? "swapped" : "original");
    is(tu_check_log(log), 0, "%s: indexes valid", what);
    is(leftovers(dir), 0, "%s: no .cleaned/.swap/.deleted left", what);
    ct_free(&got);
    /* A pass after recovery cleans as usual, and appends continue. */
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), 0, "%s: a pass after recovery", what);
    ct_read_all(log, &got);
    is(ct_compare(&got, model, ct_keep_latest, &cut), 0, "%s: then the cleaned records", what);
    ct_free(&got);
    const char *k[] = {"k0"}, *v[] = {"later"};
    is(ct_append(log, NULL, &CT_PLAIN, 1, k, v, CT_NOW, NULL), 0, "%s: appends go on", what);
    rn_plog_close(log);
}

static void test_crashes(const char *root)
{
    for (int step = 0; step <= RN_CLEANER_STEP_RENAMED; step++) {
        for (int rescan = 0; rescan < 2; rescan++) {
            char dir[512];
            snprintf(dir, sizeof(dir), "%s/crash-%d-%d", root, step, rescan);
            ct_recs_t model = {0};
            int64_t active_base;
            rn_plog_t *log = build(dir, &model, &active_base);
            int64_t end = rn_plog_log_end_offset(log);
            if (step == 0) {
                /* A pass that died while writing: a torn .cleaned log and index. */
                char path[600];
                snprintf(path, sizeof(path), "%s/%020d.log.cleaned", dir, 0);
                FILE *f = fopen(path, "w");
                fputs("torn", f);
                fclose(f);
                snprintf(path, sizeof(path), "%s/%020d.index.cleaned", dir, 0);
                f = fopen(path, "w");
                fclose(f);
            } else {
                rn_cleaner_config_t cfg;
                rn_cleaner_config_default(&cfg);
                rn_cleaner_step_t at = (rn_cleaner_step_t)step;
                cfg.fault = fault_at;
                cfg.fault_arg = &at;
                rn_cleaner_stats_t st;
                is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), RN_ECANCELED,
                   "%s: the pass stops there", step_name(step));
                if (step == RN_CLEANER_STEP_SWAP)
                    ok(ct_count_files(dir, ".log.swap") == 1 && ct_count_files(dir, ".log") == 4,
                       "%s: the .swap sits next to every old segment", step_name(step));
                if (step == RN_CLEANER_STEP_DELETED)
                    ok(ct_count_files(dir, ".log.swap") == 1 && ct_count_files(dir, ".log") == 3,
                       "%s: the first old segment is gone", step_name(step));
            }
            rn_plog_close(log); /* no flush, no marker: what a crash leaves */
            check_after(dir, step_name(step), rescan ? 0 : end, &model,
                        step >= RN_CLEANER_STEP_SWAP, active_base);
            ct_free(&model);
        }
    }
}

/* A group whose last segment holds only superseded records: the swap file ends before that
 * segment, so a crash between the rename to .swap and its deletion leaves it in place (as in
 * Kafka). The log must still be valid, hold only original records, end every key with its
 * latest value, and the next pass must remove the stale records. */
static void test_crash_stale_tail(const char *root)
{
    for (int step = RN_CLEANER_STEP_SWAP; step <= RN_CLEANER_STEP_DELETED; step++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/stale-%d", root, step);
        rn_plog_config_t pc;
        config(&pc);
        pc.segment_bytes = 2000;
        rn_plog_t *log = ct_open(dir, &pc, 0, 0);
        ct_recs_t model = {0}, got = {0};
        int64_t t = CT_NOW - 10 * ROLL_MS;
        const char *k0[] = {"a", "b"}, *v0[] = {"a1", "b1"};
        ct_append(log, &model, &CT_PLAIN, 2, k0, v0, t, NULL); /* s0: kept */
        const char *k1[] = {"c", "d"}, *v1[] = {"c1", "d1"};
        ct_append(log, &model, &CT_PLAIN, 2, k1, v1, t + 2 * ROLL_MS, NULL); /* s1: superseded */
        const char *k2[] = {"c", "d"}, *v2[] = {"c2", "d2"};
        ct_append(log, &model, &CT_PLAIN, 2, k2, v2, t + 4 * ROLL_MS, NULL); /* s2 */
        for (int i = 0; i < 14; i++) { /* pad s2 so it forms its own group */
            char k[CT_KEYSZ], v[CT_VALSZ];
            snprintf(k, sizeof(k), "pad-%d", i);
            memset(v, 'p', 40);
            v[40] = 0;
            const char *kp[] = {k}, *vp[] = {v};
            ct_append(log, &model, &CT_PLAIN, 1, kp, vp, t + 4 * ROLL_MS + 1 + i, NULL);
        }
        const char *ka[] = {"z"}, *va[] = {"z1"};
        ct_append(log, &model, &CT_PLAIN, 1, ka, va, t + 6 * ROLL_MS, NULL);
        ok(rn_plog_segment_count(log) == 4, "stale tail: four segments (%zu)",
           rn_plog_segment_count(log));
        int64_t active_base = rn_plog_segment_at(log, 3)->base_offset;
        /* Groups: [s0, s1] and [s2]. */
        pc.segment_bytes =
            (int64_t)(rn_plog_segment_at(log, 0)->size + rn_plog_segment_at(log, 1)->size);
        rn_plog_set_config(log, &pc);
        rn_cleaner_config_t cfg;
        rn_cleaner_config_default(&cfg);
        rn_cleaner_step_t at = (rn_cleaner_step_t)step;
        cfg.fault = fault_at;
        cfg.fault_arg = &at;
        rn_cleaner_stats_t st;
        is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), RN_ECANCELED, "stale tail: crash %s",
           step_name(step));
        rn_plog_close(log);
        pc.segment_bytes = 2000;
        log = ct_open(dir, &pc, 0, 0);
        is(ct_read_all(log, &got), 0, "stale tail (%s): the log reads back", step_name(step));
        int foreign = 0, wrong_last = 0;
        for (size_t g = 0; g < got.n; g++) {
            bool found = false;
            for (size_t m = 0; m < model.n && !found; m++)
                found = ct_same(&got.v[g], &model.v[m]);
            foreign += !found;
        }
        ct_cut_t cut = {active_base};
        for (size_t m = 0; m < model.n; m++) {
            if (!ct_keep_latest(&model, m, &cut))
                continue;
            const ct_rec_t *last = NULL;
            for (size_t g = 0; g < got.n; g++)
                if (strcmp(got.v[g].key, model.v[m].key) == 0)
                    last = &got.v[g];
            wrong_last += last == NULL || !ct_same(last, &model.v[m]);
        }
        is(foreign, 0, "stale tail: every record is an original one at its offset");
        is(wrong_last, 0, "stale tail: every key ends with its latest value");
        ok(got.n == 2 + 2 + 2 + 14 + 1, "stale tail: the superseded segment survived (%zu records)",
           got.n);
        is(tu_check_log(log), 0, "stale tail: indexes valid");
        is(leftovers(dir), 0, "stale tail: no leftovers");
        ct_free(&got);
        cfg.fault = NULL;
        is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), 0, "stale tail: the next pass");
        ct_read_all(log, &got);
        is(ct_compare(&got, &model, ct_keep_latest, &cut), 0,
           "stale tail: then exactly the cleaned records");
        ct_free(&got);
        rn_plog_close(log);
        ct_free(&model);
    }
}

/* ---- concurrency ---- */

typedef struct owner_hook {
    rn_plog_t *log;
    ct_recs_t *model;
    int calls;
    int delete_at; /* on this call, DeleteRecords past the first segment first */
    int append;    /* append a record (and read) before every owner step */
    int64_t ts;
} owner_hook_t;

static int hook_run(void *arg, rn_cleaner_owner_fn fn, void *fnarg)
{
    owner_hook_t *h = arg;
    h->calls++;
    if (h->calls == h->delete_at) {
        int64_t second = rn_plog_segment_at(h->log, 1)->base_offset;
        rn_plog_delete_records(h->log, second, NULL);
    }
    if (h->append) {
        char v[CT_VALSZ];
        snprintf(v, sizeof(v), "during-%d", h->calls);
        const char *k[] = {"k1"}, *vals[] = {v};
        /* Every other append jumps in time: the active segment rolls under the pass. */
        h->ts += h->calls % 2 ? 2 * ROLL_MS : 1;
        ct_append(h->log, h->model, &CT_PLAIN, 1, k, vals, h->ts, NULL);
        rn_plog_slice_t slice;
        if (rn_plog_read(h->log, 0, 4096, -1, &slice) == 0)
            rn_plog_slice_release(&slice);
    }
    return fn(fnarg);
}

static bool keep_from(const ct_recs_t *m, size_t i, void *arg)
{
    return m->v[i].offset >= *(int64_t *)arg;
}

static int always(void *arg)
{
    return 1;
}

static void test_changed_under_pass(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/changed", root);
    ct_recs_t model = {0}, got = {0};
    int64_t active_base;
    rn_plog_t *log = build(dir, &model, &active_base);
    /* Three sealed segments of ~3 KiB with segment.bytes 2 KiB: one group each. */
    rn_plog_config_t pc = *rn_plog_config(log);
    pc.segment_bytes = 2048;
    rn_plog_set_config(log, &pc);
    owner_hook_t h = {log, &model, 0, 2, 0, 0};
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    cfg.run_owner = hook_run;
    cfg.owner_arg = &h;
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), RN_ECANCELED,
       "a group deleted by DeleteRecords before its swap abandons the pass");
    is(st.end_offset, 0, "the checkpoint does not move");
    is(leftovers(dir), 0, "its cleaned files are removed");
    int64_t start = rn_plog_log_start_offset(log);
    ct_read_all(log, &got);
    is(ct_compare(&got, &model, keep_from, &start), 0, "the log is as DeleteRecords left it");
    ct_free(&got);

    cfg.cancelled = always;
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), RN_ECANCELED, "a cancelled pass stops");
    is(leftovers(dir), 0, "and leaves nothing behind");
    cfg.cancelled = NULL;

    /* Appends (rolling the active segment) and reads between the owner steps. */
    h = (owner_hook_t){log, &model, 0, 0, 1, CT_NOW};
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), 0, "a pass with appends between its steps");
    ok(h.calls >= 3, "%d owner steps", h.calls);
    ct_read_all(log, &got);
    ct_cut_t cut = {st.end_offset};
    int diffs = 0;
    for (size_t i = 0, g = 0; i < model.n; i++) {
        if (model.v[i].offset < start || !ct_keep_latest(&model, i, &cut))
            continue;
        diffs += g >= got.n || !ct_same(&got.v[g], &model.v[i]);
        g++;
    }
    is(diffs, 0, "latest per key below the pass's end, everything appended meanwhile");
    is(tu_check_log(log), 0, "indexes valid");
    ct_free(&got);
    rn_plog_close(log);
    ct_free(&model);
}

static void test_slice_across_swap(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/slice", root);
    ct_recs_t model = {0};
    int64_t active_base;
    rn_plog_t *log = build(dir, &model, &active_base);
    rn_plog_slice_t slice;
    is(rn_plog_read(log, 0, 1 << 20, -1, &slice), 0, "a Fetch slice of the first segment");
    uint8_t *before = tu_read_slice(&slice);
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), 0, "pass");
    is(st.segments_written, 1, "the segments were swapped");
    uint8_t *after = tu_read_slice(&slice);
    ok(memcmp(before, after, slice.length) == 0,
       "the slice taken before the swap still reads the old bytes (%llu)",
       (unsigned long long)slice.length);
    rn_plog_slice_release(&slice);
    rn_free(before);
    rn_free(after);
    rn_plog_close(log);
    ct_free(&model);
}

/* The owner thread is simulated by a mutex: whoever holds it may call rn_plog. */
typedef struct shared {
    pthread_mutex_t mu;
    rn_plog_t *log;
    int done;
    int passes, pass_errors;
    int64_t checkpoint;
} shared_t;

static int mutex_owner(void *arg, rn_cleaner_owner_fn fn, void *fnarg)
{
    shared_t *s = arg;
    pthread_mutex_lock(&s->mu);
    int rc = fn(fnarg);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void *cleaner_main(void *arg)
{
    shared_t *s = arg;
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    cfg.run_owner = mutex_owner;
    cfg.owner_arg = s;
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
        rn_cleaner_stats_t st;
        int rc = rn_cleaner_clean(s->log, &cfg, s->checkpoint, CT_NOW, &st);
        s->passes++;
        if (rc == 0)
            s->checkpoint = st.end_offset;
        else if (rc != RN_ECANCELED)
            s->pass_errors++;
    }
    return NULL;
}

static void test_threads(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/threads", root);
    rn_plog_config_t pc;
    ct_config(&pc, 1024);
    shared_t s = {.log = ct_open(dir, &pc, 0, 0)};
    pthread_mutex_init(&s.mu, NULL);
    ct_recs_t model = {0};
    pthread_t th;
    pthread_create(&th, NULL, cleaner_main, &s);
    int bad_reads = 0;
    int64_t ts = CT_NOW;
    for (int i = 0; i < 3000; i++) {
        char k[CT_KEYSZ], v[CT_VALSZ];
        snprintf(k, sizeof(k), "t%u", rnd() % 8);
        snprintf(v, sizeof(v), "v%d", i);
        const char *keys[] = {k}, *values[] = {v};
        rn_plog_slice_t slice = {.fd = -1};
        pthread_mutex_lock(&s.mu);
        ct_append(s.log, &model, &CT_PLAIN, 1, keys, values, ts++, NULL);
        int64_t off = (int64_t)(rnd() % (uint32_t)rn_plog_log_end_offset(s.log));
        int rc = rn_plog_read(s.log, off, 2048, -1, &slice);
        pthread_mutex_unlock(&s.mu);
        /* The slice is read outside the owner: swaps may unlink its file meanwhile. */
        if (rc == 0 && slice.length > 0) {
            uint8_t *buf = tu_read_slice(&slice);
            rn_batch_header_t hdr;
            if (rn_batch_validate(buf, slice.length, &hdr) != 0 || rn_batch_last_offset(&hdr) < off)
                bad_reads++;
            rn_free(buf);
        }
        if (rc == 0)
            rn_plog_slice_release(&slice);
        else
            bad_reads++;
    }
    __atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    ok(s.passes > 0, "the cleaner thread ran %d passes", s.passes);
    is(s.pass_errors, 0, "no pass failed");
    is(bad_reads, 0, "every read during cleaning got whole valid batches");
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(s.log, &cfg, s.checkpoint, CT_NOW, &st), 0, "a final pass");
    ct_recs_t got = {0};
    is(ct_read_all(s.log, &got), 0, "reads back");
    ct_cut_t cut = {rn_plog_segment_at(s.log, rn_plog_segment_count(s.log) - 1)->base_offset};
    is(ct_compare(&got, &model, ct_keep_latest, &cut), 0, "exactly the latest per key");
    is(tu_check_log(s.log), 0, "indexes valid");
    ct_free(&got);
    rn_plog_close(s.log);
    pthread_mutex_destroy(&s.mu);
    ct_free(&model);
}

int main(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    char root[256];
    tu_tmpdir(root, "cleaner-crash");
    test_crashes(root);
    test_crash_stale_tail(root);
    test_changed_under_pass(root);
    test_slice_across_swap(root);
    test_threads(root);
    tu_rmtree(root);
    return done_testing();
}
