import { expectRunReleased } from './fixtures/released.js';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './fixtures/docker.js';
import { runEventSchema } from '../server/runs/run-wire.js';
import { readSse, startHarness, UPSTREAM_KEY, type Harness } from './fixtures/harness.js';
import { makeTar, readTarContents } from '../server/archive/test-tarballs.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const original = [
  { name: 'src/', type: 'directory' as const },
  { name: 'src/main.py', content: 'def main():\n    print("hello")\n' },
  { name: 'README.md', content: '# demo\n\nold line\n' },
  { name: 'obsolete.txt', content: 'remove me\n' },
  { name: 'link-to-readme', type: 'symlink' as const, linkname: 'README.md' },
];

describe('a run that edits and creates files', () => {
  let run: any;
  let diff: string;
  let workspace: Map<string, string>;

  beforeAll(async () => {
    const prompt = h.prompt([
      { exec: "sed -i 's/old line/new line/' README.md" },
      { exec: "printf 'def helper():\\n    return 42\\n' > src/helper.py && rm obsolete.txt" },
      { exec: "printf '\\x00\\x01binary' > data.bin" },
      { message: 'Edited README, added helper, removed obsolete.' },
    ]);
    const res = await h.createRun({ prompt, workspace: await makeTar(original, { gzip: true }), workspaceName: 'ws.tar.gz', wait: true });
    expect(res.status).toBe(200);
    run = await res.json();
    diff = await (await h.api(`/v1/runs/${run.id}/diff`)).text();
    const ws = await h.api(`/v1/runs/${run.id}/workspace`);
    expect(ws.headers.get('content-type')).toBe('application/gzip');
    workspace = await readTarContents(Buffer.from(await ws.arrayBuffer()));
  });

  it('ends succeeded with the final message, usage and a summary of changes', () => {
    expect(run).toMatchObject({ status: 'succeeded', exit_code: 0, error: null, final_message: 'Edited README, added helper, removed obsolete.' });
    expect(run.usage.input_tokens).toBeGreaterThan(0);
    expect(run.changes).toMatchObject({ files_changed: 4, insertions: 3, deletions: 2 });
    expect(run.changes.files.map((f: any) => f.path).sort()).toEqual(['README.md', 'data.bin', 'obsolete.txt', 'src/helper.py']);
    for (const key of ['created_at', 'started_at', 'finished_at']) expect(Date.parse(run[key])).not.toBeNaN();
  });

  it('returns a binary diff that git apply takes on the original tree', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'apply-'));
    try {
      const tarPath = path.join(dir, 'orig.tar');
      await writeFile(tarPath, await makeTar(original));
      const tree = path.join(dir, 'tree');
      execFileSync('mkdir', [tree]);
      execFileSync('tar', ['-xf', tarPath, '-C', tree]);
      await writeFile(path.join(dir, 'run.patch'), diff);
      execFileSync('git', ['apply', '--binary', path.join(dir, 'run.patch')], { cwd: tree });
      expect(await readFile(path.join(tree, 'README.md'), 'utf8')).toBe('# demo\n\nnew line\n');
      expect(await readFile(path.join(tree, 'src/helper.py'), 'utf8')).toBe('def helper():\n    return 42\n');
      expect(await readFile(path.join(tree, 'data.bin'))).toEqual(Buffer.from('\x00\x01binary', 'latin1'));
      await expect(readFile(path.join(tree, 'obsolete.txt'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('returns the edited workspace as a tar.gz with paths relative to its root', () => {
    expect(workspace.get('README.md')).toBe('# demo\n\nnew line\n');
    expect(workspace.get('src/helper.py')).toBe('def helper():\n    return 42\n');
    expect(workspace.get('src/main.py')).toBe('def main():\n    print("hello")\n');
    expect(workspace.get('link-to-readme')).toBe('-> README.md');
    expect(workspace.has('obsolete.txt')).toBe(false);
    expect([...workspace.keys()].some((k) => k.startsWith('workspace/') || k.startsWith('/'))).toBe(false);
  });

  it('returns the same workspace as a plain tar with ?format=tar, and refuses another format', async () => {
    const plain = await h.api(`/v1/runs/${run.id}/workspace?format=tar`);
    expect(plain.headers.get('content-type')).toBe('application/x-tar');
    expect(plain.headers.get('content-disposition')).toBe(`attachment; filename="${run.id}-workspace.tar"`);
    const bytes = Buffer.from(await plain.arrayBuffer());
    expect(bytes.subarray(0, 2)).not.toEqual(Buffer.from([0x1f, 0x8b]));
    expect(await readTarContents(bytes)).toEqual(workspace);
    const zip = await h.api(`/v1/runs/${run.id}/workspace?format=zip`);
    expect(zip.status).toBe(400);
    expect(await zip.json()).toMatchObject({ error: { code: 'bad_request', message: 'format "zip": "tar.gz" (the default) or "tar"' } });
  });

  it('leaves no container or volume behind', async () => {
    await expectRunReleased(run.id);
  });
});

describe('events', () => {
  it('streams every Codex event live, in order, between the lifecycle events, and replays them after the end', async () => {
    const prompt = h.prompt([{ exec: 'sleep 1; echo first' }, { exec: 'echo second' }, { message: 'ok' }]);
    const created = await h.createRun({ prompt });
    expect(created.status).toBe(202);
    const { id, status } = (await created.json()) as any;
    expect(['queued', 'running']).toContain(status);

    const live = await readSse(await h.api(`/v1/runs/${id}/events`));
    const types = live.map((e) => e.data.type);
    expect(types[0]).toBe('run.queued');
    expect(types).toContain('run.started');
    expect(types.at(-1)).toBe('run.succeeded');
    expect(types.indexOf('thread.started')).toBeGreaterThan(types.indexOf('run.started'));
    expect(types).toContain('turn.completed');
    const commands = live.filter((e) => e.data.type === 'item.completed' && e.data.item.type === 'command_execution');
    expect(commands.map((e) => e.data.item.aggregated_output.trim())).toEqual(['first', 'second']);
    expect(live.every((e, i) => Number(e.id) === i + 1)).toBe(true);
    expect(new Set(live.map((e) => e.event))).toEqual(new Set(['run', 'codex']));
    // Each event is what the wire's schema says (the schema an OpenAPI document is made from).
    for (const e of live) expect(runEventSchema.safeParse({ seq: Number(e.id), kind: e.event, data: e.data }).error).toBeUndefined();

    const replay = await readSse(await h.api(`/v1/runs/${id}/events`));
    expect(replay).toEqual(live);
    const resumed = await readSse(await h.api(`/v1/runs/${id}/events`, { headers: { 'last-event-id': '3' } }));
    expect(resumed).toEqual(live.slice(3));
  });

  it('reports the run to telemetry: queued, started, each phase, ended, and its gateway calls', async () => {
    const before = h.telemetry.events.length;
    const res = await h.createRun({ prompt: h.prompt([{ exec: 'echo hi' }, { message: 'ok' }]), wait: true });
    expect(res.status).toBe(200);
    // The removal is timed just after the answer.
    await expect.poll(() => h.telemetry.events.slice(before).some((e) => e.kind === 'runPhase' && e.labels.phase === 'remove'), { timeout: 30_000 }).toBe(true);
    const seen = h.telemetry.events.slice(before);
    expect(seen.filter((e) => e.kind === 'runQueued')).toHaveLength(1);
    expect(seen.filter((e) => e.kind === 'runStarted')).toHaveLength(1);
    const phases = seen.filter((e) => e.kind === 'runPhase').map((e) => e.labels.phase);
    expect(phases).toEqual(expect.arrayContaining(['access', 'start', 'codex', 'collect', 'remove']));
    expect(seen.filter((e) => e.kind === 'runEnded').map((e) => e.labels)).toEqual([{ tenant: 'default', provider: 'standin', status: 'succeeded', error: '' }]);
    expect(seen.filter((e) => e.kind === 'gatewayRequest').map((e) => e.labels.status)).toEqual(['200', '200']);
  });
});

describe('?wait=1', () => {
  it('answers 200 with the ended run, and without it 202 with the run as accepted', async () => {
    const waited = await h.createRun({ prompt: h.prompt([{ message: 'nothing to do' }]), wait: true });
    expect(waited.status).toBe(200);
    expect(await waited.json()).toMatchObject({ status: 'succeeded', final_message: 'nothing to do', changes: { files_changed: 0 } });

    const accepted = await h.createRun({ prompt: h.prompt([{ message: 'later' }]) });
    expect(accepted.status).toBe(202);
    const run: any = await accepted.json();
    expect(run.finished_at).toBeNull();
    expect((await h.waitForEnd(run.id)).status).toBe('succeeded');
  });
});

describe('the gateway', () => {
  it('sends the real key upstream while the sandbox only ever sees its run token', async () => {
    const prompt = h.prompt([{ exec: 'env; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"; ls -la /run/codex-runner' }, { message: 'dumped' }]);
    const run: any = await (await h.createRun({ prompt, wait: true })).json();
    expect(run.status).toBe('succeeded');
    const mine = h.standIn.requests.filter((r) => JSON.stringify(r.body).includes(prompt.slice(0, 30)));
    expect(mine.length).toBeGreaterThan(0);
    for (const r of mine) expect(r.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    const events = await readSse(await h.api(`/v1/runs/${run.id}/events`));
    const output = events.find((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')!.data.item.aggregated_output as string;
    expect(output).toContain('CODEX_RUNNER_GATEWAY_TOKEN=crgw_');
    expect(output).not.toContain(UPSTREAM_KEY);
  });
});
