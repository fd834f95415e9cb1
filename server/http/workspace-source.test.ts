import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceRejectedError } from '../archive/workspace-rejected-error.js';
import { dir, file, buildTar, readTar } from '../archive/test-tarballs.js';
import { ApiError } from './api-error.js';
import type { Run } from '../runs/run.js';
import { spoolWorkspaceSource, workspaceSourceSchema, type WorkspaceSourceDeps } from './workspace-source.js';

const MiB = 1024 * 1024;
let uploadDir: string;

beforeEach(async () => {
  uploadDir = await mkdtemp(join(tmpdir(), 'workspace-source-'));
});
afterEach(async () => {
  await rm(uploadDir, { recursive: true, force: true });
});

function ended(over: Partial<Run> = {}): Run {
  return { id: 'run_a', tenant: 't1', status: 'succeeded', hasWorkspace: true, artifactsExpired: false, ...over } as Run;
}

/** A fake of the two RunService calls: the tenant's runs by id, each workspace a tar in memory. */
function deps(runs: Run[] = [], tars: Record<string, Buffer> = {}, maxEntries = 100): WorkspaceSourceDeps {
  return {
    runs: {
      get: async (tenant, id) => runs.find((r) => r.id === id && r.tenant === tenant),
      openArtifact: async (run) => Readable.from([tars[run.id]!]),
    },
    limits: { uploadDir, owner: { uid: 1000, gid: 1000 }, workspace: { maxBytes: 10 * MiB, maxEntries, maxCompressedBytes: 10 * MiB } },
  };
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeDefined();
  expect(await readdir(uploadDir)).toEqual([]);
  return err;
}

describe('workspaceSourceSchema', () => {
  it('takes files or from_run, not both and nothing else', () => {
    expect(workspaceSourceSchema.safeParse({ files: { 'a.txt': 'x' } }).success).toBe(true);
    expect(workspaceSourceSchema.safeParse({ from_run: 'run_a' }).success).toBe(true);
    expect(workspaceSourceSchema.safeParse({ files: {}, from_run: 'run_a' }).success).toBe(false);
    expect(workspaceSourceSchema.safeParse({ files: { 'a.txt': 1 } }).success).toBe(false);
    expect(workspaceSourceSchema.safeParse({}).success).toBe(false);
  });
});

describe('spoolWorkspaceSource from files', () => {
  it('spools the files, their parent directories implied, owned by the sandbox user', async () => {
    const out = await spoolWorkspaceSource({ files: { 'src/a.ts': 'export const a = 1;\n', 'README.md': 'héllo' } }, { tenant: 't1' }, deps());
    const entries = await readTar(await readFile(out.workspaceTar));
    const byName = new Map(entries.map((e) => [e.header.name, e]));
    expect(byName.get('src/a.ts')?.content.toString()).toBe('export const a = 1;\n');
    expect(byName.get('README.md')?.content.toString()).toBe('héllo');
    expect(byName.get('src/')?.header.type ?? byName.get('src')?.header.type).toBe('directory');
    expect(byName.get('src/a.ts')?.header.uid).toBe(1000);
    expect(out.workspaceBytes).toBe(Buffer.byteLength('export const a = 1;\n') + Buffer.byteLength('héllo'));
  });

  it('refuses a path that escapes the workspace and leaves no file', async () => {
    const err = await refusal(spoolWorkspaceSource({ files: { '../evil': 'x' } }, { tenant: 't1' }, deps()));
    expect(err).toBeInstanceOf(WorkspaceRejectedError);
    expect((err as WorkspaceRejectedError).kind).toBe('invalid');
  });

  it('refuses an absolute path', async () => {
    const err = await refusal(spoolWorkspaceSource({ files: { '/etc/passwd': 'x' } }, { tenant: 't1' }, deps()));
    expect(err).toBeInstanceOf(WorkspaceRejectedError);
  });

  it('refuses files past the run workspace cap', async () => {
    const err = await refusal(spoolWorkspaceSource({ files: { 'big.txt': 'x'.repeat(2048) } }, { tenant: 't1', maxBytes: 1024 }, deps()));
    expect((err as WorkspaceRejectedError).kind).toBe('too_large');
  });

  it('refuses more files than the entry cap', async () => {
    const files = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.txt`, 'x']));
    const err = await refusal(spoolWorkspaceSource({ files }, { tenant: 't1' }, deps([], {}, 3)));
    expect((err as WorkspaceRejectedError).kind).toBe('too_large');
  });
});

describe('spoolWorkspaceSource from_run', () => {
  it('starts from the earlier run workspace', async () => {
    const tarball = await buildTar([dir('lib/'), file('lib/b.txt', 'kept')]);
    const out = await spoolWorkspaceSource({ from_run: 'run_a' }, { tenant: 't1' }, deps([ended()], { run_a: tarball }));
    const entries = await readTar(await readFile(out.workspaceTar));
    expect(entries.find((e) => e.header.name === 'lib/b.txt')?.content.toString()).toBe('kept');
  });

  const cases: [string, Run[], string, number][] = [
    ['another tenant run', [ended({ tenant: 't2' })], 'not_found', 404],
    ['a missing run', [], 'not_found', 404],
    ['a run still running', [ended({ status: 'running' })], 'run_not_finished', 409],
    ['an expired run', [ended({ artifactsExpired: true })], 'artifact_expired', 410],
    ['a run without a workspace', [ended({ status: 'failed', hasWorkspace: false })], 'not_found', 404],
  ];
  for (const [what, runs, code, status] of cases) {
    it(`answers ${status} ${code} for ${what}`, async () => {
      const err = await refusal(spoolWorkspaceSource({ from_run: 'run_a' }, { tenant: 't1' }, deps(runs)));
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe(code);
      expect((err as ApiError).status).toBe(status);
    });
  }

  it('refuses an earlier workspace past the new run cap', async () => {
    const tarball = await buildTar([file('big.bin', Buffer.alloc(4096))]);
    const err = await refusal(spoolWorkspaceSource({ from_run: 'run_a' }, { tenant: 't1', maxBytes: 1024 }, deps([ended()], { run_a: tarball })));
    expect((err as WorkspaceRejectedError).kind).toBe('too_large');
  });
});
