/* rn_tslookup: timestamp lookups inside compressed batches on the offload worker, shared per
 * batch and remembered (see rn_tslookup.h). */
#include "data/rn_tslookup.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <string.h>

#define OPAQUE_SLOTS    64
#define ANSWER_SLOTS    256
#define JOB_QUERIES_MAX 64

/* What identifies a batch's bytes: a log, where in it, and the header's own fields. */
typedef struct tl_key {
    const void *log;
    int64_t seg_base;
    uint64_t position;
    int64_t base_offset;
    uint32_t crc;
} tl_key_t;

typedef struct tl_question {
    int64_t ts, min_offset;
    rn_tslookup_cb cb;
    void *arg;
    struct tl_question *next;
} tl_question_t;

/* A batch with a job running; invariant: `running` is what the job answers (its questions
 * copied into `queries` before submitting), `waiting` arrived since. */
typedef struct tl_batch {
    rn_tslookup_t *tl;
    tl_key_t key;
    rn_segment_t *seg; /* one reference, held until the batch has no questions left */
    rn_segment_ts_batch_t batch;
    tl_question_t *running, *waiting;
    rn_segment_ts_query_t *queries;
    size_t nqueries;
    bool opaque;
    int rc;
    struct tl_batch *next;
} tl_batch_t;

typedef struct tl_answer {
    tl_key_t key;
    int64_t ts, min_offset;
    int rc;
    rn_segment_ts_hit_t hit;
    bool used;
} tl_answer_t;

struct rn_tslookup {
    rn_offload_t *off;
    const bool *stopping;
    tl_batch_t *busy; /* batches with a job running */
    tl_key_t opaque[OPAQUE_SLOTS];
    size_t nopaque, next_opaque;
    tl_answer_t answers[ANSWER_SLOTS];
    size_t next_answer;
    unsigned long jobs;
};

static bool key_eq(const tl_key_t *a, const tl_key_t *b)
{
    return a->log == b->log && a->seg_base == b->seg_base && a->position == b->position &&
           a->base_offset == b->base_offset && a->crc == b->crc;
}

rn_tslookup_t *rn_tslookup_new(rn_offload_t *off, const bool *stopping)
{
    rn_tslookup_t *tl = rn_xcalloc(1, sizeof(*tl));
    tl->off = off;
    tl->stopping = stopping;
    return tl;
}

void rn_tslookup_free(rn_tslookup_t *tl)
{
    if (tl == NULL)
        return;
    /* rn_offload_free ran every done callback: no batch is busy any more. */
    rn_free(tl);
}

unsigned long rn_tslookup_jobs(const rn_tslookup_t *tl)
{
    return tl->jobs;
}

static bool is_opaque(const rn_tslookup_t *tl, const tl_key_t *key)
{
    for (size_t i = 0; i < tl->nopaque; i++)
        if (key_eq(&tl->opaque[i], key))
            return true;
    return false;
}

static const tl_answer_t *find_answer(const rn_tslookup_t *tl, const tl_key_t *key, int64_t ts,
                                      int64_t min_offset)
{
    for (size_t i = 0; i < ANSWER_SLOTS; i++) {
        const tl_answer_t *a = &tl->answers[i];
        if (a->used && a->ts == ts && a->min_offset == min_offset && key_eq(&a->key, key))
            return a;
    }
    return NULL;
}

static void remember(rn_tslookup_t *tl, const tl_batch_t *tb)
{
    if (tb->opaque && !is_opaque(tl, &tb->key)) {
        tl->opaque[tl->next_opaque] = tb->key;
        tl->next_opaque = (tl->next_opaque + 1) % OPAQUE_SLOTS;
        if (tl->nopaque < OPAQUE_SLOTS)
            tl->nopaque++;
    }
    if (tb->rc != 0)
        return;
    for (size_t q = 0; q < tb->nqueries; q++) {
        tl_answer_t *a = &tl->answers[tl->next_answer];
        tl->next_answer = (tl->next_answer + 1) % ANSWER_SLOTS;
        *a = (tl_answer_t){tb->key,           tb->queries[q].ts,  tb->queries[q].min_offset,
                           tb->queries[q].rc, tb->queries[q].hit, true};
    }
}

/* The opaque answer: the batch's first offset at or above min_offset. */
static void opaque_hit(const rn_segment_ts_batch_t *batch, int64_t min_offset,
                       rn_segment_ts_hit_t *hit)
{
    hit->offset = batch->hdr.base_offset > min_offset ? batch->hdr.base_offset : min_offset;
    hit->timestamp = batch->hdr.max_timestamp;
    hit->leader_epoch = batch->hdr.partition_leader_epoch;
}

static int job_work(void *arg)
{
    tl_batch_t *tb = arg;
    return rn_segment_find_in_batch(tb->seg, &tb->batch, tb->queries, tb->nqueries,
                                    RN_SEGMENT_TS_MAX_RECORDS, &tb->opaque);
}

static void job_done(void *arg, int rc);

/* The job's answer to (ts, min_offset), or NULL when it was not asked. */
static const rn_segment_ts_query_t *job_answer(const tl_batch_t *tb, int64_t ts, int64_t min_offset)
{
    for (size_t i = 0; i < tb->nqueries; i++)
        if (tb->queries[i].ts == ts && tb->queries[i].min_offset == min_offset)
            return &tb->queries[i];
    return NULL;
}

/* Start a job answering up to JOB_QUERIES_MAX waiting questions (each costs a comparison
 * per record of the batch; the rest wait for the next job). */
static void start_job(tl_batch_t *tb)
{
    tb->running = NULL;
    tb->queries = rn_xcalloc(JOB_QUERIES_MAX, sizeof(*tb->queries));
    tb->nqueries = 0;
    while (tb->waiting != NULL && tb->nqueries < JOB_QUERIES_MAX) {
        tl_question_t *q = tb->waiting;
        tb->waiting = q->next;
        q->next = tb->running;
        tb->running = q;
        if (job_answer(tb, q->ts, q->min_offset) == NULL)
            tb->queries[tb->nqueries++] =
                (rn_segment_ts_query_t){.ts = q->ts, .min_offset = q->min_offset};
    }
    tb->tl->jobs++;
    rn_offload_submit(tb->tl->off, job_work, job_done, tb);
}

static void job_done(void *arg, int rc)
{
    tl_batch_t *tb = arg;
    rn_tslookup_t *tl = tb->tl;
    bool stopping = tl->stopping != NULL && *tl->stopping;
    tb->rc = rc;
    remember(tl, tb);
    /* Answer the job's questions and those that came meanwhile and were asked too. */
    tl_question_t *answered = tb->running;
    tb->running = NULL;
    tl_question_t **pp = &tb->waiting;
    while (*pp != NULL) {
        tl_question_t *q = *pp;
        if (tb->opaque || stopping || (rc == 0 && job_answer(tb, q->ts, q->min_offset))) {
            *pp = q->next;
            q->next = answered;
            answered = q;
        } else {
            pp = &q->next;
        }
    }
    /* Give answers from a copy: a callback may ask again (the next batch of the log). */
    rn_segment_ts_query_t *results = tb->queries;
    size_t nresults = tb->nqueries;
    bool opaque = tb->opaque; /* the next job (below) writes tb's own */
    tb->queries = NULL;
    tb->nqueries = 0;
    bool again = tb->waiting != NULL;
    if (again) {
        start_job(tb);
    } else {
        for (tl_batch_t **bp = &tl->busy; *bp != NULL; bp = &(*bp)->next)
            if (*bp == tb) {
                *bp = tb->next;
                break;
            }
    }
    for (tl_question_t *q = answered, *next; q != NULL; q = next) {
        next = q->next;
        int qrc = rc;
        rn_segment_ts_hit_t hit = {0};
        const rn_segment_ts_query_t *a = NULL;
        for (size_t i = 0; i < nresults && a == NULL; i++)
            if (results[i].ts == q->ts && results[i].min_offset == q->min_offset)
                a = &results[i];
        if (qrc == 0 && opaque)
            opaque_hit(&tb->batch, q->min_offset, &hit);
        else if (qrc == 0 && a != NULL)
            qrc = a->rc, hit = a->hit;
        else if (qrc == 0)
            qrc = RN_ECANCELED; /* stopping: no job for it */
        q->cb(q->arg, qrc, &hit);
        rn_free(q);
    }
    rn_free(results);
    if (!again) {
        rn_segment_unref(tb->seg);
        rn_free(tb);
    }
}

int rn_tslookup_find(rn_tslookup_t *tl, const void *log, rn_segment_t *seg,
                     const rn_segment_ts_batch_t *batch, int64_t ts, int64_t min_offset, int *rc,
                     rn_segment_ts_hit_t *hit, rn_tslookup_cb cb, void *arg)
{
    tl_key_t key = {log, seg->base_offset, batch->position, batch->hdr.base_offset, batch->hdr.crc};
    if (is_opaque(tl, &key)) {
        rn_segment_unref(seg);
        opaque_hit(batch, min_offset, hit);
        *rc = 0;
        return 1;
    }
    const tl_answer_t *a = find_answer(tl, &key, ts, min_offset);
    if (a != NULL) {
        rn_segment_unref(seg);
        *rc = a->rc;
        *hit = a->hit;
        return 1;
    }
    tl_question_t *q = rn_xcalloc(1, sizeof(*q));
    *q = (tl_question_t){ts, min_offset, cb, arg, NULL};
    for (tl_batch_t *tb = tl->busy; tb != NULL; tb = tb->next)
        if (key_eq(&tb->key, &key)) {
            rn_segment_unref(seg); /* the batch holds its own */
            q->next = tb->waiting;
            tb->waiting = q;
            return 0;
        }
    tl_batch_t *tb = rn_xcalloc(1, sizeof(*tb));
    tb->tl = tl;
    tb->key = key;
    tb->seg = seg;
    tb->batch = *batch;
    tb->waiting = q;
    tb->next = tl->busy;
    tl->busy = tb;
    start_job(tb);
    return 0;
}
