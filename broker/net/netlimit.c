/* rn_netlimit: episodes, accept back-off and per-address connection limits
 * (see rn_netlimit.h). */
#include "net/rn_netlimit.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool rn_episode_hit(rn_episode_t *ep, uint64_t now_ns, uint64_t quiet_ns)
{
    bool starts = !ep->active || now_ns - ep->last_ns >= quiet_ns;
    if (starts) {
        ep->active = true;
        ep->hits = 0;
    }
    ep->hits++;
    ep->last_ns = now_ns;
    return starts;
}

uint64_t rn_episode_end(rn_episode_t *ep)
{
    uint64_t hits = ep->active ? ep->hits : 0;
    ep->active = false;
    ep->hits = 0;
    return hits;
}

bool rn_lograte_allow(rn_lograte_t *lr, uint64_t now_ns, uint32_t per_window, uint64_t *suppressed)
{
    if (lr->window_ns == 0 || now_ns - lr->window_ns >= RN_LOGRATE_WINDOW_NS) {
        lr->window_ns = now_ns;
        lr->lines = 0;
    }
    if (lr->lines >= per_window) {
        lr->suppressed++;
        return false;
    }
    lr->lines++;
    if (suppressed != NULL)
        *suppressed = lr->suppressed;
    lr->suppressed = 0;
    return true;
}

int rn_accept_backoff_next(int cur_ms)
{
    if (cur_ms <= 0)
        return RN_ACCEPT_BACKOFF_FIRST_MS;
    return cur_ms >= RN_ACCEPT_BACKOFF_MAX_MS / 2 ? RN_ACCEPT_BACKOFF_MAX_MS : cur_ms * 2;
}

/* host (a literal or a name) to the numeric form peers are compared in. */
static int numeric_host(const char *host, char *out, size_t outlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return RN_EINVAL;
    int rc = 0;
    const void *addr = res->ai_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    if (inet_ntop(res->ai_family, addr, out, (socklen_t)outlen) == NULL)
        rc = RN_EINVAL;
    freeaddrinfo(res);
    return rc;
}

int rn_ip_limits_parse(const char *text, rn_ip_limit_t **out, size_t *count, char *err,
                       size_t errlen)
{
    *out = NULL;
    *count = 0;
    if (text == NULL || *text == '\0')
        return 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    rn_ip_limit_t *limits = rn_xcalloc(cap, sizeof(*limits));
    size_t n = 0;
    for (const char *item = text; *item != '\0';) {
        const char *comma = strchr(item, ',');
        size_t len = comma != NULL ? (size_t)(comma - item) : strlen(item);
        char buf[300];
        if (len == 0 || len >= sizeof(buf))
            goto bad;
        memcpy(buf, item, len);
        buf[len] = '\0';
        char *colon = strrchr(buf, ':');
        if (colon == NULL || colon == buf || colon[1] == '\0')
            goto bad;
        *colon = '\0';
        char *host = buf;
        if (host[0] == '[') {
            size_t hlen = strlen(host);
            if (hlen < 3 || host[hlen - 1] != ']')
                goto bad;
            host[hlen - 1] = '\0';
            host++;
        }
        char *end;
        errno = 0;
        long long limit = strtoll(colon + 1, &end, 10);
        if (errno != 0 || *end != '\0' || limit < 0 || limit > INT32_MAX)
            goto bad;
        if (numeric_host(host, limits[n].ip, sizeof(limits[n].ip)) != 0) {
            snprintf(err, errlen,
                     "max.connections.per.ip.overrides: cannot resolve \"%s\" to an address", host);
            rn_free(limits);
            return RN_EINVAL;
        }
        limits[n++].limit = (int32_t)limit;
        item = comma != NULL ? comma + 1 : item + len;
        continue;
    bad:
        snprintf(err, errlen,
                 "max.connections.per.ip.overrides: \"%.*s\" is not HOST:N (e.g. "
                 "10.0.0.7:50,[::1]:10)",
                 (int)(len < 200 ? len : 200), item);
        rn_free(limits);
        return RN_EINVAL;
    }
    *out = limits;
    *count = n;
    return 0;
}

int32_t rn_ip_limit_for(const rn_ip_limit_t *limits, size_t count, const char *ip, int32_t def)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(limits[i].ip, ip) == 0)
            return limits[i].limit;
    return def;
}
