import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { buildCodexArgv, buildCodexConfigToml, CODEX_OUTPUT_SCHEMA_ENV, CODEX_OUTPUT_SCHEMA_FILE, CODEX_OUTPUT_SCHEMA_FILE_ENV, outputSchemaEnv } from './codex-invocation.js';

const provider = {
  name: 'openai via codex-runner',
  baseUrl: 'http://127.0.0.1:8089/v1',
  envKey: 'CODEX_RUNNER_GATEWAY_TOKEN',
  headers: {},
  queryParams: {},
};

describe('buildCodexConfigToml', () => {
  it('writes the provider as given: base URL, key variable, headers, query parameters and retries when set', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'gpt-5-codex', provider: { ...provider, headers: { 'X-Title': 'codex-runner' }, queryParams: { 'api-version': '1' }, requestMaxRetries: 0 } })) as any;
    expect(cfg.model).toBe('gpt-5-codex');
    const written = cfg.model_providers[cfg.model_provider];
    expect(written).toMatchObject({
      base_url: 'http://127.0.0.1:8089/v1',
      env_key: 'CODEX_RUNNER_GATEWAY_TOKEN',
      wire_api: 'responses',
      http_headers: { 'X-Title': 'codex-runner' },
      query_params: { 'api-version': '1' },
      request_max_retries: 0,
    });
    expect(written).not.toHaveProperty('stream_max_retries');
  });

  it('leaves headers and query parameters out when there are none', () => {
    const written = (parse(buildCodexConfigToml({ model: 'm', provider })) as any).model_providers['codex-runner'];
    expect(written).not.toHaveProperty('http_headers');
    expect(written).not.toHaveProperty('query_params');
  });

  it('escapes model names so they cannot inject TOML', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'x"\nmodel_provider = "evil', provider })) as any;
    expect(cfg.model).toBe('x"\nmodel_provider = "evil');
    expect(cfg.model_provider).toBe('codex-runner');
  });
});

describe('buildCodexArgv', () => {
  it('runs exec in JSON mode without approvals or analytics, and reads the prompt from stdin (last argument -)', () => {
    const argv = buildCodexArgv();
    expect(argv.slice(0, 2)).toEqual(['codex', 'exec']);
    expect(argv).toContain('--json');
    expect(argv).toContain('--dangerously-bypass-approvals-and-sandbox');
    expect(argv).toContain('analytics.enabled=false');
    expect(argv.at(-1)).toBe('-');
    // `-` is Codex's only positional argument: nothing after it, and no `--` that would make a later word a prompt.
    expect(argv).not.toContain('--');
  });

  it('passes an output schema file and images before -C, one --image=PATH each, the prompt still last', () => {
    const argv = buildCodexArgv({ outputSchemaFile: '/home/codex/.codex/output-schema.json', images: ['/tmp/codex-runner-images/01.png', '/tmp/codex-runner-images/02.gif'] });
    const at = argv.indexOf('--output-schema');
    expect(argv[at + 1]).toBe('/home/codex/.codex/output-schema.json');
    expect(argv.filter((a) => a.startsWith('--image'))).toEqual(['--image=/tmp/codex-runner-images/01.png', '--image=/tmp/codex-runner-images/02.gif']);
    expect(argv.indexOf('--image=/tmp/codex-runner-images/02.gif')).toBeLessThan(argv.indexOf('-C'));
    expect(argv.slice(-3)).toEqual(['-C', '/workspace', '-']);
  });

  it('adds neither without them', () => {
    expect(buildCodexArgv({}).some((a) => a.startsWith('--image') || a === '--output-schema')).toBe(false);
  });

  it('keeps the session (no --ephemeral): a follow-up resumes it', () => {
    expect(buildCodexArgv()).not.toContain('--ephemeral');
    expect(buildCodexArgv()).not.toContain('resume');
  });

  it('resumes a thread with the turn\'s own schema and images after `resume`, the thread id and the prompt last', () => {
    const argv = buildCodexArgv({ resumeThreadId: '01a23aaf-9428-7fb2-be50-a36e92776139', outputSchemaFile: '/s.json', images: ['/tmp/i/01.png'] });
    expect(argv.slice(argv.indexOf('-C'))).toEqual(['-C', '/workspace', 'resume', '--output-schema', '/s.json', '--image=/tmp/i/01.png', '01a23aaf-9428-7fb2-be50-a36e92776139', '-']);
    expect(argv.slice(0, argv.indexOf('resume'))).toContain('--dangerously-bypass-approvals-and-sandbox');
  });
});

describe('outputSchemaEnv', () => {
  it('gives the schema as JSON and the file the argv names', () => {
    expect(outputSchemaEnv({ type: 'object' })).toEqual([`${CODEX_OUTPUT_SCHEMA_ENV}={"type":"object"}`, `${CODEX_OUTPUT_SCHEMA_FILE_ENV}=${CODEX_OUTPUT_SCHEMA_FILE}`]);
  });
});
