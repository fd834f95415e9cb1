import { expectRunReleased } from './fixtures/released.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseDecoder } from '../server/gateway/sse-events.js';
import { docker, leftovers } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

let h: Harness;
beforeAll(async () => {
  // No retries against the stand-in: each failure ends after one request instead of Codex's ~6 s of retries.
  h = await startHarness({
    providers: { standin: { request_max_retries: 0, stream_max_retries: 0 } },
  });
});
afterAll(async () => {
  await h?.close();
});

async function runToEnd(steps: Parameters<Harness['prompt']>[0], options?: object) {
  const res = await h.createRun({ prompt: h.prompt(steps), options, wait: true });
  expect(res.status).toBe(200);
  const run: any = await res.json();
  await expectRunReleased(run.id);
  return run;
}

async function waitForEvent(id: string, predicate: (data: any) => boolean): Promise<void> {
  const res = await h.api(`/v1/runs/${id}/events`);
  const reader = res.body!.getReader();
  const decoder = new SseDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('events ended before the awaited event');
      for (const { data } of decoder.push(value)) if (predicate(JSON.parse(data))) return;
    }
  } finally {
    await reader.cancel();
  }
}

describe('provider failures', () => {
  it('ends failed with a clear message when the provider answers 401', async () => {
    const run = await runToEnd([{ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } }]);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'provider_auth', message: 'provider standin rejected the key (HTTP 401): Incorrect API key provided' });
  });

  it('ends failed with Codex message when the provider keeps answering 429', async () => {
    const run = await runToEnd([{ status: 429, headers: { 'retry-after': '0' }, body: { error: { message: 'Rate limit reached', type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' } } }]);
    expect(run.status).toBe('failed');
    expect(run.error.code).toBe('codex_failed');
    expect(run.error.message).toMatch(/429/);
  });

  it('ends failed naming the provider when it cuts its stream mid-way', async () => {
    const run = await runToEnd([{ exec: 'echo started' }, { cutStream: true }]);
    expect(run.status).toBe('failed');
    expect(run.error.code).toBe('provider_error');
    expect(run.error.message).toMatch(/^provider standin broke off its answer/);
  });

  it('keeps the diff and workspace of a run that failed after editing', async () => {
    const run = await runToEnd([{ exec: 'echo partial > half.txt' }, { status: 500 }]);
    expect(run.status).toBe('failed');
    expect(run.changes.files_changed).toBe(1);
    expect(await (await h.api(`/v1/runs/${run.id}/diff`)).text()).toContain('+partial');
  });
});

describe('timeouts and cancels', () => {
  it('ends timed_out when the run exceeds timeout_s, keeps what its sandbox held, and removes its container', async () => {
    const started = Date.now();
    // Long enough for a loaded machine to start the sandbox and Codex and reach the first command.
    const run = await runToEnd([{ exec: 'echo partial > half.txt && sleep 60' }], { timeout_s: 8 });
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(run.status).toBe('timed_out');
    expect(run.error).toEqual({ code: 'timeout', message: 'run exceeded its timeout of 8 s' });
    // The partial diff and workspace, collected from the frozen sandbox under their own deadline.
    expect(run.artifact_problem).toMatch(/stopped before it ended/);
    expect(run.changes.files_changed).toBe(1);
    expect(await (await h.api(`/v1/runs/${run.id}/diff`)).text()).toContain('+partial');
    expect((await h.api(`/v1/runs/${run.id}/workspace`)).status).toBe(200);
  });

  it('cancels a running run: it ends cancelled and its container is removed', async () => {
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 60' }]) })).json();
    await waitForEvent(created.id, (e) => e.type === 'item.started' && e.item?.type === 'command_execution');
    const res = await h.api(`/v1/runs/${created.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    const run: any = await res.json();
    expect(run.status).toBe('cancelled');
    expect(run.error.code).toBe('cancelled');
    await expectRunReleased(created.id);
    const events = await readSse(await h.api(`/v1/runs/${created.id}/events`));
    expect(events.at(-1)!.data.type).toBe('run.cancelled');
    // A cancelled run keeps its events and what its sandbox held (nothing changed here: an empty diff).
    expect(events.some((e) => e.data.type === 'item.started')).toBe(true);
    expect(run.artifact_problem).toMatch(/stopped before it ended/);
    expect(await (await h.api(`/v1/runs/${created.id}/diff`)).text()).toBe('');
    // Cancelling again is harmless and changes nothing.
    expect((await (await h.api(`/v1/runs/${created.id}/cancel`, { method: 'POST' })).json()) as any).toMatchObject({ status: 'cancelled' });
  });
});

describe('crashes', () => {
  it('ends failed with the exit code when Codex itself dies mid-run', async () => {
    const killCodex = 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = codex ] && kill -9 ${p#/proc/}; done; sleep 5';
    const run = await runToEnd([{ exec: killCodex }]);
    expect(run.status).toBe('failed');
    expect(run.exit_code).not.toBe(0);
    expect(run.error.message).toMatch(/codex exited with code/);
  });

  it('ends failed and leaves nothing behind when the container is removed from outside mid-run', async () => {
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 60' }]) })).json();
    await waitForEvent(created.id, (e) => e.type === 'item.started');
    const [container] = await docker.listContainers({ filters: { label: [`codex-runner.run-id=${created.id}`] } });
    await docker.getContainer(container!.Id).remove({ force: true });
    const run = await h.waitForEnd(created.id, 30_000);
    expect(run.status).toBe('failed');
    await expectRunReleased(created.id);
  });
});

describe('the idle timeout', () => {
  let idle: Harness;
  beforeAll(async () => {
    idle = await startHarness({ limits: { idle_timeout_s: 3 } });
  });
  afterAll(async () => {
    await idle?.close();
  });

  it('ends a run whose Codex prints nothing for idle_timeout_s timed_out with idle_timeout, long before timeout_s', async () => {
    const started = Date.now();
    const res = await idle.createRun({ prompt: idle.prompt([{ exec: 'echo before > seen.txt && sleep 120' }]), options: { timeout_s: 300 }, wait: true });
    const run: any = await res.json();
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(run.status).toBe('timed_out');
    expect(run.error).toEqual({ code: 'idle_timeout', message: 'codex printed no event for 3 s' });
    expect(await (await idle.api(`/v1/runs/${run.id}/diff`)).text()).toContain('+before');
    await expectRunReleased(run.id);
  });

  it('lets a run that keeps printing go past idle_timeout_s', async () => {
    const res = await idle.createRun({ prompt: idle.prompt([{ exec: 'sleep 2' }, { exec: 'sleep 2' }, { exec: 'sleep 2' }, { message: 'done' }]), wait: true });
    const run: any = await res.json();
    expect(run.status).toBe('succeeded');
  });
});
