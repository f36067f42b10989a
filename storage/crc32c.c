/* CRC-32C with a hardware path (SSE4.2) and a slicing-by-8 table fallback. */
#include "rn_crc32c.h"

#include <pthread.h>
#include <string.h>

#define RN_CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t rn_crc32c_table[8][256];
static pthread_once_t rn_crc32c_once = PTHREAD_ONCE_INIT;
static int rn_crc32c_hw;

static void rn_crc32c_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ RN_CRC32C_POLY : crc >> 1;
        rn_crc32c_table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = rn_crc32c_table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = rn_crc32c_table[0][crc & 0xff] ^ (crc >> 8);
            rn_crc32c_table[k][n] = crc;
        }
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    rn_crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t rn_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&rn_crc32c_once, rn_crc32c_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= crc; /* little-endian: the low 4 bytes carry the running CRC */
        crc = rn_crc32c_table[7][word & 0xff] ^ rn_crc32c_table[6][(word >> 8) & 0xff] ^
              rn_crc32c_table[5][(word >> 16) & 0xff] ^ rn_crc32c_table[4][(word >> 24) & 0xff] ^
              rn_crc32c_table[3][(word >> 32) & 0xff] ^ rn_crc32c_table[2][(word >> 40) & 0xff] ^
              rn_crc32c_table[1][(word >> 48) & 0xff] ^ rn_crc32c_table[0][word >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = rn_crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t rn_crc32c_hw_update(uint32_t crc,
                                                                       const uint8_t *p,
                                                                       size_t len)
{
    uint64_t crc64 = ~crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        crc64 = __builtin_ia32_crc32di(crc64, word);
        p += 8;
        len -= 8;
    }
    uint32_t crc32 = (uint32_t)crc64;
    while (len--)
        crc32 = __builtin_ia32_crc32qi(crc32, *p++);
    return ~crc32;
}
#endif

uint32_t rn_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&rn_crc32c_once, rn_crc32c_init);
#if defined(__x86_64__)
    if (rn_crc32c_hw)
        return rn_crc32c_hw_update(crc, data, len);
#endif
    return rn_crc32c_sw(crc, data, len);
}

int rn_crc32c_hw_available(void)
{
    pthread_once(&rn_crc32c_once, rn_crc32c_init);
    return rn_crc32c_hw;
}
