import type { Config } from '../../config/config.js';
import { ApiError } from '../../http/api-error.js';

/** The name that runs with the server's default provider and model. */
export const DEFAULT_MODEL_NAME = 'codex';

export interface ModelChoice {
  provider?: string;
  model?: string;
}

/**
 * `codex` (the defaults), `codex/<provider>` (its default model) or `codex/<provider>/<model>`; the
 * model may itself hold slashes. Whether the tenant may use it is the planner's to say.
 */
export function parseModelName(name: string): ModelChoice {
  if (name === DEFAULT_MODEL_NAME) return {};
  const match = /^codex\/([^/]+)(?:\/(.+))?$/.exec(name);
  if (!match) {
    throw new ApiError('invalid_options', `model ${JSON.stringify(name.slice(0, 200))}: use "codex", "codex/<provider>" or "codex/<provider>/<model>" (GET /v1/models lists them)`);
  }
  return { provider: match[1], ...(match[2] ? { model: match[2] } : {}) };
}

/** The run's provider and model as a model name. */
export function modelName(provider: string, model: string): string {
  return `${DEFAULT_MODEL_NAME}/${provider}/${model}`;
}

/**
 * The names a tenant may ask for: `codex`, then for each of its providers `codex/<provider>` and,
 * when the provider lists its models, one name per model (any model goes otherwise, so none is listed).
 */
export function modelNames(config: Pick<Config, 'providers' | 'tenants'>, tenant: string): string[] {
  const allowed = config.tenants.find((t) => t.name === tenant)?.providers ?? Object.keys(config.providers);
  const names = [DEFAULT_MODEL_NAME];
  for (const provider of allowed) {
    names.push(`${DEFAULT_MODEL_NAME}/${provider}`);
    for (const model of config.providers[provider]?.models ?? []) names.push(modelName(provider, model));
  }
  return names;
}
