/* Producer id blocks persisted in the data directory (see rn_pidalloc.h). */
#include "data/rn_pidalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

struct rn_pidalloc {
    char *path;
    char *tmp_path;
    int64_t next;     /* next id to hand out */
    int64_t reserved; /* ids below this are reserved in the file; next <= reserved */
    int64_t block_size;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, path, strerror(errno));
}

/* Write "<value>\n" to tmp_path and rename it over path; fsync both when durable. */
static int write_reservation(rn_pidalloc_t *pa, int64_t value, int durable, char *err,
                             size_t errlen)
{
    char line[32];
    int len = snprintf(line, sizeof(line), "%" PRId64 "\n", value);
    int fd = open(pa->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", pa->tmp_path);
        return RN_EIO;
    }
    ssize_t n = write(fd, line, (size_t)len);
    if (n != len || (durable && fsync(fd) != 0)) {
        if (n >= 0 && n != len)
            errno = ENOSPC;
        set_err(err, errlen, "cannot write %s: %s", pa->tmp_path);
        close(fd);
        unlink(pa->tmp_path);
        return RN_EIO;
    }
    close(fd);
    if (rename(pa->tmp_path, pa->path) != 0) {
        set_err(err, errlen, "cannot rename onto %s: %s", pa->path);
        unlink(pa->tmp_path);
        return RN_EIO;
    }
    if (durable) {
        char *slash = strrchr(pa->path, '/');
        char *dir = slash ? rn_xstrndup(pa->path, (size_t)(slash - pa->path) + 1) : rn_xstrdup(".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        rn_free(dir);
    }
    return 0;
}

static int read_reservation(const char *path, int64_t *value, char *err, size_t errlen)
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

static int reserve(rn_pidalloc_t *pa, int durable, char *err, size_t errlen)
{
    if (pa->reserved > INT64_MAX - pa->block_size)
        return RN_ERANGE;
    int rc = write_reservation(pa, pa->reserved + pa->block_size, durable, err, errlen);
    if (rc == 0)
        pa->reserved += pa->block_size;
    return rc;
}

int rn_pidalloc_open(const char *dir, int64_t block_size, rn_pidalloc_t **out, char *err,
                     size_t errlen)
{
    rn_pidalloc_t *pa = rn_xcalloc(1, sizeof(*pa));
    size_t n = strlen(dir) + sizeof(RN_PIDALLOC_FILE) + 8;
    pa->path = rn_xmalloc(n);
    pa->tmp_path = rn_xmalloc(n);
    snprintf(pa->path, n, "%s/%s", dir, RN_PIDALLOC_FILE);
    snprintf(pa->tmp_path, n, "%s/%s.tmp", dir, RN_PIDALLOC_FILE);
    pa->block_size = block_size > 0 ? block_size : RN_PIDALLOC_BLOCK;
    int rc = read_reservation(pa->path, &pa->next, err, errlen);
    if (rc == 0) {
        pa->reserved = pa->next;
        rc = reserve(pa, 1, err, errlen);
    }
    if (rc) {
        rn_pidalloc_close(pa);
        return rc;
    }
    *out = pa;
    return 0;
}

void rn_pidalloc_close(rn_pidalloc_t *pa)
{
    if (!pa)
        return;
    rn_free(pa->path);
    rn_free(pa->tmp_path);
    rn_free(pa);
}

int rn_pidalloc_next(rn_pidalloc_t *pa, int64_t *producer_id)
{
    if (pa->next == pa->reserved) {
        char err[512];
        int rc = reserve(pa, 0, err, sizeof(err));
        if (rc == RN_EIO)
            RN_ERROR("pidalloc", "cannot reserve producer ids: %s", err);
        if (rc)
            return rc;
    }
    *producer_id = pa->next++;
    return 0;
}
