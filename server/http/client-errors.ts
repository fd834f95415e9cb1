import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errorBody, errorStatus, type ErrorCode } from './api-error.js';

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Answers a request Node's HTTP parser refused (both Content-Length and Transfer-Encoding, a bad
 * chunk, headers too large, `server.headers_timeout_s` passed) with the API's JSON envelope, where
 * Node's default writes a bare status line and no body; then closes the connection. Only when
 * nothing of a response has gone out on the socket, as Node's own default does.
 */
export function answerClientErrors(server: Server, log: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [code, message]: [ErrorCode, string] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? ['headers_too_large', 'request headers are over the server\'s limit']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? ['request_timeout', 'the request did not arrive in time']
          : ['bad_request', `malformed request (${err.code ?? 'parse error'}): ${String(err.message).slice(0, 200)}`];
    log.info({ code: err.code }, 'refused a request the HTTP parser could not take');
    const body = JSON.stringify(errorBody(code, message));
    const status = errorStatus[code];
    socket.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}
