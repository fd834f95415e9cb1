import { describe, expect, it } from 'vitest';
import { GatewayAdmission } from './admission.js';
import { BodyBudgetError, BodyCutOffError, BodyTooLargeError, drainRefusedBody, readBodyWithin } from './read-body.js';

const limits = { maxRequestBytes: 1000, maxInflightPerRun: 4, maxBufferedBytesPerRun: 1500, maxBufferedBytesTotal: 2000 };

function chunked(chunks: (Uint8Array | Error)[], onPull: () => void = () => undefined): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      onPull();
      const next = chunks[i++];
      if (next === undefined) controller.close();
      else if (next instanceof Error) controller.error(next);
      else controller.enqueue(next);
    },
  }, { highWaterMark: 0 }); // pulls only when read, so a test sees what was read
}

const post = (body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}) =>
  new Request('http://gw/v1/responses', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

describe('readBodyWithin', () => {
  it('reads a body and reserves its declared length before reading', async () => {
    const a = new GatewayAdmission(limits);
    const slot = a.enter('r')!;
    let heldAtFirstPull = -1;
    const text = await readBodyWithin(post(chunked([bytes(300), bytes(200)], () => (heldAtFirstPull = heldAtFirstPull < 0 ? a.held().bytes : heldAtFirstPull)), { 'content-length': '500' }), slot, 1000);
    expect(text).toBe('a'.repeat(500));
    expect(heldAtFirstPull).toBe(500);
  });

  it('decodes UTF-8 split across chunks', async () => {
    const euro = new TextEncoder().encode('€');
    const slot = new GatewayAdmission(limits).enter('r')!;
    expect(await readBodyWithin(post(chunked([euro.slice(0, 1), euro.slice(1)])), slot, 1000)).toBe('€');
  });

  it('refuses a declared length over the cap before reading anything', async () => {
    let pulled = false;
    const slot = new GatewayAdmission(limits).enter('r')!;
    await expect(readBodyWithin(post(chunked([bytes(10)], () => (pulled = true)), { 'content-length': '1001' }), slot, 1000)).rejects.toThrow(BodyTooLargeError);
    expect(pulled).toBe(false);
  });

  it('refuses a chunked body at the chunk that passes the cap, reading no further', async () => {
    let pulls = 0;
    const slot = new GatewayAdmission(limits).enter('r')!;
    await expect(readBodyWithin(post(chunked([bytes(600), bytes(600), bytes(600)], () => pulls++)), slot, 1000)).rejects.toThrow(BodyTooLargeError);
    expect(pulls).toBe(2);
  });

  it('counts a chunked body against the budget as it arrives', async () => {
    const a = new GatewayAdmission(limits);
    const first = a.enter('r')!;
    expect(first.reserve(1200)).toBeNull();
    const second = a.enter('r')!;
    await expect(readBodyWithin(post(chunked([bytes(200), bytes(200)])), second, 1000)).rejects.toThrow(BodyBudgetError);
    expect(a.held('r').bytes).toBe(1200 + 200);
    second.close();
    expect(a.held('r').bytes).toBe(1200);
  });

  it('refuses a declared length the budget cannot hold, with a budget error rather than a size error', async () => {
    const a = new GatewayAdmission(limits);
    a.enter('other')!.reserve(1500);
    await expect(readBodyWithin(post('x'.repeat(600), { 'content-length': '600' }), a.enter('r')!, 1000)).rejects.toThrow(BodyBudgetError);
  });

  it('tells a client that hung up mid-body from one that sent too much', async () => {
    const a = new GatewayAdmission(limits);
    const slot = a.enter('r')!;
    const err = await readBodyWithin(post(chunked([bytes(100), new Error('aborted')]), { 'content-length': '800' }), slot, 1000).catch((e) => e);
    expect(err).toBeInstanceOf(BodyCutOffError);
    expect(err.message).toMatch(/cut off after 100 bytes/);
    slot.close();
    expect(a.held()).toEqual({ inflight: 0, bytes: 0 });
  });
});

describe('drainRefusedBody', () => {
  it('reads the rest of a refused body to its end before the answer, leaving it for nobody else', async () => {
    const a = new GatewayAdmission(limits);
    const slot = a.enter('r')!;
    let pulls = 0;
    const request = post(chunked([bytes(600), bytes(600), bytes(600)], () => void pulls++));
    await expect(readBodyWithin(request, slot, 1000)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(pulls).toBe(2);
    expect(await drainRefusedBody(request)).toBe(true);
    // The third chunk and the end.
    expect(pulls).toBe(4);
  });

  it('answers once its byte bound is read, and reads on in the background', async () => {
    let pulls = 0;
    const request = post(chunked(Array.from({ length: 40 }, () => bytes(100)), () => void pulls++));
    expect(await drainRefusedBody(request, { maxBytes: 1000, maxMs: 5000, maxIdleMs: 5000 })).toBe(false);
    expect(pulls).toBeLessThanOrEqual(12);
    await new Promise((r) => setTimeout(r, 50));
    expect(pulls).toBe(41);
  });

  it('answers a client that pauses without waiting out the bound', async () => {
    const stalled = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(bytes(10)) });
    const started = Date.now();
    expect(await drainRefusedBody(post(stalled), { maxBytes: 1000, maxMs: 5000, maxIdleMs: 50 })).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('has nothing to do for a body already read, a bodiless request or a client gone', async () => {
    expect(await drainRefusedBody(new Request('http://gw/v1/models'))).toBe(true);
    const gone = post(chunked([new Error('reset')]));
    expect(await drainRefusedBody(gone)).toBe(true);
  });
});
