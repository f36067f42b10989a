/* rn_peer's SASL login (rn_peer_opts_t.sasl_*): after ApiVersions, SaslHandshake v1 and
 * SaslAuthenticate (PLAIN: one token; SCRAM: client-first, then client-final and the check of
 * the server's signature), each one of the connection's own set-up requests, before anything
 * queued is written. A session lifetime in the answer (KIP-368) makes the peer reconnect, and
 * so log in again, before the session runs out (rn__peer_sasl_renew_due). */
#include "peer_int.h"

#include "rn_alloc.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_messages.h"
#include "rn_rpc.h"
#include "rn_sasl.h"
#include "rn_str.h"

#include <openssl/crypto.h>
#include <string.h>

/* Reconnect when less than this share of the session is left (and nothing is in flight). */
#define RENEW_AT_PCT 80

static int16_t authenticate_version(const rn_peer_t *peer)
{
    const rn_rpc_api_t *api = rn_rpc_api(RN_API_SASL_AUTHENTICATE);
    int16_t v = peer->vmax[RN_API_SASL_AUTHENTICATE];
    return v > api->max_version ? api->max_version : v;
}

static bool send_token(rn_peer_t *peer, const void *tok, size_t len)
{
    rn_sasl_authenticate_request_t body;
    rn_sasl_authenticate_request_init(&body);
    body.auth_bytes = (rn_bytes_t){tok, (int32_t)len};
    peer->sasl_step++;
    return rn__peer_send_setup(peer, RN_API_SASL_AUTHENTICATE, authenticate_version(peer), &body);
}

bool rn__peer_sasl_start(rn_peer_t *peer)
{
    if (peer->sasl_mech == NULL)
        return false;
    peer->sasl_step = 0;
    peer->session_end_ms = INT64_MAX;
    if (peer->vmax[RN_API_SASL_HANDSHAKE] < 1 || peer->vmax[RN_API_SASL_AUTHENTICATE] < 0) {
        rn__peer_close(peer, 0, "the peer does not serve SaslHandshake v1 and SaslAuthenticate");
        return true;
    }
    rn_sasl_handshake_request_t body;
    rn_sasl_handshake_request_init(&body);
    body.mechanism = rn_str(peer->sasl_mech);
    rn__peer_send_setup(peer, RN_API_SASL_HANDSHAKE, 1, &body);
    return true;
}

static void logged_in(rn_peer_t *peer, int64_t lifetime_ms)
{
    if (lifetime_ms > 0)
        peer->session_end_ms = rn__peer_now_ms() + lifetime_ms * RENEW_AT_PCT / 100;
    RN_INFO("peer", "node %d %s:%d: logged in as %s with %s%s", peer->node_id, peer->host,
            peer->port, peer->sasl_user, peer->sasl_mech,
            lifetime_ms > 0 ? " (the session has a lifetime: reconnecting before its end)" : "");
    rn_free(peer->scram);
    peer->scram = NULL;
    rn__peer_ready(peer);
}

void rn__peer_sasl_response(rn_peer_t *peer, int16_t api_key, int16_t version, const uint8_t *frame,
                            size_t len)
{
    int32_t corr;
    void *body = NULL;
    int st = rn_rpc_decode_response(frame, len, &peer->arena, api_key, version, &corr, &body);
    if (st != 0) {
        rn__peer_close(peer, 0, "malformed SASL response (key %d v%d)", api_key, version);
        return;
    }
    if (api_key == RN_API_SASL_HANDSHAKE) {
        const rn_sasl_handshake_response_t *hs = body;
        if (hs->error_code != 0) {
            rn__peer_close(peer, 0, "SaslHandshake %s: %s", peer->sasl_mech,
                           rn_kerr_name(hs->error_code));
            return;
        }
        uint8_t tok[RN_SASL_MSG_MAX];
        long n;
        int mech = rn_scram_mech_by_name(peer->sasl_mech, strlen(peer->sasl_mech));
        if (mech == RN_SCRAM_UNKNOWN) {
            n = rn_sasl_plain_token(peer->sasl_user, peer->sasl_password, tok, sizeof(tok));
        } else {
            if (peer->scram == NULL)
                peer->scram = rn_xcalloc(1, sizeof(*peer->scram));
            n = rn_scram_client_first(peer->scram, mech, peer->sasl_user, peer->sasl_password,
                                      (char *)tok, sizeof(tok));
        }
        if (n < 0) {
            rn__peer_close(peer, 0, "cannot build the first %s message", peer->sasl_mech);
            return;
        }
        send_token(peer, tok, (size_t)n);
        OPENSSL_cleanse(tok, sizeof(tok));
        return;
    }
    const rn_sasl_authenticate_response_t *ar = body;
    if (ar->error_code != 0) {
        rn__peer_close(peer, 0, "SASL %s login as %s refused: %s%s%.*s", peer->sasl_mech,
                       peer->sasl_user, rn_kerr_name(ar->error_code),
                       ar->error_message.len > 0 ? ": " : "", RN_STR_ARGS(ar->error_message));
        return;
    }
    const uint8_t *in = ar->auth_bytes.len > 0 ? ar->auth_bytes.ptr : (const uint8_t *)"";
    size_t inlen = ar->auth_bytes.len > 0 ? (size_t)ar->auth_bytes.len : 0;
    if (peer->scram == NULL) { /* PLAIN: one round */
        logged_in(peer, ar->session_lifetime_ms);
        return;
    }
    if (peer->sasl_step == 1) {
        char out[RN_SASL_MSG_MAX];
        long n = rn_scram_client_final(peer->scram, in, inlen, out, sizeof(out));
        if (n < 0) {
            rn__peer_close(peer, 0, "bad SCRAM server-first-message from the peer");
            return;
        }
        send_token(peer, out, (size_t)n);
        return;
    }
    if (rn_scram_client_verify(peer->scram, in, inlen) != RN_SASL_DONE) {
        rn__peer_close(peer, 0,
                       "the peer's SCRAM signature does not check: not the server "
                       "holding %s's credential",
                       peer->sasl_user);
        return;
    }
    logged_in(peer, ar->session_lifetime_ms);
}

bool rn__peer_sasl_renew_due(const rn_peer_t *peer)
{
    return peer->state == RN_PEER_READY && peer->session_end_ms != INT64_MAX &&
           TAILQ_EMPTY(&peer->inflight) && rn__peer_now_ms() >= peer->session_end_ms;
}

void rn__peer_sasl_free(rn_peer_t *peer)
{
    if (peer->sasl_password != NULL)
        OPENSSL_cleanse(peer->sasl_password, strlen(peer->sasl_password));
    if (peer->scram != NULL)
        OPENSSL_cleanse(peer->scram, sizeof(*peer->scram));
    rn_free(peer->scram);
    rn_free(peer->sasl_mech);
    rn_free(peer->sasl_user);
    rn_free(peer->sasl_password);
}
