/* Unit tests for broker/quota: the windowed rate and throttle arithmetic (rn_qrate, Kafka's
 * Rate and QuotaUtils.throttleTime) and the store's precedence and text form (rn_qstore). */
#include "quota/rn_qrate.h"
#include "quota/rn_qstore.h"
#include "rn_alloc.h"
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
    ok(!rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, "u", "c", &b, NULL), "empty store");
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_DEFAULT, NULL, NULL},
                  RN_QK_PRODUCER_BYTE_RATE, 100);
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, NULL, "c"},
                  RN_QK_PRODUCER_BYTE_RATE, 200);
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_DEFAULT, RN_QP_ABSENT, NULL, NULL},
                  RN_QK_PRODUCER_BYTE_RATE, 300);
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, "u", "c", &b, NULL) && b == 300,
       "user=<default> wins over client-id=c");
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_NAME, RN_QP_NAME, "u", "c"}, RN_QK_PRODUCER_BYTE_RATE,
                  400);
    ok(rn_qstore_lookup(st, RN_QK_PRODUCER_BYTE_RATE, "u", "c", &b, NULL) && b == 400,
       "user=u,client-id=c is the most specific");
    ok(!rn_qstore_lookup(st, RN_QK_CONSUMER_BYTE_RATE, "u", "c", &b, NULL),
       "keys are looked up separately");
    rn_qstore_set(st, &(rn_qentity_t){RN_QP_ABSENT, RN_QP_NAME, NULL, "a b-<default>%"},
                  RN_QK_REQUEST_PERCENTAGE, 12.5);
    size_t len;
    char *text = rn_qstore_format(st, &len);
    rn_qstore_t *back = rn_qstore_new();
    char err[128];
    is(rn_qstore_parse(back, text, len, err, sizeof(err)), 0, "text form parses");
    size_t len2;
    char *text2 = rn_qstore_format(back, &len2);
    ok(len == len2 && memcmp(text, text2, len) == 0, "and round-trips");
    rn_qstore_remove(st, &(rn_qentity_t){RN_QP_NAME, RN_QP_NAME, "u", "c"},
                     RN_QK_PRODUCER_BYTE_RATE);
    is(rn_qstore_count(st), 4, "removing an entity's last value drops it");
    rn_free(text);
    rn_free(text2);
    rn_qstore_free(back);
    rn_qstore_free(st);
}

int main(void)
{
    test_rate();
    test_store();
    return done_testing();
}
