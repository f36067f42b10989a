/* rn_mimage: the metadata image and the replay of committed records (rn_mimage.h). */
#include "controller/mimage_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_vec.h"

#include <string.h>
#include <sys/types.h>

/* ---- lookups ---- */

static size_t broker_pos(const rn_mimage_t *img, int32_t id, bool *found)
{
    size_t lo = 0, hi = img->n_brokers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->brokers[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < img->n_brokers && img->brokers[lo].id == id;
    return lo;
}

static int name_cmp(const rn_mimage_topic_t *t, const char *name, size_t len)
{
    size_t tlen = strlen(t->name);
    int c = memcmp(t->name, name, tlen < len ? tlen : len);
    return c != 0 ? c : (tlen > len) - (tlen < len);
}

static size_t name_pos(const rn_mimage_t *img, const char *name, size_t len, bool *found)
{
    size_t lo = 0, hi = img->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(img->by_name[mid], name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < img->n_topics && name_cmp(img->by_name[lo], name, len) == 0;
    return lo;
}

static size_t id_pos(const rn_mimage_t *img, const rn_uuid_t *id, bool *found)
{
    size_t lo = 0, hi = img->n_topics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(img->by_id[mid]->id.bytes, id->bytes, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < img->n_topics && rn_uuid_equal(&img->by_id[lo]->id, id);
    return lo;
}

size_t rn_mimage_broker_count(const rn_mimage_t *img)
{
    return img->n_brokers;
}

const rn_mimage_broker_t *rn_mimage_broker_at(const rn_mimage_t *img, size_t i)
{
    return i < img->n_brokers ? &img->brokers[i] : NULL;
}

const rn_mimage_broker_t *rn_mimage_broker(const rn_mimage_t *img, int32_t id)
{
    bool found;
    size_t pos = broker_pos(img, id, &found);
    return found ? &img->brokers[pos] : NULL;
}

bool rn_mimage_broker_active(const rn_mimage_t *img, int32_t id)
{
    const rn_mimage_broker_t *b = rn_mimage_broker(img, id);
    return b != NULL && !b->fenced && !b->in_controlled_shutdown;
}

size_t rn_mimage_topic_count(const rn_mimage_t *img)
{
    return img->n_topics;
}

const rn_mimage_topic_t *rn_mimage_topic_at(const rn_mimage_t *img, size_t i)
{
    return i < img->n_topics ? img->by_name[i] : NULL;
}

const rn_mimage_topic_t *rn_mimage_topic(const rn_mimage_t *img, const char *name, size_t len)
{
    bool found;
    size_t pos = name_pos(img, name, len, &found);
    return found ? img->by_name[pos] : NULL;
}

const rn_mimage_topic_t *rn_mimage_topic_id(const rn_mimage_t *img, const rn_uuid_t *id)
{
    bool found;
    size_t pos = id_pos(img, id, &found);
    return found ? img->by_id[pos] : NULL;
}

size_t rn_mimage_config_count(const rn_mimage_t *img)
{
    return img->n_configs;
}

const rn_mimage_config_t *rn_mimage_config_at(const rn_mimage_t *img, size_t i)
{
    return i < img->n_configs ? &img->configs[i] : NULL;
}

static ssize_t config_find(const rn_mimage_t *img, int8_t type, const char *resource, size_t rlen,
                           const char *name, size_t nlen)
{
    for (size_t i = 0; i < img->n_configs; i++) {
        const rn_mimage_config_t *c = &img->configs[i];
        if (c->resource_type == type && strlen(c->resource) == rlen &&
            memcmp(c->resource, resource, rlen) == 0 && strlen(c->name) == nlen &&
            memcmp(c->name, name, nlen) == 0)
            return (ssize_t)i;
    }
    return -1;
}

const char *rn_mimage_config(const rn_mimage_t *img, int8_t resource_type, const char *resource,
                             const char *name)
{
    ssize_t i = config_find(img, resource_type, resource, strlen(resource), name, strlen(name));
    return i < 0 ? NULL : img->configs[i].value;
}

const struct rn_acls *rn_mimage_acls(const rn_mimage_t *img)
{
    return img->acls;
}

int16_t rn_mimage_feature(const rn_mimage_t *img, const char *name)
{
    for (size_t i = 0; i < img->n_features; i++)
        if (strcmp(img->features[i].name, name) == 0)
            return img->features[i].level;
    return 0;
}

size_t rn_mimage_feature_count(const rn_mimage_t *img)
{
    return img->n_features;
}

const rn_mimage_feature_t *rn_mimage_feature_at(const rn_mimage_t *img, size_t i)
{
    return i < img->n_features ? &img->features[i] : NULL;
}

int64_t rn_mimage_next_producer_id(const rn_mimage_t *img)
{
    return img->next_producer_id;
}

int64_t rn_mimage_offset(const rn_mimage_t *img)
{
    return img->offset;
}

bool rn_mimage_in_transaction(const rn_mimage_t *img)
{
    return img->in_txn;
}

/* ---- life cycle ---- */

rn_mimage_t *rn_mimage_new(void)
{
    rn_mimage_t *img = rn_xcalloc(1, sizeof(*img));
    img->offset = -1;
    img->acls = rn_acls_new();
    rn_arena_init(&img->arena, 0);
    return img;
}

static void broker_free(rn_mimage_broker_t *b)
{
    for (int i = 0; i < b->n_endpoints; i++) {
        rn_free(b->endpoints[i].name);
        rn_free(b->endpoints[i].host);
    }
    rn_free(b->endpoints);
    rn_free(b->rack);
}

static void part_free(rn_mimage_part_t *part)
{
    rn_free(part->replicas);
    rn_free(part->isr);
}

static void topic_free(rn_mimage_topic_t *t)
{
    for (int32_t i = 0; i < t->n_parts; i++)
        part_free(&t->parts[i]);
    rn_free(t->parts);
    rn_free(t->name);
    rn_free(t);
}

static void config_free(rn_mimage_config_t *c)
{
    rn_free(c->resource);
    rn_free(c->name);
    rn_free(c->value);
}

static void pending_clear(rn_mimage_t *img)
{
    for (size_t i = 0; i < img->n_pending; i++)
        rn_free(img->pending[i].data);
    img->n_pending = 0;
    img->in_txn = false;
}

void rn__mimage_clear(rn_mimage_t *img)
{
    for (size_t i = 0; i < img->n_brokers; i++)
        broker_free(&img->brokers[i]);
    for (size_t i = 0; i < img->n_topics; i++)
        topic_free(img->by_name[i]);
    for (size_t i = 0; i < img->n_configs; i++)
        config_free(&img->configs[i]);
    for (size_t i = 0; i < img->n_features; i++)
        rn_free(img->features[i].name);
    for (size_t i = 0; i < img->n_scram; i++)
        rn_free(img->scram[i].name);
    img->n_scram = 0;
    pending_clear(img);
    rn_acls_clear(img->acls);
    img->n_brokers = img->n_topics = img->n_configs = img->n_features = 0;
    img->next_producer_id = 0;
}

void rn_mimage_free(rn_mimage_t *img)
{
    if (img == NULL)
        return;
    rn__mimage_clear(img);
    rn_free(img->brokers);
    rn_free(img->by_name);
    rn_free(img->by_id);
    rn_free(img->configs);
    rn_free(img->features);
    rn_free(img->scram);
    rn_free(img->pending);
    rn_acls_free(img->acls);
    rn_arena_free(&img->arena);
    rn_free(img);
}

void rn_mimage_set_hook(rn_mimage_t *img, rn_mimage_applied_fn applied, void *arg)
{
    img->applied = applied;
    img->arg = arg;
}
