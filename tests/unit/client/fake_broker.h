/* A scripted Kafka broker for the client tests (test_conn.c, test_peer.c): a loopback
 * listener whose accept loop runs each connection's handler on a thread of its own, and the
 * frame reading those handlers share. What the broker answers is the test's. Header-only. */
#ifndef RN_TEST_FAKE_BROKER_H
#define RN_TEST_FAKE_BROKER_H

#include "rn_alloc.h"
#include "rn_endian.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* Read exactly len bytes; 0, or -1 at EOF or error. */
static inline int fb_read_exact(int fd, uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t k = read(fd, buf + off, len - off);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    return 0;
}

/* Read one request frame (after its int32 size) into *frame, grown as needed (free it with
 * rn_free); its size in *n. 0, or -1 when the connection ends. */
static inline int fb_read_frame(int fd, uint8_t **frame, uint32_t *n)
{
    uint8_t sz[4];
    if (fb_read_exact(fd, sz, 4) != 0)
        return -1;
    *n = rn_load_be32(sz);
    *frame = rn_xrealloc(*frame, *n ? *n : 1);
    return fb_read_exact(fd, *frame, *n);
}

typedef struct fb_listener {
    int fd;
    void *(*conn_main)(void *arg); /* gets the connection's fd as (intptr_t)arg */
} fb_listener_t;

static inline void *fb_accept_loop(void *arg)
{
    fb_listener_t *l = arg;
    for (;;) {
        int fd = accept(l->fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t th;
        pthread_create(&th, NULL, l->conn_main, (void *)(intptr_t)fd);
        pthread_detach(th);
    }
}

/* Listen on 127.0.0.1:want (0: any port) and serve each connection with conn_main on its own
 * thread; returns the port, or -1. Listeners live until the process ends (eight at most). */
static inline int fb_listen(int want, void *(*conn_main)(void *arg))
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)want)};
    socklen_t len = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) != 0) {
        close(lfd);
        return -1;
    }
    static fb_listener_t listeners[8]; /* a test listens a few times at most */
    static int n_listeners;
    if (n_listeners == 8) {
        close(lfd);
        return -1;
    }
    fb_listener_t *l = &listeners[n_listeners++];
    *l = (fb_listener_t){lfd, conn_main};
    pthread_t th;
    pthread_create(&th, NULL, fb_accept_loop, l);
    pthread_detach(th);
    return ntohs(sa.sin_port);
}

#endif
