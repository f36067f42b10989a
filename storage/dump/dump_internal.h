/* Helpers shared by the dump_*.c files of rn_dump; never included outside storage/dump/. */
#ifndef RN_DUMP_INTERNAL_H
#define RN_DUMP_INTERNAL_H

#include "rn_batch.h"
#include "rn_dump.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RN__DUMP_DEFAULT_MAX_DECOMPRESSED ((size_t)256 << 20)

/* Print "error: <message>\n" and count it. */
__attribute__((format(printf, 3, 4))) void rn__dump_error(FILE *out, int *problems, const char *fmt,
                                                          ...);

/* Print a nullable byte string in full: "null", hex digits, or text with non-printable
 * bytes escaped (\n, \t, \\, \xNN; valid UTF-8 passes through). */
void rn__dump_put_bytes(FILE *out, const uint8_t *data, int32_t len, int hex);

/* The same into dst[0..cap) (always NUL-terminated), showing at most `show` bytes of the
 * value and "..." after a cut. */
void rn__dump_fmt_bytes(char *dst, size_t cap, const uint8_t *data, int32_t len, int hex,
                        size_t show);

/* Annotations of a hex dump: a caret under the first byte of each field. */
typedef struct rn__dump_note {
    size_t pos; /* within the dumped buffer */
    size_t seq; /* insertion order, to keep notes at one position in field order */
    char text[160];
} rn__dump_note_t;

typedef struct rn__dump_notes {
    rn__dump_note_t *v;
    size_t n, cap;
} rn__dump_notes_t;

__attribute__((format(printf, 3, 4))) void rn__dump_note(rn__dump_notes_t *ns, size_t pos,
                                                         const char *fmt, ...);
void rn__dump_notes_free(rn__dump_notes_t *ns);

/* Notes for the batch header fields present in buf[0..len) (len may be short of 61 for a
 * truncated batch). crc_state: 1 valid, 0 mismatch (computed shown), -1 unknown. */
void rn__dump_note_header(rn__dump_notes_t *ns, const uint8_t *buf, size_t len, int crc_state,
                          uint32_t computed);

/* Notes for the records of an uncompressed section sec[0..len), placed at `at` within the
 * dumped buffer; stops with a note at the first malformed record. */
void rn__dump_note_records(rn__dump_notes_t *ns, const rn_batch_header_t *hdr, const uint8_t *sec,
                           size_t len, size_t at, int hex);

/* xxd-style lines for buf[0..len) whose first byte is at file position base, each line
 * followed by its notes (sorted here). */
void rn__dump_hexdump(FILE *out, const uint8_t *buf, size_t len, uint64_t base,
                      rn__dump_notes_t *ns);

#endif
