/* The YAML side of rn_config: read a file of Kafka property names with libyaml's event
 * parser. Nested mappings join their keys with '.', a sequence value is joined with ','.
 * Every value is handed to rn_config_set with "FILE:LINE" of its key as the source. */
#include "rn_config.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

#define RN_YAML_MAX_DEPTH 8
#define RN_YAML_MAX_KEY   256
#define RN_YAML_MAX_VALUE 65536

typedef struct yaml_state {
    rn_config_t *cfg;
    const char *path;
    char *err;
    size_t errlen;
    /* prefix[d] is the dotted key of the mapping open at depth d (depth 0 = root, ""). */
    char prefix[RN_YAML_MAX_DEPTH][RN_YAML_MAX_KEY];
    int depth;
    bool have_root; /* the top-level mapping was read; a second document is an error */
    char value[RN_YAML_MAX_VALUE];
} yaml_state_t;

__attribute__((format(printf, 3, 4))) static int yfail(yaml_state_t *st, size_t line,
                                                       const char *fmt, ...)
{
    int n = snprintf(st->err, st->errlen, "%s:%zu: ", st->path, line);
    if (n < 0 || (size_t)n >= st->errlen)
        return RN_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return RN_EINVAL;
}

/* Pull the next event; a libyaml syntax error becomes our message. */
static int next_event(yaml_parser_t *parser, yaml_event_t *ev, yaml_state_t *st)
{
    if (yaml_parser_parse(parser, ev))
        return 0;
    return yfail(st, parser->problem_mark.line + 1, "YAML syntax error: %s",
                 parser->problem ? parser->problem : "unknown");
}

/* Read a sequence's scalars (the SEQUENCE_START event is consumed) into one ',' list. */
static int read_sequence(yaml_parser_t *parser, yaml_state_t *st, const char *key, char *out,
                         size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(parser, &ev, st);
        if (rc != 0)
            return rc;
        size_t line = ev.start_mark.line + 1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&ev);
            return yfail(st, line, "%s: a list may hold only plain values", key);
        }
        size_t len = ev.data.scalar.length;
        if (used + len + 2 > outlen) {
            yaml_event_delete(&ev);
            return yfail(st, line, "%s: value too long", key);
        }
        if (used > 0)
            out[used++] = ',';
        memcpy(out + used, ev.data.scalar.value, len);
        used += len;
        out[used] = '\0';
        yaml_event_delete(&ev);
    }
}

/* Walk the body of a mapping (its MAPPING_START consumed) at st->depth. */
static int read_mapping(yaml_parser_t *parser, yaml_state_t *st)
{
    char *value = st->value;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(parser, &ev, st);
        if (rc != 0)
            return rc;
        size_t line = ev.start_mark.line + 1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&ev);
            return yfail(st, line, "expected a key (keys are plain words like log.dirs)");
        }
        char key[RN_YAML_MAX_KEY];
        const char *pre = st->prefix[st->depth];
        int n = snprintf(key, sizeof(key), "%s%s%s", pre, *pre ? "." : "",
                         (const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
        if (n < 0 || (size_t)n >= sizeof(key))
            return yfail(st, line, "key too long");

        rc = next_event(parser, &ev, st);
        if (rc != 0)
            return rc;
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.length >= RN_YAML_MAX_VALUE) {
                yaml_event_delete(&ev);
                return yfail(st, line, "%s: value too long", key);
            }
            memcpy(value, ev.data.scalar.value, ev.data.scalar.length);
            value[ev.data.scalar.length] = '\0';
            yaml_event_delete(&ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            yaml_event_delete(&ev);
            rc = read_sequence(parser, st, key, value, RN_YAML_MAX_VALUE);
            if (rc != 0)
                return rc;
            break;
        case YAML_MAPPING_START_EVENT:
            yaml_event_delete(&ev);
            if (st->depth + 1 >= RN_YAML_MAX_DEPTH)
                return yfail(st, line, "%s: nested too deeply", key);
            st->depth++;
            snprintf(st->prefix[st->depth], sizeof(st->prefix[0]), "%s", key);
            rc = read_mapping(parser, st);
            st->depth--;
            if (rc != 0)
                return rc;
            continue;
        case YAML_ALIAS_EVENT:
            yaml_event_delete(&ev);
            return yfail(st, line, "%s: YAML aliases are not supported", key);
        default: yaml_event_delete(&ev); return yfail(st, line, "%s: unexpected YAML element", key);
        }
        char source[RN_YAML_MAX_KEY + 32];
        snprintf(source, sizeof(source), "%s:%zu", st->path, line);
        char msg[512];
        rc = rn_config_set(st->cfg, key, value, source, msg, sizeof(msg));
        if (rc != 0) {
            snprintf(st->err, st->errlen, "%s", msg);
            return rc;
        }
    }
}

/* Parse the document the parser was set up with; path labels messages. */
static int load_parser(rn_config_t *cfg, yaml_parser_t *parser, const char *path, char *err,
                       size_t errlen)
{
    yaml_state_t *st = rn_xcalloc(1, sizeof(*st));
    st->cfg = cfg;
    st->path = path;
    st->err = err;
    st->errlen = errlen;

    int rc = 0;
    bool done = false;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        rc = next_event(parser, &ev, st);
        if (rc != 0)
            break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT: break;
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_MAPPING_START_EVENT:
            if (st->have_root)
                rc = yfail(st, ev.start_mark.line + 1, "only one YAML document is allowed");
            else
                rc = read_mapping(parser, st);
            st->have_root = true;
            break;
        case YAML_SCALAR_EVENT:
            /* An empty file parses as one empty plain scalar in some layouts; allow it. */
            if (ev.data.scalar.length == 0)
                break;
            /* fallthrough */
        default:
            rc = yfail(st, ev.start_mark.line + 1,
                       "the file must be a mapping of settings, e.g. \"num.partitions: 3\"");
            break;
        }
        yaml_event_delete(&ev);
    }
    rn_free(st);
    return rc;
}

int rn_config_load_file(rn_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open the config file: %s", path, strerror(errno));
        return RN_EIO;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(fp);
        snprintf(err, errlen, "%s: cannot start the YAML parser", path);
        return RN_ENOMEM;
    }
    yaml_parser_set_input_file(&parser, fp);
    int rc = load_parser(cfg, &parser, path, err, errlen);
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}

int rn_config_load_buffer(rn_config_t *cfg, const char *name, const void *data, size_t len,
                          char *err, size_t errlen)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot start the YAML parser", name);
        return RN_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, data, len);
    int rc = load_parser(cfg, &parser, name, err, errlen);
    yaml_parser_delete(&parser);
    return rc;
}
