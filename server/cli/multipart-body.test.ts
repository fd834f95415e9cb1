import { Readable } from 'node:stream';
import busboy from 'busboy';
import { describe, expect, it } from 'vitest';
import { multipartBody, multipartContentType, newBoundary } from './multipart-body.js';

async function parse(boundary: string, body: AsyncIterable<Uint8Array>) {
  const fields: [string, string][] = [];
  const files: { name: string; filename: string | undefined; type: string; bytes: Buffer }[] = [];
  const parser = busboy({ headers: { 'content-type': multipartContentType(boundary) } });
  const done = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value) => fields.push([name, value]));
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => files.push({ name, filename: info.filename, type: info.mimeType, bytes: Buffer.concat(chunks) }));
    });
    parser.on('close', resolve);
    parser.on('error', reject);
  });
  Readable.from(body).pipe(parser);
  await done;
  return { fields, files };
}

async function* chunks(...parts: Buffer[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

describe('multipartBody', () => {
  it('is read by busboy as the fields in order, then the file byte for byte', async () => {
    const boundary = newBoundary();
    const bytes = Buffer.from([0x1f, 0x8b, 0, 13, 10, 45, 45, 255]);
    const body = multipartBody(boundary, [{ name: 'prompt', value: 'fix it — «now»\r\nplease' }, { name: 'options', value: '{"timeout_s":5}' }], {
      name: 'workspace',
      filename: 'workspace.tar.gz',
      contentType: 'application/gzip',
      content: chunks(bytes.subarray(0, 3), bytes.subarray(3)),
    });
    const parsed = await parse(boundary, body);
    expect(parsed.fields).toEqual([
      ['prompt', 'fix it — «now»\r\nplease'],
      ['options', '{"timeout_s":5}'],
    ]);
    expect(parsed.files).toEqual([{ name: 'workspace', filename: 'workspace.tar.gz', type: 'application/gzip', bytes }]);
  });

  it('refuses a field that holds the boundary', async () => {
    const boundary = newBoundary();
    const body = multipartBody(boundary, [{ name: 'prompt', value: `x--${boundary}` }]);
    await expect(body.next()).rejects.toThrow(/holds the boundary/);
  });
});
