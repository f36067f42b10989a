/* rn_conn: a small synchronous Kafka client for command-line tools (runnel, tests).
 *
 * One rn_conn_t is one TCP connection to one broker, with blocking I/O bounded by a
 * timeout. Opening it negotiates versions with ApiVersions; rn_conn_version() then picks,
 * for each api, the highest version that both the broker serves and our codec defines (the
 * caller may cap it when it only builds the layouts of older versions). rn_conn_call()
 * sends one request and reads its response, checking the correlation id; requests are not
 * pipelined. A failed call (I/O error, timeout, malformed frame, correlation mismatch)
 * closes the connection: a synchronous client cannot resynchronise a stream it lost.
 *
 * rn_conn_pool_t adds what a tool needs to talk to a cluster: a bootstrap list
 * ("host:port,host:port"), the broker table and controller from the latest Metadata
 * answer, lazily opened connections per node id (to reach partition leaders), and group
 * coordinators found with FindCoordinator.
 *
 * Memory: decoded responses (and the frames their strings point into) live in the arena
 * the caller passes, so they stay valid until that arena is reset. Error texts are kept in
 * the conn / pool (rn_conn_error(), pool->err) and name the broker and what failed.
 * Not thread-safe; one thread drives a pool. */
#ifndef RN_CONN_H
#define RN_CONN_H

#include "rn_arena.h"
#include "rn_messages.h"
#include "rn_proto.h"

#include <stdbool.h>
#include <stdint.h>

/* Api keys above this are ignored in ApiVersions answers (Kafka's keys are below 100). */
#define RN_CONN_MAX_KEY 128
#define RN_CONN_ERRLEN  512
/* Largest response frame accepted (a Fetch answer is bounded by the request's max bytes). */
#define RN_CONN_MAX_FRAME ((size_t)256 << 20)

/* A SASL login after ApiVersions, for a SASL_* listener: mechanism PLAIN, SCRAM-SHA-256 or
 * SCRAM-SHA-512. The strings must outlive every connection given it. */
typedef struct rn_conn_sasl {
    const char *mechanism, *username, *password;
} rn_conn_sasl_t;

typedef struct rn_conn {
    int fd;                     /* -1 when not connected */
    const rn_conn_sasl_t *sasl; /* log in after ApiVersions; NULL = no login */
    char host[256];             /* as given to rn_conn_open */
    int port;
    int32_t node_id; /* broker id when known (pool connections), else -1 */
    int timeout_ms;  /* bound on connecting and on each call's send + receive */
    int32_t next_correlation_id;
    const char *client_id;
    /* Broker's served range per api key from ApiVersions; min -1 = not served. */
    int16_t broker_min[RN_CONN_MAX_KEY];
    int16_t broker_max[RN_CONN_MAX_KEY];
    rn_proto_writer_t w; /* request encoding buffer, reused */
    char err[RN_CONN_ERRLEN];
} rn_conn_t;

/* Prepare conn (closed); call once before rn_conn_open. */
void rn_conn_init(rn_conn_t *conn);

/* Connect to host:port (name or address) within timeout_ms, then negotiate versions with
 * ApiVersions. Returns 0, RN_EIO (resolve / connect / I/O failure or timeout),
 * RN_ECORRUPT (malformed answer) or RN_EUNSUPPORTED (broker refuses every ApiVersions
 * version); rn_conn_error() says what happened. */
int rn_conn_open(rn_conn_t *conn, const char *host, int port, int timeout_ms);

/* True while the connection is usable. */
static inline bool rn_conn_is_open(const rn_conn_t *conn)
{
    return conn->fd >= 0;
}

/* The highest version of api_key that the broker serves and our codec defines, at most
 * cap (cap < 0: no cap); -1 when there is none. */
int16_t rn_conn_version(const rn_conn_t *conn, int16_t api_key, int16_t cap);

/* Send req (an rn_<api>_request_t) as api_key/version and read the response into *resp
 * (an rn_<api>_response_t in arena). Returns 0 or a negative RN_E*: RN_EIO for I/O errors
 * and timeouts, RN_ECORRUPT for a malformed or mismatched answer, RN_EUNSUPPORTED for a
 * version we cannot encode, RN_ENOMEM. On failure the connection is closed. */
int rn_conn_call(rn_conn_t *conn, int16_t api_key, int16_t version, const void *req,
                 rn_arena_t *arena, void **resp);

/* Send a request for which the broker sends no response (Produce with acks=0). */
int rn_conn_send(rn_conn_t *conn, int16_t api_key, int16_t version, const void *req);

/* The last error message ("" when none). */
static inline const char *rn_conn_error(const rn_conn_t *conn)
{
    return conn->err;
}

/* Close the socket and release buffers; conn may be opened again. */
void rn_conn_close(rn_conn_t *conn);

/* ---- a cluster: bootstrap, broker table, leaders and coordinators ---- */

/* A broker the pool knows. Entries are never freed before the pool, so connection
 * pointers handed out stay valid across metadata refreshes. */
typedef struct rn_conn_broker {
    int32_t node_id;
    char *host; /* rn_xmalloc'd */
    int port;
    char *rack;  /* NULL when none */
    bool listed; /* named by the latest Metadata answer */
    rn_conn_t conn;
} rn_conn_broker_t;

typedef struct rn_conn_pool {
    char **seed_hosts; /* bootstrap servers, in the order given */
    int *seed_ports;
    int nseeds;
    int timeout_ms;
    rn_conn_t boot;             /* connection to the first seed that answered */
    int boot_seed;              /* index of that seed, -1 before the first connect */
    rn_conn_broker_t **brokers; /* every broker seen (listed or named as coordinator) */
    int nbrokers;
    int32_t controller_id;      /* -1 when unknown */
    char *cluster_id;           /* NULL when unknown */
    const rn_conn_sasl_t *sasl; /* every connection logs in with it; NULL = none (set after
                                 * rn_conn_pool_init) */
    char err[RN_CONN_ERRLEN];
} rn_conn_pool_t;

/* Parse a bootstrap list "host:port[,host:port...]" (a missing port means 9092; IPv6 as
 * [addr]:port). Returns 0 or RN_EINVAL with pool->err naming the bad entry. No I/O. */
int rn_conn_pool_init(rn_conn_pool_t *pool, const char *bootstrap, int timeout_ms);

/* A connection to any bootstrap server (the first that answers, kept open); NULL when
 * none can be reached (pool->err lists each failure). */
rn_conn_t *rn_conn_pool_any(rn_conn_pool_t *pool);

/* Metadata for topics[0..ntopics) (ntopics < 0: every topic) through a bootstrap
 * connection; refreshes the broker table, controller and cluster id. auto_create asks the
 * broker to create missing topics (Kafka does when auto.create.topics.enable is on).
 * Returns 0 with *resp in arena, or a negative RN_E* with pool->err set. */
int rn_conn_pool_metadata(rn_conn_pool_t *pool, const char *const *topics, int ntopics,
                          bool auto_create, rn_arena_t *arena, rn_metadata_response_t **resp);

/* The connection to broker node_id (opened on first use) from the broker table; NULL with
 * pool->err set when the node is unknown or unreachable. The pointer stays valid until
 * rn_conn_pool_free (a later failure closes the connection; the next call reopens it). */
rn_conn_t *rn_conn_pool_broker(rn_conn_pool_t *pool, int32_t node_id);

/* The coordinator of a group (key_type 0) or transactional id (1): FindCoordinator
 * through a bootstrap connection, retried while the coordinator is loading or not yet
 * available (within the pool's timeout). NULL with pool->err set on failure; *kerr gets
 * the last Kafka error code (0 for I/O failures). */
rn_conn_t *rn_conn_pool_coordinator(rn_conn_pool_t *pool, int8_t key_type, const char *key,
                                    int16_t *kerr);

/* "host:port" of the bootstrap server in use (or the first one given). */
const char *rn_conn_pool_bootstrap_name(const rn_conn_pool_t *pool, char *buf, size_t cap);

/* Close every connection and free the pool. */
void rn_conn_pool_free(rn_conn_pool_t *pool);

#endif
