/* Fuzz target: batch header parsing and validation over arbitrary bytes, walking a
 * buffer batch by batch as log recovery does. */
#include "rn_batch.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    rn_batch_header_t hdr;
    while (pos < size && rn_batch_validate(data + pos, size - pos, &hdr) == 0)
        pos += rn_batch_total_size(&hdr);
    return 0;
}
