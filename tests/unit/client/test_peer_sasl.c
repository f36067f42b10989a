/* rn_peer's SASL login (client/peer_sasl.c) against a real runneld whose one listener is
 * SASL_PLAINTEXT (the inter-broker user "admin" of its sasl.jaas.config is accepted): SCRAM
 * and PLAIN logins carry requests, a wrong password and a peer without SASL get nothing
 * through, and with connections.max.reauth.ms the peer reconnects before its session ends so
 * requests keep being answered. Skipped when the binary is not there. */
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
#include <string.h>
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
                              "--listener.security.protocol.map",
                              "PLAINTEXT:SASL_PLAINTEXT",
                              "--sasl.enabled.mechanisms",
                              "SCRAM-SHA-512,PLAIN",
                              "--sasl.jaas.config",
                              "x required username=\"admin\" password=\"admin-pw\";",
                              "--connections.max.reauth.ms",
                              "1500",
                              NULL};
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

/* One Metadata through peer: its status. */
static int metadata(rn_peer_t *peer, int ms)
{
    result_t md = {.status = 99};
    rn_metadata_request_t req;
    rn_metadata_request_init(&req);
    req.topics.count = 0;
    int want = ncalls + 1;
    if (rn_peer_send(peer, RN_API_METADATA, 9, &req, on_metadata, &md) != 0)
        return -100;
    run_until(want, ms);
    return md.node_id == 1 ? md.status : (md.status == RN_PEER_OK ? -101 : md.status);
}

static rn_peer_t *peer_for(int port, const char *mech, const char *user, const char *pw)
{
    rn_peer_opts_t opts = {.host = "127.0.0.1",
                           .port = port,
                           .node_id = 1,
                           .connect_timeout_ms = 3000,
                           .request_timeout_ms = 4000,
                           .backoff_initial_ms = 20,
                           .backoff_max_ms = 200,
                           .sasl_mechanism = mech,
                           .sasl_username = user,
                           .sasl_password = pw};
    return rn_peer_new(base, &opts);
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
    tu_tmpdir(dir, "peer-sasl");
    int port = unused_port();
    base = event_base_new();
    pid_t pid = start_runneld(bin, port, dir);
    ok(pid > 0, "runneld started on port %d", port);

    rn_peer_t *scram = peer_for(port, "SCRAM-SHA-512", "admin", "admin-pw");
    is(metadata(scram, 15000), RN_PEER_OK, "SCRAM-SHA-512 login, then Metadata answered");
    ok(rn_peer_state(scram) == RN_PEER_READY, "ready after the login");

    rn_peer_t *plain = peer_for(port, "PLAIN", "admin", "admin-pw");
    is(metadata(plain, 10000), RN_PEER_OK, "PLAIN login, then Metadata answered");

    rn_peer_t *wrong = peer_for(port, "SCRAM-SHA-512", "admin", "nope");
    ok(metadata(wrong, 6000) != RN_PEER_OK, "a wrong password gets nothing through");
    ok(strstr(rn_peer_last_error(wrong), "refused") != NULL, "and says the login was refused: %s",
       rn_peer_last_error(wrong));

    rn_peer_t *none = peer_for(port, NULL, NULL, NULL);
    ok(metadata(none, 6000) != RN_PEER_OK, "a peer without SASL gets nothing through");

    /* Sessions of 1.5 s: requests over 4 s are all answered; the peer reconnected. */
    rn_peer_stats_t before, after;
    rn_peer_stats(scram, &before);
    int good = 0;
    for (int i = 0; i < 8; i++) {
        good += metadata(scram, 5000) == RN_PEER_OK;
        int64_t end = now_ms() + 500;
        while (now_ms() < end)
            event_base_loop(base, EVLOOP_NONBLOCK), usleep(10000);
    }
    rn_peer_stats(scram, &after);
    is(good, 8, "every request over three sessions answered");
    ok(after.handshakes > before.handshakes, "the peer logged in again (%llu logins)",
       (unsigned long long)after.handshakes);

    rn_peer_free(scram);
    rn_peer_free(plain);
    rn_peer_free(wrong);
    rn_peer_free(none);
    kill(pid, SIGTERM);
    int wst = 0;
    waitpid(pid, &wst, 0);
    ok(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "runneld stopped cleanly");
    event_base_free(base);
    tu_rmtree(dir);
    return done_testing();
}
