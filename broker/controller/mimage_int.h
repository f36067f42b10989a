/* Private parts of rn_mimage shared by mimage.c (apply) and mimage_snap.c (snapshots).
 * Never included from outside broker/controller/. */
#ifndef RN_MIMAGE_INT_H
#define RN_MIMAGE_INT_H

#include "controller/rn_mimage.h"
#include "acl/rn_acl.h"

/* A record of an open transaction, copied until its End or Abort. */
typedef struct rn__mimage_pending {
    uint8_t *data;
    size_t len;
    int64_t offset;
} rn__mimage_pending_t;

struct rn_mimage {
    rn_mimage_broker_t *brokers; /* sorted by id */
    size_t n_brokers, brokers_cap;
    rn_mimage_topic_t **by_name; /* the same topics twice: sorted by name, by id bytes */
    rn_mimage_topic_t **by_id;
    size_t n_topics, topics_cap, by_id_cap;
    rn_mimage_config_t *configs; /* in the order first set */
    size_t n_configs, configs_cap;
    rn_mimage_feature_t *features;
    size_t n_features, features_cap;
    int64_t next_producer_id;
    rn_acls_t *acls;          /* AccessControlEntryRecords by id; never NULL */
    rn_mimage_scram_t *scram; /* SCRAM credentials, sorted by (name, mechanism) */
    size_t n_scram, scram_cap;
    int64_t offset; /* last applied, -1 before any */
    bool in_txn;
    rn__mimage_pending_t *pending; /* the open transaction's records */
    size_t n_pending, pending_cap;
    rn_arena_t arena; /* decoded records; reset after each applied entry */
    rn_mimage_applied_fn applied;
    void *arg;
};

/* mimage_scram.c: a credential upserted or removed; RN_EINVAL for a bad record,
 * RN_ENOTFOUND when removing one that is not there. */
int rn__mimage_scram_apply(rn_mimage_t *img, const rn_user_scram_credential_record_t *r);
int rn__mimage_scram_remove(rn_mimage_t *img, const rn_remove_user_scram_credential_record_t *r);

/* Free every piece of state (not the struct, arena or hook) and zero the counts. */
void rn__mimage_clear(rn_mimage_t *img);

#endif
