/* ISR changes through the controller (AlterPartition, rn_cluster_alter_isr): one request
 * in flight per partition; the ISR itself changes only when the metadata says so. */
#include "replica/replica_int.h"
#include "controller/rn_cluster.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"

bool rn__broker_active(const rn_replica_t *rm, int32_t id)
{
    const rn_broker_t *b = rm->b;
    return b->cluster == NULL || rn_mimage_broker_active(rn_cluster_image(b->cluster), id);
}

static void answered(void *arg, const rn_isr_result_t *res)
{
    rn__rpart_t *rep = arg;
    rn__isr_answered(rep->rm, rep, res->error_code);
}

void rn__isr_propose(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_broker_t *b = rm->b;
    rn_partition_t *part = rep->dpart->part;
    rep->rm = rm;
    int rc = b->cluster == NULL
                 ? RN_EINVAL
                 : rn_cluster_alter_isr(b->cluster, &part->topic->id, part->index,
                                        part->leader_epoch, part->partition_epoch, rep->isr_asked,
                                        rep->n_isr_asked, answered, rep);
    if (rc != 0) {
        RN_WARN("replica", "node %d: cannot ask for an ISR change of %s-%d: %s", b->node_id,
                part->topic->name, part->index, rn_strerror(rc));
        rn__isr_answered(rm, rep, RN_KERR_UNKNOWN_SERVER_ERROR);
    }
}

void rn__isr_cancel(rn_replica_t *rm, rn__rpart_t *rep)
{
    if (rep->isr_in_flight && rm->b->cluster != NULL)
        rn_cluster_alter_isr_cancel(rm->b->cluster, rep);
    rep->isr_in_flight = false;
}
