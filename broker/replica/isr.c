/* ISR changes through the controller (AlterPartition). */
#include "replica/replica_int.h"
#include "controller/rn_cluster.h"

#include "rn_kerr.h"

bool rn__broker_active(const rn_replica_t *rm, int32_t id)
{
    const rn_broker_t *b = rm->b;
    return b->cluster == NULL || rn_mimage_broker_active(rn_cluster_image(b->cluster), id);
}

void rn__isr_propose(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn__isr_answered(rm, rep, RN_KERR_UNKNOWN_SERVER_ERROR); /* TEMP until AlterPartition lands */
}
