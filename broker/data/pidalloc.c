/* Producer ids from the controller's blocks (see rn_pidalloc.h). */
#include "data/rn_pidalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rn_alloc.h"
#include "rn_err.h"

struct rn_pidalloc_wait {
    rn_pidalloc_wait_t *next;
    int64_t deadline_ms;
    void (*done)(void *arg, int rc, int64_t producer_id);
    void *arg;
};

/* Ids next..end-1 are granted and unused; a prefetched block waits in
 * next_start..next_end-1 (empty when equal). asked: a block is asked for and not yet
 * granted. Waiters are in arrival order, and only while no id is left. */
struct rn_pidalloc {
    int64_t floor;
    int64_t start, next, end;
    int64_t next_start, next_end;
    bool asked;
    void (*ask)(void *arg);
    void *ask_arg;
    rn_pidalloc_wait_t *waiters, **tail;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, path, strerror(errno));
}

static int read_mark_file(const char *path, int64_t *value, char *err, size_t errlen)
{
    *value = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        set_err(err, errlen, "cannot open %s: %s", path);
        return RN_EIO;
    }
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        set_err(err, errlen, "cannot read %s: %s", path);
        return RN_EIO;
    }
    buf[n] = '\0';
    int64_t v = 0;
    ssize_t i = 0;
    for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (v > (INT64_MAX - (buf[i] - '0')) / 10)
            break;
        v = v * 10 + (buf[i] - '0');
    }
    if (i == 0 || i + 1 != n || buf[i] != '\n') {
        if (err && errlen)
            snprintf(err, errlen,
                     "%s is corrupt: expected one decimal producer id and a newline; restore it "
                     "or remove it only if no producer id was ever handed out",
                     path);
        return RN_ECORRUPT;
    }
    *value = v;
    return 0;
}

int rn_pidalloc_read_mark(const char *dir, int64_t *mark, char *err, size_t errlen)
{
    size_t n = strlen(dir) + sizeof(RN_PIDALLOC_FILE) + 2;
    char *path = rn_xmalloc(n);
    snprintf(path, n, "%s/%s", dir, RN_PIDALLOC_FILE);
    int rc = read_mark_file(path, mark, err, errlen);
    rn_free(path);
    return rc;
}

rn_pidalloc_t *rn_pidalloc_new(int64_t floor, void (*ask)(void *arg), void *arg)
{
    rn_pidalloc_t *pa = rn_xcalloc(1, sizeof(*pa));
    pa->floor = floor > 0 ? floor : 0;
    pa->ask = ask;
    pa->ask_arg = arg;
    pa->tail = &pa->waiters;
    return pa;
}

void rn_pidalloc_free(rn_pidalloc_t *pa)
{
    if (!pa)
        return;
    rn_pidalloc_wait_t *w;
    while ((w = pa->waiters) != NULL) {
        pa->waiters = w->next;
        w->done(w->arg, RN_ECANCELED, -1);
        rn_free(w);
    }
    rn_free(pa);
}

/* Ask for a block once the current one is 90% used and none is prefetched or asked for. */
static void maybe_ask(rn_pidalloc_t *pa)
{
    if (pa->asked || pa->next_end > pa->next_start || pa->ask == NULL)
        return;
    int64_t size = pa->end - pa->start;
    if (size > 0 && (pa->next - pa->start) * 100 < size * RN_PIDALLOC_PREFETCH_PCT)
        return;
    pa->asked = true;
    pa->ask(pa->ask_arg);
}

int rn_pidalloc_next(rn_pidalloc_t *pa, int64_t *producer_id)
{
    if (pa->next == pa->end && pa->next_end > pa->next_start) {
        pa->start = pa->next = pa->next_start;
        pa->end = pa->next_end;
        pa->next_start = pa->next_end = 0;
    }
    if (pa->next == pa->end) {
        maybe_ask(pa);
        return RN_ENOTFOUND;
    }
    *producer_id = pa->next++;
    maybe_ask(pa);
    return 0;
}

void rn_pidalloc_add_block(rn_pidalloc_t *pa, int64_t start, int32_t len)
{
    pa->asked = false;
    int64_t end = len > 0 && start <= INT64_MAX - len ? start + len : start;
    if (start < pa->floor)
        start = pa->floor < end ? pa->floor : end;
    if (start < end) {
        pa->next_start = start;
        pa->next_end = end;
    }
    int64_t id;
    rn_pidalloc_wait_t *w;
    while ((w = pa->waiters) != NULL && rn_pidalloc_next(pa, &id) == 0) {
        pa->waiters = w->next;
        if (pa->waiters == NULL)
            pa->tail = &pa->waiters;
        w->done(w->arg, 0, id);
        rn_free(w);
    }
    if (start >= end)
        maybe_ask(pa); /* nothing usable came: the next block */
}

rn_pidalloc_wait_t *rn_pidalloc_wait(rn_pidalloc_t *pa, int64_t deadline_ms,
                                     void (*done)(void *arg, int rc, int64_t producer_id),
                                     void *arg)
{
    rn_pidalloc_wait_t *w = rn_xcalloc(1, sizeof(*w));
    *w = (rn_pidalloc_wait_t){NULL, deadline_ms, done, arg};
    *pa->tail = w;
    pa->tail = &w->next;
    return w;
}

static void unlink_wait(rn_pidalloc_t *pa, rn_pidalloc_wait_t **pp)
{
    rn_pidalloc_wait_t *w = *pp;
    *pp = w->next;
    if (pa->tail == &w->next)
        pa->tail = pp;
}

void rn_pidalloc_unwait(rn_pidalloc_t *pa, rn_pidalloc_wait_t *w)
{
    for (rn_pidalloc_wait_t **pp = &pa->waiters; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            unlink_wait(pa, pp);
            rn_free(w);
            return;
        }
    }
}

void rn_pidalloc_expire(rn_pidalloc_t *pa, int64_t now_ms)
{
    for (rn_pidalloc_wait_t **pp = &pa->waiters; *pp != NULL;) {
        rn_pidalloc_wait_t *w = *pp;
        if (now_ms < w->deadline_ms) {
            pp = &w->next;
            continue;
        }
        unlink_wait(pa, pp);
        w->done(w->arg, RN_ENOTFOUND, -1);
        rn_free(w);
    }
}
