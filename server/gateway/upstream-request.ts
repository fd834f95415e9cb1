import type { ProviderConfig } from '../config/config.js';

/**
 * The only request headers passed from the sandbox to the provider: what Codex 0.169.0 sends on
 * `POST /responses`, as captured from the real binary talking straight to the stand-in
 * (key_delivery = "env"): accept, authorization, content-length, content-type, host, originator,
 * session-id, thread-id, user-agent, x-client-request-id, x-codex-beta-features,
 * x-codex-turn-metadata, x-codex-window-id. Of these, authorization is replaced by the real key and
 * content-length and host are set by the HTTP client. Anything else the sandbox adds (Cookie,
 * OpenAI-Organization, OpenAI-Project, X-Forwarded-*, any X-…) could bill another organisation or
 * project the key reaches, or steer a proxy on the way, so it is dropped.
 */
export const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'content-type',
  'user-agent',
  'originator',
  'session-id',
  'thread-id',
  'x-client-request-id',
  'x-codex-beta-features',
  'x-codex-turn-metadata',
  'x-codex-window-id',
] as const;

/** The provider URL for `subpath`: its base URL and its configured query parameters, never the sandbox's. */
export function upstreamUrl(provider: Pick<ProviderConfig, 'baseUrl' | 'queryParams'>, subpath: string): URL {
  const url = new URL(provider.baseUrl + subpath);
  for (const [k, v] of Object.entries(provider.queryParams)) url.searchParams.set(k, v);
  return url;
}

/** The allow-listed headers of the sandbox's request, the real key, then the provider's own headers (the operator's word wins). */
export function upstreamHeaders(incoming: Headers, provider: Pick<ProviderConfig, 'headers'>, key: string | undefined): Headers {
  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = incoming.get(name);
    if (value !== null) headers.set(name, value);
  }
  if (key) headers.set('authorization', `Bearer ${key}`);
  for (const [k, v] of Object.entries(provider.headers)) headers.set(k, v);
  return headers;
}
