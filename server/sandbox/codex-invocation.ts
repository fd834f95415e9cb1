import { stringify } from 'smol-toml';
import { CODEX_HOME, WORKSPACE_DIR } from './driver.js';

/** The provider name Codex sees, whoever serves it: the gateway, or the provider itself. */
const CODEX_PROVIDER_ID = 'codex-runner';

/** How Codex in the sandbox reaches its model provider; the run's provider access decides it. */
export interface CodexProvider {
  name: string;
  /** As Codex sees it from inside the sandbox. */
  baseUrl: string;
  /** The variable Codex reads its bearer token from. */
  envKey: string;
  headers: Record<string, string>;
  queryParams: Record<string, string>;
  requestMaxRetries?: number;
  streamMaxRetries?: number;
}

/** Codex's positional prompt that means "read the prompt from stdin" (`codex exec --help`). */
const PROMPT_FROM_STDIN = '-';

/** Codex's config.toml for a run. */
export function buildCodexConfigToml(input: { model: string; provider: CodexProvider }): string {
  const { provider } = input;
  return stringify({
    model: input.model,
    model_provider: CODEX_PROVIDER_ID,
    model_providers: {
      [CODEX_PROVIDER_ID]: {
        name: provider.name,
        base_url: provider.baseUrl,
        env_key: provider.envKey,
        wire_api: 'responses',
        ...(Object.keys(provider.headers).length ? { http_headers: provider.headers } : {}),
        ...(Object.keys(provider.queryParams).length ? { query_params: provider.queryParams } : {}),
        ...(provider.requestMaxRetries !== undefined ? { request_max_retries: provider.requestMaxRetries } : {}),
        ...(provider.streamMaxRetries !== undefined ? { stream_max_retries: provider.streamMaxRetries } : {}),
      },
    },
  });
}

/** The image's launcher (`sandbox-image/bin/codex-runner-codex`): writes the config in CODEX_CONFIG_ENV, then execs Codex's argv. */
export const CODEX_LAUNCHER = 'codex-runner-codex';
export const CODEX_CONFIG_ENV = 'CODEX_RUNNER_CONFIG_TOML';
/** The relay's port inside the sandbox: the launcher waits until it listens. */
export const CODEX_RELAY_PORT_ENV = 'CODEX_RUNNER_RELAY_PORT';
/** The run's output schema, which the launcher writes to the file named in the second (`--output-schema`'s). */
export const CODEX_OUTPUT_SCHEMA_ENV = 'CODEX_RUNNER_OUTPUT_SCHEMA';
export const CODEX_OUTPUT_SCHEMA_FILE_ENV = 'CODEX_RUNNER_OUTPUT_SCHEMA_FILE';
/** In $CODEX_HOME, the sandbox's tmpfs for Codex's own files: outside the workspace and its diff. */
export const CODEX_OUTPUT_SCHEMA_FILE = `${CODEX_HOME}/output-schema.json`;

/** What the launcher needs to write a run's output schema where the argv's `--output-schema` points. */
export function outputSchemaEnv(schema: Record<string, unknown>): string[] {
  return [`${CODEX_OUTPUT_SCHEMA_ENV}=${JSON.stringify(schema)}`, `${CODEX_OUTPUT_SCHEMA_FILE_ENV}=${CODEX_OUTPUT_SCHEMA_FILE}`];
}

/** What a run adds to Codex's argv: its output schema's file, its images' paths in the sandbox, the session it resumes. */
export interface CodexInputs {
  outputSchemaFile?: string;
  images?: string[];
  /** A follow-up's: the thread (`thread.started`'s id) whose session file was put in $CODEX_HOME/sessions. */
  resumeThreadId?: string;
}

/**
 * Codex's argv. The prompt is not in it: an argv is readable by anyone on the host (`ps`,
 * /proc/PID/cmdline) and stays in the engine's exec record (`docker exec` inspect). The last
 * argument `-` makes Codex read the whole prompt from its stdin, which the caller writes and closes.
 */
export function buildCodexArgv(inputs: CodexInputs = {}): string[] {
  const turnInputs = [
    // Codex sends it upstream as the strict json_schema text format; the server checks the answer.
    ...(inputs.outputSchemaFile ? ['--output-schema', inputs.outputSchemaFile] : []),
    // One value per flag, written --image=PATH: `--image PATH` takes several values and would take
    // the arguments after it for more images, up to the next option.
    ...(inputs.images ?? []).map((image) => `--image=${image}`),
  ];
  return [
    'codex',
    'exec',
    '--json',
    '--skip-git-repo-check',
    // Codex's own bubblewrap sandbox cannot create namespaces in a container; the container is the sandbox.
    '--dangerously-bypass-approvals-and-sandbox',
    // Without this Codex stalls ~5 s at exit trying to flush analytics with no network.
    '-c',
    'analytics.enabled=false',
    // At startup Codex syncs plugins from github.com and chatgpt.com: traffic that is not the run's
    // provider, and that a sandbox with egress would otherwise send.
    '-c',
    'features.plugins=false',
    '-c',
    'features.remote_plugin=false',
    // Not --ephemeral: the session file (the rollout) is the run's artifact, which a follow-up resumes.
    ...(inputs.resumeThreadId ? [] : turnInputs),
    '-C',
    WORKSPACE_DIR,
    // `resume` takes the turn's own inputs after it, then the thread; exec's flags stay before it.
    ...(inputs.resumeThreadId ? ['resume', ...turnInputs, inputs.resumeThreadId] : []),
    // The prompt comes on stdin, so one starting with "-" is never taken for an option.
    PROMPT_FROM_STDIN,
  ];
}
