// A run's gateway token and its prompt are seen by that run alone. Not in the server's log output
// (the real server process's stdout and stderr), not in another run's events or record (same tenant
// or another), not in `docker inspect` of its container (Env, Cmd, Labels…), any exec's inspect or
// the engine's events, not in the host's `ps` (every /proc/PID/cmdline, read while the run runs).
// The token is in the run's own sandbox environment, by design (docs/security.md): Codex sends it
// to the gateway. Real server process, real Docker, real Codex; the stand-in scripts the runs.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSse } from '../server/gateway/sse-events.js';
import { docker } from './fixtures/docker.js';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL, type ResponsesStandIn, type StandInStep } from './fixtures/responses-stand-in.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';
import { until } from './fixtures/until.js';

const TOKENS = { a: `tenant-a-${randomBytes(8).toString('hex')}`, b: `tenant-b-${randomBytes(8).toString('hex')}` } as const;
type Tenant = keyof typeof TOKENS;
const UPSTREAM_KEY = `sk-secrets-${randomBytes(12).toString('hex')}`;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
/** A gateway token as the sandbox prints it. */
const TOKEN_LINE = /TOKEN=(crgw_[A-Za-z0-9_-]+)/;
/** What another run prints of everything it can see: its env, every process's environ and argv, the gateway mount. */
const DUMP = 'env; for p in /proc/[0-9]*; do { tr "\\0" "\\n" < $p/environ; tr "\\0" " " < $p/cmdline; echo; } 2>/dev/null; done; ls -laR /run/codex-runner /tmp /home/codex 2>&1; echo dumped';

let standIn: ResponsesStandIn;
let server: ServerProcess;
let counter = 0;

beforeAll(async () => {
  standIn = await startResponsesStandIn();
  server = await startServerProcess(
    {
      providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
      defaults: { provider: 'standin', model: STAND_IN_MODEL },
      sandbox: { memory_mb: 1024, cpus: 1, workspace_mb: 64 },
      limits: { prompt_max_bytes: 1024 * 1024 },
      tenants: [
        { name: 'a', token_sha256: sha(TOKENS.a) },
        { name: 'b', token_sha256: sha(TOKENS.b) },
      ],
    },
    { STANDIN_KEY: UPSTREAM_KEY },
  );
});
afterAll(async () => {
  await server?.close();
  await standIn?.close();
});

function api(tenant: Tenant, pathname: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${TOKENS[tenant]}`);
  return server.api(pathname, { ...init, headers });
}

/** Registers a stand-in script; the prompt is `text` with the script's marker in it. */
function scripted(steps: StandInStep[], text = 'do the task'): string {
  const name = `sec${++counter}-${randomBytes(3).toString('hex')}`;
  standIn.script(name, steps);
  return `${text} ${scriptMarker(name)}`;
}

async function start(tenant: Tenant, prompt: string): Promise<string> {
  const res = await api(tenant, '/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
  const body: any = await res.json();
  expect({ status: res.status, body }).toMatchObject({ status: 202 });
  return body.id;
}

async function waitForEnd(tenant: Tenant, id: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run: any = await (await api(tenant, `/v1/runs/${id}`)).json();
    if (!['queued', 'running'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A run's events as the API serves them, as text. */
async function eventsText(tenant: Tenant, id: string): Promise<string> {
  const res = await api(tenant, `/v1/runs/${id}/events`);
  expect(res.status).toBe(200);
  return parseSse(await res.text()).map((e) => e.data).join('\n');
}

/** Every host process's command line, as `ps` would show it. */
async function hostCommandLines(): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const lines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`).then((b) => b.toString('latin1').split('\0').join(' ').trim(), () => '')));
  return lines.filter(Boolean);
}


describe("a run's gateway token and prompt", () => {
  // Starts with dashes (an option to anyone who parses an argv) and spans lines.
  const PROMPT_SECRET = `prompt-secret-${randomBytes(8).toString('hex')}`;
  let victim: { id: string; prompt: string; token: string };
  let victimRun: any;
  let victimEvents: string;
  let seen: { container: string; execs: string[]; engineEvents: string; hostCommandLines: string[] };
  let others: { tenant: Tenant; run: any; events: string; runJson: string }[];
  let otherTenantView: { one: { status: number; body: string }; list: string };

  beforeAll(async () => {
    const prompt = scripted([{ exec: 'echo "TOKEN=$CODEX_RUNNER_GATEWAY_TOKEN"' }, { exec: 'sleep 15' }, { message: 'done' }], `--version -rf ${PROMPT_SECRET}\nsecond line`);
    const id = await start('a', prompt);
    const eventsFile = path.join(server.dataDir, 'data', 'runs', id, 'events.jsonl');
    // The run prints its own token into its own events: the test needs to know what to look for.
    const token = await until('the run to print its token', async () => TOKEN_LINE.exec(await readFile(eventsFile, 'utf8').catch(() => ''))?.[1], 90_000);
    victim = { id, prompt, token };

    // While Codex sleeps in its second command: the engine's view and the host's.
    const [listed] = await docker.listContainers({ filters: { label: [`codex-runner.run-id=${id}`] } });
    const container = docker.getContainer(listed!.Id);
    const info = await container.inspect();
    const execs = await Promise.all((info.ExecIDs ?? []).map(async (execId) => JSON.stringify(await docker.getExec(execId).inspect())));
    const commandLines: string[] = [];
    for (let i = 0; i < 5; i++) {
      commandLines.push(...(await hostCommandLines()));
      await sleep(200);
    }
    const stream = (await docker.getEvents({ since: Math.floor(Date.parse(info.Created) / 1000) - 1, until: Math.ceil(Date.now() / 1000), filters: { container: [info.Id] } } as any)) as unknown as Readable;
    const engineEvents = Buffer.concat(await stream.toArray()).toString();
    seen = { container: JSON.stringify(info), execs, engineEvents, hostCommandLines: commandLines };

    // Other runs while it is live: one of the same tenant, one of another, each dumping what it can see.
    others = await Promise.all(
      (['a', 'b'] as const).map(async (tenant) => {
        const otherId = await start(tenant, scripted([{ exec: DUMP }, { message: 'dumped' }]));
        const run = await waitForEnd(tenant, otherId);
        return { tenant, run, events: await eventsText(tenant, otherId), runJson: JSON.stringify(run) };
      }),
    );
    const one = await api('b', `/v1/runs/${id}`);
    otherTenantView = { one: { status: one.status, body: await one.text() }, list: await (await api('b', '/v1/runs')).text() };

    victimRun = await waitForEnd('a', id);
    victimEvents = await eventsText('a', id);
  }, 240_000);

  it('reach Codex: the prompt whole, dashes and newline included, and the token as its bearer', () => {
    expect(victimRun.status).toBe('succeeded');
    const texts = standIn.requests
      .filter((r) => r.path === '/v1/responses')
      .flatMap((r) => (r.body?.input ?? []) as any[])
      .filter((item) => item.role === 'user')
      .flatMap((item) => (Array.isArray(item.content) ? item.content : []).map((part: any) => part.text));
    expect(texts).toContain(victim.prompt);
    expect(victimEvents).toContain(`TOKEN=${victim.token}`);
  });

  it('are in no docker inspect of the container (Env, Cmd, Labels), no exec inspect and no engine event', () => {
    // The looks did see the run: its sandbox's main process, which got Codex's command on the stdin
    // the server attached to, with no exec.
    expect(JSON.parse(seen.container).Config.Cmd[0]).toBe('codex-runner-main');
    expect(seen.execs).toEqual([]);
    expect(seen.engineEvents).toContain('"status":"attach"');
    for (const text of [seen.container, ...seen.execs, seen.engineEvents]) {
      expect(text).not.toContain(victim.token);
      expect(text).not.toContain(PROMPT_SECRET);
    }
  });

  it("are in no host process's command line while the run runs", () => {
    expect(seen.hostCommandLines.some((c) => c.startsWith('codex exec --json') && c.endsWith(' -'))).toBe(true);
    expect(seen.hostCommandLines.filter((c) => c.includes(victim.token) || c.includes(PROMPT_SECRET))).toEqual([]);
  });

  it("are in no other run's events or record, of the same tenant or another, and another tenant gets a bare 404", () => {
    expect(others.map((o) => [o.tenant, o.run.status])).toEqual([['a', 'succeeded'], ['b', 'succeeded']]);
    for (const other of others) {
      // The dump worked: each run sees its own token.
      expect(other.events).toMatch(/CODEX_RUNNER_GATEWAY_TOKEN=crgw_/);
      expect(other.events).toContain('dumped');
      for (const text of [other.events, other.runJson]) {
        expect(text).not.toContain(victim.token);
        expect(text).not.toContain(PROMPT_SECRET);
      }
    }
    expect(otherTenantView.one.status).toBe(404);
    expect(JSON.parse(otherTenantView.one.body).error.code).toBe('not_found');
    expect(otherTenantView.one.body).not.toContain(PROMPT_SECRET);
    expect(otherTenantView.list).not.toContain(victim.id);
    expect(otherTenantView.list).not.toContain(PROMPT_SECRET);
  });

  it("are in none of the server's log output, nor are the upstream key and the tenants' tokens", () => {
    const output = server.output();
    // The log did cover the run.
    expect(output).toContain(victim.id);
    for (const secret of [victim.token, PROMPT_SECRET, UPSTREAM_KEY, TOKENS.a, TOKENS.b]) expect(output).not.toContain(secret);
    for (const other of others) {
      const token = TOKEN_LINE.exec(other.events)?.[1];
      expect(token).toBeDefined();
      expect(output).not.toContain(token);
    }
  });
});

describe('a prompt of 1 MiB', () => {
  it('goes to Codex whole on its stdin, past the 128 KiB an argv string can hold', async () => {
    const MiB = 1024 * 1024;
    const tail = `end-${randomBytes(6).toString('hex')}`;
    const marked = scripted([{ message: 'read it all' }], tail);
    // Exactly prompt_max_bytes' ceiling, and Codex's own: 1,048,576 characters.
    const prompt = `${'lorem ipsum dolor sit amet '.repeat(Math.ceil(MiB / 27)).slice(0, MiB - marked.length)}${marked}`;
    expect(Buffer.byteLength(prompt)).toBe(MiB);
    const id = await start('a', prompt);
    const run = await waitForEnd('a', id);
    expect({ status: run.status, error: run.error }).toEqual({ status: 'succeeded', error: null });
    expect(run.final_message).toBe('read it all');
    const texts = standIn.requests
      .filter((r) => r.path === '/v1/responses' && JSON.stringify(r.body).includes(tail))
      .flatMap((r) => (r.body?.input ?? []) as any[])
      .flatMap((item) => (Array.isArray(item.content) ? item.content : []).map((part: any) => part.text));
    expect(texts).toContain(prompt);
  }, 180_000);
});
