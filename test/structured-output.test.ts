// A run given an output_schema, on real Docker with the real Codex: the schema reaches the provider
// as Codex's text.format, and the server holds Codex's final message to it.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './fixtures/harness.js';
import { verdictSchema } from './fixtures/verdict-schema.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const requestsOf = (prompt: string) => h.standIn.requests.filter((r) => prompt.includes(`[stand-in:${r.script}]`));

describe('a run with an output_schema', () => {
  it('returns output, the parsed final message, which validates against the schema', async () => {
    const answer = { verdict: 'fail', findings: ['greet.txt: "helo" is a typo'] };
    const prompt = h.prompt([{ exec: 'cat greet.txt' }, { message: JSON.stringify(answer) }], 'Review greet.txt');
    const res = await h.createRun({ prompt, options: { output_schema: verdictSchema }, wait: true });
    expect(res.status).toBe(200);
    const run: any = await res.json();
    expect(run).toMatchObject({ status: 'succeeded', error: null, final_message: JSON.stringify(answer), output: answer });
    const validate = new Ajv2020().compile(verdictSchema);
    expect(validate(run.output), JSON.stringify(validate.errors)).toBe(true);
    // The GET shows it too, from the stored record.
    expect(((await (await h.api(`/v1/runs/${run.id}`)).json()) as any).output).toEqual(answer);
  });

  it('sends the schema upstream as the text format of every request Codex makes', async () => {
    const prompt = h.prompt([{ exec: 'true' }, { message: '{"verdict":"pass","findings":[]}' }]);
    const run: any = await (await h.createRun({ prompt, options: { output_schema: verdictSchema }, wait: true })).json();
    expect(run.status).toBe('succeeded');
    const sent = requestsOf(prompt);
    expect(sent).toHaveLength(2);
    for (const request of sent) {
      expect((request.body as any).text.format).toMatchObject({ type: 'json_schema', strict: true, schema: verdictSchema });
    }
  });

  it('sends no text format for a run without one, and its output is null', async () => {
    const prompt = h.prompt([{ message: '{"verdict":"pass","findings":[]}' }]);
    const run: any = await (await h.createRun({ prompt, wait: true })).json();
    expect(run).toMatchObject({ status: 'succeeded', output: null });
    expect((requestsOf(prompt)[0]!.body as any).text?.format).toBeUndefined();
  });

  it('ends failed with output_invalid when the final message does not match, keeping the message', async () => {
    const prompt = h.prompt([{ message: '{"verdict":"maybe","findings":[]}' }]);
    const run: any = await (await h.createRun({ prompt, options: { output_schema: verdictSchema }, wait: true })).json();
    expect(run).toMatchObject({ status: 'failed', exit_code: 0, output: null, final_message: '{"verdict":"maybe","findings":[]}' });
    expect(run.error).toEqual({ code: 'output_invalid', message: expect.stringContaining('/verdict must be equal to one of the allowed values') });
  });

  it('ends failed with output_invalid when the final message is prose', async () => {
    const prompt = h.prompt([{ message: 'All good, nothing to report.' }]);
    const run: any = await (await h.createRun({ prompt, options: { output_schema: verdictSchema }, wait: true })).json();
    expect(run).toMatchObject({ status: 'failed', output: null, error: { code: 'output_invalid', message: expect.stringMatching(/^the final message is not JSON/) } });
  });

  it.each([
    ['a schema the meta-schema refuses', { type: 'object', properties: { verdict: { type: 'text' } } }, /not a valid JSON Schema/],
    ['a schema that is not an object', 'verdict', /a JSON Schema object is required/],
    ['a $ref outside the schema', { type: 'object', properties: { v: { $ref: 'https://127.0.0.1:1/v.json' } } }, /can't resolve reference/],
    ['a schema over limits.output_schema_max_kb', { type: 'object', description: 'x'.repeat(40 * 1024) }, /bytes as JSON; at most 32768/],
  ])('refuses %s with a 400 invalid_options, starting no run', async (_what, schema, message) => {
    const before = h.standIn.requests.length;
    const res = await h.createRun({ prompt: h.prompt([{ message: '{}' }]), options: { output_schema: schema } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_options', message: expect.stringMatching(message), request_id: expect.any(String) } });
    const runs = ((await (await h.api('/v1/runs?limit=100')).json()) as any).runs;
    expect(runs.every((r: any) => r.status !== 'queued' && r.status !== 'running')).toBe(true);
    expect(h.standIn.requests.length).toBe(before);
  });
});
