import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTarContents } from '../archive/test-tarballs.js';
import { parseConfig, type Config } from '../config/config.js';
import { emptyProviderUsage, type ProviderUsage } from '../domain/provider-usage.js';
import { RunStop } from '../domain/run-error.js';
import { createLogger } from '../logger.js';
import type { ProviderAccess, ProviderAccessOpener, ProviderAccessRequest } from '../provider-access/index.js';
import { RecordingTelemetry } from '../telemetry/telemetry.js';
import { FileRunArtifacts } from './run-artifacts.js';
import { planRun } from './run-plan.js';
import { FairQueue } from './fair-queue.js';
import { tenantQuota } from './tenant-quota.js';
import { RunService } from './run-service.js';
import { MemoryRunStore } from './run-store.js';
import type { Run } from './run.js';
import { completingCodex, FakeSandboxDriver, hangingCodex, writeLines, type FakeCodex, type FakeSandbox, type FakeSandboxScript } from './test-sandbox-driver.js';

const TENANT = 'default';

/** Each run's access, as the gateway's would be: usage it saw, and whether it was closed. */
class FakeAccessOpener implements ProviderAccessOpener {
  readonly requests: ProviderAccessRequest[] = [];
  readonly closed: string[] = [];

  usesGateway(): boolean {
    return true;
  }

  async open(request: ProviderAccessRequest): Promise<ProviderAccess> {
    this.requests.push(request);
    const usage: ProviderUsage = { ...emptyProviderUsage(), requests: 1, input_tokens: 7, output_tokens: 3, total_tokens: 10 };
    const close = async () => void this.closed.push(request.runId);
    return {
      network: 'none',
      gateway: null,
      codex: { name: request.provider.name, baseUrl: 'http://127.0.0.1:8089/v1', envKey: 'CODEX_RUNNER_TOKEN', headers: {}, queryParams: {} },
      codexEnv: () => ['CODEX_RUNNER_TOKEN=run-token'],
      usage: () => usage,
      fault: () => null,
      close,
      [Symbol.asyncDispose]: close,
    };
  }
}

let dataDir: string;
let logLines: string[];

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'run-service-test-'));
  logLines = [];
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** The run service as server.ts builds it, on a scripted driver instead of Docker. */
function build(script: FakeSandboxScript = {}, configOverrides: Record<string, object> = {}) {
  const config: Config = parseConfig({
    server: { data_dir: dataDir },
    defaults: { provider: 'standin', model: 'stand-in-model' },
    providers: { standin: { key_env: 'STANDIN_KEY', base_url: 'http://127.0.0.1:1/v1' } },
    ...configOverrides,
  });
  const driver = new FakeSandboxDriver(script);
  const access = new FakeAccessOpener();
  const telemetry = new RecordingTelemetry();
  const logSink = new PassThrough();
  logSink.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter(Boolean)));
  const store = new MemoryRunStore();
  const service = new RunService({
    executor: { driver, access, config },
    plan: (tenant, options) => planRun({ ...config, providerProblems: {} }, tenant, options),
    admission: new FairQueue(config.limits, (tenant) => tenantQuota(config, tenant)),
    store,
    artifacts: new FileRunArtifacts(config.server.dataDir),
    telemetry,
    limits: config.limits,
    engineProblem: () => null,
    log: createLogger('debug', logSink),
  });
  const create = (timeoutS?: number) => service.create({ tenant: TENANT, prompt: 'do the task', options: timeoutS ? { timeoutS } : {}, workspaceTar: null });
  const ended = async (id: string): Promise<Run> => {
    await service.waitForEnd(id);
    return (await service.get(TENANT, id))!;
  };
  return { service, driver, access, telemetry, store, create, ended };
}

/** Resolves with the sandbox once the fake Codex has started its turn in it. */
function codexStarted(): { script: FakeSandboxScript; started: Promise<FakeSandbox> } {
  let started!: (sandbox: FakeSandbox) => void;
  const promise = new Promise<FakeSandbox>((resolve) => (started = resolve));
  return { script: { codex: hangingCodex(started) }, started: promise };
}

async function eventTypes(service: RunService, run: Run): Promise<string[]> {
  const types: string[] = [];
  const stream = service.events(run, 0);
  try {
    for await (const event of stream) types.push(String((event.data as { type?: unknown }).type));
  } finally {
    await stream.return?.();
  }
  return types;
}

const logged = (msg: string) => logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

describe('RunService on a scripted sandbox driver', () => {
  it('runs a run to success: sandbox removed, access closed, provider usage recorded, telemetry in order', async () => {
    const { service, driver, access, telemetry, create, ended } = build({ codex: completingCodex('all done'), workspace: { 'a.txt': 'hello\n' } });
    const accepted = await create();
    const run = await ended(accepted.id);
    expect(run).toMatchObject({ status: 'succeeded', error: null, exitCode: 0, finalMessage: 'all done', hasDiff: true, hasWorkspace: true });
    expect(run.changes).toMatchObject({ files_changed: 1, insertions: 1, deletions: 0 });
    expect(run.providerUsage).toEqual({ requests: 1, input_tokens: 7, output_tokens: 3, total_tokens: 10 });
    expect(driver.requests.map((r) => [r.runId, r.tenant, r.network])).toEqual([[run.id, TENANT, 'none']]);
    expect(driver.live()).toEqual([]);
    expect(driver.sandboxes[0]!.frozen).toBe(true);
    expect((await readdir(path.join(dataDir, 'runs', run.id))).sort()).toEqual(['diff.patch', 'events.jsonl', 'workspace.tar']);
    expect(access.closed).toEqual([run.id]);
    expect(await eventTypes(service, run)).toEqual(['run.queued', 'run.started', 'thread.started', 'turn.started', 'item.completed', 'turn.completed', 'run.succeeded']);
    // runQueued may come after runStarted: a run admitted at once has started before create() reports it queued.
    expect(telemetry.of('runQueued').map((e) => e.labels)).toEqual([{ tenant: TENANT }]);
    expect(telemetry.of('runStarted').map((e) => e.labels)).toEqual([{ tenant: TENANT }]);
    expect(telemetry.of('runPhase').map((e) => e.labels.phase)).toEqual(['access', 'start', 'codex', 'baseline', 'collect', 'remove']);
    expect(telemetry.events.at(-1)!.kind).toBe('runEnded');
    expect(telemetry.of('runEnded')).toEqual([{ kind: 'runEnded', labels: { tenant: TENANT, provider: 'standin', status: 'succeeded', error: '' }, value: expect.any(Number) }]);
  });

  it('keeps Codex\'s session from the same archive read as the workspace, and nothing else of Codex\'s home', async () => {
    const thread = '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    const codex: FakeCodex = async ({ stdout }) => {
      writeLines(stdout, [{ type: 'thread.started', thread_id: thread }, { type: 'turn.started' }, { type: 'turn.completed', usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_output_tokens: 0 } }]);
      return 0;
    };
    const codexHome = { 'config.toml': 'model = "m"\n', [`sessions/2026/12/03/rollout-${thread}.jsonl`]: '{"type":"session_meta"}\n' };
    const { driver, create, ended } = build({ codex, workspace: { 'a.txt': 'hello\n' }, codexHome });
    const run = await ended((await create()).id);
    expect(run).toMatchObject({ status: 'succeeded', threadId: thread, hasSession: true, hasWorkspace: true });
    expect(driver.sandboxes[0]!.archiveReads).toEqual(['/.cr']);
    const session = await readTarContents(await readFile(path.join(dataDir, 'runs', run.id, 'session.tar')));
    expect([...session.keys()]).toEqual([`sessions/2026/12/03/rollout-${thread}.jsonl`]);
  });

  it('reads the tree again through the engine when the sandbox\'s own tar of it failed, and keeps all the first read would have', async () => {
    const thread = '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c';
    const codex: FakeCodex = async ({ stdout }) => {
      writeLines(stdout, [{ type: 'thread.started', thread_id: thread }, { type: 'turn.started' }, { type: 'turn.completed', usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_output_tokens: 0 } }]);
      return 0;
    };
    const codexHome = { [`sessions/2026/12/03/rollout-${thread}.jsonl`]: '{"type":"session_meta"}\n' };
    const { driver, create, ended } = build({ codex, workspace: { 'a.txt': 'hello\n' }, codexHome, ownTreeFails: true });
    const run = await ended((await create()).id);
    expect(run).toMatchObject({ status: 'succeeded', hasSession: true, hasWorkspace: true, hasDiff: true, artifactProblem: null });
    expect(driver.sandboxes[0]!.archiveReads).toEqual(['/.cr', '/.cr']);
    expect([...(await readTarContents(await readFile(path.join(dataDir, 'runs', run.id, 'workspace.tar')))).keys()]).toEqual(['a.txt']);
    expect([...(await readTarContents(await readFile(path.join(dataDir, 'runs', run.id, 'session.tar')))).keys()]).toEqual([`sessions/2026/12/03/rollout-${thread}.jsonl`]);
  });

  it('gives Codex the prompt on its stdin, never in its argv, even one that starts with "-"', async () => {
    const { service, driver, ended } = build({ codex: completingCodex() });
    const prompt = '--version; -rf do the task';
    await ended((await service.create({ tenant: TENANT, prompt, options: {}, workspaceTar: null })).id);
    const codexExecs = driver.sandboxes[0]!.execs.filter((e) => e.argv.includes('codex'));
    expect(codexExecs).toHaveLength(1);
    // The sandbox's main command starts Codex, its config in the launcher's environment rather than an exec.
    expect(driver.sandboxes[0]!.execs).toEqual([expect.objectContaining({ main: true })]);
    expect(codexExecs[0]!.argv.slice(0, 3)).toEqual(['codex-runner-codex', 'codex', 'exec']);
    expect(codexExecs[0]!.stdin).toBe(prompt);
    expect(codexExecs[0]!.argv.at(-1)).toBe('-');
    expect(codexExecs[0]!.argv.join('\0')).not.toContain('do the task');
  });

  it('cancels a running run: it ends cancelled, its sandbox is removed and its access closed', async () => {
    const { script, started } = codexStarted();
    const { service, driver, access, telemetry, create } = build(script);
    const accepted = await create();
    await started;
    const run = await service.cancel(TENANT, accepted.id);
    // A stopped run keeps what its frozen sandbox held (issue 12: partial artifacts).
    expect(run).toMatchObject({ status: 'cancelled', error: { code: 'cancelled', message: 'run cancelled by the client' }, hasDiff: true, hasWorkspace: true });
    expect(run!.artifactProblem).toMatch(/stopped before it ended/);
    expect(run!.providerUsage).toEqual({ requests: 1, input_tokens: 7, output_tokens: 3, total_tokens: 10 });
    expect(driver.live()).toEqual([]);
    expect(access.closed).toEqual([accepted.id]);
    expect(telemetry.of('runEnded').map((e) => e.labels)).toEqual([{ tenant: TENANT, provider: 'standin', status: 'cancelled', error: 'cancelled' }]);
    expect((await eventTypes(service, run!)).at(-1)).toBe('run.cancelled');
    // Its partial artifacts are kept; its upload and baseline are not.
    expect((await readdir(path.join(dataDir, 'runs', accepted.id))).sort()).toEqual(['diff.patch', 'events.jsonl', 'workspace.tar']);
  });

  it('waitForEnd returns at once for a signal aborted before the call, the run going on', async () => {
    const { script, started } = codexStarted();
    const { service, create } = build(script);
    const accepted = await create();
    await started;
    await service.waitForEnd(accepted.id, AbortSignal.abort());
    expect((await service.get(TENANT, accepted.id))!.status).toBe('running');
    await service.cancel(TENANT, accepted.id);
  });

  it('cancels a queued run without starting a sandbox for it', async () => {
    const { script, started } = codexStarted();
    const { service, driver, telemetry, create } = build(script, { limits: { max_concurrent_runs: 1 } });
    const first = await create();
    await started;
    const second = await create();
    const run = await service.cancel(TENANT, second.id);
    expect(run).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' }, startedAt: null });
    expect(driver.requests.map((r) => r.runId)).toEqual([first.id]);
    await service.cancel(TENANT, first.id);
    expect(telemetry.of('runStarted').length).toBe(1);
    expect(telemetry.of('runEnded').map((e) => e.labels.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('leaves a waiting run queued in the store at shutdown, for the next start, and cancels the running one', async () => {
    const { script, started } = codexStarted();
    const { service, driver, store, create } = build(script, { limits: { max_concurrent_runs: 1 } });
    const first = await create();
    await started;
    const second = await create();
    await service.shutdown(0);
    expect(await store.get(first.id)).toMatchObject({ status: 'cancelled', error: { code: 'shutdown' } });
    expect(await store.get(second.id)).toMatchObject({ status: 'queued', startedAt: null, finishedAt: null });
    expect(driver.requests.map((r) => r.runId)).toEqual([first.id]);
    expect(service.liveRunIds().size).toBe(0);
    expect(logged('left the waiting runs queued for the next start')).toHaveLength(1);
  });

  it('ends timed_out when the run exceeds its timeout, and removes its sandbox', async () => {
    const { script, started } = codexStarted();
    const { driver, access, telemetry, create, ended } = build(script);
    const accepted = await create(1);
    await started;
    const run = await ended(accepted.id);
    expect(run.status).toBe('timed_out');
    expect(run.error).toEqual({ code: 'timeout', message: 'run exceeded its timeout of 1 s' });
    expect(driver.live()).toEqual([]);
    expect(access.closed).toEqual([accepted.id]);
    const [end] = telemetry.of('runEnded');
    expect(end!.labels).toEqual({ tenant: TENANT, provider: 'standin', status: 'timed_out', error: 'timeout' });
    expect(end!.value).toBeGreaterThanOrEqual(1000);
  });

  it('ends the run with the error of a stop through its provider access (the gateway\'s way)', async () => {
    const { script, started } = codexStarted();
    const { driver, access, telemetry, create, ended } = build(script);
    const accepted = await create();
    await started;
    const stop = new RunStop('failed', { code: 'provider_auth', message: 'provider standin rejected the key (HTTP 401): Incorrect API key provided' });
    access.requests[0]!.stop(stop);
    access.requests[0]!.stop(new RunStop('failed', { code: 'budget_exceeded', message: 'a later stop loses' }));
    const run = await ended(accepted.id);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'provider_auth', message: 'provider standin rejected the key (HTTP 401): Incorrect API key provided' });
    expect(driver.live()).toEqual([]);
    expect(access.closed).toEqual([accepted.id]);
    expect(telemetry.of('runEnded').map((e) => e.labels)).toEqual([{ tenant: TENANT, provider: 'standin', status: 'failed', error: 'provider_auth' }]);
  });

  it('keeps the run\'s outcome when its sandbox cannot be removed, logs why and still closes its access', async () => {
    const { driver, access, telemetry, create, ended } = build({ removeError: new Error('engine said no') });
    const accepted = await create();
    const run = await ended(accepted.id);
    expect(run).toMatchObject({ status: 'succeeded', error: null, finalMessage: 'done' });
    expect(driver.sandboxes[0]!.removeCalls).toBe(1);
    expect(access.closed).toEqual([accepted.id]);
    const [failure] = logged('could not remove the sandbox');
    expect(failure).toMatchObject({ level: 50, runId: accepted.id, err: { message: 'engine said no' } });
    expect(telemetry.of('runPhase').map((e) => e.labels.phase)).toContain('remove');
    expect(telemetry.of('runEnded').map((e) => e.labels.status)).toEqual(['succeeded']);
  });
});
