// Random multipart bodies carrying random (and damaged) tar streams, thrown at the real server
// process: every one gets a clear 4xx/503, and the server stays up with bounded memory.
import fc from 'fast-check';
import tar from 'tar-stream';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBody, type Part } from './fixtures/raw-http.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';
import { ATTACK_PEAK_RSS_BOUND_BYTES, ATTACK_SERVER_CONFIG } from './fixtures/upload-attacks.js';

const ALLOWED_STATUSES = [400, 413, 415, 429, 503];

const nameArb = fc.oneof(
  fc.constantFrom('a', 'dir/', './x', '../up', '/abs', 'a/../../b', '', '.', './', 'l/x', 'd/e/f', 'é/ü', 'a\nb'),
  fc.string({ maxLength: 40 }),
  fc.array(fc.constantFrom('a', '..', '.', '', 'b', 'l', 'x'.repeat(300)), { maxLength: 8 }).map((parts) => parts.join('/')),
);

const entryArb = fc.record({
  name: nameArb,
  type: fc.constantFrom('file', 'file', 'directory', 'symlink', 'link', 'fifo', 'character-device'),
  linkname: fc.constantFrom(undefined, 'a', '..', '/etc', 'l', 'x/../..', 'd/e'),
  content: fc.uint8Array({ maxLength: 3000 }),
  mode: fc.integer({ min: 0, max: 0o7777 }),
});

const tarArb = fc.record({
  entries: fc.array(entryArb, { maxLength: 10 }),
  gzip: fc.boolean(),
  cutAt: fc.option(fc.nat({ max: 20_000 })),
  flips: fc.array(fc.tuple(fc.nat({ max: 20_000 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
});

type TarSpec = typeof tarArb extends fc.Arbitrary<infer T> ? T : never;

async function buildTar(spec: TarSpec): Promise<Buffer> {
  const pack = tar.pack();
  const collected = buffer(pack as unknown as Readable);
  for (const entry of spec.entries) {
    const body = entry.type === 'file' ? Buffer.from(entry.content) : Buffer.alloc(0);
    const header = { name: entry.name || 'empty', type: entry.type as tar.Header['type'], mode: entry.mode, linkname: entry.linkname, size: body.length };
    await new Promise<void>((resolve) => {
      try {
        pack.entry(header, body, () => resolve());
      } catch {
        resolve(); // a header tar-stream cannot write is left out
      }
    });
  }
  pack.finalize();
  let bytes = await collected;
  if (spec.gzip) bytes = gzipSync(bytes);
  for (const [at, value] of spec.flips) if (bytes.length) bytes[at % bytes.length] = value;
  if (spec.cutAt !== null) bytes = bytes.subarray(0, spec.cutAt % (bytes.length + 1));
  return bytes;
}

const partArb = fc.record({
  name: fc.constantFrom('prompt', 'prompt', 'workspace', 'workspace', 'options', 'upload', 'x'),
  asFile: fc.boolean(),
  body: fc.oneof(
    tarArb.map((spec) => ({ tar: spec })),
    fc.constantFrom('fix it', '', '{"timeout_s": 5}', '{"nope": 1}', '{bad json', '\u0000'),
    fc.string({ maxLength: 200 }),
  ),
});

const requestArb = fc.record({
  boundary: fc.stringMatching(/^[A-Za-z0-9'()+_,.-]{1,70}$/),
  parts: fc.array(partArb, { maxLength: 5 }),
  closeForm: fc.boolean(),
  cutAt: fc.option(fc.nat({ max: 30_000 })),
  contentType: fc.constantFrom('boundary', 'boundary', 'none', 'empty', 'json', 'text'),
});

describe('random uploads against the real server process', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(ATTACK_SERVER_CONFIG);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers every one with a JSON 4xx or 503, stays up, spools nothing, holds memory', { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        const parts: Part[] = [];
        for (const part of req.parts) {
          const body = typeof part.body === 'string' ? part.body : await buildTar(part.body.tar);
          parts.push({ name: part.name, filename: part.asFile ? 'f.bin' : undefined, body });
        }
        let body = multipartBody(req.boundary, parts, { close: req.closeForm });
        if (req.cutAt !== null) body = body.subarray(0, req.cutAt % (body.length + 1));
        const contentType = {
          boundary: `multipart/form-data; boundary="${req.boundary}"`,
          none: 'multipart/form-data',
          empty: 'multipart/form-data; boundary=',
          json: 'application/json',
          text: 'text/plain',
        }[req.contentType];
        const res = await server.api('/v1/runs', { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
        const text = await res.text();
        expect(ALLOWED_STATUSES, `${res.status}: ${text.slice(0, 300)}`).toContain(res.status);
        expect(JSON.parse(text).error.code).toEqual(expect.any(String));
      }),
      { numRuns: 250 },
    );
    expect(await server.alive()).toBe(true);
    await expect.poll(() => server.spooledUploads(), { timeout: 10_000 }).toEqual([]);
    const { peakRssBytes } = await server.memory();
    expect(peakRssBytes).toBeLessThan(ATTACK_PEAK_RSS_BOUND_BYTES);
    expect(server.logs().filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });
});
