/* Process-kill durability, seeded (RN_SEED=<n> to replay; the seed is printed first).
 *
 * A child process appends random batches to a log in a loop and reports the last offset of
 * every acknowledged append over a pipe; the parent SIGKILLs it at a random moment (possibly
 * mid-write), then reopens the log as after an unclean stop. Every acknowledged offset must be
 * readable, batches must be contiguous and valid, and the indexes must agree with the log.
 * Several rounds run on the same directory, each child recovering what the last one left. The
 * page cache survives a process kill, so no fsync is needed for acknowledged data to stay. */
#include "rn_err.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 6

static uint32_t rng;

static uint32_t rnd(void)
{
    return tu_xorshift32(&rng);
}

static void config(rn_plog_config_t *cfg)
{
    rn_plog_config_default(cfg);
    cfg->segment_bytes = 256 * 1024;
    cfg->index_interval_bytes = 1024;
    cfg->segment_index_bytes = 8192;
}

static void child(const char *dir, int fd, uint32_t seed, int64_t rp)
{
    rng = seed ? seed : 1;
    rn_log_set_level(RN_LOG_ERROR);
    rn_plog_config_t cfg;
    config(&cfg);
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 0);
    opts.recovery_point = rp;
    rn_plog_t *log;
    if (rn_plog_open(dir, &cfg, &opts, &log) != 0)
        _exit(3);
    for (;;) {
        tu_buf_t b = {0};
        tu_add_batch(&b, 1 + (int)(rnd() % 5), rnd() % 3000, 1000, 1, rnd());
        rn_plog_append_info_t info;
        if (rn_plog_append(log, b.p, b.len, 1, 0, &info) != 0)
            _exit(4);
        if (write(fd, &info.last_offset, sizeof(info.last_offset)) != sizeof(info.last_offset))
            _exit(5);
        tu_free(&b);
    }
}

typedef struct walk {
    int64_t next;
    int bad;
    int batches;
} walk_t;

static int check_batch(void *arg, const rn_batch_header_t *hdr, int fd, uint64_t position)
{
    walk_t *w = arg;
    size_t total = rn_batch_total_size(hdr);
    uint8_t *buf = rn_xmalloc(total);
    rn_batch_header_t full;
    if (hdr->base_offset != w->next || pread(fd, buf, total, (off_t)position) != (ssize_t)total ||
        rn_batch_validate(buf, total, &full) != 0)
        w->bad++;
    rn_free(buf);
    w->next = rn_batch_last_offset(hdr) + 1;
    w->batches++;
    return 0;
}

int main(void)
{
    const char *env = getenv("RN_SEED");
    uint32_t seed = env ? (uint32_t)strtoul(env, NULL, 10) : (uint32_t)time(NULL);
    rng = seed ? seed : 1;
    printf("# seed %u (replay with RN_SEED=%u)\n", seed, seed);
    rn_log_set_level(RN_LOG_WARN); /* shows what each recovery cut */
    char root[256], dir[512];
    tu_tmpdir(root, "kill");
    snprintf(dir, sizeof(dir), "%s/orders-0", root);
    rn_plog_config_t cfg;
    config(&cfg);

    int64_t acked = -1, rp = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int pipefd[2];
        if (pipe(pipefd) != 0)
            return 2;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            close(pipefd[0]);
            child(dir, pipefd[1], rnd(), rp);
        }
        close(pipefd[1]);
        /* Kill at a random moment once the child has opened the log and appends. */
        int64_t off, round_acked = acked, reports = 0;
        if (read(pipefd[0], &off, sizeof(off)) == sizeof(off)) {
            round_acked = off > round_acked ? off : round_acked;
            reports++;
        }
        usleep(1000 + rnd() % 100000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        while (read(pipefd[0], &off, sizeof(off)) == sizeof(off)) {
            if (off > round_acked)
                round_acked = off;
            reports++;
        }
        close(pipefd[0]);
        ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && reports > 0,
           "round %d: child killed after %" PRId64 " acknowledged appends", round, reports);
        acked = round_acked;

        rn_plog_open_opts_t opts;
        tu_default_opts(&opts, 0);
        opts.recovery_point = rp;
        rn_plog_t *log;
        if (rn_plog_open(dir, &cfg, &opts, &log) != 0) {
            ok(0, "round %d: reopen", round);
            break;
        }
        int64_t end = rn_plog_log_end_offset(log);
        ok(end > acked,
           "round %d: log end %" PRId64 " covers the last acknowledged offset %" PRId64, round, end,
           acked);
        walk_t w = {0, 0, 0};
        rn_plog_foreach_batch(log, 0, -1, check_batch, &w);
        ok(w.bad == 0 && w.next == end, "round %d: %d batches contiguous and valid up to %" PRId64,
           round, w.batches, end);
        int unreadable = 0;
        for (int64_t o = 0; o <= acked; o += 1 + o / 50) {
            rn_plog_slice_t slice;
            if (rn_plog_read(log, o, 1, -1, &slice) != 0 || slice.length == 0)
                unreadable++;
            rn_plog_slice_release(&slice);
        }
        is(unreadable, 0, "round %d: acknowledged offsets read back", round);
        is(tu_check_log(log), 0, "round %d: indexes agree with the log (%zu segments)", round,
           rn_plog_segment_count(log));
        /* What was verified becomes durable: later rounds recover only from here on. */
        if (rn_plog_flush(log) == 0)
            rp = rn_plog_recovery_point(log);
        rn_plog_close(log);
    }
    tu_rmtree(root);
    if (tap_failed)
        printf("# seed %u\n", seed);
    return done_testing();
}
