import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { closeSoon, onParserRefusal, parserRefusal } from '../domain/parser-refusal.js';
import { rawGatewayError } from './gateway-error.js';

/**
 * What a run's listener answers before the app sees a request: one Node's parser refused (both
 * Content-Length and Transfer-Encoding, a bad chunk, a header too large) and CONNECT. Node's own
 * answer to the first is a bare `400 Bad Request` with no body, and it drops a CONNECT without a word;
 * a sandbox gets the gateway's JSON envelope instead, and the connection is closed after it.
 */
export function guardListener(server: Server, log: Logger): void {
  onParserRefusal(server, (err) => {
    const { code, message } = parserRefusal(err, 'gateway');
    log.warn({ code: err.code }, 'gateway refused a request its HTTP parser could not take');
    return rawGatewayError(code, message);
  });

  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    log.warn({ target: String(req.url).slice(0, 200) }, 'gateway refused a CONNECT');
    socket.on('error', () => {});
    socket.end(rawGatewayError('forbidden', 'CONNECT is not available through the gateway'));
    closeSoon(socket);
  });
}

/** How long, and how many bytes, a connection is read on after its answer while the client still sends. */
const LINGER = { maxMs: 5_000, maxBytes: 64 * 1024 * 1024 };

/**
 * A lingering close: when the server closes a connection whose request body was not read to its
 * end (a refused body, a client that asked for `Connection: close`), it sends its answer and a FIN,
 * then reads on and drops what the client still sends, until the client is done, LINGER passes, or
 * it has sent too much. Closing at once with bytes unread resets the connection, and a reset makes
 * the client's stack (or the sandbox's relay, socat, before it) drop the answer unread.
 */
export function lingerOnUnreadBodies(server: Server): void {
  const lastRequest = new WeakMap<Socket, IncomingMessage>();
  server.on('request', (req: IncomingMessage) => lastRequest.set(req.socket, req));
  server.on('connection', (socket: Socket) => {
    const destroySoon = socket.destroySoon.bind(socket);
    let lingering = false;
    socket.destroySoon = () => {
      const req = lastRequest.get(socket);
      if (lingering) return;
      if (!req || req.complete || req.destroyed) return destroySoon();
      lingering = true;
      let seen = 0;
      const stop = () => {
        clearTimeout(timer);
        socket.destroy();
      };
      const timer = setTimeout(stop, LINGER.maxMs);
      timer.unref();
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > LINGER.maxBytes) stop();
      });
      req.once('end', stop);
      socket.once('end', stop);
      socket.once('close', () => clearTimeout(timer));
      socket.end();
      req.resume();
    };
  });
}
