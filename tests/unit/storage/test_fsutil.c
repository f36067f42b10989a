/* rn_fsutil: atomic replace, capped read, mkdir -p, rm -rf, directory fsync. */
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "tap.h"
#include "unit/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[256];

static const char *tpath(const char *rel)
{
    return tu_path(base, rel);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_write_read(void)
{
    char err[256] = "";
    const char *f = tpath("a.txt");
    is(rn_fsutil_write_atomic(f, "hello\nworld\n", 12, err, sizeof(err)), 0, "write new file");
    ok(!exists(tpath("a.txt.tmp")), "no temporary file left behind");
    uint8_t *buf;
    size_t len;
    is(rn_fsutil_read_file(f, 100, &buf, &len, err, sizeof(err)), 0, "read it back");
    is(len, 12, "length");
    ok(memcmp(buf, "hello\nworld\n", 12) == 0 && buf[12] == '\0', "bytes and NUL terminator");
    rn_free(buf);

    is(rn_fsutil_write_atomic(f, "x", 1, err, sizeof(err)), 0, "replace with a shorter file");
    is(rn_fsutil_read_file(f, 1, &buf, &len, err, sizeof(err)), 0, "read at exactly the cap");
    ok(len == 1 && buf[0] == 'x', "old content fully replaced");
    rn_free(buf);
    struct stat st;
    stat(f, &st);
    is(st.st_mode & 0777, 0644, "mode 0644");

    is(rn_fsutil_write_atomic(f, "", 0, err, sizeof(err)), 0, "write an empty file");
    is(rn_fsutil_read_file(f, 0, &buf, &len, err, sizeof(err)), 0, "read an empty file");
    ok(len == 0 && buf != NULL && buf[0] == '\0', "empty buffer is NUL-terminated");
    rn_free(buf);

    is(rn_fsutil_write_atomic(f, "0123456789", 10, err, sizeof(err)), 0, "write 10 bytes");
    is(rn_fsutil_read_file(f, 9, &buf, &len, err, sizeof(err)), RN_ETOOBIG, "over the cap");
    ok(buf == NULL && strstr(err, "a.txt") != NULL, "error names the file: %s", err);

    is(rn_fsutil_read_file(tpath("missing"), 9, &buf, &len, err, sizeof(err)), RN_ENOTFOUND,
       "missing file");
    ok(strstr(err, "missing") != NULL, "error names the missing file: %s", err);
    is(rn_fsutil_read_file(base, 100, &buf, &len, err, sizeof(err)), RN_EIO,
       "reading a directory fails");

    is(rn_fsutil_write_atomic(tpath("nodir/x"), "x", 1, err, sizeof(err)), RN_EIO,
       "write into a missing directory");
    ok(strstr(err, "nodir/x.tmp") != NULL, "error names the temp file: %s", err);
    is(rn_fsutil_write_atomic(tpath("nodir/x"), "x", 1, NULL, 0), RN_EIO, "NULL err buffer ok");

    /* A target that is a non-empty directory cannot be replaced; the temp file is cleaned. */
    mkdir(tpath("dirtarget"), 0755);
    mkdir(tpath("dirtarget/sub"), 0755);
    is(rn_fsutil_write_atomic(tpath("dirtarget"), "x", 1, err, sizeof(err)), RN_EIO,
       "rename over a non-empty directory fails");
    ok(!exists(tpath("dirtarget.tmp")), "temp file removed after a failed rename");
}

static void test_mkdirs_remove(void)
{
    char err[256] = "";
    is(rn_fsutil_mkdirs(tpath("m/n/o/"), 0755, err, sizeof(err)), 0, "mkdir -p three levels");
    struct stat st;
    ok(stat(tpath("m/n/o"), &st) == 0 && S_ISDIR(st.st_mode), "leaf is a directory");
    is(rn_fsutil_mkdirs(tpath("m/n"), 0755, err, sizeof(err)), 0, "existing directory is ok");
    is(rn_fsutil_mkdirs(tpath("m//n//p"), 0755, err, sizeof(err)), 0, "doubled slashes");
    ok(exists(tpath("m/n/p")), "created through doubled slashes");
    rn_fsutil_write_atomic(tpath("m/file"), "f", 1, NULL, 0);
    is(rn_fsutil_mkdirs(tpath("m/file"), 0755, err, sizeof(err)), RN_EEXIST, "path is a file");
    is(rn_fsutil_mkdirs(tpath("m/file/sub"), 0755, err, sizeof(err)), RN_EIO, "parent is a file");
    is(rn_fsutil_mkdirs("", 0755, err, sizeof(err)), RN_EINVAL, "empty path");

    /* Tree with files, nested dirs and a symlink to a directory outside the tree. */
    rn_fsutil_mkdirs(tpath("outside"), 0755, NULL, 0);
    rn_fsutil_write_atomic(tpath("outside/keep"), "k", 1, NULL, 0);
    rn_fsutil_write_atomic(tpath("m/n/o/deep"), "d", 1, NULL, 0);
    int linked = symlink(tpath("outside"), tpath("m/n/link")) == 0;
    ok(linked, "symlink created");
    is(rn_fsutil_remove_tree(tpath("m"), err, sizeof(err)), 0, "rm -rf tree");
    ok(!exists(tpath("m")), "tree is gone");
    ok(exists(tpath("outside/keep")), "symlink target outside the tree survives");
    is(rn_fsutil_remove_tree(tpath("m"), err, sizeof(err)), 0, "removing a missing path is ok");
    is(rn_fsutil_remove_tree(tpath("outside/keep"), err, sizeof(err)), 0, "remove a plain file");
    ok(!exists(tpath("outside/keep")), "plain file removed");
}

static void test_fsync(void)
{
    char err[256] = "";
    is(rn_fsutil_fsync_dir(base, err, sizeof(err)), 0, "fsync a directory");
    is(rn_fsutil_fsync_dir(tpath("nope"), err, sizeof(err)), RN_EIO, "fsync a missing directory");
    ok(strstr(err, "nope") != NULL, "error names it: %s", err);
    is(rn_fsutil_fsync_parent(tpath("anything"), err, sizeof(err)), 0, "fsync parent");
    is(rn_fsutil_fsync_parent("bare-name", err, sizeof(err)), 0, "fsync parent of a bare name");
    is(rn_fsutil_fsync_parent("/etc", err, sizeof(err)), 0, "fsync parent of a root entry");
    char small[8];
    rn_fsutil_seterr(small, sizeof(small), "%s", "truncated message");
    is_str(small, "truncat", "seterr truncates to the buffer");
    rn_fsutil_seterr(NULL, 0, "ignored %d", 1);
    ok(1, "seterr with NULL buffer is a no-op");
}

int main(void)
{
    umask(022);
    tu_tmpdir(base, "fsutil");
    test_write_read();
    test_mkdirs_remove();
    test_fsync();
    tu_rmtree(base);
    return done_testing();
}
