import { describe, expect, it } from 'vitest';
import { transportRefusal } from './transport-errors.js';

const jsonRpcError = (status: number, message: string) =>
  new Response(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }), { status, headers: { 'content-type': 'application/json' } });

describe('transportRefusal', () => {
  it("turns the transport's JSON-RPC refusals into the API's codes with their message", async () => {
    expect(await transportRefusal(jsonRpcError(406, 'Not Acceptable: Client must accept both'))).toMatchObject({ code: 'not_acceptable', message: 'Not Acceptable: Client must accept both' });
    expect(await transportRefusal(jsonRpcError(415, 'Unsupported Media Type'))).toMatchObject({ code: 'unsupported_media_type', status: 415 });
    expect(await transportRefusal(jsonRpcError(413, 'too large'))).toMatchObject({ code: 'payload_too_large', status: 413 });
    expect(await transportRefusal(jsonRpcError(400, 'Parse error'))).toMatchObject({ code: 'bad_request', status: 400 });
  });

  it('keeps a body that is not JSON as the message, cut', async () => {
    expect(await transportRefusal(new Response('x'.repeat(900), { status: 400 }))).toMatchObject({ message: 'x'.repeat(500) });
  });

  it('lets answers and accepted notifications through', async () => {
    expect(await transportRefusal(new Response('data', { status: 200 }))).toBeUndefined();
    expect(await transportRefusal(new Response(null, { status: 202 }))).toBeUndefined();
  });
});
