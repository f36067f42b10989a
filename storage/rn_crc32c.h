/* rn_crc32c: CRC-32C (Castagnoli), the checksum of Kafka record batches.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a slicing-by-8 table otherwise. */
#ifndef RN_CRC32C_H
#define RN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; feed chunks in order. */
uint32_t rn_crc32c(uint32_t crc, const void *data, size_t len);
/* The portable table implementation, exposed so tests can compare both paths. */
uint32_t rn_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* 1 when the hardware path is in use. */
int rn_crc32c_hw_available(void);

#endif
