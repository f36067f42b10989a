/* rn_console: routing, access checks, the compiled-in assets, the API's small helpers and
 * the lag sampler (see rn_console.h). */
#include "console/console_int.h"

#include "rn_alloc.h"
#include "rn_broker.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Groups whose lag history is kept. */
#define RN_CONSOLE_MAX_GROUPS 256

int64_t rn__console_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    return (int64_t)(rn_clock_mono_ns() / 1000000u);
}

static void on_sample(evutil_socket_t fd, short what, void *arg)
{
    rn_console_t *con = arg;
    if (mono_ms() - con->looked_ms > RN_CONSOLE_IDLE_MS)
        return; /* nobody looks: stop until the next API request */
    rn__console_sample(con);
    struct timeval tv = {RN_CONSOLE_SAMPLE_MS / 1000, (RN_CONSOLE_SAMPLE_MS % 1000) * 1000};
    event_add(con->sampler, &tv);
}

rn_console_t *rn_console_new(rn_broker_t *b, char *err, size_t errlen)
{
    if (rn__console_n_assets == 0) {
        snprintf(err, errlen,
                 "console.enable: this runneld was built without the console (RN_CONSOLE=OFF)");
        return NULL;
    }
    rn_console_t *con = rn_xcalloc(1, sizeof(*con));
    con->b = b;
    con->started_ns = rn_clock_mono_ns();
    con->allow_remote = rn_config_bool(b->cfg, RN_CFG_CONSOLE_ALLOW_REMOTE);
    con->write = rn_config_bool(b->cfg, RN_CFG_CONSOLE_WRITE_ENABLE);
    con->lag = rn_lagstat_new(RN_CONSOLE_MAX_GROUPS);
    con->sampler = evtimer_new(b->base, on_sample, con);
    if (con->sampler == NULL) {
        snprintf(err, errlen, "console: out of memory");
        rn_console_free(con);
        return NULL;
    }
    return con;
}

bool rn_console_writes(const rn_console_t *con)
{
    return con->write;
}

void rn_console_free(rn_console_t *con)
{
    if (con == NULL)
        return;
    rn__console_write_free(con);
    if (con->sampler != NULL)
        event_free(con->sampler);
    rn_lagstat_free(con->lag);
    rn_free(con);
}

/* ---- helpers ---- */

const char *rn__console_param(const rn__console_q_t *q, const char *name)
{
    return evhttp_find_header(q->params, name);
}

bool rn__console_int(const rn__console_q_t *q, const char *name, int64_t def, int64_t min,
                     int64_t max, int64_t *out)
{
    const char *text = rn__console_param(q, name);
    if (text == NULL || *text == '\0') {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        char msg[160];
        snprintf(msg, sizeof(msg), "parameter %s: \"%.40s\" is not an integer in %lld..%lld", name,
                 text, (long long)min, (long long)max);
        rn__console_error(q->req, HTTP_BADREQUEST, msg);
        return false;
    }
    *out = v;
    return true;
}

static void send_body(struct evhttp_request *req, int status, const char *type, const void *data,
                      size_t len, bool reference)
{
    struct evbuffer *body = evbuffer_new();
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    int rc = body == NULL ? -1
             : reference  ? evbuffer_add_reference(body, data, len, NULL, NULL)
                          : evbuffer_add(body, data, len);
    if (rc != 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
    } else {
        evhttp_add_header(hdr, "Content-Type", type);
        evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
        evhttp_add_header(hdr, "Content-Security-Policy",
                          "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
        evhttp_add_header(hdr, "Cache-Control", "no-store");
        evhttp_send_reply(req, status, NULL, body);
    }
    if (body != NULL)
        evbuffer_free(body);
}

void rn__console_reply(struct evhttp_request *req, rn_json_t *j)
{
    if (j->err != 0) {
        RN_WARN("console", "answer to %s not sent: %s", evhttp_request_get_uri(req),
                j->err == RN_ETOOBIG ? "over the answer cap" : "out of memory");
        rn__console_error(req, HTTP_INTERNAL, "answer too large");
        return;
    }
    send_body(req, HTTP_OK, "application/json", j->buf, j->len, false);
}

void rn__console_error(struct evhttp_request *req, int status, const char *msg)
{
    rn_json_t j;
    rn_json_init(&j, 4096);
    rn_json_obj(&j);
    rn_json_kstr(&j, "error", msg);
    rn_json_end(&j);
    send_body(req, status, "application/json", j.buf, j.len, false);
    rn_json_free(&j);
}

/* ---- routing ---- */

static bool loopback(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evcon != NULL ? evhttp_connection_get_addr(evcon) : NULL;
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* With loopback clients only, the Host header must name loopback too: a page elsewhere whose
 * name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name and is refused. */
static bool loopback_host(struct evhttp_request *req)
{
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    if (host == NULL)
        return true; /* HTTP/1.0 without Host: not a browser */
    size_t n = strlen(host);
    const char *colon = strrchr(host, ':');
    if (colon != NULL && host[0] != '[')
        n = (size_t)(colon - host);
    else if (host[0] == '[' && (colon = strchr(host, ']')) != NULL)
        n = (size_t)(colon - host + 1);
    return (n == 9 && strncmp(host, "localhost", 9) == 0) ||
           (n == 5 && strncmp(host, "[::1]", 5) == 0) ||
           (n >= 9 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") >= n);
}

typedef struct route {
    const char *path;
    bool write;
    void (*fn)(const rn__console_q_t *q);
} route_t;

static const route_t routes[] = {
    {"/api/overview", false, rn__console_overview},
    {"/api/topics", false, rn__console_topics},
    {"/api/topic", false, rn__console_topic},
    {"/api/cluster", false, rn__console_cluster},
    {"/api/messages", false, rn__console_messages},
    {"/api/segments", false, rn__console_segments},
    {"/api/batch", false, rn__console_batch},
    {"/api/groups", false, rn__console_groups},
    {"/api/group", false, rn__console_group},
    {"/api/topics/create", true, rn__console_create_topic},
    {"/api/topics/partitions", true, rn__console_add_partitions},
    {"/api/topics/config", true, rn__console_alter_config},
    {"/api/groups/reset", true, rn__console_reset_offsets},
    {"/api/produce", true, rn__console_produce},
};

static void api(rn_console_t *con, struct evhttp_request *req, const char *path,
                const struct evhttp_uri *uri)
{
    const route_t *rt = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && rt == NULL; i++)
        if (strcmp(routes[i].path, path) == 0)
            rt = &routes[i];
    if (rt == NULL) {
        rn__console_error(req, HTTP_NOTFOUND, "no such API");
        return;
    }
    bool post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
    if (rt->write && !con->write) {
        rn__console_error(req, 403, "read-only console: set console.write.enable to allow this");
        return;
    }
    if (rt->write != post) {
        rn__console_error(req, 405, rt->write ? "use POST" : "use GET");
        return;
    }
    /* Another site's page may POST here (a form needs no permission), but it cannot add a
     * header of its own without a CORS preflight, which this server never grants. */
    if (rt->write &&
        evhttp_find_header(evhttp_request_get_input_headers(req), "X-Runnel-Console") == NULL) {
        rn__console_error(req, 403, "write actions need the X-Runnel-Console header");
        return;
    }
    struct evkeyvalq params;
    TAILQ_INIT(&params);
    const char *query = evhttp_uri_get_query(uri);
    if (query != NULL && evhttp_parse_query_str(query, &params) != 0) {
        rn__console_error(req, HTTP_BADREQUEST, "malformed query string");
        evhttp_clear_headers(&params);
        return;
    }
    con->looked_ms = mono_ms();
    if (!evtimer_pending(con->sampler, NULL)) {
        struct timeval now = {0, 0};
        event_add(con->sampler, &now);
    }
    rn__console_q_t q = {con, req, &params};
    rt->fn(&q);
    evhttp_clear_headers(&params);
}

static void asset(struct evhttp_request *req, const char *path)
{
    if (strcmp(path, "/console") == 0 || strcmp(path, "/console/") == 0)
        path = "/console/index.html";
    for (size_t i = 0; i < rn__console_n_assets; i++) {
        const rn__console_asset_t *a = &rn__console_assets[i];
        if (strcmp(a->path, path) == 0) {
            send_body(req, HTTP_OK, a->type, a->data, a->len, true);
            return;
        }
    }
    rn__console_error(req, HTTP_NOTFOUND, "no such page");
}

bool rn_console_route(void *arg, struct evhttp_request *req)
{
    rn_console_t *con = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL)
        return false;
    bool is_api = strncmp(path, "/api/", 5) == 0;
    bool is_page = strcmp(path, "/") == 0 || strcmp(path, "/console") == 0 ||
                   strncmp(path, "/console/", 9) == 0;
    if (!is_api && !is_page)
        return false;
    if (!con->allow_remote && (!loopback(req) || !loopback_host(req))) {
        rn__console_error(req, 403,
                          "the console answers loopback clients only "
                          "(console.allow.remote)");
        return true;
    }
    if (strcmp(path, "/") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/console/");
        evhttp_send_reply(req, 302, "Found", NULL);
    } else if (is_api) {
        api(con, req, path, uri);
    } else {
        asset(req, path);
    }
    return true;
}
