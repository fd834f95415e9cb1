// Image parts of a run's form, on real Docker with the real Codex: each reaches the provider as an
// image input of the user's message, and none is in the run's workspace or diff.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, readTarContents } from '../server/archive/test-tarballs.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { STAND_IN_MODEL } from './fixtures/responses-stand-in.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';

// 1x1 PNG (a red pixel) and a 1x1 GIF: real images, which Codex decodes before it sends them.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');
const GIF = Buffer.from('R0lGODlhAQABAIAAAP8AAP///yH5BAAAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
// A 1x1 lossless WebP.
const WEBP = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
// JPEG's signature and a header, but no image data a decoder takes.
const BROKEN_JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'), Buffer.from([0xff, 0xd9])]);

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function runForm(prompt: string, parts: { images?: { bytes: Buffer; name: string }[]; workspace?: Buffer; options?: object }): FormData {
  const form = new FormData();
  form.set('prompt', prompt);
  if (parts.options) form.set('options', JSON.stringify(parts.options));
  if (parts.workspace) form.set('workspace', new Blob([new Uint8Array(parts.workspace)]), 'ws.tar');
  for (const image of parts.images ?? []) form.append('image', new Blob([new Uint8Array(image.bytes)], { type: 'image/png' }), image.name);
  return form;
}

const requestsOf = (prompt: string) => h.standIn.requests.filter((r) => prompt.includes(`[stand-in:${r.script}]`));

/** The image parts of the user messages of a Responses request, as their data URLs. */
function imageInputs(body: any): string[] {
  return (body.input as any[])
    .filter((item) => item.type === 'message' && item.role === 'user')
    .flatMap((item) => (Array.isArray(item.content) ? item.content : []))
    .filter((part: any) => part.type === 'input_image')
    .map((part: any) => part.image_url as string);
}

describe('a run with image parts', () => {
  let run: any;
  let prompt: string;
  beforeAll(async () => {
    prompt = h.prompt([{ exec: 'ls /tmp/codex-runner-images && ls -A /workspace' }, { message: 'The screenshot shows a red pixel.' }], 'What is in the screenshot?');
    const workspace = await makeTar([{ name: 'notes.txt', content: 'hello\n' }]);
    const form = runForm(prompt, { workspace, images: [{ bytes: PNG, name: 'screenshot.png' }, { bytes: GIF, name: 'pixel.gif' }, { bytes: WEBP, name: 'pixel.webp' }] });
    const res = await h.api('/v1/runs?wait=1', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    run = await res.json();
  });

  it('ends succeeded', () => {
    expect(run).toMatchObject({ status: 'succeeded', error: null, final_message: 'The screenshot shows a red pixel.' });
  });

  it('sends each image upstream as an image input of the user message, in the form\'s order', () => {
    const sent = requestsOf(prompt);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    for (const request of sent) {
      const images = imageInputs(request.body);
      expect(images).toHaveLength(3);
      expect(images[0]).toBe(`data:image/png;base64,${PNG.toString('base64')}`);
      // Codex sends a GIF as the PNG it makes of it, a PNG and a WebP as they are.
      expect(Buffer.from(images[1]!.replace(/^data:image\/png;base64,/, ''), 'base64').subarray(0, 8)).toEqual(PNG.subarray(0, 8));
      expect(images[2]).toBe(`data:image/webp;base64,${WEBP.toString('base64')}`);
    }
  });

  it('puts the images outside the workspace: Codex\'s command sees them in /tmp, the workspace and diff hold none', async () => {
    const output = (requestsOf(prompt).at(-1)!.body as any).input.find((i: any) => i.type === 'function_call_output')?.output as string;
    expect(output).toContain('01.png');
    expect(output).toContain('02.gif');
    expect(output).toContain('03.webp');
    expect(run.changes).toMatchObject({ files_changed: 0 });
    const ws = await readTarContents(Buffer.from(await (await h.api(`/v1/runs/${run.id}/workspace`)).arrayBuffer()));
    expect([...ws.keys()]).toEqual(['notes.txt']);
    expect(await (await h.api(`/v1/runs/${run.id}/diff`)).text()).toBe('');
  });

  it('tells the model where each image is in the sandbox', () => {
    const texts = (requestsOf(prompt)[0]!.body as any).input.flatMap((i: any) => (i.role === 'user' && Array.isArray(i.content) ? i.content : [])).map((p: any) => p.text ?? '');
    expect(texts.join('\n')).toContain('path="/tmp/codex-runner-images/01.png"');
  });

  it('drops the run\'s copy of the images once it has ended', async () => {
    const runDir = path.join(h.dataDir, 'runs', run.id);
    expect(await readdir(runDir)).not.toContain('images');
  });
});

describe('an image with a valid signature that Codex cannot decode', () => {
  it('reaches the model as Codex\'s note that it was left out, and the run goes on', async () => {
    const prompt = h.prompt([{ message: 'no image to see' }]);
    const run: any = await (await h.api('/v1/runs?wait=1', { method: 'POST', body: runForm(prompt, { images: [{ bytes: BROKEN_JPEG, name: 'broken.jpg' }] }) })).json();
    expect(run.status).toBe('succeeded');
    const body = requestsOf(prompt)[0]!.body as any;
    expect(imageInputs(body)).toEqual([]);
    expect(JSON.stringify(body.input)).toContain('image content omitted because it could not be processed');
  });
});

describe('image parts the server refuses', () => {
  const expectRefused = async (form: FormData, status: number, code: string, message: RegExp) => {
    const before = h.standIn.requests.length;
    const res = await h.api('/v1/runs', { method: 'POST', body: form });
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: { code, message: expect.stringMatching(message), request_id: expect.any(String) } });
    expect(h.standIn.requests.length).toBe(before);
    // Nothing of the refused form is left spooled.
    expect(await readdir(path.join(h.dataDir, 'uploads'))).toEqual([]);
  };

  it('refuses a file named .png that is not an image with a 400', async () => {
    const form = runForm(h.prompt([{ message: 'x' }]), { images: [{ bytes: PNG, name: 'fine.png' }, { bytes: Buffer.from('#!/bin/sh\necho not an image\n'), name: 'evil.png' }] });
    await expectRefused(form, 400, 'image_invalid', /^image 2 \("evil\.png"\) is not a PNG, JPEG, WebP or GIF image/);
  });

  it('refuses more images than limits.image_max_count', async () => {
    const images = Array.from({ length: 5 }, (_, i) => ({ bytes: PNG, name: `${i}.png` }));
    await expectRefused(runForm(h.prompt([{ message: 'x' }]), { images }), 400, 'image_invalid', /^at most 4 images/);
  });

  it('refuses an image over limits.image_max_mb with a 413', async () => {
    const big = Buffer.concat([PNG, Buffer.alloc(2 * 1024 * 1024)]);
    await expectRefused(runForm(h.prompt([{ message: 'x' }]), { images: [{ bytes: big, name: 'big.png' }] }), 413, 'image_too_large', /^image 1 \("big\.png"\) is over 2097152 bytes/);
  });
});

describe('a run with an image and an output schema still queued at a restart', () => {
  it('runs after the restart with its image and its schema', async () => {
    // One slot, held by a sleeping run, so the second waits; no grace, so the stop cancels the first at once.
    const config = {
      providers: { standin: { base_url: h.standIn.url, key_env: 'STANDIN_KEY' } },
      defaults: { provider: 'standin', model: STAND_IN_MODEL },
      sandbox: { memory_mb: 1024, cpus: 1, workspace_mb: 64 },
      limits: { max_concurrent_runs: 1 },
      server: { shutdown_grace_s: 0 },
    };
    const env = { STANDIN_KEY: 'sk-images-restart' };
    let first: ServerProcess | undefined = await startServerProcess(config, env);
    let second: ServerProcess | undefined;
    const auth = (server: ServerProcess) => ({ authorization: `Bearer ${server.token}` });
    try {
      const sleeper: any = await (await first.api('/v1/runs', { method: 'POST', headers: { ...auth(first), 'content-type': 'application/json' }, body: JSON.stringify({ prompt: h.prompt([{ exec: 'sleep 300' }]) }) })).json();
      const schema = { type: 'object', properties: { colour: { type: 'string' } }, required: ['colour'], additionalProperties: false };
      const prompt = h.prompt([{ message: '{"colour":"red"}' }], 'Which colour is the pixel?');
      const res = await first.api('/v1/runs', { method: 'POST', headers: auth(first), body: runForm(prompt, { images: [{ bytes: PNG, name: 'pixel.png' }], options: { output_schema: schema } }) });
      expect(res.status).toBe(202);
      const queued: any = await res.json();
      expect(queued.status).toBe('queued');
      await expect.poll(async () => ((await (await first!.api(`/v1/runs/${sleeper.id}`, { headers: auth(first!) })).json()) as any).status, { timeout: 60_000 }).toBe('running');

      await first.stop();
      second = await startServerProcess(config, env, first.resume);
      first = undefined;
      let ran: any;
      await expect
        .poll(async () => (ran = (await (await second!.api(`/v1/runs/${queued.id}`, { headers: auth(second!) })).json()) as any).status, { timeout: 90_000, interval: 200 })
        .toMatch(/succeeded|failed/);
      expect(ran).toMatchObject({ status: 'succeeded', output: { colour: 'red' } });
      const sent = requestsOf(prompt);
      expect(sent).toHaveLength(1);
      expect(imageInputs(sent[0]!.body)).toHaveLength(1);
      expect((sent[0]!.body as any).text.format).toMatchObject({ type: 'json_schema', schema });
    } finally {
      if (second) await second.close();
      else if (first) await first.close();
    }
  }, 240_000);
});
