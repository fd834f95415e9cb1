import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, readTarContents } from '../server/archive/test-tarballs.js';
import { runEventSchema } from '../server/runs/run-wire.js';
import { docker } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

// Built by `npm run sandbox:build -- --env node` / `--env python`. The allow-list needs the image's
// egress relay (codex-runner-relay), in sandbox images built from this tree on.
const NODE_IMAGE = process.env.CODEX_RUNNER_NODE_IMAGE ?? 'codex-runner-sandbox-node:latest';
const PYTHON_IMAGE = process.env.CODEX_RUNNER_PYTHON_IMAGE ?? 'codex-runner-sandbox-python:latest';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const SECRET = `s3cret-${randomBytes(12).toString('hex')}`;
const ciToken = `tok-ci-${randomBytes(8).toString('hex')}`;
const trustedToken = `tok-trusted-${randomBytes(8).toString('hex')}`;

/** A stand-in npm registry on 127.0.0.2 (loopback, but not 127.0.0.1, which the proxy variables' NO_PROXY keeps direct). */
let registry: http.Server;
let registryUrl = '';
const registryHits: string[] = [];
let h: Harness;

beforeAll(async () => {
  for (const image of [NODE_IMAGE, PYTHON_IMAGE]) {
    const present = await docker.getImage(image).inspect().then(() => true, () => false);
    if (!present) throw new Error(`the environment image ${image} is missing: build it with npm run sandbox:build -- --env ${image.includes('python') ? 'python' : 'node'}`);
  }
  const tarball = await makeTar(
    [
      { name: 'package/package.json', content: JSON.stringify({ name: 'leftpad', version: '1.0.0', main: 'index.js' }) },
      { name: 'package/index.js', content: "module.exports = (s, n) => String(s).padStart(n, '0');\n" },
    ],
    { gzip: true },
  );
  registry = http.createServer((req, res) => {
    registryHits.push(req.url ?? '');
    if (req.url === '/leftpad') {
      const packument = {
        name: 'leftpad',
        'dist-tags': { latest: '1.0.0' },
        versions: { '1.0.0': { name: 'leftpad', version: '1.0.0', dist: { tarball: `${registryUrl}/leftpad/-/leftpad-1.0.0.tgz`, shasum: createHash('sha1').update(tarball).digest('hex') } } },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
    } else if (req.url === '/leftpad/-/leftpad-1.0.0.tgz') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    } else {
      res.writeHead(404).end('{}');
    }
  });
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.2', resolve));
  const registryPort = (registry.address() as AddressInfo).port;
  registryUrl = `http://127.0.0.2:${registryPort}`;

  h = await startHarness(
    {
      environments: {
        node: { image: NODE_IMAGE, setup: ['node --version', 'npm --version'] },
        python: { image: PYTHON_IMAGE },
        broken: { setup: ['echo preparing', 'echo first line; echo the last words >&2; exit 3', 'echo never'] },
        secret: {
          setup: [
            'printf %s "$ENV_TEST_SECRET" | sha256sum | cut -d" " -f1 > /workspace/secret.sha',
            'echo "the token is $ENV_TEST_SECRET"',
            // Leftovers that hold the secret in their environment: one in setup's session, one in a session of its own.
            'sleep 300 & setsid bash -c "exec sleep 301" & disown -a; true',
          ],
          setup_secret_env: ['ENV_TEST_SECRET'],
        },
        wide: { agent_network: { policy: 'open' } },
        'open-setup': { setup: ['cat /proc/net/dev'], setup_network: { policy: 'open' } },
        registry: {
          image: NODE_IMAGE,
          setup: [`npm install --no-audit --no-fund --registry ${registryUrl}/ leftpad@1.0.0`],
          setup_network: { policy: 'allowlist', allow: [`127.0.0.2:${registryPort}`] },
        },
        'agent-allowlist': { image: NODE_IMAGE, agent_network: { policy: 'allowlist', allow: [`127.0.0.2:${registryPort}`] } },
        'pooled-registry': {
          image: NODE_IMAGE,
          setup: [`npm install --no-audit --no-fund --registry ${registryUrl}/ leftpad@1.0.0`],
          setup_network: { policy: 'allowlist', allow: [`127.0.0.2:${registryPort}`] },
          pool_size: 1,
        },
      },
      // A pooled sandbox is of the default shape: a run of another image, or with a phase network or the proxy, must not take it.
      pool: { size: 1 },
      tenants: [
        { name: 'ci', token_sha256: sha256(ciToken) },
        { name: 'trusted', token_sha256: sha256(trustedToken), allow_open_network: true },
      ],
    },
    { ENV_TEST_SECRET: SECRET },
  );
}, 60_000);

afterAll(async () => {
  await h?.close();
  await new Promise((resolve) => registry?.close(resolve));
});

async function run(input: { steps: Parameters<Harness['prompt']>[0]; environment?: string; workspace?: Buffer; token?: string }): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.set('prompt', h.prompt(input.steps));
  form.set('options', JSON.stringify(input.environment ? { environment: input.environment } : {}));
  if (input.workspace) form.set('workspace', new Blob([new Uint8Array(input.workspace)]), 'ws.tar');
  const res = await h.api('/v1/runs?wait=1', { method: 'POST', body: form, token: input.token ?? ciToken });
  return { status: res.status, body: await res.json() };
}

async function eventsOf(id: string, token = ciToken) {
  const events = await readSse(await h.api(`/v1/runs/${id}/events`, { token }));
  for (const e of events) expect(runEventSchema.safeParse({ seq: Number(e.id), kind: e.event, data: e.data }).error).toBeUndefined();
  return events;
}

const commands = (events: Awaited<ReturnType<typeof eventsOf>>) =>
  events.filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution').map((e) => e.data.item as { aggregated_output: string; exit_code: number });

describe('the node environment', () => {
  it('lets Codex run npm test: it fails, Codex edits, it passes; setup output is in the events', async () => {
    const workspace = await makeTar([
      { name: 'package.json', content: JSON.stringify({ name: 'demo', version: '1.0.0', scripts: { test: 'node test.js' } }) },
      { name: 'index.js', content: 'exports.add = (a, b) => a - b;\n' },
      { name: 'test.js', content: "const assert = require('assert');\nassert.strictEqual(require('./index').add(2, 3), 5);\nconsole.log('all passed');\n" },
    ]);
    const { status, body } = await run({
      environment: 'node',
      workspace,
      steps: [{ exec: 'npm test' }, { exec: "sed -i 's/a - b/a + b/' index.js" }, { exec: 'npm test' }, { message: 'fixed add' }],
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'succeeded', error: null, final_message: 'fixed add', environment: 'node' });
    const events = await eventsOf(body.id);
    const [first, , last] = commands(events);
    expect(first!.exit_code).not.toBe(0);
    expect(first!.aggregated_output).toMatch(/AssertionError/);
    expect(last!.exit_code).toBe(0);
    expect(last!.aggregated_output).toContain('all passed');
    const setup = events.filter((e) => e.event === 'setup').map((e) => e.data);
    expect(setup.map((d) => d.type)).toEqual(['setup.started', 'setup.output', 'setup.finished', 'setup.started', 'setup.output', 'setup.finished']);
    expect(setup[1]).toMatchObject({ index: 0, stream: 'stdout', text: expect.stringMatching(/^v\d+\./) });
    expect(setup[5]).toMatchObject({ index: 1, exit_code: 0 });
    // The setup events come after the start and before Codex's first.
    const kinds = events.map((e) => e.event);
    expect(kinds.indexOf('setup')).toBeGreaterThan(events.findIndex((e) => e.data.type === 'run.started'));
    expect(kinds.lastIndexOf('setup')).toBeLessThan(kinds.indexOf('codex'));
    expect(h.telemetry.of('runPhase').some((r) => r.labels.phase === 'setup')).toBe(true);
  });
});

describe('the python environment', () => {
  it('lets Codex run pytest: it fails, Codex edits, it passes', async () => {
    const workspace = await makeTar([
      { name: 'calc.py', content: 'def mul(a, b):\n    return a + b\n' },
      { name: 'test_calc.py', content: 'from calc import mul\n\ndef test_mul():\n    assert mul(3, 4) == 12\n' },
    ]);
    const pytest = 'python3 -m pytest -q -p no:cacheprovider';
    const { body } = await run({
      environment: 'python',
      workspace,
      steps: [{ exec: pytest }, { exec: "sed -i 's/a + b/a * b/' calc.py" }, { exec: pytest }, { message: 'fixed mul' }],
    });
    expect(body).toMatchObject({ status: 'succeeded', error: null });
    const [first, , last] = commands(await eventsOf(body.id));
    expect(first!.exit_code).not.toBe(0);
    expect(first!.aggregated_output).toMatch(/1 failed/);
    expect(last!.exit_code).toBe(0);
    expect(last!.aggregated_output).toMatch(/1 passed/);
    // No bytecode beside the sources: the diff holds the edit only.
    expect(body.changes.files.map((f: any) => f.path)).toEqual(['calc.py']);
  });
});

describe('a setup that fails', () => {
  it('ends the run setup_failed with the output tail, and Codex never starts', async () => {
    const before = h.standIn.requests.length;
    const { status, body } = await run({ environment: 'broken', steps: [{ message: 'never reached' }] });
    expect(status).toBe(200);
    expect(body.status).toBe('failed');
    expect(body.error.code).toBe('setup_failed');
    expect(body.error.message).toMatch(/^setup command 2 \(.*\) exited with code 3: /);
    // stdout and stderr are two streams: their lines' order between them is the engine's.
    expect(body.error.message).toMatch(/: preparing\n/);
    expect(body.error.message).toContain('first line');
    expect(body.error.message).toContain('the last words');
    expect(body.error.message).not.toContain('never');
    expect(h.standIn.requests.length).toBe(before);
    const events = await eventsOf(body.id);
    expect(events.some((e) => e.event === 'codex')).toBe(false);
    expect(events.filter((e) => e.data.type === 'setup.finished').map((e) => e.data.exit_code)).toEqual([0, 3]);
  });
});

describe('setup secrets', () => {
  it('reach the setup commands only: nowhere in the agent phase, the events, the log or the artifacts', async () => {
    const { body } = await run({
      environment: 'secret',
      steps: [
        { exec: 'env; echo ENVIRON; for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done; echo PROCESSES; ls /proc | grep -c "^[0-9]"' },
        { message: 'looked around' },
      ],
    });
    expect(body).toMatchObject({ status: 'succeeded', error: null });
    const events = await eventsOf(body.id);
    // The setup had it: it wrote the secret's hash into the workspace.
    const workspace = await readTarContents(Buffer.from(await (await h.api(`/v1/runs/${body.id}/workspace?format=tar`, { token: ciToken })).arrayBuffer()));
    expect(workspace.get('secret.sha')!.trim()).toBe(sha256(SECRET));
    // Its echo was redacted.
    expect(events.some((e) => e.data.type === 'setup.output' && e.data.text === 'the token is [redacted]')).toBe(true);
    // The agent phase looked at its own environment and every process's: the leftovers were ended.
    const [look] = commands(events);
    expect(look!.aggregated_output).toContain('ENVIRON');
    expect(look!.aggregated_output).not.toContain('ENV_TEST_SECRET');
    expect(look!.aggregated_output).not.toMatch(/sleep 30[01]/);
    const diff = await (await h.api(`/v1/runs/${body.id}/diff`, { token: ciToken })).text();
    const raw = JSON.stringify(events);
    for (const [where, text] of [['events', raw], ['log', h.logText()], ['diff', diff], ['workspace', [...workspace.values()].join('\n')]] as const) {
      expect(text.includes(SECRET), `the secret in the ${where}`).toBe(false);
    }
  });
});

describe('network policies', () => {
  it('gives an open environment only to a tenant that opted in, and its sandbox an interface then', async () => {
    const refused = await run({ environment: 'wide', steps: [{ message: 'x' }] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_options', message: expect.stringMatching(/allow_open_network/) });
    const { body } = await run({ environment: 'wide', token: trustedToken, steps: [{ exec: 'cat /proc/net/dev' }, { message: 'ok' }] });
    expect(body).toMatchObject({ status: 'succeeded' });
    const [dev] = commands(await eventsOf(body.id, trustedToken));
    expect(dev!.aggregated_output).toMatch(/^\s*eth0:/m);
  });

  it('takes the interface of an open setup away before Codex starts', async () => {
    const { body } = await run({ environment: 'open-setup', token: trustedToken, steps: [{ exec: 'cat /proc/net/dev' }, { message: 'ok' }] });
    expect(body).toMatchObject({ status: 'succeeded' });
    const events = await eventsOf(body.id, trustedToken);
    expect(events.some((e) => e.data.type === 'setup.output' && /^\s*eth0:/.test(e.data.text))).toBe(true);
    const [dev] = commands(events);
    expect(dev!.aggregated_output).toMatch(/^\s*lo:/m);
    expect(dev!.aggregated_output).not.toMatch(/eth0/);
  });

  it('gives Codex\'s phase the proxy when its policy is allowlist, the gateway still direct', async () => {
    const hitsBefore = registryHits.length;
    const get = (url: string) => `node -e 'require("http").get({host:"127.0.0.1",port:8090,path:"${url}"},r=>{console.log("status",r.statusCode);r.resume()})'`;
    const { body } = await run({
      environment: 'agent-allowlist',
      steps: [{ exec: `echo "$HTTP_PROXY"; ${get(`${registryUrl}/leftpad`)}; ${get('http://127.0.0.3:9/')}; cat /proc/net/dev` }, { message: 'ok' }],
    });
    expect(body).toMatchObject({ status: 'succeeded', error: null });
    const events = await eventsOf(body.id);
    const [out] = commands(events);
    expect(out!.aggregated_output).toContain('http://127.0.0.1:8090');
    expect(out!.aggregated_output).toMatch(/^status 200\nstatus 403$/m);
    expect(out!.aggregated_output).not.toMatch(/eth0/);
    expect(registryHits.slice(hitsBefore)).toEqual(['/leftpad']);
    const egress = events.filter((e) => e.event === 'egress').map((e) => [e.data.host, e.data.port, e.data.allowed]);
    expect(egress).toEqual([['127.0.0.2', Number(registryUrl.split(':')[2]), true], ['127.0.0.3', 9, false]]);
  });

  it("takes a sandbox of a pooled environment's image from its own pool, its allow-list proxy relayed as for one started for the run", async () => {
    const waitingOfImage = async (image: string) =>
      (await docker.listContainers({ filters: { label: [`codex-runner.instance=${h.instance}`], status: ['running'] } })).filter(
        (c) => c.Image === image && c.Labels['codex-runner.run-id']!.startsWith('pool_'),
      ).length;
    await expect.poll(() => waitingOfImage(NODE_IMAGE), { timeout: 60_000 }).toBe(1);
    const starts = h.telemetry.of('runPhase').filter((r) => r.labels.phase === 'start').length;
    // Claimed when the run starts, or for its upload as that was read (preload).
    const fromPool = () => h.telemetry.of('runPhase').filter((r) => r.labels.phase === 'claim' || r.labels.phase === 'preload').length;
    const claims = fromPool();
    const hitsBefore = registryHits.length;
    const workspace = await makeTar([{ name: 'package.json', content: JSON.stringify({ name: 'demo', version: '1.0.0' }) }]);
    const { body } = await run({ environment: 'pooled-registry', workspace, steps: [{ exec: `node -e 'console.log(require("leftpad")(7, 3))'` }, { message: 'ok' }] });
    expect(body).toMatchObject({ status: 'succeeded', error: null, environment: 'pooled-registry' });
    expect(h.telemetry.of('runPhase').filter((r) => r.labels.phase === 'start').length).toBe(starts);
    expect(fromPool()).toBe(claims + 1);
    expect(registryHits.slice(hitsBefore)).toEqual(['/leftpad', '/leftpad/-/leftpad-1.0.0.tgz']);
    const [out] = commands(await eventsOf(body.id));
    expect(out!.aggregated_output).toMatch(/^007$/m);
    // Refilled with one of its own shape; the default pool's stays of the default image.
    await expect.poll(() => waitingOfImage(NODE_IMAGE), { timeout: 60_000 }).toBe(1);
  });

  it('keeps a sandbox of the default environment to loopback, and takes it from the pool', async () => {
    await expect.poll(async () => (await docker.listContainers({ filters: { label: [`codex-runner.instance=${h.instance}`] } })).length, { timeout: 30_000 }).toBeGreaterThan(0);
    const starts = h.telemetry.of('runPhase').filter((r) => r.labels.phase === 'start').length;
    const { body } = await run({ steps: [{ exec: 'cat /proc/net/dev' }, { message: 'ok' }] });
    expect(h.telemetry.of('runPhase').filter((r) => r.labels.phase === 'start').length).toBe(starts);
    const [dev] = commands(await eventsOf(body.id));
    expect(dev!.aggregated_output).toMatch(/^\s*lo:/m);
    expect(dev!.aggregated_output).not.toMatch(/eth0/);
  });

  it('lets setup install a dependency through the allow-list while the agent phase (none) reaches nothing', async () => {
    const workspace = await makeTar([{ name: 'package.json', content: JSON.stringify({ name: 'demo', version: '1.0.0' }) }]);
    const probe = [
      'cat /proc/net/dev',
      'echo "proxy vars: $(env | grep -ic proxy)"',
      // The relay port answers (the relay is the sandbox's), but the proxy behind it lets nothing through now.
      `node -e 'require("http").get({host:"127.0.0.1",port:8090,path:"${registryUrl}/leftpad",headers:{host:"127.0.0.2"}},r=>{console.log("status",r.statusCode);r.resume()}).on("error",e=>console.log("error",e.code))'`,
      `node -e 'console.log(require("leftpad")(7, 3))'`,
    ].join('; ');
    const telemetryBefore = h.telemetry.of('egressConnection').length;
    const hitsBefore = registryHits.length;
    const { body } = await run({ environment: 'registry', workspace, steps: [{ exec: probe }, { message: 'ok' }] });
    expect(body).toMatchObject({ status: 'succeeded', error: null });
    expect(registryHits.slice(hitsBefore)).toEqual(['/leftpad', '/leftpad/-/leftpad-1.0.0.tgz']);
    const events = await eventsOf(body.id);
    const [out] = commands(events);
    expect(out!.aggregated_output).toMatch(/^\s*lo:/m);
    expect(out!.aggregated_output).not.toMatch(/eth0/);
    expect(out!.aggregated_output).toContain('proxy vars: 0');
    expect(out!.aggregated_output).toMatch(/^status 403$/m);
    expect(out!.aggregated_output).toMatch(/^007$/m);
    const egress = events.filter((e) => e.event === 'egress').map((e) => e.data);
    expect(egress.filter((c) => c.allowed).map((c) => `${c.host}:${c.port}`)).toEqual([registryUrl.slice(7), registryUrl.slice(7)]);
    expect(egress.filter((c) => !c.allowed)).toHaveLength(1);
    expect(h.telemetry.of('egressConnection').slice(telemetryBefore).map((r) => r.labels.outcome).sort()).toEqual(['allowed', 'allowed', 'refused']);
    expect(body.changes.files.map((f: any) => f.path)).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    const metrics = await (await h.api('/metrics', { token: ciToken })).text();
    expect(Number(/^codex_runner_egress_connections_total\{outcome="allowed"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/^codex_runner_egress_connections_total\{outcome="refused"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^codex_runner_egress_bytes_total\{direction="down"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^codex_runner_run_phase_seconds_count\{phase="setup"\} [1-9]/m);
  });
});
