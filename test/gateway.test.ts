import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, startHarness, UPSTREAM_KEY, type Harness } from './fixtures/harness.js';
import { STAND_IN_MODEL } from './fixtures/responses-stand-in.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    providers: {
      standin: { headers: { 'HTTP-Referer': 'https://example.org', 'X-Title': 'codex-runner' }, query_params: { 'api-version': '2025-01-01' } },
    },
  });
});
afterAll(async () => {
  await h?.close();
});

/** Bash speaking HTTP/1.0 to the gateway from inside the sandbox, as a prompt injection could. */
function rawGatewayCall(method: string, path: string, body: string, token = '$CODEX_RUNNER_GATEWAY_TOKEN', extraHeaders: Record<string, string> = {}): string {
  const extra = Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}\\r\\n`).join('');
  return [
    `B='${body}'`,
    'exec 3<>/dev/tcp/127.0.0.1/8089',
    `printf '${method} ${path} HTTP/1.0\\r\\nHost: gateway\\r\\nAuthorization: Bearer %s\\r\\nContent-Type: application/json\\r\\n${extra}Content-Length: %s\\r\\n\\r\\n%s' "${token}" "\${#B}" "$B" >&3`,
    "head -1 <&3 | cut -d' ' -f2-",
  ].join('; ');
}

// What Codex 0.169 sends on POST /responses (captured from the real binary), the provider's configured
// headers, and what the server's own HTTP client (undici) adds.
const CODEX_HEADERS = ['accept', 'content-type', 'user-agent', 'originator', 'session-id', 'thread-id', 'x-client-request-id', 'x-codex-beta-features', 'x-codex-turn-metadata', 'x-codex-window-id'];
const PROVIDER_HEADERS = ['authorization', 'http-referer', 'x-title'];
const CLIENT_HEADERS = ['host', 'connection', 'content-length', 'accept-encoding', 'accept-language', 'sec-fetch-mode'];

async function commandOutputs(runId: string): Promise<string[]> {
  const events = await readSse(await h.api(`/v1/runs/${runId}/events`));
  return events.filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution').map((e) => e.data.item.aggregated_output);
}

async function run(steps: Parameters<Harness['prompt']>[0], harness = h): Promise<any> {
  return (await harness.createRun({ prompt: harness.prompt(steps), wait: true })).json();
}

describe('keys stay out of the sandbox', () => {
  it('the upstream gets the real key on every call while env, every environ and the whole filesystem in the sandbox hold none of it', async () => {
    const before = h.standIn.requests.length;
    // The key's prefix is assembled at run time so the command text itself does not contain it.
    const hunt = [
      'P=sk; P=$P-test-',
      'env | grep -c "$P"',
      'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c "$P"',
      'grep -rl --exclude-dir=proc --exclude-dir=sys "$P" / 2>/dev/null | wc -l',
    ].join('; ');
    // A grep of the whole filesystem can pass Codex's default 10 s yield on a loaded machine.
    const result = await run([{ exec: hunt, yieldMs: 30_000 }, { message: 'searched' }]);
    expect(result.status).toBe('succeeded');
    expect((await commandOutputs(result.id))[0]!.trim().split('\n')).toEqual(['0', '0', '0']);
    const calls = h.standIn.requests.slice(before).filter((r) => r.path === '/v1/responses');
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const call of calls) expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('never writes the key or a run token to the server log', async () => {
    const result = await run([{ exec: 'echo hi' }, { message: 'ok' }]);
    // The run's summary line is logged once its sandbox is removed, just after the answer.
    await expect.poll(() => h.logText(), { timeout: 30_000 }).toMatch(new RegExp(`"runId":"${result.id}".*"msg":"run ended"`));
    const log = h.logText();
    expect(log).not.toContain(UPSTREAM_KEY);
    expect(log).not.toMatch(/crgw_[A-Za-z0-9_-]{20}/);
  });
});

describe('what a run token buys', () => {
  it('refuses other paths and other models asked for from inside the sandbox', async () => {
    const before = h.standIn.requests.length;
    const result = await run([
      { exec: rawGatewayCall('GET', '/v1/files', '') },
      { exec: rawGatewayCall('POST', '/v1/responses', '{"model":"o3-pro","input":[]}') },
      { exec: rawGatewayCall('POST', '/v1/responses', '{}', 'not-a-token') },
      { message: 'probed' },
    ]);
    expect(result.status).toBe('succeeded');
    expect((await commandOutputs(result.id)).map((o) => o.trim())).toEqual(['403 Forbidden', '403 Forbidden', '401 Unauthorized']);
    const leaked = h.standIn.requests.slice(before).filter((r) => r.path !== '/v1/responses' || r.body?.model !== STAND_IN_MODEL);
    expect(leaked).toEqual([]);
  });

  it('refuses the token of a run that has ended', async () => {
    const first = await run([{ exec: 'printf %s "$CODEX_RUNNER_GATEWAY_TOKEN"' }, { message: 'got it' }]);
    const oldToken = (await commandOutputs(first.id))[0]!.trim();
    expect(oldToken).toMatch(/^crgw_/);
    const second = await run([{ exec: rawGatewayCall('POST', '/v1/responses', `{"model":"${STAND_IN_MODEL}"}`, oldToken) }, { message: 'tried' }]);
    expect((await commandOutputs(second.id))[0]!.trim()).toBe('401 Unauthorized');
  });

  it('ends a run that spends its request budget, saying so', async () => {
    const tight = await startHarness({ limits: { run_max_requests: 2 } });
    try {
      const result = await run([{ exec: 'echo 1' }, { exec: 'echo 2' }, { exec: 'echo 3' }, { message: 'never' }], tight);
      expect(result.status).toBe('failed');
      expect(result.error).toEqual({ code: 'budget_exceeded', message: 'run budget spent: 2 of 2 provider requests used' });
      expect(result.provider_usage.requests).toBe(2);
    } finally {
      await tight.close();
    }
  });
});

describe('forwarding', () => {
  it('records the provider usage of every request of a run', async () => {
    const result = await run([{ exec: 'echo 1' }, { message: 'done' }]);
    expect(result.provider_usage.requests).toBe(2);
    expect(result.provider_usage.total_tokens).toBeGreaterThan(0);
    expect(result.provider_usage.total_tokens).toBe(result.provider_usage.input_tokens + result.provider_usage.output_tokens);
  });

  it('passes upstream only the headers Codex sends, plus the provider headers and query parameters', async () => {
    const before = h.standIn.requests.length;
    const result = await run([{ exec: 'echo 1' }, { message: 'hello' }]);
    expect(result.status).toBe('succeeded');
    const calls = h.standIn.requests.slice(before);
    expect(calls.map((r) => r.path)).toEqual(['/v1/responses', '/v1/responses']);
    for (const call of calls) {
      expect(Object.keys(call.headers).sort()).toEqual([...CODEX_HEADERS, ...PROVIDER_HEADERS, ...CLIENT_HEADERS].sort());
      expect(call.headers['http-referer']).toBe('https://example.org');
      expect(call.headers['x-title']).toBe('codex-runner');
      expect(call.headers.originator).toBe('codex_exec');
      expect(call.query).toBe('api-version=2025-01-01');
    }
  });

  it('drops the headers and the query string a sandbox adds, and answers /models without the provider', async () => {
    const before = h.standIn.requests.length;
    const injected = {
      Cookie: 'session=stolen',
      'OpenAI-Organization': 'org-someone-else',
      'OpenAI-Project': 'proj-someone-else',
      'X-Forwarded-For': '10.9.9.9',
      'X-Forwarded-Host': 'billing.internal',
      'X-Injected': '1',
    };
    const result = await run([
      { exec: rawGatewayCall('POST', '/v1/responses?api-version=evil&steer=1', `{"model":"${STAND_IN_MODEL}","input":[]}`, undefined, injected) },
      { exec: rawGatewayCall('GET', '/v1/models?api-version=evil', '', undefined, injected) },
      { message: 'injected' },
    ]);
    expect(result.status).toBe('succeeded');
    expect((await commandOutputs(result.id)).map((o) => o.trim())).toEqual(['200 OK', '200 OK']);
    const calls = h.standIn.requests.slice(before);
    const fromScript = calls.filter((r) => Array.isArray(r.body?.input) && r.body.input.length === 0);
    expect(fromScript).toHaveLength(1);
    expect(calls.map((r) => r.path).every((p) => p === '/v1/responses')).toBe(true);
    for (const call of calls) {
      expect(call.query).toBe('api-version=2025-01-01');
      for (const name of Object.keys(injected)) expect(call.headers[name.toLowerCase()]).toBeUndefined();
    }
    // Codex's three calls and the script's one; /models was answered by the gateway and costs nothing.
    expect(result.provider_usage.requests).toBe(4);
  });

  it('streams: Codex gets the first events before the upstream has finished its answer', async () => {
    const created: any = await (await h.createRun({ prompt: h.prompt([{ message: 'streamed', holdMs: 2500 }]) })).json();
    const res = await h.api(`/v1/runs/${created.id}/events`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const arrivals = new Map<string, number>();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      for (const type of ['agent_message', 'turn.completed']) {
        if (!arrivals.has(type) && text.includes(type === 'agent_message' ? '"type":"agent_message"' : '"type":"turn.completed"')) arrivals.set(type, Date.now());
      }
    }
    expect(arrivals.get('turn.completed')! - arrivals.get('agent_message')!).toBeGreaterThan(1500);
  });

  it('works with a keyless provider (Ollama-style)', async () => {
    const keyless = await startHarness({ providers: { standin: { key_env: undefined } } });
    try {
      const before = keyless.standIn.requests.length;
      const result = await run([{ message: 'no key needed' }], keyless);
      expect(result).toMatchObject({ status: 'succeeded', final_message: 'no key needed' });
      for (const r of keyless.standIn.requests.slice(before)) expect(r.headers.authorization).toBeUndefined();
    } finally {
      await keyless.close();
    }
  });
});

describe('provider errors users can act on', () => {
  it('ends at once saying the provider rejected the key on a 401, without Codex retrying', async () => {
    const before = h.standIn.requests.length;
    const started = Date.now();
    const result = await run([{ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } }]);
    expect(result.status).toBe('failed');
    expect(result.error).toEqual({ code: 'provider_auth', message: 'provider standin rejected the key (HTTP 401): Incorrect API key provided' });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(h.standIn.requests.slice(before).filter((r) => r.path === '/v1/responses')).toHaveLength(1);
  });

  it('ends at once naming the provider when it is unreachable', async () => {
    const port = await closedPort();
    const down = await startHarness({ providers: { down: { base_url: `http://127.0.0.1:${port}/v1` } }, defaults: { provider: 'down' } });
    try {
      const started = Date.now();
      const result = await run([{ message: 'unreachable' }], down);
      expect(result.status).toBe('failed');
      expect(result.error.code).toBe('provider_unreachable');
      expect(result.error.message).toBe(`provider down is unreachable at http://127.0.0.1:${port}: ECONNREFUSED`);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await down.close();
    }
  });
});

/** A loopback port that nothing listens on (it was just free). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('key_delivery = "env" (opt-in)', () => {
  it('gives Codex the real key in its environment and lets it reach the provider itself', async () => {
    // "host" so that the sandbox reaches the stand-in on the host's loopback; operators would use a bridge.
    const direct = await startHarness({ providers: { standin: { key_delivery: 'env', egress_network: 'host' } } });
    try {
      const before = direct.standIn.requests.length;
      const result = await run([{ exec: 'test "$CODEX_RUNNER_PROVIDER_KEY" = "" && echo absent || echo present; test -e /run/codex-runner/gateway.sock && echo gateway || echo no-gateway' }, { message: 'direct' }], direct);
      expect(result).toMatchObject({ status: 'succeeded', final_message: 'direct' });
      const events = await readSse(await direct.api(`/v1/runs/${result.id}/events`));
      const output = events.find((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')!.data.item.aggregated_output;
      expect(output.trim().split('\n')).toEqual(['present', 'no-gateway']);
      const calls = direct.standIn.requests.slice(before);
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(direct.logText()).toContain('key_delivery = \\"env\\" puts its real key inside every sandbox');
    } finally {
      await direct.close();
    }
  });
});
