/* rn_nodes: the local runneld processes behind `runnel cluster up`, `status` and `down`.
 *
 * A local cluster lives in one directory DIR:
 *
 *   DIR/cluster.conf   what `up` started: node count, host and first port (key=value lines)
 *   DIR/node-I/        node I's data directory (runneld --data-dir)
 *   DIR/node-I.log     node I's standard output and error, appended to
 *   DIR/node-I.pid     node I's process id while it runs (removed by `down`)
 *
 * Node I (1..n) listens on host:port+I-1, and every node is a voter of one metadata quorum.
 * A pid file alone proves nothing (the process may be gone and its pid reused), so a node
 * counts as running only when its pid is a live runneld whose command line names the node's
 * data directory (/proc/PID/cmdline); the directory is made absolute for that reason.
 *
 * Functions return 0 or a negative RN_E* and, where a person needs to know why, write one
 * sentence into err (naming the file or address) that the caller prints. */
#ifndef RN_NODES_H
#define RN_NODES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RN_NODES_MAX         16 /* the quorum's voter limit (RN_RAFT_MAX_VOTERS) */
#define RN_NODES_DEFAULT_N   3
#define RN_NODES_DEFAULT_DIR "runnel-cluster"
#define RN_NODES_HOST        "127.0.0.1"
#define RN_NODES_ERRLEN      1024

/* One node of the local cluster. pid and running are filled by rn_nodes_refresh. */
typedef struct rn_nodes_node {
    int id;   /* 1..n */
    int port; /* its listener, host:port */
    char data_dir[PATH_MAX];
    char pid_path[PATH_MAX];
    char log_path[PATH_MAX];
    pid_t pid;     /* from the pid file; 0 when there is none (or it holds no pid) */
    bool running;  /* pid is a live runneld on data_dir */
    long log_from; /* the log's size when this command started the node (rn_nodes_file_size) */
} rn_nodes_node_t;

/* A local cluster: n nodes on host, ports port..port+n-1, in the absolute directory dir. */
typedef struct rn_nodes {
    char dir[PATH_MAX];
    char host[64];
    int port;
    int n;
    rn_nodes_node_t node[RN_NODES_MAX];
} rn_nodes_t;

/* Lay out a cluster of n (1..RN_NODES_MAX) nodes on host from port in directory dir, which
 * must exist (it is made absolute). No pid is read. Returns 0, or RN_EINVAL / RN_EIO with
 * err saying why (a port past 65535, a directory that cannot be resolved). */
int rn_nodes_layout(rn_nodes_t *c, const char *dir, const char *host, int port, int n, char *err,
                    size_t errlen);

/* Read DIR/cluster.conf and lay the cluster out. Returns 0, RN_ENOTFOUND when dir holds no
 * cluster.conf (or dir does not exist), or RN_ECORRUPT / RN_EIO with err naming the file. */
int rn_nodes_load(rn_nodes_t *c, const char *dir, char *err, size_t errlen);

/* Write c's DIR/cluster.conf (replacing it atomically). Returns 0 or RN_EIO with err set. */
int rn_nodes_save(const rn_nodes_t *c, char *err, size_t errlen);

/* Read every node's pid file and decide whether it is running. */
void rn_nodes_refresh(rn_nodes_t *c);

/* The number of running nodes (after rn_nodes_refresh). */
int rn_nodes_count_running(const rn_nodes_t *c);

/* "1@host:port,2@host:port,...": the --cluster (controller.quorum.voters) value, and
 * "host:port,host:port,...": the bootstrap list, into buf. Return 0 or RN_ETOOBIG. */
int rn_nodes_voters(const rn_nodes_t *c, char *buf, size_t cap);
int rn_nodes_bootstrap(const rn_nodes_t *c, char *buf, size_t cap);

/* The pid in a pid file (one decimal number and an optional newline); 0 when the file is
 * missing or holds anything else. */
pid_t rn_nodes_pid_read(const char *path);
/* Write pid to path (atomically and durably, rn_fsutil_write_atomic). Returns 0 or RN_EIO. */
int rn_nodes_pid_write(const char *path, pid_t pid);

/* True when pid is a live process (not a zombie) running a program whose name contains
 * runneld (runneld, runneld-asan) and whose arguments include "--data-dir data_dir". */
bool rn_nodes_is_runneld(pid_t pid, const char *data_dir);

/* Whether something holds host:port: 0 when it can be bound (free), RN_EEXIST when it is in
 * use, RN_EIO for any other failure (err says which). */
int rn_nodes_port_free(const char *host, int port, char *err, size_t errlen);

/* Start argv (argv[0] a path to the program) as a daemon: a new session (setsid), stdin
 * from /dev/null, stdout and stderr appended to log_path, no descriptors of ours, default
 * signal dispositions and an empty signal mask. *pid gets its process id; the caller reaps
 * it if it exits while the caller still runs. Returns 0 once exec succeeded, or RN_EIO with
 * err saying what failed (the log file, fork, or exec and its errno). */
int rn_nodes_spawn(char *const argv[], const char *log_path, pid_t *pid, char *err, size_t errlen);

/* Find runneld: next to self_exe (the running runnel), then in ../broker/ beside it (a
 * build tree, build/tools/runnel and build/broker/runneld), then in each directory of path
 * (a $PATH value; NULL or "" skips it). out gets the first executable found. Returns 0 or
 * RN_ENOTFOUND with err listing where it looked. */
int rn_nodes_find_runneld(const char *self_exe, const char *path, char *out, size_t cap, char *err,
                          size_t errlen);

/* The size of a file (0 when it does not exist): where a log's next lines will start. */
long rn_nodes_file_size(const char *path);
/* True when the text needle occurs in the file at or after byte offset from. */
bool rn_nodes_log_has(const char *path, long from, const char *needle);

/* The last max_lines lines of a text file into buf (NUL-terminated; "" when unreadable). */
void rn_nodes_tail(const char *path, int max_lines, char *buf, size_t cap);

#endif
