/* Tests for the SCRAM credentials of the metadata image (broker/controller/mimage_scram.c):
 * upsert, replace, remove, order, bad records refused, and the snapshot round trip. */
#include "controller/rn_mimage.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "tap.h"

#include <string.h>

static int64_t offset;

static int upsert(rn_mimage_t *img, const char *name, int mech, const char *pw, int32_t iters)
{
    rn_scram_cred_t cred;
    rn_scram_cred_new(mech, pw, strlen(pw), iters, &cred, NULL);
    size_t klen = rn_scram_key_len(mech);
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_USER_SCRAM_CREDENTIAL_RECORD);
    rec.body.user_scram_credential = (rn_user_scram_credential_record_t){
        {name, (int32_t)strlen(name)},       (int8_t)mech,
        {cred.salt, (int32_t)cred.salt_len}, {cred.stored_key, (int32_t)klen},
        {cred.server_key, (int32_t)klen},    iters};
    return rn_mimage_apply_rec(img, offset++, &rec);
}

static int removal(rn_mimage_t *img, const char *name, int mech)
{
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_REMOVE_USER_SCRAM_CREDENTIAL_RECORD);
    rec.body.remove_user_scram_credential.name = (rn_str_t){name, (int32_t)strlen(name)};
    rec.body.remove_user_scram_credential.mechanism = (int8_t)mech;
    return rn_mimage_apply_rec(img, offset++, &rec);
}

int main(void)
{
    rn_mimage_t *img = rn_mimage_new();
    is(upsert(img, "bob", RN_SCRAM_SHA_512, "b", 4096), 0, "bob 512");
    is(upsert(img, "alice", RN_SCRAM_SHA_512, "a", 4096), 0, "alice 512");
    is(upsert(img, "alice", RN_SCRAM_SHA_256, "a", 4096), 0, "alice 256");
    is(upsert(img, "al", RN_SCRAM_SHA_256, "x", 4096), 0, "al 256");
    is(rn_mimage_scram_count(img), 4, "four credentials");
    is_str(rn_mimage_scram_at(img, 0)->name, "al", "order 0");
    is_str(rn_mimage_scram_at(img, 1)->name, "alice", "order 1");
    is(rn_mimage_scram_at(img, 1)->cred.mech, RN_SCRAM_SHA_256, "order 1 mech");
    is(rn_mimage_scram_at(img, 2)->cred.mech, RN_SCRAM_SHA_512, "order 2 mech");
    is_str(rn_mimage_scram_at(img, 3)->name, "bob", "order 3");
    const rn_scram_cred_t *c = rn_mimage_scram(img, "alice", RN_SCRAM_SHA_512);
    ok(c != NULL && rn_scram_cred_check_password(c, "a", 1), "alice's password checks");
    ok(rn_mimage_scram(img, "alice", 3) == NULL, "unknown mechanism");
    ok(rn_mimage_scram(img, "carol", RN_SCRAM_SHA_512) == NULL, "unknown user");

    is(upsert(img, "alice", RN_SCRAM_SHA_512, "new", 8192), 0, "alice 512 replaced");
    is(rn_mimage_scram_count(img), 4, "still four");
    c = rn_mimage_scram(img, "alice", RN_SCRAM_SHA_512);
    ok(c->iterations == 8192 && rn_scram_cred_check_password(c, "new", 3), "new password");

    uint8_t *snap;
    size_t len;
    is(rn_mimage_snapshot_write(img, &snap, &len), 0, "snapshot written");
    rn_mimage_t *copy = rn_mimage_new();
    is(rn_mimage_snapshot_load(copy, 99, snap, len), 0, "snapshot loaded");
    is(rn_mimage_scram_count(copy), 4, "snapshot has four");
    c = rn_mimage_scram(copy, "alice", RN_SCRAM_SHA_512);
    ok(c != NULL && c->iterations == 8192 && rn_scram_cred_check_password(c, "new", 3),
       "snapshot keeps the credential");
    rn_free(snap);
    rn_mimage_free(copy);

    is(removal(img, "alice", RN_SCRAM_SHA_256), 0, "alice 256 removed");
    ok(rn_mimage_scram(img, "alice", RN_SCRAM_SHA_256) == NULL, "gone");
    ok(rn_mimage_scram(img, "alice", RN_SCRAM_SHA_512) != NULL, "the other mechanism stays");
    ok(removal(img, "alice", RN_SCRAM_SHA_256) != 0, "removing again is refused");

    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_USER_SCRAM_CREDENTIAL_RECORD);
    rec.body.user_scram_credential.name = (rn_str_t){"x", 1};
    rec.body.user_scram_credential.mechanism = RN_SCRAM_SHA_512;
    rec.body.user_scram_credential.stored_key = (rn_bytes_t){(const uint8_t *)"short", 5};
    rec.body.user_scram_credential.server_key = (rn_bytes_t){(const uint8_t *)"short", 5};
    rec.body.user_scram_credential.iterations = 4096;
    ok(rn_mimage_apply_rec(img, offset++, &rec) != 0, "short keys refused");
    is(rn_mimage_scram_count(img), 3, "three left");
    rn_mimage_free(img);
    return done_testing();
}
