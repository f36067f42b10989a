/* Round trips of every message at every defined version, both directions: random valid
 * messages are encoded, decoded and encoded again, and the two encodings must be identical
 * and every byte consumed; every strict prefix of an encoding must fail to decode (bounds
 * checks). The same again through whole request/response frames. */
#include "rn_endian.h"
#include "rn_rpc.h"
#include "rn_str.h"
#include "tap.h"

#include <stdlib.h>

#define SEEDS 25

static uint8_t buf1[1 << 16], buf2[1 << 16];

static long encode_body(const rn_rpc_api_t *api, bool response, int16_t v, const void *msg,
                        rn_proto_writer_t *w, uint8_t *out)
{
    rn_proto_writer_reset(w);
    int rc = response ? api->response_encode(w, v, msg) : api->request_encode(w, v, msg);
    if (rc != 0)
        return rc;
    return rn_proto_writer_copy(w, out, sizeof(buf1));
}

static int decode_body(const rn_rpc_api_t *api, bool response, int16_t v, const uint8_t *data,
                       size_t len, rn_arena_t *arena, void *msg, int *consumed_all)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, data, len, arena);
    int rc = response ? api->response_decode(&r, v, msg) : api->request_decode(&r, v, msg);
    *consumed_all = r.rd.p == r.rd.end;
    return rc;
}

/* Returns a failure description or NULL. */
static const char *round_trip(const rn_rpc_api_t *api, bool response, int16_t v, uint64_t seed,
                              rn_arena_t *arena, rn_proto_writer_t *w)
{
    size_t size = response ? api->response_size : api->request_size;
    void *msg = rn_arena_alloc(arena, size), *back = rn_arena_alloc(arena, size);
    if (rn_msgfill_random(api->key, response, v, msg, arena, &seed) != 0)
        return "fill failed";
    long n1 = encode_body(api, response, v, msg, w, buf1);
    if (n1 < 0)
        return "encode failed";
    int all;
    if (decode_body(api, response, v, buf1, (size_t)n1, arena, back, &all) != 0)
        return "decode failed";
    if (!all)
        return "decode left bytes";
    long n2 = encode_body(api, response, v, back, w, buf2);
    if (n2 != n1 || memcmp(buf1, buf2, (size_t)n1) != 0)
        return "re-encoding differs";
    /* Every strict prefix must fail: the decoder takes the same path until the bytes end.
     * Prefixes are copied to the heap so ASan sees any read past them. */
    for (long cut = 0; cut < n1; cut += 1 + n1 / 64) {
        uint8_t *prefix = malloc((size_t)cut + 1);
        memcpy(prefix, buf1, (size_t)cut);
        int rc = decode_body(api, response, v, prefix, (size_t)cut, arena, back, &all);
        free(prefix);
        if (rc == 0)
            return "a truncated encoding decoded";
    }
    return NULL;
}

static const char *frame_trip(const rn_rpc_api_t *api, bool response, int16_t v, uint64_t seed,
                              rn_arena_t *arena, rn_proto_writer_t *w)
{
    size_t size = response ? api->response_size : api->request_size;
    void *msg = rn_arena_alloc(arena, size);
    if (rn_msgfill_random(api->key, response, v, msg, arena, &seed) != 0)
        return "fill failed";
    rn_proto_writer_reset(w);
    int32_t corr = (int32_t)(seed & 0x7fffffff);
    int rc = response ? rn_rpc_encode_response(w, api->key, v, corr, msg)
                      : rn_rpc_encode_request(w, api->key, v, corr, rn_str("rn-test"), msg);
    long n = rc ? rc : rn_proto_writer_copy(w, buf1, sizeof(buf1));
    if (n < 4 || rn_load_be32(buf1) != (uint32_t)(n - 4))
        return "frame size wrong";
    void *body;
    if (response) {
        int32_t got_corr;
        if (rn_rpc_decode_response(buf1 + 4, (size_t)n - 4, arena, api->key, v, &got_corr, &body))
            return "response frame did not decode";
        if (got_corr != corr)
            return "correlation id lost";
        rc = api->response_encode((rn_proto_writer_reset(w), w), v, body);
    } else {
        rn_rpc_request_t req;
        if (rn_rpc_decode_request(buf1 + 4, (size_t)n - 4, arena, RN_RPC_ANY_VERSION, &req))
            return "request frame did not decode";
        if (req.api_key != api->key || req.api_version != v || req.correlation_id != corr ||
            !rn_str_eq(req.client_id, rn_str("rn-test")) ||
            req.header_version != (rn_rpc_is_flexible(api, v) ? 2 : 1))
            return "request header fields wrong";
        body = req.body;
        rc = api->request_encode((rn_proto_writer_reset(w), w), v, body);
    }
    long nb = rc ? rc : rn_proto_writer_copy(w, buf2, sizeof(buf2));
    if (nb < 0 || nb > n || memcmp(buf2, buf1 + n - nb, (size_t)nb) != 0)
        return "body from the frame re-encodes differently";
    return NULL;
}

int main(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    int versions = 0;
    for (size_t i = 0; i < rn_rpc_napis; i++) {
        const rn_rpc_api_t *api = &rn_rpc_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            for (int dir = 0; dir < 2; dir++) {
                const char *why = NULL;
                uint64_t bad_seed = 0;
                for (uint64_t s = 1; s <= SEEDS && why == NULL; s++) {
                    uint64_t seed =
                        s * 0x9e3779b97f4a7c15ULL + (uint64_t)api->key * 131 + (uint64_t)v;
                    rn_arena_reset(&arena);
                    why = round_trip(api, dir, v, seed, &arena, &w);
                    if (why == NULL) {
                        rn_arena_reset(&arena);
                        why = frame_trip(api, dir, v, seed, &arena, &w);
                    }
                    bad_seed = seed;
                }
                ok(why == NULL, "%s %s v%d: %d random messages round-trip", api->name,
                   dir ? "response" : "request", v, SEEDS);
                if (why)
                    diag("%s (seed %llu)", why, (unsigned long long)bad_seed);
                versions++;
            }
        }
    }
    diag("%d message versions checked", versions);
    rn_proto_writer_free(&w);
    rn_arena_free(&arena);
    return done_testing();
}
