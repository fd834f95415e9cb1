// What a run says when its sandbox fails under it: out of memory, its relay killed, files it never
// serves. Real Docker, real Codex; the stand-in scripts the failure from inside the sandbox.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './fixtures/docker.js';
import { startHarness, type Harness } from './fixtures/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    providers: { standin: { request_max_retries: 0, stream_max_retries: 0 } },
    sandbox: { memory_mb: 256 },
  });
});
afterAll(async () => {
  await h?.close();
});

async function runToEnd(steps: Parameters<Harness['prompt']>[0]) {
  const res = await h.createRun({ prompt: h.prompt(steps), wait: true });
  expect(res.status).toBe(200);
  const run: any = await res.json();
  expect(await leftovers(`codex-runner.run-id=${run.id}`)).toEqual({ containers: 0, volumes: 0 });
  return run;
}

/** A shell loop over /proc: the image has no pgrep. */
const eachProcess = (comm: string, action: string) =>
  `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = ${comm} ] && ${action}; done`;

describe('a sandbox that fails under its run', () => {
  it('names running out of memory when the kernel killed Codex', async () => {
    // Codex is made the OOM killer's first choice (raising a score needs no privilege), then memory runs out.
    const hog = `${eachProcess('codex', 'echo 1000 > $p/oom_score_adj')}; head -c 2000M /dev/zero | tail > /dev/null`;
    const run = await runToEnd([{ exec: hog }, { message: 'unreachable' }]);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'out_of_memory', message: `the sandbox ran out of memory (256 MB): codex exited with code ${run.exit_code}` });
  });

  it('names the stopped sandbox when its gateway relay is killed', async () => {
    const run = await runToEnd([{ exec: eachProcess('socat', 'kill -9 ${p#/proc/}') }, { message: 'unreachable' }]);
    expect(run.status).toBe('failed');
    expect(run.error.code).toBe('sandbox_stopped');
    expect(run.error.message).toMatch(/^the sandbox stopped: its main process \(the gateway relay\) exited with code \d+$/);
  });

  it('keeps no diff or workspace file for a run that has neither', async () => {
    const run = await runToEnd([{ exec: eachProcess('socat', 'kill -9 ${p#/proc/}') }]);
    expect(run.status).toBe('failed');
    expect((await readdir(path.join(h.dataDir, 'runs', run.id))).sort()).toEqual(['events.jsonl']);
  });
});
