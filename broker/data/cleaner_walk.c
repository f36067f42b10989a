/* The log cleaner as a broker module: the walk over the data path's partitions whose topic's
 * cleanup.policy holds "compact", with each topic's cleaning settings, and the module's
 * start/stop (see rn_cleaner_thread.h). Loop thread. */
#include "rn_broker.h"
#include "data/rn_cleaner_thread.h"
#include "data/rn_datapath.h"
#include "rn_err.h"
#include "meta/rn_topicconf.h"

#include <stdio.h>
#include <string.h>

/* Does the comma-separated policy list name compact? ("compact", "compact,delete") */
static bool compacts(const char *policy)
{
    const char *p = policy;
    while ((p = strstr(p, "compact")) != NULL) {
        bool starts = p == policy || p[-1] == ',' || p[-1] == ' ';
        bool ends = p[7] == '\0' || p[7] == ',' || p[7] == ' ';
        if (starts && ends)
            return true;
        p += 7;
    }
    return false;
}

static void walk_topics(void *arg, rn_cleaner_visit_fn visit, void *visit_arg)
{
    rn_broker_t *b = arg;
    if (b->datapath == NULL)
        return;
    rn_topics_t *topics = b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        char buf[64];
        const char *policy =
            rn_topicconf_value(&topic->conf, b->cfg, RN_TC_CLEANUP_POLICY, NULL, buf, sizeof(buf));
        if (topic->deleted || !topic->ready || !compacts(policy))
            continue;
        rn_cleaner_part_t part = {.topic = topic->name};
        rn_cleaner_config_default(&part.cfg);
        part.cfg.delete_retention_ms =
            rn_topicconf_int(&topic->conf, b->cfg, RN_TC_DELETE_RETENTION_MS);
        part.cfg.min_compaction_lag_ms =
            rn_topicconf_int(&topic->conf, b->cfg, RN_TC_MIN_COMPACTION_LAG_MS);
        part.max_compaction_lag_ms =
            rn_topicconf_int(&topic->conf, b->cfg, RN_TC_MAX_COMPACTION_LAG_MS);
        part.min_cleanable_dirty_ratio =
            rn_topicconf_double(&topic->conf, b->cfg, RN_TC_MIN_CLEANABLE_DIRTY_RATIO);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (dpart == NULL || dpart->log == NULL)
                continue;
            part.partition = i;
            part.log = dpart->log;
            /* Records above the high watermark may still be truncated away: never clean
             * them. */
            part.cfg.limit_offset = rn_dpart_high_watermark(dpart);
            visit(visit_arg, &part);
        }
    }
}

int rn_cleaner_thread_module_init(rn_broker_t *b, char *err, size_t errlen)
{
    if (!rn_config_bool(b->cfg, RN_CFG_LOG_CLEANER_ENABLE))
        return 0;
    rn_cleaner_thread_opts_t opts = {
        .data_dir = b->cfg->data_dir,
        .backoff_ms = rn_config_int(b->cfg, RN_CFG_LOG_CLEANER_BACKOFF_MS),
        .dedupe_buffer_bytes = (size_t)rn_config_int(b->cfg, RN_CFG_LOG_CLEANER_DEDUPE_BUFFER_SIZE),
        .walk = walk_topics,
        .walk_arg = b,
    };
    b->cleaner = rn_cleaner_thread_start(b->base, &opts, err, errlen);
    return b->cleaner != NULL ? 0 : RN_EIO;
}

void rn_cleaner_thread_module_shutdown(rn_broker_t *b)
{
    rn_cleaner_thread_stop(b->cleaner);
    b->cleaner = NULL;
}
