/* rn_rpc: Kafka request/response frames: headers, the api table and whole-frame codecs.
 *
 * A frame on the wire is int32 size + payload. Request header v1 = api_key int16,
 * api_version int16, correlation_id int32, client_id nullable string (int16 length, even
 * in v2); v2 adds a tagged-field section. A request uses header v2 exactly when its api
 * version is flexible. Response header v0 = correlation_id; v1 adds tagged fields and is
 * used for flexible versions, except ApiVersions responses, which always use v0.
 *
 * Broker side (see client/README.md for a worked example):
 *
 *   rn_rpc_request_t req;
 *   int st = rn_rpc_decode_request(payload, size, arena, 0, &req);  // payload after the size
 *   switch (st) { case RN_RPC_OK: ... dispatch on req.api_key, body in req.body ... }
 *   rn_metadata_response_t resp; rn_metadata_response_init(&resp); ...fill...
 *   rn_rpc_encode_response(w, req.api_key, req.api_version, req.correlation_id, &resp);
 *   rn_proto_writer_to_evbuffer(w, bufferevent_get_output(bev), segment_release);
 *
 * The served version ranges (what ApiVersions advertises and what rn_rpc_decode_request
 * accepts) start as the serve= ranges of client/defs and can be narrowed or widened within
 * the defined versions with rn_rpc_serve() at start-up. */
#ifndef RN_RPC_H
#define RN_RPC_H

#include "rn_arena.h"
#include "rn_kerr.h"
#include "rn_messages.h"
#include "rn_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One api key as the definitions describe it (generated: rn_rpc_apis[], sorted by key). */
typedef struct rn_rpc_api {
    int16_t key;
    const char *name;    /* Kafka's name: "Metadata" */
    int16_t min_version; /* versions the codec can decode and encode */
    int16_t max_version;
    int16_t flexible_version; /* first flexible version, -1 if none */
    int16_t serve_min;        /* default served range, -1/-1 when not served */
    int16_t serve_max;
    size_t request_size; /* sizeof(rn_<api>_request_t) */
    size_t response_size;
    void (*request_init)(void *msg);
    int (*request_decode)(rn_proto_reader_t *r, int16_t version, void *msg);
    int (*request_encode)(rn_proto_writer_t *w, int16_t version, const void *msg);
    void (*response_init)(void *msg);
    int (*response_decode)(rn_proto_reader_t *r, int16_t version, void *msg);
    int (*response_encode)(rn_proto_writer_t *w, int16_t version, const void *msg);
} rn_rpc_api_t;

extern const rn_rpc_api_t rn_rpc_apis[];
extern const size_t rn_rpc_napis;

/* The table entry for an api key, or NULL when we have no definition for it. */
const rn_rpc_api_t *rn_rpc_api(int16_t api_key);

/* True when version of api is flexible (compact encodings, tagged fields). */
bool rn_rpc_is_flexible(const rn_rpc_api_t *api, int16_t version);

/* Header versions: request 1 or 2, response 0 or 1 (ApiVersions: always 0). */
int rn_rpc_request_header_version(const rn_rpc_api_t *api, int16_t version);
int rn_rpc_response_header_version(const rn_rpc_api_t *api, int16_t version);

/* Request header fields (v0 has no client id; v1 adds it; v2 adds a tagged section). */
typedef struct rn_rpc_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    rn_str_t client_id; /* int16-length nullable string in v1 and v2 (never compact) */
} rn_rpc_request_header_t;

/* Read/write a request header of the given version (0, 1, 2); reads return r->err, unknown
 * tagged fields are skipped. */
int rn_rpc_read_request_header(rn_proto_reader_t *r, int header_version,
                               rn_rpc_request_header_t *hdr);
void rn_rpc_write_request_header(rn_proto_writer_t *w, int header_version,
                                 const rn_rpc_request_header_t *hdr);
/* Read/write a response header of the given version (0, 1); the read returns the
 * correlation id (check r->err). */
int32_t rn_rpc_read_response_header(rn_proto_reader_t *r, int header_version);
void rn_rpc_write_response_header(rn_proto_writer_t *w, int header_version, int32_t correlation_id);

/* Set the versions served for api_key: min..max must lie within the defined versions, or
 * both -1 to stop serving it. RN_EINVAL otherwise. Call at start-up (not thread-safe). */
int rn_rpc_serve(int16_t api_key, int16_t min_version, int16_t max_version);
/* The served range; false (and -1/-1) when api_key is not served. */
bool rn_rpc_served_range(int16_t api_key, int16_t *min_version, int16_t *max_version);
/* Fill resp->api_keys with every served api and its served range, in key order (arena
 * memory). Other fields are left alone. RN_ENOMEM on failure. */
int rn_rpc_fill_api_versions(rn_api_versions_response_t *resp, rn_arena_t *arena);

typedef enum rn_rpc_status {
    RN_RPC_OK = 0,
    RN_RPC_BAD_HEADER = -1,          /* header truncated or malformed: close the connection */
    RN_RPC_UNKNOWN_API = -2,         /* api key not defined (key/version/correlation id set) */
    RN_RPC_UNSUPPORTED_VERSION = -3, /* known key, version not served (header fields set) */
    RN_RPC_BAD_BODY = -4,            /* body malformed or trailing bytes (header fields set) */
    RN_RPC_NOMEM = -5,               /* the arena ran out (header fields set) */
} rn_rpc_status_t;

/* A short name for a status, for logs. */
const char *rn_rpc_status_name(int status);

/* A decoded request. Strings point into the frame, the body lives in the arena: both must
 * outlive the use of the request. */
typedef struct rn_rpc_request {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    rn_str_t client_id;      /* null when the client sent none */
    int header_version;      /* 1 or 2 */
    const rn_rpc_api_t *api; /* NULL for an unknown key */
    void *body;              /* rn_<api>_request_t *; NULL unless RN_RPC_OK */
    int error;               /* RN_E* from the reader when not RN_RPC_OK */
    size_t error_offset;     /* frame offset where decoding stopped */
    size_t trailing_bytes;   /* bytes after a decoded body, ignored as Kafka does */
} rn_rpc_request_t;

/* Decoding flags. */
#define RN_RPC_ANY_VERSION 1u /* accept every defined version, not only served ones */
/* Ignore bytes after the body, as Apache Kafka does: librdkafka 2.x sends Metadata v9+
 * "all topics" requests with a 4-byte array-count placeholder of which only the first byte
 * is the compact null, leaving 3 bytes after the body. */
#define RN_RPC_ALLOW_TRAILING 2u

/* Decode one request frame (the bytes after the int32 size). Returns an rn_rpc_status_t;
 * req's header fields are valid from RN_RPC_UNKNOWN_API on (so an ApiVersions request of an
 * unsupported version can be answered: v0 layout, error UNSUPPORTED_VERSION, api list). */
int rn_rpc_decode_request(const uint8_t *frame, size_t len, rn_arena_t *arena, unsigned flags,
                          rn_rpc_request_t *req);

/* Append a whole response frame (int32 size, response header, body) to w. body is the
 * rn_<api>_response_t for api_key. Returns 0 or w->err (RN_EUNSUPPORTED for a key or
 * version we cannot encode, RN_EINVAL for a null where the version has no nulls). */
int rn_rpc_encode_response(rn_proto_writer_t *w, int16_t api_key, int16_t api_version,
                           int32_t correlation_id, const void *body);

/* Append a whole request frame (int32 size, request header, body) to w; for clients. */
int rn_rpc_encode_request(rn_proto_writer_t *w, int16_t api_key, int16_t api_version,
                          int32_t correlation_id, rn_str_t client_id, const void *body);

/* Decode a response frame (bytes after the int32 size) to a request we sent with api_key
 * and api_version: the body (rn_<api>_response_t) is allocated in arena. Returns 0 or a
 * negative RN_E* (RN_ETRUNC/RN_ECORRUPT malformed, RN_ENOMEM, RN_EUNSUPPORTED). */
int rn_rpc_decode_response(const uint8_t *frame, size_t len, rn_arena_t *arena, int16_t api_key,
                           int16_t api_version, int32_t *correlation_id, void **body);

#endif
