/* rn_mimage: SCRAM credentials (UserScramCredentialRecord, RemoveUserScramCredentialRecord),
 * kept sorted by (name, mechanism) so lookups bisect and Describe lists in a stable order.
 * Only what RFC 5802 stores: salt, iterations, StoredKey, ServerKey. */
#include "controller/mimage_int.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <string.h>

static int cmp(const rn_mimage_scram_t *e, const char *name, size_t len, int mech)
{
    size_t el = strlen(e->name);
    int c = memcmp(e->name, name, el < len ? el : len);
    if (c != 0)
        return c;
    if (el != len)
        return el < len ? -1 : 1;
    return e->cred.mech - mech;
}

/* The index of (name, mech), or where it would go (*found false). */
static size_t find(const rn_mimage_t *img, const char *name, size_t len, int mech, bool *found)
{
    size_t lo = 0, hi = img->n_scram;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(&img->scram[mid], name, len, mech);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int rn__mimage_scram_apply(rn_mimage_t *img, const rn_user_scram_credential_record_t *r)
{
    size_t klen = rn_scram_key_len(r->mechanism);
    if (klen == 0 || r->name.len <= 0 || r->salt.len < 0 || r->salt.len > RN_SCRAM_SALT_MAX ||
        r->stored_key.len != (int32_t)klen || r->server_key.len != (int32_t)klen ||
        r->iterations < 1 || memchr(r->name.ptr, 0, (size_t)r->name.len) != NULL)
        return RN_EINVAL;
    bool found;
    size_t i = find(img, r->name.ptr, (size_t)r->name.len, r->mechanism, &found);
    if (!found) {
        if (img->n_scram == img->scram_cap) {
            img->scram_cap = img->scram_cap ? 2 * img->scram_cap : 8;
            img->scram = rn_xrealloc(img->scram, img->scram_cap * sizeof(*img->scram));
        }
        memmove(&img->scram[i + 1], &img->scram[i], (img->n_scram - i) * sizeof(*img->scram));
        img->n_scram++;
        img->scram[i].name = rn_xstrndup(r->name.ptr, (size_t)r->name.len);
    }
    rn_scram_cred_t *cred = &img->scram[i].cred;
    memset(cred, 0, sizeof(*cred));
    cred->mech = r->mechanism;
    cred->iterations = r->iterations;
    cred->salt_len = (size_t)r->salt.len;
    if (r->salt.len > 0)
        memcpy(cred->salt, r->salt.ptr, (size_t)r->salt.len);
    memcpy(cred->stored_key, r->stored_key.ptr, klen);
    memcpy(cred->server_key, r->server_key.ptr, klen);
    return 0;
}

int rn__mimage_scram_remove(rn_mimage_t *img, const rn_remove_user_scram_credential_record_t *r)
{
    if (r->name.len <= 0)
        return RN_EINVAL;
    bool found;
    size_t i = find(img, r->name.ptr, (size_t)r->name.len, r->mechanism, &found);
    if (!found)
        return RN_ENOTFOUND;
    rn_free(img->scram[i].name);
    memmove(&img->scram[i], &img->scram[i + 1], (img->n_scram - i - 1) * sizeof(*img->scram));
    img->n_scram--;
    return 0;
}

size_t rn_mimage_scram_count(const rn_mimage_t *img)
{
    return img->n_scram;
}

const rn_mimage_scram_t *rn_mimage_scram_at(const rn_mimage_t *img, size_t i)
{
    return i < img->n_scram ? &img->scram[i] : NULL;
}

const rn_scram_cred_t *rn_mimage_scram(const rn_mimage_t *img, const char *name, int mech)
{
    bool found;
    size_t i = find(img, name, strlen(name), mech, &found);
    return found ? &img->scram[i].cred : NULL;
}
