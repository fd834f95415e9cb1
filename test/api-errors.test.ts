import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './fixtures/docker.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { makeTar, type TarEntry } from '../server/archive/test-tarballs.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ sandbox: { workspace_mb: 1 }, limits: { workspace_max_entries: 20 } });
});
afterAll(async () => {
  await h?.close();
});

async function expectError(res: Response, status: number, code: string, message?: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body: any = await res.json();
  expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
}

describe('authentication', () => {
  it('answers 401 without a token, with a wrong token, and with a malformed header', async () => {
    await expectError(await h.api('/v1/runs/run_x', { token: null }), 401, 'unauthorized', /missing bearer token/);
    await expectError(await h.api('/v1/runs/run_x', { token: 'wrong' }), 401, 'unauthorized', /invalid bearer token/);
    await expectError(await h.api('/v1/runs/run_x', { token: null, headers: { authorization: 'Basic abc' } }), 401, 'unauthorized');
    await expectError(await h.api('/v1/runs', { method: 'POST', token: 'wrong' }), 401, 'unauthorized');
  });

  it('serves health without a token', async () => {
    expect((await h.api('/healthz', { token: null })).status).toBe(200);
    const ready = await h.api('/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as any).status).toBe('ready');
  });
});

describe('unknown things', () => {
  it('answers 404 for an unknown run on every run route', async () => {
    for (const [method, suffix] of [['GET', ''], ['GET', '/events'], ['GET', '/diff'], ['GET', '/workspace'], ['POST', '/cancel']] as const) {
      await expectError(await h.api(`/v1/runs/run_nope${suffix}`, { method }), 404, 'not_found');
    }
  });

  it('answers 404 for an unknown route', async () => {
    await expectError(await h.api('/v1/nothing'), 404, 'not_found');
  });
});

describe('run options and body', () => {
  it('refuses unknown option keys, unknown providers, models outside the list and too long timeouts', async () => {
    await expectError(await h.createRun({ prompt: 'x', options: { colour: 'blue' } }), 400, 'invalid_options', /colour/);
    await expectError(await h.createRun({ prompt: 'x', options: { provider: 'nope' } }), 400, 'invalid_options', /unknown provider "nope"/);
    await expectError(await h.createRun({ prompt: 'x', options: { timeout_s: 999_999 } }), 400, 'invalid_options', /timeout_s/);
    await expectError(await h.createRun({ prompt: 'x', options: { timeout_s: 'soon' } }), 400, 'invalid_options', /timeout_s/);
  });

  it('refuses a missing prompt, bad JSON and other content types', async () => {
    await expectError(await h.createRun({ prompt: '' }), 400, 'bad_request', /prompt is required/);
    await expectError(await h.api('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }), 400, 'bad_request', /JSON/);
    await expectError(await h.api('/v1/runs', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }), 415, 'unsupported_media_type');
    const form = new FormData();
    form.set('prompt', 'x');
    form.set('extra', 'y');
    await expectError(await h.api('/v1/runs', { method: 'POST', body: form }), 400, 'bad_request', /unknown form field "extra"/);
  });
});

describe('refused tarballs', () => {
  const cases: [string, TarEntry[], number, string, RegExp][] = [
    ['an absolute path', [{ name: '/etc/passwd', content: 'x' }], 400, 'workspace_invalid', /"\/etc\/passwd"/],
    ['a .. escape', [{ name: 'a/../../escape.txt', content: 'x' }], 400, 'workspace_invalid', /escape\.txt/],
    ['an absolute symlink', [{ name: 'link', type: 'symlink', linkname: '/etc/shadow' }], 400, 'workspace_invalid', /"link"/],
    ['a symlink escaping the root', [{ name: 'd/', type: 'directory' }, { name: 'd/link', type: 'symlink', linkname: '../../x' }], 400, 'workspace_invalid', /"d\/link"/],
    ['an entry written through a symlink', [{ name: 'l', type: 'symlink', linkname: 'sub' }, { name: 'sub/', type: 'directory' }, { name: 'l/f', content: 'x' }], 400, 'workspace_invalid', /"l\/f"/],
    ['a hard link to outside', [{ name: 'h', type: 'link', linkname: '../outside' }], 400, 'workspace_invalid', /"h"/],
    ['a character device', [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], 400, 'workspace_invalid', /"null"/],
    ['a block device', [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }], 400, 'workspace_invalid', /"sda"/],
    ['a fifo', [{ name: 'pipe', type: 'fifo' }], 400, 'workspace_invalid', /"pipe"/],
    ['more bytes than the cap', [{ name: 'big.bin', content: Buffer.alloc(1024 * 1024 + 1) }], 413, 'workspace_too_large', /"big\.bin"/],
    ['more entries than the cap', Array.from({ length: 21 }, (_, i) => ({ name: `f${i}.txt`, content: 'x' })), 413, 'workspace_too_large', /"f20\.txt"/],
  ];

  for (const [kind, entries, status, code, message] of cases) {
    it(`refuses ${kind} with ${status}, naming the entry`, async () => {
      for (const gzip of [false, true]) {
        const res = await h.createRun({ prompt: 'x', workspace: await makeTar(entries, { gzip }) });
        await expectError(res, status, code, message);
      }
    });
  }

  it('refuses bytes that are not a tarball', async () => {
    await expectError(await h.createRun({ prompt: 'x', workspace: Buffer.from('this is not a tar file at all, just text '.repeat(40)) }), 400, 'workspace_invalid');
  });

  it('keeps nothing of a refused upload: no run, no spool file, no container', async () => {
    const uploads = path.join(h.dataDir, 'uploads');
    expect(await readdir(uploads).catch(() => [])).toEqual([]);
    expect(await readdir(path.join(h.dataDir, 'runs')).catch(() => [])).toEqual([]);
    expect(await leftovers(`codex-runner.instance=${h.instance}`)).toEqual({ containers: 0, volumes: 0 });
  });
});

describe('providers', () => {
  it('refuses a run for a provider whose key is not set, and reports it in /readyz', async () => {
    const keyless = await startHarness({ providers: { other: { base_url: 'http://127.0.0.1:9/v1', key_env: 'NOT_SET_ANYWHERE' } } });
    try {
      await expectError(await keyless.createRun({ prompt: 'x', options: { provider: 'other' } }), 503, 'not_ready', /NOT_SET_ANYWHERE is not set/);
      const ready = await keyless.api('/readyz', { token: null });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as any).problems).toEqual(['provider other: environment variable NOT_SET_ANYWHERE is not set']);
    } finally {
      await keyless.close();
    }
  });
});

describe('tenants', () => {
  it('keeps one tenant out of another tenant runs', async () => {
    const other = await startHarness({
      tenants: [
        { name: 'alice', token_sha256: sha('alice-token') },
        { name: 'bob', token_sha256: sha('bob-token') },
      ],
    });
    try {
      const created: any = await (await other.api('/v1/runs', { method: 'POST', token: 'alice-token', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: other.prompt([{ message: 'hi' }]) }) })).json();
      expect((await other.api(`/v1/runs/${created.id}`, { token: 'alice-token' })).status).toBe(200);
      await expectError(await other.api(`/v1/runs/${created.id}`, { token: 'bob-token' }), 404, 'not_found');
      await expectError(await other.api(`/v1/runs/${created.id}/cancel`, { method: 'POST', token: 'bob-token' }), 404, 'not_found');
      await other.server.service.waitForEnd(created.id);
    } finally {
      await other.close();
    }
  });
});

describe('admission', () => {
  it('answers 429 when every slot and queue place is taken, and runs the queued run after', async () => {
    const busy = await startHarness({ limits: { max_concurrent_runs: 1, max_queued_runs: 1 } });
    try {
      const first: any = await (await busy.createRun({ prompt: busy.prompt([{ exec: 'sleep 2' }, { message: 'one' }]) })).json();
      const second: any = await (await busy.createRun({ prompt: busy.prompt([{ message: 'two' }]) })).json();
      expect(second.status).toBe('queued');
      await expectError(await busy.createRun({ prompt: busy.prompt([{ message: 'three' }]) }), 429, 'queue_full');
      expect((await busy.waitForEnd(first.id)).status).toBe('succeeded');
      expect((await busy.waitForEnd(second.id)).final_message).toBe('two');
    } finally {
      await busy.close();
    }
  });

  it('cancels a queued run without ever starting it', async () => {
    const busy = await startHarness({ limits: { max_concurrent_runs: 1, max_queued_runs: 5 } });
    try {
      const first: any = await (await busy.createRun({ prompt: busy.prompt([{ exec: 'sleep 2' }, { message: 'one' }]) })).json();
      const second: any = await (await busy.createRun({ prompt: busy.prompt([{ message: 'two' }]) })).json();
      const cancelled: any = await (await busy.api(`/v1/runs/${second.id}/cancel`, { method: 'POST' })).json();
      expect(cancelled).toMatchObject({ status: 'cancelled', started_at: null });
      expect((await busy.waitForEnd(first.id)).status).toBe('succeeded');
    } finally {
      await busy.close();
    }
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
