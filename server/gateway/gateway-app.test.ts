import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../config/config.js';
import { createGatewayApp } from './gateway-app.js';
import { GatewayTokens } from './tokens.js';

const provider: ProviderConfig = {
  name: 'openrouter',
  baseUrl: 'https://upstream.test/api/v1',
  keyEnv: 'UPSTREAM_KEY',
  wireApi: 'responses',
  headers: { 'X-Title': 'codex-runner' },
  queryParams: { 'api-version': '2025-01-01' },
};

function setup() {
  const tokens = new GatewayTokens();
  const seen: Request[] = [];
  const fakeFetch = (async (req: Request) => {
    seen.push(req);
    return new Response('event: response.created\ndata: {}\n\n', { headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
  const app = createGatewayApp({ tokens, env: { UPSTREAM_KEY: 'sk-real' }, log: pino({ level: 'silent' }), fetch: fakeFetch });
  return { app, tokens, seen };
}

describe('gateway', () => {
  it('swaps the run token for the real key and forwards to the provider with its headers and query', async () => {
    const { app, tokens, seen } = setup();
    const { token } = tokens.issue({ runId: 'r1', provider, model: 'm' });
    const res = await app.request('/v1/responses?x=1', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"model":"m"}',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('response.created');
    const req = seen[0]!;
    expect(req.url).toBe('https://upstream.test/api/v1/responses?x=1&api-version=2025-01-01');
    expect(req.headers.get('authorization')).toBe('Bearer sk-real');
    expect(req.headers.get('x-title')).toBe('codex-runner');
    expect(await req.text()).toBe('{"model":"m"}');
  });

  it('refuses an unknown token and a revoked one with 401', async () => {
    const { app, tokens, seen } = setup();
    const issued = tokens.issue({ runId: 'r1', provider, model: 'm' });
    issued.revoke();
    for (const auth of ['Bearer nope', `Bearer ${issued.token}`, '']) {
      const res = await app.request('/v1/responses', { method: 'POST', headers: { authorization: auth } });
      expect(res.status).toBe(401);
    }
    expect(seen).toHaveLength(0);
  });

  it('refuses paths Codex does not need with 403', async () => {
    const { app, tokens, seen } = setup();
    const { token } = tokens.issue({ runId: 'r1', provider, model: 'm' });
    for (const [method, path] of [['GET', '/v1/files'], ['POST', '/v1/fine_tuning/jobs'], ['GET', '/v1/responses']]) {
      const res = await app.request(path!, { method, headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(403);
    }
    expect(seen).toHaveLength(0);
  });

  it('sends no authorization upstream for a keyless provider', async () => {
    const { app, tokens, seen } = setup();
    const { token } = tokens.issue({ runId: 'r1', provider: { ...provider, keyEnv: undefined }, model: 'm' });
    await app.request('/v1/models', { headers: { authorization: `Bearer ${token}` } });
    expect(seen[0]!.headers.get('authorization')).toBeNull();
  });
});
