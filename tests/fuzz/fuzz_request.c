/* Fuzz target: the whole request-frame decoder (header and body, every api key and
 * version we define) over arbitrary bytes, then re-encoding of whatever decoded: the
 * re-encoded frame must decode again and re-encode to the same bytes. The same input is
 * also fed to the response decoder, its first four bytes choosing api key and version. */
#include "rn_rpc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rn_arena_t arena;
static rn_proto_writer_t w1, w2;
static bool ready;

/* Encode a decoded request as a frame into w and return the bytes after the size prefix
 * (heap memory the caller frees). */
static uint8_t *reencode(rn_proto_writer_t *w, const rn_rpc_request_t *req, size_t *len)
{
    rn_proto_writer_reset(w);
    if (rn_rpc_encode_request(w, req->api_key, req->api_version, req->correlation_id,
                              req->client_id, req->body) != 0)
        abort(); /* anything that decoded must be encodable */
    size_t total = rn_proto_writer_total(w);
    uint8_t *out = malloc(total);
    if (out == NULL || rn_proto_writer_copy(w, out, total) != (long)total)
        abort();
    *len = total - 4;
    memmove(out, out + 4, total - 4);
    return out;
}

static void check_request(const uint8_t *data, size_t size)
{
    rn_rpc_request_t req;
    if (rn_rpc_decode_request(data, size, &arena, RN_RPC_ANY_VERSION, &req) != RN_RPC_OK)
        return;
    size_t len1, len2;
    uint8_t *enc1 = reencode(&w1, &req, &len1);
    rn_rpc_request_t again;
    if (rn_rpc_decode_request(enc1, len1, &arena, RN_RPC_ANY_VERSION, &again) != RN_RPC_OK)
        abort();
    if (again.api_key != req.api_key || again.api_version != req.api_version ||
        again.correlation_id != req.correlation_id)
        abort();
    uint8_t *enc2 = reencode(&w2, &again, &len2);
    if (len1 != len2 || memcmp(enc1, enc2, len1) != 0)
        abort();
    free(enc1);
    free(enc2);
}

static void check_response(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    int16_t key = (int16_t)(data[0] << 8 | data[1]);
    int16_t version = (int16_t)(data[2] << 8 | data[3]);
    int32_t corr;
    void *body;
    if (rn_rpc_decode_response(data + 4, size - 4, &arena, key, version, &corr, &body) != 0)
        return;
    rn_proto_writer_reset(&w1);
    /* A v0-layout ApiVersions fallback decodes at a higher version only as v0. */
    if (rn_rpc_encode_response(&w1, key, version, corr, body) != 0 && key != RN_API_API_VERSIONS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        rn_arena_init(&arena, 64 << 20);
        rn_proto_writer_init(&w1);
        rn_proto_writer_init(&w2);
        ready = true;
    }
    /* Work on a heap copy of exactly size bytes so ASan catches any overread. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    check_request(copy, size);
    rn_arena_reset(&arena);
    check_response(copy, size);
    rn_arena_reset(&arena);
    free(copy);
    return 0;
}
