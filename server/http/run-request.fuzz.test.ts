// Property-based fuzzing of the run request reader: random JSON bodies against the schemas, and
// random multipart forms (damaged part headers, odd boundaries, duplicate and unknown parts, a tar or
// junk as the workspace, cut anywhere) delivered in random chunks. Every one is read into a valid
// request or refused with an ApiError of a known code and a 4xx status; none hangs, none throws
// anything else, and no spool file is left.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, streamOf } from '../archive/test-tarballs.js';
import { ApiError, errorStatus } from './api-error.js';
import { apiErrorFor } from './domain-errors.js';
import { readRunRequest, type RunRequest, type RunRequestLimits } from './run-request.js';

const PROMPT_MAX_BYTES = 2_000;
const OPTION_KEYS = ['provider', 'model', 'timeout_s', 'memory_mb', 'cpus', 'workspace_mb', 'webhook_url'];

let uploadDir: string;
let limits: RunRequestLimits;
let tar: Buffer;
beforeAll(async () => {
  uploadDir = await mkdtemp(path.join(tmpdir(), 'run-request-fuzz-'));
  limits = { uploadDir, owner: { uid: 70000, gid: 70000 }, promptMaxBytes: PROMPT_MAX_BYTES, workspace: { maxBytes: 64 * 1024, maxEntries: 20, maxCompressedBytes: 64 * 1024 }, outputSchemaMaxBytes: 4096, images: { maxCount: 2, maxBytes: 1024 } };
  tar = await makeTar([{ name: 'src/a.txt', content: 'hello' }, { name: 'l', type: 'symlink', linkname: 'src/a.txt' }]);
});
afterAll(async () => {
  await rm(uploadDir, { recursive: true, force: true });
});

const seen = { read: 0, refused: 0 };

/** The one property: a valid request, or a known 4xx refusal; no spool file left either way. */
async function expectReadOrRefused(request: Request, body?: Buffer, chunk = 1024): Promise<void> {
  let result: RunRequest | undefined;
  try {
    result = await readRunRequest(request, limits, () => {}, body === undefined ? undefined : streamOf(body, chunk));
  } catch (error) {
    const mapped = apiErrorFor(error);
    expect(mapped, String((error as Error)?.stack ?? error)).toBeInstanceOf(ApiError);
    expect(Object.keys(errorStatus)).toContain(mapped!.code);
    expect(mapped!.status).toBeGreaterThanOrEqual(400);
    expect(mapped!.status).toBeLessThan(500);
    expect(mapped!.message.length).toBeGreaterThan(0);
    seen.refused++;
  }
  if (result) {
    seen.read++;
    expect(typeof result.prompt).toBe('string');
    expect(result.prompt.trim().length).toBeGreaterThan(0);
    expect(Buffer.byteLength(result.prompt)).toBeLessThanOrEqual(PROMPT_MAX_BYTES);
    expect(result.prompt).not.toContain('\0');
    for (const key of Object.keys(result.options)) expect(OPTION_KEYS).toContain(key);
    if (result.workspaceTar) {
      expect(path.dirname(result.workspaceTar)).toBe(uploadDir);
      await rm(result.workspaceTar);
    }
  }
  // A file that appears once the reader is done is as much a leak: look again a moment later. What
  // is found is removed, so that the next input (and fast-check's shrinking) starts clean.
  await new Promise((r) => setTimeout(r, 5));
  const left = await readdir(uploadDir);
  await Promise.all(left.map((name) => rm(path.join(uploadDir, name), { force: true })));
  expect(left).toEqual([]);
}

function expectBothOutcomes(): void {
  const runs = seen.read + seen.refused;
  expect(runs).toBeGreaterThanOrEqual(50);
  expect(seen.read, JSON.stringify(seen)).toBeGreaterThan(runs / 20);
  expect(seen.refused, JSON.stringify(seen)).toBeGreaterThan(runs / 20);
  seen.read = 0;
  seen.refused = 0;
}

const optionValue = fc.oneof(
  fc.integer({ min: -10, max: 100_000 }),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.constantFrom(null, true, [], {}, 'https://example.invalid/hook', 1e308, 64, 0.01),
);
const options = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.constantFrom(...OPTION_KEYS, 'colour', '__proto__', 'constructor', ''), optionValue, { maxKeys: 3 }) },
  fc.jsonValue(),
);
const prompt = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('fix the tests', 'é'.repeat(10), 'x') },
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '   ', 'a\u0000b', 'p'.repeat(PROMPT_MAX_BYTES + 1), 'é'.repeat(PROMPT_MAX_BYTES / 2 + 1)),
  fc.jsonValue(),
);

const jsonBody = fc.oneof(
  { weight: 4, arbitrary: fc.record({ prompt, options }, { requiredKeys: [] }).map((b) => JSON.stringify(b)) },
  fc.record({ prompt, options, extra: fc.jsonValue() }, { requiredKeys: ['extra'] }).map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('{', '{"prompt":', '', 'null', '[]', '{"prompt":"x"}garbage', '\ufeff{"prompt":"x"}'),
);

describe('readRunRequest, fuzzed JSON', () => {
  it('reads or refuses every random JSON body with a known 4xx', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(jsonBody, fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'), async (body, type) => {
        await expectReadOrRefused(new Request('http://x/v1/runs', { method: 'POST', headers: { 'content-type': type }, body }));
      }),
      { numRuns: 400 },
    );
    expectBothOutcomes();
  });
});

const partName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('prompt', 'workspace', 'options') }, fc.constantFrom('upload', '', 'PROMPT', 'prompt"; x="'), fc.string({ maxLength: 10 }));
const partHead = fc.oneof(
  { weight: 6, arbitrary: fc.constant('ok') },
  fc.constantFrom('no-colon', 'no-disposition', 'no-name', 'bad-quote', 'huge', 'only-type', 'nul'),
);
const partBody = fc.oneof(
  fc.constant({ kind: 'tar' as const }),
  fc.constant({ kind: 'gzip-junk' as const }),
  prompt.map((p) => ({ kind: 'text' as const, text: typeof p === 'string' ? p : JSON.stringify(p) })),
  options.map((o) => ({ kind: 'text' as const, text: JSON.stringify(o) })),
);
const part = fc.record({ name: partName, asFile: fc.boolean(), head: partHead, body: partBody });
const form = fc.record({
  boundary: fc.oneof({ weight: 3, arbitrary: fc.constant('b0undary') }, fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/)),
  parts: fc.oneof(
    // A good form, sometimes with a workspace and options, then maybe more parts that may spoil it.
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.boolean(), fc.boolean(), fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, fc.array(part, { minLength: 1, maxLength: 3 })))
        .map(([workspace, opts, more]) => [
          { name: 'prompt', asFile: false, head: 'ok', body: { kind: 'text' as const, text: 'fix it' } },
          ...(workspace ? [{ name: 'workspace', asFile: true, head: 'ok', body: { kind: 'tar' as const } }] : []),
          ...(opts ? [{ name: 'options', asFile: false, head: 'ok', body: { kind: 'text' as const, text: '{"timeout_s":30}' } }] : []),
          ...more,
        ]),
    },
    fc.array(part, { maxLength: 6 }),
  ),
  close: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
  cut: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
  chunk: fc.integer({ min: 1, max: 8192 }),
  type: fc.oneof({ weight: 6, arbitrary: fc.constant('quoted') }, fc.constantFrom('plain', 'none', 'empty', 'twice')),
});

function headFor(p: { name: string; asFile: boolean; head: string }): string {
  const file = p.asFile ? '; filename="w.tar"' : '';
  switch (p.head) {
    case 'no-colon':
      return `Content-Disposition form-data; name="${p.name}"${file}\r\n`;
    case 'no-disposition':
      return 'Content-Type: text/plain\r\n';
    case 'no-name':
      return `Content-Disposition: form-data${file}\r\n`;
    case 'bad-quote':
      return `Content-Disposition: form-data; name="${p.name}${file}\r\n`;
    case 'huge':
      return `Content-Disposition: form-data; name="${p.name}"${file}\r\nX-Pad: ${'p'.repeat(20_000)}\r\n`;
    case 'only-type':
      return `Content-Type: application/x-tar\r\n`;
    case 'nul':
      return `Content-Disposition: form-data; name="${p.name}\u0000"${file}\r\n`;
    default:
      return `Content-Disposition: form-data; name="${p.name}"${file}\r\n`;
  }
}

describe('readRunRequest, fuzzed multipart', () => {
  it('reads or refuses every random form with a known 4xx, in any chunking, and leaves no spool file', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(form, async (f) => {
        const chunks: Buffer[] = [];
        for (const p of f.parts) {
          const body = p.body.kind === 'tar' ? tar : p.body.kind === 'gzip-junk' ? Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]) : Buffer.from(p.body.text);
          chunks.push(Buffer.from(`--${f.boundary}\r\n${headFor(p)}\r\n`), body, Buffer.from('\r\n'));
        }
        if (f.close) chunks.push(Buffer.from(`--${f.boundary}--\r\n`));
        let body = Buffer.concat(chunks);
        if (f.cut !== undefined) body = body.subarray(0, f.cut % (body.length + 1));
        const type = {
          quoted: `multipart/form-data; boundary="${f.boundary}"`,
          plain: `multipart/form-data; boundary=${f.boundary}`,
          none: 'multipart/form-data',
          empty: 'multipart/form-data; boundary=',
          twice: `multipart/form-data; boundary=other; boundary="${f.boundary}"`,
        }[f.type];
        // The body goes in as a Node stream in the given chunks, as the server hands it over.
        await expectReadOrRefused(new Request('http://x/v1/runs', { method: 'POST', headers: { 'content-type': type } }), body, f.chunk);
      }),
      // A form that is never answered fails here rather than hanging the suite.
      { numRuns: 400, timeout: 10_000, seed: Number(process.env.FUZZ_SEED) || undefined, ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH, endOnFailure: true } : {}) },
    );
    expectBothOutcomes();
  });
});
