/* CRC-32C with a hardware path (SSE4.2) and a slicing-by-8 table fallback. */
#include "rn_crc32c.h"

#include <pthread.h>
#include <string.h>

#define RN_CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t rn_crc32c_table[8][256];
static pthread_once_t rn_crc32c_once = PTHREAD_ONCE_INIT;
static int rn_crc32c_hw;

#if defined(__x86_64__)
/* The crc32 instruction has a 3-cycle latency and a 1-cycle throughput, so the hardware path
 * runs three independent streams over adjacent blocks and joins them. Joining uses linearity:
 * the register after block B = (register before B, advanced over |B| zero bytes) ^ (the
 * register of B from zero). Advancing over a fixed number of zero bytes is a linear map of the
 * register, tabulated per register byte for the two block sizes used. */
#define RN_CRC32C_LONG  8192
#define RN_CRC32C_SHORT 256
static uint32_t rn_crc32c_shift_long[4][256];
static uint32_t rn_crc32c_shift_short[4][256];

/* Advance a raw (un-inverted) register over n zero bytes, one byte at a time. */
static uint32_t rn_crc32c_zeros_slow(uint32_t reg, size_t n)
{
    while (n--)
        reg = rn_crc32c_table[0][reg & 0xff] ^ (reg >> 8);
    return reg;
}

static void rn_crc32c_shift_table(uint32_t tbl[4][256], size_t n)
{
    uint32_t basis[32];
    for (int i = 0; i < 32; i++)
        basis[i] = rn_crc32c_zeros_slow(1u << i, n);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int bit = 0; bit < 8; bit++)
                if (b & (1u << bit))
                    v ^= basis[8 * k + bit];
            tbl[k][b] = v;
        }
}

static inline uint32_t rn_crc32c_shift(const uint32_t tbl[4][256], uint32_t reg)
{
    return tbl[0][reg & 0xff] ^ tbl[1][(reg >> 8) & 0xff] ^ tbl[2][(reg >> 16) & 0xff] ^
           tbl[3][reg >> 24];
}
#endif

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
    if (rn_crc32c_hw) {
        rn_crc32c_shift_table(rn_crc32c_shift_long, RN_CRC32C_LONG);
        rn_crc32c_shift_table(rn_crc32c_shift_short, RN_CRC32C_SHORT);
    }
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
                                                                      const uint8_t *p, size_t len)
{
    uint64_t crc64 = ~crc;
    /* Three streams over blocks of `block` bytes each, joined as explained above. */
    for (int pass = 0; pass < 2; pass++) {
        size_t block = pass == 0 ? RN_CRC32C_LONG : RN_CRC32C_SHORT;
        const uint32_t(*tbl)[256] = pass == 0 ? rn_crc32c_shift_long : rn_crc32c_shift_short;
        while (len >= 3 * block) {
            uint64_t crc1 = 0, crc2 = 0;
            const uint8_t *end = p + block;
            do {
                uint64_t w0, w1, w2;
                memcpy(&w0, p, 8);
                memcpy(&w1, p + block, 8);
                memcpy(&w2, p + 2 * block, 8);
                crc64 = __builtin_ia32_crc32di(crc64, w0);
                crc1 = __builtin_ia32_crc32di(crc1, w1);
                crc2 = __builtin_ia32_crc32di(crc2, w2);
                p += 8;
            } while (p < end);
            crc64 = rn_crc32c_shift(tbl, (uint32_t)crc64) ^ (uint32_t)crc1;
            crc64 = rn_crc32c_shift(tbl, (uint32_t)crc64) ^ (uint32_t)crc2;
            p += 2 * block;
            len -= 3 * block;
        }
    }
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
