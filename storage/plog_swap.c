/* Partition log: the segment-list surgery of compaction — a run of sealed segments replaced
 * by one cleaned segment (see rn_plog_replace_segments in rn_plog.h; the cleaner in
 * cleaner.c does the files). */
#include "plog_internal.h"

#include "rn_err.h"

#include <string.h>

int rn_plog_replace_segments(rn_plog_t *log, rn_segment_t *const *old, size_t n, rn_segment_t *seg)
{
    if (n == 0 || seg == NULL)
        return RN_EINVAL;
    size_t at = log->nsegs;
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i] == old[0]) {
            at = i;
            break;
        }
    /* The run must lie wholly before the active segment, which compaction never touches. */
    if (at == log->nsegs || at + n >= log->nsegs)
        return RN_ENOTFOUND;
    for (size_t i = 0; i < n; i++)
        if (log->segs[at + i] != old[i] || old[i]->active)
            return RN_ENOTFOUND;
    if (seg->base_offset != old[0]->base_offset ||
        seg->next_offset > log->segs[at + n]->base_offset)
        return RN_EINVAL;
    pthread_mutex_lock(&log->mu);
    log->segs[at] = seg;
    memmove(log->segs + at + 1, log->segs + at + n, (log->nsegs - at - n) * sizeof(*log->segs));
    log->nsegs -= n - 1;
    pthread_mutex_unlock(&log->mu);
    return 0;
}
