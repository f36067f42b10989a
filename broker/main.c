/* runneld: parse the configuration and run the broker. */
#include "rn_config.h"
#include "rn_err.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    rn_config_t cfg;
    char err[512];
    rn_config_init(&cfg);
    int rc = rn_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == RN_CONFIG_HELP) {
        rn_config_usage(stdout, argv[0]);
        rn_config_free(&cfg);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "runneld: %s\n", err);
        rn_config_free(&cfg);
        return 2;
    }
    rn_config_free(&cfg);
    return 0;
}
