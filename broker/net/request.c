/* Requests: from a received frame to an rn_req_t (header and body decoded by the codec into
 * the request's arena), and from a finished request to response bytes.
 * The connection queue that orders them lives in conn.c. */
#include "server_int.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The whole request decoded into the arena, the response allocated there. */
static const char *decode_codec(rn_req_t *req, const rn_api_entry_t *api, char *why, size_t whylen)
{
    rn_rpc_request_t rpc;
    unsigned flags = RN_RPC_ALLOW_TRAILING; /* as Kafka; librdkafka depends on it */
    if (api->flags & RN_API_ANY_VERSION)
        flags |= RN_RPC_ANY_VERSION;
    int st = rn_rpc_decode_request(req->frame, req->frame_len, &req->arena, flags, &rpc);
    bool any = (api->flags & RN_API_ANY_VERSION) && st == RN_RPC_UNSUPPORTED_VERSION;
    if (rpc.client_id.len >= 0 && st != RN_RPC_BAD_HEADER) {
        /* Every byte: JoinGroup makes member ids from it, and DescribeGroups gives it back. */
        rn_str_t id = rn_str_xdup(rpc.client_id);
        req->client_id = id.ptr;
        req->client_id_len = id.len;
    }
    if (st != RN_RPC_OK && !any) {
        if (st == RN_RPC_UNSUPPORTED_VERSION)
            return "unsupported api version";
        snprintf(why, whylen, "%s: %s at byte %zu", rn_rpc_status_name(st), rn_strerror(rpc.error),
                 rpc.error_offset);
        return why;
    }
    req->flexible = rpc.header_version >= 2;
    if (rpc.trailing_bytes > 0)
        RN_DEBUG("server",
                 "api_key=%d api_version=%d correlation_id=%d: %zu bytes after the body "
                 "ignored",
                 rpc.api_key, rpc.api_version, rpc.correlation_id, rpc.trailing_bytes);
    req->request = rpc.body; /* NULL for a version the codec does not define */
    req->response = rn_arena_alloc(&req->arena, rpc.api->response_size);
    if (req->response == NULL)
        return "out of memory for the response";
    rpc.api->response_init(req->response);
    return NULL;
}

/* A bare SASL token (after SaslHandshake v0) as a SaslAuthenticate v0 request whose
 * auth_bytes is the whole frame. */
static const char *decode_raw_token(rn_req_t *req)
{
    const rn_rpc_api_t *api = rn_rpc_api(RN_API_SASL_AUTHENTICATE);
    rn_sasl_authenticate_request_t *body = rn_arena_alloc(&req->arena, api->request_size);
    req->response = rn_arena_alloc(&req->arena, api->response_size);
    if (body == NULL || req->response == NULL)
        return "out of memory for a SASL token";
    rn_sasl_authenticate_request_init(body);
    body->auth_bytes = (rn_bytes_t){req->frame, (int32_t)req->frame_len};
    req->request = body;
    api->response_init(req->response);
    return NULL;
}

/* What a SASL listener refuses before a login or after its session ran out (Kafka closes
 * the connection); NULL when the request may go on. */
static const char *sasl_gate(const rn_srvconn_t *conn, int16_t key)
{
    if (key == RN_API_SASL_HANDSHAKE || key == RN_API_SASL_AUTHENTICATE)
        return NULL;
    if (!conn->authenticated)
        return key == RN_API_API_VERSIONS ? NULL : "request before SASL authentication completed";
    if (conn->session_end_ns != 0 && rn__server_now_ns() >= conn->session_end_ns)
        return "the SASL session expired (connections.max.reauth.ms) and the client did not "
               "re-authenticate";
    return NULL;
}

rn_req_t *rn__req_new(rn_srvconn_t *conn, uint8_t *frame, size_t size)
{
    rn_server_t *srv = conn->srv;
    rn_req_t *req = rn_xcalloc(1, sizeof(*req));
    req->server = srv;
    req->ctx = srv->opts.ctx;
    req->conn = conn;
    req->conn_id = conn->id;
    req->peer = conn->peer;
    req->listener = conn->listener;
    req->frame = frame;
    req->frame_len = size;
    req->raw_token = conn->raw_tokens;
    if (req->raw_token) {
        req->api_key = RN_API_SASL_AUTHENTICATE;
    } else {
        /* size >= 8 is checked by the framing, so the fixed header fields are there. */
        req->api_key = (int16_t)rn_load_be16(frame);
        req->api_version = req->response_version = (int16_t)rn_load_be16(frame + 2);
        req->correlation_id = (int32_t)rn_load_be32(frame + 4);
    }
    req->read_ns = rn__server_now_ns();
    req->principal = conn->principal != NULL ? conn->principal : RN_PRINCIPAL_ANONYMOUS;
    rn_arena_init(&req->arena, 0);
    srv->inflight++;
    if (req->api_key >= 0 && req->api_key <= RN_API_KEY_MAX)
        srv->metrics.requests[req->api_key]++;

    char why[200];
    const char *problem = NULL;
    const rn_api_entry_t *api = rn_server_find_api(srv, req->api_key);
    if (conn->sasl && !req->raw_token)
        problem = sasl_gate(conn, req->api_key);
    if (problem != NULL)
        ;
    else if (api == NULL)
        problem = "api key not served";
    else if (req->raw_token)
        problem = decode_raw_token(req);
    else
        problem = decode_codec(req, api, why, sizeof(why));
    req->api = api;
    if (req->client_id == NULL)
        req->client_id = rn_xstrdup("");
    req->out = evbuffer_new();
    if (req->out == NULL)
        abort();
    /* Let file ranges stay sendfile chains rather than be read into memory; a TLS
     * connection must encrypt them, so they are read at encoding (encode_tls). */
    if (!conn->tls)
        evbuffer_set_flags(req->out, EVBUFFER_FLAG_DRAINS_TO_FD);
    if (problem != NULL) {
        uint64_t skipped = 0;
        if (rn__server_may_log_bad(srv, &skipped)) {
            /* The first bytes in hex make an interop mismatch diagnosable from the log alone. */
            char hex[2 * 48 + 1];
            size_t nhex = size < 48 ? size : 48;
            for (size_t i = 0; i < nhex; i++)
                snprintf(hex + 2 * i, 3, "%02x", frame[i]);
            hex[2 * nhex] = '\0';
            RN_WARN("server",
                    "conn=%llu peer=%s api_key=%d api_version=%d correlation_id=%d "
                    "client_id=%s: %s; closing the connection (%zu bytes: %s%s; %llu more bad "
                    "requests not logged before this one)",
                    (unsigned long long)conn->id, conn->peer, req->api_key, req->api_version,
                    req->correlation_id,
                    RN_STR_ESC(req->client_id ? ((rn_str_t){req->client_id, req->client_id_len})
                                              : rn_str("")),
                    problem, size, hex, size > nhex ? "..." : "", (unsigned long long)skipped);
        }
        if (req->api_key >= 0 && req->api_key <= RN_API_KEY_MAX)
            srv->metrics.errors[req->api_key]++;
        srv->metrics.connections_closed_bad++;
        rn__req_free(req);
        return NULL;
    }
    return req;
}

/* The response for a TLS connection: file ranges are read into the buffer (OpenSSL must
 * encrypt them; sendfile cannot), and their owners released at once. */
static int encode_tls(const rn_proto_writer_t *w, struct evbuffer *out,
                      rn_proto_release_fn *release)
{
    size_t n = rn_proto_writer_nchunks(w);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rn_proto_chunk_t chunk;
        rn_proto_writer_chunk(w, i, &chunk);
        if (!chunk.in_file) {
            if (rc == 0 && evbuffer_add(out, chunk.ptr, chunk.len) != 0)
                rc = RN_ENOMEM;
            continue;
        }
        struct evbuffer_iovec vec;
        if (rc == 0 && chunk.len > 0 &&
            evbuffer_reserve_space(out, (ev_ssize_t)chunk.len, &vec, 1) != 1)
            rc = RN_ENOMEM;
        for (size_t done = 0; rc == 0 && done < chunk.len;) {
            ssize_t got = pread(chunk.fd, (uint8_t *)vec.iov_base + done, chunk.len - done,
                                (off_t)(chunk.offset + (int64_t)done));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                rc = got < 0 ? RN_EIO : RN_ETRUNC;
            else
                done += (size_t)got;
        }
        if (rc == 0 && chunk.len > 0) {
            vec.iov_len = chunk.len;
            if (evbuffer_commit_space(out, &vec, 1) != 0)
                rc = RN_ENOMEM;
        }
        if (release != NULL)
            release(chunk.owner); /* every file chunk's owner, also after a failure */
    }
    return rc;
}

/* The answer to a bare token: a size prefix and the token; none after a failure, whose
 * connection closes (Kafka's SASL before KIP-152 has no way to say why). */
static int encode_raw_token(rn_req_t *req)
{
    const rn_sasl_authenticate_response_t *resp = req->response;
    if (resp->error_code != 0) {
        req->no_response = true;
        req->close_after = true;
        return 0;
    }
    int32_t len = resp->auth_bytes.len > 0 ? resp->auth_bytes.len : 0;
    uint8_t prefix[4];
    rn_store_be32(prefix, (uint32_t)len);
    if (evbuffer_add(req->out, prefix, 4) != 0 ||
        (len > 0 && evbuffer_add(req->out, resp->auth_bytes.ptr, (size_t)len) != 0))
        return RN_ENOMEM;
    return 0;
}

int rn__req_encode(rn_req_t *req)
{
    if (req->no_response)
        return 0;
    if (req->raw_token)
        return encode_raw_token(req);
    rn_proto_writer_t *w = &req->server->writer;
    rn_proto_writer_reset(w);
    int rc = rn_rpc_encode_response(w, req->api_key, req->response_version, req->correlation_id,
                                    req->response);
    if (rc == 0 && req->conn->tls)
        rc = encode_tls(w, req->out, req->server->opts.file_release);
    else if (rc == 0)
        rc = rn_proto_writer_to_evbuffer(w, req->out, req->server->opts.file_release);
    rn_proto_writer_reset(w);
    return rc;
}

uint8_t *rn_req_take_frame(rn_req_t *req)
{
    uint8_t *frame = req->frame;
    req->frame = NULL;
    return frame;
}

void rn__req_release_memory(rn_req_t *req)
{
    rn_arena_free(&req->arena);
    req->request = req->response = NULL;
    rn_free(req->frame);
    req->frame = NULL;
}

void rn__req_free(rn_req_t *req)
{
    rn_server_t *srv = req->server;
    if (req->out != NULL)
        evbuffer_free(req->out);
    rn__req_release_memory(req);
    rn_free((char *)req->client_id);
    rn_free(req);
    srv->inflight--;
}

void rn_server_set_principal(rn_req_t *req, const char *principal)
{
    rn_srvconn_t *conn = req->conn;
    if (conn->principal != NULL && strcmp(conn->principal, principal) == 0) {
        req->principal = conn->principal;
        return;
    }
    if (conn->principal != NULL) {
        conn->retired = rn_xrealloc(conn->retired, (conn->n_retired + 1) * sizeof(char *));
        conn->retired[conn->n_retired++] = conn->principal;
    }
    conn->principal = rn_xstrdup(principal);
    req->principal = conn->principal;
}

bool rn_req_sasl_listener(const rn_req_t *req)
{
    return req->conn->sasl;
}

void rn_req_authenticated(rn_req_t *req, int64_t session_ms)
{
    rn_srvconn_t *conn = req->conn;
    conn->authenticated = true;
    conn->session_end_ns =
        session_ms > 0 ? rn__server_now_ns() + (uint64_t)session_ms * 1000000u : 0;
}

bool rn_req_is_authenticated(const rn_req_t *req)
{
    return req->conn->authenticated;
}

void *rn_req_auth_state(const rn_req_t *req)
{
    return req->conn->auth;
}

void rn_req_set_auth_state(rn_req_t *req, void *state, void (*free_fn)(void *))
{
    rn_srvconn_t *conn = req->conn;
    if (conn->auth_free != NULL && conn->auth != state)
        conn->auth_free(conn->auth);
    conn->auth = state;
    conn->auth_free = free_fn;
}

void rn_req_sasl_raw_tokens(rn_req_t *req, bool on)
{
    req->conn->raw_tokens = on;
}

void rn_req_close_after(rn_req_t *req)
{
    req->close_after = true;
}

void rn_req_no_response(rn_req_t *req)
{
    req->no_response = true;
}

void rn_req_count_error(rn_req_t *req)
{
    if (req->api_key >= 0 && req->api_key <= RN_API_KEY_MAX)
        req->server->metrics.errors[req->api_key]++;
}

bool rn_req_orphaned(const rn_req_t *req)
{
    return req->conn->closed;
}

rn_str_t rn_req_strf(rn_req_t *req, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return RN_STR_NULL;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    char *copy = rn_arena_strndup(&req->arena, buf, (size_t)n);
    return copy != NULL ? (rn_str_t){copy, n} : RN_STR_NULL;
}

char *rn_req_cstr(rn_req_t *req, rn_str_t s)
{
    if (s.len <= 0)
        return rn_arena_strndup(&req->arena, "", 0);
    return rn_arena_strndup(&req->arena, s.ptr, (size_t)s.len);
}
