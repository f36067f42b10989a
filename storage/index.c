/* The offset index (Kafka's `.index`) and the mmapped fixed-entry file under both index
 * kinds (see rn_index.h). */
#include "rn_index.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void idxfile_unmap(rn__idxfile_t *f)
{
    if (f->map != NULL)
        munmap(f->map, f->map_len);
    f->map = NULL;
    f->map_len = 0;
}

/* Close a descriptor opened for one operation, keeping the errno of a failure before it. */
static void idxfile_close_fd(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

static int idxfile_map(rn__idxfile_t *f, int fd, size_t len, int writable)
{
    idxfile_unmap(f);
    if (len == 0)
        return 0;
    int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
    void *map = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        /* No mapping, no entries: lookups scan the segment from its start and appends find
         * the index full (a roll), instead of touching a mapping that is gone. */
        f->entries = f->max_entries = 0;
        f->writable = 0;
        return RN_EIO;
    }
    /* Index pages are reached by binary search, appends and a backward scan for the last
     * entry: never sequentially. The default read-around would fault in (and zero-fill, over
     * the preallocated holes) a whole read-ahead window for each first touch, ~1 ms per index
     * at start-up. */
    (void)madvise(map, len, MADV_RANDOM);
    f->map = map;
    f->map_len = len;
    return 0;
}

static int entry_is_zero(const uint8_t *p, size_t size)
{
    static const uint8_t zero[RN__IDXFILE_MAX_ENTRY_SIZE];
    return memcmp(p, zero, size) == 0;
}

/* Where the file's last stretch of data ends: past it the file is a hole and reads as zeros.
 * A writable index is preallocated sparse to segment.index.bytes (10 MiB), and a process
 * killed before trimming it leaves it so; reading those holes page by page to find the last
 * entry cost ~10-30 ms per index at start-up. `len` when the file system reports no holes. */
static size_t idxfile_data_end(int fd, size_t len)
{
    off_t pos = 0, end = 0;
    while ((size_t)pos < len) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0)
            return errno == ENXIO ? (size_t)end : len; /* ENXIO: no data from pos on */
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0 || hole <= data)
            return len;
        end = pos = hole;
    }
    return (size_t)end < len ? (size_t)end : len;
}

/* Count the entries of a file of `len` bytes: whole entries, minus an all-zero tail. */
static int idxfile_count(rn__idxfile_t *f, int fd, size_t len)
{
    size_t n = len / f->entry_size;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    f->entries = 0;
    if (n == 0)
        return 0;
    /* Entries past the last data are zeros: only the data part needs reading. */
    size_t data = idxfile_data_end(fd, len);
    size_t with_data = (data + f->entry_size - 1) / f->entry_size;
    if (with_data < n)
        n = with_data;
    if (n == 0)
        return 0;
    int err = idxfile_map(f, fd, n * f->entry_size, 0);
    if (err)
        return err;
    while (n > 0 && entry_is_zero(f->map + (n - 1) * f->entry_size, f->entry_size))
        n--;
    f->entries = (uint32_t)n;
    idxfile_unmap(f);
    return 0;
}

/* Open the file for the one operation that needs a descriptor (mmap, a size change, fsync).
 * None stays open in between: the mapping keeps the file, as Kafka closes an index's
 * descriptor once it is mapped, so a segment costs one descriptor (its .log) however many
 * partitions a node holds. */
static int idxfile_fd(const rn__idxfile_t *f, int flags)
{
    return open(f->path, flags | O_CLOEXEC, 0644);
}

static int idxfile_make_writable_fd(rn__idxfile_t *f, int fd, size_t max_bytes)
{
    size_t cap = max_bytes / f->entry_size;
    if (cap < f->entries)
        cap = f->entries;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    /* Everything past the entries must read as zeros: a zero entry is what marks the end after
     * a crash. Whole entries past them are zeros already (the count stops at the last non-zero
     * entry, truncation and reset clear what they drop); only a partial entry at the end of a
     * damaged file needs cutting. Truncating an already preallocated file anyway cost two
     * journalled size changes per index on every start-up after a kill. Nothing reads the
     * old mapping past the entries, which both size changes keep. */
    struct stat st;
    if (fstat(fd, &st) != 0)
        return RN_EIO;
    size_t len = (size_t)st.st_size, keep = (size_t)f->entries * f->entry_size;
    size_t want = cap * f->entry_size;
    if ((len % f->entry_size != 0 || len < keep) && ftruncate(fd, (off_t)keep) != 0)
        return RN_EIO;
    if ((len != want || len % f->entry_size != 0) && ftruncate(fd, (off_t)want) != 0)
        return RN_EIO;
    f->max_entries = (uint32_t)cap;
    f->writable = 1;
    return idxfile_map(f, fd, cap * f->entry_size, 1);
}

static int idxfile_trim_fd(rn__idxfile_t *f, int fd)
{
    /* The mapping stays until the file is cut: nothing reads past the entries meanwhile, and
     * a failed cut leaves the index as it was. */
    size_t len = (size_t)f->entries * f->entry_size;
    if (ftruncate(fd, (off_t)len) != 0)
        return RN_EIO;
    f->max_entries = f->entries;
    f->writable = 0;
    return idxfile_map(f, fd, len, 0);
}

int rn__idxfile_open(rn__idxfile_t *f, const char *path, size_t entry_size, int writable,
                     size_t max_bytes)
{
    memset(f, 0, sizeof(*f));
    if (entry_size == 0 || entry_size > RN__IDXFILE_MAX_ENTRY_SIZE) {
        errno = EINVAL;
        return RN_EINVAL;
    }
    f->entry_size = entry_size;
    f->path = rn_xstrdup(path);
    int fd = idxfile_fd(f, O_RDWR | O_CREAT);
    if (fd < 0)
        goto fail;
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto fail;
    f->damaged = (size_t)st.st_size % entry_size != 0;
    if (idxfile_count(f, fd, (size_t)st.st_size) != 0)
        goto fail;
    int err = writable ? idxfile_make_writable_fd(f, fd, max_bytes) : idxfile_trim_fd(f, fd);
    if (err)
        goto fail;
    close(fd);
    return 0;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    rn__idxfile_close(f);
    errno = saved;
    return RN_EIO;
}

int rn__idxfile_make_writable(rn__idxfile_t *f, size_t max_bytes)
{
    int fd = idxfile_fd(f, O_RDWR);
    if (fd < 0)
        return RN_EIO;
    int err = idxfile_make_writable_fd(f, fd, max_bytes);
    idxfile_close_fd(fd);
    return err;
}

int rn__idxfile_trim(rn__idxfile_t *f)
{
    int fd = idxfile_fd(f, O_RDWR);
    if (fd < 0)
        return RN_EIO;
    int err = idxfile_trim_fd(f, fd);
    idxfile_close_fd(fd);
    return err;
}

void rn__idxfile_truncate_entries(rn__idxfile_t *f, uint32_t n)
{
    if (n == 0 && f->writable)
        f->damaged = 0; /* a reset before a rebuild forgets the damage */
    if (n >= f->entries || !f->writable)
        return;
    memset(f->map + (size_t)n * f->entry_size, 0, (size_t)(f->entries - n) * f->entry_size);
    f->entries = n;
}

uint32_t rn__idxfile_count_le(const rn__idxfile_t *f, rn__idxfile_key_fn key, int64_t base,
                              int64_t target)
{
    uint32_t lo = 0, hi = f->entries;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key(rn__idxfile_entry(f, mid), base) <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void rn__idxfile_truncate_from(rn__idxfile_t *f, rn__idxfile_key_fn key, int64_t base,
                               int64_t limit)
{
    uint32_t keep = f->entries;
    while (keep > 0 && key(rn__idxfile_entry(f, keep - 1), base) >= limit)
        keep--;
    rn__idxfile_truncate_entries(f, keep);
}

int rn__idxfile_sync(rn__idxfile_t *f)
{
    /* fsync through a descriptor of its own, not msync() of the mapping: the owner thread may
     * replace the mapping (roll, truncation) while this runs on the flush thread, whereas the
     * path stays for as long as the caller's reference. The pages written through the
     * mapping are the file's page cache, which fsync writes whatever descriptor it is given;
     * and the mapping holding the file open keeps a write error for this descriptor to see. */
    int fd = idxfile_fd(f, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? 0 : RN_EIO; /* deleted (retention, compaction): nothing to keep */
    int err = fsync(fd) == 0 ? 0 : RN_EIO;
    idxfile_close_fd(fd);
    return err;
}

void rn__idxfile_close(rn__idxfile_t *f)
{
    idxfile_unmap(f);
    rn_free(f->path);
    f->path = NULL;
    f->entries = f->max_entries = 0;
}

int rn_index_open(rn_index_t *idx, const char *path, int64_t base_offset, int writable,
                  size_t max_bytes)
{
    idx->base_offset = base_offset;
    return rn__idxfile_open(&idx->file, path, RN_INDEX_ENTRY_SIZE, writable, max_bytes);
}

void rn_index_close(rn_index_t *idx)
{
    rn__idxfile_close(&idx->file);
}

rn_index_entry_t rn_index_entry(const rn_index_t *idx, uint32_t i)
{
    const uint8_t *p = rn__idxfile_entry(&idx->file, i);
    rn_index_entry_t e = {idx->base_offset + rn_load_be32(p), rn_load_be32(p + 4)};
    return e;
}

int rn_index_append(rn_index_t *idx, int64_t offset, uint32_t position)
{
    rn__idxfile_t *f = &idx->file;
    if (!f->writable || f->entries >= f->max_entries)
        return RN_EFULL;
    int64_t rel = offset - idx->base_offset;
    if (rel < 0 || rel > UINT32_MAX)
        return RN_EINVAL;
    if (f->entries > 0) {
        rn_index_entry_t last = rn_index_entry(idx, f->entries - 1);
        if (offset <= last.offset || position <= last.position)
            return RN_EINVAL;
    }
    uint8_t *p = f->map + (size_t)f->entries * RN_INDEX_ENTRY_SIZE;
    rn_store_be32(p, (uint32_t)rel);
    rn_store_be32(p + 4, position);
    f->entries++;
    return 0;
}

/* The keys of an offset index entry: absolute offset, and position. */
static int64_t index_key_offset(const uint8_t *entry, int64_t base)
{
    return base + rn_load_be32(entry);
}

static int64_t index_key_position(const uint8_t *entry, int64_t base)
{
    (void)base;
    return rn_load_be32(entry + 4);
}

int rn_index_lookup(const rn_index_t *idx, int64_t offset, rn_index_entry_t *out)
{
    /* The last entry whose offset is <= offset. */
    uint32_t n = rn__idxfile_count_le(&idx->file, index_key_offset, idx->base_offset, offset);
    if (n == 0)
        return 0;
    *out = rn_index_entry(idx, n - 1);
    return 1;
}

int rn_index_lookup_position(const rn_index_t *idx, uint32_t position, rn_index_entry_t *out)
{
    uint32_t n = rn__idxfile_count_le(&idx->file, index_key_position, 0, position);
    if (n == 0)
        return 0;
    *out = rn_index_entry(idx, n - 1);
    return 1;
}

void rn_index_truncate_to(rn_index_t *idx, int64_t offset)
{
    rn__idxfile_truncate_from(&idx->file, index_key_offset, idx->base_offset, offset);
}

void rn_index_reset(rn_index_t *idx)
{
    rn__idxfile_truncate_entries(&idx->file, 0);
}

int rn_index_check_bytes(const uint8_t *buf, size_t len, int64_t max_rel_offset,
                         uint64_t max_position, const char **why)
{
    *why = NULL;
    if (len % RN_INDEX_ENTRY_SIZE != 0) {
        *why = "file length is not a multiple of 8";
        return RN_ECORRUPT;
    }
    uint32_t prev_rel = 0, prev_pos = 0;
    for (size_t i = 0; i < len / RN_INDEX_ENTRY_SIZE; i++) {
        uint32_t rel = rn_load_be32(buf + i * RN_INDEX_ENTRY_SIZE);
        uint32_t pos = rn_load_be32(buf + i * RN_INDEX_ENTRY_SIZE + 4);
        if (i > 0 && (rel <= prev_rel || pos <= prev_pos)) {
            *why = "entries are not strictly increasing";
            return RN_ECORRUPT;
        }
        if (pos == 0) {
            *why = "an entry points at position 0, which is never indexed";
            return RN_ECORRUPT;
        }
        if ((int64_t)rel > max_rel_offset) {
            *why = "an entry is past the segment's last offset";
            return RN_ECORRUPT;
        }
        if (pos >= max_position) {
            *why = "an entry points past the end of the log file";
            return RN_ECORRUPT;
        }
        prev_rel = rel;
        prev_pos = pos;
    }
    return 0;
}

int rn_index_check(const rn_index_t *idx, int64_t next_offset, uint64_t size, const char **why)
{
    if (idx->file.damaged) {
        *why = "file length is not a multiple of 8";
        return RN_ECORRUPT;
    }
    size_t len = (size_t)idx->file.entries * RN_INDEX_ENTRY_SIZE;
    if (len == 0) {
        *why = NULL;
        return 0;
    }
    return rn_index_check_bytes(idx->file.map, len, next_offset - 1 - idx->base_offset, size, why);
}
