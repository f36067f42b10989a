/* rn_nodes: a local cluster's layout and cluster.conf, pid files, telling our runneld from
 * another process, port checks, daemon start-up, finding runneld, and log reading. A
 * "runneld" here is /bin/sh under that name, so its command line reads like runneld's. */
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_nodes.h"
#include "tap.h"
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char base[256];

static const char *tpath(const char *rel)
{
    return tu_path(base, rel);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_layout_and_conf(void)
{
    char err[RN_NODES_ERRLEN] = "";
    rn_nodes_t c, d;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cl", base);
    mkdir(dir, 0755);
    is(rn_nodes_layout(&c, dir, "127.0.0.1", 9092, 3, err, sizeof err), 0, "lay out 3 nodes");
    is(c.n, 3, "three nodes");
    is(c.node[2].id, 3, "ids from 1");
    is(c.node[2].port, 9094, "node 3 on the first port + 2");
    ok(c.dir[0] == '/', "the directory is made absolute (%s)", c.dir);
    is_str(strrchr(c.node[1].data_dir, '/'), "/node-2", "node 2's data directory");
    is_str(strrchr(c.node[1].pid_path, '/'), "/node-2.pid", "node 2's pid file");
    is_str(strrchr(c.node[1].log_path, '/'), "/node-2.log", "node 2's log");

    char buf[256];
    is(rn_nodes_voters(&c, buf, sizeof buf), 0, "voters");
    is_str(buf, "1@127.0.0.1:9092,2@127.0.0.1:9093,3@127.0.0.1:9094", "the --cluster list");
    is(rn_nodes_bootstrap(&c, buf, sizeof buf), 0, "bootstrap");
    is_str(buf, "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094", "the bootstrap list");
    is(rn_nodes_bootstrap(&c, buf, 20), RN_ETOOBIG, "a short buffer is refused, not cut");

    is(rn_nodes_layout(&d, dir, "127.0.0.1", 65534, 3, err, sizeof err), RN_EINVAL,
       "ports past 65535 are refused");
    ok(strstr(err, "65536") != NULL, "the message names the port (%s)", err);
    is(rn_nodes_layout(&d, dir, "127.0.0.1", 9092, 0, err, sizeof err), RN_EINVAL, "0 nodes");
    is(rn_nodes_layout(&d, dir, "127.0.0.1", 9092, RN_NODES_MAX + 1, err, sizeof err), RN_EINVAL,
       "more nodes than the quorum takes");
    is(rn_nodes_layout(&d, tpath("missing"), "127.0.0.1", 9092, 3, err, sizeof err), RN_EIO,
       "a directory that does not exist");

    is(rn_nodes_load(&d, dir, err, sizeof err), RN_ENOTFOUND, "no cluster.conf yet");
    is(rn_nodes_load(&d, tpath("missing"), err, sizeof err), RN_ENOTFOUND, "no directory");
    c.port = 19300;
    is(rn_nodes_layout(&c, dir, "127.0.0.1", 19300, 5, err, sizeof err), 0, "lay out 5 nodes");
    is(rn_nodes_save(&c, err, sizeof err), 0, "save cluster.conf");
    is(rn_nodes_load(&d, dir, err, sizeof err), 0, "load it back");
    ok(d.n == 5 && d.port == 19300 && strcmp(d.host, "127.0.0.1") == 0 && strcmp(d.dir, c.dir) == 0,
       "the same cluster (%d nodes from %s:%d)", d.n, d.host, d.port);
    is(d.node[4].port, 19304, "node 5's port");

    char conf[600];
    snprintf(conf, sizeof conf, "%s/cluster.conf", dir);
    write_file(conf, "nodes=3\nport=9092\nlisteners=x\n", 0644);
    is(rn_nodes_load(&d, dir, err, sizeof err), RN_ECORRUPT, "an unknown line");
    ok(strstr(err, "line 3") != NULL, "the message names the line (%s)", err);
    write_file(conf, "# comment\nnodes=3\n", 0644);
    is(rn_nodes_load(&d, dir, err, sizeof err), RN_ECORRUPT, "no port line");
    write_file(conf, "nodes=three\nport=9092\n", 0644);
    is(rn_nodes_load(&d, dir, err, sizeof err), RN_ECORRUPT, "a count that is no number");
}

static void test_pid_files(void)
{
    const char *p = tpath("n.pid");
    is(rn_nodes_pid_read(p), 0, "no pid file: no pid");
    is(rn_nodes_pid_write(p, 4242), 0, "write a pid file");
    is(rn_nodes_pid_read(p), 4242, "read it back");
    write_file(p, "4242", 0644);
    is(rn_nodes_pid_read(p), 4242, "without a newline");
    write_file(p, "42x\n", 0644);
    is(rn_nodes_pid_read(p), 0, "trailing garbage");
    write_file(p, "-5\n", 0644);
    is(rn_nodes_pid_read(p), 0, "a negative number");
    write_file(p, "", 0644);
    is(rn_nodes_pid_read(p), 0, "an empty file");
    write_file(p, "99999999999\n", 0644);
    is(rn_nodes_pid_read(p), 0, "a number too large for a pid");
}

/* Wait up to 5 s for pid to become a zombie (exited, not reaped). */
static bool wait_zombie(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'Z')
            return true;
        sleep_ms(10);
    }
    return false;
}

static void test_spawn(void)
{
    char err[RN_NODES_ERRLEN] = "";
    char fake[512], data[512], log[512];
    snprintf(fake, sizeof fake, "%s/runneld", base);
    snprintf(data, sizeof data, "%s/data-1", base);
    snprintf(log, sizeof log, "%s/spawn.log", base);
    if (symlink("/bin/sh", fake) != 0) {
        perror("symlink");
        exit(2);
    }
    /* "; :" keeps the shell from replacing itself with sleep. */
    char *argv[] = {fake, "-c", "echo out; echo err >&2; sleep 30; :", "runneld", "--data-dir",
                    data, NULL};
    pid_t pid = 0;
    is(rn_nodes_spawn(argv, log, &pid, err, sizeof err), 0, "spawn a daemon (%s)", err);
    ok(pid > 0, "it has a pid");
    is(getsid(pid), pid, "it leads a session of its own (setsid)");
    ok(rn_nodes_is_runneld(pid, data), "it is a runneld on its data directory");
    ok(!rn_nodes_is_runneld(pid, tpath("data-2")), "not on another data directory");
    ok(!rn_nodes_is_runneld(getpid(), data), "this test is no runneld");
    bool logged = false;
    for (int i = 0; i < 500 && !logged; i++) {
        logged = rn_nodes_log_has(log, 0, "out") && rn_nodes_log_has(log, 0, "err");
        if (!logged)
            sleep_ms(10);
    }
    ok(logged, "stdout and stderr go to the log file");
    kill(pid, SIGTERM);
    ok(wait_zombie(pid), "SIGTERM ends it (signals are at their defaults)");
    ok(!rn_nodes_is_runneld(pid, data), "an exited runneld does not count, even unreaped");
    int status;
    is(waitpid(pid, &status, 0), pid, "reaped");

    char *missing[] = {(char *)tpath("no-such-runneld"), NULL};
    err[0] = '\0';
    is(rn_nodes_spawn(missing, log, &pid, err, sizeof err), RN_EIO, "exec of a missing program");
    ok(strstr(err, "No such file") != NULL, "the message says why (%s)", err);
    is(rn_nodes_spawn(argv, tpath("no-dir/x.log"), &pid, err, sizeof err), RN_EIO,
       "a log file that cannot be opened");
    ok(strstr(err, "no-dir/x.log") != NULL, "the message names it (%s)", err);

    rn_nodes_t c;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/refresh", base);
    mkdir(dir, 0755);
    rn_nodes_layout(&c, dir, "127.0.0.1", 19300, 2, err, sizeof err);
    char *argv2[] = {fake, "-c", "sleep 30; :", "runneld", "--data-dir", c.node[0].data_dir, NULL};
    is(rn_nodes_spawn(argv2, log, &pid, err, sizeof err), 0, "spawn node 1");
    rn_nodes_pid_write(c.node[0].pid_path, pid);
    rn_nodes_pid_write(c.node[1].pid_path, getpid()); /* a reused pid */
    rn_nodes_refresh(&c);
    ok(c.node[0].running && c.node[0].pid == pid, "node 1 runs");
    ok(!c.node[1].running && c.node[1].pid == getpid(), "node 2's pid is some other program");
    is(rn_nodes_count_running(&c), 1, "one node runs");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

static void test_port(void)
{
    char err[RN_NODES_ERRLEN] = "";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) {
        perror("listen");
        exit(2);
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    int port = ntohs(sa.sin_port);
    is(rn_nodes_port_free("127.0.0.1", port, err, sizeof err), RN_EEXIST,
       "a listening port is in use");
    close(fd);
    is(rn_nodes_port_free("127.0.0.1", port, err, sizeof err), 0, "closed, it is free");
    is(rn_nodes_port_free("localhost", port, err, sizeof err), RN_EIO, "a host name is refused");
}

static void test_find(void)
{
    char err[RN_NODES_ERRLEN] = "", out[1024];
    char bin[512], broker[512], pathdir[512], self[600], path[1200];
    snprintf(bin, sizeof bin, "%s/find/tools", base);
    snprintf(broker, sizeof broker, "%s/find/broker", base);
    snprintf(pathdir, sizeof pathdir, "%s/find/path", base);
    rn_fsutil_mkdirs(bin, 0755, NULL, 0);
    rn_fsutil_mkdirs(broker, 0755, NULL, 0);
    rn_fsutil_mkdirs(pathdir, 0755, NULL, 0);
    snprintf(self, sizeof self, "%s/runnel", bin);
    snprintf(path, sizeof path, "/nonexistent:%s", pathdir);
    write_file(self, "", 0755);

    is(rn_nodes_find_runneld(self, path, out, sizeof out, err, sizeof err), RN_ENOTFOUND,
       "none anywhere");
    ok(strstr(err, bin) != NULL && strstr(err, "PATH") != NULL,
       "the message says where it looked (%s)", err);
    char p1[600], p2[600], p3[600], want[PATH_MAX];
    snprintf(p3, sizeof p3, "%s/runneld", pathdir);
    write_file(p3, "", 0755);
    is(rn_nodes_find_runneld(self, path, out, sizeof out, err, sizeof err), 0, "in PATH");
    is_str(out, p3, "the one in PATH");
    snprintf(p2, sizeof p2, "%s/runneld", broker);
    write_file(p2, "", 0755);
    is(rn_nodes_find_runneld(self, path, out, sizeof out, err, sizeof err), 0, "build tree");
    ok(realpath(p2, want) != NULL, "resolve");
    is_str(out, want, "../broker/runneld beside runnel wins over PATH");
    snprintf(p1, sizeof p1, "%s/runneld", bin);
    write_file(p1, "", 0644);
    is(rn_nodes_find_runneld(self, path, out, sizeof out, err, sizeof err), 0, "not executable");
    is_str(out, want, "a runneld that cannot run is passed over");
    chmod(p1, 0755);
    is(rn_nodes_find_runneld(self, path, out, sizeof out, err, sizeof err), 0, "next to runnel");
    is_str(out, p1, "runneld next to runnel wins");
    is(rn_nodes_find_runneld(NULL, path, out, sizeof out, err, sizeof err), 0, "no self");
    is_str(out, p3, "without a path of its own, PATH");
}

static void test_logs(void)
{
    const char *p = tpath("node.log");
    write_file(p, "old run: node 1: unfenced by controller 1\n", 0644);
    long from = rn_nodes_file_size(p);
    ok(from > 0, "the size of the log (%ld)", from);
    ok(!rn_nodes_log_has(p, from, "unfenced"), "nothing new after the offset");
    ok(rn_nodes_log_has(p, 0, "unfenced"), "from the start, the old line");
    FILE *f = fopen(p, "a");
    /* A long run of other lines so the needle crosses a read boundary. */
    for (int i = 0; i < 700; i++)
        fprintf(f, "line %04d of filler text\n", i);
    fprintf(f, "new run: node 1: unfenced by controller 2\nlast\n");
    fclose(f);
    ok(rn_nodes_log_has(p, from, "node 1: unfenced by controller 2"), "the new line is found");
    ok(!rn_nodes_log_has(p, from, "node 2: unfenced"), "a line never written is not");
    ok(!rn_nodes_log_has(tpath("none.log"), 0, "x"), "a missing log has nothing");
    is(rn_nodes_file_size(tpath("none.log")), 0, "a missing log has size 0");
    char tail[256];
    rn_nodes_tail(p, 2, tail, sizeof tail);
    is_str(tail, "new run: node 1: unfenced by controller 2\nlast\n", "the last two lines");
    rn_nodes_tail(tpath("none.log"), 2, tail, sizeof tail);
    is_str(tail, "", "a missing log's tail is empty");
}

int main(void)
{
    tu_tmpdir(base, "nodes");
    test_layout_and_conf();
    test_pid_files();
    test_spawn();
    test_port();
    test_find();
    test_logs();
    tu_rmtree(base);
    return done_testing();
}
