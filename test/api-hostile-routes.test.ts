// The API side of the hostile suite, routes and auth: missing, wrong and malformed tokens, another
// tenant's token, guessed and malformed run ids, and encoded path tricks on every route, against
// the real server process with two tenants and real runs. Every answer is the JSON envelope, none
// is a 5xx, and no trick reaches one tenant's run with another's token (or with none).
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNothingLeft, expectRefusal, rawExchange, send, serverState, type Sent, type ServerState } from './fixtures/hostile-http.js';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL, type ResponsesStandIn } from './fixtures/responses-stand-in.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';

const ALICE = `alice-${randomBytes(8).toString('hex')}`;
const BOB = `bob-${randomBytes(8).toString('hex')}`;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

let standIn: ResponsesStandIn;
let server: ServerProcess;
/** Alice's ended run, with a diff and a workspace; and her live one, held by the stand-in. */
let done: string;
let live: string;
let baseline: ServerState;

function api(method: string, path: string, token: string | null, headers: Record<string, string> = {}): Promise<Sent> {
  return send(server.url, { method, path, headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers } });
}

/** Every route that takes a run id, as [method, path]. */
const runRoutes = (id: string): [string, string][] => [
  ['GET', `/v1/runs/${id}`],
  ['GET', `/v1/runs/${id}/events`],
  ['GET', `/v1/runs/${id}/diff`],
  ['GET', `/v1/runs/${id}/workspace`],
  ['POST', `/v1/runs/${id}/cancel`],
];
const everyRoute = (id: string): [string, string][] => [['GET', '/v1/runs'], ['POST', '/v1/runs'], ['GET', '/metrics'], ...runRoutes(id)];

beforeAll(async () => {
  standIn = await startResponsesStandIn();
  server = await startServerProcess(
    {
      tenants: [
        { name: 'alice', token_sha256: sha(ALICE) },
        { name: 'bob', token_sha256: sha(BOB) },
      ],
      providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
      defaults: { provider: 'standin', model: STAND_IN_MODEL },
    },
    { STANDIN_KEY: 'sk-standin' },
  );
  standIn.script('edit', [{ exec: 'echo changed > notes.txt' }, { message: 'done' }]);
  standIn.script('hold', [{ delayMs: 120_000, then: { message: 'late' } }]);
  const created = await send(server.url, {
    method: 'POST',
    path: '/v1/runs?wait=1',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `${scriptMarker('edit')} edit notes` }),
  });
  expect(created.status, created.text).toBe(200);
  expect(created.json.status).toBe('succeeded');
  done = created.json.id;
  const held = await send(server.url, {
    method: 'POST',
    path: '/v1/runs',
    headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `${scriptMarker('hold')} wait` }),
  });
  expect(held.status, held.text).toBe(202);
  live = held.json.id;
  for (let waited = 0; (await api('GET', `/v1/runs/${live}`, ALICE)).json.status !== 'running'; waited += 200) {
    if (waited > 60_000) throw new Error(`run ${live} did not start in 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // Until its Codex has called the model: the Docker streams it holds from then on are in the baseline.
  for (let waited = 0; !standIn.requests.some((r) => r.script === 'hold'); waited += 50) {
    if (waited > 60_000) throw new Error(`run ${live}'s Codex did not call the model in 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  baseline = await serverState(server);
}, 180_000);

afterAll(async () => {
  if (live) await api('POST', `/v1/runs/${live}/cancel`, ALICE).catch(() => {});
  await server?.close();
  await standIn?.close();
});

/** Her live run writes its own files and holds Docker streams as it goes: not what a request left. */
const leftOpts = () => ({ ignoreFiles: new RegExp(live), fdSlack: 2 });

/** Alice's runs as she sees them: unchanged by anything the others sent. */
async function expectAliceRunsIntact(): Promise<void> {
  expect((await api('GET', `/v1/runs/${done}`, ALICE)).json.status).toBe('succeeded');
  expect((await api('GET', `/v1/runs/${live}`, ALICE)).json.status).toBe('running');
  expect((await api('GET', `/v1/runs/${done}/diff`, ALICE)).text).toContain('+changed');
}

describe('authentication on every route', () => {
  const variants: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer not-a-token' }],
    ['a token one character off', { authorization: `Bearer ${ALICE.slice(0, -1)}x` }],
    ['alice\'s token with a suffix', { authorization: `Bearer ${ALICE}x` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['the scheme alone', { authorization: 'Bearer' }],
    ['two tokens', { authorization: `Bearer ${ALICE} ${ALICE}` }],
    ['Basic credentials', { authorization: `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}` }],
    ['the token without a scheme', { authorization: ALICE }],
    ['a token of 8 KiB', { authorization: `Bearer ${'t'.repeat(8192)}` }],
    ['the token in another header', { 'x-api-key': ALICE, cookie: `token=${ALICE}` }],
  ];

  for (const [name, headers] of variants) {
    it(`answers ${name} with a JSON 401 and WWW-Authenticate: Bearer on every route`, async () => {
      for (const [method, path] of everyRoute(done)) {
        const res = await send(server.url, { method, path, headers });
        expectRefusal(res, 401, 'unauthorized', /bearer token/);
        expect(res.headers['www-authenticate'], `${method} ${path}`).toBe('Bearer');
      }
    });
  }

  it('does not take the token from the query string', async () => {
    for (const [method, path] of everyRoute(done)) expectRefusal(await send(server.url, { method, path: `${path}?token=${ALICE}&access_token=${ALICE}` }), 401, 'unauthorized');
  });

  it('leaves nothing behind and alice\'s runs as they were', async () => {
    await expectAliceRunsIntact();
    await expectNothingLeft(server, baseline, leftOpts());
  });
});

describe('another tenant\'s token', () => {
  it('gets a JSON 404 on every route of alice\'s runs, word for word what an unknown id gets', async () => {
    const unknown = `run_${randomBytes(10).toString('hex')}`;
    for (const id of [done, live]) {
      for (const [[method, path], [, unknownPath]] of runRoutes(id).map((r, i) => [r, runRoutes(unknown)[i]!] as const)) {
        const theirs = await api(method, path, BOB);
        const none = await api(method, unknownPath, BOB);
        expectRefusal(theirs, 404, 'not_found');
        expect(theirs.json.error.message.replace(id, '<id>'), `${method} ${path}`).toBe(none.json.error.message.replace(unknown, '<id>'));
      }
    }
  });

  it('never lists alice\'s runs, whatever the filter', async () => {
    for (const query of ['', '?status=succeeded', '?status=running', '?limit=100']) {
      const res = await api('GET', `/v1/runs${query}`, BOB);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(done);
      expect(res.text).not.toContain(live);
    }
    const mine = await api('GET', '/v1/runs?limit=100', ALICE);
    expect(mine.json.runs.map((r: any) => r.id).sort()).toEqual([done, live].sort());
  });

  it('cannot page into alice\'s runs with a cursor made from her run', async () => {
    const page = await api('GET', '/v1/runs?limit=1', ALICE);
    const cursor = page.json.next_cursor;
    expect(cursor).toEqual(expect.any(String));
    const res = await api('GET', `/v1/runs?cursor=${encodeURIComponent(cursor)}`, BOB);
    expect(res.status).toBe(200);
    expect(res.json.runs).toEqual([]);
  });

  it('cannot cancel alice\'s live run', async () => {
    expectRefusal(await api('POST', `/v1/runs/${live}/cancel`, BOB), 404, 'not_found');
    await expectAliceRunsIntact();
  });
});

describe('guessed and malformed run ids', () => {
  it('answers 200 guessed ids of the real format with a JSON 404 on every route', async () => {
    for (let i = 0; i < 40; i++) {
      for (const [method, path] of runRoutes(`run_${randomBytes(10).toString('hex')}`)) expectRefusal(await api(method, path, ALICE), 404, 'not_found', /^no run run_[0-9a-f]{20}$/);
    }
  });

  const malformed = [
    ['a near miss of a real id', () => `${done.slice(0, -1)}${done.endsWith('0') ? '1' : '0'}`],
    ['a real id in capitals', () => done.toUpperCase()],
    ['a real id with a trailing NUL', () => `${done}%00`],
    ['a real id with a trailing space', () => `${done}%20`],
    ['a real id with a trailing encoded slash', () => `${done}%2F`],
    ['a real id with a SQL tail', () => `${done}'%20OR%20'1'='1`],
    ['a LIKE wildcard', () => 'run_%25'],
    ['an underscore wildcard', () => `run_${'_'.repeat(20)}`],
    ['a percent sign alone', () => '%'],
    ['a broken escape', () => 'run_%2'],
    ['an escape that is not UTF-8', () => '%ff%fe'],
    ['an overlong UTF-8 dot-dot', () => '%c0%ae%c0%ae'],
    ['a double-encoded dot-dot-slash', () => '..%252f..%252fhealthz'],
    ['an id of 8 KiB', () => `run_${'a'.repeat(8192)}`],
    ['unicode', () => encodeURIComponent('run_ünïcødé_🏃')],
  ] as const;

  for (const [name, id] of malformed) {
    it(`answers ${name} with a JSON 4xx on every route, and never with a run`, async () => {
      for (const [method, path] of runRoutes(id())) {
        const res = await api(method, path, ALICE);
        expect(res.status, `${method} ${path.slice(0, 80)}: ${res.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.json?.error?.code, res.text.slice(0, 200)).toEqual(expect.any(String));
        // A long guess is not echoed back whole.
        expect(res.text.length, `${method} ${path.slice(0, 80)}`).toBeLessThan(1024);
      }
    });
  }

  it('leaves nothing behind and alice\'s runs as they were', async () => {
    await expectAliceRunsIntact();
    await expectNothingLeft(server, baseline, leftOpts());
  });
});

describe('encoded path tricks on every route', () => {
  /** Ways to write `path` that a careless router or proxy might take for it, or for another route. */
  const tricks = (path: string): [string, string][] => {
    const rest = path.slice('/v1/'.length);
    return [
      ['%2e%2e climbing out of /v1 and back', `/v1/%2e%2e/v1/${rest}`],
      ['%2e%2e from a public route into /v1', `/healthz/%2e%2e/v1/${rest}`],
      ['.. from a public route into /v1', `/readyz/../v1/${rest}`],
      ['mixed-case %2E%2e', `/healthz/%2E%2e/v1/${rest}`],
      ['a single %2e segment', `/v1/%2e/${rest}`],
      ['a doubled slash after /v1', `/v1//${rest}`],
      ['a doubled leading slash', `/${path}`],
      ['slashes as %2F', `/v1%2F${rest.replaceAll('/', '%2F')}`],
      ['the last slash as %2F', path.replace(/\/([^/]*)$/, '%2F$1')],
      ['a backslash as %5C', `/v1%5C${rest.replaceAll('/', '%5C')}`],
      ['a trailing slash', `${path}/`],
      ['a trailing %2e', `${path}/%2e`],
      ['a trailing ;', `${path};`],
      ['a NUL before the rest', `/v1/%00/${rest}`],
      ['capitals', path.toUpperCase()],
      ['double-encoded dots', `/healthz/%252e%252e/v1/${rest}`],
    ];
  };

  it('never lets bob, or no token, reach alice\'s runs, and answers every trick with JSON and no 5xx', async () => {
    const routes: [string, string][] = [['GET', '/v1/runs'], ['POST', '/v1/runs'], ...runRoutes(done), ...runRoutes(live)];
    for (const [method, canonical] of routes) {
      for (const [trick, path] of tricks(canonical)) {
        for (const token of [null, BOB]) {
          const res = await api(method, path, token);
          const where = `${trick}: ${method} ${path} as ${token === null ? 'nobody' : 'bob'} -> ${res.status} ${res.text.slice(0, 200)}`;
          expect(res.status, where).toBeLessThan(500);
          expect(res.headers['content-type'], where).toMatch(/^application\/json/);
          if (res.status < 400) {
            // Only what bob may see: his own (empty) list, or a public route the path normalized to.
            expect(res.text, where).not.toContain(done);
            expect(res.text, where).not.toContain(live);
            if (token === null) expect(res.json?.status === 'ok' || res.json?.status === 'ready' || res.json?.status === 'not_ready', where).toBe(true);
          }
        }
        // Her live run's event stream stays open while it runs, and her cancel would end it: not hers to send here.
        if (canonical.startsWith(`/v1/runs/${live}/`)) continue;
        // Alice's own answer through the trick: her run, or a JSON 4xx; never a 5xx.
        const hers = await api(method, path, ALICE);
        const where = `${trick}: ${method} ${path} as alice -> ${hers.status} ${hers.text.slice(0, 200)}`;
        expect(hers.status, where).toBeLessThan(500);
        if (hers.status >= 400) expect(hers.json?.error?.code, where).toEqual(expect.any(String));
      }
    }
    await expectAliceRunsIntact();
  });

  it('does not take a method or a path from override headers', async () => {
    const overrides = { 'x-http-method-override': 'POST', 'x-method-override': 'POST', 'x-original-url': `/v1/runs/${live}/cancel`, 'x-rewrite-url': `/v1/runs/${live}/cancel` };
    const res = await api('GET', `/v1/runs/${live}`, BOB, overrides);
    expectRefusal(res, 404, 'not_found');
    const probe = await api('GET', '/healthz', null, overrides);
    expect(probe.json).toEqual({ status: 'ok' });
    await expectAliceRunsIntact();
  });

  it('answers an absolute-form request target like its path, with the same auth', async () => {
    for (const [method, path] of runRoutes(done)) {
      const head = `${method} http://127.0.0.1${path} HTTP/1.1\r\nHost: elsewhere.example\r\nAuthorization: Bearer ${BOB}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
      expectRefusal(await rawExchange(server.url, head), 404, 'not_found');
      const anonymous = `${method} http://127.0.0.1${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
      expectRefusal(await rawExchange(server.url, anonymous), 401, 'unauthorized');
    }
  });

  it('leaves nothing behind and logs no error', async () => {
    await expectAliceRunsIntact();
    await expectNothingLeft(server, baseline, leftOpts());
    expect(server.logs().filter((l) => l.level >= 50).map((l) => `${l.msg}: ${l.err?.message ?? ''}`)).toEqual([]);
  });
});
