/* rn_partmeta: exact bytes of partition.metadata (no trailing newline, as Kafka's
 * PartitionMetadataFileFormatter writes), round trip, Kafka-compatible leniency, rejects. */
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_partmeta.h"
#include "tap.h"
#include "unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

static int parse_str(const char *s, rn_uuid_t *id)
{
    err[0] = '\0';
    return rn_partmeta_parse("pm", (const uint8_t *)s, strlen(s), id, err, sizeof(err));
}

int main(void)
{
    rn_uuid_t id, got;
    rn_uuid_from_base64("87SiwdDpSH-Ka1xNPi8aCw", 22, &id);
    char out[RN_PARTMETA_SIZE + 1];
    is(rn_partmeta_format(&id, out), 43, "43 bytes");
    ok(memcmp(out, "version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw", 43) == 0,
       "exact bytes, no trailing newline");

    is(parse_str("version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw", &got), 0, "parse own bytes");
    ok(rn_uuid_equal(&got, &id), "same id");
    is(parse_str("version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw\n", &got), 0, "trailing newline");
    is(parse_str("version:  0\r\ntopic_id:\t87SiwdDpSH-Ka1xNPi8aCw\r\n", &got), 0,
       "wider blanks and CRLF");
    is(parse_str("version: 1\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw", &got), 0,
       "newer version read (Kafka's downgrade rule)");

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "pm:0:"},
        {"version: 0", "pm:1:"},
        {"version: -1\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw", "pm:1:"},
        {"version:0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw", "pm:1:"},
        {"Version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw", "pm:1:"},
        {"version: 0\ntopicid: 87SiwdDpSH-Ka1xNPi8aCw", "pm:2:"},
        {"version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aC", "base64url"},
        {"version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw ", "base64url"},
        {"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA", "zero id"},
        {"version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw\n\n", "pm:3:"},
        {"version: 0\ntopic_id: 87SiwdDpSH-Ka1xNPi8aCw\nextra", "third line"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(parse_str(bad[i].text, &got) == RN_ECORRUPT && strstr(err, bad[i].msg) != NULL,
           "reject case %zu: %s", i, err);

    char dir[256];
    tu_tmpdir(dir, "partmeta");
    is(rn_partmeta_load(dir, &got, err, sizeof(err)), RN_ENOTFOUND, "missing file");
    rn_uuid_t fresh;
    rn_uuid_random(&fresh);
    is(rn_partmeta_save(dir, &fresh, err, sizeof(err)), 0, "save");
    char path[512];
    snprintf(path, sizeof(path), "%s/partition.metadata", dir);
    uint8_t *buf;
    size_t len;
    rn_fsutil_read_file(path, 100, &buf, &len, NULL, 0);
    is(len, 43, "file is 43 bytes");
    ok(memcmp(buf, "version: 0\ntopic_id: ", 21) == 0, "file starts with the header");
    rn_free(buf);
    is(rn_partmeta_load(dir, &got, err, sizeof(err)), 0, "load");
    ok(rn_uuid_equal(&got, &fresh), "round trip");
    rn_uuid_t zero = {{0}};
    is(rn_partmeta_save(dir, &zero, err, sizeof(err)), RN_EINVAL, "zero id refused");
    rn_fsutil_write_atomic(path, "garbage", 7, NULL, 0);
    is(rn_partmeta_load(dir, &got, err, sizeof(err)), RN_ECORRUPT, "corrupt file");
    ok(strstr(err, path) != NULL, "message names the path: %s", err);
    tu_rmtree(dir);
    return done_testing();
}
