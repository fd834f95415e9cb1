import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { noTelemetry } from '../telemetry/telemetry.js';
import type { Admission } from './admission.js';
import { newRunRecord } from './live-run.js';
import { FileRunArtifacts } from './run-artifacts.js';
import { planRun } from './run-plan.js';
import { MemoryRunStore } from './run-store.js';
import { RunService } from './run-service.js';
import type { Run } from './run.js';

/** Takes runs in and never starts one: what recovery hands over is all these tests look at. */
class HoldingAdmission implements Admission {
  readonly submitted: { tenant: string; runId: string }[] = [];
  refusal = () => null;
  startsNow = () => false;
  submit(tenant: string, runId: string): void {
    this.submitted.push({ tenant, runId });
  }
  withdraw = () => false;
  position = (runId: string) => {
    const i = this.submitted.findIndex((s) => s.runId === runId);
    return i < 0 ? null : i + 1;
  };
  stats = () => ({ running: 0, queued: this.submitted.length });
  statsFor = () => this.stats();
}

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'run-recovery-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

const config = () =>
  parseConfig({
    server: { data_dir: dataDir },
    providers: { standin: { base_url: 'http://127.0.0.1:9/v1' }, other: { base_url: 'http://127.0.0.1:9/v1' } },
    defaults: { provider: 'standin', model: 'm' },
  });

function service(store: MemoryRunStore, admission: Admission, providers = config().providers) {
  const cfg = { ...config(), providers };
  return new RunService({
    executor: { driver: undefined as never, access: undefined as never, config: cfg },
    plan: (tenant, options) => planRun({ ...cfg, providerProblems: {} }, tenant, options),
    admission,
    store,
    artifacts: new FileRunArtifacts(dataDir),
    telemetry: noTelemetry,
    limits: cfg.limits,
    log: pino({ level: 'silent' }),
  });
}

/** A run as a killed server left it: its record, its directory with an upload and an event log. */
async function leftBehind(store: MemoryRunStore, n: number, status: 'queued' | 'running', provider = 'standin'): Promise<Run> {
  const plan = planRun({ ...config(), providerProblems: {} }, 't', { provider });
  const run: Run = { ...newRunRecord(`run_${String(n).padStart(20, '0')}`, 't', plan), status, createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, n)) };
  if (status === 'running') run.startedAt = new Date(run.createdAt.getTime() + 1);
  await store.insert(run, { prompt: `prompt ${n}`, options: { provider, timeoutS: 30 + n }, hasInput: true });
  const dir = path.join(dataDir, 'runs', run.id);
  await mkdir(path.join(dir, 'baseline'), { recursive: true });
  await writeFile(path.join(dir, 'input.tar'), 'tar');
  const lines = [{ seq: 1, kind: 'run', data: { type: 'run.queued' } }];
  if (status === 'running') lines.push({ seq: 2, kind: 'run', data: { type: 'run.started' } }, { seq: 3, kind: 'codex', data: { type: 'turn.started' } } as never);
  await writeFile(path.join(dir, 'events.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join('') + '{"seq":4,"kind":"co');
  return run;
}

describe('RunService.recover', () => {
  it('ends a run left running as failed/interrupted, its log closed on that event and its files dropped', async () => {
    const store = new MemoryRunStore();
    const run = await leftBehind(store, 1, 'running');
    const admission = new HoldingAdmission();
    expect(await service(store, admission).recover()).toEqual({ interrupted: 1, requeued: 0, refused: 0 });
    const ended = (await store.get(run.id))!;
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'interrupted', message: 'interrupted by a server restart' }, hasDiff: false });
    expect(ended.finishedAt).toBeInstanceOf(Date);
    const events = (await readFile(path.join(dataDir, 'runs', run.id, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => [e.seq, e.data.type])).toEqual([
      [1, 'run.queued'],
      [2, 'run.started'],
      [3, 'turn.started'],
      [4, 'run.failed'],
    ]);
    expect(events[3].data.run.error.code).toBe('interrupted');
    expect(existsSync(path.join(dataDir, 'runs', run.id, 'input.tar'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'runs', run.id, 'baseline'))).toBe(false);
    expect(admission.submitted).toEqual([]);
  });

  it('queues the runs left queued again, oldest first, planned from their stored options, their uploads kept', async () => {
    const store = new MemoryRunStore();
    const later = await leftBehind(store, 5, 'queued');
    const earlier = await leftBehind(store, 2, 'queued');
    const admission = new HoldingAdmission();
    const svc = service(store, admission);
    expect(await svc.recover()).toEqual({ interrupted: 0, requeued: 2, refused: 0 });
    expect(admission.submitted.map((s) => s.runId)).toEqual([earlier.id, later.id]);
    expect(svc.queuePosition(later.id)).toBe(2);
    expect([...svc.liveRunIds()].sort()).toEqual([earlier.id, later.id]);
    expect(await svc.get('t', earlier.id)).toMatchObject({ status: 'queued', timeoutS: 32 });
    expect(existsSync(path.join(dataDir, 'runs', earlier.id, 'input.tar'))).toBe(true);
  });

  it('ends a queued run whose provider is gone as interrupted, saying why', async () => {
    const store = new MemoryRunStore();
    const run = await leftBehind(store, 3, 'queued', 'other');
    const admission = new HoldingAdmission();
    const { other: _gone, ...providers } = config().providers;
    expect(await service(store, admission, providers).recover()).toEqual({ interrupted: 0, requeued: 0, refused: 1 });
    expect((await store.get(run.id))!).toMatchObject({
      status: 'failed',
      error: { code: 'interrupted', message: expect.stringMatching(/^interrupted by a server restart; it could not start again: unknown provider "other"/) },
    });
    expect(admission.submitted).toEqual([]);
  });

  it('finds nothing to do in a store of ended runs', async () => {
    const store = new MemoryRunStore();
    expect(await service(store, new HoldingAdmission()).recover()).toEqual({ interrupted: 0, requeued: 0, refused: 0 });
  });
});
