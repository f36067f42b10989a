/* rn_topics persistence: the runnel-topics registry file (format in rn_topics.h), loading
 * it at start-up, and the persist job that writes it and has rn_logmgr create/remove
 * partition directories on the offload thread. */
#include "topics_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_log.h"
#include "rn_uuid.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RN_TOPICS_FILE_MAX (64u << 20)

/* ---- serialisation ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *sb, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->p + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sb->cap - sb->len) {
            sb->len += (size_t)n;
            return;
        }
        sb->cap = sb->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
        sb->p = rn_xrealloc(sb->p, sb->cap);
    }
}

/* Values may hold anything; keep the file one token per field with %XX escapes. */
static void sb_escaped(sbuf_t *sb, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '%')
            sb_printf(sb, "%%%02X", *c);
        else
            sb_printf(sb, "%c", *c);
    }
    if (*text == '\0')
        sb_printf(sb, "%%");
}

char *rn_topics_serialize(const rn_topics_t *topics, size_t *len)
{
    sbuf_t sb = {rn_xmalloc(1024), 0, 1024};
    sb_printf(&sb, "# runnel topic registry: written by runneld; do not edit while it runs\n"
                   "version 1\n");
    for (size_t i = 0; i < topics->n; i++) {
        const rn_topic_t *topic = topics->by_name[i];
        char id[RN_UUID_BASE64_LEN + 1];
        rn_uuid_to_base64(&topic->id, id);
        sb_printf(&sb, "topic %s %s %d %d\n", topic->name, id, topic->n_partitions,
                  topic->replication_factor);
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            const rn_partition_t *part = topic->partitions[p];
            sb_printf(&sb, "partition %s %d ", topic->name, p);
            for (int32_t r = 0; r < part->n_replicas; r++)
                sb_printf(&sb, "%s%d", r ? "," : "", part->replicas[r]);
            sb_printf(&sb, "\n");
        }
        for (int k = 0; k < RN_TC__COUNT; k++) {
            if (topic->conf.v[k] == NULL)
                continue;
            sb_printf(&sb, "config %s %s ", topic->name, rn_topicconf_def((rn_tc_key_t)k)->name);
            sb_escaped(&sb, topic->conf.v[k]);
            sb_printf(&sb, "\n");
        }
    }
    *len = sb.len;
    return sb.p;
}

/* ---- loading ---- */

static int unescape(char *text)
{
    if (strcmp(text, "%") == 0) {
        text[0] = '\0';
        return 0;
    }
    char *out = text;
    for (char *in = text; *in; in++) {
        if (*in == '%') {
            unsigned v;
            if (sscanf(in + 1, "%2x", &v) != 1 || in[1] == '\0' || in[2] == '\0')
                return RN_ECORRUPT;
            *out++ = (char)v;
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return 0;
}

static bool parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Split line into at most max space-separated fields; returns the count. */
static int split(char *line, char **fields, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        if (n == max)
            return max + 1;
        fields[n++] = tok;
    }
    return n;
}

/* One line of the registry; err gets the reason. */
static int load_line(rn_topics_t *topics, char *line, bool *have_version, char *err, size_t errlen)
{
    char *f[8];
    int n = split(line, f, 6);
    if (n == 0 || f[0][0] == '#')
        return 0;
    if (!*have_version) {
        if (n != 2 || strcmp(f[0], "version") != 0 || strcmp(f[1], "1") != 0)
            return snprintf(err, errlen, "expected \"version 1\" first"), RN_ECORRUPT;
        *have_version = true;
        return 0;
    }
    int64_t num[3];
    if (strcmp(f[0], "topic") == 0) {
        rn_uuid_t id;
        char why[300];
        if (n != 5)
            return snprintf(err, errlen, "a topic line has 4 fields"), RN_ECORRUPT;
        if (rn_topics_valid_name(f[1], strlen(f[1]), why, sizeof(why)) != 0)
            return snprintf(err, errlen, "%s", why), RN_ECORRUPT;
        if (rn_topics_find(topics, f[1], strlen(f[1])) != NULL)
            return snprintf(err, errlen, "topic %s appears twice", f[1]), RN_ECORRUPT;
        if (rn_uuid_from_base64(f[2], strlen(f[2]), &id) != 0 ||
            rn_topics_find_id(topics, &id) != NULL)
            return snprintf(err, errlen, "topic %s: bad or repeated topic id %s", f[1], f[2]),
                   RN_ECORRUPT;
        if (!parse_i64(f[3], 1, 1000000, &num[0]) || !parse_i64(f[4], 1, 32767, &num[1]))
            return snprintf(err, errlen, "topic %s: bad partition count or replication factor",
                            f[1]),
                   RN_ECORRUPT;
        rn_topic_t *topic = rn__topics_insert(topics, f[1], strlen(f[1]), &id, (int16_t)num[1]);
        topic->ready = true; /* rn_topics_load makes any missing directory before the loop */
        for (int64_t p = 0; p < num[0]; p++)
            rn__topic_add_partition(topics, topic, &topics->node_id, 1)->ready = true;
        return 0;
    }
    if (strcmp(f[0], "partition") == 0) {
        rn_topic_t *topic = n == 4 ? rn_topics_find(topics, f[1], strlen(f[1])) : NULL;
        if (topic == NULL || !parse_i64(f[2], 0, topic->n_partitions - 1, &num[0]))
            return snprintf(err, errlen,
                            "a partition line names a topic and a partition "
                            "declared before it"),
                   RN_ECORRUPT;
        int32_t replicas[64];
        int32_t nr = 0;
        char *save = NULL;
        for (char *tok = strtok_r(f[3], ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            if (nr == 64 || !parse_i64(tok, 0, INT32_MAX, &num[1]))
                return snprintf(err, errlen, "bad replica list"), RN_ECORRUPT;
            replicas[nr++] = (int32_t)num[1];
        }
        if (nr == 0)
            return snprintf(err, errlen, "empty replica list"), RN_ECORRUPT;
        rn_partition_t *part = topic->partitions[num[0]];
        rn_free(part->replicas);
        rn_free(part->isr);
        part->replicas = rn_xmalloc((size_t)nr * sizeof(int32_t));
        part->isr = rn_xmalloc((size_t)nr * sizeof(int32_t));
        memcpy(part->replicas, replicas, (size_t)nr * sizeof(int32_t));
        memcpy(part->isr, replicas, (size_t)nr * sizeof(int32_t));
        part->n_replicas = part->n_isr = nr;
        part->leader_id = replicas[0];
        return 0;
    }
    if (strcmp(f[0], "config") == 0) {
        rn_topic_t *topic = n == 4 ? rn_topics_find(topics, f[1], strlen(f[1])) : NULL;
        if (topic == NULL)
            return snprintf(err, errlen, "a config line names a topic declared before it"),
                   RN_ECORRUPT;
        if (unescape(f[3]) != 0)
            return snprintf(err, errlen, "bad %%XX escape in a value"), RN_ECORRUPT;
        rn_tc_key_t key;
        char why[400];
        if (rn_topicconf_check(f[2], strlen(f[2]), f[3], &key, why, sizeof(why)) != 0) {
            /* A key from a newer runnel, or a value whose rules changed: keep the topic. */
            RN_WARN("topics", "%s: topic %s: ignoring config: %s", topics->path, topic->name, why);
            return 0;
        }
        rn_topicconf_set(&topic->conf, key, f[3]);
        return 0;
    }
    return snprintf(err, errlen, "unknown line type \"%s\"", f[0]), RN_ECORRUPT;
}

int rn_topics_load(rn_topics_t *topics, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    int rc = rn_fsutil_read_file(topics->path, RN_TOPICS_FILE_MAX, &buf, &len, err, errlen);
    if (rc == RN_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    bool have_version = false;
    size_t lineno = 0;
    char *text = (char *)buf;
    for (char *line = text; rc == 0 && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (nl != NULL)
            *nl = '\0';
        lineno++;
        if (memchr(line, '\0', (size_t)((nl ? nl : text + len) - line)) != NULL) {
            snprintf(err, errlen, "%s:%zu: NUL byte in the file", topics->path, lineno);
            rc = RN_ECORRUPT;
            break;
        }
        char why[512];
        rc = load_line(topics, line, &have_version, why, sizeof(why));
        if (rc != 0)
            snprintf(err, errlen, "%s:%zu: %s", topics->path, lineno, why);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    rn_free(buf);
    if (rc == 0 && !have_version && len > 0) {
        snprintf(err, errlen, "%s: no \"version 1\" line", topics->path);
        rc = RN_ECORRUPT;
    }
    /* A crash may have interrupted the job that creates a partition's directory. */
    for (size_t i = 0; rc == 0 && i < topics->n; i++) {
        const rn_topic_t *topic = topics->by_name[i];
        for (int32_t p = 0; rc == 0 && p < topic->n_partitions; p++)
            rc = rn_logmgr_prepare(topics->logmgr, topic->name, p, &topic->id, false, err, errlen);
    }
    if (rc == 0)
        RN_INFO("topics", "loaded %zu topic(s) from %s", topics->n, topics->path);
    return rc;
}

/* ---- pending changes ---- */

static void ptrs_remove_if_topic(rn__topics_ptrs_t *list, const rn_topic_t *topic, bool parts)
{
    size_t out = 0;
    for (size_t i = 0; i < list->n; i++) {
        const rn_topic_t *owner =
            parts ? ((rn_partition_t *)list->items[i])->topic : (rn_topic_t *)list->items[i];
        if (owner != topic)
            list->items[out++] = list->items[i];
    }
    list->n = out;
}

void rn__topics_pending_delete(rn_topics_t *topics, rn_topic_t *topic)
{
    rn__topics_pending_t *pending = &topics->pending;
    ptrs_remove_if_topic(&pending->mkdirs, topic, true);
    ptrs_remove_if_topic(&pending->created, topic, false);
    for (int32_t p = 0; p < topic->n_partitions; p++) {
        rn__topics_rmdir_t *rm = rn_xmalloc(sizeof(*rm));
        rm->topic = rn_xstrdup(topic->name);
        rm->partition = p;
        rn__topics_ptrs_push(&pending->rmdirs, rm);
    }
    rn__topics_ptrs_push(&pending->deleted, topic);
}

void rn__topics_pending_free(rn__topics_pending_t *pending)
{
    for (size_t i = 0; i < pending->rmdirs.n; i++) {
        rn__topics_rmdir_t *rm = pending->rmdirs.items[i];
        rn_free(rm->topic);
        rn_free(rm);
    }
    rn_free(pending->mkdirs.items);
    rn_free(pending->created.items);
    rn_free(pending->deleted.items);
    rn_free(pending->rmdirs.items);
    memset(pending, 0, sizeof(*pending));
}

/* ---- the persist job ---- */

typedef struct persist_job {
    rn_topics_t *topics;
    rn__topics_pending_t pending; /* taken from topics */
    rn_logmgr_t *logmgr;
    char *path;
    char *text;
    size_t len;
    rn__topics_rmdir_t *mkdirs; /* partitions to create, copied on the loop */
    rn_uuid_t *ids;             /* their topic ids, for partition.metadata */
    size_t n_mkdirs;
    void (*done)(void *arg, int rc);
    void *arg;
    char err[512];
} persist_job_t;

/* Offload thread: touches only the job. */
static int persist_work(void *arg)
{
    persist_job_t *job = arg;
    int rc = 0;
    /* Deleted partitions' logs were closed on the loop (rn_topics_delete). */
    for (size_t i = 0; rc == 0 && i < job->pending.rmdirs.n; i++) {
        const rn__topics_rmdir_t *rm = job->pending.rmdirs.items[i];
        rc = rn_logmgr_delete_dir(job->logmgr, rm->topic, rm->partition);
        if (rc == RN_ENOTFOUND)
            rc = 0; /* never created */
        else if (rc != 0)
            snprintf(job->err, sizeof(job->err),
                     "cannot delete the directory of %s-%d (%s); see the log above", rm->topic,
                     rm->partition, rn_strerror(rc));
    }
    if (rc == 0 && job->pending.rmdirs.n > 0 && rn_logmgr_purge_deleted(job->logmgr) < 0) {
        snprintf(job->err, sizeof(job->err),
                 "cannot remove deleted partition directories; see the log above");
        rc = RN_EIO;
    }
    if (rc == 0 && job->n_mkdirs > 0) {
        rn_logmgr_prep_t *items = rn_xcalloc(job->n_mkdirs, sizeof(*items));
        for (size_t i = 0; i < job->n_mkdirs; i++)
            items[i] =
                (rn_logmgr_prep_t){job->mkdirs[i].topic, job->mkdirs[i].partition, &job->ids[i]};
        rc = rn_logmgr_prepare_many(job->logmgr, items, job->n_mkdirs, job->err, sizeof(job->err));
        rn_free(items);
    }
    if (rc == 0 && (job->n_mkdirs > 0 || job->pending.rmdirs.n > 0))
        rc = rn_logmgr_sync_dir(job->logmgr, job->err, sizeof(job->err));
    if (rc == 0)
        rc = rn_fsutil_write_atomic(job->path, job->text, job->len, job->err, sizeof(job->err));
    return rc;
}

/* A failed job's creations go back to pending (the next persist tries again) when the
 * metadata log holds them; otherwise its new topics are removed and only the partitions
 * added to older topics are queued again. */
static void persist_failed(rn_topics_t *topics, persist_job_t *job)
{
    bool keep = topics->commit != NULL;
    RN_ERROR("topics", "cannot persist the topic registry: %s; %s", job->err,
             keep ? "the new partitions stay offline until a later attempt succeeds"
                  : "topics created since the last save are removed again");
    for (size_t i = 0; i < job->pending.created.n; i++) {
        rn_topic_t *topic = job->pending.created.items[i];
        if (topic->deleted)
            continue; /* freed with the deletion that followed */
        if (keep)
            rn__topics_ptrs_push(&topics->pending.created, topic);
        else
            rn_topics_delete(topics, topic);
    }
    for (size_t i = 0; i < job->pending.mkdirs.n; i++) {
        rn_partition_t *part = job->pending.mkdirs.items[i];
        if (!part->topic->deleted) {
            rn__topics_ptrs_push(&topics->pending.mkdirs, part);
            topics->dirty = true;
        }
    }
    if (keep && job->pending.created.n > 0)
        topics->dirty = true;
}

static void persist_done(void *arg, int rc)
{
    persist_job_t *job = arg;
    rn_topics_t *topics = job->topics;
    if (rc != 0) {
        persist_failed(topics, job);
    } else {
        /* Partitions of a topic deleted meanwhile are freed only after a later job. */
        for (size_t i = 0; i < job->pending.mkdirs.n; i++)
            ((rn_partition_t *)job->pending.mkdirs.items[i])->ready = true;
        for (size_t i = 0; i < job->pending.created.n; i++) {
            rn_topic_t *topic = job->pending.created.items[i];
            if (!topic->deleted)
                topic->ready = true;
        }
    }
    if (job->done != NULL)
        job->done(job->arg, rc);
    for (size_t i = 0; i < job->pending.deleted.n; i++)
        rn__topic_free(job->pending.deleted.items[i]);
    for (size_t i = 0; i < job->n_mkdirs; i++)
        rn_free(job->mkdirs[i].topic);
    rn_free(job->mkdirs);
    rn_free(job->ids);
    rn__topics_pending_free(&job->pending);
    rn_free(job->path);
    rn_free(job->text);
    rn_free(job);
}

void rn_topics_persist(rn_topics_t *topics, rn_offload_t *off, void (*done)(void *arg, int rc),
                       void *arg)
{
    persist_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->topics = topics;
    job->done = done;
    job->arg = arg;
    if (!topics->dirty) { /* nothing to write; still answer after earlier jobs */
        rn_offload_submit(off, NULL, persist_done, job);
        return;
    }
    job->pending = topics->pending;
    memset(&topics->pending, 0, sizeof(topics->pending));
    topics->dirty = false;
    job->path = rn_xstrdup(topics->path);
    job->logmgr = topics->logmgr;
    job->text = rn_topics_serialize(topics, &job->len);
    job->mkdirs = rn_xcalloc(job->pending.mkdirs.n + 1, sizeof(*job->mkdirs));
    job->ids = rn_xcalloc(job->pending.mkdirs.n + 1, sizeof(rn_uuid_t));
    for (size_t i = 0; i < job->pending.mkdirs.n; i++) {
        const rn_partition_t *part = job->pending.mkdirs.items[i];
        job->mkdirs[i].topic = rn_xstrdup(part->topic->name);
        job->mkdirs[i].partition = part->index;
        job->ids[i] = part->topic->id;
    }
    job->n_mkdirs = job->pending.mkdirs.n;
    rn_offload_submit(off, persist_work, persist_done, job);
}
