import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CreateRunInput, RunService } from '../../runs/run-service.js';
import { RunRefusedError } from '../../runs/run-refused.js';
import type { RunStreamEvent } from '../../runs/run-wire.js';
import { TooManyStreamsError } from '../../runs/stream-slots.js';
import { runView, type Run } from '../../runs/run.js';
import { sampleRun } from '../../runs/test-runs.js';
import { codexRun, type ToolExtra } from './codex-run-tool.js';
import type { McpToolDeps } from './tool-deps.js';

const MiB = 1024 * 1024;
let uploadDir: string;

beforeEach(async () => {
  uploadDir = await mkdtemp(join(tmpdir(), 'codex-run-tool-'));
});
afterEach(async () => {
  await rm(uploadDir, { recursive: true, force: true });
});

/** The run service's calls codex_run makes, scripted: one run that ends when `end()` is called. */
function fakeService(over: { create?: (input: CreateRunInput) => Promise<Run>; events?: () => AsyncGenerator<RunStreamEvent> } = {}) {
  let run = sampleRun({ id: 'run_1', tenant: 't1' });
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  const end = (status: Run['status'], extra: Partial<Run> = {}) => {
    run = { ...run, status, finishedAt: new Date(), ...extra };
    markEnded();
  };
  const calls = { created: [] as CreateRunInput[], cancelled: [] as string[], streamsReturned: 0 };
  const service = {
    checkAdmission: () => ({ limits: { workspaceMb: 1 } }),
    create: over.create ?? (async (input: CreateRunInput) => (calls.created.push(input), run)),
    events: () => {
      const inner = (over.events ?? (async function* () {}))();
      const close = inner.return.bind(inner);
      return Object.assign(inner, { return: async () => (calls.streamsReturned++, close(undefined)) });
    },
    waitForEnd: async (_id: string, signal?: AbortSignal) => {
      if (signal?.aborted) return;
      await new Promise<void>((resolve) => {
        ended.then(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    },
    get: async () => ({ ...run }),
    cancel: async (_tenant: string, id: string) => (calls.cancelled.push(id), end('cancelled', { error: { code: 'cancelled', message: 'run cancelled by the client' } }), run),
    openArtifact: async () => Readable.from([Buffer.from('+x\n')]),
  };
  return { service: service as unknown as RunService, calls, end };
}

function toolDeps(service: RunService) {
  const log = { warn: vi.fn(), error: vi.fn() };
  const requestLimits = { uploadDir, owner: { uid: 1000, gid: 1000 }, promptMaxBytes: 1000, workspace: { maxBytes: 10 * MiB, maxEntries: 100, maxCompressedBytes: 10 * MiB }, outputSchemaMaxBytes: 4096, images: { maxCount: 0, maxBytes: 1 } };
  const deps: McpToolDeps = { service, requestLimits, diffPageBytes: 1024, log: log as unknown as McpToolDeps['log'] };
  return Object.assign(deps, { spy: log });
}

function extra(over: { progressToken?: string; signal?: AbortSignal } = {}) {
  const notifications: { progress: number; message?: string }[] = [];
  const value = {
    signal: over.signal ?? new AbortController().signal,
    _meta: over.progressToken ? { progressToken: over.progressToken } : undefined,
    sendNotification: async (n: { params: { progress: number; message?: string } }) => void notifications.push(n.params),
  } as unknown as ToolExtra;
  return { value, notifications };
}

describe('codexRun', () => {
  it('hands the spooled files to create and returns the ended run with its diff; no spool file stays', async () => {
    const { service, calls, end } = fakeService();
    const call = codexRun({ prompt: 'go', workspace: { files: { 'a.txt': 'x' } } }, 't1', toolDeps(service), extra().value);
    await vi.waitFor(() => expect(calls.created).toHaveLength(1));
    expect(calls.created[0]).toMatchObject({ tenant: 't1', prompt: 'go', workspaceTar: expect.stringContaining(uploadDir) });
    end('succeeded', { finalMessage: 'ok', hasDiff: true });
    const result = await call;
    expect(result.structuredContent).toMatchObject({ run_id: 'run_1', status: 'succeeded', final_message: 'ok', diff: '+x\n' });
    expect(await readdir(uploadDir)).toEqual([]);
  });

  it('removes the spooled files when the run is refused, and the refusal is thrown', async () => {
    const { service } = fakeService({ create: async () => Promise.reject(new RunRefusedError('queue_full', 'full')) });
    await expect(codexRun({ prompt: 'go', workspace: { files: { 'a.txt': 'x' } } }, 't1', toolDeps(service), extra().value)).rejects.toThrow('full');
    expect(await readdir(uploadDir)).toEqual([]);
  });

  it("sends the run's steps as progress with the call's token, and returns the stream it held", async () => {
    const { service, calls, end } = fakeService({
      events: async function* () {
        yield { seq: 1, kind: 'run', data: { type: 'run.queued', run: runView(sampleRun({ id: 'run_1' })) } };
        yield { seq: 2, kind: 'codex', data: { type: 'item.started', item: { type: 'command_execution', command: 'npm test', status: 'in_progress' } } };
        end('succeeded');
      },
    });
    const { value, notifications } = extra({ progressToken: 'tok' });
    await codexRun({ prompt: 'go' }, 't1', toolDeps(service), value);
    expect(notifications.map((n) => n.message)).toEqual(['run run_1 queued', '$ npm test']);
    expect(calls.streamsReturned).toBe(1);
  });

  it("goes on without progress when the tenant's event streams are all taken", async () => {
    const { service, end } = fakeService();
    service.events = () => {
      throw new TooManyStreamsError('t1', 16);
    };
    const deps = toolDeps(service);
    const { value, notifications } = extra({ progressToken: 'tok' });
    const call = codexRun({ prompt: 'go' }, 't1', deps, value);
    await vi.waitFor(() => expect(deps.spy.warn).toHaveBeenCalledOnce());
    end('succeeded', { finalMessage: 'ok' });
    expect((await call).structuredContent).toMatchObject({ status: 'succeeded' });
    expect(notifications).toEqual([]);
  });

  it('cancels the run when the call is aborted, and answers so', async () => {
    const { service, calls } = fakeService();
    const abort = new AbortController();
    const call = codexRun({ prompt: 'go' }, 't1', toolDeps(service), extra({ signal: abort.signal }).value);
    await vi.waitFor(() => expect(calls.created).toHaveLength(1));
    abort.abort();
    const result = await call;
    expect(calls.cancelled).toEqual(['run_1']);
    expect(result).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^cancelled: /) }] });
  });

  it('refuses a prompt past limits.prompt_max_bytes before anything is made', async () => {
    const { service, calls } = fakeService();
    await expect(codexRun({ prompt: 'x'.repeat(1001) }, 't1', toolDeps(service), extra().value)).rejects.toThrow(/prompt is longer than 1000 bytes/);
    expect(calls.created).toEqual([]);
  });
});
