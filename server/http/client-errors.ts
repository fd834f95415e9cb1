import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { onParserRefusal, parserRefusal, rawJsonResponse } from '../domain/parser-refusal.js';
import { errorBody, errorStatus } from './api-error.js';

/**
 * Answers a request Node's HTTP parser refused (both Content-Length and Transfer-Encoding, a bad
 * chunk, headers too large, `server.headers_timeout_s` passed) with the API's JSON envelope, where
 * Node's default writes a bare status line and no body; then closes the connection.
 */
export function answerClientErrors(server: Server, log: Logger): void {
  onParserRefusal(server, (err) => {
    const { code, message } = parserRefusal(err, 'server');
    log.info({ code: err.code }, 'refused a request the HTTP parser could not take');
    return rawJsonResponse(errorStatus[code], errorBody(code, message));
  });
}
