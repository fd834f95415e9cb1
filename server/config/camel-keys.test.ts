import { describe, expect, expectTypeOf, it } from 'vitest';
import { camelCase, camelKeys } from './camel-keys.js';

describe('camelKeys', () => {
  it('camelCases each word after an underscore, digits too', () => {
    expect(camelCase('max_buffered_mb_per_run')).toBe('maxBufferedMbPerRun');
    expect(camelCase('token_sha256')).toBe('tokenSha256');
    expect(camelCase('image')).toBe('image');
  });

  it('renames only the object’s own keys, leaving nested tables as written', () => {
    const out = camelKeys({ query_params: { api_version: '1' }, key_env: undefined, cpus: 2 });
    expect(out).toEqual({ queryParams: { api_version: '1' }, cpus: 2 });
    expect(Object.keys(out)).toEqual(['queryParams', 'keyEnv', 'cpus']);
    expectTypeOf(out).toEqualTypeOf<{ queryParams: { api_version: string }; keyEnv: undefined; cpus: number }>();
  });

  it('keeps a key optional when it was', () => {
    expectTypeOf(camelKeys({} as { run_max_tokens?: number })).toEqualTypeOf<{ runMaxTokens?: number }>();
  });
});
