/* Private to runneld's configuration files (config.c, config_listeners.c). */
#ifndef RN_CONFIG_INT_H
#define RN_CONFIG_INT_H

#include "rn_config.h"

/* Resolve listeners, advertised.listeners, listener.security.protocol.map,
 * inter.broker.listener.name and controller.listener.names into cfg->listeners and the
 * inter-broker listener's cfg->listen_* / advertised_* fields. 0 or RN_EINVAL + err. */
int rn__config_resolve_listeners(rn_config_t *cfg, char *err, size_t errlen);

#endif
