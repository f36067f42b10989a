/* Scratch directories for unit tests that touch the file system: a fresh directory under
 * $TMPDIR (or /tmp), paths inside it, and its removal. Header-only, included by the tests
 * (and by the per-module test helpers such as storage/plog_testutil.h), and the tests'
 * pseudo-random numbers. */
#ifndef RN_TESTUTIL_H
#define RN_TESTUTIL_H

#include "rn_fsutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A fresh scratch directory "rn-TAG-XXXXXX" under $TMPDIR (or /tmp) into buf[256]; a test
 * that cannot have one cannot run, so failure exits with 2 after saying why. */
static inline void tu_tmpdir(char *buf, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, 256, "%s/rn-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Remove a scratch directory and everything in it. */
static inline void tu_rmtree(const char *path)
{
    rn_fsutil_remove_tree(path, NULL, 0);
}

/* "dir/rel" in one of four rotating static buffers, so up to four can be live at once (an
 * argument list naming a source and a destination, say). */
static inline const char *tu_path(const char *dir, const char *rel)
{
    static char buf[4][512];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, 512, "%s/%s", dir, rel);
    return p;
}

/* xorshift32: the tests' reproducible pseudo-random numbers; *state is the (non-zero) seed
 * and advances. */
static inline uint32_t tu_xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

#endif
