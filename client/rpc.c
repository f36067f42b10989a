/* Request/response frames, header versions and the served-version table (see rn_rpc.h). */
#include "rn_rpc.h"

#include <string.h>

#define RN_RPC_MAX_KEY 128

/* Served ranges by api key, filled from the generated defaults on first use. */
static struct {
    bool ready;
    int16_t min[RN_RPC_MAX_KEY], max[RN_RPC_MAX_KEY];
} rn_rpc_served;

const rn_rpc_api_t *rn_rpc_api(int16_t api_key)
{
    /* The table is short and sorted; a linear scan beats anything cleverer here. */
    for (size_t i = 0; i < rn_rpc_napis; i++) {
        if (rn_rpc_apis[i].key == api_key)
            return &rn_rpc_apis[i];
        if (rn_rpc_apis[i].key > api_key)
            break;
    }
    return NULL;
}

bool rn_rpc_is_flexible(const rn_rpc_api_t *api, int16_t version)
{
    return api->flexible_version >= 0 && version >= api->flexible_version;
}

int rn_rpc_request_header_version(const rn_rpc_api_t *api, int16_t version)
{
    return rn_rpc_is_flexible(api, version) ? 2 : 1;
}

int rn_rpc_response_header_version(const rn_rpc_api_t *api, int16_t version)
{
    /* ApiVersions answers in header v0 so clients can parse it before knowing versions. */
    if (api->key == RN_API_API_VERSIONS)
        return 0;
    return rn_rpc_is_flexible(api, version) ? 1 : 0;
}

static void rn_rpc_served_init(void)
{
    if (rn_rpc_served.ready)
        return;
    for (int k = 0; k < RN_RPC_MAX_KEY; k++)
        rn_rpc_served.min[k] = rn_rpc_served.max[k] = -1;
    for (size_t i = 0; i < rn_rpc_napis; i++) {
        const rn_rpc_api_t *api = &rn_rpc_apis[i];
        if (api->key >= 0 && api->key < RN_RPC_MAX_KEY) {
            rn_rpc_served.min[api->key] = api->serve_min;
            rn_rpc_served.max[api->key] = api->serve_max;
        }
    }
    rn_rpc_served.ready = true;
}

int rn_rpc_serve(int16_t api_key, int16_t min_version, int16_t max_version)
{
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL || api_key >= RN_RPC_MAX_KEY)
        return RN_EINVAL;
    bool off = min_version == -1 && max_version == -1;
    if (!off && (min_version < api->min_version || max_version > api->max_version ||
                 min_version > max_version))
        return RN_EINVAL;
    rn_rpc_served_init();
    rn_rpc_served.min[api_key] = min_version;
    rn_rpc_served.max[api_key] = max_version;
    return 0;
}

bool rn_rpc_served_range(int16_t api_key, int16_t *min_version, int16_t *max_version)
{
    rn_rpc_served_init();
    int16_t lo = -1, hi = -1;
    if (api_key >= 0 && api_key < RN_RPC_MAX_KEY) {
        lo = rn_rpc_served.min[api_key];
        hi = rn_rpc_served.max[api_key];
    }
    if (min_version)
        *min_version = lo;
    if (max_version)
        *max_version = hi;
    return lo >= 0;
}

int rn_rpc_fill_api_versions(rn_api_versions_response_t *resp, rn_arena_t *arena)
{
    int32_t n = 0;
    for (size_t i = 0; i < rn_rpc_napis; i++)
        n += rn_rpc_served_range(rn_rpc_apis[i].key, NULL, NULL);
    rn_api_versions_response_key_t *keys =
        rn_api_versions_response_key_array_alloc(arena, &resp->api_keys, n);
    if (keys == NULL && n > 0)
        return RN_ENOMEM;
    int32_t j = 0;
    for (size_t i = 0; i < rn_rpc_napis; i++) {
        int16_t lo, hi;
        if (!rn_rpc_served_range(rn_rpc_apis[i].key, &lo, &hi))
            continue;
        keys[j].api_key = rn_rpc_apis[i].key;
        keys[j].min_version = lo;
        keys[j].max_version = hi;
        j++;
    }
    return 0;
}

int rn_rpc_read_request_header(rn_proto_reader_t *r, int header_version,
                               rn_rpc_request_header_t *hdr)
{
    hdr->api_key = rn_proto_read_int16(r);
    hdr->api_version = rn_proto_read_int16(r);
    hdr->correlation_id = rn_proto_read_int32(r);
    hdr->client_id = header_version >= 1 ? rn_proto_read_string(r, false, true) : RN_STR_NULL;
    if (header_version >= 2)
        rn_proto_skip_tags(r);
    return r->rd.err;
}

void rn_rpc_write_request_header(rn_proto_writer_t *w, int header_version,
                                 const rn_rpc_request_header_t *hdr)
{
    rn_proto_write_int16(w, hdr->api_key);
    rn_proto_write_int16(w, hdr->api_version);
    rn_proto_write_int32(w, hdr->correlation_id);
    if (header_version >= 1)
        rn_proto_write_string(w, false, true, hdr->client_id);
    if (header_version >= 2)
        rn_proto_write_uvarint(w, 0); /* no tagged fields */
}

int32_t rn_rpc_read_response_header(rn_proto_reader_t *r, int header_version)
{
    int32_t correlation_id = rn_proto_read_int32(r);
    if (header_version >= 1)
        rn_proto_skip_tags(r);
    return correlation_id;
}

void rn_rpc_write_response_header(rn_proto_writer_t *w, int header_version, int32_t correlation_id)
{
    rn_proto_write_int32(w, correlation_id);
    if (header_version >= 1)
        rn_proto_write_uvarint(w, 0);
}

const char *rn_rpc_status_name(int status)
{
    switch (status) {
    case RN_RPC_OK: return "ok";
    case RN_RPC_BAD_HEADER: return "malformed request header";
    case RN_RPC_UNKNOWN_API: return "unknown api key";
    case RN_RPC_UNSUPPORTED_VERSION: return "unsupported api version";
    case RN_RPC_BAD_BODY: return "malformed request body";
    case RN_RPC_NOMEM: return "out of request memory";
    default: return "unknown status";
    }
}

static int rn_rpc_fail(rn_rpc_request_t *req, const rn_proto_reader_t *r, const uint8_t *frame,
                       int status)
{
    req->error = r->rd.err;
    req->error_offset = (size_t)(r->rd.p - frame);
    req->body = NULL;
    return status;
}

int rn_rpc_decode_request(const uint8_t *frame, size_t len, rn_arena_t *arena, unsigned flags,
                          rn_rpc_request_t *req)
{
    memset(req, 0, sizeof(*req));
    req->client_id = RN_STR_NULL;
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, frame, len, arena);
    req->api_key = rn_proto_read_int16(&r);
    req->api_version = rn_proto_read_int16(&r);
    req->correlation_id = rn_proto_read_int32(&r);
    if (r.rd.err)
        return rn_rpc_fail(req, &r, frame, RN_RPC_BAD_HEADER);
    req->api = rn_rpc_api(req->api_key);
    if (req->api == NULL)
        return rn_rpc_fail(req, &r, frame, RN_RPC_UNKNOWN_API);
    /* Flexibility is a threshold, so even versions we do not know get the right header. */
    req->header_version = rn_rpc_request_header_version(req->api, req->api_version);
    req->client_id = rn_proto_read_string(&r, false, true);
    if (req->header_version >= 2)
        rn_proto_skip_tags(&r);
    if (r.rd.err)
        return rn_rpc_fail(req, &r, frame, RN_RPC_BAD_HEADER);
    int16_t lo = req->api->min_version, hi = req->api->max_version;
    if (!(flags & RN_RPC_ANY_VERSION))
        rn_rpc_served_range(req->api_key, &lo, &hi);
    if (lo < 0 || req->api_version < lo || req->api_version > hi)
        return rn_rpc_fail(req, &r, frame, RN_RPC_UNSUPPORTED_VERSION);
    void *body = rn_arena_alloc(arena, req->api->request_size);
    if (body == NULL) {
        rn_proto_fail(&r, RN_ENOMEM);
        return rn_rpc_fail(req, &r, frame, RN_RPC_NOMEM);
    }
    req->api->request_decode(&r, req->api_version, body);
    /* Kafka ignores bytes after a body (librdkafka 2.x sends three after its all-topics
     * Metadata v9+ request); callers that serve clients pass RN_RPC_ALLOW_TRAILING. */
    req->trailing_bytes = r.rd.err == 0 ? (size_t)(r.rd.end - r.rd.p) : 0;
    if (req->trailing_bytes > 0 && !(flags & RN_RPC_ALLOW_TRAILING))
        rn_proto_fail(&r, RN_ECORRUPT); /* trailing bytes: we and the client disagree */
    if (r.rd.err)
        return rn_rpc_fail(req, &r, frame, r.rd.err == RN_ENOMEM ? RN_RPC_NOMEM : RN_RPC_BAD_BODY);
    req->body = body;
    return RN_RPC_OK;
}

/* Start a frame: reserve the size, remember where the payload starts. */
static size_t rn_rpc_frame_begin(rn_proto_writer_t *w, size_t *start)
{
    size_t pos = rn_proto_writer_reserve(w, 4);
    *start = rn_proto_writer_total(w);
    return pos;
}

static int rn_rpc_frame_end(rn_proto_writer_t *w, size_t pos, size_t start)
{
    size_t size = rn_proto_writer_total(w) - start;
    if (size > INT32_MAX)
        rn_proto_writer_fail(w, RN_ETOOBIG);
    rn_proto_writer_patch_int32(w, pos, (int32_t)size);
    return w->err;
}

int rn_rpc_encode_response(rn_proto_writer_t *w, int16_t api_key, int16_t api_version,
                           int32_t correlation_id, const void *body)
{
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL) {
        rn_proto_writer_fail(w, RN_EUNSUPPORTED);
        return w->err;
    }
    size_t start, pos = rn_rpc_frame_begin(w, &start);
    rn_rpc_write_response_header(w, rn_rpc_response_header_version(api, api_version),
                                 correlation_id);
    api->response_encode(w, api_version, body);
    return rn_rpc_frame_end(w, pos, start);
}

int rn_rpc_encode_request(rn_proto_writer_t *w, int16_t api_key, int16_t api_version,
                          int32_t correlation_id, rn_str_t client_id, const void *body)
{
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL) {
        rn_proto_writer_fail(w, RN_EUNSUPPORTED);
        return w->err;
    }
    size_t start, pos = rn_rpc_frame_begin(w, &start);
    rn_rpc_request_header_t hdr = {api_key, api_version, correlation_id, client_id};
    rn_rpc_write_request_header(w, rn_rpc_request_header_version(api, api_version), &hdr);
    api->request_encode(w, api_version, body);
    return rn_rpc_frame_end(w, pos, start);
}

int rn_rpc_decode_response(const uint8_t *frame, size_t len, rn_arena_t *arena, int16_t api_key,
                           int16_t api_version, int32_t *correlation_id, void **body)
{
    *body = NULL;
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL)
        return RN_EUNSUPPORTED;
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, frame, len, arena);
    *correlation_id =
        rn_rpc_read_response_header(&r, rn_rpc_response_header_version(api, api_version));
    if (r.rd.err)
        return r.rd.err;
    void *msg = rn_arena_alloc(arena, api->response_size);
    if (msg == NULL)
        return RN_ENOMEM;
    rn_proto_reader_t body_start = r;
    api->response_decode(&r, api_version, msg);
    if (r.rd.err == 0 && r.rd.p != r.rd.end)
        rn_proto_fail(&r, RN_ECORRUPT);
    if (r.rd.err && api_key == RN_API_API_VERSIONS && api_version > 0) {
        /* A broker that does not serve our ApiVersions version answers in the v0 layout
         * (UNSUPPORTED_VERSION, and Kafka 4 lists only its ApiVersions range there), as
         * Kafka's clients expect. */
        r = body_start;
        api->response_decode(&r, 0, msg);
        if (r.rd.err == 0 && r.rd.p != r.rd.end)
            rn_proto_fail(&r, RN_ECORRUPT);
    }
    if (r.rd.err)
        return r.rd.err;
    *body = msg;
    return 0;
}
