// Calls the service the way a client does: POST /v1/runs?wait=1, JSON or a streamed multipart upload.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

export interface RunAnswer {
  id: string;
  status: string;
  final_message: string | null;
  error: { code: string; message: string } | null;
}

export interface UploadAnswer {
  run: RunAnswer;
  /** When the request body's last byte was handed to the socket, from the request's start. */
  bodySentMs: number;
}

const RUN_TIMEOUT_MS = 300_000;

export async function createRunJson(url: string, token: string, prompt: string, options?: object): Promise<RunAnswer> {
  const res = await fetch(`${url}/v1/runs?wait=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(options ? { prompt, options } : { prompt }),
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  });
  return answer(res);
}

/** Multipart built by hand around a file stream, so the tarball is streamed and its last byte timed. */
export async function createRunUpload(url: string, token: string, prompt: string, tarball: string): Promise<UploadAnswer> {
  const boundary = `bench-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\ncontent-disposition: form-data; name="prompt"\r\n\r\n${prompt}\r\n` +
      `--${boundary}\r\ncontent-disposition: form-data; name="workspace"; filename="workspace.tar"\r\n` +
      'content-type: application/x-tar\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = head.length + (await stat(tarball)).size + tail.length;
  const t0 = performance.now();
  let bodySentMs = NaN;
  async function* body() {
    yield head;
    yield* createReadStream(tarball, { highWaterMark: 1024 * 1024 });
    yield tail;
    bodySentMs = performance.now() - t0;
  }
  const res = await fetch(`${url}/v1/runs?wait=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(size) },
    body: Readable.toWeb(Readable.from(body())) as ReadableStream,
    duplex: 'half',
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  } as RequestInit);
  return { run: await answer(res), bodySentMs };
}

async function answer(res: Response): Promise<RunAnswer> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /v1/runs answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as RunAnswer;
}
