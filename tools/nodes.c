/* nodes.c: the files and processes of a local cluster (see rn_nodes.h): cluster.conf, pid
 * files, telling our runneld from a reused pid, port checks, starting a daemon and finding
 * the runneld program. */
#include "rn_nodes.h"

#include "rn_err.h"
#include "rn_fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err != NULL && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* snprintf that reports truncation as an error instead of a shortened path. */
static int pathf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int pathf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? RN_ETOOBIG : 0;
}

int rn_nodes_layout(rn_nodes_t *c, const char *dir, const char *host, int port, int n, char *err,
                    size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (n < 1 || n > RN_NODES_MAX)
        return fail(err, errlen, RN_EINVAL, "a local cluster has 1 to %d nodes, not %d",
                    RN_NODES_MAX, n);
    if (port < 1 || port + n - 1 > 65535)
        return fail(err, errlen, RN_EINVAL, "ports %d to %d are not all valid TCP ports", port,
                    port + n - 1);
    if (strlen(host) >= sizeof c->host)
        return fail(err, errlen, RN_EINVAL, "host name \"%s\" is too long", host);
    if (realpath(dir, c->dir) == NULL)
        return fail(err, errlen, RN_EIO, "cannot resolve directory %s: %s", dir, strerror(errno));
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->n = n;
    for (int i = 0; i < n; i++) {
        rn_nodes_node_t *node = &c->node[i];
        node->id = i + 1;
        node->port = port + i;
        if (pathf(node->data_dir, sizeof node->data_dir, "%s/node-%d", c->dir, node->id) ||
            pathf(node->pid_path, sizeof node->pid_path, "%s/node-%d.pid", c->dir, node->id) ||
            pathf(node->log_path, sizeof node->log_path, "%s/node-%d.log", c->dir, node->id))
            return fail(err, errlen, RN_EINVAL, "directory path %s is too long", c->dir);
    }
    return 0;
}

/* One "key=value" line of cluster.conf into an int; false when the key differs or the
 * value is not a whole number. */
static bool conf_int(const char *line, const char *key, int *out)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != '=')
        return false;
    char *end;
    errno = 0;
    long v = strtol(line + k + 1, &end, 10);
    if (errno != 0 || end == line + k + 1 || (*end != '\0' && *end != '\n') || v < 0 || v > 65535)
        return false;
    *out = (int)v;
    return true;
}

int rn_nodes_load(rn_nodes_t *c, const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (pathf(path, sizeof path, "%s/cluster.conf", dir))
        return fail(err, errlen, RN_EINVAL, "directory path %s is too long", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fail(err, errlen, RN_ENOTFOUND, "%s has no cluster.conf", dir);
        return fail(err, errlen, RN_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    int n = -1, port = -1, lineno = 0, bad = 0;
    char host[64] = RN_NODES_HOST;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (conf_int(line, "nodes", &n) || conf_int(line, "port", &port))
            continue;
        if (strncmp(line, "host=", 5) == 0 && strlen(line + 5) > 1 &&
            strlen(line + 5) < sizeof host) {
            snprintf(host, sizeof host, "%s", line + 5);
            host[strcspn(host, "\n")] = '\0';
            continue;
        }
        bad = lineno;
        break;
    }
    fclose(f);
    if (bad)
        return fail(err, errlen, RN_ECORRUPT, "%s line %d is not nodes=N, host=H or port=P", path,
                    bad);
    if (n < 0 || port < 0)
        return fail(err, errlen, RN_ECORRUPT, "%s lacks a nodes= or port= line", path);
    return rn_nodes_layout(c, dir, host, port, n, err, errlen);
}

int rn_nodes_save(const rn_nodes_t *c, char *err, size_t errlen)
{
    char path[PATH_MAX], text[512];
    if (pathf(path, sizeof path, "%s/cluster.conf", c->dir))
        return fail(err, errlen, RN_EIO, "directory path %s is too long", c->dir);
    snprintf(text, sizeof text,
             "# The local cluster `runnel cluster up` started in this directory; `runnel cluster\n"
             "# status` and `down` read it. Remove the directory to start afresh (data is lost).\n"
             "nodes=%d\nhost=%s\nport=%d\n",
             c->n, c->host, c->port);
    return rn_fsutil_write_atomic(path, text, strlen(text), err, errlen);
}

pid_t rn_nodes_pid_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char buf[32];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (n == 0 || errno != 0 || *end != '\0' || buf[0] < '0' || buf[0] > '9' || v <= 0 ||
        v > INT_MAX)
        return 0;
    return (pid_t)v;
}

int rn_nodes_pid_write(const char *path, pid_t pid)
{
    char text[32];
    snprintf(text, sizeof text, "%ld\n", (long)pid);
    return rn_fsutil_write_atomic(path, text, strlen(text), NULL, 0);
}

/* A process's state letter from /proc/PID/stat (after the parenthesised name); 0 when it
 * cannot be read. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

bool rn_nodes_is_runneld(pid_t pid, const char *data_dir)
{
    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
        return false;
    char state = proc_state(pid);
    if (state == 0 || state == 'Z' || state == 'X')
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *arg0 = buf, *slash = strrchr(arg0, '/');
    const char *base = slash ? slash + 1 : arg0;
    if (strstr(base, "runneld") == NULL)
        return false;
    bool after_flag = false;
    for (const char *a = buf + strlen(buf) + 1; a < buf + n; a += strlen(a) + 1) {
        if (after_flag && strcmp(a, data_dir) == 0)
            return true;
        after_flag = strcmp(a, "--data-dir") == 0;
    }
    return false;
}

void rn_nodes_refresh(rn_nodes_t *c)
{
    for (int i = 0; i < c->n; i++) {
        rn_nodes_node_t *node = &c->node[i];
        node->pid = rn_nodes_pid_read(node->pid_path);
        node->running = node->pid > 0 && rn_nodes_is_runneld(node->pid, node->data_dir);
    }
}

int rn_nodes_count_running(const rn_nodes_t *c)
{
    int k = 0;
    for (int i = 0; i < c->n; i++)
        k += c->node[i].running;
    return k;
}

int rn_nodes_voters(const rn_nodes_t *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n; i++) {
        int w = snprintf(buf + len, cap - len, "%s%d@%s:%d", i ? "," : "", c->node[i].id, c->host,
                         c->node[i].port);
        if (w < 0 || (size_t)w >= cap - len)
            return RN_ETOOBIG;
        len += (size_t)w;
    }
    return 0;
}

int rn_nodes_bootstrap(const rn_nodes_t *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s:%d", i ? "," : "", c->host, c->node[i].port);
        if (w < 0 || (size_t)w >= cap - len)
            return RN_ETOOBIG;
        len += (size_t)w;
    }
    return 0;
}

int rn_nodes_port_free(const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return fail(err, errlen, RN_EIO, "%s is not an IPv4 address", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(err, errlen, RN_EIO, "socket: %s", strerror(errno));
    /* As runneld binds: a port with only TIME_WAIT connections left is free. */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0)
        return 0;
    if (e == EADDRINUSE)
        return RN_EEXIST;
    return fail(err, errlen, RN_EIO, "cannot bind %s:%d: %s", host, port, strerror(e));
}

/* In the child between fork and exec: become a daemon and run argv. Only async-signal-safe
 * calls; on failure the errno goes back through report_fd. */
static void child_exec(char *const argv[], int null_fd, int log_fd, int report_fd)
{
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Ignored signals stay ignored across exec; runneld must see SIGTERM, SIGINT, SIGHUP. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
        goto failed;
    /* Nothing of ours but report_fd (close-on-exec) may outlive the exec. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        for (int fd = 3; fd < 1024; fd++)
            if (fd != report_fd)
                close(fd);
    }
    execv(argv[0], argv);
failed:;
    int e = errno;
    ssize_t w = write(report_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

int rn_nodes_spawn(char *const argv[], const char *log_path, pid_t *pid, char *err, size_t errlen)
{
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        return fail(err, errlen, RN_EIO, "cannot open log file %s: %s", log_path, strerror(errno));
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int report[2] = {-1, -1};
    int rc = RN_EIO;
    if (null_fd < 0 || pipe2(report, O_CLOEXEC) != 0) {
        fail(err, errlen, RN_EIO, "cannot start %s: %s", argv[0], strerror(errno));
        goto close_fds;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        fail(err, errlen, RN_EIO, "cannot start %s: fork: %s", argv[0], strerror(errno));
        goto close_fds;
    }
    if (child == 0)
        child_exec(argv, null_fd, log_fd, report[1]);
    close(report[1]);
    report[1] = -1;
    int e = 0;
    ssize_t got;
    do
        got = read(report[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    if (got > 0) {
        /* exec failed: the child exits at once; reap it. */
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        fail(err, errlen, RN_EIO, "cannot run %s: %s", argv[0], strerror(e));
        goto close_fds;
    }
    *pid = child;
    rc = 0;
close_fds:
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    if (null_fd >= 0)
        close(null_fd);
    close(log_fd);
    return rc;
}

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int rn_nodes_find_runneld(const char *self_exe, const char *path, char *out, size_t cap, char *err,
                          size_t errlen)
{
    char dir[PATH_MAX] = "";
    if (self_exe != NULL && *self_exe) {
        snprintf(dir, sizeof dir, "%s", self_exe);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        else
            dir[0] = '\0';
    }
    if (dir[0]) {
        if (pathf(out, cap, "%s/runneld", dir) == 0 && executable(out))
            return 0;
        if (pathf(out, cap, "%s/../broker/runneld", dir) == 0 && executable(out)) {
            char real[PATH_MAX];
            if (realpath(out, real) != NULL && strlen(real) < cap)
                snprintf(out, cap, "%s", real);
            return 0;
        }
    }
    if (path != NULL) {
        const char *p = path;
        while (*p) {
            size_t len = strcspn(p, ":");
            /* An empty PATH entry means the current directory. */
            if (pathf(out, cap, "%.*s/runneld", len ? (int)len : 1, len ? p : ".") == 0 &&
                executable(out))
                return 0;
            p += len;
            if (*p == ':')
                p++;
        }
    }
    out[0] = '\0';
    if (dir[0])
        return fail(err, errlen, RN_ENOTFOUND,
                    "runneld not found: not in %s, not in %s/../broker, and not in PATH", dir, dir);
    return fail(err, errlen, RN_ENOTFOUND, "runneld not found in PATH");
}

long rn_nodes_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

bool rn_nodes_log_has(const char *path, long from, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool found = false;
    /* Lines are short: a needle split between two reads is found by keeping the last
     * strlen(needle) bytes of each read in front of the next. */
    size_t keep = strlen(needle), have = 0;
    char buf[8192];
    if (keep == 0 || keep >= sizeof buf / 2 || fseek(f, from, SEEK_SET) != 0)
        goto done;
    for (;;) {
        size_t n = fread(buf + have, 1, sizeof buf - 1 - have, f);
        if (n == 0)
            break;
        have += n;
        buf[have] = '\0';
        if (memmem(buf, have, needle, keep) != NULL) {
            found = true;
            break;
        }
        size_t tail = have < keep ? have : keep;
        memmove(buf, buf + have - tail, tail);
        have = tail;
    }
done:
    fclose(f);
    return found;
}

void rn_nodes_tail(const char *path, int max_lines, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL || cap < 2)
        goto done;
    /* Read the last cap-1 bytes at most, then keep the last max_lines lines of them. */
    long want = (long)cap - 1;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        fseek(f, size > want ? size - want : 0, SEEK_SET);
    }
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    int lines = 0;
    size_t start = 0;
    for (size_t i = n; i-- > 0;) {
        if (buf[i] == '\n' && i + 1 < n && ++lines >= max_lines) {
            start = i + 1;
            break;
        }
    }
    memmove(buf, buf + start, n - start + 1);
done:
    if (f != NULL)
        fclose(f);
}
