import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { makeTar } from '../archive/test-tarballs.js';
import { feedTar, withinDir, type TarBody, type TarConsumer } from './tar-consumers.js';
import { TarReader, type TarEntry } from './tar-reader.js';

/** Records what it is fed; `failAt` throws on that entry's body, `stopAt` stops at that entry. */
function recorder(opts: { failAt?: string; stopAt?: string } = {}) {
  const seen: string[] = [];
  const aborted: string[] = [];
  const consumer: TarConsumer = {
    async entry(entry: TarEntry) {
      const name = entry.path.toString();
      if (name === opts.stopAt) return 'stop';
      seen.push(name);
      if (entry.type !== 'file') return null;
      const parts: Buffer[] = [];
      const body: TarBody = {
        write(chunk) {
          if (name === opts.failAt) throw new Error(`failed at ${name}`);
          parts.push(Buffer.from(chunk));
        },
        end: () => void seen.push(`${name}=${Buffer.concat(parts).toString()}`),
        abort: () => void aborted.push(name),
      };
      return body;
    },
  };
  return { consumer, seen, aborted };
}

const files = () =>
  makeTar([
    { name: 'a.txt', content: 'aaa' },
    { name: 'd/', type: 'directory' },
    { name: 'd/b.txt', content: 'b'.repeat(3000) },
    { name: 'c.txt', content: 'c' },
  ]);

/** The tar in small pieces; reading past `limit` bytes fails the test. */
function source(tar: Buffer, limit = Infinity): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < tar.length; at += 512) {
        if (at >= limit) throw new Error(`read past byte ${limit}`);
        yield tar.subarray(at, at + 512);
      }
    })(),
  );
}

describe('feedTar', () => {
  it('hands every entry and body, parsed once, to each consumer', async () => {
    const [one, two] = [recorder(), recorder()];
    const fed = await feedTar(new TarReader(source(await files())), [{ consumer: one.consumer }, { consumer: two.consumer }]);
    expect(fed).toEqual([{ ok: true }, { ok: true }]);
    expect(one.seen).toEqual(['a.txt', 'a.txt=aaa', 'd', 'd/b.txt', `d/b.txt=${'b'.repeat(3000)}`, 'c.txt', 'c.txt=c']);
    expect(two.seen).toEqual(one.seen);
  });

  it('drops a consumer that throws, aborts its body, and feeds the others on', async () => {
    const [failing, reading] = [recorder({ failAt: 'd/b.txt' }), recorder()];
    const fed = await feedTar(new TarReader(source(await files())), [{ consumer: failing.consumer }, { consumer: reading.consumer }]);
    expect(fed[0]).toMatchObject({ ok: false, error: new Error('failed at d/b.txt') });
    expect(fed[1]).toEqual({ ok: true });
    expect(failing.seen).toEqual(['a.txt', 'a.txt=aaa', 'd', 'd/b.txt']);
    expect(failing.aborted).toEqual(['d/b.txt']);
    expect(reading.seen.at(-1)).toBe('c.txt=c');
  });

  it('stops every consumer when an essential one throws', async () => {
    const [essential, other] = [recorder({ failAt: 'a.txt' }), recorder()];
    const fed = await feedTar(new TarReader(source(await files())), [{ consumer: essential.consumer, essential: true }, { consumer: other.consumer }]);
    expect(fed.map((f) => f.ok)).toEqual([false, false]);
    expect(other.seen).toEqual(['a.txt']);
    expect(other.aborted).toEqual(['a.txt']);
  });

  it('reads no further once every consumer has stopped', async () => {
    const tar = await files();
    // a.txt's header and body, d/'s header, d/b.txt's header: then the stream must not be read on.
    const [one, two] = [recorder({ stopAt: 'd/b.txt' }), recorder({ stopAt: 'd' })];
    const fed = await feedTar(new TarReader(source(tar, 4 * 512)), [{ consumer: one.consumer }, { consumer: two.consumer }]);
    expect(fed).toEqual([{ ok: true }, { ok: true }]);
    expect(one.seen).toEqual(['a.txt', 'a.txt=aaa', 'd']);
    expect(two.seen).toEqual(['a.txt', 'a.txt=aaa']);
  });

  it('gives a broken stream to every consumer still reading as its error', async () => {
    const tar = await files();
    const [one, two] = [recorder(), recorder({ stopAt: 'a.txt' })];
    const fed = await feedTar(new TarReader(source(tar.subarray(0, 5 * 512))), [{ consumer: one.consumer }, { consumer: two.consumer }]);
    expect(fed[0]).toMatchObject({ ok: false });
    expect(fed[1]).toEqual({ ok: true });
    expect(one.aborted).toEqual(['d/b.txt']);
  });
});

describe('withinDir', () => {
  it('gives each consumer its own tree of one archive, the directory and what is under it, nothing of a name that only begins alike', async () => {
    const [home, workspace] = [recorder(), recorder()];
    const tar = await makeTar([
      { name: 'collect/', type: 'directory' },
      { name: 'collect/home/', type: 'directory' },
      { name: 'collect/home/s.jsonl', content: 'session' },
      { name: 'collect/home2/x', content: 'not home' },
      { name: 'collect/workspace/', type: 'directory' },
      { name: 'collect/workspace/a.txt', content: 'aaa' },
    ]);
    const fed = await feedTar(new TarReader(source(tar)), [{ consumer: withinDir('collect/home', home.consumer) }, { consumer: withinDir('collect/workspace', workspace.consumer) }]);
    expect(fed).toEqual([{ ok: true }, { ok: true }]);
    expect(home.seen).toEqual(['collect/home', 'collect/home/s.jsonl', 'collect/home/s.jsonl=session']);
    expect(workspace.seen).toEqual(['collect/workspace', 'collect/workspace/a.txt', 'collect/workspace/a.txt=aaa']);
  });
});
