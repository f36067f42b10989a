/* Offset checkpoint files (see rn_checkpoint.h) and the line reader the other Kafka text
 * files share (see checkpoint_internal.h). */
#include "rn_checkpoint.h"

#include "checkpoint_internal.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_vec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void rn__text_init(rn__text_t *text, const char *name, const uint8_t *buf, size_t len, char *err,
                   size_t errlen)
{
    text->p = (const char *)buf;
    text->end = (const char *)buf + len;
    text->line = 0;
    text->name = name;
    text->err = err;
    text->errlen = errlen;
}

bool rn__text_next(rn__text_t *text, const char **line, size_t *len)
{
    if (text->p >= text->end)
        return false;
    const char *start = text->p;
    const char *nl = memchr(start, '\n', (size_t)(text->end - start));
    const char *stop = nl ? nl : text->end;
    text->p = nl ? nl + 1 : text->end;
    if (stop > start && stop[-1] == '\r')
        stop--;
    text->line++;
    *line = start;
    *len = (size_t)(stop - start);
    return true;
}

int rn__text_corrupt(rn__text_t *text, const char *line, size_t len, const char *what)
{
    /* Quote the line escaped and cut, so binary garbage cannot mangle the log. */
    char shown[4 * 60 + 8];
    size_t o = 0, i;
    for (i = 0; i < len && i < 60; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            shown[o++] = (char)c;
        else
            o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\x%02x", c);
    }
    if (i < len) {
        memcpy(shown + o, "...", 3);
        o += 3;
    }
    shown[o] = '\0';
    rn_fsutil_seterr(text->err, text->errlen, "%s:%d: %s, got \"%s\"", text->name, text->line, what,
                     shown);
    return RN_ECORRUPT;
}

bool rn__parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len || len - i > 19)
        return false;
    /* Accumulate negatively: |INT64_MIN| does not fit in int64_t. */
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v < (INT64_MIN + d) / 10)
            return false;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return false;
        v = -v;
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

int rn__split_fields(const char *line, size_t len, const char **fields, size_t *lens, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (n == max)
            return max + 1;
        fields[n] = line + start;
        lens[n] = i - start;
        n++;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
    }
    return n;
}

bool rn__topic_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > RN__TOPIC_NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static void checkpoint_push(rn_checkpoint_t *cp, size_t *cap, const char *topic, size_t topic_len,
                            int32_t partition, int64_t offset)
{
    rn_vec_xreserve(cp->entries, *cap, cp->count + 1);
    rn_checkpoint_entry_t *entry = &cp->entries[cp->count++];
    entry->topic = rn_xstrndup(topic, topic_len);
    entry->partition = partition;
    entry->offset = offset;
}

int rn_checkpoint_parse(const char *name, const uint8_t *buf, size_t len, rn_checkpoint_t *cp,
                        char *err, size_t errlen)
{
    cp->entries = NULL;
    cp->count = 0;
    rn__text_t text;
    rn__text_init(&text, name, buf, len, err, errlen);
    const char *line;
    size_t line_len;
    int64_t version, expected;
    /* Kafka treats a missing version or count line as an empty checkpoint. */
    if (!rn__text_next(&text, &line, &line_len))
        return 0;
    if (!rn__parse_i64(line, line_len, INT32_MIN, INT32_MAX, &version))
        return rn__text_corrupt(&text, line, line_len, "expected the version number");
    if (version != RN_CHECKPOINT_VERSION)
        return rn__text_corrupt(&text, line, line_len, "unsupported checkpoint version (want 0)");
    if (!rn__text_next(&text, &line, &line_len))
        return 0;
    if (!rn__parse_i64(line, line_len, 0, INT32_MAX, &expected))
        return rn__text_corrupt(&text, line, line_len, "expected the number of entries");

    size_t cap = 0;
    while (rn__text_next(&text, &line, &line_len)) {
        const char *f[3] = {0};
        size_t fl[3] = {0};
        int64_t partition = 0, offset = 0;
        int rc = 0;
        if (rn__split_fields(line, line_len, f, fl, 3) != 3)
            rc = rn__text_corrupt(&text, line, line_len,
                                  "expected \"<topic> <partition> <offset>\"");
        else if (!rn__topic_name_valid(f[0], fl[0]))
            rc = rn__text_corrupt(&text, line, line_len, "invalid topic name");
        else if (!rn__parse_i64(f[1], fl[1], 0, INT32_MAX, &partition))
            rc = rn__text_corrupt(&text, line, line_len, "invalid partition number");
        else if (!rn__parse_i64(f[2], fl[2], INT64_MIN, INT64_MAX, &offset))
            rc = rn__text_corrupt(&text, line, line_len, "invalid offset");
        else if ((int64_t)cp->count == expected)
            rc = rn__text_corrupt(&text, line, line_len, "more entries than the count on line 2");
        if (rc != 0) {
            rn_checkpoint_free(cp);
            return rc;
        }
        checkpoint_push(cp, &cap, f[0], fl[0], (int32_t)partition, offset);
    }
    if ((int64_t)cp->count != expected) {
        rn_fsutil_seterr(err, errlen, "%s:2: the file promises %" PRId64 " entries but has %zu",
                         name, expected, cp->count);
        rn_checkpoint_free(cp);
        return RN_ECORRUPT;
    }
    return 0;
}

int rn_checkpoint_load(const char *path, rn_checkpoint_t *cp, char *err, size_t errlen)
{
    cp->entries = NULL;
    cp->count = 0;
    uint8_t *buf;
    size_t len;
    int rc = rn_fsutil_read_file(path, RN_CHECKPOINT_MAX_FILE_SIZE, &buf, &len, err, errlen);
    if (rc == RN_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    rc = rn_checkpoint_parse(path, buf, len, cp, err, errlen);
    rn_free(buf);
    return rc;
}

int rn_checkpoint_format(const rn_checkpoint_entry_t *entries, size_t count, char **out,
                         size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    /* Each line is at most topic + 2 separators + 10 + 20 digits + '\n'. */
    size_t cap = 32;
    for (size_t i = 0; i < count; i++) {
        const char *topic = entries[i].topic;
        size_t tlen = topic ? strlen(topic) : 0;
        if (topic == NULL || !rn__topic_name_valid(topic, tlen)) {
            rn_fsutil_seterr(err, errlen, "checkpoint entry %zu has an invalid topic name \"%s\"",
                             i, topic ? topic : "(null)");
            return RN_EINVAL;
        }
        if (entries[i].partition < 0) {
            rn_fsutil_seterr(err, errlen, "checkpoint entry %zu (%s) has negative partition %d", i,
                             topic, (int)entries[i].partition);
            return RN_EINVAL;
        }
        cap += tlen + 34;
    }
    char *buf = rn_xmalloc(cap);
    size_t o = (size_t)snprintf(buf, cap, "%d\n%zu\n", RN_CHECKPOINT_VERSION, count);
    for (size_t i = 0; i < count; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s %" PRId32 " %" PRId64 "\n", entries[i].topic,
                              entries[i].partition, entries[i].offset);
    *out = buf;
    *len = o;
    return 0;
}

int rn_checkpoint_save(const char *path, const rn_checkpoint_entry_t *entries, size_t count,
                       char *err, size_t errlen)
{
    char *buf;
    size_t len;
    int rc = rn_checkpoint_format(entries, count, &buf, &len, err, errlen);
    if (rc != 0)
        return rc;
    rc = rn_fsutil_write_atomic(path, buf, len, err, errlen);
    rn_free(buf);
    return rc;
}

const rn_checkpoint_entry_t *rn_checkpoint_find(const rn_checkpoint_t *cp, const char *topic,
                                                int32_t partition)
{
    for (size_t i = cp->count; i-- > 0;)
        if (cp->entries[i].partition == partition && strcmp(cp->entries[i].topic, topic) == 0)
            return &cp->entries[i];
    return NULL;
}

void rn_checkpoint_free(rn_checkpoint_t *cp)
{
    for (size_t i = 0; i < cp->count; i++)
        rn_free(cp->entries[i].topic);
    rn_free(cp->entries);
    cp->entries = NULL;
    cp->count = 0;
}
