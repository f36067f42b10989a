/* tap.h: runnel's tiny TAP harness. Every unit test uses it; ctest runs each test
 * program and its exit status is the verdict (non-zero when any check failed).
 *
 *   plan(3);                      or done_testing() at the end
 *   ok(cond, "name %d", i);
 *   is(got, want, "name");        integers; prints both values on failure
 *   is_str(got, want, "name");    strings (NULL-safe)
 *   diag("seed %u", seed);        a comment line
 *   return done_testing();
 */
#ifndef RN_TAP_H
#define RN_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed, tap_planned = -1;

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
}

static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
}

__attribute__((format(printf, 1, 2))) static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vline("# ", fmt, ap);
    va_end(ap);
    fflush(stdout);
}

__attribute__((format(printf, 4, 5))) static inline int tap_ok(int cond, const char *file, int line,
                                                               const char *fmt, ...)
{
    va_list ap;
    tap_count++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is(got, want, ...)                                                                         \
    do {                                                                                           \
        long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);                           \
        if (!tap_ok(tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__))                            \
            printf("#        got: %lld\n#   expected: %lld\n", tap_g_, tap_w_);                    \
    } while (0)

#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *tap_g_ = (got), *tap_w_ = (want);                                              \
        int tap_eq_ =                                                                              \
            (tap_g_ == NULL || tap_w_ == NULL) ? tap_g_ == tap_w_ : strcmp(tap_g_, tap_w_) == 0;   \
        if (!tap_ok(tap_eq_, __FILE__, __LINE__, __VA_ARGS__))                                     \
            printf("#        got: \"%s\"\n#   expected: \"%s\"\n", tap_g_ ? tap_g_ : "(null)",     \
                   tap_w_ ? tap_w_ : "(null)");                                                    \
    } while (0)

static inline int done_testing(void)
{
    if (tap_planned < 0)
        printf("1..%d\n", tap_count);
    else if (tap_planned != tap_count) {
        printf("# planned %d tests but ran %d\n", tap_planned, tap_count);
        return 1;
    }
    if (tap_failed)
        printf("# failed %d of %d tests\n", tap_failed, tap_count);
    return tap_failed ? 1 : 0;
}

#endif
