import type { RequestSlot } from './admission.js';

/** One body past the per-request cap: 413. */
export class BodyTooLargeError extends Error {}
/** The run's or the gateway's buffering budget is spent: 429, worth retrying later. */
export class BodyBudgetError extends Error {}
/** The client went away (or broke the framing) before the body ended: nobody is left to answer. */
export class BodyCutOffError extends Error {}

/**
 * Reads a request body as text while holding its bytes against the slot's budgets. A declared
 * Content-Length is reserved before the first byte is read; a chunked body is reserved as it arrives.
 * Nothing past the cap or the budget is ever held: the read stops at the chunk that would pass it.
 */
export async function readBodyWithin(request: Request, slot: RequestSlot, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new BodyTooLargeError(`request body of ${declared} bytes is over the gateway's limit of ${maxBytes}`);
  let reserved = 0;
  const reserve = (bytes: number) => {
    const refusal = slot.reserve(bytes);
    if (refusal) throw new BodyBudgetError(refusal);
    reserved += bytes;
  };
  if (Number.isSafeInteger(declared) && declared > 0) reserve(declared);
  if (!request.body) return '';

  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let total = 0;
  let finished = false;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw new BodyCutOffError(`request body cut off after ${total} bytes: ${(err as Error).message ?? String(err)}`);
      }
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > maxBytes) throw new BodyTooLargeError(`request body is over the gateway's limit of ${maxBytes} bytes`);
      if (total > reserved) reserve(total - reserved);
      parts.push(decoder.decode(chunk.value, { stream: true }));
    }
    parts.push(decoder.decode());
    finished = true;
  } finally {
    // Stop pulling from the client; what it still sends is the HTTP server's to drain or drop.
    if (finished) reader.releaseLock();
    else reader.cancel().catch(() => undefined);
  }
  return parts.join('');
}
