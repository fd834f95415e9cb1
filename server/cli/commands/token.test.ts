import { createHash } from 'node:crypto';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { CliError } from '../exit-codes.js';
import { newToken, tokenText } from './token.js';

describe('token', () => {
  it('prints a TOML [[tenants]] block holding the sha256 of the token it names', () => {
    const token = newToken();
    const text = tokenText('ci', token);
    expect(text).toContain(token);
    const parsed = parse(text) as { tenants: { name: string; token_sha256: string }[] };
    expect(parsed.tenants).toEqual([{ name: 'ci', token_sha256: createHash('sha256').update(token).digest('hex') }]);
  });

  it('makes a different token each time', () => {
    expect(newToken()).not.toBe(newToken());
    expect(newToken()).toMatch(/^cr_[\w-]{32}$/);
  });

  it('refuses a tenant name the server would refuse', () => {
    expect(() => tokenText('Bad Name', newToken())).toThrow(CliError);
  });
});
