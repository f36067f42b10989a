/* Private structures of rn_metrics shared by metrics.c (registry, exposition writer) and
 * metrics_broker.c (runneld's families and collectors). Never included elsewhere. */
#ifndef RN_METRICS_INT_H
#define RN_METRICS_INT_H

#include "ops/rn_metrics.h"
#include "rn_map.h"

struct rn_metrics_series {
    uint64_t hash; /* of the label values, for the family's index */
    union {
        uint64_t count; /* counters */
        double value;   /* gauges */
    } v;
    rn_metrics_hist_t *hist; /* histograms: in the same allocation */
    char *values[];          /* fam->n_labels copies, in the same allocation */
};

/* Series are kept in creation order (series[], the order /metrics shows them) and found
 * by their label values through index, which holds the same series. */
struct rn_metrics_family {
    rn_metrics_type_t type;
    char *name;
    char *help;
    size_t n_labels;
    char *labels[RN_METRICS_MAX_LABELS];
    double bounds[RN_METRICS_MAX_BUCKETS];
    size_t n_bounds;
    rn_metrics_series_t **series;
    size_t n_series, cap_series;
    rn_map_t index;
    rn_metrics_live_fn live;
    void *live_arg;
};

/* One entry of the registry: a family or a collector, rendered in this order. */
typedef struct rn_metrics_item {
    rn_metrics_family_t *fam; /* NULL for a collector */
    rn_metrics_collect_fn collect;
    void *arg;
} rn_metrics_item_t;

/* runneld's own families (metrics_broker.c), NULL until rn_metrics_broker_register. */
typedef struct rn_metrics_broker_fams {
    rn_metrics_family_t *topic_bytes_in, *topic_messages_in, *topic_bytes_out;
    void *ctx; /* the collectors' argument; owned, freed with the registry */
} rn_metrics_broker_fams_t;

struct rn_metrics {
    rn_metrics_item_t *items;
    size_t n_items, cap_items;
    size_t dropped; /* by the last rendering */
    rn_metrics_broker_fams_t broker;
};

#endif
