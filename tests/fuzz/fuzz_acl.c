/* Fuzz target: the ACL metadata records (AccessControlEntryRecord 18,
 * RemoveAccessControlEntryRecord 19) and the ACL set they build in the metadata image.
 *
 * Input: framed metadata records, each preceded by an unsigned varint length (the snapshot
 * layout). Each is decoded, and an ACL record re-encoded must decode to the same fields; each
 * is applied to an image. Then every ACL the image holds must be one CreateAcls could have
 * stored, the image written as a snapshot and loaded into another must hold the same ACLs, and
 * decisions and filters over names taken from the input must run clean. */
#include "acl/rn_acl.h"
#include "controller/rn_mimage.h"
#include "rn_alloc.h"
#include "rn_arena.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void roundtrip(const uint8_t *p, size_t n)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_mrec_t rec;
    if (rn_mrec_decode(p, n, &arena, &rec) == 0 &&
        (rec.type == RN_MREC_ACCESS_CONTROL_ENTRY_RECORD ||
         rec.type == RN_MREC_REMOVE_ACCESS_CONTROL_ENTRY_RECORD)) {
        uint8_t *out;
        size_t len;
        check(rn_mrec_encode_alloc(&rec, &out, &len) == 0);
        rn_mrec_t again;
        check(rn_mrec_decode(out, len, &arena, &again) == 0 && again.type == rec.type);
        if (rec.type == RN_MREC_ACCESS_CONTROL_ENTRY_RECORD) {
            const rn_access_control_entry_record_t *a = &rec.body.access_control_entry,
                                                   *b = &again.body.access_control_entry;
            check(rn_uuid_equal(&a->id, &b->id) && a->resource_type == b->resource_type &&
                  a->pattern_type == b->pattern_type && a->operation == b->operation &&
                  a->permission_type == b->permission_type &&
                  rn_str_eq(a->resource_name, b->resource_name) &&
                  rn_str_eq(a->principal, b->principal) && rn_str_eq(a->host, b->host));
        } else {
            check(rn_uuid_equal(&rec.body.remove_access_control_entry.id,
                                &again.body.remove_access_control_entry.id));
        }
        rn_free(out);
    }
    rn_arena_free(&arena);
}

static bool same_acls(const rn_acls_t *x, const rn_acls_t *y)
{
    if (rn_acls_count(x) != rn_acls_count(y))
        return false;
    for (size_t i = 0; i < rn_acls_count(x); i++) {
        const rn_acl_t *a = rn_acls_at(x, i);
        const rn_acl_t *b =
            rn_acls_find(y, a->resource_type, rn_str(a->resource_name), a->pattern_type,
                         rn_str(a->principal), rn_str(a->host), a->operation, a->permission);
        if (b == NULL)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rn_mimage_t *img = rn_mimage_new();
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, data, size, NULL);
    int64_t offset = 0;
    const char *name = "t";
    size_t name_len = 1;
    while (rn_proto_remaining(&r) > 0) {
        uint32_t n = rn_proto_read_uvarint(&r);
        const uint8_t *p = rn_proto_take(&r, n);
        if (r.rd.err)
            break;
        roundtrip(p, n);
        (void)rn_mimage_apply(img, offset++, p, n);
        if (n > 4) { /* a name from the input for the decisions below */
            name = (const char *)p + 3;
            name_len = n - 3 < 64 ? n - 3 : 64;
        }
    }
    const rn_acls_t *acls = rn_mimage_acls(img);
    for (size_t i = 0; i < rn_acls_count(acls); i++) {
        const rn_acl_t *a = rn_acls_at(acls, i);
        check(rn_acl_check_binding(a->resource_type, rn_str(a->resource_name), a->pattern_type,
                                   rn_str(a->principal), rn_str(a->host), a->operation,
                                   a->permission, NULL) == RN_KERR_NONE);
        rn_acl_filter_t f = {RN_ACL_RES_ANY,  RN_ACL_PAT_MATCH,         RN_ACL_OP_ANY,
                             RN_ACL_PERM_ANY, rn_str(a->resource_name), RN_STR_NULL,
                             RN_STR_NULL};
        check(rn_acl_filter_matches(&f, a)); /* a binding applies to its own name */
        int d = rn_acls_authorize(acls, a->principal, "10.0.0.1", a->operation, a->resource_type,
                                  a->resource_name, strlen(a->resource_name));
        check(d == RN_ACL_PERM_ALLOW || d == RN_ACL_PERM_DENY);
    }
    for (int8_t op = RN_ACL_OP_ALL; op <= RN_ACL_OP_IDEMPOTENT_WRITE; op++)
        for (int8_t type = RN_ACL_RES_TOPIC; type <= RN_ACL_RES_TRANSACTIONAL_ID; type++) {
            (void)rn_acls_authorize(acls, "User:ANONYMOUS", "127.0.0.1", op, type, name, name_len);
            (void)rn_acls_authorize_any(acls, "User:ANONYMOUS", "127.0.0.1", op, type);
        }
    if (!rn_mimage_in_transaction(img)) {
        uint8_t *snap;
        size_t len;
        check(rn_mimage_snapshot_write(img, &snap, &len) == 0);
        rn_mimage_t *copy = rn_mimage_new();
        check(rn_mimage_snapshot_load(copy, offset, snap, len) == 0);
        check(same_acls(acls, rn_mimage_acls(copy)) && same_acls(rn_mimage_acls(copy), acls));
        rn_mimage_free(copy);
        rn_free(snap);
    }
    rn_mimage_free(img);
    return 0;
}
