/* Private to runneld's configuration files (config.c, config_listeners.c). */
#ifndef RN_CONFIG_INT_H
#define RN_CONFIG_INT_H

#include "rn_config.h"

/* Resolve listeners, advertised.listeners, listener.security.protocol.map,
 * inter.broker.listener.name and controller.listener.names into cfg->listeners and the
 * inter-broker listener's cfg->listen_* / advertised_* fields. 0 or RN_EINVAL + err. */
int rn__config_resolve_listeners(rn_config_t *cfg, char *err, size_t errlen);

/* Store a listener.name.<name>.<key> value (key is the whole dotted name); 1 when key is not
 * of that form (the caller reports an unknown key), 0 when stored, RN_EINVAL + err. */
int rn__config_set_override(rn_config_t *cfg, const char *key, const char *value,
                            const char *source, char *err, size_t errlen);
/* Check the overrides against the resolved listeners. 0 or RN_EINVAL + err. */
int rn__config_check_overrides(const rn_config_t *cfg, char *err, size_t errlen);
/* Free the overrides. */
void rn__config_free_overrides(rn_config_t *cfg);

#endif
