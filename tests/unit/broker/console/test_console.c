/* rn_console in process: a broker with console.enable on an ephemeral metrics port, its loop
 * on a thread, HTTP over real sockets. The redirect, the pages and their content types, no
 * asset loading anything from another origin (no CDN), the API's JSON, its errors (unknown
 * API 404, unknown topic 404, a page over the bound 400), writes refused on a read-only
 * console (403 by GET, 501 for POST: the listener takes no bodies), and /metrics still served
 * on the same listener. */
#include "rn_broker.h"
#include "console/rn_console.h"
#include "ops/rn_http.h"
#include "tap.h"
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct event_base *base;
static rn_broker_t broker;
static rn_config_t cfg;
static pthread_t loop_thread;

static void *loop_main(void *arg)
{
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* One request with Connection: close; the whole answer (headers and body) into buf. */
static const char *host_header = "127.0.0.1";

static size_t get(int port, const char *method, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
        char req[512];
        int n =
            snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     method, path, host_header);
        if (write(fd, req, (size_t)n) == n) {
            ssize_t r;
            while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0)
                got += (size_t)r;
        }
    }
    buf[got] = '\0';
    close(fd);
    return got;
}

static int status_of(const char *answer)
{
    int code = 0;
    sscanf(answer, "HTTP/1.1 %d", &code);
    return code;
}

int main(void)
{
    evthread_use_pthreads();
    char dir[256];
    tu_tmpdir(dir, "console");
    char *argv[] = {"runneld",          "--listen",    "127.0.0.1:0",      "--data-dir", dir,
                    "--metrics.listen", "127.0.0.1:0", "--console.enable", "true",       NULL};
    char err[512];
    rn_config_init(&cfg);
    if (rn_config_load(&cfg, 9, argv, err, sizeof(err)) != 0) {
        diag("config: %s", err);
        return 1;
    }
    base = event_base_new();
    if (rn_broker_start(&broker, &cfg, base, err, sizeof(err)) != 0) {
        diag("start: %s", err);
        return 1;
    }
    ok(broker.console != NULL, "console.enable sets up the console");
    int port = rn_http_port(broker.http);
    pthread_create(&loop_thread, NULL, loop_main, NULL);

    static char buf[1 << 20];
    get(port, "GET", "/", buf, sizeof(buf));
    is(status_of(buf), 302, "/ redirects");
    ok(strstr(buf, "Location: /console/") != NULL, "to /console/");
    get(port, "GET", "/console/", buf, sizeof(buf));
    is(status_of(buf), 200, "/console/ is the page");
    ok(strstr(buf, "Content-Type: text/html") != NULL && strstr(buf, "/console/app.js") != NULL,
       "HTML that loads app.js");
    ok(strstr(buf, "Content-Security-Policy: default-src 'self'") != NULL,
       "with a same-origin content security policy");
    get(port, "GET", "/console/app.js", buf, sizeof(buf));
    ok(status_of(buf) == 200 && strstr(buf, "Content-Type: text/javascript") != NULL,
       "app.js as JavaScript");
    int foreign = 0;
    const char *assets[] = {"/console/index.html", "/console/app.js", "/console/app.css"};
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        get(port, "GET", assets[i], buf, sizeof(buf));
        ok(status_of(buf) == 200, "%s served", assets[i]);
        const char *body = strstr(buf, "\r\n\r\n");
        for (const char *p = body; p != NULL && (p = strstr(p, "http")) != NULL; p++)
            if ((strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) &&
                strncmp(p, "http://www.w3.org/2000/svg", 26) != 0)
                foreign++;
    }
    is(foreign, 0, "no asset names another origin (no CDN)");

    get(port, "GET", "/api/overview", buf, sizeof(buf));
    ok(status_of(buf) == 200 && strstr(buf, "application/json") != NULL &&
           strstr(buf, "\"node_id\":") != NULL && strstr(buf, "\"write_enabled\":false") != NULL,
       "/api/overview: JSON, read-only");
    get(port, "GET", "/api/cluster", buf, sizeof(buf));
    ok(status_of(buf) == 200 && strstr(buf, "\"voters\":[{") != NULL, "/api/cluster lists voters");
    get(port, "GET", "/api/groups", buf, sizeof(buf));
    ok(status_of(buf) == 200 && strstr(buf, "\"groups\":[]") != NULL, "/api/groups: none yet");
    get(port, "GET", "/api/nothing", buf, sizeof(buf));
    is(status_of(buf), 404, "unknown API: 404");
    get(port, "GET", "/api/topic?name=nope", buf, sizeof(buf));
    is(status_of(buf), 404, "unknown topic: 404");
    get(port, "GET", "/api/messages?topic=nope&limit=100000", buf, sizeof(buf));
    is(status_of(buf), 400, "a page over the bound: 400");
    ok(strstr(buf, "parameter limit") != NULL, "naming the parameter");
    get(port, "GET", "/api/messages?topic=nope&partition=x", buf, sizeof(buf));
    is(status_of(buf), 400, "a malformed number: 400");
    get(port, "GET", "/api/produce?topic=t", buf, sizeof(buf));
    is(status_of(buf), 403, "a write action on a read-only console: 403");
    get(port, "POST", "/api/topics/create?name=t", buf, sizeof(buf));
    is(status_of(buf), 501, "POST refused by the listener when writes are off");
    get(port, "GET", "/metrics", buf, sizeof(buf));
    ok(status_of(buf) == 200 && strstr(buf, "runnel_broker_info") != NULL, "/metrics still served");
    host_header = "evil.example:80";
    get(port, "GET", "/api/overview", buf, sizeof(buf));
    is(status_of(buf), 403, "a Host naming another site (DNS rebinding): 403");
    host_header = "localhost:1";
    get(port, "GET", "/api/overview", buf, sizeof(buf));
    is(status_of(buf), 200, "Host localhost is fine");
    host_header = "[::1]:1";
    get(port, "GET", "/api/overview", buf, sizeof(buf));
    is(status_of(buf), 200, "Host [::1] is fine");
    host_header = "127.0.0.1.evil.example";
    get(port, "GET", "/api/overview", buf, sizeof(buf));
    is(status_of(buf), 403, "a name that starts like 127.0.0.1 is not");
    host_header = "127.0.0.1";
    get(port, "GET", "/elsewhere", buf, sizeof(buf));
    is(status_of(buf), 404, "other paths: 404");

    event_base_loopbreak(base);
    pthread_join(loop_thread, NULL);
    is(rn_broker_close(&broker, true, err, sizeof(err)), 0, "broker closes cleanly");
    event_base_free(base);
    rn_config_free(&cfg);
    tu_rmtree(dir);
    return done_testing();
}
