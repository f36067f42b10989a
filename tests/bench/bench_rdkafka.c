/* bench_rdkafka.c: producer/consumer throughput and delivery latency through librdkafka.
 *
 * For each workload (message size x acks) it creates a fresh topic, produces N messages with
 * batching (linger.ms=5, large batch.size), records per-message delivery latency (delivery
 * report time minus enqueue time), then consumes everything back by assign() from the
 * beginning. Targets: a real broker (--bootstrap HOST:PORT: runneld or Apache Kafka), or
 * librdkafka's in-memory mock cluster (--mock), or both in one run with their ratio (--both),
 * the mock being a fixed yardstick on the same machine.
 *
 *   bench_rdkafka --mock
 *   bench_rdkafka --bootstrap 127.0.0.1:9092 [--broker-pid PID]
 *   bench_rdkafka --both --bootstrap 127.0.0.1:9092 --messages 200000 --sizes 100,1024
 *
 * Without --rate the producer floods, so latency includes time queued in the client; with
 * --rate R (messages/s) it measures latency at that offered load. --producers N splits the
 * messages over N producer instances on their own threads (partition k*N+i for producer i's
 * k-th message). --e2e runs a consumer alongside the producer instead of reading back
 * afterwards and reports end-to-end latency, enqueue to arrival (use it with --rate, and
 * linger.ms=0 through --producer-conf for the broker's own share). Figures go to stdout, one
 * line per workload; librdkafka's own logs go to stderr. Not a pass/fail test.
 * BENCH_DEBUG=fetch,protocol sets the consumer's librdkafka `debug` and cuts its wait to 5 s.
 * The mock keeps only the newest 5 MB per partition, so its consume figure covers less data.
 *
 * CPU: each phase's CPU time of this process (the client; for the mock target also the mock
 * broker's threads, which live in this process) and, with --broker-pid, of the broker, to
 * tell which side is the limit. --tsv FILE appends one tab-separated row per target and
 * workload (the header names the columns) for scripts/bench.sh.
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rn_alloc.h"

#define MAX_LIST 8

typedef struct {
    const char *bootstrap; /* real broker, or NULL */
    bool mock;
    bool both;
    long messages;
    int sizes[MAX_LIST];
    int nsizes;
    int acks[MAX_LIST];
    int nacks;
    int partitions;
    int replication_factor; /* of the topics made on a real broker */
    long rate;              /* messages/s offered; 0 = as fast as possible */
    int producers;          /* producer instances, each on its own thread */
    bool e2e;               /* measure end-to-end latency with a consumer running alongside */
    long broker_pid;
    const char *compression;
    const char *tsv;         /* file to append rows to, or NULL */
    const char *target_name; /* label of the real broker in output ("real") */
    /* Extra client properties, KEY=VALUE each, applied after the bench's own. */
    const char *prod_conf[MAX_LIST], *cons_conf[MAX_LIST];
    int nprod_conf, ncons_conf;
} opts_t;

/* One workload's figures. */
typedef struct {
    double prod_secs, prod_msgs_s, prod_mb_s;
    double lat_p50_ms, lat_p99_ms, lat_max_ms, lat_p999_ms;
    /* End-to-end (--e2e): from enqueueing a message to a consumer receiving it. */
    double e2e_p50_ms, e2e_p99_ms, e2e_p999_ms, e2e_max_ms;
    long e2e_seen;
    double cons_secs, cons_msgs_s, cons_mb_s;
    double cons_first_ms;
    long delivered, failed, consumed, available;
    /* CPU seconds of each phase: this process, and the broker (-1 when unknown). */
    double prod_cpu_self, prod_cpu_broker, cons_cpu_self, cons_cpu_broker;
} result_t;

/* Producer state shared with the delivery report callback (librdkafka calls it from
 * rd_kafka_poll/flush on this thread). */
typedef struct {
    int64_t *enq_ns; /* enqueue time per message index */
    double *lat_ms;  /* delivery latency per timed message (LAT_SAMPLE) */
    long nlat;       /* timed deliveries, in lat_ms */
    long delivered;  /* every successful delivery */
    long failed;
    rd_kafka_resp_err_t first_err;
} prod_state_t;

/* Unpaced producers time one message in LAT_SAMPLE for the produce latency percentiles:
 * reading the clock twice per message cost the client a fifth of its samples at 1.5 M
 * msgs/s. Paced (--rate) and --e2e runs time every message. */
#define LAT_SAMPLE 16

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU seconds (user + system) this process has used. */
static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU seconds (user + system) process `pid` has used, or -1 when it cannot be read. */
static double pid_cpu(long pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the command name, which is in parentheses and may hold spaces; utime and
     * stime are fields 14 and 15 of the line, 12th and 13th after the ')'. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_rdkafka: %s: %s\n", what, detail);
    exit(1);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die(k, err);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    prod_state_t *st = opaque;
    (void)rk;
    if (msg->err) {
        if (!st->failed)
            st->first_err = msg->err;
        st->failed++;
        return;
    }
    if (st->enq_ns == NULL) /* warm-up and topic-creation instances time nothing */
        return;
    long idx = (long)(intptr_t)msg->_private;
    st->delivered++;
    if (st->enq_ns[idx] != 0) /* a timed message (see LAT_SAMPLE) */
        st->lat_ms[st->nlat++] = (double)(now_ns() - st->enq_ns[idx]) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Create `topic` on a real broker through the Admin API and wait until it has leaders. */
static void create_topic(rd_kafka_t *rk, const char *topic, int partitions, int rf)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, rf, err, sizeof err);
    if (!nt)
        die("NewTopic", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    if (!ev)
        die("CreateTopics", "no answer within 20 s");
    if (rd_kafka_event_error(ev))
        die("CreateTopics", rd_kafka_event_error_string(ev));
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n != 1 || rd_kafka_topic_result_error(res[0]))
        die("CreateTopics", n ? rd_kafka_topic_result_error_string(res[0]) : "empty result");
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (int tries = 0; tries < 100; tries++) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            bool ready = md->topic_cnt == 1 && !md->topics[0].err &&
                         md->topics[0].partition_cnt == partitions;
            for (int i = 0; ready && i < md->topics[0].partition_cnt; i++)
                ready = md->topics[0].partitions[i].leader >= 0;
            rd_kafka_metadata_destroy(md);
            if (ready) {
                rd_kafka_topic_destroy(rkt);
                return;
            }
        }
        usleep(100000);
    }
    die("metadata", "topic has no leaders after 10 s");
}

/* Apply --producer-conf/--consumer-conf KEY=VALUE overrides. */
static void conf_extra(rd_kafka_conf_t *conf, const char *const *kv, int n)
{
    for (int i = 0; i < n; i++) {
        char *copy = rn_xstrdup(kv[i]);
        char *eq = strchr(copy, '=');
        if (!eq)
            die(kv[i], "client properties are given as KEY=VALUE");
        *eq = 0;
        conf_set(conf, copy, eq + 1);
        rn_free(copy);
    }
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        die("rd_kafka_new", err);
    return rk;
}

/* One producer instance's share of a workload (--producers N: N of them, one thread each). */
typedef struct {
    const opts_t *o;
    const char *bootstrap, *topic;
    int size, acks;
    int index;  /* 0..producers-1 */
    long count; /* messages this producer sends */
    int64_t t0; /* common start, for the rate schedule */
    prod_state_t st;
} producer_t;

static rd_kafka_t *new_producer(const opts_t *o, const char *bootstrap, int acks, prod_state_t *st)
{
    char buf[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    snprintf(buf, sizeof buf, "%d", acks);
    conf_set(conf, "acks", buf);
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "batch.size", "1000000");
    conf_set(conf, "batch.num.messages", "100000");
    conf_set(conf, "queue.buffering.max.messages", "1000000");
    conf_set(conf, "queue.buffering.max.kbytes", "1048576");
    conf_set(conf, "message.timeout.ms", "60000");
    conf_set(conf, "compression.type", o->compression);
    conf_extra(conf, o->prod_conf, o->nprod_conf);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    return new_client(RD_KAFKA_PRODUCER, conf);
}

/* Send p->count messages; message k goes to partition (k * producers + index) % partitions.
 * With --e2e the first 8 bytes of each payload carry its enqueue time for the consumer. */
static void *producer_run(void *arg)
{
    producer_t *p = arg;
    const opts_t *o = p->o;
    prod_state_t *st = &p->st;
    st->enq_ns = rn_xcalloc((size_t)p->count + 1, sizeof *st->enq_ns);
    st->lat_ms = rn_xcalloc((size_t)p->count + 1, sizeof *st->lat_ms);
    rd_kafka_t *rk = new_producer(o, p->bootstrap, p->acks, st);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, p->topic, NULL);
    char *payload = rn_xmalloc((size_t)p->size);
    for (int i = 0; i < p->size; i++)
        payload[i] = (char)('a' + (i * 7 + i / 26) % 26); /* compressible but not trivially */
    double rate = o->rate > 0 ? (double)o->rate / o->producers : 0;
    for (long i = 0; i < p->count; i++) {
        if (rate > 0) {
            /* Sleep, not spin, until the message is due: a spinning producer would take the
             * core from the --e2e consumer beside it and add its time slices to the latency. */
            int64_t due = p->t0 + (int64_t)((double)i * 1e9 / rate), now;
            rd_kafka_poll(rk, 0);
            while ((now = now_ns()) < due) {
                struct timespec ts = {0, (long)(due - now)};
                nanosleep(&ts, NULL);
            }
        }
        int part = (int)((i * o->producers + p->index) % o->partitions);
        bool timed = o->e2e || rate > 0 || i % LAT_SAMPLE == 0;
        st->enq_ns[i] = timed ? now_ns() : 0;
        if (o->e2e)
            memcpy(payload, &st->enq_ns[i], sizeof(int64_t));
        while (rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY, payload, (size_t)p->size, NULL, 0,
                                (void *)(intptr_t)i) == -1) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(rk, 1);
            st->enq_ns[i] = timed ? now_ns() : 0;
            if (o->e2e)
                memcpy(payload, &st->enq_ns[i], sizeof(int64_t));
        }
        if ((i & 1023) == 0 || rate > 0)
            rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0 && now_ns() - p->t0 < 120 * (int64_t)1000000000)
        rd_kafka_poll(rk, 10);
    rn_free(payload);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return NULL;
}

/* Sorted-array percentile q (0..1). */
static double pct(const double *sorted, long n, double q)
{
    return sorted[(long)((double)(n - 1) * q)];
}

/* Produce o->messages messages of `size` bytes from o->producers producers; create the topic
 * first through the Admin API when `create` (a real broker; the mock's topics are made with
 * the mock API). */
static void produce(const opts_t *o, const char *bootstrap, bool create, const char *topic,
                    int size, int acks, result_t *r)
{
    if (create) {
        prod_state_t none = {0};
        rd_kafka_t *rk = new_producer(o, bootstrap, acks, &none);
        create_topic(rk, topic, o->partitions, o->replication_factor);
        rd_kafka_destroy(rk);
    }
    int n = o->producers;
    producer_t *ps = rn_xcalloc((size_t)n, sizeof *ps);
    pthread_t *th = rn_xcalloc((size_t)n, sizeof *th);
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        ps[i] = (producer_t){.o = o,
                             .bootstrap = bootstrap,
                             .topic = topic,
                             .size = size,
                             .acks = acks,
                             .index = i,
                             .t0 = t0,
                             .count = o->messages / n + (i < o->messages % n)};
        if (pthread_create(&th[i], NULL, producer_run, &ps[i]) != 0)
            die("pthread_create", strerror(errno));
    }
    long nlat = 0, delivered = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        nlat += ps[i].st.nlat;
        delivered += ps[i].st.delivered;
    }
    int64_t t1 = now_ns();
    double *lat = rn_xcalloc((size_t)nlat + 1, sizeof *lat);
    long at = 0;
    for (int i = 0; i < n; i++) {
        prod_state_t *st = &ps[i].st;
        memcpy(lat + at, st->lat_ms, (size_t)st->nlat * sizeof *lat);
        at += st->nlat;
        r->failed += st->failed;
        if (st->failed)
            fprintf(stderr, "bench_rdkafka: %ld deliveries failed, first: %s\n", st->failed,
                    rd_kafka_err2str(st->first_err));
        rn_free(st->enq_ns);
        rn_free(st->lat_ms);
    }
    r->delivered = delivered;
    r->prod_secs = (double)(t1 - t0) / 1e9;
    r->prod_msgs_s = (double)delivered / r->prod_secs;
    r->prod_mb_s = (double)delivered * size / r->prod_secs / 1e6;
    if (nlat > 0) {
        qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
        r->lat_p50_ms = pct(lat, nlat, 0.5);
        r->lat_p99_ms = pct(lat, nlat, 0.99);
        r->lat_p999_ms = pct(lat, nlat, 0.999);
        r->lat_max_ms = lat[nlat - 1];
    }
    rn_free(lat);
    rn_free(ps);
    rn_free(th);
}

/* --e2e: a consumer reading the topic while it is produced, timing each message from its
 * enqueue (the stamp in its first 8 bytes; 0 marks the warm-up message) to its arrival. */
typedef struct {
    const opts_t *o;
    const char *bootstrap, *topic;
    long expect;       /* timed messages to wait for */
    atomic_bool ready; /* the warm-up message arrived: fetching is under way */
    atomic_bool stop;  /* give up (deadline) */
    double *lat_ms;
    long seen;
} e2e_t;

static rd_kafka_t *new_consumer(const opts_t *o, const char *bootstrap, const char *topic)
{
    char group[128];
    snprintf(group, sizeof group, "%s-reader", topic);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "group.id", group); /* required by librdkafka; nothing is committed */
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "enable.partition.eof", "false");
    conf_set(conf, "fetch.max.bytes", "52428800");
    conf_set(conf, "max.partition.fetch.bytes", "10485760");
    conf_set(conf, "queued.max.messages.kbytes", "262144");
    /* librdkafka (2.0) stops fetching a partition whose queue holds more than
     * queued.min.messages (default 100,000) and looks again only on its broker thread's next
     * timer tick, up to a second later: with 100-byte messages one 10 MB fetch is ~90,000 of
     * them, so at the default the consumer idled most of the time (measured: 20-32 MB/s
     * instead of ~100 MB/s), a client artefact the mock (5 MB in all) never shows. */
    conf_set(conf, "queued.min.messages", "1000000");
    if (getenv("BENCH_DEBUG"))
        conf_set(conf, "debug", getenv("BENCH_DEBUG"));
    conf_extra(conf, o->cons_conf, o->ncons_conf);
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static rd_kafka_topic_partition_list_t *all_from_start(const opts_t *o, const char *topic)
{
    rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(o->partitions);
    for (int p = 0; p < o->partitions; p++)
        rd_kafka_topic_partition_list_add(tps, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    return tps;
}

static void *e2e_run(void *arg)
{
    e2e_t *e = arg;
    rd_kafka_t *rk = new_consumer(e->o, e->bootstrap, e->topic);
    rd_kafka_topic_partition_list_t *tps = all_from_start(e->o, e->topic);
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, tps);
    if (err)
        die("assign", rd_kafka_err2str(err));
    while (e->seen < e->expect && !atomic_load(&e->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 20);
        if (!m)
            continue;
        int64_t at = now_ns(), stamp = 0;
        if (!m->err && m->len >= sizeof stamp) {
            memcpy(&stamp, m->payload, sizeof stamp);
            if (stamp == 0)
                atomic_store(&e->ready, true);
            else
                e->lat_ms[e->seen++] = (double)(at - stamp) / 1e6;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(tps);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* Send one warm-up message (stamp 0) to each partition and wait until the consumer has one. */
static void e2e_warm_up(const opts_t *o, const char *bootstrap, const char *topic, int size,
                        e2e_t *e)
{
    prod_state_t none = {0};
    rd_kafka_t *rk = new_producer(o, bootstrap, 1, &none);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    char *zero = rn_xcalloc(1, (size_t)size);
    int64_t until = now_ns() + 30 * (int64_t)1000000000;
    for (int p = 0; p < o->partitions; p++)
        if (rd_kafka_produce(rkt, p, RD_KAFKA_MSG_F_COPY, zero, (size_t)size, NULL, 0, NULL))
            die("warm-up produce", rd_kafka_err2str(rd_kafka_last_error()));
    rd_kafka_flush(rk, 30000);
    while (!atomic_load(&e->ready) && now_ns() < until)
        rd_kafka_poll(rk, 10);
    if (!atomic_load(&e->ready))
        die("e2e", "the warm-up message did not reach the consumer in 30 s");
    rn_free(zero);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* Produce with a consumer alongside; the consume figures become the end-to-end ones. */
static void produce_e2e(const opts_t *o, const char *bootstrap, bool create, const char *topic,
                        int size, int acks, result_t *r)
{
    if (size < 8)
        die("--e2e", "messages must be at least 8 bytes (they carry their send time)");
    if (create) {
        prod_state_t none = {0};
        rd_kafka_t *rk = new_producer(o, bootstrap, acks, &none);
        create_topic(rk, topic, o->partitions, o->replication_factor);
        rd_kafka_destroy(rk);
    }
    e2e_t e = {.o = o, .bootstrap = bootstrap, .topic = topic, .expect = o->messages};
    e.lat_ms = rn_xcalloc((size_t)o->messages + 1, sizeof *e.lat_ms);
    pthread_t th;
    if (pthread_create(&th, NULL, e2e_run, &e) != 0)
        die("pthread_create", strerror(errno));
    e2e_warm_up(o, bootstrap, topic, size, &e);
    produce(o, bootstrap, false, topic, size, acks, r);
    int64_t until = now_ns() + 30 * (int64_t)1000000000;
    while (e.seen < e.expect && now_ns() < until)
        usleep(10000);
    atomic_store(&e.stop, true);
    pthread_join(th, NULL);
    r->e2e_seen = r->consumed = e.seen;
    r->available = o->messages;
    if (e.seen > 0) {
        qsort(e.lat_ms, (size_t)e.seen, sizeof *e.lat_ms, cmp_double);
        r->e2e_p50_ms = pct(e.lat_ms, e.seen, 0.5);
        r->e2e_p99_ms = pct(e.lat_ms, e.seen, 0.99);
        r->e2e_p999_ms = pct(e.lat_ms, e.seen, 0.999);
        r->e2e_max_ms = e.lat_ms[e.seen - 1];
    }
    rn_free(e.lat_ms);
}

/* Read back everything the partitions hold, by assign() from the log start. */
static void consume(const opts_t *o, const char *bootstrap, const char *topic, result_t *r)
{
    rd_kafka_t *rk = new_consumer(o, bootstrap, topic);
    rd_kafka_topic_partition_list_t *tps = all_from_start(o, topic);

    /* Read up to each partition's high watermark. Usually that is everything produced, but
     * the mock cluster keeps only the newest 5 MB (or 100,000 batches) per partition, so
     * there the low watermark moves and fewer messages are there to read. */
    int64_t *hi = rn_xcalloc((size_t)o->partitions, sizeof *hi);
    int64_t *next = rn_xcalloc((size_t)o->partitions, sizeof *next);
    long want = 0;
    for (int p = 0; p < o->partitions; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000);
        if (err)
            die("query_watermark_offsets", rd_kafka_err2str(err));
        next[p] = lo;
        want += (long)(hi[p] - lo);
    }
    r->available = want;

    /* Learn the partitions' leader before assign(): otherwise librdkafka finds no leader
     * for the new partition and retries its offset lookup only after 500 ms. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);

    int64_t t0 = now_ns(), t_first = 0, t_last = 0;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, tps);
    if (err)
        die("assign", rd_kafka_err2str(err));
    long got = 0;
    int64_t bytes = 0;
    int64_t deadline = t0 + (getenv("BENCH_DEBUG") ? 5 : 120) * (int64_t)1000000000;
    /* The clock is read once per 1,024 messages, at an empty poll and at the end, not per
     * message: at 1.5 M msgs/s three reads a message were a fifth of the client's samples. */
    long checked = 0;
    while (got < want) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m || got - checked >= 1024) {
            checked = got;
            if (now_ns() >= deadline) {
                if (m)
                    rd_kafka_message_destroy(m);
                break;
            }
        }
        if (!m)
            continue;
        if (m->err) {
            fprintf(stderr, "bench_rdkafka: consume: %s\n", rd_kafka_message_errstr(m));
        } else {
            if (!got)
                t_first = now_ns();
            got++;
            bytes += (int64_t)m->len;
            if (got == want)
                t_last = now_ns();
        }
        rd_kafka_message_destroy(m);
    }
    if (got > 0 && got < want)
        t_last = now_ns(); /* gave up at the deadline: count to now */
    r->consumed = got;
    r->cons_first_ms = got ? (double)(t_first - t0) / 1e6 : 0;
    /* The rate counts from assign() to the last message: it includes the offset lookup and
     * the first fetch's round trip, as an application would see them. */
    r->cons_secs = (double)((got ? t_last : now_ns()) - t0) / 1e9;
    r->cons_msgs_s = (double)got / r->cons_secs;
    r->cons_mb_s = (double)bytes / r->cons_secs / 1e6;
    rn_free(hi);
    rn_free(next);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_destroy(tps);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void print_rss(long pid, const char *when)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("# broker pid %ld: cannot read %s: %s\n", pid, path, strerror(errno));
        return;
    }
    char hwm[64] = "?", rss[64] = "?";
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmHWM:", 6))
            sscanf(line + 6, " %63[^\n]", hwm);
        else if (!strncmp(line, "VmRSS:", 6))
            sscanf(line + 6, " %63[^\n]", rss);
    }
    fclose(f);
    printf("# broker pid %ld %s: VmRSS %s, VmHWM (peak) %s\n", pid, when, rss, hwm);
}

/* Append one row of figures to o->tsv, with a header line when the file is new. */
static void write_tsv(const opts_t *o, const char *target, int size, int acks, const result_t *r)
{
    FILE *f = fopen(o->tsv, "a");
    if (!f)
        die(o->tsv, strerror(errno));
    if (ftell(f) == 0)
        fputs("target\tsize\tacks\tmessages\tprod_msgs_s\tprod_mb_s\tlat_p50_ms\tlat_p99_ms\t"
              "lat_max_ms\tcons_msgs_s\tcons_mb_s\tconsumed\tavailable\tfailed\tprod_secs\t"
              "cons_secs\tprod_cpu_self\tprod_cpu_broker\tcons_cpu_self\tcons_cpu_broker\t"
              "lat_p999_ms\te2e_p50_ms\te2e_p99_ms\te2e_p999_ms\tproducers\tpartitions\t"
              "compression\trate\n",
              f);
    fprintf(f,
            "%s\t%d\t%s\t%ld\t%.0f\t%.1f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%ld\t%ld\t%ld\t%.3f\t"
            "%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\t%ld\n",
            target, size, acks < 0 ? "all" : "1", o->messages, r->prod_msgs_s, r->prod_mb_s,
            r->lat_p50_ms, r->lat_p99_ms, r->lat_max_ms, r->cons_msgs_s, r->cons_mb_s, r->consumed,
            r->available, r->failed, r->prod_secs, r->cons_secs, r->prod_cpu_self,
            r->prod_cpu_broker, r->cons_cpu_self, r->cons_cpu_broker, r->lat_p999_ms, r->e2e_p50_ms,
            r->e2e_p99_ms, r->e2e_p999_ms, o->producers, o->partitions, o->compression, o->rate);
    if (fclose(f) != 0)
        die(o->tsv, strerror(errno));
}

/* One workload on one target: `mcluster` set means the mock cluster at `bootstrap`. */
static void run_one(const opts_t *o, const char *target, const char *bootstrap,
                    rd_kafka_mock_cluster_t *mcluster, int size, int acks, result_t *r)
{
    char topic[96];
    snprintf(topic, sizeof topic, "rn-bench-%d-%s-%ld-%d-%x", size, acks < 0 ? "all" : "1",
             (long)time(NULL), (int)getpid(), (unsigned)rand());
    memset(r, 0, sizeof *r);
    if (mcluster) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, topic, o->partitions, 1);
        if (err)
            die("rd_kafka_mock_topic_create", rd_kafka_err2str(err));
    }
    long bpid = mcluster ? 0 : o->broker_pid;
    double c0 = self_cpu(), b0 = pid_cpu(bpid);
    if (o->e2e)
        produce_e2e(o, bootstrap, mcluster == NULL, topic, size, acks, r);
    else
        produce(o, bootstrap, mcluster == NULL, topic, size, acks, r);
    double c1 = self_cpu(), b1 = pid_cpu(bpid);
    if (!o->e2e)
        consume(o, bootstrap, topic, r);
    double c2 = self_cpu(), b2 = pid_cpu(bpid);
    r->prod_cpu_self = c1 - c0;
    r->cons_cpu_self = c2 - c1;
    r->prod_cpu_broker = b0 >= 0 && b1 >= 0 ? b1 - b0 : -1;
    r->cons_cpu_broker = b1 >= 0 && b2 >= 0 ? b2 - b1 : -1;
    printf("%-6s size=%-5d acks=%-3s msgs=%ld | produce %9.0f msg/s %8.1f MB/s  lat p50 %7.2f ms "
           "p99 %7.2f ms max %7.2f ms | consume %9.0f msg/s %8.1f MB/s (%ld msgs, first after "
           "%.0f ms)%s\n",
           target, size, acks < 0 ? "all" : "1", o->messages, r->prod_msgs_s, r->prod_mb_s,
           r->lat_p50_ms, r->lat_p99_ms, r->lat_max_ms, r->cons_msgs_s, r->cons_mb_s, r->consumed,
           r->cons_first_ms,
           r->failed || r->consumed != r->available ? "  [INCOMPLETE]"
           : r->available != o->messages            ? "  [broker kept only the newest messages]"
                                                    : "");
    if (o->e2e)
        printf("       end to end: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms over %ld "
               "msgs\n",
               r->e2e_p50_ms, r->e2e_p99_ms, r->e2e_p999_ms, r->e2e_max_ms, r->e2e_seen);
    if (r->prod_cpu_broker >= 0)
        printf("       cpu: produce client %.2f s, broker %.2f s (%.0f%% of a core) | consume "
               "client %.2f s, broker %.2f s\n",
               r->prod_cpu_self, r->prod_cpu_broker, 100 * r->prod_cpu_broker / r->prod_secs,
               r->cons_cpu_self, r->cons_cpu_broker);
    else
        printf("       cpu: produce %.2f s, consume %.2f s (client and mock broker together)\n",
               r->prod_cpu_self, r->cons_cpu_self);
    fflush(stdout);
    if (o->tsv)
        write_tsv(o, target, size, acks, r);
}

static int parse_list(const char *s, int *out, const char *what)
{
    int n = 0;
    char *copy = rn_xstrdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST)
            die(what, "too many values");
        if (!strcmp(tok, "all"))
            out[n++] = -1;
        else
            out[n++] = atoi(tok);
    }
    rn_free(copy);
    if (n == 0)
        die(what, "empty list");
    return n;
}

static void usage(void)
{
    fputs("usage: bench_rdkafka (--mock | --bootstrap HOST:PORT | --both --bootstrap HOST:PORT)\n"
          "         [--messages N] [--sizes 100,1024] [--acks 1,all] [--partitions P]\n"
          "         [--replication-factor R] [--producers N] [--e2e]\n"
          "         [--rate MSGS_PER_S] [--compression none|lz4|zstd|...] [--broker-pid PID]\n"
          "         [--target-name NAME] [--tsv FILE] [--producer-conf K=V]... "
          "[--consumer-conf K=V]...\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    opts_t o = {.messages = 100000,
                .partitions = 1,
                .replication_factor = 1,
                .producers = 1,
                .compression = "none",
                .target_name = "real"};
    o.nsizes = parse_list("100,1024", o.sizes, "--sizes");
    o.nacks = parse_list("1,all", o.acks, "--acks");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--mock")) {
            o.mock = true;
        } else if (!strcmp(a, "--both")) {
            o.both = true;
        } else if (v && !strcmp(a, "--bootstrap")) {
            o.bootstrap = v, i++;
        } else if (v && !strcmp(a, "--messages")) {
            o.messages = atol(v), i++;
        } else if (v && !strcmp(a, "--sizes")) {
            o.nsizes = parse_list(v, o.sizes, a), i++;
        } else if (v && !strcmp(a, "--acks")) {
            o.nacks = parse_list(v, o.acks, a), i++;
        } else if (v && !strcmp(a, "--replication-factor")) {
            o.replication_factor = atoi(v);
            i++;
        } else if (v && !strcmp(a, "--partitions")) {
            o.partitions = atoi(v), i++;
        } else if (v && !strcmp(a, "--producers")) {
            o.producers = atoi(v), i++;
        } else if (!strcmp(a, "--e2e")) {
            o.e2e = true;
        } else if (v && !strcmp(a, "--rate")) {
            o.rate = atol(v), i++;
        } else if (v && !strcmp(a, "--broker-pid")) {
            o.broker_pid = atol(v), i++;
        } else if (v && !strcmp(a, "--compression")) {
            o.compression = v, i++;
        } else if (v && !strcmp(a, "--producer-conf")) {
            if (o.nprod_conf == MAX_LIST)
                die(a, "too many properties");
            o.prod_conf[o.nprod_conf++] = v, i++;
        } else if (v && !strcmp(a, "--consumer-conf")) {
            if (o.ncons_conf == MAX_LIST)
                die(a, "too many properties");
            o.cons_conf[o.ncons_conf++] = v, i++;
        } else if (v && !strcmp(a, "--tsv")) {
            o.tsv = v, i++;
        } else if (v && !strcmp(a, "--target-name")) {
            o.target_name = v, i++;
        } else {
            usage();
        }
    }
    if (o.messages <= 0 || o.partitions <= 0 || o.producers <= 0 || (!o.mock && !o.bootstrap) ||
        (o.both && !o.bootstrap))
        usage();
    if (o.both || (o.mock && o.bootstrap)) /* --mock plus a real broker: compare both */
        o.both = o.mock = true;
    srand((unsigned)(time(NULL) ^ getpid()));

    /* The mock cluster lives inside a client instance that owns its threads. */
    rd_kafka_t *mock_owner = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    const char *mock_bootstrap = NULL;
    if (o.mock) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        conf_set(conf, "log_level", "3");
        mock_owner = new_client(RD_KAFKA_PRODUCER, conf);
        mcluster = rd_kafka_mock_cluster_new(mock_owner, 1);
        if (!mcluster)
            die("rd_kafka_mock_cluster_new", "failed");
        mock_bootstrap = rd_kafka_mock_cluster_bootstraps(mcluster);
    }

    printf("# bench_rdkafka: librdkafka %s, %ld messages per workload, %d partition(s), "
           "linger.ms=5, batch.size=1000000, compression=%s, rate=%s\n",
           rd_kafka_version_str(), o.messages, o.partitions, o.compression,
           o.rate ? "limited" : "unlimited");
    if (o.rate)
        printf("# offered load %ld msg/s\n", o.rate);
    if (o.broker_pid)
        print_rss(o.broker_pid, "before");

    for (int s = 0; s < o.nsizes; s++) {
        for (int a = 0; a < o.nacks; a++) {
            result_t mock_r = {0}, real_r = {0};
            if (o.mock)
                run_one(&o, "mock", mock_bootstrap, mcluster, o.sizes[s], o.acks[a], &mock_r);
            if (o.bootstrap)
                run_one(&o, o.target_name, o.bootstrap, NULL, o.sizes[s], o.acks[a], &real_r);
            if (o.both)
                printf("ratio size=%-5d acks=%-3s real/mock: produce %.2fx  consume %.2fx  "
                       "p99 latency %.2fx\n",
                       o.sizes[s], o.acks[a] < 0 ? "all" : "1",
                       real_r.prod_msgs_s / mock_r.prod_msgs_s,
                       real_r.cons_msgs_s / mock_r.cons_msgs_s,
                       mock_r.lat_p99_ms > 0 ? real_r.lat_p99_ms / mock_r.lat_p99_ms : 0.0);
        }
    }
    if (o.broker_pid)
        print_rss(o.broker_pid, "after");
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (mock_owner)
        rd_kafka_destroy(mock_owner);
    return 0;
}
