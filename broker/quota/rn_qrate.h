/* rn_qrate: a rate measured over sampled time windows, and the throttle time that brings a
 * rate back under a bound — the arithmetic of Kafka's client quotas (KIP-13), so a client
 * throttled by runnel waits as long as Kafka would make it wait.
 *
 * A rate keeps `windows + 1` samples of `window_ms` each (quota.window.num and
 * quota.window.size.seconds; the extra sample overlaps the oldest edge). Recording adds to
 * the current sample, starting a new one once it is window_ms old. The rate is the sum of
 * the samples not obsolete (an event within windows * window_ms) divided by the elapsed time
 * since the oldest one started, counted as at least windows - 1 full windows so a client's
 * first burst is not measured over a few milliseconds.
 *
 * Throttle time when the rate exceeds the bound: (rate - bound) / bound * elapsed window,
 * the time after which, with nothing more recorded, the rate is back at the bound.
 *
 * Pure functions of the time handed in (milliseconds, any monotonic origin): unit-tested
 * without a clock. */
#ifndef RN_QRATE_H
#define RN_QRATE_H

#include <stdint.h>

typedef struct rn_qrate_cfg {
    int windows;       /* quota.window.num (>= 1) */
    int64_t window_ms; /* quota.window.size.seconds * 1000 (>= 1) */
} rn_qrate_cfg_t;

typedef struct rn_qrate_sample {
    double value;
    int64_t start_ms, last_ms;
    int64_t events;
} rn_qrate_sample_t;

/* Invariants: 0 <= cur < n <= cfg.windows + 1; samples[cur] is the current sample. */
typedef struct rn_qrate {
    int n, cur;
    rn_qrate_sample_t samples[]; /* cfg.windows + 1 */
} rn_qrate_t;

/* A new rate with no samples, sized for cfg (rn_free it). Aborts on OOM. */
rn_qrate_t *rn_qrate_new(const rn_qrate_cfg_t *cfg);
/* Add value (negative to take back a recorded value, as a throttled Fetch does) at now. */
void rn_qrate_record(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, double value, int64_t now_ms);
/* The elapsed time the rate is measured over at now (ms). */
int64_t rn_qrate_window_ms(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, int64_t now_ms);
/* The rate per second at now. */
double rn_qrate_measure(rn_qrate_t *r, const rn_qrate_cfg_t *cfg, int64_t now_ms);
/* Milliseconds to wait for the rate to come back to bound; 0 when rate <= bound. */
int64_t rn_qrate_throttle_ms(double rate, double bound, int64_t window_ms);

#endif
