import { describe, expect, it } from 'vitest';
import type { Config } from '../../config/config.js';
import { ApiError } from '../../http/api-error.js';
import { modelNames, parseModelName } from './model-names.js';

const config = {
  providers: { openai: { models: ['gpt-5', 'o4-mini'] }, local: {} },
  tenants: [{ name: 'limited', providers: ['local'] }],
} as unknown as Pick<Config, 'providers' | 'tenants'>;

describe('parseModelName', () => {
  it('maps codex to the defaults, a provider alone to its default model, and a model with slashes', () => {
    expect(parseModelName('codex')).toEqual({});
    expect(parseModelName('codex/openai')).toEqual({ provider: 'openai' });
    expect(parseModelName('codex/openai/gpt-5')).toEqual({ provider: 'openai', model: 'gpt-5' });
    expect(parseModelName('codex/or/meta/llama-3')).toEqual({ provider: 'or', model: 'meta/llama-3' });
  });

  it('refuses a name that is not one of ours as invalid options', () => {
    for (const name of ['gpt-4o', 'codex/', 'codexx', 'codex//m']) {
      const err = (() => {
        try {
          parseModelName(name);
        } catch (e) {
          return e;
        }
      })();
      expect(err, name).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
    }
  });
});

describe('modelNames', () => {
  it('lists codex, each provider and each listed model for a tenant with every provider', () => {
    expect(modelNames(config, 'default')).toEqual(['codex', 'codex/openai', 'codex/openai/gpt-5', 'codex/openai/o4-mini', 'codex/local']);
  });

  it('lists only the providers a tenant may use', () => {
    expect(modelNames(config, 'limited')).toEqual(['codex', 'codex/local']);
  });
});
