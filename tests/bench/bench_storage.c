/* bench_storage: partition-log append and read throughput against the file system itself.
 *
 *   bench_storage [DIR] [--size MiB] [--batch KiB] [--rounds N] [--keep]
 *
 * Appends SIZE MiB (default 1024) of BATCH KiB (default 1024) record batches to a fresh
 * partition log in DIR (default: a new ./rn-bench-XXXXXX, on the current directory's file
 * system) through rn_plog_append (validation with CRC-32C, offset assignment, index upkeep,
 * rolls), then times a plain write(2) loop of the same bytes into a file in the same
 * directory, then reads the log back sequentially through rn_plog_read slices twice: with
 * read(2) into a buffer, and with sendfile(2) to /dev/null, both from the page cache. Each
 * phase runs ROUNDS times (default 2); the best round counts. No fsync anywhere (as the
 * broker with flush.* unset; the flush thread is not attached, so a roll's background flush
 * cannot disturb the next phase). Prints MB/s per phase and the append/plain ratio (target
 * >= 70%) and read GB/s (target >= 1 GB/s). */
#include "rn_err.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "unit/storage/plog_testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process has used: on a shared machine the CPU cost per
 * byte is steadier than wall time. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double last_cpu; /* CPU seconds of the last timed phase */

static void die(const char *what)
{
    fprintf(stderr, "bench_storage: %s\n", what);
    exit(1);
}

static double bench_append(const char *dir, uint8_t *batch, size_t len, size_t count)
{
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 0);
    rn_plog_t *log;
    if (rn_plog_open(dir, &cfg, &opts, &log) != 0)
        die("cannot open the log");
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < count; i++) {
        rn_plog_append_info_t info;
        /* The same buffer every time: append rewrites only the base offset and epoch, which
         * lie outside the CRC, so it stays a valid batch. */
        if (rn_plog_append(log, batch, len, 1, 0, &info) != 0)
            die("append failed");
    }
    double t = now_s() - t0;
    last_cpu = cpu_s() - c0;
    rn_plog_close(log);
    return t;
}

static double bench_plain(const char *path, const uint8_t *batch, size_t len, size_t count)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("cannot create the plain file");
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < count; i++) {
        size_t done = 0;
        while (done < len) {
            ssize_t n = write(fd, batch + done, len - done);
            if (n <= 0)
                die("plain write failed");
            done += (size_t)n;
        }
    }
    double t = now_s() - t0;
    last_cpu = cpu_s() - c0;
    close(fd);
    return t;
}

/* Read the whole log as Fetch would (max_bytes per request) and push it to /dev/null. */
static double bench_read(const char *dir, int use_sendfile, int64_t max_bytes, uint64_t *bytes)
{
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 1);
    rn_plog_t *log;
    if (rn_plog_open(dir, &cfg, &opts, &log) != 0)
        die("cannot reopen the log");
    int null_fd = open("/dev/null", O_WRONLY);
    size_t bufsize = 4 << 20;
    uint8_t *buf = rn_xmalloc(bufsize);
    *bytes = 0;
    double t0 = now_s(), c0 = cpu_s();
    int64_t offset = 0, end = rn_plog_log_end_offset(log);
    while (offset < end) {
        rn_plog_slice_t slice;
        if (rn_plog_read(log, offset, max_bytes, -1, &slice) != 0 || slice.length == 0)
            die("read failed");
        if (use_sendfile) {
            off_t pos = (off_t)slice.position;
            size_t left = slice.length;
            while (left > 0) {
                ssize_t n = sendfile(null_fd, slice.fd, &pos, left);
                if (n <= 0)
                    die("sendfile failed");
                left -= (size_t)n;
            }
        } else {
            uint64_t pos = slice.position, left = slice.length;
            while (left > 0) {
                size_t chunk = left < bufsize ? (size_t)left : bufsize;
                ssize_t n = pread(slice.fd, buf, chunk, (off_t)pos);
                if (n <= 0 || write(null_fd, buf, (size_t)n) != n)
                    die("read failed");
                pos += (uint64_t)n;
                left -= (uint64_t)n;
            }
        }
        *bytes += slice.length;
        /* The next fetch starts after the last batch returned. */
        rn_batch_header_t hdr;
        uint8_t head[RN_BATCH_HEADER_SIZE];
        uint64_t last_pos = slice.position, stop = slice.position + slice.length;
        while (last_pos < stop) {
            if (pread(slice.fd, head, sizeof(head), (off_t)last_pos) != (ssize_t)sizeof(head) ||
                rn_batch_header_parse(head, sizeof(head), &hdr) != 0)
                die("bad batch in a slice");
            last_pos += rn_batch_total_size(&hdr);
        }
        offset = rn_batch_last_offset(&hdr) + 1;
        rn_plog_slice_release(&slice);
    }
    double t = now_s() - t0;
    last_cpu = cpu_s() - c0;
    rn_free(buf);
    close(null_fd);
    rn_plog_close(log);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir_arg = NULL;
    size_t size_mib = 1024, batch_kib = 1024;
    int rounds = 2, keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size_mib = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch_kib = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_storage [DIR] [--size MiB] [--batch KiB] [--rounds N] "
                            "[--keep]\n");
            return 2;
        } else
            dir_arg = argv[i];
    }
    if (size_mib == 0 || batch_kib == 0 || rounds < 1)
        die("--size, --batch and --rounds must be positive");
    rn_log_set_level(RN_LOG_WARN);
    char root[512];
    if (dir_arg != NULL) {
        snprintf(root, sizeof(root), "%s/rn-bench-XXXXXX", dir_arg);
    } else {
        snprintf(root, sizeof(root), "./rn-bench-XXXXXX");
    }
    if (mkdtemp(root) == NULL)
        die("cannot create the bench directory (does DIR exist?)");
    char logdir[600], plain[600];
    snprintf(logdir, sizeof(logdir), "%s/bench-0", root);
    snprintf(plain, sizeof(plain), "%s/plain.bin", root);

    /* One batch of ~batch_kib KiB: 1 KiB records. */
    tu_buf_t b = {0};
    int records = (int)batch_kib;
    tu_add_batch(&b, records, 1024 - 8, 1700000000000LL, 1, 42);
    size_t count = (size_mib << 20) / b.len;
    if (count == 0)
        count = 1;
    double total_mb = (double)(count * b.len) / 1e6;
    printf("bench_storage: %zu batches of %zu bytes (%.0f MB) in %s\n", count, b.len, total_mb,
           root);

    double best_append = 1e9, best_plain = 1e9, best_read = 1e9, best_send = 1e9;
    double cpu_append = 1e9, cpu_plain = 1e9;
    uint64_t bytes = 0;
    for (int r = 0; r < rounds; r++) {
        /* Each write phase starts with no dirty pages left by the previous one (sync, not
         * timed), and the order alternates, so writeback of one never throttles the other. */
        double t, t_plain = 0, t_append = 0;
        for (int phase = 0; phase < 2; phase++) {
            if ((phase + r) % 2 == 0) {
                unlink(plain);
                sync();
                t = t_plain = bench_plain(plain, b.p, b.len, count);
                best_plain = t < best_plain ? t : best_plain;
                cpu_plain = last_cpu < cpu_plain ? last_cpu : cpu_plain;
            } else {
                tu_rmtree(logdir);
                sync();
                t = t_append = bench_append(logdir, b.p, b.len, count);
                best_append = t < best_append ? t : best_append;
                cpu_append = last_cpu < cpu_append ? last_cpu : cpu_append;
            }
        }
        unlink(plain);
        double t_read = bench_read(logdir, 0, 1 << 20, &bytes);
        best_read = t_read < best_read ? t_read : best_read;
        double t_send = bench_read(logdir, 1, 1 << 20, &bytes);
        best_send = t_send < best_send ? t_send : best_send;
        printf("  round %d: append %.0f MB/s, plain write %.0f MB/s, read %.2f GB/s, sendfile "
               "%.2f GB/s\n",
               r + 1, total_mb / t_append, total_mb / t_plain, (double)bytes / 1e9 / t_read,
               (double)bytes / 1e9 / t_send);
    }
    double append_mbs = total_mb / best_append, plain_mbs = total_mb / best_plain;
    printf("best of %d rounds:\n", rounds);
    printf("append (rn_plog_append)   %8.0f MB/s\n", append_mbs);
    printf("plain write(2)            %8.0f MB/s\n", plain_mbs);
    printf("append/plain              %8.0f %%   (target >= 70%%)\n", 100 * append_mbs / plain_mbs);
    printf(
        "CPU cost: append %.0f MB per CPU-second, plain %.0f MB per CPU-second (ratio %.0f %%)\n",
        total_mb / cpu_append, total_mb / cpu_plain, 100 * cpu_plain / cpu_append);
    printf("read  (rn_plog_read+read) %8.2f GB/s (target >= 1 GB/s)\n",
           (double)bytes / 1e9 / best_read);
    printf("read  (rn_plog_read+sendfile to /dev/null) %8.2f GB/s\n",
           (double)bytes / 1e9 / best_send);
    tu_free(&b);
    if (!keep)
        tu_rmtree(root);
    return 0;
}
