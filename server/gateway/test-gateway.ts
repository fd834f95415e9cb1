// The gateway app wired to a fake upstream `fetch`, shared by its unit tests.
import pino from 'pino';
import { RecordingTelemetry } from '../telemetry/telemetry.js';
import type { ProviderConfig } from '../config/config.js';
import { emptyProviderUsage } from '../domain/provider-usage.js';
import type { RunError } from '../domain/run-error.js';
import { GatewayAdmission } from './admission.js';
import { createGatewayApp } from './gateway-app.js';
import { GatewayTokens, type GatewayGrant } from './tokens.js';

export const provider: ProviderConfig = {
  name: 'openrouter',
  baseUrl: 'https://upstream.test/api/v1',
  keyEnv: 'UPSTREAM_KEY',
  wireApi: 'responses',
  headers: { 'X-Title': 'codex-runner' },
  queryParams: { 'api-version': '2025-01-01' },
  keyDelivery: 'gateway',
  egressNetwork: 'bridge',
};

export const completed = (tokens: number) =>
  `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { id: 'r', usage: { input_tokens: tokens, output_tokens: 0, total_tokens: tokens } } })}\n\n`;

export const limits = { maxRequestBytes: 4096, maxInflightPerRun: 2, maxBufferedBytesPerRun: 6000, maxBufferedBytesTotal: 10_000 };

export function setupGateway(
  answer: (req: Request) => Response | Promise<Response> = () => new Response(completed(100), { headers: { 'content-type': 'text/event-stream' } }),
  idleTimeoutMs = 240_000,
) {
  const tokens = new GatewayTokens();
  const seen: Request[] = [];
  const fakeFetch = (async (req: Request) => {
    seen.push(req);
    return answer(req);
  }) as typeof fetch;
  const admission = new GatewayAdmission(limits);
  const logged: { level: number; msg: string; [key: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const telemetry = new RecordingTelemetry();
  const app = createGatewayApp({ tokens, env: { UPSTREAM_KEY: 'sk-real' }, log, fetch: fakeFetch, admission, telemetry, upstreamIdleTimeoutMs: idleTimeoutMs });
  const ended: RunError[] = [];
  const grant = (extra: Partial<GatewayGrant> = {}): GatewayGrant => ({
    runId: 'r1',
    provider,
    model: 'm',
    budget: { maxRequests: 100, maxTokens: 1_000_000 },
    usage: emptyProviderUsage(),
    stopRun: (stop) => ended.push(stop.error),
    ...extra,
  });
  /** A request with `token`, arriving on the socket of the token's own run unless `socketRunId` names another. */
  const send = (token: string, path: string, init: RequestInit = {}, socketRunId = tokens.lookup(token)?.runId) =>
    app.request(path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } }, socketRunId === undefined ? undefined : { socketRunId });
  const post = (token: string, body: object = { model: 'm' }, path = '/v1/responses', headers: Record<string, string> = {}, socketRunId?: string) =>
    send(token, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, socketRunId ?? tokens.lookup(token)?.runId);
  /** A POST whose body the test feeds chunk by chunk (no Content-Length unless given). */
  const postStream = (token: string, headers: Record<string, string> = {}) => {
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
    const response = send(token, '/v1/responses', { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
    return { feed, response };
  };
  return { app, tokens, seen, ended, grant, send, post, postStream, admission, logged, telemetry };
}

