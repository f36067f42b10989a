/* rn_metrics: the registry (families, series, collectors) and the Prometheus text exposition
 * writer (format 0.0.4). runneld's own families live in metrics_broker.c. See rn_metrics.h. */
#include "metrics_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_hash.h"
#include "rn_map.h"
#include "rn_vec.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest metric name accepted (Prometheus has no limit; ours are far shorter). */
#define RN_METRICS_NAME_MAX 200

const double rn_metrics_latency_bounds[RN_METRICS_LATENCY_BOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* ---- histograms ---- */

void rn_metrics_hist_init(rn_metrics_hist_t *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof(*h));
    if (bounds == NULL) {
        bounds = rn_metrics_latency_bounds;
        n = RN_METRICS_LATENCY_BOUNDS;
    }
    h->bounds = bounds;
    h->n_bounds = (uint32_t)(n <= RN_METRICS_MAX_BUCKETS ? n : RN_METRICS_MAX_BUCKETS);
}

void rn_metrics_hist_observe(rn_metrics_hist_t *h, double v)
{
    /* A linear scan: at most 24 compares, and short latencies (the common case) stop early. */
    uint32_t i = 0;
    while (i < h->n_bounds && !(v <= h->bounds[i]))
        i++;
    h->counts[i]++;
    h->count++;
    if (!isnan(v))
        h->sum += v;
}

/* ---- names and text ---- */

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool valid_metric_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > RN_METRICS_NAME_MAX)
        return false;
    if (!is_alpha(*s) && *s != ':')
        return false;
    for (s++; *s; s++)
        if (!is_alpha(*s) && !is_digit(*s) && *s != ':')
            return false;
    return true;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, and "__" is reserved for Prometheus' own labels. */
static bool valid_label_name(const char *s)
{
    if (s == NULL || !is_alpha(*s) || strncmp(s, "__", 2) == 0 || strlen(s) > RN_METRICS_NAME_MAX)
        return false;
    for (s++; *s; s++)
        if (!is_alpha(*s) && !is_digit(*s))
            return false;
    return true;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the byte at p does not start
 * one (stray continuation, overlong form, surrogate, beyond U+10FFFF, truncated). p is
 * NUL-terminated, and NUL is never a continuation byte, so no read passes the end. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Shortest decimal text that reads back as v; Prometheus' spellings for the specials. */
static const char *format_double(char *buf, size_t len, double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    /* Integers print as such (no libm: floor() would need -lm in unoptimised builds). */
    if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {
        snprintf(buf, len, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* ---- the exposition writer ---- */

struct rn_metrics_writer {
    struct evbuffer *out;
    char family[RN_METRICS_NAME_MAX + 1]; /* the current family; "" when none is open */
    rn_metrics_type_t type;
    char **seen; /* names written so far (with a histogram's derived names) */
    size_t n_seen, cap_seen;
    size_t dropped;
    char problem[300]; /* the first reason something was dropped, for the log */
    bool oom;          /* sticky: out could not grow */
};

__attribute__((format(printf, 2, 3))) static void drop(rn_metrics_writer_t *w, const char *fmt, ...)
{
    if (w->dropped++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->problem, sizeof(w->problem), fmt, ap);
        va_end(ap);
    }
}

static void put(rn_metrics_writer_t *w, const char *s, size_t len)
{
    if (!w->oom && len > 0 && evbuffer_add(w->out, s, len) != 0)
        w->oom = true;
}

static void puts_(rn_metrics_writer_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Text with \ and newline escaped (and " in label values); invalid UTF-8 becomes U+FFFD. */
static void put_escaped(rn_metrics_writer_t *w, const char *text, bool label_value)
{
    const unsigned char *p = (const unsigned char *)text, *run = p;
    while (*p) {
        const char *esc = NULL;
        size_t n = 1;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '\n')
            esc = "\\n";
        else if (*p == '"' && label_value)
            esc = "\\\"";
        else if ((n = utf8_len(p)) == 0)
            esc = "\xEF\xBF\xBD";
        if (esc == NULL) {
            p += n;
            continue;
        }
        put(w, (const char *)run, (size_t)(p - run));
        puts_(w, esc);
        p += n > 0 ? n : 1;
        run = p;
    }
    put(w, (const char *)run, (size_t)(p - run));
}

static bool seen(const rn_metrics_writer_t *w, const char *name)
{
    for (size_t i = 0; i < w->n_seen; i++)
        if (strcmp(w->seen[i], name) == 0)
            return true;
    return false;
}

static void remember(rn_metrics_writer_t *w, const char *name)
{
    rn_vec_xpush(w->seen, w->n_seen, w->cap_seen, rn_xstrdup(name));
}

static const char *const hist_suffixes[] = {"_bucket", "_sum", "_count"};

int rn_metrics_emit_family(rn_metrics_writer_t *w, rn_metrics_type_t type, const char *name,
                           const char *help)
{
    w->family[0] = '\0';
    if (!valid_metric_name(name)) {
        drop(w, "\"%s\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", name ? name : "(null)");
        return RN_EINVAL;
    }
    /* A histogram also writes name_bucket, name_sum and name_count: none of the four may
     * collide with a name written before. */
    char derived[3][RN_METRICS_NAME_MAX + 16];
    size_t n_derived = type == RN_METRICS_HISTOGRAM ? 3 : 0;
    for (size_t i = 0; i < n_derived; i++)
        snprintf(derived[i], sizeof(derived[i]), "%s%s", name, hist_suffixes[i]);
    bool dup = seen(w, name);
    for (size_t i = 0; i < n_derived; i++)
        dup = dup || seen(w, derived[i]);
    if (dup) {
        drop(w, "family %s was already written in this exposition", name);
        return RN_EINVAL;
    }
    remember(w, name);
    for (size_t i = 0; i < n_derived; i++)
        remember(w, derived[i]);

    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    if (help != NULL) {
        puts_(w, "# HELP ");
        puts_(w, name);
        puts_(w, " ");
        put_escaped(w, help, false);
        puts_(w, "\n");
    }
    puts_(w, "# TYPE ");
    puts_(w, name);
    puts_(w, " ");
    puts_(w, type_names[type]);
    puts_(w, "\n");
    snprintf(w->family, sizeof(w->family), "%s", name);
    w->type = type;
    return 0;
}

/* Whether a sample with these labels may be written into the current family. */
static bool sample_ok(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n, bool hist)
{
    if (w->family[0] == '\0') {
        drop(w, "a sample outside a valid family");
        return false;
    }
    if (hist != (w->type == RN_METRICS_HISTOGRAM)) {
        drop(w, "%s: a %s sample in a %s family", w->family, hist ? "histogram" : "scalar",
             hist ? "scalar" : "histogram");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!valid_label_name(labels[i].name) || (hist && strcmp(labels[i].name, "le") == 0)) {
            drop(w, "%s: \"%s\" is not a label name here", w->family,
                 labels[i].name ? labels[i].name : "(null)");
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i].name, labels[j].name) == 0) {
                drop(w, "%s: label %s given twice", w->family, labels[i].name);
                return false;
            }
    }
    return true;
}

/* name+suffix{labels[,le="..."]} value\n */
static void put_sample(rn_metrics_writer_t *w, const char *suffix, const rn_metrics_label_t *labels,
                       size_t n, const char *le, const char *value)
{
    puts_(w, w->family);
    puts_(w, suffix);
    if (n > 0 || le != NULL) {
        puts_(w, "{");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                puts_(w, ",");
            puts_(w, labels[i].name);
            puts_(w, "=\"");
            put_escaped(w, labels[i].value ? labels[i].value : "", true);
            puts_(w, "\"");
        }
        if (le != NULL) {
            puts_(w, n > 0 ? ",le=\"" : "le=\"");
            puts_(w, le);
            puts_(w, "\"");
        }
        puts_(w, "}");
    }
    puts_(w, " ");
    puts_(w, value);
    puts_(w, "\n");
}

void rn_metrics_emit(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n, double v)
{
    char buf[40];
    if (sample_ok(w, labels, n, false))
        put_sample(w, "", labels, n, NULL, format_double(buf, sizeof(buf), v));
}

void rn_metrics_emit_i64(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n,
                         int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    if (sample_ok(w, labels, n, false))
        put_sample(w, "", labels, n, NULL, buf);
}

void rn_metrics_emit_u64(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n,
                         uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    if (sample_ok(w, labels, n, false))
        put_sample(w, "", labels, n, NULL, buf);
}

void rn_metrics_emit_hist(rn_metrics_writer_t *w, const rn_metrics_label_t *labels, size_t n,
                          const rn_metrics_hist_t *h)
{
    if (!sample_ok(w, labels, n, true))
        return;
    char le[40], val[24];
    uint64_t cum = 0;
    for (uint32_t i = 0; i < h->n_bounds; i++) {
        cum += h->counts[i];
        snprintf(val, sizeof(val), "%" PRIu64, cum);
        put_sample(w, "_bucket", labels, n, format_double(le, sizeof(le), h->bounds[i]), val);
    }
    snprintf(val, sizeof(val), "%" PRIu64, h->count);
    put_sample(w, "_bucket", labels, n, "+Inf", val);
    put_sample(w, "_sum", labels, n, NULL, format_double(le, sizeof(le), h->sum));
    put_sample(w, "_count", labels, n, NULL, val);
}

/* ---- the registry ---- */

rn_metrics_t *rn_metrics_new(void)
{
    return rn_xcalloc(1, sizeof(rn_metrics_t));
}

static void series_free_all(rn_metrics_family_t *fam)
{
    for (size_t i = 0; i < fam->n_series; i++)
        rn_free(fam->series[i]);
    fam->n_series = 0;
    rn_map_clear(&fam->index);
}

static void family_free(rn_metrics_family_t *fam)
{
    series_free_all(fam);
    rn_free(fam->series);
    rn_map_free(&fam->index);
    for (size_t i = 0; i < fam->n_labels; i++)
        rn_free(fam->labels[i]);
    rn_free(fam->name);
    rn_free(fam->help);
    rn_free(fam);
}

void rn_metrics_free(rn_metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_items; i++)
        if (m->items[i].fam != NULL)
            family_free(m->items[i].fam);
    rn_free(m->items);
    rn_free(m->broker.ctx);
    rn_free(m);
}

static void add_item(rn_metrics_t *m, rn_metrics_item_t item)
{
    rn_vec_xpush(m->items, m->n_items, m->cap_items, item);
}

/* The hash of a series' label values, each followed by a 0xff byte (which UTF-8 never
 * contains) so ("ab", "c") and ("a", "bc") differ. */
static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = RN_HASH_SEED;
    for (size_t i = 0; i < n; i++) {
        h = rn_hash_fnv1a(h, values[i], strlen(values[i]));
        h = rn_hash_fnv1a(h, "\xff", 1);
    }
    return rn_hash_mix(h);
}

static rn_metrics_series_t *series_new(rn_metrics_family_t *fam, const char *const *values,
                                       uint64_t hash)
{
    size_t size = sizeof(rn_metrics_series_t) + fam->n_labels * sizeof(char *);
    size_t hist_at = size; /* a multiple of 8: the struct and the pointers are */
    if (fam->type == RN_METRICS_HISTOGRAM)
        size += sizeof(rn_metrics_hist_t);
    size_t text_at = size;
    for (size_t i = 0; i < fam->n_labels; i++)
        size += strlen(values[i]) + 1;
    rn_metrics_series_t *s = rn_xcalloc(1, size);
    s->hash = hash;
    char *text = (char *)s + text_at;
    for (size_t i = 0; i < fam->n_labels; i++) {
        size_t len = strlen(values[i]) + 1;
        memcpy(text, values[i], len);
        s->values[i] = text;
        text += len;
    }
    if (fam->type == RN_METRICS_HISTOGRAM) {
        s->hist = (rn_metrics_hist_t *)((char *)s + hist_at);
        rn_metrics_hist_init(s->hist, fam->bounds, fam->n_bounds);
    }
    return s;
}

/* A lookup key: the label values of fam (n_labels of them). */
typedef struct series_key {
    const rn_metrics_family_t *fam;
    const char *const *values;
} series_key_t;

static bool series_has_values(const void *item, const void *key)
{
    const rn_metrics_series_t *s = item;
    const series_key_t *k = key;
    for (size_t i = 0; i < k->fam->n_labels; i++)
        if (strcmp(s->values[i], k->values[i]) != 0)
            return false;
    return true;
}

static rn_metrics_series_t *series_find(const rn_metrics_family_t *fam, const char *const *values,
                                        uint64_t hash)
{
    series_key_t key = {fam, values};
    return rn_map_get(&fam->index, hash, series_has_values, &key);
}

rn_metrics_series_t *rn_metrics_series(rn_metrics_family_t *fam, const char *const *values)
{
    if (fam == NULL)
        return NULL;
    if (fam->n_labels == 0)
        return fam->series[0]; /* created with the family */
    uint64_t hash = hash_values(values, fam->n_labels);
    rn_metrics_series_t *s = series_find(fam, values, hash);
    if (s != NULL)
        return s;
    s = series_new(fam, values, hash);
    rn_vec_xpush(fam->series, fam->n_series, fam->cap_series, s);
    rn_map_xput(&fam->index, hash, s);
    return s;
}

rn_metrics_series_t *rn_metrics_series1(rn_metrics_family_t *fam, const char *value)
{
    const char *values[1] = {value};
    return rn_metrics_series(fam, values);
}

rn_metrics_series_t *rn_metrics_series_find1(rn_metrics_family_t *fam, const char *value)
{
    if (fam == NULL || fam->n_labels != 1)
        return NULL;
    const char *values[1] = {value};
    return series_find(fam, values, hash_values(values, 1));
}

/* Remove the series at position i, keeping the creation order of the others. */
static void series_remove_at(rn_metrics_family_t *fam, size_t i)
{
    rn_map_remove_item(&fam->index, fam->series[i]->hash, fam->series[i]);
    rn_free(fam->series[i]);
    memmove(&fam->series[i], &fam->series[i + 1], (fam->n_series - i - 1) * sizeof(*fam->series));
    fam->n_series--;
}

void rn_metrics_series_remove(rn_metrics_family_t *fam, const char *const *values)
{
    if (fam == NULL || fam->n_labels == 0)
        return;
    rn_metrics_series_t *s = series_find(fam, values, hash_values(values, fam->n_labels));
    if (s == NULL)
        return;
    size_t i = 0;
    while (fam->series[i] != s)
        i++;
    series_remove_at(fam, i);
}

void rn_metrics_family_filter(rn_metrics_family_t *fam, rn_metrics_live_fn live, void *arg)
{
    fam->live = live;
    fam->live_arg = arg;
}

size_t rn_metrics_family_size(const rn_metrics_family_t *fam)
{
    return fam->n_series;
}

/* Split "a,b" into fam->labels. false (with a reason) when a name is bad. */
static bool parse_labels(rn_metrics_family_t *fam, const char *names, char *why, size_t whylen)
{
    if (names == NULL || *names == '\0')
        return true;
    const char *p = names;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (fam->n_labels == RN_METRICS_MAX_LABELS) {
            snprintf(why, whylen, "more than %d labels", RN_METRICS_MAX_LABELS);
            return false;
        }
        char *name = rn_xstrndup(p, len);
        fam->labels[fam->n_labels++] = name;
        if (!valid_label_name(name)) {
            snprintf(why, whylen, "\"%s\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", name);
            return false;
        }
        if (fam->type == RN_METRICS_HISTOGRAM && strcmp(name, "le") == 0) {
            snprintf(why, whylen, "label le is reserved for a histogram's buckets");
            return false;
        }
        for (size_t i = 0; i + 1 < fam->n_labels; i++)
            if (strcmp(fam->labels[i], name) == 0) {
                snprintf(why, whylen, "label %s is listed twice", name);
                return false;
            }
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

static bool valid_bounds(const double *bounds, size_t n)
{
    if (n > RN_METRICS_MAX_BUCKETS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return false;
    return true;
}

rn_metrics_family_t *rn_metrics_family(rn_metrics_t *m, rn_metrics_type_t type, const char *name,
                                       const char *help, const char *label_names,
                                       const double *bounds, size_t n_bounds)
{
    char why[200] = "";
    rn_metrics_family_t *fam = rn_xcalloc(1, sizeof(*fam));
    fam->type = type;
    if (!valid_metric_name(name))
        snprintf(why, sizeof(why), "not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
    for (size_t i = 0; why[0] == '\0' && i < m->n_items; i++)
        if (m->items[i].fam != NULL && strcmp(m->items[i].fam->name, name) == 0)
            snprintf(why, sizeof(why), "registered twice");
    if (why[0] == '\0')
        parse_labels(fam, label_names, why, sizeof(why));
    if (why[0] == '\0' && type == RN_METRICS_HISTOGRAM) {
        if (bounds == NULL) {
            bounds = rn_metrics_latency_bounds;
            n_bounds = RN_METRICS_LATENCY_BOUNDS;
        }
        if (!valid_bounds(bounds, n_bounds))
            snprintf(why, sizeof(why),
                     "bucket bounds must be finite, strictly increasing, at most %d",
                     RN_METRICS_MAX_BUCKETS);
        else {
            memcpy(fam->bounds, bounds, n_bounds * sizeof(*bounds));
            fam->n_bounds = n_bounds;
        }
    }
    if (why[0] != '\0') {
        RN_ERROR("metrics", "metric family %s: %s; it is left out", name ? name : "(null)", why);
        family_free(fam);
        return NULL;
    }
    fam->name = rn_xstrdup(name);
    fam->help = help != NULL ? rn_xstrdup(help) : NULL;
    if (fam->n_labels == 0) {
        fam->series = rn_xcalloc(1, sizeof(*fam->series));
        fam->cap_series = 1;
        fam->series[fam->n_series++] = series_new(fam, NULL, 0);
    }
    add_item(m, (rn_metrics_item_t){fam, NULL, NULL});
    return fam;
}

void rn_metrics_inc(rn_metrics_series_t *s, uint64_t n)
{
    s->v.count += n;
}

void rn_metrics_set(rn_metrics_series_t *s, double v)
{
    s->v.value = v;
}

void rn_metrics_add(rn_metrics_series_t *s, double v)
{
    s->v.value += v;
}

void rn_metrics_observe(rn_metrics_series_t *s, double v)
{
    rn_metrics_hist_observe(s->hist, v);
}

uint64_t rn_metrics_count(const rn_metrics_series_t *s)
{
    return s->hist != NULL ? s->hist->count : s->v.count;
}

double rn_metrics_value(const rn_metrics_series_t *s)
{
    return s->v.value;
}

void rn_metrics_add_collector(rn_metrics_t *m, rn_metrics_collect_fn fn, void *arg)
{
    add_item(m, (rn_metrics_item_t){NULL, fn, arg});
}

void rn_metrics_remove_collector(rn_metrics_t *m, rn_metrics_collect_fn fn, void *arg)
{
    for (size_t i = 0; i < m->n_items; i++) {
        rn_metrics_item_t *item = &m->items[i];
        if (item->fam == NULL && item->collect == fn && item->arg == arg) {
            memmove(item, item + 1, (m->n_items - i - 1) * sizeof(*item));
            m->n_items--;
            return;
        }
    }
}

static void render_family(rn_metrics_writer_t *w, rn_metrics_family_t *fam)
{
    if (fam->live != NULL) {
        for (size_t i = fam->n_series; i-- > 0;)
            if (!fam->live((const char *const *)fam->series[i]->values, fam->live_arg))
                series_remove_at(fam, i);
    }
    if (rn_metrics_emit_family(w, fam->type, fam->name, fam->help) != 0)
        return;
    rn_metrics_label_t labels[RN_METRICS_MAX_LABELS];
    for (size_t i = 0; i < fam->n_series; i++) {
        const rn_metrics_series_t *s = fam->series[i];
        for (size_t j = 0; j < fam->n_labels; j++)
            labels[j] = (rn_metrics_label_t){fam->labels[j], s->values[j]};
        switch (fam->type) {
        case RN_METRICS_COUNTER: rn_metrics_emit_u64(w, labels, fam->n_labels, s->v.count); break;
        case RN_METRICS_GAUGE: rn_metrics_emit(w, labels, fam->n_labels, s->v.value); break;
        case RN_METRICS_HISTOGRAM: rn_metrics_emit_hist(w, labels, fam->n_labels, s->hist); break;
        }
    }
}

int rn_metrics_render(rn_metrics_t *m, struct evbuffer *out)
{
    rn_metrics_writer_t w = {.out = out};
    for (size_t i = 0; i < m->n_items; i++) {
        rn_metrics_item_t *item = &m->items[i];
        if (item->fam != NULL)
            render_family(&w, item->fam);
        else
            item->collect(&w, item->arg);
        w.family[0] = '\0'; /* a collector's samples cannot spill into the next family */
    }
    m->dropped = w.dropped;
    if (w.dropped > 0)
        RN_WARN("metrics", "%zu families or samples left out of the exposition; the first: %s",
                w.dropped, w.problem);
    for (size_t i = 0; i < w.n_seen; i++)
        rn_free(w.seen[i]);
    rn_free(w.seen);
    return w.oom ? RN_ENOMEM : 0;
}

size_t rn_metrics_dropped(const rn_metrics_t *m)
{
    return m->dropped;
}
