import { describe, expect, it } from 'vitest';
import { FORWARDED_REQUEST_HEADERS, upstreamHeaders, upstreamUrl } from './upstream-request.js';

describe('what goes upstream', () => {
  it('keeps only the headers Codex sends and adds the key and the provider headers', () => {
    const codex = Object.fromEntries(FORWARDED_REQUEST_HEADERS.map((h) => [h, `v-${h}`]));
    const incoming = new Headers({
      ...codex,
      authorization: 'Bearer crgw_token',
      cookie: 'session=1',
      'openai-organization': 'org-other',
      'openai-project': 'proj-other',
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-host': 'evil',
      'x-anything': '1',
      'openai-beta': 'assistants=v2',
      host: 'gateway',
    });
    const out = upstreamHeaders(incoming, { headers: { 'X-Title': 'codex-runner' } }, 'sk-real');
    expect(Object.fromEntries(out)).toEqual({ ...codex, authorization: 'Bearer sk-real', 'x-title': 'codex-runner' });
  });

  it('sends no authorization for a keyless provider, and lets a configured header set it', () => {
    expect(upstreamHeaders(new Headers({ authorization: 'Bearer crgw_x' }), { headers: {} }, undefined).get('authorization')).toBeNull();
    expect(upstreamHeaders(new Headers(), { headers: { Authorization: 'Basic b3A=' } }, 'sk').get('authorization')).toBe('Basic b3A=');
  });

  it('builds the URL from the base URL and the configured query parameters only', () => {
    expect(upstreamUrl({ baseUrl: 'https://up.test/api/v1', queryParams: { 'api-version': '2025-01-01' } }, '/responses').href).toBe(
      'https://up.test/api/v1/responses?api-version=2025-01-01',
    );
    expect(upstreamUrl({ baseUrl: 'https://up.test/v1', queryParams: {} }, '/responses').href).toBe('https://up.test/v1/responses');
  });
});
