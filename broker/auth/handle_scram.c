/* DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), as Kafka's KRaft
 * brokers serve them: Describe from this node's metadata image; Alter forwarded to the active
 * controller (cluster_forward.c), which checks it on the committed image, writes
 * UserScramCredentialRecord / RemoveUserScramCredentialRecord and answers once they are
 * committed and applied. An upsertion carries the salted password the client computed; the
 * controller keeps StoredKey and ServerKey derived from it, never the salted password.
 * Results are one per user in order of first mention; a user with any bad entry has none
 * of its changes applied, as Kafka. */
#include "acl/rn_authz.h"
#include "auth/auth_int.h"
#include "controller/rn_cluster.h"
#include "net/rn_server.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_str.h"

#include <openssl/crypto.h>
#include <string.h>

static const rn_mimage_t *image_of(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    return b->cluster != NULL ? rn_cluster_image(b->cluster) : NULL;
}

/* The credentials of user (mechanism, iterations) into a result. */
static int describe_user(rn_req_t *req, const rn_mimage_t *img, rn_str_t user,
                         rn_describe_user_scram_credentials_result_t *res)
{
    char *name = rn_req_cstr(req, user);
    if (name == NULL)
        return RN_ENOMEM;
    res->user = user;
    int n = 0;
    const rn_scram_cred_t *creds[2];
    for (int m = RN_SCRAM_SHA_256; m <= RN_SCRAM_SHA_512; m++)
        if (img != NULL && (creds[n] = rn_mimage_scram(img, name, m)) != NULL)
            n++;
    if (n == 0) {
        res->error_code = RN_KERR_RESOURCE_NOT_FOUND;
        res->error_message =
            rn_req_strf(req, "Attempt to describe a user credential that does not exist: %s", name);
        return 0;
    }
    rn_credential_info_t *info =
        rn_credential_info_array_alloc(&req->arena, &res->credential_infos, n);
    if (info == NULL)
        return RN_ENOMEM;
    for (int i = 0; i < n; i++)
        info[i] = (rn_credential_info_t){(int8_t)creds[i]->mech, creds[i]->iterations};
    return 0;
}

int rn_handle_describe_user_scram_credentials(rn_req_t *req)
{
    const rn_describe_user_scram_credentials_request_t *dreq = req->request;
    rn_describe_user_scram_credentials_response_t *resp = req->response;
    const rn_mimage_t *img = image_of(req);
    rn_arena_t *a = &req->arena;
    if (!rn_authz_cluster(req, RN_ACL_OP_DESCRIBE)) { /* Kafka: DESCRIBE on the cluster */
        resp->error_code = RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
        rn_describe_user_scram_credentials_result_array_alloc(a, &resp->results, 0);
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    if (dreq->users.count <= 0) { /* null or empty: every user with a credential, as Kafka */
        size_t total = img != NULL ? rn_mimage_scram_count(img) : 0;
        int32_t n = 0;
        rn_str_t *names = rn_arena_calloc(a, total ? total : 1, sizeof(rn_str_t));
        if (names == NULL)
            return RN_ENOMEM;
        for (size_t i = 0; i < total; i++) {
            const char *nm = rn_mimage_scram_at(img, i)->name;
            if (n == 0 || !rn_str_eq_cstr(names[n - 1], nm))
                names[n++] = rn_str(nm);
        }
        rn_describe_user_scram_credentials_result_t *res =
            rn_describe_user_scram_credentials_result_array_alloc(a, &resp->results, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++)
            if (describe_user(req, img, names[i], &res[i]) != 0)
                return RN_ENOMEM;
        return RN_HANDLED_SYNC;
    }
    int32_t n = dreq->users.count, out = 0;
    rn_describe_user_scram_credentials_result_t *res =
        rn_describe_user_scram_credentials_result_array_alloc(a, &resp->results, n);
    if (res == NULL && n > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        rn_str_t user = dreq->users.items[i].name;
        bool dup = false, earlier = false;
        for (int32_t j = 0; j < n; j++) {
            dup |= j != i && rn_str_eq(dreq->users.items[j].name, user);
            earlier |= j < i && rn_str_eq(dreq->users.items[j].name, user);
        }
        if (earlier)
            continue; /* a user named twice is answered once, as Kafka */
        rn_describe_user_scram_credentials_result_t *r = &res[out++];
        if (dup) {
            r->user = user;
            r->error_code = RN_KERR_DUPLICATE_RESOURCE;
            r->error_message =
                rn_req_strf(req,
                            "Cannot describe SCRAM credentials for the same user twice in a single "
                            "request: %.*s",
                            RN_STR_ARGS(user));
            continue;
        }
        if (describe_user(req, img, user, r) != 0)
            return RN_ENOMEM;
    }
    resp->results.count = out;
    return RN_HANDLED_SYNC;
}

/* ---- Alter, on the controller ---- */

typedef struct alter {
    rn_cluster_op_t op;
    rn_req_t *req; /* NULL once its connection went away */
} alter_t;

/* The result slot of user, added in order of first mention. */
static rn_alter_user_scram_credentials_result_t *
result_for(rn_alter_user_scram_credentials_response_t *resp, rn_str_t user)
{
    for (int32_t i = 0; i < resp->results.count; i++)
        if (rn_str_eq(resp->results.items[i].user, user))
            return &resp->results.items[i];
    rn_alter_user_scram_credentials_result_t *r = &resp->results.items[resp->results.count++];
    rn_alter_user_scram_credentials_result_init(r); /* a null message, as Kafka's success */
    r->user = user;
    return r;
}

static void refuse(rn_req_t *req, rn_alter_user_scram_credentials_result_t *r, int16_t code,
                   const char *msg)
{
    if (r->error_code != 0)
        return; /* the first problem of a user is its answer */
    r->error_code = code;
    r->error_message = rn_req_strf(req, "%s", msg);
}

/* Checks that need no image: name, mechanism, iterations, sizes. */
static void check_entry(rn_req_t *req, rn_alter_user_scram_credentials_result_t *r, rn_str_t name,
                        int mech, const rn_scram_credential_upsertion_t *up)
{
    if (name.len <= 0 || memchr(name.ptr, 0, (size_t)name.len) != NULL ||
        name.len >= RN_SASL_USER_MAX) {
        refuse(req, r, RN_KERR_UNACCEPTABLE_CREDENTIAL, "Username must not be empty");
        return;
    }
    if (rn_scram_key_len(mech) == 0) {
        refuse(req, r, RN_KERR_UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
        return;
    }
    if (up == NULL)
        return;
    if (up->iterations < RN_SCRAM_MIN_ITERATIONS)
        refuse(req, r, RN_KERR_UNACCEPTABLE_CREDENTIAL, "Too few iterations");
    else if (up->iterations > RN_SCRAM_MAX_ITERATIONS)
        refuse(req, r, RN_KERR_UNACCEPTABLE_CREDENTIAL, "Too many iterations");
    else if (up->salt.len > RN_SCRAM_SALT_MAX)
        refuse(req, r, RN_KERR_UNACCEPTABLE_CREDENTIAL, "Salt is longer than 128 bytes");
    else if (up->salted_password.len > RN_SCRAM_KEY_MAX * 4)
        refuse(req, r, RN_KERR_UNACCEPTABLE_CREDENTIAL, "Salted password is too long");
}

static void alter_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out)
{
    (void)next_offset;
    alter_t *al = op->arg;
    rn_req_t *req = al->req;
    if (req == NULL)
        return;
    const rn_alter_user_scram_credentials_request_t *areq = req->request;
    rn_alter_user_scram_credentials_response_t *resp = req->response;
    const rn_mimage_t *img = rn_cluster_image(c);
    int32_t nd = areq->deletions.count > 0 ? areq->deletions.count : 0;
    int32_t nu = areq->upsertions.count > 0 ? areq->upsertions.count : 0;
    resp->results.items =
        rn_arena_calloc(&req->arena, (size_t)(nd + nu) + 1, sizeof(*resp->results.items));
    resp->results.count = 0;
    if (resp->results.items == NULL)
        return; /* answered empty; nothing written */
    for (int32_t i = 0; i < nd + nu; i++) {
        bool del = i < nd;
        const rn_scram_credential_deletion_t *d = del ? &areq->deletions.items[i] : NULL;
        const rn_scram_credential_upsertion_t *u = del ? NULL : &areq->upsertions.items[i - nd];
        rn_str_t name = del ? d->name : u->name;
        int mech = del ? d->mechanism : u->mechanism;
        rn_alter_user_scram_credentials_result_t *r = result_for(resp, name);
        check_entry(req, r, name, mech, u);
        for (int32_t j = 0; j < i; j++) {
            bool jdel = j < nd;
            rn_str_t jn =
                jdel ? areq->deletions.items[j].name : areq->upsertions.items[j - nd].name;
            int jm = jdel ? areq->deletions.items[j].mechanism
                          : areq->upsertions.items[j - nd].mechanism;
            if (jm == mech && rn_str_eq(jn, name))
                refuse(req, r, RN_KERR_DUPLICATE_RESOURCE,
                       "A user credential cannot be altered twice in the same request");
        }
        if (del && r->error_code == 0) {
            char *cname = rn_req_cstr(req, name);
            if (cname != NULL && rn_mimage_scram(img, cname, mech) == NULL)
                refuse(req, r, RN_KERR_RESOURCE_NOT_FOUND,
                       "Attempt to delete a user credential that does not exist");
        }
    }
    /* Records for every entry of the users without a problem. */
    int from = out->n;
    for (int32_t i = 0; i < nd + nu; i++) {
        bool del = i < nd;
        const rn_scram_credential_deletion_t *d = del ? &areq->deletions.items[i] : NULL;
        const rn_scram_credential_upsertion_t *u = del ? NULL : &areq->upsertions.items[i - nd];
        rn_str_t name = del ? d->name : u->name;
        if (result_for(resp, name)->error_code != 0)
            continue;
        rn_mrec_t rec;
        if (del) {
            rn_mrec_init(&rec, RN_MREC_REMOVE_USER_SCRAM_CREDENTIAL_RECORD);
            rec.body.remove_user_scram_credential.name = name;
            rec.body.remove_user_scram_credential.mechanism = d->mechanism;
        } else {
            rn_scram_cred_t cred;
            /* As Kafka, any salt and salted password are taken (a salted password of the
             * wrong length simply matches no password). */
            if (rn_scram_cred_from_salted(
                    u->mechanism,
                    u->salted_password.len > 0 ? u->salted_password.ptr : (const uint8_t *)"",
                    (size_t)(u->salted_password.len > 0 ? u->salted_password.len : 0),
                    u->salt.len > 0 ? u->salt.ptr : (const uint8_t *)"",
                    (size_t)(u->salt.len > 0 ? u->salt.len : 0), u->iterations, &cred) != 0)
                continue; /* checked above; cannot happen */
            size_t klen = rn_scram_key_len(u->mechanism);
            rn_mrec_init(&rec, RN_MREC_USER_SCRAM_CREDENTIAL_RECORD);
            rec.body.user_scram_credential =
                (rn_user_scram_credential_record_t){name,
                                                    u->mechanism,
                                                    {cred.salt, (int32_t)cred.salt_len},
                                                    {cred.stored_key, (int32_t)klen},
                                                    {cred.server_key, (int32_t)klen},
                                                    u->iterations};
            rn_mrecs_add(out, &rec); /* framed (copied) now, so cred may go */
            OPENSSL_cleanse(&cred, sizeof(cred));
            continue;
        }
        rn_mrecs_add(out, &rec);
    }
    rn_mrecs_wrap_transaction(out, from, "AlterUserScramCredentials");
}

static void alter_done(rn_cluster_op_t *op, int rc)
{
    alter_t *al = op->arg;
    rn_req_t *req = al->req;
    rn_free(al);
    if (req == NULL || rc == RN_ECANCELED)
        return;
    if (rc != 0) {
        rn_alter_user_scram_credentials_response_t *resp = req->response;
        for (int32_t i = 0; i < resp->results.count; i++)
            if (resp->results.items[i].error_code == 0) {
                resp->results.items[i].error_code = RN_KERR_NOT_CONTROLLER;
                resp->results.items[i].error_message = RN_STR_NULL;
            }
    }
    rn_req_complete(req);
}

static void alter_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    alter_t *al = arg;
    al->req = NULL;
}

int rn_handle_alter_user_scram_credentials(rn_req_t *req)
{
    /* Kafka: ALTER on the cluster, checked here before the request travels (every user's
     * result says so). */
    if (!rn_authz_cluster(req, RN_ACL_OP_ALTER)) {
        rn_req_count_error(req);
        int rc = rn_cluster_answer_all(req, RN_KERR_CLUSTER_AUTHORIZATION_FAILED, NULL);
        return rc != 0 ? rc : RN_HANDLED_SYNC;
    }
    int fwd = rn_cluster_forward(req); /* credentials are metadata: the controller writes them */
    if (fwd != 0)
        return fwd;
    rn_broker_t *b = rn_req_broker(req);
    if (b->cluster == NULL)
        return RN_EINVAL;
    alter_t *al = rn_xcalloc(1, sizeof(*al));
    al->req = req;
    al->op = (rn_cluster_op_t){NULL, alter_decide, alter_done, al};
    rn_req_park(req, alter_cancel, al);
    rn_cluster_submit(b->cluster, &al->op);
    return RN_HANDLED_ASYNC;
}
