import { openDirectAccess } from './direct-access.js';
import { openGatewayAccess, type GatewayAccessDeps } from './gateway-access.js';
import type { ProviderAccessOpener } from './provider-access.js';

export type { ProviderAccess, ProviderAccessOpener, ProviderAccessRequest } from './provider-access.js';
export { DIRECT_KEY_ENV } from './direct-access.js';
export { GATEWAY_TOKEN_ENV } from './gateway-access.js';

/** Opens each run's access by its provider's `key_delivery`. */
export function providerAccessOpener(deps: GatewayAccessDeps & { env: Record<string, string | undefined> }): ProviderAccessOpener {
  return {
    open: async (request) => (request.provider.keyDelivery === 'env' ? openDirectAccess(deps.env, request) : openGatewayAccess(deps, request)),
    usesGateway: (provider) => provider.keyDelivery !== 'env',
  };
}
