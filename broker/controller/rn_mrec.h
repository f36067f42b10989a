/* rn_mrec: metadata records as they travel in __cluster_metadata (KIP-631): the frame around
 * a record's body and lists of encoded records ready to append.
 *
 * A record's value is: unsigned varint frame version (1), unsigned varint record type (the
 * record's api key), unsigned varint record version, then the body in flexible encoding
 * (every version of every metadata record is flexible). The bodies' codecs are generated
 * from the files in client/defs/metadata/ (design decision 4); this module only frames them. Frame
 * versions other than 1, an unknown type or version, and bytes after the body are refused,
 * as Kafka's serde refuses them.
 *
 * rn_mrec_t is one decoded record: its type, its version and its body in the union member
 * named after the record. Decoded strings and arrays point into the input or into the arena
 * passed to rn_mrec_decode, so a decoded record lives as long as both. */
#ifndef RN_MREC_H
#define RN_MREC_H

#include "rn_arena.h"
#include "rn_messages.h"

#include <stddef.h>
#include <stdint.h>

#define RN_MREC_FRAME_VERSION 1

typedef struct rn_mrec {
    int16_t type;    /* RN_MREC_* */
    int16_t version; /* of the body */
    union {
        rn_register_broker_record_t register_broker;
        rn_unregister_broker_record_t unregister_broker;
        rn_topic_record_t topic;
        rn_partition_record_t partition;
        rn_config_record_t config;
        rn_partition_change_record_t partition_change;
        rn_fence_broker_record_t fence_broker;
        rn_unfence_broker_record_t unfence_broker;
        rn_remove_topic_record_t remove_topic;
        rn_feature_level_record_t feature_level;
        rn_producer_ids_record_t producer_ids;
        rn_broker_registration_change_record_t broker_registration_change;
        rn_no_op_record_t no_op;
        rn_begin_transaction_record_t begin_transaction;
        rn_end_transaction_record_t end_transaction;
        rn_abort_transaction_record_t abort_transaction;
        rn_access_control_entry_record_t access_control_entry;
        rn_remove_access_control_entry_record_t remove_access_control_entry;
        rn_user_scram_credential_record_t user_scram_credential;
        rn_remove_user_scram_credential_record_t remove_user_scram_credential;
    } body;
} rn_mrec_t;

/* Kafka's ConfigRecord resource types. */
enum { RN_MREC_RESOURCE_TOPIC = 2, RN_MREC_RESOURCE_BROKER = 4 };

/* Start a record of type at the version runnel writes, every field at Kafka's default.
 * RN_EINVAL for a type runnel does not know. */
int rn_mrec_init(rn_mrec_t *rec, int16_t type);
/* The version runnel writes records of type in (-1: unknown type). */
int16_t rn_mrec_write_version(int16_t type);

/* Decode one framed record. 0, RN_ECORRUPT (bad frame, truncated or trailing bytes),
 * RN_EUNSUPPORTED (unknown frame version, type or record version) or RN_ENOMEM. */
int rn_mrec_decode(const uint8_t *data, size_t len, rn_arena_t *arena, rn_mrec_t *rec);
/* Append the framed record to w; 0 or w's error. */
int rn_mrec_encode(rn_proto_writer_t *w, const rn_mrec_t *rec);
/* The record framed into a fresh rn_malloc'd buffer; 0 or RN_E*. */
int rn_mrec_encode_alloc(const rn_mrec_t *rec, uint8_t **data, size_t *len);
/* Kafka's name of a record type ("TopicRecord"), "UnknownRecord" otherwise. */
const char *rn_mrec_name(int type);

/* A list of framed records to append as consecutive entries (rn_quorum_append takes
 * data/lens/n as they are). Sticky error: after the first failure rn_mrecs_add does
 * nothing and err says why; check it once before appending. Owns its buffers. */
typedef struct rn_mrecs {
    uint8_t **data;
    size_t *lens;
    int n;
    size_t cap, lens_cap; /* private */
    int err;
} rn_mrecs_t;

void rn_mrecs_init(rn_mrecs_t *list);
void rn_mrecs_free(rn_mrecs_t *list);
/* Frame rec and append it. */
void rn_mrecs_add(rn_mrecs_t *list, const rn_mrec_t *rec);
/* Bracket list[from..n) as one KIP-868 transaction when it holds more than one record
 * (a BeginTransactionRecord named name before, an EndTransactionRecord after). */
void rn_mrecs_wrap_transaction(rn_mrecs_t *list, int from, const char *name);

#endif
