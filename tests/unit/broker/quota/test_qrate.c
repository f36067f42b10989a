/* Unit tests for broker/quota: the windowed rate and throttle arithmetic (rn_qrate, Kafka's
 * Rate and QuotaUtils.throttleTime) and the store's precedence and text form (rn_qstore). */
#include "quota/rn_qrate.h"
#include "quota/rn_qstore.h"
#include "rn_alloc.h"
#include "rn_str.h"
#include "tap.h"

#include <string.h>

static void test_rate(void)
{
    rn_qrate_cfg_t cfg = {11, 1000};
    rn_qrate_t *r = rn_qrate_new(&cfg);
    /* A first burst is measured over windows - 1 full windows, not its few milliseconds. */
    rn_qrate_record(r, &cfg, 10000, 0);
    is(rn_qrate_window_ms(r, &cfg, 100), 10100, "young rate: elapsed counted as 10 windows");
    is((long long)rn_qrate_measure(r, &cfg, 100), 990, "10000 bytes over 10.1 s");
    /* Kafka's formula: (rate - bound) / bound * window. */
    is(rn_qrate_throttle_ms(2000, 1000, 10000), 10000, "twice the bound: one window more");
    is(rn_qrate_throttle_ms(1500, 1000, 11000), 5500, "half over: half the window");
    is(rn_qrate_throttle_ms(900, 1000, 11000), 0, "under the bound: no throttle");
    /* Samples roll: after 11 windows of silence the old value no longer counts. */
    rn_qrate_record(r, &cfg, 500, 11000);
    is((long long)rn_qrate_measure(r, &cfg, 11000), 50, "obsolete samples are purged");
    /* Steady 1000/s over 20 s measures 1000/s. */
    rn_qrate_t *s = rn_qrate_new(&cfg);
    for (int64_t ms = 0; ms < 20000; ms += 100)
        rn_qrate_record(s, &cfg, 100, ms);
    double rate = rn_qrate_measure(s, &cfg, 20000);
    ok(rate > 900 && rate < 1100, "steady rate measured as %.0f/s", rate);
    /* Taking a value back restores the rate (a throttled Fetch). */
    rn_qrate_record(s, &cfg, 50000, 20000);
    rn_qrate_record(s, &cfg, -50000, 20000);
    double again = rn_qrate_measure(s, &cfg, 20000);
    ok(again > rate - 1 && again < rate + 1, "unrecord restores the rate");
    rn_free(r);
    rn_free(s);
}

static void test_store(void)
{
    rn_qstore_t *st = rn_qstore_new();
    double b = 0;
    ok(!rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, rn_str("u"), rn_str("c"), &b, NULL),
       "empty store");
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_DEFAULT, RN_STR_NULL, RN_STR_NULL},
                  RN_QK_PRODUCER_BYTE_RATE, 100);
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, RN_STR_NULL, rn_str("c")},
                  RN_QK_PRODUCER_BYTE_RATE, 200);
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_DEFAULT, RN_QP_ABSENT, RN_STR_NULL, RN_STR_NULL},
                  RN_QK_PRODUCER_BYTE_RATE, 300);
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, rn_str("u"), rn_str("c"), &b, NULL) &&
           b == 300,
       "user=<default> wins over client-id=c");
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_NAME, RN_QP_NAME, rn_str("u"), rn_str("c")},
                  RN_QK_PRODUCER_BYTE_RATE, 400);
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, rn_str("u"), rn_str("c"), &b, NULL) &&
           b == 400,
       "user=u,client-id=c is the most specific");
    ok(!rn_qstore_lookup(st, RN_QK_CONSUMER_BYTE_RATE, rn_str("u"), rn_str("c"), &b, NULL),
       "keys are looked up separately");
    rn_qstore_set(st,
                  &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, RN_STR_NULL, rn_str("a b-<default>%")},
                  RN_QK_REQUEST_PERCENTAGE, 12.5);
    size_t len;
    char *text = rn_qstore_format(st, &len);
    rn_qstore_t *back = rn_qstore_new();
    char err[128];
    is(rn_qstore_parse(back, text, len, err, sizeof(err)), 0, "text form parses");
    size_t len2;
    char *text2 = rn_qstore_format(back, &len2);
    ok(len == len2 && memcmp(text, text2, len) == 0, "and round-trips");
    rn_qstore_remove(st, &(rn_qentity_t){RN_QP_NAME, RN_QP_NAME, rn_str("u"), rn_str("c")},
                     RN_QK_PRODUCER_BYTE_RATE);
    is(rn_qstore_count(st), 4, "removing an entity's last value drops it");
    rn_free(text);
    rn_free(text2);
    rn_qstore_free(back);
    rn_qstore_free(st);
}

/* Names are length-counted: a client id "a\0b" has its own quota, apart from "a". */
static void test_nul_names(void)
{
    rn_qstore_t *st = rn_qstore_new();
    rn_str_t a = rn_str("a"), anul = {"a\0b", 3}, unul = {"u\0v", 3}, u = rn_str("u");
    double b = 0;
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, RN_STR_NULL, a},
                  RN_QK_PRODUCER_BYTE_RATE, 100);
    ok(!rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, u, anul, &b, NULL),
       "client id a\\0b does not match the quota of a");
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, u, a, &b, NULL) && b == 100, "a does");
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, RN_STR_NULL, anul},
                  RN_QK_PRODUCER_BYTE_RATE, 200);
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_NAME, RN_QP_NAME, unul, anul}, RN_QK_CONSUMER_BYTE_RATE,
                  300);
    is(rn_qstore_count(st), 3, "a\\0b is an entity of its own");
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, u, anul, &b, NULL) && b == 200,
       "a\\0b finds its own quota");
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, u, a, &b, NULL) && b == 100,
       "a still finds a's");
    ok(!rn_qstore_lookup(st, RN_QK_CONSUMER_BYTE_RATE, rn_str("u"), anul, &b, NULL),
       "user u is not u\\0v");
    ok(rn_qstore_lookup(st, RN_QK_CONSUMER_BYTE_RATE, unul, anul, &b, NULL) && b == 300,
       "user u\\0v is");
    size_t len;
    char *text = rn_qstore_format(st, &len);
    ok(strstr(text, "a%00b") != NULL && strstr(text, "u%00v") != NULL, "NUL written as %%00");
    rn_qstore_t *back = rn_qstore_new();
    char err[128];
    is(rn_qstore_parse(back, text, len, err, sizeof(err)), 0, "and read back");
    const rn_qentry_t *e =
        rn_qstore_find(back, &(rn_qentity_t){RN_QP_NAME, RN_QP_NAME, unul, anul});
    ok(e != NULL && e->has[RN_QK_CONSUMER_BYTE_RATE] && e->value[RN_QK_CONSUMER_BYTE_RATE] == 300,
       "whole names survive the text form");
    ok(rn_qstore_find(back, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, RN_STR_NULL, a}) != NULL &&
           rn_qstore_count(back) == 3,
       "beside the prefix's entity");
    rn_free(text);
    rn_qstore_free(back);
    rn_qstore_free(st);
}

int main(void)
{
    test_rate();
    test_store();
    test_nul_names();
    return done_testing();
}
