/* Differential test against an independent implementation: request and response bodies
 * encoded by franz-go's kmsg (tests/unit/client/kmsg/, vectors in kmsg_vectors.bin) must
 * decode with our codec, consume every byte, and re-encode to identical bytes. */
#include "rn_endian.h"
#include "rn_rpc.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    if (data && fread(data, 1, (size_t)n, fp) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return data;
}

static uint8_t out[1 << 16];

/* Returns NULL when the vector survives decode + re-encode unchanged. */
static const char *check(int16_t key, int16_t version, int dir, const uint8_t *body, size_t len,
                         rn_arena_t *arena, rn_proto_writer_t *w)
{
    const rn_rpc_api_t *api = rn_rpc_api(key);
    if (api == NULL)
        return "api not defined";
    void *msg = rn_arena_alloc(arena, dir ? api->response_size : api->request_size);
    /* Decode from an exact-size heap copy so ASan flags any overread. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, copy, len, arena);
    int rc = dir ? api->response_decode(&r, version, msg) : api->request_decode(&r, version, msg);
    const uint8_t *end = r.rd.p;
    if (rc != 0) {
        free(copy);
        return "our decoder rejected it";
    }
    rn_proto_writer_reset(w);
    rc = dir ? api->response_encode(w, version, msg) : api->request_encode(w, version, msg);
    long n = rc ? rc : rn_proto_writer_copy(w, out, sizeof(out));
    const char *why = NULL;
    if (end != copy + len)
        why = "bytes left after decoding";
    else if (n != (long)len || memcmp(out, body, len) != 0) {
        why = "re-encoding differs";
        static int shown;
        if (shown++ < 5) {
            printf("#   kmsg:");
            for (size_t i = 0; i < len; i++)
                printf(" %02x", body[i]);
            printf("\n#   ours:");
            for (long i = 0; i < n; i++)
                printf(" %02x", out[i]);
            printf("\n");
        }
    }
    free(copy);
    return why;
}

int main(void)
{
    const char *src = getenv("RN_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/unit/client/kmsg_vectors.bin", src ? src : ".");
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!ok(data != NULL, "read %s", path))
        return done_testing();
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    size_t pos = 0;
    int vectors = 0, group_ok = 1;
    int16_t gkey = -1, gver = -1;
    int gdir = -1;
    while (pos + 9 <= len) {
        int16_t key = (int16_t)rn_load_be16(data + pos);
        int16_t version = (int16_t)rn_load_be16(data + pos + 2);
        int dir = data[pos + 4];
        size_t blen = rn_load_be32(data + pos + 5);
        pos += 9;
        if (blen > len - pos)
            break;
        if (key != gkey || version != gver || dir != gdir) {
            if (gkey >= 0)
                ok(group_ok, "kmsg %s %s v%d decodes and re-encodes byte for byte",
                   rn_rpc_api(gkey) ? rn_rpc_api(gkey)->name : "?", gdir ? "response" : "request",
                   gver);
            gkey = key;
            gver = version;
            gdir = dir;
            group_ok = 1;
        }
        rn_arena_reset(&arena);
        const char *why = check(key, version, dir, data + pos, blen, &arena, &w);
        if (why) {
            group_ok = 0;
            diag("key %d v%d %s, vector at byte %zu (%zu bytes): %s", key, version,
                 dir ? "response" : "request", pos, blen, why);
        }
        pos += blen;
        vectors++;
    }
    if (gkey >= 0)
        ok(group_ok, "kmsg %s %s v%d decodes and re-encodes byte for byte",
           rn_rpc_api(gkey) ? rn_rpc_api(gkey)->name : "?", gdir ? "response" : "request", gver);
    is(pos, len, "vector file parsed to the end");
    ok(vectors > 1000, "%d vectors checked", vectors);
    free(data);
    rn_proto_writer_free(&w);
    rn_arena_free(&arena);
    return done_testing();
}
