/* A synchronous Kafka client connection (see rn_conn.h): non-blocking sockets driven by
 * poll(2) against a deadline, so every connect, send and receive is bounded by the
 * connection's timeout; ApiVersions negotiation; request/response with correlation ids. */
#include "rn_conn.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_rpc.h"
#include "rn_sasl.h"
#include "rn_str.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_SOFTWARE_NAME    "runnel"
#define CLIENT_SOFTWARE_VERSION "0.1.0"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(rn_conn_t *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(rn_conn_t *conn, const char *fmt, ...)
{
    int n = snprintf(conn->err, sizeof conn->err, "%s:%d: ", conn->host, conn->port);
    if (n < 0 || (size_t)n >= sizeof conn->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(conn->err + n, sizeof conn->err - (size_t)n, fmt, ap);
    va_end(ap);
}

void rn_conn_init(rn_conn_t *conn)
{
    memset(conn, 0, sizeof *conn);
    conn->fd = -1;
    conn->node_id = -1;
    conn->client_id = "runnel";
    conn->next_correlation_id = 1;
    rn_proto_writer_init(&conn->w);
    for (int i = 0; i < RN_CONN_MAX_KEY; i++)
        conn->broker_min[i] = conn->broker_max[i] = -1;
}

void rn_conn_close(rn_conn_t *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    rn_proto_writer_free(&conn->w);
    rn_proto_writer_init(&conn->w);
}

/* Wait until fd is ready for events or the deadline passes: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Connect one address within the deadline: the socket, or -1 with errno set. */
static int connect_addr(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        int ready = wait_fd(fd, POLLOUT, deadline);
        if (ready <= 0) {
            if (ready == 0)
                errno = ETIMEDOUT;
            goto fail;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            goto fail;
        if (soerr != 0) {
            errno = soerr;
            goto fail;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* Write the writer's output (memory chunks only: requests never carry file ranges). */
static int send_all(rn_conn_t *conn, int64_t deadline)
{
    size_t n = rn_proto_writer_nchunks(&conn->w);
    for (size_t i = 0; i < n; i++) {
        rn_proto_chunk_t chunk;
        rn_proto_writer_chunk(&conn->w, i, &chunk);
        if (chunk.in_file) {
            set_err(conn, "cannot send a file range from a client request");
            return RN_EINVAL;
        }
        size_t off = 0;
        while (off < chunk.len) {
            ssize_t k = send(conn->fd, chunk.ptr + off, chunk.len - off, MSG_NOSIGNAL);
            if (k > 0) {
                off += (size_t)k;
                continue;
            }
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                int ready = wait_fd(conn->fd, POLLOUT, deadline);
                if (ready > 0)
                    continue;
                if (ready == 0)
                    set_err(conn, "timed out after %d ms sending a request", conn->timeout_ms);
                else
                    set_err(conn, "send: %s", strerror(errno));
                return RN_EIO;
            }
            set_err(conn, "send: %s", k < 0 ? strerror(errno) : "connection closed");
            return RN_EIO;
        }
    }
    return 0;
}

static int recv_exact(rn_conn_t *conn, uint8_t *buf, size_t len, int64_t deadline)
{
    size_t off = 0;
    while (off < len) {
        ssize_t k = recv(conn->fd, buf + off, len - off, 0);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k == 0) {
            set_err(conn, "connection closed by the broker");
            return RN_EIO;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int ready = wait_fd(conn->fd, POLLIN, deadline);
            if (ready > 0)
                continue;
            if (ready == 0)
                set_err(conn, "no response within %d ms", conn->timeout_ms);
            else
                set_err(conn, "recv: %s", strerror(errno));
            return RN_EIO;
        }
        set_err(conn, "recv: %s", strerror(errno));
        return RN_EIO;
    }
    return 0;
}

static int encode(rn_conn_t *conn, int16_t api_key, int16_t version, const void *req, int32_t *corr)
{
    if (conn->fd < 0) {
        set_err(conn, "not connected");
        return RN_EIO;
    }
    *corr = conn->next_correlation_id++;
    if (conn->next_correlation_id < 0)
        conn->next_correlation_id = 1;
    rn_proto_writer_reset(&conn->w);
    int st = rn_rpc_encode_request(&conn->w, api_key, version, *corr, rn_str(conn->client_id), req);
    if (st != 0) {
        const rn_rpc_api_t *api = rn_rpc_api(api_key);
        set_err(conn, "cannot encode %s v%d: %s", api ? api->name : "request", version,
                rn_strerror(st));
    }
    return st;
}

int rn_conn_send(rn_conn_t *conn, int16_t api_key, int16_t version, const void *req)
{
    int32_t corr;
    int st = encode(conn, api_key, version, req, &corr);
    if (st == 0)
        st = send_all(conn, now_ms() + conn->timeout_ms);
    if (st == RN_EIO) {
        close(conn->fd);
        conn->fd = -1;
    }
    return st;
}

int rn_conn_call(rn_conn_t *conn, int16_t api_key, int16_t version, const void *req,
                 rn_arena_t *arena, void **resp)
{
    *resp = NULL;
    int32_t corr;
    int st = encode(conn, api_key, version, req, &corr);
    if (st != 0)
        return st;
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    int64_t deadline = now_ms() + conn->timeout_ms;
    st = send_all(conn, deadline);
    if (st != 0)
        goto fail;
    uint8_t size_buf[4];
    st = recv_exact(conn, size_buf, 4, deadline);
    if (st != 0)
        goto fail;
    uint32_t size = rn_load_be32(size_buf);
    if (size < 4 || size > RN_CONN_MAX_FRAME) {
        set_err(conn, "bad response size %u to %s v%d", size, api->name, version);
        st = RN_ECORRUPT;
        goto fail;
    }
    uint8_t *frame = rn_arena_alloc(arena, size);
    if (frame == NULL) {
        set_err(conn, "out of memory for a %u-byte %s response", size, api->name);
        st = RN_ENOMEM;
        goto fail;
    }
    st = recv_exact(conn, frame, size, deadline);
    if (st != 0)
        goto fail;
    int32_t got_corr;
    st = rn_rpc_decode_response(frame, size, arena, api_key, version, &got_corr, resp);
    if (st != 0) {
        set_err(conn, "malformed %s v%d response: %s", api->name, version, rn_strerror(st));
        goto fail;
    }
    if (got_corr != corr) {
        set_err(conn, "%s v%d response has correlation id %d, expected %d", api->name, version,
                got_corr, corr);
        st = RN_ECORRUPT;
        goto fail;
    }
    return 0;
fail:
    *resp = NULL;
    close(conn->fd);
    conn->fd = -1;
    return st;
}

int16_t rn_conn_version(const rn_conn_t *conn, int16_t api_key, int16_t cap)
{
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL || api_key < 0 || api_key >= RN_CONN_MAX_KEY || conn->broker_min[api_key] < 0)
        return -1;
    int16_t hi =
        api->max_version < conn->broker_max[api_key] ? api->max_version : conn->broker_max[api_key];
    if (cap >= 0 && cap < hi)
        hi = cap;
    int16_t lo =
        api->min_version > conn->broker_min[api_key] ? api->min_version : conn->broker_min[api_key];
    return hi >= lo ? hi : -1;
}

/* ApiVersions at version v; on success records the broker's ranges. *retry_version is set
 * when the broker answered UNSUPPORTED_VERSION with its own ApiVersions range. */
static int api_versions(rn_conn_t *conn, int16_t v, int16_t *retry_version)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_api_versions_request_t req;
    rn_api_versions_request_init(&req);
    req.client_software_name = rn_str(CLIENT_SOFTWARE_NAME);
    req.client_software_version = rn_str(CLIENT_SOFTWARE_VERSION);
    void *body;
    int st = rn_conn_call(conn, RN_API_API_VERSIONS, v, &req, &arena, &body);
    *retry_version = -1;
    if (st == 0) {
        const rn_api_versions_response_t *resp = body;
        if (resp->error_code == RN_KERR_UNSUPPORTED_VERSION) {
            for (int32_t i = 0; i < resp->api_keys.count; i++) {
                const rn_api_versions_response_key_t *k = &resp->api_keys.items[i];
                if (k->api_key == RN_API_API_VERSIONS && k->max_version < v)
                    *retry_version = k->max_version;
            }
            set_err(conn, "broker does not serve ApiVersions v%d", v);
            st = RN_EUNSUPPORTED;
        } else if (resp->error_code != 0) {
            set_err(conn, "ApiVersions failed: %s", rn_kerr_name(resp->error_code));
            st = RN_EUNSUPPORTED;
        } else {
            for (int32_t i = 0; i < resp->api_keys.count; i++) {
                const rn_api_versions_response_key_t *k = &resp->api_keys.items[i];
                if (k->api_key >= 0 && k->api_key < RN_CONN_MAX_KEY &&
                    k->min_version <= k->max_version) {
                    conn->broker_min[k->api_key] = k->min_version;
                    conn->broker_max[k->api_key] = k->max_version;
                }
            }
        }
    }
    rn_arena_free(&arena);
    return st;
}

/* One SaslAuthenticate round: *out points at the answer's token. */
static int sasl_round(rn_conn_t *conn, rn_arena_t *arena, const void *tok, size_t len,
                      const rn_sasl_authenticate_response_t **out)
{
    rn_sasl_authenticate_request_t req;
    rn_sasl_authenticate_request_init(&req);
    req.auth_bytes = (rn_bytes_t){tok, (int32_t)len};
    int16_t v = rn_conn_version(conn, RN_API_SASL_AUTHENTICATE, -1);
    void *body;
    int st = rn_conn_call(conn, RN_API_SASL_AUTHENTICATE, v, &req, arena, &body);
    if (st != 0)
        return st;
    *out = body;
    if ((*out)->error_code != 0) {
        set_err(conn, "SASL %s login as %s refused: %s%s%.*s", conn->sasl->mechanism,
                conn->sasl->username, rn_kerr_name((*out)->error_code),
                (*out)->error_message.len > 0 ? ": " : "", RN_STR_ARGS((*out)->error_message));
        return RN_EINVAL;
    }
    return 0;
}

/* SaslHandshake v1 and SaslAuthenticate: PLAIN in one round, SCRAM in two with the server's
 * signature checked. */
static int sasl_login(rn_conn_t *conn)
{
    const rn_conn_sasl_t *s = conn->sasl;
    if (rn_conn_version(conn, RN_API_SASL_HANDSHAKE, 1) < 1 ||
        rn_conn_version(conn, RN_API_SASL_AUTHENTICATE, -1) < 0) {
        set_err(conn, "the broker does not offer SASL (SaslHandshake v1, SaslAuthenticate)");
        return RN_EUNSUPPORTED;
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_sasl_handshake_request_t hreq;
    rn_sasl_handshake_request_init(&hreq);
    hreq.mechanism = rn_str(s->mechanism);
    void *body;
    int st = rn_conn_call(conn, RN_API_SASL_HANDSHAKE, 1, &hreq, &arena, &body);
    if (st == 0 && ((const rn_sasl_handshake_response_t *)body)->error_code != 0) {
        set_err(conn, "SASL mechanism %s: %s", s->mechanism,
                rn_kerr_name(((const rn_sasl_handshake_response_t *)body)->error_code));
        st = RN_EINVAL;
    }
    int mech = rn_scram_mech_by_name(s->mechanism, strlen(s->mechanism));
    const rn_sasl_authenticate_response_t *resp = NULL;
    char msg[RN_SASL_MSG_MAX];
    if (st == 0 && mech == RN_SCRAM_UNKNOWN) {
        long n = rn_sasl_plain_token(s->username, s->password, (uint8_t *)msg, sizeof msg);
        st = n < 0 ? RN_EINVAL : sasl_round(conn, &arena, msg, (size_t)n, &resp);
    } else if (st == 0) {
        rn_scram_client_t c;
        long n = rn_scram_client_first(&c, mech, s->username, s->password, msg, sizeof msg);
        st = n < 0 ? RN_EINVAL : sasl_round(conn, &arena, msg, (size_t)n, &resp);
        if (st == 0) {
            n = rn_scram_client_final(&c, resp->auth_bytes.ptr,
                                      (size_t)(resp->auth_bytes.len > 0 ? resp->auth_bytes.len : 0),
                                      msg, sizeof msg);
            st = n < 0 ? RN_EINVAL : sasl_round(conn, &arena, msg, (size_t)n, &resp);
            if (n < 0)
                set_err(conn, "a bad SCRAM server-first-message");
        }
        if (st == 0 &&
            rn_scram_client_verify(&c, resp->auth_bytes.ptr,
                                   (size_t)(resp->auth_bytes.len > 0 ? resp->auth_bytes.len : 0)) !=
                RN_SASL_DONE) {
            set_err(conn, "the broker's SCRAM signature does not check");
            st = RN_EINVAL;
        }
        memset(&c, 0, sizeof c);
    }
    memset(msg, 0, sizeof msg);
    rn_arena_free(&arena);
    return st;
}

int rn_conn_open(rn_conn_t *conn, const char *host, int port, int timeout_ms)
{
    if (conn->fd >= 0)
        rn_conn_close(conn);
    snprintf(conn->host, sizeof conn->host, "%s", host);
    conn->port = port;
    conn->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    conn->err[0] = '\0';
    for (int i = 0; i < RN_CONN_MAX_KEY; i++)
        conn->broker_min[i] = conn->broker_max[i] = -1;

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        set_err(conn, "cannot resolve host: %s", gai_strerror(gai));
        return RN_EIO;
    }
    int64_t deadline = now_ms() + conn->timeout_ms;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL && conn->fd < 0; ai = ai->ai_next) {
        conn->fd = connect_addr(ai, deadline);
        if (conn->fd < 0)
            last_errno = errno;
    }
    freeaddrinfo(res);
    if (conn->fd < 0) {
        if (last_errno == ETIMEDOUT)
            set_err(conn, "connect timed out after %d ms", conn->timeout_ms);
        else
            set_err(conn, "connect: %s", strerror(last_errno));
        return RN_EIO;
    }

    /* Ask with the newest version we define; a broker that does not serve it answers in
     * the v0 layout with its own range, and we ask again at the highest it serves. */
    const rn_rpc_api_t *api = rn_rpc_api(RN_API_API_VERSIONS);
    int16_t retry;
    int st = api_versions(conn, api->max_version, &retry);
    if (st == RN_EUNSUPPORTED && retry >= 0 && conn->fd >= 0)
        st = api_versions(conn, retry, &retry);
    if (st == 0 && conn->sasl != NULL && conn->sasl->mechanism != NULL)
        st = sasl_login(conn);
    if (st != 0 && conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
    return st;
}

/* ---- pool ---- */

static void pool_err(rn_conn_pool_t *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pool_err(rn_conn_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pool->err, sizeof pool->err, fmt, ap);
    va_end(ap);
}

/* Parse one "host:port", "host", "[v6addr]:port" entry of len bytes. */
static int parse_hostport(const char *s, size_t len, char **host, int *port)
{
    const char *hend = s + len;
    const char *colon = NULL;
    const char *h = s;
    if (len > 0 && s[0] == '[') {
        const char *close_br = memchr(s, ']', len);
        if (close_br == NULL)
            return RN_EINVAL;
        h = s + 1;
        hend = close_br;
        if (close_br + 1 < s + len) {
            if (close_br[1] != ':')
                return RN_EINVAL;
            colon = close_br + 1;
        }
    } else {
        for (const char *p = s + len; p > s; p--)
            if (p[-1] == ':') {
                colon = p - 1;
                break;
            }
        if (colon != NULL)
            hend = colon;
    }
    if (hend == h)
        return RN_EINVAL;
    long p = 9092;
    if (colon != NULL) {
        const char *ps = colon + 1;
        size_t plen = (size_t)(s + len - ps);
        if (plen == 0 || plen > 5)
            return RN_EINVAL;
        p = 0;
        for (size_t i = 0; i < plen; i++) {
            if (ps[i] < '0' || ps[i] > '9')
                return RN_EINVAL;
            p = p * 10 + (ps[i] - '0');
        }
        if (p < 1 || p > 65535)
            return RN_EINVAL;
    }
    *host = rn_xstrndup(h, (size_t)(hend - h));
    *port = (int)p;
    return 0;
}

int rn_conn_pool_init(rn_conn_pool_t *pool, const char *bootstrap, int timeout_ms)
{
    memset(pool, 0, sizeof *pool);
    pool->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    pool->boot_seed = -1;
    pool->controller_id = -1;
    rn_conn_init(&pool->boot);
    const char *p = bootstrap ? bootstrap : "";
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0) {
            char *host;
            int port;
            if (parse_hostport(p, len, &host, &port) != 0) {
                pool_err(pool, "bad bootstrap server \"%.*s\": expected HOST:PORT", (int)len, p);
                rn_conn_pool_free(pool);
                return RN_EINVAL;
            }
            pool->seed_hosts = rn_xrealloc(pool->seed_hosts,
                                           sizeof *pool->seed_hosts * (size_t)(pool->nseeds + 1));
            pool->seed_ports = rn_xrealloc(pool->seed_ports,
                                           sizeof *pool->seed_ports * (size_t)(pool->nseeds + 1));
            pool->seed_hosts[pool->nseeds] = host;
            pool->seed_ports[pool->nseeds] = port;
            pool->nseeds++;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (pool->nseeds == 0) {
        pool_err(pool, "empty bootstrap server list: give HOST:PORT[,HOST:PORT...]");
        rn_conn_pool_free(pool);
        return RN_EINVAL;
    }
    return 0;
}

const char *rn_conn_pool_bootstrap_name(const rn_conn_pool_t *pool, char *buf, size_t cap)
{
    int i = pool->boot_seed >= 0 ? pool->boot_seed : 0;
    if (pool->nseeds == 0)
        snprintf(buf, cap, "(none)");
    else if (strchr(pool->seed_hosts[i], ':') != NULL)
        snprintf(buf, cap, "[%s]:%d", pool->seed_hosts[i], pool->seed_ports[i]);
    else
        snprintf(buf, cap, "%s:%d", pool->seed_hosts[i], pool->seed_ports[i]);
    return buf;
}

rn_conn_t *rn_conn_pool_any(rn_conn_pool_t *pool)
{
    if (rn_conn_is_open(&pool->boot))
        return &pool->boot;
    size_t used = 0;
    pool->err[0] = '\0';
    /* Start after the seed that failed last, so a dead first server is not retried first. */
    int start = pool->boot_seed >= 0 ? pool->boot_seed + 1 : 0;
    for (int k = 0; k < pool->nseeds; k++) {
        int i = (start + k) % pool->nseeds;
        pool->boot.sasl = pool->sasl;
        if (rn_conn_open(&pool->boot, pool->seed_hosts[i], pool->seed_ports[i], pool->timeout_ms) ==
            0) {
            pool->boot_seed = i;
            return &pool->boot;
        }
        int n = snprintf(pool->err + used, sizeof pool->err - used, "%s%s", used ? "; " : "",
                         rn_conn_error(&pool->boot));
        if (n > 0)
            used = used + (size_t)n < sizeof pool->err ? used + (size_t)n : sizeof pool->err - 1;
        pool->boot_seed = i;
    }
    return NULL;
}

static void broker_free(rn_conn_broker_t *b)
{
    rn_conn_close(&b->conn);
    rn_free(b->host);
    rn_free(b->rack);
    rn_free(b);
}

/* The table entry for node_id; with host set, the entry is created when missing and moved
 * (connection closed) when its address changed. NULL when unknown and host is NULL. */
static rn_conn_broker_t *broker_slot(rn_conn_pool_t *pool, int32_t node_id, const char *host,
                                     int port)
{
    for (int i = 0; i < pool->nbrokers; i++) {
        rn_conn_broker_t *b = pool->brokers[i];
        if (b->node_id != node_id)
            continue;
        if (host != NULL && (b->port != port || strcmp(b->host, host) != 0)) {
            rn_conn_close(&b->conn);
            rn_free(b->host);
            b->host = rn_xstrdup(host);
            b->port = port;
        }
        return b;
    }
    if (host == NULL)
        return NULL;
    pool->brokers =
        rn_xrealloc(pool->brokers, sizeof *pool->brokers * (size_t)(pool->nbrokers + 1));
    rn_conn_broker_t *b = rn_xcalloc(1, sizeof *b);
    pool->brokers[pool->nbrokers++] = b;
    b->node_id = node_id;
    b->host = rn_xstrdup(host);
    b->port = port;
    rn_conn_init(&b->conn);
    b->conn.node_id = node_id;
    return b;
}

/* Merge the brokers of a Metadata answer into the table. */
static void update_brokers(rn_conn_pool_t *pool, const rn_metadata_response_t *md)
{
    for (int j = 0; j < pool->nbrokers; j++)
        pool->brokers[j]->listed = false;
    for (int32_t i = 0; i < md->brokers.count; i++) {
        const rn_metadata_response_broker_t *src = &md->brokers.items[i];
        char *host = rn_str_dup(src->host.len >= 0 ? src->host : rn_str(""));
        rn_conn_broker_t *b = broker_slot(pool, src->node_id, host, src->port);
        rn_free(host);
        rn_free(b->rack);
        b->rack = rn_str_dup(src->rack);
        b->listed = true;
    }
}

int rn_conn_pool_metadata(rn_conn_pool_t *pool, const char *const *topics, int ntopics,
                          bool auto_create, rn_arena_t *arena, rn_metadata_response_t **resp)
{
    *resp = NULL;
    /* A bootstrap server that dies between calls is replaced by the next one. */
    for (int attempt = 0; attempt < pool->nseeds + 1; attempt++) {
        rn_conn_t *conn = rn_conn_pool_any(pool);
        if (conn == NULL)
            return RN_EIO;
        int16_t v = rn_conn_version(conn, RN_API_METADATA, -1);
        if (v < 0) {
            pool_err(pool, "%s:%d does not serve a Metadata version runnel speaks", conn->host,
                     conn->port);
            return RN_EUNSUPPORTED;
        }
        rn_metadata_request_t req;
        rn_metadata_request_init(&req);
        if (ntopics < 0) {
            /* v0 has no null: an empty list means every topic there. */
            req.topics.count = v >= 1 ? -1 : 0;
        } else {
            rn_metadata_request_topic_t *t =
                rn_metadata_request_topic_array_alloc(arena, &req.topics, ntopics);
            if (t == NULL && ntopics > 0)
                return RN_ENOMEM;
            for (int i = 0; i < ntopics; i++)
                t[i].name = rn_str(topics[i]);
        }
        req.allow_auto_topic_creation = auto_create;
        void *body;
        int st = rn_conn_call(conn, RN_API_METADATA, v, &req, arena, &body);
        if (st == RN_EIO)
            continue;
        if (st != 0) {
            pool_err(pool, "%s", rn_conn_error(conn));
            return st;
        }
        rn_metadata_response_t *md = body;
        update_brokers(pool, md);
        pool->controller_id = md->controller_id;
        if (md->cluster_id.len >= 0) {
            rn_free(pool->cluster_id);
            pool->cluster_id = rn_str_dup(md->cluster_id);
        }
        *resp = md;
        return 0;
    }
    pool_err(pool, "%s", rn_conn_error(&pool->boot));
    return RN_EIO;
}

static rn_conn_t *open_broker(rn_conn_pool_t *pool, rn_conn_broker_t *b)
{
    if (rn_conn_is_open(&b->conn))
        return &b->conn;
    b->conn.sasl = pool->sasl;
    if (rn_conn_open(&b->conn, b->host, b->port, pool->timeout_ms) != 0) {
        pool_err(pool, "broker %d: %s", b->node_id, rn_conn_error(&b->conn));
        return NULL;
    }
    b->conn.node_id = b->node_id;
    return &b->conn;
}

rn_conn_t *rn_conn_pool_broker(rn_conn_pool_t *pool, int32_t node_id)
{
    rn_conn_broker_t *b = broker_slot(pool, node_id, NULL, 0);
    if (b == NULL) {
        pool_err(pool, "broker %d is not in the cluster's metadata", node_id);
        return NULL;
    }
    return open_broker(pool, b);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

rn_conn_t *rn_conn_pool_coordinator(rn_conn_pool_t *pool, int8_t key_type, const char *key,
                                    int16_t *kerr)
{
    *kerr = 0;
    int64_t deadline = now_ms() + pool->timeout_ms;
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_conn_t *result = NULL;
    for (;;) {
        rn_arena_reset(&arena);
        rn_conn_t *conn = rn_conn_pool_any(pool);
        if (conn == NULL)
            break;
        int16_t v = rn_conn_version(conn, RN_API_FIND_COORDINATOR, -1);
        if (v < 0) {
            pool_err(pool, "%s:%d does not serve a FindCoordinator version runnel speaks",
                     conn->host, conn->port);
            break;
        }
        rn_find_coordinator_request_t req;
        rn_find_coordinator_request_init(&req);
        req.key_type = key_type;
        rn_str_t k = rn_str(key);
        if (v >= 4) {
            req.coordinator_keys.count = 1;
            req.coordinator_keys.items = &k;
        } else {
            req.key = k;
        }
        void *body;
        int st = rn_conn_call(conn, RN_API_FIND_COORDINATOR, v, &req, &arena, &body);
        if (st != 0) {
            pool_err(pool, "%s", rn_conn_error(conn));
            if (st == RN_EIO && now_ms() < deadline)
                continue; /* rn_conn_pool_any reconnects, possibly to another seed */
            break;
        }
        const rn_find_coordinator_response_t *resp = body;
        int16_t err;
        int32_t node;
        rn_str_t host, msg;
        int32_t port;
        if (v >= 4) {
            if (resp->coordinators.count < 1) {
                pool_err(pool, "FindCoordinator answer for \"%s\" names no coordinator", key);
                break;
            }
            const rn_coordinator_t *c = &resp->coordinators.items[0];
            err = c->error_code, node = c->node_id, host = c->host, port = c->port;
            msg = c->error_message;
        } else {
            err = resp->error_code, node = resp->node_id, host = resp->host, port = resp->port;
            msg = resp->error_message;
        }
        *kerr = err;
        if (err == RN_KERR_COORDINATOR_NOT_AVAILABLE ||
            err == RN_KERR_COORDINATOR_LOAD_IN_PROGRESS || err == RN_KERR_NOT_COORDINATOR) {
            pool_err(pool, "no coordinator for \"%s\" yet (%s)", key, rn_kerr_name(err));
            if (now_ms() + 200 >= deadline)
                break;
            sleep_ms(200);
            continue;
        }
        if (err != 0) {
            pool_err(pool, "FindCoordinator(\"%s\") failed: %s%s%.*s", key, rn_kerr_name(err),
                     msg.len > 0 ? ": " : "", RN_STR_ARGS(msg));
            break;
        }
        char *h = rn_str_dup(host.len >= 0 ? host : rn_str(""));
        rn_conn_broker_t *b = broker_slot(pool, node, h, port);
        rn_free(h);
        result = open_broker(pool, b);
        break;
    }
    rn_arena_free(&arena);
    return result;
}

void rn_conn_pool_free(rn_conn_pool_t *pool)
{
    for (int i = 0; i < pool->nseeds; i++)
        rn_free(pool->seed_hosts[i]);
    rn_free(pool->seed_hosts);
    rn_free(pool->seed_ports);
    for (int i = 0; i < pool->nbrokers; i++)
        broker_free(pool->brokers[i]);
    rn_free(pool->brokers);
    rn_free(pool->cluster_id);
    rn_conn_close(&pool->boot);
    pool->seed_hosts = NULL;
    pool->seed_ports = NULL;
    pool->brokers = NULL;
    pool->cluster_id = NULL;
    pool->nseeds = pool->nbrokers = 0;
}
