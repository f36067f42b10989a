/* A data directory: lock, meta.properties, clean-shutdown marker, partition listing (see
 * rn_datadir.h). */
#include "rn_datadir.h"

#include "checkpoint_internal.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* meta.properties is a handful of short lines; anything bigger is not ours. */
#define META_MAX_SIZE (64u << 10)

struct rn_datadir {
    char *path;
    int lock_fd; /* holds flock(LOCK_EX) until close */
    rn_datadir_meta_t meta;
    bool was_clean;
    bool created; /* meta.properties was written by this open: a new directory */
};

bool rn_datadir_topic_valid(const char *topic, size_t len)
{
    return rn__topic_name_valid(topic, len);
}

/* ---- meta.properties ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

enum { META_VERSION = 1, META_NODE_ID = 2, META_CLUSTER_ID = 4, META_DIRECTORY_ID = 8 };

int rn_datadir_meta_parse(const char *name, const uint8_t *buf, size_t len, rn_datadir_meta_t *meta,
                          char *err, size_t errlen)
{
    memset(meta, 0, sizeof(*meta));
    rn__text_t text;
    rn__text_init(&text, name, buf, len, err, errlen);
    const char *line;
    size_t line_len;
    unsigned seen = 0;
    int64_t version = -1, node_id = -1;
    while (rn__text_next(&text, &line, &line_len)) {
        size_t i = 0;
        while (i < line_len && is_blank(line[i]))
            i++;
        if (i == line_len || line[i] == '#' || line[i] == '!')
            continue;
        if (memchr(line, '\\', line_len) != NULL)
            return rn__text_corrupt(&text, line, line_len,
                                    "backslash escapes are not supported in meta.properties");
        size_t key = i;
        while (i < line_len && line[i] != '=' && line[i] != ':' && !is_blank(line[i]))
            i++;
        size_t key_len = i - key;
        while (i < line_len && is_blank(line[i]))
            i++;
        if (i < line_len && (line[i] == '=' || line[i] == ':'))
            i++;
        while (i < line_len && is_blank(line[i]))
            i++;
        const char *k = line + key, *v = line + i;
        size_t v_len = line_len - i;
#define KEY_IS(lit) (key_len == sizeof(lit) - 1 && memcmp(k, lit, key_len) == 0)
        if (KEY_IS("version")) {
            if (!rn__parse_i64(v, v_len, 0, INT32_MAX, &version))
                return rn__text_corrupt(&text, line, line_len, "version must be a number");
            seen |= META_VERSION;
        } else if (KEY_IS("node.id")) {
            if (!rn__parse_i64(v, v_len, 0, INT32_MAX, &node_id))
                return rn__text_corrupt(&text, line, line_len,
                                        "node.id must be a number from 0 to 2147483647");
            seen |= META_NODE_ID;
        } else if (KEY_IS("cluster.id")) {
            if (rn_uuid_from_base64(v, v_len, &meta->cluster_id) != 0)
                return rn__text_corrupt(&text, line, line_len,
                                        "cluster.id must be a 22-character base64url id");
            seen |= META_CLUSTER_ID;
        } else if (KEY_IS("directory.id")) {
            if (rn_uuid_from_base64(v, v_len, &meta->directory_id) != 0)
                return rn__text_corrupt(&text, line, line_len,
                                        "directory.id must be a 22-character base64url id");
            seen |= META_DIRECTORY_ID;
        }
#undef KEY_IS
    }
    if (!(seen & META_VERSION)) {
        rn_fsutil_seterr(err, errlen, "%s: no version line", name);
        return RN_ECORRUPT;
    }
    if (version != 1) {
        rn_fsutil_seterr(err, errlen,
                         "%s: version=%" PRId64 " is not supported; runnel reads version=1 "
                         "(KRaft)%s",
                         name, version,
                         version == 0 ? " and this looks like a ZooKeeper-mode directory" : "");
        return RN_EUNSUPPORTED;
    }
    if (!(seen & META_NODE_ID)) {
        rn_fsutil_seterr(err, errlen, "%s: no node.id line", name);
        return RN_ECORRUPT;
    }
    if (!(seen & META_CLUSTER_ID)) {
        rn_fsutil_seterr(err, errlen, "%s: no cluster.id line", name);
        return RN_ECORRUPT;
    }
    meta->version = (int32_t)version;
    meta->node_id = (int32_t)node_id;
    meta->has_directory_id = (seen & META_DIRECTORY_ID) != 0;
    return 0;
}

void rn_datadir_meta_format(const rn_datadir_meta_t *meta, char **out, size_t *len)
{
    char cluster[RN_UUID_BASE64_LEN + 1], directory[RN_UUID_BASE64_LEN + 1];
    rn_uuid_to_base64(&meta->cluster_id, cluster);
    rn_uuid_to_base64(&meta->directory_id, directory);
    size_t cap = 256;
    char *buf = rn_xmalloc(cap);
    int n;
    if (meta->has_directory_id)
        n = snprintf(buf, cap,
                     "#Written by runnel\ncluster.id=%s\ndirectory.id=%s\nnode.id=%" PRId32
                     "\nversion=%" PRId32 "\n",
                     cluster, directory, meta->node_id, meta->version);
    else
        n = snprintf(buf, cap,
                     "#Written by runnel\ncluster.id=%s\nnode.id=%" PRId32 "\nversion=%" PRId32
                     "\n",
                     cluster, meta->node_id, meta->version);
    *out = buf;
    *len = (size_t)n;
}

static int meta_write(const char *path, const rn_datadir_meta_t *meta, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    rn_datadir_meta_format(meta, &buf, &len);
    int rc = rn_fsutil_write_atomic(path, buf, len, err, errlen);
    rn_free(buf);
    return rc;
}

/* Create meta.properties in a new directory, or check and complete an existing one. */
static int meta_load_or_create(rn_datadir_t *dd, int32_t node_id, const rn_uuid_t *cluster_id,
                               char *err, size_t errlen)
{
    char *path = rn_fsutil_join(dd->path, RN_DATADIR_META_FILE);
    uint8_t *buf;
    size_t len;
    char want[RN_UUID_BASE64_LEN + 1], have[RN_UUID_BASE64_LEN + 1];
    int rc = rn_fsutil_read_file(path, META_MAX_SIZE, &buf, &len, err, errlen);
    if (rc == RN_ENOTFOUND) {
        dd->meta.version = 1;
        dd->meta.node_id = node_id;
        if (cluster_id != NULL)
            dd->meta.cluster_id = *cluster_id;
        else if ((rc = rn_uuid_random(&dd->meta.cluster_id)) != 0)
            goto random_failed;
        if ((rc = rn_uuid_random(&dd->meta.directory_id)) != 0)
            goto random_failed;
        dd->meta.has_directory_id = true;
        rc = meta_write(path, &dd->meta, err, errlen);
        dd->created = rc == 0;
        if (rc == 0) {
            rn_uuid_to_base64(&dd->meta.cluster_id, have);
            RN_INFO("datadir", "created %s for node.id=%d in cluster %s", path, (int)node_id, have);
        }
        goto out;
    }
    if (rc != 0)
        goto out;
    rc = rn_datadir_meta_parse(path, buf, len, &dd->meta, err, errlen);
    rn_free(buf);
    if (rc != 0)
        goto out;
    if (dd->meta.node_id != node_id) {
        rn_fsutil_seterr(err, errlen,
                         "%s says node.id=%d but this node is node.id=%d: start with node id %d "
                         "or use another data directory",
                         path, (int)dd->meta.node_id, (int)node_id, (int)dd->meta.node_id);
        rc = RN_EINVAL;
        goto out;
    }
    if (cluster_id != NULL && !rn_uuid_equal(cluster_id, &dd->meta.cluster_id)) {
        rn_uuid_to_base64(cluster_id, want);
        rn_uuid_to_base64(&dd->meta.cluster_id, have);
        rn_fsutil_seterr(err, errlen,
                         "%s belongs to cluster.id=%s but this node joins cluster %s: use a data "
                         "directory of that cluster or an empty one",
                         path, have, want);
        rc = RN_EINVAL;
        goto out;
    }
    if (!dd->meta.has_directory_id) {
        /* Kafka 3.7+ gives every log dir an id; add one as it does on upgrade. */
        if ((rc = rn_uuid_random(&dd->meta.directory_id)) != 0)
            goto random_failed;
        dd->meta.has_directory_id = true;
        rc = meta_write(path, &dd->meta, err, errlen);
    }
    goto out;
random_failed:
    rn_fsutil_seterr(err, errlen, "getrandom failed generating an id for %s: %s", path,
                     strerror(errno));
out:
    rn_free(path);
    return rc;
}

/* ---- open / close ---- */

static int take_lock(rn_datadir_t *dd, char *err, size_t errlen)
{
    char *path = rn_fsutil_join(dd->path, RN_DATADIR_LOCK_FILE);
    int rc = 0;
    dd->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (dd->lock_fd < 0) {
        rn_fsutil_seterr(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
        rc = RN_EIO;
    } else if (flock(dd->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            rn_fsutil_seterr(err, errlen,
                             "data directory %s is locked (%s): another runneld probably uses "
                             "it; stop that process or choose another data directory",
                             dd->path, path);
            rc = RN_ELOCKED;
        } else {
            rn_fsutil_seterr(err, errlen, "cannot lock %s: %s", path, strerror(errno));
            rc = RN_EIO;
        }
        close(dd->lock_fd);
        dd->lock_fd = -1;
    }
    rn_free(path);
    return rc;
}

/* Note and remove the clean-shutdown marker; the removal is made durable before anything
 * else is written, or a crash could resurrect it and skip a needed recovery. */
static int consume_clean_marker(rn_datadir_t *dd, char *err, size_t errlen)
{
    char *path = rn_fsutil_join(dd->path, RN_DATADIR_CLEAN_SHUTDOWN_FILE);
    int rc = 0;
    if (unlink(path) == 0) {
        dd->was_clean = true;
        rc = rn_fsutil_fsync_dir(dd->path, err, errlen);
    } else if (errno != ENOENT) {
        rn_fsutil_seterr(err, errlen, "cannot remove clean-shutdown marker %s: %s", path,
                         strerror(errno));
        rc = RN_EIO;
    }
    rn_free(path);
    return rc;
}

int rn_datadir_open(const char *path, int32_t node_id, const rn_uuid_t *cluster_id,
                    rn_datadir_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (node_id < 0) {
        rn_fsutil_seterr(err, errlen, "invalid node id %d for data directory %s", (int)node_id,
                         path);
        return RN_EINVAL;
    }
    int rc = rn_fsutil_mkdirs(path, 0755, err, errlen);
    if (rc != 0)
        return rc;
    rn_datadir_t *dd = rn_xcalloc(1, sizeof(*dd));
    dd->path = rn_xstrdup(path);
    dd->lock_fd = -1;
    if ((rc = take_lock(dd, err, errlen)) != 0 ||
        (rc = meta_load_or_create(dd, node_id, cluster_id, err, errlen)) != 0 ||
        (rc = consume_clean_marker(dd, err, errlen)) != 0) {
        rn_datadir_close(dd, false, NULL, 0);
        return rc;
    }
    if (!dd->was_clean && !dd->created)
        RN_INFO("datadir", "%s: no clean-shutdown marker, logs will be recovered", path);
    *out = dd;
    return 0;
}

int rn_datadir_close(rn_datadir_t *dd, bool clean, char *err, size_t errlen)
{
    if (dd == NULL)
        return 0;
    int rc = 0;
    if (clean && dd->lock_fd >= 0) {
        char *path = rn_fsutil_join(dd->path, RN_DATADIR_CLEAN_SHUTDOWN_FILE);
        rc = rn_fsutil_write_atomic(path, "", 0, err, errlen);
        rn_free(path);
    }
    if (dd->lock_fd >= 0)
        close(dd->lock_fd); /* closing the only descriptor releases the flock */
    rn_free(dd->path);
    rn_free(dd);
    return rc;
}

const char *rn_datadir_path(const rn_datadir_t *dd)
{
    return dd->path;
}

const rn_datadir_meta_t *rn_datadir_meta(const rn_datadir_t *dd)
{
    return &dd->meta;
}

bool rn_datadir_was_clean_shutdown(const rn_datadir_t *dd)
{
    return dd->was_clean;
}

/* ---- partition directories ---- */

int rn_datadir_parse_partition_dir(const char *name, char *topic, size_t topic_cap,
                                   int32_t *partition)
{
    const char *dash = strrchr(name, '-');
    if (dash == NULL)
        return RN_EINVAL;
    size_t topic_len = (size_t)(dash - name);
    const char *digits = dash + 1;
    size_t ndigits = strlen(digits);
    int64_t value;
    if (!rn__topic_name_valid(name, topic_len) || ndigits == 0 ||
        (ndigits > 1 && digits[0] == '0') || !rn__parse_i64(digits, ndigits, 0, INT32_MAX, &value))
        return RN_EINVAL;
    if (topic_len + 1 > topic_cap)
        return RN_EINVAL;
    memcpy(topic, name, topic_len);
    topic[topic_len] = '\0';
    *partition = (int32_t)value;
    return 0;
}

int rn_datadir_partition_path(const rn_datadir_t *dd, const char *topic, int32_t partition,
                              char *buf, size_t cap)
{
    if (!rn__topic_name_valid(topic, strlen(topic)) || partition < 0)
        return RN_EINVAL;
    int n = snprintf(buf, cap, "%s/%s-%" PRId32, dd->path, topic, partition);
    if (n < 0 || (size_t)n >= cap)
        return RN_ETOOBIG;
    return 0;
}

/* Kafka's own transient partition directories: "<tp>.<id>-delete", "-future", "-stray". */
static bool is_kafka_transient(const char *name)
{
    static const char *const suffixes[] = {"-delete", "-future", "-stray"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t slen = strlen(suffixes[i]);
        if (len > slen && strcmp(name + len - slen, suffixes[i]) == 0 && strchr(name, '.'))
            return true;
    }
    return false;
}

static int part_cmp(const void *a, const void *b)
{
    const rn_datadir_part_t *pa = a, *pb = b;
    int c = strcmp(pa->topic, pb->topic);
    if (c != 0)
        return c;
    return (pa->partition > pb->partition) - (pa->partition < pb->partition);
}

int rn_datadir_list_partitions(const rn_datadir_t *dd, rn_datadir_part_t **parts, size_t *count,
                               char *err, size_t errlen)
{
    *parts = NULL;
    *count = 0;
    DIR *dir = opendir(dd->path);
    if (dir == NULL) {
        rn_fsutil_seterr(err, errlen, "cannot list data directory %s: %s", dd->path,
                         strerror(errno));
        return RN_EIO;
    }
    rn_datadir_part_t *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *ent;
    char topic[RN_DATADIR_TOPIC_MAX + 1];
    for (;;) {
        errno = 0;
        if ((ent = readdir(dir)) == NULL)
            break;
        if (ent->d_name[0] == '.')
            continue;
        /* The metadata quorum's log is no data partition: its owner opens it (as Kafka
         * keeps __cluster_metadata-0 apart from its LogManager's partitions). */
        if (strcmp(ent->d_name, RN_DATADIR_METADATA_LOG) == 0)
            continue;
        bool is_dir = ent->d_type == DT_DIR;
        if (ent->d_type == DT_UNKNOWN || ent->d_type == DT_LNK) {
            struct stat st;
            is_dir = fstatat(dirfd(dir), ent->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
        }
        if (!is_dir)
            continue;
        int32_t partition;
        if (rn_datadir_parse_partition_dir(ent->d_name, topic, sizeof(topic), &partition) != 0) {
            if (!is_kafka_transient(ent->d_name))
                RN_WARN("datadir", "%s: ignoring directory %s: not <topic>-<partition>", dd->path,
                        ent->d_name);
            continue;
        }
        rn_vec_xreserve(list, cap, n + 1);
        list[n].topic = rn_xstrdup(topic);
        list[n].partition = partition;
        list[n].name = rn_xstrdup(ent->d_name);
        n++;
    }
    int saved = errno;
    closedir(dir);
    if (saved != 0) {
        rn_fsutil_seterr(err, errlen, "reading data directory %s failed: %s", dd->path,
                         strerror(saved));
        rn_datadir_parts_free(list, n);
        return RN_EIO;
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), part_cmp);
    *parts = list;
    *count = n;
    return 0;
}

void rn_datadir_parts_free(rn_datadir_part_t *parts, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        rn_free(parts[i].topic);
        rn_free(parts[i].name);
    }
    rn_free(parts);
}
