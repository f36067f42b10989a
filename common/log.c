/* Leveled one-line logging to stderr (see rn_log.h). */
#include "rn_log.h"
#include "rn_clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile int rn_log_level_current = RN_LOG_INFO;
static int rn_log_node_id = -1;

static const char *const rn_log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void rn_log_set_level(rn_log_level_t level)
{
    rn_log_level_current = level;
}

rn_log_level_t rn_log_get_level(void)
{
    return (rn_log_level_t)rn_log_level_current;
}

int rn_log_level_parse(const char *name)
{
    if (strcasecmp(name, "debug") == 0 || strcasecmp(name, "trace") == 0)
        return RN_LOG_DEBUG;
    if (strcasecmp(name, "info") == 0)
        return RN_LOG_INFO;
    if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
        return RN_LOG_WARN;
    if (strcasecmp(name, "error") == 0)
        return RN_LOG_ERROR;
    return -1;
}

void rn_log_set_node(int node_id)
{
    rn_log_node_id = node_id;
}

void rn_log(rn_log_level_t level, const char *component, const char *fmt, ...)
{
    if ((int)level < rn_log_level_current)
        return;
    char line[2048];
    int64_t now_ms = rn_clock_wall_ms();
    time_t now_s = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&now_s, &tm);
    int len = snprintf(line, sizeof(line),
                       "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s node=%d %s: ", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       (long)(now_ms % 1000), rn_log_level_names[level], rn_log_node_id, component);
    va_list ap;
    va_start(ap, fmt);
    len += vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
    va_end(ap);
    if (len > (int)sizeof(line) - 2)
        len = (int)sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t written = write(STDERR_FILENO, line, (size_t)len);
    (void)written;
}
