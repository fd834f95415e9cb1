import { proxy } from 'hono/proxy';
import type { Logger } from 'pino';
import { RunStop } from '../domain/run-error.js';
import { gatewayError } from './gateway-error.js';
import type { GatewayGrant } from './tokens.js';
import { UpstreamDeadline } from './upstream-deadline.js';
import { upstreamHeaders, upstreamUrl } from './upstream-request.js';

export interface ForwardInput {
  grant: GatewayGrant;
  /** The server's environment, where provider keys live (`key_env`). */
  env: Record<string, string | undefined>;
  fetch?: typeof fetch;
  log: Logger;
  /** The sandbox's request headers; only the allow-listed ones go on. */
  headers: Headers;
  /** Aborts the upstream call when the sandbox hangs up. */
  signal: AbortSignal;
  /** `gateway.upstream_idle_timeout_s`: how long the provider may send nothing, before its headers or mid-body. */
  idleTimeoutMs: number;
}

/** POSTs `body` upstream with the real key and maps failures Codex would only retry to the end of the run. */
export async function forward(input: ForwardInput, subpath: string, body: string): Promise<Response> {
  const { grant, log } = input;
  const { provider } = grant;
  const url = upstreamUrl(provider, subpath);
  const key = provider.keyEnv ? input.env[provider.keyEnv] : undefined;
  const idleS = input.idleTimeoutMs / 1000;
  const deadline = new UpstreamDeadline(input.idleTimeoutMs, (phase) =>
    phase === 'headers'
      ? `provider ${provider.name} did not answer within ${idleS} s (gateway.upstream_idle_timeout_s)`
      : `provider ${provider.name} sent nothing for ${idleS} s in the middle of its answer (gateway.upstream_idle_timeout_s)`,
  );
  // A provider that stays silent this long is stuck, not slow: the run ends naming it, instead of
  // Codex waiting out its own 300 s stream idle timeout on every retry.
  deadline.signal.addEventListener('abort', () => {
    const message = (deadline.signal.reason as Error).message;
    log.warn(message);
    grant.stopRun(new RunStop('failed', { code: 'provider_timeout', message }));
  });
  let response: Response;
  try {
    const signal = AbortSignal.any([input.signal, deadline.signal]);
    response = await deadline.headers(proxy(url, { method: 'POST', body, headers: upstreamHeaders(input.headers, provider, key), signal, customFetch: input.fetch }));
  } catch (err) {
    // The sandbox hung up first: not the provider's failure, and nobody is left to answer.
    if (input.signal.aborted) return gatewayError('bad_request', 'the client closed the request');
    if (deadline.expired) return gatewayError('gateway_timeout', (deadline.signal.reason as Error).message);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const message = `provider ${provider.name} is unreachable at ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
    log.warn({ err: (err as Error).message }, message);
    grant.stopRun(new RunStop('failed', { code: 'provider_unreachable', message }));
    return gatewayError('bad_gateway', message);
  }
  if (response.body) response = new Response(deadline.watch(response.body), response);
  if (response.status === 401 || response.status === 403) {
    const detail = (await response.text().catch(() => '')).slice(0, 2000);
    const message = `provider ${provider.name} rejected the key (HTTP ${response.status})${upstreamMessage(detail)}`;
    log.warn({ status: response.status }, message);
    grant.stopRun(new RunStop('failed', { code: 'provider_auth', message }));
    return new Response(detail, response);
  }
  if (!response.ok) log.warn({ status: response.status, retryAfter: response.headers.get('retry-after') }, 'provider answered an error');
  return response;
}

function upstreamMessage(body: string): string {
  try {
    const message = JSON.parse(body)?.error?.message;
    return typeof message === 'string' && message ? `: ${message.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
