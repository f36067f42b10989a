/* CRC-32C: known vectors (RFC 3720 appendix B.4), hardware path == table path. */
#include "rn_crc32c.h"
#include "tap.h"

#include <stdlib.h>

int main(void)
{
    is(rn_crc32c(0, "123456789", 9), 0xe3069283u, "check value of \"123456789\"");
    is(rn_crc32c_sw(0, "123456789", 9), 0xe3069283u, "table path check value");
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        inc[i] = (uint8_t)i;
    }
    is(rn_crc32c(0, zeros, 32), 0x8a9136aau, "32 zero bytes");
    is(rn_crc32c(0, ones, 32), 0x62a8ab43u, "32 0xff bytes");
    is(rn_crc32c(0, inc, 32), 0x46dd794eu, "32 incrementing bytes");
    is(rn_crc32c(0, "", 0), 0, "empty input");

    unsigned seed = 12345;
    srand(seed);
    uint8_t buf[4099];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rand();
    int same = 1;
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len < sizeof(buf) - off; len += 97)
            same &= rn_crc32c(0, buf + off, len) == rn_crc32c_sw(0, buf + off, len);
    ok(same, "hardware (%d) and table paths agree on unaligned lengths (seed %u)",
       rn_crc32c_hw_available(), seed);
    /* Long inputs take the interleaved hardware path (3 x 8 KiB and 3 x 256 B blocks). */
    size_t big_len = 3 * 8192 * 4 + 3 * 256 * 2 + 77;
    uint8_t *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)rand();
    int big_same = 1;
    for (size_t len = 0; len <= big_len; len += len < 30000 ? 761 : 4099)
        big_same &= rn_crc32c(0, big, len) == rn_crc32c_sw(0, big, len) &&
                    rn_crc32c(0x12345678u, big + 3, len - (len > 3 ? 3 : len)) ==
                        rn_crc32c_sw(0x12345678u, big + 3, len - (len > 3 ? 3 : len));
    big_same &= rn_crc32c(0, big, 3 * 8192) == rn_crc32c_sw(0, big, 3 * 8192) &&
                rn_crc32c(0, big, 3 * 256) == rn_crc32c_sw(0, big, 3 * 256);
    ok(big_same, "interleaved blocks agree with the table path on long inputs");
    free(big);
    uint32_t whole = rn_crc32c(0, buf, sizeof(buf));
    uint32_t parts = rn_crc32c(rn_crc32c(0, buf, 1000), buf + 1000, sizeof(buf) - 1000);
    is(parts, whole, "chunked CRC equals one-shot CRC");
    return done_testing();
}
