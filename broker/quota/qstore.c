/* The client-quota store: entities with their values, Kafka's precedence lookup, and the
 * text form the quota module persists (see rn_qstore.h). Entities are few (set by
 * operators), so they live in an array scanned linearly; the request path looks up only
 * when rn_qstore_uses says a key is set at all. */
#include "quota/rn_qstore.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rn_qstore {
    rn_qentry_t **entries;
    size_t n, cap;
    size_t uses[RN_QK__COUNT]; /* entries setting each key */
};

static const char *const key_names[RN_QK__COUNT] = {
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
};

rn_qstore_t *rn_qstore_new(void)
{
    return rn_xcalloc(1, sizeof(rn_qstore_t));
}

static void entry_free(rn_qentry_t *e)
{
    rn_str_free(e->entity.user);
    rn_str_free(e->entity.client);
    rn_free(e);
}

void rn_qstore_free(rn_qstore_t *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        entry_free(st->entries[i]);
    rn_free(st->entries);
    rn_free(st);
}

const char *rn_qstore_key_name(rn_qkey_t key)
{
    return key >= 0 && key < RN_QK__COUNT ? key_names[key] : "?";
}

int rn_qstore_key(const char *name, size_t len)
{
    for (int k = 0; k < RN_QK__COUNT; k++)
        if (strlen(key_names[k]) == len && memcmp(key_names[k], name, len) == 0)
            return k;
    return -1;
}

bool rn_qstore_key_integral(rn_qkey_t key)
{
    return key == RN_QK_PRODUCER_BYTE_RATE || key == RN_QK_CONSUMER_BYTE_RATE;
}

static bool part_eq(rn_qpart_t ka, rn_str_t a, rn_qpart_t kb, rn_str_t b)
{
    return ka == kb && (ka != RN_QP_NAME || rn_str_eq(a, b));
}

static bool entity_eq(const rn_qentity_t *a, const rn_qentity_t *b)
{
    return part_eq(a->user_kind, a->user, b->user_kind, b->user) &&
           part_eq(a->client_kind, a->client, b->client_kind, b->client);
}

static size_t find_index(const rn_qstore_t *st, const rn_qentity_t *e)
{
    for (size_t i = 0; i < st->n; i++)
        if (entity_eq(&st->entries[i]->entity, e))
            return i;
    return SIZE_MAX;
}

const rn_qentry_t *rn_qstore_find(const rn_qstore_t *st, const rn_qentity_t *e)
{
    size_t i = find_index(st, e);
    return i == SIZE_MAX ? NULL : st->entries[i];
}

void rn_qstore_set(rn_qstore_t *st, const rn_qentity_t *e, rn_qkey_t key, double value)
{
    size_t i = find_index(st, e);
    rn_qentry_t *ent;
    if (i == SIZE_MAX) {
        ent = rn_xcalloc(1, sizeof(*ent));
        ent->entity.user_kind = e->user_kind;
        ent->entity.client_kind = e->client_kind;
        ent->entity.user = e->user_kind == RN_QP_NAME ? rn_str_xdup(e->user) : RN_STR_NULL;
        ent->entity.client = e->client_kind == RN_QP_NAME ? rn_str_xdup(e->client) : RN_STR_NULL;
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 8;
            st->entries = rn_xrealloc(st->entries, st->cap * sizeof(*st->entries));
        }
        st->entries[st->n++] = ent;
    } else {
        ent = st->entries[i];
    }
    if (!ent->has[key])
        st->uses[key]++;
    ent->has[key] = true;
    ent->value[key] = value;
}

void rn_qstore_remove(rn_qstore_t *st, const rn_qentity_t *e, rn_qkey_t key)
{
    size_t i = find_index(st, e);
    if (i == SIZE_MAX || !st->entries[i]->has[key])
        return;
    rn_qentry_t *ent = st->entries[i];
    ent->has[key] = false;
    st->uses[key]--;
    for (int k = 0; k < RN_QK__COUNT; k++)
        if (ent->has[k])
            return;
    entry_free(ent);
    memmove(&st->entries[i], &st->entries[i + 1], (st->n - i - 1) * sizeof(*st->entries));
    st->n--;
}

size_t rn_qstore_count(const rn_qstore_t *st)
{
    return st->n;
}

const rn_qentry_t *rn_qstore_at(const rn_qstore_t *st, size_t i)
{
    return i < st->n ? st->entries[i] : NULL;
}

bool rn_qstore_uses(const rn_qstore_t *st, rn_qkey_t key)
{
    return st->uses[key] > 0;
}

bool rn_qstore_lookup(const rn_qstore_t *st, rn_qkey_t key, rn_str_t user, rn_str_t client,
                      double *bound, const rn_qentry_t **matched)
{
    if (st->uses[key] == 0)
        return false;
    /* The precedence of rn_qstore.h, most specific first. */
    static const rn_qpart_t order[8][2] = {
        {RN_QP_NAME, RN_QP_NAME},    {RN_QP_NAME, RN_QP_DEFAULT},    {RN_QP_NAME, RN_QP_ABSENT},
        {RN_QP_DEFAULT, RN_QP_NAME}, {RN_QP_DEFAULT, RN_QP_DEFAULT}, {RN_QP_DEFAULT, RN_QP_ABSENT},
        {RN_QP_ABSENT, RN_QP_NAME},  {RN_QP_ABSENT, RN_QP_DEFAULT},
    };
    for (int i = 0; i < 8; i++) {
        rn_qentity_t e = {order[i][0], order[i][1], user, client};
        const rn_qentry_t *ent = rn_qstore_find(st, &e);
        if (ent != NULL && ent->has[key]) {
            *bound = ent->value[key];
            if (matched != NULL)
                *matched = ent;
            return true;
        }
    }
    return false;
}
