/* qstate.c: Kafka's quorum-state file (rn_qstate.h): a writer producing the exact line
 * Kafka writes and a small strict JSON reader for it. The reader takes only what the file
 * can hold: one object, integer numbers, plain strings, null, and arrays and objects
 * nested at most a few levels inside skipped values. */
#include "quorum/rn_qstate.h"

#include "rn_err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rn_qstate_init(rn_qstate_file_t *qs)
{
    memset(qs, 0, sizeof(*qs));
    qs->leader_id = RN_RAFT_NONE;
    qs->voted_id = RN_RAFT_NONE;
}

/* Append to buf[cap] at *n; false once it no longer fits (the sticky failure). */
__attribute__((format(printf, 4, 5))) static bool put(char *buf, size_t cap, size_t *n,
                                                      const char *fmt, ...)
{
    if (*n >= cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n) {
        *n = cap;
        return false;
    }
    *n += (size_t)w;
    return true;
}

int rn_qstate_encode(const rn_qstate_file_t *qs, char *buf, size_t cap, size_t *out_len)
{
    for (const char *c = qs->cluster_id; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            return RN_EINVAL;
    size_t n = 0;
    put(buf, cap, &n,
        "{\"clusterId\":\"%s\",\"leaderId\":%" PRId32 ",\"leaderEpoch\":%" PRId32
        ",\"votedId\":%" PRId32 ",\"appliedOffset\":%" PRId64 ",\"currentVoters\":",
        qs->cluster_id, qs->leader_id, qs->leader_epoch, qs->voted_id, qs->applied_offset);
    if (qs->n_voters == 0)
        put(buf, cap, &n, "null");
    for (int i = 0; i < qs->n_voters; i++)
        put(buf, cap, &n, "%s{\"voterId\":%" PRId32 "}%s", i == 0 ? "[" : ",", qs->voters[i],
            i == qs->n_voters - 1 ? "]" : "");
    if (!put(buf, cap, &n, ",\"data_version\":%" PRId32 "}\n", qs->data_version))
        return RN_EFULL;
    *out_len = n;
    return 0;
}

/* A bounded reader with a sticky failure: once bad is set every step is a no-op. */
typedef struct jrd {
    const char *p, *end;
    bool bad;
} jrd_t;

static void ws(jrd_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool eat(jrd_t *r, char c)
{
    ws(r);
    if (r->bad || r->p >= r->end || *r->p != c)
        return false;
    r->p++;
    return true;
}

static void expect(jrd_t *r, char c)
{
    if (!eat(r, c))
        r->bad = true;
}

/* A string without escapes (the file never needs them) into out[cap] (may be NULL). */
static void str(jrd_t *r, char *out, size_t cap)
{
    expect(r, '"');
    const char *s = r->p;
    while (!r->bad && r->p < r->end && *r->p != '"') {
        if (*r->p == '\\' || (unsigned char)*r->p < 0x20)
            r->bad = true;
        r->p++;
    }
    size_t len = (size_t)(r->p - s);
    expect(r, '"');
    if (r->bad || out == NULL)
        return;
    if (len >= cap) {
        r->bad = true;
        return;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

static int64_t num(jrd_t *r, int64_t min, int64_t max)
{
    ws(r);
    bool neg = eat(r, '-');
    int64_t v = 0;
    int digits = 0;
    while (!r->bad && r->p < r->end && *r->p >= '0' && *r->p <= '9' && digits < 19) {
        v = v * 10 + (*r->p++ - '0');
        digits++;
    }
    if (neg)
        v = -v;
    if (digits == 0 || digits == 19 || v < min || v > max)
        r->bad = true;
    return r->bad ? 0 : v;
}

static bool lit(jrd_t *r, const char *word)
{
    ws(r);
    size_t n = strlen(word);
    if (r->bad || (size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static void skip_value(jrd_t *r, int depth)
{
    ws(r);
    if (r->bad || r->p >= r->end || depth > 8) {
        r->bad = true;
        return;
    }
    char c = *r->p;
    if (c == '"') {
        str(r, NULL, 0);
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->p++;
        if (eat(r, close))
            return;
        do {
            if (close == '}') {
                str(r, NULL, 0);
                expect(r, ':');
            }
            skip_value(r, depth + 1);
        } while (eat(r, ','));
        expect(r, close);
    } else if (!lit(r, "null") && !lit(r, "true") && !lit(r, "false")) {
        num(r, INT64_MIN + 1, INT64_MAX);
    }
}

/* "currentVoters": null or [{"voterId":N}, ...] (other keys in an element skipped). */
static void voters(jrd_t *r, rn_qstate_file_t *out)
{
    out->n_voters = 0;
    if (lit(r, "null"))
        return;
    expect(r, '[');
    if (eat(r, ']'))
        return;
    do {
        bool have_id = false;
        expect(r, '{');
        do {
            char key[32];
            str(r, key, sizeof(key));
            expect(r, ':');
            if (!r->bad && strcmp(key, "voterId") == 0) {
                if (out->n_voters >= RN_RAFT_MAX_VOTERS)
                    r->bad = true;
                else
                    out->voters[out->n_voters++] = (int32_t)num(r, 0, INT32_MAX);
                have_id = true;
            } else {
                skip_value(r, 1);
            }
        } while (eat(r, ','));
        expect(r, '}');
        if (!have_id)
            r->bad = true;
    } while (eat(r, ','));
    expect(r, ']');
}

int rn_qstate_decode(const char *buf, size_t len, rn_qstate_file_t *out)
{
    jrd_t r = {.p = buf, .end = buf + len};
    enum { LEADER = 1, EPOCH = 2, VOTED = 4, VERSION = 8 };
    unsigned seen = 0;
    rn_qstate_init(out);
    expect(&r, '{');
    if (!eat(&r, '}')) {
        do {
            char key[32];
            str(&r, key, sizeof(key));
            expect(&r, ':');
            if (r.bad)
                break;
            if (strcmp(key, "clusterId") == 0) {
                if (!lit(&r, "null"))
                    str(&r, out->cluster_id, sizeof(out->cluster_id));
            } else if (strcmp(key, "leaderId") == 0) {
                out->leader_id = (int32_t)num(&r, -1, INT32_MAX);
                seen |= LEADER;
            } else if (strcmp(key, "leaderEpoch") == 0) {
                out->leader_epoch = (int32_t)num(&r, 0, INT32_MAX);
                seen |= EPOCH;
            } else if (strcmp(key, "votedId") == 0) {
                out->voted_id = (int32_t)num(&r, -1, INT32_MAX);
                seen |= VOTED;
            } else if (strcmp(key, "appliedOffset") == 0) {
                out->applied_offset = num(&r, -1, INT64_MAX);
            } else if (strcmp(key, "currentVoters") == 0) {
                voters(&r, out);
            } else if (strcmp(key, "data_version") == 0) {
                out->data_version = (int32_t)num(&r, 0, 1);
                seen |= VERSION;
            } else {
                skip_value(&r, 1);
            }
        } while (eat(&r, ','));
        expect(&r, '}');
    }
    ws(&r);
    if (r.bad || r.p != r.end || seen != (LEADER | EPOCH | VOTED | VERSION))
        return RN_ECORRUPT;
    return 0;
}

rn_raft_qstate_t rn_qstate_to_raft(const rn_qstate_file_t *qs)
{
    return (rn_raft_qstate_t){
        .epoch = qs->leader_epoch, .voted_id = qs->voted_id, .leader_id = qs->leader_id};
}

void rn_qstate_from_raft(rn_qstate_file_t *qs, const rn_raft_qstate_t *rs)
{
    qs->leader_epoch = rs->epoch;
    qs->voted_id = rs->voted_id;
    qs->leader_id = rs->leader_id;
}
