/* Fuzz target for the data-directory file parsers. The first byte picks the parser, the
 * rest is the file:
 *   0 offset checkpoint   1 meta.properties   2 leader-epoch-checkpoint
 *   3 partition.metadata  4 producer snapshot  5 uuid base64/text forms
 * Beyond "no crash", every accepted input must survive format -> parse unchanged, the epoch
 * cache must keep its invariant through its operations, and a snapshot must re-encode to
 * the very bytes it was read from. A violation aborts so the fuzzer reports it. */
#include "rn_alloc.h"
#include "rn_checkpoint.h"
#include "rn_datadir.h"
#include "rn_epochs.h"
#include "rn_partmeta.h"
#include "rn_pidsnap.h"
#include "rn_uuid.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static char err[512];

static void fuzz_checkpoint(const uint8_t *buf, size_t len)
{
    rn_checkpoint_t cp, again;
    if (rn_checkpoint_parse("f", buf, len, &cp, err, sizeof(err)) != 0) {
        CHECK(cp.count == 0 && cp.entries == NULL && err[0] != '\0');
        return;
    }
    char *out;
    size_t out_len;
    CHECK(rn_checkpoint_format(cp.entries, cp.count, &out, &out_len, err, sizeof(err)) == 0);
    CHECK(rn_checkpoint_parse("f", (const uint8_t *)out, out_len, &again, err, sizeof(err)) == 0);
    CHECK(again.count == cp.count);
    for (size_t i = 0; i < cp.count; i++)
        CHECK(strcmp(again.entries[i].topic, cp.entries[i].topic) == 0 &&
              again.entries[i].partition == cp.entries[i].partition &&
              again.entries[i].offset == cp.entries[i].offset);
    if (cp.count > 0)
        CHECK(rn_checkpoint_find(&cp, cp.entries[0].topic, cp.entries[0].partition) != NULL);
    rn_free(out);
    rn_checkpoint_free(&again);
    rn_checkpoint_free(&cp);
}

static void fuzz_meta(const uint8_t *buf, size_t len)
{
    rn_datadir_meta_t meta, again;
    if (rn_datadir_meta_parse("f", buf, len, &meta, err, sizeof(err)) != 0)
        return;
    CHECK(meta.version == 1 && meta.node_id >= 0);
    char *out;
    size_t out_len;
    rn_datadir_meta_format(&meta, &out, &out_len);
    CHECK(rn_datadir_meta_parse("f", (const uint8_t *)out, out_len, &again, err, sizeof(err)) == 0);
    CHECK(meta.version == again.version && meta.node_id == again.node_id &&
          meta.has_directory_id == again.has_directory_id &&
          rn_uuid_equal(&meta.cluster_id, &again.cluster_id) &&
          rn_uuid_equal(&meta.directory_id, &again.directory_id));
    rn_free(out);
}

static void check_epochs_invariant(const rn_epochs_t *ec)
{
    for (size_t i = 0; i < ec->count; i++) {
        CHECK(ec->entries[i].epoch >= 0 && ec->entries[i].start_offset >= 0);
        if (i > 0)
            CHECK(ec->entries[i].epoch > ec->entries[i - 1].epoch &&
                  ec->entries[i].start_offset > ec->entries[i - 1].start_offset);
    }
}

static void fuzz_epochs(const uint8_t *buf, size_t len)
{
    rn_epochs_t ec = {0}, again = {0};
    if (rn_epochs_parse(&ec, "f", buf, len, err, sizeof(err)) != 0) {
        CHECK(ec.count == 0);
        rn_epochs_destroy(&ec);
        return;
    }
    check_epochs_invariant(&ec);
    char *out;
    size_t out_len;
    rn_epochs_format(&ec, &out, &out_len);
    CHECK(rn_epochs_parse(&again, "f", (const uint8_t *)out, out_len, err, sizeof(err)) == 0);
    CHECK(again.count == ec.count);
    for (size_t i = 0; i < ec.count; i++)
        CHECK(again.entries[i].epoch == ec.entries[i].epoch &&
              again.entries[i].start_offset == ec.entries[i].start_offset);
    rn_free(out);
    /* Exercise the queries and mutations with values taken from the cache itself. */
    for (size_t i = 0; i < ec.count; i++) {
        int32_t epoch;
        int64_t end;
        rn_epochs_end_offset_for(&ec, ec.entries[i].epoch, INT64_MAX, &epoch, &end);
        CHECK(epoch == ec.entries[i].epoch);
        CHECK(i + 1 == ec.count ? end == INT64_MAX : end == ec.entries[i + 1].start_offset);
        CHECK(rn_epochs_epoch_for_offset(&ec, ec.entries[i].start_offset) == ec.entries[i].epoch);
    }
    if (ec.count > 0 && ec.entries[ec.count / 2].start_offset < INT64_MAX) {
        int64_t mid = ec.entries[ec.count / 2].start_offset;
        rn_epochs_truncate_from_start(&again, mid + 1);
        check_epochs_invariant(&again);
        CHECK(again.count == 0 || again.entries[0].start_offset == mid + 1);
        rn_epochs_truncate_from_end(&ec, mid);
        check_epochs_invariant(&ec);
        CHECK((ec.count == 0 || ec.entries[ec.count - 1].start_offset < mid));
        if (rn_epochs_latest(&ec) < INT32_MAX) {
            CHECK(rn_epochs_assign(&ec, rn_epochs_latest(&ec) + 1, mid) == 1);
            check_epochs_invariant(&ec);
        }
    }
    rn_epochs_destroy(&again);
    rn_epochs_destroy(&ec);
}

static void fuzz_partmeta(const uint8_t *buf, size_t len)
{
    rn_uuid_t id, again;
    if (rn_partmeta_parse("f", buf, len, &id, err, sizeof(err)) != 0)
        return;
    char out[RN_PARTMETA_SIZE + 1];
    size_t out_len = rn_partmeta_format(&id, out);
    CHECK(rn_partmeta_parse("f", (const uint8_t *)out, out_len, &again, err, sizeof(err)) == 0);
    CHECK(rn_uuid_equal(&id, &again));
}

static void fuzz_pidsnap(const uint8_t *buf, size_t len)
{
    rn_pidsnap_entry_t *entries;
    size_t count;
    if (rn_pidsnap_parse("f", buf, len, &entries, &count, err, sizeof(err)) != 0) {
        CHECK(entries == NULL && count == 0);
        return;
    }
    uint8_t *out;
    size_t out_len;
    rn_pidsnap_encode(entries, count, &out, &out_len);
    CHECK(out_len == len && memcmp(out, buf, len) == 0);
    rn_free(out);
    rn_free(entries);
}

static void fuzz_uuid(const uint8_t *buf, size_t len)
{
    rn_uuid_t id, again;
    char text[RN_UUID_TEXT_LEN + 1], b64[RN_UUID_BASE64_LEN + 1];
    if (rn_uuid_from_base64((const char *)buf, len, &id) == 0) {
        rn_uuid_to_base64(&id, b64);
        CHECK(memcmp(b64, buf, len) == 0);
    }
    if (rn_uuid_from_text((const char *)buf, len, &id) == 0) {
        rn_uuid_to_text(&id, text);
        CHECK(rn_uuid_from_text(text, RN_UUID_TEXT_LEN, &again) == 0 && rn_uuid_equal(&id, &again));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    err[0] = '\0';
    switch (data[0] % 6) {
    case 0: fuzz_checkpoint(buf, len); break;
    case 1: fuzz_meta(buf, len); break;
    case 2: fuzz_epochs(buf, len); break;
    case 3: fuzz_partmeta(buf, len); break;
    case 4: fuzz_pidsnap(buf, len); break;
    default: fuzz_uuid(buf, len); break;
    }
    return 0;
}
