// Property-based fuzzing of the upload checker: random tar streams, written byte by byte (any
// typeflag, PAX records, GNU sparse maps, sizes that lie), damaged, cut, gzipped. For every one,
// spoolWorkspace either gives a tar that holds only what a workspace may, or refuses it with a
// WorkspaceRejectedError; it never throws anything else, and leaves no file behind when it refuses.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawTar, type RawEntry } from '../tree-diff/test-trees.js';
import { lexicalParts, MAX_PATH_BYTES } from './entry-path.js';
import { scanBaseline } from '../tree-diff/baseline-scan.js';
import { spoolWorkspace, WorkspaceRejectedError, type SpoolResult, type WorkspaceLimits } from './spool-workspace.js';
import { makeTar, readTar, streamOf } from './test-tarballs.js';

const limits: WorkspaceLimits = { maxBytes: 64 * 1024, maxEntries: 24, maxCompressedBytes: 256 * 1024 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-fuzz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const component = fc.constantFrom('a', 'b', 'dir', '.', '..', '', 'x'.repeat(256), 'é', 'a\u0000b', 'l', 'GNUSparseFile.1', 'PaxHeaders.0', '\ufffd', ' ');
const path = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom('a', 'b', 'src', 'dir', 'f.txt'), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/')) },
  fc.array(component, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/')),
  fc.constantFrom('/etc/passwd', '../up', 'a/../../b', './', '/', 'dir/', 'l/f', 'a//b'),
  fc.string({ maxLength: 30 }),
);
const typeflag = fc.constantFrom('0', '0', '0', '5', '2', '1', '3', '4', '6', '7', 'x', 'g', 'S', 'L', 'K', 'D', 'V', 'Q', '\u0000');
const paxRecords = fc.dictionary(
  fc.constantFrom('path', 'linkpath', 'size', 'mtime', 'uid', 'hdrcharset', 'GNU.sparse.map', 'GNU.sparse.size', 'GNU.sparse.name', 'GNU.sparse.realsize', 'GNU.sparse.major', 'GNU.sparse.minor', 'comment'),
  fc.oneof(path, fc.constantFrom('0', '1', '-1', '100', '99999999999999999999', '0,4,2,4', '98,4', 'BINARY', 'NaN', '1e400')),
  { maxKeys: 4 },
);
const rawEntry: fc.Arbitrary<RawEntry> = fc.record(
  {
    name: path,
    type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('0', '5') }, typeflag),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    body: fc.oneof(fc.constant(''), fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), fc.constantFrom('1\n0\n1\n', `1\n${2 ** 40 - 1}\n1\n`)),
    size: fc.option(fc.oneof(fc.nat({ max: 4096 }), fc.constantFrom(2 ** 33, 2 ** 40)), { nil: undefined }),
    linkname: fc.option(path, { nil: undefined }),
    pax: fc.option(paxRecords, { nil: undefined }),
  },
  { requiredKeys: ['name', 'type'] },
);

const upload = fc.record({
  entries: fc.array(rawEntry, { maxLength: 8 }),
  end: fc.boolean(),
  gzip: fc.boolean(),
  flips: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })),
  cut: fc.option(fc.nat(), { nil: undefined, freq: 3 }),
  chunk: fc.integer({ min: 1, max: 4096 }),
});

type Upload = typeof upload extends fc.Arbitrary<infer T> ? T : never;

function bytesOf(spec: Upload, tar: Buffer): Buffer {
  let bytes = spec.gzip ? gzipSync(tar) : Buffer.from(tar);
  for (const [at, value] of spec.flips) if (bytes.length) bytes[at % bytes.length] = value;
  if (spec.cut !== undefined) bytes = bytes.subarray(0, spec.cut % (bytes.length + 1));
  return bytes;
}

/** What the spooled tar may hold, whatever the upload was. */
async function expectSafeWorkspace(tarPath: string): Promise<void> {
  const entries = await readTar(await readFile(tarPath));
  expect(entries.length).toBeLessThanOrEqual(limits.maxEntries);
  let bytes = 0;
  for (const { header, content } of entries) {
    const name = header.name.replace(/\/$/, '');
    expect(['file', 'directory', 'symlink', 'link']).toContain(header.type);
    expect(name.startsWith('/'), name).toBe(false);
    expect(name.split('/').every((part) => part !== '..' && part !== '.' && part !== ''), name).toBe(true);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_PATH_BYTES);
    expect(header.mode! & 0o7000).toBe(0);
    if (header.type === 'symlink') {
      expect(header.linkname!.startsWith('/'), header.linkname!).toBe(false);
      expect(lexicalParts(header.linkname!, name.split('/').slice(0, -1)), `${name} -> ${header.linkname}`).not.toBeNull();
    }
    if (header.type === 'link') expect(lexicalParts(header.linkname!), header.linkname!).not.toBeNull();
    bytes += content.length;
  }
  expect(bytes).toBeLessThanOrEqual(limits.maxBytes);
}

/** Outcomes seen by the running test. */
const seen = { accepted: 0, refused: 0 };

async function spoolOnce(bytes: Buffer, chunk: number): Promise<void> {
  const dest = join(dir, 'out.tar');
  let result: unknown;
  try {
    result = await spoolWorkspace(streamOf(bytes, chunk), dest, limits);
  } catch (error) {
    // Every refusal is the checker's own, of a known kind, with a message for the client.
    expect(error, String((error as Error)?.stack ?? error)).toBeInstanceOf(WorkspaceRejectedError);
    expect(['invalid', 'too_large']).toContain((error as WorkspaceRejectedError).kind);
    expect((error as Error).message.length).toBeGreaterThan(0);
    expect((error as Error).message.length).toBeLessThan(2_000);
    expect(existsSync(dest)).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    seen.refused++;
    return;
  }
  seen.accepted++;
  expect(result).toMatchObject({ entries: expect.any(Number), bytes: expect.any(Number) });
  // The index made while writing is the one a second pass over the written tar makes.
  expect((result as SpoolResult).scan).toEqual(await scanBaseline(dest));
  await expectSafeWorkspace(dest);
  await rm(dest);
}

/** A generator that only ever made refusals (or acceptances) would prove little: each test sees both, often. */
function expectBothOutcomes(): void {
  const runs = seen.accepted + seen.refused;
  expect(runs).toBeGreaterThanOrEqual(50);
  expect(seen.accepted, JSON.stringify(seen)).toBeGreaterThan(runs / 20);
  expect(seen.refused, JSON.stringify(seen)).toBeGreaterThan(runs / 20);
  seen.accepted = 0;
  seen.refused = 0;
}

describe('spoolWorkspace, fuzzed', () => {
  it('refuses or cleans every random byte-level tar, and throws nothing but WorkspaceRejectedError', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(upload, async (spec) => spoolOnce(bytesOf(spec, rawTar(spec.entries, { end: spec.end })), spec.chunk)),
      { numRuns: 400, interruptAfterTimeLimit: 100_000, timeout: 10_000, seed: Number(process.env.FUZZ_SEED) || undefined },
    );
    expectBothOutcomes();
  });

  const semanticEntry = fc.record({
    name: path,
    type: fc.constantFrom('file', 'file', 'directory', 'symlink', 'link'),
    linkname: fc.constantFrom(undefined, 'a', '..', '/etc', 'l', 'x/../..', 'd/e', '.', 'a/b'),
    content: fc.uint8Array({ maxLength: 3000 }),
  });

  it('holds only safe entries when it accepts a random tree of files, directories and links', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(semanticEntry, { maxLength: 12 }), fc.boolean(), fc.integer({ min: 1, max: 4096 }), async (entries, gzip, chunk) => {
        const tar = await makeTar(
          entries.map((e) => ({ name: e.name || 'empty', type: e.type, linkname: e.linkname, content: e.type === 'file' ? Buffer.from(e.content) : undefined })),
        ).catch(() => null); // a header tar-stream itself cannot write
        if (tar === null) return;
        await spoolOnce(gzip ? gzipSync(tar) : tar, chunk);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 100_000, timeout: 10_000, seed: Number(process.env.FUZZ_SEED) || undefined },
    );
    expectBothOutcomes();
  });
});
