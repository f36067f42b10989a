/* Unit tests for rn_tslookup on a real event loop and offload worker: questions about one
 * compressed batch share jobs (the first starts one, those arriving meanwhile go together in
 * the next), every question gets the plain lookup's answer, and a question asked again is
 * answered from memory without a job. */
#include <event2/event.h>

#include "rn_log.h"
#include "data/rn_tslookup.h"
#include "unit/storage/cleaner_testutil.h"

typedef struct answer {
    int calls, rc;
    rn_segment_ts_hit_t hit;
} answer_t;

static int outstanding;
static struct event_base *base;

static void on_answer(void *arg, int rc, const rn_segment_ts_hit_t *hit)
{
    answer_t *a = arg;
    a->calls++;
    a->rc = rc;
    a->hit = *hit;
    if (--outstanding == 0)
        event_base_loopbreak(base);
}

/* Ask about the batch holding ts (a compressed one); 1 when answered at once. */
static int ask(rn_tslookup_t *tl, rn_plog_t *log, int64_t ts, answer_t *a)
{
    rn_segment_t *seg = NULL;
    rn_segment_ts_batch_t batch;
    rn_segment_ts_hit_t hit;
    if (rn_plog_offset_for_timestamp_deferred(log, ts, 0, &hit, &seg, &batch) != 1)
        return -1;
    int now = rn_tslookup_find(tl, log, seg, &batch, ts, 0, &a->rc, &a->hit, on_answer, a);
    if (now == 0)
        outstanding++;
    return now;
}

int main(void)
{
    rn_log_set_level(RN_LOG_WARN);
    char root[256], dir[300];
    tu_tmpdir(root, "tslookup-loop");
    snprintf(dir, sizeof(dir), "%s/t-0", root);
    rn_plog_config_t cfg;
    ct_config(&cfg, 1 << 20);
    rn_plog_t *log = ct_open(dir, &cfg, 1, 0);
    ct_batch_t b = CT_PLAIN;
    b.codec = RN_CODEC_GZIP;
    const char *keys[8] = {0}, *values[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    ct_append(log, NULL, &b, 8, keys, values, CT_NOW, NULL);

    base = event_base_new();
    rn_offload_t *off = rn_offload_new(base);
    bool stopping = false;
    rn_tslookup_t *tl = rn_tslookup_new(off, &stopping);
    answer_t a[4] = {{0}};
    int queued = 0;
    for (int i = 0; i < 4; i++)
        queued += ask(tl, log, CT_NOW + i, &a[i]) == 0;
    is(queued, 4, "four questions about one batch wait for the worker");
    event_base_dispatch(base);
    int right = 0;
    for (int i = 0; i < 4; i++)
        right += a[i].calls == 1 && a[i].rc == 0 && a[i].hit.offset == i &&
                 a[i].hit.timestamp == CT_NOW + i;
    is(right, 4, "each is answered once, with its record");
    ok(rn_tslookup_jobs(tl) <= 2, "they cost %lu decompressions (at most 2)", rn_tslookup_jobs(tl));
    unsigned long jobs = rn_tslookup_jobs(tl);
    answer_t again = {0};
    is(ask(tl, log, CT_NOW + 2, &again), 1, "asked again: answered from memory");
    ok(again.rc == 0 && again.hit.offset == 2 && rn_tslookup_jobs(tl) == jobs,
       "with the same answer and no job");

    rn_offload_free(off);
    rn_tslookup_free(tl);
    event_base_free(base);
    rn_plog_close(log);
    tu_rmtree(root);
    return done_testing();
}
