/* rn_lagstat: Burrow-style lag evaluation over a bounded window (see rn_lagstat.h). */
#include "console/rn_lagstat.h"

#include "rn_alloc.h"
#include "rn_vec.h"

#include <stdbool.h>
#include <string.h>

typedef struct sample {
    int64_t ts_ms, committed, commit_ts, log_start, log_end;
} sample_t;

/* A ring of the last RN_LAGSTAT_WINDOW samples: v[(start + i) % WINDOW], i < n. */
typedef struct lpart {
    char *topic;
    int32_t partition;
    sample_t v[RN_LAGSTAT_WINDOW];
    int start, n;
} lpart_t;

typedef struct lgroup {
    rn_str_t id;     /* owned; may hold any byte */
    int64_t last_ms; /* last sample */
    lpart_t *parts;
    size_t n_parts, cap_parts;
    rn_lagstat_point_t hist[RN_LAGSTAT_HISTORY];
    size_t hist_start, hist_n;
} lgroup_t;

struct rn_lagstat {
    lgroup_t **groups;
    size_t n, cap, max;
};

static const char *const names[] = {"OK", "WARN", "STALL", "STOP", "ERR"};

const char *rn_lagstat_name(rn_lagstat_status_t st)
{
    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "ERR";
}

rn_lagstat_t *rn_lagstat_new(size_t max_groups)
{
    rn_lagstat_t *ls = rn_xcalloc(1, sizeof(*ls));
    ls->max = max_groups ? max_groups : 1;
    return ls;
}

static void group_free(lgroup_t *g)
{
    for (size_t i = 0; i < g->n_parts; i++)
        rn_free(g->parts[i].topic);
    rn_free(g->parts);
    rn_str_free(g->id);
    rn_free(g);
}

void rn_lagstat_free(rn_lagstat_t *ls)
{
    if (ls == NULL)
        return;
    for (size_t i = 0; i < ls->n; i++)
        group_free(ls->groups[i]);
    rn_free(ls->groups);
    rn_free(ls);
}

size_t rn_lagstat_count(const rn_lagstat_t *ls)
{
    return ls->n;
}

static lgroup_t *find_group(const rn_lagstat_t *ls, rn_str_t id)
{
    for (size_t i = 0; i < ls->n; i++)
        if (rn_str_eq(ls->groups[i]->id, id))
            return ls->groups[i];
    return NULL;
}

/* Drop groups not sampled for RN_LAGSTAT_FORGET_MS. */
static void forget_old(rn_lagstat_t *ls, int64_t now_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < ls->n; i++) {
        if (now_ms - ls->groups[i]->last_ms > RN_LAGSTAT_FORGET_MS)
            group_free(ls->groups[i]);
        else
            ls->groups[k++] = ls->groups[i];
    }
    ls->n = k;
}

/* The group, created when there is room; NULL when there is none. */
static lgroup_t *get_group(rn_lagstat_t *ls, rn_str_t id, int64_t now_ms)
{
    lgroup_t *g = find_group(ls, id);
    if (g == NULL) {
        forget_old(ls, now_ms);
        if (ls->n >= ls->max)
            return NULL;
        g = rn_xcalloc(1, sizeof(*g));
        g->id = rn_str_xdup(id);
        rn_vec_xpush(ls->groups, ls->n, ls->cap, g);
    }
    g->last_ms = now_ms;
    return g;
}

static lpart_t *find_part(const lgroup_t *g, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < g->n_parts; i++)
        if (g->parts[i].partition == partition && strcmp(g->parts[i].topic, topic) == 0)
            return &g->parts[i];
    return NULL;
}

void rn_lagstat_add(rn_lagstat_t *ls, rn_str_t group, const char *topic, int32_t partition,
                    int64_t now_ms, int64_t committed, int64_t commit_ts, int64_t log_start,
                    int64_t log_end)
{
    lgroup_t *g = get_group(ls, group, now_ms);
    if (g == NULL)
        return;
    lpart_t *p = find_part(g, topic, partition);
    if (p == NULL) {
        if (g->n_parts >= RN_LAGSTAT_MAX_PARTS)
            return;
        rn_vec_xreserve(g->parts, g->cap_parts, g->n_parts + 1);
        p = &g->parts[g->n_parts++];
        memset(p, 0, sizeof(*p));
        p->topic = rn_xstrdup(topic);
        p->partition = partition;
    }
    sample_t s = {now_ms, committed, commit_ts, log_start, log_end};
    if (p->n < RN_LAGSTAT_WINDOW) {
        p->v[(p->start + p->n++) % RN_LAGSTAT_WINDOW] = s;
    } else {
        p->v[p->start] = s;
        p->start = (p->start + 1) % RN_LAGSTAT_WINDOW;
    }
}

void rn_lagstat_add_total(rn_lagstat_t *ls, rn_str_t group, int64_t now_ms, int64_t lag)
{
    lgroup_t *g = get_group(ls, group, now_ms);
    if (g == NULL)
        return;
    rn_lagstat_point_t pt = {now_ms, lag};
    if (g->hist_n < RN_LAGSTAT_HISTORY) {
        g->hist[(g->hist_start + g->hist_n++) % RN_LAGSTAT_HISTORY] = pt;
    } else {
        g->hist[g->hist_start] = pt;
        g->hist_start = (g->hist_start + 1) % RN_LAGSTAT_HISTORY;
    }
}

static const sample_t *at(const lpart_t *p, int i)
{
    return &p->v[(p->start + i) % RN_LAGSTAT_WINDOW];
}

static int64_t lag_of(const sample_t *s)
{
    return s->log_end - s->committed;
}

static rn_lagstat_status_t evaluate(const lpart_t *p, int64_t now_ms)
{
    if (p->n == 0)
        return RN_LAGSTAT_OK;
    const sample_t *first = at(p, 0), *last = at(p, p->n - 1);
    if (last->committed > last->log_end || last->committed < last->log_start)
        return RN_LAGSTAT_ERR;
    if (p->n < 2)
        return RN_LAGSTAT_OK;
    for (int i = 0; i < p->n; i++)
        if (lag_of(at(p, i)) <= 0)
            return RN_LAGSTAT_OK;
    if (first->committed == last->committed) {
        int64_t span = last->ts_ms - first->ts_ms;
        if (first->commit_ts == last->commit_ts && now_ms - last->commit_ts > span)
            return RN_LAGSTAT_STOP;
        return RN_LAGSTAT_STALL;
    }
    bool growing = true;
    for (int i = 1; i < p->n && growing; i++)
        growing = lag_of(at(p, i)) > lag_of(at(p, i - 1));
    return growing ? RN_LAGSTAT_WARN : RN_LAGSTAT_OK;
}

rn_lagstat_status_t rn_lagstat_partition(const rn_lagstat_t *ls, rn_str_t group, const char *topic,
                                         int32_t partition, int64_t now_ms)
{
    const lgroup_t *g = find_group(ls, group);
    const lpart_t *p = g != NULL ? find_part(g, topic, partition) : NULL;
    return p != NULL ? evaluate(p, now_ms) : RN_LAGSTAT_OK;
}

rn_lagstat_status_t rn_lagstat_group(const rn_lagstat_t *ls, rn_str_t group, int64_t now_ms)
{
    const lgroup_t *g = find_group(ls, group);
    rn_lagstat_status_t worst = RN_LAGSTAT_OK;
    for (size_t i = 0; g != NULL && i < g->n_parts; i++) {
        rn_lagstat_status_t st = evaluate(&g->parts[i], now_ms);
        if (st > worst)
            worst = st;
    }
    return worst;
}

size_t rn_lagstat_history(const rn_lagstat_t *ls, rn_str_t group, rn_lagstat_point_t *out,
                          size_t cap)
{
    const lgroup_t *g = find_group(ls, group);
    if (g == NULL)
        return 0;
    size_t n = g->hist_n < cap ? g->hist_n : cap;
    size_t skip = g->hist_n - n; /* the newest n */
    for (size_t i = 0; i < n; i++)
        out[i] = g->hist[(g->hist_start + skip + i) % RN_LAGSTAT_HISTORY];
    return n;
}
