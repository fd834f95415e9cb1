import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { feedTar } from '../tree-diff/tar-consumers.js';
import { TarReader } from '../tree-diff/tar-reader.js';
import { restoreSession, SessionKeeper, type SessionLimits } from './codex-session.js';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; linkname?: string };

function archive(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', uid: 0, gid: 0, mode: 0o777 });
    else if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name, uid: 0, gid: 0, mode: 0o777 }, e.body ?? '');
  }
  pack.finalize();
  return Readable.from(pack);
}

async function entriesOf(file: string): Promise<{ name: string; type: string; mode?: number; uid?: number; gid?: number; body: string }[]> {
  const out = [];
  const extract = tar.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, type, mode, uid, gid } = entry.header;
    out.push({ name, type: type!, mode, uid, gid, body: Buffer.concat(chunks).toString() });
  }
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'session-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = { uid: 70000, gid: 70001 };

/** The session kept from `tar`, read the way the collection reads it, with Codex's home at `home` in it. */
async function keep(tar: Readable, dest: string, limits: SessionLimits, home = '') {
  const keeper = new SessionKeeper(dest, home, limits);
  const [fed] = await feedTar(new TarReader(tar), [{ consumer: keeper }]);
  return keeper.settle(fed!);
}

describe('SessionKeeper', () => {
  it('keeps the rollout files under sessions/, owned by the sandbox ids, private', async () => {
    const dest = path.join(dir, 'session.tar');
    const saved = await keep(
      archive([
        { name: 'sessions/', type: 'directory' },
        { name: 'sessions/2026/12/03/', type: 'directory' },
        { name: 'sessions/2026/12/03/rollout-x.jsonl', body: '{"a":1}\n' },
      ]),
      dest,
      { maxBytes: 1024, owner },
    );
    expect(saved).toEqual({ saved: true, bytes: 8 });
    const entries = await entriesOf(dest);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['sessions/', 'directory'],
      ['sessions/2026/12/03/', 'directory'],
      ['sessions/2026/12/03/rollout-x.jsonl', 'file'],
    ]);
    expect(entries.at(-1)).toMatchObject({ mode: 0o600, uid: 70000, gid: 70001, body: '{"a":1}\n' });
    expect(entries[0]).toMatchObject({ mode: 0o700, uid: 70000 });
  });

  it.each([
    ['a symlink', [{ name: 'sessions/x', type: 'symlink' as const, linkname: '/etc/passwd' }], /a symlink, where only files/],
    ['a path outside sessions/', [{ name: 'sessions/../config.toml', body: 'x' }], /not a path under sessions\//],
    ['no sessions/ at all', [{ name: 'state/x', body: 'x' }], /Codex wrote no sessions\/ directory/],
    ['more than the cap', [{ name: 'sessions/a', body: 'x'.repeat(600) }, { name: 'sessions/b', body: 'x'.repeat(600) }], /passes limits.session_max_mb/],
  ])('keeps no session that holds %s, and leaves no file', async (_what, entries, reason) => {
    const dest = path.join(dir, 'session.tar');
    const saved = await keep(archive(entries), dest, { maxBytes: 1024, owner });
    expect(saved).toEqual({ saved: false, reason: expect.stringMatching(reason) });
    expect(await readdir(dir)).toEqual([]);
  });

  it('passes on a failure to read the archive, leaving no file', async () => {
    const dest = path.join(dir, 'session.tar');
    const whole = Buffer.concat(await archive([{ name: 'sessions/', type: 'directory' }, { name: 'sessions/r.jsonl', body: 'x'.repeat(1000) }]).toArray());
    const broken = Readable.from((function* () {
      yield whole.subarray(0, 1536); // the directory, the file's header and part of its body
      throw new Error('engine gone');
    })());
    await expect(keep(broken, dest, { maxBytes: 1024, owner })).rejects.toThrow('engine gone');
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes the session out of an archive of the whole sandbox, passing over Codex\'s other files, and reads no further than them', async () => {
    const dest = path.join(dir, 'session.tar');
    const whole = Buffer.concat(await archive([
      { name: 'collect/', type: 'directory' },
      { name: 'collect/home/', type: 'directory' },
      { name: 'collect/home/config.toml', body: 'model = "m"\n' },
      { name: 'collect/home/log/', type: 'directory' },
      { name: 'collect/home/log/codex.log', body: 'x'.repeat(5000) },
      { name: 'collect/home/sessions/', type: 'directory' },
      { name: 'collect/home/sessions/r.jsonl', body: 'line\n' },
      { name: 'collect/workspace/', type: 'directory' },
      { name: 'collect/workspace/big', body: 'w'.repeat(100_000) },
    ]).toArray());
    // In pieces, failing the test past the first half of the workspace's big file.
    const limit = whole.length - 50_000;
    const pieces = Readable.from((function* () {
      for (let at = 0; at < whole.length; at += 512) {
        if (at >= limit) throw new Error(`read past byte ${limit}`);
        yield whole.subarray(at, at + 512);
      }
    })());
    expect(await keep(pieces, dest, { maxBytes: 1024, owner }, 'collect/home')).toEqual({ saved: true, bytes: 5 });
    expect((await entriesOf(dest)).map((e) => e.name)).toEqual(['sessions/', 'sessions/r.jsonl']);
  });
});

describe('restoreSession', () => {
  it('puts the kept tar into $CODEX_HOME, where `codex exec resume` looks', async () => {
    const dest = path.join(dir, 'session.tar');
    await keep(archive([{ name: 'sessions/r.jsonl', body: 'line\n' }]), dest, { maxBytes: 1024, owner });
    const put: { dir: string; bytes: number }[] = [];
    await restoreSession({ putArchive: async (stream, target) => {
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      put.push({ dir: target, bytes });
    } }, dest);
    expect(put).toEqual([{ dir: '/home/codex/.codex', bytes: expect.any(Number) }]);
    expect(put[0]!.bytes).toBeGreaterThan(512);
  });
});
