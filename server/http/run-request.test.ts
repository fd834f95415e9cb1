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
  limits = { uploadDir, owner: { uid: 70000, gid: 70000 }, promptMaxBytes: 1000, workspace: { maxBytes: 1 << 20, maxEntries: 100, maxCompressedBytes: 1 << 20 } };
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
