/* Small-file helpers: atomic whole-file replace, capped whole-file read, mkdir -p, rm -rf,
 * directory fsync (see rn_fsutil.h). */
#include "rn_fsutil.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *rn_fsutil_join(const char *dir, const char *name)
{
    size_t dlen = strlen(dir), nlen = strlen(name);
    char *p = rn_xmalloc(dlen + nlen + 2);
    memcpy(p, dir, dlen);
    p[dlen] = '/';
    memcpy(p + dlen + 1, name, nlen + 1);
    return p;
}

void rn_fsutil_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Write all of buf, retrying short writes and EINTR. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int rn_fsutil_fsync_dir(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rn_fsutil_seterr(err, errlen, "cannot open directory %s to fsync it: %s", path,
                         strerror(errno));
        return RN_EIO;
    }
    if (fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        rn_fsutil_seterr(err, errlen, "fsync of directory %s failed: %s", path, strerror(errno));
        return RN_EIO;
    }
    close(fd);
    return 0;
}

int rn_fsutil_fsync_parent(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return rn_fsutil_fsync_dir(".", err, errlen);
    if (slash == path)
        return rn_fsutil_fsync_dir("/", err, errlen);
    char *parent = rn_xstrndup(path, (size_t)(slash - path));
    int rc = rn_fsutil_fsync_dir(parent, err, errlen);
    rn_free(parent);
    return rc;
}

int rn_fsutil_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = rn_xmalloc(plen + sizeof(RN_FSUTIL_TMP_SUFFIX));
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, RN_FSUTIL_TMP_SUFFIX, sizeof(RN_FSUTIL_TMP_SUFFIX));

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rn_fsutil_seterr(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto fail_free;
    }
    if (write_all(fd, data, len) != 0) {
        rn_fsutil_seterr(err, errlen, "write to %s failed: %s", tmp, strerror(errno));
        goto fail_close;
    }
    if (fsync(fd) != 0) {
        rn_fsutil_seterr(err, errlen, "fsync of %s failed: %s", tmp, strerror(errno));
        goto fail_close;
    }
    if (close(fd) != 0) {
        rn_fsutil_seterr(err, errlen, "close of %s failed: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (rename(tmp, path) != 0) {
        rn_fsutil_seterr(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail_unlink;
    }
    rn_free(tmp);
    /* Without the directory fsync the rename itself may be lost in a crash. */
    return rn_fsutil_fsync_parent(path, err, errlen);

fail_close:
    close(fd);
fail_unlink : {
    int saved = errno;
    unlink(tmp);
    errno = saved;
}
fail_free:
    rn_free(tmp);
    return RN_EIO;
}

int rn_fsutil_read_file(const char *path, size_t max_size, uint8_t **out, size_t *len, char *err,
                        size_t errlen)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            rn_fsutil_seterr(err, errlen, "%s does not exist", path);
            return RN_ENOTFOUND;
        }
        rn_fsutil_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return RN_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rn_fsutil_seterr(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return RN_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        rn_fsutil_seterr(err, errlen, "%s is not a regular file", path);
        close(fd);
        return RN_EIO;
    }
    if ((uint64_t)st.st_size > max_size) {
        rn_fsutil_seterr(err, errlen, "%s is %lld bytes, more than the %zu allowed for this file",
                         path, (long long)st.st_size, max_size);
        close(fd);
        return RN_ETOOBIG;
    }
    /* Read up to max_size + 1 so a file that grew after fstat is still caught. */
    size_t cap = (size_t)st.st_size + 1, got = 0;
    uint8_t *buf = rn_malloc(cap + 1);
    if (buf == NULL) {
        rn_fsutil_seterr(err, errlen, "out of memory reading %s (%zu bytes)", path, cap);
        close(fd);
        return RN_ENOMEM;
    }
    for (;;) {
        if (got == cap) {
            if (cap > max_size) {
                rn_fsutil_seterr(err, errlen, "%s grew beyond the %zu bytes allowed while read",
                                 path, max_size);
                rn_free(buf);
                close(fd);
                return RN_ETOOBIG;
            }
            size_t ncap = cap * 2 > max_size + 1 ? max_size + 1 : cap * 2;
            uint8_t *nbuf = rn_realloc(buf, ncap + 1);
            if (nbuf == NULL) {
                rn_fsutil_seterr(err, errlen, "out of memory reading %s", path);
                rn_free(buf);
                close(fd);
                return RN_ENOMEM;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rn_fsutil_seterr(err, errlen, "read of %s failed: %s", path, strerror(errno));
            rn_free(buf);
            close(fd);
            return RN_EIO;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got > max_size) {
        rn_fsutil_seterr(err, errlen, "%s is larger than the %zu bytes allowed", path, max_size);
        rn_free(buf);
        return RN_ETOOBIG;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int rn_fsutil_mkdirs(const char *path, mode_t mode, char *err, size_t errlen)
{
    struct stat st;
    if (path[0] == '\0') {
        rn_fsutil_seterr(err, errlen, "cannot create a directory with an empty path");
        return RN_EINVAL;
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        rn_fsutil_seterr(err, errlen, "%s exists and is not a directory", path);
        return RN_EEXIST;
    }
    char *copy = rn_xstrdup(path);
    int rc = 0;
    /* Create each prefix in turn; EEXIST on a prefix is fine (it may be a parent we do not
     * own, or a concurrent creator), and the final stat decides. */
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (p > copy && p[-1] != '/' && mkdir(copy, mode) != 0 && errno != EEXIST) {
            rn_fsutil_seterr(err, errlen, "cannot create directory %s: %s", copy, strerror(errno));
            rc = RN_EIO;
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    rn_free(copy);
    if (rc != 0)
        return rc;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rn_fsutil_seterr(err, errlen,
                         "cannot create directory %s: a path component is not a "
                         "directory",
                         path);
        return RN_EEXIST;
    }
    return 0;
}

/* Remove `name` relative to directory fd `parent_fd`, recursing into directories. */
static int remove_at(int parent_fd, const char *name, const char *top, char *err, size_t errlen)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        rn_fsutil_seterr(err, errlen, "cannot stat %s under %s: %s", name, top, strerror(errno));
        return RN_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent_fd, name, 0) != 0 && errno != ENOENT) {
            rn_fsutil_seterr(err, errlen, "cannot remove %s under %s: %s", name, top,
                             strerror(errno));
            return RN_EIO;
        }
        return 0;
    }
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rn_fsutil_seterr(err, errlen, "cannot open directory %s under %s: %s", name, top,
                         strerror(errno));
        return RN_EIO;
    }
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        rn_fsutil_seterr(err, errlen, "cannot read directory %s under %s: %s", name, top,
                         strerror(errno));
        close(fd);
        return RN_EIO;
    }
    int rc = 0;
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(dir)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        rc = remove_at(dirfd(dir), ent->d_name, top, err, errlen);
    }
    closedir(dir);
    if (rc != 0)
        return rc;
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        rn_fsutil_seterr(err, errlen, "cannot remove directory %s under %s: %s", name, top,
                         strerror(errno));
        return RN_EIO;
    }
    return 0;
}

int rn_fsutil_remove_tree(const char *path, char *err, size_t errlen)
{
    return remove_at(AT_FDCWD, path, path, err, errlen);
}
