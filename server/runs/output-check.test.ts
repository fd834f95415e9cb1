import { describe, expect, it } from 'vitest';
import { outputSchemaProblemOffThread, withOutputOffThread } from './output-check.js';

const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };

describe('output checks on a worker thread', () => {
  it('answer as the pure checks do', async () => {
    expect(await outputSchemaProblemOffThread(schema, 4096)).toBeNull();
    expect(await outputSchemaProblemOffThread({ type: 'object', required: 'ok' }, 4096)).toMatch(/not a valid JSON Schema/);
    const succeeded = { status: 'succeeded', finalMessage: '{"ok":true}', error: null };
    expect(await withOutputOffThread(succeeded, schema)).toMatchObject({ status: 'succeeded', output: { ok: true } });
    expect(await withOutputOffThread({ ...succeeded, finalMessage: '{"ok":1}' }, schema)).toMatchObject({ status: 'failed', error: { code: 'output_invalid', message: expect.stringMatching(/\/ok must be boolean/) } });
    expect(await withOutputOffThread(succeeded, null)).toEqual({ ...succeeded, output: null });
  });

  it('leave the event loop free while a wide schema compiles', async () => {
    const wide: { type: string; properties: Record<string, unknown> } = { type: 'object', properties: {} };
    for (let i = 0; i < 1000; i++) wide.properties[`p${i}`] = { type: 'string', pattern: `^x${i}` };
    let worstLagMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLagMs = Math.max(worstLagMs, now - last - 5);
      last = now;
    }, 5);
    const t0 = performance.now();
    try {
      expect(await outputSchemaProblemOffThread(wide, 64 * 1024)).toBeNull();
    } finally {
      clearInterval(ticker);
    }
    // Ajv takes ~0.5 s here (more on a loaded machine); the loop is never held for a fraction of it.
    expect(performance.now() - t0).toBeGreaterThan(200);
    expect(worstLagMs).toBeLessThan(100);
  }, 30_000);

  it('run a few at a time, each answering', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => outputSchemaProblemOffThread(schema, 4096)));
    expect(answers).toEqual([null, null, null, null, null]);
  });
});
