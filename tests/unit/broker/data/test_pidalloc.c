/* Unit tests for rn_pidalloc: ids increase, blocks are reserved in the file before use,
 * a reopen (clean or after a "crash") never repeats an id, corrupt files are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rn_err.h"
#include "data/rn_pidalloc.h"
#include "tap.h"

static char dir[256];

static void write_file(const char *text)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, RN_PIDALLOC_FILE);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static long long read_file_value(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, RN_PIDALLOC_FILE);
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1)
            v = -2;
        fclose(f);
    }
    return v;
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rn_pidalloc_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char err[512] = "";
    rn_pidalloc_t *pa = NULL;
    is(rn_pidalloc_open(dir, 10, &pa, err, sizeof(err)), 0, "open a fresh directory");
    is(read_file_value(), 10, "first block reserved in the file");
    int64_t id = -1, prev = -1;
    int increasing = 1;
    for (int i = 0; i < 25; i++) {
        if (rn_pidalloc_next(pa, &id) != 0 || id != prev + 1)
            increasing = 0;
        prev = id;
    }
    ok(increasing, "25 ids 0..24 in order");
    is(id, 24, "last id 24");
    is(read_file_value(), 30, "file is ahead of every id handed out");
    /* A crash: no close, reopen. The unused ids 25..29 are skipped, never repeated. */
    rn_pidalloc_t *pa2 = NULL;
    is(rn_pidalloc_open(dir, 10, &pa2, err, sizeof(err)), 0, "reopen");
    is(rn_pidalloc_next(pa2, &id), 0, "next after reopen");
    is(id, 30, "continues past the reserved block");
    rn_pidalloc_close(pa);
    rn_pidalloc_close(pa2);

    is(rn_pidalloc_open(dir, 0, &pa, err, sizeof(err)), 0, "reopen with the default block");
    is(rn_pidalloc_next(pa, &id), 0, "next");
    is(id, 40, "starts at the reservation");
    is(read_file_value(), 40 + RN_PIDALLOC_BLOCK, "default block of 1000 reserved");
    rn_pidalloc_close(pa);

    write_file("12x\n");
    is(rn_pidalloc_open(dir, 10, &pa, err, sizeof(err)), RN_ECORRUPT, "garbage refused");
    ok(strstr(err, RN_PIDALLOC_FILE) != NULL, "error names the file: %s", err);
    write_file("");
    is(rn_pidalloc_open(dir, 10, &pa, err, sizeof(err)), RN_ECORRUPT, "empty file refused");
    write_file("99999999999999999999999\n");
    is(rn_pidalloc_open(dir, 10, &pa, err, sizeof(err)), RN_ECORRUPT, "overflow refused");
    write_file("9223372036854775800\n");
    is(rn_pidalloc_open(dir, 10, &pa, err, sizeof(err)), RN_ERANGE, "ids exhausted");

    is(rn_pidalloc_open("/nonexistent/dir", 10, &pa, err, sizeof(err)), RN_EIO,
       "unwritable directory");
    ok(strstr(err, "/nonexistent/dir") != NULL, "error names the path: %s", err);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
