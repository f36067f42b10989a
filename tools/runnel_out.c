/* runnel's output: aligned tables for people and a small streaming JSON writer for scripts
 * (see rn_cli.h). */
#include "rn_cli.h"

#include "rn_alloc.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void rn_cli_table_init(rn_cli_table_t *t, int ncols, const char *const *head)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->head = rn_xcalloc((size_t)ncols, sizeof *t->head);
    t->right = rn_xcalloc((size_t)ncols, sizeof *t->right);
    for (int c = 0; c < ncols; c++) {
        t->right[c] = head[c][0] == '>';
        t->head[c] = head[c] + (t->right[c] ? 1 : 0);
    }
}

void rn_cli_table_add(rn_cli_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = rn_xrealloc(t->cells, sizeof *t->cells * (size_t)t->cap * (size_t)t->ncols);
    }
    for (int c = 0; c < t->ncols; c++)
        t->cells[(size_t)t->nrows * (size_t)t->ncols + (size_t)c] = cells[c] ? cells[c] : "-";
    t->nrows++;
}

static void print_row(const rn_cli_table_t *t, const char *const *row, const size_t *width,
                      FILE *out)
{
    for (int c = 0; c < t->ncols; c++) {
        bool last = c == t->ncols - 1;
        int w = (int)width[c];
        if (t->right[c])
            fprintf(out, "%*s", w, row[c]);
        else if (last)
            fputs(row[c], out);
        else
            fprintf(out, "%-*s", w, row[c]);
        fputs(last ? "\n" : "  ", out);
    }
}

void rn_cli_table_print(rn_cli_table_t *t, FILE *out)
{
    size_t *width = rn_xcalloc((size_t)t->ncols, sizeof *width);
    for (int c = 0; c < t->ncols; c++) {
        width[c] = strlen(t->head[c]);
        for (int r = 0; r < t->nrows; r++) {
            size_t n = strlen(t->cells[(size_t)r * (size_t)t->ncols + (size_t)c]);
            if (n > width[c])
                width[c] = n;
        }
    }
    print_row(t, t->head, width, out);
    for (int r = 0; r < t->nrows; r++)
        print_row(t, t->cells + (size_t)r * (size_t)t->ncols, width, out);
    rn_free(width);
    rn_free(t->cells);
    rn_free(t->head);
    rn_free(t->right);
    memset(t, 0, sizeof *t);
}

/* ---- JSON ---- */

void rn_cli_json_init(rn_cli_json_t *j, FILE *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

/* Separator before a value: a comma between array elements / object members. */
static void before_value(rn_cli_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0 && j->need_comma[j->depth])
        fputc(',', j->out);
    if (j->depth > 0)
        j->need_comma[j->depth] = true;
}

static void after_value(rn_cli_json_t *j)
{
    if (j->depth == 0)
        fputc('\n', j->out);
}

void rn_cli_json_obj(rn_cli_json_t *j)
{
    before_value(j);
    fputc('{', j->out);
    if (j->depth < 31)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void rn_cli_json_arr(rn_cli_json_t *j)
{
    before_value(j);
    fputc('[', j->out);
    if (j->depth < 31)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void rn_cli_json_end(rn_cli_json_t *j, char close)
{
    fputc(close, j->out);
    if (j->depth > 0)
        j->depth--;
    after_value(j);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static int utf8_len(const uint8_t *p, int64_t left)
{
    uint8_t c = p[0];
    int n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (left < n)
        return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

static void put_escaped(FILE *out, const uint8_t *p, int64_t len)
{
    fputc('"', out);
    for (int64_t i = 0; i < len;) {
        uint8_t c = p[i];
        switch (c) {
        case '"': fputs("\\\"", out), i++; continue;
        case '\\': fputs("\\\\", out), i++; continue;
        case '\n': fputs("\\n", out), i++; continue;
        case '\r': fputs("\\r", out), i++; continue;
        case '\t': fputs("\\t", out), i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            i++;
            continue;
        }
        int n = utf8_len(p + i, len - i);
        if (n == 0) {
            /* Not UTF-8: keep the byte's value as the code point U+00XX. */
            fprintf(out, "\\u%04x", c);
            i++;
            continue;
        }
        fwrite(p + i, 1, (size_t)n, out);
        i += n;
    }
    fputc('"', out);
}

void rn_cli_json_key(rn_cli_json_t *j, const char *key)
{
    before_value(j);
    put_escaped(j->out, (const uint8_t *)key, (int64_t)strlen(key));
    fputc(':', j->out);
    j->after_key = true;
}

void rn_cli_json_bytes(rn_cli_json_t *j, const void *data, int64_t len)
{
    before_value(j);
    if (len < 0)
        fputs("null", j->out);
    else
        put_escaped(j->out, data, len);
    after_value(j);
}

void rn_cli_json_str(rn_cli_json_t *j, const char *s)
{
    rn_cli_json_bytes(j, s, s ? (int64_t)strlen(s) : -1);
}

void rn_cli_json_rnstr(rn_cli_json_t *j, rn_str_t s)
{
    rn_cli_json_bytes(j, s.ptr, s.len);
}

void rn_cli_json_int(rn_cli_json_t *j, int64_t v)
{
    before_value(j);
    fprintf(j->out, "%" PRId64, v);
    after_value(j);
}

void rn_cli_json_num(rn_cli_json_t *j, double v)
{
    before_value(j);
    if (!isfinite(v))
        fputs("null", j->out); /* JSON has no NaN or infinity */
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        fprintf(j->out, "%.0f", v); /* integral values (byte rates) without a fraction */
    else
        fprintf(j->out, "%.17g", v);
    after_value(j);
}

void rn_cli_json_bool(rn_cli_json_t *j, bool v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->out);
    after_value(j);
}

void rn_cli_json_null(rn_cli_json_t *j)
{
    before_value(j);
    fputs("null", j->out);
    after_value(j);
}

void rn_cli_json_ids(rn_cli_json_t *j, const rn_int32_array_t *ids)
{
    rn_cli_json_arr(j);
    for (int32_t i = 0; i < ids->count; i++)
        rn_cli_json_int(j, ids->items[i]);
    rn_cli_json_end(j, ']');
}
