import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** How a request Node's HTTP parser refused is named, on the API and on the gateway alike. */
export type ParserRefusalCode = 'headers_too_large' | 'request_timeout' | 'bad_request';

/** What Node's parser refused (`err` of a `clientError`), as a code and a message; `whose` owns the limit. */
export function parserRefusal(err: NodeJS.ErrnoException, whose: string): { code: ParserRefusalCode; message: string } {
  if (err.code === 'HPE_HEADER_OVERFLOW') return { code: 'headers_too_large', message: `request headers are over the ${whose}'s limit` };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'request_timeout', message: 'the request did not arrive in time' };
  return { code: 'bad_request', message: `malformed request (${err.code ?? 'parse error'}): ${String(err.message).slice(0, 200)}` };
}

/**
 * Answers each request Node's parser refuses (both Content-Length and Transfer-Encoding, a bad
 * chunk, headers too large, a header or request deadline) with the bytes `answer` gives, where
 * Node's default writes a bare status line; then closes the connection. Only when nothing of a
 * response has gone out on the socket, as Node's own default does.
 */
export function onParserRefusal(server: Server, answer: (err: NodeJS.ErrnoException) => string): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(answer(err));
    closeSoon(socket);
  });
}

/** A JSON answer as raw HTTP/1.1 bytes, for a socket the HTTP server will not answer on itself; the connection closes after it. */
export function rawJsonResponse(status: number, body: unknown): string {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}

/** A client that sends on and never reads would keep the socket open: the end is not negotiable. */
export function closeSoon(socket: Duplex): void {
  setTimeout(() => socket.destroy(), 1000).unref();
}
