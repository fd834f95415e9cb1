// Follow-up turns on real Docker with the real Codex: a new run, in a new sandbox, from the parent's
// final workspace and Codex session (`codex exec resume`), which the stand-in sees as history.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from '../server/archive/test-tarballs.js';
import { startHarness, type Harness } from './fixtures/harness.js';

const TOKENS = { a: 'tok-follow-a-0123456789', b: 'tok-follow-b-0123456789' };
const sha = (token: string) => createHash('sha256').update(token).digest('hex');

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    tenants: [{ name: 'a', token_sha256: sha(TOKENS.a) }, { name: 'b', token_sha256: sha(TOKENS.b) }],
    environments: { broken: { setup: ['exit 3'] } },
  });
});
afterAll(async () => {
  await h?.close();
});

const asA = { token: TOKENS.a };
const json = (body: object) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function firstRun(steps: Parameters<Harness['prompt']>[0], text: string): Promise<any> {
  const form = new FormData();
  form.set('prompt', h.prompt(steps, text));
  form.set('workspace', new Blob([new Uint8Array(await makeTar([{ name: 'readme.txt', content: 'upload\n' }]))]), 'ws.tar');
  const res = await h.api('/v1/runs?wait=1', { method: 'POST', body: form, ...asA });
  expect(res.status).toBe(200);
  return res.json();
}

async function waitForEnd(id: string): Promise<any> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run: any = await (await h.api(`/v1/runs/${id}`, asA)).json();
    if (!['queued', 'running'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const requestsFor = (prompt: string) => h.standIn.requests.filter((r) => prompt.includes(`[stand-in:${r.script}]`));
const text = (value: unknown) => JSON.stringify(value);

describe('a follow-up of an ended run', () => {
  let first: any;
  let second: any;
  let secondPrompt: string;

  beforeAll(async () => {
    first = await firstRun([{ exec: 'echo one > first.txt' }, { message: 'wrote first.txt' }], 'write the first file');
    expect(first).toMatchObject({ status: 'succeeded', parent_id: null, root_id: null, resumable: true });
    secondPrompt = h.prompt([{ exec: 'echo two > second.txt && cat first.txt' }, { message: 'wrote second.txt' }], 'now the second file');
    const res = await h.api(`/v1/runs/${first.id}/follow-ups?wait=1`, { ...json({ prompt: secondPrompt }), ...asA });
    expect(res.status).toBe(200);
    second = await res.json();
  });

  it('resumes the parent\'s session: its upstream request carries the first turn\'s prompt and answer', () => {
    expect(second).toMatchObject({ status: 'succeeded', final_message: 'wrote second.txt', parent_id: first.id, root_id: first.id, resumable: true });
    const upstream = requestsFor(secondPrompt);
    expect(upstream).toHaveLength(2);
    const history = text((upstream[0]!.body as any).input);
    expect(history).toContain('write the first file');
    expect(history).toContain('wrote first.txt');
    expect(history).toContain('echo one > first.txt');
    expect(history.indexOf('write the first file')).toBeLessThan(history.indexOf('now the second file'));
  });

  it('starts from the parent\'s final workspace, in a sandbox of its own', async () => {
    const events = await (await h.api(`/v1/runs/${second.id}/events`, asA)).text();
    // `cat first.txt` in the follow-up's sandbox printed what the first run wrote.
    expect(events).toMatch(/"aggregated_output":"one\\n"/);
  });

  it('diffs against the parent\'s final tree; ?base=root against the first upload', async () => {
    const own = await (await h.api(`/v1/runs/${second.id}/diff`, asA)).text();
    expect(own).toContain('+++ b/second.txt');
    expect(own).not.toContain('first.txt');
    const root = await h.api(`/v1/runs/${second.id}/diff?base=root`, asA);
    expect(root.status).toBe(200);
    const cumulative = await root.text();
    expect(cumulative).toContain('+++ b/first.txt');
    expect(cumulative).toContain('+++ b/second.txt');
    expect(cumulative).not.toContain('readme.txt');
    // Made once, then served as kept.
    expect(await (await h.api(`/v1/runs/${second.id}/diff?base=root`, asA)).text()).toBe(cumulative);
    // A first run's diff is against its own upload either way.
    expect(await (await h.api(`/v1/runs/${first.id}/diff?base=root`, asA)).text()).toBe(await (await h.api(`/v1/runs/${first.id}/diff`, asA)).text());
  });

  it('counts its own usage, not the thread\'s from the first run on', () => {
    // Codex's counts are the thread's; what the gateway saw the provider report is this run's alone.
    expect(first.usage.input_tokens).toBe(first.provider_usage.input_tokens);
    expect(second.provider_usage.requests).toBe(2);
    expect(second.usage.input_tokens).toBeGreaterThan(0);
    expect(second.usage.input_tokens).toBe(second.provider_usage.input_tokens);
    expect(second.usage.output_tokens).toBe(second.provider_usage.output_tokens);
  });

  it('is itself resumable: a third turn sees both earlier ones, and ?base=root holds all three changes', async () => {
    const thirdPrompt = h.prompt([{ exec: 'echo three > third.txt' }, { message: 'wrote third.txt' }], 'and the third');
    const third: any = await (await h.api(`/v1/runs/${second.id}/follow-ups?wait=1`, { ...json({ prompt: thirdPrompt }), ...asA })).json();
    expect(third).toMatchObject({ status: 'succeeded', parent_id: second.id, root_id: first.id });
    const history = text((requestsFor(thirdPrompt)[0]!.body as any).input);
    expect(history).toContain('write the first file');
    expect(history).toContain('now the second file');
    const cumulative = await (await h.api(`/v1/runs/${third.id}/diff?base=root`, asA)).text();
    for (const file of ['first.txt', 'second.txt', 'third.txt']) expect(cumulative).toContain(`+++ b/${file}`);
  });

  it('takes the parent\'s provider and model, and options of its own', async () => {
    const res = await h.api(`/v1/runs/${first.id}/follow-ups`, { ...json({ prompt: h.prompt([{ message: 'ok' }]), options: { timeout_s: 120 } }), ...asA });
    expect(res.status).toBe(202);
    const run: any = await res.json();
    expect(run).toMatchObject({ provider: first.provider, model: first.model, timeout_s: 120, parent_id: first.id });
    expect((await waitForEnd(run.id)).status).toBe('succeeded');
  });
});

describe('follow-ups refused', () => {
  it('answers 404 for another tenant\'s run, as for one that does not exist', async () => {
    const first = await firstRun([{ message: 'done' }], 'a private run');
    const res = await h.api(`/v1/runs/${first.id}/follow-ups`, { ...json({ prompt: 'steal it' }), token: TOKENS.b });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found', message: `no run ${first.id}` } });
    expect((await h.api('/v1/runs/run_00000000000000000000/follow-ups', { ...json({ prompt: 'x' }), ...asA })).status).toBe(404);
  });

  it('answers 409 for a run that has not ended', async () => {
    const res = await h.api('/v1/runs', { ...json({ prompt: h.prompt([{ delayMs: 3000, then: { message: 'slow' } }]) }), ...asA });
    const running: any = await res.json();
    const refused = await h.api(`/v1/runs/${running.id}/follow-ups`, { ...json({ prompt: 'too soon' }), ...asA });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as any).error.code).toBe('run_not_finished');
    await waitForEnd(running.id);
  });

  it('answers 409 not_resumable for a run that ended before Codex started its session', async () => {
    const broken: any = await (await h.api('/v1/runs?wait=1', { ...json({ prompt: 'x', options: { environment: 'broken' } }), ...asA })).json();
    expect(broken).toMatchObject({ status: 'failed', error: { code: 'setup_failed' }, resumable: false });
    const refused = await h.api(`/v1/runs/${broken.id}/follow-ups`, { ...json({ prompt: 'go on' }), ...asA });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as any).error).toMatchObject({ code: 'not_resumable', message: `run ${broken.id} ended failed without a workspace: it cannot be followed up` });
  });

  it('continues a cancelled run from what it had done', async () => {
    const prompt = h.prompt([{ exec: 'echo partial > partial.txt' }, { delayMs: 30_000, then: { message: 'never' } }], 'a slow task');
    const slow: any = await (await h.api('/v1/runs', { ...json({ prompt }), ...asA })).json();
    const deadline = Date.now() + 60_000;
    while (requestsFor(prompt).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await h.api(`/v1/runs/${slow.id}/cancel`, { method: 'POST', ...asA });
    expect(await waitForEnd(slow.id)).toMatchObject({ status: 'cancelled', resumable: true });
    const goOn = h.prompt([{ exec: 'cat partial.txt' }, { message: 'picked up' }], 'go on');
    const next: any = await (await h.api(`/v1/runs/${slow.id}/follow-ups?wait=1`, { ...json({ prompt: goOn }), ...asA })).json();
    expect(next).toMatchObject({ status: 'succeeded', final_message: 'picked up', parent_id: slow.id });
    expect(text((requestsFor(goOn)[0]!.body as any).input)).toContain('a slow task');
  });

  it('refuses a workspace part with a 400: a follow-up starts from its parent\'s', async () => {
    const first = await firstRun([{ message: 'done' }], 'a run to follow');
    const form = new FormData();
    form.set('prompt', 'again');
    form.set('workspace', new Blob([new Uint8Array(await makeTar([{ name: 'x.txt', content: 'x' }]))]), 'ws.tar');
    const res = await h.api(`/v1/runs/${first.id}/follow-ups`, { method: 'POST', body: form, ...asA });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/send no workspace part/);
  });

  it('refuses an unknown diff base with a 400', async () => {
    const first = await firstRun([{ message: 'done' }], 'a run');
    const res = await h.api(`/v1/runs/${first.id}/diff?base=grandparent`, asA);
    expect(res.status).toBe(400);
  });
});
