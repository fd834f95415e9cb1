import { stringify } from 'smol-toml';
import type { ProviderConfig } from '../config/config.js';
import { GATEWAY_LOOPBACK_PORT, WORKSPACE_DIR } from './container-spec.js';

/** The provider name Codex sees; whatever the run's real provider is, Codex talks to the gateway. */
const GATEWAY_PROVIDER_ID = 'codex-runner';
/** Codex sends this variable's value as its bearer token: the run's gateway token, never a real key. */
export const GATEWAY_TOKEN_ENV = 'CODEX_RUNNER_GATEWAY_TOKEN';

/** Codex reads the provider's key from this variable when the key is delivered in the environment. */
export const DIRECT_KEY_ENV = 'CODEX_RUNNER_PROVIDER_KEY';

/**
 * Codex's config.toml for a run. Through the gateway (the default), Codex's provider is the gateway
 * on the sandbox loopback and its key the run token; with key_delivery = "env", Codex talks to the
 * provider itself, with the provider's headers and query parameters, and its real key.
 */
export function buildCodexConfigToml(input: {
  model: string;
  provider: Pick<ProviderConfig, 'name' | 'baseUrl' | 'keyDelivery' | 'headers' | 'queryParams' | 'requestMaxRetries' | 'streamMaxRetries'>;
}): string {
  const { provider } = input;
  const direct = provider.keyDelivery === 'env';
  return stringify({
    model: input.model,
    model_provider: GATEWAY_PROVIDER_ID,
    model_providers: {
      [GATEWAY_PROVIDER_ID]: {
        name: direct ? provider.name : `${provider.name} via codex-runner`,
        base_url: direct ? provider.baseUrl : `http://127.0.0.1:${GATEWAY_LOOPBACK_PORT}/v1`,
        env_key: direct ? DIRECT_KEY_ENV : GATEWAY_TOKEN_ENV,
        wire_api: 'responses',
        ...(direct && Object.keys(provider.headers).length ? { http_headers: provider.headers } : {}),
        ...(direct && Object.keys(provider.queryParams).length ? { query_params: provider.queryParams } : {}),
        ...(provider.requestMaxRetries !== undefined ? { request_max_retries: provider.requestMaxRetries } : {}),
        ...(provider.streamMaxRetries !== undefined ? { stream_max_retries: provider.streamMaxRetries } : {}),
      },
    },
  });
}

export function buildCodexArgv(prompt: string): string[] {
  return [
    'codex',
    'exec',
    '--json',
    '--skip-git-repo-check',
    // Codex's own bubblewrap sandbox cannot create namespaces in a container; the container is the sandbox.
    '--dangerously-bypass-approvals-and-sandbox',
    // Without this Codex stalls ~5 s at exit trying to flush analytics with no network.
    '-c',
    'analytics.enabled=false',
    // At startup Codex syncs plugins from github.com and chatgpt.com: traffic that is not the run's
    // provider, and that a sandbox with egress would otherwise send.
    '-c',
    'features.plugins=false',
    '-c',
    'features.remote_plugin=false',
    '--ephemeral',
    '-C',
    WORKSPACE_DIR,
    // Ends option parsing so a prompt starting with "-" stays a prompt.
    '--',
    prompt,
  ];
}
