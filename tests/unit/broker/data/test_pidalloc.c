/* Unit tests for rn_pidalloc: ids come from granted blocks in order, the next block is asked
 * for once at 90% used, waiters get ids as blocks arrive or expire, ids below the legacy
 * file's mark are never handed out, and the legacy file is read (never written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rn_err.h"
#include "data/rn_pidalloc.h"
#include "tap.h"
#include "unit/testutil.h"

static char dir[256];
static int asks;
static int64_t got[4];
static int ngot, nexpired, ncancelled;

static void ask(void *arg)
{
    (void)arg;
    asks++;
}

static void on_pid(void *arg, int rc, int64_t pid)
{
    (void)arg;
    if (rc == 0)
        got[ngot++] = pid;
    else if (rc == RN_ECANCELED)
        ncancelled++;
    else
        nexpired++;
}

static void write_file(const char *text)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, RN_PIDALLOC_FILE);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_blocks(void)
{
    rn_pidalloc_t *pa = rn_pidalloc_new(0, ask, NULL);
    int64_t id = -1;
    is(rn_pidalloc_next(pa, &id), RN_ENOTFOUND, "no id before a block");
    is(asks, 1, "a block asked for");
    is(rn_pidalloc_next(pa, &id), RN_ENOTFOUND, "still none");
    is(asks, 1, "asked once only");
    rn_pidalloc_add_block(pa, 1000, 10);
    int bad = 0;
    for (int i = 0; i < 9; i++)
        bad += rn_pidalloc_next(pa, &id) != 0 || id != 1000 + i;
    is(bad, 0, "ids of the block in order");
    is(asks, 2, "the next block asked for at 90%% used");
    rn_pidalloc_add_block(pa, 3000, 10);
    is(rn_pidalloc_next(pa, &id), 0, "last id of the block");
    is(id, 1009, "which is 1009");
    is(rn_pidalloc_next(pa, &id), 0, "then the prefetched block");
    is(id, 3000, "which starts at 3000");
    is(asks, 2, "no ask while the new block is fresh");
    rn_pidalloc_free(pa);
}

static void test_waiters_and_floor(void)
{
    asks = 0;
    rn_pidalloc_t *pa = rn_pidalloc_new(2005, ask, NULL);
    int64_t id;
    is(rn_pidalloc_next(pa, &id), RN_ENOTFOUND, "nothing yet");
    rn_pidalloc_wait(pa, 100, on_pid, NULL);
    rn_pidalloc_wait(pa, 100, on_pid, NULL);
    rn_pidalloc_wait_t *gone = rn_pidalloc_wait(pa, 100, on_pid, NULL);
    rn_pidalloc_unwait(pa, gone);
    rn_pidalloc_add_block(pa, 1000, 1000);
    is(ngot, 0, "a block wholly below the floor is dropped");
    is(asks, 2, "and another asked for");
    rn_pidalloc_add_block(pa, 2000, 1000);
    is(ngot, 2, "both waiters answered");
    is(got[0], 2005, "from the floor on");
    is(got[1], 2006, "in order");
    is(rn_pidalloc_next(pa, &id), 0, "next");
    is(id, 2007, "continues");
    rn_pidalloc_free(pa);

    pa = rn_pidalloc_new(0, ask, NULL);
    rn_pidalloc_next(pa, &id);
    rn_pidalloc_wait(pa, 100, on_pid, NULL);
    rn_pidalloc_wait(pa, 200, on_pid, NULL);
    rn_pidalloc_expire(pa, 150);
    is(nexpired, 1, "the first waiter expires at its deadline");
    rn_pidalloc_free(pa);
    is(ncancelled, 1, "the other is cancelled by free");
}

static void test_legacy_file(void)
{
    char err[512] = "";
    int64_t mark = -1;
    is(rn_pidalloc_read_mark(dir, &mark, err, sizeof(err)), 0, "no file");
    is(mark, 0, "mark 0");
    write_file("4000\n");
    is(rn_pidalloc_read_mark(dir, &mark, err, sizeof(err)), 0, "read the mark");
    is(mark, 4000, "mark 4000");
    write_file("12x\n");
    is(rn_pidalloc_read_mark(dir, &mark, err, sizeof(err)), RN_ECORRUPT, "garbage refused");
    ok(strstr(err, RN_PIDALLOC_FILE) != NULL, "error names the file: %s", err);
    write_file("");
    is(rn_pidalloc_read_mark(dir, &mark, err, sizeof(err)), RN_ECORRUPT, "empty refused");
    write_file("99999999999999999999999\n");
    is(rn_pidalloc_read_mark(dir, &mark, err, sizeof(err)), RN_ECORRUPT, "overflow refused");
}

int main(void)
{
    tu_tmpdir(dir, "pidalloc");
    test_blocks();
    test_waiters_and_floor();
    test_legacy_file();
    tu_rmtree(dir);
    return done_testing();
}
