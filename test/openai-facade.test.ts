// The OpenAI-compatible endpoint driven by the official `openai` client against a real server, real
// Docker and the real Codex binary (the stand-in plays the model).
import { createHash } from 'node:crypto';
import OpenAI, { APIError, NotFoundError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './fixtures/harness.js';
import { STAND_IN_MODEL } from './fixtures/responses-stand-in.js';
import { until } from './fixtures/until.js';

const TOKENS = { a: 'tok-openai-a-0123456789', b: 'tok-openai-b-0123456789' };
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

let h: Harness;
let client: OpenAI;
let other: OpenAI;
beforeAll(async () => {
  h = await startHarness({
    tenants: [
      { name: 'a', token_sha256: sha(TOKENS.a) },
      { name: 'b', token_sha256: sha(TOKENS.b) },
    ],
    providers: { standin: { models: [STAND_IN_MODEL] } },
    limits: { inline_workspace_max_mb: 1 },
  });
  // No retries: a test that sees a retry would otherwise pass on the second run.
  client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: TOKENS.a, maxRetries: 0 });
  other = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: TOKENS.b, maxRetries: 0 });
});
afterAll(async () => {
  await h?.close();
});

const asA = (pathname: string, init: RequestInit = {}) => h.api(pathname, { ...init, token: TOKENS.a });
const json = async (res: Promise<Response>): Promise<any> => (await res).json();
/** The extension field, which OpenAI's request type has no place for. */
type Extended = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming & { codex_runner?: unknown };

describe('POST /v1/chat/completions', () => {
  it('answers with the final message, usage from the run and the run id in the header and the body', async () => {
    const prompt = h.prompt([{ exec: 'echo hi > hello.txt' }, { message: 'Wrote hello.txt.' }]);
    const { data, response } = await client.chat.completions.create({ model: 'codex', messages: [{ role: 'system', content: 'ignored' }, { role: 'user', content: prompt }] }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Wrote hello.txt.' } });
    expect(data.model).toBe(`codex/standin/${STAND_IN_MODEL}`);
    const runId = response.headers.get('x-codex-runner-run-id');
    expect(runId).toMatch(/^run_[0-9a-f]{20}$/);
    expect((data as unknown as { codex_runner: { run_id: string } }).codex_runner.run_id).toBe(runId);

    const run = await json(asA(`/v1/runs/${runId}`));
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'Wrote hello.txt.' });
    expect(run.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage).toMatchObject({ prompt_tokens: run.usage.input_tokens, completion_tokens: run.usage.output_tokens, total_tokens: run.usage.input_tokens + run.usage.output_tokens });
    expect(await (await asA(`/v1/runs/${runId}/diff`)).text()).toContain('+hi');
  });

  it('streams progress as content deltas, then the final message, the finish and usage when asked', async () => {
    const prompt = h.prompt([{ exec: 'echo one > a.txt' }, { exec: 'echo two > b.txt' }, { message: 'Two files written.' }]);
    const { data: stream, response } = await client.chat.completions
      .create({ model: `codex/standin/${STAND_IN_MODEL}`, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: prompt }] })
      .withResponse();
    const runId = response.headers.get('x-codex-runner-run-id');
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === `chatcmpl-${runId}`)).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const lines = text.split('\n');
    expect(lines).toContain('$ echo one > a.txt');
    expect(lines).toContain('$ echo two > b.txt');
    expect(lines.indexOf('$ echo one > a.txt')).toBeLessThan(lines.indexOf('$ echo two > b.txt'));
    expect(text.endsWith('\n\nTwo files written.')).toBe(true);

    const finish = chunks.findIndex((c) => c.choices[0]?.finish_reason === 'stop');
    expect(finish).toBe(chunks.length - 2);
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    const run = await json(asA(`/v1/runs/${runId}`));
    expect(run.status).toBe('succeeded');
    expect(usage.usage).toMatchObject({ prompt_tokens: run.usage.input_tokens, completion_tokens: run.usage.output_tokens });
  });

  it('streams no usage chunk unless asked', async () => {
    const prompt = h.prompt([{ message: 'Nothing to do.' }]);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of await client.chat.completions.create({ model: 'codex', stream: true, messages: [{ role: 'user', content: prompt }] })) chunks.push(chunk);
    expect(chunks.at(-1)!.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Nothing to do.');
  });

  describe('workspaces', () => {
    let first: string;

    it('starts from the files given inline; the diff is fetched by the run id', async () => {
      const prompt = h.prompt([{ exec: 'sed -i s/one/two/ src/a.txt' }, { message: 'Changed one to two.' }]);
      const body: Extended = { model: 'codex', messages: [{ role: 'user', content: prompt }], codex_runner: { workspace: { files: { 'src/a.txt': 'one\n', 'keep.md': '# keep\n' } } } };
      const { data, response } = await client.chat.completions.create(body).withResponse();
      expect(data.choices[0]!.message.content).toBe('Changed one to two.');
      first = response.headers.get('x-codex-runner-run-id')!;
      const diff = await (await asA(`/v1/runs/${first}/diff`)).text();
      expect(diff).toContain('--- a/src/a.txt');
      expect(diff).toContain('-one');
      expect(diff).toContain('+two');
      expect(diff).not.toContain('keep.md');
    });

    it('starts from an earlier run of the same tenant: the diff is against that run end', async () => {
      const prompt = h.prompt([{ exec: 'cat src/a.txt > copy.txt' }, { message: 'Copied.' }]);
      const body: Extended = { model: 'codex', messages: [{ role: 'user', content: prompt }], codex_runner: { workspace: { from_run: first } } };
      const { response } = await client.chat.completions.create(body).withResponse();
      const diff = await (await asA(`/v1/runs/${response.headers.get('x-codex-runner-run-id')}/diff`)).text();
      expect(diff).toContain('+++ b/copy.txt');
      expect(diff).toContain('+two');
      expect(diff).not.toContain('src/a.txt');
    });

    it("answers 404 for another tenant's run, as for a missing one, and starts no run", async () => {
      const before = (await json(h.api('/v1/runs?limit=100', { token: TOKENS.b }))).runs.length;
      const body: Extended = { model: 'codex', messages: [{ role: 'user', content: 'x' }], codex_runner: { workspace: { from_run: first } } };
      const err = await other.chat.completions.create(body).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as APIError).error).toMatchObject({ code: 'not_found', message: `workspace.from_run: no run ${first}` });
      expect((await json(h.api('/v1/runs?limit=100', { token: TOKENS.b }))).runs.length).toBe(before);
    });

    it('refuses an inline path that escapes the workspace', async () => {
      const body: Extended = { model: 'codex', messages: [{ role: 'user', content: 'x' }], codex_runner: { workspace: { files: { '../escape.txt': 'x' } } } };
      const err = await client.chat.completions.create(body).catch((e: unknown) => e);
      expect((err as APIError).status).toBe(400);
      expect((err as APIError).error).toMatchObject({ code: 'workspace_invalid' });
    });
  });

  it('answers a bad request with the 400 envelope', async () => {
    const err = await client.chat.completions.create({ model: 'codex', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(400);
    expect((err as APIError).error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^body: messages/) });

    const raw = await asA('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ error: { code: 'bad_request', message: 'body is not valid JSON', request_id: expect.any(String) } });

    const model = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect((model as APIError).status).toBe(400);
    expect((model as APIError).error).toMatchObject({ code: 'invalid_options' });
  });

  it('refuses with 413 a body past inline_workspace_max_mb, which is read into memory, before any run', async () => {
    const before = ((await (await asA('/v1/runs')).json()) as any).runs.length;
    const files = { 'big.txt': 'x'.repeat(2 * 1024 * 1024) };
    const err = await client.chat.completions
      .create({ model: 'codex', messages: [{ role: 'user', content: 'x' }], codex_runner: { workspace: { files } } } as any)
      .catch((e: unknown) => e);
    expect((err as APIError).status).toBe(413);
    expect((err as APIError).error).toMatchObject({ code: 'payload_too_large' });
    expect(((await (await asA('/v1/runs')).json()) as any).runs.length).toBe(before);
  });

  it('answers a run that failed with 502, our envelope and no retry asked for', async () => {
    const prompt = h.prompt([{ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } }]);
    const res = await asA('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'codex', messages: [{ role: 'user', content: prompt }] }) });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const runId = res.headers.get('x-codex-runner-run-id');
    const body = await json(Promise.resolve(res));
    expect(body.error).toMatchObject({ code: 'run_failed', message: expect.stringContaining(`run ${runId} ended failed (provider_auth:`) });
  });

  it('answers a run that timed out with 504, its timeout_s taken from the extension field', async () => {
    const prompt = h.prompt([{ exec: 'sleep 60', yieldMs: 60_000 }, { message: 'never' }]);
    const body: Extended = { model: 'codex', messages: [{ role: 'user', content: prompt }], codex_runner: { timeout_s: 2 } };
    const err = await client.chat.completions.create(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(504);
    expect((err as APIError).error).toMatchObject({ code: 'run_timed_out', message: expect.stringMatching(/ended timed_out \(timeout:/) });
    const run = await json(asA(`/v1/runs/${(err as APIError).headers?.get('x-codex-runner-run-id')}`));
    expect(run).toMatchObject({ status: 'timed_out', timeout_s: 2 });
  });

  it('ends a stream whose run failed with an error event, which the client throws', async () => {
    const prompt = h.prompt([{ exec: 'echo started' }, { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } }]);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    const err = await (async () => {
      for await (const chunk of await client.chat.completions.create({ model: 'codex', stream: true, messages: [{ role: 'user', content: prompt }] })) chunks.push(chunk);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toMatch(/ended failed \(provider_auth:/);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('$ echo started\n');
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(false);
  });

  it('cancels the run when a streaming client goes away', async () => {
    const prompt = h.prompt([{ exec: 'sleep 60', yieldMs: 60_000 }, { message: 'never' }]);
    const abort = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'codex', stream: true, messages: [{ role: 'user', content: prompt }] }, { signal: abort.signal })
      .withResponse();
    const runId = response.headers.get('x-codex-runner-run-id');
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content?.includes('$ sleep 60')) break;
    }
    abort.abort();
    const run = await until('the run cancelled', async () => {
      const r = await json(asA(`/v1/runs/${runId}`));
      return r.status === 'cancelled' ? r : undefined;
    }, 30_000);
    expect(run.error.code).toBe('cancelled');
  });

  it('cancels the run when a waiting client goes away', async () => {
    const prompt = h.prompt([{ exec: 'sleep 60', yieldMs: 60_000 }, { message: 'never' }]);
    const abort = new AbortController();
    const answer = client.chat.completions.create({ model: 'codex', messages: [{ role: 'user', content: prompt }] }, { signal: abort.signal }).catch((e: unknown) => e);
    const runId = await until('the run running', async () => {
      const { runs } = await json(asA('/v1/runs?status=running'));
      return runs[0]?.id as string | undefined;
    }, 30_000);
    abort.abort();
    await answer;
    const run = await until('the run cancelled', async () => {
      const r = await json(asA(`/v1/runs/${runId}`));
      return r.status === 'cancelled' ? r : undefined;
    }, 30_000);
    expect(run.error.code).toBe('cancelled');
  });
});

describe('GET /v1/models', () => {
  it('lists what the tenant may ask for, through the client', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['codex', 'codex/standin', `codex/standin/${STAND_IN_MODEL}`]);
    expect((await client.models.retrieve(`codex/standin/${STAND_IN_MODEL}`)).owned_by).toBe('codex-runner');
  });

  it('is behind the bearer token', async () => {
    const res = await h.api('/v1/models', { token: 'wrong' });
    expect(res.status).toBe(401);
    expect((await json(Promise.resolve(res))).error.code).toBe('unauthorized');
  });
});
