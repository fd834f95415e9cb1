import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { Context } from 'hono';

const MiB = 1024 * 1024;
/** How much of a refused body is read and thrown away so that the client gets to read the answer. */
const DISCARD_MAX_BYTES = 16 * MiB;
const DISCARD_MAX_MS = 5_000;
/** Past the bound: how long the answer and the end of the stream (FIN) have to be read before the socket goes. */
const LINGER_MS = 2_000;

/**
 * A request's body as a Node stream. Under @hono/node-server this is the socket's own request
 * stream, so that a refusal can leave the rest of the body unread without destroying the socket
 * under the answer; elsewhere (app.request() in unit tests) the Web body.
 */
export function requestBody(c: Context): { stream: Readable | null; incoming: IncomingMessage | undefined } {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return { stream: incoming, incoming };
  const body = c.req.raw.body;
  return { stream: body ? Readable.fromWeb(body as NodeWebReadableStream) : null, incoming: undefined };
}

/**
 * After an answer sent before the body was read to its end: reads the rest and throws it away, up
 * to a bound, then closes. Closing at once would reset the connection while the client still sends,
 * and a reset makes its TCP stack drop the answer unread: curl would say "connection reset" instead
 * of showing the 413. Past the bound no more is read: the server ends its side (the answer, then
 * FIN) and the socket goes a little later, so a client slow to read still finds the answer first.
 */
export function discardRestOfBody(incoming: IncomingMessage | undefined): void {
  if (!incoming || incoming.complete || incoming.destroyed) return;
  incoming.unpipe();
  let seen = 0;
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    incoming.pause();
    const socket = incoming.socket;
    socket?.end();
    setTimeout(() => socket?.destroy(), LINGER_MS).unref();
  };
  const timer = setTimeout(close, DISCARD_MAX_MS);
  timer.unref();
  incoming.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DISCARD_MAX_BYTES) close();
  });
  incoming.once('close', () => clearTimeout(timer));
  incoming.on('error', () => {});
  incoming.resume();
}
