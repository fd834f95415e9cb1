import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTar, streamOf } from '../archive/test-tarballs.js';
import { ClientGoneError, readRunRequest, type RunRequestLimits } from './run-request.js';

let uploadDir: string;
let limits: RunRequestLimits;
beforeEach(async () => {
  uploadDir = await mkdtemp(path.join(tmpdir(), 'run-request-'));
  limits = { uploadDir, owner: { uid: 70000, gid: 70000 }, promptMaxBytes: 1000, workspace: { maxBytes: 1 << 20, maxEntries: 100, maxCompressedBytes: 1 << 20 }, outputSchemaMaxBytes: 4096, images: { maxCount: 2, maxBytes: 1024 } };
});
afterEach(async () => {
  expect(await readdir(uploadDir)).toEqual([]);
  await rm(uploadDir, { recursive: true, force: true });
});

function form(parts: { name: string; filename?: string; body: string | Buffer }[], headers: Record<string, string> = {}): Request {
  const chunks = parts.flatMap((p) => [
    Buffer.from(`--b\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n\r\n`),
    Buffer.from(p.body),
    Buffer.from('\r\n'),
  ]);
  const body = Buffer.concat([...chunks, Buffer.from('--b--\r\n')]);
  return new Request('http://x/v1/runs', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b', ...headers }, body });
}

describe('readRunRequest (multipart)', () => {
  it('reads a prompt, options and a workspace', async () => {
    const tar = await makeTar([{ name: 'a.txt', content: 'x' }]);
    const request = await readRunRequest(form([{ name: 'prompt', body: 'fix it' }, { name: 'options', body: '{"timeout_s":5}' }, { name: 'workspace', filename: 'w.tar', body: tar }]), limits);
    expect(request).toMatchObject({ prompt: 'fix it', options: { timeout_s: 5 }, workspaceBytes: 1 });
    await rm(request.workspaceTar!);
  });

  it('refuses a declared Content-Length past the caps before reading the body', async () => {
    const body = new ReadableStream({ pull: () => new Promise(() => {}) }); // never yields a byte
    const request = new Request('http://x/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(10 * 2 ** 30) },
      body,
      duplex: 'half',
    } as RequestInit);
    await expect(readRunRequest(request, limits)).rejects.toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/the body is 10737418240 bytes/) });
  });
});

describe('readRunRequest refuses a field given twice', () => {
  it.each([
    ['prompt', [{ name: 'prompt', body: 'one' }, { name: 'prompt', body: 'two' }]],
    ['options', [{ name: 'options', body: '{}' }, { name: 'options', body: '{"timeout_s":1}' }]],
  ])('%s', async (name, parts) => {
    await expect(readRunRequest(form(parts), limits)).rejects.toMatchObject({ code: 'bad_request', message: `form field "${name}" is given twice` });
  });
});

describe('readRunRequest (JSON)', () => {
  it('reports a client that hung up mid-body as gone, not as a failure to log', async () => {
    let pulls = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(new TextEncoder().encode('{"prompt":'));
        else controller.error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      },
    });
    const request = new Request('http://x/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    await expect(readRunRequest(request, limits)).rejects.toBeInstanceOf(ClientGoneError);
  });
});

describe('readRunRequest and a form that breaks while the workspace spools', () => {
  // busboy fails the form on a part header with a NUL, and leaves the workspace's file stream open
  // when that failure comes in the chunk that started it: the spool waited on it for ever.
  const workspaceHead = Buffer.from('--b\r\nContent-Disposition: form-data; name="workspace"; filename="w.tar"\r\n\r\n');
  it.each([1, 100, 64 * 1024])('answers a malformed part header with the workspace in the same chunk (chunks of %i bytes), and keeps no spool file', async (chunk) => {
    const tar = await makeTar([{ name: 'src/a.txt', content: 'hello' }]);
    const body = Buffer.concat([Buffer.from('--b\r\nContent-Disposition: form-data; name="options\u0000"\r\n\r\n{}\r\n'), workspaceHead, tar, Buffer.from('\r\n')]);
    const request = new Request('http://x/v1/runs', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b' } });
    const answered = readRunRequest(request, limits, () => {}, streamOf(body, chunk));
    await expect(answered).rejects.toMatchObject({ code: 'bad_request', message: 'malformed multipart body: Malformed part header' });
  });
});

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');

describe('readRunRequest and image parts', () => {
  it('spools each image, in the form\'s order, with the type its bytes say', async () => {
    const request = await readRunRequest(
      form([{ name: 'image', filename: 'a.gif', body: GIF }, { name: 'prompt', body: 'look' }, { name: 'image', filename: 'b.bin', body: PNG }]),
      limits,
    );
    expect(request.images.map((i) => [i.type, i.bytes])).toEqual([['gif', GIF.length], ['png', PNG.length]]);
    for (const image of request.images) await rm(image.path);
  });

  it('refuses a file named .png that is not an image, and keeps no spool file', async () => {
    const parts = [{ name: 'prompt', body: 'look' }, { name: 'image', filename: 'ok.png', body: PNG }, { name: 'image', filename: 'shot.png', body: 'hello, not a png' }];
    await expect(readRunRequest(form(parts), limits)).rejects.toMatchObject({ code: 'image_invalid', message: 'image 2 ("shot.png") is not a PNG, JPEG, WebP or GIF image (by its first bytes)' });
  });

  it('refuses more images than limits.image_max_count, and an image over limits.image_max_mb', async () => {
    const three = [1, 2, 3].map((n) => ({ name: 'image', filename: `${n}.png`, body: PNG }));
    await expect(readRunRequest(form([{ name: 'prompt', body: 'p' }, ...three]), limits)).rejects.toMatchObject({ code: 'image_invalid', message: 'at most 2 images (limits.image_max_count)' });
    const big = Buffer.concat([PNG, Buffer.alloc(2048)]);
    await expect(readRunRequest(form([{ name: 'prompt', body: 'p' }, { name: 'image', filename: 'big.png', body: big }]), limits)).rejects.toMatchObject({ code: 'image_too_large' });
    await expect(readRunRequest(form([{ name: 'prompt', body: 'p' }, { name: 'image', body: PNG }]), limits)).rejects.toMatchObject({ code: 'bad_request', message: 'image must be sent as a file part (with a filename)' });
  });

  it('does not count image bytes towards the form fields\' cap', async () => {
    const nearCap = Buffer.concat([PNG, Buffer.alloc(1024 - PNG.length)]);
    const small = { ...limits, promptMaxBytes: 10, images: { maxCount: 2, maxBytes: 1024 } };
    const parts = [{ name: 'prompt', body: 'p' }, { name: 'image', filename: 'a.png', body: nearCap }, { name: 'image', filename: 'b.png', body: nearCap }];
    const request = await readRunRequest(form(parts), small);
    expect(request.images).toHaveLength(2);
    for (const image of request.images) await rm(image.path);
  });
});

describe('readRunRequest and output_schema', () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
  const json = (options: unknown) => new Request('http://x/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'p', options }) });

  it('takes a JSON Schema, as JSON or in a form', async () => {
    expect((await readRunRequest(json({ output_schema: schema }), limits)).options.output_schema).toEqual(schema);
    const request = await readRunRequest(form([{ name: 'prompt', body: 'p' }, { name: 'options', body: JSON.stringify({ output_schema: schema }) }]), limits);
    expect(request.options.output_schema).toEqual(schema);
  });

  it.each([
    ['a string', 'object', /a JSON Schema object is required/],
    ['an invalid schema', { type: 'object', properties: { ok: { type: 'bool' } } }, /not a valid JSON Schema/],
    ['a non-object root', { type: 'array' }, /root must be an object schema/],
    ['one over the cap', { type: 'object', description: 'x'.repeat(5000) }, /bytes as JSON; at most 4096/],
  ])('refuses %s with a 400 invalid_options', async (_what, outputSchema, message) => {
    await expect(readRunRequest(json({ output_schema: outputSchema }), limits)).rejects.toMatchObject({ code: 'invalid_options', status: 400, message: expect.stringMatching(message) });
  });
});
