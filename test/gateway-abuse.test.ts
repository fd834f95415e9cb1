// A sandbox abusing the gateway with its own run token, from inside the real sandbox (bash's
// /dev/tcp through the relay, as a prompt injection could): other paths and models, request
// smuggling, CONNECT, malformed framing, bodies over the cap, many calls at once, /models loops,
// headers and query parameters meant for the upstream, and the relay killed mid-call. Each gets the
// gateway's JSON envelope, the run ends with a clear status, the provider stand-in sees only Codex's
// own calls and what the script was allowed to send, and the server serves on.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, startHarness, UPSTREAM_KEY, type Harness } from './fixtures/harness.js';
import { STAND_IN_MODEL, type RecordedRequest } from './fixtures/responses-stand-in.js';

const MiB = 1024 * 1024;
const MAX_INFLIGHT = 4;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    providers: { standin: { headers: { 'X-Title': 'codex-runner' }, query_params: { 'api-version': '2025-01-01' } } },
    gateway: { max_request_mb: 1, max_inflight_per_run: MAX_INFLIGHT, max_buffered_mb_per_run: 4, max_buffered_mb_total: 8 },
  });
});
afterAll(async () => {
  await h?.close();
});

/** What Codex 0.169 sends, the provider's configured headers, and what the server's HTTP client adds. */
const ALLOWED_UPSTREAM_HEADERS = new Set([
  'accept', 'content-type', 'user-agent', 'originator', 'session-id', 'thread-id', 'x-client-request-id', 'x-codex-beta-features',
  'x-codex-turn-metadata', 'x-codex-window-id', 'authorization', 'x-title', 'host', 'connection', 'content-length', 'accept-encoding',
  'accept-language', 'sec-fetch-mode',
]);

const TOKEN = '@TOKEN@';
const body = (extra: object = {}) => JSON.stringify({ model: STAND_IN_MODEL, input: [], ...extra });

/** An HTTP/1.1 request as bytes; `@TOKEN@` becomes the sandbox's own run token inside the sandbox. */
function request(method: string, target: string, headers: Record<string, string | number> = {}, payload = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1:8089', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${payload}`;
}
const authed = (headers: Record<string, string | number> = {}) => ({ Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', Connection: 'close', ...headers });
const post = (target: string, payload: string, headers: Record<string, string | number> = {}) =>
  request('POST', target, authed({ 'Content-Length': Buffer.byteLength(payload), ...headers }), payload);
const chunked = (payload: string) => `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n0\r\n\r\n`;

/** Bash: `gw NAME BASE64` sends the decoded request (token filled in) and prints `=== NAME` and the answer, base64 on one line. */
const GW = String.raw`gw() {
  exec 3<>/dev/tcp/127.0.0.1/8089 || { printf '=== %s\n\n' "$1"; return; }
  { echo "$2" | base64 -d | sed "s/${TOKEN}/$CODEX_RUNNER_GATEWAY_TOKEN/g" >&3; } 2>/dev/null
  printf '=== %s\n' "$1"; timeout 10 cat <&3 | base64 -w0; echo
  exec 3>&-
}`;

function exchangeScript(cases: Record<string, string>): string {
  return [GW, ...Object.entries(cases).map(([name, bytes]) => `gw ${name} ${Buffer.from(bytes).toString('base64')}`)].join('\n');
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses what `gw` printed: one answer per case, by name (status 0 when nothing came back). */
function answers(output: string): Record<string, Answer> {
  const lines = output.split('\n');
  const out: Record<string, Answer> = {};
  for (let i = 0; i < lines.length; i++) {
    const name = /^=== (\S+)$/.exec(lines[i]!)?.[1];
    if (!name) continue;
    out[name] = parseResponse(Buffer.from(lines[i + 1] ?? '', 'base64').toString('latin1'));
  }
  return out;
}

function parseResponse(raw: string): Answer {
  const end = raw.indexOf('\r\n\r\n');
  if (!raw.startsWith('HTTP/1.1 ') || end < 0) return { status: 0, headers: {}, body: raw };
  const [statusLine, ...headerLines] = raw.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let rest = raw.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let decoded = '';
    for (;;) {
      const nl = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, nl), 16);
      if (!(size > 0)) break;
      decoded += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    rest = decoded;
  } else if (headers['content-length'] !== undefined) rest = rest.slice(0, Number(headers['content-length']));
  return { status: Number(statusLine!.split(' ')[1]), headers, body: rest };
}

/** The gateway's own refusal: JSON, the envelope, this status and code. */
function expectRefusal(answer: Answer | undefined, status: number, code: string): void {
  expect(answer, 'no answer at all').toBeDefined();
  expect({ status: answer!.status, type: answer!.headers['content-type'] }).toEqual({ status, type: 'application/json' });
  const parsed = JSON.parse(answer!.body);
  expect(parsed).toEqual({ error: { code, message: expect.any(String) } });
}

async function scripted(steps: Parameters<Harness['prompt']>[0]): Promise<{ run: any; outputs: string[]; calls: RecordedRequest[] }> {
  const before = h.standIn.requests.length;
  // Codex hands a command still running after its default 10 s back unfinished, output cut: a loaded machine must not do that here.
  const patient = steps.map((step) => ('exec' in step ? { yieldMs: 30_000, ...step } : step));
  const res = await h.createRun({ prompt: h.prompt(patient), wait: true });
  expect(res.status).toBe(200);
  const run: any = await res.json();
  const events = await readSse(await h.api(`/v1/runs/${run.id}/events`));
  const outputs = events.filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution').map((e) => e.data.item.aggregated_output as string);
  return { run, outputs, calls: h.standIn.requests.slice(before) };
}

/** Every call the stand-in saw came the one way it may: Codex's route and model, the real key, the provider's query, allowed headers only. */
function expectOnlyAllowedUpstream(calls: RecordedRequest[]): void {
  const standInHost = new URL(h.standIn.url).host;
  for (const call of calls) {
    expect({ method: call.method, path: call.path, query: call.query, model: call.body?.model }).toEqual({
      method: 'POST',
      path: '/v1/responses',
      query: 'api-version=2025-01-01',
      model: STAND_IN_MODEL,
    });
    expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(call.headers.host).toBe(standInHost);
    expect(Object.keys(call.headers).filter((k) => !ALLOWED_UPSTREAM_HEADERS.has(k))).toEqual([]);
    expect(JSON.stringify(call.body)).not.toContain('SMUGGLED');
  }
}

describe('requests the gateway must refuse, from inside the sandbox', () => {
  let run: any;
  let got: Record<string, Answer>;
  let calls: RecordedRequest[];

  beforeAll(async () => {
    const smuggled = post('/v1/responses', body({ input: 'SMUGGLED' }));
    const cases: Record<string, string> = {
      otherPath: request('GET', '/v1/files', authed()),
      otherPost: post('/v1/chat/completions', body()),
      dotSegments: post('/v1/responses/../files', body()),
      encodedSlash: post('/v1/responses%2F..%2Ffiles', body()),
      outsideV1: post('/responses', body()),
      absoluteOther: post('http://169.254.169.254/latest/meta-data', body()),
      otherModel: post('/v1/responses', JSON.stringify({ model: 'o3-pro', input: [] })),
      noModel: post('/v1/responses', JSON.stringify({ input: [] })),
      notJson: post('/v1/responses', '{"model":'),
      noToken: request('POST', '/v1/responses', { 'Content-Length': 2, Connection: 'close' }, '{}'),
      // A second Authorization (a key of the attacker's, hoping one of them goes upstream): ambiguous, refused.
      twoTokens: post('/v1/responses', body(), { authorization: 'Bearer sk-attacker' }),
      // Request smuggling: a second request hidden behind framing the gateway and an upstream could read differently.
      clAndTe: post('/v1/responses', chunked(smuggled), { 'Transfer-Encoding': 'chunked', 'Content-Length': 4 }),
      teAndCl: request('POST', '/v1/responses', authed({ 'Transfer-Encoding': 'chunked', 'Content-Length': 60 }), chunked(body()) + smuggled),
      teObfuscated: request('POST', '/v1/responses', authed({ 'Transfer-Encoding': 'xchunked' }), chunked(body()) + smuggled),
      teTwice: request('POST', '/v1/responses', authed({ 'Transfer-Encoding': 'chunked', 'transfer-encoding': 'identity' }), chunked(body()) + smuggled),
      clTwice: request('POST', '/v1/responses', authed({ 'Content-Length': 2, 'content-length': Buffer.byteLength(body()) }), body()),
      badChunk: request('POST', '/v1/responses', authed({ 'Transfer-Encoding': 'chunked' }), 'zz\r\n{}\r\n0\r\n\r\n'),
      connect: request('CONNECT', 'api.openai.com:443', { Authorization: `Bearer ${TOKEN}`, Host: 'api.openai.com:443' }),
      garbage: 'HELLO gateway\r\n\r\n',
      hugeHeader: request('GET', '/v1/models', authed({ 'X-Pad': 'a'.repeat(20_000) })),
    };
    const result = await scripted([{ exec: exchangeScript(cases) }, { message: 'probed' }]);
    run = result.run;
    calls = result.calls;
    got = answers(result.outputs[0] ?? '');
  });

  it('ends the run succeeded: none of it stops the run or reaches the provider', () => {
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'probed', error: null });
    // Codex's own two calls, and nothing of the script's.
    expect(calls).toHaveLength(2);
    expect(run.provider_usage.requests).toBe(2);
    expectOnlyAllowedUpstream(calls);
  });

  it('refuses other paths with 403 and what is outside /v1 with 404, never forwarding them', () => {
    for (const name of ['otherPath', 'otherPost', 'dotSegments', 'encodedSlash']) expectRefusal(got[name], 403, 'forbidden');
    for (const name of ['outsideV1', 'absoluteOther']) expectRefusal(got[name], 404, 'not_found');
  });

  it('holds the model to the run\'s (a refusal, not a rewrite), and refuses a body that is not JSON, no token or two', () => {
    expectRefusal(got.otherModel, 403, 'forbidden');
    expect(JSON.parse(got.otherModel!.body).error.message).toBe(`this run may only use model ${STAND_IN_MODEL}`);
    expectRefusal(got.noModel, 403, 'forbidden');
    expectRefusal(got.notJson, 400, 'bad_request');
    expectRefusal(got.noToken, 401, 'unauthorized');
    expectRefusal(got.twoTokens, 401, 'unauthorized');
  });

  it('answers smuggling attempts and framing its parser refuses with a JSON 400, and closes the connection', () => {
    for (const name of ['clAndTe', 'teAndCl', 'teObfuscated', 'teTwice', 'clTwice', 'badChunk', 'garbage']) {
      expectRefusal(got[name], 400, 'bad_request');
      expect(got[name]!.headers.connection).toBe('close');
    }
    expectRefusal(got.hugeHeader, 431, 'headers_too_large');
  });

  it('answers CONNECT with a JSON 403 instead of dropping the connection', () => {
    expectRefusal(got.connect, 403, 'forbidden');
    expect(JSON.parse(got.connect!.body).error.message).toBe('CONNECT is not available through the gateway');
  });
});

describe('headers and query parameters meant for the upstream', () => {
  it('are dropped: the upstream sees its own host, the real key, the provider\'s query and Codex\'s headers only', async () => {
    const injected = {
      'X-Forwarded-Host': 'billing.internal',
      'X-Forwarded-For': '10.0.0.1',
      Forwarded: 'for=10.0.0.1;host=evil',
      'X-Original-URL': '/v1/files',
      'X-HTTP-Method-Override': 'DELETE',
      'Proxy-Authorization': 'Basic eDp5',
      'OpenAI-Organization': 'org-other',
      'OpenAI-Project': 'proj-other',
      'api-key': 'sk-other',
      Cookie: 'a=b',
    };
    const cases = {
      injected: post('/v1/responses?api-version=evil&key=sk-other&model=o3-pro', body(), injected),
      hostHeader: post('http://api.evil.example/v1/responses', body()).replace('Host: 127.0.0.1:8089', 'Host: api.evil.example'),
    };
    const { run, outputs, calls } = await scripted([{ exec: exchangeScript(cases) }, { message: 'injected' }]);
    expect(run.status).toBe('succeeded');
    const got = answers(outputs[0] ?? '');
    for (const name of Object.keys(cases)) expect(got[name]?.status, name).toBe(200);
    // Codex's two calls and the script's two, each as the gateway is allowed to send it.
    expect(calls).toHaveLength(4);
    expect(run.provider_usage.requests).toBe(4);
    expectOnlyAllowedUpstream(calls);
  });
});

describe('bodies over the cap', () => {
  it('get a JSON 413 the sandbox reads, whether it writes the whole body before reading or reads as it writes', async () => {
    const over = 1.5 * MiB;
    const head = (framing: string) =>
      `printf 'POST /v1/responses HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Bearer %s\\r\\nContent-Type: application/json\\r\\nConnection: close\\r\\n${framing}\\r\\n' "$CODEX_RUNNER_GATEWAY_TOKEN"`;
    // Writers in subshells, SIGPIPE ignored: a write the gateway refuses to read must not end the script.
    const script = String.raw`trap '' PIPE; head -c ${over} /dev/zero | tr '\0' a > /tmp/over; head -c 65536 /dev/zero | tr '\0' a > /tmp/chunk
head -c ${40 * MiB} /dev/zero | tr '\0' a > /tmp/big
answer() { printf '=== %s\n' "$1"; timeout 10 cat <&3 | base64 -w0; echo; exec 3>&-; }
exec 3<>/dev/tcp/127.0.0.1/8089; ( ${head(`Content-Length: ${over}\\r\\n`)}; cat /tmp/over ) >&3 2>/dev/null; answer whole-length
exec 3<>/dev/tcp/127.0.0.1/8089; ( ${head('Transfer-Encoding: chunked\\r\\n')}; for i in $(seq 24); do printf '10000\r\n'; cat /tmp/chunk; printf '\r\n'; done; printf '0\r\n\r\n' ) >&3 2>/dev/null; answer whole-chunked
exec 3<>/dev/tcp/127.0.0.1/8089; ( ${head(`Content-Length: ${40 * MiB}\\r\\n`)}; cat /tmp/big ) >&3 2>/dev/null & answer big-length; kill $! 2>/dev/null
exec 3<>/dev/tcp/127.0.0.1/8089; ( ${head('Transfer-Encoding: chunked\\r\\n')}; for i in $(seq 640); do printf '10000\r\n'; cat /tmp/chunk; printf '\r\n'; done; printf '0\r\n\r\n' ) >&3 2>/dev/null & answer big-chunked; kill $! 2>/dev/null
rm -f /tmp/over /tmp/big /tmp/chunk`;
    const { run, outputs, calls } = await scripted([{ exec: script }, { message: 'sent' }]);
    expect(run.status).toBe('succeeded');
    const got = answers(outputs[0] ?? '');
    const names = ['whole-length', 'whole-chunked', 'big-length', 'big-chunked'];
    expect(Object.fromEntries(names.map((n) => [n, got[n]?.status]))).toEqual(Object.fromEntries(names.map((n) => [n, 413])));
    for (const name of names) expectRefusal(got[name], 413, 'payload_too_large');
    expect(calls).toHaveLength(2);
  });
});

describe('many calls at once, and /models in a loop', () => {
  it('admits max_inflight_per_run calls, refuses the rest with a JSON 429 and Retry-After, and forwards only those admitted', async () => {
    const held = h.prompt([{ message: 'held', holdMs: 4000 }]);
    const heldBody = JSON.stringify({ model: STAND_IN_MODEL, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: held }] }] });
    const one = Buffer.from(post('/v1/responses', heldBody)).toString('base64');
    const script = `${GW}\nfor i in $(seq 12); do gw p$i ${one} > /tmp/p.$i & done; wait; cat /tmp/p.*; rm -f /tmp/p.*`;
    const { run, outputs, calls } = await scripted([{ exec: script }, { message: 'parallel' }]);
    expect(run.status).toBe('succeeded');
    const got = Object.values(answers(outputs[0] ?? ''));
    expect(got).toHaveLength(12);
    const ok = got.filter((a) => a.status === 200);
    const refused = got.filter((a) => a.status !== 200);
    expect(ok).toHaveLength(MAX_INFLIGHT);
    for (const answer of refused) {
      expectRefusal(answer, 429, 'rate_limited');
      expect(answer.headers['retry-after']).toBe('1');
    }
    expect(calls.filter((c) => c.script === held.match(/\[stand-in:([\w.-]+)\]/)![1])).toHaveLength(MAX_INFLIGHT);
    expectOnlyAllowedUpstream(calls);
  });

  it('answers 100 GET /v1/models in a row itself: nothing goes upstream and nothing counts against the run', async () => {
    const models = Buffer.from(request('GET', '/v1/models', authed())).toString('base64');
    const script = `${GW}\nfor i in $(seq 100); do gw m ${models} | tail -1 | base64 -d | head -1; done | grep -c '^HTTP/1.1 200 OK'; gw last ${models}`;
    const { run, outputs, calls } = await scripted([{ exec: script }, { message: 'listed' }]);
    expect(run.status).toBe('succeeded');
    expect(outputs[0]!.split('\n')[0]).toBe('100');
    const last = answers(outputs[0]!).last!;
    expect(last.status).toBe(200);
    expect(JSON.parse(last.body)).toEqual({ object: 'list', data: [{ id: STAND_IN_MODEL, object: 'model', created: 0, owned_by: 'standin' }] });
    expect(calls).toHaveLength(2);
    expect(run.provider_usage.requests).toBe(2);
    expect(h.standIn.requests.filter((r) => r.path.endsWith('/models'))).toEqual([]);
  });
});

describe('the relay killed while a call is in flight', () => {
  it('ends the run sandbox_stopped, cuts the upstream call, closes the run\'s socket, and the server serves on', async () => {
    const held = h.prompt([{ message: 'never read', holdMs: 60_000 }]);
    const heldBody = JSON.stringify({ model: STAND_IN_MODEL, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: held }] }] });
    const script = [
      GW,
      `gw held ${Buffer.from(post('/v1/responses', heldBody)).toString('base64')} > /tmp/held &`,
      'sleep 2',
      'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = socat ] && kill -9 ${p#/proc/}; done; sleep 5',
    ].join('\n');
    const heldName = held.match(/\[stand-in:([\w.-]+)\]/)![1];
    const { run } = await scripted([{ exec: script }, { message: 'unreachable' }]);
    expect(run.status).toBe('failed');
    expect(run.error.code).toBe('sandbox_stopped');
    const upstream = h.standIn.requests.filter((r) => r.script === heldName);
    expect(upstream).toHaveLength(1);
    // The gateway let go of the provider once its sandbox was gone.
    await expect.poll(() => upstream[0]!.clientGone, { timeout: 10_000 }).toBe(true);
    expect(existsSync(path.join(h.dataDir, 'gateway', 'runs', run.id))).toBe(false);

    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    const next = await scripted([{ exec: 'echo fine' }, { message: 'next run' }]);
    expect(next.run).toMatchObject({ status: 'succeeded', final_message: 'next run' });
  });
});
