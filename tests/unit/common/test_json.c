/* rn_json: commas and nesting, escaping (quotes, controls, HTML-significant characters),
 * invalid UTF-8 replaced, numbers, the cap and the sticky error, misuse refused. */
#include "rn_err.h"
#include "rn_json.h"
#include "rn_alloc.h"
#include "tap.h"

#include <math.h>
#include <string.h>

int main(void)
{
    rn_json_t j;
    rn_json_init(&j, 0);
    rn_json_obj(&j);
    rn_json_kstr(&j, "a", "x");
    rn_json_key(&j, "b");
    rn_json_arr(&j);
    rn_json_i64(&j, -5);
    rn_json_u64(&j, 18446744073709551615ull);
    rn_json_obj(&j);
    rn_json_end(&j);
    rn_json_arr(&j);
    rn_json_end(&j);
    rn_json_null(&j);
    rn_json_bool(&j, true);
    rn_json_end(&j);
    rn_json_kdouble(&j, "c", 0.5);
    rn_json_kdouble(&j, "nan", NAN);
    rn_json_key(&j, "h");
    rn_json_hex(&j, (const uint8_t *)"\x01\xab", 2);
    rn_json_end(&j);
    is(j.err, 0, "no error");
    is_str(j.buf,
           "{\"a\":\"x\",\"b\":[-5,18446744073709551615,{},[],null,true],\"c\":0.5,"
           "\"nan\":null,\"h\":\"01ab\"}",
           "nested document");
    is(j.depth, 0, "all closed");
    rn_json_free(&j);

    rn_json_init(&j, 0);
    rn_json_strn(&j, "q\"b\\\n\t\x01</a>&\x7f", 13);
    is_str(j.buf, "\"q\\\"b\\\\\\n\\t\\u0001\\u003c/a\\u003e\\u0026\\u007f\"",
           "quotes, backslash, controls and HTML characters escaped");
    rn_json_free(&j);

    rn_json_init(&j, 0);
    rn_json_strn(&j, "\xc3\xa9\xff\xe2\x82\xac\xed\xa0\x80", 9);
    is_str(j.buf, "\"\xc3\xa9\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
           "valid UTF-8 kept, invalid bytes and surrogates become U+FFFD");
    rn_json_free(&j);
    ok(rn_json_utf8_valid((const uint8_t *)"a\xc3\xa9", 3), "valid UTF-8");
    ok(!rn_json_utf8_valid((const uint8_t *)"\xc0\x80", 2), "overlong refused");
    ok(!rn_json_utf8_valid((const uint8_t *)"\xe2\x82", 2), "cut sequence refused");

    rn_json_init(&j, 16);
    rn_json_arr(&j);
    for (int i = 0; i < 10; i++)
        rn_json_i64(&j, 1000);
    size_t len_at_err = j.len;
    rn_json_end(&j);
    is(j.err, RN_ETOOBIG, "past the cap: RN_ETOOBIG");
    is(j.len, len_at_err, "sticky: nothing written after the error");
    ok(j.len <= 16, "output within the cap (%zu)", j.len);
    rn_json_free(&j);

    rn_json_init(&j, 0);
    rn_json_end(&j);
    is(j.err, RN_EINVAL, "close without open refused");
    rn_json_free(&j);
    rn_json_init(&j, 0);
    rn_json_arr(&j);
    rn_json_key(&j, "k");
    is(j.err, RN_EINVAL, "key inside an array refused");
    rn_json_free(&j);
    rn_json_init(&j, 0);
    for (int i = 0; i <= RN_JSON_MAX_DEPTH; i++)
        rn_json_arr(&j);
    is(j.err, RN_EINVAL, "nesting past RN_JSON_MAX_DEPTH refused");
    rn_json_free(&j);

    rn_json_init(&j, 0);
    rn_json_str(&j, NULL);
    size_t len;
    char *buf = rn_json_take(&j, &len);
    is_str(buf, "null", "NULL string is null");
    is(len, 4, "taken length");
    ok(j.buf == NULL && j.len == 0, "writer empty after take");
    rn_free(buf);
    return done_testing();
}
