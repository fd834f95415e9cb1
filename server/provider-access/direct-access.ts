import type { ProviderAccess, ProviderAccessRequest } from './provider-access.js';

/** Codex reads the provider's key from this variable when the key is delivered in the environment. */
export const DIRECT_KEY_ENV = 'CODEX_RUNNER_PROVIDER_KEY';

/**
 * `key_delivery = "env"`: Codex talks to the provider itself, on the provider's egress network,
 * with the real key in its environment. No gateway, so no usage is seen and nothing is revoked.
 */
export function openDirectAccess(env: Record<string, string | undefined>, request: ProviderAccessRequest): ProviderAccess {
  const { provider } = request;
  const close = async () => {};
  return {
    network: provider.egressNetwork,
    gateway: null,
    codex: {
      name: provider.name,
      baseUrl: provider.baseUrl,
      envKey: DIRECT_KEY_ENV,
      headers: provider.headers,
      queryParams: provider.queryParams,
      requestMaxRetries: provider.requestMaxRetries,
      streamMaxRetries: provider.streamMaxRetries,
    },
    codexEnv: () => [`${DIRECT_KEY_ENV}=${provider.keyEnv ? (env[provider.keyEnv] ?? '') : ''}`],
    usage: () => null,
    fault: () => null,
    close,
    [Symbol.asyncDispose]: close,
  };
}
