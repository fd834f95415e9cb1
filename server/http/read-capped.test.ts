import { describe, expect, it } from 'vitest';
import { ApiError } from './api-error.js';
import { readTextCapped } from './read-capped.js';

function streamed(parts: string[]): Request {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
      controller.close();
    },
  });
  return new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit);
}

describe('readTextCapped', () => {
  it('reads a body within the cap', async () => {
    expect(await readTextCapped(streamed(['ab', 'cd']), 4)).toBe('abcd');
  });

  it('refuses a chunked body as soon as it passes the cap', async () => {
    await expect(readTextCapped(streamed(['abc', 'de']), 4)).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('refuses a declared length over the cap before reading', async () => {
    const req = new Request('http://x/', { method: 'POST', body: 'abcdef', headers: { 'content-length': '6' } });
    await expect(readTextCapped(req, 4)).rejects.toBeInstanceOf(ApiError);
  });
});
