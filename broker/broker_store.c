/* rn_broker's data-directory glue: opening and closing the data directory with
 * storage's rn_datadir (kept apart because storage's rn_uuid_t and the codec's clash). */
#include "rn_broker.h"

#include "rn_datadir.h"
#include "rn_err.h"
#include "rn_uuid.h"

#include <string.h>

int rn__broker_open_datadir(rn_broker_t *b, char *err, size_t errlen)
{
    rn_uuid_t cluster, *want = NULL;
    const char *text = rn_config_str(b->cfg, RN_CFG_CLUSTER_ID);
    if (text != NULL && *text != '\0') {
        if (rn_uuid_from_base64(text, strlen(text), &cluster) != 0) {
            snprintf(err, errlen,
                     "%s: cluster.id \"%s\" is not a Kafka cluster id (22 characters of "
                     "base64url, e.g. from kafka-storage.sh random-uuid)",
                     b->cfg->v[RN_CFG_CLUSTER_ID].source, text);
            return RN_EINVAL;
        }
        want = &cluster;
    }
    rn_datadir_t *dd;
    int rc = rn_datadir_open(b->cfg->data_dir, b->node_id, want, &dd, err, errlen);
    if (rc != 0)
        return rc;
    b->datadir = dd;
    rn_uuid_to_base64(&rn_datadir_meta(dd)->cluster_id, b->cluster_id);
    b->clean_start = rn_datadir_was_clean_shutdown(dd);
    return 0;
}

int rn__broker_close_datadir(rn_broker_t *b, bool clean, char *err, size_t errlen)
{
    int rc = rn_datadir_close(b->datadir, clean, err, errlen);
    b->datadir = NULL;
    return rc;
}
