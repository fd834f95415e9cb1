// The MCP server at /mcp, driven by the SDK's own client over Streamable HTTP, against real Docker
// and the real Codex binary (the stand-in plays the model).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRunReleased } from './fixtures/released.js';
import { startHarness, type Harness } from './fixtures/harness.js';

const TOKENS = { a: 'tok-mcp-tenant-a', b: 'tok-mcp-tenant-b' } as const;
type Tenant = keyof typeof TOKENS;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const CALL = { timeout: 90_000 };

let h: Harness;
const clients: Client[] = [];

async function connect(tenant: Tenant): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', h.url), { requestInit: { headers: { authorization: `Bearer ${TOKENS[tenant]}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const text = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
const rest = (pathname: string, tenant: Tenant = 'a') => h.api(pathname, { token: TOKENS[tenant] });

beforeAll(async () => {
  h = await startHarness({
    tenants: [{ name: 'a', token_sha256: sha(TOKENS.a) }, { name: 'b', token_sha256: sha(TOKENS.b) }],
    // Bounds an MCP body with its inline files: 1 MiB plus the prompt and some room.
    limits: { inline_workspace_max_mb: 1 },
  });
});
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await h?.close();
});

describe('the MCP server', () => {
  let a: Client;
  let first: CallToolResult;
  let firstRunId: string;
  const progress: Progress[] = [];

  beforeAll(async () => {
    a = await connect('a');
    const prompt = h.prompt([
      { exec: "sed -i 's/old line/new line/' README.md" },
      { exec: "printf 'print(42)\\n' > src/answer.py" },
      { message: 'Edited the README and added answer.py.' },
    ]);
    first = (await a.callTool(
      { name: 'codex_run', arguments: { prompt, workspace: { files: { 'README.md': '# demo\n\nold line\n', 'src/main.py': 'print("hi")\n' } } } },
      undefined,
      { ...CALL, onprogress: (p) => progress.push(p) },
    )) as CallToolResult;
    firstRunId = (first.structuredContent as { run_id: string }).run_id;
  });

  it('lists codex_run, codex_run_status, codex_run_diff and codex_run_cancel with their input and output schemas', async () => {
    const { tools } = await a.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['codex_run', 'codex_run_cancel', 'codex_run_diff', 'codex_run_status']);
    const run = tools.find((t) => t.name === 'codex_run')!;
    expect(run.inputSchema.required).toEqual(['prompt']);
    expect(Object.keys(run.inputSchema.properties ?? {}).sort()).toEqual(['continue_run', 'model', 'prompt', 'provider', 'timeout_s', 'workspace']);
    expect(run.outputSchema?.properties).toHaveProperty('diff');
    expect(tools.find((t) => t.name === 'codex_run_status')!.annotations?.readOnlyHint).toBe(true);
  });

  it('codex_run on a files workspace returns the final message, the diff with the edit and the run id', () => {
    expect(first.isError).toBeFalsy();
    expect(first.structuredContent).toMatchObject({
      run_id: expect.stringMatching(/^run_[0-9a-f]{20}$/),
      status: 'succeeded',
      final_message: 'Edited the README and added answer.py.',
      error: null,
      changes: { files_changed: 2, insertions: 2, deletions: 1 },
      diff_truncated: false,
      diff_next_offset: null,
    });
    const diff = (first.structuredContent as { diff: string }).diff;
    expect(diff).toContain('-old line\n+new line');
    expect(diff).toContain('+++ b/src/answer.py');
    expect(text(first)).toContain('Edited the README and added answer.py.');
    expect(text(first)).toContain('+new line');
  });

  it('sends a progress notification per step while the run goes: its id first, then each command', () => {
    const messages = progress.map((p) => p.message);
    expect(messages.slice(0, 2)).toEqual([`run ${firstRunId} queued`, `run ${firstRunId} started`]);
    expect(messages.some((m) => m?.includes("sed -i 's/old line/new line/' README.md"))).toBe(true);
    expect(messages.some((m) => m?.includes('src/answer.py'))).toBe(true);
    expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));
  });

  it("codex_run_status gives the run's record as GET /v1/runs/{id} does", async () => {
    const status = (await a.callTool({ name: 'codex_run_status', arguments: { run_id: firstRunId } })) as CallToolResult;
    const viaRest = await (await rest(`/v1/runs/${firstRunId}`)).json();
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent).toEqual(viaRest);
    expect(text(status)).toMatch(new RegExp(`^run ${firstRunId} is succeeded`));
  });

  it('codex_run_diff gives the same diff as GET /v1/runs/{id}/diff', async () => {
    const diff = (await a.callTool({ name: 'codex_run_diff', arguments: { run_id: firstRunId } })) as CallToolResult;
    const viaRest = await (await rest(`/v1/runs/${firstRunId}/diff`)).text();
    expect(diff.structuredContent).toEqual({ run_id: firstRunId, diff: viaRest, offset: 0, next_offset: null });
    expect(text(diff)).toBe(viaRest);
    const past = (await a.callTool({ name: 'codex_run_diff', arguments: { run_id: firstRunId, offset: 1 << 20 } })) as CallToolResult;
    expect(past.structuredContent).toMatchObject({ diff: '', next_offset: null });
  });

  it("codex_run from a run id starts from that run's final workspace", async () => {
    const prompt = h.prompt([{ exec: "sed -i 's/new line/newer line/' README.md && test -f src/answer.py" }, { message: 'Again.' }]);
    const second = (await a.callTool({ name: 'codex_run', arguments: { prompt, workspace: { from_run: firstRunId } } }, undefined, CALL)) as CallToolResult;
    expect(second.structuredContent).toMatchObject({ status: 'succeeded', final_message: 'Again.', changes: { files_changed: 1 } });
    expect((second.structuredContent as { diff: string }).diff).toContain('-new line\n+newer line');
    await expectRunReleased((second.structuredContent as { run_id: string }).run_id);
  });

  it('codex_run with continue_run is a follow-up turn: Codex sees the first run\'s conversation, the diff is this turn\'s', async () => {
    const prompt = h.prompt([{ exec: 'cat src/answer.py' }, { message: 'It prints 42.' }], 'what does answer.py print?');
    const turn = (await a.callTool({ name: 'codex_run', arguments: { prompt, continue_run: firstRunId } }, undefined, CALL)) as CallToolResult;
    expect(turn.structuredContent).toMatchObject({ status: 'succeeded', final_message: 'It prints 42.' });
    const history = JSON.stringify(h.standIn.requests.filter((r) => prompt.includes(`[stand-in:${r.script}]`))[0]!.body);
    expect(history).toContain('Edited the README and added answer.py.');
    const id = (turn.structuredContent as { run_id: string }).run_id;
    expect(await (await rest(`/v1/runs/${id}`)).json()).toMatchObject({ parent_id: firstRunId, root_id: firstRunId });
    await expectRunReleased(id);
    const both = (await a.callTool({ name: 'codex_run', arguments: { prompt: 'x', continue_run: firstRunId, workspace: { files: {} } } })) as CallToolResult;
    expect(both).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^bad_request: continue_run starts from/) }] });
  });

  it("a run that fails is an error result carrying the run's error", async () => {
    const prompt = h.prompt([{ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } }]);
    const failed = (await a.callTool({ name: 'codex_run', arguments: { prompt } }, undefined, CALL)) as CallToolResult;
    expect(failed.isError).toBe(true);
    expect(failed.structuredContent).toMatchObject({
      status: 'failed',
      error: { code: 'provider_auth', message: 'provider standin rejected the key (HTTP 401): Incorrect API key provided' },
    });
    expect(text(failed)).toContain('provider_auth');
  });

  it('refuses bad arguments as the REST API does: an unknown provider, a workspace path that escapes', async () => {
    const provider = (await a.callTool({ name: 'codex_run', arguments: { prompt: 'x', provider: 'nope' } })) as CallToolResult;
    expect(provider).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^invalid_options: unknown provider "nope"/) }] });
    const escape = (await a.callTool({ name: 'codex_run', arguments: { prompt: 'x', workspace: { files: { '../evil': 'x' } } } })) as CallToolResult;
    expect(escape).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^workspace_invalid: /) }] });
    const missing = (await a.callTool({ name: 'codex_run', arguments: { workspace: { files: {} } } })) as CallToolResult;
    expect(missing).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/prompt/) }] });
  });

  it("answers another tenant's run id as not found, in every tool", async () => {
    const b = await connect('b');
    for (const name of ['codex_run_status', 'codex_run_diff', 'codex_run_cancel']) {
      const result = (await b.callTool({ name, arguments: { run_id: firstRunId } })) as CallToolResult;
      expect(result).toEqual({ content: [{ type: 'text', text: `not_found: no run ${firstRunId}` }], isError: true });
    }
    const from = (await b.callTool({ name: 'codex_run', arguments: { prompt: 'x', workspace: { from_run: firstRunId } } })) as CallToolResult;
    expect(from).toMatchObject({ isError: true, content: [{ type: 'text', text: `not_found: workspace.from_run: no run ${firstRunId}` }] });
    const turn = (await b.callTool({ name: 'codex_run', arguments: { prompt: 'x', continue_run: firstRunId } })) as CallToolResult;
    expect(turn).toMatchObject({ isError: true, content: [{ type: 'text', text: `not_found: no run ${firstRunId}` }] });
    expect(((await (await rest('/v1/runs?limit=100', 'b')).json()) as { runs: unknown[] }).runs).toEqual([]);
    expect(((await (await rest(`/v1/runs/${firstRunId}`)).json()) as { status: string }).status).toBe('succeeded');
  });

  it('cancels the run when the client goes away during codex_run', async () => {
    const client = await connect('a');
    const prompt = h.prompt([{ exec: 'sleep 60' }, { message: 'never' }]);
    let runId: string | undefined;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const call = client.callTool({ name: 'codex_run', arguments: { prompt } }, undefined, {
      ...CALL,
      onprogress: (p) => {
        runId ??= /^run (run_\w+) queued$/.exec(p.message ?? '')?.[1];
        if (p.message?.includes('sleep 60')) started();
      },
    });
    call.catch(() => {});
    await running;
    await client.close();
    await expect
      .poll(async () => (await rest(`/v1/runs/${runId}`)).json(), { timeout: 30_000, interval: 100 })
      .toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    await expectRunReleased(runId!);
  });

  it("codex_run_cancel cancels a run another call is waiting for; that call's result is the cancelled run", async () => {
    const prompt = h.prompt([{ exec: 'sleep 60' }, { message: 'never' }]);
    let runId: string | undefined;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const call = a.callTool({ name: 'codex_run', arguments: { prompt } }, undefined, {
      ...CALL,
      onprogress: (p) => {
        runId ??= /^run (run_\w+) queued$/.exec(p.message ?? '')?.[1];
        if (p.message?.includes('sleep 60')) started();
      },
    });
    await running;
    const cancel = (await a.callTool({ name: 'codex_run_cancel', arguments: { run_id: runId! } })) as CallToolResult;
    expect(cancel.structuredContent).toMatchObject({ id: runId, status: 'cancelled', error: { code: 'cancelled' } });
    const result = (await call) as CallToolResult;
    expect(result).toMatchObject({ isError: true, structuredContent: { run_id: runId, status: 'cancelled', error: { code: 'cancelled' } } });
    await expectRunReleased(runId!);
  });
});

describe("the README's MCP client config", () => {
  it('connects as written, its ${VAR}s filled in as a client does, and runs codex_run', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const at = readme.indexOf('<!-- readme-example: mcp-config -->');
    expect(at).toBeGreaterThan(0);
    const block = /```json\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
    const env: Record<string, string> = { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: TOKENS.a };
    const expand = (value: string) => value.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? '');
    const server = JSON.parse(block).mcpServers['codex-runner'] as { type: string; url: string; headers: Record<string, string> };
    expect(server.type).toBe('http');
    const headers = Object.fromEntries(Object.entries(server.headers).map(([k, v]) => [k, expand(v)]));
    const client = new Client({ name: 'readme-config', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(expand(server.url)), { requestInit: { headers } }));
    clients.push(client);
    const prompt = h.prompt([{ exec: "printf 'hello\\n' > hello.txt" }, { message: 'Wrote hello.txt.' }]);
    const result = (await client.callTool({ name: 'codex_run', arguments: { prompt } }, undefined, CALL)) as CallToolResult;
    expect(result.structuredContent).toMatchObject({ status: 'succeeded', final_message: 'Wrote hello.txt.', diff: expect.stringContaining('+hello') });
  });
});

describe('the /mcp endpoint', () => {
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  it('answers a request with no token or a wrong one 401 in the JSON envelope, and the SDK client fails to connect', async () => {
    for (const token of [null, 'wrong']) {
      const res = await h.api('/mcp', { method: 'POST', token, headers: mcpHeaders, body: JSON.stringify(initialize) });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const client = new Client({ name: 'no-token', version: '1' });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL('/mcp', h.url)))).rejects.toThrow(/401|unauthorized/i);
  });

  it('answers GET and DELETE 405 (it keeps no sessions), bad JSON 400 and a wrong Accept 406, all in the envelope', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await h.api('/mcp', { method, token: TOKENS.a });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
    }
    const bad = await h.api('/mcp', { method: 'POST', token: TOKENS.a, headers: mcpHeaders, body: '{not json' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(/Parse error/) } });
    const accept = await h.api('/mcp', { method: 'POST', token: TOKENS.a, headers: { 'content-type': 'application/json', accept: 'text/html' }, body: JSON.stringify(initialize) });
    expect(accept.status).toBe(406);
    expect(await accept.json()).toMatchObject({ error: { code: 'not_acceptable' } });
  });

  it('refuses a body past limits.inline_workspace_max_mb 413 in the envelope', async () => {
    const files = { 'big.txt': 'x'.repeat(2 * 1024 * 1024) };
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'codex_run', arguments: { prompt: 'x', workspace: { files } } } };
    const res = await h.api('/mcp', { method: 'POST', token: TOKENS.a, headers: mcpHeaders, body: JSON.stringify(call) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });
});
