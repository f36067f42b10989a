/* Sampled rates and throttle times (see rn_qrate.h for the model). */
#include "quota/rn_qrate.h"

#include "rn_alloc.h"

#include <math.h>

rn_qrate_t *rn_qrate_new(const rn_qrate_cfg_t *cfg)
{
    size_t n = (size_t)cfg->windows + 1;
    return rn_xcalloc(1, sizeof(rn_qrate_t) + n * sizeof(rn_qrate_sample_t));
}

static void sample_reset(rn_qrate_sample_t *s, int64_t now_ms)
{
    *s = (rn_qrate_sample_t){.start_ms = now_ms, .last_ms = now_ms};
}

static rn_qrate_sample_t *current(rn_qrate_t *r, int64_t now_ms)
{
    if (r->n == 0) {
        r->n = 1;
        r->cur = 0;
        sample_reset(&r->samples[0], now_ms);
    }
    return &r->samples[r->cur];
}

/* Samples whose last event is a whole measuring span old no longer count; they restart at
 * now so they neither add value nor stretch the elapsed time. */
static void purge(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, int64_t now_ms)
{
    int64_t expire = (int64_t)cfg->windows * cfg->window_ms;
    for (int i = 0; i < r->n; i++)
        if (now_ms - r->samples[i].last_ms >= expire)
            sample_reset(&r->samples[i], now_ms);
}

void rn_qrate_record(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, double value, int64_t now_ms)
{
    rn_qrate_sample_t *s = current(r, now_ms);
    if (now_ms - s->start_ms >= cfg->window_ms) {
        int max = cfg->windows + 1;
        r->cur = (r->cur + 1) % max;
        if (r->cur >= r->n)
            r->n = r->cur + 1;
        s = &r->samples[r->cur];
        sample_reset(s, now_ms);
    }
    s->value += value;
    s->events++;
    s->last_ms = now_ms;
}

int64_t rn_qrate_window_ms(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, int64_t now_ms)
{
    purge(r, cfg, now_ms);
    current(r, now_ms);
    int64_t oldest = r->samples[0].start_ms;
    for (int i = 1; i < r->n; i++)
        if (r->samples[i].start_ms < oldest)
            oldest = r->samples[i].start_ms;
    int64_t elapsed = now_ms - oldest;
    int64_t full = elapsed / cfg->window_ms, min_full = cfg->windows - 1;
    if (full < min_full)
        elapsed += (min_full - full) * cfg->window_ms;
    return elapsed > 0 ? elapsed : 1;
}

double rn_qrate_measure(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, int64_t now_ms)
{
    int64_t window = rn_qrate_window_ms(r, cfg, now_ms); /* purges first */
    double total = 0;
    for (int i = 0; i < r->n; i++)
        total += r->samples[i].value;
    return total / ((double)window / 1000.0);
}

int64_t rn_qrate_throttle_ms(double rate, double bound, int64_t window_ms)
{
    if (!(rate > bound) || bound <= 0)
        return 0;
    return (int64_t)llround((rate - bound) / bound * (double)window_ms);
}
