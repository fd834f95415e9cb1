import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { answerClientErrors } from './client-errors.js';

let server: Server;
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A loopback server with the handler; sends `bytes` raw and returns what came back before the server closed. */
async function send(bytes: string, options: { headersTimeout?: number } = {}): Promise<string> {
  server = createServer(options, (_req, res) => res.end('ok'));
  answerClientErrors(server, pino({ level: 'silent' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const got: Buffer[] = [];
  socket.on('data', (d) => got.push(d));
  socket.on('error', () => {});
  socket.write(bytes);
  await new Promise((r) => socket.once('close', r));
  return Buffer.concat(got).toString();
}

const json = (answer: string) => ({ status: Number(answer.split(' ')[1]), body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) });

describe('answerClientErrors', () => {
  it('answers a request with both Content-Length and Transfer-Encoding with the JSON envelope, then closes', async () => {
    const answer = await send('POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(answer).toMatch(/\r\nconnection: close\r\n/);
    expect(json(answer)).toEqual({ status: 400, body: { error: { code: 'bad_request', message: expect.stringMatching(/^malformed request \(HPE_INVALID_TRANSFER_ENCODING\)/) } } });
  });

  it('answers headers over the limit with 431 headers_too_large', async () => {
    const answer = await send(`GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(json(answer)).toEqual({ status: 431, body: { error: { code: 'headers_too_large', message: "request headers are over the server's limit" } } });
  });

  it('answers garbage with 400 and leaves good requests alone', async () => {
    expect(json(await send('HELLO\r\n\r\n')).status).toBe(400);
    await new Promise((r) => server.close(r));
    expect(await send('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200 OK[\s\S]*ok$/);
  });
});
