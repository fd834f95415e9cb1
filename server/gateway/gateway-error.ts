// The gateway's own error envelope, the same shape as the API's (`{"error":{"code","message"}}`) but
// with its own codes: the gateway is a lower room than http/ and does not import from it.
import { rawJsonResponse } from '../domain/parser-refusal.js';

const gatewayErrorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  request_timeout: 408,
  payload_too_large: 413,
  rate_limited: 429,
  headers_too_large: 431,
  bad_gateway: 502,
  gateway_timeout: 504,
} as const;

export type GatewayErrorCode = keyof typeof gatewayErrorStatus;

const refusals = new WeakMap<Response, GatewayErrorCode>();

export function gatewayError(code: GatewayErrorCode, message: string, headers: Record<string, string> = {}): Response {
  const response = new Response(JSON.stringify({ error: { code, message } }), {
    status: gatewayErrorStatus[code],
    headers: { 'content-type': 'application/json', ...headers },
  });
  refusals.set(response, code);
  return response;
}

/** The gateway's own error code when it answered this response itself, for telemetry. */
export function refusalOf(response: Response): GatewayErrorCode | undefined {
  return refusals.get(response);
}

/**
 * The same envelope as raw HTTP/1.1 bytes, for a socket the HTTP server will not answer on itself
 * (a request its parser refused, a CONNECT); the connection is closed after it.
 */
export function rawGatewayError(code: GatewayErrorCode, message: string): string {
  return rawJsonResponse(gatewayErrorStatus[code], { error: { code, message } });
}
