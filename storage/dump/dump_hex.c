/* runnel-dump's byte-level output: escaped/hex values, and the xxd-style hex dump with a
 * caret line under the first byte of every batch and record field. */
#include "dump_internal.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_endian.h"
#include "rn_reader.h"
#include "rn_records.h"
#include "rn_vec.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void rn__dump_error(FILE *out, int *problems, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", out);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
    (*problems)++;
}

/* Length of the valid UTF-8 sequence of 2-4 bytes at p[0..len), or 0. */
static size_t utf8_seq(const uint8_t *p, size_t len)
{
    size_t n;
    uint32_t cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Append the escaped text of data to dst (cap bytes, NUL kept); returns bytes consumed. */
static size_t escape_into(char *dst, size_t cap, size_t *used, const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        char tmp[8];
        size_t tn, take = 1;
        uint8_t c = data[i];
        size_t u = c >= 0x80 ? utf8_seq(data + i, len - i) : 0;
        if (u) {
            memcpy(tmp, data + i, u);
            tn = take = u;
        } else if (c == '\\') {
            tn = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
        } else if (c == '\n') {
            tn = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
        } else if (c == '\t') {
            tn = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
        } else if (c == '\r') {
            tn = (size_t)snprintf(tmp, sizeof(tmp), "\\r");
        } else if (c < 0x20 || c >= 0x7f) {
            tn = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        } else {
            tmp[0] = (char)c;
            tn = 1;
        }
        if (*used + tn + 1 > cap)
            break;
        memcpy(dst + *used, tmp, tn);
        *used += tn;
        i += take;
    }
    dst[*used] = '\0';
    return i;
}

void rn__dump_fmt_bytes(char *dst, size_t cap, const uint8_t *data, int32_t len, int hex,
                        size_t show)
{
    size_t used = 0;
    dst[0] = '\0';
    if (data == NULL || len < 0) {
        snprintf(dst, cap, "null");
        return;
    }
    size_t n = (size_t)len < show ? (size_t)len : show, done;
    if (hex) {
        for (done = 0; done < n && used + 3 <= cap; done++)
            used += (size_t)snprintf(dst + used, cap - used, "%02x", data[done]);
    } else {
        done = escape_into(dst, cap, &used, data, n);
    }
    if (done < (size_t)len && used + 4 <= cap)
        memcpy(dst + used, "...", 4);
}

void rn__dump_put_bytes(FILE *out, const uint8_t *data, int32_t len, int hex)
{
    if (data == NULL || len < 0) {
        fputs("null", out);
        return;
    }
    char buf[1024];
    size_t off = 0;
    while (off < (size_t)len) {
        size_t used = 0, done;
        if (hex) {
            for (done = 0; off + done < (size_t)len && used + 3 <= sizeof(buf); done++)
                used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%02x", data[off + done]);
        } else {
            done = escape_into(buf, sizeof(buf), &used, data + off, (size_t)len - off);
        }
        fwrite(buf, 1, used, out);
        off += done;
    }
}

/* ---- notes ---- */

void rn__dump_note(rn__dump_notes_t *ns, size_t pos, const char *fmt, ...)
{
    rn_vec_xreserve(ns->v, ns->cap, ns->n + 1);
    rn__dump_note_t *note = &ns->v[ns->n++];
    note->pos = pos;
    note->seq = ns->n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note->text, sizeof(note->text), fmt, ap);
    va_end(ap);
}

void rn__dump_notes_free(rn__dump_notes_t *ns)
{
    rn_free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

static void attrs_text(char *dst, size_t cap, int attrs)
{
    snprintf(dst, cap, "%s, %s%s%s%s", rn_codec_name(attrs & RN_BATCH_ATTR_CODEC_MASK),
             attrs & RN_BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime",
             attrs & RN_BATCH_ATTR_TRANSACTIONAL ? ", transactional" : "",
             attrs & RN_BATCH_ATTR_CONTROL ? ", control" : "",
             attrs & RN_BATCH_ATTR_DELETE_HORIZON ? ", delete horizon" : "");
}

/* Whether the field of `size` bytes at off lies within the len bytes dumped. */
static int has_field(size_t len, size_t off, size_t size)
{
    return len >= off + size;
}

static void note_crc(rn__dump_notes_t *ns, uint32_t crc, int crc_state, uint32_t computed)
{
    if (crc_state == 1)
        rn__dump_note(ns, RN_BATCH_OFF_CRC, "crc=0x%08x (CRC-32C of bytes 21..end: valid)", crc);
    else if (crc_state == 0)
        rn__dump_note(ns, RN_BATCH_OFF_CRC, "crc=0x%08x (MISMATCH: bytes 21..end give 0x%08x)", crc,
                      computed);
    else
        rn__dump_note(ns, RN_BATCH_OFF_CRC, "crc=0x%08x", crc);
}

/* The fields after the CRC: attributes .. recordCount. */
static void note_header_tail(rn__dump_notes_t *ns, const uint8_t *b, size_t len)
{
    char at[96];
    if (has_field(len, RN_BATCH_OFF_ATTRIBUTES, 2)) {
        uint16_t attrs = rn_load_be16(b + RN_BATCH_OFF_ATTRIBUTES);
        attrs_text(at, sizeof(at), attrs);
        rn__dump_note(ns, RN_BATCH_OFF_ATTRIBUTES, "attributes=0x%04x (%s)", attrs, at);
    }
    if (has_field(len, RN_BATCH_OFF_LAST_OFFSET_DELTA, 4))
        rn__dump_note(ns, RN_BATCH_OFF_LAST_OFFSET_DELTA, "lastOffsetDelta=%d",
                      (int32_t)rn_load_be32(b + RN_BATCH_OFF_LAST_OFFSET_DELTA));
    if (has_field(len, RN_BATCH_OFF_BASE_TIMESTAMP, 8))
        rn__dump_note(ns, RN_BATCH_OFF_BASE_TIMESTAMP, "baseTimestamp=%lld",
                      (long long)(int64_t)rn_load_be64(b + RN_BATCH_OFF_BASE_TIMESTAMP));
    if (has_field(len, RN_BATCH_OFF_MAX_TIMESTAMP, 8))
        rn__dump_note(ns, RN_BATCH_OFF_MAX_TIMESTAMP, "maxTimestamp=%lld",
                      (long long)(int64_t)rn_load_be64(b + RN_BATCH_OFF_MAX_TIMESTAMP));
    if (has_field(len, RN_BATCH_OFF_PRODUCER_ID, 8))
        rn__dump_note(ns, RN_BATCH_OFF_PRODUCER_ID, "producerId=%lld",
                      (long long)(int64_t)rn_load_be64(b + RN_BATCH_OFF_PRODUCER_ID));
    if (has_field(len, RN_BATCH_OFF_PRODUCER_EPOCH, 2))
        rn__dump_note(ns, RN_BATCH_OFF_PRODUCER_EPOCH, "producerEpoch=%d",
                      (int16_t)rn_load_be16(b + RN_BATCH_OFF_PRODUCER_EPOCH));
    if (has_field(len, RN_BATCH_OFF_BASE_SEQUENCE, 4))
        rn__dump_note(ns, RN_BATCH_OFF_BASE_SEQUENCE, "baseSequence=%d",
                      (int32_t)rn_load_be32(b + RN_BATCH_OFF_BASE_SEQUENCE));
    if (has_field(len, RN_BATCH_OFF_RECORD_COUNT, 4))
        rn__dump_note(ns, RN_BATCH_OFF_RECORD_COUNT, "recordCount=%d",
                      (int32_t)rn_load_be32(b + RN_BATCH_OFF_RECORD_COUNT));
}

void rn__dump_note_header(rn__dump_notes_t *ns, const uint8_t *b, size_t len, int crc_state,
                          uint32_t computed)
{
    if (has_field(len, RN_BATCH_OFF_BASE_OFFSET, 8))
        rn__dump_note(ns, RN_BATCH_OFF_BASE_OFFSET, "baseOffset=%lld",
                      (long long)(int64_t)rn_load_be64(b + RN_BATCH_OFF_BASE_OFFSET));
    if (has_field(len, RN_BATCH_OFF_BATCH_LENGTH, 4)) {
        int32_t length = (int32_t)rn_load_be32(b + RN_BATCH_OFF_BATCH_LENGTH);
        rn__dump_note(ns, RN_BATCH_OFF_BATCH_LENGTH, "batchLength=%d (the batch is %lld bytes)",
                      length, (long long)length + RN_BATCH_LOG_OVERHEAD);
    }
    if (has_field(len, RN_BATCH_OFF_LEADER_EPOCH, 4))
        rn__dump_note(ns, RN_BATCH_OFF_LEADER_EPOCH, "partitionLeaderEpoch=%d",
                      (int32_t)rn_load_be32(b + RN_BATCH_OFF_LEADER_EPOCH));
    if (has_field(len, RN_BATCH_OFF_MAGIC, 1))
        rn__dump_note(ns, RN_BATCH_OFF_MAGIC, "magic=%d", (int8_t)b[RN_BATCH_OFF_MAGIC]);
    if (has_field(len, RN_BATCH_OFF_CRC, 4))
        note_crc(ns, rn_load_be32(b + RN_BATCH_OFF_CRC), crc_state, computed);
    note_header_tail(ns, b, len);
}

/* A cursor over one record's bytes that notes each field; returns 0 on a malformed field. */
typedef struct walk {
    rn__dump_notes_t *ns;
    const uint8_t *sec;
    size_t len, pos, at; /* pos within sec; at = sec's position in the dumped buffer */
    int hex;
} walk_t;

/* The varint (or, when wide, varlong) at w->pos, not consumed: its size in bytes, or 0 when
 * it is malformed or cut by the record's end. */
static int peek_varint(const walk_t *w, int64_t *v, bool wide)
{
    rn_reader_t r = rn_reader_make(w->sec + w->pos, w->len - w->pos);
    *v = wide ? rn_reader_varlong(&r) : rn_reader_varint(&r);
    return r.err ? 0 : (int)(r.p - (w->sec + w->pos));
}

static int walk_varint(walk_t *w, int32_t *v, const char *fmt, const char *prefix)
{
    int64_t wide;
    int n = peek_varint(w, &wide, false);
    if (n <= 0)
        return 0;
    *v = (int32_t)wide;
    rn__dump_note(w->ns, w->at + w->pos, fmt, prefix, *v);
    w->pos += (size_t)n;
    return 1;
}

/* A length varint and the bytes it announces (nullable when -1 is allowed). */
static int walk_bytes(walk_t *w, const char *prefix, const char *field, int nullable)
{
    int64_t wide;
    size_t start = w->pos;
    int k = peek_varint(w, &wide, false);
    int32_t n = (int32_t)wide; /* a varint: within int32 whenever k > 0 */
    if (k <= 0 || n < (nullable ? -1 : 0) || (n > 0 && (size_t)n > w->len - w->pos - (size_t)k))
        return 0;
    rn__dump_note(w->ns, w->at + start, "%s%sLength=%d%s", prefix, field, n,
                  n < 0 ? " (null)" : "");
    w->pos += (size_t)k;
    if (n > 0) {
        char val[100];
        rn__dump_fmt_bytes(val, sizeof(val), w->sec + w->pos, n, w->hex, 40);
        rn__dump_note(w->ns, w->at + w->pos, "%s%s (%d byte%s): %s", prefix, field, n,
                      n == 1 ? "" : "s", val);
        w->pos += (size_t)n;
    }
    return 1;
}

static int walk_record(walk_t *w, const rn_batch_header_t *hdr, int32_t index)
{
    char prefix[48];
    int32_t len, off_delta, hcount;
    int64_t ts_delta;
    snprintf(prefix, sizeof(prefix), "record %d ", index);
    size_t start = w->pos;
    if (!walk_varint(w, &len, "%slength=%d", prefix) || len < 0 || (size_t)len > w->len - w->pos)
        return 0;
    size_t end = w->pos + (size_t)len;
    size_t saved_len = w->len;
    w->len = end; /* fields must stay inside the record */
    int ok = 0;
    if (w->pos < w->len) {
        rn__dump_note(w->ns, w->at + w->pos, "%sattributes=%d", prefix, (int8_t)w->sec[w->pos]);
        w->pos++;
        int n = peek_varint(w, &ts_delta, true);
        if (n > 0) {
            rn__dump_note(w->ns, w->at + w->pos, "%stimestampDelta=%lld (timestamp %lld)", prefix,
                          (long long)ts_delta,
                          (long long)((uint64_t)hdr->base_timestamp + (uint64_t)ts_delta));
            w->pos += (size_t)n;
            ok = 1;
        }
    }
    if (ok) {
        int64_t delta;
        int k = peek_varint(w, &delta, false);
        off_delta = (int32_t)delta;
        ok = k > 0;
        if (ok) {
            rn__dump_note(w->ns, w->at + w->pos, "%soffsetDelta=%d (offset %lld)", prefix,
                          off_delta,
                          (long long)((uint64_t)hdr->base_offset + (uint64_t)(int64_t)off_delta));
            w->pos += (size_t)k;
        }
    }
    ok = ok && walk_bytes(w, prefix, "key", 1) && walk_bytes(w, prefix, "value", 1) &&
         walk_varint(w, &hcount, "%sheaderCount=%d", prefix) && hcount >= 0;
    for (int32_t h = 0; ok && h < hcount; h++) {
        char hp[80];
        snprintf(hp, sizeof(hp), "%sheader %d ", prefix, h);
        ok = walk_bytes(w, hp, "key", 0) && walk_bytes(w, hp, "value", 1);
    }
    w->len = saved_len;
    if (!ok || w->pos != end) {
        rn__dump_note(w->ns, w->at + start, "%sis malformed: annotation stops here", prefix);
        return 0;
    }
    return 1;
}

void rn__dump_note_records(rn__dump_notes_t *ns, const rn_batch_header_t *hdr, const uint8_t *sec,
                           size_t len, size_t at, int hex)
{
    walk_t w = {ns, sec, len, 0, at, hex};
    for (int32_t i = 0; i < hdr->record_count && w.pos < len; i++)
        if (!walk_record(&w, hdr, i))
            return;
    if (w.pos < len)
        rn__dump_note(ns, at + w.pos, "%zu bytes beyond the declared %d records", len - w.pos,
                      hdr->record_count);
}

/* ---- hex dump ---- */

static int note_cmp(const void *a, const void *b)
{
    const rn__dump_note_t *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Column of byte j (0..15) of a line in the hex area: "%08x: " then groups of 2 bytes. */
static int hex_column(size_t j)
{
    return 10 + (int)(j / 2) * 5 + (int)(j % 2) * 2;
}

void rn__dump_hexdump(FILE *out, const uint8_t *buf, size_t len, uint64_t base,
                      rn__dump_notes_t *ns)
{
    if (ns->n > 1)
        qsort(ns->v, ns->n, sizeof(*ns->v), note_cmp);
    size_t k = 0;
    for (size_t line = 0; line < len; line += 16) {
        size_t n = len - line < 16 ? len - line : 16;
        fprintf(out, "%08llx: ", (unsigned long long)(base + line));
        for (size_t j = 0; j < 16; j++) {
            if (j < n)
                fprintf(out, "%02x", buf[line + j]);
            else
                fputs("  ", out);
            if (j % 2)
                fputc(' ', out);
        }
        fputc(' ', out);
        for (size_t j = 0; j < n; j++)
            fputc(buf[line + j] >= 0x20 && buf[line + j] < 0x7f ? buf[line + j] : '.', out);
        fputc('\n', out);
        for (; k < ns->n && ns->v[k].pos < line + n; k++)
            fprintf(out, "%*s^ %s\n", hex_column(ns->v[k].pos - line), "", ns->v[k].text);
    }
}
