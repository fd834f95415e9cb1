import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { RunStop } from '../domain/run-error.js';
import { GatewayTokens } from '../gateway/tokens.js';
import { buildCodexConfigToml } from '../sandbox/codex-invocation.js';
import { parse } from 'smol-toml';
import { DIRECT_KEY_ENV, GATEWAY_TOKEN_ENV, providerAccessOpener } from './index.js';

const config = parseConfig({
  defaults: { provider: 'openai', model: 'm' },
  providers: {
    openai: { base_url: 'https://api.openai.com/v1', key_env: 'OPENAI_API_KEY', headers: { 'X-Title': 'codex-runner' }, request_max_retries: 0 },
    direct: { base_url: 'https://api.example.org/v1', key_env: 'DIRECT_KEY', key_delivery: 'env', egress_network: 'egress', headers: { 'X-Title': 'codex-runner' }, query_params: { 'api-version': '1' } },
  },
});

function opener(failListen?: () => Promise<never>) {
  const tokens = new GatewayTokens();
  const closed: string[] = [];
  const fakeSocket = (runId: string) => ({ dir: `/gw/runs/${runId}`, subdir: `runs/${runId}`, socketPath: `/gw/runs/${runId}/gateway.sock`, close: async () => void closed.push(runId) });
  const listen = failListen ?? (async (runId: string) => fakeSocket(runId));
  const open = providerAccessOpener({ tokens, sockets: { listen: listen as never }, sandboxNetwork: 'none', env: { DIRECT_KEY: 'sk-direct' } });
  return { tokens, closed, open };
}

const request = (provider: string) => ({ runId: 'r1', provider: config.providers[provider]!, model: 'm', budget: { maxRequests: 1, maxTokens: 1 }, stop: (_: RunStop) => {} });

describe('gateway access (the default delivery)', () => {
  it('points Codex at the gateway on the sandbox loopback with a token valid for the run, and closes both', async () => {
    const { tokens, closed, open } = opener();
    const access = await open.open(request('openai'));
    expect(access.network).toBe('none');
    expect(access.gateway).toEqual({ socketDir: '/gw/runs/r1', relativeDir: 'runs/r1' });
    const provider = (parse(buildCodexConfigToml({ model: 'm', provider: access.codex })) as any).model_providers['codex-runner'];
    expect(provider).toMatchObject({ base_url: 'http://127.0.0.1:8089/v1', env_key: GATEWAY_TOKEN_ENV, wire_api: 'responses', request_max_retries: 0 });
    // The provider's headers are the gateway's to add, with the key: Codex never sees them.
    expect(provider).not.toHaveProperty('http_headers');
    const [pair] = access.codexEnv();
    const token = pair!.slice(`${GATEWAY_TOKEN_ENV}=`.length);
    expect(tokens.lookup(token)?.runId).toBe('r1');
    expect(access.usage()).toEqual({ requests: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0 });
    await access.close();
    await access.close();
    expect(tokens.lookup(token)).toBeUndefined();
    expect(closed).toEqual(['r1']);
  });

  it('revokes the token when the run\'s socket cannot be opened', async () => {
    const { tokens, open } = opener(async () => {
      throw new Error('EADDRINUSE');
    });
    await expect(open.open(request('openai'))).rejects.toThrow('EADDRINUSE');
    expect(tokens.size).toBe(0);
  });
});

describe('direct access (key_delivery = "env")', () => {
  it('points Codex at the provider itself, on its egress network, with its headers, query parameters and key', async () => {
    const { tokens, open } = opener();
    const access = await open.open(request('direct'));
    expect(access.network).toBe('egress');
    expect(access.gateway).toBeNull();
    const provider = (parse(buildCodexConfigToml({ model: 'm', provider: access.codex })) as any).model_providers['codex-runner'];
    expect(provider).toMatchObject({
      base_url: 'https://api.example.org/v1',
      env_key: DIRECT_KEY_ENV,
      http_headers: { 'X-Title': 'codex-runner' },
      query_params: { 'api-version': '1' },
    });
    expect(access.codexEnv()).toEqual([`${DIRECT_KEY_ENV}=sk-direct`]);
    expect(access.usage()).toBeNull();
    expect(tokens.size).toBe(0);
  });
});
