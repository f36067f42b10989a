/* Fuzz target: the YAML config reader and value checks. The input is a YAML document fed to
 * rn_config_load_buffer, then the cross-key resolution (listeners, voters, data dir) runs
 * on whatever was accepted. Every outcome must be a clean 0/RN_EINVAL with a message, never
 * a crash, leak or out-of-bounds access. */
#include "rn_config.h"
#include "rn_err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rn_config_t cfg;
    char err[512];
    rn_config_init(&cfg);
    err[0] = '\0';
    int rc = rn_config_load_buffer(&cfg, "fuzz.yaml", data, size, err, sizeof(err));
    if (rc == 0)
        rc = rn_config_resolve(&cfg, err, sizeof(err));
    if (rc != 0 && (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL))
        abort(); /* every failure must explain itself */
    char buf[32];
    for (int k = 0; k < RN_CFG__COUNT; k++)
        (void)rn_config_text(&cfg, (rn_cfg_key_t)k, buf, sizeof(buf));
    rn_config_free(&cfg);
    return 0;
}
