/* rn_fsutil: small-file helpers shared by the storage modules.
 *
 * Every metadata file runnel keeps (checkpoints, meta.properties, leader-epoch-checkpoint,
 * partition.metadata, producer snapshots) is written whole with rn_fsutil_write_atomic, so a
 * crash leaves either the old file or the new one, never a torn mix. Readers load the whole
 * file with a size cap and parse it from memory.
 *
 * Error reporting: functions return 0 or a negative RN_E* and, when `err` is not NULL, write
 * a one-line message naming the path and the failed operation into err[0..errlen). errno is
 * left as the failing system call set it. */
#ifndef RN_FSUTIL_H
#define RN_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Suffix of the temporary file rn_fsutil_write_atomic writes before renaming (Kafka's too). */
#define RN_FSUTIL_TMP_SUFFIX ".tmp"

/* Replace `path` with exactly `len` bytes of `data`, atomically and durably: write
 * "<path>.tmp" in the same directory, fsync it, rename it over `path`, fsync the directory.
 * The file gets mode 0644. When writing or renaming fails the temporary file is removed and
 * `path` is untouched; when only the final directory fsync fails the new content is in place
 * but may not survive a crash. Returns 0 or RN_EIO. Two writers of the same path at once
 * would share the temporary name: each file has one writer. Blocks on fsync: never call it
 * on the event loop thread. */
int rn_fsutil_write_atomic(const char *path, const void *data, size_t len, char *err,
                           size_t errlen);

/* Read the whole regular file `path` into a new rn_malloc'd buffer (*out, *len). The buffer
 * has one extra NUL byte after the data so text parsers may treat it as a C string; the
 * caller frees it with rn_free. Returns 0; RN_ENOTFOUND when the file does not exist;
 * RN_ETOOBIG when it is larger than max_size bytes; RN_ENOMEM; RN_EIO. */
int rn_fsutil_read_file(const char *path, size_t max_size, uint8_t **out, size_t *len, char *err,
                        size_t errlen);

/* mkdir -p: create `path` and any missing parents with `mode` (before umask). An existing
 * directory is success; an existing non-directory is RN_EEXIST. Returns 0, RN_EEXIST, RN_EINVAL
 * (empty path), RN_EIO. */
int rn_fsutil_mkdirs(const char *path, mode_t mode, char *err, size_t errlen);

/* rm -rf: remove `path` and everything below it without following symbolic links (a link is
 * removed, not its target). A missing path is success. Returns 0 or RN_EIO. */
int rn_fsutil_remove_tree(const char *path, char *err, size_t errlen);

/* fsync the directory `path`, making renames, creations and removals in it durable.
 * Returns 0 or RN_EIO. */
int rn_fsutil_fsync_dir(const char *path, char *err, size_t errlen);

/* fsync the directory that contains `path` ("." for a bare file name). Returns 0 or RN_EIO. */
int rn_fsutil_fsync_parent(const char *path, char *err, size_t errlen);

/* "dir/name" in memory from rn_xmalloc (the caller frees it with rn_free); aborts on OOM, as
 * small internal allocations do. */
char *rn_fsutil_join(const char *dir, const char *name);

/* Format a message into err[0..errlen) (no-op when err is NULL or errlen is 0). For the
 * storage modules that share this error convention. */
void rn_fsutil_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
