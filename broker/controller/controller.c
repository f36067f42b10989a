/* rn_controller: options, activation and replica placement (rn_controller.h). */
#include "controller/rn_controller.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"

#include <stdlib.h>
#include <string.h>

void rn_controller_opts_default(rn_controller_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->num_partitions = 1;
    opts->default_replication_factor = 3;
    opts->session_timeout_ms = 9000;
    opts->offsets_topic_partitions = 50;
    opts->offsets_topic_replication_factor = 3;
    opts->metadata_version = 7; /* 3.4-IV0, the first level with KIP-868's records */
}

void rn_controller_init(rn_controller_t *ctl, const rn_mimage_t *img,
                        const rn_controller_opts_t *opts)
{
    memset(ctl, 0, sizeof(*ctl));
    ctl->img = img;
    ctl->opts = *opts;
}

void rn_controller_reset_sessions(rn_controller_t *ctl)
{
    rn_free(ctl->sessions);
    ctl->sessions = NULL;
    ctl->n_sessions = ctl->sessions_cap = 0;
}

void rn_controller_free(rn_controller_t *ctl)
{
    rn_free(ctl->sessions);
    memset(ctl, 0, sizeof(*ctl));
}

void rn_controller_activate(rn_controller_t *ctl, rn_mrecs_t *out)
{
    rn_mrec_t rec;
    if (rn_mimage_in_transaction(ctl->img)) {
        rn_mrec_init(&rec, RN_MREC_ABORT_TRANSACTION_RECORD);
        rec.body.abort_transaction.reason = (rn_str_t){"controller failover", 19};
        rn_mrecs_add(out, &rec);
    }
    if (rn_mimage_feature(ctl->img, "metadata.version") == 0) {
        rn_mrec_init(&rec, RN_MREC_FEATURE_LEVEL_RECORD);
        rec.body.feature_level.name = (rn_str_t){"metadata.version", 16};
        rec.body.feature_level.feature_level = ctl->opts.metadata_version;
        rn_mrecs_add(out, &rec);
    }
}

/* ---- placement ---- */

typedef struct placed {
    int32_t id;
    const char *rack; /* "" without one */
    int rank;         /* position within its rack */
} placed_t;

static int placed_cmp(const void *a, const void *b)
{
    const placed_t *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    int c = strcmp(x->rack, y->rack);
    return c != 0 ? c : (x->id > y->id) - (x->id < y->id);
}

/* The active brokers interleaved by rack: every rack's first broker (racks in name order),
 * then every rack's second, and so on; consecutive entries sit in different racks while
 * racks last, which makes a stripe rack-aware. */
static int32_t interleave(const rn_mimage_t *img, int32_t *order)
{
    size_t n = rn_mimage_broker_count(img);
    placed_t *list = rn_xcalloc(n ? n : 1, sizeof(*list));
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) { /* id order, so ranks within a rack follow ids */
        const rn_mimage_broker_t *b = rn_mimage_broker_at(img, i);
        if (b->fenced || b->in_controlled_shutdown)
            continue;
        const char *rack = b->rack != NULL ? b->rack : "";
        int rank = 0;
        for (int32_t j = 0; j < k; j++)
            rank += strcmp(list[j].rack, rack) == 0;
        list[k++] = (placed_t){b->id, rack, rank};
    }
    qsort(list, (size_t)k, sizeof(*list), placed_cmp);
    for (int32_t i = 0; i < k; i++)
        order[i] = list[i].id;
    rn_free(list);
    return k;
}

int rn_controller_place(const rn_controller_t *ctl, int32_t first_index, int32_t n_parts,
                        int16_t rf, int32_t *replicas)
{
    size_t nb = rn_mimage_broker_count(ctl->img);
    int32_t *order = rn_xcalloc(nb ? nb : 1, sizeof(*order));
    int32_t n = interleave(ctl->img, order);
    if (n == 0 || rf < 1 || rf > n) {
        rn_free(order);
        return RN_EINVAL;
    }
    uint32_t start = 0;
    if (rn_random_bytes(&start, sizeof(start)) != 0)
        start = 0;
    start %= (uint32_t)n;
    for (int32_t p = 0; p < n_parts; p++) {
        /* Partition p's leader is one broker after p-1's, so leaders go round evenly. The
         * followers continue the stripe, shifted once per full round, so partitions with
         * the same leader do not all share the same followers. */
        uint32_t lead = (start + (uint32_t)(first_index + p)) % (uint32_t)n;
        uint32_t round = (uint32_t)(first_index + p) / (uint32_t)n;
        uint32_t shift = n > 1 ? 1 + round % (uint32_t)(n - 1) : 0;
        int32_t *row = &replicas[(size_t)p * (size_t)rf];
        row[0] = order[lead];
        for (int j = 1; j < rf; j++) {
            /* An offset in [1, n-1] from the leader, distinct for each j < rf <= n. */
            uint32_t off = 1 + (shift - 1 + (uint32_t)(j - 1)) % (uint32_t)(n - 1);
            uint32_t pos = (lead + off) % (uint32_t)n;
            row[j] = order[pos];
        }
    }
    rn_free(order);
    return 0;
}
