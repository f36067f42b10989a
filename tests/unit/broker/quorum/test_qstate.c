/* Tests for rn_qstate: Kafka's quorum-state line written byte for byte, read back in any
 * key order with unknown keys skipped, and malformed files refused. */
#include "quorum/rn_qstate.h"
#include "rn_err.h"
#include "tap.h"

#include <string.h>

static const char kafka_line[] =
    "{\"clusterId\":\"\",\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,\"appliedOffset\":0,"
    "\"currentVoters\":[{\"voterId\":1},{\"voterId\":2},{\"voterId\":3}],\"data_version\":0}\n";

static int decode(const char *s, rn_qstate_file_t *qs)
{
    return rn_qstate_decode(s, strlen(s), qs);
}

int main(void)
{
    rn_qstate_file_t qs;
    rn_qstate_init(&qs);
    qs.leader_id = 1;
    qs.leader_epoch = 5;
    qs.n_voters = 3;
    qs.voters[0] = 1, qs.voters[1] = 2, qs.voters[2] = 3;
    char buf[512];
    size_t len = 0;
    is(rn_qstate_encode(&qs, buf, sizeof(buf), &len), 0, "encode");
    is_str(buf, kafka_line, "the line Kafka writes");
    is(len, strlen(kafka_line), "length");
    is(rn_qstate_encode(&qs, buf, 40, &len), RN_EFULL, "a small buffer is refused");
    is(rn_qstate_encode(&qs, buf, strlen(kafka_line), &len), RN_EFULL, "no room for the NUL");

    rn_qstate_file_t back;
    is(decode(kafka_line, &back), 0, "decode Kafka's line");
    is(back.leader_id, 1, "leaderId");
    is(back.leader_epoch, 5, "leaderEpoch");
    is(back.voted_id, -1, "votedId");
    is(back.n_voters, 3, "voters");
    is(back.voters[2], 3, "third voter");
    rn_raft_qstate_t rs = rn_qstate_to_raft(&back);
    ok(rs.epoch == 5 && rs.voted_id == -1 && rs.leader_id == 1, "to rn_raft's state");

    is(decode("{\"data_version\":1,\"votedDirectoryId\":\"AAAAAAAAAAAAAAAAAAAAAQ\","
              "\"votedId\":2,\"leaderEpoch\":7,\"leaderId\":-1,\"extra\":[1,{\"a\":null}]}",
              &back),
       0, "version 1, any order, unknown keys skipped");
    ok(back.voted_id == 2 && back.leader_epoch == 7 && back.n_voters == 0 && back.data_version == 1,
       "fields of version 1");
    is(decode(" { \"clusterId\" : \"abc\", \"leaderId\" : 3, \"leaderEpoch\" : 2, \"votedId\" : 3,"
              " \"currentVoters\" : null, \"data_version\" : 0 } \n",
              &back),
       0, "white space and null voters");
    is_str(back.cluster_id, "abc", "clusterId");

    const char *bad[] = {
        "",
        "{",
        "{}",
        "{\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1}",
        "{\"leaderId\":1,\"leaderEpoch\":-5,\"votedId\":-1,\"data_version\":0}",
        "{\"leaderId\":-2,\"leaderEpoch\":5,\"votedId\":-1,\"data_version\":0}",
        "{\"leaderId\":1,\"leaderEpoch\":99999999999,\"votedId\":-1,\"data_version\":0}",
        "{\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,\"data_version\":0} x",
        "{\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,\"data_version\":0,}",
        "{\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,\"data_version\":2}",
        "{\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,\"data_version\":0,\"currentVoters\":[{}]"
        "}",
        "{\"leaderId\":\"1\",\"leaderEpoch\":5,\"votedId\":-1,\"data_version\":0}",
        "{\"clusterId\":\"a\\\"b\",\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,\"data_"
        "version\":0}",
        "{\"x\":[[[[[[[[[[[1]]]]]]]]]]],\"leaderId\":1,\"leaderEpoch\":5,\"votedId\":-1,"
        "\"data_version\":0}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is(decode(bad[i], &back), RN_ECORRUPT, "malformed %zu refused", i);
    rn_qstate_file_t many;
    rn_qstate_init(&many);
    many.n_voters = RN_RAFT_MAX_VOTERS;
    is(rn_qstate_encode(&many, buf, sizeof(buf), &len), 0, "16 voters");
    is(decode(buf, &back), 0, "16 voters read back");
    strcpy(many.cluster_id, "a\"b");
    is(rn_qstate_encode(&many, buf, sizeof(buf), &len), RN_EINVAL, "a cluster id to escape");
    return done_testing();
}
