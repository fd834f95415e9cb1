import { describe, expect, it } from 'vitest';
import { provider, setupGateway as setup } from './test-gateway.js';

describe('gateway', () => {
  it('swaps the run token for the real key and forwards to the provider with its headers and query', async () => {
    const { tokens, seen, grant, post } = setup();
    const { token } = tokens.issue(grant());
    const res = await post(token, { model: 'm' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('response.completed');
    const req = seen[0]!;
    expect(req.url).toBe('https://upstream.test/api/v1/responses?api-version=2025-01-01');
    expect(req.headers.get('authorization')).toBe('Bearer sk-real');
    expect(req.headers.get('x-title')).toBe('codex-runner');
    expect(await req.text()).toBe('{"model":"m"}');
  });

  it('records usage from response.completed', async () => {
    const { tokens, grant, post } = setup();
    const g = grant();
    const { token } = tokens.issue(g);
    await (await post(token)).text();
    await (await post(token)).text();
    expect(g.usage).toEqual({ requests: 2, input_tokens: 200, output_tokens: 0, total_tokens: 200 });
  });

  it('refuses an unknown token and a revoked one with 401', async () => {
    const { tokens, seen, grant, post } = setup();
    const issued = tokens.issue(grant());
    issued.revoke();
    expect((await post('nope')).status).toBe(401);
    expect((await post(issued.token)).status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('refuses paths Codex does not need with 403', async () => {
    const { send, tokens, seen, grant } = setup();
    const { token } = tokens.issue(grant());
    for (const [method, path] of [['GET', '/v1/files'], ['POST', '/v1/fine_tuning/jobs'], ['GET', '/v1/responses'], ['DELETE', '/v1/models/x']]) {
      const res = await send(token, path!, { method });
      expect(res.status).toBe(403);
    }
    expect(seen).toHaveLength(0);
  });

  it('holds the model to the run model', async () => {
    const { tokens, seen, grant, post } = setup();
    const { token } = tokens.issue(grant());
    const res = await post(token, { model: 'o3-pro' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('may only use model m');
    expect(seen).toHaveLength(0);
  });

  it('ends the run once its request or token budget is spent', async () => {
    const { tokens, ended, grant, post } = setup();
    const { token } = tokens.issue(grant({ budget: { maxRequests: 2, maxTokens: 1_000_000 } }));
    await (await post(token)).text();
    await (await post(token)).text();
    expect((await post(token)).status).toBe(403);
    expect(ended).toEqual([{ code: 'budget_exceeded', message: 'run budget spent: 2 of 2 provider requests used' }]);

    const byTokens = setup();
    const t2 = byTokens.tokens.issue(byTokens.grant({ budget: { maxRequests: 100, maxTokens: 150 } }));
    await (await byTokens.post(t2.token)).text();
    await (await byTokens.post(t2.token)).text();
    expect((await byTokens.post(t2.token)).status).toBe(403);
    expect(byTokens.ended[0]!.message).toBe('run budget spent: 200 of 150 tokens used');
  });

  it('ends the run saying the provider rejected the key on an upstream 401', async () => {
    const { tokens, ended, grant, post } = setup(() => new Response(JSON.stringify({ error: { message: 'Incorrect API key' } }), { status: 401 }));
    const { token } = tokens.issue(grant());
    expect((await post(token)).status).toBe(401);
    expect(ended).toEqual([{ code: 'provider_auth', message: 'provider openrouter rejected the key (HTTP 401): Incorrect API key' }]);
  });

  it('ends the run naming the provider when it is unreachable', async () => {
    const { tokens, ended, grant, post } = setup(() => {
      throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    });
    const { token } = tokens.issue(grant());
    expect((await post(token)).status).toBe(502);
    expect(ended).toEqual([{ code: 'provider_unreachable', message: 'provider openrouter is unreachable at https://upstream.test: ECONNREFUSED' }]);
  });

  it('refuses a request body over the cap without forwarding it', async () => {
    const { tokens, seen, grant, post } = setup();
    const { token } = tokens.issue(grant());
    const res = await post(token, { model: 'm', input: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it('passes a 429 through with its Retry-After', async () => {
    const { tokens, ended, grant, post } = setup(() => new Response('{}', { status: 429, headers: { 'retry-after': '7' } }));
    const { token } = tokens.issue(grant());
    const res = await post(token);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(ended).toEqual([]);
  });

  it('sends no authorization upstream for a keyless provider', async () => {
    const { tokens, seen, grant, post } = setup();
    const { token } = tokens.issue(grant({ provider: { ...provider, keyEnv: undefined } }));
    await (await post(token)).text();
    expect(seen[0]!.headers.get('authorization')).toBeNull();
  });

  it('forwards only the headers Codex sends, and drops the sandbox query string', async () => {
    const { tokens, seen, grant, post } = setup();
    const { token } = tokens.issue(grant());
    const codex = { originator: 'codex_exec', 'user-agent': 'codex_exec/0.169.0', 'session-id': 's', 'x-codex-turn-metadata': '{}' };
    const injected = {
      cookie: 'a=b',
      'openai-organization': 'org-other',
      'openai-project': 'proj-other',
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-host': 'proxy.internal',
      'x-custom': '1',
    };
    await (await post(token, { model: 'm' }, '/v1/responses?api-version=evil&x=1', { ...codex, ...injected })).text();
    const req = seen[0]!;
    expect(req.url).toBe('https://upstream.test/api/v1/responses?api-version=2025-01-01');
    expect([...req.headers.keys()].sort()).toEqual(['authorization', 'content-type', 'originator', 'session-id', 'user-agent', 'x-codex-turn-metadata', 'x-title']);
    expect(req.headers.get('authorization')).toBe('Bearer sk-real');
  });

  it('answers /models itself with the run model, calling and counting nothing upstream', async () => {
    const { send, tokens, seen, grant } = setup();
    const g = grant();
    const { token } = tokens.issue(g);
    const res = await send(token, '/v1/models?api-version=evil');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: 'openrouter' }] });
    expect(seen).toHaveLength(0);
    expect(g.usage.requests).toBe(0);
  });
});

describe('a run token is bound to its run\'s socket', () => {
  it('refuses a live token presented on another run\'s socket with 401, forwards and counts nothing, and warns', async () => {
    const { tokens, seen, grant, post, logged } = setup();
    const theirs = grant({ runId: 'victim' });
    const { token } = tokens.issue(theirs);
    tokens.issue(grant({ runId: 'thief' }));
    const res = await post(token, { model: 'm' }, '/v1/responses', {}, 'thief');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'unknown or expired run token' } });
    expect(seen).toHaveLength(0);
    expect(theirs.usage.requests).toBe(0);
    const warning = logged.find((l) => l.msg === "gateway refused a run token presented on another run's socket");
    expect(warning).toMatchObject({ level: 40, socketRunId: 'thief', tokenRunId: 'victim' });
    expect(JSON.stringify(logged)).not.toContain(token);
  });

  it('accepts the same token on its own run\'s socket', async () => {
    const { tokens, seen, grant, post } = setup();
    const { token } = tokens.issue(grant({ runId: 'victim' }));
    expect((await post(token, { model: 'm' }, '/v1/responses', {}, 'thief')).status).toBe(401);
    const res = await post(token, { model: 'm' }, '/v1/responses', {}, 'victim');
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('answers a foreign token as an unknown one on every path, so the refusal confirms nothing', async () => {
    const { send, tokens, grant } = setup();
    const { token } = tokens.issue(grant({ runId: 'victim' }));
    for (const [method, path] of [['GET', '/v1/models'], ['GET', '/v1/files'], ['POST', '/v1/responses']]) {
      const foreign = await send(token, path!, { method }, 'thief');
      const unknown = await send('crgw_unknown', path!, { method }, 'thief');
      expect(foreign.status).toBe(401);
      expect(await foreign.text()).toBe(await unknown.text());
    }
  });

  it('refuses a request that came in on no run\'s socket', async () => {
    const { app, tokens, seen, grant } = setup();
    const { token } = tokens.issue(grant());
    const res = await app.request('/v1/responses', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"model":"m"}' });
    expect(res.status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('reports each call of a run token to telemetry with its provider and status', async () => {
    const gw = setup();
    const { token } = gw.tokens.issue(gw.grant());
    expect((await gw.post(token)).status).toBe(200);
    expect((await gw.post(token, { model: 'other' })).status).toBe(403);
    expect(gw.telemetry.of('gatewayRequest').map((e) => e.labels)).toEqual([
      { provider: gw.grant().provider.name, status: '200' },
      { provider: gw.grant().provider.name, status: '403' },
    ]);
    expect((await gw.post('crgw_unknown')).status).toBe(401);
    expect(gw.telemetry.of('gatewayRefused').map((e) => e.labels.reason)).toEqual(['forbidden', 'unauthorized']);
  });
});
