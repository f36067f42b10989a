/* rn_log: one line per event on stderr, leveled, with the node id.
 *
 *   2026-11-23T13:50:01.123Z INFO  node=1 log: opened orders-0 at offset 1200
 *
 * The level is a process-wide setting (log.level); the node id is set once the
 * configuration is known. Lines are written with a single write(2) so lines from
 * the flush thread and the event loop never interleave mid-line. */
#ifndef RN_LOG_H
#define RN_LOG_H

typedef enum rn_log_level {
    RN_LOG_DEBUG = 0,
    RN_LOG_INFO = 1,
    RN_LOG_WARN = 2,
    RN_LOG_ERROR = 3,
} rn_log_level_t;

void rn_log_set_level(rn_log_level_t level);
rn_log_level_t rn_log_get_level(void);
/* Parse "debug", "info", "warn"/"warning", "error" (case-insensitive); -1 if unknown. */
int rn_log_level_parse(const char *name);
void rn_log_set_node(int node_id);

void rn_log(rn_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define RN_DEBUG(comp, ...)                                                                        \
    do {                                                                                           \
        if (rn_log_get_level() <= RN_LOG_DEBUG)                                                    \
            rn_log(RN_LOG_DEBUG, comp, __VA_ARGS__);                                               \
    } while (0)
#define RN_INFO(comp, ...)  rn_log(RN_LOG_INFO, comp, __VA_ARGS__)
#define RN_WARN(comp, ...)  rn_log(RN_LOG_WARN, comp, __VA_ARGS__)
#define RN_ERROR(comp, ...) rn_log(RN_LOG_ERROR, comp, __VA_ARGS__)

#endif
