import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WORKSPACE_DIR, type SandboxLimits } from '../sandbox/driver.js';
import type { ClaimedSandbox, SandboxShape } from '../sandbox/warm-pool.js';
import { FakeSandbox } from './test-sandbox-driver.js';
import { WorkspacePreload } from './workspace-preload.js';

const log = pino({ level: 'silent' });
const limits: SandboxLimits = { memoryMb: 512, cpus: 1, pidsLimit: 256, workspaceMb: 256, tmpMb: 64, homeMb: 64 };
const shape: SandboxShape = { image: 'codex-runner-sandbox:latest', runtime: 'runc', limits, ids: { uid: 1000, gid: 1000 }, network: 'none', egressProxy: false };

/** A pooled sandbox that keeps what it is given, or stops reading after `failAfter` bytes and fails. */
class TakingSandbox extends FakeSandbox {
  readonly received: Buffer[] = [];
  dir: string | null = null;
  constructor(private readonly failAfter = Infinity) {
    super('taking', {});
  }
  override async putArchive(tar: Readable, dir?: string): Promise<void> {
    this.dir = dir ?? null;
    let bytes = 0;
    for await (const chunk of tar) {
      this.received.push(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes > this.failAfter) throw new Error('no space left on device');
    }
  }
  override async remove(): Promise<void> {
    this.removed = true;
    this.removeCalls++;
  }
}

function claimed(sandbox: TakingSandbox): ClaimedSandbox {
  return { sandbox, socketDir: { dir: '/tmp/x', subdir: 'x', release: async () => {} } };
}

let dir: string;
let spool: string;
let spooled: number;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workspace-preload-'));
  spool = join(dir, 'upload.tar');
  spooled = 0;
  await writeFile(spool, '');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What a spool does: appends to its file, then says how much it holds. */
async function copy(preload: WorkspacePreload, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) {
    await appendFile(spool, piece);
    spooled += piece.length;
    preload.grew(spool, spooled);
  }
}

describe('WorkspacePreload', () => {
  it('hands its run the sandbox once the whole tar is in it, and removes it no more', async () => {
    const sandbox = new TakingSandbox();
    const preload = new WorkspacePreload(Promise.resolve(claimed(sandbox)), shape, log);
    const pieces = [randomBytes(3 * 1024 * 1024), randomBytes(10), randomBytes(1024 * 1024)];
    await copy(preload, pieces);
    preload.end();
    const taken = await preload.take({ ...shape, limits: { ...limits } });
    expect(taken?.sandbox).toBe(sandbox);
    expect(sandbox.dir).toBe(WORKSPACE_DIR);
    expect(Buffer.concat(sandbox.received).equals(Buffer.concat(pieces))).toBe(true);
    await preload.discard();
    await preload.settled;
    expect(sandbox.removeCalls).toBe(0);
  });

  it('removes the sandbox when the run needs another shape', async () => {
    const sandbox = new TakingSandbox();
    const preload = new WorkspacePreload(Promise.resolve(claimed(sandbox)), shape, log);
    await copy(preload, [randomBytes(100)]);
    preload.end();
    expect(await preload.take({ ...shape, limits: { ...limits, memoryMb: 1024 } })).toBeNull();
    await preload.settled;
    expect(sandbox.removeCalls).toBe(1);
  });

  it('removes the sandbox when the spool failed, whatever it had taken', async () => {
    const sandbox = new TakingSandbox();
    const preload = new WorkspacePreload(Promise.resolve(claimed(sandbox)), shape, log);
    await copy(preload, [randomBytes(100)]);
    preload.fail();
    // What the spool still writes goes nowhere.
    await copy(preload, [randomBytes(100)]);
    expect(await preload.take(shape)).toBeNull();
    await preload.settled;
    expect(sandbox.removeCalls).toBe(1);
    // Cut short where it was: nothing written after the failure reaches the sandbox.
    expect(Buffer.concat(sandbox.received).length).toBeLessThanOrEqual(100);
  });

  it('is not handed to the run when the sandbox could not take the whole tar', async () => {
    const sandbox = new TakingSandbox(1024 * 1024);
    const preload = new WorkspacePreload(Promise.resolve(claimed(sandbox)), shape, log);
    await copy(preload, Array.from({ length: 8 }, () => randomBytes(1024 * 1024)));
    preload.end();
    expect(await preload.take(shape)).toBeNull();
    await preload.settled;
    expect(sandbox.removeCalls).toBe(1);
  });

  it('lets the spool go on alone when no sandbox was free', async () => {
    const preload = new WorkspacePreload(Promise.resolve(null), shape, log);
    await copy(preload, [randomBytes(100)]);
    preload.end();
    expect(await preload.take(shape)).toBeNull();
    await preload.discard();
    await preload.settled;
  });

  it('is removed once however often it is discarded, and a run can no longer take it then', async () => {
    const sandbox = new TakingSandbox();
    const preload = new WorkspacePreload(Promise.resolve(claimed(sandbox)), shape, log);
    await copy(preload, [randomBytes(100)]);
    preload.end();
    await Promise.all([preload.discard(), preload.discard()]);
    expect(await preload.take(shape)).toBeNull();
    expect(sandbox.removeCalls).toBe(1);
  });
});
