/* SaslHandshake (17) and SaslAuthenticate (36): a connection's SASL login, its state kept
 * with the connection (rn_req_auth_state) from the handshake to the last token. After a
 * v0 handshake the tokens arrive bare (the server hands them in as SaslAuthenticate v0 with
 * req->raw_token); from v1 they come in SaslAuthenticate requests (KIP-152). A login that
 * succeeds again on an authenticated connection is a re-authentication (KIP-368): same
 * mechanism, same principal, new session. */
#include "auth/auth_int.h"
#include "controller/rn_cluster.h"
#include "net/rn_offload.h"
#include "net/rn_server.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_str.h"

#include <openssl/crypto.h>
#include <string.h>

/* Where a connection's login stands. */
enum { STAGE_IDLE, STAGE_PLAIN, STAGE_SCRAM_FIRST, STAGE_SCRAM_FINAL };

typedef struct sasl_conn {
    int mech;  /* index (auth_int.h) chosen by the latest handshake; -1 before one */
    int stage; /* STAGE_*: what the next SaslAuthenticate carries */
    bool raw;  /* the handshake was v0: tokens come bare */
    char user[RN_SASL_USER_MAX]; /* who logged in last ("" before a login) */
    rn_scram_server_t scram;
} sasl_conn_t;

static void sasl_conn_free(void *p)
{
    if (p != NULL)
        OPENSSL_cleanse(p, sizeof(sasl_conn_t));
    rn_free(p);
}

static rn_auth_t *auth_of(rn_req_t *req)
{
    return rn_req_broker(req)->auth;
}

static const rn_mimage_t *image_of(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    return b->cluster != NULL ? rn_cluster_image(b->cluster) : NULL;
}

int rn_handle_sasl_handshake(rn_req_t *req)
{
    const rn_sasl_handshake_request_t *hreq = req->request;
    rn_sasl_handshake_response_t *resp = req->response;
    rn_auth_t *a = auth_of(req);
    if (!rn_req_sasl_listener(req) || a == NULL) {
        resp->error_code = RN_KERR_ILLEGAL_SASL_STATE; /* as Kafka on a PLAINTEXT listener */
        return RN_HANDLED_SYNC;
    }
    int li = req->listener;
    int n = a->n_order[li];
    rn_str_t *names = rn_arena_alloc(&req->arena, sizeof(rn_str_t) * (size_t)n);
    if (names == NULL)
        return RN_ENOMEM;
    int chosen = -1;
    for (int i = 0; i < n; i++) {
        names[i] = rn_str(rn__auth_mech_name(a->order[li][i]));
        if (rn_str_eq(names[i], hreq->mechanism))
            chosen = a->order[li][i];
    }
    resp->mechanisms = (rn_str_array_t){n, names};
    sasl_conn_t *sc = rn_req_auth_state(req);
    if (chosen < 0 || (sc != NULL && sc->user[0] != '\0' && sc->mech != chosen)) {
        /* Kafka answers, then closes; a re-authentication may not switch mechanisms. */
        resp->error_code = RN_KERR_UNSUPPORTED_SASL_MECHANISM;
        rn_req_close_after(req);
        return RN_HANDLED_SYNC;
    }
    if (sc == NULL) {
        sc = rn_xcalloc(1, sizeof(*sc));
        rn_req_set_auth_state(req, sc, sasl_conn_free);
    }
    sc->mech = chosen;
    sc->stage = chosen == 0 ? STAGE_PLAIN : STAGE_SCRAM_FIRST;
    sc->raw = req->api_version == 0;
    if (chosen != 0)
        rn_scram_server_init(&sc->scram, chosen);
    if (sc->raw)
        rn_req_sasl_raw_tokens(req, true);
    return RN_HANDLED_SYNC;
}

/* The login failed: Kafka's answer, the connection closed after it, a line for the
 * operator (at most one a minute per source; no secrets: a user name is said only when it
 * is a known user, since a password typed into the name field must not reach the log). */
static int fail(rn_req_t *req, sasl_conn_t *sc, const char *message, const char *known_user,
                const char *why)
{
    rn_auth_t *a = auth_of(req);
    rn_sasl_authenticate_response_t *resp = req->response;
    resp->error_code = RN_KERR_SASL_AUTHENTICATION_FAILED;
    resp->error_message = rn_req_strf(req, "%s", message);
    rn_req_close_after(req);
    rn_req_count_error(req);
    a->failed[sc->mech]++;
    char ip[64];
    uint64_t failures = 0;
    rn__auth_peer_ip(req->peer, ip, sizeof(ip));
    if (rn_authlog_fail(&a->log, ip, (uint64_t)rn_clock_mono_ns(), &failures))
        RN_WARN("auth",
                "node=%d listener=%s peer=%s: failed %s login (%s%s%s: %s); %llu failed "
                "logins from %s since its last line",
                rn_req_broker(req)->node_id, rn_req_broker(req)->listeners[req->listener].name,
                req->peer, rn__auth_mech_name(sc->mech), known_user ? "user " : "unknown user",
                known_user ? known_user : "", known_user ? "" : "", why,
                (unsigned long long)failures, ip);
    sc->stage = STAGE_IDLE;
    if (sc->raw)
        rn_req_sasl_raw_tokens(req, false);
    return RN_HANDLED_SYNC;
}

static int succeed(rn_req_t *req, sasl_conn_t *sc, const char *user)
{
    rn_auth_t *a = auth_of(req);
    rn_sasl_authenticate_response_t *resp = req->response;
    char principal[RN_SASL_USER_MAX + 8];
    snprintf(principal, sizeof(principal), "User:%s", user);
    if (sc->user[0] != '\0' && strcmp(sc->user, user) != 0) {
        char msg[2 * RN_SASL_USER_MAX + 80];
        snprintf(msg, sizeof(msg),
                 "Cannot change principals during re-authentication from User:%s: User:%s",
                 sc->user, user);
        return fail(req, sc, msg, sc->user, "another user on re-authentication");
    }
    bool again = sc->user[0] != '\0';
    snprintf(sc->user, sizeof(sc->user), "%s", user);
    rn_server_set_principal(req, principal);
    rn_req_authenticated(req, a->reauth_ms);
    resp->session_lifetime_ms = a->reauth_ms;
    a->ok[sc->mech]++;
    sc->stage = STAGE_IDLE;
    if (sc->raw)
        rn_req_sasl_raw_tokens(req, false);
    RN_DEBUG("auth", "node=%d peer=%s: %s %s as %s", rn_req_broker(req)->node_id, req->peer,
             rn__auth_mech_name(sc->mech), again ? "re-authenticated" : "logged in", principal);
    return RN_HANDLED_SYNC;
}

static const char *scram_failed(rn_req_t *req, int mech)
{
    return rn_req_cstr(req, rn_req_strf(req,
                                        "Authentication failed during authentication due to "
                                        "invalid credentials with SASL mechanism %s",
                                        rn__auth_mech_name(mech)));
}

/* A PLAIN password check: one PBKDF2 (iterations HMACs, ~5 ms at 4096), run on the offload
 * thread so a stream of PLAIN logins cannot stall the loop. req is NULL once its
 * connection went away. */
typedef struct plain_job {
    rn_req_t *req;
    rn_scram_cred_t cred;
    char user[RN_SASL_USER_MAX];
    char password[RN_SASL_MSG_MAX];
    size_t pwlen;
    bool ok;
} plain_job_t;

static int plain_work(void *arg)
{
    plain_job_t *job = arg;
    job->ok = rn_scram_cred_check_password(&job->cred, job->password, job->pwlen);
    return 0;
}

static void plain_done(void *arg, int rc)
{
    (void)rc;
    plain_job_t *job = arg;
    rn_req_t *req = job->req;
    if (req != NULL) {
        sasl_conn_t *sc = rn_req_auth_state(req);
        if (job->ok)
            succeed(req, sc, job->user);
        else
            fail(req, sc, "Authentication failed: Invalid username or password", job->user,
                 "wrong password");
        rn_req_complete(req);
    }
    OPENSSL_cleanse(job, sizeof(*job));
    rn_free(job);
}

static void plain_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    plain_job_t *job = arg;
    job->req = NULL;
}

static int plain(rn_req_t *req, sasl_conn_t *sc, rn_bytes_t tok)
{
    rn_sasl_plain_t p;
    const char *why = NULL;
    int rc = rn_sasl_plain_parse(tok.ptr, (size_t)tok.len, &p, &why);
    if (rc != RN_SASL_OK)
        return fail(req, sc, why, NULL, "malformed PLAIN token");
    const rn_mimage_t *img = image_of(req);
    const rn_scram_cred_t *cred = rn__auth_cred(auth_of(req), img, p.user, RN_SCRAM_SHA_512);
    if (cred == NULL)
        cred = rn__auth_cred(auth_of(req), img, p.user, RN_SCRAM_SHA_256);
    if (cred == NULL || p.pwlen >= RN_SASL_MSG_MAX)
        return fail(req, sc, "Authentication failed: Invalid username or password", NULL,
                    "no such user");
    rn_broker_t *b = rn_req_broker(req);
    if (b->offload == NULL) { /* no worker (tests): check here */
        if (!rn_scram_cred_check_password(cred, p.password, p.pwlen))
            return fail(req, sc, "Authentication failed: Invalid username or password", p.user,
                        "wrong password");
        return succeed(req, sc, p.user);
    }
    plain_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->req = req;
    job->cred = *cred;
    snprintf(job->user, sizeof(job->user), "%s", p.user);
    memcpy(job->password, p.password, p.pwlen);
    job->pwlen = p.pwlen;
    rn_req_park(req, plain_cancel, job);
    rn_offload_submit(b->offload, plain_work, plain_done, job);
    return RN_HANDLED_ASYNC;
}

static int scram(rn_req_t *req, sasl_conn_t *sc, rn_bytes_t tok)
{
    rn_sasl_authenticate_response_t *resp = req->response;
    const char *why = NULL;
    char *out = rn_arena_alloc(&req->arena, RN_SASL_MSG_MAX);
    if (out == NULL)
        return RN_ENOMEM;
    if (sc->stage == STAGE_SCRAM_FIRST) {
        int rc = rn_scram_server_client_first(&sc->scram, tok.ptr, (size_t)tok.len, &why);
        if (rc != RN_SASL_OK)
            return fail(req, sc, scram_failed(req, sc->mech), NULL, why);
        const rn_mimage_t *img = image_of(req);
        const rn_scram_cred_t *cred = rn__auth_cred(auth_of(req), img, sc->scram.user, sc->mech);
        if (cred == NULL)
            return fail(req, sc, scram_failed(req, sc->mech), NULL, "no such user");
        long n = rn_scram_server_first(&sc->scram, cred, out, RN_SASL_MSG_MAX);
        if (n < 0)
            return fail(req, sc, scram_failed(req, sc->mech), sc->scram.user, "internal error");
        resp->auth_bytes = (rn_bytes_t){(const uint8_t *)out, (int32_t)n};
        sc->stage = STAGE_SCRAM_FINAL;
        return RN_HANDLED_SYNC;
    }
    size_t outlen = 0;
    int rc = rn_scram_server_client_final(&sc->scram, tok.ptr, (size_t)tok.len, out,
                                          RN_SASL_MSG_MAX, &outlen, &why);
    if (rc != RN_SASL_DONE)
        return fail(req, sc, scram_failed(req, sc->mech), sc->scram.user, why);
    resp->auth_bytes = (rn_bytes_t){(const uint8_t *)out, (int32_t)outlen};
    return succeed(req, sc, sc->scram.user);
}

int rn_handle_sasl_authenticate(rn_req_t *req)
{
    const rn_sasl_authenticate_request_t *areq = req->request;
    rn_sasl_authenticate_response_t *resp = req->response;
    sasl_conn_t *sc = rn_req_auth_state(req);
    if (!rn_req_sasl_listener(req) || auth_of(req) == NULL) {
        resp->error_code = RN_KERR_ILLEGAL_SASL_STATE; /* Kafka's words on a PLAINTEXT listener */
        resp->error_message = rn_str("SaslAuthenticate request received after successful "
                                     "authentication");
        return RN_HANDLED_SYNC;
    }
    if (sc == NULL || sc->stage == STAGE_IDLE) {
        /* Kafka closes the connection without an answer (an illegal SASL state). */
        RN_DEBUG("auth", "node=%d peer=%s: SaslAuthenticate without a SaslHandshake; closing",
                 rn_req_broker(req)->node_id, req->peer);
        rn_req_no_response(req);
        rn_req_close_after(req);
        return RN_HANDLED_NO_RESPONSE;
    }
    rn_bytes_t tok = areq->auth_bytes;
    if (tok.len < 0)
        tok = (rn_bytes_t){(const uint8_t *)"", 0};
    return sc->stage == STAGE_PLAIN ? plain(req, sc, tok) : scram(req, sc, tok);
}
