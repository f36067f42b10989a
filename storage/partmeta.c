/* partition.metadata: a partition directory's topic id (see rn_partmeta.h). */
#include "rn_partmeta.h"

#include "checkpoint_internal.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Kafka never writes more than 43 bytes; allow slack for CRLF and wider spacing. */
#define PARTMETA_MAX_FILE_SIZE 4096

/* Match "<key>:<blanks><value>" and return the value. */
static bool split_key(const char *line, size_t len, const char *key, const char **value,
                      size_t *value_len)
{
    size_t klen = strlen(key);
    if (len < klen + 2 || memcmp(line, key, klen) != 0 || line[klen] != ':')
        return false;
    size_t i = klen + 1;
    if (line[i] != ' ' && line[i] != '\t')
        return false;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    *value = line + i;
    *value_len = len - i;
    return true;
}

int rn_partmeta_parse(const char *name, const uint8_t *buf, size_t len, rn_uuid_t *topic_id,
                      char *err, size_t errlen)
{
    rn__text_t text;
    rn__text_init(&text, name, buf, len, err, errlen);
    const char *line = "", *value;
    size_t line_len = 0, value_len;
    int64_t version;
    if (!rn__text_next(&text, &line, &line_len) ||
        !split_key(line, line_len, "version", &value, &value_len) ||
        !rn__parse_i64(value, value_len, 0, INT32_MAX, &version))
        return rn__text_corrupt(&text, line, line_len, "expected \"version: 0\"");
    if (!rn__text_next(&text, &line, &line_len) ||
        !split_key(line, line_len, "topic_id", &value, &value_len))
        return rn__text_corrupt(&text, line, line_len, "expected \"topic_id: <id>\"");
    if (rn_uuid_from_base64(value, value_len, topic_id) != 0)
        return rn__text_corrupt(&text, line, line_len,
                                "topic id is not a 22-character base64url id");
    if (rn_uuid_is_zero(topic_id))
        return rn__text_corrupt(&text, line, line_len, "topic id is the reserved zero id");
    if (rn__text_next(&text, &line, &line_len))
        return rn__text_corrupt(&text, line, line_len, "unexpected third line");
    return 0;
}

int rn_partmeta_load(const char *dir, rn_uuid_t *topic_id, char *err, size_t errlen)
{
    char *path = rn_fsutil_join(dir, RN_PARTMETA_FILE);
    uint8_t *buf;
    size_t len;
    int rc = rn_fsutil_read_file(path, PARTMETA_MAX_FILE_SIZE, &buf, &len, err, errlen);
    if (rc == RN_ETOOBIG)
        rc = RN_ECORRUPT;
    if (rc == 0) {
        rc = rn_partmeta_parse(path, buf, len, topic_id, err, errlen);
        rn_free(buf);
    }
    rn_free(path);
    return rc;
}

size_t rn_partmeta_format(const rn_uuid_t *topic_id, char *out)
{
    static const char head[] = "version: 0\ntopic_id: ";
    memcpy(out, head, sizeof(head) - 1);
    rn_uuid_to_base64(topic_id, out + sizeof(head) - 1);
    return RN_PARTMETA_SIZE;
}

int rn_partmeta_save(const char *dir, const rn_uuid_t *topic_id, char *err, size_t errlen)
{
    if (rn_uuid_is_zero(topic_id)) {
        rn_fsutil_seterr(err, errlen, "refusing to write the zero topic id to %s/%s", dir,
                         RN_PARTMETA_FILE);
        return RN_EINVAL;
    }
    char buf[RN_PARTMETA_SIZE + 1];
    size_t len = rn_partmeta_format(topic_id, buf);
    char *path = rn_fsutil_join(dir, RN_PARTMETA_FILE);
    int rc = rn_fsutil_write_atomic(path, buf, len, err, errlen);
    rn_free(path);
    return rc;
}
