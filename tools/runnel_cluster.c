/* runnel cluster info: cluster id, controller, brokers, and the partitions that need
 * attention (under-replicated: fewer in-sync replicas than replicas; offline: no leader). */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_str.h"

#include <stdlib.h>
#include <string.h>

static int cmp_broker(const void *a, const void *b)
{
    const rn_metadata_response_broker_t *x = a, *y = b;
    return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

typedef struct bad_part {
    const rn_metadata_response_topic_t *t;
    const rn_metadata_response_partition_t *p;
    bool offline;
} bad_part_t;

static void json_bad(rn_cli_json_t *j, const bad_part_t *bad, int n, bool offline)
{
    rn_cli_json_arr(j);
    for (int i = 0; i < n; i++) {
        if (bad[i].offline != offline)
            continue;
        rn_cli_json_obj(j);
        rn_cli_json_key(j, "topic");
        rn_cli_json_rnstr(j, bad[i].t->name);
        rn_cli_json_key(j, "partition");
        rn_cli_json_int(j, bad[i].p->partition_index);
        rn_cli_json_key(j, "leader");
        rn_cli_json_int(j, bad[i].p->leader_id);
        rn_cli_json_key(j, "replicas");
        rn_cli_json_ids(j, &bad[i].p->replica_nodes);
        rn_cli_json_key(j, "isr");
        rn_cli_json_ids(j, &bad[i].p->isr_nodes);
        rn_cli_json_end(j, '}');
    }
    rn_cli_json_end(j, ']');
}

int rn_cli_cluster_info(rn_cli_t *cli, int argc, char **argv)
{
    int first;
    int st = rn_cli_parse(cli, argc, argv, NULL, "", NULL, NULL, &first);
    if (st == 0 && first < argc)
        st = rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
    rn_metadata_response_t *md;
    if (st == 0)
        st = rn_cli_metadata(cli, NULL, -1, false, &md);
    if (st != 0)
        return st;
    if (md->brokers.count > 0)
        qsort(md->brokers.items, (size_t)md->brokers.count, sizeof *md->brokers.items, cmp_broker);

    int ntopics = 0, nparts = 0, nbad = 0, nunder = 0, noffline = 0;
    for (int32_t i = 0; i < md->topics.count; i++)
        nparts +=
            md->topics.items[i].partitions.count > 0 ? md->topics.items[i].partitions.count : 0;
    bad_part_t *bad = rn_xcalloc((size_t)nparts + 1, sizeof *bad);
    for (int32_t i = 0; i < md->topics.count; i++) {
        const rn_metadata_response_topic_t *t = &md->topics.items[i];
        if (t->error_code != 0)
            continue;
        ntopics++;
        for (int32_t k = 0; k < t->partitions.count; k++) {
            const rn_metadata_response_partition_t *p = &t->partitions.items[k];
            bool offline = p->leader_id < 0;
            bool under = p->isr_nodes.count < p->replica_nodes.count;
            if (offline || under) {
                bad[nbad++] = (bad_part_t){t, p, offline};
                noffline += offline;
                nunder += !offline;
            }
        }
    }

    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "cluster_id");
        rn_cli_json_rnstr(&j, md->cluster_id);
        rn_cli_json_key(&j, "controller");
        rn_cli_json_int(&j, md->controller_id);
        rn_cli_json_key(&j, "brokers");
        rn_cli_json_arr(&j);
        for (int32_t i = 0; i < md->brokers.count; i++) {
            const rn_metadata_response_broker_t *b = &md->brokers.items[i];
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "id");
            rn_cli_json_int(&j, b->node_id);
            rn_cli_json_key(&j, "host");
            rn_cli_json_rnstr(&j, b->host);
            rn_cli_json_key(&j, "port");
            rn_cli_json_int(&j, b->port);
            rn_cli_json_key(&j, "rack");
            rn_cli_json_rnstr(&j, b->rack);
            rn_cli_json_end(&j, '}');
        }
        rn_cli_json_end(&j, ']');
        rn_cli_json_key(&j, "topics");
        rn_cli_json_int(&j, ntopics);
        rn_cli_json_key(&j, "partitions");
        rn_cli_json_int(&j, nparts);
        rn_cli_json_key(&j, "under_replicated");
        json_bad(&j, bad, nbad, false);
        rn_cli_json_key(&j, "offline");
        json_bad(&j, bad, nbad, true);
        rn_cli_json_end(&j, '}');
    } else {
        printf("cluster id: %.*s\n", RN_STR_ARGS(md->cluster_id));
        if (md->controller_id >= 0)
            printf("controller: %d\n", md->controller_id);
        else
            printf("controller: unknown\n");
        rn_cli_table_t tab;
        static const char *const head[] = {">BROKER", "HOST", ">PORT", "RACK"};
        rn_cli_table_init(&tab, 4, head);
        for (int32_t i = 0; i < md->brokers.count; i++) {
            const rn_metadata_response_broker_t *b = &md->brokers.items[i];
            const char *row[] = {
                rn_cli_fmt(cli, "%d", b->node_id), rn_str_arena_dup(&cli->arena, b->host),
                rn_cli_fmt(cli, "%d", b->port), rn_str_arena_dup(&cli->arena, b->rack)};
            rn_cli_table_add(&tab, row);
        }
        rn_cli_table_print(&tab, stdout);
        printf("topics: %d, partitions: %d, under-replicated: %d, offline: %d\n", ntopics, nparts,
               nunder, noffline);
        if (nbad > 0) {
            static const char *const bhead[] = {"TOPIC",    ">PARTITION", ">LEADER",
                                                "REPLICAS", "ISR",        "STATE"};
            rn_cli_table_init(&tab, 6, bhead);
            for (int i = 0; i < nbad; i++) {
                const char *row[] = {
                    rn_str_arena_dup(&cli->arena, bad[i].t->name),
                    rn_cli_fmt(cli, "%d", bad[i].p->partition_index),
                    bad[i].offline ? "none" : rn_cli_fmt(cli, "%d", bad[i].p->leader_id),
                    rn_cli_ids(cli, &bad[i].p->replica_nodes),
                    rn_cli_ids(cli, &bad[i].p->isr_nodes),
                    bad[i].offline ? "offline" : "under-replicated",
                };
                rn_cli_table_add(&tab, row);
            }
            rn_cli_table_print(&tab, stdout);
        }
    }
    rn_free(bad);
    return 0;
}
