/* checkpoint_internal: the line reader shared by the text files Kafka keeps (offset
 * checkpoints, leader-epoch-checkpoint, partition.metadata, meta.properties). Internal to
 * storage/; never included from another layer.
 *
 * A reader walks a memory buffer line by line. Lines end in '\n'; a '\r' before it is
 * dropped (Java's readLine accepts CRLF); the last line may lack its '\n'. Errors are
 * written as "<name>:<line>: <message>" so the operator can open the file at that line. */
#ifndef RN_CHECKPOINT_INTERNAL_H
#define RN_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn__text {
    const char *p;    /* next unread byte */
    const char *end;  /* one past the last byte */
    int line;         /* number of the line last returned (1-based); 0 before the first */
    const char *name; /* file name or path for messages */
    char *err;
    size_t errlen;
} rn__text_t;

void rn__text_init(rn__text_t *text, const char *name, const uint8_t *buf, size_t len, char *err,
                   size_t errlen);
/* Next line (without terminator) in *line and *len; false at the end of the buffer. */
bool rn__text_next(rn__text_t *text, const char **line, size_t *len);
/* Write "<name>:<line>: <message>" plus the offending line (quoted, escaped, cut to 60
 * bytes) into the error buffer and return RN_ECORRUPT. */
int rn__text_corrupt(rn__text_t *text, const char *line, size_t len, const char *what);

/* Parse a whole field as a decimal integer in [min, max]: optional '-', then 1 to 19
 * digits, nothing else (Java's parseInt/parseLong without '+'). */
bool rn__parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* Split a line into whitespace-separated (space, tab) fields like Java's split("\\s+"):
 * leading whitespace yields an empty first field, trailing whitespace is ignored. Returns
 * the number of fields found, or max + 1 when there are more than max. */
int rn__split_fields(const char *line, size_t len, const char **fields, size_t *lens, int max);

/* A Kafka topic name: 1..249 bytes of [A-Za-z0-9._-], not "." or "..". */
bool rn__topic_name_valid(const char *name, size_t len);

#define RN__TOPIC_NAME_MAX 249

#endif
