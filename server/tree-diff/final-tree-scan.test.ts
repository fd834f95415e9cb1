import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTar, file, streamOf } from '../archive/test-tarballs.js';
import { indexBaseline, type BaselineIndex } from './baseline-index.js';
import { scanFinalTree } from './final-tree-scan.js';
import { runGit } from './git-runner.js';
import { blobId } from './object-store.js';
import { rawTar, type RawEntry } from './test-trees.js';

const big = randomBytes(3 * 1024 * 1024);
let work: string;
let baseline: BaselineIndex;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'final-tree-scan-'));
  await writeFile(join(work, 'input.tar'), await buildTar([file('same.txt', 'unchanged'), file('big.bin', big), file('gone.txt', 'bye')]));
  baseline = await indexBaseline(join(work, 'input.tar'), join(work, 'store'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const ws = (entries: RawEntry[]): RawEntry[] => [{ name: 'workspace/', type: '5' }, ...entries.map((e) => ({ ...e, name: `workspace/${e.name}` }))];
const scan = (entries: RawEntry[], opts: { maxBytes?: number; maxEntries?: number } = {}) =>
  scanFinalTree(baseline, streamOf(rawTar(ws(entries))), { stripPrefix: 'workspace/', maxBytes: opts.maxBytes ?? 2 ** 40, maxEntries: opts.maxEntries ?? 1000 });
const blob = (id: string) => runGit(baseline.store.git, { args: ['cat-file', 'blob', id], maxStdoutBytes: 8 * 1024 * 1024 });

describe('scanFinalTree', () => {
  it('matches unchanged files against the baseline without storing them, and stores what changed', async () => {
    const edited = Buffer.from(big);
    edited[2 * 1024 * 1024 + 17] = edited[2 * 1024 * 1024 + 17]! ^ 0xff;
    const result = await scan([
      { name: 'same.txt', body: 'unchanged' },
      { name: 'big.bin', body: edited },
      { name: 'new.txt', body: 'fresh', mode: 0o755 },
    ]);
    const same = result.entries.get('same.txt')!;
    expect(same).toMatchObject({ mode: '100644', id: blobId(Buffer.from('unchanged')) });
    expect(same.sameAs).toBe(baseline.entries.get('same.txt'));
    expect(baseline.store.has(same.id)).toBe(false);

    const changed = result.entries.get('big.bin')!;
    expect(changed.id).toBe(blobId(edited));
    expect(changed.sameAs).toBeNull();
    expect((await blob(changed.id)).equals(edited)).toBe(true);
    expect(result.entries.get('new.txt')).toMatchObject({ mode: '100755', id: blobId(Buffer.from('fresh')) });
    expect(result).toMatchObject({ truncated: false, omitted: [], skipped: [], bytesRead: 9 + big.length + 5 });
  });

  it('stops before a file that would pass maxBytes, reading none of it', async () => {
    let pulled = 0;
    const header = rawTar(ws([{ name: 'a.txt', body: 'a' }, { name: 'sparse', pax: { size: String(50 * 1024 ** 3) } }]), { end: false });
    const endless = Readable.from(
      (function* () {
        yield header;
        for (;;) {
          pulled += 64 * 1024;
          yield Buffer.alloc(64 * 1024);
        }
      })(),
    );
    const result = await scanFinalTree(baseline, endless, { stripPrefix: 'workspace/', maxBytes: 1024 * 1024, maxEntries: 1000 });
    expect(result.truncated).toBe(true);
    expect(result.omitted).toEqual([{ path: 'sparse', reason: 'max_bytes' }]);
    expect([...result.entries.keys()]).toEqual(['a.txt']);
    expect(pulled).toBeLessThan(1024 * 1024);
    expect(endless.destroyed).toBe(true);
  });

  it('stops past maxEntries, naming the cut when what came before was in walk order', async () => {
    const sorted = await scan([{ name: 'a', body: '1' }, { name: 'b', body: '2' }, { name: 'c', body: '3' }], { maxEntries: 2 });
    expect(sorted).toMatchObject({ truncated: true, cutAt: 'c', omitted: [{ path: 'c', reason: 'max_entries' }] });
    const unsorted = await scan([{ name: 'b', body: '2' }, { name: 'a', body: '1' }, { name: 'c', body: '3' }], { maxEntries: 2 });
    expect(unsorted).toMatchObject({ truncated: true, cutAt: null });
    expect((await scan([{ name: 'a', body: '1' }])).cutAt).toBeNull();
  });

  it('skips FIFOs and devices by name, resolves hard links, and omits a link to nothing', async () => {
    const result = await scan([
      { name: 'pipe', type: '6' },
      { name: 'tty', type: '3' },
      { name: 'disk', type: '4' },
      { name: 'orig', body: 'shared', mode: 0o755 },
      { name: 'twin', type: '1', linkname: 'workspace/orig' },
      { name: 'dangling', type: '1', linkname: 'workspace/nothing' },
      { name: 'sym', type: '2', linkname: '../outside/is/just/text' },
    ]);
    expect(result.skipped).toEqual([
      { path: 'pipe', kind: 'fifo' },
      { path: 'tty', kind: 'character-device' },
      { path: 'disk', kind: 'block-device' },
    ]);
    expect(result.entries.get('twin')).toEqual(result.entries.get('orig'));
    expect(result.omitted).toEqual([{ path: 'dangling', reason: 'link_target_missing' }]);
    expect(result.omittedKeys.has('dangling')).toBe(true);
    const sym = result.entries.get('sym')!;
    expect(sym.mode).toBe('120000');
    expect((await blob(sym.id)).toString()).toBe('../outside/is/just/text');
  });

  it('reads past .git contents, counting their bytes, and keeps only what replaced what', async () => {
    const result = await scan([
      { name: '.git/objects/pack/big.pack', body: 'x'.repeat(1000) },
      { name: 'vendor/.git', body: 'gitdir: ../.git/modules/vendor\n' },
      { name: 'p', body: 'a file' },
      { name: 'p', type: '5' },
      { name: 'p/q', body: 'now a dir' },
    ]);
    expect([...result.entries.keys()]).toEqual(['p/q']);
    expect(result.dirs.has('p')).toBe(true);
    expect(result.bytesRead).toBe(1000 + 31 + 6 + 9);
  });

  it('rejects with the abort reason while waiting on a stalled stream, and destroys it', async () => {
    const stalled = new Readable({ read() {} });
    stalled.push(rawTar(ws([]), { end: false }));
    const controller = new AbortController();
    const reason = new Error('deadline');
    const pending = scanFinalTree(baseline, stalled, { stripPrefix: 'workspace/', maxBytes: 1e9, maxEntries: 10, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
    expect(stalled.destroyed).toBe(true);
  });

  it('refuses a name outside the prefix', async () => {
    const stream = streamOf(rawTar([{ name: 'elsewhere/x', body: 'x' }]));
    await expect(scanFinalTree(baseline, stream, { stripPrefix: 'workspace', maxBytes: 1e9, maxEntries: 10 })).rejects.toMatchObject({ code: 'bad_tar' });
  });
});
