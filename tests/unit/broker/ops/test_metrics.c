/* Tests for rn_metrics: histogram bucketing, the registry (series lookup and growth, removal,
 * filters, registration errors), the exact text exposition (HELP/TYPE, labels, escaping,
 * invalid UTF-8, number formats, cumulative histogram buckets), collectors and what the
 * writer drops, and runneld's families with a broker that has no server or topics yet. */
#include "rn_broker.h"
#include "rn_err.h"
#include "ops/rn_metrics.h"
#include "tap.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Render m into a NUL-terminated string (caller frees). */
static char *render(rn_metrics_t *m)
{
    struct evbuffer *buf = evbuffer_new();
    int rc = rn_metrics_render(m, buf);
    if (rc != 0)
        diag("render returned %d", rc);
    size_t len = evbuffer_get_length(buf);
    char *text = malloc(len + 1);
    evbuffer_remove(buf, text, len);
    text[len] = '\0';
    evbuffer_free(buf);
    return text;
}

static void test_hist(void)
{
    static const double bounds[] = {1, 2, 5};
    rn_metrics_hist_t h;
    rn_metrics_hist_init(&h, bounds, 3);
    rn_metrics_hist_observe(&h, 0.5);
    rn_metrics_hist_observe(&h, 1); /* le is inclusive */
    rn_metrics_hist_observe(&h, 1.5);
    rn_metrics_hist_observe(&h, 7);
    rn_metrics_hist_observe(&h, NAN);
    is(h.counts[0], 2, "hist: 0.5 and 1 in le=1");
    is(h.counts[1], 1, "hist: 1.5 in le=2");
    is(h.counts[2], 0, "hist: nothing in le=5");
    is(h.counts[3], 2, "hist: 7 and NaN above the last bound");
    is(h.count, 5, "hist: count");
    ok(h.sum == 10.0, "hist: sum leaves NaN out (%g)", h.sum);

    rn_metrics_hist_t lat;
    rn_metrics_hist_init(&lat, NULL, 0);
    is(lat.n_bounds, RN_METRICS_LATENCY_BOUNDS, "hist: NULL bounds = latency buckets");
    rn_metrics_hist_observe(&lat, 0.0003);
    is(lat.counts[2], 1, "hist: 300 us lands in le=0.0005");
}

static void test_exposition(void)
{
    static const double bounds[] = {0.005, 0.5, 1};
    rn_metrics_t *m = rn_metrics_new();
    rn_metrics_family_t *req = rn_metrics_family(m, RN_METRICS_COUNTER, "t_requests_total",
                                                 "Requests by API.", "api", NULL, 0);
    rn_metrics_family_t *up =
        rn_metrics_family(m, RN_METRICS_GAUGE, "t_up", "Line one\nback\\slash \"q\"", "", NULL, 0);
    rn_metrics_family_t *lat = rn_metrics_family(m, RN_METRICS_HISTOGRAM, "t_latency_seconds",
                                                 "Latency.", "api", bounds, 3);
    rn_metrics_family_t *esc =
        rn_metrics_family(m, RN_METRICS_GAUGE, "t_escape", NULL, "topic,partition", NULL, 0);
    ok(req && up && lat && esc, "families registered");

    rn_metrics_series_t *produce = rn_metrics_series1(req, "Produce");
    rn_metrics_inc(produce, 3);
    rn_metrics_inc(rn_metrics_series1(req, "Metadata"), 1);
    ok(rn_metrics_series1(req, "Produce") == produce, "series: the same values find the same one");
    rn_metrics_inc(produce, 2);
    is(rn_metrics_count(produce), 5, "counter value");
    rn_metrics_set(rn_metrics_series(up, NULL), 0.1);
    rn_metrics_add(rn_metrics_series(up, NULL), 1);
    double gauge = rn_metrics_value(rn_metrics_series(up, NULL));
    ok(gauge > 1.1 - 1e-12 && gauge < 1.1 + 1e-12, "gauge set + add (%g)", gauge);
    rn_metrics_series_t *fetch = rn_metrics_series1(lat, "Fetch");
    rn_metrics_observe(fetch, 0.00390625); /* sums exactly in binary */
    rn_metrics_observe(fetch, 0.25);
    rn_metrics_observe(fetch, 3);
    is(rn_metrics_count(fetch), 3, "histogram count");
    const char *v1[] = {"a\"b\\c\nd", "0"};
    const char *v2[] = {"caf\xc3\xa9 \xff\xfe end \xe2\x82", "1"};
    rn_metrics_set(rn_metrics_series(esc, v1), -3);
    rn_metrics_set(rn_metrics_series(esc, v2), 1e20);

    char *text = render(m);
    const char *want =
        "# HELP t_requests_total Requests by API.\n"
        "# TYPE t_requests_total counter\n"
        "t_requests_total{api=\"Produce\"} 5\n"
        "t_requests_total{api=\"Metadata\"} 1\n"
        "# HELP t_up Line one\\nback\\\\slash \"q\"\n"
        "# TYPE t_up gauge\n"
        "t_up 1.1\n"
        "# HELP t_latency_seconds Latency.\n"
        "# TYPE t_latency_seconds histogram\n"
        "t_latency_seconds_bucket{api=\"Fetch\",le=\"0.005\"} 1\n"
        "t_latency_seconds_bucket{api=\"Fetch\",le=\"0.5\"} 2\n"
        "t_latency_seconds_bucket{api=\"Fetch\",le=\"1\"} 2\n"
        "t_latency_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 3\n"
        "t_latency_seconds_sum{api=\"Fetch\"} 3.25390625\n"
        "t_latency_seconds_count{api=\"Fetch\"} 3\n"
        "# TYPE t_escape gauge\n"
        "t_escape{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} -3\n"
        "t_escape{topic=\"caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd\","
        "partition=\"1\"} 1e+20\n";
    is_str(text, want, "exact exposition: labels, escaping, U+FFFD, histogram, numbers");
    is(rn_metrics_dropped(m), 0, "nothing dropped");
    free(text);
    rn_metrics_free(m);
}

/* Gauge values written by the collector in test_numbers. */
static const double numbers[] = {0,   -0.5,    2.5,      1e15,      123456789012.0,
                                 0.1, 1.0 / 3, INFINITY, -INFINITY, NAN};

static void collect_numbers(rn_metrics_writer_t *w, void *arg)
{
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "n_double", "Doubles.");
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        rn_metrics_emit(w, NULL, 0, numbers[i]);
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "n_int", "Integers.");
    rn_metrics_emit_i64(w, NULL, 0, -1);
    rn_metrics_emit_i64(w, NULL, 0, INT64_MIN);
    rn_metrics_emit_u64(w, NULL, 0, UINT64_MAX);
}

static void test_numbers(void)
{
    rn_metrics_t *m = rn_metrics_new();
    rn_metrics_add_collector(m, collect_numbers, NULL);
    char *text = render(m);
    is_str(text,
           "# HELP n_double Doubles.\n# TYPE n_double gauge\n"
           "n_double 0\nn_double -0.5\nn_double 2.5\nn_double 1e+15\nn_double 123456789012\n"
           "n_double 0.1\nn_double 0.3333333333333333\nn_double +Inf\nn_double -Inf\n"
           "n_double NaN\n"
           "# HELP n_int Integers.\n# TYPE n_int gauge\n"
           "n_int -1\nn_int -9223372036854775808\nn_int 18446744073709551615\n",
           "number formats: shortest round trip, specials, exact integers");
    free(text);
    rn_metrics_free(m);
}

static int collect_calls;

/* Everything here but the first family, its good sample and the histogram's good series
 * must be dropped. */
static void collect_bad(rn_metrics_writer_t *w, void *arg)
{
    collect_calls++;
    rn_metrics_emit_u64(w, NULL, 0, 1); /* before any family */
    is(rn_metrics_emit_family(w, RN_METRICS_COUNTER, "c_ok_total", "Fine."), 0, "good family");
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"x", "1"}}, 1, 7);
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"9x", "1"}}, 1, 1);            /* bad name */
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"__x", "1"}}, 1, 1);           /* reserved */
    rn_metrics_emit_u64(w, (rn_metrics_label_t[]){{"x", "1"}, {"x", "2"}}, 2, 1); /* twice */
    rn_metrics_hist_t h;
    rn_metrics_hist_init(&h, (const double[]){1}, 1);
    rn_metrics_emit_hist(w, NULL, 0, &h); /* histogram into a counter */
    is(rn_metrics_emit_family(w, RN_METRICS_GAUGE, "c_ok_total", "Again."), RN_EINVAL,
       "a family written twice is refused");
    rn_metrics_emit(w, NULL, 0, 1);
    is(rn_metrics_emit_family(w, RN_METRICS_GAUGE, "bad-name", "x"), RN_EINVAL,
       "an invalid metric name is refused");
    rn_metrics_emit(w, NULL, 0, 1);
    is(rn_metrics_emit_family(w, RN_METRICS_HISTOGRAM, "h", "H."), 0, "histogram family");
    rn_metrics_emit_hist(w, (rn_metrics_label_t[]){{"le", "1"}}, 1, &h); /* reserved */
    rn_metrics_emit(w, NULL, 0, 1); /* scalar into a histogram */
    rn_metrics_hist_observe(&h, 0.5);
    rn_metrics_emit_hist(w, NULL, 0, &h);
    is(rn_metrics_emit_family(w, RN_METRICS_GAUGE, "h_count", "Clash."), RN_EINVAL,
       "a histogram's derived name cannot be reused");
}

static void collect_tail(rn_metrics_writer_t *w, void *arg)
{
    rn_metrics_emit(w, NULL, 0, 5); /* the previous collector's family is closed */
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "tail", NULL);
    rn_metrics_emit(w, NULL, 0, 2);
}

static void test_drops(void)
{
    rn_metrics_t *m = rn_metrics_new();
    rn_metrics_add_collector(m, collect_bad, NULL);
    rn_metrics_add_collector(m, collect_tail, NULL);
    char *text = render(m);
    is_str(text,
           "# HELP c_ok_total Fine.\n# TYPE c_ok_total counter\nc_ok_total{x=\"1\"} 7\n"
           "# HELP h H.\n# TYPE h histogram\n"
           "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n"
           "# TYPE tail gauge\ntail 2\n",
           "invalid samples and families are left out");
    is(rn_metrics_dropped(m), 13, "dropped: 13 samples and families");
    free(text);

    rn_metrics_remove_collector(m, collect_bad, NULL);
    rn_metrics_remove_collector(m, collect_bad, NULL); /* a second time: no-op */
    collect_calls = 0;
    text = render(m);
    is(collect_calls, 0, "a removed collector is not called");
    is_str(text, "# TYPE tail gauge\ntail 2\n", "the other collector still is");
    is(rn_metrics_dropped(m), 1, "dropped counts the last rendering only");
    free(text);
    rn_metrics_free(m);
}

static bool live_even(const char *const *values, void *arg)
{
    int *calls = arg;
    (*calls)++;
    return atoi(values[0]) % 2 == 0;
}

static void test_registry(void)
{
    rn_metrics_t *m = rn_metrics_new();
    ok(rn_metrics_family(m, RN_METRICS_COUNTER, "1bad", "x", NULL, NULL, 0) == NULL,
       "family: bad name refused");
    ok(rn_metrics_family(m, RN_METRICS_COUNTER, "ok_total", "x", "a,b-c", NULL, 0) == NULL,
       "family: bad label name refused");
    ok(rn_metrics_family(m, RN_METRICS_COUNTER, "ok_total", "x", "a,b,a", NULL, 0) == NULL,
       "family: a label listed twice refused");
    ok(rn_metrics_family(m, RN_METRICS_COUNTER, "ok_total", "x", "a,b,c,d,e", NULL, 0) == NULL,
       "family: more than RN_METRICS_MAX_LABELS refused");
    ok(rn_metrics_family(m, RN_METRICS_HISTOGRAM, "ok_seconds", "x", "le", NULL, 0) == NULL,
       "family: le is reserved in a histogram");
    ok(rn_metrics_family(m, RN_METRICS_HISTOGRAM, "ok_seconds", "x", NULL, (const double[]){1, 1},
                         2) == NULL,
       "family: bounds must increase");
    ok(rn_metrics_family(m, RN_METRICS_HISTOGRAM, "ok_seconds", "x", NULL,
                         (const double[]){1, INFINITY}, 2) == NULL,
       "family: bounds must be finite");
    rn_metrics_family_t *fam =
        rn_metrics_family(m, RN_METRICS_COUNTER, "ok_total", "x", "n", NULL, 0);
    ok(fam != NULL, "family: good one registered");
    ok(rn_metrics_family(m, RN_METRICS_GAUGE, "ok_total", "x", NULL, NULL, 0) == NULL,
       "family: a name registered twice refused");

    /* Enough series to grow the index several times; every one found again. */
    enum { N = 1000 };
    rn_metrics_series_t *made[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "%d", i);
        made[i] = rn_metrics_series1(fam, name);
        rn_metrics_inc(made[i], (uint64_t)i);
    }
    int found = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "%d", i);
        rn_metrics_series_t *s = rn_metrics_series1(fam, name);
        found += s == made[i] && rn_metrics_count(s) == (uint64_t)i;
    }
    is(found, N, "series: %d created and found again", N);
    is(rn_metrics_family_size(fam), N, "series: count");

    rn_metrics_series_remove(fam, (const char *[]){"500"});
    rn_metrics_series_remove(fam, (const char *[]){"no such"});
    is(rn_metrics_family_size(fam), N - 1, "series: one removed");
    rn_metrics_series_t *again = rn_metrics_series1(fam, "500");
    is(rn_metrics_count(again), 0, "series: a removed one comes back at zero");
    is(rn_metrics_count(rn_metrics_series1(fam, "501")), 501, "series: the others are kept");

    int calls = 0;
    rn_metrics_family_filter(fam, live_even, &calls);
    char *text = render(m);
    is(calls, N, "filter: asked about every series");
    is(rn_metrics_family_size(fam), N / 2, "filter: odd ones removed");
    ok(strstr(text, "ok_total{n=\"2\"} 2\n") != NULL && strstr(text, "{n=\"3\"}") == NULL,
       "filter: removed before rendering");
    /* Creation order is kept: 498 before 502 before 500 (re-created last). */
    const char *p498 = strstr(text, "{n=\"498\"}"), *p502 = strstr(text, "{n=\"502\"}"),
               *p500 = strstr(text, "{n=\"500\"}");
    ok(p498 && p502 && p500 && p498 < p502 && p502 < p500, "series rendered in creation order");
    is(rn_metrics_count(rn_metrics_series1(fam, "998")), 998, "filter: index rebuilt");
    free(text);
    rn_metrics_free(m);
}

static void test_broker_families(void)
{
    static rn_broker_t b; /* no server, topics or data path: those parts are left out */
    b.node_id = 7;
    snprintf(b.cluster_id, sizeof(b.cluster_id), "AAAAAAAAAAAAAAAAAAAAAA");
    rn_metrics_t *m = rn_metrics_new();
    rn_metrics_broker_register(m, &b);
    rn_topic_t topic;
    memset(&topic, 0, sizeof(topic));
    snprintf(topic.name, sizeof(topic.name), "orders");
    rn_metrics_topic_in(m, &topic, 100, 3);
    rn_metrics_topic_in(m, &topic, 50, 2);
    rn_metrics_topic_out(m, &topic, 70);
    rn_metrics_topic_in(NULL, &topic, 1, 1); /* no registry: a no-op */

    char *text = render(m);
    ok(strstr(text, "runnel_broker_info{version=\"" RN_VERSION
                    "\",node_id=\"7\",cluster_id=\"AAAAAAAAAAAAAAAAAAAAAA\"} 1\n") != NULL,
       "broker info");
    ok(strstr(text, "runnel_topic_bytes_in_total{topic=\"orders\"} 150\n") != NULL,
       "topic bytes in");
    ok(strstr(text, "runnel_topic_messages_in_total{topic=\"orders\"} 5\n") != NULL,
       "topic messages in");
    ok(strstr(text, "runnel_topic_bytes_out_total{topic=\"orders\"} 70\n") != NULL,
       "topic bytes out");
    ok(strstr(text, "runnel_requests_total") == NULL, "no server: no request families");
    const char *rss = strstr(text, "\nprocess_resident_memory_bytes ");
    ok(rss != NULL && strtoull(rss + 31, NULL, 10) > 0, "RSS > 0");
    const char *fds = strstr(text, "\nprocess_open_fds ");
    ok(fds != NULL && strtoull(fds + 18, NULL, 10) >= 3, "open fds >= 3");
    const char *start = strstr(text, "\nprocess_start_time_seconds ");
    ok(start != NULL && strtod(start + 28, NULL) > 1.5e9, "process start time");
    ok(strstr(text, "\nprocess_cpu_seconds_total ") != NULL, "CPU seconds");
    is(rn_metrics_dropped(m), 0, "nothing dropped");
    free(text);
    rn_metrics_free(m);
}

int main(void)
{
    test_hist();
    test_exposition();
    test_numbers();
    test_drops();
    test_registry();
    test_broker_families();
    return done_testing();
}
