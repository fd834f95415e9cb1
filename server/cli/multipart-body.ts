// A multipart/form-data body built as it is sent: the fields, then the file streamed through, so a
// workspace of any size is never held in memory. The server takes parts in order (options before
// the workspace lets it cap the upload at the run's own workspace_mb).
import { randomBytes } from 'node:crypto';

export interface MultipartField {
  name: string;
  value: string;
}

export interface MultipartFile {
  name: string;
  filename: string;
  contentType: string;
  content: AsyncIterable<Uint8Array>;
}

export function newBoundary(): string {
  return `codex-runner-${randomBytes(16).toString('hex')}`;
}

export function multipartContentType(boundary: string): string {
  return `multipart/form-data; boundary=${boundary}`;
}

export async function* multipartBody(boundary: string, fields: MultipartField[], file?: MultipartFile): AsyncGenerator<Uint8Array> {
  for (const field of fields) {
    if (field.value.includes(boundary)) throw new Error(`form field ${field.name} holds the boundary`);
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field.name}"\r\n\r\n${field.value}\r\n`);
  }
  if (file) {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`);
    for await (const chunk of file.content) yield chunk;
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`--${boundary}--\r\n`);
}
