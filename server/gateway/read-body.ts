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
  let refused = false;
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
      refused = true;
      if (total > maxBytes) throw new BodyTooLargeError(`request body is over the gateway's limit of ${maxBytes} bytes`);
      if (total > reserved) reserve(total - reserved);
      refused = false;
      parts.push(decoder.decode(chunk.value, { stream: true }));
    }
    parts.push(decoder.decode());
    finished = true;
  } finally {
    // A refused body is left for drainRefusedBody, so the client reads the refusal; a client that
    // hung up has nothing left to read.
    if (finished || refused) reader.releaseLock();
    else reader.cancel().catch(() => undefined);
  }
  return parts.join('');
}

const MiB = 1024 * 1024;
interface DrainBound {
  maxBytes: number;
  maxMs: number;
  /** A client that sends nothing for this long is waiting for the answer: give it. */
  maxIdleMs: number;
}
/** Read of a refused body before the answer goes out: a body a little over the cap ends within it. */
export const DRAIN_BEFORE_ANSWER: DrainBound = { maxBytes: 2 * MiB, maxMs: 5_000, maxIdleMs: 250 };
/** And after it, while the client reads the answer, until the HTTP server closes the connection. */
const DRAIN_AFTER_ANSWER: DrainBound = { maxBytes: 64 * MiB, maxMs: 5_000, maxIdleMs: 5_000 };

/**
 * Reads what is left of a refused request's body and throws it away, holding one chunk at a time:
 * up to DRAIN_BEFORE_ANSWER before the refusal is sent (or until the client pauses), so that a body
 * a little over the cap (or one sent whole before the client reads) ends cleanly, then on in the background while the answer
 * goes out. Leaving it unread would have the server close the connection with bytes pending, which
 * resets it: the client (and the sandbox's relay before it) drops the answer unread and sees only
 * "connection reset". Resolves once the body has ended (true) or the first bound is reached (false).
 */
export async function drainRefusedBody(request: Request, before = DRAIN_BEFORE_ANSWER): Promise<boolean> {
  if (!request.body || request.body.locked) return true;
  const reader = request.body.getReader();
  const ended = await discard(reader, before);
  if (ended) reader.releaseLock();
  else void discard(reader, DRAIN_AFTER_ANSWER).then((done) => (done ? reader.releaseLock() : reader.cancel().catch(() => undefined)));
  return ended;
}

async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, bound: DrainBound): Promise<boolean> {
  const deadline = Date.now() + bound.maxMs;
  let seen = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    while (seen <= bound.maxBytes) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.min(left, bound.maxIdleMs))));
      const chunk = await Promise.race([reader.read(), timedOut]);
      clearTimeout(timer);
      if (chunk === 'timeout') return false;
      if (chunk.done) return true;
      seen += chunk.value.byteLength;
    }
    return false;
  } catch {
    // The client went away: nothing is left to read.
    return true;
  } finally {
    clearTimeout(timer);
  }
}
