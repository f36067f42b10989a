/* The quota module: its state, the usage sensors (find, record, expire), persisting the
 * store, and the throttle metrics (see rn_quotas.h). */
#include "quota/rn_quotas.h"
#include "rn_handlers.h"

#include "quota/rn_qrate.h"
#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_hash.h"
#include "rn_log.h"
#include "rn_map.h"
#include "ops/rn_metrics.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

/* One sensor: a rate for (type, user tag, client tag); tags are "" where the matched
 * entity has no such part, and hold any bytes (a client id may hold NUL). */
typedef struct sensor {
    rn_qtype_t type;
    rn_str_t user, client; /* owned */
    uint64_t hash;
    int64_t last_ms; /* last record, for expiry */
    rn_qrate_t *rate;
} sensor_t;

struct rn_quotas {
    rn_broker_t *b;
    rn_qstore_t *store;
    rn_qrate_cfg_t cfg;
    rn_map_t sensors; /* sensor_t by (type, user, client) */
    struct event *sweep;
    char *path;
    uint64_t throttled[RN_QT__COUNT];   /* throttles per type, for /metrics */
    uint64_t throttle_ms[RN_QT__COUNT]; /* their total time */
};

static const rn_qkey_t type_key[RN_QT__COUNT] = {
    RN_QK_PRODUCER_BYTE_RATE,
    RN_QK_CONSUMER_BYTE_RATE,
    RN_QK_REQUEST_PERCENTAGE,
};
static const char *const type_names[RN_QT__COUNT] = {"produce", "fetch", "request"};

typedef struct skey {
    rn_qtype_t type;
    rn_str_t user, client; /* never null */
} skey_t;

/* Each tag hashed with its length first, so ("ab", "c") and ("a", "bc") differ. */
static uint64_t hash_tag(uint64_t h, rn_str_t s)
{
    h = rn_hash_fnv1a(h, &s.len, sizeof(s.len));
    return rn_hash_fnv1a(h, s.ptr, (size_t)s.len);
}

static uint64_t skey_hash(const skey_t *k)
{
    uint64_t h = rn_hash_fnv1a(RN_HASH_SEED, &k->type, sizeof(k->type));
    return rn_hash_mix(hash_tag(hash_tag(h, k->user), k->client));
}

static bool skey_eq(const void *item, const void *key)
{
    const sensor_t *s = item;
    const skey_t *k = key;
    return s->type == k->type && rn_str_eq(s->user, k->user) && rn_str_eq(s->client, k->client);
}

/* A tag as a key: null (no client id) is "". */
static rn_str_t tag(rn_str_t s)
{
    return s.len > 0 ? s : (rn_str_t){"", 0};
}

static void sensor_free(sensor_t *s)
{
    rn_str_free(s->user);
    rn_str_free(s->client);
    rn_free(s->rate);
    rn_free(s);
}

static void sensor_drop(rn_quotas_t *q, sensor_t *s)
{
    rn_map_remove_item(&q->sensors, s->hash, s);
    sensor_free(s);
}

/* Drop sensors idle for idle_ms; at the cap, also the least recently used one. */
static void sweep(rn_quotas_t *q, int64_t now_ms, int64_t idle_ms)
{
    size_t pos = 0, n = 0;
    sensor_t *s, *lru = NULL;
    sensor_t **gone = rn_xmalloc((rn_map_count(&q->sensors) + 1) * sizeof(*gone));
    while ((s = rn_map_next(&q->sensors, &pos)) != NULL) {
        if (now_ms - s->last_ms >= idle_ms)
            gone[n++] = s; /* removed after the walk: removal moves slots */
        else if (lru == NULL || s->last_ms < lru->last_ms)
            lru = s;
    }
    for (size_t i = 0; i < n; i++)
        sensor_drop(q, gone[i]);
    rn_free(gone);
    if (lru != NULL && rn_map_count(&q->sensors) >= RN_QUOTA_MAX_SENSORS)
        sensor_drop(q, lru);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    rn_quotas_t *q = arg;
    sweep(q, rn_clock_mono_ms(), RN_QUOTA_SENSOR_IDLE_MS);
}

/* The sensor measuring (user, client)'s usage of type and its bound, or NULL when no quota
 * applies. */
static sensor_t *sensor_for(rn_quotas_t *q, rn_qtype_t type, rn_str_t user, rn_str_t client,
                            double *bound, int64_t now_ms)
{
    const rn_qentry_t *ent;
    if (!rn_qstore_lookup(q->store, type_key[type], user, client, bound, &ent))
        return NULL;
    rn_str_t none = {"", 0};
    skey_t k = {type, ent->entity.user_kind != RN_QP_ABSENT ? tag(user) : none,
                ent->entity.client_kind != RN_QP_ABSENT ? tag(client) : none};
    uint64_t h = skey_hash(&k);
    sensor_t *s = rn_map_get(&q->sensors, h, skey_eq, &k);
    if (s != NULL)
        return s;
    if (rn_map_count(&q->sensors) >= RN_QUOTA_MAX_SENSORS)
        sweep(q, now_ms, (int64_t)q->cfg.windows * q->cfg.window_ms);
    s = rn_xcalloc(1, sizeof(*s));
    s->type = type;
    s->user = rn_str_xdup(k.user);
    s->client = rn_str_xdup(k.client);
    s->hash = h;
    s->last_ms = now_ms;
    s->rate = rn_qrate_new(&q->cfg);
    rn_map_xput(&q->sensors, h, s);
    return s;
}

int64_t rn_quotas_record(rn_quotas_t *q, rn_qtype_t type, rn_str_t user, rn_str_t client,
                         double value, int64_t now_ms)
{
    double bound;
    sensor_t *s = sensor_for(q, type, user, client, &bound, now_ms);
    if (s == NULL)
        return 0;
    s->last_ms = now_ms;
    rn_qrate_record(s->rate, &q->cfg, value, now_ms);
    double rate = rn_qrate_measure(s->rate, &q->cfg, now_ms);
    int64_t ms = rn_qrate_throttle_ms(rate, bound, rn_qrate_window_ms(s->rate, &q->cfg, now_ms));
    /* Request time is capped at one window, as Kafka's request quota: one slow request
     * should not silence a client for long. */
    if (type == RN_QT_REQUEST && ms > q->cfg.window_ms)
        ms = q->cfg.window_ms;
    return ms;
}

void rn_quotas_unrecord(rn_quotas_t *q, rn_qtype_t type, rn_str_t user, rn_str_t client,
                        double value, int64_t now_ms)
{
    double bound;
    sensor_t *s = sensor_for(q, type, user, client, &bound, now_ms);
    if (s != NULL)
        rn_qrate_record(s->rate, &q->cfg, -value, now_ms);
}

int64_t rn_quotas_fetch_max_bytes(const rn_req_t *req)
{
    rn_quotas_t *q = rn_req_broker(req)->quotas;
    double bound;
    if (q == NULL || !rn_qstore_lookup(q->store, RN_QK_CONSUMER_BYTE_RATE, rn_quotas_user(req),
                                       rn_quotas_client_id(req), &bound, NULL))
        return INT64_MAX;
    int windows = q->cfg.windows > 1 ? q->cfg.windows - 1 : 1;
    double max = bound * windows * ((double)q->cfg.window_ms / 1000.0);
    return max < (double)INT64_MAX ? (int64_t)max : INT64_MAX;
}

void rn_quotas_count_throttle(rn_quotas_t *q, rn_qtype_t type, int64_t ms)
{
    q->throttled[type]++;
    q->throttle_ms[type] += (uint64_t)ms;
}

rn_qstore_t *rn_quotas_store(rn_quotas_t *q)
{
    return q->store;
}

/* ---- persisting the store ------------------------------------------------------------ */

typedef struct persist_job {
    char *path;
    char *text;
    size_t len;
    void (*done)(void *arg, int rc);
    void *arg;
} persist_job_t;

static int persist_work(void *arg)
{
    persist_job_t *job = arg;
    char err[256];
    int rc = rn_fsutil_write_atomic(job->path, job->text, job->len, err, sizeof(err));
    if (rc != 0)
        RN_ERROR("quota", "cannot write %s: %s", job->path, err);
    return rc;
}

static void persist_done(void *arg, int rc)
{
    persist_job_t *job = arg;
    if (job->done != NULL)
        job->done(job->arg, rc);
    rn_free(job->path);
    rn_free(job->text);
    rn_free(job);
}

void rn_quotas_persist(rn_quotas_t *q, void (*done)(void *arg, int rc), void *arg)
{
    persist_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->path = rn_xstrdup(q->path);
    job->text = rn_qstore_format(q->store, &job->len); /* the snapshot, taken on the loop */
    job->done = done;
    job->arg = arg;
    rn_offload_submit(q->b->offload, persist_work, persist_done, job);
}

static int load(rn_quotas_t *q, char *err, size_t errlen)
{
    uint8_t *data;
    size_t len;
    char why[256];
    int rc = rn_fsutil_read_file(q->path, 64u << 20, &data, &len, why, sizeof(why));
    if (rc == RN_ENOTFOUND)
        return 0;
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", q->path, why);
        return rc;
    }
    rc = rn_qstore_parse(q->store, (const char *)data, len, why, sizeof(why));
    rn_free(data);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", q->path, why);
    return rc;
}

/* ---- metrics and the module ----------------------------------------------------------- */

static void collect(rn_metrics_writer_t *w, void *arg)
{
    rn_quotas_t *q = arg;
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_quota_throttle_seconds_total",
                           "Time clients were throttled for exceeding a client quota, by the "
                           "quota that set the throttle time.");
    for (int t = 0; t < RN_QT__COUNT; t++)
        rn_metrics_emit(w, (rn_metrics_label_t[]){{"quota", type_names[t]}}, 1,
                        (double)q->throttle_ms[t] / 1000.0);
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_quota_throttled_responses_total",
                           "Responses that carried a throttle time, by quota.");
    for (int t = 0; t < RN_QT__COUNT; t++)
        rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"quota", type_names[t]}}, 1,
                            q->throttled[t]);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_quota_sensors",
                           "Clients whose usage is being measured against a quota.");
    rn_metrics_emit_u64(w, NULL, 0, rn_map_count(&q->sensors));
}

int rn_quotas_init(rn_broker_t *b, char *err, size_t errlen)
{
    rn_quotas_t *q = rn_xcalloc(1, sizeof(*q));
    q->b = b;
    q->store = rn_qstore_new();
    q->cfg.windows = (int)rn_config_int(b->cfg, RN_CFG_QUOTA_WINDOW_NUM);
    q->cfg.window_ms = rn_config_int(b->cfg, RN_CFG_QUOTA_WINDOW_SIZE_SECONDS) * 1000;
    q->path = rn_fsutil_join(b->cfg->data_dir, RN_QUOTA_FILE);
    int rc = load(q, err, errlen);
    if (rc != 0) {
        rn_qstore_free(q->store);
        rn_free(q->path);
        rn_free(q);
        return rc;
    }
    q->sweep = event_new(b->base, -1, EV_PERSIST, on_sweep, q);
    struct timeval every = {60, 0};
    event_add(q->sweep, &every);
    rn_metrics_add_collector(b->metrics, collect, q);
    b->quotas = q;
    if (rn_qstore_count(q->store) > 0)
        RN_INFO("quota", "%zu client quota entities loaded from %s", rn_qstore_count(q->store),
                q->path);
    return 0;
}

void rn_quotas_shutdown(rn_broker_t *b)
{
    rn_quotas_t *q = b->quotas;
    if (q == NULL)
        return;
    rn_metrics_remove_collector(b->metrics, collect, q);
    event_free(q->sweep);
    size_t pos = 0;
    sensor_t *s;
    while ((s = rn_map_next(&q->sensors, &pos)) != NULL)
        sensor_free(s);
    rn_map_free(&q->sensors);
    rn_qstore_free(q->store);
    rn_free(q->path);
    rn_free(q);
    b->quotas = NULL;
}
