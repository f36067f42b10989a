/* rn_netlimit: the pure parts of the network limits against hostile clients — episodes
 * (log a limit once when it starts biting, not once per event), the accept back-off
 * after EMFILE/ENFILE, and max.connections.per.ip.overrides.
 *
 * Nothing here touches sockets or the event loop, so each piece is unit-tested alone. */
#ifndef RN_NETLIMIT_H
#define RN_NETLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A run of events of one kind (connections rejected, slow requests closed, ...). An episode
 * starts with its first event and ends by rn_episode_end (the condition cleared) or after
 * quiet_ns without events; a later event then starts a new one. Valid states: !active
 * (hits == 0), or active with hits >= 1 and last_ns the time of the latest event. */
typedef struct rn_episode {
    bool active;
    uint64_t hits;    /* events in the current episode */
    uint64_t last_ns; /* time of the latest event */
} rn_episode_t;

/* Default quiet time after which an episode is over: 10 s. */
#define RN_EPISODE_QUIET_NS (10ull * 1000000000ull)

/* Record an event at now_ns; true when it starts an episode (the caller logs then). */
bool rn_episode_hit(rn_episode_t *ep, uint64_t now_ns, uint64_t quiet_ns);
/* End the current episode; the number of its events (0 when none was active). */
uint64_t rn_episode_end(rn_episode_t *ep);

/* A budget of log lines for events every one of which is worth a line until a client sends
 * them by the thousand (malformed requests: a scanner, a fuzzer, a broken client): at most
 * per_window lines in each window of RN_LOGRATE_WINDOW_NS; the rest are counted and the
 * first line of a later window reports how many were left out. */
typedef struct rn_lograte {
    uint64_t window_ns;  /* start of the current window; 0 before the first event */
    uint32_t lines;      /* logged in the current window */
    uint64_t suppressed; /* not logged since the last line that reported them */
} rn_lograte_t;

#define RN_LOGRATE_WINDOW_NS 1000000000ull

/* Count an event at now_ns; true when it may be logged. Then *suppressed (which may be
 * NULL) holds the events left out before it, to be said in that line, and is reset. */
bool rn_lograte_allow(rn_lograte_t *lr, uint64_t now_ns, uint32_t per_window, uint64_t *suppressed);

/* Accept back-off after EMFILE/ENFILE: 100 ms, doubling, at most 1 s. cur_ms 0 = first. */
#define RN_ACCEPT_BACKOFF_FIRST_MS 100
#define RN_ACCEPT_BACKOFF_MAX_MS   1000
int rn_accept_backoff_next(int cur_ms);

/* One entry of max.connections.per.ip.overrides: a numeric address and its limit. */
typedef struct rn_ip_limit {
    char ip[64]; /* numeric, as inet_ntop writes it */
    int32_t limit;
} rn_ip_limit_t;

/* Parse "HOST:N,HOST:N" (IPv6 as [ADDR]:N; a host name is resolved, so start-up only) into
 * a new array (*out, *count; free with rn_free). NULL or "" gives no entries. 0, or
 * RN_EINVAL with a message naming the entry in err. */
int rn_ip_limits_parse(const char *text, rn_ip_limit_t **out, size_t *count, char *err,
                       size_t errlen);
/* The limit for ip: its override, else def. */
int32_t rn_ip_limit_for(const rn_ip_limit_t *limits, size_t count, const char *ip, int32_t def);

#endif
