import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileRunArtifacts } from './run-artifacts.js';

const TAR = Buffer.alloc(2048, 7);

let dataDir: string;
let artifacts: FileRunArtifacts;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'run-artifacts-'));
  artifacts = new FileRunArtifacts(dataDir);
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('FileRunArtifacts workspace', () => {
  const read = async (stream: Promise<Readable>) => buffer(await stream);

  it('stores a plain tar and gzips it as it is read, or serves it as it is', async () => {
    const files = await artifacts.create('run_a');
    await writeFile(files.workspace, TAR);
    expect(gunzipSync(await read(artifacts.open('run_a', 'workspace')))).toEqual(TAR);
    expect(await read(artifacts.open('run_a', 'workspace', 'tar'))).toEqual(TAR);
  });

  it('serves a workspace an earlier server kept gzipped, either way', async () => {
    const files = await artifacts.create('run_b');
    await writeFile(files.legacyWorkspaceGz, gzipSync(TAR));
    expect(gunzipSync(await read(artifacts.open('run_b', 'workspace', 'tar.gz')))).toEqual(TAR);
    expect(await read(artifacts.open('run_b', 'workspace', 'tar'))).toEqual(TAR);
    expect(await artifacts.size('run_b')).toBeGreaterThan(0);
  });

  it('drops both forms of a workspace the run will not serve', async () => {
    const files = await artifacts.create('run_c');
    await writeFile(files.workspace, TAR);
    await writeFile(files.legacyWorkspaceGz, gzipSync(TAR));
    await artifacts.settle('run_c', { diff: false, workspace: false, session: false, input: false });
    expect(await readdir(files.dir)).toEqual([]);
  });
});

describe('FileRunArtifacts sessions and kept uploads', () => {
  it('keeps a first run\'s upload and session when asked, and counts them in its size', async () => {
    const files = await artifacts.create('run_s');
    await writeFile(files.inputTar, TAR);
    await writeFile(files.session, TAR);
    await artifacts.settle('run_s', { diff: false, workspace: false, session: true, input: true });
    expect((await readdir(files.dir)).sort()).toEqual(['input.tar', 'session.tar']);
    expect(await artifacts.size('run_s')).toBe(2 * TAR.length);
    await artifacts.settle('run_s', { diff: false, workspace: false, session: false, input: false });
    expect(await readdir(files.dir)).toEqual([]);
  });

  it('gives a follow-up its parent\'s session, which outlives the parent\'s removal, and drops it when the follow-up settles', async () => {
    const parent = await artifacts.create('run_p');
    await writeFile(parent.session, TAR);
    const child = await artifacts.create('run_f');
    await artifacts.takeParentSession('run_f', 'run_p');
    await artifacts.remove('run_p');
    expect(await readFile(child.parentSession)).toEqual(TAR);
    await artifacts.settle('run_f', { diff: false, workspace: false, session: false, input: false });
    expect(await readdir(child.dir)).toEqual([]);
  });
});

describe('FileRunArtifacts images', () => {
  it('takes spooled images in, named by their order and type, and drops them when the run settles', async () => {
    const files = await artifacts.create('run_i');
    const spooled = [path.join(dataDir, 'u1'), path.join(dataDir, 'u2')];
    await writeFile(spooled[0]!, 'gif bytes');
    await writeFile(spooled[1]!, 'png bytes');
    await artifacts.takeImages('run_i', [{ path: spooled[0]!, type: 'gif' }, { path: spooled[1]!, type: 'png' }]);
    expect(await readdir(files.imagesDir)).toEqual(['01.gif', '02.png']);
    expect(await readdir(dataDir)).toEqual(['runs']);
    await artifacts.settle('run_i', { diff: true, workspace: true, session: false, input: false });
    expect(await readdir(files.dir)).toEqual([]);
  });
});
