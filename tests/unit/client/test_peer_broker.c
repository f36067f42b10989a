/* rn_peer against a real runneld (started as a child process from $RN_BUILD_DIR, which
 * ctest sets): the peer retries with backoff until the broker listens, handshakes,
 * and carries ApiVersions and Metadata, one at a time and pipelined; when the broker
 * stops, the peer sees the connection go. Skipped when the binary is not there. */
#include "rn_err.h"
#include "rn_peer.h"
#include "rn_rpc.h"
#include "rn_str.h"
#include "tap.h"
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct event_base *base;
static int ncalls;

typedef struct result {
    int status;
    int16_t error_code;
    int32_t node_id; /* Metadata: the one broker's id */
    int32_t port;
    int nkeys; /* ApiVersions: api keys listed */
    int order;
} result_t;

static void on_api_versions(void *arg, int status, const void *response)
{
    result_t *r = arg;
    const rn_api_versions_response_t *av = response;
    r->status = status;
    r->order = ncalls++;
    if (av != NULL) {
        r->error_code = av->error_code;
        r->nkeys = av->api_keys.count;
    }
}

static void on_metadata(void *arg, int status, const void *response)
{
    result_t *r = arg;
    const rn_metadata_response_t *md = response;
    r->status = status;
    r->order = ncalls++;
    if (md != NULL && md->brokers.count == 1) {
        r->node_id = md->brokers.items[0].node_id;
        r->port = md->brokers.items[0].port;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_until(int want, int ms)
{
    int64_t end = now_ms() + ms;
    while (ncalls < want && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
}

static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static pid_t start_runneld(const char *bin, int port, const char *dir)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int log = open(tu_path(dir, "runneld.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        char *const argv[] = {(char *)bin,
                              "--node-id",
                              "1",
                              "--listen",
                              listen,
                              "--data-dir",
                              (char *)tu_path(dir, "data"),
                              NULL};
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

static void metadata_burst(rn_peer_t *peer, int16_t v)
{
    enum { N = 20 };
    result_t r[N];
    memset(r, 0, sizeof r);
    rn_metadata_request_t req;
    rn_metadata_request_init(&req);
    req.topics.count = 0; /* no topics: brokers and controller only */
    int base_calls = ncalls, accepted = 0;
    for (int i = 0; i < N; i++)
        accepted += rn_peer_send(peer, RN_API_METADATA, v, &req, on_metadata, &r[i]) == 0;
    is(accepted, N, "%d Metadata requests pipelined", N);
    run_until(base_calls + N, 10000);
    int good = 0;
    for (int i = 0; i < N; i++)
        good += r[i].status == RN_PEER_OK && r[i].node_id == 1 && r[i].order == base_calls + i;
    is(good, N, "all answered by node 1, in order");
}

int main(void)
{
    const char *build = getenv("RN_BUILD_DIR");
    char bin[512];
    snprintf(bin, sizeof bin, "%s/broker/runneld", build ? build : "build");
    if (access(bin, X_OK) != 0) {
        printf("1..0 # SKIP no runneld at %s (RN_BUILD_DIR)\n", bin);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    char dir[256];
    tu_tmpdir(dir, "peer-broker");
    int port = unused_port();
    base = event_base_new();

    /* The peer starts first: it meets a refused port and retries with backoff. */
    rn_peer_opts_t opts = {.host = "127.0.0.1",
                           .port = port,
                           .node_id = 1,
                           .request_timeout_ms = 15000,
                           .backoff_initial_ms = 20,
                           .backoff_max_ms = 200};
    rn_peer_t *peer = rn_peer_new(base, &opts);
    rn_api_versions_request_t avreq;
    rn_api_versions_request_init(&avreq);
    avreq.client_software_name = rn_str("runnel-test");
    avreq.client_software_version = rn_str("0");
    result_t av = {.status = 99};
    is(rn_peer_send(peer, RN_API_API_VERSIONS, 3, &avreq, on_api_versions, &av), 0,
       "ApiVersions queued before the broker runs");
    pid_t pid = start_runneld(bin, port, dir);
    ok(pid > 0, "runneld started on port %d", port);
    run_until(1, 15000);
    ok(av.status == RN_PEER_OK && av.error_code == 0 && av.nkeys > 10,
       "ApiVersions answered (%d, error %d, %d keys)", av.status, av.error_code, av.nkeys);

    int16_t v = rn_peer_version(peer, RN_API_METADATA, -1);
    ok(v >= 9, "Metadata: the highest common version (%d) is flexible", v);
    result_t md = {.status = 99};
    rn_metadata_request_t req;
    rn_metadata_request_init(&req);
    req.topics.count = -1; /* all topics */
    is(rn_peer_send(peer, RN_API_METADATA, v, &req, on_metadata, &md), 0, "Metadata sent");
    run_until(2, 10000);
    ok(md.status == RN_PEER_OK && md.node_id == 1 && md.port == port,
       "Metadata: one broker, node 1 on port %d (%d, node %d, port %d)", port, md.status,
       md.node_id, md.port);
    metadata_burst(peer, v);

    kill(pid, SIGTERM);
    int wst = 0;
    waitpid(pid, &wst, 0);
    ok(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "runneld stopped cleanly");
    int64_t end = now_ms() + 3000;
    while (rn_peer_state(peer) == RN_PEER_READY && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    ok(rn_peer_state(peer) != RN_PEER_READY, "the peer saw the connection close: %s",
       rn_peer_last_error(peer));
    rn_peer_free(peer);
    event_base_free(base);
    tu_rmtree(dir);
    return done_testing();
}
