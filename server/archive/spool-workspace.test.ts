import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink as makeSymlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { createGzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanBaseline } from '../tree-diff/baseline-scan.js';
import { maxTarBytes, spoolWorkspace, WorkspaceRejectedError, type WorkspaceLimits } from './spool-workspace.js';
import {
  buildTar,
  device,
  dir,
  file,
  hardlink,
  readTar,
  streamOf,
  symlink,
  ustarHeader,
  type FixtureEntry,
} from './test-tarballs.js';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';

const MiB = 1024 * 1024;
const roomy: WorkspaceLimits = { maxBytes: 100 * MiB, maxEntries: 1_000, maxCompressedBytes: 100 * MiB };

let workDir: string;
let destPath: string;

beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'spool-workspace-'));
  destPath = join(workDir, 'workspace.tar');
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function spool(entries: FixtureEntry[], opts: { gzip?: boolean; limits?: Partial<WorkspaceLimits> } = {}) {
  const bytes = await buildTar(entries, { gzip: opts.gzip });
  return spoolWorkspace(streamOf(bytes), destPath, { ...roomy, ...opts.limits });
}

/** Spools and expects a refusal; also checks that nothing was left at destPath. */
async function refusal(
  input: FixtureEntry[] | Buffer,
  limits: Partial<WorkspaceLimits> = {},
): Promise<WorkspaceRejectedError> {
  const bytes = Buffer.isBuffer(input) ? input : await buildTar(input);
  const error: unknown = await spoolWorkspace(streamOf(bytes), destPath, { ...roomy, ...limits }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkspaceRejectedError);
  expect(existsSync(destPath)).toBe(false);
  return error as WorkspaceRejectedError;
}

async function spooled() {
  return readTar(await readFile(destPath));
}

const normalTree: FixtureEntry[] = [
  dir('./'),
  dir('./src/'),
  file('./src/main.ts', 'console.log(1)\n'),
  file('./README.md', '# hi\n'),
  symlink('./src/readme', '../README.md'),
  hardlink('./copy.md', './README.md'),
  dir('./empty/'),
];

describe('spoolWorkspace with a well-formed upload', () => {
  it.each([false, true])('re-packs a normal tree (gzip: %s) with normalized names and no root entry', async (gzip) => {
    const result = await spool(normalTree, { gzip });
    expect(result).toMatchObject({ entries: 6, bytes: 20 });
    const entries = await spooled();
    expect(entries.map((e) => [e.header.name, e.header.type, e.header.linkname])).toEqual([
      ['src/', 'directory', null],
      ['src/main.ts', 'file', null],
      ['README.md', 'file', null],
      ['src/readme', 'symlink', '../README.md'],
      ['copy.md', 'link', 'README.md'],
      ['empty/', 'directory', null],
    ]);
    expect(entries[1]?.content.toString()).toBe('console.log(1)\n');
    // The diff's index of the upload, made as it was written: what a pass over the written tar finds.
    expect(result.scan).toEqual(await scanBaseline(destPath));
    expect([...result.scan.entries.keys()].sort()).toEqual(['README.md', 'copy.md', 'src/main.ts', 'src/readme']);
    const body = (await readFile(destPath)).subarray(result.scan.entries.get('src/main.ts')!.offset!);
    expect(body.subarray(0, 15).toString()).toBe('console.log(1)\n');
  });

  it('detects gzip by its magic bytes even when the first chunk is a single byte', async () => {
    const bytes = await buildTar([file('a.txt', 'hello')], { gzip: true });
    const result = await spoolWorkspace(streamOf(bytes, 1), destPath, roomy);
    expect(result).toMatchObject({ entries: 1, bytes: 5 });
  });

  it('rewrites the owner and drops setuid, setgid and sticky bits', async () => {
    await spool([
      file('suid', 'x', { mode: 0o4755, uid: 0, gid: 0, uname: 'root', gname: 'root' }),
      dir('sticky', { mode: 0o1777, uid: 0, gid: 0 }),
      file('sgid', 'x', { mode: 0o2640 }),
    ]);
    const headers = (await spooled()).map((e) => e.header);
    const { uid, gid } = DEFAULT_SANDBOX_IDS;
    expect(headers.map((h) => [h.name, h.mode, h.uid, h.gid, h.uname, h.gname])).toEqual([
      ['suid', 0o755, uid, gid, 'codex', 'codex'],
      ['sticky/', 0o777, uid, gid, 'codex', 'codex'],
      ['sgid', 0o640, uid, gid, 'codex', 'codex'],
    ]);
  });

  it('uses the uid and gid it is given', async () => {
    await spoolWorkspace(streamOf(await buildTar([file('a')])), destPath, roomy, { uid: 2000, gid: 3000 });
    expect((await spooled())[0]?.header).toMatchObject({ uid: 2000, gid: 3000 });
  });

  it('keeps a 150-character single-component name and a 150-character nested path (pax)', async () => {
    const single = 'n'.repeat(150);
    const nested = `${'d'.repeat(70)}/${'e'.repeat(79)}`;
    const target = `${'t'.repeat(120)}/x`;
    await spool([file(single, 'one'), file(nested, 'two'), symlink('l', target)]);
    const raw = await readFile(destPath);
    expect(raw.includes(Buffer.from(`path=${single}\n`))).toBe(true);
    expect(raw.includes(Buffer.from(`path=${nested}\n`))).toBe(true);
    expect(raw.includes(Buffer.from(`linkpath=${target}\n`))).toBe(true);
    const entries = await spooled();
    expect(entries.map((e) => e.header.name)).toEqual([single, `${'d'.repeat(70)}/`, nested, 'l']);
    expect(entries[3]?.header.linkname).toBe(target);
    expect(entries[0]?.content.toString()).toBe('one');
  });

  it('writes a name longer than ustar holds as a PAX record, not by splitting it', async () => {
    const deep = `${'d/'.repeat(60)}f`;
    await spool([file('short', 'x'), file(deep, 'y')]);
    const raw = await readFile(destPath);
    expect(raw.includes(Buffer.from(`path=${deep}\n`))).toBe(true);
    expect(raw.includes(Buffer.from('path=short'))).toBe(false);
  });

  it('treats an empty upload as an empty workspace', async () => {
    const result = await spoolWorkspace(Readable.from([]), destPath, roomy);
    expect(result).toEqual({ entries: 0, bytes: 0, scan: { entries: new Map(), omitted: [], skipped: [] } });
    expect(await spooled()).toEqual([]);
    expect((await readFile(destPath)).length).toBe(1024);
  });
});

describe('spoolWorkspace refuses entries that escape the workspace', () => {
  it.each([
    ['../x', 'entry "../x" escapes the workspace'],
    ['/abs', 'entry "/abs" is an absolute path'],
    ['a/../../x', 'entry "a/../../x" escapes the workspace'],
    ['../etc/passwd', 'entry "../etc/passwd" escapes the workspace'],
  ])('refuses %j', async (name, message) => {
    const error = await refusal([file('ok.txt'), file(name)]);
    expect(error).toMatchObject({ kind: 'invalid', entry: name, message });
  });

  it('refuses an absolute symlink', async () => {
    expect((await refusal([symlink('etc', '/etc')])).message).toBe('entry "etc" is a symlink to the absolute path "/etc"');
  });

  it('refuses a symlink that escapes', async () => {
    expect((await refusal([symlink('a/up', '../../..')])).message).toBe('entry "a/up" is a symlink that escapes the workspace');
  });

  it('refuses the chain s -> d/e, d/e -> .., t -> s/..', async () => {
    const error = await refusal([dir('d'), symlink('s', 'd/e'), symlink('d/e', '..'), symlink('t', 's/..')]);
    expect(error).toMatchObject({ kind: 'invalid', entry: 't', message: 'entry "t" is a symlink that resolves outside the workspace' });
  });

  it('refuses an entry written through a symlink from the archive', async () => {
    const error = await refusal([dir('d'), symlink('link', 'd'), file('link/file')]);
    expect(error.message).toBe('entry "link/file" goes through the symlink "link"');
  });

  it.each([
    ['character-device', 'dev/null', 'a character device'],
    ['block-device', 'dev/sda', 'a block device'],
    ['fifo', 'pipe', 'a FIFO'],
  ] as const)('refuses a %s', async (type, name, what) => {
    const error = await refusal([device(name, type)]);
    expect(error.message).toBe(`entry "${name}" is ${what}; only files, directories and links are allowed`);
  });

  it('refuses an entry with a typeflag no tar defines', async () => {
    const bytes = withTypeflag(await buildTar([file('odd', 'abc')]), 'Z');
    expect((await refusal(bytes)).message).toBe('entry "odd" is of an unknown type; only files, directories and links are allowed');
  });

  it('refuses a GNU sparse entry whose map does not match its data, naming it', async () => {
    // An 'S' header with an empty map: no data, yet it stores three bytes.
    const bytes = withTypeflag(await buildTar([file('sparse', 'abc')]), 'S');
    expect(await refusal(bytes)).toMatchObject({
      kind: 'invalid',
      entry: 'sparse',
      message: 'the upload is not a valid tar or tar.gz archive: entry "sparse" has a sparse map of 0 bytes of data but stores 3',
    });
  });

  it('refuses a hard link to a path outside the workspace', async () => {
    expect((await refusal([hardlink('h', '../../etc/shadow')])).message).toContain('which escapes the workspace');
  });

  it('refuses a hard link to a path that is not an earlier file', async () => {
    expect((await refusal([hardlink('h', 'nowhere')])).message).toBe(
      'entry "h" is a hard link to "nowhere", which is not an earlier file in the archive',
    );
  });
});

describe('spoolWorkspace enforces its caps', () => {
  it('refuses more file bytes than maxBytes and names the entry', async () => {
    const error = await refusal([file('small', 'x'.repeat(10)), file('big.bin', 'x'.repeat(100))], { maxBytes: 64 });
    expect(error).toMatchObject({ kind: 'too_large', entry: 'big.bin', message: 'entry "big.bin" exceeds the workspace cap of 64 bytes' });
  });

  it('refuses an oversized entry whose body is still arriving without an unhandled stream error', async () => {
    // Over HTTP the refused entry's body is mid-flight when the extract is torn down; an error
    // event on that body with no listener would crash the whole server.
    const bytes = await buildTar([file('big.bin', randomBytes(256 * 1024))]);
    const unhandled: unknown[] = [];
    const onUncaught = (err: unknown) => unhandled.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const error = await spoolWorkspace(streamOf(bytes, 4096), destPath, { ...roomy, maxBytes: 64 * 1024 }).catch((e) => e);
      expect(error).toMatchObject({ kind: 'too_large', entry: 'big.bin' });
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('refuses more entries than maxEntries', async () => {
    const error = await refusal([file('a'), file('b'), file('c')], { maxEntries: 2 });
    expect(error).toMatchObject({ kind: 'too_large', entry: 'c', message: 'entry "c" exceeds the workspace cap of 2 entries' });
  });

  it('refuses more compressed bytes than maxCompressedBytes and names the entry being read', async () => {
    const bytes = await buildTar([file('first', 'x'), file('noise.bin', randomBytes(256 * 1024))], { gzip: true });
    const error = await refusal(bytes, { maxCompressedBytes: 64 * 1024 });
    expect(error.kind).toBe('too_large');
    expect(error.message).toMatch(/^entry "(first|noise\.bin)" exceeds the compressed upload cap of 65536 bytes$/);
  });

  it('refuses a gzip whose zero padding inflates past the tar cap, without inflating all of it', async () => {
    const limits = { maxBytes: 1 * MiB, maxEntries: 10 };
    const tarBytes = await buildTar([file('a', 'x')]);
    // 1 GiB of zeros after the archive: free for file sizes, 1 MiB of gzip.
    const zeros = Buffer.alloc(64 * MiB);
    const gzip = createGzip({ level: 1 });
    const compressed: Buffer[] = [];
    gzip.on('data', (c: Buffer) => compressed.push(c));
    gzip.write(tarBytes);
    for (let i = 0; i < 16; i++) gzip.write(zeros);
    gzip.end();
    await once(gzip, 'end');
    const error = await refusal(Buffer.concat(compressed), limits);
    expect(error.kind).toBe('too_large');
    expect(error.message).toContain(`inflates past ${maxTarBytes(limits)} bytes of tar once decompressed`);
  });

  it('refuses an upload over maxCompressedBytes before any entry was read', async () => {
    const bytes = await buildTar([file('a', 'x')]);
    const error = await refusal(bytes, { maxCompressedBytes: 100 });
    expect(error).toMatchObject({ kind: 'too_large', entry: undefined, message: 'the upload exceeds the compressed upload cap of 100 bytes' });
  });
});

describe('spoolWorkspace refuses names that are not UTF-8 rather than merge them', () => {
  const eAcute = Buffer.from('caf\xe9.txt', 'latin1');
  const message = 'entry "caf\ufffd.txt" has a name that is not valid UTF-8; names in a workspace must be UTF-8';

  /** One file under a PAX `path` record of raw bytes, as Docker's and Go's tar writers make them. */
  function rawPaxFileTar(name: Buffer): Buffer {
    const text = Buffer.concat([Buffer.from(' path='), name, Buffer.from('\n')]);
    const record = Buffer.concat([Buffer.from(String(text.length + 2)), text]);
    const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
    return Buffer.concat([ustarHeader('PaxHeader', record.length, 'x'), pad(record), ustarHeader('placeholder', 1, '0'), pad(Buffer.from('x')), Buffer.alloc(1024)]);
  }

  it('refuses a raw PAX path that is not UTF-8', async () => {
    const error = await refusal(rawPaxFileTar(eAcute));
    expect(error).toMatchObject({ kind: 'invalid', entry: 'caf\ufffd.txt', message });
  });

  it.each(['gnu', 'posix'])('refuses a GNU tar (%s format) of a file named with the byte 0xE9', async (format) => {
    const root = join(workDir, 'src');
    await mkdir(root);
    await writeFile(Buffer.concat([Buffer.from(`${root}/`), eAcute]), 'x');
    const bytes = execFileSync('tar', [`--format=${format}`, '-cf', '-', '-C', root, '.']);
    expect(await refusal(bytes)).toMatchObject({ kind: 'invalid', entry: './caf\ufffd.txt' });
  });

  it('refuses a symlink whose target is not UTF-8', async () => {
    const root = join(workDir, 'src');
    await mkdir(root);
    await makeSymlink(eAcute, join(root, 'link'));
    const bytes = execFileSync('tar', ['--format=posix', '-cf', '-', '-C', root, 'link']);
    expect((await refusal(bytes)).message).toBe('entry "link" has a link target that is not valid UTF-8; names in a workspace must be UTF-8');
  });

  it('still takes a UTF-8 name that is not ASCII', async () => {
    await spool([file('naïve.txt', 'x')]);
    expect((await spooled()).map((e) => e.header.name)).toEqual(['naïve.txt']);
  });
});

describe('spoolWorkspace refuses what is not a tar', () => {
  it('refuses random bytes as invalid', async () => {
    const error = await refusal(randomBytes(4096));
    expect(error.kind).toBe('invalid');
    expect(error.message).toMatch(/^the upload is not a valid tar or tar\.gz archive: Invalid tar header/);
  });

  it('refuses a few bytes of text', async () => {
    expect((await refusal(Buffer.from('hello\n'))).message).toBe(
      'the upload is not a valid tar or tar.gz archive: Unexpected end of data',
    );
  });

  it('refuses gzip of something that is not a tar', async () => {
    expect((await refusal(gzipSync(randomBytes(2048)))).kind).toBe('invalid');
  });

  it('refuses a corrupt gzip stream', async () => {
    const gz = await buildTar([file('a', 'x'.repeat(5000))], { gzip: true });
    expect((await refusal(Buffer.concat([gz.subarray(0, 20), randomBytes(200)]))).kind).toBe('invalid');
  });

  it('refuses a tar cut off in the middle of a file', async () => {
    const whole = await buildTar([file('a', 'x'.repeat(5000))]);
    expect((await refusal(whole.subarray(0, 2048))).message).toContain('Unexpected end of data');
  });
});

describe('spoolWorkspace failures that are not the client archive', () => {
  it('rethrows an upload stream error as it is and removes the partial file', async () => {
    const head = (await buildTar([file('a', 'x'.repeat(4096))])).subarray(0, 1024);
    const dropped = new Error('client went away');
    const input = new Readable({ read() {} });
    input.push(head);
    setTimeout(() => input.destroy(dropped), 20);
    await expect(spoolWorkspace(input, destPath, roomy)).rejects.toBe(dropped);
    expect(existsSync(destPath)).toBe(false);
  });

  it('rethrows a write error as it is', async () => {
    const bytes = await buildTar([file('a')]);
    const error = await spoolWorkspace(streamOf(bytes), join(workDir, 'missing', 'x.tar'), roomy).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(WorkspaceRejectedError);
    expect(error).toMatchObject({ code: 'ENOENT' });
  });
});

describe('spoolWorkspace cancellation', () => {
  it('stops, destroys the input and deletes the partial file when the signal aborts', async () => {
    const head = await buildTar([file('a', 'x'.repeat(4096))]);
    const input = new Readable({ read() {} });
    // A big file entry whose body never finishes arriving.
    input.push(head.subarray(0, head.length - 1024));
    input.push(await tarHeader({ name: 'slow.bin', type: 'file', size: 10 * MiB }));
    input.push(Buffer.alloc(64 * 1024));
    const controller = new AbortController();
    const spooling = spoolWorkspace(input, destPath, roomy, { signal: controller.signal });
    await waitFor(() => existsSync(destPath));
    const reason = new Error('client cancelled');
    controller.abort(reason);
    await expect(spooling).rejects.toBe(reason);
    expect(input.destroyed).toBe(true);
    expect(existsSync(destPath)).toBe(false);
  });

  it('does nothing when the signal is already aborted', async () => {
    const reason = new Error('too late');
    const input = streamOf(await buildTar([file('a')]));
    await expect(spoolWorkspace(input, destPath, roomy, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(existsSync(destPath)).toBe(false);
  });
});

describe('spoolWorkspace memory', () => {
  it('streams a 64 MiB file without holding it in memory', { timeout: 60_000 }, async () => {
    const size = 64 * MiB;
    const input = Readable.from(lazyTarWithOneFile('big.bin', size));
    const used = () => {
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const baseline = used();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, used())), 5);
    try {
      const result = await spoolWorkspace(input, destPath, roomy);
      expect(result).toMatchObject({ entries: 1, bytes: size });
    } finally {
      clearInterval(sampler);
    }
    // Loose on purpose (GC timing), yet well under the 64 MiB a buffering bug would add.
    expect(peak - baseline).toBeLessThan(32 * MiB);
  });
});

/** Generates a one-file tar lazily: header, `size` zero bytes in 64 KiB pieces, end blocks. */
async function* lazyTarWithOneFile(name: string, size: number): AsyncGenerator<Buffer> {
  yield await tarHeader({ name, type: 'file', size });
  const piece = Buffer.alloc(64 * 1024);
  for (let sent = 0; sent < size; sent += piece.length) yield piece.subarray(0, Math.min(piece.length, size - sent));
  const padding = (512 - (size % 512)) % 512;
  yield Buffer.alloc(padding + 1024);
}

/** The 512-byte header tar-stream writes for `header`, without body or end blocks. */
async function tarHeader(header: Parameters<tar.Pack['entry']>[0]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => chunks.push(chunk as Buffer));
  pack.entry(header);
  await new Promise((resolve) => setImmediate(resolve));
  pack.destroy();
  return Buffer.concat(chunks).subarray(0, 512);
}

/** Rewrites the first header's typeflag and fixes its checksum. */
function withTypeflag(tarBytes: Buffer, flag: string): Buffer {
  const out = Buffer.from(tarBytes);
  out[156] = flag.charCodeAt(0);
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return out;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition never became true');
}
