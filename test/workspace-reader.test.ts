// The reader that takes over from Docker's archive when a file passes the workspace cap: it must
// stream, stop when told, and never outlive its read. Real Docker, the sandbox image.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from '../server/sandbox/driver.js';
import { TarReader } from '../server/tree-diff/tar-reader.js';
import { bareSandboxDriver, startBareSandbox } from './fixtures/bare-sandbox.js';
import { docker, leftovers } from './fixtures/docker.js';

const { driver, instance } = bareSandboxDriver('reader-test');
let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startBareSandbox(driver, 64);
  // 40 MiB of real bytes, then a sparse file, so a read has something to stop in the middle of.
  const code = await sandbox.exec(['bash', '-c', 'cd /workspace && head -c 40M /dev/urandom > big && truncate -s 20G sparse && echo x > x']);
  expect(code).toBe(0);
  await sandbox.freeze();
});

afterEach(async () => {
  await sandbox.remove();
  expect(await leftovers(`codex-runner.instance=${instance}`)).toEqual({ containers: 0, volumes: 0 });
});

async function readerContainers(): Promise<number> {
  const all = await docker.listContainers({ all: true, filters: { label: [`codex-runner.instance=${instance}`] } });
  return all.filter((c) => c.Names.some((n) => n.includes('-reader-'))).length;
}

describe('reading a frozen workspace within its cap', () => {
  it('delivers every entry but the file past the cap, names it, and removes its reader', async () => {
    const { tar, leftOut } = await sandbox.readWorkspaceWithin(64 * 1024 * 1024);
    const reader = new TarReader(tar);
    const names: string[] = [];
    for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
      names.push(entry.path.toString());
      for await (const _ of reader.body());
    }
    tar.destroy();
    expect((await leftOut).map(String)).toEqual(['workspace/sparse']);
    expect(names.sort()).toEqual(['workspace', 'workspace/big', 'workspace/x']);
    expect(await readerContainers()).toBe(0);
  });

  it('stops and removes its reader when the read is aborted mid-stream', async () => {
    const abort = new AbortController();
    const { tar, leftOut } = await sandbox.readWorkspaceWithin(64 * 1024 * 1024, abort.signal);
    await new Promise((resolve) => tar.once('data', resolve));
    abort.abort(new Error('stop here'));
    await expect(leftOut).rejects.toThrow('stop here');
    expect(tar.destroyed).toBe(true);
    expect(await readerContainers()).toBe(0);
  });

  it('finishes and removes its reader when the consumer stops reading early', async () => {
    const { tar, leftOut } = await sandbox.readWorkspaceWithin(64 * 1024 * 1024);
    await new Promise((resolve) => tar.once('data', resolve));
    tar.destroy();
    expect((await leftOut).map(String)).toEqual(['workspace/sparse']);
    expect(await readerContainers()).toBe(0);
  });
});
