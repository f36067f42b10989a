/* rn_console: runneld's web console — pages (HTML, CSS, JS compiled into the binary) and a
 * JSON API behind them, served on the metrics HTTP listener (rn_http) when console.enable.
 *
 *   /              302 to /console/
 *   /console/      the single page; /console/<asset> its scripts and styles
 *   /api/...       JSON (documented in README.md, "Web console"): overview, topics, topic,
 *                  messages, segments, batch, groups, group, cluster; with
 *                  console.write.enable also POST /api/topics/create, /api/topics/partitions,
 *                  /api/topics/config, /api/groups/reset, /api/produce.
 *
 * Access: loopback clients only unless console.allow.remote (403 otherwise); read-only
 * unless console.write.enable. Reads run on the loop through the broker's modules (topics,
 * the data path's logs, the group coordinator, the replica module, the quorum), each
 * bounded: a page of at most RN_CONSOLE_MAX_RECORDS records read from at most
 * RN_CONSOLE_MAX_READ bytes, one batch of at most RN_CONSOLE_MAX_HEX_BATCH bytes for the hex
 * view, answers of at most RN_CONSOLE_MAX_ANSWER bytes. Writes are Kafka requests sent to
 * this node's own listener (rn_peer): the broker's handlers, limits and quotas apply to them
 * as to any client. Nothing runs when nobody looks: the group-lag sampler (every
 * RN_CONSOLE_SAMPLE_MS for Burrow-style statuses) runs only for RN_CONSOLE_IDLE_MS after the
 * last API request. Loop thread only. */
#ifndef RN_CONSOLE_H
#define RN_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct rn_broker;
struct evhttp_request;

#define RN_CONSOLE_MAX_RECORDS   500
#define RN_CONSOLE_MAX_READ      (1 << 20)
#define RN_CONSOLE_MAX_HEX_BATCH (256 << 10)
#define RN_CONSOLE_MAX_ANSWER    (8 << 20)
#define RN_CONSOLE_MAX_BODY      (64 << 10)
#define RN_CONSOLE_SAMPLE_MS     2000
#define RN_CONSOLE_IDLE_MS       (5 * 60 * 1000)

typedef struct rn_console rn_console_t;

/* The console of broker b, configured from its config (console.*). NULL with a message in
 * err when the build carries no console assets (RN_CONSOLE=OFF). */
rn_console_t *rn_console_new(struct rn_broker *b, char *err, size_t errlen);
/* rn_http's route callback: answers /, /console/... and /api/...; false for other paths. */
bool rn_console_route(void *arg, struct evhttp_request *req);
/* Whether POST bodies are wanted (console.write.enable). */
bool rn_console_writes(const rn_console_t *con);
/* Cancel what is in flight (write actions' answers are not sent) and free. NULL: no-op. */
void rn_console_free(rn_console_t *con);

#endif
