/* rn_mrec: the metadata record frame and lists of framed records (rn_mrec.h). */
#include "controller/rn_mrec.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_vec.h"

#include <string.h>

/* The versions runnel writes: the lowest that carry what it uses, so that every Kafka since
 * KRaft's 3.3 reads them (PartitionRecord v1 would require Directories). */
static const struct {
    int16_t type, version;
} write_versions[] = {
    {RN_MREC_REGISTER_BROKER_RECORD, 1},
    {RN_MREC_UNREGISTER_BROKER_RECORD, 0},
    {RN_MREC_TOPIC_RECORD, 0},
    {RN_MREC_PARTITION_RECORD, 0},
    {RN_MREC_CONFIG_RECORD, 0},
    {RN_MREC_PARTITION_CHANGE_RECORD, 0},
    {RN_MREC_FENCE_BROKER_RECORD, 0},
    {RN_MREC_UNFENCE_BROKER_RECORD, 0},
    {RN_MREC_REMOVE_TOPIC_RECORD, 0},
    {RN_MREC_FEATURE_LEVEL_RECORD, 0},
    {RN_MREC_PRODUCER_IDS_RECORD, 0},
    {RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD, 1},
    {RN_MREC_NO_OP_RECORD, 0},
    {RN_MREC_BEGIN_TRANSACTION_RECORD, 0},
    {RN_MREC_END_TRANSACTION_RECORD, 0},
    {RN_MREC_ABORT_TRANSACTION_RECORD, 0},
    {RN_MREC_ACCESS_CONTROL_ENTRY_RECORD, 0},
    {RN_MREC_REMOVE_ACCESS_CONTROL_ENTRY_RECORD, 0},
    {RN_MREC_USER_SCRAM_CREDENTIAL_RECORD, 0},
    {RN_MREC_REMOVE_USER_SCRAM_CREDENTIAL_RECORD, 0},
};

int16_t rn_mrec_write_version(int16_t type)
{
    for (size_t i = 0; i < sizeof(write_versions) / sizeof(write_versions[0]); i++)
        if (write_versions[i].type == type)
            return write_versions[i].version;
    return -1;
}

int rn_mrec_init(rn_mrec_t *rec, int16_t type)
{
    const rn_mrec_type_t *t = rn_mrec_type(type);
    int16_t version = rn_mrec_write_version(type);
    if (t == NULL || version < 0)
        return RN_EINVAL;
    memset(rec, 0, sizeof(*rec));
    rec->type = type;
    rec->version = version;
    t->init(&rec->body);
    return 0;
}

const char *rn_mrec_name(int type)
{
    const rn_mrec_type_t *t = rn_mrec_type(type);
    return t != NULL ? t->name : "UnknownRecord";
}

int rn_mrec_decode(const uint8_t *data, size_t len, rn_arena_t *arena, rn_mrec_t *rec)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, data, len, arena);
    uint32_t frame = rn_proto_read_uvarint(&r);
    uint32_t type = rn_proto_read_uvarint(&r);
    uint32_t version = rn_proto_read_uvarint(&r);
    if (r.rd.err)
        return RN_ECORRUPT;
    if (frame != RN_MREC_FRAME_VERSION)
        return RN_EUNSUPPORTED;
    const rn_mrec_type_t *t = type <= INT16_MAX ? rn_mrec_type((int)type) : NULL;
    if (t == NULL || version < (uint32_t)t->min_version || version > (uint32_t)t->max_version)
        return RN_EUNSUPPORTED;
    rec->type = (int16_t)type;
    rec->version = (int16_t)version;
    int rc = t->decode(&r, rec->version, &rec->body);
    if (rc == RN_ENOMEM)
        return rc;
    if (rc != 0 || rn_proto_remaining(&r) != 0)
        return RN_ECORRUPT;
    return 0;
}

int rn_mrec_encode(rn_proto_writer_t *w, const rn_mrec_t *rec)
{
    const rn_mrec_type_t *t = rn_mrec_type(rec->type);
    if (t == NULL) {
        rn_proto_writer_fail(w, RN_EINVAL);
        return RN_EINVAL;
    }
    rn_proto_write_uvarint(w, RN_MREC_FRAME_VERSION);
    rn_proto_write_uvarint(w, (uint32_t)rec->type);
    rn_proto_write_uvarint(w, (uint32_t)rec->version);
    return t->encode(w, rec->version, &rec->body);
}

int rn_mrec_encode_alloc(const rn_mrec_t *rec, uint8_t **data, size_t *len)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    int rc = rn_mrec_encode(&w, rec);
    uint8_t *buf = NULL;
    size_t total = rn_proto_writer_total(&w);
    if (rc == 0 && (buf = rn_malloc(total ? total : 1)) == NULL)
        rc = RN_ENOMEM;
    if (rc == 0 && rn_proto_writer_copy(&w, buf, total) != (long)total)
        rc = RN_EIO;
    rn_proto_writer_free(&w);
    if (rc != 0) {
        rn_free(buf);
        return rc;
    }
    *data = buf;
    *len = total;
    return 0;
}

void rn_mrecs_init(rn_mrecs_t *list)
{
    memset(list, 0, sizeof(*list));
}

void rn_mrecs_free(rn_mrecs_t *list)
{
    for (int i = 0; i < list->n; i++)
        rn_free(list->data[i]);
    rn_free(list->data);
    rn_free(list->lens);
    memset(list, 0, sizeof(*list));
}

/* Insert an already framed entry at position pos. */
static void mrecs_insert(rn_mrecs_t *list, int pos, uint8_t *data, size_t len)
{
    if (rn_vec_reserve(list->data, list->cap, (size_t)list->n + 1) != 0 ||
        rn_vec_reserve(list->lens, list->lens_cap, (size_t)list->n + 1) != 0) {
        rn_free(data);
        list->err = RN_ENOMEM;
        return;
    }
    memmove(&list->data[pos + 1], &list->data[pos], (size_t)(list->n - pos) * sizeof(uint8_t *));
    memmove(&list->lens[pos + 1], &list->lens[pos], (size_t)(list->n - pos) * sizeof(size_t));
    list->data[pos] = data;
    list->lens[pos] = len;
    list->n++;
}

static void mrecs_add_at(rn_mrecs_t *list, int pos, const rn_mrec_t *rec)
{
    if (list->err)
        return;
    uint8_t *data;
    size_t len;
    int rc = rn_mrec_encode_alloc(rec, &data, &len);
    if (rc != 0) {
        list->err = rc;
        return;
    }
    mrecs_insert(list, pos, data, len);
}

void rn_mrecs_add(rn_mrecs_t *list, const rn_mrec_t *rec)
{
    mrecs_add_at(list, list->n, rec);
}

void rn_mrecs_wrap_transaction(rn_mrecs_t *list, int from, const char *name)
{
    if (list->err || list->n - from < 2)
        return;
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_BEGIN_TRANSACTION_RECORD);
    if (name != NULL)
        rec.body.begin_transaction.name = (rn_str_t){name, (int32_t)strlen(name)};
    mrecs_add_at(list, from, &rec);
    rn_mrec_init(&rec, RN_MREC_END_TRANSACTION_RECORD);
    mrecs_add_at(list, list->n, &rec);
}
